/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Remote calls and casts over D-Bus, beside local ones: a counter server in
 * a second process (this program, run as a service), reached peer-to-peer
 * over a unix socket (a GenDBusListener), through a private dbus-daemon,
 * and by name between two GenNodes over a unix socket and over TLS on
 * loopback (with the certificates of tests/make-node-certs.sh in
 * $GEN_BENCH_CERTS; without them the TLS rows are left out).
 *
 *   bench-remote [--quick]
 *
 * Prints "genserver <metric> <value> <unit>" lines, as bench-server does:
 * call_rtt (one client, sequential calls, microseconds per call) and
 * cast_rate (one producer, then a call that waits for the last cast,
 * messages per second), for local, p2p, bus, node_unix and node_tls.
 */

#include <stdio.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <genserver/genserver.h>

#define OBJECT_PATH "/io/github/genserver/Bench/Counter"
#define BUS_NAME "io.github.genserver.Bench"

#define BENCH_TYPE_COUNTER (bench_counter_get_type ())
G_DECLARE_FINAL_TYPE (BenchCounter, bench_counter, BENCH, COUNTER, GenServer)

struct _BenchCounter
{
  GenServer parent_instance;
  gint64 count; /* server thread */
};

G_DEFINE_FINAL_TYPE (BenchCounter, bench_counter, GEN_TYPE_SERVER)

static void
bench_counter_handle_cast (GenServer  *server,
                           GVariant   *message,
                           GError    **error)
{
  BENCH_COUNTER (server)->count += g_variant_get_int32 (message);
}

static GVariant *
bench_counter_handle_call (GenServer  *server,
                           GVariant   *message,
                           GError    **error)
{
  BenchCounter *self = BENCH_COUNTER (server);

  self->count += g_variant_get_int32 (message);
  return g_variant_new_int64 (self->count);
}

static void
bench_counter_class_init (BenchCounterClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->handle_cast = bench_counter_handle_cast;
  server_class->handle_call = bench_counter_handle_call;
  gen_server_class_set_cast_type (server_class, "i");
  gen_server_class_set_call_type (server_class, "i");
}

static void
bench_counter_init (BenchCounter *self)
{
}

/* The service ---------------------------------------------------------------- */

/* A bare GDBus object that answers in its handler: what D-Bus itself costs,
 * without genserver. */
static const gchar echo_xml[] =
  "<node><interface name='io.github.genserver.Bench.Echo'>"
  "<method name='Echo'><arg type='i' direction='in'/><arg type='i' direction='out'/></method>"
  "</interface></node>";

static void
echo_method_call (GDBusConnection       *connection,
                  const gchar           *sender,
                  const gchar           *object_path,
                  const gchar           *interface_name,
                  const gchar           *method_name,
                  GVariant              *parameters,
                  GDBusMethodInvocation *invocation,
                  gpointer               data)
{
  g_dbus_method_invocation_return_value (invocation, g_variant_ref (parameters));
}

static const GDBusInterfaceVTable echo_vtable = { .method_call = echo_method_call };

static void
register_echo (GDBusConnection *connection)
{
  g_autoptr(GDBusNodeInfo) node = g_dbus_node_info_new_for_xml (echo_xml, NULL);
  g_autoptr(GError) error = NULL;

  if (g_dbus_connection_register_object (connection, "/io/github/genserver/Bench/Echo",
                                         node->interfaces[0], &echo_vtable,
                                         NULL, NULL, &error) == 0)
    g_error ("echo: %s", error->message);
}

/* The listener exports the counter and keeps the connection itself. */
static void
new_connection_cb (GenDBusListener *listener,
                   GDBusConnection *connection,
                   gpointer         data)
{
  register_echo (connection);
}

static gpointer
watch_stdin (gpointer data)
{
  gchar buffer[64];

  while (read (STDIN_FILENO, buffer, sizeof buffer) > 0)
    ;
  _exit (0);
  return NULL;
}

static void
node_up_cb (GenNode     *node,
            const gchar *peer,
            gpointer     data)
{
  g_autoptr(GDBusConnection) connection = gen_node_get_connection (node, peer);

  if (connection != NULL)
    register_echo (connection);
}

/* A node, with the counter registered as "counter": prints its address. */
static int
serve_node (const gchar *address,
            const gchar *certs)
{
  g_autoptr(BenchCounter) counter = g_object_new (BENCH_TYPE_COUNTER, NULL);
  g_autoptr(GenNode) node = gen_node_new ("bench-service");
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;

  if (!gen_server_start (GEN_SERVER (counter), NULL, &error) ||
      !gen_registry_register (gen_node_get_registry (node), "counter", GEN_SERVER (counter),
                              &error))
    g_error ("start: %s", error->message);
  if (certs != NULL)
    {
      g_autofree gchar *crt = g_build_filename (certs, "a.crt", NULL);
      g_autofree gchar *key = g_build_filename (certs, "a.key", NULL);
      g_autofree gchar *ca = g_build_filename (certs, "ca.crt", NULL);

      if (!gen_node_set_tls_credentials_from_files (node, crt, key, ca, &error))
        g_error ("credentials: %s", error->message);
    }
  if (!gen_node_listen (node, address, &error))
    g_error ("listen: %s", error->message);
  g_signal_connect (node, "node-up", G_CALLBACK (node_up_cb), NULL);

  g_thread_unref (g_thread_new ("stdin", watch_stdin, NULL));
  printf ("%s\nready\n", gen_node_get_address (node));
  fflush (stdout);
  g_main_loop_run (loop);
  return 0;
}

static int
serve (const gchar *mode,
       const gchar *address)
{
  g_autoptr(BenchCounter) counter = g_object_new (BENCH_TYPE_COUNTER, NULL);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  GenDBusListener *listener;
  GDBusConnection *bus;

  if (!gen_server_start (GEN_SERVER (counter), NULL, &error))
    g_error ("start: %s", error->message);

  if (g_str_equal (mode, "--serve"))
    {
      /* Same-user peers only, as gen_dbus_auth_observer_new (NULL, 0, FALSE). */
      listener = gen_dbus_listener_new (address, NULL, &error);
      if (listener == NULL ||
          !gen_dbus_listener_export (listener, GEN_SERVER (counter), OBJECT_PATH, &error))
        g_error ("listen: %s", error->message);
      g_signal_connect (listener, "new-connection", G_CALLBACK (new_connection_cb), NULL);
    }
  else
    {
      g_autoptr(GVariant) reply = NULL;

      bus = g_dbus_connection_new_for_address_sync (address,
                                                    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                    G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                    NULL, NULL, &error);
      if (bus == NULL || !gen_server_export (GEN_SERVER (counter), bus, OBJECT_PATH, &error))
        g_error ("export: %s", error->message);
      register_echo (bus);
      reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                           "org.freedesktop.DBus", "RequestName",
                                           g_variant_new ("(su)", BUS_NAME, 4),
                                           G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                           NULL, &error);
      if (reply == NULL)
        g_error ("name: %s", error->message);
    }

  g_thread_unref (g_thread_new ("stdin", watch_stdin, NULL));
  printf ("ready\n");
  fflush (stdout);
  g_main_loop_run (loop);
  return 0;
}

/* The client ----------------------------------------------------------------- */

/* Local and remote through the same two functions. */
typedef struct
{
  GenServer *local;
  GenRemote *remote;
} Target;

static gint64
target_call (Target *target,
             gint32  delta)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = target->local ?
          gen_server_call (target->local, g_variant_new_int32 (delta), 30000, &error) :
          gen_remote_call (target->remote, g_variant_new_int32 (delta), 30000, &error);
  if (reply == NULL)
    g_error ("call: %s", error->message);
  return g_variant_get_int64 (reply);
}

static void
target_cast (Target *target,
             gint32  delta)
{
  g_autoptr(GError) error = NULL;
  gboolean sent;

  sent = target->local ?
         gen_server_cast (target->local, g_variant_new_int32 (delta), &error) :
         gen_remote_cast (target->remote, g_variant_new_int32 (delta), &error);
  if (!sent)
    g_error ("cast: %s", error->message);
}

/* The same round trip to the bare GDBus object. */
static void
measure_echo (const gchar     *where,
              GDBusConnection *connection,
              const gchar     *bus_name,
              guint            n_calls)
{
  gint64 start = 0;

  for (guint i = 0; i < n_calls + 100; i++)
    {
      g_autoptr(GVariant) reply = NULL;
      g_autoptr(GError) error = NULL;

      if (i == 100)
        start = g_get_monotonic_time ();
      reply = g_dbus_connection_call_sync (connection, bus_name, "/io/github/genserver/Bench/Echo",
                                           "io.github.genserver.Bench.Echo", "Echo",
                                           g_variant_new ("(i)", 1), G_VARIANT_TYPE ("(i)"),
                                           G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
      if (reply == NULL)
        g_error ("echo: %s", error->message);
    }
  printf ("gdbus call_rtt_%s %.2f us\n", where, (double) (g_get_monotonic_time () - start) / n_calls);
  fflush (stdout);
}

static void
measure (const gchar *where,
         Target      *target,
         guint        n_calls,
         guint        n_casts)
{
  gint64 start, before, total;

  /* Warm-up. */
  for (guint i = 0; i < 100; i++)
    target_call (target, 0);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n_calls; i++)
    target_call (target, 1);
  printf ("genserver call_rtt_%s %.2f us\n", where,
          (double) (g_get_monotonic_time () - start) / n_calls);

  before = target_call (target, 0);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n_casts; i++)
    target_cast (target, 1);
  total = target_call (target, 0);
  printf ("genserver cast_rate_%s %.0f msg/s\n", where,
          n_casts / ((double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC));
  g_assert_cmpint (total - before, ==, n_casts);
  fflush (stdout);
}

typedef struct
{
  GSubprocess *process;
  GDBusConnection *connection;
  GenRemote *remote;
} Service;

static void
service_start (Service     *service,
               const gchar *self_path,
               const gchar *mode,
               const gchar *address,
               const gchar *bus_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree gchar *line = NULL;
  GDBusConnectionFlags flags = G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT;

  service->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                       &error, self_path, mode, address, NULL);
  if (service->process == NULL)
    g_error ("spawn: %s", error->message);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (service->process));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  if (g_strcmp0 (line, "ready") != 0)
    g_error ("the service did not start");

  if (bus_name != NULL)
    flags |= G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION;
  service->connection = g_dbus_connection_new_for_address_sync (address, flags, NULL, NULL, &error);
  if (service->connection == NULL)
    g_error ("connect: %s", error->message);
  service->remote = gen_remote_new_sync (service->connection, bus_name, OBJECT_PATH, NULL, &error);
  if (service->remote == NULL)
    g_error ("remote: %s", error->message);
}

/* The same counter by name, from a node of this process connected to a
 * node of a second one. */
typedef struct
{
  GSubprocess *process;
  GenNode *node;
  gchar *peer;
  GenRemote *remote;
} NodeService;

static void
node_service_start (NodeService *service,
                    const gchar *self_path,
                    const gchar *address,
                    const gchar *certs)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree gchar *listening = NULL;
  g_autofree gchar *line = NULL;

  service->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                       &error, self_path, "--serve-node", address, certs, NULL);
  if (service->process == NULL)
    g_error ("spawn: %s", error->message);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (service->process));
  listening = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  if (listening == NULL || g_strcmp0 (line, "ready") != 0)
    g_error ("the node did not start");

  service->node = gen_node_new ("bench-client");
  if (certs != NULL)
    {
      g_autofree gchar *crt = g_build_filename (certs, "b.crt", NULL);
      g_autofree gchar *key = g_build_filename (certs, "b.key", NULL);
      g_autofree gchar *ca = g_build_filename (certs, "ca.crt", NULL);

      if (!gen_node_set_tls_credentials_from_files (service->node, crt, key, ca, &error))
        g_error ("credentials: %s", error->message);
    }
  service->peer = gen_node_connect (service->node, listening, NULL, &error);
  if (service->peer == NULL)
    g_error ("connect: %s", error->message);
  service->remote = gen_node_remote_for_name (service->node, service->peer, "counter", NULL,
                                              &error);
  if (service->remote == NULL)
    g_error ("remote: %s", error->message);
}

static void
node_service_end (NodeService *service)
{
  g_clear_object (&service->remote);
  gen_node_close (service->node);
  g_clear_object (&service->node);
  g_clear_pointer (&service->peer, g_free);
  g_subprocess_force_exit (service->process);
  g_subprocess_wait (service->process, NULL, NULL);
  g_clear_object (&service->process);
}

static void
measure_node (const gchar *where,
              const gchar *self_path,
              const gchar *address,
              const gchar *certs,
              guint        n_calls,
              guint        n_casts)
{
  g_autoptr(GDBusConnection) connection = NULL;
  NodeService service = { 0 };
  Target target = { 0 };

  node_service_start (&service, self_path, address, certs);
  target.remote = service.remote;
  measure (where, &target, n_calls, n_casts);
  connection = gen_node_get_connection (service.node, service.peer);
  measure_echo (where, connection, NULL, n_calls);
  node_service_end (&service);
}

static void
service_end (Service *service)
{
  g_clear_object (&service->remote);
  g_dbus_connection_close_sync (service->connection, NULL, NULL);
  g_clear_object (&service->connection);
  g_subprocess_force_exit (service->process);
  g_subprocess_wait (service->process, NULL, NULL);
  g_clear_object (&service->process);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(BenchCounter) local = NULL;
  g_autoptr(GTestDBus) bus = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = NULL;
  g_autofree gchar *socket = NULL;
  g_autofree gchar *address = NULL;
  g_autofree gchar *node_address = NULL;
  const gchar *certs = g_getenv ("GEN_BENCH_CERTS");
  gboolean quick = argc > 1 && g_str_equal (argv[1], "--quick");
  guint n_calls = quick ? 2000 : 20000;
  guint n_casts = quick ? 20000 : 200000;
  Target target = { 0 };
  Service service = { 0 };

  if (argc == 3 && (g_str_equal (argv[1], "--serve") || g_str_equal (argv[1], "--serve-bus")))
    return serve (argv[1], argv[2]);
  if (argc >= 3 && g_str_equal (argv[1], "--serve-node"))
    return serve_node (argv[2], argc >= 4 ? argv[3] : NULL);

  g_printerr ("# bench-remote: GLib %u.%u.%u, %u processors, calls=%u, casts=%u\n",
              glib_major_version, glib_minor_version, glib_micro_version,
              g_get_num_processors (), n_calls, n_casts);

  local = g_object_new (BENCH_TYPE_COUNTER, NULL);
  if (!gen_server_start (GEN_SERVER (local), NULL, &error))
    g_error ("start: %s", error->message);
  target.local = GEN_SERVER (local);
  measure ("local", &target, n_calls, n_casts);
  gen_server_stop (GEN_SERVER (local), -1, NULL);

  dir = g_dir_make_tmp ("bench-remote-XXXXXX", &error);
  if (dir == NULL)
    g_error ("%s", error->message);
  socket = g_build_filename (dir, "socket", NULL);
  address = g_strdup_printf ("unix:path=%s", socket);
  service_start (&service, argv[0], "--serve", address, NULL);
  target = (Target) { .remote = service.remote };
  measure ("p2p", &target, n_calls, n_casts);
  measure_echo ("p2p", service.connection, NULL, n_calls);
  service_end (&service);
  g_unlink (socket);

  node_address = g_strdup_printf ("unix:path=%s/node", dir);
  measure_node ("node_unix", argv[0], node_address, NULL, n_calls, n_casts);
  if (certs != NULL && certs[0] != '\0')
    measure_node ("node_tls", argv[0], "tls:host=127.0.0.1,port=0", certs, n_calls, n_casts);
  else
    g_printerr ("# bench-remote: no node_tls rows: set GEN_BENCH_CERTS to the directory of "
                "tests/make-node-certs.sh\n");
  g_rmdir (dir);

  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (bus);
  service_start (&service, argv[0], "--serve-bus", g_test_dbus_get_bus_address (bus), BUS_NAME);
  target = (Target) { .remote = service.remote };
  measure ("bus", &target, n_calls, n_casts);
  measure_echo ("bus", service.connection, BUS_NAME, n_calls);
  service_end (&service);
  g_test_dbus_down (bus);

  return 0;
}
