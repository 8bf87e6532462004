/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "gen-cast-batch-private.h"
#include "gen-dbus-private.h"
#include "gen-monitor-private.h"
#include "gen-node-private.h"
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

#define NODE_PATH "/io/github/genserver/Node"
#define NODE_INTERFACE "io.github.genserver.Node1"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

static const gchar node_xml[] =
  "<node>"
  "  <interface name='" NODE_INTERFACE "'>"
  "    <method name='Hello'>"
  "      <arg type='s' name='name' direction='in'/>"
  "      <arg type='s' name='name' direction='out'/>"
  "    </method>"
  "    <method name='Casts'>"
  "      <arg type='ay' name='casts' direction='in'/>"
  "    </method>"
  "    <signal name='Tick'/>"
  "  </interface>"
  "</node>";

typedef struct _Link Link;

/* One D-Bus connection to another node. */
typedef struct
{
  gint ref_count; /* atomic */

  /* Immutable. */
  GDBusConnection *connection; /* owned */
  GSocket *socket;             /* owned: shut down when the link is declared down */
  gint64 epoch;                /* the node's, for last_seen */

  gint last_seen_ms; /* atomic: when a message last came, ms after epoch */
  gint tick_time_ms; /* atomic: the node's tick-time */
  gchar name_for_ticker[64]; /* ticker_lock, or before the ticker has it */

  /* The node's context. */
  gchar *name;                 /* owned; NULL until Hello */
  Link *link;                  /* not owned: the link that made it; NULL if accepted */
  guint node_object_id;
  gulong closed_id;
  guint filter_id;
  gboolean down;
} Peer;

/* An address this node connected to, kept connected. The node's context. */
struct _Link
{
  GenNode *node;      /* not owned: links die with the node */
  gchar *address;     /* owned */
  gchar *peer_name;   /* owned: the name the peer gave, once known */
  Peer *peer;         /* owned reference: the connection now, or NULL */
  guint backoff_ms;
  GSource *retry;     /* owned: the next attempt, or NULL */
  GCancellable *cancellable; /* owned: the attempt in progress, or NULL */
  gboolean dropped;   /* no longer in the node's links: the attempt frees it */
};

/* What a node monitor's GenMonitorSet entry carries: the peer it
 * watches, and the caller's function, which also gets the peer's name. */
typedef struct
{
  gchar *peer;            /* owned */
  GenNodeMonitorFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} NodeWatch;

struct _GenNode
{
  GObject parent_instance;

  /* Immutable once made. */
  gchar *name;             /* owned */
  GenRegistry *registry;   /* owned */
  GMainContext *context;   /* owned: the thread-default one when made */
  gint64 epoch;

  /* The node's context. */
  GTlsCertificate *certificate; /* owned, nullable */
  GTlsDatabase *database;       /* owned, nullable */
  GPtrArray *listeners;         /* GenListener (owned) */
  gchar *address;               /* owned: the first listener's, in node form */
  GPtrArray *peers;             /* Peer (owned): every connection, named or not */
  GPtrArray *links;             /* Link (owned) */
  guint max_handshakes;
  guint handshake_timeout_ms;
  gboolean closed;

  GMutex lock;
  guint tick_time_ms;           /* lock */
  GHashTable *by_name;          /* lock: name → Peer (owned reference) */
  GenMonitorSet *monitors;      /* owned: the node monitors, with the node as subject */
  GHashTable *watched;          /* lock: monitor id → peer name (owned), while waiting */
};

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

enum
{
  SIGNAL_NODE_UP,
  SIGNAL_NODE_DOWN,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (GenNode, gen_node, G_TYPE_OBJECT)

static void node_link_schedule (Link *link);
static void node_link_attempt (Link *link);

/* Peers ------------------------------------------------------------------ */

static Peer *
peer_ref (Peer *peer)
{
  g_atomic_int_inc (&peer->ref_count);
  return peer;
}

static void
peer_unref (gpointer data)
{
  Peer *peer = data;

  if (!g_atomic_int_dec_and_test (&peer->ref_count))
    return;

  g_clear_object (&peer->connection);
  g_clear_object (&peer->socket);
  g_free (peer->name);
  g_free (peer);
}

static gint
node_clock_ms (gint64 epoch)
{
  return (gint) ((g_get_monotonic_time () - epoch) / 1000);
}

/* On GDBus's worker thread, for every message: any message in counts as a
 * sign of life, so a busy link needs no ticks. */
static GDBusMessage *
peer_filter_cb (GDBusConnection *connection,
                GDBusMessage    *message,
                gboolean         incoming,
                gpointer         data)
{
  Peer *peer = data;

  if (incoming)
    g_atomic_int_set (&peer->last_seen_ms, node_clock_ms (peer->epoch));
  return message;
}

/* The socket under @stream, through a TLS connection if there is one. */
static GSocket *
stream_get_socket (GIOStream *stream)
{
  if (G_IS_TLS_CONNECTION (stream))
    {
      g_autoptr(GIOStream) base = NULL;

      g_object_get (stream, "base-io-stream", &base, NULL);
      return stream_get_socket (base);
    }
  if (G_IS_SOCKET_CONNECTION (stream))
    return g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream));
  return NULL;
}

/* Ends @peer's connection now: shutting the socket down fails whatever
 * GDBus's worker has in flight on it at once, even when the network says
 * nothing (a cable pulled); the "closed" signal does the rest. */
static void
peer_fail (Peer *peer)
{
  if (peer->socket != NULL)
    gen_listener_shutdown_socket (peer->socket);
  g_dbus_connection_close (peer->connection, NULL, NULL, NULL);
}

/* Ticks ------------------------------------------------------------------ */

/* One thread ticks for every node of the process, as Erlang's ticker is a
 * process of its own: a node whose thread is busy, or blocked in a long
 * call, must still be heard, and a silent peer still be noticed. It
 * sleeps while no link is up. */
static GMutex ticker_lock;
static GCond ticker_cond;
static GPtrArray *ticker_peers; /* ticker_lock: Peer (owned reference) */
static GThread *ticker_thread;  /* ticker_lock */

static gpointer
ticker_run (gpointer data)
{
  g_mutex_lock (&ticker_lock);
  for (;;)
    {
      gint interval = G_MAXINT;

      for (guint i = 0; i < ticker_peers->len; i++)
        {
          Peer *peer = g_ptr_array_index (ticker_peers, i);
          gint tick_time = g_atomic_int_get (&peer->tick_time_ms);
          gint silent = node_clock_ms (peer->epoch) - g_atomic_int_get (&peer->last_seen_ms);

          interval = MIN (interval, MAX (tick_time / 4, 1));
          if (silent > tick_time)
            {
              g_debug ("nothing heard from %s for %d ms: its link is down",
                       peer->name_for_ticker, silent);
              peer_fail (peer);
              g_ptr_array_remove_index_fast (ticker_peers, i--);
              continue;
            }
          g_dbus_connection_emit_signal (peer->connection, NULL, NODE_PATH, NODE_INTERFACE,
                                         "Tick", NULL, NULL);
        }

      if (interval == G_MAXINT)
        g_cond_wait (&ticker_cond, &ticker_lock);
      else
        g_cond_wait_until (&ticker_cond, &ticker_lock,
                           g_get_monotonic_time () + interval * G_TIME_SPAN_MILLISECOND);
    }
  return NULL;
}

static void
ticker_add (Peer *peer)
{
  g_mutex_lock (&ticker_lock);
  if (ticker_peers == NULL)
    ticker_peers = g_ptr_array_new_with_free_func (peer_unref);
  if (ticker_thread == NULL)
    ticker_thread = g_thread_new ("gen-node-ticker", ticker_run, NULL);
  g_ptr_array_add (ticker_peers, peer_ref (peer));
  g_cond_signal (&ticker_cond);
  g_mutex_unlock (&ticker_lock);
}

static void
ticker_remove (Peer *peer)
{
  g_mutex_lock (&ticker_lock);
  if (ticker_peers != NULL)
    g_ptr_array_remove_fast (ticker_peers, peer);
  g_mutex_unlock (&ticker_lock);
}

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

/* Tells the monitors of @peer, once each. Any thread. */
static void
node_fire_monitors (GenNode      *self,
                    const gchar  *peer,
                    const GError *reason)
{
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (guint));
  GHashTableIter iter;
  gpointer id, name;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->watched);
  while (g_hash_table_iter_next (&iter, &id, &name))
    if (g_str_equal (name, peer))
      {
        guint monitor_id = GPOINTER_TO_UINT (id);

        g_array_append_val (ids, monitor_id);
        g_hash_table_iter_remove (&iter);
      }
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < ids->len; i++)
    gen_monitor_set_fire_one (self->monitors, g_array_index (ids, guint, i), self, reason);
}

/* The link's ends ------------------------------------------------------- */

static void
node_peer_down (GenNode      *self,
                Peer         *peer,
                const GError *why)
{
  g_autoptr(GError) reason = NULL;
  Link *link = peer->link;

  if (peer->down)
    return;
  peer->down = TRUE;

  ticker_remove (peer);
  gen_cast_batch_disable (peer->connection);
  g_dbus_connection_remove_filter (peer->connection, peer->filter_id);
  g_dbus_connection_unregister_object (peer->connection, peer->node_object_id);
  g_signal_handler_disconnect (peer->connection, peer->closed_id);
  gen_registry_unexport (self->registry, peer->connection);

  if (peer->name != NULL)
    {
      reason = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION,
                            "noconnection: the link to node %s is down%s%s",
                            peer->name, why ? ": " : "", why ? why->message : "");
      g_debug ("node %s: %s", self->name, reason->message);

      g_mutex_lock (&self->lock);
      if (g_hash_table_lookup (self->by_name, peer->name) == peer)
        g_hash_table_remove (self->by_name, peer->name);
      g_mutex_unlock (&self->lock);

      node_fire_monitors (self, peer->name, reason);
    }

  if (link != NULL)
    {
      g_clear_pointer (&link->peer, peer_unref);
      peer->link = NULL;
      node_link_schedule (link);
    }

  /* Last: a handler may close the node. */
  if (reason != NULL)
    g_signal_emit (self, signals[SIGNAL_NODE_DOWN], 0, peer->name, reason);

  g_ptr_array_remove (self->peers, peer);
}

static void
peer_closed_cb (GDBusConnection *connection,
                gboolean         remote_peer_vanished,
                GError          *error,
                gpointer         data)
{
  Peer *peer = data;
  GenNode *self = g_object_get_data (G_OBJECT (connection), "gen-node");

  if (self != NULL)
    node_peer_down (self, peer, error);
}

/* Registers @peer under its name, now that it gave it. */
static void
node_peer_named (GenNode     *self,
                 Peer        *peer,
                 const gchar *name)
{
  Peer *previous;

  peer->name = g_strdup (name);
  g_strlcpy (peer->name_for_ticker, name, sizeof peer->name_for_ticker);

  /* A node that reconnects before this side noticed its old link drop:
   * the new connection wins. */
  g_mutex_lock (&self->lock);
  previous = g_hash_table_lookup (self->by_name, name);
  if (previous != NULL)
    peer_ref (previous);
  g_hash_table_replace (self->by_name, g_strdup (name), peer_ref (peer));
  g_mutex_unlock (&self->lock);

  if (previous != NULL)
    {
      peer_fail (previous);
      peer_unref (previous);
    }

  /* Ticks only once named: a connection that never says Hello is ended
   * by the handshake deadline of the side that made it. */
  ticker_add (peer);
  g_debug ("node %s: node %s is up", self->name, name);
  g_signal_emit (self, signals[SIGNAL_NODE_UP], 0, name);
}

/* A batch of casts from the other node (see gen-cast-batch.c), the
 * serialisation of an a(sv) in an ay, each to a
 * name of the registry, in order. Checked as the export checks a Cast: a
 * name nobody holds, a message over the limit or of the wrong type is
 * dropped, as a remote cast to a stopped server is. */
static void
node_deliver_casts (GenNode  *self,
                    GVariant *parameters)
{
  g_autoptr(GVariant) serialized = g_variant_get_child_value (parameters, 0);
  g_autoptr(GBytes) bytes = g_variant_get_data_as_bytes (serialized);
  /* Untrusted: GVariant checks each part as it is read. */
  g_autoptr(GVariant) casts = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE ("a(sv)"),
                                                                            bytes, FALSE));
  g_autoptr(GenServer) server = NULL;
  g_autofree gchar *last_path = NULL;
  gsize n = g_variant_n_children (casts);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) message = NULL;
      const gchar *relative_path;

      g_variant_get_child (casts, i, "(&sv)", &relative_path, &message);
      /* A batch usually goes to one server: looked up once per run. */
      if (g_strcmp0 (relative_path, last_path) != 0)
        {
          g_autofree gchar *name = (gchar *) g_dbus_unescape_object_path (relative_path);

          g_clear_object (&server);
          g_free (last_path);
          last_path = g_strdup (relative_path);
          if (name != NULL && g_utf8_validate (name, -1, NULL))
            server = gen_registry_lookup (self->registry, name);
        }
      /* Never waits for room, as the export's Cast: this runs on the node's
       * dispatch context, which a full BLOCK mailbox must not hold up. A
       * refused cast is counted in the server's casts-refused. */
      if (server != NULL &&
          gen_dbus_check_size (message, GEN_DBUS_DEFAULT_MAX_MESSAGE_SIZE, NULL))
        gen_server_cast_with_timeout (server, message, 0, NULL);
    }
}

static void
node_method_call (GDBusConnection       *connection,
                  const gchar           *sender,
                  const gchar           *object_path,
                  const gchar           *interface_name,
                  const gchar           *method_name,
                  GVariant              *parameters,
                  GDBusMethodInvocation *invocation,
                  gpointer               data)
{
  Peer *peer = data;
  GenNode *self = g_object_get_data (G_OBJECT (connection), "gen-node");
  const gchar *name;

  if (self != NULL && g_str_equal (method_name, "Casts"))
    {
      node_deliver_casts (self, parameters);
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }

  if (self == NULL || !g_str_equal (method_name, "Hello"))
    {
      g_dbus_method_invocation_return_dbus_error (invocation,
                                                  "org.freedesktop.DBus.Error.UnknownMethod",
                                                  "no such method");
      return;
    }

  g_variant_get (parameters, "(&s)", &name);
  if (peer->name != NULL || name[0] == '\0' || peer->down)
    {
      g_dbus_method_invocation_return_dbus_error (invocation,
                                                  "org.freedesktop.DBus.Error.AccessDenied",
                                                  "this connection has a name already");
      return;
    }

  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", self->name));
  node_peer_named (self, peer, name);
}

static const GDBusInterfaceVTable node_vtable = { node_method_call, NULL, NULL, { 0 } };

static GDBusInterfaceInfo *
node_interface_info (void)
{
  static gsize info;

  if (g_once_init_enter (&info))
    g_once_init_leave (&info, (gsize) g_dbus_node_info_new_for_xml (node_xml, NULL));
  return ((GDBusNodeInfo *) info)->interfaces[0];
}

/* Makes @connection (its messages not processed yet) a link of this node:
 * the registry and the node object exported, the liveness watch on. On the
 * node's context. */
static Peer *
node_add_peer (GenNode          *self,
               GDBusConnection  *connection,
               GError          **error)
{
  g_autoptr(GError) local_error = NULL;
  Peer *peer;

  peer = g_new0 (Peer, 1);
  peer->ref_count = 1;
  peer->connection = g_object_ref (connection);
  peer->socket = stream_get_socket (g_dbus_connection_get_stream (connection));
  if (peer->socket != NULL)
    g_object_ref (peer->socket);
  peer->epoch = self->epoch;
  peer->last_seen_ms = node_clock_ms (self->epoch);
  g_mutex_lock (&self->lock);
  peer->tick_time_ms = (gint) self->tick_time_ms;
  g_mutex_unlock (&self->lock);

  g_object_set_data (G_OBJECT (connection), "gen-node", self);
  g_dbus_connection_set_exit_on_close (connection, FALSE);

  if (!gen_registry_export (self->registry, connection, GEN_NODE_REGISTRY_PATH, error))
    {
      peer_unref (peer);
      return NULL;
    }
  peer->node_object_id =
    g_dbus_connection_register_object (connection, NODE_PATH, node_interface_info (),
                                       &node_vtable, peer_ref (peer), peer_unref, error);
  if (peer->node_object_id == 0)
    {
      gen_registry_unexport (self->registry, connection);
      peer_unref (peer);
      return NULL;
    }
  peer->filter_id = g_dbus_connection_add_filter (connection, peer_filter_cb,
                                                  peer_ref (peer), peer_unref);
  peer->closed_id = g_signal_connect_data (connection, "closed", G_CALLBACK (peer_closed_cb),
                                           peer_ref (peer),
                                           (GClosureNotify) (void (*) (void)) peer_unref,
                                           G_CONNECT_DEFAULT);

  g_ptr_array_add (self->peers, peer);
  gen_cast_batch_enable (connection, GEN_NODE_REGISTRY_PATH, NODE_PATH, NODE_INTERFACE, "Casts");
  g_dbus_connection_start_message_processing (connection);
  return peer;
}

static void
node_accept_cb (GenListener     *listener,
                GDBusConnection *connection,
                gpointer         data)
{
  GenNode *self = data;
  g_autoptr(GError) error = NULL;

  if (node_add_peer (self, connection, &error) == NULL)
    {
      g_warning ("node %s: cannot serve a connection: %s", self->name, error->message);
      g_dbus_connection_close (connection, NULL, NULL, NULL);
    }
}

/* Connecting ------------------------------------------------------------- */

/* One attempt to connect: the TCP or unix connection, the TLS handshake,
 * the D-Bus authentication and the exchange of names, under a deadline. */
typedef struct
{
  GenNode *node;               /* owned */
  Link *link;                  /* not owned: the node keeps it */
  GCancellable *cancellable;   /* owned */
  GSocketConnectable *peer_address; /* owned */
  gboolean tls;
  GIOStream *stream;           /* owned */
  GSocket *socket;             /* owned */
  GSource *deadline;           /* owned */
  Peer *peer;                  /* owned reference, once made */
} Attempt;

static void
attempt_free (gpointer data)
{
  Attempt *attempt = data;

  if (attempt->deadline != NULL)
    {
      g_source_destroy (attempt->deadline);
      g_source_unref (attempt->deadline);
    }
  g_clear_object (&attempt->stream);
  g_clear_object (&attempt->socket);
  g_clear_object (&attempt->peer_address);
  g_clear_object (&attempt->cancellable);
  g_clear_pointer (&attempt->peer, peer_unref);
  g_object_unref (attempt->node);
  g_free (attempt);
}

static gboolean
attempt_deadline_cb (gpointer data)
{
  Attempt *attempt = data;

  g_cancellable_cancel (attempt->cancellable);
  if (attempt->socket != NULL)
    gen_listener_shutdown_socket (attempt->socket);
  g_clear_pointer (&attempt->deadline, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* Reads `tls:host=…,port=…` or `unix:…` into what the connection needs.
 * A node speaks TLS on TCP only: a plain `tcp:` address is refused. */
static GSocketConnectable *
node_parse_address (const gchar  *address,
                    gboolean     *tls,
                    gchar       **listen_address,
                    GError      **error)
{
  g_autofree gchar *socket_form = NULL;
  GSocketAddress *socket_address;
  gboolean is_unix = FALSE;

  if (g_str_has_prefix (address, "tls:"))
    socket_form = g_strconcat ("tcp:", address + 4, NULL);
  else if (g_str_has_prefix (address, "unix:"))
    socket_form = g_strdup (address);
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "“%s” is not a node address: use tls:host=…,port=… or unix:path=…",
                   address);
      return NULL;
    }

  socket_address = gen_listener_parse_socket_address (socket_form, &is_unix, error);
  if (socket_address == NULL)
    return NULL;

  *tls = !is_unix;
  if (listen_address != NULL)
    *listen_address = g_steal_pointer (&socket_form);
  if (is_unix)
    return G_SOCKET_CONNECTABLE (socket_address);

  {
    GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (socket_address);
    g_autofree gchar *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
    GSocketConnectable *network = g_network_address_new (host,
                                                         g_inet_socket_address_get_port (inet));

    g_object_unref (socket_address);
    return network;
  }
}

static gboolean
node_check_credentials (GenNode  *self,
                        gboolean  tls,
                        GError  **error)
{
  if (!tls)
    return TRUE;
  if (!gen_listener_check_tls_backend (error))
    return FALSE;
  if (self->certificate == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                   "node %s has no certificate: call gen_node_set_tls_credentials() first",
                   self->name);
      return FALSE;
    }
  return TRUE;
}

static void
attempt_hello_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  g_autoptr(GTask) task = data;
  Attempt *attempt = g_task_get_task_data (task);
  GenNode *self = attempt->node;
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;
  const gchar *name;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply == NULL || attempt->peer->down)
    {
      if (error == NULL)
        error = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION,
                             "noconnection: the link closed while it was made");
      peer_fail (attempt->peer);
      g_task_return_error (task, error);
      return;
    }

  g_variant_get (reply, "(&s)", &name);
  if (attempt->link != NULL && !attempt->link->dropped)
    {
      attempt->link->peer = peer_ref (attempt->peer);
      attempt->peer->link = attempt->link;
      g_free (attempt->link->peer_name);
      attempt->link->peer_name = g_strdup (name);
    }
  node_peer_named (self, attempt->peer, name);
  g_task_return_pointer (task, g_strdup (name), g_free);
}

static void
attempt_dbus_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  g_autoptr(GTask) task = data;
  Attempt *attempt = g_task_get_task_data (task);
  g_autoptr(GDBusConnection) connection = NULL;
  GError *error = NULL;

  connection = g_dbus_connection_new_finish (result, &error);
  if (connection == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (attempt->node->closed)
    {
      g_dbus_connection_close (connection, NULL, NULL, NULL);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED, "the node was closed");
      return;
    }

  attempt->peer = node_add_peer (attempt->node, connection, &error);
  if (attempt->peer == NULL)
    {
      g_dbus_connection_close (connection, NULL, NULL, NULL);
      g_task_return_error (task, error);
      return;
    }
  peer_ref (attempt->peer);

  g_dbus_connection_call (connection, NULL, NODE_PATH, NODE_INTERFACE, "Hello",
                          g_variant_new ("(s)", attempt->node->name), G_VARIANT_TYPE ("(s)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, attempt->cancellable,
                          attempt_hello_cb, g_steal_pointer (&task));
}

static void
attempt_start_dbus (GTask *task)
{
  Attempt *attempt = g_task_get_task_data (task);

  g_dbus_connection_new (attempt->stream, NULL,
                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                         G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING,
                         NULL, attempt->cancellable, attempt_dbus_cb, task);
}

static void
attempt_tls_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  GTask *task = data;
  GError *error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  attempt_start_dbus (task);
}

static void
attempt_connected_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      data)
{
  GTask *task = data;
  Attempt *attempt = g_task_get_task_data (task);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GIOStream) tls = NULL;
  GError *error = NULL;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  attempt->socket = g_object_ref (g_socket_connection_get_socket (connection));
  attempt->stream = G_IO_STREAM (g_steal_pointer (&connection));

  if (!attempt->tls)
    {
      attempt_start_dbus (task);
      return;
    }

  tls = g_tls_client_connection_new (attempt->stream, attempt->peer_address, &error);
  if (tls == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_tls_connection_set_certificate (G_TLS_CONNECTION (tls), attempt->node->certificate);
  g_tls_connection_set_database (G_TLS_CONNECTION (tls), attempt->node->database);
  g_set_object (&attempt->stream, tls);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT,
                                    attempt->cancellable, attempt_tls_cb, task);
}

/* Starts an attempt to reach @address; the task's result is the peer's
 * name. */
static void
node_attempt (GenNode             *self,
              Link                *link,
              const gchar         *address,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback,
              gpointer             user_data)
{
  g_autoptr(GSocketClient) client = NULL;
  GTask *task;
  Attempt *attempt;
  GError *error = NULL;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, node_attempt);
  g_task_set_name (task, "[genserver] node connect");

  attempt = g_new0 (Attempt, 1);
  attempt->node = g_object_ref (self);
  attempt->link = link;
  attempt->cancellable = g_cancellable_new ();
  g_task_set_task_data (task, attempt, attempt_free);
  if (cancellable != NULL)
    g_cancellable_connect (cancellable, G_CALLBACK (g_cancellable_cancel),
                           g_object_ref (attempt->cancellable), g_object_unref);

  attempt->peer_address = node_parse_address (address, &attempt->tls, NULL, &error);
  if (attempt->peer_address == NULL || !node_check_credentials (self, attempt->tls, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  attempt->deadline = g_timeout_source_new (self->handshake_timeout_ms);
  g_source_set_callback (attempt->deadline, attempt_deadline_cb, attempt, NULL);
  g_source_set_static_name (attempt->deadline, "[genserver] node connect deadline");
  g_source_attach (attempt->deadline, self->context);

  client = g_socket_client_new ();
  g_socket_client_connect_async (client, attempt->peer_address, attempt->cancellable,
                                 attempt_connected_cb, task);
}

/* Links: kept connected -------------------------------------------------- */

static void
link_free (Link *link)
{
  if (link->retry != NULL)
    {
      g_source_destroy (link->retry);
      g_source_unref (link->retry);
    }
  g_clear_object (&link->cancellable);
  if (link->peer != NULL)
    {
      link->peer->link = NULL;
      peer_unref (link->peer);
    }
  g_free (link->address);
  g_free (link->peer_name);
  g_free (link);
}

/* Drops @link: no more attempts. One in progress is cancelled, and its
 * callback frees the link. */
static void
link_drop (gpointer data)
{
  Link *link = data;

  link->dropped = TRUE;
  if (link->cancellable != NULL)
    g_cancellable_cancel (link->cancellable);
  else
    link_free (link);
}

/* The end of an attempt of @link's: the link, NULL if it failed. */
static gboolean
link_attempt_done (Link         *link,
                   GAsyncResult *result,
                   gchar       **name,
                   GError      **error)
{
  *name = g_task_propagate_pointer (G_TASK (result), error);
  g_clear_object (&link->cancellable);
  if (link->dropped)
    {
      link_free (link);
      return FALSE;
    }
  return TRUE;
}

static void
link_attempt_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  GenNode *self = GEN_NODE (source);
  g_autofree gchar *name = NULL;
  g_autoptr(GError) error = NULL;
  Link *link = data;

  if (!link_attempt_done (link, result, &name, &error))
    return;

  if (name != NULL)
    {
      g_debug ("node %s: reconnected to %s at %s", self->name, name, link->address);
      link->backoff_ms = BACKOFF_MIN_MS;
      return;
    }

  g_debug ("node %s: cannot reconnect to %s: %s; next try in %u ms", self->name,
           link->address, error->message, link->backoff_ms);
  node_link_schedule (link);
}

static void
node_link_attempt (Link *link)
{
  link->cancellable = g_cancellable_new ();
  node_attempt (link->node, link, link->address, link->cancellable, link_attempt_cb, link);
}

static gboolean
link_retry_cb (gpointer data)
{
  Link *link = data;

  g_clear_pointer (&link->retry, g_source_unref);
  node_link_attempt (link);
  return G_SOURCE_REMOVE;
}

/* The next attempt, after the backoff, which doubles each time. */
static void
node_link_schedule (Link *link)
{
  if (link->retry != NULL || link->cancellable != NULL || link->dropped)
    return;

  link->retry = g_timeout_source_new (link->backoff_ms);
  g_source_set_callback (link->retry, link_retry_cb, link, NULL);
  g_source_set_static_name (link->retry, "[genserver] node reconnect");
  g_source_attach (link->retry, link->node->context);
  link->backoff_ms = MIN (link->backoff_ms * 2, BACKOFF_MAX_MS);
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
        g_atomic_int_set (&((Peer *) g_ptr_array_index (self->peers, i))->tick_time_ms,
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
  signals[SIGNAL_NODE_UP] =
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
  signals[SIGNAL_NODE_DOWN] =
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
  self->peers = g_ptr_array_new_with_free_func (peer_unref);
  self->links = g_ptr_array_new_with_free_func (link_drop);
  self->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, peer_unref);
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

  connectable = node_parse_address (address, &tls, &listen_address, error);
  if (connectable == NULL || !node_check_credentials (self, tls, error))
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
  Link *link;

  g_return_if_fail (GEN_IS_NODE (self));
  g_return_if_fail (address != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  link = g_new0 (Link, 1);
  link->node = self;
  link->address = g_strdup (address);
  link->backoff_ms = BACKOFF_MIN_MS;
  link->cancellable = cancellable ? g_object_ref (cancellable) : g_cancellable_new ();
  g_ptr_array_add (self->links, link);

  node_attempt (self, link, address, link->cancellable, callback, user_data);
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
  GTask *task = G_TASK (result);
  Attempt *attempt;
  Link *link;
  gchar *name;

  g_return_val_if_fail (GEN_IS_NODE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (task) == node_attempt, NULL);

  attempt = g_task_get_task_data (task);
  link = attempt->link;
  if (!link_attempt_done (link, result, &name, error))
    {
      g_clear_pointer (&name, g_free);
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the node was closed");
      return NULL;
    }

  /* A first attempt that failed leaves nothing to keep up. */
  if (name == NULL)
    g_ptr_array_remove (self->links, link);
  return name;
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
 *   [property@Gen.Node:handshake-timeout], or the error of the socket
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
  Peer *found;

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

  for (guint i = self->links->len; i > 0; i--)
    {
      Link *link = g_ptr_array_index (self->links, i - 1);

      if (g_strcmp0 (link->peer_name, peer) == 0)
        g_ptr_array_remove_index (self->links, i - 1);
    }

  for (guint i = 0; i < self->peers->len; i++)
    {
      Peer *found = g_ptr_array_index (self->peers, i);

      if (g_strcmp0 (found->name, peer) == 0)
        peer_fail (found);
    }
}

/**
 * gen_node_close:
 * @self: a #GenNode
 *
 * Stops listening, closes every link and stops reconnecting; the
 * monitors of the nodes it was connected to fire. Dropping the last
 * reference closes a node too.
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
  peers = g_ptr_array_copy (self->peers, (GCopyFunc) (void (*) (void)) peer_ref, NULL);
  g_ptr_array_set_free_func (peers, peer_unref);
  for (guint i = 0; i < peers->len; i++)
    {
      Peer *peer = g_ptr_array_index (peers, i);

      peer_fail (peer);
      node_peer_down (self, peer, reason);
    }
}

GenListener *
gen_node_get_listener (GenNode *self,
                                guint    index)
{
  return index < self->listeners->len ? g_ptr_array_index (self->listeners, index) : NULL;
}
