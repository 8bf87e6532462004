/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "gen-mailbox-private.h"

G_BEGIN_DECLS

/*
 * Where timer sources run: a GMainContext iterated by a thread of the
 * service's own, started when the first source is held and gone again once
 * none is (so that a process whose servers all stopped has no thread of
 * genserver's left), or a context somebody else iterates.
 */
typedef struct _GenTimerService GenTimerService;

/* A service with a thread of its own, named @thread_name (at most 15
 * bytes: Linux drops a longer name, and the thread keeps its parent's). */
GenTimerService *gen_timer_service_new          (const gchar     *thread_name);
/* A service whose sources run on @context, iterated by its owner. */
GenTimerService *gen_timer_service_new_for_context (GMainContext *context);
GenTimerService *gen_timer_service_ref          (GenTimerService *service);
void             gen_timer_service_unref        (GenTimerService *service);
/* The service of servers that have a thread of their own. */
GenTimerService *gen_timer_service_get_default  (void);

/* Attaches @source to the service's context and keeps the service's
 * thread running until the source is destroyed. @source must have a
 * callback whose destroy notify calls gen_timer_service_release(): GLib
 * calls it once the source is destroyed, fired or not. */
void             gen_timer_service_attach       (GenTimerService *service,
                                                 GSource         *source);
void             gen_timer_service_release      (GenTimerService *service);

/* A timer from gen_server_send_after(), an envelope in the mailbox once it
 * fired. */
typedef struct _GenTimer GenTimer;

void             gen_timer_unref                (GenTimer        *timer);
GVariant        *gen_timer_get_message          (GenTimer        *timer);

/*
 * A server's timers: id → GenTimer. `lock` protects the table, `open`,
 * `pending` and each timer's state, so that a cancelled timer's message is
 * never handled and no timer outlives the run that set it.
 *
 * `pending` holds the timers whose message is not queued yet, by deadline
 * (then by id): a timer that fires queues every earlier one first, so that
 * timers are handled in deadline order even when the thread that runs
 * their sources wakes late and GLib dispatches several at once (in the
 * order they were attached).
 */
typedef struct
{
  GMutex lock;
  GHashTable *table;  /* lock; id → GenTimer (owned); NULL until used */
  GSequence *pending; /* lock; GenTimer (unowned), by deadline; NULL until used */
  gboolean open;      /* lock; FALSE outside a run */
} GenTimerTable;

void             gen_timer_table_init           (GenTimerTable   *timers);
void             gen_timer_table_clear          (GenTimerTable   *timers);
/* A run begins: timers may be set. */
void             gen_timer_table_open           (GenTimerTable   *timers);
/* A run ends: cancels every timer; none may be set until the next open. */
void             gen_timer_table_close          (GenTimerTable   *timers);

/* Sets a timer that queues @message (owned) in @mailbox after @delay_ms,
 * its source on @service. @server is kept alive while the timer is set.
 * Returns its id, or 0 (and drops @message) if the timers are closed. */
guint            gen_timer_table_add            (GenTimerTable   *timers,
                                                 GObject         *server,
                                                 GenMailbox      *mailbox,
                                                 GenTimerService *service,
                                                 GVariant        *message,
                                                 guint            delay_ms);
gboolean         gen_timer_table_cancel         (GenTimerTable   *timers,
                                                 guint            id);
/* The handler thread takes a fired @timer from the mailbox: TRUE if it
 * was not cancelled meanwhile, and then its message must be handled. */
gboolean         gen_timer_table_claim          (GenTimerTable   *timers,
                                                 GenTimer        *timer);

G_END_DECLS
