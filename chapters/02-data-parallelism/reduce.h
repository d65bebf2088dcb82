/*
 * reduce.h - exercise 2 of chapter 2: a parallel sum with per-thread partials.
 *
 * What it shows: a reduction, the other half of data parallelism. Each thread
 * adds up its own chunk into a partial sum of its own; only after joining them
 * does the caller add the k partials. Nobody ever writes a total that another
 * thread writes too, so there is no lock, no atomic, and no lost update.
 *
 * DESIGN: the partials live in an array of slots, one per thread, each padded
 * to a cache line (alignas(64)). The padding changes nothing in the result: a
 * reduction into adjacent, unpadded slots is just as correct. It only costs
 * time, because slots in one cache line make the cores pass that line back
 * and forth on every write (false sharing; book section 2.4 and
 * chapters/02-data-parallelism/false_sharing.c measure it). The tests cannot
 * see padding; `make bench` can.
 *
 * This header is the contract; do not edit it. Your code goes in reduce.c.
 */
#ifndef REDUCE_H
#define REDUCE_H

#include <stddef.h>

/* Returns term number i of the sum. Supplied by the caller; safe to call from
 * several threads at once. */
typedef long (*reduce_term_fn)(size_t i, void *arg);

/* Computes term(0, arg) + term(1, arg) + ... + term(n - 1, arg) on
 * k = min(nthreads, n) threads and stores it in *out. [0, n) is split into k
 * contiguous, non-empty chunks whose sizes differ by at most one; thread c
 * calls term once for every i of chunk c, adding into a partial sum of its own
 * (in a slot padded to a cache line); the calling thread calls term never and,
 * after joining all k threads, adds their partials. n == 0 starts no thread and
 * stores 0.
 * Returns 0; EINVAL when nthreads < 1 or term or out is NULL; ENOMEM when an
 * allocation fails; or the error number of a failed pthread_create, returned
 * only after joining every thread already started (and starting no more). On
 * every error nothing is stored in *out.
 * Blocks until every thread it started has been joined (never detach them). */
int reduce_sum(size_t n, int nthreads, reduce_term_fn term, void *arg, long *out);

#endif /* REDUCE_H */
