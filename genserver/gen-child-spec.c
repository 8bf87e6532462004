/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-child-spec-private.h"
#include "gen-core-private.h"
#include "gen-enums.h"
#include "gen-supervisor.h"

/**
 * GenChildSpec:
 *
 * How a [class@Gen.Supervisor] starts, restarts and stops one child:
 * Erlang's child specification.
 *
 * A spec names the child (its id, unique in its supervisor), the
 * [class@Gen.Server] subclass to instantiate, its construct properties and
 * its start arguments, when to restart it ([enum@Gen.ChildRestart]), how
 * long to wait for it to stop, and optionally a name under which the
 * supervisor registers each instance in the default [class@Gen.Registry].
 *
 * Every start, restarts included, creates a fresh instance of the type with
 * `g_object_new()` and the properties, and runs its `init` with the start
 * arguments: a restarted child never sees its predecessor's state. The type
 * can be one defined in Python or another language, as long as its GType is
 * registered.
 *
 * A spec is a value: it converts to and from a [struct@GLib.Variant]
 * ([method@Gen.ChildSpec.to_variant]), which is how a supervisor's own start
 * arguments list its children, and so how supervisors nest.
 *
 * In C:
 *
 * ```c
 * g_autoptr(GenChildSpec) spec = gen_child_spec_new ("worker", MY_TYPE_WORKER,
 *                                                    g_variant_new_int32 (0));
 *
 * gen_child_spec_set_restart (spec, GEN_CHILD_RESTART_TRANSIENT);
 * gen_child_spec_set_shutdown_timeout (spec, 1000);
 * gen_child_spec_set_name (spec, "worker");         // in the default registry
 * gen_child_spec_add_property (spec, "call-type", g_variant_new_string ("s"));
 * ```
 *
 * In Python:
 *
 * ```python
 * spec = Gen.ChildSpec.new('worker', Worker.__gtype__, GLib.Variant('i', 0))
 * spec.set_restart(Gen.ChildRestart.TRANSIENT)
 * spec.set_name('worker')
 * ```
 *
 * A nested supervisor is a child whose type is [class@Gen.Supervisor]:
 *
 * ```c
 * GenChildSpec *children[] = { left, right };
 * g_autoptr(GenChildSpec) pair = gen_child_spec_new ("pair", GEN_TYPE_SUPERVISOR,
 *                                                    gen_supervisor_build_args (children, 2));
 *
 * gen_child_spec_add_property (pair, "strategy", g_variant_new_string ("one-for-all"));
 * ```
 *
 * Since: 1.0
 */

struct _GenChildSpec
{
  gint ref_count;           /* atomic */
  gchar *id;                /* owned */
  GType type;
  GVariant *args;           /* owned, nullable */
  GVariant *properties;     /* owned: a{sv} */
  GenChildRestart restart;
  gint shutdown_ms;
  gchar *name;              /* owned, nullable */
  GenScheduler *scheduler;  /* owned, nullable */
  gboolean significant;
};

G_DEFINE_BOXED_TYPE (GenChildSpec, gen_child_spec, gen_child_spec_ref, gen_child_spec_unref)

/* In the variant form's properties: the id of the child's scheduler (t).
 * Not a property name: those have no dots. */
#define SCHEDULER_KEY "gen.scheduler"

/**
 * gen_child_spec_new:
 * @id: the child's id, unique among its supervisor's children
 * @server_type: the [class@Gen.Server] subclass to instantiate
 * @args: (nullable): the arguments for the child's `init`; a floating
 *   reference is sunk
 *
 * Creates a spec for a permanent child. Its shutdown timeout is 5000 ms, or
 * infinite (-1) for a [class@Gen.Supervisor], which needs the time to stop
 * its own children.
 *
 * Returns: (transfer full): a new spec
 *
 * ```c
 * g_autoptr(GenChildSpec) spec = gen_child_spec_new ("worker", MY_TYPE_WORKER, NULL);
 * ```
 *
 * ```python
 * spec = Gen.ChildSpec.new('worker', Worker.__gtype__, None)
 * ```
 *
 * Since: 1.0
 */
GenChildSpec *
gen_child_spec_new (const gchar *id,
                    GType        server_type,
                    GVariant    *args)
{
  GenChildSpec *self;

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (g_type_is_a (server_type, GEN_TYPE_SERVER), NULL);

  self = g_new0 (GenChildSpec, 1);
  self->ref_count = 1;
  self->id = g_strdup (id);
  self->type = server_type;
  self->args = args ? g_variant_ref_sink (args) : NULL;
  self->properties = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0));
  self->restart = GEN_CHILD_RESTART_PERMANENT;
  self->shutdown_ms = g_type_is_a (server_type, GEN_TYPE_SUPERVISOR) ? -1 : 5000;
  return self;
}

/**
 * gen_child_spec_new_from_variant:
 * @variant: a spec of type %GEN_CHILD_SPEC_VARIANT_TYPE
 *
 * Makes a spec from its variant form (see [method@Gen.ChildSpec.to_variant]).
 * Fails with %GEN_SERVER_ERROR_INVALID_MESSAGE if @variant has another type,
 * names a type that is not registered or not a [class@Gen.Server], an
 * unknown restart value, an empty id, a shutdown timeout below -1, or a
 * significant child that is permanent.
 *
 * Returns: (transfer full): the spec, or %NULL with @error set
 *
 * Since: 1.0
 */
GenChildSpec *
gen_child_spec_new_from_variant (GVariant  *variant,
                                 GError   **error)
{
  g_autoptr(GVariant) owned = NULL;
  g_autoptr(GVariant) properties = NULL;
  g_autoptr(GVariant) args = NULL;
  g_autoptr(GVariant) inner_args = NULL;
  g_autoptr(GenScheduler) scheduler = NULL;
  const gchar *id, *type_name, *name;
  guint64 scheduler_id;
  guint32 restart;
  gint32 shutdown_ms;
  gboolean significant;
  GenChildSpec *self;
  GType type;

  g_return_val_if_fail (variant != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  owned = g_variant_ref_sink (variant);
  if (!g_variant_is_of_type (owned, G_VARIANT_TYPE (GEN_CHILD_SPEC_VARIANT_TYPE)))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "A child spec is of type “%s”, got “%s”",
                   GEN_CHILD_SPEC_VARIANT_TYPE, g_variant_get_type_string (owned));
      return NULL;
    }

  g_variant_get (owned, "(&s&s@a{sv}m@vui&sb)", &id, &type_name, &properties,
                 &args, &restart, &shutdown_ms, &name, &significant);

  type = g_type_from_name (type_name);
  if (type == 0 || !g_type_is_a (type, GEN_TYPE_SERVER))
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "Child “%s”: “%s” is not the name of a GenServer type", id, type_name);
      return NULL;
    }
  if (restart > GEN_CHILD_RESTART_TEMPORARY)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "Child “%s”: %u is not a GenChildRestart", id, restart);
      return NULL;
    }
  if (*id == '\0')
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "A child of type %s has an empty id: an id names it in its supervisor",
                   type_name);
      return NULL;
    }
  if (significant && restart == GEN_CHILD_RESTART_PERMANENT)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "Child “%s”: a significant child is transient or temporary, "
                   "never permanent (its end is what a supervisor's auto-shutdown waits for)",
                   id);
      return NULL;
    }
  if (shutdown_ms < -1)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "Child “%s”: a shutdown timeout is -1 (infinity) or at least 0 ms, not %d",
                   id, shutdown_ms);
      return NULL;
    }

  if (args != NULL)
    inner_args = g_variant_get_variant (args);

  if (g_variant_lookup (properties, SCHEDULER_KEY, "t", &scheduler_id))
    {
      GVariantDict dict;

      scheduler = gen_scheduler_lookup (scheduler_id);
      if (scheduler == NULL)
        {
          g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                       "Child “%s”: its scheduler no longer exists", id);
          return NULL;
        }
      g_variant_dict_init (&dict, properties);
      g_variant_dict_remove (&dict, SCHEDULER_KEY);
      g_variant_unref (properties);
      properties = g_variant_ref_sink (g_variant_dict_end (&dict));
    }

  self = gen_child_spec_new (id, type, inner_args);
  g_variant_unref (self->properties);
  self->properties = g_variant_ref (properties);
  self->scheduler = g_steal_pointer (&scheduler);
  self->restart = restart;
  self->shutdown_ms = shutdown_ms;
  self->name = *name != '\0' ? g_strdup (name) : NULL;
  self->significant = significant;
  return self;
}

/**
 * gen_child_spec_ref:
 * @self: a #GenChildSpec
 *
 * Adds a reference.
 *
 * Returns: (transfer full): @self
 *
 * Since: 1.0
 */
GenChildSpec *
gen_child_spec_ref (GenChildSpec *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_int_inc (&self->ref_count);
  return self;
}

/**
 * gen_child_spec_unref:
 * @self: (transfer full): a #GenChildSpec
 *
 * Drops a reference.
 *
 * Since: 1.0
 */
void
gen_child_spec_unref (GenChildSpec *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;

  g_free (self->id);
  g_clear_pointer (&self->args, g_variant_unref);
  g_variant_unref (self->properties);
  g_free (self->name);
  g_clear_object (&self->scheduler);
  g_free (self);
}

/**
 * gen_child_spec_get_id:
 * @self: a #GenChildSpec
 *
 * Gets the child's id.
 *
 * Returns: the id
 *
 * Since: 1.0
 */
const gchar *
gen_child_spec_get_id (GenChildSpec *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->id;
}

/**
 * gen_child_spec_get_server_type:
 * @self: a #GenChildSpec
 *
 * Gets the type each start instantiates.
 *
 * Returns: a [class@Gen.Server] subclass
 *
 * Since: 1.0
 */
GType
gen_child_spec_get_server_type (GenChildSpec *self)
{
  g_return_val_if_fail (self != NULL, G_TYPE_INVALID);
  return self->type;
}

/**
 * gen_child_spec_get_args:
 * @self: a #GenChildSpec
 *
 * Gets the arguments each start gives the child's `init`.
 *
 * Returns: (nullable) (transfer none): the start arguments
 *
 * Since: 1.0
 */
GVariant *
gen_child_spec_get_args (GenChildSpec *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->args;
}

/**
 * gen_child_spec_add_property:
 * @self: a #GenChildSpec
 * @name: the name of a construct or writable property of the type
 * @value: its value; a floating reference is sunk
 *
 * Sets a property of every instance the spec creates. @value is converted
 * to the property's type: numbers between numeric types, a string to an
 * enumeration value by nick or name (`"one-for-all"`), a variant of any
 * type to a [struct@GLib.Variant] property.
 *
 * ```c
 * gen_child_spec_add_property (spec, "strategy", g_variant_new_string ("one-for-all"));
 * gen_child_spec_add_property (spec, "intensity", g_variant_new_uint32 (1));
 * ```
 *
 * ```python
 * spec.add_property('strategy', GLib.Variant('s', 'one-for-all'))
 * ```
 *
 * Since: 1.0
 */
void
gen_child_spec_add_property (GenChildSpec *self,
                             const gchar  *name,
                             GVariant     *value)
{
  g_autoptr(GVariantDict) dict = NULL;

  g_return_if_fail (self != NULL);
  g_return_if_fail (name != NULL);
  g_return_if_fail (value != NULL);

  dict = g_variant_dict_new (self->properties);
  g_variant_dict_insert_value (dict, name, value);
  g_variant_unref (self->properties);
  self->properties = g_variant_ref_sink (g_variant_dict_end (dict));
}

/**
 * gen_child_spec_set_scheduler:
 * @self: a #GenChildSpec
 * @scheduler: (nullable): the pool to run the child on, or %NULL for a
 *   thread of its own
 *
 * Sets the [property@Gen.Server:scheduler] of every instance of the child
 * the supervisor starts, first and restarted alike: a supervision tree of
 * thousands of children costs no thread each on a pool.
 *
 * ```c
 * gen_child_spec_set_scheduler (spec, gen_scheduler_get_default ());
 * ```
 *
 * Since: 1.0
 */
void
gen_child_spec_set_scheduler (GenChildSpec *self,
                              GenScheduler *scheduler)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (scheduler == NULL || GEN_IS_SCHEDULER (scheduler));

  g_set_object (&self->scheduler, scheduler);
}

/**
 * gen_child_spec_get_scheduler:
 * @self: a #GenChildSpec
 *
 * Gets the pool set with [method@Gen.ChildSpec.set_scheduler].
 *
 * Returns: (nullable) (transfer none): the child's scheduler
 *
 * Since: 1.0
 */
GenScheduler *
gen_child_spec_get_scheduler (GenChildSpec *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->scheduler;
}

/**
 * gen_child_spec_get_restart:
 * @self: a #GenChildSpec
 *
 * Gets when the child is restarted.
 *
 * Returns: the restart type
 *
 * Since: 1.0
 */
GenChildRestart
gen_child_spec_get_restart (GenChildSpec *self)
{
  g_return_val_if_fail (self != NULL, GEN_CHILD_RESTART_PERMANENT);
  return self->restart;
}

/**
 * gen_child_spec_set_restart:
 * @self: a #GenChildSpec
 * @restart: when the child is restarted
 *
 * Sets when the child is restarted; permanent by default.
 *
 * Since: 1.0
 */
void
gen_child_spec_set_restart (GenChildSpec    *self,
                            GenChildRestart  restart)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (restart <= GEN_CHILD_RESTART_TEMPORARY);
  self->restart = restart;
}

/**
 * gen_child_spec_get_shutdown_timeout:
 * @self: a #GenChildSpec
 *
 * Gets how long the supervisor waits for the child to stop.
 *
 * Returns: the timeout in milliseconds, or -1 for as long as it takes
 *
 * Since: 1.0
 */
gint
gen_child_spec_get_shutdown_timeout (GenChildSpec *self)
{
  g_return_val_if_fail (self != NULL, -1);
  return self->shutdown_ms;
}

/**
 * gen_child_spec_set_shutdown_timeout:
 * @self: a #GenChildSpec
 * @timeout_ms: milliseconds, or -1 for as long as it takes
 *
 * Sets how long the supervisor waits for the child to stop, with
 * [method@Gen.Server.stop]. A child still running then is reported with a
 * warning and left to stop on its own: a thread cannot be killed.
 *
 * Since: 1.0
 */
void
gen_child_spec_set_shutdown_timeout (GenChildSpec *self,
                                     gint          timeout_ms)
{
  g_return_if_fail (self != NULL);
  self->shutdown_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

/**
 * gen_child_spec_get_name:
 * @self: a #GenChildSpec
 *
 * Gets the name the child is registered under.
 *
 * Returns: (nullable): the name, or %NULL
 *
 * Since: 1.0
 */
const gchar *
gen_child_spec_get_name (GenChildSpec *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->name;
}

/**
 * gen_child_spec_set_name:
 * @self: a #GenChildSpec
 * @name: (nullable): a name, or %NULL for none
 *
 * Has the supervisor register every instance it starts under @name in the
 * default [class@Gen.Registry], right after its `init` succeeded. The name
 * is released when the instance stops and taken again by the restarted
 * one; in between, calls by name fail with %GEN_SERVER_ERROR_NOT_FOUND. A
 * start whose name is taken fails with %GEN_SERVER_ERROR_NAME_TAKEN.
 *
 * Since: 1.0
 */
void
gen_child_spec_set_name (GenChildSpec *self,
                         const gchar  *name)
{
  g_return_if_fail (self != NULL);
  g_free (self->name);
  self->name = g_strdup (name);
}

/**
 * gen_child_spec_get_significant:
 * @self: a #GenChildSpec
 *
 * Gets whether the child is significant; see
 * [method@Gen.ChildSpec.set_significant].
 *
 * Returns: %TRUE for a significant child
 *
 * Since: 1.0
 */
gboolean
gen_child_spec_get_significant (GenChildSpec *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->significant;
}

/**
 * gen_child_spec_set_significant:
 * @self: a #GenChildSpec
 * @significant: whether the child is significant
 *
 * Marks the child as significant, Erlang's `significant => true`: its end
 * (without a restart) can make its supervisor stop, as its
 * [property@Gen.Supervisor:auto-shutdown] says. A significant child is
 * transient or temporary: a supervisor refuses a permanent one, and one
 * whose auto-shutdown is %GEN_SUPERVISOR_AUTO_SHUTDOWN_NEVER refuses any.
 *
 * Since: 1.0
 */
void
gen_child_spec_set_significant (GenChildSpec *self,
                                gboolean      significant)
{
  g_return_if_fail (self != NULL);
  self->significant = !!significant;
}

/**
 * gen_child_spec_to_variant:
 * @self: a #GenChildSpec
 *
 * Converts the spec to a variant of type %GEN_CHILD_SPEC_VARIANT_TYPE; the
 * type is recorded by name.
 *
 * Returns: (transfer floating): the spec as a variant
 *
 * Since: 1.0
 */
GVariant *
gen_child_spec_to_variant (GenChildSpec *self)
{
  GVariant *properties = self->properties;

  g_return_val_if_fail (self != NULL, NULL);

  /* A scheduler is an object, so it travels as its pool's id. */
  if (self->scheduler != NULL)
    {
      GVariantDict dict;

      g_variant_dict_init (&dict, self->properties);
      g_variant_dict_insert (&dict, SCHEDULER_KEY, "t", gen_scheduler_get_id (self->scheduler));
      properties = g_variant_dict_end (&dict);
    }

  return g_variant_new ("(ss@a{sv}m@vuisb)",
                        self->id,
                        g_type_name (self->type),
                        properties,
                        self->args ? g_variant_new_variant (self->args) : NULL,
                        (guint32) self->restart,
                        (gint32) self->shutdown_ms,
                        self->name ? self->name : "",
                        self->significant);
}

static gboolean
value_from_variant (GParamSpec  *pspec,
                    GVariant    *variant,
                    GValue      *value,
                    GError     **error)
{
  g_auto(GValue) natural = G_VALUE_INIT;

  g_value_init (value, G_PARAM_SPEC_VALUE_TYPE (pspec));

  if (G_IS_PARAM_SPEC_VARIANT (pspec))
    {
      g_value_set_variant (value, variant);
      return TRUE;
    }

  if (G_IS_PARAM_SPEC_ENUM (pspec) && g_variant_is_of_type (variant, G_VARIANT_TYPE_STRING))
    {
      GEnumClass *enum_class = G_PARAM_SPEC_ENUM (pspec)->enum_class;
      const gchar *text = g_variant_get_string (variant, NULL);
      GEnumValue *enum_value = g_enum_get_value_by_nick (enum_class, text);

      if (enum_value == NULL)
        enum_value = g_enum_get_value_by_name (enum_class, text);
      if (enum_value != NULL)
        {
          g_value_set_enum (value, enum_value->value);
          return TRUE;
        }
    }
  else
    {
      g_dbus_gvariant_to_gvalue (variant, &natural);
      if (g_value_type_transformable (G_VALUE_TYPE (&natural), G_VALUE_TYPE (value)) &&
          g_value_transform (&natural, value))
        return TRUE;
    }

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "Property “%s” of type %s cannot be set from a “%s” value",
               pspec->name, g_type_name (G_PARAM_SPEC_VALUE_TYPE (pspec)),
               g_variant_get_type_string (variant));
  g_value_unset (value);
  return FALSE;
}

/* The spec's construct properties for its type, as names (unowned) and
 * values; FALSE with @error when one does not exist or does not fit. */
static gboolean
collect_properties (GenChildSpec  *self,
                    GObjectClass  *klass,
                    GPtrArray     *names,
                    GArray        *values,
                    GError       **error)
{
  GVariantIter iter;
  const gchar *name;
  GVariant *value;

  g_variant_iter_init (&iter, self->properties);
  while (g_variant_iter_loop (&iter, "{&sv}", &name, &value))
    {
      GParamSpec *pspec = g_object_class_find_property (klass, name);
      GValue converted = G_VALUE_INIT;

      if (pspec == NULL)
        {
          g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                       "Child “%s”: %s has no property “%s”",
                       self->id, g_type_name (self->type), name);
          g_variant_unref (value);
          return FALSE;
        }
      if (!value_from_variant (pspec, value, &converted, error))
        {
          g_variant_unref (value);
          return FALSE;
        }
      g_ptr_array_add (names, (gpointer) pspec->name);
      g_array_append_val (values, converted);
    }
  return TRUE;
}

static GArray *
values_new (void)
{
  GArray *values = g_array_new (FALSE, TRUE, sizeof (GValue));

  g_array_set_clear_func (values, (GDestroyNotify) g_value_unset);
  return values;
}

GenServer *
gen_child_spec_instantiate (GenChildSpec  *self,
                            GError       **error)
{
  g_autoptr(GTypeClass) klass = g_type_class_ref (self->type);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(GArray) values = values_new ();
  GObject *object;

  if (!collect_properties (self, G_OBJECT_CLASS (klass), names, values, error))
    return NULL;

  if (self->scheduler != NULL && g_object_class_find_property (G_OBJECT_CLASS (klass), "scheduler"))
    {
      GValue scheduler = G_VALUE_INIT;

      g_value_init (&scheduler, GEN_TYPE_SCHEDULER);
      g_value_set_object (&scheduler, self->scheduler);
      g_ptr_array_add (names, (gpointer) "scheduler");
      g_array_append_val (values, scheduler);
    }

  object = g_object_new_with_properties (self->type, names->len,
                                         (const gchar **) names->pdata,
                                         (const GValue *) values->data);
  return GEN_SERVER (object);
}

gboolean
gen_child_spec_check (GenChildSpec  *self,
                      GError       **error)
{
  g_autoptr(GenChildSpec) copy = NULL;
  g_autoptr(GTypeClass) klass = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(GArray) values = values_new ();

  /* The variant form is checked field by field when read back: the same
   * checks as for a spec that comes from a remote caller. */
  copy = gen_child_spec_new_from_variant (gen_child_spec_to_variant (self), error);
  if (copy == NULL)
    return FALSE;

  klass = g_type_class_ref (self->type);
  return collect_properties (self, G_OBJECT_CLASS (klass), names, values, error);
}
