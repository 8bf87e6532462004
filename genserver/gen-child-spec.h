/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <glib-object.h>

#include <genserver/gen-version.h>
#include <genserver/gen-scheduler.h>

G_BEGIN_DECLS

/**
 * GenChildRestart:
 * @GEN_CHILD_RESTART_PERMANENT: always restarted, whatever the reason it
 *   stopped
 * @GEN_CHILD_RESTART_TRANSIENT: restarted only when it stopped abnormally
 *   (a crash, an error stop, a failed `init`); a normal stop is final
 * @GEN_CHILD_RESTART_TEMPORARY: never restarted; removed from its
 *   supervisor when it stops
 *
 * When a [class@Gen.Supervisor] restarts a child that stopped: Erlang's
 * `permanent`, `transient` and `temporary`.
 *
 * Since: 1.0
 */
typedef enum
{
  GEN_CHILD_RESTART_PERMANENT,
  GEN_CHILD_RESTART_TRANSIENT,
  GEN_CHILD_RESTART_TEMPORARY,
} GenChildRestart;

/**
 * GEN_CHILD_SPEC_VARIANT_TYPE:
 *
 * The [struct@GLib.VariantType] string of a child spec as a variant (see
 * [method@Gen.ChildSpec.to_variant]): id, type name, construct properties,
 * start arguments, restart, shutdown timeout, registered name and whether
 * the child is significant.
 *
 * Since: 1.0
 */
#define GEN_CHILD_SPEC_VARIANT_TYPE "(ssa{sv}mvuisb)"

#define GEN_TYPE_CHILD_SPEC (gen_child_spec_get_type ())

typedef struct _GenChildSpec GenChildSpec;

GEN_AVAILABLE_IN_ALL
GType            gen_child_spec_get_type             (void) G_GNUC_CONST;
GEN_AVAILABLE_IN_ALL
GenChildSpec    *gen_child_spec_new                  (const gchar     *id,
                                                      GType            server_type,
                                                      GVariant        *args);
GEN_AVAILABLE_IN_ALL
GenChildSpec    *gen_child_spec_new_from_variant     (GVariant        *variant,
                                                      GError         **error);
GEN_AVAILABLE_IN_ALL
GenChildSpec    *gen_child_spec_ref                  (GenChildSpec    *self);
GEN_AVAILABLE_IN_ALL
void             gen_child_spec_unref                (GenChildSpec    *self);
GEN_AVAILABLE_IN_ALL
const gchar     *gen_child_spec_get_id               (GenChildSpec    *self);
GEN_AVAILABLE_IN_ALL
GType            gen_child_spec_get_server_type      (GenChildSpec    *self);
GEN_AVAILABLE_IN_ALL
GVariant        *gen_child_spec_get_args             (GenChildSpec    *self);
GEN_AVAILABLE_IN_ALL
void             gen_child_spec_add_property         (GenChildSpec    *self,
                                                      const gchar     *name,
                                                      GVariant        *value);
GEN_AVAILABLE_IN_ALL
void             gen_child_spec_set_scheduler        (GenChildSpec    *self,
                                                      GenScheduler    *scheduler);
GEN_AVAILABLE_IN_ALL
GenScheduler    *gen_child_spec_get_scheduler        (GenChildSpec    *self);
GEN_AVAILABLE_IN_ALL
GenChildRestart  gen_child_spec_get_restart          (GenChildSpec    *self);
GEN_AVAILABLE_IN_ALL
void             gen_child_spec_set_restart          (GenChildSpec    *self,
                                                      GenChildRestart  restart);
GEN_AVAILABLE_IN_ALL
gint             gen_child_spec_get_shutdown_timeout (GenChildSpec    *self);
GEN_AVAILABLE_IN_ALL
void             gen_child_spec_set_shutdown_timeout (GenChildSpec    *self,
                                                      gint             timeout_ms);
GEN_AVAILABLE_IN_ALL
const gchar     *gen_child_spec_get_name             (GenChildSpec    *self);
GEN_AVAILABLE_IN_ALL
void             gen_child_spec_set_name             (GenChildSpec    *self,
                                                      const gchar     *name);
GEN_AVAILABLE_IN_ALL
gboolean         gen_child_spec_get_significant      (GenChildSpec    *self);
GEN_AVAILABLE_IN_ALL
void             gen_child_spec_set_significant      (GenChildSpec    *self,
                                                      gboolean         significant);
GEN_AVAILABLE_IN_ALL
GVariant        *gen_child_spec_to_variant           (GenChildSpec    *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GenChildSpec, gen_child_spec_unref)

G_END_DECLS
