/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * genserver under GTest, as a user's test suite meets it: a crash is
 * reported without making the test fail, crash-and-restart code is
 * tested as doc/testing.md shows, and a subclass whose constructed() does
 * not chain up is told so. Public API only, like a user's test.
 */

#include <gio/gio.h>
#include <genserver/genserver.h>

#define DEADLINE_US (30 * G_USEC_PER_SEC)

#define BOOM_TYPE (boom_get_type ())
G_DECLARE_FINAL_TYPE (Boom, boom, TEST, BOOM, GenServer)

struct _Boom
{
  GenServer parent_instance;
  gint count; /* the server's thread only */
};

G_DEFINE_FINAL_TYPE (Boom, boom, GEN_TYPE_SERVER)

/* "add" counts, "crash" crashes; a call answers the count. */
static void
boom_handle_cast (GenServer  *server,
                  GVariant   *message,
                  GError    **error)
{
  if (g_str_equal (g_variant_get_string (message, NULL), "crash"))
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "boom");
  else
    TEST_BOOM (server)->count++;
}

static GVariant *
boom_handle_call (GenServer  *server,
                  GVariant   *message,
                  GError    **error)
{
  return g_variant_new_int32 (TEST_BOOM (server)->count);
}

static void
boom_class_init (BoomClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->handle_cast = boom_handle_cast;
  server_class->handle_call = boom_handle_call;
  gen_server_class_set_cast_type (server_class, "s");
}

static void
boom_init (Boom *self)
{
}

/* A monitor: sets the flag, on the test's main context. */
static void
stopped_cb (GenServer    *server,
            const GError *reason,
            gpointer      user_data)
{
  *(gboolean *) user_data = TRUE;
}

static gboolean
deadline_cb (gpointer data)
{
  g_error ("nothing happened within %d s", (int) (DEADLINE_US / G_USEC_PER_SEC));
  return G_SOURCE_REMOVE;
}

/* Runs the default main context until @flag is set, failing the test if
 * that takes longer than the deadline. */
static void
wait_for_flag (gboolean *flag)
{
  guint deadline = g_timeout_add_seconds (DEADLINE_US / G_USEC_PER_SEC, deadline_cb, NULL);

  while (!*flag)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (deadline);
}

static gint
count_of (GenServer *server)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = gen_server_call (server, g_variant_new ("()"), 5000, &error);

  g_assert_no_error (error);
  return g_variant_get_int32 (reply);
}

/* In a subprocess with GTest's default fatal mask (warnings and
 * criticals abort): crashing a server on purpose does not fail the test,
 * and the crash is reported on stderr. */
static void
test_crash_not_fatal (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(Boom) boom = g_object_new (BOOM_TYPE, NULL);
      gboolean stopped = FALSE;

      g_assert_true (gen_server_start (GEN_SERVER (boom), NULL, NULL));
      gen_server_monitor (GEN_SERVER (boom), stopped_cb, &stopped, NULL);
      g_assert_true (gen_server_cast (GEN_SERVER (boom), g_variant_new_string ("crash"), NULL));
      wait_for_flag (&stopped);
      return;
    }

  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*Gen-Message*Boom crashed: boom*");
}

/* The report is a message of the Gen domain, which g_test_expect_message()
 * sees and checks. */
static void
test_crash_expected (void)
{
  g_autoptr(Boom) boom = g_object_new (BOOM_TYPE, NULL);
  gboolean stopped = FALSE;

  g_assert_true (gen_server_start (GEN_SERVER (boom), NULL, NULL));
  gen_server_monitor (GEN_SERVER (boom), stopped_cb, &stopped, NULL);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "Boom crashed: boom");
  g_assert_true (gen_server_cast (GEN_SERVER (boom), g_variant_new_string ("crash"), NULL));
  wait_for_flag (&stopped);
  g_test_assert_expected_messages ();
}

/* The recipe of doc/testing.md: a supervised worker crashes and comes
 * back with fresh state under the same name. */
static void
test_crash_and_restart (void)
{
  g_autoptr(GenChildSpec) spec = gen_child_spec_new ("worker", BOOM_TYPE, NULL);
  g_autoptr(GenSupervisor) supervisor = NULL;
  g_autoptr(GenServer) first = NULL;
  g_autoptr(GenServer) second = NULL;
  g_auto(GStrv) children = NULL;
  g_autoptr(GError) error = NULL;
  gboolean stopped = FALSE;

  supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3, 5000);
  g_assert_true (gen_server_start (GEN_SERVER (supervisor),
                                   gen_supervisor_build_args (&spec, 1), &error));
  g_assert_no_error (error);

  first = gen_supervisor_get_child (supervisor, "worker");
  g_assert_true (gen_server_cast (first, g_variant_new_string ("add"), NULL));
  g_assert_cmpint (count_of (first), ==, 1);

  /* Monitor, then crash: the notice comes on this thread's context. */
  gen_server_monitor (first, stopped_cb, &stopped, NULL);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "Boom crashed: boom");
  g_assert_true (gen_server_cast (first, g_variant_new_string ("crash"), NULL));
  wait_for_flag (&stopped);
  g_test_assert_expected_messages ();

  /* A call the supervisor handles after its own notice of the crash:
   * when it returns, the restart is done. */
  children = gen_supervisor_which_children (supervisor, &error);
  g_assert_no_error (error);
  second = gen_supervisor_get_child (supervisor, "worker");
  g_assert_nonnull (second);
  g_assert_true (second != first);
  g_assert_cmpint (count_of (second), ==, 0);

  g_assert_true (gen_server_stop (GEN_SERVER (supervisor), -1, NULL));
}

#define FORGETFUL_TYPE (forgetful_get_type ())
G_DECLARE_FINAL_TYPE (Forgetful, forgetful, TEST, FORGETFUL, GenServer)

struct _Forgetful
{
  GenServer parent_instance;
};

G_DEFINE_FINAL_TYPE (Forgetful, forgetful, GEN_TYPE_SERVER)

/* The mistake under test: no G_OBJECT_CLASS (forgetful_parent_class)->
 * constructed (object). */
static void
forgetful_constructed (GObject *object)
{
}

static void
forgetful_class_init (ForgetfulClass *klass)
{
  G_OBJECT_CLASS (klass)->constructed = forgetful_constructed;
}

static void
forgetful_init (Forgetful *self)
{
}

/* A constructed() that does not chain up: start refuses with a critical
 * that says what to do, and calls and casts fail without crashing. In a
 * subprocess, so that a crash fails this test only. */
static void
test_missed_chain_up (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(Forgetful) server = g_object_new (FORGETFUL_TYPE, NULL);
      g_autoptr(GVariant) reply = NULL;
      g_autoptr(GError) error = NULL;

      g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL,
                             "Forgetful overrides GObject’s constructed() without chaining up; "
                             "call G_OBJECT_CLASS (parent_class)->constructed (object) from it, first");
      g_assert_false (gen_server_start (GEN_SERVER (server), NULL, &error));
      g_test_assert_expected_messages ();
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED);
      g_clear_error (&error);

      reply = gen_server_call (GEN_SERVER (server), g_variant_new ("()"), -1, &error);
      g_assert_null (reply);
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
      g_clear_error (&error);

      g_assert_false (gen_server_cast (GEN_SERVER (server), g_variant_new ("()"), &error));
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
      return;
    }

  g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/testing/crash/not-fatal", test_crash_not_fatal);
  g_test_add_func ("/testing/crash/expected", test_crash_expected);
  g_test_add_func ("/testing/crash/restart", test_crash_and_restart);
  g_test_add_func ("/testing/missed-chain-up", test_missed_chain_up);

  return g_test_run ();
}
