/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * genserver-observer's window under Xvfb, attached to the observed
 * program (a second process with a known tree) on a private bus: the
 * test reads the view's models and judges a screenshot (saved for
 * doc/observer.md).
 */

#include "gen-observer-window.h"
#include "gtk-check.h"

#define BUS_NAME "io.github.genserver.Observed"

/* The private session bus of the test: GTK's and the observed program's. */
static GTestDBus *bus;

typedef struct
{
  GtkWidget *window;
  GtkWidget *view;
  gchar *title;
} Fixture;

static gboolean
titled (gpointer data)
{
  Fixture *f = data;

  return g_str_has_prefix (gtk_window_get_title (GTK_WINDOW (f->window)), "observed (pid ");
}

static void
test_app_window (void)
{
  Fixture fixture = { 0 }, *f = &fixture;
  g_autoptr(GSubprocess) observed = NULL;
  g_autoptr(GDataInputStream) output = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *line = NULL;
  g_autofree gchar *path = g_build_filename (g_getenv ("GEN_SCREENSHOT_DIR"), "genserver-observer.png", NULL);
  g_autofree gchar *expected_title = NULL;

  observed = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                               g_getenv ("GEN_OBSERVED"), "--bus", g_test_dbus_get_bus_address (bus),
                               "--name", BUS_NAME, NULL);
  g_assert_no_error (error);
  output = g_data_input_stream_new (g_subprocess_get_stdout_pipe (observed));
  line = g_data_input_stream_read_line (output, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "ready");

  connection = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (bus),
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  /* Without an application: registered, it would keep the test's bus. */
  f->window = gen_observer_window_new (NULL, connection, BUS_NAME);
  gtk_window_present (GTK_WINDOW (f->window));
  f->view = check_find_widget (f->window, "GenObserverView");
  g_assert_nonnull (f->view);
  {
    CheckTree tree = {
      f->view,
      "0 GenSupervisor running\n"
      "1 counter-a running\n"
      "1 counter-b running\n"
      "1 workers running\n"
      "2 worker-1 running\n"
      "2 worker-2 running\n"
      "0 lonely running\n",
      "counter-a",
    };

    check_wait (check_tree_shown, &tree, "the observed tree in genserver-observer");
  }
  check_wait (titled, f, "the window titled after the process");
  expected_title = g_strdup_printf ("observed (pid %s) — genserver-observer", g_subprocess_get_identifier (observed));
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (f->window)), ==, expected_title);

  check_screenshot (f->window, path);

  gtk_window_destroy (GTK_WINDOW (f->window));
  g_output_stream_close (g_subprocess_get_stdin_pipe (observed), NULL, NULL);
  g_assert_true (g_subprocess_wait_check (observed, NULL, &error));
  g_assert_no_error (error);
  g_dbus_connection_close_sync (connection, NULL, NULL);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);
  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  {
    /* GTestDBus unsets DISPLAY, Xvfb's. */
    g_autofree gchar *display = g_strdup (g_getenv ("DISPLAY"));

    g_test_dbus_up (bus);
    if (display != NULL)
      g_setenv ("DISPLAY", display, TRUE);
  }
  gtk_init ();

  g_test_add_func ("/observer/gtk/genserver-observer", test_app_window);
  status = g_test_run ();
  g_test_dbus_down (bus);
  g_object_unref (bus);
  return status;
}
