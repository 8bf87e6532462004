/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <genserver/genserver.h>

#include "test-common.h"

/* An echo server: answers a call with its message, counts casts and infos,
 * crashes on the cast "crash", registers itself from init when its start
 * argument is a name, and fails init when the name is "fail". */

struct _TestEcho
{
  GenServer parent_instance;

  gint casts; /* atomic */
  gint infos; /* atomic */
};

G_DECLARE_FINAL_TYPE (TestEcho, test_echo, TEST, ECHO, GenServer)
G_DEFINE_TYPE (TestEcho, test_echo, GEN_TYPE_SERVER)

static void
test_echo_init_server (GenServer  *server,
                       GVariant   *args,
                       GError    **error)
{
  const gchar *name;

  if (args == NULL)
    return;
  name = g_variant_get_string (args, NULL);
  if (!gen_registry_register (gen_registry_get_default (), name, server, error))
    return;
  if (g_str_equal (name, "fail"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "init failed on purpose");
}

static void
test_echo_handle_cast (GenServer  *server,
                       GVariant   *message,
                       GError    **error)
{
  g_atomic_int_inc (&TEST_ECHO (server)->casts);
  if (g_variant_is_of_type (message, G_VARIANT_TYPE_STRING) &&
      g_str_equal (g_variant_get_string (message, NULL), "crash"))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "crashed on purpose");
}

static void
test_echo_handle_info (GenServer  *server,
                       GVariant   *message,
                       GError    **error)
{
  g_atomic_int_inc (&TEST_ECHO (server)->infos);
}

static GVariant *
test_echo_handle_call (GenServer  *server,
                       GVariant   *message,
                       GError    **error)
{
  return g_variant_ref (message);
}

static void
test_echo_class_init (TestEchoClass *klass)
{
  GenServerClass *server_class = GEN_SERVER_CLASS (klass);

  server_class->init = test_echo_init_server;
  server_class->handle_cast = test_echo_handle_cast;
  server_class->handle_call = test_echo_handle_call;
  server_class->handle_info = test_echo_handle_info;
}

static void
test_echo_init (TestEcho *self)
{
}

static GenServer *
echo_start (const gchar *name)
{
  GenServer *server = g_object_new (test_echo_get_type (), NULL);
  g_autoptr(GError) error = NULL;

  gen_server_start (server, name ? g_variant_new_string (name) : NULL, &error);
  g_assert_no_error (error);
  return server;
}

static void
test_registry_register (void)
{
  g_autoptr(GenRegistry) registry = gen_registry_new ();
  g_autoptr(GenServer) first = echo_start (NULL);
  g_autoptr(GenServer) second = echo_start (NULL);
  g_autoptr(GenServer) found = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;

  g_assert_null (gen_registry_lookup (registry, "worker"));
  g_assert_true (gen_registry_register (registry, "worker", first, &error));
  g_assert_no_error (error);

  g_assert_false (gen_registry_register (registry, "worker", second, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NAME_TAKEN);
  g_assert_nonnull (strstr (error->message, "“worker”"));
  g_clear_error (&error);
  g_assert_false (gen_registry_register (registry, "worker", first, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NAME_TAKEN);
  g_clear_error (&error);

  /* A server may have several names; names are per registry. */
  g_assert_true (gen_registry_register (registry, "alias", first, NULL));
  g_assert_true (gen_registry_register (gen_registry_get_default (), "worker", second, NULL));

  found = gen_registry_lookup (registry, "worker");
  g_assert_true (found == first);
  g_clear_object (&found);
  found = gen_registry_lookup (gen_registry_get_default (), "worker");
  g_assert_true (found == second);
  g_clear_object (&found);

  names = gen_registry_dup_names (registry);
  g_assert_cmpstrv (names, ((const gchar *[]) { "alias", "worker", NULL }));

  g_assert_true (gen_registry_unregister (registry, "worker"));
  g_assert_false (gen_registry_unregister (registry, "worker"));
  g_assert_null (gen_registry_lookup (registry, "worker"));
  g_assert_true (gen_server_is_running (first));
  g_assert_true (gen_registry_register (registry, "worker", second, NULL));

  g_assert_true (gen_server_stop (first, -1, NULL));
  g_assert_true (gen_server_stop (second, -1, NULL));
  g_assert_null (gen_registry_lookup (registry, "alias"));
  g_assert_null (gen_registry_lookup (registry, "worker"));
  g_assert_null (gen_registry_lookup (gen_registry_get_default (), "worker"));
}

static void
test_registry_not_running (void)
{
  g_autoptr(GenRegistry) registry = gen_registry_new ();
  g_autoptr(GenServer) server = g_object_new (test_echo_get_type (), NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (gen_registry_register (registry, "idle", server, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_RUNNING);
  g_assert_null (gen_registry_lookup (registry, "idle"));
}

typedef struct
{
  GenRegistry *registry;
  const gchar *name;
} NameQuery;

static gboolean
name_is_free (gpointer data)
{
  NameQuery *query = data;
  g_autoptr(GenServer) server = gen_registry_lookup (query->registry, query->name);

  return server == NULL;
}

/* Released before stop() returns, and on a crash; a new server takes the
 * name again; the old registration's hook never removes the new one. */
static void
test_registry_released_on_stop (void)
{
  g_autoptr(GenRegistry) registry = gen_registry_new ();
  g_autoptr(GenServer) first = echo_start (NULL);
  g_autoptr(GenServer) second = NULL;
  g_autoptr(GenServer) third = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_registry_register (registry, "svc", first, NULL));
  g_assert_true (gen_server_stop (first, -1, NULL));
  g_assert_null (gen_registry_lookup (registry, "svc"));

  second = echo_start (NULL);
  g_assert_true (gen_registry_register (registry, "svc", second, NULL));
  g_test_expect_message ("Gen", G_LOG_LEVEL_MESSAGE, "*TestEcho crashed: crashed on purpose*");
  g_assert_true (gen_registry_cast (registry, "svc", g_variant_new_string ("crash"), NULL));
  test_wait_until (name_is_free, &(NameQuery) { registry, "svc" });
  g_test_assert_expected_messages ();

  /* Unregistered, then taken by another: the first one's stop leaves it. */
  g_assert_true (gen_server_start (first, NULL, NULL));
  third = echo_start (NULL);
  g_assert_true (gen_registry_register (registry, "svc", first, NULL));
  g_assert_true (gen_registry_unregister (registry, "svc"));
  g_assert_true (gen_registry_register (registry, "svc", third, NULL));
  g_assert_true (gen_server_stop (first, -1, NULL));
  {
    g_autoptr(GenServer) holder = gen_registry_lookup (registry, "svc");
    g_assert_true (holder == third);
  }
  g_assert_true (gen_server_stop (third, -1, &error));
  g_assert_no_error (error);
}

static void
test_registry_call_cast_by_name (void)
{
  g_autoptr(GenRegistry) registry = gen_registry_new ();
  g_autoptr(GenServer) server = echo_start (NULL);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (gen_registry_register (registry, "echo", server, NULL));
  g_assert_true (gen_registry_cast (registry, "echo", g_variant_new_int32 (1), &error));
  g_assert_no_error (error);
  g_assert_true (gen_registry_send_info (registry, "echo", g_variant_new_int32 (2), &error));
  g_assert_no_error (error);
  reply = gen_registry_call (registry, "echo", g_variant_new_string ("hello"),
                             TEST_CALL_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (reply, NULL), ==, "hello");
  /* The call came after the cast and the info from this thread. */
  g_assert_cmpint (g_atomic_int_get (&TEST_ECHO (server)->casts), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&TEST_ECHO (server)->infos), ==, 1);

  g_assert_null (gen_registry_call (registry, "nobody", g_variant_new_string ("hello"),
                                    TEST_CALL_TIMEOUT_MS, &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "“nobody”"));
  g_clear_error (&error);
  g_assert_false (gen_registry_cast (registry, "nobody", g_variant_new_int32 (1), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (gen_registry_send_info (registry, "nobody", g_variant_new_int32 (1), &error));
  g_assert_error (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (gen_server_stop (server, -1, NULL));
}

static void
test_registry_from_init (void)
{
  GenRegistry *registry = gen_registry_get_default ();
  g_autoptr(GenServer) server = echo_start ("self-named");
  g_autoptr(GenServer) found = gen_registry_lookup (registry, "self-named");
  g_autoptr(GenServer) failing = g_object_new (test_echo_get_type (), NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (found == server);
  g_assert_true (gen_server_stop (server, -1, NULL));
  g_assert_null (gen_registry_lookup (registry, "self-named"));

  /* init registered the name, then failed: released. */
  g_assert_false (gen_server_start (failing, g_variant_new_string ("fail"), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_null (gen_registry_lookup (registry, "fail"));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/registry/register", test_registry_register);
  g_test_add_func ("/registry/not-running", test_registry_not_running);
  g_test_add_func ("/registry/released-on-stop", test_registry_released_on_stop);
  g_test_add_func ("/registry/call-cast-by-name", test_registry_call_cast_by_name);
  g_test_add_func ("/registry/from-init", test_registry_from_init);

  return g_test_run ();
}
