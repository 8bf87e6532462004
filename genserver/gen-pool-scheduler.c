/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The pool kind of scheduler: servers that share a GenScheduler's worker
 * threads.
 *
 * A server with mail waits in the pool's run queue. Who runs it owns its
 * handlers through its `run_flag` (see gen-server-private.h): the pusher
 * that moves the flag from 0 to 1 queues the server; a worker takes it,
 * runs a slice of at most GEN_BATCH_SIZE messages and then either queues it
 * again at the end (more mail: the others get their turn) or sets the flag
 * back to 0 and looks at the mailbox once more, so that a push that saw
 * the flag still set is never left unhandled. The flag's atomic exchange
 * and the pool's lock order each slice after the previous one, on whatever
 * thread it ran.
 *
 * The flag also lets a caller run an idle server inline, on its own thread:
 * a call or a stop that waits without a deadline, and init, which start()
 * waits for anyway. Nothing is woken and nothing moves to another
 * processor. A call with a deadline is always queued, since its caller
 * could not give up while running the handler itself.
 *
 * A worker that blocks in a call, a start or a stop tells the pool
 * through its thread's blocking hook, which then starts another worker
 * if servers wait and fewer than n_workers are unblocked: a chain of
 * synchronous calls deeper than the pool still completes. Extra workers
 * end as soon as they find nothing to do while enough others are
 * unblocked, and all of them end when the pool has no running server.
 */

#include "config.h"

#include "gen-scheduler-private.h"
#include "gen-spin-private.h"

/* Inline runs nest when an inline handler calls another idle server; past
 * this depth the call is queued instead, so that a long chain cannot
 * exhaust the caller's stack. */
#define MAX_INLINE_DEPTH 32

/* Workers beyond n_workers that blocked workers may call in. */
#define MAX_EXTRA_WORKERS 256

static _Thread_local guint inline_depth;

static gpointer worker_main (gpointer data);

/* Under the pool's lock. */
static void
add_worker_locked (GenScheduler *pool)
{
  GError *error = NULL;
  GThread *thread;

  if (pool->n_threads >= pool->n_workers + MAX_EXTRA_WORKERS)
    return;

  pool->n_threads++;
  thread = g_thread_try_new ("genserver-pool", worker_main, g_object_ref (pool), &error);
  if (thread == NULL)
    {
      /* The workers already running go on serving the queue. */
      pool->n_threads--;
      g_object_unref (pool); /* not the last: the caller's server holds one */
      g_warning ("Could not start a worker thread for a genserver pool: %s", error->message);
      g_error_free (error);
      return;
    }
  g_thread_unref (thread);
}

/* Under the pool's lock: somebody should take the queue's head. */
static void
wake_worker_locked (GenScheduler *pool)
{
  if (pool->n_spinning > 0)
    return;
  if (pool->n_sleeping > 0)
    g_cond_signal (&pool->cond);
  else if (pool->n_threads - pool->n_blocked < pool->n_workers)
    add_worker_locked (pool);
}

/* Queues @server, whose run flag the caller set. */
static void
pool_enqueue (GenScheduler *pool,
              GenServer    *server)
{
  GenServerPrivate *priv = gen_server_get_private (server);

  priv->run_link.data = g_object_ref (server); /* the queue's */

  g_mutex_lock (&pool->lock);
  g_queue_push_tail_link (&pool->run_queue, &priv->run_link);
  g_atomic_int_inc (&pool->n_queued);
  wake_worker_locked (pool);
  g_mutex_unlock (&pool->lock);
}

static void
pool_enqueue_server (GenServer *server)
{
  pool_enqueue (gen_server_get_private (server)->scheduler, server);
}

static gboolean
pool_has_work (gpointer data)
{
  return g_atomic_int_get (&((GenScheduler *) data)->n_queued) > 0;
}

/* The blocking hook of a worker thread (see gen-spin-private.h): a
 * worker blocked in a call, a start or a stop does not count against
 * n_workers, and servers waiting meanwhile get another worker. */
static void
worker_block_begin (gpointer data)
{
  GenScheduler *pool = data;

  g_mutex_lock (&pool->lock);
  pool->n_blocked++;
  if (!g_queue_is_empty (&pool->run_queue))
    wake_worker_locked (pool);
  g_mutex_unlock (&pool->lock);
}

static void
worker_block_end (gpointer data)
{
  GenScheduler *pool = data;

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
  GenScheduler *pool = data; /* the thread's own reference */
  gboolean spun = FALSE;     /* spun since it last found work */

  gen_spin_set_block_hook (&worker_block_hook, pool);

  g_mutex_lock (&pool->lock);
  for (;;)
    {
      GList *link = g_queue_pop_head_link (&pool->run_queue);

      if (link != NULL)
        {
          GenServer *server = link->data;

          g_atomic_int_add (&pool->n_queued, -1);
          /* More wait: a sleeping worker takes the next one. */
          if (!g_queue_is_empty (&pool->run_queue))
            wake_worker_locked (pool);
          g_mutex_unlock (&pool->lock);

          link->data = NULL;
          /* With the queue's reference. */
          gen_run_flag_release (server, gen_run_slice (server, GEN_BATCH_SIZE), 1);
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
          gen_spin_until (pool_has_work, pool, -1, FALSE);
          g_mutex_lock (&pool->lock);
          pool->n_spinning--;
          spun = TRUE;
          continue;
        }

      pool->n_sleeping++;
      g_cond_wait (&pool->cond, &pool->lock);
      pool->n_sleeping--;
      spun = FALSE;
    }
  pool->n_threads--;
  g_mutex_unlock (&pool->lock);

  gen_spin_set_block_hook (NULL, NULL);
  g_object_unref (pool);
  return NULL;
}

/* Runs @server on this thread if nobody else does and it is not nested
 * too deep: until @call is answered, or with no call until the server
 * stopped (the stop marker is queued). Returns FALSE if it could not. */
static gboolean
run_inline (GenServer *server,
            GenCall   *call)
{
  GenServerPrivate *priv = gen_server_get_private (server);
  GenRunResult result;

  if (inline_depth >= MAX_INLINE_DEPTH ||
      g_atomic_int_get (&priv->run_flag) != 0 ||
      !g_atomic_int_compare_and_exchange (&priv->run_flag, 0, 1))
    return FALSE;

  inline_depth++;
  g_object_ref (server);
  do
    result = gen_run_slice (server, GEN_BATCH_SIZE);
  while (result == GEN_RUN_MORE && (call == NULL || !gen_call_is_final (call)));
  inline_depth--;

  gen_run_flag_release (server, result, 1); /* with this run's reference */
  return TRUE;
}

static gboolean
pool_start (GenServer  *self,
            GVariant   *args,
            GError    **error)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GenScheduler *pool = priv->scheduler;
  gboolean ok;

  gen_run_flag_acquire (self);

  g_mutex_lock (&pool->lock);
  pool->n_live++;
  g_mutex_unlock (&pool->lock);

  g_object_ref (self); /* the run's own, until it finishes */
  gen_mailbox_open (&priv->mailbox, gen_run_flag_wake, self);

  /* init runs here: start() waits for it anyway. */
  g_atomic_pointer_set (&priv->handler_thread, g_thread_self ());
  ok = gen_run_init (self, args, error);
  g_atomic_pointer_set (&priv->handler_thread, NULL);

  if (!ok)
    {
      gen_server_get_private (self)->kind->run_ended (self);
      g_atomic_int_set (&priv->run_flag, 0);
      g_object_unref (self);
      return FALSE;
    }

  gen_run_set_status (self, GEN_STATUS_RUNNING);
  /* Continues run after start() returned, as on a thread of its own. */
  gen_run_flag_release (self, gen_run_has_work (self) ? GEN_RUN_MORE : GEN_RUN_IDLE, 0);
  return TRUE;
}

static gboolean
pool_drive_stop (GenServer *self,
                 gboolean   inline_ok)
{
  if (!inline_ok || !run_inline (self, NULL))
    gen_run_flag_wake (self);
  return FALSE;
}

static void
pool_hand_off (GenServer *self,
               GenCall   *call)
{
  if (!run_inline (self, call))
    gen_run_flag_wake (self);
}

static void
pool_run_ended (GenServer *self)
{
  GenScheduler *pool = gen_server_get_private (self)->scheduler;

  gen_run_flag_run_ended (self);

  g_mutex_lock (&pool->lock);
  g_assert (pool->n_live > 0);
  /* The last running server gone, the workers end. */
  if (--pool->n_live == 0)
    g_cond_broadcast (&pool->cond);
  g_mutex_unlock (&pool->lock);
}

/* A pool server has no state of the kind's own: the run flag is the
 * run's, the run queue the pool's. */
static void
pool_init (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  priv->timer_service = gen_timer_service_ref (priv->scheduler->timers);
}

static void
pool_finalize (GenServer *self)
{
}

const GenSchedulerKind gen_pool_scheduler_kind = {
  .name = "pool",
  .init = pool_init,
  .finalize = pool_finalize,
  .start = pool_start,
  .drive_stop = pool_drive_stop,
  .hand_off = pool_hand_off,
  .run_ended = pool_run_ended,
  .enqueue = pool_enqueue_server,
};
