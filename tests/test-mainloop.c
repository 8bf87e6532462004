/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "genserver/gen-spin-private.h"
#include "test-common.h"

/* A server that logs what it handles, for the main-loop side of genserver:
 * async calls, servers on a main context, handle_info, timers, the idle
 * timeout, continues and deferred replies. Messages are (sx). */

struct _LoopServer
{
  GenServer parent_instance;

  /* Handler thread only (tests read it through the "events" call or after
   * stop()). */
  gint64 count;
  guint64 handled;
  GPtrArray *events; /* gchar * */

  /* Protected by `gate.lock`, broadcast on `gate.cond`. */
  TestGate gate;
  guint infos;
  guint terminated;
  GThread *last_handler_thread;
  GenReply *parked_reply; /* a deferred reply for the test to answer */
};

G_DECLARE_FINAL_TYPE (LoopServer, loop_server, LOOP, SERVER, GenServer)
G_DEFINE_FINAL_TYPE (LoopServer, loop_server, GEN_TYPE_SERVER)

static void
loop_server_log (LoopServer  *self,
                 const gchar *kind,
                 GVariant    *message)
{
  g_autofree gchar *text = g_variant_print (message, FALSE);

  g_ptr_array_add (self->events, g_strdup_printf ("%s:%s", kind, text));
  g_mutex_lock (&self->gate.lock);
  self->last_handler_thread = g_thread_self ();
  g_mutex_unlock (&self->gate.lock);
}

static void
loop_server_init_server (GenServer  *server,
                         GVariant   *args,
                         GError    **error)
{
  LoopServer *self = LOOP_SERVER (server);

  self->count = 0;
  self->handled = 0;
  g_ptr_array_set_size (self->events, 0);
  g_mutex_lock (&self->gate.lock);
  self->last_handler_thread = g_thread_self ();
  g_mutex_unlock (&self->gate.lock);

  if (args != NULL)
    {
      const gchar *command;
      gint64 arg;

      g_variant_get (args, "(&sx)", &command, &arg);
      if (g_str_equal (command, "continue"))
        gen_server_continue (server, g_variant_new_string ("from-init"));
      else if (g_str_equal (command, "timer"))
        gen_server_send_after (server, g_variant_new_string ("from-init"), arg, NULL);
    }
}

static void
loop_server_handle_cast (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  LoopServer *self = LOOP_SERVER (server);
  const gchar *command;
  gint64 arg;

  self->handled++;
  loop_server_log (self, "cast", message);
  g_variant_get (message, "(&sx)", &command, &arg);
  if (g_str_equal (command, "add"))
    self->count += arg;
  else if (g_str_equal (command, "block"))
    test_gate_pass (&self->gate);
  else if (g_str_equal (command, "continue"))
    gen_server_continue (server, g_variant_new_int64 (arg));
  else if (g_str_equal (command, "send-after"))
    {
      g_autoptr(GError) local_error = NULL;
      guint id = gen_server_send_after (server, g_variant_new_string ("late"), arg, &local_error);

      g_ptr_array_add (self->events, g_strdup_printf ("send-after:%s",
                                                      id != 0 ? "ok" : local_error->message));
    }
}

static GVariant *
loop_server_handle_call (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  LoopServer *self = LOOP_SERVER (server);
  const gchar *command;
  gint64 arg;

  self->handled++;
  loop_server_log (self, "call", message);
  g_variant_get (message, "(&sx)", &command, &arg);

  if (g_str_equal (command, "get"))
    return g_variant_new_int64 (self->count);
  if (g_str_equal (command, "add"))
    return g_variant_new_int64 (self->count += arg);
  if (g_str_equal (command, "handled"))
    return g_variant_new_uint64 (self->handled);
  if (g_str_equal (command, "events"))
    return g_variant_new_strv ((const gchar * const *) self->events->pdata, self->events->len);
  if (g_str_equal (command, "block"))
    {
      test_gate_pass (&self->gate);
      return g_variant_new_int64 (self->count);
    }
  if (g_str_equal (command, "fail"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "failed on purpose");
      return NULL;
    }
  if (g_str_equal (command, "park"))
    {
      /* Deferred: the test answers through the parked handle. */
      g_mutex_lock (&self->gate.lock);
      self->parked_reply = gen_server_take_reply (server);
      g_cond_broadcast (&self->gate.cond);
      g_mutex_unlock (&self->gate.lock);
      return NULL;
    }
  if (g_str_equal (command, "drop"))
    {
      GenReply *reply = gen_server_take_reply (server);

      g_object_unref (reply); /* never answered */
      return NULL;
    }

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "unknown command %s", command);
  return NULL;
}

static void
loop_server_handle_info (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  LoopServer *self = LOOP_SERVER (server);

  loop_server_log (self, gen_server_is_idle_timeout (message) ? "idle" : "info", message);
  g_mutex_lock (&self->gate.lock);
  self->infos++;
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);

  if (g_variant_is_of_type (message, G_VARIANT_TYPE_STRING) &&
      g_str_equal (g_variant_get_string (message, NULL), "crash"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "info crashed");
}

static void
loop_server_handle_continue (GenServer  *server,
                             GVariant   *message,
                             GError    **error)
{
  loop_server_log (LOOP_SERVER (server), "continue", message);
}

static void
loop_server_terminate (GenServer    *server,
                       const GError *reason)
{
  LoopServer *self = LOOP_SERVER (server);

  g_mutex_lock (&self->gate.lock);
  self->terminated++;
  self->last_handler_thread = g_thread_self ();
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);
}

static void
loop_server_finalize (GObject *object)
{
  LoopServer *self = LOOP_SERVER (object);

  g_ptr_array_unref (self->events);
  test_gate_clear (&self->gate);
  G_OBJECT_CLASS (loop_server_parent_class)->finalize (object);
}

static void
loop_server_class_init (LoopServerClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = loop_server_finalize;
  server_class->init = loop_server_init_server;
  server_class->handle_cast = loop_server_handle_cast;
  server_class->handle_call = loop_server_handle_call;
  server_class->handle_info = loop_server_handle_info;
  server_class->handle_continue = loop_server_handle_continue;
  server_class->terminate = loop_server_terminate;
  gen_server_class_set_cast_type (server_class, "(sx)");
  gen_server_class_set_call_type (server_class, "(sx)");
}

static void
loop_server_init (LoopServer *self)
{
  self->events = g_ptr_array_new_with_free_func (g_free);
  test_gate_init (&self->gate);
}

/* Helpers ----------------------------------------------------------------- */

static LoopServer *
loop_server_new (GMainContext *context)
{
  return g_object_new (loop_server_get_type (), "main-context", context, NULL);
}

static LoopServer *
start_loop_server (GVariant *args)
{
  return test_start_ok (loop_server_new (NULL), args);
}

/* Steals the parked reply if there is one, without waiting. */
static GenReply *
steal_parked_reply (LoopServer *self)
{
  GenReply *reply;

  g_mutex_lock (&self->gate.lock);
  reply = g_steal_pointer (&self->parked_reply);
  g_mutex_unlock (&self->gate.lock);
  return reply;
}

static GenReply *
wait_for_parked_reply (LoopServer *self)
{
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;
  GenReply *reply;

  g_mutex_lock (&self->gate.lock);
  while (self->parked_reply == NULL)
    if (!g_cond_wait_until (&self->gate.cond, &self->gate.lock, deadline))
      break;
  g_mutex_unlock (&self->gate.lock);
  /* Only the test thread takes the parked reply: it is still there. */
  reply = steal_parked_reply (self);
  g_assert_nonnull (reply);
  return reply;
}

static GVariant *
call_ok (LoopServer  *server,
         const gchar *command,
         gint64       arg)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply;

  reply = gen_server_call (GEN_SERVER (server), test_message (command, arg),
                           TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_nonnull (reply);
  return reply;
}

static void
cast_ok (LoopServer  *server,
         const gchar *command,
         gint64       arg)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_server_cast (GEN_SERVER (server), test_message (command, arg), &error));
  g_assert_no_error (error);
}

/* The events the server logged, as one string "a|b|c". */
static gchar *
events_of (LoopServer *server)
{
  g_autoptr(GVariant) events = call_ok (server, "events", 0);
  g_autofree const gchar **strv = g_variant_get_strv (events, NULL);

  return g_strjoinv ("|", (gchar **) strv);
}

static guint64
handled_of (LoopServer *server)
{
  g_autoptr(GVariant) handled = call_ok (server, "handled", 0);

  return g_variant_get_uint64 (handled);
}

static gboolean
flag_is_set (gpointer flag)
{
  return g_atomic_int_get ((gboolean *) flag);
}

/* Iterates @context until *@done, failing the test at the deadline. */
static void
iterate_until (GMainContext *context,
               gboolean     *done)
{
  test_iterate_context_until (context, flag_is_set, done);
}

typedef struct
{
  gboolean done;
  GVariant *reply;
  GError *error;
  GThread *thread;
  GMainContext *context;
  guint order;
} AsyncResult;

static guint async_order;

static void
async_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  AsyncResult *async = data;

  async->reply = gen_server_call_finish (GEN_SERVER (source), result, &async->error);
  async->thread = g_thread_self ();
  async->context = g_main_context_get_thread_default ();
  async->order = ++async_order;
  async->done = TRUE;
}

static void
async_result_clear (AsyncResult *async)
{
  g_clear_pointer (&async->reply, g_variant_unref);
  g_clear_error (&async->error);
}

/* Async calls -------------------------------------------------------------- */

typedef struct
{
  LoopServer *server;
  gboolean ok;
} AsyncInThread;

static gpointer
async_calls_in_thread (gpointer data)
{
  AsyncInThread *test = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  AsyncResult results[3] = { { 0, }, };

  g_main_context_push_thread_default (context);
  async_order = 0;
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      gen_server_call_async (GEN_SERVER (test->server), test_message ("add", 1),
                             TEST_CALL_TIMEOUT_MS, NULL, async_result_cb, &results[i]);
      /* Never from inside call_async, even when the reply is there. */
      g_assert_false (results[i].done);
    }

  iterate_until (context, &results[2].done);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_assert_true (results[i].done);
      g_assert_no_error (results[i].error);
      /* On this thread, in this context, in the order sent. */
      g_assert_true (results[i].thread == g_thread_self ());
      g_assert_true (results[i].context == context);
      g_assert_cmpuint (results[i].order, ==, i + 1);
      g_assert_cmpint (g_variant_get_int64 (results[i].reply), ==, i + 1);
      async_result_clear (&results[i]);
    }
  g_main_context_pop_thread_default (context);
  test->ok = TRUE;
  return NULL;
}

static void
test_call_async_context_and_order (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  AsyncInThread test = { server, FALSE };

  g_thread_join (g_thread_new ("async-caller", async_calls_in_thread, &test));
  g_assert_true (test.ok);
  test_stop_ok (server);
}

static void
test_call_async_errors (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  g_autoptr(LoopServer) stopped = loop_server_new (NULL);
  AsyncResult failing = { 0, }, not_running = { 0, }, invalid = { 0, };

  gen_server_call_async (GEN_SERVER (server), test_message ("fail", 0), -1,
                         NULL, async_result_cb, &failing);
  gen_server_call_async (GEN_SERVER (stopped), test_message ("get", 0), -1,
                         NULL, async_result_cb, &not_running);
  gen_server_call_async (GEN_SERVER (server), g_variant_new_int32 (3), -1,
                         NULL, async_result_cb, &invalid);
  /* Even errors known at once come through the context. */
  g_assert_false (not_running.done);
  g_assert_false (invalid.done);

  iterate_until (NULL, &failing.done);
  iterate_until (NULL, &not_running.done);
  iterate_until (NULL, &invalid.done);
  g_assert_error (failing.error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_error (not_running.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_assert_error (invalid.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  async_result_clear (&failing);
  async_result_clear (&not_running);
  async_result_clear (&invalid);
  test_stop_ok (server);
}

static void
test_call_async_cancel_queued (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) precancelled = g_cancellable_new ();
  AsyncResult queued = { 0, }, early = { 0, };

  cast_ok (server, "block", 0);
  test_gate_wait_for (&server->gate, &server->gate.blocked, 1);

  gen_server_call_async (GEN_SERVER (server), test_message ("add", 10), -1,
                         cancellable, async_result_cb, &queued);
  g_cancellable_cancel (precancelled);
  gen_server_call_async (GEN_SERVER (server), test_message ("add", 100), -1,
                         precancelled, async_result_cb, &early);
  g_cancellable_cancel (cancellable);
  iterate_until (NULL, &queued.done);
  iterate_until (NULL, &early.done);
  g_assert_error (queued.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_error (early.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  test_gate_open (&server->gate);
  /* block, the handled call itself: the cancelled adds never ran. */
  g_assert_cmpuint (handled_of (server), ==, 2);
  {
    g_autoptr(GVariant) count = call_ok (server, "get", 0);
    g_assert_cmpint (g_variant_get_int64 (count), ==, 0);
  }
  async_result_clear (&queued);
  async_result_clear (&early);
  test_stop_ok (server);
}

static void
test_call_async_cancel_running (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AsyncResult running = { 0, };

  gen_server_call_async (GEN_SERVER (server), test_message ("block", 0), -1,
                         cancellable, async_result_cb, &running);
  test_gate_wait_for (&server->gate, &server->gate.blocked, 1);
  /* The handler runs on; the caller is told at once, and the late reply
   * is dropped. */
  g_cancellable_cancel (cancellable);
  iterate_until (NULL, &running.done);
  g_assert_error (running.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  test_gate_open (&server->gate);
  g_assert_cmpuint (handled_of (server), ==, 2);
  async_result_clear (&running);
  test_stop_ok (server);
}

static void
test_call_async_timeout (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  AsyncResult timed_out = { 0, }, queued = { 0, };

  gen_server_call_async (GEN_SERVER (server), test_message ("block", 0), 30,
                         NULL, async_result_cb, &timed_out);
  gen_server_call_async (GEN_SERVER (server), test_message ("add", 5), 30,
                         NULL, async_result_cb, &queued);
  iterate_until (NULL, &timed_out.done);
  iterate_until (NULL, &queued.done);
  g_assert_error (timed_out.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_assert_error (queued.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  test_gate_open (&server->gate);
  {
    g_autoptr(GVariant) count = call_ok (server, "get", 0);
    g_assert_cmpint (g_variant_get_int64 (count), ==, 0);
  }
  async_result_clear (&timed_out);
  async_result_clear (&queued);
  test_stop_ok (server);
}

/* A thread with no context of its own gets its replies on the global default
 * context, which another thread runs: there a reply can be delivered while
 * call_async is still setting the call up (its timeout and cancellable). */
#define N_WORKER_CALLS 200

typedef struct
{
  LoopServer *server;
  GCancellable *cancellable;
  AsyncResult results[N_WORKER_CALLS];
} WorkerCalls;

static gpointer
async_calls_from_worker (gpointer data)
{
  WorkerCalls *test = data;

  for (guint i = 0; i < N_WORKER_CALLS; i++)
    gen_server_call_async (GEN_SERVER (test->server), test_message ("add", 1),
                           TEST_CALL_TIMEOUT_MS, test->cancellable,
                           async_result_cb, &test->results[i]);
  return NULL;
}

static void
test_call_async_default_context_worker (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  WorkerCalls *test = g_new0 (WorkerCalls, 1);
  GThread *worker;

  test->server = server;
  test->cancellable = cancellable;
  worker = g_thread_new ("worker", async_calls_from_worker, test);
  for (guint i = 0; i < N_WORKER_CALLS; i++)
    iterate_until (NULL, &test->results[i].done);
  g_thread_join (worker);

  for (guint i = 0; i < N_WORKER_CALLS; i++)
    {
      g_assert_no_error (test->results[i].error);
      g_assert_true (test->results[i].thread == g_thread_self ());
      g_assert_cmpint (g_variant_get_int64 (test->results[i].reply), ==, i + 1);
      async_result_clear (&test->results[i]);
    }
  /* Every call disconnected from the cancellable when it completed. */
  g_cancellable_cancel (cancellable);
  g_free (test);
  test_stop_ok (server);
}

/* Servers on a main context ------------------------------------------------- */

typedef struct
{
  LoopServer *server;
  guint n;
  gint64 last;
  gboolean done; /* atomic */
} CallerThread;

static gpointer
sync_calls_in_thread (gpointer data)
{
  CallerThread *caller = data;

  for (guint i = 0; i < caller->n; i++)
    {
      g_autoptr(GVariant) reply = call_ok (caller->server, "add", 1);

      caller->last = g_variant_get_int64 (reply);
    }
  g_atomic_int_set (&caller->done, TRUE);
  g_main_context_wakeup (gen_server_get_main_context (GEN_SERVER (caller->server)));
  return NULL;
}

static void
test_context_server_on_this_thread (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(LoopServer) server = loop_server_new (context);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  AsyncResult async = { 0, };
  CallerThread caller = { server, 50, 0, FALSE };
  GThread *thread;

  g_main_context_push_thread_default (context);
  g_assert_true (gen_server_get_main_context (GEN_SERVER (server)) == context);

  /* Nobody runs the context: init runs right here. */
  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (server->last_handler_thread == g_thread_self ());

  /* A sync call from the thread that runs the context would wait for
   * itself. */
  reply = gen_server_call (GEN_SERVER (server), test_message ("get", 0), 1000, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_CALLING_SELF);
  g_clear_error (&error);

  /* Calls from another thread are handled here while we iterate. */
  thread = g_thread_new ("caller", sync_calls_in_thread, &caller);
  gen_server_call_async (GEN_SERVER (server), test_message ("add", 1000), -1,
                         NULL, async_result_cb, &async);
  iterate_until (context, &async.done);
  iterate_until (context, &caller.done);
  g_thread_join (thread);
  g_assert_no_error (async.error);
  g_assert_cmpint (caller.last % 1000, ==, 50);
  g_assert_true (server->last_handler_thread == g_thread_self ());
  async_result_clear (&async);

  /* stop from this thread drains here, and terminate runs here. */
  cast_ok (server, "add", 1);
  g_assert_true (gen_server_stop (GEN_SERVER (server), -1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (server->count, ==, 1051);
  g_assert_cmpuint (server->terminated, ==, 1);
  g_assert_true (server->last_handler_thread == g_thread_self ());
  g_main_context_pop_thread_default (context);
}

static void
test_context_server_default_context_worker (void)
{
  g_autoptr(LoopServer) server = loop_server_new (g_main_context_default ());
  CallerThread caller = { server, 20, 0, FALSE };
  GThread *thread;

  /* This thread runs init inline: nobody iterates the default context. */
  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, NULL));

  /* A worker whose thread-default context is the default one too is not
   * the server's thread: it waits for this thread to iterate. */
  thread = g_thread_new ("worker", sync_calls_in_thread, &caller);
  iterate_until (NULL, &caller.done);
  g_thread_join (thread);
  g_assert_cmpint (caller.last, ==, 20);
  test_stop_ok (server);
}

static void
test_context_server_on_other_thread (void)
{
  TestLoopThread loop_thread;
  g_autoptr(LoopServer) server = NULL;
  g_autoptr(GError) error = NULL;
  GThread *thread;

  test_loop_thread_start (&loop_thread);
  thread = loop_thread.thread;
  server = loop_server_new (loop_thread.context);
  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (server->last_handler_thread == thread);

  for (gint64 i = 1; i <= 100; i++)
    {
      g_autoptr(GVariant) reply = call_ok (server, "add", 1);
      g_assert_cmpint (g_variant_get_int64 (reply), ==, i);
    }
  g_assert_true (server->last_handler_thread == thread);

  g_assert_true (gen_server_stop (GEN_SERVER (server), -1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (server->terminated, ==, 1);
  g_assert_true (server->last_handler_thread == thread);

  /* And again. */
  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, &error));
  {
    g_autoptr(GVariant) reply = call_ok (server, "get", 0);
    g_assert_cmpint (g_variant_get_int64 (reply), ==, 0);
  }
  test_stop_ok (server);
  test_loop_thread_stop (&loop_thread);
}

/* After a dispatch that ran servers, the context's thread waits a moment
 * for more mail before it polls, and a push meanwhile does not wake the
 * context. Calls and casts from another thread are handled whether they
 * come during that moment, after it (the thread back in poll()), or with
 * spinning off. The pauses are the pattern of the sends, not waits. */
static void
test_context_server_calls_around_the_wait (void)
{
  static const gboolean spinning[] = { TRUE, FALSE };
  gboolean was_spinning = gen_scheduler_get_spinning ();

  for (guint s = 0; s < G_N_ELEMENTS (spinning); s++)
    {
      TestLoopThread loop_thread;
      g_autoptr(LoopServer) server = NULL;
      gint64 expected = 0;

      gen_scheduler_set_spinning (spinning[s]);
      test_loop_thread_start (&loop_thread);
      server = loop_server_new (loop_thread.context);
      test_start_ok (server, NULL);

      for (guint i = 0; i < 300; i++)
        {
          g_autoptr(GVariant) reply = NULL;
          g_autoptr(GError) error = NULL;

          if (i % 3 == 1)
            {
              cast_ok (server, "add", 1);
              expected++;
            }
          /* Without a deadline too, which a call from the context's own
           * thread could not take, but this one may. */
          reply = gen_server_call (GEN_SERVER (server), test_message ("add", 1),
                                   i % 2 ? TEST_CALL_TIMEOUT_MS : -1, &error);
          g_assert_no_error (error);
          g_assert_cmpint (g_variant_get_int64 (reply), ==, ++expected);
          /* Past the moment the thread waits, every fifth time. */
          if (i % 5 == 4)
            g_usleep (2 * GEN_SPIN_NS / 1000);
        }

      test_stop_ok (server);
      test_loop_thread_stop (&loop_thread);
    }
  gen_scheduler_set_spinning (was_spinning);
}

/* Info, timers, idle timeout ------------------------------------------------ */

static void
test_send_info (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *events = NULL;

  cast_ok (server, "add", 1);
  g_assert_true (gen_server_send_info (GEN_SERVER (server), g_variant_new_string ("hello"), &error));
  g_assert_no_error (error);
  /* cast-type does not apply to info messages. */
  g_assert_true (gen_server_send_info (GEN_SERVER (server), g_variant_new_int32 (7), NULL));
  events = events_of (server);
  g_assert_cmpstr (events, ==, "cast:('add', 1)|info:'hello'|info:7|call:('events', 0)");

  /* An error from handle_info is a crash. */
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*LoopServer crashed: info crashed*");
  g_assert_true (gen_server_send_info (GEN_SERVER (server), g_variant_new_string ("crash"), NULL));
  test_gate_wait_for (&server->gate, &server->terminated, 1);
  g_test_assert_expected_messages ();
  test_wait_until ((TestPredicate) test_not_running, server);

  g_assert_false (gen_server_send_info (GEN_SERVER (server), g_variant_new_string ("late"), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
}

static void
test_timers_in_order (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  g_autofree gchar *events = NULL;

  /* Each delay counts from its own call: the gaps outlast the time
   * between these three calls. How late the context wakes does not matter
   * (see timers-in-order-when-late). */
  g_assert_cmpuint (gen_server_send_after (GEN_SERVER (server), g_variant_new_int32 (3), 600, NULL), !=, 0);
  g_assert_cmpuint (gen_server_send_after (GEN_SERVER (server), g_variant_new_int32 (1), 200, NULL), !=, 0);
  g_assert_cmpuint (gen_server_send_after (GEN_SERVER (server), g_variant_new_int32 (2), 400, NULL), !=, 0);
  test_gate_wait_for (&server->gate, &server->infos, 3);
  events = events_of (server);
  g_assert_cmpstr (events, ==, "info:1|info:2|info:3|call:('events', 0)");
  test_stop_ok (server);
}

static gboolean
monotonic_time_reached (gint64 *deadline)
{
  return g_get_monotonic_time () >= *deadline;
}

static guint
infos_of (LoopServer *server)
{
  guint infos;

  g_mutex_lock (&server->gate.lock);
  infos = server->infos;
  g_mutex_unlock (&server->gate.lock);
  return infos;
}

static gboolean
has_4_infos (LoopServer *server)
{
  return infos_of (server) >= 4;
}

/* Timers that are all overdue when their context runs again are handled in
 * deadline order, not in the order GLib dispatches their sources (the
 * order they were attached). Nobody iterates the server's context until
 * all four are due. */
static void
test_timers_in_order_when_late (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(LoopServer) server = loop_server_new (context);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *events = NULL;
  gint64 all_due;

  g_main_context_push_thread_default (context);
  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, &error));
  g_assert_no_error (error);

  all_due = g_get_monotonic_time () + 30 * G_TIME_SPAN_MILLISECOND;
  g_assert_cmpuint (gen_server_send_after (GEN_SERVER (server), g_variant_new_int32 (3), 30, NULL), !=, 0);
  g_assert_cmpuint (gen_server_send_after (GEN_SERVER (server), g_variant_new_int32 (1), 10, NULL), !=, 0);
  g_assert_cmpuint (gen_server_send_after (GEN_SERVER (server), g_variant_new_int32 (2), 20, NULL), !=, 0);
  g_assert_cmpuint (gen_server_send_after (GEN_SERVER (server), g_variant_new_int32 (4), 30, NULL), !=, 0);
  test_wait_until ((TestPredicate) monotonic_time_reached, &all_due);

  test_iterate_context_until (context, (TestPredicate) has_4_infos, server);
  g_assert_cmpuint (infos_of (server), ==, 4);
  g_ptr_array_add (server->events, NULL);
  events = g_strjoinv ("|", (gchar **) server->events->pdata);
  g_ptr_array_remove_index (server->events, server->events->len - 1);
  g_assert_cmpstr (events, ==, "info:1|info:2|info:3|info:4");

  g_assert_true (gen_server_stop (GEN_SERVER (server), -1, &error));
  g_assert_no_error (error);
  g_main_context_pop_thread_default (context);
}

static void
test_timer_from_init (void)
{
  g_autoptr(LoopServer) server = start_loop_server (test_message ("timer", 10));

  test_gate_wait_for (&server->gate, &server->infos, 1);
  test_stop_ok (server);
  g_assert_cmpstr (g_ptr_array_index (server->events, 0), ==, "info:'from-init'");
}

static void
test_timer_cancel (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *events = NULL;
  guint cancelled, queued_then_cancelled, fired;

  /* Cancelled before it fires. */
  cancelled = gen_server_send_after (GEN_SERVER (server), g_variant_new_string ("cancelled"), 10, &error);
  g_assert_no_error (error);
  g_assert_true (gen_server_cancel_timer (GEN_SERVER (server), cancelled));
  g_assert_false (gen_server_cancel_timer (GEN_SERVER (server), cancelled));

  /* Fired, its message waiting in the mailbox, then cancelled. */
  cast_ok (server, "block", 0);
  test_gate_wait_for (&server->gate, &server->gate.blocked, 1);
  queued_then_cancelled = gen_server_send_after (GEN_SERVER (server), g_variant_new_string ("queued"), 1, NULL);
  test_wait_until ((TestPredicate) test_mailbox_has, &(TestMailbox) { GEN_SERVER (server), 1 });
  g_assert_true (gen_server_cancel_timer (GEN_SERVER (server), queued_then_cancelled));
  test_gate_open (&server->gate);

  /* One that does fire, after the others would have. */
  fired = gen_server_send_after (GEN_SERVER (server), g_variant_new_string ("fired"), 30, NULL);
  test_gate_wait_for (&server->gate, &server->infos, 1);
  g_assert_false (gen_server_cancel_timer (GEN_SERVER (server), fired));
  g_assert_false (gen_server_cancel_timer (GEN_SERVER (server), 0xdeadbeef));

  events = events_of (server);
  g_assert_cmpstr (events, ==, "cast:('block', 0)|info:'fired'|call:('events', 0)");

  /* A timer still pending at stop is cancelled with the server. */
  g_assert_cmpuint (gen_server_send_after (GEN_SERVER (server), g_variant_new_string ("never"), 60000, NULL), !=, 0);
  test_stop_ok (server);

  g_assert_cmpuint (gen_server_send_after (GEN_SERVER (server), g_variant_new_string ("stopped"), 1, &error), ==, 0);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
}

static gpointer
stop_in_thread (gpointer server)
{
  test_stop_ok (server);
  return NULL;
}

static void
test_timer_while_stopping (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  g_autoptr(GError) error = NULL;
  GThread *stopper;

  cast_ok (server, "block", 0);
  test_gate_wait_for (&server->gate, &server->gate.blocked, 1);
  cast_ok (server, "send-after", 60000);
  stopper = g_thread_new ("stopper", stop_in_thread, server);
  test_wait_until ((TestPredicate) test_not_running, server);

  /* From outside, a stopping server takes no timer... */
  g_assert_cmpuint (gen_server_send_after (GEN_SERVER (server), g_variant_new_string ("x"), 1, &error), ==, 0);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);

  /* ... but its own handlers may still set one, cancelled with the rest. */
  test_gate_open (&server->gate);
  g_thread_join (stopper);
  g_assert_cmpuint (server->events->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (server->events, 1), ==, "cast:('send-after', 60000)");
  g_assert_cmpstr (g_ptr_array_index (server->events, 2), ==, "send-after:ok");
}

/* Waits @window_ms for nothing: a measurement window in which the server is
 * expected to do nothing. Not a synchronisation: what is checked afterwards
 * is that nothing happened. */
static void
quiet_window (guint window_ms)
{
  GMutex mutex;
  GCond never;
  gint64 end = g_get_monotonic_time () + window_ms * 1000;

  g_mutex_init (&mutex);
  g_cond_init (&never);
  g_mutex_lock (&mutex);
  while (g_cond_wait_until (&never, &mutex, end))
    ;
  g_mutex_unlock (&mutex);
  g_mutex_clear (&mutex);
  g_cond_clear (&never);
}

static void
check_idle_timeout (LoopServer *server)
{
  g_autofree gchar *events = NULL;

  /* Fires after a quiet stretch... */
  test_gate_wait_for (&server->gate, &server->infos, 1);
  /* ... once: no message, no second one. */
  quiet_window (200);
  g_mutex_lock (&server->gate.lock);
  g_assert_cmpuint (server->infos, ==, 1);
  g_mutex_unlock (&server->gate.lock);

  /* A message starts another stretch. */
  cast_ok (server, "add", 1);
  test_gate_wait_for (&server->gate, &server->infos, 2);
  events = events_of (server);
  g_assert_cmpstr (events, ==,
                   "idle:'gen-server.idle-timeout'|cast:('add', 1)|idle:'gen-server.idle-timeout'|call:('events', 0)");
}

static void
test_idle_timeout (void)
{
  g_autoptr(LoopServer) server = g_object_new (loop_server_get_type (), "idle-timeout", 30, NULL);

  g_assert_cmpint (gen_server_get_idle_timeout (GEN_SERVER (server)), ==, 30);
  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, NULL));
  check_idle_timeout (server);
  gen_server_set_idle_timeout (GEN_SERVER (server), -1);
  test_stop_ok (server);
}

static void
test_idle_timeout_on_context (void)
{
  TestLoopThread loop_thread;
  g_autoptr(LoopServer) server = NULL;

  test_loop_thread_start (&loop_thread);
  server = g_object_new (loop_server_get_type (), "main-context", loop_thread.context,
                         "idle-timeout", 30, NULL);
  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, NULL));
  check_idle_timeout (server);
  test_stop_ok (server);
  test_loop_thread_stop (&loop_thread);
}

/* Continues ------------------------------------------------------------------ */

static void
test_continue (void)
{
  g_autoptr(LoopServer) server = start_loop_server (test_message ("continue", 0));
  g_autofree gchar *events = NULL;

  /* Hold the server while "continue" and then "add" queue up: the
   * continue scheduled by the first runs before the second. */
  cast_ok (server, "block", 0);
  test_gate_wait_for (&server->gate, &server->gate.blocked, 1);
  cast_ok (server, "continue", 7);
  cast_ok (server, "add", 1);
  test_gate_open (&server->gate);

  events = events_of (server);
  g_assert_cmpstr (events, ==,
                   "continue:'from-init'|cast:('block', 0)|cast:('continue', 7)|"
                   "continue:7|cast:('add', 1)|call:('events', 0)");
  test_stop_ok (server);
}

/* Deferred replies -------------------------------------------------------------- */

static gpointer
answer_in_thread (gpointer reply)
{
  gen_reply_return_value (reply, g_variant_new_string ("answered later"));
  return NULL;
}

static void
test_deferred_reply (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  TestCall parked = { server, "park", -1, NULL, NULL };
  GThread *caller;
  g_autoptr(GenReply) reply = NULL;

  caller = g_thread_new ("caller", test_call_in_thread, &parked);
  reply = wait_for_parked_reply (server);
  g_assert_false (gen_reply_is_answered (reply));

  /* The server goes on while the caller waits. */
  {
    g_autoptr(GVariant) count = call_ok (server, "add", 2);
    g_assert_cmpint (g_variant_get_int64 (count), ==, 2);
  }

  g_thread_join (g_thread_new ("answerer", answer_in_thread, reply));
  g_assert_true (gen_reply_is_answered (reply));
  g_thread_join (caller);
  g_assert_no_error (parked.error);
  g_assert_cmpstr (g_variant_get_string (parked.reply, NULL), ==, "answered later");
  g_variant_unref (parked.reply);

  /* Answering twice is a programmer error; the first answer stands. */
  g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*already answered*");
  gen_reply_return_value (reply, g_variant_new_string ("again"));
  g_test_assert_expected_messages ();
  test_stop_ok (server);
}

static void
test_deferred_error (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  TestCall parked = { server, "park", -1, NULL, NULL };
  g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_BUSY, "busy later");
  GThread *caller;
  GenReply *reply;

  caller = g_thread_new ("caller", test_call_in_thread, &parked);
  reply = wait_for_parked_reply (server);
  gen_reply_return_error (reply, error);
  g_object_unref (reply);
  g_thread_join (caller);
  g_assert_null (parked.reply);
  g_assert_error (parked.error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_assert_cmpstr (parked.error->message, ==, "busy later");
  g_clear_error (&parked.error);
  test_stop_ok (server);
}

static void
test_deferred_never_answered (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_test_expect_message ("Gen", G_LOG_LEVEL_WARNING, "*dropped without an answer*");
  reply = gen_server_call (GEN_SERVER (server), test_message ("drop", 0), -1, &error);
  g_test_assert_expected_messages ();
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_REPLY);
  test_stop_ok (server);
}

static void
test_deferred_after_timeout (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  GenReply *reply = NULL;

  /* A call that times out while still queued is never handled, so on a
   * busy machine the handler may not have parked it in time: then the
   * caller tries again with twice the timeout. The "get" that follows
   * each attempt is handled after it, so the park was handled or dropped
   * by the time it returns. */
  for (gint timeout_ms = 20; reply == NULL; timeout_ms *= 2)
    {
      TestCall parked = { server, "park", timeout_ms, NULL, NULL };

      g_assert_cmpint (timeout_ms, <=, TEST_CALL_TIMEOUT_MS);
      g_thread_join (g_thread_new ("caller", test_call_in_thread, &parked));
      g_assert_error (parked.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
      g_clear_error (&parked.error);
      g_variant_unref (call_ok (server, "get", 0));
      reply = steal_parked_reply (server);
    }

  /* The caller is gone: the answer is dropped, without a leak. */
  gen_reply_return_value (reply, g_variant_new_string ("too late"));
  g_object_unref (reply);
  test_stop_ok (server);
}

static void
test_take_reply_outside_call (void)
{
  g_autoptr(LoopServer) server = start_loop_server (NULL);
  g_autoptr(GVariant) message = g_variant_ref_sink (g_variant_new_int32 (1));

  g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*server_is_handler_thread*");
  g_assert_null (gen_server_take_reply (GEN_SERVER (server)));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*server_is_handler_thread*");
  gen_server_continue (GEN_SERVER (server), message);
  g_test_assert_expected_messages ();
  test_stop_ok (server);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mainloop/call-async/context-and-order", test_call_async_context_and_order);
  g_test_add_func ("/mainloop/call-async/errors", test_call_async_errors);
  g_test_add_func ("/mainloop/call-async/cancel-queued", test_call_async_cancel_queued);
  g_test_add_func ("/mainloop/call-async/cancel-running", test_call_async_cancel_running);
  g_test_add_func ("/mainloop/call-async/timeout", test_call_async_timeout);
  g_test_add_func ("/mainloop/call-async/default-context-worker", test_call_async_default_context_worker);
  g_test_add_func ("/mainloop/context-server/this-thread", test_context_server_on_this_thread);
  g_test_add_func ("/mainloop/context-server/other-thread", test_context_server_on_other_thread);
  g_test_add_func ("/mainloop/context-server/calls-around-the-wait",
                   test_context_server_calls_around_the_wait);
  g_test_add_func ("/mainloop/context-server/default-context-worker", test_context_server_default_context_worker);
  g_test_add_func ("/mainloop/info/send-info", test_send_info);
  g_test_add_func ("/mainloop/info/timers-in-order", test_timers_in_order);
  g_test_add_func ("/mainloop/info/timers-in-order-when-late", test_timers_in_order_when_late);
  g_test_add_func ("/mainloop/info/timer-from-init", test_timer_from_init);
  g_test_add_func ("/mainloop/info/timer-cancel", test_timer_cancel);
  g_test_add_func ("/mainloop/info/timer-while-stopping", test_timer_while_stopping);
  g_test_add_func ("/mainloop/info/idle-timeout", test_idle_timeout);
  g_test_add_func ("/mainloop/info/idle-timeout-on-context", test_idle_timeout_on_context);
  g_test_add_func ("/mainloop/continue", test_continue);
  g_test_add_func ("/mainloop/deferred/reply", test_deferred_reply);
  g_test_add_func ("/mainloop/deferred/error", test_deferred_error);
  g_test_add_func ("/mainloop/deferred/never-answered", test_deferred_never_answered);
  g_test_add_func ("/mainloop/deferred/after-timeout", test_deferred_after_timeout);
  g_test_add_func ("/mainloop/deferred/outside-call", test_take_reply_outside_call);

  return g_test_run ();
}
