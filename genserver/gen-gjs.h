/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <glib.h>

#include <genserver/gen-version.h>

G_BEGIN_DECLS

GEN_AVAILABLE_IN_1_2
const gchar *gen_gjs_helper_uri (void);

G_END_DECLS
