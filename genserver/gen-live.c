/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The list of live servers, for the observer. The core tells it of every
 * server made (constructed) and going (dispose), never of a message. The
 * list is intrusive: each server carries its link and id (GenLiveLink, in
 * its private struct), linked and unlinked under one lock, so that a
 * server pays neither an allocation nor a lock of GLib's for being listed,
 * and nothing while it runs.
 *
 * A lister takes references under the lock, and must never take one to a
 * server whose last reference is gone. What GLib 2.74's g_object_unref
 * does with the last reference (gobject.c):
 *
 *  1. It sees the count at 1 and runs dispose with the count still 1.
 *  2. It reads the count again: if somebody took a reference meanwhile,
 *     it drops its own and returns. The object lives on, disposed, and
 *     the unref of that other reference starts again at 1.
 *  3. Otherwise it drops the count to 0 and finalizes.
 *
 * GenServer's dispose, which every subclass's chains up to as GObject
 * requires, unlinks the server under the lock before it returns, and the
 * count reaches 0 only after that (3). So a server a lister finds in the
 * list, under the lock, has a count of at least 1: g_object_ref is safe,
 * with the toggle notification of the bindings (which a hand-made
 * "reference unless 0" on the count would skip).
 *
 * The one race left is harmless: a lister may take a reference between
 * the last unref's first look (1) and GenServer's dispose. That is a
 * reference taken during dispose (2): the unref returns without
 * finalizing, the server is unlisted all the same, and the lister's unref
 * finalizes it on the lister's thread (as when a lister won the race
 * against the weak reference this list held before). A subclass's dispose
 * may have run by then; GObject asks every dispose to leave the object
 * usable, and the library's servers have none.
 *
 * Not in finalize: the count is 0 by then, and a lister between the drop
 * (3) and the unlinking would reference memory being freed. Not only when
 * dispose sees the count at 1 either: a server left listed because of a
 * reference its own dispose holds for a moment would reach 0 listed.
 */

#include "config.h"

#include "gen-live-private.h"

/* `live_lock` protects the list (`live`, a ring through each listed
 * server's GenLiveLink, in the order made, `live` itself the head),
 * `n_live`, `next_id` and `link_offset`. */
static GMutex live_lock;
static GenLiveLink live = { &live, &live, 0 };
static guint n_live;
static guint64 next_id;
/* Where the link sits in a server: the same for all of them (in
 * GenServer's private struct, which GObject places at one offset from the
 * instance for every subclass). 0 until the first server is listed. */
static gssize link_offset;
/* Atomic. */
static gint tracking = TRUE;
static GenLiveTraceSink trace_sink;

void
gen_live_set_tracking (gboolean on)
{
  g_atomic_int_set (&tracking, !!on);
}

static GObject *
link_server (GenLiveLink *link)
{
  return (GObject *) ((gchar *) link - link_offset);
}

void
gen_live_track (gpointer     server,
                GenLiveLink *link)
{
  gssize offset = (gchar *) link - (gchar *) server;

  if (!g_atomic_int_get (&tracking))
    return;

  g_mutex_lock (&live_lock);
  g_assert (link_offset == 0 || link_offset == offset);
  link_offset = offset;
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
    }
  g_mutex_unlock (&live_lock);
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
      GenLiveServer item = { l->id, g_object_ref (link_server (l)) };

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
        server = g_object_ref (link_server (l));
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
