/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <genserver/gen-server.h>

G_BEGIN_DECLS

#define GEN_TYPE_REQUEST (gen_request_get_type ())

GEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GenRequest, gen_request, GEN, REQUEST, GObject)

#define GEN_TYPE_REQUEST_SET (gen_request_set_get_type ())

GEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GenRequestSet, gen_request_set, GEN, REQUEST_SET, GObject)

GEN_AVAILABLE_IN_ALL
GenRequest    *gen_server_send_request     (GenServer      *self,
                                            GVariant       *message);
GEN_AVAILABLE_IN_ALL
GVariant      *gen_request_wait            (GenRequest     *self,
                                            gint            timeout_ms,
                                            GError        **error);
GEN_AVAILABLE_IN_1_2
void           gen_request_wait_async      (GenRequest          *self,
                                            gint                 timeout_ms,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
GEN_AVAILABLE_IN_1_2
GVariant      *gen_request_wait_finish     (GenRequest     *self,
                                            GAsyncResult   *result,
                                            GError        **error);
GEN_AVAILABLE_IN_ALL
GVariant      *gen_request_receive         (GenRequest     *self,
                                            gint            timeout_ms,
                                            GError        **error);
GEN_AVAILABLE_IN_ALL
gboolean       gen_request_check           (GenRequest     *self);
GEN_AVAILABLE_IN_ALL
GenServer     *gen_request_get_server      (GenRequest     *self);
GEN_AVAILABLE_IN_ALL
const gchar   *gen_request_get_label       (GenRequest     *self);

GEN_AVAILABLE_IN_ALL
GenRequestSet *gen_request_set_new         (void);
GEN_AVAILABLE_IN_ALL
GenRequest    *gen_request_set_send        (GenRequestSet  *self,
                                            GenServer      *server,
                                            GVariant       *message,
                                            const gchar    *label);
GEN_AVAILABLE_IN_ALL
guint          gen_request_set_get_size    (GenRequestSet  *self);
GEN_AVAILABLE_IN_ALL
GenRequest    *gen_request_set_wait_any    (GenRequestSet  *self,
                                            gint            timeout_ms,
                                            GError        **error);
GEN_AVAILABLE_IN_ALL
GPtrArray     *gen_request_set_wait_all    (GenRequestSet  *self,
                                            gint            timeout_ms,
                                            GError        **error);
GEN_AVAILABLE_IN_1_2
GenRequest    *gen_request_set_wait        (GenRequestSet  *self,
                                            gint            timeout_ms,
                                            gboolean        delete_request,
                                            GError        **error);
GEN_AVAILABLE_IN_1_2
GenRequest    *gen_request_set_receive     (GenRequestSet  *self,
                                            gint            timeout_ms,
                                            gboolean        delete_request,
                                            GError        **error);
GEN_AVAILABLE_IN_1_2
GenRequest    *gen_request_set_check       (GenRequestSet  *self,
                                            gboolean        delete_request,
                                            GError        **error);
GEN_AVAILABLE_IN_1_2
GPtrArray     *gen_request_set_get_requests (GenRequestSet *self);

G_END_DECLS
