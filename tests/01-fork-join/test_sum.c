/*
 * test_sum.c - tests for exercise 01-fork-join/sum.
 *
 * What it shows: how to check a fork-join function without timing it. The
 * chunk function handed to sum_parallel() is ours: it records which chunk it
 * was called for and on which thread (tl_note_worker), so the tests can see
 * the split, count the threads, and tell a parallel sum from a serial one.
 *
 * DESIGN: one test makes every chunk wait at a rendezvous until all k chunks
 * have started. A fork-join sum gets there, however loaded the machine; a sum
 * that joins each thread before creating the next never does, and the
 * rendezvous gives up as soon as the counts prove it: the caller waits in a
 * join while fewer than k threads exist. Giving up is the failure; no time is
 * asserted.
 *
 * The error paths are run by making the n-th pthread_create (or malloc) fail
 * (tl_fault_nth). The chunks that did start are then held until the caller
 * blocks (in a join, normally) or returns, so a caller that returns the error
 * without joining is caught returning with its threads still alive - always,
 * not only when the scheduler happens to let it - and the held threads never
 * touch the jobs such a caller has already freed.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "sum.h"

#define MAX_CALLS 64

struct call {
    size_t lo, hi;
    int worker;
};

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rec_cond = PTHREAD_COND_INITIALIZER;
/* Guarded by rec_lock. */
static struct call calls[MAX_CALLS];
static size_t ncalls;
static size_t meet_expected; /* 0 = no rendezvous */
static size_t meet_arrived;
static bool meet_gave_up;

static atomic_bool hold;     /* chunks wait until the caller blocks or returns */
static atomic_bool returned; /* sum_parallel has returned (set by the test) */

/* Returns once the caller of sum_parallel is blocked (in a join, normally) or
 * has returned, or after tl_bound_s(); makes no wrapped call (polls). */
static void wait_for_the_caller(void)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (tl_blocked_count(TL_ST_COUNT) < 1 && !atomic_load(&returned)) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > tl_bound_s())
            return;
        tl_idle_ms(1);
    }
}

static void rec_reset(size_t rendezvous)
{
    pthread_mutex_lock(&rec_lock);
    ncalls = 0;
    meet_expected = rendezvous;
    meet_arrived = 0;
    meet_gave_up = false;
    pthread_mutex_unlock(&rec_lock);
}

/* Returns whether waiting for `want` threads to meet is hopeless: the calling
 * thread runs the work itself (w == 0), or it already waits in a join while
 * fewer than `want` threads exist (it joins each thread before creating the
 * next). Decided by counting, not by time; never blocks. */
static bool meeting_hopeless(int w, size_t want)
{
    return w == 0 || tl_joined_before_created((long)want);
}

/* Returns whether the CLOCK_REALTIME time at has passed; never blocks. */
static bool passed(const struct timespec *at)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec > at->tv_sec || (now.tv_sec == at->tv_sec && now.tv_nsec >= at->tv_nsec);
}

/* Our chunk function: sums, records the call, and waits at the rendezvous if
 * one is set, until all have arrived or meeting is hopeless (then it gives up
 * for everybody; a last-resort bound of 2 * tl_bound_s() only turns a hang
 * into a failure). */
static long chunk_sum(const long *a, size_t lo, size_t hi)
{
    if (atomic_load(&hold))
        wait_for_the_caller();
    int w = tl_note_worker();
    long s = 0;
    for (size_t i = lo; i < hi; i++)
        s += a[i];
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
    return s;
}

static int by_lo(const void *x, const void *y)
{
    const struct call *p = x, *q = y;
    return (p->lo > q->lo) - (p->lo < q->lo);
}

static long *random_array(uint64_t *rng, size_t n)
{
    long *a = malloc((n ? n : 1) * sizeof *a);
    ck_assert_ptr_nonnull(a);
    for (size_t i = 0; i < n; i++)
        a[i] = (long)(tl_rand(rng) % 2001) - 1000;
    return a;
}

/* Runs sum_parallel on a[0..n) with nthreads and checks everything the
 * contract promises: the result, the split, and the threads. */
static void check_sum(const long *a, size_t n, int nthreads, size_t rendezvous)
{
    long want = 0;
    for (size_t i = 0; i < n; i++)
        want += a[i];
    size_t k = n < (size_t)nthreads ? n : (size_t)nthreads;
    rec_reset(rendezvous);
    tl_counts_reset();
    long got = 12345;
    int rc = sum_parallel(a, n, nthreads, chunk_sum, &got);
    struct tl_counts c;
    tl_counts_get(&c);
    long seen = tl_workers_seen();

    pthread_mutex_lock(&rec_lock);
    size_t nc = ncalls;
    bool gave_up = meet_gave_up;
    struct call sorted[MAX_CALLS];
    memcpy(sorted, calls, sizeof sorted);
    pthread_mutex_unlock(&rec_lock);

    tl_assert(rc == 0, TL_WRONG, "sum_parallel(n=%zu, nthreads=%d) returned %d, expected 0", n,
              nthreads, rc);
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "n=%zu nthreads=%d: %ld threads created but %ld joined (%ld detached): sum.h asks "
              "sum_parallel to join every thread it creates before it returns", n, nthreads,
              c.threads_created, c.threads_joined, c.threads_detached);
    for (size_t i = 0; i < nc && i < MAX_CALLS; i++)
        tl_assert(sorted[i].worker != 0, TL_NOT_PARALLEL,
                  "n=%zu nthreads=%d: chunk [%zu,%zu) was summed by the calling thread", n,
                  nthreads, sorted[i].lo, sorted[i].hi);
    tl_assert(!gave_up, TL_NOT_PARALLEL,
              "n=%zu nthreads=%d: the %zu chunks never ran at the same time "
              "(is each thread joined before the next is created?)",
              n, nthreads, k);
    tl_assert(c.threads_created >= (long)k || k < 2, TL_NOT_PARALLEL,
              "n=%zu nthreads=%d: created %ld threads for %zu chunks", n, nthreads,
              c.threads_created, k);
    tl_assert(c.threads_created == (long)k, TL_WRONG,
              "n=%zu nthreads=%d: created %ld threads, expected min(n, nthreads) = %zu", n,
              nthreads, c.threads_created, k);
    tl_assert(nc == k, TL_WRONG, "n=%zu nthreads=%d: chunk function called %zu times, expected %zu",
              n, nthreads, nc, k);
    tl_assert(seen == (long)k, TL_NOT_PARALLEL,
              "n=%zu nthreads=%d: %ld distinct threads summed the %zu chunks", n, nthreads, seen,
              k);
    qsort(sorted, nc, sizeof sorted[0], by_lo);
    for (size_t i = 1; i < nc && i < MAX_CALLS; i++)
        tl_assert(sorted[i].lo != sorted[i - 1].lo || sorted[i].hi != sorted[i - 1].hi, TL_WRONG,
                  "n=%zu nthreads=%d: chunk [%zu,%zu) was summed by two threads, so another chunk "
                  "by none: did every thread get the same argument, such as &i of the creating "
                  "loop? A thread that reads it late sees the loop's later value; give each thread "
                  "a job of its own (book 1.4)", n, nthreads, sorted[i].lo, sorted[i].hi);
    size_t at = 0, small = n, big = 0;
    for (size_t i = 0; i < nc; i++) {
        size_t len = sorted[i].hi - sorted[i].lo;
        tl_assert(sorted[i].lo == at && sorted[i].hi > sorted[i].lo && sorted[i].hi <= n,
                  TL_WRONG, "n=%zu nthreads=%d: chunks do not tile [0,n): chunk %zu is [%zu,%zu), "
                  "expected it to start at %zu and be non-empty", n, nthreads, i, sorted[i].lo,
                  sorted[i].hi, at);
        at = sorted[i].hi;
        small = len < small ? len : small;
        big = len > big ? len : big;
    }
    tl_assert(at == n, TL_WRONG, "n=%zu nthreads=%d: the chunks cover [0,%zu) only", n, nthreads, at);
    tl_assert(nc == 0 || big - small <= 1, TL_WRONG,
              "n=%zu nthreads=%d: chunk sizes range from %zu to %zu (must differ by at most one)",
              n, nthreads, small, big);
    tl_assert(got == want, TL_WRONG, "n=%zu nthreads=%d: sum is %ld, expected %ld", n, nthreads,
              got, want);
}

TL_INTENT(splits_the_remainder,
          "The sum is right when the array does not divide evenly among the threads: the "
          "leftover elements are summed too.");
TL_TEST(splits_the_remainder)
{
    uint64_t rng = tl_input_seed();
    for (int round = 0; round < 20; round++) {
        int nthreads = 2 + (int)(tl_rand(&rng) % 7);
        size_t n = (size_t)nthreads * (1 + tl_rand(&rng) % 40) + 1 + tl_rand(&rng) % (size_t)(nthreads - 1);
        long *a = random_array(&rng, n);
        check_sum(a, n, nthreads, 0);
        free(a);
    }
}

TL_INTENT(more_threads_than_elements,
          "The sum is right when there are more threads than elements.");
TL_TEST(more_threads_than_elements)
{
    uint64_t rng = tl_input_seed() ^ 0x1111;
    for (int round = 0; round < 20; round++) {
        int nthreads = 2 + (int)(tl_rand(&rng) % 15);
        size_t n = 1 + tl_rand(&rng) % (size_t)(nthreads - 1);
        long *a = random_array(&rng, n);
        check_sum(a, n, nthreads, 0);
        free(a);
    }
}

TL_INTENT(empty_array_and_bad_arguments,
          "An empty array sums to 0, and nthreads=0 gives EINVAL, stores nothing and creates no "
          "thread.");
TL_TEST(empty_array_and_bad_arguments)
{
    uint64_t rng = tl_input_seed() ^ 0x2222;
    long *a = random_array(&rng, 4);
    check_sum(a, 0, 1 + (int)(tl_rand(&rng) % 8), 0);
    long got = 777;
    int rc = sum_parallel(a, 4, 0, chunk_sum, &got);
    tl_assert(rc == EINVAL && got == 777, TL_WRONG,
              "nthreads=0: returned %d and stored %ld, expected EINVAL and nothing stored", rc, got);
    struct tl_counts c;
    tl_counts_get(&c);
    tl_assert(c.threads_created == 0, TL_WRONG, "nthreads=0 created %ld threads", c.threads_created);
    free(a);
}

TL_INTENT(random_inputs_add_up,
          "For random arrays and thread counts, sum_parallel gives the same answer as a plain "
          "loop.");
TL_TEST(random_inputs_add_up)
{
    uint64_t rng = tl_input_seed() ^ 0x3333;
    for (int round = 0; round < 40; round++) {
        int nthreads = 1 + (int)(tl_rand(&rng) % 8);
        size_t n = tl_rand(&rng) % 3000;
        long *a = random_array(&rng, n);
        check_sum(a, n, nthreads, 0);
        free(a);
    }
}

/* Makes call nth of kind (pthread_create, or malloc) fail during sum_parallel
 * and checks sum.h's promise for that case: every thread already started
 * joined, the error returned, nothing stored, nothing left allocated. */
static void check_fault(const long *a, size_t n, int nthreads, enum tl_fault kind, long nth)
{
    long want_sum = 0;
    for (size_t i = 0; i < n; i++)
        want_sum += a[i];
    int want = kind == TL_FAULT_CREATE ? EAGAIN : ENOMEM;
    char when[200];
    snprintf(when, sizeof when, "n=%zu nthreads=%d, with the %ld%s %s failing (%s)", n, nthreads, nth,
             nth == 1 ? "st" : nth == 2 ? "nd" : nth == 3 ? "rd" : "th",
             kind == TL_FAULT_CREATE ? "pthread_create" : "allocation",
             kind == TL_FAULT_CREATE ? "EAGAIN" : "ENOMEM");
    rec_reset(0);
    atomic_store(&returned, false);
    atomic_store(&hold, true);
    tl_counts_reset();
    long got = 12345;
    tl_fault_nth(kind, nth, want);
    int rc = sum_parallel(a, n, nthreads, chunk_sum, &got);
    bool fired = tl_fault_fired(kind);
    tl_fault_nth(kind, 0, 0);
    struct tl_counts c;
    tl_counts_get(&c);
    /* Checked while the threads that started are still held, if they were never joined. */
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "%s: sum_parallel returned %d with %ld of the %ld threads it started not joined "
              "(%ld detached): it must join the threads already started before it returns the "
              "error (sum.h)", when, rc, c.threads_created - c.threads_joined, c.threads_created,
              c.threads_detached);
    atomic_store(&returned, true);
    atomic_store(&hold, false);
    if (!fired) { /* the call never got that far: then it must simply succeed */
        tl_assert(rc == 0 && got == want_sum, TL_WRONG, "n=%zu nthreads=%d: returned %d and a sum "
                  "of %ld, expected 0 and %ld", n, nthreads, rc, got, want_sum);
        return;
    }
    tl_assert(rc == want, TL_ERROR_PATH,
              "%s: sum_parallel returned %d (%s), expected %d (%s), the error of the call that "
              "failed (sum.h)", when, rc, strerror(rc), want, strerror(want));
    tl_assert(got == 12345, TL_ERROR_PATH,
              "%s: sum_parallel returned %d but stored %ld in *out: on an error nothing may be "
              "stored", when, rc, got);
    tl_assert(c.heap_allocs <= c.heap_frees, TL_MEMORY,
              "%s: sum_parallel made %ld allocations and freed %ld: on the error path too, "
              "everything must be freed", when, c.heap_allocs, c.heap_frees);
}

TL_INTENT(thread_creation_fails_part_way,
          "When pthread_create fails part way, sum_parallel joins the threads it started, "
          "returns the error, and leaks nothing.");
TL_TEST(thread_creation_fails_part_way)
{
    uint64_t rng = tl_input_seed() ^ 0x5555;
    for (int round = 0; round < 12; round++) {
        int nthreads = 2 + (int)(tl_rand(&rng) % 7);
        size_t n = (size_t)nthreads * (2 + tl_rand(&rng) % 20);
        long nth = round == 0 ? 1 : round == 1 ? nthreads : 2 + (long)(tl_rand(&rng) % (uint64_t)(nthreads - 1));
        long *a = random_array(&rng, n);
        check_fault(a, n, nthreads, TL_FAULT_CREATE, nth);
        free(a);
    }
}

TL_INTENT(allocation_fails,
          "When an allocation fails, sum_parallel returns the error, joins every thread it "
          "started, and frees everything.");
TL_TEST(allocation_fails)
{
    uint64_t rng = tl_input_seed() ^ 0x6666;
    for (long nth = 1; nth <= 4; nth++) {
        int nthreads = 2 + (int)(tl_rand(&rng) % 7);
        size_t n = (size_t)nthreads * (2 + tl_rand(&rng) % 20);
        long *a = random_array(&rng, n);
        check_fault(a, n, nthreads, TL_FAULT_MALLOC, nth);
        free(a);
    }
}

TL_INTENT(chunks_run_at_the_same_time,
          "The chunks really run at the same time, one on each thread, instead of one after "
          "another.");
TL_TEST(chunks_run_at_the_same_time)
{
    uint64_t rng = tl_input_seed() ^ 0x4444;
    for (int round = 0; round < 5; round++) {
        int nthreads = 2 + (int)(tl_rand(&rng) % 5);
        size_t n = (size_t)nthreads * 3 + tl_rand(&rng) % 100;
        long *a = random_array(&rng, n);
        check_sum(a, n, nthreads, (size_t)nthreads);
        free(a);
    }
}

static const struct tl_test tl_tests[] = {
    TL_RUN(splits_the_remainder),
    TL_RUN(more_threads_than_elements),
    TL_RUN(empty_array_and_bad_arguments),
    TL_RUN(random_inputs_add_up),
    TL_RUN(chunks_run_at_the_same_time),
    TL_RUN(thread_creation_fails_part_way),
    TL_RUN(allocation_fails),
};
TL_MAIN("01-fork-join/sum")
