/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <genserver/gen-server.h>
#include <genserver/gen-child-spec.h>

G_BEGIN_DECLS

/**
 * GenSupervisorStrategy:
 * @GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE: only the child that stopped is
 *   restarted
 * @GEN_SUPERVISOR_STRATEGY_ONE_FOR_ALL: all the other children are stopped
 *   (in reverse order), then all are started again (in order)
 * @GEN_SUPERVISOR_STRATEGY_REST_FOR_ONE: the children started after the one
 *   that stopped are stopped (in reverse order), then it and they are
 *   started again (in order)
 * @GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE: one_for_one, for children
 *   all made from one template spec with
 *   [method@Gen.Supervisor.start_child_with_args]
 *
 * What a [class@Gen.Supervisor] restarts when a child stops: Erlang's
 * `one_for_one`, `one_for_all`, `rest_for_one` and `simple_one_for_one`.
 *
 * Since: 1.0
 */
typedef enum
{
  GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE,
  GEN_SUPERVISOR_STRATEGY_ONE_FOR_ALL,
  GEN_SUPERVISOR_STRATEGY_REST_FOR_ONE,
  GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE,
} GenSupervisorStrategy;

/**
 * GenSupervisorAutoShutdown:
 * @GEN_SUPERVISOR_AUTO_SHUTDOWN_NEVER: the supervisor never stops because
 *   of its children; it has no significant children
 * @GEN_SUPERVISOR_AUTO_SHUTDOWN_ANY_SIGNIFICANT: it stops when any
 *   significant child ends without a restart
 * @GEN_SUPERVISOR_AUTO_SHUTDOWN_ALL_SIGNIFICANT: it stops when the last
 *   running significant child ends without a restart
 *
 * When a [class@Gen.Supervisor] stops itself because its significant
 * children ended: Erlang's `auto_shutdown` values `never`,
 * `any_significant` and `all_significant`.
 *
 * Since: 1.0
 */
typedef enum
{
  GEN_SUPERVISOR_AUTO_SHUTDOWN_NEVER,
  GEN_SUPERVISOR_AUTO_SHUTDOWN_ANY_SIGNIFICANT,
  GEN_SUPERVISOR_AUTO_SHUTDOWN_ALL_SIGNIFICANT,
} GenSupervisorAutoShutdown;

#define GEN_TYPE_SUPERVISOR (gen_supervisor_get_type ())

GEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GenSupervisor, gen_supervisor, GEN, SUPERVISOR, GenServer)

GEN_AVAILABLE_IN_ALL
GenSupervisor         *gen_supervisor_new             (GenSupervisorStrategy   strategy,
                                                       guint                   intensity,
                                                       guint                   period_ms);
GEN_AVAILABLE_IN_ALL
GVariant              *gen_supervisor_build_args      (GenChildSpec          **children,
                                                       guint                   n_children);
GEN_AVAILABLE_IN_ALL
gboolean               gen_supervisor_start_child     (GenSupervisor          *self,
                                                       GenChildSpec           *spec,
                                                       GError                **error);
GEN_AVAILABLE_IN_ALL
gboolean               gen_supervisor_remove_child    (GenSupervisor          *self,
                                                       const gchar            *id,
                                                       GError                **error);
GEN_AVAILABLE_IN_ALL
GenServer             *gen_supervisor_get_child       (GenSupervisor          *self,
                                                       const gchar            *id);
GEN_AVAILABLE_IN_ALL
gchar                **gen_supervisor_dup_child_ids   (GenSupervisor          *self);
GEN_AVAILABLE_IN_ALL
gchar                **gen_supervisor_which_children (GenSupervisor          *self,
                                                       GError                **error);
GEN_AVAILABLE_IN_ALL
gboolean               gen_supervisor_terminate_child (GenSupervisor          *self,
                                                       const gchar            *id,
                                                       GError                **error);
GEN_AVAILABLE_IN_1_2
gboolean               gen_supervisor_terminate_child_server (GenSupervisor   *self,
                                                              GenServer       *child,
                                                              GError         **error);
GEN_AVAILABLE_IN_1_2
gboolean               gen_supervisor_check_child_specs (GenChildSpec        **specs,
                                                         guint                 n_specs,
                                                         GError              **error);
GEN_AVAILABLE_IN_ALL
gboolean               gen_supervisor_restart_child   (GenSupervisor          *self,
                                                       const gchar            *id,
                                                       GError                **error);
GEN_AVAILABLE_IN_ALL
gboolean               gen_supervisor_delete_child    (GenSupervisor          *self,
                                                       const gchar            *id,
                                                       GError                **error);
GEN_AVAILABLE_IN_ALL
GVariant              *gen_supervisor_count_children  (GenSupervisor          *self,
                                                       GError                **error);
GEN_AVAILABLE_IN_ALL
GVariant              *gen_supervisor_which_children_status (GenSupervisor    *self,
                                                             GError          **error);
GEN_AVAILABLE_IN_ALL
GenChildSpec          *gen_supervisor_get_child_spec  (GenSupervisor          *self,
                                                       const gchar            *id);
GEN_AVAILABLE_IN_ALL
gchar                 *gen_supervisor_start_child_with_args (GenSupervisor    *self,
                                                             GVariant         *extra_args,
                                                             GError          **error);
GEN_AVAILABLE_IN_ALL
GenSupervisorStrategy  gen_supervisor_get_strategy    (GenSupervisor          *self);
GEN_AVAILABLE_IN_ALL
guint                  gen_supervisor_get_intensity   (GenSupervisor          *self);
GEN_AVAILABLE_IN_ALL
guint                  gen_supervisor_get_period      (GenSupervisor          *self);

G_END_DECLS
