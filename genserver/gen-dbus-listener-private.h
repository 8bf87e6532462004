/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-dbus-listener.h"

G_BEGIN_DECLS

/* The handshake counters of gen_listener_get_counts(), for the tests; left
 * alone once the listener is closed. Any thread. */
void gen_dbus_listener_get_counts (GenDBusListener *self,
                                   guint           *in_progress,
                                   guint           *refused,
                                   guint           *timed_out,
                                   guint           *accepted);

G_END_DECLS
