/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-call-private.h"
#include "gen-reply.h"

G_BEGIN_DECLS

/* The handle that answers @call later; @server_name for its messages. See
 * gen-reply.c. */
GenReply *gen_reply_new (const gchar *server_name,
                         GenCall     *call);

G_END_DECLS
