/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The worker threads of a GenScheduler and their run queue.
 *
 * A server with mail waits in the run queue (the pool kind puts it there,
 * see gen-pool-scheduler.c); a worker takes it, runs a slice of at most
 * GEN_BATCH_SIZE messages and lets the run flag decide whether it goes back
 * at the end of the queue (more mail: the others get their turn). The
 * pool's lock orders each slice after the previous one, on whatever thread
 * it ran.
 *
 * A worker that blocks in a call, a start or a stop tells the pool
 * through its thread's blocking hook, which then starts another worker
 * if servers wait and fewer than n_workers are unblocked: a chain of
 * synchronous calls deeper than the pool still completes. Extra workers
 * end as soon as they find nothing to do while enough others are
 * unblocked, and all of them end when the pool has no running server.
 */

#include "config.h"

#include "gen-spin-private.h"
#include "gen-worker-pool-private.h"

/* Workers beyond n_workers that blocked workers may call in. */
#define MAX_EXTRA_WORKERS 256

struct _GenWorkerPool
{
  gint ref_count;     /* atomic: the scheduler's, and each worker's */
  guint n_workers;    /* immutable: how many run at once */

  /* `lock` protects all below; workers with nothing to do wait on
   * `cond`. */
  GMutex lock;
  GCond cond;
  GQueue run_queue;   /* of GenServer with work; their runs hold them */
  /* The run queue's length, for spinners to read without the lock
   * (atomic; written under it, so a relaxed store does). */
  gint n_queued;
  guint n_threads;    /* worker threads alive */
  guint n_sleeping;   /* of them, waiting on `cond` */
  guint n_signalled;  /* of those, signalled and not awake yet */
  guint n_spinning;   /* of them, spinning for work before they sleep */
  guint n_blocked;    /* of them, blocked in a call or a stop */
  guint n_live;       /* servers of the pool between start and finish */
};

static gpointer worker_main (gpointer data);

/* Under the pool's lock. */
static void
add_worker_locked (GenWorkerPool *pool)
{
  GError *error = NULL;
  GThread *thread;

  if (pool->n_threads >= pool->n_workers + MAX_EXTRA_WORKERS)
    return;

  pool->n_threads++;
  thread = g_thread_try_new ("genserver-pool", worker_main, gen_worker_pool_ref (pool), &error);
  if (thread == NULL)
    {
      /* The workers already running go on serving the queue. */
      pool->n_threads--;
      gen_worker_pool_unref (pool); /* not the last: the scheduler holds one */
      g_warning ("Could not start a worker thread for a genserver pool: %s", error->message);
      g_error_free (error);
      return;
    }
  g_thread_unref (thread);
}

/* Under the pool's lock: somebody should take the queue's head. Returns
 * whether the caller must signal `cond` once it let go of the lock: a
 * worker woken under it would first wait for the lock. (A sleeper counted
 * under the lock waits already, so the signal cannot miss it.) A sleeper
 * signalled already is not signalled again: a burst of pushes makes one
 * futex call, not one each. */
static gboolean
wake_worker_locked (GenWorkerPool *pool)
{
  if (pool->n_spinning > 0)
    return FALSE;
  if (pool->n_sleeping > pool->n_signalled)
    {
      pool->n_signalled++;
      return TRUE;
    }
  if (pool->n_sleeping == 0 && pool->n_threads - pool->n_blocked < pool->n_workers)
    add_worker_locked (pool);
  return FALSE;
}

/* Under the pool's lock, after the run queue changed. */
static void
count_queued_locked (GenWorkerPool *pool)
{
  __atomic_store_n (&pool->n_queued, (gint) pool->run_queue.length, __ATOMIC_RELAXED);
}

void
gen_worker_pool_push (GenWorkerPool *pool,
                      GenServer     *server)
{
  GenServerPrivate *priv = gen_server_get_private (server);
  gboolean signal;

  /* No reference of the queue's: a server is queued only while its run
   * is alive (gen_run_flag_wake()), and the run cannot end before a
   * worker took it off the queue, since the end needs the run flag that
   * the queued server holds. So the run's own reference holds it. */
  priv->run_link.data = server;

  g_mutex_lock (&pool->lock);
  g_queue_push_tail_link (&pool->run_queue, &priv->run_link);
  count_queued_locked (pool);
  signal = wake_worker_locked (pool);
  g_mutex_unlock (&pool->lock);

  if (signal)
    g_cond_signal (&pool->cond);
}

static gboolean
pool_has_work (gpointer data)
{
  return __atomic_load_n (&((GenWorkerPool *) data)->n_queued, __ATOMIC_RELAXED) > 0;
}

/* The blocking hook of a worker thread (see gen-spin-private.h): a
 * worker blocked in a call, a start or a stop does not count against
 * n_workers, and servers waiting meanwhile get another worker. */
static void
worker_block_begin (gpointer data)
{
  GenWorkerPool *pool = data;
  gboolean signal = FALSE;

  g_mutex_lock (&pool->lock);
  pool->n_blocked++;
  if (!g_queue_is_empty (&pool->run_queue))
    signal = wake_worker_locked (pool);
  g_mutex_unlock (&pool->lock);

  if (signal)
    g_cond_signal (&pool->cond);
}

static void
worker_block_end (gpointer data)
{
  GenWorkerPool *pool = data;

  g_mutex_lock (&pool->lock);
  g_assert (pool->n_blocked > 0);
  pool->n_blocked--;
  g_mutex_unlock (&pool->lock);
}

static const GenBlockHook worker_block_hook = {
  .begin = worker_block_begin,
  .end = worker_block_end,
};

static gpointer
worker_main (gpointer data)
{
  GenWorkerPool *pool = data; /* the thread's own reference */
  gboolean spun = FALSE;      /* spun since it last found work */

  gen_spin_set_block_hook (&worker_block_hook, pool);

  g_mutex_lock (&pool->lock);
  for (;;)
    {
      GList *link = g_queue_pop_head_link (&pool->run_queue);

      if (link != NULL)
        {
          GenServer *server = link->data;
          gboolean signal = FALSE;

          count_queued_locked (pool);
          /* More wait: a sleeping worker takes the next one. */
          if (!g_queue_is_empty (&pool->run_queue))
            signal = wake_worker_locked (pool);
          g_mutex_unlock (&pool->lock);
          if (signal)
            g_cond_signal (&pool->cond);

          link->data = NULL;
          gen_run_flag_release (server, gen_run_slice (server, GEN_BATCH_SIZE), 0);
          spun = FALSE;

          g_mutex_lock (&pool->lock);
          continue;
        }

      if (pool->n_live == 0 || pool->n_threads - pool->n_blocked > pool->n_workers)
        break;

      /* One worker at a time spins for work before it sleeps, and only
       * once between two sleeps: an idle pool costs no processor time. */
      if (!spun && pool->n_spinning == 0 && gen_spin_enabled ())
        {
          pool->n_spinning++;
          g_mutex_unlock (&pool->lock);
          gen_spin_until (pool_has_work, pool, -1, GEN_SPIN_SERVER);
          g_mutex_lock (&pool->lock);
          pool->n_spinning--;
          spun = TRUE;
          continue;
        }

      pool->n_sleeping++;
      g_cond_wait (&pool->cond, &pool->lock);
      pool->n_sleeping--;
      /* Woken by a signal, most likely; if by something else, a later
       * push signals once more than needed. */
      if (pool->n_signalled > 0)
        pool->n_signalled--;
      spun = FALSE;
    }
  pool->n_threads--;
  g_mutex_unlock (&pool->lock);

  gen_spin_set_block_hook (NULL, NULL);
  gen_worker_pool_unref (pool);
  return NULL;
}

void
gen_worker_pool_server_started (GenWorkerPool *pool)
{
  g_mutex_lock (&pool->lock);
  pool->n_live++;
  g_mutex_unlock (&pool->lock);
}

void
gen_worker_pool_server_ended (GenWorkerPool *pool)
{
  g_mutex_lock (&pool->lock);
  g_assert (pool->n_live > 0);
  /* The last running server gone, the workers end. */
  if (--pool->n_live == 0)
    g_cond_broadcast (&pool->cond);
  g_mutex_unlock (&pool->lock);
}

GenWorkerPool *
gen_worker_pool_new (guint n_workers)
{
  GenWorkerPool *pool = g_new0 (GenWorkerPool, 1);

  pool->ref_count = 1;
  pool->n_workers = n_workers;
  g_mutex_init (&pool->lock);
  g_cond_init (&pool->cond);
  g_queue_init (&pool->run_queue);
  return pool;
}

GenWorkerPool *
gen_worker_pool_ref (GenWorkerPool *pool)
{
  g_atomic_int_inc (&pool->ref_count);
  return pool;
}

void
gen_worker_pool_unref (GenWorkerPool *pool)
{
  if (!g_atomic_int_dec_and_test (&pool->ref_count))
    return;

  /* Every worker holds a reference, and every server of the pool one on
   * the scheduler, which holds one. */
  g_assert (pool->n_threads == 0);
  g_assert (pool->n_live == 0);
  g_assert (g_queue_is_empty (&pool->run_queue));

  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->cond);
  g_free (pool);
}
