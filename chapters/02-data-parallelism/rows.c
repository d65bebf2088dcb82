/*
 * rows.c - exercise 3 of chapter 2: dynamic scheduling, one row at a time.
 *
 * What it shows: a shared atomic counter as the whole scheduler. Every thread
 * runs the same loop - take a number, do that row, repeat - and the counter
 * decides who does what, as the threads become free.
 *
 * DESIGN: the counter is the only thing the threads share that changes. Take
 * a row with atomic_fetch_add, which reads and increments in one step; a load
 * and a separate store would let two threads take the same row. Read rows.h
 * for the exact contract and book section 2.5 for the pattern.
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

/* TODO: a thread body `static void *rows_worker(void *p)` that loops: take
 * row = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed); stop
 * when row >= job->nrows; else call job->fn(row, job->arg). */

int rows_run(int nrows, int nthreads, rows_fn fn, void *arg)
{
    /* TODO:
     * 1. Check the arguments (EINVAL); k = min(nthreads, nrows); 0 rows: return 0.
     * 2. Allocate k pthread_t (ENOMEM); one struct rows_job for all, its
     *    counter set to 0 with atomic_init.
     * 3. Start k threads on the same job; stop at the first failed create.
     * 4. Join every thread you started; free; return 0 if any started, else
     *    the error of the create that failed.
     */
    (void)nrows;
    (void)nthreads;
    (void)fn;
    (void)arg;
    return ENOSYS;
}
