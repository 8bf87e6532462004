/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "gen-spin-private.h"

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

void
gen_spin_yield_took (gint64 began,
                     gint64 took)
{
  if (G_LIKELY (took < GEN_SPIN_SLOW_YIELD_US))
    return;

  /* Racing threads each store a back-off of their own: any of them does. */
  __atomic_store_n (&yield_backoff_until,
                    began + took + MIN (took * GEN_SPIN_YIELD_BACKOFF, G_USEC_PER_SEC),
                    __ATOMIC_RELAXED);
}

gboolean
gen_spin_until (gboolean (*done) (gpointer data),
                gpointer   data,
                gint64     deadline,
                gboolean   caller)
{
  gint64 spin_until;
  gboolean result = FALSE;

  if (!gen_spin_enabled ())
    return done (data);

  spin_until = g_get_monotonic_time () + GEN_SPIN_NS / 1000;
  if (deadline >= 0)
    spin_until = MIN (spin_until, deadline);

  if (caller ? gen_spin_caller_begin () : gen_spin_begin ())
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
      gint64 began = g_get_monotonic_time ();

      if (began >= spin_until || !gen_spin_may_yield (began))
        break;
      g_thread_yield ();
      result = done (data);
      gen_spin_yield_took (began, g_get_monotonic_time () - began);
    }

  return result;
}
