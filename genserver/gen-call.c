/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <string.h>

#include "gen-call-private.h"
#include "gen-spin-private.h"

#ifdef HAVE_SYSPROF
# include <sysprof-capture.h>
#endif

/* The reply slot this thread let go of last, kept for its next call: a
 * synchronous caller makes one call after the other, and each cost a
 * calloc and a free (~250 instructions). Freed when the thread exits. */
static GPrivate spare_call = G_PRIVATE_INIT (g_free);

GenCall *
gen_call_new (GVariant    *message,
              const gchar *server_name)
{
  GenCall *call = g_private_get (&spare_call);

  if (call != NULL)
    {
      g_private_set (&spare_call, NULL);
      memset (call, 0, sizeof *call);
    }
  else
    call = g_new0 (GenCall, 1);

  call->ref_count = 1;
  call->state = GEN_CALL_PENDING;
  call->message = g_variant_ref (message);
  call->server_name = server_name;
  g_mutex_init (&call->mutex);
  g_cond_init (&call->cond);
  return call;
}

GenCall *
gen_call_ref (GenCall *call)
{
  g_atomic_int_inc (&call->ref_count);
  return call;
}

void
gen_call_unref (GenCall *call)
{
  if (!g_atomic_int_dec_and_test (&call->ref_count))
    return;

  g_assert (call->task == NULL);
  g_assert (call->timeout_source == NULL);
  g_variant_unref (call->message);
  g_clear_pointer (&call->reply, g_variant_unref);
  g_clear_error (&call->error);
  g_clear_error (&call->abandon_error);
  if (call->landing_free != NULL)
    call->landing_free (call->landing_data);
  g_mutex_clear (&call->mutex);
  g_cond_clear (&call->cond);
  if (g_private_get (&spare_call) == NULL)
    g_private_set (&spare_call, call);
  else
    g_free (call);
}

static gboolean
state_is_final (gint state)
{
  return state == GEN_CALL_ANSWERED || state == GEN_CALL_ABANDONED;
}

gboolean
gen_call_is_final (GenCall *call)
{
  return state_is_final (g_atomic_int_get (&call->state));
}

gboolean
gen_call_begin_running (GenCall *call)
{
  return g_atomic_int_compare_and_exchange (&call->state, GEN_CALL_PENDING, GEN_CALL_RUNNING);
}

static void
call_wake (GenCall *call)
{
  if (call->task != NULL)
    {
      gen_call_schedule_completion (call);
      return;
    }

  /* Both `state` and `sleeping` are sequentially consistent: if the caller
   * set `sleeping` too late for this look, its own look at `state`, which
   * follows, sees the answer. */
  if (!g_atomic_int_get (&call->sleeping))
    return;

  /* The caller set `sleeping` and looked at `state` under `mutex`, and
   * lets go of it only inside g_cond_wait(), which has by then read the
   * condition's count that the signal bumps: taking `mutex` once waits
   * that out, so the signal can come after it is let go. Signalled under
   * it, the caller woke only to block on the mutex the server still held,
   * a second sleep and wake-up per call. (The answerer holds a reference
   * of its own, so the call outlives a caller that returns meanwhile.) */
  g_mutex_lock (&call->mutex);
  g_mutex_unlock (&call->mutex);
  g_cond_signal (&call->cond);
}

void
gen_call_answer (GenCall  *call,
                 GVariant *reply,
                 GError   *error)
{
  g_assert ((reply == NULL) != (error == NULL));

  if (!g_atomic_int_compare_and_exchange (&call->state, GEN_CALL_RUNNING, GEN_CALL_ANSWERING) &&
      !g_atomic_int_compare_and_exchange (&call->state, GEN_CALL_PENDING, GEN_CALL_ANSWERING))
    {
      /* The caller gave up, or (a taken reply) the end of the server's
       * run answered it STOPPED first: the answer that lost is dropped. */
      g_clear_pointer (&reply, g_variant_unref);
      g_clear_error (&error);
      return;
    }

  call->reply = reply;
  call->error = error;
  g_atomic_int_set (&call->state, GEN_CALL_ANSWERED);
  call_wake (call);
}

gboolean
gen_call_abandon (GenCall *call,
                  GError  *reason)
{
  if (!g_atomic_int_compare_and_exchange (&call->state, GEN_CALL_PENDING, GEN_CALL_ABANDONED) &&
      !g_atomic_int_compare_and_exchange (&call->state, GEN_CALL_RUNNING, GEN_CALL_ABANDONED))
    {
      g_clear_error (&reason);
      return FALSE;
    }

  call->abandon_error = reason;
  return TRUE;
}

gboolean
gen_call_abandon_queued (GenCall *call)
{
  return g_atomic_int_compare_and_exchange (&call->state, GEN_CALL_PENDING, GEN_CALL_ABANDONED);
}

static gboolean
call_done (gpointer data)
{
  return gen_call_is_final (data);
}

static gboolean gen_call_wait_unmarked (GenCall *call,
                                        gint64   deadline,
                                        gint    *sleepers);

/* A caller's wait is a Sysprof mark when a profiler listens. A call that
 * is over already is no wait: neither a mark nor the look for a profiler
 * (~75 instructions), which every synchronous call paid twice, the second
 * time after its answer (see gen_server_call()). */
gboolean
gen_call_wait (GenCall *call,
               gint64   deadline,
               gint    *sleepers)
{
  if (gen_call_is_final (call))
    return TRUE;

#ifdef HAVE_SYSPROF
  if (sysprof_collector_is_active ())
    {
      gint64 begin = SYSPROF_CAPTURE_CURRENT_TIME;
      gboolean final = gen_call_wait_unmarked (call, deadline, sleepers);

      sysprof_collector_mark (begin, SYSPROF_CAPTURE_CURRENT_TIME - begin,
                              "genserver", "call wait", call->server_name);
      return final;
    }
#endif
  return gen_call_wait_unmarked (call, deadline, sleepers);
}

static gboolean
gen_call_wait_unmarked (GenCall *call,
                        gint64   deadline,
                        gint    *sleepers)
{
  GenSpinFlags flags = GEN_SPIN_CALLER;
  gboolean blocking;

  if (sleepers != NULL && g_atomic_int_get (sleepers) > 0)
    flags |= GEN_SPIN_YIELD_ONCE;
  if (gen_call_is_final (call) ||
      gen_spin_until (call_done, call, deadline, flags))
    return TRUE;

  /* A pool worker about to sleep lets its pool run others meanwhile: the
   * callee may be queued behind this very worker (see the blocking hook in
   * gen-spin-private.h, set by gen-worker-pool.c). */
  blocking = gen_spin_block_begin ();
  if (sleepers != NULL)
    g_atomic_int_inc (sleepers);

  g_mutex_lock (&call->mutex);
  g_atomic_int_set (&call->sleeping, TRUE);
  while (!gen_call_is_final (call))
    {
      if (deadline < 0)
        g_cond_wait (&call->cond, &call->mutex);
      else if (!g_cond_wait_until (&call->cond, &call->mutex, deadline))
        break;
    }
  g_atomic_int_set (&call->sleeping, FALSE);
  g_mutex_unlock (&call->mutex);

  if (sleepers != NULL)
    g_atomic_int_add (sleepers, -1);
  if (blocking)
    gen_spin_block_end ();

  return gen_call_is_final (call);
}

/* Async calls ------------------------------------------------------------ */

static gboolean
call_complete_cb (gpointer data)
{
  GenCall *call = data;
  GTask *task = g_steal_pointer (&call->task);

  g_mutex_lock (&call->mutex);
  if (call->timeout_source != NULL)
    {
      g_source_destroy (call->timeout_source);
      g_clear_pointer (&call->timeout_source, g_source_unref);
    }
  if (call->cancelled_id != 0)
    {
      g_cancellable_disconnect (g_task_get_cancellable (task), call->cancelled_id);
      call->cancelled_id = 0;
    }
  g_mutex_unlock (&call->mutex);

  if (g_atomic_int_get (&call->state) == GEN_CALL_ABANDONED)
    g_task_return_error (task, g_steal_pointer (&call->abandon_error));
  else if (call->error != NULL)
    g_task_return_error (task, g_steal_pointer (&call->error));
  else
    g_task_return_pointer (task, g_steal_pointer (&call->reply),
                           (GDestroyNotify) g_variant_unref);

  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

void
gen_call_schedule_completion (GenCall *call)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, g_task_get_priority (call->task));
  g_source_set_callback (source, call_complete_cb, gen_call_ref (call),
                         (GDestroyNotify) gen_call_unref);
  g_source_set_static_name (source, "[genserver] call reply");
  g_source_attach (source, g_task_get_context (call->task));
  g_source_unref (source);

  /* After the attach: whoever is woken finds the completion there. (Our
   * caller's reference keeps the call, whatever the completion does.) */
  if (call->landing != NULL)
    call->landing (call->landing_data);
}

void
gen_call_set_landing (GenCall            *call,
                      GenCallLandingFunc  landing,
                      gpointer            data,
                      GDestroyNotify      free)
{
  g_assert (call->landing == NULL);

  call->landing = landing;
  call->landing_data = data;
  call->landing_free = free;
}

static gboolean
call_timeout_cb (gpointer data)
{
  GenCall *call = data;

  if (gen_call_abandon (call, g_error_new (call->timeout_domain, call->timeout_code,
                                           "%s did not answer within %d ms",
                                           call->server_name, call->timeout_ms)))
    gen_call_schedule_completion (call);

  return G_SOURCE_REMOVE;
}

static void
call_cancelled_cb (GCancellable *cancellable,
                   gpointer      data)
{
  GenCall *call = data;
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (cancellable, &error);
  if (gen_call_abandon (call, error))
    gen_call_schedule_completion (call);
}

void
gen_call_bind_task (GenCall      *call,
                    GTask        *task,
                    gint          timeout_ms,
                    GQuark        timeout_domain,
                    gint          timeout_code,
                    GCancellable *cancellable)
{
  call->task = g_object_ref (task);
  call->timeout_domain = timeout_domain;
  call->timeout_code = timeout_code;

  /* Under `mutex`: once queued, the reply can be delivered on the task's
   * context by whichever thread runs it, and that delivery tears the
   * timeout and the handler down. The timeout or the cancellable may also
   * make the call final before it is queued (an already cancelled
   * cancellable does at once); the server then never runs it. */
  g_mutex_lock (&call->mutex);
  call->timeout_ms = timeout_ms;
  if (timeout_ms >= 0)
    {
      call->timeout_source = g_timeout_source_new (timeout_ms);
      g_source_set_callback (call->timeout_source, call_timeout_cb,
                             gen_call_ref (call), (GDestroyNotify) gen_call_unref);
      g_source_set_static_name (call->timeout_source, "[genserver] call timeout");
      g_source_attach (call->timeout_source, g_task_get_context (task));
    }

  if (cancellable != NULL)
    call->cancelled_id = g_cancellable_connect (cancellable,
                                                G_CALLBACK (call_cancelled_cb),
                                                gen_call_ref (call),
                                                (GDestroyNotify) gen_call_unref);
  g_mutex_unlock (&call->mutex);
}
