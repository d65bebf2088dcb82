/*
 * ticker.c - a background thread that calls fn every period. (Your file.)
 *
 * What it asks: ticker_start() creates one thread that calls fn(arg) every
 * period_ms milliseconds; ticker_stop() stops it at once - even with a period
 * of an hour - joins it, and returns how many times fn was called.
 *
 * DESIGN (to keep): the thread never sleeps. It waits with
 * pthread_cond_timedwait() on a condition variable set to CLOCK_MONOTONIC,
 * inside a `while` that re-checks the stop flag and whether the deadline has
 * passed. ticker_stop() sets the flag under the lock and signals. Read
 * book.md section 3.2 and 3.3 first, and chapters/03-background-thread/logflush.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "ticker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ticker {
    /* TODO: a mutex; a condition variable whose clock is CLOCK_MONOTONIC; a
     * stop flag and a call count (say which lock guards them); the period,
     * fn and arg; the thread. */
    long period_ms;
};

/* Checked pthread calls, ready to use: they abort with a message on error. */
static inline void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

static inline void mutex_lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_lock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_lock");
}

static inline void mutex_unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_unlock");
}

/* TODO: a helper that initialises a condition variable with
 * pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), and one that returns
 * the CLOCK_MONOTONIC time period_ms from now as a struct timespec. */

/* TODO: the thread function. Lock; until stopped: compute the deadline
 * (once per period, after each call - and keep tv_nsec below 1000000000, or
 * the wait fails at once with EINVAL), wait in a `while` (stop flag not set
 * and the wait did not return ETIMEDOUT), count the call, unlock, call fn,
 * lock again. */

ticker *ticker_start(long period_ms, ticker_fn fn, void *arg)
{
    /* TODO: check the arguments, allocate, initialise the mutex and the
     * condition variable, create the thread; on failure undo what was done
     * (destroy, free) and return NULL with errno set (pthread_create's error
     * is its return value: copy it into errno). */
    (void)period_ms;
    (void)fn;
    (void)arg;
    errno = ENOSYS;
    return NULL;
}

long ticker_stop(ticker *t)
{
    /* TODO: set the stop flag under the lock and signal; join; read the count;
     * destroy and free. */
    (void)t;
    return 0;
}
