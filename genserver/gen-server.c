/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-enums.h"
#include "gen-server-private.h"

/**
 * GenServer:
 *
 * A server that owns its state and changes it only by handling messages,
 * one at a time, on its own thread.
 *
 * `GenServer` is Erlang/OTP's `gen_server` for GLib. Subclass it, keep the
 * state in the instance, and override the handlers of [struct@Gen.ServerClass]:
 * `init` sets the state up, `handle_cast` handles fire-and-forget messages,
 * `handle_call` answers requests, `handle_info` gets everything else and
 * `terminate` cleans up. Messages are [struct@GLib.Variant]s.
 *
 * Callers talk to a server with [method@Gen.Server.cast] (never waits for the
 * handler) and [method@Gen.Server.call] (waits for the reply, with a timeout),
 * or [method@Gen.Server.call_async] from a main loop. The server's mailbox is
 * a [struct@GLib.AsyncQueue], served by a [struct@GLib.Thread] of its own or,
 * when [property@Gen.Server:main-context] is set, by a [struct@GLib.Source]
 * attached to that context.
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

/* Mailbox items are tagged pointers, so that a cast costs no allocation
 * beyond its message: the two low bits (free in any GVariant, GenCall or
 * Envelope, which malloc aligns to at least 8 bytes) say what the pointer
 * is. The mailbox owns one reference to whatever an item points to.
 */
typedef enum
{
  ITEM_CAST = 0,     /* GVariant *: the message */
  ITEM_CALL = 1,     /* GenCall *: message, reply slot and caller */
  ITEM_INFO = 2,     /* GVariant *: the message */
  ITEM_ENVELOPE = 3, /* Envelope *: the rare rest */
} ItemKind;

#define ITEM_KIND(item)     ((ItemKind) (GPOINTER_TO_SIZE (item) & 3))
#define ITEM_POINTER(item)  ((gpointer) (GPOINTER_TO_SIZE (item) & ~(gsize) 3))
#define ITEM_MAKE(p, kind)  ((gpointer) (GPOINTER_TO_SIZE (p) | (kind)))
#define ITEM_STOP_MARKER    ITEM_MAKE (&stop_envelope, ITEM_ENVELOPE)

typedef enum
{
  ENVELOPE_STOP,  /* static: handle what came before, then stop */
  ENVELOPE_TIMER, /* a Timer that fired */
} EnvelopeKind;

/* The first member of every structure an ITEM_ENVELOPE points to. */
typedef struct
{
  EnvelopeKind kind;
} Envelope;

static Envelope stop_envelope = { ENVELOPE_STOP };

/* A timer from gen_server_send_after(). Its source runs on the timer
 * thread; the server's `lock` protects `state` and the server's table of
 * timers, so that a cancelled timer's message is never handled. */
typedef enum
{
  TIMER_PENDING,   /* its source has not fired */
  TIMER_QUEUED,    /* fired: the message is in the mailbox */
  TIMER_DONE,      /* handled or cancelled */
} TimerState;

typedef struct
{
  Envelope envelope;  /* ENVELOPE_TIMER */
  gint ref_count;     /* atomic */
  guint id;           /* immutable */
  GenServer *server;  /* owned while the timer is in the table; immutable */
  GVariant *message;  /* owned; immutable */
  GSource *source;    /* owned; immutable */
  TimerState state;   /* server's lock */
} Timer;

/* How many items the server takes from the mailbox under one lock. */
#define BATCH_SIZE 64

/*
 * A call's reply slot. The caller and the server each hold a reference.
 *
 * `state` moves PENDING → RUNNING → ANSWERING → ANSWERED on the server side,
 * or from PENDING or RUNNING to ABANDONED when the caller gives up (timeout,
 * cancellation). The compare-and-exchange on `state` decides who wins, so a
 * call is answered exactly once and a call abandoned while queued never runs.
 */
typedef enum
{
  CALL_PENDING,   /* in the mailbox */
  CALL_RUNNING,   /* handle_call has it */
  CALL_ANSWERING, /* the server won: it is storing the reply */
  CALL_ANSWERED,  /* final: reply or error stored */
  CALL_ABANDONED, /* final: the caller gave up; a late reply is dropped */
} CallState;

struct _GenCall
{
  gint ref_count;  /* atomic */
  gint state;      /* atomic, CallState */

  GVariant *message; /* owned; immutable */

  /* Written by the server thread between ANSWERING and ANSWERED, read by the
   * caller only after it saw ANSWERED. Owned. */
  GVariant *reply;
  GError *error;

  /* Written by the thread that moved `state` to ABANDONED, read only by the
   * completion of an async call afterwards. Owned. */
  GError *abandon_error;

  /* Sync callers sleep here once they stop spinning. `sleeping` is atomic,
   * set under `mutex` before the caller's last look at `state`; the server
   * looks at it after making `state` final, and takes `mutex` to signal
   * `cond` only when somebody sleeps. A spinning caller costs the server
   * neither a lock nor a futex system call. */
  GMutex mutex;
  GCond cond;
  gint sleeping;

  /* Async callers only. `task` is set before the call is queued and cleared
   * by the completion, on the task's context. `timeout_source` and
   * `cancelled_id` are set up before the call is queued and torn down by the
   * completion, both under `mutex`: the completion may run on another thread
   * (whichever runs the task's context) as soon as the timeout, the
   * cancellable or the server makes the call final. Owned. */
  GTask *task;
  GSource *timeout_source;
  gulong cancelled_id;
  gint timeout_ms;
};

typedef enum
{
  STATUS_STOPPED,
  STATUS_STARTING,
  STATUS_RUNNING,
  STATUS_STOPPING,
} Status;

typedef struct
{
  /* Construct-only; read-only afterwards, from any thread. Owned. */
  GVariantType *cast_type;
  GVariantType *call_type;
  GMainContext *main_context;
  GError *construct_error; /* an invalid type string, reported by start */

  /* Owned; lives as long as the server. Its own lock protects `accepting`
   * and `mailbox_source`, so that "is the server accepting?" and "queue the
   * message" are one step: no message can slip in after the stop marker. */
  GAsyncQueue *mailbox;
  gboolean accepting;
  GSource *mailbox_source; /* main-context mode: owned ref, woken on push */

  /* Atomic; bumped under the mailbox's lock after every push. A server
   * waiting for work spins on it rather than on the lock, which would make
   * every pusher that meets the lock held sleep in the kernel. */
  gint pushes;

  /* An idle server thread sleeps on `idle_cond` until `pushes` moves, with
   * `idle` (atomic) set; the first pusher to see `idle` clears it and
   * signals, under `idle_lock`. */
  GMutex idle_lock;
  GCond idle_cond;
  gint idle;

  /* `lock` protects `status` (also read atomically by is_running) and
   * `thread`; `cond` is broadcast whenever `status` changes. */
  GMutex lock;
  GCond cond;
  gint status;     /* Status */
  GThread *thread; /* owned: the server thread, running or not yet joined */

  /* The thread running the server's handlers right now, or NULL. Atomic:
   * other threads read it to refuse calling self. */
  GThread *handler_thread;

  /* Main-context mode: the thread that last ran the handlers (unowned, only
   * compared). Atomic. A sync call from it while nobody runs the context
   * would wait for itself. */
  GThread *context_thread;

  /* `lock` also protects the timers: id → Timer (owned). */
  GHashTable *timers;

  /* Milliseconds without a message before handle_info gets the idle
   * timeout, or -1. Atomic: set from any thread. */
  gint idle_timeout_ms;

  /* Only touched by the thread running the handlers. */
  gboolean stop_requested; /* stop() from inside a handler */
  GError *crash_reason;    /* owned */
  GQueue continues;        /* GVariant * (owned) from gen_server_continue() */
  GenCall *current_call;   /* unowned: the call handle_call is handling */
  gboolean reply_taken;    /* gen_server_take_reply() took its handle */
  gint64 last_activity;    /* monotonic µs of the last handled message */
  gboolean idle_fired;     /* the idle timeout fired since that message */
} GenServerPrivate;

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
GQuark
gen_server_error_quark (void)
{
  static gint quark; /* atomic, GQuark */
  GQuark result = (GQuark) g_atomic_int_get (&quark);

  if (G_UNLIKELY (result == 0))
    {
      result = g_quark_from_static_string ("gen-server-error-quark");
      g_atomic_int_set (&quark, (gint) result);
    }
  return result;
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
  PROP_IDLE_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void server_finish (GenServer *self,
                           gpointer  *leftover,
                           guint      n_leftover);

/* Spinning budget ------------------------------------------------------- */

static gint spinners;

gboolean
gen_spin_begin (void)
{
  static gsize max_spinners;

  if (g_once_init_enter (&max_spinners))
    g_once_init_leave (&max_spinners, MAX (1, g_get_num_processors ()));

  if ((gsize) g_atomic_int_add (&spinners, 1) >= max_spinners)
    {
      g_atomic_int_dec_and_test (&spinners);
      return FALSE;
    }
  return TRUE;
}

void
gen_spin_end (void)
{
  g_atomic_int_dec_and_test (&spinners);
}

/* The busy part of this thread's next wait, in µs, at most
 * GEN_SPIN_PAUSE_NS. Halved whenever a busy spin ends without what it waited
 * for (the other side is most likely not running, often because it shares
 * this processor, and yielding is what lets it run), doubled back whenever
 * one succeeds. */
static _Thread_local gint spin_pause_us = GEN_SPIN_PAUSE_NS / 1000;

static void
spin_pause_adapt (gboolean succeeded)
{
  if (succeeded)
    spin_pause_us = MIN (spin_pause_us * 2, GEN_SPIN_PAUSE_NS / 1000);
  else
    spin_pause_us = MAX (spin_pause_us / 2, 1);
}

/* Callers spin in a budget of their own, one processor short of the
 * machine, so that however many callers wait, one processor is left for the
 * servers that will answer them; the others yield (see call_wait). */
static gint caller_spinners;

static gboolean
caller_spin_begin (void)
{
  static gsize max_caller_spinners;

  if (g_once_init_enter (&max_caller_spinners))
    g_once_init_leave (&max_caller_spinners, MAX (1, g_get_num_processors () - 1));

  if ((gsize) g_atomic_int_add (&caller_spinners, 1) >= max_caller_spinners)
    {
      g_atomic_int_dec_and_test (&caller_spinners);
      return FALSE;
    }
  if (!gen_spin_begin ())
    {
      g_atomic_int_dec_and_test (&caller_spinners);
      return FALSE;
    }
  return TRUE;
}

static void
caller_spin_end (void)
{
  gen_spin_end ();
  g_atomic_int_dec_and_test (&caller_spinners);
}

/* Calls ----------------------------------------------------------------- */

static GenCall *
gen_call_new (GVariant *message)
{
  GenCall *call = g_new0 (GenCall, 1);

  call->ref_count = 1;
  call->state = CALL_PENDING;
  call->message = g_variant_ref (message);
  g_mutex_init (&call->mutex);
  g_cond_init (&call->cond);
  return call;
}

static GenCall *
gen_call_ref (GenCall *call)
{
  g_atomic_int_inc (&call->ref_count);
  return call;
}

static void
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
call_state_is_final (gint state)
{
  return state == CALL_ANSWERED || state == CALL_ABANDONED;
}

static void call_schedule_completion (GenCall *call);

static void
call_wake (GenCall *call)
{
  if (call->task != NULL)
    {
      call_schedule_completion (call);
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

/* Answers @call with @reply or @error (both owned, one of them set), unless
 * its caller already gave up, in which case they are dropped. */
static void
call_answer (GenCall  *call,
             GVariant *reply,
             GError   *error)
{
  g_assert ((reply == NULL) != (error == NULL));

  if (!g_atomic_int_compare_and_exchange (&call->state, CALL_RUNNING, CALL_ANSWERING) &&
      !g_atomic_int_compare_and_exchange (&call->state, CALL_PENDING, CALL_ANSWERING))
    {
      g_assert (g_atomic_int_get (&call->state) == CALL_ABANDONED);
      g_clear_pointer (&reply, g_variant_unref);
      g_clear_error (&error);
      return;
    }

  call->reply = reply;
  call->error = error;
  g_atomic_int_set (&call->state, CALL_ANSWERED);
  call_wake (call);
}

/* Gives up on @call for its caller. Returns FALSE if the server answered
 * first (or is storing its answer right now). */
static gboolean
call_abandon (GenCall *call,
              GError  *reason)
{
  if (!g_atomic_int_compare_and_exchange (&call->state, CALL_PENDING, CALL_ABANDONED) &&
      !g_atomic_int_compare_and_exchange (&call->state, CALL_RUNNING, CALL_ABANDONED))
    {
      g_clear_error (&reason);
      return FALSE;
    }

  call->abandon_error = reason;
  return TRUE;
}

/* Waits until @call is final or @deadline (monotonic µs, -1 for none)
 * passes. Returns whether it is final. */
static gboolean
call_wait (GenCall *call,
           gint64   deadline)
{
  gint64 spin_until;
  gboolean final = FALSE;

  if (call_state_is_final (g_atomic_int_get (&call->state)))
    return TRUE;

  spin_until = g_get_monotonic_time () + GEN_SPIN_NS / 1000;
  if (deadline >= 0)
    spin_until = MIN (spin_until, deadline);

  if (caller_spin_begin ())
    {
      gint64 pause_until = MIN (spin_until, g_get_monotonic_time () + spin_pause_us);

      do
        {
          for (guint i = 0; i < 64 && !final; i++)
            {
              gen_cpu_relax ();
              final = call_state_is_final (g_atomic_int_get (&call->state));
            }
        }
      while (!final && g_get_monotonic_time () < pause_until);

      caller_spin_end ();
      spin_pause_adapt (final);
    }

  /* No answer yet, or no spinning slot: more threads wait than there are
   * processors, or the server shares this one. Yielding hands it the
   * processor, and an answer found on return costs the server no wake-up. */
  while (!final && g_get_monotonic_time () < spin_until)
    {
      g_thread_yield ();
      final = call_state_is_final (g_atomic_int_get (&call->state));
    }

  if (final)
    return TRUE;

  g_mutex_lock (&call->mutex);
  g_atomic_int_set (&call->sleeping, TRUE);
  while (!call_state_is_final (g_atomic_int_get (&call->state)))
    {
      if (deadline < 0)
        g_cond_wait (&call->cond, &call->mutex);
      else if (!g_cond_wait_until (&call->cond, &call->mutex, deadline))
        break;
    }
  g_atomic_int_set (&call->sleeping, FALSE);
  g_mutex_unlock (&call->mutex);

  return call_state_is_final (g_atomic_int_get (&call->state));
}

GenCall *
gen_call_ref_internal (GenCall *call)
{
  return gen_call_ref (call);
}

void
gen_call_unref_internal (GenCall *call)
{
  gen_call_unref (call);
}

void
gen_call_answer_internal (GenCall  *call,
                          GVariant *reply,
                          GError   *error)
{
  call_answer (call, reply, error);
}

/* Server helpers -------------------------------------------------------- */

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

/* Wakes the server thread if it sleeps in pop_spinning, after a push.
 * `pushes` (bumped by the push) and `idle` are sequentially consistent: if
 * the server set `idle` too late for this look, its own look at `pushes`,
 * which follows, sees the push. Only the pusher that clears `idle` signals,
 * so the server's wake-up costs one futex call, however many messages
 * arrive while it gets back on a processor. */
static void
mailbox_wake_idle (GenServerPrivate *priv)
{
  if (g_atomic_int_get (&priv->idle) &&
      g_atomic_int_compare_and_exchange (&priv->idle, TRUE, FALSE))
    {
      g_mutex_lock (&priv->idle_lock);
      g_cond_signal (&priv->idle_cond);
      g_mutex_unlock (&priv->idle_lock);
    }
}

/* Queues @item unless the server stopped accepting. Takes the mailbox's
 * reference to what @item points to only on success. */
static gboolean
mailbox_push (GenServer *self,
              gpointer   item)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  GSource *wake = NULL;

  g_async_queue_lock (priv->mailbox);
  if (!priv->accepting)
    {
      g_async_queue_unlock (priv->mailbox);
      return FALSE;
    }
  g_async_queue_push_unlocked (priv->mailbox, item);
  g_atomic_int_inc (&priv->pushes);
  if (priv->mailbox_source != NULL)
    wake = g_source_ref (priv->mailbox_source);
  g_async_queue_unlock (priv->mailbox);

  mailbox_wake_idle (priv);

  if (wake != NULL)
    {
      g_source_set_ready_time (wake, 0);
      g_source_unref (wake);
    }

  return TRUE;
}

static void
mailbox_close (GenServer *self,
               gboolean   push_stop_marker)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  GSource *wake = NULL;

  g_async_queue_lock (priv->mailbox);
  if (push_stop_marker && priv->accepting)
    {
      g_async_queue_push_unlocked (priv->mailbox, ITEM_STOP_MARKER);
      g_atomic_int_inc (&priv->pushes);
      if (priv->mailbox_source != NULL)
        wake = g_source_ref (priv->mailbox_source);
    }
  priv->accepting = FALSE;
  g_async_queue_unlock (priv->mailbox);

  mailbox_wake_idle (priv);

  if (wake != NULL)
    {
      g_source_set_ready_time (wake, 0);
      g_source_unref (wake);
    }
}

static void timer_unref (Timer *timer);

static void
item_drop (gpointer item)
{
  Envelope *envelope;

  switch (ITEM_KIND (item))
    {
    case ITEM_CAST:
    case ITEM_INFO:
      g_variant_unref (ITEM_POINTER (item));
      break;
    case ITEM_CALL:
      gen_call_unref (ITEM_POINTER (item));
      break;
    case ITEM_ENVELOPE:
      envelope = ITEM_POINTER (item);
      if (envelope->kind == ENVELOPE_TIMER)
        timer_unref ((Timer *) envelope);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Drops an item that will never be handled; a call in it is answered with
 * @code (STOPPED or NOT_RUNNING), so that no caller waits in vain. */
static void
item_refuse (GenServer      *self,
             gpointer        item,
             GenServerError  code)
{
  if (ITEM_KIND (item) == ITEM_CALL)
    call_answer (ITEM_POINTER (item), NULL,
                 code == GEN_SERVER_ERROR_STOPPED ?
                 g_error_new (GEN_SERVER_ERROR, code,
                              "%s stopped before answering the call", server_name (self)) :
                 g_error_new (GEN_SERVER_ERROR, code,
                              "%s is not running", server_name (self)));
  item_drop (item);
}

static void
set_not_running_error (GenServer  *self,
                       GError    **error)
{
  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING,
               "%s is not running", server_name (self));
}

static void
set_status (GenServer *self,
            Status     status)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  g_mutex_lock (&priv->lock);
  g_atomic_int_set (&priv->status, status);
  g_cond_broadcast (&priv->cond);
  g_mutex_unlock (&priv->lock);
}

static gboolean
check_message_type (GenServer           *self,
                    const GVariantType  *expected,
                    const gchar         *what,
                    GVariant            *message,
                    GError             **error)
{
  g_autofree gchar *expected_string = NULL;

  if (expected == NULL || g_variant_is_of_type (message, expected))
    return TRUE;

  expected_string = g_variant_type_dup_string (expected);
  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "%s expects %s messages of type “%s”, got “%s”",
               server_name (self), what, expected_string,
               g_variant_get_type_string (message));
  return FALSE;
}

/* Timers ----------------------------------------------------------------- */

static gpointer
timer_thread_main (gpointer data)
{
  GMainContext *context = data;

  g_main_context_push_thread_default (context);
  for (;;)
    g_main_context_iteration (context, TRUE);

  return NULL;
}

/* Timer sources of every server run on one process-wide thread: a server
 * thread blocks on its mailbox, not on a main context, and a timer only has
 * to push a message there. */
static GMainContext *
timer_context (void)
{
  static gsize initialized;
  static GMainContext *context;

  if (g_once_init_enter (&initialized))
    {
      context = g_main_context_new ();
      g_thread_unref (g_thread_new ("genserver-timers", timer_thread_main, context));
      g_once_init_leave (&initialized, 1);
    }

  return context;
}

static Timer *
timer_ref (Timer *timer)
{
  g_atomic_int_inc (&timer->ref_count);
  return timer;
}

static void
timer_unref (Timer *timer)
{
  if (!g_atomic_int_dec_and_test (&timer->ref_count))
    return;

  g_variant_unref (timer->message);
  g_source_unref (timer->source);
  g_object_unref (timer->server);
  g_free (timer);
}

static gboolean
timer_fired_cb (gpointer data)
{
  Timer *timer = data;
  GenServerPrivate *priv = gen_server_get_instance_private (timer->server);
  gboolean queue;

  g_mutex_lock (&priv->lock);
  queue = timer->state == TIMER_PENDING;
  if (queue)
    timer->state = TIMER_QUEUED;
  g_mutex_unlock (&priv->lock);

  /* Refused only by a stopping server, which cancels all its timers. */
  if (queue && !mailbox_push (timer->server, ITEM_MAKE (timer_ref (timer), ITEM_ENVELOPE)))
    timer_unref (timer);

  return G_SOURCE_REMOVE;
}

static void
cancel_all_timers (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  GHashTableIter iter;
  GPtrArray *cancelled = g_ptr_array_new ();
  Timer *timer;

  g_mutex_lock (&priv->lock);
  g_hash_table_iter_init (&iter, priv->timers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &timer))
    {
      timer->state = TIMER_DONE;
      g_ptr_array_add (cancelled, timer);
      g_hash_table_iter_steal (&iter);
    }
  g_mutex_unlock (&priv->lock);

  for (guint i = 0; i < cancelled->len; i++)
    {
      timer = g_ptr_array_index (cancelled, i);
      g_source_destroy (timer->source);
      timer_unref (timer);
    }
  g_ptr_array_unref (cancelled);
}

/* Handling messages ----------------------------------------------------- */

/* An error from any handler but handle_call is a crash. */
static void
note_crash (GenServer *self,
            GError    *error)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  if (error == NULL)
    return;
  if (priv->crash_reason == NULL)
    priv->crash_reason = error;
  else
    g_error_free (error);
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

/* A timer's message is handled only if it was not cancelled meanwhile. */
static void
handle_timer (GenServer *self,
              Timer     *timer)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  gboolean live;

  g_mutex_lock (&priv->lock);
  live = timer->state == TIMER_QUEUED;
  if (live)
    {
      timer->state = TIMER_DONE;
      g_hash_table_steal (priv->timers, GUINT_TO_POINTER (timer->id));
    }
  g_mutex_unlock (&priv->lock);

  if (live)
    {
      timer_unref (timer); /* the table's; the mailbox item holds another */
      handle_info_message (self, timer->message);
    }
}

static void
handle_call_item (GenServer *self,
                  GenCall   *call)
{
  GVariant *reply;
  GError *error = NULL;

  GenServerPrivate *priv = gen_server_get_instance_private (self);
  gboolean deferred;

  /* A call whose caller gave up while it was queued is never run. */
  if (!g_atomic_int_compare_and_exchange (&call->state, CALL_PENDING, CALL_RUNNING))
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
                    "a reply or an error; it is ignored", server_name (self));
      if (reply != NULL)
        g_variant_unref (g_variant_take_ref (reply));
      g_clear_error (&error);
      return;
    }

  if (reply != NULL && error != NULL)
    {
      g_critical ("%s’s handle_call returned a reply and set an error; "
                  "the error wins: %s", server_name (self), error->message);
      g_clear_pointer (&reply, g_variant_unref);
    }
  else if (reply == NULL && error == NULL)
    {
      error = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                           "%s’s handle_call returned neither a reply nor an error",
                           server_name (self));
    }

  if (reply != NULL)
    g_variant_take_ref (reply);

  call_answer (call, reply, error);
}

static gboolean
server_should_go_on (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  return !priv->stop_requested && priv->crash_reason == NULL;
}

/* Runs the work scheduled with gen_server_continue(), in order, before the
 * next mailbox message. Returns FALSE when the server must stop. */
static gboolean
run_continues (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  GVariant *message;

  while (server_should_go_on (self) &&
         (message = g_queue_pop_head (&priv->continues)) != NULL)
    {
      GError *error = NULL;

      GEN_SERVER_GET_CLASS (self)->handle_continue (self, message, &error);
      note_crash (self, error);
      g_variant_unref (message);
    }

  return server_should_go_on (self);
}

/* Handles one mailbox item. Returns FALSE when the server must stop after
 * it: the stop marker, a stop from inside a handler, or a crash. */
static gboolean
handle_item (GenServer *self,
             gpointer   item)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  Envelope *envelope;

  switch (ITEM_KIND (item))
    {
    case ITEM_CAST:
      handle_cast_item (self, ITEM_POINTER (item));
      break;
    case ITEM_CALL:
      handle_call_item (self, ITEM_POINTER (item));
      break;
    case ITEM_INFO:
      handle_info_message (self, ITEM_POINTER (item));
      break;
    case ITEM_ENVELOPE:
      envelope = ITEM_POINTER (item);
      if (envelope->kind == ENVELOPE_STOP)
        return FALSE;
      handle_timer (self, (Timer *) envelope);
      break;
    default:
      g_assert_not_reached ();
    }

  item_drop (item);

  if (g_atomic_int_get (&priv->idle_timeout_ms) >= 0)
    {
      priv->last_activity = g_get_monotonic_time ();
      priv->idle_fired = FALSE;
    }

  return run_continues (self);
}

/* Handles up to BATCH_SIZE queued items, taken under one lock. Returns FALSE
 * once the server has stopped. */
static gboolean
handle_batch (GenServer *self,
              gpointer   first)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  gpointer batch[BATCH_SIZE];
  guint n = 0;

  if (first != NULL)
    batch[n++] = first;

  g_async_queue_lock (priv->mailbox);
  while (n < BATCH_SIZE &&
         (batch[n] = g_async_queue_try_pop_unlocked (priv->mailbox)) != NULL)
    n++;
  g_async_queue_unlock (priv->mailbox);

  for (guint i = 0; i < n; i++)
    {
      if (!handle_item (self, batch[i]))
        {
          server_finish (self, &batch[i + 1], n - i - 1);
          return FALSE;
        }
    }

  return TRUE;
}

/* Stops the server on its handler thread: answers what is still queued
 * with STOPPED, runs terminate and marks the server stopped. @leftover are
 * items already taken from the mailbox but not handled. */
static void
server_finish (GenServer *self,
               gpointer  *leftover,
               guint      n_leftover)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  g_autoptr(GError) reason = g_steal_pointer (&priv->crash_reason);
  g_autoptr(GError) stop_reason = gen_monitors_take_stop_reason_internal (self);
  GSource *source;
  gpointer item;

  /* A crash wins over the reason of a stop that came meanwhile. */
  if (reason == NULL)
    reason = g_steal_pointer (&stop_reason);

  if (reason != NULL)
    g_warning ("%s crashed: %s", server_name (self), reason->message);

  mailbox_close (self, FALSE);
  g_mutex_lock (&priv->lock);
  if (priv->status == STATUS_RUNNING)
    g_atomic_int_set (&priv->status, STATUS_STOPPING);
  g_mutex_unlock (&priv->lock);

  cancel_all_timers (self);
  for (guint i = 0; i < n_leftover; i++)
    item_refuse (self, leftover[i], GEN_SERVER_ERROR_STOPPED);
  while ((item = g_async_queue_try_pop (priv->mailbox)) != NULL)
    item_refuse (self, item, GEN_SERVER_ERROR_STOPPED);
  g_queue_clear_full (&priv->continues, (GDestroyNotify) g_variant_unref);

  GEN_SERVER_GET_CLASS (self)->terminate (self, reason);

  priv->stop_requested = FALSE;

  g_async_queue_lock (priv->mailbox);
  source = g_steal_pointer (&priv->mailbox_source);
  g_async_queue_unlock (priv->mailbox);
  if (source != NULL)
    {
      g_source_destroy (source);
      g_source_unref (source);
    }

  g_atomic_pointer_set (&priv->handler_thread, NULL);
  /* Before the status changes, so that a name registered by the server is
   * free again by the time stop() returns. */
  gen_monitors_fire_internal (self, reason);
  set_status (self, STATUS_STOPPED);
}

/* Starting -------------------------------------------------------------- */

typedef struct
{
  GenServer *server; /* unowned: the starter holds a reference */
  GVariant *args;    /* unowned, nullable */

  GMutex mutex;
  GCond cond;
  gboolean done;   /* protected by mutex */
  GError *error;   /* written before done; owned by the starter */
} StartRequest;

/* Runs init on the current thread, which is the server's handler thread.
 * Returns whether it succeeded; on failure the mailbox is closed again and
 * whatever came in meanwhile is answered. */
static gboolean
run_init (GenServer  *self,
          GVariant   *args,
          GError    **error)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  GError *local_error = NULL;
  gpointer item;

  priv->last_activity = g_get_monotonic_time ();
  priv->idle_fired = FALSE;

  GEN_SERVER_GET_CLASS (self)->init (self, args, &local_error);
  if (local_error == NULL)
    return TRUE;

  mailbox_close (self, FALSE);
  cancel_all_timers (self);
  while ((item = g_async_queue_try_pop (priv->mailbox)) != NULL)
    item_refuse (self, item, GEN_SERVER_ERROR_NOT_RUNNING);
  g_queue_clear_full (&priv->continues, (GDestroyNotify) g_variant_unref);
  priv->stop_requested = FALSE;
  g_clear_error (&priv->crash_reason);
  g_propagate_error (error, local_error);
  return FALSE;
}

static void
start_request_complete (StartRequest *request,
                        GError       *error)
{
  g_mutex_lock (&request->mutex);
  request->error = error;
  request->done = TRUE;
  g_cond_signal (&request->cond);
  g_mutex_unlock (&request->mutex);
}

static gpointer
pop_spinning (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  /* Read before trying: a push the try misses bumps it afterwards. */
  gint seen = g_atomic_int_get (&priv->pushes);
  gpointer item = g_async_queue_try_pop (priv->mailbox);

  if (item == NULL)
    {
      gint64 spin_until = g_get_monotonic_time () + GEN_SPIN_NS / 1000;

      if (gen_spin_begin ())
        {
          gint64 pause_until = g_get_monotonic_time () + spin_pause_us;

          do
            {
              for (guint i = 0; i < 64 && g_atomic_int_get (&priv->pushes) == seen; i++)
                gen_cpu_relax ();
              if (g_atomic_int_get (&priv->pushes) != seen)
                {
                  seen = g_atomic_int_get (&priv->pushes);
                  item = g_async_queue_try_pop (priv->mailbox);
                }
            }
          while (item == NULL && g_get_monotonic_time () < pause_until);
          gen_spin_end ();
          spin_pause_adapt (item != NULL);
        }

      /* The rest of the time, yield: a caller sharing this processor
       * gets it, and comes back with its next message. */
      while (item == NULL && g_get_monotonic_time () < spin_until)
        {
          g_thread_yield ();
          if (g_atomic_int_get (&priv->pushes) != seen)
            {
              seen = g_atomic_int_get (&priv->pushes);
              item = g_async_queue_try_pop (priv->mailbox);
            }
        }
    }

  /* An idle server sleeps here, on a condition of its own rather than in
   * g_async_queue_pop: GAsyncQueue signals on every push while somebody
   * waits in it, so a producer would pay a futex call for every message it
   * sends until the server is back on a processor. */
  while (item == NULL)
    {
      g_mutex_lock (&priv->idle_lock);
      for (;;)
        {
          /* Set again after every wake-up: a pusher that saw `idle` from an
           * earlier sleep may have cleared it and signalled since. */
          g_atomic_int_set (&priv->idle, TRUE);
          if (g_atomic_int_get (&priv->pushes) != seen)
            break;
          g_cond_wait (&priv->idle_cond, &priv->idle_lock);
        }
      g_atomic_int_set (&priv->idle, FALSE);
      g_mutex_unlock (&priv->idle_lock);

      seen = g_atomic_int_get (&priv->pushes);
      item = g_async_queue_try_pop (priv->mailbox);
    }

  return item;
}

/* The idle timeout --------------------------------------------------------- */

#define IDLE_TIMEOUT_MESSAGE "gen-server.idle-timeout"

/* Returns the monotonic time at which the idle timeout fires, or -1 if it
 * is off or already fired since the last message. Handler thread only. */
static gint64
idle_deadline (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  gint idle_timeout_ms = g_atomic_int_get (&priv->idle_timeout_ms);

  if (idle_timeout_ms < 0 || priv->idle_fired)
    return -1;
  return priv->last_activity + (gint64) idle_timeout_ms * 1000;
}

/* Gives handle_info the idle timeout message. It fires once per quiet
 * stretch: the next one needs a message first. Returns FALSE when the
 * server must stop. */
static gboolean
deliver_idle_timeout (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  g_autoptr(GVariant) message = g_variant_ref_sink (g_variant_new_string (IDLE_TIMEOUT_MESSAGE));

  priv->idle_fired = TRUE;
  handle_info_message (self, message);
  return run_continues (self);
}

/* The next mailbox item for a server thread, or NULL when the idle timeout
 * is due first. */
static gpointer
next_item (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  gint64 deadline = idle_deadline (self);
  gint64 now;

  if (deadline < 0)
    return pop_spinning (self);

  now = g_get_monotonic_time ();
  if (now < deadline)
    return g_async_queue_timeout_pop (priv->mailbox, deadline - now);
  return g_async_queue_try_pop (priv->mailbox);
}

static gpointer
server_thread_main (gpointer data)
{
  StartRequest *request = data;
  GenServer *self = request->server; /* the thread's own reference */
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  GError *error = NULL;

  g_atomic_pointer_set (&priv->handler_thread, g_thread_self ());

  if (!run_init (self, request->args, &error))
    {
      g_atomic_pointer_set (&priv->handler_thread, NULL);
      start_request_complete (request, error);
      g_object_unref (self);
      return NULL;
    }

  set_status (self, STATUS_RUNNING);
  start_request_complete (request, NULL);
  request = NULL; /* the starter may have returned */

  if (!run_continues (self))
    {
      server_finish (self, NULL, 0);
      g_object_unref (self);
      return NULL;
    }

  for (;;)
    {
      gpointer item = next_item (self);

      if (item == NULL)
        {
          if (!deliver_idle_timeout (self))
            {
              server_finish (self, NULL, 0);
              break;
            }
        }
      else if (!handle_batch (self, item))
        break;
    }

  g_object_unref (self);
  return NULL;
}

/* Main-context mode ----------------------------------------------------- */

typedef struct
{
  GSource source;
  GenServer *server; /* owned: keeps a running server alive */
} MailboxSource;

/* Makes the mailbox source due again: now if there is work, at the idle
 * deadline if one is armed. The last check catches a push that came
 * between the first one and the new ready time, which would otherwise be
 * overwritten. */
static void
mailbox_source_rearm (GenServer *self,
                      GSource   *source)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  gint64 deadline;

  if (g_async_queue_length (priv->mailbox) > 0 || !g_queue_is_empty (&priv->continues))
    {
      g_source_set_ready_time (source, 0);
      return;
    }

  deadline = idle_deadline (self);
  if (deadline < 0)
    return;

  g_source_set_ready_time (source, deadline);
  if (g_async_queue_length (priv->mailbox) > 0)
    g_source_set_ready_time (source, 0);
}

static gboolean
mailbox_source_dispatch (GSource     *source,
                         GSourceFunc  callback,
                         gpointer     user_data)
{
  GenServer *self = ((MailboxSource *) source)->server;
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  gboolean running;

  /* Reset before draining: a push that lands after the drain sets it again,
   * so no wake-up is lost. */
  g_source_set_ready_time (source, -1);

  g_atomic_pointer_set (&priv->handler_thread, g_thread_self ());
  g_atomic_pointer_set (&priv->context_thread, g_thread_self ());

  running = run_continues (self);
  if (running && g_async_queue_length (priv->mailbox) == 0)
    {
      gint64 deadline = idle_deadline (self);

      if (deadline >= 0 && g_get_monotonic_time () >= deadline)
        running = deliver_idle_timeout (self);
    }

  if (!running)
    server_finish (self, NULL, 0);
  else
    running = handle_batch (self, NULL);

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

static void
run_init_on_context (GenServer    *self,
                     StartRequest *request)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  GError *error = NULL;
  gboolean ok;

  g_atomic_pointer_set (&priv->handler_thread, g_thread_self ());
  g_atomic_pointer_set (&priv->context_thread, g_thread_self ());
  ok = run_init (self, request->args, &error);
  g_atomic_pointer_set (&priv->handler_thread, NULL);

  if (ok)
    {
      set_status (self, STATUS_RUNNING);
      mailbox_source_rearm (self, priv->mailbox_source);
    }
  else
    {
      GSource *source;

      g_async_queue_lock (priv->mailbox);
      source = g_steal_pointer (&priv->mailbox_source);
      g_async_queue_unlock (priv->mailbox);
      g_source_destroy (source);
      g_source_unref (source);
    }

  start_request_complete (request, error);
}

static gboolean
init_source_cb (gpointer data)
{
  StartRequest *request = data;

  run_init_on_context (request->server, request);
  return G_SOURCE_REMOVE;
}

/* Drains the mailbox on the calling thread, which owns the server's
 * context, until the stop marker. Used by stop() from that thread, which
 * would otherwise wait for itself. */
static void
drain_on_owner (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  g_atomic_pointer_set (&priv->handler_thread, g_thread_self ());
  while (handle_batch (self, g_async_queue_pop (priv->mailbox)))
    ;
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
  GThread *stale_thread;
  StartRequest request = { 0, };

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

  if (server_is_handler_thread (self))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_ALREADY_RUNNING,
                   "%s is already running: start() called from its own handler",
                   server_name (self));
      return FALSE;
    }

  g_mutex_lock (&priv->lock);
  /* A server stopping from inside its own handler finishes on its own. */
  while (priv->status == STATUS_STOPPING)
    g_cond_wait (&priv->cond, &priv->lock);
  if (priv->status != STATUS_STOPPED)
    {
      g_mutex_unlock (&priv->lock);
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_ALREADY_RUNNING,
                   "%s is already running", server_name (self));
      return FALSE;
    }
  g_atomic_int_set (&priv->status, STATUS_STARTING);
  stale_thread = g_steal_pointer (&priv->thread);
  g_mutex_unlock (&priv->lock);

  gen_monitors_open_internal (self);

  /* The previous run's thread has marked itself stopped and is exiting. */
  if (stale_thread != NULL)
    g_thread_join (stale_thread);

  g_mutex_init (&request.mutex);
  g_cond_init (&request.cond);
  request.server = self;
  request.args = owned_args;

  g_async_queue_lock (priv->mailbox);
  g_assert (g_async_queue_length_unlocked (priv->mailbox) == 0);
  priv->accepting = TRUE;
  if (priv->main_context != NULL)
    {
      priv->mailbox_source = mailbox_source_new (self);
      g_source_attach (priv->mailbox_source, priv->main_context);
    }
  g_async_queue_unlock (priv->mailbox);

  if (priv->main_context == NULL)
    {
      GThread *thread;
      GError *thread_error = NULL;

      g_object_ref (self); /* owned by the thread */
      thread = g_thread_try_new ("genserver", server_thread_main,
                                 &request, &thread_error);
      if (thread == NULL)
        {
          g_object_unref (self);
          mailbox_close (self, FALSE);
          gen_monitors_fire_internal (self, thread_error);
          set_status (self, STATUS_STOPPED);
          g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                       "Could not start a thread for %s: %s",
                       server_name (self), thread_error->message);
          g_clear_error (&thread_error);
          goto out;
        }

      g_mutex_lock (&priv->lock);
      priv->thread = thread;
      g_mutex_unlock (&priv->lock);
    }
  else if (g_main_context_acquire (priv->main_context))
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

  g_mutex_lock (&request.mutex);
  while (!request.done)
    g_cond_wait (&request.cond, &request.mutex);
  g_mutex_unlock (&request.mutex);

  if (request.error != NULL)
    {
      GThread *thread;

      g_mutex_lock (&priv->lock);
      thread = g_steal_pointer (&priv->thread);
      g_mutex_unlock (&priv->lock);
      if (thread != NULL)
        g_thread_join (thread);
      gen_monitors_fire_internal (self, request.error);
      set_status (self, STATUS_STOPPED);
      g_propagate_error (error, request.error);
    }

out:
  g_mutex_clear (&request.mutex);
  g_cond_clear (&request.cond);
  return g_atomic_int_get (&priv->status) == STATUS_RUNNING;
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
 * Called from inside one of the server's own handlers, the stop takes
 * effect once the current message is handled: calls still queued are then
 * answered with %GEN_SERVER_ERROR_STOPPED. It returns at once.
 *
 * If the server does not finish within @timeout_ms, this fails with
 * %GEN_SERVER_ERROR_TIMEOUT; the server still stops when it can.
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
  GThread *thread;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = gen_server_get_instance_private (self);
  deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  if (server_is_handler_thread (self))
    {
      if (g_atomic_int_get (&priv->status) != STATUS_RUNNING)
        {
          set_not_running_error (self, error);
          return FALSE;
        }
      priv->stop_requested = TRUE;
      mailbox_close (self, FALSE);
      set_status (self, STATUS_STOPPING);
      return TRUE;
    }

  g_mutex_lock (&priv->lock);
  if (priv->status != STATUS_RUNNING)
    {
      g_mutex_unlock (&priv->lock);
      set_not_running_error (self, error);
      return FALSE;
    }
  /* Closed before anyone can see the server stopping: once
   * is_running() says FALSE, every new message is refused. (Lock order:
   * `lock`, then the mailbox's.) */
  mailbox_close (self, TRUE);
  g_atomic_int_set (&priv->status, STATUS_STOPPING);
  g_cond_broadcast (&priv->cond);
  g_mutex_unlock (&priv->lock);

  if (priv->main_context != NULL && g_main_context_acquire (priv->main_context))
    {
      /* The thread that would handle the stop is this one. */
      g_object_ref (self);
      drain_on_owner (self);
      g_main_context_release (priv->main_context);
      g_object_unref (self);
      return TRUE;
    }

  g_mutex_lock (&priv->lock);
  while (priv->status != STATUS_STOPPED)
    {
      if (deadline < 0)
        g_cond_wait (&priv->cond, &priv->lock);
      else if (!g_cond_wait_until (&priv->cond, &priv->lock, deadline))
        break;
    }
  if (priv->status != STATUS_STOPPED)
    {
      g_mutex_unlock (&priv->lock);
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                   "%s did not stop within %d ms", server_name (self), timeout_ms);
      return FALSE;
    }
  thread = g_steal_pointer (&priv->thread);
  g_mutex_unlock (&priv->lock);

  if (thread != NULL)
    g_thread_join (thread);

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
      if (g_atomic_int_get (&priv->status) != STATUS_RUNNING)
        {
          set_not_running_error (self, error);
          return FALSE;
        }
      note_crash (self, g_error_copy (reason));
      mailbox_close (self, FALSE);
      set_status (self, STATUS_STOPPING);
      return TRUE;
    }

  if (!gen_server_is_running (self))
    {
      set_not_running_error (self, error);
      return FALSE;
    }

  /* Read by server_finish(), which clears it whatever the outcome. */
  gen_monitors_set_stop_reason_internal (self, reason);
  return gen_server_stop (self, timeout_ms, error);
}

gboolean
gen_server_wait_stopped_internal (GenServer *self,
                                  gint       timeout_ms)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  gint64 deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean stopped;

  g_assert (!server_is_handler_thread (self));

  g_mutex_lock (&priv->lock);
  while (priv->status != STATUS_STOPPED)
    {
      if (deadline < 0)
        g_cond_wait (&priv->cond, &priv->lock);
      else if (!g_cond_wait_until (&priv->cond, &priv->lock, deadline))
        break;
    }
  stopped = priv->status == STATUS_STOPPED;
  g_mutex_unlock (&priv->lock);

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
  return g_atomic_int_get (&priv->status) == STATUS_RUNNING;
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
 * server's [property@Gen.Server:cast-type], and with
 * %GEN_SERVER_ERROR_NOT_RUNNING if the server is not running.
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
  GenServerPrivate *priv;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = gen_server_get_instance_private (self);
  g_variant_ref_sink (message);

  if (!check_message_type (self, priv->cast_type, "cast", message, error))
    goto fail;

  if (!mailbox_push (self, ITEM_MAKE (message, ITEM_CAST)))
    {
      set_not_running_error (self, error);
      goto fail;
    }

  return TRUE;

fail:
  g_variant_unref (message);
  return FALSE;
}

/* Checks and queues a call. Returns the caller's reference to it, or NULL
 * with @error set. */
static GenCall *
call_begin (GenServer  *self,
            GVariant   *message,
            GError    **error)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  GenCall *call;

  if (!check_message_type (self, priv->call_type, "call", message, error))
    return NULL;

  call = gen_call_new (message);

  if (!mailbox_push (self, ITEM_MAKE (gen_call_ref (call), ITEM_CALL)))
    {
      gen_call_unref (call); /* the mailbox's */
      gen_call_unref (call);
      set_not_running_error (self, error);
      return NULL;
    }

  return call;
}

static gboolean
would_call_self (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);
  gboolean result = FALSE;

  if (server_is_handler_thread (self))
    return TRUE;

  if (priv->main_context == NULL)
    return FALSE;

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
  GenCall *call;
  GVariant *reply = NULL;
  gint64 deadline;

  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);
  g_return_val_if_fail (message != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  owned_message = g_variant_ref_sink (message);
  deadline = timeout_ms < 0 ? -1 : g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  if (would_call_self (self))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_CALLING_SELF,
                   "%s was called synchronously from the thread that runs its "
                   "handlers, which would wait for itself; use cast or call_async",
                   server_name (self));
      return NULL;
    }

  call = call_begin (self, owned_message, error);
  if (call == NULL)
    return NULL;

  if (!call_wait (call, deadline) &&
      call_abandon (call, NULL))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                   "%s did not answer within %d ms", server_name (self), timeout_ms);
      gen_call_unref (call);
      return NULL;
    }

  /* The server won the race against the deadline: wait out the store. */
  call_wait (call, -1);

  if (call->error != NULL)
    g_propagate_error (error, g_steal_pointer (&call->error));
  else
    reply = g_steal_pointer (&call->reply);

  gen_call_unref (call);
  return reply;
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

  if (g_atomic_int_get (&call->state) == CALL_ABANDONED)
    g_task_return_error (task, g_steal_pointer (&call->abandon_error));
  else if (call->error != NULL)
    g_task_return_error (task, g_steal_pointer (&call->error));
  else
    g_task_return_pointer (task, g_steal_pointer (&call->reply),
                           (GDestroyNotify) g_variant_unref);

  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

/* Delivers the final state of an async call on its task's context. Called
 * once, by whoever made the state final. */
static void
call_schedule_completion (GenCall *call)
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
  GenServer *self = g_task_get_source_object (call->task);

  if (call_abandon (call, g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                                       "%s did not answer within %d ms",
                                       server_name (self), call->timeout_ms)))
    call_schedule_completion (call);

  return G_SOURCE_REMOVE;
}

static void
call_cancelled_cb (GCancellable *cancellable,
                   gpointer      data)
{
  GenCall *call = data;
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (cancellable, &error);
  if (call_abandon (call, error))
    call_schedule_completion (call);
}

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
  GenCall *call;

  g_return_if_fail (GEN_IS_SERVER (self));
  g_return_if_fail (message != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  priv = gen_server_get_instance_private (self);
  owned_message = g_variant_ref_sink (message);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, gen_server_call_async);
  g_task_set_name (task, "[genserver] call");
  /* The call decides itself whether cancellation won against the reply. */
  g_task_set_check_cancellable (task, FALSE);

  call = gen_call_new (owned_message);
  call->task = g_object_ref (task);

  if (!check_message_type (self, priv->call_type, "call", owned_message, &error))
    {
      /* Still through a source: the callback never runs inside this call. */
      call_abandon (call, error);
      call_schedule_completion (call);
      gen_call_unref (call);
      return;
    }

  /* Set up before the call is queued, and under `mutex`: once queued, the
   * reply can be delivered on the task's context by whichever thread runs
   * it, and that delivery tears the timeout and the handler down. The
   * timeout or the cancellable may also make the call final before it is
   * queued (an already cancelled cancellable does at once); the server
   * then never runs it. */
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

  if (!mailbox_push (self, ITEM_MAKE (gen_call_ref (call), ITEM_CALL)))
    {
      gen_call_unref (call); /* the mailbox's */
      set_not_running_error (self, &error);
      /* Unless the timeout or the cancellable made it final already. */
      if (call_abandon (call, error))
        call_schedule_completion (call);
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
  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == gen_server_call_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
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
  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_variant_ref_sink (message);
  if (!mailbox_push (self, ITEM_MAKE (message, ITEM_INFO)))
    {
      g_variant_unref (message);
      set_not_running_error (self, error);
      return FALSE;
    }

  return TRUE;
}

/**
 * gen_server_send_after:
 * @self: a #GenServer
 * @message: the message; a floating reference is sunk
 * @delay_ms: the delay, in milliseconds
 *
 * Sends @message to the server's `handle_info` handler after @delay_ms, as
 * Erlang's `erlang:send_after/3` does. Timers with the same delay fire in
 * the order they were set. A server's timers are cancelled when it stops.
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
  static guint last_timer_id;
  GenServerPrivate *priv;
  Timer *timer;
  guint id;

  g_return_val_if_fail (GEN_IS_SERVER (self), 0);
  g_return_val_if_fail (message != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  priv = gen_server_get_instance_private (self);
  g_variant_ref_sink (message);

  do
    id = (guint) g_atomic_int_add ((gint *) &last_timer_id, 1) + 1;
  while (id == 0);

  g_mutex_lock (&priv->lock);
  /* A stopping server's own handlers may still set timers: they are
   * cancelled with the others once the last message is handled. */
  if (priv->status != STATUS_RUNNING && priv->status != STATUS_STARTING &&
      !(priv->status == STATUS_STOPPING && server_is_handler_thread (self)))
    {
      g_mutex_unlock (&priv->lock);
      g_variant_unref (message);
      set_not_running_error (self, error);
      return 0;
    }

  timer = g_new0 (Timer, 1);
  timer->envelope.kind = ENVELOPE_TIMER;
  timer->ref_count = 1; /* the table's */
  timer->id = id;
  timer->server = g_object_ref (self);
  timer->message = message;
  timer->state = TIMER_PENDING;
  timer->source = g_timeout_source_new (delay_ms);
  g_source_set_callback (timer->source, timer_fired_cb, timer_ref (timer),
                         (GDestroyNotify) timer_unref);
  g_source_set_static_name (timer->source, "[genserver] send_after");
  g_hash_table_insert (priv->timers, GUINT_TO_POINTER (id), timer);
  /* Under the lock, so that a concurrent stop cannot destroy it first. */
  g_source_attach (timer->source, timer_context ());
  g_mutex_unlock (&priv->lock);

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
  Timer *timer;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);

  priv = gen_server_get_instance_private (self);

  g_mutex_lock (&priv->lock);
  timer = g_hash_table_lookup (priv->timers, GUINT_TO_POINTER (timer_id));
  if (timer != NULL)
    {
      timer->state = TIMER_DONE;
      g_hash_table_steal (priv->timers, GUINT_TO_POINTER (timer_id));
    }
  g_mutex_unlock (&priv->lock);

  if (timer == NULL)
    return FALSE;

  g_source_destroy (timer->source);
  timer_unref (timer);
  return TRUE;
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
  g_return_if_fail (server_is_handler_thread (self));

  priv = gen_server_get_instance_private (self);
  g_queue_push_tail (&priv->continues, g_variant_ref_sink (message));
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
  g_return_val_if_fail (server_is_handler_thread (self), NULL);

  priv = gen_server_get_instance_private (self);
  g_return_val_if_fail (priv->current_call != NULL, NULL);
  g_return_val_if_fail (!priv->reply_taken, NULL);

  priv->reply_taken = TRUE;
  return gen_reply_new_internal (server_name (self), priv->current_call);
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

  priv = gen_server_get_instance_private (self);
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
  GSource *wake = NULL;

  g_return_if_fail (GEN_IS_SERVER (self));
  g_return_if_fail (timeout_ms >= -1);

  priv = gen_server_get_instance_private (self);
  if (g_atomic_int_get (&priv->idle_timeout_ms) == timeout_ms)
    return;
  g_atomic_int_set (&priv->idle_timeout_ms, timeout_ms);

  /* A server on a context re-arms its source at its next dispatch. */
  g_async_queue_lock (priv->mailbox);
  if (priv->mailbox_source != NULL)
    wake = g_source_ref (priv->mailbox_source);
  g_async_queue_unlock (priv->mailbox);
  if (wake != NULL)
    {
      g_source_set_ready_time (wake, 0);
      g_source_unref (wake);
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IDLE_TIMEOUT]);
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
         g_str_equal (g_variant_get_string (message, NULL), IDLE_TIMEOUT_MESSAGE);
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
  return MAX (0, g_async_queue_length (priv->mailbox));
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
set_message_type (GenServer     *self,
                  GVariantType **type,
                  const gchar   *property,
                  const gchar   *type_string)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  g_clear_pointer (type, g_variant_type_free);
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

  *type = g_variant_type_new (type_string);
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
}

static void
gen_server_finalize (GObject *object)
{
  GenServer *self = GEN_SERVER (object);
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  /* A running server holds a reference to itself. */
  g_assert (priv->status == STATUS_STOPPED);
  g_assert (priv->mailbox_source == NULL);

  if (priv->thread != NULL)
    {
      /* The last reference can be dropped by the server thread itself as it
       * exits; it cannot join itself. */
      if (priv->thread == g_thread_self ())
        g_thread_unref (priv->thread);
      else
        g_thread_join (priv->thread);
      priv->thread = NULL;
    }

  g_clear_pointer (&priv->cast_type, g_variant_type_free);
  g_clear_pointer (&priv->call_type, g_variant_type_free);
  g_clear_pointer (&priv->main_context, g_main_context_unref);
  g_clear_error (&priv->construct_error);
  g_clear_error (&priv->crash_reason);
  g_assert (g_hash_table_size (priv->timers) == 0);
  g_hash_table_unref (priv->timers);
  g_async_queue_unref (priv->mailbox);
  g_mutex_clear (&priv->lock);
  g_cond_clear (&priv->cond);
  g_mutex_clear (&priv->idle_lock);
  g_cond_clear (&priv->idle_cond);

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
    case PROP_IDLE_TIMEOUT:
      g_value_set_int (value, gen_server_get_idle_timeout (self));
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

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gen_server_init (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_instance_private (self);

  priv->mailbox = g_async_queue_new ();
  priv->timers = g_hash_table_new (NULL, NULL);
  priv->idle_timeout_ms = -1;
  g_queue_init (&priv->continues);
  g_mutex_init (&priv->lock);
  g_cond_init (&priv->cond);
  g_mutex_init (&priv->idle_lock);
  g_cond_init (&priv->idle_cond);
  priv->status = STATUS_STOPPED;
}
