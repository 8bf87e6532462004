/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Looking into a server: the status snapshot, suspend and resume, the
 * trace switch, get_state and replace_state, after Erlang's sys module.
 * The handler thread's side of system requests is in gen-run.c, the trace
 * records in gen-trace.c.
 *
 * The snapshot is read from any thread without stopping the handlers:
 * counters the handler thread stores with relaxed atomics, the status,
 * and the last crash under the server's lock for the moment of a copy.
 * Only `state` needs the handlers: format_status runs on the handler
 * thread, as OTP runs it in the server, through a status request. The
 * request is a GenCall (the call's reply slot, timeout and abandonment)
 * in a queue of its own, `system_queue`, which the handler thread empties
 * before it takes mail and also while the server is suspended, as OTP
 * handles system messages in a suspended process.
 */

#include "config.h"

#include "gen-core-private.h"
#include "gen-server-private.h"

/* How long get_status waits for a running server to give its state: a
 * server busy in a long handler is reported without it. */
#define STATUS_STATE_TIMEOUT_MS 1000

/* Runs @request (floating is sunk) on the handler thread and returns its
 * reply: NULL with NOT_RUNNING when the server is not running, with
 * TIMEOUT when it did not take the request within @timeout_ms (negative:
 * no limit), or with the request's own error. A request that started
 * running is waited for to its end. */
static GVariant *
system_request (GenServer    *self,
                GVariant     *request,
                gint          timeout_ms,
                GError      **error)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  g_autoptr(GVariant) owned = g_variant_ref_sink (request);
  GVariant *reply = NULL;
  GenCall *call;

  /* Inside a handler, or on the thread that owns the server's context:
   * no other thread can be running the handlers. */
  if (gen_server_is_handler_thread (self))
    return gen_run_system_request (self, owned, error);
  if (priv->main_context != NULL && g_main_context_acquire (priv->main_context))
    {
      if (g_atomic_int_get (&priv->status) == GEN_STATUS_RUNNING)
        reply = gen_run_system_request (self, owned, error);
      else
        gen_server_set_not_running_error (self, error);
      g_main_context_release (priv->main_context);
      return reply;
    }

  call = gen_call_new (owned, gen_server_name (self));

  g_mutex_lock (&priv->lock);
  if (priv->status != GEN_STATUS_RUNNING)
    {
      g_mutex_unlock (&priv->lock);
      gen_call_unref (call);
      gen_server_set_not_running_error (self, error);
      return NULL;
    }
  g_queue_push_tail (&priv->system_queue, gen_call_ref (call));
  g_atomic_int_inc (&priv->n_system);
  g_mutex_unlock (&priv->lock);

  /* Wakes whichever scheduler serves the server, as a message would. */
  gen_mailbox_poke (&priv->mailbox);

  /* Only a request still queued is given up: one the server took runs
   * to its end (gen_server_replace_state()'s job is on this stack). */
  if (!gen_call_wait (call, timeout_ms < 0 ? -1 :
                      g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND, NULL) &&
      gen_call_abandon_queued (call))
    {
      gen_call_unref (call);
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                   "%s did not take a system request within %d ms",
                   gen_server_name (self), timeout_ms);
      return NULL;
    }
  gen_call_wait (call, -1, NULL);

  reply = g_steal_pointer (&call->reply);
  if (call->error != NULL)
    g_propagate_error (error, g_steal_pointer (&call->error));
  gen_call_unref (call);
  return reply;
}

/* The state, from the handler thread. NULL without format_status, when
 * the server is not running, or when it did not answer in time. */
static GVariant *
request_state (GenServer *self)
{
  g_autoptr(GVariant) maybe = NULL;
  g_autoptr(GVariant) boxed = NULL;

  if (GEN_SERVER_GET_CLASS (self)->format_status == NULL)
    return NULL;

  maybe = system_request (self, g_variant_new_string (REQUEST_FORMAT_STATUS),
                          STATUS_STATE_TIMEOUT_MS, NULL);
  if (maybe == NULL || (boxed = g_variant_get_maybe (maybe)) == NULL)
    return NULL;
  return g_variant_get_variant (boxed);
}

/**
 * gen_server_get_state:
 * @self: a #GenServer
 * @timeout_ms: how long to wait for the server to take the request, in
 *   milliseconds, or a negative number to wait as long as it takes
 * @error: return location for an error
 *
 * Gets the server's state as its class's `dump_state` gives it, run on the
 * server's thread between two messages (also while the server is
 * suspended): Erlang's `sys:get_state/2`. A [class@Gen.Statem] gives
 * `(state, data)`, an `(vmv)`.
 *
 * ```c
 * g_autoptr(GVariant) state = gen_server_get_state (counter, 5000, &error);
 * ```
 *
 * ```python
 * state = counter.get_state().unpack()   # seconds, 5 by default
 * ```
 *
 * Fails with %GEN_SERVER_ERROR_NOT_RUNNING, %GEN_SERVER_ERROR_TIMEOUT if
 * the server did not take the request in time (a long handler), or
 * %GEN_SERVER_ERROR_FAILED if its class has no `dump_state`.
 *
 * Returns: (transfer full) (nullable): the state (not floating)
 *
 * Since: 1.2
 */
GVariant *
gen_server_get_state (GenServer  *self,
                      gint        timeout_ms,
                      GError    **error)
{
  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return system_request (self, g_variant_new_string (REQUEST_GET_STATE), timeout_ms, error);
}

/**
 * gen_server_replace_state:
 * @self: a #GenServer
 * @timeout_ms: how long to wait for the server to take the request, in
 *   milliseconds, or a negative number to wait as long as it takes
 * @func: (scope call) (closure user_data): computes the new state from the
 *   current one
 * @user_data: (closure): data for @func
 * @error: return location for an error
 *
 * Replaces the server's state, as Erlang's `sys:replace_state/3`: on the
 * server's thread, between two messages (also while suspended), @func gets
 * the state from the class's `dump_state` and returns the new one, which the
 * class's `load_state` takes. Nothing else runs in between. @func
 * returning %NULL keeps the state.
 *
 * ```c
 * static GVariant *
 * reset_count (GVariant *state, gpointer user_data)
 * {
 *   return g_variant_new_int64 (0);
 * }
 *
 * g_autoptr(GVariant) state = gen_server_replace_state (counter, 5000, reset_count, NULL, &error);
 * ```
 *
 * ```python
 * counter.replace_state(lambda state: GLib.Variant('x', 0))
 * ```
 *
 * Fails as [method@Gen.Server.get_state] does, with
 * %GEN_SERVER_ERROR_FAILED if the class has no `load_state`, or with
 * the error of its `load_state` (the state is then kept).
 *
 * Returns: (transfer full) (nullable): the state now (not floating)
 *
 * Since: 1.2
 */
GVariant *
gen_server_replace_state (GenServer           *self,
                          gint                 timeout_ms,
                          GenServerStateFunc   func,
                          gpointer             user_data,
                          GError             **error)
{
  ReplaceJob job = { func, user_data };

  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);
  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return system_request (self,
                         g_variant_new ("(st)", REQUEST_REPLACE_STATE, (guint64) (guintptr) &job),
                         timeout_ms, error);
}

void
gen_observe_get_counters (GenServer   *self,
                          GenCounters *counters)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  counters->casts = __atomic_load_n (&priv->n_casts, __ATOMIC_RELAXED);
  counters->calls = __atomic_load_n (&priv->n_calls, __ATOMIC_RELAXED);
  counters->infos = __atomic_load_n (&priv->n_infos, __ATOMIC_RELAXED);
  counters->calls_timed_out = __atomic_load_n (&priv->n_calls_timed_out, __ATOMIC_RELAXED);
}

void
gen_observe_count_refused_cast (GenServer *self)
{
  __atomic_fetch_add (&gen_server_get_private (self)->n_casts_refused, 1, __ATOMIC_RELAXED);
}

guint64
gen_observe_get_casts_refused (GenServer *self)
{
  return __atomic_load_n (&gen_server_get_private (self)->n_casts_refused, __ATOMIC_RELAXED);
}

/**
 * gen_server_get_status:
 * @self: a #GenServer
 *
 * Takes a snapshot of the server, as Erlang's `sys:get_status/1` does:
 * from any thread, on a server running, suspended or stopped. It reads
 * counters and flags and does not stop the handlers.
 *
 * The dictionary holds:
 *
 * - `status` (`s`): `"stopped"`, `"starting"`, `"running"`, `"suspended"`
 *   (running, but see [method@Gen.Server.suspend]) or `"stopping"`
 * - `mailbox-length` (`u`): the messages waiting
 * - `casts`, `calls`, `infos` (`t`): the messages handled, over all runs
 *   (infos include timers and idle timeouts)
 * - `calls-timed-out` (`t`): calls whose caller gave up waiting
 * - `casts-refused` (`t`): casts refused because the bounded mailbox was
 *   full (see [property@Gen.Server:mailbox-capacity]), or, coming over
 *   D-Bus, because the export's bound on messages from peers was reached
 *   (see [method@Gen.Server.export_full]); Since: 1.2
 * - `started-at` (`x`): when the server last started, in monotonic
 *   microseconds ([func@GLib.get_monotonic_time]); absent if it never did
 * - `scheduler` (`s`): what runs the handlers: `"thread"`,
 *   `"main-context"` or `"pool"`
 * - `suspended` (`b`) and `trace` (`b`): see [method@Gen.Server.suspend]
 *   and [method@Gen.Server.set_trace]
 * - `last-crash` (`s`): the message of the last crash, if the server
 *   ever crashed
 * - `state` (`v`): what the class's `format_status` returned, if it has
 *   one, the server is running and it answered within a second
 *
 * `format_status` runs on the server's handler thread, between two
 * messages, like a call that jumps the queue; also while the server is
 * suspended. Called from the thread that runs the handlers (a handler, or
 * the thread owning a [property@Gen.Server:main-context]), it runs right
 * there.
 *
 * ```c
 * g_autoptr(GVariant) status = gen_server_get_status (server);
 * guint64 casts = 0;
 *
 * g_variant_lookup (status, "casts", "t", &casts);
 * ```
 *
 * Returns: (transfer full): the snapshot, an `a{sv}` (not floating)
 *
 * Since: 1.0
 */
GVariant *
gen_server_get_status (GenServer *self)
{
  GenServerPrivate *priv;
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  g_autoptr(GVariant) state = NULL;
  g_autofree gchar *last_crash = NULL;
  gint64 started_at;

  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);

  priv = gen_server_get_private (self);

  /* First: the counters then include what the state reflects. */
  state = request_state (self);

  g_variant_builder_add (&builder, "{sv}", "status", g_variant_new_string (gen_run_status_name (self)));
  g_variant_builder_add (&builder, "{sv}", "mailbox-length",
                         g_variant_new_uint32 (gen_server_get_mailbox_length (self)));
  g_variant_builder_add (&builder, "{sv}", "casts",
                         g_variant_new_uint64 (__atomic_load_n (&priv->n_casts, __ATOMIC_RELAXED)));
  g_variant_builder_add (&builder, "{sv}", "calls",
                         g_variant_new_uint64 (__atomic_load_n (&priv->n_calls, __ATOMIC_RELAXED)));
  g_variant_builder_add (&builder, "{sv}", "infos",
                         g_variant_new_uint64 (__atomic_load_n (&priv->n_infos, __ATOMIC_RELAXED)));
  g_variant_builder_add (&builder, "{sv}", "calls-timed-out",
                         g_variant_new_uint64 (__atomic_load_n (&priv->n_calls_timed_out, __ATOMIC_RELAXED)));
  g_variant_builder_add (&builder, "{sv}", "casts-refused",
                         g_variant_new_uint64 (gen_observe_get_casts_refused (self)));
  started_at = __atomic_load_n (&priv->started_at, __ATOMIC_RELAXED);
  if (started_at != 0)
    g_variant_builder_add (&builder, "{sv}", "started-at", g_variant_new_int64 (started_at));
  g_variant_builder_add (&builder, "{sv}", "scheduler", g_variant_new_string (priv->kind != NULL ? priv->kind->name : "none"));
  g_variant_builder_add (&builder, "{sv}", "suspended",
                         g_variant_new_boolean (g_atomic_int_get (&priv->suspended)));
  g_variant_builder_add (&builder, "{sv}", "trace",
                         g_variant_new_boolean (g_atomic_int_get (&priv->trace)));

  g_mutex_lock (&priv->lock);
  last_crash = g_strdup (priv->last_crash);
  g_mutex_unlock (&priv->lock);
  if (last_crash != NULL)
    g_variant_builder_add (&builder, "{sv}", "last-crash", g_variant_new_string (last_crash));

  if (state != NULL)
    g_variant_builder_add (&builder, "{sv}", "state", g_variant_new_variant (state));

  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

/**
 * gen_server_suspend:
 * @self: a #GenServer
 *
 * Suspends the server, as Erlang's `sys:suspend/1` does: it keeps
 * queueing messages but handles none of them until
 * [method@Gen.Server.resume]. A handler running when this is called
 * finishes; no message starts after it. From any thread, including the
 * server's own handlers (it then takes effect once the handler returns).
 *
 * While suspended:
 *
 * - calls wait, and time out as usual;
 * - [method@Gen.Server.get_status] still gets the state from
 *   `format_status`, which the server answers as OTP answers system
 *   messages;
 * - the idle timeout does not fire;
 * - [method@Gen.Server.stop] stops the server without handling what is
 *   queued, as `sys:terminate/2` does: `terminate` runs, queued calls are
 *   answered with %GEN_SERVER_ERROR_STOPPED, and the server is no longer
 *   suspended when started again.
 *
 * ```c
 * gen_server_suspend (server);
 * // ... look at it, change code, let mail pile up ...
 * gen_server_resume (server);
 * ```
 *
 * Since: 1.0
 */
void
gen_server_suspend (GenServer *self)
{
  g_return_if_fail (GEN_IS_SERVER (self));

  if (g_atomic_int_compare_and_exchange (&gen_server_get_private (self)->suspended, FALSE, TRUE))
    gen_run_notify_status (self);
}

/**
 * gen_server_resume:
 * @self: a suspended #GenServer
 *
 * Resumes a server suspended with [method@Gen.Server.suspend]: it handles
 * the messages that queued up meanwhile, in order. Resuming a server that
 * is not suspended does nothing.
 *
 * Since: 1.0
 */
void
gen_server_resume (GenServer *self)
{
  GenServerPrivate *priv;

  g_return_if_fail (GEN_IS_SERVER (self));

  priv = gen_server_get_private (self);
  /* Cleared before the poke, which the holder's last look relies on. */
  if (g_atomic_int_compare_and_exchange (&priv->suspended, TRUE, FALSE))
    {
      gen_mailbox_poke (&priv->mailbox);
      gen_run_notify_status (self);
    }
}

/**
 * gen_server_get_run_status:
 * @self: a #GenServer
 *
 * Gets the [property@Gen.Server:run-status]: `"stopped"`, `"starting"`,
 * `"running"`, `"suspended"` or `"stopping"`, the `status` of
 * [method@Gen.Server.get_status]. From any thread; it may be stale by the
 * time you read it.
 *
 * Returns: the status, a static string
 *
 * Since: 1.0
 */
const gchar *
gen_server_get_run_status (GenServer *self)
{
  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);

  return gen_run_status_name (self);
}

/**
 * gen_server_set_trace:
 * @self: a #GenServer
 * @trace: whether to trace
 *
 * Turns tracing of the server on or off, as Erlang's `sys:trace/2` does.
 * A traced server logs each message it handles and each reply it sends
 * as a structured record ([func@GLib.log_structured]) in the `Gen`
 * domain at level %G_LOG_LEVEL_MESSAGE, with the fields:
 *
 * - `GEN_SERVER`: the server's type name
 * - `GEN_SERVER_ADDRESS`: the server's address (`0x...`)
 * - `GEN_KIND`: `cast`, `call`, `info`, `continue`, or `reply` for the
 *   answer to a call
 * - `GEN_TEXT`: the message (or reply, or error) printed, at most 256
 *   bytes of it
 * - `GEN_HANDLING_US`: how long the handler took, in microseconds
 *
 * Turned off, tracing costs one atomic read per message. From any thread;
 * it applies from the next message on.
 *
 * ```c
 * gen_server_set_trace (server, TRUE);
 * ```
 *
 * Since: 1.0
 */
void
gen_server_set_trace (GenServer *self,
                      gboolean   trace)
{
  g_return_if_fail (GEN_IS_SERVER (self));

  g_atomic_int_set (&gen_server_get_private (self)->trace, !!trace);
}

/**
 * gen_server_get_trace:
 * @self: a #GenServer
 *
 * Whether the server is traced; see [method@Gen.Server.set_trace].
 *
 * Returns: %TRUE if tracing is on
 *
 * Since: 1.0
 */
gboolean
gen_server_get_trace (GenServer *self)
{
  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);

  return g_atomic_int_get (&gen_server_get_private (self)->trace);
}
