/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <string.h>

#include "gen-cast-batch-private.h"

/*
 * Cast batches.
 *
 * A remote cast is one D-Bus message: serialized in the caller, written by
 * GDBus's worker thread, read, parsed and dispatched on the receiving
 * context one by one. Erlang's distribution puts many messages in one
 * write when the link is busy; this does the same for D-Bus. A caster only
 * appends its message to the connection's queue; a sender thread of the
 * connection takes whatever is queued when it is free, and sends it as one
 * method call carrying an array of (path, message). When the link is idle
 * a batch holds one cast; when casts come faster than the link takes
 * them, the queue fills while the sender is busy, and the next batch takes
 * all of it: the cost of a message is shared by many casts. The batch
 * travels as the GVariant serialisation of an a(sv), in an `ay`.
 *
 * Order: one queue per connection, one sender, batches sent in order, so
 * casts from one thread arrive in the order they were made. A call must
 * not overtake the casts before it: callers flush first, which waits until
 * the sender handed everything queued to GDBus, whose own order then
 * holds. Limits: a batch stops at BATCH_MAX_BYTES or BATCH_MAX_CASTS (each
 * cast was checked against the server's own limit by the caller); the
 * queue holds at most QUEUE_MAX_CASTS, and a caster waits for room beyond
 * that, as Erlang's senders wait on a busy distribution port.
 */

#define BATCH_MAX_BYTES (1024 * 1024)
#define BATCH_MAX_CASTS 4096
#define QUEUE_MAX_CASTS 65536

typedef struct
{
  gchar *relative_path; /* owned */
  GVariant *message;    /* owned */
} Cast;

typedef struct
{
  gint ref_count; /* atomic */

  /* Immutable. */
  GDBusConnection *connection; /* owned */
  gchar *prefix;               /* owned */
  gsize prefix_length;
  gchar *target_path;          /* owned */
  gchar *interface_name;       /* owned */
  gchar *method;               /* owned */
  GThread *sender;             /* owned: joined by disable */

  GMutex lock;
  GCond cond;       /* broadcast on every change below */
  GQueue queue;     /* lock: Cast (owned) */
  guint64 pushed;   /* lock: casts queued so far */
  guint64 sent;     /* lock: casts handed to GDBus so far */
  gboolean closing; /* lock */
} CastBatch;

static GQuark
cast_batch_quark (void)
{
  static gsize quark;

  if (g_once_init_enter (&quark))
    g_once_init_leave (&quark, g_quark_from_static_string ("gen-cast-batch"));
  return (GQuark) quark;
}

static void
cast_free (gpointer data)
{
  Cast *cast = data;

  g_free (cast->relative_path);
  g_variant_unref (cast->message);
  g_free (cast);
}

static gpointer
cast_batch_ref (gpointer data,
                gpointer user_data)
{
  CastBatch *batch = data;

  if (batch != NULL)
    g_atomic_int_inc (&batch->ref_count);
  return batch;
}

static void
cast_batch_unref (gpointer data)
{
  CastBatch *batch = data;

  if (!g_atomic_int_dec_and_test (&batch->ref_count))
    return;

  g_queue_clear_full (&batch->queue, cast_free);
  g_object_unref (batch->connection);
  g_free (batch->prefix);
  g_free (batch->target_path);
  g_free (batch->interface_name);
  g_free (batch->method);
  g_mutex_clear (&batch->lock);
  g_cond_clear (&batch->cond);
  g_free (batch);
}

/* A new reference to the batch of @connection, or NULL. */
static CastBatch *
cast_batch_get (GDBusConnection *connection)
{
  return g_object_dup_qdata (G_OBJECT (connection), cast_batch_quark (), cast_batch_ref, NULL);
}

static void
cast_batch_send (CastBatch *batch,
                 GPtrArray *casts)
{
  g_autoptr(GDBusMessage) message = NULL;
  g_autoptr(GVariant) batch_casts = NULL;
  g_autoptr(GBytes) serialized = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sv)"));
  for (guint i = 0; i < casts->len; i++)
    {
      Cast *cast = g_ptr_array_index (casts, i);

      g_variant_builder_add (&builder, "(sv)", cast->relative_path, cast->message);
    }

  message = g_dbus_message_new_method_call (NULL, batch->target_path, batch->interface_name,
                                            batch->method);
  /* As GVariant's own serialised bytes, which D-Bus copies as they are:
   * marshalled as D-Bus values, GDBus would parse the array back element
   * by element into a tree of GVariants, the dearest part of a batch. */
  batch_casts = g_variant_ref_sink (g_variant_builder_end (&builder));
  serialized = g_variant_get_data_as_bytes (batch_casts);
  g_dbus_message_set_body (message,
                           g_variant_new ("(@ay)",
                                          g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
                                                                    serialized, TRUE)));
  g_dbus_message_set_flags (message, G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED);
  /* A connection closed meanwhile loses the casts, as a link that goes
   * down loses Erlang's: monitors tell. */
  if (!g_dbus_connection_send_message (batch->connection, message,
                                       G_DBUS_SEND_MESSAGE_FLAGS_NONE, NULL, &error))
    g_debug ("casts not sent: %s", error->message);
}

static gpointer
cast_batch_run (gpointer data)
{
  CastBatch *batch = data;
  g_autoptr(GPtrArray) casts = g_ptr_array_new_with_free_func (cast_free);

  g_mutex_lock (&batch->lock);
  for (;;)
    {
      gsize bytes = 0;

      while (g_queue_is_empty (&batch->queue) && !batch->closing)
        g_cond_wait (&batch->cond, &batch->lock);
      if (batch->closing)
        break;

      while (!g_queue_is_empty (&batch->queue) && casts->len < BATCH_MAX_CASTS &&
             bytes < BATCH_MAX_BYTES)
        {
          Cast *cast = g_queue_pop_head (&batch->queue);

          bytes += g_variant_get_size (cast->message) + strlen (cast->relative_path) + 16;
          g_ptr_array_add (casts, cast);
        }
      /* Room for casters waiting for it. */
      g_cond_broadcast (&batch->cond);
      g_mutex_unlock (&batch->lock);

      cast_batch_send (batch, casts);

      g_mutex_lock (&batch->lock);
      batch->sent += casts->len;
      g_ptr_array_set_size (casts, 0);
      g_cond_broadcast (&batch->cond);
    }
  g_mutex_unlock (&batch->lock);

  cast_batch_unref (batch);
  return NULL;
}

void
gen_cast_batch_enable (GDBusConnection *connection,
                       const gchar     *prefix,
                       const gchar     *target_path,
                       const gchar     *interface_name,
                       const gchar     *method)
{
  CastBatch *batch;

  g_return_if_fail (G_IS_DBUS_CONNECTION (connection));

  batch = g_new0 (CastBatch, 1);
  batch->ref_count = 2; /* the connection's and the sender's */
  batch->connection = g_object_ref (connection);
  batch->prefix = g_strdup (prefix);
  batch->prefix_length = strlen (prefix);
  batch->target_path = g_strdup (target_path);
  batch->interface_name = g_strdup (interface_name);
  batch->method = g_strdup (method);
  g_mutex_init (&batch->lock);
  g_cond_init (&batch->cond);
  batch->sender = g_thread_new ("gen-cast-batch", cast_batch_run, batch);
  g_object_set_qdata_full (G_OBJECT (connection), cast_batch_quark (), batch, cast_batch_unref);
}

void
gen_cast_batch_disable (GDBusConnection *connection)
{
  CastBatch *batch = cast_batch_get (connection);
  GThread *sender;

  if (batch == NULL)
    return;

  g_mutex_lock (&batch->lock);
  batch->closing = TRUE;
  sender = g_steal_pointer (&batch->sender);
  g_cond_broadcast (&batch->cond);
  g_mutex_unlock (&batch->lock);
  if (sender != NULL)
    g_thread_join (sender);

  g_object_set_qdata (G_OBJECT (connection), cast_batch_quark (), NULL);
  cast_batch_unref (batch);
}

gboolean
gen_cast_batch_push (GDBusConnection *connection,
                     const gchar     *object_path,
                     GVariant        *message)
{
  CastBatch *batch = cast_batch_get (connection);
  gboolean queued = FALSE;
  Cast *cast;

  if (batch == NULL)
    return FALSE;

  if (strncmp (object_path, batch->prefix, batch->prefix_length) == 0 &&
      object_path[batch->prefix_length] == '/' && object_path[batch->prefix_length + 1] != '\0')
    {
      cast = g_new0 (Cast, 1);
      cast->relative_path = g_strdup (object_path + batch->prefix_length + 1);
      cast->message = g_variant_ref_sink (message);

      g_mutex_lock (&batch->lock);
      while (batch->queue.length >= QUEUE_MAX_CASTS && !batch->closing)
        g_cond_wait (&batch->cond, &batch->lock);
      queued = !batch->closing;
      if (queued)
        {
          g_queue_push_tail (&batch->queue, cast);
          batch->pushed++;
          if (batch->queue.length == 1)
            g_cond_broadcast (&batch->cond);
        }
      g_mutex_unlock (&batch->lock);
      if (!queued)
        cast_free (cast);
    }

  cast_batch_unref (batch);
  return queued;
}

void
gen_cast_batch_flush (GDBusConnection *connection)
{
  CastBatch *batch = cast_batch_get (connection);
  guint64 until;

  if (batch == NULL)
    return;

  /* Casts queued by others meanwhile are not waited for. */
  g_mutex_lock (&batch->lock);
  until = batch->pushed;
  while (batch->sent < until && !batch->closing)
    g_cond_wait (&batch->cond, &batch->lock);
  g_mutex_unlock (&batch->lock);

  cast_batch_unref (batch);
}
