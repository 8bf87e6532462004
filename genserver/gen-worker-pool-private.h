/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-server-private.h"

G_BEGIN_DECLS

/* The worker threads of a GenScheduler and their run queue; see
 * gen-worker-pool.c. Any thread may call these. */

typedef struct _GenWorkerPool GenWorkerPool;

/* A pool of which at most @n_workers run handlers at once. */
GenWorkerPool *gen_worker_pool_new            (guint          n_workers);
GenWorkerPool *gen_worker_pool_ref            (GenWorkerPool *pool);
void           gen_worker_pool_unref          (GenWorkerPool *pool);

/* Queues @server, whose run flag the caller set: a worker will run a
 * slice of it. */
void           gen_worker_pool_push           (GenWorkerPool *pool,
                                               GenServer     *server);

/* A server of the pool starts, or its run ended: workers live as long as
 * the pool has a server between the two. */
void           gen_worker_pool_server_started (GenWorkerPool *pool);
void           gen_worker_pool_server_ended   (GenWorkerPool *pool);

G_END_DECLS
