/*
 * workload_parfor.c - a typical run of exercise 02-data-parallelism/parfor,
 * for its timeline: 40 000 square roots summed in 4 chunks.
 *
 * DESIGN: the body marks each chunk as a span, so the timeline shows the
 * calling thread's lane with chunk 0 between the creates and the joins, and
 * one lane for each of the 3 threads it started.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "parfor.h"
#include "trace.h"

#define N 40000

static double part[N];

/* Fills part[lo..hi) inside a traced span. */
static void roots(size_t lo, size_t hi, void *arg)
{
    (void)arg;
    tl_trace_begin("chunk");
    for (size_t i = lo; i < hi; i++) {
        double x = (double)i;
        for (int r = 0; r < 200; r++)
            x = x * 0.5 + 1.0 / (x + 1.0);
        part[i] = x;
    }
    tl_trace_end();
}

int main(void)
{
    tl_trace_name_thread("main");
    int rc = parfor(N, 4, roots, NULL);
    if (rc != 0) {
        printf("parfor: %s\n", strerror(rc));
        return 1;
    }
    double s = 0;
    for (size_t i = 0; i < N; i++)
        s += part[i];
    printf("parfor over %d indexes on 4 threads: %.3f\n", N, s);
    return 0;
}
