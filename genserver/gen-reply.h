/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <glib-object.h>

#include <genserver/gen-version.h>

G_BEGIN_DECLS

#define GEN_TYPE_REPLY (gen_reply_get_type ())

GEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GenReply, gen_reply, GEN, REPLY, GObject)

GEN_AVAILABLE_IN_ALL
void     gen_reply_return_value (GenReply     *self,
                                 GVariant     *value);
GEN_AVAILABLE_IN_ALL
void     gen_reply_return_error (GenReply     *self,
                                 const GError *error);
GEN_AVAILABLE_IN_ALL
gboolean gen_reply_is_answered  (GenReply     *self);

G_END_DECLS
