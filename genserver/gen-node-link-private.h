/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-node-private.h"

G_BEGIN_DECLS

/* A node's links: the connections it makes and keeps up; see
 * gen-node-link.c. All of these run on the node's context. */

typedef struct _GenNodeLink GenNodeLink;

/* Reads a node address, `tls:host=…,port=…` or `unix:…`, into what a
 * connection to it needs; @tls says which kind it is, and
 * @listen_address (nullable) gets it in the form of
 * gen_listener_new(). */
GSocketConnectable *gen_node_link_parse_address     (const gchar          *address,
                                                     gboolean             *tls,
                                                     gchar               **listen_address,
                                                     GError              **error);

/* Whether @node can speak TLS, if @tls: a TLS backend, and credentials. */
gboolean            gen_node_link_check_credentials (GenNode              *node,
                                                     gboolean              tls,
                                                     GError              **error);

/* Makes a link of @node to @address, in its `links`, and starts its first
 * attempt; @callback gets its result, for gen_node_link_finish(). */
void                gen_node_link_start             (GenNode              *node,
                                                     const gchar          *address,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);

/* Whether @result is that of gen_node_link_start(). */
gboolean            gen_node_link_is_attempt        (GAsyncResult         *result);

/* The peer's name, or NULL with the error of the first attempt; a link
 * whose first attempt failed is dropped. */
gchar              *gen_node_link_finish            (GenNode              *node,
                                                     GAsyncResult         *result,
                                                     GError              **error);

/* Drops the links of @node whose peer is named @peer: they are not
 * attempted any more. */
void                gen_node_link_forget            (GenNode              *node,
                                                     const gchar          *peer);

/* The free function of a node's `links`: no more attempts. */
void                gen_node_link_drop              (gpointer              link);

G_END_DECLS
