/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-listener-private.h"
#include "gen-node.h"

G_BEGIN_DECLS

/* The node's @index-th listener, in the order of gen_node_listen(), or
 * NULL; for tests, which read its counters. */
GenListener *gen_node_get_listener (GenNode *self,
                                             guint    index);

G_END_DECLS
