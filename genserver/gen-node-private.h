/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-listener-private.h"
#include "gen-monitor-private.h"
#include "gen-node.h"

G_BEGIN_DECLS

/*
 * A node is three files, each calling only those before it:
 * gen-node-peer.c, a connection to another node (its liveness, the node's
 * object on it, its coming up and going down); gen-node-link.c, the
 * connections this node makes and keeps up; gen-node.c, the type and its
 * public API.
 */
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
  GPtrArray *peers;             /* GenNodePeer (owned): every connection, named or not */
  GPtrArray *links;             /* GenNodeLink (owned) */
  guint max_handshakes;
  guint handshake_timeout_ms;
  gboolean closed;

  GMutex lock;
  guint tick_time_ms;           /* lock */
  GHashTable *by_name;          /* lock: name → GenNodePeer (owned reference) */
  GenMonitorSet *monitors;      /* owned: the node monitors, with the node as subject */
  GHashTable *watched;          /* lock: monitor id → peer name (owned), while waiting;
                                 * gen-node-peer.c fires them when that peer goes down */
};

/* The node's @index-th listener, in the order of gen_node_listen(), or
 * NULL; for tests, which read its counters. */
GenListener *gen_node_get_listener (GenNode *self,
                                    guint    index);

G_END_DECLS
