/*
 * workload_reduce.c - a typical run of exercise 02-data-parallelism/reduce,
 * for its timeline: a million terms summed on four threads.
 *
 * DESIGN: the term function marks a span every 50 000 terms, so each thread's
 * lane shows its chunk as a row of bars between its create and its join.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "reduce.h"
#include "trace.h"

#define N 1000000

/* Term i: i % 1000, with a trace mark now and then. */
static long term(size_t i, void *arg)
{
    (void)arg;
    if (i % 50000 == 0)
        tl_trace_mark("50 000 terms");
    return (long)(i % 1000);
}

int main(void)
{
    tl_trace_name_thread("main");
    long total = 0;
    int rc = reduce_sum(N, 4, term, NULL, &total);
    if (rc != 0) {
        printf("reduce_sum: %s\n", strerror(rc));
        return 1;
    }
    printf("sum of %d terms on 4 threads: %ld (expected %ld)\n", N, total, 499500L * (N / 1000));
    return 0;
}
