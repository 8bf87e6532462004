/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <genserver/gen-server.h>

G_BEGIN_DECLS

/**
 * GEN_SERVER_EXIT_MESSAGE_TYPE:
 *
 * The [struct@GLib.VariantType] string of the info message that a server
 * trapping exits gets when a server linked to it stops (see
 * [method@Gen.Server.link]): the tag `"gen-exit"`, the link's id, the type
 * name of the server that stopped, and its reason as an error domain (the
 * empty string for a normal stop), code and message.
 *
 * Since: 1.0
 */
#define GEN_SERVER_EXIT_MESSAGE_TYPE "(sussis)"

GEN_AVAILABLE_IN_ALL
guint     gen_server_link                    (GenServer  *self,
                                              GenServer  *other,
                                              GError    **error);
GEN_AVAILABLE_IN_ALL
gboolean  gen_server_unlink                  (GenServer  *self,
                                              GenServer  *other);
GEN_AVAILABLE_IN_ALL
void      gen_server_set_trap_exit           (GenServer  *self,
                                              gboolean    trap_exit);
GEN_AVAILABLE_IN_ALL
gboolean  gen_server_get_trap_exit           (GenServer  *self);
GEN_AVAILABLE_IN_ALL
gboolean  gen_server_is_exit_message         (GVariant   *message,
                                              guint      *link_id);
GEN_AVAILABLE_IN_ALL
GError   *gen_server_exit_message_dup_reason (GVariant   *message);

G_END_DECLS
