/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A server on the main context, in a main-loop program without GTK.
 *
 * The greeter runs its handlers on the main thread's GMainContext (the
 * main-context property), as a GTK application's servers would to touch
 * its widgets, and as every GJS server does. The main thread therefore
 * calls it only with gen_server_call_async(): a synchronous call from there
 * would wait for itself, and fails at once with CALLING_SELF. Each step
 * starts from the callback of the one before: a reply, a call cancelled
 * while it is still queued (so it is never handled), and a call that times
 * out while its handler holds the reply.
 *
 *   cc mainloop.c $(pkg-config --cflags --libs genserver-1) -o mainloop
 */

#include <locale.h>

#include <genserver/genserver.h>

#define GREETER_TYPE_SERVER (greeter_server_get_type ())
G_DECLARE_FINAL_TYPE (GreeterServer, greeter_server, GREETER, SERVER, GenServer)

struct _GreeterServer
{
  GenServer parent_instance;

  GenReply *held; /* owned, nullable; the main thread only, as every handler */
};

G_DEFINE_FINAL_TYPE (GreeterServer, greeter_server, GEN_TYPE_SERVER)

/* Call: (ss) ("greet", name) → s, or ("hold", "") → never answered. */
static GVariant *
greeter_server_handle_call (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  GreeterServer *self = GREETER_SERVER (server);
  const gchar *command, *name;

  g_variant_get (message, "(&s&s)", &command, &name);
  if (g_str_equal (command, "hold"))
    {
      /* Keep the caller waiting: its timeout answers it. */
      g_clear_object (&self->held);
      self->held = gen_server_take_reply (server);
      return NULL;
    }

  g_print ("Greeting %s\n", name);
  return g_variant_new_take_string (g_strdup_printf ("Hello, %s!", name));
}

static void
greeter_server_terminate (GenServer    *server,
                          const GError *reason)
{
  GreeterServer *self = GREETER_SERVER (server);

  /* Every reply taken is answered (dropping one is a warning); this one
   * timed out, and its late answer is dropped. */
  if (self->held != NULL)
    gen_reply_return_value (self->held, g_variant_new_string ("too late"));
  g_clear_object (&self->held);
  g_print ("Greeter stopped.\n");
}

static void
greeter_server_class_init (GreeterServerClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->handle_call = greeter_server_handle_call;
  server_class->terminate = greeter_server_terminate;
  gen_server_class_set_call_type (server_class, "(ss)");
}

static void
greeter_server_init (GreeterServer *self)
{
}

typedef struct
{
  GenServer *greeter; /* unowned: main outlives the steps */
  GMainLoop *loop;    /* unowned */
} Steps;

static void step_cancelled (Steps *steps);
static void step_timeout (Steps *steps);

static void
print_result (const gchar  *what,
              GenServer    *greeter,
              GAsyncResult *result)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = gen_server_call_finish (greeter, result, &error);
  if (reply != NULL)
    g_print ("%s: %s\n", what, g_variant_get_string (reply, NULL));
  else
    g_print ("%s: %s\n", what, error->message);
}

static void
greeted_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  print_result ("Reply", GEN_SERVER (source), result);
  step_cancelled (user_data);
}

static void
cancelled_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  print_result ("Cancelled call", GEN_SERVER (source), result);
  step_timeout (user_data);
}

static void
timed_out_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Steps *steps = user_data;

  print_result ("Held call", GEN_SERVER (source), result);
  g_main_loop_quit (steps->loop);
}

static void
step_cancelled (Steps *steps)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  gen_server_call_async (steps->greeter, g_variant_new ("(ss)", "greet", "nobody"),
                         GEN_SERVER_DEFAULT_TIMEOUT, cancellable, cancelled_cb, steps);
  /* Still in the mailbox: the handler never sees it. */
  g_cancellable_cancel (cancellable);
}

static void
step_timeout (Steps *steps)
{
  gen_server_call_async (steps->greeter, g_variant_new ("(ss)", "hold", ""),
                         100, NULL, timed_out_cb, steps);
}

int
main (void)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GenServer) greeter = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  Steps steps;

  setlocale (LC_ALL, "");

  greeter = g_object_new (GREETER_TYPE_SERVER,
                          "main-context", g_main_context_default (),
                          NULL);
  if (!gen_server_start (greeter, NULL, &error))
    g_error ("%s", error->message);

  reply = gen_server_call (greeter, g_variant_new ("(ss)", "greet", "me"),
                           GEN_SERVER_DEFAULT_TIMEOUT, &error);
  g_print ("Blocking call: %s\n", error->message);

  steps.greeter = greeter;
  steps.loop = loop;
  gen_server_call_async (greeter, g_variant_new ("(ss)", "greet", "main loop"),
                         GEN_SERVER_DEFAULT_TIMEOUT, NULL, greeted_cb, &steps);
  g_main_loop_run (loop);

  /* From the context's own thread, stop handles what is left right here. */
  return gen_server_stop (greeter, -1, NULL) ? 0 : 1;
}
