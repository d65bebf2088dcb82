/*
 * sema.c - a counting semaphore built as a monitor (exercise: write it).
 *
 * What it shows: the monitor recipe in its smallest form. One mutex guards
 * the count of free units; one condition variable is where acquirers wait
 * for units to come back.
 *
 * DESIGN: wait with `while (!enough) cond_wait(...)`, never `if`: a
 * wake-up is a hint, not a promise. Think about whom a release must wake:
 * it may satisfy several waiters at once, or a waiter other than the one a
 * signal would pick. Read sema.h for the contract and book section 6.4 for
 * the idea; `make grade EX=06-shared-objects/sema` tells you how you are
 * doing.
 */
#define _POSIX_C_SOURCE 200809L
#include "sema.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sema {
    pthread_mutex_t lock;
    pthread_cond_t freed;  /* TODO: who waits here, and who wakes them, how? */
    unsigned value;        /* guarded by lock: free units */
    unsigned waiting;      /* optional: threads inside cond_wait, to skip needless wake-ups */
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

sema *sema_create(unsigned initial)
{
    /* TODO: allocate (ENOMEM), initialise the mutex and the condition
     * variable, set the count. */
    (void)initial;
    errno = ENOSYS;
    return NULL;
}

void sema_acquire(sema *s, unsigned n)
{
    /* TODO: lock; wait while fewer than n units are free; take them; unlock. */
    (void)s;
    (void)n;
}

bool sema_try_acquire(sema *s, unsigned n)
{
    /* TODO: under the lock, take n units if they are there. */
    (void)s;
    (void)n;
    return false;
}

void sema_release(sema *s, unsigned n)
{
    /* TODO: under the lock, give n units back and wake whoever may now
     * proceed. */
    (void)s;
    (void)n;
}

unsigned sema_value(sema *s)
{
    /* TODO: read the count under the lock. */
    (void)s;
    return 0;
}

void sema_destroy(sema *s)
{
    /* TODO: destroy the condition variable and the mutex, free s. */
    (void)s;
}
