/*
 * test_spinlock.c - tests for chapters/07-atomics/spinlock.c.
 *
 * What it shows: how to test a lock that never blocks in the kernel. The
 * data the lock guards is plain memory (never atomic), so a lock whose
 * orderings do not order the critical sections leaves two plain accesses
 * unordered, which ThreadSanitizer reports even when the answer came out
 * right; and a lock that lets two threads in at once loses increments,
 * which the count shows in every pass.
 *
 * DESIGN: a thread waiting in spin_lock() is running, not blocked, so the
 * kit's wrappers cannot see it wait and a lock that is never released would
 * only end at the watchdog. So every call that might never return is made on
 * a helper thread (tl_call_start) or watched for progress: the test waits
 * with a bound, and a lock that nobody can take any more is reported as a
 * deadlock, at once, with what the threads were doing. The test's own
 * bookkeeping uses only relaxed atomics and unwrapped calls
 * (__real_sched_yield, poll): a seq_cst counter shared by the threads would
 * order their critical sections by itself and hide a missing acquire.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "spinlock.h"

/* What the lock guards: plain memory. Invariant (under the lock): twice == 2 * count. */
struct guarded {
    long count, twice;
    uint64_t mix;
};

/* ------------------------------------------------------ one thread, no contention */

struct one {
    spinlock s;
    atomic_int step;      /* how far the helper got: a call that never returned stops it */
    atomic_bool first, again, after, held_try;
};

/* The single-thread sequence, run on a helper so that a lock that stays held
 * cannot hang the test. */
static void one_thread(void *p)
{
    struct one *o = p;
    spin_init(&o->s);
    atomic_store(&o->first, spin_trylock(&o->s));   /* free: must succeed */
    atomic_store(&o->again, spin_trylock(&o->s));   /* held by us: must fail */
    atomic_store(&o->step, 1);
    spin_unlock(&o->s);
    atomic_store(&o->after, spin_trylock(&o->s));   /* released: must succeed */
    spin_unlock(&o->s);
    atomic_store(&o->step, 2);
    spin_lock(&o->s);
    spin_unlock(&o->s);
    atomic_store(&o->step, 3);
    spin_lock(&o->s);
    atomic_store(&o->held_try, spin_trylock(&o->s)); /* held by spin_lock: must fail */
    spin_unlock(&o->s);
    atomic_store(&o->step, 4);
}

TL_INTENT(trylock_lock_and_unlock_on_one_thread,
          "On one thread, spin_trylock takes a free lock, fails on a held one, and spin_unlock "
          "makes it free again.");
TL_TEST(trylock_lock_and_unlock_on_one_thread)
{
    spinlock st = SPINLOCK_INIT;
    tl_assert(spin_trylock(&st), TL_WRONG, "spin_trylock on a lock made with SPINLOCK_INIT returned false");
    struct one o = {.step = 0};
    bool returned = tl_call_bounded(one_thread, &o);
    int step = atomic_load(&o.step);
    tl_assert(returned || step >= 2, TL_DEADLOCK,
              "on one thread: spin_trylock, spin_unlock, then spin_trylock again did not come back: "
              "the unlock did not release the lock (step %d)", step);
    tl_assert(returned, TL_DEADLOCK,
              "on one thread: spin_lock on a lock that had just been released never returned: the "
              "unlock did not release it (step %d of 4)", step);
    tl_assert(atomic_load(&o.first), TL_WRONG, "spin_trylock on a free lock returned false");
    tl_assert(!atomic_load(&o.again), TL_WRONG,
              "spin_trylock on a lock the caller holds returned true: two holders at once");
    tl_assert(atomic_load(&o.after), TL_DEADLOCK,
              "spin_trylock after spin_unlock returned false: the unlock did not release the lock");
    tl_assert(!atomic_load(&o.held_try), TL_WRONG,
              "spin_trylock on a lock taken with spin_lock returned true: spin_lock did not take it");
}

/* ------------------------------------------ a waiter, and what the holder wrote */

struct waiter {
    spinlock *s;
    struct guarded *g;
    atomic_int started, got;
    long seen_count, seen_twice; /* the helper's own: read by the test only after it returned */
    uint64_t seen_mix;
};

static void take_and_read(void *p)
{
    struct waiter *w = p;
    atomic_store_explicit(&w->started, 1, memory_order_relaxed);
    spin_lock(w->s);
    atomic_store_explicit(&w->got, 1, memory_order_relaxed);
    w->seen_count = w->g->count; /* plain reads: ordered only by the lock */
    w->seen_twice = w->g->twice;
    w->seen_mix = w->g->mix;
    w->g->count++;
    spin_unlock(w->s);
}

TL_INTENT(lock_waits_for_the_holder_and_sees_its_writes,
          "spin_lock waits while another thread holds the lock, gets it after the unlock, and "
          "sees everything the holder wrote.");
/* snippet: waits_and_sees */
TL_TEST(lock_waits_for_the_holder_and_sees_its_writes)
{
    uint64_t rs = tl_input_seed();
    spinlock s;
    spin_init(&s);
    struct guarded g = {0, 0, 0};
    spin_lock(&s);
    struct waiter w = {.s = &s, .g = &g};
    struct tl_call *c = tl_call_start(take_and_read, &w);
    tl_await_at_least(&w.started, 1);
    for (int i = 0; i < 20 && !atomic_load_explicit(&w.got, memory_order_relaxed); i++)
        tl_idle_ms(1); /* the helper spins in spin_lock() meanwhile */
    tl_assert(!atomic_load_explicit(&w.got, memory_order_relaxed), TL_WRONG,
              "spin_lock returned while another thread held the lock");
    /* Written while the helper waits: only the unlock's release, paired with
     * the acquire in the helper's spin_lock(), orders these before its reads. */
    long v = 1 + (long)(tl_rand(&rs) % 1000000);
    g.count = v;
    g.twice = 2 * v;
    g.mix = tl_rand(&rs);
    uint64_t mix = g.mix;
    spin_unlock(&s);
    tl_assert(tl_call_finish(c), TL_DEADLOCK,
              "a thread waiting in spin_lock never got the lock after its holder called spin_unlock: "
              "the lock stayed held");
    tl_assert(w.seen_count == v && w.seen_twice == 2 * v && w.seen_mix == mix, TL_WRONG,
              "the next holder saw count %ld, twice %ld (want %ld, %ld): the holder's writes were "
              "not visible after the lock changed hands", w.seen_count, w.seen_twice, v, 2 * v);
    tl_assert(g.count == v + 1, TL_WRONG, "the next holder's write was lost");
}
/* end snippet: waits_and_sees */

/* ------------------------------------------------------ counting under contention */

enum { THREADS = 4 };

struct shared {
    spinlock s;
    struct guarded g;
    long per_thread;
    atomic_bool stop; /* relaxed: set by the test after a stall, so that the threads can be joined */
};

struct worker {
    alignas(64) struct shared *sh;
    int id;
    atomic_long done;   /* iterations finished: relaxed, read by the test to see progress */
    long overlaps;      /* the worker's own count of broken invariants (read after join) */
    long tries_won;
};

static void *hammer(void *p)
{
    struct worker *w = p;
    struct shared *sh = w->sh;
    for (long i = 0; i < sh->per_thread; i++) {
        if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
            break;
        bool mine = (i & 15) == 0 && spin_trylock(&sh->s);
        if (!mine)
            spin_lock(&sh->s);
        else
            w->tries_won++;
        /* The critical section: plain reads and writes of the guarded data. */
        if (sh->g.twice != 2 * sh->g.count)
            w->overlaps++;
        long c = sh->g.count;
        sh->g.mix = sh->g.mix * 31 + (uint64_t)w->id;
        sh->g.twice = 2 * (c + 1);
        sh->g.count = c + 1;
        spin_unlock(&sh->s);
        atomic_store_explicit(&w->done, i + 1, memory_order_relaxed);
    }
    return NULL;
}

/* Returns the iterations done by all workers so far. */
static long done_now(struct worker *w, int n)
{
    long sum = 0;
    for (int i = 0; i < n; i++)
        sum += atomic_load_explicit(&w[i].done, memory_order_relaxed);
    return sum;
}

/* Returns true once every worker finished, false when none made progress for
 * tl_bound_s() (a lock nobody can take any more); blocks in poll(). */
static bool await_done_or_stall(struct worker *w, int n, long want)
{
    long last = -1;
    double since = tl_mono_s();
    for (;;) {
        long now = done_now(w, n);
        if (now >= want)
            return true;
        if (now != last) {
            last = now;
            since = tl_mono_s();
        } else if (tl_mono_s() - since > tl_bound_s()) {
            return false;
        }
        tl_idle_ms(2);
    }
}

TL_INTENT(counter_exact_under_contention,
          "A counter incremented under the lock by many threads at once ends exactly right: no "
          "two threads are ever inside together.");
TL_TEST(counter_exact_under_contention)
{
    uint64_t rs = tl_input_seed();
    static struct shared sh;
    static struct worker w[THREADS];
    spin_init(&sh.s);
    sh.g = (struct guarded){0, 0, 0};
    sh.per_thread = 30000 + (long)(tl_rand(&rs) % 10000);
    atomic_store(&sh.stop, false);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].sh = &sh;
        w[i].id = i;
        atomic_store(&w[i].done, 0);
        w[i].overlaps = w[i].tries_won = 0;
        tl_check_rc(pthread_create(&th[i], NULL, hammer, &w[i]), "pthread_create");
    }
    long want = THREADS * sh.per_thread;
    bool finished = await_done_or_stall(w, THREADS, want);
    long at = done_now(w, THREADS);
    tl_assert(finished, TL_DEADLOCK,
              "%d threads taking the lock %ld times each stopped after %ld acquisitions: the lock "
              "stayed held, and every thread spins in spin_lock for good", THREADS, sh.per_thread, at);
    for (int i = 0; i < THREADS; i++)
        tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
    long overlaps = 0, won = 0;
    for (int i = 0; i < THREADS; i++) {
        overlaps += w[i].overlaps;
        won += w[i].tries_won;
    }
    tl_assert(overlaps == 0 && sh.g.count == want, TL_WRONG,
              "%d threads incremented a counter under the lock %ld times each: it reads %ld (want "
              "%ld), and %ld critical sections found another one half done: two threads held the "
              "lock at once", THREADS, sh.per_thread, sh.g.count, want, overlaps);
    tl_assert(won > 0, TL_WRONG, "spin_trylock never succeeded in %ld tries", want / 16);
}

static const struct tl_test tl_tests[] = {
    TL_RUN(trylock_lock_and_unlock_on_one_thread),
    TL_RUN(lock_waits_for_the_holder_and_sees_its_writes),
    TL_RUN(counter_exact_under_contention),
};
TL_MAIN("07-atomics/spinlock")
