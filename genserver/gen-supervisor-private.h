/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-supervisor.h"

G_BEGIN_DECLS

/*
 * The supervisor is three files:
 *
 * - gen-supervisor.c: the type, its properties and the accessors that
 *   read the child list from any thread;
 * - gen-supervisor-engine.c: the restart engine, which starts, watches,
 *   stops and restarts children on the supervisor's thread;
 * - gen-supervisor-commands.c: the calls other threads make to the
 *   supervisor's thread, each command's name, argument type, handler and
 *   public function written once, in one table.
 */

typedef struct
{
  GenChildSpec *spec;  /* owned; immutable */
  /* Written only by the supervisor's thread, under the supervisor's lock so
   * that get_child() can read it from other threads. Owned. */
  GenServer *server;
  /* Supervisor thread only. */
  guint watch_id;      /* the exit hook on `server` */
  guint64 generation;  /* which start of the child `server` is */
  guint restarts;      /* starts after the first */
} GenSupervisorChild;

struct _GenSupervisor
{
  GenServer parent_instance;

  /* Construct-only. */
  GenSupervisorStrategy strategy;
  guint intensity;
  guint period_ms;
  guint max_children;       /* 0: no limit */
  GenSupervisorAutoShutdown auto_shutdown;

  /* Written only on the supervisor's thread, under `lock`; read under it
   * from anywhere. GenSupervisorChild * (owned), in start order. */
  GMutex lock;
  GPtrArray *children;

  /* Supervisor thread only. */
  GArray *restarts;         /* gint64: monotonic µs of recent restarts */
  guint64 last_generation;

  /* Supervisor thread only: simple_one_for_one's one spec, and the number
   * in the id of the last child made from it. */
  GenChildSpec *template;   /* owned, nullable */
  guint64 last_child_number;
};

/* gen-supervisor-engine.c. Supervisor thread, except find_child, which
 * other threads call under the lock, and dup_child_ids, which takes it. */
void                gen_supervisor_engine_child_free      (gpointer        data);
GenSupervisorChild *gen_supervisor_engine_find_child      (GenSupervisor  *self,
                                                           const gchar    *id,
                                                           guint          *index);
gboolean            gen_supervisor_engine_child_is_supervisor (GenSupervisorChild *child);
gchar             **gen_supervisor_engine_dup_child_ids   (GenSupervisor  *self);
void                gen_supervisor_engine_start           (GenSupervisor  *self,
                                                           GVariant       *args,
                                                           GError        **error);
void                gen_supervisor_engine_stop            (GenSupervisor  *self);
gboolean            gen_supervisor_engine_add_child       (GenSupervisor  *self,
                                                           GenChildSpec   *spec,
                                                           GError        **error);
gchar              *gen_supervisor_engine_add_template_child (GenSupervisor *self,
                                                              GVariant      *extra_args,
                                                              GError       **error);
gboolean            gen_supervisor_engine_start_child     (GenSupervisor  *self,
                                                           GenSupervisorChild *child,
                                                           GError        **error);
void                gen_supervisor_engine_stop_child      (GenSupervisor  *self,
                                                           GenSupervisorChild *child);
void                gen_supervisor_engine_remove_child_at (GenSupervisor  *self,
                                                           guint           index);
void                gen_supervisor_engine_handle_exit_notice (GenSupervisor *self,
                                                              GVariant      *message,
                                                              GError       **error);

/* gen-supervisor-commands.c. Supervisor thread. */
GVariant           *gen_supervisor_commands_handle_call   (GenSupervisor  *self,
                                                           GVariant       *message,
                                                           GError        **error);

G_END_DECLS
