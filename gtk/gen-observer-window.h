/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

#include "gen-observer-view.h"

G_BEGIN_DECLS

/* genserver-observer's window: a GenObserverView of the process at
 * @bus_name on @connection (NULL: the peer of a peer-to-peer
 * connection), titled after it. @application may be NULL: a plain
 * window. */
GtkWidget *gen_observer_window_new (GtkApplication  *application,
                                    GDBusConnection *connection,
                                    const gchar     *bus_name);

G_END_DECLS
