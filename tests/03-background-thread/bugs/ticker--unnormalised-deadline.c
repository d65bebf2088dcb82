/* expect: busy-wait */
/* BUG (ticker--unnormalised-deadline): the deadline adds the whole period to tv_nsec without carrying into tv_sec, so pthread_cond_timedwait fails with EINVAL at once, and the loop, which takes any other result for a wake-up, spins. */
/*
 * ticker--unnormalised-deadline.c - KNOWN-BUGGY variant of the ticker: the deadline's nanoseconds are not carried into seconds.
 *
 * What it shows: a background thread's whole life - start, wait for a
 * deadline or a stop request, do the job outside the lock, and stop on
 * request with a join.
 *
 * DESIGN: everything the two threads share (the stop flag, the call count)
 * is guarded by one mutex, and the ticker thread blocks in exactly one place:
 * pthread_cond_timedwait() on a CLOCK_MONOTONIC condition variable, inside a
 * `while` that re-checks both reasons to wake up - the flag, and the deadline
 * having passed (ETIMEDOUT). A spurious wakeup therefore waits again for the
 * same absolute deadline. ticker_stop() sets the flag under the lock and
 * signals, so the thread wakes at once whatever the period, then joins it:
 * after the join no call of fn can be running or start.
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
    pthread_mutex_t lock;
    pthread_cond_t wake;  /* clock CLOCK_MONOTONIC; signalled when stopping is set */
    bool stopping;        /* guarded by lock; set once, by ticker_stop() */
    long calls;           /* guarded by lock; calls of fn started */
    long period_ms;       /* immutable after ticker_start() */
    ticker_fn fn;         /* immutable */
    void *arg;            /* immutable */
    pthread_t thread;
};

/* ------------------------------------------------------- checked pthread calls */

static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

static void mutex_lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_lock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_lock");
}

static void mutex_unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_unlock");
}

static void cond_signal(pthread_cond_t *c)
{
    int rc = pthread_cond_signal(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_signal");
}

/* Wait on c until signalled or the absolute CLOCK_MONOTONIC time `at`.
 * Returns 0 or ETIMEDOUT; aborts on any other error. */
static int cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *at)
{
    return pthread_cond_timedwait(c, m, at); /* BUG: EINVAL is taken for a wake-up */
}

/* Initialise c to measure timed waits on CLOCK_MONOTONIC. Returns 0 or an errno. */
static int cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    int rc = pthread_condattr_init(&a);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return rc;
}

/* The CLOCK_MONOTONIC time ms milliseconds from now. Never blocks. */
static struct timespec deadline_after_ms(long ms)
{
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_nsec += ms * 1000000L; /* BUG: tv_nsec may pass 999999999: EINVAL */
    return at;
}

/* ---------------------------------------------------------------- the thread */

/* The ticker thread: wait a period (or for stop), call fn, repeat. Returns NULL
 * once stopping is set. Blocks in its timed wait only. */
static void *ticker_main(void *arg)
{
    ticker *t = arg;
    mutex_lock(&t->lock);
    while (!t->stopping) {
        struct timespec deadline = deadline_after_ms(t->period_ms);
        int rc = 0;
        while (!t->stopping && rc != ETIMEDOUT)
            rc = cond_timedwait(&t->wake, &t->lock, &deadline);
        if (t->stopping)
            break;
        t->calls++;
        /* fn runs without the lock: ticker_stop() can set the flag meanwhile. */
        mutex_unlock(&t->lock);
        t->fn(t->arg);
        mutex_lock(&t->lock);
    }
    mutex_unlock(&t->lock);
    return NULL;
}

ticker *ticker_start(long period_ms, ticker_fn fn, void *arg)
{
    if (period_ms <= 0 || fn == NULL) {
        errno = EINVAL;
        return NULL;
    }
    ticker *t = calloc(1, sizeof *t);
    if (t == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    t->period_ms = period_ms;
    t->fn = fn;
    t->arg = arg;
    int rc = pthread_mutex_init(&t->lock, NULL);
    if (rc != 0)
        goto fail_free;
    rc = cond_init_monotonic(&t->wake);
    if (rc != 0)
        goto fail_mutex;
    rc = pthread_create(&t->thread, NULL, ticker_main, t);
    if (rc != 0)
        goto fail_cond;
    return t;

fail_cond:
    pthread_cond_destroy(&t->wake);
fail_mutex:
    pthread_mutex_destroy(&t->lock);
fail_free:
    free(t);
    errno = rc;
    return NULL;
}

long ticker_stop(ticker *t)
{
    mutex_lock(&t->lock);
    t->stopping = true;
    cond_signal(&t->wake); /* one waiter: the ticker thread */
    mutex_unlock(&t->lock);
    int rc = pthread_join(t->thread, NULL);
    if (rc != 0)
        die_rc(rc, "pthread_join"); /* EDEADLK: called from fn */
    long calls = t->calls; /* the thread has exited: nobody else touches t */
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
    return calls;
}
