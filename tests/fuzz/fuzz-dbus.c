/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Messages arriving over D-Bus: method calls of any name, path and body
 * sent by a peer to exported servers (one of any type, one typed, one
 * with a tiny bound on what peers may hold) and to an exported registry,
 * peer-to-peer over a unix socket. Every one must be answered (a reply or
 * a D-Bus error) and leave the exporting process serving.
 *
 * Input: a byte choosing the method (low 3 bits) and the object (next 2
 * bits), a NUL-terminated string (a registry name, or a property's name),
 * a GVariant type string ending in NUL, then the body's serialised bytes.
 * A type that is not a tuple is wrapped in one. */

#include <glib/gstdio.h>

#include "fuzz-common.h"

static GMainContext *service_context; /* the exporting side's, on its thread */
static GDBusConnection *client;
static GenRegistry *registry;
static GenServer *servers[3];         /* started and exported once; never stopped */
static gint exported;                 /* atomic: connections set up */

static const gchar *const paths[] = { "/any", "/typed", "/bounded", "/names" };
static const gchar *const methods[] = {
  "Call", "Cast", "Info", "Get", "GetAll", "Set", "Introspect", "Nothing",
};

/* Whether @value holds a maybe type anywhere, inside variants too: a
 * variant's content has its own type, which the outer type string does not
 * show, and GDBus's serialiser meets a maybe there with a critical. */
static gboolean
has_maybe_type (GVariant *value)
{
  const gchar *type_string = g_variant_get_type_string (value);
  gsize n;

  if (strchr (type_string, 'm') != NULL)
    return TRUE;
  if (strchr (type_string, 'v') == NULL)
    return FALSE;
  n = g_variant_n_children (value);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (value, i);

      if (has_maybe_type (child))
        return TRUE;
    }
  return FALSE;
}

static gboolean
new_connection_cb (GDBusServer     *listener,
                   GDBusConnection *connection,
                   gpointer         data)
{
  g_autoptr(GError) error = NULL;

  if (!gen_server_export (servers[0], connection, paths[0], &error) ||
      !gen_server_export (servers[1], connection, paths[1], &error) ||
      !gen_server_export_with_limits (servers[2], connection, paths[2], 64, 600, 50, &error) ||
      !gen_registry_export (registry, connection, paths[3], &error))
    g_error ("%s", error->message);
  g_atomic_int_inc (&exported);
  return TRUE;
}

static gpointer
service_thread_main (gpointer data)
{
  g_main_context_push_thread_default (service_context);
  for (;;)
    g_main_context_iteration (service_context, TRUE);
  return NULL;
}

typedef struct
{
  gchar *address;
  gboolean listening;
} Listen;

static gboolean
listen_cb (gpointer data)
{
  Listen *listen = data;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *guid = g_dbus_generate_guid ();
  GDBusServer *listener;

  /* Kept for the life of the process. */
  listener = g_dbus_server_new_sync (listen->address, G_DBUS_SERVER_FLAGS_NONE, guid,
                                     NULL, NULL, &error);
  if (listener == NULL)
    g_error ("%s", error->message);
  g_signal_connect (listener, "new-connection", G_CALLBACK (new_connection_cb), NULL);
  g_dbus_server_start (listener);
  g_atomic_int_set (&listen->listening, TRUE);
  return G_SOURCE_REMOVE;
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree gchar *tmpdir = NULL;
  Listen listen = { NULL, FALSE };
  GSource *source;

  g_log_set_handler ("Gen", G_LOG_LEVEL_MASK & ~G_LOG_LEVEL_ERROR, fuzz_quiet, NULL);

  servers[0] = g_object_new (fuzz_server_get_type (), NULL);
  servers[1] = g_object_new (fuzz_server_get_type (),
                             "cast-type", "(sx)", "call-type", "a{sv}", NULL);
  servers[2] = g_object_new (fuzz_server_get_type (), "mailbox-capacity", 2, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (servers); i++)
    if (!gen_server_start (servers[i], NULL, &error))
      g_error ("%s", error->message);
  registry = gen_registry_new ();
  if (!gen_registry_register (registry, "any", servers[0], &error) ||
      !gen_registry_register (registry, "typed/one", servers[1], &error))
    g_error ("%s", error->message);

  service_context = g_main_context_new ();
  g_thread_unref (g_thread_new ("service", service_thread_main, NULL));

  tmpdir = g_dir_make_tmp ("genserver-fuzz-XXXXXX", &error);
  if (tmpdir == NULL)
    g_error ("%s", error->message);
  listen.address = g_strdup_printf ("unix:path=%s/socket", tmpdir);
  source = g_idle_source_new ();
  g_source_set_callback (source, listen_cb, &listen, NULL);
  g_source_attach (source, service_context);
  g_source_unref (source);
  while (!g_atomic_int_get (&listen.listening))
    g_thread_yield ();

  client = g_dbus_connection_new_for_address_sync (listen.address,
                                                   G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                   NULL, NULL, &error);
  if (client == NULL)
    g_error ("%s", error->message);
  while (!g_atomic_int_get (&exported))
    g_thread_yield ();
  g_free (listen.address);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree gchar *name = NULL;
  g_autofree gchar *type_string = NULL;
  g_autofree gchar *path = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GDBusMessage) message = NULL;
  g_autoptr(GDBusMessage) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guchar *blob = NULL;
  g_autofree gchar *signature = NULL;
  g_autoptr(GDBusMessage) decoded = NULL;
  gsize blob_size;
  const gchar *method;
  const gchar *interface;
  guint object;

  if (size < 1)
    return 0;
  method = methods[data[0] & 7];
  object = (data[0] >> 3) & 3;
  data++, size--;

  name = fuzz_take_string (&data, &size);
  type_string = fuzz_take_string (&data, &size);
  if (name == NULL || type_string == NULL)
    return 0;
  value = fuzz_message (type_string, data, size, FALSE);
  if (value == NULL)
    return 0;
  body = g_variant_is_of_type (value, G_VARIANT_TYPE_TUPLE) ?
         g_variant_ref (value) :
         g_variant_ref_sink (g_variant_new_tuple (&value, 1));

  /* A registry's node is the name, escaped as a remote escapes it. */
  if (object == 3 && name[0] != '\0')
    {
      g_autofree gchar *node = g_dbus_escape_object_path (name);

      path = g_strconcat (paths[3], "/", node, NULL);
    }
  else
    path = g_strdup (paths[object]);

  interface = g_str_has_prefix (method, "Get") || g_str_equal (method, "Set") ?
              "org.freedesktop.DBus.Properties" :
              g_str_equal (method, "Introspect") ?
              "org.freedesktop.DBus.Introspectable" : GEN_DBUS_INTERFACE;
  /* A body D-Bus has no signature for (maybe types, inside variants too)
   * is no message a peer can send. What goes past D-Bus's other limits
   * (nesting, a type string's length), which the library refuses to send,
   * a peer may send all the same: GDBus decides below what comes in. */
  signature = g_strndup (g_variant_get_type_string (body) + 1,
                         strlen (g_variant_get_type_string (body)) - 2);
  if (!g_variant_is_signature (signature) || has_maybe_type (body))
    return 0;

  message = g_dbus_message_new_method_call (NULL, path, interface, method);
  g_dbus_message_set_body (message, body);
  /* What GDBus refuses to send (maybe types, nesting past D-Bus's limits)
   * is no message a peer can send either. */
  blob = g_dbus_message_to_blob (message, &blob_size, G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
  if (blob == NULL)
    return 0;
  /* Nor what GDBus cannot decode on the way in (a variant whose content has
   * maybe types, say): GDBus drops it with a warning before genserver sees
   * anything, so no answer is due. */
  decoded = g_dbus_message_new_from_blob (blob, blob_size, G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
  if (decoded == NULL)
    return 0;

  reply = g_dbus_connection_send_message_with_reply_sync (client, message,
                                                          G_DBUS_SEND_MESSAGE_FLAGS_NONE,
                                                          10000, NULL, NULL, &error);
  /* Every message is answered: a closed connection or no answer at all is
   * what a peer must never be able to cause. */
  if (reply == NULL)
    g_error ("no answer to %s on %s: %s", method, path, error->message);
  return 0;
}
