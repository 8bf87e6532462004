/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-core-private.h"
#include "gen-request.h"

/**
 * GenRequest:
 *
 * A call sent without waiting for its reply: Erlang's request ids
 * (`gen_server:send_request/2`).
 *
 * [method@Gen.Server.send_request] queues the call at once, in order with
 * the other messages of the calling thread, and returns a request. The
 * reply is collected later with [method@Gen.Request.wait] (Erlang's
 * `wait_response`: a timeout leaves the request pending),
 * [method@Gen.Request.receive] (`receive_response`: a timeout abandons
 * it, and a late reply is dropped) or, without blocking,
 * [method@Gen.Request.check] (`check_response`). Many calls are issued
 * and then awaited together, with one deadline, through a
 * [class@Gen.RequestSet].
 *
 * ```c
 * g_autoptr(GenRequestSet) set = gen_request_set_new ();
 * g_autoptr(GPtrArray) done = NULL;
 *
 * for (guint i = 0; i < n_workers; i++)
 *   g_object_unref (gen_request_set_send (set, workers[i], g_variant_new ("s", "report"), NULL));
 * done = gen_request_set_wait_all (set, 1000, &error);   // one deadline for all
 * ```
 *
 * No main loop is needed: a request has a [struct@GLib.MainContext] of its
 * own (shared by the requests of a set) on which the reply arrives, and
 * waiting iterates it. So a plain C thread can use requests, and so can a
 * server's handler. A program that runs a main loop waits without
 * blocking it with [method@Gen.Request.wait_async]. A request and its set
 * are used from one thread at a time. Dropping a request that is still
 * pending abandons it: a call still queued is never run.
 *
 * Since: 1.0
 */
/* What the thread that makes a request's call final tells an async wait
 * (gen_request_wait_async()), which does not iterate the request's context
 * until then. An atomic box shared by the request and its call: the call's
 * landing function may run after the request is gone. */
typedef struct
{
  GMutex lock;
  gboolean landed;  /* lock: the reply's delivery is on the request's context */
  GTask *waiter;    /* lock, owned: the async wait under way, if any */
} Landing;

struct _GenRequest
{
  GObject parent_instance;

  /* Immutable. */
  GenServer *server;          /* owned */
  GMainContext *context;      /* owned: where the reply is delivered */
  GCancellable *cancellable;  /* owned: abandons the call */
  gchar *label;               /* owned, nullable */

  /* Written by the reply's delivery, which runs inside an iteration of
   * `context` by the thread that waits, and read by that thread: one
   * thread at a time uses a request. */
  gboolean done;
  GVariant *reply;            /* owned */
  GError *error;              /* owned */
  GenRequestSet *set;         /* unowned: the set holds the request */
  guint64 completion;         /* order of completion within the set */
  /* Its set's, under the same rule: given by a wait of the set that kept
   * it in (Erlang's Delete = false), or abandoned by a receive of the set
   * that timed out. Either way the set does not give it again. */
  gboolean taken;
  gboolean abandoned;

  /* Owned, immutable: what the call's answerer tells an async wait. */
  Landing *landing;
};

G_DEFINE_FINAL_TYPE (GenRequest, gen_request, G_TYPE_OBJECT)

/**
 * GenRequestSet:
 *
 * Requests ([class@Gen.Request]) to wait for together: Erlang's request id
 * collections (`gen_server:reqids_new/0` and the functions that take a
 * collection). Send through the set with [method@Gen.RequestSet.send],
 * then take the replies as they come, each with one deadline for the
 * whole set:
 *
 * - [method@Gen.RequestSet.wait] (`wait_response/3`): a timeout leaves
 *   every request pending;
 * - [method@Gen.RequestSet.receive] (`receive_response/3`): a timeout
 *   abandons every request still unanswered;
 * - [method@Gen.RequestSet.check] (`check_response/3`): without blocking;
 * - [method@Gen.RequestSet.wait_all]: all of them at once.
 *
 * The first three take the answered request out of the set, or, with
 * `delete_request` %FALSE (Erlang's `Delete = false`), leave it in and only
 * mark it given, so that the set is not rebuilt for each reply: a set
 * never gives the same request twice. Used from one thread at a time.
 *
 * ```c
 * g_autoptr(GenRequestSet) set = gen_request_set_new ();
 *
 * for (guint i = 0; i < n_mirrors; i++)
 *   g_object_unref (gen_request_set_send (set, mirrors[i], g_variant_new_string ("fetch"), names[i]));
 * // The first mirror to answer wins; the others are abandoned after 500 ms.
 * g_autoptr(GenRequest) first = gen_request_set_receive (set, 500, TRUE, &error);
 * ```
 *
 * Since: 1.0
 */
struct _GenRequestSet
{
  GObject parent_instance;

  GMainContext *context;   /* owned, immutable: shared by its requests */
  /* One thread at a time, as the requests. */
  GPtrArray *requests;     /* GenRequest (owned), in the order sent */
  guint64 last_completion;
};

G_DEFINE_FINAL_TYPE (GenRequestSet, gen_request_set, G_TYPE_OBJECT)

/* Waiting ---------------------------------------------------------------- */

typedef gboolean (*Predicate) (gpointer data);

static gboolean
deadline_cb (gpointer data)
{
  gboolean *expired = data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates @context until @predicate holds or @timeout_ms passed
 * (negative: no deadline). Returns whether it holds. */
static gboolean
iterate_until (GMainContext *context,
               gint          timeout_ms,
               Predicate     predicate,
               gpointer      data)
{
  GSource *deadline = NULL;
  gboolean expired = FALSE;
  gboolean holds;

  /* Thread-default while it runs, as GTask expects of the context it
   * returns to. */
  g_main_context_push_thread_default (context);
  if (timeout_ms >= 0 && !predicate (data))
    {
      deadline = g_timeout_source_new (timeout_ms);
      g_source_set_callback (deadline, deadline_cb, &expired, NULL);
      g_source_set_static_name (deadline, "[genserver] request deadline");
      g_source_attach (deadline, context);
    }
  while (!(holds = predicate (data)) && !expired)
    g_main_context_iteration (context, TRUE);
  if (deadline != NULL)
    {
      g_source_destroy (deadline);
      g_source_unref (deadline);
    }
  g_main_context_pop_thread_default (context);

  return holds;
}

static gboolean
request_is_done (gpointer data)
{
  return GEN_REQUEST (data)->done;
}

/* Requests --------------------------------------------------------------- */

static void
request_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  /* Unowned: a request waits for this before it is freed. */
  GenRequest *self = user_data;

  self->reply = gen_server_call_finish (GEN_SERVER (source), result, &self->error);
  self->done = TRUE;
  if (self->set != NULL)
    self->completion = ++self->set->last_completion;
}

static void
landing_clear (gpointer data)
{
  Landing *landing = data;

  g_assert (landing->waiter == NULL);
  g_mutex_clear (&landing->lock);
}

static void
landing_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, landing_clear);
}

static void wait_wake (GTask *task);

/* On the thread that made the call final, once its reply's delivery is on
 * the request's context. */
static void
landing_landed (gpointer data)
{
  Landing *landing = data;

  g_mutex_lock (&landing->lock);
  landing->landed = TRUE;
  if (landing->waiter != NULL)
    wait_wake (landing->waiter);
  g_mutex_unlock (&landing->lock);
}

static GenRequest *
request_send (GenServer    *server,
              GVariant     *message,
              GMainContext *context,
              const gchar  *label)
{
  GenRequest *self = g_object_new (GEN_TYPE_REQUEST, NULL);

  self->server = g_object_ref (server);
  self->context = g_main_context_ref (context);
  self->cancellable = g_cancellable_new ();
  self->label = g_strdup (label);
  self->landing = g_atomic_rc_box_new0 (Landing);
  g_mutex_init (&self->landing->lock);

  /* Queued right here, so that the call keeps its place among this
   * thread's messages; only the reply goes to the request's context. */
  g_main_context_push_thread_default (context);
  gen_server_call_async_landing (server, message, -1, self->cancellable, request_done_cb, self,
                                 landing_landed, g_atomic_rc_box_acquire (self->landing),
                                 landing_release);
  g_main_context_pop_thread_default (context);

  return self;
}

static void
gen_request_finalize (GObject *object)
{
  GenRequest *self = GEN_REQUEST (object);

  if (!self->done)
    {
      /* Abandoned: a cancelled call is answered at once. */
      g_cancellable_cancel (self->cancellable);
      iterate_until (self->context, -1, request_is_done, self);
    }

  g_clear_pointer (&self->reply, g_variant_unref);
  g_clear_error (&self->error);
  g_object_unref (self->cancellable);
  g_main_context_unref (self->context);
  g_object_unref (self->server);
  g_free (self->label);
  /* No wait is under way: it would hold the request. */
  landing_release (self->landing);

  G_OBJECT_CLASS (gen_request_parent_class)->finalize (object);
}

static void
gen_request_class_init (GenRequestClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = gen_request_finalize;
}

static void
gen_request_init (GenRequest *self)
{
}

/**
 * gen_server_send_request:
 * @self: a #GenServer
 * @message: the request; a floating reference is sunk
 *
 * Sends a call to the server's `handle_call` without waiting for the
 * reply, as Erlang's `gen_server:send_request/2` does. The call is queued
 * now, in order with the other messages of this thread; collect the reply
 * with [method@Gen.Request.wait]. Errors (the server is not running, the
 * message has the wrong type, the handler's error) come from there too.
 *
 * Returns: (transfer full): the request
 *
 * Since: 1.0
 */
GenRequest *
gen_server_send_request (GenServer *self,
                         GVariant  *message)
{
  g_autoptr(GMainContext) context = NULL;

  g_return_val_if_fail (GEN_IS_SERVER (self), NULL);
  g_return_val_if_fail (message != NULL, NULL);

  context = g_main_context_new ();
  return request_send (self, message, context, NULL);
}

static GVariant *
request_result (GenRequest  *self,
                GError     **error)
{
  if (self->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return NULL;
    }
  return g_variant_ref (self->reply);
}

static void
set_timeout_error (GenRequest  *self,
                   gint         timeout_ms,
                   GError     **error)
{
  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
               "%s did not answer the request within %d ms",
               G_OBJECT_TYPE_NAME (self->server), timeout_ms);
}

/* A request abandoned after @timeout_ms and answered since (its call was
 * cancelled) reads TIMEOUT, unless its reply won the race against the
 * cancellation. */
static void
request_timed_out (GenRequest *self,
                   gint        timeout_ms)
{
  if (g_error_matches (self->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (&self->error);
      set_timeout_error (self, timeout_ms, &self->error);
    }
}

/**
 * gen_request_wait:
 * @self: a #GenRequest
 * @timeout_ms: how long to wait, in milliseconds, or a negative number to
 *   wait as long as it takes
 * @error: return location for an error
 *
 * Waits for the reply, as Erlang's `wait_response/2`: once it came, this
 * returns it (again at each call). If it does not come within @timeout_ms,
 * this fails with %GEN_SERVER_ERROR_TIMEOUT and the request stays pending:
 * wait again later. The call's own errors are those of
 * [method@Gen.Server.call].
 *
 * Returns: (transfer full): the reply
 *
 * Since: 1.0
 */
GVariant *
gen_request_wait (GenRequest  *self,
                  gint         timeout_ms,
                  GError     **error)
{
  g_return_val_if_fail (GEN_IS_REQUEST (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!iterate_until (self->context, timeout_ms, request_is_done, self))
    {
      set_timeout_error (self, timeout_ms, error);
      return NULL;
    }
  return request_result (self, error);
}

/* Async waits ------------------------------------------------------------ */

/* The task data of an async wait: its timeout, a source on the waiter's
 * context, where the wait is settled, and its handler of the cancellable
 * (which posts the cancellation there). The waiter's thread only, but for
 * the handler's run: it may run on any thread until it is disconnected.
 * (Not a GCancellableSource: in GLib 2.74 one cancelled from another thread
 * as it is destroyed may leak.) */
typedef struct
{
  gint timeout_ms;
  GSource *timeout_source;   /* owned, nullable */
  GCancellable *cancellable; /* owned, nullable */
  gulong cancelled_id;
} Wait;

static void
wait_clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* Once disconnected, the handler runs no more, nor is it running: the
 * task is not to be posted again. */
static void
wait_tear_down (Wait *wait)
{
  wait_clear_source (&wait->timeout_source);
  if (wait->cancelled_id != 0)
    g_cancellable_disconnect (wait->cancellable, wait->cancelled_id);
  wait->cancelled_id = 0;
  g_clear_object (&wait->cancellable);
}

static void
wait_free (gpointer data)
{
  wait_tear_down (data);
  g_free (data);
}

typedef enum
{
  WAIT_LANDED,
  WAIT_TIMED_OUT,
  WAIT_CANCELLED,
} WaitOutcome;

/* On the waiter's context: settles @task with @outcome, unless it is
 * settled already (a timeout and the reply, say, in the same iteration). */
static void
wait_settle (GTask       *task,
             WaitOutcome  outcome)
{
  GenRequest *self = g_task_get_source_object (task);
  Wait *wait = g_task_get_task_data (task);
  GError *error = NULL;
  GVariant *reply;

  g_mutex_lock (&self->landing->lock);
  if (self->landing->waiter != task)
    {
      g_mutex_unlock (&self->landing->lock);
      return;
    }
  self->landing->waiter = NULL;  /* its reference is ours now */
  g_mutex_unlock (&self->landing->lock);

  wait_tear_down (wait);

  switch (outcome)
    {
    case WAIT_LANDED:
      /* The delivery is attached: the first iteration runs it (or that of
       * another request of the same set, then the next). */
      iterate_until (self->context, -1, request_is_done, self);
      reply = request_result (self, &error);
      if (reply != NULL)
        g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
      else
        g_task_return_error (task, error);
      break;
    case WAIT_TIMED_OUT:
      set_timeout_error (self, wait->timeout_ms, &error);
      g_task_return_error (task, error);
      break;
    case WAIT_CANCELLED:
      g_task_return_error_if_cancelled (task);
      break;
    default:
      g_assert_not_reached ();
    }
  g_object_unref (task);
}

static gboolean
wait_landed_cb (gpointer data)
{
  wait_settle (data, WAIT_LANDED);
  return G_SOURCE_REMOVE;
}

static gboolean
wait_timeout_cb (gpointer data)
{
  wait_settle (data, WAIT_TIMED_OUT);
  return G_SOURCE_REMOVE;
}

static gboolean
wait_cancelled_cb (gpointer data)
{
  wait_settle (data, WAIT_CANCELLED);
  return G_SOURCE_REMOVE;
}

/* Any thread: settles @task on its context, through @func. */
static void
wait_post (GTask       *task,
           GSourceFunc  func,
           const gchar *name)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, g_task_get_priority (task));
  g_source_set_callback (source, func, g_object_ref (task), g_object_unref);
  g_source_set_static_name (source, name);
  g_source_attach (source, g_task_get_context (task));
  g_source_unref (source);
}

/* Under the landing's lock: the reply is on the request's context; the
 * waiter's context takes it from there. */
static void
wait_wake (GTask *task)
{
  wait_post (task, wait_landed_cb, "[genserver] request reply");
}

/* Any thread, the task's (unowned) until the handler is disconnected. */
static void
wait_cancelled (GCancellable *cancellable,
                gpointer      task)
{
  wait_post (task, wait_cancelled_cb, "[genserver] request wait cancelled");
}

/**
 * gen_request_wait_async:
 * @self: a #GenRequest
 * @timeout_ms: how long to wait, in milliseconds, or a negative number to
 *   wait as long as it takes
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the reply is here, or the wait
 *   failed
 * @user_data: data for @callback
 *
 * Waits for the reply as [method@Gen.Request.wait] does (Erlang's
 * `wait_response/2`), without blocking: @callback runs on the
 * thread-default [struct@GLib.MainContext] of the calling thread, always
 * from a later iteration of it; get the outcome there with
 * [method@Gen.Request.wait_finish].
 *
 * The wait ends with the reply, or with the call's error, as
 * [method@Gen.Server.call]'s: the handler's error, or
 * %GEN_SERVER_ERROR_STOPPED if the server stopped (or was ended by a link)
 * before answering, %GEN_SERVER_ERROR_NOT_RUNNING if it was not running
 * when the request was sent. Once the reply came, every wait gives it
 * again at once. A request abandoned by a timed-out
 * [method@Gen.Request.receive] (or its set's) gives that
 * %GEN_SERVER_ERROR_TIMEOUT at once.
 *
 * If the reply does not come within @timeout_ms, the wait fails with
 * %GEN_SERVER_ERROR_TIMEOUT, and cancelling @cancellable fails it with
 * %G_IO_ERROR_CANCELLED; either way only the wait ends: the request stays
 * pending, as after a timed-out [method@Gen.Request.wait], to be waited
 * for again, or dropped, which abandons it. The wait holds a reference to
 * the request until it ends. One wait at a time: a second one while the
 * first is under way fails with %G_IO_ERROR_PENDING.
 *
 * ```c
 * static void
 * reply_cb (GObject *source, GAsyncResult *result, gpointer user_data)
 * {
 *   g_autoptr(GError) error = NULL;
 *   g_autoptr(GVariant) reply = gen_request_wait_finish (GEN_REQUEST (source), result, &error);
 *   ...
 * }
 *
 * g_autoptr(GenRequest) request = gen_server_send_request (counter, g_variant_new ("()"));
 * gen_request_wait_async (request, 1000, NULL, reply_cb, NULL);
 * ```
 *
 * ```python
 * reply = await request.areply(1.0)
 * ```
 *
 * ```js
 * const reply = await request.wait_async(1000, null);
 * ```
 *
 * ```vala
 * var reply = yield request.wait_async (1000, null);
 * ```
 *
 * Since: 1.2
 */
void
gen_request_wait_async (GenRequest          *self,
                        gint                 timeout_ms,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  Wait *wait;

  g_return_if_fail (GEN_IS_REQUEST (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, gen_request_wait_async);
  g_task_set_name (task, "[genserver] request wait");
  /* The wait decides itself whether the reply won against cancellation. */
  g_task_set_check_cancellable (task, FALSE);

  if (self->done)
    {
      /* GTask returns from a later iteration. */
      GVariant *reply = request_result (self, &error);

      if (reply != NULL)
        g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
      else
        g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  wait = g_new0 (Wait, 1);
  wait->timeout_ms = timeout_ms;
  g_task_set_task_data (task, wait, wait_free);

  g_mutex_lock (&self->landing->lock);
  if (self->landing->waiter != NULL)
    {
      g_mutex_unlock (&self->landing->lock);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "A wait for this request is already under way");
      return;
    }
  self->landing->waiter = g_object_ref (task);
  /* Landed before this wait began: nothing will wake it but this. */
  if (self->landing->landed)
    wait_wake (task);
  g_mutex_unlock (&self->landing->lock);

  if (timeout_ms >= 0)
    {
      wait->timeout_source = g_timeout_source_new (timeout_ms);
      g_source_set_callback (wait->timeout_source, wait_timeout_cb, task, NULL);
      g_source_set_static_name (wait->timeout_source, "[genserver] request wait timeout");
      g_source_attach (wait->timeout_source, g_task_get_context (task));
    }
  if (cancellable != NULL)
    {
      /* Cancelled already, it posts the cancellation at once. */
      wait->cancellable = g_object_ref (cancellable);
      wait->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (wait_cancelled),
                                                  task, NULL);
    }
}

/**
 * gen_request_wait_finish:
 * @self: a #GenRequest
 * @result: the #GAsyncResult given to the callback
 * @error: return location for an error
 *
 * Finishes a wait started with [method@Gen.Request.wait_async].
 *
 * Returns: (transfer full): the reply
 *
 * Since: 1.2
 */
GVariant *
gen_request_wait_finish (GenRequest    *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (GEN_IS_REQUEST (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == gen_request_wait_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * gen_request_receive:
 * @self: a #GenRequest
 * @timeout_ms: how long to wait, in milliseconds, or a negative number to
 *   wait as long as it takes
 * @error: return location for an error
 *
 * Waits for the reply as [method@Gen.Request.wait] does, but a timeout
 * abandons the request, as Erlang's `receive_response/2`: a call still
 * queued is never run, a reply that comes later is dropped, and waiting
 * again gives the same %GEN_SERVER_ERROR_TIMEOUT.
 *
 * Returns: (transfer full): the reply
 *
 * Since: 1.0
 */
GVariant *
gen_request_receive (GenRequest  *self,
                     gint         timeout_ms,
                     GError     **error)
{
  g_return_val_if_fail (GEN_IS_REQUEST (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!iterate_until (self->context, timeout_ms, request_is_done, self))
    {
      g_cancellable_cancel (self->cancellable);
      iterate_until (self->context, -1, request_is_done, self);
      request_timed_out (self, timeout_ms);
    }
  return request_result (self, error);
}

/**
 * gen_request_check:
 * @self: a #GenRequest
 *
 * Whether the reply is here, without blocking: Erlang's
 * `check_response/2`. Once it is, [method@Gen.Request.wait] returns it at
 * once.
 *
 * Returns: %TRUE if the request is answered
 *
 * Since: 1.0
 */
gboolean
gen_request_check (GenRequest *self)
{
  g_return_val_if_fail (GEN_IS_REQUEST (self), FALSE);

  return iterate_until (self->context, 0, request_is_done, self);
}

/**
 * gen_request_get_server:
 * @self: a #GenRequest
 *
 * Gets the server the request was sent to.
 *
 * Returns: (transfer none): the server
 *
 * Since: 1.0
 */
GenServer *
gen_request_get_server (GenRequest *self)
{
  g_return_val_if_fail (GEN_IS_REQUEST (self), NULL);

  return self->server;
}

/**
 * gen_request_get_label:
 * @self: a #GenRequest
 *
 * Gets the label given to [method@Gen.RequestSet.send], Erlang's request
 * id label.
 *
 * Returns: (nullable): the label
 *
 * Since: 1.0
 */
const gchar *
gen_request_get_label (GenRequest *self)
{
  g_return_val_if_fail (GEN_IS_REQUEST (self), NULL);

  return self->label;
}

/* Sets ------------------------------------------------------------------- */

static void
gen_request_set_finalize (GObject *object)
{
  GenRequestSet *self = GEN_REQUEST_SET (object);

  for (guint i = 0; i < self->requests->len; i++)
    GEN_REQUEST (g_ptr_array_index (self->requests, i))->set = NULL;
  g_ptr_array_unref (self->requests);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (gen_request_set_parent_class)->finalize (object);
}

static void
gen_request_set_class_init (GenRequestSetClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = gen_request_set_finalize;
}

static void
gen_request_set_init (GenRequestSet *self)
{
  self->context = g_main_context_new ();
  self->requests = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * gen_request_set_new:
 *
 * Creates an empty set of requests.
 *
 * Returns: (transfer full): a new #GenRequestSet
 *
 * Since: 1.0
 */
GenRequestSet *
gen_request_set_new (void)
{
  return g_object_new (GEN_TYPE_REQUEST_SET, NULL);
}

/**
 * gen_request_set_send:
 * @self: a #GenRequestSet
 * @server: the server to call
 * @message: the request; a floating reference is sunk
 * @label: (nullable): a label to tell the request by, Erlang's `Label`
 *
 * Sends a call as [method@Gen.Server.send_request] does and adds it to
 * the set, as Erlang's `send_request/4` with a collection.
 *
 * Returns: (transfer full): the request, also held by the set until it is
 *   taken out by a wait
 *
 * Since: 1.0
 */
GenRequest *
gen_request_set_send (GenRequestSet *self,
                      GenServer     *server,
                      GVariant      *message,
                      const gchar   *label)
{
  GenRequest *request;

  g_return_val_if_fail (GEN_IS_REQUEST_SET (self), NULL);
  g_return_val_if_fail (GEN_IS_SERVER (server), NULL);
  g_return_val_if_fail (message != NULL, NULL);

  request = request_send (server, message, self->context, label);
  request->set = self;
  g_ptr_array_add (self->requests, g_object_ref (request));
  return request;
}

/**
 * gen_request_set_get_size:
 * @self: a #GenRequestSet
 *
 * How many requests the set holds, answered or not.
 *
 * Returns: the number of requests
 *
 * Since: 1.0
 */
guint
gen_request_set_get_size (GenRequestSet *self)
{
  g_return_val_if_fail (GEN_IS_REQUEST_SET (self), 0);

  return self->requests->len;
}

/* Whether the set may still give @request: neither given nor abandoned. */
static gboolean
request_is_waited_for (GenRequest *request)
{
  return !request->taken && !request->abandoned;
}

static gboolean
set_any_ready (gpointer data)
{
  GenRequestSet *self = data;

  for (guint i = 0; i < self->requests->len; i++)
    {
      GenRequest *request = g_ptr_array_index (self->requests, i);

      if (request->done && request_is_waited_for (request))
        return TRUE;
    }
  return FALSE;
}

static gboolean
set_has_waited_for (GenRequestSet *self)
{
  for (guint i = 0; i < self->requests->len; i++)
    if (request_is_waited_for (g_ptr_array_index (self->requests, i)))
      return TRUE;
  return FALSE;
}

static gboolean
set_all_done (gpointer data)
{
  GenRequestSet *self = data;

  for (guint i = 0; i < self->requests->len; i++)
    if (!GEN_REQUEST (g_ptr_array_index (self->requests, i))->done)
      return FALSE;
  return TRUE;
}

/* Abandons every request the set still waits for, as a timed-out
 * gen_request_receive() abandons one: the calls are cancelled (a call
 * still queued never runs), and each request then reads TIMEOUT unless its
 * reply won the race against the cancellation. None is given again. */
static void
set_abandon (GenRequestSet *self,
             gint           timeout_ms)
{
  for (guint i = 0; i < self->requests->len; i++)
    {
      GenRequest *request = g_ptr_array_index (self->requests, i);

      if (request_is_waited_for (request))
        g_cancellable_cancel (request->cancellable);
    }
  /* A cancelled call is answered at once. */
  iterate_until (self->context, -1, set_all_done, self);
  for (guint i = 0; i < self->requests->len; i++)
    {
      GenRequest *request = g_ptr_array_index (self->requests, i);

      if (request_is_waited_for (request))
        {
          request_timed_out (request, timeout_ms);
          request->abandoned = TRUE;
        }
    }
}

/* What wait, receive and check share: the earliest answered request the
 * set still waits for, within @timeout_ms; @abandon: a timeout abandons
 * the others. */
static GenRequest *
set_take (GenRequestSet  *self,
          gint            timeout_ms,
          gboolean        delete_request,
          gboolean        abandon,
          GError        **error)
{
  GenRequest *first = NULL;
  guint first_index = 0;
  guint n_waited_for = 0;
  gboolean any_abandoned = FALSE;

  for (guint i = 0; i < self->requests->len; i++)
    {
      GenRequest *request = g_ptr_array_index (self->requests, i);

      n_waited_for += request_is_waited_for (request);
      any_abandoned |= request->abandoned;
    }
  if (n_waited_for == 0)
    {
      /* Erlang would wait for replies that cannot come; this says so. */
      if (any_abandoned)
        g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                     "Every request left in the set was abandoned");
      else
        g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND,
                     "The request set has no request left to answer");
      return NULL;
    }

  if (!iterate_until (self->context, timeout_ms, set_any_ready, self))
    {
      if (abandon)
        set_abandon (self, timeout_ms);
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                   "None of %u requests was answered within %d ms",
                   n_waited_for, timeout_ms);
      return NULL;
    }

  for (guint i = 0; i < self->requests->len; i++)
    {
      GenRequest *request = g_ptr_array_index (self->requests, i);

      if (request->done && request_is_waited_for (request) &&
          (first == NULL || request->completion < first->completion))
        {
          first = request;
          first_index = i;
        }
    }

  if (!delete_request)
    {
      first->taken = TRUE;
      return g_object_ref (first);
    }
  first->set = NULL;
  return g_ptr_array_steal_index (self->requests, first_index);
}

/**
 * gen_request_set_wait:
 * @self: a #GenRequestSet
 * @timeout_ms: how long to wait, in milliseconds, or a negative number to
 *   wait as long as it takes
 * @delete_request: whether to take the answered request out of the set
 * @error: return location for an error
 *
 * Waits until one of the requests is answered and gives it, the earliest
 * answered first, as Erlang's `wait_response/3` on a collection: its
 * reply is then [method@Gen.Request.wait] with no waiting, and its label
 * [method@Gen.Request.get_label]. With @delete_request, the request leaves
 * the set; without (Erlang's `Delete = false`), it stays in the set
 * (counted by [method@Gen.RequestSet.get_size]), which does not give it
 * again.
 *
 * Fails with %GEN_SERVER_ERROR_TIMEOUT if none is answered in time: the
 * requests stay pending, to be waited for again. Fails
 * with %GEN_SERVER_ERROR_NOT_FOUND, without waiting, if the set has no
 * request left to give (Erlang's `no_request`), and with
 * %GEN_SERVER_ERROR_TIMEOUT, without waiting, if all it has left were
 * abandoned ([method@Gen.RequestSet.receive]).
 *
 * ```c
 * while ((request = gen_request_set_wait (set, 1000, FALSE, &error)) != NULL)
 *   {
 *     g_autoptr(GVariant) reply = gen_request_wait (request, 0, NULL);
 *     ...
 *     g_object_unref (request);
 *   }
 * ```
 *
 * Returns: (transfer full): the answered request
 *
 * Since: 1.2
 */
GenRequest *
gen_request_set_wait (GenRequestSet  *self,
                      gint            timeout_ms,
                      gboolean        delete_request,
                      GError        **error)
{
  g_return_val_if_fail (GEN_IS_REQUEST_SET (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return set_take (self, timeout_ms, delete_request, FALSE, error);
}

/**
 * gen_request_set_receive:
 * @self: a #GenRequestSet
 * @timeout_ms: how long to wait, in milliseconds, or a negative number to
 *   wait as long as it takes
 * @delete_request: whether to take the answered request out of the set
 * @error: return location for an error
 *
 * Waits as [method@Gen.RequestSet.wait] does, but a timeout abandons
 * every request of the set still unanswered, as Erlang's
 * `receive_response/3` on a collection: their calls still queued never
 * run, replies that come later are dropped, each of them reads as a
 * timed-out [method@Gen.Request.receive] does, and they stay in the set
 * (as in Erlang's collection), which never gives them: waiting on the set
 * again fails with %GEN_SERVER_ERROR_TIMEOUT at once.
 *
 * Returns: (transfer full): the answered request
 *
 * Since: 1.2
 */
GenRequest *
gen_request_set_receive (GenRequestSet  *self,
                         gint            timeout_ms,
                         gboolean        delete_request,
                         GError        **error)
{
  g_return_val_if_fail (GEN_IS_REQUEST_SET (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return set_take (self, timeout_ms, delete_request, TRUE, error);
}

/**
 * gen_request_set_check:
 * @self: a #GenRequestSet
 * @delete_request: whether to take the answered request out of the set
 * @error: return location for an error
 *
 * Gives an answered request without blocking, as Erlang's
 * `check_response/3` on a collection, or %NULL with no error if none is
 * answered yet (`no_reply`). Fails as [method@Gen.RequestSet.wait] does
 * when the set has nothing left to give.
 *
 * Returns: (transfer full) (nullable): the answered request, or %NULL
 *
 * Since: 1.2
 */
GenRequest *
gen_request_set_check (GenRequestSet  *self,
                       gboolean        delete_request,
                       GError        **error)
{
  GError *local_error = NULL;
  GenRequest *request;

  g_return_val_if_fail (GEN_IS_REQUEST_SET (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  request = set_take (self, 0, delete_request, FALSE, &local_error);
  /* A zero timeout that ran out is "not yet", not a failure. */
  if (request == NULL && g_error_matches (local_error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT) &&
      set_has_waited_for (self))
    {
      g_clear_error (&local_error);
      return NULL;
    }
  if (local_error != NULL)
    g_propagate_error (error, local_error);
  return request;
}

/**
 * gen_request_set_wait_any:
 * @self: a #GenRequestSet
 * @timeout_ms: how long to wait, in milliseconds, or a negative number to
 *   wait as long as it takes
 * @error: return location for an error
 *
 * Waits until one of the requests is answered and takes it out of the
 * set: [method@Gen.RequestSet.wait] with `delete_request` %TRUE.
 *
 * Returns: (transfer full): the answered request
 *
 * Since: 1.0
 */
GenRequest *
gen_request_set_wait_any (GenRequestSet  *self,
                          gint            timeout_ms,
                          GError        **error)
{
  return gen_request_set_wait (self, timeout_ms, TRUE, error);
}

/**
 * gen_request_set_get_requests:
 * @self: a #GenRequestSet
 *
 * The requests the set holds, in the order they were sent, answered or
 * not, given or not: Erlang's `reqids_to_list/1` (each request's label is
 * [method@Gen.Request.get_label]).
 *
 * Returns: (transfer container) (element-type GenRequest): the requests;
 *   the array holds a reference to each
 *
 * Since: 1.2
 */
GPtrArray *
gen_request_set_get_requests (GenRequestSet *self)
{
  GPtrArray *requests;

  g_return_val_if_fail (GEN_IS_REQUEST_SET (self), NULL);

  requests = g_ptr_array_new_full (self->requests->len, g_object_unref);
  for (guint i = 0; i < self->requests->len; i++)
    g_ptr_array_add (requests, g_object_ref (g_ptr_array_index (self->requests, i)));
  return requests;
}

/**
 * gen_request_set_wait_all:
 * @self: a #GenRequestSet
 * @timeout_ms: how long to wait for all of them, in milliseconds, or a
 *   negative number to wait as long as it takes
 * @error: return location for an error
 *
 * Waits until every request is answered, with one deadline for all, and
 * takes them all out of the set, in the order they were sent. Their
 * replies are then [method@Gen.Request.wait] with no waiting. Fails with
 * %GEN_SERVER_ERROR_TIMEOUT if they are not all answered within
 * @timeout_ms; the set is then unchanged, and
 * [method@Gen.RequestSet.wait_any] takes the ones that are.
 *
 * Returns: (transfer container) (element-type GenRequest): the requests;
 *   the array holds a reference to each, dropped when it is freed
 *
 * Since: 1.0
 */
GPtrArray *
gen_request_set_wait_all (GenRequestSet  *self,
                          gint            timeout_ms,
                          GError        **error)
{
  GPtrArray *requests;

  g_return_val_if_fail (GEN_IS_REQUEST_SET (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!iterate_until (self->context, timeout_ms, set_all_done, self))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                   "Not all of %u requests were answered within %d ms",
                   self->requests->len, timeout_ms);
      return NULL;
    }

  for (guint i = 0; i < self->requests->len; i++)
    GEN_REQUEST (g_ptr_array_index (self->requests, i))->set = NULL;
  requests = g_steal_pointer (&self->requests);
  self->requests = g_ptr_array_new_with_free_func (g_object_unref);
  return requests;
}
