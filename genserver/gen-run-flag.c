/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The run flag: how the kinds whose servers share threads (the pool and
 * the main context; see GenSchedulerKind in gen-server-private.h) hand a
 * server's handlers from one thread to the next, with its idle deadline
 * while nobody holds it; and the letting go of a run's references at its
 * end, handed to the stop() that waits for it. Any thread: the flag, set
 * by one compare-and-exchange, says which thread owns the handlers. */

#include "config.h"

#include "gen-server-private.h"

/* Letting go at a run's end ------------------------------------------------ */

/* By the flag's owner as the run ends: a thread that let go of the flag
 * after an idle slice may still be looking at the server, with no
 * reference of its own (gen_run_flag_release()); the run's reference
 * outlives its look. The look is a few atomics and maybe a push on a run
 * queue. */
static void
wait_lookers (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  while (g_atomic_int_get (&priv->n_lookers) > 0)
    g_thread_yield ();
}

/* Hands @n_refs references to @self to the stop() waiting for the run
 * that just ended, or drops them; with @clear_flag, lets go of the run
 * flag in the same breath, so that nothing here touches @self once the
 * stopper may have dropped them. */
static void
let_go (GenServer *self,
        guint      n_refs,
        gboolean   clear_flag)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GenStopper *stopper;

  wait_lookers (self);

  g_mutex_lock (&priv->lock);
  if (clear_flag)
    g_atomic_int_set (&priv->run_flag, 0);
  stopper = g_steal_pointer (&priv->stopper);
  if (stopper != NULL)
    {
      stopper->n_refs = n_refs;
      stopper->handed = TRUE;
      g_cond_broadcast (&priv->cond);
    }
  g_mutex_unlock (&priv->lock);

  if (stopper == NULL)
    while (n_refs-- > 0)
      g_object_unref (self);
}

void
gen_run_let_go (GenServer *self,
                guint      n_refs)
{
  let_go (self, n_refs, FALSE);
}

/* The run flag ------------------------------------------------------------ */

void
gen_run_flag_wake (gpointer data)
{
  GenServer *server = data;
  GenServerPrivate *priv = gen_server_get_private (server);
  gint status;

  if (g_atomic_int_get (&priv->run_flag) != 0 ||
      !g_atomic_int_compare_and_exchange (&priv->run_flag, 0, 1))
    return;

  /* Only a run that is alive is queued, so that the run's own reference
   * holds the server while it waits (a pool's queue takes none) and a
   * queue's reference is never the server's last (see
   * gen_run_flag_release()). A wake-up after the run ended (a stop's,
   * which raced with the end) has nothing left to run, and a server
   * queued then would be held by its queue after its stopper returned.
   * (A start meanwhile waits for the flag in gen_run_flag_acquire(), and
   * opens the mailbox after it.) */
  status = g_atomic_int_get (&priv->status);
  if (status != GEN_STATUS_RUNNING && status != GEN_STATUS_STOPPING)
    {
      g_atomic_int_set (&priv->run_flag, 0);
      return;
    }
  priv->kind->enqueue (server);
}

/* The idle timeout of a server that shares its thread: a source on its
 * timer service that wakes the server at its deadline, like a push. */
static gboolean
idle_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs idle_source_funcs = {
  .dispatch = idle_source_dispatch,
};

static gboolean
idle_deadline_cb (gpointer data)
{
  gen_run_flag_wake (data);
  return G_SOURCE_CONTINUE;
}

static void
idle_source_done (gpointer data)
{
  GenServer *server = data;

  gen_timer_service_release (gen_server_get_private (server)->timer_service);
  g_object_unref (server);
}

/* By the run flag's owner, as it lets go of an idle server. */
static void
arm_idle_deadline (GenServer *server)
{
  GenServerPrivate *priv = gen_server_get_private (server);
  /* A late turn of a stopped server (a stop that found the run ended)
   * arms nothing: the run's source went with it, and a new one would
   * hold the server. */
  gint64 deadline = g_atomic_int_get (&priv->status) == GEN_STATUS_STOPPED ?
                    -1 : gen_run_idle_deadline (server);

  if (deadline < 0)
    {
      if (priv->idle_source != NULL)
        g_source_set_ready_time (priv->idle_source, -1);
      return;
    }

  if (priv->idle_source == NULL)
    {
      priv->idle_source = g_source_new (&idle_source_funcs, sizeof (GSource));
      g_source_set_callback (priv->idle_source, idle_deadline_cb,
                             g_object_ref (server), idle_source_done);
      g_source_set_static_name (priv->idle_source, "[genserver] idle timeout");
      gen_timer_service_attach (priv->timer_service, priv->idle_source);
    }
  g_source_set_ready_time (priv->idle_source, deadline);
}

void
gen_run_flag_release (GenServer    *server,
                      GenRunResult  result,
                      guint         n_refs)
{
  GenServerPrivate *priv = gen_server_get_private (server);

  if (result == GEN_RUN_FINISHED)
    {
      /* With the run's own reference, from start. */
      let_go (server, n_refs + 1, TRUE);
      return;
    }

  /* Dropped while the flag still holds the run, which keeps them from
   * being the last: a queued server's run is alive (gen_run_flag_wake()),
   * so its own reference is held, and an inline runner's caller holds one.
   * Once the flag goes, another thread may end the run, and its stop()
   * return before a reference dropped later. */
  while (n_refs-- > 0)
    g_object_unref (server);

  switch (result)
    {
    case GEN_RUN_MORE:
      priv->kind->enqueue (server); /* the flag stays set */
      break;

    case GEN_RUN_IDLE:
      arm_idle_deadline (server);
      /* The look below holds no reference: whoever ends the run meanwhile
       * waits for it (wait_lookers()). */
      g_atomic_int_inc (&priv->n_lookers);
      g_atomic_int_set (&priv->run_flag, 0);
      /* A push that saw the flag still set relies on this look. (The
       * continues are the handlers' own: only the owner adds to them.)
       * So do a resume, a stop and a status request, which change what
       * it looks at before they wake the server. */
      if (gen_run_wants_turn (server))
        gen_run_flag_wake (server);
      g_atomic_int_add (&priv->n_lookers, -1);
      break;

    default:
      g_assert_not_reached ();
    }
}

void
gen_run_flag_acquire (GenServer *server)
{
  GenServerPrivate *priv = gen_server_get_private (server);

  while (!g_atomic_int_compare_and_exchange (&priv->run_flag, 0, 1))
    g_thread_yield ();
}

void
gen_run_flag_run_ended (GenServer *server)
{
  GenServerPrivate *priv = gen_server_get_private (server);
  GSource *idle_source = g_steal_pointer (&priv->idle_source);

  if (idle_source != NULL)
    {
      g_source_destroy (idle_source);
      g_source_unref (idle_source);
    }
}
