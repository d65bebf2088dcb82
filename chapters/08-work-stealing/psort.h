/*
 * psort.h - a parallel merge sort on join (chapter 8, exercise "psort").
 *
 * What it shows: divide and conquer on a work-stealing pool. ws_sort halves
 * the array, sorts the two halves with ws_join (the second half is offered
 * to thieves while the caller sorts the first) and merges them once BOTH are
 * done; a range of at most WS_SORT_CUTOFF elements is sorted serially (a
 * "leaf"). The halving is what spreads the work: every join leaves half of
 * what remains for an idle worker to steal.
 *
 * DESIGN: one scratch buffer of n ints, allocated once by ws_sort before any
 * task starts; the sort of a[lo..hi) merges through scratch[lo..hi) only, so
 * the two halves of a join never touch the same element. The leaf hook lets
 * a test see the leaves: which worker sorted which range.
 *
 * This header is the contract; do not change it. Write psort.c (it uses your
 * join.c and deque.c).
 */
#ifndef TL_PSORT_H
#define TL_PSORT_H

#include <stddef.h>

#include "join.h"

/* Ranges of at most this many elements are sorted serially, longer ones are
 * split in two halves that differ in length by at most one. */
#define WS_SORT_CUTOFF 512

/* Called once per leaf, on the thread that sorts it, just before it sorts
 * a[lo .. lo+len-1] (0 < len <= WS_SORT_CUTOFF, or len == n when n is small).
 * It may be called from several workers at once. */
typedef void ws_sort_hook(void *arg, size_t lo, size_t len);

/* Sorts a[0..n-1] ascending on p's workers: recursive halving with ws_join
 * down to WS_SORT_CUTOFF, serial leaves, merges through a scratch buffer.
 * When n > WS_SORT_CUTOFF, its first allocation, made before any task runs,
 * is the scratch buffer of n ints; if that fails it returns ENOMEM and a is
 * unchanged. Otherwise it returns 0, having freed all it allocated. From a
 * thread that is not one of p's workers it uses ws_run (and blocks until the
 * sort is done); from a task on p it sorts with ws_join directly. n <= the
 * cutoff is one leaf (no allocation); n == 0 returns 0 at once (a may be
 * NULL, no hook call). */
int ws_sort(ws_pool *p, int *a, size_t n);

/* ws_sort, with hook(arg, lo, len) called for every leaf (hook may be NULL). */
int ws_sort_hooked(ws_pool *p, int *a, size_t n, ws_sort_hook *hook, void *arg);

#endif /* TL_PSORT_H */
