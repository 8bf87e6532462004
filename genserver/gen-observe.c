/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Looking into a server: the status snapshot, suspend and resume, and the
 * trace, after Erlang's sys module.
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

#include <string.h>

#include "gen-scheduler-private.h"
#include "gen-core-private.h"
#include "gen-live-private.h"
#include "gen-server-private.h"

/* How long get_status waits for a running server to give its state: a
 * server busy in a long handler is reported without it. */
#define STATUS_STATE_TIMEOUT_MS 1000

/* How much of a printed message a trace record carries. */
#define TRACE_MESSAGE_MAX 256

static GVariant *
format_state (GenServer *self)
{
  GenServerClass *klass = GEN_SERVER_GET_CLASS (self);
  GVariant *state;

  if (klass->format_status == NULL)
    return NULL;
  state = klass->format_status (self);
  return state != NULL ? g_variant_take_ref (state) : NULL;
}

/* The system requests: what the handler thread is asked, besides mail. */
#define REQUEST_FORMAT_STATUS "gen-server.format-status"
#define REQUEST_GET_STATE "gen-server.get-state"
#define REQUEST_REPLACE_STATE "gen-server.replace-state"

/* What replace_state runs on the handler thread. It lives on the stack of
 * the thread that asked: that thread waits for a request that started
 * running to finish, so the handler thread never sees it gone. */
typedef struct
{
  GenServerStateFunc func;
  gpointer user_data;
} ReplaceJob;

static GVariant *
get_state (GenServer  *self,
           GError    **error)
{
  GenServerClass *klass = GEN_SERVER_GET_CLASS (self);
  GVariant *state;

  if (klass->dump_state == NULL ||
      (state = klass->dump_state (self)) == NULL)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                   "%s does not give its state: its class has no dump_state",
                   gen_server_name (self));
      return NULL;
    }
  return g_variant_take_ref (state);
}

static GVariant *
replace_state (GenServer   *self,
               ReplaceJob  *job,
               GError     **error)
{
  GenServerClass *klass = GEN_SERVER_GET_CLASS (self);
  g_autoptr(GVariant) state = NULL;
  GVariant *next;

  if (klass->load_state == NULL)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                   "%s does not take a new state: its class has no load_state",
                   gen_server_name (self));
      return NULL;
    }
  state = get_state (self, error);
  if (state == NULL)
    return NULL;

  next = job->func (state, job->user_data);
  if (next == NULL)
    return g_steal_pointer (&state);
  g_variant_take_ref (next);
  if (!klass->load_state (self, next, error))
    {
      g_variant_unref (next);
      return NULL;
    }
  return next;
}

/* Runs a system request on the handler thread: its reply, or NULL with
 * @error set. */
static GVariant *
run_system_request (GenServer  *self,
                    GVariant   *request,
                    GError    **error)
{
  const gchar *name;
  guint64 job;

  if (g_variant_is_of_type (request, G_VARIANT_TYPE ("(st)")))
    {
      g_variant_get (request, "(&st)", &name, &job);
      g_assert (g_str_equal (name, REQUEST_REPLACE_STATE));
      return replace_state (self, (ReplaceJob *) (guintptr) job, error);
    }

  name = g_variant_get_string (request, NULL);
  if (g_str_equal (name, REQUEST_GET_STATE))
    return get_state (self, error);

  g_assert (g_str_equal (name, REQUEST_FORMAT_STATUS));
  {
    g_autoptr(GVariant) state = format_state (self);

    return g_variant_ref_sink (g_variant_new_maybe (G_VARIANT_TYPE_VARIANT,
                                                    state != NULL ? g_variant_new_variant (state) : NULL));
  }
}

gboolean
gen_run_hold (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  if (G_UNLIKELY (g_atomic_int_get (&priv->n_system) > 0))
    {
      GenCall *call;

      for (;;)
        {
          g_mutex_lock (&priv->lock);
          call = g_queue_pop_head (&priv->system_queue);
          if (call != NULL)
            g_atomic_int_add (&priv->n_system, -1);
          g_mutex_unlock (&priv->lock);
          if (call == NULL)
            break;

          /* A requester that gave up already is not answered. */
          if (gen_call_begin_running (call))
            {
              GError *error = NULL;
              GVariant *reply = run_system_request (self, call->message, &error);

              gen_call_answer (call, reply, error);
            }
          gen_call_unref (call);
        }
    }

  return g_atomic_int_get (&priv->suspended) &&
         g_atomic_int_get (&priv->status) == GEN_STATUS_RUNNING;
}

gboolean
gen_run_wants_turn (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  if (g_atomic_int_get (&priv->n_system) > 0)
    return TRUE;
  if (gen_mailbox_length (&priv->mailbox) <= 0)
    return FALSE;
  return !g_atomic_int_get (&priv->suspended) ||
         g_atomic_int_get (&priv->status) != GEN_STATUS_RUNNING;
}

void
gen_run_refuse_system (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GenCall *call;

  g_mutex_lock (&priv->lock);
  while ((call = g_queue_pop_head (&priv->system_queue)) != NULL)
    {
      g_atomic_int_add (&priv->n_system, -1);
      gen_call_answer (call, NULL,
                       g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED,
                                    "%s stopped before giving its status",
                                    gen_server_name (self)));
      gen_call_unref (call);
    }
  g_mutex_unlock (&priv->lock);
}

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
    return run_system_request (self, owned, error);
  if (priv->main_context != NULL && g_main_context_acquire (priv->main_context))
    {
      if (g_atomic_int_get (&priv->status) == GEN_STATUS_RUNNING)
        reply = run_system_request (self, owned, error);
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

  if (!gen_call_wait (call, timeout_ms < 0 ? -1 :
                      g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND) &&
      gen_call_abandon (call, NULL))
    {
      gen_call_unref (call);
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                   "%s did not answer a system request within %d ms",
                   gen_server_name (self), timeout_ms);
      return NULL;
    }
  gen_call_wait (call, -1);

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

GParamSpec *gen_run_status_pspec;

/* The notification source holds the server weakly: a stopped server whose
 * context nobody iterates is not kept alive by it. */
typedef struct
{
  GSource source;
  GWeakRef server;
} NotifySource;

static gboolean
notify_source_dispatch (GSource     *source,
                        GSourceFunc  callback,
                        gpointer     user_data)
{
  g_autoptr(GenServer) self = g_weak_ref_get (&((NotifySource *) source)->server);

  if (self != NULL)
    {
      GenServerPrivate *priv = gen_server_get_private (self);

      /* Cleared first: a change during the handlers schedules another. */
      if (g_atomic_pointer_compare_and_exchange (&priv->notify_source, source, NULL))
        g_source_unref (source);
      g_object_notify_by_pspec (G_OBJECT (self), gen_run_status_pspec);
    }
  return G_SOURCE_REMOVE;
}

static void
notify_source_finalize (GSource *source)
{
  g_weak_ref_clear (&((NotifySource *) source)->server);
}

static GSourceFuncs notify_source_funcs = {
  .dispatch = notify_source_dispatch,
  .finalize = notify_source_finalize,
};

void
gen_run_notify_status (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GSource *source;

  /* Nobody watches (most servers): no source. A handler connected later
   * reads the value as it connects (G_BINDING_SYNC_CREATE). */
  if (g_atomic_pointer_get (&priv->notify_source) != NULL ||
      !g_signal_has_handler_pending (self, g_signal_lookup ("notify", G_TYPE_OBJECT),
                                     g_param_spec_get_name_quark (gen_run_status_pspec),
                                     TRUE))
    return;

  source = g_source_new (&notify_source_funcs, sizeof (NotifySource));
  g_weak_ref_init (&((NotifySource *) source)->server, self);
  g_source_set_static_name (source, "[genserver] run-status");
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_ready_time (source, 0);
  if (!g_atomic_pointer_compare_and_exchange (&priv->notify_source, NULL, source))
    {
      /* Another change scheduled one meanwhile: it tells this one too. */
      g_source_unref (source);
      return;
    }
  /* The field's reference, then the context's. */
  g_source_attach (source, priv->notify_context);
}

void
gen_run_clear_notify (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GSource *source = g_atomic_pointer_exchange (&priv->notify_source, NULL);

  if (source != NULL)
    {
      g_source_destroy (source);
      g_source_unref (source);
    }
}

static const gchar *
status_name (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  switch (g_atomic_int_get (&priv->status))
    {
    case GEN_STATUS_STOPPED:
      return "stopped";
    case GEN_STATUS_STARTING:
      return "starting";
    case GEN_STATUS_RUNNING:
      return g_atomic_int_get (&priv->suspended) ? "suspended" : "running";
    case GEN_STATUS_STOPPING:
      return "stopping";
    default:
      g_assert_not_reached ();
    }
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

  g_variant_builder_add (&builder, "{sv}", "status", g_variant_new_string (status_name (self)));
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

  return status_name (self);
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

static gchar *
print_bounded (GVariant *message)
{
  g_autofree gchar *text = g_variant_print (message, TRUE);
  const gchar *end;

  if (strlen (text) <= TRACE_MESSAGE_MAX)
    return g_steal_pointer (&text);
  /* Cut on a character boundary, with room for the ellipsis (3 bytes):
   * the field stays valid UTF-8 and within the bound. */
  end = text + TRACE_MESSAGE_MAX - 3;
  while (end > text && (*end & 0xC0) == 0x80)
    end--;
  return g_strdup_printf ("%.*s…", (int) (end - text), text);
}

void
gen_trace_record (GenServer    *self,
                  const gchar  *kind,
                  GVariant     *message,
                  const GError *error,
                  gint64        begin)
{
  g_autofree gchar *text = NULL;
  gchar address[32];
  gchar handling[32];
  gint64 elapsed = g_get_monotonic_time () - begin;
  GLogField fields[] = {
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "PRIORITY", "5", -1 },
    { "MESSAGE", NULL, -1 },
    { "GEN_SERVER", gen_server_name (self), -1 },
    { "GEN_SERVER_ADDRESS", address, -1 },
    { "GEN_KIND", kind, -1 },
    { "GEN_TEXT", NULL, -1 },
    { "GEN_HANDLING_US", handling, -1 },
  };
  g_autofree gchar *line = NULL;

  if (error != NULL)
    text = g_strdup_printf ("error %s %d: %s", g_quark_to_string (error->domain),
                            error->code, error->message);
  else if (message != NULL)
    text = print_bounded (message);
  else
    text = g_strdup ("");

  g_snprintf (address, sizeof address, "%p", (gpointer) self);
  g_snprintf (handling, sizeof handling, "%" G_GINT64_FORMAT, elapsed);
  line = g_strdup_printf ("%s %s %s %s (%" G_GINT64_FORMAT " µs)",
                          gen_server_name (self), address, kind, text, elapsed);
  fields[2].value = line;
  fields[6].value = text;
  g_log_structured_array (G_LOG_LEVEL_MESSAGE, fields, G_N_ELEMENTS (fields));
  gen_live_trace (self, kind, text, elapsed);
}

void
gen_trace_crash (GenServer    *self,
                 const GError *reason,
                 GVariant     *handling)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  g_autofree gchar *text = handling != NULL ? print_bounded (handling) : g_strdup ("");
  g_autofree gchar *line = NULL;
  gchar address[32];
  gchar code[16];
  GLogField fields[] = {
    { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 },
    { "PRIORITY", "7", -1 },
    { "MESSAGE", NULL, -1 },
    { "GEN_SERVER", gen_server_name (self), -1 },
    { "GEN_SERVER_ADDRESS", address, -1 },
    { "GEN_KIND", "crash", -1 },
    { "GEN_ERROR_DOMAIN", g_quark_to_string (reason->domain), -1 },
    { "GEN_ERROR_CODE", code, -1 },
    { "GEN_ERROR_MESSAGE", reason->message, -1 },
    { "GEN_TEXT", text, -1 },
  };

  g_mutex_lock (&priv->lock);
  g_free (priv->last_crash);
  priv->last_crash = g_strdup (reason->message);
  g_mutex_unlock (&priv->lock);

  g_snprintf (address, sizeof address, "%p", (gpointer) self);
  g_snprintf (code, sizeof code, "%d", reason->code);
  line = g_strdup_printf ("%s %s crashed (%s %d: %s) handling %s",
                          gen_server_name (self), address,
                          g_quark_to_string (reason->domain), reason->code, reason->message,
                          handling != NULL ? text : "no message");
  fields[2].value = line;
  g_log_structured_array (G_LOG_LEVEL_DEBUG, fields, G_N_ELEMENTS (fields));
}

void
gen_trace_lifecycle (GenServer    *self,
                     const gchar  *event,
                     const GError *reason)
{
  /* Structured, not g_debug(): in GLib 2.74, g_log() reads the list of
   * g_test_expect_message() unlocked, which a crash warning on a server
   * thread writes at the same moment. */
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG,
                    "GEN_SERVER", gen_server_name (self),
                    "GEN_LIFECYCLE", event,
                    "MESSAGE", "%s %p %s%s%s", gen_server_name (self), (gpointer) self, event,
                    reason != NULL ? ": " : "", reason != NULL ? reason->message : "");
}
