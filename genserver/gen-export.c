/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <unistd.h>

#include "gen-dbus-private.h"
#include "gen-core-private.h"

/*
 * Servers exported on D-Bus.
 *
 * An Export is the export record of gen-dbus.c for one server: it holds
 * the server weakly, so that an exported server is still finalized when
 * its last reference goes, and that unexports it (the server's list of
 * exports is qdata, freed with it). The dispatcher of gen-dbus.c reaches
 * the server through the weak reference.
 *
 * When a run of the server ends, an exit hook (run where the server
 * finishes) emits the Stopped signal, which monitors of remote servers
 * listen for, and arms itself again for the next run.
 */

typedef struct
{
  GenDBusExport parent;

  /* gen_dbus_export_lock. */
  guint watch_id; /* the exit hook armed for the current or next run */
} Export;

/* A connection's exports by object path: qdata, a GHashTable of owned
 * Exports, under gen_dbus_export_lock. */
static GQuark
connection_exports_quark (void)
{
  return g_quark_from_static_string ("gen-connection-exports");
}

static GenServer *
export_lookup (GenDBusExport  *export,
               const gchar    *object_path,
               GError        **error)
{
  GenServer *server = g_weak_ref_get (&export->owner);

  if (server == NULL)
    g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING,
                 "the server exported at %s is gone", object_path);
  return server;
}

static void
export_end (GenDBusExport *parent,
            GObject       *owner)
{
  Export *export = (Export *) parent;
  GHashTable *by_path;

  if (owner != NULL && export->watch_id != 0)
    gen_server_demonitor (GEN_SERVER (owner), export->watch_id);
  export->watch_id = 0;

  by_path = g_object_get_qdata (G_OBJECT (parent->connection), connection_exports_quark ());
  if (by_path != NULL && g_hash_table_lookup (by_path, parent->object_path) == export)
    g_hash_table_remove (by_path, parent->object_path);
}

static const GenDBusExportClass export_class = {
  .list_name = "gen-server-exports",
  .lookup = export_lookup,
  .end = export_end,
};

/* Runs where the server finishes a run. */
static void
export_stopped_cb (GenServer    *server,
                   const GError *reason,
                   gpointer      data)
{
  Export *export = data;

  gen_dbus_export_lock ();
  if (!export->parent.exported)
    {
      gen_dbus_export_unlock ();
      return;
    }
  /* Armed before the signal goes: a remote that restarts the server on
   * hearing it must not find the next run unwatched. */
  export->watch_id = gen_monitor_watch (server, export_stopped_cb,
                                                gen_dbus_export_ref (export),
                                                gen_dbus_export_unref, GEN_WATCH_NEXT_RUN);
  gen_dbus_export_unlock ();

  gen_dbus_emit_stopped (export->parent.connection, export->parent.object_path, reason);
}

/* Exporting -------------------------------------------------------------- */

/**
 * gen_server_export:
 * @self: a #GenServer
 * @connection: a #GDBusConnection: to a message bus, or peer-to-peer
 * @object_path: the D-Bus object path to export the server at
 * @error: return location for an error
 *
 * Exports the server on @connection at @object_path, with the
 * [const@Gen.DBUS_INTERFACE] interface, so that other processes reach it
 * through a [class@Gen.Remote]: a call is a D-Bus method call whose reply
 * is the handler's reply, a cast a method call that expects no reply.
 * Messages over [const@Gen.DBUS_DEFAULT_MAX_MESSAGE_SIZE] bytes are
 * refused; see [method@Gen.Server.export_full] for another limit.
 *
 * The server's [property@Gen.Server:cast-type] and
 * [property@Gen.Server:call-type] are visible as D-Bus properties, so that a
 * remote refuses a wrong message in the caller, and are checked again on
 * arrival. Errors keep their %GEN_SERVER_ERROR domain and code on the other
 * side. When a run of the server ends, the interface's `Stopped` signal
 * says why, for monitors of remotes.
 *
 * Requests are dispatched on the thread-default [struct@GLib.MainContext]
 * of the calling thread, which must be iterated, as for any GDBus object;
 * the handlers still run on the server's own thread (or context). Nothing
 * a peer sends ever makes that context wait for the server: a call that
 * finds the mailbox full fails with %GEN_SERVER_ERROR_MAILBOX_FULL, and so
 * does a cast, whatever the [property@Gen.Server:mailbox-policy] (a
 * %GEN_MAILBOX_POLICY_BLOCK mailbox blocks local senders only). A plain
 * remote cast has no reply to carry that error: it is counted in
 * `casts-refused` ([method@Gen.Server.get_status], and the `CastsRefused`
 * D-Bus property); [method@Gen.Remote.cast_checked] reports it. At most
 * [const@Gen.DBUS_DEFAULT_MAX_PENDING_BYTES] bytes of messages from peers are held, and a
 * peer's call waits at most [const@Gen.DBUS_DEFAULT_MAX_TIMEOUT] ms; see
 * [method@Gen.Server.export_with_limits] for other bounds. A server
 * can be exported whether it runs or not: while it does not, callers get
 * %GEN_SERVER_ERROR_NOT_RUNNING, and a server started again is reached
 * again. The export ends with [method@Gen.Server.unexport], when
 * @connection closes, or when the server is finalized.
 *
 * A server may be exported on several connections, once on each. An object
 * path already taken by a server that is not running is taken over, so
 * that the instance a [class@Gen.Supervisor] starts after a crash can be
 * exported where the old one was.
 *
 * ```c
 * g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
 *
 * if (bus == NULL ||
 *     !gen_server_export (counter, bus, "/org/example/Counter", &error))
 *   g_printerr ("Cannot export the counter: %s\n", error->message);
 * ```
 *
 * Returns: %TRUE if the server is exported, %FALSE with
 *   %G_IO_ERROR_EXISTS if it is already exported on @connection or
 *   @object_path is taken, or another error from GDBus
 *
 * Since: 1.0
 */
gboolean
gen_server_export (GenServer        *self,
                   GDBusConnection  *connection,
                   const gchar      *object_path,
                   GError          **error)
{
  return gen_server_export_full (self, connection, object_path,
                                 GEN_DBUS_DEFAULT_MAX_MESSAGE_SIZE, error);
}

/**
 * gen_server_export_full:
 * @self: a #GenServer
 * @connection: a #GDBusConnection: to a message bus, or peer-to-peer
 * @object_path: the D-Bus object path to export the server at
 * @max_message_size: the largest serialized message accepted, in bytes
 * @error: return location for an error
 *
 * Exports the server as [method@Gen.Server.export] does, accepting messages
 * of at most @max_message_size bytes once serialized. A larger one is
 * refused with %GEN_SERVER_ERROR_INVALID_MESSAGE: in the caller by a
 * [class@Gen.Remote], which reads the limit, and again on arrival. D-Bus
 * itself refuses any message over 128 MiB.
 *
 * ```c
 * // Requests of at most 4 KiB from this peer.
 * gen_server_export_full (counter, connection, "/org/example/Counter", 4096, &error);
 * ```
 *
 * Returns: %TRUE if the server is exported, %FALSE with an error as for
 *   [method@Gen.Server.export]
 *
 * Since: 1.0
 */
gboolean
gen_server_export_full (GenServer        *self,
                        GDBusConnection  *connection,
                        const gchar      *object_path,
                        guint64           max_message_size,
                        GError          **error)
{
  return gen_server_export_with_limits (self, connection, object_path, max_message_size,
                                        GEN_DBUS_DEFAULT_MAX_PENDING_BYTES,
                                        GEN_DBUS_DEFAULT_MAX_TIMEOUT, error);
}

/**
 * gen_server_export_with_limits:
 * @self: a #GenServer
 * @connection: a #GDBusConnection: to a message bus, or peer-to-peer
 * @object_path: the D-Bus object path to export the server at
 * @max_message_size: the largest serialized message accepted, in bytes
 * @max_pending_bytes: how much of the messages from peers the export holds
 *   at most, in bytes; 0 for no bound
 * @max_timeout_ms: the longest a peer's call may wait, in milliseconds;
 *   negative to let peers wait as long as they ask, forever included
 * @error: return location for an error
 *
 * Exports the server as [method@Gen.Server.export_full] does, with the
 * bounds a peer must stay within.
 *
 * @max_pending_bytes bounds the messages from the peers of @connection
 * that the exporting process holds for the server, each counted as its
 * serialized size plus [const@Gen.DBUS_MESSAGE_OVERHEAD]: calls not
 * answered yet, and casts and infos until the server lets
 * go of them (handled, or dropped). Past it, a call, an info, or a cast
 * sent with [method@Gen.Remote.cast_checked] fails with
 * %GEN_SERVER_ERROR_MAILBOX_FULL, and a plain cast is dropped and counted
 * in `casts-refused` ([method@Gen.Server.get_status]). It is the bound on
 * infos, which the mailbox never refuses, and on casts to an unbounded
 * mailbox: it caps the memory peers can make the process hold through
 * this export.
 *
 * @max_timeout_ms caps the timeout a peer's call carries: a call that asks
 * for longer, or for none, times out after @max_timeout_ms, so that calls
 * of a peer that went away on a bus (which the exporter cannot tell) are
 * not kept forever.
 *
 * ```c
 * // Messages of at most 64 KiB, 4 MiB of them held, calls of at most 10 s.
 * gen_server_export_with_limits (counter, connection, "/org/example/Counter",
 *                                64 * 1024, 4 * 1024 * 1024, 10000, &error);
 * ```
 *
 * Returns: %TRUE if the server is exported, %FALSE with an error as for
 *   [method@Gen.Server.export]
 *
 * Since: 1.2
 */
gboolean
gen_server_export_with_limits (GenServer        *self,
                               GDBusConnection  *connection,
                               const gchar      *object_path,
                               guint64           max_message_size,
                               guint64           max_pending_bytes,
                               gint              max_timeout_ms,
                               GError          **error)
{
  g_autoptr(GenServer) previous_server = NULL;
  GHashTable *by_path;
  GenDBusExport *other;
  Export *previous;
  Export *export;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), FALSE);
  g_return_val_if_fail (object_path != NULL && g_variant_is_object_path (object_path), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  gen_dbus_error_ensure ();

  gen_dbus_export_lock ();

  other = gen_dbus_export_find_locked (&export_class, self, connection);
  if (other != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "%s is already exported on this connection, at %s",
                   G_OBJECT_TYPE_NAME (self), other->object_path);
      gen_dbus_export_unlock ();
      return FALSE;
    }

  by_path = g_object_get_qdata (G_OBJECT (connection), connection_exports_quark ());
  previous = by_path ? g_hash_table_lookup (by_path, object_path) : NULL;
  if (previous != NULL)
    {
      previous_server = g_weak_ref_get (&previous->parent.owner);
      if (previous_server != NULL && gen_server_is_running (previous_server))
        {
          gen_dbus_export_unlock ();
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       "%s already serves %s", G_OBJECT_TYPE_NAME (previous_server),
                       object_path);
          return FALSE;
        }
      gen_dbus_export_ref (previous);
      gen_dbus_export_end_locked (&previous->parent, previous_server);
      gen_dbus_export_unref (previous);
    }

  export = gen_dbus_export_new (&export_class, sizeof (Export), self, connection,
                                object_path, max_message_size, max_pending_bytes,
                                max_timeout_ms);
  if (!gen_dbus_export_register_locked (gen_dbus_export_ref (export), self, NULL, error))
    {
      gen_dbus_export_unlock ();
      gen_dbus_export_unref (export);
      return FALSE;
    }

  export->watch_id = gen_monitor_watch (self, export_stopped_cb,
                                                gen_dbus_export_ref (export),
                                                gen_dbus_export_unref, GEN_WATCH_NEXT_RUN);

  if (by_path == NULL)
    {
      by_path = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, gen_dbus_export_unref);
      g_object_set_qdata_full (G_OBJECT (connection), connection_exports_quark (),
                               by_path, (GDestroyNotify) g_hash_table_unref);
    }
  /* The table takes the creation's reference. */
  g_hash_table_insert (by_path, export->parent.object_path, export);

  gen_dbus_export_unlock ();

  return TRUE;
}

/**
 * gen_server_unexport:
 * @self: a #GenServer
 * @connection: the #GDBusConnection it was exported on
 *
 * Ends the export of the server on @connection made by
 * [method@Gen.Server.export]. Remote calls still waiting for the server's
 * answer fail with %GEN_SERVER_ERROR_STOPPED; later ones find no object.
 *
 * ```c
 * gen_server_unexport (counter, bus);
 * ```
 *
 * Returns: %TRUE if the server was exported on @connection
 *
 * Since: 1.0
 */
gboolean
gen_server_unexport (GenServer       *self,
                     GDBusConnection *connection)
{
  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), FALSE);

  return gen_dbus_export_unexport (&export_class, self, connection);
}

/* Peer-to-peer admission -------------------------------------------------- */

typedef struct
{
  GArray *uids; /* guint: admitted users */
  gboolean allow_cookie_sha1;
} Admission;

static void
admission_free (gpointer data)
{
  Admission *admission = data;

  g_array_unref (admission->uids);
  g_free (admission);
}

static gboolean
allow_mechanism_cb (GDBusAuthObserver *observer,
                    const gchar       *mechanism,
                    gpointer           data)
{
  Admission *admission = data;

  return g_str_equal (mechanism, "EXTERNAL") ||
         (admission->allow_cookie_sha1 && g_str_equal (mechanism, "DBUS_COOKIE_SHA1"));
}

static gboolean
authorize_peer_cb (GDBusAuthObserver *observer,
                   GIOStream         *stream,
                   GCredentials      *credentials,
                   gpointer           data)
{
  Admission *admission = data;
  uid_t uid;

  /* No user: TCP, where only the cookie vouches for the peer (GDBus may
   * still hand over empty credentials then). */
  uid = credentials ? g_credentials_get_unix_user (credentials, NULL) : (uid_t) -1;
  if (uid == (uid_t) -1)
    return admission->allow_cookie_sha1;
  for (guint i = 0; i < admission->uids->len; i++)
    if (g_array_index (admission->uids, guint, i) == (guint) uid)
      return TRUE;
  return FALSE;
}

/**
 * gen_dbus_auth_observer_new:
 * @uids: (array length=n_uids) (nullable): the user ids admitted
 * @n_uids: the number of @uids; 0 admits the user running this process
 *   only
 * @allow_cookie_sha1: whether to admit peers that authenticate with
 *   `DBUS_COOKIE_SHA1`, as TCP peers must
 *
 * Makes an authentication observer for a [class@Gen.DBusListener] (or a
 * [class@Gio.DBusServer]) that serves exported servers peer-to-peer: it
 * admits the `EXTERNAL` mechanism of unix sockets, and then only peers
 * whose user id is in @uids.
 *
 * TCP carries no credentials: a TCP peer can only authenticate with
 * `DBUS_COOKIE_SHA1`, which proves that it can read the keyring in this
 * user's home directory, and is admitted only with @allow_cookie_sha1.
 * The traffic itself is neither encrypted nor authenticated: use TCP on a
 * trusted network only.
 *
 * ```c
 * g_autoptr(GDBusAuthObserver) observer = gen_dbus_auth_observer_new (NULL, 0, FALSE);
 * g_autoptr(GenDBusListener) listener =
 *   gen_dbus_listener_new ("unix:path=/run/user/1000/counter", observer, &error);
 * ```
 *
 * Returns: (transfer full): a new authentication observer
 *
 * Since: 1.0
 */
GDBusAuthObserver *
gen_dbus_auth_observer_new (const guint *uids,
                            gsize        n_uids,
                            gboolean     allow_cookie_sha1)
{
  GDBusAuthObserver *observer;
  Admission *admission;

  g_return_val_if_fail (uids != NULL || n_uids == 0, NULL);

  observer = g_dbus_auth_observer_new ();
  admission = g_new0 (Admission, 1);
  admission->uids = g_array_new (FALSE, FALSE, sizeof (guint));
  if (n_uids == 0)
    {
      guint self_uid = (guint) getuid ();

      g_array_append_val (admission->uids, self_uid);
    }
  else
    {
      g_array_append_vals (admission->uids, uids, n_uids);
    }
  admission->allow_cookie_sha1 = allow_cookie_sha1;

  g_object_set_data_full (G_OBJECT (observer), "gen-admission", admission, admission_free);
  g_signal_connect (observer, "allow-mechanism", G_CALLBACK (allow_mechanism_cb), admission);
  g_signal_connect (observer, "authorize-authenticated-peer",
                    G_CALLBACK (authorize_peer_cb), admission);
  return observer;
}
