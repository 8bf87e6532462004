/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-scheduler.h"
#include "gen-server-private.h"

G_BEGIN_DECLS

/* The three kinds, behind GenSchedulerKind (gen-server-private.h). */
extern const GenSchedulerKind gen_thread_scheduler_kind;
extern const GenSchedulerKind gen_main_scheduler_kind;
extern const GenSchedulerKind gen_pool_scheduler_kind;

/*
 * A pool of worker threads, the GenScheduler object (see
 * gen-pool-scheduler.c for how it runs).
 */
struct _GenScheduler
{
  GObject parent_instance;

  guint n_workers;               /* immutable: how many run at once */
  guint64 id;                    /* immutable: for gen_scheduler_lookup() */
  GenTimerService *timers;       /* owned; immutable */

  /* `lock` protects all below but `n_queued`; workers with nothing to do
   * wait on `cond`. */
  GMutex lock;
  GCond cond;
  GQueue run_queue;   /* of GenServer (one reference each) with work */
  gint n_queued;      /* atomic mirror of run_queue.length, for spinners */
  guint n_threads;    /* worker threads alive */
  guint n_sleeping;   /* of them, waiting on `cond` */
  guint n_spinning;   /* of them, spinning for work before they sleep */
  guint n_blocked;    /* of them, blocked in a call or a stop */
  guint n_live;       /* servers of the pool between start and finish */
};

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
