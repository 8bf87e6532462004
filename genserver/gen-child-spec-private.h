/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-child-spec.h"
#include "gen-server.h"

G_BEGIN_DECLS

/* Whether the spec could start a child, without starting one: its fields
 * and its construct properties against its type. */
gboolean   gen_child_spec_check       (GenChildSpec  *self,
                                       GError       **error);

/* A fresh instance of the spec's type with its properties. */
GenServer *gen_child_spec_instantiate (GenChildSpec  *self,
                                       GError       **error);

G_END_DECLS
