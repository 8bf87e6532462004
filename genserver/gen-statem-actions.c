/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-statem-private.h"

/*
 * The actions a state machine's callbacks ask for while they run: replies,
 * postponing, inserted events, timeouts, repeat_state and stop. They are
 * collected in the machine's Actions, which gen-statem.c begins, ends,
 * drops and carries out once the callback returns: this file only calls
 * down into it.
 */

/* Checks that an action is asked for from inside a callback, on the
 * handler thread (the only one that may set priv->actions.active). */
static gboolean
actions_accepting (GenStatem   *self,
                   const gchar *what)
{
  GenStatemPrivate *priv = gen_statem_get_private (self);

  if (!priv->actions.active)
    {
      g_critical ("%s: %s is an action: only from inside init_state or handle_event",
                  gen_statem_name (self), what);
      return FALSE;
    }
  return TRUE;
}


static void
add_reply (GenStatem *self,
           GenReply  *reply,
           GVariant  *value,
           GError    *error)
{
  GenStatemPrivate *priv = gen_statem_get_private (self);
  ReplyAction *action;

  if (reply == NULL &&
      (priv->actions.event == NULL || priv->actions.event->reply == NULL ||
       priv->actions.reply_taken))
    {
      g_critical ("%s: a reply with no reply handle is for the current call, "
                  "and this event is not a call (or its reply was taken)",
                  gen_statem_name (self));
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

  priv = gen_statem_get_private (self);
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

  priv = gen_statem_get_private (self);
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

  priv = gen_statem_get_private (self);
  owned = g_variant_ref_sink (content);
  if (!actions_accepting (self, "gen_statem_next_event()"))
    return;
  current = priv->actions.event;
  if (current != NULL && current->type == GEN_STATEM_EVENT_ENTER)
    {
      g_critical ("%s: a state enter call cannot insert events", gen_statem_name (self));
      return;
    }

  if (event_type == GEN_STATEM_EVENT_CALL && reply == NULL)
    {
      /* The current call's caller, handed over as take_reply() would. */
      if (current == NULL || current->reply == NULL ||
          priv->actions.reply_taken || priv->actions.postpone)
        {
          g_critical ("%s: an inserted call needs a reply handle: the current event is "
                      "not a call whose reply is still there", gen_statem_name (self));
          return;
        }
      priv->actions.reply_taken = TRUE;
      reply = current->reply;
    }

  g_queue_push_tail (&priv->actions.next_events,
                     gen_statem_event_new (event_type, owned,
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
  GenStatemPrivate *priv = gen_statem_get_private (self);
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

  priv = gen_statem_get_private (self);
  if (!actions_accepting (self, "gen_statem_repeat_state()"))
    return;
  priv->actions.repeat_state = TRUE;
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

  priv = gen_statem_get_private (self);
  if (!actions_accepting (self, "gen_statem_stop_and_reply()"))
    return;
  if (priv->actions.in_init)
    {
      g_critical ("%s: init_state cannot stop the machine: set an error instead",
                  gen_statem_name (self));
      return;
    }
  priv->actions.stop = TRUE;
  g_clear_error (&priv->actions.stop_reason);
  priv->actions.stop_reason = reason != NULL ? g_error_copy (reason) : NULL;
}
