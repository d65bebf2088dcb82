/* expect: not-parallel */
/* BUG (rows--static-bands): each thread is given a contiguous band of nrows / k rows in advance (static scheduling, as in parfor): every row is done once and the image is right, but a thread whose band holds slow rows works alone while the others, done with their bands, have nothing to take. */
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
    int nthreads; /* BUG: used to cut bands in advance */
};

/* BUG: one band per thread, and a counter of threads to number them. */
struct rows_band {
    struct rows_job *job;
    int lo, hi;
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
    struct rows_band *band = p; /* BUG: a band of rows fixed in advance */
    for (int row = band->lo; row < band->hi; row++) /* BUG: no counter: the band's rows, in order */
        band->job->fn(row, band->job->arg);
    return NULL;
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
    struct rows_job job = {.nrows = nrows, .fn = fn, .arg = arg, .nthreads = k}; /* BUG: k for the bands */
    atomic_init(&job.next, 0);
    struct rows_band *bands = calloc((size_t)k, sizeof *bands); /* BUG: the bands */
    if (bands == NULL) { /* BUG: for the bands */
        free(tids);
        return ENOMEM;
    }
    for (int i = 0, lo = 0; i < k; i++) { /* BUG: band i: nrows / k rows, the first nrows % k one more */
        int len = nrows / k + (i < nrows % k ? 1 : 0);
        bands[i] = (struct rows_band){&job, lo, lo + len};
        lo += len;
    }
    int started = 0, rc = 0;
    while (started < k && (rc = pthread_create(&tids[started], NULL, rows_worker, &bands[started])) == 0) /* BUG: its band */
        started++;
    for (int i = 0; i < started; i++) {
        int jrc = pthread_join(tids[i], NULL);
        if (jrc != 0)
            die_rc(jrc, "pthread_join");
    }
    free(tids);
    free(bands); /* BUG: the bands */
    return started > 0 ? 0 : rc;
}
