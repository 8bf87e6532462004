/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A peer-to-peer D-Bus listener of our own, in place of GDBusServer: a
 * GSocketService that brings each accepted socket through an optional TLS
 * handshake and the D-Bus authentication, with a bound on the handshakes
 * in progress and a deadline for each, so that peers which never finish
 * cannot hold threads or memory. Used by GenNode (TLS over TCP, unix
 * sockets) and by anyone serving exported servers peer-to-peer. */

typedef struct _GenListener GenListener;

/* Called on the listener's context with each connection that passed the
 * handshakes. The connection was made with
 * G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING: export what it should
 * reach, then g_dbus_connection_start_message_processing(). */
typedef void (*GenListenerAcceptFunc) (GenListener     *listener,
                                       GDBusConnection *connection,
                                       gpointer         user_data);

#define GEN_LISTENER_DEFAULT_MAX_HANDSHAKES 32
#define GEN_LISTENER_DEFAULT_HANDSHAKE_TIMEOUT_MS 5000

/* Listens on @address: `unix:path=…`, `unix:abstract=…` or
 * `tcp:host=…,port=…` (port 0 picks one). With @certificate, every
 * connection is a GTlsServerConnection that requires a client certificate
 * checked against @database, and D-Bus authenticates it as ANONYMOUS (TLS
 * did the authentication); @observer must then be NULL. Without it,
 * @observer (nullable) admits peers as a GDBusServer's would. Accepted
 * connections are handed to @func on the thread-default main context of
 * the caller. */
GenListener  *gen_listener_new                (const gchar            *address,
                                               GTlsCertificate        *certificate,
                                               GTlsDatabase           *database,
                                               GDBusAuthObserver      *observer,
                                               GenListenerAcceptFunc   func,
                                               gpointer                user_data,
                                               GError                **error);

/* At most @max_handshakes in progress (more are closed at once), each
 * given @timeout_ms to finish. Any thread. */
void          gen_listener_set_limits         (GenListener            *self,
                                               guint                   max_handshakes,
                                               guint                   timeout_ms);

/* The address peers connect to, with the port picked if it was 0. */
const gchar  *gen_listener_get_address        (GenListener            *self);

/* Counters, any thread: handshakes in progress now, connections refused
 * (over the bound, failed TLS or D-Bus authentication), handshakes that
 * ran out of time, connections accepted. */
void          gen_listener_get_counts         (GenListener            *self,
                                               guint                  *in_progress,
                                               guint                  *refused,
                                               guint                  *timed_out,
                                               guint                  *accepted);

/* Stops accepting and abandons the handshakes in progress; @func is not
 * called any more. Then drops the caller's reference. On the listener's
 * context. */
void          gen_listener_close              (GenListener            *self);

/* The socket address of @address (`unix:path=…`, `unix:abstract=…`,
 * `tcp:host=…,port=…`); @is_unix says which kind. */
GSocketAddress *gen_listener_parse_socket_address (const gchar  *address,
                                                   gboolean     *is_unix,
                                                   GError      **error);

/* Shuts @socket down for reading and writing at the kernel, from any
 * thread: every read or write in progress on it fails at once, whichever
 * thread blocks in it. */
void          gen_listener_shutdown_socket    (GSocket                *socket);

/* Called once on the context given to gen_listener_handshake(), with the
 * connection (the job's: take a reference to keep it), or NULL and the
 * error. */
typedef void (*GenListenerHandshakeFunc) (GDBusConnection *connection,
                                          const GError    *error,
                                          gpointer         user_data);

/* Brings @stream through its TLS handshake, when it is a GTlsConnection,
 * then makes a D-Bus connection over it (@guid, @flags and @observer as
 * for g_dbus_connection_new()), on a thread of its own: not on GIO's
 * shared task pool, where a silent peer would hold a thread every
 * g_task_run_in_thread() of the process shares (glib-networking runs a
 * TLS handshake there whatever its caller does: a TLS server's begins
 * only once the client's first bytes came, a client's at once; each then
 * holds a pool thread until it ends). Call it on the thread
 * that iterates @context: the connection is made there and belongs to
 * its thread-default context, as with g_dbus_connection_new(). Cancelling
 * @cancellable, or shutting the socket down, ends the wait for a silent
 * peer. @func is called once, on @context, never before this returns;
 * if @context is finalized before it could be, @user_data_free (nullable)
 * is called instead, on the thread that finalized it. */
void          gen_listener_handshake          (GIOStream                *stream,
                                               const gchar              *guid,
                                               GDBusConnectionFlags      flags,
                                               GDBusAuthObserver        *observer,
                                               GCancellable             *cancellable,
                                               GMainContext             *context,
                                               GenListenerHandshakeFunc  func,
                                               gpointer                  user_data,
                                               GDestroyNotify            user_data_free);
/* Whether GIO has a TLS backend (glib-networking); a clear error if not. */
gboolean      gen_listener_check_tls_backend  (GError                **error);

G_END_DECLS
