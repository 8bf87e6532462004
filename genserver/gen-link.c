/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-core-private.h"
#include "gen-link.h"
#include "gen-start.h"

/*
 * Links: Erlang's link/1, unlink/1 and trap_exit.
 *
 * A link joins the current runs of two servers. It is an exit hook on each
 * (gen_monitor_watch()), so it ends with either run: whichever
 * server finishes first breaks the link, removes the hook on the other one
 * and tells it. Every link's state is under one process-wide lock, held
 * only for bookkeeping, never while a hook, a stop or a send runs.
 */

typedef struct
{
  gint ref_count;   /* atomic: one per exit hook, one for the link's creator */

  /* Immutable. */
  guint id;
  GenServer *a;     /* owned */
  GenServer *b;     /* owned */

  /* links_lock. */
  guint hook_a;     /* the exit hook on a; 0 before it is set */
  guint hook_b;
  gboolean broken;  /* unlinked, or one of the runs ended */
} Link;

G_LOCK_DEFINE_STATIC (links_lock);

static GQuark
links_quark (void)
{
  return g_quark_from_static_string ("gen-server-links");
}

static GQuark
trap_exit_quark (void)
{
  return g_quark_from_static_string ("gen-server-trap-exit");
}

#define EXIT_TAG "gen-exit"

static Link *
link_ref (Link *link)
{
  g_atomic_int_inc (&link->ref_count);
  return link;
}

static void
link_unref (gpointer data)
{
  Link *link = data;

  if (!g_atomic_int_dec_and_test (&link->ref_count))
    return;

  g_object_unref (link->a);
  g_object_unref (link->b);
  g_free (link);
}

/* @self's links: other server → Link (unowned: the hooks own them). Under
 * links_lock. */
static GHashTable *
links_table_locked (GenServer *self,
                    gboolean   create)
{
  GHashTable *table = g_object_get_qdata (G_OBJECT (self), links_quark ());

  if (table == NULL && create)
    {
      table = g_hash_table_new (NULL, NULL);
      g_object_set_qdata_full (G_OBJECT (self), links_quark (), table,
                               (GDestroyNotify) g_hash_table_unref);
    }
  return table;
}

/* Marks @link broken and forgets it. Under links_lock. */
static void
link_break_locked (Link *link)
{
  GHashTable *table;

  link->broken = TRUE;
  if ((table = links_table_locked (link->a, FALSE)) != NULL &&
      g_hash_table_lookup (table, link->b) == link)
    g_hash_table_remove (table, link->b);
  if ((table = links_table_locked (link->b, FALSE)) != NULL &&
      g_hash_table_lookup (table, link->a) == link)
    g_hash_table_remove (table, link->a);
}

static GVariant *
exit_message_new (Link         *link,
                  GenServer    *stopped,
                  const GError *reason)
{
  return g_variant_new ("(sussis)", EXIT_TAG, link->id, G_OBJECT_TYPE_NAME (stopped),
                        reason != NULL ? g_quark_to_string (reason->domain) : "",
                        reason != NULL ? reason->code : 0,
                        reason != NULL ? reason->message : "");
}

/* The exit hook: runs where @server finishes. Tells the other end. */
static void
link_exited (GenServer    *server,
             const GError *reason,
             gpointer      user_data)
{
  Link *link = user_data;
  GenServer *other;
  guint other_hook;

  G_LOCK (links_lock);
  if (link->broken)
    {
      G_UNLOCK (links_lock);
      return;
    }
  link_break_locked (link);
  other = server == link->a ? link->b : link->a;
  other_hook = server == link->a ? link->hook_b : link->hook_a;
  G_UNLOCK (links_lock);

  gen_server_demonitor (other, other_hook);

  if (gen_server_get_trap_exit (other))
    gen_server_send_info (other, exit_message_new (link, server, reason), NULL);
  else if (reason != NULL && !gen_server_is_ignore (reason))
    /* An exit signal, as Erlang's: the other server ends as soon as the
     * handler it runs (if any) returns, without handling what it has
     * queued and without terminate, with the same reason, which its own
     * links pass on in turn. It never blocks, as an exit hook must not. */
    gen_run_kill (other, reason);
}

static void
set_not_running (GError    **error,
                 GenServer  *server)
{
  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING,
               "%s is not running: cannot link to it", G_OBJECT_TYPE_NAME (server));
}

/**
 * gen_server_link:
 * @self: a #GenServer
 * @other: another #GenServer
 * @error: return location for an error
 *
 * Links two running servers, as Erlang's `link/1` does: when either one
 * stops abnormally (a crash, [method@Gen.Server.stop_with_reason], a failed
 * `init`), the other gets an exit signal with the same reason. Unless it
 * traps exits, that ends it at once, as an Erlang process that does not
 * trap exits is ended:
 *
 * - the messages still in its mailbox are not handled: calls among them
 *   are answered %GEN_SERVER_ERROR_STOPPED, casts and infos are dropped,
 *   and so is work scheduled with [method@Gen.Server.continue];
 * - its `terminate` does not run (a server that must clean up traps exits
 *   and stops itself from `handle_info`, as in Erlang);
 * - its monitors and its own links get the same reason, so the signal
 *   travels on; no crash report is written for it (the crash that sent it
 *   has one), only the debug trace says it was killed.
 *
 * A handler that is running when the signal comes is not interrupted (a
 * thread cannot be): the server ends when it returns, whichever scheduler
 * runs it. A suspended server ends at once; a server still in `init` (a
 * link its own `init` made) fails its start with the reason. A normal stop
 * propagates nothing, and neither does an ignored start.
 *
 * A server that traps exits ([method@Gen.Server.set_trap_exit]) is not
 * ended: it gets an info message instead (see
 * [func@Gen.Server.is_exit_message]), for a normal stop as well, and
 * decides.
 *
 * A link is two-way, joins the current runs of both servers (a server
 * started again has no links), and is removed by either run's end or by
 * [method@Gen.Server.unlink]. Linking two servers that are already linked
 * gives the same link. From any thread.
 *
 * Returns: the link's id (never 0), as carried by the exit message; 0
 *   with %GEN_SERVER_ERROR_NOT_RUNNING if either server is not running
 *
 * Since: 1.0
 */
guint
gen_server_link (GenServer  *self,
                 GenServer  *other,
                 GError    **error)
{
  static gint last_id;
  GHashTable *table;
  Link *link;
  guint id;

  g_return_val_if_fail (GEN_IS_SERVER (self), 0);
  g_return_val_if_fail (GEN_IS_SERVER (other), 0);
  g_return_val_if_fail (self != other, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  G_LOCK (links_lock);
  table = links_table_locked (self, FALSE);
  if (table != NULL && (link = g_hash_table_lookup (table, other)) != NULL)
    {
      id = link->id;
      G_UNLOCK (links_lock);
      return id;
    }

  link = g_new0 (Link, 1);
  link->ref_count = 1;
  do
    link->id = (guint) g_atomic_int_add (&last_id, 1) + 1;
  while (link->id == 0);
  link->a = g_object_ref (self);
  link->b = g_object_ref (other);

  /* Under the lock, so that a hook that fires at once waits until the link
   * is complete (hooks never take a monitor table's lock while they run,
   * so this cannot deadlock). */
  link->hook_a = gen_monitor_watch (self, link_exited, link_ref (link),
                                    link_unref, GEN_WATCH_DEFAULT);
  if (link->hook_a == 0)
    {
      link_unref (link); /* the hook's */
      set_not_running (error, self);
      goto fail;
    }
  link->hook_b = gen_monitor_watch (other, link_exited, link_ref (link),
                                    link_unref, GEN_WATCH_DEFAULT);
  if (link->hook_b == 0)
    {
      link_unref (link);
      set_not_running (error, other);
      goto fail;
    }

  g_hash_table_insert (links_table_locked (self, TRUE), other, link);
  g_hash_table_insert (links_table_locked (other, TRUE), self, link);
  id = link->id;
  G_UNLOCK (links_lock);
  link_unref (link);
  return id;

fail:
  /* A hook that fired meanwhile finds the link broken and does nothing. */
  link->broken = TRUE;
  G_UNLOCK (links_lock);
  if (link->hook_a != 0)
    gen_server_demonitor (self, link->hook_a);
  link_unref (link);
  return 0;
}

/**
 * gen_server_unlink:
 * @self: a #GenServer
 * @other: a #GenServer linked to @self
 *
 * Removes the link between two servers, as Erlang's `unlink/1` does: once
 * this returns, neither one's stop affects the other. From any thread.
 *
 * Returns: %TRUE if there was a link to remove
 *
 * Since: 1.0
 */
gboolean
gen_server_unlink (GenServer *self,
                   GenServer *other)
{
  GHashTable *table;
  Link *link = NULL;

  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);
  g_return_val_if_fail (GEN_IS_SERVER (other), FALSE);

  G_LOCK (links_lock);
  table = links_table_locked (self, FALSE);
  if (table != NULL)
    link = g_hash_table_lookup (table, other);
  if (link == NULL || link->broken)
    {
      G_UNLOCK (links_lock);
      return FALSE;
    }
  link_break_locked (link);
  link_ref (link); /* its hooks may run and go meanwhile */
  G_UNLOCK (links_lock);

  gen_server_demonitor (link->a, link->hook_a);
  gen_server_demonitor (link->b, link->hook_b);
  link_unref (link);
  return TRUE;
}

/**
 * gen_server_set_trap_exit:
 * @self: a #GenServer
 * @trap_exit: whether to trap exits
 *
 * Makes the server trap exits, as Erlang's `process_flag(trap_exit, true)`
 * does: when a server linked to it stops, normally or not, it is not
 * stopped but gets an info message of type
 * %GEN_SERVER_EXIT_MESSAGE_TYPE (see [func@Gen.Server.is_exit_message]).
 * Usually set in `init`; it stays set until changed, across restarts of
 * the same instance. From any thread.
 *
 * Since: 1.0
 */
void
gen_server_set_trap_exit (GenServer *self,
                          gboolean   trap_exit)
{
  g_return_if_fail (GEN_IS_SERVER (self));

  g_object_set_qdata (G_OBJECT (self), trap_exit_quark (), GINT_TO_POINTER (!!trap_exit));
}

/**
 * gen_server_get_trap_exit:
 * @self: a #GenServer
 *
 * Whether the server traps exits; see [method@Gen.Server.set_trap_exit].
 *
 * Returns: %TRUE if it traps exits
 *
 * Since: 1.0
 */
gboolean
gen_server_get_trap_exit (GenServer *self)
{
  g_return_val_if_fail (GEN_IS_SERVER (self), FALSE);

  return GPOINTER_TO_INT (g_object_get_qdata (G_OBJECT (self), trap_exit_quark ()));
}

/**
 * gen_server_is_exit_message:
 * @message: a message given to `handle_info`
 * @link_id: (out) (optional): the id of the link, as
 *   [method@Gen.Server.link] returned it
 *
 * Whether @message is the notice that a linked server stopped, for a
 * server that traps exits (Erlang's `{'EXIT', Pid, Reason}`). Its reason is
 * [func@Gen.Server.exit_message_dup_reason].
 *
 * Returns: %TRUE for an exit message
 *
 * Since: 1.0
 */
gboolean
gen_server_is_exit_message (GVariant *message,
                            guint    *link_id)
{
  const gchar *tag;
  guint id;

  g_return_val_if_fail (message != NULL, FALSE);

  if (!g_variant_is_of_type (message, G_VARIANT_TYPE (GEN_SERVER_EXIT_MESSAGE_TYPE)))
    return FALSE;
  g_variant_get (message, "(&su&s&si&s)", &tag, &id, NULL, NULL, NULL, NULL);
  if (!g_str_equal (tag, EXIT_TAG))
    return FALSE;
  if (link_id != NULL)
    *link_id = id;
  return TRUE;
}

/**
 * gen_server_exit_message_dup_reason:
 * @message: an exit message (see [func@Gen.Server.is_exit_message])
 *
 * The reason the linked server stopped with.
 *
 * Returns: (transfer full) (nullable): the reason, or %NULL for a normal
 *   stop
 *
 * Since: 1.0
 */
GError *
gen_server_exit_message_dup_reason (GVariant *message)
{
  const gchar *domain;
  const gchar *text;
  gint code;

  g_return_val_if_fail (gen_server_is_exit_message (message, NULL), NULL);

  g_variant_get (message, "(&su&s&si&s)", NULL, NULL, NULL, &domain, &code, &text);
  if (*domain == '\0')
    return NULL;
  return g_error_new_literal (g_quark_from_string (domain), code, text);
}
