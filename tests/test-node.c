/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Nodes: two nodes, one on a thread of its own, talking over a unix socket,
 * and, run through node-netns.sh, over TLS between two network namespaces
 * joined by a veth pair: node A in namespace A (its thread enters it),
 * node B in namespace B (where the program runs).
 */

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sched.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "test-common.h"
#include "genserver/gen-listener-private.h"
#include "genserver/gen-node-private.h"

/* A counter the tests reach across: casts ("add", n) and ("seq", i), the
 * latter checking that i follows the last; calls ("get", 0) → (count,
 * disorder), ("block", 0) waits at the gate, ("fail", 0) fails as a local
 * handler would. */
#define TEST_TYPE_COUNTER (test_counter_get_type ())
G_DECLARE_FINAL_TYPE (TestCounter, test_counter, TEST, COUNTER, GenServer)

struct _TestCounter
{
  GenServer parent_instance;
  gint64 count;      /* server thread */
  gint64 next_seq;   /* server thread */
  gint64 disorder;   /* server thread */
  TestGate *gate;    /* not owned */
};

G_DEFINE_FINAL_TYPE (TestCounter, test_counter, GEN_TYPE_SERVER)

static void
test_counter_handle_cast (GenServer  *server,
                          GVariant   *message,
                          GError    **error)
{
  TestCounter *self = TEST_COUNTER (server);
  const gchar *command;
  gint64 arg;

  g_variant_get (message, "(&sx)", &command, &arg);
  if (g_str_equal (command, "seq"))
    {
      if (arg != self->next_seq)
        self->disorder++;
      self->next_seq = arg + 1;
      self->count++;
    }
  else
    {
      self->count += arg;
    }
}

static GVariant *
test_counter_handle_call (GenServer  *server,
                          GVariant   *message,
                          GError    **error)
{
  TestCounter *self = TEST_COUNTER (server);
  const gchar *command;
  gint64 arg;

  g_variant_get (message, "(&sx)", &command, &arg);
  if (g_str_equal (command, "fail"))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED, "asked to fail");
      return NULL;
    }
  if (g_str_equal (command, "block"))
    test_gate_pass (self->gate);
  return g_variant_new ("(xx)", self->count, self->disorder);
}

static void
test_counter_class_init (TestCounterClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->handle_cast = test_counter_handle_cast;
  server_class->handle_call = test_counter_handle_call;
  gen_server_class_set_cast_type (server_class, "(sx)");
  gen_server_class_set_call_type (server_class, "(sx)");
}

static void
test_counter_init (TestCounter *self)
{
}

/* The tick time of the tests that do not cut the link: long, as Erlang's
 * 60 s default, since under valgrind a busy link's messages can take
 * seconds to be read. */
#define TEST_TICK_TIME_MS 60000

/* Waiting on the main context -------------------------------------------- */

static gboolean
flag_is_set (gpointer data)
{
  return g_atomic_int_get ((gint *) data) != 0;
}

/* Node A, on a thread of its own ---------------------------------------- */

typedef struct
{
  /* Given. */
  const gchar *netns;      /* a network namespace file to enter, or NULL */
  gchar *listen_address;   /* owned */
  const gchar *certs;      /* the certificate directory, or NULL: unix */
  guint tick_time_ms;

  /* Made by the thread, read by the test once ready. */
  GThread *thread;
  GMainContext *context;   /* owned */
  GMainLoop *loop;         /* owned */
  GenNode *node;           /* owned */
  GenRegistry *registry;   /* owned */
  TestCounter *counter;    /* owned */
  TestGate gate;
  gchar *address;          /* owned: where A listens */
  gint ready;              /* atomic */
} NodeThread;

static gpointer
node_thread_run (gpointer data)
{
  NodeThread *a = data;
  g_autoptr(GError) error = NULL;

  if (a->netns != NULL)
    {
      int fd = open (a->netns, O_RDONLY | O_CLOEXEC);

      g_assert_cmpint (fd, >=, 0);
      g_assert_cmpint (setns (fd, CLONE_NEWNET), ==, 0);
      close (fd);
    }

  g_main_context_push_thread_default (a->context);
  a->registry = gen_registry_new ();
  a->node = g_object_new (GEN_TYPE_NODE, "name", "a", "registry", a->registry,
                          "tick-time", a->tick_time_ms,
                          "handshake-timeout", TEST_CALL_TIMEOUT_MS, NULL);
  if (a->certs != NULL)
    {
      g_autofree gchar *crt = g_build_filename (a->certs, "a.crt", NULL);
      g_autofree gchar *key = g_build_filename (a->certs, "a.key", NULL);
      g_autofree gchar *ca = g_build_filename (a->certs, "ca.crt", NULL);

      g_assert_true (gen_node_set_tls_credentials_from_files (a->node, crt, key, ca, &error));
      g_assert_no_error (error);
    }
  g_assert_true (gen_node_listen (a->node, a->listen_address, &error));
  g_assert_no_error (error);
  a->address = g_strdup (gen_node_get_address (a->node));

  a->counter = test_start_ok (g_object_new (TEST_TYPE_COUNTER, NULL), NULL);
  a->counter->gate = &a->gate;
  g_assert_true (gen_registry_register (a->registry, "counter", GEN_SERVER (a->counter), &error));
  g_assert_no_error (error);

  g_atomic_int_set (&a->ready, 1);
  g_main_loop_run (a->loop);

  gen_node_close (a->node);
  g_clear_object (&a->node);
  if (gen_server_is_running (GEN_SERVER (a->counter)))
    test_stop_ok (a->counter);
  g_clear_object (&a->counter);
  g_clear_object (&a->registry);
  g_main_context_pop_thread_default (a->context);
  return NULL;
}

static NodeThread *
node_thread_start (const gchar *netns,
                   const gchar *listen_address,
                   const gchar *certs,
                   guint        tick_time_ms)
{
  NodeThread *a = g_new0 (NodeThread, 1);

  a->netns = netns;
  a->listen_address = g_strdup (listen_address);
  a->certs = certs;
  a->tick_time_ms = tick_time_ms;
  a->context = g_main_context_new ();
  a->loop = g_main_loop_new (a->context, FALSE);
  test_gate_init (&a->gate);
  a->thread = g_thread_new ("node-a", node_thread_run, a);
  test_wait_until (flag_is_set, &a->ready);
  return a;
}

static void
node_thread_stop (NodeThread *a)
{
  test_gate_open (&a->gate);
  g_main_loop_quit (a->loop);
  g_thread_join (a->thread);
  g_main_loop_unref (a->loop);
  g_main_context_unref (a->context);
  test_gate_clear (&a->gate);
  g_free (a->listen_address);
  g_free (a->address);
  g_free (a);
}

/* Node B, on the test's thread ------------------------------------------ */

typedef struct
{
  GenNode *node;     /* owned */
  gint ups;          /* atomic: node-up signals */
  gint downs;        /* atomic: node-down signals */
} NodeB;

static void
node_b_up_cb (GenNode     *node,
              const gchar *peer,
              NodeB       *b)
{
  g_atomic_int_inc (&b->ups);
}

static void
node_b_down_cb (GenNode      *node,
                const gchar  *peer,
                const GError *reason,
                NodeB        *b)
{
  g_assert_error (reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION);
  g_assert_true (g_str_has_prefix (reason->message, "noconnection"));
  g_atomic_int_inc (&b->downs);
}

static void
node_b_init (NodeB       *b,
             const gchar *certs,
             const gchar *cert_name,
             guint        tick_time_ms)
{
  g_autoptr(GError) error = NULL;

  /* Handshakes under valgrind take seconds. */
  b->node = g_object_new (GEN_TYPE_NODE, "name", "b", "tick-time", tick_time_ms,
                          "handshake-timeout", TEST_CALL_TIMEOUT_MS, NULL);
  g_signal_connect (b->node, "node-up", G_CALLBACK (node_b_up_cb), b);
  g_signal_connect (b->node, "node-down", G_CALLBACK (node_b_down_cb), b);
  if (certs != NULL)
    {
      g_autofree gchar *crt_file = g_strconcat (cert_name, ".crt", NULL);
      g_autofree gchar *key_file = g_strconcat (cert_name, ".key", NULL);
      g_autofree gchar *crt = g_build_filename (certs, crt_file, NULL);
      g_autofree gchar *key = g_build_filename (certs, key_file, NULL);
      g_autofree gchar *ca = g_build_filename (certs, "ca.crt", NULL);

      g_assert_true (gen_node_set_tls_credentials_from_files (b->node, crt, key, ca, &error));
      g_assert_no_error (error);
    }
}

static void
node_b_clear (NodeB *b)
{
  gen_node_close (b->node);
  g_clear_object (&b->node);
}

typedef struct
{
  gint fired;      /* atomic */
  GError *reason;  /* owned */
} Notice;

static void
node_monitor_cb (GenNode      *node,
                 const gchar  *peer,
                 const GError *reason,
                 gpointer      data)
{
  Notice *notice = data;

  g_assert_cmpstr (peer, ==, "a");
  notice->reason = g_error_copy (reason);
  g_atomic_int_set (&notice->fired, 1);
}

static void
remote_monitor_cb (GenRemote    *remote,
                   const GError *reason,
                   gpointer      data)
{
  Notice *notice = data;

  notice->reason = reason ? g_error_copy (reason) : NULL;
  g_atomic_int_set (&notice->fired, 1);
}

/* A remote call on a thread of its own, for calls in flight. */
typedef struct
{
  GenRemote *remote;     /* not owned */
  const gchar *command;
  GVariant *reply;       /* owned */
  GError *error;         /* owned */
  gint64 elapsed_us;
  gint done;             /* atomic */
} RemoteCall;

static gpointer
remote_call_run (gpointer data)
{
  RemoteCall *call = data;
  gint64 start = g_get_monotonic_time ();

  call->reply = gen_remote_call (call->remote, test_message (call->command, 0),
                                 TEST_CALL_TIMEOUT_MS, &call->error);
  call->elapsed_us = g_get_monotonic_time () - start;
  g_atomic_int_set (&call->done, 1);
  return NULL;
}

static gint64
remote_get (GenRemote *remote,
            gint64    *disorder)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  gint64 count, misordered;

  reply = gen_remote_call (remote, test_message ("get", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(xx)", &count, &misordered);
  if (disorder != NULL)
    *disorder = misordered;
  return count;
}

typedef struct
{
  GenNode *from;  /* not owned */
  gint done;      /* atomic */
  gint64 count;
} BackCall;

static gint64 remote_get (GenRemote *remote, gint64 *disorder);

static gpointer
back_call_run (gpointer data)
{
  BackCall *back = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GenRemote) remote = NULL;

  remote = gen_node_remote_for_name (back->from, "b", "b-counter", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (gen_remote_cast (remote, test_message ("add", 7), &error));
  back->count = remote_get (remote, NULL);
  g_atomic_int_set (&back->done, 1);
  return NULL;
}

/* Calls, casts and monitors across, whatever the transport. */
static void
check_across (NodeThread *a,
              NodeB      *b,
              const gchar *peer)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GenRemote) counter = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_auto(GStrv) peers = NULL;
  Notice stopped = { 0 };

  peers = gen_node_list_peers (b->node);
  g_assert_cmpstrv (peers, ((const gchar *[]) { "a", NULL }));

  counter = gen_node_remote_for_name (b->node, peer, "counter", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (gen_remote_get_cast_type (counter), ==, "(sx)");

  g_assert_true (gen_remote_cast (counter, test_message ("add", 5), &error));
  g_assert_no_error (error);
  g_assert_cmpint (remote_get (counter, NULL), ==, 5);

  /* The errors of a local server. */
  reply = gen_remote_call (counter, test_message ("fail", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "asked to fail");
  g_clear_error (&error);
  g_assert_false (gen_remote_cast (counter, g_variant_new_string ("wrong"), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_null (gen_node_remote_for_name (b->node, peer, "nobody", NULL, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (gen_node_remote_for_name (b->node, "c", "counter", NULL, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION);
  g_clear_error (&error);

  /* The other way: A reaches B's names over the same link. B's registry
   * answers on this thread's context, iterated meanwhile. */
  {
    g_autoptr(TestCounter) local = test_start_ok (g_object_new (TEST_TYPE_COUNTER, NULL), NULL);
    BackCall back = { a->node, 0 };
    GThread *thread;

    g_assert_true (gen_registry_register (gen_node_get_registry (b->node), "b-counter",
                                          GEN_SERVER (local), &error));
    g_assert_no_error (error);
    thread = g_thread_new ("back", back_call_run, &back);
    test_iterate_until (flag_is_set, &back.done);
    g_thread_join (thread);
    g_assert_cmpint (back.count, ==, 7);
    test_stop_ok (local);
  }

  /* A remote monitor hears of the server's stop, with its reason. */
  gen_remote_monitor (counter, remote_monitor_cb, &stopped, NULL);
  remote_get (counter, NULL); /* after the monitor's own look at the server */
  test_stop_ok (a->counter);
  test_iterate_until (flag_is_set, &stopped.fired);
  g_assert_no_error (stopped.reason);
}

/* Whether anything still listens to @cancellable: a connect that ended
 * must not. */
static gboolean
has_cancelled_handler (GCancellable *cancellable)
{
  return g_signal_has_handler_pending (cancellable,
                                       g_signal_lookup ("cancelled", G_TYPE_CANCELLABLE),
                                       0, TRUE);
}

/* Unix sockets ----------------------------------------------------------- */

static void
test_unix_across (void)
{
  g_auto(TestSocketDir) socket_dir = test_socket_dir_make ("a");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree gchar *peer = NULL;
  NodeThread *a;
  NodeB b = { 0 };
  Notice down = { 0 }, never = { 0 };
  guint removed;

  a = node_thread_start (NULL, socket_dir.address, NULL, TEST_TICK_TIME_MS);
  g_assert_cmpstr (a->address, ==, socket_dir.address);
  node_b_init (&b, NULL, NULL, TEST_TICK_TIME_MS);

  peer = gen_node_connect (b.node, a->address, cancellable, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (peer, ==, "a");
  g_assert_cmpint (g_atomic_int_get (&b.ups), ==, 1);
  g_assert_false (has_cancelled_handler (cancellable));

  check_across (a, &b, peer);

  /* Node A goes away: B's node monitor fires with noconnection; one
   * removed before does not. */
  gen_node_monitor_node (b.node, "a", node_monitor_cb, &down, NULL);
  removed = gen_node_monitor_node (b.node, "a", node_monitor_cb, &never, NULL);
  g_assert_true (gen_node_demonitor_node (b.node, removed));
  g_assert_false (gen_node_demonitor_node (b.node, removed));
  node_thread_stop (a);
  test_iterate_until (flag_is_set, &down.fired);
  g_assert_false (g_atomic_int_get (&never.fired));
  g_assert_error (down.reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION);
  g_assert_true (g_str_has_prefix (down.reason->message, "noconnection"));
  g_assert_cmpint (g_atomic_int_get (&b.downs), ==, 1);
  g_clear_error (&down.reason);

  /* Monitoring a node that is not connected tells at once. */
  down.fired = 0;
  gen_node_monitor_node (b.node, "a", node_monitor_cb, &down, NULL);
  test_iterate_until (flag_is_set, &down.fired);
  g_assert_error (down.reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION);
  g_clear_error (&down.reason);

  node_b_clear (&b);
}

static void
test_bad_addresses (void)
{
  g_autoptr(GenNode) node = gen_node_new ("x");
  g_autoptr(GError) error = NULL;

  g_assert_false (gen_node_listen (node, "tcp:host=127.0.0.1,port=0", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  /* TLS without credentials: said at once, not at the first peer. A GLib
   * without glib-networking (the TSan build's own GLib loads none) says
   * NOT_SUPPORTED first, which /node/no-tls-backend checks. */
  if (g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_assert_false (gen_node_listen (node, "tls:host=127.0.0.1,port=0", &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED);
      g_clear_error (&error);
      g_assert_null (gen_node_connect (node, "tls:host=127.0.0.1,port=1", NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED);
      g_clear_error (&error);
    }

  g_assert_false (gen_node_listen (node, "unix:", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* A missing TLS backend is an error at listen and connect time: run in a
 * child whose GIO finds no modules (GIO reads where they are when it
 * first needs one). */
static void
test_no_tls_backend (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GenNode) node = NULL;
      g_autoptr(GError) error = NULL;

      g_setenv ("GIO_MODULE_DIR", "/nonexistent", TRUE);
      g_unsetenv ("GIO_EXTRA_MODULES");
      node = gen_node_new ("x");

      g_assert_false (gen_node_set_tls_credentials_from_files (node, "a.crt", "a.key",
                                                               "ca.crt", &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      g_assert_nonnull (strstr (error->message, "glib-networking"));
      g_clear_error (&error);
      g_assert_false (gen_node_listen (node, "tls:host=127.0.0.1,port=0", &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      return;
    }

  g_test_trap_subprocess (NULL, TEST_DEADLINE_US, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* The listener ----------------------------------------------------------- */

typedef struct
{
  GenListener *listener;
  guint in_progress, refused, timed_out, accepted;
  guint want_in_progress, want_refused, want_timed_out, want_accepted;
} Counts;

static gboolean
counts_reached (gpointer data)
{
  Counts *counts = data;

  gen_listener_get_counts (counts->listener, &counts->in_progress, &counts->refused,
                           &counts->timed_out, &counts->accepted);
  return counts->in_progress == counts->want_in_progress &&
         counts->refused >= counts->want_refused &&
         counts->timed_out >= counts->want_timed_out &&
         counts->accepted >= counts->want_accepted;
}

static void
accept_cb (GenListener     *listener,
           GDBusConnection *connection,
           gpointer         data)
{
  g_ptr_array_add (data, g_object_ref (connection));
  g_dbus_connection_start_message_processing (connection);
}

static gpointer
dbus_client_run (gpointer data)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection;

  connection = g_dbus_connection_new_for_address_sync (data,
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  return connection;
}

/* Peers that connect and say nothing hold a handshake each, up to the
 * bound, and only until the deadline; then a real client gets in. */
static void
test_listener_bounded (void)
{
  g_auto(TestSocketDir) socket_dir = test_socket_dir_make ("l");
  g_autoptr(GDBusAuthObserver) observer = gen_dbus_auth_observer_new (NULL, 0, FALSE);
  g_autoptr(GPtrArray) accepted = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) silent = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) socket_address = g_unix_socket_address_new (socket_dir.path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  Counts counts = { 0 };
  GThread *thread;

  counts.listener = gen_listener_new (socket_dir.address, NULL, NULL, observer, accept_cb,
                                     accepted, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (gen_listener_get_address (counts.listener), ==, socket_dir.address);
  /* A deadline no loaded machine reaches first. */
  gen_listener_set_limits (counts.listener, 2, TEST_CALL_TIMEOUT_MS);
  for (guint i = 0; i < 5; i++)
    {
      GSocketConnection *peer =
        g_socket_client_connect (client, G_SOCKET_CONNECTABLE (socket_address), NULL, &error);

      g_assert_no_error (error);
      g_ptr_array_add (silent, peer);
    }

  /* Two held, three closed at once. */
  counts.want_in_progress = 2;
  counts.want_refused = 3;
  test_iterate_until (counts_reached, &counts);
  g_assert_cmpuint (counts.timed_out, ==, 0);

  /* Peers that hang up free their places. */
  g_ptr_array_set_size (silent, 0);
  counts.want_in_progress = 0;
  counts.want_refused = 5;
  test_iterate_until (counts_reached, &counts);

  /* One that stays silent past a short deadline is cut off. */
  gen_listener_set_limits (counts.listener, 2, 100);
  g_ptr_array_add (silent, g_socket_client_connect (client, G_SOCKET_CONNECTABLE (socket_address),
                                                    NULL, &error));
  g_assert_no_error (error);
  counts.want_timed_out = 1;
  test_iterate_until (counts_reached, &counts);
  g_assert_cmpuint (counts.refused, ==, 5);
  g_assert_cmpuint (counts.accepted, ==, 0);

  gen_listener_set_limits (counts.listener, 2, TEST_CALL_TIMEOUT_MS);
  thread = g_thread_new ("client", dbus_client_run, socket_dir.address);
  counts.want_accepted = 1;
  test_iterate_until (counts_reached, &counts);
  connection = g_thread_join (thread);
  g_assert_false (g_dbus_connection_is_closed (connection));
  g_assert_cmpuint (accepted->len, ==, 1);

  gen_listener_close (counts.listener);
  g_assert_false (g_file_test (socket_dir.path, G_FILE_TEST_EXISTS));
}

static gboolean
hold_silently_cb (GSocketService    *service,
                  GSocketConnection *connection,
                  GObject           *source_object,
                  gpointer           data)
{
  g_ptr_array_add (data, g_object_ref (connection));
  return TRUE;
}

/* A connect, under way, of a node to a peer that accepts connections and
 * never says a word: it holds a handshake thread of the node's, and the
 * peer holds its connection. With no deadline before the test's own. */
typedef struct
{
  TestSocketDir socket_dir;
  GSocketService *service;    /* owned: the peer */
  GPtrArray *held;            /* GSocketConnection (owned): what the peer accepted */
  GenNode *node;              /* owned */
  GCancellable *cancellable;  /* owned: the connect's */
  GAsyncResult *result;       /* owned: the connect's, once it ended */
} SilentConnect;

static void
silent_connect_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  ((SilentConnect *) data)->result = g_object_ref (result);
}

static gboolean
a_peer_held (gpointer held)
{
  return ((GPtrArray *) held)->len > 0;
}

static gboolean
silent_connect_done (gpointer data)
{
  return ((SilentConnect *) data)->result != NULL;
}

static void
silent_connect_set_up (SilentConnect *f,
                       gconstpointer  data)
{
  g_autoptr(GSocketAddress) socket_address = NULL;
  g_autoptr(GError) error = NULL;

  f->socket_dir = test_socket_dir_make ("silent");
  socket_address = g_unix_socket_address_new (f->socket_dir.path);
  f->service = g_socket_service_new ();
  f->held = g_ptr_array_new_with_free_func (g_object_unref);
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (f->service), socket_address,
                                                G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                                                NULL, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (f->service, "incoming", G_CALLBACK (hold_silently_cb), f->held);
  g_socket_service_start (f->service);

  f->node = gen_node_new ("connects");
  f->cancellable = g_cancellable_new ();
  g_object_set (f->node, "handshake-timeout", G_MAXINT, NULL);
  gen_node_connect_async (f->node, f->socket_dir.address, f->cancellable, silent_connect_cb, f);
  test_iterate_until (test_handshake_threads_are, GUINT_TO_POINTER (1));
  /* The peer hears of it on this thread's context, maybe only after the
   * node's handshake thread began. */
  test_iterate_until (a_peer_held, f->held);
  g_assert_cmpuint (f->held->len, ==, 1);
  g_assert_null (f->result);
}

/* Waits for the connect's end, and for its handshake thread's. */
static gchar *
silent_connect_finish (SilentConnect  *f,
                       GError        **error)
{
  gchar *name;

  test_iterate_until (silent_connect_done, f);
  name = gen_node_connect_finish (f->node, f->result, error);
  g_clear_object (&f->result);
  test_iterate_until (test_handshake_threads_are, GUINT_TO_POINTER (0));
  return name;
}

static void
silent_connect_tear_down (SilentConnect *f,
                          gconstpointer  data)
{
  gen_node_close (f->node);
  g_clear_object (&f->node);
  g_clear_object (&f->cancellable);
  g_socket_service_stop (f->service);
  g_socket_listener_close (G_SOCKET_LISTENER (f->service));
  g_clear_object (&f->service);
  g_clear_pointer (&f->held, g_ptr_array_unref);
  test_socket_dir_clear (&f->socket_dir);
}

/* A connect lets go of its cancellable when it ends, rather than when the
 * cancellable is finalized: one kept for many connects holds nothing of
 * theirs. Here they are refused; /node/unix/across makes one and
 * /node/connect/silent-peer cancels one. */
static void
test_connect_refused (void)
{
  g_auto(TestSocketDir) socket_dir = test_socket_dir_make ("nobody");
  g_autoptr(GenNode) node = gen_node_new ("connects");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_null (gen_node_connect (node, socket_dir.address, cancellable, &error));
      g_assert_nonnull (error);
      g_assert_false (has_cancelled_handler (cancellable));
    }
}

/* Connecting to a peer that accepts and never answers holds a thread of
 * the node's own, not one of GIO's shared task pool, until the connect
 * ends, here by its cancellable. */
static void
test_connect_silent_peer (SilentConnect *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_cancellable_cancel (f->cancellable);
  g_assert_null (silent_connect_finish (f, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (has_cancelled_handler (f->cancellable));
}

/* A node closed during a connect ends it, with G_IO_ERROR_CLOSED, and
 * leaves the caller's cancellable alone: the caller may share it with
 * other work. */
static void
test_connect_node_closed (SilentConnect *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  gen_node_close (f->node);
  g_assert_null (silent_connect_finish (f, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_false (g_cancellable_is_cancelled (f->cancellable));
  g_assert_false (has_cancelled_handler (f->cancellable));
}

/* TLS between two namespaces --------------------------------------------- */

/* Why the namespaces are not there, when they are not. */
static gchar *netns_skip_reason;

static const gchar *
netns_a (void)
{
  const gchar *netns = g_getenv ("GEN_TEST_NETNS_A");

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_test_skip ("no TLS backend (glib-networking) in this GLib");
      return NULL;
    }
  if (netns == NULL)
    g_test_skip (netns_skip_reason ? netns_skip_reason : "no network namespaces");
  return netns;
}

/* Starts node-netns.sh, which makes the namespaces and removes them when
 * its standard input closes: when this process ends, however it ends.
 * Then moves this thread, and every thread it starts, into namespace B. */
static void
netns_setup (void)
{
  g_autofree gchar *script = g_test_build_filename (G_TEST_DIST, "node-netns.sh", NULL);
  const gchar *argv[] = { "/bin/sh", script, NULL };
  g_autoptr(GError) error = NULL;
  GIOChannel *out;
  gint in_fd = -1, out_fd = -1;
  GPid pid;

  if (!g_spawn_async_with_pipes (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                 &pid, &in_fd, &out_fd, NULL, &error))
    {
      netns_skip_reason = g_strdup_printf ("cannot run node-netns.sh: %s", error->message);
      return;
    }
  g_spawn_close_pid (pid);
  /* in_fd stays open, unused, for as long as this process lives. */
  fcntl (in_fd, F_SETFD, FD_CLOEXEC);

  out = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (out, TRUE);
  for (;;)
    {
      g_autofree gchar *line = NULL;
      const gchar *value;

      if (g_io_channel_read_line (out, &line, NULL, NULL, NULL) != G_IO_STATUS_NORMAL)
        {
          netns_skip_reason = g_strdup ("node-netns.sh ended before the network was ready");
          break;
        }
      g_strchomp (line);
      if (g_str_has_prefix (line, "skip: "))
        {
          netns_skip_reason = g_strdup (line + strlen ("skip: "));
          break;
        }
      if (g_str_equal (line, "ready"))
        break;
      if ((value = strchr (line, '=')) == NULL)
        continue;
      if (g_str_has_prefix (line, "netns_a="))
        g_setenv ("GEN_TEST_NETNS_A", value + 1, TRUE);
      else if (g_str_has_prefix (line, "veth_b="))
        g_setenv ("GEN_TEST_VETH_B", value + 1, TRUE);
      else if (g_str_has_prefix (line, "certs="))
        g_setenv ("GEN_TEST_CERTS", value + 1, TRUE);
      else if (g_str_has_prefix (line, "netns_b="))
        {
          int fd = open (value + 1, O_RDONLY | O_CLOEXEC);

          g_assert_cmpint (fd, >=, 0);
          g_assert_cmpint (setns (fd, CLONE_NEWNET), ==, 0);
          close (fd);
        }
    }
  g_io_channel_unref (out);
}

static NodeThread *
tls_node_a (guint tick_time_ms)
{
  return node_thread_start (netns_a (), "tls:host=192.0.2.1,port=0",
                            g_getenv ("GEN_TEST_CERTS"), tick_time_ms);
}

static gchar *
connect_b (NodeB      *b,
           NodeThread *a,
           guint       tick_time_ms)
{
  g_autoptr(GError) error = NULL;
  gchar *peer;

  node_b_init (b, g_getenv ("GEN_TEST_CERTS"), "b", tick_time_ms);
  g_assert_true (g_str_has_prefix (a->address, "tls:host=192.0.2.1,port="));
  peer = gen_node_connect (b->node, a->address, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (peer, ==, "a");
  return peer;
}

static void
test_tls_across (void)
{
  g_autofree gchar *peer = NULL;
  NodeThread *a;
  NodeB b = { 0 };

  if (netns_a () == NULL)
    return;

  a = tls_node_a (TEST_TICK_TIME_MS);
  peer = connect_b (&b, a, TEST_TICK_TIME_MS);
  check_across (a, &b, peer);

  node_b_clear (&b);
  node_thread_stop (a);
}

static gboolean
a_refused (gpointer data)
{
  NodeThread *a = ((gpointer *) data)[0];
  guint want = GPOINTER_TO_UINT (((gpointer *) data)[1]);
  guint refused = 0;

  gen_listener_get_counts (gen_node_get_listener (a->node, 0), NULL, &refused,
                           NULL, NULL);
  return refused >= want;
}

/* Whether a D-Bus connection can be made over @stream as a client. */
static gboolean
dbus_over (GIOStream *stream)
{
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GError) error = NULL;

  connection = g_dbus_connection_new_sync (stream, NULL,
                                           G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                           NULL, NULL, &error);
  return connection != NULL;
}

static void
test_tls_refused (void)
{
  const gchar *certs = g_getenv ("GEN_TEST_CERTS");
  g_autofree gchar *ca_file = NULL;
  g_autofree gchar *port = NULL;
  g_autofree gchar *plain = NULL;
  g_autoptr(GTlsDatabase) ca = NULL;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnectable) where = NULL;
  g_autoptr(GSocketConnection) tcp = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *peer = NULL;
  gpointer wait[2];
  guint accepted = 0;
  NodeThread *a;
  NodeB rogue = { 0 };

  if (netns_a () == NULL)
    return;

  a = tls_node_a (TEST_TICK_TIME_MS);
  wait[0] = a;
  port = g_strdup (strrchr (a->address, '=') + 1);
  where = g_network_address_new ("192.0.2.1", (guint16) g_ascii_strtoull (port, NULL, 10));
  ca_file = g_build_filename (certs, "ca.crt", NULL);
  ca = g_tls_file_database_new (ca_file, &error);
  g_assert_no_error (error);

  /* No client certificate: the handshake fails (or, in TLS 1.3, the first
   * read after it), and D-Bus never starts. */
  tcp = g_socket_client_connect (client, where, NULL, &error);
  g_assert_no_error (error);
  tls = g_tls_client_connection_new (G_IO_STREAM (tcp), where, &error);
  g_assert_no_error (error);
  g_tls_connection_set_database (G_TLS_CONNECTION (tls), ca);
  if (g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, NULL))
    g_assert_false (dbus_over (tls));
  wait[1] = GUINT_TO_POINTER (1);
  test_wait_until (a_refused, wait);

  /* A certificate from another CA. */
  node_b_init (&rogue, certs, "rogue", TEST_TICK_TIME_MS);
  peer = gen_node_connect (rogue.node, a->address, NULL, &error);
  g_assert_null (peer);
  g_assert_nonnull (error);
  g_test_message ("a certificate of another CA: %s", error->message);
  g_clear_error (&error);
  node_b_clear (&rogue);
  wait[1] = GUINT_TO_POINTER (2);
  test_wait_until (a_refused, wait);

  /* Plain D-Bus over TCP. */
  plain = g_strdup_printf ("tcp:host=192.0.2.1,port=%s", port);
  connection = g_dbus_connection_new_for_address_sync (plain,
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                       NULL, NULL, &error);
  g_assert_null (connection);
  g_assert_nonnull (error);
  wait[1] = GUINT_TO_POINTER (3);
  test_wait_until (a_refused, wait);

  /* None of them reached D-Bus. */
  gen_listener_get_counts (gen_node_get_listener (a->node, 0), NULL, NULL, NULL,
                           &accepted);
  g_assert_cmpuint (accepted, ==, 0);
  {
    g_auto(GStrv) peers = gen_node_list_peers (a->node);

    g_assert_cmpuint (g_strv_length (peers), ==, 0);
  }

  node_thread_stop (a);
}

/* Peers that connect and never begin their TLS handshake hold a
 * handshake thread of the node's each, and none of GIO's shared pool:
 * glib-networking runs every TLS handshake on that pool, so the node
 * begins one only once the client's first bytes came. Before, each held
 * a pool thread too until its deadline, and a GTask of the process
 * waited for the pool to grow (0.6 s with 32 such peers). Once the peers
 * hang up their threads end. */
static void
test_tls_silent_peers (void)
{
  const guint n = 16;
  g_autoptr(GPtrArray) silent = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnectable) where = NULL;
  guint pool_before, pool_during;
  gint64 took;
  NodeThread *a;

  if (netns_a () == NULL)
    return;

  a = tls_node_a (TEST_TICK_TIME_MS);
  where = g_network_address_new ("192.0.2.1",
                                 (guint16) g_ascii_strtoull (strrchr (a->address, '=') + 1,
                                                             NULL, 10));
  test_run_noop_task ();
  pool_before = test_count_threads ("pool");
  g_assert_cmpuint (test_count_threads ("gen-handshake"), ==, 0);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      GSocketConnection *peer = g_socket_client_connect (client, where, NULL, &error);

      g_assert_no_error (error);
      g_ptr_array_add (silent, peer);
    }
  test_wait_until (test_handshake_threads_are, GUINT_TO_POINTER (n));

  took = test_run_noop_task ();
  pool_during = test_count_threads ("pool");
  g_test_message ("%u silent TLS peers: GIO's pool threads %u -> %u, a GTask took %.1f ms",
                  n, pool_before, pool_during, took / 1000.0);
  g_assert_cmpuint (pool_during, <, pool_before + n / 4);

  g_ptr_array_set_size (silent, 0);
  test_wait_until (test_handshake_threads_are, GUINT_TO_POINTER (0));
  node_thread_stop (a);
}

static void
test_tls_casts_in_order (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GenRemote) counter = NULL;
  g_autofree gchar *peer = NULL;
  g_autoptr(GVariant) reply = NULL;
  const gint64 n = 100000;
  gint64 count = -1, disorder = -1;
  NodeThread *a;
  NodeB b = { 0 };

  if (netns_a () == NULL)
    return;

  a = tls_node_a (TEST_TICK_TIME_MS);
  peer = connect_b (&b, a, TEST_TICK_TIME_MS);
  counter = gen_node_remote_for_name (b.node, peer, "counter", NULL, &error);
  g_assert_no_error (error);

  for (gint64 i = 0; i < n; i++)
    if (!gen_remote_cast (counter, test_message ("seq", i), &error))
      g_error ("cast %" G_GINT64_FORMAT ": %s", i, error->message);

  /* The reply comes after the last cast is handled: casts are taken off the
   * link without waiting for the server, so under valgrind the server may
   * still have most of them to handle when this call arrives. A deadline
   * of ten call timeouts, not one. */
  reply = gen_remote_call (counter, test_message ("get", 0), 10 * TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(xx)", &count, &disorder);
  g_assert_cmpint (count, ==, n);
  g_assert_cmpint (disorder, ==, 0);

  g_clear_object (&counter);
  node_b_clear (&b);
  node_thread_stop (a);
}

static gboolean
a_is_peer (gpointer data)
{
  g_auto(GStrv) peers = gen_node_list_peers (data);

  return g_strv_contains ((const gchar * const *) peers, "a");
}

static void
set_link (const gchar *state)
{
  g_autoptr(GError) error = NULL;
  gint status = 0;
  const gchar *argv[] = { "ip", "link", "set", g_getenv ("GEN_TEST_VETH_B"), state, NULL };

  g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

/* The cable is pulled: nothing says so but the silence. A call in flight
 * fails with NO_CONNECTION once the tick time passes (800 ms here), long
 * before its own timeout; the monitors fire; after `up` the link comes
 * back by itself. */
static void
test_tls_link_cut (void)
{
  /* Under valgrind a live link's ticks can take longer than that to be
   * read: ten times as long there, not to see it go down by itself. */
  const gchar *preload = g_getenv ("LD_PRELOAD");
  const guint tick_time = preload && strstr (preload, "vgpreload") ? 8000 : 800;
  g_autoptr(GError) error = NULL;
  g_autoptr(GenRemote) counter = NULL;
  g_autoptr(GenRemote) again = NULL;
  g_autofree gchar *peer = NULL;
  RemoteCall call = { 0 };
  Notice node_down = { 0 }, remote_down = { 0 };
  GThread *thread;
  NodeThread *a;
  NodeB b = { 0 };

  if (netns_a () == NULL)
    return;

  a = tls_node_a (tick_time);
  peer = connect_b (&b, a, tick_time);
  counter = gen_node_remote_for_name (b.node, peer, "counter", NULL, &error);
  g_assert_no_error (error);
  gen_node_monitor_node (b.node, peer, node_monitor_cb, &node_down, NULL);
  gen_remote_monitor (counter, remote_monitor_cb, &remote_down, NULL);

  call.remote = counter;
  call.command = "block";
  thread = g_thread_new ("call", remote_call_run, &call);
  test_gate_wait_for (&a->gate, &a->gate.blocked, 1);

  set_link ("down");
  test_iterate_until (flag_is_set, &call.done);
  g_thread_join (thread);
  g_assert_null (call.reply);
  g_assert_error (call.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION);
  g_test_message ("the call in flight failed %.0f ms after it was made (tick time %u ms, "
                  "call timeout %d ms)", call.elapsed_us / 1000., tick_time,
                  TEST_CALL_TIMEOUT_MS);
  g_assert_cmpint (call.elapsed_us, <, TEST_CALL_TIMEOUT_MS * (gint64) 1000);
  g_clear_error (&call.error);

  test_iterate_until (flag_is_set, &node_down.fired);
  g_assert_error (node_down.reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION);
  test_iterate_until (flag_is_set, &remote_down.fired);
  g_assert_error (remote_down.reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION);
  g_assert_true (g_str_has_prefix (remote_down.reason->message, "noconnection"));
  g_assert_cmpint (g_atomic_int_get (&b.downs), ==, 1);
  test_gate_open (&a->gate);

  set_link ("up");
  test_iterate_until (a_is_peer, b.node);
  g_assert_cmpint (g_atomic_int_get (&b.ups), ==, 2);
  again = gen_node_remote_for_name (b.node, peer, "counter", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (remote_get (again, NULL), ==, 0);

  g_clear_error (&node_down.reason);
  g_clear_error (&remote_down.reason);
  g_clear_object (&again);
  g_clear_object (&counter);
  node_b_clear (&b);
  node_thread_stop (a);
}

/* test-node --serve-node ADDRESS [CERTDIR]: node "a" for the binding
 * suites, with the counter registered as "counter": prints the address it
 * listens on, then serves until its standard input closes. */
static int
serve_node (const gchar *address,
            const gchar *certs)
{
  g_autoptr(GIOChannel) in = g_io_channel_unix_new (0);
  g_autofree gchar *rest = NULL;
  NodeThread *a;

  a = node_thread_start (NULL, address, certs, TEST_TICK_TIME_MS);
  g_print ("%s\n", a->address);
  fflush (stdout);
  g_io_channel_read_to_end (in, &rest, NULL, NULL);
  node_thread_stop (a);
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  if (argc >= 3 && g_str_equal (argv[1], "--serve-node"))
    return serve_node (argv[2], argc >= 4 ? argv[3] : NULL);

  g_test_init (&argc, &argv, NULL);
  if (!g_test_subprocess ())
    netns_setup ();

  g_test_add_func ("/node/addresses", test_bad_addresses);
  g_test_add_func ("/node/no-tls-backend", test_no_tls_backend);
  g_test_add_func ("/node/listener/bounded", test_listener_bounded);
  g_test_add_func ("/node/connect/refused", test_connect_refused);
  g_test_add ("/node/connect/silent-peer", SilentConnect, NULL, silent_connect_set_up,
              test_connect_silent_peer, silent_connect_tear_down);
  g_test_add ("/node/connect/node-closed", SilentConnect, NULL, silent_connect_set_up,
              test_connect_node_closed, silent_connect_tear_down);
  g_test_add_func ("/node/unix/across", test_unix_across);
  g_test_add_func ("/node/tls/across", test_tls_across);
  g_test_add_func ("/node/tls/refused", test_tls_refused);
  g_test_add_func ("/node/tls/silent-peers", test_tls_silent_peers);
  g_test_add_func ("/node/tls/casts-in-order", test_tls_casts_in_order);
  g_test_add_func ("/node/tls/link-cut", test_tls_link_cut);

  return g_test_run ();
}
