/*
 * parfor.c - exercise 1 of chapter 2: a parallel for over an index range (solution).
 *
 * What it shows: static scheduling. The range is cut once, before any thread
 * starts, into k contiguous chunks of nearly equal size; each thread gets one,
 * and the calling thread works on the first instead of waiting idle.
 *
 * DESIGN: chunk c starts at c * base + min(c, extra), where base = n / k and
 * extra = n % k: the first `extra` chunks are one index longer, and nothing
 * is left over or counted twice. The threads share nothing that changes; each
 * job is written by the caller before its thread starts and only read after,
 * and pthread_join is the only synchronization. A thread that cannot be
 * started is not an error for a loop: its chunk is simply run by the caller.
 */
#define _POSIX_C_SOURCE 200809L
#include "parfor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One chunk and what to do with it; written before its thread starts, read-only after. */
struct parfor_job {
    size_t lo, hi;
    parfor_body_fn body;
    void *arg;
};

/* Prints what failed and why (rc is an error number: pthreads leave errno alone); never returns. */
static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

/* Thread body: runs its chunk. Returns NULL. */
static void *parfor_worker(void *p)
{
    struct parfor_job *job = p;
    job->body(job->lo, job->hi, job->arg);
    return NULL;
}

int parfor(size_t n, int nthreads, parfor_body_fn body, void *arg)
{
    if (nthreads < 1 || body == NULL)
        return EINVAL;
    size_t k = n < (size_t)nthreads ? n : (size_t)nthreads;
    if (k == 0)
        return 0;
    struct parfor_job *jobs = calloc(k, sizeof *jobs);
    pthread_t *tids = calloc(k, sizeof *tids);
    if (jobs == NULL || tids == NULL) {
        free(jobs);
        free(tids);
        return ENOMEM;
    }
    size_t base = n / k, extra = n % k;
    for (size_t c = 0; c < k; c++) {
        size_t lo = c * base + (c < extra ? c : extra);
        jobs[c] = (struct parfor_job){lo, lo + base + (c < extra ? 1 : 0), body, arg};
    }

    /* Start chunks 1 .. k-1; stop at the first thread that cannot be started. */
    size_t started = 1; /* chunk 0 is the caller's */
    while (started < k && pthread_create(&tids[started], NULL, parfor_worker, &jobs[started]) == 0)
        started++;

    /* The caller's share: chunk 0, and every chunk that got no thread. */
    body(jobs[0].lo, jobs[0].hi, arg);
    for (size_t c = started; c < k; c++)
        body(jobs[c].lo, jobs[c].hi, arg);

    for (size_t c = 1; c < started; c++) {
        int rc = pthread_join(tids[c], NULL);
        if (rc != 0)
            die_rc(rc, "pthread_join");
    }
    free(jobs);
    free(tids);
    return 0;
}
