/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib/gstdio.h>
#include <genserver/genserver.h>

/* How long a test waits for something that should happen at once. Generous:
 * valgrind and sanitizers slow everything down; a pass never waits this long. */
#define TEST_DEADLINE_US (30 * G_USEC_PER_SEC)
#define TEST_CALL_TIMEOUT_MS 30000

typedef gboolean (*TestPredicate) (gpointer data);

/* Starts @server with @args (floating is fine), failing the test if it
 * does not start. Returns @server. */
static inline gpointer
test_start_ok (gpointer  server,
               GVariant *args)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_server_start (GEN_SERVER (server), args, &error));
  g_assert_no_error (error);
  return server;
}

/* Stops @server, waiting as long as it takes, failing the test if it
 * does not stop. */
static inline void
test_stop_ok (gpointer server)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_server_stop (GEN_SERVER (server), -1, &error));
  g_assert_no_error (error);
}

/* What a test server shares with its test: a lock, a condition broadcast on
 * every change the test may wait for, and a gate at which handlers wait
 * until the test opens it (to hold a server busy while messages queue up).
 * Fields a server adds for the test are protected by `lock` too. */
typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean open;  /* lock */
  guint blocked;  /* lock: handlers waiting at the gate */
} TestGate;

static inline void
test_gate_init (TestGate *gate)
{
  g_mutex_init (&gate->lock);
  g_cond_init (&gate->cond);
}

static inline void
test_gate_clear (TestGate *gate)
{
  g_mutex_clear (&gate->lock);
  g_cond_clear (&gate->cond);
}

/* Handler side: waits at the gate until the test opens it. */
static inline void
test_gate_pass (TestGate *gate)
{
  g_mutex_lock (&gate->lock);
  gate->blocked++;
  g_cond_broadcast (&gate->cond);
  while (!gate->open)
    g_cond_wait (&gate->cond, &gate->lock);
  gate->blocked--;
  g_mutex_unlock (&gate->lock);
}

static inline void
test_gate_open (TestGate *gate)
{
  g_mutex_lock (&gate->lock);
  gate->open = TRUE;
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->lock);
}

/* Waits, with a deadline, until @field (protected by the gate's lock)
 * reaches at least @value. */
static inline void
test_gate_wait_for (TestGate *gate,
                    guint    *field,
                    guint     value)
{
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;

  g_mutex_lock (&gate->lock);
  while (*field < value)
    if (!g_cond_wait_until (&gate->cond, &gate->lock, deadline))
      break;
  g_assert_cmpuint (*field, >=, value);
  g_mutex_unlock (&gate->lock);
}

static inline guint
test_gate_get (TestGate *gate,
               guint    *field)
{
  guint value;

  g_mutex_lock (&gate->lock);
  value = *field;
  g_mutex_unlock (&gate->lock);
  return value;
}

/* Polls @predicate until it holds, failing the test at the deadline. For
 * conditions nothing signals, such as a mailbox filling up. */
static inline void
test_wait_until (TestPredicate predicate,
                 gpointer      data)
{
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;

  while (!predicate (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("condition not met within %d s", (int) (TEST_DEADLINE_US / G_USEC_PER_SEC));
      g_thread_yield ();
    }
}

static inline gboolean
test_wake_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates @context (NULL: the global default) until @predicate holds or
 * the monotonic clock passes @deadline; whether it holds. A periodic
 * source wakes the loop, for conditions that another thread or process
 * changes, and so that the deadline is looked at even when nothing else
 * comes. */
static inline gboolean
test_iterate_context_until_time (GMainContext  *context,
                                 TestPredicate  predicate,
                                 gpointer       data,
                                 gint64         deadline)
{
  GSource *wake = g_timeout_source_new (10);
  gboolean holds;

  g_source_set_callback (wake, test_wake_cb, NULL, NULL);
  g_source_attach (wake, context);
  while (!(holds = predicate (data)) && g_get_monotonic_time () <= deadline)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (wake);
  g_source_unref (wake);
  return holds;
}

/* Iterates @context until @predicate holds, failing the test at the
 * deadline. */
static inline void
test_iterate_context_until (GMainContext  *context,
                            TestPredicate  predicate,
                            gpointer       data)
{
  if (!test_iterate_context_until_time (context, predicate, data,
                                        g_get_monotonic_time () + TEST_DEADLINE_US))
    g_error ("condition not met within %d s", (int) (TEST_DEADLINE_US / G_USEC_PER_SEC));
}

/* test_iterate_context_until() on the thread-default context. */
static inline void
test_iterate_until (TestPredicate predicate,
                    gpointer      data)
{
  GMainContext *context = g_main_context_ref_thread_default ();

  test_iterate_context_until (context, predicate, data);
  g_main_context_unref (context);
}

static inline void
test_noop_in_thread (GTask        *task,
                     gpointer      source_object,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  g_task_return_boolean (task, TRUE);
}

static inline void
test_noop_done_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  *(gint64 *) data = g_get_monotonic_time ();
}

static inline gboolean
test_time_is_set (gpointer data)
{
  return *(gint64 *) data != 0;
}

/* Runs a GTask that does nothing in GIO's shared task pool and iterates
 * the thread-default context until it is done: it runs once a thread of
 * the pool is free, or the pool grew one. Returns how long that took, in
 * microseconds. */
static inline gint64
test_run_noop_task (void)
{
  gint64 started = g_get_monotonic_time (), done = 0;
  g_autoptr(GTask) task = g_task_new (NULL, NULL, test_noop_done_cb, &done);

  g_task_run_in_thread (task, test_noop_in_thread);
  test_iterate_until (test_time_is_set, &done);
  return done - started;
}

/* The threads of this process whose name (as /proc shows it, cut at 15
 * bytes) starts with @prefix: all of them for "". */
static inline guint
test_count_threads (const gchar *prefix)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const gchar *task;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((task = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *path = g_build_filename ("/proc/self/task", task, "comm", NULL);
      g_autofree gchar *name = NULL;

      /* A thread that just ended has no comm any more. */
      if (g_file_get_contents (path, &name, NULL, NULL) && g_str_has_prefix (name, prefix))
        n++;
    }
  return n;
}

/* A predicate for test_wait_until() and test_iterate_until(): whether
 * exactly GPOINTER_TO_UINT (@want) handshake threads of the listeners and
 * nodes of this process (named "gen-handshake") are alive. */
static inline gboolean
test_handshake_threads_are (gpointer want)
{
  return test_count_threads ("gen-handshake") == GPOINTER_TO_UINT (want);
}

/* A unix socket's place, in a temporary directory of its own: declare it
 * g_auto(TestSocketDir), and the socket file (if any) and the directory
 * go with it. */
typedef struct
{
  gchar *dir;      /* owned */
  gchar *path;     /* owned: the socket file, in `dir` */
  gchar *address;  /* owned: the D-Bus address of `path` */
} TestSocketDir;

static inline TestSocketDir
test_socket_dir_make (const gchar *name)
{
  g_autoptr(GError) error = NULL;
  TestSocketDir socket_dir;

  socket_dir.dir = g_dir_make_tmp ("genserver-test-XXXXXX", &error);
  g_assert_no_error (error);
  socket_dir.path = g_build_filename (socket_dir.dir, name, NULL);
  socket_dir.address = g_strconcat ("unix:path=", socket_dir.path, NULL);
  return socket_dir;
}

static inline void
test_socket_dir_clear (TestSocketDir *socket_dir)
{
  g_unlink (socket_dir->path);
  g_rmdir (socket_dir->dir);
  g_free (socket_dir->address);
  g_free (socket_dir->path);
  g_free (socket_dir->dir);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TestSocketDir, test_socket_dir_clear)

/* A thread running a main loop on a context of its own: where servers on
 * a main context run their handlers while the test thread waits. */
typedef struct
{
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
} TestLoopThread;

static inline gpointer
test_loop_thread_run (gpointer data)
{
  TestLoopThread *loop_thread = data;

  g_main_context_push_thread_default (loop_thread->context);
  g_main_loop_run (loop_thread->loop);
  g_main_context_pop_thread_default (loop_thread->context);
  return NULL;
}

static inline gboolean
test_loop_thread_quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static inline void
test_loop_thread_start (TestLoopThread *loop_thread)
{
  loop_thread->context = g_main_context_new ();
  loop_thread->loop = g_main_loop_new (loop_thread->context, FALSE);
  loop_thread->thread = g_thread_new ("loop", test_loop_thread_run, loop_thread);
  test_wait_until ((TestPredicate) g_main_loop_is_running, loop_thread->loop);
}

static inline void
test_loop_thread_stop (TestLoopThread *loop_thread)
{
  GSource *quit = g_idle_source_new ();

  g_source_set_callback (quit, test_loop_thread_quit, loop_thread->loop, NULL);
  g_source_attach (quit, loop_thread->context);
  g_source_unref (quit);
  g_thread_join (loop_thread->thread);
  g_main_loop_unref (loop_thread->loop);
  g_main_context_unref (loop_thread->context);
}

/* A request in the (sx) shape the test servers speak: a command and an
 * argument. A function rather than g_variant_new() at each call site, so
 * that the argument is always passed as the gint64 that "x" reads. */
static inline GVariant *
test_message (const gchar *command,
              gint64       arg)
{
  return g_variant_new ("(sx)", command, arg);
}

/* A call made from a thread of its own, for tests that need a caller
 * blocked while they act: the request is ("command", 0), the (sx) shape
 * the test servers speak. */
typedef struct
{
  gpointer server;       /* a GenServer */
  const gchar *command;
  gint timeout_ms;
  GVariant *reply;       /* owned, the result */
  GError *error;         /* owned, the result */
} TestCall;

static inline gpointer
test_call_in_thread (gpointer data)
{
  TestCall *call = data;

  call->reply = gen_server_call (GEN_SERVER (call->server),
                                 test_message (call->command, 0),
                                 call->timeout_ms, &call->error);
  return NULL;
}

typedef struct
{
  GenServer *server;
  guint length;
} TestMailbox;

static inline gboolean
test_mailbox_has (TestMailbox *mailbox)
{
  return gen_server_get_mailbox_length (mailbox->server) >= mailbox->length;
}

static inline gboolean
test_not_running (gpointer server)
{
  return !gen_server_is_running (GEN_SERVER (server));
}
