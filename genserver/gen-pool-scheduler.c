/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The pool kind of scheduler: servers that share a GenScheduler's worker
 * threads (gen-worker-pool.c).
 *
 * Who runs a pool server owns its handlers through its `run_flag` (see
 * gen-run-flag.c): the pusher that moves the flag from 0 to 1 queues the server
 * in its pool's run queue; a worker takes it, runs a slice and then either
 * queues it again at the end (more mail) or sets the flag back to 0 and
 * looks at the mailbox once more, so that a push that saw the flag still
 * set is never left unhandled. The flag's atomic exchange hands the
 * server's state from one thread to the next.
 *
 * The flag also lets a caller run an idle server inline, on its own thread:
 * a call or a stop that waits without a deadline, and init, which start()
 * waits for anyway. Nothing is woken and nothing moves to another
 * processor. A call with a deadline is always queued, since its caller
 * could not give up while running the handler itself.
 */

#include "config.h"

#include "gen-scheduler-private.h"
#include "gen-worker-pool-private.h"

/* Inline runs nest when an inline handler calls another idle server; past
 * this depth the call is queued instead, so that a long chain cannot
 * exhaust the caller's stack. */
#define MAX_INLINE_DEPTH 32

static _Thread_local guint inline_depth;

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
  gboolean ok;

  gen_run_flag_acquire (self);
  gen_worker_pool_server_started (priv->kind_data);

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
  gen_run_flag_run_ended (self);
  gen_worker_pool_server_ended (gen_server_get_private (self)->kind_data);
}

static void
pool_enqueue (GenServer *self)
{
  gen_worker_pool_push (gen_server_get_private (self)->kind_data, self);
}

/* A pool server's state of the kind is its pool's workers, which the
 * scheduler it holds owns: the run flag is the run's, the run queue the
 * workers'. */
static void
pool_init (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  priv->kind_data = gen_scheduler_get_workers (priv->scheduler);
  priv->timer_service = gen_timer_service_ref (gen_scheduler_get_timers (priv->scheduler));
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
  .enqueue = pool_enqueue,
};
