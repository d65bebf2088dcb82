/*
 * test_psort.c - tests for chapters/08-work-stealing/psort.c.
 *
 * What it shows: how to test a parallel sort by counting. The result must
 * equal qsort's on inputs from tl_input_seed() of every awkward shape; the
 * leaf hook proves the leaves cover the array exactly once (halves that
 * overlap, or miss an element, show up at once) and that, on two workers,
 * both sorted some (the work was spread); a pool of one worker must sort
 * too; and a failed scratch allocation must return ENOMEM, leave the array
 * as it was and leak nothing.
 *
 * DESIGN: the test's own counters are relaxed atomics, bumped from the hook;
 * the array itself is plain memory written by the workers and read here after
 * ws_sort returns, so a merge that reads a half before its thief finished
 * reads unsorted data (wrong-result) and ThreadSanitizer sees the race.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "psort.h"

static ws_pool *make_pool(int n)
{
    errno = 0;
    ws_pool *p = ws_pool_create(n);
    tl_assert(p != NULL, TL_WRONG, "ws_pool_create(%d) returned NULL (errno %d)", n, errno);
    return p;
}

static int cmp_int(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* What the hook sees. */
struct leaves {
    ws_pool *p;
    size_t n;
    atomic_int *covered;   /* per element: how many leaves held it (relaxed) */
    atomic_long count;     /* leaves (relaxed) */
    atomic_long too_long;  /* leaves longer than the cutoff (relaxed) */
    atomic_ullong workers; /* a bit per worker index that sorted a leaf (relaxed) */
    int spin;              /* extra work per leaf */
};

static void hook(void *arg, size_t lo, size_t len)
{
    struct leaves *s = arg;
    volatile unsigned h = 0;
    for (int k = 0; k < s->spin; k++)
        h = h * 31u + (unsigned)k;
    int w = ws_worker_index(s->p);
    atomic_fetch_or_explicit(&s->workers, 1ull << (w < 0 ? 63 : w & 63), memory_order_relaxed);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    if (len > WS_SORT_CUTOFF && s->n > WS_SORT_CUTOFF)
        atomic_fetch_add_explicit(&s->too_long, 1, memory_order_relaxed);
    if (s->covered != NULL)
        for (size_t i = lo; i < lo + len && i < s->n; i++)
            atomic_fetch_add_explicit(&s->covered[i], 1, memory_order_relaxed);
}

enum shape { RANDOM, FEW_VALUES, SORTED, REVERSED, ALL_EQUAL };
static const char *const shape_name[] = {"random", "few distinct values", "already sorted",
                                         "reversed", "all equal"};

static void fill(int *a, size_t n, enum shape s, uint64_t *rs)
{
    for (size_t i = 0; i < n; i++) {
        switch (s) {
        case RANDOM: a[i] = (int)(tl_rand(rs) % 2000001) - 1000000; break;
        case FEW_VALUES: a[i] = (int)(tl_rand(rs) % 4); break;
        case SORTED: a[i] = (int)i * 3 - (int)(n / 2); break;
        case REVERSED: a[i] = (int)(n - i) * 2; break;
        case ALL_EQUAL: a[i] = 7; break;
        }
    }
}

/* Sorts one input of n elements on p; checks the result against qsort and
 * the leaves against the array. Returns the bits of the workers that sorted
 * leaves. */
static unsigned long long sort_one(ws_pool *p, size_t n, enum shape sh, uint64_t *rs, int spin,
                                   const char *what)
{
    int *a = malloc((n ? n : 1) * sizeof *a), *want = malloc((n ? n : 1) * sizeof *want);
    atomic_int *cov = calloc(n ? n : 1, sizeof *cov);
    tl_assert(a && want && cov, TL_WRONG, "test: out of memory");
    fill(a, n, sh, rs);
    memcpy(want, a, n * sizeof *a);
    qsort(want, n, sizeof *want, cmp_int);
    struct leaves s = {.p = p, .n = n, .covered = cov, .spin = spin};
    int rc = ws_sort_hooked(p, a, n, hook, &s);
    tl_assert(rc == 0, TL_WRONG, "%s: ws_sort of %zu %s ints returned %d, want 0", what, n,
              shape_name[sh], rc);
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
        if (a[i] != want[i])
            bad = i;
    tl_assert(bad == n, TL_WRONG,
              "%s: ws_sort of %zu %s ints: element %zu is %d, want %d (as qsort): a merge read a "
              "half that was not sorted yet, or the halves overlap or miss elements", what, n,
              shape_name[sh], bad, a[bad], want[bad]);
    long leaves = atomic_load_explicit(&s.count, memory_order_relaxed);
    tl_assert(n == 0 || leaves >= 1, TL_WRONG, "%s: ws_sort of %zu ints never called the hook", what, n);
    tl_assert(atomic_load_explicit(&s.too_long, memory_order_relaxed) == 0, TL_WRONG,
              "%s: ws_sort of %zu ints sorted a leaf longer than WS_SORT_CUTOFF (%d)", what, n,
              WS_SORT_CUTOFF);
    for (size_t i = 0; i < n; i++) {
        int c = atomic_load_explicit(&cov[i], memory_order_relaxed);
        tl_assert(c == 1, TL_WRONG,
                  "%s: ws_sort of %zu ints: element %zu was in %d leaves, want exactly 1 (the "
                  "halves [lo, mid) and [mid, hi) must not overlap nor leave a gap)", what, n, i, c);
    }
    free(a);
    free(want);
    free(cov);
    return atomic_load_explicit(&s.workers, memory_order_relaxed);
}

TL_INTENT(sorts_like_qsort_every_shape_and_size,
          "ws_sort sorts arrays of every shape and size (random, few distinct values, sorted, "
          "reversed, all equal) exactly as qsort does.");
/* snippet: shapes */
TL_TEST(sorts_like_qsort_every_shape_and_size)
{
    uint64_t rs = tl_input_seed();
    ws_pool *p = make_pool(2);
    size_t odd = 2 * (size_t)WS_SORT_CUTOFF * 37 + 1 + 2 * (tl_rand(&rs) % 100);
    const size_t sizes[] = {0, 1, 2, 3, 7, WS_SORT_CUTOFF / 2 + 1, WS_SORT_CUTOFF,
                            WS_SORT_CUTOFF + 1, 2 * WS_SORT_CUTOFF + 1, odd, (size_t)1 << 16};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int sh = RANDOM; sh <= ALL_EQUAL; sh++)
            sort_one(p, sizes[i], (enum shape)sh, &rs, 0, "on 2 workers");
    ws_pool_destroy(p);
}
/* end snippet: shapes */

TL_INTENT(many_large_random_sorts_on_three_workers,
          "Many large random arrays sorted on three workers all come out exactly as qsort sorts "
          "them.");
TL_TEST(many_large_random_sorts_on_three_workers)
{
    uint64_t rs = tl_input_seed();
    ws_pool *p = make_pool(3);
    for (int round = 0; round < 12; round++)
        sort_one(p, ((size_t)1 << 15) + tl_rand(&rs) % 4096, RANDOM, &rs, 0, "on 3 workers");
    ws_pool_destroy(p);
}

TL_INTENT(a_pool_of_one_worker_sorts, "ws_sort works on a pool of a single worker.");
TL_TEST(a_pool_of_one_worker_sorts)
{
    uint64_t rs = tl_input_seed();
    ws_pool *p = make_pool(1);
    sort_one(p, ((size_t)1 << 15) + 1 + tl_rand(&rs) % 1000, RANDOM, &rs, 0, "on ONE worker");
    sort_one(p, 3 * WS_SORT_CUTOFF, REVERSED, &rs, 0, "on ONE worker");
    ws_pool_destroy(p);
}

/* ws_sort called from a task already running on the pool. */
struct inner {
    ws_pool *p;
    uint64_t seed;
};

static void sort_inside(void *arg)
{
    struct inner *in = arg;
    sort_one(in->p, ((size_t)1 << 14) + 3, RANDOM, &in->seed, 0, "from a task on the pool");
}

TL_INTENT(sorts_when_called_from_a_task,
          "ws_sort works when it is called from inside a task already running on the pool.");
TL_TEST(sorts_when_called_from_a_task)
{
    ws_pool *p = make_pool(2);
    struct inner in = {p, tl_input_seed()};
    ws_run(p, sort_inside, &in);
    ws_pool_destroy(p);
}

TL_INTENT(the_leaves_are_spread_over_the_workers,
          "Idle workers steal: the leaves of one sort do not all run on the same worker.");
/* snippet: spread */
TL_TEST(the_leaves_are_spread_over_the_workers)
{
    uint64_t rs = tl_input_seed();
    ws_pool *p = make_pool(2);
    int seen = 0;
    /* One thread at a time (the sched pass), a leaf runs to its end without a
     * switch point, so nothing can be stolen meanwhile: spreading is the other
     * passes' lesson, the schedules are this one's. */
    if (tl_sched_active()) {
        ws_pool_destroy(p);
        return;
    }
    /* Up to 10 sorts, each counted by itself: a correct sort spreads the
     * first (the idle worker steals a half within microseconds; pinned to
     * one CPU, at its next time slice). */
    for (int round = 0; round < 10 && seen < 2; round++) {
        unsigned long long w = sort_one(p, (size_t)1 << 17, RANDOM, &rs, 20000, "on 2 workers");
        seen = __builtin_popcountll(w & 3);
    }
    tl_assert(seen >= 2, TL_NOT_PARALLEL,
              "10 sorts of %d ints (%d leaves each) on a pool of 2 workers: in each, every leaf "
              "was sorted by the same worker (no half was ever stolen: does the sort use ws_join?)",
              1 << 17, (1 << 17) / WS_SORT_CUTOFF);
    ws_pool_destroy(p);
}
/* end snippet: spread */

/* Heap blocks allocated and not yet freed, by the code under test and the test. */
static long heap_live(void)
{
    struct tl_counts c = tl_counts_now();
    return c.heap_allocs - c.heap_frees;
}

TL_INTENT(frees_its_scratch_and_fails_cleanly_without_it,
          "ws_sort frees its scratch memory, and when that allocation fails it returns the error "
          "and leaves nothing allocated.");
TL_TEST(frees_its_scratch_and_fails_cleanly_without_it)
{
    uint64_t rs = tl_input_seed();
    ws_pool *p = make_pool(2);
    size_t n = 8 * WS_SORT_CUTOFF + 1 + tl_rand(&rs) % 100;
    int *a = malloc(n * sizeof *a), *orig = malloc(n * sizeof *orig);
    tl_assert(a && orig, TL_WRONG, "test: out of memory");
    fill(a, n, RANDOM, &rs);
    tl_assert(ws_sort(p, a, n) == 0, TL_WRONG, "ws_sort of %zu ints did not return 0", n);
    for (int round = 0; round < 3; round++) {
        fill(a, n, RANDOM, &rs);
        long live0 = heap_live();
        int rc = ws_sort(p, a, n);
        long left = heap_live() - live0;
        tl_assert(rc == 0, TL_WRONG, "ws_sort of %zu ints returned %d, want 0", n, rc);
        tl_assert(left <= 0, TL_MEMORY,
                  "ws_sort of %zu ints returned with %ld more heap block(s) allocated than "
                  "before: free the scratch buffer", n, left);
    }
    fill(a, n, RANDOM, &rs);
    memcpy(orig, a, n * sizeof *a);
    long live0 = heap_live();
    tl_fault_nth(TL_FAULT_MALLOC, 1, 0);
    int rc = ws_sort(p, a, n);
    bool fired = tl_fault_fired(TL_FAULT_MALLOC);
    tl_fault_nth(TL_FAULT_MALLOC, 0, 0);
    tl_assert(fired, TL_ERROR_PATH, "ws_sort of %zu ints made no allocation: where is the scratch?", n);
    tl_assert(rc == ENOMEM, TL_ERROR_PATH,
              "ws_sort of %zu ints returned %d when its scratch allocation failed, want ENOMEM (%d)",
              n, rc, ENOMEM);
    tl_assert(memcmp(a, orig, n * sizeof *a) == 0, TL_ERROR_PATH,
              "ws_sort of %zu ints changed the array although its scratch allocation failed", n);
    tl_assert(heap_live() <= live0, TL_ERROR_PATH,
              "ws_sort of %zu ints failed but left %ld heap block(s) allocated", n, heap_live() - live0);
    free(a);
    free(orig);
    ws_pool_destroy(p);
}

static const struct tl_test tl_tests[] = {
    TL_RUN(sorts_like_qsort_every_shape_and_size),
    TL_RUN(many_large_random_sorts_on_three_workers),
    TL_RUN(a_pool_of_one_worker_sorts),
    TL_RUN(sorts_when_called_from_a_task),
    TL_RUN(the_leaves_are_spread_over_the_workers),
    TL_RUN(frees_its_scratch_and_fails_cleanly_without_it),
};
TL_MAIN("08-work-stealing/psort")
