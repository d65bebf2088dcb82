/*
 * workload_once.c - your once at work, for `make timeline EX=07-atomics/once`.
 *
 * Four threads ask one cell for a table that takes a while to build. In the
 * timeline exactly one lane shows an "init" span; the others show "get"
 * spans that end only after it does (they waited), and later gets are
 * instants (the value was ready).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "once.h"
#include "trace.h"

enum { THREADS = 4 };

static once_cell table_cell = ONCE_CELL_INIT;
static uint64_t table[256];
static int inits;

static void *build_table(void *arg)
{
    (void)arg;
    tl_trace_begin("init");
    inits++;
    for (int i = 0; i < 256; i++) {
        uint64_t h = (uint64_t)i;
        for (int k = 0; k < 20000; k++)
            h = (h ^ (uint64_t)k) * 1099511628211ull;
        table[i] = h;
    }
    tl_trace_end();
    return table;
}

static void *worker(void *arg)
{
    (void)arg;
    tl_trace_name_thread("worker");
    uint64_t sum = 0;
    for (int r = 0; r < 3; r++) {
        tl_trace_begin("get");
        uint64_t *t = once_get(&table_cell, build_table, NULL);
        tl_trace_end();
        sum += t != NULL ? t[r] : 0;
    }
    return (void *)(uintptr_t)(sum & 1);
}

int main(void)
{
    tl_trace_name_thread("main");
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    printf("init ran %d time(s) (want 1)\n", inits);
    return 0;
}
