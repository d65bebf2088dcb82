/*
 * spinlock.c - a test-and-test-and-set spinlock with backoff
 * (exercise: write it).
 *
 * What it shows: a lock is one atomic flag plus the right memory orderings.
 * Taking the lock must be an *acquire*, releasing it a *release*, and every
 * ordering you write gets a comment naming the operation it pairs with.
 *
 * DESIGN: test-and-test-and-set. A waiter reads the flag (a cheap load that
 * only needs a shared copy of the cache line) until it looks free, and only
 * then tries to take it with an atomic exchange; after a number of reads
 * that found it held, it calls sched_yield() so that a preempted holder can
 * run (on one CPU nothing else would release the lock). Use <stdatomic.h>'s
 * *_explicit operations. Read spinlock.h for the contract and book section
 * 7.3 for the idea; `make grade EX=07-atomics/spinlock` tells you how you
 * are doing.
 */
#define _POSIX_C_SOURCE 200809L
#include "spinlock.h"

#include <sched.h>

void spin_init(spinlock *s)
{
    atomic_init(&s->held, false);
}

void spin_lock(spinlock *s)
{
    /* TODO: loop: try to take the lock with atomic_exchange_explicit (which
     * ordering, and which operation does it pair with?); if it was held, read
     * the flag until it looks free, yielding now and then, and try again. */
    (void)s;
}

bool spin_trylock(spinlock *s)
{
    /* TODO: one attempt, never a wait. */
    (void)s;
    return false;
}

void spin_unlock(spinlock *s)
{
    /* TODO: release the lock (which ordering, and what does it pair with?). */
    (void)s;
}
