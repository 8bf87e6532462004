/* SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Ten thousand counters on the default pool: no thread of their own, and
 * a call without a deadline runs right on the caller's thread.
 *
 *   cc pool.c $(pkg-config --cflags --libs genserver-1) -o pool
 */

#include <genserver/genserver.h>

#define N_COUNTERS 10000

#define POOL_TYPE_COUNTER (pool_counter_get_type ())
G_DECLARE_FINAL_TYPE (PoolCounter, pool_counter, POOL, COUNTER, GenServer)

struct _PoolCounter
{
  GenServer parent_instance;
  gint count; /* touched by one handler at a time, whichever thread runs it */
};

G_DEFINE_FINAL_TYPE (PoolCounter, pool_counter, GEN_TYPE_SERVER)

static void
pool_counter_handle_cast (GenServer  *server,
                          GVariant   *message,
                          GError    **error)
{
  POOL_COUNTER (server)->count += g_variant_get_int32 (message);
}

/* "count" answers the count, "thread" whether the handler runs on the
 * thread whose address is the argument. */
static GVariant *
pool_counter_handle_call (GenServer  *server,
                          GVariant   *message,
                          GError    **error)
{
  const gchar *what;
  guint64 thread;

  g_variant_get (message, "(&st)", &what, &thread);
  if (g_str_equal (what, "thread"))
    return g_variant_new_boolean (thread == (guint64) GPOINTER_TO_SIZE (g_thread_self ()));
  return g_variant_new_int32 (POOL_COUNTER (server)->count);
}

static void
pool_counter_class_init (PoolCounterClass *klass)
{
  GEN_SERVER_CLASS (klass)->handle_cast = pool_counter_handle_cast;
  GEN_SERVER_CLASS (klass)->handle_call = pool_counter_handle_call;
  gen_server_class_set_cast_type (GEN_SERVER_CLASS (klass), "i");
  gen_server_class_set_call_type (GEN_SERVER_CLASS (klass), "(st)");
}

static void
pool_counter_init (PoolCounter *self)
{
}

int
main (void)
{
  GenScheduler *pool = gen_scheduler_get_default ();
  g_autofree GenServer **counters = g_new (GenServer *, N_COUNTERS);
  guint64 self_thread = GPOINTER_TO_SIZE (g_thread_self ());
  g_autoptr(GVariant) here = NULL;
  gint64 total = 0;

  for (guint i = 0; i < N_COUNTERS; i++)
    {
      counters[i] = g_object_new (POOL_TYPE_COUNTER, "scheduler", pool, NULL);
      gen_server_start (counters[i], NULL, NULL);
    }

  for (guint i = 0; i < N_COUNTERS; i++)
    {
      gen_server_cast (counters[i], g_variant_new_int32 (1), NULL);
      gen_server_cast (counters[i], g_variant_new_int32 (1), NULL);
    }

  for (guint i = 0; i < N_COUNTERS; i++)
    {
      g_autoptr(GVariant) count = gen_server_call (counters[i], g_variant_new ("(st)", "count", self_thread),
                                                   GEN_SERVER_DEFAULT_TIMEOUT, NULL);
      total += g_variant_get_int32 (count);
    }
  g_print ("%d counters on the pool, total %" G_GINT64_FORMAT "\n", N_COUNTERS, total);

  /* No deadline: an idle pool server runs the handler on this thread. */
  here = gen_server_call (counters[0], g_variant_new ("(st)", "thread", self_thread), -1, NULL);
  g_print ("A call without a deadline ran on the caller's thread: %s\n",
           g_variant_get_boolean (here) ? "yes" : "no");

  for (guint i = 0; i < N_COUNTERS; i++)
    {
      gen_server_stop (counters[i], -1, NULL);
      g_object_unref (counters[i]);
    }
  g_print ("All stopped.\n");
  return 0;
}
