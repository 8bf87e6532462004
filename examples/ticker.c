/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A timer-driven server, called asynchronously from a main loop.
 *
 * The ticker ticks every 100 ms with gen_server_send_after(). The main
 * thread runs a GMainLoop and asks, without blocking, to be told when the
 * ticker reaches three ticks: the server defers that reply (GenReply) until
 * its third tick, and the answer arrives in the main loop's callback.
 *
 *   cc ticker.c $(pkg-config --cflags --libs genserver-1) -o ticker
 */

#include <locale.h>

#include <genserver/genserver.h>

#define TICKER_TYPE_SERVER (ticker_server_get_type ())
G_DECLARE_FINAL_TYPE (TickerServer, ticker_server, TICKER, SERVER, GenServer)

struct _TickerServer
{
  GenServer parent_instance;

  /* Touched only by the server's thread. */
  gint ticks;
  gint wanted;       /* answer `waiting` at this many ticks */
  GenReply *waiting; /* owned, nullable */
};

G_DEFINE_FINAL_TYPE (TickerServer, ticker_server, GEN_TYPE_SERVER)

#define TICK_MS 100

static void
ticker_server_init_server (GenServer  *server,
                           GVariant   *args,
                           GError    **error)
{
  TICKER_SERVER (server)->ticks = 0;
  gen_server_send_after (server, g_variant_new_string ("tick"), TICK_MS, error);
}

static void
ticker_server_handle_info (GenServer  *server,
                           GVariant   *message,
                           GError    **error)
{
  TickerServer *self = TICKER_SERVER (server);

  if (!g_variant_is_of_type (message, G_VARIANT_TYPE_STRING) ||
      !g_str_equal (g_variant_get_string (message, NULL), "tick"))
    return;

  g_print ("Tick %d\n", ++self->ticks);
  if (self->waiting != NULL && self->ticks >= self->wanted)
    {
      gen_reply_return_value (self->waiting, g_variant_new_int32 (self->ticks));
      g_clear_object (&self->waiting);
    }
  gen_server_send_after (server, g_variant_new_string ("tick"), TICK_MS, error);
}

/* Call: (si) ("wait-for", n) → i, answered once the ticker reached n. */
static GVariant *
ticker_server_handle_call (GenServer  *server,
                           GVariant   *message,
                           GError    **error)
{
  TickerServer *self = TICKER_SERVER (server);
  const gchar *command;
  gint wanted;

  g_variant_get (message, "(&si)", &command, &wanted);
  if (!g_str_equal (command, "wait-for"))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "Unknown command “%s”", command);
      return NULL;
    }
  if (self->ticks >= wanted)
    return g_variant_new_int32 (self->ticks);
  if (self->waiting != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "Somebody is waiting already");
      return NULL;
    }

  /* Answer later, from handle_info. */
  self->wanted = wanted;
  self->waiting = gen_server_take_reply (server);
  return NULL;
}

static void
ticker_server_terminate (GenServer    *server,
                         const GError *reason)
{
  g_clear_object (&TICKER_SERVER (server)->waiting);
  g_print ("Ticker stopped.\n");
}

static void
ticker_server_class_init (TickerServerClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->init = ticker_server_init_server;
  server_class->handle_info = ticker_server_handle_info;
  server_class->handle_call = ticker_server_handle_call;
  server_class->terminate = ticker_server_terminate;
  gen_server_class_set_call_type (server_class, "(si)");
}

static void
ticker_server_init (TickerServer *self)
{
}

static void
reached_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GMainLoop *loop = user_data;
  g_autoptr(GVariant) ticks = NULL;
  g_autoptr(GError) error = NULL;

  /* On the main thread, from the main loop. */
  ticks = gen_server_call_finish (GEN_SERVER (source), result, &error);
  if (ticks == NULL)
    g_printerr ("ticker: %s\n", error->message);
  else
    g_print ("Ticker reached %d ticks.\n", g_variant_get_int32 (ticks));
  g_main_loop_quit (loop);
}

int
main (void)
{
  g_autoptr(TickerServer) ticker = g_object_new (TICKER_TYPE_SERVER, NULL);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;

  setlocale (LC_ALL, "");

  if (!gen_server_start (GEN_SERVER (ticker), NULL, &error))
    {
      g_printerr ("ticker: %s\n", error->message);
      return 1;
    }

  gen_server_call_async (GEN_SERVER (ticker), g_variant_new ("(si)", "wait-for", 3),
                         GEN_SERVER_DEFAULT_TIMEOUT, NULL, reached_cb, loop);
  g_main_loop_run (loop);

  return gen_server_stop (GEN_SERVER (ticker), -1, NULL) ? 0 : 1;
}
