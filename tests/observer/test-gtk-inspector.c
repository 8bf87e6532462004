/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The Inspector's "Servers" page, under Xvfb: a GTK program with a known
 * supervision tree opens the GTK Inspector, which loads genserver's
 * module from GTK_PATH through the gtk-inspector-page extension point.
 * The test reads the page's models, presses its buttons and judges a
 * screenshot of the Inspector (saved for doc/observer.md).
 */

#include <genserver/genserver.h>

#include "gtk-check.h"
#include "obs-counter.h"

typedef struct
{
  GenSupervisor *root;  /* root → alpha (named), beta, sub → gamma */
  GenServer *lonely;
  GenServer *alpha;
  GtkWidget *view;
  gchar *trace_text;
} Fixture;

static gboolean
tick (gpointer data)
{
  Fixture *f = data;

  gen_server_cast (f->alpha, g_variant_new_string ("tick"), NULL);
  return G_SOURCE_CONTINUE;
}

static void
start_tree (Fixture *f)
{
  GenChildSpec *sub_children[1];
  GenChildSpec *children[3];
  g_autoptr(GError) error = NULL;

  sub_children[0] = gen_child_spec_new ("gamma", OBS_TYPE_COUNTER, NULL);
  children[0] = gen_child_spec_new ("alpha", OBS_TYPE_COUNTER, NULL);
  gen_child_spec_set_name (children[0], "alpha");
  children[1] = gen_child_spec_new ("beta", OBS_TYPE_COUNTER, NULL);
  children[2] = gen_child_spec_new ("sub", GEN_TYPE_SUPERVISOR, gen_supervisor_build_args (sub_children, 1));
  f->root = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3, 5000);
  g_assert_true (gen_server_start (GEN_SERVER (f->root), gen_supervisor_build_args (children, 3), &error));
  g_assert_true (gen_registry_register (gen_registry_get_default (), "root", GEN_SERVER (f->root), &error));
  for (guint i = 0; i < 3; i++)
    gen_child_spec_unref (children[i]);
  gen_child_spec_unref (sub_children[0]);

  f->lonely = g_object_new (OBS_TYPE_COUNTER, NULL);
  g_assert_true (gen_server_start (f->lonely, NULL, &error));
  g_assert_true (gen_registry_register (gen_registry_get_default (), "lonely", f->lonely, &error));
  f->alpha = gen_registry_lookup (gen_registry_get_default (), "alpha");
}

static GtkWidget *
inspector_window (void)
{
  g_autoptr(GListModel) toplevels = g_object_ref (gtk_window_get_toplevels ());

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWidget) window = g_list_model_get_item (toplevels, i);

      if (g_strcmp0 (G_OBJECT_TYPE_NAME (window), "GtkInspectorWindow") == 0)
        return window;
    }
  return NULL;
}

/* alpha shows @status in the page and has it in the process. */
typedef struct
{
  Fixture *f;
  const gchar *status;
} AlphaStatus;

static gboolean
alpha_has_status (gpointer data)
{
  AlphaStatus *wanted = data;
  GValue status = G_VALUE_INIT;
  gboolean shown = check_row_get (wanted->f->view, "alpha", "status", &status) &&
                   g_strcmp0 (g_value_get_string (&status), wanted->status) == 0;

  g_value_unset (&status);
  return shown && g_str_equal (gen_server_get_run_status (wanted->f->alpha), wanted->status);
}

static gboolean
trace_shown (gpointer data)
{
  Fixture *f = data;

  g_free (f->trace_text);
  g_object_get (f->view, "trace-text", &f->trace_text, NULL);
  return strstr (f->trace_text, "ObsCounter cast 'tick'") != NULL;
}

typedef struct
{
  GtkWidget *view;
  const gchar *label;
  GtkWidget *button;
} Click;

static gboolean
button_ready (gpointer data)
{
  Click *click = data;

  /* The buttons follow the selected server as the polls show it. */
  click->button = check_find_button (click->view, click->label);
  return click->button != NULL && gtk_widget_get_sensitive (click->button);
}

static void
click (Fixture     *f,
       const gchar *label)
{
  Click click = { f->view, label, NULL };

  check_wait (button_ready, &click, label);
  g_signal_emit_by_name (click.button, "clicked");
}

static void
test_inspector_page (void)
{
  Fixture fixture = { 0 }, *f = &fixture;
  GtkWidget *app_window, *inspector, *page;
  g_autofree gchar *path = g_build_filename (g_getenv ("GEN_SCREENSHOT_DIR"), "inspector-page.png", NULL);
  CheckTree tree = {
    NULL,
    "0 root running\n"
    "1 alpha running\n"
    "1 beta running\n"
    "1 sub running\n"
    "2 gamma running\n"
    "0 lonely running\n",
    "alpha",
  };
  AlphaStatus suspended = { f, "suspended" }, running = { f, "running" };
  guint ticker;

  start_tree (f);
  ticker = g_timeout_add (10, tick, f);

  app_window = gtk_window_new ();
  gtk_window_set_title (GTK_WINDOW (app_window), "An application with servers");
  gtk_window_set_child (GTK_WINDOW (app_window), gtk_label_new ("Ctrl+Shift+I"));
  gtk_window_present (GTK_WINDOW (app_window));

  gtk_window_set_interactive_debugging (TRUE);
  inspector = inspector_window ();
  g_assert_nonnull (inspector);
  gtk_window_set_default_size (GTK_WINDOW (inspector), 1000, 620);

  /* Loaded from GTK_PATH by the Inspector, through the extension point. */
  page = check_find_widget (inspector, "GenObserverInspectorPage");
  g_assert_nonnull (page);
  for (GtkWidget *child = page, *parent = gtk_widget_get_parent (page); parent != NULL;
       child = parent, parent = gtk_widget_get_parent (parent))
    if (GTK_IS_STACK (parent))
      gtk_stack_set_visible_child (GTK_STACK (parent), child);
  {
    g_autofree gchar *title = NULL;

    g_object_get (page, "title", &title, NULL);
    g_assert_cmpstr (title, ==, "Servers");
  }

  f->view = check_find_widget (page, "GenObserverView");
  g_assert_nonnull (f->view);
  tree.view = f->view;
  check_wait (check_tree_shown, &tree, "the tree in the Inspector page");

  /* The buttons act on the selected server. */
  check_select (f->view, "alpha");
  click (f, "Suspend");
  check_wait (alpha_has_status, &suspended, "alpha suspended from the page");
  click (f, "Resume");
  check_wait (alpha_has_status, &running, "alpha resumed from the page");
  click (f, "Trace");
  check_wait (trace_shown, f, "alpha's trace records in the page");
  g_assert_true (gen_server_get_trace (f->alpha));
  click (f, "Stop tracing");

  check_wait (check_tree_shown, &tree, "the graph after the clicks");
  check_screenshot (inspector, path);

  g_source_remove (ticker);
  gtk_window_set_interactive_debugging (FALSE);
  gtk_window_destroy (GTK_WINDOW (app_window));
  gen_server_stop (f->lonely, -1, NULL);
  gen_server_stop (GEN_SERVER (f->root), -1, NULL);
  g_clear_object (&f->alpha);
  g_clear_object (&f->lonely);
  g_clear_object (&f->root);
  g_free (f->trace_text);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GTestDBus) bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  int status;

  g_test_init (&argc, &argv, NULL);
  /* GTK wants a session bus. */
  {
    /* GTestDBus unsets DISPLAY, Xvfb's. */
    g_autofree gchar *display = g_strdup (g_getenv ("DISPLAY"));

    g_test_dbus_up (bus);
    if (display != NULL)
      g_setenv ("DISPLAY", display, TRUE);
  }
  gtk_init ();

  g_test_add_func ("/observer/gtk/inspector-page", test_inspector_page);
  status = g_test_run ();
  g_test_dbus_down (bus);
  return status;
}
