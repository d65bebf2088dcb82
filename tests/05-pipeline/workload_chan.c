/*
 * workload_chan.c - your channel at work, for `make timeline EX=05-pipeline/chan`.
 *
 * Two senders send 30 messages each into a channel of 3 slots; two
 * receivers take them, each "working" a little on every message, until the
 * last sender has closed and the channel is drained. In the timeline, look
 * for senders waiting on a full channel (backpressure), receivers waiting
 * on an empty one, who wakes whom, and the broadcast of the last close.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "chan.h"
#include "trace.h"

enum { PER_SENDER = 30 };

static uint64_t sums[2];

static void *sender(void *arg)
{
    chan *c = arg;
    tl_trace_name_thread("sender");
    for (uintptr_t i = 1; i <= PER_SENDER; i++)
        if (chan_send(c, (void *)i) != 0)
            fprintf(stderr, "send failed\n");
    tl_trace_mark("close sender");
    chan_close_sender(c);
    return NULL;
}

static void *receiver(void *arg)
{
    chan *c = ((void **)arg)[0];
    uint64_t *sum = ((void **)arg)[1], h = 14695981039346656037ull;
    tl_trace_name_thread("receiver");
    void *m;
    while (chan_recv(c, &m) == 0) {
        tl_trace_begin("work");
        for (int i = 0; i < 30000; i++)
            h = (h ^ (uint64_t)(uintptr_t)m ^ (uint64_t)i) * 1099511628211ull;
        *sum += (uintptr_t)m;
        tl_trace_end();
    }
    chan_close_receiver(c);
    (void)h;
    return NULL;
}

int main(void)
{
    tl_trace_name_thread("main");
    chan *c = chan_create(3, 2, 2);
    if (c == NULL) {
        perror("chan_create");
        return 1;
    }
    pthread_t s[2], r[2];
    void *args[2][2] = {{c, &sums[0]}, {c, &sums[1]}};
    for (int i = 0; i < 2; i++)
        pthread_create(&r[i], NULL, receiver, args[i]);
    for (int i = 0; i < 2; i++)
        pthread_create(&s[i], NULL, sender, c);
    for (int i = 0; i < 2; i++)
        pthread_join(s[i], NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(r[i], NULL);
    chan_destroy(c, NULL);
    printf("received a total of %llu (want %d)\n", (unsigned long long)(sums[0] + sums[1]),
           PER_SENDER * (PER_SENDER + 1));
    return 0;
}
