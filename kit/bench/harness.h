/*
 * harness.h - the benchmark harness that every kit/bench/bench_*.c shares:
 * interleaved rounds, median and min, one table line and one results.tsv row
 * per comparison.
 *
 * What it shows: how to compare two implementations on a noisy, shared
 * machine. Each round runs every side once, back to back (A B A B ...), so a
 * burst of load from a neighbour hits both sides of the same round; the ratio
 * of a comparison is the median of the per-round ratios (anchor time / our
 * time, so > 1 means ours is faster), which pairs each of our runs with the
 * anchor's run next to it. Absolute times are printed for information only.
 *
 * DESIGN: a side is a function that runs one whole trial and says whether its
 * result was right (a benchmark that computes the wrong thing fast is a bug,
 * not a result). The harness times it with CLOCK_MONOTONIC and counts the
 * process's voluntary context switches around it (getrusage: every one is a
 * thread going to sleep, which is where a blocking queue's time goes). This
 * file owns both ends of results.tsv: the header, the rows, and the table
 * printed beside them; kit/bench/bench.sh only checks and draws it.
 */
#ifndef TL_BENCH_HARNESS_H
#define TL_BENCH_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* The columns of results.tsv, in order (bench.sh checks the header against them). */
#define BENCH_TSV_HEADER "pattern\tworkload\tours_s\tanchor\tanchor_s\tratio\tspeedup_vs_serial"
#define BENCH_MAX_ROUNDS 99
#define BENCH_MAX_SIDES 4

/* Options every bench binary takes: [--smoke] [--rounds N] [--out DIR]. */
struct bench_opts {
    int smoke;        /* tiny sizes, results not judged against the targets */
    int rounds;       /* interleaved rounds (>= 5 unless --smoke) */
    const char *out;  /* folder of results.tsv and targets.tsv */
};

/* One implementation under test. run(ctx) performs one whole trial and
 * returns 0 when its result was verified correct, nonzero otherwise. */
struct bench_side {
    const char *name;
    int (*run)(void *ctx);
    void *ctx;
};

/* What the rounds measured for one side. */
struct bench_times {
    double s[BENCH_MAX_ROUNDS]; /* seconds, one per round */
    double vcsw[BENCH_MAX_ROUNDS]; /* voluntary context switches, one per round */
    int n;
};

/* A group of sides run in the same rounds: sides[0] is ours; serial, if
 * not negative, is the index of the serial baseline among them. */
struct bench_group {
    const char *pattern, *workload;
    double items;               /* tasks, messages or rows per trial: for per-item costs */
    struct bench_side sides[BENCH_MAX_SIDES];
    int nsides, serial;
    struct bench_times t[BENCH_MAX_SIDES];
};

/* Parses the options; exits with status 2 on a bad one. */
struct bench_opts bench_parse(int argc, char **argv);

/* Runs the group's sides interleaved for o->rounds rounds (after one untimed
 * warm-up round unless smoke). Returns 0, or -1 after printing which side
 * returned a wrong result (the caller then exits nonzero). Blocks for as
 * long as the trials take. */
int bench_run(const struct bench_opts *o, struct bench_group *g);

/* Prints the table line of the comparison of ours (sides[0]) with
 * sides[anchor], and appends its row to results.tsv (and its target to
 * targets.tsv). min_ratio and min_speedup are the targets (0: none);
 * the speedup over serial is filled in when the group has a serial side. */
void bench_report(const struct bench_opts *o, const struct bench_group *g, int anchor, double min_ratio,
                  double min_speedup);

/* Prints "skipped: <what>: <why>" - never a silent zero. */
void bench_skip(const char *what, const char *why);

/* Seconds of CLOCK_MONOTONIC. */
double bench_now(void);

/* Sorts v[0..n) into ascending order; never blocks. */
void bench_sort(double *v, int n);

/* The calibrated spin: about us microseconds of dependent integer work on
 * this machine (calibrated once per process, at the first call), so a
 * "5 us task" is the same work for every side. */
uint64_t bench_iters_for_us(double us);
static inline uint64_t bench_spin(uint64_t iters, uint64_t seed)
{
    uint64_t h = seed ^ 14695981039346656037ull;
    for (uint64_t i = 0; i < iters; i++)
        h = (h ^ i) * 1099511628211ull; /* FNV-1a step: each depends on the last */
    return h;
}

/* A per-thread tally that tasks add to without sharing a cache line: the
 * first call in a thread claims a slot of its own, padded to 64 bytes.
 * bench_tally_take() sums and zeroes every slot; call it only when no task is
 * running (after the pool's wait, the threads' join). */
void bench_tally_add(uint64_t value);
void bench_tally_take(uint64_t *count, uint64_t *xorsum);

#endif /* TL_BENCH_HARNESS_H */
