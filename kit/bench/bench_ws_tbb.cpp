/*
 * bench_ws_tbb.cpp - the TBB anchor of bench_ws.c: fib with tbb::task_group
 * on a task_arena of 2 threads.
 *
 * DESIGN: the only C++ of the kit, so that bench_ws.c stays C; it exports
 * one C function. The leaf below the cutoff is bench_ws_fib_serial() of
 * bench_ws.c, the same compiled code every side calls, and this file is
 * built with the same -O2 -fno-optimize-sibling-calls (bench.sh), so the
 * sides differ only in how they spawn and join.
 */
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

extern "C" long bench_ws_fib_serial(int n);
extern "C" long bench_ws_fib_tbb(int n, int cutoff, int nthreads);

static long fib_tg(int n, int cutoff)
{
    if (n < 2)
        return n;
    if (n < cutoff)
        return bench_ws_fib_serial(n);
    long x = 0, y = 0;
    tbb::task_group g;
    g.run([&] { x = fib_tg(n - 1, cutoff); });
    y = fib_tg(n - 2, cutoff);
    g.wait();
    return x + y;
}

long bench_ws_fib_tbb(int n, int cutoff, int nthreads)
{
    static tbb::task_arena arena(nthreads); /* one arena for every trial, like the others' pools */
    long r = 0;
    arena.execute([&] { r = fib_tg(n, cutoff); });
    return r;
}
