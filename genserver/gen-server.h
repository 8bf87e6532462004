/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(__GENSERVER_INSIDE__) && !defined(GENSERVER_COMPILATION)
# error "Only <genserver/genserver.h> can be included directly."
#endif

#include <gio/gio.h>

#include <genserver/gen-version.h>
#include <genserver/gen-reply.h>
#include <genserver/gen-scheduler.h>

G_BEGIN_DECLS

/**
 * GEN_SERVER_DEFAULT_TIMEOUT:
 *
 * The call timeout, in milliseconds, that the language bindings' convenience
 * wrappers use when the caller gives none: five seconds, as in Erlang/OTP.
 *
 * Since: 1.0
 */
#define GEN_SERVER_DEFAULT_TIMEOUT 5000

/**
 * GEN_SERVER_ERROR:
 *
 * The error domain of genserver. Errors in this domain are from the
 * [error@Gen.ServerError] enumeration.
 *
 * Since: 1.0
 */
#define GEN_SERVER_ERROR (gen_server_error_quark ())

/**
 * GenServerError:
 * @GEN_SERVER_ERROR_FAILED: the handler failed without saying how, or a
 *   generic failure
 * @GEN_SERVER_ERROR_TIMEOUT: the operation did not complete in time
 * @GEN_SERVER_ERROR_NOT_RUNNING: the server is not running (never started,
 *   stopping, or stopped)
 * @GEN_SERVER_ERROR_ALREADY_RUNNING: the server is already running
 * @GEN_SERVER_ERROR_INVALID_MESSAGE: the message is not of the type the
 *   server declared with [property@Gen.Server:cast-type] or
 *   [property@Gen.Server:call-type]
 * @GEN_SERVER_ERROR_CALLING_SELF: a synchronous call from the thread that
 *   runs the server's handlers, which would wait for itself forever
 * @GEN_SERVER_ERROR_MAILBOX_FULL: the server's mailbox is full
 * @GEN_SERVER_ERROR_STOPPED: the server stopped before it answered the call
 * @GEN_SERVER_ERROR_INVALID_TYPE: a message type string is not a valid
 *   [struct@GLib.VariantType] string
 * @GEN_SERVER_ERROR_NO_REPLY: the server dropped a deferred reply
 *   ([class@Gen.Reply]) without answering
 * @GEN_SERVER_ERROR_NAME_TAKEN: the name is already taken: by another
 *   server in a [class@Gen.Registry], or by another child of a
 *   [class@Gen.Supervisor]
 * @GEN_SERVER_ERROR_NOT_FOUND: no server is registered under the name, or
 *   the supervisor has no child with the id
 * @GEN_SERVER_ERROR_TOO_MANY_RESTARTS: a [class@Gen.Supervisor] restarted
 *   its children more often than its intensity allows, and gave up
 * @GEN_SERVER_ERROR_IGNORED: the server's `init` answered "ignore"
 *   (Erlang's `ignore`, see [func@Gen.Server.set_ignore]): it did not
 *   start, and that is not a failure. Since: 1.2
 * @GEN_SERVER_ERROR_NO_CONNECTION: the connection to a remote server or
 *   node is gone (Erlang's `noconnection`): whether the server still runs
 *   is unknown. Since: 1.2
 *
 * Error codes in the %GEN_SERVER_ERROR domain. New codes are appended, so
 * the numbers of the existing ones never change.
 *
 * Since: 1.0
 */
typedef enum
{
  GEN_SERVER_ERROR_FAILED,
  GEN_SERVER_ERROR_TIMEOUT,
  GEN_SERVER_ERROR_NOT_RUNNING,
  GEN_SERVER_ERROR_ALREADY_RUNNING,
  GEN_SERVER_ERROR_INVALID_MESSAGE,
  GEN_SERVER_ERROR_CALLING_SELF,
  GEN_SERVER_ERROR_MAILBOX_FULL,
  GEN_SERVER_ERROR_STOPPED,
  GEN_SERVER_ERROR_INVALID_TYPE,
  GEN_SERVER_ERROR_NO_REPLY,
  GEN_SERVER_ERROR_NAME_TAKEN,
  GEN_SERVER_ERROR_NOT_FOUND,
  GEN_SERVER_ERROR_TOO_MANY_RESTARTS,
  GEN_SERVER_ERROR_IGNORED,
  GEN_SERVER_ERROR_NO_CONNECTION,
} GenServerError;

GEN_AVAILABLE_IN_ALL
GQuark gen_server_error_quark (void);

/**
 * GEN_SERVER_IGNORE:
 *
 * The error domain in which genserver 1.0 reported an `init` that answered
 * "ignore"; its only code is 0.
 *
 * [method@Gen.Server.start] now fails with %GEN_SERVER_ERROR_IGNORED
 * instead, also for an `init` that still sets an error of this domain
 * (from Python, say). Test for an ignored start with
 * [func@Gen.Server.is_ignore], which knows both forms, or with
 * `g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_IGNORED)`.
 *
 * Since: 1.0
 * Deprecated: 1.2: Use %GEN_SERVER_ERROR_IGNORED.
 */
#define GEN_SERVER_IGNORE (gen_server_ignore_quark ())

GEN_AVAILABLE_IN_ALL
GQuark gen_server_ignore_quark (void);

/**
 * GenMailboxPolicy:
 * @GEN_MAILBOX_POLICY_FAIL: a cast or a call that finds the mailbox full
 *   fails at once with %GEN_SERVER_ERROR_MAILBOX_FULL
 * @GEN_MAILBOX_POLICY_BLOCK: a cast or a call that finds the mailbox full
 *   waits for room: a call within its own timeout, a cast as long as it
 *   takes, or as long as [method@Gen.Server.cast_with_timeout] says
 *
 * What happens to a message sent to a server whose bounded mailbox
 * ([property@Gen.Server:mailbox-capacity]) is full.
 *
 * Since: 1.0
 */
typedef enum
{
  GEN_MAILBOX_POLICY_FAIL,
  GEN_MAILBOX_POLICY_BLOCK,
} GenMailboxPolicy;

#define GEN_TYPE_SERVER (gen_server_get_type ())

GEN_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (GenServer, gen_server, GEN, SERVER, GObject)

/**
 * GenServerMonitorFunc:
 * @server: the server that stopped
 * @reason: (nullable): why it stopped: %NULL for a normal stop, the error
 *   of the crash or of the stop otherwise
 * @user_data: the data given to [method@Gen.Server.monitor] or
 *   [method@Gen.Server.add_run_end_func]
 *
 * Told that a monitored server stopped. See [method@Gen.Server.monitor];
 * also the function called as a server's run ends, see
 * [method@Gen.Server.add_run_end_func].
 *
 * Since: 1.0
 */
typedef void (*GenServerMonitorFunc) (GenServer    *server,
                                      const GError *reason,
                                      gpointer      user_data);

/**
 * GenServerStateFunc:
 * @state: the server's state, from its class's `dump_state`
 * @user_data: (closure): the data given to [method@Gen.Server.replace_state]
 *
 * Computes a server's new state from its current one, on the server's
 * thread: the `StateFun` of Erlang's `sys:replace_state/2`.
 *
 * Returns: (transfer full) (nullable): the new state, or %NULL to keep the
 *   current one; a floating reference is sunk
 *
 * Since: 1.2
 */
typedef GVariant *(*GenServerStateFunc) (GVariant *state,
                                         gpointer  user_data);

/**
 * GenServerClass:
 * @parent_class: the parent class
 * @init: sets up the server's state from the start arguments
 * @handle_cast: handles a message sent with [method@Gen.Server.cast]
 * @handle_call: handles a request sent with [method@Gen.Server.call] and
 *   returns its reply
 * @handle_info: handles a message that is neither a call nor a cast: timer
 *   messages, the idle timeout, [method@Gen.Server.send_info]
 * @terminate: cleans up when the server stops
 * @handle_continue: runs work scheduled with [method@Gen.Server.continue],
 *   before the next message from the mailbox
 * @format_status: summarises the server's state for
 *   [method@Gen.Server.get_status]
 * @dump_state: gives the server's whole state for
 *   [method@Gen.Server.get_state]; since 1.2
 * @load_state: takes a new state from
 *   [method@Gen.Server.replace_state]; since 1.2
 *
 * The class structure for [class@Gen.Server]. Every handler runs on the
 * server's own thread (or on the thread that iterates its
 * [property@Gen.Server:main-context], or on a worker of its
 * [property@Gen.Server:scheduler]), one message at a time.
 *
 * Since: 1.0
 */

/**
 * GenServerClass::init:
 * @self: the server
 * @args: (nullable): the arguments given to [method@Gen.Server.start]
 * @error: return location for an error: setting one makes start fail
 *
 * Sets up the server's state, on the server's thread. Run by
 * [method@Gen.Server.start], which waits for it.
 *
 * Since: 1.0
 */

/**
 * GenServerClass::handle_cast:
 * @self: the server
 * @message: the message
 * @error: return location for an error: setting one is a crash
 *
 * Handles a message sent with [method@Gen.Server.cast].
 *
 * Since: 1.0
 */

/**
 * GenServerClass::handle_call:
 * @self: the server
 * @message: the request
 * @error: return location for the error the caller gets instead of a reply
 *
 * Handles a request sent with [method@Gen.Server.call] and returns its
 * reply, or sets @error, which goes to the caller (the server goes on). A
 * handler that took the reply handle with [method@Gen.Server.take_reply]
 * returns %NULL and answers later.
 *
 * Returns: (nullable) (transfer full): the reply; a floating reference is
 *   sunk
 *
 * Since: 1.0
 */

/**
 * GenServerClass::handle_info:
 * @self: the server
 * @message: the message
 * @error: return location for an error: setting one is a crash
 *
 * Handles a message that is neither a call nor a cast: from
 * [method@Gen.Server.send_info], a timer of [method@Gen.Server.send_after],
 * or the idle timeout (see [func@Gen.Server.is_idle_timeout]).
 *
 * Since: 1.0
 */

/**
 * GenServerClass::terminate:
 * @self: the server
 * @reason: (nullable): why the server stops: %NULL for a normal stop, the
 *   error of the crash otherwise
 *
 * Cleans up when the server stops, on the server's thread, once.
 *
 * Since: 1.0
 */

/**
 * GenServerClass::handle_continue:
 * @self: the server
 * @message: the message given to [method@Gen.Server.continue]
 * @error: return location for an error: setting one is a crash
 *
 * Runs work scheduled with [method@Gen.Server.continue], before the next
 * message from the mailbox.
 *
 * Since: 1.0
 */
/**
 * GenServerClass::format_status:
 * @self: the server
 *
 * Summarises the server's state for the `state` entry of
 * [method@Gen.Server.get_status], as OTP's `format_status/1` does: a
 * subclass returns what a person debugging it wants to see (a count, the
 * size of a table), not necessarily all of it. Optional: without it, the
 * snapshot has no `state`.
 *
 * It runs on the server's handler thread, between two messages (also
 * while the server is suspended), so it reads the state as the handlers
 * do, with no lock. It must not block.
 *
 * ```c
 * static GVariant *
 * my_counter_format_status (GenServer *server)
 * {
 *   return g_variant_new ("(x)", MY_COUNTER (server)->count);
 * }
 * ```
 *
 * Returns: (nullable) (transfer full): the summary; a floating reference is
 *   sunk
 *
 * Since: 1.0
 */
/**
 * GenServerClass::dump_state:
 * @self: the server
 *
 * Gives the server's state as a variant, for [method@Gen.Server.get_state]
 * (Erlang's `sys:get_state/1`): unlike `format_status`, all of it, in a
 * form that `load_state` takes back. Optional: without it,
 * [method@Gen.Server.get_state] fails. It runs on the server's handler
 * thread, between two messages (also while suspended), and must not block.
 *
 * Python classes override `do_dump_state`; [class@Gen.Statem] implements it
 * as `(state, data)`.
 *
 * Returns: (transfer full): the state; a floating reference is sunk
 *
 * Since: 1.2
 */

/**
 * GenServerClass::load_state:
 * @self: the server
 * @state: the new state, of the form `dump_state` gives
 * @error: return location for an error: the state is then kept and the
 *   caller of [method@Gen.Server.replace_state] gets the error
 *
 * Takes a new state, for [method@Gen.Server.replace_state] (Erlang's
 * `sys:replace_state/2`), on the server's handler thread.
 *
 * Returns: %TRUE if the state was replaced
 *
 * Since: 1.2
 */
struct _GenServerClass
{
  GObjectClass parent_class;

  void      (*init)        (GenServer     *self,
                            GVariant      *args,
                            GError       **error);
  void      (*handle_cast) (GenServer     *self,
                            GVariant      *message,
                            GError       **error);
  GVariant *(*handle_call) (GenServer     *self,
                            GVariant      *message,
                            GError       **error);
  void      (*handle_info) (GenServer     *self,
                            GVariant      *message,
                            GError       **error);
  void      (*terminate)   (GenServer     *self,
                            const GError  *reason);
  void      (*handle_continue) (GenServer *self,
                                GVariant  *message,
                                GError   **error);

  GVariant *(*format_status) (GenServer *self);

  GVariant *(*dump_state) (GenServer  *self);
  gboolean  (*load_state) (GenServer  *self,
                           GVariant   *state,
                           GError    **error);

  /*< private >*/
  gpointer _reserved[12];
};

GEN_AVAILABLE_IN_ALL
gboolean      gen_server_start               (GenServer            *self,
                                              GVariant             *args,
                                              GError              **error);
GEN_AVAILABLE_IN_ALL
gboolean      gen_server_stop                (GenServer            *self,
                                              gint                  timeout_ms,
                                              GError              **error);
GEN_AVAILABLE_IN_ALL
gboolean      gen_server_stop_with_reason    (GenServer            *self,
                                              const GError         *reason,
                                              gint                  timeout_ms,
                                              GError              **error);
GEN_AVAILABLE_IN_ALL
gboolean      gen_server_is_running          (GenServer            *self);
GEN_AVAILABLE_IN_ALL
guint         gen_server_monitor             (GenServer            *self,
                                              GenServerMonitorFunc  func,
                                              gpointer              user_data,
                                              GDestroyNotify        destroy);
GEN_AVAILABLE_IN_ALL
gboolean      gen_server_demonitor           (GenServer            *self,
                                              guint                 monitor_id);
GEN_AVAILABLE_IN_1_2
void          gen_server_add_run_end_func    (GenServer            *self,
                                              GenServerMonitorFunc  func,
                                              gpointer              user_data,
                                              GDestroyNotify        destroy);
GEN_AVAILABLE_IN_ALL
gboolean      gen_server_cast                (GenServer            *self,
                                              GVariant             *message,
                                              GError              **error);
GEN_AVAILABLE_IN_ALL
gboolean      gen_server_cast_with_timeout   (GenServer            *self,
                                              GVariant             *message,
                                              gint                  timeout_ms,
                                              GError              **error);
GEN_AVAILABLE_IN_ALL
GVariant     *gen_server_call                (GenServer            *self,
                                              GVariant             *message,
                                              gint                  timeout_ms,
                                              GError              **error);
GEN_AVAILABLE_IN_ALL
void          gen_server_call_async          (GenServer            *self,
                                              GVariant             *message,
                                              gint                  timeout_ms,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
GEN_AVAILABLE_IN_ALL
GVariant     *gen_server_call_finish         (GenServer            *self,
                                              GAsyncResult         *result,
                                              GError              **error);
GEN_AVAILABLE_IN_ALL
gboolean      gen_server_send_info           (GenServer            *self,
                                              GVariant             *message,
                                              GError              **error);
GEN_AVAILABLE_IN_ALL
guint         gen_server_send_after          (GenServer            *self,
                                              GVariant             *message,
                                              guint                 delay_ms,
                                              GError              **error);
GEN_AVAILABLE_IN_ALL
gboolean      gen_server_cancel_timer        (GenServer            *self,
                                              guint                 timer_id);
GEN_AVAILABLE_IN_ALL
void          gen_server_continue            (GenServer            *self,
                                              GVariant             *message);
GEN_AVAILABLE_IN_ALL
GenReply     *gen_server_take_reply          (GenServer            *self);
GEN_AVAILABLE_IN_ALL
gint          gen_server_get_idle_timeout    (GenServer            *self);
GEN_AVAILABLE_IN_ALL
void          gen_server_set_idle_timeout    (GenServer            *self,
                                              gint                  timeout_ms);
GEN_AVAILABLE_IN_ALL
gboolean      gen_server_is_idle_timeout     (GVariant             *message);
GEN_AVAILABLE_IN_ALL
guint         gen_server_get_mailbox_length  (GenServer            *self);
GEN_AVAILABLE_IN_ALL
guint         gen_server_get_mailbox_capacity (GenServer           *self);
GEN_AVAILABLE_IN_ALL
GenMailboxPolicy gen_server_get_mailbox_policy (GenServer          *self);
GEN_AVAILABLE_IN_ALL
const gchar  *gen_server_get_cast_type       (GenServer            *self);
GEN_AVAILABLE_IN_ALL
const gchar  *gen_server_get_call_type       (GenServer            *self);
GEN_AVAILABLE_IN_ALL
GMainContext *gen_server_get_main_context    (GenServer            *self);
GEN_AVAILABLE_IN_ALL
GenScheduler *gen_server_get_scheduler       (GenServer            *self);
GEN_AVAILABLE_IN_ALL
void          gen_server_class_set_cast_type (GenServerClass       *klass,
                                              const gchar          *type_string);
GEN_AVAILABLE_IN_ALL
void          gen_server_class_set_call_type (GenServerClass       *klass,
                                              const gchar          *type_string);
GEN_AVAILABLE_IN_ALL
GVariant     *gen_server_get_status          (GenServer            *self);
GEN_AVAILABLE_IN_1_2
GVariant     *gen_server_get_state           (GenServer            *self,
                                              gint                  timeout_ms,
                                              GError              **error);
GEN_AVAILABLE_IN_1_2
GVariant     *gen_server_replace_state       (GenServer            *self,
                                              gint                  timeout_ms,
                                              GenServerStateFunc    func,
                                              gpointer              user_data,
                                              GError              **error);
GEN_AVAILABLE_IN_ALL
void          gen_server_suspend             (GenServer            *self);
GEN_AVAILABLE_IN_ALL
void          gen_server_resume              (GenServer            *self);
GEN_AVAILABLE_IN_ALL
void          gen_server_set_trace           (GenServer            *self,
                                              gboolean              trace);
GEN_AVAILABLE_IN_ALL
gboolean      gen_server_get_trace           (GenServer            *self);
GEN_AVAILABLE_IN_ALL
const gchar  *gen_server_get_run_status      (GenServer            *self);

G_END_DECLS
