/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-node-private.h"

G_BEGIN_DECLS

/* A node's peer: one D-Bus connection to another node; see
 * gen-node-peer.c. */

/* The node's object on every connection, which the side that connected
 * says Hello to, and which the ticks and the batches of casts use. */
#define GEN_NODE_PEER_PATH "/io/github/genserver/Node"
#define GEN_NODE_PEER_INTERFACE "io.github.genserver.Node1"

typedef struct _GenNodePeer GenNodePeer;

/* Told, on the node's context, that the peer a link made went down. */
typedef void (*GenNodePeerLinkDown) (gpointer link);

struct _GenNodePeer
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
  gpointer link;               /* not owned: the link that made it (gen-node-link.c's);
                                * NULL if accepted, or once told */
  GenNodePeerLinkDown link_down; /* what tells `link` that the peer went down */
  guint node_object_id;
  gulong closed_id;
  guint filter_id;
  gboolean down;
};

/* Makes @connection (its messages not processed yet) a peer of @node: the
 * registry and the node object exported, the liveness watch on, in the
 * node's `peers`. It is named once Hello comes, or once the Hello the
 * connecting side sends is answered. On the node's context. */
GenNodePeer *gen_node_peer_add   (GenNode          *node,
                                  GDBusConnection  *connection,
                                  GError          **error);

GenNodePeer *gen_node_peer_ref   (GenNodePeer      *peer);
void         gen_node_peer_unref (gpointer          peer);

/* Registers @peer under @name, now that it gave it: ticks start, a peer
 * of the same name before it is ended, node-up is emitted. On the node's
 * context. */
void         gen_node_peer_named (GenNode          *node,
                                  GenNodePeer      *peer,
                                  const gchar      *name);

/* Ends @peer's connection now; its "closed" signal then takes it down.
 * Any thread. */
void         gen_node_peer_fail  (GenNodePeer      *peer);

/* Takes @peer out of @node, once: its exports and ticks end, the node
 * monitors of its name fire, its link hears of it, and node-down is
 * emitted with @why. On the node's context. */
void         gen_node_peer_down  (GenNode          *node,
                                  GenNodePeer      *peer,
                                  const GError     *why);

G_END_DECLS
