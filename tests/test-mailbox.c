/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Bounded mailboxes: mailbox-capacity and mailbox-policy. */

#include <genserver/genserver.h>

#include "genserver/gen-mailbox-private.h"
#include "test-common.h"

/* A server whose handlers wait at a gate while the test fills its mailbox.
 * (sx) messages: "hold" waits at the gate, anything else just counts. */
struct _TestSink
{
  GenServer parent_instance;

  TestGate gate;
  guint handled;   /* gate.lock */
  guint infos;     /* gate.lock */
  guint max_seen;  /* gate.lock: the longest mailbox a handler saw */
};

G_DECLARE_FINAL_TYPE (TestSink, test_sink, TEST, SINK, GenServer)
G_DEFINE_TYPE (TestSink, test_sink, GEN_TYPE_SERVER)

static void
sink_handle (TestSink *self,
             GVariant *message)
{
  const gchar *command;
  gint64 arg;
  guint length = gen_server_get_mailbox_length (GEN_SERVER (self));

  g_variant_get (message, "(&sx)", &command, &arg);
  if (g_str_equal (command, "hold"))
    test_gate_pass (&self->gate);

  g_mutex_lock (&self->gate.lock);
  self->handled++;
  self->max_seen = MAX (self->max_seen, length);
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);
}

static void
test_sink_handle_cast (GenServer  *server,
                       GVariant   *message,
                       GError    **error)
{
  TestSink *self = TEST_SINK (server);
  const gchar *command;
  gint64 arg;

  g_variant_get (message, "(&sx)", &command, &arg);
  if (g_str_equal (command, "cast-self"))
    {
      /* Into its own full mailbox: must fail at once, not wait for itself. */
      GError *local_error = NULL;

      while (gen_server_cast (server, test_message ("count", 0), &local_error))
        ;
      g_assert_error (local_error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL);
      g_error_free (local_error);
    }
  sink_handle (self, message);
}

static GVariant *
test_sink_handle_call (GenServer  *server,
                       GVariant   *message,
                       GError    **error)
{
  sink_handle (TEST_SINK (server), message);
  return g_variant_new_boolean (TRUE);
}

static void
test_sink_handle_info (GenServer  *server,
                       GVariant   *message,
                       GError    **error)
{
  TestSink *self = TEST_SINK (server);

  g_mutex_lock (&self->gate.lock);
  self->infos++;
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);
}

static void
test_sink_finalize (GObject *object)
{
  test_gate_clear (&TEST_SINK (object)->gate);
  G_OBJECT_CLASS (test_sink_parent_class)->finalize (object);
}

static void
test_sink_class_init (TestSinkClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_sink_finalize;
  GEN_SERVER_CLASS (klass)->handle_cast = test_sink_handle_cast;
  GEN_SERVER_CLASS (klass)->handle_call = test_sink_handle_call;
  GEN_SERVER_CLASS (klass)->handle_info = test_sink_handle_info;
}

static void
test_sink_init (TestSink *self)
{
  test_gate_init (&self->gate);
}

#define CAPACITY 4

/* A sink whose handler holds at the gate, with its mailbox full. */
static TestSink *
full_sink (GenMailboxPolicy policy)
{
  TestSink *sink = g_object_new (test_sink_get_type (),
                                 "mailbox-capacity", CAPACITY,
                                 "mailbox-policy", policy,
                                 NULL);

  test_start_ok (sink, NULL);
  g_assert_true (gen_server_cast (GEN_SERVER (sink), test_message ("hold", 0), NULL));
  test_gate_wait_for (&sink->gate, &sink->gate.blocked, 1);
  /* The one being handled does not count. */
  for (guint i = 0; i < CAPACITY; i++)
    g_assert_true (gen_server_cast (GEN_SERVER (sink), test_message ("count", 0), NULL));
  return sink;
}

static void
test_properties (void)
{
  g_autoptr(TestSink) unbounded = g_object_new (test_sink_get_type (), NULL);
  g_autoptr(TestSink) bounded = g_object_new (test_sink_get_type (),
                                              "mailbox-capacity", 10,
                                              "mailbox-policy", GEN_MAILBOX_POLICY_BLOCK,
                                              NULL);
  guint capacity;
  GenMailboxPolicy policy;

  g_assert_cmpuint (gen_server_get_mailbox_capacity (GEN_SERVER (unbounded)), ==, 0);
  g_assert_cmpint (gen_server_get_mailbox_policy (GEN_SERVER (unbounded)), ==, GEN_MAILBOX_POLICY_FAIL);
  g_object_get (bounded, "mailbox-capacity", &capacity, "mailbox-policy", &policy, NULL);
  g_assert_cmpuint (capacity, ==, 10);
  g_assert_cmpint (policy, ==, GEN_MAILBOX_POLICY_BLOCK);
}

static void
test_fail_policy (void)
{
  g_autoptr(TestSink) sink = full_sink (GEN_MAILBOX_POLICY_FAIL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_assert_false (gen_server_cast (GEN_SERVER (sink), test_message ("count", 0), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL);
  g_assert_nonnull (strstr (error->message, "full"));
  g_clear_error (&error);

  reply = gen_server_call (GEN_SERVER (sink), test_message ("count", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL);
  g_assert_null (reply);
  g_clear_error (&error);

  /* Without a deadline, on a pool too. */
  reply = gen_server_call (GEN_SERVER (sink), test_message ("count", 0), -1, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL);
  g_clear_error (&error);

  /* System traffic is never refused. */
  g_assert_true (gen_server_send_info (GEN_SERVER (sink), g_variant_new_string ("note"), NULL));
  g_assert_cmpuint (gen_server_send_after (GEN_SERVER (sink), g_variant_new_string ("later"), 0, NULL), !=, 0);

  test_gate_open (&sink->gate);
  test_gate_wait_for (&sink->gate, &sink->handled, 1 + CAPACITY);
  test_gate_wait_for (&sink->gate, &sink->infos, 2);
  /* Room again. */
  g_assert_true (gen_server_cast (GEN_SERVER (sink), test_message ("count", 0), NULL));
  test_stop_ok (sink);
  g_assert_cmpuint (sink->handled, ==, 1 + CAPACITY + 1);
  g_assert_cmpuint (sink->max_seen, <=, CAPACITY + 2);
}

/* A stop always gets in, however full the mailbox, and handles what was
 * queued. */
static gpointer
open_gate (gpointer data)
{
  test_gate_open (data);
  return NULL;
}

static void
test_stop_full_mailbox (void)
{
  g_autoptr(TestSink) sink = full_sink (GEN_MAILBOX_POLICY_FAIL);
  GThread *opener;

  opener = g_thread_new ("opener", open_gate, &sink->gate);
  test_stop_ok (sink);
  g_thread_join (opener);
  g_assert_cmpuint (sink->handled, ==, 1 + CAPACITY);
}

typedef struct
{
  TestSink *sink;
  gint timeout_ms;
  gboolean ok;
  GError *error;
} Sender;

static gpointer
send_cast (gpointer data)
{
  Sender *sender = data;

  sender->ok = gen_server_cast_with_timeout (GEN_SERVER (sender->sink), test_message ("count", 0),
                                             sender->timeout_ms, &sender->error);
  return NULL;
}

static gpointer
send_call (gpointer data)
{
  Sender *sender = data;
  GVariant *reply = gen_server_call (GEN_SERVER (sender->sink), test_message ("count", 0),
                                     sender->timeout_ms, &sender->error);

  sender->ok = reply != NULL;
  g_clear_pointer (&reply, g_variant_unref);
  return NULL;
}

static gboolean
mailbox_is_full (gpointer data)
{
  return gen_server_get_mailbox_length (data) >= CAPACITY;
}

static void
test_block_policy (void)
{
  g_autoptr(TestSink) sink = full_sink (GEN_MAILBOX_POLICY_BLOCK);
  Sender timed = { sink, 20, FALSE, NULL };
  Sender cast = { sink, -1, FALSE, NULL };
  Sender call = { sink, TEST_CALL_TIMEOUT_MS, FALSE, NULL };
  GThread *cast_thread, *call_thread;
  g_autoptr(GError) error = NULL;

  /* A cast with a timeout gives up when no room comes. */
  send_cast (&timed);
  g_assert_false (timed.ok);
  g_assert_error (timed.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL);
  g_clear_error (&timed.error);

  /* A call gives up within its own timeout. */
  g_assert_null (gen_server_call (GEN_SERVER (sink), test_message ("count", 0), 20, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL);
  g_clear_error (&error);

  /* Without one, they wait for room; they get it once the handler goes on. */
  cast_thread = g_thread_new ("cast", send_cast, &cast);
  call_thread = g_thread_new ("call", send_call, &call);
  test_wait_until (mailbox_is_full, sink);
  test_gate_open (&sink->gate);
  g_thread_join (cast_thread);
  g_thread_join (call_thread);
  g_assert_no_error (cast.error);
  g_assert_true (cast.ok);
  g_assert_no_error (call.error);
  g_assert_true (call.ok);

  test_stop_ok (sink);
  g_assert_cmpuint (sink->handled, ==, 1 + CAPACITY + 2);
}

/* Senders waiting for room are answered NOT_RUNNING when the server stops. */
static void
test_block_then_stop (void)
{
  g_autoptr(TestSink) sink = full_sink (GEN_MAILBOX_POLICY_BLOCK);
  Sender waiting = { sink, -1, FALSE, NULL };
  GThread *thread;

  thread = g_thread_new ("cast", send_cast, &waiting);
  /* Queues the stop and gives up waiting at once: the handler still holds. */
  gen_server_stop (GEN_SERVER (sink), 0, NULL);
  test_gate_open (&sink->gate);
  g_thread_join (thread);
  /* It either found room before the stop or was refused by it. */
  if (!waiting.ok)
    g_assert_error (waiting.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&waiting.error);
  test_wait_until (test_not_running, sink);
}

/* A handler casting into its own full BLOCK mailbox fails at once. */
static void
test_block_self (void)
{
  g_autoptr(TestSink) sink = g_object_new (test_sink_get_type (),
                                           "mailbox-capacity", CAPACITY,
                                           "mailbox-policy", GEN_MAILBOX_POLICY_BLOCK,
                                           NULL);

  test_start_ok (sink, NULL);
  g_assert_true (gen_server_cast (GEN_SERVER (sink), test_message ("cast-self", 0), NULL));
  test_gate_wait_for (&sink->gate, &sink->handled, 1);
  test_stop_ok (sink);
  g_assert_cmpuint (sink->handled, ==, 1 + CAPACITY);
}

typedef struct
{
  TestSink *sink;
  guint n;
} Producer;

static gpointer
produce (gpointer data)
{
  Producer *producer = data;

  for (guint i = 0; i < producer->n; i++)
    g_assert_true (gen_server_cast (GEN_SERVER (producer->sink), test_message ("count", 0), NULL));
  return NULL;
}

/* Fast producers against a blocking mailbox: every message arrives, and
 * the mailbox never holds more than its capacity. */
static void
test_fast_producers (void)
{
  g_autoptr(TestSink) sink = g_object_new (test_sink_get_type (),
                                           "mailbox-capacity", 16,
                                           "mailbox-policy", GEN_MAILBOX_POLICY_BLOCK,
                                           NULL);
  Producer producer = { sink, 20000 };
  GThread *threads[3];

  test_start_ok (sink, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("producer", produce, &producer);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  test_stop_ok (sink);
  g_assert_cmpuint (sink->handled, ==, G_N_ELEMENTS (threads) * producer.n);
  /* What a handler sees waiting: at most the bounded casts, and the stop,
   * which is never refused. */
  g_assert_cmpuint (sink->max_seen, <=, 16 + 1);
}

/* The queue under a mailbox, by hand: items come out in the order they
 * went in, through batches and items put back at the head (a suspended
 * batch), the stop marker goes last, and clearing drops what is left.
 * Items are fake pointers numbered from 1, never dereferenced. */
static guint order_dropped;

static void
order_drop (gpointer item)
{
  order_dropped++;
}

static gpointer
order_item (guint number)
{
  return GEN_ITEM_MAKE (GSIZE_TO_POINTER ((gsize) number << 3), GEN_ITEM_CAST);
}

static guint
order_number (gpointer item)
{
  g_assert_cmpint (GEN_ITEM_KIND (item), ==, GEN_ITEM_CAST);
  return (guint) (GPOINTER_TO_SIZE (GEN_ITEM_POINTER (item)) >> 3);
}

static void
test_order (void)
{
  GenMailbox mailbox = { 0 };
  gpointer batch[64];
  guint next_in = 1, next_out = 1;

  order_dropped = 0;
  gen_mailbox_init (&mailbox, order_drop);
  gen_mailbox_open (&mailbox, NULL, NULL);
  g_assert_null (gen_mailbox_try_pop (&mailbox));

  /* Rounds of more pushes than pops, then it drains. */
  for (guint round = 0; round < 40; round++)
    {
      guint pushes = 3 + round % 7, pops = 1 + round % 5;

      for (guint i = 0; i < pushes; i++)
        g_assert_cmpint (gen_mailbox_push (&mailbox, order_item (next_in++), FALSE), ==,
                         GEN_PUSH_OK);
      g_assert_cmpuint (gen_mailbox_pop_batch (&mailbox, batch, pops), ==, pops);
      /* The last one back at the head, as a suspended batch puts it. */
      gen_mailbox_unpop (&mailbox, &batch[pops - 1], 1);
      for (guint i = 0; i + 1 < pops; i++)
        g_assert_cmpuint (order_number (batch[i]), ==, next_out++);
      g_assert_cmpint (gen_mailbox_length (&mailbox), ==, (gint) (next_in - next_out));
      g_assert_cmpint (gen_mailbox_peek_length (&mailbox), ==, (gint) (next_in - next_out));
    }
  g_assert_cmpuint (next_in - next_out, >, 64);

  while (next_out < next_in)
    {
      guint n = gen_mailbox_pop_batch (&mailbox, batch, G_N_ELEMENTS (batch));

      g_assert_cmpuint (n, >, 0);
      for (guint i = 0; i < n; i++)
        g_assert_cmpuint (order_number (batch[i]), ==, next_out++);
    }
  g_assert_cmpuint (gen_mailbox_pop_batch (&mailbox, batch, G_N_ELEMENTS (batch)), ==, 0);
  g_assert_cmpint (gen_mailbox_length (&mailbox), ==, 0);

  /* The stop marker goes last; a closed mailbox still takes back what
   * was popped, and clearing drops it. */
  for (guint i = 0; i < 3; i++)
    gen_mailbox_push (&mailbox, order_item (next_in++), FALSE);
  g_assert_true (gen_mailbox_close (&mailbox, TRUE, FALSE));
  g_assert_cmpint (gen_mailbox_push (&mailbox, order_item (next_in), FALSE), ==,
                   GEN_PUSH_CLOSED);
  g_assert_cmpuint (order_number (gen_mailbox_try_pop (&mailbox)), ==, next_out++);
  g_assert_cmpuint (gen_mailbox_pop_batch (&mailbox, batch, G_N_ELEMENTS (batch)), ==, 3);
  g_assert_cmpuint (order_number (batch[0]), ==, next_out);
  g_assert_cmpuint (order_number (batch[1]), ==, next_out + 1);
  g_assert_true (batch[2] == GEN_ITEM_STOP_MARKER);
  gen_mailbox_unpop (&mailbox, batch, 3);
  g_assert_cmpint (gen_mailbox_length (&mailbox), ==, 3);

  gen_mailbox_clear (&mailbox);
  g_assert_cmpuint (order_dropped, ==, 3);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mailbox/properties", test_properties);
  g_test_add_func ("/mailbox/fail-policy", test_fail_policy);
  g_test_add_func ("/mailbox/stop-full-mailbox", test_stop_full_mailbox);
  g_test_add_func ("/mailbox/block-policy", test_block_policy);
  g_test_add_func ("/mailbox/block-then-stop", test_block_then_stop);
  g_test_add_func ("/mailbox/block-self", test_block_self);
  g_test_add_func ("/mailbox/fast-producers", test_fast_producers);
  g_test_add_func ("/mailbox/order", test_order);

  return g_test_run ();
}
