/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * genserver's side of the comparison with Erlang/OTP's gen_server
 * (benchmarks/erlang/gs_bench.erl does the same work): a counter server,
 * called and cast to in the same patterns, plus the limits of the bare
 * GAsyncQueue the mailbox is built on, measured by this same program.
 *
 *   bench-server [--quick] [--only WORKLOAD|ROW] [--pin]
 *
 * stdout carries one line per metric, "<system> <metric> <value> <unit>",
 * which benchmarks/compare.py reads; anything else goes to stderr. Each
 * workload runs once at a tenth of its size to warm up, then once for real,
 * as gs_bench.erl does.
 *
 * --pin is for comparing two builds on a busy machine, not for the table:
 * it keeps servers on the last processor and everything else on the
 * first, so that runs do not differ by where the scheduler put threads.
 */

#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <genserver/genserver.h>

#define SCALE_SERVERS 10000
#define CALL_TIMEOUT_MS 60000

static gboolean pin;

/* Where counter_start() puts servers, and how counter_call() waits. */
typedef enum
{
  ON_THREAD,        /* a thread of its own */
  ON_POOL,          /* the default pool, calls without a deadline (hand-off) */
  ON_POOL_QUEUED,   /* the default pool, calls with a deadline (a worker) */
  ON_MAIN_CONTEXT,  /* a context iterated by a thread of the benchmark's */
} Placement;

static Placement placement = ON_THREAD;
static GMainContext *loop_context; /* ON_MAIN_CONTEXT; iterated by loop_main */

static void
pin_to_processor (guint processor)
{
  cpu_set_t set;

  CPU_ZERO (&set);
  CPU_SET (processor, &set);
  if (sched_setaffinity (0, sizeof set, &set) != 0)
    g_printerr ("# cannot pin a thread to processor %u\n", processor);
}

/* The counter server ------------------------------------------------------ */

#define BENCH_TYPE_COUNTER (bench_counter_get_type ())
G_DECLARE_FINAL_TYPE (BenchCounter, bench_counter, BENCH, COUNTER, GenServer)

struct _BenchCounter
{
  GenServer parent_instance;
  gint64 count; /* touched only by the server's thread */
};

G_DEFINE_FINAL_TYPE (BenchCounter, bench_counter, GEN_TYPE_SERVER)

static void
bench_counter_init_server (GenServer  *server,
                           GVariant   *args,
                           GError    **error)
{
  if (pin)
    pin_to_processor (g_get_num_processors () - 1);
}

/* A cast adds its int32 to the count. */
static void
bench_counter_handle_cast (GenServer  *server,
                           GVariant   *message,
                           GError    **error)
{
  BENCH_COUNTER (server)->count += g_variant_get_int32 (message);
}

/* A call adds its int32 (0 to read, 1 to increment) and returns the count. */
static GVariant *
bench_counter_handle_call (GenServer  *server,
                           GVariant   *message,
                           GError    **error)
{
  BenchCounter *self = BENCH_COUNTER (server);

  self->count += g_variant_get_int32 (message);
  return g_variant_new_int64 (self->count);
}

static void
bench_counter_class_init (BenchCounterClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->init = bench_counter_init_server;
  server_class->handle_cast = bench_counter_handle_cast;
  server_class->handle_call = bench_counter_handle_call;
  gen_server_class_set_cast_type (server_class, "i");
  gen_server_class_set_call_type (server_class, "i");
}

static void
bench_counter_init (BenchCounter *self)
{
}

static GenServer *counter_start (void);

typedef struct
{
  GMutex mutex;
  GCond cond;
  GenServer *server; /* mutex */
} LoopStart;

static gboolean
loop_start_cb (gpointer data)
{
  LoopStart *start = data;
  GenServer *server = counter_start ();

  g_mutex_lock (&start->mutex);
  start->server = server;
  g_cond_signal (&start->cond);
  g_mutex_unlock (&start->mutex);
  return G_SOURCE_REMOVE;
}

/* Starts a main-context server from the thread that iterates its context,
 * as an application would: the caller is then never taken for it. */
static GenServer *
counter_start_on_loop (void)
{
  LoopStart start = { 0, };
  GSource *source = g_idle_source_new ();

  g_mutex_init (&start.mutex);
  g_cond_init (&start.cond);
  g_source_set_callback (source, loop_start_cb, &start, NULL);
  g_source_attach (source, loop_context);
  g_source_unref (source);

  g_mutex_lock (&start.mutex);
  while (start.server == NULL)
    g_cond_wait (&start.cond, &start.mutex);
  g_mutex_unlock (&start.mutex);
  g_mutex_clear (&start.mutex);
  g_cond_clear (&start.cond);
  return start.server;
}

static GenServer *
counter_start (void)
{
  GenServer *server;
  g_autoptr(GError) error = NULL;

  switch (placement)
    {
    case ON_POOL:
    case ON_POOL_QUEUED:
      server = g_object_new (BENCH_TYPE_COUNTER, "scheduler", gen_scheduler_get_default (), NULL);
      break;
    case ON_MAIN_CONTEXT:
      server = g_object_new (BENCH_TYPE_COUNTER, "main-context", loop_context, NULL);
      break;
    case ON_THREAD:
    default:
      server = g_object_new (BENCH_TYPE_COUNTER, NULL);
      break;
    }

  if (!gen_server_start (server, NULL, &error))
    g_error ("start: %s", error->message);
  return server;
}

static void
counter_stop (GenServer *server)
{
  g_autoptr(GError) error = NULL;

  if (!gen_server_stop (server, -1, &error))
    g_error ("stop: %s", error->message);
  g_object_unref (server);
}

/* Every message is a fresh GVariant, as a real client would build it. */
static gint64
counter_call (GenServer *server,
              gint32     delta)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = gen_server_call (server, g_variant_new_int32 (delta),
                           placement == ON_POOL ? -1 : CALL_TIMEOUT_MS, &error);
  if (reply == NULL)
    g_error ("call: %s", error->message);
  return g_variant_get_int64 (reply);
}

static void
counter_cast (GenServer *server,
              gint32     delta)
{
  g_autoptr(GError) error = NULL;

  if (!gen_server_cast (server, g_variant_new_int32 (delta), &error))
    g_error ("cast: %s", error->message);
}

/* Workers ----------------------------------------------------------------- */

/* Workers are started up front and wait at a gate, so that creating threads
 * stays outside the timed region (as gs_bench.erl spawns its processes). */
typedef struct
{
  GMutex mutex;
  GCond cond;
  gboolean open;   /* protected by mutex */
  guint n_ready;   /* protected by mutex */
} Gate;

typedef struct
{
  Gate *gate;
  GenServer *server;   /* unowned */
  guint n;
  void (*work) (GenServer *server, guint n);
} Worker;

static gpointer
worker_main (gpointer data)
{
  Worker *worker = data;
  Gate *gate = worker->gate;

  g_mutex_lock (&gate->mutex);
  gate->n_ready++;
  g_cond_broadcast (&gate->cond);
  while (!gate->open)
    g_cond_wait (&gate->cond, &gate->mutex);
  g_mutex_unlock (&gate->mutex);

  worker->work (worker->server, worker->n);
  return NULL;
}

/* Runs @work (@server, @per_worker) on @n_workers threads at once; returns
 * the wall time in seconds from opening the gate to the last one's end. */
static gdouble
run_workers (guint       n_workers,
             GenServer  *server,
             guint       per_worker,
             void      (*work) (GenServer *server, guint n))
{
  g_autofree GThread **threads = g_new0 (GThread *, n_workers);
  g_autofree Worker *workers = g_new0 (Worker, n_workers);
  Gate gate = { 0, };
  gint64 start;

  g_mutex_init (&gate.mutex);
  g_cond_init (&gate.cond);

  for (guint i = 0; i < n_workers; i++)
    {
      workers[i] = (Worker) { &gate, server, per_worker, work };
      threads[i] = g_thread_new ("bench-worker", worker_main, &workers[i]);
    }

  g_mutex_lock (&gate.mutex);
  while (gate.n_ready < n_workers)
    g_cond_wait (&gate.cond, &gate.mutex);
  start = g_get_monotonic_time ();
  gate.open = TRUE;
  g_cond_broadcast (&gate.cond);
  g_mutex_unlock (&gate.mutex);

  for (guint i = 0; i < n_workers; i++)
    g_thread_join (threads[i]);

  g_mutex_clear (&gate.mutex);
  g_cond_clear (&gate.cond);
  return (g_get_monotonic_time () - start) / 1e6;
}

/* Workloads --------------------------------------------------------------- */

static void
call_loop (GenServer *server,
           guint      n)
{
  for (guint i = 0; i < n; i++)
    counter_call (server, 1);
}

static void
cast_loop (GenServer *server,
           guint      n)
{
  for (guint i = 1; i <= n; i++)
    counter_cast (server, (gint32) i);
}

/* call_rtt_traced: the server traces every message and reply. */
static gboolean trace_servers;

/* One client, @n sequential calls: microseconds per call. */
static gdouble
bench_call_rtt (guint n)
{
  GenServer *server = placement == ON_MAIN_CONTEXT && !g_main_context_is_owner (loop_context) ?
                      counter_start_on_loop () : counter_start ();
  gint64 start;
  gdouble elapsed;

  gen_server_set_trace (server, trace_servers);
  start = g_get_monotonic_time ();

  call_loop (server, n);
  elapsed = (gdouble) (g_get_monotonic_time () - start);
  g_assert_cmpint (counter_call (server, 0), ==, n);
  counter_stop (server);
  return elapsed / n;
}

/* One producer casts 1..@n, then a call reads the total: messages/s. */
static gdouble
bench_cast_rate_1 (guint n)
{
  GenServer *server = counter_start ();
  gint64 start = g_get_monotonic_time ();
  gint64 total;
  gdouble elapsed;

  cast_loop (server, n);
  total = counter_call (server, 0);
  elapsed = (g_get_monotonic_time () - start) / 1e6;
  g_assert_cmpint (total, ==, (gint64) n * (n + 1) / 2);
  counter_stop (server);
  return n / elapsed;
}

/* Four producers cast 1..@n/4 each; once all are done, a call reads the
 * total: messages/s. */
static gdouble
bench_cast_rate_4 (guint n)
{
  guint per = n / 4;
  GenServer *server = counter_start ();
  gint64 start, total;
  gdouble elapsed;

  /* run_workers times from the gate; the final call is added on top. */
  elapsed = run_workers (4, server, per, cast_loop);
  start = g_get_monotonic_time ();
  total = counter_call (server, 0);
  elapsed += (g_get_monotonic_time () - start) / 1e6;
  g_assert_cmpint (total, ==, 4 * ((gint64) per * (per + 1) / 2));
  counter_stop (server);
  return 4.0 * per / elapsed;
}

/* Eight clients make @n/8 sequential calls each: calls/s. */
static gdouble
bench_call_8_clients (guint n)
{
  guint per = n / 8;
  GenServer *server = counter_start ();
  gdouble elapsed;

  elapsed = run_workers (8, server, per, call_loop);
  g_assert_cmpint (counter_call (server, 0), ==, 8 * per);
  counter_stop (server);
  return 8.0 * per / elapsed;
}

/* The same with the server on the default pool and calls that wait as long
 * as it takes: a caller that finds the server idle runs the handler itself
 * (hand-off), as Erlang runs a callee on its caller's scheduler. */
static gdouble
bench_call_8_clients_on_pool (guint n)
{
  gdouble result;

  placement = ON_POOL;
  result = bench_call_8_clients (n);
  placement = ON_THREAD;
  return result;
}

static gdouble
read_status_mib (const gchar *field)
{
  g_autofree gchar *status = NULL;
  const gchar *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) ||
      (line = strstr (status, field)) == NULL)
    return -1;
  return g_ascii_strtod (line + strlen (field) + 1, NULL) / 1024.0;
}

/* Resets VmHWM, the peak RSS, so that earlier workloads do not count. */
static void
reset_peak_rss (void)
{
  FILE *clear_refs = fopen ("/proc/self/clear_refs", "w");

  if (clear_refs == NULL || fputs ("5", clear_refs) < 0 || fclose (clear_refs) != 0)
    g_printerr ("# cannot reset the peak RSS; it includes earlier workloads\n");
}

/* @n servers started, called once each and stopped: seconds, and the peak
 * resident set of the whole process meanwhile, in MiB. */
static void
bench_scale (guint    n,
             gdouble *seconds,
             gdouble *peak_mib)
{
  g_autofree GenServer **servers = g_new0 (GenServer *, n);
  gint64 start;

  reset_peak_rss ();

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    servers[i] = counter_start ();
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (counter_call (servers[i], 1), ==, 1);
  for (guint i = 0; i < n; i++)
    counter_stop (servers[i]);
  *seconds = (g_get_monotonic_time () - start) / 1e6;
  *peak_mib = read_status_mib ("VmHWM:");
}

/* Schedulers ---------------------------------------------------------------- */

static gint loop_running; /* atomic */

static gboolean
loop_keep_going (gpointer data)
{
  return g_atomic_int_get (&loop_running) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Iterates loop_context until loop_running is cleared. */
static gpointer
loop_main (gpointer data)
{
  g_main_context_push_thread_default (loop_context);
  while (g_atomic_int_get (&loop_running))
    g_main_context_iteration (loop_context, TRUE);
  g_main_context_pop_thread_default (loop_context);
  return NULL;
}

static GThread *
loop_thread_start (void)
{
  GSource *tick = g_timeout_source_new (100);

  loop_context = g_main_context_new ();
  g_atomic_int_set (&loop_running, TRUE);
  /* Wakes the loop now and then, so that it sees loop_running cleared. */
  g_source_set_callback (tick, loop_keep_going, NULL, NULL);
  g_source_attach (tick, loop_context);
  g_source_unref (tick);
  return g_thread_new ("bench-loop", loop_main, NULL);
}

static void
loop_thread_stop (GThread *thread)
{
  g_atomic_int_set (&loop_running, FALSE);
  g_main_context_wakeup (loop_context);
  g_thread_join (thread);
  g_clear_pointer (&loop_context, g_main_context_unref);
}

/* A thread that keeps one processor busy: "with one core busy". */
static gint burning; /* atomic */

static gpointer
burner_main (gpointer data)
{
  volatile guint64 sum = 0;

  while (g_atomic_int_get (&burning))
    for (guint i = 0; i < 1000; i++)
      sum += i;
  return NULL;
}

/* The trace records are formatted and handed to a writer that drops
 * them: the cost of tracing without that of a terminal or the journal. */
static GLogWriterOutput
drop_trace_writer (GLogLevelFlags   log_level,
                   const GLogField *fields,
                   gsize            n_fields,
                   gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "GEN_KIND"))
      return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

/* call_rtt with tracing on: microseconds per call. (With it off, which
 * costs one atomic read per message, it is call_rtt.) */
static gdouble
bench_call_rtt_traced (guint n)
{
  gdouble result;

  trace_servers = TRUE;
  result = bench_call_rtt (n);
  trace_servers = FALSE;
  return result;
}

/* call_rtt with the servers placed as @where, with a processor busy if
 * @busy: microseconds per call. */
static gdouble
bench_call_rtt_on (guint     n,
                   Placement where,
                   gboolean  busy)
{
  GThread *loop = NULL, *burner = NULL;
  gdouble result;

  placement = where;
  if (where == ON_MAIN_CONTEXT)
    loop = loop_thread_start ();
  if (busy)
    {
      g_atomic_int_set (&burning, TRUE);
      burner = g_thread_new ("bench-burner", burner_main, NULL);
    }

  result = bench_call_rtt (n);

  if (burner != NULL)
    {
      g_atomic_int_set (&burning, FALSE);
      g_thread_join (burner);
    }
  if (loop != NULL)
    loop_thread_stop (loop);
  placement = ON_THREAD;
  return result;
}

/* While a thread keeps one processor busy, one client calls 1,000 servers
 * of their own threads in turn, so that each call finds its server idle
 * (asleep, past its spinning) since the round before: microseconds per
 * call. */
#define WAKE_SERVERS 1000

static gdouble
bench_call_wake_1000_busy (guint n)
{
  g_autofree GenServer **servers = g_new0 (GenServer *, WAKE_SERVERS);
  GThread *burner;
  gint64 start;
  gdouble elapsed;

  for (guint i = 0; i < WAKE_SERVERS; i++)
    servers[i] = counter_start ();
  g_atomic_int_set (&burning, TRUE);
  burner = g_thread_new ("bench-burner", burner_main, NULL);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    counter_call (servers[i % WAKE_SERVERS], 1);
  elapsed = (gdouble) (g_get_monotonic_time () - start);

  g_atomic_int_set (&burning, FALSE);
  g_thread_join (burner);
  for (guint i = 0; i < WAKE_SERVERS; i++)
    counter_stop (servers[i]);
  return elapsed / n;
}

/* @n pool servers started, called once each without a deadline and
 * stopped: seconds, and the resident memory they added while all were
 * alive, in bytes per server. */
static void
bench_spawn (guint    n,
             gdouble *seconds,
             gdouble *bytes_per_server)
{
  g_autofree GenServer **servers = g_new0 (GenServer *, n);
  gdouble rss_before, rss_during;
  gint64 start;

  placement = ON_POOL;
  rss_before = read_status_mib ("VmRSS:");
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    servers[i] = counter_start ();
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (counter_call (servers[i], 1), ==, 1);
  rss_during = read_status_mib ("VmRSS:");
  for (guint i = 0; i < n; i++)
    counter_stop (servers[i]);
  *seconds = (g_get_monotonic_time () - start) / 1e6;
  *bytes_per_server = (rss_during - rss_before) * 1024 * 1024 / n;
  placement = ON_THREAD;
}

/* Producers cast to pool servers round-robin, then a call to each reads
 * its total. */
typedef struct
{
  GenServer **servers;
  guint n_servers;
} ServerSet;

static ServerSet cast_targets;

static void
cast_round_robin (GenServer *unused,
                  guint      n)
{
  for (guint i = 1; i <= n; i++)
    counter_cast (cast_targets.servers[i % cast_targets.n_servers], 1);
}

/* @n_producers threads cast @n messages in all to @n_servers pool servers:
 * messages/s, until every server has handled its share. */
static gdouble
bench_pool_cast (guint n,
                 guint n_producers,
                 guint n_servers)
{
  guint per = n / n_producers;
  gint64 start, total = 0;
  gdouble elapsed;

  placement = ON_POOL_QUEUED;
  cast_targets.n_servers = n_servers;
  cast_targets.servers = g_new0 (GenServer *, n_servers);
  for (guint i = 0; i < n_servers; i++)
    cast_targets.servers[i] = counter_start ();

  elapsed = run_workers (n_producers, NULL, per, cast_round_robin);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n_servers; i++)
    total += counter_call (cast_targets.servers[i], 0);
  elapsed += (g_get_monotonic_time () - start) / 1e6;
  g_assert_cmpint (total, ==, (gint64) per * n_producers);

  for (guint i = 0; i < n_servers; i++)
    counter_stop (cast_targets.servers[i]);
  g_clear_pointer (&cast_targets.servers, g_free);
  placement = ON_THREAD;
  return (gdouble) per * n_producers / elapsed;
}

static gdouble
bench_pool_cast_1 (guint n)
{
  return bench_pool_cast (n, 1, 1);
}

static gdouble
bench_pool_cast_4 (guint n)
{
  return bench_pool_cast (n, 4, 1);
}

static gdouble
bench_pool_cast_1_1000 (guint n)
{
  return bench_pool_cast (n, 1, 1000);
}

static gdouble
bench_pool_cast_4_1000 (guint n)
{
  return bench_pool_cast (n, 4, 1000);
}

/* The bare GAsyncQueue ---------------------------------------------------- */

typedef struct
{
  GAsyncQueue *queue;
  guint n;
  gboolean drain_batches;
  gboolean variants;
  gint64 sum;
} QueueConsumer;

static gpointer
queue_consumer_main (gpointer data)
{
  QueueConsumer *consumer = data;
  guint received = 0;

  while (received < consumer->n)
    {
      gpointer item = g_async_queue_pop (consumer->queue);

      received++;
      if (consumer->variants)
        {
          consumer->sum += g_variant_get_int32 (item);
          g_variant_unref (item);
        }
      if (consumer->drain_batches)
        {
          /* What the server does: take whatever else is there under one
           * lock. */
          g_async_queue_lock (consumer->queue);
          while (g_async_queue_try_pop_unlocked (consumer->queue) != NULL)
            received++;
          g_async_queue_unlock (consumer->queue);
        }
      (void) item;
    }
  return NULL;
}

/* One thread pushes @n pointers, another pops them: pointers/s. With
 * @variants, each pointer is a fresh int32 GVariant that the consumer reads
 * and frees: the work of cast_rate_1 on a bare queue, without genserver. */
static gdouble
bench_queue_throughput (guint    n,
                        gboolean drain_batches,
                        gboolean variants)
{
  QueueConsumer consumer = { g_async_queue_new (), n, drain_batches, variants, 0 };
  GThread *thread;
  gint64 start = g_get_monotonic_time ();
  gdouble elapsed;

  thread = g_thread_new ("bench-consumer", queue_consumer_main, &consumer);
  for (guint i = 1; i <= n; i++)
    {
      if (variants)
        g_async_queue_push (consumer.queue, g_variant_ref_sink (g_variant_new_int32 ((gint32) i)));
      else
        g_async_queue_push (consumer.queue, GUINT_TO_POINTER (i));
    }
  g_thread_join (thread);
  if (variants)
    g_assert_cmpint (consumer.sum, ==, (gint64) n * (n + 1) / 2);
  elapsed = (g_get_monotonic_time () - start) / 1e6;
  g_async_queue_unref (consumer.queue);
  return n / elapsed;
}

typedef struct
{
  GAsyncQueue *ping;
  GAsyncQueue *pong;
  guint n;
  gboolean spin;
} PingPong;

static gpointer
queue_pop_maybe_spinning (GAsyncQueue *queue,
                          gboolean     spin)
{
  gpointer item;

  if (!spin)
    return g_async_queue_pop (queue);
  /* Yielding now and then keeps two spinners that share a processor (the
   * machine is shared) from taking whole time slices from each other. */
  for (guint tries = 1; (item = g_async_queue_try_pop (queue)) == NULL; tries++)
    if (tries % 64 == 0)
      g_thread_yield ();
  return item;
}

static gpointer
pong_main (gpointer data)
{
  PingPong *pp = data;

  for (guint i = 0; i < pp->n; i++)
    g_async_queue_push (pp->pong, queue_pop_maybe_spinning (pp->ping, pp->spin));
  return NULL;
}

/* A pointer goes to another thread and back through two queues, @n times:
 * microseconds per round trip, with both sides blocking or spinning. */
static gdouble
bench_queue_pingpong (guint    n,
                      gboolean spin)
{
  PingPong pp = { g_async_queue_new (), g_async_queue_new (), n, spin };
  GThread *thread = g_thread_new ("bench-pong", pong_main, &pp);
  gint64 start = g_get_monotonic_time ();
  gdouble elapsed;

  for (guint i = 1; i <= n; i++)
    {
      g_async_queue_push (pp.ping, GUINT_TO_POINTER (i));
      queue_pop_maybe_spinning (pp.pong, spin);
    }
  elapsed = (gdouble) (g_get_monotonic_time () - start);
  g_thread_join (thread);
  g_async_queue_unref (pp.ping);
  g_async_queue_unref (pp.pong);
  return elapsed / n;
}

/* Both threads of a round trip on one processor (the last), each yielding
 * as soon as it finds nothing: the least a call between two threads takes
 * when a burner has the other processor. */
static gpointer
pong_shared_main (gpointer data)
{
  PingPong *pp = data;

  pin_to_processor (g_get_num_processors () - 1);
  for (guint i = 0; i < pp->n; i++)
    {
      gpointer item;

      while ((item = g_async_queue_try_pop (pp->ping)) == NULL)
        g_thread_yield ();
      g_async_queue_push (pp->pong, item);
    }
  return NULL;
}

/* @n round trips as above, both threads on one processor: microseconds
 * per round trip, two thread switches each. */
static gdouble
bench_pingpong_shared (guint n)
{
  PingPong pp = { g_async_queue_new (), g_async_queue_new (), n, TRUE };
  GThread *thread;
  cpu_set_t was;
  gint64 start;
  gdouble elapsed;

  if (sched_getaffinity (0, sizeof was, &was) != 0)
    CPU_ZERO (&was);
  pin_to_processor (g_get_num_processors () - 1);
  thread = g_thread_new ("bench-pong", pong_shared_main, &pp);
  start = g_get_monotonic_time ();
  for (guint i = 1; i <= n; i++)
    {
      g_async_queue_push (pp.ping, GUINT_TO_POINTER (i));
      while (g_async_queue_try_pop (pp.pong) == NULL)
        g_thread_yield ();
    }
  elapsed = (gdouble) (g_get_monotonic_time () - start);
  g_thread_join (thread);
  if (CPU_COUNT (&was) > 0)
    sched_setaffinity (0, sizeof was, &was);
  g_async_queue_unref (pp.ping);
  g_async_queue_unref (pp.pong);
  return elapsed / n;
}

/* The least the pool's design does per cast to many idle servers, without
 * genserver: each "server" is a queue and a flag; a producer pushes a
 * fresh int32 GVariant and, if the server was idle, queues the server on
 * one shared run queue (a lock and, for a sleeping worker, a futex
 * wake-up); one worker per processor takes servers off the run queue and
 * drains each, reading and freeing the messages. No spinning, batching or
 * back-off: what is left is the design's own work. */
typedef struct
{
  GAsyncQueue *messages;
  gint queued; /* atomic: 1 while on the run queue or being drained */
} FanoutServer;

typedef struct
{
  FanoutServer *servers;
  guint n_servers;
  GAsyncQueue *run_queue; /* FanoutServer *, or the pool itself to quit */
  guint per_producer;
  guint next_producer;    /* atomic */
  gint expected;          /* immutable */
  gint handled;           /* atomic: messages read (each holds 1) */
  GMutex lock;
  GCond done;             /* with lock: handled reached expected */
} Fanout;

static void
fanout_queue (Fanout       *fanout,
              FanoutServer *server)
{
  if (g_atomic_int_compare_and_exchange (&server->queued, 0, 1))
    g_async_queue_push (fanout->run_queue, server);
}

static Fanout *fanout_target;

/* A producer of run_workers(): @n messages round-robin, from its own
 * starting server. */
static void
fanout_produce (GenServer *unused,
                guint      n)
{
  Fanout *fanout = fanout_target;
  guint first = (guint) g_atomic_int_add ((gint *) &fanout->next_producer, 1);

  for (guint i = 1; i <= n; i++)
    {
      FanoutServer *server = &fanout->servers[(first + i) % fanout->n_servers];

      g_async_queue_push (server->messages, g_variant_ref_sink (g_variant_new_int32 (1)));
      fanout_queue (fanout, server);
    }
}

static gpointer
fanout_worker_main (gpointer data)
{
  Fanout *fanout = data;
  gpointer item;

  while ((item = g_async_queue_pop (fanout->run_queue)) != fanout)
    {
      FanoutServer *server = item;
      GVariant *message;
      gint sum = 0;

      while ((message = g_async_queue_try_pop (server->messages)) != NULL)
        {
          sum += g_variant_get_int32 (message);
          g_variant_unref (message);
        }
      if (g_atomic_int_add (&fanout->handled, sum) + sum == fanout->expected)
        {
          g_mutex_lock (&fanout->lock);
          g_cond_broadcast (&fanout->done);
          g_mutex_unlock (&fanout->lock);
        }
      g_atomic_int_set (&server->queued, 0);
      /* A push that found the flag still set relies on this look. */
      if (g_async_queue_length (server->messages) > 0)
        fanout_queue (fanout, server);
    }
  return NULL;
}

/* @n_producers threads push @n messages in all, round-robin, to @n_servers
 * such servers: messages/s, until every message is read. */
static gdouble
bench_queue_fanout (guint n,
                    guint n_producers,
                    guint n_servers)
{
  guint n_workers = g_get_num_processors ();
  Fanout fanout = { g_new0 (FanoutServer, n_servers), n_servers, g_async_queue_new (),
                    n / n_producers, 0, (gint) (n / n_producers * n_producers), 0 };
  g_autofree GThread **workers = g_new0 (GThread *, n_workers);
  gint64 start;
  gdouble elapsed;

  g_mutex_init (&fanout.lock);
  g_cond_init (&fanout.done);
  for (guint i = 0; i < n_servers; i++)
    fanout.servers[i].messages = g_async_queue_new ();
  for (guint i = 0; i < n_workers; i++)
    workers[i] = g_thread_new ("bench-worker", fanout_worker_main, &fanout);
  fanout_target = &fanout;
  elapsed = run_workers (n_producers, NULL, fanout.per_producer, fanout_produce);
  start = g_get_monotonic_time ();
  g_mutex_lock (&fanout.lock);
  while (g_atomic_int_get (&fanout.handled) < fanout.expected)
    g_cond_wait (&fanout.done, &fanout.lock);
  g_mutex_unlock (&fanout.lock);
  elapsed += (g_get_monotonic_time () - start) / 1e6;
  fanout_target = NULL;

  for (guint i = 0; i < n_workers; i++)
    g_async_queue_push (fanout.run_queue, &fanout);
  for (guint i = 0; i < n_workers; i++)
    g_thread_join (workers[i]);
  g_assert_cmpint (g_atomic_int_get (&fanout.handled), ==, fanout.expected);
  for (guint i = 0; i < n_servers; i++)
    g_async_queue_unref (fanout.servers[i].messages);
  g_free (fanout.servers);
  g_async_queue_unref (fanout.run_queue);
  g_mutex_clear (&fanout.lock);
  g_cond_clear (&fanout.done);
  return fanout.expected / elapsed;
}

/* call_8_clients without genserver: eight threads call one answering
 * thread through a GAsyncQueue, each call a fresh int32 GVariant and a
 * reply slot that the caller polls, yielding, until the answer is in it;
 * the answering thread yields whenever it finds the queue empty. What is
 * left is the design's own work: a message, a queue and a thread turn per
 * call. */
typedef struct
{
  GVariant *message; /* owned */
  GVariant *reply;   /* owned; written before `answered` is set */
  gint answered;     /* atomic */
} BareCall;

typedef struct
{
  GAsyncQueue *queue; /* BareCall *, or the BareServer itself to quit */
  gint64 count;       /* the answering thread's */
} BareServer;

static BareServer *bare_target;

static gpointer
bare_server_main (gpointer data)
{
  BareServer *server = data;

  for (;;)
    {
      BareCall *call;

      while ((call = g_async_queue_try_pop (server->queue)) == NULL)
        g_thread_yield ();
      if (call == (gpointer) server)
        return NULL;
      server->count += g_variant_get_int32 (call->message);
      call->reply = g_variant_ref_sink (g_variant_new_int64 (server->count));
      g_atomic_int_set (&call->answered, TRUE);
    }
}

static void
bare_call_loop (GenServer *unused,
                guint      n)
{
  for (guint i = 0; i < n; i++)
    {
      BareCall *call = g_new0 (BareCall, 1);

      call->message = g_variant_ref_sink (g_variant_new_int32 (1));
      g_async_queue_push (bare_target->queue, call);
      while (!g_atomic_int_get (&call->answered))
        g_thread_yield ();
      g_assert_cmpint (g_variant_get_int64 (call->reply), >, 0);
      g_variant_unref (call->reply);
      g_variant_unref (call->message);
      g_free (call);
    }
}

/* Eight clients make @n/8 such calls each: calls/s. */
static gdouble
bench_call_bare_8 (guint n)
{
  BareServer server = { g_async_queue_new (), 0 };
  GThread *thread = g_thread_new ("bench-answer", bare_server_main, &server);
  gdouble elapsed;

  bare_target = &server;
  elapsed = run_workers (8, NULL, n / 8, bare_call_loop);
  bare_target = NULL;
  g_async_queue_push (server.queue, &server);
  g_thread_join (thread);
  g_assert_cmpint (server.count, ==, n / 8 * 8);
  g_async_queue_unref (server.queue);
  return n / 8 * 8 / elapsed;
}

/* The same turns with no message at all: each caller raises its own flag
 * and yields until the answering thread, which goes round the flags and
 * yields when none is up, has lowered it. The most calls/s eight callers
 * on threads of their own make when each call costs a thread turn. */
typedef struct
{
  gint asked;    /* atomic: the caller's last call */
  gint answered; /* atomic: the last one answered */
} __attribute__ ((aligned (64))) TurnSlot;

static TurnSlot turn_slots[8];
static gint turn_next_slot; /* atomic */
static gint turns_done;     /* atomic */

static gpointer
turn_server_main (gpointer data)
{
  while (!g_atomic_int_get (&turns_done))
    {
      gboolean answered = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (turn_slots); i++)
        {
          gint asked = g_atomic_int_get (&turn_slots[i].asked);

          if (asked != g_atomic_int_get (&turn_slots[i].answered))
            {
              g_atomic_int_set (&turn_slots[i].answered, asked);
              answered = TRUE;
            }
        }
      if (!answered)
        g_thread_yield ();
    }
  return NULL;
}

static void
turn_call_loop (GenServer *unused,
                guint      n)
{
  TurnSlot *slot = &turn_slots[g_atomic_int_add (&turn_next_slot, 1)];

  for (guint i = 1; i <= n; i++)
    {
      g_atomic_int_set (&slot->asked, (gint) i);
      while (g_atomic_int_get (&slot->answered) != (gint) i)
        g_thread_yield ();
    }
}

static gdouble
bench_call_turns_8 (guint n)
{
  GThread *thread;
  gdouble elapsed;

  memset (turn_slots, 0, sizeof turn_slots);
  turn_next_slot = 0;
  turns_done = FALSE;
  thread = g_thread_new ("bench-answer", turn_server_main, NULL);
  elapsed = run_workers (G_N_ELEMENTS (turn_slots), NULL, n / 8, turn_call_loop);
  g_atomic_int_set (&turns_done, TRUE);
  g_thread_join (thread);
  return n / 8 * 8 / elapsed;
}

/* What a cast's message costs on its own, on one thread: g_variant_new_int32,
 * sink and unref, in nanoseconds. */
static gdouble
bench_gvariant_int32 (guint n)
{
  gint64 start = g_get_monotonic_time ();
  gint64 sum = 0;

  for (guint i = 1; i <= n; i++)
    {
      GVariant *message = g_variant_ref_sink (g_variant_new_int32 ((gint32) i));

      sum += g_variant_get_int32 (message);
      g_variant_unref (message);
    }
  g_assert_cmpint (sum, ==, (gint64) n * (n + 1) / 2);
  return (g_get_monotonic_time () - start) * 1000.0 / n;
}

/* Driver ------------------------------------------------------------------ */

static const gchar *only;

/* --only names a workload, or one row of a workload that reports several. */
static gboolean
selected (const gchar *workload)
{
  return only == NULL || g_str_equal (only, workload);
}

static gboolean
row_selected (const gchar *workload,
              const gchar *row)
{
  return selected (workload) || g_str_equal (only, row);
}

static void
report (const gchar *system,
        const gchar *metric,
        gdouble      value,
        const gchar *unit)
{
  if (value >= 1000)
    printf ("%s %s %.0f %s\n", system, metric, value, unit);
  else
    printf ("%s %s %.3f %s\n", system, metric, value, unit);
  fflush (stdout);
}

/* Reports @row of @workload, measured by @value, if it is selected. */
#define REPORT_ROW(who, workload, row, value, unit) \
  G_STMT_START { \
    if (row_selected ((workload), (row))) \
      report ((who), (row), (value), (unit)); \
  } G_STMT_END

/* Warms up at a tenth of @n, then measures once, as gs_bench.erl does. */
#define BENCH(fn, n, ...) \
  (g_printerr ("# %s warm-up: %g\n", #fn, fn (MAX ((n) / 10, 8), ##__VA_ARGS__)), \
   fn ((n), ##__VA_ARGS__))

int
main (int    argc,
      char **argv)
{
  gboolean quick = FALSE;
  guint calls, casts;

  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--quick"))
        quick = TRUE;
      else if (g_str_equal (argv[i], "--only") && i + 1 < argc)
        only = argv[++i];
      else if (g_str_equal (argv[i], "--pin"))
        pin = TRUE;
      else
        {
          g_printerr ("usage: %s [--quick] [--only WORKLOAD|ROW] [--pin]\n", argv[0]);
          return 2;
        }
    }

  if (pin)
    pin_to_processor (0);

  /* The same sizes as gs_bench.erl. */
  calls = quick ? 10000 : 200000;
  casts = quick ? 100000 : 2000000;
  g_printerr ("# bench-server: genserver %s, GLib %u.%u.%u, %u processors, calls=%u, casts=%u\n",
              GEN_VERSION_S, glib_major_version, glib_minor_version, glib_micro_version,
              g_get_num_processors (), calls, casts);

  if (selected ("call_rtt"))
    report ("genserver", "call_rtt", BENCH (bench_call_rtt, calls), "us");
  if (selected ("cast_rate_1"))
    report ("genserver", "cast_rate_1", BENCH (bench_cast_rate_1, casts), "msg/s");
  if (selected ("cast_rate_4"))
    report ("genserver", "cast_rate_4", BENCH (bench_cast_rate_4, casts), "msg/s");
  if (selected ("call_8_clients"))
    report ("genserver", "call_8_clients", BENCH (bench_call_8_clients, calls), "calls/s");
  if (selected ("call_8_clients_pool"))
    report ("genserver", "call_8_clients_pool", BENCH (bench_call_8_clients_on_pool, calls),
            "calls/s");
  if (selected ("scale_10k"))
    {
      gdouble seconds, peak_mib;

      bench_scale (SCALE_SERVERS / 10, &seconds, &peak_mib);
      bench_scale (SCALE_SERVERS, &seconds, &peak_mib);
      report ("genserver", "scale_10k_time", seconds, "s");
      if (peak_mib >= 0)
        report ("genserver", "scale_10k_mem", peak_mib, "MiB");
    }

  if (selected ("call_rtt_traced"))
    {
      g_log_set_writer_func (drop_trace_writer, NULL, NULL);
      report ("genserver", "call_rtt_traced", BENCH (bench_call_rtt_traced, calls), "us");
    }
  if (selected ("call_rtt_busy"))
    report ("genserver", "call_rtt_busy", BENCH (bench_call_rtt_on, calls, ON_THREAD, TRUE), "us");
  if (selected ("call_wake_1000_busy"))
    report ("genserver", "call_wake_1000_busy", BENCH (bench_call_wake_1000_busy, calls), "us");
  REPORT_ROW ("genserver", "call_rtt_pool", "call_rtt_pool",
              BENCH (bench_call_rtt_on, calls, ON_POOL, FALSE), "us");
  REPORT_ROW ("genserver", "call_rtt_pool", "call_rtt_pool_busy",
              BENCH (bench_call_rtt_on, calls, ON_POOL, TRUE), "us");
  REPORT_ROW ("genserver", "call_rtt_pool", "call_rtt_pool_queued",
              BENCH (bench_call_rtt_on, calls, ON_POOL_QUEUED, FALSE), "us");
  REPORT_ROW ("genserver", "call_rtt_pool", "call_rtt_pool_queued_busy",
              BENCH (bench_call_rtt_on, calls, ON_POOL_QUEUED, TRUE), "us");
  REPORT_ROW ("genserver", "call_rtt_main", "call_rtt_main",
              BENCH (bench_call_rtt_on, calls, ON_MAIN_CONTEXT, FALSE), "us");
  REPORT_ROW ("genserver", "call_rtt_main", "call_rtt_main_busy",
              BENCH (bench_call_rtt_on, calls, ON_MAIN_CONTEXT, TRUE), "us");
  if (selected ("spawn"))
    {
      gdouble seconds, bytes;

      bench_spawn (SCALE_SERVERS / 10, &seconds, &bytes);
      bench_spawn (SCALE_SERVERS, &seconds, &bytes);
      report ("genserver", "spawn_10k_time", seconds, "s");
      bench_spawn (10 * SCALE_SERVERS, &seconds, &bytes);
      report ("genserver", "spawn_100k_time", seconds, "s");
      report ("genserver", "mem_per_server", bytes, "B");
    }
  REPORT_ROW ("genserver", "cast_rate_pool", "cast_rate_pool_1",
              BENCH (bench_pool_cast_1, casts), "msg/s");
  REPORT_ROW ("genserver", "cast_rate_pool", "cast_rate_pool_4",
              BENCH (bench_pool_cast_4, casts), "msg/s");
  REPORT_ROW ("genserver", "cast_rate_pool", "cast_rate_pool_1_1000",
              BENCH (bench_pool_cast_1_1000, casts), "msg/s");
  REPORT_ROW ("genserver", "cast_rate_pool", "cast_rate_pool_4_1000",
              BENCH (bench_pool_cast_4_1000, casts), "msg/s");

  REPORT_ROW ("raw", "queue_throughput", "queue_throughput",
              BENCH (bench_queue_throughput, casts, FALSE, FALSE), "ptr/s");
  REPORT_ROW ("raw", "queue_throughput", "queue_throughput_batch",
              BENCH (bench_queue_throughput, casts, TRUE, FALSE), "ptr/s");
  REPORT_ROW ("raw", "queue_throughput", "queue_variant_throughput",
              BENCH (bench_queue_throughput, casts, FALSE, TRUE), "msg/s");
  REPORT_ROW ("raw", "queue_throughput", "queue_fanout_4_1000",
              BENCH (bench_queue_fanout, casts, 4, 1000), "msg/s");
  REPORT_ROW ("raw", "pingpong", "pingpong_block",
              BENCH (bench_queue_pingpong, calls, FALSE), "us");
  REPORT_ROW ("raw", "pingpong", "pingpong_spin",
              BENCH (bench_queue_pingpong, calls, TRUE), "us");
  REPORT_ROW ("raw", "pingpong", "pingpong_shared",
              BENCH (bench_pingpong_shared, calls), "us");
  REPORT_ROW ("raw", "call_bound_8", "call_bare_8",
              BENCH (bench_call_bare_8, calls), "calls/s");
  REPORT_ROW ("raw", "call_bound_8", "call_turns_8",
              BENCH (bench_call_turns_8, calls), "calls/s");
  if (selected ("gvariant"))
    report ("raw", "gvariant_int32", BENCH (bench_gvariant_int32, casts), "ns");

  return 0;
}
