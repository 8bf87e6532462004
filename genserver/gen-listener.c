/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <sys/socket.h>

#include "gen-listener-private.h"

/*
 * The peer-to-peer listener.
 *
 * GDBusServer runs the authentication of every accepted socket on a
 * thread of its own and gives it no deadline: a thousand half-open
 * connections hold a thousand threads for as long as their peers like.
 * This listener accepts on a GSocketService and makes each connection
 * as g_dbus_connection_new() would, after a TLS handshake when it serves
 * TLS, on a thread of the handshake's own (not GIO's shared pool, which
 * glib-networking's TLS handshake itself uses once the peer speaks), and
 * keeps the handshakes it runs under two bounds: how many may be in
 * progress (a connection past that is closed at once, before a byte is
 * read) and how long each may take (past that its socket is shut down,
 * which ends any read GIO or GDBus is blocked in). A peer that cannot
 * authenticate never reaches a D-Bus message: with TLS, the handshake
 * itself refuses a client without a certificate signed by the CA.
 *
 * Everything but the counters and the handshakes' threads runs on the
 * context the listener was made on, where GSocketService reports
 * connections and the handshakes' threads hand back their results.
 */

typedef struct _Handshake Handshake;

struct _GenListener
{
  gint ref_count; /* atomic */

  /* Immutable. */
  GMainContext *context;          /* owned until closed: see gen_listener_close() */
  GSocketService *service;        /* owned */
  gchar *address;                 /* owned */
  gchar *unix_path;               /* owned: removed on close; NULL if none */
  GTlsCertificate *certificate;   /* owned; NULL: no TLS */
  GTlsDatabase *database;         /* owned; NULL without TLS */
  GDBusAuthObserver *observer;    /* owned, nullable */
  gchar *guid;                    /* owned */
  GenListenerAcceptFunc func;
  gpointer user_data;

  /* The context's thread only. */
  GList *handshakes;              /* Handshake (owned) */
  gboolean closed;

  GMutex lock;
  guint max_handshakes;           /* lock */
  guint timeout_ms;               /* lock */
  guint in_progress;              /* lock */
  guint refused;                  /* lock */
  guint timed_out;                /* lock */
  guint accepted;                 /* lock */
};

/* One accepted socket on its way to a D-Bus connection. The listener's
 * context only (or, at the end, the thread that finalizes it: see
 * handshake_abandoned()). */
struct _Handshake
{
  GenListener *listener;     /* owned reference */
  GSocket *socket;           /* owned */
  GIOStream *stream;         /* owned: the socket connection, or TLS over it */
  GCancellable *cancellable; /* owned */
  GSource *deadline;         /* owned */
  gboolean timed_out;
};

/* One connection's way in on a thread of its own (gen_listener_handshake).
 * Set on the context before the thread starts; then the thread's until it
 * attaches its done source; then the context's, or that of the thread
 * that finalizes the context if the source never runs. */
typedef struct
{
  GIOStream *stream;            /* owned */
  GDBusConnection *connection;  /* owned: dropped at the hand-back unless `ok` */
  GCancellable *cancellable;    /* owned, nullable */
  GMainContext *context;        /* owned until the done source is attached */
  GenListenerHandshakeFunc func;
  gpointer user_data;           /* owned until `func` takes it */
  GDestroyNotify user_data_free; /* NULL once `func` took `user_data` */
  gboolean ok;
  GError *error;                /* owned */
} HandshakeJob;

static GenListener *
gen_listener_ref (GenListener *self)
{
  g_atomic_int_inc (&self->ref_count);
  return self;
}

static void
gen_listener_unref (GenListener *self)
{
  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;

  g_assert (self->handshakes == NULL);
  g_clear_object (&self->service);
  g_clear_object (&self->certificate);
  g_clear_object (&self->database);
  g_clear_object (&self->observer);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->address);
  g_free (self->unix_path);
  g_free (self->guid);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* Handshakes ------------------------------------------------------------- */

static void
handshake_free (Handshake *handshake)
{
  if (handshake->deadline != NULL)
    {
      g_source_destroy (handshake->deadline);
      g_source_unref (handshake->deadline);
    }
  g_clear_object (&handshake->stream);
  g_clear_object (&handshake->socket);
  g_clear_object (&handshake->cancellable);
  gen_listener_unref (handshake->listener);
  g_free (handshake);
}

/* shutdown(2) on the descriptor rather than g_socket_shutdown(): the latter
 * also writes GSocket's state bits, in the word that the thread using the
 * socket (GDBus's worker, a TLS handshake) reads them from without a lock.
 * The kernel call alone fails that thread's I/O, which then closes the
 * socket through GSocket on its own thread. */
void
gen_listener_shutdown_socket (GSocket *socket)
{
  g_return_if_fail (G_IS_SOCKET (socket));
  (void) shutdown (g_socket_get_fd (socket), SHUT_RDWR);
}

/* Ends @handshake's way in: a shut down socket makes every read or write
 * in progress on it fail at once, on whichever thread it blocks. */
static void
handshake_abort (Handshake *handshake)
{
  g_cancellable_cancel (handshake->cancellable);
  gen_listener_shutdown_socket (handshake->socket);
}

/* The end of @handshake, with the connection it made or NULL. */
static void
handshake_finish (Handshake       *handshake,
                  GDBusConnection *connection,
                  const GError    *error)
{
  GenListener *self = handshake->listener;
  gboolean deliver;

  self->handshakes = g_list_remove (self->handshakes, handshake);
  deliver = connection != NULL && !self->closed;

  g_mutex_lock (&self->lock);
  self->in_progress--;
  if (deliver)
    self->accepted++;
  else if (handshake->timed_out)
    self->timed_out++;
  else
    self->refused++;
  g_mutex_unlock (&self->lock);

  if (!deliver && error != NULL)
    g_debug ("genserver listener %s: a peer was refused: %s", self->address, error->message);

  if (deliver)
    self->func (self, connection, self->user_data);
  else if (connection != NULL)
    g_dbus_connection_close (connection, NULL, NULL, NULL);

  handshake_free (handshake);
}

static gboolean
handshake_deadline_cb (gpointer data)
{
  Handshake *handshake = data;

  handshake->timed_out = TRUE;
  handshake_abort (handshake);
  g_clear_pointer (&handshake->deadline, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* The way in, off GIO's pool ------------------------------------------- */

/* The done source's destroy notify. When its context was finalized
 * before it ran (its thread stopped iterating while the handshake went
 * on), this frees what `func` would have: the listener's Handshake, and
 * with it the listener's last reference, or a node's connect task. */
static void
handshake_job_free (gpointer data)
{
  HandshakeJob *job = data;

  if (job->user_data_free != NULL)
    job->user_data_free (job->user_data);
  g_clear_object (&job->stream);
  g_clear_object (&job->connection);
  g_clear_object (&job->cancellable);
  g_clear_pointer (&job->context, g_main_context_unref);
  g_clear_error (&job->error);
  g_free (job);
}

static gboolean
handshake_job_done_cb (gpointer data)
{
  HandshakeJob *job = data;

  job->user_data_free = NULL;
  job->func (job->ok ? job->connection : NULL, job->error, job->user_data);
  return G_SOURCE_REMOVE;
}

/* Once attached, the source holds the job, and the job no longer holds
 * the context: a context that its thread leaves without iterating it
 * again is finalized with the last reference, destroying the source,
 * whose notify frees the job. (Held by the job, the context, the source
 * and the job would keep each other for ever.) The job may be gone as
 * soon as the source is attached. */
static void
handshake_job_hand_back (HandshakeJob *job)
{
  GMainContext *context = g_steal_pointer (&job->context);
  GSource *source = g_idle_source_new ();

  /* Of no use now, and it holds the context it was made on (GDBus keeps
   * that of its construction), which would keep the job alive too. */
  if (!job->ok)
    g_clear_object (&job->connection);
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, handshake_job_done_cb, job, handshake_job_free);
  g_source_set_static_name (source, "[genserver] handshake done");
  g_source_attach (source, context);
  g_source_unref (source);
  g_main_context_unref (context);
}

/* A TLS server's client speaks first: waits on this thread until its
 * first bytes came (or the socket was shut down, or @cancellable
 * cancelled). glib-networking runs every handshake, the synchronous one
 * too, on GIO's shared task pool: begun at once, the handshake of a peer
 * that connects and says nothing would hold one of the pool's threads
 * until its deadline, and 32 of them delayed a no-op GTask by 0.6 s. A
 * peer that begins its handshake and then stalls still holds one, within
 * the listener's bound and deadline. */
static gboolean
wait_for_client_hello (GTlsConnection  *tls,
                       GCancellable    *cancellable,
                       GError         **error)
{
  g_autoptr(GIOStream) base = NULL;

  if (!G_IS_TLS_SERVER_CONNECTION (tls))
    return TRUE;
  g_object_get (tls, "base-io-stream", &base, NULL);
  if (!G_IS_SOCKET_CONNECTION (base))
    return TRUE;
  return g_socket_condition_wait (g_socket_connection_get_socket (G_SOCKET_CONNECTION (base)),
                                  G_IO_IN, cancellable, error);
}

/* g_dbus_connection_new() and g_tls_connection_handshake_async() would
 * each block a thread of GIO's shared task pool for as long as the peer
 * stays silent (up to the timeout): with the listener's default bound, 32
 * silent peers held all of it, and every g_task_run_in_thread() of the
 * process (file, resolver, TLS work) waited seconds for the pool to grow.
 * Here each way in holds a thread of its own (and a TLS handshake, once
 * the peer has begun it, one of the pool's too: see above). */
static gpointer
handshake_job_thread (gpointer data)
{
  HandshakeJob *job = data;

  job->ok = TRUE;
  if (G_IS_TLS_CONNECTION (job->stream))
    job->ok = wait_for_client_hello (G_TLS_CONNECTION (job->stream), job->cancellable,
                                     &job->error) &&
              g_tls_connection_handshake (G_TLS_CONNECTION (job->stream), job->cancellable,
                                          &job->error);
  if (job->ok)
    job->ok = g_initable_init (G_INITABLE (job->connection), job->cancellable, &job->error);
  handshake_job_hand_back (job);
  return NULL;
}

void
gen_listener_handshake (GIOStream                *stream,
                        const gchar              *guid,
                        GDBusConnectionFlags      flags,
                        GDBusAuthObserver        *observer,
                        GCancellable             *cancellable,
                        GMainContext             *context,
                        GenListenerHandshakeFunc  func,
                        gpointer                  user_data,
                        GDestroyNotify            user_data_free)
{
  HandshakeJob *job = g_new0 (HandshakeJob, 1);
  GThread *thread;

  job->stream = g_object_ref (stream);
  /* Made here, as g_dbus_connection_new() makes it: GDBus ties the
   * connection to this thread's default context. Only its
   * initialisation, which reads and writes the socket, runs on the
   * job's thread. */
  job->connection = g_object_new (G_TYPE_DBUS_CONNECTION,
                                  "stream", stream,
                                  "guid", guid,
                                  "flags", flags,
                                  "authentication-observer", observer,
                                  NULL);
  job->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  job->context = g_main_context_ref (context);
  job->func = func;
  job->user_data = user_data;
  job->user_data_free = user_data_free;

  thread = g_thread_try_new ("gen-handshake", handshake_job_thread, job, &job->error);
  if (thread == NULL)
    handshake_job_hand_back (job);
  else
    g_thread_unref (thread);
}

/* The listener's handshakes ------------------------------------------------ */

static void
handshake_done (GDBusConnection *connection,
                const GError    *error,
                gpointer         data)
{
  handshake_finish (data, connection, error);
}

/* The context was finalized with the handshake's result undelivered: as
 * at close, the result is dropped. That context's own thread is done
 * with the listener, which it closed to let the context go. */
static void
handshake_abandoned (gpointer data)
{
  Handshake *handshake = data;

  /* The context destroys the deadline itself. Destroyed here, while the
   * context is being finalized, it would only be marked destroyed, and
   * the context would never drop its own reference to it. */
  g_clear_pointer (&handshake->deadline, g_source_unref);
  handshake_finish (handshake, NULL, NULL);
}

static void
handshake_start (Handshake *handshake)
{
  GenListener *self = handshake->listener;
  GDBusConnectionFlags flags = G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER |
                               G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING;

  /* Over TLS the certificates authenticated both sides already; D-Bus
   * then has nothing to prove and takes ANONYMOUS, the one mechanism the
   * listener's observer allows there. */
  if (self->certificate != NULL)
    flags |= G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_ALLOW_ANONYMOUS;

  gen_listener_handshake (handshake->stream, self->guid, flags, self->observer,
                          handshake->cancellable, self->context, handshake_done, handshake,
                          handshake_abandoned);
}

/* GIO accepts a server's certificate that its database validates, but
 * leaves a client's to this signal, refused without a handler. It runs on
 * the handshake's thread. */
static gboolean
accept_client_certificate_cb (GTlsConnection       *connection,
                              GTlsCertificate      *certificate,
                              GTlsCertificateFlags  errors,
                              gpointer              data)
{
  return errors == 0;
}

static gboolean
listener_incoming_cb (GSocketService    *service,
                      GSocketConnection *connection,
                      GObject           *source_object,
                      gpointer           data)
{
  GenListener *self = data;
  g_autoptr(GError) error = NULL;
  Handshake *handshake;
  guint timeout_ms;
  gboolean admitted;

  if (self->closed)
    return TRUE;

  g_mutex_lock (&self->lock);
  admitted = self->in_progress < self->max_handshakes;
  if (admitted)
    self->in_progress++;
  else
    self->refused++;
  timeout_ms = self->timeout_ms;
  g_mutex_unlock (&self->lock);

  if (!admitted)
    {
      /* Closed before a byte is read: a flood costs a file descriptor
       * for as long as it takes to accept and close it. */
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }

  handshake = g_new0 (Handshake, 1);
  handshake->listener = gen_listener_ref (self);
  handshake->socket = g_object_ref (g_socket_connection_get_socket (connection));
  handshake->stream = G_IO_STREAM (g_object_ref (connection));
  handshake->cancellable = g_cancellable_new ();
  self->handshakes = g_list_prepend (self->handshakes, handshake);

  handshake->deadline = g_timeout_source_new (timeout_ms);
  g_source_set_callback (handshake->deadline, handshake_deadline_cb, handshake, NULL);
  g_source_set_static_name (handshake->deadline, "[genserver] handshake deadline");
  g_source_attach (handshake->deadline, self->context);

  if (self->certificate != NULL)
    {
      g_autoptr(GIOStream) tls = NULL;

      tls = g_tls_server_connection_new (handshake->stream, self->certificate, &error);
      if (tls == NULL)
        {
          handshake_finish (handshake, NULL, error);
          return TRUE;
        }
      g_object_set (tls, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED, NULL);
      g_tls_connection_set_database (G_TLS_CONNECTION (tls), self->database);
      g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_client_certificate_cb), NULL);
      g_set_object (&handshake->stream, tls);
    }

  handshake_start (handshake);
  return TRUE;
}

/* Addresses -------------------------------------------------------------- */

/* Reads `transport:key=value,...` as D-Bus addresses are written; values
 * may be %-escaped. NULL with G_IO_ERROR_INVALID_ARGUMENT if it is not
 * such an address. */
static GHashTable *
parse_address (const gchar  *address,
               gchar       **transport,
               GError      **error)
{
  g_autoptr(GHashTable) keys = NULL;
  g_auto(GStrv) pairs = NULL;
  const gchar *colon;

  colon = strchr (address, ':');
  if (colon == NULL || colon == address)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "“%s” is not an address of the form transport:key=value,…", address);
      return NULL;
    }

  keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  pairs = g_strsplit (colon + 1, ",", -1);
  for (guint i = 0; pairs[i] != NULL; i++)
    {
      const gchar *equals = strchr (pairs[i], '=');
      gchar *value;

      if (pairs[i][0] == '\0')
        continue;
      if (equals == NULL || equals == pairs[i] ||
          (value = g_uri_unescape_string (equals + 1, NULL)) == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "“%s” in the address “%s” is not a key=value pair", pairs[i], address);
          return NULL;
        }
      g_hash_table_replace (keys, g_strndup (pairs[i], equals - pairs[i]), value);
    }

  *transport = g_strndup (address, colon - address);
  return g_steal_pointer (&keys);
}

/* The socket address @address names: `unix:path=`, `unix:abstract=`, or
 * `tcp:host=,port=`. */
GSocketAddress *
gen_listener_parse_socket_address (const gchar  *address,
                                   gboolean     *is_unix,
                                   GError      **error)
{
  g_autoptr(GHashTable) keys = NULL;
  g_autofree gchar *transport = NULL;
  const gchar *value;

  keys = parse_address (address, &transport, error);
  if (keys == NULL)
    return NULL;

  if (g_str_equal (transport, "unix"))
    {
      *is_unix = TRUE;
      if ((value = g_hash_table_lookup (keys, "path")) != NULL)
        return g_unix_socket_address_new (value);
      if ((value = g_hash_table_lookup (keys, "abstract")) != NULL)
        return g_unix_socket_address_new_with_type (value, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "the unix address “%s” has neither path= nor abstract=", address);
      return NULL;
    }

  if (g_str_equal (transport, "tcp"))
    {
      const gchar *host = g_hash_table_lookup (keys, "host");
      const gchar *port = g_hash_table_lookup (keys, "port");
      guint64 port_number = 0;
      GSocketAddress *socket_address;

      *is_unix = FALSE;
      if (host == NULL || port == NULL ||
          !g_ascii_string_to_unsigned (port, 10, 0, 65535, &port_number, NULL))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "the tcp address “%s” needs host= (an IP address) and port= (0 to 65535)",
                       address);
          return NULL;
        }
      socket_address = g_inet_socket_address_new_from_string (host, (guint) port_number);
      if (socket_address == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "the host in “%s” is not an IP address", address);
      return socket_address;
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "the transport “%s” of “%s” is not one of unix and tcp", transport, address);
  return NULL;
}

static gchar *
format_socket_address (GSocketAddress *address)
{
  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
      g_autofree gchar *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      return g_strdup_printf ("tcp:host=%s,port=%u", host, g_inet_socket_address_get_port (inet));
    }
  else
    {
      GUnixSocketAddress *unix_address = G_UNIX_SOCKET_ADDRESS (address);
      g_autofree gchar *path = g_uri_escape_string (g_unix_socket_address_get_path (unix_address),
                                                    "/", FALSE);

      return g_strdup_printf (g_unix_socket_address_get_address_type (unix_address) ==
                              G_UNIX_SOCKET_ADDRESS_PATH ? "unix:path=%s" : "unix:abstract=%s",
                              path);
    }
}

/* The listener ----------------------------------------------------------- */

static gboolean
anonymous_only_cb (GDBusAuthObserver *observer,
                   const gchar       *mechanism,
                   gpointer           data)
{
  return g_str_equal (mechanism, "ANONYMOUS");
}

gboolean
gen_listener_check_tls_backend (GError **error)
{
  if (g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    return TRUE;

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "GIO has no TLS backend: install glib-networking (its GnuTLS or OpenSSL "
               "module) to use TLS nodes");
  return FALSE;
}

GenListener *
gen_listener_new (const gchar            *address,
                  GTlsCertificate        *certificate,
                  GTlsDatabase           *database,
                  GDBusAuthObserver      *observer,
                  GenListenerAcceptFunc   func,
                  gpointer                user_data,
                  GError                **error)
{
  g_autoptr(GSocketAddress) socket_address = NULL;
  g_autoptr(GSocketAddress) effective = NULL;
  GenListener *self;
  gboolean is_unix = FALSE;

  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (certificate == NULL || database != NULL, NULL);
  g_return_val_if_fail (certificate == NULL || observer == NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);

  if (certificate != NULL && !gen_listener_check_tls_backend (error))
    return NULL;

  socket_address = gen_listener_parse_socket_address (address, &is_unix, error);
  if (socket_address == NULL)
    return NULL;

  self = g_new0 (GenListener, 1);
  self->ref_count = 1;
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->certificate = certificate ? g_object_ref (certificate) : NULL;
  self->database = database ? g_object_ref (database) : NULL;
  if (observer != NULL)
    self->observer = g_object_ref (observer);
  else if (certificate != NULL)
    {
      self->observer = g_dbus_auth_observer_new ();
      g_signal_connect (self->observer, "allow-mechanism", G_CALLBACK (anonymous_only_cb), NULL);
    }
  self->guid = g_dbus_generate_guid ();
  self->func = func;
  self->user_data = user_data;
  self->max_handshakes = GEN_LISTENER_DEFAULT_MAX_HANDSHAKES;
  self->timeout_ms = GEN_LISTENER_DEFAULT_HANDSHAKE_TIMEOUT_MS;

  self->service = g_socket_service_new ();
  g_signal_connect (self->service, "incoming", G_CALLBACK (listener_incoming_cb), self);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), socket_address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                                      NULL, &effective, error))
    {
      g_socket_service_stop (self->service);
      gen_listener_unref (self);
      return NULL;
    }

  if (G_IS_UNIX_SOCKET_ADDRESS (effective) &&
      g_unix_socket_address_get_address_type (G_UNIX_SOCKET_ADDRESS (effective)) ==
      G_UNIX_SOCKET_ADDRESS_PATH)
    self->unix_path = g_strdup (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (effective)));
  self->address = format_socket_address (effective);
  g_socket_service_start (self->service);

  return self;
}

void
gen_listener_set_limits (GenListener *self,
                         guint        max_handshakes,
                         guint        timeout_ms)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (max_handshakes > 0);

  g_mutex_lock (&self->lock);
  self->max_handshakes = max_handshakes;
  self->timeout_ms = timeout_ms;
  g_mutex_unlock (&self->lock);
}

const gchar *
gen_listener_get_address (GenListener *self)
{
  return self->address;
}

void
gen_listener_get_counts (GenListener *self,
                         guint       *in_progress,
                         guint       *refused,
                         guint       *timed_out,
                         guint       *accepted)
{
  g_mutex_lock (&self->lock);
  if (in_progress != NULL)
    *in_progress = self->in_progress;
  if (refused != NULL)
    *refused = self->refused;
  if (timed_out != NULL)
    *timed_out = self->timed_out;
  if (accepted != NULL)
    *accepted = self->accepted;
  g_mutex_unlock (&self->lock);
}

void
gen_listener_close (GenListener *self)
{
  if (self == NULL)
    return;

  self->closed = TRUE;
  g_signal_handlers_disconnect_by_data (self->service, self);
  g_socket_service_stop (self->service);
  g_socket_listener_close (G_SOCKET_LISTENER (self->service));
  if (self->unix_path != NULL && g_unlink (self->unix_path) != 0 && errno != ENOENT)
    g_debug ("genserver listener: cannot remove %s: %s", self->unix_path, g_strerror (errno));

  /* The handshakes end through their callbacks, which see `closed`. */
  for (GList *l = self->handshakes; l != NULL; l = l->next)
    handshake_abort (l->data);

  /* Nothing is attached to the context from now on. Its thread may leave
   * it without iterating it again: handshakes still on their way hold the
   * listener, which must not hold the context, or neither would ever be
   * freed (see handshake_job_hand_back()). */
  g_clear_pointer (&self->context, g_main_context_unref);
  gen_listener_unref (self);
}
