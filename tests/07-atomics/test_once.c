/*
 * test_once.c - tests for chapters/07-atomics/once.c.
 *
 * What it shows: how to make a race window wide on purpose. The test's init
 * function does not return until every other thread of the round has called
 * once_get (and a little longer), so on every round several callers find the
 * cell BUSY: a second initialiser, a waiter that never sees READY, or a
 * waiter that returns before the value is there shows on every run, not
 * once in a thousand.
 *
 * DESIGN: init writes its result into plain memory, and the callers read it
 * with plain reads after once_get returns, so only the release of READY,
 * paired with the callers' acquire, orders the two: ThreadSanitizer reports
 * a relaxed publish. A second call of init fails the test inside init,
 * before the buggy code can go on to race. The test's own bookkeeping orders
 * nothing between the initialiser and the callers (the callers' arrivals are
 * counted, the initialiser only reads the count). Waiters spin, invisible to
 * the kit's wrappers, so the main thread waits for each with a bound and
 * reports a caller that never returns as a hang.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "once.h"

/* What init makes: plain memory, written before READY. */
struct payload {
    uint64_t a, b;
};

/* ------------------------------------------------------------------ one thread */

static atomic_int simple_calls;
static struct payload simple;

static void *simple_init(void *arg)
{
    atomic_fetch_add(&simple_calls, 1);
    simple.a = (uint64_t)(uintptr_t)arg;
    simple.b = ~simple.a;
    return &simple;
}

static void *null_init(void *arg)
{
    (void)arg;
    atomic_fetch_add(&simple_calls, 1);
    return NULL;
}

TL_INTENT(one_thread_initialises_once,
          "The first once_get calls init exactly once, and every call returns the value init "
          "returned.");
TL_TEST(one_thread_initialises_once)
{
    uint64_t rs = tl_input_seed();
    uintptr_t key = (uintptr_t)(1 + tl_rand(&rs) % 1000000);
    once_cell c = ONCE_CELL_INIT;
    atomic_store(&simple_calls, 0);
    void *v = once_get(&c, simple_init, (void *)key);
    tl_assert(atomic_load(&simple_calls) == 1, TL_WRONG,
              "the first once_get on an empty cell called init %d times, want once",
              atomic_load(&simple_calls));
    tl_assert(v == &simple && simple.a == key, TL_WRONG,
              "the first once_get returned %p, not what init returned (%p)", v, (void *)&simple);
    for (int i = 0; i < 3; i++) {
        void *again = once_get(&c, simple_init, (void *)(key + 1));
        tl_assert(again == &simple, TL_WRONG, "once_get call %d returned %p, want the value %p", i + 2,
                  again, (void *)&simple);
    }
    tl_assert(atomic_load(&simple_calls) == 1, TL_WRONG,
              "four once_get calls on one cell called init %d times, want once",
              atomic_load(&simple_calls));
    once_cell n = ONCE_CELL_INIT;
    atomic_store(&simple_calls, 0);
    void *first = once_get(&n, null_init, NULL);
    void *second = once_get(&n, null_init, NULL);
    tl_assert(first == NULL && second == NULL && atomic_load(&simple_calls) == 1, TL_WRONG,
              "init returned NULL: once_get must store it like any value and never call init "
              "again (init ran %d times)", atomic_load(&simple_calls));
}

/* ------------------------------------------------------------- many threads */

enum { CALLERS = 6, ROUNDS = 24 };

struct round {
    once_cell cell;
    struct payload made;   /* what init writes */
    uint64_t key;
    atomic_int entered;    /* callers about to call once_get (init reads it) */
    atomic_int calls;      /* init calls */
    atomic_bool init_returned;
    sem_t back;            /* posted by each caller once its call returned */
};

struct caller {
    struct round *r;
    void *got;             /* what once_get returned: read after the join */
    uint64_t a, b;         /* what the caller read through it */
};

/* snippet: slow_init */
/* The initialiser of a round: fails the test on a second call (before the
 * caller's code can store a second value), and does not return before every
 * caller has arrived and had a moment to find the cell BUSY. */
static void *slow_init(void *arg)
{
    struct round *r = arg;
    int n = atomic_fetch_add(&r->calls, 1) + 1;
    tl_assert(n == 1, TL_WRONG,
              "init called a second time on the same cell while the first call still ran: two "
              "threads both won the election");
    tl_await_at_least(&r->entered, CALLERS);
    tl_idle_ms(2); /* the last to arrive reaches once_get and finds BUSY */
    r->made.a = r->key; /* plain writes, published by the release of READY */
    r->made.b = ~r->key;
    atomic_store_explicit(&r->init_returned, true, memory_order_relaxed);
    return &r->made;
}
/* end snippet: slow_init */

static void *call_once_get(void *p)
{
    struct caller *k = p;
    atomic_fetch_add(&k->r->entered, 1);
    k->got = once_get(&k->r->cell, slow_init, k->r);
    if (k->got == &k->r->made) { /* plain reads, ordered only by once_get's acquire */
        k->a = k->r->made.a;
        k->b = k->r->made.b;
    }
    sem_post(&k->r->back);
    return NULL;
}

TL_INTENT(many_threads_one_initialiser_same_value,
          "When many threads call once_get at once, init runs exactly once, the others wait for "
          "it, and all get the same value.");
TL_TEST(many_threads_one_initialiser_same_value)
{
    uint64_t rs = tl_input_seed();
    static struct round rounds[ROUNDS];
    static struct caller k[CALLERS];
    for (int round = 0; round < ROUNDS; round++) {
        struct round *r = &rounds[round];
        r->cell = (once_cell)ONCE_CELL_INIT;
        r->key = tl_rand(&rs) | 1;
        atomic_store(&r->entered, 0);
        atomic_store(&r->calls, 0);
        atomic_store(&r->init_returned, false);
        tl_check_rc(sem_init(&r->back, 0, 0) == 0 ? 0 : errno, "sem_init");
        pthread_t th[CALLERS];
        for (int i = 0; i < CALLERS; i++) {
            k[i] = (struct caller){.r = r};
            tl_check_rc(pthread_create(&th[i], NULL, call_once_get, &k[i]), "pthread_create");
        }
        int back = 0;
        while (back < CALLERS && tl_sem_wait_bounded(&r->back))
            back++;
        bool made = atomic_load_explicit(&r->init_returned, memory_order_relaxed);
        tl_assert(back == CALLERS || !made, TL_HANG,
                  "round %d: init returned, but %d of %d callers of once_get never did: they wait "
                  "for good on a cell that is ready (is the state loaded afresh while waiting?)",
                  round, CALLERS - back, CALLERS);
        tl_assert(back == CALLERS, TL_HANG, "round %d: %d of %d callers of once_get never returned, "
                  "and init was never called (or never returned)", round, CALLERS - back, CALLERS);
        for (int i = 0; i < CALLERS; i++)
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
        sem_destroy(&r->back);
        int calls = atomic_load(&r->calls);
        tl_assert(calls == 1, TL_WRONG, "round %d: %d callers called init %d times, want exactly once",
                  round, CALLERS, calls);
        for (int i = 0; i < CALLERS; i++)
            tl_assert(k[i].got == &r->made && k[i].a == r->key && k[i].b == ~r->key, TL_WRONG,
                      "round %d: a caller of once_get got %p (want %p, the value init returned), "
                      "or read it before init had written it", round, k[i].got, (void *)&r->made);
    }
}

static const struct tl_test tl_tests[] = {
    TL_RUN(one_thread_initialises_once),
    TL_RUN(many_threads_one_initialiser_same_value),
};
TL_MAIN("07-atomics/once")
