/*
 * workload_pipeline.c - your pipeline at work, for `make timeline EX=05-pipeline/pipeline`.
 *
 * Three stages pass 20 messages along channels of 2 slots; the middle one
 * is slow, and fails on message 12. In the timeline, look for the upstream
 * stage and the feeder blocking on full channels (backpressure), then for
 * the shutdown after the error: the feeder's send fails, the last stage
 * drains and ends, and every thread is joined.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pipeline.h"
#include "trace.h"

enum { N = 20, FAIL_AT = 12 };

static int work(void *ctx, void *in, void **out)
{
    int cost = *(int *)ctx;
    uint64_t h = 14695981039346656037ull;
    if (cost > 1 && *(int *)in == FAIL_AT) {
        tl_trace_mark("stage fails");
        return EIO;
    }
    tl_trace_begin("stage work");
    for (int i = 0; i < cost * 20000; i++)
        h = (h ^ (uint64_t)i) * 1099511628211ull;
    tl_trace_end();
    *(int *)in += h == 0; /* never: keeps the loop from being optimised away */
    *out = in;
    return 0;
}

static int sunk, dropped;

static void sink(void *ctx, void *msg)
{
    (void)ctx;
    sunk++;
    free(msg);
}

static void drop(void *msg)
{
    __atomic_fetch_add(&dropped, 1, __ATOMIC_RELAXED);
    free(msg);
}

int main(void)
{
    tl_trace_name_thread("main (feeder)");
    static int costs[3] = {1, 10, 1};
    struct stage st[3] = {{work, &costs[0]}, {work, &costs[1]}, {work, &costs[2]}};
    struct pipeline p = {st, 3, 2, sink, NULL, drop};
    void *msgs[N];
    for (int i = 0; i < N; i++) {
        int *m = malloc(sizeof *m);
        if (m == NULL)
            return 1;
        *m = i;
        msgs[i] = m;
    }
    int rc = pipeline_run(&p, msgs, N);
    printf("pipeline_run returned %d (%s); %d messages reached the sink, %d were dropped\n", rc,
           rc == EIO ? "the stage's EIO" : "?", sunk, dropped);
    return 0;
}
