/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-export.h"

G_BEGIN_DECLS

/* What every D-Bus file shares (gen-dbus.c): the interface, the error
 * mapping both ways, the checks of what may travel, the Stopped signal,
 * and the export record with the one dispatcher of the interface's
 * methods, used by server exports (gen-export.c), registry exports
 * (gen-registry-export.c) and remotes (gen-remote.c). */

/* Registers the GEN_SERVER_ERROR codes as D-Bus error names, so that a
 * remote caller gets the domain and code of a local one. Any thread, any
 * number of times. */
void                gen_dbus_error_ensure       (void);

/* Maps what GDBus says about the way to a server into GEN_SERVER_ERROR, so
 * that a caller handles a remote as it handles a local server; errors from
 * the server itself keep their domain and code. @name and @object_path
 * name the server in messages, @timeout_ms is the caller's. Takes
 * @error. */
GError             *gen_dbus_error_from_call    (GError       *error,
                                                 const gchar  *name,
                                                 const gchar  *object_path,
                                                 gint          timeout_ms);

/* Whether @error says that the peer, not the server, went away: closed
 * connection, no reply, name without owner. */
gboolean            gen_dbus_error_is_lost_peer (const GError *error);

/* Parses @interface_name from the library's resources (its XML file is
 * named after it). Transfer full. */
GDBusInterfaceInfo *gen_dbus_load_interface     (const gchar  *interface_name);
/* The io.github.genserver.Server1 interface, parsed once from the XML in
 * the library's resources. Not owned by the caller. */
GDBusInterfaceInfo *gen_dbus_interface_info     (void);

/* Why @value cannot travel over D-Bus inside @around containers of a
 * message's body (variants included), or NULL: D-Bus has no maybe types,
 * no empty structures, dictionary entries only in arrays, and limits how
 * deep values nest and how long a type string is. GDBus writes what goes
 * past those limits, and then the bus daemon disconnects the sender, or
 * the peer cannot read it and drops the connection. A static string. */
const gchar        *gen_dbus_wire_problem       (GVariant     *value,
                                                 guint         around);

/* Whether @message (the @what of a server: a message or a reply, each
 * sent as a variant argument) can travel over D-Bus at all (see
 * gen_dbus_wire_problem()). INVALID_MESSAGE if not. */
gboolean            gen_dbus_check_wire_type    (GVariant     *message,
                                                 const gchar  *what,
                                                 GError      **error);

/* Whether @message fits in @max_size serialized bytes. INVALID_MESSAGE if
 * not. */
gboolean            gen_dbus_check_size         (GVariant     *message,
                                                 guint64       max_size,
                                                 GError      **error);

/* The Stopped signal of the server at @object_path: emitted by exports,
 * decoded by remotes. An emission that fails means the connection closed:
 * nobody is left to tell. */
void                gen_dbus_emit_stopped       (GDBusConnection *connection,
                                                 const gchar     *object_path,
                                                 const GError    *reason);
/* FALSE if @parameters are not a Stopped signal's; else TRUE, with the
 * reason in @reason (NULL for a normal stop). */
gboolean            gen_dbus_stopped_reason     (GVariant        *parameters,
                                                 GError         **reason);

/* Runs @func (@data) on @context and returns once it ran: at once on the
 * context's owner or on a context nobody holds (taken meanwhile, and made
 * thread-default, so that what @func exports dispatches there); else
 * through a source that the owner dispatches, which this thread waits
 * for. So never from a thread the owner waits for, and only once the
 * thread that iterates @context has pushed it (as it has when something
 * of it was made there): taken meanwhile, that push would fail. */
void                gen_dbus_run_on_context     (GMainContext *context,
                                                 GSourceFunc   func,
                                                 gpointer      data);

/* Export records --------------------------------------------------------- */

typedef struct _GenDBusExport GenDBusExport;

/* What differs between the kinds of export. */
typedef struct
{
  /* The qdata of the owner that lists its exports. */
  const gchar *list_name;
  /* The server that a message for @object_path goes to now, or NULL with
   * an error. The dispatch context. */
  GenServer *(*lookup)     (GenDBusExport *export,
                            const gchar   *object_path,
                            GError       **error);
  /* Nullable: a property of @server was read, as a remote does when it is
   * made and when it adds a monitor. The dispatch context. */
  void       (*properties_read) (GenDBusExport *export,
                                 GenServer     *server,
                                 const gchar   *object_path);
  /* Nullable: the export ends; gen_dbus_export_lock is held. @owner is
   * NULL when it is being finalized. */
  void       (*end)        (GenDBusExport *export,
                            GObject       *owner);
  /* Nullable: frees what the kind added, with the last reference. */
  void       (*finalize)   (GenDBusExport *export);
} GenDBusExportClass;

/* One owner (a server, a registry) on one connection at one object path.
 * Holds the owner weakly and the connection strongly until it ends: by
 * gen_dbus_export_unexport(), when the connection closes, or when the
 * owner is finalized. Kinds embed it first in a struct of their own. */
struct _GenDBusExport
{
  const GenDBusExportClass *klass;
  gint ref_count; /* atomic */

  /* Immutable. */
  GWeakRef owner;              /* the GenServer or GenRegistry */
  GDBusConnection *connection; /* owned */
  gchar *object_path;          /* owned */
  guint64 max_message_size;
  guint64 max_pending_bytes; /* of messages from peers not let go of yet; 0: no bound */
  gint max_timeout_ms; /* the longest a peer's call may wait; negative: no cap */
  /* Owned. Cancelled when the export ends, so that no call is left
   * pending for a caller that can no longer get its reply. */
  GCancellable *cancellable;

  /* Atomic: the cost (gen_dbus_message_cost()) of the messages from peers
   * accepted and not let go of yet (calls not answered, casts and infos the
   * server still holds). */
  guint64 pending_bytes;

  /* gen_dbus_export_lock. */
  gboolean exported;
  gboolean subtree;    /* registered with g_dbus_connection_register_subtree() */
  guint registration_id;
  gulong closed_id;    /* the connection's "closed" handler */
};

/* Protects every export's mutable fields and the owners' lists of exports
 * (qdata, GPtrArrays of owned exports). Taken before a server's monitor
 * lock, never after it: exit hooks run without it. */
void           gen_dbus_export_lock      (void);
void           gen_dbus_export_unlock    (void);

/* A new export of @size bytes (the kind's struct), not registered yet. */
gpointer       gen_dbus_export_new       (const GenDBusExportClass *klass,
                                          gsize                     size,
                                          gpointer                  owner,
                                          GDBusConnection          *connection,
                                          const gchar              *object_path,
                                          guint64                   max_message_size,
                                          guint64                   max_pending_bytes,
                                          gint                      max_timeout_ms);
gpointer       gen_dbus_export_ref       (gpointer                  export);
void           gen_dbus_export_unref     (gpointer                  export);

/* The export of @owner on @connection, or NULL. Not a new reference. The
 * lock is held. */
GenDBusExport *gen_dbus_export_find_locked (const GenDBusExportClass *klass,
                                            gpointer                  owner,
                                            GDBusConnection          *connection);
/* Registers @export, whose reference it takes, on its connection (as a
 * subtree with @subtree_vtable if not NULL, else as an object with the one
 * dispatcher) and adds it to its owner's list. FALSE with an error from
 * GDBus. The lock is held. */
gboolean       gen_dbus_export_register_locked (GenDBusExport              *export,
                                                gpointer                    owner,
                                                const GDBusSubtreeVTable   *subtree_vtable,
                                                GError                    **error);
/* Ends @export, if it did not end yet. The caller holds a reference and
 * the lock. @owner is NULL when it is being finalized. */
void           gen_dbus_export_end_locked (GenDBusExport *export,
                                           gpointer       owner);
/* Ends the export of @owner on @connection: whether there was one. */
gboolean       gen_dbus_export_unexport   (const GenDBusExportClass *klass,
                                           gpointer                  owner,
                                           GDBusConnection          *connection);

/* The dispatcher of the interface, for the nodes of a subtree; the user
 * data is the GenDBusExport. */
extern const GDBusInterfaceVTable gen_dbus_export_vtable;

G_END_DECLS
