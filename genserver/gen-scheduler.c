/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-core-private.h"
#include "gen-scheduler-private.h"
#include "gen-spin-private.h"

/**
 * GenScheduler:
 *
 * A pool of worker threads that runs the handlers of many servers.
 *
 * A [class@Gen.Server] runs its handlers on one of three kinds of
 * scheduler, chosen when it is constructed:
 *
 * - a thread of its own, the default (its [property@Gen.Server:scheduler]
 *   and [property@Gen.Server:main-context] are %NULL);
 * - the thread that iterates a [struct@GLib.MainContext], with
 *   [property@Gen.Server:main-context]: a GTK application's main thread,
 *   the JavaScript thread of GJS;
 * - a `GenScheduler`, a pool of worker threads shared by any number of
 *   servers, with [property@Gen.Server:scheduler].
 *
 * A server on a pool costs no thread: a hundred thousand of them can live
 * in one process. When it has mail it waits in the pool's run queue; a
 * worker takes it, handles up to 64 messages, and puts it back at the end
 * of the queue if more wait, so that one flooded server cannot starve the
 * others. Its handlers still run one at a time and in mailbox order, and
 * each worker hands the server's memory to the next, so its state needs no
 * lock. Every guarantee of [class@Gen.Server] holds on a pool.
 *
 * A call or a stop that waits as long as it takes (a negative timeout) on
 * an idle pool server runs the server's handlers right on the caller's
 * thread, as `dispatch_sync` does with a serial queue: there is nothing to
 * wake, and nothing crosses to another processor. [method@Gen.Server.start]
 * does the same with `init`, which it waits for anyway. A call with a
 * timeout is queued, so that the timeout holds whatever the handler does.
 *
 * Handlers on a pool should not block for long on anything but genserver
 * itself: a worker blocked in a call, a start or a stop lets the pool start
 * another worker meanwhile, so that chains of synchronous calls deeper than
 * the pool never deadlock, but a worker blocked elsewhere (a sleep, a lock,
 * a synchronous read) holds up the servers queued behind it.
 *
 * Workers start when servers have work and end when the pool has no
 * running server, so an idle pool costs neither processor time nor, once
 * its servers stopped, threads.
 *
 * ```c
 * GenScheduler *pool = gen_scheduler_get_default ();
 * g_autoptr(GenServer) counter = g_object_new (MY_TYPE_COUNTER,
 *                                              "scheduler", pool,
 *                                              NULL);
 * gen_server_start (counter, NULL, &error);
 * ```
 *
 * ```python
 * counter = Counter(scheduler=Gen.Scheduler.get_default())
 * ```
 *
 * Since: 1.0
 */

/* The object; its workers and run queue are gen-worker-pool.c's. */
struct _GenScheduler
{
  GObject parent_instance;

  guint n_workers;               /* construct-only: how many run at once */
  guint64 id;                    /* immutable: for gen_scheduler_lookup() */
  GenTimerService *timers;       /* owned; immutable */
  GenWorkerPool *workers;        /* owned; made in constructed(), immutable */
};

enum {
  PROP_0,
  PROP_N_WORKERS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (GenScheduler, gen_scheduler, G_TYPE_OBJECT)

/* Every pool by id: id → GWeakRef (owned), under `pools_lock`. */
static GMutex pools_lock;
static GHashTable *pools;
static guint64 last_pool_id;

GenScheduler *
gen_scheduler_lookup (guint64 id)
{
  GenScheduler *pool = NULL;
  GWeakRef *ref;

  g_mutex_lock (&pools_lock);
  ref = pools ? g_hash_table_lookup (pools, &id) : NULL;
  if (ref != NULL)
    pool = g_weak_ref_get (ref);
  g_mutex_unlock (&pools_lock);

  return pool;
}

guint64
gen_scheduler_get_id (GenScheduler *self)
{
  return self->id;
}

static void
weak_ref_free (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

GenWorkerPool *
gen_scheduler_get_workers (GenScheduler *self)
{
  return self->workers;
}

GenTimerService *
gen_scheduler_get_timers (GenScheduler *self)
{
  return self->timers;
}

static void
gen_scheduler_constructed (GObject *object)
{
  GenScheduler *self = GEN_SCHEDULER (object);

  G_OBJECT_CLASS (gen_scheduler_parent_class)->constructed (object);

  self->workers = gen_worker_pool_new (self->n_workers);
}

static void
gen_scheduler_finalize (GObject *object)
{
  GenScheduler *self = GEN_SCHEDULER (object);

  /* Every server of the pool holds a reference: none runs. Workers still
   * on their way out hold one on the worker pool, which they free. */
  g_mutex_lock (&pools_lock);
  g_hash_table_remove (pools, &self->id);
  g_mutex_unlock (&pools_lock);

  gen_worker_pool_unref (self->workers);
  gen_timer_service_unref (self->timers);

  G_OBJECT_CLASS (gen_scheduler_parent_class)->finalize (object);
}

static void
gen_scheduler_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  GenScheduler *self = GEN_SCHEDULER (object);

  switch (prop_id)
    {
    case PROP_N_WORKERS:
      g_value_set_uint (value, self->n_workers);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_scheduler_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  GenScheduler *self = GEN_SCHEDULER (object);

  switch (prop_id)
    {
    case PROP_N_WORKERS:
      self->n_workers = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_scheduler_class_init (GenSchedulerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = gen_scheduler_constructed;
  object_class->finalize = gen_scheduler_finalize;
  object_class->get_property = gen_scheduler_get_property;
  object_class->set_property = gen_scheduler_set_property;

  /**
   * GenScheduler:n-workers:
   *
   * How many worker threads run handlers at once. Workers blocked in a
   * call, a start or a stop do not count: the pool starts others meanwhile.
   *
   * Since: 1.0
   */
  properties[PROP_N_WORKERS] =
    g_param_spec_uint ("n-workers", NULL, NULL,
                       1, 1024, 1,
                       (G_PARAM_READWRITE |
                        G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gen_scheduler_init (GenScheduler *self)
{
  GWeakRef *ref = g_new0 (GWeakRef, 1);

  g_weak_ref_init (ref, self);
  g_mutex_lock (&pools_lock);
  if (pools == NULL)
    pools = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, weak_ref_free);
  self->id = ++last_pool_id;
  g_hash_table_insert (pools, &self->id, ref);
  g_mutex_unlock (&pools_lock);

  self->n_workers = 1;
  self->timers = gen_timer_service_new ("genserver-timer");
}

/**
 * gen_scheduler_new_pool:
 * @n_workers: how many worker threads run handlers at once, at least 1
 *
 * Creates a pool of worker threads for servers to run on: pass it as the
 * [property@Gen.Server:scheduler] of each. Most programs need only the
 * default pool, [func@Gen.Scheduler.get_default]; a pool of their own
 * keeps one group of servers from competing with another for workers.
 *
 * ```c
 * g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (2);
 * GenServer *server = g_object_new (MY_TYPE_SERVER, "scheduler", pool, NULL);
 * ```
 *
 * Returns: (transfer full): a new pool
 *
 * Since: 1.0
 */
GenScheduler *
gen_scheduler_new_pool (guint n_workers)
{
  g_return_val_if_fail (n_workers >= 1 && n_workers <= 1024, NULL);

  return g_object_new (GEN_TYPE_SCHEDULER, "n-workers", n_workers, NULL);
}

/**
 * gen_scheduler_get_default:
 *
 * Gets the process-wide pool, with one worker per processor. It lives as
 * long as the process, but its threads only while servers run on it.
 *
 * ```python
 * pool = Gen.Scheduler.get_default()
 * servers = [Worker(scheduler=pool) for _ in range(10_000)]
 * ```
 *
 * Returns: (transfer none): the default pool
 *
 * Since: 1.0
 */
GenScheduler *
gen_scheduler_get_default (void)
{
  static gsize pool;

  if (g_once_init_enter (&pool))
    g_once_init_leave (&pool, (gsize) gen_scheduler_new_pool (MAX (1, g_get_num_processors ())));

  return (GenScheduler *) pool;
}

/**
 * gen_scheduler_get_n_workers:
 * @self: a #GenScheduler
 *
 * Gets the [property@Gen.Scheduler:n-workers] of the pool.
 *
 * Returns: how many workers run handlers at once
 *
 * Since: 1.0
 */
guint
gen_scheduler_get_n_workers (GenScheduler *self)
{
  g_return_val_if_fail (GEN_IS_SCHEDULER (self), 0);

  return self->n_workers;
}

/* Start requests --------------------------------------------------------- */

void
gen_scheduler_start_request_init (GenStartRequest *request,
                                  GenServer       *server,
                                  GVariant        *args)
{
  g_mutex_init (&request->mutex);
  g_cond_init (&request->cond);
  request->server = server;
  request->args = args;
  request->done = FALSE;
  request->error = NULL;
}

void
gen_scheduler_start_request_clear (GenStartRequest *request)
{
  g_assert (request->error == NULL);
  g_mutex_clear (&request->mutex);
  g_cond_clear (&request->cond);
}

void
gen_scheduler_start_request_complete (GenStartRequest *request,
                                      GError          *error)
{
  g_mutex_lock (&request->mutex);
  request->error = error;
  g_atomic_int_set (&request->done, TRUE);
  g_cond_signal (&request->cond);
  g_mutex_unlock (&request->mutex);
}

gboolean
gen_scheduler_start_request_wait (GenStartRequest  *request,
                                  GError          **error)
{
  gboolean blocking = gen_spin_block_begin ();

  g_mutex_lock (&request->mutex);
  while (!request->done)
    g_cond_wait (&request->cond, &request->mutex);
  g_mutex_unlock (&request->mutex);

  if (blocking)
    gen_spin_block_end ();

  if (request->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&request->error));
      return FALSE;
    }
  return TRUE;
}

/**
 * gen_scheduler_set_spinning:
 * @spinning: whether waits may spin
 *
 * Turns spinning on or off for the whole process, on every kind of
 * scheduler.
 *
 * Before a thread sleeps waiting for a reply or for work, it polls for a
 * few microseconds (at most 50) when a processor is free for it: a wake-up
 * from sleep costs more than a whole round trip between two threads that
 * are awake. That buys latency with processor time. A desktop application
 * or a program on battery may prefer to sleep at once: turn spinning off
 * here, or with the environment variable `GEN_SPIN=0` before the program
 * starts. Nothing else changes.
 *
 * ```c
 * gen_scheduler_set_spinning (FALSE);
 * ```
 *
 * Since: 1.0
 */
void
gen_scheduler_set_spinning (gboolean spinning)
{
  gen_spin_set_enabled (spinning);
}

/**
 * gen_scheduler_get_spinning:
 *
 * Whether waits may spin; see [func@Gen.Scheduler.set_spinning].
 *
 * Returns: %TRUE if spinning is on (the default)
 *
 * Since: 1.0
 */
gboolean
gen_scheduler_get_spinning (void)
{
  return gen_spin_enabled ();
}
