/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The counter of the original Python genserver README, in C: messages are
 * dictionaries (a{sv}) with an "action" key.
 *
 *   cc counter.c $(pkg-config --cflags --libs genserver-1) -o counter
 */

#include <locale.h>

#include <genserver/genserver.h>

#define COUNTER_TYPE_SERVER (counter_server_get_type ())
G_DECLARE_FINAL_TYPE (CounterServer, counter_server, COUNTER, SERVER, GenServer)

struct _CounterServer
{
  GenServer parent_instance;
  gint count; /* touched only by the server's thread */
};

G_DEFINE_FINAL_TYPE (CounterServer, counter_server, GEN_TYPE_SERVER)

static const gchar *
lookup_action (GVariant *message)
{
  const gchar *action = NULL;

  if (g_variant_is_of_type (message, G_VARIANT_TYPE_VARDICT))
    g_variant_lookup (message, "action", "&s", &action);
  return action != NULL ? action : "";
}

static void
counter_server_init_server (GenServer  *server,
                            GVariant   *args,
                            GError    **error)
{
  COUNTER_SERVER (server)->count = 0;
}

static void
counter_server_handle_cast (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  CounterServer *self = COUNTER_SERVER (server);
  const gchar *action = lookup_action (message);

  if (g_str_equal (action, "increment"))
    self->count++;
  else if (g_str_equal (action, "decrement"))
    self->count--;
}

static GVariant *
counter_server_handle_call (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  CounterServer *self = COUNTER_SERVER (server);
  const gchar *action = lookup_action (message);

  if (g_str_equal (action, "get_count"))
    return g_variant_new_int32 (self->count);
  if (g_str_equal (action, "increment_and_get"))
    return g_variant_new_int32 (++self->count);

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "Unknown action “%s”", action);
  return NULL;
}

static void
counter_server_terminate (GenServer    *server,
                          const GError *reason)
{
  g_print ("Counter Server Stopped.\n");
}

static void
counter_server_class_init (CounterServerClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->init = counter_server_init_server;
  server_class->handle_cast = counter_server_handle_cast;
  server_class->handle_call = counter_server_handle_call;
  server_class->terminate = counter_server_terminate;
}

static void
counter_server_init (CounterServer *self)
{
}

/* {"action": <action>} */
static GVariant *
action_message (const gchar *action)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "action", "s", action);
  return g_variant_dict_end (&dict);
}

int
main (void)
{
  g_autoptr(CounterServer) counter = g_object_new (COUNTER_TYPE_SERVER, NULL);
  g_autoptr(GVariant) count = NULL;
  g_autoptr(GVariant) new_count = NULL;
  g_autoptr(GError) error = NULL;

  setlocale (LC_ALL, "");

  if (!gen_server_start (GEN_SERVER (counter), NULL, &error))
    goto fail;

  gen_server_cast (GEN_SERVER (counter), action_message ("increment"), NULL);
  gen_server_cast (GEN_SERVER (counter), action_message ("increment"), NULL);

  count = gen_server_call (GEN_SERVER (counter), action_message ("get_count"),
                           GEN_SERVER_DEFAULT_TIMEOUT, &error);
  if (count == NULL)
    goto fail;
  g_print ("Current Count: %d\n", g_variant_get_int32 (count));

  new_count = gen_server_call (GEN_SERVER (counter), action_message ("increment_and_get"),
                               GEN_SERVER_DEFAULT_TIMEOUT, &error);
  if (new_count == NULL)
    goto fail;
  g_print ("Incremented Count: %d\n", g_variant_get_int32 (new_count));

  if (!gen_server_stop (GEN_SERVER (counter), GEN_SERVER_DEFAULT_TIMEOUT, &error))
    goto fail;
  return 0;

fail:
  g_printerr ("counter: %s\n", error->message);
  return 1;
}
