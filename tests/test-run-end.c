/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"
#include "genserver/gen-server-private.h"

/* Run-end functions (gen_server_add_run_end_func()): called once at every
 * end of a run, on the thread that ran its handlers, after terminate and
 * before anybody hears of the end; also when init fails and when an exit
 * signal ends the run. An ender's init adds two of them (unless started
 * with "none"), which, with terminate, their destroy functions and an exit
 * hook of the core (which runs where the public monitors are told), write
 * what happens, in order, to `log`. It crashes on the cast "crash", waits
 * at its gate on "block", and its init fails when started with "fail". */

struct _TestEnder
{
  GenServer parent_instance;

  TestGate gate;        /* its lock protects the fields below */
  GString *log;         /* owned: "terminate B A ~A ~B watch " for a stop */
  GThread *init_thread; /* where init ran */
  GThread *end_thread;  /* where the run-end functions ran */
  gboolean handler_thread_at_end; /* they ran as the handler thread */
  GError *end_reason;   /* owned: the reason they got */
  gboolean watched;     /* the exit hook ran */
};

G_DECLARE_FINAL_TYPE (TestEnder, test_ender, TEST, ENDER, GenServer)
G_DEFINE_TYPE (TestEnder, test_ender, GEN_TYPE_SERVER)

static void
ender_log (TestEnder   *self,
           const gchar *event)
{
  g_mutex_lock (&self->gate.lock);
  g_string_append_printf (self->log, "%s ", event);
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);
}

static void
run_ended (GenServer    *server,
           const GError *reason,
           gpointer      name)
{
  TestEnder *self = TEST_ENDER (server);

  g_mutex_lock (&self->gate.lock);
  self->end_thread = g_thread_self ();
  self->handler_thread_at_end = gen_server_is_handler_thread (server);
  g_clear_error (&self->end_reason);
  self->end_reason = reason != NULL ? g_error_copy (reason) : NULL;
  g_mutex_unlock (&self->gate.lock);
  ender_log (self, name);
}

typedef struct
{
  TestEnder *ender;  /* unowned: it outlives its runs */
  const gchar *name;
} Destroyed;

static void
run_end_data_free (gpointer data)
{
  Destroyed *destroyed = data;
  g_autofree gchar *event = g_strconcat ("~", destroyed->name, NULL);

  ender_log (destroyed->ender, event);
  g_free (destroyed);
}

static void
run_ended_with_data (GenServer    *server,
                     const GError *reason,
                     gpointer      data)
{
  run_ended (server, reason, (gpointer) ((Destroyed *) data)->name);
}

static void
add_run_end_func (TestEnder   *self,
                  const gchar *name)
{
  Destroyed *destroyed = g_new0 (Destroyed, 1);

  destroyed->ender = self;
  destroyed->name = name;
  gen_server_add_run_end_func (GEN_SERVER (self), run_ended_with_data, destroyed,
                               run_end_data_free);
}

static void
ender_watched (GenServer    *server,
               const GError *reason,
               gpointer      user_data)
{
  TestEnder *self = TEST_ENDER (server);

  ender_log (self, "watch");
  g_mutex_lock (&self->gate.lock);
  self->watched = TRUE;
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);
}

static void
test_ender_init_server (GenServer  *server,
                        GVariant   *args,
                        GError    **error)
{
  TestEnder *self = TEST_ENDER (server);
  const gchar *how = args != NULL ? g_variant_get_string (args, NULL) : "";

  g_mutex_lock (&self->gate.lock);
  self->init_thread = g_thread_self ();
  self->watched = FALSE;
  g_string_truncate (self->log, 0);
  g_mutex_unlock (&self->gate.lock);
  gen_monitor_watch (server, ender_watched, NULL, NULL, GEN_WATCH_NEXT_RUN);

  if (!g_str_equal (how, "none"))
    {
      add_run_end_func (self, "A");
      add_run_end_func (self, "B");
    }
  if (g_str_equal (how, "fail"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "init refused");
}

static void
test_ender_handle_cast (GenServer  *server,
                        GVariant   *message,
                        GError    **error)
{
  TestEnder *self = TEST_ENDER (server);
  const gchar *command = g_variant_get_string (message, NULL);

  if (g_str_equal (command, "crash"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "crashed on purpose");
  else if (g_str_equal (command, "block"))
    test_gate_pass (&self->gate);
}

static void
test_ender_terminate (GenServer    *server,
                      const GError *reason)
{
  ender_log (TEST_ENDER (server), "terminate");
}

static void
test_ender_finalize (GObject *object)
{
  TestEnder *self = TEST_ENDER (object);

  g_string_free (self->log, TRUE);
  g_clear_error (&self->end_reason);
  test_gate_clear (&self->gate);

  G_OBJECT_CLASS (test_ender_parent_class)->finalize (object);
}

static void
test_ender_class_init (TestEnderClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = test_ender_finalize;
  server_class->init = test_ender_init_server;
  server_class->handle_cast = test_ender_handle_cast;
  server_class->terminate = test_ender_terminate;
  gen_server_class_set_cast_type (server_class, "s");
}

static void
test_ender_init (TestEnder *self)
{
  test_gate_init (&self->gate);
  self->log = g_string_new (NULL);
}

static TestEnder *
ender_start_on (GMainContext *context,
                const gchar  *how)
{
  TestEnder *ender = g_object_new (test_ender_get_type (), "main-context", context, NULL);

  return test_start_ok (ender, g_variant_new_string (how));
}

/* The log, once the exit hook wrote it: the run is over for everybody. */
static gchar *
ender_log_when_watched (TestEnder *self)
{
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;
  gchar *log;

  g_mutex_lock (&self->gate.lock);
  while (!self->watched)
    if (!g_cond_wait_until (&self->gate.cond, &self->gate.lock, deadline))
      break;
  g_assert_true (self->watched);
  log = g_strdup (self->log->str);
  g_mutex_unlock (&self->gate.lock);
  return log;
}

/* As the handler thread; a server that does not share its thread (its
 * own, or a main context's) ends on the thread init ran on. */
static void
assert_ended_on_handler_thread (TestEnder *self)
{
  g_mutex_lock (&self->gate.lock);
  if (gen_server_get_scheduler (GEN_SERVER (self)) == NULL)
    g_assert_true (self->end_thread == self->init_thread);
  g_assert_true (self->handler_thread_at_end);
  g_mutex_unlock (&self->gate.lock);
}

/* A stop: after terminate, the last added first, each data freed after
 * the functions ran, before the exit hooks and before stop() returns, with
 * no reason. A function is for one run: the next run calls none unless
 * it adds them again. */
static void
test_run_end_stop (void)
{
  g_autoptr(TestEnder) ender = ender_start_on (NULL, "");
  g_autofree gchar *next_log = NULL;

  test_stop_ok (ender);
  g_mutex_lock (&ender->gate.lock);
  g_assert_cmpstr (ender->log->str, ==, "terminate B A ~A ~B watch ");
  g_assert_no_error (ender->end_reason);
  g_mutex_unlock (&ender->gate.lock);
  assert_ended_on_handler_thread (ender);

  test_start_ok (ender, g_variant_new_string ("none"));
  test_stop_ok (ender);
  next_log = ender_log_when_watched (ender);
  g_assert_cmpstr (next_log, ==, "terminate watch ");
}

/* A crash: the functions get the crash's reason. */
static void
test_run_end_crash (void)
{
  g_autoptr(TestEnder) ender = ender_start_on (NULL, "");
  g_autofree gchar *log = NULL;

  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestEnder crashed: crashed on purpose*");
  g_assert_true (gen_server_cast (GEN_SERVER (ender), g_variant_new_string ("crash"), NULL));
  log = ender_log_when_watched (ender);
  g_test_assert_expected_messages ();
  g_assert_cmpstr (log, ==, "terminate B A ~A ~B watch ");
  g_mutex_lock (&ender->gate.lock);
  g_assert_error (ender->end_reason, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_mutex_unlock (&ender->gate.lock);
  assert_ended_on_handler_thread (ender);
}

/* An exit signal (a link's) ends the run without terminate: the functions
 * still run, on the handler thread, once the handler running returns, with
 * the signal's reason. On @context, or the default scheduler. */
static void
run_end_killed (GMainContext *context)
{
  g_autoptr(TestEnder) ender = ender_start_on (context, "");
  g_autoptr(GError) reason = g_error_new (G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "partner went down");
  g_autofree gchar *log = NULL;

  g_assert_true (gen_server_cast (GEN_SERVER (ender), g_variant_new_string ("block"), NULL));
  test_gate_wait_for (&ender->gate, &ender->gate.blocked, 1);
  g_assert_true (gen_run_kill (GEN_SERVER (ender), reason));

  /* Not while the handler runs. */
  g_mutex_lock (&ender->gate.lock);
  g_assert_cmpstr (ender->log->str, ==, "");
  g_mutex_unlock (&ender->gate.lock);

  test_gate_open (&ender->gate);
  log = ender_log_when_watched (ender);
  g_assert_cmpstr (log, ==, "B A ~A ~B watch ");
  g_mutex_lock (&ender->gate.lock);
  g_assert_error (ender->end_reason, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_mutex_unlock (&ender->gate.lock);
  assert_ended_on_handler_thread (ender);
}

static void
test_run_end_killed (void)
{
  run_end_killed (NULL);
}

static void
test_run_end_killed_on_main_context (void)
{
  TestLoopThread loop_thread;

  test_loop_thread_start (&loop_thread);
  run_end_killed (loop_thread.context);
  test_loop_thread_stop (&loop_thread);
}

/* An init that fails after adding functions: they run on init's thread,
 * with its error, before start() returns. */
static void
test_run_end_init_fails (void)
{
  g_autoptr(TestEnder) ender = g_object_new (test_ender_get_type (), NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (gen_server_start (GEN_SERVER (ender), g_variant_new_string ("fail"), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_mutex_lock (&ender->gate.lock);
  g_assert_cmpstr (ender->log->str, ==, "B A ~A ~B watch ");
  g_assert_error (ender->end_reason, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_mutex_unlock (&ender->gate.lock);
  assert_ended_on_handler_thread (ender);
}

/* Only a run's own handlers add to it. */
static void
test_run_end_only_from_handlers (void)
{
  g_autoptr(TestEnder) ender = ender_start_on (NULL, "none");

  g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL, "*gen_server_is_handler_thread*");
  gen_server_add_run_end_func (GEN_SERVER (ender), run_ended, (gpointer) "X", NULL);
  g_test_assert_expected_messages ();
  test_stop_ok (ender);
  g_mutex_lock (&ender->gate.lock);
  g_assert_cmpstr (ender->log->str, ==, "terminate watch ");
  g_mutex_unlock (&ender->gate.lock);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/run-end/stop", test_run_end_stop);
  g_test_add_func ("/run-end/crash", test_run_end_crash);
  g_test_add_func ("/run-end/killed", test_run_end_killed);
  g_test_add_func ("/run-end/killed-on-main-context", test_run_end_killed_on_main_context);
  g_test_add_func ("/run-end/init-fails", test_run_end_init_fails);
  g_test_add_func ("/run-end/only-from-handlers", test_run_end_only_from_handlers);

  return g_test_run ();
}
