/*
 * workload_ring.c - your ring at work, for `make timeline EX=07-atomics/ring`.
 *
 * A producer pushes 60 values into a ring of 4 slots, yielding when it is
 * full; a consumer pops them, working a little on each, yielding when it is
 * empty. In the timeline, look for the producer's "full" marks (it ran 4
 * values ahead) and the consumer's "empty" marks.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>

#include "ring.h"
#include "trace.h"

enum { N = 60 };

static void *producer(void *arg)
{
    ring *r = arg;
    tl_trace_name_thread("producer");
    for (uintptr_t i = 1; i <= N; i++) {
        tl_trace_begin("push");
        while (!ring_push_spsc(r, (void *)i)) {
            tl_trace_mark("full");
            sched_yield();
        }
        tl_trace_end();
    }
    return NULL;
}

static void *consumer(void *arg)
{
    ring *r = arg;
    uint64_t sum = 0, h = 14695981039346656037ull;
    tl_trace_name_thread("consumer");
    for (int got = 0; got < N;) {
        void *v;
        if (!ring_pop_spsc(r, &v)) {
            tl_trace_mark("empty");
            sched_yield();
            continue;
        }
        tl_trace_begin("work");
        for (int i = 0; i < 30000; i++)
            h = (h ^ (uint64_t)i) * 1099511628211ull;
        sum += (uintptr_t)v;
        got++;
        tl_trace_end();
    }
    printf("sum %llu (want %d)%s\n", (unsigned long long)sum, N * (N + 1) / 2, h == 0 ? "." : "");
    return NULL;
}

int main(void)
{
    tl_trace_name_thread("main");
    ring *r = ring_create(4);
    if (r == NULL) {
        perror("ring_create");
        return 1;
    }
    pthread_t p, c;
    pthread_create(&c, NULL, consumer, r);
    pthread_create(&p, NULL, producer, r);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    ring_destroy(r);
    return 0;
}
