/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-export.h"

G_BEGIN_DECLS

/* What the export (gen-export.c) and the remote side (gen-remote.c) share:
 * the interface, the error names and the checks of what may travel. */

/* Registers the GEN_SERVER_ERROR codes as D-Bus error names, so that a
 * remote caller gets the domain and code of a local one. Any thread, any
 * number of times. */
void                gen_dbus_error_ensure       (void);

/* The io.github.genserver.Server1 interface, parsed once from the XML in
 * the library's resources. Not owned by the caller. */
GDBusInterfaceInfo *gen_dbus_interface_info     (void);

/* Whether @message (the @what of a server) can travel over D-Bus at all:
 * maybe types have no D-Bus wire format. INVALID_MESSAGE if not. */
gboolean            gen_dbus_check_wire_type    (GVariant     *message,
                                                 const gchar  *what,
                                                 GError      **error);

/* Whether @message fits in @max_size serialized bytes. INVALID_MESSAGE if
 * not. */
gboolean            gen_dbus_check_size         (GVariant     *message,
                                                 guint64       max_size,
                                                 GError      **error);

/* Handles a Call, Cast or Info of the server interface for @server: the
 * same for a server exported by itself and one reached through an exported
 * registry. Takes @invocation. */
void                gen_dbus_server_method_call (GenServer             *server,
                                                 guint64                max_message_size,
                                                 GCancellable          *cancellable,
                                                 const gchar           *method_name,
                                                 GVariant              *parameters,
                                                 GDBusMethodInvocation *invocation);

/* The value of a property of the server interface for @server. */
GVariant           *gen_dbus_server_property    (GenServer             *server,
                                                 guint64                max_message_size,
                                                 const gchar           *property_name);

/* Answers @invocation with @error, which it takes. */
void                gen_dbus_return_error       (GDBusMethodInvocation *invocation,
                                                 GError                *error);

G_END_DECLS
