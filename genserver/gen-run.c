/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A run of a server: init, the handling of each message, continues, the
 * idle timeout and the finish, whichever kind of scheduler drives them
 * (see GenSchedulerKind in gen-server-private.h); the status and its
 * notification; the handler thread's side of status requests; exit
 * signals, which end a run at once; and the run-end functions, told of
 * every end of a run. How the kinds that share threads hand the handlers
 * from one thread to the next, and how a run's references are let go at
 * its end, is gen-run-flag.c.
 * Besides the status and the sending of an exit signal, everything here
 * runs on the handler thread, the one thread that runs the server's
 * handlers at that moment. The kind is reached only through its hooks. */

#include "config.h"

#include "gen-server-private.h"

#ifdef HAVE_SYSPROF
# include <sysprof-capture.h>
#endif

/* A counter of handled messages: only the handler thread writes it, so a
 * relaxed load and store do (no locked instruction); readers on other
 * threads never see a torn value. */
#define COUNT_HANDLED(field) \
  __atomic_store_n (&(field), __atomic_load_n (&(field), __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED)

/* What a handler's trace record and profiler mark need: taken only when
 * one of them is on, for two relaxed atomic reads per message otherwise. */
typedef struct
{
  gboolean traced;
  gint64 begin;       /* monotonic µs */
#ifdef HAVE_SYSPROF
  gint64 mark_begin;  /* Sysprof's clock, ns; 0 when no profiler listens */
#endif
} Observation;

#ifdef HAVE_SYSPROF
/* Whether Sysprof records, as a handler thread last looked: once per
 * batch and before the handlers that run outside one (observe_look()),
 * not per message, since Sysprof's own look is a thread-specific lookup
 * of some 70 instructions. Sysprof records whole processes (they start
 * under it); a thread it does not record drops the marks. Atomic; written
 * only when it changes, so that its cache line stays shared. */
static gint profiled;
#endif

static inline void
observe_look (void)
{
#ifdef HAVE_SYSPROF
  gboolean active = sysprof_collector_is_active ();

  if (active != __atomic_load_n (&profiled, __ATOMIC_RELAXED))
    __atomic_store_n (&profiled, active, __ATOMIC_RELAXED);
#endif
}

static inline void
observe_begin (GenServerPrivate *priv,
               Observation      *observation)
{
  observation->traced = G_UNLIKELY (g_atomic_int_get (&priv->trace));
  observation->begin = observation->traced ? g_get_monotonic_time () : 0;
#ifdef HAVE_SYSPROF
  observation->mark_begin = __atomic_load_n (&profiled, __ATOMIC_RELAXED) ?
                            SYSPROF_CAPTURE_CURRENT_TIME : 0;
#endif
}

static inline void
observe_end (GenServer    *self,
             Observation  *observation,
             const gchar  *kind,
             GVariant     *message)
{
  if (G_UNLIKELY (observation->traced))
    gen_trace_record (self, kind, message, NULL, observation->begin);
#ifdef HAVE_SYSPROF
  if (observation->mark_begin != 0)
    sysprof_collector_mark (observation->mark_begin,
                            SYSPROF_CAPTURE_CURRENT_TIME - observation->mark_begin,
                            "genserver", kind, gen_server_name (self));
#endif
}

/* Keeps the message whose handler set @error, for the crash record. */
static void
note_crash_message (GenServer *self,
                    GError    *error,
                    GVariant  *message)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  if (error != NULL && priv->crash_reason == NULL && priv->crash_message == NULL)
    priv->crash_message = g_variant_ref (message);
}

/* An error from any handler but handle_call is a crash. */
static void
note_crash (GenServer *self,
            GError    *error)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  if (error == NULL)
    return;
  if (priv->crash_reason == NULL)
    priv->crash_reason = error;
  else
    g_error_free (error);
}

void
gen_run_note_crash (GenServer *self,
                    GError    *error)
{
  note_crash (self, error);
}

static inline void
handle_cast_item (GenServer        *self,
                  GenServerPrivate *priv,
                  GVariant         *message)
{
  GError *error = NULL;
  Observation observation;

  observe_begin (priv, &observation);
  GEN_SERVER_GET_CLASS (self)->handle_cast (self, message, &error);
  COUNT_HANDLED (priv->n_casts);
  observe_end (self, &observation, "cast", message);
  if (G_UNLIKELY (error != NULL))
    {
      note_crash_message (self, error, message);
      note_crash (self, error);
    }
}

static void
handle_info_message (GenServer *self,
                     GVariant  *message)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GError *error = NULL;
  Observation observation;

  observe_begin (priv, &observation);
  GEN_SERVER_GET_CLASS (self)->handle_info (self, message, &error);
  COUNT_HANDLED (priv->n_infos);
  observe_end (self, &observation, "info", message);
  note_crash_message (self, error, message);
  note_crash (self, error);
}

static void
handle_call_item (GenServer *self,
                  GenCall   *call)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GVariant *reply;
  GError *error = NULL;
  gboolean deferred;
  Observation observation;

  /* A call whose caller gave up while it was queued is never run. */
  if (!gen_call_begin_running (call))
    return;

  observe_begin (priv, &observation);
  priv->current_call = call;
  reply = GEN_SERVER_GET_CLASS (self)->handle_call (self, call->message, &error);
  deferred = priv->reply_taken;
  priv->current_call = NULL;
  priv->reply_taken = FALSE;
  COUNT_HANDLED (priv->n_calls);
  observe_end (self, &observation, "call", call->message);

  if (deferred)
    {
      /* The GenReply answers; anything returned here is a mistake. */
      if (reply != NULL || error != NULL)
        g_critical ("%s’s handle_call took the reply handle and also returned "
                    "a reply or an error; it is ignored", gen_server_name (self));
      if (reply != NULL)
        g_variant_unref (g_variant_take_ref (reply));
      g_clear_error (&error);
      return;
    }

  if (reply != NULL && error != NULL)
    {
      g_critical ("%s’s handle_call returned a reply and set an error; "
                  "the error wins: %s", gen_server_name (self), error->message);
      g_clear_pointer (&reply, g_variant_unref);
    }
  else if (reply == NULL && error == NULL)
    {
      error = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                           "%s’s handle_call returned neither a reply nor an error",
                           gen_server_name (self));
    }

  if (reply != NULL)
    g_variant_take_ref (reply);

  if (G_UNLIKELY (observation.traced))
    gen_trace_record (self, "reply", reply, error, observation.begin);

  gen_call_answer (call, reply, error);
}

static inline gboolean
should_go_on (GenServerPrivate *priv)
{
  return !priv->stop_requested && priv->crash_reason == NULL &&
         !g_atomic_int_get (&priv->killed);
}

static gboolean
run_continues (GenServer        *self,
               GenServerPrivate *priv)
{
  GVariant *message;

  observe_look ();
  while (should_go_on (priv) &&
         (message = g_queue_pop_head (&priv->continues)) != NULL)
    {
      GError *error = NULL;
      Observation observation;

      observe_begin (priv, &observation);
      GEN_SERVER_GET_CLASS (self)->handle_continue (self, message, &error);
      observe_end (self, &observation, "continue", message);
      note_crash_message (self, error, message);
      note_crash (self, error);
      g_variant_unref (message);
    }

  return should_go_on (priv);
}

/* After every message: most leave no continue. */
static inline gboolean
continues (GenServer        *self,
           GenServerPrivate *priv)
{
  if (G_LIKELY (priv->continues.head == NULL))
    return should_go_on (priv);
  return run_continues (self, priv);
}

gboolean
gen_run_continues (GenServer *self)
{
  return continues (self, gen_server_get_private (self));
}

void
gen_run_drop_item (gpointer item)
{
  GenEnvelope *envelope;

  switch (GEN_ITEM_KIND (item))
    {
    case GEN_ITEM_CAST:
    case GEN_ITEM_INFO:
      g_variant_unref (GEN_ITEM_POINTER (item));
      break;
    case GEN_ITEM_CALL:
      gen_call_unref (GEN_ITEM_POINTER (item));
      break;
    case GEN_ITEM_ENVELOPE:
      envelope = GEN_ITEM_POINTER (item);
      if (envelope->kind == GEN_ENVELOPE_TIMER)
        gen_timer_unref ((GenTimer *) envelope);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Handles one mailbox item. Returns FALSE when the server must stop after
 * it: the stop marker, a stop from inside a handler, or a crash. */
static gboolean
handle_item (GenServer *self,
             gpointer   item)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GenEnvelope *envelope;

  gen_mailbox_release (&priv->mailbox, item);

  switch (GEN_ITEM_KIND (item))
    {
    case GEN_ITEM_CAST:
      handle_cast_item (self, priv, GEN_ITEM_POINTER (item));
      break;
    case GEN_ITEM_CALL:
      handle_call_item (self, GEN_ITEM_POINTER (item));
      break;
    case GEN_ITEM_INFO:
      handle_info_message (self, GEN_ITEM_POINTER (item));
      break;
    case GEN_ITEM_ENVELOPE:
      envelope = GEN_ITEM_POINTER (item);
      if (envelope->kind == GEN_ENVELOPE_STOP)
        return FALSE;
      /* A timer's message is handled only if it was not cancelled. */
      if (gen_timer_table_claim (&priv->timers, (GenTimer *) envelope))
        handle_info_message (self, gen_timer_get_message ((GenTimer *) envelope));
      break;
    default:
      g_assert_not_reached ();
    }

  gen_run_drop_item (item);

  if (g_atomic_int_get (&priv->idle_timeout_ms) >= 0)
    {
      priv->last_activity = g_get_monotonic_time ();
      priv->idle_fired = FALSE;
    }

  return continues (self, priv);
}

/* Whether a suspended server holds: not once a stop or a signal came. A
 * killed server never holds: a signal that came while it started (after
 * init's look, before it ran) leaves it RUNNING, and it must still end at
 * once if it was suspended meanwhile. */
static gboolean
run_holds (GenServerPrivate *priv)
{
  return g_atomic_int_get (&priv->suspended) &&
         g_atomic_int_get (&priv->status) == GEN_STATUS_RUNNING &&
         !g_atomic_int_get (&priv->killed);
}

gboolean
gen_run_handle_batch (GenServer *self,
                      gpointer   first,
                      guint      max)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  gpointer batch[GEN_BATCH_SIZE];
  guint n = 0;

  g_assert (max >= 1 && max <= GEN_BATCH_SIZE);

  if (first != NULL)
    batch[n++] = first;
  n += gen_mailbox_pop_batch (&priv->mailbox, &batch[n], max - n);

  /* Suspended before the batch was taken (the push of a message sent
   * after the suspend woke the server): it all goes back before
   * gen_run_hold() answers a status request, which counts the mailbox.
   * The runner's next look holds, and answers them then. */
  if (G_UNLIKELY (run_holds (priv)))
    {
      gen_mailbox_unpop (&priv->mailbox, batch, n);
      return TRUE;
    }
  gen_run_hold (self);
  observe_look ();

  for (guint i = 0; i < n; i++)
    {
      /* An exit signal: nothing more is handled, what was taken is
       * refused with the rest of the mailbox. */
      if (G_UNLIKELY (g_atomic_int_get (&priv->killed)))
        {
          gen_run_finish (self, &batch[i], n - i);
          return FALSE;
        }
      /* Suspended: what was not begun goes back, unless a stop came,
       * which finishes the server without handling it. */
      if (G_UNLIKELY (g_atomic_int_get (&priv->suspended)))
        {
          if (g_atomic_int_get (&priv->status) != GEN_STATUS_RUNNING)
            {
              gen_run_finish (self, &batch[i], n - i);
              return FALSE;
            }
          gen_mailbox_unpop (&priv->mailbox, &batch[i], n - i);
          return TRUE;
        }
      if (!handle_item (self, batch[i]))
        {
          gen_run_finish (self, &batch[i + 1], n - i - 1);
          return FALSE;
        }
    }

  return TRUE;
}

gint64
gen_run_idle_deadline (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  gint idle_timeout_ms = g_atomic_int_get (&priv->idle_timeout_ms);

  /* A suspended server does not time out; resuming it looks again. */
  if (idle_timeout_ms < 0 || priv->idle_fired || g_atomic_int_get (&priv->suspended))
    return -1;
  return priv->last_activity + (gint64) idle_timeout_ms * 1000;
}

/* It fires once per quiet stretch: the next one needs a message first. */
gboolean
gen_run_idle_timeout (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  g_autoptr(GVariant) message = g_variant_ref_sink (g_variant_new_string (GEN_IDLE_TIMEOUT_MESSAGE));

  priv->idle_fired = TRUE;
  observe_look ();
  handle_info_message (self, message);
  return gen_run_continues (self);
}

gboolean
gen_run_has_work (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  /* Killed, it has its end to run. A guess, without the mailbox's lock:
   * a push it misses finds the run flag set and relies on the look that
   * follows letting go of it (gen_run_flag_release()); a pop it misses
   * costs a slice that finds nothing. */
  return gen_mailbox_peek_length (&priv->mailbox) > 0 || !g_queue_is_empty (&priv->continues) ||
         g_atomic_int_get (&priv->killed);
}

GenRunResult
gen_run_slice (GenServer *self,
               guint      budget)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  gint status = g_atomic_int_get (&priv->status);
  gboolean running;

  if (status != GEN_STATUS_RUNNING && status != GEN_STATUS_STOPPING)
    return GEN_RUN_IDLE;

  /* Whoever runs the slice owns the handlers (the run flag); a caller
   * running the server inline may also be running another server's
   * handler further up its stack, whose handler thread stays this one. */
  g_assert (g_atomic_pointer_get (&priv->handler_thread) == NULL);
  g_atomic_pointer_set (&priv->handler_thread, g_thread_self ());

  if (gen_run_hold (self))
    {
      g_atomic_pointer_set (&priv->handler_thread, NULL);
      return GEN_RUN_IDLE;
    }

  running = gen_run_continues (self);
  if (running && gen_mailbox_peek_length (&priv->mailbox) == 0)
    {
      gint64 deadline = gen_run_idle_deadline (self);

      if (deadline >= 0 && g_get_monotonic_time () >= deadline)
        running = gen_run_idle_timeout (self);
    }

  if (!running)
    {
      gen_run_finish (self, NULL, 0);
      return GEN_RUN_FINISHED;
    }

  while (budget > 0)
    {
      guint max = MIN (budget, GEN_BATCH_SIZE);

      if (!gen_run_handle_batch (self, NULL, max))
        return GEN_RUN_FINISHED;
      budget -= max;
      if (gen_mailbox_peek_length (&priv->mailbox) == 0)
        break;
    }

  g_atomic_pointer_set (&priv->handler_thread, NULL);
  return gen_run_has_work (self) ? GEN_RUN_MORE : GEN_RUN_IDLE;
}

/* Run-end functions ------------------------------------------------------ */

/* A function of gen_server_add_run_end_func(). */
typedef struct
{
  GenServerMonitorFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
} RunEndFunc;

/* The functions of the current run are the server's qdata (a GArray of
 * RunEndFunc, in the order added), so that a server that adds none pays
 * nothing, and none of the hot paths looks at them. Only the handler
 * thread adds and takes them. */
static GQuark
run_end_funcs_quark (void)
{
  return g_quark_from_static_string ("gen-run-end-funcs");
}

static void
run_end_func_clear (gpointer data)
{
  RunEndFunc *entry = data;

  if (entry->destroy != NULL)
    entry->destroy (entry->user_data);
}

/* Calls the run's functions, the last added first, each once; those added
 * meanwhile (by one of them) too. */
static void
run_end_funcs_fire (GenServer    *self,
                    const GError *reason)
{
  GArray *funcs;

  while ((funcs = g_object_steal_qdata (G_OBJECT (self), run_end_funcs_quark ())) != NULL)
    {
      for (guint i = funcs->len; i > 0; i--)
        {
          RunEndFunc *entry = &g_array_index (funcs, RunEndFunc, i - 1);

          entry->func (self, reason, entry->user_data);
        }
      g_array_unref (funcs);
    }
}

/**
 * gen_server_add_run_end_func:
 * @self: a #GenServer, from one of its own handlers
 * @func: (scope notified) (closure user_data) (destroy destroy): called
 *   once, when the current run ends
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data after @func ran
 *
 * Adds @func to the end of the server's current run: it is called once,
 * with the run's reason (as a monitor gets it: %NULL for a normal stop),
 * on the thread that ran the server's handlers, whenever the run ends:
 * after a stop or a crash (after `terminate`), when `init` fails, and
 * when an exit signal from a link ends the run (which runs no
 * `terminate`). No handler of that run runs after it, and it runs before
 * the monitors are told and before [method@Gen.Server.stop] returns.
 * Functions run the last added first; each is for one run only.
 *
 * It is meant for what a run holds on its thread beyond the server's
 * state: a language binding's per-thread state, say. The server's own
 * logic belongs in `terminate`, which an exit signal skips, as in Erlang.
 * @func must not wait for the server (it is stopping, and takes no more
 * messages). Only from the server's own handlers, `init` included.
 *
 * ```c
 * static void
 * release_scratch (GenServer *server, const GError *reason, gpointer scratch)
 * {
 *   scratch_pool_release (scratch);   // on the thread that took it
 * }
 *
 * static void
 * worker_init (GenServer *server, GVariant *args, GError **error)
 * {
 *   gen_server_add_run_end_func (server, release_scratch,
 *                                scratch_pool_take_for_this_thread (), NULL);
 * }
 * ```
 *
 * ```python
 * def do_init(self, args):
 *     self.add_run_end_func(lambda server, reason: print('run over:', reason))
 * ```
 *
 * Since: 1.2
 */
void
gen_server_add_run_end_func (GenServer            *self,
                             GenServerMonitorFunc  func,
                             gpointer              user_data,
                             GDestroyNotify        destroy)
{
  RunEndFunc entry = { func, user_data, destroy };
  GArray *funcs;

  g_return_if_fail (GEN_IS_SERVER (self));
  g_return_if_fail (func != NULL);
  g_return_if_fail (gen_server_is_handler_thread (self));

  funcs = g_object_get_qdata (G_OBJECT (self), run_end_funcs_quark ());
  if (funcs == NULL)
    {
      funcs = g_array_new (FALSE, FALSE, sizeof (RunEndFunc));
      g_array_set_clear_func (funcs, run_end_func_clear);
      g_object_set_qdata_full (G_OBJECT (self), run_end_funcs_quark (), funcs,
                               (GDestroyNotify) g_array_unref);
    }
  g_array_append_val (funcs, entry);
}

void
gen_run_finish (GenServer *self,
                gpointer  *leftover,
                guint      n_leftover)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  /* Read before the stop reason is taken: an exit signal sets its reason
   * first, so a run that sees the flag has the signal's reason. */
  gboolean killed = g_atomic_int_get (&priv->killed);
  g_autoptr(GError) reason = g_steal_pointer (&priv->crash_reason);
  g_autoptr(GError) stop_reason = gen_monitor_take_stop_reason (self);
  gpointer item;

  /* A crash wins over the reason of a graceful stop that came meanwhile;
   * an exit signal's reason wins over a crash of the handler it waited
   * for: in Erlang the signal would have ended the process first. */
  if (killed && stop_reason != NULL)
    g_clear_error (&reason);
  if (reason == NULL)
    reason = g_steal_pointer (&stop_reason);

  /* A crash is an expected event (a supervisor restarts the server), so
   * its report is a message, which GTest does not make fatal, rather than
   * a warning. A g_message() that g_test_expect_message() and
   * g_log_set_handler() see (in GLib 2.74 they miss structured records);
   * the structured record carries the fields. A server ended by an exit
   * signal did not crash: as in Erlang, where such a process writes no
   * report, only the debug trace says it was killed; the crash that sent
   * the signal has its own report. */
  if (reason != NULL && !killed)
    {
      g_message ("%s crashed: %s", gen_server_name (self), reason->message);
      gen_trace_crash (self, reason, priv->crash_message);
    }
  g_clear_pointer (&priv->crash_message, g_variant_unref);

  gen_mailbox_close (&priv->mailbox, FALSE, FALSE);
  g_mutex_lock (&priv->lock);
  if (priv->status == GEN_STATUS_RUNNING)
    g_atomic_int_set (&priv->status, GEN_STATUS_STOPPING);
  g_mutex_unlock (&priv->lock);

  gen_timer_table_close (&priv->timers);
  for (guint i = 0; i < n_leftover; i++)
    gen_run_refuse_item (self, leftover[i], GEN_SERVER_ERROR_STOPPED);
  while ((item = gen_mailbox_try_pop (&priv->mailbox)) != NULL)
    gen_run_refuse_item (self, item, GEN_SERVER_ERROR_STOPPED);
  g_queue_clear_full (&priv->continues, (GDestroyNotify) g_variant_unref);

  /* As in Erlang: a process ended by an exit signal runs no more code. */
  if (!killed)
    GEN_SERVER_GET_CLASS (self)->terminate (self, reason);

  /* Taken replies nobody answered: their callers learn at once that the
   * server went down, as in Erlang. After terminate, which may still
   * answer them. A later answer through a GenReply is dropped. */
  if (priv->taken_calls != NULL)
    {
      for (guint i = 0; i < priv->taken_calls->len; i++)
        {
          GenCall *call = g_ptr_array_index (priv->taken_calls, i);

          if (!gen_call_is_final (call))
            gen_call_answer (call, NULL,
                             g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED,
                                          "%s stopped before it answered the call",
                                          gen_server_name (self)));
        }
      g_clear_pointer (&priv->taken_calls, g_ptr_array_unref);
      priv->taken_calls_kept = 0;
    }

  /* After the last handler (terminate, if it ran), still on the handler
   * thread, before anybody hears that the run is over. */
  run_end_funcs_fire (self, reason);

  priv->stop_requested = FALSE;
  /* A server starts again not suspended; who asked for its status now
   * hears it stopped. */
  g_atomic_int_set (&priv->suspended, FALSE);
  gen_run_refuse_system (self);
  gen_trace_lifecycle (self, killed ? "killed" : reason != NULL ? "crashed" : "stopped", reason);

  if (priv->kind->run_ended != NULL)
    priv->kind->run_ended (self);

  g_atomic_pointer_set (&priv->handler_thread, NULL);
  /* Before the status changes, so that a name registered by the server is
   * free again by the time stop() returns. */
  gen_monitor_fire (self, reason);
  gen_run_set_status (self, GEN_STATUS_STOPPED);
}

void
gen_run_refuse_item (GenServer      *self,
                     gpointer        item,
                     GenServerError  code)
{
  gen_mailbox_release (&gen_server_get_private (self)->mailbox, item);

  if (GEN_ITEM_KIND (item) == GEN_ITEM_CALL)
    gen_call_answer (GEN_ITEM_POINTER (item), NULL,
                     code == GEN_SERVER_ERROR_STOPPED ?
                     g_error_new (GEN_SERVER_ERROR, code,
                                  "%s stopped before answering the call",
                                  gen_server_name (self)) :
                     g_error_new (GEN_SERVER_ERROR, code,
                                  "%s is not running", gen_server_name (self)));
  gen_run_drop_item (item);
}

gboolean
gen_run_init (GenServer  *self,
              GVariant   *args,
              GError    **error)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GError *local_error = NULL;
  gpointer item;

  priv->last_activity = g_get_monotonic_time ();
  priv->idle_fired = FALSE;

  GEN_SERVER_GET_CLASS (self)->init (self, args, &local_error);
  /* A link made by init fired before init returned: the start fails with
   * the signal's reason, as an Erlang process killed while it starts. (A
   * signal after this look is seen once the server runs.) */
  if (local_error == NULL && G_UNLIKELY (g_atomic_int_get (&priv->killed)))
    {
      local_error = gen_monitor_take_stop_reason (self);
      if (local_error == NULL)
        local_error = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED,
                                   "%s was ended by an exit signal while it started",
                                   gen_server_name (self));
    }
  if (local_error == NULL)
    return TRUE;

  /* 1.0's form of "ignore", still set by inits written for it: one code
   * for the starter, the monitors and the trace alike. */
  if (local_error->domain == GEN_SERVER_IGNORE)
    {
      local_error->domain = GEN_SERVER_ERROR;
      local_error->code = GEN_SERVER_ERROR_IGNORED;
    }

  gen_mailbox_close (&priv->mailbox, FALSE, FALSE);
  gen_timer_table_close (&priv->timers);
  while ((item = gen_mailbox_try_pop (&priv->mailbox)) != NULL)
    gen_run_refuse_item (self, item, GEN_SERVER_ERROR_NOT_RUNNING);
  g_queue_clear_full (&priv->continues, (GDestroyNotify) g_variant_unref);
  priv->stop_requested = FALSE;
  g_clear_error (&priv->crash_reason);
  g_clear_pointer (&priv->crash_message, g_variant_unref);
  gen_run_refuse_system (self);
  run_end_funcs_fire (self, local_error);
  gen_trace_lifecycle (self, "failed to start", local_error);
  g_propagate_error (error, local_error);
  return FALSE;
}

/* Exit signals ------------------------------------------------------------ */

gboolean
gen_run_kill (GenServer    *self,
              const GError *reason)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  gboolean on_handler_thread = gen_server_is_handler_thread (self);
  gboolean was_running;

  g_return_val_if_fail (reason != NULL, FALSE);

  g_mutex_lock (&priv->lock);
  if (priv->status == GEN_STATUS_STOPPED)
    {
      g_mutex_unlock (&priv->lock);
      return FALSE;
    }
  /* The reason before the flag: gen_run_finish() reads them in the other
   * order. (Lock order: `lock`, then the monitor table's.) */
  gen_monitor_set_stop_reason (self, reason);
  g_atomic_int_set (&priv->killed, TRUE);
  was_running = priv->status == GEN_STATUS_RUNNING;
  if (was_running)
    {
      /* Closed as a stop closes it: nothing new comes in once the server
       * is seen stopping. The stop marker wakes a server that waits for
       * mail or holds while suspended, and is refused with the rest; its
       * own handler needs none: the flag is looked at when it returns. */
      gen_mailbox_close (&priv->mailbox, !on_handler_thread, FALSE);
      g_atomic_int_set (&priv->status, GEN_STATUS_STOPPING);
      g_cond_broadcast (&priv->cond);
    }
  g_mutex_unlock (&priv->lock);

  /* A server stopping already was driven by its stop; one starting looks
   * at the flag when init returns (gen_run_init()), or, if the signal came
   * later, once it runs (gen_run_has_work(), gen_run_continues()). */
  if (was_running)
    {
      gen_run_notify_status (self);
      if (!on_handler_thread)
        priv->kind->drive_stop (self, FALSE);
    }
  return TRUE;
}

/* Status ------------------------------------------------------------------ */

void
gen_run_set_status (GenServer *self,
                    GenStatus  status)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  g_mutex_lock (&priv->lock);
  g_atomic_int_set (&priv->status, status);
  /* Under `lock`, as gen_run_kill() sets it: no signal outlives its run. */
  if (status == GEN_STATUS_STOPPED)
    g_atomic_int_set (&priv->killed, FALSE);
  g_cond_broadcast (&priv->cond);
  g_mutex_unlock (&priv->lock);

  gen_run_notify_status (self);
}

GParamSpec *gen_run_status_pspec;

/* The notification source holds the server weakly: a stopped server whose
 * context nobody iterates is not kept alive by it. */
typedef struct
{
  GSource source;
  GWeakRef server;
} NotifySource;

static gboolean
notify_source_dispatch (GSource     *source,
                        GSourceFunc  callback,
                        gpointer     user_data)
{
  g_autoptr(GenServer) self = g_weak_ref_get (&((NotifySource *) source)->server);

  if (self != NULL)
    {
      GenServerPrivate *priv = gen_server_get_private (self);

      /* Cleared first: a change during the handlers schedules another. */
      if (g_atomic_pointer_compare_and_exchange (&priv->notify_source, source, NULL))
        g_source_unref (source);
      g_object_notify_by_pspec (G_OBJECT (self), gen_run_status_pspec);
    }
  return G_SOURCE_REMOVE;
}

static void
notify_source_finalize (GSource *source)
{
  g_weak_ref_clear (&((NotifySource *) source)->server);
}

static GSourceFuncs notify_source_funcs = {
  .dispatch = notify_source_dispatch,
  .finalize = notify_source_finalize,
};

void
gen_run_notify_status (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GSource *source;

  /* Nobody watches (most servers): no source. A handler connected later
   * reads the value as it connects (G_BINDING_SYNC_CREATE). */
  if (g_atomic_pointer_get (&priv->notify_source) != NULL ||
      !g_signal_has_handler_pending (self, g_signal_lookup ("notify", G_TYPE_OBJECT),
                                     g_param_spec_get_name_quark (gen_run_status_pspec),
                                     TRUE))
    return;

  source = g_source_new (&notify_source_funcs, sizeof (NotifySource));
  g_weak_ref_init (&((NotifySource *) source)->server, self);
  g_source_set_static_name (source, "[genserver] run-status");
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_ready_time (source, 0);
  if (!g_atomic_pointer_compare_and_exchange (&priv->notify_source, NULL, source))
    {
      /* Another change scheduled one meanwhile: it tells this one too. */
      g_source_unref (source);
      return;
    }
  /* The field's reference, then the context's. */
  g_source_attach (source, priv->notify_context);
}

void
gen_run_clear_notify (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GSource *source = g_atomic_pointer_exchange (&priv->notify_source, NULL);

  if (source != NULL)
    {
      g_source_destroy (source);
      g_source_unref (source);
    }
}

const gchar *
gen_run_status_name (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  switch (g_atomic_int_get (&priv->status))
    {
    case GEN_STATUS_STOPPED:
      return "stopped";
    case GEN_STATUS_STARTING:
      return "starting";
    case GEN_STATUS_RUNNING:
      return g_atomic_int_get (&priv->suspended) ? "suspended" : "running";
    case GEN_STATUS_STOPPING:
      return "stopping";
    default:
      g_assert_not_reached ();
    }
}

/* Status requests --------------------------------------------------------- */

static GVariant *
format_state (GenServer *self)
{
  GenServerClass *klass = GEN_SERVER_GET_CLASS (self);
  GVariant *state;

  if (klass->format_status == NULL)
    return NULL;
  state = klass->format_status (self);
  return state != NULL ? g_variant_take_ref (state) : NULL;
}

static GVariant *
get_state (GenServer  *self,
           GError    **error)
{
  GenServerClass *klass = GEN_SERVER_GET_CLASS (self);
  GVariant *state;

  if (klass->dump_state == NULL ||
      (state = klass->dump_state (self)) == NULL)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                   "%s does not give its state: its class has no dump_state",
                   gen_server_name (self));
      return NULL;
    }
  return g_variant_take_ref (state);
}

static GVariant *
replace_state (GenServer   *self,
               ReplaceJob  *job,
               GError     **error)
{
  GenServerClass *klass = GEN_SERVER_GET_CLASS (self);
  g_autoptr(GVariant) state = NULL;
  GVariant *next;

  if (klass->load_state == NULL)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                   "%s does not take a new state: its class has no load_state",
                   gen_server_name (self));
      return NULL;
    }
  state = get_state (self, error);
  if (state == NULL)
    return NULL;

  next = job->func (state, job->user_data);
  if (next == NULL)
    return g_steal_pointer (&state);
  g_variant_take_ref (next);
  if (!klass->load_state (self, next, error))
    {
      g_variant_unref (next);
      return NULL;
    }
  return next;
}

/* Runs a system request on the handler thread: its reply, or NULL with
 * @error set. */
GVariant *
gen_run_system_request (GenServer  *self,
                        GVariant   *request,
                        GError    **error)
{
  const gchar *name;
  guint64 job;

  if (g_variant_is_of_type (request, G_VARIANT_TYPE ("(st)")))
    {
      g_variant_get (request, "(&st)", &name, &job);
      g_assert (g_str_equal (name, REQUEST_REPLACE_STATE));
      return replace_state (self, (ReplaceJob *) (guintptr) job, error);
    }

  name = g_variant_get_string (request, NULL);
  if (g_str_equal (name, REQUEST_GET_STATE))
    return get_state (self, error);

  g_assert (g_str_equal (name, REQUEST_FORMAT_STATUS));
  {
    g_autoptr(GVariant) state = format_state (self);

    return g_variant_ref_sink (g_variant_new_maybe (G_VARIANT_TYPE_VARIANT,
                                                    state != NULL ? g_variant_new_variant (state) : NULL));
  }
}

gboolean
gen_run_hold (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  if (G_UNLIKELY (g_atomic_int_get (&priv->n_system) > 0))
    {
      GenCall *call;

      for (;;)
        {
          g_mutex_lock (&priv->lock);
          call = g_queue_pop_head (&priv->system_queue);
          if (call != NULL)
            g_atomic_int_add (&priv->n_system, -1);
          g_mutex_unlock (&priv->lock);
          if (call == NULL)
            break;

          /* A requester that gave up already is not answered. */
          if (gen_call_begin_running (call))
            {
              GError *error = NULL;
              GVariant *reply = gen_run_system_request (self, call->message, &error);

              gen_call_answer (call, reply, error);
            }
          gen_call_unref (call);
        }
    }

  return run_holds (priv);
}

gboolean
gen_run_wants_turn (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);

  if (g_atomic_int_get (&priv->n_system) > 0)
    return TRUE;
  /* Under the mailbox's lock: a push that found the run flag set relies
   * on this look, which follows letting go of the flag, to see it. */
  if (gen_mailbox_length (&priv->mailbox) <= 0)
    return FALSE;
  return !g_atomic_int_get (&priv->suspended) ||
         g_atomic_int_get (&priv->status) != GEN_STATUS_RUNNING;
}

void
gen_run_refuse_system (GenServer *self)
{
  GenServerPrivate *priv = gen_server_get_private (self);
  GenCall *call;

  g_mutex_lock (&priv->lock);
  while ((call = g_queue_pop_head (&priv->system_queue)) != NULL)
    {
      g_atomic_int_add (&priv->n_system, -1);
      gen_call_answer (call, NULL,
                       g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED,
                                    "%s stopped before giving its status",
                                    gen_server_name (self)));
      gen_call_unref (call);
    }
  g_mutex_unlock (&priv->lock);
}
