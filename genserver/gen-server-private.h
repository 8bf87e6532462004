/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-call-private.h"
#include "gen-core-private.h"
#include "gen-live-private.h"
#include "gen-mailbox-private.h"
#include "gen-scheduler.h"
#include "gen-server.h"
#include "gen-timer-private.h"

G_BEGIN_DECLS

/*
 * The server's private struct and the core's own functions: for the core
 * alone (run, trace, monitors, the scheduler kinds, gen-server.c and the
 * public API built on it). The layers above include gen-core-private.h.
 */

typedef enum
{
  GEN_STATUS_STOPPED,
  GEN_STATUS_STARTING,
  GEN_STATUS_RUNNING,
  GEN_STATUS_STOPPING,
} GenStatus;

/* The message handle_info gets when the idle timeout expires. */
#define GEN_IDLE_TIMEOUT_MESSAGE "gen-server.idle-timeout"

/* How many items a server handles before its runner looks elsewhere: the
 * batch a server thread takes under one lock, and the budget after which a
 * pool server yields its worker to the next server with mail. */
#define GEN_BATCH_SIZE 64

/*
 * A kind of scheduler, that is, of what runs a server's handlers: a thread
 * of the server's own (gen-thread-scheduler.c), the thread that iterates a
 * GMainContext (gen-main-scheduler.c), or a GenScheduler's pool of workers
 * (gen-pool-scheduler.c). gen-server.c and the run (gen-run.c) drive a
 * server's life through these hooks without knowing which kind they talk
 * to: the kinds sit above the run and are reached only through them.
 */
typedef struct _GenSchedulerKind GenSchedulerKind;

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

  /* The stop marker was queued without waking anyone, then the status set
   * to STOPPING: sees to its being handled. @inline_ok: the stopper waits
   * as long as it takes, so the kind may run the server on the stopper's
   * thread. Returns TRUE if the run already ended when it returns. */
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

/* A stop() waiting for a run's end; see `stopper` below. Under the
 * server's `lock`. */
typedef struct
{
  gboolean handed; /* the run ended and its thread let go */
  guint n_refs;    /* the references it handed over, for stop() to drop */
} GenStopper;

typedef struct
{
  /* Construct-only; read-only afterwards, from any thread. The types are
   * interned type strings (g_intern_string()): shared by every server
   * that declares them, never freed and never written, so that the type
   * check of every cast reads a cache line no other thread dirties. The
   * rest are owned. */
  const GVariantType *cast_type;
  const GVariantType *call_type;
  GMainContext *main_context;
  GenScheduler *scheduler;          /* the pool, or NULL */
  GError *construct_error;          /* an invalid type string, reported by start */
  GenMailboxPolicy mailbox_policy;  /* its capacity is in the mailbox */
  /* Set in constructed() (the last two by the kind's init); read-only
   * afterwards. kind is static, the service owned, kind_data the kind's:
   * its state of this server, in a struct of its own file (the pool kind's
   * is the pool's GenWorkerPool, which the server's scheduler owns). */
  const GenSchedulerKind *kind;     /* which of the three runs the handlers */
  GenTimerService *timer_service;   /* where send_after's sources run */
  gpointer kind_data;

  /* Lives as long as the server; see gen-mailbox-private.h. */
  GenMailbox mailbox;
  /* Atomic: synchronous callers asleep on a reply from this server (see
   * gen_call_wait()). */
  gint call_sleepers;

  /* `lock` protects `status` (also read atomically by is_running), `run`,
   * `stopper` and the thread a run leaves to join (the thread kind's);
   * `cond` is broadcast whenever one of them changes. */
  GMutex lock;
  GCond cond;
  gint status;          /* GenStatus */
  guint64 run;          /* how many runs began (starts) */
  /* The stop() waiting for the current run to end, or NULL: at most one,
   * the one that moved the status from RUNNING to STOPPING. The thread
   * that ends the run hands it its references (gen_run_let_go()), so
   * that no thread of the scheduler holds the server once stop()
   * returns. Lives on that stop()'s stack. */
  GenStopper *stopper;

  /* The thread running the server's handlers right now, or NULL. Atomic:
   * other threads read it to refuse calling self. */
  GThread *handler_thread;

  /* Timers of the current run; see gen-timer-private.h. */
  GenTimerTable timers;

  /* Milliseconds without a message before handle_info gets the idle
   * timeout, or -1. Atomic: set from any thread. */
  gint idle_timeout_ms;

  /* Kinds that share threads (pool, main context); see the run flag in
   * gen-run-flag.c. `run_flag` (atomic) is 1 while the server is in its kind's
   * run queue or being run, by a worker or inline by a caller; whoever moves it from 0 to 1 owns the handlers
   * until it moves it back, and the compare-and-exchange hands the state
   * from one thread to the next. `run_link` is the run queue's link (data:
   * the server), under the pool's lock. `idle_source` (owned) wakes an idle
   * server at its idle deadline; only the flag's owner touches it. */
  gint run_flag;
  GList run_link;
  GSource *idle_source;
  /* Atomic: threads that let go of the flag after an idle slice and still
   * look at the server, with no reference of their own; the run's end
   * waits for them (see gen_run_flag_release()). */
  gint n_lookers;

  /* An exit signal ended this run (gen_run_kill()): what is queued is
   * refused and terminate does not run; a start under way fails. Atomic;
   * set under `lock` while the server is not STOPPED, cleared with the move
   * to STOPPED, so that it never outlives its run. Its reason is the stop
   * reason (see gen-monitor.c), set before it. */
  gint killed;

  /* Only touched by the thread running the handlers. */
  gboolean stop_requested; /* stop() from inside a handler */
  GError *crash_reason;    /* owned */
  GQueue continues;        /* GVariant * (owned) from gen_server_continue() */
  GenCall *current_call;   /* unowned: the call handle_call is handling */
  gboolean reply_taken;    /* gen_server_take_reply() took its handle */
  /* Handler thread only: the calls whose reply was taken this run
   * (GenCall, owned), answered STOPPED when the run ends if nobody
   * answered them; answered ones are pruned as more are taken. NULL until
   * one is. */
  GPtrArray *taken_calls;
  guint taken_calls_kept;  /* how many the last pruning left */
  gint64 last_activity;    /* monotonic µs of the last handled message */
  gboolean idle_fired;     /* the idle timeout fired since that message */

  /* The server's place in the observer's list of live servers, from
   * constructed to dispose: under that list's lock; see gen-live.c. */
  GenLiveLink live;

  /* Observability; see gen-observe.c. The counters of handled messages
   * are written by the handler thread only and read by anyone, both with
   * relaxed atomics: a plain store on the hot path, never a torn read.
   * `n_calls_timed_out` and `n_casts_refused` are added to by callers
   * (atomic add). */
  guint64 n_casts;
  guint64 n_calls;
  guint64 n_infos;
  guint64 n_calls_timed_out;
  guint64 n_casts_refused;
  gint64 started_at;       /* atomic: monotonic µs of the last start, 0 before */
  gchar *last_crash;       /* owned; under `lock` */
  gint trace;              /* atomic: gen_server_set_trace() */
  gint suspended;          /* atomic: gen_server_suspend() */
  /* Status requests (GenCall *, owned) for format_status, which the
   * handler thread answers before any mail, also while suspended; under
   * `lock`, with `n_system` (atomic) its length for a lock-free look. */
  GQueue system_queue;
  gint n_system;
  /* Handler thread only: the message whose handler crashed, for the crash
   * record. Owned. */
  GVariant *crash_message;
  /* Where notify::run-status is emitted: the thread-default context when
   * the server was made. Owned; immutable. `notify_source` (atomic, a
   * reference of its own) is the notification source attached there and
   * not dispatched yet, or NULL; finalize destroys it, so that a context
   * nobody iterates keeps nothing of a server that is gone. */
  GMainContext *notify_context;
  GSource *notify_source;
} GenServerPrivate;

GenServerPrivate *gen_server_get_private (GenServer *self);

/* The server's name in messages: its type's. */
static inline const gchar *
gen_server_name (GenServer *self)
{
  return G_OBJECT_TYPE_NAME (self);
}

/* Whether this thread runs the server's handlers right now. */
static inline gboolean
gen_server_is_handler_thread (GenServer *self)
{
  return g_atomic_pointer_get (&gen_server_get_private (self)->handler_thread) == g_thread_self ();
}

/* gen-server.c */
void         gen_server_set_not_running_error (GenServer  *self,
                                               GError    **error);
/* Whether a synchronous call from this thread would wait for itself. */
gboolean     gen_server_would_call_self       (GenServer  *self);

/* Sets the status under `lock` and broadcasts `cond`. */
void         gen_run_set_status    (GenServer  *self,
                                    GenStatus   status);

/* A run of a server: its handlers, from init to terminate, whichever kind
 * of scheduler drives them; see gen-run.c. All of these run on the thread
 * that runs the handlers, the handler thread. */

/* Runs init. On failure closes the mailbox again, answers whatever came in
 * meanwhile and returns FALSE with @error set. */
gboolean     gen_run_init          (GenServer  *self,
                                    GVariant   *args,
                                    GError    **error);
/* Runs the work scheduled with gen_server_continue(); FALSE when the
 * server must stop. */
gboolean     gen_run_continues     (GenServer  *self);
/* Handles @first (may be NULL) and up to @max items in all from the
 * mailbox. Returns FALSE once the server finished (gen_run_finish ran). */
gboolean     gen_run_handle_batch  (GenServer  *self,
                                    gpointer    first,
                                    guint       max);
/* When the idle timeout is due (monotonic µs), or -1. */
gint64       gen_run_idle_deadline (GenServer  *self);
/* Gives handle_info the idle timeout; FALSE when the server must stop. */
gboolean     gen_run_idle_timeout  (GenServer  *self);
/* Stops the server: answers what is queued with STOPPED, runs terminate
 * (unless an exit signal killed it), tells the monitors and marks the
 * server stopped. @leftover are items taken from the mailbox but not
 * handled. */
void         gen_run_finish        (GenServer  *self,
                                    gpointer   *leftover,
                                    guint       n_leftover);
/* Releases the mailbox's reference to what @item points to: the drop
 * function of every server's mailbox. */
void         gen_run_drop_item     (gpointer        item);
/* Drops an item that will never be handled; a call in it is answered with
 * @code (STOPPED or NOT_RUNNING), so that no caller waits in vain. */
void         gen_run_refuse_item   (GenServer      *self,
                                    gpointer        item,
                                    GenServerError  code);
/* Records a crash (@error owned; the first one wins). */
void         gen_run_note_crash    (GenServer      *self,
                                    GError         *error);

typedef enum
{
  GEN_RUN_IDLE,     /* nothing left to do for now */
  GEN_RUN_MORE,     /* the budget ran out with work left */
  GEN_RUN_FINISHED, /* the server stopped */
} GenRunResult;

/* One turn of a server that shares its thread: continues, a due idle
 * timeout, then up to @budget mailbox items. A server that is not running
 * (a late wake-up after its stop) is IDLE. */
GenRunResult gen_run_slice         (GenServer  *self,
                                    guint       budget);
/* Whether the mailbox or the continues hold work. */
gboolean     gen_run_has_work      (GenServer  *self);

/* System requests: what the handler thread is asked besides mail, by
 * get_status, get_state and replace_state (gen-observe.c), answered in
 * gen-run.c. A request is a GenCall in `system_queue` whose message is one
 * of these names, or (REQUEST_REPLACE_STATE, the ReplaceJob's address). */
#define REQUEST_FORMAT_STATUS "gen-server.format-status"
#define REQUEST_GET_STATE "gen-server.get-state"
#define REQUEST_REPLACE_STATE "gen-server.replace-state"

/* What replace_state runs on the handler thread. It lives on the stack of
 * the thread that asked: that thread waits for a request that started
 * running to finish, so the handler thread never sees it gone. */
typedef struct
{
  GenServerStateFunc func;
  gpointer user_data;
} ReplaceJob;

/* Status requests; see gen-run.c. On the handler thread. */

/* Runs a system request right here: its reply, or NULL with @error set.
 * Only where no other thread can be running the handlers. */
GVariant    *gen_run_system_request (GenServer  *self,
                                     GVariant   *request,
                                     GError    **error);

/* Answers the status requests waiting, then says whether the server must
 * hold: suspended, and neither stopping nor killed. A scheduler calls it
 * before it takes mail, and again when woken while holding. */
gboolean     gen_run_hold          (GenServer  *self);
/* Whether a server that let go of its handlers must be run again: mail it
 * may handle, or status requests. Any thread. */
gboolean     gen_run_wants_turn    (GenServer  *self);
/* Answers the status requests left when the run ends. */
void         gen_run_refuse_system (GenServer  *self);

/* The status as gen_server_get_run_status() names it. Any thread. */
const gchar *gen_run_status_name   (GenServer  *self);
/* The status changed: notify::run-status, on `notify_context`. Any
 * thread. */
void         gen_run_notify_status (GenServer  *self);
/* Finalize: drops a notification not delivered yet. */
void         gen_run_clear_notify  (GenServer  *self);
/* For the run-status property. */
extern GParamSpec *gen_run_status_pspec;

/* The trace; see gen-trace.c. */

/* A trace record for a handled message (@kind "cast", "call", "info",
 * "continue", or "reply" for a call's answer), handled from @begin
 * (monotonic µs); @message may be NULL. Only if tracing is on. */
void         gen_trace_record      (GenServer    *self,
                                    const gchar  *kind,
                                    GVariant     *message,
                                    const GError *error,
                                    gint64        begin);
/* The structured record of a crash, the message being handled if known. */
void         gen_trace_crash       (GenServer    *self,
                                    const GError *reason,
                                    GVariant     *handling);

/* A run's end and the run flag; see gen-run-flag.c. */

/* By the thread that ended a run (gen_run_finish() returned), for the
 * @n_refs references to @self it held for the run: handed to the stop()
 * waiting for that run, which drops them on its own thread before it
 * returns, or dropped here when nobody waits. Either way the caller
 * touches @self no more. */
void     gen_run_let_go         (GenServer      *self,
                                 guint           n_refs);

/* The run flag (GenServerPrivate.run_flag), shared by the kinds whose
 * servers share threads: the pool and the main context. Their `enqueue`
 * hook puts a server whose flag was just set in the kind's run queue. */

/* A push came (it is the mailbox's wake function): queues the server
 * unless it is queued or running. */
void     gen_run_flag_wake      (gpointer        server);
/* The flag's owner is done with @server for now, after a slice that gave
 * @result: queues it again (MORE), lets it go idle with its idle deadline
 * armed (IDLE), or lets it go with the run's own reference (FINISHED, as
 * gen_run_let_go() does). @n_refs are references to @server the owner
 * held for the slice (a run queue's, an inline runner's): they go too, and
 * the caller touches @server no more. */
void     gen_run_flag_release   (GenServer      *server,
                                 GenRunResult    result,
                                 guint           n_refs);
/* Takes the flag for a start. A late wake-up of the previous run may hold
 * it for the moment it takes to find nothing to do. */
void     gen_run_flag_acquire   (GenServer      *server);
/* The run ends: the idle deadline's source goes. */
void     gen_run_flag_run_ended (GenServer      *server);

/* Monitors; see gen-monitor.c. */

/* A run of @self begins (start() was called): monitors added from now on
 * wait for its end. */
void         gen_monitor_open             (GenServer    *self);
/* The run ended with @reason (NULL: normal): tells every monitor. On the
 * thread that finished the server, before it is marked stopped. */
void         gen_monitor_fire             (GenServer    *self,
                                           const GError *reason);
/* The reason given to gen_server_stop_with_reason() from outside. */
void         gen_monitor_set_stop_reason  (GenServer    *self,
                                           const GError *reason);
GError      *gen_monitor_take_stop_reason (GenServer    *self);

G_END_DECLS
