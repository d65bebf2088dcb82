/*
 * pool.c - a pool of worker threads fed through a bounded task queue
 * (exercise: write it).
 *
 * What it shows: a worker pool is a task queue, some threads that loop
 * "take a task, run it", and a little bookkeeping so that clients can wait
 * for the pool to go idle and shut it down in two ways.
 *
 * DESIGN: one mutex guards everything below - the ring buffer of queued
 * tasks (as in your queue.c), `running` (tasks a worker has taken and not
 * finished) and the two shutdown flags - so that "count == 0 && running == 0"
 * really means idle. A worker takes a task and counts it as running in the
 * same critical section, and runs it with the lock released. Three
 * condition variables, one per reason to wait. Read pool.h for the contract
 * and book sections 4.3 and 4.4; `make grade EX=04-worker-pool/pool`.
 */
#define _POSIX_C_SOURCE 200809L
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    pool_fn fn;
    void *arg;
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t not_empty; /* workers wait here. TODO: who wakes them, and when? */
    pthread_cond_t not_full;  /* submitters wait here. TODO: who wakes them, and when? */
    pthread_cond_t idle;      /* pool_wait() waits here. TODO: who wakes it, and when? */
    /* Guarded by lock. Invariant: head < capacity, count <= capacity. */
    struct slot *slots;
    size_t capacity, head, count;
    size_t running;           /* tasks taken by a worker and not yet finished */
    bool cancelled;           /* set once by pool_cancel(): submits fail */
    bool closing;             /* set once by pool_destroy(): workers exit when drained */
    /* Written by pool_create() before any worker starts, read-only after. */
    size_t nthreads;
    pthread_t *threads;
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

static inline void cond_signal(pthread_cond_t *c)
{
    int rc = pthread_cond_signal(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_signal");
}

static inline void cond_broadcast(pthread_cond_t *c)
{
    int rc = pthread_cond_broadcast(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_broadcast");
}

/* The worker loop: take a task, run it without the lock, repeat; return
 * when closing is set and the queue is drained. Blocks on not_empty. */
static inline void *worker_main(void *arg)
{
    /* TODO: lock; loop { wait while the queue is empty and not closing;
     * if it is still empty, stop; take the head task, count it as running,
     * wake a blocked submitter; unlock; run it; lock; it is no longer
     * running - if the pool is now idle, wake pool_wait() }; unlock. */
    (void)arg;
    return NULL;
}

pool *pool_create(size_t nthreads, size_t capacity)
{
    /* TODO: reject 0 (EINVAL); allocate the pool, the slots and the thread
     * handles (if one allocation fails, free the others: ENOMEM); initialise
     * the lock and conditions; start nthreads workers. If the k-th
     * pthread_create fails, set closing, wake and join the k-1 that did
     * start, free everything and return NULL with errno = its error. */
    (void)nthreads;
    (void)capacity;
    errno = ENOSYS;
    return NULL;
}

int pool_submit(pool *p, pool_fn fn, void *arg)
{
    /* TODO: lock; wait while the queue is full and not cancelled; EPIPE if
     * cancelled; append the task; wake one idle worker; unlock. */
    (void)p;
    (void)fn;
    (void)arg;
    return ENOSYS;
}

void pool_wait(pool *p)
{
    /* TODO: lock; wait while anything is queued or running; unlock. */
    (void)p;
}

size_t pool_cancel(pool *p, void (*dropped)(pool_fn fn, void *arg))
{
    /* TODO: lock; set cancelled; empty the queue, calling dropped (if not
     * NULL) for each task; wake blocked submitters, and pool_wait() if the
     * pool is now idle; unlock; return how many were dropped. */
    (void)p;
    (void)dropped;
    return 0;
}

void pool_destroy(pool *p)
{
    /* TODO: lock; set closing; wake every idle worker; unlock; join every
     * worker; destroy the lock and conditions; free everything. */
    (void)p;
}
