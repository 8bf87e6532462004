/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <genserver/genserver.h>

#include "test-common.h"

/* Stress at the edges: bounded mailboxes under many senders, and a D-Bus
 * flood from several peers against an exporting process.
 *
 * - /stress/mailbox/fail and /block: producers cast into a mailbox of
 *   capacity 8 as fast as they can. Under FAIL every cast is either handled
 *   or refused with MAILBOX_FULL, and the refusals are what
 *   gen_server_get_status() counts; under BLOCK every cast is handled.
 *   Each sender's casts are handled in the order sent.
 * - /stress/dbus/flood: a second process exports a server whose handler
 *   is held, on every connection of its GenDBusListener; four peers flood it with casts, calls and infos of 256 KiB.
 *   The exporter's peak RSS (VmHWM) must stay near the export's bound, not
 *   grow with what was sent; every call is answered; refused casts are
 *   visible to the peers; once the handler goes on, everything admitted
 *   is handled.
 *
 * `--scale N` multiplies the counts. Run as `test-stress-remote --serve
 * ADDRESS` it is the exporting process of the flood. */

#define CAPACITY 8
#define PRODUCERS 4
#define FLOOD_PEERS 4
#define FLOOD_MESSAGE_SIZE (256 * 1024)
#define FLOOD_PENDING_BYTES (8 * 1024 * 1024)
#define FLOOD_OBJECT_PATH "/io/github/genserver/Test/Sink"

static guint scale = 1;
static const gchar *self_path;

/* A sink: casts are (uu) sender and sequence number, checked for order;
 * "held" servers wait at the gate before the first message. */
struct _Sink
{
  GenServer parent_instance;

  TestGate gate;                   /* open: handlers go on */
  guint last[PRODUCERS + 1];       /* server thread: last sequence per sender */
  guint out_of_order;              /* server thread */
  guint handled;                   /* gate's lock: casts and infos handled */
};

G_DECLARE_FINAL_TYPE (Sink, sink, STRESS, SINK, GenServer)
G_DEFINE_TYPE (Sink, sink, GEN_TYPE_SERVER)

static void
sink_count (Sink *self)
{
  test_gate_pass (&self->gate);
  g_mutex_lock (&self->gate.lock);
  self->handled++;
  g_cond_broadcast (&self->gate.cond);
  g_mutex_unlock (&self->gate.lock);
}

static void
sink_handle_cast (GenServer  *server,
                  GVariant   *message,
                  GError    **error)
{
  Sink *self = STRESS_SINK (server);
  guint sender, seq;

  if (g_variant_is_of_type (message, G_VARIANT_TYPE ("(uu)")))
    {
      g_variant_get (message, "(uu)", &sender, &seq);
      if (sender <= PRODUCERS)
        {
          if (seq <= self->last[sender])
            self->out_of_order++;
          self->last[sender] = seq;
        }
    }
  sink_count (self);
}

static GVariant *
sink_handle_call (GenServer  *server,
                  GVariant   *message,
                  GError    **error)
{
  Sink *self = STRESS_SINK (server);

  test_gate_pass (&self->gate);
  return g_variant_new_uint32 (test_gate_get (&self->gate, &self->handled));
}

static void
sink_finalize (GObject *object)
{
  test_gate_clear (&STRESS_SINK (object)->gate);
  G_OBJECT_CLASS (sink_parent_class)->finalize (object);
}

static void
sink_class_init (SinkClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = sink_finalize;
  GEN_SERVER_CLASS (klass)->handle_cast = sink_handle_cast;
  GEN_SERVER_CLASS (klass)->handle_info = sink_handle_cast;
  GEN_SERVER_CLASS (klass)->handle_call = sink_handle_call;
}

static void
sink_init (Sink *self)
{
  test_gate_init (&self->gate);
  self->gate.open = TRUE;
}

/* Bounded mailboxes ------------------------------------------------------- */

typedef struct
{
  Sink *sink;
  guint sender;
  guint n_casts;
  guint accepted; /* the producer's own */
  guint refused;
  GError *unexpected;
} Producer;

static gpointer
producer_main (gpointer data)
{
  Producer *producer = data;

  for (guint seq = 1; seq <= producer->n_casts; seq++)
    {
      GError *error = NULL;

      if (gen_server_cast (GEN_SERVER (producer->sink),
                           g_variant_new ("(uu)", producer->sender, seq), &error))
        producer->accepted++;
      else if (g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL))
        {
          producer->refused++;
          g_error_free (error);
        }
      else
        {
          producer->unexpected = error;
          break;
        }
    }
  return NULL;
}

static void
stress_mailbox (GenMailboxPolicy policy)
{
  Sink *sink;
  Producer producers[PRODUCERS];
  GThread *threads[PRODUCERS];
  guint accepted = 0, refused = 0;
  g_autoptr(GVariant) status = NULL;
  guint64 casts_refused = 0;

  sink = test_start_ok (g_object_new (sink_get_type (), "mailbox-capacity", CAPACITY,
                                      "mailbox-policy", policy, NULL), NULL);
  for (guint i = 0; i < PRODUCERS; i++)
    {
      producers[i] = (Producer) { sink, i + 1, 20000 * scale, 0, 0, NULL };
      threads[i] = g_thread_new ("producer", producer_main, &producers[i]);
    }
  for (guint i = 0; i < PRODUCERS; i++)
    {
      g_thread_join (threads[i]);
      g_assert_no_error (producers[i].unexpected);
      g_assert_cmpuint (producers[i].accepted + producers[i].refused, ==, producers[i].n_casts);
      accepted += producers[i].accepted;
      refused += producers[i].refused;
    }

  /* stop() handles what was queued before it. */
  test_stop_ok (sink);
  g_assert_cmpuint (sink->handled, ==, accepted);
  g_assert_cmpuint (sink->out_of_order, ==, 0);
  status = gen_server_get_status (GEN_SERVER (sink));
  g_assert_true (g_variant_lookup (status, "casts-refused", "t", &casts_refused));
  g_assert_cmpuint (casts_refused, ==, refused);
  if (policy == GEN_MAILBOX_POLICY_BLOCK)
    g_assert_cmpuint (refused, ==, 0);
  g_test_message ("%u casts handled, %u refused", accepted, refused);
  g_object_unref (sink);
}

static void
test_mailbox_fail (void)
{
  stress_mailbox (GEN_MAILBOX_POLICY_FAIL);
}

static void
test_mailbox_block (void)
{
  stress_mailbox (GEN_MAILBOX_POLICY_BLOCK);
}

/* The D-Bus flood: the exporting process ------------------------------------ */

static void
serve_new_connection_cb (GenDBusListener *listener,
                         GDBusConnection *connection,
                         gpointer         data)
{
  g_autoptr(GError) error = NULL;

  if (!gen_server_export_with_limits (data, connection, FLOOD_OBJECT_PATH,
                                      2 * FLOOD_MESSAGE_SIZE, FLOOD_PENDING_BYTES,
                                      GEN_DBUS_DEFAULT_MAX_TIMEOUT, &error))
    g_error ("cannot export: %s", error->message);
}

/* A line "open" on stdin lets the handler go on; the end of stdin ends the
 * service. */
static gpointer
watch_stdin (gpointer data)
{
  Sink *sink = data;
  gchar buffer[64];

  while (fgets (buffer, sizeof buffer, stdin) != NULL)
    if (g_str_has_prefix (buffer, "open"))
      test_gate_open (&sink->gate);
  _exit (0);
  return NULL;
}

static int
serve (const gchar *address)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GenDBusListener) listener = NULL;
  g_autoptr(GError) error = NULL;
  Sink *sink;

  sink = test_start_ok (g_object_new (sink_get_type (), NULL), NULL);
  sink->gate.open = FALSE;
  listener = gen_dbus_listener_new (address, NULL, &error);
  if (listener == NULL)
    g_error ("cannot listen: %s", error->message);
  g_signal_connect (listener, "new-connection", G_CALLBACK (serve_new_connection_cb), sink);

  g_thread_unref (g_thread_new ("stdin", watch_stdin, sink));
  printf ("ready\n");
  fflush (stdout);
  g_main_loop_run (loop);
  return 0;
}

/* The D-Bus flood: the peers ------------------------------------------------ */

/* The peak resident memory of @pid, in KiB. */
static guint64
peak_rss_kib (const gchar *pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%s/status", pid);
  g_autofree gchar *contents = NULL;
  const gchar *line;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  line = strstr (contents, "VmHWM:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("VmHWM:"), NULL, 10);
}

typedef struct
{
  const gchar *address;
  guint n_messages;
  guint infos_admitted;
  guint infos_refused;
  guint calls_answered;
  guint calls_refused;
  GError *unexpected;
} Peer;

/* How many peers sent everything they had to send. */
static GMutex sent_lock;
static GCond sent_cond;
static guint peers_sent;

typedef struct
{
  Peer *peer;
  guint pending;
  GMainContext *context;
} CallsLeft;

static void
flood_call_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  CallsLeft *left = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = gen_remote_call_finish (GEN_REMOTE (source), result, &error);

  if (reply != NULL)
    left->peer->calls_answered++;
  else if (g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL))
    left->peer->calls_refused++;
  else if (left->peer->unexpected == NULL)
    left->peer->unexpected = g_steal_pointer (&error);
  left->pending--;
}

static gboolean
calls_answered (gpointer data)
{
  return ((CallsLeft *) data)->pending == 0;
}

static GVariant *
flood_message (guint seq)
{
  g_autofree guchar *bytes = g_malloc (FLOOD_MESSAGE_SIZE);

  memset (bytes, (int) seq, FLOOD_MESSAGE_SIZE);
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, FLOOD_MESSAGE_SIZE, 1);
}

static void
peer_send_info (Peer            *peer,
                GDBusConnection *connection,
                guint            seq)
{
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;

  reply = g_dbus_connection_call_sync (connection, NULL, FLOOD_OBJECT_PATH,
                                       GEN_DBUS_INTERFACE, "Info",
                                       g_variant_new ("(v)", flood_message (seq)),
                                       NULL, G_DBUS_CALL_FLAGS_NONE,
                                       TEST_CALL_TIMEOUT_MS, NULL, &error);
  if (reply != NULL)
    {
      peer->infos_admitted++;
      return;
    }
  g_dbus_error_strip_remote_error (error);
  if (g_error_matches (error, GEN_SERVER_ERROR, GEN_SERVER_ERROR_MAILBOX_FULL))
    {
      peer->infos_refused++;
      g_error_free (error);
    }
  else
    peer->unexpected = error;
}

static gpointer
peer_main (gpointer data)
{
  Peer *peer = data;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GenRemote) remote = NULL;
  CallsLeft left = { peer, 0, context };
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US * scale;
  GError *error = NULL;

  g_main_context_push_thread_default (context);
  connection = g_dbus_connection_new_for_address_sync (peer->address,
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                       NULL, NULL, &error);
  if (connection != NULL)
    remote = gen_remote_new_sync (connection, NULL, FLOOD_OBJECT_PATH, NULL, &error);
  if (remote == NULL)
    peer->unexpected = error;

  for (guint i = 0; remote != NULL && i < peer->n_messages && peer->unexpected == NULL; i++)
    {
      switch (i % 3)
        {
        case 0:
          if (!gen_remote_cast (remote, flood_message (i), &error))
            peer->unexpected = error;
          break;
        case 1:
          peer_send_info (peer, connection, i);
          break;
        default:
          left.pending++;
          gen_remote_call_async (remote, flood_message (i), TEST_CALL_TIMEOUT_MS * (gint) scale,
                                 NULL, flood_call_cb, &left);
          break;
        }
      while (g_main_context_iteration (context, FALSE))
        ;
    }

  g_mutex_lock (&sent_lock);
  peers_sent++;
  g_cond_broadcast (&sent_cond);
  g_mutex_unlock (&sent_lock);

  /* The calls admitted wait for the handler, which the test lets go on
   * once every peer has sent everything; those refused are back already. */
  if (!test_iterate_context_until_time (context, calls_answered, &left, deadline) &&
      peer->unexpected == NULL)
    peer->unexpected = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%u calls unanswered",
                                    left.pending);
  if (connection != NULL)
    g_dbus_connection_close_sync (connection, NULL, NULL);
  /* GDBus frees the remote's signal subscriptions on this context after
   * its last unref: iterate it once more before leaving it for good. */
  g_clear_object (&remote);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  return NULL;
}

static guint
remote_handled (GenRemote *remote)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = gen_remote_call (remote, g_variant_new_string ("count"),
                                               TEST_CALL_TIMEOUT_MS, &error);

  g_assert_no_error (error);
  return g_variant_get_uint32 (reply);
}

static guint64
remote_casts_refused (GDBusConnection *connection)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) value = NULL;

  reply = g_dbus_connection_call_sync (connection, NULL, FLOOD_OBJECT_PATH,
                                       "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", GEN_DBUS_INTERFACE, "CastsRefused"),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE,
                                       TEST_CALL_TIMEOUT_MS, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  return g_variant_get_uint64 (value);
}

static void
result_came_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static gboolean
result_came (gpointer data)
{
  return *(GAsyncResult **) data != NULL;
}

/* Iterates this thread's context until @result (given to result_came_cb)
 * came, failing the test with @what at the scaled deadline. */
static void
wait_for_result (GAsyncResult **result,
                 const gchar   *what)
{
  gint64 deadline = g_get_monotonic_time () + TEST_DEADLINE_US * scale;

  if (!test_iterate_context_until_time (NULL, result_came, result, deadline))
    g_error ("%s did not come within %d s", what,
             (int) (TEST_DEADLINE_US * scale / G_USEC_PER_SEC));
}

static void
test_dbus_flood (void)
{
  g_auto(TestSocketDir) socket_dir = test_socket_dir_make ("socket");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GAsyncResult) ready = NULL;
  g_autoptr(GAsyncResult) exited = NULL;
  g_autofree gchar *line = NULL;
  g_autofree gchar *asan_options = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GenRemote) remote = NULL;
  Peer peers[FLOOD_PEERS];
  GThread *threads[FLOOD_PEERS];
  guint64 rss_before, growth, sent_kib = 0;
  guint infos_admitted = 0, handled;
  gint64 deadline;
  const gchar *pid;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  /* Under AddressSanitizer, freed memory waits in a quarantine of 256 MiB
   * and counts as resident: the exporter's is emptied at once, so that its
   * RSS says what it holds. (Nothing without ASan.) */
  asan_options = g_strconcat (g_getenv ("ASAN_OPTIONS") ? g_getenv ("ASAN_OPTIONS") : "",
                              g_getenv ("ASAN_OPTIONS") ? ":" : "", "quarantine_size_mb=0", NULL);
  g_subprocess_launcher_setenv (launcher, "ASAN_OPTIONS", asan_options, TRUE);
  process = g_subprocess_launcher_spawn (launcher, &error, self_path, "--serve", socket_dir.address,
                                         NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  g_data_input_stream_read_line_async (out, G_PRIORITY_DEFAULT, NULL, result_came_cb, &ready);
  wait_for_result (&ready, "the exporter's ready");
  line = g_data_input_stream_read_line_finish_utf8 (out, ready, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (line, ==, "ready");
  pid = g_subprocess_get_identifier (process);

  connection = g_dbus_connection_new_for_address_sync (socket_dir.address,
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  remote = gen_remote_new_sync (connection, NULL, FLOOD_OBJECT_PATH, NULL, &error);
  g_assert_no_error (error);
  rss_before = peak_rss_kib (pid);

  peers_sent = 0;
  for (guint i = 0; i < FLOOD_PEERS; i++)
    {
      peers[i] = (Peer) { socket_dir.address, 120 * scale, 0, 0, 0, 0, NULL };
      sent_kib += (guint64) peers[i].n_messages * FLOOD_MESSAGE_SIZE / 1024;
      threads[i] = g_thread_new ("peer", peer_main, &peers[i]);
    }

  /* Everything is sent while the handler holds: the worst case. */
  deadline = g_get_monotonic_time () + TEST_DEADLINE_US * scale;
  g_mutex_lock (&sent_lock);
  while (peers_sent < FLOOD_PEERS)
    if (!g_cond_wait_until (&sent_cond, &sent_lock, deadline))
      g_error ("the peers did not send everything within %d s",
               (int) (TEST_DEADLINE_US * scale / G_USEC_PER_SEC));
  g_mutex_unlock (&sent_lock);
  growth = peak_rss_kib (pid) - rss_before;
  g_test_message ("exporter: peak RSS %" G_GUINT64_FORMAT " KiB before, +%" G_GUINT64_FORMAT
                  " KiB under a flood of %" G_GUINT64_FORMAT " KiB from %d peers (bound %d KiB each)",
                  rss_before, growth, sent_kib, FLOOD_PEERS, FLOOD_PENDING_BYTES / 1024);

  g_assert_true (g_output_stream_write_all (g_subprocess_get_stdin_pipe (process), "open\n", 5,
                                            NULL, NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < FLOOD_PEERS; i++)
    {
      g_thread_join (threads[i]);
      g_assert_no_error (peers[i].unexpected);
      g_assert_cmpuint (peers[i].infos_admitted + peers[i].infos_refused, ==,
                        peers[i].n_messages / 3);
      g_assert_cmpuint (peers[i].calls_answered + peers[i].calls_refused, ==,
                        peers[i].n_messages / 3);
      g_assert_cmpuint (peers[i].infos_refused, >, 0);
      infos_admitted += peers[i].infos_admitted;
    }

  /* The exporter held about its bounds, not what was sent: each peer's
   * connection may hold FLOOD_PENDING_BYTES, plus what GDBus reads and
   * copies on the way. */
  g_assert_cmpuint (growth, <, (guint64) FLOOD_PEERS * FLOOD_PENDING_BYTES / 1024 * 2);
  g_assert_cmpuint (growth, <, sent_kib / 2);

  /* Plain casts were refused too, and the peers can see it. */
  g_assert_cmpuint (remote_casts_refused (connection), >, 0);
  /* Everything admitted is handled (casts and infos; this call comes after
   * them from this peer only, hence the wait). */
  deadline = g_get_monotonic_time () + TEST_DEADLINE_US * scale;
  while ((handled = remote_handled (remote)) < infos_admitted)
    if (g_get_monotonic_time () > deadline)
      g_error ("%u of %u infos handled", handled, infos_admitted);

  g_dbus_connection_close_sync (connection, NULL, NULL);
  g_output_stream_close (g_subprocess_get_stdin_pipe (process), NULL, NULL);
  g_subprocess_wait_async (process, NULL, result_came_cb, &exited);
  wait_for_result (&exited, "the exporter's exit");
  g_subprocess_wait_finish (process, exited, &error);
  g_assert_no_error (error);
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 3 && g_str_equal (argv[1], "--serve"))
    return serve (argv[2]);

  self_path = argv[0];
  g_test_init (&argc, &argv, NULL);
  for (int i = 1; i < argc; i++)
    if (g_str_has_prefix (argv[i], "--scale="))
      scale = MAX (1, (guint) g_ascii_strtoull (argv[i] + strlen ("--scale="), NULL, 10));

  g_test_add_func ("/stress/mailbox/fail", test_mailbox_fail);
  g_test_add_func ("/stress/mailbox/block", test_mailbox_block);
  g_test_add_func ("/stress/dbus/flood", test_dbus_flood);

  return g_test_run ();
}
