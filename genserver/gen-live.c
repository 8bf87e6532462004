/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The list of live servers, for the observer. The core tells it of every
 * server made (constructed) and going (dispose), never of a message. The
 * list is intrusive: each server carries its link, id and a weak
 * reference to itself (GenLiveLink, in its private struct), linked and
 * unlinked under one lock, so that being listed costs no allocation of
 * the list's own, and nothing while the server runs.
 *
 * A lister takes references under the lock, and must never take one to a
 * server whose last reference is being dropped: it takes them through the
 * weak reference. What GLib 2.74's g_object_unref does with the last
 * reference of an object with weak references (gobject.c):
 *
 *  1. Under GLib's weak-reference lock, it checks the count is still 1
 *     and clears every weak reference: from then on g_weak_ref_get()
 *     gives NULL. (A g_weak_ref_get() that won that lock first took a
 *     reference: the unref sees a count of 2 and only drops its own.)
 *  2. It runs dispose; GenServer's unlists the server under the list's
 *     lock. A lister meanwhile finds the link, but no server behind it.
 *  3. It drops the count to 0 and finalizes.
 *
 * A plain g_object_ref of a listed server, which an earlier version took,
 * is not enough: a reference taken during dispose (between 1 and 2)
 * resurrects the object, and GLib 2.74 still touches it (its notify
 * queue) after dropping the unref's own count, so the lister's unref
 * could free it under the disposing thread's feet.
 *
 * A subclass whose dispose does not chain up is unlisted in finalize: its
 * weak reference is clear by then, so a lister still finds nothing.
 */

#include "config.h"

#include "gen-live-private.h"

/* `live_lock` protects the list (`live`, a ring through each listed
 * server's GenLiveLink, in the order made, `live` itself the head),
 * `n_live` and `next_id`. */
static GMutex live_lock;
static GenLiveLink live = { .prev = &live, .next = &live };
static guint n_live;
static guint64 next_id;
/* Atomic. */
static gint tracking = TRUE;
static GenLiveTraceSink trace_sink;

void
gen_live_set_tracking (gboolean on)
{
  g_atomic_int_set (&tracking, !!on);
}

void
gen_live_track (gpointer     server,
                GenLiveLink *link)
{
  if (!g_atomic_int_get (&tracking))
    return;

  g_weak_ref_init (&link->server, server);

  g_mutex_lock (&live_lock);
  link->id = ++next_id;
  link->prev = live.prev;
  link->next = &live;
  live.prev->next = link;
  live.prev = link;
  n_live++;
  g_mutex_unlock (&live_lock);
}

void
gen_live_untrack (GenLiveLink *link)
{
  gboolean unlisted = FALSE;

  /* Not listed (tracking was off, or unlisted already): nobody else
   * knows of the link. */
  if (link->id == 0)
    return;

  g_mutex_lock (&live_lock);
  /* Again under the lock: a g_object_run_dispose() may race the last
   * unref's dispose. */
  if (link->id != 0)
    {
      link->prev->next = link->next;
      link->next->prev = link->prev;
      link->prev = link->next = NULL;
      link->id = 0;
      n_live--;
      unlisted = TRUE;
    }
  g_mutex_unlock (&live_lock);

  /* No lister reaches the link any more. */
  if (unlisted)
    g_weak_ref_clear (&link->server);
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
   * dispose, which takes it. */
  g_array_set_clear_func (servers, live_server_clear);

  g_mutex_lock (&live_lock);
  for (GenLiveLink *l = live.next; l != &live; l = l->next)
    {
      GenLiveServer item = { l->id, g_weak_ref_get (&l->server) };

      /* NULL: its last reference is being dropped (see the top). */
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
  /* The newest first: an id someone just saw is more likely recent. */
  for (GenLiveLink *l = live.prev; l != &live; l = l->prev)
    if (l->id == id)
      {
        server = g_weak_ref_get (&l->server);
        break;
      }
  g_mutex_unlock (&live_lock);

  return server;
}

guint
gen_live_count (void)
{
  guint n;

  g_mutex_lock (&live_lock);
  n = n_live;
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
                guint64      id,
                const gchar *kind,
                const gchar *text,
                gint64       handling_us)
{
  GenLiveTraceSink sink = g_atomic_pointer_get (&trace_sink);

  if (sink != NULL)
    sink (server, id, kind, text, handling_us);
}
