/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"
#include "genserver/gen-core-private.h"

/* Start options: a start timeout, and an init that answers "ignore". A
 * starter's init does what its start argument says: "slow" waits at the
 * class-wide gate, "ignore" answers ignore, "ignore-once" ignores the
 * first time only. */

static TestGate gate;
static gint ignores_left;   /* atomic */
static GenServer *partner;  /* what "link-ignore" links to */

struct _TestStarter
{
  GenServer parent_instance;
};

G_DECLARE_FINAL_TYPE (TestStarter, test_starter, TEST, STARTER, GenServer)
G_DEFINE_TYPE (TestStarter, test_starter, GEN_TYPE_SERVER)

static void
test_starter_init_server (GenServer  *server,
                          GVariant   *args,
                          GError    **error)
{
  const gchar *how = args != NULL ? g_variant_get_string (args, NULL) : "";

  if (g_str_equal (how, "slow"))
    test_gate_pass (&gate);
  else if (g_str_equal (how, "ignore"))
    gen_server_set_ignore (error);
  else if (g_str_equal (how, "ignore-1.0"))
    /* What an init written for genserver 1.0 (or a binding) may still set. */
    g_set_error_literal (error, GEN_SERVER_IGNORE, 0, "old-style ignore");
  else if (g_str_equal (how, "ignore-once") && g_atomic_int_dec_and_test (&ignores_left))
    gen_server_set_ignore (error);
  else if (g_str_equal (how, "link-ignore"))
    {
      g_assert_cmpuint (gen_server_link (server, partner, NULL), !=, 0);
      gen_server_set_ignore (error);
    }
}

static GVariant *
test_starter_handle_call (GenServer  *server,
                          GVariant   *message,
                          GError    **error)
{
  return g_variant_new_string ("up");
}

static void
test_starter_class_init (TestStarterClass *klass)
{
  GEN_SERVER_CLASS (klass)->init = test_starter_init_server;
  GEN_SERVER_CLASS (klass)->handle_call = test_starter_handle_call;
}

static void
test_starter_init (TestStarter *self)
{
}

static void
record_reason (GenServer    *server,
               const GError *reason,
               gpointer      user_data)
{
  GError **slot = user_data;

  g_clear_error (slot);
  *slot = reason != NULL ? g_error_copy (reason) : NULL;
}

/* init within the timeout: started. Too slow: TIMEOUT, and the server
 * stops once its init returns, with the timeout as its reason. */
static void
test_start_timeout (void)
{
  g_autoptr(TestStarter) quick = g_object_new (test_starter_get_type (), NULL);
  g_autoptr(TestStarter) slow = g_object_new (test_starter_get_type (), NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) reason = NULL;

  g_assert_true (gen_server_start_with_timeout (GEN_SERVER (quick), NULL, TEST_CALL_TIMEOUT_MS, &error));
  g_assert_no_error (error);
  g_assert_true (gen_server_is_running (GEN_SERVER (quick)));
  test_stop_ok (quick);

  g_assert_true (gen_monitor_watch (GEN_SERVER (slow), record_reason, &reason, NULL,
                                    GEN_WATCH_NEXT_RUN) != 0);
  g_assert_false (gen_server_start_with_timeout (GEN_SERVER (slow), g_variant_new_string ("slow"),
                                                 0, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&error);

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestStarter crashed: TestStarter did not start within 0 ms*");
  test_gate_wait_for (&gate, &gate.blocked, 1);
  test_gate_open (&gate);
  /* The stop is asked for by the start's thread once init returned; the
   * exit hook has run by the time the server is marked stopped. */
  g_assert_true (gen_server_wait_stopped (GEN_SERVER (slow), -1));
  g_test_assert_expected_messages ();
  g_assert_error (reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);

  /* Stopped cleanly: it starts again. */
  g_assert_true (gen_server_start (GEN_SERVER (slow), NULL, &error));
  g_assert_no_error (error);
  test_stop_ok (slow);
}

/* ignore: start fails with GEN_SERVER_ERROR_IGNORED, distinct from a
 * failure (gen_server_SUITE start: init returning ignore). */
static void
test_start_ignore (void)
{
  g_autoptr(TestStarter) starter = g_object_new (test_starter_get_type (), NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (gen_server_start (GEN_SERVER (starter), g_variant_new_string ("ignore"), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_IGNORED);
  g_assert_true (gen_server_is_ignore (error));
  g_assert_false (gen_server_is_running (GEN_SERVER (starter)));
  g_assert_false (gen_server_is_ignore (NULL));
  {
    g_autoptr(GError) other = g_error_new_literal (GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED, "no");

    g_assert_false (gen_server_is_ignore (other));
  }
}

/* An init that still answers in 1.0's GEN_SERVER_IGNORE domain: the start
 * fails with the one code all the same, and the old test still works. */
static void
test_start_ignore_1_0_domain (void)
{
  g_autoptr(TestStarter) starter = g_object_new (test_starter_get_type (), NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) legacy = g_error_new_literal (GEN_SERVER_IGNORE, 0, "old-style ignore");

  g_assert_false (gen_server_start (GEN_SERVER (starter), g_variant_new_string ("ignore-1.0"), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_IGNORED);
  g_assert_cmpstr (error->message, ==, "old-style ignore");
  g_assert_true (gen_server_is_ignore (legacy));
  g_assert_false (gen_server_is_running (GEN_SERVER (starter)));
}

/* A supervisor records an ignoring child as not started and goes on;
 * restart_child tries it again. */
static void
test_supervisor_ignore (void)
{
  g_autoptr(GenSupervisor) supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 1, 5000);
  g_autoptr(GenChildSpec) ignored = gen_child_spec_new ("ignored", test_starter_get_type (),
                                                        g_variant_new_string ("ignore-once"));
  g_autoptr(GenChildSpec) fine = gen_child_spec_new ("fine", test_starter_get_type (), NULL);
  GenChildSpec *children[] = { ignored, fine };
  g_autoptr(GVariant) status = NULL;
  g_autofree gchar *printed = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GenServer) child = NULL;

  g_atomic_int_set (&ignores_left, 1);
  g_assert_true (gen_server_start (GEN_SERVER (supervisor), gen_supervisor_build_args (children, 2), &error));
  g_assert_no_error (error);
  g_assert_null (gen_supervisor_get_child (supervisor, "ignored"));
  status = gen_supervisor_which_children_status (supervisor, &error);
  printed = g_variant_print (status, FALSE);
  g_assert_cmpstr (printed, ==, "[('ignored', 'worker', 'stopped'), ('fine', 'worker', 'running')]");

  g_assert_true (gen_supervisor_restart_child (supervisor, "ignored", &error));
  g_assert_no_error (error);
  child = gen_supervisor_get_child (supervisor, "ignored");
  g_assert_nonnull (child);
  g_assert_true (gen_server_is_running (child));

  test_stop_ok (supervisor);
}

/* An ignore is no crash: a server linked to one that ignores goes on. */
static void
test_link_ignore (void)
{
  g_autoptr(TestStarter) other = g_object_new (test_starter_get_type (), NULL);
  g_autoptr(TestStarter) starter = g_object_new (test_starter_get_type (), NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  test_start_ok (other, NULL);
  partner = GEN_SERVER (other);
  g_assert_false (gen_server_start (GEN_SERVER (starter), g_variant_new_string ("link-ignore"), &error));
  g_assert_true (gen_server_is_ignore (error));
  partner = NULL;

  /* A call is handled after anything the link's end could have queued. */
  reply = gen_server_call (GEN_SERVER (other), g_variant_new_string ("ping"), TEST_CALL_TIMEOUT_MS, NULL);
  g_assert_nonnull (reply);
  g_assert_true (gen_server_is_running (GEN_SERVER (other)));
  test_stop_ok (other);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  test_gate_init (&gate);

  g_test_add_func ("/start/timeout", test_start_timeout);
  g_test_add_func ("/start/ignore", test_start_ignore);
  g_test_add_func ("/start/ignore-1.0-domain", test_start_ignore_1_0_domain);
  g_test_add_func ("/start/supervisor-ignore", test_supervisor_ignore);
  g_test_add_func ("/start/link-ignore", test_link_ignore);

  return g_test_run ();
}
