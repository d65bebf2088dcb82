/*
 * test_join.c - tests for chapters/08-work-stealing/join.c.
 *
 * What it shows: how to test a fork-join runtime by counting. A binary tree
 * of nested joins must finish on a pool of one worker (nobody can steal, so a
 * join that waits for someone else to run b never returns); fib with a cutoff
 * must equal the serial fib; every leaf of a tree must run exactly once; and
 * on several workers the leaves must really be spread (tl_note_worker counts
 * which thread ran each one).
 *
 * DESIGN: every leaf writes its result into plain memory that its parent
 * reads after the join returns, so only the runtime's own ordering (the
 * thief's release when b is done, the joiner's acquire) makes the result
 * visible: a join that returns before a stolen b is done reads a result not
 * yet written (wrong-result), and ThreadSanitizer sees the unordered access.
 * The test's own counters are relaxed atomics.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "join.h"

static ws_pool *make_pool(int n)
{
    errno = 0;
    ws_pool *p = ws_pool_create(n);
    tl_assert(p != NULL, TL_WRONG, "ws_pool_create(%d) returned NULL (errno %d)", n, errno);
    return p;
}

/* ------------------------------------------------------- a tree of joins */

struct node {
    ws_pool *p;
    int lo, hi;             /* the leaves lo..hi-1 */
    uint64_t key;
    uint64_t sum;           /* plain: written by whoever ran this node, read by its parent */
    atomic_int *ran;        /* per leaf: how often it ran (relaxed) */
    int spin;               /* work per leaf */
    atomic_ullong *threads; /* a bit per thread that ran a leaf (relaxed) */
    atomic_bool finished;   /* relaxed: set when this node's task returns */
};

static atomic_ullong no_threads;

/* Fails the test (wrong-result) at once unless both tasks of the join
 * called what (a printf format over lo, hi) have returned. */
static void expect_both_done(atomic_bool *fa, atomic_bool *fb, const char *what, int lo, int hi)
{
    bool da = atomic_load_explicit(fa, memory_order_relaxed);
    bool db = atomic_load_explicit(fb, memory_order_relaxed);
    if (da && db)
        return;
    char label[96];
    snprintf(label, sizeof label, what, lo, hi);
    tl_assert(false, TL_WRONG, "%s returned while its %s was still running", label,
              !da ? "a" : "b (stolen: the join must help until it is done)");
}

static uint64_t leaf_value(uint64_t key, int i)
{
    uint64_t z = key ^ ((uint64_t)i * 0x9E3779B97F4A7C15ull);
    return (z ^ (z >> 31)) & 0xffffff;
}

static void tree(void *arg)
{
    struct node *n = arg;
    if (n->hi - n->lo == 1) {
        volatile uint64_t h = 0;
        for (int k = 0; k < n->spin; k++)
            h = h * 31 + (uint64_t)k;
        int w = tl_note_worker();
        atomic_fetch_or_explicit(n->threads, 1ull << (w & 63), memory_order_relaxed);
        atomic_fetch_add_explicit(&n->ran[n->lo], 1, memory_order_relaxed);
        n->sum = leaf_value(n->key, n->lo) + (h & 0);
        atomic_store_explicit(&n->finished, true, memory_order_relaxed);
        return;
    }
    int mid = n->lo + (n->hi - n->lo) / 2;
    struct node a = {n->p, n->lo, mid, n->key, 0, n->ran, n->spin, n->threads, false};
    struct node b = {n->p, mid, n->hi, n->key, 0, n->ran, n->spin, n->threads, false};
    ws_join(n->p, tree, &a, tree, &b);
    /* Fail at once (before b's thief writes into a stack frame that is gone). */
    expect_both_done(&a.finished, &b.finished, "the join over leaves %d..%d", n->lo, n->hi - 1);
    n->sum = a.sum + b.sum; /* b's sum: visible only if the join waited for b */
    atomic_store_explicit(&n->finished, true, memory_order_relaxed);
}

/* Runs a tree of `leaves` leaves on p; checks every leaf ran once and the sum. */
static void run_tree_seen(ws_pool *p, int leaves, int spin, const char *what, atomic_ullong *threads)
{
    atomic_int *ran = calloc((size_t)leaves, sizeof *ran);
    tl_assert(ran != NULL, TL_WRONG, "test: out of memory");
    struct node root = {p, 0, leaves, tl_input_seed(), 0, ran, spin, threads, false};
    ws_run(p, tree, &root);
    uint64_t want = 0;
    long missing = 0, twice = 0;
    int first = -1;
    for (int i = 0; i < leaves; i++) {
        want += leaf_value(root.key, i);
        int c = atomic_load_explicit(&ran[i], memory_order_relaxed);
        if (c != 1 && first < 0)
            first = i;
        missing += c == 0;
        twice += c > 1;
    }
    tl_assert(missing == 0 && twice == 0, TL_WRONG,
              "%s: of %d leaves, %ld never ran and %ld ran more than once (first: leaf %d)", what,
              leaves, missing, twice, first);
    tl_assert(root.sum == want, TL_WRONG,
              "%s: the sum over %d leaves is %llu, want %llu: a join returned before its b was done, "
              "so the parent added a result not yet written", what, leaves,
              (unsigned long long)root.sum, (unsigned long long)want);
    free(ran);
}

static void run_tree(ws_pool *p, int leaves, int spin, const char *what)
{
    run_tree_seen(p, leaves, spin, what, &no_threads);
}

TL_INTENT(create_checks_its_size,
          "ws_pool_create rejects a bad worker count with EINVAL, and ws_worker_index is -1 "
          "outside the pool.");
TL_TEST(create_checks_its_size)
{
    static const int bad[] = {0, -1, 65};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        ws_pool *p = ws_pool_create(bad[i]);
        int e = errno;
        tl_assert(p == NULL && e == EINVAL, TL_WRONG,
                  "ws_pool_create(%d) must return NULL with errno EINVAL, got %p and errno %d", bad[i],
                  (void *)p, e);
    }
    ws_pool *p = make_pool(2);
    tl_assert(ws_worker_index(p) == -1, TL_WRONG, "ws_worker_index from the main thread: want -1");
    ws_pool_destroy(p);
}

TL_INTENT(nested_joins_finish_on_one_worker,
          "Nested fork/join finishes even on a pool of one worker: a join runs pending tasks "
          "instead of just blocking.");
/* snippet: one_worker */
TL_TEST(nested_joins_finish_on_one_worker)
{
    ws_pool *p = make_pool(1);
    run_tree(p, 1 << 12, 0, "a tree of nested joins on a pool of ONE worker");
    ws_pool_destroy(p);
}
/* end snippet: one_worker */

TL_INTENT(every_leaf_runs_once_on_three_workers,
          "Every leaf task of a tree of forks runs exactly once on a pool of three workers.");
TL_TEST(every_leaf_runs_once_on_three_workers)
{
    ws_pool *p = make_pool(3);
    for (int round = 0; round < 20; round++)
        run_tree(p, 1 << 12, 50, "a tree of nested joins on 3 workers");
    ws_pool_destroy(p);
}

/* -------------------------------------------------------------------- fib */

struct fib {
    ws_pool *p;
    int n;
    long r;                 /* plain: written by whoever ran it, read by the parent */
    atomic_bool finished;   /* relaxed: set when this task returns */
};

static long fib_serial(int n)
{
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

static void fib_task(void *arg)
{
    struct fib *f = arg;
    if (f->n < 12) { /* the cutoff: small problems run serially */
        f->r = fib_serial(f->n);
        atomic_store_explicit(&f->finished, true, memory_order_relaxed);
        return;
    }
    struct fib a = {f->p, f->n - 1, -1, false}, b = {f->p, f->n - 2, -1, false};
    ws_join(f->p, fib_task, &a, fib_task, &b);
    expect_both_done(&a.finished, &b.finished, "the join of fib(%d)%.0d", f->n, 0);
    f->r = a.r + b.r;
    atomic_store_explicit(&f->finished, true, memory_order_relaxed);
}

TL_INTENT(fib_with_a_cutoff_equals_serial,
          "fib computed with fork/join and a cutoff gives the same answer as the serial function.");
TL_TEST(fib_with_a_cutoff_equals_serial)
{
    uint64_t rs = tl_input_seed();
    ws_pool *p = make_pool(2);
    for (int k = 0; k < 4; k++) {
        int n = 20 + (int)(tl_rand(&rs) % 6);
        struct fib f = {p, n, -1, false};
        ws_run(p, fib_task, &f);
        long want = fib_serial(n);
        tl_assert(f.r == want, TL_WRONG, "fib(%d) on 2 workers: got %ld, want %ld", n, f.r, want);
    }
    ws_pool_destroy(p);
}

/* ------------------------------------------------------------- spreading */

TL_INTENT(the_work_is_spread_over_the_workers,
          "Idle workers steal: the leaves of a tree do not all run on the same worker.");
TL_TEST(the_work_is_spread_over_the_workers)
{
    ws_pool *p = make_pool(2);
    long seen = 0;
    /* One thread at a time (the sched pass), a leaf runs to its end without a
     * switch point, so nothing can be stolen meanwhile: spreading is the other
     * passes' lesson, the schedules are this one's. */
    if (tl_sched_active()) {
        ws_pool_destroy(p);
        return;
    }
    /* Up to 10 trees, each counted by itself (the root of each may go to
     * either worker): a correct pool spreads the first (the idle worker
     * steals within microseconds; pinned to one CPU, at its next time slice). */
    for (int round = 0; round < 10 && seen < 2; round++) {
        atomic_ullong threads;
        atomic_init(&threads, 0);
        run_tree_seen(p, 1 << 11, 20000, "a tree of nested joins on 2 workers", &threads);
        seen = __builtin_popcountll(atomic_load(&threads));
    }
    tl_assert(seen >= 2, TL_NOT_PARALLEL,
              "10 trees of 2048 leaves on a pool of 2 workers: in each, every leaf ran on the same "
              "thread (no b was ever stolen and run by the other worker)");
    ws_pool_destroy(p);
}

static const struct tl_test tl_tests[] = {
    TL_RUN(create_checks_its_size),
    TL_RUN(nested_joins_finish_on_one_worker),
    TL_RUN(every_leaf_runs_once_on_three_workers),
    TL_RUN(fib_with_a_cutoff_equals_serial),
    TL_RUN(the_work_is_spread_over_the_workers),
};
TL_MAIN("08-work-stealing/join")
