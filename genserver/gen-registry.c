/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-core-private.h"
#include "gen-registry.h"
#include "gen-request.h"

/**
 * GenRegistry:
 *
 * Unique names for running servers: Erlang's registered names.
 *
 * A registry maps each name to one running [class@Gen.Server], so that
 * clients can reach a server without holding it: [method@Gen.Registry.call],
 * [method@Gen.Registry.cast] and [method@Gen.Registry.send_info] look the
 * name up and send. A name is taken by [method@Gen.Registry.register] and
 * released by [method@Gen.Registry.unregister] or, automatically, when its
 * server stops, for whatever reason: crash, stop, failed `init`. The name is
 * free again before [method@Gen.Server.stop] returns, so a restarted server
 * (a fresh instance started by a [class@Gen.Supervisor], say) can take it
 * again at once.
 *
 * Use the process-wide [func@Gen.Registry.get_default], or private
 * registries from [ctor@Gen.Registry.new]. Every method may be called from
 * any thread. A registry holds a reference to each registered server, and
 * each registered server's exit hook holds one to the registry, until the
 * server stops or the name is unregistered.
 *
 * A server may register itself from its own `init`: the name is released
 * if `init` then fails.
 *
 * In C:
 *
 * ```c
 * GenRegistry *registry = gen_registry_get_default ();
 * g_autoptr(GVariant) count = NULL;
 *
 * if (!gen_registry_register (registry, "counter", counter, &error))
 *   return FALSE;
 * gen_registry_cast (registry, "counter", g_variant_new_int32 (2), NULL);
 * count = gen_registry_call (registry, "counter", g_variant_new ("()"),
 *                            GEN_SERVER_DEFAULT_TIMEOUT, &error);
 * ```
 *
 * In Python, messages and replies are plain values and timeouts are in
 * seconds, as with `Gen.Server`:
 *
 * ```python
 * registry = Gen.Registry.get_default()
 * registry.register('counter', counter)
 * registry.cast('counter', 2)
 * count = registry.call('counter', ())
 * ```
 *
 * In JavaScript, a server runs on the thread that calls it, where a
 * blocking call fails with %GEN_SERVER_ERROR_CALLING_SELF: look the name up
 * and call with a promise:
 *
 * ```js
 * const registry = Gen.Registry.get_default();
 * registry.register('counter', counter);
 * const count = await GenServer.call(registry.lookup('counter'), []);
 * ```
 *
 * Since: 1.0
 */

typedef struct
{
  gint ref_count;        /* atomic */
  GenRegistry *registry; /* owned; immutable */
  gchar *name;           /* owned; immutable */
  GenServer *server;     /* owned; immutable */
  guint watch_id;        /* the registry's lock */
} Entry;

struct _GenRegistry
{
  GObject parent_instance;

  GMutex lock;
  GHashTable *names; /* name (unowned, the entry's) → Entry (owned); lock */
};

G_DEFINE_FINAL_TYPE (GenRegistry, gen_registry, G_TYPE_OBJECT)

static Entry *
entry_ref (Entry *entry)
{
  g_atomic_int_inc (&entry->ref_count);
  return entry;
}

static void
entry_unref (gpointer data)
{
  Entry *entry = data;

  if (!g_atomic_int_dec_and_test (&entry->ref_count))
    return;

  g_object_unref (entry->server);
  g_object_unref (entry->registry);
  g_free (entry->name);
  g_free (entry);
}

/* The exit hook: on the server's thread as it stops. */
static void
entry_server_stopped (GenServer    *server,
                      const GError *reason,
                      gpointer      user_data)
{
  Entry *entry = user_data;
  GenRegistry *self = entry->registry;

  g_mutex_lock (&self->lock);
  /* Unless the name was unregistered, and maybe taken again, meanwhile. */
  if (g_hash_table_lookup (self->names, entry->name) == entry)
    g_hash_table_remove (self->names, entry->name);
  g_mutex_unlock (&self->lock);
}

static void
gen_registry_finalize (GObject *object)
{
  GenRegistry *self = GEN_REGISTRY (object);

  /* Every entry holds a reference to the registry. */
  g_assert (g_hash_table_size (self->names) == 0);
  g_hash_table_unref (self->names);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gen_registry_parent_class)->finalize (object);
}

static void
gen_registry_class_init (GenRegistryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = gen_registry_finalize;
}

static void
gen_registry_init (GenRegistry *self)
{
  g_mutex_init (&self->lock);
  self->names = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, entry_unref);
}

/**
 * gen_registry_new:
 *
 * Creates a private registry, for names that only part of a program should
 * see (a test, a plugin).
 *
 * Returns: (transfer full): a new, empty registry
 *
 * Since: 1.0
 */
GenRegistry *
gen_registry_new (void)
{
  return g_object_new (GEN_TYPE_REGISTRY, NULL);
}

/**
 * gen_registry_get_default:
 *
 * Gets the process-wide registry.
 *
 * Returns: (transfer none): the default registry
 *
 * ```c
 * g_autoptr(GVariant) reply =
 *   gen_registry_call (gen_registry_get_default (), "worker",
 *                      g_variant_new_string ("get"), GEN_SERVER_DEFAULT_TIMEOUT, &error);
 * ```
 *
 * ```python
 * reply = Gen.Registry.get_default().call('worker', 'get')
 * ```
 *
 * Since: 1.0
 */
GenRegistry *
gen_registry_get_default (void)
{
  static gsize initialized;
  static GenRegistry *default_registry;

  if (g_once_init_enter (&initialized))
    {
      default_registry = gen_registry_new ();
      g_once_init_leave (&initialized, 1);
    }

  return default_registry;
}

/**
 * gen_registry_register:
 * @self: a #GenRegistry
 * @name: the name
 * @server: a running server (or one whose `init` is running)
 *
 * Registers @server under @name until the server stops or the name is
 * unregistered. A server may have several names.
 *
 * Fails with %GEN_SERVER_ERROR_NAME_TAKEN if another registration holds
 * @name (even one of the same server), and with
 * %GEN_SERVER_ERROR_NOT_RUNNING if @server is not running.
 *
 * Returns: %TRUE if @name is now @server's
 *
 * A server can register itself from its `init`, so that it has its name
 * before [method@Gen.Server.start] returns:
 *
 * ```c
 * static void
 * my_server_init_server (GenServer *server, GVariant *args, GError **error)
 * {
 *   gen_registry_register (gen_registry_get_default (), "clock", server, error);
 * }
 * ```
 *
 * ```python
 * def do_init(self, args):
 *     Gen.Registry.get_default().register('clock', self)
 * ```
 *
 * Since: 1.0
 */
gboolean
gen_registry_register (GenRegistry  *self,
                       const gchar  *name,
                       GenServer    *server,
                       GError      **error)
{
  Entry *entry;
  Entry *holder;

  g_return_val_if_fail (GEN_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (GEN_IS_SERVER (server), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  entry = g_new0 (Entry, 1);
  entry->ref_count = 1;
  entry->registry = g_object_ref (self);
  entry->name = g_strdup (name);
  entry->server = g_object_ref (server);

  g_mutex_lock (&self->lock);
  holder = g_hash_table_lookup (self->names, name);
  if (holder != NULL)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NAME_TAKEN,
                   "The name “%s” is already registered to %s",
                   name, G_OBJECT_TYPE_NAME (holder->server));
      g_mutex_unlock (&self->lock);
      entry_unref (entry);
      return FALSE;
    }

  /* Under the lock, so that the hook cannot look before the entry is in;
   * the hook itself runs outside the server's monitor lock. */
  entry->watch_id = gen_monitor_watch (server, entry_server_stopped,
                                       entry_ref (entry), entry_unref,
                                       GEN_WATCH_FIRST);
  if (entry->watch_id == 0)
    {
      g_mutex_unlock (&self->lock);
      entry_unref (entry); /* the hook's */
      entry_unref (entry);
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING,
                   "%s is not running", G_OBJECT_TYPE_NAME (server));
      return FALSE;
    }
  g_hash_table_insert (self->names, entry->name, entry);
  g_mutex_unlock (&self->lock);

  return TRUE;
}

/**
 * gen_registry_unregister:
 * @self: a #GenRegistry
 * @name: a name
 *
 * Releases @name. The server goes on running.
 *
 * Returns: %TRUE if @name was registered
 *
 * Since: 1.0
 */
gboolean
gen_registry_unregister (GenRegistry *self,
                         const gchar *name)
{
  Entry *entry = NULL;

  g_return_val_if_fail (GEN_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  g_mutex_lock (&self->lock);
  if (g_hash_table_steal_extended (self->names, name, NULL, (gpointer *) &entry))
    {
      /* A hook that runs now finds the name gone and does nothing. */
      gen_server_demonitor (entry->server, entry->watch_id);
    }
  g_mutex_unlock (&self->lock);

  if (entry == NULL)
    return FALSE;

  entry_unref (entry);
  return TRUE;
}

/**
 * gen_registry_lookup:
 * @self: a #GenRegistry
 * @name: a name
 *
 * Finds the server registered under @name. A snapshot: the server may stop
 * right after.
 *
 * Returns: (transfer full) (nullable): the server, or %NULL
 *
 * Since: 1.0
 */
GenServer *
gen_registry_lookup (GenRegistry *self,
                     const gchar *name)
{
  Entry *entry;
  GenServer *server = NULL;

  g_return_val_if_fail (GEN_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  g_mutex_lock (&self->lock);
  entry = g_hash_table_lookup (self->names, name);
  if (entry != NULL)
    server = g_object_ref (entry->server);
  g_mutex_unlock (&self->lock);

  return server;
}

static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

/**
 * gen_registry_dup_names:
 * @self: a #GenRegistry
 *
 * Lists the registered names, sorted.
 *
 * Returns: (transfer full) (array zero-terminated=1): the names
 *
 * Since: 1.0
 */
gchar **
gen_registry_dup_names (GenRegistry *self)
{
  GPtrArray *names;
  GHashTableIter iter;
  const gchar *name;

  g_return_val_if_fail (GEN_IS_REGISTRY (self), NULL);

  names = g_ptr_array_new ();
  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->names);
  while (g_hash_table_iter_next (&iter, (gpointer *) &name, NULL))
    g_ptr_array_add (names, g_strdup (name));
  g_mutex_unlock (&self->lock);

  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return (gchar **) g_ptr_array_free (names, FALSE);
}

static GenServer *
lookup_or_fail (GenRegistry  *self,
                const gchar  *name,
                GError      **error)
{
  GenServer *server = gen_registry_lookup (self, name);

  if (server == NULL)
    g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND,
                 "No server is registered as “%s”", name);
  return server;
}

/**
 * gen_registry_cast:
 * @self: a #GenRegistry
 * @name: a registered name
 * @message: the message; a floating reference is sunk
 *
 * [method@Gen.Server.cast] to the server registered under @name. Fails with
 * %GEN_SERVER_ERROR_NOT_FOUND if there is none (between a crash and the
 * restart, for instance), or as [method@Gen.Server.cast] fails.
 *
 * Returns: %TRUE if the message was queued
 *
 * ```c
 * gen_registry_cast (registry, "worker", g_variant_new_string ("add"), &error);
 * ```
 *
 * ```python
 * registry.cast('worker', 'add')
 * ```
 *
 * Since: 1.0
 */
gboolean
gen_registry_cast (GenRegistry  *self,
                   const gchar  *name,
                   GVariant     *message,
                   GError      **error)
{
  g_autoptr(GVariant) owned_message = NULL;
  g_autoptr(GenServer) server = NULL;

  g_return_val_if_fail (GEN_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  owned_message = g_variant_ref_sink (message);
  server = lookup_or_fail (self, name, error);
  return server != NULL && gen_server_cast (server, owned_message, error);
}

/**
 * gen_registry_call:
 * @self: a #GenRegistry
 * @name: a registered name
 * @message: the request; a floating reference is sunk
 * @timeout_ms: how long to wait for the reply, in milliseconds, or a
 *   negative number to wait as long as it takes
 *
 * [method@Gen.Server.call] to the server registered under @name. Fails with
 * %GEN_SERVER_ERROR_NOT_FOUND if there is none, or as
 * [method@Gen.Server.call] fails.
 *
 * Returns: (transfer full): the reply
 *
 * ```c
 * g_autoptr(GVariant) count =
 *   gen_registry_call (registry, "worker", g_variant_new_string ("get"),
 *                      GEN_SERVER_DEFAULT_TIMEOUT, &error);
 *
 * if (count == NULL && g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND))
 *   g_print ("No worker right now: restarting?\n");
 * ```
 *
 * ```python
 * try:
 *     count = registry.call('worker', 'get', timeout=1)
 * except GLib.Error as error:
 *     if error.matches(Gen.server_error_quark(), Gen.ServerError.NOT_FOUND):
 *         print('No worker right now: restarting?')
 * ```
 *
 * Since: 1.0
 */
GVariant *
gen_registry_call (GenRegistry  *self,
                   const gchar  *name,
                   GVariant     *message,
                   gint          timeout_ms,
                   GError      **error)
{
  g_autoptr(GVariant) owned_message = NULL;
  g_autoptr(GenServer) server = NULL;

  g_return_val_if_fail (GEN_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (message != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  owned_message = g_variant_ref_sink (message);
  server = lookup_or_fail (self, name, error);
  if (server == NULL)
    return NULL;
  return gen_server_call (server, owned_message, timeout_ms, error);
}

/**
 * gen_registry_send_info:
 * @self: a #GenRegistry
 * @name: a registered name
 * @message: the message; a floating reference is sunk
 *
 * [method@Gen.Server.send_info] to the server registered under @name.
 * Fails with %GEN_SERVER_ERROR_NOT_FOUND if there is none.
 *
 * Returns: %TRUE if the message was queued
 *
 * Since: 1.0
 */
gboolean
gen_registry_send_info (GenRegistry  *self,
                        const gchar  *name,
                        GVariant     *message,
                        GError      **error)
{
  g_autoptr(GVariant) owned_message = NULL;
  g_autoptr(GenServer) server = NULL;

  g_return_val_if_fail (GEN_IS_REGISTRY (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  owned_message = g_variant_ref_sink (message);
  server = lookup_or_fail (self, name, error);
  return server != NULL && gen_server_send_info (server, owned_message, error);
}

/* The servers whose names match @pattern, in name order. */
static GPtrArray *
lookup_matching (GenRegistry *self,
                 const gchar *pattern)
{
  g_autoptr(GPatternSpec) spec = g_pattern_spec_new (pattern);
  g_auto(GStrv) names = gen_registry_dup_names (self);
  GPtrArray *servers = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; names[i] != NULL; i++)
    {
      GenServer *server;

      if (!g_pattern_spec_match_string (spec, names[i]))
        continue;
      server = gen_registry_lookup (self, names[i]);
      if (server != NULL)
        g_ptr_array_add (servers, server);
    }
  return servers;
}

/**
 * gen_registry_cast_matching:
 * @self: a #GenRegistry
 * @pattern: a [struct@GLib.PatternSpec] pattern (`*` and `?`), such as
 *   `"cache-*"`
 * @message: the message; a floating reference is sunk
 *
 * Casts @message to every server registered under a name that matches
 * @pattern, as Erlang's `abcast` does for a name on every node. A server
 * that refuses it is skipped. For groups a server joins and leaves at
 * will, see [class@Gen.Group].
 *
 * Returns: how many servers the message was queued to
 *
 * Since: 1.0
 */
guint
gen_registry_cast_matching (GenRegistry *self,
                            const gchar *pattern,
                            GVariant    *message)
{
  g_autoptr(GVariant) owned_message = NULL;
  g_autoptr(GPtrArray) servers = NULL;
  guint sent = 0;

  g_return_val_if_fail (GEN_IS_REGISTRY (self), 0);
  g_return_val_if_fail (pattern != NULL, 0);
  g_return_val_if_fail (message != NULL, 0);

  owned_message = g_variant_ref_sink (message);
  servers = lookup_matching (self, pattern);
  for (guint i = 0; i < servers->len; i++)
    if (gen_server_cast (g_ptr_array_index (servers, i), owned_message, NULL))
      sent++;
  return sent;
}

/**
 * gen_registry_call_matching:
 * @self: a #GenRegistry
 * @pattern: a [struct@GLib.PatternSpec] pattern (`*` and `?`)
 * @message: the request; a floating reference is sunk
 * @timeout_ms: how long to wait for all the replies, in milliseconds, or a
 *   negative number to wait as long as it takes
 *
 * Calls every server registered under a name that matches @pattern at
 * once, with one deadline, as Erlang's `multi_call`; see
 * [method@Gen.Group.call] for what comes back. The requests are in the
 * order of the names; [method@Gen.Request.get_server] tells whose each is.
 *
 * Returns: (transfer container) (element-type GenRequest): the requests; the
 *   array holds a reference to each
 *
 * Since: 1.0
 */
GPtrArray *
gen_registry_call_matching (GenRegistry *self,
                            const gchar *pattern,
                            GVariant    *message,
                            gint         timeout_ms)
{
  g_autoptr(GVariant) owned_message = NULL;
  g_autoptr(GPtrArray) servers = NULL;
  g_autoptr(GenRequestSet) set = NULL;
  g_autoptr(GPtrArray) done = NULL;
  GPtrArray *requests;

  g_return_val_if_fail (GEN_IS_REGISTRY (self), NULL);
  g_return_val_if_fail (pattern != NULL, NULL);
  g_return_val_if_fail (message != NULL, NULL);

  owned_message = g_variant_ref_sink (message);
  servers = lookup_matching (self, pattern);
  set = gen_request_set_new ();
  requests = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < servers->len; i++)
    g_ptr_array_add (requests, gen_request_set_send (set, g_ptr_array_index (servers, i),
                                                     owned_message, NULL));

  done = gen_request_set_wait_all (set, timeout_ms, NULL);
  for (guint i = 0; done == NULL && i < requests->len; i++)
    {
      GenRequest *request = g_ptr_array_index (requests, i);

      /* Abandoned, so that each request has its final answer. */
      if (!gen_request_check (request))
        {
          g_autoptr(GVariant) late = gen_request_receive (request, 0, NULL);
        }
    }

  return requests;
}
