/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * A node's links: the connections it makes to other nodes, and keeps up.
 * An attempt dials the address, goes through the TLS handshake and the
 * D-Bus authentication, makes the connection a peer (gen-node-peer.c) and
 * says Hello, all under the node's handshake-timeout. A link is the address
 * gen_node_connect() was given: when its peer goes down, it attempts again
 * after a backoff that doubles from BACKOFF_MIN_MS to BACKOFF_MAX_MS.
 * Everything here runs on the node's context.
 */

#include "config.h"

#include "gen-node-link-private.h"
#include "gen-node-peer-private.h"
#include "gen-server.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* An address this node connected to, kept connected. */
struct _GenNodeLink
{
  GenNode *node;      /* not owned: links die with the node */
  gchar *address;     /* owned */
  gchar *peer_name;   /* owned: the name the peer gave, once known */
  GenNodePeer *peer;  /* owned reference: the connection now, or NULL */
  guint backoff_ms;
  GSource *retry;     /* owned: the next attempt, or NULL */
  GCancellable *cancellable; /* owned: the attempt's in progress, or NULL */
  gboolean dropped;   /* no longer in the node's links: the attempt frees it */
};

static void link_schedule (GenNodeLink *link);
static void link_peer_down (gpointer data);

/* Connecting ------------------------------------------------------------- */

/* One attempt to connect: the TCP or unix connection, the TLS handshake,
 * the D-Bus authentication and the exchange of names, under a deadline. */
typedef struct
{
  GenNode *node;               /* owned */
  GenNodeLink *link;           /* not owned: the node keeps it */
  GCancellable *cancellable;   /* owned: its own; the link's and the caller's cancel it */
  gulong caller_cancelled_id;  /* on the task's cancellable until the end; 0 then */
  GSocketConnectable *peer_address; /* owned */
  gboolean tls;
  GIOStream *stream;           /* owned */
  GSocket *socket;             /* owned */
  GSource *deadline;           /* owned */
  GenNodePeer *peer;           /* owned reference, once made */
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
  g_clear_pointer (&attempt->peer, gen_node_peer_unref);
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

/* Every end of an attempt: @name (owned), or NULL and @error (owned).
 * First the caller's cancellable lets go of the attempt's, which its
 * handler holds, rather than when that cancellable is finalized: one kept
 * for many connects would hold one per connect. The ends all come from
 * callbacks on the node's context, never from inside that cancellable's
 * "cancelled" emission (GTask and GDBus report a cancellation from a
 * later iteration), where g_cancellable_disconnect() would wait for
 * itself; cancelled on another thread at that moment, it waits for that
 * emission to end. */
static void
attempt_return (GTask  *task,
                gchar  *name,
                GError *error)
{
  Attempt *attempt = g_task_get_task_data (task);

  if (attempt->caller_cancelled_id != 0)
    {
      g_cancellable_disconnect (g_task_get_cancellable (task), attempt->caller_cancelled_id);
      attempt->caller_cancelled_id = 0;
    }
  if (name != NULL)
    g_task_return_pointer (task, name, g_free);
  else
    g_task_return_error (task, error);
}

/* A node speaks TLS on TCP only: a plain `tcp:` address is refused. */
GSocketConnectable *
gen_node_link_parse_address (const gchar  *address,
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

gboolean
gen_node_link_check_credentials (GenNode  *self,
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
      gen_node_peer_fail (attempt->peer);
      attempt_return (task, NULL, error);
      return;
    }

  g_variant_get (reply, "(&s)", &name);
  if (attempt->link != NULL && !attempt->link->dropped)
    {
      attempt->link->peer = gen_node_peer_ref (attempt->peer);
      attempt->peer->link = attempt->link;
      attempt->peer->link_down = link_peer_down;
      g_free (attempt->link->peer_name);
      attempt->link->peer_name = g_strdup (name);
    }
  gen_node_peer_named (self, attempt->peer, name);
  attempt_return (task, g_strdup (name), NULL);
}

static void
attempt_dbus_done (GDBusConnection *connection,
                   const GError    *handshake_error,
                   gpointer         data)
{
  g_autoptr(GTask) task = data;
  Attempt *attempt = g_task_get_task_data (task);
  GError *error = NULL;

  if (connection == NULL)
    {
      attempt_return (task, NULL, g_error_copy (handshake_error));
      return;
    }
  if (attempt->node->closed)
    {
      g_dbus_connection_close (connection, NULL, NULL, NULL);
      attempt_return (task, NULL,
                      g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED, "the node was closed"));
      return;
    }

  attempt->peer = gen_node_peer_add (attempt->node, connection, &error);
  if (attempt->peer == NULL)
    {
      g_dbus_connection_close (connection, NULL, NULL, NULL);
      attempt_return (task, NULL, error);
      return;
    }
  gen_node_peer_ref (attempt->peer);

  g_dbus_connection_call (connection, NULL, GEN_NODE_PEER_PATH, GEN_NODE_PEER_INTERFACE, "Hello",
                          g_variant_new ("(s)", attempt->node->name), G_VARIANT_TYPE ("(s)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, attempt->cancellable,
                          attempt_hello_cb, g_steal_pointer (&task));
}

/* The TLS handshake (if any) and the D-Bus authentication, on a thread of
 * their own rather than GIO's shared pool, as the listener runs them: a
 * peer that accepts and never answers holds that thread, not one every
 * GTask of the process needs, until the deadline shuts the socket. */
static void
attempt_start_handshake (GTask *task)
{
  Attempt *attempt = g_task_get_task_data (task);

  gen_listener_handshake (attempt->stream, NULL,
                          G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                          G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING,
                          NULL, attempt->cancellable, attempt->node->context,
                          attempt_dbus_done, task, g_object_unref);
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
      attempt_return (task, NULL, error);
      g_object_unref (task);
      return;
    }
  attempt->socket = g_object_ref (g_socket_connection_get_socket (connection));
  attempt->stream = G_IO_STREAM (g_steal_pointer (&connection));

  if (!attempt->tls)
    {
      attempt_start_handshake (task);
      return;
    }

  tls = g_tls_client_connection_new (attempt->stream, attempt->peer_address, &error);
  if (tls == NULL)
    {
      attempt_return (task, NULL, error);
      g_object_unref (task);
      return;
    }
  g_tls_connection_set_certificate (G_TLS_CONNECTION (tls), attempt->node->certificate);
  g_tls_connection_set_database (G_TLS_CONNECTION (tls), attempt->node->database);
  g_set_object (&attempt->stream, tls);
  attempt_start_handshake (task);
}

/* The caller's cancellable cancels the attempt's. (A "cancelled" handler
 * gets the cancelled one first: g_cancellable_cancel itself would only
 * cancel that one again.) */
static void
attempt_cancel_cb (GCancellable *cancellable,
                   gpointer      attempt_cancellable)
{
  g_cancellable_cancel (attempt_cancellable);
}

/* Starts an attempt of @link's; the task's result is the peer's name.
 * @cancellable (nullable) is the caller's: the link never cancels that
 * one, which may be shared with the caller's other work. */
static void
attempt_start (GenNode             *self,
               GenNodeLink         *link,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  g_autoptr(GSocketClient) client = NULL;
  GTask *task;
  Attempt *attempt;
  GError *error = NULL;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, attempt_start);
  g_task_set_name (task, "[genserver] node connect");

  attempt = g_new0 (Attempt, 1);
  attempt->node = g_object_ref (self);
  attempt->link = link;
  attempt->cancellable = g_cancellable_new ();
  g_task_set_task_data (task, attempt, attempt_free);
  link->cancellable = g_object_ref (attempt->cancellable);

  attempt->peer_address = gen_node_link_parse_address (link->address, &attempt->tls, NULL,
                                                       &error);
  if (attempt->peer_address == NULL ||
      !gen_node_link_check_credentials (self, attempt->tls, &error))
    {
      attempt_return (task, NULL, error);
      g_object_unref (task);
      return;
    }

  /* Cancelled already, it cancels ours at once (and returns 0). */
  if (cancellable != NULL)
    attempt->caller_cancelled_id =
      g_cancellable_connect (cancellable, G_CALLBACK (attempt_cancel_cb),
                             g_object_ref (attempt->cancellable), g_object_unref);

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
link_free (GenNodeLink *link)
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
      gen_node_peer_unref (link->peer);
    }
  g_free (link->address);
  g_free (link->peer_name);
  g_free (link);
}

/* One in progress is cancelled, and its callback frees the link. */
void
gen_node_link_drop (gpointer data)
{
  GenNodeLink *link = data;

  link->dropped = TRUE;
  if (link->cancellable != NULL)
    g_cancellable_cancel (link->cancellable);
  else
    link_free (link);
}

/* The end of an attempt of @link's: the link, NULL if it failed. */
static gboolean
link_attempt_done (GenNodeLink   *link,
                   GAsyncResult  *result,
                   gchar        **name,
                   GError       **error)
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
  GenNodeLink *link = data;

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
  link_schedule (link);
}

static void
link_attempt (GenNodeLink *link)
{
  attempt_start (link->node, link, NULL, link_attempt_cb, link);
}

static gboolean
link_retry_cb (gpointer data)
{
  GenNodeLink *link = data;

  g_clear_pointer (&link->retry, g_source_unref);
  link_attempt (link);
  return G_SOURCE_REMOVE;
}

/* The next attempt, after the backoff, which doubles each time. */
static void
link_schedule (GenNodeLink *link)
{
  if (link->retry != NULL || link->cancellable != NULL || link->dropped)
    return;

  link->retry = g_timeout_source_new (link->backoff_ms);
  g_source_set_callback (link->retry, link_retry_cb, link, NULL);
  g_source_set_static_name (link->retry, "[genserver] node reconnect");
  g_source_attach (link->retry, link->node->context);
  link->backoff_ms = MIN (link->backoff_ms * 2, BACKOFF_MAX_MS);
}

static void
link_peer_down (gpointer data)
{
  GenNodeLink *link = data;

  g_clear_pointer (&link->peer, gen_node_peer_unref);
  link_schedule (link);
}

/* For gen-node.c --------------------------------------------------------- */

void
gen_node_link_start (GenNode             *node,
                     const gchar         *address,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  GenNodeLink *link;

  link = g_new0 (GenNodeLink, 1);
  link->node = node;
  link->address = g_strdup (address);
  link->backoff_ms = BACKOFF_MIN_MS;
  g_ptr_array_add (node->links, link);

  attempt_start (node, link, cancellable, callback, user_data);
}

gboolean
gen_node_link_is_attempt (GAsyncResult *result)
{
  return g_task_get_source_tag (G_TASK (result)) == attempt_start;
}

gchar *
gen_node_link_finish (GenNode       *node,
                      GAsyncResult  *result,
                      GError       **error)
{
  Attempt *attempt = g_task_get_task_data (G_TASK (result));
  GenNodeLink *link = attempt->link;
  g_autoptr(GError) local_error = NULL;
  gchar *name;

  /* Dropped, the link cancelled the attempt: that is no cancellation of
   * the caller's. */
  if (!link_attempt_done (link, result, &name, &local_error))
    {
      g_clear_pointer (&name, g_free);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the node was closed");
      return NULL;
    }

  /* A first attempt that failed leaves nothing to keep up. */
  if (name == NULL)
    {
      g_ptr_array_remove (node->links, link);
      g_propagate_error (error, g_steal_pointer (&local_error));
    }
  return name;
}

void
gen_node_link_forget (GenNode     *node,
                      const gchar *peer)
{
  for (guint i = node->links->len; i > 0; i--)
    {
      GenNodeLink *link = g_ptr_array_index (node->links, i - 1);

      if (g_strcmp0 (link->peer_name, peer) == 0)
        g_ptr_array_remove_index (node->links, i - 1);
    }
}
