/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * A call's reply slot. The caller and the server each hold a reference.
 *
 * `state` moves PENDING → RUNNING → ANSWERING → ANSWERED on the server side,
 * or from PENDING or RUNNING to ABANDONED when the caller gives up (timeout,
 * cancellation). The compare-and-exchange on `state` decides who wins, so a
 * call is answered exactly once and a call abandoned while queued never runs.
 */
typedef enum
{
  GEN_CALL_PENDING,   /* in the mailbox */
  GEN_CALL_RUNNING,   /* handle_call has it */
  GEN_CALL_ANSWERING, /* the server won: it is storing the reply */
  GEN_CALL_ANSWERED,  /* final: reply or error stored */
  GEN_CALL_ABANDONED, /* final: the caller gave up; a late reply is dropped */
} GenCallState;

typedef struct _GenCall GenCall;

typedef void (*GenCallLandingFunc) (gpointer data);

struct _GenCall
{
  gint ref_count;  /* atomic */
  gint state;      /* atomic, GenCallState */

  GVariant *message;        /* owned; immutable */
  const gchar *server_name; /* the server's type name (static); immutable */

  /* Written by the server between ANSWERING and ANSWERED, read by the
   * caller only after it saw ANSWERED. Owned. */
  GVariant *reply;
  GError *error;

  /* Written by the thread that moved `state` to ABANDONED, read only by the
   * completion of an async call afterwards. Owned. */
  GError *abandon_error;

  /* Sync callers sleep here once they stop spinning. `sleeping` is atomic,
   * set under `mutex` before the caller's last look at `state`; the server
   * looks at it after making `state` final, and takes `mutex` to signal
   * `cond` only when somebody sleeps. A spinning caller costs the server
   * neither a lock nor a futex system call. */
  GMutex mutex;
  GCond cond;
  gint sleeping;

  /* Async callers only. `task` is set before the call is queued and cleared
   * by the completion, on the task's context. `timeout_source` and
   * `cancelled_id` are set up before the call is queued and torn down by the
   * completion, both under `mutex`: the completion may run on another thread
   * (whichever runs the task's context) as soon as the timeout, the
   * cancellable or the server makes the call final. Owned. */
  GTask *task;
  GSource *timeout_source;
  gulong cancelled_id;
  gint timeout_ms;        /* immutable once bound */
  GQuark timeout_domain;  /* immutable once bound */
  gint timeout_code;      /* immutable once bound */

  /* Async callers only, set before the call is queued and immutable then:
   * told when the completion is on the task's context (see
   * gen_call_set_landing()). `landing_data` is owned when `landing_free`
   * is set. */
  GenCallLandingFunc landing;
  gpointer landing_data;
  GDestroyNotify landing_free;
};

GenCall  *gen_call_new          (GVariant     *message,
                                 const gchar  *server_name);
GenCall  *gen_call_ref          (GenCall      *call);
void      gen_call_unref        (GenCall      *call);

gboolean  gen_call_is_final     (GenCall      *call);

/* The server takes a queued call to run it. FALSE if its caller gave up
 * while it was queued: it must not run. */
gboolean  gen_call_begin_running (GenCall     *call);

/* Answers @call with @reply or @error (owned; exactly one set) unless its
 * caller gave up, in which case they are dropped. Any thread. */
void      gen_call_answer       (GenCall      *call,
                                 GVariant     *reply,
                                 GError       *error);

/* Gives up on @call for its caller with @reason (owned, may be NULL for a
 * sync caller). FALSE if the server answered first, or is storing its
 * answer right now. */
gboolean  gen_call_abandon      (GenCall      *call,
                                 GError       *reason);

/* Gives up on @call only while no server has taken it: FALSE once it
 * runs, or was answered. For a sync caller whose request must be waited
 * for to its end once taken (a system request: what it runs may live on
 * the caller's stack). */
gboolean  gen_call_abandon_queued (GenCall    *call);

/* Waits until @call is final or @deadline (monotonic µs, -1 for none)
 * passes. Returns whether it is final. @sleepers (atomic, nullable) counts
 * the callers of the same server asleep on their replies: this wait is
 * one of them while it sleeps, and yields once before it sleeps when
 * others are (see GEN_SPIN_YIELD_ONCE). */
gboolean  gen_call_wait         (GenCall      *call,
                                 gint64        deadline,
                                 gint         *sleepers);

/* Async calls: binds @call to @task (referenced) and sets up its timeout
 * and @cancellable on the task's context, before the call is queued. A
 * call whose timeout passes fails with @timeout_domain and @timeout_code:
 * the reply slot knows nothing of whose error codes these are. */
void      gen_call_bind_task    (GenCall      *call,
                                 GTask        *task,
                                 gint          timeout_ms,
                                 GQuark        timeout_domain,
                                 gint          timeout_code,
                                 GCancellable *cancellable);

/* Delivers the final state of an async call on its task's context. Called
 * once, by whoever made the state final. */
void      gen_call_schedule_completion (GenCall *call);

/* Async calls: @landing (@data) runs once, on whichever thread made the
 * call final, right after the completion was attached to the task's
 * context: for a caller that does not iterate that context itself, and
 * must be woken where it waits (gen-request.c's async wait). It must not
 * block. Set before the call is queued; @free frees @data with the call. */
void      gen_call_set_landing  (GenCall            *call,
                                 GenCallLandingFunc  landing,
                                 gpointer            data,
                                 GDestroyNotify      free);

G_END_DECLS
