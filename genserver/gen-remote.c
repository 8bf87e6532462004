/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-cast-batch-private.h"
#include "gen-dbus-private.h"
#include "gen-monitor-private.h"
#include "gen-remote.h"

/**
 * GenRemote:
 *
 * A server of another process, exported there with
 * [method@Gen.Server.export] and reached over D-Bus: on a message bus, or
 * peer-to-peer over a connection of a [class@Gen.DBusListener] (or of a
 * [class@Gio.DBusServer]).
 *
 * A remote offers the calls of a local [class@Gen.Server]:
 * [method@Gen.Remote.call], [method@Gen.Remote.call_async],
 * [method@Gen.Remote.cast] and [method@Gen.Remote.monitor]. Its message
 * types are read when it is made, so a wrong message is refused in the
 * caller with %GEN_SERVER_ERROR_INVALID_MESSAGE, as locally, and the
 * server's errors arrive with their %GEN_SERVER_ERROR domain and code.
 * The failures that only a distance brings are mapped into that domain
 * too: a call to a server that is not there is
 * %GEN_SERVER_ERROR_NOT_RUNNING, a call whose peer vanished before the
 * answer is %GEN_SERVER_ERROR_NO_CONNECTION (its message starts with
 * `noconnection`, as 1.0's %GEN_SERVER_ERROR_STOPPED did), a call whose
 * D-Bus timeout ran out is %GEN_SERVER_ERROR_TIMEOUT.
 *
 * ```c
 * g_autoptr(GenRemote) counter = NULL;
 * g_autoptr(GVariant) count = NULL;
 *
 * counter = gen_remote_new_sync (bus, "org.example.Counter", "/org/example/Counter",
 *                                NULL, &error);
 * if (counter != NULL)
 *   count = gen_remote_call (counter, g_variant_new ("(si)", "get", 0),
 *                            GEN_SERVER_DEFAULT_TIMEOUT, &error);
 * ```
 *
 * A remote can be used from any thread. Its monitors hear of the server's
 * stops through D-Bus signals, which arrive on the thread-default
 * [struct@GLib.MainContext] of the thread that made the remote: that
 * context must be iterated for monitors to be told. After the remote's
 * last unref, GDBus frees its signal subscriptions on that same context,
 * at a later iteration, as for any
 * [method@Gio.DBusConnection.signal_subscribe]: a thread that made a
 * context of its own for remotes iterates it once more after dropping
 * them (`while (g_main_context_iteration (context, FALSE));`) before it
 * lets the context go, or 64 bytes per remote are never freed.
 *
 * Since: 1.0
 */

/* What the D-Bus signal handlers share with the remote. Kept apart from
 * the remote and reference counted, because GDBus may still run a handler
 * on another thread while the remote is being finalized. */
typedef struct
{
  gint ref_count; /* atomic */

  /* Immutable. */
  GWeakRef remote;         /* the GenRemote */
  gchar *owner;            /* owned: the bus name's unique owner, or NULL */
  GenMonitorSet *monitors; /* owned: down for good once the peer or its name vanished */
} RemoteWatch;

struct _GenRemote
{
  GObject parent_instance;

  /* Immutable once made. */
  GDBusConnection *connection; /* owned */
  gchar *bus_name;             /* owned; NULL peer-to-peer */
  gchar *object_path;          /* owned */
  gchar *name;                 /* owned: the server's type name */
  gchar *cast_type;            /* owned; NULL: any */
  gchar *call_type;            /* owned; NULL: any */
  guint64 max_message_size;
  RemoteWatch *watch;          /* owned reference */
  guint stopped_id;            /* signal subscription */
  guint owner_id;              /* signal subscription, or 0 */
  gulong closed_id;            /* on the connection */
};

G_DEFINE_FINAL_TYPE (GenRemote, gen_remote, G_TYPE_OBJECT)

/* Monitors --------------------------------------------------------------- */

static RemoteWatch *
remote_watch_ref (RemoteWatch *watch)
{
  g_atomic_int_inc (&watch->ref_count);
  return watch;
}

static void
remote_watch_unref (gpointer data)
{
  RemoteWatch *watch = data;

  if (!g_atomic_int_dec_and_test (&watch->ref_count))
    return;

  g_weak_ref_clear (&watch->remote);
  gen_monitor_set_unref (watch->monitors);
  g_free (watch->owner);
  g_free (watch);
}

/* Tells the monitors that the server is down with @reason; for good (the
 * peer or its name is gone) if @for_good. */
static void
remote_watch_fire (RemoteWatch  *watch,
                   const GError *reason,
                   gboolean      for_good)
{
  g_autoptr(GenRemote) remote = g_weak_ref_get (&watch->remote);

  /* Without the remote, nobody is left to tell. */
  gen_monitor_set_fire (watch->monitors, remote, reason, for_good ? reason : NULL);
}

static void
remote_stopped_cb (GDBusConnection *connection,
                   const gchar     *sender,
                   const gchar     *object_path,
                   const gchar     *interface_name,
                   const gchar     *signal_name,
                   GVariant        *parameters,
                   gpointer         data)
{
  g_autoptr(GError) reason = NULL;

  if (gen_dbus_stopped_reason (parameters, &reason))
    remote_watch_fire (data, reason, FALSE);
}

static void
remote_owner_changed_cb (GDBusConnection *connection,
                         const gchar     *sender,
                         const gchar     *object_path,
                         const gchar     *interface_name,
                         const gchar     *signal_name,
                         GVariant        *parameters,
                         gpointer         data)
{
  RemoteWatch *watch = data;
  g_autoptr(GError) reason = NULL;
  const gchar *name, *old_owner, *new_owner;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sss)")))
    return;

  g_variant_get (parameters, "(&s&s&s)", &name, &old_owner, &new_owner);
  if (g_strcmp0 (new_owner, watch->owner) == 0)
    return;

  reason = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION,
                        "noconnection: the bus name %s vanished", name);
  remote_watch_fire (watch, reason, TRUE);
}

static void
remote_connection_closed_cb (GDBusConnection *connection,
                             gboolean         remote_peer_vanished,
                             GError          *error,
                             gpointer         data)
{
  g_autoptr(GError) reason = NULL;

  reason = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION,
                        "noconnection: the connection to the server was closed%s%s",
                        error ? ": " : "", error ? error->message : "");
  remote_watch_fire (data, reason, TRUE);
}

/* Errors ----------------------------------------------------------------- */

static gboolean
remote_check_message (GenRemote    *self,
                      const gchar  *type_string,
                      const gchar  *what,
                      GVariant     *message,
                      GError      **error)
{
  if (type_string != NULL &&
      !g_variant_is_of_type (message, G_VARIANT_TYPE (type_string)))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "%s expects %s messages of type “%s”, got “%s”",
                   self->name, what, type_string, g_variant_get_type_string (message));
      return FALSE;
    }

  return gen_dbus_check_wire_type (message, "message", error) &&
         gen_dbus_check_size (message, self->max_message_size, error);
}

static gboolean
remote_check_connection (GenRemote  *self,
                         GError    **error)
{
  if (!g_dbus_connection_is_closed (self->connection))
    return TRUE;

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION,
               "noconnection: the connection to %s is closed", self->name);
  return FALSE;
}

/* GDBus reads -1 as its default of 25 s, and G_MAXINT as no timeout. */
static gint
dbus_timeout (gint timeout_ms)
{
  return timeout_ms < 0 ? G_MAXINT : timeout_ms;
}

/* The object ------------------------------------------------------------- */

static void
gen_remote_finalize (GObject *object)
{
  GenRemote *self = GEN_REMOTE (object);

  g_dbus_connection_signal_unsubscribe (self->connection, self->stopped_id);
  if (self->owner_id != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->owner_id);
  g_signal_handler_disconnect (self->connection, self->closed_id);

  g_clear_pointer (&self->watch, remote_watch_unref);
  g_clear_object (&self->connection);
  g_free (self->bus_name);
  g_free (self->object_path);
  g_free (self->name);
  g_free (self->cast_type);
  g_free (self->call_type);

  G_OBJECT_CLASS (gen_remote_parent_class)->finalize (object);
}

static void
gen_remote_class_init (GenRemoteClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = gen_remote_finalize;
}

static void
gen_remote_init (GenRemote *self)
{
}

static gchar *
type_property (GVariant    *properties,
               const gchar *name)
{
  const gchar *type_string = NULL;

  if (!g_variant_lookup (properties, name, "&s", &type_string) || type_string[0] == '\0')
    return NULL;
  return g_strdup (type_string);
}

/**
 * gen_remote_new_sync:
 * @connection: a #GDBusConnection: to a message bus, or peer-to-peer
 * @bus_name: (nullable): the bus name of the server's process, unique or
 *   well-known; %NULL for a peer-to-peer connection
 * @object_path: the object path the server was exported at
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Reaches the server exported at @object_path by the process that owns
 * @bus_name (see [method@Gen.Server.export]), and reads what it declares:
 * its name, message types and message size limit.
 *
 * The remote's monitors are told when the server stops, and when the
 * connection closes or @bus_name loses the owner it had now. They hear of
 * it on the thread-default [struct@GLib.MainContext] of the calling thread,
 * which must be iterated.
 *
 * ```c
 * g_autoptr(GDBusConnection) peer =
 *   g_dbus_connection_new_for_address_sync ("unix:path=/run/user/1000/counter",
 *                                           G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
 *                                           NULL, NULL, &error);
 * g_autoptr(GenRemote) counter = gen_remote_new_sync (peer, NULL, "/org/example/Counter",
 *                                                     NULL, &error);
 * ```
 *
 * Returns: (transfer full): the remote server, or %NULL with
 *   %GEN_SERVER_ERROR_NOT_FOUND if nothing is exported there, or another
 *   error
 *
 * Since: 1.0
 */
GenRemote *
gen_remote_new_sync (GDBusConnection  *connection,
                     const gchar      *bus_name,
                     const gchar      *object_path,
                     GCancellable     *cancellable,
                     GError          **error)
{
  g_autoptr(GenRemote) self = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) properties = NULL;
  g_autofree gchar *owner = NULL;
  GError *local_error = NULL;
  const gchar *name = NULL;

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (connection), NULL);
  g_return_val_if_fail (bus_name == NULL || g_dbus_is_name (bus_name), NULL);
  g_return_val_if_fail (object_path != NULL && g_variant_is_object_path (object_path), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gen_dbus_error_ensure ();

  /* The owner first, so that a vanishing after this is noticed. */
  if (bus_name != NULL && !g_dbus_is_unique_name (bus_name))
    {
      reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus",
                                           "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                           "GetNameOwner", g_variant_new ("(s)", bus_name),
                                           G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE,
                                           -1, cancellable, &local_error);
      if (reply == NULL)
        {
          g_dbus_error_strip_remote_error (local_error);
          g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND,
                       "no process owns %s: %s", bus_name, local_error->message);
          g_error_free (local_error);
          return NULL;
        }
      g_variant_get (reply, "(s)", &owner);
      g_clear_pointer (&reply, g_variant_unref);
    }
  else
    {
      owner = g_strdup (bus_name);
    }

  self = g_object_new (GEN_TYPE_REMOTE, NULL);
  self->connection = g_object_ref (connection);
  self->bus_name = g_strdup (bus_name);
  self->object_path = g_strdup (object_path);
  self->name = g_strdup (object_path); /* until the server says */

  self->watch = g_new0 (RemoteWatch, 1);
  self->watch->ref_count = 1;
  g_weak_ref_init (&self->watch->remote, self);
  self->watch->owner = g_strdup (owner);
  self->watch->monitors = gen_monitor_set_new (NULL);

  /* Subscribed before the properties are read: a stop after that is
   * heard. */
  self->stopped_id =
    g_dbus_connection_signal_subscribe (connection, owner, GEN_DBUS_INTERFACE, "Stopped",
                                        object_path, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                        remote_stopped_cb, remote_watch_ref (self->watch),
                                        remote_watch_unref);
  if (bus_name != NULL)
    self->owner_id =
      g_dbus_connection_signal_subscribe (connection, "org.freedesktop.DBus",
                                          "org.freedesktop.DBus", "NameOwnerChanged",
                                          "/org/freedesktop/DBus", bus_name,
                                          G_DBUS_SIGNAL_FLAGS_NONE,
                                          remote_owner_changed_cb,
                                          remote_watch_ref (self->watch),
                                          remote_watch_unref);
  self->closed_id = g_signal_connect_data (connection, "closed",
                                           G_CALLBACK (remote_connection_closed_cb),
                                           remote_watch_ref (self->watch),
                                           (GClosureNotify) (void (*) (void)) remote_watch_unref,
                                           G_CONNECT_DEFAULT);

  reply = g_dbus_connection_call_sync (connection, bus_name, object_path,
                                       "org.freedesktop.DBus.Properties", "GetAll",
                                       g_variant_new ("(s)", GEN_DBUS_INTERFACE),
                                       G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                                       -1, cancellable, &local_error);
  if (reply == NULL)
    {
      if (g_dbus_error_is_remote_error (local_error))
        g_dbus_error_strip_remote_error (local_error);
      if (local_error->domain == G_DBUS_ERROR)
        {
          g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND,
                       "no server is exported at %s: %s", object_path, local_error->message);
          g_error_free (local_error);
        }
      else
        {
          g_propagate_error (error, local_error);
        }
      return NULL;
    }

  properties = g_variant_get_child_value (reply, 0);
  if (!g_variant_lookup (properties, "Name", "&s", &name) ||
      !g_variant_lookup (properties, "MaxMessageSize", "t", &self->max_message_size))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND,
                   "the object at %s is not a server", object_path);
      return NULL;
    }
  g_free (self->name);
  self->name = g_strdup (name);
  self->cast_type = type_property (properties, "CastType");
  self->call_type = type_property (properties, "CallType");
  if ((self->cast_type != NULL && !g_variant_type_string_is_valid (self->cast_type)) ||
      (self->call_type != NULL && !g_variant_type_string_is_valid (self->call_type)))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_TYPE,
                   "%s declares message types that are not GVariant types", self->name);
      return NULL;
    }

  return g_steal_pointer (&self);
}

/**
 * gen_remote_new_for_name:
 * @connection: a #GDBusConnection: to a message bus, or peer-to-peer
 * @bus_name: (nullable): the bus name of the registry's process; %NULL for
 *   a peer-to-peer connection
 * @registry_path: the object path the registry was exported at with
 *   [method@Gen.Registry.export]
 * @name: the name the server is registered under
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Reaches the server registered as @name in a registry of another process,
 * as [ctor@Gen.Remote.new_sync] reaches an exported server. The name is
 * resolved by the registry for every message: after a restart, the remote
 * reaches the new instance.
 *
 * ```c
 * g_autoptr(GenRemote) worker = gen_remote_new_for_name (bus, "org.example.Service",
 *                                                        "/org/example/Names", "worker",
 *                                                        NULL, &error);
 * ```
 *
 * Returns: (transfer full): the remote server, or %NULL with
 *   %GEN_SERVER_ERROR_NOT_FOUND if no server holds the name, or another
 *   error
 *
 * Since: 1.0
 */
GenRemote *
gen_remote_new_for_name (GDBusConnection  *connection,
                         const gchar      *bus_name,
                         const gchar      *registry_path,
                         const gchar      *name,
                         GCancellable     *cancellable,
                         GError          **error)
{
  g_autofree gchar *node = NULL;
  g_autofree gchar *object_path = NULL;

  g_return_val_if_fail (registry_path != NULL && g_variant_is_object_path (registry_path), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  node = g_dbus_escape_object_path (name);
  object_path = g_str_equal (registry_path, "/") ?
                g_strconcat ("/", node, NULL) :
                g_strconcat (registry_path, "/", node, NULL);
  return gen_remote_new_sync (connection, bus_name, object_path, cancellable, error);
}

/* Calls ------------------------------------------------------------------ */

/* The parameters of the Call (@is_call) or Cast method for @message, which
 * it sinks, or NULL if the message cannot go. */
static GVariant *
remote_parameters (GenRemote  *self,
                   gboolean    is_call,
                   GVariant   *message,
                   gint        timeout_ms,
                   GError    **error)
{
  g_autoptr(GVariant) owned_message = g_variant_ref_sink (message);

  if (!remote_check_message (self, is_call ? self->call_type : self->cast_type,
                             is_call ? "call" : "cast", owned_message, error) ||
      !remote_check_connection (self, error))
    return NULL;
  /* Not ahead of this thread's casts still in a batch (a node's link). */
  if (is_call)
    gen_cast_batch_flush (self->connection);
  return g_variant_ref_sink (is_call ?
                             g_variant_new ("(vi)", owned_message, timeout_ms) :
                             g_variant_new ("(v)", owned_message));
}

/* The reply of a Call method (@reply, NULL with @call_error, which it
 * takes), unpacked or mapped into GEN_SERVER_ERROR. */
static GVariant *
remote_call_result (GenRemote  *self,
                    GVariant   *reply,
                    GError     *call_error,
                    gint        timeout_ms,
                    GError    **error)
{
  GVariant *inner = NULL;

  if (reply == NULL)
    {
      g_propagate_error (error, gen_dbus_error_from_call (call_error, self->name,
                                                          self->object_path, timeout_ms));
      return NULL;
    }

  g_variant_get (reply, "(v)", &inner);
  g_variant_unref (reply);
  return inner;
}

/**
 * gen_remote_call:
 * @self: a #GenRemote
 * @message: the request; a floating reference is sunk
 * @timeout_ms: how long to wait for the reply, in milliseconds, or a
 *   negative number to wait as long as it takes
 * @error: return location for an error
 *
 * Calls the remote server's `handle_call` with @message and waits for the
 * reply, as [method@Gen.Server.call] does locally. @timeout_ms travels with
 * the request: a request still in the server's mailbox when it runs out is
 * never handled, and a late reply is dropped.
 *
 * ```c
 * g_autoptr(GVariant) count = gen_remote_call (counter, g_variant_new ("(si)", "get", 0),
 *                                              GEN_SERVER_DEFAULT_TIMEOUT, &error);
 * ```
 *
 * Returns: (transfer full): the reply, or %NULL with the handler's error,
 *   %GEN_SERVER_ERROR_INVALID_MESSAGE (refused in the caller),
 *   %GEN_SERVER_ERROR_TIMEOUT, %GEN_SERVER_ERROR_NOT_RUNNING,
 *   %GEN_SERVER_ERROR_NO_CONNECTION (the peer vanished),
 *   %GEN_SERVER_ERROR_STOPPED (unexported before it answered), ...
 *
 * Since: 1.0
 */
GVariant *
gen_remote_call (GenRemote  *self,
                 GVariant   *message,
                 gint        timeout_ms,
                 GError    **error)
{
  g_autoptr(GVariant) parameters = NULL;
  GVariant *reply;
  GError *local_error = NULL;

  g_return_val_if_fail (GEN_IS_REMOTE (self), NULL);
  g_return_val_if_fail (message != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  parameters = remote_parameters (self, TRUE, message, timeout_ms, error);
  if (parameters == NULL)
    return NULL;

  reply = g_dbus_connection_call_sync (self->connection, self->bus_name, self->object_path,
                                       GEN_DBUS_INTERFACE, "Call", parameters,
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE,
                                       dbus_timeout (timeout_ms), NULL, &local_error);
  return remote_call_result (self, reply, local_error, timeout_ms, error);
}

static void
remote_call_done_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      data)
{
  g_autoptr(GTask) task = data;
  GVariant *reply;
  GVariant *inner;
  GError *call_error = NULL;
  GError *error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &call_error);
  inner = remote_call_result (g_task_get_source_object (task), reply, call_error,
                              GPOINTER_TO_INT (g_task_get_task_data (task)), &error);
  if (inner == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, inner, (GDestroyNotify) g_variant_unref);
}

/**
 * gen_remote_call_async:
 * @self: a #GenRemote
 * @message: the request; a floating reference is sunk
 * @timeout_ms: how long to wait for the reply, in milliseconds, or a
 *   negative number to wait as long as it takes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the result
 * @user_data: data for @callback
 *
 * Calls the remote server without blocking, as
 * [method@Gen.Server.call_async] does locally. @callback runs on the
 * thread-default [struct@GLib.MainContext] of the calling thread, from a
 * later iteration; get the result there with
 * [method@Gen.Remote.call_finish].
 *
 * ```c
 * gen_remote_call_async (counter, g_variant_new ("(si)", "get", 0),
 *                        GEN_SERVER_DEFAULT_TIMEOUT, NULL, count_cb, app);
 * ```
 *
 * Since: 1.0
 */
void
gen_remote_call_async (GenRemote           *self,
                       GVariant            *message,
                       gint                 timeout_ms,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GVariant) parameters = NULL;
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;

  g_return_if_fail (GEN_IS_REMOTE (self));
  g_return_if_fail (message != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, gen_remote_call_async);
  g_task_set_name (task, "[genserver] remote call");
  g_task_set_task_data (task, GINT_TO_POINTER (timeout_ms), NULL);

  parameters = remote_parameters (self, TRUE, message, timeout_ms, &error);
  if (parameters == NULL)
    {
      /* GTask completes it from a later iteration: never inside this call. */
      g_task_return_error (task, error);
      return;
    }

  g_dbus_connection_call (self->connection, self->bus_name, self->object_path,
                          GEN_DBUS_INTERFACE, "Call", parameters,
                          G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE,
                          dbus_timeout (timeout_ms), cancellable,
                          remote_call_done_cb, g_steal_pointer (&task));
}

/**
 * gen_remote_call_finish:
 * @self: a #GenRemote
 * @result: the #GAsyncResult given to the callback
 * @error: return location for an error
 *
 * Finishes a call started with [method@Gen.Remote.call_async].
 *
 * Returns: (transfer full): the reply, or %NULL with an error as for
 *   [method@Gen.Remote.call], or %G_IO_ERROR_CANCELLED
 *
 * Since: 1.0
 */
GVariant *
gen_remote_call_finish (GenRemote     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (GEN_IS_REMOTE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == gen_remote_call_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * gen_remote_cast:
 * @self: a #GenRemote
 * @message: the message; a floating reference is sunk
 * @error: return location for an error
 *
 * Sends @message to the remote server's `handle_cast`, as a D-Bus method
 * call that expects no reply: it never waits for the server. As with
 * Erlang's casts to another node, a message that reaches a server that
 * stopped is lost without a word; a monitor tells you that the server is
 * down. So is one that finds the server's mailbox full, or the export's
 * bound on messages from peers reached: it is counted in the server's
 * `casts-refused` (the `CastsRefused` D-Bus property), and
 * [method@Gen.Remote.cast_checked] reports it instead.
 *
 * ```c
 * gen_remote_cast (counter, g_variant_new ("(si)", "add", 1), &error);
 * ```
 *
 * Returns: %TRUE if the message was sent, %FALSE with
 *   %GEN_SERVER_ERROR_INVALID_MESSAGE (refused in the caller) or
 *   %GEN_SERVER_ERROR_NO_CONNECTION if the connection is closed
 *
 * Since: 1.0
 */
gboolean
gen_remote_cast (GenRemote  *self,
                 GVariant   *message,
                 GError    **error)
{
  g_autoptr(GVariant) parameters = NULL;
  g_autoptr(GVariant) owned_message = NULL;
  g_autoptr(GDBusMessage) dbus_message = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (GEN_IS_REMOTE (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  parameters = remote_parameters (self, FALSE, message, 0, error);
  if (parameters == NULL)
    return FALSE;

  g_variant_get (parameters, "(v)", &owned_message);
  if (gen_cast_batch_push (self->connection, self->object_path, owned_message))
    return TRUE;

  /* Sent as a message rather than through g_dbus_connection_call(), which
   * would say nothing of a connection found closed. */
  dbus_message = g_dbus_message_new_method_call (self->bus_name, self->object_path,
                                                 GEN_DBUS_INTERFACE, "Cast");
  g_dbus_message_set_body (dbus_message, parameters);
  g_dbus_message_set_flags (dbus_message, G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED);
  if (!g_dbus_connection_send_message (self->connection, dbus_message,
                                       G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL, &local_error))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION,
                   "noconnection: cannot send to %s: %s", self->name, local_error->message);
      g_error_free (local_error);
      return FALSE;
    }

  return TRUE;
}

/**
 * gen_remote_cast_checked:
 * @self: a #GenRemote
 * @message: the message; a floating reference is sunk
 * @timeout_ms: how long to wait for the exporting process's answer, in
 *   milliseconds, or a negative number to wait as long as it takes
 * @error: return location for an error
 *
 * Casts @message as [method@Gen.Remote.cast] does, and waits for the
 * exporting process to say whether it was queued: a cast with an
 * acknowledgement. It waits for the mailbox, never for the handler.
 *
 * A plain remote cast that finds the mailbox full is dropped and only
 * counted (in the server's `casts-refused`); this one reports it, with
 * %GEN_SERVER_ERROR_MAILBOX_FULL, whatever the server's
 * [property@Gen.Server:mailbox-policy]: the exporting process never waits
 * for room on behalf of a peer.
 *
 * ```c
 * if (!gen_remote_cast_checked (sink, message, GEN_SERVER_DEFAULT_TIMEOUT, &error) &&
 *     g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL))
 *   retry_later (message);
 * ```
 *
 * Returns: %TRUE if the message was queued, %FALSE with
 *   %GEN_SERVER_ERROR_MAILBOX_FULL, %GEN_SERVER_ERROR_NOT_RUNNING,
 *   %GEN_SERVER_ERROR_INVALID_MESSAGE, %GEN_SERVER_ERROR_TIMEOUT,
 *   %GEN_SERVER_ERROR_NO_CONNECTION, ...
 *
 * Since: 1.2
 */
gboolean
gen_remote_cast_checked (GenRemote  *self,
                         GVariant   *message,
                         gint        timeout_ms,
                         GError    **error)
{
  g_autoptr(GVariant) parameters = NULL;
  g_autoptr(GVariant) reply = NULL;
  GError *local_error = NULL;

  g_return_val_if_fail (GEN_IS_REMOTE (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  parameters = remote_parameters (self, FALSE, message, 0, error);
  if (parameters == NULL)
    return FALSE;
  /* In order with this thread's casts still in a batch. */
  gen_cast_batch_flush (self->connection);

  reply = g_dbus_connection_call_sync (self->connection, self->bus_name, self->object_path,
                                       GEN_DBUS_INTERFACE, "Cast", parameters,
                                       G_VARIANT_TYPE_UNIT, G_DBUS_CALL_FLAGS_NONE,
                                       dbus_timeout (timeout_ms), NULL, &local_error);
  if (reply == NULL)
    {
      g_propagate_error (error, gen_dbus_error_from_call (local_error, self->name,
                                                          self->object_path, timeout_ms));
      return FALSE;
    }
  return TRUE;
}

/* Monitoring ------------------------------------------------------------- */

typedef struct
{
  RemoteWatch *watch; /* owned reference */
  guint monitor_id;
} RunningCheck;

static void
remote_running_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  RunningCheck *check = data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) running = NULL;
  g_autoptr(GError) error = NULL;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply != NULL)
    g_variant_get (reply, "(v)", &running);

  /* A round trip that failed because the peer went away meanwhile says
   * nothing of the server: the connection's or the name's watch reports
   * that, as noconnection. */
  if (reply == NULL &&
      (gen_dbus_error_is_lost_peer (error) ||
       g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
       g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER)))
    ;
  else if (running == NULL || !g_variant_is_of_type (running, G_VARIANT_TYPE_BOOLEAN) ||
           !g_variant_get_boolean (running))
    {
      g_autoptr(GError) reason = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING,
                                              "the server is not running");
      g_autoptr(GenRemote) remote = g_weak_ref_get (&check->watch->remote);

      if (remote != NULL)
        gen_monitor_set_fire_one (check->watch->monitors, check->monitor_id, remote, reason);
    }

  remote_watch_unref (check->watch);
  g_free (check);
}

/**
 * gen_remote_monitor:
 * @self: a #GenRemote
 * @func: (scope notified) (closure user_data) (destroy destroy): called once
 *   when the server is down
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data once the monitor is done
 *
 * Asks to be told when the remote server goes down, as
 * [method@Gen.Server.monitor] does locally: @func runs once, on the
 * thread-default [struct@GLib.MainContext] of the calling thread, with the
 * reason of the server's stop (%NULL for a normal one), or, like Erlang's
 * `noconnection`, with a %GEN_SERVER_ERROR_NO_CONNECTION reason (its
 * message starts with `noconnection`) when the connection closes or the
 * bus name loses its owner. 1.0 gave %GEN_SERVER_ERROR_STOPPED there;
 * test the code (the message keeps its prefix).
 *
 * A server that is not running when the monitor is set up is reported at
 * once with %GEN_SERVER_ERROR_NOT_RUNNING (Erlang's `noproc`); finding
 * that out takes a round trip to the server.
 *
 * ```c
 * gen_remote_monitor (counter, counter_down_cb, app, NULL);
 * ```
 *
 * Returns: the monitor's id, for [method@Gen.Remote.demonitor]; never 0
 *
 * Since: 1.0
 */
guint
gen_remote_monitor (GenRemote            *self,
                    GenRemoteMonitorFunc  func,
                    gpointer              user_data,
                    GDestroyNotify        destroy)
{
  g_autoptr(GMainContext) context = NULL;
  RunningCheck *check;
  guint id;

  g_return_val_if_fail (GEN_IS_REMOTE (self), 0);
  g_return_val_if_fail (func != NULL, 0);

  /* Told at once, from the context, if the peer is gone for good. */
  context = g_main_context_ref_thread_default ();
  id = gen_monitor_set_add (self->watch->monitors, (GenMonitorFunc) func, user_data, destroy,
                            context, GEN_MONITOR_PUBLIC, self);

  /* Asked after the monitor is in place, and answered in order with the
   * Stopped signal: a stop either comes as a signal before the answer, or
   * the answer says the server is not running. */
  check = g_new0 (RunningCheck, 1);
  check->watch = remote_watch_ref (self->watch);
  check->monitor_id = id;
  g_dbus_connection_call (self->connection, self->bus_name, self->object_path,
                          "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new ("(ss)", GEN_DBUS_INTERFACE, "Running"),
                          G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          remote_running_cb, check);
  return id;
}

/**
 * gen_remote_demonitor:
 * @self: a #GenRemote
 * @monitor_id: an id from [method@Gen.Remote.monitor]
 *
 * Removes a monitor. Once this returns %TRUE, its function will never run.
 *
 * Returns: %TRUE if the monitor was removed, %FALSE if its function already
 *   ran (or is running), or the id is not one of @self's monitors
 *
 * Since: 1.0
 */
gboolean
gen_remote_demonitor (GenRemote *self,
                      guint      monitor_id)
{
  g_return_val_if_fail (GEN_IS_REMOTE (self), FALSE);

  return gen_monitor_set_remove (self->watch->monitors, monitor_id);
}

/* Accessors -------------------------------------------------------------- */

/**
 * gen_remote_get_connection:
 * @self: a #GenRemote
 *
 * Gets the connection the remote server is reached through.
 *
 * Returns: (transfer none): the connection
 *
 * Since: 1.0
 */
GDBusConnection *
gen_remote_get_connection (GenRemote *self)
{
  g_return_val_if_fail (GEN_IS_REMOTE (self), NULL);
  return self->connection;
}

/**
 * gen_remote_get_bus_name:
 * @self: a #GenRemote
 *
 * Gets the bus name given to [ctor@Gen.Remote.new_sync].
 *
 * Returns: (nullable): the bus name, or %NULL peer-to-peer
 *
 * Since: 1.0
 */
const gchar *
gen_remote_get_bus_name (GenRemote *self)
{
  g_return_val_if_fail (GEN_IS_REMOTE (self), NULL);
  return self->bus_name;
}

/**
 * gen_remote_get_object_path:
 * @self: a #GenRemote
 *
 * Gets the object path the server is exported at.
 *
 * Returns: the object path
 *
 * Since: 1.0
 */
const gchar *
gen_remote_get_object_path (GenRemote *self)
{
  g_return_val_if_fail (GEN_IS_REMOTE (self), NULL);
  return self->object_path;
}

/**
 * gen_remote_get_name:
 * @self: a #GenRemote
 *
 * Gets the remote server's type name, as its errors name it.
 *
 * Returns: the name
 *
 * Since: 1.0
 */
const gchar *
gen_remote_get_name (GenRemote *self)
{
  g_return_val_if_fail (GEN_IS_REMOTE (self), NULL);
  return self->name;
}

/**
 * gen_remote_get_cast_type:
 * @self: a #GenRemote
 *
 * Gets the type the remote server's cast messages must have, as its
 * [property@Gen.Server:cast-type] says.
 *
 * Returns: (nullable): the type string, or %NULL for any type
 *
 * Since: 1.0
 */
const gchar *
gen_remote_get_cast_type (GenRemote *self)
{
  g_return_val_if_fail (GEN_IS_REMOTE (self), NULL);
  return self->cast_type;
}

/**
 * gen_remote_get_call_type:
 * @self: a #GenRemote
 *
 * Gets the type the remote server's call requests must have, as its
 * [property@Gen.Server:call-type] says.
 *
 * Returns: (nullable): the type string, or %NULL for any type
 *
 * Since: 1.0
 */
const gchar *
gen_remote_get_call_type (GenRemote *self)
{
  g_return_val_if_fail (GEN_IS_REMOTE (self), NULL);
  return self->call_type;
}
