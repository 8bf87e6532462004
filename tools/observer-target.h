/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The process an observer tool looks at: found by bus name, PID or unix
 * socket, as genserver-ctl and genserver-observer take it on their
 * command lines. GIO only.
 */

#include <gio/gio.h>

G_BEGIN_DECLS

#define OBSERVER_INTERFACE "io.github.genserver.Observer1"
#define OBSERVER_PATH "/io/github/genserver/Observer1"

/* Where to find the process; what the command line said. */
typedef struct
{
  gchar *bus_name;    /* a unique or well-known name on the bus */
  gint pid;           /* a process on the bus, 0: any */
  gchar *socket_path; /* gen_observer_listen()'s socket: no bus */
  gboolean system;    /* the system bus, not the session bus */
} TargetOptions;

/* The process looked at: a connection and, on a bus, its unique name. */
typedef struct
{
  GDBusConnection *connection; /* owned */
  gchar *name;                 /* owned; NULL peer-to-peer */
} Target;

void       target_clear   (Target              *target);
gboolean   target_open    (Target              *target,
                           const TargetOptions *options,
                           GError             **error);
GVariant  *target_call    (Target              *target,
                           const gchar         *method,
                           GVariant            *parameters,
                           const GVariantType  *reply_type,
                           GError             **error);
/* The unique names on @bus that export the observer, those of @pid only
 * if it is not 0. */
GPtrArray *target_observed_names (GDBusConnection *bus,
                                  guint32          pid,
                                  GError         **error);
/* What the observer at @name on @bus says of its process, or NULL. */
GVariant  *target_probe   (GDBusConnection     *bus,
                           const gchar         *name);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Target, target_clear)

G_END_DECLS
