/*
 * speed.c - the grader's speed probe: one exercise's parallel run against
 * the serial loop, in one process, for the information line and the
 * Gradescope leaderboard (never a score).
 *
 * What it measures: built with -DSPEED_ROWS, rows_run() on 2 threads over
 * 600 rows of uneven spin work (about 0.05 s serially); with -DSPEED_JOIN,
 * fib(32) with ws_join above n = 16 on a pool of 2. Each run's answer is
 * checked against the serial one. Prints one line "par_s serial_s", the
 * better of two runs each, or "wrong" (exit 1) when an answer differs.
 *
 * DESIGN: grade.sh builds it twice, with the learner's sources and (only
 * when solutions/ exists) with the reference, and runs the two binaries in
 * turns, A B A B, inside the sandbox; the ratios are taken there. The work
 * is deliberately small: grading fleets give half a CPU, and the number is
 * only for information.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#if defined(SPEED_ROWS)
#include "rows.h"
enum { NROWS = 600 };
static uint64_t out[NROWS];
static void row(int r, void *arg)
{
    (void)arg;
    uint64_t h = 14695981039346656037ull ^ (uint64_t)r;
    long n = 8000L * (1 + r % 7);
    for (long i = 0; i < n; i++)
        h = (h ^ (uint64_t)i) * 1099511628211ull;
    out[r] = h;
}
static uint64_t sum(void)
{
    uint64_t s = 0;
    for (int r = 0; r < NROWS; r++)
        s = s * 31 + out[r];
    return s;
}
static int par(uint64_t *r)
{
    if (rows_run(NROWS, 2, row, NULL) != 0)
        return -1;
    *r = sum();
    return 0;
}
static uint64_t serial(void)
{
    for (int r = 0; r < NROWS; r++)
        row(r, NULL);
    return sum();
}
#elif defined(SPEED_JOIN)
#include "join.h"
enum { N = 32, CUTOFF = 16 };
static ws_pool *pool;
__attribute__((noinline)) static long fib(int n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
struct fa {
    int n;
    long r;
};
static void fib_task(void *arg)
{
    struct fa *f = arg;
    if (f->n < CUTOFF) {
        f->r = fib(f->n);
        return;
    }
    struct fa a = {f->n - 1, 0}, b = {f->n - 2, 0};
    ws_join(pool, fib_task, &a, fib_task, &b);
    f->r = a.r + b.r;
}
static int par(uint64_t *r)
{
    if (pool == NULL && (pool = ws_pool_create(2)) == NULL)
        return -1;
    struct fa f = {N, 0};
    ws_run(pool, fib_task, &f);
    *r = (uint64_t)f.r;
    return 0;
}
static uint64_t serial(void)
{
    return (uint64_t)fib(N);
}
#else
#error "build with -DSPEED_ROWS or -DSPEED_JOIN"
#endif

int main(void)
{
    double bp = 1e9, bs = 1e9;
    for (int k = 0; k < 2; k++) {
        double t0 = now();
        uint64_t want = serial();
        double t1 = now();
        uint64_t got = 0;
        if (par(&got) != 0 || got != want) {
            printf("wrong\n");
            return 1;
        }
        double t2 = now();
        if (t1 - t0 < bs)
            bs = t1 - t0;
        if (t2 - t1 < bp)
            bp = t2 - t1;
    }
    printf("%.6f %.6f\n", bp, bs);
    return 0;
}
