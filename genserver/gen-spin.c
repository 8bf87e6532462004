/* SPDX-License-Identifier: LGPL-2.1-or-later */

#define _GNU_SOURCE /* sched_getcpu() */

#include "config.h"

#include "gen-spin-private.h"

#include <sched.h>

/* 1 on, 0 off, -1 not read from the environment yet. Atomic. */
static gint spin_enabled = -1;

gboolean
gen_spin_enabled (void)
{
  gint enabled = g_atomic_int_get (&spin_enabled);

  if (G_UNLIKELY (enabled < 0))
    {
      const gchar *value = g_getenv ("GEN_SPIN");

      enabled = !(value != NULL &&
                  (g_str_equal (value, "0") || g_ascii_strcasecmp (value, "off") == 0 ||
                   g_ascii_strcasecmp (value, "no") == 0 ||
                   g_ascii_strcasecmp (value, "false") == 0));
      /* An explicit gen_spin_set_enabled() made meanwhile wins. */
      g_atomic_int_compare_and_exchange (&spin_enabled, -1, enabled);
      enabled = g_atomic_int_get (&spin_enabled);
    }
  return enabled;
}

void
gen_spin_set_enabled (gboolean enabled)
{
  g_atomic_int_set (&spin_enabled, enabled ? 1 : 0);
}

static gboolean
budget_begin (gint   *spinning,
              gsize  *max,
              gint    reserve)
{
  if (g_once_init_enter (max))
    g_once_init_leave (max, MAX (1, g_get_num_processors () - reserve));

  if ((gsize) g_atomic_int_add (spinning, 1) >= *max)
    {
      g_atomic_int_dec_and_test (spinning);
      return FALSE;
    }
  return TRUE;
}

static gint spinners;

gboolean
gen_spin_begin (void)
{
  static gsize max_spinners;

  if (!gen_spin_enabled ())
    return FALSE;
  return budget_begin (&spinners, &max_spinners, 0);
}

void
gen_spin_end (void)
{
  g_atomic_int_dec_and_test (&spinners);
}

static gint caller_spinners;

gboolean
gen_spin_caller_begin (void)
{
  static gsize max_caller_spinners;

  if (!gen_spin_enabled ())
    return FALSE;
  if (!budget_begin (&caller_spinners, &max_caller_spinners, 1))
    return FALSE;
  if (!gen_spin_begin ())
    {
      g_atomic_int_dec_and_test (&caller_spinners);
      return FALSE;
    }
  return TRUE;
}

void
gen_spin_caller_end (void)
{
  gen_spin_end ();
  g_atomic_int_dec_and_test (&caller_spinners);
}

/* The busy part of this thread's next wait, in µs, at most
 * GEN_SPIN_PAUSE_NS. Halved whenever a busy spin ends without what it waited
 * for (the other side is most likely not running, often because it shares
 * this processor, and yielding is what lets it run), doubled back whenever
 * one succeeds. */
static _Thread_local gint spin_pause_us = GEN_SPIN_PAUSE_NS / 1000;

gint
gen_spin_pause_us (void)
{
  return spin_pause_us;
}

void
gen_spin_pause_adapt (gboolean succeeded)
{
  if (succeeded)
    spin_pause_us = MIN (spin_pause_us * 2, GEN_SPIN_PAUSE_NS / 1000);
  else
    spin_pause_us = MAX (spin_pause_us / 2, 1);
}

static _Thread_local const GenBlockHook *block_hook;
static _Thread_local gpointer block_hook_data;

void
gen_spin_set_block_hook (const GenBlockHook *hook,
                         gpointer            data)
{
  block_hook = hook;
  block_hook_data = data;
}

gboolean
gen_spin_block_begin (void)
{
  if (block_hook == NULL)
    return FALSE;

  block_hook->begin (block_hook_data);
  return TRUE;
}

void
gen_spin_block_end (void)
{
  block_hook->end (block_hook_data);
}

/* Monotonic µs until which no wait yields; atomic. */
static gint64 yield_backoff_until;

gboolean
gen_spin_may_yield (gint64 now)
{
  return now >= __atomic_load_n (&yield_backoff_until, __ATOMIC_RELAXED);
}

gint64
gen_spin_yield_losses_add (GenYieldLosses *losses,
                           gint64          began,
                           gint64          took)
{
  gint64 end = began + took;

  /* Paid back: 1/GEN_SPIN_YIELD_BACKOFF of the time since. */
  if (end > losses->paid_at)
    {
      losses->debt = MAX (0, losses->debt - (end - losses->paid_at) / GEN_SPIN_YIELD_BACKOFF);
      losses->paid_at = end;
    }

  /* Waits that lost one slice together (all yielding on one processor, or
   * on every processor at once) lost it once. */
  if (end > losses->until)
    {
      losses->debt += end - MAX (began, losses->until);
      losses->until = end;
    }

  if (losses->debt <= GEN_SPIN_LOST_BURST_US)
    return 0;
  return end + MIN ((losses->debt - GEN_SPIN_LOST_BURST_US) * GEN_SPIN_YIELD_BACKOFF,
                    G_USEC_PER_SEC);
}

static GMutex losses_lock;
static GenYieldLosses losses; /* under losses_lock */

void
gen_spin_yield_took (gint64   began,
                     gint64   took,
                     gboolean lost)
{
  gint64 until;

  if (G_LIKELY (took < GEN_SPIN_SLOW_YIELD_US) || !lost)
    return;

  g_mutex_lock (&losses_lock);
  until = gen_spin_yield_losses_add (&losses, began, took);
  /* Under the lock, so that a later back-off is never overwritten by an
   * earlier one. */
  if (until > __atomic_load_n (&yield_backoff_until, __ATOMIC_RELAXED))
    __atomic_store_n (&yield_backoff_until, until, __ATOMIC_RELAXED);
  g_mutex_unlock (&losses_lock);
}

/* How often this process's threads sent or took messages on each
 * processor (modulo CPU_SLOTS): each push into a mailbox and each batch
 * taken, or looked for, bumps it through
 * gen_spin_note_activity(). Only the threads of one processor bump its
 * count, so its cache line stays there; a bump lost to preemption between
 * the load and the store costs nothing. */
#define CPU_SLOTS 64

typedef struct
{
  gint count;
} __attribute__ ((aligned (64))) CpuActivity;

static CpuActivity cpu_activity[CPU_SLOTS];

/* NULL where the system cannot tell: every slow yield is lost there. */
static gint *
activity_here (void)
{
#ifdef __linux__
  gint cpu = sched_getcpu ();

  if (cpu >= 0)
    return &cpu_activity[cpu % CPU_SLOTS].count;
#endif
  return NULL;
}

void
gen_spin_note_activity (void)
{
  gint *count = activity_here ();

  if (count != NULL)
    __atomic_store_n (count, __atomic_load_n (count, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

gint
gen_spin_activity_here (void)
{
  gint *count = activity_here ();

  return count != NULL ? __atomic_load_n (count, __ATOMIC_RELAXED) : -1;
}

gboolean
gen_spin_yield_lost (gint64 took,
                     gint   activity)
{
  return (gint64) activity * GEN_SPIN_OWN_ACTIVITY_US < took;
}

gboolean
gen_spin_until (gboolean   (*done) (gpointer data),
                gpointer     data,
                gint64       deadline,
                GenSpinFlags flags)
{
  gboolean caller = (flags & GEN_SPIN_CALLER) != 0;
  gint64 spin_until;
  gboolean result = FALSE, yielded = FALSE;

  if (!gen_spin_enabled ())
    return done (data);

  spin_until = g_get_monotonic_time () + GEN_SPIN_NS / 1000;
  if (deadline >= 0)
    spin_until = MIN (spin_until, deadline);

  if (!(flags & GEN_SPIN_YIELD_ONLY) && (caller ? gen_spin_caller_begin () : gen_spin_begin ()))
    {
      gint64 pause_until = MIN (spin_until, g_get_monotonic_time () + spin_pause_us);

      do
        {
          for (guint i = 0; i < 64 && !result; i++)
            {
              gen_spin_relax ();
              result = done (data);
            }
        }
      while (!result && g_get_monotonic_time () < pause_until);

      if (caller)
        gen_spin_caller_end ();
      else
        gen_spin_end ();
      gen_spin_pause_adapt (result);
    }

  /* No answer yet, or no spinning slot: more threads wait than there are
   * processors, or the other side shares this one. Yielding hands it the
   * processor, and what it does by then costs it no wake-up; unless the
   * machine is busy, and the processor goes to somebody else for a time
   * slice. */
  while (!result)
    {
      gint64 began = g_get_monotonic_time (), took;
      gint *count, before;

      if (began >= spin_until)
        break;
      if (!gen_spin_may_yield (began) && (yielded || !(flags & GEN_SPIN_YIELD_ONCE)))
        break;
      yielded = TRUE;
      count = activity_here ();
      before = count != NULL ? __atomic_load_n (count, __ATOMIC_RELAXED) : 0;
      g_thread_yield ();
      result = done (data);
      took = g_get_monotonic_time () - began;
      if (G_UNLIKELY (took >= GEN_SPIN_SLOW_YIELD_US))
        {
          gint activity = count != NULL ? __atomic_load_n (count, __ATOMIC_RELAXED) - before : 0;

          gen_spin_yield_took (began, took, gen_spin_yield_lost (took, activity));
        }
    }

  return result;
}
