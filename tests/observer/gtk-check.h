/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the GTK tests of the observer share: waiting on the main context
 * with a deadline, finding widgets by type name (the Inspector page lives
 * in a module the test does not link), reading a GenObserverView's rows
 * through properties, and taking and judging a screenshot.
 */

#include <gtk/gtk.h>

#define GTK_CHECK_DEADLINE_US (60 * G_USEC_PER_SEC)

/* The colour of the rate graphs (GEN_OBSERVER_GRAPH_RGB). */
#define GRAPH_R 0x9a
#define GRAPH_G 0x2f
#define GRAPH_B 0xc0

typedef gboolean (*CheckPredicate) (gpointer data);

static gboolean
check_wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the default main context until @predicate holds. */
static inline void
check_wait (CheckPredicate  predicate,
            gpointer        data,
            const gchar    *what)
{
  gint64 deadline = g_get_monotonic_time () + GTK_CHECK_DEADLINE_US;
  /* Wakes the iteration now and then: some conditions change in other
   * threads or processes, which do not wake this context. */
  guint guard = g_timeout_add (20, check_wake, NULL);

  while (!predicate (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("%s: not within the deadline", what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (guard);
}

static inline GtkWidget *
check_find_widget (GtkWidget   *root,
                   const gchar *type_name)
{
  GType type = g_type_from_name (type_name);

  if (type != 0 && g_type_is_a (G_OBJECT_TYPE (root), type))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = check_find_widget (child, type_name);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static inline GtkWidget *
check_find_button (GtkWidget   *root,
                   const gchar *label)
{
  if (GTK_IS_BUTTON (root) && g_strcmp0 (gtk_button_get_label (GTK_BUTTON (root)), label) == 0)
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = check_find_button (child, label);

      if (found != NULL)
        return found;
    }
  return NULL;
}

/* The view's rows as "depth label status", one a line. */
static inline gchar *
check_rows_text (GtkWidget *view)
{
  g_autoptr(GListModel) rows = NULL;
  GString *text = g_string_new (NULL);

  g_object_get (view, "rows", &rows, NULL);
  for (guint i = 0; i < g_list_model_get_n_items (rows); i++)
    {
      g_autoptr(GtkTreeListRow) row = g_list_model_get_item (rows, i);
      g_autoptr(GObject) server = gtk_tree_list_row_get_item (row);
      g_autofree gchar *label = NULL;
      g_autofree gchar *status = NULL;

      g_object_get (server, "label", &label, "status", &status, NULL);
      g_string_append_printf (text, "%u %s %s\n", gtk_tree_list_row_get_depth (row), label, status);
    }
  return g_string_free (text, FALSE);
}

/* A property of the row labelled @label; FALSE if there is none. */
static inline gboolean
check_row_get (GtkWidget   *view,
               const gchar *label,
               const gchar *property,
               GValue      *value)
{
  g_autoptr(GListModel) rows = NULL;

  g_object_get (view, "rows", &rows, NULL);
  for (guint i = 0; i < g_list_model_get_n_items (rows); i++)
    {
      g_autoptr(GtkTreeListRow) row = g_list_model_get_item (rows, i);
      g_autoptr(GObject) server = gtk_tree_list_row_get_item (row);
      g_autofree gchar *row_label = NULL;

      g_object_get (server, "label", &row_label, NULL);
      if (g_strcmp0 (row_label, label) == 0)
        {
          g_object_get_property (server, property, value);
          return TRUE;
        }
    }
  return FALSE;
}

/* What a view must show: @rows (check_rows_text()), and @graphed's rate
 * measured at least three times, so that its graph has bars. */
typedef struct
{
  GtkWidget *view;
  const gchar *rows;
  const gchar *graphed;
} CheckTree;

static inline gboolean
check_tree_shown (gpointer data)
{
  CheckTree *tree = data;
  g_autofree gchar *rows = check_rows_text (tree->view);
  GValue rate = G_VALUE_INIT;
  GValue samples = G_VALUE_INIT;
  gboolean graphed;

  graphed = check_row_get (tree->view, tree->graphed, "rate", &rate) && g_value_get_double (&rate) > 0 &&
            check_row_get (tree->view, tree->graphed, "samples", &samples) && g_value_get_uint (&samples) >= 3;
  g_value_unset (&rate);
  g_value_unset (&samples);
  return graphed && g_str_equal (rows, tree->rows);
}

/* Selects the row labelled @label in the view's column view. */
static inline void
check_select (GtkWidget   *view,
              const gchar *label)
{
  GtkWidget *columns = check_find_widget (view, "GtkColumnView");
  GtkSelectionModel *selection = gtk_column_view_get_model (GTK_COLUMN_VIEW (columns));

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (selection)); i++)
    {
      g_autoptr(GtkTreeListRow) row = g_list_model_get_item (G_LIST_MODEL (selection), i);
      g_autoptr(GObject) server = gtk_tree_list_row_get_item (row);
      g_autofree gchar *row_label = NULL;

      g_object_get (server, "label", &row_label, NULL);
      if (g_strcmp0 (row_label, label) == 0)
        {
          gtk_selection_model_select_item (selection, i, TRUE);
          return;
        }
    }
  g_error ("no row %s", label);
}

/* Renders @widget as it is on screen into @path (PNG), and fails on a
 * blank or wrong picture: it must have text (many dark pixels and many
 * colours) and a rate graph (pixels of the graph's colour). */
static gboolean
check_mapped (gpointer widget)
{
  return gtk_widget_get_mapped (widget);
}

static void
check_painted (GdkFrameClock *clock,
               gpointer       painted)
{
  *(gboolean *) painted = TRUE;
}

static gboolean
check_flag (gpointer flag)
{
  return *(gboolean *) flag;
}

static inline void
check_screenshot (GtkWidget   *window,
                  const gchar *path)
{
  /* The whole window, title bar included, once on screen and painted as
   * it is now. A paintable of a toplevel draws nothing: the window draws
   * itself into the snapshot, as its surface does. */
  GtkWidget *widget = window;
  GdkFrameClock *clock;
  gboolean painted = FALSE;
  gulong handler;
  int width, height;

  check_wait (check_mapped, widget, "the window on screen");
  clock = gtk_widget_get_frame_clock (widget);
  handler = g_signal_connect (clock, "after-paint", G_CALLBACK (check_painted), &painted);
  gtk_widget_queue_draw (widget);
  check_wait (check_flag, &painted, "a frame painted");
  g_signal_handler_disconnect (clock, handler);

  width = gtk_widget_get_width (widget);
  height = gtk_widget_get_height (widget);
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GHashTable) colours = g_hash_table_new (NULL, NULL);
  g_autofree guchar *pixels = NULL;
  gsize stride = (gsize) width * 4;
  guint dark = 0, graph = 0;

  g_assert_cmpint (width, >, 100);
  g_assert_cmpint (height, >, 100);
  GTK_WIDGET_GET_CLASS (widget)->snapshot (widget, snapshot);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  g_assert_true (gdk_texture_save_to_png (texture, path));

  /* Memory format: B, G, R, A (premultiplied, opaque here). */
  pixels = g_malloc (stride * height);
  gdk_texture_download (texture, pixels, stride);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        const guchar *p = pixels + y * stride + x * 4;

        g_hash_table_add (colours, GUINT_TO_POINTER ((p[2] << 16) | (p[1] << 8) | p[0]));
        if (p[0] + p[1] + p[2] < 3 * 96)
          dark++;
        if (ABS (p[2] - GRAPH_R) < 8 && ABS (p[1] - GRAPH_G) < 8 && ABS (p[0] - GRAPH_B) < 8)
          graph++;
      }
  g_test_message ("%s: %dx%d, %u colours, %u dark pixels, %u graph pixels",
                  path, width, height, g_hash_table_size (colours), dark, graph);
  g_assert_cmpuint (g_hash_table_size (colours), >, 32);
  g_assert_cmpuint (dark, >, (guint) (width * height / 400));
  g_assert_cmpuint (graph, >, 40);
}
