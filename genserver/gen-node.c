/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "gen-dbus-private.h"
#include "gen-node-link-private.h"
#include "gen-node-peer-private.h"
#include "gen-server.h"

/**
 * GenNode:
 *
 * A node: what Erlang calls a node, the unit that listens for and connects
 * to other nodes, so that a call to a server of another machine reads like
 * a local one.
 *
 * Two nodes talk D-Bus peer-to-peer, over TLS on TCP between machines
 * (`tls:host=…,port=…`) or over a unix socket on one machine
 * (`unix:path=…`). Over TLS both sides show a certificate signed by the CA
 * the application gives ([method@Gen.Node.set_tls_credentials]): a peer
 * without one is refused during the TLS handshake, before any D-Bus
 * message. Over a unix socket the peer must run as the same user.
 *
 * Every connection exports the node's registry at
 * [const@Gen.NODE_REGISTRY_PATH] in both directions, so each side reaches
 * the other's names with [method@Gen.Node.remote_for_name], and a
 * [class@Gen.Remote] of it behaves as in [ctor@Gen.Remote.new_for_name].
 *
 * ```c
 * // On 192.0.2.1:
 * g_autoptr(GenNode) node = gen_node_new ("a");
 * gen_node_set_tls_credentials_from_files (node, "a.crt", "a.key", "ca.crt", &error);
 * gen_node_listen (node, "tls:host=192.0.2.1,port=4370", &error);
 * gen_registry_register (gen_node_get_registry (node), "counter", counter, &error);
 *
 * // On 192.0.2.2:
 * g_autoptr(GenNode) node = gen_node_new ("b");
 * gen_node_set_tls_credentials_from_files (node, "b.crt", "b.key", "ca.crt", &error);
 * g_autofree gchar *peer = gen_node_connect (node, "tls:host=192.0.2.1,port=4370",
 *                                            NULL, &error);
 * g_autoptr(GenRemote) counter = gen_node_remote_for_name (node, peer, "counter",
 *                                                          NULL, &error);
 * ```
 *
 * Connected nodes behave as Erlang's: each side sends a tick a few times
 * per [property@Gen.Node:tick-time] and declares the link down when it
 * hears nothing for that long; then calls in flight fail at once with
 * %GEN_SERVER_ERROR_NO_CONNECTION, monitors of remote servers are told
 * `noconnection`, monitors of the node ([method@Gen.Node.monitor_node])
 * fire, and [signal@Gen.Node::node-down] is emitted. The side that
 * connected reconnects, with a backoff from 100 ms to 5 s, and says so
 * with [signal@Gen.Node::node-up]. Messages from one thread keep their
 * order across the link.
 *
 * A node belongs to the thread-default [struct@GLib.MainContext] of the
 * thread that made it, which must be iterated: connections, ticks and
 * the exported registry's messages are handled there (the servers' own
 * handlers still run on their threads). Call its methods from that thread,
 * except [method@Gen.Node.list_peers], [method@Gen.Node.get_connection],
 * [method@Gen.Node.remote_for_name] and the monitors, which any thread may
 * call.
 *
 * Since: 1.2
 */

/* What a node monitor's GenMonitorSet entry carries: the peer it
 * watches, and the caller's function, which also gets the peer's name. */
typedef struct
{
  gchar *peer;            /* owned */
  GenNodeMonitorFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} NodeWatch;

enum
{
  PROP_0,
  PROP_NAME,
  PROP_REGISTRY,
  PROP_TICK_TIME,
  PROP_MAX_HANDSHAKES,
  PROP_HANDSHAKE_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (GenNode, gen_node, G_TYPE_OBJECT)

/* Monitors --------------------------------------------------------------- */

static void
node_watch_free (gpointer data)
{
  NodeWatch *watch = data;

  if (watch->destroy != NULL)
    watch->destroy (watch->user_data);
  g_free (watch->peer);
  g_free (watch);
}

static void
node_watch_deliver (gpointer      subject,
                    const GError *reason,
                    gpointer      data)
{
  NodeWatch *watch = data;

  watch->func (GEN_NODE (subject), watch->peer, reason, watch->user_data);
}

/* Connections made to it ------------------------------------------------- */

static void
node_accept_cb (GenListener     *listener,
                GDBusConnection *connection,
                gpointer         data)
{
  GenNode *self = data;
  g_autoptr(GError) error = NULL;

  if (gen_node_peer_add (self, connection, &error) == NULL)
    {
      g_warning ("node %s: cannot serve a connection: %s", self->name, error->message);
      g_dbus_connection_close (connection, NULL, NULL, NULL);
    }
}

/* The object ------------------------------------------------------------- */

static void
gen_node_dispose (GObject *object)
{
  gen_node_close (GEN_NODE (object));

  G_OBJECT_CLASS (gen_node_parent_class)->dispose (object);
}

static void
gen_node_finalize (GObject *object)
{
  GenNode *self = GEN_NODE (object);

  g_ptr_array_unref (self->listeners);
  g_ptr_array_unref (self->peers);
  g_ptr_array_unref (self->links);
  g_hash_table_unref (self->by_name);
  gen_monitor_set_unref (self->monitors);
  g_hash_table_unref (self->watched);
  g_clear_object (&self->certificate);
  g_clear_object (&self->database);
  g_clear_object (&self->registry);
  g_main_context_unref (self->context);
  g_free (self->name);
  g_free (self->address);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gen_node_parent_class)->finalize (object);
}

static void
gen_node_constructed (GObject *object)
{
  GenNode *self = GEN_NODE (object);

  G_OBJECT_CLASS (gen_node_parent_class)->constructed (object);

  if (self->registry == NULL)
    self->registry = g_object_ref (gen_registry_get_default ());
  if (self->name == NULL)
    self->name = g_strdup_printf ("node-%u-%s", (guint) getpid (), g_get_host_name ());
}

static void
gen_node_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  GenNode *self = GEN_NODE (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_REGISTRY:
      g_value_set_object (value, self->registry);
      break;
    case PROP_TICK_TIME:
      g_mutex_lock (&self->lock);
      g_value_set_uint (value, self->tick_time_ms);
      g_mutex_unlock (&self->lock);
      break;
    case PROP_MAX_HANDSHAKES:
      g_value_set_uint (value, self->max_handshakes);
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      g_value_set_uint (value, self->handshake_timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_node_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  GenNode *self = GEN_NODE (object);

  switch (prop_id)
    {
    case PROP_NAME:
      self->name = g_value_dup_string (value);
      break;
    case PROP_REGISTRY:
      self->registry = g_value_dup_object (value);
      break;
    case PROP_TICK_TIME:
      g_mutex_lock (&self->lock);
      if (self->tick_time_ms == g_value_get_uint (value))
        {
          g_mutex_unlock (&self->lock);
          break;
        }
      self->tick_time_ms = g_value_get_uint (value);
      g_mutex_unlock (&self->lock);
      for (guint i = 0; i < self->peers->len; i++)
        g_atomic_int_set (&((GenNodePeer *) g_ptr_array_index (self->peers, i))->tick_time_ms,
                          (gint) g_value_get_uint (value));
      g_object_notify_by_pspec (object, pspec);
      break;
    case PROP_MAX_HANDSHAKES:
      if (self->max_handshakes != g_value_get_uint (value))
        {
          self->max_handshakes = g_value_get_uint (value);
          for (guint i = 0; i < self->listeners->len; i++)
            gen_listener_set_limits (g_ptr_array_index (self->listeners, i),
                                     self->max_handshakes, self->handshake_timeout_ms);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      if (self->handshake_timeout_ms != g_value_get_uint (value))
        {
          self->handshake_timeout_ms = g_value_get_uint (value);
          for (guint i = 0; i < self->listeners->len; i++)
            gen_listener_set_limits (g_ptr_array_index (self->listeners, i),
                                     self->max_handshakes, self->handshake_timeout_ms);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_node_class_init (GenNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = gen_node_constructed;
  object_class->dispose = gen_node_dispose;
  object_class->finalize = gen_node_finalize;
  object_class->get_property = gen_node_get_property;
  object_class->set_property = gen_node_set_property;

  /**
   * GenNode:name:
   *
   * The node's name, which other nodes know it by (as
   * [method@Gen.Node.list_peers] and [method@Gen.Node.monitor_node] name
   * it): unique among the nodes that connect to each other. By default
   * `node-PID-HOST`.
   *
   * Since: 1.2
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * GenNode:registry:
   *
   * The registry whose names the node offers to other nodes, at
   * [const@Gen.NODE_REGISTRY_PATH]; by default
   * [func@Gen.Registry.get_default].
   *
   * Since: 1.2
   */
  properties[PROP_REGISTRY] =
    g_param_spec_object ("registry", NULL, NULL, GEN_TYPE_REGISTRY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * GenNode:tick-time:
   *
   * How long, in milliseconds, the node waits without hearing from a
   * connected node before it declares the link down; it ticks four times
   * in that time. As Erlang's `net_ticktime`: shorter notices a cut link
   * sooner, and risks declaring a starved but live one down.
   *
   * Since: 1.2
   */
  properties[PROP_TICK_TIME] =
    g_param_spec_uint ("tick-time", NULL, NULL, 4, G_MAXINT, GEN_NODE_DEFAULT_TICK_TIME,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS);

  /**
   * GenNode:max-handshakes:
   *
   * How many connections may be on their way in (TLS handshake and D-Bus
   * authentication) at once; one more is closed before a byte is read.
   *
   * Since: 1.2
   */
  properties[PROP_MAX_HANDSHAKES] =
    g_param_spec_uint ("max-handshakes", NULL, NULL, 1, G_MAXUINT,
                       GEN_LISTENER_DEFAULT_MAX_HANDSHAKES,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS);

  /**
   * GenNode:handshake-timeout:
   *
   * How long, in milliseconds, a connection may take to get through the
   * TLS handshake and the D-Bus authentication, in either direction.
   *
   * Since: 1.2
   */
  properties[PROP_HANDSHAKE_TIMEOUT] =
    g_param_spec_uint ("handshake-timeout", NULL, NULL, 1, G_MAXINT,
                       GEN_LISTENER_DEFAULT_HANDSHAKE_TIMEOUT_MS,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                       G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* Both signals are emitted by gen-node-peer.c, by name. */

  /**
   * GenNode::node-up:
   * @self: the node
   * @peer: the name of the node now connected
   *
   * Emitted on the node's context when a node connects, or this node
   * connects or reconnects to one, once both have given their names.
   *
   * Since: 1.2
   */
  g_signal_new ("node-up", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  /**
   * GenNode::node-down:
   * @self: the node
   * @peer: the name of the node whose link went down
   * @reason: a %GEN_SERVER_ERROR_NO_CONNECTION error that says why
   *
   * Emitted on the node's context when the link to a node goes down. A
   * node this one connected to is reconnected to, with a backoff;
   * [signal@Gen.Node::node-up] says when it is back.
   *
   * Since: 1.2
   */
  g_signal_new ("node-down", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_ERROR);
}

static void
gen_node_init (GenNode *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->epoch = g_get_monotonic_time ();
  self->listeners = g_ptr_array_new ();
  self->peers = g_ptr_array_new_with_free_func (gen_node_peer_unref);
  self->links = g_ptr_array_new_with_free_func (gen_node_link_drop);
  self->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, gen_node_peer_unref);
  self->monitors = gen_monitor_set_new (NULL);
  self->watched = g_hash_table_new_full (NULL, NULL, NULL, g_free);
}

/* API -------------------------------------------------------------------- */

/**
 * gen_node_new:
 * @name: (nullable): the node's name, unique among the nodes it talks to;
 *   %NULL for `node-PID-HOST`
 *
 * Makes a node that offers the names of the default registry to the nodes
 * it connects to. It belongs to the thread-default main context of the
 * calling thread.
 *
 * ```c
 * g_autoptr(GenNode) node = gen_node_new ("a");
 * ```
 *
 * Returns: (transfer full): a new node
 *
 * Since: 1.2
 */
GenNode *
gen_node_new (const gchar *name)
{
  return g_object_new (GEN_TYPE_NODE, "name", name, NULL);
}

/**
 * gen_node_get_name:
 * @self: a #GenNode
 *
 * Gets the node's name.
 *
 * Returns: the name
 *
 * Since: 1.2
 */
const gchar *
gen_node_get_name (GenNode *self)
{
  g_return_val_if_fail (GEN_IS_NODE (self), NULL);
  return self->name;
}

/**
 * gen_node_get_registry:
 * @self: a #GenNode
 *
 * Gets the registry whose names the node offers to other nodes.
 *
 * Returns: (transfer none): the registry
 *
 * Since: 1.2
 */
GenRegistry *
gen_node_get_registry (GenNode *self)
{
  g_return_val_if_fail (GEN_IS_NODE (self), NULL);
  return self->registry;
}

/**
 * gen_node_set_tls_credentials:
 * @self: a #GenNode
 * @certificate: the node's certificate, with its private key
 * @ca_database: the certificate authorities a peer's certificate must be
 *   signed by
 *
 * Sets what the node shows other nodes over TLS, and what it checks
 * theirs against: a listening node requires a client certificate signed
 * by @ca_database, a connecting one requires the server's certificate to
 * be signed by it and to name the address it connects to.
 *
 * ```c
 * g_autoptr(GTlsCertificate) certificate =
 *   g_tls_certificate_new_from_files ("a.crt", "a.key", &error);
 * g_autoptr(GTlsDatabase) ca = g_tls_file_database_new ("ca.crt", &error);
 * gen_node_set_tls_credentials (node, certificate, ca, &error);
 * ```
 *
 * Returns: %TRUE, or %FALSE with %G_IO_ERROR_NOT_SUPPORTED if GIO has no
 *   TLS backend (install glib-networking)
 *
 * Since: 1.2
 */
gboolean
gen_node_set_tls_credentials (GenNode          *self,
                              GTlsCertificate  *certificate,
                              GTlsDatabase     *ca_database,
                              GError          **error)
{
  g_return_val_if_fail (GEN_IS_NODE (self), FALSE);
  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), FALSE);
  g_return_val_if_fail (G_IS_TLS_DATABASE (ca_database), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!gen_listener_check_tls_backend (error))
    return FALSE;

  g_set_object (&self->certificate, certificate);
  g_set_object (&self->database, ca_database);
  return TRUE;
}

/**
 * gen_node_set_tls_credentials_from_files:
 * @self: a #GenNode
 * @certificate_file: (type filename): the node's certificate, PEM
 * @key_file: (type filename): its private key, PEM
 * @ca_file: (type filename): the certificate authorities, PEM
 *
 * Sets the node's TLS credentials from PEM files, as
 * [method@Gen.Node.set_tls_credentials] does.
 *
 * ```c
 * gen_node_set_tls_credentials_from_files (node, "a.crt", "a.key", "ca.crt", &error);
 * ```
 *
 * Returns: %TRUE, or %FALSE with %G_IO_ERROR_NOT_SUPPORTED if GIO has no
 *   TLS backend, or the error of reading a file
 *
 * Since: 1.2
 */
gboolean
gen_node_set_tls_credentials_from_files (GenNode      *self,
                                         const gchar  *certificate_file,
                                         const gchar  *key_file,
                                         const gchar  *ca_file,
                                         GError      **error)
{
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(GTlsDatabase) database = NULL;

  g_return_val_if_fail (GEN_IS_NODE (self), FALSE);
  g_return_val_if_fail (certificate_file != NULL && key_file != NULL && ca_file != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!gen_listener_check_tls_backend (error))
    return FALSE;

  certificate = g_tls_certificate_new_from_files (certificate_file, key_file, error);
  if (certificate == NULL)
    return FALSE;
  database = g_tls_file_database_new (ca_file, error);
  if (database == NULL)
    return FALSE;

  return gen_node_set_tls_credentials (self, certificate, database, error);
}

/**
 * gen_node_listen:
 * @self: a #GenNode
 * @address: where to listen: `tls:host=…,port=…` (an IP address; port 0
 *   picks a free one) or `unix:path=…` / `unix:abstract=…`
 *
 * Listens for other nodes on @address, and may be called again for more
 * addresses. Over TLS, a peer must show a certificate signed by the CA of
 * [method@Gen.Node.set_tls_credentials]; over a unix socket, it must run
 * as the same user. At most [property@Gen.Node:max-handshakes] peers may
 * be on their way in at once, each for at most
 * [property@Gen.Node:handshake-timeout].
 *
 * ```c
 * gen_node_listen (node, "tls:host=192.0.2.1,port=4370", &error);
 * ```
 *
 * Returns: %TRUE, or %FALSE with %G_IO_ERROR_NOT_SUPPORTED for another
 *   kind of address or no TLS backend, %G_IO_ERROR_NOT_INITIALIZED for a
 *   TLS address without credentials, or the error of the socket
 *
 * Since: 1.2
 */
gboolean
gen_node_listen (GenNode      *self,
                 const gchar  *address,
                 GError      **error)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GDBusAuthObserver) observer = NULL;
  g_autofree gchar *listen_address = NULL;
  GenListener *listener;
  gboolean tls = FALSE;

  g_return_val_if_fail (GEN_IS_NODE (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  connectable = gen_node_link_parse_address (address, &tls, &listen_address, error);
  if (connectable == NULL || !gen_node_link_check_credentials (self, tls, error))
    return FALSE;

  if (!tls)
    observer = gen_dbus_auth_observer_new (NULL, 0, FALSE);
  listener = gen_listener_new (listen_address, tls ? self->certificate : NULL,
                               tls ? self->database : NULL, observer, node_accept_cb, self,
                               error);
  if (listener == NULL)
    return FALSE;
  gen_listener_set_limits (listener, self->max_handshakes, self->handshake_timeout_ms);
  g_ptr_array_add (self->listeners, listener);

  if (self->address == NULL)
    self->address = tls ?
                    g_strconcat ("tls:", gen_listener_get_address (listener) + strlen ("tcp:"),
                                 NULL) :
                    g_strdup (gen_listener_get_address (listener));
  return TRUE;
}

/**
 * gen_node_get_address:
 * @self: a #GenNode
 *
 * Gets the address of the first [method@Gen.Node.listen], with the port
 * it picked: what other nodes give [method@Gen.Node.connect].
 *
 * Returns: (nullable): the address, or %NULL if the node does not listen
 *
 * Since: 1.2
 */
const gchar *
gen_node_get_address (GenNode *self)
{
  g_return_val_if_fail (GEN_IS_NODE (self), NULL);
  return self->address;
}

/**
 * gen_node_connect_async:
 * @self: a #GenNode
 * @address: the other node's address: `tls:host=…,port=…` or
 *   `unix:path=…`
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the link is up, or cannot be
 *   made
 * @user_data: data for @callback
 *
 * Connects to the node listening at @address, as
 * [method@Gen.Node.connect] does, without blocking. @callback runs on the
 * node's context; get the peer's name there with
 * [method@Gen.Node.connect_finish].
 *
 * Cancelling @cancellable ends the connect, its handshake included, with
 * %G_IO_ERROR_CANCELLED. The connect lets go of @cancellable when it
 * ends, so one cancellable may serve many connects. Closing the node ends
 * a connect in progress with %G_IO_ERROR_CLOSED, and never cancels
 * @cancellable.
 *
 * ```c
 * gen_node_connect_async (node, "tls:host=192.0.2.1,port=4370", NULL, connected_cb, app);
 * ```
 *
 * Since: 1.2
 */
void
gen_node_connect_async (GenNode             *self,
                        const gchar         *address,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (GEN_IS_NODE (self));
  g_return_if_fail (address != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  gen_node_link_start (self, address, cancellable, callback, user_data);
}

/**
 * gen_node_connect_finish:
 * @self: a #GenNode
 * @result: the #GAsyncResult given to the callback
 * @error: return location for an error
 *
 * Finishes [method@Gen.Node.connect_async].
 *
 * Returns: (transfer full): the name of the node connected to, or %NULL
 *   with an error as for [method@Gen.Node.connect]
 *
 * Since: 1.2
 */
gchar *
gen_node_connect_finish (GenNode       *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (GEN_IS_NODE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (gen_node_link_is_attempt (result), NULL);

  return gen_node_link_finish (self, result, error);
}

static void
connect_sync_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  GAsyncResult **out = data;

  *out = g_object_ref (result);
}

/**
 * gen_node_connect:
 * @self: a #GenNode
 * @address: the other node's address: `tls:host=…,port=…` or
 *   `unix:path=…`
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Connects to the node listening at @address and keeps the link up: when
 * it goes down, the node reconnects with a backoff from 100 ms to 5 s.
 * Over TLS the other node's certificate must be signed by the CA of
 * [method@Gen.Node.set_tls_credentials] and name the host of @address;
 * this node shows its own. Each side then reaches the other's names with
 * [method@Gen.Node.remote_for_name].
 *
 * While it waits, it iterates the node's context, as a nested main loop
 * would, so a node of the same thread can answer.
 *
 * ```c
 * g_autofree gchar *peer = gen_node_connect (node, "tls:host=192.0.2.1,port=4370",
 *                                            NULL, &error);
 * ```
 *
 * Returns: (transfer full): the other node's name, or %NULL with
 *   %G_IO_ERROR_NOT_SUPPORTED for another kind of address or no TLS
 *   backend, a %G_TLS_ERROR if a certificate was refused, a
 *   %G_IO_ERROR_CANCELLED if it did not complete within
 *   [property@Gen.Node:handshake-timeout] or @cancellable was cancelled,
 *   %G_IO_ERROR_CLOSED if the node was closed meanwhile, or the error of
 *   the socket
 *
 * Since: 1.2
 */
gchar *
gen_node_connect (GenNode       *self,
                  const gchar   *address,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_return_val_if_fail (GEN_IS_NODE (self), NULL);
  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gen_node_connect_async (self, address, cancellable, connect_sync_cb, &result);
  while (result == NULL)
    g_main_context_iteration (self->context, TRUE);
  return gen_node_connect_finish (self, result, error);
}

/**
 * gen_node_list_peers:
 * @self: a #GenNode
 *
 * Lists the nodes connected now, as Erlang's `nodes()`. Any thread.
 *
 * Returns: (transfer full) (array zero-terminated=1): their names
 *
 * Since: 1.2
 */
gchar **
gen_node_list_peers (GenNode *self)
{
  GStrvBuilder *builder;
  GHashTableIter iter;
  const gchar *name;
  gchar **names;

  g_return_val_if_fail (GEN_IS_NODE (self), NULL);

  builder = g_strv_builder_new ();
  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->by_name);
  while (g_hash_table_iter_next (&iter, (gpointer *) &name, NULL))
    g_strv_builder_add (builder, name);
  g_mutex_unlock (&self->lock);
  names = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return names;
}

/**
 * gen_node_get_connection:
 * @self: a #GenNode
 * @peer: the name of a connected node
 *
 * Gets the D-Bus connection to the node named @peer, on which its
 * registry is exported at [const@Gen.NODE_REGISTRY_PATH]. Any thread.
 *
 * Returns: (transfer full) (nullable): the connection, or %NULL if no
 *   node of that name is connected now
 *
 * Since: 1.2
 */
GDBusConnection *
gen_node_get_connection (GenNode     *self,
                         const gchar *peer)
{
  GDBusConnection *connection = NULL;
  GenNodePeer *found;

  g_return_val_if_fail (GEN_IS_NODE (self), NULL);
  g_return_val_if_fail (peer != NULL, NULL);

  g_mutex_lock (&self->lock);
  found = g_hash_table_lookup (self->by_name, peer);
  if (found != NULL)
    connection = g_object_ref (found->connection);
  g_mutex_unlock (&self->lock);
  return connection;
}

/**
 * gen_node_remote_for_name:
 * @self: a #GenNode
 * @peer: the name of a connected node
 * @name: the name a server is registered under in @peer's registry
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for an error
 *
 * Reaches the server registered as @name on the node @peer, as Erlang's
 * `{Name, Node}`: the name is resolved by @peer's registry for every
 * message (see [ctor@Gen.Remote.new_for_name]). Calls through it fail at
 * once with %GEN_SERVER_ERROR_NO_CONNECTION when the link goes down; its
 * monitors are told `noconnection`. After a reconnection, make a new one.
 * Any thread.
 *
 * ```c
 * g_autoptr(GenRemote) counter = gen_node_remote_for_name (node, "a", "counter",
 *                                                          NULL, &error);
 * ```
 *
 * Returns: (transfer full): the remote server, or %NULL with
 *   %GEN_SERVER_ERROR_NO_CONNECTION if @peer is not connected,
 *   %GEN_SERVER_ERROR_NOT_FOUND if nobody holds @name there, or another
 *   error
 *
 * Since: 1.2
 */
GenRemote *
gen_node_remote_for_name (GenNode       *self,
                          const gchar   *peer,
                          const gchar   *name,
                          GCancellable  *cancellable,
                          GError       **error)
{
  g_autoptr(GDBusConnection) connection = NULL;

  g_return_val_if_fail (GEN_IS_NODE (self), NULL);
  g_return_val_if_fail (peer != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  connection = gen_node_get_connection (self, peer);
  if (connection == NULL)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION,
                   "noconnection: node %s is not connected to %s", self->name, peer);
      return NULL;
    }
  return gen_remote_new_for_name (connection, NULL, GEN_NODE_REGISTRY_PATH, name,
                                  cancellable, error);
}

/**
 * gen_node_monitor_node:
 * @self: a #GenNode
 * @peer: the name of a node
 * @func: (scope notified) (closure user_data) (destroy destroy): called
 *   once when the link to @peer goes down
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data once the monitor is done
 *
 * Asks to be told when the link to @peer goes down, as Erlang's
 * `monitor_node(Node, true)`: @func runs once, on the thread-default
 * [struct@GLib.MainContext] of the calling thread, with a
 * %GEN_SERVER_ERROR_NO_CONNECTION reason. If @peer is not connected now,
 * it runs at once (from the next iteration). Any thread.
 *
 * ```c
 * gen_node_monitor_node (node, "a", node_down_cb, app, NULL);
 * ```
 *
 * Returns: the monitor's id, for [method@Gen.Node.demonitor_node]; never 0
 *
 * Since: 1.2
 */
guint
gen_node_monitor_node (GenNode            *self,
                       const gchar        *peer,
                       GenNodeMonitorFunc  func,
                       gpointer            user_data,
                       GDestroyNotify      destroy)
{
  g_autoptr(GMainContext) context = NULL;
  NodeWatch *watch;
  gboolean connected;
  guint id;

  g_return_val_if_fail (GEN_IS_NODE (self), 0);
  g_return_val_if_fail (peer != NULL, 0);
  g_return_val_if_fail (func != NULL, 0);

  watch = g_new0 (NodeWatch, 1);
  watch->peer = g_strdup (peer);
  watch->func = func;
  watch->user_data = user_data;
  watch->destroy = destroy;
  context = g_main_context_ref_thread_default ();

  /* Under the lock, against a link that goes down meanwhile: either it is
   * not connected now, or its going down finds the monitor. */
  g_mutex_lock (&self->lock);
  id = gen_monitor_set_add (self->monitors, node_watch_deliver, watch, node_watch_free,
                            context, GEN_MONITOR_PUBLIC, self);
  connected = g_hash_table_contains (self->by_name, peer);
  if (connected)
    g_hash_table_insert (self->watched, GUINT_TO_POINTER (id), g_strdup (peer));
  g_mutex_unlock (&self->lock);

  if (!connected)
    {
      g_autoptr(GError) reason = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION,
                                              "noconnection: node %s is not connected to %s",
                                              self->name, peer);

      gen_monitor_set_fire_one (self->monitors, id, self, reason);
    }
  return id;
}

/**
 * gen_node_demonitor_node:
 * @self: a #GenNode
 * @monitor_id: an id from [method@Gen.Node.monitor_node]
 *
 * Removes a node monitor. Once this returns %TRUE, its function will
 * never run. Any thread.
 *
 * Returns: %TRUE if the monitor was removed, %FALSE if its function
 *   already ran (or is running), or the id is unknown
 *
 * Since: 1.2
 */
gboolean
gen_node_demonitor_node (GenNode *self,
                         guint    monitor_id)
{
  g_return_val_if_fail (GEN_IS_NODE (self), FALSE);

  g_mutex_lock (&self->lock);
  g_hash_table_remove (self->watched, GUINT_TO_POINTER (monitor_id));
  g_mutex_unlock (&self->lock);
  return gen_monitor_set_remove (self->monitors, monitor_id);
}

/**
 * gen_node_disconnect:
 * @self: a #GenNode
 * @peer: the name of a connected node
 *
 * Closes the link to @peer, as Erlang's `disconnect_node`: its monitors
 * fire, and this node does not reconnect to it.
 *
 * ```c
 * gen_node_disconnect (node, "a");
 * ```
 *
 * Since: 1.2
 */
void
gen_node_disconnect (GenNode     *self,
                     const gchar *peer)
{
  g_return_if_fail (GEN_IS_NODE (self));
  g_return_if_fail (peer != NULL);

  gen_node_link_forget (self, peer);

  for (guint i = 0; i < self->peers->len; i++)
    {
      GenNodePeer *found = g_ptr_array_index (self->peers, i);

      if (g_strcmp0 (found->name, peer) == 0)
        gen_node_peer_fail (found);
    }
}

/**
 * gen_node_close:
 * @self: a #GenNode
 *
 * Stops listening, closes every link and stops reconnecting; the
 * monitors of the nodes it was connected to fire, and connects in
 * progress end with %G_IO_ERROR_CLOSED. Dropping the last reference
 * closes a node too.
 *
 * ```c
 * gen_node_close (node);
 * ```
 *
 * Since: 1.2
 */
void
gen_node_close (GenNode *self)
{
  g_autoptr(GPtrArray) peers = NULL;
  g_autoptr(GError) reason = NULL;

  g_return_if_fail (GEN_IS_NODE (self));

  if (self->closed)
    return;
  self->closed = TRUE;

  for (guint i = 0; i < self->listeners->len; i++)
    gen_listener_close (g_ptr_array_index (self->listeners, i));
  g_ptr_array_set_size (self->listeners, 0);
  g_ptr_array_set_size (self->links, 0);

  /* Now rather than when the "closed" signals come: the node may be on
   * its way out. */
  reason = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION,
                        "node %s was closed", self->name);
  peers = g_ptr_array_copy (self->peers, (GCopyFunc) (void (*) (void)) gen_node_peer_ref, NULL);
  g_ptr_array_set_free_func (peers, gen_node_peer_unref);
  for (guint i = 0; i < peers->len; i++)
    {
      GenNodePeer *peer = g_ptr_array_index (peers, i);

      gen_node_peer_fail (peer);
      gen_node_peer_down (self, peer, reason);
    }
}

GenListener *
gen_node_get_listener (GenNode *self,
                       guint    index)
{
  return index < self->listeners->len ? g_ptr_array_index (self->listeners, index) : NULL;
}
