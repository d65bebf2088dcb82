/*
 * test_deque.c - tests for chapters/08-work-stealing/deque.c.
 *
 * What it shows: how to test a work-stealing deque by what must hold on every
 * run. On one thread the deque is compared with a model (a plain stack) over
 * random pushes and pops, through growth and many empty pops. On several
 * threads one owner pushes and pops while three thieves steal, and every task
 * must come out exactly once: each task has its own counter of how often it
 * was taken, and a record the owner wrote just before pushing it, which the
 * taker checks.
 *
 * DESIGN: the records are plain memory, so only the deque's own orderings (the
 * release store of bottom, the acquire loads in steal) order the owner's
 * writes before a thief's reads; ThreadSanitizer reports a steal that misses
 * them. The test's own bookkeeping orders nothing: counters are relaxed
 * atomics, and the threads back off with the unwrapped __real_sched_yield (the
 * kit's wrappers count with seq_cst atomics, which would order the threads by
 * themselves). The owner pushes in bursts from a small starting capacity, so
 * the deque grows while thieves are reading it, and pops down to empty often,
 * so that owner and thieves race for the last task again and again.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "deque.h"


static deque *make_deque(unsigned log2cap)
{
    errno = 0;
    deque *d = deque_create(log2cap);
    tl_assert(d != NULL, TL_WRONG, "deque_create(%u) returned NULL (errno %d)", log2cap, errno);
    /* Every test starts by emptying an empty deque from both ends: a pop that
     * takes bottom below top must put it back (signed indices), or the tests
     * below would run into a deque with 4 billion phantom tasks. */
    for (int k = 0; k < 2; k++) {
        void *out = NULL, *v = deque_pop(d);
        tl_assert(v == NULL, TL_WRONG, "pop %d from a new, empty deque returned %p, want NULL", k + 1, v);
        enum deque_steal_result r = deque_steal(d, &out);
        tl_assert(r == DEQUE_EMPTY, TL_WRONG, "steal after %d pop(s) from an empty deque returned %d, "
                  "want DEQUE_EMPTY (%d): the pop left the deque looking non-empty", k + 1, (int)r,
                  (int)DEQUE_EMPTY);
    }
    return d;
}

/* ---------------------------------------------------------------- one thread */

TL_INTENT(create_checks_its_size_and_destroy_frees_every_buffer,
          "deque_create rejects a bad size with EINVAL, the deque grows as tasks are pushed, and "
          "deque_destroy frees every buffer it grew into.");
TL_TEST(create_checks_its_size_and_destroy_frees_every_buffer)
{
    errno = 0;
    deque *bad = deque_create(31);
    int e = errno;
    tl_assert(bad == NULL && e == EINVAL, TL_WRONG,
              "deque_create(31) must return NULL with errno EINVAL, got %p and errno %d", (void *)bad, e);
    /* Grow from 1 slot to 2^12 and back: every buffer ever used is freed by destroy. */
    struct tl_counts c0 = tl_counts_now();
    deque *d = make_deque(0);
    static int item[5000];
    for (int i = 0; i < 5000; i++)
        tl_assert(deque_push(d, &item[i]), TL_WRONG, "push %d failed (errno %d)", i, errno);
    for (int i = 4999; i >= 0; i--) {
        void *v = deque_pop(d);
        tl_assert(v == &item[i], TL_WRONG, "after 5000 pushes into a deque that grew from one slot, pop "
               "%d gave %p, want %p (the task pushed last)", 4999 - i, v, (void *)&item[i]);
    }
    deque_destroy(d);
    struct tl_counts c1 = tl_counts_now();
    long kept = tl_heap_kept(&c0, &c1);
    tl_assert(kept <= 0, TL_MEMORY,
              "a deque that grew 13 times, then deque_destroy: %ld block(s) never freed (every old "
              "buffer must be freed by destroy)", kept);
    for (long nth = 1; nth <= 3; nth++) {
        c0 = tl_counts_now();
        tl_fault_nth(TL_FAULT_MALLOC, nth, 0);
        errno = 0;
        d = deque_create(4);
        e = errno;
        bool fired = tl_fault_fired(TL_FAULT_MALLOC);
        tl_fault_nth(TL_FAULT_MALLOC, 0, 0);
        if (fired)
            tl_assert(d == NULL && e == ENOMEM, TL_ERROR_PATH,
                      "allocation %ld in deque_create failed, but it returned %p with errno %d; want "
                      "NULL and ENOMEM", nth, (void *)d, e);
        else
            tl_assert(d != NULL, TL_WRONG, "deque_create(4) returned NULL (errno %d)", e);
        deque_destroy(d);
        c1 = tl_counts_now();
        kept = tl_heap_kept(&c0, &c1);
        tl_assert(kept <= 0, TL_MEMORY, "deque_create with allocation %ld failing, then "
                  "deque_destroy: %ld block(s) never freed", nth, kept);
        if (!fired)
            break;
    }
}

TL_INTENT(matches_a_stack_through_growth_and_empty_pops,
          "On one thread, push and pop behave like a plain stack, through growth and through "
          "pops past empty.");
/* snippet: model */
TL_TEST(matches_a_stack_through_growth_and_empty_pops)
{
    uint64_t rs = tl_input_seed();
    enum { MAXN = 4096 };
    static uintptr_t model[MAXN]; /* the model: a plain stack */
    for (unsigned log2 = 0; log2 <= 4; log2++) {
        deque *d = make_deque(log2);
        size_t n = 0;
        uintptr_t next = (uintptr_t)(tl_rand(&rs) % 1000) * 8 + 8;
        for (int op = 0; op < 40000; op++) {
            /* Long runs of pushes (growth), then runs of pops down past empty. */
            bool push = (op / 300) % 2 == 0 ? tl_rand(&rs) % 4 != 0 : tl_rand(&rs) % 4 == 0;
            if (push && n < MAXN) {
                tl_assert(deque_push(d, (void *)next), TL_WRONG, "push failed (errno %d)", errno);
                model[n++] = next;
                next += 8;
            } else {
                void *v = deque_pop(d);
                void *want = n > 0 ? (void *)model[n - 1] : NULL;
                tl_assert(v == want, TL_WRONG, "deque of %zu tasks (created with 2^%u slots), operation "
                       "%d: pop gave %p, want %p%s", n, log2, op, v, want,
                       n == 0 ? " (it was empty)" : " (the task pushed last)");
                if (n > 0)
                    n--;
            }
        }
        deque_destroy(d);
    }
}
/* end snippet: model */

TL_INTENT(steal_takes_the_oldest_and_pop_the_newest,
          "steal takes the oldest task and pop the newest, and an empty deque gives DEQUE_EMPTY "
          "or NULL and stays empty.");
TL_TEST(steal_takes_the_oldest_and_pop_the_newest)
{
    uint64_t rs = tl_input_seed();
    static int item[64];
    deque *d = make_deque(1);
    void *out = NULL;
    tl_assert(deque_steal(d, &out) == DEQUE_EMPTY, TL_WRONG, "steal from a new deque: want DEQUE_EMPTY");
    tl_assert(deque_pop(d) == NULL, TL_WRONG, "pop from a new deque: want NULL");
    tl_assert(deque_pop(d) == NULL, TL_WRONG, "a second pop from an empty deque: want NULL");
    tl_assert(deque_steal(d, &out) == DEQUE_EMPTY, TL_WRONG,
              "steal after two empty pops: want DEQUE_EMPTY (pop must leave an empty deque empty)");
    int n = 8 + (int)(tl_rand(&rs) % 40);
    for (int i = 0; i < n; i++)
        tl_assert(deque_push(d, &item[i]), TL_WRONG, "push failed");
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        if (tl_rand(&rs) % 2) {
            enum deque_steal_result r = deque_steal(d, &out);
            tl_assert(r == DEQUE_OK && out == &item[lo], TL_WRONG,
                      "steal with %d tasks left (no other thread): got %d and %p, want DEQUE_OK and "
                      "%p (the oldest)", hi - lo + 1, (int)r, out, (void *)&item[lo]);
            lo++;
        } else {
            void *v = deque_pop(d);
            tl_assert(v == &item[hi], TL_WRONG, "pop with %d tasks left: got %p, want %p (the newest)",
                      hi - lo + 1, v, (void *)&item[hi]);
            hi--;
        }
    }
    tl_assert(deque_pop(d) == NULL, TL_WRONG, "pop after every task was taken: want NULL");
    tl_assert(deque_steal(d, &out) == DEQUE_EMPTY, TL_WRONG, "steal after every task was taken");
    tl_assert(deque_push(d, &item[0]) && deque_pop(d) == &item[0], TL_WRONG,
              "push then pop after the deque was emptied by both ends");
    deque_destroy(d);
}

/* ------------------------------------------------------------- many threads */

/* A task: the owner writes seq and check (plain) just before pushing it. */
struct task {
    long seq;
    uint64_t check;
};

enum { THIEVES = 3 };

struct run {
    deque *d;
    struct task *task;
    atomic_int *taken;          /* per task: how often it came out (relaxed) */
    long n;
    bool small;                 /* bursts of 1 to 3 tasks, each popped down to empty */
    uint64_t key;
    atomic_bool owner_done;     /* relaxed: the owner pushed everything and emptied its end */
    atomic_long progress;       /* relaxed: tasks taken so far, for the watcher */
    atomic_bool stop;           /* relaxed: the test gave up */
    atomic_long bad, bad_seq;   /* relaxed: records that were wrong when taken */
    atomic_long by_thieves;
};

static uint64_t check_of(uint64_t key, long i)
{
    uint64_t z = key ^ ((uint64_t)i * 0x9E3779B97F4A7C15ull);
    return z ^ (z >> 29);
}

/* Counts one taking of v and checks its record (plain reads: ordered after
 * the owner's writes only by the deque). */
static void took(struct run *r, void *v)
{
    struct task *t = v;
    long i = t - r->task;
    if (i < 0 || i >= r->n) {
        if (atomic_fetch_add_explicit(&r->bad, 1, memory_order_relaxed) == 0)
            atomic_store_explicit(&r->bad_seq, -1, memory_order_relaxed);
        return;
    }
    if (t->seq != i || t->check != check_of(r->key, i))
        if (atomic_fetch_add_explicit(&r->bad, 1, memory_order_relaxed) == 0)
            atomic_store_explicit(&r->bad_seq, i, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->taken[i], 1, memory_order_relaxed);
    /* More takings than tasks: a deque that hands out stale slots forever. */
    if (atomic_fetch_add_explicit(&r->progress, 1, memory_order_relaxed) > 2 * r->n)
        atomic_store_explicit(&r->stop, true, memory_order_relaxed);
}

static void *owner(void *p)
{
    struct run *r = p;
    uint64_t rs = r->key;
    long i = 0;
    while (i < r->n) {
        if (atomic_load_explicit(&r->stop, memory_order_relaxed))
            return NULL;
        /* A burst of pushes (1 to 64, now and then 300 to grow), then pops. */
        long burst = r->small ? 1 + (long)(tl_rand(&rs) % 3)
                     : tl_rand(&rs) % 16 == 0 ? 300 : 1 + (long)(tl_rand(&rs) % 64);
        for (long k = 0; k < burst && i < r->n; k++, i++) {
            r->task[i].seq = i; /* plain writes, published by the push */
            r->task[i].check = check_of(r->key, i);
            if (!deque_push(r->d, &r->task[i]))
                return NULL;
        }
        long pops = r->small ? burst + 1 : (long)(tl_rand(&rs) % (uint64_t)(burst + 2));
        for (long k = 0; k < pops; k++) {
            void *v = deque_pop(r->d);
            if (v == NULL)
                break;
            took(r, v);
        }
    }
    for (void *v; !atomic_load_explicit(&r->stop, memory_order_relaxed) && (v = deque_pop(r->d)) != NULL;)
        took(r, v);
    atomic_store_explicit(&r->owner_done, true, memory_order_relaxed);
    return NULL;
}

static void *thief(void *p)
{
    struct run *r = p;
    for (;;) {
        void *v = NULL;
        enum deque_steal_result s = deque_steal(r->d, &v);
        if (s == DEQUE_OK) {
            took(r, v);
            atomic_fetch_add_explicit(&r->by_thieves, 1, memory_order_relaxed);
            continue;
        }
        if (s == DEQUE_EMPTY && (atomic_load_explicit(&r->owner_done, memory_order_relaxed) ||
                                 atomic_load_explicit(&r->stop, memory_order_relaxed)))
            return NULL;
        __real_sched_yield();
    }
}

/* Returns true once the owner is done, false when nothing was taken for
 * tl_bound_s(); blocks in poll(). */
static bool await_run(struct run *r)
{
    long last = -1;
    double since = tl_mono_s();
    for (;;) {
        if (atomic_load_explicit(&r->owner_done, memory_order_relaxed))
            return true;
        if (atomic_load_explicit(&r->stop, memory_order_relaxed))
            return false; /* stale tasks kept coming: the counts below say why */
        long now = atomic_load_explicit(&r->progress, memory_order_relaxed);
        if (now != last) {
            last = now;
            since = tl_mono_s();
        } else if (tl_mono_s() - since > tl_bound_s()) {
            return false;
        }
        tl_idle_ms(2);
    }
}

#if defined(__SANITIZE_THREAD__)
enum { RUN_N = 1 << 17 }; /* ThreadSanitizer checks every access, ~10x slower */
#else
enum { RUN_N = 1 << 20 };
#endif

static void run_stealing(unsigned log2cap, long n, bool small)
{
    static struct run r;
    r.d = make_deque(log2cap);
    r.n = n;
    r.small = small;
    r.key = tl_input_seed();
    r.task = calloc((size_t)n, sizeof *r.task);
    r.taken = calloc((size_t)n, sizeof *r.taken);
    tl_assert(r.task != NULL && r.taken != NULL, TL_WRONG, "test: out of memory");
    atomic_store(&r.owner_done, false);
    atomic_store(&r.progress, 0);
    atomic_store(&r.stop, false);
    atomic_store(&r.bad, 0);
    atomic_store(&r.bad_seq, 0);
    atomic_store(&r.by_thieves, 0);
    pthread_t th[THIEVES], ot;
    for (int k = 0; k < THIEVES; k++)
        tl_check_rc(pthread_create(&th[k], NULL, thief, &r), "pthread_create");
    tl_check_rc(pthread_create(&ot, NULL, owner, &r), "pthread_create");
    bool done = await_run(&r);
    atomic_store_explicit(&r.stop, true, memory_order_relaxed);
    tl_check_rc(pthread_join(ot, NULL), "pthread_join");
    for (int k = 0; k < THIEVES; k++)
        tl_check_rc(pthread_join(th[k], NULL), "pthread_join");
    long lost = 0, dup = 0, first_lost = -1, first_dup = -1;
    for (long i = 0; i < n; i++) {
        int c = atomic_load_explicit(&r.taken[i], memory_order_relaxed);
        if (c == 0 && lost++ == 0)
            first_lost = i;
        if (c > 1 && dup++ == 0)
            first_dup = i;
    }
    long bad = atomic_load(&r.bad);
    tl_assert(dup == 0, TL_WRONG, "owner against %d thieves, %ld tasks (start 2^%u slots): %ld task(s) "
              "came out more than once (first: task %ld): an owner and a thief, or two thieves, both "
              "took it", THIEVES, n, log2cap, dup, first_dup);
    tl_assert(bad == 0, TL_WRONG, "owner against %d thieves: %ld task(s) came out with a pointer or "
              "contents the owner never pushed (first: task %ld)", THIEVES, bad,
              atomic_load(&r.bad_seq));
    tl_assert(done || atomic_load(&r.progress) > 2 * n, TL_WRONG, "owner against %d thieves: nothing was taken for %.0f s after %ld of "
              "%ld tasks", THIEVES, tl_bound_s(), atomic_load(&r.progress), n);
    tl_assert(atomic_load(&r.progress) <= n, TL_WRONG, "owner against %d thieves: %ld takings of "
              "%ld tasks (pop or steal kept handing out slots that held no new task)", THIEVES,
              atomic_load(&r.progress), n);
    tl_assert(lost == 0, TL_WRONG, "owner against %d thieves, %ld tasks: %ld task(s) never came out "
              "(first: task %ld)", THIEVES, n, lost, first_lost);
    deque_destroy(r.d);
    free(r.task);
    free(r.taken);
}

TL_INTENT(an_owner_and_three_thieves_take_every_task_once,
          "While the owner pushes and pops and three thieves steal, every task is taken exactly "
          "once.");
TL_TEST(an_owner_and_three_thieves_take_every_task_once)
{
    run_stealing(6, RUN_N, false);
}

/* The owner keeps the deque at 0 to 3 tasks, so that most pops and steals go
 * for one of the last tasks: the race the fence in the pop decides. */
TL_INTENT(owner_and_thieves_race_for_the_last_tasks,
          "When the owner and the thieves race for the last tasks, each one goes to exactly one "
          "of them, never to two and never lost.");
TL_TEST(owner_and_thieves_race_for_the_last_tasks)
{
    run_stealing(3, RUN_N, true);
}

TL_INTENT(growth_while_thieves_steal_loses_nothing,
          "When the deque grows while thieves steal, no task is lost or taken twice.");
TL_TEST(growth_while_thieves_steal_loses_nothing)
{
    run_stealing(0, RUN_N / 2, false);
}

static const struct tl_test tl_tests[] = {
    TL_RUN(create_checks_its_size_and_destroy_frees_every_buffer),
    TL_RUN(matches_a_stack_through_growth_and_empty_pops),
    TL_RUN(steal_takes_the_oldest_and_pop_the_newest),
    TL_RUN(an_owner_and_three_thieves_take_every_task_once),
    TL_RUN(owner_and_thieves_race_for_the_last_tasks),
    TL_RUN(growth_while_thieves_steal_loses_nothing),
};
TL_MAIN("08-work-stealing/deque")
