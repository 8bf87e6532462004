/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-child-spec-private.h"
#include "gen-enums.h"
#include "gen-link.h"
#include "gen-start.h"
#include "gen-supervisor-private.h"

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
 * A supervisor traps exits ([method@Gen.Server.set_trap_exit]), as
 * Erlang's does: when a server linked to it ([method@Gen.Server.link])
 * stops abnormally, the supervisor stops with that reason, its children
 * shut down in reverse order as in any stop; a normal stop changes
 * nothing.
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

/* Handlers: the engine and the commands do the work ------------------- */

static void
gen_supervisor_init_server (GenServer  *server,
                            GVariant   *args,
                            GError    **error)
{
  /* As Erlang's supervisor: an exit signal never ends it without its
   * children being shut down (see handle_info). */
  gen_server_set_trap_exit (server, TRUE);
  gen_supervisor_engine_start (GEN_SUPERVISOR (server), args, error);
}

static GVariant *
gen_supervisor_handle_call (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  return gen_supervisor_commands_handle_call (GEN_SUPERVISOR (server), message, error);
}

static void
gen_supervisor_handle_info (GenServer  *server,
                            GVariant   *message,
                            GError    **error)
{
  if (gen_server_is_exit_message (message, NULL))
    {
      g_autoptr(GError) reason = gen_server_exit_message_dup_reason (message);

      /* A linked server stopped abnormally: the supervisor stops with its
       * reason, its children in reverse order, as Erlang's does when its
       * parent exits. */
      if (reason != NULL && !gen_server_is_ignore (reason))
        gen_server_stop_with_reason (server, reason, 0, NULL);
      return;
    }
  gen_supervisor_engine_handle_exit_notice (GEN_SUPERVISOR (server), message, error);
}

static void
gen_supervisor_terminate (GenServer    *server,
                          const GError *reason)
{
  gen_supervisor_engine_stop (GEN_SUPERVISOR (server));
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
      GenSupervisorChild *child = g_ptr_array_index (self->children, i);

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
  self->children = g_ptr_array_new_with_free_func (gen_supervisor_engine_child_free);
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
 * gen_supervisor_check_child_specs:
 * @specs: (array length=n_specs): the specs to check
 * @n_specs: how many
 * @error: return location for an error
 *
 * Says why specs would not start, before anything starts, as Erlang's
 * `supervisor:check_childspecs/1`: each spec's fields (a GenServer type, a
 * non-empty id, a shutdown timeout of -1 or more, a significant child
 * that is not permanent), its construct properties against its type
 * (each one exists and takes a value of the spec's type), and ids given
 * twice. Runs on the calling thread and starts nothing.
 *
 * ```c
 * GenChildSpec *children[] = { logger, worker };
 *
 * if (!gen_supervisor_check_child_specs (children, G_N_ELEMENTS (children), &error))
 *   g_printerr ("Bad child spec: %s\n", error->message);
 * ```
 *
 * ```python
 * Gen.Supervisor.check_child_specs([logger, worker])  # raises GLib.Error
 * ```
 *
 * Returns: %TRUE if the specs are fine; %FALSE with
 *   %GEN_SERVER_ERROR_INVALID_MESSAGE (a spec's fields or properties) or
 *   %GEN_SERVER_ERROR_NAME_TAKEN (an id given twice) otherwise
 *
 * Since: 1.2
 */
gboolean
gen_supervisor_check_child_specs (GenChildSpec **specs,
                                  guint          n_specs,
                                  GError       **error)
{
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);

  g_return_val_if_fail (specs != NULL || n_specs == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; i < n_specs; i++)
    {
      const gchar *id = gen_child_spec_get_id (specs[i]);

      if (!gen_child_spec_check (specs[i], error))
        return FALSE;
      if (!g_hash_table_add (ids, (gpointer) id))
        {
          g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NAME_TAKEN,
                       "Two children have the id “%s”", id);
          return FALSE;
        }
    }
  return TRUE;
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
  GenSupervisorChild *child;

  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  g_mutex_lock (&self->lock);
  child = gen_supervisor_engine_find_child (self, id, NULL);
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
  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), NULL);

  return gen_supervisor_engine_dup_child_ids (self);
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
  GenSupervisorChild *child;

  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), NULL);
  g_return_val_if_fail (id != NULL, NULL);

  g_mutex_lock (&self->lock);
  child = gen_supervisor_engine_find_child (self, id, NULL);
  if (child != NULL)
    spec = gen_child_spec_ref (child->spec);
  g_mutex_unlock (&self->lock);

  return spec;
}

