/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The counter of counter.c, in one process and called from another over
 * D-Bus, peer-to-peer on a unix socket.
 *
 *   remote-counter server unix:path=/tmp/counter   serves the counter
 *   remote-counter client unix:path=/tmp/counter   casts and calls it
 *   remote-counter                                 both, in two processes
 *
 *   cc remote-counter.c $(pkg-config --cflags --libs genserver-1) -o remote-counter
 */

#include <locale.h>

#include <glib/gstdio.h>
#include <glib-unix.h>
#include <genserver/genserver.h>

#define COUNTER_PATH "/org/example/Counter"

#define COUNTER_TYPE_SERVER (counter_server_get_type ())
G_DECLARE_FINAL_TYPE (CounterServer, counter_server, COUNTER, SERVER, GenServer)

struct _CounterServer
{
  GenServer parent_instance;
  gint count; /* touched only by the server's thread */
};

G_DEFINE_FINAL_TYPE (CounterServer, counter_server, GEN_TYPE_SERVER)

static const gchar *
lookup_action (GVariant *message)
{
  const gchar *action = NULL;

  g_variant_lookup (message, "action", "&s", &action);
  return action != NULL ? action : "";
}

static void
counter_server_handle_cast (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  CounterServer *self = COUNTER_SERVER (server);
  const gchar *action = lookup_action (message);

  if (g_str_equal (action, "increment"))
    self->count++;
  else if (g_str_equal (action, "decrement"))
    self->count--;
}

static GVariant *
counter_server_handle_call (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  CounterServer *self = COUNTER_SERVER (server);
  const gchar *action = lookup_action (message);

  if (g_str_equal (action, "get_count"))
    return g_variant_new_int32 (self->count);
  if (g_str_equal (action, "increment_and_get"))
    return g_variant_new_int32 (++self->count);

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "Unknown action “%s”", action);
  return NULL;
}

static void
counter_server_terminate (GenServer    *server,
                          const GError *reason)
{
  g_print ("Counter Server Stopped.\n");
}

static void
counter_server_class_init (CounterServerClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->handle_cast = counter_server_handle_cast;
  server_class->handle_call = counter_server_handle_call;
  server_class->terminate = counter_server_terminate;
  /* Visible to remote callers, which refuse other messages themselves. */
  gen_server_class_set_cast_type (server_class, "a{sv}");
  gen_server_class_set_call_type (server_class, "a{sv}");
}

static void
counter_server_init (CounterServer *self)
{
}

/* {"action": <action>} */
static GVariant *
action_message (const gchar *action)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "action", "s", action);
  return g_variant_dict_end (&dict);
}

/* The server side ---------------------------------------------------------- */

static gboolean
quit_cb (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static int
serve (const gchar *address)
{
  g_autoptr(CounterServer) counter = g_object_new (COUNTER_TYPE_SERVER, NULL);
  g_autoptr(GenDBusListener) listener = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;

  if (!gen_server_start (GEN_SERVER (counter), NULL, &error))
    goto fail;

  /* EXTERNAL authentication, and only this user (no observer given).
   * Each client gets its own connection; the counter is exported on every
   * one, and unexported when it closes. */
  listener = gen_dbus_listener_new (address, NULL, &error);
  if (listener == NULL ||
      !gen_dbus_listener_export (listener, GEN_SERVER (counter), COUNTER_PATH, &error))
    goto fail;
  g_print ("Counter Server listening on %s\n", gen_dbus_listener_get_client_address (listener));

  g_unix_signal_add (SIGINT, quit_cb, loop);
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_main_loop_run (loop);

  gen_dbus_listener_close (listener);
  if (!gen_server_stop (GEN_SERVER (counter), GEN_SERVER_DEFAULT_TIMEOUT, &error))
    goto fail;
  return 0;

fail:
  g_printerr ("remote-counter: %s\n", error->message);
  return 1;
}

/* The client side ---------------------------------------------------------- */

static int
client (const gchar *address)
{
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GenRemote) counter = NULL;
  g_autoptr(GVariant) count = NULL;
  g_autoptr(GVariant) new_count = NULL;
  g_autoptr(GError) error = NULL;

  connection = g_dbus_connection_new_for_address_sync (address,
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                       NULL, NULL, &error);
  if (connection == NULL)
    goto fail;
  /* No bus name: peer-to-peer. */
  counter = gen_remote_new_sync (connection, NULL, COUNTER_PATH, NULL, &error);
  if (counter == NULL)
    goto fail;

  if (!gen_remote_cast (counter, action_message ("increment"), &error) ||
      !gen_remote_cast (counter, action_message ("increment"), &error))
    goto fail;

  count = gen_remote_call (counter, action_message ("get_count"),
                           GEN_SERVER_DEFAULT_TIMEOUT, &error);
  if (count == NULL)
    goto fail;
  g_print ("Current Count: %d\n", g_variant_get_int32 (count));

  new_count = gen_remote_call (counter, action_message ("increment_and_get"),
                               GEN_SERVER_DEFAULT_TIMEOUT, &error);
  if (new_count == NULL)
    goto fail;
  g_print ("Incremented Count: %d\n", g_variant_get_int32 (new_count));

  g_dbus_connection_close_sync (connection, NULL, NULL);
  return 0;

fail:
  g_printerr ("remote-counter: %s\n", error->message);
  return 1;
}

/* Both, in two processes ---------------------------------------------------- */

static int
both (const gchar *self_path)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("remote-counter-XXXXXX", &error);
  g_autofree gchar *socket = NULL;
  g_autofree gchar *address = NULL;
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(GDataInputStream) server_out = NULL;
  g_autofree gchar *line = NULL;
  int status;

  if (dir == NULL)
    goto fail;
  socket = g_build_filename (dir, "socket", NULL);
  address = g_strdup_printf ("unix:path=%s", socket);

  server = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             self_path, "server", address, NULL);
  if (server == NULL)
    goto fail;
  /* Its first line says that it listens. */
  server_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  line = g_data_input_stream_read_line_utf8 (server_out, NULL, NULL, &error);
  if (line == NULL)
    goto fail;

  status = client (address);

  g_subprocess_send_signal (server, SIGTERM);
  g_clear_pointer (&line, g_free);
  while ((line = g_data_input_stream_read_line_utf8 (server_out, NULL, NULL, NULL)) != NULL)
    {
      g_print ("%s\n", line);
      g_clear_pointer (&line, g_free);
    }
  if (!g_subprocess_wait_check (server, NULL, &error))
    goto fail;

  g_unlink (socket);
  g_rmdir (dir);
  return status;

fail:
  g_printerr ("remote-counter: %s\n", error->message);
  return 1;
}

int
main (int   argc,
      char *argv[])
{
  setlocale (LC_ALL, "");

  if (argc == 3 && g_str_equal (argv[1], "server"))
    return serve (argv[2]);
  if (argc == 3 && g_str_equal (argv[1], "client"))
    return client (argv[2]);
  if (argc == 1)
    return both (argv[0]);

  g_printerr ("usage: remote-counter [server|client ADDRESS]\n");
  return 2;
}
