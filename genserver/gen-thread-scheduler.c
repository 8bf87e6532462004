/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The default kind of scheduler: a thread of the server's own, blocked on
 * its mailbox while there is nothing to do. */

#include "config.h"

#include "gen-scheduler-private.h"

/* The kind's state of a server. */
typedef struct
{
  /* Under the server's `lock`: the server thread, running or not yet
   * joined. Owned. */
  GThread *thread;
} ThreadState;

static ThreadState *
thread_state (GenServer *self)
{
  return gen_server_get_private (self)->kind_data;
}

static gpointer
server_thread_main (gpointer data)
{
  GenStartRequest *request = data;
  GenServer *self = request->server; /* the thread's own reference */
  GenServerPrivate *priv = gen_server_get_private (self);
  GError *error = NULL;

  g_atomic_pointer_set (&priv->handler_thread, g_thread_self ());

  if (!gen_run_init (self, request->args, &error))
    {
      g_atomic_pointer_set (&priv->handler_thread, NULL);
      gen_scheduler_start_request_complete (request, error);
      g_object_unref (self);
      return NULL;
    }

  gen_run_set_status (self, GEN_STATUS_RUNNING);
  gen_scheduler_start_request_complete (request, NULL);
  request = NULL; /* the starter may have returned */

  if (!gen_run_continues (self))
    {
      gen_run_finish (self, NULL, 0);
      gen_run_let_go (self, 1);
      return NULL;
    }

  for (;;)
    {
      /* Read before the hold looks at system requests and at the
       * suspension: a request or a resume after that look moves `pushes`
       * past it, and the wait for mail below ends at once. (Read in the
       * wait, it could count the poke of a request the hold had missed,
       * and the server would sleep with the request unanswered.) */
      gint seen_before_hold = g_atomic_int_get (&priv->mailbox.pushes);
      gint64 deadline;
      gpointer item;

      if (gen_run_hold (self))
        {
          gint seen = g_atomic_int_get (&priv->mailbox.pushes);

          /* A resume, a status request or a stop after this second look
           * moves `pushes` past `seen`: a stop in thread_drive_stop(),
           * after its status change (its marker's push may be counted in
           * `seen` already). */
          if (gen_run_hold (self))
            gen_mailbox_sleep (&priv->mailbox, seen);
          continue;
        }

      deadline = gen_run_idle_deadline (self);
      item = gen_mailbox_pop_wait (&priv->mailbox, seen_before_hold, deadline);

      if (item != NULL)
        {
          if (!gen_run_handle_batch (self, item, GEN_BATCH_SIZE))
            break;
        }
      else if (deadline >= 0 && g_get_monotonic_time () >= deadline &&
               !gen_run_idle_timeout (self))
        {
          gen_run_finish (self, NULL, 0);
          break;
        }
    }

  /* To the stop() that waits for this run, if one does: it joins this
   * thread and drops the reference. */
  gen_run_let_go (self, 1);
  return NULL;
}

static gboolean
thread_start (GenServer  *self,
              GVariant   *args,
              GError    **error)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GenStartRequest request;
  GError *thread_error = NULL;
  GThread *thread;
  gboolean ok;

  gen_scheduler_start_request_init (&request, self, args);
  gen_mailbox_open (&priv->mailbox, gen_mailbox_wake_idle, &priv->mailbox);

  g_object_ref (self); /* owned by the thread */
  thread = g_thread_try_new ("genserver", server_thread_main, &request, &thread_error);
  if (thread == NULL)
    {
      g_object_unref (self);
      gen_mailbox_close (&priv->mailbox, FALSE, FALSE);
      gen_timer_table_close (&priv->timers);
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                   "Could not start a thread for %s: %s",
                   gen_server_name (self), thread_error->message);
      g_clear_error (&thread_error);
      gen_scheduler_start_request_clear (&request);
      return FALSE;
    }

  g_mutex_lock (&priv->lock);
  thread_state (self)->thread = thread;
  g_mutex_unlock (&priv->lock);

  ok = gen_scheduler_start_request_wait (&request, error);
  if (!ok)
    {
      g_mutex_lock (&priv->lock);
      thread = g_steal_pointer (&thread_state (self)->thread);
      g_mutex_unlock (&priv->lock);
      if (thread != NULL)
        g_thread_join (thread);
    }

  gen_scheduler_start_request_clear (&request);
  return ok;
}

static gboolean
thread_drive_stop (GenServer *self,
                   gboolean   inline_ok)
{
  GenMailbox *mailbox = &gen_server_get_private (self)->mailbox;

  /* The stop marker was pushed before the status changed: a suspended
   * server between its two looks in the hold (server_thread_main()) may
   * have taken a `seen` that counts that push and still seen the server
   * running, and sleeps. Moving `pushes` now, after the change, ends that
   * sleep. (The mailbox is closed, so the poke itself wakes nobody.) */
  gen_mailbox_poke (mailbox);
  gen_mailbox_wake_idle (mailbox);
  return FALSE;
}

static void
thread_init (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  priv->kind_data = g_new0 (ThreadState, 1);
  priv->timer_service = gen_timer_service_ref (gen_timer_service_get_default ());
}

static void
thread_finalize (GenServer *self)
{
  ThreadState *state = thread_state (self);

  if (state->thread != NULL)
    {
      /* The last reference can be dropped by the server thread itself as it
       * exits; it cannot join itself. */
      if (state->thread == g_thread_self ())
        g_thread_unref (state->thread);
      else
        g_thread_join (state->thread);
    }
  g_free (state);
}

static GThread *
thread_take_thread (GenServer *self)
{
  return g_steal_pointer (&thread_state (self)->thread);
}

const GenSchedulerKind gen_thread_scheduler_kind = {
  .name = "thread",
  .init = thread_init,
  .finalize = thread_finalize,
  .start = thread_start,
  .drive_stop = thread_drive_stop,
  .take_thread = thread_take_thread,
};
