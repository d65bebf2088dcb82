/*
 * spinlock.h - a test-and-test-and-set spinlock with backoff
 * (chapter 7, exercise "spinlock").
 *
 * What it shows: the smallest lock there is, built from one atomic flag.
 * Taking the lock is one atomic exchange that turns the flag from false to
 * true; releasing it is one atomic store of false. What makes it a lock and
 * not just a flag is the memory ordering: the exchange that takes the lock
 * is an *acquire*, the store that releases it is a *release*, and the two
 * pair up, so that everything the last holder wrote inside its critical
 * section is visible to the next holder.
 *
 * DESIGN: a waiter does not hammer the flag with exchanges (each one takes
 * the cache line away from every other core); it reads the flag until it
 * looks free and only then tries the exchange (test-and-test-and-set), and
 * after a number of failed rounds it backs off with sched_yield(), so that
 * on one CPU the thread holding the lock gets to run and release it.
 *
 * A spinlock is for critical sections of a few instructions. A thread that
 * waits in spin_lock() is running, not blocked: it burns its CPU for as long
 * as the lock is held. Hold it briefly and never across a call that blocks.
 *
 * This header is the contract; do not change it. Write spinlock.c.
 */
#ifndef TL_SPINLOCK_H
#define TL_SPINLOCK_H

#include <stdatomic.h>
#include <stdbool.h>

/* A spinlock: embed it anywhere; all its state is the one flag. */
typedef struct spinlock {
    atomic_bool held; /* true while some thread holds the lock */
} spinlock;

/* A spinlock, free: `spinlock s = SPINLOCK_INIT;` (or call spin_init). */
#define SPINLOCK_INIT {false}

/* Make s a free lock. Never blocks. */
void spin_init(spinlock *s);

/* Take s, waiting (spinning, then yielding the CPU now and then) for as long
 * as another thread holds it. Returns once the caller holds s; everything the
 * previous holder wrote before its spin_unlock() is then visible to the
 * caller. s must not already be held by the caller (no recursion). */
void spin_lock(spinlock *s);

/* Take s if it is free. Returns true if the caller now holds s (with the same
 * visibility as spin_lock()), false at once if another thread holds it.
 * Never blocks. */
bool spin_trylock(spinlock *s);

/* Release s, which the caller holds: the next thread to take it sees
 * everything the caller wrote before this call. Never blocks. */
void spin_unlock(spinlock *s);

#endif /* TL_SPINLOCK_H */
