/* expect: memory */
/* BUG (future--destroy-frees-at-once): future_destroy frees the future at once, as if the client were its only owner: a task still queued or running later writes its result into freed memory */
/*
 * future.c - futures on top of the worker pool (a known-buggy variant: see the BUG line above).
 *
 * What it shows: a result slot shared by a worker (who fills it once) and
 * any number of clients (who wait for it), with its lifetime settled by a
 * count of owners rather than by either side.
 *
 * DESIGN: future_submit() creates the future with two owners, the client and
 * the queued task, and queues future_run(f) on the pool. The worker that
 * runs it calls the task without any lock held, stores the outcome and sets
 * done under the future's lock, broadcasts (every getter must see it, not
 * just one), and then lets go of its ownership. future_destroy() lets go of
 * the client's. Whoever brings the count to zero frees the future - after
 * its last unlock, so nobody can be inside the mutex. A task that the pool
 * drops is completed with ECANCELED by future_dropped(), which also lets go
 * of the task's ownership, so cancelled futures neither hang nor leak.
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
    /* The outcome: written once, by whoever completes the future, *before*
     * it sets done; read only by threads that have seen done == true under
     * lock. The unlock after setting done publishes them with it. */
    int err;
    void *result;
    pthread_mutex_t lock;
    pthread_cond_t done_cv; /* broadcast once, when done is set */
    bool done;              /* guarded by lock; false -> true once */
    /* BUG: no count of owners - the client is taken to be the only one */
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

/* BUG: no release(): future_destroy() frees the future by itself */

/* Publish the outcome and wake every getter. Blocks only on f's lock. */
static void complete(future *f, int err, void *result)
{
    f->err = err; /* nobody reads these before done is set: see struct future */
    f->result = err == 0 ? result : NULL;
    mutex_lock(&f->lock);
    f->done = true;
    cond_broadcast(&f->done_cv); /* all getters, not one */
    mutex_unlock(&f->lock);
}

/* The pool task behind every future: run the client's function, publish. */
static void future_run(void *arg)
{
    future *f = arg;
    void *result = NULL;
    int err = f->fn(f->arg, &result); /* no lock held: tasks run in parallel */
    complete(f, err, result); /* BUG: (the client frees f in future_destroy) */
}

future *future_submit(pool *p, future_fn fn, void *arg)
{
    future *f = calloc(1, sizeof *f);
    if (f == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    int rc = pthread_mutex_init(&f->lock, NULL);
    if (rc == 0 && (rc = pthread_cond_init(&f->done_cv, NULL)) != 0)
        pthread_mutex_destroy(&f->lock);
    if (rc != 0) {
        free(f);
        errno = rc;
        return NULL;
    }
    /* BUG: no owners count to set */
    f->fn = fn;
    f->arg = arg;
    rc = pool_submit(p, future_run, f);
    if (rc != 0) { /* never queued: we are the only owner */
        pthread_cond_destroy(&f->done_cv);
        pthread_mutex_destroy(&f->lock);
        free(f);
        errno = rc;
        return NULL;
    }
    return f;
}

int future_get(future *f, void **result)
{
    mutex_lock(&f->lock);
    while (!f->done)
        cond_wait(&f->done_cv, &f->lock);
    int err = f->err;
    if (err == 0 && result != NULL)
        *result = f->result;
    mutex_unlock(&f->lock);
    return err;
}

void future_destroy(future *f)
{
    if (f == NULL)
        return;
    /* BUG: "the client created it, the client frees it" - but a task still
     * queued or running points at f, and will complete it later. */
    free(f);
}

void future_dropped(pool_fn fn, void *arg)
{
    if (fn != future_run) /* not one of ours */
        return;
    future *f = arg;
    complete(f, ECANCELED, NULL); /* BUG: and the client frees it */
}
