/*
 * workload_janitor.c - a typical run of the janitor cache, for `make timeline EX=03-background-thread/janitor`.
 *
 * What it shows: two request threads put and get entries that live 6 ms,
 * on the real clock, while the janitor sweeps every 4 ms. In the timeline
 * the janitor's lane is a row of timed waits, each followed by a short sweep
 * and the evictions (done after the lock is released); the request threads
 * only rarely wait for the lock, and then briefly.
 */
#define _POSIX_C_SOURCE 200809L
#include "janitor.h"
#include "trace.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Spin for about us microseconds: work that shows as a span, not a sleep. */
static void work_us(long us)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

static atomic_long evicted;
static atomic_int named;

static void on_evict(void *ctx, int key, long value)
{
    (void)ctx;
    (void)key;
    (void)value;
    if (atomic_exchange(&named, 1) == 0)
        tl_trace_name_thread("janitor thread");
    atomic_fetch_add(&evicted, 1);
}

struct user {
    cache *c;
    int id;
    long hits, misses;
};

static void *user_main(void *arg)
{
    struct user *u = arg;
    tl_trace_name_thread(u->id == 0 ? "requests 1" : "requests 2");
    for (int i = 0; i < 60; i++) {
        int key = (i * 7 + u->id * 13) % 32;
        long v;
        tl_trace_begin("request");
        if (cache_get(u->c, key, &v)) {
            u->hits++;
        } else {
            u->misses++;
            work_us(200); /* "compute" the value, then cache it for 6 ms */
            cache_put(u->c, key, key * 100L, now_ms() + 6);
        }
        tl_trace_end();
        work_us(150);
    }
    return NULL;
}

int main(void)
{
    tl_trace_name_thread("main");
    cache *c = cache_create(4, NULL, on_evict, NULL);
    if (c == NULL) {
        perror("cache_create");
        return 1;
    }
    struct user u[2] = {{c, 0, 0, 0}, {c, 1, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, user_main, &u[i]) != 0)
            return 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    size_t left = cache_size(c);
    tl_trace_mark("cache_destroy");
    cache_destroy(c);
    printf("janitor: %ld hits, %ld misses, %ld evicted by the janitor, %zu left at the end\n",
           u[0].hits + u[1].hits, u[0].misses + u[1].misses, atomic_load(&evicted), left);
    return 0;
}
