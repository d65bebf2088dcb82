/*
 * bench_atomics.c - chapter 7's two lessons in numbers: per-thread counters
 * padded to a cache line against one mutex-guarded counter, and the chapter's
 * SPSC ring against Concurrency Kit's ck_ring SPSC.
 *
 * What it measures: (1) 2 threads count N increments in all (N/2 each), in
 * four ways, one side each: padded (ours: a counter per thread, 64 bytes
 * apart, a relaxed load and store per increment), mutex (one counter behind
 * a pthread mutex: the anchor), atomic (one atomic_fetch_add counter) and
 * false-shared (a counter per thread, side by side on one line); a trial is
 * right when the total is N. (2) One producer pushes the integers 1..N
 * through a ring of 1024 slots to one consumer, which checks that each comes
 * out in order and sums them; ours is solutions/07-atomics/ring.c, the
 * anchor ck_ring_enqueue_spsc/ck_ring_dequeue_spsc (package libck-dev).
 *
 * DESIGN: the counters are the bench's own copies of
 * chapters/07-atomics/counters.c's four ways (same technique, one loop per
 * way so no switch runs per increment); the threads start together at a
 * barrier and the trial ends at the last join. Neither ring blocks, so both
 * sides wait the same way when full or empty: spin a few times, then
 * sched_yield(), so a loaded 2-core machine still makes progress when the
 * other side is not running. ck_ring of 1024 slots holds 1023 values, ours
 * 1024: the same buffer. Built without Concurrency Kit (-DBENCH_NO_CK), that
 * anchor is skipped with a line naming the package.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ring.h"
#ifndef BENCH_NO_CK
#include <ck_ring.h>
#endif

#define NTHREADS 2
#define RING_SLOTS 1024
#define SPINS_BEFORE_YIELD 64

static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "bench_atomics: %s: %s\n", what, strerror(rc));
    abort(); /* a benchmark with fewer threads than it says is no benchmark */
}

/* ------------------------------------------------------------- counters */

enum way { PADDED, MUTEX, ATOMIC, SHARED };

struct padded {
    alignas(64) atomic_uint_fast64_t n; /* a cache line per thread: written by one core only */
};

struct counters {
    uint64_t n;                          /* increments per trial, all threads together */
    enum way way;                        /* of the trial running now: set before the threads start */
    pthread_barrier_t start;
    pthread_mutex_t lock;
    uint64_t locked;                     /* guarded by lock */
    alignas(64) atomic_uint_fast64_t one; /* every thread's fetch_add */
    struct padded padded[NTHREADS];
    alignas(64) atomic_uint_fast64_t side_by_side[NTHREADS]; /* one line for all: false sharing */
};

struct counter_job {
    struct counters *c;
    int id;
};

/* One thread's share of a trial: n / NTHREADS increments (the first takes the
 * remainder) in the trial's way. Blocks at the start barrier and on the mutex. */
static void *count_thread(void *arg)
{
    struct counter_job *j = arg;
    struct counters *c = j->c;
    uint64_t n = c->n / NTHREADS + (j->id == 0 ? c->n % NTHREADS : 0);
    int rc = pthread_barrier_wait(&c->start);
    if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
        die_rc(rc, "pthread_barrier_wait");
    atomic_uint_fast64_t *mine = &c->padded[j->id].n, *neighbour = &c->side_by_side[j->id];
    switch (c->way) {
    case PADDED: /* one writer: a relaxed load and store, no read-modify-write; the join publishes it */
        for (uint64_t i = 0; i < n; i++)
            atomic_store_explicit(mine, atomic_load_explicit(mine, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
        break;
    case SHARED: /* the same instructions on a line the other thread writes too */
        for (uint64_t i = 0; i < n; i++)
            atomic_store_explicit(neighbour, atomic_load_explicit(neighbour, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
        break;
    case ATOMIC: /* relaxed: a count orders nothing; the join publishes the total */
        for (uint64_t i = 0; i < n; i++)
            atomic_fetch_add_explicit(&c->one, 1, memory_order_relaxed);
        break;
    case MUTEX:
        for (uint64_t i = 0; i < n; i++) {
            if ((rc = pthread_mutex_lock(&c->lock)) != 0)
                die_rc(rc, "pthread_mutex_lock");
            c->locked++;
            if ((rc = pthread_mutex_unlock(&c->lock)) != 0)
                die_rc(rc, "pthread_mutex_unlock");
        }
        break;
    }
    return NULL;
}

/* One trial of way w: zero every counter, start NTHREADS threads at once, join
 * them. Returns 0 when the total is n. */
static int count_trial(struct counters *c, enum way w)
{
    pthread_t th[NTHREADS];
    struct counter_job jobs[NTHREADS];
    int rc;
    c->way = w;
    c->locked = 0;
    atomic_store(&c->one, 0);
    for (int i = 0; i < NTHREADS; i++) {
        atomic_store(&c->padded[i].n, 0);
        atomic_store(&c->side_by_side[i], 0);
    }
    if ((rc = pthread_barrier_init(&c->start, NULL, NTHREADS)) != 0)
        die_rc(rc, "pthread_barrier_init");
    for (int i = 0; i < NTHREADS; i++) {
        jobs[i] = (struct counter_job){c, i};
        if ((rc = pthread_create(&th[i], NULL, count_thread, &jobs[i])) != 0)
            die_rc(rc, "pthread_create");
    }
    for (int i = 0; i < NTHREADS; i++)
        if ((rc = pthread_join(th[i], NULL)) != 0)
            die_rc(rc, "pthread_join");
    pthread_barrier_destroy(&c->start);
    uint64_t total = w == MUTEX ? c->locked : w == ATOMIC ? atomic_load(&c->one) : 0;
    for (int i = 0; i < NTHREADS; i++)
        total += w == PADDED ? atomic_load(&c->padded[i].n) : w == SHARED ? atomic_load(&c->side_by_side[i]) : 0;
    return total == c->n ? 0 : 1;
}

static int run_padded(void *ctx) { return count_trial(ctx, PADDED); }
static int run_mutex(void *ctx) { return count_trial(ctx, MUTEX); }
static int run_atomic(void *ctx) { return count_trial(ctx, ATOMIC); }
static int run_shared(void *ctx) { return count_trial(ctx, SHARED); }

static int measure_counters(const struct bench_opts *o, const char *workload, uint64_t n)
{
    static struct counters c; /* static: aligned, and too big for a comfortable stack */
    c.n = n;
    int rc = pthread_mutex_init(&c.lock, NULL);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_init");
    struct bench_group g = {.pattern = "atomics", .workload = workload, .items = (double)n, .serial = -1};
    g.sides[g.nsides++] = (struct bench_side){"ours (padded)", run_padded, &c};
    g.sides[g.nsides++] = (struct bench_side){"mutex counter", run_mutex, &c};
    g.sides[g.nsides++] = (struct bench_side){"atomic fetch_add", run_atomic, &c};
    g.sides[g.nsides++] = (struct bench_side){"false-shared", run_shared, &c};
    if (bench_run(o, &g) != 0)
        return 1;
    bench_report(o, &g, 1, 10.0, 0); /* the target: >= 10x the mutex */
    bench_report(o, &g, 2, 0, 0);    /* the other two of the chapter's four ways: information */
    bench_report(o, &g, 3, 0, 0);
    pthread_mutex_destroy(&c.lock);
    return 0;
}

/* ------------------------------------------------------------ SPSC rings */

/* The threads copy n and the pointers into locals before they start, so the
 * hot loops read no line but the ring's own. */
struct stream {
    uint64_t n;            /* values per trial: the integers 1..n */
    ring *ours;
#ifndef BENCH_NO_CK
    ck_ring_buffer_t *ck_buf;
    alignas(64) struct ck_ring ck; /* pads its consumer and producer indices apart itself */
#endif
    alignas(64) uint64_t got, sum; /* the consumer's; read by the trial after the join */
    int in_order;
};

/* The shared wait of a push that found the ring full or a pop that found it
 * empty: spin, then give the CPU away (the other side may not be running). */
static inline void wait_turn(unsigned *spins)
{
    if (++*spins >= SPINS_BEFORE_YIELD) {
        *spins = 0;
        sched_yield();
    }
}

static void *our_producer(void *arg)
{
    struct stream *s = arg;
    ring *r = s->ours;
    const uint64_t n = s->n;
    unsigned spins = 0;
    for (uint64_t v = 1; v <= n; v++)
        while (!ring_push_spsc(r, (void *)(uintptr_t)v))
            wait_turn(&spins);
    return NULL;
}

static void *our_consumer(void *arg)
{
    struct stream *s = arg;
    ring *r = s->ours;
    const uint64_t n = s->n;
    unsigned spins = 0;
    uint64_t sum = 0, got = 0;
    int in_order = 1;
    void *m;
    while (got < n) {
        if (!ring_pop_spsc(r, &m)) {
            wait_turn(&spins);
            continue;
        }
        got++;
        in_order &= (uintptr_t)m == got;
        sum += (uintptr_t)m;
    }
    s->got = got, s->sum = sum, s->in_order = in_order;
    return NULL;
}

#ifndef BENCH_NO_CK
static void *ck_producer(void *arg)
{
    struct stream *s = arg;
    struct ck_ring *r = &s->ck;
    ck_ring_buffer_t *buf = s->ck_buf;
    const uint64_t n = s->n;
    unsigned spins = 0;
    for (uint64_t v = 1; v <= n; v++)
        while (!ck_ring_enqueue_spsc(r, buf, (void *)(uintptr_t)v))
            wait_turn(&spins);
    return NULL;
}

static void *ck_consumer(void *arg)
{
    struct stream *s = arg;
    struct ck_ring *r = &s->ck;
    const ck_ring_buffer_t *buf = s->ck_buf;
    const uint64_t n = s->n;
    unsigned spins = 0;
    uint64_t sum = 0, got = 0;
    int in_order = 1;
    void *m;
    while (got < n) {
        if (!ck_ring_dequeue_spsc(r, buf, &m)) {
            wait_turn(&spins);
            continue;
        }
        got++;
        in_order &= (uintptr_t)m == got;
        sum += (uintptr_t)m;
    }
    s->got = got, s->sum = sum, s->in_order = in_order;
    return NULL;
}
#endif

/* Runs one producer and one consumer to the end. Returns 0 when every value
 * arrived once, in order. */
static int stream_trial(struct stream *s, void *(*prod)(void *), void *(*cons)(void *))
{
    pthread_t p, c;
    int rc;
    s->got = s->sum = 0;
    s->in_order = 0;
    if ((rc = pthread_create(&c, NULL, cons, s)) != 0 || (rc = pthread_create(&p, NULL, prod, s)) != 0)
        die_rc(rc, "pthread_create");
    if ((rc = pthread_join(p, NULL)) != 0 || (rc = pthread_join(c, NULL)) != 0)
        die_rc(rc, "pthread_join");
    return s->got == s->n && s->in_order && s->sum == s->n * (s->n + 1) / 2 ? 0 : 1;
}

static int run_our_ring(void *ctx)
{
    struct stream *s = ctx;
    s->ours = ring_create(RING_SLOTS);
    if (s->ours == NULL)
        return 1;
    int bad = stream_trial(s, our_producer, our_consumer);
    ring_destroy(s->ours);
    return bad;
}

#ifndef BENCH_NO_CK
static int run_ck_ring(void *ctx)
{
    struct stream *s = ctx;
    s->ck_buf = calloc(RING_SLOTS, sizeof *s->ck_buf);
    if (s->ck_buf == NULL)
        return 1;
    ck_ring_init(&s->ck, RING_SLOTS);
    int bad = stream_trial(s, ck_producer, ck_consumer);
    free(s->ck_buf);
    return bad;
}
#endif

static int measure_ring(const struct bench_opts *o, const char *workload, uint64_t n)
{
#ifdef BENCH_NO_CK
    (void)o, (void)n, (void)run_our_ring; /* nothing to compare ours with */
    char what[128];
    snprintf(what, sizeof what, "atomics, %s, vs ck_ring", workload);
    bench_skip(what, "Concurrency Kit not found: install the package libck-dev (make bench does, as root)");
    return 0;
#else
    static struct stream s; /* static: aligned */
    s.n = n;
    struct bench_group g = {.pattern = "atomics", .workload = workload, .items = (double)n, .serial = -1};
    g.sides[g.nsides++] = (struct bench_side){"ours (ring.c)", run_our_ring, &s};
    g.sides[g.nsides++] = (struct bench_side){"ck_ring spsc", run_ck_ring, &s};
    if (bench_run(o, &g) != 0)
        return 1;
    bench_report(o, &g, 1, 0.9, 0);
    return 0;
#endif
}

int main(int argc, char **argv)
{
    struct bench_opts o = bench_parse(argc, argv);
    int bad = 0;
    if (o.smoke) {
        bad |= measure_counters(&o, "20k increments, 2 threads", 20000);
        bad |= measure_ring(&o, "SPSC 20k items, 1024 slots", 20000);
        return bad;
    }
    bad |= measure_counters(&o, "10M increments, 2 threads", 10000000);
    bad |= measure_ring(&o, "SPSC 10M items, 1024 slots", 10000000);
    return bad;
}
