/*
 * spinlock.c - a test-and-test-and-set spinlock with backoff
 * (reference solution).
 *
 * What it shows: a lock is one atomic flag plus the right memory orderings.
 * The exchange that takes the lock is an acquire and the store that releases
 * it is a release; the release of one holder pairs with the acquire of the
 * next, and that pairing is the whole guarantee a lock gives: the critical
 * sections happen one after the other, each seeing what the last one wrote.
 *
 * DESIGN: test-and-test-and-set. A waiter first reads the flag with a
 * relaxed load, which only needs a shared copy of the cache line, and spins
 * on that copy while the lock is held; only when the flag looks free does it
 * try the exchange, which needs the line exclusively. The read is relaxed
 * because it only decides *when* to try: the exchange is what takes the lock,
 * and it carries the acquire. After SPINS_BEFORE_YIELD reads that found the
 * lock held, the waiter calls sched_yield(): on a machine with fewer cores
 * than runnable threads (or in the kit's pinned pass, one CPU) the holder
 * may be waiting for this very CPU, and spinning on would only burn the rest
 * of the time slice.
 */
#define _POSIX_C_SOURCE 200809L
#include "spinlock.h"

#include <sched.h>

/* Reads of a held flag before the waiter gives its CPU away once. */
enum { SPINS_BEFORE_YIELD = 64 };

/* A hint to the CPU that this is a spin-wait loop (x86 PAUSE, Arm YIELD):
 * it saves power and leaves the core's resources to its sibling. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

void spin_init(spinlock *s)
{
    atomic_init(&s->held, false);
}

/* snippet: spin_lock */
void spin_lock(spinlock *s)
{
    for (;;) {
        /* acquire: pairs with the release in spin_unlock(), so the previous
         * holder's writes are visible once the exchange has taken the lock. */
        if (!atomic_exchange_explicit(&s->held, true, memory_order_acquire))
            return;
        /* Test before test-and-set: wait on a shared copy of the line. Relaxed:
         * this read only says when to retry; the exchange above synchronizes. */
        for (unsigned spins = 0; atomic_load_explicit(&s->held, memory_order_relaxed);) {
            cpu_relax();
            if (++spins == SPINS_BEFORE_YIELD) {
                spins = 0;
                sched_yield(); /* let a preempted holder run (one CPU, or more threads than cores) */
            }
        }
    }
}

bool spin_trylock(spinlock *s)
{
    /* A relaxed look first, so that a held lock costs no exclusive cache line;
     * the exchange's acquire pairs with the release in spin_unlock(). */
    return !atomic_load_explicit(&s->held, memory_order_relaxed) &&
           !atomic_exchange_explicit(&s->held, true, memory_order_acquire);
}

void spin_unlock(spinlock *s)
{
    /* release: pairs with the acquire exchange in spin_lock()/spin_trylock(),
     * publishing every write of this critical section to the next holder. */
    atomic_store_explicit(&s->held, false, memory_order_release);
}
/* end snippet: spin_lock */
