/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <gtk/gtk.h>

#include "gen-observer-view.h"

G_BEGIN_DECLS

/* The Inspector's "Servers" page. */
#define GEN_TYPE_OBSERVER_INSPECTOR_PAGE (gen_observer_inspector_page_get_type ())
G_DECLARE_FINAL_TYPE (GenObserverInspectorPage, gen_observer_inspector_page, GEN, OBSERVER_INSPECTOR_PAGE, GtkBox)

/* The GIO module's entry points. */
G_MODULE_EXPORT void   g_io_module_load   (GIOModule *module);
G_MODULE_EXPORT void   g_io_module_unload (GIOModule *module);

G_END_DECLS
