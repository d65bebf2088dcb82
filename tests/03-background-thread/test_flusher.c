/*
 * test_flusher.c - tests for chapters/03-background-thread/flusher.h.
 *
 * What it shows: how to test a request/acknowledge handshake. The test owns
 * the sink, so it sees every batch, checks the order, and can hold the
 * background thread inside the sink (a "gate") while other threads write and
 * ask for flushes. With the thread held there, the interesting interleavings
 * stop being rare: a flush_now() caller whose items are not in the batch
 * being written out is provably waiting when that batch completes, so a
 * caller that takes any wakeup as its answer (an `if` around the wait) is
 * caught every time, and so is one that wakes a single waiter (signal where
 * broadcast is needed).
 *
 * The sink also reads its batch a second time as it returns: a flusher that
 * hands it memory a writer may realloc meanwhile is caught by that re-read
 * (and by AddressSanitizer in the asan pass). The kit's wrappers make
 * pthread_create and malloc fail on demand (the error paths), make condition
 * waits return without a signal (an `if` around a wait), and count what every
 * thread does while the test idles (busy waiting).
 *
 * DESIGN: as in test_ticker.c, the test never blocks without a bound on
 * something a wrong solution might never do: calls that might not return run
 * on helper threads, and the test waits for them on semaphores (not wrapped,
 * so they add nothing to the counts) with a generous bound. Nothing is timed
 * except those bounds, one short pause that gives a wrong solution room to
 * show itself, and an upper bound on a rate (load only lowers rates).
 */
#include "tlcheck.h"
#include "tltest.h"

#include "flusher.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#define HOUR_MS (3600L * 1000)
#define IDLE_MS TL_IDLE_MS /* the idle window of the busy-wait checks (kit/check/tltest.h) */
#define RATE_MS 30        /* the window of the upper bound on time-outs */
#define NW 4            /* writers in the stress test */
#define STRIDE (1L << 20) /* item = base + writer * STRIDE + sequence number */

/* ----------------------------------------------------------------- helpers */

/* What the sink sees. Set base and gate_calls before flusher_create(). */
struct sink {
    long base;              /* item = base + writer * STRIDE + sequence number */
    atomic_long received;   /* items the sink has finished with (counted as it returns) */
    atomic_long calls;
    atomic_long empty;      /* calls with n == 0 */
    atomic_long disorder;   /* items that were not their writer's next one */
    atomic_long next[NW];   /* next sequence number expected from each writer */
    atomic_int thread;      /* tl_note_worker() index of the first caller; -1 before */
    atomic_long foreign;    /* calls from any other thread */
    atomic_int running;     /* sink calls running now */
    atomic_long overlaps;   /* calls that started while another ran */
    atomic_bool destroyed;  /* set by the test once flusher_destroy() has returned */
    atomic_long late;       /* calls after that */
    atomic_long changed;    /* calls whose items changed while the sink held them */
    long gate_calls;        /* the first gate_calls calls post in_sink, then wait for gate */
    sem_t in_sink, gate;
};

static void sink_init(struct sink *s, long base, long gate_calls)
{
    s->base = base;
    atomic_init(&s->received, 0);
    atomic_init(&s->calls, 0);
    atomic_init(&s->empty, 0);
    atomic_init(&s->disorder, 0);
    for (int w = 0; w < NW; w++)
        atomic_init(&s->next[w], 0);
    atomic_init(&s->thread, -1);
    atomic_init(&s->foreign, 0);
    atomic_init(&s->running, 0);
    atomic_init(&s->overlaps, 0);
    atomic_init(&s->destroyed, false);
    atomic_init(&s->late, 0);
    atomic_init(&s->changed, 0);
    s->gate_calls = gate_calls;
    sem_init(&s->in_sink, 0, 0);
    sem_init(&s->gate, 0, 0);
}

static long item_of(const struct sink *s, int writer, long seq)
{
    return s->base + writer * STRIDE + seq;
}

/* Returns a checksum of items[0..n). Never blocks. */
static unsigned long items_sum(const long *items, size_t n)
{
    unsigned long h = 14695981039346656037ul;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned long)items[i]) * 1099511628211ul;
    return h;
}

/* The sink every test passes to flusher_create(). Blocks only at the gate. */
static void sink_fn(void *ctx, const long *items, size_t n)
{
    struct sink *s = ctx;
    if (atomic_fetch_add(&s->running, 1) != 0)
        atomic_fetch_add(&s->overlaps, 1);
    if (atomic_load(&s->destroyed))
        atomic_fetch_add(&s->late, 1);
    tl_note_caller(&s->thread, &s->foreign);
    if (n == 0)
        atomic_fetch_add(&s->empty, 1);
    for (size_t i = 0; i < n; i++) {
        long v = items[i] - s->base;
        long wr = v / STRIDE, seq = v % STRIDE;
        if (v < 0 || wr >= NW || seq != atomic_load(&s->next[wr]))
            atomic_fetch_add(&s->disorder, 1);
        else
            atomic_fetch_add(&s->next[wr], 1);
    }
    unsigned long sum = items_sum(items, n);
    long k = atomic_fetch_add(&s->calls, 1) + 1;
    if (k <= s->gate_calls) {
        sem_post(&s->in_sink);
        while (sem_wait(&s->gate) != 0) /* no bound: the test posts it, or fails and exits */
            ;
    }
    if (items_sum(items, n) != sum) /* the batch is the sink's until it returns */
        atomic_fetch_add(&s->changed, 1);
    atomic_fetch_add(&s->received, (long)n);
    atomic_fetch_sub(&s->running, 1);
}

/* flusher_flush_now() on a helper thread, noting how much the sink had when it returned. */
struct flush_call {
    flusher *f;
    struct sink *s;
    long seen;
};

static void flush_and_note(void *arg)
{
    struct flush_call *fc = arg;
    flusher_flush_now(fc->f);
    fc->seen = atomic_load(&fc->s->received);
}

/* flusher_write() on a helper thread. */
struct write_call {
    flusher *f;
    long item;
    int rc;
};

static void write_one(void *arg)
{
    struct write_call *wc = arg;
    wc->rc = flusher_write(wc->f, wc->item);
}

static void destroy_one(void *arg)
{
    flusher_destroy(arg);
}

/* Returns the CLOCK_MONOTONIC time in ms (for upper bounds on rates only). Never blocks. */
static double mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Returns the condition waits the kit has woken without a signal so far. Never blocks. */
static long spurious_now(void)
{
    return tl_counts_now().cond_spurious;
}

/* Returns true once the kit has woken n condition waits without a signal in
 * all, false after tl_bound_s() (a thread that sleeps instead never gets
 * one). Blocks in poll(), 1 ms at a time. */
static bool await_spurious(long n)
{
    double t0 = mono_ms();
    while (spurious_now() < n) {
        if (mono_ms() - t0 > tl_bound_s() * 500) /* half the bound: checks may follow */
            return false;
        tl_idle_ms(1);
    }
    return true;
}

/* Fails the test, busy-wait first, unless every thread but the caller stays
 * quiet during an idle window (what: who should be blocked, and on what);
 * then slow-stop if any of them sleeps. Blocks for the window. */
static void expect_quiet(const char *what)
{
    struct tl_activity a = tl_watch_idle(IDLE_MS);
    tl_assert(!tl_activity_busy(&a), TL_BUSY_WAIT,
              "%s in %d ms while %s: a thread with nothing to do should block (in a condition "
              "wait) until it is woken, not poll or spin", tl_activity_str(&a), IDLE_MS, what);
    long sleeps = tl_counts_now().sleeps;
    tl_assert(sleeps == 0, TL_SLOW_STOP,
              "the flusher calls sleep/usleep/nanosleep (%ld times so far): a sleeping thread "
              "can be woken neither by flush_now nor by destroy", sleeps);
}

/* Write `item` on a helper thread; fail the test if that blocks (the sink is held at the gate). */
static void write_while_sink_runs(flusher *f, long item)
{
    struct write_call wc = {f, item, -1};
    tl_assert(tl_call_bounded(write_one, &wc), TL_DEADLOCK,
              "flusher_write blocked while the sink was running: the background thread must "
              "call the sink without holding the flusher's lock");
    tl_assert(wc.rc == 0, TL_WRONG, "flusher_write returned %d", wc.rc);
}

/* Returns once n threads are blocked in a condition wait (what: who they are);
 * if they never are, fails the test with busy-wait when they spin instead,
 * and returns after the bound when they do not (the checks that follow tell
 * what they did). Blocks for at most tl_bound_s() and an idle window. */
static void await_waiting(int n, const char *what)
{
    if (!tl_await_blocked_n(TL_ST_COND, n))
        expect_quiet(what);
}

/* Destroy f within the bound, then check the thread counts. */
static void destroy_bounded(flusher *f, struct sink *s)
{
    tl_assert(tl_call_bounded(destroy_one, f), TL_SLOW_STOP,
              "flusher_destroy did not return within %.1f s: it must wake the background "
              "thread (flag under the lock, then signal) rather than wait for its period",
              tl_bound_s());
    atomic_store(&s->destroyed, true);
    struct tl_counts c;
    tl_counts_get(&c);
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "%ld threads created, %ld joined: flusher_destroy must join the background thread",
              c.threads_created, c.threads_joined);
    tl_assert(atomic_load(&s->changed) == 0, TL_MEMORY,
              "the items of %ld batches changed while the sink was still reading them: the "
              "batch handed to the sink must stay untouched until it returns (a write that "
              "reallocs the buffer the sink reads frees it under the sink's feet)",
              atomic_load(&s->changed));
}

/* ------------------------------------------------------------------- tests */

TL_INTENT(flush_now_hands_over_everything_written_before_it,
          "flusher_flush_now wakes the background thread at once (even with a one-hour period) "
          "and returns only after the sink has every item written before it.");
TL_TEST(flush_now_hands_over_everything_written_before_it)
{
    uint64_t r = tl_input_seed();
    struct sink s;
    sink_init(&s, (long)(tl_rand(&r) % 1000) * STRIDE * NW, 0);
    flusher *f = flusher_create(HOUR_MS, sink_fn, &s);
    tl_assert(f != NULL, TL_WRONG, "flusher_create(one hour, sink, ctx) returned NULL");
    long n = 10 + (long)(tl_rand(&r) % 190), m = 1 + (long)(tl_rand(&r) % 50);
    for (long i = 0; i < n; i++)
        tl_assert(flusher_write(f, item_of(&s, 0, i)) == 0, TL_WRONG, "flusher_write failed");
    tl_await_blocked_n(TL_ST_TIMED, 1); /* the background thread waits out its hour */
    struct flush_call fc = {f, &s, -1};
    tl_assert(tl_call_bounded(flush_and_note, &fc), TL_LOST_WAKEUP,
              "flusher_flush_now did not return within %.1f s (period: one hour): it must wake "
              "the background thread, which must wake it back when the items are out",
              tl_bound_s());
    tl_assert(fc.seen == n, TL_WRONG,
              "flush_now returned when the sink had finished %ld of the %ld items written "
              "before it", fc.seen, n);
    long calls = atomic_load(&s.calls);
    flusher_flush_now(f); /* nothing new: must return at once, without calling the sink */
    tl_assert(atomic_load(&s.calls) == calls && atomic_load(&s.empty) == 0, TL_WRONG,
              "flush_now with nothing written since the last flush called the sink (sink calls "
              "with no items: %ld)", atomic_load(&s.empty));
    for (long i = 0; i < m; i++)
        tl_assert(flusher_write(f, item_of(&s, 0, n + i)) == 0, TL_WRONG, "flusher_write failed");
    fc.seen = -1;
    tl_assert(tl_call_bounded(flush_and_note, &fc), TL_LOST_WAKEUP,
              "the second flusher_flush_now did not return within %.1f s", tl_bound_s());
    tl_assert(fc.seen == n + m, TL_WRONG,
              "second flush_now returned when the sink had %ld of the %ld items", fc.seen, n + m);
    tl_assert(atomic_load(&s.disorder) == 0, TL_WRONG,
              "%ld items reached the sink out of order or twice", atomic_load(&s.disorder));
    tl_assert(atomic_load(&s.thread) > 0 && atomic_load(&s.foreign) == 0, TL_WRONG,
              "the sink must be called by the background thread only (not by flush_now's caller)");
    destroy_bounded(f, &s);
}

TL_INTENT(flush_now_waits_for_its_own_items,
          "A flush_now asked for while the sink is busy with an earlier batch waits for a later "
          "batch that holds its own items, not just for the one running.");
TL_TEST(flush_now_waits_for_its_own_items)
{
    uint64_t r = tl_input_seed();
    struct sink s;
    sink_init(&s, (long)(tl_rand(&r) % 1000) * STRIDE * NW, 2);
    flusher *f = flusher_create(HOUR_MS, sink_fn, &s);
    tl_assert(f != NULL, TL_WRONG, "flusher_create(one hour, sink, ctx) returned NULL");
    /* A writes item 0 and asks for a flush; the sink holds that batch at the gate. */
    tl_assert(flusher_write(f, item_of(&s, 0, 0)) == 0, TL_WRONG, "flusher_write failed");
    struct flush_call a = {f, &s, -1};
    struct tl_call *ca = tl_call_start(flush_and_note, &a);
    tl_assert(tl_sem_wait_bounded(&s.in_sink), TL_LOST_WAKEUP,
              "flush_now was called, but in %.1f s the background thread never called the sink "
              "(period: one hour): flush_now must wake it", tl_bound_s());
    /* B writes item 1, then asks for a flush while batch {0} is still in the sink. */
    write_while_sink_runs(f, item_of(&s, 0, 1));
    struct flush_call b = {f, &s, -1};
    struct tl_call *cb = tl_call_start(flush_and_note, &b);
    await_waiting(2, "two flush_now callers wait for a batch the sink holds");
    expect_quiet("two flush_now callers wait for a batch the sink holds");
    sem_post(&s.gate); /* batch {0} completes: wakes A, and B too */
    tl_assert(tl_sem_wait_bounded(&s.in_sink), TL_LOST_WAKEUP,
              "B asked for a flush while the sink ran, but the background thread never "
              "flushed B's item afterwards: a request made during a flush must not be lost");
    tl_idle_ms(20); /* batch {1} is held at the gate: B must still be waiting */
    sem_post(&s.gate);
    tl_assert(tl_call_finish(ca), TL_LOST_WAKEUP,
              "flush_now (A) did not return within %.1f s of its item reaching the sink",
              tl_bound_s());
    tl_assert(tl_call_finish(cb), TL_LOST_WAKEUP,
              "flush_now (B) did not return within %.1f s of its item reaching the sink",
              tl_bound_s());
    tl_assert(a.seen >= 1, TL_WRONG, "flush_now (A) returned before its item reached the sink");
    tl_assert(b.seen == 2, TL_WRONG,
              "flush_now (B) returned when the sink had finished %ld of the 2 items written "
              "before it: the wakeup for an earlier batch is not B's answer; wait in a `while` "
              "until everything up to B's ticket is flushed", b.seen);
    destroy_bounded(f, &s);
}

TL_INTENT(every_waiting_caller_is_released,
          "When several threads wait in flush_now, every one of them returns once its items have "
          "reached the sink.");
TL_TEST(every_waiting_caller_is_released)
{
    uint64_t r = tl_input_seed();
    struct sink s;
    sink_init(&s, (long)(tl_rand(&r) % 1000) * STRIDE * NW, 1);
    flusher *f = flusher_create(HOUR_MS, sink_fn, &s);
    tl_assert(f != NULL, TL_WRONG, "flusher_create(one hour, sink, ctx) returned NULL");
    tl_assert(flusher_write(f, item_of(&s, 0, 0)) == 0, TL_WRONG, "flusher_write failed");
    struct flush_call fc[3] = {{f, &s, -1}, {f, &s, -1}, {f, &s, -1}};
    struct tl_call *c[3];
    c[0] = tl_call_start(flush_and_note, &fc[0]);
    tl_assert(tl_sem_wait_bounded(&s.in_sink), TL_LOST_WAKEUP,
              "flush_now was called, but in %.1f s the background thread never called the sink "
              "(period: one hour): flush_now must wake it", tl_bound_s());
    write_while_sink_runs(f, item_of(&s, 0, 1));
    for (int i = 1; i < 3; i++) {
        c[i] = tl_call_start(flush_and_note, &fc[i]);
        await_waiting(i + 1, "flush_now callers wait for a batch the sink holds");
    }
    sem_post(&s.gate); /* three callers wait; two more batches at most will follow */
    for (int i = 0; i < 3; i++)
        tl_assert(tl_call_finish(c[i]), TL_LOST_WAKEUP,
                  "flush_now caller %d of 3 was still blocked %.1f s after its items reached "
                  "the sink: when a flush completes, wake every waiting caller (broadcast), "
                  "each checks its own ticket", i + 1, tl_bound_s());
    tl_assert(fc[0].seen >= 1 && fc[1].seen == 2 && fc[2].seen == 2, TL_WRONG,
              "flush_now returned too early (the sink had %ld, %ld, %ld items; wanted 1, 2, 2)",
              fc[0].seen, fc[1].seen, fc[2].seen);
    destroy_bounded(f, &s);
}

TL_INTENT(writes_do_not_wait_for_the_sink,
          "flusher_write returns while the sink is still busy: writers add to a buffer and never "
          "wait for the slow sink.");
TL_TEST(writes_do_not_wait_for_the_sink)
{
    uint64_t r = tl_input_seed();
    struct sink s;
    sink_init(&s, (long)(tl_rand(&r) % 1000) * STRIDE * NW, 1);
    flusher *f = flusher_create(HOUR_MS, sink_fn, &s);
    tl_assert(f != NULL, TL_WRONG, "flusher_create(one hour, sink, ctx) returned NULL");
    tl_assert(flusher_write(f, item_of(&s, 0, 0)) == 0, TL_WRONG, "flusher_write failed");
    struct flush_call a = {f, &s, -1};
    struct tl_call *ca = tl_call_start(flush_and_note, &a);
    tl_assert(tl_sem_wait_bounded(&s.in_sink), TL_LOST_WAKEUP,
              "flush_now was called, but in %.1f s the background thread never called the sink",
              tl_bound_s());
    long k = 100 + (long)(tl_rand(&r) % 300); /* enough to make any buffer grow */
    for (long i = 1; i <= k; i++)
        write_while_sink_runs(f, item_of(&s, 0, i));
    sem_post(&s.gate);
    tl_assert(tl_call_finish(ca), TL_LOST_WAKEUP, "flush_now did not return within %.1f s",
              tl_bound_s());
    destroy_bounded(f, &s);
    tl_assert(atomic_load(&s.received) == k + 1 && atomic_load(&s.disorder) == 0, TL_WRONG,
              "the sink got %ld items (%ld out of order); %ld were written",
              atomic_load(&s.received), atomic_load(&s.disorder), k + 1);
}

struct writer {
    flusher *f;
    struct sink *s;
    int w;
    long n;          /* items to write */
    uint64_t rng;
    int index;       /* tl_note_worker() of this writer */
    long stale;      /* flush_now returns that left some of ours behind */
    long flushes;
    int failed;
    pthread_t th;
    sem_t done;
};

static void *writer_main(void *arg)
{
    struct writer *wr = arg;
    wr->index = tl_note_worker();
    for (long i = 0; i < wr->n; i++) {
        if (flusher_write(wr->f, item_of(wr->s, wr->w, i)) != 0)
            wr->failed++;
        if (tl_rand(&wr->rng) % 8 == 0) {
            flusher_flush_now(wr->f);
            wr->flushes++;
            if (atomic_load(&wr->s->next[wr->w]) != i + 1)
                wr->stale++;
        }
    }
    sem_post(&wr->done);
    return NULL;
}

TL_INTENT(many_writers_and_flushes,
          "Many threads writing and flushing at once lose no item, and each flush_now returns "
          "only after that thread's own items reached the sink.");
TL_TEST(many_writers_and_flushes)
{
    uint64_t r = tl_input_seed();
    struct sink s;
    sink_init(&s, (long)(tl_rand(&r) % 1000) * STRIDE * NW, 0);
    flusher *f = flusher_create(1, sink_fn, &s);
    tl_assert(f != NULL, TL_WRONG, "flusher_create(1, sink, ctx) returned NULL");
    static struct writer wr[NW];
    long total = 0;
    for (int w = 0; w < NW; w++) {
        wr[w] = (struct writer){.f = f, .s = &s, .w = w, .n = 100 + (long)(tl_rand(&r) % 200)};
        wr[w].rng = tl_rand(&r);
        total += wr[w].n;
        sem_init(&wr[w].done, 0, 0);
        ck_assert(pthread_create(&wr[w].th, NULL, writer_main, &wr[w]) == 0);
    }
    int stuck = -1;
    for (int w = 0; w < NW; w++) { /* settle every writer before any assertion */
        /* One bound in all: once a writer is stuck, only look at the others. */
        if (stuck < 0 ? tl_sem_wait_bounded(&wr[w].done) : sem_trywait(&wr[w].done) == 0) {
            ck_assert(pthread_join(wr[w].th, NULL) == 0);
        } else {
            pthread_detach(wr[w].th);
            stuck = w;
        }
    }
    tl_assert(stuck < 0, TL_LOST_WAKEUP,
              "writer %d was still blocked (in flusher_flush_now?) after %.1f s", stuck,
              tl_bound_s());
    for (int w = 0; w < NW; w++) {
        tl_assert(wr[w].failed == 0, TL_WRONG, "flusher_write failed %d times", wr[w].failed);
        tl_assert(wr[w].stale == 0, TL_WRONG,
                  "writer %d: %ld of its %ld flush_now calls returned before all of its items "
                  "had reached the sink", w, wr[w].stale, wr[w].flushes);
    }
    destroy_bounded(f, &s);
    tl_assert(atomic_load(&s.overlaps) == 0, TL_WRONG,
              "the sink was called while another call of it was running");
    tl_assert(atomic_load(&s.disorder) == 0, TL_WRONG,
              "%ld items reached the sink out of order or twice", atomic_load(&s.disorder));
    tl_assert(atomic_load(&s.received) == total, TL_WRONG,
              "%ld items written, the sink got %ld", total, atomic_load(&s.received));
    int st = atomic_load(&s.thread);
    bool is_writer = false;
    for (int w = 0; w < NW; w++)
        is_writer |= st == wr[w].index;
    tl_assert(st > 0 && !is_writer && atomic_load(&s.foreign) == 0, TL_WRONG,
              "the sink must be called by the background thread only (not by writers)");
    tl_assert(atomic_load(&s.empty) == 0, TL_WRONG, "the sink was called with no items %ld times",
              atomic_load(&s.empty));
    struct tl_counts c;
    tl_counts_get(&c);
    /* NW writers, the test's helper that called destroy, and the flusher's own thread. */
    tl_assert(c.threads_created == NW + 2, TL_WRONG,
              "the flusher created %ld threads; expected one", c.threads_created - NW - 1);
}

TL_INTENT(destroy_flushes_the_rest_and_stops_promptly,
          "flusher_destroy hands what is left to the sink, wakes the background thread at once "
          "(even with a one-hour period) and joins it.");
TL_TEST(destroy_flushes_the_rest_and_stops_promptly)
{
    uint64_t r = tl_input_seed();
    struct sink s;
    sink_init(&s, (long)(tl_rand(&r) % 1000) * STRIDE * NW, 0);
    long before = spurious_now();
    tl_spurious_set(1000); /* every condition wait returns at once, without a signal */
    flusher *f = flusher_create(HOUR_MS, sink_fn, &s);
    tl_assert(f != NULL, TL_WRONG, "flusher_create(one hour, sink, ctx) returned NULL");
    long n = 1 + (long)(tl_rand(&r) % 300);
    for (long i = 0; i < n; i++)
        tl_assert(flusher_write(f, item_of(&s, 0, i)) == 0, TL_WRONG, "flusher_write failed");
    before = spurious_now();
    await_spurious(before + 3); /* wake-ups after the writes */
    tl_spurious_set(0);
    tl_await_blocked_n(TL_ST_COUNT, 1);
    expect_quiet("the background thread waits out a one-hour period with nothing asked");
    tl_assert(atomic_load(&s.calls) == 0, TL_WRONG,
              "with a one-hour period and no flush_now, the sink was called before destroy "
              "(after %ld spurious wake-ups): a wait may return without a signal; wait in a "
              "`while` over the reasons to wake up (period over, request, stop), not an `if`",
              spurious_now() - before);
    destroy_bounded(f, &s);
    tl_assert(atomic_load(&s.received) == n && atomic_load(&s.disorder) == 0, TL_WRONG,
              "flusher_destroy must pass what is left to the sink: it got %ld of %ld items "
              "(%ld out of order)", atomic_load(&s.received), n, atomic_load(&s.disorder));
    tl_idle_ms(2);
    tl_assert(atomic_load(&s.late) == 0, TL_WRONG, "the sink was called after flusher_destroy");
}

TL_INTENT(timer_flushes_at_most_once_per_period,
          "The background thread wakes by itself at most once per period: a timed wait with a "
          "deadline, not a loop that wakes early again and again.");
TL_TEST(timer_flushes_at_most_once_per_period)
{
    uint64_t r = tl_input_seed();
    struct sink s;
    sink_init(&s, (long)(tl_rand(&r) % 1000) * STRIDE * NW, 0);
    long period = 2 + (long)(tl_rand(&r) % 3);
    flusher *f = flusher_create(period, sink_fn, &s);
    tl_assert(f != NULL, TL_WRONG, "flusher_create(%ld, sink, ctx) returned NULL", period);
    tl_await_blocked_n(TL_ST_TIMED, 1);
    long before = tl_counts_now().cond_timeouts;
    double t0 = mono_ms();
    tl_idle_ms(RATE_MS);
    long timeouts = tl_counts_now().cond_timeouts - before;
    double ms = mono_ms() - t0;
    /* An upper bound only: each time-out ends one period, and the next deadline is
     * a whole period later (+2: the periods under way at either end). */
    long most = (long)(ms / (double)period) + 2;
    tl_assert(timeouts <= most, TL_BUSY_WAIT,
              "the background thread's timed waits timed out %ld times in %.1f ms with a %ld ms "
              "period (at most %ld fit): compute a new deadline, one period on, after each "
              "time-out", timeouts, ms, period, most);
    destroy_bounded(f, &s);
}

/* Returns true if flusher_create failed as the contract says under the fault
 * armed by the caller (NULL, errno err, no thread started, nothing leaked);
 * fails the test otherwise. Returns false if the fault never fired. */
static bool create_fails_cleanly(enum tl_fault kind, int err, const char *what, struct sink *s)
{
    struct tl_counts b = tl_counts_now();
    tl_fault_nth(kind, 1, err);
    errno = 0;
    flusher *f = flusher_create(HOUR_MS, sink_fn, s);
    int got = errno;
    bool fired = tl_fault_fired(kind);
    tl_fault_nth(kind, 0, 0);
    struct tl_counts c = tl_counts_now();
    if (!fired) {
        if (f != NULL)
            destroy_bounded(f, s);
        return false;
    }
    tl_assert(f == NULL, TL_ERROR_PATH,
              "%s inside flusher_create, yet it returned a flusher: it must return NULL", what);
    tl_assert(got == err, TL_ERROR_PATH,
              "%s inside flusher_create: it returned NULL with errno %d (%s); the contract "
              "says %d (%s)", what, got, strerror(got), err, strerror(err));
    tl_assert(c.threads_created == b.threads_created, TL_ERROR_PATH,
              "%s inside flusher_create, yet a thread was started", what);
    tl_assert(c.heap_allocs - b.heap_allocs <= c.heap_frees - b.heap_frees, TL_MEMORY,
              "%s inside flusher_create: it made %ld allocations but freed %ld; free what was "
              "allocated before returning NULL", what, c.heap_allocs - b.heap_allocs,
              c.heap_frees - b.heap_frees);
    return true;
}

TL_INTENT(failures_are_reported_and_leave_nothing_behind,
          "Bad arguments give EINVAL, and a failed allocation or thread creation is reported "
          "with nothing left allocated or running.");
TL_TEST(failures_are_reported_and_leave_nothing_behind)
{
    uint64_t r = tl_input_seed();
    struct sink s;
    sink_init(&s, (long)(tl_rand(&r) % 1000) * STRIDE * NW, 0);
    flusher *ok = flusher_create(HOUR_MS, sink_fn, &s); /* first: it works at all */
    tl_assert(ok != NULL, TL_WRONG, "flusher_create(one hour, sink, ctx) returned NULL");
    destroy_bounded(ok, &s);
    errno = 0;
    tl_assert(flusher_create(0, sink_fn, &s) == NULL && errno == EINVAL, TL_ERROR_PATH,
              "flusher_create(0, sink, ctx) must return NULL with errno EINVAL");
    tl_assert(flusher_create(5, NULL, &s) == NULL && errno == EINVAL, TL_ERROR_PATH,
              "flusher_create(5, NULL, ctx) must return NULL with errno EINVAL");
    create_fails_cleanly(TL_FAULT_CREATE, EAGAIN, "pthread_create failed with EAGAIN", &s);
    create_fails_cleanly(TL_FAULT_MALLOC, ENOMEM, "malloc failed", &s);
    flusher *f = flusher_create(HOUR_MS, sink_fn, &s);
    tl_assert(f != NULL, TL_WRONG, "flusher_create(one hour, sink, ctx) returned NULL");
    /* A write whose buffer cannot grow appends nothing and says ENOMEM. */
    long n = 0, refused = 0;
    for (int round = 0; round < 3; round++) {
        tl_fault_nth(TL_FAULT_MALLOC, 1, 0);
        long tries = 0;
        while (!tl_fault_fired(TL_FAULT_MALLOC) && tries++ < 1000) {
            int rc = flusher_write(f, item_of(&s, 0, n));
            if (tl_fault_fired(TL_FAULT_MALLOC)) {
                tl_assert(rc == ENOMEM, TL_ERROR_PATH,
                          "flusher_write returned %d when its buffer could not grow (malloc or "
                          "realloc failed); the contract says ENOMEM, with nothing appended", rc);
                refused++;
            } else {
                tl_assert(rc == 0, TL_WRONG, "flusher_write returned %d", rc);
                n++;
            }
        }
        tl_fault_nth(TL_FAULT_MALLOC, 0, 0);
        /* One write that succeeds, so the next round fails where the buffer grows. */
        tl_assert(flusher_write(f, item_of(&s, 0, n)) == 0, TL_ERROR_PATH,
                  "flusher_write failed after a refused write: one failed allocation must "
                  "leave the flusher usable");
        n++;
    }
    for (long i = 0; i < 10; i++, n++)
        tl_assert(flusher_write(f, item_of(&s, 0, n)) == 0, TL_WRONG, "flusher_write failed");
    struct flush_call fc = {f, &s, -1};
    tl_assert(tl_call_bounded(flush_and_note, &fc), TL_LOST_WAKEUP,
              "flusher_flush_now did not return within %.1f s", tl_bound_s());
    tl_assert(fc.seen >= n || atomic_load(&s.disorder) != 0, TL_WRONG,
              "flush_now returned when the sink had %ld of the %ld items written before it "
              "(%ld writes were refused): it must wait, in a `while`, until they are all flushed",
              fc.seen, n, refused);
    tl_assert(fc.seen == n && atomic_load(&s.disorder) == 0, TL_ERROR_PATH,
              "%ld writes succeeded and %ld were refused (ENOMEM), but the sink got %ld items "
              "(%ld out of order or twice): a refused write must append nothing", n, refused,
              fc.seen, atomic_load(&s.disorder));
    destroy_bounded(f, &s);
}

static const struct tl_test tl_tests[] = {
    TL_RUN(flush_now_hands_over_everything_written_before_it),
    TL_RUN(flush_now_waits_for_its_own_items),
    TL_RUN(every_waiting_caller_is_released),
    TL_RUN(writes_do_not_wait_for_the_sink),
    TL_RUN(many_writers_and_flushes),
    TL_RUN(destroy_flushes_the_rest_and_stops_promptly),
    TL_RUN(timer_flushes_at_most_once_per_period),
    TL_RUN(failures_are_reported_and_leave_nothing_behind),
};

TL_MAIN("03-background-thread/flusher")
