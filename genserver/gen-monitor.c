/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-server-private.h"

/*
 * Monitors: being told when a server stops, and why.
 *
 * A server's monitors live in a MonitorTable attached to it as qdata, so
 * that the server's hot paths never see them: gen-server.c only opens the
 * table when a run begins and fires it when the run ends.
 *
 * A monitor is either public (gen_server_monitor(): its callback runs on
 * the monitoring thread's thread-default context, through a GSource) or an
 * internal exit hook (gen_monitor_watch(): run synchronously where
 * the server finishes, for the registry and supervisors, which must know
 * before anybody else).
 *
 * Every state change of a monitor happens under the table's lock, so that
 * exactly one of "the notice is delivered" and "demonitor() wins" happens.
 */

typedef enum
{
  MONITOR_WATCHING, /* waiting for the end of the run */
  MONITOR_FIRED,    /* the run ended: the notice is on its way */
  MONITOR_DONE,     /* delivered or demonitored */
} MonitorState;

typedef struct
{
  gint ref_count; /* atomic */

  /* Immutable. */
  guint id;
  GenServerMonitorFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
  GMainContext *context; /* owned; NULL for an exit hook */
  gboolean first;        /* an exit hook that runs before the others */

  /* The table's lock. */
  MonitorState state;
  GSource *source; /* owned: the delivery, once fired (public only) */

  /* Written when fired, under the table's lock; read by the delivery
   * afterwards. Owned. */
  GenServer *server;
  GError *reason;
} Monitor;

typedef struct
{
  GMutex lock;
  GHashTable *monitors; /* id → Monitor (owned reference) */
  gboolean open;        /* a run is under way */
  GError *stop_reason;  /* owned: from gen_server_stop_with_reason() */
} MonitorTable;

static Monitor *
monitor_ref (Monitor *monitor)
{
  g_atomic_int_inc (&monitor->ref_count);
  return monitor;
}

static void
monitor_unref (Monitor *monitor)
{
  if (!g_atomic_int_dec_and_test (&monitor->ref_count))
    return;

  if (monitor->destroy != NULL)
    monitor->destroy (monitor->user_data);
  g_clear_pointer (&monitor->source, g_source_unref);
  g_clear_pointer (&monitor->context, g_main_context_unref);
  g_clear_object (&monitor->server);
  g_clear_error (&monitor->reason);
  g_free (monitor);
}

static void
monitor_table_free (gpointer data)
{
  MonitorTable *table = data;

  /* Only exit hooks armed for a run that never came can be left here: a
   * fired public monitor's source keeps the server alive. */
  g_hash_table_unref (table->monitors);
  g_clear_error (&table->stop_reason);
  g_mutex_clear (&table->lock);
  g_free (table);
}

static GQuark
monitor_table_quark (void)
{
  return g_quark_from_static_string ("gen-server-monitors");
}

G_LOCK_DEFINE_STATIC (table_creation);

static MonitorTable *
monitor_table_get (GenServer *self)
{
  MonitorTable *table = g_object_get_qdata (G_OBJECT (self), monitor_table_quark ());

  if (G_LIKELY (table != NULL))
    return table;

  G_LOCK (table_creation);
  table = g_object_get_qdata (G_OBJECT (self), monitor_table_quark ());
  if (table == NULL)
    {
      table = g_new0 (MonitorTable, 1);
      g_mutex_init (&table->lock);
      table->monitors = g_hash_table_new_full (NULL, NULL, NULL,
                                               (GDestroyNotify) monitor_unref);
      g_object_set_qdata_full (G_OBJECT (self), monitor_table_quark (),
                               table, monitor_table_free);
    }
  G_UNLOCK (table_creation);

  return table;
}

static guint
next_monitor_id (void)
{
  static gint last_id;
  guint id;

  do
    id = (guint) g_atomic_int_add (&last_id, 1) + 1;
  while (id == 0);

  return id;
}

static gboolean
monitor_deliver_cb (gpointer data)
{
  Monitor *monitor = data;
  MonitorTable *table = monitor_table_get (monitor->server);
  gboolean deliver;

  g_mutex_lock (&table->lock);
  deliver = monitor->state == MONITOR_FIRED;
  if (deliver)
    {
      monitor->state = MONITOR_DONE;
      g_hash_table_remove (table->monitors, GUINT_TO_POINTER (monitor->id));
    }
  g_mutex_unlock (&table->lock);

  if (deliver)
    monitor->func (monitor->server, monitor->reason, monitor->user_data);

  return G_SOURCE_REMOVE;
}

/* Marks @monitor fired with @reason. The table's lock is held. */
static void
monitor_fire_locked (Monitor      *monitor,
                     const GError *reason)
{
  monitor->state = MONITOR_FIRED;
  monitor->reason = reason ? g_error_copy (reason) : NULL;
}

/* Attaches a fired public monitor's delivery source, unless demonitor()
 * won meanwhile. The table's lock is held. */
static void
monitor_send_locked (Monitor   *monitor,
                     GenServer *server)
{
  if (monitor->state != MONITOR_FIRED)
    return;

  monitor->server = g_object_ref (server);
  monitor->source = g_idle_source_new ();
  g_source_set_priority (monitor->source, G_PRIORITY_DEFAULT);
  g_source_set_callback (monitor->source, monitor_deliver_cb,
                         monitor_ref (monitor), (GDestroyNotify) monitor_unref);
  g_source_set_static_name (monitor->source, "[genserver] monitor");
  /* Under the lock: a demonitor() that wins destroys it only after this. */
  g_source_attach (monitor->source, monitor->context);
}

void
gen_monitor_open (GenServer *self)
{
  MonitorTable *table = monitor_table_get (self);

  g_mutex_lock (&table->lock);
  table->open = TRUE;
  g_clear_error (&table->stop_reason);
  g_mutex_unlock (&table->lock);
}

void
gen_monitor_fire (GenServer    *self,
                  const GError *reason)
{
  MonitorTable *table = monitor_table_get (self);
  g_autoptr(GPtrArray) hooks = g_ptr_array_new_with_free_func ((GDestroyNotify) monitor_unref);
  g_autoptr(GPtrArray) public = g_ptr_array_new_with_free_func ((GDestroyNotify) monitor_unref);
  GHashTableIter iter;
  Monitor *monitor;

  g_mutex_lock (&table->lock);
  table->open = FALSE;
  g_hash_table_iter_init (&iter, table->monitors);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &monitor))
    {
      if (monitor->state != MONITOR_WATCHING)
        continue;

      monitor_fire_locked (monitor, reason);
      if (monitor->context == NULL)
        {
          /* A hook is done once it ran: demonitor() no longer finds it. */
          monitor->state = MONITOR_DONE;
          g_ptr_array_add (hooks, monitor);
          g_hash_table_iter_steal (&iter);
        }
      else
        {
          g_ptr_array_add (public, monitor_ref (monitor));
        }
    }
  g_mutex_unlock (&table->lock);

  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < hooks->len; i++)
      {
        monitor = g_ptr_array_index (hooks, i);
        if (monitor->first == (pass == 0))
          monitor->func (self, reason, monitor->user_data);
      }

  /* After the hooks: by the time anybody is told, the registry released
   * the server's names and its supervisor has the notice of the stop. */
  g_mutex_lock (&table->lock);
  for (guint i = 0; i < public->len; i++)
    monitor_send_locked (g_ptr_array_index (public, i), self);
  g_mutex_unlock (&table->lock);
}

void
gen_monitor_set_stop_reason (GenServer    *self,
                             const GError *reason)
{
  MonitorTable *table = monitor_table_get (self);

  g_mutex_lock (&table->lock);
  g_clear_error (&table->stop_reason);
  table->stop_reason = reason ? g_error_copy (reason) : NULL;
  g_mutex_unlock (&table->lock);
}

GError *
gen_monitor_take_stop_reason (GenServer *self)
{
  MonitorTable *table = monitor_table_get (self);
  GError *reason;

  g_mutex_lock (&table->lock);
  reason = g_steal_pointer (&table->stop_reason);
  g_mutex_unlock (&table->lock);

  return reason;
}

static Monitor *
monitor_new (GenServerMonitorFunc  func,
             gpointer              user_data,
             GDestroyNotify        destroy,
             GMainContext         *context)
{
  Monitor *monitor = g_new0 (Monitor, 1);

  monitor->ref_count = 1;
  monitor->id = next_monitor_id ();
  monitor->func = func;
  monitor->user_data = user_data;
  monitor->destroy = destroy;
  monitor->context = context;
  monitor->state = MONITOR_WATCHING;
  return monitor;
}

guint
gen_monitor_watch (GenServer            *self,
                   GenServerMonitorFunc  func,
                   gpointer              user_data,
                   GDestroyNotify        destroy,
                   GenWatchFlags         flags)
{
  MonitorTable *table = monitor_table_get (self);
  Monitor *monitor;
  guint id;

  g_mutex_lock (&table->lock);
  if (!table->open && !(flags & GEN_WATCH_NEXT_RUN))
    {
      g_mutex_unlock (&table->lock);
      return 0;
    }
  monitor = monitor_new (func, user_data, destroy, NULL);
  monitor->first = (flags & GEN_WATCH_FIRST) != 0;
  id = monitor->id;
  g_hash_table_insert (table->monitors, GUINT_TO_POINTER (id), monitor);
  g_mutex_unlock (&table->lock);

  return id;
}

/**
 * gen_server_monitor:
 * @self: a #GenServer
 * @func: (scope notified) (closure user_data) (destroy destroy): called once
 *   when the server stops
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data once the monitor is done
 *
 * Asks to be told when the server stops, and why: Erlang's
 * `erlang:monitor/2`. When the server's current run ends, @func runs once,
 * on the thread-default [struct@GLib.MainContext] of the thread that called
 * this, with the reason: %NULL for a normal stop ([method@Gen.Server.stop]),
 * the error for a crash (an error from `handle_cast`, `handle_info` or
 * `handle_continue`), for an abnormal stop
 * ([method@Gen.Server.stop_with_reason]) or for a failed `init` (a monitor
 * added while [method@Gen.Server.start] runs).
 *
 * Monitoring a server that is not running (never started, or already
 * stopped) tells you at once, through the context as always, with a
 * %GEN_SERVER_ERROR_NOT_RUNNING reason: Erlang's `noproc`. A monitor lasts
 * one run: a server started again needs a new one.
 *
 * @func always runs from an iteration of the context, never inside this
 * call. The notice is sent when the server has run `terminate`, just before
 * it is marked stopped; by the time @func runs, [method@Gen.Server.stop] of
 * any other thread may or may not have returned.
 *
 * Returns: the monitor's id, for [method@Gen.Server.demonitor]; never 0
 *
 * In C:
 *
 * ```c
 * static void
 * on_stopped (GenServer *server, const GError *reason, gpointer user_data)
 * {
 *   g_print ("%s stopped: %s\n", G_OBJECT_TYPE_NAME (server),
 *            reason != NULL ? reason->message : "normally");
 * }
 *
 * gen_server_monitor (server, on_stopped, NULL, NULL);
 * ```
 *
 * In Python and JavaScript, a function:
 *
 * ```python
 * server.monitor(lambda server, reason: print(reason.message if reason else 'normally'))
 * ```
 *
 * ```js
 * server.monitor((server, reason) => print(reason?.message ?? 'normally'));
 * ```
 *
 * Since: 1.0
 */
guint
gen_server_monitor (GenServer            *self,
                    GenServerMonitorFunc  func,
                    gpointer              user_data,
                    GDestroyNotify        destroy)
{
  MonitorTable *table;
  Monitor *monitor;
  guint id;

  g_return_val_if_fail (GEN_IS_SERVER (self), 0);
  g_return_val_if_fail (func != NULL, 0);

  table = monitor_table_get (self);
  monitor = monitor_new (func, user_data, destroy, g_main_context_ref_thread_default ());
  id = monitor->id;

  g_mutex_lock (&table->lock);
  g_hash_table_insert (table->monitors, GUINT_TO_POINTER (id), monitor);
  if (!table->open)
    {
      g_autoptr(GError) reason = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING,
                                              "%s is not running", G_OBJECT_TYPE_NAME (self));

      monitor_fire_locked (monitor, reason);
      monitor_send_locked (monitor, self);
    }
  g_mutex_unlock (&table->lock);

  return id;
}

/**
 * gen_server_demonitor:
 * @self: a #GenServer
 * @monitor_id: an id from [method@Gen.Server.monitor]
 *
 * Removes a monitor. Once this returns %TRUE, its function will never run,
 * even if the server stopped and the notice was on its way.
 *
 * Returns: %TRUE if the monitor was removed, %FALSE if its function already
 *   ran (or is running), or the id is not one of @self's monitors
 *
 * ```c
 * guint id = gen_server_monitor (server, on_stopped, NULL, NULL);
 *
 * // ... no longer interested: on_stopped will not run.
 * gen_server_demonitor (server, id);
 * ```
 *
 * ```python
 * monitor_id = server.monitor(on_stopped)
 * server.demonitor(monitor_id)
 * ```
 *
 * Since: 1.0
 */
gboolean
gen_server_demonitor (GenServer *self,
                      guint      monitor_id)
{
  MonitorTable *table;
  Monitor *monitor;
  GSource *source = NULL;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);

  table = monitor_table_get (self);

  g_mutex_lock (&table->lock);
  monitor = g_hash_table_lookup (table->monitors, GUINT_TO_POINTER (monitor_id));
  if (monitor == NULL || monitor->state == MONITOR_DONE)
    {
      g_mutex_unlock (&table->lock);
      return FALSE;
    }
  monitor->state = MONITOR_DONE;
  if (monitor->source != NULL)
    source = g_source_ref (monitor->source);
  g_hash_table_steal (table->monitors, GUINT_TO_POINTER (monitor_id));
  g_mutex_unlock (&table->lock);

  if (source != NULL)
    {
      g_source_destroy (source);
      g_source_unref (source);
    }
  monitor_unref (monitor);

  return TRUE;
}
