/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The main-context kind of scheduler: mailboxes drained by a GSource
 * attached to the server's GMainContext, so the handlers run on whichever
 * thread iterates it (a GTK application's main thread, GJS's JavaScript
 * thread). */

#include "config.h"

#include "gen-scheduler-private.h"
#include "gen-spin-private.h"

/*
 * One GSource per GMainContext, whatever the number of its servers: it
 * serves a run queue of the servers that have mail, with the run flag
 * protocol of gen-run-flag.c, so that an iteration of a context with a
 * hundred thousand idle servers costs what one with a single server does.
 */
typedef struct
{
  GSource source;
  GMainContext *context; /* unowned: the key in `queues`; immutable */

  GMutex lock;
  GQueue run_queue;      /* lock: GenServer (a reference each), by run_link */
  gint n_queued;         /* atomic: its length, written under lock */
  gboolean closed;       /* lock: its last server finished */
  guint n_live;          /* queues_lock: servers between start and finish */

  /* After a dispatch that ran servers, the context's thread waits in
   * prepare for the next enqueue (see context_queue_prepare()), which
   * meanwhile need not wake the context: `spinning` (lock) says so.
   * `ran` belongs to the thread iterating the context. */
  gboolean spinning;
  gboolean ran;
} ContextQueue;

/* The kind's state of a server. */
typedef struct
{
  /* The run queue of the server's context (a reference); set by start,
   * before the run flag is let go, and kept to finalize. */
  ContextQueue *queue;
  /* The thread that last ran the handlers (unowned, only compared).
   * Atomic. A sync call from it while nobody runs the context would wait
   * for itself. */
  GThread *thread;
} MainState;

static MainState *
main_state (GenServer *server)
{
  return gen_server_get_private (server)->kind_data;
}

/* GMainContext (unowned) → its ContextQueue (a reference), while servers
 * run on it. */
static GMutex queues_lock;
static GHashTable *queues;

/* How long one dispatch may run servers before it lets the context's other
 * sources in (a GTK application still draws). */
#define DISPATCH_BUDGET_US 2000

/* Under the queue's lock, after the run queue changed. */
static void
count_queued_locked (ContextQueue *queue)
{
  g_atomic_int_set (&queue->n_queued, (gint) queue->run_queue.length);
}

static gboolean
queue_has (ContextQueue *queue,
           GenServer    *server)
{
  GList *link = &gen_server_get_private (server)->run_link;

  return link->prev != NULL || queue->run_queue.head == link;
}

/* The kind's enqueue hook: the server's run flag was just set. */
static void
main_enqueue (GenServer *server)
{
  GenServerPrivate *priv = gen_server_get_private (server);
  ContextQueue *queue = main_state (server)->queue;
  gboolean wake;

  g_mutex_lock (&queue->lock);
  if (queue->closed)
    {
      /* A late wake-up of a run that finished with its context's last. */
      g_mutex_unlock (&queue->lock);
      g_atomic_int_set (&priv->run_flag, 0);
      return;
    }
  priv->run_link.data = g_object_ref (server);
  /* A dispatch under way looks at the queue once more before it returns,
   * and a prepare waiting for it once more before it stops. */
  wake = g_queue_is_empty (&queue->run_queue) && !queue->spinning;
  g_queue_push_tail_link (&queue->run_queue, &priv->run_link);
  count_queued_locked (queue);
  g_mutex_unlock (&queue->lock);

  if (wake)
    g_source_set_ready_time (&queue->source, 0);
}

static gboolean
context_queue_dispatch (GSource     *source,
                        GSourceFunc  callback,
                        gpointer     user_data)
{
  ContextQueue *queue = (ContextQueue *) source;
  gint64 until;
  guint n;

  /* Reset before draining: an enqueue that finds the queue empty after
   * this sets it again, so no wake-up is lost. */
  g_source_set_ready_time (source, -1);

  g_mutex_lock (&queue->lock);
  n = queue->run_queue.length;
  g_mutex_unlock (&queue->lock);

  until = g_get_monotonic_time () + DISPATCH_BUDGET_US;
  for (guint i = 0; i < n && g_get_monotonic_time () < until; i++)
    {
      GenServer *server;
      GList *link;

      g_mutex_lock (&queue->lock);
      link = g_queue_pop_head_link (&queue->run_queue);
      count_queued_locked (queue);
      g_mutex_unlock (&queue->lock);
      if (link == NULL)
        break;

      queue->ran = TRUE;
      server = g_steal_pointer (&link->data);
      g_atomic_pointer_set (&main_state (server)->thread, g_thread_self ());
      /* With the queue's reference. */
      gen_run_flag_release (server, gen_run_slice (server, GEN_BATCH_SIZE), 1);
    }

  g_mutex_lock (&queue->lock);
  if (!g_queue_is_empty (&queue->run_queue))
    g_source_set_ready_time (source, 0);
  g_mutex_unlock (&queue->lock);

  return G_SOURCE_CONTINUE;
}

/* Servers still queued when the queue closed were late wake-ups. */
static void
drop_queued (GQueue *servers)
{
  GList *link;

  while ((link = g_queue_pop_head_link (servers)) != NULL)
    {
      GenServer *server = g_steal_pointer (&link->data);

      g_atomic_int_set (&gen_server_get_private (server)->run_flag, 0);
      g_object_unref (server);
    }
}

static void
context_queue_finalize (GSource *source)
{
  ContextQueue *queue = (ContextQueue *) source;

  drop_queued (&queue->run_queue);
  g_mutex_clear (&queue->lock);
}

static gboolean
queue_has_servers (gpointer data)
{
  return g_atomic_int_get (&((ContextQueue *) data)->n_queued) > 0;
}

/* After a dispatch that ran servers, the context's thread waits a moment
 * for the next server to have mail before it goes back to poll(), as a
 * server on a thread of its own does for its next message: it yields for
 * at most GEN_SPIN_NS (gen_spin_until(); not with spinning off, nor during
 * the yield back-off of a busy machine). The caller of the next call then
 * neither writes the context's eventfd nor waits for the thread to come
 * back from poll(): on an idle processor of a virtual machine that wake-up
 * took most of a call's 20 µs. It only yields, with no busy part: the
 * thread is often an application's main thread, and a busy part took the
 * processor from a caller sharing it (`call_rtt_main_busy` 17% slower).
 * The context's other sources wait for it, as they wait for a dispatch. */
static gboolean
context_queue_prepare (GSource *source,
                       gint    *timeout)
{
  ContextQueue *queue = (ContextQueue *) source;
  gboolean ready;

  if (!queue->ran)
    return FALSE;
  queue->ran = FALSE;

  g_mutex_lock (&queue->lock);
  queue->spinning = TRUE;
  g_mutex_unlock (&queue->lock);

  gen_spin_until (queue_has_servers, queue, -1, GEN_SPIN_YIELD_ONLY);

  /* An enqueue that saw `spinning` did not wake the context: this look,
   * under the same lock, sees what it queued. */
  g_mutex_lock (&queue->lock);
  queue->spinning = FALSE;
  ready = !g_queue_is_empty (&queue->run_queue);
  g_mutex_unlock (&queue->lock);

  return ready;
}

static GSourceFuncs context_queue_funcs = {
  .prepare = context_queue_prepare,
  .dispatch = context_queue_dispatch,
  .finalize = context_queue_finalize,
};

static void
context_queue_unref (ContextQueue *queue)
{
  g_source_unref (&queue->source);
}

/* The run queue of @context for a server that starts on it, created if it
 * has none: a new reference. */
static ContextQueue *
context_queue_join (GMainContext *context)
{
  ContextQueue *queue;

  g_mutex_lock (&queues_lock);
  if (queues == NULL)
    queues = g_hash_table_new (NULL, NULL);
  queue = g_hash_table_lookup (queues, context);
  if (queue == NULL)
    {
      queue = (ContextQueue *) g_source_new (&context_queue_funcs, sizeof (ContextQueue));
      queue->context = context;
      g_mutex_init (&queue->lock);
      g_queue_init (&queue->run_queue);
      g_source_set_static_name (&queue->source, "[genserver] mailboxes");
      g_source_set_priority (&queue->source, G_PRIORITY_DEFAULT);
      g_source_attach (&queue->source, context);
      g_hash_table_insert (queues, context, queue); /* the table's reference */
    }
  queue->n_live++;
  g_source_ref (&queue->source);
  g_mutex_unlock (&queues_lock);

  return queue;
}

/* A server of @queue's context finished its run; the last one closes the
 * queue. */
static void
context_queue_leave (ContextQueue *queue)
{
  GQueue late = G_QUEUE_INIT;
  gboolean last;

  g_mutex_lock (&queues_lock);
  g_assert (queue->n_live > 0);
  last = --queue->n_live == 0;
  if (last)
    {
      g_hash_table_remove (queues, queue->context);
      g_mutex_lock (&queue->lock);
      queue->closed = TRUE;
      late = queue->run_queue;
      g_queue_init (&queue->run_queue);
      count_queued_locked (queue);
      g_mutex_unlock (&queue->lock);
      g_source_destroy (&queue->source);
    }
  g_mutex_unlock (&queues_lock);

  if (last)
    {
      drop_queued (&late);
      context_queue_unref (queue); /* the table's */
    }
}

static gboolean
is_thread_default (GMainContext *context)
{
  g_autoptr(GMainContext) thread_default = g_main_context_ref_thread_default ();

  return thread_default == context;
}

/* How long start() waits for another thread to run init on its context
 * before it takes a context nobody iterates for its own. */
#define UNATTENDED_CONTEXT_US (100 * 1000)

/* The init source when another thread runs the context; or right away. */
static void
run_init_on_context (GenServer       *self,
                     GenStartRequest *request)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GError *error = NULL;
  gboolean ok;

  g_atomic_pointer_set (&priv->handler_thread, g_thread_self ());
  /* This thread runs the context, or it ran init while nobody did: it is
   * taken for the one that will unless the context is somebody else's (a
   * thread starting a server on another thread's context, between two of
   * its iterations). */
  if (g_main_context_is_owner (priv->main_context) && is_thread_default (priv->main_context))
    g_atomic_pointer_set (&main_state (self)->thread, g_thread_self ());
  ok = gen_run_init (self, request->args, &error);
  g_atomic_pointer_set (&priv->handler_thread, NULL);

  if (ok)
    {
      gen_run_set_status (self, GEN_STATUS_RUNNING);
      /* Continues run in the context's next dispatch. */
      gen_run_flag_release (self, gen_run_has_work (self) ? GEN_RUN_MORE : GEN_RUN_IDLE, 0);
    }
  else
    {
      context_queue_leave (main_state (self)->queue);
      g_atomic_int_set (&priv->run_flag, 0);
      g_object_unref (self); /* the run's own */
    }

  gen_scheduler_start_request_complete (request, error);
}

static gboolean
init_source_cb (gpointer data)
{
  GenStartRequest *request = data;

  run_init_on_context (request->server, request);
  return G_SOURCE_REMOVE;
}

static gboolean
main_start (GenServer  *self,
            GVariant   *args,
            GError    **error)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GenStartRequest request;
  gboolean ok;

  gen_scheduler_start_request_init (&request, self, args);

  /* Held from here to the end of init, so that nothing queued meanwhile
   * runs before it. */
  gen_run_flag_acquire (self);
  g_clear_pointer (&main_state (self)->queue, context_queue_unref);
  main_state (self)->queue = context_queue_join (priv->main_context);
  g_object_ref (self); /* the run's own, until it finishes */
  gen_mailbox_open (&priv->mailbox, gen_run_flag_wake, self);

  if ((g_main_context_is_owner (priv->main_context) || is_thread_default (priv->main_context)) &&
      g_main_context_acquire (priv->main_context))
    {
      /* This thread runs the context, or may: init runs right here. */
      run_init_on_context (self, &request);
      g_main_context_release (priv->main_context);
    }
  else
    {
      GSource *source = g_idle_source_new ();
      gint64 until = g_get_monotonic_time () + UNATTENDED_CONTEXT_US;

      g_source_set_priority (source, G_PRIORITY_HIGH);
      g_source_set_callback (source, init_source_cb, &request, NULL);
      g_source_set_static_name (source, "[genserver] init");
      g_source_attach (source, priv->main_context);
      g_source_unref (source);

      /* Another thread's context: its thread runs init. Only a context
       * that nobody iterates for 100 ms is run from here, so that a
       * thread about to push it as its thread-default finds it free. */
      g_mutex_lock (&request.mutex);
      while (!request.done)
        {
          if (g_cond_wait_until (&request.cond, &request.mutex, until) || request.done)
            continue;
          g_mutex_unlock (&request.mutex);
          if (g_main_context_acquire (priv->main_context))
            {
              while (!g_atomic_int_get (&request.done))
                g_main_context_iteration (priv->main_context, FALSE);
              g_main_context_release (priv->main_context);
            }
          until = g_get_monotonic_time () + UNATTENDED_CONTEXT_US;
          g_mutex_lock (&request.mutex);
        }
      g_mutex_unlock (&request.mutex);
    }

  ok = gen_scheduler_start_request_wait (&request, error);
  gen_scheduler_start_request_clear (&request);
  return ok;
}

/* The stopper owns the server's context: takes the server from the run
 * queue, or takes its idle flag, and runs it to its end right here. Nobody
 * else can be running it: only the context's owner runs its servers, and
 * this thread is not inside this server's handlers (stop() checked). */
static void
drain_on_owner (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  ContextQueue *queue = main_state (self)->queue;
  GenServer *queued = NULL;
  GenRunResult result;

  for (;;)
    {
      g_mutex_lock (&queue->lock);
      if (queue_has (queue, self))
        {
          g_queue_unlink (&queue->run_queue, &priv->run_link);
          count_queued_locked (queue);
          queued = g_steal_pointer (&priv->run_link.data);
        }
      g_mutex_unlock (&queue->lock);
      if (queued != NULL || g_atomic_int_compare_and_exchange (&priv->run_flag, 0, 1))
        break;
      /* A pusher between setting the flag and queueing the server. */
      g_thread_yield ();
    }

  g_object_ref (self);
  do
    result = gen_run_slice (self, GEN_BATCH_SIZE);
  while (result != GEN_RUN_FINISHED);
  /* With this drain's reference and the queue's, handed to the stop()
   * that runs it here. */
  gen_run_flag_release (self, result, queued != NULL ? 2 : 1);
}

static gboolean
main_drive_stop (GenServer *self,
                 gboolean   inline_ok)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  if (g_main_context_acquire (priv->main_context))
    {
      /* The thread that would handle the stop is this one. */
      drain_on_owner (self);
      g_main_context_release (priv->main_context);
      return TRUE;
    }

  gen_run_flag_wake (self);
  return FALSE;
}

static gboolean
main_would_call_self (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  gboolean result = FALSE;

  if (g_main_context_is_owner (priv->main_context))
    return TRUE;

  /* Nobody runs the server's context right now, and this is the thread
   * that does (it ran init or the last messages): waiting here would keep
   * the context from ever running again. Another thread just waits. */
  if (g_atomic_pointer_get (&main_state (self)->thread) == g_thread_self () &&
      g_main_context_acquire (priv->main_context))
    {
      g_main_context_release (priv->main_context);
      result = TRUE;
    }

  return result;
}

static void
main_run_ended (GenServer *self)
{
  gen_run_flag_run_ended (self);
  context_queue_leave (main_state (self)->queue);
}

static void
main_init (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  priv->kind_data = g_new0 (MainState, 1);
  priv->timer_service = gen_timer_service_new_for_context (priv->main_context);
}

static void
main_finalize (GenServer *self)
{
  MainState *state = main_state (self);

  g_clear_pointer (&state->queue, context_queue_unref);
  g_free (state);
}

const GenSchedulerKind gen_main_scheduler_kind = {
  .name = "main-context",
  .init = main_init,
  .finalize = main_finalize,
  .start = main_start,
  .drive_stop = main_drive_stop,
  .would_call_self = main_would_call_self,
  .run_ended = main_run_ended,
  .enqueue = main_enqueue,
};
