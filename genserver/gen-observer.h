/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <gio/gio.h>

#include <genserver/gen-version.h>
#include <genserver/gen-dbus-listener.h>

G_BEGIN_DECLS

/**
 * GEN_OBSERVER_INTERFACE:
 *
 * The D-Bus interface that [func@Gen.observer_export] exports,
 * `io.github.genserver.Observer1`. Its introspection XML is installed in
 * `$datadir/dbus-1/interfaces`.
 *
 * Since: 1.2
 */
#define GEN_OBSERVER_INTERFACE "io.github.genserver.Observer1"

/**
 * GEN_OBSERVER_OBJECT_PATH:
 *
 * Where [func@Gen.observer_export] exports the observer:
 * `/io/github/genserver/Observer1`.
 *
 * Since: 1.2
 */
#define GEN_OBSERVER_OBJECT_PATH "/io/github/genserver/Observer1"

GEN_AVAILABLE_IN_1_2
gboolean         gen_observer_export   (GDBusConnection  *connection,
                                        GError          **error);
GEN_AVAILABLE_IN_1_2
gboolean         gen_observer_unexport (GDBusConnection  *connection);
GEN_AVAILABLE_IN_1_2
GenDBusListener *gen_observer_listen   (const gchar      *socket_path,
                                        GError          **error);

G_END_DECLS
