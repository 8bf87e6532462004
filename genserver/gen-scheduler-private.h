/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-scheduler.h"
#include "gen-server-private.h"

G_BEGIN_DECLS

/*
 * The three kinds of scheduler, that is, of what runs a server's handlers:
 * a thread of the server's own (gen-thread-scheduler.c), the thread that
 * iterates a GMainContext (gen-main-scheduler.c), and a GenScheduler's pool
 * of workers (gen-pool-scheduler.c). gen-server.c drives a server's life
 * through these hooks and does not know which kind it talks to.
 */
struct _GenSchedulerKind
{
  const gchar *name;

  /* constructed(): sets up the kind's own state of the server, in
   * `kind_data` (NULL if it has none), and `timer_service`, where the
   * server's timers run. */
  void     (*init)            (GenServer  *self);

  /* finalize(): frees what init set up. */
  void     (*finalize)        (GenServer  *self);

  /* The mailbox is closed and the server STARTING: opens the mailbox with
   * the kind's wake function, runs init the kind's way and returns once it
   * ran, the server RUNNING if it succeeded. On failure everything init
   * left is cleaned up but the status, which the caller resets. */
  gboolean (*start)           (GenServer  *self,
                               GVariant   *args,
                               GError    **error);

  /* The stop marker was queued without waking anyone: sees to its being
   * handled. @inline_ok: the stopper waits as long as it takes, so the kind
   * may run the server on the stopper's thread. Returns TRUE if the run
   * already ended when it returns. */
  gboolean (*drive_stop)      (GenServer  *self,
                               gboolean    inline_ok);

  /* A call that waits as long as it takes was queued without waking
   * anyone: runs it on the caller's thread if the kind can, else wakes the
   * server. NULL: calls are queued with a wake-up as usual. */
  void     (*hand_off)        (GenServer  *self,
                               GenCall    *call);

  /* Whether a synchronous call from this thread would wait for itself
   * (besides from inside the server's handlers, which gen-server.c
   * checks). NULL: never. */
  gboolean (*would_call_self) (GenServer  *self);

  /* The run ends, on the handler thread, after terminate, before the
   * monitors hear of it. NULL: nothing to do. */
  void     (*run_ended)       (GenServer  *self);

  /* Kinds that share threads: queues a server whose run flag was just set
   * (see gen_run_flag_wake()). */
  void     (*enqueue)         (GenServer  *self);

  /* Under the server's `lock`, once a run finished and before the next
   * begins: the thread that ran it, for the caller to join, or NULL. NULL:
   * the kind leaves no thread behind. */
  GThread *(*take_thread)     (GenServer  *self);
};

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
