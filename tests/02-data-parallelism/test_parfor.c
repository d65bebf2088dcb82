/*
 * test_parfor.c - tests for exercise 02-data-parallelism/parfor.
 *
 * What it shows: how to check a parallel for without timing it. The body
 * handed to parfor() is ours: it counts every index it is given (each must be
 * given exactly once), records each chunk with the thread that ran it
 * (tl_note_worker: 0 is the calling thread), and so the tests see the split,
 * count the threads, and tell a parallel loop from a serial one.
 *
 * DESIGN: one test makes every chunk wait at a rendezvous until all k chunks
 * have started. A parfor that starts its k - 1 threads and then works on
 * chunk 0 gets there, however loaded the machine; one that joins each thread
 * before starting the next, or runs chunk 0 before starting the others, never
 * does, and the rendezvous gives up as soon as the counts prove it (the
 * calling thread waits in a join, or reached chunk 0, while fewer than k - 1
 * threads exist). Giving up is the failure; no time is asserted.
 * Thread leaks are checked first, right after parfor returns: the bodies
 * touch only static memory and atomics, so a leaked thread still running
 * cannot turn a leak into a crash or a data race on the test's own data.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "parfor.h"

#define MAX_N 5000
#define MAX_CALLS 64

struct call {
    size_t lo, hi;
    int worker;
};

static atomic_int hits[MAX_N];     /* how often each index was given to the body */
static atomic_long out_of_range;   /* indexes >= n, or chunks with lo >= hi */
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rec_cond = PTHREAD_COND_INITIALIZER;
/* Guarded by rec_lock. */
static struct call calls[MAX_CALLS];
static size_t ncalls, range_n;
static size_t meet_expected; /* 0 = no rendezvous */
static size_t meet_arrived;
static bool meet_gave_up;

static void rec_reset(size_t n, size_t rendezvous)
{
    for (size_t i = 0; i < MAX_N; i++)
        atomic_store(&hits[i], 0);
    atomic_store(&out_of_range, 0);
    pthread_mutex_lock(&rec_lock);
    ncalls = 0;
    range_n = n;
    meet_expected = rendezvous;
    meet_arrived = 0;
    meet_gave_up = false;
    pthread_mutex_unlock(&rec_lock);
}

/* Returns whether waiting for `want` chunks to meet is hopeless: the calling
 * thread (w == 0) reached its chunk, or waits in a join, while fewer than the
 * want - 1 threads it must start before that exist. Decided by counting, not
 * by time; never blocks. */
static bool meeting_hopeless(int w, size_t want)
{
    if (w == 0) /* the caller itself: its own count is up to date */
        return tl_counts_now().threads_created < (long)want - 1;
    return tl_joined_before_created((long)want - 1);
}

/* Returns whether the CLOCK_REALTIME time at has passed; never blocks. */
static bool passed(const struct timespec *at)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > at->tv_sec || (now.tv_sec == at->tv_sec && now.tv_nsec >= at->tv_nsec);
}

/* Our body: counts its indexes, records the chunk, and waits at the
 * rendezvous if one is set, until all have arrived or meeting is hopeless
 * (then it gives up for everybody; a last-resort bound of 2 * tl_bound_s()
 * only turns a hang into a failure). */
static void body(size_t lo, size_t hi, void *arg)
{
    (void)arg;
    int w = tl_note_worker();
    size_t n = range_n; /* written before parfor is called */
    if (lo >= hi)
        atomic_fetch_add_explicit(&out_of_range, 1, memory_order_relaxed);
    for (size_t i = lo; i < hi; i++) {
        if (i < n && i < MAX_N)
            atomic_fetch_add_explicit(&hits[i], 1, memory_order_relaxed);
        else
            atomic_fetch_add_explicit(&out_of_range, 1, memory_order_relaxed);
    }
    struct timespec until = tl_deadline(2 * tl_bound_s());
    pthread_mutex_lock(&rec_lock);
    if (ncalls < MAX_CALLS)
        calls[ncalls] = (struct call){lo, hi, w};
    ncalls++;
    if (meet_expected > 0) {
        meet_arrived++;
        pthread_cond_broadcast(&rec_cond);
        while (meet_arrived < meet_expected && !meet_gave_up) {
            if (meeting_hopeless(w, meet_expected) || passed(&until)) {
                meet_gave_up = true;
                pthread_cond_broadcast(&rec_cond);
                break;
            }
            struct timespec slice = tl_deadline(0.01); /* to look at the counts again */
            pthread_cond_timedwait(&rec_cond, &rec_lock, &slice);
        }
    }
    pthread_mutex_unlock(&rec_lock);
}

static int by_lo(const void *x, const void *y)
{
    const struct call *p = x, *q = y;
    return (p->lo > q->lo) - (p->lo < q->lo);
}

/* Checks that every index of [0, n) was given to the body exactly once. */
static void check_each_index_once(size_t n, int nthreads)
{
    tl_assert(atomic_load(&out_of_range) == 0, TL_WRONG,
              "n=%zu nthreads=%d: the body was given %ld indexes outside [0, n) (or an empty chunk)", n,
              nthreads, atomic_load(&out_of_range));
    size_t i = 0; /* one assertion, not one per index: each costs a lock in Check */
    while (i < n && atomic_load(&hits[i]) == 1)
        i++;
    int h = i < n ? atomic_load(&hits[i]) : 1;
    tl_assert(i == n, TL_WRONG, "n=%zu nthreads=%d: index %zu was given to the body %d times, expected exactly once%s",
              n, nthreads, i, h, h == 0 ? " (a chunk boundary off by one, or a remainder dropped?)"
                                        : " (two chunks overlap: is a boundary off by one?)");
}

/* Runs parfor on [0, n) with nthreads and checks everything the contract
 * promises: the threads, the split, and every index exactly once. */
static void check_parfor(size_t n, int nthreads, size_t rendezvous)
{
    size_t k = n < (size_t)nthreads ? n : (size_t)nthreads;
    rec_reset(n, rendezvous);
    tl_counts_reset();
    int rc = parfor(n, nthreads, body, NULL);
    struct tl_counts c;
    tl_counts_get(&c);
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "n=%zu nthreads=%d: %ld threads started but %ld joined (%ld detached): parfor.h asks parfor "
              "to join every thread it starts before it returns", n, nthreads, c.threads_created,
              c.threads_joined, c.threads_detached);

    pthread_mutex_lock(&rec_lock);
    size_t nc = ncalls;
    bool gave_up = meet_gave_up;
    struct call sorted[MAX_CALLS];
    memcpy(sorted, calls, sizeof sorted);
    pthread_mutex_unlock(&rec_lock);

    tl_assert(rc == 0, TL_WRONG, "parfor(n=%zu, nthreads=%d) returned %d, expected 0", n, nthreads, rc);
    tl_assert(c.threads_created >= (long)k - 1 || k < 2, TL_NOT_PARALLEL,
              "n=%zu nthreads=%d: started %ld threads for %zu chunks; the k - 1 = %zu chunks after the "
              "first must each run on a thread of their own", n, nthreads, c.threads_created, k, k - 1);
    tl_assert(!gave_up, TL_NOT_PARALLEL,
              "n=%zu nthreads=%d: the %zu chunks never ran at the same time (is each thread joined "
              "before the next is started, or chunk 0 run before the threads are started?)", n, nthreads, k);
    int seen[MAX_CALLS], nseen = 0;
    for (size_t i = 0; i < nc && i < MAX_CALLS; i++) {
        int j = 0;
        while (j < nseen && seen[j] != sorted[i].worker)
            j++;
        if (j == nseen)
            seen[nseen++] = sorted[i].worker;
    }
    tl_assert(nseen == (int)k || nc != k, TL_NOT_PARALLEL,
              "n=%zu nthreads=%d: the %zu chunks ran on %d distinct threads, expected %zu (the caller and "
              "k - 1 threads; a thread joined before the next one starts leaves its id to it, so "
              "threads run one after another look like fewer threads)", n, nthreads, k, nseen, k);
    tl_assert(c.threads_created == (long)k - 1 || k == 0, TL_WRONG,
              "n=%zu nthreads=%d: started %ld threads, expected k - 1 = %zu: the calling thread runs chunk 0 "
              "itself (parfor.h)", n, nthreads, c.threads_created, k == 0 ? 0 : k - 1);
    tl_assert(nc == k, TL_WRONG, "n=%zu nthreads=%d: body called %zu times, expected min(n, nthreads) = %zu",
              n, nthreads, nc, k);
    check_each_index_once(n, nthreads);
    qsort(sorted, nc, sizeof sorted[0], by_lo);
    size_t small = n, big = 0;
    for (size_t i = 0; i < nc; i++) {
        size_t len = sorted[i].hi - sorted[i].lo;
        small = len < small ? len : small;
        big = len > big ? len : big;
    }
    tl_assert(nc == 0 || big - small <= 1, TL_WRONG,
              "n=%zu nthreads=%d: chunk sizes range from %zu to %zu (they must differ by at most one)", n,
              nthreads, small, big);
    tl_assert(nc == 0 || sorted[0].worker == 0, TL_WRONG,
              "n=%zu nthreads=%d: chunk 0, [%zu,%zu), ran on thread %d: parfor.h gives it to the calling thread",
              n, nthreads, sorted[0].lo, sorted[0].hi, sorted[0].worker);
}

TL_INTENT(splits_the_remainder,
          "Every index is given to the body exactly once when the range does not divide evenly "
          "among the threads.");
TL_TEST(splits_the_remainder)
{
    uint64_t rng = tl_input_seed();
    for (int round = 0; round < 20; round++) {
        int nthreads = 2 + (int)(tl_rand(&rng) % 7);
        size_t n = (size_t)nthreads * (1 + tl_rand(&rng) % 40) + 1 + tl_rand(&rng) % (size_t)(nthreads - 1);
        check_parfor(n, nthreads, 0);
    }
}

TL_INTENT(more_threads_than_indexes,
          "Every index is covered exactly once, with no empty chunk run, when there are more "
          "threads than indexes.");
TL_TEST(more_threads_than_indexes)
{
    uint64_t rng = tl_input_seed() ^ 0x1111;
    for (int round = 0; round < 20; round++) {
        int nthreads = 3 + (int)(tl_rand(&rng) % 14);
        size_t n = 2 + tl_rand(&rng) % (size_t)(nthreads - 2);
        check_parfor(n, nthreads, 0);
    }
}

TL_INTENT(one_thread_or_one_index_runs_on_the_caller,
          "With one thread or one index, parfor runs the body on the calling thread and creates "
          "no thread.");
TL_TEST(one_thread_or_one_index_runs_on_the_caller)
{
    uint64_t rng = tl_input_seed() ^ 0x2222;
    check_parfor(1 + tl_rand(&rng) % 3000, 1, 0);
    check_parfor(1, 2 + (int)(tl_rand(&rng) % 8), 0);
}

TL_INTENT(empty_range_and_bad_arguments,
          "An empty range does nothing, and nthreads=0 or a NULL body gives EINVAL without "
          "calling the body or starting a thread.");
TL_TEST(empty_range_and_bad_arguments)
{
    uint64_t rng = tl_input_seed() ^ 0x3333;
    check_parfor(0, 1 + (int)(tl_rand(&rng) % 8), 0);
    rec_reset(4, 0);
    tl_counts_reset();
    int rc = parfor(4, 0, body, NULL);
    struct tl_counts c;
    tl_counts_get(&c);
    pthread_mutex_lock(&rec_lock);
    size_t nc = ncalls;
    pthread_mutex_unlock(&rec_lock);
    tl_assert(rc == EINVAL && nc == 0 && c.threads_created == 0, TL_WRONG,
              "nthreads=0: returned %d, called the body %zu times and started %ld threads; expected EINVAL, "
              "no call, no thread", rc, nc, c.threads_created);
    rc = parfor(4, 2, NULL, NULL);
    tl_assert(rc == EINVAL, TL_WRONG, "body=NULL: returned %d, expected EINVAL", rc);
}

TL_INTENT(random_ranges_covered_once,
          "For random ranges and thread counts, every index is covered exactly once.");
TL_TEST(random_ranges_covered_once)
{
    uint64_t rng = tl_input_seed() ^ 0x4444;
    for (int round = 0; round < 40; round++) {
        int nthreads = 1 + (int)(tl_rand(&rng) % 9);
        size_t n = tl_rand(&rng) % MAX_N;
        check_parfor(n, nthreads, 0);
    }
}

TL_INTENT(chunks_run_at_the_same_time,
          "The chunks really run at the same time on different threads instead of one after "
          "another.");
TL_TEST(chunks_run_at_the_same_time)
{
    uint64_t rng = tl_input_seed() ^ 0x5555;
    for (int round = 0; round < 5; round++) {
        int nthreads = 2 + (int)(tl_rand(&rng) % 5);
        size_t n = (size_t)nthreads * 3 + tl_rand(&rng) % 100;
        check_parfor(n, nthreads, (size_t)nthreads);
    }
}

/* Makes pthread_create call nth fail during parfor: the chunks that got no
 * thread must then be run by the caller, every index still exactly once. */
TL_INTENT(thread_creation_fails_part_way,
          "When pthread_create fails part way, the caller runs the chunks that got no thread, "
          "every index still exactly once, and every started thread is joined.");
TL_TEST(thread_creation_fails_part_way)
{
    uint64_t rng = tl_input_seed() ^ 0x6666;
    for (int round = 0; round < 12; round++) {
        int nthreads = 2 + (int)(tl_rand(&rng) % 7);
        size_t n = (size_t)nthreads * (2 + tl_rand(&rng) % 20) + tl_rand(&rng) % (size_t)nthreads;
        long nth = round == 0 ? 1 : round == 1 ? nthreads - 1 : 1 + (long)(tl_rand(&rng) % (uint64_t)(nthreads - 1));
        check_parfor(n, nthreads, 0); /* without a failure first: a wrong split is not an error-path bug */
        rec_reset(n, 0);
        tl_counts_reset();
        tl_fault_nth(TL_FAULT_CREATE, nth, EAGAIN);
        int rc = parfor(n, nthreads, body, NULL);
        bool fired = tl_fault_fired(TL_FAULT_CREATE);
        tl_fault_nth(TL_FAULT_CREATE, 0, 0);
        struct tl_counts c;
        tl_counts_get(&c);
        tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
                  "n=%zu nthreads=%d, pthread_create call %ld failing: %ld threads started, %ld joined", n,
                  nthreads, nth, c.threads_created, c.threads_joined);
        tl_assert(fired, TL_WRONG, "n=%zu nthreads=%d: parfor made fewer than %ld pthread_create calls", n,
                  nthreads, nth);
        tl_assert(rc == 0, TL_ERROR_PATH,
                  "n=%zu nthreads=%d, pthread_create call %ld failing (EAGAIN): parfor returned %d; parfor.h "
                  "asks it to run the chunks that got no thread on the caller and return 0", n, nthreads, nth, rc);
        tl_assert(c.threads_created == nth - 1, TL_ERROR_PATH,
                  "n=%zu nthreads=%d: after pthread_create call %ld failed, %ld threads were started in all; "
                  "parfor must start no more once one fails", n, nthreads, nth, c.threads_created);
        tl_assert(atomic_load(&out_of_range) == 0, TL_ERROR_PATH,
                  "n=%zu nthreads=%d, pthread_create call %ld failing: the body was given %ld indexes "
                  "outside [0, n)", n, nthreads, nth, atomic_load(&out_of_range));
        size_t i = 0;
        while (i < n && atomic_load(&hits[i]) == 1)
            i++;
        int h = i < n ? atomic_load(&hits[i]) : 1;
        tl_assert(h <= 1, TL_WRONG, "n=%zu nthreads=%d, pthread_create call %ld failing: index %zu was done %d "
                  "times (two chunks overlap)", n, nthreads, nth, i, h);
        tl_assert(i == n, TL_ERROR_PATH,
                  "n=%zu nthreads=%d, pthread_create call %ld failing: index %zu was never done (the chunks that "
                  "got no thread are the caller's to run)", n, nthreads, nth, i);
    }
}

static const struct tl_test tl_tests[] = {
    TL_RUN(splits_the_remainder),
    TL_RUN(more_threads_than_indexes),
    TL_RUN(one_thread_or_one_index_runs_on_the_caller),
    TL_RUN(empty_range_and_bad_arguments),
    TL_RUN(random_ranges_covered_once),
    TL_RUN(chunks_run_at_the_same_time),
    TL_RUN(thread_creation_fails_part_way),
};
TL_MAIN("02-data-parallelism/parfor")
