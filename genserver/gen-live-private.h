/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The list of live servers: every GenServer between its constructed and
 * its dispose, with an id that is never reused in the process; see
 * gen-live.c. It knows servers only as GObjects, and nothing of what is
 * done with the list: the observer (gen-observer.c) reads it. */

/* A server's place in the list. It lives in the server (GenServerPrivate),
 * so that being listed costs no allocation of the list's own. */
typedef struct _GenLiveLink GenLiveLink;

struct _GenLiveLink
{
  /* Under the list's lock: the neighbours while the server is listed,
   * NULL before and after. */
  GenLiveLink *prev;
  GenLiveLink *next;
  /* Set when the link is listed and back to 0 when it is unlisted, both
   * under the list's lock: 0 while the server is not listed. Listers read
   * it under the lock; the server's own code may read it without, where
   * its reference count orders it after both writes (its handlers while it
   * runs, its finalize). */
  guint64 id;
  /* The server, for listers: a weak reference, so that none takes a
   * reference once its last one is being dropped (see gen-live.c). Set
   * while listed. */
  GWeakRef server;
};

/* From the server's constructed: lists @server, whose @link is inside it. */
void      gen_live_track     (gpointer      server,
                              GenLiveLink  *link);
/* From the server's dispose, before its last reference can go: unlists
 * it, if it is listed. Any number of times. */
void      gen_live_untrack   (GenLiveLink  *link);

typedef struct
{
  guint64 id;
  GObject *server; /* owned */
} GenLiveServer;

/* The servers alive now (GenLiveServer, referenced), in the order made. */
GArray   *gen_live_snapshot  (void);
/* A reference to the server with @id, or NULL if it is gone. */
gpointer  gen_live_lookup    (guint64   id);
guint     gen_live_count     (void);

/* Where the records of traced servers go besides the log: the observer
 * sets it when first exported. Called on the handler thread of a traced
 * server, only while tracing is on. */
typedef void (*GenLiveTraceSink) (gpointer     server,
                                  guint64      id,
                                  const gchar *kind,
                                  const gchar *text,
                                  gint64       handling_us);
void      gen_live_set_trace_sink (GenLiveTraceSink sink);
/* @id: the server's link's (0 if it is not listed). */
void      gen_live_trace     (gpointer     server,
                              guint64      id,
                              const gchar *kind,
                              const gchar *text,
                              gint64       handling_us);

/* For the benchmark that shows what the list costs: off, servers made
 * from now on are not listed. */
void      gen_live_set_tracking (gboolean tracking);

G_END_DECLS
