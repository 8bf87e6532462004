/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <gio/gio.h>

#include <genserver/gen-version.h>
#include <genserver/gen-registry.h>
#include <genserver/gen-remote.h>

G_BEGIN_DECLS

/**
 * GEN_NODE_REGISTRY_PATH:
 *
 * The object path at which a [class@Gen.Node] exports its registry on
 * every connection to another node; [method@Gen.Node.remote_for_name]
 * reaches names there, and so does [ctor@Gen.Remote.new_for_name] given
 * the connection of [method@Gen.Node.get_connection].
 *
 * Since: 1.2
 */
#define GEN_NODE_REGISTRY_PATH "/io/github/genserver/Registry"

/**
 * GEN_NODE_DEFAULT_TICK_TIME:
 *
 * How long, in milliseconds, a [class@Gen.Node] waits without hearing from
 * a connected node before it declares the link down: 4000. Nodes tick four
 * times in that time, as Erlang's `net_ticktime` does.
 *
 * Since: 1.2
 */
#define GEN_NODE_DEFAULT_TICK_TIME 4000

#define GEN_TYPE_NODE (gen_node_get_type ())

GEN_AVAILABLE_IN_1_2
G_DECLARE_FINAL_TYPE (GenNode, gen_node, GEN, NODE, GObject)

/**
 * GenNodeMonitorFunc:
 * @node: the node that watched
 * @peer: the name of the node whose link went down
 * @reason: a %GEN_SERVER_ERROR_NO_CONNECTION error that says why
 * @user_data: the data given to [method@Gen.Node.monitor_node]
 *
 * Told that the link to a monitored node is down, as Erlang's
 * `{nodedown, Node}` message. See [method@Gen.Node.monitor_node].
 *
 * Since: 1.2
 */
typedef void (*GenNodeMonitorFunc) (GenNode      *node,
                                    const gchar  *peer,
                                    const GError *reason,
                                    gpointer      user_data);

GEN_AVAILABLE_IN_1_2
GenNode         *gen_node_new                       (const gchar          *name);
GEN_AVAILABLE_IN_1_2
const gchar     *gen_node_get_name                  (GenNode              *self);
GEN_AVAILABLE_IN_1_2
GenRegistry     *gen_node_get_registry              (GenNode              *self);
GEN_AVAILABLE_IN_1_2
gboolean         gen_node_set_tls_credentials       (GenNode              *self,
                                                     GTlsCertificate      *certificate,
                                                     GTlsDatabase         *ca_database,
                                                     GError              **error);
GEN_AVAILABLE_IN_1_2
gboolean         gen_node_set_tls_credentials_from_files (GenNode         *self,
                                                     const gchar          *certificate_file,
                                                     const gchar          *key_file,
                                                     const gchar          *ca_file,
                                                     GError              **error);
GEN_AVAILABLE_IN_1_2
gboolean         gen_node_listen                    (GenNode              *self,
                                                     const gchar          *address,
                                                     GError              **error);
GEN_AVAILABLE_IN_1_2
const gchar     *gen_node_get_address               (GenNode              *self);
GEN_AVAILABLE_IN_1_2
gchar           *gen_node_connect                   (GenNode              *self,
                                                     const gchar          *address,
                                                     GCancellable         *cancellable,
                                                     GError              **error);
GEN_AVAILABLE_IN_1_2
void             gen_node_connect_async             (GenNode              *self,
                                                     const gchar          *address,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
GEN_AVAILABLE_IN_1_2
gchar           *gen_node_connect_finish            (GenNode              *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
GEN_AVAILABLE_IN_1_2
gchar          **gen_node_list_peers                (GenNode              *self);
GEN_AVAILABLE_IN_1_2
GDBusConnection *gen_node_get_connection            (GenNode              *self,
                                                     const gchar          *peer);
GEN_AVAILABLE_IN_1_2
GenRemote       *gen_node_remote_for_name           (GenNode              *self,
                                                     const gchar          *peer,
                                                     const gchar          *name,
                                                     GCancellable         *cancellable,
                                                     GError              **error);
GEN_AVAILABLE_IN_1_2
guint            gen_node_monitor_node              (GenNode              *self,
                                                     const gchar          *peer,
                                                     GenNodeMonitorFunc    func,
                                                     gpointer              user_data,
                                                     GDestroyNotify        destroy);
GEN_AVAILABLE_IN_1_2
gboolean         gen_node_demonitor_node            (GenNode              *self,
                                                     guint                 monitor_id);
GEN_AVAILABLE_IN_1_2
void             gen_node_disconnect                (GenNode              *self,
                                                     const gchar          *peer);
GEN_AVAILABLE_IN_1_2
void             gen_node_close                     (GenNode              *self);

G_END_DECLS
