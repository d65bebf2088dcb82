/*
 * chan.c - a bounded blocking channel with counted senders and receivers
 * (exercise: write it).
 *
 * What it shows: chapter 4's monitor (one mutex, one condition variable per
 * reason to wait), with the close rules split between the two ends:
 * end-of-stream belongs to the senders, "nobody listens any more" to the
 * receivers.
 *
 * DESIGN: keep the messages in a ring buffer of `capacity` pointers
 * allocated once in chan_create(): `head` is the slot to receive next and
 * `count` how many are full. `senders` and `receivers` count the open
 * handles and only go down. Wait with `while (!predicate) cond_wait(...)`,
 * never `if`. Wake only who can proceed, and only when somebody waits.
 * Read chan.h for the contract and book section 5.2 for the idea;
 * `make grade EX=05-pipeline/chan` tells you how you are doing.
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
    pthread_cond_t not_empty; /* TODO: who waits on it, who signals it, and when? */
    pthread_cond_t not_full;  /* TODO: who waits on it, who signals it, and when? */
    /* Guarded by lock. Invariant: head < capacity, count <= capacity. */
    void **ring;              /* capacity slots, allocated once */
    size_t capacity, head, count;
    unsigned senders, receivers;         /* open handles; they only go down */
    unsigned recv_waiting, send_waiting; /* optional: threads waiting, to skip needless signals */
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

chan *chan_create(size_t capacity, unsigned senders, unsigned receivers)
{
    /* TODO: reject a zero capacity, senders or receivers (EINVAL); allocate
     * the struct and the ring (ENOMEM, nothing left allocated); initialise the
     * mutex and both condition variables; remember the handle counts. */
    (void)capacity;
    (void)senders;
    (void)receivers;
    errno = ENOSYS;
    return NULL;
}

int chan_send(chan *c, void *msg)
{
    /* TODO: lock; wait while full and some receiver is open; if no receiver
     * is left, fail with EPIPE (msg stays the caller's); store msg at the
     * tail; wake one receiver if one waits; unlock. */
    (void)c;
    (void)msg;
    return ENOSYS;
}

int chan_recv(chan *c, void **out)
{
    /* TODO: lock; wait while empty and some sender is open; if still empty
     * (so every sender closed), fail with EPIPE; take the head; wake one
     * sender if one waits; unlock. */
    (void)c;
    (void)out;
    return ENOSYS;
}

void chan_close_sender(chan *c)
{
    /* TODO: count one sender fewer under the lock (never below zero); the
     * close of the last one must wake every waiting receiver. */
    (void)c;
}

void chan_close_receiver(chan *c)
{
    /* TODO: count one receiver fewer under the lock (never below zero); the
     * close of the last one must wake every waiting sender. */
    (void)c;
}

size_t chan_len(chan *c)
{
    /* TODO: read count under the lock. */
    (void)c;
    return 0;
}

void chan_destroy(chan *c, void (*drop)(void *msg))
{
    /* TODO: call drop on each message still queued, destroy the condition
     * variables and the mutex, free the ring and c. */
    (void)c;
    (void)drop;
}
