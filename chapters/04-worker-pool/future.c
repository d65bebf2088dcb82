/*
 * future.c - futures on top of the worker pool (exercise: write it).
 *
 * What it shows: a result slot shared by a worker (who fills it once) and
 * any number of clients (who wait for it), with its lifetime settled by a
 * count of owners rather than by either side.
 *
 * DESIGN: future_submit() creates the future with two owners - the client's
 * handle and the queued task - and queues future_run(f) on the pool. The
 * worker runs the client's function with no lock held, publishes the
 * outcome (done = true under the lock, then wake *every* getter), and lets
 * go of its ownership; future_destroy() lets go of the client's. Whoever
 * drops the count to zero frees the future. Read future.h for the contract
 * and book section 4.5; `make grade EX=04-worker-pool/future` (it links
 * your pool.c too).
 */
#define _POSIX_C_SOURCE 200809L
#include "future.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct future {
    /* Written by future_submit() before the task is queued, read-only after. */
    future_fn fn;
    void *arg;
    /* The outcome: written once, by whoever completes the future, before it
     * sets done; read only by threads that have seen done == true under lock. */
    int err;
    void *result;
    pthread_mutex_t lock;
    pthread_cond_t done_cv; /* TODO: who wakes it, and whom must it wake? */
    bool done;              /* guarded by lock; false -> true once */
    int owners;             /* guarded by lock; the client's handle + the queued task */
};

/* Checked pthread calls: use these, they abort with a message on error.
 * (static inline: the compiler does not warn while they are unused.) */
static void die_rc(int rc, const char *what)
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

static inline void cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    int rc = pthread_cond_wait(c, m);
    if (rc != 0)
        die_rc(rc, "pthread_cond_wait");
}

static inline void cond_broadcast(pthread_cond_t *c)
{
    int rc = pthread_cond_broadcast(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_broadcast");
}

/* The pool task behind every future: run the client's function, publish
 * the outcome, let go of the task's ownership. */
static inline void future_run(void *arg)
{
    /* TODO */
    (void)arg;
}

future *future_submit(pool *p, future_fn fn, void *arg)
{
    /* TODO: allocate and initialise a future with two owners (ENOMEM if the
     * allocation fails); queue future_run on p; if the pool refuses, free it
     * and fail with its error. */
    (void)p;
    (void)fn;
    (void)arg;
    errno = ENOSYS;
    return NULL;
}

int future_get(future *f, void **result)
{
    /* TODO: lock; wait until done; copy out the outcome; unlock. */
    (void)f;
    (void)result;
    return ENOSYS;
}

void future_destroy(future *f)
{
    /* TODO: let go of the client's ownership; free f if it was the last. */
    (void)f;
}

void future_dropped(pool_fn fn, void *arg)
{
    /* TODO: if fn is future_run, complete arg's future with ECANCELED and
     * let go of the dropped task's ownership; otherwise do nothing. */
    (void)fn;
    (void)arg;
}
