/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Finding the process an observer tool looks at; see observer-target.h. */

#include "observer-target.h"

#define CALL_TIMEOUT_MS 10000
/* How long a peer on the bus may take to say whether it is observed. */
#define PROBE_TIMEOUT_MS 2000

void
target_clear (Target *target)
{
  g_clear_object (&target->connection);
  g_clear_pointer (&target->name, g_free);
}

GVariant *
target_call (Target              *target,
             const gchar         *method,
             GVariant            *parameters,
             const GVariantType  *reply_type,
             GError             **error)
{
  return g_dbus_connection_call_sync (target->connection, target->name, OBSERVER_PATH,
                                      OBSERVER_INTERFACE, method, parameters, reply_type,
                                      G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, error);
}

GVariant *
target_probe (GDBusConnection *bus,
       const gchar     *name)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (bus, name, OBSERVER_PATH, OBSERVER_INTERFACE,
                                                           "GetProcess", NULL, G_VARIANT_TYPE ("(a{sv})"),
                                                           G_DBUS_CALL_FLAGS_NO_AUTO_START, PROBE_TIMEOUT_MS,
                                                           NULL, NULL);

  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

static gboolean
name_pid (GDBusConnection *bus,
          const gchar     *name,
          guint32         *pid)
{
  g_autoptr(GVariant) reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                           "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                                           g_variant_new ("(s)", name), G_VARIANT_TYPE ("(u)"),
                                                           G_DBUS_CALL_FLAGS_NONE, PROBE_TIMEOUT_MS, NULL, NULL);

  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(u)", pid);
  return TRUE;
}

GPtrArray *
target_observed_names (GDBusConnection  *bus,
                guint32           pid,
                GError          **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariantIter) iter = NULL;
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);
  const gchar *name;

  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "ListNames", NULL, G_VARIANT_TYPE ("(as)"),
                                       G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, error);
  if (reply == NULL)
    {
      g_ptr_array_unref (found);
      return NULL;
    }
  g_variant_get (reply, "(as)", &iter);
  while (g_variant_iter_next (iter, "&s", &name))
    {
      g_autoptr(GVariant) process = NULL;
      guint32 name_pid_value = 0;

      if (name[0] != ':' || g_strcmp0 (name, g_dbus_connection_get_unique_name (bus)) == 0)
        continue;
      if (pid != 0 && (!name_pid (bus, name, &name_pid_value) || name_pid_value != pid))
        continue;
      if ((process = target_probe (bus, name)) != NULL)
        g_ptr_array_add (found, g_strdup (name));
    }
  return found;
}

gboolean
target_open (Target              *target,
             const TargetOptions *options,
             GError             **error)
{
  g_autoptr(GPtrArray) names = NULL;

  if (options->socket_path != NULL)
    {
      g_autofree gchar *escaped = g_dbus_address_escape_value (options->socket_path);
      g_autofree gchar *address = g_strconcat ("unix:path=", escaped, NULL);

      target->connection = g_dbus_connection_new_for_address_sync (address,
                                                                   G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                                   NULL, NULL, error);
      return target->connection != NULL;
    }

  target->connection = g_bus_get_sync (options->system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, NULL, error);
  if (target->connection == NULL)
    return FALSE;

  if (options->bus_name != NULL)
    {
      g_autoptr(GVariant) reply = NULL;

      /* The owner now, so that a trace follows this process and not a
       * later owner of the name. */
      reply = g_dbus_connection_call_sync (target->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                           "org.freedesktop.DBus", "GetNameOwner",
                                           g_variant_new ("(s)", options->bus_name), G_VARIANT_TYPE ("(s)"),
                                           G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, error);
      if (reply == NULL)
        return FALSE;
      g_variant_get (reply, "(s)", &target->name);
      return TRUE;
    }

  names = target_observed_names (target->connection, (guint32) options->pid, error);
  if (names == NULL)
    return FALSE;
  if (names->len == 1)
    {
      target->name = g_strdup (names->pdata[0]);
      return TRUE;
    }
  if (names->len == 0)
    {
      if (options->pid != 0)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                     "Process %d has no observer on the %s bus (see gen_observer_export())",
                     options->pid, options->system ? "system" : "session");
      else
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                     "No process exports the observer on the %s bus (see gen_observer_export())",
                     options->system ? "system" : "session");
      return FALSE;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
               "%u processes export the observer; choose one with --pid or --bus-name "
               "(genserver-ctl processes lists them)", names->len);
  return FALSE;
}

