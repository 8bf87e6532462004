/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"

#include "genserver/gen-live-private.h"
#include "genserver/gen-server-private.h"

#include <stdlib.h>
#include <string.h>

/* Observability: the status snapshot, suspend and resume, the trace and
 * the lifecycle log. The suite also runs with every
 * server on the default pool (test-observe-pool); main-context servers
 * are tested on their own. */

/* Log records ------------------------------------------------------------ */

/* Every record of the Gen domain, as a table of its fields (and "LEVEL"),
 * kept by a writer installed for the whole program: the trace must be
 * checked field by field, and silence must be checked too. */
static GMutex records_lock;
static GPtrArray *records; /* of GHashTable *, records_lock */

static GLogWriterOutput
record_writer (GLogLevelFlags   log_level,
               const GLogField *fields,
               gsize            n_fields,
               gpointer         user_data)
{
  GHashTable *record = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gboolean ours = FALSE;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (fields[i].length >= 0)
        continue; /* binary fields: none of ours */
      g_hash_table_insert (record, g_strdup (fields[i].key), g_strdup (fields[i].value));
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN") && g_str_equal (fields[i].value, "Gen"))
        ours = TRUE;
    }
  g_hash_table_insert (record, g_strdup ("LEVEL"), g_strdup_printf ("%d", log_level & G_LOG_LEVEL_MASK));

  if (!ours)
    {
      g_hash_table_unref (record);
      return g_log_writer_default (log_level, fields, n_fields, user_data);
    }

  g_mutex_lock (&records_lock);
  g_ptr_array_add (records, record);
  g_mutex_unlock (&records_lock);

  /* The trace would drown the test output; warnings still show. */
  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    return g_log_writer_default (log_level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

static void
records_clear (void)
{
  g_mutex_lock (&records_lock);
  g_ptr_array_set_size (records, 0);
  g_mutex_unlock (&records_lock);
}

/* The records whose @key is @value (a copy: the array's own tables). */
static GPtrArray *
records_find (const gchar *key,
              const gchar *value)
{
  GPtrArray *found = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);

  g_mutex_lock (&records_lock);
  for (guint i = 0; i < records->len; i++)
    {
      GHashTable *record = records->pdata[i];

      if (g_strcmp0 (g_hash_table_lookup (record, key), value) == 0)
        g_ptr_array_add (found, g_hash_table_ref (record));
    }
  g_mutex_unlock (&records_lock);
  return found;
}

static guint
records_count_with (const gchar *key)
{
  guint n = 0;

  g_mutex_lock (&records_lock);
  for (guint i = 0; i < records->len; i++)
    if (g_hash_table_contains (records->pdata[i], key))
      n++;
  g_mutex_unlock (&records_lock);
  return n;
}

/* The server ------------------------------------------------------------- */

/* A counter that speaks (sx) and tells its count through format_status.
 * `count` is the handlers' (and format_status's): no lock. */
struct _TestObserved
{
  GenServer parent_instance;

  gint64 count;

  TestGate gate;           /* holds a handler on "block" */
  guint terminate_count;   /* gate.lock */
};

G_DECLARE_FINAL_TYPE (TestObserved, test_observed, TEST, OBSERVED, GenServer)
G_DEFINE_TYPE (TestObserved, test_observed, GEN_TYPE_SERVER)

static void
test_observed_handle_cast (GenServer  *server,
                           GVariant   *message,
                           GError    **error)
{
  TestObserved *self = TEST_OBSERVED (server);
  const gchar *command;
  gint64 arg;

  if (!g_variant_is_of_type (message, G_VARIANT_TYPE ("(sx)")))
    return;
  g_variant_get (message, "(&sx)", &command, &arg);

  if (g_str_equal (command, "add"))
    self->count += arg;
  else if (g_str_equal (command, "block"))
    test_gate_pass (&self->gate);
  else if (g_str_equal (command, "crash"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "crashed on purpose");
}

static GVariant *
test_observed_handle_call (GenServer  *server,
                           GVariant   *message,
                           GError    **error)
{
  TestObserved *self = TEST_OBSERVED (server);
  const gchar *command;
  gint64 arg;

  g_variant_get (message, "(&sx)", &command, &arg);

  if (g_str_equal (command, "get"))
    return g_variant_new_int64 (self->count);
  if (g_str_equal (command, "status"))
    return gen_server_get_status (server); /* from the handler thread */
  if (g_str_equal (command, "state"))
    return gen_server_get_state (server, 0, error); /* runs right here */
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "unknown command %s", command);
  return NULL;
}

static void
test_observed_terminate (GenServer    *server,
                         const GError *reason)
{
  TestObserved *self = TEST_OBSERVED (server);

  g_mutex_lock (&self->gate.lock);
  self->terminate_count++;
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);
}

static GVariant *
test_observed_format_status (GenServer *server)
{
  return g_variant_new ("(x)", TEST_OBSERVED (server)->count);
}

static GVariant *
test_observed_dump_state (GenServer *server)
{
  return g_variant_new_int64 (TEST_OBSERVED (server)->count);
}

static gboolean
test_observed_load_state (GenServer  *server,
                          GVariant   *state,
                          GError    **error)
{
  if (!g_variant_is_of_type (state, G_VARIANT_TYPE_INT64))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "a count is an x");
      return FALSE;
    }
  TEST_OBSERVED (server)->count = g_variant_get_int64 (state);
  return TRUE;
}

static void
test_observed_finalize (GObject *object)
{
  test_gate_clear (&TEST_OBSERVED (object)->gate);

  G_OBJECT_CLASS (test_observed_parent_class)->finalize (object);
}

static void
test_observed_class_init (TestObservedClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  object_class->finalize = test_observed_finalize;
  server_class->handle_cast = test_observed_handle_cast;
  server_class->handle_call = test_observed_handle_call;
  server_class->terminate = test_observed_terminate;
  server_class->format_status = test_observed_format_status;
  server_class->dump_state = test_observed_dump_state;
  server_class->load_state = test_observed_load_state;
}

static void
test_observed_init (TestObserved *self)
{
  test_gate_init (&self->gate);
}

static void
cast_ok (gpointer     server,
         const gchar *command,
         gint64       arg)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_server_cast (GEN_SERVER (server), test_message (command, arg), &error));
  g_assert_no_error (error);
}

static gint64
call_get (gpointer server)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  reply = gen_server_call (GEN_SERVER (server), test_message ("get", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  return g_variant_get_int64 (reply);
}

static guint64
status_uint64 (GVariant    *status,
               const gchar *key)
{
  guint64 value = G_MAXUINT64;

  g_assert_true (g_variant_lookup (status, key, "t", &value));
  return value;
}

static const gchar *
status_string (GVariant    *status,
               const gchar *key)
{
  const gchar *value = NULL;

  if (!g_variant_lookup (status, key, "&s", &value))
    return NULL;
  return value;
}

/* The count format_status gave, or -1 if the snapshot has no state. */
static gint64
status_state_count (GVariant *status)
{
  g_autoptr(GVariant) state = g_variant_lookup_value (status, "state", G_VARIANT_TYPE_VARIANT);
  g_autoptr(GVariant) inner = NULL;
  gint64 count;

  if (state == NULL)
    return -1;
  inner = g_variant_get_variant (state);
  g_assert_cmpstr (g_variant_get_type_string (inner), ==, "(x)");
  g_variant_get (inner, "(x)", &count);
  return count;
}

static const gchar *
expected_scheduler (void)
{
  return g_strcmp0 (g_getenv ("GEN_SCHEDULER"), "pool") == 0 ? "pool" : "thread";
}

/* A thread iterating a context of its own, for main-context servers. */
typedef struct
{
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
} TestLoop;

static gpointer
loop_thread (gpointer data)
{
  TestLoop *loop = data;

  g_main_context_push_thread_default (loop->context);
  g_main_loop_run (loop->loop);
  g_main_context_pop_thread_default (loop->context);
  return NULL;
}

static void
test_loop_start (TestLoop *loop)
{
  loop->context = g_main_context_new ();
  loop->loop = g_main_loop_new (loop->context, FALSE);
  loop->thread = g_thread_new ("test-loop", loop_thread, loop);
  /* Running means owning the context: servers' init then runs there. */
  test_wait_until ((TestPredicate) g_main_loop_is_running, loop->loop);
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
test_loop_stop (TestLoop *loop)
{
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, quit_cb, loop->loop, NULL);
  g_source_attach (source, loop->context);
  g_source_unref (source);
  g_thread_join (loop->thread);
  g_main_loop_unref (loop->loop);
  g_main_context_unref (loop->context);
}

/* Status ----------------------------------------------------------------- */

static void
test_status_stopped (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);
  g_autoptr(GVariant) status = gen_server_get_status (GEN_SERVER (server));

  g_assert_false (g_variant_is_floating (status));
  g_assert_true (g_variant_is_of_type (status, G_VARIANT_TYPE_VARDICT));
  g_assert_cmpstr (status_string (status, "status"), ==, "stopped");
  g_assert_cmpstr (status_string (status, "scheduler"), ==, expected_scheduler ());
  g_assert_cmpuint (status_uint64 (status, "casts"), ==, 0);
  g_assert_cmpuint (status_uint64 (status, "calls"), ==, 0);
  g_assert_cmpuint (status_uint64 (status, "infos"), ==, 0);
  g_assert_cmpuint (status_uint64 (status, "calls-timed-out"), ==, 0);
  g_assert_false (g_variant_lookup (status, "started-at", "x", NULL));
  g_assert_null (status_string (status, "last-crash"));
  /* Not running: nobody to run format_status. */
  g_assert_cmpint (status_state_count (status), ==, -1);
}

static void
test_status_counters (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) inside = NULL;
  g_autoptr(GError) error = NULL;
  gint64 before = g_get_monotonic_time ();
  gint64 started_at = 0;
  guint32 length = G_MAXUINT32;

  test_start_ok (server, NULL);
  cast_ok (server, "add", 2);
  cast_ok (server, "add", 3);
  cast_ok (server, "other", 0);
  g_assert_true (gen_server_send_info (GEN_SERVER (server), g_variant_new_string ("hello"), &error));
  g_assert_no_error (error);
  g_assert_cmpint (call_get (server), ==, 5);

  status = gen_server_get_status (GEN_SERVER (server));
  g_assert_cmpstr (status_string (status, "status"), ==, "running");
  g_assert_cmpuint (status_uint64 (status, "casts"), ==, 3);
  g_assert_cmpuint (status_uint64 (status, "calls"), ==, 1);
  g_assert_cmpuint (status_uint64 (status, "infos"), ==, 1);
  g_assert_true (g_variant_lookup (status, "mailbox-length", "u", &length));
  g_assert_cmpuint (length, ==, 0);
  g_assert_true (g_variant_lookup (status, "started-at", "x", &started_at));
  g_assert_cmpint (started_at, >=, before);
  g_assert_cmpint (started_at, <=, g_get_monotonic_time ());
  /* format_status, on the server's thread. */
  g_assert_cmpint (status_state_count (status), ==, 5);

  /* From inside a handler, format_status runs right there. */
  inside = gen_server_call (GEN_SERVER (server), test_message ("status", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpint (status_state_count (inside), ==, 5);
  g_assert_cmpuint (status_uint64 (inside, "calls"), ==, 1); /* this one is not done yet */

  test_stop_ok (server);
  g_clear_pointer (&status, g_variant_unref);
  status = gen_server_get_status (GEN_SERVER (server));
  g_assert_cmpstr (status_string (status, "status"), ==, "stopped");
  g_assert_cmpuint (status_uint64 (status, "calls"), ==, 2);
  g_assert_cmpint (status_state_count (status), ==, -1);
}

static void
test_status_busy_and_timed_out (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint32 length = 0;

  test_start_ok (server, NULL);
  cast_ok (server, "block", 0);
  test_gate_wait_for (&server->gate, &server->gate.blocked, 1);

  reply = gen_server_call (GEN_SERVER (server), test_message ("get", 0), 1, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_assert_null (reply);
  cast_ok (server, "add", 1);

  /* The handler is busy: the snapshot comes without the state, after the
   * status request's own timeout. */
  status = gen_server_get_status (GEN_SERVER (server));
  g_assert_cmpstr (status_string (status, "status"), ==, "running");
  g_assert_cmpuint (status_uint64 (status, "calls-timed-out"), ==, 1);
  g_assert_true (g_variant_lookup (status, "mailbox-length", "u", &length));
  g_assert_cmpuint (length, ==, 2);
  g_assert_cmpint (status_state_count (status), ==, -1);

  test_gate_open (&server->gate);
  g_assert_cmpint (call_get (server), ==, 1);
  test_stop_ok (server);
}

static void
test_status_crash (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GPtrArray) crashes = NULL;
  GHashTable *crash;
  g_autofree gchar *address = NULL;

  records_clear ();
  test_start_ok (server, NULL);
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestObserved crashed: crashed on purpose*");
  cast_ok (server, "crash", 7);
  test_wait_until (test_not_running, server);
  g_assert_true (gen_server_stop (GEN_SERVER (server), -1, NULL) ||
                 !gen_server_is_running (GEN_SERVER (server)));
  test_gate_wait_for (&server->gate, &server->terminate_count, 1);
  g_test_assert_expected_messages ();

  status = gen_server_get_status (GEN_SERVER (server));
  g_assert_cmpstr (status_string (status, "last-crash"), ==, "crashed on purpose");
  g_assert_cmpuint (status_uint64 (status, "casts"), ==, 1);

  /* The structured record: who, why, and what it was handling. */
  crashes = records_find ("GEN_KIND", "crash");
  g_assert_cmpuint (crashes->len, ==, 1);
  crash = crashes->pdata[0];
  address = g_strdup_printf ("%p", (gpointer) server);
  g_assert_cmpstr (g_hash_table_lookup (crash, "GEN_SERVER"), ==, "TestObserved");
  g_assert_cmpstr (g_hash_table_lookup (crash, "GEN_SERVER_ADDRESS"), ==, address);
  g_assert_cmpstr (g_hash_table_lookup (crash, "GEN_ERROR_DOMAIN"), ==, "g-io-error-quark");
  g_assert_cmpint (atoi (g_hash_table_lookup (crash, "GEN_ERROR_CODE")), ==, G_IO_ERROR_BROKEN_PIPE);
  g_assert_cmpstr (g_hash_table_lookup (crash, "GEN_ERROR_MESSAGE"), ==, "crashed on purpose");
  g_assert_cmpstr (g_hash_table_lookup (crash, "GEN_TEXT"), ==, "('crash', int64 7)");
}

/* A main-context server asked from the thread that owns its context:
 * format_status runs there, since no other thread can run the handlers. */
static void
test_status_context_owner (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), "main-context", context, NULL);
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) later = NULL;

  test_start_ok (server, NULL);
  cast_ok (server, "add", 4);

  status = gen_server_get_status (GEN_SERVER (server));
  g_assert_cmpstr (status_string (status, "scheduler"), ==, "main-context");
  /* Nobody iterated the context: the cast waits. */
  g_assert_cmpuint (status_uint64 (status, "casts"), ==, 0);
  g_assert_cmpint (status_state_count (status), ==, 0);

  while (g_main_context_iteration (context, FALSE))
    ;
  later = gen_server_get_status (GEN_SERVER (server));
  g_assert_cmpint (status_state_count (later), ==, 4);
  test_stop_ok (server);
}

/* A supervisor's state: its children, with how often each restarted. */
typedef struct
{
  GenSupervisor *supervisor;
  guint restarts;
} SupervisorWait;

/* The state's row for child @id: its status and restarts. */
static gboolean
supervisor_child_state (GenSupervisor *supervisor,
                        const gchar   *id,
                        const gchar  **status_out,
                        guint         *restarts_out)
{
  static gchar status_copy[16];
  g_autoptr(GVariant) status = gen_server_get_status (GEN_SERVER (supervisor));
  g_autoptr(GVariant) state = g_variant_lookup_value (status, "state", G_VARIANT_TYPE_VARIANT);
  g_autoptr(GVariant) children = NULL;
  GVariantIter iter;
  const gchar *child_id, *type, *child_status;
  guint restarts;

  g_assert_nonnull (state);
  children = g_variant_get_variant (state);
  g_assert_cmpstr (g_variant_get_type_string (children), ==, "a(sssu)");
  g_variant_iter_init (&iter, children);
  while (g_variant_iter_next (&iter, "(&s&s&su)", &child_id, &type, &child_status, &restarts))
    {
      if (!g_str_equal (child_id, id))
        continue;
      g_assert_cmpstr (type, ==, "TestObserved");
      g_strlcpy (status_copy, child_status, sizeof status_copy);
      *status_out = status_copy;
      *restarts_out = restarts;
      return TRUE;
    }
  return FALSE;
}

static gboolean
child_b_restarted (gpointer data)
{
  SupervisorWait *wait = data;
  const gchar *status;
  guint restarts;

  g_assert_true (supervisor_child_state (wait->supervisor, "b", &status, &restarts));
  return restarts >= wait->restarts && g_str_equal (status, "running");
}

static void
test_status_supervisor (void)
{
  g_autoptr(GenSupervisor) supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 5, 5000);
  g_autoptr(GenChildSpec) a = gen_child_spec_new ("a", test_observed_get_type (), NULL);
  g_autoptr(GenChildSpec) b = gen_child_spec_new ("b", test_observed_get_type (), NULL);
  g_autoptr(GenServer) child = NULL;
  SupervisorWait wait = { supervisor, 1 };
  const gchar *status;
  guint restarts;

  g_assert_true (gen_server_start (GEN_SERVER (supervisor), NULL, NULL));
  g_assert_true (gen_supervisor_start_child (supervisor, a, NULL));
  g_assert_true (gen_supervisor_start_child (supervisor, b, NULL));

  g_assert_true (supervisor_child_state (supervisor, "a", &status, &restarts));
  g_assert_cmpstr (status, ==, "running");
  g_assert_cmpuint (restarts, ==, 0);

  records_clear ();
  child = gen_supervisor_get_child (supervisor, "b");
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestObserved crashed: crashed on purpose*");
  cast_ok (child, "crash", 0);
  test_wait_until (child_b_restarted, &wait);
  g_test_assert_expected_messages ();

  g_assert_true (supervisor_child_state (supervisor, "a", &status, &restarts));
  g_assert_cmpuint (restarts, ==, 0);

  /* The restart is in the lifecycle log. */
  {
    g_autoptr(GPtrArray) all = records_find ("GLIB_DOMAIN", "Gen");
    gboolean found = FALSE;

    for (guint i = 0; i < all->len; i++)
      {
        const gchar *message = g_hash_table_lookup (all->pdata[i], "MESSAGE");

        if (message != NULL && g_str_has_prefix (message, "GenSupervisor ") &&
            strstr (message, "restarted child “b”") != NULL)
          found = TRUE;
      }
    g_assert_true (found);
  }

  test_stop_ok (supervisor);
}

/* Suspend and resume ------------------------------------------------------ */

static gboolean
mailbox_has_4 (gpointer server)
{
  return gen_server_get_mailbox_length (server) >= 4;
}

static void
check_suspend_resume (TestObserved *server)
{
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  TestCall waiting = { server, "get", -1, NULL, NULL };
  GThread *caller;

  cast_ok (server, "add", 1);
  g_assert_cmpint (call_get (server), ==, 1);

  gen_server_suspend (GEN_SERVER (server));
  cast_ok (server, "add", 10);
  cast_ok (server, "add", 10);
  cast_ok (server, "add", 10);

  /* The server answers for its state while suspended, and handled none
   * of the casts. */
  status = gen_server_get_status (GEN_SERVER (server));
  g_assert_cmpstr (status_string (status, "status"), ==, "suspended");
  g_assert_cmpuint (status_uint64 (status, "casts"), ==, 1);
  g_assert_cmpint (status_state_count (status), ==, 1);

  /* A call times out as usual. */
  reply = gen_server_call (GEN_SERVER (server), test_message ("get", 0), 20, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_assert_null (reply);

  /* A call that waits as long as it takes waits for the resume (on a
   * pool, its caller would run an idle server inline: not a suspended
   * one). */
  caller = g_thread_new ("caller", test_call_in_thread, &waiting);
  test_wait_until (mailbox_has_4, server);

  g_clear_pointer (&status, g_variant_unref);
  status = gen_server_get_status (GEN_SERVER (server));
  g_assert_cmpuint (status_uint64 (status, "casts"), ==, 1);
  g_assert_cmpuint (status_uint64 (status, "calls"), ==, 1);

  gen_server_resume (GEN_SERVER (server));
  g_thread_join (caller);
  g_assert_no_error (waiting.error);
  g_assert_cmpint (g_variant_get_int64 (waiting.reply), ==, 31);
  g_variant_unref (waiting.reply);

  g_clear_pointer (&status, g_variant_unref);
  status = gen_server_get_status (GEN_SERVER (server));
  g_assert_cmpstr (status_string (status, "status"), ==, "running");
  g_assert_cmpuint (status_uint64 (status, "casts"), ==, 4);
  test_stop_ok (server);
}

static void
test_suspend_resume (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);

  test_start_ok (server, NULL);
  check_suspend_resume (server);
}

static void
test_suspend_resume_context (void)
{
  TestLoop loop;
  TestObserved *server;

  test_loop_start (&loop);
  server = g_object_new (test_observed_get_type (), "main-context", loop.context, NULL);
  test_start_ok (server, NULL);
  check_suspend_resume (server);
  g_object_unref (server);
  test_loop_stop (&loop);
}

static void
test_suspend_resume_pool (void)
{
  g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (2);
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), "scheduler", pool, NULL);

  test_start_ok (server, NULL);
  check_suspend_resume (server);
}

/* Casts sent to a suspended server are in its mailbox, and a status
 * request answered while it is suspended counts them all: also when the
 * server woke for the first of them and took a batch before it looked at
 * the request (the window is short: tried many times). */
static void
check_suspended_status_counts_the_queue (TestObserved *server)
{
  gint64 expected = 0;

  for (guint round = 0; round < 1000; round++)
    {
      g_autoptr(GVariant) status = NULL;
      guint32 queued = 0;

      gen_server_suspend (GEN_SERVER (server));
      for (guint i = 0; i < 3; i++)
        cast_ok (server, "add", 1);
      status = gen_server_get_status (GEN_SERVER (server));
      g_assert_cmpstr (status_string (status, "status"), ==, "suspended");
      g_assert_true (g_variant_lookup (status, "mailbox-length", "u", &queued));
      g_assert_cmpuint (queued, ==, 3);
      gen_server_resume (GEN_SERVER (server));
      expected += 3;
      g_assert_cmpint (call_get (server), ==, expected);
    }
  test_stop_ok (server);
}

static void
test_suspended_status_counts_the_queue (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);

  test_start_ok (server, NULL);
  check_suspended_status_counts_the_queue (server);
}

static void
test_suspended_status_counts_the_queue_pool (void)
{
  g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (2);
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), "scheduler", pool, NULL);

  test_start_ok (server, NULL);
  check_suspended_status_counts_the_queue (server);
}

static gboolean
mailbox_has_3 (gpointer server)
{
  return gen_server_get_mailbox_length (server) >= 3;
}

/* Stopping a suspended server is sys:terminate: terminate runs, and what
 * is queued is not handled; a call waiting is answered STOPPED. */
static void
check_stop_suspended (TestObserved *server)
{
  g_autoptr(GVariant) status = NULL;
  TestCall waiting = { server, "get", -1, NULL, NULL };
  gboolean suspended = TRUE;
  GThread *caller;

  gen_server_suspend (GEN_SERVER (server));
  cast_ok (server, "add", 1);
  cast_ok (server, "add", 1);
  caller = g_thread_new ("caller", test_call_in_thread, &waiting);
  test_wait_until (mailbox_has_3, server);

  test_stop_ok (server);
  g_thread_join (caller);
  g_assert_error (waiting.error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED);
  g_clear_error (&waiting.error);
  g_assert_null (waiting.reply);
  g_assert_cmpuint (test_gate_get (&server->gate, &server->terminate_count), ==, 1);

  status = gen_server_get_status (GEN_SERVER (server));
  g_assert_cmpuint (status_uint64 (status, "casts"), ==, 0);
  g_assert_cmpuint (status_uint64 (status, "calls"), ==, 0);
  g_assert_true (g_variant_lookup (status, "suspended", "b", &suspended));
  g_assert_false (suspended);

  /* Started again, it is not suspended. */
  test_start_ok (server, NULL);
  cast_ok (server, "add", 5);
  g_assert_cmpint (call_get (server), ==, 5);
  test_stop_ok (server);
}

static void
test_stop_suspended (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);

  test_start_ok (server, NULL);
  check_stop_suspended (server);
}

static void
test_stop_suspended_context (void)
{
  TestLoop loop;
  TestObserved *server;

  test_loop_start (&loop);
  server = g_object_new (test_observed_get_type (), "main-context", loop.context, NULL);
  test_start_ok (server, NULL);
  check_stop_suspended (server);
  g_object_unref (server);
  test_loop_stop (&loop);
}

static void
test_stop_suspended_pool (void)
{
  g_autoptr(GenScheduler) pool = gen_scheduler_new_pool (2);
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), "scheduler", pool, NULL);

  test_start_ok (server, NULL);
  check_stop_suspended (server);
}

static gboolean
mailbox_idle (gpointer mailbox)
{
  return g_atomic_int_get (&((GenMailbox *) mailbox)->idle);
}

/* A stop whose stopper is held up between its two halves, the stop
 * marker's push (which moves the mailbox's `pushes`) and the status
 * change, while a suspended server on a thread of its own goes round its
 * hold: the server takes a `seen` that counts the push, still sees the
 * status running, and sleeps. The stop's wake-up must then move `pushes`
 * again, or the server sleeps for good and stop() waits for ever (a
 * stop() with a timeout: it timed out). The stopper's first half is done
 * by hand here, as gen_server_stop() does it, and the server made to go
 * round once more before the rest of the stop. */
static void
test_stop_suspended_holding (void)
{
  g_autoptr(GenServer) server = g_object_new (GEN_TYPE_SERVER, NULL);
  GenServerPrivate *priv = gen_server_get_private (server);
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GError) error = NULL;

  test_start_ok (server, NULL);
  status = gen_server_get_status (server);
  if (g_strcmp0 (status_string (status, "scheduler"), "thread") != 0)
    {
      test_stop_ok (server);
      g_test_skip ("the hold of a server on a thread of its own");
      return;
    }

  gen_server_suspend (server);
  /* The cast wakes the server, which holds again, asleep. */
  g_assert_true (gen_server_cast (server, test_message ("add", 1), NULL));
  test_wait_until (mailbox_idle, &priv->mailbox);

  /* The stop's first half: the marker, the status not changed yet. */
  g_mutex_lock (&priv->lock);
  gen_mailbox_close (&priv->mailbox, TRUE, FALSE);
  g_mutex_unlock (&priv->lock);
  /* The server wakes meanwhile, and holds again past the marker. */
  gen_mailbox_wake_idle (&priv->mailbox);
  test_wait_until (mailbox_idle, &priv->mailbox);

  /* The rest of the stop: the status, then the kind's wake-up. */
  g_assert_true (gen_server_stop (server, TEST_CALL_TIMEOUT_MS, &error));
  g_assert_no_error (error);
}

/* Resume after resume does nothing; the server runs on. */
static void
test_resume_twice (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);
  g_autoptr(GVariant) status = NULL;

  test_start_ok (server, NULL);
  gen_server_suspend (GEN_SERVER (server));
  gen_server_resume (GEN_SERVER (server));
  gen_server_resume (GEN_SERVER (server)); /* not suspended: nothing */
  cast_ok (server, "add", 2);
  g_assert_cmpint (call_get (server), ==, 2);
  status = gen_server_get_status (GEN_SERVER (server));
  g_assert_cmpstr (status_string (status, "status"), ==, "running");
  test_stop_ok (server);
}

/* run-status --------------------------------------------------------------- */

/* What notify::run-status handlers saw; the lock because the test thread
 * reads it while the loop thread writes it. */
typedef struct
{
  GMutex lock;
  GPtrArray *seen;    /* gchar *: the values, in order */
  GThread *thread;    /* where the last notification ran */
  guint wrong_thread; /* notifications off the loop's thread */
  GThread *expected;
  gpointer made;      /* the server, made on the loop's thread */
} StatusNotes;

static void
run_status_cb (GObject    *object,
               GParamSpec *pspec,
               gpointer    data)
{
  StatusNotes *notes = data;
  g_autofree gchar *value = NULL;

  g_object_get (object, "run-status", &value, NULL);
  g_mutex_lock (&notes->lock);
  g_ptr_array_add (notes->seen, g_steal_pointer (&value));
  if (g_thread_self () != notes->expected)
    notes->wrong_thread++;
  g_mutex_unlock (&notes->lock);
}

static gboolean
notes_last_is (StatusNotes *notes,
               const gchar *value)
{
  gboolean result;

  g_mutex_lock (&notes->lock);
  result = notes->seen->len > 0 && g_str_equal (notes->seen->pdata[notes->seen->len - 1], value);
  g_mutex_unlock (&notes->lock);
  return result;
}

static gboolean notes_running (gpointer data) { return notes_last_is (data, "running"); }
static gboolean notes_suspended (gpointer data) { return notes_last_is (data, "suspended"); }
static gboolean notes_stopped (gpointer data) { return notes_last_is (data, "stopped"); }

static gboolean
make_server_cb (gpointer data)
{
  StatusNotes *notes = data;
  gpointer server = g_object_new (test_observed_get_type (), NULL);

  g_mutex_lock (&notes->lock);
  notes->made = server;
  g_mutex_unlock (&notes->lock);
  return G_SOURCE_REMOVE;
}

static gboolean
notes_made (gpointer data)
{
  StatusNotes *notes = data;
  gboolean made;

  g_mutex_lock (&notes->lock);
  made = notes->made != NULL;
  g_mutex_unlock (&notes->lock);
  return made;
}

static void
test_run_status_notifications (void)
{
  TestLoop loop;
  StatusNotes notes = { 0, };
  TestObserved *server;

  g_mutex_init (&notes.lock);
  notes.seen = g_ptr_array_new_with_free_func (g_free);
  test_loop_start (&loop);
  notes.expected = loop.thread;

  /* Made on the loop's thread, whose default context is the loop's:
   * that context gets the notifications. */
  {
    GSource *source = g_idle_source_new ();

    g_source_set_callback (source, make_server_cb, &notes, NULL);
    g_source_attach (source, loop.context);
    g_source_unref (source);
  }
  test_wait_until ((TestPredicate) notes_made, &notes);
  server = notes.made;
  g_assert_cmpstr (gen_server_get_run_status (GEN_SERVER (server)), ==, "stopped");
  g_signal_connect (server, "notify::run-status", G_CALLBACK (run_status_cb), &notes);

  test_start_ok (server, NULL);
  test_wait_until ((TestPredicate) notes_running, &notes);
  gen_server_suspend (GEN_SERVER (server));
  test_wait_until ((TestPredicate) notes_suspended, &notes);
  gen_server_resume (GEN_SERVER (server));
  test_wait_until ((TestPredicate) notes_running, &notes);
  test_stop_ok (server);
  test_wait_until ((TestPredicate) notes_stopped, &notes);

  g_mutex_lock (&notes.lock);
  g_assert_cmpuint (notes.wrong_thread, ==, 0);
  g_mutex_unlock (&notes.lock);

  g_signal_handlers_disconnect_by_data (server, &notes);
  g_object_unref (server);
  test_loop_stop (&loop);
  g_ptr_array_unref (notes.seen);
  g_mutex_clear (&notes.lock);
}

static void
count_cb (GObject    *object,
          GParamSpec *pspec,
          gpointer    data)
{
  (*(guint *) data)++;
}

/* A notification nobody delivered goes with the server: a context that is
 * never iterated keeps nothing of it. */
static void
test_run_status_pending_dropped (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  TestObserved *server;
  guint notified = 0;

  g_main_context_push_thread_default (context);
  server = g_object_new (test_observed_get_type (), NULL);
  g_main_context_pop_thread_default (context);
  g_signal_connect (server, "notify::run-status", G_CALLBACK (count_cb), &notified);

  test_start_ok (server, NULL);
  test_stop_ok (server);
  g_object_unref (server);

  g_assert_false (g_main_context_iteration (context, FALSE));
  g_assert_cmpuint (notified, ==, 0);
}

/* Trace ------------------------------------------------------------------ */

static void
test_trace_off_is_silent (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);
  g_autoptr(GVariant) status = NULL;
  gboolean traced = TRUE;

  records_clear ();
  test_start_ok (server, NULL);
  g_assert_false (gen_server_get_trace (GEN_SERVER (server)));
  cast_ok (server, "add", 1);
  g_assert_cmpint (call_get (server), ==, 1);
  test_stop_ok (server);

  g_assert_cmpuint (records_count_with ("GEN_KIND"), ==, 0);
  status = gen_server_get_status (GEN_SERVER (server));
  g_assert_true (g_variant_lookup (status, "trace", "b", &traced));
  g_assert_false (traced);
}

static void
test_trace_on (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);
  g_autoptr(GPtrArray) casts = NULL;
  g_autoptr(GPtrArray) calls = NULL;
  g_autoptr(GPtrArray) replies = NULL;
  g_autofree gchar *address = g_strdup_printf ("%p", (gpointer) server);
  g_autoptr(GString) long_text = g_string_new (NULL);
  const gchar *text;

  /* Two bytes a character: the cut must not split one. */
  for (guint i = 0; i < 500; i++)
    g_string_append (long_text, "é");

  records_clear ();
  test_start_ok (server, NULL);
  gen_server_set_trace (GEN_SERVER (server), TRUE);
  g_assert_true (gen_server_get_trace (GEN_SERVER (server)));
  cast_ok (server, "add", 3);
  g_assert_true (gen_server_cast (GEN_SERVER (server), g_variant_new ("(ss)", long_text->str, "end"), NULL));
  g_assert_cmpint (call_get (server), ==, 3);

  casts = records_find ("GEN_KIND", "cast");
  calls = records_find ("GEN_KIND", "call");
  replies = records_find ("GEN_KIND", "reply");
  g_assert_cmpuint (casts->len, ==, 2);
  g_assert_cmpuint (calls->len, ==, 1);
  g_assert_cmpuint (replies->len, ==, 1);

  g_assert_cmpstr (g_hash_table_lookup (casts->pdata[0], "GEN_TEXT"), ==, "('add', int64 3)");
  g_assert_cmpstr (g_hash_table_lookup (casts->pdata[0], "GEN_SERVER"), ==, "TestObserved");
  g_assert_cmpstr (g_hash_table_lookup (casts->pdata[0], "GEN_SERVER_ADDRESS"), ==, address);
  g_assert_nonnull (g_hash_table_lookup (casts->pdata[0], "GEN_HANDLING_US"));
  g_assert_cmpint (atoi (g_hash_table_lookup (casts->pdata[0], "GEN_HANDLING_US")), >=, 0);
  g_assert_nonnull (g_hash_table_lookup (casts->pdata[0], "MESSAGE"));
  /* The printed message is bounded. */
  text = g_hash_table_lookup (casts->pdata[1], "GEN_TEXT");
  g_assert_cmpuint (strlen (text), <=, 256);
  g_assert_true (g_str_has_prefix (text, "('éééé"));
  g_assert_true (g_str_has_suffix (text, "…"));
  g_assert_true (g_utf8_validate (text, -1, NULL));

  g_assert_cmpstr (g_hash_table_lookup (calls->pdata[0], "GEN_TEXT"), ==, "('get', int64 0)");
  g_assert_cmpstr (g_hash_table_lookup (replies->pdata[0], "GEN_TEXT"), ==, "int64 3");

  /* Off again: silent again. */
  gen_server_set_trace (GEN_SERVER (server), FALSE);
  records_clear ();
  cast_ok (server, "add", 1);
  g_assert_cmpint (call_get (server), ==, 4);
  g_assert_cmpuint (records_count_with ("GEN_KIND"), ==, 0);
  test_stop_ok (server);
}

/* Whether the log holds the lifecycle record of @event for @server: the
 * line names it by its type and its address as %p prints it. */
static gboolean
has_lifecycle (gpointer     server,
               const gchar *event)
{
  g_autofree gchar *line = g_strdup_printf ("TestObserved %p %s", server, event);
  gboolean found = FALSE;

  g_mutex_lock (&records_lock);
  for (guint i = 0; i < records->len; i++)
    {
      GHashTable *record = records->pdata[i];

      if (g_strcmp0 (g_hash_table_lookup (record, "MESSAGE"), line) == 0 &&
          g_strcmp0 (g_hash_table_lookup (record, "GEN_LIFECYCLE"), event) == 0 &&
          g_strcmp0 (g_hash_table_lookup (record, "GEN_SERVER"), "TestObserved") == 0 &&
          g_strcmp0 (g_hash_table_lookup (record, "PRIORITY"), "7") == 0)
        found = TRUE;
    }
  g_mutex_unlock (&records_lock);
  return found;
}

/* G_MESSAGES_DEBUG=Gen shows these: debug records of the Gen domain. */
static void
test_lifecycle_log (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);

  records_clear ();
  test_start_ok (server, NULL);
  g_assert_true (has_lifecycle (server, "started"));
  test_stop_ok (server);
  g_assert_true (has_lifecycle (server, "stopped"));
}

static GVariant *
add_ten (GVariant *state,
         gpointer  user_data)
{
  guint *runs = user_data;

  (*runs)++;
  return g_variant_new_int64 (g_variant_get_int64 (state) + 10);
}

static GVariant *
keep (GVariant *state,
      gpointer  user_data)
{
  return NULL;
}

static GVariant *
mistyped (GVariant *state,
          gpointer  user_data)
{
  return g_variant_new_string ("ten");
}

/* A replace_state whose function is still running when the timeout
 * passes: the gate it waits at, opened by another thread well after the
 * timeout, and when its function began. */
#define SLOW_JOB_TIMEOUT_MS 50

typedef struct
{
  TestGate gate;
  gint64 began;  /* gate's lock */
} SlowJob;

static GVariant *
add_one_slowly (GVariant *state,
                gpointer  data)
{
  SlowJob *job = data;

  g_mutex_lock (&job->gate.lock);
  job->began = g_get_monotonic_time ();
  g_mutex_unlock (&job->gate.lock);
  test_gate_pass (&job->gate);
  return g_variant_new_int64 (g_variant_get_int64 (state) + 1);
}

static gboolean
job_began_long_ago (gpointer data)
{
  SlowJob *job = data;
  gint64 began;

  g_mutex_lock (&job->gate.lock);
  began = job->began;
  g_mutex_unlock (&job->gate.lock);
  return began != 0 &&
         g_get_monotonic_time () > began + 4 * SLOW_JOB_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
}

static gpointer
open_after_a_while (gpointer data)
{
  SlowJob *job = data;

  test_wait_until (job_began_long_ago, job);
  test_gate_open (&job->gate);
  return NULL;
}

/* The timeout of replace_state is for the server to take the request:
 * once its function runs, the caller waits for it to end. Before, the
 * caller gave up at the timeout while the server went on running the
 * function (and its closure, on the caller's stack). */
static void
test_replace_state_taken_is_waited_for (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);
  g_autoptr(GVariant) replaced = NULL;
  g_autoptr(GError) error = NULL;
  SlowJob job = { 0 };
  GThread *opener;

  test_gate_init (&job.gate);
  test_start_ok (server, NULL);
  cast_ok (server, "add", 3);
  g_assert_cmpint (call_get (server), ==, 3);

  opener = g_thread_new ("opener", open_after_a_while, &job);
  replaced = gen_server_replace_state (GEN_SERVER (server), SLOW_JOB_TIMEOUT_MS, add_one_slowly,
                                       &job, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (replaced), ==, 4);
  g_thread_join (opener);
  g_assert_cmpint (call_get (server), ==, 4);
  test_stop_ok (server);
  test_gate_clear (&job.gate);
}

/* gen_server_SUITE get_state and replace_state: sys:get_state and
 * sys:replace_state, run on the server's thread, also while it is
 * suspended; a replace that fails keeps the state. */
static void
test_get_and_replace_state (void)
{
  g_autoptr(TestObserved) server = g_object_new (test_observed_get_type (), NULL);
  g_autoptr(GVariant) state = NULL;
  g_autoptr(GVariant) replaced = NULL;
  g_autoptr(GVariant) kept = NULL;
  g_autoptr(GVariant) inside = NULL;
  g_autoptr(GError) error = NULL;
  guint runs = 0;

  state = gen_server_get_state (GEN_SERVER (server), -1, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_assert_null (state);
  g_clear_error (&error);

  test_start_ok (server, NULL);
  cast_ok (server, "add", 3);
  g_assert_cmpint (call_get (server), ==, 3);
  state = gen_server_get_state (GEN_SERVER (server), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (state), ==, 3);

  gen_server_suspend (GEN_SERVER (server));
  replaced = gen_server_replace_state (GEN_SERVER (server), TEST_CALL_TIMEOUT_MS, add_ten, &runs, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (replaced), ==, 13);
  g_assert_cmpuint (runs, ==, 1);
  gen_server_resume (GEN_SERVER (server));
  g_assert_cmpint (call_get (server), ==, 13);

  kept = gen_server_replace_state (GEN_SERVER (server), TEST_CALL_TIMEOUT_MS, keep, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (kept), ==, 13);
  g_assert_null (gen_server_replace_state (GEN_SERVER (server), TEST_CALL_TIMEOUT_MS, mistyped, NULL,
                                           &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_cmpint (call_get (server), ==, 13);

  /* From inside a handler it runs right there. */
  inside = gen_server_call (GEN_SERVER (server), test_message ("state", 0), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (inside), ==, 13);

  /* A busy server: the request times out and is never run. */
  cast_ok (server, "block", 0);
  test_gate_wait_for (&server->gate, &server->gate.blocked, 1);
  g_assert_null (gen_server_replace_state (GEN_SERVER (server), 1, add_ten, &runs, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_clear_error (&error);
  test_gate_open (&server->gate);
  g_assert_cmpint (call_get (server), ==, 13);
  g_assert_cmpuint (runs, ==, 1);
  test_stop_ok (server);
}

/* A class without dump_state: a clear error, no state made up. */
static void
test_get_state_unsupported (void)
{
  g_autoptr(GenServer) plain = g_object_new (GEN_TYPE_SERVER, NULL);
  g_autoptr(GError) error = NULL;

  test_start_ok (plain, NULL);
  g_assert_null (gen_server_get_state (plain, TEST_CALL_TIMEOUT_MS, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_null (gen_server_replace_state (plain, TEST_CALL_TIMEOUT_MS, keep, NULL, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED);
  test_stop_ok (plain);
}

/* The list of live servers ---------------------------------------------- */

/* A server whose dispose or finalize, which run before GenServer's, can
 * hold the thread dropping its last reference, so that the test looks at
 * the list at that very moment. The counters and flags are under the
 * gate's lock (static, so never initialised); a hold is taken once. */
typedef struct
{
  TestGate gate;
  gboolean hold_dispose;
  gboolean hold_finalize;
  guint disposed;
  guint finalizing;
} Dying;

static Dying dying;

G_DECLARE_FINAL_TYPE (TestDying, test_dying, TEST, DYING, GenServer)

struct _TestDying
{
  GenServer parent_instance;
};

G_DEFINE_TYPE (TestDying, test_dying, GEN_TYPE_SERVER)

static void
dying_hold (gboolean *hold,
            guint    *count)
{
  g_mutex_lock (&dying.gate.lock);
  (*count)++;
  g_cond_broadcast (&dying.gate.cond);
  if (*hold)
    {
      *hold = FALSE;
      while (!dying.gate.open)
        g_cond_wait (&dying.gate.cond, &dying.gate.lock);
    }
  g_mutex_unlock (&dying.gate.lock);
}

static void
test_dying_dispose (GObject *object)
{
  dying_hold (&dying.hold_dispose, &dying.disposed);
  G_OBJECT_CLASS (test_dying_parent_class)->dispose (object);
}

static void
test_dying_finalize (GObject *object)
{
  dying_hold (&dying.hold_finalize, &dying.finalizing);
  G_OBJECT_CLASS (test_dying_parent_class)->finalize (object);
}

static void
test_dying_class_init (TestDyingClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = test_dying_dispose;
  G_OBJECT_CLASS (klass)->finalize = test_dying_finalize;
}

static void
test_dying_init (TestDying *self)
{
}

static gpointer
last_unref (gpointer server)
{
  g_object_unref (server);
  return NULL;
}

/* The id of @server in the list, 0 if it is not there. */
static guint64
live_id_of (gpointer server)
{
  g_autoptr(GArray) live = gen_live_snapshot ();

  for (guint i = 0; i < live->len; i++)
    if (g_array_index (live, GenLiveServer, i).server == server)
      return g_array_index (live, GenLiveServer, i).id;
  return 0;
}

/* Drops the last reference to @server on a thread of its own, and
 * returns that thread once it is held in the dispose (@hold is
 * `dying.hold_dispose`, @count `dying.disposed`) or in the finalize. */
static GThread *
drop_last_and_hold (TestDying *server,
                    gboolean  *hold,
                    guint     *count)
{
  GThread *thread;

  g_mutex_lock (&dying.gate.lock);
  dying.gate.open = FALSE;
  dying.hold_dispose = dying.hold_finalize = FALSE;
  dying.disposed = dying.finalizing = 0;
  *hold = TRUE;
  g_mutex_unlock (&dying.gate.lock);

  thread = g_thread_new ("last-unref", last_unref, server);
  test_gate_wait_for (&dying.gate, count, 1);
  return thread;
}

/* A lister that comes while the last reference is being dropped, before
 * GenServer's dispose, finds the server listed but takes no reference to
 * it: a reference taken then would resurrect it, and GLib 2.74 touches an
 * object after its unref's count drop, so the lister's own unref could
 * free it under the disposing thread. The unref that started finalizes. */
static void
test_live_listed_during_last_unref (void)
{
  TestDying *server = g_object_new (test_dying_get_type (), NULL);
  guint64 id = live_id_of (server);
  g_autoptr(GArray) live = NULL;
  guint n_listed = gen_live_count ();
  GThread *thread;

  g_assert_cmpuint (id, !=, 0);
  thread = drop_last_and_hold (server, &dying.hold_dispose, &dying.disposed);

  /* Listed still, but not for listers. */
  g_assert_cmpuint (gen_live_count (), ==, n_listed);
  live = gen_live_snapshot ();
  for (guint i = 0; i < live->len; i++)
    g_assert_true (g_array_index (live, GenLiveServer, i).server != (GObject *) server);
  g_assert_null (gen_live_lookup (id));

  test_gate_open (&dying.gate);
  g_thread_join (thread);
  g_assert_cmpuint (test_gate_get (&dying.gate, &dying.disposed), ==, 1);
  g_assert_cmpuint (test_gate_get (&dying.gate, &dying.finalizing), ==, 1);
}

/* Once its count reached 0 a server is no longer in the list: a lister
 * that comes while it is finalized finds nothing to reference (with the
 * server unlisted in finalize it would reference a dying object, a
 * critical here). */
static void
test_live_gone_before_finalize (void)
{
  TestDying *server = g_object_new (test_dying_get_type (), NULL);
  guint64 id = live_id_of (server);
  GThread *thread;

  g_assert_cmpuint (id, !=, 0);
  thread = drop_last_and_hold (server, &dying.hold_finalize, &dying.finalizing);

  g_assert_cmpuint (live_id_of (server), ==, 0);
  g_assert_null (gen_live_lookup (id));

  test_gate_open (&dying.gate);
  g_thread_join (thread);
  g_assert_cmpuint (test_gate_get (&dying.gate, &dying.disposed), ==, 1);
}

/* A server whose dispose forgets to chain up. */
G_DECLARE_FINAL_TYPE (TestUnchained, test_unchained, TEST, UNCHAINED, GenServer)

struct _TestUnchained
{
  GenServer parent_instance;
};

G_DEFINE_TYPE (TestUnchained, test_unchained, GEN_TYPE_SERVER)

static void
test_unchained_dispose (GObject *object)
{
}

static void
test_unchained_class_init (TestUnchainedClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = test_unchained_dispose;
}

static void
test_unchained_init (TestUnchained *self)
{
}

/* A dispose that does not chain up leaves the server listed until its
 * finalize, which says so with a critical and takes it out, instead of
 * leaving the list a freed server. In a subprocess: the critical. */
static void
test_live_dispose_without_chain_up (void)
{
  if (g_test_subprocess ())
    {
      gpointer server = g_object_new (test_unchained_get_type (), NULL);
      guint64 id = live_id_of (server);

      g_assert_cmpuint (id, !=, 0);
      g_test_expect_message ("Gen", G_LOG_LEVEL_CRITICAL,
                             "TestUnchained overrides GObject’s dispose() without chaining up; "
                             "call G_OBJECT_CLASS (parent_class)->dispose (object) from it");
      g_object_unref (server);
      g_test_assert_expected_messages ();
      g_assert_null (gen_live_lookup (id));
      return;
    }

  g_test_trap_subprocess (NULL, TEST_DEADLINE_US, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* A lister and the last unrefs of many servers at once: no reference is
 * ever taken to a server whose count reached 0 (G_DEBUG=fatal-criticals
 * and the sanitizers catch one). */
static gpointer
list_until_stopped (gpointer stop)
{
  while (!g_atomic_int_get ((gint *) stop))
    g_array_unref (gen_live_snapshot ());
  return NULL;
}

static void
test_live_lister_races_last_unrefs (void)
{
  gint stop = FALSE;
  GThread *lister = g_thread_new ("lister", list_until_stopped, &stop);

  for (guint i = 0; i < 5000; i++)
    g_object_unref (g_object_new (GEN_TYPE_SERVER, NULL));
  g_atomic_int_set (&stop, TRUE);
  g_thread_join (lister);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  records = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  g_log_set_writer_func (record_writer, NULL, NULL);

  g_test_add_func ("/observe/status/stopped", test_status_stopped);
  g_test_add_func ("/observe/status/counters", test_status_counters);
  g_test_add_func ("/observe/status/busy-and-timed-out", test_status_busy_and_timed_out);
  g_test_add_func ("/observe/status/crash", test_status_crash);
  g_test_add_func ("/observe/status/context-owner", test_status_context_owner);
  g_test_add_func ("/observe/status/supervisor", test_status_supervisor);
  g_test_add_func ("/observe/suspend/resume", test_suspend_resume);
  g_test_add_func ("/observe/suspend/resume-context", test_suspend_resume_context);
  g_test_add_func ("/observe/suspend/resume-pool", test_suspend_resume_pool);
  g_test_add_func ("/observe/suspend/stop", test_stop_suspended);
  g_test_add_func ("/observe/suspend/stop-context", test_stop_suspended_context);
  g_test_add_func ("/observe/suspend/stop-pool", test_stop_suspended_pool);
  g_test_add_func ("/observe/suspend/stop-while-holding", test_stop_suspended_holding);
  g_test_add_func ("/observe/suspend/resume-twice", test_resume_twice);
  g_test_add_func ("/observe/suspend/status-counts-the-queue", test_suspended_status_counts_the_queue);
  g_test_add_func ("/observe/suspend/status-counts-the-queue-pool",
                   test_suspended_status_counts_the_queue_pool);
  g_test_add_func ("/observe/run-status/notifications", test_run_status_notifications);
  g_test_add_func ("/observe/run-status/pending-dropped", test_run_status_pending_dropped);
  g_test_add_func ("/observe/trace/off-is-silent", test_trace_off_is_silent);
  g_test_add_func ("/observe/trace/on", test_trace_on);
  g_test_add_func ("/observe/trace/lifecycle", test_lifecycle_log);
  g_test_add_func ("/observe/get-and-replace-state", test_get_and_replace_state);
  g_test_add_func ("/observe/replace-state-taken-is-waited-for",
                   test_replace_state_taken_is_waited_for);
  g_test_add_func ("/observe/get-state-unsupported", test_get_state_unsupported);
  g_test_add_func ("/observe/live/listed-during-last-unref", test_live_listed_during_last_unref);
  g_test_add_func ("/observe/live/gone-before-finalize", test_live_gone_before_finalize);
  g_test_add_func ("/observe/live/dispose-without-chain-up", test_live_dispose_without_chain_up);
  g_test_add_func ("/observe/live/lister-races-last-unrefs", test_live_lister_races_last_unrefs);

  return g_test_run ();
}
