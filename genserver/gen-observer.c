/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The observer: a process's servers seen from another process, as
 * Erlang's observer sees a node. Two parts:
 *
 * the D-Bus interface io.github.genserver.Observer1, on the connections
 * the process opted in (gen_observer_export(), gen_observer_listen()),
 * over the live-server list of gen-live.c.
 *
 * Everything on D-Bus runs on one thread of the observer's own, around its
 * own main context: a program that never runs a main loop (a Python
 * script, a C program blocked in its work) still answers, and a slow
 * status request delays other observers, not the program.
 */

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "gen-observer.h"
#include "gen-core-private.h"
#include "gen-live-private.h"
#include "gen-dbus-private.h"
#include "gen-registry.h"
#include "gen-supervisor.h"


static const gchar *
scheduler_name (GenServer *server)
{
  if (gen_server_get_main_context (server) != NULL)
    return "main-context";
  if (gen_server_get_scheduler (server) != NULL)
    return "pool";
  return "thread";
}

/* Names in the default registry, server → name (both unowned: the
 * registry's names outlive the table, the servers are held by @live). */
static GHashTable *
registered_names (GStrv *names_out)
{
  GenRegistry *registry = gen_registry_get_default ();
  GHashTable *names = g_hash_table_new (NULL, NULL);
  g_auto(GStrv) all = gen_registry_dup_names (registry);

  for (guint i = 0; all[i] != NULL; i++)
    {
      g_autoptr(GenServer) server = gen_registry_lookup (registry, all[i]);

      /* A server alive with a name keeps the first one it got. */
      if (server != NULL && !g_hash_table_contains (names, server))
        g_hash_table_insert (names, server, all[i]);
    }
  *names_out = g_steal_pointer (&all);
  return names;
}

typedef struct
{
  guint64 supervisor;
  gchar *child_id; /* owned */
} Parent;

static void
parent_free (gpointer data)
{
  Parent *parent = data;

  g_free (parent->child_id);
  g_free (parent);
}

/* The supervision trees: child server → its Parent. Keys are only
 * compared; the ones that matter are servers of @live, which holds them. */
static GHashTable *
supervision (GArray *live)
{
  GHashTable *parents = g_hash_table_new_full (NULL, NULL, NULL, parent_free);

  for (guint i = 0; i < live->len; i++)
    {
      GenLiveServer *item = &g_array_index (live, GenLiveServer, i);
      g_auto(GStrv) ids = NULL;

      if (!GEN_IS_SUPERVISOR (item->server))
        continue;
      ids = gen_supervisor_dup_child_ids (GEN_SUPERVISOR (item->server));
      for (guint j = 0; ids[j] != NULL; j++)
        {
          g_autoptr(GenServer) child = gen_supervisor_get_child (GEN_SUPERVISOR (item->server), ids[j]);
          Parent *parent;

          if (child == NULL)
            continue;
          parent = g_new0 (Parent, 1);
          parent->supervisor = item->id;
          parent->child_id = g_strdup (ids[j]);
          g_hash_table_replace (parents, child, parent);
        }
    }
  return parents;
}

static GVariant *
list_servers (void)
{
  g_autoptr(GArray) live = gen_live_snapshot ();
  g_autoptr(GHashTable) parents = supervision (live);
  g_auto(GStrv) all_names = NULL;
  g_autoptr(GHashTable) names = registered_names (&all_names);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < live->len; i++)
    {
      GenLiveServer *item = &g_array_index (live, GenLiveServer, i);
      GenServer *server = GEN_SERVER (item->server);
      const gchar *name = g_hash_table_lookup (names, server);
      Parent *parent = g_hash_table_lookup (parents, server);
      GenCounters counters;

      gen_observe_get_counters (server, &counters);
      g_variant_builder_open (&builder, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&builder, "{sv}", "id", g_variant_new_uint64 (item->id));
      g_variant_builder_add (&builder, "{sv}", "type", g_variant_new_string (G_OBJECT_TYPE_NAME (server)));
      g_variant_builder_add (&builder, "{sv}", "name", g_variant_new_string (name != NULL ? name : ""));
      g_variant_builder_add (&builder, "{sv}", "scheduler", g_variant_new_string (scheduler_name (server)));
      g_variant_builder_add (&builder, "{sv}", "status", g_variant_new_string (gen_server_get_run_status (server)));
      g_variant_builder_add (&builder, "{sv}", "trace", g_variant_new_boolean (gen_server_get_trace (server)));
      g_variant_builder_add (&builder, "{sv}", "mailbox-length",
                             g_variant_new_uint32 (gen_server_get_mailbox_length (server)));
      g_variant_builder_add (&builder, "{sv}", "casts", g_variant_new_uint64 (counters.casts));
      g_variant_builder_add (&builder, "{sv}", "calls", g_variant_new_uint64 (counters.calls));
      g_variant_builder_add (&builder, "{sv}", "infos", g_variant_new_uint64 (counters.infos));
      g_variant_builder_add (&builder, "{sv}", "calls-timed-out", g_variant_new_uint64 (counters.calls_timed_out));
      if (parent != NULL)
        {
          g_variant_builder_add (&builder, "{sv}", "supervisor", g_variant_new_uint64 (parent->supervisor));
          g_variant_builder_add (&builder, "{sv}", "child-id", g_variant_new_string (parent->child_id));
        }
      g_variant_builder_close (&builder);
    }

  return g_variant_new ("(aa{sv})", &builder);
}

static GVariant *
get_counters (void)
{
  g_autoptr(GArray) live = gen_live_snapshot ();
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(tuttt)"));
  for (guint i = 0; i < live->len; i++)
    {
      GenLiveServer *item = &g_array_index (live, GenLiveServer, i);
      GenServer *server = GEN_SERVER (item->server);
      GenCounters counters;

      gen_observe_get_counters (server, &counters);
      g_variant_builder_add (&builder, "(tuttt)", item->id,
                             gen_server_get_mailbox_length (server),
                             counters.casts, counters.calls, counters.infos);
    }

  return g_variant_new ("(xa(tuttt))", g_get_monotonic_time (), &builder);
}

static GVariant *
get_status (GenServer *server,
            guint64    id)
{
  g_autoptr(GVariant) status = gen_server_get_status (server);
  g_autoptr(GVariant) boxed_state = g_variant_lookup_value (status, "state", G_VARIANT_TYPE_VARIANT);
  g_autoptr(GVariant) state = boxed_state != NULL ? g_variant_get_variant (boxed_state) : NULL;
  g_auto(GStrv) all_names = NULL;
  g_autoptr(GHashTable) names = registered_names (&all_names);
  const gchar *name = g_hash_table_lookup (names, server);
  GVariantBuilder builder;
  GVariantIter iter;
  const gchar *key;
  GVariant *value;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "id", g_variant_new_uint64 (id));
  g_variant_builder_add (&builder, "{sv}", "type", g_variant_new_string (G_OBJECT_TYPE_NAME (server)));
  g_variant_builder_add (&builder, "{sv}", "name", g_variant_new_string (name != NULL ? name : ""));
  g_variant_iter_init (&iter, status);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      if (strcmp (key, "state") != 0)
        g_variant_builder_add (&builder, "{sv}", key, value);
      /* Unboxed once, and only if D-Bus can carry it where it goes (in
       * the variant of an entry of the reply's array); state-text always
       * can. */
      else if (gen_dbus_wire_problem (state, 3) == NULL)
        g_variant_builder_add (&builder, "{sv}", key, state);
      g_variant_unref (value);
    }
  if (state != NULL)
    {
      g_autofree gchar *text = g_variant_print (state, TRUE);

      g_variant_builder_add (&builder, "{sv}", "state-text", g_variant_new_string (text));
    }

  return g_variant_new ("(a{sv})", &builder);
}

static guint prune_closed_exports (void);

static void
observer_method_call (GDBusConnection       *connection,
                      const gchar           *sender,
                      const gchar           *object_path,
                      const gchar           *interface_name,
                      const gchar           *method_name,
                      GVariant              *parameters,
                      GDBusMethodInvocation *invocation,
                      gpointer               user_data)
{
  g_autoptr(GenServer) server = NULL;
  guint64 id = 0;

  if (strcmp (method_name, "GetProcess") == 0)
    {
      GVariantBuilder builder;
      guint n = gen_live_count ();
      guint observers = prune_closed_exports ();

      g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&builder, "{sv}", "pid", g_variant_new_uint32 ((guint32) getpid ()));
      g_variant_builder_add (&builder, "{sv}", "program",
                             g_variant_new_string (g_get_prgname () != NULL ? g_get_prgname () : ""));
      g_variant_builder_add (&builder, "{sv}", "servers", g_variant_new_uint32 (n));
      g_variant_builder_add (&builder, "{sv}", "observers", g_variant_new_uint32 (observers));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(a{sv})", &builder));
      return;
    }
  if (strcmp (method_name, "ListServers") == 0)
    {
      g_dbus_method_invocation_return_value (invocation, list_servers ());
      return;
    }
  if (strcmp (method_name, "GetCounters") == 0)
    {
      g_dbus_method_invocation_return_value (invocation, get_counters ());
      return;
    }

  /* The rest name a server first. */
  g_variant_get_child (parameters, 0, "t", &id);
  server = gen_live_lookup (id);
  if (server == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT,
                                             "No server with id %" G_GUINT64_FORMAT " is alive", id);
      return;
    }

  if (strcmp (method_name, "GetStatus") == 0)
    g_dbus_method_invocation_return_value (invocation, get_status (server, id));
  else if (strcmp (method_name, "Suspend") == 0)
    {
      gen_server_suspend (server);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (strcmp (method_name, "Resume") == 0)
    {
      gen_server_resume (server);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (strcmp (method_name, "SetTrace") == 0)
    {
      gboolean trace = FALSE;

      g_variant_get_child (parameters, 1, "b", &trace);
      gen_server_set_trace (server, trace);
      g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else
    g_assert_not_reached (); /* GDBus checked the method against the XML */
}

static const GDBusInterfaceVTable observer_vtable = {
  .method_call = observer_method_call,
};

static GDBusInterfaceInfo *
observer_interface_info (void)
{
  static gsize info; /* GDBusInterfaceInfo */

  /* Kept for the life of the process, as GDBus keeps what it is given. */
  if (g_once_init_enter (&info))
    g_once_init_leave (&info, (gsize) gen_dbus_load_interface (GEN_OBSERVER_INTERFACE));
  return (GDBusInterfaceInfo *) info;
}

/* The observer's thread and its context, made by the first export and
 * kept for the life of the process, as GDBus keeps its worker. */
static GMainContext *observer_context;

/* Until the thread holds its context (pushing it takes it for good): no
 * caller may take it first, or the push fails. */
static GMutex observer_start_lock;
static GCond observer_start_cond;
static gboolean observer_context_held; /* observer_start_lock */

static gpointer
observer_thread_main (gpointer data)
{
  g_main_context_push_thread_default (observer_context);
  g_mutex_lock (&observer_start_lock);
  observer_context_held = TRUE;
  g_cond_broadcast (&observer_start_cond);
  g_mutex_unlock (&observer_start_lock);
  for (;;)
    g_main_context_iteration (observer_context, TRUE);
  return NULL;
}

static void
ensure_observer_thread (void)
{
  static gsize started;

  if (g_once_init_enter (&started))
    {
      observer_context = g_main_context_new ();
      /* Never joined: it serves the process's observers until exit. */
      g_thread_unref (g_thread_new ("gen-observer", observer_thread_main, NULL));
      g_mutex_lock (&observer_start_lock);
      while (!observer_context_held)
        g_cond_wait (&observer_start_cond, &observer_start_lock);
      g_mutex_unlock (&observer_start_lock);
      g_once_init_leave (&started, 1);
    }
}

/* Runs @func (@data) on the observer's thread, which holds its context
 * from the start, and waits for it. */
static void
run_on_observer_thread (GSourceFunc func,
                        gpointer    data)
{
  ensure_observer_thread ();
  gen_dbus_run_on_context (observer_context, func, data);
}

/* The connections the observer is exported on. `exports_lock` protects
 * `exports` (Export *, owned); `n_exports` (atomic) is its length, for the
 * trace hook's look without the lock. */
typedef struct
{
  GDBusConnection *connection; /* owned */
  guint registration_id;
} Export;

static GMutex exports_lock;
static GList *exports;
static gint n_exports;

/* The live list's trace sink: streams the record on every connection
 * exported. On the traced server's handler thread. */
static void
emit_trace (gpointer     server,
            guint64      id,
            const gchar *kind,
            const gchar *text,
            gint64       handling_us)
{
  g_autoptr(GPtrArray) connections = NULL;
  GVariant *parameters;

  if (g_atomic_int_get (&n_exports) == 0)
    return;

  connections = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_lock (&exports_lock);
  for (GList *l = exports; l != NULL; l = l->next)
    g_ptr_array_add (connections, g_object_ref (((Export *) l->data)->connection));
  g_mutex_unlock (&exports_lock);

  parameters = g_variant_ref_sink (g_variant_new ("(tsssx)", id,
                                                  G_OBJECT_TYPE_NAME (server), kind, text, handling_us));
  for (guint i = 0; i < connections->len; i++)
    g_dbus_connection_emit_signal (connections->pdata[i], NULL, GEN_OBSERVER_OBJECT_PATH,
                                   GEN_OBSERVER_INTERFACE, "Trace", parameters, NULL);
  g_variant_unref (parameters);
}

typedef struct
{
  GDBusConnection *connection;
  GError *error;
  gboolean done;
} ExportJob;

static gboolean
export_on_observer_thread (gpointer data)
{
  ExportJob *job = data;
  guint registration_id;

  /* Method calls are dispatched on the context registering. */
  registration_id = g_dbus_connection_register_object (job->connection, GEN_OBSERVER_OBJECT_PATH,
                                                       observer_interface_info (), &observer_vtable,
                                                       NULL, NULL, &job->error);
  if (registration_id != 0)
    {
      Export *export = g_new0 (Export, 1);

      export->connection = g_object_ref (job->connection);
      export->registration_id = registration_id;
      g_mutex_lock (&exports_lock);
      exports = g_list_prepend (exports, export);
      g_atomic_int_inc (&n_exports);
      g_mutex_unlock (&exports_lock);
      job->done = TRUE;
    }
  return G_SOURCE_REMOVE;
}

/**
 * gen_observer_export:
 * @connection: a connection: a message bus, or a peer
 * @error: return location for a #GError
 *
 * Lets other processes look at the servers of this one, as Erlang's
 * observer looks at a node: exports the D-Bus interface
 * %GEN_OBSERVER_INTERFACE (`io.github.genserver.Observer1`) at
 * %GEN_OBSERVER_OBJECT_PATH on @connection. `genserver-ctl` and
 * `genserver-observer` use it; see `doc/observer.md`.
 *
 * One call is enough: every server of the process is listed, made before
 * or after, without registering or exporting it. Peers can list the
 * servers and the supervision trees, read each server's
 * [method@Gen.Server.get_status] and counters, suspend and resume
 * servers, and turn tracing on and off; the records of traced servers
 * are streamed as `Trace` signals. Who may do this is @connection's
 * business: on a bus, its policy; for a socket of its own, see
 * [func@Gen.observer_listen].
 *
 * The observer answers on a thread of its own: the program need not run
 * a main loop.
 *
 * ```c
 * g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
 *
 * if (bus == NULL || !gen_observer_export (bus, &error))
 *   g_warning ("no observer: %s", error->message);
 * ```
 *
 * ```python
 * Gen.observer_export(Gio.bus_get_sync(Gio.BusType.SESSION))
 * ```
 *
 * Returns: %TRUE if exported, %FALSE with @error set (it already is, on
 *   this connection)
 *
 * Since: 1.2
 */
gboolean
gen_observer_export (GDBusConnection  *connection,
                     GError          **error)
{
  ExportJob job = { connection, NULL, FALSE };

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  gen_live_set_trace_sink (emit_trace);
  run_on_observer_thread (export_on_observer_thread, &job);
  if (!job.done)
    {
      g_propagate_error (error, job.error);
      return FALSE;
    }
  return TRUE;
}

/**
 * gen_observer_unexport:
 * @connection: a connection given to [func@Gen.observer_export]
 *
 * Takes the observer off @connection.
 *
 * Returns: %TRUE if it was exported there
 *
 * Since: 1.2
 */
gboolean
gen_observer_unexport (GDBusConnection *connection)
{
  Export *export = NULL;

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), FALSE);

  g_mutex_lock (&exports_lock);
  for (GList *l = exports; l != NULL; l = l->next)
    if (((Export *) l->data)->connection == connection)
      {
        export = l->data;
        exports = g_list_delete_link (exports, l);
        g_atomic_int_add (&n_exports, -1);
        break;
      }
  g_mutex_unlock (&exports_lock);

  if (export == NULL)
    return FALSE;

  g_dbus_connection_unregister_object (export->connection, export->registration_id);
  g_object_unref (export->connection);
  g_free (export);
  return TRUE;
}

/* Unexports the connections that closed, and says how many are left. A
 * connection says it closed on the context it was made on, which for one
 * the program gave gen_observer_export() may be a context it never runs:
 * so the observer also looks for itself, whenever a peer comes and
 * whenever it is asked how many there are. */
static guint
prune_closed_exports (void)
{
  g_autoptr(GPtrArray) closed = g_ptr_array_new_with_free_func (g_object_unref);
  guint left;

  g_mutex_lock (&exports_lock);
  for (GList *l = exports; l != NULL; l = l->next)
    if (g_dbus_connection_is_closed (((Export *) l->data)->connection))
      g_ptr_array_add (closed, g_object_ref (((Export *) l->data)->connection));
  g_mutex_unlock (&exports_lock);

  for (guint i = 0; i < closed->len; i++)
    gen_observer_unexport (closed->pdata[i]);
  left = (guint) g_atomic_int_get (&n_exports);
  return left;
}

static void
peer_closed (GDBusConnection *connection,
             gboolean         remote_peer_vanished,
             GError          *error,
             gpointer         user_data)
{
  gen_observer_unexport (connection);
}

static void
on_new_connection (GenDBusListener *listener,
                   GDBusConnection *connection,
                   gpointer         user_data)
{
  ExportJob job = { connection, NULL, FALSE };

  prune_closed_exports ();
  /* On the observer's thread already: the listener was made there. */
  export_on_observer_thread (&job);
  if (!job.done)
    {
      g_warning ("observer: %s", job.error->message);
      g_error_free (job.error);
      g_dbus_connection_close (connection, NULL, NULL, NULL);
      return;
    }
  g_signal_connect (connection, "closed", G_CALLBACK (peer_closed), NULL);
}

typedef struct
{
  const gchar *socket_path;
  GenDBusListener *listener;
  GError *error;
} ListenJob;

static gboolean
listen_on_observer_thread (gpointer data)
{
  ListenJob *job = data;
  g_autofree gchar *escaped = g_dbus_address_escape_value (job->socket_path);
  g_autofree gchar *address = g_strconcat ("unix:path=", escaped, NULL);

  /* The connections are made, and say they closed, on the context the
   * listener is made on: the observer's. No observer given: the
   * process's own user only, authenticated by the kernel (EXTERNAL). */
  job->listener = gen_dbus_listener_new (address, NULL, &job->error);
  if (job->listener != NULL)
    g_signal_connect (job->listener, "new-connection", G_CALLBACK (on_new_connection), NULL);
  return G_SOURCE_REMOVE;
}

/**
 * gen_observer_listen:
 * @socket_path: where to make the unix socket
 * @error: return location for a #GError
 *
 * Exports the observer (see [func@Gen.observer_export]) to whoever
 * connects to a unix socket at @socket_path, peer-to-peer, with no bus:
 * `genserver-ctl --socket PATH`. Only processes of the same user are
 * admitted, as the kernel tells (the `EXTERNAL` mechanism), and the
 * handshakes of peers on their way in are bounded as every
 * [class@Gen.DBusListener]'s are
 * ([property@Gen.DBusListener:max-handshakes],
 * [property@Gen.DBusListener:handshake-timeout]). The listener serves on
 * the observer's own thread: the program need not run a main loop.
 *
 * ```c
 * g_autoptr(GenDBusListener) listener =
 *   gen_observer_listen ("/run/user/1000/my-app.observer", &error);
 * // ... until the program ends, or:
 * gen_dbus_listener_close (listener);
 * ```
 *
 * Returns: (transfer full): the listener, listening; close it with
 *   [method@Gen.DBusListener.close] or by dropping the last reference.
 *   %NULL with @error set if the socket could not be made.
 *
 * Since: 1.2
 */
GenDBusListener *
gen_observer_listen (const gchar  *socket_path,
                     GError      **error)
{
  ListenJob job = { socket_path, NULL, NULL };

  g_return_val_if_fail (socket_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gen_live_set_trace_sink (emit_trace);
  run_on_observer_thread (listen_on_observer_thread, &job);
  if (job.listener == NULL)
    g_propagate_error (error, job.error);
  return job.listener;
}
