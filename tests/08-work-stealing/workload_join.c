/*
 * workload_join.c - your join at work, for `make timeline EX=08-work-stealing/join`.
 *
 * fib(32) with a cutoff of 24 on a pool of 2 workers: a small tree of joins
 * whose leaves are serial fib(23) or fib(22). In the timeline, look for the
 * second worker's "leaf" spans (tasks it stole), and for the first worker
 * running leaves again instead of waiting while its stolen b runs elsewhere.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>

#include "join.h"
#include "trace.h"

static ws_pool *pool;

struct fib {
    int n;
    long r;
};

static long fib_serial(int n)
{
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

static void fib_task(void *arg)
{
    struct fib *f = arg;
    if (f->n < 24) {
        tl_trace_begin("leaf");
        f->r = fib_serial(f->n);
        tl_trace_end();
        return;
    }
    struct fib a = {f->n - 1, 0}, b = {f->n - 2, 0};
    ws_join(pool, fib_task, &a, fib_task, &b);
    f->r = a.r + b.r;
}

int main(void)
{
    tl_trace_name_thread("main");
    pool = ws_pool_create(2);
    if (pool == NULL) {
        perror("ws_pool_create");
        return 1;
    }
    struct fib f = {32, 0};
    ws_run(pool, fib_task, &f);
    printf("fib(32) = %ld (want %ld); steals: %ld and %ld\n", f.r, fib_serial(32), ws_steals(pool, 0),
           ws_steals(pool, 1));
    ws_pool_destroy(pool);
    return 0;
}
