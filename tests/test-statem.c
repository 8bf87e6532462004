/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"
#include "genserver/gen-core-private.h"

/* GenStatem. The test machine is scripted by its events: every event's
 * content is a string of space-separated commands ("goto:b reply:ok"),
 * or a label that the test maps to commands with probe_rule(). It logs
 * each event as "state/type/content", and the tests compare logs. */

struct _TestProbe
{
  GenStatem parent_instance;

  TestGate gate;          /* its lock protects the fields below */
  GPtrArray *log;         /* gchar*, owned */
  guint log_length;       /* log->len, for test_gate_wait_for() */
  GHashTable *rules;      /* label → commands, owned; set before start */
  GPtrArray *held;        /* GenReply, owned; server thread only */
  GVariant *self_call;    /* the error code of a call to itself */
  guint enters;           /* state enter calls so far; server thread only */
};

G_DECLARE_FINAL_TYPE (TestProbe, test_probe, TEST, PROBE, GenStatem)
G_DEFINE_TYPE (TestProbe, test_probe, GEN_TYPE_STATEM)

static const gchar *
event_type_name (GenStatemEventType type)
{
  switch (type)
    {
    case GEN_STATEM_EVENT_CALL: return "call";
    case GEN_STATEM_EVENT_CAST: return "cast";
    case GEN_STATEM_EVENT_INFO: return "info";
    case GEN_STATEM_EVENT_STATE_TIMEOUT: return "state_timeout";
    case GEN_STATEM_EVENT_TIMEOUT: return "timeout";
    case GEN_STATEM_EVENT_EVENT_TIMEOUT: return "event_timeout";
    case GEN_STATEM_EVENT_INTERNAL: return "internal";
    case GEN_STATEM_EVENT_ENTER: return "enter";
    default: g_assert_not_reached ();
    }
}

static void
probe_log (TestProbe   *self,
           const gchar *entry)
{
  g_mutex_lock (&self->gate.lock);
  g_ptr_array_add (self->log, g_strdup (entry));
  self->log_length = self->log->len;
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);
}

static GenStatemEventType
parse_type (const gchar *name)
{
  for (GenStatemEventType type = GEN_STATEM_EVENT_CALL; type <= GEN_STATEM_EVENT_ENTER; type++)
    if (g_str_equal (name, event_type_name (type)))
      return type;
  g_assert_not_reached ();
}

/* Runs @commands in @state; returns the next state (or NULL). */
static GVariant *
probe_run (TestProbe    *self,
           const gchar  *commands,
           const gchar  *state,
           GError      **error)
{
  GenStatem *statem = GEN_STATEM (self);
  g_auto(GStrv) words = g_strsplit (commands, " ", -1);
  GVariant *next = NULL;

  for (guint i = 0; words[i] != NULL; i++)
    {
      g_auto(GStrv) w = g_strsplit (words[i], ":", 4);
      guint n = g_strv_length (w);

      if (g_str_equal (w[0], "goto") && n == 2)
        {
          g_clear_pointer (&next, g_variant_unref);
          next = g_variant_ref_sink (g_variant_new_string (w[1]));
        }
      else if (g_str_equal (w[0], "only-in") && n == 2 && !g_str_equal (state, w[1]))
        break;
      else if (g_str_equal (w[0], "postpone-unless") && n == 2 && !g_str_equal (state, w[1]))
        {
          gen_statem_postpone (statem);
          break;
        }
      else if (g_str_equal (w[0], "reply") && n == 2)
        gen_statem_reply (statem, NULL, g_variant_new_string (w[1]));
      else if (g_str_equal (w[0], "reply-error"))
        {
          g_autoptr(GError) reply_error = g_error_new (G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                                                       "refused on purpose");
          gen_statem_reply_error (statem, NULL, reply_error);
        }
      else if (g_str_equal (w[0], "take"))
        g_ptr_array_add (self->held, gen_statem_take_reply (statem));
      else if (g_str_equal (w[0], "answer-held") && n == 2)
        {
          for (guint j = 0; j < self->held->len; j++)
            gen_statem_reply (statem, g_ptr_array_index (self->held, j),
                              g_variant_new_string (w[1]));
          g_ptr_array_set_size (self->held, 0);
        }
      else if (g_str_equal (w[0], "state-timeout") && n == 3)
        gen_statem_set_state_timeout (statem, atoi (w[1]), g_variant_new_string (w[2]));
      else if (g_str_equal (w[0], "event-timeout") && n == 3)
        gen_statem_set_event_timeout (statem, atoi (w[1]), g_variant_new_string (w[2]));
      else if (g_str_equal (w[0], "timeout") && n == 4)
        gen_statem_set_timeout (statem, w[1], atoi (w[2]), g_variant_new_string (w[3]));
      else if (g_str_equal (w[0], "next") && n == 3)
        gen_statem_next_event (statem, parse_type (w[1]), g_variant_new_string (w[2]));
      else if (g_str_equal (w[0], "next") && n == 4)
        gen_statem_next_event_full (statem, parse_type (w[1]), g_variant_new_string (w[3]),
                                    NULL, w[2]);
      else if (g_str_equal (w[0], "update-state-timeout") && n == 2)
        gen_statem_update_state_timeout (statem, g_variant_new_string (w[1]));
      else if (g_str_equal (w[0], "update-event-timeout") && n == 2)
        gen_statem_update_event_timeout (statem, g_variant_new_string (w[1]));
      else if (g_str_equal (w[0], "update-timeout") && n == 3)
        gen_statem_update_timeout (statem, w[1], g_variant_new_string (w[2]));
      else if (g_str_equal (w[0], "cancel-state-timeout"))
        gen_statem_cancel_state_timeout (statem);
      else if (g_str_equal (w[0], "cancel-event-timeout"))
        gen_statem_cancel_event_timeout (statem);
      else if (g_str_equal (w[0], "cancel-timeout") && n == 2)
        gen_statem_cancel_timeout (statem, w[1]);
      else if (g_str_equal (w[0], "state-timeout-at") && n == 3)
        gen_statem_set_state_timeout_at (statem, g_get_monotonic_time () + atoi (w[1]) * 1000,
                                         g_variant_new_string (w[2]));
      else if (g_str_equal (w[0], "timeout-at") && n == 4)
        gen_statem_set_timeout_at (statem, w[1], g_get_monotonic_time () + atoi (w[2]) * 1000,
                                   g_variant_new_string (w[3]));
      else if (g_str_equal (w[0], "event-timeout-at") && n == 3)
        gen_statem_set_event_timeout_at (statem, g_get_monotonic_time () + atoi (w[1]) * 1000,
                                         g_variant_new_string (w[2]));
      else if (g_str_equal (w[0], "stop-and-reply"))
        {
          g_autoptr(GError) reason = NULL;

          if (n == 2)
            reason = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, w[1]);
          gen_statem_stop_and_reply (statem, reason);
        }
      else if (g_str_equal (w[0], "repeat"))
        gen_statem_repeat_state (statem);
      else if (g_str_equal (w[0], "repeat-below") && n == 2)
        {
          /* A counter kept in the machine's data, as OTP's state_enter
           * case keeps N. */
          if (self->enters < (guint) atoi (w[1]))
            gen_statem_repeat_state (statem);
        }
      else if (g_str_equal (w[0], "send-self") && n == 2)
        g_assert_true (gen_server_send_info (GEN_SERVER (self), g_variant_new_string (w[1]), NULL));
      else if (g_str_equal (w[0], "gate"))
        test_gate_pass (&self->gate);
      else if (g_str_equal (w[0], "await-timer"))
        {
          /* Until a timer's message waits behind this event. */
          gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;

          while (gen_server_get_mailbox_length (GEN_SERVER (self)) < 1)
            {
              g_assert_cmpint (g_get_monotonic_time (), <, deadline);
              g_thread_yield ();
            }
        }
      else if (g_str_equal (w[0], "call-self"))
        {
          g_autoptr(GError) call_error = NULL;
          g_autoptr(GVariant) reply = gen_server_call (GEN_SERVER (self),
                                                       g_variant_new_string ("x"),
                                                       TEST_CALL_TIMEOUT_MS, &call_error);

          g_assert_null (reply);
          gen_statem_reply (statem, NULL, g_variant_new_int32 (call_error->code));
        }
      else if (g_str_equal (w[0], "stop"))
        gen_server_stop (GEN_SERVER (self), 0, NULL);
      else if (g_str_equal (w[0], "fail"))
        {
          g_clear_pointer (&next, g_variant_unref);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "failed on purpose");
          return NULL;
        }
    }

  return next;
}

static GVariant *
test_probe_init_state (GenStatem  *statem,
                       GVariant   *args,
                       GError    **error)
{
  TestProbe *self = TEST_PROBE (statem);
  g_autoptr(GVariant) next = NULL;

  probe_log (self, "init");
  if (args != NULL)
    next = probe_run (self, g_variant_get_string (args, NULL), "a", error);
  if (next != NULL || (error != NULL && *error != NULL))
    return g_steal_pointer (&next);
  return g_variant_new_string ("a");
}

static GVariant *
test_probe_handle_event (GenStatem           *statem,
                         GenStatemEventType   type,
                         GVariant            *content,
                         GVariant            *state,
                         GError             **error)
{
  TestProbe *self = TEST_PROBE (statem);
  const gchar *state_name = g_variant_get_string (state, NULL);
  const gchar *text = "?";
  g_autofree gchar *entry = NULL;
  const gchar *commands;

  if (g_variant_is_of_type (content, G_VARIANT_TYPE_STRING))
    text = g_variant_get_string (content, NULL);

  if (type == GEN_STATEM_EVENT_TIMEOUT)
    entry = g_strdup_printf ("%s/timeout:%s/%s", state_name,
                             gen_statem_get_timeout_name (statem), text);
  else
    {
      g_assert_null (gen_statem_get_timeout_name (statem));
      entry = g_strdup_printf ("%s/%s/%s", state_name, event_type_name (type), text);
    }
  probe_log (self, entry);

  if (type == GEN_STATEM_EVENT_ENTER)
    self->enters++;
  if (type == GEN_STATEM_EVENT_ENTER)
    {
      g_autofree gchar *key = g_strconcat ("enter:", state_name, NULL);

      commands = g_hash_table_lookup (self->rules, key);
      return commands != NULL ? probe_run (self, commands, state_name, error) : NULL;
    }

  commands = g_hash_table_lookup (self->rules, text);
  return probe_run (self, commands != NULL ? commands : text, state_name, error);
}

static void
test_probe_finalize (GObject *object)
{
  TestProbe *self = TEST_PROBE (object);

  g_ptr_array_unref (self->log);
  g_ptr_array_unref (self->held);
  g_hash_table_unref (self->rules);
  test_gate_clear (&self->gate);

  G_OBJECT_CLASS (test_probe_parent_class)->finalize (object);
}

static void
test_probe_class_init (TestProbeClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_probe_finalize;
  GEN_STATEM_CLASS (klass)->init_state = test_probe_init_state;
  GEN_STATEM_CLASS (klass)->handle_event = test_probe_handle_event;
}

static void
test_probe_init (TestProbe *self)
{
  test_gate_init (&self->gate);
  self->log = g_ptr_array_new_with_free_func (g_free);
  self->held = g_ptr_array_new_with_free_func (g_object_unref);
  self->rules = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* A subclass with state enter calls from its class. */
typedef TestProbe TestEnteringProbe;
typedef TestProbeClass TestEnteringProbeClass;
GType test_entering_probe_get_type (void);
G_DEFINE_TYPE (TestEnteringProbe, test_entering_probe, test_probe_get_type ())

static void
test_entering_probe_class_init (TestEnteringProbeClass *klass)
{
  gen_statem_class_set_state_enter (GEN_STATEM_CLASS (klass), TRUE);
}

static void
test_entering_probe_init (TestEnteringProbe *self)
{
}

static TestProbe *
probe_new (gboolean state_enter)
{
  return g_object_new (test_probe_get_type (), "state-enter", state_enter, NULL);
}

static void
probe_rule (TestProbe   *self,
            const gchar *label,
            const gchar *commands)
{
  g_hash_table_insert (self->rules, g_strdup (label), g_strdup (commands));
}

static void
cast_ok (TestProbe   *self,
         const gchar *message)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_server_cast (GEN_SERVER (self), g_variant_new_string (message), &error));
  g_assert_no_error (error);
}

/* Calls and returns the string reply. */
static gchar *
call_ok (TestProbe   *self,
         const gchar *message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = gen_server_call (GEN_SERVER (self), g_variant_new_string (message),
                                               TEST_CALL_TIMEOUT_MS, &error);

  g_assert_no_error (error);
  g_assert_nonnull (reply);
  return g_variant_dup_string (reply, NULL);
}

static guint
probe_log_length (TestProbe *self)
{
  guint length;

  g_mutex_lock (&self->gate.lock);
  length = self->log_length;
  g_mutex_unlock (&self->gate.lock);
  return length;
}

/* Asserts that the log is exactly @expected (NULL-terminated), from its
 * first entry ("init"). Waits for the log to be that long. */
static void
assert_log (TestProbe          *self,
            const gchar *const *expected)
{
  guint n = g_strv_length ((gchar **) expected);
  g_autoptr(GString) got = g_string_new (NULL);
  g_autoptr(GString) want = g_string_new (NULL);

  test_gate_wait_for (&self->gate, &self->log_length, n);

  g_mutex_lock (&self->gate.lock);
  for (guint i = 0; i < self->log->len; i++)
    g_string_append_printf (got, "%s\n", (gchar *) g_ptr_array_index (self->log, i));
  g_mutex_unlock (&self->gate.lock);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (want, "%s\n", expected[i]);

  g_assert_cmpstr (got->str, ==, want->str);
}

static void
assert_state (TestProbe   *self,
              const gchar *expected)
{
  g_autoptr(GVariant) state = gen_statem_dup_state (GEN_STATEM (self));

  g_assert_nonnull (state);
  g_assert_cmpstr (g_variant_get_string (state, NULL), ==, expected);
}

/* A string call from a thread of its own. */
typedef struct
{
  TestProbe *probe;
  const gchar *message;
  gint timeout_ms;
  GVariant *reply;   /* owned, the result */
  GError *error;     /* owned, the result */
} ProbeCall;

static gpointer
probe_call_thread (gpointer data)
{
  ProbeCall *call = data;

  call->reply = gen_server_call (GEN_SERVER (call->probe), g_variant_new_string (call->message),
                                 call->timeout_ms, &call->error);
  return NULL;
}

static void
probe_call_clear (ProbeCall *call)
{
  g_clear_pointer (&call->reply, g_variant_unref);
  g_clear_error (&call->error);
}

/* Call, cast and info events, the state they see and the state they
 * return; dup_state from outside. */
static void
test_statem_events (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autofree gchar *reply = NULL;
  g_autofree gchar *second = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_null (gen_statem_dup_state (GEN_STATEM (probe)));
  test_start_ok (probe, NULL);
  assert_state (probe, "a");

  reply = call_ok (probe, "reply:hello goto:b");
  g_assert_cmpstr (reply, ==, "hello");
  assert_state (probe, "b");
  cast_ok (probe, "goto:c");
  g_assert_true (gen_server_send_info (GEN_SERVER (probe), g_variant_new_string ("goto:d"), &error));
  g_assert_no_error (error);
  second = call_ok (probe, "reply:there");
  g_assert_cmpstr (second, ==, "there");
  assert_state (probe, "d");

  assert_log (probe, (const gchar *[]) { "init", "a/call/reply:hello goto:b", "b/cast/goto:c",
                                          "c/info/goto:d", "d/call/reply:there", NULL });
  test_stop_ok (probe);
  assert_state (probe, "d");
}

/* An error for a call goes to the caller: no transition, no actions, and
 * the machine goes on. A reply with an error is an action that does
 * transition. A call nobody answers fails with NO_REPLY. */
static void
test_statem_call_errors (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  test_start_ok (probe, NULL);

  reply = gen_server_call (GEN_SERVER (probe), g_variant_new_string ("goto:b reply:x fail"),
                           TEST_CALL_TIMEOUT_MS, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_assert_null (reply);
  g_clear_error (&error);
  assert_state (probe, "a");
  g_assert_true (gen_server_is_running (GEN_SERVER (probe)));

  reply = gen_server_call (GEN_SERVER (probe), g_variant_new_string ("reply-error goto:b"),
                           TEST_CALL_TIMEOUT_MS, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);
  assert_state (probe, "b");

  reply = gen_server_call (GEN_SERVER (probe), g_variant_new_string ("goto:c"),
                           TEST_CALL_TIMEOUT_MS, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_REPLY);
  g_clear_error (&error);
  assert_state (probe, "c");

  /* A taken reply and an error: the handle answers, the error is a
   * programmer error, and the machine stays. */
  {
    ProbeCall call = { probe, "take goto:d fail", TEST_CALL_TIMEOUT_MS, NULL, NULL };
    GThread *thread;

    g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*took the reply handle and also set an error*");
    thread = g_thread_new ("caller", probe_call_thread, &call);
    test_gate_wait_for (&probe->gate, &probe->log_length, 5);
    cast_ok (probe, "answer-held:late");
    g_thread_join (thread);
    g_test_assert_expected_messages ();
    g_assert_no_error (call.error);
    g_assert_cmpstr (g_variant_get_string (call.reply, NULL), ==, "late");
    assert_state (probe, "c");
    probe_call_clear (&call);
  }

  test_stop_ok (probe);
}

static void
record_reason (GenServer    *server,
               const GError *reason,
               gpointer      user_data)
{
  GError **slot = user_data;

  g_assert_null (*slot);
  *slot = reason != NULL ? g_error_copy (reason) : NULL;
}

/* An error for any other event is a crash, with that reason; inserted
 * events still waiting are dropped. */
static void
test_statem_crash (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autoptr(GError) reason = NULL;

  test_start_ok (probe, NULL);
  g_assert_cmpuint (gen_monitor_watch (GEN_SERVER (probe), record_reason, &reason,
                                       NULL, GEN_WATCH_DEFAULT), !=, 0);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestProbe crashed: failed on purpose*");
  probe_rule (probe, "boom", "fail");
  cast_ok (probe, "next:internal:boom next:internal:never");
  g_assert_true (gen_server_wait_stopped (GEN_SERVER (probe), -1));
  g_test_assert_expected_messages ();
  g_assert_error (reason, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  assert_log (probe, (const gchar *[]) { "init", "a/cast/next:internal:boom next:internal:never",
                                          "a/internal/boom", NULL });

  /* A crash in an event that a call led to stops the machine too; the
   * call itself was answered. */
  g_clear_error (&reason);
  test_start_ok (probe, NULL);
  gen_monitor_watch (GEN_SERVER (probe), record_reason, &reason, NULL, GEN_WATCH_DEFAULT);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestProbe crashed: failed on purpose*");
  g_free (call_ok (probe, "reply:yes next:internal:boom"));
  g_assert_true (gen_server_wait_stopped (GEN_SERVER (probe), -1));
  g_test_assert_expected_messages ();
  g_assert_error (reason, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
}

/* Postponed events come back after the next state change, in the order
 * they came, before newer messages; a postponed call keeps its caller
 * waiting and is answered then. */
static void
test_statem_postpone (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  ProbeCall call = { probe, "postpone-unless:b reply:late", TEST_CALL_TIMEOUT_MS, NULL, NULL };
  GThread *thread;
  g_autofree gchar *reply = NULL;

  test_start_ok (probe, NULL);
  probe_rule (probe, "p1", "postpone-unless:b");
  probe_rule (probe, "p2", "postpone-unless:b");
  cast_ok (probe, "p1");
  thread = g_thread_new ("caller", probe_call_thread, &call);
  test_gate_wait_for (&probe->gate, &probe->log_length, 3);
  cast_ok (probe, "p2");
  cast_ok (probe, "goto:a");       /* same state: not a change */
  cast_ok (probe, "goto:b");
  cast_ok (probe, "after");
  g_thread_join (thread);
  g_assert_no_error (call.error);
  g_assert_cmpstr (g_variant_get_string (call.reply, NULL), ==, "late");
  reply = call_ok (probe, "reply:done");

  assert_log (probe, (const gchar *[]) {
    "init",
    "a/cast/p1",
    "a/call/postpone-unless:b reply:late",
    "a/cast/p2",
    "a/cast/goto:a",
    "a/cast/goto:b",
    "b/cast/p1",
    "b/call/postpone-unless:b reply:late",
    "b/cast/p2",
    "b/cast/after",
    "b/call/reply:done",
    NULL });

  probe_call_clear (&call);
  test_stop_ok (probe);
}

/* A postponed call still waiting when the machine stops is answered
 * STOPPED. */
static void
test_statem_postpone_stop (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  ProbeCall call = { probe, "postpone-unless:z", TEST_CALL_TIMEOUT_MS, NULL, NULL };
  GThread *thread;

  test_start_ok (probe, NULL);
  thread = g_thread_new ("caller", probe_call_thread, &call);
  test_gate_wait_for (&probe->gate, &probe->log_length, 2);
  test_stop_ok (probe);
  g_thread_join (thread);
  g_assert_error (call.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);
  probe_call_clear (&call);
}

/* A machine ended by an exit signal through a link (its terminate does
 * not run): its postponed call is answered STOPPED, as when it stops, and
 * started again it begins afresh: the machine's own bookkeeping of a run
 * ends with the run, not with terminate. */
static void
test_statem_killed_by_link (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autoptr(TestProbe) other = probe_new (FALSE);
  ProbeCall call = { probe, "postpone-unless:z", TEST_CALL_TIMEOUT_MS, NULL, NULL };
  g_autoptr(GError) reason = NULL;
  g_autofree gchar *reply = NULL;
  GThread *thread;

  test_start_ok (probe, NULL);
  test_start_ok (other, NULL);
  g_assert_cmpuint (gen_server_link (GEN_SERVER (probe), GEN_SERVER (other), NULL), !=, 0);
  gen_monitor_watch (GEN_SERVER (probe), record_reason, &reason, NULL, GEN_WATCH_DEFAULT);
  thread = g_thread_new ("caller", probe_call_thread, &call);
  test_gate_wait_for (&probe->gate, &probe->log_length, 2);

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestProbe crashed: bye*");
  cast_ok (other, "stop-and-reply:bye");
  g_thread_join (thread);
  g_test_assert_expected_messages ();
  g_assert_error (call.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);
  g_assert_true (gen_server_wait_stopped (GEN_SERVER (probe), -1));
  g_assert_error (reason, G_IO_ERROR, G_IO_ERROR_CLOSED);
  probe_call_clear (&call);

  test_start_ok (probe, NULL);
  reply = call_ok (probe, "reply:again");
  g_assert_cmpstr (reply, ==, "again");
  test_stop_ok (probe);
}

/* Inserted events: handled in the order inserted, in the new state,
 * before the postponed events the change brings back and before the
 * mailbox; also from init_state, before the first message. */
static void
test_statem_next_event (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autofree gchar *reply = NULL;

  test_start_ok (probe, g_variant_new_string ("next:internal:boot"));
  probe_rule (probe, "p1", "postpone-unless:b");
  cast_ok (probe, "p1");
  cast_ok (probe, "next:internal:i1 next:cast:i2 next:info:i3 goto:b");
  reply = call_ok (probe, "reply:done");

  assert_log (probe, (const gchar *[]) {
    "init",
    "a/internal/boot",
    "a/cast/p1",
    "a/cast/next:internal:i1 next:cast:i2 next:info:i3 goto:b",
    "b/internal/i1",
    "b/cast/i2",
    "b/info/i3",
    "b/cast/p1",
    "b/call/reply:done",
    NULL });

  test_stop_ok (probe);
}

/* State enter calls: on the first state, on each change (with the old
 * state), not when the state stays, again with repeat_state; they may set
 * timeouts but not change the state. */
static void
test_statem_state_enter (void)
{
  g_autoptr(TestProbe) probe = probe_new (TRUE);
  g_autoptr(GError) reason = NULL;
  g_autofree gchar *reply = NULL;

  test_start_ok (probe, NULL);
  probe_rule (probe, "enter:c", "state-timeout:0:tm");
  probe_rule (probe, "tm", "goto:d");
  probe_rule (probe, "enter:e", "goto:f");
  cast_ok (probe, "goto:b");
  cast_ok (probe, "goto:b");
  cast_ok (probe, "repeat");
  cast_ok (probe, "goto:c");
  assert_log (probe, (const gchar *[]) {
    "init",
    "a/enter/a",
    "a/cast/goto:b",
    "b/enter/a",
    "b/cast/goto:b",
    "b/cast/repeat",
    "b/enter/b",
    "b/cast/goto:c",
    "c/enter/b",
    "c/state_timeout/tm",
    "d/enter/c",
    NULL });

  gen_monitor_watch (GEN_SERVER (probe), record_reason, &reason, NULL, GEN_WATCH_DEFAULT);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestProbe crashed: TestProbe’s state enter call tried to change the state*");
  cast_ok (probe, "goto:e");
  g_assert_true (gen_server_wait_stopped (GEN_SERVER (probe), -1));
  g_test_assert_expected_messages ();
  g_assert_error (reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED);

  /* Off unless asked for, by the property or by the class. */
  {
    g_autoptr(TestProbe) plain = g_object_new (test_probe_get_type (), NULL);
    g_autoptr(TestProbe) entering = g_object_new (test_entering_probe_get_type (), NULL);
    gboolean state_enter = TRUE;

    g_object_get (plain, "state-enter", &state_enter, NULL);
    g_assert_false (state_enter);
    g_object_get (entering, "state-enter", &state_enter, NULL);
    g_assert_true (state_enter);
  }
}

/* gen_statem_SUITE state_enter: repeat_state from a state enter call runs
 * the enter call again, with the same previous state, so a counter in the
 * data climbs with each repeat; its timeouts are the last ones set. */
static void
test_statem_enter_repeat_state (void)
{
  g_autoptr(TestProbe) probe = probe_new (TRUE);
  g_autofree gchar *reply = NULL;

  probe_rule (probe, "enter:w", "repeat-below:4 event-timeout:0:et state-timeout:0:st");
  test_start_ok (probe, NULL);
  cast_ok (probe, "goto:w");
  reply = call_ok (probe, "reply:done");

  assert_log (probe, (const gchar *[]) {
    "init",
    "a/enter/a",
    "a/cast/goto:w",
    "w/enter/a",
    "w/enter/a",
    "w/enter/a",
    "w/event_timeout/et",
    "w/state_timeout/st",
    "w/call/reply:done",
    NULL });
  g_assert_cmpuint (probe->enters, ==, 4);

  test_stop_ok (probe);
}

/* gen_statem_SUITE state_timeout and event_order: a zero timeout comes
 * before any external event not yet received (here an info message the
 * same handler sent to itself), in the order set, after the inserted
 * events; an inserted or retried event cancels a zero event timeout. */
static void
test_statem_zero_timeout (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autofree gchar *reply = NULL;

  test_start_ok (probe, NULL);
  /* Each step waits for the last, so that only the machine's own message
   * and its zero timeouts compete. */
  cast_ok (probe, "send-self:m1 event-timeout:0:et1");
  test_gate_wait_for (&probe->gate, &probe->log_length, 4);
  cast_ok (probe, "send-self:m2 state-timeout:0:st2 timeout:g:0:g2 next:internal:i2");
  test_gate_wait_for (&probe->gate, &probe->log_length, 9);
  probe_rule (probe, "p", "postpone-unless:b");
  cast_ok (probe, "p");
  cast_ok (probe, "goto:b next:internal:i3 event-timeout:0:et3");
  /* et3, were it not cancelled, would come before this call. */
  reply = call_ok (probe, "reply:done");

  assert_log (probe, (const gchar *[]) {
    "init",
    "a/cast/send-self:m1 event-timeout:0:et1",
    "a/event_timeout/et1",
    "a/info/m1",
    "a/cast/send-self:m2 state-timeout:0:st2 timeout:g:0:g2 next:internal:i2",
    "a/internal/i2",
    "a/state_timeout/st2",
    "a/timeout:g/g2",
    "a/info/m2",
    "a/cast/p",
    "a/cast/goto:b next:internal:i3 event-timeout:0:et3",
    "b/internal/i3",
    "b/cast/p",
    "b/call/reply:done",
    NULL });

  test_stop_ok (probe);
}

/* gen_statem_SUITE stop_and_reply: one action list answers the current
 * call and one taken earlier, then stops the machine with its reason. */
static void
test_statem_stop_and_reply (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  ProbeCall first = { probe, "take", TEST_CALL_TIMEOUT_MS, NULL, NULL };
  g_autoptr(GError) reason = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) late = NULL;
  g_autofree gchar *second = NULL;
  GThread *thread;

  test_start_ok (probe, NULL);
  gen_monitor_watch (GEN_SERVER (probe), record_reason, &reason, NULL, GEN_WATCH_DEFAULT);
  thread = g_thread_new ("caller", probe_call_thread, &first);
  test_gate_wait_for (&probe->gate, &probe->log_length, 2);

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestProbe crashed: bye*");
  second = call_ok (probe, "answer-held:r1 reply:r2 stop-and-reply:bye");
  g_thread_join (thread);
  g_assert_no_error (first.error);
  g_assert_cmpstr (g_variant_get_string (first.reply, NULL), ==, "r1");
  g_assert_cmpstr (second, ==, "r2");

  g_assert_true (gen_server_wait_stopped (GEN_SERVER (probe), -1));
  g_test_assert_expected_messages ();
  g_assert_error (reason, G_IO_ERROR, G_IO_ERROR_CLOSED);
  late = gen_server_call (GEN_SERVER (probe), g_variant_new_string ("x"), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  probe_call_clear (&first);

  /* A normal stop; the call it does not answer learns the machine went
   * down. */
  g_clear_error (&reason);
  g_clear_error (&error);
  test_start_ok (probe, NULL);
  gen_monitor_watch (GEN_SERVER (probe), record_reason, &reason, NULL, GEN_WATCH_DEFAULT);
  g_assert_null (gen_server_call (GEN_SERVER (probe), g_variant_new_string ("stop-and-reply"),
                                  TEST_CALL_TIMEOUT_MS, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);
  g_assert_true (gen_server_wait_stopped (GEN_SERVER (probe), -1));
  g_assert_no_error (reason);
}

/* gen_statem_SUITE event_types: next_event inserts events of every type,
 * a call among them, answered through the current call's caller. */
static void
test_statem_event_types (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autofree gchar *reply = NULL;

  probe_rule (probe, "answer", "reply:answered");
  probe_rule (probe, "all",
              "next:internal:i1 next:state_timeout:s2 next:event_timeout:e3 next:info:f4 "
              "next:cast:c5 next:timeout:t6:g6 next:call:answer goto:b");
  test_start_ok (probe, g_variant_new_string ("next:internal:boot"));
  reply = call_ok (probe, "all");
  g_assert_cmpstr (reply, ==, "answered");

  assert_log (probe, (const gchar *[]) {
    "init",
    "a/internal/boot",
    "a/call/all",
    "b/internal/i1",
    "b/state_timeout/s2",
    "b/event_timeout/e3",
    "b/info/f4",
    "b/cast/c5",
    "b/timeout:t6/g6",
    "b/call/answer",
    NULL });

  test_stop_ok (probe);
}

/* Queues @first and @second while the machine waits at the gate, so that
 * nothing (a timer's message) can come between them; then lets it go and
 * closes the gate again once it passed. */
static void
cast_pair_behind_gate (TestProbe   *probe,
                       const gchar *first,
                       const gchar *second)
{
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;

  cast_ok (probe, "gate");
  test_gate_wait_for (&probe->gate, &probe->gate.blocked, 1);
  cast_ok (probe, first);
  cast_ok (probe, second);
  test_gate_open (&probe->gate);

  g_mutex_lock (&probe->gate.lock);
  while (probe->gate.blocked > 0)
    g_assert_true (g_cond_wait_until (&probe->gate.cond, &probe->gate.lock, deadline));
  probe->gate.open = FALSE;
  g_mutex_unlock (&probe->gate.lock);
}

/* The state timeout fires in its state; a state change cancels it even
 * when its message is already waiting; a negative time cancels it. */
static void
test_statem_state_timeout (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autofree gchar *reply = NULL;
  g_autofree gchar *reply2 = NULL;

  test_start_ok (probe, NULL);
  cast_ok (probe, "state-timeout:0:st1");
  test_gate_wait_for (&probe->gate, &probe->log_length, 3);

  /* The second cast waits until st2's message is in the mailbox. */
  /* 1 ms, not 0: a zero timeout waits in no mailbox (see zero-timeout). */
  cast_pair_behind_gate (probe, "state-timeout:1:st2", "await-timer goto:b");
  reply = call_ok (probe, "reply:done");

  cast_ok (probe, "state-timeout:0:st3 state-timeout:-1:x");
  reply2 = call_ok (probe, "reply:done2");
  /* st3's timer was cancelled before it could fire: nothing comes. */

  assert_log (probe, (const gchar *[]) {
    "init",
    "a/cast/state-timeout:0:st1",
    "a/state_timeout/st1",
    "a/cast/gate",
    "a/cast/state-timeout:1:st2",
    "a/cast/await-timer goto:b",
    "b/call/reply:done",
    "b/cast/state-timeout:0:st3 state-timeout:-1:x",
    "b/call/reply:done2",
    NULL });

  test_stop_ok (probe);
}

/* The event timeout fires when nothing comes; any event cancels it, even
 * one already queued when it was set. */
static void
test_statem_event_timeout (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autofree gchar *reply = NULL;

  test_start_ok (probe, NULL);
  cast_ok (probe, "event-timeout:0:et1");
  test_gate_wait_for (&probe->gate, &probe->log_length, 3);

  cast_pair_behind_gate (probe, "event-timeout:1:et2", "any");
  reply = call_ok (probe, "reply:done");

  assert_log (probe, (const gchar *[]) {
    "init",
    "a/cast/event-timeout:0:et1",
    "a/event_timeout/et1",
    "a/cast/gate",
    "a/cast/event-timeout:1:et2",
    "a/cast/any",
    "a/call/reply:done",
    NULL });

  test_stop_ok (probe);
}

/* Generic timeouts have names, survive events and state changes, and are
 * cancelled by name, even when their message is already waiting. */
static void
test_statem_generic_timeout (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autofree gchar *reply = NULL;

  test_start_ok (probe, NULL);
  cast_pair_behind_gate (probe, "timeout:t1:1:g1", "await-timer goto:b");
  test_gate_wait_for (&probe->gate, &probe->log_length, 5);

  cast_pair_behind_gate (probe, "timeout:t2:1:g2", "await-timer timeout:t2:-1:x");
  reply = call_ok (probe, "reply:done");

  assert_log (probe, (const gchar *[]) {
    "init",
    "a/cast/gate",
    "a/cast/timeout:t1:1:g1",
    "a/cast/await-timer goto:b",
    "b/timeout:t1/g1",
    "b/cast/gate",
    "b/cast/timeout:t2:1:g2",
    "b/cast/await-timer timeout:t2:-1:x",
    "b/call/reply:done",
    NULL });

  test_stop_ok (probe);
}

/* gen_statem_SUITE timeout_cancel_and_update: cancel is an action of its
 * own, even for a timer whose message already waits; update changes the
 * content of a running timeout, or starts a zero one; of the actions one
 * callback asks for on one timeout, the last one counts. */
static void
test_statem_timeout_cancel_and_update (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autofree gchar *reply = NULL;

  test_start_ok (probe, NULL);
  cast_pair_behind_gate (probe, "timeout:c:1:c1", "await-timer cancel-timeout:c");
  cast_ok (probe, "state-timeout:0:s1 cancel-state-timeout");
  cast_ok (probe, "update-event-timeout:u1");
  test_gate_wait_for (&probe->gate, &probe->log_length, 7);
  /* Updated in a later event: still the same timer, with the new content. */
  cast_ok (probe, "timeout:g:20:old");
  cast_ok (probe, "update-timeout:g:new");
  test_gate_wait_for (&probe->gate, &probe->log_length, 10);
  cast_ok (probe, "state-timeout:60000:long update-state-timeout:now");
  reply = call_ok (probe, "reply:done");

  assert_log (probe, (const gchar *[]) {
    "init",
    "a/cast/gate",
    "a/cast/timeout:c:1:c1",
    "a/cast/await-timer cancel-timeout:c",
    "a/cast/state-timeout:0:s1 cancel-state-timeout",
    "a/cast/update-event-timeout:u1",
    "a/event_timeout/u1",
    "a/cast/timeout:g:20:old",
    "a/cast/update-timeout:g:new",
    "a/timeout:g/new",
    "a/cast/state-timeout:60000:long update-state-timeout:now",
    "a/state_timeout/now",
    "a/call/reply:done",
    NULL });

  test_stop_ok (probe);
}

/* gen_statem_SUITE generic_timers: absolute timeouts on the monotonic
 * clock; one already past fires at once, through a timer, after what the
 * mailbox already holds. */
static void
test_statem_absolute_timeouts (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autofree gchar *reply = NULL;

  test_start_ok (probe, NULL);
  cast_ok (probe, "send-self:m state-timeout-at:-5:past");
  test_gate_wait_for (&probe->gate, &probe->log_length, 4);
  cast_ok (probe, "timeout-at:t:30:soon goto:b");
  test_gate_wait_for (&probe->gate, &probe->log_length, 6);
  cast_ok (probe, "event-timeout-at:30:idle");
  test_gate_wait_for (&probe->gate, &probe->log_length, 8);
  reply = call_ok (probe, "reply:done");

  assert_log (probe, (const gchar *[]) {
    "init",
    "a/cast/send-self:m state-timeout-at:-5:past",
    "a/info/m",
    "a/state_timeout/past",
    "a/cast/timeout-at:t:30:soon goto:b",
    "b/timeout:t/soon",
    "b/cast/event-timeout-at:30:idle",
    "b/event_timeout/idle",
    "b/call/reply:done",
    NULL });

  test_stop_ok (probe);
}

/* The state_functions callback mode: one C function per state, from a
 * table the class fills; enter calls go to the state's function too; a
 * state with no function is an error (gen_statem_SUITE runs each case in
 * both callback modes). */
typedef GenStatem TestDoor;
typedef GenStatemClass TestDoorClass;
GType test_door_get_type (void);
G_DEFINE_TYPE (TestDoor, test_door, GEN_TYPE_STATEM)

static GVariant *
test_door_locked (GenStatem           *statem,
                  GenStatemEventType   type,
                  GVariant            *content,
                  GError             **error)
{
  if (type == GEN_STATEM_EVENT_ENTER)
    return NULL;
  if (type == GEN_STATEM_EVENT_CALL)
    {
      gen_statem_reply (statem, NULL, g_variant_new_string ("locked"));
      return NULL;
    }
  /* Any cast: the code was right. */
  return g_variant_new_string (g_variant_get_string (content, NULL));
}

static GVariant *
test_door_open (GenStatem           *statem,
                GenStatemEventType   type,
                GVariant            *content,
                GError             **error)
{
  if (type == GEN_STATEM_EVENT_ENTER)
    {
      /* The previous state, as in a handle_event enter call. */
      g_assert_cmpstr (g_variant_get_string (content, NULL), ==, "locked");
      gen_statem_set_state_timeout (statem, 0, NULL);
      return NULL;
    }
  if (type == GEN_STATEM_EVENT_STATE_TIMEOUT)
    return g_variant_new_string ("ajar");
  return NULL;
}

static GVariant *
test_door_ajar (GenStatem           *statem,
                GenStatemEventType   type,
                GVariant            *content,
                GError             **error)
{
  if (type == GEN_STATEM_EVENT_CALL)
    gen_statem_reply (statem, NULL, g_variant_new_string ("ajar"));
  return NULL;
}

static GVariant *
test_door_init_state (GenStatem  *statem,
                      GVariant   *args,
                      GError    **error)
{
  return g_variant_new_string ("locked");
}

static void
test_door_class_init (TestDoorClass *klass)
{
  klass->init_state = test_door_init_state;
  gen_statem_class_set_state_enter (klass, TRUE);
  gen_statem_class_add_state_function (klass, "locked", test_door_locked);
  gen_statem_class_add_state_function (klass, "open", test_door_open);
  gen_statem_class_add_state_function (klass, "ajar", test_door_ajar);
}

static void
test_door_init (TestDoor *self)
{
}

static gchar *
door_call (GenStatem *door)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = gen_server_call (GEN_SERVER (door), g_variant_new_string ("?"),
                                               TEST_CALL_TIMEOUT_MS, &error);

  g_assert_no_error (error);
  return g_variant_dup_string (reply, NULL);
}

static void
test_statem_state_functions (void)
{
  g_autoptr(GenStatem) door = g_object_new (test_door_get_type (), NULL);
  g_autoptr(GError) reason = NULL;
  g_autofree gchar *first = NULL;
  g_autofree gchar *second = NULL;

  test_start_ok (door, NULL);
  first = door_call (door);
  g_assert_cmpstr (first, ==, "locked");
  g_assert_true (gen_server_cast (GEN_SERVER (door), g_variant_new_string ("open"), NULL));
  second = door_call (door);
  g_assert_cmpstr (second, ==, "ajar");

  /* A state without a function: a crash, as an undefined function. */
  test_stop_ok (door);
  test_start_ok (door, NULL);
  gen_monitor_watch (GEN_SERVER (door), record_reason, &reason, NULL, GEN_WATCH_DEFAULT);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*has no state function for the state 'nowhere'*");
  /* Its enter call finds no function. */
  g_assert_true (gen_server_cast (GEN_SERVER (door), g_variant_new_string ("nowhere"), NULL));
  g_assert_true (gen_server_wait_stopped (GEN_SERVER (door), -1));
  g_test_assert_expected_messages ();
  g_assert_error (reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED);
}

static GVariant *
to_state_b (GVariant *state,
            gpointer  user_data)
{
  g_autoptr(GVariant) data = NULL;

  g_variant_get (state, "(vmv)", NULL, &data);
  g_assert_null (data); /* TestProbe has no dump_data */
  return g_variant_new ("(vmv)", g_variant_new_string ("b"), NULL);
}

/* Issue: a machine that took a reply, kept it in its data and then
 * crashed left its caller waiting for its own timeout; the caller learns
 * at once, STOPPED, as an Erlang caller does through its monitor. */
static void
test_statem_taken_reply_at_crash (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  ProbeCall taken = { probe, "take", TEST_CALL_TIMEOUT_MS, NULL, NULL };
  GThread *thread;

  test_start_ok (probe, NULL);
  thread = g_thread_new ("caller", probe_call_thread, &taken);
  test_gate_wait_for (&probe->gate, &probe->log_length, 2);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestProbe crashed: failed on purpose*");
  cast_ok (probe, "fail");
  g_thread_join (thread);
  g_assert_error (taken.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);
  g_assert_true (gen_server_wait_stopped (GEN_SERVER (probe), -1));
  g_test_assert_expected_messages ();
  probe_call_clear (&taken);
}

/* gen_statem_SUITE get_state and replace_state: (state, data), on the
 * machine's thread; a replaced state is set without enter calls. */
static void
test_statem_get_and_replace_state (void)
{
  g_autoptr(TestProbe) probe = probe_new (TRUE);
  g_autoptr(GVariant) state = NULL;
  g_autoptr(GVariant) replaced = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *reply = NULL;

  test_start_ok (probe, NULL);
  /* A system request jumps the queue: after the first enter call only. */
  test_gate_wait_for (&probe->gate, &probe->log_length, 2);
  state = gen_server_get_state (GEN_SERVER (probe), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (state), ==, "(vmv)");
  {
    g_autofree gchar *printed = g_variant_print (state, FALSE);

    g_assert_cmpstr (printed, ==, "(<'a'>, nothing)");
  }

  replaced = gen_server_replace_state (GEN_SERVER (probe), TEST_CALL_TIMEOUT_MS, to_state_b, NULL, &error);
  g_assert_no_error (error);
  assert_state (probe, "b");
  reply = call_ok (probe, "reply:done");
  assert_log (probe, (const gchar *[]) {
    "init",
    "a/enter/a",
    "b/call/reply:done",
    NULL });

  test_stop_ok (probe);
}

/* Replies taken earlier are answered by a later event, several at once. */
static void
test_statem_many_replies (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  ProbeCall first = { probe, "take", TEST_CALL_TIMEOUT_MS, NULL, NULL };
  ProbeCall second = { probe, "take", TEST_CALL_TIMEOUT_MS, NULL, NULL };
  GThread *threads[2];

  test_start_ok (probe, NULL);
  threads[0] = g_thread_new ("caller", probe_call_thread, &first);
  threads[1] = g_thread_new ("caller", probe_call_thread, &second);
  test_gate_wait_for (&probe->gate, &probe->log_length, 3);
  cast_ok (probe, "answer-held:both");
  for (guint i = 0; i < 2; i++)
    g_thread_join (threads[i]);

  g_assert_no_error (first.error);
  g_assert_no_error (second.error);
  g_assert_cmpstr (g_variant_get_string (first.reply, NULL), ==, "both");
  g_assert_cmpstr (g_variant_get_string (second.reply, NULL), ==, "both");
  probe_call_clear (&first);
  probe_call_clear (&second);
  test_stop_ok (probe);
}

/* A call to a state machine is a call to a server: it times out, calling
 * itself fails at once, a stop inside an event drops what was inserted,
 * and registry names work. */
static void
test_statem_is_a_server (void)
{
  g_autoptr(TestProbe) probe = probe_new (FALSE);
  g_autoptr(GenRegistry) registry = gen_registry_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GPtrArray) expected = g_ptr_array_new ();
  gboolean postponed = FALSE;

  test_start_ok (probe, NULL);
  g_ptr_array_add (expected, (gpointer) "init");

  /* A call that times out while still queued is never handled, so on a
   * busy machine the 10 ms call may expire before the machine took and
   * postponed it: then it is tried again with twice the timeout. The
   * call-self after each attempt is handled after it, so by the time it
   * returns the attempt was logged or dropped. */
  for (gint timeout_ms = 10; !postponed; timeout_ms *= 2)
    {
      g_autoptr(GVariant) code = NULL;
      guint logged = probe_log_length (probe);

      g_assert_cmpint (timeout_ms, <=, TEST_CALL_TIMEOUT_MS);
      reply = gen_server_call (GEN_SERVER (probe), g_variant_new_string ("postpone-unless:z"),
                               timeout_ms, &error);
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
      g_clear_error (&error);

      code = gen_server_call (GEN_SERVER (probe), g_variant_new_string ("call-self"),
                              TEST_CALL_TIMEOUT_MS, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (code), ==, GEN_SERVER_ERROR_CALLING_SELF);

      postponed = probe_log_length (probe) == logged + 2;
      if (postponed)
        g_ptr_array_add (expected, (gpointer) "a/call/postpone-unless:z");
      g_ptr_array_add (expected, (gpointer) "a/call/call-self");
    }

  g_assert_true (gen_registry_register (registry, "door", GEN_SERVER (probe), &error));
  g_assert_no_error (error);
  reply = gen_registry_call (registry, "door", g_variant_new_string ("reply:by-name"),
                             TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (reply, NULL), ==, "by-name");

  cast_ok (probe, "stop next:internal:never");
  g_assert_true (gen_server_wait_stopped (GEN_SERVER (probe), -1));
  g_assert_null (gen_registry_lookup (registry, "door"));
  g_ptr_array_add (expected, (gpointer) "a/call/reply:by-name");
  g_ptr_array_add (expected, (gpointer) "a/cast/stop next:internal:never");
  g_ptr_array_add (expected, NULL);
  assert_log (probe, (const gchar *const *) expected->pdata);
}

/* Supervised: a crashed machine is restarted in its first state. */
static void
test_statem_supervised (void)
{
  g_autoptr(GenSupervisor) supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3, 5000);
  g_autoptr(GenChildSpec) spec = gen_child_spec_new ("door", test_probe_get_type (), NULL);
  g_autoptr(GError) error = NULL;
  GenServer *first;
  GenServer *second;

  test_start_ok (supervisor, NULL);
  g_assert_true (gen_supervisor_start_child (supervisor, spec, &error));
  g_assert_no_error (error);
  first = gen_supervisor_get_child (supervisor, "door");
  cast_ok (TEST_PROBE (first), "goto:b");
  g_free (call_ok (TEST_PROBE (first), "reply:sync"));
  assert_state (TEST_PROBE (first), "b");

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestProbe crashed: failed on purpose*");
  cast_ok (TEST_PROBE (first), "fail");
  g_assert_true (gen_server_wait_stopped (first, -1));
  g_test_assert_expected_messages ();

  /* The restart happens on the supervisor's thread: a call to it returns
   * after it. */
  g_strfreev (gen_supervisor_which_children (supervisor, &error));
  g_assert_no_error (error);
  second = gen_supervisor_get_child (supervisor, "door");
  g_assert_nonnull (second);
  g_free (call_ok (TEST_PROBE (second), "reply:sync"));
  assert_state (TEST_PROBE (second), "a");
  g_object_unref (first);
  g_object_unref (second);
  test_stop_ok (supervisor);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/statem/events", test_statem_events);
  g_test_add_func ("/statem/call-errors", test_statem_call_errors);
  g_test_add_func ("/statem/crash", test_statem_crash);
  g_test_add_func ("/statem/postpone", test_statem_postpone);
  g_test_add_func ("/statem/postpone-stop", test_statem_postpone_stop);
  g_test_add_func ("/statem/killed-by-link", test_statem_killed_by_link);
  g_test_add_func ("/statem/next-event", test_statem_next_event);
  g_test_add_func ("/statem/state-enter", test_statem_state_enter);
  g_test_add_func ("/statem/enter-repeat-state", test_statem_enter_repeat_state);
  g_test_add_func ("/statem/zero-timeout", test_statem_zero_timeout);
  g_test_add_func ("/statem/stop-and-reply", test_statem_stop_and_reply);
  g_test_add_func ("/statem/taken-reply-at-crash", test_statem_taken_reply_at_crash);
  g_test_add_func ("/statem/get-and-replace-state", test_statem_get_and_replace_state);
  g_test_add_func ("/statem/state-functions", test_statem_state_functions);
  g_test_add_func ("/statem/event-types", test_statem_event_types);
  g_test_add_func ("/statem/state-timeout", test_statem_state_timeout);
  g_test_add_func ("/statem/event-timeout", test_statem_event_timeout);
  g_test_add_func ("/statem/generic-timeout", test_statem_generic_timeout);
  g_test_add_func ("/statem/timeout-cancel-and-update", test_statem_timeout_cancel_and_update);
  g_test_add_func ("/statem/absolute-timeouts", test_statem_absolute_timeouts);
  g_test_add_func ("/statem/many-replies", test_statem_many_replies);
  g_test_add_func ("/statem/is-a-server", test_statem_is_a_server);
  g_test_add_func ("/statem/supervised", test_statem_supervised);

  return g_test_run ();
}
