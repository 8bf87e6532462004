/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Mailbox items are tagged pointers, so that a cast costs no allocation
 * beyond its message: the two low bits (free in any GVariant, GenCall or
 * Envelope, which malloc aligns to at least 8 bytes) say what the pointer
 * is. The mailbox owns one reference to whatever an item points to, and
 * knows only the tags: the function that drops an item is given to
 * gen_mailbox_init() by the mailbox's owner (gen_run_drop_item()).
 */
typedef enum
{
  GEN_ITEM_CAST = 0,     /* GVariant *: the message */
  GEN_ITEM_CALL = 1,     /* GenCall *: message, reply slot and caller */
  GEN_ITEM_INFO = 2,     /* GVariant *: the message */
  GEN_ITEM_ENVELOPE = 3, /* GenEnvelope *: the rare rest */
} GenItemKind;

#define GEN_ITEM_KIND(item)     ((GenItemKind) (GPOINTER_TO_SIZE (item) & 3))
#define GEN_ITEM_POINTER(item)  ((gpointer) (GPOINTER_TO_SIZE (item) & ~(gsize) 3))
#define GEN_ITEM_MAKE(p, kind)  ((gpointer) (GPOINTER_TO_SIZE (p) | (kind)))

typedef enum
{
  GEN_ENVELOPE_STOP,  /* static: handle what came before, then stop */
  GEN_ENVELOPE_TIMER, /* a GenTimer that fired */
} GenEnvelopeKind;

/* The first member of every structure an GEN_ITEM_ENVELOPE points to. */
typedef struct
{
  GenEnvelopeKind kind;
} GenEnvelope;

extern GenEnvelope gen_stop_envelope;
#define GEN_ITEM_STOP_MARKER GEN_ITEM_MAKE (&gen_stop_envelope, GEN_ITEM_ENVELOPE)

/* Told after a push that the mailbox has something new; runs on the
 * pushing thread, outside the mailbox's lock. @data was given to
 * gen_mailbox_open(). */
typedef void (*GenMailboxWakeFunc) (gpointer data);

/*
 * A server's mailbox: a GAsyncQueue and the means to wait on it.
 *
 * The queue's own lock protects `accepting`, `wake` and `wake_data`, so
 * that "is the server accepting?" and "queue the message" are one step: no
 * message can slip in after the stop marker.
 */
typedef struct
{
  GAsyncQueue *queue;          /* owned; lives as long as the mailbox */
  GDestroyNotify drop_item;    /* immutable: releases an item's reference */
  gboolean accepting;          /* queue lock */
  GenMailboxWakeFunc wake;     /* queue lock; set by gen_mailbox_open() */
  gpointer wake_data;          /* queue lock; unowned */

  /* Atomic; bumped under the queue's lock after every push. A server
   * waiting for work spins on it rather than on the lock, which would make
   * every pusher that meets the lock held sleep in the kernel. */
  gint pushes;

  /* How many items are queued: changed only under the queue's lock, read
   * without it by anyone (relaxed atomics: a plain load and store). What
   * a runner deciding whether to go on looks at (gen_mailbox_peek_length())
   * for the price of a read: the look may be stale at once, so a look that
   * must not miss a push takes the lock (gen_mailbox_length()). */
  gint n_items;

  /* A server thread waiting for work sleeps on `idle_cond` until `pushes`
   * moves, with `idle` (atomic) set; the first pusher to see `idle` clears
   * it and signals, under `idle_lock`. */
  GMutex idle_lock;
  GCond idle_cond;
  gint idle;

  /* A bounded mailbox: at most `capacity` casts and calls wait in it (0:
   * no bound; immutable once set). `n_bounded` counts them from their push
   * to the start of their handling (gen_mailbox_release()), atomic,
   * changed under the queue's lock. A sender waiting for room sleeps on
   * `room_cond` under `room_lock`, with `room_waiters` (atomic) counted
   * before its last look at `n_bounded`; whoever takes such an item out
   * looks at `room_waiters` after, and broadcasts under `room_lock` only
   * when somebody waits. */
  guint capacity;
  gint n_bounded;
  gint accepting_flag;  /* atomic mirror of `accepting`, for them */
  GMutex room_lock;
  GCond room_cond;
  gint room_waiters;
} GenMailbox;

typedef enum
{
  GEN_PUSH_OK,
  GEN_PUSH_CLOSED, /* not accepting: the server is not running */
  GEN_PUSH_FULL,   /* a bounded item found no room */
} GenPushResult;

/* @drop_item releases the mailbox's reference to what an item points to:
 * for the items still queued when the mailbox is cleared. */
void      gen_mailbox_init       (GenMailbox          *mailbox,
                                  GDestroyNotify       drop_item);
void      gen_mailbox_clear      (GenMailbox          *mailbox);

/* Bounds the casts and calls waiting in the mailbox (0: no bound). Before
 * the first push. */
void      gen_mailbox_set_capacity (GenMailbox        *mailbox,
                                    guint              capacity);

/* Starts accepting; every successful push then calls @wake (may be NULL)
 * with @wake_data. The mailbox must be empty. */
void      gen_mailbox_open       (GenMailbox          *mailbox,
                                  GenMailboxWakeFunc   wake,
                                  gpointer             wake_data);

/* Queues @item unless the mailbox stopped accepting, or @item is a cast
 * or a call and the mailbox is full; takes the mailbox's reference to what
 * @item points to only on success. With @wake FALSE, nobody is told: the
 * caller sees to the item being handled. Stop markers, infos and timers
 * are never refused for room. */
GenPushResult gen_mailbox_push   (GenMailbox          *mailbox,
                                  gpointer             item,
                                  gboolean             wake);
/* The same, waiting for room until @deadline (monotonic µs, -1: as long
 * as it takes) when the mailbox is full. */
GenPushResult gen_mailbox_push_wait (GenMailbox       *mailbox,
                                     gpointer          item,
                                     gboolean          wake,
                                     gint64            deadline);

/* Stops accepting, after queueing the stop marker if @push_stop_marker and
 * the mailbox was still accepting (telling the wake function if @wake).
 * Returns whether it was accepting. */
gboolean  gen_mailbox_close      (GenMailbox          *mailbox,
                                  gboolean             push_stop_marker,
                                  gboolean             wake);

/* A bounded item taken from the mailbox stops counting against its
 * capacity once its handling begins (or it is refused): until then it
 * waits, if only in a batch taken under one lock. */
void      gen_mailbox_release    (GenMailbox          *mailbox,
                                  gpointer             item);

/* Tells the wake function, as a push would (to re-arm a deadline). */
void      gen_mailbox_poke       (GenMailbox          *mailbox);

gpointer  gen_mailbox_try_pop    (GenMailbox          *mailbox);
/* Pops up to @max items under one lock into @items; returns how many. */
guint     gen_mailbox_pop_batch  (GenMailbox          *mailbox,
                                  gpointer            *items,
                                  guint                max);
gint      gen_mailbox_length     (GenMailbox          *mailbox);
/* The length a moment ago, without the lock: stale as soon as read, in
 * either direction. For a runner's guess whether more waits; a decision
 * that must see every push made before it uses gen_mailbox_length(). */
gint      gen_mailbox_peek_length (GenMailbox         *mailbox);

/* Waits for an item, spinning briefly first (see gen-spin-private.h), then
 * sleeping until a push or @deadline (monotonic µs, -1 for none). Returns
 * NULL at the deadline or after a poke. @seen is `pushes` as the caller
 * read it before it last looked at what a poke announces (a system
 * request, a resume): a poke since then ends the wait at once. For a
 * thread that serves this mailbox alone. */
gpointer  gen_mailbox_pop_wait   (GenMailbox          *mailbox,
                                  gint                 seen,
                                  gint64               deadline);

/* Wakes a thread sleeping in gen_mailbox_pop_wait(); the wake function of
 * a mailbox served by a thread of its own. */
void      gen_mailbox_wake_idle  (gpointer             mailbox);

/* Puts back @n items popped with gen_mailbox_pop_batch(), at the head and
 * in their order: a server suspended in the middle of a batch. Even when
 * the mailbox stopped accepting. */
void      gen_mailbox_unpop      (GenMailbox          *mailbox,
                                  gpointer            *items,
                                  guint                n);

/* Sleeps until `pushes` differs from @seen (read before the caller's last
 * look at what it waits for): a push, a poke or the stop marker. For a
 * thread that serves this mailbox alone and has nothing to pop. */
void      gen_mailbox_sleep      (GenMailbox          *mailbox,
                                  gint                 seen);

G_END_DECLS
