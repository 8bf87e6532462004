/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * What the observer costs a program: the list of live servers, kept from
 * each server's constructed to its finalize, and an observer exported and
 * polled by another connection. A and B interleaved, round after round,
 * medians reported, as run-comparison prints them ("observer" rows):
 *
 * - make_drop: servers made and dropped without starting, the list on or
 *   off: the hook's whole cost, with nothing else to hide it;
 * - spawn: servers made, started, stopped and dropped on the default pool
 *   (no thread to make, which would hide the rest), the list on or off;
 * - call_rtt: synchronous calls to a running server, with no observer, and
 *   with one exported and polled (ListServers and GetCounters) ten times a
 *   second over a unix socket while 100 other servers are alive.
 *
 * bench-observer [--quick]
 */

#include <stdio.h>
#include <string.h>

#include <genserver/genserver.h>

#include <glib/gstdio.h>

#include "genserver/gen-live-private.h"

#define BENCH_TYPE_ECHO (bench_echo_get_type ())
G_DECLARE_FINAL_TYPE (BenchEcho, bench_echo, BENCH, ECHO, GenServer)

struct _BenchEcho
{
  GenServer parent_instance;
};

G_DEFINE_FINAL_TYPE (BenchEcho, bench_echo, GEN_TYPE_SERVER)

static GVariant *
bench_echo_handle_call (GenServer  *server,
                        GVariant   *message,
                        GError    **error)
{
  return g_variant_ref (message);
}

static void
bench_echo_class_init (BenchEchoClass *klass)
{
  GEN_SERVER_CLASS (klass)->handle_call = bench_echo_handle_call;
}

static void
bench_echo_init (BenchEcho *self)
{
}

static gdouble
make_drop_rate (guint n)
{
  gint64 begin = g_get_monotonic_time ();

  for (guint i = 0; i < n; i++)
    g_object_unref (g_object_new (BENCH_TYPE_ECHO, NULL));
  return n * (gdouble) G_USEC_PER_SEC / (g_get_monotonic_time () - begin);
}

static gdouble
spawn_rate (guint n)
{
  gint64 begin = g_get_monotonic_time ();

  for (guint i = 0; i < n; i++)
    {
      GenServer *server = g_object_new (BENCH_TYPE_ECHO, "scheduler", gen_scheduler_get_default (), NULL);

      gen_server_start (server, NULL, NULL);
      gen_server_stop (server, -1, NULL);
      g_object_unref (server);
    }
  return n * (gdouble) G_USEC_PER_SEC / (g_get_monotonic_time () - begin);
}

/* Microseconds a call. */
static gdouble
call_rtt (GenServer *server,
          guint      n)
{
  g_autoptr(GVariant) message = g_variant_ref_sink (g_variant_new_int32 (7));
  gint64 begin = g_get_monotonic_time ();

  for (guint i = 0; i < n; i++)
    g_variant_unref (gen_server_call (server, message, -1, NULL));
  return (gdouble) (g_get_monotonic_time () - begin) / n;
}

/* Another connection that looks at the process ten times a second, as
 * genserver-observer does (once a second) or top with --interval 100. */
typedef struct
{
  gchar *address;
  gint stop;      /* atomic */
  guint polls;    /* the poller's thread */
} Poller;

static gpointer
poller_main (gpointer data)
{
  Poller *poller = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) connection =
    g_dbus_connection_new_for_address_sync (poller->address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                            NULL, NULL, &error);

  if (connection == NULL)
    g_error ("poller: %s", error->message);
  while (!g_atomic_int_get (&poller->stop))
    {
      g_autoptr(GVariant) list = NULL;
      g_autoptr(GVariant) counters = NULL;

      list = g_dbus_connection_call_sync (connection, NULL, GEN_OBSERVER_OBJECT_PATH, GEN_OBSERVER_INTERFACE,
                                          "ListServers", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
      counters = g_dbus_connection_call_sync (connection, NULL, GEN_OBSERVER_OBJECT_PATH, GEN_OBSERVER_INTERFACE,
                                              "GetCounters", NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
      g_assert_nonnull (list);
      g_assert_nonnull (counters);
      poller->polls++;
      g_usleep (100 * G_TIME_SPAN_MILLISECOND);
    }
  g_dbus_connection_close_sync (connection, NULL, NULL);
  return NULL;
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return (x > y) - (x < y);
}

static gdouble
median (GArray *samples)
{
  g_array_sort (samples, compare_doubles);
  return g_array_index (samples, gdouble, samples->len / 2);
}

static void
report (const gchar *metric,
        gdouble      value,
        const gchar *unit)
{
  printf ("observer %s %.3f %s\n", metric, value, unit);
}

int
main (int   argc,
      char *argv[])
{
  gboolean quick = argc > 1 && strcmp (argv[1], "--quick") == 0;
  guint rounds = quick ? 5 : 11;
  guint n_make = quick ? 20000 : 200000;
  guint n_spawn = quick ? 5000 : 50000;
  guint n_calls = quick ? 5000 : 50000;
  g_autoptr(GArray) make_on = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr(GArray) make_off = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr(GArray) spawn_on = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr(GArray) spawn_off = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr(GArray) rtt_plain = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autoptr(GArray) rtt_observed = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_autofree gchar *dir = g_dir_make_tmp ("bench-observer-XXXXXX", NULL);
  g_autofree gchar *path = g_build_filename (dir, "observer", NULL);
  g_autoptr(GenDBusListener) listener = NULL;
  g_autoptr(GPtrArray) others = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  GenServer *echo;
  Poller poller = { NULL, 0, 0 };
  GThread *poller_thread;
  gdouble value;

  /* A and B alternate in every round: drift of a shared machine hits both. */
  for (guint round = 0; round < rounds; round++)
    {
      gen_live_set_tracking (TRUE);
      value = make_drop_rate (n_make);
      g_array_append_val (make_on, value);
      value = spawn_rate (n_spawn);
      g_array_append_val (spawn_on, value);
      gen_live_set_tracking (FALSE);
      value = make_drop_rate (n_make);
      g_array_append_val (make_off, value);
      value = spawn_rate (n_spawn);
      g_array_append_val (spawn_off, value);
    }
  gen_live_set_tracking (TRUE);
  report ("make_drop_tracked", median (make_on), "servers/s");
  report ("make_drop_untracked", median (make_off), "servers/s");
  report ("make_drop_tracked_ratio", median (make_on) / median (make_off), "x");
  report ("spawn_tracked", median (spawn_on), "servers/s");
  report ("spawn_untracked", median (spawn_off), "servers/s");
  report ("spawn_tracked_ratio", median (spawn_on) / median (spawn_off), "x");

  for (guint i = 0; i < 100; i++)
    {
      GenServer *other = g_object_new (BENCH_TYPE_ECHO, NULL);

      gen_server_start (other, NULL, NULL);
      g_ptr_array_add (others, other);
    }
  echo = g_object_new (BENCH_TYPE_ECHO, NULL);
  gen_server_start (echo, NULL, NULL);
  listener = gen_observer_listen (path, &error);
  if (listener == NULL)
    g_error ("%s", error->message);
  poller.address = g_strconcat ("unix:path=", path, NULL);

  for (guint round = 0; round < rounds; round++)
    {
      value = call_rtt (echo, n_calls);
      g_array_append_val (rtt_plain, value);
      g_atomic_int_set (&poller.stop, FALSE);
      poller_thread = g_thread_new ("poller", poller_main, &poller);
      value = call_rtt (echo, n_calls);
      g_array_append_val (rtt_observed, value);
      g_atomic_int_set (&poller.stop, TRUE);
      g_thread_join (poller_thread);
    }
  report ("call_rtt_unobserved", median (rtt_plain), "us");
  report ("call_rtt_observed", median (rtt_observed), "us");
  report ("call_rtt_observed_ratio", median (rtt_observed) / median (rtt_plain), "x");
  g_printerr ("# bench-observer: %u rounds, %u polls while observed\n", rounds, poller.polls);

  gen_dbus_listener_close (listener);
  g_remove (path);
  g_rmdir (dir);
  g_free (poller.address);
  gen_server_stop (echo, -1, NULL);
  g_object_unref (echo);
  for (guint i = 0; i < others->len; i++)
    gen_server_stop (others->pdata[i], -1, NULL);
  return 0;
}
