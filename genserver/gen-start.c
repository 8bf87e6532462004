/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-start.h"

/*
 * Start options: an `init` that answers "ignore", and a start timeout.
 *
 * Both are built on gen_server_start(): "ignore" is the init error
 * GEN_SERVER_ERROR_IGNORED, which the supervisor (and links) read as "not
 * started, and that is fine"; the timeout runs the start on a thread of
 * its own and stops the server once its late init returns.
 */

/**
 * gen_server_set_ignore:
 * @error: the `error` argument of `init`
 *
 * Answers "ignore" from `init`, as Erlang's `init/1` returning `ignore`:
 * the server does not start ([method@Gen.Server.start] fails with
 * %GEN_SERVER_ERROR_IGNORED), but this is not a failure. A
 * [class@Gen.Supervisor] records such a child as not started, keeps its
 * spec and goes on (its start, or [method@Gen.Supervisor.start_child],
 * succeeds); a link does not pass it on. Monitors are told with this error
 * as the reason.
 *
 * From Python, raise the error yourself:
 *
 * ```python
 * def do_init(self, args):
 *     raise GLib.Error.new_literal(Gen.server_error_quark(), "not today",
 *                                  Gen.ServerError.IGNORED)
 * ```
 *
 * Since: 1.0
 */
void
gen_server_set_ignore (GError **error)
{
  g_set_error_literal (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_IGNORED,
                       "init answered ignore");
}

/**
 * gen_server_is_ignore:
 * @error: (nullable): an error
 *
 * Whether @error is the "ignore" answer of an `init` (see
 * [func@Gen.Server.set_ignore]): %GEN_SERVER_ERROR_IGNORED, or an error of
 * the %GEN_SERVER_IGNORE domain that genserver 1.0 used for it.
 *
 * ```c
 * if (!gen_server_start (server, NULL, &error) && gen_server_is_ignore (error))
 *   g_debug ("%s chose not to start", G_OBJECT_TYPE_NAME (server));
 * ```
 *
 * Returns: %TRUE for an "ignore"
 *
 * Since: 1.0
 */
gboolean
gen_server_is_ignore (const GError *error)
{
  return error != NULL &&
         (g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_IGNORED) ||
          error->domain == GEN_SERVER_IGNORE);
}

typedef struct
{
  gint ref_count;       /* atomic */

  /* Immutable. */
  GenServer *server;    /* owned */
  GVariant *args;       /* owned, nullable */
  gint timeout_ms;

  GMutex lock;
  GCond cond;
  gboolean done;        /* lock */
  gboolean abandoned;   /* lock: the starter gave up */
  gboolean started;     /* lock */
  GError *error;        /* lock; owned */
} StartJob;

static void
start_job_unref (StartJob *job)
{
  if (!g_atomic_int_dec_and_test (&job->ref_count))
    return;
  g_object_unref (job->server);
  g_clear_pointer (&job->args, g_variant_unref);
  g_clear_error (&job->error);
  g_mutex_clear (&job->lock);
  g_cond_clear (&job->cond);
  g_free (job);
}

static gpointer
start_thread (gpointer data)
{
  StartJob *job = data;
  GError *error = NULL;
  gboolean started;
  gboolean abandoned;

  started = gen_server_start (job->server, job->args, &error);

  g_mutex_lock (&job->lock);
  job->done = TRUE;
  job->started = started;
  job->error = error;
  abandoned = job->abandoned;
  g_cond_broadcast (&job->cond);
  g_mutex_unlock (&job->lock);

  if (abandoned && started)
    {
      /* Nobody wanted it any more: it stops, saying why. */
      g_autoptr(GError) reason = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                                              "%s did not start within %d ms",
                                              G_OBJECT_TYPE_NAME (job->server), job->timeout_ms);

      gen_server_stop_with_reason (job->server, reason, -1, NULL);
    }

  start_job_unref (job);
  return NULL;
}

/**
 * gen_server_start_with_timeout:
 * @self: a #GenServer
 * @args: (nullable): the arguments for `init`; a floating reference is sunk
 * @timeout_ms: how long `init` may take, in milliseconds, or a negative
 *   number for as long as it takes
 * @error: return location for an error
 *
 * Starts the server as [method@Gen.Server.start] does, but fails with
 * %GEN_SERVER_ERROR_TIMEOUT if `init` does not return within @timeout_ms:
 * Erlang's `{timeout, Time}` start option. A thread cannot be interrupted,
 * so the late `init` runs to its end; the server then stops at once, with
 * that timeout as its reason (logged as a crash, told to its monitors),
 * and can be started again afterwards.
 *
 * The start runs on a short-lived thread of its own. For a server on a
 * [property@Gen.Server:main-context], `init` runs when that context is
 * iterated: call this from another thread than the one that runs it.
 *
 * Returns: %TRUE if the server runs
 *
 * Since: 1.0
 */
gboolean
gen_server_start_with_timeout (GenServer  *self,
                               GVariant   *args,
                               gint        timeout_ms,
                               GError    **error)
{
  gint64 deadline;
  StartJob *job;
  gboolean started;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (timeout_ms < 0)
    return gen_server_start (self, args, error);

  job = g_new0 (StartJob, 1);
  job->ref_count = 2; /* the thread's and ours */
  job->server = g_object_ref (self);
  job->args = args != NULL ? g_variant_ref_sink (args) : NULL;
  job->timeout_ms = timeout_ms;
  g_mutex_init (&job->lock);
  g_cond_init (&job->cond);

  deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  g_thread_unref (g_thread_new ("genserver-start", start_thread, job));

  g_mutex_lock (&job->lock);
  while (!job->done)
    if (!g_cond_wait_until (&job->cond, &job->lock, deadline))
      break;
  if (!job->done)
    {
      job->abandoned = TRUE;
      g_mutex_unlock (&job->lock);
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                   "%s did not start within %d ms", G_OBJECT_TYPE_NAME (self), timeout_ms);
      start_job_unref (job);
      return FALSE;
    }
  started = job->started;
  if (job->error != NULL)
    g_propagate_error (error, g_steal_pointer (&job->error));
  g_mutex_unlock (&job->lock);

  start_job_unref (job);
  return started;
}
