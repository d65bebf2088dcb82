/* expect: lost-wakeup */
/* BUG (pool--signal-at-shutdown): pool_destroy signals not_empty instead of broadcasting: one idle worker wakes up and exits, the others sleep on, and pool_destroy waits forever to join them */
/*
 * pool.c - a pool of worker threads fed through a bounded task queue
 * (a known-buggy variant: see the BUG line above).
 *
 * What it shows: a worker pool is a task queue, some threads that loop
 * "take a task, run it", and a little bookkeeping so that clients can wait
 * for the pool to go idle and shut it down in two ways.
 *
 * DESIGN: a single mutex guards everything: the ring buffer of queued tasks,
 * `running` (tasks taken but not finished) and the shutdown flags. Because
 * a worker takes a task and counts it as running in one critical section,
 * "count == 0 && running == 0" really means idle. A worker also finishes one
 * task and takes the next in a single critical section, so the hot path
 * costs the worker one lock round trip per task and the submitter one; and
 * wake-ups are sent only when somebody is known to be waiting for them
 * (idle_workers, blocked_submitters, idle_waiters), so a busy pool makes no
 * system calls at all. Nothing is allocated per task: tasks are copied into
 * slots allocated once.
 *
 * A submitter blocked on a full queue is woken when the workers have freed
 * half of it, not at every freed slot: it then refills that half without
 * sleeping again, so it pays one wake-up (a futex call by the worker, a
 * context switch for itself) per capacity/2 tasks instead of one per task,
 * and the workers, which never find the queue empty, keep both cores busy.
 * Its wait is still "while the queue is full": a spurious or early wake-up
 * finds room and goes on. (With capacity 1 or 2 it is woken at every freed
 * slot, as before. The price: a submitter may sleep while a few slots are
 * free, until the workers take capacity/2 more tasks, so a task that waits
 * for a blocked submitter's task could wait longer than with one wake-up
 * per slot.)
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
    pthread_cond_t not_empty; /* workers wait here: a task arrived, or closing was set */
    pthread_cond_t not_full;  /* submitters wait here: half the queue freed, or cancelled was set */
    pthread_cond_t idle;      /* pool_wait() waits here: count and running reached 0 */
    /* Guarded by lock. Invariant: head < capacity, count <= capacity. */
    struct slot *slots;
    size_t capacity, head, count;
    size_t running;             /* tasks taken by a worker and not yet finished */
    size_t idle_workers;        /* workers waiting on not_empty */
    size_t blocked_submitters;  /* submitters waiting on not_full */
    size_t idle_waiters;        /* pool_wait() callers waiting on idle */
    bool cancelled;             /* set once by pool_cancel(): submits fail */
    bool closing;               /* set once by pool_destroy(): workers exit when drained */
    /* Written by pool_create() before any worker starts, read-only after. */
    size_t nthreads;
    pthread_t *threads;
};

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

/* Wake pool_wait() callers if the pool just went idle. Caller holds p->lock. */
static void notify_if_idle(pool *p)
{
    if (p->count == 0 && p->running == 0 && p->idle_waiters > 0)
        cond_broadcast(&p->idle);
}

/* The worker loop: take a task, run it without the lock, repeat; return
 * when closing is set and the queue is drained. Blocks on not_empty. */
static void *worker_main(void *arg)
{
    pool *p = arg;
    mutex_lock(&p->lock);
    for (;;) {
        while (p->count == 0 && !p->closing) {
            p->idle_workers++;
            cond_wait(&p->not_empty, &p->lock);
            p->idle_workers--;
        }
        if (p->count == 0) /* closing, and nothing left to run */
            break;
        struct slot t = p->slots[p->head];
        p->head = p->head + 1 == p->capacity ? 0 : p->head + 1;
        p->count--;
        p->running++;
        if (p->blocked_submitters > 0 && p->count == p->capacity / 2)
            cond_broadcast(&p->not_full); /* half the queue free: room for a burst */
        mutex_unlock(&p->lock);

        t.fn(t.arg); /* never under the lock: tasks run in parallel */

        mutex_lock(&p->lock);
        p->running--;
        notify_if_idle(p);
    }
    mutex_unlock(&p->lock);
    return NULL;
}

/* Tell the first n workers to stop, join them, and free p. */
static void stop_and_free(pool *p, size_t n)
{
    mutex_lock(&p->lock);
    p->closing = true;
    cond_signal(&p->not_empty); /* BUG: "wake the workers" - but this wakes one */
    mutex_unlock(&p->lock);
    for (size_t i = 0; i < n; i++) {
        int rc = pthread_join(p->threads[i], NULL);
        if (rc != 0)
            die_rc(rc, "pthread_join");
    }
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->not_full);
    pthread_cond_destroy(&p->not_empty);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p->slots);
    free(p);
}

pool *pool_create(size_t nthreads, size_t capacity)
{
    if (nthreads == 0 || capacity == 0) {
        errno = EINVAL;
        return NULL;
    }
    pool *p = calloc(1, sizeof *p);
    struct slot *slots = calloc(capacity, sizeof *slots);
    pthread_t *threads = calloc(nthreads, sizeof *threads);
    if (p == NULL || slots == NULL || threads == NULL) {
        free(p);
        free(slots);
        free(threads);
        errno = ENOMEM;
        return NULL;
    }
    int rc = pthread_mutex_init(&p->lock, NULL);
    if (rc == 0 && (rc = pthread_cond_init(&p->not_empty, NULL)) != 0)
        pthread_mutex_destroy(&p->lock);
    if (rc == 0 && (rc = pthread_cond_init(&p->not_full, NULL)) != 0) {
        pthread_cond_destroy(&p->not_empty);
        pthread_mutex_destroy(&p->lock);
    }
    if (rc == 0 && (rc = pthread_cond_init(&p->idle, NULL)) != 0) {
        pthread_cond_destroy(&p->not_full);
        pthread_cond_destroy(&p->not_empty);
        pthread_mutex_destroy(&p->lock);
    }
    if (rc != 0) {
        free(p);
        free(slots);
        free(threads);
        errno = rc;
        return NULL;
    }
    p->slots = slots;
    p->capacity = capacity;
    p->threads = threads;
    p->nthreads = nthreads;
    for (size_t i = 0; i < nthreads; i++) {
        rc = pthread_create(&p->threads[i], NULL, worker_main, p);
        if (rc != 0) {
            stop_and_free(p, i);
            errno = rc;
            return NULL;
        }
    }
    return p;
}

int pool_submit(pool *p, pool_fn fn, void *arg)
{
    mutex_lock(&p->lock);
    while (p->count == p->capacity && !p->cancelled) {
        p->blocked_submitters++;
        cond_wait(&p->not_full, &p->lock);
        p->blocked_submitters--;
    }
    if (p->cancelled) {
        mutex_unlock(&p->lock);
        return EPIPE;
    }
    size_t tail = p->head + p->count;
    if (tail >= p->capacity)
        tail -= p->capacity;
    p->slots[tail] = (struct slot){fn, arg};
    p->count++;
    if (p->idle_workers > 0)
        cond_signal(&p->not_empty); /* one task: one idle worker is enough */
    mutex_unlock(&p->lock);
    return 0;
}

void pool_wait(pool *p)
{
    mutex_lock(&p->lock);
    while (p->count > 0 || p->running > 0) {
        p->idle_waiters++;
        cond_wait(&p->idle, &p->lock);
        p->idle_waiters--;
    }
    mutex_unlock(&p->lock);
}

size_t pool_cancel(pool *p, void (*dropped)(pool_fn fn, void *arg))
{
    mutex_lock(&p->lock);
    p->cancelled = true;
    size_t n = p->count;
    for (size_t i = 0; i < n; i++) {
        struct slot t = p->slots[p->head];
        p->head = p->head + 1 == p->capacity ? 0 : p->head + 1;
        if (dropped != NULL)
            dropped(t.fn, t.arg);
    }
    p->count = 0;
    cond_broadcast(&p->not_full); /* blocked submitters must see cancelled */
    notify_if_idle(p);
    mutex_unlock(&p->lock);
    return n;
}

void pool_destroy(pool *p)
{
    if (p != NULL)
        stop_and_free(p, p->nthreads);
}
