/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "gen-observer-window.h"

#define OBSERVER_INTERFACE "io.github.genserver.Observer1"
#define OBSERVER_PATH "/io/github/genserver/Observer1"

static void
on_process (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GtkWidget) window = user_data;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, NULL);
  g_autoptr(GVariant) process = NULL;
  g_autofree gchar *title = NULL;
  const gchar *program = "?";
  guint32 pid = 0;

  if (reply == NULL)
    return;
  process = g_variant_get_child_value (reply, 0);
  g_variant_lookup (process, "program", "&s", &program);
  g_variant_lookup (process, "pid", "u", &pid);
  title = g_strdup_printf ("%s (pid %u) — genserver-observer", program, pid);
  gtk_window_set_title (GTK_WINDOW (window), title);
}

GtkWidget *
gen_observer_window_new (GtkApplication  *application,
                         GDBusConnection *connection,
                         const gchar     *bus_name)
{
  g_autoptr(GenObserverModel) model = gen_observer_model_new (connection, bus_name, 1000);
  GtkWidget *window = application != NULL ? gtk_application_window_new (application) : gtk_window_new ();

  gtk_window_set_title (GTK_WINDOW (window), "genserver-observer");
  gtk_window_set_default_size (GTK_WINDOW (window), 900, 560);
  gtk_window_set_child (GTK_WINDOW (window), gen_observer_view_new (model));
  g_dbus_connection_call (connection, bus_name, OBSERVER_PATH, OBSERVER_INTERFACE, "GetProcess",
                          NULL, G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          on_process, g_object_ref (window));
  return window;
}
