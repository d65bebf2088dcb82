/*
 * workload_ticker.c - a typical run of the ticker, for `make timeline EX=03-background-thread/ticker`.
 *
 * What it shows: a ticker with a 5 ms period doing a little work each time,
 * while main does its own work for about 30 ms and then stops it. In the
 * timeline the ticker's lane is a row of timed waits, each ended by a
 * time-out and followed by a short span of work; the last wait is ended by
 * main's signal, and the join follows at once.
 */
#define _POSIX_C_SOURCE 200809L
#include "ticker.h"
#include "trace.h"

#include <poll.h>
#include <stdio.h>
#include <time.h>

/* Spin for about us microseconds: work that shows as a span, not a sleep. */
static void work_us(long us)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

static void on_tick(void *arg)
{
    long *n = arg;
    if (*n == 0)
        tl_trace_name_thread("ticker thread");
    tl_trace_begin("tick: collect stats");
    work_us(300);
    ++*n; /* only the ticker thread writes it; main reads it after the join */
    tl_trace_end();
}

int main(void)
{
    tl_trace_name_thread("main");
    long n = 0;
    ticker *t = ticker_start(5, on_tick, &n);
    if (t == NULL) {
        perror("ticker_start");
        return 1;
    }
    tl_trace_begin("main: serve requests");
    poll(NULL, 0, 32);
    tl_trace_end();
    tl_trace_mark("ticker_stop");
    long calls = ticker_stop(t);
    printf("ticker: %ld calls in about 32 ms with a 5 ms period (fn counted %ld)\n", calls, n);
    return calls == n ? 0 : 1;
}
