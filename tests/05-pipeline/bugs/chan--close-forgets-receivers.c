/* expect: lost-wakeup */
/* BUG (chan--close-forgets-receivers): the last sender's close counts the handle down but wakes nobody: receivers already asleep on the empty channel never learn that the stream ended and wait forever */
/*
 * chan.c - a bounded blocking channel with counted senders and receivers
 * (a known-buggy variant: see the BUG line above).
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
 * Speed comes from not waking anyone needlessly. Each reason to wait is a
 * `struct waiters`: the condition variable, how many threads are asleep on
 * it, and how many of those have been signalled and not yet run. A send
 * signals a receiver only when some receiver is asleep *and not already
 * signalled*, a receive the same for senders: one slot changed hands, so
 * one waiter is enough, and a waiter already on its way back to the lock is
 * not signalled again and again. (Counting only the sleepers is not enough:
 * a woken thread still counts as asleep until it gets the lock back, and on
 * a busy channel the other side meanwhile takes the lock many times, each
 * time calling pthread_cond_signal() for nobody - glibc's slow path, with a
 * lock of its own. In `make bench`, 1 sender and 1 receiver through 1024
 * slots made about one such call per message.) A close that ends a side
 * changes the answer for every waiter on the other side, so it broadcasts.
 */
#define _POSIX_C_SOURCE 200809L
#include "chan.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The threads waiting on one condition variable, guarded by the lock they
 * wait with. Invariant: woken <= asleep. woken never exceeds the threads
 * that are awake but still counted in asleep (signalled, or woken
 * spuriously, and not yet back from wait_on()), so asleep > woken whenever
 * some thread is asleep with no signal on its way: wake_one() then signals. */
struct waiters {
    pthread_cond_t cond;
    unsigned asleep;  /* threads inside wait_on() */
    unsigned woken;   /* signals sent by wake_one() that no thread has yet returned from */
};

struct chan {
    pthread_mutex_t lock;
    struct waiters not_empty; /* receivers wait: a message arrived, or the last sender closed */
    struct waiters not_full;  /* senders wait: a slot was freed, or the last receiver closed */
    /* Guarded by lock. Invariant: head < capacity, count <= capacity. */
    void **ring;              /* capacity slots, allocated once */
    size_t capacity, head, count;
    unsigned senders, receivers;         /* open handles; they only go down */
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

/* Sleep on w until signalled (or spuriously woken); the caller holds m and
 * re-checks its predicate. Blocks on w->cond. */
static void wait_on(struct waiters *w, pthread_mutex_t *m)
{
    w->asleep++;
    cond_wait(&w->cond, m);
    w->asleep--;
    if (w->woken > 0) /* one signal is used up, by us or by the thread it woke */
        w->woken--;
}

/* Signal one thread asleep on w that no signal is already on its way to.
 * Caller holds the lock. */
static void wake_one(struct waiters *w)
{
    if (w->asleep > w->woken) {
        w->woken++;
        cond_signal(&w->cond);
    }
}

/* Wake every thread asleep on w. Caller holds the lock. */
static void wake_all(struct waiters *w)
{
    w->woken = w->asleep;
    cond_broadcast(&w->cond);
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
        rc = pthread_cond_init(&c->not_empty.cond, NULL);
        if (rc == 0) {
            rc = pthread_cond_init(&c->not_full.cond, NULL);
            if (rc != 0)
                pthread_cond_destroy(&c->not_empty.cond);
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
    while (c->count == c->capacity && c->receivers > 0)
        wait_on(&c->not_full, &c->lock);
    if (c->receivers == 0) { /* nobody will ever receive it: msg stays the caller's */
        mutex_unlock(&c->lock);
        return EPIPE;
    }
    c->ring[(c->head + c->count) % c->capacity] = msg;
    c->count++;
    wake_one(&c->not_empty); /* one message: one receiver can proceed */
    mutex_unlock(&c->lock);
    return 0;
}

int chan_recv(chan *c, void **out)
{
    mutex_lock(&c->lock);
    while (c->count == 0 && c->senders > 0)
        wait_on(&c->not_empty, &c->lock);
    if (c->count == 0) { /* every sender closed, and the queue is drained */
        mutex_unlock(&c->lock);
        return EPIPE;
    }
    *out = c->ring[c->head];
    c->head = (c->head + 1) % c->capacity;
    c->count--;
    wake_one(&c->not_full); /* one free slot: one sender can proceed */
    mutex_unlock(&c->lock);
    return 0;
}

void chan_close_sender(chan *c)
{
    mutex_lock(&c->lock);
    if (c->senders > 0)
        c->senders--; /* BUG: nobody asleep in chan_recv hears of it */
    mutex_unlock(&c->lock);
}

void chan_close_receiver(chan *c)
{
    mutex_lock(&c->lock);
    if (c->receivers > 0 && --c->receivers == 0)
        wake_all(&c->not_full); /* nobody listens: every sender must give up */
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
    pthread_cond_destroy(&c->not_full.cond);
    pthread_cond_destroy(&c->not_empty.cond);
    pthread_mutex_destroy(&c->lock);
    free(c->ring);
    free(c);
}
