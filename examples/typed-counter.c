/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The typed counter of the original Python genserver README, in C: the
 * server declares the GVariant type of its messages, and a message of any
 * other type is refused in the caller before the server sees it.
 *
 *   cc typed-counter.c $(pkg-config --cflags --libs genserver-1) -o typed-counter
 */

#include <locale.h>

#include <genserver/genserver.h>

#define TYPED_COUNTER_TYPE_SERVER (typed_counter_server_get_type ())
G_DECLARE_FINAL_TYPE (TypedCounterServer, typed_counter_server, TYPED_COUNTER, SERVER, GenServer)

struct _TypedCounterServer
{
  GenServer parent_instance;
  gint count; /* touched only by the server's thread */
};

G_DEFINE_FINAL_TYPE (TypedCounterServer, typed_counter_server, GEN_TYPE_SERVER)

static void
typed_counter_server_init_server (GenServer  *server,
                                  GVariant   *args,
                                  GError    **error)
{
  TYPED_COUNTER_SERVER (server)->count = 0;
}

/* Casts are (si): an action and an amount. */
static void
typed_counter_server_handle_cast (GenServer  *server,
                                  GVariant   *message,
                                  GError    **error)
{
  TypedCounterServer *self = TYPED_COUNTER_SERVER (server);
  const gchar *action;
  gint amount;

  g_variant_get (message, "(&si)", &action, &amount);
  if (g_str_equal (action, "increment"))
    self->count += amount;
  else if (g_str_equal (action, "decrement"))
    self->count -= amount;
}

/* Calls are (s): an action; replies are i. */
static GVariant *
typed_counter_server_handle_call (GenServer  *server,
                                  GVariant   *message,
                                  GError    **error)
{
  TypedCounterServer *self = TYPED_COUNTER_SERVER (server);
  const gchar *action;

  g_variant_get (message, "(&s)", &action);
  if (g_str_equal (action, "get_count"))
    return g_variant_new_int32 (self->count);
  if (g_str_equal (action, "increment_and_get"))
    return g_variant_new_int32 (++self->count);

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "Unknown action “%s”", action);
  return NULL;
}

static void
typed_counter_server_terminate (GenServer    *server,
                                const GError *reason)
{
  g_print ("Counter Server Stopped.\n");
}

static void
typed_counter_server_class_init (TypedCounterServerClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->init = typed_counter_server_init_server;
  server_class->handle_cast = typed_counter_server_handle_cast;
  server_class->handle_call = typed_counter_server_handle_call;
  server_class->terminate = typed_counter_server_terminate;

  gen_server_class_set_cast_type (server_class, "(si)");
  gen_server_class_set_call_type (server_class, "(s)");
}

static void
typed_counter_server_init (TypedCounterServer *self)
{
}

int
main (void)
{
  g_autoptr(TypedCounterServer) counter = g_object_new (TYPED_COUNTER_TYPE_SERVER, NULL);
  GenServer *server = GEN_SERVER (counter);
  g_autoptr(GVariant) count = NULL;
  g_autoptr(GVariant) new_count = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) refused = NULL;

  setlocale (LC_ALL, "");

  if (!gen_server_start (server, NULL, &error))
    goto fail;

  gen_server_cast (server, g_variant_new ("(si)", "increment", 1), NULL);
  gen_server_cast (server, g_variant_new ("(si)", "increment", 1), NULL);

  /* Wrong type: refused here, with the expected and the actual type. */
  if (!gen_server_cast (server, g_variant_new ("(ss)", "increment", "one"), &refused))
    g_print ("Refused: %s\n", refused->message);

  count = gen_server_call (server, g_variant_new ("(s)", "get_count"),
                           GEN_SERVER_DEFAULT_TIMEOUT, &error);
  if (count == NULL)
    goto fail;
  g_print ("Current Count: %d\n", g_variant_get_int32 (count));

  new_count = gen_server_call (server, g_variant_new ("(s)", "increment_and_get"),
                               GEN_SERVER_DEFAULT_TIMEOUT, &error);
  if (new_count == NULL)
    goto fail;
  g_print ("Incremented Count: %d\n", g_variant_get_int32 (new_count));

  if (!gen_server_stop (server, GEN_SERVER_DEFAULT_TIMEOUT, &error))
    goto fail;
  return 0;

fail:
  g_printerr ("typed-counter: %s\n", error->message);
  return 1;
}
