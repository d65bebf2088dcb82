/*
 * chan.c - a bounded blocking channel with counted senders and receivers
 * (reference solution).
 *
 * What it shows: the monitor of chapter 4's task queue, with the close
 * rules split between the two ends: end-of-stream belongs to the senders,
 * "nobody listens any more" to the receivers.
 *
 * DESIGN: a ring buffer of `capacity` message pointers, allocated once:
 * `head` is the next slot to receive and `count` how many are full. The
 * handle counts `senders` and `receivers` only go down. Every wait re-checks
 * its predicate in a `while` loop, because a wake-up is only a hint (another
 * receiver may have taken the message first, or the wake-up was spurious).
 * Speed comes from not waking anyone needlessly: a thread counts itself in
 * recv_waiting or send_waiting around its wait, so a send signals not_empty
 * only when a receiver is asleep, and a receive signals not_full only when a
 * sender is; a busy channel makes no futex calls at all. One slot changed
 * hands, so one waiter is signalled; a close that ends a side changes the
 * answer for every waiter on the other side, so it broadcasts.
 */
#define _POSIX_C_SOURCE 200809L
#include "chan.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chan {
    pthread_mutex_t lock;
    pthread_cond_t not_empty; /* receivers wait: a message arrived, or the last sender closed */
    pthread_cond_t not_full;  /* senders wait: a slot was freed, or the last receiver closed */
    /* Guarded by lock. Invariant: head < capacity, count <= capacity. */
    void **ring;              /* capacity slots, allocated once */
    size_t capacity, head, count;
    unsigned senders, receivers;         /* open handles; they only go down */
    unsigned recv_waiting, send_waiting; /* threads inside cond_wait on not_empty / not_full */
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

chan *chan_create(size_t capacity, unsigned senders, unsigned receivers)
{
    if (capacity == 0 || senders == 0 || receivers == 0) {
        errno = EINVAL;
        return NULL;
    }
    chan *c = calloc(1, sizeof *c);
    void **ring = calloc(capacity, sizeof *ring);
    if (c == NULL || ring == NULL) {
        free(c);
        free(ring);
        errno = ENOMEM;
        return NULL;
    }
    int rc = pthread_mutex_init(&c->lock, NULL);
    if (rc == 0) {
        rc = pthread_cond_init(&c->not_empty, NULL);
        if (rc == 0) {
            rc = pthread_cond_init(&c->not_full, NULL);
            if (rc != 0)
                pthread_cond_destroy(&c->not_empty);
        }
        if (rc != 0)
            pthread_mutex_destroy(&c->lock);
    }
    if (rc != 0) {
        free(ring);
        free(c);
        errno = rc;
        return NULL;
    }
    c->ring = ring;
    c->capacity = capacity;
    c->senders = senders;
    c->receivers = receivers;
    return c;
}

int chan_send(chan *c, void *msg)
{
    mutex_lock(&c->lock);
    while (c->count == c->capacity && c->receivers > 0) {
        c->send_waiting++;
        cond_wait(&c->not_full, &c->lock);
        c->send_waiting--;
    }
    if (c->receivers == 0) { /* nobody will ever receive it: msg stays the caller's */
        mutex_unlock(&c->lock);
        return EPIPE;
    }
    c->ring[(c->head + c->count) % c->capacity] = msg;
    c->count++;
    if (c->recv_waiting > 0) /* one message: one receiver can proceed */
        cond_signal(&c->not_empty);
    mutex_unlock(&c->lock);
    return 0;
}

int chan_recv(chan *c, void **out)
{
    mutex_lock(&c->lock);
    while (c->count == 0 && c->senders > 0) {
        c->recv_waiting++;
        cond_wait(&c->not_empty, &c->lock);
        c->recv_waiting--;
    }
    if (c->count == 0) { /* every sender closed, and the queue is drained */
        mutex_unlock(&c->lock);
        return EPIPE;
    }
    *out = c->ring[c->head];
    c->head = (c->head + 1) % c->capacity;
    c->count--;
    if (c->send_waiting > 0) /* one free slot: one sender can proceed */
        cond_signal(&c->not_full);
    mutex_unlock(&c->lock);
    return 0;
}

void chan_close_sender(chan *c)
{
    mutex_lock(&c->lock);
    if (c->senders > 0 && --c->senders == 0)
        cond_broadcast(&c->not_empty); /* end-of-stream: every receiver must see it */
    mutex_unlock(&c->lock);
}

void chan_close_receiver(chan *c)
{
    mutex_lock(&c->lock);
    if (c->receivers > 0 && --c->receivers == 0)
        cond_broadcast(&c->not_full); /* nobody listens: every sender must give up */
    mutex_unlock(&c->lock);
}

size_t chan_len(chan *c)
{
    mutex_lock(&c->lock);
    size_t n = c->count;
    mutex_unlock(&c->lock);
    return n;
}

void chan_destroy(chan *c, void (*drop)(void *msg))
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->count; i++)
        if (drop != NULL)
            drop(c->ring[(c->head + i) % c->capacity]);
    pthread_cond_destroy(&c->not_full);
    pthread_cond_destroy(&c->not_empty);
    pthread_mutex_destroy(&c->lock);
    free(c->ring);
    free(c);
}
