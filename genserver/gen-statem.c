/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The GenStatem type and its engine: events, timeouts, transitions, and
 * the GenServer vfuncs that turn messages into events. The actions a
 * callback asks for are in gen-statem-actions.c.
 *
 * The file is past ~1,200 lines and stays whole: about 250 of them are
 * documentation and comments, and its sections all work on one machine's state (the
 * current state, the postponed and inserted events, the armed timeouts)
 * in the order gen_statem runs them; split further, that state's rules
 * would be spread over several files.
 */

#include "config.h"

#include "gen-core-private.h"
#include "gen-statem-private.h"

/**
 * GenStatem:
 *
 * A state machine: Erlang/OTP's `gen_statem`, in its
 * `handle_event_function` mode.
 *
 * A state machine is a [class@Gen.Server]: it is started, called, cast to,
 * monitored, supervised and registered like any other, on its own thread or
 * on a [property@Gen.Server:main-context]. What changes is how it handles
 * messages. Every call, cast and info message becomes an *event*, handed to
 * one vfunc, `handle_event`, together with the current *state*, a
 * [struct@GLib.Variant] (often a string). It returns the next state. The
 * machine's data lives in the instance, as a server's does.
 *
 * While `handle_event` runs, it asks for *actions*, which take effect in
 * order once it returns:
 *
 * - [method@Gen.Statem.reply] answers the current call (or a call taken
 *   earlier with [method@Gen.Statem.take_reply]): one event may answer
 *   several calls;
 * - [method@Gen.Statem.postpone] keeps the event for later: postponed
 *   events are handled again, in the order they came, after the next state
 *   change;
 * - [method@Gen.Statem.next_event] inserts an event, handled before any
 *   message waiting in the mailbox;
 * - [method@Gen.Statem.set_state_timeout] (cancelled by a state change),
 *   [method@Gen.Statem.set_timeout] (named, cancelled only by you) and
 *   [method@Gen.Statem.set_event_timeout] (cancelled by any event) arm
 *   timeouts, which arrive as events of their own type; a negative time
 *   cancels one, and a time of 0 comes before any message still in the
 *   mailbox;
 * - [method@Gen.Statem.repeat_state] runs the state enter call again
 *   without changing state.
 *
 * A class that calls [method@Gen.StatemClass.set_state_enter] (or an
 * instance constructed with [property@Gen.Statem:state-enter]) also gets a
 * %GEN_STATEM_EVENT_ENTER event each time it enters a state, its first one
 * included, with the previous state as content.
 *
 * A door lock, Erlang's own example, in C:
 *
 * ```c
 * static GVariant *
 * door_handle_event (GenStatem *statem, GenStatemEventType type,
 *                    GVariant *content, GVariant *state, GError **error)
 * {
 *   Door *self = DOOR (statem);
 *   const gchar *name = g_variant_get_string (state, NULL);
 *
 *   if (type == GEN_STATEM_EVENT_CAST && g_str_equal (name, "locked"))
 *     {
 *       if (!g_str_equal (g_variant_get_string (content, NULL), self->code))
 *         return NULL;                             // keep the state
 *       gen_statem_set_state_timeout (statem, 10000, g_variant_new ("s", "lock"));
 *       return g_variant_new_string ("open");
 *     }
 *   if (type == GEN_STATEM_EVENT_STATE_TIMEOUT)
 *     return g_variant_new_string ("locked");
 *   if (type == GEN_STATEM_EVENT_CALL)
 *     gen_statem_reply (statem, NULL, state);     // what state are you in?
 *   return NULL;
 * }
 * ```
 *
 * Where this differs from Erlang, and why:
 *
 * - a call that `handle_event` neither answers, takes nor postpones is
 *   answered with %GEN_SERVER_ERROR_NO_REPLY when the event is done,
 *   rather than left waiting for its timeout: every call is answered once;
 * - an error for a call event goes to that caller and the machine goes on,
 *   as from a server's `handle_call`; an error for any other event is a
 *   crash;
 * - there is no `hibernate`: an idle server already sleeps on its
 *   mailbox and keeps no stack to shrink.
 *
 * Since: 1.0
 */

G_DEFINE_TYPE_WITH_PRIVATE (GenStatem, gen_statem, GEN_TYPE_SERVER)

GenStatemPrivate *
gen_statem_get_private (GenStatem *self)
{
  return gen_statem_get_instance_private (self);
}

enum
{
  PROP_0,
  PROP_STATE_ENTER,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The first member of a timer message: nobody else sends this string. */
#define TIMER_TAG "gen-statem-timeout"

static G_DEFINE_QUARK (gen-statem-state-enter, class_state_enter)
static G_DEFINE_QUARK (gen-statem-state-functions, class_state_functions)

const gchar *
gen_statem_name (GenStatem *self)
{
  return G_OBJECT_TYPE_NAME (self);
}

/* Events ----------------------------------------------------------------- */

Event *
gen_statem_event_new (GenStatemEventType  type,
           GVariant           *content,
           GenReply           *reply,
           const gchar        *timeout_name)
{
  Event *event = g_new0 (Event, 1);

  event->type = type;
  event->content = g_variant_ref_sink (content);
  event->reply = reply;
  event->timeout_name = g_strdup (timeout_name);
  return event;
}

/* Frees @event; a call nobody answered is answered with @code. */
void
gen_statem_event_free_answering (GenStatem *self,
                      Event     *event,
                      gint       code)
{
  if (event->reply != NULL && !gen_reply_is_answered (event->reply))
    {
      g_autoptr(GError) error = NULL;

      if (code == GEN_SERVER_ERROR_STOPPED)
        error = g_error_new (GEN_SERVER_ERROR, code,
                             "%s stopped before it answered the call", gen_statem_name (self));
      else
        error = g_error_new (GEN_SERVER_ERROR, code,
                             "%s’s handle_event neither answered the call nor took or postponed it",
                             gen_statem_name (self));
      gen_reply_return_error (event->reply, error);
    }
  g_clear_object (&event->reply);
  g_variant_unref (event->content);
  g_free (event->timeout_name);
  g_free (event);
}

static void
timeout_clear (Timeout *timeout)
{
  timeout->timer_id = 0;
  timeout->zero = FALSE;
  g_clear_pointer (&timeout->content, g_variant_unref);
}

static gboolean
timeout_is_armed (Timeout *timeout)
{
  return timeout->timer_id != 0 || timeout->zero;
}

static void
timeout_free (gpointer data)
{
  timeout_clear (data);
  g_free (data);
}

void
gen_statem_actions_free_timeout (gpointer data)
{
  TimeoutAction *action = data;

  g_free (action->name);
  g_clear_pointer (&action->content, g_variant_unref);
  g_free (action);
}

void
gen_statem_actions_free_reply (gpointer data)
{
  ReplyAction *action = data;

  g_clear_object (&action->reply);
  g_clear_pointer (&action->value, g_variant_unref);
  g_clear_error (&action->error);
  g_free (action);
}

/* Actions ---------------------------------------------------------------- */

void
gen_statem_actions_begin (GenStatem *self,
               Event     *event)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);

  g_assert (!priv->actions.active);
  priv->actions.active = TRUE;
  priv->actions.in_init = event == NULL;
  priv->actions.event = event;
  priv->actions.reply_taken = FALSE;
  priv->actions.postpone = FALSE;
  priv->actions.repeat_state = FALSE;
  priv->actions.stop = FALSE;
  priv->timeout_name = event != NULL ? event->timeout_name : NULL;
}

/* Ends the callback; the actions stay in priv->actions until dropped. */
void
gen_statem_actions_end (GenStatem *self)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);

  priv->actions.active = FALSE;
  priv->actions.event = NULL;
  priv->timeout_name = NULL;
}

void
gen_statem_actions_drop (GenStatem *self)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  Event *event;

  g_ptr_array_set_size (priv->actions.replies, 0);
  g_ptr_array_set_size (priv->actions.timeouts, 0);
  while ((event = g_queue_pop_head (&priv->actions.next_events)) != NULL)
    gen_statem_event_free_answering (self, event, GEN_SERVER_ERROR_STOPPED);
  priv->actions.postpone = FALSE;
  priv->actions.repeat_state = FALSE;
  priv->actions.stop = FALSE;
  g_clear_error (&priv->actions.stop_reason);
}

/* Timeouts --------------------------------------------------------------- */

static void
timeout_cancel (GenStatem *self,
                Timeout   *timeout)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);

  if (timeout->timer_id != 0)
    gen_server_cancel_timer (GEN_SERVER (self), timeout->timer_id);
  if (timeout->zero)
    g_queue_remove (&priv->t0q, timeout);
  timeout_clear (timeout);
}

/* @zero_timer: a 0 ms timeout through a timer all the same, as Erlang
 * does for an absolute time already past. */
static void
timeout_arm (GenStatem *self,
             Timeout   *timeout,
             gint       timeout_ms,
             GVariant  *content,
             gboolean   zero_timer)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  g_autoptr(GError) error = NULL;

  /* Setting a running timeout restarts it, as in Erlang. */
  timeout_cancel (self, timeout);
  if (timeout_ms < 0)
    return;

  timeout->token = ++priv->last_token;
  if (timeout_ms == 0 && !zero_timer)
    {
      timeout->zero = TRUE;
      timeout->content = g_variant_ref (content);
      g_queue_push_tail (&priv->t0q, timeout);
      return;
    }
  timeout->timer_id = gen_server_send_after (GEN_SERVER (self),
                                             g_variant_new ("(st)", TIMER_TAG, timeout->token),
                                             (guint) timeout_ms, &error);
  /* Refused only while the server stops, when no timeout matters. */
  if (timeout->timer_id != 0)
    timeout->content = g_variant_ref (content);
}

/* The milliseconds from now to @deadline, rounded up so that the timeout
 * never comes early; 0 for a time past. */
static gint
ms_until (gint64 deadline)
{
  gint64 remaining = deadline - g_get_monotonic_time ();

  if (remaining <= 0)
    return 0;
  return (gint) MIN ((remaining + 999) / 1000, G_MAXINT);
}

static void
apply_timeout (GenStatem     *self,
               Timeout       *timeout,
               TimeoutAction *action)
{
  switch (action->op)
    {
    case OP_SET:
      timeout_arm (self, timeout, action->timeout_ms, action->content, FALSE);
      break;
    case OP_SET_AT:
      timeout_arm (self, timeout, ms_until (action->deadline), action->content, TRUE);
      break;
    case OP_UPDATE:
      /* Erlang: a running timeout keeps its time and gets the new
       * content; one that does not run starts as a zero timeout. */
      if (timeout_is_armed (timeout))
        {
          g_variant_unref (timeout->content);
          timeout->content = g_variant_ref (action->content);
        }
      else
        timeout_arm (self, timeout, 0, action->content, FALSE);
      break;
    case OP_CANCEL:
      timeout_cancel (self, timeout);
      break;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
timeout_action_same_timeout (TimeoutAction *a,
                             TimeoutAction *b)
{
  return a->kind == b->kind && g_strcmp0 (a->name, b->name) == 0;
}

static void
apply_timeouts (GenStatem *self)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  GPtrArray *actions = priv->actions.timeouts;

  for (guint i = 0; i < actions->len; i++)
    {
      TimeoutAction *action = g_ptr_array_index (actions, i);
      gboolean superseded = FALSE;
      Timeout *timeout;

      /* Erlang: of the actions one callback asks for on one timeout, the
       * last one alone counts (an update after a set updates what ran
       * before the callback, not the set). Action lists are short. */
      for (guint j = i + 1; j < actions->len && !superseded; j++)
        superseded = timeout_action_same_timeout (action, g_ptr_array_index (actions, j));
      if (superseded)
        continue;

      switch (action->kind)
        {
        case KIND_STATE:
          apply_timeout (self, &priv->state_timeout, action);
          break;
        case KIND_EVENT:
          apply_timeout (self, &priv->event_timeout, action);
          break;
        case KIND_GENERIC:
          timeout = g_hash_table_lookup (priv->timeouts, action->name);
          if (timeout == NULL)
            {
              timeout = g_new0 (Timeout, 1);
              g_hash_table_insert (priv->timeouts, g_strdup (action->name), timeout);
            }
          apply_timeout (self, timeout, action);
          if (!timeout_is_armed (timeout))
            g_hash_table_remove (priv->timeouts, action->name);
          break;
        default:
          g_assert_not_reached ();
        }
    }
  g_ptr_array_set_size (priv->actions.timeouts, 0);
}

/* The event of @timeout, which fired: it is disarmed (a generic one
 * forgotten). */
static Event *
timeout_fire (GenStatem *self,
              Timeout   *timeout)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  GHashTableIter iter;
  gpointer name;
  gpointer value;
  Event *event;

  if (timeout->zero)
    g_queue_remove (&priv->t0q, timeout);

  if (timeout == &priv->state_timeout || timeout == &priv->event_timeout)
    {
      event = gen_statem_event_new (timeout == &priv->state_timeout ?
                         GEN_STATEM_EVENT_STATE_TIMEOUT : GEN_STATEM_EVENT_EVENT_TIMEOUT,
                         timeout->content, NULL, NULL);
      timeout_clear (timeout);
      return event;
    }

  g_hash_table_iter_init (&iter, priv->timeouts);
  while (g_hash_table_iter_next (&iter, &name, &value))
    if (value == timeout)
      {
        event = gen_statem_event_new (GEN_STATEM_EVENT_TIMEOUT, timeout->content, NULL, name);
        g_hash_table_iter_remove (&iter);
        return event;
      }
  g_assert_not_reached ();
}

/* The event of a timer message, or NULL if @message is not one of the
 * timeouts armed now. */
static Event *
timeout_event_take (GenStatem *self,
                    GVariant  *message)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  const gchar *tag;
  guint64 token;
  GHashTableIter iter;
  Timeout *timeout;

  if (!g_variant_is_of_type (message, G_VARIANT_TYPE ("(st)")))
    return NULL;
  g_variant_get (message, "(&st)", &tag, &token);
  if (!g_str_equal (tag, TIMER_TAG))
    return NULL;

  if (priv->state_timeout.timer_id != 0 && priv->state_timeout.token == token)
    return timeout_fire (self, &priv->state_timeout);
  if (priv->event_timeout.timer_id != 0 && priv->event_timeout.token == token)
    return timeout_fire (self, &priv->event_timeout);
  g_hash_table_iter_init (&iter, priv->timeouts);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &timeout))
    if (timeout->timer_id != 0 && timeout->token == token)
      return timeout_fire (self, timeout);

  return NULL;
}

/* Transitions ------------------------------------------------------------ */

static void
set_state (GenStatem *self,
           GVariant  *state)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  GVariant *old;

  g_mutex_lock (&priv->state_lock);
  old = g_steal_pointer (&priv->state);
  priv->state = g_variant_ref (state);
  g_mutex_unlock (&priv->state_lock);
  g_clear_pointer (&old, g_variant_unref);
}

/* The current state; only the handler thread may use it without a lock,
 * being the only writer. */
static GVariant *
current_state (GenStatem *self)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);

  return priv->state;
}

static void
run_replies (GenStatem *self,
             Event     *event)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);

  for (guint i = 0; i < priv->actions.replies->len; i++)
    {
      ReplyAction *action = g_ptr_array_index (priv->actions.replies, i);
      GenReply *reply = action->reply;

      if (reply == NULL)
        reply = event != NULL ? event->reply : NULL;
      if (reply == NULL)
        continue; /* refused when it was asked for */
      if (action->error != NULL)
        gen_reply_return_error (reply, action->error);
      else
        gen_reply_return_value (reply, action->value);
    }
  g_ptr_array_set_size (priv->actions.replies, 0);
}

/* Puts the inserted events in front of the pending ones, keeping their
 * order: the first inserted is the next handled. */
static void
insert_next_events (GenStatem *self)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  Event *event;

  while ((event = g_queue_pop_tail (&priv->actions.next_events)) != NULL)
    g_queue_push_head (&priv->pending, event);
}

/* The stop action, once the replies are sent: what is left of the
 * callback's actions goes (inserted calls are answered STOPPED), and the
 * machine stops after the current message. */
static void
run_stop (GenStatem *self)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  g_autoptr(GError) reason = g_steal_pointer (&priv->actions.stop_reason);

  gen_statem_actions_drop (self);
  if (reason != NULL)
    gen_server_stop_with_reason (GEN_SERVER (self), reason, 0, NULL);
  else
    gen_server_stop (GEN_SERVER (self), 0, NULL);
}

/* Runs the state enter call for entering the current state from @old,
 * again as long as it asks for repeat_state (Erlang runs a state enter
 * call that returns repeat_state again, with the same previous state).
 * Returns the crash, if any. */
static GError *
run_enter (GenStatem *self,
           GVariant  *old)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  g_autoptr(GVariant) state = g_variant_ref (current_state (self));
  gboolean repeat;

  do
    {
      g_autoptr(GVariant) next = NULL;
      Event enter = { GEN_STATEM_EVENT_ENTER, old, NULL, NULL };
      GError *error = NULL;

      gen_statem_actions_begin (self, &enter);
      next = GEN_STATEM_GET_CLASS (self)->handle_event (self, GEN_STATEM_EVENT_ENTER,
                                                        old, state, &error);
      gen_statem_actions_end (self);
      if (next != NULL)
        g_variant_take_ref (next);

      if (error == NULL && next != NULL && !g_variant_equal (next, state))
        error = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                             "%s’s state enter call tried to change the state", gen_statem_name (self));
      if (error != NULL)
        {
          gen_statem_actions_drop (self);
          return error;
        }

      repeat = priv->actions.repeat_state;
      priv->actions.repeat_state = FALSE;
      run_replies (self, NULL);
      if (priv->actions.stop)
        {
          run_stop (self);
          return NULL;
        }
      apply_timeouts (self);
    }
  while (repeat && gen_server_is_running (GEN_SERVER (self)));

  return NULL;
}

/* Handles one event (owned) in the current state. Returns the crash, if
 * any; an error for a call event goes to its caller instead. */
static GError *
handle_one (GenStatem *self,
            Event     *event)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  g_autoptr(GVariant) state = g_variant_ref (current_state (self));
  g_autoptr(GVariant) next = NULL;
  GError *error = NULL;
  gboolean changed;
  gboolean repeat;

  /* Any event cancels the event timeout, the timeout's own event aside,
   * whose timer is already spent. */
  timeout_cancel (self, &priv->event_timeout);

  gen_statem_actions_begin (self, event);
  next = GEN_STATEM_GET_CLASS (self)->handle_event (self, event->type, event->content,
                                                    state, &error);
  gen_statem_actions_end (self);
  if (next != NULL)
    g_variant_take_ref (next);

  if (error != NULL)
    {
      gen_statem_actions_drop (self);
      if (event->type == GEN_STATEM_EVENT_CALL && priv->actions.reply_taken)
        {
          /* As for a server's deferred reply: the handle answers, so the
           * error has nowhere to go. */
          g_critical ("%s’s handle_event took the reply handle and also set an error; "
                      "it is ignored: %s", gen_statem_name (self), error->message);
          g_clear_error (&error);
          g_clear_object (&event->reply);
        }
      else if (event->type == GEN_STATEM_EVENT_CALL && event->reply != NULL)
        {
          gen_reply_return_error (event->reply, error);
          g_clear_error (&error);
        }
      gen_statem_event_free_answering (self, event, GEN_SERVER_ERROR_STOPPED);
      return error;
    }

  if (priv->actions.reply_taken)
    g_clear_object (&event->reply);

  repeat = priv->actions.repeat_state;
  priv->actions.repeat_state = FALSE;
  changed = next != NULL && !g_variant_equal (next, state);
  /* Before the replies, so that a caller sees the state it led to. */
  if (changed)
    set_state (self, next);

  run_replies (self, event);

  if (priv->actions.stop)
    {
      /* stop_and_reply: a call it left unanswered learns that the machine
       * went down. */
      gen_statem_event_free_answering (self, event, GEN_SERVER_ERROR_STOPPED);
      run_stop (self);
      return NULL;
    }

  if (priv->actions.postpone)
    {
      priv->actions.postpone = FALSE;
      g_queue_push_tail (&priv->postponed, event);
    }
  else
    gen_statem_event_free_answering (self, event, GEN_SERVER_ERROR_NO_REPLY);

  if (changed)
    {
      Event *postponed;

      /* Erlang's order: the state timeout of the old state goes, the
       * postponed events come back first, in the order they came, and the
       * inserted events go before them. */
      timeout_cancel (self, &priv->state_timeout);
      while ((postponed = g_queue_pop_tail (&priv->postponed)) != NULL)
        g_queue_push_head (&priv->pending, postponed);
    }
  insert_next_events (self);
  apply_timeouts (self);

  if ((changed || repeat) && priv->state_enter)
    return run_enter (self, state);

  return NULL;
}

/* The next event that comes before the mailbox: an inserted or retried
 * one, else a zero timeout; NULL when the mailbox is next. */
static Event *
next_internal_event (GenStatem *self)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  Event *event = g_queue_pop_head (&priv->pending);

  if (event == NULL && priv->t0q.length > 0)
    event = timeout_fire (self, g_queue_peek_head (&priv->t0q));
  return event;
}

/* Handles the inserted and retried events, then the zero timeouts, until
 * none is left or the server must stop. Returns the crash, if any. */
static GError *
drain_pending (GenStatem *self)
{
  Event *event;

  while (gen_server_is_running (GEN_SERVER (self)) &&
         (event = next_internal_event (self)) != NULL)
    {
      GError *error = handle_one (self, event);

      if (error != NULL)
        return error;
    }

  return NULL;
}

/* Handles a message that came from the mailbox, then what it inserted. */
static GError *
handle_message (GenStatem *self,
                Event     *event)
{
  GError *error = handle_one (self, event);

  if (error != NULL)
    return error;
  return drain_pending (self);
}

/* The GenServer side ---------------------------------------------------- */

static void
reset_run (GenStatem *self)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  Event *event;

  gen_statem_actions_drop (self);
  while ((event = g_queue_pop_head (&priv->pending)) != NULL)
    gen_statem_event_free_answering (self, event, GEN_SERVER_ERROR_STOPPED);
  while ((event = g_queue_pop_head (&priv->postponed)) != NULL)
    gen_statem_event_free_answering (self, event, GEN_SERVER_ERROR_STOPPED);
  /* The server cancelled the timers themselves. */
  g_queue_clear (&priv->t0q);
  timeout_clear (&priv->state_timeout);
  timeout_clear (&priv->event_timeout);
  g_hash_table_remove_all (priv->timeouts);
  priv->initial_pending = FALSE;
}

/* An exit hook: runs where the server finishes, after terminate, so that
 * postponed calls are answered STOPPED and nothing of the run is kept. */
static void
statem_exited (GenServer    *server,
               const GError *reason,
               gpointer      user_data)
{
  reset_run (GEN_STATEM (server));
}

static void
gen_statem_init_server (GenServer  *server,
                        GVariant   *args,
                        GError    **error)
{
  GenStatem *self = GEN_STATEM (server);
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  g_autoptr(GVariant) state = NULL;
  GError *local_error = NULL;

  reset_run (self);

  gen_statem_actions_begin (self, NULL);
  state = GEN_STATEM_GET_CLASS (self)->init_state (self, args, &local_error);
  gen_statem_actions_end (self);
  if (state != NULL)
    g_variant_take_ref (state);

  if (local_error == NULL && state == NULL)
    local_error = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                               "%s’s init_state returned no state", gen_statem_name (self));
  if (local_error != NULL)
    {
      gen_statem_actions_drop (self);
      g_propagate_error (error, local_error);
      return;
    }

  gen_monitor_watch (server, statem_exited, NULL, NULL, GEN_WATCH_DEFAULT);

  set_state (self, state);
  insert_next_events (self);
  apply_timeouts (self);
  /* The first enter call and the inserted events run once the machine
   * runs, before any message from the mailbox, as in Erlang. */
  if (priv->state_enter || priv->pending.length > 0 || priv->t0q.length > 0)
    {
      priv->initial_pending = TRUE;
      gen_server_continue (server, g_variant_new ("()"));
    }
}

static void
gen_statem_handle_continue (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  GenStatem *self = GEN_STATEM (server);
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  GError *crash = NULL;

  if (!priv->initial_pending)
    {
      /* Somebody else's continue: an internal event, which is what it is
       * for a state machine. */
      crash = handle_message (self, gen_statem_event_new (GEN_STATEM_EVENT_INTERNAL, message, NULL, NULL));
      if (crash != NULL)
        g_propagate_error (error, crash);
      return;
    }

  priv->initial_pending = FALSE;
  if (priv->state_enter)
    crash = run_enter (self, current_state (self));
  if (crash == NULL)
    crash = drain_pending (self);
  if (crash != NULL)
    g_propagate_error (error, crash);
}

static void
gen_statem_handle_cast (GenServer  *server,
                        GVariant   *message,
                        GError    **error)
{
  GenStatem *self = GEN_STATEM (server);
  GError *crash;

  crash = handle_message (self, gen_statem_event_new (GEN_STATEM_EVENT_CAST, message, NULL, NULL));
  if (crash != NULL)
    g_propagate_error (error, crash);
}

static void
gen_statem_handle_info (GenServer  *server,
                        GVariant   *message,
                        GError    **error)
{
  GenStatem *self = GEN_STATEM (server);
  Event *event;
  GError *crash;

  event = timeout_event_take (self, message);
  if (event == NULL)
    event = gen_statem_event_new (GEN_STATEM_EVENT_INFO, message, NULL, NULL);

  crash = handle_message (self, event);
  if (crash != NULL)
    g_propagate_error (error, crash);
}

static GVariant *
gen_statem_handle_call (GenServer  *server,
                        GVariant   *message,
                        GError    **error)
{
  GenStatem *self = GEN_STATEM (server);
  GError *crash;

  /* Always deferred: the call may be postponed, or answered by a later
   * event. */
  crash = handle_message (self, gen_statem_event_new (GEN_STATEM_EVENT_CALL, message,
                                           gen_server_take_reply (server), NULL));
  if (crash != NULL)
    {
      /* Not @error, which would go to the caller: the call itself was
       * answered; what failed is an event it led to. */
      gen_server_stop_with_reason (server, crash, 0, NULL);
      g_error_free (crash);
    }

  return NULL;
}

static GVariant *
gen_statem_real_init_state (GenStatem  *self,
                            GVariant   *args,
                            GError    **error)
{
  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
               "%s does not implement init_state", gen_statem_name (self));
  return NULL;
}

/* The state_functions table of @type or its nearest ancestor that has
 * one: state name → GenStatemStateFunc. Written in class_init, read-only
 * afterwards. */
static GHashTable *
class_state_functions_lookup (GType type)
{
  for (; type != 0; type = g_type_parent (type))
    {
      GHashTable *table = g_type_get_qdata (type, class_state_functions_quark ());

      if (table != NULL)
        return table;
    }
  return NULL;
}

static GVariant *
gen_statem_real_handle_event (GenStatem           *self,
                              GenStatemEventType   event_type,
                              GVariant            *event_content,
                              GVariant            *state,
                              GError             **error)
{
  GHashTable *functions = class_state_functions_lookup (G_OBJECT_TYPE (self));

  if (functions != NULL)
    {
      GenStatemStateFunc func = NULL;
      g_autofree gchar *printed = NULL;

      if (g_variant_is_of_type (state, G_VARIANT_TYPE_STRING))
        func = g_hash_table_lookup (functions, g_variant_get_string (state, NULL));
      if (func != NULL)
        return func (self, event_type, event_content, error);

      /* Erlang: calling an undefined state function is a crash. */
      printed = g_variant_print (state, TRUE);
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                   "%s has no state function for the state %s", gen_statem_name (self), printed);
      return NULL;
    }

  if (event_type == GEN_STATEM_EVENT_CALL)
    g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                 "%s does not handle events", gen_statem_name (self));
  return NULL;
}

/* sys:get_state and sys:replace_state: (state, data), on the handler
 * thread. */
static GVariant *
gen_statem_dump_state (GenServer *server)
{
  GenStatem *self = GEN_STATEM (server);
  GenStatemClass *klass = GEN_STATEM_GET_CLASS (self);
  g_autoptr(GVariant) data = NULL;

  if (klass->dump_data != NULL && (data = klass->dump_data (self)) != NULL)
    g_variant_take_ref (data);
  return g_variant_new ("(vmv)", current_state (self), data);
}

static gboolean
gen_statem_load_state (GenServer  *server,
                       GVariant   *state,
                       GError    **error)
{
  GenStatem *self = GEN_STATEM (server);
  GenStatemClass *klass = GEN_STATEM_GET_CLASS (self);
  g_autoptr(GVariant) next = NULL;
  g_autoptr(GVariant) data = NULL;

  if (!g_variant_is_of_type (state, G_VARIANT_TYPE ("(vmv)")))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "%s’s state is a (state, data) of type “(vmv)”, got “%s”",
                   gen_statem_name (self), g_variant_get_type_string (state));
      return FALSE;
    }
  g_variant_get (state, "(vmv)", &next, &data);
  if (data != NULL)
    {
      if (klass->load_data == NULL)
        {
          g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                       "%s does not take new data: its class has no load_data",
                       gen_statem_name (self));
          return FALSE;
        }
      if (!klass->load_data (self, data, error))
        return FALSE;
    }
  /* As Erlang: the state is set, without enter calls or retried events. */
  set_state (self, next);
  return TRUE;
}

/* GObject ---------------------------------------------------------------- */

static gboolean
class_state_enter_lookup (GType type)
{
  for (; type != 0; type = g_type_parent (type))
    {
      gpointer value = g_type_get_qdata (type, class_state_enter_quark ());

      if (value != NULL)
        return GPOINTER_TO_INT (value) == 2;
    }
  return FALSE;
}

static void
gen_statem_constructed (GObject *object)
{
  GenStatem *self = GEN_STATEM (object);
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);

  G_OBJECT_CLASS (gen_statem_parent_class)->constructed (object);

  /* A construct-only property is always set, to its default if not
   * given: so the class can only turn state enter calls on. */
  if (class_state_enter_lookup (G_OBJECT_TYPE (self)))
    priv->state_enter = TRUE;
}

static void
gen_statem_finalize (GObject *object)
{
  GenStatem *self = GEN_STATEM (object);
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);

  reset_run (self);
  g_ptr_array_unref (priv->actions.replies);
  g_ptr_array_unref (priv->actions.timeouts);
  g_hash_table_unref (priv->timeouts);
  g_clear_pointer (&priv->state, g_variant_unref);
  g_mutex_clear (&priv->state_lock);

  G_OBJECT_CLASS (gen_statem_parent_class)->finalize (object);
}

static void
gen_statem_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (GEN_STATEM (object));

  switch (prop_id)
    {
    case PROP_STATE_ENTER:
      g_value_set_boolean (value, priv->state_enter);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_statem_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (GEN_STATEM (object));

  switch (prop_id)
    {
    case PROP_STATE_ENTER:
      priv->state_enter = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_statem_class_init (GenStatemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  object_class->constructed = gen_statem_constructed;
  object_class->finalize = gen_statem_finalize;
  object_class->get_property = gen_statem_get_property;
  object_class->set_property = gen_statem_set_property;

  server_class->init = gen_statem_init_server;
  server_class->handle_call = gen_statem_handle_call;
  server_class->handle_cast = gen_statem_handle_cast;
  server_class->handle_info = gen_statem_handle_info;
  server_class->handle_continue = gen_statem_handle_continue;
  server_class->dump_state = gen_statem_dump_state;
  server_class->load_state = gen_statem_load_state;

  klass->init_state = gen_statem_real_init_state;
  klass->handle_event = gen_statem_real_handle_event;

  /**
   * GenStatem:state-enter:
   *
   * Whether `handle_event` gets a %GEN_STATEM_EVENT_ENTER event each time
   * the machine enters a state (Erlang's `state_enter` callback mode).
   * It is always on for a class that turned it on with
   * [method@Gen.StatemClass.set_state_enter]; a class without state enter
   * calls can have them per instance with this property.
   *
   * Since: 1.0
   */
  properties[PROP_STATE_ENTER] =
    g_param_spec_boolean ("state-enter", NULL, NULL,
                          FALSE,
                          (G_PARAM_READWRITE |
                           G_PARAM_CONSTRUCT_ONLY |
                           G_PARAM_EXPLICIT_NOTIFY |
                           G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gen_statem_init (GenStatem *self)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);

  g_mutex_init (&priv->state_lock);
  priv->actions.replies = g_ptr_array_new_with_free_func (gen_statem_actions_free_reply);
  priv->actions.timeouts = g_ptr_array_new_with_free_func (gen_statem_actions_free_timeout);
  g_queue_init (&priv->actions.next_events);
  g_queue_init (&priv->pending);
  g_queue_init (&priv->postponed);
  g_queue_init (&priv->t0q);
  priv->timeouts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, timeout_free);
}

/* Public API ------------------------------------------------------------- */


/**
 * gen_statem_dup_state:
 * @self: a #GenStatem
 *
 * Gets the machine's current state, from any thread (as Erlang's
 * `sys:get_state/1` does). The answer may be stale by the time you read
 * it; inside `handle_event`, use its @state argument.
 *
 * Returns: (transfer full) (nullable): the current state (the last one,
 *   once stopped), or %NULL if the machine never started
 *
 * Since: 1.0
 */
GVariant *
gen_statem_dup_state (GenStatem *self)
{
  GenStatemPrivate *priv;
  GVariant *state;

  g_return_val_if_fail (GEN_IS_STATEM (self), NULL);

  priv = gen_statem_get_instance_private (self);
  g_mutex_lock (&priv->state_lock);
  state = priv->state != NULL ? g_variant_ref (priv->state) : NULL;
  g_mutex_unlock (&priv->state_lock);
  return state;
}

/**
 * gen_statem_get_timeout_name:
 * @self: a #GenStatem
 *
 * The name of the generic timeout being handled: inside `handle_event`
 * for a %GEN_STATEM_EVENT_TIMEOUT event, the name given to
 * [method@Gen.Statem.set_timeout].
 *
 * Returns: (nullable): the name, or %NULL for any other event
 *
 * Since: 1.0
 */
const gchar *
gen_statem_get_timeout_name (GenStatem *self)
{
  GenStatemPrivate *priv;

  g_return_val_if_fail (GEN_IS_STATEM (self), NULL);

  priv = gen_statem_get_instance_private (self);
  return priv->timeout_name;
}

/**
 * gen_statem_class_set_state_enter:
 * @klass: a #GenStatemClass
 * @state_enter: whether the machines of @klass get state enter calls
 *
 * Turns state enter calls on (or off) for the machines of @klass and its
 * subclasses, whatever their [property@Gen.Statem:state-enter]. Call it
 * from `class_init`.
 *
 * Since: 1.0
 */
void
gen_statem_class_set_state_enter (GenStatemClass *klass,
                                  gboolean        state_enter)
{
  g_return_if_fail (GEN_IS_STATEM_CLASS (klass));

  /* 1 and 2 rather than 0 and 1: a missing qdata reads as NULL, and a
   * subclass can turn off what its parent turned on. */
  g_type_set_qdata (G_TYPE_FROM_CLASS (klass), class_state_enter_quark (),
                    GINT_TO_POINTER (state_enter ? 2 : 1));
}

/**
 * gen_statem_class_add_state_function:
 * @klass: a #GenStatemClass
 * @state: a state's name: the machine's states are strings (`s`)
 * @func: (scope forever): handles the events of @state
 *
 * Gives @state its own handler: Erlang's `state_functions` callback mode,
 * one function per state. A class that adds state functions does not
 * override [vfunc@Gen.Statem.handle_event]: the default one calls the
 * function of the current state (for a state enter call too), and an
 * event in a state that has none is an error (a crash, or the caller's
 * error for a call), as an undefined state function is in Erlang.
 * Subclasses inherit the table of their nearest ancestor that has one.
 * Call it from `class_init`.
 *
 * ```c
 * static GVariant *
 * locked (GenStatem *statem, GenStatemEventType type, GVariant *content, GError **error)
 * {
 *   if (type == GEN_STATEM_EVENT_CAST)
 *     return g_variant_new_string ("open");
 *   return NULL;
 * }
 *
 * static void
 * door_class_init (DoorClass *klass)
 * {
 *   gen_statem_class_add_state_function (GEN_STATEM_CLASS (klass), "locked", locked);
 *   gen_statem_class_add_state_function (GEN_STATEM_CLASS (klass), "open", open);
 * }
 * ```
 *
 * Python classes name their state functions `state_<name>` instead (see
 * the Python override's `Gen.Statem`).
 *
 * Since: 1.2
 */
void
gen_statem_class_add_state_function (GenStatemClass     *klass,
                                     const gchar        *state,
                                     GenStatemStateFunc  func)
{
  GType type;
  GHashTable *table;

  g_return_if_fail (GEN_IS_STATEM_CLASS (klass));
  g_return_if_fail (state != NULL);
  g_return_if_fail (func != NULL);

  type = G_TYPE_FROM_CLASS (klass);
  table = g_type_get_qdata (type, class_state_functions_quark ());
  if (table == NULL)
    {
      GHashTable *inherited = class_state_functions_lookup (type);
      GHashTableIter iter;
      gpointer key;
      gpointer value;

      /* Never freed: a class lives as long as the program. */
      table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      if (inherited != NULL)
        {
          g_hash_table_iter_init (&iter, inherited);
          while (g_hash_table_iter_next (&iter, &key, &value))
            g_hash_table_insert (table, g_strdup (key), value);
        }
      g_type_set_qdata (type, class_state_functions_quark (), table);
    }
  g_hash_table_insert (table, g_strdup (state), func);
}
