/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The observer's D-Bus interface, from C: a supervision tree in this
 * process, exported on a private bus, looked at through a second
 * connection, as another process would.
 */

#include <unistd.h>

#include <glib/gstdio.h>

#include <genserver/genserver.h>

#include "../test-common.h"

#include "obs-counter.h"

/* A server whose state D-Bus cannot carry: a tuple of 254 int32s, a type
 * string of 256 bytes. */
G_DECLARE_FINAL_TYPE (ObsWide, obs_wide, OBS, WIDE, GenServer)

struct _ObsWide
{
  GenServer parent_instance;
};

G_DEFINE_TYPE (ObsWide, obs_wide, GEN_TYPE_SERVER)

static GVariant *
obs_wide_format_status (GenServer *server)
{
  GVariant *items[254];

  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    items[i] = g_variant_new_int32 ((gint32) i);
  return g_variant_new_tuple (items, G_N_ELEMENTS (items));
}

static void
obs_wide_class_init (ObsWideClass *klass)
{
  GEN_SERVER_CLASS (klass)->format_status = obs_wide_format_status;
}

static void
obs_wide_init (ObsWide *self)
{
}

typedef struct
{
  GTestDBus *bus;
  GDBusConnection *service; /* the observed side */
  GDBusConnection *client;  /* the observer's, another connection */
  GenSupervisor *root;      /* root → alpha (named "alpha"), beta, sub → gamma */
  GenServer *lonely;        /* not supervised */
} Fixture;

static GDBusConnection *
connect_to (const gchar *address)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection =
    g_dbus_connection_new_for_address_sync (address,
                                            G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                            G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                            NULL, NULL, &error);

  g_assert_no_error (error);
  return connection;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  GenChildSpec *sub_children[1];
  GenChildSpec *children[3];
  g_autoptr(GError) error = NULL;

  f->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (f->bus);
  f->service = connect_to (g_test_dbus_get_bus_address (f->bus));
  f->client = connect_to (g_test_dbus_get_bus_address (f->bus));

  sub_children[0] = gen_child_spec_new ("gamma", OBS_TYPE_COUNTER, NULL);
  children[0] = gen_child_spec_new ("alpha", OBS_TYPE_COUNTER, NULL);
  gen_child_spec_set_name (children[0], "alpha");
  children[1] = gen_child_spec_new ("beta", OBS_TYPE_COUNTER, NULL);
  children[2] = gen_child_spec_new ("sub", GEN_TYPE_SUPERVISOR, gen_supervisor_build_args (sub_children, 1));
  f->root = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3, 5000);
  test_start_ok (f->root, gen_supervisor_build_args (children, 3));
  for (guint i = 0; i < 3; i++)
    gen_child_spec_unref (children[i]);
  gen_child_spec_unref (sub_children[0]);

  f->lonely = test_start_ok (g_object_new (OBS_TYPE_COUNTER, NULL), NULL);

  g_assert_true (gen_observer_export (f->service, &error));
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  gen_observer_unexport (f->service);
  test_stop_ok (f->lonely);
  test_stop_ok (f->root);
  g_clear_object (&f->lonely);
  g_clear_object (&f->root);
  g_dbus_connection_close_sync (f->client, NULL, NULL);
  g_dbus_connection_close_sync (f->service, NULL, NULL);
  g_clear_object (&f->client);
  g_clear_object (&f->service);
  g_test_dbus_down (f->bus);
  g_clear_object (&f->bus);
}

static GVariant *
observer_call (Fixture            *f,
               const gchar        *method,
               GVariant           *parameters,
               const GVariantType *reply_type,
               GError            **error)
{
  return g_dbus_connection_call_sync (f->client, g_dbus_connection_get_unique_name (f->service),
                                      GEN_OBSERVER_OBJECT_PATH, GEN_OBSERVER_INTERFACE, method,
                                      parameters, reply_type, G_DBUS_CALL_FLAGS_NONE,
                                      TEST_CALL_TIMEOUT_MS, NULL, error);
}

static GVariant *
observer_call_ok (Fixture            *f,
                  const gchar        *method,
                  GVariant           *parameters,
                  const GVariantType *reply_type)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply = observer_call (f, method, parameters, reply_type, &error);

  g_assert_no_error (error);
  return reply;
}

/* The entry of ListServers that @key names (a registered name, or a child
 * id), or NULL; and the number of entries. */
static GVariant *
find_server (Fixture     *f,
             const gchar *key,
             guint       *n_servers)
{
  g_autoptr(GVariant) reply = observer_call_ok (f, "ListServers", NULL, G_VARIANT_TYPE ("(aa{sv})"));
  g_autoptr(GVariant) list = g_variant_get_child_value (reply, 0);
  GVariant *found = NULL;

  if (n_servers != NULL)
    *n_servers = g_variant_n_children (list);
  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (list, i);
      const gchar *name = NULL, *child_id = NULL;

      g_variant_lookup (entry, "name", "&s", &name);
      g_variant_lookup (entry, "child-id", "&s", &child_id);
      if (g_strcmp0 (name, key) == 0 || g_strcmp0 (child_id, key) == 0)
        {
          g_assert_null (found);
          found = g_variant_ref (entry);
        }
    }
  return found;
}

static guint64
id_of (Fixture     *f,
       const gchar *key)
{
  g_autoptr(GVariant) entry = find_server (f, key, NULL);
  guint64 id = 0;

  g_assert_nonnull (entry);
  g_assert_true (g_variant_lookup (entry, "id", "t", &id));
  return id;
}

static guint64
lookup_u64 (GVariant    *dict,
            const gchar *key)
{
  guint64 value = 0;

  g_assert_true (g_variant_lookup (dict, key, "t", &value));
  return value;
}

static void
test_list_and_trees (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GVariant) alpha = NULL;
  g_autoptr(GVariant) gamma = NULL;
  g_autoptr(GVariant) sub = NULL;
  g_autoptr(GVariant) process = NULL;
  g_autoptr(GVariant) dict = NULL;
  guint64 root_id = 0, lonely_id = 0;
  const gchar *text;
  guint n = 0;
  guint32 pid = 0, n_servers = 0;

  alpha = find_server (f, "alpha", &n);
  sub = find_server (f, "sub", NULL);
  gamma = find_server (f, "gamma", NULL);
  g_assert_nonnull (alpha);
  g_assert_nonnull (sub);
  g_assert_nonnull (gamma);
  /* root, alpha, beta, sub, gamma, lonely: servers of other tests are gone. */
  g_assert_cmpuint (n, ==, 6);

  g_assert_true (g_variant_lookup (alpha, "type", "&s", &text));
  g_assert_cmpstr (text, ==, "ObsCounter");
  g_assert_true (g_variant_lookup (alpha, "status", "&s", &text));
  g_assert_cmpstr (text, ==, "running");
  g_assert_true (g_variant_lookup (alpha, "scheduler", "&s", &text));
  g_assert_cmpstr (text, ==, g_strcmp0 (g_getenv ("GEN_SCHEDULER"), "pool") == 0 ? "pool" : "thread");
  g_assert_true (g_variant_lookup (sub, "type", "&s", &text));
  g_assert_cmpstr (text, ==, "GenSupervisor");

  /* The trees: gamma under sub, sub and alpha under the root, which is
   * under nobody; lonely is a root too. */
  g_assert_cmpuint (lookup_u64 (gamma, "supervisor"), ==, lookup_u64 (sub, "id"));
  root_id = lookup_u64 (sub, "supervisor");
  g_assert_cmpuint (lookup_u64 (alpha, "supervisor"), ==, root_id);
  {
    g_autoptr(GVariant) reply = observer_call_ok (f, "ListServers", NULL, G_VARIANT_TYPE ("(aa{sv})"));
    g_autoptr(GVariant) list = g_variant_get_child_value (reply, 0);
    guint roots = 0;

    for (gsize i = 0; i < g_variant_n_children (list); i++)
      {
        g_autoptr(GVariant) entry = g_variant_get_child_value (list, i);

        if (!g_variant_lookup (entry, "supervisor", "t", NULL))
          {
            roots++;
            if (lookup_u64 (entry, "id") != root_id)
              lonely_id = lookup_u64 (entry, "id");
          }
      }
    g_assert_cmpuint (roots, ==, 2);
    g_assert_cmpuint (lonely_id, >, root_id);
  }

  process = observer_call_ok (f, "GetProcess", NULL, G_VARIANT_TYPE ("(a{sv})"));
  dict = g_variant_get_child_value (process, 0);
  g_assert_true (g_variant_lookup (dict, "pid", "u", &pid));
  g_assert_cmpuint (pid, ==, (guint32) getpid ());
  g_assert_true (g_variant_lookup (dict, "servers", "u", &n_servers));
  g_assert_cmpuint (n_servers, ==, 6);
}

/* Counters for rates: what was handled, against the process's clock. */
static void
test_counters (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GenServer) alpha = gen_registry_lookup (gen_registry_get_default (), "alpha");
  g_autoptr(GVariant) first = NULL;
  g_autoptr(GVariant) second = NULL;
  g_autoptr(GVariant) count = NULL;
  guint64 id = id_of (f, "alpha");
  gint64 first_us, second_us;
  gboolean seen = FALSE;

  for (guint i = 0; i < 10; i++)
    g_assert_true (gen_server_cast (alpha, g_variant_new_string ("add"), NULL));
  /* The call is handled after the casts: then all ten are counted. */
  count = gen_server_call (alpha, g_variant_new_string ("get"), TEST_CALL_TIMEOUT_MS, NULL);
  g_assert_cmpint (g_variant_get_int32 (count), ==, 10);

  first = observer_call_ok (f, "GetCounters", NULL, G_VARIANT_TYPE ("(xa(tuttt))"));
  second = observer_call_ok (f, "GetCounters", NULL, G_VARIANT_TYPE ("(xa(tuttt))"));
  g_variant_get_child (first, 0, "x", &first_us);
  g_variant_get_child (second, 0, "x", &second_us);
  g_assert_cmpint (second_us, >=, first_us);

  {
    g_autoptr(GVariantIter) iter = NULL;
    guint64 server_id, casts, calls, infos;
    guint32 mailbox;

    g_variant_get (second, "(xa(tuttt))", NULL, &iter);
    while (g_variant_iter_next (iter, "(tuttt)", &server_id, &mailbox, &casts, &calls, &infos))
      if (server_id == id)
        {
          g_assert_cmpuint (casts, ==, 10);
          g_assert_cmpuint (calls, ==, 1);
          g_assert_cmpuint (mailbox, ==, 0);
          seen = TRUE;
        }
  }
  g_assert_true (seen);
}

static void
test_status (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GenServer) alpha = gen_registry_lookup (gen_registry_get_default (), "alpha");
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) state = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *text;
  gint counted = -1;

  gen_server_cast (alpha, g_variant_new_string ("add"), NULL);
  g_clear_pointer (&reply, g_variant_unref);
  reply = gen_server_call (alpha, g_variant_new_string ("get"), TEST_CALL_TIMEOUT_MS, NULL);
  g_clear_pointer (&reply, g_variant_unref);

  reply = observer_call_ok (f, "GetStatus", g_variant_new ("(t)", id_of (f, "alpha")), G_VARIANT_TYPE ("(a{sv})"));
  status = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (status, "name", "&s", &text));
  g_assert_cmpstr (text, ==, "alpha");
  g_assert_true (g_variant_lookup (status, "type", "&s", &text));
  g_assert_cmpstr (text, ==, "ObsCounter");
  g_assert_true (g_variant_lookup (status, "status", "&s", &text));
  g_assert_cmpstr (text, ==, "running");
  g_assert_cmpuint (lookup_u64 (status, "casts"), ==, 1);
  state = g_variant_lookup_value (status, "state", G_VARIANT_TYPE ("(si)"));
  g_assert_nonnull (state);
  g_variant_get (state, "(&si)", &text, &counted);
  g_assert_cmpstr (text, ==, "counted");
  g_assert_cmpint (counted, ==, 1);
  g_assert_true (g_variant_lookup (status, "state-text", "&s", &text));
  g_assert_cmpstr (text, ==, "('counted', 1)");

  /* A server that is gone, or never was. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = observer_call (f, "GetStatus", g_variant_new ("(t)", G_MAXUINT64), NULL, &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT);
  g_assert_null (reply);
}

/* A state that D-Bus cannot carry travels as state-text only: sent as it
 * is, it would get the observed process disconnected from the bus. */
static void
test_status_beyond_dbus (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GenServer) wide = test_start_ok (g_object_new (obs_wide_get_type (), NULL), NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GError) error = NULL;
  const gchar *text;

  g_assert_true (gen_registry_register (gen_registry_get_default (), "wide", wide, &error));
  g_assert_no_error (error);

  reply = observer_call_ok (f, "GetStatus", g_variant_new ("(t)", id_of (f, "wide")),
                            G_VARIANT_TYPE ("(a{sv})"));
  status = g_variant_get_child_value (reply, 0);
  g_assert_false (g_variant_lookup (status, "state", "v", NULL));
  g_assert_true (g_variant_lookup (status, "state-text", "&s", &text));
  g_assert_true (g_str_has_prefix (text, "(0, 1, 2, "));

  /* The observed side is still on the bus. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = observer_call_ok (f, "GetStatus", g_variant_new ("(t)", id_of (f, "alpha")),
                            G_VARIANT_TYPE ("(a{sv})"));

  test_stop_ok (wide);
}

static const gchar *
status_of (Fixture     *f,
           const gchar *key,
           guint32     *mailbox)
{
  g_autoptr(GVariant) entry = find_server (f, key, NULL);
  const gchar *status = NULL;

  g_assert_true (g_variant_lookup (entry, "mailbox-length", "u", mailbox));
  g_assert_true (g_variant_lookup (entry, "status", "&s", &status));
  return g_intern_string (status);
}

static void
test_suspend_resume (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GenServer) alpha = gen_registry_lookup (gen_registry_get_default (), "alpha");
  g_autoptr(GVariant) reply = NULL;
  guint64 id = id_of (f, "alpha");
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;
  guint32 mailbox = 0;

  reply = observer_call_ok (f, "Suspend", g_variant_new ("(t)", id), NULL);
  g_assert_cmpstr (gen_server_get_run_status (alpha), ==, "suspended");
  for (guint i = 0; i < 3; i++)
    gen_server_cast (alpha, g_variant_new_string ("add"), NULL);
  g_assert_cmpstr (status_of (f, "alpha", &mailbox), ==, "suspended");
  g_assert_cmpuint (mailbox, ==, 3);

  g_clear_pointer (&reply, g_variant_unref);
  reply = observer_call_ok (f, "Resume", g_variant_new ("(t)", id), NULL);
  while (g_strcmp0 (status_of (f, "alpha", &mailbox), "running") != 0 || mailbox != 0)
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
}

typedef struct
{
  guint64 id;
  GPtrArray *texts; /* "kind text" of the records of `id` */
} TraceLog;

static void
on_trace (GDBusConnection *connection,
          const gchar     *sender,
          const gchar     *object_path,
          const gchar     *interface_name,
          const gchar     *signal_name,
          GVariant        *parameters,
          gpointer         user_data)
{
  TraceLog *log = user_data;
  const gchar *type, *kind, *text;
  guint64 id;
  gint64 handling_us;

  g_variant_get (parameters, "(t&s&s&sx)", &id, &type, &kind, &text, &handling_us);
  g_assert_cmpstr (type, ==, "ObsCounter");
  g_assert_cmpint (handling_us, >=, 0);
  if (id == log->id)
    g_ptr_array_add (log->texts, g_strdup_printf ("%s %s", kind, text));
}

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
test_trace (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(GenServer) alpha = gen_registry_lookup (gen_registry_get_default (), "alpha");
  g_autoptr(GenServer) beta = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) count = NULL;
  TraceLog log = { id_of (f, "alpha"), g_ptr_array_new_with_free_func (g_free) };
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;
  guint subscription, guard;

  subscription = g_dbus_connection_signal_subscribe (f->client, g_dbus_connection_get_unique_name (f->service),
                                                     GEN_OBSERVER_INTERFACE, "Trace", GEN_OBSERVER_OBJECT_PATH,
                                                     NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_trace, &log, NULL);
  reply = observer_call_ok (f, "SetTrace", g_variant_new ("(tb)", log.id, TRUE), NULL);
  g_assert_true (gen_server_get_trace (alpha));

  gen_server_cast (alpha, g_variant_new_string ("hello"), NULL);
  count = gen_server_call (alpha, g_variant_new_string ("get"), TEST_CALL_TIMEOUT_MS, NULL);
  /* The records come as signals, on this thread's main context. */
  guard = g_timeout_add (100, wake_up, NULL);
  while (log.texts->len < 3)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (guard);
  g_assert_cmpstr (log.texts->pdata[0], ==, "cast 'hello'");
  g_assert_cmpstr (log.texts->pdata[1], ==, "call 'get'");
  g_assert_cmpstr (log.texts->pdata[2], ==, "reply 1");

  g_clear_pointer (&reply, g_variant_unref);
  reply = observer_call_ok (f, "SetTrace", g_variant_new ("(tb)", log.id, FALSE), NULL);
  g_assert_false (gen_server_get_trace (alpha));

  g_dbus_connection_signal_unsubscribe (f->client, subscription);
  g_ptr_array_unref (log.texts);
}

/* The list holds its servers weakly: a server dropped is gone from it. */
static void
test_gone (Fixture       *f,
           gconstpointer  data)
{
  GenServer *server = g_object_new (OBS_TYPE_COUNTER, NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint n = 0;

  /* Listed made, before it ever starts. */
  g_assert_null (find_server (f, "no such name", &n));
  g_assert_cmpuint (n, ==, 7);
  g_object_unref (server);

  g_clear_pointer (&reply, g_variant_unref);
  reply = observer_call_ok (f, "ListServers", NULL, G_VARIANT_TYPE ("(aa{sv})"));
  {
    g_autoptr(GVariant) list = g_variant_get_child_value (reply, 0);

    g_assert_cmpuint (g_variant_n_children (list), ==, 6);
  }

  /* Exported twice on one connection: refused; unexported twice: once. */
  g_assert_false (gen_observer_export (f->service, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_true (gen_observer_unexport (f->service));
  g_assert_false (gen_observer_unexport (f->service));
  g_clear_error (&error);
  g_clear_pointer (&reply, g_variant_unref);
  reply = observer_call (f, "ListServers", NULL, NULL, &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD);
  g_assert_true (gen_observer_export (f->service, NULL));
}

/* Peer-to-peer, on a unix socket: the same interface, the same user. */
static void
test_listen (Fixture       *f,
             gconstpointer  data)
{
  g_autofree gchar *dir = g_dir_make_tmp ("genserver-observer-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "observer", NULL);
  g_autofree gchar *address = g_strconcat ("unix:path=", path, NULL);
  g_autoptr(GenDBusListener) listener = NULL;
  g_autoptr(GDBusConnection) peer = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;

  listener = gen_observer_listen (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (gen_dbus_listener_get_client_address (listener), ==, address);

  peer = g_dbus_connection_new_for_address_sync (address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                 NULL, NULL, &error);
  g_assert_no_error (error);
  reply = g_dbus_connection_call_sync (peer, NULL, GEN_OBSERVER_OBJECT_PATH, GEN_OBSERVER_INTERFACE,
                                       "ListServers", NULL, G_VARIANT_TYPE ("(aa{sv})"),
                                       G_DBUS_CALL_FLAGS_NONE, TEST_CALL_TIMEOUT_MS, NULL, &error);
  g_assert_no_error (error);
  list = g_variant_get_child_value (reply, 0);
  g_assert_cmpuint (g_variant_n_children (list), ==, 6);

  /* A peer gone is forgotten, whether or not anyone runs the default main
   * context where its connection says so: the bus and the second peer. */
  g_dbus_connection_close_sync (peer, NULL, NULL);
  g_clear_object (&peer);
  peer = g_dbus_connection_new_for_address_sync (address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                 NULL, NULL, &error);
  g_assert_no_error (error);
  for (;;)
    {
      g_autoptr(GVariant) process = g_dbus_connection_call_sync (peer, NULL, GEN_OBSERVER_OBJECT_PATH,
                                                                 GEN_OBSERVER_INTERFACE, "GetProcess", NULL,
                                                                 G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                                                 TEST_CALL_TIMEOUT_MS, NULL, &error);
      g_autoptr(GVariant) dict = NULL;
      guint32 observers = 0;

      g_assert_no_error (error);
      dict = g_variant_get_child_value (process, 0);
      g_assert_true (g_variant_lookup (dict, "observers", "u", &observers));
      g_assert_cmpuint (observers, >=, 2);
      if (observers == 2)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }

  g_dbus_connection_close_sync (peer, NULL, NULL);
  gen_dbus_listener_close (listener);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/observer/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("list-and-trees", test_list_and_trees);
  ADD ("counters", test_counters);
  ADD ("status", test_status);
  ADD ("status-beyond-dbus", test_status_beyond_dbus);
  ADD ("suspend-resume", test_suspend_resume);
  ADD ("trace", test_trace);
  ADD ("gone", test_gone);
  ADD ("listen", test_listen);
#undef ADD

  return g_test_run ();
}
