/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <genserver/gen-server.h>

G_BEGIN_DECLS

#define GEN_TYPE_GROUP (gen_group_get_type ())

GEN_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (GenGroup, gen_group, GEN, GROUP, GObject)

/**
 * GenGroupMonitorFunc:
 * @self: the groups
 * @group: the name of the group that changed
 * @server: the server that joined or left
 * @joined: %TRUE if it joined, %FALSE if it left (or stopped)
 * @user_data: the data given to [method@Gen.Group.monitor]
 *
 * Told that a group's membership changed. See [method@Gen.Group.monitor].
 *
 * Since: 1.0
 */
typedef void (*GenGroupMonitorFunc) (GenGroup    *self,
                                     const gchar *group,
                                     GenServer   *server,
                                     gboolean     joined,
                                     gpointer     user_data);

GEN_AVAILABLE_IN_ALL
GenGroup   *gen_group_new          (void);
GEN_AVAILABLE_IN_ALL
GenGroup   *gen_group_get_default  (void);
GEN_AVAILABLE_IN_ALL
gboolean    gen_group_join         (GenGroup             *self,
                                    const gchar          *group,
                                    GenServer            *server,
                                    GError              **error);
GEN_AVAILABLE_IN_ALL
gboolean    gen_group_leave        (GenGroup             *self,
                                    const gchar          *group,
                                    GenServer            *server);
GEN_AVAILABLE_IN_ALL
GPtrArray  *gen_group_get_members  (GenGroup             *self,
                                    const gchar          *group);
GEN_AVAILABLE_IN_ALL
gchar     **gen_group_dup_groups   (GenGroup             *self);
GEN_AVAILABLE_IN_ALL
guint       gen_group_monitor      (GenGroup             *self,
                                    const gchar          *group,
                                    GenGroupMonitorFunc   func,
                                    gpointer              user_data,
                                    GDestroyNotify        destroy);
GEN_AVAILABLE_IN_ALL
gboolean    gen_group_demonitor    (GenGroup             *self,
                                    guint                 monitor_id);
GEN_AVAILABLE_IN_ALL
guint       gen_group_cast         (GenGroup             *self,
                                    const gchar          *group,
                                    GVariant             *message);
GEN_AVAILABLE_IN_ALL
GPtrArray  *gen_group_call         (GenGroup             *self,
                                    const gchar          *group,
                                    GVariant             *message,
                                    gint                  timeout_ms);

G_END_DECLS
