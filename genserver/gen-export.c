/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <unistd.h>

#include "gen-core-private.h"
#include "gen-dbus-private.h"
#include "gen-resources.h"

/*
 * Servers exported on D-Bus.
 *
 * An Export is one server on one connection at one object path. It holds
 * the server weakly: an exported server is still finalized when its last
 * reference goes, and that unexports it (the server's list of exports is
 * qdata, freed with it). It holds the connection strongly, until it is
 * unexported, which also happens when the connection closes.
 *
 * Method calls arrive on the thread-default context of the thread that
 * exported the server, as for every GDBus object. A call goes on with
 * gen_server_call_async(), so that a slow handler never holds that context
 * up, with the remote caller's own timeout, which the Call method carries:
 * a request still queued when the caller gave up is never handled, as
 * locally.
 *
 * When a run of the server ends, an exit hook (run where the server
 * finishes) emits the Stopped signal, which monitors of remote servers
 * listen for, and arms itself again for the next run.
 */

typedef struct
{
  gint ref_count; /* atomic */

  /* Immutable. */
  GWeakRef server;             /* the GenServer */
  GDBusConnection *connection; /* owned */
  gchar *object_path;          /* owned */
  guint64 max_message_size;
  /* Owned. Cancelled when the export ends, so that no call is left
   * pending for a caller that can no longer get its reply. */
  GCancellable *cancellable;

  /* export_lock. */
  gboolean exported;
  guint registration_id;
  guint watch_id;   /* the exit hook armed for the current or next run */
  gulong closed_id; /* the connection's "closed" handler */
} Export;

/* Protects every Export's mutable fields and both tables: a server's
 * exports (qdata, a GPtrArray of owned Exports) and a connection's exports
 * by object path (qdata, a GHashTable of owned Exports). Taken before a
 * server's monitor lock, never after it: exit hooks run without it. */
static GMutex export_lock;

static Export *
export_ref (Export *export)
{
  g_atomic_int_inc (&export->ref_count);
  return export;
}

static void
export_unref (gpointer data)
{
  Export *export = data;

  if (!g_atomic_int_dec_and_test (&export->ref_count))
    return;

  g_assert (!export->exported);
  g_weak_ref_clear (&export->server);
  g_clear_object (&export->connection);
  g_clear_object (&export->cancellable);
  g_free (export->object_path);
  g_free (export);
}

static GQuark
server_exports_quark (void)
{
  return g_quark_from_static_string ("gen-server-exports");
}

static GQuark
connection_exports_quark (void)
{
  return g_quark_from_static_string ("gen-connection-exports");
}

/* Error names and shared checks ------------------------------------------ */

static const GDBusErrorEntry error_entries[] = {
  { GEN_SERVER_ERROR_FAILED, "io.github.genserver.Error.Failed" },
  { GEN_SERVER_ERROR_TIMEOUT, "io.github.genserver.Error.Timeout" },
  { GEN_SERVER_ERROR_NOT_RUNNING, "io.github.genserver.Error.NotRunning" },
  { GEN_SERVER_ERROR_ALREADY_RUNNING, "io.github.genserver.Error.AlreadyRunning" },
  { GEN_SERVER_ERROR_INVALID_MESSAGE, "io.github.genserver.Error.InvalidMessage" },
  { GEN_SERVER_ERROR_CALLING_SELF, "io.github.genserver.Error.CallingSelf" },
  { GEN_SERVER_ERROR_MAILBOX_FULL, "io.github.genserver.Error.MailboxFull" },
  { GEN_SERVER_ERROR_STOPPED, "io.github.genserver.Error.Stopped" },
  { GEN_SERVER_ERROR_INVALID_TYPE, "io.github.genserver.Error.InvalidType" },
  { GEN_SERVER_ERROR_NO_REPLY, "io.github.genserver.Error.NoReply" },
  { GEN_SERVER_ERROR_NAME_TAKEN, "io.github.genserver.Error.NameTaken" },
  { GEN_SERVER_ERROR_NOT_FOUND, "io.github.genserver.Error.NotFound" },
  { GEN_SERVER_ERROR_TOO_MANY_RESTARTS, "io.github.genserver.Error.TooManyRestarts" },
  { GEN_SERVER_ERROR_IGNORED, "io.github.genserver.Error.Ignored" },
  { GEN_SERVER_ERROR_NO_CONNECTION, "io.github.genserver.Error.NoConnection" },
};

void
gen_dbus_error_ensure (void)
{
  static gsize registered;

  /* The domain's name is the one gen_server_error_quark() uses, so the
   * quark GDBus hands out on the receiving side is GEN_SERVER_ERROR. */
  g_dbus_error_register_error_domain ("gen-server-error-quark", &registered,
                                      error_entries, G_N_ELEMENTS (error_entries));
}

GDBusInterfaceInfo *
gen_dbus_interface_info (void)
{
  static gsize info; /* GDBusInterfaceInfo */

  if (g_once_init_enter (&info))
    {
      g_autoptr(GBytes) xml = NULL;
      g_autoptr(GDBusNodeInfo) node = NULL;
      g_autoptr(GError) error = NULL;

      /* Registered by hand: a constructor would be dropped from the static
       * copy of the library that tests link. */
      gen_register_resource ();
      xml = g_resource_lookup_data (gen_get_resource (),
                                    "/io/github/genserver/io.github.genserver.Server1.xml",
                                    G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
      g_assert_no_error (error);
      node = g_dbus_node_info_new_for_xml (g_bytes_get_data (xml, NULL), &error);
      g_assert_no_error (error);
      /* Kept for the life of the process, as GDBus keeps what it is given. */
      g_once_init_leave (&info,
                         (gsize) g_dbus_interface_info_ref (g_dbus_node_info_lookup_interface (node, GEN_DBUS_INTERFACE)));
    }
  return (GDBusInterfaceInfo *) info;
}

gboolean
gen_dbus_check_wire_type (GVariant     *message,
                          const gchar  *what,
                          GError      **error)
{
  const gchar *type_string = g_variant_get_type_string (message);

  if (strchr (type_string, 'm') == NULL)
    return TRUE;

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "a %s of type “%s” cannot travel over D-Bus, which has no maybe types",
               what, type_string);
  return FALSE;
}

gboolean
gen_dbus_check_size (GVariant     *message,
                     guint64       max_size,
                     GError      **error)
{
  gsize size = g_variant_get_size (message);

  if (size <= max_size)
    return TRUE;

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "a message of %" G_GSIZE_FORMAT " bytes is over the limit of %" G_GUINT64_FORMAT " bytes",
               size, max_size);
  return FALSE;
}

/* Unexporting ------------------------------------------------------------ */

/* Ends @export. @server is the exported server, or NULL when it is being
 * finalized: its monitor table goes with it then, hook and all, and its
 * list of exports is what is being freed. The caller holds a reference to
 * @export and export_lock. */
static void
export_end_locked (Export    *export,
                   GenServer *server)
{
  GHashTable *by_path;

  if (!export->exported)
    return;
  export->exported = FALSE;

  g_dbus_connection_unregister_object (export->connection, export->registration_id);
  export->registration_id = 0;
  if (server != NULL && export->watch_id != 0)
    gen_server_demonitor (server, export->watch_id);
  export->watch_id = 0;
  g_signal_handler_disconnect (export->connection, export->closed_id);
  export->closed_id = 0;
  g_cancellable_cancel (export->cancellable);

  by_path = g_object_get_qdata (G_OBJECT (export->connection), connection_exports_quark ());
  if (by_path != NULL && g_hash_table_lookup (by_path, export->object_path) == export)
    g_hash_table_remove (by_path, export->object_path);

  if (server != NULL)
    {
      GPtrArray *exports = g_object_get_qdata (G_OBJECT (server), server_exports_quark ());

      if (exports != NULL)
        g_ptr_array_remove (exports, export);
    }
}

/* The server's list of exports, freed when the server is finalized. */
static void
server_exports_free (gpointer data)
{
  GPtrArray *exports = data;

  g_mutex_lock (&export_lock);
  for (guint i = 0; i < exports->len; i++)
    export_end_locked (g_ptr_array_index (exports, i), NULL);
  g_mutex_unlock (&export_lock);

  g_ptr_array_unref (exports);
}

static void
export_connection_closed_cb (GDBusConnection *connection,
                             gboolean         remote_peer_vanished,
                             GError          *error,
                             gpointer         data)
{
  Export *export = export_ref (data);
  g_autoptr(GenServer) server = g_weak_ref_get (&export->server);

  /* A closed connection never carries a reply again; ending the export
   * also drops the reference to the connection. */
  g_mutex_lock (&export_lock);
  export_end_locked (export, server);
  g_mutex_unlock (&export_lock);

  export_unref (export);
}

/* Calls from the wire ---------------------------------------------------- */

void
gen_dbus_return_error (GDBusMethodInvocation *invocation,
                       GError                *error)
{
  g_dbus_method_invocation_return_gerror (invocation, error);
  g_error_free (error);
}

static void
export_call_done_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      data)
{
  GDBusMethodInvocation *invocation = data;
  GenServer *server = GEN_SERVER (source);
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;

  reply = gen_server_call_finish (server, result, &error);
  if (reply == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_clear_error (&error);
          g_set_error (&error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED,
                       "%s was unexported before it answered", G_OBJECT_TYPE_NAME (server));
        }
      gen_dbus_return_error (invocation, error);
      return;
    }

  if (!gen_dbus_check_wire_type (reply, "reply", &error))
    {
      gen_dbus_return_error (invocation, error);
      return;
    }

  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(v)", reply));
}

void
gen_dbus_server_method_call (GenServer             *server,
                             guint64                max_message_size,
                             GCancellable          *cancellable,
                             const gchar           *method_name,
                             GVariant              *parameters,
                             GDBusMethodInvocation *invocation)
{
  g_autoptr(GVariant) message = NULL;
  GError *error = NULL;

  /* GDBus already refused unknown methods and arguments of the wrong
   * signature: only (v) and (vi) come this far. */
  g_variant_get_child (parameters, 0, "v", &message);
  if (!gen_dbus_check_size (message, max_message_size, &error))
    {
      gen_dbus_return_error (invocation, error);
      return;
    }

  if (g_str_equal (method_name, "Call"))
    {
      gint timeout_ms;

      g_variant_get_child (parameters, 1, "i", &timeout_ms);
      gen_server_call_async (server, message, timeout_ms, cancellable,
                             export_call_done_cb, invocation);
      return;
    }

  if (g_str_equal (method_name, "Cast") ?
      gen_server_cast (server, message, &error) :
      gen_server_send_info (server, message, &error))
    /* Not sent if the caller asked for no reply, as remote casts do. */
    g_dbus_method_invocation_return_value (invocation, NULL);
  else
    gen_dbus_return_error (invocation, error);
}

GVariant *
gen_dbus_server_property (GenServer   *server,
                          guint64      max_message_size,
                          const gchar *property_name)
{
  const gchar *type_string;

  if (g_str_equal (property_name, "Name"))
    return g_variant_new_string (G_OBJECT_TYPE_NAME (server));
  if (g_str_equal (property_name, "MaxMessageSize"))
    return g_variant_new_uint64 (max_message_size);
  if (g_str_equal (property_name, "Running"))
    return g_variant_new_boolean (gen_server_is_running (server));

  type_string = g_str_equal (property_name, "CastType") ?
                gen_server_get_cast_type (server) :
                gen_server_get_call_type (server);
  return g_variant_new_string (type_string ? type_string : "");
}

static void
export_method_call (GDBusConnection       *connection,
                    const gchar           *sender,
                    const gchar           *object_path,
                    const gchar           *interface_name,
                    const gchar           *method_name,
                    GVariant              *parameters,
                    GDBusMethodInvocation *invocation,
                    gpointer               data)
{
  Export *export = data;
  g_autoptr(GenServer) server = g_weak_ref_get (&export->server);

  if (server == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, GEN_SERVER_ERROR,
                                             GEN_SERVER_ERROR_NOT_RUNNING,
                                             "the server exported at %s is gone", object_path);
      return;
    }

  gen_dbus_server_method_call (server, export->max_message_size, export->cancellable,
                               method_name, parameters, invocation);
}

static GVariant *
export_get_property (GDBusConnection  *connection,
                     const gchar      *sender,
                     const gchar      *object_path,
                     const gchar      *interface_name,
                     const gchar      *property_name,
                     GError          **error,
                     gpointer          data)
{
  Export *export = data;
  g_autoptr(GenServer) server = g_weak_ref_get (&export->server);

  if (server == NULL)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING,
                   "the server exported at %s is gone", object_path);
      return NULL;
    }

  return gen_dbus_server_property (server, export->max_message_size, property_name);
}

static const GDBusInterfaceVTable export_vtable = {
  .method_call = export_method_call,
  .get_property = export_get_property,
};

/* Runs where the server finishes a run. */
static void
export_stopped_cb (GenServer    *server,
                   const GError *reason,
                   gpointer      data)
{
  Export *export = data;

  g_mutex_lock (&export_lock);
  if (!export->exported)
    {
      g_mutex_unlock (&export_lock);
      return;
    }
  /* Armed before the signal goes: a remote that restarts the server on
   * hearing it must not find the next run unwatched. */
  export->watch_id = gen_monitor_watch (server, export_stopped_cb,
                                        export_ref (export), export_unref,
                                        GEN_WATCH_NEXT_RUN);
  g_mutex_unlock (&export_lock);

  /* An error here means the connection closed: nobody is left to tell. */
  g_dbus_connection_emit_signal (export->connection, NULL, export->object_path,
                                 GEN_DBUS_INTERFACE, "Stopped",
                                 g_variant_new ("(sis)",
                                                reason ? g_quark_to_string (reason->domain) : "",
                                                reason ? reason->code : 0,
                                                reason ? reason->message : ""),
                                 NULL);
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
 * the handlers still run on the server's own thread (or context). A server
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
  g_autoptr(GenServer) previous_server = NULL;
  GHashTable *by_path;
  GPtrArray *exports;
  Export *previous;
  Export *export;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), FALSE);
  g_return_val_if_fail (object_path != NULL && g_variant_is_object_path (object_path), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  gen_dbus_error_ensure ();

  g_mutex_lock (&export_lock);

  exports = g_object_get_qdata (G_OBJECT (self), server_exports_quark ());
  for (guint i = 0; exports != NULL && i < exports->len; i++)
    {
      Export *other = g_ptr_array_index (exports, i);

      if (other->connection == connection)
        {
          g_mutex_unlock (&export_lock);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       "%s is already exported on this connection, at %s",
                       G_OBJECT_TYPE_NAME (self), other->object_path);
          return FALSE;
        }
    }

  by_path = g_object_get_qdata (G_OBJECT (connection), connection_exports_quark ());
  previous = by_path ? g_hash_table_lookup (by_path, object_path) : NULL;
  if (previous != NULL)
    {
      previous_server = g_weak_ref_get (&previous->server);
      if (previous_server != NULL && gen_server_is_running (previous_server))
        {
          g_mutex_unlock (&export_lock);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       "%s already serves %s", G_OBJECT_TYPE_NAME (previous_server),
                       object_path);
          return FALSE;
        }
      export_ref (previous);
      export_end_locked (previous, previous_server);
      export_unref (previous);
    }

  export = g_new0 (Export, 1);
  export->ref_count = 1;
  g_weak_ref_init (&export->server, self);
  export->connection = g_object_ref (connection);
  export->object_path = g_strdup (object_path);
  export->max_message_size = max_message_size;
  export->cancellable = g_cancellable_new ();

  export->registration_id =
    g_dbus_connection_register_object (connection, object_path,
                                       gen_dbus_interface_info (),
                                       &export_vtable, export_ref (export), export_unref,
                                       error);
  if (export->registration_id == 0)
    {
      g_mutex_unlock (&export_lock);
      export_unref (export);
      return FALSE;
    }
  export->exported = TRUE;

  export->watch_id = gen_monitor_watch (self, export_stopped_cb,
                                        export_ref (export), export_unref,
                                        GEN_WATCH_NEXT_RUN);
  export->closed_id = g_signal_connect_data (connection, "closed",
                                             G_CALLBACK (export_connection_closed_cb),
                                             export_ref (export),
                                             (GClosureNotify) (void (*) (void)) export_unref,
                                             G_CONNECT_DEFAULT);

  if (by_path == NULL)
    {
      by_path = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, export_unref);
      g_object_set_qdata_full (G_OBJECT (connection), connection_exports_quark (),
                               by_path, (GDestroyNotify) g_hash_table_unref);
    }
  g_hash_table_insert (by_path, export->object_path, export_ref (export));

  if (exports == NULL)
    {
      exports = g_ptr_array_new_with_free_func (export_unref);
      g_object_set_qdata_full (G_OBJECT (self), server_exports_quark (),
                               exports, server_exports_free);
    }
  g_ptr_array_add (exports, g_steal_pointer (&export));

  g_mutex_unlock (&export_lock);

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
  GPtrArray *exports;
  Export *found = NULL;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), FALSE);

  g_mutex_lock (&export_lock);
  exports = g_object_get_qdata (G_OBJECT (self), server_exports_quark ());
  for (guint i = 0; exports != NULL && i < exports->len; i++)
    {
      Export *export = g_ptr_array_index (exports, i);

      if (export->connection == connection)
        {
          found = export_ref (export);
          break;
        }
    }
  if (found != NULL)
    export_end_locked (found, self);
  g_mutex_unlock (&export_lock);

  if (found == NULL)
    return FALSE;
  export_unref (found);
  return TRUE;
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
 * Makes an authentication observer for a [class@Gio.DBusServer] that
 * serves exported servers peer-to-peer: it admits the `EXTERNAL` mechanism
 * of unix sockets, and then only peers whose user id is in @uids.
 *
 * TCP carries no credentials: a TCP peer can only authenticate with
 * `DBUS_COOKIE_SHA1`, which proves that it can read the keyring in this
 * user's home directory, and is admitted only with @allow_cookie_sha1.
 * The traffic itself is neither encrypted nor authenticated: use TCP on a
 * trusted network only.
 *
 * ```c
 * g_autoptr(GDBusAuthObserver) observer = gen_dbus_auth_observer_new (NULL, 0, FALSE);
 * g_autoptr(GDBusServer) listener =
 *   g_dbus_server_new_sync ("unix:path=/run/user/1000/counter", G_DBUS_SERVER_FLAGS_NONE,
 *                           guid, observer, NULL, &error);
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
