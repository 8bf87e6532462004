/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <gio/gio.h>

#include <genserver/gen-version.h>
#include <genserver/gen-server.h>

G_BEGIN_DECLS

#define GEN_TYPE_DBUS_LISTENER (gen_dbus_listener_get_type ())

GEN_AVAILABLE_IN_1_2
G_DECLARE_FINAL_TYPE (GenDBusListener, gen_dbus_listener, GEN, DBUS_LISTENER, GObject)

GEN_AVAILABLE_IN_1_2
GenDBusListener *gen_dbus_listener_new                   (const gchar        *address,
                                                          GDBusAuthObserver  *observer,
                                                          GError            **error);
GEN_AVAILABLE_IN_1_2
const gchar     *gen_dbus_listener_get_client_address    (GenDBusListener    *self);
GEN_AVAILABLE_IN_1_2
gboolean         gen_dbus_listener_export                (GenDBusListener    *self,
                                                          GenServer          *server,
                                                          const gchar        *object_path,
                                                          GError            **error);
GEN_AVAILABLE_IN_1_2
gboolean         gen_dbus_listener_unexport              (GenDBusListener    *self,
                                                          GenServer          *server);
GEN_AVAILABLE_IN_1_2
void             gen_dbus_listener_close                 (GenDBusListener    *self);

G_END_DECLS
