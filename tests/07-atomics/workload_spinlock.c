/*
 * workload_spinlock.c - your spinlock at work, for `make timeline EX=07-atomics/spinlock`.
 *
 * Three threads take one spinlock 40 times each and do a little work inside
 * and outside it. In the timeline, a "hold" span is a critical section: no
 * two lanes may show one at the same moment. Time spent spinning shows as
 * the gap between "want" marks and the next "hold".
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "spinlock.h"
#include "trace.h"

enum { THREADS = 3, ROUNDS = 40 };

static spinlock lock = SPINLOCK_INIT;
static long counter; /* guarded by lock */

static uint64_t work(uint64_t h, int n)
{
    for (int i = 0; i < n; i++)
        h = (h ^ (uint64_t)i) * 1099511628211ull;
    return h;
}

static void *worker(void *arg)
{
    (void)arg;
    uint64_t h = 14695981039346656037ull;
    tl_trace_name_thread("worker");
    for (int r = 0; r < ROUNDS; r++) {
        h = work(h, 20000);
        tl_trace_mark("want");
        spin_lock(&lock);
        tl_trace_begin("hold");
        counter++;
        h = work(h, 5000);
        tl_trace_end();
        spin_unlock(&lock);
    }
    return (void *)(uintptr_t)(h & 1);
}

int main(void)
{
    tl_trace_name_thread("main");
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, worker, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    printf("counter %ld (want %d)\n", counter, THREADS * ROUNDS);
    return 0;
}
