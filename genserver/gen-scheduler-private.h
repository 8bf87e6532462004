/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-scheduler.h"
#include "gen-server-private.h"
#include "gen-worker-pool-private.h"

G_BEGIN_DECLS

/* The three kinds, behind GenSchedulerKind (gen-server-private.h). */
extern const GenSchedulerKind gen_thread_scheduler_kind;
extern const GenSchedulerKind gen_main_scheduler_kind;
extern const GenSchedulerKind gen_pool_scheduler_kind;

/* What a pool server's kind needs of its GenScheduler (gen-scheduler.c),
 * whose own state is its own: the workers and their run queue, and the
 * service where the pool's timers run. Both live as long as the pool. */
GenWorkerPool   *gen_scheduler_get_workers (GenScheduler *self);
GenTimerService *gen_scheduler_get_timers  (GenScheduler *self);

/* What a starter waits for when init runs on another thread. */
typedef struct
{
  GenServer *server; /* unowned: the starter holds a reference */
  GVariant *args;    /* unowned, nullable */

  GMutex mutex;
  GCond cond;
  gboolean done;     /* mutex; set atomically, so that it may be polled */
  GError *error;     /* written before done; owned by the starter */
} GenStartRequest;

void     gen_scheduler_start_request_init     (GenStartRequest *request,
                                               GenServer       *server,
                                               GVariant        *args);
void     gen_scheduler_start_request_clear    (GenStartRequest *request);
/* On the thread that ran init: @error (owned) is its result. The
 * request may be gone once this returns. */
void     gen_scheduler_start_request_complete (GenStartRequest *request,
                                               GError          *error);
/* On the starter's thread: waits for complete(); returns whether init
 * succeeded, with @error set if not. */
gboolean gen_scheduler_start_request_wait     (GenStartRequest *request,
                                               GError         **error);

G_END_DECLS
