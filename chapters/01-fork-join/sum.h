/*
 * sum.h - exercise 1 of chapter 1: a parallel sum by fork and join.
 *
 * What it shows: the whole fork-join pattern in one function. Split an
 * array into chunks, fork one thread per chunk, join them all, add up.
 *
 * DESIGN: the threads do not add the numbers themselves; they call a chunk
 * function supplied by the caller, once per chunk. That is how the tests see
 * which thread summed which part, and it is also how real fork-join code is
 * shaped: the splitting, forking and joining are the same whatever the work.
 * The chunks are contiguous and their sizes differ by at most one, so no
 * thread gets much more work than another: the slowest chunk sets the time.
 *
 * This header is the contract; do not edit it. Your code goes in sum.c.
 */
#ifndef SUM_H
#define SUM_H

#include <stddef.h>

/* Sums a[lo], ..., a[hi - 1] and returns the total. Supplied by the caller
 * (the tests supply their own); safe to call from several threads at once. */
typedef long (*sum_chunk_fn)(const long *a, size_t lo, size_t hi);

/* Sums a[0..n) on k = min(nthreads, n) threads and stores the total in *out.
 * Splits [0, n) into k contiguous, non-empty chunks whose sizes differ by at
 * most one; creates exactly k threads; each of them calls chunk(a, lo, hi)
 * once, for its own chunk (the calling thread calls chunk() never); joins
 * all k before returning. n == 0 creates no thread and stores 0.
 * Returns 0; EINVAL when nthreads < 1 or chunk or out is NULL; ENOMEM when
 * an allocation fails; or the error number of a failed pthread_create (EAGAIN,
 * say), without creating more threads. On every error nothing is stored in
 * *out and nothing stays allocated, and the error is returned only after every
 * thread already started has been joined.
 * Blocks until every thread it created has been joined (never detach them). */
int sum_parallel(const long *a, size_t n, int nthreads, sum_chunk_fn chunk, long *out);

#endif /* SUM_H */
