/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-core-private.h"
#include "gen-dbus-private.h"
#include "gen-resources.h"

/*
 * What the D-Bus files share.
 *
 * The export record: one owner (a server, gen-export.c; a registry,
 * gen-registry-export.c) on one connection at one object path, its
 * reference counting, its place in the owner's list, its end when the
 * connection closes; and the one dispatcher of the interface's methods and
 * properties, which asks the kind of export which server a message goes to.
 *
 * Method calls arrive on the thread-default context of the thread that
 * exported, as for every GDBus object, and nothing there ever waits for a
 * mailbox: a peer must not stall that context (a GTK app's UI, other
 * exported servers). A Call goes on with gen_server_call_async(), which
 * never waits for room, with the remote caller's own timeout, capped by
 * the export's: a request still queued when the caller gave up is never
 * handled, as locally. A Cast is queued with a timeout of 0 for room, so a
 * full mailbox refuses it at once whatever its policy.
 *
 * Messages from peers are bounded per export, in bytes: a call counts
 * until it is answered, a cast or info until the server lets go of its message (the
 * message's bytes carry a ticket whose release counts it out), so that an
 * unbounded mailbox or handle_info cannot grow without limit either.
 *
 * Errors cross in both directions with their GEN_SERVER_ERROR domain and
 * code, and what only a distance brings (a vanished peer, a D-Bus timeout)
 * is mapped into that domain for the remote side (gen-remote.c).
 */

static GMutex export_lock;

void
gen_dbus_export_lock (void)
{
  g_mutex_lock (&export_lock);
}

void
gen_dbus_export_unlock (void)
{
  g_mutex_unlock (&export_lock);
}

/* Errors ----------------------------------------------------------------- */

static const GDBusErrorEntry error_entries[] = {
  { GEN_SERVER_ERROR_FAILED, "io.github.genserver.Error.Failed" },
  { GEN_SERVER_ERROR_TIMEOUT, "io.github.genserver.Error.Timeout" },
  { GEN_SERVER_ERROR_NOT_RUNNING, "io.github.genserver.Error.NotRunning" },
  { GEN_SERVER_ERROR_ALREADY_RUNNING, "io.github.genserver.Error.AlreadyRunning" },
  { GEN_SERVER_ERROR_INVALID_MESSAGE, "io.github.genserver.Error.InvalidMessage" },
  { GEN_SERVER_ERROR_CALLING_SELF, "io.github.genserver.Error.CallingSelf" },
  { GEN_SERVER_ERROR_MAILBOX_FULL, "io.github.genserver.Error.MailboxFull" },
  { GEN_SERVER_ERROR_STOPPED, "io.github.genserver.Error.Stopped" },
  { GEN_SERVER_ERROR_INVALID_TYPE, "io.github.genserver.Error.InvalidType" },
  { GEN_SERVER_ERROR_NO_REPLY, "io.github.genserver.Error.NoReply" },
  { GEN_SERVER_ERROR_NAME_TAKEN, "io.github.genserver.Error.NameTaken" },
  { GEN_SERVER_ERROR_NOT_FOUND, "io.github.genserver.Error.NotFound" },
  { GEN_SERVER_ERROR_TOO_MANY_RESTARTS, "io.github.genserver.Error.TooManyRestarts" },
  { GEN_SERVER_ERROR_IGNORED, "io.github.genserver.Error.Ignored" },
  { GEN_SERVER_ERROR_NO_CONNECTION, "io.github.genserver.Error.NoConnection" },
};

void
gen_dbus_error_ensure (void)
{
  static gsize registered;

  /* Under the domain's own quark name, so that the quark GDBus hands out on
   * the receiving side is GEN_SERVER_ERROR. */
  g_dbus_error_register_error_domain (g_quark_to_string (GEN_SERVER_ERROR), &registered,
                                      error_entries, G_N_ELEMENTS (error_entries));
}

gboolean
gen_dbus_error_is_lost_peer (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED);
}

GError *
gen_dbus_error_from_call (GError      *error,
                          const gchar *name,
                          const gchar *object_path,
                          gint         timeout_ms)
{
  GError *mapped = NULL;

  if (g_dbus_error_is_remote_error (error))
    g_dbus_error_strip_remote_error (error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    mapped = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT,
                          "%s did not answer within %d ms", name, timeout_ms);
  else if (gen_dbus_error_is_lost_peer (error))
    mapped = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_NO_CONNECTION,
                          "noconnection: the connection to %s was lost before it answered: %s",
                          name, error->message);
  else if (g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
           g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
           g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT) ||
           g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD) ||
           g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE))
    mapped = g_error_new (GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING,
                          "%s is not exported at %s any more: %s",
                          name, object_path, error->message);

  if (mapped == NULL)
    return error;
  g_error_free (error);
  return mapped;
}

/* The interface and what may travel -------------------------------------- */

GDBusInterfaceInfo *
gen_dbus_load_interface (const gchar *interface_name)
{
  static gsize registered;
  g_autofree gchar *path = g_strconcat ("/io/github/genserver/", interface_name, ".xml", NULL);
  g_autoptr(GBytes) xml = NULL;
  g_autoptr(GDBusNodeInfo) node = NULL;
  g_autoptr(GError) error = NULL;

  /* Registered by hand, once: a constructor would be dropped from the
   * static copy of the library that tests link. */
  if (g_once_init_enter (&registered))
    {
      gen_register_resource ();
      g_once_init_leave (&registered, 1);
    }
  xml = g_resource_lookup_data (gen_get_resource (), path, G_RESOURCE_LOOKUP_FLAGS_NONE, &error);
  g_assert_no_error (error);
  node = g_dbus_node_info_new_for_xml (g_bytes_get_data (xml, NULL), &error);
  g_assert_no_error (error);
  return g_dbus_interface_info_ref (g_dbus_node_info_lookup_interface (node, interface_name));
}

GDBusInterfaceInfo *
gen_dbus_interface_info (void)
{
  static gsize info; /* GDBusInterfaceInfo */

  /* Kept for the life of the process, as GDBus keeps what it is given. */
  if (g_once_init_enter (&info))
    g_once_init_leave (&info, (gsize) gen_dbus_load_interface (GEN_DBUS_INTERFACE));
  return (GDBusInterfaceInfo *) info;
}

/* What D-Bus carries (its specification's "Valid Signatures"). Past these
 * limits a message is not refused where it is sent: GDBus writes it, and
 * then the bus daemon disconnects the sender, or a peer's GDBus cannot
 * read it and drops the connection it came on. */
#define WIRE_MAX_SIGNATURE 255 /* a variant's type string has a one-byte length */
#define WIRE_MAX_NESTING   32  /* arrays, and structures, open in one signature */
#define WIRE_MAX_DEPTH     64  /* containers around a value in a message's body,
                                * variants included */

/* Why @signature (the type string of a message, or of a variant inside
 * it) cannot travel over D-Bus, or NULL; sets @depth to how deep it nests,
 * as GLib counts: 1 for a basic type or a variant, one more than its
 * deepest item for a container. One pass, whatever the type. */
static const gchar *
signature_problem (const gchar *signature,
                   guint       *depth)
{
  gchar open[WIRE_MAX_SIGNATURE]; /* 'a', '(' or '{': the containers around p */
  guint n_open = 0, n_arrays = 0, n_structs = 0;

  *depth = 0;
  if (strlen (signature) > WIRE_MAX_SIGNATURE)
    return "its type string is longer than D-Bus's 255 bytes";

  for (const gchar *p = signature; *p != '\0'; p++)
    {
      switch (*p)
        {
        case 'm':
          return "D-Bus has no maybe types";
        case 'a':
          if (++n_arrays > WIRE_MAX_NESTING)
            return "D-Bus nests at most 32 arrays";
          open[n_open++] = *p;
          *depth = MAX (*depth, n_open);
          continue;
        case '(':
          if (p[1] == ')')
            return "D-Bus has no empty structures";
          if (++n_structs > WIRE_MAX_NESTING)
            return "D-Bus nests at most 32 structures";
          open[n_open++] = *p;
          *depth = MAX (*depth, n_open);
          continue;
        case '{':
          /* Nested no deeper than the arrays they are items of. */
          if (n_open == 0 || open[n_open - 1] != 'a')
            return "D-Bus has dictionary entries only as the items of an array";
          open[n_open++] = *p;
          *depth = MAX (*depth, n_open);
          continue;
        case ')':
          n_structs--;
          n_open--;
          break;
        case '}':
          n_open--;
          break;
        default: /* a basic type, or a variant */
          *depth = MAX (*depth, n_open + 1);
          break;
        }

      /* A complete type ended here, and so did the arrays of which it is
       * the item type. */
      while (n_open > 0 && open[n_open - 1] == 'a')
        {
          n_open--;
          n_arrays--;
        }
    }

  return NULL;
}

static const gchar *wire_problem_of_signature (GVariant *value,
                                               guint     around);

/* Why a variant inside @value, which @around containers hold, cannot
 * travel over D-Bus, or NULL. A variant's content has a type of its own,
 * which @value's type string does not show. */
static const gchar *
wire_problem_of_variants (GVariant *value,
                          guint     around)
{
  gsize n;

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) content = g_variant_get_variant (value);

      return wire_problem_of_signature (content, around + 1);
    }

  if (strchr (g_variant_get_type_string (value), 'v') == NULL)
    return NULL;

  n = g_variant_n_children (value);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (value, i);
      const gchar *problem = wire_problem_of_variants (child, around + 1);

      if (problem != NULL)
        return problem;
    }
  return NULL;
}

/* Why @value, whose type D-Bus writes as a signature of its own and which
 * @around containers hold, cannot travel over D-Bus, or NULL. The depth is
 * checked before going in: this recurses at most WIRE_MAX_DEPTH deep. */
static const gchar *
wire_problem_of_signature (GVariant *value,
                           guint     around)
{
  guint depth;
  const gchar *problem = signature_problem (g_variant_get_type_string (value), &depth);

  if (problem != NULL)
    return problem;
  /* Its deepest value sits in depth - 1 containers of its own. */
  if (around + depth - 1 > WIRE_MAX_DEPTH)
    return "D-Bus nests values at most 64 containers deep, variants included";
  return wire_problem_of_variants (value, around);
}

const gchar *
gen_dbus_wire_problem (GVariant *value,
                       guint     around)
{
  return wire_problem_of_signature (value, around);
}

gboolean
gen_dbus_check_wire_type (GVariant     *message,
                          const gchar  *what,
                          GError      **error)
{
  /* A message or a reply travels as a variant argument. */
  const gchar *problem = gen_dbus_wire_problem (message, 1);

  if (problem == NULL)
    return TRUE;

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "a %s of type “%s” cannot travel over D-Bus: %s",
               what, g_variant_get_type_string (message), problem);
  return FALSE;
}

gboolean
gen_dbus_check_size (GVariant     *message,
                     guint64       max_size,
                     GError      **error)
{
  gsize size = g_variant_get_size (message);

  if (size <= max_size)
    return TRUE;

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "a message of %" G_GSIZE_FORMAT " bytes is over the limit of %" G_GUINT64_FORMAT " bytes",
               size, max_size);
  return FALSE;
}

/* The Stopped signal ----------------------------------------------------- */

void
gen_dbus_emit_stopped (GDBusConnection *connection,
                       const gchar     *object_path,
                       const GError    *reason)
{
  g_dbus_connection_emit_signal (connection, NULL, object_path,
                                 GEN_DBUS_INTERFACE, "Stopped",
                                 g_variant_new ("(sis)",
                                                reason ? g_quark_to_string (reason->domain) : "",
                                                reason ? reason->code : 0,
                                                reason ? reason->message : ""),
                                 NULL);
}

gboolean
gen_dbus_stopped_reason (GVariant  *parameters,
                         GError   **reason)
{
  const gchar *domain, *message;
  gint code;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(sis)")))
    return FALSE;

  g_variant_get (parameters, "(&si&s)", &domain, &code, &message);
  if (domain[0] != '\0')
    *reason = g_error_new_literal (g_quark_from_string (domain), code, message);
  return TRUE;
}

/* Work on a context of the D-Bus side ----------------------------------- */

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean done;  /* lock */
  GSourceFunc func;
  gpointer data;
} ContextJob;

static gboolean
context_job_run (gpointer user_data)
{
  ContextJob *job = user_data;

  job->func (job->data);
  g_mutex_lock (&job->lock);
  job->done = TRUE;
  g_cond_signal (&job->cond);
  g_mutex_unlock (&job->lock);
  return G_SOURCE_REMOVE;
}

void
gen_dbus_run_on_context (GMainContext *context,
                         GSourceFunc   func,
                         gpointer      data)
{
  ContextJob job = { .func = func, .data = data };
  GSource *source;

  if (g_main_context_is_owner (context))
    {
      func (data);
      return;
    }
  if (g_main_context_acquire (context))
    {
      g_main_context_push_thread_default (context);
      func (data);
      g_main_context_pop_thread_default (context);
      g_main_context_release (context);
      return;
    }

  g_mutex_init (&job.lock);
  g_cond_init (&job.cond);
  source = g_idle_source_new ();
  g_source_set_static_name (source, "[genserver] D-Bus job");
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, context_job_run, &job, NULL);
  g_source_attach (source, context);
  g_source_unref (source);

  g_mutex_lock (&job.lock);
  while (!job.done)
    g_cond_wait (&job.cond, &job.lock);
  g_mutex_unlock (&job.lock);
  g_mutex_clear (&job.lock);
  g_cond_clear (&job.cond);
}

/* Export records --------------------------------------------------------- */

gpointer
gen_dbus_export_new (const GenDBusExportClass *klass,
                     gsize                     size,
                     gpointer                  owner,
                     GDBusConnection          *connection,
                     const gchar              *object_path,
                     guint64                   max_message_size,
                     guint64                   max_pending_bytes,
                     gint                      max_timeout_ms)
{
  GenDBusExport *export;

  g_assert (size >= sizeof (GenDBusExport));

  export = g_malloc0 (size);
  export->klass = klass;
  export->ref_count = 1;
  g_weak_ref_init (&export->owner, owner);
  export->connection = g_object_ref (connection);
  export->object_path = g_strdup (object_path);
  export->max_message_size = max_message_size;
  export->max_pending_bytes = max_pending_bytes;
  export->max_timeout_ms = max_timeout_ms;
  export->cancellable = g_cancellable_new ();
  return export;
}

gpointer
gen_dbus_export_ref (gpointer data)
{
  GenDBusExport *export = data;

  g_atomic_int_inc (&export->ref_count);
  return export;
}

void
gen_dbus_export_unref (gpointer data)
{
  GenDBusExport *export = data;

  if (!g_atomic_int_dec_and_test (&export->ref_count))
    return;

  g_assert (!export->exported);
  if (export->klass->finalize != NULL)
    export->klass->finalize (export);
  g_weak_ref_clear (&export->owner);
  g_clear_object (&export->connection);
  g_clear_object (&export->cancellable);
  g_free (export->object_path);
  g_free (export);
}

static GQuark
export_list_quark (const GenDBusExportClass *klass)
{
  return g_quark_from_static_string (klass->list_name);
}

GenDBusExport *
gen_dbus_export_find_locked (const GenDBusExportClass *klass,
                             gpointer                  owner,
                             GDBusConnection          *connection)
{
  GPtrArray *exports = g_object_get_qdata (owner, export_list_quark (klass));

  for (guint i = 0; exports != NULL && i < exports->len; i++)
    {
      GenDBusExport *export = g_ptr_array_index (exports, i);

      if (export->connection == connection)
        return export;
    }
  return NULL;
}

void
gen_dbus_export_end_locked (GenDBusExport *export,
                            gpointer       owner)
{
  if (!export->exported)
    return;
  export->exported = FALSE;

  if (export->subtree)
    g_dbus_connection_unregister_subtree (export->connection, export->registration_id);
  else
    g_dbus_connection_unregister_object (export->connection, export->registration_id);
  export->registration_id = 0;
  g_signal_handler_disconnect (export->connection, export->closed_id);
  export->closed_id = 0;
  g_cancellable_cancel (export->cancellable);

  if (export->klass->end != NULL)
    export->klass->end (export, owner);

  if (owner != NULL)
    {
      GPtrArray *exports = g_object_get_qdata (owner, export_list_quark (export->klass));

      if (exports != NULL)
        g_ptr_array_remove (exports, export);
    }
}

/* The owner's list of exports, freed when the owner is finalized. */
static void
export_list_free (gpointer data)
{
  GPtrArray *exports = data;

  g_mutex_lock (&export_lock);
  for (guint i = 0; i < exports->len; i++)
    gen_dbus_export_end_locked (g_ptr_array_index (exports, i), NULL);
  g_mutex_unlock (&export_lock);

  g_ptr_array_unref (exports);
}

static void
export_connection_closed_cb (GDBusConnection *connection,
                             gboolean         remote_peer_vanished,
                             GError          *error,
                             gpointer         data)
{
  GenDBusExport *export = gen_dbus_export_ref (data);
  g_autoptr(GObject) owner = g_weak_ref_get (&export->owner);

  /* A closed connection never carries a reply again; ending the export
   * also drops the reference to the connection. */
  g_mutex_lock (&export_lock);
  gen_dbus_export_end_locked (export, owner);
  g_mutex_unlock (&export_lock);

  gen_dbus_export_unref (export);
}

gboolean
gen_dbus_export_register_locked (GenDBusExport             *export,
                                 gpointer                   owner,
                                 const GDBusSubtreeVTable  *subtree_vtable,
                                 GError                   **error)
{
  GPtrArray *exports;

  export->subtree = subtree_vtable != NULL;
  if (export->subtree)
    export->registration_id =
      g_dbus_connection_register_subtree (export->connection, export->object_path,
                                          subtree_vtable, G_DBUS_SUBTREE_FLAGS_NONE,
                                          gen_dbus_export_ref (export), gen_dbus_export_unref,
                                          error);
  else
    export->registration_id =
      g_dbus_connection_register_object (export->connection, export->object_path,
                                         gen_dbus_interface_info (), &gen_dbus_export_vtable,
                                         gen_dbus_export_ref (export), gen_dbus_export_unref,
                                         error);
  if (export->registration_id == 0)
    {
      gen_dbus_export_unref (export);
      return FALSE;
    }

  export->exported = TRUE;
  export->closed_id = g_signal_connect_data (export->connection, "closed",
                                             G_CALLBACK (export_connection_closed_cb),
                                             gen_dbus_export_ref (export),
                                             (GClosureNotify) (void (*) (void)) gen_dbus_export_unref,
                                             G_CONNECT_DEFAULT);

  exports = g_object_get_qdata (owner, export_list_quark (export->klass));
  if (exports == NULL)
    {
      exports = g_ptr_array_new_with_free_func (gen_dbus_export_unref);
      g_object_set_qdata_full (owner, export_list_quark (export->klass),
                               exports, export_list_free);
    }
  g_ptr_array_add (exports, export);
  return TRUE;
}

gboolean
gen_dbus_export_unexport (const GenDBusExportClass *klass,
                          gpointer                  owner,
                          GDBusConnection          *connection)
{
  GenDBusExport *found;

  g_mutex_lock (&export_lock);
  found = gen_dbus_export_find_locked (klass, owner, connection);
  if (found != NULL)
    {
      gen_dbus_export_ref (found);
      gen_dbus_export_end_locked (found, owner);
    }
  g_mutex_unlock (&export_lock);

  if (found == NULL)
    return FALSE;
  gen_dbus_export_unref (found);
  return TRUE;
}

/* The dispatcher --------------------------------------------------------- */

static void
return_error (GDBusMethodInvocation *invocation,
              GError                *error)
{
  g_dbus_method_invocation_return_gerror (invocation, error);
  g_error_free (error);
}

/* What a message from a peer counts against the export's bound: its bytes,
 * and what holding it costs besides (the D-Bus message, the GVariant, the
 * mailbox's item), so that a flood of empty messages is bounded too. */
static guint64
message_cost (GVariant *message)
{
  return g_variant_get_size (message) + GEN_DBUS_MESSAGE_OVERHEAD;
}

static void
export_release (GenDBusExport *export,
                guint64        cost)
{
  __atomic_fetch_sub (&export->pending_bytes, cost, __ATOMIC_RELAXED);
}

/* Counts a message from a peer in, unless the export's bound is
 * reached. */
static gboolean
export_admit (GenDBusExport  *export,
              guint64         cost,
              GError        **error)
{
  guint64 pending = __atomic_add_fetch (&export->pending_bytes, cost, __ATOMIC_RELAXED);

  if (export->max_pending_bytes == 0 || pending <= export->max_pending_bytes)
    return TRUE;

  export_release (export, cost);
  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL,
               "the server exported at %s holds %" G_GUINT64_FORMAT " bytes of messages from "
               "peers, of the %" G_GUINT64_FORMAT " it accepts",
               export->object_path, pending - cost, export->max_pending_bytes);
  return FALSE;
}

typedef struct
{
  GenDBusExport *export; /* owned reference */
  gpointer data;         /* owned: the message's bytes */
  guint64 cost;
} Ticket;

static void
ticket_free (gpointer data)
{
  Ticket *ticket = data;

  export_release (ticket->export, ticket->cost);
  gen_dbus_export_unref (ticket->export);
  g_free (ticket->data);
  g_free (ticket);
}

/* @message, in bytes whose release counts it out of the export's
 * pending messages. A copy of its own: GVariant copies data that is not
 * aligned and would let go of the ticket at once. */
static GVariant *
export_track (GenDBusExport *export,
              GVariant      *message,
              guint64        cost)
{
  gsize size = g_variant_get_size (message);
  Ticket *ticket = g_new0 (Ticket, 1);
  g_autoptr(GBytes) bytes = NULL;

  ticket->export = gen_dbus_export_ref (export);
  ticket->cost = cost;
  /* An empty message (the unit type "()", say) has no data at all. */
  ticket->data = size > 0 ? g_memdup2 (g_variant_get_data (message), size) : NULL;
  bytes = g_bytes_new_with_free_func (ticket->data, size, ticket_free, ticket);
  return g_variant_ref_sink (g_variant_new_from_bytes (g_variant_get_type (message), bytes, FALSE));
}

typedef struct
{
  GenDBusExport *export;            /* owned reference */
  GDBusMethodInvocation *invocation; /* owned */
  guint64 cost;
} PendingCall;

static void
export_call_done_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      data)
{
  PendingCall *pending = data;
  GDBusMethodInvocation *invocation = pending->invocation;
  GenServer *server = GEN_SERVER (source);
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;

  export_release (pending->export, pending->cost);
  gen_dbus_export_unref (pending->export);
  g_free (pending);

  reply = gen_server_call_finish (server, result, &error);
  if (reply == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_clear_error (&error);
          g_set_error (&error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED,
                       "%s was unexported before it answered", G_OBJECT_TYPE_NAME (server));
        }
      return_error (invocation, error);
      return;
    }

  if (!gen_dbus_check_wire_type (reply, "reply", &error))
    {
      return_error (invocation, error);
      return;
    }

  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(v)", reply));
}

static void
export_method_call (GDBusConnection       *connection,
                    const gchar           *sender,
                    const gchar           *object_path,
                    const gchar           *interface_name,
                    const gchar           *method_name,
                    GVariant              *parameters,
                    GDBusMethodInvocation *invocation,
                    gpointer               data)
{
  GenDBusExport *export = data;
  g_autoptr(GenServer) server = NULL;
  g_autoptr(GVariant) message = NULL;
  g_autoptr(GVariant) tracked = NULL;
  gboolean is_cast = g_str_equal (method_name, "Cast");
  GError *error = NULL;
  gboolean queued;
  guint64 cost;

  server = export->klass->lookup (export, object_path, &error);
  if (server == NULL)
    {
      return_error (invocation, error);
      return;
    }

  /* GDBus already refused unknown methods and arguments of the wrong
   * signature: only (v) and (vi) come this far. */
  g_variant_get_child (parameters, 0, "v", &message);
  if (!gen_dbus_check_size (message, export->max_message_size, &error))
    {
      return_error (invocation, error);
      return;
    }

  cost = message_cost (message);
  if (!export_admit (export, cost, &error))
    {
      if (is_cast)
        gen_observe_count_refused_cast (server);
      return_error (invocation, error);
      return;
    }

  if (g_str_equal (method_name, "Call"))
    {
      PendingCall *pending = g_new0 (PendingCall, 1);
      gint timeout_ms;

      g_variant_get_child (parameters, 1, "i", &timeout_ms);
      if (export->max_timeout_ms >= 0 &&
          (timeout_ms < 0 || timeout_ms > export->max_timeout_ms))
        timeout_ms = export->max_timeout_ms;
      pending->export = gen_dbus_export_ref (export);
      pending->invocation = invocation;
      pending->cost = cost;
      gen_server_call_async (server, message, timeout_ms, export->cancellable,
                             export_call_done_cb, pending);
      return;
    }

  tracked = export_track (export, message, cost);
  /* A timeout of 0 for room: a full BLOCK mailbox refuses the cast as a
   * FAIL one does, instead of holding up this context. */
  queued = is_cast ?
           gen_server_cast_with_timeout (server, tracked, 0, &error) :
           gen_server_send_info (server, tracked, &error);
  if (queued)
    /* Not sent if the caller asked for no reply, as remote casts do. */
    g_dbus_method_invocation_return_value (invocation, NULL);
  else
    return_error (invocation, error);
}

static GVariant *
export_get_property (GDBusConnection  *connection,
                     const gchar      *sender,
                     const gchar      *object_path,
                     const gchar      *interface_name,
                     const gchar      *property_name,
                     GError          **error,
                     gpointer          data)
{
  GenDBusExport *export = data;
  g_autoptr(GenServer) server = NULL;
  const gchar *type_string;

  server = export->klass->lookup (export, object_path, error);
  if (server == NULL)
    return NULL;
  if (export->klass->properties_read != NULL)
    export->klass->properties_read (export, server, object_path);

  if (g_str_equal (property_name, "Name"))
    return g_variant_new_string (G_OBJECT_TYPE_NAME (server));
  if (g_str_equal (property_name, "MaxMessageSize"))
    return g_variant_new_uint64 (export->max_message_size);
  if (g_str_equal (property_name, "Running"))
    return g_variant_new_boolean (gen_server_is_running (server));
  if (g_str_equal (property_name, "CastsRefused"))
    return g_variant_new_uint64 (gen_observe_get_casts_refused (server));

  type_string = g_str_equal (property_name, "CastType") ?
                gen_server_get_cast_type (server) :
                gen_server_get_call_type (server);
  return g_variant_new_string (type_string ? type_string : "");
}

const GDBusInterfaceVTable gen_dbus_export_vtable = {
  .method_call = export_method_call,
  .get_property = export_get_property,
};
