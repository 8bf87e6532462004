/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-supervisor-private.h"

/*
 * The supervisor's commands: what other threads ask of the supervisor's
 * thread, which alone changes the children. Each command is a call
 * `("name", <argument>)`, so it can also come from a remote caller
 * (gen_server_export()); the table below holds each command's name, its
 * argument type and its handler once, and the public functions send it
 * by its index in the table.
 */

typedef enum
{
  COMMAND_START_CHILD,
  COMMAND_START_CHILD_WITH_ARGS,
  COMMAND_REMOVE_CHILD,
  COMMAND_TERMINATE_CHILD,
  COMMAND_TERMINATE_CHILD_SERVER,
  COMMAND_RESTART_CHILD,
  COMMAND_DELETE_CHILD,
  COMMAND_WHICH_CHILDREN,
  COMMAND_WHICH_CHILDREN_STATUS,
  COMMAND_COUNT_CHILDREN,
} Command;

/* On the supervisor's thread: the reply, or NULL with @error set. */
typedef GVariant *(*CommandHandler) (GenSupervisor  *self,
                                     GVariant       *arg,
                                     GError        **error);

static GenSupervisorChild *
lookup_child (GenSupervisor  *self,
              const gchar    *id,
              guint          *index,
              GError        **error)
{
  GenSupervisorChild *child = gen_supervisor_engine_find_child (self, id, index);

  if (child == NULL)
    g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND,
                 "%s has no child “%s”", G_OBJECT_TYPE_NAME (self), id);
  return child;
}

/* restart_child and delete_child act on a child that is not running, and
 * a simple_one_for_one supervisor keeps no such child: OTP answers them
 * {error, simple_one_for_one}. */
static GenSupervisorChild *
lookup_stopped_child (GenSupervisor  *self,
                      const gchar    *id,
                      guint          *index,
                      GError        **error)
{
  GenSupervisorChild *child;

  if (self->strategy == GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "%s is simple_one_for_one: its children are not restarted or "
                   "deleted by id; terminate them instead", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }

  child = lookup_child (self, id, index, error);

  if (child != NULL && child->server != NULL)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_ALREADY_RUNNING,
                   "%s’s child “%s” is running: terminate it first",
                   G_OBJECT_TYPE_NAME (self), id);
      return NULL;
    }
  return child;
}

static GVariant *
handle_start_child (GenSupervisor  *self,
                    GVariant       *arg,
                    GError        **error)
{
  g_autoptr(GenChildSpec) spec = NULL;

  if (self->strategy == GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE)
    {
      g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
                   "%s is simple_one_for_one: start its children with "
                   "gen_supervisor_start_child_with_args()", G_OBJECT_TYPE_NAME (self));
      return NULL;
    }

  spec = gen_child_spec_new_from_variant (arg, error);
  if (spec == NULL || !gen_supervisor_engine_add_child (self, spec, error))
    return NULL;
  return g_variant_new_boolean (TRUE);
}

static GVariant *
handle_start_child_with_args (GenSupervisor  *self,
                              GVariant       *arg,
                              GError        **error)
{
  g_autoptr(GVariant) box = g_variant_get_maybe (arg);
  g_autoptr(GVariant) extra = box != NULL ? g_variant_get_variant (box) : NULL;
  gchar *id = gen_supervisor_engine_add_template_child (self, extra, error);

  return id != NULL ? g_variant_new_take_string (id) : NULL;
}

static GVariant *
handle_remove_child (GenSupervisor  *self,
                     GVariant       *arg,
                     GError        **error)
{
  guint index;
  GenSupervisorChild *child = lookup_child (self, g_variant_get_string (arg, NULL), &index, error);

  if (child == NULL)
    return NULL;
  gen_supervisor_engine_stop_child (self, child);
  gen_supervisor_engine_remove_child_at (self, index);
  return g_variant_new_boolean (TRUE);
}

static GVariant *
terminate_child_at (GenSupervisor      *self,
                    GenSupervisorChild *child,
                    guint               index)
{
  gen_supervisor_engine_stop_child (self, child);
  /* A temporary child is never restarted: its spec goes with it; so does
   * a simple_one_for_one child's, made from the template. */
  if (gen_child_spec_get_restart (child->spec) == GEN_CHILD_RESTART_TEMPORARY ||
      self->strategy == GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE)
    gen_supervisor_engine_remove_child_at (self, index);
  return g_variant_new_boolean (TRUE);
}

/* Erlang's supervisor:terminate_child/2, by id. */
static GVariant *
handle_terminate_child (GenSupervisor  *self,
                        GVariant       *arg,
                        GError        **error)
{
  guint index;
  GenSupervisorChild *child = lookup_child (self, g_variant_get_string (arg, NULL), &index, error);

  return child != NULL ? terminate_child_at (self, child, index) : NULL;
}

/* supervisor:terminate_child/2 by pid, the way to name a
 * simple_one_for_one child: the argument is the server's address, only
 * ever compared with the children's, never followed. */
static GVariant *
handle_terminate_child_server (GenSupervisor  *self,
                               GVariant       *arg,
                               GError        **error)
{
  guintptr address = (guintptr) g_variant_get_uint64 (arg);

  for (guint i = 0; i < self->children->len; i++)
    {
      GenSupervisorChild *child = g_ptr_array_index (self->children, i);

      if (child->server != NULL && (guintptr) child->server == address)
        return terminate_child_at (self, child, i);
    }
  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND,
               "%s has no running child of that instance", G_OBJECT_TYPE_NAME (self));
  return NULL;
}

/* Erlang's supervisor:restart_child/2. */
static GVariant *
handle_restart_child (GenSupervisor  *self,
                      GVariant       *arg,
                      GError        **error)
{
  GenSupervisorChild *child = lookup_stopped_child (self, g_variant_get_string (arg, NULL),
                                                    NULL, error);

  if (child == NULL || !gen_supervisor_engine_start_child (self, child, error))
    return NULL;
  return g_variant_new_boolean (TRUE);
}

/* Erlang's supervisor:delete_child/2. */
static GVariant *
handle_delete_child (GenSupervisor  *self,
                     GVariant       *arg,
                     GError        **error)
{
  guint index;
  GenSupervisorChild *child = lookup_stopped_child (self, g_variant_get_string (arg, NULL),
                                                    &index, error);

  if (child == NULL)
    return NULL;
  gen_supervisor_engine_remove_child_at (self, index);
  return g_variant_new_boolean (TRUE);
}

static GVariant *
handle_which_children (GenSupervisor  *self,
                       GVariant       *arg,
                       GError        **error)
{
  g_auto(GStrv) ids = gen_supervisor_engine_dup_child_ids (self);

  return g_variant_new_strv ((const gchar * const *) ids, -1);
}

static GVariant *
handle_which_children_status (GenSupervisor  *self,
                              GVariant       *arg,
                              GError        **error)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(sss)"));
  for (guint i = 0; i < self->children->len; i++)
    {
      GenSupervisorChild *child = g_ptr_array_index (self->children, i);

      g_variant_builder_add (&builder, "(sss)", gen_child_spec_get_id (child->spec),
                             gen_supervisor_engine_child_is_supervisor (child) ?
                             "supervisor" : "worker",
                             child->server != NULL ? "running" : "stopped");
    }
  return g_variant_builder_end (&builder);
}

static GVariant *
handle_count_children (GenSupervisor  *self,
                       GVariant       *arg,
                       GError        **error)
{
  GVariantBuilder builder;
  guint active = 0;
  guint supervisors = 0;

  for (guint i = 0; i < self->children->len; i++)
    {
      GenSupervisorChild *child = g_ptr_array_index (self->children, i);

      if (child->server != NULL)
        active++;
      if (gen_supervisor_engine_child_is_supervisor (child))
        supervisors++;
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{su}"));
  /* simple_one_for_one has one spec, its template, however many children
   * it made from it, as in OTP. */
  g_variant_builder_add (&builder, "{su}", "specs",
                         self->strategy == GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE ?
                         1 : self->children->len);
  g_variant_builder_add (&builder, "{su}", "active", active);
  g_variant_builder_add (&builder, "{su}", "supervisors", supervisors);
  g_variant_builder_add (&builder, "{su}", "workers", self->children->len - supervisors);
  return g_variant_builder_end (&builder);
}

static const struct
{
  const gchar *name;
  const gchar *arg_type;  /* NULL: any */
  CommandHandler handle;
} commands[] = {
  [COMMAND_START_CHILD] = { "start-child", NULL, handle_start_child },
  [COMMAND_START_CHILD_WITH_ARGS] = { "start-child-with-args", "mv", handle_start_child_with_args },
  [COMMAND_REMOVE_CHILD] = { "remove-child", "s", handle_remove_child },
  [COMMAND_TERMINATE_CHILD] = { "terminate-child", "s", handle_terminate_child },
  [COMMAND_TERMINATE_CHILD_SERVER] = { "terminate-child-server", "t", handle_terminate_child_server },
  [COMMAND_RESTART_CHILD] = { "restart-child", "s", handle_restart_child },
  [COMMAND_DELETE_CHILD] = { "delete-child", "s", handle_delete_child },
  [COMMAND_WHICH_CHILDREN] = { "which-children", NULL, handle_which_children },
  [COMMAND_WHICH_CHILDREN_STATUS] = { "which-children-status", NULL, handle_which_children_status },
  [COMMAND_COUNT_CHILDREN] = { "count-children", NULL, handle_count_children },
};

GVariant *
gen_supervisor_commands_handle_call (GenSupervisor  *self,
                                     GVariant       *message,
                                     GError        **error)
{
  const gchar *name;
  g_autoptr(GVariant) arg = NULL;

  if (g_variant_is_of_type (message, G_VARIANT_TYPE ("(sv)")))
    {
      g_variant_get (message, "(&sv)", &name, &arg);
      for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
        if (g_str_equal (name, commands[i].name) &&
            (commands[i].arg_type == NULL ||
             g_variant_is_of_type (arg, G_VARIANT_TYPE (commands[i].arg_type))))
          return commands[i].handle (self, arg, error);
    }

  g_set_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_INVALID_MESSAGE,
               "%s does not understand the call %s",
               G_OBJECT_TYPE_NAME (self), g_variant_get_type_string (message));
  return NULL;
}

/* From any thread but the supervisor's: the command's reply. @arg (a
 * floating reference is sunk) is NULL for a command that takes none. */
static GVariant *
command_call (GenSupervisor  *self,
              Command         command,
              GVariant       *arg,
              GError        **error)
{
  return gen_server_call (GEN_SERVER (self),
                          g_variant_new ("(sv)", commands[command].name,
                                         arg != NULL ? arg : g_variant_new_string ("")),
                          -1, error);
}

static gboolean
command_call_id (GenSupervisor  *self,
                 Command         command,
                 const gchar    *id,
                 GError        **error)
{
  g_autoptr(GVariant) reply = command_call (self, command, g_variant_new_string (id), error);

  return reply != NULL;
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

  reply = command_call (self, COMMAND_START_CHILD, gen_child_spec_to_variant (spec), error);
  return reply != NULL;
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
  reply = command_call (self, COMMAND_START_CHILD_WITH_ARGS, maybe, error);
  return reply != NULL ? g_variant_dup_string (reply, NULL) : NULL;
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
  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return command_call_id (self, COMMAND_REMOVE_CHILD, id, error);
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

  return command_call_id (self, COMMAND_TERMINATE_CHILD, id, error);
}

/**
 * gen_supervisor_terminate_child_server:
 * @self: a #GenSupervisor
 * @child: a running child of @self
 * @error: return location for an error
 *
 * Stops a child named by its running instance rather than its id, as
 * Erlang's `supervisor:terminate_child/2` given a pid: the way to stop one
 * child of a %GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE supervisor,
 * whose spec then goes with it. Otherwise as
 * [method@Gen.Supervisor.terminate_child]. Fails with
 * %GEN_SERVER_ERROR_NOT_FOUND if @child is not a running child of @self
 * (it stopped, or was restarted as another instance), or as
 * [method@Gen.Server.call] fails.
 *
 * ```c
 * g_autofree gchar *id = gen_supervisor_start_child_with_args (pool, NULL, &error);
 * g_autoptr(GenServer) conn = gen_supervisor_get_child (pool, id);
 *
 * gen_supervisor_terminate_child_server (pool, conn, &error);
 * ```
 *
 * Returns: %TRUE if the child is stopped
 *
 * Since: 1.2
 */
gboolean
gen_supervisor_terminate_child_server (GenSupervisor  *self,
                                       GenServer      *child,
                                       GError        **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (GEN_IS_SUPERVISOR (self), FALSE);
  g_return_val_if_fail (GEN_IS_SERVER (child), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* @child stays alive while the caller holds it, so its address names
   * no other server meanwhile. */
  reply = command_call (self, COMMAND_TERMINATE_CHILD_SERVER,
                        g_variant_new_uint64 ((guint64) (guintptr) child), error);
  return reply != NULL;
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
 * %GEN_SERVER_ERROR_INVALID_MESSAGE on a
 * %GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE supervisor (OTP's
 * `{error, simple_one_for_one}`), %GEN_SERVER_ERROR_NOT_FOUND if there is
 * no such child,
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

  return command_call_id (self, COMMAND_RESTART_CHILD, id, error);
}

/**
 * gen_supervisor_delete_child:
 * @self: a #GenSupervisor
 * @id: the id of a child that is not running
 *
 * Forgets the spec of a child that is not running: Erlang's
 * `supervisor:delete_child/2`. Fails with
 * %GEN_SERVER_ERROR_INVALID_MESSAGE on a
 * %GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE supervisor (OTP's
 * `{error, simple_one_for_one}`: terminating such a child forgets it),
 * %GEN_SERVER_ERROR_NOT_FOUND if there is no such child, %GEN_SERVER_ERROR_ALREADY_RUNNING if it runs
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

  return command_call_id (self, COMMAND_DELETE_CHILD, id, error);
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

  reply = command_call (self, COMMAND_WHICH_CHILDREN, NULL, error);
  return reply ? g_variant_dup_strv (reply, NULL) : NULL;
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

  return command_call (self, COMMAND_WHICH_CHILDREN_STATUS, NULL, error);
}

/**
 * gen_supervisor_count_children:
 * @self: a #GenSupervisor
 * @error: return location for an error
 *
 * Counts the supervisor's children, asked of its thread, as Erlang's
 * `supervisor:count_children/1`: an `a{su}` dictionary, `specs` (all
 * children, running or not; always 1, the template, for a
 * %GEN_SUPERVISOR_STRATEGY_SIMPLE_ONE_FOR_ONE supervisor), `active`
 * (running), `supervisors` and `workers` (children whose type is, or is
 * not, a [class@Gen.Supervisor], running or not). Before 1.2 it was an
 * `a{sv}` of `u` values; g_variant_lookup() with `"u"` reads both.
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

  return command_call (self, COMMAND_COUNT_CHILDREN, NULL, error);
}
