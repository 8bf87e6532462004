/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The GenServer type: its properties, construction (which kind of
 * scheduler runs it), start, stop and lifetime. What callers send it is in
 * gen-server-messaging.c, a run of its handlers in gen-run.c.
 *
 * The file is past ~1,200 lines and stays whole: a third of it is the
 * reference documentation (the class's guarantees, its eight properties, its
 * public functions), which gi-docgen reads next to the code it describes.
 * What is left, some 900 lines, is one concept; class_init alone is 200,
 * most of them property documentation.
 */

#include "config.h"

#include "gen-enums.h"
#include "gen-scheduler-private.h"
#include "gen-server-private.h"
#include "gen-spin-private.h"

/**
 * GenServer:
 *
 * A server that owns its state and changes it only by handling messages,
 * one at a time: on a thread of its own, on a main context, or on a pool
 * of threads shared with other servers (see [class@Gen.Scheduler]).
 *
 * `GenServer` is Erlang/OTP's `gen_server` for GLib. Subclass it, keep the
 * state in the instance, and override the handlers of its
 * [class structure](class.Server.html#class-struct):
 * `init` sets the state up, `handle_cast` handles fire-and-forget messages,
 * `handle_call` answers requests, `handle_info` gets everything else and
 * `terminate` cleans up. Messages are [struct@GLib.Variant]s.
 *
 * Callers talk to a server with [method@Gen.Server.cast] (never waits for the
 * handler) and [method@Gen.Server.call] (waits for the reply, with a timeout),
 * or [method@Gen.Server.call_async] from a main loop. The server's mailbox is
 * a [struct@GLib.AsyncQueue], served by a [struct@GLib.Thread] of its own;
 * when [property@Gen.Server:main-context] is set, by a [struct@GLib.Source]
 * attached to that context; when [property@Gen.Server:scheduler] is set, by
 * the worker threads of that [class@Gen.Scheduler], a pool shared with
 * other servers.
 *
 * The guarantees, whichever thread calls:
 *
 * - [method@Gen.Server.start] runs `init` on the server's thread and returns
 *   only once it ran: %FALSE with init's error if it failed.
 * - Messages from one thread are handled in the order they were sent.
 * - A call is answered exactly once: with the reply, the handler's error, or
 *   %GEN_SERVER_ERROR_TIMEOUT, %GEN_SERVER_ERROR_STOPPED or
 *   %GEN_SERVER_ERROR_NOT_RUNNING. A call that timed out while still queued
 *   is never handled; one that was being handled finishes, and its late
 *   reply is dropped.
 * - [method@Gen.Server.stop] handles every message queued before it, refuses
 *   later ones with %GEN_SERVER_ERROR_NOT_RUNNING, runs `terminate` once on
 *   the server's thread and, for a server with its own thread, joins it. A
 *   stopped server can be started again.
 * - An error from `handle_call` goes to the caller; the server goes on.
 *   An error from `handle_cast` or `handle_info` is a crash: the server
 *   stops, `terminate` gets the error as its reason, and calls still queued
 *   are answered with %GEN_SERVER_ERROR_STOPPED. Whoever monitors the
 *   server ([method@Gen.Server.monitor]) is told the reason; a
 *   [class@Gen.Supervisor] restarts it.
 * - A synchronous call from the thread that runs the server's handlers fails
 *   at once with %GEN_SERVER_ERROR_CALLING_SELF.
 * - A running server keeps a reference to itself until it stops. An idle
 *   server sleeps; it never polls.
 *
 * A server can declare the types of the messages it accepts with the
 * [property@Gen.Server:cast-type] and [property@Gen.Server:call-type]
 * properties, or for a whole class with
 * [method@Gen.ServerClass.set_cast_type]. A message of another type is
 * refused in the caller with %GEN_SERVER_ERROR_INVALID_MESSAGE.
 *
 * Since: 1.0
 */

G_DEFINE_TYPE_WITH_PRIVATE (GenServer, gen_server, G_TYPE_OBJECT)

/**
 * gen_server_error_quark:
 *
 * The quark of the %GEN_SERVER_ERROR domain.
 *
 * Returns: the error domain quark
 *
 * Since: 1.0
 */
/* Not G_DEFINE_QUARK: its cache is a plain static variable, which two
 * threads making their first error at once (two call timeouts, say) both
 * write: a data race. */
static GQuark
error_quark_cached (gint       *cache, /* atomic, GQuark */
                    const char *name)
{
  GQuark result = (GQuark) g_atomic_int_get (cache);

  if (G_UNLIKELY (result == 0))
    {
      result = g_quark_from_static_string (name);
      g_atomic_int_set (cache, (gint) result);
    }
  return result;
}

GQuark
gen_server_error_quark (void)
{
  static gint quark;

  return error_quark_cached (&quark, "gen-server-error-quark");
}

/**
 * gen_server_ignore_quark:
 *
 * The quark of the %GEN_SERVER_IGNORE error domain, in which genserver 1.0
 * reported an ignored start.
 *
 * Returns: the quark
 *
 * Since: 1.0
 * Deprecated: 1.2: An ignored start is %GEN_SERVER_ERROR_IGNORED.
 */
/* Here, beside the main domain, because the run loop turns an init error
 * of this domain into GEN_SERVER_ERROR_IGNORED. */
GQuark
gen_server_ignore_quark (void)
{
  static gint quark;

  return error_quark_cached (&quark, "gen-server-ignore-quark");
}

/* Where gen_server_class_set_cast_type() and _call_type() keep a class's
 * default type string: GType qdata, inherited by walking up the parents. */
static GQuark
class_cast_type_quark (void)
{
  return g_quark_from_static_string ("gen-server-class-cast-type");
}

static GQuark
class_call_type_quark (void)
{
  return g_quark_from_static_string ("gen-server-class-call-type");
}

enum {
  PROP_0,
  PROP_CAST_TYPE,
  PROP_CALL_TYPE,
  PROP_MAIN_CONTEXT,
  PROP_SCHEDULER,
  PROP_IDLE_TIMEOUT,
  PROP_MAILBOX_CAPACITY,
  PROP_MAILBOX_POLICY,
  PROP_RUN_STATUS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Server helpers -------------------------------------------------------- */

GenServerPrivate *
gen_server_get_private (GenServer *self)
{
  return gen_server_get_instance_private (self);
}

static const gchar *
server_name (GenServer *self)
{
  return G_OBJECT_TYPE_NAME (self);
}

static gboolean
server_is_handler_thread (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  return g_atomic_pointer_get (&priv->handler_thread) == g_thread_self ();
}

void
gen_server_set_not_running_error (GenServer  *self,
                                  GError    **error)
{
  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING,
               "%s is not running", server_name (self));
}

static void
set_status (GenServer *self,
            GenStatus  status)
{
  gen_run_set_status (self, status);
}

/* Public API ------------------------------------------------------------ */

/**
 * gen_server_start:
 * @self: a #GenServer
 * @args: (nullable): the arguments for `init`; a floating reference is sunk
 *
 * Starts the server: opens its mailbox, then runs its `init` handler with
 * @args on the server's thread (or its [property@Gen.Server:main-context])
 * and waits for it to return.
 *
 * When `init` fails, the server is not running, @error is set to init's
 * error and %FALSE is returned; messages sent meanwhile are refused with
 * %GEN_SERVER_ERROR_NOT_RUNNING. A stopped server can be started again.
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 *
 * if (!gen_server_start (counter, g_variant_new_int32 (40), &error))
 *   g_printerr ("init failed: %s\n", error->message);
 * ```
 *
 * ```python
 * counter.start(40)    # raises GLib.Error if init fails
 * ```
 *
 * Returns: %TRUE if the server is running
 *
 * Since: 1.0
 */
gboolean
gen_server_start (GenServer  *self,
                  GVariant   *args,
                  GError    **error)
{
  GenServerPrivate *priv;
  g_autoptr(GVariant) owned_args = NULL;
  GError *local_error = NULL;
  GThread *stale_thread;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = gen_server_get_instance_private (self);
  if (args != NULL)
    owned_args = g_variant_ref_sink (args);

  if (priv->construct_error != NULL)
    {
      g_propagate_error (error, g_error_copy (priv->construct_error));
      return FALSE;
    }

  /* gen_server_constructed() chooses how the server runs: a subclass
   * whose constructed() does not chain up leaves it unset. */
  if (G_UNLIKELY (priv->kind == NULL))
    {
      g_critical ("%s overrides GObject’s constructed() without chaining up; "
                  "call G_OBJECT_CLASS (parent_class)->constructed (object) "
                  "from it, first", server_name (self));
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                   "%s cannot start: its constructed() did not chain up",
                   server_name (self));
      return FALSE;
    }

  if (server_is_handler_thread (self))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_ALREADY_RUNNING,
                   "%s is already running: start() called from its own handler",
                   server_name (self));
      return FALSE;
    }

  g_mutex_lock (&priv->lock);
  /* A server stopping from inside its own handler finishes on its own. */
  while (priv->status == GEN_STATUS_STOPPING)
    g_cond_wait (&priv->cond, &priv->lock);
  if (priv->status != GEN_STATUS_STOPPED)
    {
      g_mutex_unlock (&priv->lock);
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_ALREADY_RUNNING,
                   "%s is already running", server_name (self));
      return FALSE;
    }
  g_atomic_int_set (&priv->status, GEN_STATUS_STARTING);
  priv->run++;
  stale_thread = priv->kind->take_thread != NULL ? priv->kind->take_thread (self) : NULL;
  g_cond_broadcast (&priv->cond);
  g_mutex_unlock (&priv->lock);
  gen_run_notify_status (self);

  gen_monitor_open (self);

  /* The previous run's thread has marked itself stopped and is exiting. */
  if (stale_thread != NULL)
    g_thread_join (stale_thread);

  gen_timer_table_open (&priv->timers);

  __atomic_store_n (&priv->started_at, g_get_monotonic_time (), __ATOMIC_RELAXED);

  if (!priv->kind->start (self, owned_args, &local_error))
    {
      gen_monitor_fire (self, local_error);
      set_status (self, GEN_STATUS_STOPPED);
      g_propagate_error (error, local_error);
      return FALSE;
    }

  gen_trace_lifecycle (self, "started", NULL);

  /* init succeeded: the server ran, even if another thread stopped it
   * since. */
  return TRUE;
}

/**
 * gen_server_stop:
 * @self: a #GenServer
 * @timeout_ms: how long to wait for the server to stop, in milliseconds, or
 *   a negative number to wait as long as it takes
 *
 * Stops the server gracefully: it stops accepting messages (later ones are
 * refused with %GEN_SERVER_ERROR_NOT_RUNNING), handles every message queued
 * before the stop, runs `terminate` with a %NULL reason on its own thread,
 * and exits. This waits for all of that and joins the server's thread.
 *
 * When it returns %TRUE, whichever the scheduler, no thread of it holds
 * the server any more: the worker or the context that ran the server's
 * last handler has handed its references to this call, which dropped them.
 * So the caller's last g_object_unref() finalizes the server there and
 * then, on the caller's thread, and an exported server is off D-Bus by
 * the time it returns ([method@Gen.Server.export]). References others took
 * are theirs: a monitor's notice not delivered yet holds the server until
 * its context runs it.
 *
 * Where it may be called from: any thread; from a handler of another
 * server, on the same pool too (the worker counts as blocked, and the pool
 * calls in another if servers wait); and, for a server on a #GMainContext,
 * from the thread that iterates that context, inside a handler of another
 * server of that context too, which runs the server to its end right there
 * instead of waiting for the context. From any other thread, a stop of a
 * server on a #GMainContext that another thread iterates waits for that
 * thread to run the server's end: that thread must not be waiting for the
 * stopper meanwhile.
 *
 * Called from inside one of the server's own handlers, the stop takes
 * effect once the current message is handled: calls still queued are then
 * answered with %GEN_SERVER_ERROR_STOPPED. It returns at once, so the
 * server's thread (or worker, or context) lets go of it only after the
 * handler returned.
 *
 * If the server does not finish within @timeout_ms, this fails with
 * %GEN_SERVER_ERROR_TIMEOUT; the server still stops when it can, and its
 * thread then drops its references itself.
 *
 * ```c
 * gen_server_stop (counter, -1, NULL);  // handles what was queued first
 * g_object_unref (counter);             // the last reference: finalized here
 * ```
 *
 * ```python
 * counter.stop()       # 5 s by default; counter.stop(None) waits as long as it takes
 * ```
 *
 * Returns: %TRUE if the server stopped (or, from inside a handler, will)
 *
 * Since: 1.0
 */
gboolean
gen_server_stop (GenServer  *self,
                 gint        timeout_ms,
                 GError    **error)
{
  GenServerPrivate *priv;
  gint64 deadline;
  guint64 run;
  gboolean blocking;
  GThread *thread = NULL;
  GenStopper stopper = { 0 };

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = gen_server_get_instance_private (self);
  deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  if (server_is_handler_thread (self))
    {
      if (g_atomic_int_get (&priv->status) != GEN_STATUS_RUNNING)
        {
          gen_server_set_not_running_error (self, error);
          return FALSE;
        }
      priv->stop_requested = TRUE;
      gen_mailbox_close (&priv->mailbox, FALSE, FALSE);
      set_status (self, GEN_STATUS_STOPPING);
      return TRUE;
    }

  g_mutex_lock (&priv->lock);
  if (priv->status != GEN_STATUS_RUNNING)
    {
      g_mutex_unlock (&priv->lock);
      gen_server_set_not_running_error (self, error);
      return FALSE;
    }
  /* Closed before anyone can see the server stopping: once
   * is_running() says FALSE, every new message is refused. (Lock order:
   * `lock`, then the mailbox's.) */
  gen_mailbox_close (&priv->mailbox, TRUE, FALSE);
  g_atomic_int_set (&priv->status, GEN_STATUS_STOPPING);
  /* This stop waits for the end of this run, not for the server to be
   * stopped: another thread may start it again meanwhile. The thread that
   * ends the run hands its references to this stop, which drops them
   * below: once it returns, no thread of the scheduler holds the server. */
  g_assert (priv->stopper == NULL);
  priv->stopper = &stopper;
  run = priv->run;
  g_cond_broadcast (&priv->cond);
  g_mutex_unlock (&priv->lock);
  gen_run_notify_status (self);

  priv->kind->drive_stop (self, timeout_ms < 0);

  blocking = gen_spin_block_begin ();
  g_mutex_lock (&priv->lock);
  while (!stopper.handed)
    {
      if (deadline < 0)
        g_cond_wait (&priv->cond, &priv->lock);
      else if (!g_cond_wait_until (&priv->cond, &priv->lock, deadline))
        break;
    }
  if (!stopper.handed)
    {
      /* Still this stop's: only the run's end takes it. The run's thread
       * now drops its references itself. */
      priv->stopper = NULL;
      g_mutex_unlock (&priv->lock);
      if (blocking)
        gen_spin_block_end ();
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                   "%s did not stop within %d ms", server_name (self), timeout_ms);
      return FALSE;
    }
  if (priv->run == run && priv->kind->take_thread != NULL)
    thread = priv->kind->take_thread (self);
  g_mutex_unlock (&priv->lock);

  /* A newer run joined this run's thread when it started. */
  if (thread != NULL)
    g_thread_join (thread);

  if (blocking)
    gen_spin_block_end ();

  /* Not the last: the caller holds one. */
  while (stopper.n_refs-- > 0)
    g_object_unref (self);

  return TRUE;
}

/**
 * gen_server_stop_with_reason:
 * @self: a #GenServer
 * @reason: (nullable): why the server stops: %NULL for a normal stop
 * @timeout_ms: how long to wait for the server to stop, in milliseconds, or
 *   a negative number to wait as long as it takes
 *
 * Stops the server as [method@Gen.Server.stop] does, with @reason: the
 * server's `terminate` gets it, and so do its monitors
 * ([method@Gen.Server.monitor]). A %NULL @reason is a normal stop, exactly
 * [method@Gen.Server.stop]. An error is an abnormal stop, which counts as a
 * crash: it is logged as one, and a [class@Gen.Supervisor] restarts a
 * transient child that stopped so.
 *
 * From inside one of the server's own handlers, this is how a handler
 * stops its server with an error while, unlike returning one, answering
 * its caller first: the stop takes effect after the current message, calls
 * still queued are answered with %GEN_SERVER_ERROR_STOPPED, and this
 * returns at once. From another thread, the messages queued before the stop
 * are handled first, as with [method@Gen.Server.stop]; if the server
 * crashes meanwhile, the crash is the reason.
 *
 * Returns: %TRUE if the server stopped (or, from inside a handler, will)
 *
 * Since: 1.0
 */
gboolean
gen_server_stop_with_reason (GenServer     *self,
                             const GError  *reason,
                             gint           timeout_ms,
                             GError       **error)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = gen_server_get_instance_private (self);

  if (reason == NULL)
    return gen_server_stop (self, timeout_ms, error);

  if (server_is_handler_thread (self))
    {
      if (g_atomic_int_get (&priv->status) != GEN_STATUS_RUNNING)
        {
          gen_server_set_not_running_error (self, error);
          return FALSE;
        }
      gen_run_note_crash (self, g_error_copy (reason));
      gen_mailbox_close (&priv->mailbox, FALSE, FALSE);
      set_status (self, GEN_STATUS_STOPPING);
      return TRUE;
    }

  if (!gen_server_is_running (self))
    {
      gen_server_set_not_running_error (self, error);
      return FALSE;
    }

  /* Read by gen_run_finish(), which clears it whatever the outcome. */
  gen_monitor_set_stop_reason (self, reason);
  return gen_server_stop (self, timeout_ms, error);
}

gboolean
gen_server_wait_stopped (GenServer *self,
                         gint       timeout_ms)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  gint64 deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean blocking;
  gboolean stopped;

  g_assert (!server_is_handler_thread (self));

  blocking = gen_spin_block_begin ();
  g_mutex_lock (&priv->lock);
  while (priv->status != GEN_STATUS_STOPPED)
    {
      if (deadline < 0)
        g_cond_wait (&priv->cond, &priv->lock);
      else if (!g_cond_wait_until (&priv->cond, &priv->lock, deadline))
        break;
    }
  stopped = priv->status == GEN_STATUS_STOPPED;
  g_mutex_unlock (&priv->lock);
  if (blocking)
    gen_spin_block_end ();

  return stopped;
}

/**
 * gen_server_is_running:
 * @self: a #GenServer
 *
 * Whether the server is running: started, `init` succeeded, and not
 * stopping or stopped. From any thread; the answer may be stale by the time
 * you read it.
 *
 * Returns: %TRUE if the server is running
 *
 * Since: 1.0
 */
gboolean
gen_server_is_running (GenServer *self)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);

  priv = gen_server_get_instance_private (self);
  return g_atomic_int_get (&priv->status) == GEN_STATUS_RUNNING;
}


gboolean
gen_server_would_call_self (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  if (server_is_handler_thread (self))
    return TRUE;

  /* kind is NULL only if constructed() did not chain up (see start). */
  return priv->kind != NULL && priv->kind->would_call_self != NULL &&
         priv->kind->would_call_self (self);
}

/**
 * gen_server_get_mailbox_length:
 * @self: a #GenServer
 *
 * Gets how many messages wait in the server's mailbox, not counting the one
 * being handled. A snapshot, from any thread: it may be stale by the time
 * you read it.
 *
 * Returns: the number of queued messages
 *
 * Since: 1.0
 */
guint
gen_server_get_mailbox_length (GenServer *self)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), 0);

  priv = gen_server_get_instance_private (self);
  return MAX (0, gen_mailbox_length (&priv->mailbox));
}

/**
 * gen_server_get_mailbox_capacity:
 * @self: a #GenServer
 *
 * Gets the [property@Gen.Server:mailbox-capacity].
 *
 * Returns: how many casts and calls may wait in the mailbox, or 0 for no
 *   bound
 *
 * Since: 1.0
 */
guint
gen_server_get_mailbox_capacity (GenServer *self)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), 0);

  priv = gen_server_get_instance_private (self);
  return priv->mailbox.capacity;
}

/**
 * gen_server_get_mailbox_policy:
 * @self: a #GenServer
 *
 * Gets the [property@Gen.Server:mailbox-policy].
 *
 * Returns: what happens to a message that finds the mailbox full
 *
 * Since: 1.0
 */
GenMailboxPolicy
gen_server_get_mailbox_policy (GenServer *self)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), GEN_MAILBOX_POLICY_FAIL);

  priv = gen_server_get_instance_private (self);
  return priv->mailbox_policy;
}

/**
 * gen_server_get_idle_timeout:
 * @self: a #GenServer
 *
 * Gets the [property@Gen.Server:idle-timeout].
 *
 * Returns: the idle timeout in milliseconds, or -1 if there is none
 *
 * Since: 1.0
 */
gint
gen_server_get_idle_timeout (GenServer *self)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), -1);

  priv = gen_server_get_private (self);
  return g_atomic_int_get (&priv->idle_timeout_ms);
}

/**
 * gen_server_set_idle_timeout:
 * @self: a #GenServer
 * @timeout_ms: the idle timeout in milliseconds, or -1 for none
 *
 * Sets the [property@Gen.Server:idle-timeout]. From the server's own
 * handlers it applies as soon as the handler returns; from another thread,
 * a server with a thread of its own applies it when its next message comes.
 *
 * Since: 1.0
 */
void
gen_server_set_idle_timeout (GenServer *self,
                             gint       timeout_ms)
{
  GenServerPrivate *priv;

  g_return_if_fail (GEN_IS_SERVER (self));
  g_return_if_fail (timeout_ms >= -1);

  priv = gen_server_get_private (self);
  if (g_atomic_int_get (&priv->idle_timeout_ms) == timeout_ms)
    return;
  g_atomic_int_set (&priv->idle_timeout_ms, timeout_ms);

  /* A server on a context or a pool re-arms its deadline at its next turn,
   * which this causes; a thread of its own, once it next wakes. */
  if (!gen_server_is_handler_thread (self))
    gen_mailbox_poke (&priv->mailbox);

  g_object_notify (G_OBJECT (self), "idle-timeout");
}

/**
 * gen_server_get_cast_type:
 * @self: a #GenServer
 *
 * Gets the type that cast messages must have, from
 * [property@Gen.Server:cast-type] or the class default.
 *
 * Returns: (nullable): the type string, or %NULL if any type is accepted
 *
 * Since: 1.0
 */
const gchar *
gen_server_get_cast_type (GenServer *self)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);

  priv = gen_server_get_instance_private (self);
  return priv->cast_type ? g_variant_type_peek_string (priv->cast_type) : NULL;
}

/**
 * gen_server_get_call_type:
 * @self: a #GenServer
 *
 * Gets the type that call requests must have, from
 * [property@Gen.Server:call-type] or the class default.
 *
 * Returns: (nullable): the type string, or %NULL if any type is accepted
 *
 * Since: 1.0
 */
const gchar *
gen_server_get_call_type (GenServer *self)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);

  priv = gen_server_get_instance_private (self);
  return priv->call_type ? g_variant_type_peek_string (priv->call_type) : NULL;
}

/**
 * gen_server_get_main_context:
 * @self: a #GenServer
 *
 * Gets the context whose thread runs the server's handlers, if any.
 *
 * Returns: (nullable) (transfer none): the [property@Gen.Server:main-context]
 *
 * Since: 1.0
 */
GMainContext *
gen_server_get_main_context (GenServer *self)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);

  priv = gen_server_get_instance_private (self);
  return priv->main_context;
}

/**
 * gen_server_get_scheduler:
 * @self: a #GenServer
 *
 * Gets the pool that runs the server's handlers, if any.
 *
 * Returns: (nullable) (transfer none): the [property@Gen.Server:scheduler]
 *
 * Since: 1.0
 */
GenScheduler *
gen_server_get_scheduler (GenServer *self)
{
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);

  priv = gen_server_get_instance_private (self);
  return priv->scheduler;
}

static void
class_set_type (GenServerClass *klass,
                GQuark          quark,
                const gchar    *type_string)
{
  GType type = G_TYPE_FROM_CLASS (klass);

  g_free (g_type_get_qdata (type, quark));
  g_type_set_qdata (type, quark, g_strdup (type_string));
}

/**
 * gen_server_class_set_cast_type:
 * @klass: a #GenServerClass
 * @type_string: (nullable): a [struct@GLib.VariantType] string, or %NULL
 *   for any type
 *
 * Sets the default [property@Gen.Server:cast-type] of the servers of
 * @klass and its subclasses. Call it from `class_init`.
 *
 * Since: 1.0
 */
void
gen_server_class_set_cast_type (GenServerClass *klass,
                                const gchar    *type_string)
{
  g_return_if_fail (GEN_IS_SERVER_CLASS (klass));
  g_return_if_fail (type_string == NULL || g_variant_type_string_is_valid (type_string));

  class_set_type (klass, class_cast_type_quark (), type_string);
}

/**
 * gen_server_class_set_call_type:
 * @klass: a #GenServerClass
 * @type_string: (nullable): a [struct@GLib.VariantType] string, or %NULL
 *   for any type
 *
 * Sets the default [property@Gen.Server:call-type] of the servers of
 * @klass and its subclasses. Call it from `class_init`.
 *
 * Since: 1.0
 */
void
gen_server_class_set_call_type (GenServerClass *klass,
                                const gchar    *type_string)
{
  g_return_if_fail (GEN_IS_SERVER_CLASS (klass));
  g_return_if_fail (type_string == NULL || g_variant_type_string_is_valid (type_string));

  class_set_type (klass, class_call_type_quark (), type_string);
}

/* GObject ---------------------------------------------------------------- */

static void
gen_server_real_init (GenServer  *self,
                      GVariant   *args,
                      GError    **error)
{
}

static void
gen_server_real_handle_cast (GenServer  *self,
                             GVariant   *message,
                             GError    **error)
{
  g_autofree gchar *text = g_variant_print (message, TRUE);

  g_debug ("%s does not handle casts; dropped %s", server_name (self), text);
}

static GVariant *
gen_server_real_handle_call (GenServer  *self,
                             GVariant   *message,
                             GError    **error)
{
  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
               "%s does not handle calls", server_name (self));
  return NULL;
}

static void
gen_server_real_handle_info (GenServer  *self,
                             GVariant   *message,
                             GError    **error)
{
  g_autofree gchar *text = g_variant_print (message, TRUE);

  g_debug ("%s does not handle info messages; dropped %s", server_name (self), text);
}

static void
gen_server_real_terminate (GenServer    *self,
                           const GError *reason)
{
}

static void
gen_server_real_handle_continue (GenServer  *self,
                                 GVariant   *message,
                                 GError    **error)
{
  g_autofree gchar *text = g_variant_print (message, TRUE);

  g_debug ("%s does not handle continues; dropped %s", server_name (self), text);
}

/* Sets *@type from @type_string (NULL: the class default), remembering an
 * invalid string to report from start(). */
static void
set_message_type (GenServer           *self,
                  const GVariantType **type,
                  const gchar         *property,
                  const gchar         *type_string)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  *type = NULL;
  if (type_string == NULL)
    return;

  if (!g_variant_type_string_is_valid (type_string))
    {
      g_warning ("%s: “%s” is not a valid GVariant type string for %s",
                 server_name (self), type_string, property);
      if (priv->construct_error == NULL)
        priv->construct_error = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_TYPE,
                                             "%s: “%s” is not a valid GVariant type string for %s",
                                             server_name (self), type_string, property);
      return;
    }

  *type = G_VARIANT_TYPE (g_intern_string (type_string));
}

static const gchar *
class_type_lookup (GType  type,
                   GQuark quark)
{
  for (; type != 0; type = g_type_parent (type))
    {
      const gchar *type_string = g_type_get_qdata (type, quark);

      if (type_string != NULL)
        return type_string;
    }
  return NULL;
}

/* GEN_SCHEDULER, read once: the environment of a process that runs. */
static gboolean
environment_wants_pool (void)
{
  static gsize wants_pool; /* 1 + the answer, once read */

  if (g_once_init_enter (&wants_pool))
    g_once_init_leave (&wants_pool, 1 + (g_strcmp0 (g_getenv ("GEN_SCHEDULER"), "pool") == 0));

  return wants_pool - 1;
}

static void
gen_server_constructed (GObject *object)
{
  GenServer *self = GEN_SERVER (object);
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  G_OBJECT_CLASS (gen_server_parent_class)->constructed (object);

  if (priv->cast_type == NULL)
    set_message_type (self, &priv->cast_type, "cast-type",
                      class_type_lookup (G_OBJECT_TYPE (self), class_cast_type_quark ()));
  if (priv->call_type == NULL)
    set_message_type (self, &priv->call_type, "call-type",
                      class_type_lookup (G_OBJECT_TYPE (self), class_call_type_quark ()));

  if (priv->main_context != NULL && priv->scheduler != NULL)
    {
      g_critical ("%s: a server runs either on a main context or on a scheduler, "
                  "not both; the main context wins", server_name (self));
      g_clear_object (&priv->scheduler);
    }

  /* GEN_SCHEDULER=pool puts every server that chose neither on the
   * default pool: to try a program, or a test suite, on the pool. */
  if (priv->main_context == NULL && priv->scheduler == NULL && environment_wants_pool ())
    priv->scheduler = g_object_ref (gen_scheduler_get_default ());

  if (priv->main_context != NULL)
    priv->kind = &gen_main_scheduler_kind;
  else if (priv->scheduler != NULL)
    priv->kind = &gen_pool_scheduler_kind;
  else
    priv->kind = &gen_thread_scheduler_kind;
  priv->kind->init (self);

  gen_live_track (self, &priv->live);
}

static void
gen_server_dispose (GObject *object)
{
  GenServerPrivate *priv = gen_server_get_instance_private (GEN_SERVER (object));

  /* Before the last reference can go: see gen-live.c. */
  gen_live_untrack (&priv->live);

  G_OBJECT_CLASS (gen_server_parent_class)->dispose (object);
}

static void
gen_server_finalize (GObject *object)
{
  GenServer *self = GEN_SERVER (object);
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  /* A running server holds a reference to itself. */
  g_assert (priv->status == GEN_STATUS_STOPPED);
  g_assert (priv->idle_source == NULL);

  /* Still listed: a subclass's dispose did not chain up. Out of the list
   * late rather than never (its weak reference is clear: no lister can
   * take it meanwhile). */
  if (G_UNLIKELY (priv->live.id != 0))
    {
      g_critical ("%s overrides GObject’s dispose() without chaining up; "
                  "call G_OBJECT_CLASS (parent_class)->dispose (object) from it",
                  G_OBJECT_TYPE_NAME (self));
      gen_live_untrack (&priv->live);
    }

  /* NULL only if constructed() did not chain up (see start). */
  if (priv->kind != NULL)
    priv->kind->finalize (self);

  g_clear_pointer (&priv->main_context, g_main_context_unref);
  g_clear_object (&priv->scheduler);
  g_clear_pointer (&priv->timer_service, gen_timer_service_unref);
  g_clear_error (&priv->construct_error);
  g_clear_error (&priv->crash_reason);
  g_clear_pointer (&priv->crash_message, g_variant_unref);
  g_clear_pointer (&priv->last_crash, g_free);
  gen_run_clear_notify (self);
  g_clear_pointer (&priv->notify_context, g_main_context_unref);
  g_assert (g_queue_is_empty (&priv->system_queue));
  gen_timer_table_clear (&priv->timers);
  gen_mailbox_clear (&priv->mailbox);
  g_mutex_clear (&priv->lock);
  g_cond_clear (&priv->cond);

  G_OBJECT_CLASS (gen_server_parent_class)->finalize (object);
}

static void
gen_server_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  GenServer *self = GEN_SERVER (object);

  switch (prop_id)
    {
    case PROP_CAST_TYPE:
      g_value_set_string (value, gen_server_get_cast_type (self));
      break;
    case PROP_CALL_TYPE:
      g_value_set_string (value, gen_server_get_call_type (self));
      break;
    case PROP_MAIN_CONTEXT:
      g_value_set_boxed (value, gen_server_get_main_context (self));
      break;
    case PROP_SCHEDULER:
      g_value_set_object (value, gen_server_get_scheduler (self));
      break;
    case PROP_MAILBOX_CAPACITY:
      g_value_set_uint (value, gen_server_get_mailbox_capacity (self));
      break;
    case PROP_MAILBOX_POLICY:
      g_value_set_enum (value, gen_server_get_mailbox_policy (self));
      break;
    case PROP_IDLE_TIMEOUT:
      g_value_set_int (value, gen_server_get_idle_timeout (self));
      break;
    case PROP_RUN_STATUS:
      g_value_set_string (value, gen_run_status_name (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_server_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  GenServer *self = GEN_SERVER (object);
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  switch (prop_id)
    {
    case PROP_CAST_TYPE:
      set_message_type (self, &priv->cast_type, "cast-type", g_value_get_string (value));
      break;
    case PROP_CALL_TYPE:
      set_message_type (self, &priv->call_type, "call-type", g_value_get_string (value));
      break;
    case PROP_MAIN_CONTEXT:
      priv->main_context = g_value_dup_boxed (value);
      break;
    case PROP_SCHEDULER:
      priv->scheduler = g_value_dup_object (value);
      break;
    case PROP_MAILBOX_CAPACITY:
      gen_mailbox_set_capacity (&priv->mailbox, g_value_get_uint (value));
      break;
    case PROP_MAILBOX_POLICY:
      priv->mailbox_policy = g_value_get_enum (value);
      break;
    case PROP_IDLE_TIMEOUT:
      gen_server_set_idle_timeout (self, g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_server_class_init (GenServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = gen_server_constructed;
  object_class->dispose = gen_server_dispose;
  object_class->finalize = gen_server_finalize;
  object_class->get_property = gen_server_get_property;
  object_class->set_property = gen_server_set_property;

  klass->init = gen_server_real_init;
  klass->handle_cast = gen_server_real_handle_cast;
  klass->handle_call = gen_server_real_handle_call;
  klass->handle_info = gen_server_real_handle_info;
  klass->terminate = gen_server_real_terminate;
  klass->handle_continue = gen_server_real_handle_continue;

  /**
   * GenServer:cast-type:
   *
   * The [struct@GLib.VariantType] string that every cast message must
   * match, or %NULL to accept any type. A message of another type is
   * refused in the caller with %GEN_SERVER_ERROR_INVALID_MESSAGE; the
   * handler never sees it. When unset, the class default from
   * [method@Gen.ServerClass.set_cast_type] applies.
   *
   * An invalid type string is reported with a warning at construction, and
   * [method@Gen.Server.start] then fails with %GEN_SERVER_ERROR_INVALID_TYPE.
   *
   * Since: 1.0
   */
  properties[PROP_CAST_TYPE] =
    g_param_spec_string ("cast-type", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * GenServer:call-type:
   *
   * The [struct@GLib.VariantType] string that every call request must
   * match, or %NULL to accept any type; see [property@Gen.Server:cast-type].
   *
   * Since: 1.0
   */
  properties[PROP_CALL_TYPE] =
    g_param_spec_string ("call-type", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * GenServer:main-context:
   *
   * The [struct@GLib.MainContext] whose thread runs the server's handlers,
   * or %NULL for a thread of the server's own.
   *
   * With a context, the mailbox is drained by a [struct@GLib.Source]
   * attached to it: handlers run on whichever thread iterates the context,
   * such as a GTK application's main thread or the JavaScript thread of
   * GJS. A synchronous [method@Gen.Server.call] from that thread fails with
   * %GEN_SERVER_ERROR_CALLING_SELF; use [method@Gen.Server.call_async].
   *
   * Since: 1.0
   */
  properties[PROP_MAIN_CONTEXT] =
    g_param_spec_boxed ("main-context", NULL, NULL,
                        G_TYPE_MAIN_CONTEXT,
                        (G_PARAM_READWRITE |
                         G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS));

  /**
   * GenServer:scheduler:
   *
   * The [class@Gen.Scheduler], a pool of worker threads, that runs the
   * server's handlers, or %NULL for a thread of the server's own (unless
   * [property@Gen.Server:main-context] is set). Servers on a pool cost no
   * thread each; see [class@Gen.Scheduler] for what runs where and what a
   * handler may block on.
   *
   * When unset, the environment variable `GEN_SCHEDULER=pool` puts the
   * server on the default pool ([func@Gen.Scheduler.get_default]), which
   * is a way to try a whole program, or a test suite, on the pool.
   *
   * ```c
   * GenServer *server = g_object_new (MY_TYPE_SERVER,
   *                                   "scheduler", gen_scheduler_get_default (),
   *                                   NULL);
   * ```
   *
   * Since: 1.0
   */
  properties[PROP_SCHEDULER] =
    g_param_spec_object ("scheduler", NULL, NULL,
                         GEN_TYPE_SCHEDULER,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * GenServer:mailbox-capacity:
   *
   * How many casts and calls may wait in the mailbox, not counting the one
   * being handled; 0, the default, sets no bound. What happens to one more
   * is the [property@Gen.Server:mailbox-policy].
   *
   * Only what clients send is bounded. Stops, timers
   * ([method@Gen.Server.send_after]), info messages (monitor notices and a
   * supervisor's child exits among them) and replies are never refused, so
   * that a flooded server can still be stopped, supervised and told.
   *
   * ```c
   * GenServer *sink = g_object_new (MY_TYPE_SINK,
   *                                 "mailbox-capacity", 1000,
   *                                 "mailbox-policy", GEN_MAILBOX_POLICY_BLOCK,
   *                                 NULL);
   * ```
   *
   * Since: 1.0
   */
  properties[PROP_MAILBOX_CAPACITY] =
    g_param_spec_uint ("mailbox-capacity", NULL, NULL,
                       0, G_MAXINT, 0,
                       (G_PARAM_READWRITE |
                        G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /**
   * GenServer:mailbox-policy:
   *
   * What happens to a cast or a call that finds the bounded mailbox full:
   * %GEN_MAILBOX_POLICY_FAIL, the default, refuses it at once with
   * %GEN_SERVER_ERROR_MAILBOX_FULL; %GEN_MAILBOX_POLICY_BLOCK makes the
   * sender wait for room, a call within its own timeout. An asynchronous
   * call never waits: it fails with %GEN_SERVER_ERROR_MAILBOX_FULL. Neither
   * waits when the sender is the thread that runs the server's handlers,
   * which would wait for itself.
   *
   * Since: 1.0
   */
  properties[PROP_MAILBOX_POLICY] =
    g_param_spec_enum ("mailbox-policy", NULL, NULL,
                       GEN_TYPE_MAILBOX_POLICY, GEN_MAILBOX_POLICY_FAIL,
                       (G_PARAM_READWRITE |
                        G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /**
   * GenServer:idle-timeout:
   *
   * After this many milliseconds without a message, `handle_info` gets the
   * idle timeout message (see [func@Gen.Server.is_idle_timeout]), once per
   * quiet stretch: it fires again only after another message came and
   * another quiet stretch passed. -1, the default, turns it off. Erlang's
   * gen_server timeout, for a server that wants to flush, hibernate or stop
   * when nothing happens.
   *
   * Since: 1.0
   */
  properties[PROP_IDLE_TIMEOUT] =
    g_param_spec_int ("idle-timeout", NULL, NULL,
                      -1, G_MAXINT, -1,
                      (G_PARAM_READWRITE |
                       G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS));

  /**
   * GenServer:run-status:
   *
   * Where the server is in its life, as [method@Gen.Server.get_run_status]
   * tells it: for a GTK application to show, bound or watched, with no
   * threading code of its own. Its notifications are emitted on the
   * thread-default [struct@GLib.MainContext] of the thread that made the
   * server (GTK's main context, for a server made on the main thread),
   * from a source attached there, whichever thread the change happened on.
   * Changes close together may come as one notification; the value read
   * then is the latest.
   *
   * ```c
   * g_object_bind_property (server, "run-status", label, "label", G_BINDING_SYNC_CREATE);
   * ```
   *
   * Since: 1.0
   */
  properties[PROP_RUN_STATUS] =
    g_param_spec_string ("run-status", NULL, NULL,
                         "stopped",
                         (G_PARAM_READABLE |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
  gen_run_status_pspec = properties[PROP_RUN_STATUS];
}

static void
gen_server_init (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  gen_mailbox_init (&priv->mailbox, gen_run_drop_item);
  gen_timer_table_init (&priv->timers);
  priv->idle_timeout_ms = -1;
  g_queue_init (&priv->continues);
  g_queue_init (&priv->system_queue);
  g_mutex_init (&priv->lock);
  g_cond_init (&priv->cond);
  priv->status = GEN_STATUS_STOPPED;
  priv->notify_context = g_main_context_ref_thread_default ();
}
