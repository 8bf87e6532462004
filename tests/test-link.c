/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"
#include "genserver/gen-core-private.h"

/* Links and trapping exits. A member server crashes on the cast "crash",
 * traps exits when started with "trap", and records the exit messages it
 * gets; every stop's reason is recorded by an exit hook. */

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
};

G_DECLARE_FINAL_TYPE (TestMember, test_member, TEST, MEMBER, GenServer)
G_DEFINE_TYPE (TestMember, test_member, GEN_TYPE_SERVER)

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

  g_mutex_lock (&self->gate.lock);
  self->stopped = FALSE;
  g_mutex_unlock (&self->gate.lock);
  gen_monitor_watch (server, member_stopped, NULL, NULL, GEN_WATCH_DEFAULT);
  gen_server_set_trap_exit (server, args != NULL && g_str_equal (g_variant_get_string (args, NULL), "trap"));
}

static void
test_member_handle_cast (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  if (g_str_equal (g_variant_get_string (message, NULL), "crash"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "crashed on purpose");
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
  server_class->handle_info = test_member_handle_info;
}

static void
test_member_init (TestMember *self)
{
  test_gate_init (&self->gate);
}

static TestMember *
member_start (const gchar *how)
{
  TestMember *member = g_object_new (test_member_get_type (), NULL);

  return test_start_ok (member, how != NULL ? g_variant_new_string (how) : NULL);
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

/* A crash stops every server linked to it, with its reason, and on along
 * their links; both ways. */
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
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestMember crashed: crashed on purpose*");
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
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestMember crashed: shut down*");
  g_assert_true (gen_server_stop_with_reason (GEN_SERVER (a), reason, -1, NULL));
  wait_stopped (b);
  g_test_assert_expected_messages ();
  g_assert_error (b->stop_reason, G_IO_ERROR, G_IO_ERROR_CANCELLED);
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

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/link/crash-together", test_link_crash_together);
  g_test_add_func ("/link/stop-reasons", test_link_stop_reasons);
  g_test_add_func ("/link/trap-exit", test_link_trap_exit);
  g_test_add_func ("/link/unlink", test_link_unlink);

  return g_test_run ();
}
