/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <gio/gio.h>

#include <genserver/gen-version.h>
#include <genserver/gen-server.h>
#include <genserver/gen-registry.h>

G_BEGIN_DECLS

/**
 * GEN_DBUS_INTERFACE:
 *
 * The D-Bus interface of an exported server, `io.github.genserver.Server1`.
 * Its introspection XML is installed beside the headers; see
 * [method@Gen.Server.export].
 *
 * Since: 1.0
 */
#define GEN_DBUS_INTERFACE "io.github.genserver.Server1"

/**
 * GEN_DBUS_DEFAULT_MAX_MESSAGE_SIZE:
 *
 * The largest serialized message, in bytes, that a server exported with
 * [method@Gen.Server.export] accepts: 16 MiB, well below the 128 MiB that
 * D-Bus allows a whole message.
 *
 * Since: 1.0
 */
#define GEN_DBUS_DEFAULT_MAX_MESSAGE_SIZE (16 * 1024 * 1024)

/**
 * GEN_DBUS_DEFAULT_MAX_PENDING_BYTES:
 *
 * How much of the messages from D-Bus peers a server exported with
 * [method@Gen.Server.export] holds at most, in bytes: 64 MiB of calls not
 * answered yet and of casts and infos not handled yet (or still held by
 * the handler), each counted as its serialized size plus
 * [const@Gen.DBUS_MESSAGE_OVERHEAD]. Past it, a peer gets
 * %GEN_SERVER_ERROR_MAILBOX_FULL. See
 * [method@Gen.Server.export_with_limits].
 *
 * Since: 1.2
 */
#define GEN_DBUS_DEFAULT_MAX_PENDING_BYTES (64 * 1024 * 1024)

/**
 * GEN_DBUS_MESSAGE_OVERHEAD:
 *
 * What a message from a D-Bus peer counts against the export's bound
 * besides its serialized size, in bytes: about what holding it costs (the
 * D-Bus message, the variant, the mailbox's item), so that a flood of
 * empty messages is bounded too.
 *
 * Since: 1.2
 */
#define GEN_DBUS_MESSAGE_OVERHEAD 256

/**
 * GEN_DBUS_DEFAULT_MAX_TIMEOUT:
 *
 * The longest, in milliseconds, that a call from a D-Bus peer waits for a
 * server exported with [method@Gen.Server.export]: one minute. A peer that
 * asks for longer, or for no timeout, gets this one. See
 * [method@Gen.Server.export_with_limits].
 *
 * Since: 1.2
 */
#define GEN_DBUS_DEFAULT_MAX_TIMEOUT 60000

GEN_AVAILABLE_IN_ALL
gboolean gen_server_export      (GenServer        *self,
                                 GDBusConnection  *connection,
                                 const gchar      *object_path,
                                 GError          **error);
GEN_AVAILABLE_IN_ALL
gboolean gen_server_export_full (GenServer        *self,
                                 GDBusConnection  *connection,
                                 const gchar      *object_path,
                                 guint64           max_message_size,
                                 GError          **error);
GEN_AVAILABLE_IN_1_2
gboolean gen_server_export_with_limits (GenServer        *self,
                                        GDBusConnection  *connection,
                                        const gchar      *object_path,
                                        guint64           max_message_size,
                                        guint64           max_pending_bytes,
                                        gint              max_timeout_ms,
                                        GError          **error);
GEN_AVAILABLE_IN_ALL
gboolean gen_server_unexport    (GenServer        *self,
                                 GDBusConnection  *connection);

GEN_AVAILABLE_IN_ALL
gboolean gen_registry_export    (GenRegistry      *self,
                                 GDBusConnection  *connection,
                                 const gchar      *object_path,
                                 GError          **error);
GEN_AVAILABLE_IN_ALL
gboolean gen_registry_unexport  (GenRegistry      *self,
                                 GDBusConnection  *connection);

GEN_AVAILABLE_IN_ALL
GDBusAuthObserver *gen_dbus_auth_observer_new (const guint *uids,
                                               gsize        n_uids,
                                               gboolean     allow_cookie_sha1);

G_END_DECLS
