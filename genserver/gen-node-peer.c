/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * A node's peer: one D-Bus connection to another node, whichever side made
 * it. Its liveness (any message in counts, and one thread of the process
 * ticks on every named peer and declares a silent one down), the node's
 * object on it (Hello, by which the two sides give their names, and Casts,
 * the batches of gen-cast-batch.c), and its coming up and going down in the
 * node's books: the names, the node monitors, node-up and node-down.
 *
 * gen-node-link.c, which makes the connections this node keeps up, sits
 * above this file: a peer tells its link that it went down through the
 * hook the link gave it, and the node's signals are emitted by name, their
 * ids being gen-node.c's.
 */

#include "config.h"

#include "gen-cast-batch-private.h"
#include "gen-dbus-private.h"
#include "gen-node-peer-private.h"
#include "gen-server.h"

static const gchar node_xml[] =
  "<node>"
  "  <interface name='" GEN_NODE_PEER_INTERFACE "'>"
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

/* Peers ------------------------------------------------------------------ */

GenNodePeer *
gen_node_peer_ref (GenNodePeer *peer)
{
  g_atomic_int_inc (&peer->ref_count);
  return peer;
}

void
gen_node_peer_unref (gpointer data)
{
  GenNodePeer *peer = data;

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
  GenNodePeer *peer = data;

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
void
gen_node_peer_fail (GenNodePeer *peer)
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
static GPtrArray *ticker_peers; /* ticker_lock: GenNodePeer (owned reference) */
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
          GenNodePeer *peer = g_ptr_array_index (ticker_peers, i);
          gint tick_time = g_atomic_int_get (&peer->tick_time_ms);
          gint silent = node_clock_ms (peer->epoch) - g_atomic_int_get (&peer->last_seen_ms);

          interval = MIN (interval, MAX (tick_time / 4, 1));
          if (silent > tick_time)
            {
              g_debug ("nothing heard from %s for %d ms: its link is down",
                       peer->name_for_ticker, silent);
              gen_node_peer_fail (peer);
              g_ptr_array_remove_index_fast (ticker_peers, i--);
              continue;
            }
          g_dbus_connection_emit_signal (peer->connection, NULL, GEN_NODE_PEER_PATH,
                                         GEN_NODE_PEER_INTERFACE, "Tick", NULL, NULL);
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
ticker_add (GenNodePeer *peer)
{
  g_mutex_lock (&ticker_lock);
  if (ticker_peers == NULL)
    ticker_peers = g_ptr_array_new_with_free_func (gen_node_peer_unref);
  if (ticker_thread == NULL)
    ticker_thread = g_thread_new ("gen-node-ticker", ticker_run, NULL);
  g_ptr_array_add (ticker_peers, gen_node_peer_ref (peer));
  g_cond_signal (&ticker_cond);
  g_mutex_unlock (&ticker_lock);
}

static void
ticker_remove (GenNodePeer *peer)
{
  g_mutex_lock (&ticker_lock);
  if (ticker_peers != NULL)
    g_ptr_array_remove_fast (ticker_peers, peer);
  g_mutex_unlock (&ticker_lock);
}

/* Monitors --------------------------------------------------------------- */

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

/* Up and down ------------------------------------------------------------ */

void
gen_node_peer_down (GenNode      *self,
                    GenNodePeer  *peer,
                    const GError *why)
{
  g_autoptr(GError) reason = NULL;

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

  if (peer->link != NULL)
    peer->link_down (g_steal_pointer (&peer->link));

  /* Last: a handler may close the node. */
  if (reason != NULL)
    g_signal_emit_by_name (self, "node-down", peer->name, reason);

  g_ptr_array_remove (self->peers, peer);
}

static void
peer_closed_cb (GDBusConnection *connection,
                gboolean         remote_peer_vanished,
                GError          *error,
                gpointer         data)
{
  GenNodePeer *peer = data;
  GenNode *self = g_object_get_data (G_OBJECT (connection), "gen-node");

  if (self != NULL)
    gen_node_peer_down (self, peer, error);
}

void
gen_node_peer_named (GenNode     *self,
                     GenNodePeer *peer,
                     const gchar *name)
{
  GenNodePeer *previous;

  peer->name = g_strdup (name);
  g_strlcpy (peer->name_for_ticker, name, sizeof peer->name_for_ticker);

  /* A node that reconnects before this side noticed its old link drop:
   * the new connection wins. */
  g_mutex_lock (&self->lock);
  previous = g_hash_table_lookup (self->by_name, name);
  if (previous != NULL)
    gen_node_peer_ref (previous);
  g_hash_table_replace (self->by_name, g_strdup (name), gen_node_peer_ref (peer));
  g_mutex_unlock (&self->lock);

  if (previous != NULL)
    {
      gen_node_peer_fail (previous);
      gen_node_peer_unref (previous);
    }

  /* Ticks only once named: a connection that never says Hello is ended
   * by the handshake deadline of the side that made it. */
  ticker_add (peer);
  g_debug ("node %s: node %s is up", self->name, name);
  g_signal_emit_by_name (self, "node-up", name);
}

/* The node's object ------------------------------------------------------ */

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
  GenNodePeer *peer = data;
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
  gen_node_peer_named (self, peer, name);
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

GenNodePeer *
gen_node_peer_add (GenNode          *self,
                   GDBusConnection  *connection,
                   GError          **error)
{
  GenNodePeer *peer;

  peer = g_new0 (GenNodePeer, 1);
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
      gen_node_peer_unref (peer);
      return NULL;
    }
  peer->node_object_id =
    g_dbus_connection_register_object (connection, GEN_NODE_PEER_PATH, node_interface_info (),
                                       &node_vtable, gen_node_peer_ref (peer),
                                       gen_node_peer_unref, error);
  if (peer->node_object_id == 0)
    {
      gen_registry_unexport (self->registry, connection);
      gen_node_peer_unref (peer);
      return NULL;
    }
  peer->filter_id = g_dbus_connection_add_filter (connection, peer_filter_cb,
                                                  gen_node_peer_ref (peer), gen_node_peer_unref);
  peer->closed_id = g_signal_connect_data (connection, "closed", G_CALLBACK (peer_closed_cb),
                                           gen_node_peer_ref (peer),
                                           (GClosureNotify) (void (*) (void)) gen_node_peer_unref,
                                           G_CONNECT_DEFAULT);

  g_ptr_array_add (self->peers, peer);
  gen_cast_batch_enable (connection, GEN_NODE_REGISTRY_PATH, GEN_NODE_PEER_PATH,
                         GEN_NODE_PEER_INTERFACE, "Casts");
  g_dbus_connection_start_message_processing (connection);
  return peer;
}

