/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The "Servers" page of the GTK Inspector: a GIO module that GTK loads
 * from its inspector module folder when the Inspector opens, and that
 * implements the gtk-inspector-page extension point, as libadwaita and
 * libshumate add their pages. The page looks at its own process through
 * the same D-Bus interface as genserver-observer: the observer listens on
 * a private socket and the page connects to it.
 */

#include <glib/gstdio.h>
#include <gtk/gtk.h>

#include <genserver/genserver.h>

#include "gen-observer-inspector.h"
#include "gen-observer-view.h"

struct _GenObserverInspectorPage
{
  GtkBox parent_instance;

  GObject *object;             /* owned: what the Inspector selected; unused */
  gchar *dir;                  /* owned: the private socket's folder */
  GenDBusListener *listener;   /* owned */
  GDBusConnection *connection; /* owned */
  GtkWidget *view;
};

G_DEFINE_FINAL_TYPE (GenObserverInspectorPage, gen_observer_inspector_page, GTK_TYPE_BOX)

enum
{
  PROP_0,
  PROP_TITLE,
  PROP_OBJECT,
  N_PROPS
};

static void
gen_observer_inspector_page_get_property (GObject    *object,
                                          guint       prop_id,
                                          GValue     *value,
                                          GParamSpec *pspec)
{
  GenObserverInspectorPage *self = GEN_OBSERVER_INSPECTOR_PAGE (object);

  switch (prop_id)
    {
    case PROP_TITLE:
      g_value_set_string (value, "Servers");
      break;
    case PROP_OBJECT:
      g_value_set_object (value, self->object);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_observer_inspector_page_set_property (GObject      *object,
                                          guint         prop_id,
                                          const GValue *value,
                                          GParamSpec   *pspec)
{
  GenObserverInspectorPage *self = GEN_OBSERVER_INSPECTOR_PAGE (object);

  switch (prop_id)
    {
    case PROP_OBJECT:
      g_set_object (&self->object, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_observer_inspector_page_dispose (GObject *object)
{
  GenObserverInspectorPage *self = GEN_OBSERVER_INSPECTOR_PAGE (object);

  if (self->view != NULL)
    {
      gtk_box_remove (GTK_BOX (self), self->view);
      self->view = NULL;
    }
  if (self->connection != NULL)
    g_dbus_connection_close_sync (self->connection, NULL, NULL);
  g_clear_object (&self->connection);
  if (self->listener != NULL)
    {
      g_autofree gchar *path = g_build_filename (self->dir, "observer", NULL);

      gen_dbus_listener_close (self->listener);
      g_remove (path);
      g_rmdir (self->dir);
    }
  g_clear_object (&self->listener);
  g_clear_object (&self->object);
  g_clear_pointer (&self->dir, g_free);
  G_OBJECT_CLASS (gen_observer_inspector_page_parent_class)->dispose (object);
}

static void
gen_observer_inspector_page_constructed (GObject *object)
{
  GenObserverInspectorPage *self = GEN_OBSERVER_INSPECTOR_PAGE (object);
  g_autoptr(GenObserverModel) model = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *path = NULL;
  g_autofree gchar *address = NULL;

  G_OBJECT_CLASS (gen_observer_inspector_page_parent_class)->constructed (object);

  self->dir = g_dir_make_tmp ("genserver-inspector-XXXXXX", &error);
  if (self->dir != NULL)
    {
      g_autofree gchar *escaped = NULL;

      path = g_build_filename (self->dir, "observer", NULL);
      escaped = g_dbus_address_escape_value (path);
      address = g_strconcat ("unix:path=", escaped, NULL);
      self->listener = gen_observer_listen (path, &error);
    }
  if (self->listener != NULL)
    self->connection = g_dbus_connection_new_for_address_sync (address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                               NULL, NULL, &error);
  if (self->connection == NULL)
    {
      g_autofree gchar *text = g_strdup_printf ("The observer is not available: %s", error->message);

      gtk_box_append (GTK_BOX (self), gtk_label_new (text));
      return;
    }

  model = gen_observer_model_new (self->connection, NULL, 1000);
  self->view = gen_observer_view_new (model);
  gtk_widget_set_vexpand (self->view, TRUE);
  gtk_box_append (GTK_BOX (self), self->view);
}

static void
gen_observer_inspector_page_class_init (GenObserverInspectorPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = gen_observer_inspector_page_get_property;
  object_class->set_property = gen_observer_inspector_page_set_property;
  object_class->constructed = gen_observer_inspector_page_constructed;
  object_class->dispose = gen_observer_inspector_page_dispose;

  /* What the Inspector reads of a page: its tab's title, and the object
   * it selected (which this page does not need). */
  g_object_class_install_property (object_class, PROP_TITLE,
                                   g_param_spec_string ("title", NULL, NULL, "Servers",
                                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (object_class, PROP_OBJECT,
                                   g_param_spec_object ("object", NULL, NULL, G_TYPE_OBJECT,
                                                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
}

static void
gen_observer_inspector_page_init (GenObserverInspectorPage *self)
{
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_VERTICAL);
}

void
g_io_module_load (GIOModule *module)
{
  /* GTK loads every module of its folder in every GTK 4 program that
   * opens the Inspector: the page is only for programs using genserver,
   * which made a server type before. */
  if (g_type_from_name ("GenServer") == 0)
    return;

  /* Types registered statically cannot be unloaded: keep the module. */
  g_type_module_use (G_TYPE_MODULE (module));
  g_io_extension_point_implement ("gtk-inspector-page", GEN_TYPE_OBSERVER_INSPECTOR_PAGE,
                                  "genserver-servers", 10);
}

void
g_io_module_unload (GIOModule *module)
{
}
