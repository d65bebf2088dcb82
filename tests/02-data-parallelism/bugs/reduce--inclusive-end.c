/* expect: wrong-result */
/* BUG (reduce--inclusive-end): the worker's loop runs to i <= hi, as if a chunk's end were inclusive: the first index of every next chunk is summed twice and index n, past the end, is asked for too. */
/*
 * reduce.c - exercise 2 of chapter 2: a parallel sum with per-thread partials (known-buggy variant).
 *
 * What it shows: a reduction without a shared total. Each thread keeps its
 * running sum in a local variable (a register, in practice) and stores it once,
 * at the end, into its own slot; the caller adds the slots after the join.
 *
 * DESIGN: the slots are padded to 64 bytes, a cache line on every machine this
 * kit runs on, so that no two threads' slots share a line. Here each thread
 * writes its slot once, so the padding saves little; in a reduction that
 * updates its slot on every term (slot->sum += term(i)) it is the difference
 * between full speed and several times slower (false sharing, book 2.4). The
 * join is what makes each slot's value visible to the caller: no atomic, no lock.
 */
#define _POSIX_C_SOURCE 200809L
#include "reduce.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One thread's chunk and its partial sum, alone in its cache line: written by
 * the caller before the thread starts; `sum` by the thread, read after the join. */
struct reduce_slot {
    alignas(64) long sum;
    size_t lo, hi;
    reduce_term_fn term;
    void *arg;
};

/* Prints what failed and why (rc is an error number: pthreads leave errno alone); never returns. */
static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

/* Thread body: sums its chunk locally, then stores the partial once. Returns NULL. */
static void *reduce_worker(void *p)
{
    struct reduce_slot *s = p;
    long sum = 0;
    for (size_t i = s->lo; i <= s->hi; i++) /* BUG: hi is one past the chunk */
        sum += s->term(i, s->arg);
    s->sum = sum;
    return NULL;
}

int reduce_sum(size_t n, int nthreads, reduce_term_fn term, void *arg, long *out)
{
    if (nthreads < 1 || term == NULL || out == NULL)
        return EINVAL;
    size_t k = n < (size_t)nthreads ? n : (size_t)nthreads;
    if (k == 0) {
        *out = 0;
        return 0;
    }
    struct reduce_slot *slots = aligned_alloc(64, k * sizeof *slots); /* sizeof is a multiple of 64 */
    pthread_t *tids = calloc(k, sizeof *tids);
    if (slots == NULL || tids == NULL) {
        free(slots);
        free(tids);
        return ENOMEM;
    }
    size_t base = n / k, extra = n % k, started = 0;
    int rc = 0;
    for (size_t c = 0; c < k; c++) {
        size_t lo = c * base + (c < extra ? c : extra);
        slots[c] = (struct reduce_slot){.lo = lo, .hi = lo + base + (c < extra ? 1 : 0), .term = term, .arg = arg};
        rc = pthread_create(&tids[c], NULL, reduce_worker, &slots[c]);
        if (rc != 0)
            break;
        started++;
    }
    long total = 0;
    for (size_t c = 0; c < started; c++) {
        int jrc = pthread_join(tids[c], NULL);
        if (jrc != 0)
            die_rc(jrc, "pthread_join");
        total += slots[c].sum; /* safe: the join made the thread's store visible */
    }
    free(slots);
    free(tids);
    if (rc == 0)
        *out = total;
    return rc;
}
