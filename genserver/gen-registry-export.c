/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-dbus-private.h"
#include "gen-core-private.h"

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
  GenDBusExport parent;

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

/* Protects `watched`. Taken before a server's monitor lock; hooks' destroy
 * notifies take it alone. */
static GMutex watch_lock;

static void
name_watch_free (gpointer data)
{
  NameWatch *watch = data;

  g_mutex_lock (&watch_lock);
  if (g_hash_table_lookup (watch->export->watched, watch->server) == watch)
    g_hash_table_remove (watch->export->watched, watch->server);
  g_mutex_unlock (&watch_lock);

  gen_dbus_export_unref (watch->export);
  g_free (watch->object_path);
  g_free (watch);
}

static void
name_watch_stopped_cb (GenServer    *server,
                       const GError *reason,
                       gpointer      data)
{
  NameWatch *watch = data;

  gen_dbus_emit_stopped (watch->export->parent.connection, watch->object_path, reason);
}

static void
registry_export_watch (GenDBusExport *parent,
                       GenServer     *server,
                       const gchar   *object_path)
{
  RegistryExport *export = (RegistryExport *) parent;
  NameWatch *watch = NULL;

  g_mutex_lock (&watch_lock);
  if (!g_hash_table_contains (export->watched, server))
    {
      watch = g_new0 (NameWatch, 1);
      watch->export = gen_dbus_export_ref (export);
      watch->server = server;
      watch->object_path = g_strdup (object_path);
      g_hash_table_insert (export->watched, server, watch);
    }
  g_mutex_unlock (&watch_lock);

  /* Outside watch_lock, which the hook's destroy notify takes. Refused if
   * the server stopped meanwhile: nothing is left to signal then. */
  if (watch != NULL &&
      gen_monitor_watch (server, name_watch_stopped_cb, watch, name_watch_free,
                                 GEN_WATCH_DEFAULT) == 0)
    name_watch_free (watch);
}

/* The server registered under the name of @object_path's node, or NULL. */
static GenServer *
registry_export_lookup (GenDBusExport  *export,
                        const gchar    *object_path,
                        GError        **error)
{
  g_autoptr(GenRegistry) registry = g_weak_ref_get (&export->owner);
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
registry_export_finalize (GenDBusExport *parent)
{
  g_hash_table_unref (((RegistryExport *) parent)->watched);
}

static const GenDBusExportClass registry_export_class = {
  .list_name = "gen-registry-exports",
  .lookup = registry_export_lookup,
  .properties_read = registry_export_watch,
  .finalize = registry_export_finalize,
};

static gchar **
registry_enumerate (GDBusConnection *connection,
                    const gchar     *sender,
                    const gchar     *object_path,
                    gpointer         data)
{
  GenDBusExport *export = data;
  g_autoptr(GenRegistry) registry = g_weak_ref_get (&export->owner);
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
  return &gen_dbus_export_vtable;
}

static const GDBusSubtreeVTable registry_subtree_vtable = {
  .enumerate = registry_enumerate,
  .introspect = registry_introspect,
  .dispatch = registry_dispatch,
};

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
  RegistryExport *export;
  gboolean registered;

  g_return_val_if_fail (GEN_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), FALSE);
  g_return_val_if_fail (object_path != NULL && g_variant_is_object_path (object_path), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  gen_dbus_error_ensure ();

  gen_dbus_export_lock ();
  if (gen_dbus_export_find_locked (&registry_export_class, self, connection) != NULL)
    {
      gen_dbus_export_unlock ();
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "the registry is already exported on this connection");
      return FALSE;
    }

  export = gen_dbus_export_new (&registry_export_class, sizeof (RegistryExport), self,
                                connection, object_path, GEN_DBUS_DEFAULT_MAX_MESSAGE_SIZE,
                                GEN_DBUS_DEFAULT_MAX_PENDING_BYTES, GEN_DBUS_DEFAULT_MAX_TIMEOUT);
  export->watched = g_hash_table_new (NULL, NULL);
  registered = gen_dbus_export_register_locked (&export->parent, self,
                                                &registry_subtree_vtable, error);
  gen_dbus_export_unlock ();

  return registered;
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
  g_return_val_if_fail (GEN_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), FALSE);

  return gen_dbus_export_unexport (&registry_export_class, self, connection);
}
