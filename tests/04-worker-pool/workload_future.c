/*
 * workload_future.c - your futures at work, for `make timeline EX=04-worker-pool/future`.
 *
 * Two workers run 10 futures; every fourth task fails. The main thread
 * gets the results in submission order, blocking whenever the one it wants
 * is not done yet; a second client thread waits on the same last future.
 * In the timeline, look for each get that blocks and the worker that
 * completes it, and for one completion waking both getters.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "future.h"
#include "trace.h"

static volatile uint64_t sink; /* keeps the busy loop from being optimised away */

static int square(void *arg, void **result)
{
    uintptr_t x = (uintptr_t)arg;
    uint64_t h = 14695981039346656037ull;
    tl_trace_begin("task");
    for (long i = 0; i < 60000; i++)
        h = (h ^ (uint64_t)i) * 1099511628211ull;
    sink = h;
    tl_trace_end();
    if (x % 4 == 3)
        return 1000 + (int)x; /* this task fails: the error travels to get */
    *result = (void *)(x * x);
    return 0;
}

static void *second_getter(void *arg)
{
    void *r = NULL;
    tl_trace_name_thread("second client");
    int err = future_get(arg, &r);
    printf("second client: last future -> err %d, %lu\n", err, (unsigned long)(uintptr_t)r);
    return NULL;
}

int main(void)
{
    tl_trace_name_thread("main (client)");
    pool *p = pool_create(2, 4);
    if (p == NULL) {
        perror("pool_create");
        return 1;
    }
    future *f[10] = {0};
    for (uintptr_t i = 0; i < 10; i++)
        if ((f[i] = future_submit(p, square, (void *)i)) == NULL) {
            perror("future_submit");
            return 1;
        }
    pthread_t t;
    pthread_create(&t, NULL, second_getter, f[9]);
    for (int i = 0; i < 10; i++) {
        void *r = NULL;
        int err = future_get(f[i], &r);
        printf("future %d -> err %d, result %lu\n", i, err, (unsigned long)(uintptr_t)r);
    }
    pthread_join(t, NULL);
    for (int i = 0; i < 10; i++)
        future_destroy(f[i]);
    pool_destroy(p);
    return 0;
}
