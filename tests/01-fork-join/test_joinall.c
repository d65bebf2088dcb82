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
 * right. That needs all the threads alive at once; when the counts prove they
 * cannot be (the caller waits in a join while fewer than n threads exist), the
 * wait gives up and the test reports it. Every run also counts the
 * allocations joinall_run makes and frees (tl_counts), so a leaked task or
 * outcome fails in every pass, and the asan pass catches what is used after
 * free.
 *
 * The error paths are run by making the n-th pthread_create (or malloc) fail
 * (tl_fault_nth). The jobs that did start are then held until the caller
 * blocks (in a join, normally) or returns, so a caller that returns the error
 * without joining is always caught with its threads still alive.
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
static long gave_up_created;  /* threads created when a job gave up (-1: timed out) */
static int gave_up_joining;   /* threads blocked in a join then */

static atomic_bool hold;     /* jobs wait until the caller blocks or returns */
static atomic_bool returned; /* joinall_run has returned (set by the test) */

/* Returns once the caller of joinall_run is blocked (in a join, normally) or
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

/* Our job: fails or returns its planned value. In reverse mode it first waits
 * until every job with a larger index is done, or until that is hopeless
 * (then it gives up for everybody; a last-resort bound of 2 * tl_bound_s()
 * only turns a hang into a failure). */
static int test_job(size_t index, long *value)
{
    if (atomic_load(&hold))
        wait_for_the_caller();
    int w = tl_note_worker();
    if (w == 0)
        atomic_fetch_add_explicit(&from_main, 1, memory_order_relaxed);
    if (index >= plan_n) {
        atomic_fetch_add_explicit(&bad_index, 1, memory_order_relaxed);
        return EDOM;
    }
    atomic_fetch_add_explicit(&calls[index], 1, memory_order_relaxed);
    pthread_mutex_lock(&order_lock);
    if (plan_reverse) {
        struct timespec until = tl_deadline(2 * tl_bound_s());
        for (;;) {
            bool later_done = true;
            for (size_t j = index + 1; j < plan_n; j++)
                later_done = later_done && done[j];
            if (later_done || gave_up)
                break;
            bool late = passed(&until);
            if (meeting_hopeless(w, plan_n) || late) {
                struct tl_counts c;
                tl_counts_get(&c);
                gave_up = true;
                gave_up_created = late ? -1 : c.threads_created;
                gave_up_joining = tl_blocked_count(TL_ST_JOIN);
                break; /* the broadcast below wakes the others */
            }
            struct timespec slice = tl_deadline(0.01); /* to look at the counts again */
            pthread_cond_timedwait(&order_cond, &order_lock, &slice);
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
              "%zu jobs: %ld threads created but only %ld joined (%ld detached): joinall.h asks "
              "for every thread to be joined, also after an error", n, c.threads_created,
              c.threads_joined, c.threads_detached);
    tl_assert(atomic_load(&from_main) == 0, TL_NOT_PARALLEL,
              "%zu jobs: %d jobs ran on the calling thread", n, atomic_load(&from_main));
    tl_assert(atomic_load(&bad_index) == 0, TL_WRONG,
              "%zu jobs: a job was called with an index >= n (did the threads read a shared "
              "index after the creating loop had moved on? book 1.4)", n);
    for (size_t i = 0; i < n; i++)
        tl_assert(atomic_load(&calls[i]) == 1, TL_WRONG,
                  "%zu jobs: job %zu ran %d times%s", n, i, atomic_load(&calls[i]),
                  atomic_load(&calls[i]) == 0 || atomic_load(&calls[i]) == 2
                      ? " (did the threads get the address of one variable that the creating "
                        "loop rewrites - &i, or one shared task - and read it late? Each thread "
                        "needs a task of its own; book 1.4)"
                      : "");
    tl_assert(rc != ENOMEM, TL_MEMORY,
              "%zu jobs: joinall_run returned ENOMEM, but no allocation failed: a thread handed "
              "back NULL instead of a heap outcome. The usual cause is `return &out;` with a "
              "local `out`: its memory dies with the thread's stack, and gcc compiles it to "
              "`return NULL` (see its warning \"function returns address of local variable\"); "
              "malloc the outcome (book 1.5)", n);
    tl_assert(c.heap_allocs <= c.heap_frees, TL_MEMORY,
              "%zu jobs: joinall_run made %ld allocations and freed %ld: every task and every "
              "outcome must be freed (the thread frees its task, the joiner its outcome)", n,
              c.heap_allocs, c.heap_frees);
    pthread_mutex_lock(&order_lock);
    bool waited_in_vain = gave_up;
    pthread_mutex_unlock(&order_lock);
    tl_assert(!waited_in_vain, TL_NOT_PARALLEL,
              "%zu jobs: the jobs were never all running at once (start all threads before "
              "joining any): a job gave up waiting %s, with %ld thread(s) created and %d in a "
              "join", n, gave_up_created < 0 ? "after the time limit" : "as the caller joined",
              gave_up_created, gave_up_joining);
    tl_assert(c.threads_created == (long)n, TL_WRONG, "%zu jobs: %ld threads created, expected %zu",
              n, c.threads_created, n);
    tl_assert(tl_workers_seen() == (long)n, TL_NOT_PARALLEL,
              "%zu jobs ran on %ld distinct threads", n, tl_workers_seen());
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

TL_INTENT(all_jobs_succeed,
          "Every job runs on a thread of its own, its value lands in values[i], and every thread "
          "is joined before joinall_run returns 0.");
TL_TEST(all_jobs_succeed)
{
    uint64_t rng = tl_input_seed();
    for (int round = 0; round < 10; round++) {
        make_plan(&rng, 1 + tl_rand(&rng) % 16, 0, false);
        check_run();
    }
}

TL_INTENT(first_error_by_index_wins,
          "When some jobs fail, joinall_run waits for all of them and reports the error of the "
          "failed job with the smallest index.");
TL_TEST(first_error_by_index_wins)
{
    uint64_t rng = tl_input_seed() ^ 0x5555;
    for (int round = 0; round < 15; round++) {
        size_t n = 2 + tl_rand(&rng) % 15;
        make_plan(&rng, n, 1 + tl_rand(&rng) % 3, false);
        check_run();
    }
}

TL_INTENT(errors_finish_in_reverse_order,
          "The reported error is the one with the smallest index even when the failed jobs "
          "finish in the opposite order.");
TL_TEST(errors_finish_in_reverse_order)
{
    uint64_t rng = tl_input_seed() ^ 0x6666;
    for (int round = 0; round < 10; round++) {
        size_t n = 3 + tl_rand(&rng) % 8;
        make_plan(&rng, n, 2 + tl_rand(&rng) % 2, true);
        check_run();
    }
}

/* Runs joinall_run on the current plan with call nth of kind (pthread_create,
 * or malloc) failing, and checks joinall.h's promise for that case: every
 * thread already started joined, everything allocated freed, the error of the
 * failed call returned. */
static void check_fault(enum tl_fault kind, long nth)
{
    size_t n = plan_n;
    long values[MAX_JOBS];
    size_t failed = 999;
    int want = kind == TL_FAULT_CREATE ? EAGAIN : ENOMEM;
    char when[160];
    snprintf(when, sizeof when, "%zu jobs, with the %ld%s %s failing (%s)", n, nth,
             nth == 1 ? "st" : nth == 2 ? "nd" : nth == 3 ? "rd" : "th",
             kind == TL_FAULT_CREATE ? "pthread_create" : "allocation",
             kind == TL_FAULT_CREATE ? "EAGAIN" : "ENOMEM");
    atomic_store(&returned, false);
    atomic_store(&hold, true);
    tl_counts_reset();
    tl_fault_nth(kind, nth, want);
    int rc = joinall_run(n, test_job, values, &failed);
    bool fired = tl_fault_fired(kind);
    tl_fault_nth(kind, 0, 0);
    struct tl_counts c;
    tl_counts_get(&c);
    /* Checked while the threads that started are still held, if they were never joined. */
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "%s: joinall_run returned %d with %ld of the %ld threads it started not joined "
              "(%ld detached): it must join the threads already started before it returns the "
              "error (joinall.h)", when, rc, c.threads_created - c.threads_joined,
              c.threads_created, c.threads_detached);
    atomic_store(&returned, true);
    atomic_store(&hold, false);
    tl_assert(c.heap_allocs <= c.heap_frees, TL_MEMORY,
              "%s: joinall_run made %ld allocations and freed %ld: on the error path too, every "
              "task and outcome must be freed (a task whose thread never started is still "
              "yours; book 1.4)", when, c.heap_allocs, c.heap_frees);
    int want_ok = 0;
    for (size_t i = n; i-- > 0;)
        if (plan_err[i] != 0)
            want_ok = plan_err[i];
    if (!fired) { /* the run never got that far: then it must simply work */
        tl_assert(rc == want_ok, TL_WRONG,
                  "%zu jobs (the allocation the test would have failed was never made): returned "
                  "%d (%s), expected %d", n, rc, strerror(rc), want_ok);
        return;
    }
    tl_assert(rc == want, TL_ERROR_PATH,
              "%s: joinall_run returned %d (%s), expected %d (%s), the error of the call that "
              "failed (joinall.h)", when, rc, strerror(rc), want, strerror(want));
}

TL_INTENT(thread_creation_fails_part_way,
          "When pthread_create fails part way, joinall_run joins every thread it did start, "
          "returns the error, and leaks nothing.");
TL_TEST(thread_creation_fails_part_way)
{
    uint64_t rng = tl_input_seed() ^ 0x8888;
    for (int round = 0; round < 12; round++) {
        size_t n = 2 + tl_rand(&rng) % 10;
        make_plan(&rng, n, 0, false);
        long nth = round == 0 ? 1 : round == 1 ? (long)n : 2 + (long)(tl_rand(&rng) % (n - 1));
        check_fault(TL_FAULT_CREATE, nth);
    }
}

TL_INTENT(allocation_fails,
          "When an allocation fails, joinall_run returns the error, joins every thread it "
          "started, and frees everything.");
TL_TEST(allocation_fails)
{
    uint64_t rng = tl_input_seed() ^ 0x9999;
    for (long nth = 1; nth <= 12; nth++) {
        make_plan(&rng, 2 + tl_rand(&rng) % 4, 0, false);
        check_fault(TL_FAULT_MALLOC, nth);
    }
}

TL_INTENT(no_jobs_and_bad_arguments,
          "Zero jobs succeed at once, and a NULL job or values array gives EINVAL without "
          "creating any thread.");
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
    TL_RUN(thread_creation_fails_part_way),
    TL_RUN(allocation_fails),
};
TL_MAIN("01-fork-join/joinall")
