/*
 * workload_sema.c - your semaphore at work, for `make timeline EX=06-shared-objects/sema`.
 *
 * A pool of 3 "connections" guarded by the semaphore; four threads take 1
 * or 2 of them at a time, work a little, and give them back. In the
 * timeline, look for threads waiting on the condition variable while the
 * pool is empty, and for each release waking them (the broadcast).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>

#include "sema.h"
#include "trace.h"

enum { UNITS = 3, ROUNDS = 30 };

static sema *pool;

static void *client(void *arg)
{
    unsigned want = (unsigned)(size_t)arg;
    unsigned long h = 14695981039346656037ul;
    tl_trace_name_thread("client");
    for (int i = 0; i < ROUNDS; i++) {
        sema_acquire(pool, want);
        tl_trace_begin("use");
        for (int k = 0; k < 20000; k++)
            h = (h ^ (unsigned long)k) * 1099511628211ul;
        tl_trace_end();
        sema_release(pool, want);
    }
    return (void *)(size_t)(h & 1);
}

int main(void)
{
    tl_trace_name_thread("main");
    pool = sema_create(UNITS);
    if (pool == NULL) {
        perror("sema_create");
        return 1;
    }
    pthread_t t[4];
    for (size_t i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, client, (void *)(1 + i % 2));
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("%u units free at the end (want %d)\n", sema_value(pool), UNITS);
    sema_destroy(pool);
    return 0;
}
