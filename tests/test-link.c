/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"
#include "genserver/gen-core-private.h"

/* Links and trapping exits. A member server crashes on the cast "crash",
 * waits at its gate on "block", counts "count" (the call "handled" answers
 * how many); it traps exits when started with "trap", or with "trap-stop",
 * then stops itself with the reason of an abnormal exit message; with
 * "link-crash", its init links to init_partner and crashes it. It records
 * the exit messages it gets and whether terminate ran; every stop's reason
 * is recorded by an exit hook. */

struct _TestMember
{
  GenServer parent_instance;

  TestGate gate;        /* its lock protects the fields below */
  guint n_exits;        /* exit messages received */
  guint last_link_id;
  GError *last_exit;    /* owned: the reason in the last exit message */
  gboolean stopped;     /* the run ended */
  GError *stop_reason;  /* owned: why */
  gchar *other_messages; /* owned: the last info that was not an exit */
  guint handled;        /* "count" casts handled */
  gboolean trap_stop;   /* started with "trap-stop" */
  gboolean terminated;  /* terminate ran */
  GError *terminate_reason; /* owned: with this reason */
};

G_DECLARE_FINAL_TYPE (TestMember, test_member, TEST, MEMBER, GenServer)
G_DEFINE_TYPE (TestMember, test_member, GEN_TYPE_SERVER)

static GenServer *init_partner;  /* what "link-crash" links to in init */

static void
member_stopped (GenServer    *server,
                const GError *reason,
                gpointer      user_data)
{
  TestMember *self = TEST_MEMBER (server);

  g_mutex_lock (&self->gate.lock);
  self->stopped = TRUE;
  g_clear_error (&self->stop_reason);
  self->stop_reason = reason != NULL ? g_error_copy (reason) : NULL;
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);
}

static void
test_member_init_server (GenServer  *server,
                         GVariant   *args,
                         GError    **error)
{
  TestMember *self = TEST_MEMBER (server);
  const gchar *how = args != NULL ? g_variant_get_string (args, NULL) : "";

  g_mutex_lock (&self->gate.lock);
  self->stopped = FALSE;
  self->trap_stop = g_str_equal (how, "trap-stop");
  g_mutex_unlock (&self->gate.lock);
  gen_monitor_watch (server, member_stopped, NULL, NULL, GEN_WATCH_DEFAULT);
  gen_server_set_trap_exit (server, g_str_equal (how, "trap") || g_str_equal (how, "trap-stop"));

  if (g_str_equal (how, "link-crash"))
    {
      /* The partner's end sends its signal before init returns. */
      g_assert_cmpuint (gen_server_link (server, init_partner, NULL), !=, 0);
      g_assert_true (gen_server_cast (init_partner, g_variant_new_string ("crash"), NULL));
      g_assert_true (gen_server_wait_stopped (init_partner, -1));
    }
}

static void
test_member_handle_cast (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  TestMember *self = TEST_MEMBER (server);
  const gchar *command = g_variant_get_string (message, NULL);

  if (g_str_equal (command, "crash"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "crashed on purpose");
  else if (g_str_equal (command, "block"))
    test_gate_pass (&self->gate);
  else if (g_str_equal (command, "count"))
    {
      g_mutex_lock (&self->gate.lock);
      self->handled++;
      g_cond_broadcast (&self->gate.cond);
      g_mutex_unlock (&self->gate.lock);
    }
}

static GVariant *
test_member_handle_call (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  return g_variant_new_uint32 (test_gate_get (&TEST_MEMBER (server)->gate,
                                              &TEST_MEMBER (server)->handled));
}

static void
test_member_terminate (GenServer    *server,
                       const GError *reason)
{
  TestMember *self = TEST_MEMBER (server);

  g_mutex_lock (&self->gate.lock);
  self->terminated = TRUE;
  g_clear_error (&self->terminate_reason);
  self->terminate_reason = reason != NULL ? g_error_copy (reason) : NULL;
  g_mutex_unlock (&self->gate.lock);
}

static void
test_member_handle_info (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  TestMember *self = TEST_MEMBER (server);
  guint link_id = 0;

  g_mutex_lock (&self->gate.lock);
  if (gen_server_is_exit_message (message, &link_id))
    {
      g_clear_error (&self->last_exit);
      self->last_exit = gen_server_exit_message_dup_reason (message);
      self->last_link_id = link_id;
      self->n_exits++;
      if (self->trap_stop && self->last_exit != NULL)
        g_assert_true (gen_server_stop_with_reason (server, self->last_exit, 0, NULL));
    }
  else
    {
      g_free (self->other_messages);
      self->other_messages = g_variant_print (message, FALSE);
    }
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);
}

static void
test_member_finalize (GObject *object)
{
  TestMember *self = TEST_MEMBER (object);

  g_clear_error (&self->last_exit);
  g_clear_error (&self->stop_reason);
  g_clear_error (&self->terminate_reason);
  g_free (self->other_messages);
  test_gate_clear (&self->gate);

  G_OBJECT_CLASS (test_member_parent_class)->finalize (object);
}

static void
test_member_class_init (TestMemberClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = test_member_finalize;
  server_class->init = test_member_init_server;
  server_class->handle_cast = test_member_handle_cast;
  server_class->handle_call = test_member_handle_call;
  server_class->handle_info = test_member_handle_info;
  server_class->terminate = test_member_terminate;
}

static void
test_member_init (TestMember *self)
{
  test_gate_init (&self->gate);
}

/* A member on @context (NULL: the default scheduler). */
static TestMember *
member_start_on (GMainContext *context,
                 const gchar  *how)
{
  TestMember *member = g_object_new (test_member_get_type (), "main-context", context, NULL);

  return test_start_ok (member, how != NULL ? g_variant_new_string (how) : NULL);
}

static TestMember *
member_start (const gchar *how)
{
  return member_start_on (NULL, how);
}

static void
cast_ok (TestMember  *member,
         const gchar *message)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_server_cast (GEN_SERVER (member), g_variant_new_string (message), &error));
  g_assert_no_error (error);
}

static void
wait_stopped (TestMember *member)
{
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;

  g_mutex_lock (&member->gate.lock);
  while (!member->stopped)
    if (!g_cond_wait_until (&member->gate.cond, &member->gate.lock, deadline))
      break;
  g_assert_true (member->stopped);
  g_mutex_unlock (&member->gate.lock);
  g_assert_true (gen_server_wait_stopped (GEN_SERVER (member), -1));
}

/* Messages from one thread are handled in order: once this info is seen,
 * everything sent before it was handled. */
static void
sync_with (TestMember *member)
{
  static gint serial;
  g_autofree gchar *expected = g_strdup_printf ("'sync %d'", g_atomic_int_add (&serial, 1));
  g_autofree gchar *payload = g_strndup (expected + 1, strlen (expected) - 2);
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;

  g_assert_true (gen_server_send_info (GEN_SERVER (member), g_variant_new_string (payload), NULL));
  g_mutex_lock (&member->gate.lock);
  while (g_strcmp0 (member->other_messages, expected) != 0)
    if (!g_cond_wait_until (&member->gate.cond, &member->gate.lock, deadline))
      break;
  g_assert_cmpstr (member->other_messages, ==, expected);
  g_mutex_unlock (&member->gate.lock);
}

/* A crash ends every server linked to it, with its reason, and on along
 * their links; both ways. Only the crash is reported: the servers it ended
 * did not crash. */
static void
test_link_crash_together (void)
{
  g_autoptr(TestMember) a = member_start (NULL);
  g_autoptr(TestMember) b = member_start (NULL);
  g_autoptr(TestMember) c = member_start (NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (gen_server_link (GEN_SERVER (a), GEN_SERVER (b), &error), !=, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (gen_server_link (GEN_SERVER (c), GEN_SERVER (b), &error), !=, 0);
  g_assert_no_error (error);

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestMember crashed: crashed on purpose*");
  cast_ok (c, "crash");   /* c → b → a: the link is two-way */
  wait_stopped (c);
  wait_stopped (b);
  wait_stopped (a);
  g_test_assert_expected_messages ();

  g_assert_error (a->stop_reason, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_error (b->stop_reason, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_error (c->stop_reason, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

/* An abnormal stop propagates as a crash does; a normal one propagates
 * nothing. */
static void
test_link_stop_reasons (void)
{
  g_autoptr(TestMember) a = member_start (NULL);
  g_autoptr(TestMember) b = member_start (NULL);
  g_autoptr(GError) reason = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "shut down");

  g_assert_cmpuint (gen_server_link (GEN_SERVER (a), GEN_SERVER (b), NULL), !=, 0);
  test_stop_ok (a);
  sync_with (b);
  g_assert_true (gen_server_is_running (GEN_SERVER (b)));
  g_assert_false (gen_server_unlink (GEN_SERVER (a), GEN_SERVER (b)));  /* gone with a's run */

  test_start_ok (a, NULL);
  g_assert_cmpuint (gen_server_link (GEN_SERVER (a), GEN_SERVER (b), NULL), !=, 0);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestMember crashed: shut down*");
  g_assert_true (gen_server_stop_with_reason (GEN_SERVER (a), reason, -1, NULL));
  wait_stopped (b);
  g_test_assert_expected_messages ();
  g_assert_error (b->stop_reason, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (b->terminated);
}

/* A server that traps exits gets a message instead, for normal stops too,
 * with the link's id and the reason; it keeps running. */
static void
test_link_trap_exit (void)
{
  g_autoptr(TestMember) trapper = member_start ("trap");
  g_autoptr(TestMember) a = member_start (NULL);
  g_autoptr(TestMember) b = member_start (NULL);
  guint link_a;
  guint link_b;

  g_assert_true (gen_server_get_trap_exit (GEN_SERVER (trapper)));
  g_assert_false (gen_server_get_trap_exit (GEN_SERVER (a)));
  link_a = gen_server_link (GEN_SERVER (a), GEN_SERVER (trapper), NULL);
  link_b = gen_server_link (GEN_SERVER (trapper), GEN_SERVER (b), NULL);
  g_assert_cmpuint (link_a, !=, 0);
  g_assert_cmpuint (link_b, !=, link_a);
  /* Linking again is the same link. */
  g_assert_cmpuint (gen_server_link (GEN_SERVER (trapper), GEN_SERVER (a), NULL), ==, link_a);

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestMember crashed: crashed on purpose*");
  cast_ok (a, "crash");
  test_gate_wait_for (&trapper->gate, &trapper->n_exits, 1);
  g_test_assert_expected_messages ();
  g_mutex_lock (&trapper->gate.lock);
  g_assert_cmpuint (trapper->last_link_id, ==, link_a);
  g_assert_error (trapper->last_exit, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_mutex_unlock (&trapper->gate.lock);

  test_stop_ok (b);
  test_gate_wait_for (&trapper->gate, &trapper->n_exits, 2);
  g_mutex_lock (&trapper->gate.lock);
  g_assert_cmpuint (trapper->last_link_id, ==, link_b);
  g_assert_no_error (trapper->last_exit);
  g_mutex_unlock (&trapper->gate.lock);

  g_assert_true (gen_server_is_running (GEN_SERVER (trapper)));
  test_stop_ok (trapper);
}

/* Unlinked servers no longer stop together; linking a server that is not
 * running fails. */
static void
test_link_unlink (void)
{
  g_autoptr(TestMember) a = member_start (NULL);
  g_autoptr(TestMember) b = member_start (NULL);
  g_autoptr(TestMember) idle = g_object_new (test_member_get_type (), NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (gen_server_link (GEN_SERVER (a), GEN_SERVER (idle), &error), ==, 0);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&error);

  g_assert_cmpuint (gen_server_link (GEN_SERVER (a), GEN_SERVER (b), NULL), !=, 0);
  g_assert_true (gen_server_unlink (GEN_SERVER (b), GEN_SERVER (a)));
  g_assert_false (gen_server_unlink (GEN_SERVER (a), GEN_SERVER (b)));

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestMember crashed: crashed on purpose*");
  cast_ok (a, "crash");
  wait_stopped (a);
  g_test_assert_expected_messages ();
  sync_with (b);
  g_assert_true (gen_server_is_running (GEN_SERVER (b)));
  test_stop_ok (b);
}

static void
assert_killed (TestMember *member,
               GenRequest *queued_call)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GError) error = NULL;
  guint64 casts = 0;

  wait_stopped (member);
  g_mutex_lock (&member->gate.lock);
  g_assert_error (member->stop_reason, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_cmpuint (member->handled, ==, 0);
  g_assert_false (member->terminated);
  g_mutex_unlock (&member->gate.lock);

  reply = gen_request_wait (queued_call, -1, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);
  g_assert_null (reply);

  /* The casts that were dropped are not counted as handled. */
  status = gen_server_get_status (GEN_SERVER (member));
  g_assert_true (g_variant_lookup (status, "casts", "t", &casts));
  g_assert_cmpuint (casts, ==, 1);  /* "block" */
}

/* An exit signal ends a linked server that does not trap exits at once:
 * the handler it runs finishes, nothing queued is handled (a queued call
 * is answered STOPPED, casts are dropped), terminate does not run, and
 * nothing sent after the signal gets in. signal_SUITE xm_sig_order (what
 * was sent after the signal never reaches the process) and the link line
 * of kill2killed (exit1: the process dies with its link's reason);
 * gen_server_SUITE's servers, which run terminate only when they trap
 * exits. On @context, or the default scheduler (thread, or pool in the
 * -pool run). */
static void
kill_while_handling (GMainContext *context)
{
  g_autoptr(TestMember) a = member_start (NULL);
  g_autoptr(TestMember) b = member_start_on (context, NULL);
  g_autoptr(GenRequest) queued_call = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (gen_server_link (GEN_SERVER (a), GEN_SERVER (b), NULL), !=, 0);
  cast_ok (b, "block");
  test_gate_wait_for (&b->gate, &b->gate.blocked, 1);
  cast_ok (b, "count");
  cast_ok (b, "count");
  queued_call = gen_server_send_request (GEN_SERVER (b), g_variant_new_string ("handled"));
  cast_ok (b, "count");

  /* Only the crash that sends the signal is reported. */
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestMember crashed: crashed on purpose*");
  cast_ok (a, "crash");
  wait_stopped (a);
  g_test_assert_expected_messages ();

  /* Still in its handler, already ending: nothing more gets in. */
  g_assert_false (gen_server_is_running (GEN_SERVER (b)));
  g_assert_false (gen_server_cast (GEN_SERVER (b), g_variant_new_string ("count"), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);

  test_gate_open (&b->gate);
  assert_killed (b, queued_call);
}

static void
test_link_kill_while_handling (void)
{
  kill_while_handling (NULL);
}

static void
test_link_kill_on_main_context (void)
{
  TestLoopThread loop_thread;

  test_loop_thread_start (&loop_thread);
  kill_while_handling (loop_thread.context);
  test_loop_thread_stop (&loop_thread);
}

/* A suspended server is ended by the signal without being resumed, and
 * handles none of what piled up, as a suspended Erlang process (its
 * signals are handled outside its receive loop) is. */
static void
test_link_kill_suspended (void)
{
  g_autoptr(TestMember) a = member_start (NULL);
  g_autoptr(TestMember) b = member_start (NULL);
  g_autoptr(GenRequest) queued_call = NULL;

  g_assert_cmpuint (gen_server_link (GEN_SERVER (a), GEN_SERVER (b), NULL), !=, 0);
  cast_ok (b, "block");
  test_gate_wait_for (&b->gate, &b->gate.blocked, 1);
  gen_server_suspend (GEN_SERVER (b));  /* once "block" returns */
  test_gate_open (&b->gate);
  cast_ok (b, "count");
  queued_call = gen_server_send_request (GEN_SERVER (b), g_variant_new_string ("handled"));

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestMember crashed: crashed on purpose*");
  cast_ok (a, "crash");
  assert_killed (b, queued_call);
  g_test_assert_expected_messages ();
}

/* A server that traps exits decides: it gets the signal as a message after
 * what was queued before it, and when it stops itself, its terminate runs
 * with the reason (gen_server_SUITE: a trapping server's terminate runs on
 * an exit). A graceful stop under way is cut short by a signal. */
static void
test_link_trap_exit_decides (void)
{
  g_autoptr(TestMember) a = member_start (NULL);
  g_autoptr(TestMember) trapper = member_start ("trap-stop");

  g_assert_cmpuint (gen_server_link (GEN_SERVER (a), GEN_SERVER (trapper), NULL), !=, 0);
  cast_ok (trapper, "block");
  test_gate_wait_for (&trapper->gate, &trapper->gate.blocked, 1);
  cast_ok (trapper, "count");
  cast_ok (trapper, "count");

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestMember crashed: crashed on purpose*");
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestMember crashed: crashed on purpose*");
  cast_ok (a, "crash");
  wait_stopped (a);
  test_gate_open (&trapper->gate);
  wait_stopped (trapper);
  g_test_assert_expected_messages ();

  g_mutex_lock (&trapper->gate.lock);
  g_assert_cmpuint (trapper->handled, ==, 2);
  g_assert_cmpuint (trapper->n_exits, ==, 1);
  g_assert_true (trapper->terminated);
  g_assert_error (trapper->terminate_reason, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_mutex_unlock (&trapper->gate.lock);
}

/* A server stopping gracefully (handling its queue first) that gets an
 * exit signal meanwhile ends at once: the rest of its queue is not
 * handled and terminate does not run. */
static void
test_link_kill_cuts_graceful_stop (void)
{
  g_autoptr(TestMember) a = member_start (NULL);
  g_autoptr(TestMember) b = member_start (NULL);
  g_autoptr(GenRequest) queued_call = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (gen_server_link (GEN_SERVER (a), GEN_SERVER (b), NULL), !=, 0);
  cast_ok (b, "block");
  test_gate_wait_for (&b->gate, &b->gate.blocked, 1);
  queued_call = gen_server_send_request (GEN_SERVER (b), g_variant_new_string ("handled"));
  cast_ok (b, "count");
  /* Without waiting: b is busy. */
  g_assert_false (gen_server_stop (GEN_SERVER (b), 0, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestMember crashed: crashed on purpose*");
  cast_ok (a, "crash");
  wait_stopped (a);
  test_gate_open (&b->gate);
  assert_killed (b, queued_call);
  g_test_assert_expected_messages ();
}

/* A signal that comes while the server starts (through a link its init
 * made) fails the start with the signal's reason, as an Erlang process
 * killed before init_ack makes start_link return {error, Reason}; its
 * terminate does not run. */
static void
test_link_kill_while_starting (void)
{
  g_autoptr(TestMember) partner = member_start (NULL);
  g_autoptr(TestMember) starting = g_object_new (test_member_get_type (), NULL);
  g_autoptr(GError) error = NULL;

  init_partner = GEN_SERVER (partner);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestMember crashed: crashed on purpose*");
  g_assert_false (gen_server_start (GEN_SERVER (starting), g_variant_new_string ("link-crash"), &error));
  g_test_assert_expected_messages ();
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_false (gen_server_is_running (GEN_SERVER (starting)));
  g_mutex_lock (&starting->gate.lock);
  g_assert_true (starting->stopped);
  g_assert_error (starting->stop_reason, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_false (starting->terminated);
  g_mutex_unlock (&starting->gate.lock);
  init_partner = NULL;

  /* The signal is gone with that run: the next start succeeds. */
  test_start_ok (starting, NULL);
  test_stop_ok (starting);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/link/crash-together", test_link_crash_together);
  g_test_add_func ("/link/stop-reasons", test_link_stop_reasons);
  g_test_add_func ("/link/trap-exit", test_link_trap_exit);
  g_test_add_func ("/link/unlink", test_link_unlink);
  g_test_add_func ("/link/kill-while-handling", test_link_kill_while_handling);
  g_test_add_func ("/link/kill-on-main-context", test_link_kill_on_main_context);
  g_test_add_func ("/link/kill-suspended", test_link_kill_suspended);
  g_test_add_func ("/link/kill-cuts-graceful-stop", test_link_kill_cuts_graceful_stop);
  g_test_add_func ("/link/trap-exit-decides", test_link_trap_exit_decides);
  g_test_add_func ("/link/kill-while-starting", test_link_kill_while_starting);

  return g_test_run ();
}
