/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-core-private.h"
#include "gen-statem.h"

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

/* An event waiting to be handled (inserted or postponed). */
typedef struct
{
  GenStatemEventType type;
  GVariant *content;   /* owned */
  GenReply *reply;     /* owned, nullable: the caller of a call event */
  gchar *timeout_name; /* owned, nullable: a generic timeout's name */
} Event;

/* One armed timeout. A timer's message carries a token so that
 * handle_info can tell it from the user's own messages: a message only
 * counts as a timeout if its token is the one armed right now (a timer
 * that gen_server_cancel_timer() cancelled never arrives). */
typedef struct
{
  guint timer_id;    /* 0: no timer runs */
  gboolean zero;     /* armed with 0 ms: waits in the t0q, not in a timer */
  guint64 token;
  GVariant *content; /* owned, nullable when not armed */
} Timeout;

typedef enum
{
  KIND_STATE,
  KIND_GENERIC,
  KIND_EVENT,
} TimeoutKind;

typedef enum
{
  OP_SET,        /* in timeout_ms; negative: cancel */
  OP_SET_AT,     /* at deadline, on the monotonic clock */
  OP_UPDATE,     /* new content for a running timeout, else a zero one */
  OP_CANCEL,
} TimeoutOp;

typedef struct
{
  TimeoutKind kind;
  TimeoutOp op;
  gchar *name;       /* owned; generic timeouts only */
  gint timeout_ms;
  gint64 deadline;   /* µs, g_get_monotonic_time()'s clock */
  GVariant *content; /* owned, nullable for OP_CANCEL */
} TimeoutAction;

typedef struct
{
  GenReply *reply;   /* owned, nullable: the current call */
  GVariant *value;   /* owned; or */
  GError *error;     /* owned */
} ReplyAction;

/* What one callback (init_state or handle_event) asked for. */
typedef struct
{
  gboolean active;         /* inside a callback: actions are accepted */
  gboolean in_init;
  Event *event;            /* unowned: the event being handled; NULL in init_state */
  gboolean reply_taken;    /* the current call's reply went to the callback */
  gboolean postpone;
  gboolean repeat_state;
  gboolean stop;           /* stop once the replies are sent */
  GError *stop_reason;     /* owned, nullable: NULL is a normal stop */
  GPtrArray *replies;      /* ReplyAction, owned */
  GPtrArray *timeouts;     /* TimeoutAction, owned */
  GQueue next_events;      /* Event, owned */
} Actions;

typedef struct
{
  /* Written by the handler thread under state_lock, read by anybody
   * through gen_statem_dup_state(). */
  GMutex state_lock;
  GVariant *state;         /* owned, nullable before the first start */

  /* Set at construction, immutable afterwards. */
  gboolean state_enter;

  /* Only the handler thread (or the thread that finishes the server, once
   * the handler thread is done) touches the rest. */
  Actions actions;
  GQueue pending;           /* Event, owned: before the next mailbox message */
  GQueue postponed;         /* Event, owned: until the next state change */
  gboolean initial_pending; /* the first enter call and events are due */
  Timeout state_timeout;
  Timeout event_timeout;
  GHashTable *timeouts;     /* name (owned) → Timeout (owned) */
  /* Timeout (unowned: one of the above), armed with 0 ms, in the order
   * armed: Erlang's t0q. They come before the next mailbox message, after
   * the inserted and postponed events, without a timer, so that nothing
   * that arrives meanwhile can overtake them. */
  GQueue t0q;
  guint64 last_token;
  const gchar *timeout_name; /* unowned: of the event being handled */
} GenStatemPrivate;

G_DEFINE_TYPE_WITH_PRIVATE (GenStatem, gen_statem, GEN_TYPE_SERVER)

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

static const gchar *
statem_name (GenStatem *self)
{
  return G_OBJECT_TYPE_NAME (self);
}

/* Events ----------------------------------------------------------------- */

static Event *
event_new (GenStatemEventType  type,
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
static void
event_free_answering (GenStatem *self,
                      Event     *event,
                      gint       code)
{
  if (event->reply != NULL && !gen_reply_is_answered (event->reply))
    {
      g_autoptr(GError) error = NULL;

      if (code == GEN_SERVER_ERROR_STOPPED)
        error = g_error_new (GEN_SERVER_ERROR, code,
                             "%s stopped before it answered the call", statem_name (self));
      else
        error = g_error_new (GEN_SERVER_ERROR, code,
                             "%s’s handle_event neither answered the call nor took or postponed it",
                             statem_name (self));
      gen_reply_return_error (event->reply, error);
    }
  g_clear_object (&event->reply);
  g_variant_unref (event->content);
  g_free (event->timeout_name);
  g_free (event);
}

static void
timeout_action_free (gpointer data)
{
  TimeoutAction *action = data;

  g_free (action->name);
  g_clear_pointer (&action->content, g_variant_unref);
  g_free (action);
}

static void
reply_action_free (gpointer data)
{
  ReplyAction *action = data;

  g_clear_object (&action->reply);
  g_clear_pointer (&action->value, g_variant_unref);
  g_clear_error (&action->error);
  g_free (action);
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

/* Actions ---------------------------------------------------------------- */

static void
actions_begin (GenStatem *self,
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
static void
actions_end (GenStatem *self)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);

  priv->actions.active = FALSE;
  priv->actions.event = NULL;
  priv->timeout_name = NULL;
}

static void
actions_drop (GenStatem *self)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  Event *event;

  g_ptr_array_set_size (priv->actions.replies, 0);
  g_ptr_array_set_size (priv->actions.timeouts, 0);
  while ((event = g_queue_pop_head (&priv->actions.next_events)) != NULL)
    event_free_answering (self, event, GEN_SERVER_ERROR_STOPPED);
  priv->actions.postpone = FALSE;
  priv->actions.repeat_state = FALSE;
  priv->actions.stop = FALSE;
  g_clear_error (&priv->actions.stop_reason);
}

/* Checks that an action is asked for from inside a callback, on the
 * handler thread (the only one that may set priv->actions.active). */
static gboolean
actions_accepting (GenStatem   *self,
                   const gchar *what)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);

  if (!priv->actions.active)
    {
      g_critical ("%s: %s is an action: only from inside init_state or handle_event",
                  statem_name (self), what);
      return FALSE;
    }
  return TRUE;
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
      event = event_new (timeout == &priv->state_timeout ?
                         GEN_STATEM_EVENT_STATE_TIMEOUT : GEN_STATEM_EVENT_EVENT_TIMEOUT,
                         timeout->content, NULL, NULL);
      timeout_clear (timeout);
      return event;
    }

  g_hash_table_iter_init (&iter, priv->timeouts);
  while (g_hash_table_iter_next (&iter, &name, &value))
    if (value == timeout)
      {
        event = event_new (GEN_STATEM_EVENT_TIMEOUT, timeout->content, NULL, name);
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

  actions_drop (self);
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

      actions_begin (self, &enter);
      next = GEN_STATEM_GET_CLASS (self)->handle_event (self, GEN_STATEM_EVENT_ENTER,
                                                        old, state, &error);
      actions_end (self);
      if (next != NULL)
        g_variant_take_ref (next);

      if (error == NULL && next != NULL && !g_variant_equal (next, state))
        error = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                             "%s’s state enter call tried to change the state", statem_name (self));
      if (error != NULL)
        {
          actions_drop (self);
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

  actions_begin (self, event);
  next = GEN_STATEM_GET_CLASS (self)->handle_event (self, event->type, event->content,
                                                    state, &error);
  actions_end (self);
  if (next != NULL)
    g_variant_take_ref (next);

  if (error != NULL)
    {
      actions_drop (self);
      if (event->type == GEN_STATEM_EVENT_CALL && priv->actions.reply_taken)
        {
          /* As for a server's deferred reply: the handle answers, so the
           * error has nowhere to go. */
          g_critical ("%s’s handle_event took the reply handle and also set an error; "
                      "it is ignored: %s", statem_name (self), error->message);
          g_clear_error (&error);
          g_clear_object (&event->reply);
        }
      else if (event->type == GEN_STATEM_EVENT_CALL && event->reply != NULL)
        {
          gen_reply_return_error (event->reply, error);
          g_clear_error (&error);
        }
      event_free_answering (self, event, GEN_SERVER_ERROR_STOPPED);
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
      event_free_answering (self, event, GEN_SERVER_ERROR_STOPPED);
      run_stop (self);
      return NULL;
    }

  if (priv->actions.postpone)
    {
      priv->actions.postpone = FALSE;
      g_queue_push_tail (&priv->postponed, event);
    }
  else
    event_free_answering (self, event, GEN_SERVER_ERROR_NO_REPLY);

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

  actions_drop (self);
  while ((event = g_queue_pop_head (&priv->pending)) != NULL)
    event_free_answering (self, event, GEN_SERVER_ERROR_STOPPED);
  while ((event = g_queue_pop_head (&priv->postponed)) != NULL)
    event_free_answering (self, event, GEN_SERVER_ERROR_STOPPED);
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

  actions_begin (self, NULL);
  state = GEN_STATEM_GET_CLASS (self)->init_state (self, args, &local_error);
  actions_end (self);
  if (state != NULL)
    g_variant_take_ref (state);

  if (local_error == NULL && state == NULL)
    local_error = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                               "%s’s init_state returned no state", statem_name (self));
  if (local_error != NULL)
    {
      actions_drop (self);
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
      crash = handle_message (self, event_new (GEN_STATEM_EVENT_INTERNAL, message, NULL, NULL));
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

  crash = handle_message (self, event_new (GEN_STATEM_EVENT_CAST, message, NULL, NULL));
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
    event = event_new (GEN_STATEM_EVENT_INFO, message, NULL, NULL);

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
  crash = handle_message (self, event_new (GEN_STATEM_EVENT_CALL, message,
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
               "%s does not implement init_state", statem_name (self));
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
                   "%s has no state function for the state %s", statem_name (self), printed);
      return NULL;
    }

  if (event_type == GEN_STATEM_EVENT_CALL)
    g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                 "%s does not handle events", statem_name (self));
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
                   statem_name (self), g_variant_get_type_string (state));
      return FALSE;
    }
  g_variant_get (state, "(vmv)", &next, &data);
  if (data != NULL)
    {
      if (klass->load_data == NULL)
        {
          g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                       "%s does not take new data: its class has no load_data",
                       statem_name (self));
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
  priv->actions.replies = g_ptr_array_new_with_free_func (reply_action_free);
  priv->actions.timeouts = g_ptr_array_new_with_free_func (timeout_action_free);
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

static void
add_reply (GenStatem *self,
           GenReply  *reply,
           GVariant  *value,
           GError    *error)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  ReplyAction *action;

  if (reply == NULL &&
      (priv->actions.event == NULL || priv->actions.event->reply == NULL ||
       priv->actions.reply_taken))
    {
      g_critical ("%s: a reply with no reply handle is for the current call, "
                  "and this event is not a call (or its reply was taken)",
                  statem_name (self));
      g_clear_pointer (&value, g_variant_unref);
      g_clear_error (&error);
      return;
    }

  action = g_new0 (ReplyAction, 1);
  action->reply = reply != NULL ? g_object_ref (reply) : NULL;
  action->value = value;
  action->error = error;
  g_ptr_array_add (priv->actions.replies, action);
}

/**
 * gen_statem_reply:
 * @self: a #GenStatem
 * @reply: (nullable): a reply handle taken earlier with
 *   [method@Gen.Statem.take_reply], or %NULL for the call being handled
 * @value: the reply; a floating reference is sunk
 *
 * The reply action: answers a call with @value once `handle_event`
 * returns (not if it fails). One event may answer several calls, the
 * current one and any taken earlier, as Erlang's `{reply, From, Reply}`
 * actions do.
 *
 * Only from inside `handle_event` (or `init_state`, for taken replies).
 *
 * Since: 1.0
 */
void
gen_statem_reply (GenStatem *self,
                  GenReply  *reply,
                  GVariant  *value)
{
  g_return_if_fail (GEN_IS_STATEM (self));
  g_return_if_fail (reply == NULL || GEN_IS_REPLY (reply));
  g_return_if_fail (value != NULL);

  g_variant_ref_sink (value);
  if (!actions_accepting (self, "gen_statem_reply()"))
    {
      g_variant_unref (value);
      return;
    }
  add_reply (self, reply, value, NULL);
}

/**
 * gen_statem_reply_error:
 * @self: a #GenStatem
 * @reply: (nullable): a reply handle taken earlier with
 *   [method@Gen.Statem.take_reply], or %NULL for the call being handled
 * @error: the error for the caller; it is copied
 *
 * Like [method@Gen.Statem.reply], with an error for the caller instead of
 * a value: the machine itself goes on and changes state as returned.
 *
 * Since: 1.0
 */
void
gen_statem_reply_error (GenStatem    *self,
                        GenReply     *reply,
                        const GError *error)
{
  g_return_if_fail (GEN_IS_STATEM (self));
  g_return_if_fail (reply == NULL || GEN_IS_REPLY (reply));
  g_return_if_fail (error != NULL);

  if (!actions_accepting (self, "gen_statem_reply_error()"))
    return;
  add_reply (self, reply, NULL, g_error_copy (error));
}

/**
 * gen_statem_take_reply:
 * @self: a #GenStatem
 *
 * Takes the reply handle of the call being handled, to answer it later:
 * from a later event with [method@Gen.Statem.reply], or from anywhere with
 * [method@Gen.Reply.return_value]. Erlang's state machines keep `From` in
 * their data for the same purpose.
 *
 * Only from inside `handle_event`, for a %GEN_STATEM_EVENT_CALL, once.
 *
 * Returns: (transfer full): the reply handle
 *
 * Since: 1.0
 */
GenReply *
gen_statem_take_reply (GenStatem *self)
{
  GenStatemPrivate *priv;

  g_return_val_if_fail (GEN_IS_STATEM (self), NULL);

  priv = gen_statem_get_instance_private (self);
  if (!actions_accepting (self, "gen_statem_take_reply()"))
    return NULL;
  g_return_val_if_fail (priv->actions.event != NULL && priv->actions.event->reply != NULL, NULL);
  g_return_val_if_fail (!priv->actions.reply_taken, NULL);
  g_return_val_if_fail (!priv->actions.postpone, NULL);

  priv->actions.reply_taken = TRUE;
  return g_object_ref (priv->actions.event->reply);
}

/**
 * gen_statem_postpone:
 * @self: a #GenStatem
 *
 * The postpone action: keeps the event being handled for later. It is
 * handled again after the next state change, before any newer message,
 * with the other postponed events in the order they first came. A
 * postponed call keeps its caller waiting (within the caller's timeout).
 *
 * Only from inside `handle_event`, not from a state enter call.
 *
 * Since: 1.0
 */
void
gen_statem_postpone (GenStatem *self)
{
  GenStatemPrivate *priv;

  g_return_if_fail (GEN_IS_STATEM (self));

  priv = gen_statem_get_instance_private (self);
  if (!actions_accepting (self, "gen_statem_postpone()"))
    return;
  g_return_if_fail (priv->actions.event != NULL);
  g_return_if_fail (priv->actions.event->type != GEN_STATEM_EVENT_ENTER);
  g_return_if_fail (!priv->actions.reply_taken);

  priv->actions.postpone = TRUE;
}

/**
 * gen_statem_next_event:
 * @self: a #GenStatem
 * @event_type: the type of the inserted event: any but
 *   %GEN_STATEM_EVENT_ENTER and %GEN_STATEM_EVENT_TIMEOUT (which needs a
 *   name: see [method@Gen.Statem.next_event_full])
 * @content: the event's content; a floating reference is sunk
 *
 * The next_event action: inserts an event, handled (in the next state)
 * before any message waiting in the mailbox. Events inserted by one
 * callback are handled in the order they were inserted, and before the
 * postponed events that a state change brings back.
 *
 * An inserted %GEN_STATEM_EVENT_CALL is answered through the reply handle
 * of the call being handled, which it takes over (Erlang's
 * `{next_event, {call, From}, Request}` with the current `From`): the
 * caller gets what the machine answers to the inserted event.
 *
 * Only from inside `init_state` or `handle_event`, not from a state enter
 * call.
 *
 * Since: 1.0
 */
void
gen_statem_next_event (GenStatem          *self,
                       GenStatemEventType  event_type,
                       GVariant           *content)
{
  gen_statem_next_event_full (self, event_type, content, NULL, NULL);
}

/**
 * gen_statem_next_event_full:
 * @self: a #GenStatem
 * @event_type: the type of the inserted event: any but
 *   %GEN_STATEM_EVENT_ENTER
 * @content: the event's content; a floating reference is sunk
 * @reply: (nullable): for a %GEN_STATEM_EVENT_CALL, the reply handle that
 *   answers it, taken earlier with [method@Gen.Statem.take_reply]; %NULL
 *   takes over the current call's, as [method@Gen.Statem.next_event] does
 * @timeout_name: (nullable): for a %GEN_STATEM_EVENT_TIMEOUT, its name
 *   (what [method@Gen.Statem.get_timeout_name] says while it is handled);
 *   required for that type, ignored for the others
 *
 * Inserts an event of any type, as [method@Gen.Statem.next_event] does:
 * Erlang's `{next_event, EventType, Content}` for every event type,
 * `{timeout, Name}` and a call answered through any taken reply included.
 * An inserted timeout event is only an event: it does not touch the
 * timeout of its type, running or not.
 *
 * ```c
 * // Handle the current call again, in the next state.
 * gen_statem_next_event_full (statem, GEN_STATEM_EVENT_CALL, content, NULL, NULL);
 * // A generic timeout event named "retry", now.
 * gen_statem_next_event_full (statem, GEN_STATEM_EVENT_TIMEOUT,
 *                             g_variant_new_int32 (1), NULL, "retry");
 * ```
 *
 * Since: 1.2
 */
void
gen_statem_next_event_full (GenStatem          *self,
                            GenStatemEventType  event_type,
                            GVariant           *content,
                            GenReply           *reply,
                            const gchar        *timeout_name)
{
  GenStatemPrivate *priv;
  Event *current;
  g_autoptr(GVariant) owned = NULL;

  g_return_if_fail (GEN_IS_STATEM (self));
  g_return_if_fail (event_type <= GEN_STATEM_EVENT_INTERNAL);
  g_return_if_fail (content != NULL);
  g_return_if_fail (reply == NULL || GEN_IS_REPLY (reply));
  g_return_if_fail (event_type != GEN_STATEM_EVENT_TIMEOUT || timeout_name != NULL);

  priv = gen_statem_get_instance_private (self);
  owned = g_variant_ref_sink (content);
  if (!actions_accepting (self, "gen_statem_next_event()"))
    return;
  current = priv->actions.event;
  if (current != NULL && current->type == GEN_STATEM_EVENT_ENTER)
    {
      g_critical ("%s: a state enter call cannot insert events", statem_name (self));
      return;
    }

  if (event_type == GEN_STATEM_EVENT_CALL && reply == NULL)
    {
      /* The current call's caller, handed over as take_reply() would. */
      if (current == NULL || current->reply == NULL ||
          priv->actions.reply_taken || priv->actions.postpone)
        {
          g_critical ("%s: an inserted call needs a reply handle: the current event is "
                      "not a call whose reply is still there", statem_name (self));
          return;
        }
      priv->actions.reply_taken = TRUE;
      reply = current->reply;
    }

  g_queue_push_tail (&priv->actions.next_events,
                     event_new (event_type, owned,
                                event_type == GEN_STATEM_EVENT_CALL ? g_object_ref (reply) : NULL,
                                event_type == GEN_STATEM_EVENT_TIMEOUT ? timeout_name : NULL));
}

/* Queues a timeout action, if asked for from inside a callback; sinks
 * @content (NULL: an empty tuple, except for OP_CANCEL). */
static void
add_timeout (GenStatem   *self,
             const gchar *what,
             TimeoutKind  kind,
             TimeoutOp    op,
             const gchar *name,
             gint         timeout_ms,
             gint64       deadline,
             GVariant    *content)
{
  GenStatemPrivate *priv = gen_statem_get_instance_private (self);
  TimeoutAction *action;

  if (content != NULL)
    g_variant_ref_sink (content);
  else if (op != OP_CANCEL)
    content = g_variant_ref_sink (g_variant_new ("()"));

  if (!actions_accepting (self, what))
    {
      g_clear_pointer (&content, g_variant_unref);
      return;
    }

  action = g_new0 (TimeoutAction, 1);
  action->kind = kind;
  action->op = op;
  action->name = g_strdup (name);
  action->timeout_ms = timeout_ms;
  action->deadline = deadline;
  action->content = content;
  g_ptr_array_add (priv->actions.timeouts, action);
}

/**
 * gen_statem_set_state_timeout:
 * @self: a #GenStatem
 * @timeout_ms: the time in milliseconds, or a negative number to cancel
 *   the state timeout
 * @content: (nullable): the content of the %GEN_STATEM_EVENT_STATE_TIMEOUT
 *   event; %NULL is an empty tuple; a floating reference is sunk
 *
 * The state_timeout action: after @timeout_ms in the next state,
 * `handle_event` gets a %GEN_STATEM_EVENT_STATE_TIMEOUT event. A state
 * change cancels it (a change in this same event does not: the timeout is
 * for the state being entered); setting it again restarts it.
 *
 * Only from inside `init_state` or `handle_event`.
 *
 * Since: 1.0
 */
void
gen_statem_set_state_timeout (GenStatem *self,
                              gint       timeout_ms,
                              GVariant  *content)
{
  g_return_if_fail (GEN_IS_STATEM (self));

  add_timeout (self, "gen_statem_set_state_timeout()", KIND_STATE, OP_SET, NULL, timeout_ms, 0, content);
}

/**
 * gen_statem_set_timeout:
 * @self: a #GenStatem
 * @name: the timeout's name
 * @timeout_ms: the time in milliseconds, or a negative number to cancel
 *   the timeout of this name
 * @content: (nullable): the content of the %GEN_STATEM_EVENT_TIMEOUT
 *   event; %NULL is an empty tuple; a floating reference is sunk
 *
 * The generic timeout action, Erlang's `{{timeout, Name}, Time, Content}`:
 * after @timeout_ms, `handle_event` gets a %GEN_STATEM_EVENT_TIMEOUT event,
 * during which [method@Gen.Statem.get_timeout_name] is @name. Neither
 * events nor state changes cancel it; setting the same name again
 * restarts it.
 *
 * Only from inside `init_state` or `handle_event`.
 *
 * Since: 1.0
 */
void
gen_statem_set_timeout (GenStatem   *self,
                        const gchar *name,
                        gint         timeout_ms,
                        GVariant    *content)
{
  g_return_if_fail (GEN_IS_STATEM (self));
  g_return_if_fail (name != NULL);

  add_timeout (self, "gen_statem_set_timeout()", KIND_GENERIC, OP_SET, name, timeout_ms, 0, content);
}

/**
 * gen_statem_set_event_timeout:
 * @self: a #GenStatem
 * @timeout_ms: the time in milliseconds, or a negative number to cancel
 *   the event timeout
 * @content: (nullable): the content of the
 *   %GEN_STATEM_EVENT_EVENT_TIMEOUT event; %NULL is an empty tuple; a
 *   floating reference is sunk
 *
 * The event timeout action, Erlang's `{timeout, Time, Content}`: if no
 * event comes within @timeout_ms, `handle_event` gets a
 * %GEN_STATEM_EVENT_EVENT_TIMEOUT event. Any event cancels it, an event
 * inserted with [method@Gen.Statem.next_event] or a postponed one retried
 * included.
 *
 * Only from inside `init_state` or `handle_event`.
 *
 * Since: 1.0
 */
void
gen_statem_set_event_timeout (GenStatem *self,
                              gint       timeout_ms,
                              GVariant  *content)
{
  g_return_if_fail (GEN_IS_STATEM (self));

  add_timeout (self, "gen_statem_set_event_timeout()", KIND_EVENT, OP_SET, NULL, timeout_ms, 0, content);
}

/**
 * gen_statem_repeat_state:
 * @self: a #GenStatem
 *
 * The repeat_state action: when `handle_event` keeps the state, runs the
 * state enter call again as if the state had been entered anew (postponed
 * events stay postponed and the state timeout keeps running, since the
 * state did not change). From a state enter call, it runs that enter call
 * again at once, with the same previous state. Without state enter calls,
 * it does nothing.
 *
 * Only from inside `handle_event`.
 *
 * Since: 1.0
 */
void
gen_statem_repeat_state (GenStatem *self)
{
  GenStatemPrivate *priv;

  g_return_if_fail (GEN_IS_STATEM (self));

  priv = gen_statem_get_instance_private (self);
  if (!actions_accepting (self, "gen_statem_repeat_state()"))
    return;
  priv->actions.repeat_state = TRUE;
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

/**
 * gen_statem_set_state_timeout_at:
 * @self: a #GenStatem
 * @deadline: when, in microseconds on the clock of g_get_monotonic_time()
 * @content: (nullable): the content of the event; %NULL is an empty tuple;
 *   a floating reference is sunk
 *
 * As [method@Gen.Statem.set_state_timeout], at an absolute time: Erlang's
 * `{state_timeout, Time, Content, {abs, true}}`. A time already past
 * fires at once, through the mailbox like any timer.
 *
 * ```c
 * // Whatever happens meanwhile, the state ends at the deadline.
 * gen_statem_set_state_timeout_at (statem, self->started + 30 * G_USEC_PER_SEC, NULL);
 * ```
 *
 * Only from inside `init_state` or `handle_event`.
 *
 * Since: 1.2
 */
void
gen_statem_set_state_timeout_at (GenStatem *self,
                                 gint64     deadline,
                                 GVariant  *content)
{
  g_return_if_fail (GEN_IS_STATEM (self));

  add_timeout (self, "gen_statem_set_state_timeout_at()", KIND_STATE, OP_SET_AT, NULL,
               0, deadline, content);
}

/**
 * gen_statem_set_timeout_at:
 * @self: a #GenStatem
 * @name: the timeout's name
 * @deadline: when, in microseconds on the clock of g_get_monotonic_time()
 * @content: (nullable): the content of the event; %NULL is an empty tuple;
 *   a floating reference is sunk
 *
 * As [method@Gen.Statem.set_timeout], at an absolute time: Erlang's
 * `{{timeout, Name}, Time, Content, {abs, true}}`.
 *
 * Only from inside `init_state` or `handle_event`.
 *
 * Since: 1.2
 */
void
gen_statem_set_timeout_at (GenStatem   *self,
                           const gchar *name,
                           gint64       deadline,
                           GVariant    *content)
{
  g_return_if_fail (GEN_IS_STATEM (self));
  g_return_if_fail (name != NULL);

  add_timeout (self, "gen_statem_set_timeout_at()", KIND_GENERIC, OP_SET_AT, name,
               0, deadline, content);
}

/**
 * gen_statem_set_event_timeout_at:
 * @self: a #GenStatem
 * @deadline: when, in microseconds on the clock of g_get_monotonic_time()
 * @content: (nullable): the content of the event; %NULL is an empty tuple;
 *   a floating reference is sunk
 *
 * As [method@Gen.Statem.set_event_timeout], at an absolute time: Erlang's
 * `{timeout, Time, Content, {abs, true}}`. Any event still cancels it.
 *
 * Only from inside `init_state` or `handle_event`.
 *
 * Since: 1.2
 */
void
gen_statem_set_event_timeout_at (GenStatem *self,
                                 gint64     deadline,
                                 GVariant  *content)
{
  g_return_if_fail (GEN_IS_STATEM (self));

  add_timeout (self, "gen_statem_set_event_timeout_at()", KIND_EVENT, OP_SET_AT, NULL,
               0, deadline, content);
}

/**
 * gen_statem_update_state_timeout:
 * @self: a #GenStatem
 * @content: (nullable): the new content; %NULL is an empty tuple; a
 *   floating reference is sunk
 *
 * Changes the content of the running state timeout without restarting
 * it: Erlang's `{state_timeout, update, Content}`. If none runs, it starts
 * one with a time of 0.
 *
 * Only from inside `init_state` or `handle_event`.
 *
 * Since: 1.2
 */
void
gen_statem_update_state_timeout (GenStatem *self,
                                 GVariant  *content)
{
  g_return_if_fail (GEN_IS_STATEM (self));

  add_timeout (self, "gen_statem_update_state_timeout()", KIND_STATE, OP_UPDATE, NULL,
               0, 0, content);
}

/**
 * gen_statem_update_timeout:
 * @self: a #GenStatem
 * @name: the timeout's name
 * @content: (nullable): the new content; %NULL is an empty tuple; a
 *   floating reference is sunk
 *
 * Changes the content of the running generic timeout @name without
 * restarting it: Erlang's `{{timeout, Name}, update, Content}`. If none
 * runs, it starts one with a time of 0.
 *
 * Only from inside `init_state` or `handle_event`.
 *
 * Since: 1.2
 */
void
gen_statem_update_timeout (GenStatem   *self,
                           const gchar *name,
                           GVariant    *content)
{
  g_return_if_fail (GEN_IS_STATEM (self));
  g_return_if_fail (name != NULL);

  add_timeout (self, "gen_statem_update_timeout()", KIND_GENERIC, OP_UPDATE, name,
               0, 0, content);
}

/**
 * gen_statem_update_event_timeout:
 * @self: a #GenStatem
 * @content: (nullable): the new content; %NULL is an empty tuple; a
 *   floating reference is sunk
 *
 * Changes the content of the running event timeout without restarting
 * it: Erlang's `{timeout, update, Content}`. If none runs, it starts one
 * with a time of 0.
 *
 * Only from inside `init_state` or `handle_event`.
 *
 * Since: 1.2
 */
void
gen_statem_update_event_timeout (GenStatem *self,
                                 GVariant  *content)
{
  g_return_if_fail (GEN_IS_STATEM (self));

  add_timeout (self, "gen_statem_update_event_timeout()", KIND_EVENT, OP_UPDATE, NULL,
               0, 0, content);
}

/**
 * gen_statem_cancel_state_timeout:
 * @self: a #GenStatem
 *
 * Cancels the state timeout: Erlang's `{state_timeout, cancel}`. A
 * cancelled timeout never arrives, even if its timer already fired.
 *
 * Only from inside `init_state` or `handle_event`.
 *
 * Since: 1.2
 */
void
gen_statem_cancel_state_timeout (GenStatem *self)
{
  g_return_if_fail (GEN_IS_STATEM (self));

  add_timeout (self, "gen_statem_cancel_state_timeout()", KIND_STATE, OP_CANCEL, NULL,
               0, 0, NULL);
}

/**
 * gen_statem_cancel_timeout:
 * @self: a #GenStatem
 * @name: the timeout's name
 *
 * Cancels the generic timeout @name: Erlang's `{{timeout, Name}, cancel}`.
 *
 * Only from inside `init_state` or `handle_event`.
 *
 * Since: 1.2
 */
void
gen_statem_cancel_timeout (GenStatem   *self,
                           const gchar *name)
{
  g_return_if_fail (GEN_IS_STATEM (self));
  g_return_if_fail (name != NULL);

  add_timeout (self, "gen_statem_cancel_timeout()", KIND_GENERIC, OP_CANCEL, name,
               0, 0, NULL);
}

/**
 * gen_statem_cancel_event_timeout:
 * @self: a #GenStatem
 *
 * Cancels the event timeout: Erlang's `{timeout, cancel}`.
 *
 * Only from inside `init_state` or `handle_event`.
 *
 * Since: 1.2
 */
void
gen_statem_cancel_event_timeout (GenStatem *self)
{
  g_return_if_fail (GEN_IS_STATEM (self));

  add_timeout (self, "gen_statem_cancel_event_timeout()", KIND_EVENT, OP_CANCEL, NULL,
               0, 0, NULL);
}

/**
 * gen_statem_stop_and_reply:
 * @self: a #GenStatem
 * @reason: (nullable): why the machine stops: %NULL for a normal stop; it
 *   is copied
 *
 * The stop action: once the callback returns and the replies it asked
 * for are sent, the machine stops with @reason, Erlang's
 * `{stop_and_reply, Reason, Replies}` (without reply actions, `{stop,
 * Reason}`). The current call, if neither answered nor taken, is answered
 * %GEN_SERVER_ERROR_STOPPED; the rest of the callback's actions are
 * dropped; `terminate` runs with @reason; calls still queued or postponed
 * are answered %GEN_SERVER_ERROR_STOPPED. Like every action, it is dropped
 * if the callback fails.
 *
 * ```c
 * gen_statem_reply (statem, NULL, g_variant_new_string ("bye"));
 * gen_statem_reply (statem, self->waiting, g_variant_new_string ("bye"));
 * gen_statem_stop_and_reply (statem, NULL);
 * ```
 *
 * Only from inside `init_state`'s events, `handle_event` or a state enter
 * call.
 *
 * Since: 1.2
 */
void
gen_statem_stop_and_reply (GenStatem    *self,
                           const GError *reason)
{
  GenStatemPrivate *priv;

  g_return_if_fail (GEN_IS_STATEM (self));

  priv = gen_statem_get_instance_private (self);
  if (!actions_accepting (self, "gen_statem_stop_and_reply()"))
    return;
  if (priv->actions.in_init)
    {
      g_critical ("%s: init_state cannot stop the machine: set an error instead",
                  statem_name (self));
      return;
    }
  priv->actions.stop = TRUE;
  g_clear_error (&priv->actions.stop_reason);
  priv->actions.stop_reason = reason != NULL ? g_error_copy (reason) : NULL;
}
