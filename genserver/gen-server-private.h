/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-server.h"
#include "gen-reply.h"

G_BEGIN_DECLS

/* A call's reply slot, shared by the caller, the mailbox and a deferred
 * GenReply; see gen-server.c. */
typedef struct _GenCall GenCall;

GenCall  *gen_call_ref_internal    (GenCall     *call);
void      gen_call_unref_internal  (GenCall     *call);
/* Answers @call with @reply or @error (owned; exactly one set) unless its
 * caller gave up, in which case they are dropped. Any thread. */
void      gen_call_answer_internal (GenCall     *call,
                                    GVariant    *reply,
                                    GError      *error);

GenReply *gen_reply_new_internal   (const gchar *server_name,
                                    GenCall     *call);

/*
 * Brief bounded spinning before a blocking wait.
 *
 * On this kind of machine a futex wake-up costs several microseconds, far more
 * than a whole call round trip when both sides are awake. So a thread that
 * expects an answer soon polls for a short while before it sleeps. The number
 * of threads spinning at once is capped by the number of processors, so that
 * spinning never steals the processor from the thread that would answer.
 */
#define GEN_SPIN_NS 50000

/*
 * How much of GEN_SPIN_NS is spent busy on the processor, at most; the rest
 * of it is spent yielding. A round trip takes about a microsecond when both
 * sides run, so a longer busy spin only helps when the other side does not
 * run at all, which is exactly when the processor should be handed over.
 * Each thread shortens its own busy part while its spins fail (see
 * spin_pause_adapt in gen-server.c).
 */
#define GEN_SPIN_PAUSE_NS 5000

gboolean gen_spin_begin (void);
void     gen_spin_end   (void);

static inline void
gen_cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield");
#endif
}

/* Monitors and exit hooks; see gen-monitor.c. */

/* A run of @self begins (start() was called): monitors added from now on
 * wait for its end. */
void      gen_monitors_open_internal       (GenServer    *self);
/* The run ended with @reason (NULL: normal): tells every monitor. On the
 * thread that finished the server, before it is marked stopped. */
void      gen_monitors_fire_internal       (GenServer    *self,
                                            const GError *reason);
/* The reason given to gen_server_stop_with_reason() from outside. */
void      gen_monitors_set_stop_reason_internal  (GenServer    *self,
                                                  const GError *reason);
GError   *gen_monitors_take_stop_reason_internal (GenServer    *self);

/* An exit hook: @func runs synchronously, on the thread that finishes the
 * server (its own thread, or the starter's when init fails), when the
 * current run ends, before any public monitor is told. It must not block on
 * the server. With GEN_WATCH_NEXT_RUN, the hook may be added to a stopped
 * server and waits for the end of the next run (a start that fails ends it
 * too); without, it is refused (0) unless a run is under way. Hooks with
 * GEN_WATCH_FIRST run before the others: the registry releases names before
 * a supervisor hears of the stop and restarts the server. Removed with
 * gen_server_demonitor(). */
typedef enum
{
  GEN_WATCH_DEFAULT  = 0,
  GEN_WATCH_NEXT_RUN = 1 << 0,
  GEN_WATCH_FIRST    = 1 << 1,
} GenWatchFlags;

guint     gen_server_watch_internal        (GenServer            *self,
                                            GenServerMonitorFunc  func,
                                            gpointer              user_data,
                                            GDestroyNotify        destroy,
                                            GenWatchFlags         flags);

/* Waits until @self is stopped (its own stop, a crash, anybody's stop
 * under way), for at most @timeout_ms (negative: forever). Returns whether
 * it is stopped. Not from the server's own handler thread. */
gboolean  gen_server_wait_stopped_internal (GenServer            *self,
                                            gint                  timeout_ms);

/* A fresh instance of the spec's type with its properties; see
 * gen-child-spec.c. */
typedef struct _GenChildSpec GenChildSpec;
GenServer *gen_child_spec_instantiate_internal (GenChildSpec  *self,
                                                GError       **error);

G_END_DECLS
