/* expect: wrong-result|lost-wakeup */
/* BUG (flusher--if-not-while): flush_now waits with `if` instead of `while`, so the wake-up for an earlier batch (or a spurious one) returns it before its own items reached the sink. */
/*
 * flusher--if-not-while.c - KNOWN-BUGGY variant of the flusher: `if` instead of `while` around flush_now's wait.
 *
 * What it shows: a background thread that wakes for three reasons - its
 * period ran out, someone asked for a flush, or it is told to stop - and a
 * request/acknowledge handshake built from two condition variables and two
 * counters.
 *
 * DESIGN: one mutex guards everything shared. The background thread waits on
 * `wake` (CLOCK_MONOTONIC, absolute deadline) in a `while` over its three
 * reasons. It then swaps the writers' buffer for an empty spare under the
 * lock, calls the sink with the lock released - writers go on appending to
 * the other buffer - and, with the lock taken again, adds the batch to
 * `flushed` and broadcasts `done`. flusher_flush_now() takes a ticket (the
 * value of `written`) and waits in a `while (flushed < ticket)`: a wakeup for
 * an earlier, smaller batch sends it back to wait, and broadcast (not signal)
 * makes sure every caller gets to re-check its own ticket.
 */
#define _POSIX_C_SOURCE 200809L
#include "flusher.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct flusher {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* CLOCK_MONOTONIC; signalled when requested or stopping is set */
    pthread_cond_t done; /* broadcast whenever flushed grows */
    /* Guarded by lock. Invariant: flushed + (items in the sink) + len == written. */
    long *buf;           /* the writers' buffer: len items of cap */
    size_t len, cap;
    long *spare;         /* the empty buffer swapped in at each flush */
    size_t spare_cap;
    long written;        /* items ever appended */
    long flushed;        /* items the sink has returned from */
    bool requested;      /* a flusher_flush_now() caller waits for a flush */
    bool stopping;       /* set once, by flusher_destroy() */
    /* Immutable after flusher_create(). */
    long period_ms;
    flusher_sink_fn sink;
    void *ctx;
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

static void cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    int rc = pthread_cond_wait(c, m);
    if (rc != 0)
        die_rc(rc, "pthread_cond_wait");
}

/* Wait on c until signalled or the absolute CLOCK_MONOTONIC time `at`.
 * Returns 0 or ETIMEDOUT; aborts on any other error. */
static int cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *at)
{
    int rc = pthread_cond_timedwait(c, m, at);
    if (rc != 0 && rc != ETIMEDOUT)
        die_rc(rc, "pthread_cond_timedwait");
    return rc;
}

static void cond_signal(pthread_cond_t *c)
{
    int rc = pthread_cond_signal(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_signal");
}

static void cond_broadcast(pthread_cond_t *c)
{
    int rc = pthread_cond_broadcast(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_broadcast");
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
    at.tv_sec += ms / 1000;
    at.tv_nsec += (ms % 1000) * 1000000L;
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    return at;
}

/* ---------------------------------------------------------------- the thread */

/* The background thread: wait for the period, a request or stop; flush; repeat.
 * After stop it flushes what is left and returns NULL. Blocks in its timed wait
 * and, for the lock, while writers append. */
static void *flusher_main(void *arg)
{
    flusher *f = arg;
    mutex_lock(&f->lock);
    for (;;) {
        struct timespec deadline = deadline_after_ms(f->period_ms);
        int rc = 0;
        while (!f->stopping && !f->requested && rc != ETIMEDOUT)
            rc = cond_timedwait(&f->wake, &f->lock, &deadline);
        bool last = f->stopping; /* nobody writes once destroy has begun */
        f->requested = false;
        long *batch = f->buf;    /* take the writers' buffer, give them the spare */
        size_t n = f->len, batch_cap = f->cap;
        f->buf = f->spare;
        f->cap = f->spare_cap;
        f->len = 0;
        mutex_unlock(&f->lock);
        if (n > 0)
            f->sink(f->ctx, batch, n); /* the slow part, without the lock */
        mutex_lock(&f->lock);
        f->spare = batch;
        f->spare_cap = batch_cap;
        if (n > 0) {
            f->flushed += (long)n;
            cond_broadcast(&f->done); /* each waiter checks its own ticket */
        }
        if (last)
            break;
    }
    mutex_unlock(&f->lock);
    return NULL;
}

/* ---------------------------------------------------------------- the API */

flusher *flusher_create(long period_ms, flusher_sink_fn sink, void *ctx)
{
    if (period_ms <= 0 || sink == NULL) {
        errno = EINVAL;
        return NULL;
    }
    flusher *f = calloc(1, sizeof *f);
    if (f == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    f->period_ms = period_ms;
    f->sink = sink;
    f->ctx = ctx;
    int rc = pthread_mutex_init(&f->lock, NULL);
    if (rc != 0)
        goto fail_free;
    rc = cond_init_monotonic(&f->wake);
    if (rc != 0)
        goto fail_mutex;
    rc = pthread_cond_init(&f->done, NULL);
    if (rc != 0)
        goto fail_wake;
    rc = pthread_create(&f->thread, NULL, flusher_main, f);
    if (rc != 0)
        goto fail_done;
    return f;

fail_done:
    pthread_cond_destroy(&f->done);
fail_wake:
    pthread_cond_destroy(&f->wake);
fail_mutex:
    pthread_mutex_destroy(&f->lock);
fail_free:
    free(f);
    errno = rc;
    return NULL;
}

int flusher_write(flusher *f, long item)
{
    mutex_lock(&f->lock);
    if (f->len == f->cap) {
        size_t cap = f->cap != 0 ? 2 * f->cap : 64;
        long *buf = realloc(f->buf, cap * sizeof *buf);
        if (buf == NULL) {
            mutex_unlock(&f->lock);
            return ENOMEM;
        }
        f->buf = buf;
        f->cap = cap;
    }
    f->buf[f->len++] = item;
    f->written++;
    mutex_unlock(&f->lock);
    return 0;
}

void flusher_flush_now(flusher *f)
{
    mutex_lock(&f->lock);
    long ticket = f->written; /* everything written before this call */
    if (f->flushed < ticket) {
        f->requested = true;
        cond_signal(&f->wake); /* one waiter: the background thread */
        if (f->flushed < ticket) /* BUG: any wakeup is taken as the answer */
            cond_wait(&f->done, &f->lock);
    }
    mutex_unlock(&f->lock);
}

void flusher_destroy(flusher *f)
{
    mutex_lock(&f->lock);
    f->stopping = true;
    cond_signal(&f->wake);
    mutex_unlock(&f->lock);
    int rc = pthread_join(f->thread, NULL);
    if (rc != 0)
        die_rc(rc, "pthread_join");
    pthread_cond_destroy(&f->done);
    pthread_cond_destroy(&f->wake);
    pthread_mutex_destroy(&f->lock);
    free(f->buf);
    free(f->spare);
    free(f);
}
