/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The messaging API of a server: what callers send it (cast, call,
 * call_async, info), what it sends itself (send_after, continue; the idle
 * timeout's message is recognised here, its property is gen-server.c's)
 * and the deferred reply of a call (take_reply).
 *
 * It sits on top of the server type (gen-server.c) and its run
 * (gen-run.c): a message is checked against the server's declared type,
 * wrapped as a mailbox item (gen-mailbox-private.h), a call with its reply
 * slot (gen-call-private.h), and queued; the kind of scheduler that runs
 * the server is woken by the mailbox, or, for a call that waits as long as
 * it takes, may run the handler on the caller's thread (hand_off).
 */

#include "config.h"

#include "gen-call-private.h"
#include "gen-reply-private.h"
#include "gen-server-private.h"
#include "gen-spin-private.h"

/* Refuses, in the caller, a message not of the type the server declared. */
static gboolean
check_message_type (GenServer           *self,
                    const GVariantType  *expected,
                    const gchar         *what,
                    GVariant            *message,
                    GError             **error)
{
  g_autofree gchar *expected_string = NULL;

  if (expected == NULL)
    return TRUE;
  /* Most messages are of the very type declared: the same type string
   * (the server's types are interned, nul-terminated strings), which
   * costs less to compare than g_variant_is_of_type()'s scans of both
   * types, on every cast. */
  if (g_str_equal (g_variant_type_peek_string (expected), g_variant_get_type_string (message)) ||
      g_variant_is_of_type (message, expected))
    return TRUE;

  expected_string = g_variant_type_dup_string (expected);
  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "%s expects %s messages of type “%s”, got “%s”",
               gen_server_name (self), what, expected_string,
               g_variant_get_type_string (message));
  return FALSE;
}

/* Why a push was refused: the one place these errors are built. */
static void
set_push_error (GenServer      *self,
                GenPushResult   result,
                GError        **error)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  if (result == GEN_PUSH_FULL)
    g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL,
                 "%s’s mailbox is full: %u messages wait in it",
                 gen_server_name (self), priv->mailbox.capacity);
  else
    gen_server_set_not_running_error (self, error);
}

/* Queues @item (the caller's reference, kept on failure) as a cast, call or
 * info. A bounded item that finds a BLOCK mailbox full waits for room
 * until @deadline (monotonic µs, -1: as long as it takes), unless this
 * thread is the one that would make the room. */
static gboolean
queue_item (GenServer  *self,
            gpointer    item,
            gboolean    wake,
            gint64      deadline,
            GError    **error)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GenPushResult result;

  if (priv->mailbox_policy == GEN_MAILBOX_POLICY_BLOCK && priv->mailbox.capacity != 0 &&
      GEN_ITEM_KIND (item) != GEN_ITEM_INFO && !gen_server_would_call_self (self))
    {
      gboolean blocking = gen_spin_block_begin ();

      result = gen_mailbox_push_wait (&priv->mailbox, item, wake, deadline);
      if (blocking)
        gen_spin_block_end ();
    }
  else
    result = gen_mailbox_push (&priv->mailbox, item, wake);

  if (result == GEN_PUSH_OK)
    return TRUE;
  if (result == GEN_PUSH_FULL && GEN_ITEM_KIND (item) == GEN_ITEM_CAST)
    gen_observe_count_refused_cast (self);
  set_push_error (self, result, error);
  return FALSE;
}

/* Casts and infos ------------------------------------------------------- */

static gboolean
cast_until (GenServer  *self,
            GVariant   *message,
            gint64      deadline,
            GError    **error)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  g_variant_ref_sink (message);

  if (!check_message_type (self, priv->cast_type, "cast", message, error) ||
      !queue_item (self, GEN_ITEM_MAKE (message, GEN_ITEM_CAST), TRUE, deadline, error))
    {
      g_variant_unref (message);
      return FALSE;
    }

  return TRUE;
}

/**
 * gen_server_cast:
 * @self: a #GenServer
 * @message: the message; a floating reference is sunk
 *
 * Sends @message to the server's `handle_cast` handler and returns at once,
 * without waiting for it to be handled. Messages cast from one thread are
 * handled in the order they were sent.
 *
 * Fails with %GEN_SERVER_ERROR_INVALID_MESSAGE if @message is not of the
 * server's [property@Gen.Server:cast-type], with
 * %GEN_SERVER_ERROR_NOT_RUNNING if the server is not running, and with
 * %GEN_SERVER_ERROR_MAILBOX_FULL if its bounded mailbox
 * ([property@Gen.Server:mailbox-capacity]) is full and its policy is
 * %GEN_MAILBOX_POLICY_FAIL. Under %GEN_MAILBOX_POLICY_BLOCK, a cast to a
 * full mailbox waits for room: the one case where a cast waits for the
 * handler (see [method@Gen.Server.cast_with_timeout]).
 *
 * ```c
 * gen_server_cast (counter, g_variant_new_int32 (2), &error);
 * ```
 *
 * ```python
 * counter.cast(2)      # packed as the server's cast-type
 * ```
 *
 * Returns: %TRUE if the message was queued
 *
 * Since: 1.0
 */
gboolean
gen_server_cast (GenServer  *self,
                 GVariant   *message,
                 GError    **error)
{
  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return cast_until (self, message, -1, error);
}

/**
 * gen_server_cast_with_timeout:
 * @self: a #GenServer
 * @message: the message; a floating reference is sunk
 * @timeout_ms: how long to wait for room in a full mailbox, in
 *   milliseconds, or a negative number to wait as long as it takes
 *
 * Casts @message as [method@Gen.Server.cast] does, waiting at most
 * @timeout_ms for room when the server's bounded mailbox is full and its
 * [property@Gen.Server:mailbox-policy] is %GEN_MAILBOX_POLICY_BLOCK; it then
 * fails with %GEN_SERVER_ERROR_MAILBOX_FULL. Under
 * %GEN_MAILBOX_POLICY_FAIL, or with no bound, it is exactly
 * [method@Gen.Server.cast].
 *
 * ```c
 * if (!gen_server_cast_with_timeout (sink, message, 100, &error) &&
 *     g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL))
 *   drop_or_retry_later (message);
 * ```
 *
 * Returns: %TRUE if the message was queued
 *
 * Since: 1.0
 */
gboolean
gen_server_cast_with_timeout (GenServer  *self,
                              GVariant   *message,
                              gint        timeout_ms,
                              GError    **error)
{
  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return cast_until (self, message,
                     timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000,
                     error);
}

/**
 * gen_server_send_info:
 * @self: a #GenServer
 * @message: the message; a floating reference is sunk
 *
 * Sends @message to the server's `handle_info` handler, the one for
 * everything that is neither a call nor a cast (a notification from a
 * library, a GSource event relayed to the server, ...). It is queued in the
 * mailbox like a cast, in order with the casts and calls of the same
 * thread. [property@Gen.Server:cast-type] does not apply.
 *
 * Returns: %TRUE if the message was queued, %FALSE with
 *   %GEN_SERVER_ERROR_NOT_RUNNING if the server is not running
 *
 * Since: 1.0
 */
gboolean
gen_server_send_info (GenServer  *self,
                      GVariant   *message,
                      GError    **error)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = gen_server_get_private (self);
  g_variant_ref_sink (message);
  if (gen_mailbox_push (&priv->mailbox, GEN_ITEM_MAKE (message, GEN_ITEM_INFO), TRUE) != GEN_PUSH_OK)
    {
      g_variant_unref (message);
      gen_server_set_not_running_error (self, error);
      return FALSE;
    }

  return TRUE;
}

/* Calls ------------------------------------------------------------------ */

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

  if (!check_message_type (self, priv->call_type, "call", message, error))
    return NULL;

  call = gen_call_new (message, gen_server_name (self));

  if (!queue_item (self, GEN_ITEM_MAKE (gen_call_ref (call), GEN_ITEM_CALL), wake, deadline, error))
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

  if (!gen_call_wait (call, deadline, &priv->call_sleepers) &&
      gen_call_abandon (call, NULL))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                   "%s did not answer within %d ms", gen_server_name (self), timeout_ms);
      __atomic_fetch_add (&priv->n_calls_timed_out, 1, __ATOMIC_RELAXED);
      gen_call_unref (call);
      return NULL;
    }

  /* The server won the race against the deadline: wait out the store. */
  gen_call_wait (call, -1, NULL);

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
  g_return_if_fail (GEN_IS_SERVER (self));
  g_return_if_fail (message != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  gen_server_call_async_landing (self, message, timeout_ms, cancellable, callback, user_data,
                                 NULL, NULL, NULL);
}

void
gen_server_call_async_landing (GenServer           *self,
                               GVariant            *message,
                               gint                 timeout_ms,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data,
                               void               (*landing) (gpointer data),
                               gpointer             landing_data,
                               GDestroyNotify       landing_free)
{
  g_autoptr(GVariant) owned_message = NULL;
  g_autoptr(GTask) task = NULL;
  GenServerPrivate *priv;
  GError *error = NULL;
  GenPushResult pushed;
  GenCall *call;

  priv = gen_server_get_private (self);
  owned_message = g_variant_ref_sink (message);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, gen_server_call_async);
  g_task_set_name (task, "[genserver] call");
  /* The call decides itself whether cancellation won against the reply. */
  g_task_set_check_cancellable (task, FALSE);

  call = gen_call_new (owned_message, gen_server_name (self));
  if (landing != NULL)
    gen_call_set_landing (call, landing, landing_data, landing_free);

  if (!check_message_type (self, priv->call_type, "call", owned_message, &error))
    {
      /* Still through a source: the callback never runs inside this call. */
      gen_call_bind_task (call, task, -1, 0, 0, NULL);
      gen_call_abandon (call, error);
      gen_call_schedule_completion (call);
      gen_call_unref (call);
      return;
    }

  /* Set up before the call is queued: see gen_call_bind_task(). */
  gen_call_bind_task (call, task, timeout_ms,
                      GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT, cancellable);

  /* Never waits for room: the caller is on a main loop. */
  pushed = gen_mailbox_push (&priv->mailbox, GEN_ITEM_MAKE (gen_call_ref (call), GEN_ITEM_CALL), TRUE);
  if (pushed != GEN_PUSH_OK)
    {
      gen_call_unref (call); /* the mailbox's */
      set_push_error (self, pushed, &error);
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

/* Messages to self ------------------------------------------------------- */

/**
 * gen_server_send_after:
 * @self: a #GenServer
 * @message: the message; a floating reference is sunk
 * @delay_ms: the delay, in milliseconds
 *
 * Sends @message to the server's `handle_info` handler after @delay_ms, as
 * Erlang's `erlang:send_after/3` does. Timers are handled in the order of
 * their deadlines (each delay counts from its own call), also when the
 * thread that runs them wakes late and finds several due at once; timers
 * with the same deadline in the order they were set. A server's timers are
 * cancelled when it stops.
 *
 * Call it from anywhere, including `init` and the handlers (also while the
 * server stops: the timer is then cancelled with the others).
 *
 * Returns: the timer's id, for [method@Gen.Server.cancel_timer], or 0 with
 *   %GEN_SERVER_ERROR_NOT_RUNNING if the server is not running
 *
 * Since: 1.0
 */
guint
gen_server_send_after (GenServer  *self,
                       GVariant   *message,
                       guint       delay_ms,
                       GError    **error)
{
  GenServerPrivate *priv;
  gint status;
  guint id;

  g_return_val_if_fail (GEN_IS_SERVER (self), 0);
  g_return_val_if_fail (message != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  priv = gen_server_get_private (self);
  g_variant_ref_sink (message);

  /* A stopping server's own handlers may still set timers: they are
   * cancelled with the others once the last message is handled. A timer
   * set while the run ends is refused by the closed table. */
  status = g_atomic_int_get (&priv->status);
  if (status == GEN_STATUS_RUNNING || status == GEN_STATUS_STARTING ||
      (status == GEN_STATUS_STOPPING && gen_server_is_handler_thread (self)))
    id = gen_timer_table_add (&priv->timers, G_OBJECT (self), &priv->mailbox,
                              priv->timer_service, message, delay_ms);
  else
    {
      g_variant_unref (message);
      id = 0;
    }

  if (id == 0)
    gen_server_set_not_running_error (self, error);
  return id;
}

/**
 * gen_server_cancel_timer:
 * @self: a #GenServer
 * @timer_id: an id from [method@Gen.Server.send_after]
 *
 * Cancels a timer. Once this returns %TRUE, the timer's message is never
 * handled, even if the timer had already fired and its message was waiting
 * in the mailbox.
 *
 * Returns: %TRUE if the timer was cancelled, %FALSE if its message was
 *   already handled (or is being handled), or the id is unknown
 *
 * Since: 1.0
 */
gboolean
gen_server_cancel_timer (GenServer *self,
                         guint      timer_id)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);

  priv = gen_server_get_private (self);
  return gen_timer_table_cancel (&priv->timers, timer_id);
}

/**
 * gen_server_is_idle_timeout:
 * @message: a message given to `handle_info`
 *
 * Whether @message is the one `handle_info` gets when the server's
 * [property@Gen.Server:idle-timeout] expires: the string
 * `"gen-server.idle-timeout"`.
 *
 * Returns: %TRUE for the idle timeout message
 *
 * Since: 1.0
 */
gboolean
gen_server_is_idle_timeout (GVariant *message)
{
  g_return_val_if_fail (message != NULL, FALSE);

  return g_variant_is_of_type (message, G_VARIANT_TYPE_STRING) &&
         g_str_equal (g_variant_get_string (message, NULL), GEN_IDLE_TIMEOUT_MESSAGE);
}

/**
 * gen_server_continue:
 * @self: a #GenServer
 * @message: what to continue with; a floating reference is sunk
 *
 * Schedules `handle_continue` with @message to run right after the current
 * handler (or `init`) returns, before the server takes the next message
 * from its mailbox: Erlang's `{continue, Term}`. Use it to finish a long
 * initialisation after [method@Gen.Server.start] returned, or to split work
 * without letting other messages in between. Continues run in the order
 * they were scheduled.
 *
 * Only from the server's own handlers and `init`. An error set by
 * `handle_continue` is a crash, as one from `handle_cast` is.
 *
 * Since: 1.0
 */
void
gen_server_continue (GenServer *self,
                     GVariant  *message)
{
  GenServerPrivate *priv;

  g_return_if_fail (GEN_IS_SERVER (self));
  g_return_if_fail (message != NULL);
  g_return_if_fail (gen_server_is_handler_thread (self));

  priv = gen_server_get_private (self);
  g_queue_push_tail (&priv->continues, g_variant_ref_sink (message));
}

/* Deferred replies ------------------------------------------------------- */

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
 * A reply still unanswered when the server's run ends (after `terminate`,
 * which may answer it) is answered %GEN_SERVER_ERROR_STOPPED, as an
 * Erlang caller learns at once that the server went down; an answer
 * through the handle after that is dropped.
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
  GenReply *reply;

  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);
  g_return_val_if_fail (gen_server_is_handler_thread (self), NULL);

  priv = gen_server_get_private (self);
  g_return_val_if_fail (priv->current_call != NULL, NULL);
  g_return_val_if_fail (!priv->reply_taken, NULL);

  priv->reply_taken = TRUE;
  reply = gen_reply_new (gen_server_name (self), priv->current_call);

  /* Kept to be answered STOPPED if the run ends first (gen_run_finish()).
   * The answered ones go each time the list doubled since the last
   * pruning. */
  if (priv->taken_calls == NULL)
    priv->taken_calls = g_ptr_array_new_with_free_func ((GDestroyNotify) gen_call_unref);
  if (priv->taken_calls->len >= 2 * priv->taken_calls_kept + 16)
    {
      for (guint i = priv->taken_calls->len; i > 0; i--)
        if (gen_call_is_final (g_ptr_array_index (priv->taken_calls, i - 1)))
          g_ptr_array_remove_index_fast (priv->taken_calls, i - 1);
      priv->taken_calls_kept = priv->taken_calls->len;
    }
  g_ptr_array_add (priv->taken_calls, gen_call_ref (priv->current_call));
  return reply;
}
