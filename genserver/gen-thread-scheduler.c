/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The default kind of scheduler: a thread of the server's own, blocked on
 * its mailbox while there is nothing to do. */

#include "config.h"

#include "gen-scheduler-private.h"
#include "gen-spin-private.h"

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
      g_object_unref (self);
      return NULL;
    }

  for (;;)
    {
      gint64 deadline;
      gpointer item;

      if (gen_run_hold (self))
        {
          gint seen = g_atomic_int_get (&priv->mailbox.pushes);

          /* A resume, a status request or a stop after this second look
           * moves `pushes` past `seen`. */
          if (gen_run_hold (self))
            gen_mailbox_sleep (&priv->mailbox, seen);
          continue;
        }

      deadline = gen_run_idle_deadline (self);
      item = gen_mailbox_pop_wait (&priv->mailbox, deadline);

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

  g_object_unref (self);
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
  priv->thread = thread;
  g_mutex_unlock (&priv->lock);

  ok = gen_scheduler_start_request_wait (&request, error);
  if (!ok)
    {
      g_mutex_lock (&priv->lock);
      thread = g_steal_pointer (&priv->thread);
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
  gen_mailbox_wake_idle (&gen_server_get_private (self)->mailbox);
  return FALSE;
}

const GenSchedulerKind gen_thread_scheduler_kind = {
  .name = "thread",
  .start = thread_start,
  .drive_stop = thread_drive_stop,
};
