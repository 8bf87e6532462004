/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A supervision tree: a supervisor with a nested supervisor among its
 * children.
 *
 *   root (one_for_one)
 *   ├── logger
 *   └── pair (one_for_all, at most 1 restart a minute)
 *       ├── left
 *       └── right
 *
 * When left crashes, pair restarts left and right, and root is not
 * involved: the logger keeps its state. When left crashes again within the
 * minute, pair gives up and stops, and root restarts it, which starts left
 * and right afresh. A crash is contained in the smallest subtree that can
 * handle it.
 *
 *   cc supervision-tree.c $(pkg-config --cflags --libs genserver-1) -o supervision-tree
 */

#include <locale.h>

#include <genserver/genserver.h>

#define WORKER_TYPE (worker_get_type ())
G_DECLARE_FINAL_TYPE (Worker, worker, EXAMPLE, WORKER, GenServer)

struct _Worker
{
  GenServer parent_instance;

  /* The worker's thread only. */
  gchar *name;
  gint count;
};

G_DEFINE_FINAL_TYPE (Worker, worker, GEN_TYPE_SERVER)

static void
worker_init_server (GenServer  *server,
                    GVariant   *args,
                    GError    **error)
{
  Worker *self = EXAMPLE_WORKER (server);

  g_free (self->name);
  self->name = g_variant_dup_string (args, NULL);
  self->count = 0;
  g_print ("%s started\n", self->name);
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
  g_print ("%s stopped: %s\n", EXAMPLE_WORKER (server)->name,
           reason != NULL ? reason->message : "normally");
}

static void
worker_finalize (GObject *object)
{
  g_free (EXAMPLE_WORKER (object)->name);
  G_OBJECT_CLASS (worker_parent_class)->finalize (object);
}

static void
worker_class_init (WorkerClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = worker_finalize;
  server_class->init = worker_init_server;
  server_class->handle_cast = worker_handle_cast;
  server_class->handle_call = worker_handle_call;
  server_class->terminate = worker_terminate;
  gen_server_class_set_cast_type (server_class, "s");
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
set_flag (GenServer    *server,
          const GError *reason,
          gpointer      user_data)
{
  *(gboolean *) user_data = TRUE;
}

/* Crashes @victim and returns once @supervisor dealt with it. */
static void
crash_and_wait (GenServer     *victim,
                GenServer     *watched,
                GenSupervisor *supervisor)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) children = NULL;
  gboolean stopped = FALSE;

  gen_server_monitor (watched, set_flag, &stopped, NULL);
  gen_server_cast (victim, g_variant_new_string ("crash"), NULL);
  while (!stopped)
    g_main_context_iteration (NULL, TRUE);
  /* Answered after the supervisor handled the exit notice: restarted. */
  children = gen_supervisor_which_children (supervisor, &error);
  if (children == NULL)
    g_error ("%s", error->message);
}

static gint
count_of (GenServer *server)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) count = gen_server_call (server, g_variant_new_string ("get"),
                                               GEN_SERVER_DEFAULT_TIMEOUT, &error);

  if (count == NULL)
    g_error ("%s", error->message);
  return g_variant_get_int32 (count);
}

int
main (void)
{
  g_autoptr(GenSupervisor) root = NULL;
  g_autoptr(GenChildSpec) logger = gen_child_spec_new ("logger", WORKER_TYPE,
                                                       g_variant_new_string ("logger"));
  g_autoptr(GenChildSpec) left = gen_child_spec_new ("left", WORKER_TYPE,
                                                     g_variant_new_string ("left"));
  g_autoptr(GenChildSpec) right = gen_child_spec_new ("right", WORKER_TYPE,
                                                      g_variant_new_string ("right"));
  g_autoptr(GenChildSpec) pair = NULL;
  g_autoptr(GenServer) first_pair = NULL;
  g_autoptr(GenServer) second_pair = NULL;
  g_autoptr(GenServer) victim = NULL;
  g_autoptr(GenServer) logger_server = NULL;
  g_autoptr(GError) error = NULL;
  GenChildSpec *pair_children[] = { left, right };
  GenChildSpec *root_children[2];

  setlocale (LC_ALL, "");
  g_log_set_handler ("Gen", G_LOG_LEVEL_MESSAGE, crash_report, NULL);

  /* A supervisor is a child like any other: its start arguments are its
   * own children, its properties come from the spec. */
  pair = gen_child_spec_new ("pair", GEN_TYPE_SUPERVISOR,
                             gen_supervisor_build_args (pair_children, 2));
  gen_child_spec_add_property (pair, "strategy", g_variant_new_string ("one-for-all"));
  gen_child_spec_add_property (pair, "intensity", g_variant_new_uint32 (1));
  gen_child_spec_add_property (pair, "period-ms", g_variant_new_uint32 (60000));

  root_children[0] = logger;
  root_children[1] = pair;
  root = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3, 60000);
  if (!gen_server_start (GEN_SERVER (root), gen_supervisor_build_args (root_children, 2), &error))
    g_error ("%s", error->message);

  logger_server = gen_supervisor_get_child (root, "logger");
  gen_server_cast (logger_server, g_variant_new_string ("add"), NULL);
  gen_server_cast (logger_server, g_variant_new_string ("add"), NULL);

  g_print ("-- left crashes: pair restarts left and right\n");
  first_pair = gen_supervisor_get_child (root, "pair");
  victim = gen_supervisor_get_child (GEN_SUPERVISOR (first_pair), "left");
  crash_and_wait (victim, victim, GEN_SUPERVISOR (first_pair));
  g_clear_object (&victim);

  g_print ("-- left crashes again: pair gives up, root restarts it\n");
  victim = gen_supervisor_get_child (GEN_SUPERVISOR (first_pair), "left");
  crash_and_wait (victim, first_pair, root);

  second_pair = gen_supervisor_get_child (root, "pair");
  g_print ("pair is %s instance; the logger kept its count: %d\n",
           second_pair != first_pair ? "a new" : "the old", count_of (logger_server));

  g_print ("-- root stops, and its children in reverse order\n");
  gen_server_stop (GEN_SERVER (root), -1, NULL);
  return 0;
}
