/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"

/* Request ids and request sets. The echo server answers a call with its
 * message, fails "fail", and holds "hold:N" calls until the cast
 * "release", which answers them in reverse order of arrival with their
 * own message. */

struct _TestEcho
{
  GenServer parent_instance;

  GPtrArray *held;  /* GenReply (owned); server thread */
  GPtrArray *texts; /* gchar * (owned); server thread */
  gint handled;     /* atomic: calls handled */
  TestGate gate;    /* the call "gate" waits at it */
};

G_DECLARE_FINAL_TYPE (TestEcho, test_echo, TEST, ECHO, GenServer)
G_DEFINE_TYPE (TestEcho, test_echo, GEN_TYPE_SERVER)

static GVariant *
test_echo_handle_call (GenServer  *server,
                       GVariant   *message,
                       GError    **error)
{
  TestEcho *self = TEST_ECHO (server);
  const gchar *text = g_variant_get_string (message, NULL);

  g_atomic_int_inc (&self->handled);
  if (g_str_equal (text, "gate"))
    test_gate_pass (&self->gate);
  if (g_str_equal (text, "fail"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "failed on purpose");
      return NULL;
    }
  if (g_str_has_prefix (text, "hold"))
    {
      g_ptr_array_add (self->held, gen_server_take_reply (server));
      g_ptr_array_add (self->texts, g_strdup (text));
      return NULL;
    }
  return g_variant_ref (message);
}

static void
test_echo_handle_cast (GenServer  *server,
                       GVariant   *message,
                       GError    **error)
{
  TestEcho *self = TEST_ECHO (server);

  for (guint i = self->held->len; i > 0; i--)
    gen_reply_return_value (g_ptr_array_index (self->held, i - 1),
                            g_variant_new_string (g_ptr_array_index (self->texts, i - 1)));
  g_ptr_array_set_size (self->held, 0);
  g_ptr_array_set_size (self->texts, 0);
}

static void
test_echo_finalize (GObject *object)
{
  TestEcho *self = TEST_ECHO (object);

  g_ptr_array_unref (self->held);
  g_ptr_array_unref (self->texts);
  test_gate_clear (&self->gate);
  G_OBJECT_CLASS (test_echo_parent_class)->finalize (object);
}

static void
test_echo_terminate (GenServer    *server,
                     const GError *reason)
{
  TestEcho *self = TEST_ECHO (server);
  g_autoptr(GError) error = g_error_new_literal (GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED, "bye");

  for (guint i = 0; i < self->held->len; i++)
    gen_reply_return_error (g_ptr_array_index (self->held, i), error);
  g_ptr_array_set_size (self->held, 0);
}

static void
test_echo_class_init (TestEchoClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_echo_finalize;
  GEN_SERVER_CLASS (klass)->handle_call = test_echo_handle_call;
  GEN_SERVER_CLASS (klass)->handle_cast = test_echo_handle_cast;
  GEN_SERVER_CLASS (klass)->terminate = test_echo_terminate;
  gen_server_class_set_call_type (GEN_SERVER_CLASS (klass), "s");
}

static void
test_echo_init (TestEcho *self)
{
  self->held = g_ptr_array_new_with_free_func (g_object_unref);
  self->texts = g_ptr_array_new_with_free_func (g_free);
  test_gate_init (&self->gate);
}

static TestEcho *
echo_start (void)
{
  return test_start_ok (g_object_new (test_echo_get_type (), NULL), NULL);
}

static void
release (TestEcho *echo)
{
  g_assert_true (gen_server_cast (GEN_SERVER (echo), g_variant_new_string ("release"), NULL));
}

static void
assert_reply (GenRequest  *request,
              const gchar *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = gen_request_wait (request, 0, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (reply, NULL), ==, expected);
}

static void
assert_reply_within (GenRequest  *request,
                     const gchar *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = gen_request_wait (request, TEST_CALL_TIMEOUT_MS, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (reply, NULL), ==, expected);
}

/* A request is answered later; wait times out and leaves it pending;
 * check does not block; errors come from wait. */
static void
test_request_wait (void)
{
  g_autoptr(TestEcho) echo = echo_start ();
  g_autoptr(GenRequest) held = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("hold"));
  g_autoptr(GenRequest) echoed = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("hi"));
  g_autoptr(GenRequest) failed = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("fail"));
  g_autoptr(GenRequest) mistyped = gen_server_send_request (GEN_SERVER (echo), g_variant_new_int32 (1));
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_true (gen_request_get_server (held) == GEN_SERVER (echo));
  g_assert_null (gen_request_get_label (held));

  reply = gen_request_wait (echoed, TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (reply, NULL), ==, "hi");

  g_assert_null (gen_request_wait (failed, TEST_CALL_TIMEOUT_MS, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_null (gen_request_wait (mistyped, TEST_CALL_TIMEOUT_MS, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  /* "hold" was handled before "hi" was: it is held now. */
  g_assert_false (gen_request_check (held));
  g_assert_null (gen_request_wait (held, 0, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&error);

  release (echo);
  g_clear_pointer (&reply, g_variant_unref);
  reply = gen_request_wait (held, TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (reply, NULL), ==, "hold");
  g_assert_true (gen_request_check (held));
  assert_reply (held, "hold");  /* again */

  test_stop_ok (echo);
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_object (&held);
  held = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("late"));
  g_assert_null (gen_request_wait (held, TEST_CALL_TIMEOUT_MS, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
}

static gboolean
mailbox_has (gpointer data)
{
  TestMailbox *mailbox = data;

  return test_mailbox_has (mailbox);
}

/* receive abandons on timeout, and so does dropping a pending request:
 * the calls still queued are never run. */
static void
test_request_receive (void)
{
  g_autoptr(TestEcho) echo = echo_start ();
  g_autoptr(GenRequest) gate = NULL;
  g_autoptr(GenRequest) queued = NULL;
  g_autoptr(GenRequest) dropped = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  TestMailbox two = { GEN_SERVER (echo), 2 };

  gate = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("gate"));
  test_gate_wait_for (&echo->gate, &echo->gate.blocked, 1);
  queued = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("queued"));
  dropped = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("dropped"));
  test_wait_until (mailbox_has, &two);

  g_assert_null (gen_request_receive (queued, 0, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&error);
  g_assert_null (gen_request_wait (queued, TEST_CALL_TIMEOUT_MS, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&error);
  g_clear_object (&dropped);

  test_gate_open (&echo->gate);
  assert_reply_within (gate, "gate");
  reply = gen_server_call (GEN_SERVER (echo), g_variant_new_string ("sync"), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  /* gate and sync only. */
  g_assert_cmpint (g_atomic_int_get (&echo->handled), ==, 2);
  test_stop_ok (echo);
}

/* A set: many calls, one deadline; any comes in the order answered, all
 * in the order sent. */
static void
test_request_set (void)
{
  g_autoptr(TestEcho) echo = echo_start ();
  g_autoptr(TestEcho) other = echo_start ();
  g_autoptr(GenRequestSet) set = gen_request_set_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GenRequest) first = NULL;
  g_autoptr(GenRequest) second = NULL;
  g_autoptr(GenRequest) third = NULL;

  g_assert_null (gen_request_set_wait_any (set, 0, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_object_unref (gen_request_set_send (set, GEN_SERVER (echo), g_variant_new_string ("hold:1"), "one"));
  g_object_unref (gen_request_set_send (set, GEN_SERVER (echo), g_variant_new_string ("hold:2"), "two"));
  g_object_unref (gen_request_set_send (set, GEN_SERVER (other), g_variant_new_string ("now"), "three"));
  g_assert_cmpuint (gen_request_set_get_size (set), ==, 3);

  first = gen_request_set_wait_any (set, TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (gen_request_get_label (first), ==, "three");
  assert_reply (first, "now");
  g_assert_cmpuint (gen_request_set_get_size (set), ==, 2);

  g_assert_null (gen_request_set_wait_all (set, 0, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&error);
  g_assert_null (gen_request_set_wait_any (set, 0, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&error);
  g_assert_cmpuint (gen_request_set_get_size (set), ==, 2);

  /* Released in reverse: "two" is answered first. */
  release (echo);
  second = gen_request_set_wait_any (set, TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  third = gen_request_set_wait_any (set, TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (gen_request_get_label (second), ==, "two");
  g_assert_cmpstr (gen_request_get_label (third), ==, "one");

  g_object_unref (gen_request_set_send (set, GEN_SERVER (echo), g_variant_new_string ("hold:3"), "a"));
  g_object_unref (gen_request_set_send (set, GEN_SERVER (other), g_variant_new_string ("b"), "b"));
  release (echo);
  all = gen_request_set_wait_all (set, TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 2);
  assert_reply (g_ptr_array_index (all, 0), "hold:3");
  assert_reply (g_ptr_array_index (all, 1), "b");
  g_assert_cmpuint (gen_request_set_get_size (set), ==, 0);

  test_stop_ok (echo);
  test_stop_ok (other);
}

/* A reply taken and still held when the server's run ends is answered
 * STOPPED at once (gen_server_SUITE's callers learn of a server's end
 * through their monitor, and do not wait out their timeout); an answer
 * through the handle afterwards is dropped quietly. */
static void
test_taken_reply_at_stop (void)
{
  g_autoptr(TestEcho) echo = echo_start ();
  g_autoptr(GenRequest) held = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("hold"));
  g_autoptr(GenRequest) echoed = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("hi"));
  g_autoptr(GenRequest) sync = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  assert_reply_within (echoed, "hi");
  test_stop_ok (echo);
  /* Within 0 ms: answered by the stop itself. */
  reply = gen_request_wait (held, 0, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);
  g_assert_null (reply);

  /* The server still holds the handle: a late answer goes nowhere. */
  test_start_ok (echo, NULL);
  release (echo);
  sync = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("sync"));
  assert_reply_within (sync, "sync");
  test_stop_ok (echo);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/request/wait", test_request_wait);
  g_test_add_func ("/request/receive", test_request_receive);
  g_test_add_func ("/request/set", test_request_set);
  g_test_add_func ("/request/taken-reply-at-stop", test_taken_reply_at_stop);

  return g_test_run ();
}
