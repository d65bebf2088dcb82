/*
 * sema.c - a counting semaphore built as a monitor (reference solution).
 *
 * What it shows: the monitor recipe in its smallest form. One mutex guards
 * the count of free units; one condition variable, `freed`, is where
 * acquirers wait for units to come back.
 *
 * DESIGN: acquire re-checks `value < n` in a loop around every wait,
 * because a wake-up is a hint, not a promise: another acquirer may have
 * taken the units first, or the wait returned spuriously. A release
 * broadcasts, because it may satisfy several waiters at once (release(3)
 * with three waiters wanting 1 each) or a waiter other than the one a
 * signal would wake (it wakes one wanting 3 when 1 came back; that one goes
 * back to sleep, and the one wanting 1 is never told). Counting the
 * sleepers (`waiting`) lets a release skip the broadcast, and its system
 * call, when nobody waits. Waiters who want many units can be overtaken
 * forever by a stream of small requests; a fair semaphore would queue
 * them, at the price of making small requests wait behind big ones.
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
    pthread_cond_t freed;  /* acquirers wait here; broadcast when units come back */
    unsigned value;        /* guarded by lock: free units */
    unsigned waiting;      /* guarded by lock: threads inside cond_wait on freed */
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

static inline void cond_broadcast(pthread_cond_t *c)
{
    int rc = pthread_cond_broadcast(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_broadcast");
}

sema *sema_create(unsigned initial)
{
    sema *s = calloc(1, sizeof *s);
    if (s == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    int rc = pthread_mutex_init(&s->lock, NULL);
    if (rc == 0) {
        rc = pthread_cond_init(&s->freed, NULL);
        if (rc != 0)
            pthread_mutex_destroy(&s->lock);
    }
    if (rc != 0) {
        free(s);
        errno = rc;
        return NULL;
    }
    s->value = initial;
    return s;
}

/* snippet: acquire */
void sema_acquire(sema *s, unsigned n)
{
    mutex_lock(&s->lock);
    while (s->value < n) { /* while, never if: a wake-up only means "look again" */
        s->waiting++;
        cond_wait(&s->freed, &s->lock);
        s->waiting--;
    }
    s->value -= n;
    mutex_unlock(&s->lock);
}
/* end snippet: acquire */

bool sema_try_acquire(sema *s, unsigned n)
{
    mutex_lock(&s->lock);
    bool took = s->value >= n;
    if (took)
        s->value -= n;
    mutex_unlock(&s->lock);
    return took;
}

/* snippet: release */
void sema_release(sema *s, unsigned n)
{
    mutex_lock(&s->lock);
    s->value += n;
    if (s->waiting > 0)
        cond_broadcast(&s->freed); /* every waiter looks again: any of them may fit now */
    mutex_unlock(&s->lock);
}
/* end snippet: release */

unsigned sema_value(sema *s)
{
    mutex_lock(&s->lock);
    unsigned v = s->value;
    mutex_unlock(&s->lock);
    return v;
}

void sema_destroy(sema *s)
{
    if (s == NULL)
        return;
    pthread_cond_destroy(&s->freed);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
