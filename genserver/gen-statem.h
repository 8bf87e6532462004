/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <genserver/gen-server.h>

G_BEGIN_DECLS

/**
 * GenStatemEventType:
 * @GEN_STATEM_EVENT_CALL: a request sent with [method@Gen.Server.call]:
 *   answer it with [method@Gen.Statem.reply] (or take it with
 *   [method@Gen.Statem.take_reply])
 * @GEN_STATEM_EVENT_CAST: a message sent with [method@Gen.Server.cast]
 * @GEN_STATEM_EVENT_INFO: any other message: [method@Gen.Server.send_info],
 *   [method@Gen.Server.send_after], the idle timeout, a link's exit notice
 * @GEN_STATEM_EVENT_STATE_TIMEOUT: the state timeout set with
 *   [method@Gen.Statem.set_state_timeout] expired
 * @GEN_STATEM_EVENT_TIMEOUT: a generic timeout set with
 *   [method@Gen.Statem.set_timeout] expired; its name is
 *   [method@Gen.Statem.get_timeout_name]
 * @GEN_STATEM_EVENT_EVENT_TIMEOUT: no event came within the event timeout
 *   set with [method@Gen.Statem.set_event_timeout]
 * @GEN_STATEM_EVENT_INTERNAL: an event inserted with
 *   [method@Gen.Statem.next_event]
 * @GEN_STATEM_EVENT_ENTER: the state enter call: the machine just entered
 *   the state; the event content is the previous state. Only for classes
 *   that asked for it with [method@Gen.StatemClass.set_state_enter]
 *
 * What kind of event `handle_event` is given: Erlang's `gen_statem` event
 * types, with `{call, From}` as %GEN_STATEM_EVENT_CALL (the caller is the
 * current call) and `{timeout, Name}` as %GEN_STATEM_EVENT_TIMEOUT.
 *
 * Since: 1.0
 */
typedef enum
{
  GEN_STATEM_EVENT_CALL,
  GEN_STATEM_EVENT_CAST,
  GEN_STATEM_EVENT_INFO,
  GEN_STATEM_EVENT_STATE_TIMEOUT,
  GEN_STATEM_EVENT_TIMEOUT,
  GEN_STATEM_EVENT_EVENT_TIMEOUT,
  GEN_STATEM_EVENT_INTERNAL,
  GEN_STATEM_EVENT_ENTER,
} GenStatemEventType;

#define GEN_TYPE_STATEM (gen_statem_get_type ())

GEN_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (GenStatem, gen_statem, GEN, STATEM, GenServer)

/**
 * GenStatemClass:
 * @parent_class: the parent class. A state machine overrides the two
 *   vfuncs below and `terminate` if it needs to, never the other
 *   [class@Gen.Server] handlers, which turn messages into events
 * @init_state: sets up the machine from the start arguments and returns
 *   its first state
 * @handle_event: handles one event in the current state and returns the
 *   next state
 * @dump_data: gives the machine's data for [method@Gen.Server.get_state];
 *   since 1.2
 * @load_data: takes new data from [method@Gen.Server.replace_state];
 *   since 1.2
 *
 * The class structure for [class@Gen.Statem].
 *
 * Since: 1.0
 */

/**
 * GenStatemClass::init_state:
 * @self: the state machine
 * @args: (nullable): the arguments given to [method@Gen.Server.start]
 * @error: return location for an error: setting one makes start fail
 *
 * Sets up the machine's data (in the instance) and returns its first state,
 * on the server's thread, as `init` does for a [class@Gen.Server]. It may
 * set timeouts and insert events with [method@Gen.Statem.next_event]: they
 * take effect once the machine runs.
 *
 * Returns: (transfer full) (nullable): the first state (%NULL only with
 *   @error set); a floating reference is sunk
 *
 * Since: 1.0
 */

/**
 * GenStatemClass::handle_event:
 * @self: the state machine
 * @event_type: what kind of event this is
 * @event_content: the event: the message of a call, cast or info, the
 *   content given to a timeout or to [method@Gen.Statem.next_event], the
 *   previous state for %GEN_STATEM_EVENT_ENTER
 * @state: the current state
 * @error: return location for an error
 *
 * Handles one event, on the server's thread, and returns the next state.
 * Actions (replies, postponing, timeouts, inserted events) are asked for
 * with the `gen_statem_` action methods while it runs, and take effect
 * when it returns, in the order they were asked for.
 *
 * An error set for a %GEN_STATEM_EVENT_CALL goes to the caller, as from a
 * [class@Gen.Server]'s `handle_call`: the machine stays in its state and
 * the actions are dropped. An error for any other event is a crash.
 *
 * Returns: (transfer full) (nullable): the next state, or %NULL to keep
 *   the current one; a floating reference is sunk
 *
 * Since: 1.0
 */
/**
 * GenStatemStateFunc:
 * @self: the state machine
 * @event_type: what kind of event this is
 * @event_content: the event, as for [vfunc@Gen.Statem.handle_event]
 * @error: return location for an error, as for
 *   [vfunc@Gen.Statem.handle_event]
 *
 * Handles the events of one state, in the `state_functions` callback mode
 * (see [method@Gen.StatemClass.add_state_function]): Erlang's
 * `Module:StateName(EventType, EventContent, Data)`.
 *
 * Returns: (transfer full) (nullable): the next state, or %NULL to keep
 *   the current one; a floating reference is sunk
 *
 * Since: 1.2
 */
typedef GVariant *(*GenStatemStateFunc) (GenStatem          *self,
                                         GenStatemEventType  event_type,
                                         GVariant           *event_content,
                                         GError            **error);

/**
 * GenStatemClass::dump_data:
 * @self: the state machine
 *
 * Gives the machine's data (what lives in the instance) as a variant, the
 * second half of the `(state, data)` that [method@Gen.Server.get_state]
 * gives for a machine, as Erlang's `sys:get_state/1` gives `{State,
 * Data}`. Optional: without it, the data is nothing. On the server's
 * thread, between two events.
 *
 * Returns: (transfer full) (nullable): the data; a floating reference is
 *   sunk
 *
 * Since: 1.2
 */

/**
 * GenStatemClass::load_data:
 * @self: the state machine
 * @data: the new data, of the form `dump_data` gives
 * @error: return location for an error: nothing is replaced then
 *
 * Takes new data from [method@Gen.Server.replace_state], on the server's
 * thread.
 *
 * Returns: %TRUE if the data was replaced
 *
 * Since: 1.2
 */
struct _GenStatemClass
{
  GenServerClass parent_class;

  GVariant *(*init_state)   (GenStatem          *self,
                             GVariant           *args,
                             GError            **error);
  GVariant *(*handle_event) (GenStatem          *self,
                             GenStatemEventType  event_type,
                             GVariant           *event_content,
                             GVariant           *state,
                             GError            **error);

  GVariant *(*dump_data)    (GenStatem          *self);
  gboolean  (*load_data)    (GenStatem          *self,
                             GVariant           *data,
                             GError            **error);

  /*< private >*/
  gpointer _reserved[10];
};

GEN_AVAILABLE_IN_ALL
GVariant    *gen_statem_dup_state             (GenStatem      *self);
GEN_AVAILABLE_IN_ALL
void         gen_statem_reply                 (GenStatem      *self,
                                               GenReply       *reply,
                                               GVariant       *value);
GEN_AVAILABLE_IN_ALL
void         gen_statem_reply_error           (GenStatem      *self,
                                               GenReply       *reply,
                                               const GError   *error);
GEN_AVAILABLE_IN_ALL
GenReply    *gen_statem_take_reply            (GenStatem      *self);
GEN_AVAILABLE_IN_ALL
void         gen_statem_postpone              (GenStatem      *self);
GEN_AVAILABLE_IN_ALL
void         gen_statem_next_event            (GenStatem          *self,
                                               GenStatemEventType  event_type,
                                               GVariant           *content);
GEN_AVAILABLE_IN_ALL
void         gen_statem_set_state_timeout     (GenStatem      *self,
                                               gint            timeout_ms,
                                               GVariant       *content);
GEN_AVAILABLE_IN_ALL
void         gen_statem_set_timeout           (GenStatem      *self,
                                               const gchar    *name,
                                               gint            timeout_ms,
                                               GVariant       *content);
GEN_AVAILABLE_IN_ALL
void         gen_statem_set_event_timeout     (GenStatem      *self,
                                               gint            timeout_ms,
                                               GVariant       *content);
GEN_AVAILABLE_IN_ALL
void         gen_statem_repeat_state          (GenStatem      *self);
GEN_AVAILABLE_IN_ALL
const gchar *gen_statem_get_timeout_name      (GenStatem      *self);
GEN_AVAILABLE_IN_ALL
void         gen_statem_class_set_state_enter (GenStatemClass *klass,
                                               gboolean        state_enter);

GEN_AVAILABLE_IN_1_2
void         gen_statem_class_add_state_function (GenStatemClass     *klass,
                                                  const gchar        *state,
                                                  GenStatemStateFunc  func);
GEN_AVAILABLE_IN_1_2
void         gen_statem_next_event_full       (GenStatem          *self,
                                               GenStatemEventType  event_type,
                                               GVariant           *content,
                                               GenReply           *reply,
                                               const gchar        *timeout_name);
GEN_AVAILABLE_IN_1_2
void         gen_statem_set_state_timeout_at  (GenStatem      *self,
                                               gint64          deadline,
                                               GVariant       *content);
GEN_AVAILABLE_IN_1_2
void         gen_statem_set_timeout_at        (GenStatem      *self,
                                               const gchar    *name,
                                               gint64          deadline,
                                               GVariant       *content);
GEN_AVAILABLE_IN_1_2
void         gen_statem_set_event_timeout_at  (GenStatem      *self,
                                               gint64          deadline,
                                               GVariant       *content);
GEN_AVAILABLE_IN_1_2
void         gen_statem_update_state_timeout  (GenStatem      *self,
                                               GVariant       *content);
GEN_AVAILABLE_IN_1_2
void         gen_statem_update_timeout        (GenStatem      *self,
                                               const gchar    *name,
                                               GVariant       *content);
GEN_AVAILABLE_IN_1_2
void         gen_statem_update_event_timeout  (GenStatem      *self,
                                               GVariant       *content);
GEN_AVAILABLE_IN_1_2
void         gen_statem_cancel_state_timeout  (GenStatem      *self);
GEN_AVAILABLE_IN_1_2
void         gen_statem_cancel_timeout        (GenStatem      *self,
                                               const gchar    *name);
GEN_AVAILABLE_IN_1_2
void         gen_statem_cancel_event_timeout  (GenStatem      *self);
GEN_AVAILABLE_IN_1_2
void         gen_statem_stop_and_reply        (GenStatem      *self,
                                               const GError   *reason);

G_END_DECLS
