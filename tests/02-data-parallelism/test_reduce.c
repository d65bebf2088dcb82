/*
 * test_reduce.c - tests for exercise 02-data-parallelism/reduce.
 *
 * What it shows: how to check a reduction without timing it. The term
 * function is ours: it returns a[i] of an array built from tl_input_seed()
 * (values in -10^6 .. 10^6, so no sum of up to 20 000 of them comes near
 * overflowing a long), counts how often each index was asked for, and notes
 * which thread asked (tl_note_worker). The result must equal the serial sum
 * computed here, every term must be computed exactly once by one of k
 * threads, never by the caller, and each thread's indexes must form one
 * contiguous chunk.
 *
 * DESIGN: the term function touches only relaxed atomics, which order nothing
 * for ThreadSanitizer: a shared accumulator written by two threads stays a
 * reported race, not hidden behind the test's own synchronization.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "reduce.h"

#define MAX_N 20000

static long a[MAX_N];
static atomic_int hits[MAX_N];
static atomic_int who[MAX_N];       /* the worker that computed term i */
static atomic_long by_caller, out_of_range;
static size_t range_n;              /* written before reduce_sum is called */

/* Our term: a[i], counted. */
static long term(size_t i, void *arg)
{
    (void)arg;
    int w = tl_note_worker();
    if (w == 0)
        atomic_fetch_add_explicit(&by_caller, 1, memory_order_relaxed);
    if (i >= range_n || i >= MAX_N) {
        atomic_fetch_add_explicit(&out_of_range, 1, memory_order_relaxed);
        return 0;
    }
    atomic_fetch_add_explicit(&hits[i], 1, memory_order_relaxed);
    atomic_store_explicit(&who[i], w, memory_order_relaxed);
    return a[i];
}

/* Fills a[0..n) from rng and resets the counts; returns the serial sum. */
static long setup(uint64_t *rng, size_t n)
{
    long want = 0;
    for (size_t i = 0; i < MAX_N; i++) {
        atomic_store(&hits[i], 0);
        atomic_store(&who[i], -1);
    }
    for (size_t i = 0; i < n; i++) {
        a[i] = (long)(tl_rand(rng) % 2000001) - 1000000;
        want += a[i];
    }
    atomic_store(&by_caller, 0);
    atomic_store(&out_of_range, 0);
    range_n = n;
    return want;
}

/* Returns the first index in [0, n) not computed exactly once, or n. */
static size_t first_not_once(size_t n)
{
    size_t i = 0;
    while (i < n && atomic_load(&hits[i]) == 1)
        i++;
    return i;
}

/* Runs reduce_sum on n terms with nthreads and checks the contract. */
static void check_reduce(uint64_t *rng, size_t n, int nthreads)
{
    long want = setup(rng, n);
    size_t k = n < (size_t)nthreads ? n : (size_t)nthreads;
    tl_counts_reset();
    long got = 12345;
    int rc = reduce_sum(n, nthreads, term, NULL, &got);
    struct tl_counts c;
    tl_counts_get(&c);
    long seen = tl_workers_seen();
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "n=%zu nthreads=%d: %ld threads created but %ld joined (%ld detached): reduce.h asks reduce_sum to "
              "join every thread before it returns", n, nthreads, c.threads_created, c.threads_joined,
              c.threads_detached);
    tl_assert(rc == 0, TL_WRONG, "reduce_sum(n=%zu, nthreads=%d) returned %d, expected 0", n, nthreads, rc);
    tl_assert(atomic_load(&by_caller) == 0, TL_NOT_PARALLEL,
              "n=%zu nthreads=%d: the calling thread computed %ld of the terms itself; reduce.h gives every "
              "term to one of the k threads", n, nthreads, atomic_load(&by_caller));
    tl_assert(c.threads_created >= (long)k, TL_NOT_PARALLEL, "n=%zu nthreads=%d: created %ld threads for %zu chunks",
              n, nthreads, c.threads_created, k);
    tl_assert(seen == (long)k, TL_NOT_PARALLEL, "n=%zu nthreads=%d: %ld distinct threads computed terms, expected %zu",
              n, nthreads, seen, k);
    tl_assert(c.threads_created == (long)k, TL_WRONG, "n=%zu nthreads=%d: created %ld threads, expected min(n, nthreads) = %zu",
              n, nthreads, c.threads_created, k);
    tl_assert(atomic_load(&out_of_range) == 0, TL_WRONG,
              "n=%zu nthreads=%d: term was asked for %ld indexes outside [0, n) (is a chunk's end inclusive?)", n,
              nthreads, atomic_load(&out_of_range));
    size_t bad = first_not_once(n); /* one assertion, not one per index: each costs a lock in Check */
    tl_assert(bad == n, TL_WRONG, "n=%zu nthreads=%d: term %zu was computed %d times, expected exactly once", n,
              nthreads, bad, bad < n ? atomic_load(&hits[bad]) : 1);
    /* Each thread's terms form one contiguous run: count the runs and their lengths. */
    size_t runs = 0, len = 0, small = n, big = 0;
    for (size_t i = 0; i < n; i++) {
        len++;
        if (i + 1 == n || atomic_load(&who[i + 1]) != atomic_load(&who[i])) {
            runs++;
            small = len < small ? len : small;
            big = len > big ? len : big;
            len = 0;
        }
    }
    tl_assert(runs == k, TL_WRONG, "n=%zu nthreads=%d: the terms fall into %zu runs of one thread each, expected %zu "
              "contiguous chunks", n, nthreads, runs, k);
    tl_assert(n == 0 || big - small <= 1, TL_WRONG,
              "n=%zu nthreads=%d: chunk sizes range from %zu to %zu (must differ by at most one)", n, nthreads,
              small, big);
    tl_assert(got == want, TL_WRONG, "n=%zu nthreads=%d: the sum is %ld, expected %ld (the serial sum)", n, nthreads,
              got, want);
}

TL_INTENT(sums_like_the_serial_loop,
          "reduce_sum gives the same total as a plain serial loop over the terms.");
TL_TEST(sums_like_the_serial_loop)
{
    uint64_t rng = tl_input_seed();
    for (int round = 0; round < 30; round++)
        check_reduce(&rng, 1 + tl_rand(&rng) % MAX_N, 1 + (int)(tl_rand(&rng) % 8));
}

TL_INTENT(splits_the_remainder,
          "The total is right when the terms do not divide evenly among the threads.");
TL_TEST(splits_the_remainder)
{
    uint64_t rng = tl_input_seed() ^ 0x1111;
    for (int round = 0; round < 20; round++) {
        int nthreads = 2 + (int)(tl_rand(&rng) % 7);
        size_t n = (size_t)nthreads * (1 + tl_rand(&rng) % 300) + 1 + tl_rand(&rng) % (size_t)(nthreads - 1);
        check_reduce(&rng, n, nthreads);
    }
}

TL_INTENT(more_threads_than_terms_and_one_thread,
          "The total is right with more threads than terms, and with a single thread.");
TL_TEST(more_threads_than_terms_and_one_thread)
{
    uint64_t rng = tl_input_seed() ^ 0x2222;
    for (int round = 0; round < 10; round++) {
        int nthreads = 3 + (int)(tl_rand(&rng) % 14);
        check_reduce(&rng, 1 + tl_rand(&rng) % (size_t)(nthreads - 1), nthreads);
    }
    check_reduce(&rng, 1 + tl_rand(&rng) % MAX_N, 1);
}

TL_INTENT(many_threads_add_at_once,
          "Many threads adding big chunks at once lose no update: each thread's part must be "
          "combined safely.");
TL_TEST(many_threads_add_at_once)
{
    /* Big chunks on many threads: a shared accumulator loses updates here if anywhere. */
    uint64_t rng = tl_input_seed() ^ 0x3333;
    for (int round = 0; round < 10; round++)
        check_reduce(&rng, MAX_N, 4 + (int)(tl_rand(&rng) % 5));
}

TL_INTENT(empty_and_bad_arguments,
          "No terms sum to 0, and nthreads=0 or a NULL term or out gives EINVAL, stores nothing "
          "and starts no thread.");
TL_TEST(empty_and_bad_arguments)
{
    uint64_t rng = tl_input_seed() ^ 0x4444;
    check_reduce(&rng, 0, 1 + (int)(tl_rand(&rng) % 8));
    long got = 777;
    tl_counts_reset();
    int rc = reduce_sum(4, 0, term, NULL, &got);
    struct tl_counts c;
    tl_counts_get(&c);
    tl_assert(rc == EINVAL && got == 777 && c.threads_created == 0, TL_WRONG,
              "nthreads=0: returned %d, stored %ld, created %ld threads; expected EINVAL, nothing stored, no thread",
              rc, got, c.threads_created);
    tl_assert(reduce_sum(4, 2, NULL, NULL, &got) == EINVAL && reduce_sum(4, 2, term, NULL, NULL) == EINVAL,
              TL_WRONG, "a NULL term or out must give EINVAL");
}

/* Makes pthread_create call nth fail: every started thread joined, the error
 * returned, nothing stored (the ASan pass checks nothing is left allocated). */
TL_INTENT(thread_creation_fails_part_way,
          "When pthread_create fails part way, reduce_sum joins every started thread, returns "
          "the error and stores nothing.");
TL_TEST(thread_creation_fails_part_way)
{
    uint64_t rng = tl_input_seed() ^ 0x5555;
    for (int round = 0; round < 12; round++) {
        int nthreads = 2 + (int)(tl_rand(&rng) % 7);
        size_t n = (size_t)nthreads * (2 + tl_rand(&rng) % 50);
        long nth = round == 0 ? 1 : round == 1 ? nthreads : 1 + (long)(tl_rand(&rng) % (uint64_t)nthreads);
        check_reduce(&rng, n, nthreads); /* without a failure first: a wrong sum is not an error-path bug */
        setup(&rng, n);
        tl_counts_reset();
        long got = 12345;
        tl_fault_nth(TL_FAULT_CREATE, nth, EAGAIN);
        int rc = reduce_sum(n, nthreads, term, NULL, &got);
        bool fired = tl_fault_fired(TL_FAULT_CREATE);
        tl_fault_nth(TL_FAULT_CREATE, 0, 0);
        struct tl_counts c;
        tl_counts_get(&c);
        tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
                  "n=%zu nthreads=%d, pthread_create call %ld failing: %ld threads started, %ld joined: the ones "
                  "started must be joined before the error is returned", n, nthreads, nth, c.threads_created,
                  c.threads_joined);
        tl_assert(fired, TL_WRONG, "n=%zu nthreads=%d: reduce_sum made fewer than %ld pthread_create calls", n,
                  nthreads, nth);
        tl_assert(rc == EAGAIN && got == 12345, TL_ERROR_PATH,
                  "n=%zu nthreads=%d, pthread_create call %ld failing (EAGAIN): returned %d and %s; expected EAGAIN "
                  "and nothing stored", n, nthreads, nth, rc, got == 12345 ? "stored nothing" : "stored a sum");
        /* No count of allocations here: the wrappers do not see aligned_alloc, which
         * reduce.c may rightly use for its padded slots; the AddressSanitizer pass's
         * LeakSanitizer finds what the error path forgot to free. */
    }
}

static const struct tl_test tl_tests[] = {
    TL_RUN(sums_like_the_serial_loop),
    TL_RUN(splits_the_remainder),
    TL_RUN(more_threads_than_terms_and_one_thread),
    TL_RUN(many_threads_add_at_once),
    TL_RUN(empty_and_bad_arguments),
    TL_RUN(thread_creation_fails_part_way),
};
TL_MAIN("02-data-parallelism/reduce")
