/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The process the observer's tests look at: a known supervision tree,
 * exported with the observer, and a little traffic.
 *
 *   app (GenSupervisor, one_for_one)
 *   ├── counter-a   (ObservedCounter, named "counter-a", a cast every tick)
 *   ├── counter-b   (ObservedCounter)
 *   └── workers     (GenSupervisor)
 *       ├── worker-1 (ObservedCounter, on the default pool)
 *       └── worker-2 (ObservedCounter)
 *   lonely          (ObservedCounter, named "lonely", unsupervised)
 *
 * observed [--bus ADDRESS --name NAME] [--socket PATH]
 *
 * Without --bus it exports on the session bus. It prints "ready" once
 * exported and runs until its standard input closes.
 */

#include <locale.h>
#include <stdio.h>

#include <genserver/genserver.h>

#define OBSERVED_TYPE_COUNTER (observed_counter_get_type ())
G_DECLARE_FINAL_TYPE (ObservedCounter, observed_counter, OBSERVED, COUNTER, GenServer)

struct _ObservedCounter
{
  GenServer parent_instance;
  gint64 count; /* the handler thread only */
};

G_DEFINE_FINAL_TYPE (ObservedCounter, observed_counter, GEN_TYPE_SERVER)

static void
observed_counter_handle_cast (GenServer  *server,
                              GVariant   *message,
                              GError    **error)
{
  OBSERVED_COUNTER (server)->count++;
}

static GVariant *
observed_counter_handle_call (GenServer  *server,
                              GVariant   *message,
                              GError    **error)
{
  return g_variant_new_int64 (OBSERVED_COUNTER (server)->count);
}

static GVariant *
observed_counter_format_status (GenServer *server)
{
  return g_variant_new ("(sx)", "count", OBSERVED_COUNTER (server)->count);
}

static void
observed_counter_class_init (ObservedCounterClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->handle_cast = observed_counter_handle_cast;
  server_class->handle_call = observed_counter_handle_call;
  server_class->format_status = observed_counter_format_status;
}

static void
observed_counter_init (ObservedCounter *self)
{
}

static gboolean
tick (gpointer user_data)
{
  gen_registry_cast (gen_registry_get_default (), "counter-a", g_variant_new_string ("tick"), NULL);
  return G_SOURCE_CONTINUE;
}

static gboolean
stdin_closed (GIOChannel   *channel,
              GIOCondition  condition,
              gpointer      user_data)
{
  gchar buffer[256];
  gsize n = 0;

  if (g_io_channel_read_chars (channel, buffer, sizeof buffer, &n, NULL) != G_IO_STATUS_NORMAL || n == 0)
    {
      g_main_loop_quit (user_data);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static GenSupervisor *
start_tree (void)
{
  GenChildSpec *workers[2];
  GenChildSpec *children[3];
  g_autoptr(GenSupervisor) app = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3, 5000);
  g_autoptr(GError) error = NULL;

  workers[0] = gen_child_spec_new ("worker-1", OBSERVED_TYPE_COUNTER, NULL);
  gen_child_spec_set_scheduler (workers[0], gen_scheduler_get_default ());
  workers[1] = gen_child_spec_new ("worker-2", OBSERVED_TYPE_COUNTER, NULL);
  children[0] = gen_child_spec_new ("counter-a", OBSERVED_TYPE_COUNTER, NULL);
  gen_child_spec_set_name (children[0], "counter-a");
  children[1] = gen_child_spec_new ("counter-b", OBSERVED_TYPE_COUNTER, NULL);
  children[2] = gen_child_spec_new ("workers", GEN_TYPE_SUPERVISOR,
                                    gen_supervisor_build_args (workers, G_N_ELEMENTS (workers)));

  if (!gen_server_start (GEN_SERVER (app), gen_supervisor_build_args (children, G_N_ELEMENTS (children)), &error))
    g_error ("%s", error->message);

  for (guint i = 0; i < G_N_ELEMENTS (workers); i++)
    gen_child_spec_unref (workers[i]);
  for (guint i = 0; i < G_N_ELEMENTS (children); i++)
    gen_child_spec_unref (children[i]);
  return g_steal_pointer (&app);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree gchar *bus_address = NULL;
  g_autofree gchar *bus_name = NULL;
  g_autofree gchar *socket_path = NULL;
  GOptionEntry entries[] = {
    { "bus", 0, 0, G_OPTION_ARG_STRING, &bus_address, "The bus to export on", "ADDRESS" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &bus_name, "A name to own on it", "NAME" },
    { "socket", 0, 0, G_OPTION_ARG_FILENAME, &socket_path, "Listen on a unix socket too", "PATH" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("- a supervision tree to observe");
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GenDBusListener) listener = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GenSupervisor) app = NULL;
  g_autoptr(GenServer) lonely = NULL;
  g_autoptr(GIOChannel) input = NULL;
  g_autoptr(GError) error = NULL;

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    g_error ("%s", error->message);

  app = start_tree ();
  lonely = g_object_new (OBSERVED_TYPE_COUNTER, NULL);
  if (!gen_server_start (lonely, NULL, &error) ||
      !gen_registry_register (gen_registry_get_default (), "lonely", lonely, &error))
    g_error ("%s", error->message);

  if (bus_address != NULL)
    connection = g_dbus_connection_new_for_address_sync (bus_address,
                                                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                         G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                         NULL, NULL, &error);
  else
    connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (connection == NULL || !gen_observer_export (connection, &error))
    g_error ("%s", error->message);
  if (bus_name != NULL)
    {
      g_autoptr(GVariant) reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                               "org.freedesktop.DBus", "RequestName",
                                                               g_variant_new ("(su)", bus_name, 0x4 /* do not queue */),
                                                               G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
      if (reply == NULL)
        g_error ("%s", error->message);
    }
  if (socket_path != NULL && (listener = gen_observer_listen (socket_path, &error)) == NULL)
    g_error ("%s", error->message);

  g_timeout_add (10, tick, NULL);
  input = g_io_channel_unix_new (0);
  g_io_add_watch (input, G_IO_IN | G_IO_HUP | G_IO_ERR, stdin_closed, loop);

  g_print ("ready\n");
  fflush (stdout);
  g_main_loop_run (loop);

  if (listener != NULL)
    gen_dbus_listener_close (listener);
  gen_observer_unexport (connection);
  gen_server_stop (lonely, -1, NULL);
  gen_server_stop (GEN_SERVER (app), -1, NULL);
  return 0;
}
