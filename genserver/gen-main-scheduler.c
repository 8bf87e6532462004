/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The main-context kind of scheduler: the mailbox is drained by a GSource
 * attached to the server's GMainContext, so the handlers run on whichever
 * thread iterates it (a GTK application's main thread, GJS's JavaScript
 * thread). */

#include "config.h"

#include "gen-scheduler-private.h"

typedef struct
{
  GSource source;
  GenServer *server; /* owned: keeps a running server alive */
} MailboxSource;

/* The mailbox's wake function: makes the source due. */
static void
main_wake (gpointer data)
{
  GenServerPrivate *priv = gen_server_get_private (data);
  GSource *source = NULL;

  g_async_queue_lock (priv->mailbox.queue);
  if (priv->mailbox_source != NULL)
    source = g_source_ref (priv->mailbox_source);
  g_async_queue_unlock (priv->mailbox.queue);

  if (source != NULL)
    {
      g_source_set_ready_time (source, 0);
      g_source_unref (source);
    }
}

/* Makes the mailbox source due again: now if there is work, at the idle
 * deadline if one is armed. The last check catches a push that came
 * between the first one and the new ready time, which would otherwise be
 * overwritten. */
static void
mailbox_source_rearm (GenServer *self,
                      GSource   *source)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  gint64 deadline;

  if (gen_run_has_work (self))
    {
      g_source_set_ready_time (source, 0);
      return;
    }

  deadline = gen_run_idle_deadline (self);
  if (deadline < 0)
    return;

  g_source_set_ready_time (source, deadline);
  if (gen_mailbox_length (&priv->mailbox) > 0)
    g_source_set_ready_time (source, 0);
}

static gboolean
mailbox_source_dispatch (GSource     *source,
                         GSourceFunc  callback,
                         gpointer     user_data)
{
  GenServer *self = ((MailboxSource *) source)->server;
  GenServerPrivate *priv = gen_server_get_private (self);
  gboolean running;

  /* Reset before draining: a push that lands after the drain sets it again,
   * so no wake-up is lost. */
  g_source_set_ready_time (source, -1);

  g_atomic_pointer_set (&priv->handler_thread, g_thread_self ());
  g_atomic_pointer_set (&priv->context_thread, g_thread_self ());

  /* Suspended: the source stays, not due, until a resume, a status
   * request or a stop makes it due again. */
  if (gen_run_hold_internal (self))
    {
      g_atomic_pointer_set (&priv->handler_thread, NULL);
      return G_SOURCE_CONTINUE;
    }

  running = gen_run_continues (self);
  if (running && gen_mailbox_length (&priv->mailbox) == 0)
    {
      gint64 deadline = gen_run_idle_deadline (self);

      if (deadline >= 0 && g_get_monotonic_time () >= deadline)
        running = gen_run_idle_timeout (self);
    }

  if (!running)
    gen_run_finish (self, NULL, 0);
  else
    running = gen_run_handle_batch (self, NULL, GEN_BATCH_SIZE);

  if (running)
    {
      g_atomic_pointer_set (&priv->handler_thread, NULL);
      mailbox_source_rearm (self, source);
    }

  return running ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
mailbox_source_finalize (GSource *source)
{
  g_clear_object (&((MailboxSource *) source)->server);
}

static GSourceFuncs mailbox_source_funcs = {
  .dispatch = mailbox_source_dispatch,
  .finalize = mailbox_source_finalize,
};

static GSource *
mailbox_source_new (GenServer *self)
{
  GSource *source = g_source_new (&mailbox_source_funcs, sizeof (MailboxSource));

  ((MailboxSource *) source)->server = g_object_ref (self);
  g_source_set_static_name (source, "[genserver] mailbox");
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  return source;
}

static GSource *
steal_mailbox_source (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GSource *source;

  g_async_queue_lock (priv->mailbox.queue);
  source = g_steal_pointer (&priv->mailbox_source);
  g_async_queue_unlock (priv->mailbox.queue);
  return source;
}

static void
run_init_on_context (GenServer       *self,
                     GenStartRequest *request)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GError *error = NULL;
  gboolean ok;

  g_atomic_pointer_set (&priv->handler_thread, g_thread_self ());
  g_atomic_pointer_set (&priv->context_thread, g_thread_self ());
  ok = gen_run_init (self, request->args, &error);
  g_atomic_pointer_set (&priv->handler_thread, NULL);

  if (ok)
    {
      gen_server_set_status_internal (self, GEN_STATUS_RUNNING);
      mailbox_source_rearm (self, priv->mailbox_source);
    }
  else
    {
      GSource *source = steal_mailbox_source (self);

      g_source_destroy (source);
      g_source_unref (source);
    }

  gen_start_request_complete (request, error);
}

static gboolean
init_source_cb (gpointer data)
{
  GenStartRequest *request = data;

  run_init_on_context (request->server, request);
  return G_SOURCE_REMOVE;
}

static gboolean
main_start (GenServer  *self,
            GVariant   *args,
            GError    **error)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GenStartRequest request;
  gboolean ok;

  gen_start_request_init (&request, self, args);

  g_async_queue_lock (priv->mailbox.queue);
  priv->mailbox_source = mailbox_source_new (self);
  g_source_attach (priv->mailbox_source, priv->main_context);
  g_async_queue_unlock (priv->mailbox.queue);
  gen_mailbox_open (&priv->mailbox, main_wake, self);

  if (g_main_context_acquire (priv->main_context))
    {
      /* Nobody else runs the context: init runs right here, on the thread
       * that will dispatch the mailbox (or could). */
      run_init_on_context (self, &request);
      g_main_context_release (priv->main_context);
    }
  else
    {
      GSource *source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_HIGH);
      g_source_set_callback (source, init_source_cb, &request, NULL);
      g_source_set_static_name (source, "[genserver] init");
      g_source_attach (source, priv->main_context);
      g_source_unref (source);
    }

  ok = gen_start_request_wait (&request, error);
  gen_start_request_clear (&request);
  return ok;
}

/* Drains the mailbox on the calling thread, which owns the server's
 * context, until the stop marker. Used by stop() from that thread, which
 * would otherwise wait for itself. */
static void
drain_on_owner (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  g_atomic_pointer_set (&priv->handler_thread, g_thread_self ());
  while (gen_run_handle_batch (self, g_async_queue_pop (priv->mailbox.queue), GEN_BATCH_SIZE))
    ;
}

static gboolean
main_drive_stop (GenServer *self,
                 gboolean   inline_ok)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  if (g_main_context_acquire (priv->main_context))
    {
      /* The thread that would handle the stop is this one. */
      g_object_ref (self);
      drain_on_owner (self);
      g_main_context_release (priv->main_context);
      g_object_unref (self);
      return TRUE;
    }

  main_wake (self);
  return FALSE;
}

static gboolean
main_would_call_self (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  gboolean result = FALSE;

  if (g_main_context_is_owner (priv->main_context))
    return TRUE;

  /* Nobody runs the server's context right now, and this is the thread
   * that does (it ran init or the last messages): waiting here would keep
   * the context from ever running again. Another thread just waits. */
  if (g_atomic_pointer_get (&priv->context_thread) == g_thread_self () &&
      g_main_context_acquire (priv->main_context))
    {
      g_main_context_release (priv->main_context);
      result = TRUE;
    }

  return result;
}

static void
main_run_ended (GenServer *self)
{
  GSource *source = steal_mailbox_source (self);

  if (source != NULL)
    {
      g_source_destroy (source);
      g_source_unref (source);
    }
}

const GenSchedulerKind gen_main_scheduler_kind = {
  .name = "main-context",
  .start = main_start,
  .drive_stop = main_drive_stop,
  .would_call_self = main_would_call_self,
  .run_ended = main_run_ended,
};
