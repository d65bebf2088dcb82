/*
 * workload_pool.c - your pool at work, for `make timeline EX=04-worker-pool/pool`.
 *
 * Three workers, a queue of 4 slots. The main thread submits 24 tasks of
 * uneven size (it blocks when the queue is full), waits for the pool to go
 * idle, submits 12 more and cancels while most are still queued, then
 * destroys the pool. In the timeline, look for the submitter blocking, the
 * pool_wait() that ends when the last task does, and the dropped tasks.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>

#include "pool.h"
#include "trace.h"

static uint64_t results[36];

static void work(void *arg)
{
    uint64_t *out = arg, h = 14695981039346656037ull;
    long n = 20000 + (long)((out - results) % 5) * 15000; /* uneven tasks */
    tl_trace_begin("task");
    for (long i = 0; i < n; i++)
        h = (h ^ (uint64_t)i) * 1099511628211ull;
    *out = h | 1;
    tl_trace_end();
}

static size_t ndropped;

static void dropped(pool_fn fn, void *arg)
{
    (void)fn;
    (void)arg;
    ndropped++; /* called in pool_cancel's caller: no lock of ours needed */
}

int main(void)
{
    tl_trace_name_thread("main (client)");
    pool *p = pool_create(3, 4);
    if (p == NULL) {
        perror("pool_create");
        return 1;
    }
    for (int i = 0; i < 24; i++)
        pool_submit(p, work, &results[i]);
    tl_trace_block("pool_wait");
    pool_wait(p);
    tl_trace_end();
    for (int i = 24; i < 36; i++)
        if (pool_submit(p, work, &results[i]) != 0)
            break;
    size_t n = pool_cancel(p, dropped);
    tl_trace_mark("cancelled");
    pool_destroy(p);
    int ran = 0;
    for (int i = 0; i < 36; i++)
        ran += results[i] != 0;
    printf("%d tasks ran, %zu dropped (hook called %zu times)\n", ran, n, ndropped);
    return 0;
}
