/*
 * workload_join.c - your join at work, for `make timeline EX=08-work-stealing/join`.
 *
 * fib(32) with a cutoff of 24 on a pool of 2 workers: a small tree of joins
 * whose leaves are serial fib(23) or fib(22). In the timeline, look for the
 * second worker's fib(23) and fib(22) leaves, the fork -> run (stolen)
 * arrows from the worker that forked a task to the thief that ran it, and
 * the first worker running leaves again instead of waiting while its stolen
 * b runs elsewhere.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>

#include "join.h"
#include "trace.h"

static ws_pool *pool;

struct fib {
    int n;
    long r;
    uint64_t flow;        /* the fork arrow to this task, 0 for none */
    const int *forker;    /* &me of the thread that forked it */
};

static _Thread_local int me; /* only its address is used: which thread is this */
static char labels[33][12];  /* "fib(23)": trace.h keeps the pointer until exit */

static long fib_serial(int n)
{
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

static void fib_task(void *arg)
{
    struct fib *f = arg;
    if (f->flow != 0 && f->forker != &me)
        tl_trace_flow_in("run (stolen)", f->flow); /* only a stolen task's arrow crosses lanes */
    if (f->n < 24) {
        tl_trace_begin(labels[f->n]);
        f->r = fib_serial(f->n);
        tl_trace_end();
        return;
    }
    struct fib a = {f->n - 1, 0, 0, NULL}, b = {f->n - 2, 0, 0, &me};
    b.flow = tl_trace_flow_out("fork"); /* b is the one a thief may take */
    ws_join(pool, fib_task, &a, fib_task, &b);
    f->r = a.r + b.r;
}

int main(void)
{
    tl_trace_name_thread("main");
    for (int n = 0; n < 33; n++)
        snprintf(labels[n], sizeof labels[n], "fib(%d)", n);
    pool = ws_pool_create(2);
    if (pool == NULL) {
        perror("ws_pool_create");
        return 1;
    }
    struct fib f = {32, 0, 0, NULL};
    ws_run(pool, fib_task, &f);
    printf("fib(32) = %ld (want %ld); steals: %ld and %ld\n", f.r, fib_serial(32), ws_steals(pool, 0),
           ws_steals(pool, 1));
    ws_pool_destroy(pool);
    return 0;
}
