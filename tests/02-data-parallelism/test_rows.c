/*
 * test_rows.c - tests for exercise 02-data-parallelism/rows.
 *
 * What it shows: how to test load balancing by counting, never by timing.
 * The row function is ours. It counts every row it is given (each exactly
 * once, never on the calling thread) and, in the image tests, renders a
 * Mandelbrot row with the chapter's kernel, so the image can be compared
 * with one computed serially here.
 *
 * DESIGN: the lopsided test makes one early row (row 0 or 1) slow in a way
 * that needs no clock: that row does not finish until every other row is
 * done. Dynamic scheduling gets there at once - the thread with the slow row
 * takes no more rows, and the other threads take all the rest. Static bands
 * (contiguous or interleaved) never do: the rows after the slow one in its
 * thread's share wait for it, while the other threads run out of work and
 * exit. The slow row notices that by the kit's stuck rule (tl_stuck: every
 * other thread is blocked for good or gone, main in its join), gives up, and
 * the test fails, naming how many rows each thread did. All the row
 * function's counts are relaxed atomics: they order nothing, so a racy
 * counter in the solution stays a reported race under ThreadSanitizer.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "mandel.h"
#include "rows.h"

#define MAX_ROWS 100000
#define MAX_WORKERS 64

static atomic_int hits[MAX_ROWS];
static atomic_int rows_of[MAX_WORKERS + 1]; /* rows per worker index (0: the caller) */
static atomic_long by_caller, out_of_range, done;
static int slow_row = -1;                   /* written before rows_run is called */
static int total_rows;
static atomic_bool gave_up;
static struct mandel_view view;             /* for the image tests */
static unsigned char *image;                /* ...and where their rows go */

static void reset(int nrows, int slow)
{
    for (int i = 0; i < MAX_ROWS; i++)
        atomic_store(&hits[i], 0);
    for (int i = 0; i <= MAX_WORKERS; i++)
        atomic_store(&rows_of[i], 0);
    atomic_store(&by_caller, 0);
    atomic_store(&out_of_range, 0);
    atomic_store(&done, 0);
    atomic_store(&gave_up, false);
    total_rows = nrows;
    slow_row = slow;
}

/* snippet: be_slow */
/* The slow row: returns once every other row is done, or once no other thread
 * can do any more (the kit's stuck rule), or after tl_bound_s(); then it sets
 * gave_up. Polls in poll(), which the kit does not count. */
static void be_slow(void)
{
    struct tl_stuck stuck = {0, 0};
    double until = tl_mono_s() + tl_bound_s();
    while (atomic_load_explicit(&done, memory_order_relaxed) < total_rows - 1) {
        if (tl_mono_s() > until || tl_stuck(&stuck, tl_stuck_window_s(2 * tl_bound_s()), until, true)) {
            atomic_store(&gave_up, true);
            return;
        }
        tl_idle_ms(1);
    }
}
/* end snippet: be_slow */

/* Our row function: counts the row and who did it; renders it if an image is set. */
static void row_fn(int row, void *arg)
{
    (void)arg;
    int w = tl_note_worker();
    if (w == 0)
        atomic_fetch_add_explicit(&by_caller, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rows_of[w >= 0 && w <= MAX_WORKERS ? w : MAX_WORKERS], 1, memory_order_relaxed);
    if (row < 0 || row >= total_rows || row >= MAX_ROWS) {
        atomic_fetch_add_explicit(&out_of_range, 1, memory_order_relaxed);
        return;
    }
    int times = atomic_fetch_add_explicit(&hits[row], 1, memory_order_relaxed) + 1;
    if (image != NULL)
        mandel_render_row(&view, row, image + (size_t)row * (size_t)view.width);
    if (row == slow_row && times == 1) /* given twice, it is a wrong result, reported as such: no wait */
        be_slow();
    atomic_fetch_add_explicit(&done, 1, memory_order_relaxed);
}

/* Rows per worker, as "1:12 2:30 ..." for a message; lives until the next call. */
static const char *per_worker(void)
{
    static char buf[512];
    size_t at = 0;
    buf[0] = '\0';
    for (int w = 0; w <= MAX_WORKERS && at < sizeof buf - 16; w++)
        if (atomic_load(&rows_of[w]) > 0)
            at += (size_t)snprintf(buf + at, sizeof buf - at, " thread %d: %d;", w, atomic_load(&rows_of[w]));
    return buf;
}

/* Runs rows_run and checks the threads and that every row was done once. */
static void check_rows(int nrows, int nthreads, int slow)
{
    int k = nrows < nthreads ? nrows : nthreads;
    reset(nrows, slow);
    tl_counts_reset();
    int rc = rows_run(nrows, nthreads, row_fn, NULL);
    struct tl_counts c;
    tl_counts_get(&c);
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "nrows=%d nthreads=%d: %ld threads created but %ld joined (%ld detached): rows.h asks rows_run to "
              "join every thread before it returns", nrows, nthreads, c.threads_created, c.threads_joined,
              c.threads_detached);
    tl_assert(rc == 0, TL_WRONG, "rows_run(nrows=%d, nthreads=%d) returned %d, expected 0", nrows, nthreads, rc);
    tl_assert(atomic_load(&by_caller) == 0, TL_NOT_PARALLEL,
              "nrows=%d nthreads=%d: the calling thread did %ld rows itself; rows.h gives them all to the threads",
              nrows, nthreads, atomic_load(&by_caller));
    tl_assert(c.threads_created >= k, TL_NOT_PARALLEL, "nrows=%d nthreads=%d: created %ld threads, expected %d",
              nrows, nthreads, c.threads_created, k);
    tl_assert(!atomic_load(&gave_up), TL_NOT_PARALLEL,
              "nrows=%d nthreads=%d, row %d slow (it ends only when every other row is done): the other rows were "
              "never all done while it ran - rows per thread:%s so rows were given out in advance (static "
              "bands?) and the threads with nothing left stopped while rows after the slow one waited for it; "
              "take each row from the shared counter when a thread is free (book 2.5)", nrows, nthreads, slow,
              per_worker());
    tl_assert(c.threads_created == k, TL_WRONG, "nrows=%d nthreads=%d: created %ld threads, expected min = %d",
              nrows, nthreads, c.threads_created, k);
    tl_assert(atomic_load(&out_of_range) == 0, TL_WRONG,
              "nrows=%d nthreads=%d: the row function was called %ld times with a row outside [0, nrows)", nrows,
              nthreads, atomic_load(&out_of_range));
    int r = 0; /* one assertion, not one per row: each costs a lock in Check */
    while (r < nrows && atomic_load(&hits[r]) == 1)
        r++;
    tl_assert(r == nrows, TL_WRONG,
              "nrows=%d nthreads=%d: row %d was done %d times, expected exactly once (rows per thread:%s)%s", nrows,
              nthreads, r, r < nrows ? atomic_load(&hits[r]) : 1, per_worker(),
              r < nrows && atomic_load(&hits[r]) > 1 ? ": two threads were given the same row" : "");
}

TL_INTENT(every_row_exactly_once, "Every row is handed to exactly one thread, exactly once.");
TL_TEST(every_row_exactly_once)
{
    uint64_t rng = tl_input_seed();
    for (int round = 0; round < 30; round++)
        check_rows((int)(tl_rand(&rng) % 4000), 1 + (int)(tl_rand(&rng) % 8), -1);
}

/* Many rows that cost nothing: the threads hammer the counter, so a row taken
 * in two steps (a load, then a separate add) is given to two threads somewhere
 * in the millions of chances this makes, wherever two threads really run at once. */
TL_INTENT(cheap_rows_hammer_the_counter,
          "With many rows that cost nothing, no row is given out twice: taking the next row must "
          "be one atomic step.");
TL_TEST(cheap_rows_hammer_the_counter)
{
    uint64_t rng = tl_input_seed() ^ 0x5555;
    for (int round = 0; round < 10; round++)
        check_rows(MAX_ROWS - (int)(tl_rand(&rng) % 1000), 2 + (int)(tl_rand(&rng) % 3), -1);
}

TL_INTENT(more_threads_than_rows_and_one_thread,
          "Every row is done exactly once with more threads than rows, and with a single thread.");
TL_TEST(more_threads_than_rows_and_one_thread)
{
    uint64_t rng = tl_input_seed() ^ 0x1111;
    for (int round = 0; round < 10; round++) {
        int nthreads = 3 + (int)(tl_rand(&rng) % 14);
        check_rows(1 + (int)(tl_rand(&rng) % (uint64_t)(nthreads - 1)), nthreads, -1);
    }
    check_rows(1 + (int)(tl_rand(&rng) % 500), 1, -1);
    check_rows(0, 1 + (int)(tl_rand(&rng) % 8), -1);
}

TL_INTENT(a_slow_row_does_not_hold_up_the_rest,
          "While one thread is stuck on a slow row, the other threads keep taking and finishing "
          "the remaining rows.");
TL_TEST(a_slow_row_does_not_hold_up_the_rest)
{
    uint64_t rng = tl_input_seed() ^ 0x2222;
    for (int round = 0; round < 4; round++) {
        int nthreads = 2 + (int)(tl_rand(&rng) % 4);
        int nrows = nthreads * 8 + (int)(tl_rand(&rng) % 200);
        check_rows(nrows, nthreads, round % 2);
    }
}

TL_INTENT(image_equals_the_serial_one,
          "The image drawn in parallel is identical, row by row, to the one drawn serially.");
TL_TEST(image_equals_the_serial_one)
{
    uint64_t rng = tl_input_seed() ^ 0x3333;
    for (int round = 0; round < 3; round++) {
        int w = 80 + (int)(tl_rand(&rng) % 120), h = 60 + (int)(tl_rand(&rng) % 90);
        view = mandel_view_sized(w, h);
        unsigned char *want = malloc((size_t)w * (size_t)h), *got = calloc((size_t)w * (size_t)h, 1);
        ck_assert_ptr_nonnull(want);
        ck_assert_ptr_nonnull(got);
        for (int row = 0; row < h; row++)
            mandel_render_row(&view, row, want + (size_t)row * (size_t)w);
        image = got;
        check_rows(h, 2 + (int)(tl_rand(&rng) % 4), -1);
        image = NULL;
        int row = 0;
        while (row < h && memcmp(want + (size_t)row * (size_t)w, got + (size_t)row * (size_t)w, (size_t)w) == 0)
            row++;
        tl_assert(row == h, TL_WRONG, "a %dx%d image: row %d differs from the serial image", w, h, row);
        free(want);
        free(got);
    }
}

TL_INTENT(bad_arguments,
          "nthreads=0, a negative row count or a NULL function each give EINVAL and start no "
          "thread.");
TL_TEST(bad_arguments)
{
    reset(4, -1);
    tl_counts_reset();
    int rc1 = rows_run(4, 0, row_fn, NULL), rc2 = rows_run(-1, 2, row_fn, NULL), rc3 = rows_run(4, 2, NULL, NULL);
    struct tl_counts c;
    tl_counts_get(&c);
    tl_assert(rc1 == EINVAL && rc2 == EINVAL && rc3 == EINVAL && c.threads_created == 0, TL_WRONG,
              "nthreads=0, nrows=-1, fn=NULL returned %d, %d, %d and started %ld threads; expected EINVAL each and "
              "no thread", rc1, rc2, rc3, c.threads_created);
}

/* Makes pthread_create call nth fail: the threads that did start must still
 * do every row, and rows_run return 0 - unless no thread started at all. */
TL_INTENT(thread_creation_fails_part_way,
          "When pthread_create fails part way, the threads that did start still do every row, "
          "and rows_run returns 0 unless none started.");
TL_TEST(thread_creation_fails_part_way)
{
    uint64_t rng = tl_input_seed() ^ 0x4444;
    for (int round = 0; round < 12; round++) {
        int nthreads = round == 0 ? 1 : 2 + (int)(tl_rand(&rng) % 7);
        int nrows = nthreads * (2 + (int)(tl_rand(&rng) % 50));
        long nth = round <= 1 ? 1 : 1 + (long)(tl_rand(&rng) % (uint64_t)nthreads);
        /* First without a failure, a slow row 0 and all: rows given out in advance,
         * or wrongly, are not an error-path bug, and must not be reported as one. */
        check_rows(nrows, nthreads, nthreads >= 2 ? 0 : -1);
        reset(nrows, -1);
        tl_counts_reset();
        tl_fault_nth(TL_FAULT_CREATE, nth, EAGAIN);
        int rc = rows_run(nrows, nthreads, row_fn, NULL);
        bool fired = tl_fault_fired(TL_FAULT_CREATE);
        tl_fault_nth(TL_FAULT_CREATE, 0, 0);
        struct tl_counts c;
        tl_counts_get(&c);
        tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
                  "nrows=%d nthreads=%d, pthread_create call %ld failing: %ld threads started, %ld joined", nrows,
                  nthreads, nth, c.threads_created, c.threads_joined);
        tl_assert(fired, TL_WRONG, "nrows=%d nthreads=%d: rows_run made fewer than %ld pthread_create calls", nrows,
                  nthreads, nth);
        tl_assert(c.threads_created == nth - 1, TL_ERROR_PATH,
                  "nrows=%d nthreads=%d: after pthread_create call %ld failed, %ld threads were started in all; "
                  "rows_run must start no more once one fails", nrows, nthreads, nth, c.threads_created);
        int r = 0;
        while (r < nrows && atomic_load(&hits[r]) == (nth == 1 ? 0 : 1))
            r++;
        if (nth == 1) {
            tl_assert(rc == EAGAIN && r == nrows, TL_ERROR_PATH,
                      "nrows=%d nthreads=%d, the first pthread_create failing (EAGAIN): returned %d and did row %d; "
                      "expected EAGAIN and no row done", nrows, nthreads, rc, r);
        } else {
            tl_assert(rc == 0, TL_ERROR_PATH,
                      "nrows=%d nthreads=%d, pthread_create call %ld failing: returned %d; the %ld threads that "
                      "started can do every row, so rows.h asks for 0", nrows, nthreads, nth, rc, nth - 1);
            /* A row done twice is the counter's fault (wrong-result), whatever the failure; a
             * row never done is the error path's: the threads that started must take every row. */
            int h = r < nrows ? atomic_load(&hits[r]) : 1;
            tl_assert(h <= 1, TL_WRONG, "nrows=%d nthreads=%d: row %d was done %d times: two threads were given "
                      "the same row", nrows, nthreads, r, h);
            tl_assert(r == nrows, TL_ERROR_PATH,
                      "nrows=%d nthreads=%d, pthread_create call %ld failing: row %d was never done: the threads "
                      "that started must take every row", nrows, nthreads, nth, r);
        }
    }
}

static const struct tl_test tl_tests[] = {
    TL_RUN(every_row_exactly_once),
    TL_RUN(cheap_rows_hammer_the_counter),
    TL_RUN(more_threads_than_rows_and_one_thread),
    TL_RUN(a_slow_row_does_not_hold_up_the_rest),
    TL_RUN(image_equals_the_serial_one),
    TL_RUN(bad_arguments),
    TL_RUN(thread_creation_fails_part_way),
};
TL_MAIN("02-data-parallelism/rows")
