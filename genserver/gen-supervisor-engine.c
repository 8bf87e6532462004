/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-child-spec-private.h"
#include "gen-core-private.h"
#include "gen-registry.h"
#include "gen-start.h"
#include "gen-supervisor-private.h"

/*
 * The restart engine: starting children in order, learning that one
 * stopped, restarting it (and, by the strategy, others) within the
 * intensity, and stopping them in reverse order. Everything here runs on
 * the supervisor's thread, one thing at a time, except the exit hook,
 * which runs on the stopping child's thread and only queues a notice.
 */

/* The info message a child's exit hook sends: tag, child id, generation,
 * reason (error domain, code, message) or nothing for a normal stop. */
#define EXIT_NOTICE_TAG "gen-supervisor.child-exit"
#define EXIT_NOTICE_TYPE "(sstm(sis))"
#define EXIT_NOTICE_FORMAT "(sstm@(sis))"

void
gen_supervisor_engine_child_free (gpointer data)
{
  GenSupervisorChild *child = data;

  g_assert (child->server == NULL);
  gen_child_spec_unref (child->spec);
  g_free (child);
}

GenSupervisorChild *
gen_supervisor_engine_find_child (GenSupervisor *self,
                                  const gchar   *id,
                                  guint         *index)
{
  for (guint i = 0; i < self->children->len; i++)
    {
      GenSupervisorChild *child = g_ptr_array_index (self->children, i);

      if (g_str_equal (gen_child_spec_get_id (child->spec), id))
        {
          if (index != NULL)
            *index = i;
          return child;
        }
    }
  return NULL;
}

gboolean
gen_supervisor_engine_child_is_supervisor (GenSupervisorChild *child)
{
  return g_type_is_a (gen_child_spec_get_server_type (child->spec), GEN_TYPE_SUPERVISOR);
}

/* Any thread: takes the lock. */
gchar **
gen_supervisor_engine_dup_child_ids (GenSupervisor *self)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  gchar **ids;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->children->len; i++)
    {
      GenSupervisorChild *child = g_ptr_array_index (self->children, i);

      g_strv_builder_add (builder, gen_child_spec_get_id (child->spec));
    }
  g_mutex_unlock (&self->lock);

  ids = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return ids;
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
set_child_server (GenSupervisor      *self,
                  GenSupervisorChild *child,
                  GenServer          *server)
{
  g_mutex_lock (&self->lock);
  child->server = server;
  g_mutex_unlock (&self->lock);
}

/* Starts a fresh instance of @child. Supervisor thread. */
gboolean
gen_supervisor_engine_start_child (GenSupervisor       *self,
                                   GenSupervisorChild  *child,
                                   GError             **error)
{
  GenChildSpec *spec = child->spec;
  g_autoptr(GenServer) server = NULL;
  g_autoptr(GError) local_error = NULL;
  ExitHook *hook;
  guint64 generation;
  guint watch_id;

  g_assert (child->server == NULL);

  server = gen_child_spec_instantiate (spec, error);
  if (server == NULL)
    return FALSE;

  hook = g_new0 (ExitHook, 1);
  hook->supervisor = g_object_ref (self);
  hook->id = g_strdup (gen_child_spec_get_id (spec));
  hook->generation = generation = ++self->last_generation;
  /* Armed before start, so that even a child that stops right after init
   * is seen, with its real reason. */
  watch_id = gen_monitor_watch (server, exit_hook_cb, hook, exit_hook_free,
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
                                  "GenSupervisorChild “%s” failed to start: ",
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
                                  "GenSupervisorChild “%s” failed to start: ",
                                  gen_child_spec_get_id (spec));
      return FALSE;
    }

  child->watch_id = watch_id;
  if (child->generation != 0)
    {
      g_autofree gchar *event = g_strdup_printf ("restarted child “%s”", gen_child_spec_get_id (spec));

      child->restarts++;
      gen_trace_lifecycle (GEN_SERVER (self), event, NULL);
    }
  child->generation = generation;
  set_child_server (self, child, g_steal_pointer (&server));
  return TRUE;
}

/* Stops @child, if it runs, within its shutdown timeout. Supervisor
 * thread. */
void
gen_supervisor_engine_stop_child (GenSupervisor      *self,
                                  GenSupervisorChild *child)
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
      !gen_server_wait_stopped (server, timeout_ms))
    g_warning ("%s: child “%s” did not stop within %d ms; it is left to stop on its own",
               G_OBJECT_TYPE_NAME (self), gen_child_spec_get_id (child->spec), timeout_ms);
}

static void
stop_children_from (GenSupervisor *self,
                    guint          first)
{
  for (guint i = self->children->len; i > first; i--)
    gen_supervisor_engine_stop_child (self, g_ptr_array_index (self->children, i - 1));
}

void
gen_supervisor_engine_remove_child_at (GenSupervisor *self,
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
      GenSupervisorChild *child = g_ptr_array_index (self->children, i);
      g_autoptr(GError) start_error = NULL;

      if (child->server != NULL)
        {
          i++;
          continue;
        }
      if (gen_child_spec_get_restart (child->spec) == GEN_CHILD_RESTART_TEMPORARY)
        {
          gen_supervisor_engine_remove_child_at (self, i);
          last--;
          continue;
        }
      if (gen_supervisor_engine_start_child (self, child, &start_error))
        {
          i++;
          continue;
        }

      /* Reported as a crash is: an expected event the supervisor deals
       * with (it counts the restart and tries again), as Erlang's
       * supervisor report is, not a warning that GTest makes fatal. */
      g_message ("%s: %s", G_OBJECT_TYPE_NAME (self), start_error->message);
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
        GenSupervisorChild *child = g_ptr_array_index (self->children, i);

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
  GenSupervisorChild *child = g_ptr_array_index (self->children, index);
  g_autoptr(GenServer) server = child->server;
  GenChildRestart restart = gen_child_spec_get_restart (child->spec);

  gboolean significant = gen_child_spec_get_significant (child->spec);

  child->watch_id = 0; /* the hook has run */
  set_child_server (self, child, NULL);

  if (restart == GEN_CHILD_RESTART_TEMPORARY)
    {
      gen_supervisor_engine_remove_child_at (self, index);
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
gboolean
gen_supervisor_engine_add_child (GenSupervisor  *self,
                                 GenChildSpec   *spec,
                                 GError        **error)
{
  GenSupervisorChild *child;

  if (gen_supervisor_engine_find_child (self, gen_child_spec_get_id (spec), NULL) != NULL)
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
                   "GenSupervisorChild “%s” is significant, but %s’s auto-shutdown is “never”",
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

  child = g_new0 (GenSupervisorChild, 1);
  child->spec = gen_child_spec_ref (spec);
  if (!gen_supervisor_engine_start_child (self, child, error))
    {
      gen_supervisor_engine_child_free (child);
      return FALSE;
    }

  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->children, child);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* simple_one_for_one ------------------------------------------------------ */

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
                   "GenSupervisorChild “%s”: extra arguments “%s” cannot be appended to the "
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

/* A simple_one_for_one child from the template, with an id of its own,
 * which is returned. */
gchar *
gen_supervisor_engine_add_template_child (GenSupervisor  *self,
                                          GVariant       *extra,
                                          GError        **error)
{
  g_autoptr(GVariant) spec_variant = NULL;
  g_autoptr(GVariant) spec_properties = NULL;
  g_autoptr(GVariant) template_args = NULL;
  g_autoptr(GVariant) inner_args = NULL;
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
  if (spec == NULL || !gen_supervisor_engine_add_child (self, spec, error))
    return NULL;
  return g_steal_pointer (&child_id);
}

/* The supervisor's run: begin, a child's end, and the end ----------------- */

/* The supervisor's init: its children from its start arguments, in order,
 * or simple_one_for_one's template. */
void
gen_supervisor_engine_start (GenSupervisor  *self,
                             GVariant       *args,
                             GError        **error)
{
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

      if (spec == NULL || !gen_supervisor_engine_add_child (self, spec, error))
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

/* The supervisor's handle_info: a child's exit notice, or nothing it
 * knows. Sets @error when the supervisor must give up. */
void
gen_supervisor_engine_handle_exit_notice (GenSupervisor  *self,
                                          GVariant       *message,
                                          GError        **error)
{
  const gchar *tag, *id;
  guint64 generation;
  gboolean has_reason;
  const gchar *domain = NULL, *text = NULL;
  gint32 code = 0;
  g_autoptr(GError) reason = NULL;
  GenSupervisorChild *child;
  guint index;

  if (!g_variant_is_of_type (message, G_VARIANT_TYPE (EXIT_NOTICE_TYPE)))
    return;
  g_variant_get (message, "(&s&stm(&si&s))", &tag, &id, &generation,
                 &has_reason, &domain, &code, &text);
  if (!g_str_equal (tag, EXIT_NOTICE_TAG))
    return;

  /* Only the current instance of a child that the supervisor did not stop
   * itself. */
  child = gen_supervisor_engine_find_child (self, id, &index);
  if (child == NULL || child->server == NULL || child->generation != generation)
    return;

  if (has_reason)
    reason = g_error_new_literal (g_quark_from_string (domain), code, text);

  child_exited (self, index, reason, error);
}

/* The supervisor's terminate: its children stop in reverse order. */
void
gen_supervisor_engine_stop (GenSupervisor *self)
{
  stop_children_from (self, 0);

  /* A supervisor started again begins from its start arguments. */
  g_mutex_lock (&self->lock);
  g_ptr_array_set_size (self->children, 0);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&self->template, gen_child_spec_unref);
}

