/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* How many rate samples a server keeps for its graph. */
#define GEN_OBSERVER_HISTORY 30

/* One server of the observed process, a row of the view. Its children are
 * the servers it supervises. Main thread only. */
#define GEN_TYPE_OBSERVER_SERVER (gen_observer_server_get_type ())
G_DECLARE_FINAL_TYPE (GenObserverServer, gen_observer_server, GEN, OBSERVER_SERVER, GObject)

guint64        gen_observer_server_get_id        (GenObserverServer *self);
const gchar   *gen_observer_server_get_label     (GenObserverServer *self);
const gchar   *gen_observer_server_get_type_name (GenObserverServer *self);
const gchar   *gen_observer_server_get_status    (GenObserverServer *self);
guint          gen_observer_server_get_mailbox   (GenObserverServer *self);
/* Messages handled a second over the last interval; < 0 before two looks. */
gdouble        gen_observer_server_get_rate      (GenObserverServer *self);
gboolean       gen_observer_server_get_trace     (GenObserverServer *self);
GListModel    *gen_observer_server_get_children  (GenObserverServer *self);
/* The last rates, oldest first; @n_samples of them. */
const gdouble *gen_observer_server_get_history   (GenObserverServer *self,
                                                  guint             *n_samples);

/* The servers of one process, through its observer on D-Bus, polled on
 * the thread-default main context of the thread that made it. */
#define GEN_TYPE_OBSERVER_MODEL (gen_observer_model_get_type ())
G_DECLARE_FINAL_TYPE (GenObserverModel, gen_observer_model, GEN, OBSERVER_MODEL, GObject)

GenObserverModel *gen_observer_model_new       (GDBusConnection  *connection,
                                                const gchar      *bus_name,
                                                guint             interval_ms);
/* The roots of the supervision trees (GenObserverServer). */
GListModel       *gen_observer_model_get_roots (GenObserverModel *self);
/* How many polls were applied: a test waits for it to grow. */
guint             gen_observer_model_get_polls (GenObserverModel *self);
GenObserverServer *gen_observer_model_find     (GenObserverModel *self,
                                                const gchar      *label);
void              gen_observer_model_suspend   (GenObserverModel *self,
                                                guint64           id);
void              gen_observer_model_resume    (GenObserverModel *self,
                                                guint64           id);
void              gen_observer_model_set_trace (GenObserverModel *self,
                                                guint64           id,
                                                gboolean          trace);

G_END_DECLS
