/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdio.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <genserver/genserver.h>

#include "test-common.h"

/* Servers exported on D-Bus and reached through GenRemote: every test runs
 * twice, on a private message bus (GTestDBus) and peer-to-peer over a unix
 * socket in a temporary directory. The server side (the GenDBusListener,
 * the service's connection, the export) lives on a thread of its own running a
 * main loop, as a service process would; the test thread is the client.
 *
 * Run as `test-remote --serve ADDRESS` or `test-remote --serve-bus ADDRESS`,
 * the program is instead a service of its own, for the two-process tests
 * (here and in the Python and GJS suites). */

#define TEST_OBJECT_PATH "/io/github/genserver/Test/Counter"
#define TEST_BUS_NAME "io.github.genserver.Test"

/* This program, to run again as a service. */
static const gchar *self_path;

/* A counter speaking (sx) requests. */
struct _RemoteCounter
{
  GenServer parent_instance;

  gint64 count; /* server thread */
  TestGate gate; /* "block" waits at it; `infos` is under its lock */
  guint infos;
};

G_DECLARE_FINAL_TYPE (RemoteCounter, remote_counter, REMOTE, COUNTER, GenServer)
G_DEFINE_TYPE (RemoteCounter, remote_counter, GEN_TYPE_SERVER)

static void
remote_counter_init_server (GenServer  *server,
                            GVariant   *args,
                            GError    **error)
{
  REMOTE_COUNTER (server)->count = 0;
}

static void
remote_counter_handle_cast (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  RemoteCounter *self = REMOTE_COUNTER (server);
  const gchar *command;
  gint64 arg;

  g_variant_get (message, "(&sx)", &command, &arg);
  if (g_str_equal (command, "add"))
    self->count += arg;
}

static GVariant *
remote_counter_handle_call (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  RemoteCounter *self = REMOTE_COUNTER (server);
  const gchar *command;
  gint64 arg;

  g_variant_get (message, "(&sx)", &command, &arg);
  if (g_str_equal (command, "add"))
    self->count += arg;
  else if (g_str_equal (command, "block"))
    test_gate_pass (&self->gate);
  else if (g_str_equal (command, "fail-io"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "denied on purpose");
      return NULL;
    }
  else if (g_str_equal (command, "fail-gen"))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NAME_TAKEN, "taken on purpose");
      return NULL;
    }
  else if (g_str_equal (command, "maybe"))
    return g_variant_new_maybe (G_VARIANT_TYPE_INT64, NULL);
  else if (g_str_equal (command, "maybe-in-variant"))
    return g_variant_new_variant (g_variant_new_maybe (G_VARIANT_TYPE_INT64, NULL));

  return g_variant_new_int64 (self->count);
}

static void
remote_counter_handle_info (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  RemoteCounter *self = REMOTE_COUNTER (server);

  g_mutex_lock (&self->gate.lock);
  self->infos++;
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);
}

static void
remote_counter_finalize (GObject *object)
{
  test_gate_clear (&REMOTE_COUNTER (object)->gate);
  G_OBJECT_CLASS (remote_counter_parent_class)->finalize (object);
}

static void
remote_counter_class_init (RemoteCounterClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = remote_counter_finalize;
  server_class->init = remote_counter_init_server;
  server_class->handle_cast = remote_counter_handle_cast;
  server_class->handle_call = remote_counter_handle_call;
  server_class->handle_info = remote_counter_handle_info;
  gen_server_class_set_cast_type (server_class, "(sx)");
  gen_server_class_set_call_type (server_class, "(sx)");
}

static void
remote_counter_init (RemoteCounter *self)
{
  test_gate_init (&self->gate);
}

/* A server of no declared types. */
G_DECLARE_FINAL_TYPE (RemoteEcho, remote_echo, REMOTE, ECHO, GenServer)

struct _RemoteEcho
{
  GenServer parent_instance;
};

G_DEFINE_TYPE (RemoteEcho, remote_echo, GEN_TYPE_SERVER)

/* A tuple of @n int32s: a type string of @n + 2 bytes. */
static GVariant *
remote_echo_wide (guint n)
{
  g_autofree GVariant **items = g_new (GVariant *, n);

  for (guint i = 0; i < n; i++)
    items[i] = g_variant_new_int32 ((gint32) i);
  return g_variant_new_tuple (items, n);
}

/* A uint32 asks for remote_echo_wide() of it; anything else comes back. */
static GVariant *
remote_echo_handle_call (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  if (g_variant_is_of_type (message, G_VARIANT_TYPE_UINT32))
    return remote_echo_wide (g_variant_get_uint32 (message));
  return g_variant_ref (message);
}

static void
remote_echo_class_init (RemoteEchoClass *klass)
{
  GEN_SERVER_CLASS (klass)->handle_call = remote_echo_handle_call;
}

static void
remote_echo_init (RemoteEcho *self)
{
}

/* The service's thread ----------------------------------------------------- */

typedef struct
{
  gboolean p2p;
  GTestDBus *bus;
  gchar *tmpdir;
  gchar *bus_name; /* NULL peer-to-peer */

  GMainContext *context; /* the service's */
  GMainLoop *loop;
  GThread *thread;

  GMutex lock;
  GCond cond;
  guint done; /* lock: functions run on the service's thread */

  /* The service's thread only, once set up. */
  GenDBusListener *listener;
  GDBusConnection *service; /* the bus connection, or the accepted peer */
  guint64 max_message_size;
  guint64 max_pending_bytes;
  gint max_timeout_ms;

  GenRegistry *registry; /* owned, once a test makes one */

  /* The test thread. */
  RemoteCounter *server;
  GenServer *echo;       /* owned, once a test makes one */
  GDBusConnection *client;
  GenRemote *remote;
} Fixture;

typedef void (*FixtureFunc) (Fixture *f);

typedef struct
{
  Fixture *f;
  FixtureFunc func;
} ServiceWork;

static gpointer
service_thread (gpointer data)
{
  Fixture *f = data;

  g_main_context_push_thread_default (f->context);
  g_main_loop_run (f->loop);
  /* What GDBus still has to hand back (registrations' data, ...). */
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

static gboolean
service_work_cb (gpointer data)
{
  ServiceWork *work = data;
  Fixture *f = work->f;

  work->func (f);
  g_mutex_lock (&f->lock);
  f->done++;
  g_cond_broadcast (&f->cond);
  g_mutex_unlock (&f->lock);
  return G_SOURCE_REMOVE;
}

/* Runs @func on the service's thread and waits for it. */
static void
on_service (Fixture     *f,
            FixtureFunc  func)
{
  ServiceWork work = { f, func };
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;
  GSource *source = g_idle_source_new ();
  guint target;

  g_mutex_lock (&f->lock);
  target = f->done + 1;
  g_mutex_unlock (&f->lock);

  g_source_set_callback (source, service_work_cb, &work, NULL);
  g_source_attach (source, f->context);
  g_source_unref (source);

  g_mutex_lock (&f->lock);
  while (f->done < target)
    if (!g_cond_wait_until (&f->cond, &f->lock, deadline))
      g_error ("the service's thread did not answer");
  g_mutex_unlock (&f->lock);
}

static void
service_export (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_server_export_with_limits (GEN_SERVER (f->server), f->service,
                                                TEST_OBJECT_PATH, f->max_message_size,
                                                f->max_pending_bytes, f->max_timeout_ms, &error));
  g_assert_no_error (error);
}

static void
new_connection_cb (GenDBusListener *listener,
                   GDBusConnection *connection,
                   gpointer         data)
{
  Fixture *f = data;

  /* Exported with the test's bounds before the first message is read. */
  g_clear_object (&f->service);
  f->service = g_object_ref (connection);
  service_export (f);
}

static void
service_set_up (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  if (f->p2p)
    {
      g_autofree gchar *address = g_strdup_printf ("unix:path=%s/socket", f->tmpdir);

      f->listener = gen_dbus_listener_new (address, NULL, &error);
      g_assert_no_error (error);
      g_signal_connect (f->listener, "new-connection", G_CALLBACK (new_connection_cb), f);
    }
  else
    {
      g_autoptr(GVariant) reply = NULL;

      f->service = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (f->bus),
                                                           G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                           G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                           NULL, NULL, &error);
      g_assert_no_error (error);
      reply = g_dbus_connection_call_sync (f->service, "org.freedesktop.DBus",
                                           "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                           "RequestName", g_variant_new ("(su)", TEST_BUS_NAME, 4),
                                           G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                           NULL, &error);
      g_assert_no_error (error);
      service_export (f);
    }
}

static void
service_tear_down (Fixture *f)
{
  if (f->service != NULL)
    {
      gen_server_unexport (GEN_SERVER (f->server), f->service);
      g_dbus_connection_close_sync (f->service, NULL, NULL);
      g_clear_object (&f->service);
    }
  if (f->listener != NULL)
    {
      gen_dbus_listener_close (f->listener);
      g_clear_object (&f->listener);
    }
}

static void
service_close (Fixture *f)
{
  g_dbus_connection_close_sync (f->service, NULL, NULL);
}

static void
service_export_again (Fixture *f)
{
  service_export (f);
}

static void
service_unexport (Fixture *f)
{
  g_assert_true (gen_server_unexport (GEN_SERVER (f->server), f->service));
  g_assert_false (gen_server_unexport (GEN_SERVER (f->server), f->service));
}

static GDBusConnection *
client_connect (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection;

  if (f->p2p)
    connection = g_dbus_connection_new_for_address_sync (gen_dbus_listener_get_client_address (f->listener),
                                                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                         NULL, NULL, &error);
  else
    connection = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (f->bus),
                                                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                         G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                         NULL, NULL, &error);
  g_assert_no_error (error);
  return connection;
}

/* The bounds of a fixture's export and of its server's mailbox. */
typedef struct
{
  guint64 max_message_size;
  guint64 max_pending_bytes;
  gint max_timeout_ms;
  guint capacity;
  GenMailboxPolicy policy;
} Limits;

#define DEFAULT_LIMITS { GEN_DBUS_DEFAULT_MAX_MESSAGE_SIZE, GEN_DBUS_DEFAULT_MAX_PENDING_BYTES, \
                         GEN_DBUS_DEFAULT_MAX_TIMEOUT, 0, GEN_MAILBOX_POLICY_FAIL }

static void
fixture_set_up_with (Fixture       *f,
                     gconstpointer  data,
                     const Limits  *limits)
{
  g_autoptr(GError) error = NULL;

  f->p2p = GPOINTER_TO_INT (data);
  f->max_message_size = limits->max_message_size;
  f->max_pending_bytes = limits->max_pending_bytes;
  f->max_timeout_ms = limits->max_timeout_ms;
  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);

  if (f->p2p)
    {
      f->tmpdir = g_dir_make_tmp ("genserver-remote-XXXXXX", &error);
      g_assert_no_error (error);
    }
  else
    {
      f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
      g_test_dbus_up (f->bus);
      f->bus_name = g_strdup (TEST_BUS_NAME);
    }

  f->server = test_start_ok (g_object_new (remote_counter_get_type (),
                                           "mailbox-capacity", limits->capacity,
                                           "mailbox-policy", limits->policy,
                                           NULL), NULL);

  f->context = g_main_context_new ();
  f->loop = g_main_loop_new (f->context, FALSE);
  f->thread = g_thread_new ("service", service_thread, f);
  on_service (f, service_set_up);

  f->client = client_connect (f);
  f->remote = gen_remote_new_sync (f->client, f->bus_name, TEST_OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->remote);
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  const Limits limits = DEFAULT_LIMITS;

  fixture_set_up_with (f, data, &limits);
}

static gboolean
quit_loop_cb (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  GSource *quit;

  g_clear_object (&f->remote);
  if (f->client != NULL)
    g_dbus_connection_close_sync (f->client, NULL, NULL);
  g_clear_object (&f->client);

  /* Whatever a test left blocked goes on, so that the server can stop. */
  test_gate_open (&f->server->gate);
  on_service (f, service_tear_down);
  if (gen_server_is_running (GEN_SERVER (f->server)))
    test_stop_ok (f->server);
  g_clear_object (&f->server);

  quit = g_idle_source_new ();
  g_source_set_callback (quit, quit_loop_cb, f->loop, NULL);
  g_source_attach (quit, f->context);
  g_source_unref (quit);
  g_thread_join (f->thread);
  g_main_loop_unref (f->loop);
  g_main_context_unref (f->context);

  /* The client's connection hands its last notices to this context. */
  while (g_main_context_iteration (NULL, FALSE))
    ;

  if (f->bus != NULL)
    {
      g_test_dbus_down (f->bus);
      g_clear_object (&f->bus);
    }
  if (f->tmpdir != NULL)
    {
      g_autofree gchar *socket = g_build_filename (f->tmpdir, "socket", NULL);

      g_unlink (socket);
      g_rmdir (f->tmpdir);
      g_free (f->tmpdir);
    }
  g_free (f->bus_name);
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->cond);
}

/* Helpers on the test thread ------------------------------------------------ */

static gint64
remote_call_ok (GenRemote   *remote,
                const gchar *command,
                gint64       arg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = gen_remote_call (remote, test_message (command, arg), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (reply, G_VARIANT_TYPE_INT64));
  return g_variant_get_int64 (reply);
}

/* Iterates the test thread's default context until *@flag is set, failing
 * the test at the deadline. */
static void
iterate_until (gboolean *flag)
{
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;

  while (!*flag)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("nothing happened within %d s", (int) (TEST_DEADLINE_US / G_USEC_PER_SEC));
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

/* A raw D-Bus call to the exported object, past any check of GenRemote. */
static GVariant *
raw_call (Fixture      *f,
          const gchar  *method,
          GVariant     *parameters,
          GError      **error)
{
  return g_dbus_connection_call_sync (f->client, f->bus_name, TEST_OBJECT_PATH,
                                      GEN_DBUS_INTERFACE, method, parameters, NULL,
                                      G_DBUS_CALL_FLAGS_NONE, TEST_CALL_TIMEOUT_MS, NULL, error);
}

typedef struct
{
  gboolean done;
  GVariant *reply;
  GError *error;
} AsyncResult;

static void
remote_call_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  AsyncResult *async = data;

  async->reply = gen_remote_call_finish (GEN_REMOTE (source), result, &async->error);
  async->done = TRUE;
}

typedef struct
{
  gboolean fired;
  GenRemote *remote;
  GError *reason;
} MonitorNotice;

static void
monitor_cb (GenRemote    *remote,
            const GError *reason,
            gpointer      data)
{
  MonitorNotice *notice = data;

  g_assert_false (notice->fired);
  notice->fired = TRUE;
  notice->remote = remote;
  notice->reason = reason ? g_error_copy (reason) : NULL;
}

/* Tests ------------------------------------------------------------------- */

static void
test_call_and_cast (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  AsyncResult async = { 0 };

  g_assert_cmpstr (gen_remote_get_name (f->remote), ==, "RemoteCounter");
  g_assert_cmpstr (gen_remote_get_object_path (f->remote), ==, TEST_OBJECT_PATH);
  g_assert_cmpstr (gen_remote_get_bus_name (f->remote), ==, f->bus_name);
  g_assert_true (gen_remote_get_connection (f->remote) == f->client);

  g_assert_cmpint (remote_call_ok (f->remote, "add", 2), ==, 2);

  /* Casts and calls from one thread are handled in the order sent. */
  for (gint i = 0; i < 10; i++)
    {
      g_assert_true (gen_remote_cast (f->remote, test_message ("add", 1), &error));
      g_assert_no_error (error);
    }
  g_assert_cmpint (remote_call_ok (f->remote, "get", 0), ==, 12);

  gen_remote_call_async (f->remote, test_message ("add", 3), TEST_CALL_TIMEOUT_MS, NULL,
                         remote_call_cb, &async);
  g_assert_false (async.done);
  iterate_until (&async.done);
  g_assert_no_error (async.error);
  g_assert_cmpint (g_variant_get_int64 (async.reply), ==, 15);
  g_variant_unref (async.reply);
}

static void
test_info (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  /* Info has no typed variant and no GenRemote call: reached raw. */
  reply = raw_call (f, "Info", g_variant_new ("(v)", g_variant_new_string ("hello")), &error);
  g_assert_no_error (error);
  test_gate_wait_for (&f->server->gate, &f->server->infos, 1);
}

static void
test_types (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_cmpstr (gen_remote_get_cast_type (f->remote), ==, "(sx)");
  g_assert_cmpstr (gen_remote_get_call_type (f->remote), ==, "(sx)");

  /* Refused in the caller, with the local message. */
  reply = gen_remote_call (f->remote, g_variant_new ("(ss)", "add", "1"), -1, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  reply = gen_server_call (GEN_SERVER (f->server), g_variant_new ("(ss)", "add", "1"), -1,
                           &local_error);
  g_assert_cmpstr (error->message, ==, local_error->message);
  g_clear_error (&error);

  g_assert_false (gen_remote_cast (f->remote, g_variant_new_string ("add"), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  /* D-Bus has no maybe types: refused before they are sent. */
  g_assert_false (gen_remote_cast (f->remote, g_variant_new_maybe (G_VARIANT_TYPE_INT32, NULL),
                                   &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  /* And checked again on arrival, for callers that are not GenRemote. */
  reply = raw_call (f, "Call", g_variant_new ("(vi)", g_variant_new_string ("add"), -1), &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_true (g_dbus_error_is_remote_error (error));
  g_clear_error (&error);
  reply = raw_call (f, "Cast", g_variant_new ("(v)", g_variant_new_int32 (1)), &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  /* A reply D-Bus cannot carry is an error, not a warning or a hang. */
  reply = gen_remote_call (f->remote, test_message ("maybe", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  /* Also when the maybe hides in a variant, whose content's type the
   * reply's type ("v") does not show. */
  reply = gen_remote_call (f->remote, test_message ("maybe-in-variant", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  g_assert_cmpint (remote_call_ok (f->remote, "get", 0), ==, 0);
}

static void
test_errors (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = gen_remote_call (f->remote, test_message ("fail-io", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_cmpstr (error->message, ==, "denied on purpose");
  g_clear_error (&error);

  reply = gen_remote_call (f->remote, test_message ("fail-gen", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NAME_TAKEN);
  g_assert_cmpstr (error->message, ==, "taken on purpose");
  g_clear_error (&error);

  /* The server went on. */
  g_assert_cmpint (remote_call_ok (f->remote, "add", 1), ==, 1);
}

static void
test_malformed (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = raw_call (f, "NoSuchMethod", NULL, &error);
  g_assert_null (reply);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD);
  g_clear_error (&error);

  reply = raw_call (f, "Call", g_variant_new ("(s)", "add"), &error);
  g_assert_null (reply);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  reply = raw_call (f, "Cast", g_variant_new ("(vi)", test_message ("add", 1), 1), &error);
  g_assert_null (reply);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  g_assert_cmpint (remote_call_ok (f->remote, "get", 0), ==, 0);
}

static void
set_up_limited (Fixture       *f,
                gconstpointer  data)
{
  Limits limits = DEFAULT_LIMITS;

  limits.max_message_size = 1024;
  fixture_set_up_with (f, data, &limits);
}

static void
test_size_limit (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree gchar *big = g_strnfill (2000, 'x');
  GVariant *message = g_variant_ref_sink (g_variant_new ("(sx)", big, (gint64) 0));

  /* Refused in the caller, which read the limit... */
  reply = gen_remote_call (f->remote, message, TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_false (gen_remote_cast (f->remote, message, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  /* ...and on arrival. */
  reply = raw_call (f, "Call", g_variant_new ("(vi)", message, -1), &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_variant_unref (message);

  g_assert_cmpint (remote_call_ok (f->remote, "add", 1), ==, 1);
}

static void
test_cast_flood (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  const gint n_casts = 2000;

  for (gint i = 0; i < n_casts; i++)
    if (!gen_remote_cast (f->remote, test_message ("add", 1), &error))
      g_error ("cast %d: %s", i, error->message);

  /* Behind every cast, however long they take (valgrind): no timeout. */
  reply = gen_remote_call (f->remote, test_message ("get", 0), -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (reply), ==, n_casts);
}

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  AsyncResult blocker = { 0 };

  gen_remote_call_async (f->remote, test_message ("block", 0), -1, NULL, remote_call_cb, &blocker);
  test_gate_wait_for (&f->server->gate, &f->server->gate.blocked, 1);

  /* The caller gives up: the server's late answer is dropped. */
  reply = gen_remote_call (f->remote, test_message ("add", 1), 100, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&error);

  /* The timeout travels with the request: one still queued when it runs
   * out is never handled. This raw caller waits for the server's answer
   * rather than timing out itself. */
  reply = g_dbus_connection_call_sync (f->client, f->bus_name, TEST_OBJECT_PATH,
                                       GEN_DBUS_INTERFACE, "Call",
                                       g_variant_new ("(vi)", test_message ("add", 1), 100),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, G_MAXINT, NULL, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&error);

  test_gate_open (&f->server->gate);
  iterate_until (&blocker.done);
  g_assert_no_error (blocker.error);
  g_assert_cmpint (g_variant_get_int64 (blocker.reply), ==, 0);
  g_variant_unref (blocker.reply);
  /* Neither add ran. */
  g_assert_cmpint (remote_call_ok (f->remote, "get", 0), ==, 0);
}

static void
test_stopped_server (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_cmpint (remote_call_ok (f->remote, "add", 5), ==, 5);
  test_stop_ok (f->server);

  reply = gen_remote_call (f->remote, test_message ("get", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&error);

  /* Reached again once started again. */
  test_start_ok (f->server, NULL);
  g_assert_cmpint (remote_call_ok (f->remote, "add", 1), ==, 1);
}

static void
test_unexport (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GenRemote) missing = NULL;

  on_service (f, service_unexport);
  reply = gen_remote_call (f->remote, test_message ("get", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&error);

  missing = gen_remote_new_sync (f->client, f->bus_name, TEST_OBJECT_PATH, NULL, &error);
  g_assert_null (missing);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  on_service (f, service_export_again);
  g_assert_cmpint (remote_call_ok (f->remote, "add", 1), ==, 1);
}

static void
test_unexport_pending (Fixture       *f,
                       gconstpointer  data)
{
  AsyncResult blocked = { 0 }, queued = { 0 };

  /* One call in the handler, one queued behind it: both answered when the
   * export ends, and the queued one is never handled. */
  gen_remote_call_async (f->remote, test_message ("block", 0), -1, NULL, remote_call_cb, &blocked);
  test_gate_wait_for (&f->server->gate, &f->server->gate.blocked, 1);
  gen_remote_call_async (f->remote, test_message ("add", 1), -1, NULL, remote_call_cb, &queued);
  test_wait_until ((TestPredicate) test_mailbox_has,
                   &(TestMailbox) { GEN_SERVER (f->server), 1 });

  on_service (f, service_unexport);
  iterate_until (&blocked.done);
  iterate_until (&queued.done);
  g_assert_error (blocked.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);
  g_assert_error (queued.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);
  g_clear_error (&blocked.error);
  g_clear_error (&queued.error);

  test_gate_open (&f->server->gate);
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GVariant) reply = gen_server_call (GEN_SERVER (f->server), test_message ("get", 0),
                                                 TEST_CALL_TIMEOUT_MS, &error);

    g_assert_no_error (error);
    g_assert_cmpint (g_variant_get_int64 (reply), ==, 0);
  }
}

static void
service_export_twice (Fixture *f)
{
  g_autoptr(RemoteCounter) other = g_object_new (remote_counter_get_type (), NULL);
  g_autoptr(GError) error = NULL;

  /* Once per connection... */
  g_assert_false (gen_server_export (GEN_SERVER (f->server), f->service, "/elsewhere", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);

  /* ...and a running server keeps its path. */
  test_start_ok (other, NULL);
  g_assert_false (gen_server_export (GEN_SERVER (other), f->service, TEST_OBJECT_PATH, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  test_stop_ok (other);
}

/* A stopped server's path is taken over by a new instance (as a supervisor
 * starts after a crash); a finalized server is unexported. */
static void
service_replace (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  test_stop_ok (f->server);
  g_clear_object (&f->server);
  f->server = test_start_ok (g_object_new (remote_counter_get_type (), NULL), NULL);
  service_export (f);
}

static void
service_finalize (Fixture *f)
{
  test_stop_ok (f->server);
  g_clear_object (&f->server);
}

static gboolean
remote_is_gone (gpointer data)
{
  Fixture *f = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GenRemote) remote = gen_remote_new_sync (f->client, f->bus_name, TEST_OBJECT_PATH,
                                                     NULL, &error);

  return remote == NULL && g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
}

static void
test_export_rules (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GenRemote) again = NULL;
  g_autoptr(RemoteCounter) old = g_object_ref (f->server);

  on_service (f, service_export_twice);
  g_assert_cmpint (remote_call_ok (f->remote, "add", 7), ==, 7);

  on_service (f, service_replace);
  g_assert_cmpint (remote_call_ok (f->remote, "get", 0), ==, 0);
  g_clear_object (&old);

  /* Unexported when finalized, by the time the last unref returned. */
  on_service (f, service_finalize);
  g_assert_true (remote_is_gone (f));
  reply = gen_remote_call (f->remote, test_message ("get", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&error);
  again = gen_remote_new_sync (f->client, f->bus_name, TEST_OBJECT_PATH, NULL, &error);
  g_assert_null (again);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* For the tear-down. */
  f->server = g_object_new (remote_counter_get_type (), NULL);
}

/* A peer sees an exported server gone the moment its stop() and the last
 * unref returned, on whatever thread (or pool worker) ran its last
 * handler: the object path answers as one nobody exports. Many times
 * over, the server kept busy so that the stop waits for its thread. */
static void
test_unexported_on_stop (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  test_stop_ok (f->server);
  for (guint round = 0; round < 50; round++)
    {
      g_clear_object (&f->server);
      f->server = test_start_ok (g_object_new (remote_counter_get_type (), NULL), NULL);
      on_service (f, service_export);
      g_assert_cmpint (remote_call_ok (f->remote, "add", 1), ==, 1);

      for (guint i = 0; i < 20; i++)
        g_assert_true (gen_server_cast (GEN_SERVER (f->server), test_message ("add", 1), &error));
      g_assert_no_error (error);
      test_stop_ok (f->server);
      g_clear_object (&f->server);

      g_assert_true (remote_is_gone (f));
    }

  /* For the tear-down. */
  f->server = g_object_new (remote_counter_get_type (), NULL);
}

static void
test_monitor_stop (Fixture       *f,
                   gconstpointer  data)
{
  MonitorNotice normal = { 0 }, crash = { 0 }, noproc = { 0 }, removed = { 0 };
  g_autoptr(GError) reason = g_error_new (G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "broken on purpose");
  g_autoptr(GError) error = NULL;
  guint id;

  gen_remote_monitor (f->remote, monitor_cb, &normal, NULL);
  id = gen_remote_monitor (f->remote, monitor_cb, &removed, NULL);
  g_assert_true (gen_remote_demonitor (f->remote, id));
  g_assert_false (gen_remote_demonitor (f->remote, id));
  /* The answer to the monitor's question whether the server runs. */
  g_assert_cmpint (remote_call_ok (f->remote, "get", 0), ==, 0);

  test_stop_ok (f->server);
  iterate_until (&normal.fired);
  g_assert_true (normal.remote == f->remote);
  g_assert_no_error (normal.reason);

  /* Not running: told at once, like Erlang's noproc. */
  gen_remote_monitor (f->remote, monitor_cb, &noproc, NULL);
  iterate_until (&noproc.fired);
  g_assert_error (noproc.reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&noproc.reason);

  /* A restarted server is watched again, and the reason travels. */
  test_start_ok (f->server, NULL);
  gen_remote_monitor (f->remote, monitor_cb, &crash, NULL);
  g_assert_cmpint (remote_call_ok (f->remote, "get", 0), ==, 0);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*RemoteCounter crashed: broken on purpose*");
  g_assert_true (gen_server_stop_with_reason (GEN_SERVER (f->server), reason, -1, &error));
  g_assert_no_error (error);
  g_test_assert_expected_messages ();
  iterate_until (&crash.fired);
  g_assert_error (crash.reason, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_assert_cmpstr (crash.reason->message, ==, "broken on purpose");
  g_clear_error (&crash.reason);

  g_assert_false (removed.fired);
}

static gboolean
server_blocked (gpointer data)
{
  RemoteCounter *server = data;

  return test_gate_get (&server->gate, &server->gate.blocked) > 0;
}

static void
test_peer_vanishes (Fixture       *f,
                    gconstpointer  data)
{
  MonitorNotice notice = { 0 }, late = { 0 };
  AsyncResult async = { 0 };
  g_autoptr(GError) error = NULL;

  gen_remote_monitor (f->remote, monitor_cb, &notice, NULL);
  gen_remote_call_async (f->remote, test_message ("block", 0), -1, NULL, remote_call_cb, &async);
  test_wait_until (server_blocked, f->server);

  /* The service goes away in the middle of the call. */
  on_service (f, service_close);
  iterate_until (&async.done);
  g_assert_null (async.reply);
  g_assert_error (async.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION);
  g_assert_true (g_str_has_prefix (async.error->message, "noconnection"));
  g_clear_error (&async.error);

  iterate_until (&notice.fired);
  g_assert_error (notice.reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION);
  g_assert_true (g_str_has_prefix (notice.reason->message, "noconnection"));
  g_clear_error (&notice.reason);

  /* Gone for good: a new monitor is told at once. */
  gen_remote_monitor (f->remote, monitor_cb, &late, NULL);
  iterate_until (&late.fired);
  g_assert_error (late.reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION);
  g_clear_error (&late.reason);

  /* The handler finishes; its reply goes nowhere, and the server goes on. */
  test_gate_open (&f->server->gate);
  {
    g_autoptr(GVariant) reply = gen_server_call (GEN_SERVER (f->server), test_message ("get", 0),
                                                 TEST_CALL_TIMEOUT_MS, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_variant_get_int64 (reply), ==, 0);
  }

  if (f->p2p)
    {
      g_assert_false (gen_remote_cast (f->remote, test_message ("add", 1), &error));
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION);
      g_clear_error (&error);
    }
}

static void
test_not_found (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GenRemote) remote = NULL;

  remote = gen_remote_new_sync (f->client, f->bus_name, "/nothing/here", NULL, &error);
  g_assert_null (remote);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  if (!f->p2p)
    {
      remote = gen_remote_new_sync (f->client, "io.github.genserver.Nobody", TEST_OBJECT_PATH,
                                    NULL, &error);
      g_assert_null (remote);
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
    }
}

static void
service_export_registry (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  f->registry = gen_registry_new ();
  g_assert_true (gen_registry_register (f->registry, "counter/one", GEN_SERVER (f->server),
                                        &error));
  g_assert_no_error (error);
  g_assert_true (gen_registry_export (f->registry, f->service, "/io/github/genserver/Test/Names",
                                      &error));
  g_assert_no_error (error);
  g_assert_false (gen_registry_export (f->registry, f->service, "/elsewhere", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
}

static void
service_register_again (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  test_start_ok (f->server, NULL);
  g_assert_true (gen_registry_register (f->registry, "counter/one", GEN_SERVER (f->server),
                                        &error));
  g_assert_no_error (error);
}

static void
service_unexport_registry (Fixture *f)
{
  g_assert_true (gen_registry_unexport (f->registry, f->service));
  g_assert_false (gen_registry_unexport (f->registry, f->service));
  g_clear_object (&f->registry);
}

static void
test_registry (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GenRemote) named = NULL;
  g_autoptr(GenRemote) nobody = NULL;
  g_autoptr(GVariant) reply = NULL;
  MonitorNotice notice = { 0 };

  on_service (f, service_export_registry);
  named = gen_remote_new_for_name (f->client, f->bus_name, "/io/github/genserver/Test/Names",
                                   "counter/one", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (gen_remote_get_call_type (named), ==, "(sx)");
  g_assert_cmpint (remote_call_ok (named, "add", 2), ==, 2);
  g_assert_true (gen_remote_cast (named, test_message ("add", 1), &error));
  g_assert_cmpint (remote_call_ok (named, "get", 0), ==, 3);

  nobody = gen_remote_new_for_name (f->client, f->bus_name, "/io/github/genserver/Test/Names",
                                    "nobody", NULL, &error);
  g_assert_null (nobody);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* The name's server stops: its monitors hear of it, and the name is free. */
  gen_remote_monitor (named, monitor_cb, &notice, NULL);
  g_assert_cmpint (remote_call_ok (named, "get", 0), ==, 3);
  test_stop_ok (f->server);
  iterate_until (&notice.fired);
  g_assert_no_error (notice.reason);
  reply = gen_remote_call (named, test_message ("get", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&error);

  /* The name registered again is reached through the same remote. */
  on_service (f, service_register_again);
  g_assert_cmpint (remote_call_ok (named, "add", 5), ==, 5);

  on_service (f, service_unexport_registry);
  reply = gen_remote_call (named, test_message ("get", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
}

/* Two processes: this program as the service --------------------------------- */

static gpointer
watch_stdin (gpointer data)
{
  gchar buffer[64];

  /* The parent closing our stdin, or dying, ends the service. */
  while (read (STDIN_FILENO, buffer, sizeof buffer) > 0)
    ;
  _exit (0);
  return NULL;
}

static int
serve (const gchar *mode,
       const gchar *address)
{
  g_autoptr(RemoteCounter) server = NULL;
  g_autoptr(GenDBusListener) listener = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;

  server = test_start_ok (g_object_new (remote_counter_get_type (), NULL), NULL);

  if (g_str_equal (mode, "--serve"))
    {
      listener = gen_dbus_listener_new (address, NULL, &error);
      if (listener == NULL ||
          !gen_dbus_listener_export (listener, GEN_SERVER (server), TEST_OBJECT_PATH, &error))
        g_error ("cannot serve: %s", error->message);
    }
  else
    {
      g_autoptr(GVariant) reply = NULL;

      bus = g_dbus_connection_new_for_address_sync (address,
                                                    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                    G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                    NULL, NULL, &error);
      if (bus == NULL ||
          !gen_server_export (GEN_SERVER (server), bus, TEST_OBJECT_PATH, &error))
        g_error ("cannot export: %s", error->message);
      reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                           "org.freedesktop.DBus", "RequestName",
                                           g_variant_new ("(su)", TEST_BUS_NAME, 4),
                                           G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                           NULL, &error);
      if (reply == NULL)
        g_error ("cannot own the name: %s", error->message);
    }

  g_thread_unref (g_thread_new ("stdin", watch_stdin, NULL));
  printf ("ready\n");
  fflush (stdout);
  g_main_loop_run (loop);
  return 0;
}

typedef struct
{
  GSubprocess *process;
  GDBusConnection *connection;
  GenRemote *remote;
} Service;

static void
service_spawn (Service     *service,
               const gchar *mode,
               const gchar *address,
               const gchar *client_address,
               const gchar *bus_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree gchar *line = NULL;
  GDBusConnectionFlags flags = G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT;

  service->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                                       &error, self_path, mode, address, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (service->process));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "ready");

  if (bus_name != NULL)
    flags |= G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION;
  service->connection = g_dbus_connection_new_for_address_sync (client_address, flags,
                                                                NULL, NULL, &error);
  g_assert_no_error (error);
  service->remote = gen_remote_new_sync (service->connection, bus_name, TEST_OBJECT_PATH,
                                         NULL, &error);
  g_assert_no_error (error);
}

static void
service_check_and_kill (Service *service)
{
  MonitorNotice notice = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (gen_remote_get_name (service->remote), ==, "RemoteCounter");
  g_assert_true (gen_remote_cast (service->remote, test_message ("add", 2), &error));
  g_assert_no_error (error);
  g_assert_cmpint (remote_call_ok (service->remote, "add", 1), ==, 3);

  gen_remote_monitor (service->remote, monitor_cb, &notice, NULL);
  g_assert_cmpint (remote_call_ok (service->remote, "get", 0), ==, 3);
  g_subprocess_force_exit (service->process);
  iterate_until (&notice.fired);
  g_assert_error (notice.reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION);
  g_assert_true (g_str_has_prefix (notice.reason->message, "noconnection"));
  g_clear_error (&notice.reason);

  g_assert_true (g_subprocess_wait (service->process, NULL, NULL));
  g_clear_object (&service->remote);
  g_dbus_connection_close_sync (service->connection, NULL, NULL);
  g_clear_object (&service->connection);
  g_clear_object (&service->process);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
test_two_processes_p2p (void)
{
  g_auto(TestSocketDir) socket_dir = test_socket_dir_make ("socket");
  Service service = { 0 };

  service_spawn (&service, "--serve", socket_dir.address, socket_dir.address, NULL);
  service_check_and_kill (&service);
}

static void
test_two_processes_bus (void)
{
  g_autoptr(GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  Service service = { 0 };

  g_test_dbus_up (bus);
  service_spawn (&service, "--serve-bus", g_test_dbus_get_bus_address (bus),
                 g_test_dbus_get_bus_address (bus), TEST_BUS_NAME);
  service_check_and_kill (&service);
  g_test_dbus_down (bus);
}

/* Admission ---------------------------------------------------------------- */

typedef struct
{
  gboolean done;
  GDBusConnection *connection;
} Connecting;

static void
connected_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Connecting *connecting = data;

  connecting->connection = g_dbus_connection_new_for_address_finish (result, NULL);
  connecting->done = TRUE;
}

/* Whether a client gets through a GDBusServer at @address that uses an
 * observer made with @uid (G_MAXUINT: the default) and @allow_cookie_sha1. */
static gboolean
admitted (const gchar *address,
          guint        uid,
          gboolean     allow_cookie_sha1)
{
  g_autoptr(GDBusAuthObserver) observer = NULL;
  g_autoptr(GDBusServer) dbus_server = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *guid = g_dbus_generate_guid ();
  Connecting result = { 0 };

  observer = uid == G_MAXUINT ? gen_dbus_auth_observer_new (NULL, 0, allow_cookie_sha1)
                              : gen_dbus_auth_observer_new (&uid, 1, allow_cookie_sha1);
  dbus_server = g_dbus_server_new_sync (address, G_DBUS_SERVER_FLAGS_NONE, guid, observer,
                                        NULL, &error);
  g_assert_no_error (error);
  g_dbus_server_start (dbus_server);

  /* Asynchronous: the server authenticates on this thread's context. */
  g_dbus_connection_new_for_address (g_dbus_server_get_client_address (dbus_server),
                                     G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                     NULL, NULL, connected_cb, &result);
  iterate_until (&result.done);
  connection = result.connection;
  g_dbus_server_stop (dbus_server);
  if (connection != NULL)
    g_dbus_connection_close_sync (connection, NULL, NULL);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return connection != NULL;
}

static void
test_admission (void)
{
  g_auto(TestSocketDir) socket_dir = test_socket_dir_make ("socket");

  g_assert_true (admitted (socket_dir.address, G_MAXUINT, FALSE));
  g_unlink (socket_dir.path);
  g_assert_true (admitted (socket_dir.address, (guint) getuid (), FALSE));
  g_unlink (socket_dir.path);
  g_assert_false (admitted (socket_dir.address, (guint) getuid () + 1, FALSE));

  /* TCP, on the loopback: only with the cookie, when asked for. */
  g_assert_false (admitted ("tcp:host=127.0.0.1,port=0", G_MAXUINT, FALSE));
  g_assert_true (admitted ("tcp:host=127.0.0.1,port=0", G_MAXUINT, TRUE));
}

/* What a peer can do to the exporting process ------------------------------ */

static void
set_up_block_mailbox (Fixture       *f,
                      gconstpointer  data)
{
  Limits limits = DEFAULT_LIMITS;

  limits.capacity = 1;
  limits.policy = GEN_MAILBOX_POLICY_BLOCK;
  fixture_set_up_with (f, data, &limits);
}

static void
set_up_fail_mailbox (Fixture       *f,
                     gconstpointer  data)
{
  Limits limits = DEFAULT_LIMITS;

  limits.capacity = 1;
  limits.policy = GEN_MAILBOX_POLICY_FAIL;
  fixture_set_up_with (f, data, &limits);
}

static void
set_up_few_pending (Fixture       *f,
                    gconstpointer  data)
{
  Limits limits = DEFAULT_LIMITS;

  /* Room for one (sx) call of 16 bytes and three int32 infos:
   * 16 + 3 × 4 + 4 × GEN_DBUS_MESSAGE_OVERHEAD = 1052, not for a fifth. */
  limits.max_pending_bytes = 1200;
  fixture_set_up_with (f, data, &limits);
}

static void
set_up_short_timeout (Fixture       *f,
                      gconstpointer  data)
{
  Limits limits = DEFAULT_LIMITS;

  limits.max_timeout_ms = 100;
  fixture_set_up_with (f, data, &limits);
}

/* One counter of gen_server_get_status(), as "casts" or "casts-refused". */
static guint64
status_counter (GenServer   *server,
                const gchar *key)
{
  g_autoptr(GVariant) status = gen_server_get_status (server);
  guint64 count = 0;

  g_assert_true (g_variant_lookup (status, key, "t", &count));
  return count;
}

static gboolean
local_cast_handled (gpointer server)
{
  return status_counter (server, "casts") >= 1;
}

/* The CastsRefused property, as any peer reads it. */
static guint64
remote_casts_refused (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) value = NULL;

  reply = g_dbus_connection_call_sync (f->client, f->bus_name, TEST_OBJECT_PATH,
                                       "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", GEN_DBUS_INTERFACE, "CastsRefused"),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE,
                                       TEST_CALL_TIMEOUT_MS, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  return g_variant_get_uint64 (value);
}

/* The server's handler holds a remote call and one local cast fills its
 * mailbox (capacity 1) behind it. */
static void
fill_mailbox (Fixture     *f,
              AsyncResult *blocked)
{
  g_autoptr(GError) error = NULL;

  gen_remote_call_async (f->remote, test_message ("block", 0), -1, NULL, remote_call_cb, blocked);
  test_gate_wait_for (&f->server->gate, &f->server->gate.blocked, 1);
  g_assert_true (gen_server_cast (GEN_SERVER (f->server), test_message ("add", 1), &error));
  g_assert_no_error (error);
}

static void
test_full_mailbox (Fixture       *f,
                   gconstpointer  data)
{
  AsyncResult blocked = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  fill_mailbox (f, &blocked);

  /* Plain casts to the full mailbox: under BLOCK, the service's context
   * used to wait for room here, and everything it serves with it. */
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (gen_remote_cast (f->remote, test_message ("add", 10), &error));
      g_assert_no_error (error);
    }

  /* The service answers at once: a cast with acknowledgement and a call
   * are told the mailbox is full, whatever its policy. */
  g_assert_false (gen_remote_cast_checked (f->remote, test_message ("add", 100),
                                           TEST_CALL_TIMEOUT_MS, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL);
  g_clear_error (&error);
  reply = gen_remote_call (f->remote, test_message ("get", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL);
  g_clear_error (&error);

  /* D-Bus keeps one sender's order: the plain casts were refused before
   * the checked one, and each refusal is counted, seen from both sides. */
  g_assert_cmpuint (status_counter (GEN_SERVER (f->server), "casts-refused"), ==, 4);
  g_assert_cmpuint (remote_casts_refused (f), ==, 4);

  test_gate_open (&f->server->gate);
  iterate_until (&blocked.done);
  g_assert_no_error (blocked.error);
  g_clear_pointer (&blocked.reply, g_variant_unref);
  /* The cast that filled the mailbox holds its place until a handler
   * takes it, which can come after the blocked call's reply. */
  test_wait_until (local_cast_handled, f->server);
  g_assert_cmpint (remote_call_ok (f->remote, "get", 0), ==, 1);
}

static guint
infos_handled (RemoteCounter *server)
{
  return test_gate_get (&server->gate, &server->infos);
}

static void
test_pending_bound (Fixture       *f,
                    gconstpointer  data)
{
  AsyncResult blocked = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  /* One call held by the handler and three infos queued behind it: the
   * export's bound. The mailbox is unbounded, and infos never count
   * against a capacity anyway. */
  gen_remote_call_async (f->remote, test_message ("block", 0), -1, NULL, remote_call_cb, &blocked);
  test_gate_wait_for (&f->server->gate, &f->server->gate.blocked, 1);
  for (gint i = 0; i < 3; i++)
    {
      g_clear_pointer (&reply, g_variant_unref);
      reply = raw_call (f, "Info", g_variant_new ("(v)", g_variant_new_int32 (i)), &error);
      g_assert_no_error (error);
    }

  g_clear_pointer (&reply, g_variant_unref);
  reply = raw_call (f, "Info", g_variant_new ("(v)", g_variant_new_int32 (3)), &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL);
  g_clear_error (&error);
  g_assert_null (gen_remote_call (f->remote, test_message ("get", 0), TEST_CALL_TIMEOUT_MS, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL);
  g_clear_error (&error);
  g_assert_false (gen_remote_cast_checked (f->remote, test_message ("add", 1),
                                           TEST_CALL_TIMEOUT_MS, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL);
  g_clear_error (&error);
  g_assert_cmpuint (status_counter (GEN_SERVER (f->server), "casts-refused"), ==, 1);

  /* Handled messages count out: the peer is served again. */
  test_gate_open (&f->server->gate);
  iterate_until (&blocked.done);
  g_assert_no_error (blocked.error);
  g_clear_pointer (&blocked.reply, g_variant_unref);
  g_assert_cmpint (remote_call_ok (f->remote, "get", 0), ==, 0);
  g_assert_cmpuint (infos_handled (f->server), ==, 3);
  g_clear_pointer (&reply, g_variant_unref);
  reply = raw_call (f, "Info", g_variant_new ("(v)", g_variant_new_int32 (4)), &error);
  g_assert_no_error (error);
}

static void
test_timeout_capped (Fixture       *f,
                     gconstpointer  data)
{
  AsyncResult forever = { 0 };

  /* The peer asks to wait forever; the export allows 100 ms. */
  gen_remote_call_async (f->remote, test_message ("block", 0), -1, NULL, remote_call_cb, &forever);
  iterate_until (&forever.done);
  g_assert_null (forever.reply);
  g_assert_error (forever.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&forever.error);
}


#define ECHO_OBJECT_PATH "/io/github/genserver/Test/Echo"

static void
service_export_echo (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_server_export (f->echo, f->service, ECHO_OBJECT_PATH, &error));
  g_assert_no_error (error);
}

static void
service_unexport_echo (Fixture *f)
{
  g_assert_true (gen_server_unexport (f->echo, f->service));
}

/* @n containers of @kind ('a', '(' or 'v') around an int32. */
static GVariant *
nested (gchar kind,
        guint n)
{
  GVariant *value = g_variant_new_int32 (7);

  for (guint i = 0; i < n; i++)
    if (kind == 'a')
      value = g_variant_new_array (NULL, &value, 1);
    else if (kind == '(')
      value = g_variant_new_tuple (&value, 1);
    else
      value = g_variant_new_variant (value);
  return value;
}

/* Sends @message to the echo server: it comes back the same if @carried,
 * else the caller refuses it, and the connection is fine either way. */
static void
assert_echo (GenRemote *echo,
             GVariant  *message,
             gboolean   carried)
{
  g_autoptr(GVariant) owned = g_variant_ref_sink (message);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = gen_remote_call (echo, owned, TEST_CALL_TIMEOUT_MS, &error);
  if (carried)
    {
      g_assert_no_error (error);
      g_assert_true (g_variant_equal (reply, owned));
    }
  else
    {
      g_assert_null (reply);
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
      g_assert_nonnull (strstr (error->message, "cannot travel over D-Bus"));
      g_clear_error (&error);
      g_assert_false (gen_remote_cast (echo, owned, &error));
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
      g_clear_error (&error);
    }

  g_clear_pointer (&reply, g_variant_unref);
  reply = gen_remote_call (echo, g_variant_new_int32 (1), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (reply), ==, 1);
}

/* D-Bus's limits on what it carries are checked before a message or a
 * reply is sent: past them GDBus writes it all the same, and the bus
 * daemon disconnects the sender, or the peer cannot read it and drops the
 * connection. */
static void
test_wire_limits (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GenRemote) echo = NULL;
  g_autoptr(GVariant) reply = NULL;

  f->echo = test_start_ok (g_object_new (remote_echo_get_type (), NULL), NULL);
  on_service (f, service_export_echo);
  echo = gen_remote_new_sync (f->client, f->bus_name, ECHO_OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);

  assert_echo (echo, g_variant_new ("(si)", "a", 1), TRUE);
  assert_echo (echo, g_variant_new ("()"), FALSE);
  assert_echo (echo, g_variant_new ("{si}", "a", 1), FALSE);
  assert_echo (echo, g_variant_new ("a{si}", NULL), TRUE);
  assert_echo (echo, nested ('a', 32), TRUE);
  assert_echo (echo, nested ('a', 33), FALSE);
  assert_echo (echo, nested ('(', 32), TRUE);
  assert_echo (echo, nested ('(', 33), FALSE);
  /* With the variant that carries the message, 64 deep. */
  assert_echo (echo, nested ('v', 63), TRUE);
  assert_echo (echo, nested ('v', 64), FALSE);
  assert_echo (echo, nested ('v', 2), TRUE);
  assert_echo (echo, g_variant_new_variant (nested ('a', 33)), FALSE);
  assert_echo (echo, g_variant_new_variant (g_variant_new ("{si}", "a", 1)), FALSE);
  /* A type string of 255 bytes, and one of 256. */
  assert_echo (echo, remote_echo_wide (253), TRUE);
  assert_echo (echo, remote_echo_wide (254), FALSE);
  assert_echo (echo, g_variant_new_variant (remote_echo_wide (254)), FALSE);

  /* A reply is checked by the export before it is sent. */
  reply = gen_remote_call (echo, g_variant_new_uint32 (253), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (reply), ==, 253);
  g_clear_pointer (&reply, g_variant_unref);
  reply = gen_remote_call (echo, g_variant_new_uint32 (254), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "a reply of type"));
  g_clear_error (&error);
  assert_echo (echo, g_variant_new_int32 (2), TRUE);

  on_service (f, service_unexport_echo);
  test_stop_ok (f->echo);
  g_clear_object (&f->echo);
}

static void
add_both (const gchar *name,
          void (*set_up) (Fixture *, gconstpointer),
          void (*test) (Fixture *, gconstpointer))
{
  g_autofree gchar *bus_path = g_strdup_printf ("/remote/bus/%s", name);
  g_autofree gchar *p2p_path = g_strdup_printf ("/remote/p2p/%s", name);

  g_test_add (bus_path, Fixture, GINT_TO_POINTER (FALSE), set_up, test, fixture_tear_down);
  g_test_add (p2p_path, Fixture, GINT_TO_POINTER (TRUE), set_up, test, fixture_tear_down);
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 3 && (g_str_equal (argv[1], "--serve") || g_str_equal (argv[1], "--serve-bus")))
    return serve (argv[1], argv[2]);

  self_path = argv[0];
  g_test_init (&argc, &argv, NULL);

  add_both ("call-and-cast", fixture_set_up, test_call_and_cast);
  add_both ("info", fixture_set_up, test_info);
  add_both ("types", fixture_set_up, test_types);
  add_both ("wire-limits", fixture_set_up, test_wire_limits);
  add_both ("errors", fixture_set_up, test_errors);
  add_both ("malformed", fixture_set_up, test_malformed);
  add_both ("size-limit", set_up_limited, test_size_limit);
  add_both ("cast-flood", fixture_set_up, test_cast_flood);
  add_both ("timeout", fixture_set_up, test_timeout);
  add_both ("not-running", fixture_set_up, test_stopped_server);
  add_both ("unexport", fixture_set_up, test_unexport);
  add_both ("unexport-pending", fixture_set_up, test_unexport_pending);
  add_both ("export-rules", fixture_set_up, test_export_rules);
  add_both ("unexported-on-stop", fixture_set_up, test_unexported_on_stop);
  add_both ("monitor-stop", fixture_set_up, test_monitor_stop);
  add_both ("peer-vanishes", fixture_set_up, test_peer_vanishes);
  add_both ("not-found", fixture_set_up, test_not_found);
  add_both ("registry", fixture_set_up, test_registry);
  add_both ("full-mailbox/block", set_up_block_mailbox, test_full_mailbox);
  add_both ("full-mailbox/fail", set_up_fail_mailbox, test_full_mailbox);
  add_both ("pending-bound", set_up_few_pending, test_pending_bound);
  add_both ("timeout-capped", set_up_short_timeout, test_timeout_capped);
  g_test_add_func ("/remote/admission", test_admission);
  g_test_add_func ("/remote/two-processes/p2p", test_two_processes_p2p);
  g_test_add_func ("/remote/two-processes/bus", test_two_processes_bus);

  return g_test_run ();
}
