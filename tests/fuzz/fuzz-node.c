/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Messages arriving from another node: a node of this program (on a thread
 * of its own, as an application runs it) gets, from a peer connected to
 * it, what the node interface and the registry it offers accept, with
 * random contents: batches of casts, names given in Hello, casts and calls
 * to names.
 *
 * Input: a selector byte (which method), then the serialised body of that
 * method's call, taken in its normal form (what GDBus would let through). */

#include <unistd.h>

#include "fuzz-common.h"

#define NODE_PATH "/io/github/genserver/Node"
#define NODE_INTERFACE "io.github.genserver.Node1"

static GMainContext *context;
static gchar *address;          /* atomic pointer: set once the node listens */
static GDBusConnection *peer;   /* this program's thread only */

static gpointer
node_thread_main (gpointer data)
{
  g_autoptr(GError) error = NULL;
  GenRegistry *registry;
  GenNode *node;
  GenServer *any, *typed;

  g_main_context_acquire (context);
  g_main_context_push_thread_default (context);

  registry = gen_registry_new ();
  node = g_object_new (GEN_TYPE_NODE, "name", "fuzzed", "registry", registry, NULL);
  any = g_object_new (fuzz_server_get_type (), NULL);
  typed = g_object_new (fuzz_server_get_type (), "cast-type", "(sx)", "call-type", "(sx)", NULL);
  if (!gen_server_start (any, NULL, &error) || !gen_server_start (typed, NULL, &error) ||
      !gen_registry_register (registry, "any", any, &error) ||
      !gen_registry_register (registry, "typed", typed, &error))
    g_error ("%s", error->message);

  {
    g_autofree gchar *listen = g_strdup_printf ("unix:abstract=gen-fuzz-node-%u", (guint) getpid ());

    if (!gen_node_listen (node, listen, &error))
      g_error ("%s", error->message);
  }
  g_atomic_pointer_set (&address, g_strdup (gen_node_get_address (node)));

  for (;;)
    g_main_context_iteration (context, TRUE);
  return NULL;
}

static GDBusConnection *
fuzz_peer (void)
{
  g_autoptr(GError) error = NULL;

  if (peer != NULL && !g_dbus_connection_is_closed (peer))
    return peer;

  g_clear_object (&peer);
  peer = g_dbus_connection_new_for_address_sync (g_atomic_pointer_get (&address),
                                                 G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                 NULL, NULL, &error);
  if (peer == NULL)
    g_error ("%s", error->message);
  return peer;
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_log_set_handler ("Gen", G_LOG_LEVEL_MASK & ~G_LOG_LEVEL_ERROR, fuzz_quiet, NULL);

  context = g_main_context_new ();
  g_thread_unref (g_thread_new ("node", node_thread_main, NULL));
  while (g_atomic_pointer_get (&address) == NULL)
    g_thread_yield ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static const struct
  {
    const gchar *path, *interface, *method, *type;
    gboolean reply;
  } methods[] = {
    { NODE_PATH, NODE_INTERFACE, "Casts", "(ay)", FALSE },
    { NODE_PATH, NODE_INTERFACE, "Hello", "(s)", TRUE },
    { GEN_NODE_REGISTRY_PATH "/any", GEN_DBUS_INTERFACE, "Cast", "(v)", FALSE },
    { GEN_NODE_REGISTRY_PATH "/typed", GEN_DBUS_INTERFACE, "Call", "(vi)", TRUE },
  };
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GVariant) normal = NULL;
  g_autoptr(GVariant) reply = NULL;
  GDBusConnection *connection;
  guint which;

  if (size < 1)
    return 0;
  which = data[0] % G_N_ELEMENTS (methods);
  bytes = g_bytes_new (data + 1, size - 1);
  body = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (methods[which].type),
                                                       bytes, FALSE));
  normal = g_variant_get_normal_form (body);
  connection = fuzz_peer ();

  if (methods[which].reply)
    {
      g_autoptr(GVariant) answer = NULL;

      answer = g_dbus_connection_call_sync (connection, NULL, methods[which].path,
                                            methods[which].interface, methods[which].method,
                                            normal, NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL,
                                            NULL);
    }
  else
    {
      g_autoptr(GDBusMessage) message = NULL;

      message = g_dbus_message_new_method_call (NULL, methods[which].path,
                                                methods[which].interface, methods[which].method);
      g_dbus_message_set_body (message, normal);
      g_dbus_message_set_flags (message, G_DBUS_MESSAGE_FLAGS_NO_REPLY_EXPECTED);
      /* A body D-Bus cannot carry (a maybe inside a variant) is refused
       * here, which is the sender's business. */
      g_dbus_connection_send_message (connection, message, G_DBUS_SEND_MESSAGE_FLAGS_NONE,
                                      NULL, NULL);
    }

  /* Dispatched in order on the node's context: once this is answered,
   * the message before it was handled there. */
  reply = g_dbus_connection_call_sync (connection, NULL, GEN_NODE_REGISTRY_PATH "/typed",
                                       GEN_DBUS_INTERFACE, "Call",
                                       g_variant_new ("(vi)", g_variant_new ("(sx)", "get", 0),
                                                      5000),
                                       NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
  return 0;
}
