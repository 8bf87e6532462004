/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A run of a server: init, the handling of each message, continues, the
 * idle timeout and the finish, whichever kind of scheduler drives them
 * (see gen-scheduler-private.h). Everything here runs on the handler
 * thread, the one thread that runs the server's handlers at that moment. */

#include "config.h"

#include "gen-scheduler-private.h"
#include "gen-server-private.h"

/* An error from any handler but handle_call is a crash. */
static void
note_crash (GenServer *self,
            GError    *error)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  if (error == NULL)
    return;
  if (priv->crash_reason == NULL)
    priv->crash_reason = error;
  else
    g_error_free (error);
}

void
gen_run_note_crash_internal (GenServer *self,
                             GError    *error)
{
  note_crash (self, error);
}

static void
handle_cast_item (GenServer *self,
                  GVariant  *message)
{
  GError *error = NULL;

  GEN_SERVER_GET_CLASS (self)->handle_cast (self, message, &error);
  note_crash (self, error);
}

static void
handle_info_message (GenServer *self,
                     GVariant  *message)
{
  GError *error = NULL;

  GEN_SERVER_GET_CLASS (self)->handle_info (self, message, &error);
  note_crash (self, error);
}

static void
handle_call_item (GenServer *self,
                  GenCall   *call)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GVariant *reply;
  GError *error = NULL;
  gboolean deferred;

  /* A call whose caller gave up while it was queued is never run. */
  if (!gen_call_begin_running (call))
    return;

  priv->current_call = call;
  reply = GEN_SERVER_GET_CLASS (self)->handle_call (self, call->message, &error);
  deferred = priv->reply_taken;
  priv->current_call = NULL;
  priv->reply_taken = FALSE;

  if (deferred)
    {
      /* The GenReply answers; anything returned here is a mistake. */
      if (reply != NULL || error != NULL)
        g_critical ("%s’s handle_call took the reply handle and also returned "
                    "a reply or an error; it is ignored", gen_server_name_internal (self));
      if (reply != NULL)
        g_variant_unref (g_variant_take_ref (reply));
      g_clear_error (&error);
      return;
    }

  if (reply != NULL && error != NULL)
    {
      g_critical ("%s’s handle_call returned a reply and set an error; "
                  "the error wins: %s", gen_server_name_internal (self), error->message);
      g_clear_pointer (&reply, g_variant_unref);
    }
  else if (reply == NULL && error == NULL)
    {
      error = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                           "%s’s handle_call returned neither a reply nor an error",
                           gen_server_name_internal (self));
    }

  if (reply != NULL)
    g_variant_take_ref (reply);

  gen_call_answer (call, reply, error);
}

static gboolean
should_go_on (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  return !priv->stop_requested && priv->crash_reason == NULL;
}

gboolean
gen_run_continues (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GVariant *message;

  while (should_go_on (self) &&
         (message = g_queue_pop_head (&priv->continues)) != NULL)
    {
      GError *error = NULL;

      GEN_SERVER_GET_CLASS (self)->handle_continue (self, message, &error);
      note_crash (self, error);
      g_variant_unref (message);
    }

  return should_go_on (self);
}

/* Handles one mailbox item. Returns FALSE when the server must stop after
 * it: the stop marker, a stop from inside a handler, or a crash. */
static gboolean
handle_item (GenServer *self,
             gpointer   item)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GenEnvelope *envelope;

  gen_mailbox_release (&priv->mailbox, item);

  switch (GEN_ITEM_KIND (item))
    {
    case GEN_ITEM_CAST:
      handle_cast_item (self, GEN_ITEM_POINTER (item));
      break;
    case GEN_ITEM_CALL:
      handle_call_item (self, GEN_ITEM_POINTER (item));
      break;
    case GEN_ITEM_INFO:
      handle_info_message (self, GEN_ITEM_POINTER (item));
      break;
    case GEN_ITEM_ENVELOPE:
      envelope = GEN_ITEM_POINTER (item);
      if (envelope->kind == GEN_ENVELOPE_STOP)
        return FALSE;
      /* A timer's message is handled only if it was not cancelled. */
      if (gen_timers_claim (&priv->timers, (GenTimer *) envelope))
        handle_info_message (self, gen_timer_get_message ((GenTimer *) envelope));
      break;
    default:
      g_assert_not_reached ();
    }

  gen_item_drop (item);

  if (g_atomic_int_get (&priv->idle_timeout_ms) >= 0)
    {
      priv->last_activity = g_get_monotonic_time ();
      priv->idle_fired = FALSE;
    }

  return gen_run_continues (self);
}

gboolean
gen_run_handle_batch (GenServer *self,
                      gpointer   first,
                      guint      max)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  gpointer batch[GEN_BATCH_SIZE];
  guint n = 0;

  g_assert (max >= 1 && max <= GEN_BATCH_SIZE);

  if (first != NULL)
    batch[n++] = first;
  n += gen_mailbox_pop_batch (&priv->mailbox, &batch[n], max - n);

  for (guint i = 0; i < n; i++)
    {
      if (!handle_item (self, batch[i]))
        {
          gen_run_finish (self, &batch[i + 1], n - i - 1);
          return FALSE;
        }
    }

  return TRUE;
}

gint64
gen_run_idle_deadline (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  gint idle_timeout_ms = g_atomic_int_get (&priv->idle_timeout_ms);

  if (idle_timeout_ms < 0 || priv->idle_fired)
    return -1;
  return priv->last_activity + (gint64) idle_timeout_ms * 1000;
}

/* It fires once per quiet stretch: the next one needs a message first. */
gboolean
gen_run_idle_timeout (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  g_autoptr(GVariant) message = g_variant_ref_sink (g_variant_new_string (GEN_IDLE_TIMEOUT_MESSAGE));

  priv->idle_fired = TRUE;
  handle_info_message (self, message);
  return gen_run_continues (self);
}

gboolean
gen_run_has_work (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  return gen_mailbox_length (&priv->mailbox) > 0 || !g_queue_is_empty (&priv->continues);
}

GenRunResult
gen_run_slice (GenServer *self,
               guint      budget)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  gint status = g_atomic_int_get (&priv->status);
  gboolean running;

  if (status != GEN_STATUS_RUNNING && status != GEN_STATUS_STOPPING)
    return GEN_RUN_IDLE;

  /* Whoever runs the slice owns the handlers (the run flag); a caller
   * running the server inline may also be running another server's
   * handler further up its stack, whose handler thread stays this one. */
  g_assert (g_atomic_pointer_get (&priv->handler_thread) == NULL);
  g_atomic_pointer_set (&priv->handler_thread, g_thread_self ());

  running = gen_run_continues (self);
  if (running && gen_mailbox_length (&priv->mailbox) == 0)
    {
      gint64 deadline = gen_run_idle_deadline (self);

      if (deadline >= 0 && g_get_monotonic_time () >= deadline)
        running = gen_run_idle_timeout (self);
    }

  if (!running)
    {
      gen_run_finish (self, NULL, 0);
      return GEN_RUN_FINISHED;
    }

  while (budget > 0)
    {
      guint max = MIN (budget, GEN_BATCH_SIZE);

      if (!gen_run_handle_batch (self, NULL, max))
        return GEN_RUN_FINISHED;
      budget -= max;
      if (gen_mailbox_length (&priv->mailbox) == 0)
        break;
    }

  g_atomic_pointer_set (&priv->handler_thread, NULL);
  return gen_run_has_work (self) ? GEN_RUN_MORE : GEN_RUN_IDLE;
}

void
gen_run_finish (GenServer *self,
                gpointer  *leftover,
                guint      n_leftover)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  g_autoptr(GError) reason = g_steal_pointer (&priv->crash_reason);
  g_autoptr(GError) stop_reason = gen_monitors_take_stop_reason_internal (self);
  gpointer item;

  /* A crash wins over the reason of a stop that came meanwhile. */
  if (reason == NULL)
    reason = g_steal_pointer (&stop_reason);

  if (reason != NULL)
    g_warning ("%s crashed: %s", gen_server_name_internal (self), reason->message);

  gen_mailbox_close (&priv->mailbox, FALSE, FALSE);
  g_mutex_lock (&priv->lock);
  if (priv->status == GEN_STATUS_RUNNING)
    g_atomic_int_set (&priv->status, GEN_STATUS_STOPPING);
  g_mutex_unlock (&priv->lock);

  gen_timers_close (&priv->timers);
  for (guint i = 0; i < n_leftover; i++)
    gen_run_refuse_item_internal (self, leftover[i], GEN_SERVER_ERROR_STOPPED);
  while ((item = gen_mailbox_try_pop (&priv->mailbox)) != NULL)
    gen_run_refuse_item_internal (self, item, GEN_SERVER_ERROR_STOPPED);
  g_queue_clear_full (&priv->continues, (GDestroyNotify) g_variant_unref);

  GEN_SERVER_GET_CLASS (self)->terminate (self, reason);

  priv->stop_requested = FALSE;

  if (priv->kind->run_ended != NULL)
    priv->kind->run_ended (self);

  g_atomic_pointer_set (&priv->handler_thread, NULL);
  /* Before the status changes, so that a name registered by the server is
   * free again by the time stop() returns. */
  gen_monitors_fire_internal (self, reason);
  gen_server_set_status_internal (self, GEN_STATUS_STOPPED);
}

void
gen_run_refuse_item_internal (GenServer      *self,
                              gpointer        item,
                              GenServerError  code)
{
  gen_mailbox_release (&gen_server_get_private (self)->mailbox, item);

  if (GEN_ITEM_KIND (item) == GEN_ITEM_CALL)
    gen_call_answer (GEN_ITEM_POINTER (item), NULL,
                     code == GEN_SERVER_ERROR_STOPPED ?
                     g_error_new (GEN_SERVER_ERROR, code,
                                  "%s stopped before answering the call",
                                  gen_server_name_internal (self)) :
                     g_error_new (GEN_SERVER_ERROR, code,
                                  "%s is not running", gen_server_name_internal (self)));
  gen_item_drop (item);
}

gboolean
gen_run_init (GenServer  *self,
              GVariant   *args,
              GError    **error)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GError *local_error = NULL;
  gpointer item;

  priv->last_activity = g_get_monotonic_time ();
  priv->idle_fired = FALSE;

  GEN_SERVER_GET_CLASS (self)->init (self, args, &local_error);
  if (local_error == NULL)
    return TRUE;

  gen_mailbox_close (&priv->mailbox, FALSE, FALSE);
  gen_timers_close (&priv->timers);
  while ((item = gen_mailbox_try_pop (&priv->mailbox)) != NULL)
    gen_run_refuse_item_internal (self, item, GEN_SERVER_ERROR_NOT_RUNNING);
  g_queue_clear_full (&priv->continues, (GDestroyNotify) g_variant_unref);
  priv->stop_requested = FALSE;
  g_clear_error (&priv->crash_reason);
  g_propagate_error (error, local_error);
  return FALSE;
}
