/* expect: data-race|wrong-result */
/* BUG (rows--counter-per-thread): the counter is a local variable of the thread body, so every thread counts from 0 on its own and does every row: each row is done k times, and in the image test k threads write the same pixels at once (a data race on the image). */
/*
 * rows.c - exercise 3 of chapter 2: dynamic scheduling, one row at a time (known-buggy variant).
 *
 * What it shows: a shared atomic counter as the whole scheduler. Every thread
 * runs the same loop - take a number, do that row, repeat - and the counter
 * decides who does what, as the threads become free.
 *
 * DESIGN: the counter is the only thing the threads share that changes.
 * atomic_fetch_add reads and increments it in one indivisible step, so two
 * threads can never get the same row; a load followed by a separate store (or
 * a plain `next++`) could give both the same number. Relaxed order is enough:
 * the counter publishes nothing - what the rows wrote reaches the caller
 * through pthread_join. The threads overshoot the end by one each (every
 * thread's last fetch_add returns a number >= nrows), which is harmless.
 */
#define _POSIX_C_SOURCE 200809L
#include "rows.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What all the threads share: written before they start, except next. */
struct rows_job {
    atomic_int next; /* the next row nobody has taken */
    int nrows;
    rows_fn fn;
    void *arg;
};

/* Prints what failed and why (rc is an error number: pthreads leave errno alone); never returns. */
static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

/* Thread body: takes rows from the counter until none is left. Returns NULL. */
static void *rows_worker(void *p)
{
    struct rows_job *job = p;
    atomic_int next; /* BUG: a counter of this thread's own, not the shared one */
    atomic_init(&next, 0);
    for (;;) {
        int row = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed); /* BUG: nobody else sees it */
        if (row >= job->nrows)
            return NULL;
        job->fn(row, job->arg);
    }
}

int rows_run(int nrows, int nthreads, rows_fn fn, void *arg)
{
    if (nrows < 0 || nthreads < 1 || fn == NULL)
        return EINVAL;
    int k = nrows < nthreads ? nrows : nthreads;
    if (k == 0)
        return 0;
    pthread_t *tids = calloc((size_t)k, sizeof *tids);
    if (tids == NULL)
        return ENOMEM;
    struct rows_job job = {.nrows = nrows, .fn = fn, .arg = arg};
    atomic_init(&job.next, 0);
    int started = 0, rc = 0;
    while (started < k && (rc = pthread_create(&tids[started], NULL, rows_worker, &job)) == 0)
        started++;
    for (int i = 0; i < started; i++) {
        int jrc = pthread_join(tids[i], NULL);
        if (jrc != 0)
            die_rc(jrc, "pthread_join");
    }
    free(tids);
    return started > 0 ? 0 : rc;
}
