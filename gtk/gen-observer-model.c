/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The observed process as list models: every poll asks ListServers, keeps
 * one GenObserverServer per id (so that the view keeps its expanded rows
 * and selection) and changes the trees' stores only where a server came,
 * went or moved. Rates are counted against this process's clock between
 * two polls.
 */

#include <string.h>

#include "gen-observer-model.h"

#define OBSERVER_INTERFACE "io.github.genserver.Observer1"
#define OBSERVER_PATH "/io/github/genserver/Observer1"

struct _GenObserverServer
{
  GObject parent_instance;

  guint64 id;
  gchar *label;
  gchar *type_name;
  gchar *status;
  guint mailbox;
  gboolean trace;
  guint64 handled;
  gdouble rate;
  guint64 supervisor;
  GListStore *children;            /* GenObserverServer */
  gdouble history[GEN_OBSERVER_HISTORY];
  guint n_history;
};

G_DEFINE_FINAL_TYPE (GenObserverServer, gen_observer_server, G_TYPE_OBJECT)

enum
{
  SERVER_CHANGED,
  N_SERVER_SIGNALS
};

static guint server_signals[N_SERVER_SIGNALS];

/* Read-only, for whoever knows the rows only as GObjects (a test reading
 * the Inspector page's models); "changed" says when they change. */
enum
{
  PROP_0,
  PROP_ID,
  PROP_LABEL,
  PROP_TYPE_NAME,
  PROP_STATUS,
  PROP_MAILBOX,
  PROP_RATE,
  PROP_TRACE,
  PROP_SAMPLES,
  N_PROPS
};

static void
gen_observer_server_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  GenObserverServer *self = GEN_OBSERVER_SERVER (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_uint64 (value, self->id);
      break;
    case PROP_LABEL:
      g_value_set_string (value, self->label);
      break;
    case PROP_TYPE_NAME:
      g_value_set_string (value, self->type_name);
      break;
    case PROP_STATUS:
      g_value_set_string (value, self->status);
      break;
    case PROP_MAILBOX:
      g_value_set_uint (value, self->mailbox);
      break;
    case PROP_RATE:
      g_value_set_double (value, self->rate);
      break;
    case PROP_TRACE:
      g_value_set_boolean (value, self->trace);
      break;
    case PROP_SAMPLES:
      g_value_set_uint (value, self->n_history);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_observer_server_finalize (GObject *object)
{
  GenObserverServer *self = GEN_OBSERVER_SERVER (object);

  g_free (self->label);
  g_free (self->type_name);
  g_free (self->status);
  g_clear_object (&self->children);
  G_OBJECT_CLASS (gen_observer_server_parent_class)->finalize (object);
}

static void
gen_observer_server_class_init (GenObserverServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = gen_observer_server_finalize;
  object_class->get_property = gen_observer_server_get_property;
  g_object_class_install_property (object_class, PROP_ID,
                                   g_param_spec_uint64 ("id", NULL, NULL, 0, G_MAXUINT64, 0, flags));
  g_object_class_install_property (object_class, PROP_LABEL,
                                   g_param_spec_string ("label", NULL, NULL, NULL, flags));
  g_object_class_install_property (object_class, PROP_TYPE_NAME,
                                   g_param_spec_string ("type-name", NULL, NULL, NULL, flags));
  g_object_class_install_property (object_class, PROP_STATUS,
                                   g_param_spec_string ("status", NULL, NULL, NULL, flags));
  g_object_class_install_property (object_class, PROP_MAILBOX,
                                   g_param_spec_uint ("mailbox", NULL, NULL, 0, G_MAXUINT, 0, flags));
  g_object_class_install_property (object_class, PROP_RATE,
                                   g_param_spec_double ("rate", NULL, NULL, -1, G_MAXDOUBLE, -1, flags));
  g_object_class_install_property (object_class, PROP_TRACE,
                                   g_param_spec_boolean ("trace", NULL, NULL, FALSE, flags));
  g_object_class_install_property (object_class, PROP_SAMPLES,
                                   g_param_spec_uint ("samples", NULL, NULL, 0, G_MAXUINT, 0, flags));

  /* After each poll that read the server: one signal for all its fields. */
  server_signals[SERVER_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass),
                                                 G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                 G_TYPE_NONE, 0);
}

static void
gen_observer_server_init (GenObserverServer *self)
{
  self->children = g_list_store_new (GEN_TYPE_OBSERVER_SERVER);
  self->rate = -1;
}

guint64
gen_observer_server_get_id (GenObserverServer *self)
{
  return self->id;
}

const gchar *
gen_observer_server_get_label (GenObserverServer *self)
{
  return self->label;
}

const gchar *
gen_observer_server_get_type_name (GenObserverServer *self)
{
  return self->type_name;
}

const gchar *
gen_observer_server_get_status (GenObserverServer *self)
{
  return self->status;
}

guint
gen_observer_server_get_mailbox (GenObserverServer *self)
{
  return self->mailbox;
}

gdouble
gen_observer_server_get_rate (GenObserverServer *self)
{
  return self->rate;
}

gboolean
gen_observer_server_get_trace (GenObserverServer *self)
{
  return self->trace;
}

GListModel *
gen_observer_server_get_children (GenObserverServer *self)
{
  return G_LIST_MODEL (self->children);
}

const gdouble *
gen_observer_server_get_history (GenObserverServer *self,
                                 guint             *n_samples)
{
  *n_samples = self->n_history;
  return self->history;
}

struct _GenObserverModel
{
  GObject parent_instance;

  GDBusConnection *connection; /* owned */
  gchar *bus_name;             /* owned; NULL peer-to-peer */
  GListStore *roots;           /* GenObserverServer */
  GHashTable *servers;         /* id (guint64 *, in the server) → GenObserverServer (owned) */
  GCancellable *cancellable;   /* owned: cancelled at dispose */
  guint timeout_id;
  guint trace_subscription;
  gboolean polling;            /* a ListServers is on its way */
  gint64 polled_at;            /* monotonic µs of the last poll applied */
  guint polls;
};

G_DEFINE_FINAL_TYPE (GenObserverModel, gen_observer_model, G_TYPE_OBJECT)

enum
{
  MODEL_UPDATED,
  MODEL_TRACE,
  MODEL_FAILED,
  N_MODEL_SIGNALS
};

static guint model_signals[N_MODEL_SIGNALS];

static void
gen_observer_model_dispose (GObject *object)
{
  GenObserverModel *self = GEN_OBSERVER_MODEL (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->timeout_id, g_source_remove);
  if (self->trace_subscription != 0)
    {
      g_dbus_connection_signal_unsubscribe (self->connection, self->trace_subscription);
      self->trace_subscription = 0;
    }
  G_OBJECT_CLASS (gen_observer_model_parent_class)->dispose (object);
}

static void
gen_observer_model_finalize (GObject *object)
{
  GenObserverModel *self = GEN_OBSERVER_MODEL (object);

  g_clear_object (&self->connection);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->roots);
  g_clear_pointer (&self->servers, g_hash_table_unref);
  g_free (self->bus_name);
  G_OBJECT_CLASS (gen_observer_model_parent_class)->finalize (object);
}

static void
gen_observer_model_class_init (GenObserverModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = gen_observer_model_dispose;
  object_class->finalize = gen_observer_model_finalize;

  /* A poll was applied. */
  model_signals[MODEL_UPDATED] = g_signal_new ("updated", G_TYPE_FROM_CLASS (klass),
                                               G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                               G_TYPE_NONE, 0);
  /* A trace record: id, type, kind, text, handling µs. */
  model_signals[MODEL_TRACE] = g_signal_new ("trace", G_TYPE_FROM_CLASS (klass),
                                             G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                             G_TYPE_NONE, 5, G_TYPE_UINT64, G_TYPE_STRING,
                                             G_TYPE_STRING, G_TYPE_STRING, G_TYPE_INT64);
  /* The process could not be asked: the message. */
  model_signals[MODEL_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass),
                                              G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                              G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
gen_observer_model_init (GenObserverModel *self)
{
  self->roots = g_list_store_new (GEN_TYPE_OBSERVER_SERVER);
  self->servers = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_object_unref);
  self->cancellable = g_cancellable_new ();
}

/* Makes @store hold @wanted (GenObserverServer, unowned), in order,
 * touching it only if it differs: a store that changes collapses the
 * view's rows below. */
static void
sync_store (GListStore *store,
            GPtrArray  *wanted)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (store));
  gboolean same = n == wanted->len;

  for (guint i = 0; same && i < n; i++)
    {
      g_autoptr(GObject) item = g_list_model_get_item (G_LIST_MODEL (store), i);

      same = item == wanted->pdata[i];
    }
  if (!same)
    g_list_store_splice (store, 0, n, wanted->pdata, wanted->len);
}

static void
apply (GenObserverModel *self,
       GVariant         *list)
{
  gint64 now = g_get_monotonic_time ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  g_autoptr(GPtrArray) roots = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  for (gsize i = 0; i < g_variant_n_children (list); i++)
    {
      g_autoptr(GVariant) entry = g_variant_get_child_value (list, i);
      const gchar *name = "", *child_id = NULL, *type_name = "", *status = "";
      guint64 id = 0, casts = 0, calls = 0, infos = 0, handled;
      GenObserverServer *server;

      g_variant_lookup (entry, "id", "t", &id);
      server = g_hash_table_lookup (self->servers, &id);
      if (server == NULL)
        {
          server = g_object_new (GEN_TYPE_OBSERVER_SERVER, NULL);
          server->id = id;
          g_hash_table_insert (self->servers, &server->id, server);
        }
      g_variant_lookup (entry, "name", "&s", &name);
      g_variant_lookup (entry, "child-id", "&s", &child_id);
      g_variant_lookup (entry, "type", "&s", &type_name);
      g_variant_lookup (entry, "status", "&s", &status);
      g_variant_lookup (entry, "mailbox-length", "u", &server->mailbox);
      g_variant_lookup (entry, "trace", "b", &server->trace);
      g_variant_lookup (entry, "casts", "t", &casts);
      g_variant_lookup (entry, "calls", "t", &calls);
      g_variant_lookup (entry, "infos", "t", &infos);
      server->supervisor = 0;
      g_variant_lookup (entry, "supervisor", "t", &server->supervisor);

      g_free (server->label);
      server->label = g_strdup (name[0] != '\0' ? name : child_id != NULL ? child_id : type_name);
      g_free (server->type_name);
      server->type_name = g_strdup (type_name);
      g_free (server->status);
      server->status = g_strdup (status);

      handled = casts + calls + infos;
      if (self->polled_at != 0 && now > self->polled_at && handled >= server->handled)
        {
          server->rate = (gdouble) (handled - server->handled) * G_USEC_PER_SEC / (gdouble) (now - self->polled_at);
          if (server->n_history == GEN_OBSERVER_HISTORY)
            memmove (server->history, server->history + 1, sizeof (gdouble) * (GEN_OBSERVER_HISTORY - 1));
          else
            server->n_history++;
          server->history[server->n_history - 1] = server->rate;
        }
      server->handled = handled;

      g_hash_table_add (seen, &server->id);
      g_ptr_array_add (order, server);
    }

  /* Servers gone. */
  g_hash_table_iter_init (&iter, self->servers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!g_hash_table_contains (seen, &((GenObserverServer *) value)->id))
      g_hash_table_iter_remove (&iter);

  /* The trees, in the order the servers were made. */
  for (guint i = 0; i < order->len; i++)
    {
      GenObserverServer *server = order->pdata[i];
      g_autoptr(GPtrArray) children = g_ptr_array_new ();

      for (guint j = 0; j < order->len; j++)
        if (((GenObserverServer *) order->pdata[j])->supervisor == server->id)
          g_ptr_array_add (children, order->pdata[j]);
      sync_store (server->children, children);
      if (server->supervisor == 0 || !g_hash_table_contains (self->servers, &server->supervisor))
        g_ptr_array_add (roots, server);
    }
  sync_store (self->roots, roots);

  self->polled_at = now;
  self->polls++;
  for (guint i = 0; i < order->len; i++)
    g_signal_emit (order->pdata[i], server_signals[SERVER_CHANGED], 0);
  g_signal_emit (self, model_signals[MODEL_UPDATED], 0);
}

/* The reply of a call the model made, or NULL: cancelled (the model is
 * being disposed: then FALSE in *@alive), or failed ("failed" emitted). */
static GVariant *
finish_call (GenObserverModel *self,
             GObject          *source,
             GAsyncResult     *result,
             gboolean         *alive)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  *alive = !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  if (reply == NULL && *alive)
    {
      g_dbus_error_strip_remote_error (error);
      g_signal_emit (self, model_signals[MODEL_FAILED], 0, error->message);
    }
  return reply;
}

static void
list_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GenObserverModel) self = user_data;
  gboolean alive;
  g_autoptr(GVariant) reply = finish_call (self, source, result, &alive);

  if (alive)
    self->polling = FALSE;
  if (reply != NULL)
    {
      g_autoptr(GVariant) list = g_variant_get_child_value (reply, 0);

      apply (self, list);
    }
}

static gboolean
poll_now (gpointer user_data)
{
  GenObserverModel *self = user_data;

  /* A slow process is not asked again before it answered. */
  if (!self->polling)
    {
      self->polling = TRUE;
      g_dbus_connection_call (self->connection, self->bus_name, OBSERVER_PATH, OBSERVER_INTERFACE,
                              "ListServers", NULL, G_VARIANT_TYPE ("(aa{sv})"), G_DBUS_CALL_FLAGS_NONE,
                              -1, self->cancellable, list_done, g_object_ref (self));
    }
  return G_SOURCE_CONTINUE;
}

static void
on_trace (GDBusConnection *connection,
          const gchar     *sender,
          const gchar     *object_path,
          const gchar     *interface_name,
          const gchar     *signal_name,
          GVariant        *parameters,
          gpointer         user_data)
{
  const gchar *type, *kind, *text;
  guint64 id;
  gint64 handling_us;

  g_variant_get (parameters, "(t&s&s&sx)", &id, &type, &kind, &text, &handling_us);
  g_signal_emit (user_data, model_signals[MODEL_TRACE], 0, id, type, kind, text, handling_us);
}

GenObserverModel *
gen_observer_model_new (GDBusConnection *connection,
                        const gchar     *bus_name,
                        guint            interval_ms)
{
  GenObserverModel *self = g_object_new (GEN_TYPE_OBSERVER_MODEL, NULL);

  self->connection = g_object_ref (connection);
  self->bus_name = g_strdup (bus_name);
  /* The subscription holds the model weakly: dispose ends it. */
  self->trace_subscription = g_dbus_connection_signal_subscribe (connection, bus_name, OBSERVER_INTERFACE,
                                                                 "Trace", OBSERVER_PATH, NULL,
                                                                 G_DBUS_SIGNAL_FLAGS_NONE, on_trace, self, NULL);
  poll_now (self);
  self->timeout_id = g_timeout_add (MAX (interval_ms, 50), poll_now, self);
  return self;
}

GListModel *
gen_observer_model_get_roots (GenObserverModel *self)
{
  return G_LIST_MODEL (self->roots);
}

guint
gen_observer_model_get_polls (GenObserverModel *self)
{
  return self->polls;
}

GenObserverServer *
gen_observer_model_find (GenObserverModel *self,
                         const gchar      *label)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->servers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_strcmp0 (((GenObserverServer *) value)->label, label) == 0)
      return value;
  return NULL;
}

static void
command_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GenObserverModel) self = user_data;
  gboolean alive;
  g_autoptr(GVariant) reply = finish_call (self, source, result, &alive);

  /* Shown at once, not at the next tick. */
  if (reply != NULL)
    poll_now (self);
}

static void
command (GenObserverModel *self,
         const gchar      *method,
         GVariant         *parameters)
{
  g_dbus_connection_call (self->connection, self->bus_name, OBSERVER_PATH, OBSERVER_INTERFACE,
                          method, parameters, NULL, G_DBUS_CALL_FLAGS_NONE, -1, self->cancellable,
                          command_done, g_object_ref (self));
}

void
gen_observer_model_suspend (GenObserverModel *self,
                            guint64           id)
{
  command (self, "Suspend", g_variant_new ("(t)", id));
}

void
gen_observer_model_resume (GenObserverModel *self,
                           guint64           id)
{
  command (self, "Resume", g_variant_new ("(t)", id));
}

void
gen_observer_model_set_trace (GenObserverModel *self,
                              guint64           id,
                              gboolean          trace)
{
  command (self, "SetTrace", g_variant_new ("(tb)", id, trace));
}
