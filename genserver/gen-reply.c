/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-call-private.h"
#include "gen-reply-private.h"
#include "gen-server.h"

/**
 * GenReply:
 *
 * The pending answer to one call, for a server that answers later.
 *
 * Inside `handle_call`, a server takes the reply handle of the current call
 * with [method@Gen.Server.take_reply] and returns %NULL without setting an
 * error. The caller keeps waiting. Later, from any thread, the server (or
 * whatever it handed the handle to) answers once with
 * [method@Gen.Reply.return_value] or [method@Gen.Reply.return_error].
 *
 * The caller's timeout still applies: an answer that comes after the caller
 * gave up is dropped. A handle freed without an answer fails the call with
 * %GEN_SERVER_ERROR_NO_REPLY and logs a warning, as a [class@Gio.Task] that
 * never returned does: that is a bug in the server.
 *
 * In C, a server that answers once something else happened:
 *
 * ```c
 * static GVariant *
 * my_server_handle_call (GenServer *server, GVariant *message, GError **error)
 * {
 *   MyServer *self = MY_SERVER (server);
 *
 *   self->waiting = gen_server_take_reply (server);     // the caller waits
 *   return NULL;
 * }
 *
 * static void
 * my_server_handle_info (GenServer *server, GVariant *message, GError **error)
 * {
 *   MyServer *self = MY_SERVER (server);
 *
 *   if (self->waiting != NULL)
 *     gen_reply_return_value (self->waiting, g_variant_new_int32 (42));
 *   g_clear_object (&self->waiting);
 * }
 * ```
 *
 * In Python:
 *
 * ```python
 * def do_handle_call(self, message):
 *     self.waiting = self.take_reply()
 *     return None
 *
 * def do_handle_info(self, message):
 *     if self.waiting is not None:
 *         self.waiting.return_value(GLib.Variant('i', 42))
 *         self.waiting = None
 * ```
 *
 * In JavaScript, answer on the server's own thread (from a timer or a
 * promise):
 *
 * ```js
 * vfunc_handle_call(message) {
 *     const reply = this.take_reply();
 *     GLib.timeout_add(GLib.PRIORITY_DEFAULT, 100, () => {
 *         reply.return_value(new GLib.Variant('i', 42));
 *         return GLib.SOURCE_REMOVE;
 *     });
 *     return null;
 * }
 * ```
 *
 * `examples/ticker.c` and `examples/python/ticker.py` are whole programs.
 *
 * Since: 1.0
 */
struct _GenReply
{
  GObject parent_instance;

  GenCall *call;        /* owned; immutable */
  gchar *server_name;   /* owned; immutable */
  gint answered;        /* atomic: the first answer wins */
};

G_DEFINE_FINAL_TYPE (GenReply, gen_reply, G_TYPE_OBJECT)

GenReply *
gen_reply_new (const gchar *server_name,
               GenCall     *call)
{
  GenReply *self = g_object_new (GEN_TYPE_REPLY, NULL);

  self->call = gen_call_ref (call);
  self->server_name = g_strdup (server_name);
  return self;
}

static gboolean
claim_answer (GenReply *self)
{
  if (!g_atomic_int_compare_and_exchange (&self->answered, FALSE, TRUE))
    {
      g_critical ("The reply to a call to %s was already answered", self->server_name);
      return FALSE;
    }
  return TRUE;
}

/**
 * gen_reply_return_value:
 * @self: a #GenReply
 * @value: the reply; a floating reference is sunk
 *
 * Answers the call with @value, from any thread. A call is answered once:
 * answering again is a programmer error.
 *
 * ```c
 * gen_reply_return_value (self->waiting, g_variant_new_int32 (self->ticks));
 * g_clear_object (&self->waiting);
 * ```
 *
 * ```python
 * self.waiting.return_value(GLib.Variant('i', self.ticks))
 * ```
 *
 * Since: 1.0
 */
void
gen_reply_return_value (GenReply *self,
                        GVariant *value)
{
  g_return_if_fail (GEN_IS_REPLY (self));
  g_return_if_fail (value != NULL);

  g_variant_ref_sink (value);
  if (!claim_answer (self))
    {
      g_variant_unref (value);
      return;
    }
  gen_call_answer (self->call, value, NULL);
}

/**
 * gen_reply_return_error:
 * @self: a #GenReply
 * @error: the error for the caller; it is copied
 *
 * Answers the call with @error, from any thread: the caller of
 * [method@Gen.Server.call] gets a copy of it. A call is answered once:
 * answering again is a programmer error.
 *
 * ```c
 * g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
 *                                                "The job was dropped");
 *
 * gen_reply_return_error (self->waiting, error);
 * g_clear_object (&self->waiting);
 * ```
 *
 * ```python
 * self.waiting.return_error(GLib.Error.new_literal(
 *     Gio.io_error_quark(), 'The job was dropped', Gio.IOErrorEnum.CANCELLED))
 * ```
 *
 * Since: 1.0
 */
void
gen_reply_return_error (GenReply     *self,
                        const GError *error)
{
  g_return_if_fail (GEN_IS_REPLY (self));
  g_return_if_fail (error != NULL);

  if (!claim_answer (self))
    return;
  gen_call_answer (self->call, NULL, g_error_copy (error));
}

/**
 * gen_reply_is_answered:
 * @self: a #GenReply
 *
 * Whether the call was answered through this handle.
 *
 * Returns: %TRUE once [method@Gen.Reply.return_value] or
 *   [method@Gen.Reply.return_error] was called
 *
 * Since: 1.0
 */
gboolean
gen_reply_is_answered (GenReply *self)
{
  g_return_val_if_fail (GEN_IS_REPLY (self), FALSE);

  return g_atomic_int_get (&self->answered);
}

static void
gen_reply_finalize (GObject *object)
{
  GenReply *self = GEN_REPLY (object);

  /* A call the end of its server's run answered is no loss. */
  if (!g_atomic_int_get (&self->answered) && !gen_call_is_final (self->call))
    {
      g_warning ("The reply to a call to %s was dropped without an answer", self->server_name);
      gen_call_answer (self->call, NULL,
                                g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_REPLY,
                                             "%s dropped the reply to the call without answering",
                                             self->server_name));
    }

  gen_call_unref (self->call);
  g_free (self->server_name);

  G_OBJECT_CLASS (gen_reply_parent_class)->finalize (object);
}

static void
gen_reply_class_init (GenReplyClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = gen_reply_finalize;
}

static void
gen_reply_init (GenReply *self)
{
}
