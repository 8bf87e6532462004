/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-mailbox-private.h"
#include "gen-spin-private.h"

GenEnvelope gen_stop_envelope = { GEN_ENVELOPE_STOP };

/* The slots a ring keeps when it empties; a bigger one, grown by a
 * burst, is given back. */
#define RING_KEPT_SLOTS 64
#define RING_FIRST_SLOTS 4

/* `n_items` changes only under the lock: a relaxed load and store do,
 * with no locked instruction. */
static inline guint
count_items_locked (GenMailbox *mailbox)
{
  return (guint) __atomic_load_n (&mailbox->n_items, __ATOMIC_RELAXED);
}

static inline void
set_count_locked (GenMailbox *mailbox,
                  guint       n)
{
  __atomic_store_n (&mailbox->n_items, (gint) n, __ATOMIC_RELAXED);
}

/* Makes room for one more item, keeping the items in their order from
 * slot 0 when the ring grows. */
static void
ring_reserve_locked (GenMailbox *mailbox)
{
  guint n = count_items_locked (mailbox);
  guint size = mailbox->ring_size;
  gpointer *ring;

  if (n < size)
    return;

  ring = g_new (gpointer, size == 0 ? RING_FIRST_SLOTS : size * 2);
  for (guint i = 0; i < n; i++)
    ring[i] = mailbox->ring[(mailbox->ring_head + i) & (size - 1)];
  g_free (mailbox->ring);
  mailbox->ring = ring;
  mailbox->ring_size = size == 0 ? RING_FIRST_SLOTS : size * 2;
  mailbox->ring_head = 0;
}

static void
ring_push_tail_locked (GenMailbox *mailbox,
                       gpointer    item)
{
  guint n;

  ring_reserve_locked (mailbox);
  n = count_items_locked (mailbox);
  mailbox->ring[(mailbox->ring_head + n) & (mailbox->ring_size - 1)] = item;
  set_count_locked (mailbox, n + 1);
}

static void
ring_push_head_locked (GenMailbox *mailbox,
                       gpointer    item)
{
  ring_reserve_locked (mailbox);
  mailbox->ring_head = (mailbox->ring_head - 1) & (mailbox->ring_size - 1);
  mailbox->ring[mailbox->ring_head] = item;
  set_count_locked (mailbox, count_items_locked (mailbox) + 1);
}

/* Moves up to @max of the oldest items to @items; returns how many. */
static guint
ring_pop_locked (GenMailbox *mailbox,
                 gpointer   *items,
                 guint       max)
{
  guint n = MIN (max, count_items_locked (mailbox));

  for (guint i = 0; i < n; i++)
    {
      items[i] = mailbox->ring[mailbox->ring_head];
      mailbox->ring_head = (mailbox->ring_head + 1) & (mailbox->ring_size - 1);
    }
  set_count_locked (mailbox, count_items_locked (mailbox) - n);
  if (count_items_locked (mailbox) == 0 && mailbox->ring_size > RING_KEPT_SLOTS)
    {
      g_clear_pointer (&mailbox->ring, g_free);
      mailbox->ring_size = 0;
      mailbox->ring_head = 0;
    }
  return n;
}

void
gen_mailbox_init (GenMailbox     *mailbox,
                  GDestroyNotify  drop_item)
{
  *mailbox = (GenMailbox) { .drop_item = drop_item };
  g_mutex_init (&mailbox->lock);
  g_mutex_init (&mailbox->idle_lock);
  g_cond_init (&mailbox->idle_cond);
  g_mutex_init (&mailbox->room_lock);
  g_cond_init (&mailbox->room_cond);
}

void
gen_mailbox_set_capacity (GenMailbox *mailbox,
                          guint       capacity)
{
  mailbox->capacity = capacity;
}

static gboolean
item_is_bounded (gpointer item)
{
  return GEN_ITEM_KIND (item) == GEN_ITEM_CAST || GEN_ITEM_KIND (item) == GEN_ITEM_CALL;
}

void
gen_mailbox_release (GenMailbox *mailbox,
                     gpointer    item)
{
  if (mailbox->capacity == 0 || !item_is_bounded (item))
    return;

  g_mutex_lock (&mailbox->lock);
  g_atomic_int_add (&mailbox->n_bounded, -1);
  g_mutex_unlock (&mailbox->lock);

  /* Sequentially consistent with the waiter's count and look: either it
   * sees the room, or this sees it waiting. */
  if (g_atomic_int_get (&mailbox->room_waiters) > 0)
    {
      g_mutex_lock (&mailbox->room_lock);
      g_cond_broadcast (&mailbox->room_cond);
      g_mutex_unlock (&mailbox->room_lock);
    }
}

/* Wakes every sender waiting for room: the mailbox closed. */
static void
room_wake_all (GenMailbox *mailbox)
{
  if (g_atomic_int_get (&mailbox->room_waiters) > 0)
    {
      g_mutex_lock (&mailbox->room_lock);
      g_cond_broadcast (&mailbox->room_cond);
      g_mutex_unlock (&mailbox->room_lock);
    }
}

void
gen_mailbox_clear (GenMailbox *mailbox)
{
  gpointer item;

  while (ring_pop_locked (mailbox, &item, 1) == 1)
    mailbox->drop_item (item);
  g_free (mailbox->ring);
  g_mutex_clear (&mailbox->lock);
  g_mutex_clear (&mailbox->idle_lock);
  g_cond_clear (&mailbox->idle_cond);
  g_mutex_clear (&mailbox->room_lock);
  g_cond_clear (&mailbox->room_cond);
}

void
gen_mailbox_open (GenMailbox         *mailbox,
                  GenMailboxWakeFunc  wake,
                  gpointer            wake_data)
{
  g_mutex_lock (&mailbox->lock);
  g_assert (count_items_locked (mailbox) == 0);
  mailbox->accepting = TRUE;
  g_atomic_int_set (&mailbox->accepting_flag, TRUE);
  mailbox->wake = wake;
  mailbox->wake_data = wake_data;
  g_mutex_unlock (&mailbox->lock);
}

/* Wakes the server thread if it sleeps in gen_mailbox_pop_wait(), after a
 * push. `pushes` (bumped by the push) and `idle` are sequentially
 * consistent: if the server set `idle` too late for this look, its own look
 * at `pushes`, which follows, sees the push. Only the pusher that clears
 * `idle` signals, so the server's wake-up costs one futex call, however
 * many messages arrive while it gets back on a processor. */
void
gen_mailbox_wake_idle (gpointer data)
{
  GenMailbox *mailbox = data;

  if (g_atomic_int_get (&mailbox->idle) &&
      g_atomic_int_compare_and_exchange (&mailbox->idle, TRUE, FALSE))
    {
      /* As in gen-call.c's call_wake(): the server looks at `pushes` and
       * waits under `idle_lock`, so taking it once is enough to signal
       * after letting go, and the server does not wake into a held lock. */
      g_mutex_lock (&mailbox->idle_lock);
      g_mutex_unlock (&mailbox->idle_lock);
      g_cond_signal (&mailbox->idle_cond);
    }
}

GenPushResult
gen_mailbox_push (GenMailbox *mailbox,
                  gpointer    item,
                  gboolean    wake)
{
  GenMailboxWakeFunc wake_func;
  gpointer wake_data;

  /* Sending is work for the servers as much as handling is: a slow yield
   * on this processor that went to senders did its job (see
   * gen_spin_note_activity()). */
  gen_spin_note_activity ();

  /* A sender spins a moment for the lock; the server does not (see
   * gen_spin_lock()). */
  gen_spin_lock (&mailbox->lock);
  if (!mailbox->accepting)
    {
      g_mutex_unlock (&mailbox->lock);
      return GEN_PUSH_CLOSED;
    }
  if (mailbox->capacity != 0 && item_is_bounded (item))
    {
      if ((guint) g_atomic_int_get (&mailbox->n_bounded) >= mailbox->capacity)
        {
          g_mutex_unlock (&mailbox->lock);
          return GEN_PUSH_FULL;
        }
      g_atomic_int_inc (&mailbox->n_bounded);
    }
  ring_push_tail_locked (mailbox, item);
  g_atomic_int_inc (&mailbox->pushes);
  wake_func = mailbox->wake;
  wake_data = mailbox->wake_data;
  g_mutex_unlock (&mailbox->lock);

  if (wake && wake_func != NULL)
    wake_func (wake_data);

  return GEN_PUSH_OK;
}

GenPushResult
gen_mailbox_push_wait (GenMailbox *mailbox,
                       gpointer    item,
                       gboolean    wake,
                       gint64      deadline)
{
  GenPushResult result;

  while ((result = gen_mailbox_push (mailbox, item, wake)) == GEN_PUSH_FULL)
    {
      gboolean timed_out = FALSE;

      g_mutex_lock (&mailbox->room_lock);
      g_atomic_int_inc (&mailbox->room_waiters);
      /* Sequentially consistent with gen_mailbox_release(): either this look sees
       * the room it made, or it sees this waiter and broadcasts. The
       * mailbox closing broadcasts as well. */
      while ((guint) g_atomic_int_get (&mailbox->n_bounded) >= mailbox->capacity &&
             g_atomic_int_get (&mailbox->accepting_flag) && !timed_out)
        {
          if (deadline < 0)
            g_cond_wait (&mailbox->room_cond, &mailbox->room_lock);
          else if (!g_cond_wait_until (&mailbox->room_cond, &mailbox->room_lock, deadline))
            timed_out = TRUE;
        }
      g_atomic_int_add (&mailbox->room_waiters, -1);
      g_mutex_unlock (&mailbox->room_lock);

      if (timed_out)
        {
          /* One last try: room may have come with the deadline. */
          return gen_mailbox_push (mailbox, item, wake);
        }
    }

  return result;
}

gboolean
gen_mailbox_close (GenMailbox *mailbox,
                   gboolean    push_stop_marker,
                   gboolean    wake)
{
  GenMailboxWakeFunc wake_func = NULL;
  gpointer wake_data = NULL;
  gboolean was_accepting;

  g_mutex_lock (&mailbox->lock);
  was_accepting = mailbox->accepting;
  if (push_stop_marker && mailbox->accepting)
    {
      ring_push_tail_locked (mailbox, GEN_ITEM_STOP_MARKER);
      g_atomic_int_inc (&mailbox->pushes);
      wake_func = mailbox->wake;
      wake_data = mailbox->wake_data;
    }
  mailbox->accepting = FALSE;
  g_atomic_int_set (&mailbox->accepting_flag, FALSE);
  g_mutex_unlock (&mailbox->lock);

  room_wake_all (mailbox);

  if (wake && wake_func != NULL)
    wake_func (wake_data);

  return was_accepting;
}

void
gen_mailbox_poke (GenMailbox *mailbox)
{
  GenMailboxWakeFunc wake_func;
  gpointer wake_data;

  g_mutex_lock (&mailbox->lock);
  wake_func = mailbox->accepting ? mailbox->wake : NULL;
  wake_data = mailbox->wake_data;
  g_atomic_int_inc (&mailbox->pushes);
  g_mutex_unlock (&mailbox->lock);

  if (wake_func != NULL)
    wake_func (wake_data);
}

gpointer
gen_mailbox_try_pop (GenMailbox *mailbox)
{
  gpointer item = NULL;

  /* A server at work here is what a slow yield on this processor went
   * to (see gen_spin_note_activity()): one look per batch. */
  gen_spin_note_activity ();
  g_mutex_lock (&mailbox->lock);
  ring_pop_locked (mailbox, &item, 1);
  g_mutex_unlock (&mailbox->lock);
  return item;
}

guint
gen_mailbox_pop_batch (GenMailbox *mailbox,
                       gpointer   *items,
                       guint       max)
{
  guint n;

  gen_spin_note_activity ();
  g_mutex_lock (&mailbox->lock);
  n = ring_pop_locked (mailbox, items, max);
  g_mutex_unlock (&mailbox->lock);

  return n;
}

gint
gen_mailbox_length (GenMailbox *mailbox)
{
  gint n;

  g_mutex_lock (&mailbox->lock);
  n = (gint) count_items_locked (mailbox);
  g_mutex_unlock (&mailbox->lock);
  return n;
}

gint
gen_mailbox_peek_length (GenMailbox *mailbox)
{
  return __atomic_load_n (&mailbox->n_items, __ATOMIC_RELAXED);
}

typedef struct
{
  GenMailbox *mailbox;
  gint seen;      /* `pushes` when last looked */
  gpointer item;  /* what was popped */
} PopWait;

/* Tries the queue only when `pushes` moved: a push the try misses bumps it
 * afterwards. A move with nothing to pop is a poke, which ends the wait
 * too: the spin must not swallow it. The pusher moves `pushes` before it
 * lets go of the lock: a spinner that then found it held would sleep on
 * it and cost the pusher a futex wake-up, so it looks again instead. */
static gboolean
pop_wait_poll (gpointer data)
{
  PopWait *wait = data;
  GenMailbox *mailbox = wait->mailbox;
  gint pushes = g_atomic_int_get (&mailbox->pushes);

  if (pushes == wait->seen || !g_mutex_trylock (&mailbox->lock))
    return FALSE;

  gen_spin_note_activity ();
  wait->seen = pushes;
  wait->item = NULL;
  ring_pop_locked (mailbox, &wait->item, 1);
  g_mutex_unlock (&mailbox->lock);
  return TRUE;
}

gpointer
gen_mailbox_pop_wait (GenMailbox *mailbox,
                      gint        seen,
                      gint64      deadline)
{
  PopWait wait = { mailbox, seen, NULL };

  wait.item = gen_mailbox_try_pop (mailbox);
  if (wait.item != NULL || gen_spin_until (pop_wait_poll, &wait, deadline, GEN_SPIN_SERVER))
    return wait.item;

  /* An idle server sleeps here, on a condition of its own rather than in
   * the mailbox's lock: a condition signalled on every push while somebody
   * waits would make a producer pay a futex call for every message it
   * sends until the server is back on a processor. */
  g_mutex_lock (&mailbox->idle_lock);
  for (;;)
    {
      /* Set again after every wake-up: a pusher that saw `idle` from an
       * earlier sleep may have cleared it and signalled since. */
      g_atomic_int_set (&mailbox->idle, TRUE);
      if (g_atomic_int_get (&mailbox->pushes) != wait.seen)
        break;
      if (deadline < 0)
        g_cond_wait (&mailbox->idle_cond, &mailbox->idle_lock);
      else if (!g_cond_wait_until (&mailbox->idle_cond, &mailbox->idle_lock, deadline))
        break;
    }
  g_atomic_int_set (&mailbox->idle, FALSE);
  g_mutex_unlock (&mailbox->idle_lock);

  /* NULL at the deadline, or after gen_mailbox_poke(). */
  return gen_mailbox_try_pop (mailbox);
}

void
gen_mailbox_unpop (GenMailbox *mailbox,
                   gpointer   *items,
                   guint       n)
{
  g_mutex_lock (&mailbox->lock);
  while (n > 0)
    ring_push_head_locked (mailbox, items[--n]);
  g_mutex_unlock (&mailbox->lock);
}

void
gen_mailbox_sleep (GenMailbox *mailbox,
                   gint        seen)
{
  /* The protocol of gen_mailbox_pop_wait(), without the pop. */
  g_mutex_lock (&mailbox->idle_lock);
  for (;;)
    {
      g_atomic_int_set (&mailbox->idle, TRUE);
      if (g_atomic_int_get (&mailbox->pushes) != seen)
        break;
      g_cond_wait (&mailbox->idle_cond, &mailbox->idle_lock);
    }
  g_atomic_int_set (&mailbox->idle, FALSE);
  g_mutex_unlock (&mailbox->idle_lock);
}
