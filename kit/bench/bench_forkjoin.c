/*
 * bench_forkjoin.c - chapter 1's parallel sum at 1, 2 and 4 threads against
 * a serial loop, and the cost of one pthread_create + pthread_join.
 *
 * What it measures: (1) spawn: one trial creates and joins 1000 empty
 * threads one after the other, against summing 100k longs 1000
 * times with the serial loop (the ratio says whether one spawn costs more
 * than summing 100k elements); per item is the cost of one spawn and join. (2) sum: one trial sums
 * an array with sum_parallel() of solutions/01-fork-join/sum.c on 2 threads
 * (ours), on 1 and on 4 threads, and with a plain loop, at a small size
 * (4096 longs, summed 1024 times a trial: the spawns cost more than they
 * save) and a large one (4M longs, 32 MiB, once). Every trial's
 * total must equal the known one.
 *
 * DESIGN: the break-even point is printed from the same run: spawn cost
 * divided by the serial loop's time per element is how many elements a
 * thread must sum before its own creation is repaid.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "sum.h"

#define SPAWNS 1000

static void *empty(void *arg)
{
    return arg;
}

static int run_spawn(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < SPAWNS; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, empty, NULL) != 0 || pthread_join(t, NULL) != 0)
            return 1;
    }
    return 0;
}

struct load {
    long *a;
    size_t n;
    long want;
    int reps; /* sums per trial: a small array is summed big/n times, so every trial is long enough to time */
};

static long chunk_sum(const long *a, size_t lo, size_t hi)
{
    long s = 0;
    for (size_t i = lo; i < hi; i++)
        s += a[i];
    return s;
}

/* The spawn group's anchor: SPAWNS sums of l's array by the serial loop, so
 * the ratio says whether one spawn costs more or less than summing l->n. */
static int run_sums(void *ctx)
{
    struct load *l = ctx;
    long (*volatile fn)(const long *, size_t, size_t) = chunk_sum; /* volatile: no hoisting out of the loop */
    for (int i = 0; i < SPAWNS; i++)
        if (fn(l->a, 0, l->n) != l->want)
            return 1;
    return 0;
}

static int sum_on(struct load *l, int nthreads)
{
    for (int r = 0; r < l->reps; r++) {
        long got = 0;
        if (sum_parallel(l->a, l->n, nthreads, chunk_sum, &got) != 0 || got != l->want)
            return 1;
    }
    return 0;
}
static int run_t1(void *ctx) { return sum_on(ctx, 1); }
static int run_t2(void *ctx) { return sum_on(ctx, 2); }
static int run_t4(void *ctx) { return sum_on(ctx, 4); }
static int run_serial(void *ctx)
{
    struct load *l = ctx;
    long (*volatile fn)(const long *, size_t, size_t) = chunk_sum; /* volatile: no hoisting out of the loop */
    for (int r = 0; r < l->reps; r++)
        if (fn(l->a, 0, l->n) != l->want)
            return 1;
    return 0;
}

/* n(n-1)/2: the sum of 0, 1, ..., n - 1, the array's contents. */
static struct load load_of(long *a, size_t n)
{
    return (struct load){a, n, (long)(n * (n - 1) / 2), 1};
}

/* The quickest round's seconds: the cost with the least interference from neighbours. */
static double quickest(const struct bench_times *t)
{
    double best = t->s[0];
    for (int r = 1; r < t->n; r++)
        best = t->s[r] < best ? t->s[r] : best;
    return best;
}

/* Runs the sum group on n elements; returns the serial loop's median ns per element, or -1. */
static double sum_group(const struct bench_opts *o, long *a, size_t n, size_t big)
{
    struct load l = load_of(a, n);
    l.reps = (int)(big / n);
    char workload[64];
    snprintf(workload, sizeof workload, "%d sums of %zu longs", l.reps, n);
    struct bench_group g = {.pattern = "fork-join", .workload = workload, .items = (double)n * l.reps};
    g.sides[g.nsides++] = (struct bench_side){"ours, 2 threads", run_t2, &l};
    g.sides[g.nsides++] = (struct bench_side){"1 thread", run_t1, &l};
    g.sides[g.nsides++] = (struct bench_side){"4 threads", run_t4, &l};
    g.serial = g.nsides;
    g.sides[g.nsides++] = (struct bench_side){"serial loop", run_serial, &l};
    if (bench_run(o, &g) != 0)
        return -1;
    for (int k = 1; k < g.nsides; k++)
        bench_report(o, &g, k, 0, 0);
    return quickest(&g.t[g.serial]) / g.items * 1e9;
}

int main(int argc, char **argv)
{
    struct bench_opts o = bench_parse(argc, argv);
    size_t sizes[2] = {4096, o.smoke ? 65536 : (size_t)1 << 22}; /* smoke: still long enough to time */
    long *a = malloc(sizes[1] * sizeof *a);
    if (a == NULL)
        return 1;
    for (size_t i = 0; i < sizes[1]; i++)
        a[i] = (long)i;

    struct load per_spawn = load_of(a, o.smoke ? 10000 : 100000);
    struct bench_group sp = {.pattern = "fork-join", .workload = "1000 empty threads", .items = SPAWNS, .serial = -1};
    sp.sides[sp.nsides++] = (struct bench_side){"ours", run_spawn, NULL};
    sp.sides[sp.nsides++] = (struct bench_side){o.smoke ? "serial loop, 10k" : "serial loop, 100k", run_sums,
                                                &per_spawn}; /* named after what it sums */
    if (bench_run(&o, &sp) != 0)
        return 1;
    bench_report(&o, &sp, 1, 0, 0);
    double spawn_ns = quickest(&sp.t[0]) / SPAWNS * 1e9;

    double per_elem = 0;
    for (int i = 0; i < 2; i++)
        if ((per_elem = sum_group(&o, a, sizes[i], sizes[1])) < 0)
            return 1;
    printf("fork-join     break-even: spawn+join %.0f ns (quickest round) / serial loop %.2f ns per element"
           " = %.0f elements per thread\n", spawn_ns, per_elem, spawn_ns / per_elem);
    free(a);
    return 0;
}
