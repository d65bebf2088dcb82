/*
 * bench_pipeline.c - chapter 5's pipeline against the bound it can at best
 * reach: its slowest stage running alone.
 *
 * What it measures: three stages of calibrated work per item (light ~0.5 us,
 * heavy ~2 us, light ~0.5 us), 500k items, through pipeline_run() of
 * solutions/05-pipeline (every hop its chan.c). A pipeline's rate is set by
 * its slowest stage, so the heavy stage alone, called in a loop on the same
 * items in one thread, is the bound: ratio = that time / the pipeline's
 * (target >= 0.9, "90% of the bound"). The three stages one after the other
 * in one thread are the serial run. On 2 cores the light stages, the feeder
 * and the sink share the second core: 3 us of work per item over 2 cores
 * is 1.5 us, under the heavy stage's 2 us, so the bound is reachable.
 *
 * DESIGN: a message is a pointer to an item of a preallocated array, which
 * each stage updates in place; the sink counts and xors the results, and
 * every trial is checked against the serial run's answer. The items are
 * reset at the start of each trial, inside the time of every side alike.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "pipeline.h"

struct item {
    uint64_t v;
};

struct load {
    size_t n, capacity;
    struct item *items;
    void **msgs;
    uint64_t iters[3];   /* per stage */
    uint64_t got_n, got_x, want_x;
};

static int stage_work(void *ctx, void *in, void **out)
{
    struct item *it = in;
    it->v = bench_spin(*(const uint64_t *)ctx, it->v);
    *out = it;
    return 0;
}

static void sink(void *ctx, void *msg) /* runs on the sink thread only, one call at a time */
{
    struct load *l = ctx;
    l->got_n++;
    l->got_x ^= ((struct item *)msg)->v;
}

static void drop(void *msg)
{
    (void)msg; /* the items belong to the array */
}

static void reset(struct load *l)
{
    for (size_t i = 0; i < l->n; i++) {
        l->items[i].v = i + 1;
        l->msgs[i] = &l->items[i];
    }
    l->got_n = l->got_x = 0;
}

static int run_pipeline(void *ctx)
{
    struct load *l = ctx;
    reset(l);
    struct stage st[3];
    for (int k = 0; k < 3; k++)
        st[k] = (struct stage){stage_work, &l->iters[k]};
    struct pipeline p = {st, 3, l->capacity, sink, l, drop};
    if (pipeline_run(&p, l->msgs, l->n) != 0)
        return 1;
    return l->got_n == l->n && l->got_x == l->want_x ? 0 : 1;
}

static int run_serial(void *ctx)
{
    struct load *l = ctx;
    reset(l);
    for (size_t i = 0; i < l->n; i++) {
        void *m = l->msgs[i];
        for (int k = 0; k < 3; k++)
            stage_work(&l->iters[k], m, &m);
        sink(l, m);
    }
    return l->got_n == l->n && l->got_x == l->want_x ? 0 : 1;
}

static int run_slowest(void *ctx) /* the heavy stage alone: the bound */
{
    struct load *l = ctx;
    reset(l);
    uint64_t x = 0;
    for (size_t i = 0; i < l->n; i++) {
        void *m;
        stage_work(&l->iters[1], l->msgs[i], &m);
        x ^= ((struct item *)m)->v;
    }
    return x != 0 || l->n == 0 ? 0 : 1; /* its own answer differs from the pipeline's; only keep it live */
}

static int measure(const struct bench_opts *o, const char *workload, size_t n, size_t capacity)
{
    struct load l = {.n = n, .capacity = capacity};
    l.items = malloc(n * sizeof *l.items);
    l.msgs = malloc(n * sizeof *l.msgs);
    if (l.items == NULL || l.msgs == NULL)
        return 1;
    l.iters[0] = l.iters[2] = bench_iters_for_us(0.5);
    l.iters[1] = bench_iters_for_us(2.0);
    run_serial(&l); /* the answer every trial must give */
    l.want_x = l.got_x;
    struct bench_group g = {.pattern = "pipeline", .workload = workload, .items = (double)n};
    g.sides[g.nsides++] = (struct bench_side){"ours", run_pipeline, &l};
    g.sides[g.nsides++] = (struct bench_side){"slowest stage", run_slowest, &l};
    g.serial = g.nsides;
    g.sides[g.nsides++] = (struct bench_side){"serial", run_serial, &l};
    int bad = bench_run(o, &g) != 0;
    if (!bad)
        bench_report(o, &g, 1, 0.9, 0);
    free(l.items);
    free(l.msgs);
    return bad;
}

int main(int argc, char **argv)
{
    struct bench_opts o = bench_parse(argc, argv);
    int bad = 0;
    if (o.smoke) {
        bad |= measure(&o, "3 stages, 2k items, cap 8", 2000, 8);
        return bad;
    }
    /* The book (5.5) says a handful of slots is usually enough; 256 shows what more room buys. */
    bad |= measure(&o, "3 stages, 500k items, cap 8", 500000, 8);
    bad |= measure(&o, "3 stages, 500k items, cap 256", 500000, 256);
    return bad;
}
