/*
 * parfor.h - exercise 1 of chapter 2: a parallel for over an index range.
 *
 * What it shows: the loop every data-parallel program starts from. A serial
 *     for (size_t i = 0; i < n; i++) work(i);
 * becomes parfor(n, nthreads, body, arg): the range [0, n) is cut into
 * contiguous chunks, one per thread, and body(lo, hi, arg) is called once per
 * chunk to do work(lo) ... work(hi - 1).
 *
 * DESIGN: like OpenMP's `#pragma omp parallel for schedule(static)`, the
 * calling thread is one of the k threads: it starts k - 1 threads for chunks
 * 1 .. k-1, computes chunk 0 itself while they run, and then joins them. So a
 * parfor on one thread creates no thread at all, and on k threads it creates
 * k - 1. The chunks are contiguous and their sizes differ by at most one:
 * with n = 10 and k = 4 they are [0,3) [3,6) [6,8) [8,10).
 *
 * This header is the contract; do not edit it. Your code goes in parfor.c.
 */
#ifndef PARFOR_H
#define PARFOR_H

#include <stddef.h>

/* Does the work of indexes lo, lo + 1, ..., hi - 1 (lo < hi). Supplied by the
 * caller; safe to call from several threads at once on different chunks. */
typedef void (*parfor_body_fn)(size_t lo, size_t hi, void *arg);

/* Calls body(lo, hi, arg) once for each of k = min(nthreads, n) chunks that
 * tile [0, n): contiguous, non-empty, in order, their sizes differing by at
 * most one (the first n % k chunks have one index more). Every index is in
 * exactly one chunk. Starts k - 1 threads, one for each of chunks 1 .. k-1,
 * all of them before calling body for chunk 0 on the calling thread; then
 * joins every thread it started. n == 0 calls body never and starts nothing.
 * If a pthread_create fails, parfor starts no more threads and the calling
 * thread calls body itself for every chunk that got no thread (after chunk
 * 0): the loop is still done, exactly once, and parfor returns 0.
 * Returns 0; EINVAL when nthreads < 1 or body is NULL (then nothing is called);
 * ENOMEM when an allocation fails (nothing is called, nothing started).
 * Blocks until every thread it started has been joined (never detach them). */
int parfor(size_t n, int nthreads, parfor_body_fn body, void *arg);

#endif /* PARFOR_H */
