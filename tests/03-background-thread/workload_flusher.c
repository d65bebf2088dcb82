/*
 * workload_flusher.c - a typical run of the flusher, for `make timeline EX=03-background-thread/flusher`.
 *
 * What it shows: two writers append items while doing their own work; the
 * background thread hands the buffer to a (slow) sink every 4 ms; writer 1
 * asks for a flush half-way through. In the timeline the background lane
 * shows timed waits ended by time-outs, one ended early by writer 1's
 * request, and the sink running while the writers go on writing; writer 1's
 * lane shows its wait in flush_now ending just after that sink call.
 */
#define _POSIX_C_SOURCE 200809L
#include "flusher.h"
#include "trace.h"

#include <pthread.h>
#include <stdatomic.h>
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

static atomic_long sunk;
static atomic_int named;

static void sink(void *ctx, const long *items, size_t n)
{
    (void)ctx;
    (void)items;
    if (atomic_exchange(&named, 1) == 0)
        tl_trace_name_thread("flusher thread");
    tl_trace_begin("sink: write out batch");
    work_us(150 + 10 * (long)n);
    atomic_fetch_add(&sunk, (long)n);
    tl_trace_end();
}

struct writer {
    flusher *f;
    int id;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    tl_trace_name_thread(w->id == 1 ? "writer 1" : "writer 2");
    for (long i = 0; i < 40; i++) {
        tl_trace_begin("work");
        work_us(250);
        tl_trace_end();
        flusher_write(w->f, w->id * 1000 + i);
        if (w->id == 1 && i == 20) {
            tl_trace_mark("flush_now");
            flusher_flush_now(w->f);
        }
    }
    return NULL;
}

int main(void)
{
    tl_trace_name_thread("main");
    flusher *f = flusher_create(4, sink, NULL);
    if (f == NULL) {
        perror("flusher_create");
        return 1;
    }
    struct writer w[2] = {{f, 1}, {f, 2}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, writer_main, &w[i]) != 0)
            return 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    tl_trace_mark("flusher_destroy");
    flusher_destroy(f);
    printf("flusher: 80 items written, %ld reached the sink\n", atomic_load(&sunk));
    return atomic_load(&sunk) == 80 ? 0 : 1;
}
