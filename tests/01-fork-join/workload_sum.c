/*
 * workload_sum.c - a typical run of exercise 01-fork-join/sum, for its
 * timeline: a million numbers summed on four threads.
 *
 * DESIGN: the chunk function marks its work as a span, so each thread's
 * lane shows one bar; the creates before and the joins after frame them.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sum.h"
#include "trace.h"

#define N 1000000

/* Sums a[lo..hi) inside a traced span. */
static long traced_chunk(const long *a, size_t lo, size_t hi)
{
    tl_trace_begin("sum chunk");
    long s = 0;
    for (size_t i = lo; i < hi; i++)
        s += a[i];
    tl_trace_end();
    return s;
}

int main(void)
{
    tl_trace_name_thread("main");
    long *a = malloc(N * sizeof *a);
    if (a == NULL)
        return 1;
    for (size_t i = 0; i < N; i++)
        a[i] = (long)(i % 1000);
    long total = 0;
    int rc = sum_parallel(a, N, 4, traced_chunk, &total);
    free(a);
    if (rc != 0) {
        printf("sum_parallel: %s\n", strerror(rc));
        return 1;
    }
    printf("sum of %d numbers on 4 threads: %ld (expected %ld)\n", N, total, 499500L * (N / 1000));
    return 0;
}
