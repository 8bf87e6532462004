/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Let it crash: a supervised worker crashes, its supervisor restarts it
 * with fresh state, and its registered name follows the new instance.
 *
 * The worker counts. The supervisor starts it and registers it as
 * "worker"; clients only ever use the name. A crash is logged (here, by a
 * log handler that prints a crash report), the worker's monitor tells the
 * main loop, and gen_supervisor_which_children(), a call handled by the
 * supervisor after the crash notice, returns once the restart is done.
 *
 *   cc supervision.c $(pkg-config --cflags --libs genserver-1) -o supervision
 */

#include <locale.h>

#include <genserver/genserver.h>

#define WORKER_TYPE (worker_get_type ())
G_DECLARE_FINAL_TYPE (Worker, worker, EXAMPLE, WORKER, GenServer)

struct _Worker
{
  GenServer parent_instance;

  gint count; /* the worker's thread only */
};

G_DEFINE_FINAL_TYPE (Worker, worker, GEN_TYPE_SERVER)

static void
worker_init_server (GenServer  *server,
                    GVariant   *args,
                    GError    **error)
{
  EXAMPLE_WORKER (server)->count = 0;
  g_print ("Worker started with count 0\n");
}

static void
worker_handle_cast (GenServer  *server,
                    GVariant   *message,
                    GError    **error)
{
  const gchar *command = g_variant_get_string (message, NULL);

  if (g_str_equal (command, "add"))
    EXAMPLE_WORKER (server)->count++;
  else if (g_str_equal (command, "crash"))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "asked to crash");
}

static GVariant *
worker_handle_call (GenServer  *server,
                    GVariant   *message,
                    GError    **error)
{
  return g_variant_new_int32 (EXAMPLE_WORKER (server)->count);
}

static void
worker_terminate (GenServer    *server,
                  const GError *reason)
{
  if (reason != NULL)
    g_print ("Worker stopped: %s\n", reason->message);
  else
    g_print ("Worker stopped normally\n");
}

static void
worker_class_init (WorkerClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->init = worker_init_server;
  server_class->handle_cast = worker_handle_cast;
  server_class->handle_call = worker_handle_call;
  server_class->terminate = worker_terminate;
}

static void
worker_init (Worker *self)
{
}

static void
crash_report (const gchar    *domain,
              GLogLevelFlags  level,
              const gchar    *message,
              gpointer        user_data)
{
  g_print ("Crash report: %s\n", message);
}

static void
worker_stopped (GenServer    *server,
                const GError *reason,
                gpointer      user_data)
{
  *(gboolean *) user_data = TRUE;
}

static gint
count_of_worker (GenRegistry *registry)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) count = gen_registry_call (registry, "worker", g_variant_new_string ("get"),
                                                 GEN_SERVER_DEFAULT_TIMEOUT, &error);

  if (count == NULL)
    g_error ("%s", error->message);
  return g_variant_get_int32 (count);
}

int
main (void)
{
  GenRegistry *registry = gen_registry_get_default ();
  g_autoptr(GenSupervisor) supervisor = NULL;
  g_autoptr(GenChildSpec) spec = NULL;
  g_autoptr(GenServer) first = NULL;
  g_autoptr(GenServer) second = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) children = NULL;
  gboolean stopped = FALSE;

  setlocale (LC_ALL, "");
  g_log_set_handler ("Gen", G_LOG_LEVEL_MESSAGE, crash_report, NULL);

  spec = gen_child_spec_new ("worker", WORKER_TYPE, NULL);
  gen_child_spec_set_name (spec, "worker");
  supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3, 5000);
  if (!gen_server_start (GEN_SERVER (supervisor), gen_supervisor_build_args (&spec, 1), &error))
    g_error ("%s", error->message);

  gen_registry_cast (registry, "worker", g_variant_new_string ("add"), NULL);
  gen_registry_cast (registry, "worker", g_variant_new_string ("add"), NULL);
  g_print ("Count: %d\n", count_of_worker (registry));

  first = gen_registry_lookup (registry, "worker");
  gen_server_monitor (first, worker_stopped, &stopped, NULL);
  gen_registry_cast (registry, "worker", g_variant_new_string ("crash"), NULL);
  while (!stopped)
    g_main_context_iteration (NULL, TRUE);

  children = gen_supervisor_which_children (supervisor, &error);
  if (children == NULL)
    g_error ("%s", error->message);
  second = gen_registry_lookup (registry, "worker");
  g_print ("The name “worker” now belongs to %s instance\n",
           second != NULL && second != first ? "a new" : "the old");
  gen_registry_cast (registry, "worker", g_variant_new_string ("add"), NULL);
  g_print ("Count: %d\n", count_of_worker (registry));

  gen_server_stop (GEN_SERVER (supervisor), -1, NULL);
  g_print ("Supervisor stopped.\n");
  return 0;
}
