/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <time.h>

#include <genserver/genserver.h>

#include "test-common.h"

/* A counter server that the tests steer with (sx) messages: a command and
 * an argument. Every field below it touches is used only on the server's
 * thread, except those marked otherwise. */

#define N_SENDERS 8

struct _TestServer
{
  GenServer parent_instance;

  /* Server thread only (tests read them after stop() joined the thread). */
  gint64 count;
  guint64 handled;
  gint64 last_seq[N_SENDERS];
  guint order_violations;

  /* Protected by `gate.lock`, broadcast on `gate.cond`: what tests wait for. */
  TestGate gate;
  guint init_count;
  guint terminate_count;
  GError *terminate_reason;
  GThread *handler_thread;
};

G_DECLARE_FINAL_TYPE (TestServer, test_server, TEST, SERVER, GenServer)
G_DEFINE_TYPE (TestServer, test_server, GEN_TYPE_SERVER)

static void
test_server_init_server (GenServer  *server,
                         GVariant   *args,
                         GError    **error)
{
  TestServer *self = TEST_SERVER (server);
  const gchar *command = "ok";
  gint64 start = 0;

  if (args != NULL)
    g_variant_get (args, "(&sx)", &command, &start);

  g_mutex_lock (&self->gate.lock);
  self->init_count++;
  self->handler_thread = g_thread_self ();
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);

  if (g_str_equal (command, "fail"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   "init refused: %" G_GINT64_FORMAT, start);
      return;
    }

  self->count = start;
  self->handled = 0;
  self->order_violations = 0;
  for (guint i = 0; i < N_SENDERS; i++)
    self->last_seq[i] = -1;
}

static void
test_server_handle_cast (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  TestServer *self = TEST_SERVER (server);
  const gchar *command;
  gint64 arg;

  self->handled++;
  if (!g_variant_is_of_type (message, G_VARIANT_TYPE ("(sx)")))
    return;
  g_variant_get (message, "(&sx)", &command, &arg);

  if (g_str_equal (command, "add"))
    self->count += arg;
  else if (g_str_equal (command, "seq"))
    {
      /* arg = sender * 1e9 + sequence number */
      guint sender = arg / 1000000000;
      gint64 seq = arg % 1000000000;

      if (seq != self->last_seq[sender] + 1)
        self->order_violations++;
      self->last_seq[sender] = seq;
    }
  else if (g_str_equal (command, "block"))
    test_gate_pass (&self->gate);
  else if (g_str_equal (command, "crash"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "crashed on purpose");
}

static GVariant *
test_server_handle_call (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  TestServer *self = TEST_SERVER (server);
  const gchar *command;
  gint64 arg;

  self->handled++;
  if (!g_variant_is_of_type (message, G_VARIANT_TYPE ("(sx)")))
    return g_variant_new ("s", g_variant_get_type_string (message));
  g_variant_get (message, "(&sx)", &command, &arg);

  if (g_str_equal (command, "get"))
    return g_variant_new_int64 (self->count);
  if (g_str_equal (command, "add"))
    return g_variant_new_int64 (self->count += arg);
  if (g_str_equal (command, "echo"))
    return g_variant_new_int64 (arg);
  if (g_str_equal (command, "handled"))
    return g_variant_new_uint64 (self->handled);
  if (g_str_equal (command, "violations"))
    return g_variant_new_uint32 (self->order_violations);
  if (g_str_equal (command, "block"))
    {
      test_gate_pass (&self->gate);
      return g_variant_new_int64 (self->count);
    }
  if (g_str_equal (command, "fail"))
    {
      g_set_error (error, G_IO_ERROR, (gint) arg, "failed with code %" G_GINT64_FORMAT, arg);
      return NULL;
    }
  if (g_str_equal (command, "nothing"))
    return NULL;
  if (g_str_equal (command, "self"))
    {
      g_autoptr(GError) self_error = NULL;
      g_autoptr(GVariant) reply = NULL;

      reply = gen_server_call (server, test_message ("get", 0), -1, &self_error);
      g_assert_null (reply);
      return g_variant_new ("(is)", self_error->code, self_error->domain == GEN_SERVER_ERROR ?
                            "gen" : "other");
    }
  if (g_str_equal (command, "stop"))
    {
      gboolean stopped = gen_server_stop (server, -1, NULL);
      g_autoptr(GError) again_error = NULL;

      /* A second stop from inside: the server is already stopping. */
      g_assert_false (gen_server_stop (server, -1, &again_error));
      g_assert_error (again_error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
      return g_variant_new_boolean (stopped);
    }

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "unknown command %s", command);
  return NULL;
}

static void
test_server_terminate (GenServer    *server,
                       const GError *reason)
{
  TestServer *self = TEST_SERVER (server);

  g_mutex_lock (&self->gate.lock);
  self->terminate_count++;
  /* On a pool, any thread may run any handler, one at a time. */
  if (gen_server_get_scheduler (server) == NULL)
    g_assert_true (self->handler_thread == g_thread_self ());
  g_clear_error (&self->terminate_reason);
  if (reason != NULL)
    self->terminate_reason = g_error_copy (reason);
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);
}

static void
test_server_finalize (GObject *object)
{
  TestServer *self = TEST_SERVER (object);

  g_clear_error (&self->terminate_reason);
  test_gate_clear (&self->gate);

  G_OBJECT_CLASS (test_server_parent_class)->finalize (object);
}

static void
test_server_class_init (TestServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  object_class->finalize = test_server_finalize;
  server_class->init = test_server_init_server;
  server_class->handle_cast = test_server_handle_cast;
  server_class->handle_call = test_server_handle_call;
  server_class->terminate = test_server_terminate;
}

static void
test_server_init (TestServer *self)
{
  test_gate_init (&self->gate);
}

static TestServer *
start_server (void)
{
  return test_start_ok (g_object_new (test_server_get_type (), NULL), NULL);
}

static gpointer
stop_server_in_thread (gpointer server)
{
  test_stop_ok (server);
  return NULL;
}

static gint64
call_int64 (TestServer  *server,
            const gchar *command,
            gint64       arg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = gen_server_call (GEN_SERVER (server), test_message (command, arg),
                           TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (reply, G_VARIANT_TYPE_INT64));
  return g_variant_get_int64 (reply);
}

static void
cast_ok (TestServer  *server,
         const gchar *command,
         gint64       arg)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_server_cast (GEN_SERVER (server), test_message (command, arg), &error));
  g_assert_no_error (error);
}

/* Tests ------------------------------------------------------------------ */

static void
test_start_stop (void)
{
  g_autoptr(TestServer) server = g_object_new (test_server_get_type (), NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (gen_server_is_running (GEN_SERVER (server)));
  g_assert_true (gen_server_start (GEN_SERVER (server), test_message ("ok", 5), &error));
  g_assert_no_error (error);
  g_assert_true (gen_server_is_running (GEN_SERVER (server)));
  /* start returned only after init ran, on another thread (on a pool,
   * right here: start() waits for it anyway). */
  g_assert_cmpuint (test_gate_get (&server->gate, &server->init_count), ==, 1);
  if (gen_server_get_scheduler (GEN_SERVER (server)) == NULL)
    g_assert_true (server->handler_thread != g_thread_self ());
  else
    g_assert_true (server->handler_thread == g_thread_self ());
  g_assert_cmpint (call_int64 (server, "get", 0), ==, 5);

  g_assert_true (gen_server_stop (GEN_SERVER (server), 1000, &error));
  g_assert_no_error (error);
  g_assert_false (gen_server_is_running (GEN_SERVER (server)));
  g_assert_cmpuint (server->terminate_count, ==, 1);
  g_assert_null (server->terminate_reason);
}

static void
test_double_start (void)
{
  g_autoptr(TestServer) server = start_server ();
  g_autoptr(GError) error = NULL;

  g_assert_false (gen_server_start (GEN_SERVER (server), NULL, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_ALREADY_RUNNING);
  g_assert_nonnull (strstr (error->message, "TestServer"));
  g_assert_true (gen_server_is_running (GEN_SERVER (server)));
  g_assert_cmpuint (test_gate_get (&server->gate, &server->init_count), ==, 1);
  test_stop_ok (server);
}

static void
test_double_stop (void)
{
  g_autoptr(TestServer) server = start_server ();
  g_autoptr(GError) error = NULL;

  test_stop_ok (server);
  g_assert_false (gen_server_stop (GEN_SERVER (server), -1, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_assert_cmpuint (server->terminate_count, ==, 1);
}

static void
test_stop_never_started (void)
{
  g_autoptr(TestServer) server = g_object_new (test_server_get_type (), NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_false (gen_server_stop (GEN_SERVER (server), -1, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&error);

  g_assert_false (gen_server_cast (GEN_SERVER (server), test_message ("add", 1), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&error);

  reply = gen_server_call (GEN_SERVER (server), test_message ("get", 0), -1, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_assert_cmpuint (server->terminate_count, ==, 0);
}

static void
test_cast_increment_decrement (void)
{
  g_autoptr(TestServer) server = start_server ();

  cast_ok (server, "add", 1);
  cast_ok (server, "add", 1);
  cast_ok (server, "add", 1);
  cast_ok (server, "add", -1);
  /* The call comes after the casts from the same thread, so sees them. */
  g_assert_cmpint (call_int64 (server, "get", 0), ==, 2);
  test_stop_ok (server);
}

static void
test_call_get_and_increment (void)
{
  g_autoptr(TestServer) server = start_server ();

  g_assert_cmpint (call_int64 (server, "get", 0), ==, 0);
  g_assert_cmpint (call_int64 (server, "add", 1), ==, 1);
  g_assert_cmpint (call_int64 (server, "add", 2), ==, 3);
  g_assert_cmpint (call_int64 (server, "get", 0), ==, 3);
  test_stop_ok (server);
}

static void
test_floating_and_owned_messages (void)
{
  g_autoptr(TestServer) server = start_server ();
  g_autoptr(GVariant) owned = g_variant_ref_sink (test_message ("add", 4));
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  /* A reference the caller owns stays the caller's. */
  g_assert_true (gen_server_cast (GEN_SERVER (server), owned, NULL));
  reply = gen_server_call (GEN_SERVER (server), owned, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (reply), ==, 8);
  g_assert_false (g_variant_is_floating (owned));
  g_assert_cmpstr (g_variant_get_type_string (owned), ==, "(sx)");
  test_stop_ok (server);
}

/* An async call made after another, to tell whether the server took that
 * one: answered if it did not, queued behind the gate if it did. */
typedef struct
{
  TestServer *server;
  GVariant *reply;   /* owned, once done */
  GError *error;     /* owned, once done */
  gboolean done;
} Marker;

static void
marker_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Marker *marker = data;

  marker->reply = gen_server_call_finish (GEN_SERVER (source), result, &marker->error);
  marker->done = TRUE;
}

static gboolean
marker_done (gpointer data)
{
  return ((Marker *) data)->done;
}

static gboolean
blocked_or_marker_done (gpointer data)
{
  Marker *marker = data;
  gboolean blocked;

  g_mutex_lock (&marker->server->gate.lock);
  blocked = marker->server->gate.blocked > 0;
  g_mutex_unlock (&marker->server->gate.lock);
  return blocked || marker->done;
}

static void
test_call_timeout (void)
{
  g_autoptr(TestServer) server = start_server ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  guint64 handled_before;
  Marker marker = { server, NULL, NULL, FALSE };
  guint n_markers = 0;

  reply = gen_server_call (GEN_SERVER (server), test_message ("handled", 0), -1, NULL);
  handled_before = g_variant_get_uint64 (reply);
  g_assert_cmpuint (handled_before, ==, 1);
  g_clear_pointer (&reply, g_variant_unref);

  /* The handler runs past the deadline: TIMEOUT, and its late reply is
   * dropped (valgrind would see it leak). A call that times out while
   * still queued is never handled, so on a busy machine the 50 ms call may
   * expire before the handler took it: then it is tried again with twice
   * the timeout, until a marker call after it waits behind the gate. */
  for (gint timeout_ms = 50;; timeout_ms *= 2)
    {
      g_autofree gchar *in_time = g_strdup_printf ("%d ms", timeout_ms);

      g_assert_cmpint (timeout_ms, <=, TEST_CALL_TIMEOUT_MS);
      g_clear_pointer (&marker.reply, g_variant_unref);
      marker.done = FALSE;
      reply = gen_server_call (GEN_SERVER (server), test_message ("block", 0), timeout_ms, &error);
      g_assert_null (reply);
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
      g_assert_nonnull (strstr (error->message, in_time));
      g_clear_error (&error);

      gen_server_call_async (GEN_SERVER (server), test_message ("handled", 0), -1,
                             NULL, marker_done_cb, &marker);
      n_markers++;
      test_iterate_until (blocked_or_marker_done, &marker);
      if (!marker.done)
        break;
      g_assert_no_error (marker.error);
    }
  test_gate_wait_for (&server->gate, &server->gate.blocked, 1);

  /* Queued behind it, this one times out before it is taken: never run. */
  reply = gen_server_call (GEN_SERVER (server), test_message ("add", 100), 20, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&error);

  /* Zero means "do not wait": it is not run either. */
  reply = gen_server_call (GEN_SERVER (server), test_message ("add", 1000), 0, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&error);

  test_gate_open (&server->gate);
  test_iterate_until (marker_done, &marker);
  g_assert_no_error (marker.error);
  g_clear_pointer (&marker.reply, g_variant_unref);
  g_assert_cmpint (call_int64 (server, "get", 0), ==, 0);
  /* handled, block, the markers, get and this one: the abandoned adds
   * (and blocks) never ran. */
  reply = gen_server_call (GEN_SERVER (server), test_message ("handled", 0), -1, NULL);
  g_assert_cmpuint (g_variant_get_uint64 (reply), ==, 4 + n_markers);
  test_stop_ok (server);
}

static void
test_terminate_once (void)
{
  g_autoptr(TestServer) server = start_server ();

  cast_ok (server, "add", 1);
  test_stop_ok (server);
  g_assert_cmpuint (server->terminate_count, ==, 1);
  g_assert_false (gen_server_stop (GEN_SERVER (server), -1, NULL));
  g_assert_cmpuint (server->terminate_count, ==, 1);

  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, NULL));
  test_stop_ok (server);
  g_assert_cmpuint (server->terminate_count, ==, 2);
}

static void
test_init_failure (void)
{
  g_autoptr(TestServer) server = g_object_new (test_server_get_type (), NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_false (gen_server_start (GEN_SERVER (server), test_message ("fail", 7), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_cmpstr (error->message, ==, "init refused: 7");
  g_clear_error (&error);
  g_assert_false (gen_server_is_running (GEN_SERVER (server)));
  /* init failed: no terminate, as in OTP. */
  g_assert_cmpuint (server->terminate_count, ==, 0);

  g_assert_false (gen_server_cast (GEN_SERVER (server), test_message ("add", 1), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&error);
  reply = gen_server_call (GEN_SERVER (server), test_message ("get", 0), -1, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&error);

  /* A failed start leaves the server ready for another try. */
  g_assert_true (gen_server_start (GEN_SERVER (server), test_message ("ok", 3), &error));
  g_assert_no_error (error);
  g_assert_cmpint (call_int64 (server, "get", 0), ==, 3);
  test_stop_ok (server);
}

static void
test_handler_error (void)
{
  g_autoptr(TestServer) server = start_server ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = gen_server_call (GEN_SERVER (server), test_message ("fail", G_IO_ERROR_NOT_FOUND),
                           -1, &error);
  g_assert_null (reply);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "failed with code 1");
  g_clear_error (&error);

  /* The server lives on. */
  g_assert_true (gen_server_is_running (GEN_SERVER (server)));
  g_assert_cmpint (call_int64 (server, "add", 1), ==, 1);

  /* A handler returning neither reply nor error is answered with FAILED. */
  reply = gen_server_call (GEN_SERVER (server), test_message ("nothing", 0), -1, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "neither a reply nor an error"));
  g_assert_cmpint (call_int64 (server, "get", 0), ==, 1);
  test_stop_ok (server);
}

static void
test_cast_crash (void)
{
  g_autoptr(TestServer) server = start_server ();
  TestCall queued = { server, "get", -1, NULL, NULL };
  GThread *thread;

  /* Hold the server at the gate, queue a crash and then a call behind it. */
  cast_ok (server, "block", 0);
  test_gate_wait_for (&server->gate, &server->gate.blocked, 1);
  cast_ok (server, "crash", 0);
  thread = g_thread_new ("caller", test_call_in_thread, &queued);
  test_wait_until ((TestPredicate) test_mailbox_has, &(TestMailbox) { GEN_SERVER (server), 2 });

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestServer crashed: crashed on purpose*");
  test_gate_open (&server->gate);
  test_gate_wait_for (&server->gate, &server->terminate_count, 1);
  g_thread_join (thread);
  g_test_assert_expected_messages ();

  g_assert_error (server->terminate_reason, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_assert_null (queued.reply);
  g_assert_error (queued.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);
  g_clear_error (&queued.error);
  g_assert_false (gen_server_is_running (GEN_SERVER (server)));

  /* Brought back, it starts afresh. */
  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, NULL));
  g_assert_cmpint (call_int64 (server, "get", 0), ==, 0);
  test_stop_ok (server);
}

static void
test_typed_messages (void)
{
  g_autoptr(TestServer) server = g_object_new (test_server_get_type (),
                                               "cast-type", "(sx)",
                                               "call-type", "(sx)",
                                               NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_cmpstr (gen_server_get_cast_type (GEN_SERVER (server)), ==, "(sx)");
  g_assert_cmpstr (gen_server_get_call_type (GEN_SERVER (server)), ==, "(sx)");
  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, NULL));

  g_assert_false (gen_server_cast (GEN_SERVER (server), g_variant_new ("(ss)", "add", "1"), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "“(sx)”"));
  g_assert_nonnull (strstr (error->message, "“(ss)”"));
  g_clear_error (&error);

  reply = gen_server_call (GEN_SERVER (server), g_variant_new_int32 (1), -1, &error);
  g_assert_null (reply);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "“i”"));
  g_clear_error (&error);

  /* The handler saw neither: only this call. */
  reply = gen_server_call (GEN_SERVER (server), test_message ("handled", 0), -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_uint64 (reply), ==, 1);
  test_stop_ok (server);
}

/* A subclass declaring its message types in class_init. */
typedef TestServer TestTypedServer;
typedef TestServerClass TestTypedServerClass;
static GType test_typed_server_get_type (void);
G_DEFINE_TYPE (TestTypedServer, test_typed_server, test_server_get_type ())

static void
test_typed_server_class_init (TestTypedServerClass *klass)
{
  gen_server_class_set_cast_type (GEN_SERVER_CLASS (klass), "(sx)");
  gen_server_class_set_call_type (GEN_SERVER_CLASS (klass), "(sx)");
}

static void
test_typed_server_init (TestTypedServer *self)
{
}

static void
test_class_types (void)
{
  g_autoptr(GenServer) server = g_object_new (test_typed_server_get_type (), NULL);
  g_autoptr(GenServer) overridden = g_object_new (test_typed_server_get_type (),
                                                  "call-type", "s", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (gen_server_get_cast_type (server), ==, "(sx)");
  g_assert_cmpstr (gen_server_get_call_type (server), ==, "(sx)");
  g_assert_cmpstr (gen_server_get_call_type (overridden), ==, "s");
  g_assert_cmpstr (gen_server_get_cast_type (overridden), ==, "(sx)");

  g_assert_true (gen_server_start (server, NULL, NULL));
  g_assert_false (gen_server_cast (server, g_variant_new_string ("x"), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_true (gen_server_stop (server, -1, NULL));
}

static void
test_invalid_type_string (void)
{
  g_autoptr(TestServer) server = NULL;
  g_autoptr(GError) error = NULL;

  g_test_expect_message ("Gen", G_LOG_LEVEL_WARNING, "*“(si” is not a valid GVariant type string for cast-type*");
  server = g_object_new (test_server_get_type (), "cast-type", "(si", NULL);
  g_test_assert_expected_messages ();
  g_assert_null (gen_server_get_cast_type (GEN_SERVER (server)));

  g_assert_false (gen_server_start (GEN_SERVER (server), NULL, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_TYPE);
  g_assert_nonnull (strstr (error->message, "(si"));
  g_assert_false (gen_server_is_running (GEN_SERVER (server)));
  g_assert_cmpuint (server->init_count, ==, 0);
}

static void
test_many_casts_then_stop (void)
{
  g_autoptr(TestServer) server = start_server ();
  const gint64 n = 100000;

  for (gint64 i = 0; i < n; i++)
    cast_ok (server, "add", 1);
  test_stop_ok (server);
  /* stop() joined the server thread: its state is ours to read now. */
  g_assert_cmpint (server->count, ==, n);
  g_assert_cmpuint (server->handled, ==, n);
}

static void
test_calls_pending_at_stop (void)
{
  g_autoptr(TestServer) server = start_server ();
  TestCall calls[4];
  GThread *threads[4];
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) late = NULL;
  GThread *stopper;

  cast_ok (server, "block", 0);
  test_gate_wait_for (&server->gate, &server->gate.blocked, 1);
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      calls[i] = (TestCall) { server, "get", -1, NULL, NULL };
      threads[i] = g_thread_new ("caller", test_call_in_thread, &calls[i]);
    }
  test_wait_until ((TestPredicate) test_mailbox_has, &(TestMailbox) { GEN_SERVER (server), 4 });

  stopper = g_thread_new ("stopper", stop_server_in_thread, server);
  test_wait_until ((TestPredicate) test_not_running, server);

  /* After the stop: refused at once. */
  /* Bounded: were it queued, it would wait behind the gate forever. */
  late = gen_server_call (GEN_SERVER (server), test_message ("get", 0), 5000, &error);
  g_assert_null (late);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);

  test_gate_open (&server->gate);
  g_thread_join (stopper);
  for (guint i = 0; i < G_N_ELEMENTS (calls); i++)
    {
      g_thread_join (threads[i]);
      g_assert_no_error (calls[i].error);
      g_assert_cmpint (g_variant_get_int64 (calls[i].reply), ==, 0);
      g_variant_unref (calls[i].reply);
    }
  g_assert_cmpuint (server->terminate_count, ==, 1);
}

static void
test_restart (void)
{
  g_autoptr(TestServer) server = start_server ();
  GThread *first_thread = server->handler_thread;

  g_assert_cmpint (call_int64 (server, "add", 10), ==, 10);
  test_stop_ok (server);

  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, NULL));
  g_assert_true (gen_server_is_running (GEN_SERVER (server)));
  /* init ran again: fresh state. */
  g_assert_cmpint (call_int64 (server, "get", 0), ==, 0);
  g_assert_cmpuint (test_gate_get (&server->gate, &server->init_count), ==, 2);
  (void) first_thread;
  test_stop_ok (server);

  /* Several rounds, to shake out a stale thread or mailbox. */
  for (guint i = 0; i < 20; i++)
    {
      g_assert_true (gen_server_start (GEN_SERVER (server), NULL, NULL));
      cast_ok (server, "add", 1);
      test_stop_ok (server);
      g_assert_cmpint (server->count, ==, 1);
    }
}

static void
test_calling_self (void)
{
  g_autoptr(TestServer) server = start_server ();
  g_autoptr(GVariant) reply = NULL;
  gint code;
  const gchar *domain;

  reply = gen_server_call (GEN_SERVER (server), test_message ("self", 0), 5000, NULL);
  g_assert_nonnull (reply);
  g_variant_get (reply, "(i&s)", &code, &domain);
  g_assert_cmpint (code, ==, GEN_SERVER_ERROR_CALLING_SELF);
  g_assert_cmpstr (domain, ==, "gen");
  test_stop_ok (server);
}

static void
test_stop_from_handler (void)
{
  g_autoptr(TestServer) server = start_server ();
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  TestCall stopping = { server, "stop", -1, NULL, NULL };
  TestCall queued = { server, "get", -1, NULL, NULL };
  GThread *stop_caller, *caller;

  /* Block, then queue the stop call and one more call behind it. */
  cast_ok (server, "block", 0);
  test_gate_wait_for (&server->gate, &server->gate.blocked, 1);
  stop_caller = g_thread_new ("stop-caller", test_call_in_thread, &stopping);
  test_wait_until ((TestPredicate) test_mailbox_has, &(TestMailbox) { GEN_SERVER (server), 1 });
  caller = g_thread_new ("caller", test_call_in_thread, &queued);
  test_wait_until ((TestPredicate) test_mailbox_has, &(TestMailbox) { GEN_SERVER (server), 2 });
  test_gate_open (&server->gate);
  g_thread_join (caller);
  g_thread_join (stop_caller);

  /* stop() from the handler returned at once and the reply got through. */
  g_assert_no_error (stopping.error);
  g_assert_true (g_variant_get_boolean (stopping.reply));
  g_variant_unref (stopping.reply);

  /* The call queued behind the stop was answered STOPPED. */
  g_assert_null (queued.reply);
  g_assert_error (queued.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);
  g_clear_error (&queued.error);
  test_gate_wait_for (&server->gate, &server->terminate_count, 1);
  test_wait_until ((TestPredicate) test_not_running, server);

  /* It can be started again; the old thread is joined on the way. */
  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, &error));
  g_assert_no_error (error);
  reply = gen_server_call (GEN_SERVER (server), test_message ("stop", 0), -1, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_get_boolean (reply));
  test_gate_wait_for (&server->gate, &server->terminate_count, 2);
}

static void
test_stop_timeout (void)
{
  g_autoptr(TestServer) server = start_server ();
  g_autoptr(GError) error = NULL;

  cast_ok (server, "block", 0);
  test_gate_wait_for (&server->gate, &server->gate.blocked, 1);
  g_assert_false (gen_server_stop (GEN_SERVER (server), 30, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_assert_nonnull (strstr (error->message, "did not stop within 30 ms"));
  g_clear_error (&error);
  g_assert_false (gen_server_is_running (GEN_SERVER (server)));

  test_gate_open (&server->gate);
  test_gate_wait_for (&server->gate, &server->terminate_count, 1);
  /* start waits for the stop to finish and joins the old thread. */
  g_assert_true (gen_server_start (GEN_SERVER (server), NULL, &error));
  g_assert_no_error (error);
  test_stop_ok (server);
}

typedef struct
{
  TestServer *server;
  guint sender;
  guint n;
  guint wrong;
} Sender;

static gpointer
sender_calls (gpointer data)
{
  Sender *sender = data;

  for (guint i = 0; i < sender->n; i++)
    {
      gint64 token = (gint64) sender->sender * 1000000000 + i;
      g_autoptr(GVariant) reply = NULL;

      /* Cast then call: per-sender order is checked by the server for the
       * casts, and by this thread for the replies. */
      gen_server_cast (GEN_SERVER (sender->server), test_message ("seq", token), NULL);
      reply = gen_server_call (GEN_SERVER (sender->server), test_message ("echo", token),
                               TEST_CALL_TIMEOUT_MS, NULL);
      if (reply == NULL || g_variant_get_int64 (reply) != token)
        sender->wrong++;
    }
  return NULL;
}

static void
test_many_threads (void)
{
  g_autoptr(TestServer) server = start_server ();
  Sender senders[N_SENDERS];
  GThread *threads[N_SENDERS];
  guint n = g_test_thorough () ? 100000 : 10000;
  g_autoptr(GVariant) violations = NULL;

  for (guint i = 0; i < N_SENDERS; i++)
    {
      senders[i] = (Sender) { server, i, n, 0 };
      threads[i] = g_thread_new ("sender", sender_calls, &senders[i]);
    }
  for (guint i = 0; i < N_SENDERS; i++)
    {
      g_thread_join (threads[i]);
      g_assert_cmpuint (senders[i].wrong, ==, 0);
    }

  violations = gen_server_call (GEN_SERVER (server), test_message ("violations", 0), -1, NULL);
  g_assert_cmpuint (g_variant_get_uint32 (violations), ==, 0);
  test_stop_ok (server);
  for (guint i = 0; i < N_SENDERS; i++)
    g_assert_cmpint (server->last_seq[i], ==, n - 1);
}

static gboolean
weak_ref_is_gone (gpointer data)
{
  GObject *object = g_weak_ref_get (data);
  gboolean gone = object == NULL;

  g_clear_object (&object);
  return gone;
}

static void
test_keeps_itself_alive (void)
{
  TestServer *server = start_server ();
  TestServer *weak = server;

  g_object_add_weak_pointer (G_OBJECT (server), (gpointer *) &weak);
  g_object_unref (server);
  /* Running, it holds itself. */
  g_assert_nonnull (weak);
  g_assert_true (gen_server_is_running (GEN_SERVER (weak)));
  cast_ok (weak, "add", 1);
  g_assert_cmpint (call_int64 (weak, "get", 0), ==, 1);

  /* Stopped, it goes once the last reference does (maybe on its thread). */
  server = g_object_ref (weak);
  g_object_remove_weak_pointer (G_OBJECT (server), (gpointer *) &weak);
  test_stop_ok (server);
  if (gen_server_get_scheduler (GEN_SERVER (server)) == NULL)
    {
      g_assert_cmpint (G_OBJECT (server)->ref_count, ==, 1);
      g_object_unref (server);
    }
  else
    {
      /* The worker that ran the stop lets go of the server just after. */
      GWeakRef ref;

      g_weak_ref_init (&ref, server);
      g_object_unref (server);
      test_wait_until (weak_ref_is_gone, &ref);
      g_weak_ref_clear (&ref);
    }
}

static void
test_exit_with_running_servers (void)
{
  if (g_test_subprocess ())
    {
      /* Leaked on purpose: the process exits with them running, one busy
       * with casts, one idle, one blocked in a handler. */
      TestServer *busy = start_server ();
      TestServer *idle = start_server ();
      TestServer *blocked = start_server ();

      (void) idle;
      cast_ok (blocked, "block", 0);
      test_gate_wait_for (&blocked->gate, &blocked->gate.blocked, 1);
      for (guint i = 0; i < 1000; i++)
        cast_ok (busy, "add", 1);
      return;
    }

  g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static gpointer
error_quark_in_thread (gpointer data)
{
  return GUINT_TO_POINTER (GEN_SERVER_ERROR);
}

static void
test_error_quark_threads (void)
{
  if (g_test_subprocess ())
    {
      /* A fresh process, where nothing made the error quark yet: threads
       * making it at once must not race (TSan checks). */
      GThread *threads[4];

      for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
        threads[i] = g_thread_new ("quark", error_quark_in_thread, NULL);
      for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
        g_assert_cmpuint (GPOINTER_TO_UINT (g_thread_join (threads[i])), ==,
                          g_quark_from_static_string ("gen-server-error-quark"));
      return;
    }

  g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static gdouble
process_cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_idle_uses_no_cpu (void)
{
  TestServer *servers[4];
  GMutex mutex;
  GCond never;
  gint64 window_end;
  gdouble cpu_before, cpu_used;
  const gdouble window = 0.5;

  for (guint i = 0; i < G_N_ELEMENTS (servers); i++)
    {
      servers[i] = start_server ();
      g_assert_cmpint (call_int64 (servers[i], "add", 1), ==, 1);
    }

  /* Measure the process's CPU time across a window in which this thread
   * blocks too: whatever is spent, the idle servers spent. Any spinning
   * must end within its bound (microseconds) and fall asleep. */
  g_mutex_init (&mutex);
  g_cond_init (&never);
  cpu_before = process_cpu_seconds ();
  window_end = g_get_monotonic_time () + window * G_USEC_PER_SEC;
  g_mutex_lock (&mutex);
  while (g_cond_wait_until (&never, &mutex, window_end))
    ;
  g_mutex_unlock (&mutex);
  cpu_used = process_cpu_seconds () - cpu_before;
  g_mutex_clear (&mutex);
  g_cond_clear (&never);

  g_test_message ("4 idle servers used %.4f s of CPU in %.1f s", cpu_used, window);
  g_assert_cmpfloat (cpu_used / window, <, 0.05);

  for (guint i = 0; i < G_N_ELEMENTS (servers); i++)
    {
      test_stop_ok (servers[i]);
      g_object_unref (servers[i]);
    }
}

/* Pauses around the waiting bounds of gen-server-private.h (GEN_SPIN_PAUSE_NS,
 * GEN_SPIN_NS), so that messages meet the server busy, spinning, yielding,
 * falling asleep and asleep. */
static const gulong wake_pauses_us[] = { 0, 1, 4, 8, 30, 60, 120 };
#define WAKE_ROUNDS 300

static gpointer
cast_in_bursts (gpointer server)
{
  for (guint round = 0; round < WAKE_ROUNDS; round++)
    {
      for (guint i = 0; i <= round % 3; i++)
        cast_ok (server, "add", 1);
      g_usleep (wake_pauses_us[round % G_N_ELEMENTS (wake_pauses_us)]);
    }
  return NULL;
}

static void
test_wakes_from_idle (void)
{
  g_autoptr(TestServer) server = start_server ();
  GThread *producers[2];
  gint64 expected = 0;

  for (guint round = 0; round < WAKE_ROUNDS; round++)
    expected += round % 3 + 1;

  for (guint i = 0; i < G_N_ELEMENTS (producers); i++)
    producers[i] = g_thread_new ("producer", cast_in_bursts, server);
  /* A lost wake-up shows as a call that times out. */
  for (guint round = 0; round < WAKE_ROUNDS / 3; round++)
    {
      call_int64 (server, "get", 0);
      g_usleep (wake_pauses_us[round % G_N_ELEMENTS (wake_pauses_us)]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (producers); i++)
    g_thread_join (producers[i]);

  g_assert_cmpint (call_int64 (server, "get", 0), ==, G_N_ELEMENTS (producers) * expected);
  test_stop_ok (server);
}

static void
test_programmer_errors (void)
{
  g_autoptr(GVariant) message = g_variant_ref_sink (test_message ("get", 0));
  g_autoptr(GObject) not_a_server = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(TestServer) server = start_server ();

  g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*GEN_IS_SERVER*");
  g_assert_false (gen_server_start (NULL, NULL, NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*GEN_IS_SERVER*");
  g_assert_false (gen_server_cast ((GenServer *) not_a_server, message, NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*GEN_IS_SERVER*");
  g_assert_null (gen_server_call (NULL, message, -1, NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*message != NULL*");
  g_assert_false (gen_server_cast (GEN_SERVER (server), NULL, NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*message != NULL*");
  g_assert_null (gen_server_call (GEN_SERVER (server), NULL, -1, NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*GEN_IS_SERVER*");
  g_assert_false (gen_server_stop ((GenServer *) not_a_server, -1, NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*GEN_IS_SERVER*");
  g_assert_false (gen_server_is_running (NULL));
  g_test_assert_expected_messages ();

  /* Still healthy. */
  g_assert_cmpint (call_int64 (server, "get", 0), ==, 0);
  test_stop_ok (server);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/server/start-stop", test_start_stop);
  g_test_add_func ("/server/double-start", test_double_start);
  g_test_add_func ("/server/double-stop", test_double_stop);
  g_test_add_func ("/server/stop-never-started", test_stop_never_started);
  g_test_add_func ("/server/cast-increment-decrement", test_cast_increment_decrement);
  g_test_add_func ("/server/call-get-and-increment", test_call_get_and_increment);
  g_test_add_func ("/server/floating-and-owned-messages", test_floating_and_owned_messages);
  g_test_add_func ("/server/call-timeout", test_call_timeout);
  g_test_add_func ("/server/terminate-once", test_terminate_once);
  g_test_add_func ("/server/init-failure", test_init_failure);
  g_test_add_func ("/server/handler-error", test_handler_error);
  g_test_add_func ("/server/cast-crash", test_cast_crash);
  g_test_add_func ("/server/typed-messages", test_typed_messages);
  g_test_add_func ("/server/class-types", test_class_types);
  g_test_add_func ("/server/invalid-type-string", test_invalid_type_string);
  g_test_add_func ("/server/many-casts-then-stop", test_many_casts_then_stop);
  g_test_add_func ("/server/calls-pending-at-stop", test_calls_pending_at_stop);
  g_test_add_func ("/server/restart", test_restart);
  g_test_add_func ("/server/calling-self", test_calling_self);
  g_test_add_func ("/server/stop-from-handler", test_stop_from_handler);
  g_test_add_func ("/server/stop-timeout", test_stop_timeout);
  g_test_add_func ("/server/many-threads", test_many_threads);
  g_test_add_func ("/server/keeps-itself-alive", test_keeps_itself_alive);
  g_test_add_func ("/server/exit-with-running-servers", test_exit_with_running_servers);
  g_test_add_func ("/server/error-quark-threads", test_error_quark_threads);
  g_test_add_func ("/server/idle-uses-no-cpu", test_idle_uses_no_cpu);
  g_test_add_func ("/server/wakes-from-idle", test_wakes_from_idle);
  g_test_add_func ("/server/programmer-errors", test_programmer_errors);

  return g_test_run ();
}
