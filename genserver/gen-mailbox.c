/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-mailbox-private.h"
#include "gen-spin-private.h"

GenEnvelope gen_stop_envelope = { GEN_ENVELOPE_STOP };

/* `n_items` changes only under the queue's lock: a relaxed load and store
 * do, with no locked instruction. */
static inline void
count_items_locked (GenMailbox *mailbox,
                    gint        delta)
{
  __atomic_store_n (&mailbox->n_items,
                    __atomic_load_n (&mailbox->n_items, __ATOMIC_RELAXED) + delta,
                    __ATOMIC_RELAXED);
}

void
gen_mailbox_init (GenMailbox     *mailbox,
                  GDestroyNotify  drop_item)
{
  mailbox->queue = g_async_queue_new ();
  mailbox->drop_item = drop_item;
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

  g_async_queue_lock (mailbox->queue);
  g_atomic_int_add (&mailbox->n_bounded, -1);
  g_async_queue_unlock (mailbox->queue);

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

  while ((item = g_async_queue_try_pop (mailbox->queue)) != NULL)
    mailbox->drop_item (item);
  g_async_queue_unref (mailbox->queue);
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
  g_async_queue_lock (mailbox->queue);
  g_assert (g_async_queue_length_unlocked (mailbox->queue) == 0);
  mailbox->accepting = TRUE;
  g_atomic_int_set (&mailbox->accepting_flag, TRUE);
  mailbox->wake = wake;
  mailbox->wake_data = wake_data;
  g_async_queue_unlock (mailbox->queue);
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

  g_async_queue_lock (mailbox->queue);
  if (!mailbox->accepting)
    {
      g_async_queue_unlock (mailbox->queue);
      return GEN_PUSH_CLOSED;
    }
  if (mailbox->capacity != 0 && item_is_bounded (item))
    {
      if ((guint) g_atomic_int_get (&mailbox->n_bounded) >= mailbox->capacity)
        {
          g_async_queue_unlock (mailbox->queue);
          return GEN_PUSH_FULL;
        }
      g_atomic_int_inc (&mailbox->n_bounded);
    }
  g_async_queue_push_unlocked (mailbox->queue, item);
  count_items_locked (mailbox, 1);
  g_atomic_int_inc (&mailbox->pushes);
  wake_func = mailbox->wake;
  wake_data = mailbox->wake_data;
  g_async_queue_unlock (mailbox->queue);

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

  g_async_queue_lock (mailbox->queue);
  was_accepting = mailbox->accepting;
  if (push_stop_marker && mailbox->accepting)
    {
      g_async_queue_push_unlocked (mailbox->queue, GEN_ITEM_STOP_MARKER);
      count_items_locked (mailbox, 1);
      g_atomic_int_inc (&mailbox->pushes);
      wake_func = mailbox->wake;
      wake_data = mailbox->wake_data;
    }
  mailbox->accepting = FALSE;
  g_atomic_int_set (&mailbox->accepting_flag, FALSE);
  g_async_queue_unlock (mailbox->queue);

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

  g_async_queue_lock (mailbox->queue);
  wake_func = mailbox->accepting ? mailbox->wake : NULL;
  wake_data = mailbox->wake_data;
  g_atomic_int_inc (&mailbox->pushes);
  g_async_queue_unlock (mailbox->queue);

  if (wake_func != NULL)
    wake_func (wake_data);
}

gpointer
gen_mailbox_try_pop (GenMailbox *mailbox)
{
  gpointer item;

  /* A server at work here is what a slow yield on this processor went
   * to (see gen_spin_note_activity()): one look per batch. */
  gen_spin_note_activity ();
  g_async_queue_lock (mailbox->queue);
  item = g_async_queue_try_pop_unlocked (mailbox->queue);
  if (item != NULL)
    count_items_locked (mailbox, -1);
  g_async_queue_unlock (mailbox->queue);
  return item;
}

guint
gen_mailbox_pop_batch (GenMailbox *mailbox,
                       gpointer   *items,
                       guint       max)
{
  guint n = 0;

  gen_spin_note_activity ();
  g_async_queue_lock (mailbox->queue);
  while (n < max && (items[n] = g_async_queue_try_pop_unlocked (mailbox->queue)) != NULL)
    n++;
  count_items_locked (mailbox, -(gint) n);
  g_async_queue_unlock (mailbox->queue);

  return n;
}

gint
gen_mailbox_length (GenMailbox *mailbox)
{
  return g_async_queue_length (mailbox->queue);
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
 * too: the spin must not swallow it. */
static gboolean
pop_wait_poll (gpointer data)
{
  PopWait *wait = data;
  gint pushes = g_atomic_int_get (&wait->mailbox->pushes);

  if (pushes != wait->seen)
    {
      wait->seen = pushes;
      wait->item = gen_mailbox_try_pop (wait->mailbox);
      return TRUE;
    }
  return FALSE;
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
   * g_async_queue_pop: GAsyncQueue signals on every push while somebody
   * waits in it, so a producer would pay a futex call for every message it
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
  g_async_queue_lock (mailbox->queue);
  count_items_locked (mailbox, (gint) n);
  while (n > 0)
    g_async_queue_push_front_unlocked (mailbox->queue, items[--n]);
  g_async_queue_unlock (mailbox->queue);
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
