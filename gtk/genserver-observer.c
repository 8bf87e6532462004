/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * genserver-observer: the servers of another process in a window, through
 * the observer interface that process exported; the Inspector page's
 * view, for any process. See doc/observer.md.
 */

#include <locale.h>

#include <gtk/gtk.h>

#include "gen-observer-window.h"
#include "observer-target.h"

static TargetOptions options;

static void
activate (GtkApplication *application,
          gpointer        user_data)
{
  g_auto(Target) target = { NULL, NULL };
  g_autoptr(GError) error = NULL;

  if (!target_open (&target, &options, &error))
    {
      g_dbus_error_strip_remote_error (error);
      g_printerr ("genserver-observer: %s\n", error->message);
      g_application_quit (G_APPLICATION (application));
      return;
    }
  gtk_window_present (GTK_WINDOW (gen_observer_window_new (application, target.connection, target.name)));
}

int
main (int   argc,
      char *argv[])
{
  GOptionEntry entries[] = {
    { "bus-name", 'b', 0, G_OPTION_ARG_STRING, &options.bus_name, "The process that owns NAME on the bus", "NAME" },
    { "pid", 'p', 0, G_OPTION_ARG_INT, &options.pid, "The process PID, on the bus", "PID" },
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &options.socket_path, "The process listening at PATH", "PATH" },
    { "system", 0, 0, G_OPTION_ARG_NONE, &options.system, "The system bus, not the session bus", NULL },
    { NULL }
  };
  g_autoptr(GtkApplication) application = NULL;

  setlocale (LC_ALL, "");
  /* One window per process looked at: no uniqueness. */
  application = gtk_application_new ("io.github.genserver.Observer", G_APPLICATION_NON_UNIQUE);
  g_application_add_main_option_entries (G_APPLICATION (application), entries);
  g_application_set_option_context_summary (G_APPLICATION (application),
                                            "Look at the servers of a process that exports "
                                            "genserver's observer (gen_observer_export).");
  g_signal_connect (application, "activate", G_CALLBACK (activate), NULL);
  return g_application_run (G_APPLICATION (application), argc, argv);
}
