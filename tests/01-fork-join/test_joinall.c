/*
 * test_joinall.c - tests for exercise 01-fork-join/joinall.
 *
 * What it shows: testing error propagation across threads. The jobs are
 * ours: each knows in advance whether it fails and with which error, counts
 * its own calls, and notes which thread ran it (tl_note_worker).
 *
 * DESIGN: one test makes the jobs finish in reverse index order (job i waits
 * until every job after it is done), so "the first error to happen" and "the
 * error of the smallest index" are different errors: only the second is
 * right. That needs all the threads alive at once; if they are not, the wait
 * gives up after a second and the test reports it. The asan pass catches
 * outcomes that are leaked or used after free.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "joinall.h"

#define MAX_JOBS 32

static const int some_errors[] = {EIO, ENOENT, EACCES, EPERM, EBADF, ENOSPC, EROFS, ETIMEDOUT};

/* The plan for the current run: written by the test thread before
 * joinall_run() (pthread_create orders it before the jobs read it). */
static size_t plan_n;
static long plan_value[MAX_JOBS];
static int plan_err[MAX_JOBS];
static bool plan_reverse;

static atomic_int calls[MAX_JOBS];
static atomic_int bad_index;   /* calls with an index >= plan_n */
static atomic_int from_main;   /* calls made on the calling thread */

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t order_cond = PTHREAD_COND_INITIALIZER;
/* Guarded by order_lock. */
static bool done[MAX_JOBS];
static bool gave_up;

/* Our job: fails or returns its planned value. In reverse mode it first
 * waits (at most a second) until every job with a larger index is done. */
static int test_job(size_t index, long *value)
{
    if (tl_note_worker() == 0)
        atomic_fetch_add_explicit(&from_main, 1, memory_order_relaxed);
    if (index >= plan_n) {
        atomic_fetch_add_explicit(&bad_index, 1, memory_order_relaxed);
        return EDOM;
    }
    atomic_fetch_add_explicit(&calls[index], 1, memory_order_relaxed);
    pthread_mutex_lock(&order_lock);
    if (plan_reverse) {
        struct timespec until = tl_deadline(1.0);
        for (;;) {
            bool later_done = true;
            for (size_t j = index + 1; j < plan_n; j++)
                later_done = later_done && done[j];
            if (later_done || gave_up)
                break;
            if (pthread_cond_timedwait(&order_cond, &order_lock, &until) == ETIMEDOUT)
                gave_up = true;
        }
    }
    done[index] = true;
    pthread_cond_broadcast(&order_cond);
    pthread_mutex_unlock(&order_lock);
    if (plan_err[index] != 0)
        return plan_err[index];
    *value = plan_value[index];
    return 0;
}

/* Makes a plan of n jobs, nfail of them failing with distinct errors. */
static void make_plan(uint64_t *rng, size_t n, size_t nfail, bool reverse)
{
    plan_n = n;
    plan_reverse = reverse;
    for (size_t i = 0; i < MAX_JOBS; i++) {
        plan_value[i] = (long)(tl_rand(rng) % 1000000) + 1;
        plan_err[i] = 0;
        atomic_store(&calls[i], 0);
        done[i] = false;
    }
    size_t nerr = sizeof some_errors / sizeof some_errors[0];
    size_t first_code = tl_rand(rng) % nerr;
    for (size_t f = 0; f < nfail && f < n; f++) {
        size_t i;
        do
            i = tl_rand(rng) % n;
        while (plan_err[i] != 0);
        plan_err[i] = some_errors[(first_code + f) % nerr];
    }
    atomic_store(&bad_index, 0);
    atomic_store(&from_main, 0);
    gave_up = false;
}

/* Runs joinall_run on the current plan and checks everything the contract
 * promises: threads, calls, values, and the error reported. */
static void check_run(void)
{
    size_t n = plan_n;
    long values[MAX_JOBS + 1];
    for (size_t i = 0; i <= MAX_JOBS; i++)
        values[i] = -7;
    size_t failed = 999;
    tl_counts_reset();
    int rc = joinall_run(n, test_job, values, &failed);
    struct tl_counts c;
    tl_counts_get(&c);

    int want = 0;
    size_t want_index = 999;
    for (size_t i = n; i-- > 0;)
        if (plan_err[i] != 0) {
            want = plan_err[i];
            want_index = i;
        }

    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "%zu jobs: %ld threads created but only %ld joined (join every thread, also "
              "after an error)", n, c.threads_created, c.threads_joined);
    tl_assert(atomic_load(&from_main) == 0, TL_NOT_PARALLEL,
              "%zu jobs: %d jobs ran on the calling thread", n, atomic_load(&from_main));
    pthread_mutex_lock(&order_lock);
    bool waited_in_vain = gave_up;
    pthread_mutex_unlock(&order_lock);
    tl_assert(!waited_in_vain, TL_NOT_PARALLEL,
              "%zu jobs: the jobs were never all running at once (start all threads before "
              "joining any)", n);
    tl_assert(c.threads_created == (long)n, TL_WRONG, "%zu jobs: %ld threads created, expected %zu",
              n, c.threads_created, n);
    tl_assert(tl_workers_seen() == (long)n, TL_NOT_PARALLEL,
              "%zu jobs ran on %ld distinct threads", n, tl_workers_seen());
    tl_assert(atomic_load(&bad_index) == 0, TL_WRONG, "%zu jobs: a job was called with an index >= n",
              n);
    for (size_t i = 0; i < n; i++)
        tl_assert(atomic_load(&calls[i]) == 1, TL_WRONG, "%zu jobs: job %zu ran %d times", n, i,
                  atomic_load(&calls[i]));
    for (size_t i = 0; i < n; i++) {
        long v = plan_err[i] != 0 ? 0 : plan_value[i];
        tl_assert(values[i] == v, TL_WRONG, "%zu jobs: values[%zu] = %ld, expected %ld%s", n, i,
                  values[i], v, plan_err[i] != 0 ? " (the job failed)" : "");
    }
    tl_assert(values[n] == -7, TL_MEMORY, "%zu jobs: values[%zu] was written (out of bounds)", n, n);
    tl_assert(rc == want, TL_WRONG, "%zu jobs: returned %d (%s), expected %d (%s)", n, rc,
              strerror(rc), want, strerror(want));
    if (want != 0)
        tl_assert(failed == want_index, TL_WRONG,
                  "%zu jobs: *failed = %zu, expected %zu (the smallest index that failed)", n,
                  failed, want_index);
    else
        tl_assert(failed == 999, TL_WRONG, "%zu jobs, none failed: *failed was changed to %zu", n,
                  failed);
}

TL_TEST(all_jobs_succeed)
{
    uint64_t rng = tl_input_seed();
    for (int round = 0; round < 20; round++) {
        make_plan(&rng, 1 + tl_rand(&rng) % 16, 0, false);
        check_run();
    }
}

TL_TEST(first_error_by_index_wins)
{
    uint64_t rng = tl_input_seed() ^ 0x5555;
    for (int round = 0; round < 30; round++) {
        size_t n = 2 + tl_rand(&rng) % 15;
        make_plan(&rng, n, 1 + tl_rand(&rng) % 3, false);
        check_run();
    }
}

TL_TEST(errors_finish_in_reverse_order)
{
    uint64_t rng = tl_input_seed() ^ 0x6666;
    for (int round = 0; round < 10; round++) {
        size_t n = 3 + tl_rand(&rng) % 8;
        make_plan(&rng, n, 2 + tl_rand(&rng) % 2, true);
        check_run();
    }
}

TL_TEST(no_jobs_and_bad_arguments)
{
    uint64_t rng = tl_input_seed() ^ 0x7777;
    make_plan(&rng, 0, 0, false);
    check_run();
    long values[4] = {0};
    size_t failed = 999;
    int rc = joinall_run(4, NULL, values, &failed);
    tl_assert(rc == EINVAL, TL_WRONG, "joinall_run(4, NULL, ...) returned %d, expected EINVAL", rc);
    rc = joinall_run(4, test_job, NULL, &failed);
    tl_assert(rc == EINVAL, TL_WRONG, "joinall_run(4, job, NULL, ...) returned %d, expected EINVAL",
              rc);
    struct tl_counts c;
    tl_counts_get(&c);
    tl_assert(c.threads_created == 0, TL_WRONG, "bad arguments, yet %ld threads were created",
              c.threads_created);
}

static const struct tl_test tl_tests[] = {
    TL_RUN(all_jobs_succeed),
    TL_RUN(first_error_by_index_wins),
    TL_RUN(errors_finish_in_reverse_order),
    TL_RUN(no_jobs_and_bad_arguments),
};
TL_MAIN("01-fork-join/joinall")
