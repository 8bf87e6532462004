/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"
#include "genserver/gen-core-private.h"

/* Stop reasons, crashes and monitors. A probe server is steered by string
 * messages and records what terminate saw. */

struct _TestProbe
{
  GenServer parent_instance;

  /* Protected by `lock`. */
  GMutex lock;
  guint terminate_count;
  GError *terminate_reason;
};

G_DECLARE_FINAL_TYPE (TestProbe, test_probe, TEST, PROBE, GenServer)
G_DEFINE_TYPE (TestProbe, test_probe, GEN_TYPE_SERVER)

static GError *
probe_error (const gchar *what)
{
  return g_error_new (G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "%s on purpose", what);
}

static void
test_probe_init_server (GenServer  *server,
                        GVariant   *args,
                        GError    **error)
{
  const gchar *command = args ? g_variant_get_string (args, NULL) : "ok";

  if (g_str_equal (command, "fail"))
    g_propagate_error (error, probe_error ("init failed"));
  else if (g_str_equal (command, "continue-crash"))
    gen_server_continue (server, g_variant_new_string ("crash"));
}

static void
test_probe_handle_cast (GenServer  *server,
                        GVariant   *message,
                        GError    **error)
{
  const gchar *command = g_variant_get_string (message, NULL);

  if (g_str_equal (command, "crash"))
    g_propagate_error (error, probe_error ("cast crashed"));
}

static void
test_probe_handle_info (GenServer  *server,
                        GVariant   *message,
                        GError    **error)
{
  if (g_str_equal (g_variant_get_string (message, NULL), "crash"))
    g_propagate_error (error, probe_error ("info crashed"));
}

static void
test_probe_handle_continue (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  if (g_str_equal (g_variant_get_string (message, NULL), "crash"))
    g_propagate_error (error, probe_error ("continue crashed"));
}

static GVariant *
test_probe_handle_call (GenServer  *server,
                        GVariant   *message,
                        GError    **error)
{
  const gchar *command = g_variant_get_string (message, NULL);

  if (g_str_equal (command, "fail"))
    {
      g_propagate_error (error, probe_error ("call failed"));
      return NULL;
    }
  if (g_str_equal (command, "stop-error"))
    {
      g_autoptr(GError) reason = probe_error ("stopped");
      gboolean stopping = gen_server_stop_with_reason (server, reason, -1, NULL);

      return g_variant_new_boolean (stopping);
    }
  if (g_str_equal (command, "stop-normal"))
    return g_variant_new_boolean (gen_server_stop_with_reason (server, NULL, -1, NULL));

  return g_variant_new_string (command);
}

static void
test_probe_terminate (GenServer    *server,
                      const GError *reason)
{
  TestProbe *self = TEST_PROBE (server);

  g_mutex_lock (&self->lock);
  self->terminate_count++;
  g_clear_error (&self->terminate_reason);
  self->terminate_reason = reason ? g_error_copy (reason) : NULL;
  g_mutex_unlock (&self->lock);
}

static void
test_probe_finalize (GObject *object)
{
  TestProbe *self = TEST_PROBE (object);

  g_clear_error (&self->terminate_reason);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (test_probe_parent_class)->finalize (object);
}

static void
test_probe_class_init (TestProbeClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = test_probe_finalize;
  server_class->init = test_probe_init_server;
  server_class->handle_cast = test_probe_handle_cast;
  server_class->handle_call = test_probe_handle_call;
  server_class->handle_info = test_probe_handle_info;
  server_class->handle_continue = test_probe_handle_continue;
  server_class->terminate = test_probe_terminate;
}

static void
test_probe_init (TestProbe *self)
{
  g_mutex_init (&self->lock);
}

static TestProbe *
probe_start (const gchar *command)
{
  TestProbe *probe = g_object_new (test_probe_get_type (), NULL);
  g_autoptr(GError) error = NULL;

  gen_server_start (GEN_SERVER (probe), command ? g_variant_new_string (command) : NULL, &error);
  g_assert_no_error (error);
  return probe;
}

/* What a monitor saw. */
typedef struct
{
  guint count;
  gboolean reason_set;
  GQuark domain;
  gint code;
  gchar *message;
  GThread *thread;
  GMainContext *context; /* the thread-default context it ran on */
  GenServer *server;     /* unowned, compared only */
  gboolean destroyed;
} Notice;

static void
notice_clear (Notice *notice)
{
  g_free (notice->message);
}

static void
notice_cb (GenServer    *server,
           const GError *reason,
           gpointer      user_data)
{
  Notice *notice = user_data;

  notice->count++;
  notice->server = server;
  notice->thread = g_thread_self ();
  notice->context = g_main_context_get_thread_default ();
  notice->reason_set = reason != NULL;
  if (reason != NULL)
    {
      notice->domain = reason->domain;
      notice->code = reason->code;
      g_free (notice->message);
      notice->message = g_strdup (reason->message);
    }
}

static void
notice_destroyed (gpointer user_data)
{
  ((Notice *) user_data)->destroyed = TRUE;
}

static gboolean
deadline_cb (gpointer data)
{
  g_error ("condition not met within %d s", (int) (TEST_DEADLINE_US / G_USEC_PER_SEC));
  return G_SOURCE_REMOVE;
}

/* Iterates @context (NULL: the global default) until *@count reaches
 * @wanted, then drains whatever else is ready, so that a second notice
 * would be seen. */
static void
run_until_count (GMainContext *context,
                 guint        *count,
                 guint         wanted)
{
  GSource *deadline = g_timeout_source_new (TEST_DEADLINE_US / 1000);

  g_source_set_callback (deadline, deadline_cb, NULL, NULL);
  g_source_attach (deadline, context);
  while (*count < wanted)
    g_main_context_iteration (context, TRUE);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_source_destroy (deadline);
  g_source_unref (deadline);
}

static guint
probe_terminate_count (TestProbe *probe)
{
  guint count;

  g_mutex_lock (&probe->lock);
  count = probe->terminate_count;
  g_mutex_unlock (&probe->lock);
  return count;
}

static void
test_monitor_normal_stop (void)
{
  g_autoptr(TestProbe) probe = probe_start (NULL);
  g_autoptr(GError) error = NULL;
  Notice notice = { 0, };
  guint id;

  id = gen_server_monitor (GEN_SERVER (probe), notice_cb, &notice, notice_destroyed);
  g_assert_cmpuint (id, !=, 0);

  gen_server_stop (GEN_SERVER (probe), -1, &error);
  g_assert_no_error (error);
  /* Never from inside another call: only from the context. */
  g_assert_cmpuint (notice.count, ==, 0);

  run_until_count (NULL, &notice.count, 1);
  g_assert_cmpuint (notice.count, ==, 1);
  g_assert_false (notice.reason_set);
  g_assert_true (notice.server == GEN_SERVER (probe));
  g_assert_true (notice.thread == g_thread_self ());
  g_assert_true (notice.destroyed);
  g_assert_null (probe->terminate_reason);

  /* A monitor lasts one run. */
  g_assert_false (gen_server_demonitor (GEN_SERVER (probe), id));
  notice_clear (&notice);
}

static void
test_monitor_crash_reason (void)
{
  const gchar *crashes[] = { "cast", "info", "continue" };

  for (guint i = 0; i < G_N_ELEMENTS (crashes); i++)
    {
      g_autoptr(TestProbe) probe = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree gchar *expected = g_strdup_printf ("%s crashed on purpose", crashes[i]);
      g_autofree gchar *pattern = g_strdup_printf ("*TestProbe crashed: %s*", expected);
      Notice notice = { 0, };

      g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, pattern);
      probe = probe_start (g_str_equal (crashes[i], "continue") ? "continue-crash" : NULL);
      gen_server_monitor (GEN_SERVER (probe), notice_cb, &notice, NULL);
      if (g_str_equal (crashes[i], "cast"))
        gen_server_cast (GEN_SERVER (probe), g_variant_new_string ("crash"), &error);
      else if (g_str_equal (crashes[i], "info"))
        gen_server_send_info (GEN_SERVER (probe), g_variant_new_string ("crash"), &error);
      /* A continue from init may crash before the monitor is set: then it
       * is told at once that the server is not running. */
      g_assert_no_error (error);

      run_until_count (NULL, &notice.count, 1);
      g_test_assert_expected_messages ();
      g_assert_cmpuint (notice.count, ==, 1);
      g_assert_true (notice.reason_set);
      if (notice.code == GEN_SERVER_ERROR_NOT_RUNNING && notice.domain == GEN_SERVER_ERROR)
        g_assert_true (g_str_equal (crashes[i], "continue"));
      else
        {
          g_assert_cmpuint (notice.domain, ==, G_IO_ERROR);
          g_assert_cmpint (notice.code, ==, G_IO_ERROR_BROKEN_PIPE);
          g_assert_cmpstr (notice.message, ==, expected);
        }

      test_wait_until (test_not_running, probe);
      g_assert_cmpuint (probe_terminate_count (probe), ==, 1);
      g_assert_error (probe->terminate_reason, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
      g_assert_cmpstr (probe->terminate_reason->message, ==, expected);
      notice_clear (&notice);
    }
}

static void
test_monitor_not_running (void)
{
  g_autoptr(TestProbe) probe = g_object_new (test_probe_get_type (), NULL);
  Notice never_started = { 0, };
  Notice stopped = { 0, };

  gen_server_monitor (GEN_SERVER (probe), notice_cb, &never_started, notice_destroyed);
  /* At once, but through the context. */
  g_assert_cmpuint (never_started.count, ==, 0);
  run_until_count (NULL, &never_started.count, 1);
  g_assert_cmpuint (never_started.count, ==, 1);
  g_assert_true (never_started.destroyed);
  g_assert_true (never_started.reason_set);
  g_assert_cmpuint (never_started.domain, ==, GEN_SERVER_ERROR);
  g_assert_cmpint (never_started.code, ==, GEN_SERVER_ERROR_NOT_RUNNING);

  g_assert_true (gen_server_start (GEN_SERVER (probe), NULL, NULL));
  g_assert_true (gen_server_stop (GEN_SERVER (probe), -1, NULL));
  gen_server_monitor (GEN_SERVER (probe), notice_cb, &stopped, NULL);
  run_until_count (NULL, &stopped.count, 1);
  g_assert_cmpint (stopped.code, ==, GEN_SERVER_ERROR_NOT_RUNNING);

  notice_clear (&never_started);
  notice_clear (&stopped);
}

static void
test_monitor_demonitor (void)
{
  g_autoptr(TestProbe) probe = probe_start (NULL);
  Notice removed = { 0, };
  Notice kept = { 0, };
  Notice in_flight = { 0, };
  guint removed_id, in_flight_id;
  g_autoptr(TestProbe) stopped = g_object_new (test_probe_get_type (), NULL);

  removed_id = gen_server_monitor (GEN_SERVER (probe), notice_cb, &removed, notice_destroyed);
  gen_server_monitor (GEN_SERVER (probe), notice_cb, &kept, NULL);
  g_assert_true (gen_server_demonitor (GEN_SERVER (probe), removed_id));
  g_assert_true (removed.destroyed);
  g_assert_false (gen_server_demonitor (GEN_SERVER (probe), removed_id));
  g_assert_false (gen_server_demonitor (GEN_SERVER (probe), 0));

  gen_server_stop (GEN_SERVER (probe), -1, NULL);
  run_until_count (NULL, &kept.count, 1);
  g_assert_cmpuint (removed.count, ==, 0);

  /* Removed after the server stopped, before the notice was delivered:
   * never delivered either. */
  in_flight_id = gen_server_monitor (GEN_SERVER (stopped), notice_cb, &in_flight, notice_destroyed);
  g_assert_false (gen_server_demonitor (GEN_SERVER (probe), in_flight_id));
  g_assert_true (gen_server_demonitor (GEN_SERVER (stopped), in_flight_id));
  g_assert_true (in_flight.destroyed);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (in_flight.count, ==, 0);

  notice_clear (&removed);
  notice_clear (&kept);
  notice_clear (&in_flight);
}

typedef struct
{
  GenServer *server;
  Notice notice;
  GMainContext *context;
  GMutex lock;
  GCond cond;
  gboolean monitoring;
} MonitorThread;

static gpointer
monitor_thread_main (gpointer data)
{
  MonitorThread *state = data;

  state->context = g_main_context_new ();
  g_main_context_push_thread_default (state->context);
  gen_server_monitor (state->server, notice_cb, &state->notice, NULL);

  g_mutex_lock (&state->lock);
  state->monitoring = TRUE;
  g_cond_signal (&state->cond);
  g_mutex_unlock (&state->lock);

  run_until_count (state->context, &state->notice.count, 1);
  g_main_context_pop_thread_default (state->context);
  return NULL;
}

static void
test_monitor_on_own_context (void)
{
  g_autoptr(TestProbe) probe = probe_start (NULL);
  MonitorThread state = { .server = GEN_SERVER (probe) };
  GThread *thread;
  g_autoptr(GError) reason = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "shutting down");

  g_mutex_init (&state.lock);
  g_cond_init (&state.cond);
  thread = g_thread_new ("monitor", monitor_thread_main, &state);
  g_mutex_lock (&state.lock);
  while (!state.monitoring)
    g_cond_wait (&state.cond, &state.lock);
  g_mutex_unlock (&state.lock);

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestProbe crashed: shutting down*");
  g_assert_true (gen_server_stop_with_reason (GEN_SERVER (probe), reason, -1, NULL));
  g_test_assert_expected_messages ();
  g_thread_join (thread);

  g_assert_cmpuint (state.notice.count, ==, 1);
  g_assert_true (state.notice.thread == thread);
  g_assert_true (state.notice.context == state.context);
  g_assert_cmpuint (state.notice.domain, ==, G_IO_ERROR);
  g_assert_cmpint (state.notice.code, ==, G_IO_ERROR_CANCELLED);

  g_main_context_unref (state.context);
  g_mutex_clear (&state.lock);
  g_cond_clear (&state.cond);
  notice_clear (&state.notice);
}

static void
test_stop_reason_from_outside (void)
{
  g_autoptr(TestProbe) probe = probe_start (NULL);
  g_autoptr(GError) reason = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "too slow");
  g_autoptr(GError) error = NULL;
  Notice notice = { 0, };

  gen_server_monitor (GEN_SERVER (probe), notice_cb, &notice, NULL);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestProbe crashed: too slow*");
  g_assert_true (gen_server_stop_with_reason (GEN_SERVER (probe), reason, -1, &error));
  g_assert_no_error (error);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (probe->terminate_count, ==, 1);
  g_assert_error (probe->terminate_reason, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);

  run_until_count (NULL, &notice.count, 1);
  g_assert_cmpint (notice.code, ==, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpstr (notice.message, ==, "too slow");

  /* Not running any more; and a later normal run has a normal end. */
  g_assert_false (gen_server_stop_with_reason (GEN_SERVER (probe), reason, -1, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&error);
  g_assert_true (gen_server_start (GEN_SERVER (probe), NULL, NULL));
  g_assert_true (gen_server_stop_with_reason (GEN_SERVER (probe), NULL, -1, NULL));
  g_assert_cmpuint (probe->terminate_count, ==, 2);
  g_assert_null (probe->terminate_reason);
  notice_clear (&notice);
}

static void
test_stop_reason_from_handler (void)
{
  g_autoptr(TestProbe) probe = probe_start (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  Notice notice = { 0, };

  gen_server_monitor (GEN_SERVER (probe), notice_cb, &notice, NULL);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestProbe crashed: stopped on purpose*");
  /* The caller gets its reply first. */
  reply = gen_server_call (GEN_SERVER (probe), g_variant_new_string ("stop-error"),
                           TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_get_boolean (reply));

  run_until_count (NULL, &notice.count, 1);
  g_test_assert_expected_messages ();
  g_assert_cmpstr (notice.message, ==, "stopped on purpose");
  test_wait_until (test_not_running, probe);
  g_assert_cmpuint (probe_terminate_count (probe), ==, 1);
  g_assert_error (probe->terminate_reason, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  notice_clear (&notice);

  /* A normal stop from inside: reason NULL. */
  g_assert_true (gen_server_start (GEN_SERVER (probe), NULL, NULL));
  memset (&notice, 0, sizeof notice);
  gen_server_monitor (GEN_SERVER (probe), notice_cb, &notice, NULL);
  g_clear_pointer (&reply, g_variant_unref);
  reply = gen_server_call (GEN_SERVER (probe), g_variant_new_string ("stop-normal"),
                           TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  run_until_count (NULL, &notice.count, 1);
  g_assert_false (notice.reason_set);
  test_wait_until (test_not_running, probe);
  g_assert_null (probe->terminate_reason);
}

static void
test_call_error_is_not_a_crash (void)
{
  g_autoptr(TestProbe) probe = probe_start (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  Notice notice = { 0, };

  gen_server_monitor (GEN_SERVER (probe), notice_cb, &notice, NULL);
  reply = gen_server_call (GEN_SERVER (probe), g_variant_new_string ("fail"),
                           TEST_CALL_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_assert_true (gen_server_is_running (GEN_SERVER (probe)));

  /* The monitor only fires at the normal stop. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (notice.count, ==, 0);
  gen_server_stop (GEN_SERVER (probe), -1, NULL);
  run_until_count (NULL, &notice.count, 1);
  g_assert_false (notice.reason_set);
  g_assert_cmpuint (probe->terminate_count, ==, 1);
}

/* An exit hook armed before start() (as supervisors do) gets init's error,
 * at once, on the starter's thread; terminate never runs. */
static void
test_monitor_init_failure (void)
{
  g_autoptr(TestProbe) probe = g_object_new (test_probe_get_type (), NULL);
  g_autoptr(GError) error = NULL;
  Notice hook = { 0, };
  Notice notice = { 0, };

  g_assert_cmpuint (gen_monitor_watch (GEN_SERVER (probe), notice_cb, &hook, NULL, GEN_WATCH_DEFAULT), ==, 0);
  g_assert_cmpuint (gen_monitor_watch (GEN_SERVER (probe), notice_cb, &hook, NULL, GEN_WATCH_NEXT_RUN), !=, 0);
  g_assert_false (gen_server_start (GEN_SERVER (probe), g_variant_new_string ("fail"), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_assert_cmpuint (probe->terminate_count, ==, 0);
  g_assert_cmpuint (hook.count, ==, 1);
  g_assert_true (hook.thread == g_thread_self ());
  g_assert_cmpint (hook.code, ==, G_IO_ERROR_BROKEN_PIPE);
  g_assert_cmpstr (hook.message, ==, "init failed on purpose");

  gen_server_monitor (GEN_SERVER (probe), notice_cb, &notice, NULL);
  run_until_count (NULL, &notice.count, 1);
  g_assert_cmpint (notice.code, ==, GEN_SERVER_ERROR_NOT_RUNNING);
  g_assert_cmpuint (hook.count, ==, 1);
  notice_clear (&hook);
  notice_clear (&notice);
}

/* An exit hook runs on the server's thread, before stop() returns (on a
 * pool, a stop that waits as long as it takes runs the server's last
 * messages, and so the hook, right on the stopper's thread). */
static void
test_exit_hook (void)
{
  g_autoptr(TestProbe) probe = probe_start (NULL);
  Notice hook = { 0, };

  g_assert_cmpuint (gen_monitor_watch (GEN_SERVER (probe), notice_cb, &hook, notice_destroyed, GEN_WATCH_DEFAULT), !=, 0);
  gen_server_stop (GEN_SERVER (probe), -1, NULL);
  g_assert_cmpuint (hook.count, ==, 1);
  g_assert_true (hook.destroyed);
  g_assert_false (hook.reason_set);
  if (gen_server_get_scheduler (GEN_SERVER (probe)) == NULL)
    g_assert_true (hook.thread != g_thread_self ());
  else
    g_assert_true (hook.thread == g_thread_self ());
}

static void
record_hook (GenServer    *server,
             const GError *reason,
             gpointer      user_data)
{
  g_string_append (user_data, g_object_get_data (G_OBJECT (server), "next-mark"));
  g_object_set_data (G_OBJECT (server), "next-mark", (gpointer) "2");
}

/* The registry's hooks (GEN_WATCH_FIRST) run before the supervisor's,
 * whatever the order they were added in: a name is free before the
 * restart that takes it again. */
static void
test_exit_hook_order (void)
{
  for (guint round = 0; round < 8; round++)
    {
      g_autoptr(TestProbe) probe = probe_start (NULL);
      g_autoptr(GString) order = g_string_new (NULL);
      GString *last = g_string_new (NULL);
      guint i;

      g_object_set_data (G_OBJECT (probe), "next-mark", (gpointer) "1");
      for (i = 0; i < round; i++)
        gen_monitor_watch (GEN_SERVER (probe), record_hook, last, NULL, GEN_WATCH_DEFAULT);
      gen_monitor_watch (GEN_SERVER (probe), record_hook, order, NULL, GEN_WATCH_FIRST);
      gen_server_stop (GEN_SERVER (probe), -1, NULL);
      /* The first hook saw the first mark. */
      g_assert_cmpstr (order->str, ==, "1");
      g_string_free (last, TRUE);
    }
}

/* A server on a main context: its run ends on the context's thread, here
 * the test's own, for a stop and for a crash alike. */
static void
test_monitor_context_server (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(TestProbe) probe = g_object_new (test_probe_get_type (), "main-context", context, NULL);
  Notice stopped = { 0, };
  Notice crashed = { 0, };

  g_main_context_push_thread_default (context);
  g_assert_true (gen_server_start (GEN_SERVER (probe), NULL, NULL));
  gen_server_monitor (GEN_SERVER (probe), notice_cb, &stopped, NULL);
  g_assert_true (gen_server_stop (GEN_SERVER (probe), -1, NULL));
  run_until_count (context, &stopped.count, 1);
  g_assert_false (stopped.reason_set);
  g_assert_true (stopped.context == context);

  g_assert_true (gen_server_start (GEN_SERVER (probe), NULL, NULL));
  gen_server_monitor (GEN_SERVER (probe), notice_cb, &crashed, NULL);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestProbe crashed: cast crashed on purpose*");
  g_assert_true (gen_server_cast (GEN_SERVER (probe), g_variant_new_string ("crash"), NULL));
  run_until_count (context, &crashed.count, 1);
  g_test_assert_expected_messages ();
  g_assert_cmpstr (crashed.message, ==, "cast crashed on purpose");
  g_assert_cmpuint (stopped.count, ==, 1);
  g_main_context_pop_thread_default (context);
  notice_clear (&crashed);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/monitor/normal-stop", test_monitor_normal_stop);
  g_test_add_func ("/monitor/crash-reason", test_monitor_crash_reason);
  g_test_add_func ("/monitor/not-running", test_monitor_not_running);
  g_test_add_func ("/monitor/demonitor", test_monitor_demonitor);
  g_test_add_func ("/monitor/own-context", test_monitor_on_own_context);
  g_test_add_func ("/monitor/init-failure", test_monitor_init_failure);
  g_test_add_func ("/monitor/exit-hook", test_exit_hook);
  g_test_add_func ("/monitor/exit-hook-order", test_exit_hook_order);
  g_test_add_func ("/monitor/context-server", test_monitor_context_server);
  g_test_add_func ("/stop-reason/from-outside", test_stop_reason_from_outside);
  g_test_add_func ("/stop-reason/from-handler", test_stop_reason_from_handler);
  g_test_add_func ("/stop-reason/call-error-is-not-a-crash", test_call_error_is_not_a_crash);

  return g_test_run ();
}
