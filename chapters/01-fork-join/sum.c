/*
 * sum.c - exercise 1 of chapter 1: a parallel sum by fork and join.
 *
 * What it shows: fork = pthread_create in a loop, join = pthread_join in a
 * second loop, and nothing shared between the threads while they run.
 *
 * DESIGN: give each thread a job of its own (its chunk's bounds and a slot
 * for its partial sum). The thread writes only its own slot; the parent reads
 * it only after joining that thread. Then no lock is needed: pthread_join is
 * the synchronization. Read sum.h for the exact contract and book section
 * 1.3 for the pattern.
 */
#define _POSIX_C_SOURCE 200809L
#include "sum.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One thread's share of the work: written by the parent before the thread
 * starts; the thread fills in `partial`. */
struct sum_job {
    const long *a;
    size_t lo, hi;
    sum_chunk_fn chunk;
    long partial;
};

/* TODO: a thread body `static void *sum_worker(void *arg)` that calls
 * job->chunk(job->a, job->lo, job->hi) and stores the result in job->partial. */

int sum_parallel(const long *a, size_t n, int nthreads, sum_chunk_fn chunk, long *out)
{
    /* TODO:
     * 1. Check the arguments (EINVAL) and compute k = min(nthreads, n);
     *    n == 0 means *out = 0 and no thread at all.
     * 2. Allocate k jobs and k pthread_t (ENOMEM if that fails, after freeing
     *    whichever of the two you did get).
     * 3. Fork: fill in job i (the first n % k chunks get one element more)
     *    and pthread_create a thread for it. Do not join in this loop. If a
     *    pthread_create fails, remember its error and stop creating - but do
     *    not return yet: the threads already started still use their jobs.
     * 4. Join: pthread_join every thread you started, then add its partial.
     * 5. Free what you allocated. On success store the total and return 0;
     *    after a failed pthread_create store nothing and return its error.
     */
    (void)a;
    (void)n;
    (void)nthreads;
    (void)chunk;
    (void)out;
    return ENOSYS;
}
