/*
 * parfor.c - exercise 1 of chapter 2: a parallel for over an index range.
 *
 * What it shows: static scheduling. The range is cut once, before any thread
 * starts, into k contiguous chunks of nearly equal size; each thread gets one,
 * and the calling thread works on the first instead of waiting idle.
 *
 * DESIGN: give each chunk a job of its own (its bounds, the body and its
 * argument), written before its thread starts and only read after; then the
 * threads share nothing that changes and pthread_join is the only
 * synchronization needed. Read parfor.h for the exact contract and book
 * section 2.2 for the pattern.
 */
#define _POSIX_C_SOURCE 200809L
#include "parfor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One chunk and what to do with it. */
struct parfor_job {
    size_t lo, hi;
    parfor_body_fn body;
    void *arg;
};

/* TODO: a thread body `static void *parfor_worker(void *p)` that calls
 * job->body(job->lo, job->hi, job->arg) for its job. */

int parfor(size_t n, int nthreads, parfor_body_fn body, void *arg)
{
    /* TODO:
     * 1. Check the arguments (EINVAL); k = min(nthreads, n); n == 0 calls nothing.
     * 2. Allocate k jobs and k pthread_t (ENOMEM if that fails).
     * 3. Fill in the k jobs: with base = n / k and extra = n % k, chunk c starts
     *    at c * base + min(c, extra) and has base + (c < extra) indexes.
     * 4. Start a thread for each of chunks 1 .. k-1; stop at the first
     *    pthread_create that fails.
     * 5. Run chunk 0 on this thread, and every chunk that got no thread.
     * 6. Join every thread you started, free, return 0.
     */
    (void)n;
    (void)nthreads;
    (void)body;
    (void)arg;
    return ENOSYS;
}
