/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Brief bounded spinning before a blocking wait.
 *
 * On this kind of machine a futex wake-up costs several microseconds, far more
 * than a whole call round trip when both sides are awake. So a thread that
 * expects an answer soon polls for a short while before it sleeps. The number
 * of threads spinning at once is capped by the number of processors, so that
 * spinning never steals the processor from the thread that would answer, and
 * a process can turn spinning off altogether (see gen_spin_enabled()).
 */
#define GEN_SPIN_NS 50000

/*
 * How much of GEN_SPIN_NS is spent busy on the processor, at most; the rest
 * of it is spent yielding. A round trip takes about a microsecond when both
 * sides run, so a longer busy spin only helps when the other side does not
 * run at all, which is exactly when the processor should be handed over.
 * Each thread shortens its own busy part while its spins fail (see
 * gen_spin_pause_adapt()).
 */
#define GEN_SPIN_PAUSE_NS 5000

/*
 * Yielding only pays while the processors are free for genserver's own
 * threads. A yield that takes GEN_SPIN_SLOW_YIELD_US or more handed the
 * processor to some other thread for a time slice (a partner waiting for
 * us gives it back within GEN_SPIN_NS). If that thread was one of this
 * process's at work for its servers, the yield did its job: eight callers
 * of one server on two processors take turns that way, and each turn saves
 * a wake-up. If it was anything else (another process, most of the time),
 * the processor was lost for the slice, and on a busy machine that is
 * what made spinning waits tens of times slower than sleeping ones. The
 * yield tells the two apart by what the process's messaging did on its
 * processor meanwhile: messages sent (a send also queues a pool server
 * that was idle), batches taken or looked for by servers. Fewer than one
 * of those per GEN_SPIN_OWN_ACTIVITY_US, and it was lost (see
 * gen_spin_note_activity()). Sends count because a caller's turn goes to
 * the other callers on its processor, not to the server: counted by the
 * servers' takes alone, a few such turns (about 2 ms each) looked lost
 * and turned yielding off for the whole process, and every call of eight
 * callers then cost the server a wake-up.
 *
 * Lost time is a debt that the process pays back at 1/GEN_SPIN_YIELD_BACKOFF
 * of the time passing. Up to GEN_SPIN_LOST_BURST_US of it, waits go on
 * yielding: a quiet machine loses a slice to some other process now and
 * then, and backing off for it cost eight callers of one server 40%.
 * Beyond that no wait of the process yields until the debt is back within
 * the burst (at most a second at a time): on a busy machine lost yields
 * then cost about 1/GEN_SPIN_YIELD_BACKOFF of the time, and the waits
 * meanwhile spin their busy part and sleep.
 */
#define GEN_SPIN_SLOW_YIELD_US 1000
#define GEN_SPIN_YIELD_BACKOFF 100
#define GEN_SPIN_OWN_ACTIVITY_US 10
#define GEN_SPIN_LOST_BURST_US 5000

/*
 * Who waits, and how (gen_spin_until()).
 *
 * GEN_SPIN_YIELD_ONCE is for a caller of a server that other callers wait
 * on asleep: during the back-off it still yields once before it sleeps.
 * Asleep, it costs the server a futex wake-up to answer (under other
 * processes' load, the server's own time goes to those wake-ups), and it
 * leaves the processor to them; yielding, it stays runnable, and an
 * answer that comes meanwhile costs no wake-up. A yield lost to another
 * process delays this one call by a time slice while the server answers
 * the others. A caller that waits alone still sleeps at once: its own
 * round trip is all that counts there.
 */
typedef enum
{
  GEN_SPIN_SERVER     = 0,      /* a server or a pool worker waiting for work */
  GEN_SPIN_CALLER     = 1 << 0, /* a caller waiting for its reply: the callers' budget */
  GEN_SPIN_YIELD_ONCE = 1 << 1, /* during the back-off, yield once all the same */
  GEN_SPIN_YIELD_ONLY = 1 << 2, /* no busy part: only yield, within the back-off's rules */
} GenSpinFlags;

/* Whether waits may spin at all: the GEN_SPIN environment variable ("0",
 * "off", "no" or "false" turns it off) or gen_scheduler_set_spinning().
 * Any thread. */
gboolean gen_spin_enabled        (void);
void     gen_spin_set_enabled    (gboolean enabled);

/* A slot in the budget of threads spinning at once (one per processor).
 * FALSE when spinning is off or every slot is taken. */
gboolean gen_spin_begin          (void);
void     gen_spin_end            (void);

/* Callers have a budget of their own, one processor short of the machine,
 * so that however many callers wait, one processor is left for the servers
 * that will answer them (at least one). */
gboolean gen_spin_caller_begin   (void);
void     gen_spin_caller_end     (void);

/* Whether a wait may yield at @now (monotonic µs), and the yield
 * back-off's bookkeeping for a yield that began at @began, took @took µs
 * and @lost its processor. Any thread. */
gboolean gen_spin_may_yield      (gint64      now);
void     gen_spin_yield_took     (gint64      began,
                                  gint64      took,
                                  gboolean    lost);

/* The lost time of a process's yields, for gen_spin_yield_took(). */
typedef struct
{
  gint64 debt;    /* µs lost and not paid back yet */
  gint64 paid_at; /* when the debt was last paid down */
  gint64 until;   /* when the latest yield counted ended */
} GenYieldLosses;

/* Counts a lost yield into @losses: the time until which no wait should
 * yield, or 0 while the debt is within the burst. */
gint64   gen_spin_yield_losses_add (GenYieldLosses *losses,
                                    gint64          began,
                                    gint64          took);

/* Tells the yields of this processor that a thread of the process sent a
 * message, or took or looked for a batch of messages here. This processor's count of those, or -1 where the system cannot
 * tell. Whether a yield that took @took µs lost its processor, given
 * @activity of those on it meanwhile. Any thread. */
void     gen_spin_note_activity  (void);
gint     gen_spin_activity_here  (void);
gboolean gen_spin_yield_lost     (gint64      took,
                                  gint        activity);

/* The busy part of this thread's next spin, in µs, and how it adapts. */
gint     gen_spin_pause_us       (void);
void     gen_spin_pause_adapt    (gboolean succeeded);

static inline void
gen_spin_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield");
#endif
}

/* Spins, then yields, for at most GEN_SPIN_NS (and not past @deadline,
 * monotonic µs, -1 for none) until @done returns TRUE. Returns what @done
 * last returned. GEN_SPIN_CALLER in @flags picks the callers' budget.
 * Without a slot in the budget, or with GEN_SPIN_YIELD_ONLY, it only
 * yields; during a yield back-off it does not yield, or once with
 * GEN_SPIN_YIELD_ONCE. Never sleeps. */
gboolean gen_spin_until          (gboolean   (*done) (gpointer data),
                                  gpointer     data,
                                  gint64       deadline,
                                  GenSpinFlags flags);

/*
 * The blocking hook: told when this thread is about to block, waiting for
 * a call's reply, a start, a stop or room in a mailbox, and when it is
 * done. Whoever owns a thread sets it, for that thread only: a pool worker
 * sets its pool's, which starts another worker meanwhile, so that a server
 * queued behind the blocked one still runs (see gen-worker-pool.c).
 * Other threads have none.
 */
typedef struct
{
  void (*begin) (gpointer data);
  void (*end)   (gpointer data);
} GenBlockHook;

/* Sets this thread's hook (@hook static, @data unowned), or clears it with
 * NULL. */
void     gen_spin_set_block_hook (const GenBlockHook *hook,
                                  gpointer            data);
/* Tells this thread's hook, if it has one, that it is about to block.
 * Returns whether gen_spin_block_end() must follow. */
gboolean gen_spin_block_begin    (void);
void     gen_spin_block_end      (void);

G_END_DECLS
