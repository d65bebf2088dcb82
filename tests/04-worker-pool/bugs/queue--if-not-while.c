/* expect: wrong-result|lost-wakeup */
/* BUG (queue--if-not-while): waits with `if` instead of `while`, so a popper woken after another thread took the task goes on as if the queue were closed, and a pusher woken after another pusher refilled the slot overwrites a queued task (the counts go wrong, and one pusher may then sleep for good on a queue that looks full: the sched pass can see that as a lost wake-up) */
/*
 * queue.c - a bounded blocking queue of tasks (a known-buggy variant: see the BUG line above).
 *
 * What it shows: the textbook monitor. One mutex, the state it guards, and
 * one condition variable per reason to wait.
 *
 * DESIGN: the queue is a ring buffer of `capacity` task slots: `head` is the
 * next slot to pop and `count` how many are full, so the tail is
 * (head + count) % capacity and no slot is ever allocated after create. A
 * waiter re-checks its predicate in a `while` loop after every wake-up,
 * because a wake-up is only a hint: another thread may have taken the item
 * first, or the wake-up may be spurious. Each push signals one popper and
 * each pop signals one pusher (exactly one slot changed hands, so exactly
 * one waiter can use it); close changes the answer for everyone, so it
 * broadcasts on both conditions.
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
    pthread_cond_t not_empty; /* signalled by push, broadcast by close */
    pthread_cond_t not_full;  /* signalled by pop, broadcast by close */
    /* Guarded by lock. Invariant: head < capacity, count <= capacity. */
    struct task *slots;       /* capacity slots, allocated once */
    size_t capacity, head, count;
    bool closed;              /* guarded by lock; set once, never cleared */
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

taskq *taskq_create(size_t capacity)
{
    if (capacity == 0) {
        errno = EINVAL;
        return NULL;
    }
    taskq *q = calloc(1, sizeof *q);
    struct task *slots = calloc(capacity, sizeof *slots);
    if (q == NULL || slots == NULL) {
        free(q);
        free(slots);
        errno = ENOMEM;
        return NULL;
    }
    int rc = pthread_mutex_init(&q->lock, NULL);
    if (rc == 0) {
        rc = pthread_cond_init(&q->not_empty, NULL);
        if (rc == 0) {
            rc = pthread_cond_init(&q->not_full, NULL);
            if (rc != 0)
                pthread_cond_destroy(&q->not_empty);
        }
        if (rc != 0)
            pthread_mutex_destroy(&q->lock);
    }
    if (rc != 0) {
        free(slots);
        free(q);
        errno = rc;
        return NULL;
    }
    q->slots = slots;
    q->capacity = capacity;
    return q;
}

int taskq_push(taskq *q, struct task t)
{
    mutex_lock(&q->lock);
    if (q->count == q->capacity && !q->closed)
        cond_wait(&q->not_full, &q->lock); /* BUG: `if`: may go on while still full */
    if (q->closed) {
        mutex_unlock(&q->lock);
        return EPIPE;
    }
    q->slots[(q->head + q->count) % q->capacity] = t;
    q->count++;
    cond_signal(&q->not_empty); /* one more task: one popper can proceed */
    mutex_unlock(&q->lock);
    return 0;
}

int taskq_pop(taskq *q, struct task *out)
{
    mutex_lock(&q->lock);
    if (q->count == 0 && !q->closed)
        cond_wait(&q->not_empty, &q->lock); /* BUG: `if`: nobody re-checks after waking */
    if (q->count == 0) { /* closed and drained */
        mutex_unlock(&q->lock);
        return EPIPE;
    }
    *out = q->slots[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    cond_signal(&q->not_full); /* one more free slot: one pusher can proceed */
    mutex_unlock(&q->lock);
    return 0;
}

void taskq_close(taskq *q)
{
    mutex_lock(&q->lock);
    q->closed = true;
    /* Every waiter's predicate just changed: wake them all. */
    cond_broadcast(&q->not_empty);
    cond_broadcast(&q->not_full);
    mutex_unlock(&q->lock);
}

size_t taskq_len(taskq *q)
{
    mutex_lock(&q->lock);
    size_t n = q->count;
    mutex_unlock(&q->lock);
    return n;
}

void taskq_destroy(taskq *q)
{
    if (q == NULL)
        return;
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    free(q->slots);
    free(q);
}
