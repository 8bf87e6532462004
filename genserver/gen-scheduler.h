/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <glib-object.h>

#include <genserver/gen-version.h>

G_BEGIN_DECLS

#define GEN_TYPE_SCHEDULER (gen_scheduler_get_type ())

GEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GenScheduler, gen_scheduler, GEN, SCHEDULER, GObject)

GEN_AVAILABLE_IN_ALL
GenScheduler *gen_scheduler_get_default     (void);
GEN_AVAILABLE_IN_ALL
GenScheduler *gen_scheduler_new_pool        (guint         n_workers);
GEN_AVAILABLE_IN_ALL
guint         gen_scheduler_get_n_workers   (GenScheduler *self);

GEN_AVAILABLE_IN_ALL
void          gen_scheduler_set_spinning    (gboolean      spinning);
GEN_AVAILABLE_IN_ALL
gboolean      gen_scheduler_get_spinning    (void);

G_END_DECLS
