/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The list of live servers, for the observer. The core tells it of every
 * server made (constructed) and gone (finalize), never of a message: an
 * entry is a weak reference and an id in a queue under one lock, made and
 * dropped with the server, so a server that runs pays nothing for being
 * listed.
 *
 * A weak reference, not the server's address: a lister takes references
 * under the lock, and a server whose last reference is being dropped at
 * that moment must not be revived. GObject clears weak references before
 * dispose; such a server reads as NULL until its finalize, waiting for
 * the lock, removes it.
 */

#include "config.h"

#include "gen-live-private.h"

/* A server in the list. The server holds it as qdata (unowned there: the
 * queue owns it). `id` is immutable; `link` is under `live_lock`. */
typedef struct
{
  GWeakRef server;
  guint64 id;
  GList link;
} Entry;

/* `live_lock` protects `live` (Entry *, in the order made) and `next_id`. */
static GMutex live_lock;
static GQueue live = G_QUEUE_INIT;
static guint64 next_id;
/* Atomic. */
static gint tracking = TRUE;
static GenLiveTraceSink trace_sink;

static GQuark
entry_quark (void)
{
  static gsize quark; /* GQuark */

  if (g_once_init_enter (&quark))
    g_once_init_leave (&quark, g_quark_from_static_string ("gen-live-entry"));
  return (GQuark) quark;
}

void
gen_live_set_tracking (gboolean on)
{
  g_atomic_int_set (&tracking, !!on);
}

void
gen_live_track (gpointer server)
{
  Entry *entry;

  if (!g_atomic_int_get (&tracking))
    return;

  entry = g_new0 (Entry, 1);
  g_weak_ref_init (&entry->server, server);
  entry->link.data = entry;
  g_object_set_qdata (server, entry_quark (), entry);

  g_mutex_lock (&live_lock);
  entry->id = ++next_id;
  g_queue_push_tail_link (&live, &entry->link);
  g_mutex_unlock (&live_lock);
}

void
gen_live_untrack (gpointer server)
{
  /* qdata lives until GObject's own finalize, after the server's. */
  Entry *entry = g_object_steal_qdata (server, entry_quark ());

  if (entry == NULL)
    return;

  g_mutex_lock (&live_lock);
  g_queue_unlink (&live, &entry->link);
  g_mutex_unlock (&live_lock);

  g_weak_ref_clear (&entry->server);
  g_free (entry);
}

static void
live_server_clear (gpointer data)
{
  g_clear_object (&((GenLiveServer *) data)->server);
}

GArray *
gen_live_snapshot (void)
{
  GArray *servers = g_array_new (FALSE, FALSE, sizeof (GenLiveServer));

  /* Cleared outside the lock by the caller: the last reference runs
   * finalize, which takes it. */
  g_array_set_clear_func (servers, live_server_clear);

  g_mutex_lock (&live_lock);
  for (GList *l = live.head; l != NULL; l = l->next)
    {
      Entry *entry = l->data;
      GenLiveServer item = { entry->id, g_weak_ref_get (&entry->server) };

      if (item.server != NULL)
        g_array_append_val (servers, item);
    }
  g_mutex_unlock (&live_lock);

  return servers;
}

gpointer
gen_live_lookup (guint64 id)
{
  gpointer server = NULL;

  g_mutex_lock (&live_lock);
  for (GList *l = live.tail; l != NULL; l = l->prev)
    {
      Entry *entry = l->data;

      if (entry->id == id)
        {
          server = g_weak_ref_get (&entry->server);
          break;
        }
    }
  g_mutex_unlock (&live_lock);

  return server;
}

guint64
gen_live_id (gpointer server)
{
  Entry *entry = g_object_get_qdata (server, entry_quark ());

  return entry != NULL ? entry->id : 0;
}

guint
gen_live_count (void)
{
  guint n;

  g_mutex_lock (&live_lock);
  n = live.length;
  g_mutex_unlock (&live_lock);
  return n;
}

void
gen_live_set_trace_sink (GenLiveTraceSink sink)
{
  g_atomic_pointer_set (&trace_sink, sink);
}

void
gen_live_trace (gpointer     server,
                const gchar *kind,
                const gchar *text,
                gint64       handling_us)
{
  GenLiveTraceSink sink = g_atomic_pointer_get (&trace_sink);

  if (sink != NULL)
    sink (server, gen_live_id (server), kind, text, handling_us);
}
