/*
 * workload_fanout.c - your fan-out at work, for `make timeline EX=05-pipeline/fanout`.
 *
 * A fast producer sends 24 messages into a channel of 2 slots; three
 * workers share the slow stage (each message costs a few milliseconds of
 * hashing) and send into one output channel, which a consumer drains. In
 * the timeline, look for the three workers busy at the same time, the
 * producer blocked on the full input, and the output ending only after the
 * last worker closed its sender handle.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "fanout.h"
#include "trace.h"

enum { N = 24, WORKERS = 3 };

static void *slow_hash(void *ctx, void *msg)
{
    (void)ctx;
    uint64_t h = 14695981039346656037ull;
    tl_trace_begin("slow stage");
    for (int i = 0; i < 400000; i++)
        h = (h ^ (uint64_t)(uintptr_t)msg ^ (uint64_t)i) * 1099511628211ull;
    tl_trace_end();
    return h == 0 ? NULL : msg; /* h is never 0: the message goes on */
}

static void drop(void *msg)
{
    (void)msg;
}

static void *producer(void *arg)
{
    chan *in = arg;
    tl_trace_name_thread("producer");
    for (uintptr_t i = 1; i <= N; i++)
        if (chan_send(in, (void *)i) != 0)
            break;
    chan_close_sender(in);
    return NULL;
}

static void *consumer(void *arg)
{
    chan *out = arg;
    long got = 0;
    void *m;
    tl_trace_name_thread("consumer");
    while (chan_recv(out, &m) == 0)
        got++;
    tl_trace_mark("end of stream");
    chan_close_receiver(out);
    printf("the consumer got %ld of %d messages\n", got, N);
    return NULL;
}

int main(void)
{
    tl_trace_name_thread("main (fanout_run)");
    chan *in = chan_create(2, 1, WORKERS), *out = chan_create(2, WORKERS, 1);
    if (in == NULL || out == NULL) {
        perror("chan_create");
        return 1;
    }
    pthread_t p, c;
    pthread_create(&c, NULL, consumer, out);
    pthread_create(&p, NULL, producer, in);
    int rc = fanout_run(in, out, WORKERS, slow_hash, NULL, drop);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    chan_destroy(in, drop);
    chan_destroy(out, drop);
    printf("fanout_run returned %d\n", rc);
    return 0;
}
