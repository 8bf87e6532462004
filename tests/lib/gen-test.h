/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <genserver/genserver.h>

G_BEGIN_DECLS

#define GEN_TEST_TYPE_COUNTER (gen_test_counter_get_type ())

G_DECLARE_FINAL_TYPE (GenTestCounter, gen_test_counter, GEN_TEST, COUNTER, GenServer)

GenTestCounter *gen_test_counter_new                 (void);
guint           gen_test_counter_get_terminate_count (GenTestCounter  *self);
gchar          *gen_test_counter_dup_terminate_reason (GenTestCounter *self);

GVariant       *gen_test_call_from_threads           (GenServer       *server,
                                                      GVariant        *message,
                                                      guint            n_threads,
                                                      guint            n_calls,
                                                      gint             timeout_ms,
                                                      GError         **error);
void            gen_test_call_from_threads_async     (GenServer       *server,
                                                      GVariant        *message,
                                                      guint            n_threads,
                                                      guint            n_calls,
                                                      gint             timeout_ms,
                                                      GCancellable    *cancellable,
                                                      GAsyncReadyCallback callback,
                                                      gpointer         user_data);
GVariant       *gen_test_call_from_threads_finish    (GAsyncResult    *result,
                                                      GError         **error);
gboolean        gen_test_cast_from_thread            (GenServer       *server,
                                                      GVariant        *message,
                                                      guint            n_casts,
                                                      GError         **error);

G_END_DECLS
