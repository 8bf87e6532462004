/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "gen-server.h"

G_BEGIN_DECLS

/*
 * Brief bounded spinning before a blocking wait.
 *
 * On this kind of machine a futex wake-up costs several microseconds, far more
 * than a whole call round trip when both sides are awake. So a thread that
 * expects an answer soon polls for a short while before it sleeps. The number
 * of threads spinning at once is capped by the number of processors, so that
 * spinning never steals the processor from the thread that would answer.
 */
#define GEN_SPIN_NS 50000

/*
 * How much of GEN_SPIN_NS is spent busy on the processor, at most; the rest
 * of it is spent yielding. A round trip takes about a microsecond when both
 * sides run, so a longer busy spin only helps when the other side does not
 * run at all, which is exactly when the processor should be handed over.
 * Each thread shortens its own busy part while its spins fail (see
 * spin_pause_adapt in gen-server.c).
 */
#define GEN_SPIN_PAUSE_NS 5000

gboolean gen_spin_begin (void);
void     gen_spin_end   (void);

static inline void
gen_cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield");
#endif
}

G_END_DECLS
