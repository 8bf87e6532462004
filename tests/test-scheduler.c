/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* What only the schedulers promise: the pool API, hand-off to the caller,
 * deep chains of synchronous calls, fairness between pool servers, and no
 * thread left behind once every server stopped. The rest of the server's
 * semantics are checked on every scheduler by the other suites (their
 * "-pool" runs). */

#define _GNU_SOURCE /* sched_getcpu(), CPU_SET() */

#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include <genserver/genserver.h>

#include "genserver/gen-mailbox-private.h"
#include "genserver/gen-spin-private.h"
#include "test-common.h"

/* A server that speaks (sx): "thread" answers the handler's thread,
 * "chain" calls `next` with the same request and answers its reply + 1,
 * "stop-next" stops `next` and lets go of it, "work" (cast or call) keeps
 * the processor busy for x µs, "crash" (cast) crashes. */
struct _TestLink
{
  GenServer parent_instance;

  GenServer *next;          /* owned; set before start, read by the handlers */
  gint chain_timeout_ms;    /* set before start */
  gint handled;             /* atomic: casts handled */
};

G_DECLARE_FINAL_TYPE (TestLink, test_link, TEST, LINK, GenServer)
G_DEFINE_TYPE (TestLink, test_link, GEN_TYPE_SERVER)

static void
busy_for (gint64 us)
{
  gint64 until = g_get_monotonic_time () + us;

  while (g_get_monotonic_time () < until)
    ;
}

static void
test_link_handle_cast (GenServer  *server,
                       GVariant   *message,
                       GError    **error)
{
  TestLink *self = TEST_LINK (server);
  const gchar *command;
  gint64 arg;

  g_variant_get (message, "(&sx)", &command, &arg);
  if (g_str_equal (command, "work"))
    busy_for (arg);
  else if (g_str_equal (command, "crash"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "crashed on purpose");
  g_atomic_int_inc (&self->handled);
}

static GVariant *
test_link_handle_call (GenServer  *server,
                       GVariant   *message,
                       GError    **error)
{
  TestLink *self = TEST_LINK (server);
  const gchar *command;
  gint64 arg;

  g_variant_get (message, "(&sx)", &command, &arg);
  if (g_str_equal (command, "thread"))
    return g_variant_new_int64 ((gint64) GPOINTER_TO_SIZE (g_thread_self ()));
  if (g_str_equal (command, "work"))
    {
      busy_for (arg);
      return g_variant_new_int64 (arg);
    }
  if (g_str_equal (command, "chain"))
    {
      g_autoptr(GVariant) reply = NULL;

      if (self->next == NULL)
        return g_variant_new_int64 (1);
      reply = gen_server_call (self->next, message, self->chain_timeout_ms, error);
      return reply ? g_variant_new_int64 (g_variant_get_int64 (reply) + 1) : NULL;
    }
  if (g_str_equal (command, "stop-next"))
    {
      gboolean stopped = gen_server_stop (self->next, -1, error);

      g_clear_object (&self->next);
      return stopped ? g_variant_new_int64 (0) : NULL;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unknown command %s", command);
  return NULL;
}

static void
test_link_dispose (GObject *object)
{
  g_clear_object (&TEST_LINK (object)->next);
  G_OBJECT_CLASS (test_link_parent_class)->dispose (object);
}

static void
test_link_class_init (TestLinkClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = test_link_dispose;
  GEN_SERVER_CLASS (klass)->handle_cast = test_link_handle_cast;
  GEN_SERVER_CLASS (klass)->handle_call = test_link_handle_call;
  gen_server_class_set_call_type (GEN_SERVER_CLASS (klass), "(sx)");
  gen_server_class_set_cast_type (GEN_SERVER_CLASS (klass), "(sx)");
}

static void
test_link_init (TestLink *self)
{
  self->chain_timeout_ms = -1;
}

static TestLink *
link_new (GenScheduler *scheduler)
{
  return g_object_new (test_link_get_type (), "scheduler", scheduler, NULL);
}

static gint64
call_int64 (gpointer     server,
            const gchar *command,
            gint64       arg,
            gint         timeout_ms)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = gen_server_call (GEN_SERVER (server), test_message (command, arg),
                                               timeout_ms, &error);

  g_assert_no_error (error);
  return g_variant_get_int64 (reply);
}

/* The threads of this process that genserver started: they are all named
 * "genserver…". */
static guint
count_genserver_threads (void)
{
  return test_count_threads ("genserver");
}

static gboolean
no_genserver_thread (gpointer data)
{
  return count_genserver_threads () == 0;
}

static void
test_default_pool (void)
{
  GenScheduler *pool = gen_scheduler_get_default ();
  g_autoptr(TestLink) server = link_new (pool);

  g_assert_true (GEN_IS_SCHEDULER (pool));
  g_assert_true (gen_scheduler_get_default () == pool);
  g_assert_cmpuint (gen_scheduler_get_n_workers (pool), ==, g_get_num_processors ());
  g_assert_true (gen_server_get_scheduler (GEN_SERVER (server)) == pool);

  test_start_ok (server, NULL);
  g_assert_cmpint (call_int64 (server, "work", 7, TEST_CALL_TIMEOUT_MS), ==, 7);
  test_stop_ok (server);
}

static void
test_new_pool (void)
{
  g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (3);
  TestLink *servers[10];
  guint n_workers;

  g_object_get (pool, "n-workers", &n_workers, NULL);
  g_assert_cmpuint (n_workers, ==, 3);

  for (guint i = 0; i < G_N_ELEMENTS (servers); i++)
    servers[i] = test_start_ok (link_new (pool), NULL);
  for (guint i = 0; i < G_N_ELEMENTS (servers); i++)
    {
      g_autoptr(GError) error = NULL;

      for (guint j = 0; j < 100; j++)
        g_assert_true (gen_server_cast (GEN_SERVER (servers[i]), test_message ("add", 1), &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (servers); i++)
    {
      /* A call comes after the casts sent before it by the same thread. */
      call_int64 (servers[i], "work", 0, TEST_CALL_TIMEOUT_MS);
      g_assert_cmpint (g_atomic_int_get (&servers[i]->handled), ==, 100);
      test_stop_ok (servers[i]);
      g_object_unref (servers[i]);
    }
}

static gboolean
runs_on_caller (gpointer server)
{
  return call_int64 (server, "thread", 0, -1) == (gint64) GPOINTER_TO_SIZE (g_thread_self ());
}

/* A call without a deadline to an idle pool server runs its handler right
 * on the caller's thread; one with a deadline is queued for a worker, so
 * that the caller can give up. */
static void
test_hand_off (void)
{
  g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (1);
  g_autoptr(TestLink) server = test_start_ok (link_new (pool), NULL);
  gint64 self_thread = (gint64) GPOINTER_TO_SIZE (g_thread_self ());

  g_assert_cmpint (call_int64 (server, "thread", 0, -1), ==, self_thread);
  g_assert_cmpint (call_int64 (server, "thread", 0, TEST_CALL_TIMEOUT_MS), !=, self_thread);
  /* Idle again once the worker that answered has let go of it, which may
   * be a moment after the answer. */
  test_wait_until (runs_on_caller, server);
  test_stop_ok (server);
}

/* A call with a deadline to a server kept busy times out as it would on a
 * thread of its own, even though a call without one would run inline. */
static void
test_timeout_on_pool (void)
{
  g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (1);
  g_autoptr(TestLink) server = test_start_ok (link_new (pool), NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_true (gen_server_cast (GEN_SERVER (server), test_message ("work", 200000), NULL));
  reply = gen_server_call (GEN_SERVER (server), test_message ("thread", 0), 10, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_assert_null (reply);
  test_stop_ok (server);
}

/* A chain of synchronous calls through servers of one pool, deeper than it
 * has workers, completes: inline without deadlines, and with deadlines
 * through workers the pool adds while the others wait. */
static void
check_chain (gint timeout_ms)
{
  g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (2);
  const guint depth = 4 * 2 + 3;
  TestLink *links[4 * 2 + 3];

  for (guint i = 0; i < depth; i++)
    {
      links[i] = link_new (pool);
      links[i]->chain_timeout_ms = timeout_ms;
      if (i > 0)
        links[i]->next = g_object_ref (GEN_SERVER (links[i - 1]));
      test_start_ok (links[i], NULL);
    }

  for (guint round = 0; round < 20; round++)
    g_assert_cmpint (call_int64 (links[depth - 1], "chain", 0, timeout_ms), ==, depth);

  for (guint i = depth; i-- > 0;)
    {
      test_stop_ok (links[i]);
      g_object_unref (links[i]);
    }
}

static void
test_deep_chain_inline (void)
{
  check_chain (-1);
}

static void
test_deep_chain_queued (void)
{
  check_chain (TEST_CALL_TIMEOUT_MS);
}

/* A chain from the default pool through itself: a handler of a pool server
 * calling back into one of its callers is refused at once, not deadlocked. */
static void
test_calling_self_through_chain (void)
{
  g_autoptr(TestLink) a = link_new (gen_scheduler_get_default ());
  g_autoptr(TestLink) b = link_new (gen_scheduler_get_default ());
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  a->next = g_object_ref (GEN_SERVER (b));
  b->next = g_object_ref (GEN_SERVER (a));
  test_start_ok (a, NULL);
  test_start_ok (b, NULL);

  reply = gen_server_call (GEN_SERVER (a), test_message ("chain", 0), -1, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_CALLING_SELF);

  test_stop_ok (a);
  test_stop_ok (b);
  /* Break the cycle of references. */
  g_clear_object (&a->next);
  g_clear_object (&b->next);
}

/* One flooded server does not keep another of the same one-worker pool
 * from answering: after a slice of messages, a server yields its worker. */
static void
test_fairness (void)
{
  g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (1);
  g_autoptr(TestLink) flooded = test_start_ok (link_new (pool), NULL);
  g_autoptr(TestLink) other = test_start_ok (link_new (pool), NULL);
  const gint n = 20000;

  /* 20000 casts of 20 µs: 0.4 s of work at the least. */
  for (gint i = 0; i < n; i++)
    g_assert_true (gen_server_cast (GEN_SERVER (flooded), test_message ("work", 20), NULL));

  /* Through a worker: the deadline keeps the call off this thread. */
  call_int64 (other, "work", 0, TEST_CALL_TIMEOUT_MS);
  g_assert_cmpint (g_atomic_int_get (&flooded->handled), <, n);

  test_stop_ok (flooded);
  test_stop_ok (other);
  g_assert_cmpint (g_atomic_int_get (&flooded->handled), ==, n);
}

/* Once every server has stopped, genserver leaves no thread of its own:
 * not the servers', not the pools' workers, not the timers'. */
static void
test_no_thread_left (void)
{
  g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (2);
  TestLink *servers[6];

  /* Those of the tests before may still be on their way out. */
  test_wait_until (no_genserver_thread, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (servers); i++)
    {
      /* Two on each kind of thread: their own, a pool, the default pool. */
      GenScheduler *scheduler = i < 2 ? NULL : i < 4 ? pool : gen_scheduler_get_default ();

      servers[i] = test_start_ok (link_new (scheduler), NULL);
      g_assert_cmpuint (gen_server_send_after (GEN_SERVER (servers[i]), test_message ("timer", 0),
                                               3600 * 1000, NULL), !=, 0);
      gen_server_cast (GEN_SERVER (servers[i]), test_message ("work", 10), NULL);
      call_int64 (servers[i], "work", 0, TEST_CALL_TIMEOUT_MS);
    }
  /* Two servers' own, at least one worker of each pool, the timers'. */
  g_assert_cmpuint (count_genserver_threads (), >=, 2 + 2 + 1);

  for (guint i = 0; i < G_N_ELEMENTS (servers); i++)
    {
      test_stop_ok (servers[i]);
      g_object_unref (servers[i]);
    }
  test_wait_until (no_genserver_thread, NULL);
}

/* A worker blocked in a stop of a server queued behind it does not hold
 * the stop up: the pool calls in another worker. */
static void
test_stop_from_worker (void)
{
  g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (1);
  g_autoptr(TestLink) server = test_start_ok (link_new (pool), NULL);
  g_autoptr(TestLink) child = test_start_ok (link_new (pool), NULL);

  /* The worker runs "work" for the parent; meanwhile the child gets mail
   * and is queued behind it. The stop with a deadline waits for a worker. */
  g_assert_true (gen_server_cast (GEN_SERVER (child), test_message ("work", 1000), NULL));
  g_assert_true (gen_server_stop (GEN_SERVER (child), TEST_CALL_TIMEOUT_MS, NULL));
  test_stop_ok (server);
}

static void
test_spinning_switch (void)
{
  g_autoptr(TestLink) server = test_start_ok (link_new (gen_scheduler_get_default ()), NULL);
  gboolean was = gen_scheduler_get_spinning ();

  gen_scheduler_set_spinning (FALSE);
  g_assert_false (gen_scheduler_get_spinning ());
  for (guint i = 0; i < 100; i++)
    call_int64 (server, "work", 0, TEST_CALL_TIMEOUT_MS);
  gen_scheduler_set_spinning (TRUE);
  g_assert_true (gen_scheduler_get_spinning ());
  gen_scheduler_set_spinning (was);
  test_stop_ok (server);
}

/* Lost yields are a debt, paid back at 1/GEN_SPIN_YIELD_BACKOFF of the
 * time passing: within GEN_SPIN_LOST_BURST_US waits go on yielding, beyond
 * it they stop until it is paid back to the burst (at most a second at a
 * time). Yields that lost the same slice count once. */
static void
test_spin_yield_backoff (void)
{
  const gint64 t0 = 10 * G_USEC_PER_SEC;
  const gint64 slice = GEN_SPIN_LOST_BURST_US / 2;
  GenYieldLosses losses = { 0, };

  g_assert_cmpint (gen_spin_yield_losses_add (&losses, t0, slice), ==, 0);
  g_assert_cmpint (losses.debt, ==, slice);

  /* The same slice, lost by another wait: only its last 100 µs are new;
   * 1 µs of the debt was paid back meanwhile. */
  g_assert_cmpint (gen_spin_yield_losses_add (&losses, t0 + slice - 1500, 1600), ==, 0);
  g_assert_cmpint (losses.debt, ==, slice + 99);

  /* 4 ms more, 40 µs paid back: over the burst by what the debt passes
   * it, times GEN_SPIN_YIELD_BACKOFF. */
  g_assert_cmpint (gen_spin_yield_losses_add (&losses, t0 + slice + 100, 4000), ==,
                   t0 + slice + 4100 +
                   (slice + 99 - 40 + 4000 - GEN_SPIN_LOST_BURST_US) * GEN_SPIN_YIELD_BACKOFF);

  /* Ten seconds later all is paid back. */
  g_assert_cmpint (gen_spin_yield_losses_add (&losses, t0 + 10 * G_USEC_PER_SEC, 1000), ==, 0);
  g_assert_cmpint (losses.debt, ==, 1000);

  /* A second at most. */
  g_assert_cmpint (gen_spin_yield_losses_add (&losses, t0 + 20 * G_USEC_PER_SEC,
                                              GEN_SPIN_LOST_BURST_US + 20000), ==,
                   t0 + 20 * G_USEC_PER_SEC + GEN_SPIN_LOST_BURST_US + 20000 + G_USEC_PER_SEC);
}

/* A slow yield went to a server of the process if on its processor the
 * servers took, or looked for, a batch every GEN_SPIN_OWN_ACTIVITY_US or
 * more often meanwhile; otherwise it was lost. */
static void
test_spin_yield_lost (void)
{
  const gint64 took = 100 * GEN_SPIN_OWN_ACTIVITY_US;

  g_assert_true (gen_spin_yield_lost (took, 0));
  g_assert_true (gen_spin_yield_lost (took, 99));
  g_assert_false (gen_spin_yield_lost (took, 100));
  g_assert_false (gen_spin_yield_lost (took, 1000));
}

static gint spin_looks;

static gboolean
count_spin_looks (gpointer data)
{
  spin_looks++;
  return FALSE;
}

/* During the yield back-off a wait with no spinning slot neither spins
 * nor yields: it does not look again before it sleeps. Told to yield once
 * (a caller whose server other callers sleep on), it yields and looks
 * once. In a subprocess: the back-off stays on for a second. */
static void
test_spin_yield_once (void)
{
  if (g_test_subprocess ())
    {
      guint taken = 0;

      gen_spin_set_enabled (TRUE);
      while (gen_spin_begin ())
        taken++;
      gen_spin_yield_took (g_get_monotonic_time () - 50000, 50000, TRUE);
      g_assert_false (gen_spin_may_yield (g_get_monotonic_time ()));

      g_assert_false (gen_spin_until (count_spin_looks, NULL, -1, GEN_SPIN_CALLER));
      g_assert_cmpint (spin_looks, ==, 0);
      g_assert_false (gen_spin_until (count_spin_looks, NULL, -1,
                                      GEN_SPIN_CALLER | GEN_SPIN_YIELD_ONCE));
      g_assert_cmpint (spin_looks, ==, 1);

      while (taken-- > 0)
        gen_spin_end ();
      return;
    }

  g_test_trap_subprocess (NULL, TEST_DEADLINE_US, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
drop_variant_item (gpointer item)
{
  g_variant_unref (GEN_ITEM_POINTER (item));
}

/* A message sent counts as the process's activity on the sender's
 * processor, as a batch taken does: a caller's slow yield that went to
 * other callers (who send) did its job. */
static void
test_spin_sends_count (void)
{
#ifdef __linux__
  GenMailbox mailbox = { 0, };
  cpu_set_t was, here;
  gint cpu = sched_getcpu (), before;

  if (cpu < 0 || sched_getaffinity (0, sizeof was, &was) != 0)
    {
      g_test_skip ("cannot tell this thread's processor");
      return;
    }
  /* On one processor, so that both looks read the same count. Nothing
   * else of this process takes messages meanwhile. */
  CPU_ZERO (&here);
  CPU_SET (cpu, &here);
  g_assert_cmpint (sched_setaffinity (0, sizeof here, &here), ==, 0);

  gen_mailbox_init (&mailbox, drop_variant_item);
  gen_mailbox_open (&mailbox, NULL, NULL);
  before = gen_spin_activity_here ();
  g_assert_cmpint (gen_mailbox_push (&mailbox,
                                     GEN_ITEM_MAKE (g_variant_ref_sink (g_variant_new_int32 (1)),
                                                    GEN_ITEM_CAST),
                                     FALSE), ==, GEN_PUSH_OK);
  g_assert_cmpint (gen_spin_activity_here (), >, before);
  gen_mailbox_close (&mailbox, FALSE, FALSE);
  gen_mailbox_clear (&mailbox);

  g_assert_cmpint (sched_setaffinity (0, sizeof was, &was), ==, 0);
#else
  g_test_skip ("the processor of a yield is known on Linux only");
#endif
}

static void
test_context_and_scheduler (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(TestLink) server = NULL;

  g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*either on a main context or on a scheduler*");
  server = g_object_new (test_link_get_type (),
                         "main-context", context,
                         "scheduler", gen_scheduler_get_default (),
                         NULL);
  g_test_assert_expected_messages ();
  g_assert_null (gen_server_get_scheduler (GEN_SERVER (server)));
  g_assert_true (gen_server_get_main_context (GEN_SERVER (server)) == context);
}

typedef struct
{
  GenSupervisor *supervisor;
  GenServer *first;
} Restarted;

static gboolean
child_restarted (gpointer data)
{
  Restarted *restarted = data;
  g_autoptr(GenServer) child = gen_supervisor_get_child (restarted->supervisor, "worker");

  return child != NULL && child != restarted->first && gen_server_is_running (child);
}

/* A supervisor on a pool restarts a crashed child on the pool its spec
 * names. */
static void
test_supervisor_on_pool (void)
{
  g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (2);
  g_autoptr(GenSupervisor) supervisor = g_object_new (GEN_TYPE_SUPERVISOR,
                                                      "scheduler", pool,
                                                      "intensity", 5,
                                                      NULL);
  g_autoptr(GenChildSpec) spec = gen_child_spec_new ("worker", test_link_get_type (), NULL);
  g_autoptr(GenServer) first = NULL;
  g_autoptr(GenServer) second = NULL;
  Restarted restarted;

  gen_child_spec_set_scheduler (spec, pool);
  g_assert_true (gen_child_spec_get_scheduler (spec) == pool);
  test_start_ok (supervisor, NULL);
  g_assert_true (gen_supervisor_start_child (supervisor, spec, NULL));

  first = gen_supervisor_get_child (supervisor, "worker");
  g_assert_true (gen_server_get_scheduler (first) == pool);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*crashed on purpose*");
  g_assert_true (gen_server_cast (first, test_message ("crash", 0), NULL));

  restarted = (Restarted) { supervisor, first };
  test_wait_until (child_restarted, &restarted);
  g_test_assert_expected_messages ();
  second = gen_supervisor_get_child (supervisor, "worker");
  g_assert_true (gen_server_get_scheduler (second) == pool);
  g_assert_cmpint (call_int64 (second, "work", 0, TEST_CALL_TIMEOUT_MS), ==, 0);

  test_stop_ok (supervisor);
}

typedef struct
{
  GMainContext *context;
  gint running; /* atomic */
  gint pushed;  /* atomic: the loop's thread has made it its own */
} LoopThread;

static gboolean
loop_pushed (gpointer data)
{
  return g_atomic_int_get (&((LoopThread *) data)->pushed);
}

static gpointer
loop_thread_main (gpointer data)
{
  LoopThread *loop = data;

  g_main_context_push_thread_default (loop->context);
  g_atomic_int_set (&loop->pushed, TRUE);
  while (g_atomic_int_get (&loop->running))
    g_main_context_iteration (loop->context, TRUE);
  g_main_context_pop_thread_default (loop->context);
  return NULL;
}

/* Many servers on one main context share one source: all of them get
 * their mail, are called and stop, and a context with thousands of idle
 * servers is as quick to iterate as one with a single server. */
static void
test_many_on_one_context (void)
{
  const guint n = 5000;
  LoopThread loop = { g_main_context_new (), TRUE, FALSE };
  TestLink **servers = g_new (TestLink *, n);
  GThread *thread;

  /* The thread owns its context before anyone starts a server on it. */
  thread = g_thread_new ("loop", loop_thread_main, &loop);
  test_wait_until (loop_pushed, &loop);
  for (guint i = 0; i < n; i++)
    servers[i] = test_start_ok (g_object_new (test_link_get_type (), "main-context", loop.context, NULL),
                                NULL);
  for (guint i = 0; i < n; i++)
    g_assert_true (gen_server_cast (GEN_SERVER (servers[i]), test_message ("add", 1), NULL));
  for (guint i = 0; i < n; i++)
    {
      call_int64 (servers[i], "work", 0, TEST_CALL_TIMEOUT_MS);
      g_assert_cmpint (g_atomic_int_get (&servers[i]->handled), ==, 1);
    }
  for (guint i = 0; i < n; i++)
    {
      test_stop_ok (servers[i]);
      g_object_unref (servers[i]);
    }

  g_atomic_int_set (&loop.running, FALSE);
  g_main_context_wakeup (loop.context);
  g_thread_join (thread);
  g_main_context_unref (loop.context);
  g_free (servers);
}

/* How stop() is reached in /scheduler/stop-lets-go. */
typedef enum
{
  STOP_BUSY,          /* from this thread, while the server's thread, a
                       * worker or its context's thread runs it */
  STOP_WITH_DEADLINE, /* the same with a deadline: never run inline */
  STOP_IDLE,          /* from this thread, the server idle */
  STOP_FROM_HANDLER,  /* from a handler of a server of the same pool or
                       * context */
} StopPath;

typedef struct
{
  const gchar *kind;  /* "thread", "pool", "main-context" */
  StopPath path;
} StopCase;

static gpointer
stop_case_server (const StopCase *stop_case,
                  GenScheduler   *pool,
                  TestLoopThread *loop_thread)
{
  if (g_str_equal (stop_case->kind, "pool"))
    return link_new (pool);
  if (g_str_equal (stop_case->kind, "main-context"))
    return g_object_new (test_link_get_type (), "main-context", loop_thread->context, NULL);
  return g_object_new (test_link_get_type (), "scheduler", NULL, NULL);
}

/* When stop() returns, no thread of any scheduler holds the server: the
 * caller's last unref finalizes it at once, also when a worker or a
 * context's thread ran its last handler. Many times over, as that thread
 * used to let go a moment after stop() returned. The servers have an idle
 * timeout, whose source holds them while they run. The context is run by a
 * GMainLoop on a thread of its own, which owns it all along: a stop from
 * this thread cannot take it and waits for that thread to run the end. */
static void
test_stop_lets_go (gconstpointer data)
{
  const StopCase *stop_case = data;
  g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (2);
  TestLoopThread loop_thread;
  g_autoptr(TestLink) stopper = NULL;
  const guint rounds = 200;

  test_loop_thread_start (&loop_thread);

  if (stop_case->path == STOP_FROM_HANDLER)
    stopper = test_start_ok (stop_case_server (stop_case, pool, &loop_thread), NULL);

  for (guint i = 0; i < rounds; i++)
    {
      TestLink *server = stop_case_server (stop_case, pool, &loop_thread);
      g_autoptr(GError) error = NULL;

      g_object_add_weak_pointer (G_OBJECT (server), (gpointer *) &server);
      gen_server_set_idle_timeout (GEN_SERVER (server), 3600 * 1000);
      test_start_ok (server, NULL);

      switch (stop_case->path)
        {
        case STOP_BUSY:
        case STOP_WITH_DEADLINE:
          /* Its thread, or the worker or context the cast woke, has it. */
          g_assert_true (gen_server_cast (GEN_SERVER (server), test_message ("work", 50), NULL));
          g_assert_true (gen_server_stop (GEN_SERVER (server),
                                          stop_case->path == STOP_BUSY ? -1 : TEST_CALL_TIMEOUT_MS,
                                          &error));
          g_assert_no_error (error);
          break;
        case STOP_IDLE:
          call_int64 (server, "work", 0, TEST_CALL_TIMEOUT_MS);
          test_stop_ok (server);
          break;
        case STOP_FROM_HANDLER:
          stopper->next = g_object_ref (GEN_SERVER (server));
          g_assert_true (gen_server_cast (GEN_SERVER (server), test_message ("work", 50), NULL));
          /* With a deadline: through a worker, or the context's thread. */
          call_int64 (stopper, "stop-next", 0, TEST_CALL_TIMEOUT_MS);
          break;
        }

      g_assert_false (gen_server_is_running (GEN_SERVER (server)));
      g_object_unref (server);
      g_assert_null (server);
    }

  if (stopper != NULL)
    test_stop_ok (stopper);
  test_loop_thread_stop (&loop_thread);
}

static gsize
resident_bytes (void)
{
  g_autofree gchar *statm = NULL;
  gsize pages[2] = { 0, };

  g_assert_true (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL));
  g_assert_cmpint (sscanf (statm, "%zu %zu", &pages[0], &pages[1]), ==, 2);
  return pages[1] * (gsize) sysconf (_SC_PAGESIZE);
}

/* A hundred thousand pool servers live at once, each called once, in
 * under 1 GiB. Slow: the "slow" suite. */
static void
test_100k_servers (void)
{
  const guint n = 100000;
  GenScheduler *pool = gen_scheduler_get_default ();
  TestLink **servers = g_new (TestLink *, n);
  gsize before = resident_bytes ();
  gsize during;

  for (guint i = 0; i < n; i++)
    servers[i] = test_start_ok (link_new (pool), NULL);
  for (guint i = 0; i < n; i++)
    call_int64 (servers[i], "work", 0, TEST_CALL_TIMEOUT_MS);
  during = resident_bytes ();
  g_test_message ("%u servers: %zu MiB more resident memory, %zu bytes each",
                  n, (during - before) >> 20, (during - before) / n);
  g_assert_cmpuint (during, <, (gsize) 1 << 30);

  for (guint i = 0; i < n; i++)
    {
      test_stop_ok (servers[i]);
      g_object_unref (servers[i]);
    }
  g_free (servers);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/scheduler/default-pool", test_default_pool);
  g_test_add_func ("/scheduler/new-pool", test_new_pool);
  g_test_add_func ("/scheduler/hand-off", test_hand_off);
  g_test_add_func ("/scheduler/timeout-on-pool", test_timeout_on_pool);
  g_test_add_func ("/scheduler/deep-chain-inline", test_deep_chain_inline);
  g_test_add_func ("/scheduler/deep-chain-queued", test_deep_chain_queued);
  g_test_add_func ("/scheduler/calling-self-through-chain", test_calling_self_through_chain);
  g_test_add_func ("/scheduler/fairness", test_fairness);
  g_test_add_func ("/scheduler/stop-from-worker", test_stop_from_worker);
  g_test_add_func ("/scheduler/spinning-switch", test_spinning_switch);
  g_test_add_func ("/scheduler/spin-yield-backoff", test_spin_yield_backoff);
  g_test_add_func ("/scheduler/spin-yield-lost", test_spin_yield_lost);
  g_test_add_func ("/scheduler/spin-sends-count", test_spin_sends_count);
  g_test_add_func ("/scheduler/spin-yield-once", test_spin_yield_once);
  g_test_add_func ("/scheduler/context-and-scheduler", test_context_and_scheduler);
  g_test_add_func ("/scheduler/supervisor-on-pool", test_supervisor_on_pool);
  g_test_add_func ("/scheduler/many-on-one-context", test_many_on_one_context);
  g_test_add_func ("/scheduler/no-thread-left", test_no_thread_left);
  {
    static const gchar *const kinds[] = { "thread", "pool", "main-context" };
    static const gchar *const paths[] = { "busy", "with-deadline", "idle", "from-handler" };
    static StopCase cases[G_N_ELEMENTS (kinds) * G_N_ELEMENTS (paths)];

    for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
      for (guint p = 0; p < G_N_ELEMENTS (paths); p++)
        {
          StopCase *stop_case = &cases[k * G_N_ELEMENTS (paths) + p];
          g_autofree gchar *name = g_strdup_printf ("/scheduler/stop-lets-go/%s/%s", kinds[k], paths[p]);

          stop_case->kind = kinds[k];
          stop_case->path = (StopPath) p;
          g_test_add_data_func (name, stop_case, test_stop_lets_go);
        }
  }
  if (g_test_slow ())
    g_test_add_func ("/scheduler/100k-servers", test_100k_servers);

  return g_test_run ();
}
