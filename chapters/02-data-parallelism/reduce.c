/*
 * reduce.c - exercise 2 of chapter 2: a parallel sum with per-thread partials.
 *
 * What it shows: a reduction without a shared total. Each thread adds up its
 * chunk into a sum of its own and stores it in its own slot; the caller adds
 * the slots after the join.
 *
 * DESIGN: pad each slot to a cache line (alignas(64) on its first member) so
 * no two threads' slots share one, and keep the running sum in a local
 * variable: store it once, at the end. Read reduce.h for the exact contract
 * and book section 2.3 for the pattern.
 */
#define _POSIX_C_SOURCE 200809L
#include "reduce.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One thread's chunk and its partial sum, alone in its cache line. */
struct reduce_slot {
    alignas(64) long sum;
    size_t lo, hi;
    reduce_term_fn term;
    void *arg;
};

/* TODO: a thread body `static void *reduce_worker(void *p)` that sums
 * s->term(i, s->arg) for i in [s->lo, s->hi) into a local variable and then
 * stores it in s->sum. */

int reduce_sum(size_t n, int nthreads, reduce_term_fn term, void *arg, long *out)
{
    /* TODO:
     * 1. Check the arguments (EINVAL); k = min(nthreads, n); n == 0 stores 0.
     * 2. Allocate k slots (aligned_alloc(64, ...): the size is a multiple of
     *    64) and k pthread_t (ENOMEM if that fails).
     * 3. Start one thread per chunk (chunk c starts at c * (n / k) +
     *    min(c, n % k)); stop at the first pthread_create that fails.
     * 4. Join every thread you started, adding its slot's sum.
     * 5. Free; store the total and return 0, or return the create error.
     */
    (void)n;
    (void)nthreads;
    (void)term;
    (void)arg;
    (void)out;
    return ENOSYS;
}
