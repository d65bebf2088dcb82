/*
 * false_sharing.c - what adjacent per-thread slots cost: the same reduction,
 * its partials adjacent in one cache line, then padded apart.
 *
 * What it shows: a program can be correct and still slow because of where
 * its data lies. Each thread adds up its own chunk of an array into its own
 * slot of a partials array, updating the slot on every element (as a first
 * version of a reduction often does: partial[me] += a[i]). No two threads
 * write the same slot, so there is no data race and the sum is right both
 * ways. But a cache keeps memory in lines of 64 bytes, and a core must own a
 * line to write to it: with adjacent slots (8 bytes apart, all in one line)
 * every add on one core takes the line away from the others, and the line
 * travels between the cores on nearly every add. Padded to a line each, the
 * slots never meet, and each core keeps its line to itself.
 *
 * DESIGN: the slot update is a relaxed atomic load and store (not a
 * read-modify-write: each slot has one writer), which compiles to a plain
 * load and store but keeps the compiler from holding the sum in a register,
 * as the naive `partial[me] += a[i]` would do only by luck. The grader cannot
 * name this "bug": the result is right and tests never time. `make bench`
 * measures it; the book (2.4 False sharing) shows the numbers.
 *
 * Run: ./false_sharing [--threads K] [--million N]  (N million adds per thread; default 2, 50)
 */
#define _POSIX_C_SOURCE 200809L
#define TL_TRACE_IMPLEMENTATION
#include "../../kit/trace/trace.h" /* traced builds link the wrappers, which need the tracer */

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 16
#define CHUNK 4096 /* elements of the array each thread walks, again and again */

/* Adjacent: K slots of 8 bytes, all in one or two cache lines. */
static atomic_long adjacent[MAX_THREADS];

/* snippet: padded */
/* Padded: each slot alone in its 64-byte cache line (alignas pads the struct to 64). */
struct padded_slot {
    alignas(64) atomic_long sum;
};
static struct padded_slot padded[MAX_THREADS];
/* end snippet: padded */

static long data[MAX_THREADS][CHUNK];

struct run {
    atomic_long *slot;
    const long *a;
    long adds;
};

/* Prints what failed and why (rc is a pthread error number, not errno); never returns. */
static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

/* snippet: add */
/* Thread body: adds its array into its own slot, updating the slot every time. */
static void *adder(void *p)
{
    struct run *r = p;
    for (long i = 0; i < r->adds; i++) {
        long s = atomic_load_explicit(r->slot, memory_order_relaxed); /* one writer: no RMW needed */
        atomic_store_explicit(r->slot, s + r->a[i % CHUNK], memory_order_relaxed);
    }
    return NULL;
}
/* end snippet: add */

/* CLOCK_MONOTONIC now, in seconds. */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs k adders on the slots slot(0..k-1); returns ns per add (wall time / adds of one thread). */
static double measure(int k, long adds, int pad, long *total)
{
    pthread_t t[MAX_THREADS];
    struct run r[MAX_THREADS];
    double t0 = now_s();
    for (int i = 0; i < k; i++) {
        atomic_long *slot = pad ? &padded[i].sum : &adjacent[i];
        atomic_store(slot, 0);
        r[i] = (struct run){slot, data[i], adds};
        int rc = pthread_create(&t[i], NULL, adder, &r[i]);
        if (rc != 0)
            die_rc(rc, "pthread_create");
    }
    *total = 0;
    for (int i = 0; i < k; i++) {
        int rc = pthread_join(t[i], NULL);
        if (rc != 0)
            die_rc(rc, "pthread_join");
        *total += atomic_load(r[i].slot);
    }
    return (now_s() - t0) * 1e9 / (double)adds;
}

int main(int argc, char **argv)
{
    int k = 2;
    long million = 50;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            k = atoi(argv[++i]);
        else if (strcmp(argv[i], "--million") == 0 && i + 1 < argc)
            million = atol(argv[++i]);
        else
            k = 0;
    }
    if (k < 1 || k > MAX_THREADS || million < 1) {
        fprintf(stderr, "usage: %s [--threads 1..%d] [--million N]\n", argv[0], MAX_THREADS);
        return 2;
    }
    for (int t = 0; t < k; t++)
        for (int i = 0; i < CHUNK; i++)
            data[t][i] = (i * 7 + t) % 100;
    long adds = million * 1000000, want = 0;
    for (int t = 0; t < k; t++)
        for (long i = 0; i < adds; i++)
            want += data[t][i % CHUNK];
    long got_adj, got_pad, got_one;
    double one = measure(1, adds, 1, &got_one);
    double adj = measure(k, adds, 0, &got_adj);
    double pad = measure(k, adds, 1, &got_pad);
    printf("%d threads, %ld million adds each, into a slot of their own:\n", k, million);
    printf("  1 thread alone:        %5.2f ns per add\n", one);
    printf("  adjacent slots:        %5.2f ns per add  (%.1fx the padded time)\n", adj, adj / pad);
    printf("  padded to 64 bytes:    %5.2f ns per add\n", pad);
    printf("  sums: adjacent %s, padded %s (both are correct: nothing is shared but the cache line)\n",
           got_adj == want ? "right" : "WRONG", got_pad == want ? "right" : "WRONG");
    return got_adj == want && got_pad == want ? 0 : 1;
}
