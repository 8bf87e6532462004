/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Casts that queue up behind a busy connection travel as one D-Bus message:
 * see gen-cast-batch.c. GenNode turns it on for its links; GenRemote hands
 * its casts to it and flushes it before a call. */

/* From now until gen_cast_batch_disable(), casts on @connection to object
 * paths below @prefix travel as calls of @method of @interface_name at
 * @target_path with one `ay` argument: the GVariant serialisation of an
 * `a(sv)`, each cast's path relative to @prefix (without the '/') and its
 * message, in the order they were made. */
void     gen_cast_batch_enable  (GDBusConnection *connection,
                                 const gchar     *prefix,
                                 const gchar     *target_path,
                                 const gchar     *interface_name,
                                 const gchar     *method);

/* Stops batching on @connection; casts still queued are dropped, as on a
 * link that went down. Not from a thread that is casting on it. */
void     gen_cast_batch_disable (GDBusConnection *connection);

/* Queues @message (a reference is taken) for the server at @object_path,
 * if @connection batches casts there; FALSE otherwise: send it yourself.
 * Waits while the queue is full. Any thread. */
gboolean gen_cast_batch_push    (GDBusConnection *connection,
                                 const gchar     *object_path,
                                 GVariant        *message);

/* Returns once every cast queued on @connection before this call was
 * handed to GDBus, so that a message sent next does not overtake them.
 * Any thread; cheap when nothing is queued. */
void     gen_cast_batch_flush   (GDBusConnection *connection);

G_END_DECLS
