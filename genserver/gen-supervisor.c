/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-enums.h"
#include "gen-registry.h"
#include "gen-server-private.h"
#include "gen-start.h"
#include "gen-supervisor.h"

/**
 * GenSupervisor:
 *
 * A server that starts other servers, its children, watches them and
 * restarts them when they stop: Erlang/OTP's `supervisor`.
 *
 * Each child is described by a [struct@Gen.ChildSpec]. Children are started
 * in order, when the supervisor starts (from its start arguments, see
 * [func@Gen.Supervisor.build_args]) or later with
 * [method@Gen.Supervisor.start_child], and stopped in reverse order when it
 * stops, each with its spec's shutdown timeout. Children can be added and
 * removed at any time ([method@Gen.Supervisor.remove_child]), as with
 * Elixir's `DynamicSupervisor`.
 *
 * When a child stops, its [enum@Gen.ChildRestart] decides whether it is
 * restarted, and the supervisor's [enum@Gen.SupervisorStrategy] which other
 * children are restarted with it. A restart creates a fresh instance of the
 * child's type, so that it begins with the state its `init` gives it. A
 * child stops abnormally when it crashes (an error from `handle_cast`,
 * `handle_info` or `handle_continue`), is stopped with an error by
 * [method@Gen.Server.stop_with_reason], or fails its `init` when
 * restarted; it stops normally with [method@Gen.Server.stop]. An error
 * returned by `handle_call` only goes to the caller and stops nothing.
 *
 * Restarts are limited by the supervisor's intensity: if more than
 * [property@Gen.Supervisor:intensity] restarts happen within
 * [property@Gen.Supervisor:period-ms] milliseconds (on the monotonic
 * clock), the supervisor gives up: it stops all its children and itself,
 * with a %GEN_SERVER_ERROR_TOO_MANY_RESTARTS reason. A supervisor is itself
 * a [class@Gen.Server], so it can be the child of another supervisor, which
 * then restarts it and, with it, its children; it can be monitored,
 * registered and called like any server.
 *
 * The supervisor learns that a child stopped through an exit hook that
 * runs on the child's thread as it stops and queues a notice in the
 * supervisor's mailbox; everything else, starting, stopping and restarting
 * children, happens on the supervisor's own thread, one thing at a time.
 * Its children are created with `g_object_new()` on that thread: a child
 * type defined in Python works, since PyGObject takes the interpreter lock
 * there.
 *
 * In C, a supervisor of one worker, which it registers as "worker":
 *
 * ```c
 * g_autoptr(GenChildSpec) spec = gen_child_spec_new ("worker", MY_TYPE_WORKER, NULL);
 * g_autoptr(GenSupervisor) supervisor = NULL;
 *
 * gen_child_spec_set_name (spec, "worker");
 * supervisor = gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3, 5000);
 * if (!gen_server_start (GEN_SERVER (supervisor), gen_supervisor_build_args (&spec, 1), &error))
 *   g_error ("%s", error->message);
 *
 * gen_registry_cast (gen_registry_get_default (), "worker", g_variant_new_string ("add"), NULL);
 * ```
 *
 * In Python, the worker can be a Python class:
 *
 * ```python
 * spec = Gen.ChildSpec.new('worker', Worker.__gtype__, None)
 * spec.set_name('worker')
 * supervisor = Gen.Supervisor.new(Gen.SupervisorStrategy.ONE_FOR_ONE, 3, 5000)
 * supervisor.start(Gen.Supervisor.build_args([spec]))
 * Gen.Registry.get_default().cast('worker', 'add')
 * ```
 *
 * Children written in JavaScript cannot be supervised yet: they must run on
 * a main context, and a child spec cannot give them one. `examples/` has
 * the whole programs, a nested supervisor among them
 * (`supervision-tree.c`).
 *
 * Since: 1.0
 */

/* The info message a child's exit hook sends: tag, child id, generation,
 * reason (error domain, code, message) or nothing for a normal stop. */
#define EXIT_NOTICE_TAG "gen-supervisor.child-exit"
#define EXIT_NOTICE_TYPE "(sstm(sis))"
#define EXIT_NOTICE_FORMAT "(sstm@(sis))"

typedef struct
{
  GenChildSpec *spec; /* owned; immutable */
  /* Written only by the supervisor's thread, under the supervisor's lock so
   * that get_child() can read it from other threads. Owned. */
  GenServer *server;
  /* Supervisor thread only. */
  guint watch_id;      /* the exit hook on `server` */
  guint64 generation;  /* which start of the child `server` is */
  guint restarts;      /* starts after the first; supervisor thread only */
} Child;

struct _GenSupervisor
{
  GenServer parent_instance;

  /* Construct-only. */
  GenSupervisorStrategy strategy;
  guint intensity;
  guint period_ms;

  /* Written only on the supervisor's thread, under `lock`; read under it
   * from anywhere. Child * (owned), in start order. */
  GMutex lock;
  GPtrArray *children;

  /* Supervisor thread only. */
  GArray *restarts;         /* gint64: monotonic µs of recent restarts */
  guint64 last_generation;

  /* Construct-only. */
  guint max_children;       /* 0: no limit */
  GenSupervisorAutoShutdown auto_shutdown;

  /* Supervisor thread only: simple_one_for_one's one spec, and the number
   * in the id of the last child made from it. */
  GenChildSpec *template;   /* owned, nullable */
  guint64 last_child_number;
};

G_DEFINE_FINAL_TYPE (GenSupervisor, gen_supervisor, GEN_TYPE_SERVER)

enum {
  PROP_0,
  PROP_STRATEGY,
  PROP_INTENSITY,
  PROP_PERIOD_MS,
  PROP_MAX_CHILDREN,
  PROP_AUTO_SHUTDOWN,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
child_free (gpointer data)
{
  Child *child = data;

  g_assert (child->server == NULL);
  gen_child_spec_unref (child->spec);
  g_free (child);
}

static Child *
find_child (GenSupervisor *self,
            const gchar   *id,
            guint         *index)
{
  for (guint i = 0; i < self->children->len; i++)
    {
      Child *child = g_ptr_array_index (self->children, i);

      if (g_str_equal (gen_child_spec_get_id (child->spec), id))
        {
          if (index != NULL)
            *index = i;
          return child;
        }
    }
  return NULL;
}

/* Exit hooks --------------------------------------------------------------- */

typedef struct
{
  GenSupervisor *supervisor; /* owned */
  gchar *id;                 /* owned */
  guint64 generation;
} ExitHook;

static void
exit_hook_free (gpointer data)
{
  ExitHook *hook = data;

  g_object_unref (hook->supervisor);
  g_free (hook->id);
  g_free (hook);
}

/* On the child's thread as it stops: tell the supervisor's thread. A
 * supervisor that is not running any more has stopped its children. */
static void
exit_hook_cb (GenServer    *server,
              const GError *reason,
              gpointer      user_data)
{
  ExitHook *hook = user_data;
  GVariant *error_part = NULL;

  if (reason != NULL)
    error_part = g_variant_new ("(sis)", g_quark_to_string (reason->domain),
                                reason->code, reason->message);

  gen_server_send_info (GEN_SERVER (hook->supervisor),
                        g_variant_new (EXIT_NOTICE_FORMAT, EXIT_NOTICE_TAG, hook->id,
                                       (guint64) hook->generation, error_part),
                        NULL);
}

/* Starting and stopping children ----------------------------------------- */

static void
set_child_server (GenSupervisor *self,
                  Child         *child,
                  GenServer     *server)
{
  g_mutex_lock (&self->lock);
  child->server = server;
  g_mutex_unlock (&self->lock);
}

/* Starts a fresh instance of @child. Supervisor thread. */
static gboolean
child_start (GenSupervisor  *self,
             Child          *child,
             GError        **error)
{
  GenChildSpec *spec = child->spec;
  g_autoptr(GenServer) server = NULL;
  g_autoptr(GError) local_error = NULL;
  ExitHook *hook;
  guint64 generation;
  guint watch_id;

  g_assert (child->server == NULL);

  server = gen_child_spec_instantiate_internal (spec, error);
  if (server == NULL)
    return FALSE;

  hook = g_new0 (ExitHook, 1);
  hook->supervisor = g_object_ref (self);
  hook->id = g_strdup (gen_child_spec_get_id (spec));
  hook->generation = generation = ++self->last_generation;
  /* Armed before start, so that even a child that stops right after init
   * is seen, with its real reason. */
  watch_id = gen_server_watch_internal (server, exit_hook_cb, hook, exit_hook_free,
                                        GEN_WATCH_NEXT_RUN);

  if (!gen_server_start (server, gen_child_spec_get_args (spec), &local_error) &&
      gen_server_is_ignore (local_error))
    {
      /* Erlang's ignore: not started, and fine. The child stays, not
       * running; its hook (gone already) sent a notice that finds no
       * server. */
      child->watch_id = 0;
      child->generation = generation;
      return TRUE;
    }
  if (local_error != NULL)
    {
      /* The hook already told us; that notice is stale (no server). */
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "Child “%s” failed to start: ",
                                  gen_child_spec_get_id (spec));
      return FALSE;
    }

  if (gen_child_spec_get_name (spec) != NULL &&
      !gen_registry_register (gen_registry_get_default (), gen_child_spec_get_name (spec),
                              server, &local_error))
    {
      gen_server_demonitor (server, watch_id);
      gen_server_stop (server, gen_child_spec_get_shutdown_timeout (spec), NULL);
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "Child “%s” failed to start: ",
                                  gen_child_spec_get_id (spec));
      return FALSE;
    }

  child->watch_id = watch_id;
  if (child->generation != 0)
    {
      g_autofree gchar *event = g_strdup_printf ("restarted child “%s”", gen_child_spec_get_id (spec));

      child->restarts++;
      gen_trace_lifecycle_internal (GEN_SERVER (self), event, NULL);
    }
  child->generation = generation;
  set_child_server (self, child, g_steal_pointer (&server));
  return TRUE;
}

/* Stops @child, if it runs, within its shutdown timeout. Supervisor
 * thread. */
static void
child_stop (GenSupervisor *self,
            Child         *child)
{
  g_autoptr(GenServer) server = child->server;
  g_autoptr(GError) error = NULL;
  gint timeout_ms = gen_child_spec_get_shutdown_timeout (child->spec);

  if (server == NULL)
    return;

  /* No notice for a stop the supervisor asked for. If the child is
   * stopping on its own right now, its notice finds no server and is
   * dropped. */
  gen_server_demonitor (server, child->watch_id);
  child->watch_id = 0;
  set_child_server (self, child, NULL);

  /* A child that is stopping on its own (a crash under way) is waited for
   * all the same, so that children stop in reverse order. */
  if ((!gen_server_stop (server, timeout_ms, &error) &&
       g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT)) ||
      !gen_server_wait_stopped_internal (server, timeout_ms))
    g_warning ("%s: child “%s” did not stop within %d ms; it is left to stop on its own",
               G_OBJECT_TYPE_NAME (self), gen_child_spec_get_id (child->spec), timeout_ms);
}

static void
stop_children_from (GenSupervisor *self,
                    guint          first)
{
  for (guint i = self->children->len; i > first; i--)
    child_stop (self, g_ptr_array_index (self->children, i - 1));
}

static void
remove_child_at (GenSupervisor *self,
                 guint          index)
{
  g_mutex_lock (&self->lock);
  g_ptr_array_remove_index (self->children, index);
  g_mutex_unlock (&self->lock);
}

/* Counts a restart. Returns FALSE when it is one too many. */
static gboolean
note_restart (GenSupervisor *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 horizon = now - (gint64) self->period_ms * 1000;
  guint keep = 0;

  for (guint i = 0; i < self->restarts->len; i++)
    if (g_array_index (self->restarts, gint64, i) > horizon)
      g_array_index (self->restarts, gint64, keep++) = g_array_index (self->restarts, gint64, i);
  g_array_set_size (self->restarts, keep);
  g_array_append_val (self->restarts, now);

  return self->restarts->len <= self->intensity;
}

static void
set_too_many_restarts (GenSupervisor  *self,
                       GError        **error)
{
  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TOO_MANY_RESTARTS,
               "%s reached its restart intensity (more than %u restarts in %u ms)",
               G_OBJECT_TYPE_NAME (self), self->intensity, self->period_ms);
}

/* (Re)starts the children from @first to before @last that are not
 * running, in order; temporary ones that are not running are dropped. A
 * child whose init fails counts as another restart and is tried again.
 * Returns FALSE, with @error set, when the intensity is exceeded. */
static gboolean
restart_children (GenSupervisor  *self,
                  guint           first,
                  guint           last,
                  GError        **error)
{
  guint i = first;

  while (i < last)
    {
      Child *child = g_ptr_array_index (self->children, i);
      g_autoptr(GError) start_error = NULL;

      if (child->server != NULL)
        {
          i++;
          continue;
        }
      if (gen_child_spec_get_restart (child->spec) == GEN_CHILD_RESTART_TEMPORARY)
        {
          remove_child_at (self, i);
          last--;
          continue;
        }
      if (child_start (self, child, &start_error))
        {
          i++;
          continue;
        }

      g_warning ("%s: %s", G_OBJECT_TYPE_NAME (self), start_error->message);
      if (!note_restart (self))
        {
          set_too_many_restarts (self, error);
          return FALSE;
        }
    }

  return TRUE;
}

/* A significant child ended for good (not restarted): the supervisor stops
 * itself, normally, if its auto-shutdown says so. Only for ends the
 * supervisor did not cause, as in Erlang: terminate_child and the
 * supervisor's own stop do not count. Supervisor thread. */
static void
check_auto_shutdown (GenSupervisor *self)
{
  if (self->auto_shutdown == GEN_SUPERVISOR_AUTO_SHUTDOWN_ALL_SIGNIFICANT)
    for (guint i = 0; i < self->children->len; i++)
      {
        Child *child = g_ptr_array_index (self->children, i);

        if (child->server != NULL && gen_child_spec_get_significant (child->spec))
          return;
      }

  if (self->auto_shutdown != GEN_SUPERVISOR_AUTO_SHUTDOWN_NEVER)
    gen_server_stop (GEN_SERVER (self), 0, NULL);
}

/* A child stopped on its own. Supervisor thread. Returns FALSE with @error
 * when the supervisor must give up. */
static gboolean
child_exited (GenSupervisor  *self,
              guint           index,
              const GError   *reason,
              GError        **error)
{
  Child *child = g_ptr_array_index (self->children, index);
  g_autoptr(GenServer) server = child->server;
  GenChildRestart restart = gen_child_spec_get_restart (child->spec);

  gboolean significant = gen_child_spec_get_significant (child->spec);

  child->watch_id = 0; /* the hook has run */
  set_child_server (self, child, NULL);

  if (restart == GEN_CHILD_RESTART_TEMPORARY)
    {
      remove_child_at (self, index);
      if (significant)
        check_auto_shutdown (self);
      return TRUE;
    }
  if (restart == GEN_CHILD_RESTART_TRANSIENT && reason == NULL)
    {
      if (significant)
        check_auto_shutdown (self);
      return TRUE;
    }

  if (!note_restart (self))
    {
      set_too_many_restarts (self, error);
      return FALSE;
    }

  switch (self->strategy)
    {
    case GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE:
    case GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE:
      return restart_children (self, index, index + 1, error);

    case GEN_SUPERVISOR_STRATEGY_ONE_FOR_ALL:
      stop_children_from (self, 0);
      return restart_children (self, 0, self->children->len, error);

    case GEN_SUPERVISOR_STRATEGY_REST_FOR_ONE:
      stop_children_from (self, index + 1);
      return restart_children (self, index, self->children->len, error);

    default:
      g_assert_not_reached ();
    }
}

/* Adds and starts a child. Supervisor thread. */
static gboolean
add_child (GenSupervisor  *self,
           GenChildSpec   *spec,
           GError        **error)
{
  Child *child;

  if (find_child (self, gen_child_spec_get_id (spec), NULL) != NULL)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NAME_TAKEN,
                   "%s already has a child “%s”",
                   G_OBJECT_TYPE_NAME (self), gen_child_spec_get_id (spec));
      return FALSE;
    }

  if (gen_child_spec_get_significant (spec) &&
      self->auto_shutdown == GEN_SUPERVISOR_AUTO_SHUTDOWN_NEVER)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "Child “%s” is significant, but %s’s auto-shutdown is “never”",
                   gen_child_spec_get_id (spec), G_OBJECT_TYPE_NAME (self));
      return FALSE;
    }

  if (self->max_children > 0 && self->children->len >= self->max_children)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_FAILED,
                   "%s already has %u children, its max-children: “%s” was not started",
                   G_OBJECT_TYPE_NAME (self), self->children->len, gen_child_spec_get_id (spec));
      return FALSE;
    }

  child = g_new0 (Child, 1);
  child->spec = gen_child_spec_ref (spec);
  if (!child_start (self, child, error))
    {
      child_free (child);
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->children, child);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* Handlers --------------------------------------------------------------- */

static void
gen_supervisor_init_server (GenServer  *server,
                            GVariant   *args,
                            GError    **error)
{
  GenSupervisor *self = GEN_SUPERVISOR (server);
  GVariantIter iter;
  GVariant *item;

  g_array_set_size (self->restarts, 0);
  if (args == NULL)
    return;

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE ("a" GEN_CHILD_SPEC_VARIANT_TYPE)))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "%s expects start arguments of type “a%s”, got “%s”",
                   G_OBJECT_TYPE_NAME (self), GEN_CHILD_SPEC_VARIANT_TYPE,
                   g_variant_get_type_string (args));
      return;
    }

  if (self->strategy == GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE)
    {
      /* One spec, the template of every child; none is started now. */
      g_autoptr(GVariant) only = NULL;

      if (g_variant_n_children (args) != 1)
        {
          g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                       "%s is simple_one_for_one: it takes exactly one child spec, "
                       "the template of its children, got %" G_GSIZE_FORMAT,
                       G_OBJECT_TYPE_NAME (self), g_variant_n_children (args));
          return;
        }
      only = g_variant_get_child_value (args, 0);
      g_clear_pointer (&self->template, gen_child_spec_unref);
      self->template = gen_child_spec_new_from_variant (only, error);
      self->last_child_number = 0;
      return;
    }

  g_variant_iter_init (&iter, args);
  while ((item = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr(GenChildSpec) spec = gen_child_spec_new_from_variant (item, error);

      g_variant_unref (item);

      if (spec == NULL || !add_child (self, spec, error))
        {
          /* As OTP: the children already started are stopped again. */
          stop_children_from (self, 0);
          g_mutex_lock (&self->lock);
          g_ptr_array_set_size (self->children, 0);
          g_mutex_unlock (&self->lock);
          return;
        }
    }
}

/* The template's start arguments with @extra appended, as Erlang appends
 * ExtraArgs to the template's argument list: two tuples are joined, and
 * either one alone is taken as it is. */
static GVariant *
append_args (GVariant     *args,
             GVariant     *extra,
             const gchar  *id,
             GError      **error)
{
  GVariantBuilder builder;

  if (extra == NULL)
    return args != NULL ? g_variant_ref (args) : NULL;
  if (args == NULL)
    return g_variant_ref (extra);
  if (!g_variant_is_of_type (args, G_VARIANT_TYPE_TUPLE) ||
      !g_variant_is_of_type (extra, G_VARIANT_TYPE_TUPLE))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "Child “%s”: extra arguments “%s” cannot be appended to the "
                   "template's “%s”: both must be tuples",
                   id, g_variant_get_type_string (extra), g_variant_get_type_string (args));
      return NULL;
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE_TUPLE);
  for (guint part = 0; part < 2; part++)
    {
      GVariant *tuple = part == 0 ? args : extra;

      for (gsize i = 0; i < g_variant_n_children (tuple); i++)
        {
          g_autoptr(GVariant) item = g_variant_get_child_value (tuple, i);

          g_variant_builder_add_value (&builder, item);
        }
    }
  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

/* start-child-with-args: a simple_one_for_one child from the template,
 * with an id of its own. Replies the id. */
static GVariant *
start_template_child (GenSupervisor  *self,
                      GVariant       *maybe_extra,
                      GError        **error)
{
  g_autoptr(GVariant) spec_variant = NULL;
  g_autoptr(GVariant) spec_properties = NULL;
  g_autoptr(GVariant) template_args = NULL;
  g_autoptr(GVariant) inner_args = NULL;
  g_autoptr(GVariant) extra_box = NULL;
  g_autoptr(GVariant) extra = NULL;
  g_autoptr(GVariant) args = NULL;
  g_autoptr(GenChildSpec) spec = NULL;
  g_autofree gchar *child_id = NULL;
  const gchar *id, *type_name, *name;
  guint32 restart;
  gint32 shutdown_ms;
  gboolean significant;
  GError *local_error = NULL;

  if (self->strategy != GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE || self->template == NULL)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "%s is not simple_one_for_one with a child spec: use "
                   "gen_supervisor_start_child()", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }

  /* Through the variant form, which copies everything in the spec. */
  spec_variant = g_variant_ref_sink (gen_child_spec_to_variant (self->template));
  g_variant_get (spec_variant, "(&s&s@a{sv}m@vui&sb)", &id, &type_name, &spec_properties,
                 &template_args, &restart, &shutdown_ms, &name, &significant);
  child_id = g_strdup_printf ("%s-%" G_GUINT64_FORMAT, id, ++self->last_child_number);

  if (template_args != NULL)
    inner_args = g_variant_get_variant (template_args);
  extra_box = g_variant_get_maybe (maybe_extra);
  if (extra_box != NULL)
    extra = g_variant_get_variant (extra_box);
  args = append_args (inner_args, extra, child_id, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }

  spec = gen_child_spec_new_from_variant (g_variant_new ("(ss@a{sv}m@vuisb)", child_id, type_name,
                                                         spec_properties,
                                                         args != NULL ? g_variant_new_variant (args) : NULL,
                                                         restart, shutdown_ms, name, significant),
                                          error);
  if (spec == NULL || !add_child (self, spec, error))
    return NULL;
  return g_variant_new_string (child_id);
}

/* terminate-child, restart-child and delete-child: Erlang's
 * supervisor:terminate_child/2, restart_child/2 and delete_child/2. */
static GVariant *
handle_child_command (GenSupervisor  *self,
                      const gchar    *command,
                      const gchar    *id,
                      GError        **error)
{
  guint index;
  Child *child = find_child (self, id, &index);

  if (child == NULL)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND,
                   "%s has no child “%s”", G_OBJECT_TYPE_NAME (self), id);
      return NULL;
    }

  if (g_str_equal (command, "terminate-child"))
    {
      child_stop (self, child);
      /* A temporary child is never restarted: its spec goes with it; so
       * does a simple_one_for_one child's, made from the template. */
      if (gen_child_spec_get_restart (child->spec) == GEN_CHILD_RESTART_TEMPORARY ||
          self->strategy == GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE)
        remove_child_at (self, index);
      return g_variant_new_boolean (TRUE);
    }

  if (child->server != NULL)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_ALREADY_RUNNING,
                   "%s’s child “%s” is running: terminate it first",
                   G_OBJECT_TYPE_NAME (self), id);
      return NULL;
    }

  if (g_str_equal (command, "restart-child"))
    return child_start (self, child, error) ? g_variant_new_boolean (TRUE) : NULL;

  remove_child_at (self, index);
  return g_variant_new_boolean (TRUE);
}

static gboolean
child_is_supervisor (Child *child)
{
  return g_type_is_a (gen_child_spec_get_server_type (child->spec), GEN_TYPE_SUPERVISOR);
}

static GVariant *
count_children (GenSupervisor *self)
{
  GVariantDict dict;
  guint active = 0;
  guint supervisors = 0;

  for (guint i = 0; i < self->children->len; i++)
    {
      Child *child = g_ptr_array_index (self->children, i);

      if (child->server != NULL)
        active++;
      if (child_is_supervisor (child))
        supervisors++;
    }

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "specs", "u", self->children->len);
  g_variant_dict_insert (&dict, "active", "u", active);
  g_variant_dict_insert (&dict, "supervisors", "u", supervisors);
  g_variant_dict_insert (&dict, "workers", "u", self->children->len - supervisors);
  return g_variant_dict_end (&dict);
}

static GVariant *
children_status (GenSupervisor *self)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sss)"));
  for (guint i = 0; i < self->children->len; i++)
    {
      Child *child = g_ptr_array_index (self->children, i);

      g_variant_builder_add (&builder, "(sss)", gen_child_spec_get_id (child->spec),
                             child_is_supervisor (child) ? "supervisor" : "worker",
                             child->server != NULL ? "running" : "stopped");
    }
  return g_variant_builder_end (&builder);
}

static GVariant *
gen_supervisor_handle_call (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  GenSupervisor *self = GEN_SUPERVISOR (server);
  const gchar *command;
  g_autoptr(GVariant) arg = NULL;

  if (!g_variant_is_of_type (message, G_VARIANT_TYPE ("(sv)")))
    goto unknown;
  g_variant_get (message, "(&sv)", &command, &arg);

  if (g_str_equal (command, "start-child") &&
      self->strategy == GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "%s is simple_one_for_one: start its children with "
                   "gen_supervisor_start_child_with_args()", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }

  if (g_str_equal (command, "start-child-with-args") &&
      g_variant_is_of_type (arg, G_VARIANT_TYPE ("mv")))
    return start_template_child (self, arg, error);

  if (g_str_equal (command, "start-child"))
    {
      g_autoptr(GenChildSpec) spec = gen_child_spec_new_from_variant (arg, error);

      if (spec == NULL || !add_child (self, spec, error))
        return NULL;
      return g_variant_new_boolean (TRUE);
    }

  if (g_str_equal (command, "remove-child") &&
      g_variant_is_of_type (arg, G_VARIANT_TYPE_STRING))
    {
      const gchar *id = g_variant_get_string (arg, NULL);
      guint index;
      Child *child = find_child (self, id, &index);

      if (child == NULL)
        {
          g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND,
                       "%s has no child “%s”", G_OBJECT_TYPE_NAME (self), id);
          return NULL;
        }
      child_stop (self, child);
      remove_child_at (self, index);
      return g_variant_new_boolean (TRUE);
    }

  if (g_str_equal (command, "which-children"))
    {
      g_auto(GStrv) ids = gen_supervisor_dup_child_ids (self);

      return g_variant_new_strv ((const gchar * const *) ids, -1);
    }

  if (g_variant_is_of_type (arg, G_VARIANT_TYPE_STRING) &&
      (g_str_equal (command, "terminate-child") ||
       g_str_equal (command, "restart-child") ||
       g_str_equal (command, "delete-child")))
    return handle_child_command (self, command, g_variant_get_string (arg, NULL), error);

  if (g_str_equal (command, "count-children"))
    return count_children (self);

  if (g_str_equal (command, "which-children-status"))
    return children_status (self);

unknown:
  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "%s does not understand the call %s",
               G_OBJECT_TYPE_NAME (self), g_variant_get_type_string (message));
  return NULL;
}

static void
gen_supervisor_handle_info (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  GenSupervisor *self = GEN_SUPERVISOR (server);
  const gchar *tag, *id;
  guint64 generation;
  gboolean has_reason;
  const gchar *domain = NULL, *text = NULL;
  gint32 code = 0;
  g_autoptr(GError) reason = NULL;
  Child *child;
  guint index;

  if (!g_variant_is_of_type (message, G_VARIANT_TYPE (EXIT_NOTICE_TYPE)))
    return;
  g_variant_get (message, "(&s&stm(&si&s))", &tag, &id, &generation,
                 &has_reason, &domain, &code, &text);
  if (!g_str_equal (tag, EXIT_NOTICE_TAG))
    return;

  /* Only the current instance of a child that the supervisor did not stop
   * itself. */
  child = find_child (self, id, &index);
  if (child == NULL || child->server == NULL || child->generation != generation)
    return;

  if (has_reason)
    reason = g_error_new_literal (g_quark_from_string (domain), code, text);

  child_exited (self, index, reason, error);
}

static void
gen_supervisor_terminate (GenServer    *server,
                          const GError *reason)
{
  GenSupervisor *self = GEN_SUPERVISOR (server);

  stop_children_from (self, 0);

  /* A supervisor started again begins from its start arguments. */
  g_mutex_lock (&self->lock);
  g_ptr_array_set_size (self->children, 0);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&self->template, gen_child_spec_unref);
}

/* GObject ---------------------------------------------------------------- */

/* The `state` of get_status: each child's id, type, status and restarts,
 * an a(sssu). On the supervisor's thread, which alone writes the list. */
static GVariant *
gen_supervisor_format_status (GenServer *server)
{
  GenSupervisor *self = GEN_SUPERVISOR (server);
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sssu)"));
  for (guint i = 0; i < self->children->len; i++)
    {
      Child *child = g_ptr_array_index (self->children, i);

      g_variant_builder_add (&builder, "(sssu)",
                             gen_child_spec_get_id (child->spec),
                             g_type_name (gen_child_spec_get_server_type (child->spec)),
                             child->server != NULL && gen_server_is_running (child->server) ?
                             "running" : "stopped",
                             child->restarts);
    }
  return g_variant_builder_end (&builder);
}

static void
gen_supervisor_finalize (GObject *object)
{
  GenSupervisor *self = GEN_SUPERVISOR (object);

  g_ptr_array_unref (self->children);
  g_array_unref (self->restarts);
  g_clear_pointer (&self->template, gen_child_spec_unref);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gen_supervisor_parent_class)->finalize (object);
}

static void
gen_supervisor_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  GenSupervisor *self = GEN_SUPERVISOR (object);

  switch (prop_id)
    {
    case PROP_STRATEGY:
      g_value_set_enum (value, self->strategy);
      break;
    case PROP_INTENSITY:
      g_value_set_uint (value, self->intensity);
      break;
    case PROP_PERIOD_MS:
      g_value_set_uint (value, self->period_ms);
      break;
    case PROP_MAX_CHILDREN:
      g_value_set_uint (value, self->max_children);
      break;
    case PROP_AUTO_SHUTDOWN:
      g_value_set_enum (value, self->auto_shutdown);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_supervisor_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  GenSupervisor *self = GEN_SUPERVISOR (object);

  switch (prop_id)
    {
    case PROP_STRATEGY:
      self->strategy = g_value_get_enum (value);
      break;
    case PROP_INTENSITY:
      self->intensity = g_value_get_uint (value);
      break;
    case PROP_PERIOD_MS:
      self->period_ms = g_value_get_uint (value);
      break;
    case PROP_MAX_CHILDREN:
      self->max_children = g_value_get_uint (value);
      break;
    case PROP_AUTO_SHUTDOWN:
      self->auto_shutdown = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
gen_supervisor_class_init (GenSupervisorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  object_class->finalize = gen_supervisor_finalize;
  object_class->get_property = gen_supervisor_get_property;
  object_class->set_property = gen_supervisor_set_property;

  server_class->init = gen_supervisor_init_server;
  server_class->handle_call = gen_supervisor_handle_call;
  server_class->handle_info = gen_supervisor_handle_info;
  server_class->terminate = gen_supervisor_terminate;
  server_class->format_status = gen_supervisor_format_status;

  /**
   * GenSupervisor:strategy:
   *
   * Which children are restarted when one stops.
   *
   * Since: 1.0
   */
  properties[PROP_STRATEGY] =
    g_param_spec_enum ("strategy", NULL, NULL,
                       GEN_TYPE_SUPERVISOR_STRATEGY,
                       GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE,
                       (G_PARAM_READWRITE |
                        G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /**
   * GenSupervisor:intensity:
   *
   * The most restarts allowed within [property@Gen.Supervisor:period-ms];
   * one more and the supervisor gives up. 0 means that any child stopping
   * abnormally stops the supervisor. Erlang's default, 1, is the default.
   *
   * Since: 1.0
   */
  properties[PROP_INTENSITY] =
    g_param_spec_uint ("intensity", NULL, NULL,
                       0, G_MAXUINT, 1,
                       (G_PARAM_READWRITE |
                        G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /**
   * GenSupervisor:period-ms:
   *
   * The window, in milliseconds, in which restarts are counted against
   * [property@Gen.Supervisor:intensity]. Erlang's default, 5 seconds, is the
   * default.
   *
   * Since: 1.0
   */
  properties[PROP_PERIOD_MS] =
    g_param_spec_uint ("period-ms", NULL, NULL,
                       0, G_MAXUINT, 5000,
                       (G_PARAM_READWRITE |
                        G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /**
   * GenSupervisor:max-children:
   *
   * The most children the supervisor has at once, running or not (Elixir's
   * `DynamicSupervisor` `max_children`), or 0 for no limit, the default.
   * Starting one more fails with %GEN_SERVER_ERROR_FAILED.
   *
   * Since: 1.0
   */
  properties[PROP_MAX_CHILDREN] =
    g_param_spec_uint ("max-children", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READWRITE |
                        G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /**
   * GenSupervisor:auto-shutdown:
   *
   * Whether the supervisor stops itself, normally, when significant
   * children ([method@Gen.ChildSpec.set_significant]) end without being
   * restarted: Erlang's `auto_shutdown`. Only ends that the supervisor did
   * not cause count ([method@Gen.Supervisor.terminate_child] does not).
   *
   * Since: 1.0
   */
  properties[PROP_AUTO_SHUTDOWN] =
    g_param_spec_enum ("auto-shutdown", NULL, NULL,
                       GEN_TYPE_SUPERVISOR_AUTO_SHUTDOWN,
                       GEN_SUPERVISOR_AUTO_SHUTDOWN_NEVER,
                       (G_PARAM_READWRITE |
                        G_PARAM_CONSTRUCT_ONLY |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
gen_supervisor_init (GenSupervisor *self)
{
  g_mutex_init (&self->lock);
  self->children = g_ptr_array_new_with_free_func (child_free);
  self->restarts = g_array_new (FALSE, FALSE, sizeof (gint64));
}

/* Public API ------------------------------------------------------------ */

/**
 * gen_supervisor_new:
 * @strategy: which children are restarted when one stops
 * @intensity: the most restarts allowed within @period_ms
 * @period_ms: the window in which restarts are counted, in milliseconds
 *
 * Creates a supervisor. Start it with [method@Gen.Server.start]: with
 * %NULL, or with the children to start, from
 * [func@Gen.Supervisor.build_args].
 *
 * Returns: (transfer full): a new, stopped supervisor
 *
 * ```c
 * // Gives up after more than 3 restarts within 5 seconds.
 * g_autoptr(GenSupervisor) supervisor =
 *   gen_supervisor_new (GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE, 3, 5000);
 * ```
 *
 * ```python
 * supervisor = Gen.Supervisor.new(Gen.SupervisorStrategy.ONE_FOR_ONE, 3, 5000)
 * ```
 *
 * Since: 1.0
 */
GenSupervisor *
gen_supervisor_new (GenSupervisorStrategy strategy,
                    guint                 intensity,
                    guint                 period_ms)
{
  return g_object_new (GEN_TYPE_SUPERVISOR,
                       "strategy", strategy,
                       "intensity", intensity,
                       "period-ms", period_ms,
                       NULL);
}

/**
 * gen_supervisor_build_args:
 * @children: (array length=n_children): the children, in start order
 * @n_children: how many
 *
 * Builds a supervisor's start arguments from its children's specs: an
 * array of %GEN_CHILD_SPEC_VARIANT_TYPE. Give them to
 * [method@Gen.Server.start], or to [ctor@Gen.ChildSpec.new] for a
 * supervisor that is itself a child.
 *
 * Returns: (transfer floating): the start arguments
 *
 * The arguments of [method@Gen.Server.start] for a supervisor, and of a
 * nested supervisor's spec:
 *
 * ```c
 * GenChildSpec *children[] = { logger, worker };
 *
 * gen_server_start (GEN_SERVER (supervisor),
 *                   gen_supervisor_build_args (children, G_N_ELEMENTS (children)),
 *                   &error);
 * ```
 *
 * ```python
 * supervisor.start(Gen.Supervisor.build_args([logger, worker]))
 * ```
 *
 * Since: 1.0
 */
GVariant *
gen_supervisor_build_args (GenChildSpec **children,
                           guint          n_children)
{
  GVariantBuilder builder;

  g_return_val_if_fail (children != NULL || n_children == 0, NULL);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a" GEN_CHILD_SPEC_VARIANT_TYPE));
  for (guint i = 0; i < n_children; i++)
    g_variant_builder_add_value (&builder, gen_child_spec_to_variant (children[i]));
  return g_variant_builder_end (&builder);
}

/**
 * gen_supervisor_start_child:
 * @self: a #GenSupervisor
 * @spec: the child's spec
 *
 * Adds a child after the others and starts it, on the supervisor's thread,
 * waiting for its `init`. Fails with %GEN_SERVER_ERROR_NAME_TAKEN if the
 * supervisor has a child with the same id, with the child's init error, or
 * as [method@Gen.Server.call] fails (%GEN_SERVER_ERROR_NOT_RUNNING...).
 *
 * Returns: %TRUE if the child runs
 *
 * ```c
 * g_autoptr(GenChildSpec) job = gen_child_spec_new ("job-42", MY_TYPE_JOB,
 *                                                   g_variant_new_int32 (42));
 *
 * gen_child_spec_set_restart (job, GEN_CHILD_RESTART_TEMPORARY);
 * if (!gen_supervisor_start_child (supervisor, job, &error))
 *   g_warning ("Job 42: %s", error->message);
 * ```
 *
 * ```python
 * job = Gen.ChildSpec.new('job-42', Job.__gtype__, GLib.Variant('i', 42))
 * job.set_restart(Gen.ChildRestart.TEMPORARY)
 * supervisor.start_child(job)     # raises GLib.Error if its init fails
 * ```
 *
 * Since: 1.0
 */
gboolean
gen_supervisor_start_child (GenSupervisor  *self,
                            GenChildSpec   *spec,
                            GError        **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), FALSE);
  g_return_val_if_fail (spec != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  reply = gen_server_call (GEN_SERVER (self),
                           g_variant_new ("(sv)", "start-child", gen_child_spec_to_variant (spec)),
                           -1, error);
  return reply != NULL;
}

/**
 * gen_supervisor_remove_child:
 * @self: a #GenSupervisor
 * @id: a child's id
 *
 * Stops a child, within its shutdown timeout, and forgets it. Fails with
 * %GEN_SERVER_ERROR_NOT_FOUND if there is no such child.
 *
 * Returns: %TRUE if the child was removed
 *
 * Since: 1.0
 */
gboolean
gen_supervisor_remove_child (GenSupervisor  *self,
                             const gchar    *id,
                             GError        **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  reply = gen_server_call (GEN_SERVER (self),
                           g_variant_new ("(sv)", "remove-child", g_variant_new_string (id)),
                           -1, error);
  return reply != NULL;
}

/**
 * gen_supervisor_get_child:
 * @self: a #GenSupervisor
 * @id: a child's id
 *
 * Gets the running instance of a child. A snapshot: after a restart, ask
 * again, since the new instance is another object.
 *
 * Returns: (transfer full) (nullable): the child, or %NULL if there is no
 *   such child or it is not running (being restarted, or stopped for good)
 *
 * Since: 1.0
 */
GenServer *
gen_supervisor_get_child (GenSupervisor *self,
                          const gchar   *id)
{
  GenServer *server = NULL;
  Child *child;

  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  g_mutex_lock (&self->lock);
  child = find_child (self, id, NULL);
  if (child != NULL && child->server != NULL)
    server = g_object_ref (child->server);
  g_mutex_unlock (&self->lock);

  return server;
}

/**
 * gen_supervisor_dup_child_ids:
 * @self: a #GenSupervisor
 *
 * Lists the ids of the supervisor's children, running or not, in start
 * order.
 *
 * Returns: (transfer full) (array zero-terminated=1): the ids
 *
 * Since: 1.0
 */
gchar **
gen_supervisor_dup_child_ids (GenSupervisor *self)
{
  GStrvBuilder *builder;
  gchar **ids;

  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), NULL);

  builder = g_strv_builder_new ();
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->children->len; i++)
    {
      Child *child = g_ptr_array_index (self->children, i);

      g_strv_builder_add (builder, gen_child_spec_get_id (child->spec));
    }
  g_mutex_unlock (&self->lock);

  ids = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return ids;
}

/**
 * gen_supervisor_which_children:
 * @self: a #GenSupervisor
 *
 * Lists the ids of the supervisor's children, as
 * [method@Gen.Supervisor.dup_child_ids] does, but asked of the supervisor's
 * thread, like Erlang's `supervisor:which_children/1`: the answer comes
 * after the supervisor handled everything queued before. Once a monitor
 * told you that a child stopped, the supervisor already has its notice, so
 * when this returns, the child has been restarted (or removed), and
 * [method@Gen.Supervisor.get_child] gives the new instance.
 *
 * Fails as [method@Gen.Server.call] fails; not from the supervisor's own
 * thread (%GEN_SERVER_ERROR_CALLING_SELF).
 *
 * Returns: (transfer full) (array zero-terminated=1): the ids
 *
 * After a monitor told you that a child crashed, this returns once the
 * supervisor restarted it:
 *
 * ```c
 * g_auto(GStrv) ids = gen_supervisor_which_children (supervisor, &error);
 * g_autoptr(GenServer) worker = gen_supervisor_get_child (supervisor, "worker");
 * ```
 *
 * ```python
 * supervisor.which_children()
 * worker = supervisor.get_child('worker')
 * ```
 *
 * Since: 1.0
 */
gchar **
gen_supervisor_which_children (GenSupervisor  *self,
                               GError        **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  reply = gen_server_call (GEN_SERVER (self),
                           g_variant_new ("(sv)", "which-children", g_variant_new_string ("")),
                           -1, error);
  return reply ? g_variant_dup_strv (reply, NULL) : NULL;
}

/**
 * gen_supervisor_get_strategy:
 * @self: a #GenSupervisor
 *
 * Gets the [property@Gen.Supervisor:strategy].
 *
 * Returns: the restart strategy
 *
 * Since: 1.0
 */
GenSupervisorStrategy
gen_supervisor_get_strategy (GenSupervisor *self)
{
  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), GEN_SUPERVISOR_STRATEGY_ONE_FOR_ONE);
  return self->strategy;
}

/**
 * gen_supervisor_get_intensity:
 * @self: a #GenSupervisor
 *
 * Gets the [property@Gen.Supervisor:intensity].
 *
 * Returns: the most restarts allowed within the period
 *
 * Since: 1.0
 */
guint
gen_supervisor_get_intensity (GenSupervisor *self)
{
  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), 0);
  return self->intensity;
}

/**
 * gen_supervisor_get_period:
 * @self: a #GenSupervisor
 *
 * Gets the [property@Gen.Supervisor:period-ms].
 *
 * Returns: the period in milliseconds
 *
 * Since: 1.0
 */
guint
gen_supervisor_get_period (GenSupervisor *self)
{
  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), 0);
  return self->period_ms;
}

static gboolean
child_command (GenSupervisor  *self,
               const gchar    *command,
               const gchar    *id,
               GError        **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = gen_server_call (GEN_SERVER (self),
                           g_variant_new ("(sv)", command, g_variant_new_string (id)),
                           -1, error);
  return reply != NULL;
}

/**
 * gen_supervisor_terminate_child:
 * @self: a #GenSupervisor
 * @id: a child's id
 *
 * Stops a child, within its shutdown timeout, and keeps its spec, as
 * Erlang's `supervisor:terminate_child/2` does: it is not restarted until
 * [method@Gen.Supervisor.restart_child], and
 * [method@Gen.Supervisor.delete_child] forgets it. A temporary child's
 * spec is forgotten at once. Terminating a child that is not running
 * succeeds and does nothing. Fails with %GEN_SERVER_ERROR_NOT_FOUND if
 * there is no such child, or as [method@Gen.Server.call] fails.
 *
 * Returns: %TRUE if the child is stopped
 *
 * Since: 1.0
 */
gboolean
gen_supervisor_terminate_child (GenSupervisor  *self,
                                const gchar    *id,
                                GError        **error)
{
  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return child_command (self, "terminate-child", id, error);
}

/**
 * gen_supervisor_restart_child:
 * @self: a #GenSupervisor
 * @id: the id of a child that is not running
 *
 * Starts again a child that was terminated
 * ([method@Gen.Supervisor.terminate_child]) or that stopped and was not
 * restarted (a transient child's normal stop), with a fresh instance from
 * its spec: Erlang's `supervisor:restart_child/2`. Fails with
 * %GEN_SERVER_ERROR_NOT_FOUND if there is no such child,
 * %GEN_SERVER_ERROR_ALREADY_RUNNING if it runs, with the child's init
 * error, or as [method@Gen.Server.call] fails.
 *
 * Returns: %TRUE if the child runs
 *
 * Since: 1.0
 */
gboolean
gen_supervisor_restart_child (GenSupervisor  *self,
                              const gchar    *id,
                              GError        **error)
{
  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return child_command (self, "restart-child", id, error);
}

/**
 * gen_supervisor_delete_child:
 * @self: a #GenSupervisor
 * @id: the id of a child that is not running
 *
 * Forgets the spec of a child that is not running: Erlang's
 * `supervisor:delete_child/2`. Fails with %GEN_SERVER_ERROR_NOT_FOUND if
 * there is no such child, %GEN_SERVER_ERROR_ALREADY_RUNNING if it runs
 * (terminate it first, or use [method@Gen.Supervisor.remove_child], which
 * does both), or as [method@Gen.Server.call] fails.
 *
 * Returns: %TRUE if the child was deleted
 *
 * Since: 1.0
 */
gboolean
gen_supervisor_delete_child (GenSupervisor  *self,
                             const gchar    *id,
                             GError        **error)
{
  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return child_command (self, "delete-child", id, error);
}

/**
 * gen_supervisor_count_children:
 * @self: a #GenSupervisor
 * @error: return location for an error
 *
 * Counts the supervisor's children, asked of its thread, as Erlang's
 * `supervisor:count_children/1`: a dictionary of `u` values, `specs` (all
 * children, running or not), `active` (running), `supervisors` and
 * `workers` (children whose type is, or is not, a [class@Gen.Supervisor],
 * running or not).
 *
 * ```c
 * g_autoptr(GVariant) counts = gen_supervisor_count_children (supervisor, &error);
 * guint active = 0;
 *
 * g_variant_lookup (counts, "active", "u", &active);
 * ```
 *
 * Fails as [method@Gen.Server.call] fails.
 *
 * Returns: (transfer full) (nullable): the counts, an `a{su}`
 *
 * Since: 1.0
 */
GVariant *
gen_supervisor_count_children (GenSupervisor  *self,
                               GError        **error)
{
  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return gen_server_call (GEN_SERVER (self),
                          g_variant_new ("(sv)", "count-children", g_variant_new_string ("")),
                          -1, error);
}

/**
 * gen_supervisor_which_children_status:
 * @self: a #GenSupervisor
 * @error: return location for an error
 *
 * Lists the supervisor's children in start order with their status, asked
 * of its thread as [method@Gen.Supervisor.which_children] is: an `a(sss)`
 * of id, kind (`"worker"` or `"supervisor"`) and status (`"running"`, or
 * `"stopped"` for a child terminated or not restarted), Erlang's
 * `supervisor:which_children/1`. [method@Gen.Supervisor.get_child] gives
 * the running instance.
 *
 * Fails as [method@Gen.Server.call] fails.
 *
 * Returns: (transfer full) (nullable): the children, an `a(sss)`
 *
 * Since: 1.0
 */
GVariant *
gen_supervisor_which_children_status (GenSupervisor  *self,
                                      GError        **error)
{
  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return gen_server_call (GEN_SERVER (self),
                          g_variant_new ("(sv)", "which-children-status", g_variant_new_string ("")),
                          -1, error);
}

/**
 * gen_supervisor_get_child_spec:
 * @self: a #GenSupervisor
 * @id: a child's id
 *
 * Gets a child's spec, as Erlang's `supervisor:get_childspec/2`, from any
 * thread.
 *
 * Returns: (transfer full) (nullable): the spec, or %NULL if there is no
 *   such child
 *
 * Since: 1.0
 */
GenChildSpec *
gen_supervisor_get_child_spec (GenSupervisor *self,
                               const gchar   *id)
{
  GenChildSpec *spec = NULL;
  Child *child;

  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  g_mutex_lock (&self->lock);
  child = find_child (self, id, NULL);
  if (child != NULL)
    spec = gen_child_spec_ref (child->spec);
  g_mutex_unlock (&self->lock);

  return spec;
}

/**
 * gen_supervisor_start_child_with_args:
 * @self: a #GenSupervisor whose strategy is
 *   %GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE
 * @extra_args: (nullable): arguments appended to the template's start
 *   arguments; a floating reference is sunk
 *
 * Starts one more child from the supervisor's template, the one child spec
 * it was started with, as Erlang's `supervisor:start_child/2` does for a
 * `simple_one_for_one` supervisor. The child's `init` gets the template's
 * start arguments with @extra_args appended: two tuples are joined (`("db",)`
 * and `(42,)` make `("db", 42)`), and either one alone is taken as it is.
 * Its id is the template's id, a dash and a number (`"worker-3"`).
 *
 * ```c
 * g_autoptr(GenChildSpec) template = gen_child_spec_new ("conn", MY_TYPE_CONNECTION, NULL);
 * g_autoptr(GenSupervisor) pool = g_object_new (GEN_TYPE_SUPERVISOR,
 *                                               "strategy", GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE,
 *                                               "max-children", 10, NULL);
 * gen_server_start (GEN_SERVER (pool), gen_supervisor_build_args (&template, 1), &error);
 * g_autofree gchar *id = gen_supervisor_start_child_with_args (pool, g_variant_new ("(s)", host), &error);
 * ```
 *
 * Fails with %GEN_SERVER_ERROR_INVALID_MESSAGE for another strategy or
 * arguments that cannot be appended, with %GEN_SERVER_ERROR_FAILED beyond
 * [property@Gen.Supervisor:max-children], with the child's init error, or
 * as [method@Gen.Server.call] fails.
 *
 * Returns: (transfer full) (nullable): the new child's id
 *
 * Since: 1.0
 */
gchar *
gen_supervisor_start_child_with_args (GenSupervisor  *self,
                                      GVariant       *extra_args,
                                      GError        **error)
{
  g_autoptr(GVariant) reply = NULL;
  GVariant *maybe;

  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  maybe = g_variant_new_maybe (G_VARIANT_TYPE_VARIANT,
                               extra_args != NULL ? g_variant_new_variant (extra_args) : NULL);
  reply = gen_server_call (GEN_SERVER (self),
                           g_variant_new ("(sv)", "start-child-with-args", maybe),
                           -1, error);
  return reply != NULL ? g_variant_dup_string (reply, NULL) : NULL;
}
