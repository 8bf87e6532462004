/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"

/* Stress tests against the public API: many threads, exact counts.
 *
 * - casts: N producers × M casts, each counted once and in per-sender order;
 * - calls with random 0–2 ms timeouts, sync and async, each answered once,
 *   and never run when they timed out while still queued;
 * - threads stopping and restarting a server while others cast and call;
 * - supervisor crash storms below and above the restart intensity.
 *
 * The default size takes about a minute in all on two cores. `--scale N`
 * multiplies every count by N, e.g.
 *
 *   meson test -C build --suite stress --test-args=--scale=10
 *
 * Every test has a watchdog that aborts it, naming what it was doing, if it
 * runs for longer than STRESS_BOUND_S × N seconds, so a deadlock ends the
 * run instead of holding it until meson's timeout.
 *
 * /stress/restart/two-threads and /stress/restart/start-stop-race are the
 * races of several stoppers and starters that once made stop wait for a
 * run that had ended ("stop waited 20000 ms in vain") and start return
 * FALSE without an error. */

#define MAX_SENDERS 16
#define BLOCKER MAX_SENDERS      /* the sender id of the gate call */
#define NO_CHECK G_MAXUINT32     /* a call that checks no cast count */
#define STRESS_BOUND_S 300

static guint scale = 1;

/* Failures ---------------------------------------------------------------
 *
 * Threads other than the test's own record the first failure and ask
 * everyone to wind down; the test's thread reports it once all are joined,
 * so a failure reads as a message, not as an abort in some thread. */

static GMutex failure_lock;
static gchar *failure;   /* owned; failure_lock */
static gint winding_down; /* atomic boolean */

static void stress_fail (const gchar *format,
                         ...) G_GNUC_PRINTF (1, 2);

static void
stress_fail (const gchar *format,
             ...)
{
  va_list args;

  va_start (args, format);
  g_mutex_lock (&failure_lock);
  if (failure == NULL)
    failure = g_strdup_vprintf (format, args);
  g_mutex_unlock (&failure_lock);
  va_end (args);
  g_atomic_int_set (&winding_down, TRUE);
}

static gboolean
stress_failed (void)
{
  return g_atomic_int_get (&winding_down);
}

static void
stress_check_no_failure (void)
{
  g_autofree gchar *message = NULL;

  g_mutex_lock (&failure_lock);
  message = g_steal_pointer (&failure);
  g_mutex_unlock (&failure_lock);
  g_atomic_int_set (&winding_down, FALSE);
  g_assert_cmpstr (message, ==, NULL);
}

/* Checks that @error is in GEN_SERVER_ERROR with one of the @n codes. */
static gboolean
error_is_one_of (const GError *error,
                 guint         n,
                 ...)
{
  va_list args;
  gboolean found = FALSE;

  if (error == NULL || error->domain != GEN_SERVER_ERROR)
    return FALSE;
  va_start (args, n);
  for (guint i = 0; i < n; i++)
    found |= error->code == va_arg (args, gint);
  va_end (args);
  return found;
}

/* The watchdog ------------------------------------------------------------ */

static GMutex watchdog_lock;
static GCond watchdog_cond;
static gboolean watchdog_done;   /* watchdog_lock */
static const gchar *watchdog_doing; /* static string; watchdog_lock */
static GThread *watchdog_thread;

static gpointer
watchdog_main (gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) STRESS_BOUND_S * scale * G_USEC_PER_SEC;
  const gchar *path = data;

  g_mutex_lock (&watchdog_lock);
  while (!watchdog_done)
    if (!g_cond_wait_until (&watchdog_cond, &watchdog_lock, deadline))
      g_error ("%s did not finish within %u s; it was %s",
               path, STRESS_BOUND_S * scale, watchdog_doing);
  g_mutex_unlock (&watchdog_lock);
  return NULL;
}

static void
watchdog_start (void)
{
  watchdog_done = FALSE;
  watchdog_doing = "starting";
  watchdog_thread = g_thread_new ("watchdog", watchdog_main, (gpointer) g_test_get_path ());
}

static void
watchdog_note (const gchar *doing)
{
  g_mutex_lock (&watchdog_lock);
  watchdog_doing = doing;
  g_mutex_unlock (&watchdog_lock);
}

static void
watchdog_stop (void)
{
  g_mutex_lock (&watchdog_lock);
  watchdog_done = TRUE;
  g_cond_broadcast (&watchdog_cond);
  g_mutex_unlock (&watchdog_lock);
  g_thread_join (g_steal_pointer (&watchdog_thread));
}

/* Waits until *@counter (atomic) reaches @value, failing at the deadline. */
static void
wait_for_count (gint        *counter,
                gint         value,
                const gchar *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) STRESS_BOUND_S * scale * G_USEC_PER_SEC;

  while (g_atomic_int_get (counter) < value)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("%s: %d of %d within the deadline", what, g_atomic_int_get (counter), value);
      g_thread_yield ();
    }
}

/* The stress server --------------------------------------------------------
 *
 * Casts are "(uu)": a sender and its sequence number, from 0, counting only
 * the casts the server accepted. Calls are "(uuuu)": a sender, a call id, a
 * number of microseconds to stay busy, and how many of the sender's casts
 * must have been handled before it (NO_CHECK: no check); the reply is the
 * sender and the id, "(uu)". The sender BLOCKER holds the server at the
 * gate instead.
 *
 * Its state outlives restarts, since init does not reset it: per-sender
 * order is checked across runs. Each run's thread is joined before the next
 * starts, which orders their accesses. */

typedef struct
{
  TestGate gate;
  guint held_epoch;        /* gate.lock: nonzero while a BLOCKER call waits */
  guint replies;           /* gate.lock: calls answered with their reply */
  guint queued_timeouts;   /* gate.lock: calls that timed out while held */
  guint callers_done;      /* gate.lock */

  gint violations;         /* atomic: order or count violations seen */
  gint casts_handled;      /* atomic */
  gint *ran;               /* (array) atomic: how often each call id ran */
  guint n_ids;
} Stress;

static Stress stress;

struct _StressServer
{
  GenServer parent_instance;

  /* The server's threads only. */
  guint next_seq[MAX_SENDERS];
};

G_DECLARE_FINAL_TYPE (StressServer, stress_server, STRESS, SERVER, GenServer)
G_DEFINE_TYPE (StressServer, stress_server, GEN_TYPE_SERVER)

static void
stress_server_handle_cast (GenServer  *server,
                           GVariant   *message,
                           GError    **error)
{
  StressServer *self = STRESS_SERVER (server);
  guint sender, seq;

  g_variant_get (message, "(uu)", &sender, &seq);
  g_assert_cmpuint (sender, <, MAX_SENDERS);
  if (seq != self->next_seq[sender])
    {
      stress_fail ("sender %u: cast %u handled when %u was due", sender, seq,
                   self->next_seq[sender]);
      g_atomic_int_inc (&stress.violations);
    }
  self->next_seq[sender] = seq + 1;
  g_atomic_int_inc (&stress.casts_handled);
}

static void
busy_for (guint us)
{
  gint64 until = g_get_monotonic_time () + us;

  while (g_get_monotonic_time () < until)
    ;
}

static GVariant *
stress_server_handle_call (GenServer  *server,
                           GVariant   *message,
                           GError    **error)
{
  StressServer *self = STRESS_SERVER (server);
  guint sender, id, work_us, casts_before;

  g_variant_get (message, "(uuuu)", &sender, &id, &work_us, &casts_before);

  if (sender == BLOCKER)
    {
      g_mutex_lock (&stress.gate.lock);
      stress.gate.blocked++;
      stress.held_epoch = id;
      g_cond_broadcast (&stress.gate.cond);
      while (!stress.gate.open)
        g_cond_wait (&stress.gate.cond, &stress.gate.lock);
      stress.gate.blocked--;
      g_mutex_unlock (&stress.gate.lock);
      return g_variant_new ("(uu)", sender, id);
    }

  g_assert_cmpuint (sender, <, MAX_SENDERS);
  if (stress.ran != NULL)
    {
      g_assert_cmpuint (id, <, stress.n_ids);
      if (g_atomic_int_add (&stress.ran[id], 1) != 0)
        stress_fail ("call %u ran twice", id);
    }
  if (casts_before != NO_CHECK && self->next_seq[sender] != casts_before)
    {
      stress_fail ("sender %u: call sent after %u casts handled after only %u",
                   sender, casts_before, self->next_seq[sender]);
      g_atomic_int_inc (&stress.violations);
    }
  busy_for (work_us);
  return g_variant_new ("(uu)", sender, id);
}

static void
stress_server_class_init (StressServerClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->handle_cast = stress_server_handle_cast;
  server_class->handle_call = stress_server_handle_call;
  gen_server_class_set_cast_type (server_class, "(uu)");
  gen_server_class_set_call_type (server_class, "(uuuu)");
}

static void
stress_server_init (StressServer *self)
{
}

static void
stress_reset (guint n_ids)
{
  g_clear_pointer (&stress.ran, g_free);
  test_gate_clear (&stress.gate);
  memset (&stress, 0, sizeof stress);
  test_gate_init (&stress.gate);
  stress.gate.open = TRUE;
  if (n_ids > 0)
    {
      stress.ran = g_new0 (gint, n_ids);
      stress.n_ids = n_ids;
    }
}

static GVariant *
call_message (guint sender,
              guint id,
              guint work_us,
              guint casts_before)
{
  return g_variant_new ("(uuuu)", sender, id, work_us, casts_before);
}

/* Checks that @reply is the echo of (@sender, @id). */
static gboolean
reply_is (GVariant *reply,
          guint     sender,
          guint     id)
{
  guint reply_sender, reply_id;

  g_variant_get (reply, "(uu)", &reply_sender, &reply_id);
  return reply_sender == sender && reply_id == id;
}

/* Casts: N producers × M casts -------------------------------------------- */

#define CAST_PRODUCERS 8
#define CASTS_PER_PRODUCER 400000
/* A producer calls after this many casts: the call checks that all of its
 * casts before it were handled, and it keeps the mailbox from growing
 * without bound (a producer is faster than the server). */
#define CASTS_PER_CALL 5000

typedef struct
{
  GenServer *server;
  guint sender;
  guint n_casts;
} Producer;

static gpointer
producer_main (gpointer data)
{
  Producer *producer = data;

  for (guint seq = 0; seq < producer->n_casts && !stress_failed (); seq++)
    {
      g_autoptr(GError) error = NULL;

      if (!gen_server_cast (producer->server,
                            g_variant_new ("(uu)", producer->sender, seq), &error))
        {
          stress_fail ("sender %u: cast %u refused: %s", producer->sender, seq, error->message);
          break;
        }
      if ((seq + 1) % CASTS_PER_CALL == 0 || seq + 1 == producer->n_casts)
        {
          g_autoptr(GVariant) reply = NULL;

          reply = gen_server_call (producer->server,
                                   call_message (producer->sender, seq, 0, seq + 1),
                                   TEST_CALL_TIMEOUT_MS, &error);
          if (reply == NULL)
            {
              stress_fail ("sender %u: call after cast %u failed: %s",
                           producer->sender, seq, error->message);
              break;
            }
        }
    }
  return NULL;
}

static void
test_casts (void)
{
  g_autoptr(StressServer) server = g_object_new (stress_server_get_type (), NULL);
  Producer producers[CAST_PRODUCERS];
  GThread *threads[CAST_PRODUCERS];
  guint n_casts = CASTS_PER_PRODUCER * scale;

  watchdog_start ();
  stress_reset (0);
  test_start_ok (server, NULL);

  watchdog_note ("casting");
  for (guint i = 0; i < CAST_PRODUCERS; i++)
    {
      producers[i] = (Producer) { GEN_SERVER (server), i, n_casts };
      threads[i] = g_thread_new ("producer", producer_main, &producers[i]);
    }
  for (guint i = 0; i < CAST_PRODUCERS; i++)
    g_thread_join (threads[i]);

  watchdog_note ("stopping");
  test_stop_ok (server);
  stress_check_no_failure ();

  g_assert_cmpint (g_atomic_int_get (&stress.casts_handled), ==, CAST_PRODUCERS * n_casts);
  g_assert_cmpint (g_atomic_int_get (&stress.violations), ==, 0);
  for (guint i = 0; i < CAST_PRODUCERS; i++)
    g_assert_cmpuint (server->next_seq[i], ==, n_casts);
  watchdog_stop ();
}

/* Calls with random timeouts ----------------------------------------------
 *
 * Callers send calls with a random 0–2 ms timeout that keep the server busy
 * for a random 0–200 µs, while the test now and then holds the server at a
 * gate (a BLOCKER call). A call sent and given up on while the server was
 * held without a break was queued when its timeout fired, so it must never
 * run. (A call that timed out while the server was free may have been
 * running already, and then runs to its end; only "at most once" holds.)
 * Each call id is checked: run at most once; run exactly once if answered
 * with its reply, which must be its own; async calls answered exactly
 * once. */

#define SYNC_CALLERS 3
#define CALLS_PER_CALLER 24000
#define ASYNC_IN_FLIGHT 8

typedef enum
{
  OUTCOME_NONE,
  OUTCOME_REPLY,
  OUTCOME_TIMEOUT,
  OUTCOME_QUEUED_TIMEOUT, /* timed out while the server was held throughout */
} Outcome;

typedef struct
{
  GenServer *server;
  guint sender;
  guint first_id;
  guint n_calls;
  gint *outcomes;   /* (array) Outcome, one per id of the whole test; atomic */
  gint *answers;    /* (array) answers per id (async); atomic */
  GRand *rand;      /* owned */
  /* async only: the caller's thread */
  guint sent;
  guint in_flight;
} Caller;

static guint
held_epoch (void)
{
  guint epoch;

  g_mutex_lock (&stress.gate.lock);
  epoch = stress.held_epoch;
  g_mutex_unlock (&stress.gate.lock);
  return epoch;
}

/* Records the outcome of call @id sent while the gate epoch was
 * @epoch_before. */
static void
note_outcome (Caller   *caller,
              guint     id,
              guint     epoch_before,
              GVariant *reply,
              GError   *error)
{
  guint epoch_after = held_epoch ();
  Outcome outcome;

  if (reply != NULL)
    {
      if (!reply_is (reply, caller->sender, id))
        stress_fail ("call %u got another call's reply", id);
      outcome = OUTCOME_REPLY;
      g_mutex_lock (&stress.gate.lock);
      stress.replies++;
      g_cond_broadcast (&stress.gate.cond);
      g_mutex_unlock (&stress.gate.lock);
    }
  else if (g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT))
    {
      outcome = epoch_before != 0 && epoch_before == epoch_after
        ? OUTCOME_QUEUED_TIMEOUT : OUTCOME_TIMEOUT;
      if (outcome == OUTCOME_QUEUED_TIMEOUT)
        {
          g_mutex_lock (&stress.gate.lock);
          stress.queued_timeouts++;
          g_cond_broadcast (&stress.gate.cond);
          g_mutex_unlock (&stress.gate.lock);
        }
    }
  else
    {
      stress_fail ("call %u: unexpected error: %s", id, error ? error->message : "none");
      outcome = OUTCOME_NONE;
    }
  if (!g_atomic_int_compare_and_exchange (&caller->outcomes[id], OUTCOME_NONE, outcome))
    stress_fail ("call %u answered twice", id);
}

static void
caller_done (Caller *caller)
{
  g_mutex_lock (&stress.gate.lock);
  stress.callers_done++;
  g_cond_broadcast (&stress.gate.cond);
  g_mutex_unlock (&stress.gate.lock);
}

static gpointer
sync_caller_main (gpointer data)
{
  Caller *caller = data;

  for (guint i = 0; i < caller->n_calls && !stress_failed (); i++)
    {
      guint id = caller->first_id + i;
      gint timeout_ms = g_rand_int_range (caller->rand, 0, 3);
      guint work_us = g_rand_int_range (caller->rand, 0, 201);
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = NULL;
      guint epoch = held_epoch ();

      reply = gen_server_call (caller->server,
                               call_message (caller->sender, id, work_us, NO_CHECK),
                               timeout_ms, &error);
      note_outcome (caller, id, epoch, reply, error);
    }
  caller_done (caller);
  return NULL;
}

typedef struct
{
  Caller *caller;
  guint id;
  guint epoch;
} AsyncCall;

static void async_send (Caller *caller);

static void
async_call_done (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  AsyncCall *call = data;
  Caller *caller = call->caller;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = gen_server_call_finish (GEN_SERVER (source), result, &error);
  g_atomic_int_inc (&caller->answers[call->id]);
  note_outcome (caller, call->id, call->epoch, reply, error);
  caller->in_flight--;
  g_free (call);
  async_send (caller);
}

static void
async_send (Caller *caller)
{
  while (caller->in_flight < ASYNC_IN_FLIGHT && caller->sent < caller->n_calls &&
         !stress_failed ())
    {
      AsyncCall *call = g_new0 (AsyncCall, 1);
      gint timeout_ms = g_rand_int_range (caller->rand, 0, 3);
      guint work_us = g_rand_int_range (caller->rand, 0, 201);

      call->caller = caller;
      call->id = caller->first_id + caller->sent++;
      call->epoch = held_epoch ();
      caller->in_flight++;
      gen_server_call_async (caller->server,
                             call_message (caller->sender, call->id, work_us, NO_CHECK),
                             timeout_ms, NULL, async_call_done, call);
    }
}

static gpointer
async_caller_main (gpointer data)
{
  Caller *caller = data;
  GMainContext *context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  async_send (caller);
  while (caller->in_flight > 0)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  caller_done (caller);
  return NULL;
}

typedef struct
{
  GenServer *server;
  guint epoch;   /* nonzero, new for each hold */
} Blocker;

/* Holds the server at the gate from a thread of its own. */
static gpointer
blocker_main (gpointer data)
{
  Blocker *blocker = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = gen_server_call (blocker->server, call_message (BLOCKER, blocker->epoch, 0, NO_CHECK),
                           -1, &error);
  if (reply == NULL)
    stress_fail ("the gate call failed: %s", error->message);
  return NULL;
}

/* Waits, on the gate's lock, until *@field reaches @value or all
 * @n_callers are done. */
static void
gate_wait (guint *field,
           guint  value,
           guint  n_callers)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) STRESS_BOUND_S * scale * G_USEC_PER_SEC;

  while (*field < value && stress.callers_done < n_callers && !stress_failed ())
    if (!g_cond_wait_until (&stress.gate.cond, &stress.gate.lock, deadline))
      g_error ("waited in vain at the gate: %u of %u", *field, value);
}

static void
test_call_timeouts (void)
{
  g_autoptr(StressServer) server = g_object_new (stress_server_get_type (), NULL);
  const guint n_callers = SYNC_CALLERS + 1;
  guint n_calls = CALLS_PER_CALLER * scale;
  guint n_ids = n_callers * n_calls;
  Caller callers[SYNC_CALLERS + 1];
  GThread *threads[SYNC_CALLERS + 1];
  g_autofree gint *outcomes = g_new0 (gint, n_ids);
  g_autofree gint *answers = g_new0 (gint, n_ids);
  guint holds = 0;
  guint counts[4] = { 0, };

  watchdog_start ();
  stress_reset (n_ids);
  test_start_ok (server, NULL);

  /* The first hold starts before the callers, so that some calls surely
   * time out queued behind it. */
  g_mutex_lock (&stress.gate.lock);
  stress.gate.open = FALSE;
  g_mutex_unlock (&stress.gate.lock);

  for (guint i = 0; i < n_callers; i++)
    {
      callers[i] = (Caller) {
        .server = GEN_SERVER (server),
        .sender = i,
        .first_id = i * n_calls,
        .n_calls = n_calls,
        .outcomes = outcomes,
        .answers = answers,
        .rand = g_rand_new_with_seed (g_test_rand_int ()),
      };
    }

  watchdog_note ("holding the server at the gate while callers time out");
  for (gboolean started = FALSE; ; holds++)
    {
      Blocker hold = { GEN_SERVER (server), holds + 1 };
      GThread *blocker = g_thread_new ("blocker", blocker_main, &hold);

      g_mutex_lock (&stress.gate.lock);
      while (stress.gate.blocked == 0)
        g_cond_wait (&stress.gate.cond, &stress.gate.lock);
      g_mutex_unlock (&stress.gate.lock);

      if (!started)
        {
          for (gint i = 0; i < SYNC_CALLERS; i++)
            threads[i] = g_thread_new ("caller", sync_caller_main, &callers[i]);
          threads[SYNC_CALLERS] = g_thread_new ("async caller", async_caller_main,
                                                &callers[SYNC_CALLERS]);
          started = TRUE;
        }

      g_mutex_lock (&stress.gate.lock);
      gate_wait (&stress.queued_timeouts, stress.queued_timeouts + 4, n_callers);
      /* Cleared before the gate opens: a caller that sees the same nonzero
       * epoch before and after its call knew the server held throughout. */
      stress.held_epoch = 0;
      stress.gate.open = TRUE;
      g_cond_broadcast (&stress.gate.cond);
      g_mutex_unlock (&stress.gate.lock);
      g_thread_join (blocker);

      g_mutex_lock (&stress.gate.lock);
      if (stress.callers_done == n_callers || stress_failed ())
        {
          g_mutex_unlock (&stress.gate.lock);
          break;
        }
      /* Let some calls through before the next hold. */
      gate_wait (&stress.replies, stress.replies + 16, n_callers);
      stress.gate.open = FALSE;
      g_mutex_unlock (&stress.gate.lock);
    }

  for (guint i = 0; i < n_callers; i++)
    g_thread_join (threads[i]);

  watchdog_note ("stopping");
  test_stop_ok (server);
  stress_check_no_failure ();

  for (guint id = 0; id < n_ids; id++)
    {
      gint ran = g_atomic_int_get (&stress.ran[id]);
      Outcome outcome = g_atomic_int_get (&outcomes[id]);

      counts[outcome]++;
      if (outcome == OUTCOME_NONE)
        g_error ("call %u was never answered", id);
      if (outcome == OUTCOME_REPLY && ran != 1)
        g_error ("call %u was answered with its reply but ran %d times", id, ran);
      if (outcome == OUTCOME_QUEUED_TIMEOUT && ran != 0)
        g_error ("call %u timed out while queued, yet it ran", id);
      g_assert_cmpint (ran, <=, 1);
      if (id >= callers[SYNC_CALLERS].first_id)
        g_assert_cmpint (answers[id], ==, 1);
    }
  g_test_message ("%u calls: %u replies, %u timed out, %u of them while queued, in %u holds",
                  n_ids, counts[OUTCOME_REPLY],
                  counts[OUTCOME_TIMEOUT] + counts[OUTCOME_QUEUED_TIMEOUT],
                  counts[OUTCOME_QUEUED_TIMEOUT], holds + 1);
  g_assert_cmpuint (counts[OUTCOME_QUEUED_TIMEOUT], >, 0);

  for (guint i = 0; i < n_callers; i++)
    g_rand_free (callers[i].rand);
  watchdog_stop ();
}

/* Stopping and restarting under fire -------------------------------------
 *
 * Workers cast and call without a break while other threads stop and
 * restart the server. A cast that was accepted must be handled, in its
 * sender's order, even across restarts; a refused one is refused with
 * NOT_RUNNING and takes no sequence number. A call gets its reply, or
 * NOT_RUNNING, or STOPPED. */

#define RESTART_WORKERS 4
#define RESTART_CYCLES 20000
#define CASTS_PER_WORKER_CALL 64
/* A stop given this long has plainly been waiting for the wrong thing. */
#define STOP_TIMEOUT_MS 20000

typedef struct
{
  GenServer *server;
  guint sender;
  guint accepted;   /* the worker's thread; read after it is joined */
  guint calls_answered;
  gint *stop;       /* atomic, shared */
} Worker;

static gpointer
worker_main (gpointer data)
{
  Worker *worker = data;
  guint call_id = 0;

  while (!g_atomic_int_get (worker->stop) && !stress_failed ())
    {
      for (guint i = 0; i < CASTS_PER_WORKER_CALL; i++)
        {
          g_autoptr(GError) error = NULL;

          if (gen_server_cast (worker->server,
                               g_variant_new ("(uu)", worker->sender, worker->accepted), &error))
            worker->accepted++;
          else if (!g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING))
            stress_fail ("sender %u: cast refused with %s", worker->sender, error->message);
        }

      {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL;

        reply = gen_server_call (worker->server,
                                 call_message (worker->sender, call_id, 0, NO_CHECK),
                                 TEST_CALL_TIMEOUT_MS, &error);
        if (reply != NULL)
          {
            if (!reply_is (reply, worker->sender, call_id))
              stress_fail ("sender %u: call %u got another call's reply", worker->sender, call_id);
            worker->calls_answered++;
          }
        else if (!error_is_one_of (error, 2, GEN_SERVER_ERROR_NOT_RUNNING, GEN_SERVER_ERROR_STOPPED))
          stress_fail ("sender %u: call %u failed with %s", worker->sender, call_id,
                       error->message);
        call_id++;
      }
    }
  return NULL;
}

/* Whether a start failed because another thread got there first: the
 * server runs already, or another thread stopped it right after its init
 * (which start may report as either). */
static gboolean
start_lost_race (const GError *error)
{
  return error_is_one_of (error, 3, GEN_SERVER_ERROR_ALREADY_RUNNING,
                          GEN_SERVER_ERROR_NOT_RUNNING, GEN_SERVER_ERROR_STOPPED);
}

typedef struct
{
  GenServer *server;
  guint cycles;
  guint stops;      /* the restarter's thread; read after it is joined */
  guint starts;
  gint *stopping;   /* atomic, shared: a restarter is inside stop() */
  gint *active;     /* atomic, shared: restarters still cycling */
} Restarter;

/* stop() then start(), each of which may find that another thread got
 * there first. Restarters take turns to stop, and one that finds the
 * server running when it wants to start tries again until the other stops
 * it: so its start comes in the middle of the other's stop, but no second
 * stop ever ends the run that the first one waits for. A stop that waits
 * for the end of a later run than its own then waits for ever. */
static gpointer
restarter_main (gpointer data)
{
  Restarter *restarter = data;

  for (guint i = 0; i < restarter->cycles && !stress_failed (); i++)
    {
      g_autoptr(GError) stop_error = NULL;
      g_autoptr(GError) start_error = NULL;
      gboolean stopped;

      while (!g_atomic_int_compare_and_exchange (restarter->stopping, FALSE, TRUE))
        g_thread_yield ();
      stopped = gen_server_stop (restarter->server, STOP_TIMEOUT_MS, &stop_error);
      g_atomic_int_set (restarter->stopping, FALSE);

      if (stopped)
        restarter->stops++;
      else if (g_error_matches (stop_error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT))
        stress_fail ("stop waited %d ms in vain: %s (#10, defect 1)",
                     STOP_TIMEOUT_MS, stop_error->message);
      else if (!g_error_matches (stop_error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING))
        stress_fail ("stop failed with %s", stop_error->message);

      while (!stress_failed ())
        {
          g_clear_error (&start_error);
          if (gen_server_start (restarter->server, NULL, &start_error))
            {
              restarter->starts++;
              break;
            }
          if (start_error == NULL)
            stress_fail ("start returned FALSE without an error (#10, defect 2)");
          else if (!start_lost_race (start_error))
            stress_fail ("start failed with %s", start_error->message);
          else if (!g_error_matches (start_error, GEN_SERVER_ERROR,
                                     GEN_SERVER_ERROR_ALREADY_RUNNING) ||
                   g_atomic_int_get (restarter->active) < 2)
            break;
          g_thread_yield ();
        }
    }
  g_atomic_int_add (restarter->active, -1);
  return NULL;
}

static void
run_restarts (guint n_restarters,
              guint cycles)
{
  g_autoptr(StressServer) server = g_object_new (stress_server_get_type (), NULL);
  Worker workers[RESTART_WORKERS];
  GThread *worker_threads[RESTART_WORKERS];
  Restarter restarters[4];
  GThread *restarter_threads[4];
  gint stop = FALSE;
  gint stopping = FALSE;
  gint active = n_restarters;
  guint accepted = 0, stops = 0, starts = 0, answered = 0;

  g_assert_cmpuint (n_restarters, <=, G_N_ELEMENTS (restarters));
  watchdog_start ();
  stress_reset (0);
  test_start_ok (server, NULL);

  watchdog_note ("restarting while workers cast and call");
  for (guint i = 0; i < RESTART_WORKERS; i++)
    {
      workers[i] = (Worker) { .server = GEN_SERVER (server), .sender = i, .stop = &stop };
      worker_threads[i] = g_thread_new ("worker", worker_main, &workers[i]);
    }
  for (guint i = 0; i < n_restarters; i++)
    {
      restarters[i] = (Restarter) {
        .server = GEN_SERVER (server),
        .cycles = cycles * scale / n_restarters,
        .stopping = &stopping,
        .active = &active,
      };
      restarter_threads[i] = g_thread_new ("restarter", restarter_main, &restarters[i]);
    }
  for (guint i = 0; i < n_restarters; i++)
    {
      g_thread_join (restarter_threads[i]);
      stops += restarters[i].stops;
      starts += restarters[i].starts;
    }
  g_atomic_int_set (&stop, TRUE);
  for (guint i = 0; i < RESTART_WORKERS; i++)
    {
      g_thread_join (worker_threads[i]);
      accepted += workers[i].accepted;
      answered += workers[i].calls_answered;
    }

  watchdog_note ("stopping");
  if (gen_server_is_running (GEN_SERVER (server)))
    test_stop_ok (server);
  stress_check_no_failure ();

  g_test_message ("%u stops, %u starts; %u casts accepted, %u calls answered",
                  stops, starts, accepted, answered);
  g_assert_cmpuint (stops, >, 0);
  g_assert_cmpint (g_atomic_int_get (&stress.violations), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&stress.casts_handled), ==, accepted);
  for (guint i = 0; i < RESTART_WORKERS; i++)
    g_assert_cmpuint (server->next_seq[i], ==, workers[i].accepted);
  watchdog_stop ();
}

static void
test_restart_one_thread (void)
{
  run_restarts (1, RESTART_CYCLES);
}

/* #10, defects 1 and 2: skipped until the core is fixed. */

/* Two threads stop and restart the same server: a stop must end when the
 * run it stopped ends, even if the other thread started a new one since. */
static void
test_restart_two_threads (void)
{
  run_restarts (2, RESTART_CYCLES / 2);
}

typedef struct
{
  GenServer *server;
  guint cycles;
  gint done;    /* atomic */
  guint starts; /* the starter's thread; read after it is joined */
} StartStop;

static gpointer
starter_main (gpointer data)
{
  StartStop *race = data;

  while (race->starts < race->cycles && !stress_failed ())
    {
      g_autoptr(GError) error = NULL;

      if (gen_server_start (race->server, NULL, &error))
        race->starts++;
      else if (error == NULL)
        stress_fail ("start returned FALSE without an error (#10, defect 2)");
      else if (!start_lost_race (error))
        stress_fail ("start failed with %s", error->message);
      else if (g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_ALREADY_RUNNING))
        {
          /* The stopper has not stopped the last run yet. */
          while (gen_server_is_running (race->server) && !stress_failed ())
            g_thread_yield ();
        }
    }
  g_atomic_int_set (&race->done, TRUE);
  return NULL;
}

static gpointer
stopper_main (gpointer data)
{
  StartStop *race = data;

  while (!g_atomic_int_get (&race->done) && !stress_failed ())
    {
      g_autoptr(GError) error = NULL;

      /* Stop as soon as it runs: right after init, while start returns. */
      if (!gen_server_is_running (race->server))
        {
          g_thread_yield ();
          continue;
        }
      if (gen_server_stop (race->server, STOP_TIMEOUT_MS, &error))
        continue;
      if (g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT))
        stress_fail ("stop waited %d ms in vain: %s (#10, defect 1)",
                     STOP_TIMEOUT_MS, error->message);
      else if (!g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING))
        stress_fail ("stop failed with %s", error->message);
    }
  return NULL;
}

/* One thread starts the server again and again, another stops it the
 * moment it runs, while workers cast and call: start must succeed or say
 * why not. */
static void
test_restart_start_stop_race (void)
{
  g_autoptr(StressServer) server = NULL;
  StartStop race = { 0, };
  Worker workers[2];
  GThread *threads[2], *starter, *stopper;
  gint stop = FALSE;
  guint accepted = 0;


  server = g_object_new (stress_server_get_type (), NULL);
  watchdog_start ();
  stress_reset (0);
  race = (StartStop) { .server = GEN_SERVER (server), .cycles = RESTART_CYCLES / 4 * scale };

  watchdog_note ("starting and stopping from two threads");
  for (guint i = 0; i < G_N_ELEMENTS (workers); i++)
    {
      workers[i] = (Worker) { .server = GEN_SERVER (server), .sender = i, .stop = &stop };
      threads[i] = g_thread_new ("worker", worker_main, &workers[i]);
    }
  stopper = g_thread_new ("stopper", stopper_main, &race);
  starter = g_thread_new ("starter", starter_main, &race);
  g_thread_join (starter);
  g_thread_join (stopper);
  g_atomic_int_set (&stop, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (workers); i++)
    {
      g_thread_join (threads[i]);
      accepted += workers[i].accepted;
    }

  watchdog_note ("stopping");
  if (gen_server_is_running (GEN_SERVER (server)))
    test_stop_ok (server);
  stress_check_no_failure ();

  g_test_message ("%u starts; %u casts accepted", race.starts, accepted);
  g_assert_cmpuint (race.starts, >, 0);
  g_assert_cmpint (g_atomic_int_get (&stress.violations), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&stress.casts_handled), ==, accepted);
  watchdog_stop ();
}

/* Supervisor crash storms -------------------------------------------------
 *
 * Threads cast "crash" at a supervisor's children and call them, again and
 * again, fetching each child anew since every restart is a new instance.
 * Below the intensity (a budget of exactly `intensity` crashes, all within
 * the period), the supervisor restarts each crashed child and keeps
 * running; above it (no budget), it gives up with TOO_MANY_RESTARTS and
 * every child it ever started ends up stopped. */

#define STORM_CHILDREN 4
#define STORM_THREADS 3
#define STORM_INTENSITY 3000
#define STORM_PERIOD_MS (3600 * 1000)

static struct
{
  gint budget;      /* atomic: crashes still allowed */
  gint crashes;     /* atomic */
  gint inits;       /* atomic */
  gint terminates;  /* atomic */
  GMutex lock;
  GPtrArray *instances; /* (element-type StressWorker) owned refs; lock */
} storm;

struct _StressWorker
{
  GenServer parent_instance;
};

G_DECLARE_FINAL_TYPE (StressWorker, stress_worker, STRESS, WORKER, GenServer)
G_DEFINE_TYPE (StressWorker, stress_worker, GEN_TYPE_SERVER)

static void
stress_worker_init_server (GenServer  *server,
                           GVariant   *args,
                           GError    **error)
{
  g_mutex_lock (&storm.lock);
  g_ptr_array_add (storm.instances, g_object_ref (server));
  g_mutex_unlock (&storm.lock);
  g_atomic_int_inc (&storm.inits);
}

static void
stress_worker_handle_cast (GenServer  *server,
                           GVariant   *message,
                           GError    **error)
{
  if (g_atomic_int_add (&storm.budget, -1) > 0)
    {
      g_atomic_int_inc (&storm.crashes);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "crashed on purpose");
    }
}

static GVariant *
stress_worker_handle_call (GenServer  *server,
                           GVariant   *message,
                           GError    **error)
{
  return g_variant_ref_sink (g_variant_new_string ("pong"));
}

static void
stress_worker_terminate (GenServer    *server,
                         const GError *reason)
{
  g_atomic_int_inc (&storm.terminates);
}

static void
stress_worker_class_init (StressWorkerClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->init = stress_worker_init_server;
  server_class->handle_cast = stress_worker_handle_cast;
  server_class->handle_call = stress_worker_handle_call;
  server_class->terminate = stress_worker_terminate;
  gen_server_class_set_cast_type (server_class, "s");
}

static void
stress_worker_init (StressWorker *self)
{
}

typedef struct
{
  GenSupervisor *supervisor;
  gint *stop;       /* atomic, shared */
  guint casts;      /* the storm thread's; read after it is joined */
} Storm;

static gpointer
storm_main (gpointer data)
{
  Storm *storm_thread = data;

  while (!g_atomic_int_get (storm_thread->stop) && !stress_failed ())
    for (guint i = 0; i < STORM_CHILDREN; i++)
      {
        g_autofree gchar *id = g_strdup_printf ("child-%u", i);
        g_autoptr(GenServer) child = gen_supervisor_get_child (storm_thread->supervisor, id);
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL;

        if (child == NULL)
          continue;   /* between two instances, or given up */
        if (gen_server_cast (child, g_variant_new_string ("crash"), &error))
          storm_thread->casts++;
        else if (!g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING))
          stress_fail ("cast to %s failed with %s", id, error->message);
        g_clear_error (&error);

        reply = gen_server_call (child, g_variant_new ("()"), TEST_CALL_TIMEOUT_MS, &error);
        if (reply != NULL)
          {
            if (!g_str_equal (g_variant_get_string (reply, NULL), "pong"))
              stress_fail ("%s answered %s", id, g_variant_get_string (reply, NULL));
          }
        else if (!error_is_one_of (error, 2, GEN_SERVER_ERROR_NOT_RUNNING, GEN_SERVER_ERROR_STOPPED))
          stress_fail ("call to %s failed with %s", id, error->message);
      }
  return NULL;
}

static GenSupervisor *
storm_supervisor_start (GenSupervisorStrategy strategy,
                        gint                  budget)
{
  GenSupervisor *supervisor = gen_supervisor_new (strategy, STORM_INTENSITY * scale,
                                                  STORM_PERIOD_MS);
  GenChildSpec *specs[STORM_CHILDREN];

  storm.budget = budget;
  storm.crashes = storm.inits = storm.terminates = 0;
  g_ptr_array_set_size (storm.instances, 0);

  for (guint i = 0; i < STORM_CHILDREN; i++)
    {
      g_autofree gchar *id = g_strdup_printf ("child-%u", i);

      specs[i] = gen_child_spec_new (id, stress_worker_get_type (), NULL);
      gen_child_spec_set_restart (specs[i], GEN_CHILD_RESTART_PERMANENT);
    }
  test_start_ok (supervisor, gen_supervisor_build_args (specs, STORM_CHILDREN));
  for (guint i = 0; i < STORM_CHILDREN; i++)
    gen_child_spec_unref (specs[i]);
  return supervisor;
}

static void
storm_run (GenSupervisor *supervisor,
           Storm         *storms,
           GThread      **threads,
           gint          *stop)
{
  for (guint i = 0; i < STORM_THREADS; i++)
    {
      storms[i] = (Storm) { .supervisor = supervisor, .stop = stop };
      threads[i] = g_thread_new ("storm", storm_main, &storms[i]);
    }
}

static void
storm_join (Storm    *storms,
            GThread **threads,
            gint     *stop)
{
  g_atomic_int_set (stop, TRUE);
  for (guint i = 0; i < STORM_THREADS; i++)
    g_thread_join (threads[i]);
}

/* Drops the test's references to the instances: finalizing one joins its
 * thread, which a child that crashed for good leaves to it. */
static void
storm_release (void)
{
  g_mutex_lock (&storm.lock);
  g_ptr_array_set_size (storm.instances, 0);
  g_mutex_unlock (&storm.lock);
}

static gboolean
all_instances_stopped (gpointer data)
{
  gboolean stopped = TRUE;

  g_mutex_lock (&storm.lock);
  for (guint i = 0; i < storm.instances->len && stopped; i++)
    stopped = !gen_server_is_running (g_ptr_array_index (storm.instances, i));
  g_mutex_unlock (&storm.lock);
  return stopped;
}

/* Whether every child is a running instance and the supervisor has heard
 * of every instance that stopped: its reply to a call comes after the exit
 * notices queued before the call, and a stopped instance queued its notice
 * before it was seen stopped. */
static gboolean
storm_settled (gpointer data)
{
  GenSupervisor *supervisor = data;
  g_auto(GStrv) ids = NULL;
  guint running = 0, stopped = 0;
  gint inits = g_atomic_int_get (&storm.inits);

  g_mutex_lock (&storm.lock);
  for (guint i = 0; i < storm.instances->len; i++)
    if (gen_server_is_running (g_ptr_array_index (storm.instances, i)))
      running++;
    else
      stopped++;
  g_mutex_unlock (&storm.lock);
  if (running != STORM_CHILDREN || running + stopped != (guint) inits)
    return FALSE;

  ids = gen_supervisor_which_children (supervisor, NULL);
  return ids != NULL && g_atomic_int_get (&storm.inits) == inits;
}

static void
run_storm_below (GenSupervisorStrategy strategy)
{
  g_autoptr(GenSupervisor) supervisor = NULL;
  Storm storms[STORM_THREADS];
  GThread *threads[STORM_THREADS];
  gint stop = FALSE;
  gint budget = STORM_INTENSITY * scale;

  watchdog_start ();
  supervisor = storm_supervisor_start (strategy, budget);

  watchdog_note ("crashing children below the intensity");
  storm_run (supervisor, storms, threads, &stop);
  wait_for_count (&storm.crashes, budget, "crashes");
  storm_join (storms, threads, &stop);
  stress_check_no_failure ();

  watchdog_note ("waiting for the last restarts");
  test_wait_until (storm_settled, supervisor);
  g_assert_true (gen_server_is_running (GEN_SERVER (supervisor)));
  if (strategy == GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE)
    g_assert_cmpint (g_atomic_int_get (&storm.inits), ==, STORM_CHILDREN + budget);
  else
    {
      /* Each restart starts all children again; a child that crashes while
       * it is being stopped for another's restart costs no restart. */
      g_assert_cmpint (g_atomic_int_get (&storm.inits) % STORM_CHILDREN, ==, 0);
      g_assert_cmpint (g_atomic_int_get (&storm.inits), >, STORM_CHILDREN);
      g_assert_cmpint (g_atomic_int_get (&storm.inits), <=, STORM_CHILDREN * (1 + budget));
    }
  for (guint i = 0; i < STORM_CHILDREN; i++)
    {
      g_autofree gchar *id = g_strdup_printf ("child-%u", i);
      g_autoptr(GenServer) child = gen_supervisor_get_child (supervisor, id);
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = NULL;

      g_assert_nonnull (child);
      reply = gen_server_call (child, g_variant_new ("()"), TEST_CALL_TIMEOUT_MS, &error);
      g_assert_no_error (error);
    }

  watchdog_note ("stopping");
  test_stop_ok (supervisor);
  g_assert_true (all_instances_stopped (NULL));
  g_assert_cmpint (g_atomic_int_get (&storm.terminates), ==, g_atomic_int_get (&storm.inits));
  g_test_message ("%d crashes, %d starts", storm.crashes, storm.inits);
  storm_release ();
  watchdog_stop ();
}

static void
on_supervisor_stopped (GenServer    *server,
                       const GError *reason,
                       gpointer      data)
{
  GError **reason_out = data;

  *reason_out = reason ? g_error_copy (reason)
                       : g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "stopped normally");
}

static void
run_storm_above (GenSupervisorStrategy strategy)
{
  g_autoptr(GenSupervisor) supervisor = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) reason = NULL;
  Storm storms[STORM_THREADS];
  GThread *threads[STORM_THREADS];
  gint stop = FALSE;
  gint64 deadline = g_get_monotonic_time () + (gint64) STRESS_BOUND_S * scale * G_USEC_PER_SEC;

  watchdog_start ();
  supervisor = storm_supervisor_start (strategy, G_MAXINT);
  g_main_context_push_thread_default (context);
  gen_server_monitor (GEN_SERVER (supervisor), on_supervisor_stopped, &reason, NULL);

  watchdog_note ("crashing children above the intensity");
  storm_run (supervisor, storms, threads, &stop);
  while (reason == NULL)
    {
      g_main_context_iteration (context, FALSE);
      if (reason == NULL && !g_main_context_pending (context))
        {
          if (g_get_monotonic_time () > deadline)
            g_error ("the supervisor did not give up: %d crashes", g_atomic_int_get (&storm.crashes));
          g_thread_yield ();
        }
    }
  storm_join (storms, threads, &stop);
  g_main_context_pop_thread_default (context);
  stress_check_no_failure ();

  g_assert_error (reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TOO_MANY_RESTARTS);
  g_assert_false (gen_server_is_running (GEN_SERVER (supervisor)));
  g_assert_cmpint (g_atomic_int_get (&storm.crashes), >, STORM_INTENSITY * scale);
  /* Exactly `intensity` restarts: of the crashed child, or of all. */
  if (strategy == GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE)
    g_assert_cmpint (g_atomic_int_get (&storm.inits), ==, STORM_CHILDREN + STORM_INTENSITY * scale);
  else
    g_assert_cmpint (g_atomic_int_get (&storm.inits), ==,
                     STORM_CHILDREN * (1 + STORM_INTENSITY * scale));
  watchdog_note ("waiting for every child to stop");
  test_wait_until (all_instances_stopped, NULL);
  g_assert_cmpint (g_atomic_int_get (&storm.terminates), ==, g_atomic_int_get (&storm.inits));
  g_test_message ("%d crashes, %d starts", storm.crashes, storm.inits);
  storm_release ();
  watchdog_stop ();
}

static void
test_storm_one_for_one_below (void)
{
  run_storm_below (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE);
}

static void
test_storm_one_for_one_above (void)
{
  run_storm_above (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE);
}

static void
test_storm_one_for_all_below (void)
{
  run_storm_below (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ALL);
}

static void
test_storm_one_for_all_above (void)
{
  run_storm_above (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ALL);
}

/* Crash reports (and warnings): here they are the point. */
static void
count_warning (const gchar    *domain,
               GLogLevelFlags  level,
               const gchar    *message,
               gpointer        user_data)
{
}

int
main (int    argc,
      char **argv)
{
  /* --scale N or --scale=N, taken out before GTest sees the arguments. */
  for (gint i = 1; i < argc; i++)
    {
      const gchar *value = NULL;
      gint used = 0;

      if (g_str_has_prefix (argv[i], "--scale="))
        value = argv[i] + strlen ("--scale="), used = 1;
      else if (g_str_equal (argv[i], "--scale") && i + 1 < argc)
        value = argv[i + 1], used = 2;
      if (used == 0)
        continue;
      scale = MAX (1, (guint) g_ascii_strtoull (value, NULL, 10));
      memmove (&argv[i], &argv[i + used], (argc - i - used + 1) * sizeof (gchar *));
      argc -= used;
      i--;
    }

  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_log_set_handler ("Gen", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE, count_warning, NULL);
  test_gate_init (&stress.gate);
  g_mutex_init (&storm.lock);
  storm.instances = g_ptr_array_new_with_free_func (g_object_unref);

  g_test_add_func ("/stress/casts", test_casts);
  g_test_add_func ("/stress/call-timeouts", test_call_timeouts);
  g_test_add_func ("/stress/restart/one-thread", test_restart_one_thread);
  g_test_add_func ("/stress/restart/two-threads", test_restart_two_threads);
  g_test_add_func ("/stress/restart/start-stop-race", test_restart_start_stop_race);
  g_test_add_func ("/stress/supervisor/one-for-one/below-intensity", test_storm_one_for_one_below);
  g_test_add_func ("/stress/supervisor/one-for-one/above-intensity", test_storm_one_for_one_above);
  g_test_add_func ("/stress/supervisor/one-for-all/below-intensity", test_storm_one_for_all_below);
  g_test_add_func ("/stress/supervisor/one-for-all/above-intensity", test_storm_one_for_all_above);

  return g_test_run ();
}
