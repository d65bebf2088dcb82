/*
 * queue.c - a bounded blocking queue of tasks (exercise: write it).
 *
 * What it shows: the monitor pattern - one mutex, the state it guards, and
 * one condition variable per reason a thread may have to wait.
 *
 * DESIGN: keep the tasks in a ring buffer of `capacity` slots allocated once
 * in taskq_create(): `head` is the slot to pop next and `count` how many are
 * full, so the tail is (head + count) % capacity. No malloc after create.
 * Wait with `while (!predicate) pthread_cond_wait(...)`, never `if`.
 * Read queue.h for the contract and book section 4.2 for the idea;
 * `make grade EX=04-worker-pool/queue` tells you how you are doing.
 */
#define _POSIX_C_SOURCE 200809L
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct taskq {
    pthread_mutex_t lock;
    pthread_cond_t not_empty; /* TODO: who signals it, and when? */
    pthread_cond_t not_full;  /* TODO: who signals it, and when? */
    /* Guarded by lock. Invariant: head < capacity, count <= capacity. */
    struct task *slots;       /* capacity slots, allocated once */
    size_t capacity, head, count;
    bool closed;              /* guarded by lock; set once, never cleared */
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

taskq *taskq_create(size_t capacity)
{
    /* TODO: reject capacity 0 (EINVAL); allocate the struct and the slots
     * (if either fails, free the other: ENOMEM); initialise the mutex and
     * both condition variables. */
    (void)capacity;
    errno = ENOSYS;
    return NULL;
}

int taskq_push(taskq *q, struct task t)
{
    /* TODO: lock; wait while full and open; if closed, fail with EPIPE;
     * store t at the tail; wake one popper; unlock. */
    (void)q;
    (void)t;
    return ENOSYS;
}

int taskq_pop(taskq *q, struct task *out)
{
    /* TODO: lock; wait while empty and open; if still empty (so closed),
     * fail with EPIPE; take the head; wake one pusher; unlock. */
    (void)q;
    (void)out;
    return ENOSYS;
}

void taskq_close(taskq *q)
{
    /* TODO: set closed under the lock and wake every waiter of both kinds. */
    (void)q;
}

size_t taskq_len(taskq *q)
{
    /* TODO: read count under the lock. */
    (void)q;
    return 0;
}

void taskq_destroy(taskq *q)
{
    /* TODO: destroy the condition variables and the mutex, free the slots and q. */
    (void)q;
}
