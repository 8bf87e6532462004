/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-core-private.h"
#include "gen-group.h"
#include "gen-request.h"

/**
 * GenGroup:
 *
 * Named groups of servers: Erlang's `pg` process groups.
 *
 * A server joins any number of groups with [method@Gen.Group.join] and
 * leaves them with [method@Gen.Group.leave] or, automatically, when it
 * stops, before its supervisor hears of it. A group exists while it has
 * members. [method@Gen.Group.cast] sends a message to every member (OTP's
 * `abcast`), [method@Gen.Group.call] calls every member with one deadline
 * (`multi_call`), and [method@Gen.Group.monitor] tells you when members
 * join and leave (`pg:monitor/2`).
 *
 * ```c
 * gen_group_join (gen_group_get_default (), "caches", GEN_SERVER (cache), &error);
 * ...
 * g_autoptr(GPtrArray) answers = gen_group_call (gen_group_get_default (), "caches",
 *                                                g_variant_new_string ("size"), 1000);
 * for (guint i = 0; i < answers->len; i++)
 *   {
 *     g_autoptr(GVariant) size = gen_request_wait (g_ptr_array_index (answers, i), 0, &error);
 *     ...
 *   }
 * ```
 *
 * Use the process-wide [func@Gen.Group.get_default] (Erlang's default
 * scope) or private ones from [ctor@Gen.Group.new]. Every method may be
 * called from any thread.
 *
 * Since: 1.0
 */

typedef struct _Member Member;

struct _Member
{
  gint ref_count;     /* atomic */
  GenGroup *groups;   /* owned; immutable */
  gchar *name;        /* owned; immutable: the group's name */
  GenServer *server;  /* owned; immutable */
  guint watch_id;     /* groups->lock; 0 once left */
};

typedef struct
{
  gint ref_count;           /* atomic */
  /* Immutable. */
  guint id;
  gchar *group;             /* owned, nullable: every group */
  GenGroupMonitorFunc func;
  gpointer user_data;
  GDestroyNotify destroy;
  GMainContext *context;    /* owned */
  /* groups->lock. */
  gboolean active;
} Watcher;

struct _GenGroup
{
  GObject parent_instance;

  GMutex lock;
  GHashTable *groups;    /* name (owned) → GPtrArray of Member (owned), in join order; lock */
  GHashTable *watchers;  /* id → Watcher (owned); lock */
};

G_DEFINE_FINAL_TYPE (GenGroup, gen_group, G_TYPE_OBJECT)

static Member *
member_ref (Member *member)
{
  g_atomic_int_inc (&member->ref_count);
  return member;
}

static void
member_unref (gpointer data)
{
  Member *member = data;

  if (!g_atomic_int_dec_and_test (&member->ref_count))
    return;
  g_object_unref (member->groups);
  g_object_unref (member->server);
  g_free (member->name);
  g_free (member);
}

static Watcher *
watcher_ref (Watcher *watcher)
{
  g_atomic_int_inc (&watcher->ref_count);
  return watcher;
}

static void
watcher_unref (gpointer data)
{
  Watcher *watcher = data;

  if (!g_atomic_int_dec_and_test (&watcher->ref_count))
    return;
  if (watcher->destroy != NULL)
    watcher->destroy (watcher->user_data);
  g_main_context_unref (watcher->context);
  g_free (watcher->group);
  g_free (watcher);
}

/* Notices ---------------------------------------------------------------- */

typedef struct
{
  GenGroup *groups;   /* owned */
  Watcher *watcher;   /* owned */
  gchar *group;       /* owned */
  GenServer *server;  /* owned */
  gboolean joined;
} Notice;

static void
notice_free (gpointer data)
{
  Notice *notice = data;

  g_object_unref (notice->groups);
  watcher_unref (notice->watcher);
  g_free (notice->group);
  g_object_unref (notice->server);
  g_free (notice);
}

static gboolean
notice_deliver_cb (gpointer data)
{
  Notice *notice = data;
  gboolean active;

  g_mutex_lock (&notice->groups->lock);
  active = notice->watcher->active;
  g_mutex_unlock (&notice->groups->lock);

  if (active)
    notice->watcher->func (notice->groups, notice->group, notice->server,
                           notice->joined, notice->watcher->user_data);
  return G_SOURCE_REMOVE;
}

/* Tells every watcher of @group. Under the lock, so that notices go out in
 * the order of the changes. */
static void
notify_locked (GenGroup    *self,
               const gchar *group,
               GenServer   *server,
               gboolean     joined)
{
  GHashTableIter iter;
  Watcher *watcher;

  g_hash_table_iter_init (&iter, self->watchers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &watcher))
    {
      Notice *notice;
      GSource *source;

      if (watcher->group != NULL && !g_str_equal (watcher->group, group))
        continue;

      notice = g_new0 (Notice, 1);
      notice->groups = g_object_ref (self);
      notice->watcher = watcher_ref (watcher);
      notice->group = g_strdup (group);
      notice->server = g_object_ref (server);
      notice->joined = joined;

      source = g_idle_source_new ();
      g_source_set_callback (source, notice_deliver_cb, notice, notice_free);
      g_source_set_static_name (source, "[genserver] group notice");
      g_source_attach (source, watcher->context);
      g_source_unref (source);
    }
}

/* Membership ------------------------------------------------------------- */

static Member *
find_member_locked (GenGroup     *self,
                    const gchar  *group,
                    GenServer    *server,
                    guint        *index)
{
  GPtrArray *members = g_hash_table_lookup (self->groups, group);

  for (guint i = 0; members != NULL && i < members->len; i++)
    {
      Member *member = g_ptr_array_index (members, i);

      if (member->server == server)
        {
          if (index != NULL)
            *index = i;
          return member;
        }
    }
  return NULL;
}

/* Removes @member (whose watch_id is already cleared). Under the lock. */
static void
remove_member_locked (GenGroup *self,
                      Member   *member)
{
  GPtrArray *members = g_hash_table_lookup (self->groups, member->name);
  g_autoptr(GenServer) server = g_object_ref (member->server);
  g_autofree gchar *group = g_strdup (member->name);

  g_ptr_array_remove (members, member); /* unrefs */
  if (members->len == 0)
    g_hash_table_remove (self->groups, group);
  notify_locked (self, group, server, FALSE);
}

/* The exit hook: the member's server stopped. */
static void
member_server_stopped (GenServer    *server,
                       const GError *reason,
                       gpointer      user_data)
{
  Member *member = user_data;
  GenGroup *self = member->groups;

  g_mutex_lock (&self->lock);
  if (member->watch_id != 0)
    {
      member->watch_id = 0;
      remove_member_locked (self, member);
    }
  g_mutex_unlock (&self->lock);
}

static void
gen_group_finalize (GObject *object)
{
  GenGroup *self = GEN_GROUP (object);

  /* Members hold a reference to the groups, so there are none left. */
  g_hash_table_unref (self->groups);
  g_hash_table_unref (self->watchers);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gen_group_parent_class)->finalize (object);
}

static void
gen_group_class_init (GenGroupClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = gen_group_finalize;
}

static void
gen_group_init (GenGroup *self)
{
  g_mutex_init (&self->lock);
  self->groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) g_ptr_array_unref);
  self->watchers = g_hash_table_new_full (NULL, NULL, NULL, watcher_unref);
}

/**
 * gen_group_new:
 *
 * Creates a private set of groups, Erlang's `pg` scope.
 *
 * Returns: (transfer full): a new #GenGroup
 *
 * Since: 1.0
 */
GenGroup *
gen_group_new (void)
{
  return g_object_new (GEN_TYPE_GROUP, NULL);
}

/**
 * gen_group_get_default:
 *
 * Gets the process-wide groups.
 *
 * Returns: (transfer none): the default #GenGroup
 *
 * Since: 1.0
 */
GenGroup *
gen_group_get_default (void)
{
  static gsize initialized;
  static GenGroup *default_groups;

  if (g_once_init_enter (&initialized))
    {
      default_groups = gen_group_new ();
      g_once_init_leave (&initialized, 1);
    }
  return default_groups;
}

/**
 * gen_group_join:
 * @self: a #GenGroup
 * @group: the group's name
 * @server: a running server (or one whose `init` is running)
 *
 * Adds @server to @group, until it leaves or stops. Joining a group twice
 * is one membership. Fails with %GEN_SERVER_ERROR_NOT_RUNNING if @server
 * is not running.
 *
 * Returns: %TRUE if @server is a member of @group
 *
 * Since: 1.0
 */
gboolean
gen_group_join (GenGroup     *self,
                const gchar  *group,
                GenServer    *server,
                GError      **error)
{
  GPtrArray *members;
  Member *member;

  g_return_val_if_fail (GEN_IS_GROUP (self), FALSE);
  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (GEN_IS_SERVER (server), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&self->lock);
  if (find_member_locked (self, group, server, NULL) != NULL)
    {
      g_mutex_unlock (&self->lock);
      return TRUE;
    }

  member = g_new0 (Member, 1);
  member->ref_count = 1;
  member->groups = g_object_ref (self);
  member->name = g_strdup (group);
  member->server = g_object_ref (server);
  /* First, as a registry name is: a restarted server joins afresh. Under
   * the lock, so that the hook waits until the member is in. */
  member->watch_id = gen_monitor_watch (server, member_server_stopped,
                                        member_ref (member), member_unref,
                                        GEN_WATCH_FIRST);
  if (member->watch_id == 0)
    {
      g_mutex_unlock (&self->lock);
      member_unref (member); /* the hook's */
      member_unref (member);
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING,
                   "%s is not running: it cannot join “%s”", G_OBJECT_TYPE_NAME (server), group);
      return FALSE;
    }

  members = g_hash_table_lookup (self->groups, group);
  if (members == NULL)
    {
      members = g_ptr_array_new_with_free_func (member_unref);
      g_hash_table_insert (self->groups, g_strdup (group), members);
    }
  g_ptr_array_add (members, member);
  notify_locked (self, group, server, TRUE);
  g_mutex_unlock (&self->lock);

  return TRUE;
}

/**
 * gen_group_leave:
 * @self: a #GenGroup
 * @group: the group's name
 * @server: a member of @group
 *
 * Removes @server from @group. The server goes on running.
 *
 * Returns: %TRUE if @server was a member
 *
 * Since: 1.0
 */
gboolean
gen_group_leave (GenGroup    *self,
                 const gchar *group,
                 GenServer   *server)
{
  Member *member;
  guint watch_id;

  g_return_val_if_fail (GEN_IS_GROUP (self), FALSE);
  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (GEN_IS_SERVER (server), FALSE);

  g_mutex_lock (&self->lock);
  member = find_member_locked (self, group, server, NULL);
  if (member == NULL)
    {
      g_mutex_unlock (&self->lock);
      return FALSE;
    }
  watch_id = member->watch_id;
  member->watch_id = 0;
  remove_member_locked (self, member);
  g_mutex_unlock (&self->lock);

  /* Outside the lock: the hook takes it. A hook already running finds
   * watch_id cleared and does nothing. */
  gen_server_demonitor (server, watch_id);
  return TRUE;
}

/**
 * gen_group_get_members:
 * @self: a #GenGroup
 * @group: the group's name
 *
 * Lists the members of @group, in the order they joined: Erlang's
 * `pg:get_members/2`. A snapshot.
 *
 * Returns: (transfer container) (element-type GenServer): the members (empty
 *   for a group nobody is in); the array holds a reference to each
 *
 * Since: 1.0
 */
GPtrArray *
gen_group_get_members (GenGroup    *self,
                       const gchar *group)
{
  GPtrArray *servers;
  GPtrArray *members;

  g_return_val_if_fail (GEN_IS_GROUP (self), NULL);
  g_return_val_if_fail (group != NULL, NULL);

  servers = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_lock (&self->lock);
  members = g_hash_table_lookup (self->groups, group);
  for (guint i = 0; members != NULL && i < members->len; i++)
    g_ptr_array_add (servers, g_object_ref (((Member *) g_ptr_array_index (members, i))->server));
  g_mutex_unlock (&self->lock);

  return servers;
}

static gint
compare_names (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

/**
 * gen_group_dup_groups:
 * @self: a #GenGroup
 *
 * Lists the groups that have members: Erlang's `pg:which_groups/1`.
 *
 * Returns: (transfer full) (array zero-terminated=1): the group names,
 *   sorted
 *
 * Since: 1.0
 */
gchar **
gen_group_dup_groups (GenGroup *self)
{
  g_autofree const gchar **keys = NULL;
  gchar **names;
  guint n;

  g_return_val_if_fail (GEN_IS_GROUP (self), NULL);

  g_mutex_lock (&self->lock);
  keys = (const gchar **) g_hash_table_get_keys_as_array (self->groups, &n);
  names = g_new0 (gchar *, n + 1);
  for (guint i = 0; i < n; i++)
    names[i] = g_strdup (keys[i]);
  g_mutex_unlock (&self->lock);

  g_qsort_with_data (names, n, sizeof (gchar *), compare_names, NULL);
  return names;
}

/**
 * gen_group_monitor:
 * @self: a #GenGroup
 * @group: (nullable): the group to watch, or %NULL for every group
 * @func: (scope notified) (closure user_data) (destroy destroy): called at
 *   each change
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data once the monitor is removed
 *
 * Asks to be told when servers join or leave @group (Erlang's
 * `pg:monitor/2`): @func runs for each change, in order, on the
 * thread-default [struct@GLib.MainContext] of the thread that called this.
 * Every change after this call is told, so the current members, from
 * [method@Gen.Group.get_members] once it is set up, plus the notices, are
 * the whole story.
 *
 * Returns: the monitor's id, for [method@Gen.Group.demonitor]; never 0
 *
 * Since: 1.0
 */
guint
gen_group_monitor (GenGroup            *self,
                   const gchar         *group,
                   GenGroupMonitorFunc  func,
                   gpointer             user_data,
                   GDestroyNotify       destroy)
{
  static gint last_id;
  Watcher *watcher;

  g_return_val_if_fail (GEN_IS_GROUP (self), 0);
  g_return_val_if_fail (func != NULL, 0);

  watcher = g_new0 (Watcher, 1);
  watcher->ref_count = 1;
  do
    watcher->id = (guint) g_atomic_int_add (&last_id, 1) + 1;
  while (watcher->id == 0);
  watcher->group = g_strdup (group);
  watcher->func = func;
  watcher->user_data = user_data;
  watcher->destroy = destroy;
  watcher->context = g_main_context_ref_thread_default ();
  watcher->active = TRUE;

  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->watchers, GUINT_TO_POINTER (watcher->id), watcher);
  g_mutex_unlock (&self->lock);

  return watcher->id;
}

/**
 * gen_group_demonitor:
 * @self: a #GenGroup
 * @monitor_id: an id from [method@Gen.Group.monitor]
 *
 * Removes a monitor. Called from the thread that set it up (whose context
 * runs its function), no notice is delivered after this returns.
 *
 * Returns: %TRUE if the monitor was removed
 *
 * Since: 1.0
 */
gboolean
gen_group_demonitor (GenGroup *self,
                     guint     monitor_id)
{
  Watcher *watcher;

  g_return_val_if_fail (GEN_IS_GROUP (self), FALSE);

  g_mutex_lock (&self->lock);
  watcher = g_hash_table_lookup (self->watchers, GUINT_TO_POINTER (monitor_id));
  if (watcher != NULL)
    {
      watcher->active = FALSE;
      g_hash_table_remove (self->watchers, GUINT_TO_POINTER (monitor_id));
    }
  g_mutex_unlock (&self->lock);

  return watcher != NULL;
}

/**
 * gen_group_cast:
 * @self: a #GenGroup
 * @group: the group's name
 * @message: the message; a floating reference is sunk
 *
 * Casts @message to every member of @group, as Erlang's `abcast`. A
 * member that refuses it (stopping, mailbox full, another message type) is
 * skipped.
 *
 * Returns: how many members the message was queued to
 *
 * Since: 1.0
 */
guint
gen_group_cast (GenGroup    *self,
                const gchar *group,
                GVariant    *message)
{
  g_autoptr(GVariant) owned = NULL;
  g_autoptr(GPtrArray) members = NULL;
  guint sent = 0;

  g_return_val_if_fail (GEN_IS_GROUP (self), 0);
  g_return_val_if_fail (group != NULL, 0);
  g_return_val_if_fail (message != NULL, 0);

  owned = g_variant_ref_sink (message);
  members = gen_group_get_members (self, group);
  for (guint i = 0; i < members->len; i++)
    if (gen_server_cast (g_ptr_array_index (members, i), owned, NULL))
      sent++;
  return sent;
}

/**
 * gen_group_call:
 * @self: a #GenGroup
 * @group: the group's name
 * @message: the request; a floating reference is sunk
 * @timeout_ms: how long to wait for all the replies, in milliseconds, or a
 *   negative number to wait as long as it takes
 *
 * Calls every member of @group at once and waits for their replies with
 * one deadline, as Erlang's `multi_call`. Returns one answered
 * [class@Gen.Request] per member, in the order they joined:
 * [method@Gen.Request.wait] with no waiting gives each reply or error; a
 * member that did not answer in time gives %GEN_SERVER_ERROR_TIMEOUT (its
 * request was abandoned: still queued, it is not run).
 *
 * Returns: (transfer container) (element-type GenRequest): the requests; the
 *   array holds a reference to each
 *
 * Since: 1.0
 */
GPtrArray *
gen_group_call (GenGroup    *self,
                const gchar *group,
                GVariant    *message,
                gint         timeout_ms)
{
  g_autoptr(GVariant) owned = NULL;
  g_autoptr(GPtrArray) members = NULL;
  g_autoptr(GenRequestSet) set = NULL;
  g_autoptr(GPtrArray) done = NULL;
  GPtrArray *requests;

  g_return_val_if_fail (GEN_IS_GROUP (self), NULL);
  g_return_val_if_fail (group != NULL, NULL);
  g_return_val_if_fail (message != NULL, NULL);

  owned = g_variant_ref_sink (message);
  members = gen_group_get_members (self, group);
  set = gen_request_set_new ();
  requests = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < members->len; i++)
    g_ptr_array_add (requests, gen_request_set_send (set, g_ptr_array_index (members, i), owned, NULL));

  done = gen_request_set_wait_all (set, timeout_ms, NULL);
  if (done == NULL)
    {
      /* Abandon the late ones, so that each request has its final answer. */
      for (guint i = 0; i < requests->len; i++)
        {
          GenRequest *request = g_ptr_array_index (requests, i);

          if (!gen_request_check (request))
            {
              g_autoptr(GVariant) late = gen_request_receive (request, 0, NULL);
            }
        }
    }

  return requests;
}
