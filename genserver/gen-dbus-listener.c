/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-dbus-listener.h"
#include "gen-dbus-listener-private.h"
#include "gen-dbus-private.h"
#include "gen-export.h"
#include "gen-listener-private.h"

/*
 * The public face of gen-listener.c, the listener GenNode also uses: what
 * a GDBusServer user expects (exports on every connection, a
 * new-connection signal, close) over its bounded handshakes. Everything
 * but the limits lives on the listener's context, so no lock is held
 * across a GDBus call; calls from other threads hop onto that context
 * (gen_dbus_run_on_context()).
 */

/**
 * GenDBusListener:
 *
 * Serves exported servers peer-to-peer, with no bus: listens on a socket
 * and exports the servers given to [method@Gen.DBusListener.export] on
 * every D-Bus connection it accepts, as a [class@Gio.DBusServer] whose
 * `new-connection` handler calls [method@Gen.Server.export] would, but
 * with the handshakes bounded.
 *
 * A peer must get through the D-Bus authentication before it reaches a
 * server, and the listener bounds what that can cost:
 * [property@Gen.DBusListener:max-handshakes] connections at most may be
 * on their way in at once (one more is closed before a byte is read), and
 * each gets [property@Gen.DBusListener:handshake-timeout] to finish (then
 * its socket is shut down). A `GDBusServer` gives each handshake a thread
 * for as long as the peer likes, so peers that connect and say nothing
 * hold threads; here they hold at most `max-handshakes`, for at most the
 * timeout.
 *
 * Admission is the authentication observer's
 * ([func@Gen.dbus_auth_observer_new]); without one, only processes of the
 * same user are admitted, as the kernel tells (the `EXTERNAL` mechanism
 * on a unix socket).
 *
 * ```c
 * g_autoptr(GenDBusListener) listener =
 *   gen_dbus_listener_new ("unix:path=/run/user/1000/counter", NULL, &error);
 *
 * gen_dbus_listener_export (listener, counter, "/org/example/Counter", &error);
 * // Clients: g_dbus_connection_new_for_address_sync (the client address,
 * //          G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, ...), then
 * //          gen_remote_new_sync (connection, NULL, "/org/example/Counter", ...).
 * ```
 *
 * ```python
 * listener = Gen.DBusListener.new('unix:path=/run/user/1000/counter', None)
 * listener.export(counter, '/org/example/Counter')
 * ```
 *
 * A listener belongs to the thread-default [struct@GLib.MainContext] of
 * the thread that made it, which must be iterated: the handshakes finish
 * there, [signal@Gen.DBusListener::new-connection] is emitted there, and
 * the exported servers' D-Bus messages are dispatched there (their
 * handlers still run on the servers' own threads). Its methods may be
 * called from any thread; from another one, they wait for that context
 * to run them, so they must not be called from a thread the context's
 * own thread is waiting for. A thread that leaves a context of its own
 * for good closes the listener, then iterates the context once more
 * (`while (g_main_context_iteration (context, FALSE));`, as GIO's socket
 * service needs) before it lets the context go: handshakes still on
 * their way are then freed with the context.
 *
 * Since: 1.2
 */

/* One server exported on every connection. The context only. */
typedef struct
{
  GWeakRef server;
  gchar *object_path; /* owned */
} ListenerExport;

struct _GenDBusListener
{
  GObject parent_instance;

  /* Construct-only, then immutable. */
  gchar *address;                 /* owned */
  GDBusAuthObserver *observer;    /* owned: the given one, or a same-user one */
  GMainContext *context;          /* owned: the thread-default one at init */
  gchar *client_address;          /* owned */

  GMutex lock;
  GenListener *listener;          /* lock; owned until closed, NULL after */
  gboolean closing;               /* lock: close() was called */
  guint max_handshakes;           /* lock */
  guint handshake_timeout_ms;     /* lock */

  /* The context only. */
  GPtrArray *connections;         /* GDBusConnection (owned): accepted, not closed */
  GPtrArray *exports;             /* ListenerExport (owned) */
  gboolean closed;                /* the close job ran */
};

enum
{
  PROP_0,
  PROP_ADDRESS,
  PROP_AUTHENTICATION_OBSERVER,
  PROP_CLIENT_ADDRESS,
  PROP_MAX_HANDSHAKES,
  PROP_HANDSHAKE_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_NEW_CONNECTION,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void gen_dbus_listener_initable_iface_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (GenDBusListener, gen_dbus_listener, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      gen_dbus_listener_initable_iface_init))

static void
listener_export_free (gpointer data)
{
  ListenerExport *export = data;

  g_weak_ref_clear (&export->server);
  g_free (export->object_path);
  g_free (export);
}

/* Connections ------------------------------------------------------------ */

/* Its exports end by themselves (gen-dbus.c watches the connection too). */
static void
connection_closed_cb (GDBusConnection *connection,
                      gboolean         remote_peer_vanished,
                      GError          *error,
                      gpointer         data)
{
  GenDBusListener *self = data;

  g_signal_handlers_disconnect_by_data (connection, self);
  g_ptr_array_remove (self->connections, connection);
}

static void
listener_accept_cb (GenListener     *listener,
                    GDBusConnection *connection,
                    gpointer         data)
{
  g_autoptr(GenDBusListener) self = g_object_ref (data); /* a handler may drop the last */

  g_ptr_array_add (self->connections, g_object_ref (connection));
  g_signal_connect (connection, "closed", G_CALLBACK (connection_closed_cb), self);

  for (guint i = 0; i < self->exports->len; i++)
    {
      ListenerExport *export = g_ptr_array_index (self->exports, i);
      g_autoptr(GenServer) server = g_weak_ref_get (&export->server);
      g_autoptr(GError) error = NULL;

      if (server != NULL && !gen_server_export (server, connection, export->object_path, &error))
        g_warning ("D-Bus listener %s: cannot export %s on a new connection: %s",
                   self->client_address, export->object_path, error->message);
    }

  g_signal_emit (self, signals[SIGNAL_NEW_CONNECTION], 0, connection);
  /* Only now: a peer's first message finds every export in place. (A
   * handler that closed the listener closed the connection too.) */
  if (!self->closed)
    g_dbus_connection_start_message_processing (connection);
}

/* Jobs ------------------------------------------------------------------- */

typedef struct
{
  GenDBusListener *self;
  GenServer *server;
  const gchar *object_path;
  gboolean done;
  GError *error;
} ExportJob;

static ListenerExport *
find_export (GenDBusListener *self,
             GenServer       *server)
{
  for (guint i = 0; i < self->exports->len; i++)
    {
      ListenerExport *export = g_ptr_array_index (self->exports, i);
      g_autoptr(GenServer) exported = g_weak_ref_get (&export->server);

      if (exported == server)
        return export;
    }
  return NULL;
}

/* Forgets the servers finalized since they were exported, so that a
 * program exporting short-lived servers does not grow the list. */
static void
forget_finalized (GenDBusListener *self)
{
  for (guint i = self->exports->len; i-- > 0;)
    {
      ListenerExport *export = g_ptr_array_index (self->exports, i);
      g_autoptr(GenServer) server = g_weak_ref_get (&export->server);

      if (server == NULL)
        g_ptr_array_remove_index_fast (self->exports, i);
    }
}

static gboolean
export_job_run (gpointer data)
{
  ExportJob *job = data;
  GenDBusListener *self = job->self;
  ListenerExport *export;
  guint i;

  forget_finalized (self);

  if (self->closed)
    {
      g_set_error (&job->error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                   "the D-Bus listener %s is closed", self->client_address);
      return G_SOURCE_REMOVE;
    }
  if (find_export (self, job->server) != NULL)
    {
      g_set_error (&job->error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "the server is already exported on the D-Bus listener %s",
                   self->client_address);
      return G_SOURCE_REMOVE;
    }

  for (i = 0; i < self->connections->len; i++)
    if (!gen_server_export (job->server, g_ptr_array_index (self->connections, i),
                            job->object_path, &job->error))
      break;
  if (job->error != NULL)
    {
      while (i-- > 0)
        gen_server_unexport (job->server, g_ptr_array_index (self->connections, i));
      return G_SOURCE_REMOVE;
    }

  export = g_new0 (ListenerExport, 1);
  g_weak_ref_init (&export->server, job->server);
  export->object_path = g_strdup (job->object_path);
  g_ptr_array_add (self->exports, export);
  job->done = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
unexport_job_run (gpointer data)
{
  ExportJob *job = data;
  GenDBusListener *self = job->self;
  ListenerExport *export = find_export (self, job->server);

  if (export == NULL)
    return G_SOURCE_REMOVE;

  for (guint i = 0; i < self->connections->len; i++)
    gen_server_unexport (job->server, g_ptr_array_index (self->connections, i));
  g_ptr_array_remove_fast (self->exports, export);
  job->done = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
close_job_run (gpointer data)
{
  GenDBusListener *self = data;
  g_autoptr(GPtrArray) connections = NULL;
  GenListener *listener;

  if (self->closed)
    return G_SOURCE_REMOVE;
  self->closed = TRUE;

  g_mutex_lock (&self->lock);
  listener = g_steal_pointer (&self->listener);
  g_mutex_unlock (&self->lock);
  gen_listener_close (listener);

  connections = g_steal_pointer (&self->connections);
  self->connections = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < connections->len; i++)
    {
      GDBusConnection *connection = g_ptr_array_index (connections, i);

      g_signal_handlers_disconnect_by_data (connection, self);
      /* Unexported here rather than when the connection says it closed,
       * which it does on this context, maybe never iterated again. */
      for (guint j = 0; j < self->exports->len; j++)
        {
          ListenerExport *export = g_ptr_array_index (self->exports, j);
          g_autoptr(GenServer) server = g_weak_ref_get (&export->server);

          if (server != NULL)
            gen_server_unexport (server, connection);
        }
      g_dbus_connection_close (connection, NULL, NULL, NULL);
    }
  g_ptr_array_set_size (self->exports, 0);
  return G_SOURCE_REMOVE;
}

/* The object ------------------------------------------------------------- */

static gboolean
gen_dbus_listener_initable_init (GInitable     *initable,
                                 GCancellable  *cancellable,
                                 GError       **error)
{
  GenDBusListener *self = GEN_DBUS_LISTENER (initable);
  GenListener *listener;

  g_return_val_if_fail (self->context == NULL, FALSE);

  if (self->address == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "a D-Bus listener needs an address");
      return FALSE;
    }
  if (self->observer == NULL)
    self->observer = gen_dbus_auth_observer_new (NULL, 0, FALSE);

  listener = gen_listener_new (self->address, NULL, NULL, self->observer, listener_accept_cb,
                               self, error);
  if (listener == NULL)
    return FALSE;

  self->context = g_main_context_ref_thread_default ();
  self->client_address = g_strdup (gen_listener_get_address (listener));
  g_mutex_lock (&self->lock);
  self->listener = listener;
  gen_listener_set_limits (listener, self->max_handshakes, self->handshake_timeout_ms);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static void
gen_dbus_listener_initable_iface_init (GInitableIface *iface)
{
  iface->init = gen_dbus_listener_initable_init;
}

static void
gen_dbus_listener_dispose (GObject *object)
{
  GenDBusListener *self = GEN_DBUS_LISTENER (object);

  gen_dbus_listener_close (self);

  G_OBJECT_CLASS (gen_dbus_listener_parent_class)->dispose (object);
}

static void
gen_dbus_listener_finalize (GObject *object)
{
  GenDBusListener *self = GEN_DBUS_LISTENER (object);

  g_ptr_array_unref (self->connections);
  g_ptr_array_unref (self->exports);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->observer);
  g_free (self->address);
  g_free (self->client_address);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gen_dbus_listener_parent_class)->finalize (object);
}

/* Sets @field (one of the two limits) and hands both to the listener in
 * one locked section, so that two threads setting one each lose neither,
 * and none reaches a listener that close() let go of. */
static void
set_limit (GenDBusListener *self,
           guint           *field,
           guint            value,
           GParamSpec      *pspec)
{
  gboolean changed;

  g_mutex_lock (&self->lock);
  changed = *field != value;
  *field = value;
  if (self->listener != NULL)
    gen_listener_set_limits (self->listener, self->max_handshakes, self->handshake_timeout_ms);
  g_mutex_unlock (&self->lock);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), pspec);
}

static void
gen_dbus_listener_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  GenDBusListener *self = GEN_DBUS_LISTENER (object);

  switch (prop_id)
    {
    case PROP_ADDRESS:
      g_value_set_string (value, self->address);
      break;
    case PROP_AUTHENTICATION_OBSERVER:
      g_value_set_object (value, self->observer);
      break;
    case PROP_CLIENT_ADDRESS:
      g_value_set_string (value, self->client_address);
      break;
    case PROP_MAX_HANDSHAKES:
      g_mutex_lock (&self->lock);
      g_value_set_uint (value, self->max_handshakes);
      g_mutex_unlock (&self->lock);
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      g_mutex_lock (&self->lock);
      g_value_set_uint (value, self->handshake_timeout_ms);
      g_mutex_unlock (&self->lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_dbus_listener_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  GenDBusListener *self = GEN_DBUS_LISTENER (object);

  switch (prop_id)
    {
    case PROP_ADDRESS:
      self->address = g_value_dup_string (value);
      break;
    case PROP_AUTHENTICATION_OBSERVER:
      self->observer = g_value_dup_object (value);
      break;
    case PROP_MAX_HANDSHAKES:
      set_limit (self, &self->max_handshakes, g_value_get_uint (value), pspec);
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      set_limit (self, &self->handshake_timeout_ms, g_value_get_uint (value), pspec);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_dbus_listener_class_init (GenDBusListenerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = gen_dbus_listener_dispose;
  object_class->finalize = gen_dbus_listener_finalize;
  object_class->get_property = gen_dbus_listener_get_property;
  object_class->set_property = gen_dbus_listener_set_property;

  /**
   * GenDBusListener:address:
   *
   * Where to listen: `unix:path=…`, `unix:abstract=…`, or `tcp:host=…,port=…`
   * with an IP address (port 0 picks one). TCP carries no credentials:
   * give it an observer that allows `DBUS_COOKIE_SHA1`
   * ([func@Gen.dbus_auth_observer_new]), on a trusted network only.
   *
   * Since: 1.2
   */
  properties[PROP_ADDRESS] =
    g_param_spec_string ("address", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * GenDBusListener:authentication-observer:
   *
   * Who is admitted, as for a [class@Gio.DBusServer]; %NULL stands for
   * [func@Gen.dbus_auth_observer_new] with no user ids: processes of the
   * same user only.
   *
   * Since: 1.2
   */
  properties[PROP_AUTHENTICATION_OBSERVER] =
    g_param_spec_object ("authentication-observer", NULL, NULL, G_TYPE_DBUS_AUTH_OBSERVER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * GenDBusListener:client-address:
   *
   * The address clients give [ctor@Gio.DBusConnection.new_for_address_sync]:
   * [property@Gen.DBusListener:address] with the port picked, if it was 0.
   *
   * Since: 1.2
   */
  properties[PROP_CLIENT_ADDRESS] =
    g_param_spec_string ("client-address", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * GenDBusListener:max-handshakes:
   *
   * How many connections may be on their way in (connected, not yet
   * through the D-Bus authentication) at once: 32 by default. One more is
   * closed at once, before a byte is read. A change, from any thread,
   * applies to the connections that come after it.
   *
   * ```c
   * g_object_set (listener, "max-handshakes", 8, "handshake-timeout", 1000, NULL);
   * ```
   *
   * Since: 1.2
   */
  properties[PROP_MAX_HANDSHAKES] =
    g_param_spec_uint ("max-handshakes", NULL, NULL, 1, G_MAXUINT,
                       GEN_LISTENER_DEFAULT_MAX_HANDSHAKES,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS);

  /**
   * GenDBusListener:handshake-timeout:
   *
   * How long, in milliseconds, a connection may take to get through the
   * D-Bus authentication: 5000 by default. Past it, its socket is shut
   * down. A change, from any thread, applies to the connections that
   * come after it. As [property@Gen.Node:handshake-timeout].
   *
   * Since: 1.2
   */
  properties[PROP_HANDSHAKE_TIMEOUT] =
    g_param_spec_uint ("handshake-timeout", NULL, NULL, 1, G_MAXINT,
                       GEN_LISTENER_DEFAULT_HANDSHAKE_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * GenDBusListener::new-connection:
   * @self: the listener
   * @connection: the connection, authenticated and admitted
   *
   * Emitted on the listener's context for each connection it accepts,
   * once the servers of [method@Gen.DBusListener.export] are exported on
   * it and before its first message is read: export there what else
   * the peer should reach (a registry, the observer, a server with
   * bounds of its own through [method@Gen.Server.export_with_limits]).
   * The listener keeps the connection until it closes.
   *
   * ```c
   * static void
   * on_new_connection (GenDBusListener *listener, GDBusConnection *connection, gpointer data)
   * {
   *   gen_registry_export (data, connection, "/org/example/Names", NULL);
   * }
   * ```
   *
   * Since: 1.2
   */
  signals[SIGNAL_NEW_CONNECTION] =
    g_signal_new ("new-connection", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_DBUS_CONNECTION);
}

static void
gen_dbus_listener_init (GenDBusListener *self)
{
  g_mutex_init (&self->lock);
  self->connections = g_ptr_array_new_with_free_func (g_object_unref);
  self->exports = g_ptr_array_new_with_free_func (listener_export_free);
  self->max_handshakes = GEN_LISTENER_DEFAULT_MAX_HANDSHAKES;
  self->handshake_timeout_ms = GEN_LISTENER_DEFAULT_HANDSHAKE_TIMEOUT_MS;
}

/* API -------------------------------------------------------------------- */

/**
 * gen_dbus_listener_new:
 * @address: where to listen (see [property@Gen.DBusListener:address])
 * @observer: (nullable): who is admitted; %NULL for processes of the same
 *   user only
 * @error: return location for a #GError
 *
 * Listens on @address, on the thread-default main context of the calling
 * thread. Export servers with [method@Gen.DBusListener.export]; clients
 * connect to [method@Gen.DBusListener.get_client_address].
 *
 * ```c
 * g_autoptr(GError) error = NULL;
 * g_autoptr(GenDBusListener) listener =
 *   gen_dbus_listener_new ("unix:path=/run/user/1000/counter", NULL, &error);
 *
 * if (listener == NULL)
 *   g_warning ("cannot listen: %s", error->message);
 * ```
 *
 * Returns: (transfer full): the listener, listening; %NULL with @error
 *   set if @address is not one it serves or its socket cannot be made
 *
 * Since: 1.2
 */
GenDBusListener *
gen_dbus_listener_new (const gchar        *address,
                       GDBusAuthObserver  *observer,
                       GError            **error)
{
  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (observer == NULL || G_IS_DBUS_AUTH_OBSERVER (observer), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (GEN_TYPE_DBUS_LISTENER, NULL, error,
                         "address", address,
                         "authentication-observer", observer,
                         NULL);
}

/**
 * gen_dbus_listener_get_client_address:
 * @self: a #GenDBusListener
 *
 * Gets the address clients connect to; see
 * [property@Gen.DBusListener:client-address].
 *
 * ```c
 * g_autoptr(GDBusConnection) connection =
 *   g_dbus_connection_new_for_address_sync (gen_dbus_listener_get_client_address (listener),
 *                                           G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
 *                                           NULL, NULL, &error);
 * ```
 *
 * Returns: the address
 *
 * Since: 1.2
 */
const gchar *
gen_dbus_listener_get_client_address (GenDBusListener *self)
{
  g_return_val_if_fail (GEN_IS_DBUS_LISTENER (self), NULL);
  return self->client_address;
}

/**
 * gen_dbus_listener_export:
 * @self: a #GenDBusListener
 * @server: the server to export
 * @object_path: where peers find it
 * @error: return location for a #GError
 *
 * Exports @server at @object_path, as [method@Gen.Server.export] does, on
 * every connection the listener has accepted and on every one it accepts
 * from now on, until [method@Gen.DBusListener.unexport], the listener's
 * close, or @server's finalization (the listener does not keep @server
 * alive).
 *
 * ```c
 * if (!gen_dbus_listener_export (listener, counter, "/org/example/Counter", &error))
 *   g_warning ("not exported: %s", error->message);
 * ```
 *
 * Returns: %TRUE if exported; %FALSE with @error set if @server already is
 *   (%G_IO_ERROR_EXISTS), the listener is closed (%G_IO_ERROR_CLOSED), or
 *   a connection refused the export (an object already at @object_path)
 *
 * Since: 1.2
 */
gboolean
gen_dbus_listener_export (GenDBusListener  *self,
                          GenServer        *server,
                          const gchar      *object_path,
                          GError          **error)
{
  ExportJob job = { self, server, object_path, FALSE, NULL };

  g_return_val_if_fail (GEN_IS_DBUS_LISTENER (self), FALSE);
  g_return_val_if_fail (GEN_IS_SERVER (server), FALSE);
  g_return_val_if_fail (object_path != NULL && g_variant_is_object_path (object_path), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  gen_dbus_run_on_context (self->context, export_job_run, &job);
  if (!job.done)
    g_propagate_error (error, job.error);
  return job.done;
}

/**
 * gen_dbus_listener_unexport:
 * @self: a #GenDBusListener
 * @server: a server given to [method@Gen.DBusListener.export]
 *
 * Takes @server off every connection of the listener, and off the ones
 * to come. Calls still waiting for its answer fail with
 * %GEN_SERVER_ERROR_STOPPED, as with [method@Gen.Server.unexport].
 *
 * ```c
 * gen_dbus_listener_unexport (listener, counter);
 * ```
 *
 * Returns: %TRUE if @server was exported on the listener
 *
 * Since: 1.2
 */
gboolean
gen_dbus_listener_unexport (GenDBusListener *self,
                            GenServer       *server)
{
  ExportJob job = { self, server, NULL, FALSE, NULL };

  g_return_val_if_fail (GEN_IS_DBUS_LISTENER (self), FALSE);
  g_return_val_if_fail (GEN_IS_SERVER (server), FALSE);

  gen_dbus_run_on_context (self->context, unexport_job_run, &job);
  return job.done;
}

/**
 * gen_dbus_listener_close:
 * @self: a #GenDBusListener
 *
 * Stops listening (a unix socket's file is removed), abandons the
 * handshakes in progress, unexports the servers of
 * [method@Gen.DBusListener.export] and closes every connection the
 * listener accepted. Dropping the last reference does the same. Calling
 * it again does nothing.
 *
 * ```c
 * gen_dbus_listener_close (listener);
 * ```
 *
 * Since: 1.2
 */
void
gen_dbus_listener_close (GenDBusListener *self)
{
  gboolean first;

  g_return_if_fail (GEN_IS_DBUS_LISTENER (self));

  /* Once only, so that a second close (dispose's) never waits for a
   * context that may not run any more. */
  g_mutex_lock (&self->lock);
  first = !self->closing && self->context != NULL;
  self->closing = TRUE;
  g_mutex_unlock (&self->lock);
  if (first)
    gen_dbus_run_on_context (self->context, close_job_run, self);
}

/* For the tests: the handshake counters of gen_listener_get_counts(). */
void
gen_dbus_listener_get_counts (GenDBusListener *self,
                              guint           *in_progress,
                              guint           *refused,
                              guint           *timed_out,
                              guint           *accepted)
{
  g_mutex_lock (&self->lock);
  if (self->listener != NULL)
    gen_listener_get_counts (self->listener, in_progress, refused, timed_out, accepted);
  g_mutex_unlock (&self->lock);
}
