/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GenDBusListener: servers exported on every peer-to-peer connection, and
 * the bounds on the handshakes of peers on their way in, tried from a
 * second process (this program run with --half-open) that connects and
 * never says a word.
 */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "test-common.h"
#include "genserver/gen-dbus-listener-private.h"

/* This program, for the half-open peers it runs. */
static const gchar *self_exe;

/* An adder: calls ("add", n) add n and answer the sum. */
#define TEST_TYPE_ADDER (test_adder_get_type ())
G_DECLARE_FINAL_TYPE (TestAdder, test_adder, TEST, ADDER, GenServer)

struct _TestAdder
{
  GenServer parent_instance;
  gint64 sum; /* server thread */
};

G_DEFINE_FINAL_TYPE (TestAdder, test_adder, GEN_TYPE_SERVER)

static GVariant *
test_adder_handle_call (GenServer  *server,
                        GVariant   *message,
                        GError    **error)
{
  TestAdder *self = TEST_ADDER (server);
  const gchar *command;
  gint64 arg;

  g_variant_get (message, "(&sx)", &command, &arg);
  self->sum += arg;
  return g_variant_new_int64 (self->sum);
}

static void
test_adder_class_init (TestAdderClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->handle_call = test_adder_handle_call;
  gen_server_class_set_call_type (server_class, "(sx)");
}

static void
test_adder_init (TestAdder *self)
{
}

static GenServer *
adder_start (void)
{
  return test_start_ok (g_object_new (TEST_TYPE_ADDER, NULL), NULL);
}

/* Waiting on the main context -------------------------------------------- */

static gboolean
flag_is_set (gpointer data)
{
  return g_atomic_int_get ((gint *) data) != 0;
}

/* Clients ---------------------------------------------------------------- */

static GDBusConnection *
client_connect (const gchar  *address,
                GError      **error)
{
  return g_dbus_connection_new_for_address_sync (address,
                                                 G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                 NULL, NULL, error);
}

static gint64
remote_add (GDBusConnection *connection,
            const gchar     *object_path,
            gint64           n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GenRemote) remote = gen_remote_new_sync (connection, NULL, object_path, NULL, &error);
  g_autoptr(GVariant) reply = NULL;

  g_assert_no_error (error);
  reply = gen_remote_call (remote, test_message ("add", n), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  return g_variant_get_int64 (reply);
}

static void
assert_not_found (GDBusConnection *connection,
                  const gchar     *object_path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GenRemote) remote = gen_remote_new_sync (connection, NULL, object_path, NULL, &error);

  g_assert_null (remote);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
}

/* A client on a thread of its own, for a listener on the test thread's
 * context, which the test iterates meanwhile: connects and, if it got in,
 * adds 2 at /adder. */
typedef struct
{
  const gchar *address;
  gint done;      /* atomic */
  GError *error;  /* owned: why it could not connect */
  gint64 sum;
} Client;

static gpointer
client_run (gpointer data)
{
  Client *client = data;
  g_autoptr(GDBusConnection) connection = client_connect (client->address, &client->error);

  if (connection != NULL)
    {
      client->sum = remote_add (connection, "/adder", 2);
      g_dbus_connection_close_sync (connection, NULL, NULL);
    }
  g_atomic_int_set (&client->done, 1);
  return NULL;
}

static void
client_try (Client      *client,
            const gchar *address)
{
  GThread *thread;

  *client = (Client) { .address = address };
  thread = g_thread_new ("client", client_run, client);
  test_iterate_until (flag_is_set, &client->done);
  g_thread_join (thread);
}

/* Listeners on a thread of their own ------------------------------------- */

typedef struct
{
  const gchar *address;
  GDBusAuthObserver *observer;
  GenDBusListener *listener;
  GError *error;
  gint done; /* atomic */
} NewListener;

static gboolean
new_listener_cb (gpointer data)
{
  NewListener *job = data;

  job->listener = gen_dbus_listener_new (job->address, job->observer, &job->error);
  g_atomic_int_set (&job->done, 1);
  return G_SOURCE_REMOVE;
}

/* A listener made on @loop_thread's context, which that thread iterates:
 * the test thread can then be a plain synchronous client. */
static GenDBusListener *
listener_new_on (TestLoopThread    *loop_thread,
                 const gchar       *address,
                 GDBusAuthObserver *observer)
{
  NewListener job = { address, observer, NULL, NULL, 0 };
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, new_listener_cb, &job, NULL);
  g_source_attach (source, loop_thread->context);
  g_source_unref (source);
  test_wait_until (flag_is_set, &job.done);
  g_assert_no_error (job.error);
  /* A deadline no loaded machine reaches first: the default 5 s cut a
   * client's handshake under valgrind at a load of 13. */
  g_object_set (job.listener, "handshake-timeout", TEST_CALL_TIMEOUT_MS, NULL);
  return job.listener;
}

static void
count_new_connection (GenDBusListener *listener,
                      GDBusConnection *connection,
                      gpointer         data)
{
  g_assert_false (g_dbus_connection_is_closed (connection));
  g_atomic_int_inc ((gint *) data);
}

static gboolean
connection_is_closed (gpointer connection)
{
  return g_dbus_connection_is_closed (connection);
}

static gboolean
weak_ref_is_null (gpointer data)
{
  g_autoptr(GObject) object = g_weak_ref_get (data);

  return object == NULL;
}

/* Exports ---------------------------------------------------------------- */

static void
test_bad_address (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GenDBusListener) listener = gen_dbus_listener_new ("nonsense", NULL, &error);

  g_assert_null (listener);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* A server given to export() is reached on the connections open then and
 * on every later one, until it is unexported, gone, or the listener
 * closed. */
static void
test_export_everywhere (void)
{
  g_auto(TestSocketDir) socket_dir = test_socket_dir_make ("socket");
  g_autoptr(GDBusConnection) first = NULL;
  g_autoptr(GDBusConnection) second = NULL;
  g_autoptr(GDBusConnection) third = NULL;
  g_autoptr(GError) error = NULL;
  GenServer *a = adder_start ();
  GenServer *b = adder_start ();
  GWeakRef a_ref;
  TestLoopThread loop_thread;
  GenDBusListener *listener;
  gint n_connections = 0;

  test_loop_thread_start (&loop_thread);
  listener = listener_new_on (&loop_thread, socket_dir.address, NULL);
  g_assert_cmpstr (gen_dbus_listener_get_client_address (listener), ==, socket_dir.address);
  g_signal_connect (listener, "new-connection", G_CALLBACK (count_new_connection),
                    &n_connections);

  g_assert_true (gen_dbus_listener_export (listener, a, "/a", &error));
  g_assert_no_error (error);
  first = client_connect (socket_dir.address, &error);
  g_assert_no_error (error);
  g_assert_cmpint (remote_add (first, "/a", 1), ==, 1);

  /* On the connections already open, too. */
  g_assert_true (gen_dbus_listener_export (listener, b, "/b", &error));
  g_assert_no_error (error);
  g_assert_cmpint (remote_add (first, "/b", 5), ==, 5);
  second = client_connect (socket_dir.address, &error);
  g_assert_no_error (error);
  g_assert_cmpint (remote_add (second, "/a", 1), ==, 2);
  g_assert_cmpint (remote_add (second, "/b", 1), ==, 6);

  /* Once per listener. */
  g_assert_false (gen_dbus_listener_export (listener, a, "/a2", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);

  /* Off every connection, and off the ones to come. */
  g_assert_true (gen_dbus_listener_unexport (listener, b));
  g_assert_false (gen_dbus_listener_unexport (listener, b));
  assert_not_found (first, "/b");
  assert_not_found (second, "/b");

  /* The listener does not keep a server: once gone, it is nowhere. */
  g_weak_ref_init (&a_ref, a);
  test_stop_ok (a);
  g_object_unref (a);
  test_wait_until (weak_ref_is_null, &a_ref);
  g_weak_ref_clear (&a_ref);
  assert_not_found (first, "/a");
  third = client_connect (socket_dir.address, &error);
  g_assert_no_error (error);
  assert_not_found (third, "/a");
  g_assert_cmpint (g_atomic_int_get (&n_connections), ==, 3);

  /* Closing ends every connection and removes the socket. */
  g_assert_true (gen_dbus_listener_export (listener, b, "/b", &error));
  gen_dbus_listener_close (listener);
  test_wait_until (connection_is_closed, first);
  test_wait_until (connection_is_closed, second);
  test_wait_until (connection_is_closed, third);
  g_assert_false (g_file_test (socket_dir.path, G_FILE_TEST_EXISTS));
  g_assert_false (gen_dbus_listener_export (listener, b, "/b", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_null (client_connect (socket_dir.address, &error));
  g_clear_error (&error);

  g_object_unref (listener);
  test_loop_thread_stop (&loop_thread);
  test_stop_ok (b);
  g_object_unref (b);
}

typedef struct
{
  GenDBusListener *listener;
  guint in_progress, refused, timed_out, accepted;
  guint want_in_progress, want_refused, want_timed_out;
} Counts;

static gboolean
counts_reached (gpointer data)
{
  Counts *counts = data;

  gen_dbus_listener_get_counts (counts->listener, &counts->in_progress, &counts->refused,
                                &counts->timed_out, &counts->accepted);
  return counts->in_progress == counts->want_in_progress &&
         counts->refused >= counts->want_refused &&
         counts->timed_out >= counts->want_timed_out;
}

/* Admission is the observer's: a listener for another user refuses us. */
static void
test_admission (void)
{
  g_auto(TestSocketDir) socket_dir = test_socket_dir_make ("socket");
  guint other_user = (guint) getuid () + 1;
  g_autoptr(GDBusAuthObserver) observer = gen_dbus_auth_observer_new (&other_user, 1, FALSE);
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  TestLoopThread loop_thread;
  GenDBusListener *listener;
  Counts counts = { NULL };

  test_loop_thread_start (&loop_thread);
  listener = listener_new_on (&loop_thread, socket_dir.address, observer);
  connection = client_connect (socket_dir.address, &error);
  g_assert_null (connection);
  g_assert_nonnull (error);
  counts.listener = listener;
  counts.want_refused = 1;
  test_wait_until (counts_reached, &counts);
  g_assert_cmpuint (counts.refused, ==, 1);
  g_assert_cmpuint (counts.accepted, ==, 0);

  g_object_unref (listener);
  g_assert_false (g_file_test (socket_dir.path, G_FILE_TEST_EXISTS));
  test_loop_thread_stop (&loop_thread);
}

/* Half-open peers --------------------------------------------------------- */

/* The child: opens @n connections to @path and never writes; reports
 * "connected N" once all are open, then "closed K" each time the listener
 * closes one (K so far). Ends when its stdin closes. */
static int
half_open_main (const gchar *path,
                guint        n)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  g_autofree struct pollfd *fds = g_new0 (struct pollfd, n + 1);
  guint closed = 0;

  g_strlcpy (address.sun_path, path, sizeof address.sun_path);
  for (guint i = 0; i < n; i++)
    {
      fds[i].fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      fds[i].events = POLLIN;
      /* Blocks while the listener's backlog is full: it drains it. */
      if (fds[i].fd < 0 ||
          connect (fds[i].fd, (struct sockaddr *) &address, sizeof address) != 0)
        {
          perror ("half-open peer");
          return 1;
        }
    }
  fds[n].fd = STDIN_FILENO;
  fds[n].events = POLLIN;
  printf ("connected %u\n", n);
  fflush (stdout);

  for (;;)
    {
      char byte;

      if (poll (fds, n + 1, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          perror ("half-open peer");
          return 1;
        }
      if (fds[n].revents != 0 && read (STDIN_FILENO, &byte, 1) <= 0)
        break;
      for (guint i = 0; i < n; i++)
        if (fds[i].fd >= 0 && fds[i].revents != 0 && read (fds[i].fd, &byte, 1) <= 0)
          {
            close (fds[i].fd);
            fds[i].fd = -1;
            printf ("closed %u\n", ++closed);
            fflush (stdout);
          }
    }
  for (guint i = 0; i < n; i++)
    if (fds[i].fd >= 0)
      close (fds[i].fd);
  return 0;
}

/* The parent's view of a child: what it last reported. */
typedef struct
{
  GSubprocess *process;   /* owned */
  GDataInputStream *out;  /* owned */
  guint connected;
  guint closed;
  gboolean eof;
  guint want;             /* for the predicates */
} HalfOpen;

static void
half_open_read_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  HalfOpen *peer = data;
  g_autofree gchar *line = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (peer->out, result, NULL, NULL);
  if (line == NULL)
    {
      peer->eof = TRUE;
      return;
    }
  if (g_str_has_prefix (line, "connected "))
    peer->connected = (guint) atoi (line + strlen ("connected "));
  else if (g_str_has_prefix (line, "closed "))
    peer->closed = (guint) atoi (line + strlen ("closed "));
  g_data_input_stream_read_line_async (peer->out, G_PRIORITY_DEFAULT, NULL, half_open_read_cb,
                                       peer);
}

static void
half_open_start (HalfOpen    *peer,
                 const gchar *path,
                 guint        n)
{
  g_autofree gchar *count = g_strdup_printf ("%u", n);
  g_autoptr(GError) error = NULL;

  *peer = (HalfOpen) { 0 };
  peer->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                    G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                                    self_exe, "--half-open", path, count, NULL);
  g_assert_no_error (error);
  peer->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (peer->process));
  g_data_input_stream_read_line_async (peer->out, G_PRIORITY_DEFAULT, NULL, half_open_read_cb,
                                       peer);
}

static gboolean
half_open_ended (gpointer data)
{
  return ((HalfOpen *) data)->eof;
}

/* Ends the child, which closes its connections on exit. */
static void
half_open_stop (HalfOpen *peer)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_close (g_subprocess_get_stdin_pipe (peer->process), NULL, NULL);
  test_iterate_until (half_open_ended, peer);
  g_subprocess_wait_check (peer->process, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&peer->out);
  g_clear_object (&peer->process);
}

static gboolean
half_open_closed_reached (gpointer data)
{
  HalfOpen *peer = data;

  g_assert_false (peer->eof);
  return peer->closed >= peer->want;
}

static gboolean
half_open_connected (gpointer data)
{
  HalfOpen *peer = data;

  g_assert_false (peer->eof);
  return peer->connected == peer->want;
}

#define HALF_OPEN_PEERS 40
#define TEST_MAX_HANDSHAKES 4
/* Threads the process may start besides the handshakes': GDBus's worker
 * and the pool's spawner. */
#define THREAD_SLACK 4

/* A second process opens ten times more connections than the bound and
 * never authenticates: the listener holds the bound's worth of handshakes
 * (a thread each), closes the rest at once, refuses a real client while
 * full, times the silent ones out, and serves a real client once the
 * bound frees. */
static void
test_handshakes_bounded (void)
{
  g_auto(TestSocketDir) socket_dir = test_socket_dir_make ("socket");
  g_autoptr(GError) error = NULL;
  g_autoptr(GenServer) adder = adder_start ();
  g_autoptr(GenDBusListener) listener = gen_dbus_listener_new (socket_dir.address, NULL, &error);
  Counts counts = { listener };
  HalfOpen peer;
  Client client;
  guint threads_before;
  guint threads_held;

  g_assert_no_error (error);
  g_assert_true (gen_dbus_listener_export (listener, adder, "/adder", &error));
  g_assert_no_error (error);
  /* A deadline no loaded machine reaches first. */
  g_object_set (listener, "max-handshakes", TEST_MAX_HANDSHAKES,
                "handshake-timeout", TEST_CALL_TIMEOUT_MS, NULL);

  /* A real client first, so that what GDBus starts once is running. */
  client_try (&client, socket_dir.address);
  g_assert_no_error (client.error);
  g_assert_cmpint (client.sum, ==, 2);
  threads_before = test_count_threads ("");

  half_open_start (&peer, socket_dir.path, HALF_OPEN_PEERS);
  peer.want = HALF_OPEN_PEERS;
  test_iterate_until (half_open_connected, &peer);
  counts.want_in_progress = TEST_MAX_HANDSHAKES;
  counts.want_refused = HALF_OPEN_PEERS - TEST_MAX_HANDSHAKES;
  test_iterate_until (counts_reached, &counts);
  peer.want = HALF_OPEN_PEERS - TEST_MAX_HANDSHAKES;
  test_iterate_until (half_open_closed_reached, &peer);
  g_assert_cmpuint (counts.refused, ==, HALF_OPEN_PEERS - TEST_MAX_HANDSHAKES);
  g_assert_cmpuint (counts.timed_out, ==, 0);

  threads_held = test_count_threads ("");
  g_test_message ("threads: %u before, %u with %u half-open connections (max-handshakes %u)",
                  threads_before, threads_held, HALF_OPEN_PEERS, TEST_MAX_HANDSHAKES);
  g_assert_cmpuint (threads_held, <=, threads_before + TEST_MAX_HANDSHAKES + THREAD_SLACK);

  /* While the bound is full, a real client is refused too. */
  client_try (&client, socket_dir.address);
  g_assert_nonnull (client.error);
  g_clear_error (&client.error);
  g_assert_cmpuint (peer.closed, ==, HALF_OPEN_PEERS - TEST_MAX_HANDSHAKES);

  /* Peers that hang up free their places. */
  half_open_stop (&peer);
  counts.want_in_progress = 0;
  counts.want_refused = HALF_OPEN_PEERS + 1;
  test_iterate_until (counts_reached, &counts);

  /* Silent past a short deadline: cut off, seen from the peer. */
  g_object_set (listener, "handshake-timeout", 100, NULL);
  half_open_start (&peer, socket_dir.path, TEST_MAX_HANDSHAKES);
  peer.want = TEST_MAX_HANDSHAKES;
  test_iterate_until (half_open_closed_reached, &peer);
  counts.want_timed_out = TEST_MAX_HANDSHAKES;
  test_iterate_until (counts_reached, &counts);
  g_assert_cmpuint (counts.refused, ==, HALF_OPEN_PEERS + 1);
  half_open_stop (&peer);

  /* The bound free again: a real client is served. */
  g_object_set (listener, "handshake-timeout", TEST_CALL_TIMEOUT_MS, NULL);
  client_try (&client, socket_dir.address);
  g_assert_no_error (client.error);
  g_assert_cmpint (client.sum, ==, 4);
  counts_reached (&counts);
  g_assert_cmpuint (counts.accepted, ==, 2);

  gen_dbus_listener_close (listener);
  test_stop_ok (adder);
}

/* Silent peers hold threads of the listener's own, never GIO's shared
 * task pool: with the default bound, 32 of them used to block every
 * thread of that pool, and any g_task_run_in_thread() of the process
 * (file, resolver, TLS work) waited seconds for it to grow. */
static void
test_handshakes_own_threads (void)
{
  g_auto(TestSocketDir) socket_dir = test_socket_dir_make ("socket");
  g_autoptr(GError) error = NULL;
  g_autoptr(GenDBusListener) listener = gen_dbus_listener_new (socket_dir.address, NULL, &error);
  guint max_handshakes;
  Counts counts = { listener };
  HalfOpen peer;
  gint64 took;

  g_assert_no_error (error);
  g_object_get (listener, "max-handshakes", &max_handshakes, NULL);
  g_assert_cmpuint (max_handshakes, ==, 32);
  /* A deadline no loaded machine reaches first. */
  g_object_set (listener, "handshake-timeout", TEST_CALL_TIMEOUT_MS, NULL);

  half_open_start (&peer, socket_dir.path, max_handshakes);
  peer.want = max_handshakes;
  test_iterate_until (half_open_connected, &peer);
  counts.want_in_progress = max_handshakes;
  test_iterate_until (counts_reached, &counts);
  test_iterate_until (test_handshake_threads_are, GUINT_TO_POINTER (max_handshakes));

  /* GIO's pool is free for the rest of the process meanwhile. */
  took = test_run_noop_task ();
  g_test_message ("a GTask run in GIO's pool with %u silent peers held: %.1f ms",
                  max_handshakes, took / 1000.0);
  counts_reached (&counts);
  g_assert_cmpuint (counts.in_progress, ==, max_handshakes);

  /* Their threads end with them. */
  half_open_stop (&peer);
  counts.want_in_progress = 0;
  test_iterate_until (counts_reached, &counts);
  test_iterate_until (test_handshake_threads_are, GUINT_TO_POINTER (0));

  gen_dbus_listener_close (listener);
}

/* A handshake left on its way ---------------------------------------------- */

/* The last step of the way in, on the handshake's thread: it waits at
 * the gate, then refuses the peer. */
static gboolean
authorize_at_gate (GDBusAuthObserver *observer,
                   GIOStream         *stream,
                   GCredentials      *credentials,
                   TestGate          *gate)
{
  test_gate_pass (gate);
  return FALSE;
}

static gboolean
gate_holds_one (gpointer gate)
{
  return test_gate_get (gate, &((TestGate *) gate)->blocked) == 1;
}

/* A client that gives up on its own once through the authentication,
 * whatever the other side decides. */
static gpointer
client_leaving_run (gpointer address)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = client_connect (address, &error);

  if (connection != NULL)
    g_dbus_connection_close_sync (connection, NULL, NULL);
  return NULL;
}

/* A listener on a context that its thread leaves for good, without
 * iterating it again, while a handshake is still on its way: the result
 * of that handshake can never be delivered there, and goes with the
 * context, taking the listener along (here: the observer it held). */
static void
test_context_left_mid_handshake (void)
{
  g_auto(TestSocketDir) socket_dir = test_socket_dir_make ("socket");
  GMainContext *context = g_main_context_new ();
  GDBusAuthObserver *observer = g_dbus_auth_observer_new ();
  gpointer observer_alive = observer;
  g_autoptr(GError) error = NULL;
  GenDBusListener *listener;
  GThread *client;
  TestGate gate = { 0 };

  test_gate_init (&gate);
  g_signal_connect (observer, "authorize-authenticated-peer", G_CALLBACK (authorize_at_gate),
                    &gate);
  g_object_add_weak_pointer (G_OBJECT (observer), &observer_alive);
  g_main_context_push_thread_default (context);
  listener = gen_dbus_listener_new (socket_dir.address, observer, &error);
  g_assert_no_error (error);
  g_object_unref (observer);
  /* A deadline no loaded machine reaches first. */
  g_object_set (listener, "handshake-timeout", TEST_CALL_TIMEOUT_MS, NULL);

  /* The handshake's thread waits in the observer. */
  client = g_thread_new ("client", client_leaving_run, socket_dir.address);
  test_iterate_context_until (context, gate_holds_one, &gate);

  /* The thread leaves: it closes the listener and iterates its context
   * once more, as GIO's socket service needs, then never again.
   * Only after that does the handshake end, and hand its result back. */
  g_object_unref (listener);
  while (g_main_context_iteration (context, FALSE))
    ;
  test_gate_open (&gate);
  test_wait_until (test_handshake_threads_are, GUINT_TO_POINTER (0));
  g_assert_nonnull (observer_alive);

  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  g_assert_null (observer_alive);

  g_thread_join (client);
  test_gate_clear (&gate);
}

/* A client in a process of its own, for the binding suites' servers:
 * --call ADDRESS OBJECT_PATH MESSAGE connects, calls with MESSAGE (GVariant
 * text, read as the server's call type) and prints the reply as GVariant
 * text. */
static int
call_main (const gchar *address,
           const gchar *object_path,
           const gchar *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GenRemote) remote = NULL;
  g_autoptr(GVariant) message = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree gchar *printed = NULL;

  connection = client_connect (address, &error);
  if (connection != NULL)
    remote = gen_remote_new_sync (connection, NULL, object_path, NULL, &error);
  if (remote != NULL)
    message = g_variant_parse (G_VARIANT_TYPE (gen_remote_get_call_type (remote)), text,
                               NULL, NULL, &error);
  if (message != NULL)
    reply = gen_remote_call (remote, message, TEST_CALL_TIMEOUT_MS, &error);
  if (reply == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  printed = g_variant_print (reply, FALSE);
  g_print ("%s\n", printed);
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 4 && g_str_equal (argv[1], "--half-open"))
    return half_open_main (argv[2], (guint) atoi (argv[3]));
  if (argc == 5 && g_str_equal (argv[1], "--call"))
    return call_main (argv[2], argv[3], argv[4]);

  self_exe = argv[0];
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/dbus-listener/bad-address", test_bad_address);
  g_test_add_func ("/dbus-listener/export-everywhere", test_export_everywhere);
  g_test_add_func ("/dbus-listener/admission", test_admission);
  g_test_add_func ("/dbus-listener/handshakes-bounded", test_handshakes_bounded);
  g_test_add_func ("/dbus-listener/handshakes-own-threads", test_handshakes_own_threads);
  g_test_add_func ("/dbus-listener/context-left-mid-handshake", test_context_left_mid_handshake);

  return g_test_run ();
}
