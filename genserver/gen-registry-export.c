/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-core-private.h"
#include "gen-dbus-private.h"

/*
 * Registries exported on D-Bus.
 *
 * A registry exported at a path is a GDBus subtree: each name registered
 * now is a child node (the name escaped with g_dbus_escape_object_path())
 * with the interface of a server, looked up again for every message, so
 * that a remote of a name follows the server's restarts as the registry
 * does. A server's Stopped signal is armed when a remote reads its
 * properties (as making a remote and adding a monitor do).
 */

typedef struct
{
  gint ref_count; /* atomic */

  /* Immutable. */
  GWeakRef registry;           /* the GenRegistry */
  GDBusConnection *connection; /* owned */
  gchar *object_path;          /* owned */
  GCancellable *cancellable;   /* owned: cancelled when the export ends */

  /* export_lock. */
  gboolean exported;
  guint registration_id;
  gulong closed_id;

  /* watch_lock: the servers whose next stop is signalled, GenServer (not
   * owned: removed by the hook's destroy notify) → NameWatch. */
  GHashTable *watched;
} RegistryExport;

typedef struct
{
  RegistryExport *export; /* owned reference */
  GenServer *server;      /* not owned: the key in `watched` */
  gchar *object_path;     /* owned: the name's node */
} NameWatch;

/* Protects every RegistryExport's mutable fields but `watched`, and the
 * registries' lists of exports (qdata, GPtrArrays of owned
 * RegistryExports). */
static GMutex export_lock;

/* Protects `watched`. Taken before a server's monitor lock; hooks' destroy
 * notifies take it alone. */
static GMutex watch_lock;

static RegistryExport *
registry_export_ref (RegistryExport *export)
{
  g_atomic_int_inc (&export->ref_count);
  return export;
}

static void
registry_export_unref (gpointer data)
{
  RegistryExport *export = data;

  if (!g_atomic_int_dec_and_test (&export->ref_count))
    return;

  g_assert (!export->exported);
  g_weak_ref_clear (&export->registry);
  g_clear_object (&export->connection);
  g_clear_object (&export->cancellable);
  g_hash_table_unref (export->watched);
  g_free (export->object_path);
  g_free (export);
}

static GQuark
registry_exports_quark (void)
{
  return g_quark_from_static_string ("gen-registry-exports");
}

static void
name_watch_free (gpointer data)
{
  NameWatch *watch = data;

  g_mutex_lock (&watch_lock);
  if (g_hash_table_lookup (watch->export->watched, watch->server) == watch)
    g_hash_table_remove (watch->export->watched, watch->server);
  g_mutex_unlock (&watch_lock);

  registry_export_unref (watch->export);
  g_free (watch->object_path);
  g_free (watch);
}

static void
name_watch_stopped_cb (GenServer    *server,
                       const GError *reason,
                       gpointer      data)
{
  NameWatch *watch = data;

  g_dbus_connection_emit_signal (watch->export->connection, NULL, watch->object_path,
                                 GEN_DBUS_INTERFACE, "Stopped",
                                 g_variant_new ("(sis)",
                                                reason ? g_quark_to_string (reason->domain) : "",
                                                reason ? reason->code : 0,
                                                reason ? reason->message : ""),
                                 NULL);
}

static void
registry_export_watch (RegistryExport *export,
                       GenServer      *server,
                       const gchar    *object_path)
{
  NameWatch *watch;

  g_mutex_lock (&watch_lock);
  if (!g_hash_table_contains (export->watched, server))
    {
      watch = g_new0 (NameWatch, 1);
      watch->export = registry_export_ref (export);
      watch->server = server;
      watch->object_path = g_strdup (object_path);
      g_hash_table_insert (export->watched, server, watch);
      /* Refused (and freed at once, which removes it) if it is not running. */
      gen_monitor_watch (server, name_watch_stopped_cb, watch, name_watch_free,
                         GEN_WATCH_DEFAULT);
    }
  g_mutex_unlock (&watch_lock);
}

/* The server registered under the name of @object_path's node, or NULL. */
static GenServer *
registry_export_lookup (RegistryExport  *export,
                        const gchar     *object_path,
                        GError         **error)
{
  g_autoptr(GenRegistry) registry = g_weak_ref_get (&export->registry);
  g_autofree gchar *name = NULL;
  const gchar *node;
  GenServer *server = NULL;

  node = object_path + strlen (export->object_path);
  if (*node == '/')
    node++;
  name = (gchar *) g_dbus_unescape_object_path (node);
  if (registry != NULL && name != NULL)
    server = gen_registry_lookup (registry, name);
  if (server == NULL)
    g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING,
                 "no server is registered as “%s”", name ? name : node);
  return server;
}

static void
registry_method_call (GDBusConnection       *connection,
                      const gchar           *sender,
                      const gchar           *object_path,
                      const gchar           *interface_name,
                      const gchar           *method_name,
                      GVariant              *parameters,
                      GDBusMethodInvocation *invocation,
                      gpointer               data)
{
  RegistryExport *export = data;
  g_autoptr(GenServer) server = NULL;
  GError *error = NULL;

  server = registry_export_lookup (export, object_path, &error);
  if (server == NULL)
    {
      gen_dbus_return_error (invocation, error);
      return;
    }
  gen_dbus_server_method_call (server, GEN_DBUS_DEFAULT_MAX_MESSAGE_SIZE,
                               export->cancellable, method_name, parameters,
                               invocation);
}

static GVariant *
registry_get_property (GDBusConnection  *connection,
                       const gchar      *sender,
                       const gchar      *object_path,
                       const gchar      *interface_name,
                       const gchar      *property_name,
                       GError          **error,
                       gpointer          data)
{
  RegistryExport *export = data;
  g_autoptr(GenServer) server = registry_export_lookup (export, object_path, error);

  if (server == NULL)
    return NULL;
  registry_export_watch (export, server, object_path);
  return gen_dbus_server_property (server, GEN_DBUS_DEFAULT_MAX_MESSAGE_SIZE,
                                   property_name);
}

static const GDBusInterfaceVTable registry_vtable = {
  .method_call = registry_method_call,
  .get_property = registry_get_property,
};

static gchar **
registry_enumerate (GDBusConnection *connection,
                    const gchar     *sender,
                    const gchar     *object_path,
                    gpointer         data)
{
  RegistryExport *export = data;
  g_autoptr(GenRegistry) registry = g_weak_ref_get (&export->registry);
  g_auto(GStrv) names = registry ? gen_registry_dup_names (registry) : NULL;
  GPtrArray *nodes = g_ptr_array_new ();

  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    g_ptr_array_add (nodes, g_dbus_escape_object_path (names[i]));
  g_ptr_array_add (nodes, NULL);
  return (gchar **) g_ptr_array_free (nodes, FALSE);
}

static GDBusInterfaceInfo **
registry_introspect (GDBusConnection *connection,
                     const gchar     *sender,
                     const gchar     *object_path,
                     const gchar     *node,
                     gpointer         data)
{
  GDBusInterfaceInfo **interfaces;

  /* The registry's own node has no interface; its children are servers. */
  if (node == NULL)
    return NULL;
  interfaces = g_new0 (GDBusInterfaceInfo *, 2);
  interfaces[0] = g_dbus_interface_info_ref (gen_dbus_interface_info ());
  return interfaces;
}

static const GDBusInterfaceVTable *
registry_dispatch (GDBusConnection *connection,
                   const gchar     *sender,
                   const gchar     *object_path,
                   const gchar     *interface_name,
                   const gchar     *node,
                   gpointer        *out_user_data,
                   gpointer         data)
{
  if (node == NULL)
    return NULL;
  *out_user_data = data;
  return &registry_vtable;
}

static const GDBusSubtreeVTable registry_subtree_vtable = {
  .enumerate = registry_enumerate,
  .introspect = registry_introspect,
  .dispatch = registry_dispatch,
};

/* The caller holds a reference to @export and export_lock. @registry is
 * NULL when it is being finalized. */
static void
registry_export_end_locked (RegistryExport *export,
                            GenRegistry    *registry)
{
  if (!export->exported)
    return;
  export->exported = FALSE;

  g_dbus_connection_unregister_subtree (export->connection, export->registration_id);
  export->registration_id = 0;
  g_signal_handler_disconnect (export->connection, export->closed_id);
  export->closed_id = 0;
  g_cancellable_cancel (export->cancellable);

  if (registry != NULL)
    {
      GPtrArray *exports = g_object_get_qdata (G_OBJECT (registry), registry_exports_quark ());

      if (exports != NULL)
        g_ptr_array_remove (exports, export);
    }
}

static void
registry_exports_free (gpointer data)
{
  GPtrArray *exports = data;

  g_mutex_lock (&export_lock);
  for (guint i = 0; i < exports->len; i++)
    registry_export_end_locked (g_ptr_array_index (exports, i), NULL);
  g_mutex_unlock (&export_lock);

  g_ptr_array_unref (exports);
}

static void
registry_connection_closed_cb (GDBusConnection *connection,
                               gboolean         remote_peer_vanished,
                               GError          *error,
                               gpointer         data)
{
  RegistryExport *export = registry_export_ref (data);
  g_autoptr(GenRegistry) registry = g_weak_ref_get (&export->registry);

  g_mutex_lock (&export_lock);
  registry_export_end_locked (export, registry);
  g_mutex_unlock (&export_lock);

  registry_export_unref (export);
}

/**
 * gen_registry_export:
 * @self: a #GenRegistry
 * @connection: a #GDBusConnection: to a message bus, or peer-to-peer
 * @object_path: the D-Bus object path to export the registry at
 * @error: return location for an error
 *
 * Exports the registry on @connection at @object_path, so that its names
 * resolve from other processes: every name registered is a child of
 * @object_path (the name escaped with g_dbus_escape_object_path()) with the
 * interface of an exported server (see [method@Gen.Server.export]), and
 * [ctor@Gen.Remote.new_for_name] reaches it.
 *
 * The name is looked up again for every message, so a remote of a name
 * reaches whichever server holds the name now, as
 * [method@Gen.Registry.call] does: after a restart by a
 * [class@Gen.Supervisor], the new instance. A message for a name that
 * nobody holds fails with %GEN_SERVER_ERROR_NOT_RUNNING. Messages over
 * [const@Gen.DBUS_DEFAULT_MAX_MESSAGE_SIZE] bytes are refused.
 *
 * ```c
 * gen_registry_export (gen_registry_get_default (), bus, "/org/example/Names", &error);
 * ```
 *
 * Returns: %TRUE if the registry is exported, %FALSE with
 *   %G_IO_ERROR_EXISTS if it is already exported on @connection, or
 *   another error from GDBus
 *
 * Since: 1.0
 */
gboolean
gen_registry_export (GenRegistry      *self,
                     GDBusConnection  *connection,
                     const gchar      *object_path,
                     GError          **error)
{
  GPtrArray *exports;
  RegistryExport *export;

  g_return_val_if_fail (GEN_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), FALSE);
  g_return_val_if_fail (object_path != NULL && g_variant_is_object_path (object_path), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  gen_dbus_error_ensure ();

  g_mutex_lock (&export_lock);
  exports = g_object_get_qdata (G_OBJECT (self), registry_exports_quark ());
  for (guint i = 0; exports != NULL && i < exports->len; i++)
    if (((RegistryExport *) g_ptr_array_index (exports, i))->connection == connection)
      {
        g_mutex_unlock (&export_lock);
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                     "the registry is already exported on this connection");
        return FALSE;
      }

  export = g_new0 (RegistryExport, 1);
  export->ref_count = 1;
  g_weak_ref_init (&export->registry, self);
  export->connection = g_object_ref (connection);
  export->object_path = g_strdup (object_path);
  export->cancellable = g_cancellable_new ();
  export->watched = g_hash_table_new (NULL, NULL);

  export->registration_id =
    g_dbus_connection_register_subtree (connection, object_path, &registry_subtree_vtable,
                                        G_DBUS_SUBTREE_FLAGS_NONE,
                                        registry_export_ref (export), registry_export_unref,
                                        error);
  if (export->registration_id == 0)
    {
      g_mutex_unlock (&export_lock);
      registry_export_unref (export);
      return FALSE;
    }
  export->exported = TRUE;
  export->closed_id = g_signal_connect_data (connection, "closed",
                                             G_CALLBACK (registry_connection_closed_cb),
                                             registry_export_ref (export),
                                             (GClosureNotify) (void (*) (void)) registry_export_unref,
                                             G_CONNECT_DEFAULT);

  if (exports == NULL)
    {
      exports = g_ptr_array_new_with_free_func (registry_export_unref);
      g_object_set_qdata_full (G_OBJECT (self), registry_exports_quark (),
                               exports, registry_exports_free);
    }
  g_ptr_array_add (exports, export);
  g_mutex_unlock (&export_lock);

  return TRUE;
}

/**
 * gen_registry_unexport:
 * @self: a #GenRegistry
 * @connection: the #GDBusConnection it was exported on
 *
 * Ends the export of the registry on @connection made by
 * [method@Gen.Registry.export]. Remote calls still waiting for an answer
 * fail with %GEN_SERVER_ERROR_STOPPED.
 *
 * ```c
 * gen_registry_unexport (gen_registry_get_default (), bus);
 * ```
 *
 * Returns: %TRUE if the registry was exported on @connection
 *
 * Since: 1.0
 */
gboolean
gen_registry_unexport (GenRegistry     *self,
                       GDBusConnection *connection)
{
  GPtrArray *exports;
  RegistryExport *found = NULL;

  g_return_val_if_fail (GEN_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), FALSE);

  g_mutex_lock (&export_lock);
  exports = g_object_get_qdata (G_OBJECT (self), registry_exports_quark ());
  for (guint i = 0; exports != NULL && i < exports->len; i++)
    {
      RegistryExport *export = g_ptr_array_index (exports, i);

      if (export->connection == connection)
        {
          found = registry_export_ref (export);
          break;
        }
    }
  if (found != NULL)
    registry_export_end_locked (found, self);
  g_mutex_unlock (&export_lock);

  if (found == NULL)
    return FALSE;
  registry_export_unref (found);
  return TRUE;
}
