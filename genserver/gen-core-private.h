/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-scheduler.h"
#include "gen-server.h"

G_BEGIN_DECLS

/*
 * What the layers above the core (statem, supervisor, child specs,
 * registry, group, D-Bus, nodes, the observer) may use of it besides the
 * public API. They include this header and never gen-server-private.h:
 * the server's private struct, its mailbox and its run belong to the core
 * (see doc/threading.md for the layers).
 */

/* An exit hook: @func runs synchronously, on the thread that finishes the
 * server (its own thread, or the starter's when init fails), when the
 * current run ends, before any public monitor is told. It must not block on
 * the server. With GEN_WATCH_NEXT_RUN, the hook may be added to a stopped
 * server and waits for the end of the next run (a start that fails ends it
 * too); without, it is refused (0) unless a run is under way. Hooks with
 * GEN_WATCH_FIRST run before the others: the registry releases names before
 * a supervisor hears of the stop and restarts the server. Removed with
 * gen_server_demonitor(). See gen-monitor.c. */
typedef enum
{
  GEN_WATCH_DEFAULT  = 0,
  GEN_WATCH_NEXT_RUN = 1 << 0,
  GEN_WATCH_FIRST    = 1 << 1,
} GenWatchFlags;

guint         gen_monitor_watch       (GenServer            *self,
                                       GenServerMonitorFunc  func,
                                       gpointer              user_data,
                                       GDestroyNotify        destroy,
                                       GenWatchFlags         flags);

/* An exit signal with @reason (not NULL) that @self does not trap, as
 * Erlang's links deliver: the current run ends at once, that is, when the
 * handler running now (if any) returns, on whichever thread runs the
 * handlers. Messages still queued are not handled (calls among them are
 * answered STOPPED), continues are dropped, `terminate` does not run, and
 * the monitors get @reason. A server already stopping gracefully is cut
 * short the same way; a server starting fails its start with @reason once
 * init returns. Any thread, also the server's own handler; never blocks.
 * Returns FALSE if the server is stopped (nothing to end). See
 * gen-run.c. */
gboolean      gen_run_kill            (GenServer            *self,
                                       const GError         *reason);

/* gen_server_call_async(), and @landing (@landing_data) runs once, on
 * whichever thread answers the call (or times it out, or cancels it), as
 * soon as the reply's delivery is attached to the task's context: for a
 * caller that waits elsewhere than on that context (gen-request.c's async
 * wait). @landing must not block; @landing_free frees @landing_data with
 * the call. See gen-server-messaging.c and gen_call_set_landing(). */
void          gen_server_call_async_landing (GenServer           *self,
                                             GVariant            *message,
                                             gint                 timeout_ms,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data,
                                             void               (*landing) (gpointer data),
                                             gpointer             landing_data,
                                             GDestroyNotify       landing_free);

/* Waits until @self is stopped (its own stop, a crash, anybody's stop
 * under way), for at most @timeout_ms (negative: forever). Returns whether
 * it is stopped. Not from the server's own handler thread. See
 * gen-server.c. */
gboolean      gen_server_wait_stopped (GenServer            *self,
                                       gint                  timeout_ms);

/* A debug line for G_MESSAGES_DEBUG=Gen: @event ("started", "stopped",
 * "crashed", ...) of @self, with @reason if any. See gen-trace.c. */
void          gen_trace_lifecycle     (GenServer            *self,
                                       const gchar          *event,
                                       const GError         *reason);

/* Casts refused for room, in gen_server_get_status()'s `casts-refused`:
 * counts one more (a cast refused before it reached the mailbox, as the
 * D-Bus export's bound on peers does), and reads them. Any thread. See
 * gen-observe.c. */
void          gen_observe_count_refused_cast (GenServer *self);
guint64       gen_observe_get_casts_refused  (GenServer *self);

/* A pool by its id, which identifies it where an object cannot go: in a
 * GenChildSpec's variant form. NULL if there is none (any more). See
 * gen-scheduler.c. */
GenScheduler *gen_scheduler_lookup    (guint64               id);
/* The id gen_scheduler_lookup() knows @self by. */
guint64       gen_scheduler_get_id    (GenScheduler         *self);

/* The handled-message counters of gen_server_get_status(), read without
 * asking the server for its state: what the observer lists for every
 * server, many times a second. Any thread. See gen-observe.c. */
typedef struct
{
  guint64 casts;
  guint64 calls;
  guint64 infos;
  guint64 calls_timed_out;
} GenCounters;

void          gen_observe_get_counters (GenServer           *self,
                                        GenCounters         *counters);

G_END_DECLS
