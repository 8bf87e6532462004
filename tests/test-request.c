/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"
#include "genserver/gen-core-private.h"

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

static void
stop_all (TestEcho *one,
          TestEcho *two,
          TestEcho *three)
{
  test_stop_ok (one);
  test_stop_ok (two);
  test_stop_ok (three);
}

/* gen_request_set_wait and gen_request_set_receive: the same signature. */
typedef GenRequest *(*TakeFunc) (GenRequestSet  *set,
                                 gint            timeout_ms,
                                 gboolean        delete_request,
                                 GError        **error);

/* Takes from @set within the test's deadline and checks the label. */
static GenRequest *
take_ok (TakeFunc       take,
         GenRequestSet *set,
         gboolean       delete_request,
         const gchar   *label)
{
  g_autoptr(GError) error = NULL;
  GenRequest *request = take (set, TEST_CALL_TIMEOUT_MS, delete_request, &error);

  g_assert_no_error (error);
  g_assert_nonnull (request);
  g_assert_cmpstr (gen_request_get_label (request), ==, label);
  return request;
}

static void
take_fails (TakeFunc        take,
            GenRequestSet  *set,
            gint            timeout_ms,
            GenServerError  code)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (take (set, timeout_ms, TRUE, &error));
  g_assert_error (error, GEN_SERVER_ERROR, (gint) code);
}

/* gen_server_SUITE's send_request_receive_reqid_collection and
 * send_request_wait_reqid_collection, their first part and (@error_part)
 * their _error part: three servers answer in an order of their own; the
 * set gives the replies in that order, an error reply like any other.
 * Taken out of the set, then (in the _error part) left in with delete =
 * false: the set keeps its size and gives each request once. No request
 * left is no_request. Released one at a time, so that the order does not
 * hang on timing. */
static void
reqid_collection (TakeFunc take,
                  gboolean error_part)
{
  g_autoptr(TestEcho) one = echo_start ();
  g_autoptr(TestEcho) two = echo_start ();
  g_autoptr(TestEcho) three = echo_start ();
  g_autoptr(GenRequestSet) set = gen_request_set_new ();
  g_autoptr(GenRequest) req1 = NULL;
  g_autoptr(GenRequest) req2 = NULL;
  g_autoptr(GenRequest) req3 = NULL;
  g_autoptr(GError) error = NULL;

  g_object_unref (gen_request_set_send (set, GEN_SERVER (one), g_variant_new_string ("hold:1"), "req1"));
  g_object_unref (gen_request_set_send (set, GEN_SERVER (two), g_variant_new_string (error_part ? "fail" : "now"), "req2"));
  g_object_unref (gen_request_set_send (set, GEN_SERVER (three), g_variant_new_string ("hold:3"), "req3"));
  g_assert_cmpuint (gen_request_set_get_size (set), ==, 3);

  req2 = take_ok (take, set, TRUE, "req2");
  if (error_part)
    {
      g_assert_null (gen_request_wait (req2, 0, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
    }
  else
    assert_reply (req2, "now");
  g_assert_cmpuint (gen_request_set_get_size (set), ==, 2);

  release (three);
  req3 = take_ok (take, set, !error_part, "req3");
  assert_reply (req3, "hold:3");
  g_assert_cmpuint (gen_request_set_get_size (set), ==, error_part ? 2 : 1);
  release (one);
  req1 = take_ok (take, set, !error_part, "req1");
  assert_reply (req1, "hold:1");
  g_assert_cmpuint (gen_request_set_get_size (set), ==, error_part ? 2 : 0);
  /* Erlang would wait in vain for requests it gave with delete = false. */
  take_fails (take, set, TEST_CALL_TIMEOUT_MS, GEN_SERVER_ERROR_NOT_FOUND);
  stop_all (one, two, three);
}

/* Labels in the order sent, as reqids_to_list. */
static gchar *
labels_of (GenRequestSet *set)
{
  g_autoptr(GPtrArray) requests = gen_request_set_get_requests (set);
  g_autoptr(GString) labels = g_string_new (NULL);

  for (guint i = 0; i < requests->len; i++)
    g_string_append_printf (labels, "%s%s", i ? "," : "", gen_request_get_label (g_ptr_array_index (requests, i)));
  return g_strdup (labels->str);
}

/* gen_server_SUITE send_request_receive_reqid_collection: a receive on the
 * set that times out abandons every request left (their queued calls never
 * run, their replies are dropped), which stay in the set; waiting again
 * times out at once. */
static void
test_request_set_receive (void)
{
  g_autoptr(TestEcho) one = echo_start ();
  g_autoptr(TestEcho) two = echo_start ();
  g_autoptr(TestEcho) three = echo_start ();
  g_autoptr(GenRequestSet) set = gen_request_set_new ();
  g_autoptr(GenRequest) gate = NULL;
  g_autoptr(GenRequest) req1 = NULL;
  g_autoptr(GenRequest) req2 = NULL;
  g_autoptr(GenRequest) req3 = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *labels = NULL;
  TestMailbox queued = { GEN_SERVER (three), 1 };

  reqid_collection (gen_request_set_receive, FALSE);
  reqid_collection (gen_request_set_receive, TRUE);

  /* _timeout: req3 waits behind a call at three's gate. */
  gate = gen_server_send_request (GEN_SERVER (three), g_variant_new_string ("gate"));
  test_gate_wait_for (&three->gate, &three->gate.blocked, 1);
  req1 = gen_request_set_send (set, GEN_SERVER (one), g_variant_new_string ("hold:1"), "req1");
  g_object_unref (gen_request_set_send (set, GEN_SERVER (two), g_variant_new_string ("now"), "req2"));
  req3 = gen_request_set_send (set, GEN_SERVER (three), g_variant_new_string ("queued"), "req3");
  test_wait_until (mailbox_has, &queued);

  req2 = take_ok (gen_request_set_receive, set, TRUE, "req2");
  take_fails (gen_request_set_receive, set, 0, GEN_SERVER_ERROR_TIMEOUT);
  labels = labels_of (set);
  g_assert_cmpstr (labels, ==, "req1,req3");

  release (one);
  test_gate_open (&three->gate);
  assert_reply_within (gate, "gate");
  reply = gen_server_call (GEN_SERVER (three), g_variant_new_string ("sync"), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&three->handled), ==, 2);  /* gate and sync: not req3 */
  take_fails (gen_request_set_receive, set, TEST_CALL_TIMEOUT_MS, GEN_SERVER_ERROR_TIMEOUT);
  g_assert_null (gen_request_wait (req1, 0, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&error);
  g_assert_null (gen_request_wait (req3, 0, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  stop_all (one, two, three);
}

/* gen_server_SUITE send_request_wait_reqid_collection: a wait that times
 * out leaves every request pending; they are given later. */
static void
test_request_set_wait (void)
{
  g_autoptr(TestEcho) one = echo_start ();
  g_autoptr(TestEcho) two = echo_start ();
  g_autoptr(TestEcho) three = echo_start ();
  g_autoptr(GenRequestSet) set = gen_request_set_new ();
  g_autoptr(GenRequest) req1 = NULL;
  g_autoptr(GenRequest) req2 = NULL;
  g_autoptr(GenRequest) req3 = NULL;
  g_autofree gchar *labels = NULL;

  reqid_collection (gen_request_set_wait, FALSE);
  reqid_collection (gen_request_set_wait, TRUE);

  /* _timeout */
  g_object_unref (gen_request_set_send (set, GEN_SERVER (one), g_variant_new_string ("hold:1"), "req1"));
  g_object_unref (gen_request_set_send (set, GEN_SERVER (two), g_variant_new_string ("now"), "req2"));
  g_object_unref (gen_request_set_send (set, GEN_SERVER (three), g_variant_new_string ("hold:3"), "req3"));
  req2 = take_ok (gen_request_set_wait, set, TRUE, "req2");
  take_fails (gen_request_set_wait, set, 0, GEN_SERVER_ERROR_TIMEOUT);
  labels = labels_of (set);
  g_assert_cmpstr (labels, ==, "req1,req3");

  release (three);
  req3 = take_ok (gen_request_set_wait, set, FALSE, "req3");
  assert_reply (req3, "hold:3");
  release (one);
  req1 = take_ok (gen_request_set_wait, set, FALSE, "req1");
  assert_reply (req1, "hold:1");
  stop_all (one, two, three);
}

/* Checks @set until it gives a request or the deadline passes: replies
 * arrive on their own, and check never waits for them. */
static GenRequest *
check_until_given (GenRequestSet *set,
                   gboolean       delete_request)
{
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;
  GenRequest *request;
  g_autoptr(GError) error = NULL;

  while ((request = gen_request_set_check (set, delete_request, &error)) == NULL)
    {
      g_assert_no_error (error);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_thread_yield ();
    }
  return request;
}

/* gen_server_SUITE send_request_check_reqid_collection (and its _error
 * part): check gives nothing while nothing is answered, then the replies
 * in the order answered; with delete = false the set keeps them. */
static void
test_request_set_check (void)
{
  g_autoptr(TestEcho) one = echo_start ();
  g_autoptr(TestEcho) two = echo_start ();
  g_autoptr(GenRequestSet) set = gen_request_set_new ();
  g_autoptr(GenRequest) req1 = NULL;
  g_autoptr(GenRequest) req2 = NULL;
  g_autoptr(GenRequest) req3 = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_null (gen_request_set_check (set, TRUE, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_object_unref (gen_request_set_send (set, GEN_SERVER (one), g_variant_new_string ("hold:1"), "req1"));
  g_object_unref (gen_request_set_send (set, GEN_SERVER (two), g_variant_new_string ("hold:2"), "req2"));
  g_assert_null (gen_request_set_check (set, TRUE, &error));  /* no_reply */
  g_assert_no_error (error);

  release (two);
  req2 = check_until_given (set, TRUE);
  g_assert_cmpstr (gen_request_get_label (req2), ==, "req2");
  g_assert_cmpuint (gen_request_set_get_size (set), ==, 1);

  g_object_unref (gen_request_set_send (set, GEN_SERVER (two), g_variant_new_string ("fail"), "req3"));
  req3 = check_until_given (set, FALSE);
  g_assert_cmpstr (gen_request_get_label (req3), ==, "req3");
  g_assert_null (gen_request_wait (req3, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_assert_cmpuint (gen_request_set_get_size (set), ==, 2);

  release (one);
  req1 = check_until_given (set, FALSE);
  g_assert_cmpstr (gen_request_get_label (req1), ==, "req1");
  assert_reply (req1, "hold:1");
  g_assert_null (gen_request_set_check (set, FALSE, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
  test_stop_ok (one);
  test_stop_ok (two);
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

/* Async waits ------------------------------------------------------------ */

/* An async wait's outcome, on the context the test iterates. */
typedef struct
{
  gboolean done;
  GThread *thread;  /* where the callback ran */
  GVariant *reply;  /* owned */
  GError *error;    /* owned */
} Waited;

static void
waited_clear (Waited *waited)
{
  g_clear_pointer (&waited->reply, g_variant_unref);
  g_clear_error (&waited->error);
  waited->done = FALSE;
}

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Waited *waited = data;

  g_assert_false (waited->done);
  waited->reply = gen_request_wait_finish (GEN_REQUEST (source), result, &waited->error);
  waited->thread = g_thread_self ();
  waited->done = TRUE;
}

static gboolean
deadline_passed (gpointer data)
{
  g_error ("an async wait did not end within %d s", (int) (TEST_DEADLINE_US / G_USEC_PER_SEC));
  return G_SOURCE_REMOVE;
}

/* Iterates the thread-default context until @waited is done. */
static void
iterate_until_waited (Waited *waited)
{
  GSource *deadline = g_timeout_source_new (TEST_DEADLINE_US / 1000);

  g_source_set_callback (deadline, deadline_passed, NULL, NULL);
  g_source_attach (deadline, g_main_context_get_thread_default ());
  while (!waited->done)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
  g_source_destroy (deadline);
  g_source_unref (deadline);
}

/* Starts an async wait, which never ends inside the call, and waits for it
 * on this thread's context. */
static void
wait_async_ok (GenRequest   *request,
               gint          timeout_ms,
               GCancellable *cancellable,
               Waited       *waited)
{
  waited_clear (waited);
  gen_request_wait_async (request, timeout_ms, cancellable, wait_cb, waited);
  g_assert_false (waited->done);
  iterate_until_waited (waited);
  g_assert_true (waited->thread == g_thread_self ());
}

static void
assert_waited_reply (Waited      *waited,
                     const gchar *expected)
{
  g_assert_no_error (waited->error);
  g_assert_cmpstr (g_variant_get_string (waited->reply, NULL), ==, expected);
}

/* Each test's own thread-default context: the callbacks run there. */
static GMainContext *
push_context (void)
{
  GMainContext *context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  return context;
}

static void
pop_context (GMainContext *context)
{
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}

/* The reply comes while the caller's context waits (the server answers on
 * its own thread); the wait ends with it on the caller's thread, and every
 * wait after it gives it again. Errors are the call's. */
static void
test_request_wait_async (void)
{
  GMainContext *context = push_context ();
  g_autoptr(TestEcho) echo = echo_start ();
  g_autoptr(GenRequest) held = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("hold"));
  g_autoptr(GenRequest) failed = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("fail"));
  g_autoptr(GenRequest) mistyped = gen_server_send_request (GEN_SERVER (echo), g_variant_new_int32 (1));
  Waited waited = { 0 };

  waited_clear (&waited);
  gen_request_wait_async (held, -1, NULL, wait_cb, &waited);
  /* Not answered yet: the context has nothing to run. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_assert_false (waited.done);
  release (echo);
  iterate_until_waited (&waited);
  assert_waited_reply (&waited, "hold");

  wait_async_ok (held, 0, NULL, &waited);
  assert_waited_reply (&waited, "hold");
  assert_reply (held, "hold");

  wait_async_ok (failed, -1, NULL, &waited);
  g_assert_error (waited.error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  wait_async_ok (mistyped, -1, NULL, &waited);
  g_assert_error (waited.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);

  test_stop_ok (echo);
  g_clear_object (&held);
  held = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("late"));
  wait_async_ok (held, -1, NULL, &waited);
  g_assert_error (waited.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  waited_clear (&waited);
  pop_context (context);
}

/* A wait that times out ends alone, as Erlang's wait_response/2: the
 * request stays pending, and a later wait gets the reply. */
static void
test_request_wait_async_timeout (void)
{
  GMainContext *context = push_context ();
  g_autoptr(TestEcho) echo = echo_start ();
  g_autoptr(GenRequest) held = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("hold"));
  Waited waited = { 0 };

  wait_async_ok (held, 10, NULL, &waited);
  g_assert_error (waited.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_assert_null (waited.reply);
  g_assert_false (gen_request_check (held));

  release (echo);
  wait_async_ok (held, TEST_CALL_TIMEOUT_MS, NULL, &waited);
  assert_waited_reply (&waited, "hold");
  waited_clear (&waited);
  test_stop_ok (echo);
  pop_context (context);
}

static gpointer
cancel_in_thread (gpointer data)
{
  g_cancellable_cancel (data);
  return NULL;
}

/* Cancelling ends the wait with G_IO_ERROR_CANCELLED, from any thread,
 * and only the wait: the request stays pending. A cancellable cancelled
 * already ends it at once (from a later iteration). */
static void
test_request_wait_async_cancel (void)
{
  GMainContext *context = push_context ();
  g_autoptr(TestEcho) echo = echo_start ();
  g_autoptr(GenRequest) held = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("hold"));
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  Waited waited = { 0 };
  GThread *canceller;

  waited_clear (&waited);
  gen_request_wait_async (held, -1, cancellable, wait_cb, &waited);
  canceller = g_thread_new ("canceller", cancel_in_thread, cancellable);
  iterate_until_waited (&waited);
  g_thread_join (canceller);
  g_assert_error (waited.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  wait_async_ok (held, -1, cancellable, &waited);
  g_assert_error (waited.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_assert_false (gen_request_check (held));
  release (echo);
  assert_reply_within (held, "hold");
  waited_clear (&waited);
  test_stop_ok (echo);
  pop_context (context);
}

/* A server whose run ends before it answers (a stop, or a link's exit
 * signal, which runs no terminate) ends the wait with STOPPED; a request
 * abandoned by receive gives its TIMEOUT at once. */
static void
test_request_wait_async_server_ends (void)
{
  GMainContext *context = push_context ();
  g_autoptr(TestEcho) echo = echo_start ();
  g_autoptr(GenRequest) held = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("hold"));
  g_autoptr(GenRequest) abandoned = NULL;
  g_autoptr(GError) reason = g_error_new (G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "partner went down");
  g_autoptr(GError) error = NULL;
  Waited waited = { 0 };

  waited_clear (&waited);
  gen_request_wait_async (held, -1, NULL, wait_cb, &waited);
  g_assert_true (gen_run_kill (GEN_SERVER (echo), reason));
  iterate_until_waited (&waited);
  g_assert_error (waited.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);

  test_start_ok (echo, NULL);
  g_clear_object (&held);
  held = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("hold"));
  waited_clear (&waited);
  gen_request_wait_async (held, -1, NULL, wait_cb, &waited);
  test_stop_ok (echo);
  iterate_until_waited (&waited);
  g_assert_error (waited.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);

  test_start_ok (echo, NULL);
  abandoned = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("hold"));
  g_assert_null (gen_request_receive (abandoned, 0, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  wait_async_ok (abandoned, -1, NULL, &waited);
  g_assert_error (waited.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  waited_clear (&waited);
  test_stop_ok (echo);
  pop_context (context);
}

/* One wait at a time: a second fails with PENDING and the first goes on.
 * A request dropped while a wait is under way lives until the wait ends,
 * which still gets the reply; so does a request of a set. */
static void
test_request_wait_async_one_at_a_time (void)
{
  GMainContext *context = push_context ();
  g_autoptr(TestEcho) echo = echo_start ();
  g_autoptr(GenRequestSet) set = gen_request_set_new ();
  GenRequest *held = gen_server_send_request (GEN_SERVER (echo), g_variant_new_string ("hold:1"));
  g_autoptr(GenRequest) in_set = gen_request_set_send (set, GEN_SERVER (echo),
                                                       g_variant_new_string ("hold:2"), "two");
  GWeakRef dropped;
  Waited waited = { 0 };
  Waited second = { 0 };
  Waited third = { 0 };

  waited_clear (&waited);
  gen_request_wait_async (held, -1, NULL, wait_cb, &waited);
  wait_async_ok (held, -1, NULL, &second);
  g_assert_error (second.error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_assert_false (waited.done);

  g_weak_ref_init (&dropped, held);
  g_object_unref (held);
  waited_clear (&third);
  gen_request_wait_async (in_set, -1, NULL, wait_cb, &third);
  release (echo);
  iterate_until_waited (&waited);
  assert_waited_reply (&waited, "hold:1");
  iterate_until_waited (&third);
  assert_waited_reply (&third, "hold:2");
  /* The wait's reference went with it. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_assert_null (g_weak_ref_get (&dropped));
  g_weak_ref_clear (&dropped);

  waited_clear (&waited);
  waited_clear (&second);
  waited_clear (&third);
  test_stop_ok (echo);
  pop_context (context);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/request/wait", test_request_wait);
  g_test_add_func ("/request/receive", test_request_receive);
  g_test_add_func ("/request/set", test_request_set);
  g_test_add_func ("/request/set-receive", test_request_set_receive);
  g_test_add_func ("/request/set-wait", test_request_set_wait);
  g_test_add_func ("/request/set-check", test_request_set_check);
  g_test_add_func ("/request/taken-reply-at-stop", test_taken_reply_at_stop);
  g_test_add_func ("/request/wait-async", test_request_wait_async);
  g_test_add_func ("/request/wait-async-timeout", test_request_wait_async_timeout);
  g_test_add_func ("/request/wait-async-cancel", test_request_wait_async_cancel);
  g_test_add_func ("/request/wait-async-server-ends", test_request_wait_async_server_ends);
  g_test_add_func ("/request/wait-async-one-at-a-time", test_request_wait_async_one_at_a_time);

  return g_test_run ();
}
