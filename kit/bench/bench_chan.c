/*
 * bench_chan.c - chapter 5's bounded channel against GLib's GAsyncQueue:
 * N small integers from P producer threads to C consumer threads.
 *
 * What it measures: a trial starts P producers and C consumers, moves the
 * integers 1..N through the queue (each producer sends its own contiguous
 * share) and joins everyone. Each consumer counts and sums what it got in
 * a padded slot of its own; the trial is right when the counts add up to N
 * and the sums to N(N+1)/2.
 *
 * DESIGN: ours is solutions/05-pipeline/chan.c with capacity 1024, P sender
 * and C receiver handles: each producer closes its sender handle when done,
 * and the consumers stop at end-of-stream. GAsyncQueue has no capacity and
 * no close: it is measured as a practitioner would use it, unbounded, with
 * one sentinel per consumer pushed after the producers have been joined.
 * That favours GLib where the producers are faster than the consumers (they
 * never wait for room); the bound is our lesson, so we pay for it.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "chan.h"
#include "harness.h"
#ifndef BENCH_NO_GLIB
#include <glib.h>
#endif

#define MAX_THREADS 8
#define SENTINEL ((void *)UINTPTR_MAX)

struct got {
    alignas(64) uint64_t count, sum; /* one consumer's; padded so consumers never share a line */
};

struct load {
    uint64_t n;          /* messages: the integers 1..n */
    unsigned producers, consumers;
    size_t capacity;
    struct got got[MAX_THREADS];
    chan *c;             /* ours: set by the trial before any thread starts */
#ifndef BENCH_NO_GLIB
    GAsyncQueue *q;      /* GLib's */
#endif
};

struct who {
    struct load *l;
    unsigned k;          /* producer or consumer index */
};

/* The first and one-past-last integer producer k sends. */
static void share(const struct load *l, unsigned k, uint64_t *from, uint64_t *to)
{
    *from = 1 + l->n * k / l->producers;
    *to = 1 + l->n * (k + 1) / l->producers;
}

static int check(struct load *l)
{
    uint64_t count = 0, sum = 0;
    for (unsigned k = 0; k < l->consumers; k++) {
        count += l->got[k].count;
        sum += l->got[k].sum;
        l->got[k].count = l->got[k].sum = 0;
    }
    return count == l->n && sum == l->n * (l->n + 1) / 2 ? 0 : 1;
}

/* Starts the producers and consumers, joins them (between the two, after()
 * runs in the calling thread). Returns 0, or 1 when a thread cannot start. */
static int run_threads(struct load *l, void *(*prod)(void *), void *(*cons)(void *), void (*after)(struct load *))
{
    pthread_t pt[MAX_THREADS], ct[MAX_THREADS];
    struct who pw[MAX_THREADS], cw[MAX_THREADS];
    for (unsigned k = 0; k < l->consumers; k++) {
        cw[k] = (struct who){l, k};
        if (pthread_create(&ct[k], NULL, cons, &cw[k]) != 0)
            abort(); /* a benchmark with fewer threads than it says is no benchmark */
    }
    for (unsigned k = 0; k < l->producers; k++) {
        pw[k] = (struct who){l, k};
        if (pthread_create(&pt[k], NULL, prod, &pw[k]) != 0)
            abort();
    }
    for (unsigned k = 0; k < l->producers; k++)
        pthread_join(pt[k], NULL);
    if (after != NULL)
        after(l);
    for (unsigned k = 0; k < l->consumers; k++)
        pthread_join(ct[k], NULL);
    return 0;
}

static void *our_producer(void *arg)
{
    struct who *w = arg;
    uint64_t from, to;
    share(w->l, w->k, &from, &to);
    for (uint64_t v = from; v < to; v++)
        if (chan_send(w->l->c, (void *)(uintptr_t)v) != 0)
            break;
    chan_close_sender(w->l->c);
    return NULL;
}

static void *our_consumer(void *arg)
{
    struct who *w = arg;
    uint64_t count = 0, sum = 0;
    void *m;
    while (chan_recv(w->l->c, &m) == 0) {
        count++;
        sum += (uintptr_t)m;
    }
    chan_close_receiver(w->l->c);
    w->l->got[w->k].count = count;
    w->l->got[w->k].sum = sum;
    return NULL;
}

static int run_ours(void *ctx)
{
    struct load *l = ctx;
    l->c = chan_create(l->capacity, l->producers, l->consumers);
    if (l->c == NULL)
        return 1;
    run_threads(l, our_producer, our_consumer, NULL);
    chan_destroy(l->c, NULL);
    return check(l);
}

#ifndef BENCH_NO_GLIB
static void *glib_producer(void *arg)
{
    struct who *w = arg;
    uint64_t from, to;
    share(w->l, w->k, &from, &to);
    for (uint64_t v = from; v < to; v++)
        g_async_queue_push(w->l->q, (gpointer)(uintptr_t)v);
    return NULL;
}

static void *glib_consumer(void *arg)
{
    struct who *w = arg;
    uint64_t count = 0, sum = 0;
    for (;;) {
        void *m = g_async_queue_pop(w->l->q);
        if (m == SENTINEL)
            break;
        count++;
        sum += (uintptr_t)m;
    }
    w->l->got[w->k].count = count;
    w->l->got[w->k].sum = sum;
    return NULL;
}

static void glib_end(struct load *l) /* the producers are joined: one sentinel per consumer */
{
    for (unsigned k = 0; k < l->consumers; k++)
        g_async_queue_push(l->q, SENTINEL);
}

static int run_glib(void *ctx)
{
    struct load *l = ctx;
    l->q = g_async_queue_new();
    run_threads(l, glib_producer, glib_consumer, glib_end);
    g_async_queue_unref(l->q);
    return check(l);
}
#endif

static int measure(const struct bench_opts *o, const char *workload, uint64_t n, unsigned p, unsigned c)
{
#ifdef BENCH_NO_GLIB
    (void)o, (void)n, (void)p, (void)c, (void)run_ours; /* nothing to compare ours with */
    char what[128];
    snprintf(what, sizeof what, "channel, %s, vs GAsyncQueue", workload);
    bench_skip(what, "GLib not found: install the package libglib2.0-dev (make bench does, as root)");
    return 0;
#else
    struct load l = {.n = n, .producers = p, .consumers = c, .capacity = 1024};
    struct bench_group g = {.pattern = "channel", .workload = workload, .items = (double)n, .serial = -1};
    g.sides[g.nsides++] = (struct bench_side){"ours", run_ours, &l};
    g.sides[g.nsides++] = (struct bench_side){"GAsyncQueue", run_glib, &l};
    if (bench_run(o, &g) != 0)
        return 1;
    bench_report(o, &g, 1, 1.5, 0);
    return 0;
#endif
}

int main(int argc, char **argv)
{
    struct bench_opts o = bench_parse(argc, argv);
    int bad = 0;
    if (o.smoke) {
        bad |= measure(&o, "20k ints, cap 1024, 1P1C", 20000, 1, 1);
        bad |= measure(&o, "20k ints, cap 1024, 2P2C", 20000, 2, 2);
        return bad;
    }
    bad |= measure(&o, "10M ints, cap 1024, 1P1C", 10000000, 1, 1);
    bad |= measure(&o, "10M ints, cap 1024, 2P2C", 10000000, 2, 2);
    return bad;
}
