/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"

/* Groups: membership, leaving on stop, abcast, multi_call, monitors. A
 * node answers a call with its tag (its start argument), holds the call
 * "hold" until it stops, and counts its casts. */

struct _TestNode
{
  GenServer parent_instance;

  gchar *tag;       /* server thread */
  GenReply *held;   /* owned, nullable; server thread */
  gint casts;       /* atomic */
};

G_DECLARE_FINAL_TYPE (TestNode, test_node, TEST, NODE, GenServer)
G_DEFINE_TYPE (TestNode, test_node, GEN_TYPE_SERVER)

static void
test_node_init_server (GenServer  *server,
                       GVariant   *args,
                       GError    **error)
{
  g_free (TEST_NODE (server)->tag);
  TEST_NODE (server)->tag = g_variant_dup_string (args, NULL);
}

static GVariant *
test_node_handle_call (GenServer  *server,
                       GVariant   *message,
                       GError    **error)
{
  TestNode *self = TEST_NODE (server);

  if (g_str_equal (g_variant_get_string (message, NULL), "hold"))
    {
      g_clear_object (&self->held);
      self->held = gen_server_take_reply (server);
      return NULL;
    }
  return g_variant_new_string (self->tag);
}

static void
test_node_handle_cast (GenServer  *server,
                       GVariant   *message,
                       GError    **error)
{
  g_atomic_int_inc (&TEST_NODE (server)->casts);
}

static void
test_node_terminate (GenServer    *server,
                     const GError *reason)
{
  TestNode *self = TEST_NODE (server);

  if (self->held != NULL)
    {
      g_autoptr(GError) error = g_error_new_literal (GEN_SERVER_ERROR, GEN_SERVER_ERROR_STOPPED, "bye");

      gen_reply_return_error (self->held, error);
      g_clear_object (&self->held);
    }
}

static void
test_node_finalize (GObject *object)
{
  g_free (TEST_NODE (object)->tag);
  G_OBJECT_CLASS (test_node_parent_class)->finalize (object);
}

static void
test_node_class_init (TestNodeClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_node_finalize;
  GEN_SERVER_CLASS (klass)->init = test_node_init_server;
  GEN_SERVER_CLASS (klass)->handle_call = test_node_handle_call;
  GEN_SERVER_CLASS (klass)->handle_cast = test_node_handle_cast;
  GEN_SERVER_CLASS (klass)->terminate = test_node_terminate;
}

static void
test_node_init (TestNode *self)
{
}

static TestNode *
node_start (const gchar *tag)
{
  return test_start_ok (g_object_new (test_node_get_type (), NULL), g_variant_new_string (tag));
}

static void
join_ok (GenGroup    *groups,
         const gchar *group,
         TestNode    *node)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_group_join (groups, group, GEN_SERVER (node), &error));
  g_assert_no_error (error);
}

/* The members' tags, comma-separated, in order. */
static gchar *
members_of (GenGroup    *groups,
            const gchar *group)
{
  g_autoptr(GPtrArray) members = gen_group_get_members (groups, group);
  GString *tags = g_string_new (NULL);

  for (guint i = 0; i < members->len; i++)
    g_string_append_printf (tags, "%s%s", i ? "," : "",
                            TEST_NODE (g_ptr_array_index (members, i))->tag);
  return g_string_free (tags, FALSE);
}

static void
assert_members (GenGroup    *groups,
                const gchar *group,
                const gchar *expected)
{
  g_autofree gchar *tags = members_of (groups, group);

  g_assert_cmpstr (tags, ==, expected);
}

/* Join, leave, list; a server leaves its groups when it stops. */
static void
test_group_membership (void)
{
  g_autoptr(GenGroup) groups = gen_group_new ();
  g_autoptr(TestNode) a = node_start ("a");
  g_autoptr(TestNode) b = node_start ("b");
  g_autoptr(TestNode) c = node_start ("c");
  g_autoptr(TestNode) idle = g_object_new (test_node_get_type (), NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;
  g_auto(GStrv) after = NULL;

  join_ok (groups, "g", a);
  join_ok (groups, "g", b);
  join_ok (groups, "g", a);   /* once */
  join_ok (groups, "h", c);
  join_ok (groups, "h", a);
  assert_members (groups, "g", "a,b");
  assert_members (groups, "h", "c,a");
  assert_members (groups, "nobody", "");
  names = gen_group_dup_groups (groups);
  g_assert_cmpstrv (names, ((const gchar *[]) { "g", "h", NULL }));

  g_assert_false (gen_group_join (groups, "g", GEN_SERVER (idle), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);

  g_assert_true (gen_group_leave (groups, "g", GEN_SERVER (b)));
  g_assert_false (gen_group_leave (groups, "g", GEN_SERVER (b)));
  assert_members (groups, "g", "a");
  g_assert_true (gen_server_is_running (GEN_SERVER (b)));

  /* Stopped: gone from every group, before stop returns. */
  test_stop_ok (a);
  assert_members (groups, "h", "c");
  after = gen_group_dup_groups (groups);
  g_assert_cmpstrv (after, ((const gchar *[]) { "h", NULL }));

  test_stop_ok (b);
  test_stop_ok (c);
}

/* abcast reaches every member; multi_call answers per member, in order,
 * with one deadline, abandoning the late ones. */
static void
test_group_cast_and_call (void)
{
  g_autoptr(GenGroup) groups = gen_group_new ();
  g_autoptr(TestNode) a = node_start ("a");
  g_autoptr(TestNode) b = node_start ("b");
  g_autoptr(GPtrArray) answers = NULL;
  g_autoptr(GPtrArray) partial = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) late = NULL;
  g_autoptr(GError) error = NULL;

  join_ok (groups, "g", a);
  join_ok (groups, "g", b);

  g_assert_cmpuint (gen_group_cast (groups, "g", g_variant_new_string ("x")), ==, 2);
  g_assert_cmpuint (gen_group_cast (groups, "nobody", g_variant_new_string ("x")), ==, 0);

  answers = gen_group_call (groups, "g", g_variant_new_string ("tag"), TEST_CALL_TIMEOUT_MS);
  g_assert_cmpuint (answers->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GVariant) tag = gen_request_wait (g_ptr_array_index (answers, i), 0, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (g_variant_get_string (tag, NULL), ==, i == 0 ? "a" : "b");
    }
  /* The casts came first, from this thread. */
  g_assert_cmpint (g_atomic_int_get (&a->casts), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&b->casts), ==, 1);

  /* b holds this call: a answers, b times out. */
  partial = gen_group_call (groups, "g", g_variant_new_string ("hold"), 0);
  g_assert_cmpuint (partial->len, ==, 2);
  late = gen_request_wait (g_ptr_array_index (partial, 1), 0, &error);
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_TIMEOUT);
  g_assert_null (late);
  g_clear_error (&error);

  test_stop_ok (a);
  test_stop_ok (b);
}

typedef struct
{
  GPtrArray *log;   /* gchar * (owned): "+tag@group" or "-tag@group" */
} Seen;

static void
on_change (GenGroup    *groups,
           const gchar *group,
           GenServer   *server,
           gboolean     joined,
           gpointer     user_data)
{
  Seen *seen = user_data;

  g_ptr_array_add (seen->log, g_strdup_printf ("%c%s@%s", joined ? '+' : '-',
                                               TEST_NODE (server)->tag, group));
}

static gchar *
seen_wait (Seen  *seen,
           guint  n)
{
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US;
  GString *joined = g_string_new (NULL);

  while (seen->log->len < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
    }
  for (guint i = 0; i < seen->log->len; i++)
    g_string_append_printf (joined, "%s%s", i ? "," : "", (gchar *) g_ptr_array_index (seen->log, i));
  return g_string_free (joined, FALSE);
}

/* Monitors hear every join and leave of their group (or of all), in
 * order, on their context, stops included; not after demonitor. */
static void
test_group_monitor (void)
{
  g_autoptr(GenGroup) groups = gen_group_new ();
  g_autoptr(TestNode) a = node_start ("a");
  g_autoptr(TestNode) b = node_start ("b");
  Seen of_g = { g_ptr_array_new_with_free_func (g_free) };
  Seen of_all = { g_ptr_array_new_with_free_func (g_free) };
  g_autofree gchar *seen_g = NULL;
  g_autofree gchar *seen_all = NULL;
  g_autofree gchar *seen_after = NULL;
  guint id_g = gen_group_monitor (groups, "g", on_change, &of_g, NULL);
  guint id_all = gen_group_monitor (groups, NULL, on_change, &of_all, NULL);

  join_ok (groups, "g", a);
  join_ok (groups, "h", b);
  join_ok (groups, "g", b);
  gen_group_leave (groups, "g", GEN_SERVER (a));
  test_stop_ok (b);

  seen_g = seen_wait (&of_g, 4);
  g_assert_cmpstr (seen_g, ==, "+a@g,+b@g,-a@g,-b@g");
  seen_all = seen_wait (&of_all, 6);
  /* One stop leaves its groups in no particular order. */
  g_assert_true (g_str_equal (seen_all, "+a@g,+b@h,+b@g,-a@g,-b@h,-b@g") ||
                 g_str_equal (seen_all, "+a@g,+b@h,+b@g,-a@g,-b@g,-b@h"));

  /* After demonitor, the other monitor's later notice comes alone. */
  g_assert_true (gen_group_demonitor (groups, id_g));
  g_assert_false (gen_group_demonitor (groups, id_g));
  join_ok (groups, "g", a);
  seen_after = seen_wait (&of_all, 7);
  g_assert_cmpuint (of_g.log->len, ==, 4);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (of_g.log->len, ==, 4);

  gen_group_demonitor (groups, id_all);
  test_stop_ok (a);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_ptr_array_unref (of_g.log);
  g_ptr_array_unref (of_all.log);
}

/* abcast and multi_call by registered name pattern. */
static void
test_registry_matching (void)
{
  g_autoptr(GenRegistry) registry = gen_registry_new ();
  g_autoptr(TestNode) a = node_start ("a");
  g_autoptr(TestNode) b = node_start ("b");
  g_autoptr(TestNode) other = node_start ("other");
  g_autoptr(GPtrArray) answers = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_registry_register (registry, "cache-b", GEN_SERVER (b), NULL));
  g_assert_true (gen_registry_register (registry, "cache-a", GEN_SERVER (a), NULL));
  g_assert_true (gen_registry_register (registry, "store", GEN_SERVER (other), NULL));

  g_assert_cmpuint (gen_registry_cast_matching (registry, "cache-*", g_variant_new_string ("x")), ==, 2);
  g_assert_cmpuint (gen_registry_cast_matching (registry, "none-*", g_variant_new_string ("x")), ==, 0);

  answers = gen_registry_call_matching (registry, "cache-?", g_variant_new_string ("tag"),
                                        TEST_CALL_TIMEOUT_MS);
  g_assert_cmpuint (answers->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      GenRequest *request = g_ptr_array_index (answers, i);
      g_autoptr(GVariant) tag = gen_request_wait (request, 0, &error);

      g_assert_no_error (error);
      /* In name order: cache-a, then cache-b. */
      g_assert_cmpstr (g_variant_get_string (tag, NULL), ==, i == 0 ? "a" : "b");
      g_assert_true (gen_request_get_server (request) == GEN_SERVER (i == 0 ? a : b));
    }
  g_assert_cmpint (g_atomic_int_get (&a->casts), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&other->casts), ==, 0);

  test_stop_ok (a);
  test_stop_ok (b);
  test_stop_ok (other);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/group/membership", test_group_membership);
  g_test_add_func ("/group/cast-and-call", test_group_cast_and_call);
  g_test_add_func ("/group/monitor", test_group_monitor);
  g_test_add_func ("/group/registry-matching", test_registry_matching);

  return g_test_run ();
}
