/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The view of a GenObserverModel: a GtkColumnView over a GtkTreeListModel
 * of the supervision trees. Every cell follows its server's "changed"
 * signal while it is bound, so a poll updates what is on screen and
 * nothing else.
 */

#include "gen-observer-view.h"

struct _GenObserverView
{
  GtkBox parent_instance;

  GenObserverModel *model;       /* owned */
  GtkTreeListModel *tree;        /* owned */
  GtkSingleSelection *selection; /* owned */
  GtkWidget *suspend_button;
  GtkWidget *resume_button;
  GtkWidget *trace_button;
  GtkWidget *message;            /* a label: the last failure, if any */
  GtkTextBuffer *trace_log;      /* owned by its view */
  gulong updated_id;
  gulong trace_id;
  gulong failed_id;
};

G_DEFINE_FINAL_TYPE (GenObserverView, gen_observer_view, GTK_TYPE_BOX)

/* Read-only, for whoever knows the view only as a GObject (a test reading
 * the Inspector page, which lives in a module). */
enum
{
  PROP_0,
  PROP_ROWS,
  PROP_TRACE_TEXT,
  N_PROPS
};

/* How many trace lines the view keeps. */
#define TRACE_LINES_MAX 500

static GenObserverServer *
selected_server (GenObserverView *self)
{
  GtkTreeListRow *row = gtk_single_selection_get_selected_item (self->selection);

  return row != NULL ? gtk_tree_list_row_get_item (row) : NULL;
}

static void
update_buttons (GenObserverView *self)
{
  g_autoptr(GenObserverServer) server = selected_server (self);
  const gchar *status = server != NULL ? gen_observer_server_get_status (server) : NULL;

  gtk_widget_set_sensitive (self->suspend_button, g_strcmp0 (status, "running") == 0);
  gtk_widget_set_sensitive (self->resume_button, g_strcmp0 (status, "suspended") == 0);
  gtk_widget_set_sensitive (self->trace_button, server != NULL);
  gtk_button_set_label (GTK_BUTTON (self->trace_button),
                        server != NULL && gen_observer_server_get_trace (server) ? "Stop tracing" : "Trace");
}

static void
suspend_clicked (GenObserverView *self)
{
  g_autoptr(GenObserverServer) server = selected_server (self);

  if (server != NULL)
    gen_observer_model_suspend (self->model, gen_observer_server_get_id (server));
}

static void
resume_clicked (GenObserverView *self)
{
  g_autoptr(GenObserverServer) server = selected_server (self);

  if (server != NULL)
    gen_observer_model_resume (self->model, gen_observer_server_get_id (server));
}

static void
trace_clicked (GenObserverView *self)
{
  g_autoptr(GenObserverServer) server = selected_server (self);

  if (server != NULL)
    gen_observer_model_set_trace (self->model, gen_observer_server_get_id (server),
                                  !gen_observer_server_get_trace (server));
}

static void
on_updated (GenObserverView *self)
{
  gtk_label_set_text (GTK_LABEL (self->message), "");
  update_buttons (self);
}

static void
on_failed (GenObserverView *self,
           const gchar     *message)
{
  gtk_label_set_text (GTK_LABEL (self->message), message);
}

static void
on_trace (GenObserverView *self,
          guint64          id,
          const gchar     *type,
          const gchar     *kind,
          const gchar     *text,
          gint64           handling_us)
{
  g_autofree gchar *line = g_strdup_printf ("%" G_GUINT64_FORMAT " %s %s %s (%" G_GINT64_FORMAT " µs)\n",
                                            id, type, kind, text, handling_us);
  GtkTextIter end;

  gtk_text_buffer_get_end_iter (self->trace_log, &end);
  gtk_text_buffer_insert (self->trace_log, &end, line, -1);
  if (gtk_text_buffer_get_line_count (self->trace_log) > TRACE_LINES_MAX)
    {
      GtkTextIter start, cut;

      gtk_text_buffer_get_start_iter (self->trace_log, &start);
      gtk_text_buffer_get_iter_at_line (self->trace_log, &cut, 1);
      gtk_text_buffer_delete (self->trace_log, &start, &cut);
    }
}

/* Cells ----------------------------------------------------------------- */

typedef void (*CellUpdate) (GtkWidget         *cell,
                            GenObserverServer *server);

static GtkWidget *
new_label (gfloat xalign)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), xalign);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  return label;
}

static void
setup_label (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  xalign)
{
  gtk_list_item_set_child (item, new_label (GPOINTER_TO_INT (xalign) ? 1.0 : 0.0));
}

static void
cell_changed (GenObserverServer *server,
              GtkWidget         *cell)
{
  CellUpdate update = g_object_get_data (G_OBJECT (cell), "gen-update");

  update (cell, server);
}

/* The widget a cell updates: the expander's label for the first column. */
static GtkWidget *
cell_widget (GtkListItem *item)
{
  GtkWidget *child = gtk_list_item_get_child (item);

  return GTK_IS_TREE_EXPANDER (child) ? gtk_tree_expander_get_child (GTK_TREE_EXPANDER (child)) : child;
}

static void
bind_cell (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           gpointer                  update)
{
  GtkTreeListRow *row = gtk_list_item_get_item (item);
  g_autoptr(GenObserverServer) server = gtk_tree_list_row_get_item (row);
  GtkWidget *cell = cell_widget (item);

  if (GTK_IS_TREE_EXPANDER (gtk_list_item_get_child (item)))
    gtk_tree_expander_set_list_row (GTK_TREE_EXPANDER (gtk_list_item_get_child (item)), row);
  g_object_set_data (G_OBJECT (cell), "gen-update", update);
  g_object_set_data_full (G_OBJECT (cell), "gen-server", g_object_ref (server), g_object_unref);
  g_signal_connect_object (server, "changed", G_CALLBACK (cell_changed), cell, 0);
  ((CellUpdate) update) (cell, server);
}

static void
unbind_cell (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  update)
{
  GtkWidget *cell = cell_widget (item);
  GenObserverServer *server = g_object_get_data (G_OBJECT (cell), "gen-server");

  if (server != NULL)
    g_signal_handlers_disconnect_by_func (server, cell_changed, cell);
  g_object_set_data (G_OBJECT (cell), "gen-server", NULL);
  if (GTK_IS_TREE_EXPANDER (gtk_list_item_get_child (item)))
    gtk_tree_expander_set_list_row (GTK_TREE_EXPANDER (gtk_list_item_get_child (item)), NULL);
}

static void
update_label (GtkWidget         *cell,
              GenObserverServer *server)
{
  gtk_label_set_text (GTK_LABEL (cell), gen_observer_server_get_label (server));
}

static void
update_type (GtkWidget         *cell,
             GenObserverServer *server)
{
  gtk_label_set_text (GTK_LABEL (cell), gen_observer_server_get_type_name (server));
}

static void
update_status (GtkWidget         *cell,
               GenObserverServer *server)
{
  const gchar *status = gen_observer_server_get_status (server);

  gtk_label_set_text (GTK_LABEL (cell), status);
  if (g_strcmp0 (status, "running") == 0)
    gtk_widget_remove_css_class (cell, "warning");
  else
    gtk_widget_add_css_class (cell, "warning");
}

static void
update_mailbox (GtkWidget         *cell,
                GenObserverServer *server)
{
  g_autofree gchar *text = g_strdup_printf ("%u", gen_observer_server_get_mailbox (server));

  gtk_label_set_text (GTK_LABEL (cell), text);
}

static void
update_rate (GtkWidget         *cell,
             GenObserverServer *server)
{
  gdouble rate = gen_observer_server_get_rate (server);
  g_autofree gchar *text = rate < 0 ? g_strdup ("–") : g_strdup_printf ("%.0f/s", rate);

  gtk_label_set_text (GTK_LABEL (cell), text);
}

static void
update_graph (GtkWidget         *cell,
              GenObserverServer *server)
{
  gtk_widget_queue_draw (cell);
}

static void
setup_expander (GtkSignalListItemFactory *factory,
                GtkListItem              *item,
                gpointer                  data)
{
  GtkWidget *expander = gtk_tree_expander_new ();

  gtk_tree_expander_set_child (GTK_TREE_EXPANDER (expander), new_label (0.0));
  gtk_list_item_set_child (item, expander);
}

/* The rate graph: the last rates as bars, scaled to the largest. */
static void
draw_graph (GtkDrawingArea *area,
            cairo_t        *cr,
            int             width,
            int             height,
            gpointer        data)
{
  GenObserverServer *server = g_object_get_data (G_OBJECT (area), "gen-server");
  const gdouble *history;
  gdouble top = 1;
  guint n;

  if (server == NULL)
    return;
  history = gen_observer_server_get_history (server, &n);
  if (n == 0)
    return;
  for (guint i = 0; i < n; i++)
    top = MAX (top, history[i]);

  /* One bar a sample, the newest on the right. */
  for (guint i = 0; i < n; i++)
    {
      gdouble bar = (gdouble) width / GEN_OBSERVER_HISTORY;
      gdouble x = width - (gdouble) (n - i) * bar;
      gdouble h = MAX (1, history[i] / top * (height - 2));

      cairo_rectangle (cr, x, height - h, MAX (bar - 0.5, 1), h);
    }
  cairo_set_source_rgb (cr, 0x9a / 255.0, 0x2f / 255.0, 0xc0 / 255.0); /* GEN_OBSERVER_GRAPH_RGB */
  cairo_fill (cr);
}

static void
setup_graph (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  data)
{
  GtkWidget *area = gtk_drawing_area_new ();

  gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (area), 120);
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (area), 22);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (area), draw_graph, NULL, NULL);
  gtk_list_item_set_child (item, area);
}

static void
add_column (GtkColumnView *view,
            const gchar   *title,
            GCallback      setup,
            gpointer       setup_data,
            CellUpdate     update,
            gboolean       expand)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  GtkColumnViewColumn *column;

  g_signal_connect (factory, "setup", setup, setup_data);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_cell), update);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_cell), update);
  column = gtk_column_view_column_new (title, factory);
  gtk_column_view_column_set_expand (column, expand);
  gtk_column_view_append_column (view, column);
  g_object_unref (column);
}

static GListModel *
children_of (gpointer item,
             gpointer data)
{
  GListModel *children = gen_observer_server_get_children (item);

  /* Only supervisors get an expander; a row cannot gain one later. */
  if (g_list_model_get_n_items (children) == 0 &&
      g_strcmp0 (gen_observer_server_get_type_name (item), "GenSupervisor") != 0)
    return NULL;
  return g_object_ref (children);
}

/* The view ---------------------------------------------------------------- */

static void
gen_observer_view_dispose (GObject *object)
{
  GenObserverView *self = GEN_OBSERVER_VIEW (object);

  if (self->model != NULL)
    {
      g_clear_signal_handler (&self->updated_id, self->model);
      g_clear_signal_handler (&self->trace_id, self->model);
      g_clear_signal_handler (&self->failed_id, self->model);
    }
  g_clear_object (&self->selection);
  g_clear_object (&self->tree);
  g_clear_object (&self->model);
  G_OBJECT_CLASS (gen_observer_view_parent_class)->dispose (object);
}

static void
gen_observer_view_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  GenObserverView *self = GEN_OBSERVER_VIEW (object);

  switch (prop_id)
    {
    case PROP_ROWS:
      g_value_set_object (value, self->tree);
      break;
    case PROP_TRACE_TEXT:
      g_value_take_string (value, gen_observer_view_dup_trace_text (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_observer_view_class_init (GenObserverViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = gen_observer_view_dispose;
  object_class->get_property = gen_observer_view_get_property;
  g_object_class_install_property (object_class, PROP_ROWS,
                                   g_param_spec_object ("rows", NULL, NULL, G_TYPE_LIST_MODEL,
                                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (object_class, PROP_TRACE_TEXT,
                                   g_param_spec_string ("trace-text", NULL, NULL, NULL,
                                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  gtk_widget_class_set_css_name (GTK_WIDGET_CLASS (klass), "genobserverview");
}

static void
gen_observer_view_init (GenObserverView *self)
{
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_VERTICAL);
  gtk_box_set_spacing (GTK_BOX (self), 6);
}

GtkWidget *
gen_observer_view_new (GenObserverModel *model)
{
  GenObserverView *self = g_object_new (GEN_TYPE_OBSERVER_VIEW, NULL);
  GtkWidget *columns, *scrolled, *buttons, *trace_view, *trace_scrolled, *paned;

  self->model = g_object_ref (model);
  /* Expanded from the start: a tree is what one comes to see. */
  self->tree = gtk_tree_list_model_new (g_object_ref (gen_observer_model_get_roots (model)), FALSE, TRUE,
                                        children_of, NULL, NULL);
  self->selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->tree)));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  g_signal_connect_swapped (self->selection, "notify::selected", G_CALLBACK (update_buttons), self);

  columns = gtk_column_view_new (g_object_ref (GTK_SELECTION_MODEL (self->selection)));
  gtk_column_view_set_show_column_separators (GTK_COLUMN_VIEW (columns), TRUE);
  add_column (GTK_COLUMN_VIEW (columns), "Server", G_CALLBACK (setup_expander), NULL, update_label, TRUE);
  add_column (GTK_COLUMN_VIEW (columns), "Type", G_CALLBACK (setup_label), GINT_TO_POINTER (0), update_type, TRUE);
  add_column (GTK_COLUMN_VIEW (columns), "Status", G_CALLBACK (setup_label), GINT_TO_POINTER (0), update_status, FALSE);
  add_column (GTK_COLUMN_VIEW (columns), "Mailbox", G_CALLBACK (setup_label), GINT_TO_POINTER (1), update_mailbox, FALSE);
  add_column (GTK_COLUMN_VIEW (columns), "Messages", G_CALLBACK (setup_label), GINT_TO_POINTER (1), update_rate, FALSE);
  add_column (GTK_COLUMN_VIEW (columns), "Rate", G_CALLBACK (setup_graph), NULL, update_graph, FALSE);

  scrolled = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), columns);
  gtk_widget_set_vexpand (scrolled, TRUE);

  buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  self->suspend_button = gtk_button_new_with_label ("Suspend");
  self->resume_button = gtk_button_new_with_label ("Resume");
  self->trace_button = gtk_button_new_with_label ("Trace");
  self->message = gtk_label_new (NULL);
  gtk_widget_set_hexpand (self->message, TRUE);
  gtk_label_set_xalign (GTK_LABEL (self->message), 1.0);
  gtk_box_append (GTK_BOX (buttons), self->suspend_button);
  gtk_box_append (GTK_BOX (buttons), self->resume_button);
  gtk_box_append (GTK_BOX (buttons), self->trace_button);
  gtk_box_append (GTK_BOX (buttons), self->message);
  g_signal_connect_swapped (self->suspend_button, "clicked", G_CALLBACK (suspend_clicked), self);
  g_signal_connect_swapped (self->resume_button, "clicked", G_CALLBACK (resume_clicked), self);
  g_signal_connect_swapped (self->trace_button, "clicked", G_CALLBACK (trace_clicked), self);
  gtk_widget_set_margin_start (buttons, 6);
  gtk_widget_set_margin_end (buttons, 6);

  trace_view = gtk_text_view_new ();
  gtk_text_view_set_editable (GTK_TEXT_VIEW (trace_view), FALSE);
  gtk_text_view_set_monospace (GTK_TEXT_VIEW (trace_view), TRUE);
  self->trace_log = gtk_text_view_get_buffer (GTK_TEXT_VIEW (trace_view));
  trace_scrolled = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (trace_scrolled), trace_view);
  gtk_widget_set_size_request (trace_scrolled, -1, 80);

  paned = gtk_paned_new (GTK_ORIENTATION_VERTICAL);
  gtk_paned_set_start_child (GTK_PANED (paned), scrolled);
  gtk_paned_set_end_child (GTK_PANED (paned), trace_scrolled);
  gtk_paned_set_resize_end_child (GTK_PANED (paned), FALSE);
  gtk_widget_set_vexpand (paned, TRUE);

  gtk_box_append (GTK_BOX (self), paned);
  gtk_box_append (GTK_BOX (self), buttons);

  self->updated_id = g_signal_connect_swapped (model, "updated", G_CALLBACK (on_updated), self);
  self->trace_id = g_signal_connect_swapped (model, "trace", G_CALLBACK (on_trace), self);
  self->failed_id = g_signal_connect_swapped (model, "failed", G_CALLBACK (on_failed), self);
  update_buttons (self);
  return GTK_WIDGET (self);
}

GenObserverModel *
gen_observer_view_get_model (GenObserverView *self)
{
  return self->model;
}

GListModel *
gen_observer_view_get_rows (GenObserverView *self)
{
  return G_LIST_MODEL (self->tree);
}

gboolean
gen_observer_view_select (GenObserverView *self,
                          const gchar     *label)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->tree));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GtkTreeListRow) row = g_list_model_get_item (G_LIST_MODEL (self->tree), i);
      g_autoptr(GenObserverServer) server = gtk_tree_list_row_get_item (row);

      if (g_strcmp0 (gen_observer_server_get_label (server), label) == 0)
        {
          gtk_single_selection_set_selected (self->selection, i);
          return TRUE;
        }
    }
  return FALSE;
}

gchar *
gen_observer_view_dup_trace_text (GenObserverView *self)
{
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (self->trace_log, &start, &end);
  return gtk_text_buffer_get_text (self->trace_log, &start, &end, FALSE);
}
