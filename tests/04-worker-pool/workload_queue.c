/*
 * workload_queue.c - your taskq at work, for `make timeline EX=04-worker-pool/queue`.
 *
 * Two producers push 20 tasks each into a queue of 4 slots; two consumers
 * pop and run them (each task hashes a few KiB), until the queue is closed
 * and drained. In the timeline, look for producers waiting on a full queue,
 * consumers waiting on an empty one, and who wakes whom.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "queue.h"
#include "trace.h"

enum { PER_PRODUCER = 20 };

static uint64_t results[2 * PER_PRODUCER];

static void work(void *arg)
{
    uint64_t *out = arg, h = 14695981039346656037ull;
    tl_trace_begin("task");
    for (int i = 0; i < 40000; i++)
        h = (h ^ (uint64_t)i) * 1099511628211ull;
    *out = h;
    tl_trace_end();
}

static void *producer(void *arg)
{
    taskq *q = ((void **)arg)[0];
    uint64_t *base = ((void **)arg)[1];
    tl_trace_name_thread("producer");
    for (int i = 0; i < PER_PRODUCER; i++)
        if (taskq_push(q, (struct task){work, &base[i]}) != 0)
            fprintf(stderr, "push failed\n");
    return NULL;
}

static void *consumer(void *arg)
{
    taskq *q = arg;
    struct task t;
    tl_trace_name_thread("consumer");
    while (taskq_pop(q, &t) == 0)
        t.fn(t.arg);
    return NULL;
}

int main(void)
{
    tl_trace_name_thread("main");
    taskq *q = taskq_create(4);
    if (q == NULL) {
        perror("taskq_create");
        return 1;
    }
    pthread_t p[2], c[2];
    void *args[2][2] = {{q, &results[0]}, {q, &results[PER_PRODUCER]}};
    for (int i = 0; i < 2; i++)
        pthread_create(&c[i], NULL, consumer, q);
    for (int i = 0; i < 2; i++)
        pthread_create(&p[i], NULL, producer, args[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(p[i], NULL);
    tl_trace_mark("close");
    taskq_close(q);
    for (int i = 0; i < 2; i++)
        pthread_join(c[i], NULL);
    taskq_destroy(q);
    int done = 0;
    for (int i = 0; i < 2 * PER_PRODUCER; i++)
        done += results[i] != 0;
    printf("%d of %d tasks ran\n", done, 2 * PER_PRODUCER);
    return 0;
}
