/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"

/* Supervisors: strategies, restart types, intensity, nesting, ordering,
 * dynamic children, registered names.
 *
 * Workers record "start:TAG" from init and "stop:TAG" from terminate in one
 * process-wide event log, so that tests can check what happened in which
 * order. Their tag is their start argument. */

static GMutex events_lock;
static GCond events_cond;
static GPtrArray *events;    /* gchar * (owned); events_lock */
static GPtrArray *warnings;  /* gchar * (owned); events_lock */
static gint fail_inits;      /* atomic: how many inits still fail */
static gboolean gate_open;   /* events_lock */
static gboolean exit_gate_open = TRUE; /* events_lock: the "slow" worker's terminate waits for it */

static void
record (GPtrArray   *log,
        const gchar *format,
        ...) G_GNUC_PRINTF (2, 3);

static void
record (GPtrArray   *log,
        const gchar *format,
        ...)
{
  va_list args;

  va_start (args, format);
  g_mutex_lock (&events_lock);
  g_ptr_array_add (log, g_strdup_vprintf (format, args));
  g_cond_broadcast (&events_cond);
  g_mutex_unlock (&events_lock);
  va_end (args);
}

static void
events_clear (void)
{
  g_mutex_lock (&events_lock);
  g_ptr_array_set_size (events, 0);
  g_ptr_array_set_size (warnings, 0);
  g_mutex_unlock (&events_lock);
}

/* Waits for @n events, then returns all of them, comma-separated. */
static gchar *
events_wait (guint n)
{
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;
  GString *joined = g_string_new (NULL);

  g_mutex_lock (&events_lock);
  while (events->len < n)
    if (!g_cond_wait_until (&events_cond, &events_lock, deadline))
      g_error ("only %u of %u events came", events->len, n);
  for (guint i = 0; i < events->len; i++)
    g_string_append_printf (joined, "%s%s", i ? "," : "", (gchar *) g_ptr_array_index (events, i));
  g_mutex_unlock (&events_lock);

  return g_string_free (joined, FALSE);
}

static gboolean
warned (const gchar *pattern)
{
  gboolean found = FALSE;

  g_mutex_lock (&events_lock);
  for (guint i = 0; i < warnings->len && !found; i++)
    found = g_pattern_match_simple (pattern, g_ptr_array_index (warnings, i));
  g_mutex_unlock (&events_lock);
  return found;
}

/* Crash reports (messages) and warnings; here they are expected, so they are
 * recorded instead of being fatal. */
static void
log_handler (const gchar    *domain,
             GLogLevelFlags  level,
             const gchar    *message,
             gpointer        user_data)
{
  record (warnings, "%s", message);
}

struct _TestWorker
{
  GenServer parent_instance;

  gchar *label; /* construct-only */
  gchar *tag;   /* server thread */
  gint64 count; /* server thread */
};

G_DECLARE_FINAL_TYPE (TestWorker, test_worker, TEST, WORKER, GenServer)
G_DEFINE_TYPE (TestWorker, test_worker, GEN_TYPE_SERVER)

enum { PROP_0, PROP_LABEL };

static void
test_worker_init_server (GenServer  *server,
                         GVariant   *args,
                         GError    **error)
{
  TestWorker *self = TEST_WORKER (server);

  g_free (self->tag);
  if (args != NULL && g_variant_is_of_type (args, G_VARIANT_TYPE ("(ss)")))
    {
      /* A simple_one_for_one child: template and extra arguments. */
      const gchar *first, *second;

      g_variant_get (args, "(&s&s)", &first, &second);
      self->tag = g_strconcat (first, "+", second, NULL);
    }
  else
    self->tag = g_strdup (args ? g_variant_get_string (args, NULL) : "worker");

  if (g_str_equal (self->tag, "bad") ||
      (g_atomic_int_get (&fail_inits) > 0 && g_atomic_int_add (&fail_inits, -1) > 0))
    {
      record (events, "fail:%s", self->tag);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s refused to start", self->tag);
      return;
    }
  record (events, "start:%s", self->tag);
}

static void
test_worker_handle_cast (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  TestWorker *self = TEST_WORKER (server);
  const gchar *command = g_variant_get_string (message, NULL);

  if (g_str_equal (command, "crash"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s crashed on purpose", self->tag);
  else if (g_str_equal (command, "stop"))
    gen_server_stop (server, -1, NULL);
  else if (g_str_equal (command, "stop-error"))
    {
      g_autoptr(GError) reason = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "%s gave up", self->tag);

      gen_server_stop_with_reason (server, reason, -1, NULL);
    }
  else if (g_str_equal (command, "block"))
    {
      g_mutex_lock (&events_lock);
      while (!gate_open)
        g_cond_wait (&events_cond, &events_lock);
      g_mutex_unlock (&events_lock);
    }
  else if (g_str_equal (command, "add"))
    self->count++;
}

static GVariant *
test_worker_handle_call (GenServer  *server,
                         GVariant   *message,
                         GError    **error)
{
  TestWorker *self = TEST_WORKER (server);
  const gchar *command = g_variant_get_string (message, NULL);

  if (g_str_equal (command, "label"))
    return g_variant_new_string (self->label ? self->label : "");
  return g_variant_new_int64 (self->count);
}

static void
test_worker_terminate (GenServer    *server,
                       const GError *reason)
{
  if (g_str_equal (TEST_WORKER (server)->tag, "slow"))
    {
      g_mutex_lock (&events_lock);
      while (!exit_gate_open)
        g_cond_wait (&events_cond, &events_lock);
      g_mutex_unlock (&events_lock);
    }
  record (events, "stop:%s", TEST_WORKER (server)->tag);
}

static void
test_worker_finalize (GObject *object)
{
  TestWorker *self = TEST_WORKER (object);

  g_free (self->label);
  g_free (self->tag);
  G_OBJECT_CLASS (test_worker_parent_class)->finalize (object);
}

static void
test_worker_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  TEST_WORKER (object)->label = g_value_dup_string (value);
}

static void
test_worker_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  g_value_set_string (value, TEST_WORKER (object)->label);
}

static void
test_worker_class_init (TestWorkerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  object_class->finalize = test_worker_finalize;
  object_class->set_property = test_worker_set_property;
  object_class->get_property = test_worker_get_property;
  server_class->init = test_worker_init_server;
  server_class->handle_cast = test_worker_handle_cast;
  server_class->handle_call = test_worker_handle_call;
  server_class->terminate = test_worker_terminate;

  g_object_class_install_property (object_class, PROP_LABEL,
    g_param_spec_string ("label", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
}

static void
test_worker_init (TestWorker *self)
{
}

static GenChildSpec *
worker_spec (const gchar     *tag,
             GenChildRestart  restart)
{
  GenChildSpec *spec = gen_child_spec_new (tag, test_worker_get_type (), g_variant_new_string (tag));

  gen_child_spec_set_restart (spec, restart);
  return spec;
}

static GenSupervisor *
supervisor_start (GenSupervisorStrategy   strategy,
                  guint                   intensity,
                  const gchar           **tags)
{
  GenSupervisor *supervisor = gen_supervisor_new (strategy, intensity, 60000);
  GPtrArray *specs = g_ptr_array_new_with_free_func ((GDestroyNotify) gen_child_spec_unref);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; tags[i] != NULL; i++)
    g_ptr_array_add (specs, worker_spec (tags[i], GEN_CHILD_RESTART_PERMANENT));
  gen_server_start (GEN_SERVER (supervisor),
                    gen_supervisor_build_args ((GenChildSpec **) specs->pdata, specs->len),
                    &error);
  g_assert_no_error (error);
  g_ptr_array_unref (specs);
  return supervisor;
}

static void
cast (GenServer   *server,
      const gchar *command)
{
  g_autoptr(GError) error = NULL;

  gen_server_cast (server, g_variant_new_string (command), &error);
  g_assert_no_error (error);
}

/* The supervisor has handled everything queued before: which_children is
 * a call, handled after the notices that came first. */
static void
supervisor_sync (GenSupervisor *supervisor)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) ids = gen_supervisor_which_children (supervisor, &error);
  g_auto(GStrv) snapshot = gen_supervisor_dup_child_ids (supervisor);

  g_assert_no_error (error);
  g_assert_cmpstrv (ids, snapshot);
}

static void
on_stopped (GenServer    *server,
            const GError *reason,
            gpointer      user_data)
{
  GError **slot = user_data;

  *slot = reason ? g_error_copy (reason)
                 : g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NONE, "normal");
}

static gboolean
deadline_cb (gpointer data)
{
  g_error ("no monitor notice within the deadline");
  return G_SOURCE_REMOVE;
}

/* Monitors @server: *@slot gets its reason (G_IO_ERROR_NONE for a normal
 * stop) once it stopped. Set before making it stop, or the monitor may
 * come too late and be told NOT_RUNNING. */
static void
watch (GenServer  *server,
       GError    **slot)
{
  *slot = NULL;
  gen_server_monitor (server, on_stopped, slot, NULL);
}

/* Waits for a watch() to fire and returns the reason. By then the
 * server's supervisor has its notice queued. */
static GError *
wait_stopped (GError **slot)
{
  GSource *deadline = g_timeout_source_new (TEST_DEADLINE_US / 1000);

  g_source_set_callback (deadline, deadline_cb, NULL, NULL);
  g_source_attach (deadline, NULL);
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (deadline);
  g_source_unref (deadline);
  return g_steal_pointer (slot);
}

static GenServer *
child_of (GenSupervisor *supervisor,
          const gchar   *id)
{
  GenServer *child = gen_supervisor_get_child (supervisor, id);

  g_assert_nonnull (child);
  return child;
}

static void
supervisor_stop (GenSupervisor *supervisor)
{
  g_autoptr(GError) error = NULL;

  gen_server_stop (GEN_SERVER (supervisor), -1, &error);
  g_assert_no_error (error);
}

static void
test_order (void)
{
  g_autoptr(GenSupervisor) supervisor = NULL;
  g_autofree gchar *started = NULL;
  g_autofree gchar *stopped = NULL;
  g_auto(GStrv) ids = NULL;

  events_clear ();
  supervisor = supervisor_start (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 1,
                                 (const gchar *[]) { "a", "b", "c", NULL });
  started = events_wait (3);
  g_assert_cmpstr (started, ==, "start:a,start:b,start:c");
  ids = gen_supervisor_dup_child_ids (supervisor);
  g_assert_cmpstrv (ids, ((const gchar *[]) { "a", "b", "c", NULL }));

  events_clear ();
  supervisor_stop (supervisor);
  stopped = events_wait (3);
  g_assert_cmpstr (stopped, ==, "stop:c,stop:b,stop:a");
  g_assert_null (gen_supervisor_get_child (supervisor, "a"));
}

/* Crashes child b of a, b, c and returns the events up to @n. */
static gchar *
crash_b (GenSupervisor *supervisor,
         guint          n)
{
  g_autoptr(GenServer) b = child_of (supervisor, "b");
  g_autoptr(GError) reason = NULL;

  events_clear ();
  watch (b, &reason);
  cast (b, "crash");
  reason = wait_stopped (&reason);
  g_assert_error (reason, G_IO_ERROR, G_IO_ERROR_FAILED);
  return events_wait (n);
}

static void
test_one_for_one (void)
{
  g_autoptr(GenSupervisor) supervisor =
    supervisor_start (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3,
                      (const gchar *[]) { "a", "b", "c", NULL });
  g_autoptr(GenServer) a = child_of (supervisor, "a");
  g_autoptr(GenServer) b = child_of (supervisor, "b");
  g_autoptr(GenServer) c = child_of (supervisor, "c");
  g_autoptr(GenServer) new_a = NULL, new_b = NULL, new_c = NULL;
  g_autoptr(GVariant) count = NULL;
  g_autofree gchar *seen = NULL;

  cast (b, "add");
  seen = crash_b (supervisor, 2);
  g_assert_cmpstr (seen, ==, "stop:b,start:b");
  g_assert_true (warned ("*TestWorker crashed: b crashed on purpose*"));

  supervisor_sync (supervisor);
  new_a = child_of (supervisor, "a");
  new_b = child_of (supervisor, "b");
  new_c = child_of (supervisor, "c");
  g_assert_true (new_a == a);
  g_assert_true (new_b != b);
  g_assert_true (new_c == c);
  g_assert_true (gen_server_is_running (new_b));

  /* A fresh instance, fresh state from init. */
  count = gen_server_call (new_b, g_variant_new_string ("count"), TEST_CALL_TIMEOUT_MS, NULL);
  g_assert_cmpint (g_variant_get_int64 (count), ==, 0);

  supervisor_stop (supervisor);
}

static void
test_one_for_all (void)
{
  g_autoptr(GenSupervisor) supervisor =
    supervisor_start (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ALL, 3,
                      (const gchar *[]) { "a", "b", "c", NULL });
  g_autoptr(GenServer) a = child_of (supervisor, "a");
  g_autoptr(GenServer) c = child_of (supervisor, "c");
  g_autoptr(GenServer) new_a = NULL, new_c = NULL;
  g_autofree gchar *seen = NULL;

  seen = crash_b (supervisor, 6);
  g_assert_cmpstr (seen, ==, "stop:b,stop:c,stop:a,start:a,start:b,start:c");

  supervisor_sync (supervisor);
  new_a = child_of (supervisor, "a");
  new_c = child_of (supervisor, "c");
  g_assert_true (new_a != a);
  g_assert_true (new_c != c);
  g_assert_false (gen_server_is_running (a));

  supervisor_stop (supervisor);
}

static void
test_rest_for_one (void)
{
  g_autoptr(GenSupervisor) supervisor =
    supervisor_start (GEN_SUPERVISOR_STRATEGY_REST_FOR_ONE, 3,
                      (const gchar *[]) { "a", "b", "c", "d", NULL });
  g_autoptr(GenServer) a = child_of (supervisor, "a");
  g_autoptr(GenServer) c = child_of (supervisor, "c");
  g_autoptr(GenServer) new_a = NULL, new_c = NULL;
  g_autofree gchar *seen = NULL;

  seen = crash_b (supervisor, 6);
  g_assert_cmpstr (seen, ==, "stop:b,stop:d,stop:c,start:b,start:c,start:d");

  supervisor_sync (supervisor);
  new_a = child_of (supervisor, "a");
  new_c = child_of (supervisor, "c");
  g_assert_true (new_a == a);
  g_assert_true (new_c != c);

  supervisor_stop (supervisor);
}

static gboolean
has_child_id (GenSupervisor *supervisor,
              const gchar   *id)
{
  g_auto(GStrv) ids = gen_supervisor_dup_child_ids (supervisor);

  return g_strv_contains ((const gchar * const *) ids, id);
}

/* Stops child @id with @command, waits for the supervisor to react, and
 * returns the new instance, if any. */
static GenServer *
stop_child_and_sync (GenSupervisor *supervisor,
                     const gchar   *id,
                     const gchar   *command)
{
  g_autoptr(GenServer) child = child_of (supervisor, id);
  g_autoptr(GError) reason = NULL;

  watch (child, &reason);
  cast (child, command);
  reason = wait_stopped (&reason);
  supervisor_sync (supervisor);
  return gen_supervisor_get_child (supervisor, id);
}

static void
test_restart_types (void)
{
  g_autoptr(GenSupervisor) supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 10, 60000);
  GenChildRestart restarts[] = { GEN_CHILD_RESTART_PERMANENT, GEN_CHILD_RESTART_TRANSIENT, GEN_CHILD_RESTART_TEMPORARY };
  const gchar *ids[] = { "permanent", "transient", "temporary" };
  g_autoptr(GError) error = NULL;
  GenServer *next;

  g_assert_true (gen_server_start (GEN_SERVER (supervisor), NULL, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(GenChildSpec) spec = worker_spec (ids[i], restarts[i]);

      g_assert_true (gen_supervisor_start_child (supervisor, spec, &error));
      g_assert_no_error (error);
    }

  /* Permanent: restarted after a normal stop and after a crash. */
  next = stop_child_and_sync (supervisor, "permanent", "stop");
  g_assert_nonnull (next);
  g_clear_object (&next);
  next = stop_child_and_sync (supervisor, "permanent", "crash");
  g_assert_nonnull (next);
  g_clear_object (&next);

  /* Transient: restarted after a crash and an error stop, not after a
   * normal stop; its spec stays. */
  next = stop_child_and_sync (supervisor, "transient", "crash");
  g_assert_nonnull (next);
  g_clear_object (&next);
  next = stop_child_and_sync (supervisor, "transient", "stop-error");
  g_assert_nonnull (next);
  g_clear_object (&next);
  g_assert_true (warned ("*TestWorker crashed: transient gave up*"));
  next = stop_child_and_sync (supervisor, "transient", "stop");
  g_assert_null (next);
  g_assert_true (has_child_id (supervisor, "transient"));

  /* Temporary: never restarted, and forgotten. */
  next = stop_child_and_sync (supervisor, "temporary", "crash");
  g_assert_null (next);
  g_assert_false (has_child_id (supervisor, "temporary"));

  g_assert_true (gen_server_is_running (GEN_SERVER (supervisor)));
  supervisor_stop (supervisor);
}

static void
test_intensity (void)
{
  g_autoptr(GenSupervisor) supervisor =
    supervisor_start (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 2,
                      (const gchar *[]) { "a", "b", "c", NULL });
  g_autoptr(GError) reason = NULL;
  g_autofree gchar *seen = NULL;

  /* Two restarts are allowed. */
  for (guint i = 0; i < 2; i++)
    {
      g_autofree gchar *restarted = crash_b (supervisor, 2);

      g_assert_cmpstr (restarted, ==, "stop:b,start:b");
      supervisor_sync (supervisor);
    }

  /* The third gives up: the other children stop, in reverse order, then
   * the supervisor, with the reason. */
  watch (GEN_SERVER (supervisor), &reason);
  seen = crash_b (supervisor, 3);
  g_assert_cmpstr (seen, ==, "stop:b,stop:c,stop:a");
  reason = wait_stopped (&reason);
  g_assert_error (reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TOO_MANY_RESTARTS);
  g_assert_true (warned ("*GenSupervisor crashed: GenSupervisor reached its restart intensity*"));
  g_assert_false (gen_server_is_running (GEN_SERVER (supervisor)));
}

typedef struct
{
  gint64 until;
} Moment;

static gboolean
moment_passed (gpointer data)
{
  return g_get_monotonic_time () > ((Moment *) data)->until;
}

/* Restarts older than the period no longer count. */
static void
test_intensity_period (void)
{
  g_autoptr(GenSupervisor) supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 1, 100);
  g_autoptr(GenChildSpec) spec = worker_spec ("b", GEN_CHILD_RESTART_PERMANENT);
  g_autofree gchar *first = NULL;
  g_autofree gchar *second = NULL;
  Moment later;

  g_assert_true (gen_server_start (GEN_SERVER (supervisor),
                                   gen_supervisor_build_args (&spec, 1), NULL));
  first = crash_b (supervisor, 2);
  g_assert_cmpstr (first, ==, "stop:b,start:b");
  supervisor_sync (supervisor);

  later.until = g_get_monotonic_time () + 150 * 1000;
  test_wait_until (moment_passed, &later);
  second = crash_b (supervisor, 2);
  g_assert_cmpstr (second, ==, "stop:b,start:b");
  supervisor_sync (supervisor);
  g_assert_true (gen_server_is_running (GEN_SERVER (supervisor)));

  supervisor_stop (supervisor);
}

/* An inner one-for-all supervisor that gives up at the first restart,
 * under an outer one that restarts it, and its children with it. */
static void
test_nested (void)
{
  g_autoptr(GenSupervisor) outer = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3, 60000);
  g_autoptr(GenChildSpec) x = worker_spec ("x", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) y = worker_spec ("y", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) inner_spec = NULL;
  g_autoptr(GenChildSpec) last = worker_spec ("z", GEN_CHILD_RESTART_PERMANENT);
  GenChildSpec *children[] = { x, y };
  g_autoptr(GenServer) inner = NULL;
  g_autoptr(GenServer) new_inner = NULL;
  g_autoptr(GenServer) x_child = NULL;
  g_autoptr(GError) reason = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *started = NULL;
  g_autofree gchar *restarted = NULL;
  g_autofree gchar *stopped = NULL;

  inner_spec = gen_child_spec_new ("inner", GEN_TYPE_SUPERVISOR,
                                   gen_supervisor_build_args (children, G_N_ELEMENTS (children)));
  gen_child_spec_add_property (inner_spec, "strategy", g_variant_new_string ("one-for-all"));
  gen_child_spec_add_property (inner_spec, "intensity", g_variant_new_int32 (0));
  g_assert_cmpint (gen_child_spec_get_shutdown_timeout (inner_spec), ==, -1);

  events_clear ();
  g_assert_true (gen_server_start (GEN_SERVER (outer), NULL, NULL));
  g_assert_true (gen_supervisor_start_child (outer, inner_spec, &error));
  g_assert_no_error (error);
  g_assert_true (gen_supervisor_start_child (outer, last, &error));
  g_assert_no_error (error);
  started = events_wait (3);
  g_assert_cmpstr (started, ==, "start:x,start:y,start:z");

  inner = child_of (outer, "inner");
  g_assert_true (GEN_IS_SUPERVISOR (inner));
  g_assert_cmpint (gen_supervisor_get_strategy (GEN_SUPERVISOR (inner)), ==, GEN_SUPERVISOR_STRATEGY_ONE_FOR_ALL);
  g_assert_cmpuint (gen_supervisor_get_intensity (GEN_SUPERVISOR (inner)), ==, 0);

  events_clear ();
  x_child = child_of (GEN_SUPERVISOR (inner), "x");
  watch (inner, &reason);
  cast (x_child, "crash");
  reason = wait_stopped (&reason);
  g_assert_error (reason, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TOO_MANY_RESTARTS);
  restarted = events_wait (4);
  g_assert_cmpstr (restarted, ==, "stop:x,stop:y,start:x,start:y");

  supervisor_sync (outer);
  new_inner = child_of (outer, "inner");
  g_assert_true (new_inner != inner);
  g_assert_true (gen_server_is_running (new_inner));

  events_clear ();
  supervisor_stop (outer);
  stopped = events_wait (3);
  g_assert_cmpstr (stopped, ==, "stop:z,stop:y,stop:x");
  g_assert_false (gen_server_is_running (new_inner));
}

static void
test_dynamic (void)
{
  g_autoptr(GenSupervisor) supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 1, 5000);
  g_autoptr(GenChildSpec) a = worker_spec ("a", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) b = worker_spec ("b", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) bad = worker_spec ("bad", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GError) error = NULL;
  g_autofree gchar *seen = NULL;
  g_auto(GStrv) ids = NULL;

  g_assert_false (gen_supervisor_start_child (supervisor, a, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_clear_error (&error);

  events_clear ();
  g_assert_true (gen_server_start (GEN_SERVER (supervisor), NULL, NULL));
  g_assert_true (gen_supervisor_start_child (supervisor, a, NULL));
  g_assert_true (gen_supervisor_start_child (supervisor, b, NULL));
  g_assert_false (gen_supervisor_start_child (supervisor, a, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NAME_TAKEN);
  g_clear_error (&error);

  /* A child whose init fails is not added; the supervisor goes on. */
  g_assert_false (gen_supervisor_start_child (supervisor, bad, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "Child “bad” failed to start: bad refused to start"));
  g_clear_error (&error);

  g_assert_true (gen_supervisor_remove_child (supervisor, "a", &error));
  g_assert_no_error (error);
  seen = events_wait (4);
  g_assert_cmpstr (seen, ==, "start:a,start:b,fail:bad,stop:a");
  ids = gen_supervisor_dup_child_ids (supervisor);
  g_assert_cmpstrv (ids, ((const gchar *[]) { "b", NULL }));
  g_assert_false (gen_supervisor_remove_child (supervisor, "a", &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);

  g_assert_true (gen_server_is_running (GEN_SERVER (supervisor)));
  supervisor_stop (supervisor);
}

/* A supervisor whose second child fails init fails to start, and stops the
 * first again. */
static void
test_init_failure (void)
{
  g_autoptr(GenSupervisor) supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 1, 5000);
  g_autoptr(GenChildSpec) a = worker_spec ("a", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) bad = worker_spec ("bad", GEN_CHILD_RESTART_PERMANENT);
  GenChildSpec *children[] = { a, bad };
  g_autoptr(GError) error = NULL;
  g_autofree gchar *seen = NULL;

  events_clear ();
  g_assert_false (gen_server_start (GEN_SERVER (supervisor),
                                    gen_supervisor_build_args (children, 2), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  seen = events_wait (3);
  g_assert_cmpstr (seen, ==, "start:a,fail:bad,stop:a");
  g_clear_error (&error);

  g_assert_false (gen_server_start (GEN_SERVER (supervisor), g_variant_new_string ("nope"), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
}

/* A child whose init fails at its restart is tried again, each attempt
 * counting against the intensity. */
static void
test_restart_init_failure (void)
{
  g_autoptr(GenSupervisor) supervisor =
    supervisor_start (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3,
                      (const gchar *[]) { "a", "b", "c", NULL });
  g_autofree gchar *seen = NULL;

  g_atomic_int_set (&fail_inits, 1);
  seen = crash_b (supervisor, 3);
  g_assert_cmpstr (seen, ==, "stop:b,fail:b,start:b");
  supervisor_sync (supervisor);
  g_assert_true (warned ("*Child “b” failed to start: b refused to start*"));
  g_assert_true (gen_server_is_running (GEN_SERVER (supervisor)));
  supervisor_stop (supervisor);
}

static void
test_registry_rebind (void)
{
  g_autoptr(GenSupervisor) supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3, 60000);
  g_autoptr(GenChildSpec) spec = worker_spec ("b", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenServer) first = NULL;
  g_autoptr(GenServer) second = NULL;
  g_autoptr(GenServer) registered = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *seen = NULL;
  GenRegistry *registry = gen_registry_get_default ();

  gen_child_spec_set_name (spec, "the-worker");
  g_assert_true (gen_server_start (GEN_SERVER (supervisor), gen_supervisor_build_args (&spec, 1), NULL));
  first = child_of (supervisor, "b");
  registered = gen_registry_lookup (registry, "the-worker");
  g_assert_true (registered == first);
  g_clear_object (&registered);

  gen_registry_cast (registry, "the-worker", g_variant_new_string ("add"), &error);
  g_assert_no_error (error);
  seen = crash_b (supervisor, 2);
  g_assert_cmpstr (seen, ==, "stop:b,start:b");
  supervisor_sync (supervisor);

  second = child_of (supervisor, "b");
  g_assert_true (second != first);
  registered = gen_registry_lookup (registry, "the-worker");
  g_assert_true (registered == second);
  reply = gen_registry_call (registry, "the-worker", g_variant_new_string ("count"),
                             TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (reply), ==, 0);

  supervisor_stop (supervisor);
  g_clear_object (&registered);
  g_assert_null (gen_registry_lookup (registry, "the-worker"));
}

static void
test_child_properties (void)
{
  g_autoptr(GenSupervisor) supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 1, 5000);
  g_autoptr(GenChildSpec) spec = worker_spec ("labelled", GEN_CHILD_RESTART_TRANSIENT);
  g_autoptr(GenChildSpec) wrong = worker_spec ("wrong", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) copy = NULL;
  g_autoptr(GenServer) child = NULL;
  g_autoptr(GVariant) label = NULL;
  g_autoptr(GVariant) as_variant = NULL;
  g_autoptr(GError) error = NULL;

  gen_child_spec_add_property (spec, "label", g_variant_new_string ("hello"));
  gen_child_spec_set_shutdown_timeout (spec, 1234);
  as_variant = g_variant_ref_sink (gen_child_spec_to_variant (spec));
  g_assert_cmpstr (g_variant_get_type_string (as_variant), ==, GEN_CHILD_SPEC_VARIANT_TYPE);
  copy = gen_child_spec_new_from_variant (as_variant, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (gen_child_spec_get_id (copy), ==, "labelled");
  g_assert_true (gen_child_spec_get_server_type (copy) == test_worker_get_type ());
  g_assert_cmpint (gen_child_spec_get_restart (copy), ==, GEN_CHILD_RESTART_TRANSIENT);
  g_assert_cmpint (gen_child_spec_get_shutdown_timeout (copy), ==, 1234);
  g_assert_cmpstr (g_variant_get_string (gen_child_spec_get_args (copy), NULL), ==, "labelled");
  g_assert_null (gen_child_spec_get_name (copy));

  g_assert_true (gen_server_start (GEN_SERVER (supervisor), NULL, NULL));
  g_assert_true (gen_supervisor_start_child (supervisor, copy, &error));
  g_assert_no_error (error);
  child = child_of (supervisor, "labelled");
  label = gen_server_call (child, g_variant_new_string ("label"), TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (label, NULL), ==, "hello");

  gen_child_spec_add_property (wrong, "no-such-property", g_variant_new_int32 (1));
  g_assert_false (gen_supervisor_start_child (supervisor, wrong, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  g_assert_null (gen_child_spec_new_from_variant (g_variant_new_parsed ("('x', 'NoSuchType', @a{sv} {}, "
                                                                        "@mv nothing, uint32 0, 0, '', false)"),
                                                  &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  /* Validation, with errors that say what is wrong. */
  {
    g_autoptr(GenChildSpec) nameless = gen_child_spec_new ("", test_worker_get_type (), NULL);
    g_autofree gchar *variant = g_strdup_printf ("('x', '%s', @a{sv} {}, @mv nothing, uint32 0, -5, '', false)",
                                                 g_type_name (test_worker_get_type ()));

    g_assert_false (gen_supervisor_start_child (supervisor, nameless, &error));
    g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
    g_assert_nonnull (strstr (error->message, "empty id"));
    g_clear_error (&error);

    g_assert_null (gen_child_spec_new_from_variant (g_variant_new_parsed (variant), &error));
    g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
    g_assert_nonnull (strstr (error->message, "not -5"));
    g_clear_error (&error);
  }

  supervisor_stop (supervisor);
}

/* A child that does not stop within its shutdown timeout is reported and
 * left behind; the others still stop, in order. */
static void
test_shutdown_timeout (void)
{
  g_autoptr(GenSupervisor) supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 1, 5000);
  g_autoptr(GenChildSpec) a = worker_spec ("a", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) stuck = worker_spec ("stuck", GEN_CHILD_RESTART_PERMANENT);
  GenChildSpec *children[] = { a, stuck };
  g_autoptr(GenServer) stuck_child = NULL;
  g_autoptr(GError) reason = NULL;
  g_autofree gchar *seen = NULL;

  gen_child_spec_set_shutdown_timeout (stuck, 50);
  g_mutex_lock (&events_lock);
  gate_open = FALSE;
  g_mutex_unlock (&events_lock);

  g_assert_true (gen_server_start (GEN_SERVER (supervisor), gen_supervisor_build_args (children, 2), NULL));
  stuck_child = child_of (supervisor, "stuck");
  watch (stuck_child, &reason);
  cast (stuck_child, "block");

  events_clear ();
  supervisor_stop (supervisor);
  seen = events_wait (1);
  g_assert_cmpstr (seen, ==, "stop:a");
  g_assert_true (warned ("*child “stuck” did not stop within 50 ms*"));
  g_assert_false (gen_server_is_running (stuck_child));

  g_mutex_lock (&events_lock);
  gate_open = TRUE;
  g_cond_broadcast (&events_cond);
  g_mutex_unlock (&events_lock);
  reason = wait_stopped (&reason);
  g_free (seen);
  seen = events_wait (2);
  g_assert_cmpstr (seen, ==, "stop:a,stop:stuck");
}

static gboolean
events_have (const gchar *event)
{
  for (guint i = 0; i < events->len; i++)
    if (g_str_equal (g_ptr_array_index (events, i), event))
      return TRUE;
  return FALSE;
}

/* Opens the exit gate once the supervisor is stopping and either "a"
 * stopped (which must not happen first) or a short grace passed. */
static gpointer
open_exit_gate (gpointer data)
{
  GenSupervisor *supervisor = data;
  gint64 grace;

  test_wait_until (test_not_running, supervisor);
  grace = g_get_monotonic_time () + 200 * 1000;
  g_mutex_lock (&events_lock);
  while (!events_have ("stop:a") && g_cond_wait_until (&events_cond, &events_lock, grace))
    ;
  exit_gate_open = TRUE;
  g_cond_broadcast (&events_cond);
  g_mutex_unlock (&events_lock);
  return NULL;
}

/* A child crashing while its supervisor stops is waited for, so that the
 * children still stop in reverse order. */
static void
test_stop_while_child_crashes (void)
{
  g_autoptr(GenSupervisor) supervisor =
    supervisor_start (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3,
                      (const gchar *[]) { "a", "slow", NULL });
  g_autoptr(GenServer) slow = child_of (supervisor, "slow");
  g_autofree gchar *seen = NULL;
  GThread *opener;

  g_mutex_lock (&events_lock);
  exit_gate_open = FALSE;
  g_mutex_unlock (&events_lock);

  events_clear ();
  cast (slow, "crash");
  /* Its terminate now waits at the exit gate. */
  test_wait_until (test_not_running, slow);

  opener = g_thread_new ("opener", open_exit_gate, supervisor);
  supervisor_stop (supervisor);
  g_thread_join (opener);

  seen = events_wait (2);
  g_assert_cmpstr (seen, ==, "stop:slow,stop:a");
}

static guint
count_of (GVariant    *counts,
          const gchar *key)
{
  guint value = G_MAXUINT;

  g_assert_true (g_variant_lookup (counts, key, "u", &value));
  return value;
}

/* terminate_child keeps the spec; restart_child starts it afresh;
 * delete_child forgets a child that is not running; each refuses an
 * unknown id, and restart and delete a running child. */
static void
test_child_commands (void)
{
  g_autoptr(GenSupervisor) supervisor =
    supervisor_start (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3,
                      (const gchar *[]) { "a", "b", NULL });
  g_autoptr(GenChildSpec) temporary = worker_spec ("t", GEN_CHILD_RESTART_TEMPORARY);
  g_autoptr(GenChildSpec) spec = NULL;
  g_autoptr(GenServer) first = child_of (supervisor, "a");
  g_autoptr(GenServer) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autofree gchar *printed = NULL;
  g_autofree gchar *seen = NULL;
  g_auto(GStrv) ids = NULL;

  events_clear ();
  g_assert_false (gen_supervisor_restart_child (supervisor, "a", &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_ALREADY_RUNNING);
  g_clear_error (&error);
  g_assert_false (gen_supervisor_delete_child (supervisor, "a", &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_ALREADY_RUNNING);
  g_clear_error (&error);
  for (guint i = 0; i < 3; i++)
    {
      gboolean (*command) (GenSupervisor *, const gchar *, GError **) =
        i == 0 ? gen_supervisor_terminate_child :
        i == 1 ? gen_supervisor_restart_child : gen_supervisor_delete_child;

      g_assert_false (command (supervisor, "nobody", &error));
      g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
      g_clear_error (&error);
    }

  g_assert_true (gen_supervisor_terminate_child (supervisor, "a", &error));
  g_assert_no_error (error);
  g_assert_false (gen_server_is_running (first));
  g_assert_null (gen_supervisor_get_child (supervisor, "a"));
  /* Terminating again is fine; the spec stays. */
  g_assert_true (gen_supervisor_terminate_child (supervisor, "a", NULL));
  spec = gen_supervisor_get_child_spec (supervisor, "a");
  g_assert_nonnull (spec);
  g_assert_cmpstr (gen_child_spec_get_id (spec), ==, "a");
  g_assert_null (gen_supervisor_get_child_spec (supervisor, "nobody"));

  status = gen_supervisor_which_children_status (supervisor, &error);
  g_assert_no_error (error);
  printed = g_variant_print (status, FALSE);
  g_assert_cmpstr (printed, ==, "[('a', 'worker', 'stopped'), ('b', 'worker', 'running')]");

  g_assert_true (gen_supervisor_restart_child (supervisor, "a", &error));
  g_assert_no_error (error);
  second = child_of (supervisor, "a");
  g_assert_true (second != first);
  g_assert_true (gen_server_is_running (second));

  g_assert_true (gen_supervisor_terminate_child (supervisor, "b", NULL));
  g_assert_true (gen_supervisor_delete_child (supervisor, "b", &error));
  g_assert_no_error (error);
  ids = gen_supervisor_dup_child_ids (supervisor);
  g_assert_cmpstrv (ids, ((const gchar *[]) { "a", NULL }));

  /* A temporary child's spec goes when it is terminated. */
  g_assert_true (gen_supervisor_start_child (supervisor, temporary, NULL));
  g_assert_true (gen_supervisor_terminate_child (supervisor, "t", NULL));
  g_assert_null (gen_supervisor_get_child_spec (supervisor, "t"));

  seen = events_wait (5);
  g_assert_cmpstr (seen, ==, "stop:a,start:a,stop:b,start:t,stop:t");
  supervisor_stop (supervisor);
}

/* count_children: specs, active, supervisors and workers. */
static void
test_count_children (void)
{
  g_autoptr(GenSupervisor) supervisor =
    supervisor_start (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3,
                      (const gchar *[]) { "a", "b", NULL });
  g_autoptr(GenChildSpec) inner = gen_child_spec_new ("inner", GEN_TYPE_SUPERVISOR, NULL);
  g_autoptr(GVariant) counts = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_supervisor_start_child (supervisor, inner, &error));
  g_assert_no_error (error);
  g_assert_true (gen_supervisor_terminate_child (supervisor, "b", NULL));

  counts = gen_supervisor_count_children (supervisor, &error);
  g_assert_no_error (error);
  /* The type its documentation gives. */
  g_assert_cmpstr (g_variant_get_type_string (counts), ==, "a{su}");
  g_assert_cmpuint (count_of (counts, "specs"), ==, 3);
  g_assert_cmpuint (count_of (counts, "active"), ==, 2);
  g_assert_cmpuint (count_of (counts, "supervisors"), ==, 1);
  g_assert_cmpuint (count_of (counts, "workers"), ==, 2);
  supervisor_stop (supervisor);

  g_clear_pointer (&counts, g_variant_unref);
  counts = gen_supervisor_count_children (supervisor, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_assert_null (counts);
}

static GenSupervisor *
simple_supervisor_start (GVariant *template_args,
                         guint     max_children)
{
  g_autoptr(GenChildSpec) template = gen_child_spec_new ("w", test_worker_get_type (), template_args);
  GenSupervisor *supervisor = g_object_new (GEN_TYPE_SUPERVISOR,
                                            "strategy", GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE,
                                            "intensity", 3,
                                            "max-children", max_children,
                                            NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_server_start (GEN_SERVER (supervisor),
                                   gen_supervisor_build_args (&template, 1), &error));
  g_assert_no_error (error);
  return supervisor;
}

/* simple_one_for_one: children from one template, with extra arguments,
 * restarted one for one, deleted when terminated, up to max-children. */
static void
test_simple_one_for_one (void)
{
  g_autoptr(GenSupervisor) supervisor = simple_supervisor_start (NULL, 2);
  g_autoptr(GenChildSpec) spec = worker_spec ("other", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GError) error = NULL;
  GError *reason = NULL;
  g_autoptr(GError) crashed = NULL;
  g_autoptr(GenServer) first = NULL;
  g_autofree gchar *x = NULL;
  g_autofree gchar *y = NULL;
  g_autofree gchar *seen = NULL;
  g_autofree gchar *none = NULL;
  g_auto(GStrv) ids = NULL;

  events_clear ();
  x = gen_supervisor_start_child_with_args (supervisor, g_variant_new_string ("x"), &error);
  g_assert_no_error (error);
  y = gen_supervisor_start_child_with_args (supervisor, g_variant_new_string ("y"), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (x, ==, "w-1");
  g_assert_cmpstr (y, ==, "w-2");

  none = gen_supervisor_start_child_with_args (supervisor, g_variant_new_string ("z"), &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "max-children"));
  g_assert_null (none);
  g_clear_error (&error);
  g_assert_false (gen_supervisor_start_child (supervisor, spec, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  first = child_of (supervisor, "w-1");
  watch (first, &reason);
  cast (first, "crash");
  crashed = wait_stopped (&reason);
  g_assert_error (crashed, G_IO_ERROR, G_IO_ERROR_FAILED);
  supervisor_sync (supervisor);

  g_assert_true (gen_supervisor_terminate_child (supervisor, "w-2", &error));
  g_assert_no_error (error);
  ids = gen_supervisor_dup_child_ids (supervisor);
  g_assert_cmpstrv (ids, ((const gchar *[]) { "w-1", NULL }));

  seen = events_wait (5);
  g_assert_cmpstr (seen, ==, "start:x,start:y,stop:x,start:x,stop:y");
  supervisor_stop (supervisor);
}

/* supervisor_SUITE count_simple_one_for_one: specs is 1, the template,
 * before any child and after; active and workers count the children. */
static void
test_count_simple_one_for_one (void)
{
  g_autoptr(GenSupervisor) supervisor = simple_supervisor_start (NULL, 0);
  g_autoptr(GVariant) before = NULL;
  g_autoptr(GVariant) after = NULL;
  g_autoptr(GError) error = NULL;

  before = gen_supervisor_count_children (supervisor, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count_of (before, "specs"), ==, 1);
  g_assert_cmpuint (count_of (before, "active"), ==, 0);
  g_assert_cmpuint (count_of (before, "workers"), ==, 0);

  for (guint i = 0; i < 3; i++)
    g_free (gen_supervisor_start_child_with_args (supervisor, g_variant_new_string ("n"), &error));
  g_assert_no_error (error);
  after = gen_supervisor_count_children (supervisor, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count_of (after, "specs"), ==, 1);
  g_assert_cmpuint (count_of (after, "active"), ==, 3);
  g_assert_cmpuint (count_of (after, "workers"), ==, 3);
  g_assert_cmpuint (count_of (after, "supervisors"), ==, 0);
  supervisor_stop (supervisor);
}

/* supervisor_SUITE sofo_restart_child / sofo_delete_child: restart_child
 * and delete_child on simple_one_for_one are errors of their own (OTP's
 * {error, simple_one_for_one}); terminate_child by instance stops a child
 * and forgets it (simple_one_for_one's terminate_child with a pid). */
static void
test_simple_one_for_one_commands (void)
{
  g_autoptr(GenSupervisor) supervisor = simple_supervisor_start (NULL, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GenServer) child = NULL;
  g_autofree gchar *id = NULL;
  g_autofree gchar *seen = NULL;
  g_auto(GStrv) ids = NULL;

  events_clear ();
  id = gen_supervisor_start_child_with_args (supervisor, g_variant_new_string ("x"), &error);
  g_assert_no_error (error);
  child = child_of (supervisor, id);

  g_assert_false (gen_supervisor_restart_child (supervisor, id, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "simple_one_for_one"));
  g_clear_error (&error);
  g_assert_false (gen_supervisor_delete_child (supervisor, id, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "simple_one_for_one"));
  g_clear_error (&error);
  g_assert_true (gen_server_is_running (child));

  g_assert_true (gen_supervisor_terminate_child_server (supervisor, child, &error));
  g_assert_no_error (error);
  g_assert_false (gen_server_is_running (child));
  ids = gen_supervisor_dup_child_ids (supervisor);
  g_assert_cmpstrv (ids, ((const gchar *[]) { NULL }));

  /* Not a child any more: not found. */
  g_assert_false (gen_supervisor_terminate_child_server (supervisor, child, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);

  seen = events_wait (2);
  g_assert_cmpstr (seen, ==, "start:x,stop:x");
  supervisor_stop (supervisor);
}

/* supervisor_SUITE sup_start_fail / check_childspecs: a spec checker that
 * says why a spec is wrong before anything starts. */
static void
test_check_child_specs (void)
{
  g_autoptr(GenChildSpec) a = worker_spec ("a", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) b = worker_spec ("b", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) twin = worker_spec ("a", GEN_CHILD_RESTART_TEMPORARY);
  g_autoptr(GenChildSpec) unknown = worker_spec ("u", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) mistyped = worker_spec ("m", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) significant = worker_spec ("s", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GError) error = NULL;

  events_clear ();
  g_assert_true (gen_supervisor_check_child_specs ((GenChildSpec *[]) { a, b }, 2, &error));
  g_assert_no_error (error);
  g_assert_true (gen_supervisor_check_child_specs (NULL, 0, &error));

  g_assert_false (gen_supervisor_check_child_specs ((GenChildSpec *[]) { a, b, twin }, 3, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NAME_TAKEN);
  g_assert_nonnull (strstr (error->message, "“a”"));
  g_clear_error (&error);

  gen_child_spec_add_property (unknown, "no-such-property", g_variant_new_int32 (1));
  g_assert_false (gen_supervisor_check_child_specs (&unknown, 1, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "no-such-property"));
  g_clear_error (&error);

  gen_child_spec_add_property (mistyped, "label", g_variant_new ("(ii)", 1, 2));
  g_assert_false (gen_supervisor_check_child_specs (&mistyped, 1, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "label"));
  g_clear_error (&error);

  gen_child_spec_set_significant (significant, TRUE);
  g_assert_false (gen_supervisor_check_child_specs (&significant, 1, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "significant"));

  /* Nothing started. */
  g_mutex_lock (&events_lock);
  g_assert_cmpuint (events->len, ==, 0);
  g_mutex_unlock (&events_lock);
}

/* Extra arguments are appended to the template's: tuples are joined. */
static void
test_simple_one_for_one_args (void)
{
  g_autoptr(GenSupervisor) tuples = simple_supervisor_start (g_variant_new ("(s)", "db"), 0);
  g_autoptr(GenSupervisor) plain = simple_supervisor_start (g_variant_new_string ("db"), 0);
  g_autoptr(GenSupervisor) wrong = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE, 1, 5000);
  g_autoptr(GenSupervisor) classic = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 1, 5000);
  g_autoptr(GenChildSpec) a = worker_spec ("a", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) b = worker_spec ("b", GEN_CHILD_RESTART_PERMANENT);
  GenChildSpec *both[] = { a, b };
  g_autoptr(GError) error = NULL;
  g_autofree gchar *joined = NULL;
  g_autofree gchar *as_is = NULL;
  g_autofree gchar *refused = NULL;
  g_autofree gchar *seen = NULL;

  events_clear ();
  joined = gen_supervisor_start_child_with_args (tuples, g_variant_new ("(s)", "42"), &error);
  g_assert_no_error (error);
  as_is = gen_supervisor_start_child_with_args (plain, NULL, &error);
  g_assert_no_error (error);
  seen = events_wait (2);
  g_assert_cmpstr (seen, ==, "start:db+42,start:db");

  refused = gen_supervisor_start_child_with_args (plain, g_variant_new_string ("42"), &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "both must be tuples"));
  g_clear_error (&error);

  g_assert_false (gen_server_start (GEN_SERVER (wrong), gen_supervisor_build_args (both, 2), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "exactly one child spec"));
  g_clear_error (&error);

  g_assert_true (gen_server_start (GEN_SERVER (classic), NULL, NULL));
  g_assert_null (gen_supervisor_start_child_with_args (classic, NULL, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);

  supervisor_stop (tuples);
  supervisor_stop (plain);
  supervisor_stop (classic);
}

static GenSupervisor *
auto_shutdown_start (GenSupervisorAutoShutdown  auto_shutdown,
                     GenChildSpec             **children,
                     guint                      n_children)
{
  GenSupervisor *supervisor = g_object_new (GEN_TYPE_SUPERVISOR,
                                            "intensity", 3,
                                            "auto-shutdown", auto_shutdown,
                                            NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_server_start (GEN_SERVER (supervisor),
                                   gen_supervisor_build_args (children, n_children), &error));
  g_assert_no_error (error);
  return supervisor;
}

static GenChildSpec *
significant_spec (const gchar     *tag,
                  GenChildRestart  restart)
{
  GenChildSpec *spec = worker_spec (tag, restart);

  gen_child_spec_set_significant (spec, TRUE);
  return spec;
}

/* auto_shutdown: any_significant stops at the first significant end, all
 * at the last; a crash that is restarted and terminate_child do not
 * count. */
static void
test_auto_shutdown (void)
{
  g_autoptr(GenChildSpec) plain = worker_spec ("plain", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) s1 = significant_spec ("s1", GEN_CHILD_RESTART_TRANSIENT);
  g_autoptr(GenChildSpec) s2 = significant_spec ("s2", GEN_CHILD_RESTART_TEMPORARY);
  GenChildSpec *children[] = { plain, s1, s2 };
  g_autoptr(GenSupervisor) any = NULL;
  g_autoptr(GenSupervisor) all = NULL;
  g_autoptr(GenServer) child = NULL;
  GError *slot = NULL;
  g_autoptr(GError) reason = NULL;

  /* any_significant: terminate_child and a restarted crash do not count;
   * a normal end does. */
  any = auto_shutdown_start (GEN_SUPERVISOR_AUTO_SHUTDOWN_ANY_SIGNIFICANT, children, 3);
  g_assert_true (gen_supervisor_terminate_child (any, "s2", NULL));
  supervisor_sync (any);
  g_assert_true (gen_server_is_running (GEN_SERVER (any)));
  child = child_of (any, "s1");
  watch (child, &slot);
  cast (child, "crash");
  reason = wait_stopped (&slot);  /* by then the supervisor has the notice */
  g_clear_error (&reason);
  supervisor_sync (any);
  g_assert_true (gen_server_is_running (GEN_SERVER (any)));
  g_clear_object (&child);
  child = child_of (any, "s1");
  watch (GEN_SERVER (any), &slot);
  cast (child, "stop");
  reason = wait_stopped (&slot);
  g_assert_error (reason, G_IO_ERROR, G_IO_ERROR_NONE); /* a normal stop */
  g_clear_error (&reason);
  g_clear_object (&child);

  /* all_significant: only the last significant end counts. */
  all = auto_shutdown_start (GEN_SUPERVISOR_AUTO_SHUTDOWN_ALL_SIGNIFICANT, children, 3);
  child = child_of (all, "s2");
  watch (child, &slot);
  cast (child, "stop");
  reason = wait_stopped (&slot);
  g_clear_error (&reason);
  supervisor_sync (all);
  g_assert_true (gen_server_is_running (GEN_SERVER (all)));
  g_clear_object (&child);
  child = child_of (all, "s1");
  watch (GEN_SERVER (all), &slot);
  cast (child, "stop");
  reason = wait_stopped (&slot);
  g_assert_error (reason, G_IO_ERROR, G_IO_ERROR_NONE);
}

/* Significant children must be transient or temporary, and need an
 * auto-shutdown. */
static void
test_significant_validation (void)
{
  g_autoptr(GenChildSpec) permanent = significant_spec ("p", GEN_CHILD_RESTART_PERMANENT);
  g_autoptr(GenChildSpec) transient = significant_spec ("t", GEN_CHILD_RESTART_TRANSIENT);
  g_autoptr(GenSupervisor) never = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 1, 5000);
  g_autoptr(GenSupervisor) any = g_object_new (GEN_TYPE_SUPERVISOR,
                                               "auto-shutdown", GEN_SUPERVISOR_AUTO_SHUTDOWN_ANY_SIGNIFICANT,
                                               NULL);
  g_autoptr(GenChildSpec) copy = NULL;
  g_autoptr(GError) error = NULL;

  copy = gen_child_spec_new_from_variant (gen_child_spec_to_variant (transient), &error);
  g_assert_no_error (error);
  g_assert_true (gen_child_spec_get_significant (copy));

  g_assert_true (gen_server_start (GEN_SERVER (never), NULL, NULL));
  g_assert_false (gen_supervisor_start_child (never, transient, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "auto-shutdown is “never”"));
  g_clear_error (&error);

  g_assert_true (gen_server_start (GEN_SERVER (any), NULL, NULL));
  g_assert_false (gen_supervisor_start_child (any, permanent, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE);
  g_assert_nonnull (strstr (error->message, "never permanent"));
  g_clear_error (&error);
  g_assert_true (gen_supervisor_start_child (any, transient, &error));
  g_assert_no_error (error);

  supervisor_stop (never);
  supervisor_stop (any);
}

/* A supervisor traps exits, as Erlang's does: a linked server that stops
 * normally changes nothing; one that crashes stops the supervisor with its
 * reason, and the supervisor shuts its children down in reverse order
 * (their terminate runs), as Erlang's does when its parent exits (no case
 * of supervisor_SUITE: supervisor.erl's own handling of the parent's
 * 'EXIT'). */
static void
test_linked_exit (void)
{
  g_autoptr(GenSupervisor) supervisor = NULL;
  g_autoptr(TestWorker) outsider = g_object_new (test_worker_get_type (), NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) reason = NULL;
  g_autofree gchar *stopped = NULL;

  supervisor = supervisor_start (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 1,
                                 (const gchar *[]) { "a", "b", NULL });
  g_assert_true (gen_server_get_trap_exit (GEN_SERVER (supervisor)));

  g_assert_true (gen_server_start (GEN_SERVER (outsider), g_variant_new_string ("outsider"), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (gen_server_link (GEN_SERVER (supervisor), GEN_SERVER (outsider), &error), !=, 0);
  g_assert_no_error (error);
  gen_server_stop (GEN_SERVER (outsider), -1, &error);
  g_assert_no_error (error);
  supervisor_sync (supervisor);
  g_assert_true (gen_server_is_running (GEN_SERVER (supervisor)));

  g_assert_true (gen_server_start (GEN_SERVER (outsider), g_variant_new_string ("outsider"), &error));
  g_assert_no_error (error);
  g_assert_cmpuint (gen_server_link (GEN_SERVER (supervisor), GEN_SERVER (outsider), &error), !=, 0);
  events_clear ();
  watch (GEN_SERVER (supervisor), &reason);
  cast (GEN_SERVER (outsider), "crash");
  reason = wait_stopped (&reason);
  g_assert_error (reason, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpstr (reason->message, ==, "outsider crashed on purpose");
  stopped = events_wait (3);
  g_assert_cmpstr (stopped, ==, "stop:outsider,stop:b,stop:a");
}

/* A child killed by an exit signal through a link (no terminate: no
 * "stop:" event) is restarted as after a crash, with the signal's reason:
 * the supervisor hears of a run's end, not of terminate. */
static void
test_child_killed_by_link (void)
{
  g_autoptr(GenSupervisor) supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 10, 60000);
  g_autoptr(GenChildSpec) spec = worker_spec ("worker", GEN_CHILD_RESTART_TRANSIENT);
  g_autoptr(TestWorker) outsider = g_object_new (test_worker_get_type (), NULL);
  g_autoptr(GenServer) child = NULL;
  g_autoptr(GenServer) restarted = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) reason = NULL;
  g_autofree gchar *happened = NULL;

  g_assert_true (gen_server_start (GEN_SERVER (supervisor), NULL, NULL));
  g_assert_true (gen_supervisor_start_child (supervisor, spec, &error));
  g_assert_no_error (error);
  g_assert_true (gen_server_start (GEN_SERVER (outsider), g_variant_new_string ("outsider"), &error));
  g_assert_no_error (error);
  child = child_of (supervisor, "worker");
  g_assert_cmpuint (gen_server_link (child, GEN_SERVER (outsider), &error), !=, 0);

  events_clear ();
  watch (child, &reason);
  cast (GEN_SERVER (outsider), "crash");
  reason = wait_stopped (&reason);
  g_assert_error (reason, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpstr (reason->message, ==, "outsider crashed on purpose");
  happened = events_wait (2);
  g_assert_cmpstr (happened, ==, "stop:outsider,start:worker");
  supervisor_sync (supervisor);
  restarted = child_of (supervisor, "worker");
  g_assert_true (restarted != child);
  supervisor_stop (supervisor);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_log_set_handler ("Gen", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE, log_handler, NULL);

  events = g_ptr_array_new_with_free_func (g_free);
  warnings = g_ptr_array_new_with_free_func (g_free);

  g_test_add_func ("/supervisor/order", test_order);
  g_test_add_func ("/supervisor/one-for-one", test_one_for_one);
  g_test_add_func ("/supervisor/one-for-all", test_one_for_all);
  g_test_add_func ("/supervisor/rest-for-one", test_rest_for_one);
  g_test_add_func ("/supervisor/restart-types", test_restart_types);
  g_test_add_func ("/supervisor/intensity", test_intensity);
  g_test_add_func ("/supervisor/intensity-period", test_intensity_period);
  g_test_add_func ("/supervisor/nested", test_nested);
  g_test_add_func ("/supervisor/dynamic", test_dynamic);
  g_test_add_func ("/supervisor/init-failure", test_init_failure);
  g_test_add_func ("/supervisor/restart-init-failure", test_restart_init_failure);
  g_test_add_func ("/supervisor/registry-rebind", test_registry_rebind);
  g_test_add_func ("/supervisor/child-properties", test_child_properties);
  g_test_add_func ("/supervisor/shutdown-timeout", test_shutdown_timeout);
  g_test_add_func ("/supervisor/stop-while-child-crashes", test_stop_while_child_crashes);
  g_test_add_func ("/supervisor/child-commands", test_child_commands);
  g_test_add_func ("/supervisor/count-children", test_count_children);
  g_test_add_func ("/supervisor/simple-one-for-one", test_simple_one_for_one);
  g_test_add_func ("/supervisor/simple-one-for-one-args", test_simple_one_for_one_args);
  g_test_add_func ("/supervisor/count-simple-one-for-one", test_count_simple_one_for_one);
  g_test_add_func ("/supervisor/simple-one-for-one-commands", test_simple_one_for_one_commands);
  g_test_add_func ("/supervisor/check-child-specs", test_check_child_specs);
  g_test_add_func ("/supervisor/auto-shutdown", test_auto_shutdown);
  g_test_add_func ("/supervisor/significant-validation", test_significant_validation);
  g_test_add_func ("/supervisor/linked-exit", test_linked_exit);
  g_test_add_func ("/supervisor/child-killed-by-link", test_child_killed_by_link);

  return g_test_run ();
}
