/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-monitor-private.h"
#include "gen-server-private.h"

/*
 * Monitors: being told when a server (or a remote server) stops, and why.
 *
 * A GenMonitorSet holds the monitors of one subject and knows nothing else
 * of it: the state machine of a monitor, its delivery and its removal live
 * here once, for servers below and for remotes (gen-remote.c). Every state
 * change of a monitor happens under the set's lock, so that exactly one of
 * "the notice is delivered" and "demonitor() wins" happens.
 *
 * A monitor is either public (gen_server_monitor(): its callback runs on
 * the monitoring thread's thread-default context, through a GSource) or an
 * internal exit hook (gen_monitor_watch(): run synchronously where
 * the server finishes, for the registry and supervisors, which must know
 * before anybody else).
 *
 * A server's monitors live in a MonitorTable attached to it as qdata, so
 * that the server's hot paths never see them: gen-server.c only opens the
 * table when a run begins and fires it when the run ends.
 */

typedef enum
{
  MONITOR_WATCHING, /* waiting for the subject to go down */
  MONITOR_FIRED,    /* it did: the notice is on its way */
  MONITOR_DONE,     /* delivered or removed */
} MonitorState;

typedef struct _Monitor Monitor;

struct _GenMonitorSet
{
  gint ref_count; /* atomic */

  GMutex lock;
  /* lock: id → Monitor (owned reference); NULL until the first monitor,
   * as most servers never have one and a table is ~180 bytes. */
  GHashTable *monitors;
  GError *down;         /* lock, owned: why the set is down; NULL while open */
};

struct _Monitor
{
  gint ref_count; /* atomic */

  /* Immutable. */
  guint id;
  GenMonitorFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
  GMainContext *context; /* owned; NULL for an exit hook */
  gboolean first;        /* an exit hook that runs before the others */
  GenMonitorSet *set;    /* owned by a delivery only: see monitor_send_locked() */

  /* The set's lock. */
  MonitorState state;
  GSource *source; /* owned: the delivery, once sent (public only) */

  /* Written when fired, under the set's lock; read by the delivery
   * afterwards. Owned. */
  gpointer subject; /* a GObject */
  GError *reason;
};

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
  g_clear_object (&monitor->subject);
  g_clear_error (&monitor->reason);
  g_free (monitor);
}

GenMonitorSet *
gen_monitor_set_new (const GError *down_reason)
{
  GenMonitorSet *set = g_new0 (GenMonitorSet, 1);

  set->ref_count = 1;
  g_mutex_init (&set->lock);
  set->down = down_reason ? g_error_copy (down_reason) : NULL;
  return set;
}

GenMonitorSet *
gen_monitor_set_ref (GenMonitorSet *set)
{
  g_atomic_int_inc (&set->ref_count);
  return set;
}

void
gen_monitor_set_unref (GenMonitorSet *set)
{
  if (!g_atomic_int_dec_and_test (&set->ref_count))
    return;

  /* Only monitors still waiting can be left here, and exit hooks armed
   * for a run that never came: a sent notice's source keeps the set. */
  g_clear_pointer (&set->monitors, g_hash_table_unref);
  g_clear_error (&set->down);
  g_mutex_clear (&set->lock);
  g_free (set);
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

/* A delivery holds the monitor and its set, which the monitor does not:
 * the set may go (a finalized subject) while a notice is on its way. */
typedef struct
{
  GenMonitorSet *set; /* owned reference */
  Monitor *monitor;   /* owned reference */
} Delivery;

static void
delivery_free (gpointer data)
{
  Delivery *delivery = data;

  gen_monitor_set_unref (delivery->set);
  monitor_unref (delivery->monitor);
  g_free (delivery);
}

static gboolean
monitor_deliver_cb (gpointer data)
{
  Delivery *delivery = data;
  Monitor *monitor = delivery->monitor;
  gboolean deliver;

  g_mutex_lock (&delivery->set->lock);
  deliver = monitor->state == MONITOR_FIRED;
  if (deliver)
    {
      monitor->state = MONITOR_DONE;
      g_hash_table_remove (delivery->set->monitors, GUINT_TO_POINTER (monitor->id));
    }
  g_mutex_unlock (&delivery->set->lock);

  if (deliver)
    monitor->func (monitor->subject, monitor->reason, monitor->user_data);

  return G_SOURCE_REMOVE;
}

/* Marks @monitor fired with @reason for @subject. The set's lock is
 * held. */
static void
monitor_fire_locked (Monitor      *monitor,
                     gpointer      subject,
                     const GError *reason)
{
  monitor->state = MONITOR_FIRED;
  monitor->subject = g_object_ref (subject);
  monitor->reason = reason ? g_error_copy (reason) : NULL;
}

/* Attaches a fired public monitor's delivery source, unless
 * gen_monitor_set_remove() won meanwhile. The set's lock is held. */
static void
monitor_send_locked (GenMonitorSet *set,
                     Monitor       *monitor)
{
  Delivery *delivery;

  if (monitor->state != MONITOR_FIRED)
    return;

  delivery = g_new0 (Delivery, 1);
  delivery->set = gen_monitor_set_ref (set);
  delivery->monitor = monitor_ref (monitor);
  monitor->source = g_idle_source_new ();
  g_source_set_priority (monitor->source, G_PRIORITY_DEFAULT);
  g_source_set_callback (monitor->source, monitor_deliver_cb, delivery, delivery_free);
  g_source_set_static_name (monitor->source, "[genserver] monitor");
  /* Under the lock: a remove() that wins destroys it only after this. */
  g_source_attach (monitor->source, monitor->context);
}

guint
gen_monitor_set_add (GenMonitorSet   *set,
                     GenMonitorFunc   func,
                     gpointer         user_data,
                     GDestroyNotify   destroy,
                     GMainContext    *context,
                     GenMonitorFlags  flags,
                     gpointer         subject)
{
  gboolean hook = (flags & GEN_MONITOR_HOOK) != 0;
  Monitor *monitor;
  guint id;

  g_assert (hook == (context == NULL));

  g_mutex_lock (&set->lock);
  if (hook && set->down != NULL && !(flags & GEN_MONITOR_ANYWAY))
    {
      g_mutex_unlock (&set->lock);
      return 0;
    }

  monitor = g_new0 (Monitor, 1);
  monitor->ref_count = 1;
  monitor->id = id = next_monitor_id ();
  monitor->func = func;
  monitor->user_data = user_data;
  monitor->destroy = destroy;
  monitor->context = context ? g_main_context_ref (context) : NULL;
  monitor->first = (flags & GEN_MONITOR_FIRST) != 0;
  monitor->state = MONITOR_WATCHING;
  if (set->monitors == NULL)
    set->monitors = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) monitor_unref);
  g_hash_table_insert (set->monitors, GUINT_TO_POINTER (id), monitor);

  if (!hook && set->down != NULL && subject != NULL)
    {
      monitor_fire_locked (monitor, subject, set->down);
      monitor_send_locked (set, monitor);
    }
  g_mutex_unlock (&set->lock);

  return id;
}

gboolean
gen_monitor_set_remove (GenMonitorSet *set,
                        guint          id)
{
  Monitor *monitor;
  GSource *source = NULL;

  g_mutex_lock (&set->lock);
  monitor = set->monitors != NULL ? g_hash_table_lookup (set->monitors, GUINT_TO_POINTER (id)) : NULL;
  if (monitor == NULL || monitor->state == MONITOR_DONE)
    {
      g_mutex_unlock (&set->lock);
      return FALSE;
    }
  monitor->state = MONITOR_DONE;
  if (monitor->source != NULL)
    source = g_source_ref (monitor->source);
  g_hash_table_steal (set->monitors, GUINT_TO_POINTER (id));
  g_mutex_unlock (&set->lock);

  if (source != NULL)
    {
      g_source_destroy (source);
      g_source_unref (source);
    }
  monitor_unref (monitor);

  return TRUE;
}

void
gen_monitor_set_open (GenMonitorSet *set)
{
  g_mutex_lock (&set->lock);
  g_clear_error (&set->down);
  g_mutex_unlock (&set->lock);
}

void
gen_monitor_set_fire (GenMonitorSet *set,
                      gpointer       subject,
                      const GError  *reason,
                      const GError  *down_reason)
{
  g_autoptr(GPtrArray) hooks = NULL;
  g_autoptr(GPtrArray) public = NULL;
  GHashTableIter iter;
  Monitor *monitor;

  g_mutex_lock (&set->lock);
  if (down_reason != NULL && set->down == NULL)
    set->down = g_error_copy (down_reason);
  /* Most runs end with nobody watching: nothing to make. */
  if (subject == NULL || set->monitors == NULL || g_hash_table_size (set->monitors) == 0)
    {
      g_mutex_unlock (&set->lock);
      return;
    }
  hooks = g_ptr_array_new_with_free_func ((GDestroyNotify) monitor_unref);
  public = g_ptr_array_new_with_free_func ((GDestroyNotify) monitor_unref);
  g_hash_table_iter_init (&iter, set->monitors);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &monitor))
    {
      if (monitor->state != MONITOR_WATCHING)
        continue;

      monitor_fire_locked (monitor, subject, reason);
      if (monitor->context == NULL)
        {
          /* A hook is done once it ran: remove() no longer finds it. */
          monitor->state = MONITOR_DONE;
          g_ptr_array_add (hooks, monitor);
          g_hash_table_iter_steal (&iter);
        }
      else
        {
          g_ptr_array_add (public, monitor_ref (monitor));
        }
    }
  g_mutex_unlock (&set->lock);

  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < hooks->len; i++)
      {
        monitor = g_ptr_array_index (hooks, i);
        if (monitor->first == (pass == 0))
          monitor->func (subject, reason, monitor->user_data);
      }

  /* After the hooks: by the time anybody is told, the registry released
   * a server's names and its supervisor has the notice of the stop. */
  g_mutex_lock (&set->lock);
  for (guint i = 0; i < public->len; i++)
    monitor_send_locked (set, g_ptr_array_index (public, i));
  g_mutex_unlock (&set->lock);
}

void
gen_monitor_set_fire_one (GenMonitorSet *set,
                          guint          id,
                          gpointer       subject,
                          const GError  *reason)
{
  Monitor *monitor;

  g_mutex_lock (&set->lock);
  monitor = set->monitors != NULL ? g_hash_table_lookup (set->monitors, GUINT_TO_POINTER (id)) : NULL;
  if (monitor != NULL && monitor->state == MONITOR_WATCHING && monitor->context != NULL)
    {
      monitor_fire_locked (monitor, subject, reason);
      monitor_send_locked (set, monitor);
    }
  g_mutex_unlock (&set->lock);
}

/* A server's monitors ---------------------------------------------------- */

typedef struct
{
  GenMonitorSet *monitors; /* owned */

  GMutex lock;
  GError *stop_reason; /* lock, owned: from gen_server_stop_with_reason() */
} MonitorTable;

static void
monitor_table_free (gpointer data)
{
  MonitorTable *table = data;

  gen_monitor_set_unref (table->monitors);
  g_clear_error (&table->stop_reason);
  g_mutex_clear (&table->lock);
  g_free (table);
}

static GQuark
monitor_table_quark (void)
{
  static GQuark quark;

  /* Racing first calls store the same value. */
  if (G_UNLIKELY (g_atomic_int_get (&quark) == 0))
    g_atomic_int_set (&quark, g_quark_from_static_string ("gen-server-monitors"));
  return g_atomic_int_get (&quark);
}

/* Made at every run's end: without printf, which costs more than the rest
 * of a monitor-less run's end. */
static GError *
not_running_error (GenServer *self)
{
  g_autofree gchar *message = g_strconcat (G_OBJECT_TYPE_NAME (self), " is not running", NULL);

  return g_error_new_literal (GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING, message);
}

G_LOCK_DEFINE_STATIC (table_creation);

/* The server's table, made on first use: down (monitors added are told
 * NOT_RUNNING at once) unless made for a run that begins. */
static MonitorTable *
monitor_table_ensure (GenServer *self,
                      gboolean   opening)
{
  MonitorTable *table = g_object_get_qdata (G_OBJECT (self), monitor_table_quark ());

  if (G_LIKELY (table != NULL))
    return table;

  G_LOCK (table_creation);
  table = g_object_get_qdata (G_OBJECT (self), monitor_table_quark ());
  if (table == NULL)
    {
      g_autoptr(GError) not_running = opening ? NULL : not_running_error (self);

      table = g_new0 (MonitorTable, 1);
      g_mutex_init (&table->lock);
      table->monitors = gen_monitor_set_new (not_running);
      g_object_set_qdata_full (G_OBJECT (self), monitor_table_quark (),
                               table, monitor_table_free);
    }
  G_UNLOCK (table_creation);

  return table;
}

static MonitorTable *
monitor_table_get (GenServer *self)
{
  return monitor_table_ensure (self, FALSE);
}

void
gen_monitor_open (GenServer *self)
{
  MonitorTable *table = monitor_table_ensure (self, TRUE);

  gen_monitor_set_open (table->monitors);
  g_mutex_lock (&table->lock);
  g_clear_error (&table->stop_reason);
  g_mutex_unlock (&table->lock);
}

void
gen_monitor_fire (GenServer    *self,
                  const GError *reason)
{
  MonitorTable *table = monitor_table_get (self);
  g_autoptr(GError) not_running = not_running_error (self);

  gen_monitor_set_fire (table->monitors, self, reason, not_running);
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

guint
gen_monitor_watch (GenServer            *self,
                   GenServerMonitorFunc  func,
                   gpointer              user_data,
                   GDestroyNotify        destroy,
                   GenWatchFlags         flags)
{
  GenMonitorFlags monitor_flags = GEN_MONITOR_HOOK;

  if (flags & GEN_WATCH_NEXT_RUN)
    monitor_flags |= GEN_MONITOR_ANYWAY;
  if (flags & GEN_WATCH_FIRST)
    monitor_flags |= GEN_MONITOR_FIRST;
  return gen_monitor_set_add (monitor_table_get (self)->monitors, (GenMonitorFunc) func,
                              user_data, destroy, NULL, monitor_flags, self);
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
  g_autoptr(GMainContext) context = NULL;

  g_return_val_if_fail (GEN_IS_SERVER (self), 0);
  g_return_val_if_fail (func != NULL, 0);

  context = g_main_context_ref_thread_default ();
  return gen_monitor_set_add (monitor_table_get (self)->monitors, (GenMonitorFunc) func,
                              user_data, destroy, context, GEN_MONITOR_PUBLIC, self);
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
  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);

  return gen_monitor_set_remove (monitor_table_get (self)->monitors, monitor_id);
}
