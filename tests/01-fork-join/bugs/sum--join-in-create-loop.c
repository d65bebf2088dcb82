/* expect: not-parallel */
/* BUG (sum--join-in-create-loop): each thread is joined right after it is created, in the same loop, so the chunks run one after another: k threads but no parallelism. */
/*
 * sum.c - exercise 1 of chapter 1: a parallel sum by fork and join (known-buggy variant).
 *
 * What it shows: fork = pthread_create in a loop, join = pthread_join in a
 * second loop, and nothing shared between the threads while they run.
 *
 * DESIGN: each thread gets a job of its own (its chunk's bounds and a slot
 * for its partial sum) and writes only that slot. The parent reads the slot
 * only after joining the thread: pthread_join is the synchronization that
 * makes the child's write visible, so no lock and no atomic is needed. The
 * two loops must stay separate - joining inside the creating loop would wait
 * for each thread before starting the next, and the "parallel" sum would run
 * one chunk at a time.
 */
#define _POSIX_C_SOURCE 200809L
#include "sum.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One thread's share of the work. Written by the parent before the thread is
 * created; `partial` is written by the thread and read by the parent only
 * after pthread_join. */
struct sum_job {
    const long *a;
    size_t lo, hi;
    sum_chunk_fn chunk;
    long partial;
};

/* Prints what failed and why (rc is an error number: pthreads leave errno alone); never returns. */
static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

/* Joins t; a failure here is a bug in this file, so it aborts. */
static void join_checked(pthread_t t)
{
    int rc = pthread_join(t, NULL);
    if (rc != 0)
        die_rc(rc, "pthread_join");
}

/* Thread body: sums its own chunk into its own job. Returns NULL. */
static void *sum_worker(void *arg)
{
    struct sum_job *job = arg;
    job->partial = job->chunk(job->a, job->lo, job->hi);
    return NULL;
}

int sum_parallel(const long *a, size_t n, int nthreads, sum_chunk_fn chunk, long *out)
{
    if (nthreads < 1 || chunk == NULL || out == NULL)
        return EINVAL;
    size_t k = n < (size_t)nthreads ? n : (size_t)nthreads;
    if (k == 0) {
        *out = 0;
        return 0;
    }
    struct sum_job *jobs = calloc(k, sizeof *jobs);
    pthread_t *tids = calloc(k, sizeof *tids);
    if (jobs == NULL || tids == NULL) {
        free(jobs);
        free(tids);
        return ENOMEM;
    }

    /* Fork. The first n % k chunks get one element more than the others. */
    size_t base = n / k, extra = n % k, lo = 0, started = 0;
    int rc = 0;
    long total = 0; /* BUG: the total moves into the create loop */
    for (size_t i = 0; i < k; i++) {
        size_t len = base + (i < extra ? 1 : 0);
        jobs[i] = (struct sum_job){.a = a, .lo = lo, .hi = lo + len, .chunk = chunk};
        lo += len;
        rc = pthread_create(&tids[i], NULL, sum_worker, &jobs[i]);
        if (rc != 0)
            break;
        started++;
        join_checked(tids[i]); /* BUG: joined before the next thread is even created */
        total += jobs[i].partial; /* BUG: one chunk at a time */
    }
    free(jobs);
    free(tids);
    if (rc == 0)
        *out = total;
    return rc;
}
