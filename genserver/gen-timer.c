/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-timer-private.h"

/* Timer services ---------------------------------------------------------- */

struct _GenTimerService
{
  gint ref_count;        /* atomic */
  GMainContext *context; /* owned; immutable */
  gchar *thread_name;    /* owned; immutable; NULL: somebody else's context */

  GMutex lock;
  guint n_held;          /* lock: sources attached and not yet destroyed */
  gboolean running;      /* lock: the thread iterates, or is about to */
};

GenTimerService *
gen_timer_service_new (const gchar *thread_name)
{
  GenTimerService *service = g_new0 (GenTimerService, 1);

  service->ref_count = 1;
  service->context = g_main_context_new ();
  service->thread_name = g_strdup (thread_name);
  g_mutex_init (&service->lock);
  return service;
}

GenTimerService *
gen_timer_service_new_for_context (GMainContext *context)
{
  GenTimerService *service = g_new0 (GenTimerService, 1);

  service->ref_count = 1;
  service->context = g_main_context_ref (context);
  g_mutex_init (&service->lock);
  return service;
}

GenTimerService *
gen_timer_service_ref (GenTimerService *service)
{
  g_atomic_int_inc (&service->ref_count);
  return service;
}

void
gen_timer_service_unref (GenTimerService *service)
{
  if (!g_atomic_int_dec_and_test (&service->ref_count))
    return;

  g_assert (service->n_held == 0);
  g_main_context_unref (service->context);
  g_free (service->thread_name);
  g_mutex_clear (&service->lock);
  g_free (service);
}

GenTimerService *
gen_timer_service_get_default (void)
{
  static gsize service;

  if (g_once_init_enter (&service))
    g_once_init_leave (&service, (gsize) gen_timer_service_new ("genserver-timer"));

  return (GenTimerService *) service;
}

/* Iterates until no source is held. The check and `running` change under
 * the lock, so a source attached meanwhile either keeps this thread going
 * or finds it gone and starts another. This thread lets go of the context
 * before `running` says it is gone: the next thread's push would find the
 * context still owned otherwise. */
static gpointer
timer_thread_main (gpointer data)
{
  GenTimerService *service = data; /* the thread's own reference */

  g_main_context_push_thread_default (service->context);
  for (;;)
    {
      g_main_context_iteration (service->context, TRUE);

      g_mutex_lock (&service->lock);
      if (service->n_held == 0)
        {
          g_main_context_pop_thread_default (service->context);
          service->running = FALSE;
          g_mutex_unlock (&service->lock);
          break;
        }
      g_mutex_unlock (&service->lock);
    }

  gen_timer_service_unref (service);
  return NULL;
}

void
gen_timer_service_attach (GenTimerService *service,
                          GSource         *source)
{
  g_mutex_lock (&service->lock);
  service->n_held++;
  if (service->thread_name != NULL && !service->running)
    {
      service->running = TRUE;
      g_thread_unref (g_thread_new (service->thread_name, timer_thread_main,
                                    gen_timer_service_ref (service)));
    }
  g_mutex_unlock (&service->lock);

  g_source_attach (source, service->context);
}

void
gen_timer_service_release (GenTimerService *service)
{
  gboolean idle;

  g_mutex_lock (&service->lock);
  g_assert (service->n_held > 0);
  idle = --service->n_held == 0;
  g_mutex_unlock (&service->lock);

  /* The thread may sleep in its iteration with nothing left to wait for. */
  if (idle && service->thread_name != NULL)
    g_main_context_wakeup (service->context);
}

/* Timers ------------------------------------------------------------------- */

typedef enum
{
  TIMER_PENDING,   /* its source has not fired */
  TIMER_QUEUED,    /* fired: the message is in the mailbox */
  TIMER_DONE,      /* handled or cancelled */
} TimerState;

struct _GenTimer
{
  GenEnvelope envelope;      /* GEN_ENVELOPE_TIMER */
  gint ref_count;            /* atomic */
  guint id;                  /* immutable */
  GenTimerTable *timers;     /* unowned: lives in the server; immutable */
  GObject *server;           /* owned; immutable */
  GenMailbox *mailbox;       /* unowned: lives in the server; immutable */
  GenTimerService *service;  /* owned; immutable */
  GVariant *message;         /* owned; immutable */
  GSource *source;           /* owned; immutable */
  gint64 deadline;           /* the source's ready time; immutable */
  TimerState state;          /* timers->lock */
  GSequenceIter *pending;    /* timers->lock; in timers->pending while PENDING */
};

static GenTimer *
timer_ref (GenTimer *timer)
{
  g_atomic_int_inc (&timer->ref_count);
  return timer;
}

void
gen_timer_unref (GenTimer *timer)
{
  if (!g_atomic_int_dec_and_test (&timer->ref_count))
    return;

  g_variant_unref (timer->message);
  g_source_unref (timer->source);
  gen_timer_service_unref (timer->service);
  g_object_unref (timer->server);
  g_free (timer);
}

GVariant *
gen_timer_get_message (GenTimer *timer)
{
  return timer->message;
}

static gint
timer_compare (gconstpointer a,
               gconstpointer b,
               gpointer      data)
{
  const GenTimer *timer_a = a, *timer_b = b;

  if (timer_a->deadline != timer_b->deadline)
    return timer_a->deadline < timer_b->deadline ? -1 : 1;
  /* Ids grow (they wrap only after 2^32 timers): same deadline, set first. */
  return timer_a->id < timer_b->id ? -1 : timer_a->id > timer_b->id;
}

/* Called with the lock held: @timer's message is queued or dropped. */
static void
timer_leave_pending (GenTimer *timer)
{
  if (timer->pending != NULL)
    {
      g_sequence_remove (timer->pending);
      timer->pending = NULL;
    }
}

/* @timer's source fired: its message is queued, after those of the timers
 * with an earlier deadline whose sources have not fired yet (they are due
 * too; their sources then find them queued and do nothing). One at a time,
 * off the lock: the sources of a table all run on one thread, so nothing
 * else queues meanwhile, and a cancel or a close in between takes its
 * timers out of `pending` (the loop ends once @timer is no longer pending,
 * queued here or cancelled). */
static gboolean
timer_fired_cb (gpointer data)
{
  GenTimer *timer = data;
  GenTimerTable *timers = timer->timers;

  g_mutex_lock (&timers->lock);
  while (timer->state == TIMER_PENDING)
    {
      /* The mailbox's reference, taken while a cancel cannot drop the
       * others. */
      GenTimer *first = timer_ref (g_sequence_get (g_sequence_get_begin_iter (timers->pending)));

      first->state = TIMER_QUEUED;
      timer_leave_pending (first);
      g_mutex_unlock (&timers->lock);

      /* Refused only by a stopping server, which cancels all its timers. */
      if (gen_mailbox_push (first->mailbox, GEN_ITEM_MAKE (first, GEN_ITEM_ENVELOPE),
                            TRUE) != GEN_PUSH_OK)
        gen_timer_unref (first);

      g_mutex_lock (&timers->lock);
    }
  g_mutex_unlock (&timers->lock);

  return G_SOURCE_REMOVE;
}

/* The source's reference, dropped when the source is destroyed, fired or
 * cancelled: the service may stop its thread once none is left. */
static void
timer_source_done (gpointer data)
{
  GenTimer *timer = data;

  gen_timer_service_release (timer->service);
  gen_timer_unref (timer);
}

void
gen_timer_table_init (GenTimerTable *timers)
{
  g_mutex_init (&timers->lock);
}

void
gen_timer_table_clear (GenTimerTable *timers)
{
  g_assert (timers->table == NULL || g_hash_table_size (timers->table) == 0);
  g_clear_pointer (&timers->table, g_hash_table_unref);
  g_clear_pointer (&timers->pending, g_sequence_free);
  g_mutex_clear (&timers->lock);
}

void
gen_timer_table_open (GenTimerTable *timers)
{
  g_mutex_lock (&timers->lock);
  timers->open = TRUE;
  g_mutex_unlock (&timers->lock);
}

void
gen_timer_table_close (GenTimerTable *timers)
{
  GHashTableIter iter;
  GPtrArray *cancelled;
  GenTimer *timer;

  g_mutex_lock (&timers->lock);
  timers->open = FALSE;
  /* Most runs set no timer: nothing to make. */
  if (timers->table == NULL || g_hash_table_size (timers->table) == 0)
    {
      g_mutex_unlock (&timers->lock);
      return;
    }
  cancelled = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, timers->table);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &timer))
    {
      timer->state = TIMER_DONE;
      timer_leave_pending (timer);
      g_ptr_array_add (cancelled, timer);
      g_hash_table_iter_steal (&iter);
    }
  g_mutex_unlock (&timers->lock);

  for (guint i = 0; i < cancelled->len; i++)
    {
      timer = g_ptr_array_index (cancelled, i);
      g_source_destroy (timer->source);
      gen_timer_unref (timer);
    }
  g_ptr_array_unref (cancelled);
}

guint
gen_timer_table_add (GenTimerTable   *timers,
                     GObject         *server,
                     GenMailbox      *mailbox,
                     GenTimerService *service,
                     GVariant        *message,
                     guint            delay_ms)
{
  static guint last_timer_id;
  GenTimer *timer;
  guint id;

  do
    id = (guint) g_atomic_int_add ((gint *) &last_timer_id, 1) + 1;
  while (id == 0);

  g_mutex_lock (&timers->lock);
  if (!timers->open)
    {
      g_mutex_unlock (&timers->lock);
      g_variant_unref (message);
      return 0;
    }

  timer = g_new0 (GenTimer, 1);
  timer->envelope.kind = GEN_ENVELOPE_TIMER;
  timer->ref_count = 1; /* the table's */
  timer->id = id;
  timer->timers = timers;
  timer->server = g_object_ref (server);
  timer->mailbox = mailbox;
  timer->service = gen_timer_service_ref (service);
  timer->message = message;
  timer->state = TIMER_PENDING;
  timer->source = g_timeout_source_new (delay_ms);
  timer->deadline = g_source_get_ready_time (timer->source);
  if (timers->pending == NULL)
    timers->pending = g_sequence_new (NULL);
  timer->pending = g_sequence_insert_sorted (timers->pending, timer, timer_compare, NULL);
  g_source_set_callback (timer->source, timer_fired_cb, timer_ref (timer), timer_source_done);
  g_source_set_static_name (timer->source, "[genserver] send_after");
  if (timers->table == NULL)
    timers->table = g_hash_table_new (NULL, NULL);
  g_hash_table_insert (timers->table, GUINT_TO_POINTER (id), timer);
  /* Under the lock, so that a concurrent close cannot destroy it first. */
  gen_timer_service_attach (service, timer->source);
  g_mutex_unlock (&timers->lock);

  return id;
}

gboolean
gen_timer_table_cancel (GenTimerTable *timers,
                        guint          id)
{
  GenTimer *timer;

  g_mutex_lock (&timers->lock);
  timer = timers->table != NULL ? g_hash_table_lookup (timers->table, GUINT_TO_POINTER (id)) : NULL;
  if (timer != NULL)
    {
      timer->state = TIMER_DONE;
      timer_leave_pending (timer);
      g_hash_table_steal (timers->table, GUINT_TO_POINTER (id));
    }
  g_mutex_unlock (&timers->lock);

  if (timer == NULL)
    return FALSE;

  g_source_destroy (timer->source);
  gen_timer_unref (timer);
  return TRUE;
}

gboolean
gen_timer_table_claim (GenTimerTable *timers,
                       GenTimer      *timer)
{
  gboolean live;

  g_mutex_lock (&timers->lock);
  live = timer->state == TIMER_QUEUED;
  if (live)
    {
      timer->state = TIMER_DONE;
      g_hash_table_steal (timers->table, GUINT_TO_POINTER (timer->id));
    }
  g_mutex_unlock (&timers->lock);

  if (live)
    gen_timer_unref (timer); /* the table's; the mailbox item holds another */

  return live;
}
