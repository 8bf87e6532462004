/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gtk/gtk.h>

#include "gen-observer-model.h"

G_BEGIN_DECLS

/* The servers of one process: the supervision trees as a tree list with
 * each server's status, mailbox, message rate and a live graph of it;
 * suspend, resume and trace buttons for the selected server; the trace
 * records below. The Inspector page and genserver-observer show it. */
#define GEN_TYPE_OBSERVER_VIEW (gen_observer_view_get_type ())
G_DECLARE_FINAL_TYPE (GenObserverView, gen_observer_view, GEN, OBSERVER_VIEW, GtkBox)

GtkWidget        *gen_observer_view_new            (GenObserverModel *model);
GenObserverModel *gen_observer_view_get_model      (GenObserverView  *self);
/* The rows shown, as the tree list flattens them (GtkTreeListRow). */
GListModel       *gen_observer_view_get_rows       (GenObserverView  *self);
/* Selects the server labelled @label; FALSE if no row shows it. */
gboolean          gen_observer_view_select         (GenObserverView  *self,
                                                    const gchar      *label);
/* The trace records shown, one a line. Transfer full. */
gchar            *gen_observer_view_dup_trace_text (GenObserverView  *self);

/* The colour of the rate graphs, which a test looks for in a picture. */
#define GEN_OBSERVER_GRAPH_RGB 0x9a, 0x2f, 0xc0

G_END_DECLS
