/*
 * tltest.h - the helpers the kit's Check tests share.
 *
 * What it shows: the few tools a test of a concurrent exercise keeps needing,
 * written once. Include it after tlcheck.h:
 *
 *     #include "tlcheck.h"
 *     #include "tltest.h"
 *
 *   - the kit's counters, read as numbers: tl_counts_now(), tl_waits_now(),
 *     tl_waits_or_sleeps_now(), tl_wakes_now(); and tl_note_caller(), which
 *     tells whether a callback is always made by the same thread;
 *   - bounded waits for what a correct solution does at once: tl_bound_s(),
 *     tl_deadline(), tl_sem_wait_bounded(), tl_await_blocked(), tl_await_count();
 *   - an idle that leaves the counters alone: tl_idle_ms();
 *   - a call made on a helper thread, so that a call that never returns is
 *     reported instead of waited out: tl_call_start(), tl_call_finish();
 *   - a latch (a countdown the main thread waits on instead of joining) and a
 *     gate (tasks wait inside it until the test opens it);
 *   - tl_check_rc() for the pthread calls a test makes itself.
 *
 * DESIGN: a test must never block without a bound on something a wrong
 * solution might never do, and its own waiting must not blur what it counts.
 * So the helpers a test measures around wait on semaphores and poll(), which
 * the kit does not wrap: they add nothing to tl_counts (not even a sleep), and
 * they give up after tl_bound_s(), a second scaled by CK_TIMEOUT_MULTIPLIER
 * like Check's own timeouts. The latch and the gate are the opposite, on
 * purpose: a mutex and a condition variable, wrapped and counted, so that a
 * thread stranded in one by a lost wake-up shows in the watchdog's wait-for
 * table - and a test that counts condition waits must allow for the threads
 * it parks at a gate. Their waits have no bound of their own: Check's timeout
 * and the watchdog are the bound. Nothing here asserts on time, and nothing
 * starts a thread unless a test body calls it (never in the runner).
 * Everything is static, like tlcheck.h, so the learner's code cannot call it.
 */
#ifndef TL_TEST_H
#define TL_TEST_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tlcheck.h"

/* ------------------------------------------------------------- checked calls */

/* Fails the test (no bug class: the test's own call failed) unless rc is 0; never blocks. */
static inline void tl_check_rc(int rc, const char *what)
{
    ck_assert_msg(rc == 0, "%s failed: %s", what, strerror(rc));
}

/* ----------------------------------------------------------------- counters */

/* Returns the kit's event counts now; never blocks. */
static inline struct tl_counts tl_counts_now(void)
{
    struct tl_counts c;
    tl_counts_get(&c);
    return c;
}

/* Returns the condition waits (plain and timed) begun so far; never blocks. */
static inline long tl_waits_now(void)
{
    struct tl_counts c = tl_counts_now();
    return c.cond_waits + c.cond_timedwaits;
}

/* Returns the condition waits and sleeps begun so far (a blocked thread does one); never blocks. */
static inline long tl_waits_or_sleeps_now(void)
{
    struct tl_counts c = tl_counts_now();
    return c.cond_waits + c.cond_timedwaits + c.sleeps;
}

/* Returns the condition signals and broadcasts made so far; never blocks. */
static inline long tl_wakes_now(void)
{
    struct tl_counts c = tl_counts_now();
    return c.cond_signals + c.cond_broadcasts;
}

/* Notes the calling thread with tl_note_worker(): the first caller's index
 * goes into *first (which starts at -1), and each call from any other thread
 * adds one to *others - for callbacks that only one thread may make. Never
 * blocks. */
static inline void tl_note_caller(atomic_int *first, atomic_long *others)
{
    int w = tl_note_worker();
    int was = -1;
    if (!atomic_compare_exchange_strong(first, &was, w) && was != w)
        atomic_fetch_add(others, 1);
}

/* ------------------------------------------------------------ bounded waits */

/* Yields before tl_await_count() decides that the count will never come. */
#define TL_SPIN_LIMIT (1L << 21)

/* Returns the seconds to wait for what a correct solution does at once (1 s,
 * scaled like Check's timeouts by CK_TIMEOUT_MULTIPLIER); never blocks. */
static inline double tl_bound_s(void)
{
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    double k = m != NULL && atof(m) > 0 ? atof(m) : 1.0;
    return 1.0 * k;
}

/* Returns the CLOCK_REALTIME time s seconds from now, for sem_timedwait and
 * pthread_cond_timedwait on a default condition variable; never blocks. */
static inline struct timespec tl_deadline(double s)
{
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += (time_t)s;
    at.tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    return at;
}

/* Returns true if s was posted (and takes the post); blocks on s for at most tl_bound_s(). */
static inline bool tl_sem_wait_bounded(sem_t *s)
{
    struct timespec at = tl_deadline(tl_bound_s());
    int rc;
    while ((rc = sem_timedwait(s, &at)) != 0 && errno == EINTR)
        ;
    return rc == 0;
}

/* Returns once tl_waits_or_sleeps_now() exceeds than, *done is posted (done
 * may be NULL; the post is left in place), or tl_bound_s() has passed; blocks
 * on nothing (it yields). */
static inline void tl_await_blocked(long than, sem_t *done)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int v = 0;
        if (done != NULL)
            sem_getvalue(done, &v);
        if (tl_waits_or_sleeps_now() > than || v > 0)
            return;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > tl_bound_s())
            return;
        sched_yield();
    }
}

/* Returns true once count() >= n; false as soon as *returned exceeds
 * returned_max (a thread that should have blocked came back; returned may be
 * NULL), or after TL_SPIN_LIMIT yields; blocks on nothing (it yields). */
static inline bool tl_await_count(long (*count)(void), long n, atomic_int *returned,
                                  int returned_max)
{
    for (long i = 0; i < TL_SPIN_LIMIT; i++) {
        if (count() >= n)
            return true;
        if (returned != NULL && atomic_load(returned) > returned_max)
            return false;
        sched_yield();
    }
    return false;
}

/* Returns after about ms milliseconds, adding nothing to tl_counts (poll() is
 * not wrapped, unlike the sleeps); blocks in poll(). */
static inline void tl_idle_ms(int ms)
{
    poll(NULL, 0, ms);
}

/* ------------------------------------------------------ calls on a helper */

/* fn(arg), made on a helper thread so that the test can wait for it with a bound. */
struct tl_call {
    void (*fn)(void *);
    void *arg;
    sem_t done;    /* posted when fn returns */
    pthread_t th;
};

/* The helper thread's body: makes the call, then posts done. */
static inline void *tl__call_main(void *p)
{
    struct tl_call *c = p;
    c->fn(c->arg);
    sem_post(&c->done);
    return NULL;
}

/* Returns the call, started on a new thread (leaked if fn never returns);
 * blocks on nothing. */
static inline struct tl_call *tl_call_start(void (*fn)(void *), void *arg)
{
    struct tl_call *c = malloc(sizeof *c);
    ck_assert(c != NULL);
    c->fn = fn;
    c->arg = arg;
    sem_init(&c->done, 0, 0);
    ck_assert(pthread_create(&c->th, NULL, tl__call_main, c) == 0);
    return c;
}

/* Returns true, with the helper joined and c freed, if the call returned
 * within tl_bound_s(); false, with the helper detached, if not (the test is
 * about to fail, and a late finish must not read as a leak). Blocks on the
 * call for at most tl_bound_s(). */
static inline bool tl_call_finish(struct tl_call *c)
{
    if (!tl_sem_wait_bounded(&c->done)) {
        pthread_detach(c->th);
        return false;
    }
    ck_assert(pthread_join(c->th, NULL) == 0);
    free(c);
    return true;
}

/* Returns whether fn(arg), made on a helper thread, returned within
 * tl_bound_s(); blocks on the call for at most that long. */
static inline bool tl_call_bounded(void (*fn)(void *), void *arg)
{
    return tl_call_finish(tl_call_start(fn, arg));
}

/* ------------------------------------------------------------------- latch */

/* A countdown the main thread waits on instead of joining: where a lost
 * wake-up could strand the threads, the hang then shows them all in a
 * condition wait. */
struct tl_latch {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int n;          /* guarded by m: arrivals so far */
};

/* Returns with l ready and no arrivals (fails the test if init fails); never blocks. */
static inline void tl_latch_init(struct tl_latch *l)
{
    tl_check_rc(pthread_mutex_init(&l->m, NULL), "pthread_mutex_init");
    tl_check_rc(pthread_cond_init(&l->cv, NULL), "pthread_cond_init");
    l->n = 0;
}

/* Returns after counting one arrival and waking the waiters; blocks only on l's lock. */
static inline void tl_latch_arrive(struct tl_latch *l)
{
    pthread_mutex_lock(&l->m);
    l->n++;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->m);
}

/* Returns once n arrivals have been counted; blocks in a condition wait, with no bound. */
static inline void tl_latch_wait(struct tl_latch *l, int n)
{
    pthread_mutex_lock(&l->m);
    while (l->n < n)
        pthread_cond_wait(&l->cv, &l->m);
    pthread_mutex_unlock(&l->m);
}

/* Returns after freeing l's lock and condition; nobody may use l any more; never blocks. */
static inline void tl_latch_destroy(struct tl_latch *l)
{
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->m);
}

/* -------------------------------------------------------------------- gate */

/* A gate: tasks that pass it wait inside until the test opens it, which
 * freezes the threads running them at a known point. */
struct tl_gate {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int inside;     /* guarded by m: tasks that have arrived */
    bool open;      /* guarded by m: set once by tl_gate_open() */
};

/* Returns with g ready, closed and empty (fails the test if init fails); never blocks. */
static inline void tl_gate_init(struct tl_gate *g)
{
    tl_check_rc(pthread_mutex_init(&g->m, NULL), "pthread_mutex_init");
    tl_check_rc(pthread_cond_init(&g->cv, NULL), "pthread_cond_init");
    g->inside = 0;
    g->open = false;
}

/* Returns once g is open, after counting the caller inside; blocks in a
 * condition wait, with no bound. */
static inline void tl_gate_pass(struct tl_gate *g)
{
    pthread_mutex_lock(&g->m);
    g->inside++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->m);
    pthread_mutex_unlock(&g->m);
}

/* Returns once n tasks are inside g; they are then all in a condition wait
 * (each released g's lock by starting to wait). Blocks in a condition wait,
 * with no bound. */
static inline void tl_gate_await_inside(struct tl_gate *g, int n)
{
    pthread_mutex_lock(&g->m);
    while (g->inside < n)
        pthread_cond_wait(&g->cv, &g->m);
    pthread_mutex_unlock(&g->m);
}

/* Returns after opening g for good and waking everyone inside; blocks only on g's lock. */
static inline void tl_gate_open(struct tl_gate *g)
{
    pthread_mutex_lock(&g->m);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->m);
}

/* Returns after freeing g's lock and condition; nobody may use g any more; never blocks. */
static inline void tl_gate_destroy(struct tl_gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->m);
}

#endif /* TL_TEST_H */
