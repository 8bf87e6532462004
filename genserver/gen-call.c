/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-call-private.h"
#include "gen-reply-private.h"
#include "gen-scheduler-private.h"
#include "gen-server-private.h"
#include "gen-spin-private.h"

#ifdef HAVE_SYSPROF
# include <sysprof-capture.h>
#endif

GenCall *
gen_call_new (GVariant    *message,
              const gchar *server_name)
{
  GenCall *call = g_new0 (GenCall, 1);

  call->ref_count = 1;
  call->state = GEN_CALL_PENDING;
  call->message = g_variant_ref (message);
  call->server_name = server_name;
  g_mutex_init (&call->mutex);
  g_cond_init (&call->cond);
  return call;
}

GenCall *
gen_call_ref (GenCall *call)
{
  g_atomic_int_inc (&call->ref_count);
  return call;
}

void
gen_call_unref (GenCall *call)
{
  if (!g_atomic_int_dec_and_test (&call->ref_count))
    return;

  g_assert (call->task == NULL);
  g_assert (call->timeout_source == NULL);
  g_variant_unref (call->message);
  g_clear_pointer (&call->reply, g_variant_unref);
  g_clear_error (&call->error);
  g_clear_error (&call->abandon_error);
  g_mutex_clear (&call->mutex);
  g_cond_clear (&call->cond);
  g_free (call);
}

static gboolean
state_is_final (gint state)
{
  return state == GEN_CALL_ANSWERED || state == GEN_CALL_ABANDONED;
}

gboolean
gen_call_is_final (GenCall *call)
{
  return state_is_final (g_atomic_int_get (&call->state));
}

gboolean
gen_call_begin_running (GenCall *call)
{
  return g_atomic_int_compare_and_exchange (&call->state, GEN_CALL_PENDING, GEN_CALL_RUNNING);
}

static void
call_wake (GenCall *call)
{
  if (call->task != NULL)
    {
      gen_call_schedule_completion (call);
      return;
    }

  /* Both `state` and `sleeping` are sequentially consistent: if the caller
   * set `sleeping` too late for this look, its own look at `state`, which
   * follows, sees the answer. */
  if (!g_atomic_int_get (&call->sleeping))
    return;

  g_mutex_lock (&call->mutex);
  g_cond_signal (&call->cond);
  g_mutex_unlock (&call->mutex);
}

void
gen_call_answer (GenCall  *call,
                 GVariant *reply,
                 GError   *error)
{
  g_assert ((reply == NULL) != (error == NULL));

  if (!g_atomic_int_compare_and_exchange (&call->state, GEN_CALL_RUNNING, GEN_CALL_ANSWERING) &&
      !g_atomic_int_compare_and_exchange (&call->state, GEN_CALL_PENDING, GEN_CALL_ANSWERING))
    {
      g_assert (g_atomic_int_get (&call->state) == GEN_CALL_ABANDONED);
      g_clear_pointer (&reply, g_variant_unref);
      g_clear_error (&error);
      return;
    }

  call->reply = reply;
  call->error = error;
  g_atomic_int_set (&call->state, GEN_CALL_ANSWERED);
  call_wake (call);
}

gboolean
gen_call_abandon (GenCall *call,
                  GError  *reason)
{
  if (!g_atomic_int_compare_and_exchange (&call->state, GEN_CALL_PENDING, GEN_CALL_ABANDONED) &&
      !g_atomic_int_compare_and_exchange (&call->state, GEN_CALL_RUNNING, GEN_CALL_ABANDONED))
    {
      g_clear_error (&reason);
      return FALSE;
    }

  call->abandon_error = reason;
  return TRUE;
}

static gboolean
call_done (gpointer data)
{
  return gen_call_is_final (data);
}

static gboolean gen_call_wait_unmarked (GenCall *call,
                                        gint64   deadline);

/* A caller's wait is a Sysprof mark when a profiler listens. */
gboolean
gen_call_wait (GenCall *call,
               gint64   deadline)
{
#ifdef HAVE_SYSPROF
  if (sysprof_collector_is_active ())
    {
      gint64 begin = SYSPROF_CAPTURE_CURRENT_TIME;
      gboolean final = gen_call_wait_unmarked (call, deadline);

      sysprof_collector_mark (begin, SYSPROF_CAPTURE_CURRENT_TIME - begin,
                              "genserver", "call wait", call->server_name);
      return final;
    }
#endif
  return gen_call_wait_unmarked (call, deadline);
}

static gboolean
gen_call_wait_unmarked (GenCall *call,
                        gint64   deadline)
{
  gboolean blocking;

  if (gen_call_is_final (call) ||
      gen_spin_until (call_done, call, deadline, TRUE))
    return TRUE;

  /* A pool worker about to sleep lets its pool run others meanwhile: the
   * callee may be queued behind this very worker (see gen-scheduler.c). */
  blocking = gen_spin_block_begin ();

  g_mutex_lock (&call->mutex);
  g_atomic_int_set (&call->sleeping, TRUE);
  while (!gen_call_is_final (call))
    {
      if (deadline < 0)
        g_cond_wait (&call->cond, &call->mutex);
      else if (!g_cond_wait_until (&call->cond, &call->mutex, deadline))
        break;
    }
  g_atomic_int_set (&call->sleeping, FALSE);
  g_mutex_unlock (&call->mutex);

  if (blocking)
    gen_spin_block_end ();

  return gen_call_is_final (call);
}

/* Async calls ------------------------------------------------------------ */

static gboolean
call_complete_cb (gpointer data)
{
  GenCall *call = data;
  GTask *task = g_steal_pointer (&call->task);

  g_mutex_lock (&call->mutex);
  if (call->timeout_source != NULL)
    {
      g_source_destroy (call->timeout_source);
      g_clear_pointer (&call->timeout_source, g_source_unref);
    }
  if (call->cancelled_id != 0)
    {
      g_cancellable_disconnect (g_task_get_cancellable (task), call->cancelled_id);
      call->cancelled_id = 0;
    }
  g_mutex_unlock (&call->mutex);

  if (g_atomic_int_get (&call->state) == GEN_CALL_ABANDONED)
    g_task_return_error (task, g_steal_pointer (&call->abandon_error));
  else if (call->error != NULL)
    g_task_return_error (task, g_steal_pointer (&call->error));
  else
    g_task_return_pointer (task, g_steal_pointer (&call->reply),
                           (GDestroyNotify) g_variant_unref);

  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

void
gen_call_schedule_completion (GenCall *call)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, g_task_get_priority (call->task));
  g_source_set_callback (source, call_complete_cb, gen_call_ref (call),
                         (GDestroyNotify) gen_call_unref);
  g_source_set_static_name (source, "[genserver] call reply");
  g_source_attach (source, g_task_get_context (call->task));
  g_source_unref (source);
}

static gboolean
call_timeout_cb (gpointer data)
{
  GenCall *call = data;

  if (gen_call_abandon (call, g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                                           "%s did not answer within %d ms",
                                           call->server_name, call->timeout_ms)))
    gen_call_schedule_completion (call);

  return G_SOURCE_REMOVE;
}

static void
call_cancelled_cb (GCancellable *cancellable,
                   gpointer      data)
{
  GenCall *call = data;
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (cancellable, &error);
  if (gen_call_abandon (call, error))
    gen_call_schedule_completion (call);
}

void
gen_call_bind_task (GenCall      *call,
                    GTask        *task,
                    gint          timeout_ms,
                    GCancellable *cancellable)
{
  call->task = g_object_ref (task);

  /* Under `mutex`: once queued, the reply can be delivered on the task's
   * context by whichever thread runs it, and that delivery tears the
   * timeout and the handler down. The timeout or the cancellable may also
   * make the call final before it is queued (an already cancelled
   * cancellable does at once); the server then never runs it. */
  g_mutex_lock (&call->mutex);
  call->timeout_ms = timeout_ms;
  if (timeout_ms >= 0)
    {
      call->timeout_source = g_timeout_source_new (timeout_ms);
      g_source_set_callback (call->timeout_source, call_timeout_cb,
                             gen_call_ref (call), (GDestroyNotify) gen_call_unref);
      g_source_set_static_name (call->timeout_source, "[genserver] call timeout");
      g_source_attach (call->timeout_source, g_task_get_context (task));
    }

  if (cancellable != NULL)
    call->cancelled_id = g_cancellable_connect (cancellable,
                                                G_CALLBACK (call_cancelled_cb),
                                                gen_call_ref (call),
                                                (GDestroyNotify) gen_call_unref);
  g_mutex_unlock (&call->mutex);
}

/* The call API ------------------------------------------------------------ */

/* Checks and queues a call, waking the server if @wake. Returns the
 * caller's reference to it, or NULL with @error set. */
static GenCall *
call_begin (GenServer  *self,
            GVariant   *message,
            gboolean    wake,
            gint64      deadline,
            GError    **error)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GenCall *call;

  if (!gen_server_check_message_type (self, priv->call_type, "call", message, error))
    return NULL;

  call = gen_call_new (message, gen_server_name (self));

  if (!gen_server_queue_item (self, GEN_ITEM_MAKE (gen_call_ref (call), GEN_ITEM_CALL), wake, deadline, error))
    {
      gen_call_unref (call); /* the mailbox's */
      gen_call_unref (call);
      return NULL;
    }

  return call;
}

/**
 * gen_server_call:
 * @self: a #GenServer
 * @message: the request; a floating reference is sunk
 * @timeout_ms: how long to wait for the reply, in milliseconds, or a
 *   negative number to wait as long as it takes
 *
 * Sends @message to the server's `handle_call` handler and waits for its
 * reply.
 *
 * The call is answered exactly once. It fails with the handler's own error
 * if the handler returned one (the server keeps running), with
 * %GEN_SERVER_ERROR_TIMEOUT if no reply came within @timeout_ms (a request
 * still queued then is never handled, and a late reply is dropped), with
 * %GEN_SERVER_ERROR_STOPPED if the server stopped before answering, with
 * %GEN_SERVER_ERROR_NOT_RUNNING if it is not running, with
 * %GEN_SERVER_ERROR_INVALID_MESSAGE if @message is not of its
 * [property@Gen.Server:call-type], and with %GEN_SERVER_ERROR_CALLING_SELF
 * if called from the thread that runs the server's handlers (use
 * [method@Gen.Server.call_async] there).
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 * g_autoptr(GVariant) count = gen_server_call (counter, g_variant_new ("()"),
 *                                              GEN_SERVER_DEFAULT_TIMEOUT, &error);
 *
 * if (count == NULL && g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT))
 *   g_printerr ("the counter is busy\n");
 * ```
 *
 * ```python
 * count = counter.call(())          # 5 s by default, in seconds
 * ```
 *
 * Returns: (transfer full): the reply
 *
 * Since: 1.0
 */
GVariant *
gen_server_call (GenServer  *self,
                 GVariant   *message,
                 gint        timeout_ms,
                 GError    **error)
{
  g_autoptr(GVariant) owned_message = NULL;
  GenServerPrivate *priv;
  GenCall *call;
  GVariant *reply = NULL;
  gboolean hand_off;
  gint64 deadline;

  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);
  g_return_val_if_fail (message != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  priv = gen_server_get_private (self);
  owned_message = g_variant_ref_sink (message);
  deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  if (gen_server_would_call_self (self))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_CALLING_SELF,
                   "%s was called synchronously from the thread that runs its "
                   "handlers, which would wait for itself; use cast or call_async",
                   gen_server_name (self));
      return NULL;
    }

  /* Waiting as long as it takes, the caller may as well run the handler
   * itself when the kind allows (an idle pool server). */
  hand_off = timeout_ms < 0 && priv->kind != NULL && priv->kind->hand_off != NULL;
  call = call_begin (self, owned_message, !hand_off, deadline, error);
  if (call == NULL)
    return NULL;
  if (hand_off)
    priv->kind->hand_off (self, call);

  if (!gen_call_wait (call, deadline) &&
      gen_call_abandon (call, NULL))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                   "%s did not answer within %d ms", gen_server_name (self), timeout_ms);
      __atomic_fetch_add (&priv->n_calls_timed_out, 1, __ATOMIC_RELAXED);
      gen_call_unref (call);
      return NULL;
    }

  /* The server won the race against the deadline: wait out the store. */
  gen_call_wait (call, -1);

  if (call->error != NULL)
    g_propagate_error (error, g_steal_pointer (&call->error));
  else
    reply = g_steal_pointer (&call->reply);

  gen_call_unref (call);
  return reply;
}

/* Async calls ------------------------------------------------------------ */

/**
 * gen_server_call_async:
 * @self: a #GenServer
 * @message: the request; a floating reference is sunk
 * @timeout_ms: how long to wait for the reply, in milliseconds, or a
 *   negative number to wait as long as it takes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the result
 * @user_data: data for @callback
 *
 * Sends @message to the server's `handle_call` handler without blocking.
 * @callback runs on the thread-default [struct@GLib.MainContext] of the
 * calling thread, always from a later iteration of it; get the result there
 * with [method@Gen.Server.call_finish].
 *
 * The call fails as [method@Gen.Server.call] does, except that calling self
 * is allowed: this is how a server on a [property@Gen.Server:main-context]
 * is called from that context's thread. Cancelling @cancellable fails the
 * call with %G_IO_ERROR_CANCELLED, and a request still queued then is never
 * handled.
 *
 * ```c
 * static void
 * count_cb (GObject *source, GAsyncResult *result, gpointer user_data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   g_autoptr(GVariant) count = gen_server_call_finish (GEN_SERVER (source), result, &error);
 *   ...
 * }
 *
 * gen_server_call_async (counter, g_variant_new ("()"), GEN_SERVER_DEFAULT_TIMEOUT,
 *                        NULL, count_cb, NULL);
 * ```
 *
 * ```python
 * count = await counter.acall(())
 * ```
 *
 * ```js
 * const count = await GenServer.call(counter, []);
 * ```
 *
 * Since: 1.0
 */
void
gen_server_call_async (GenServer           *self,
                       GVariant            *message,
                       gint                 timeout_ms,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GVariant) owned_message = NULL;
  g_autoptr(GTask) task = NULL;
  GenServerPrivate *priv;
  GError *error = NULL;
  GenPushResult pushed;
  GenCall *call;

  g_return_if_fail (GEN_IS_SERVER (self));
  g_return_if_fail (message != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  priv = gen_server_get_private (self);
  owned_message = g_variant_ref_sink (message);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, gen_server_call_async);
  g_task_set_name (task, "[genserver] call");
  /* The call decides itself whether cancellation won against the reply. */
  g_task_set_check_cancellable (task, FALSE);

  call = gen_call_new (owned_message, gen_server_name (self));

  if (!gen_server_check_message_type (self, priv->call_type, "call", owned_message, &error))
    {
      /* Still through a source: the callback never runs inside this call. */
      gen_call_bind_task (call, task, -1, NULL);
      gen_call_abandon (call, error);
      gen_call_schedule_completion (call);
      gen_call_unref (call);
      return;
    }

  /* Set up before the call is queued: see gen_call_bind_task(). */
  gen_call_bind_task (call, task, timeout_ms, cancellable);

  /* Never waits for room: the caller is on a main loop. */
  pushed = gen_mailbox_push (&priv->mailbox, GEN_ITEM_MAKE (gen_call_ref (call), GEN_ITEM_CALL), TRUE);
  if (pushed != GEN_PUSH_OK)
    {
      gen_call_unref (call); /* the mailbox's */
      if (pushed == GEN_PUSH_FULL)
        g_set_error (&error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL,
                     "%s’s mailbox is full: %u messages wait in it",
                     gen_server_name (self), priv->mailbox.capacity);
      else
        gen_server_set_not_running_error (self, &error);
      /* Unless the timeout or the cancellable made it final already. */
      if (gen_call_abandon (call, error))
        gen_call_schedule_completion (call);
    }

  gen_call_unref (call);
}

/**
 * gen_server_call_finish:
 * @self: a #GenServer
 * @result: the #GAsyncResult given to the callback
 *
 * Finishes a call started with [method@Gen.Server.call_async].
 *
 * Returns: (transfer full): the reply
 *
 * Since: 1.0
 */
GVariant *
gen_server_call_finish (GenServer     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  GError *local_error = NULL;
  GVariant *reply;

  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == gen_server_call_async, NULL);

  reply = g_task_propagate_pointer (G_TASK (result), &local_error);
  if (g_error_matches (local_error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT))
    __atomic_fetch_add (&gen_server_get_private (self)->n_calls_timed_out, 1, __ATOMIC_RELAXED);
  if (local_error != NULL)
    g_propagate_error (error, local_error);
  return reply;
}

/**
 * gen_server_take_reply:
 * @self: a #GenServer
 *
 * Takes the reply handle of the call being handled, to answer it later,
 * from any thread, with [method@Gen.Reply.return_value] or
 * [method@Gen.Reply.return_error]. `handle_call` then returns %NULL
 * without setting an error, and the server goes on with its next message
 * while the caller keeps waiting.
 *
 * Only from inside `handle_call`, once per call.
 *
 * Returns: (transfer full): the reply handle
 *
 * Since: 1.0
 */
GenReply *
gen_server_take_reply (GenServer *self)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);
  g_return_val_if_fail (gen_server_is_handler_thread (self), NULL);

  priv = gen_server_get_private (self);
  g_return_val_if_fail (priv->current_call != NULL, NULL);
  g_return_val_if_fail (!priv->reply_taken, NULL);

  priv->reply_taken = TRUE;
  return gen_reply_new (gen_server_name (self), priv->current_call);
}

