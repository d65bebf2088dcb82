/*
 * flusher.c - a write buffer flushed by a background thread. (Your file.)
 *
 * What it asks: writers append items; a background thread hands them to the
 * sink every period and whenever flusher_flush_now() asks; flush_now returns
 * only once everything written before it has been through the sink.
 *
 * DESIGN (to keep): count items as they are written (`written`) and as the
 * sink finishes them (`flushed`), both under one lock. flush_now's ticket is
 * `written` at its call; it sets a request flag, signals the background
 * thread, and waits in a `while (flushed < ticket)`. The background thread
 * waits (timed, CLOCK_MONOTONIC) for the period, a request or stop; swaps the
 * buffer for an empty one under the lock; calls the sink without the lock;
 * then adds to `flushed` and broadcasts. Read book.md section 3.4 first.
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
    /* TODO: a mutex; a condition variable (CLOCK_MONOTONIC) the background
     * thread waits on; one the flush_now callers wait on; the buffer and a
     * spare; `written` and `flushed`; a request flag and a stop flag; the
     * period, sink and ctx; the thread. Say which lock guards what. */
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

/* TODO: the background thread's function (see DESIGN above). */

flusher *flusher_create(long period_ms, flusher_sink_fn sink, void *ctx)
{
    /* TODO: check arguments, allocate, initialise, start the thread. On any
     * failure undo what was done (destroy, free) and return NULL with errno
     * set: no thread running, nothing left allocated. */
    (void)period_ms;
    (void)sink;
    (void)ctx;
    errno = ENOSYS;
    return NULL;
}

int flusher_write(flusher *f, long item)
{
    /* TODO: under the lock, grow the buffer if full (if that fails, append
     * nothing and return ENOMEM), append, count. Never grow the buffer the
     * sink is reading: it may move. */
    (void)f;
    (void)item;
    return ENOSYS;
}

void flusher_flush_now(flusher *f)
{
    /* TODO: take a ticket, request a flush, wait until it is covered. */
    (void)f;
}

void flusher_destroy(flusher *f)
{
    /* TODO: set the stop flag under the lock, signal, join, free. */
    (void)f;
}
