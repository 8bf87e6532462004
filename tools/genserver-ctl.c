/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * genserver-ctl: the servers of another process, from a terminal, through
 * the observer interface that process exported (gen_observer_export() or
 * gen_observer_listen()). See genserver-ctl(1) and doc/observer.md.
 *
 * Only D-Bus and GLib: the tool does not link genserver, it speaks
 * io.github.genserver.Observer1.
 */

#include "config.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "observer-target.h"

static gboolean opt_json;
static gchar *opt_sort;
static gint opt_interval_ms = 1000;
static TargetOptions target_options;

/* JSON, for --json: a GVariant written as the obvious JSON value. */
static void
json_string (GString     *out,
             const gchar *text)
{
  g_string_append_c (out, '"');
  for (const gchar *p = text; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", c);
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else if (c < 0x20)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (gchar) c);
    }
  g_string_append_c (out, '"');
}

static void
json_value (GString  *out,
            GVariant *value)
{
  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      g_string_append (out, g_variant_get_boolean (value) ? "true" : "false");
      break;
    case G_VARIANT_CLASS_BYTE:
      g_string_append_printf (out, "%u", g_variant_get_byte (value));
      break;
    case G_VARIANT_CLASS_INT16:
      g_string_append_printf (out, "%d", g_variant_get_int16 (value));
      break;
    case G_VARIANT_CLASS_UINT16:
      g_string_append_printf (out, "%u", g_variant_get_uint16 (value));
      break;
    case G_VARIANT_CLASS_INT32:
      g_string_append_printf (out, "%d", g_variant_get_int32 (value));
      break;
    case G_VARIANT_CLASS_UINT32:
      g_string_append_printf (out, "%u", g_variant_get_uint32 (value));
      break;
    case G_VARIANT_CLASS_INT64:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, g_variant_get_int64 (value));
      break;
    case G_VARIANT_CLASS_UINT64:
      g_string_append_printf (out, "%" G_GUINT64_FORMAT, g_variant_get_uint64 (value));
      break;
    case G_VARIANT_CLASS_DOUBLE:
      g_string_append_printf (out, "%.17g", g_variant_get_double (value));
      break;
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_OBJECT_PATH:
    case G_VARIANT_CLASS_SIGNATURE:
      json_string (out, g_variant_get_string (value, NULL));
      break;
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_variant (value);

        json_value (out, inner);
      }
      break;
    case G_VARIANT_CLASS_ARRAY:
      if (g_variant_is_of_type (value, G_VARIANT_TYPE ("a{s*}")))
        {
          g_string_append_c (out, '{');
          for (gsize i = 0; i < g_variant_n_children (value); i++)
            {
              g_autoptr(GVariant) entry = g_variant_get_child_value (value, i);
              g_autoptr(GVariant) key = g_variant_get_child_value (entry, 0);
              g_autoptr(GVariant) item = g_variant_get_child_value (entry, 1);

              if (i > 0)
                g_string_append_c (out, ',');
              json_string (out, g_variant_get_string (key, NULL));
              g_string_append_c (out, ':');
              json_value (out, item);
            }
          g_string_append_c (out, '}');
          break;
        }
      G_GNUC_FALLTHROUGH;
    default:
      /* Tuples, other arrays, dictionaries of other keys: a list. */
      g_string_append_c (out, '[');
      for (gsize i = 0; i < g_variant_n_children (value); i++)
        {
          g_autoptr(GVariant) item = g_variant_get_child_value (value, i);

          if (i > 0)
            g_string_append_c (out, ',');
          json_value (out, item);
        }
      g_string_append_c (out, ']');
      break;
    }
}

static void
print_json (GVariant *value)
{
  g_autoptr(GString) out = g_string_new (NULL);

  json_value (out, value);
  g_print ("%s\n", out->str);
}

/* A server of ListServers, as the commands use it. */
typedef struct
{
  guint64 id;
  const gchar *type;
  const gchar *name;
  const gchar *scheduler;
  const gchar *status;
  const gchar *child_id;
  guint64 supervisor;
  guint32 mailbox;
  guint64 handled;
  gboolean trace;
  GVariant *dict; /* unowned: the list holds it */
} Server;

static GArray *
servers_of (GVariant *list)
{
  GArray *servers = g_array_new (FALSE, TRUE, sizeof (Server));

  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      Server server = { 0 };
      guint64 casts = 0, calls = 0, infos = 0;

      server.dict = g_variant_get_child_value (list, i);
      g_variant_unref (server.dict); /* the list keeps its children */
      g_variant_lookup (server.dict, "id", "t", &server.id);
      g_variant_lookup (server.dict, "type", "&s", &server.type);
      g_variant_lookup (server.dict, "name", "&s", &server.name);
      g_variant_lookup (server.dict, "scheduler", "&s", &server.scheduler);
      g_variant_lookup (server.dict, "status", "&s", &server.status);
      g_variant_lookup (server.dict, "child-id", "&s", &server.child_id);
      g_variant_lookup (server.dict, "supervisor", "t", &server.supervisor);
      g_variant_lookup (server.dict, "mailbox-length", "u", &server.mailbox);
      g_variant_lookup (server.dict, "casts", "t", &casts);
      g_variant_lookup (server.dict, "calls", "t", &calls);
      g_variant_lookup (server.dict, "infos", "t", &infos);
      g_variant_lookup (server.dict, "trace", "b", &server.trace);
      server.handled = casts + calls + infos;
      g_array_append_val (servers, server);
    }
  return servers;
}

static GVariant *
list_servers (Target  *target,
              GError **error)
{
  g_autoptr(GVariant) reply = target_call (target, "ListServers", NULL, G_VARIANT_TYPE ("(aa{sv})"), error);

  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/* What a user calls a server: its registered name, else its child id,
 * else its type. */
static const gchar *
label_of (const Server *server)
{
  if (server->name != NULL && server->name[0] != '\0')
    return server->name;
  if (server->child_id != NULL)
    return server->child_id;
  return server->type;
}

/* NAME on the command line: a registered name, a child id, a type name
 * or an id; it must name one server. */
static gboolean
resolve (Target       *target,
         const gchar  *name,
         guint64      *id,
         GError      **error)
{
  g_autoptr(GVariant) list = list_servers (target, error);
  g_autoptr(GArray) servers = NULL;
  const gchar *end = NULL;
  guint64 number;

  if (list == NULL)
    return FALSE;
  servers = servers_of (list);

  number = g_ascii_strtoull (name, (gchar **) &end, 10);
  for (guint pass = 0; pass < 4; pass++)
    {
      guint n = 0;

      for (guint i = 0; i < servers->len; i++)
        {
          Server *server = &g_array_index (servers, Server, i);
          gboolean match;

          switch (pass)
            {
            case 0:
              match = g_strcmp0 (server->name, name) == 0;
              break;
            case 1:
              match = g_strcmp0 (server->child_id, name) == 0;
              break;
            case 2:
              match = g_strcmp0 (server->type, name) == 0;
              break;
            default:
              match = end != name && *end == '\0' && server->id == number;
              break;
            }
          if (match)
            {
              *id = server->id;
              n++;
            }
        }
      if (n == 1)
        return TRUE;
      if (n > 1)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                       "%u servers answer to “%s”: name one by its id (genserver-ctl list)", n, name);
          return FALSE;
        }
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No server “%s” (genserver-ctl list)", name);
  return FALSE;
}

static gboolean
command_processes (GError **error)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (target_options.system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, NULL, error);
  g_autoptr(GPtrArray) names = NULL;
  GVariantBuilder builder;

  if (bus == NULL || (names = target_observed_names (bus, (guint32) target_options.pid, error)) == NULL)
    return FALSE;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  if (!opt_json)
    g_print ("%-8s %-16s %-8s %s\n", "PID", "BUS NAME", "SERVERS", "PROGRAM");
  for (guint i = 0; i < names->len; i++)
    {
      g_autoptr(GVariant) process = target_probe (bus, names->pdata[i]);
      guint32 pid = 0, n = 0;
      const gchar *program = "";

      if (process == NULL)
        continue;
      g_variant_lookup (process, "pid", "u", &pid);
      g_variant_lookup (process, "servers", "u", &n);
      g_variant_lookup (process, "program", "&s", &program);
      if (opt_json)
        {
          g_variant_builder_open (&builder, G_VARIANT_TYPE_VARDICT);
          g_variant_builder_add (&builder, "{sv}", "bus-name", g_variant_new_string (names->pdata[i]));
          g_variant_builder_add (&builder, "{sv}", "pid", g_variant_new_uint32 (pid));
          g_variant_builder_add (&builder, "{sv}", "program", g_variant_new_string (program));
          g_variant_builder_add (&builder, "{sv}", "servers", g_variant_new_uint32 (n));
          g_variant_builder_close (&builder);
        }
      else
        g_print ("%-8u %-16s %-8u %s\n", pid, (const gchar *) names->pdata[i], n, program);
    }
  if (opt_json)
    print_json (g_variant_builder_end (&builder));
  else
    g_variant_builder_clear (&builder);
  return TRUE;
}

static gboolean
command_list (Target  *target,
              GError **error)
{
  g_autoptr(GVariant) list = list_servers (target, error);
  g_autoptr(GArray) servers = NULL;

  if (list == NULL)
    return FALSE;
  if (opt_json)
    {
      print_json (list);
      return TRUE;
    }

  servers = servers_of (list);
  g_print ("%5s  %-16s %-24s %-10s %-12s %8s %10s\n",
           "ID", "NAME", "TYPE", "STATUS", "SCHEDULER", "MAILBOX", "HANDLED");
  for (guint i = 0; i < servers->len; i++)
    {
      Server *server = &g_array_index (servers, Server, i);

      g_print ("%5" G_GUINT64_FORMAT "  %-16s %-24s %-10s %-12s %8u %10" G_GUINT64_FORMAT "\n",
               server->id, label_of (server), server->type, server->status, server->scheduler,
               server->mailbox, server->handled);
    }
  return TRUE;
}

static void
print_subtree (GArray      *servers,
               Server      *server,
               const gchar *prefix,
               gboolean     last,
               gboolean     root)
{
  g_autofree gchar *child_prefix = NULL;
  GPtrArray *children = g_ptr_array_new ();

  g_print ("%s%s%s  (%s, %s, id %" G_GUINT64_FORMAT ", mailbox %u)\n",
           prefix, root ? "" : (last ? "└── " : "├── "),
           label_of (server), server->type, server->status, server->id, server->mailbox);

  for (guint i = 0; i < servers->len; i++)
    {
      Server *child = &g_array_index (servers, Server, i);

      if (child->supervisor == server->id)
        g_ptr_array_add (children, child);
    }
  child_prefix = g_strconcat (prefix, root ? "" : (last ? "    " : "│   "), NULL);
  for (guint i = 0; i < children->len; i++)
    print_subtree (servers, children->pdata[i], child_prefix, i + 1 == children->len, FALSE);
  g_ptr_array_unref (children);
}

/* A tree as JSON: the server's dictionary with a "children" list. */
static GVariant *
tree_variant (GArray *servers,
              Server *server)
{
  GVariantBuilder builder;
  GVariantBuilder children;
  GVariantIter iter;
  const gchar *key;
  GVariant *value;

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_iter_init (&iter, server->dict);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      g_variant_builder_add (&builder, "{sv}", key, value);
      g_variant_unref (value);
    }
  g_variant_builder_init (&children, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < servers->len; i++)
    {
      Server *child = &g_array_index (servers, Server, i);

      if (child->supervisor == server->id)
        g_variant_builder_add (&children, "v", tree_variant (servers, child));
    }
  g_variant_builder_add (&builder, "{sv}", "children", g_variant_builder_end (&children));
  return g_variant_builder_end (&builder);
}

static gboolean
command_tree (Target  *target,
              GError **error)
{
  g_autoptr(GVariant) list = list_servers (target, error);
  g_autoptr(GArray) servers = NULL;
  GVariantBuilder roots;

  if (list == NULL)
    return FALSE;
  servers = servers_of (list);

  g_variant_builder_init (&roots, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < servers->len; i++)
    {
      Server *server = &g_array_index (servers, Server, i);

      if (server->supervisor != 0)
        continue;
      if (opt_json)
        g_variant_builder_add (&roots, "v", tree_variant (servers, server));
      else
        print_subtree (servers, server, "", TRUE, TRUE);
    }
  if (opt_json)
    print_json (g_variant_builder_end (&roots));
  else
    g_variant_builder_clear (&roots);
  return TRUE;
}

static gboolean
command_status (Target       *target,
                const gchar  *name,
                GError      **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) status = NULL;
  GVariantIter iter;
  const gchar *key;
  GVariant *value;
  guint64 id;

  if (!resolve (target, name, &id, error))
    return FALSE;
  reply = target_call (target, "GetStatus", g_variant_new ("(t)", id), G_VARIANT_TYPE ("(a{sv})"), error);
  if (reply == NULL)
    return FALSE;
  status = g_variant_get_child_value (reply, 0);
  if (opt_json)
    {
      print_json (status);
      return TRUE;
    }
  g_variant_iter_init (&iter, status);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      if (strcmp (key, "state") != 0)
        {
          g_autofree gchar *text = g_variant_is_of_type (value, G_VARIANT_TYPE_STRING)
                                   ? g_variant_dup_string (value, NULL)
                                   : g_variant_print (value, FALSE);

          g_print ("%-16s %s\n", key, text);
        }
      g_variant_unref (value);
    }
  return TRUE;
}

static gboolean
command_switch (Target       *target,
                const gchar  *method,
                const gchar  *name,
                GError      **error)
{
  g_autoptr(GVariant) reply = NULL;
  guint64 id;

  if (!resolve (target, name, &id, error))
    return FALSE;
  reply = target_call (target, method, g_variant_new ("(t)", id), NULL, error);
  return reply != NULL;
}

/* trace: like tail -f, until interrupted or the process goes away. */
typedef struct
{
  Target *target;
  guint64 id;
  GMainLoop *loop;
  gboolean gone;
} Follow;

static void
on_trace (GDBusConnection *connection,
          const gchar     *sender,
          const gchar     *object_path,
          const gchar     *interface_name,
          const gchar     *signal_name,
          GVariant        *parameters,
          gpointer         user_data)
{
  Follow *follow = user_data;
  const gchar *type, *kind, *text;
  guint64 id;
  gint64 handling_us;

  g_variant_get (parameters, "(t&s&s&sx)", &id, &type, &kind, &text, &handling_us);
  if (id != follow->id)
    return;
  if (opt_json)
    print_json (parameters);
  else
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_local ();
      g_autofree gchar *stamp = g_date_time_format (now, "%H:%M:%S.%f");

      /* %f gives microseconds: milliseconds are enough here. */
      stamp[12] = '\0';
      g_print ("%s %s %-8s %s (%" G_GINT64_FORMAT " µs)\n", stamp, type, kind, text, handling_us);
    }
  /* A reader that went away (| head) ends the trace, which turns it off. */
  if (fflush (stdout) != 0)
    g_main_loop_quit (follow->loop);
}

static gboolean
on_interrupt (gpointer user_data)
{
  g_main_loop_quit (((Follow *) user_data)->loop);
  return G_SOURCE_CONTINUE;
}

static void
on_closed (GDBusConnection *connection,
           gboolean         remote_peer_vanished,
           GError          *error,
           gpointer         user_data)
{
  Follow *follow = user_data;

  follow->gone = TRUE;
  g_main_loop_quit (follow->loop);
}

static void
on_vanished (GDBusConnection *connection,
             const gchar     *name,
             gpointer         user_data)
{
  on_closed (connection, TRUE, NULL, user_data);
}

static gboolean
command_trace (Target       *target,
               const gchar  *name,
               GError      **error)
{
  Follow follow = { target, 0, NULL, FALSE };
  g_autoptr(GVariant) reply = NULL;
  guint subscription, watch = 0, sigint, sigterm;
  gulong closed;

  if (!resolve (target, name, &follow.id, error))
    return FALSE;

  follow.loop = g_main_loop_new (NULL, FALSE);
  /* Subscribed before tracing is on: no record is missed. */
  subscription = g_dbus_connection_signal_subscribe (target->connection, target->name, OBSERVER_INTERFACE,
                                                     "Trace", OBSERVER_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                     on_trace, &follow, NULL);
  closed = g_signal_connect (target->connection, "closed", G_CALLBACK (on_closed), &follow);
  if (target->name != NULL)
    watch = g_bus_watch_name_on_connection (target->connection, target->name, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                            NULL, on_vanished, &follow, NULL);
  sigint = g_unix_signal_add (SIGINT, on_interrupt, &follow);
  sigterm = g_unix_signal_add (SIGTERM, on_interrupt, &follow);

  reply = target_call (target, "SetTrace", g_variant_new ("(tb)", follow.id, TRUE), NULL, error);
  if (reply != NULL)
    {
      if (!opt_json)
        {
          g_printerr ("Tracing %s; Ctrl+C stops.\n", name);
        }
      g_main_loop_run (follow.loop);
      g_clear_pointer (&reply, g_variant_unref);
      /* Tracing off again, as sys:trace(Pid, false) after a look. */
      if (!follow.gone)
        reply = target_call (target, "SetTrace", g_variant_new ("(tb)", follow.id, FALSE), NULL, NULL);
    }

  g_source_remove (sigint);
  g_source_remove (sigterm);
  if (watch != 0)
    g_bus_unwatch_name (watch);
  g_signal_handler_disconnect (target->connection, closed);
  g_dbus_connection_signal_unsubscribe (target->connection, subscription);
  g_main_loop_unref (follow.loop);
  return error == NULL || *error == NULL;
}

/* top: a live view, like observer_cli's or htop's. */
typedef enum
{
  SORT_MAILBOX,
  SORT_RATE,
} SortKey;

typedef struct
{
  Target *target;
  GMainLoop *loop;
  SortKey sort;
  GHashTable *previous; /* id → handled (guint64 *) at previous_us */
  gint64 previous_us;
  GError *error;
  struct termios saved;
  gboolean raw;
  guint iterations;
} Top;

typedef struct
{
  Server *server;
  gdouble rate; /* messages a second, < 0 unknown */
} Row;

static gint
compare_rows (gconstpointer a,
              gconstpointer b,
              gpointer      user_data)
{
  const Row *x = a, *y = b;
  SortKey sort = GPOINTER_TO_INT (user_data);

  if (sort == SORT_MAILBOX && x->server->mailbox != y->server->mailbox)
    return x->server->mailbox > y->server->mailbox ? -1 : 1;
  if (x->rate != y->rate)
    return x->rate > y->rate ? -1 : 1;
  if (sort == SORT_RATE && x->server->mailbox != y->server->mailbox)
    return x->server->mailbox > y->server->mailbox ? -1 : 1;
  return x->server->id < y->server->id ? -1 : (x->server->id > y->server->id);
}

static void
top_draw (Top *top)
{
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GVariant) counters = NULL;
  g_autoptr(GVariant) process = NULL;
  g_autoptr(GArray) servers = NULL;
  g_autoptr(GArray) rows = NULL;
  g_autoptr(GHashTable) now_handled = NULL;
  g_autoptr(GString) screen = g_string_new (NULL);
  struct winsize size = { 0 };
  guint height = 24, width = 80;
  gint64 now_us = 0;
  const gchar *program = "";
  guint32 pid = 0;
  GVariantIter *iter;
  guint64 id, casts, calls, infos;
  guint32 mailbox;

  if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0)
    {
      height = size.ws_row;
      width = size.ws_col;
    }

  process = target_call (top->target, "GetProcess", NULL, G_VARIANT_TYPE ("(a{sv})"), &top->error);
  counters = process != NULL ? target_call (top->target, "GetCounters", NULL, G_VARIANT_TYPE ("(xa(tuttt))"), &top->error) : NULL;
  list = counters != NULL ? list_servers (top->target, &top->error) : NULL;
  if (list == NULL)
    {
      g_main_loop_quit (top->loop);
      return;
    }
  {
    g_autoptr(GVariant) dict = g_variant_get_child_value (process, 0);

    g_variant_lookup (dict, "pid", "u", &pid);
    g_variant_lookup (dict, "program", "&s", &program);
    program = g_intern_string (program);
  }

  now_handled = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_variant_get (counters, "(xa(tuttt))", &now_us, &iter);
  while (g_variant_iter_next (iter, "(tuttt)", &id, &mailbox, &casts, &calls, &infos))
    {
      guint64 *key = g_new (guint64, 2);

      /* Key and value in one block: [0] the id, [1] what it handled. */
      key[0] = id;
      key[1] = casts + calls + infos;
      g_hash_table_insert (now_handled, key, key);
    }
  g_variant_iter_free (iter);

  servers = servers_of (list);
  rows = g_array_new (FALSE, FALSE, sizeof (Row));
  for (guint i = 0; i < servers->len; i++)
    {
      Row row = { &g_array_index (servers, Server, i), -1 };
      guint64 *now = g_hash_table_lookup (now_handled, &row.server->id);
      guint64 *before = top->previous != NULL ? g_hash_table_lookup (top->previous, &row.server->id) : NULL;

      if (now != NULL && before != NULL && now_us > top->previous_us)
        row.rate = (gdouble) (now[1] - before[1]) * G_USEC_PER_SEC / (gdouble) (now_us - top->previous_us);
      g_array_append_val (rows, row);
    }
  g_array_sort_with_data (rows, compare_rows, GINT_TO_POINTER (top->sort));

  g_string_append (screen, "\033[H\033[2J");
  g_string_append_printf (screen, "genserver-ctl top: %s (pid %u), %u servers, sorted by %s\r\n",
                          program, pid, servers->len, top->sort == SORT_MAILBOX ? "mailbox" : "rate");
  g_string_append (screen, "keys: m sort by mailbox, r sort by rate, q quit\r\n\r\n");
  g_string_append_printf (screen, "\033[7m%5s  %-16.16s %-20.20s %-10s %-12s %8s %9s %10s\033[0m\r\n",
                          "ID", "NAME", "TYPE", "STATUS", "SCHEDULER", "MAILBOX", "MSG/S", "HANDLED");
  for (guint i = 0; i < rows->len && i + 5 < height; i++)
    {
      Row *row = &g_array_index (rows, Row, i);
      g_autofree gchar *rate = row->rate < 0 ? g_strdup ("-") : g_strdup_printf ("%.0f", row->rate);
      g_autofree gchar *line = g_strdup_printf ("%5" G_GUINT64_FORMAT "  %-16.16s %-20.20s %-10s %-12s %8u %9s %10" G_GUINT64_FORMAT,
                                                row->server->id, label_of (row->server), row->server->type,
                                                row->server->status, row->server->scheduler,
                                                row->server->mailbox, rate, row->server->handled);

      if (g_utf8_strlen (line, -1) > (glong) width)
        *g_utf8_offset_to_pointer (line, width) = '\0';
      g_string_append_printf (screen, "%s\r\n", line);
    }
  fputs (screen->str, stdout);
  fflush (stdout);

  g_clear_pointer (&top->previous, g_hash_table_unref);
  top->previous = g_steal_pointer (&now_handled);
  top->previous_us = now_us;
}

static gboolean
top_tick (gpointer user_data)
{
  Top *top = user_data;

  top_draw (top);
  return G_SOURCE_CONTINUE;
}

static gboolean
top_key (gint         fd,
         GIOCondition condition,
         gpointer     user_data)
{
  Top *top = user_data;
  gchar key = 0;
  gssize n = read (fd, &key, 1);

  if (n <= 0 || key == 'q' || key == 'Q' || key == 3 /* Ctrl+C in raw mode */)
    {
      g_main_loop_quit (top->loop);
      return G_SOURCE_REMOVE;
    }
  if (key == 'm' || key == 'r')
    {
      top->sort = key == 'm' ? SORT_MAILBOX : SORT_RATE;
      top_draw (top);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
top_interrupt (gpointer user_data)
{
  g_main_loop_quit (((Top *) user_data)->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
command_top (Target  *target,
             GError **error)
{
  Top top = { target, NULL, SORT_MAILBOX };
  guint tick, key, sigint;

  if (g_strcmp0 (opt_sort, "rate") == 0)
    top.sort = SORT_RATE;
  else if (opt_sort != NULL && g_strcmp0 (opt_sort, "mailbox") != 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--sort takes mailbox or rate, not “%s”", opt_sort);
      return FALSE;
    }
  if (opt_json)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "top is for a terminal; scripts poll genserver-ctl --json list");
      return FALSE;
    }

  if (isatty (STDIN_FILENO) && tcgetattr (STDIN_FILENO, &top.saved) == 0)
    {
      struct termios raw = top.saved;

      raw.c_lflag &= ~(ICANON | ECHO);
      raw.c_cc[VMIN] = 1;
      raw.c_cc[VTIME] = 0;
      top.raw = tcsetattr (STDIN_FILENO, TCSANOW, &raw) == 0;
    }
  /* The alternate screen, as htop: the shell's screen comes back after. */
  fputs ("\033[?1049h\033[?25l", stdout);

  top.loop = g_main_loop_new (NULL, FALSE);
  top_draw (&top);
  tick = g_timeout_add (MAX (opt_interval_ms, 100), top_tick, &top);
  key = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP, top_key, &top);
  sigint = g_unix_signal_add (SIGINT, top_interrupt, &top);
  if (top.error == NULL)
    g_main_loop_run (top.loop);

  g_source_remove (tick);
  g_source_remove (sigint);
  if (g_main_context_find_source_by_id (NULL, key) != NULL)
    g_source_remove (key);
  g_main_loop_unref (top.loop);
  g_clear_pointer (&top.previous, g_hash_table_unref);

  fputs ("\033[?25h\033[?1049l", stdout);
  fflush (stdout);
  if (top.raw)
    tcsetattr (STDIN_FILENO, TCSANOW, &top.saved);

  if (top.error != NULL)
    {
      g_propagate_error (error, top.error);
      return FALSE;
    }
  return TRUE;
}

static const gchar summary[] =
  "Commands:\n"
  "  list           the servers: id, name, type, status, scheduler, mailbox, handled\n"
  "  tree           the supervision trees\n"
  "  status NAME    the status of one server (gen_server_get_status)\n"
  "  trace NAME     trace a server and print its records until Ctrl+C\n"
  "  suspend NAME   suspend a server\n"
  "  resume NAME    resume a server\n"
  "  top            a live view, sorted by mailbox length or message rate\n"
  "  processes      the processes that export the observer on the bus\n"
  "\n"
  "NAME is a registered name, a supervisor's child id, a type name or an id.\n"
  "Without --bus-name, --pid or --socket: the one process on the session bus\n"
  "that exports the observer.";

int
main (int   argc,
      char *argv[])
{
  GOptionEntry entries[] = {
    { "bus-name", 'b', 0, G_OPTION_ARG_STRING, &target_options.bus_name, "The process that owns NAME on the bus", "NAME" },
    { "pid", 'p', 0, G_OPTION_ARG_INT, &target_options.pid, "The process PID, on the bus", "PID" },
    { "socket", 's', 0, G_OPTION_ARG_FILENAME, &target_options.socket_path, "The process listening at PATH (gen_observer_listen)", "PATH" },
    { "system", 0, 0, G_OPTION_ARG_NONE, &target_options.system, "The system bus, not the session bus", NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json, "JSON output, for scripts", NULL },
    { "sort", 0, 0, G_OPTION_ARG_STRING, &opt_sort, "top: sort by mailbox (default) or rate", "KEY" },
    { "interval", 'i', 0, G_OPTION_ARG_INT, &opt_interval_ms, "top: refresh every MS milliseconds (1000)", "MS" },
    { NULL }
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("COMMAND [NAME] - look at the servers of a running process");
  g_auto(Target) target = { NULL, NULL };
  g_autoptr(GError) error = NULL;
  const gchar *command;
  const gchar *name;
  gboolean ok;

  setlocale (LC_ALL, "");
  g_set_prgname ("genserver-ctl");
  signal (SIGPIPE, SIG_IGN);
  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_set_description (options, summary);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("genserver-ctl: %s\n", error->message);
      return 2;
    }
  if (argc < 2)
    {
      g_autofree gchar *help = g_option_context_get_help (options, TRUE, NULL);

      g_printerr ("%s", help);
      return 2;
    }
  command = argv[1];
  name = argc > 2 ? argv[2] : NULL;

  if (g_str_equal (command, "processes"))
    ok = command_processes (&error);
  else if (!g_strv_contains ((const gchar * const[]) { "list", "tree", "status", "trace", "suspend", "resume", "top", NULL },
                             command))
    {
      g_printerr ("genserver-ctl: no command “%s” (genserver-ctl --help)\n", command);
      return 2;
    }
  else if (name == NULL && g_strv_contains ((const gchar * const[]) { "status", "trace", "suspend", "resume", NULL },
                                            command))
    {
      g_printerr ("genserver-ctl: %s needs the NAME of a server\n", command);
      return 2;
    }
  else if (!target_open (&target, &target_options, &error))
    ok = FALSE;
  else if (g_str_equal (command, "list"))
    ok = command_list (&target, &error);
  else if (g_str_equal (command, "tree"))
    ok = command_tree (&target, &error);
  else if (g_str_equal (command, "status"))
    ok = command_status (&target, name, &error);
  else if (g_str_equal (command, "trace"))
    ok = command_trace (&target, name, &error);
  else if (g_str_equal (command, "suspend"))
    ok = command_switch (&target, "Suspend", name, &error);
  else if (g_str_equal (command, "resume"))
    ok = command_switch (&target, "Resume", name, &error);
  else
    ok = command_top (&target, &error);

  if (!ok)
    {
      g_dbus_error_strip_remote_error (error);
      g_printerr ("genserver-ctl: %s\n", error->message);
      return 1;
    }
  return 0;
}
