/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <gio/gio.h>

#include <genserver/gen-version.h>

G_BEGIN_DECLS

#define GEN_TYPE_REMOTE (gen_remote_get_type ())

GEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GenRemote, gen_remote, GEN, REMOTE, GObject)

/**
 * GenRemoteMonitorFunc:
 * @remote: the remote server that stopped or can no longer be reached
 * @reason: (nullable): why: %NULL for a normal stop, the error of the
 *   server's stop otherwise, or a %GEN_SERVER_ERROR_NO_CONNECTION error
 *   whose message starts with `noconnection` when the peer or its bus
 *   name vanished (%GEN_SERVER_ERROR_STOPPED before 1.2)
 * @user_data: the data given to [method@Gen.Remote.monitor]
 *
 * Told that a monitored remote server is down. See
 * [method@Gen.Remote.monitor].
 *
 * Since: 1.0
 */
typedef void (*GenRemoteMonitorFunc) (GenRemote    *remote,
                                      const GError *reason,
                                      gpointer      user_data);

GEN_AVAILABLE_IN_ALL
GenRemote       *gen_remote_new_sync        (GDBusConnection       *connection,
                                             const gchar           *bus_name,
                                             const gchar           *object_path,
                                             GCancellable          *cancellable,
                                             GError               **error);
GEN_AVAILABLE_IN_ALL
GenRemote       *gen_remote_new_for_name    (GDBusConnection       *connection,
                                             const gchar           *bus_name,
                                             const gchar           *registry_path,
                                             const gchar           *name,
                                             GCancellable          *cancellable,
                                             GError               **error);
GEN_AVAILABLE_IN_ALL
GVariant        *gen_remote_call            (GenRemote             *self,
                                             GVariant              *message,
                                             gint                   timeout_ms,
                                             GError               **error);
GEN_AVAILABLE_IN_ALL
void             gen_remote_call_async      (GenRemote             *self,
                                             GVariant              *message,
                                             gint                   timeout_ms,
                                             GCancellable          *cancellable,
                                             GAsyncReadyCallback    callback,
                                             gpointer               user_data);
GEN_AVAILABLE_IN_ALL
GVariant        *gen_remote_call_finish     (GenRemote             *self,
                                             GAsyncResult          *result,
                                             GError               **error);
GEN_AVAILABLE_IN_ALL
gboolean         gen_remote_cast            (GenRemote             *self,
                                             GVariant              *message,
                                             GError               **error);
GEN_AVAILABLE_IN_1_2
gboolean         gen_remote_cast_checked    (GenRemote             *self,
                                             GVariant              *message,
                                             gint                   timeout_ms,
                                             GError               **error);
GEN_AVAILABLE_IN_ALL
guint            gen_remote_monitor         (GenRemote             *self,
                                             GenRemoteMonitorFunc   func,
                                             gpointer               user_data,
                                             GDestroyNotify         destroy);
GEN_AVAILABLE_IN_ALL
gboolean         gen_remote_demonitor       (GenRemote             *self,
                                             guint                  monitor_id);
GEN_AVAILABLE_IN_ALL
GDBusConnection *gen_remote_get_connection  (GenRemote             *self);
GEN_AVAILABLE_IN_ALL
const gchar     *gen_remote_get_bus_name    (GenRemote             *self);
GEN_AVAILABLE_IN_ALL
const gchar     *gen_remote_get_object_path (GenRemote             *self);
GEN_AVAILABLE_IN_ALL
const gchar     *gen_remote_get_name        (GenRemote             *self);
GEN_AVAILABLE_IN_ALL
const gchar     *gen_remote_get_cast_type   (GenRemote             *self);
GEN_AVAILABLE_IN_ALL
const gchar     *gen_remote_get_call_type   (GenRemote             *self);

G_END_DECLS
