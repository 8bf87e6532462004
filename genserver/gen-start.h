/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <genserver/gen-server.h>

G_BEGIN_DECLS

GEN_AVAILABLE_IN_ALL
void      gen_server_set_ignore          (GError       **error);
GEN_AVAILABLE_IN_ALL
gboolean  gen_server_is_ignore           (const GError  *error);
GEN_AVAILABLE_IN_ALL
gboolean  gen_server_start_with_timeout  (GenServer     *self,
                                          GVariant      *args,
                                          gint           timeout_ms,
                                          GError       **error);

G_END_DECLS
