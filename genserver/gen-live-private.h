/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The list of live servers: every GenServer between its constructed and
 * its finalize, with an id that is never reused in the process; see
 * gen-live.c. It knows servers only as GObjects, and nothing of what is
 * done with the list: the observer (gen-observer.c) reads it. */

/* From the server's constructed and finalize: nothing on the message path. */
void      gen_live_track     (gpointer server);
void      gen_live_untrack   (gpointer server);

typedef struct
{
  guint64 id;
  GObject *server; /* owned */
} GenLiveServer;

/* The servers alive now (GenLiveServer, referenced), in the order made. */
GArray   *gen_live_snapshot  (void);
/* A reference to the server with @id, or NULL if it is gone. */
gpointer  gen_live_lookup    (guint64   id);
/* The id of a live @server, 0 if untracked. */
guint64   gen_live_id        (gpointer  server);
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
void      gen_live_trace     (gpointer     server,
                              const gchar *kind,
                              const gchar *text,
                              gint64       handling_us);

/* For the benchmark that shows what the list costs: off, servers made
 * from now on are not listed. */
void      gen_live_set_tracking (gboolean tracking);

G_END_DECLS
