/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-child-spec.h"

G_BEGIN_DECLS

/* Whether the spec could start a child, without starting one: its fields
 * and its construct properties against its type. */
gboolean gen_child_spec_check_internal (GenChildSpec  *self,
                                        GError       **error);

G_END_DECLS
