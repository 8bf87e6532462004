/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <genserver/gen-server.h>

G_BEGIN_DECLS

#define GEN_TYPE_REGISTRY (gen_registry_get_type ())

GEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GenRegistry, gen_registry, GEN, REGISTRY, GObject)

GEN_AVAILABLE_IN_ALL
GenRegistry  *gen_registry_new         (void);
GEN_AVAILABLE_IN_ALL
GenRegistry  *gen_registry_get_default (void);
GEN_AVAILABLE_IN_ALL
gboolean      gen_registry_register    (GenRegistry  *self,
                                        const gchar  *name,
                                        GenServer    *server,
                                        GError      **error);
GEN_AVAILABLE_IN_ALL
gboolean      gen_registry_unregister  (GenRegistry  *self,
                                        const gchar  *name);
GEN_AVAILABLE_IN_ALL
GenServer    *gen_registry_lookup      (GenRegistry  *self,
                                        const gchar  *name);
GEN_AVAILABLE_IN_ALL
gchar       **gen_registry_dup_names   (GenRegistry  *self);
GEN_AVAILABLE_IN_ALL
gboolean      gen_registry_cast        (GenRegistry  *self,
                                        const gchar  *name,
                                        GVariant     *message,
                                        GError      **error);
GEN_AVAILABLE_IN_ALL
GVariant     *gen_registry_call        (GenRegistry  *self,
                                        const gchar  *name,
                                        GVariant     *message,
                                        gint          timeout_ms,
                                        GError      **error);
GEN_AVAILABLE_IN_ALL
gboolean      gen_registry_send_info   (GenRegistry  *self,
                                        const gchar  *name,
                                        GVariant     *message,
                                        GError      **error);
GEN_AVAILABLE_IN_ALL
guint         gen_registry_cast_matching (GenRegistry *self,
                                          const gchar *pattern,
                                          GVariant    *message);
GEN_AVAILABLE_IN_ALL
GPtrArray    *gen_registry_call_matching (GenRegistry *self,
                                          const gchar *pattern,
                                          GVariant    *message,
                                          gint         timeout_ms);

G_END_DECLS
