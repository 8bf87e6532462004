/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A test-only introspectable library (GI namespace GenTest, never installed)
 * that lets the binding suites cross languages: a server written in C for
 * Python and JavaScript clients, and a client in C, calling from its own
 * threads, for servers written in Python.
 */

#include "gen-test.h"

/**
 * GenTestCounter:
 *
 * A counter server written in C. Casts are `(si)`: `("add", n)` adds n,
 * `("crash", 0)` fails the handler (a crash). Calls are `(si)` and answer
 * `i`: `("get", 0)` the count, `("add", n)` the count after adding n,
 * `("sleep", ms)` the count after sleeping ms milliseconds, `("fail", 0)`
 * a %G_IO_ERROR_PERMISSION_DENIED error.
 */
struct _GenTestCounter
{
  GenServer parent_instance;

  gint count;   /* server thread only */

  GMutex lock;  /* protects the two fields below, read by tests */
  guint terminate_count;
  gchar *terminate_reason; /* owned; NULL for a normal stop */
};

G_DEFINE_FINAL_TYPE (GenTestCounter, gen_test_counter, GEN_TYPE_SERVER)

static void
gen_test_counter_init_server (GenServer  *server,
                              GVariant   *args,
                              GError    **error)
{
  GenTestCounter *self = GEN_TEST_COUNTER (server);

  self->count = 0;
  if (args != NULL && g_variant_is_of_type (args, G_VARIANT_TYPE_INT32))
    self->count = g_variant_get_int32 (args);
  else if (args != NULL)
    g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                 "GenTestCounter wants an i to start, got %s",
                 g_variant_get_type_string (args));
}

static void
gen_test_counter_handle_cast (GenServer  *server,
                              GVariant   *message,
                              GError    **error)
{
  GenTestCounter *self = GEN_TEST_COUNTER (server);
  const gchar *action;
  gint arg;

  g_variant_get (message, "(&si)", &action, &arg);
  if (g_str_equal (action, "add"))
    self->count += arg;
  else if (g_str_equal (action, "crash"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "crashed on purpose");
}

static GVariant *
gen_test_counter_handle_call (GenServer  *server,
                              GVariant   *message,
                              GError    **error)
{
  GenTestCounter *self = GEN_TEST_COUNTER (server);
  const gchar *action;
  gint arg;

  g_variant_get (message, "(&si)", &action, &arg);
  if (g_str_equal (action, "get"))
    return g_variant_new_int32 (self->count);
  if (g_str_equal (action, "add"))
    return g_variant_new_int32 (self->count += arg);
  if (g_str_equal (action, "sleep"))
    {
      g_usleep ((gulong) arg * 1000);
      return g_variant_new_int32 (self->count);
    }
  if (g_str_equal (action, "fail"))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "failed on purpose");
      return NULL;
    }

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "unknown action %s", action);
  return NULL;
}

static void
gen_test_counter_terminate (GenServer    *server,
                            const GError *reason)
{
  GenTestCounter *self = GEN_TEST_COUNTER (server);

  g_mutex_lock (&self->lock);
  self->terminate_count++;
  g_clear_pointer (&self->terminate_reason, g_free);
  if (reason != NULL)
    self->terminate_reason = g_strdup (reason->message);
  g_mutex_unlock (&self->lock);
}

static void
gen_test_counter_finalize (GObject *object)
{
  GenTestCounter *self = GEN_TEST_COUNTER (object);

  g_free (self->terminate_reason);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gen_test_counter_parent_class)->finalize (object);
}

static void
gen_test_counter_class_init (GenTestCounterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  object_class->finalize = gen_test_counter_finalize;
  server_class->init = gen_test_counter_init_server;
  server_class->handle_cast = gen_test_counter_handle_cast;
  server_class->handle_call = gen_test_counter_handle_call;
  server_class->terminate = gen_test_counter_terminate;
  gen_server_class_set_cast_type (server_class, "(si)");
  gen_server_class_set_call_type (server_class, "(si)");
}

static void
gen_test_counter_init (GenTestCounter *self)
{
  g_mutex_init (&self->lock);
}

/**
 * gen_test_counter_new:
 *
 * Returns: (transfer full): a new, stopped counter
 */
GenTestCounter *
gen_test_counter_new (void)
{
  return g_object_new (GEN_TEST_TYPE_COUNTER, NULL);
}

/**
 * gen_test_counter_get_terminate_count:
 * @self: a counter
 *
 * Returns: how many times `terminate` ran
 */
guint
gen_test_counter_get_terminate_count (GenTestCounter *self)
{
  guint count;

  g_mutex_lock (&self->lock);
  count = self->terminate_count;
  g_mutex_unlock (&self->lock);
  return count;
}

/**
 * gen_test_counter_dup_terminate_reason:
 * @self: a counter
 *
 * Returns: (transfer full) (nullable): the message of the last terminate
 *   reason, or %NULL if the last stop was normal
 */
gchar *
gen_test_counter_dup_terminate_reason (GenTestCounter *self)
{
  gchar *reason;

  g_mutex_lock (&self->lock);
  reason = g_strdup (self->terminate_reason);
  g_mutex_unlock (&self->lock);
  return reason;
}

/* A C client ------------------------------------------------------------- */

typedef struct
{
  GenServer *server;  /* unowned: the caller of call_from_threads holds it */
  GVariant *message;  /* unowned, likewise */
  guint n_calls;
  gint timeout_ms;

  /* Written by the worker thread only; read after it was joined. */
  GPtrArray *replies; /* owned, of GVariant */
  GError *error;      /* owned */
} Worker;

static gpointer
worker_main (gpointer data)
{
  Worker *worker = data;

  for (guint i = 0; i < worker->n_calls && worker->error == NULL; i++)
    {
      GVariant *reply = gen_server_call (worker->server, worker->message,
                                         worker->timeout_ms, &worker->error);

      if (reply != NULL)
        g_ptr_array_add (worker->replies, g_variant_ref_sink (g_variant_new_variant (reply)));
      g_clear_pointer (&reply, g_variant_unref);
    }
  return NULL;
}

/**
 * gen_test_call_from_threads:
 * @server: any server, whatever language it is written in
 * @message: the request, sent @n_calls times by each thread
 * @n_threads: how many C threads call at once
 * @n_calls: how many calls each thread makes, one after the other
 * @timeout_ms: the timeout of each call
 * @error: the first error any thread got
 *
 * Calls @server from @n_threads new C threads and waits for them all.
 *
 * Returns: (transfer full): the replies, an `av`, thread by thread in
 *   order, or %NULL if any call failed
 */
GVariant *
gen_test_call_from_threads (GenServer  *server,
                            GVariant   *message,
                            guint       n_threads,
                            guint       n_calls,
                            gint        timeout_ms,
                            GError    **error)
{
  g_autoptr(GVariant) owned_message = g_variant_ref_sink (message);
  g_autofree Worker *workers = g_new0 (Worker, n_threads);
  g_autofree GThread **threads = g_new0 (GThread *, n_threads);
  GVariantBuilder builder;
  GError *first_error = NULL;

  for (guint i = 0; i < n_threads; i++)
    {
      workers[i].server = server;
      workers[i].message = owned_message;
      workers[i].n_calls = n_calls;
      workers[i].timeout_ms = timeout_ms;
      workers[i].replies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
      threads[i] = g_thread_new ("gen-test-client", worker_main, &workers[i]);
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < n_threads; i++)
    {
      g_thread_join (threads[i]);
      for (guint j = 0; j < workers[i].replies->len; j++)
        g_variant_builder_add_value (&builder, workers[i].replies->pdata[j]);
      g_ptr_array_unref (workers[i].replies);
      if (workers[i].error != NULL && first_error == NULL)
        first_error = g_steal_pointer (&workers[i].error);
      g_clear_error (&workers[i].error);
    }

  if (first_error != NULL)
    {
      g_variant_builder_clear (&builder);
      g_propagate_error (error, first_error);
      return NULL;
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

typedef struct
{
  GenServer *server;  /* owned */
  GVariant *message;  /* owned */
  guint n_threads;
  guint n_calls;
  gint timeout_ms;
} CallsData;

static void
calls_data_free (CallsData *data)
{
  g_object_unref (data->server);
  g_variant_unref (data->message);
  g_free (data);
}

static void
calls_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  CallsData *data = task_data;
  GError *error = NULL;
  GVariant *replies;

  replies = gen_test_call_from_threads (data->server, data->message, data->n_threads,
                                        data->n_calls, data->timeout_ms, &error);
  if (replies == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, replies, (GDestroyNotify) g_variant_unref);
}

/**
 * gen_test_call_from_threads_async:
 * @server: any server
 * @message: the request
 * @n_threads: how many C threads call at once
 * @n_calls: how many calls each thread makes
 * @timeout_ms: the timeout of each call
 * @cancellable: (nullable): not used for the calls themselves
 * @callback: (scope async): called when every thread is done
 * @user_data: data for @callback
 *
 * [func@GenTest.call_from_threads] without blocking the calling thread, so
 * that it can go on running the main context of a server (a JavaScript one)
 * while C threads call it.
 */
void
gen_test_call_from_threads_async (GenServer           *server,
                                  GVariant            *message,
                                  guint                n_threads,
                                  guint                n_calls,
                                  gint                 timeout_ms,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  CallsData *data = g_new0 (CallsData, 1);

  data->server = g_object_ref (server);
  data->message = g_variant_ref_sink (message);
  data->n_threads = n_threads;
  data->n_calls = n_calls;
  data->timeout_ms = timeout_ms;
  g_task_set_task_data (task, data, (GDestroyNotify) calls_data_free);
  g_task_run_in_thread (task, calls_thread);
}

/**
 * gen_test_call_from_threads_finish:
 * @result: the result
 * @error: the first error any thread got
 *
 * Returns: (transfer full): the replies, an `av`
 */
GVariant *
gen_test_call_from_threads_finish (GAsyncResult  *result,
                                   GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct
{
  GenServer *server;
  GVariant *message;
  guint n_casts;
  GError *error;
} CastWorker;

static gpointer
cast_worker_main (gpointer data)
{
  CastWorker *worker = data;

  for (guint i = 0; i < worker->n_casts && worker->error == NULL; i++)
    gen_server_cast (worker->server, worker->message, &worker->error);
  return NULL;
}

/**
 * gen_test_cast_from_thread:
 * @server: any server
 * @message: the message, cast @n_casts times
 * @n_casts: how many casts
 * @error: the first error
 *
 * Casts @message to @server @n_casts times from a new C thread and waits
 * for that thread (not for the server to handle them).
 *
 * Returns: whether every cast was queued
 */
gboolean
gen_test_cast_from_thread (GenServer  *server,
                           GVariant   *message,
                           guint       n_casts,
                           GError    **error)
{
  g_autoptr(GVariant) owned_message = g_variant_ref_sink (message);
  CastWorker worker = { server, owned_message, n_casts, NULL };

  g_thread_join (g_thread_new ("gen-test-caster", cast_worker_main, &worker));
  if (worker.error != NULL)
    {
      g_propagate_error (error, worker.error);
      return FALSE;
    }
  return TRUE;
}
