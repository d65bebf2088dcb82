/*
 * harness.c - interleaved rounds, statistics, the table and results.tsv
 * (see harness.h for the contract).
 *
 * DESIGN: nothing here knows what a pool or a channel is. A round calls each
 * side's run() once, in the order the group lists them, timing it and
 * counting voluntary context switches; a comparison's ratio is the median
 * of the per-round ratios anchor/ours, and its speedup the median of
 * serial/ours, so each of our runs is only ever compared with runs of the
 * same round. results.tsv and the table are written side by side from the
 * same numbers by bench_report(), the one writer of both.
 */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double vcsw_now(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) /* the whole process: every thread, ended ones too */
        return 0.0;
    return (double)ru.ru_nvcsw;
}

struct bench_opts bench_parse(int argc, char **argv)
{
    struct bench_opts o = {0, 7, "build/bench"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0) {
            o.smoke = 1;
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            o.rounds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            o.out = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--smoke] [--rounds N] [--out DIR]\n", argv[0]);
            exit(2);
        }
    }
    if (o.rounds < 1 || o.rounds > BENCH_MAX_ROUNDS) {
        fprintf(stderr, "%s: --rounds must be 1..%d\n", argv[0], BENCH_MAX_ROUNDS);
        exit(2);
    }
    return o;
}

/* One timed call of side s into round r of t. Returns run()'s status. */
static int run_once(const struct bench_side *s, struct bench_times *t, int r)
{
    double c0 = vcsw_now(), t0 = bench_now();
    int rc = s->run(s->ctx);
    double t1 = bench_now(), c1 = vcsw_now();
    if (t != NULL) {
        t->s[r] = t1 - t0;
        t->vcsw[r] = c1 - c0;
        t->n = r + 1;
    }
    return rc;
}

int bench_run(const struct bench_opts *o, struct bench_group *g)
{
    for (int k = 0; k < g->nsides; k++)
        g->t[k].n = 0;
    for (int r = o->smoke ? 0 : -1; r < o->rounds; r++) { /* round -1: warm-up, not kept */
        for (int k = 0; k < g->nsides; k++) {
            if (run_once(&g->sides[k], r < 0 ? NULL : &g->t[k], r) != 0) {
                fprintf(stderr, "bench: %s, %s: %s computed a wrong result\n", g->pattern, g->workload,
                        g->sides[k].name);
                return -1;
            }
        }
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_sort(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
}

static double median(const double *v, int n)
{
    double s[BENCH_MAX_ROUNDS];
    memcpy(s, v, (size_t)n * sizeof *s);
    bench_sort(s, n);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
}

static double minimum(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

/* The median over rounds of a->s[r] / b->s[r]. */
static double paired_ratio(const struct bench_times *a, const struct bench_times *b)
{
    double q[BENCH_MAX_ROUNDS];
    int n = a->n < b->n ? a->n : b->n;
    for (int r = 0; r < n; r++)
        q[r] = b->s[r] > 0 ? a->s[r] / b->s[r] : 0.0;
    return median(q, n);
}

/* Opens DIR/name for appending; *fresh says whether it was empty. Exits on failure. */
static FILE *open_out(const char *dir, const char *name, int *fresh)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "a");
    if (f == NULL) {
        fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    *fresh = ftell(f) == 0;
    return f;
}

static void fmt_x(char *buf, size_t n, double x)
{
    if (x > 0)
        snprintf(buf, n, "%.2fx", x);
    else
        snprintf(buf, n, "-");
}

void bench_report(const struct bench_opts *o, const struct bench_group *g, int anchor, double min_ratio,
                  double min_speedup)
{
    const struct bench_times *us = &g->t[0], *them = &g->t[anchor];
    double ours_s = median(us->s, us->n), anchor_s = median(them->s, them->n);
    double ratio = paired_ratio(them, us);
    double speedup = g->serial >= 0 ? paired_ratio(&g->t[g->serial], us) : 0.0;
    int met = (min_ratio <= 0 || ratio >= min_ratio) && (min_speedup <= 0 || speedup >= min_speedup);

    char target[64] = "report", rx[16], sx[16], verdict[32];
    if (min_ratio > 0 && min_speedup > 0)
        snprintf(target, sizeof target, ">= %gx, >= %gx serial", min_ratio, min_speedup);
    else if (min_ratio > 0)
        snprintf(target, sizeof target, ">= %gx", min_ratio);
    else if (min_speedup > 0)
        snprintf(target, sizeof target, ">= %gx serial", min_speedup);
    fmt_x(rx, sizeof rx, ratio);
    fmt_x(sx, sizeof sx, speedup);
    snprintf(verdict, sizeof verdict, "%s",
             o->smoke ? "smoke, not judged" : min_ratio <= 0 && min_speedup <= 0 ? "info" : met ? "met" : "SHORT");

    int fresh;
    FILE *tsv = open_out(o->out, "results.tsv", &fresh);
    if (fresh)
        fprintf(tsv, "%s\n", BENCH_TSV_HEADER);
    fprintf(tsv, "%s\t%s\t%.6f\t%s\t%.6f\t%.4f\t", g->pattern, g->workload, ours_s, g->sides[anchor].name,
            anchor_s, ratio);
    if (g->serial >= 0)
        fprintf(tsv, "%.4f\n", speedup);
    else
        fprintf(tsv, "-\n");
    fclose(tsv);
    FILE *tg = open_out(o->out, "targets.tsv", &fresh);
    if (fresh)
        fprintf(tg, "pattern\tworkload\tanchor\ttarget\tverdict\n");
    fprintf(tg, "%s\t%s\t%s\t%s\t%s\n", g->pattern, g->workload, g->sides[anchor].name, target, verdict);
    fclose(tg);

    printf("%-13s %-28s %9.4f s  %-16s %9.4f s  %7s  %7s  %s: %s\n", g->pattern, g->workload, ours_s,
           g->sides[anchor].name, anchor_s, rx, sx, target, verdict);
    double items = g->items > 0 ? g->items : 1;
    printf("%-13s   min %.4f s / %.4f s;  per item %.0f ns / %.0f ns;  sleeps per item %.3f / %.3f (%d rounds)\n",
           "", minimum(us->s, us->n), minimum(them->s, them->n), ours_s / items * 1e9, anchor_s / items * 1e9,
           median(us->vcsw, us->n) / items, median(them->vcsw, them->n) / items, us->n);
    fflush(stdout);
}

void bench_skip(const char *what, const char *why)
{
    printf("skipped: %s: %s\n", what, why);
    fflush(stdout);
}

uint64_t bench_iters_for_us(double us)
{
    static double per_us; /* iterations per microsecond; set once, in the main thread */
    if (per_us == 0) {
        const uint64_t n = 1u << 20;
        double best = 1e9;
        volatile uint64_t sink = 0;
        for (int k = 0; k < 5; k++) { /* the fastest of five: the least disturbed */
            double t0 = bench_now();
            sink += bench_spin(n, (uint64_t)k);
            double dt = bench_now() - t0;
            best = dt < best ? dt : best;
        }
        (void)sink;
        per_us = (double)n / (best * 1e6);
    }
    double it = us * per_us;
    return it < 1 ? 1 : (uint64_t)it;
}

/* Tally slots: one per thread that ever adds, never reused, so no two
 * threads share one (a reused slot could be shared by two live threads, and
 * its plain read-add-store would lose counts). */
#define TALLY_SLOTS 4096
struct tally {
    alignas(64) _Atomic uint64_t n; /* padded: neighbouring threads never share a line */
    _Atomic uint64_t x;
};
static struct tally tallies[TALLY_SLOTS];
static atomic_size_t tally_next;
static _Thread_local struct tally *my_tally;

void bench_tally_add(uint64_t value)
{
    struct tally *t = my_tally;
    if (t == NULL) {
        size_t i = atomic_fetch_add_explicit(&tally_next, 1, memory_order_relaxed);
        if (i >= TALLY_SLOTS) {
            fprintf(stderr, "bench: more than %d threads added to the tally\n", TALLY_SLOTS);
            abort();
        }
        t = my_tally = &tallies[i];
    }
    /* Only this thread writes its slot: relaxed load and store, no locked add.
     * The reader, bench_tally_take(), runs after the pool's wait or the
     * threads' join, which orders these stores before its loads. */
    atomic_store_explicit(&t->n, atomic_load_explicit(&t->n, memory_order_relaxed) + 1, memory_order_relaxed);
    atomic_store_explicit(&t->x, atomic_load_explicit(&t->x, memory_order_relaxed) ^ value, memory_order_relaxed);
}

void bench_tally_take(uint64_t *count, uint64_t *xorsum)
{
    uint64_t n = 0, x = 0;
    size_t used = atomic_load_explicit(&tally_next, memory_order_relaxed);
    for (size_t i = 0; i < used && i < TALLY_SLOTS; i++) {
        n += atomic_exchange_explicit(&tallies[i].n, 0, memory_order_relaxed);
        x ^= atomic_exchange_explicit(&tallies[i].x, 0, memory_order_relaxed);
    }
    *count = n;
    *xorsum = x;
}
