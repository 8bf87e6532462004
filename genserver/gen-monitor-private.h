/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * A set of monitors of one subject (a GenServer, a GenRemote): the state
 * machine every monitor goes through, its delivery and its removal, written
 * once. It knows nothing of what the subject is; see gen-monitor.c.
 *
 * A monitor is either public (its function runs on a GMainContext, through
 * a GSource) or an exit hook (run synchronously by whoever fires the set).
 * A set is open or down; a public monitor added to a set that is down is
 * told at once, with the reason the set went down with.
 */
typedef struct _GenMonitorSet GenMonitorSet;

/* The shape of GenServerMonitorFunc and GenRemoteMonitorFunc: @subject is
 * the server or the remote. */
typedef void (*GenMonitorFunc) (gpointer      subject,
                                const GError *reason,
                                gpointer      user_data);

typedef enum
{
  GEN_MONITOR_PUBLIC = 0,      /* delivered on the given context */
  GEN_MONITOR_HOOK   = 1 << 0, /* run by gen_monitor_set_fire() itself */
  GEN_MONITOR_FIRST  = 1 << 1, /* a hook that runs before the others */
  GEN_MONITOR_ANYWAY = 1 << 2, /* a hook accepted by a set that is down */
} GenMonitorFlags;

/* A set that is down with @down_reason (copied; NULL: open). */
GenMonitorSet *gen_monitor_set_new    (const GError    *down_reason);
GenMonitorSet *gen_monitor_set_ref    (GenMonitorSet   *set);
void           gen_monitor_set_unref  (GenMonitorSet   *set);

/* Adds a monitor and returns its id (never 0). A public one (@context
 * owned by the caller, referenced) added while the set is down is sent at
 * once, to @subject (nullable: then nobody is told). A hook added while the
 * set is down is refused unless GEN_MONITOR_ANYWAY: 0, and @destroy is not
 * called. */
guint          gen_monitor_set_add    (GenMonitorSet   *set,
                                       GenMonitorFunc   func,
                                       gpointer         user_data,
                                       GDestroyNotify   destroy,
                                       GMainContext    *context,
                                       GenMonitorFlags  flags,
                                       gpointer         subject);
/* Removes a monitor: once this returns TRUE, its function never runs.
 * FALSE if it ran, is running, or is not in the set. */
gboolean       gen_monitor_set_remove (GenMonitorSet   *set,
                                       guint            id);

/* The set is open: public monitors added from now on wait. */
void           gen_monitor_set_open   (GenMonitorSet   *set);
/* Tells every waiting monitor of @subject (a GObject, referenced by each
 * delivery; NULL: nobody is left to tell, the monitors keep waiting) that
 * it is down with @reason (nullable). If @down_reason is not NULL the set
 * is down from now on, atomically with the firing. Hooks run here, first
 * ones first, before any public monitor is sent; never under a lock. */
void           gen_monitor_set_fire   (GenMonitorSet   *set,
                                       gpointer         subject,
                                       const GError    *reason,
                                       const GError    *down_reason);
/* Tells the monitor @id alone, if it is still waiting. */
void           gen_monitor_set_fire_one (GenMonitorSet *set,
                                         guint          id,
                                         gpointer       subject,
                                         const GError  *reason);

G_END_DECLS
