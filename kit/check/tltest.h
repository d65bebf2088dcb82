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
 *     tl_deadline(), tl_sem_wait_bounded(), tl_await_blocked(), tl_await_count(),
 *     tl_await_at_least(),
 *     tl_await_blocked_n() (threads really blocked, from the wrappers' table);
 *   - an idle that leaves the counters alone: tl_idle_ms();
 *   - busy waiting, counted: tl_watch_idle(), tl_activity_busy() (the kit's one
 *     rule for "this thread spins") and tl_activity_str() (its evidence);
 *   - a poller that steps aside once nothing moves: tl_poll_again();
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
 * they give up after tl_bound_s(), half the time before the watchdog fires.
 * The latch and the gate are the opposite, on
 * purpose: a mutex and a condition variable, wrapped and counted, so that a
 * thread stranded in one by a lost wake-up shows in the watchdog's wait-for
 * table - and a test that counts condition waits must allow for the threads
 * it parks at a gate. Their waits have no bound of their own: Check's timeout
 * and the watchdog are the bound. Every pthread call they make is checked
 * (tl__ok: the test fails, with no bug class, if one returns an error); a
 * check that holds costs nothing (no ck_assert, whose _mark_point takes
 * Check's own lock through the wrappers). Nothing here asserts on time, and nothing
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

/* Fails the test at file:line (no bug class: the test's own call failed)
 * unless rc is 0; never blocks. Only a failure calls into Check. */
static inline void tl__check_rc_at(int rc, const char *what, const char *file, int line)
{
    if (rc != 0)
        _ck_assert_failed(file, line, "Failed", "%s failed: %s", what, strerror(rc));
}
/* tl_check_rc(rc, what): the same, reported at the caller's line. */
#define tl_check_rc(rc, what) tl__check_rc_at((rc), (what), __FILE__, __LINE__)

/* The helpers' own pthread calls, checked: each fails the test if the call does. */
static inline void tl__lock(pthread_mutex_t *m)
{
    tl_check_rc(pthread_mutex_lock(m), "pthread_mutex_lock");
}
static inline void tl__unlock(pthread_mutex_t *m)
{
    tl_check_rc(pthread_mutex_unlock(m), "pthread_mutex_unlock");
}
static inline void tl__wait(pthread_cond_t *cv, pthread_mutex_t *m)
{
    tl_check_rc(pthread_cond_wait(cv, m), "pthread_cond_wait");
}
static inline void tl__broadcast(pthread_cond_t *cv)
{
    tl_check_rc(pthread_cond_broadcast(cv), "pthread_cond_broadcast");
}

/* The real sched_yield, past the wrapper (tests are always linked with it):
 * the test's own polling adds nothing to yields or to an activity window. */
int __real_sched_yield(void);

/* Gives the CPU away once, adding nothing to the counts: the real sched_yield,
 * or under the scheduler of the sched pass (where only one thread runs at a
 * time) a nap in poll() that lets every other runnable thread go first. */
static inline void tl__yield(void)
{
    if (tl_sched_active())
        poll(NULL, 0, 0);
    else
        __real_sched_yield();
}

/* ----------------------------------------------------------------- counters */

/* Returns the kit's event counts now; never blocks. */
static inline struct tl_counts tl_counts_now(void)
{
    struct tl_counts c;
    tl_counts_get(&c);
    return c;
}

/* Heap blocks allocated between the counts c0 and c1 and not freed by c1.
 * Memory that libc allocates itself (asprintf, getline, open_memstream) is not
 * counted, but freeing it is, so a correct program can come out below zero:
 * only a result above zero is a leak. Never blocks. */
static inline long tl_heap_kept(const struct tl_counts *c0, const struct tl_counts *c1)
{
    return (c1->heap_allocs - c0->heap_allocs) - (c1->heap_frees - c0->heap_frees);
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

/* Returns whether some thread waits in pthread_join while fewer than `want`
 * threads have been created since tl_counts_reset(): a caller that joins before
 * it has started them all. The join is read first: a creator counts its thread
 * (as pthread_create returns) before it can enter a join, so a join seen here
 * comes with every count made before it, and a creation still under way is
 * never taken for one that will not come. Never blocks. */
static inline bool tl_joined_before_created(long want)
{
    if (tl_blocked_count(TL_ST_JOIN) < 1)
        return false;
    return tl_counts_now().threads_created < want;
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


/* Returns the seconds to wait for what a correct solution does at once; never
 * blocks. Half the time before the watchdog of a test with the default timeout
 * fires (tlcheck.h: Check's timeout T = TL_TIMEOUT or 4 s, times k =
 * CK_TIMEOUT_MULTIPLIER; the watchdog at max(T*k - 2, T*k/2)): 1 s in the
 * functional pass (T*k = 4), 3 s in chaos and ASan (8), 5 s in TSan (12). A
 * correct thread is scheduled within tens of milliseconds even at load 8 on 2
 * cores, so the bound only delays the failure of a wrong solution; and two
 * bounded waits that both run out still end the test before the watchdog
 * calls it a hang. Under the scheduler the limit is virtual time, a
 * TL_SCHED_BACKSTOP-th of the watchdog: the bound is half of that, or a
 * correct test's own bounded wait would outlast it and read as a hang. */
static inline double tl_bound_s(void)
{
    const char *e = getenv("TL_TIMEOUT");
    double at = tl__watchdog_at(e != NULL && atof(e) > 0 ? atof(e) : 4.0);
    return (tl_sched_active() ? at / TL_SCHED_BACKSTOP : at) * 0.5;
}

/* CLOCK_MONOTONIC now, in seconds (the clock of tl_stuck()'s `until`). */
static inline double tl_mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
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

/* Returns true if s was posted (and takes the post); blocks on s for at most
 * tl_bound_s(), less when every other thread is stuck for good (tl_stuck()). */
static inline bool tl_sem_wait_bounded(sem_t *s)
{
    struct timespec at = tl_deadline(tl_bound_s());
    double until = tl_mono_s() + tl_bound_s();
    tl__gave_up_stuck = false;
    struct tl_stuck stuck = {0, 0};
    for (;;) {
        struct timespec step = tl_deadline(0.05);
        bool last = step.tv_sec > at.tv_sec || (step.tv_sec == at.tv_sec && step.tv_nsec >= at.tv_nsec);
        if (sem_timedwait(s, last ? &at : &step) == 0)
            return true;
        if (errno == ETIMEDOUT && (last || (tl__gave_up_stuck = tl_stuck(&stuck, tl_stuck_window_s(2 * tl_bound_s()), until, true))))
            return false;
    }
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
        tl__yield();
    }
}

/* Returns true once tl_blocked_count(st) >= n (TL_ST_COUNT: blocked in any
 * way; the main thread counts too), false after tl_bound_s(). Makes no wrapped
 * call: it polls every millisecond in poll(). Use it to make sure a waiter is
 * really blocked before triggering the event that must wake it. */
static inline bool tl_await_blocked_n(enum tl_state st, int n)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (tl_blocked_count(st) >= n)
            return true;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > tl_bound_s())
            return false;
        poll(NULL, 0, 1);
    }
}

/* Returns true once count() >= n; false as soon as *returned exceeds
 * returned_max (a thread that should have blocked came back; returned may be
 * NULL), once every other thread is stuck for good (tl_stuck(): nobody is left
 * to count), or once tl_bound_s() has passed (on a loaded machine a count of
 * yields would outlast the watchdog); blocks on nothing (it yields, then naps). */
static inline bool tl_await_count(long (*count)(void), long n, atomic_int *returned,
                                  int returned_max)
{
    struct timespec t0, t;
    struct tl_stuck stuck = {0, 0};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double until = tl_mono_s() + tl_bound_s();
    tl__gave_up_stuck = false;
    for (long i = 0;; i++) {
        if (count() >= n)
            return true;
        if (returned != NULL && atomic_load(returned) > returned_max)
            return false;
        if (i < 1000) {
            tl__yield();
            continue;
        }
        poll(NULL, 0, 1);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > tl_bound_s() ||
            (tl__gave_up_stuck = tl_stuck(&stuck, tl_stuck_window_s(2 * tl_bound_s()), until, true)))
            return false;
    }
}

static _Thread_local atomic_int *tl__at_least_n;
static inline long tl__at_least_count(void) { return atomic_load(tl__at_least_n); }

/* Returns true once *n >= want; false after tl_bound_s(), so that a thread that
 * is never woken is reported as such instead of hanging the test. Like
 * tl_await_count(), it makes no wrapped call. */
static inline bool tl_await_at_least(atomic_int *n, int want)
{
    tl__at_least_n = n;
    return tl_await_count(tl__at_least_count, want, NULL, 0);
}

/* Returns after about ms milliseconds, adding nothing to tl_counts (poll() is
 * not wrapped, unlike the sleeps); blocks in poll(). */
static inline void tl_idle_ms(int ms)
{
    poll(NULL, 0, ms);
}

/* ------------------------------------------------------- busy waiting, counted */

/* The idle window tests watch, in ms: long enough that a 1 ms polling nap
 * makes well over TL_BUSY_CALLS calls even when it is scheduled late. */
#define TL_IDLE_MS 200

/* The kit's one rule for "this thread spins while nothing is asked of it",
 * over a window of TL_IDLE_MS (or longer), opened once the threads that should
 * block are blocked (tl_await_blocked_n). Safe in both directions under load:
 * a thread blocked as it should be makes no wrapped call, no yield, and uses no
 * CPU whatever else the machine does (measured: 0 calls and 0 us, idle and at
 * load 60-150 on 2 cores), while a spinner is only preempted, never parked, so
 * it still gets CPU, and a poller still makes calls. Measured in 200 ms windows
 * on 2 cores, idle -> beside four busy loops at load ~60 (range over 5 runs):
 * flag spinner (no calls) 54-116 ms -> 18-25 ms of CPU; lock/unlock and
 * trylock spinners 2.5-4 million -> 0.5-0.8 million calls, 12-25 ms; a timed
 * wait failing with EINVAL 2-3 million -> 0.28-0.8 million calls; 1 ms nap
 * 149-167 -> 51-114 calls; sched_yield spinner 33000-53000 -> 8-22 yields
 * (under load each yield hands a whole time slice away, hence the low limit:
 * no blocked thread yields at all). A correct thread that legitimately wakes
 * makes about 4-6 calls per wake-up: watch idle only where it wakes at most
 * twice in the window (periods of 100 ms or more). */
#define TL_BUSY_CALLS 20      /* wrapped calls in the window */
#define TL_BUSY_YIELDS 2      /* sched_yield calls in the window */
#define TL_BUSY_CPU_US 3000   /* CPU of the busiest thread: 1.5% of TL_IDLE_MS */

/* Returns the activity of every thread but the caller over a window of at
 * least ms milliseconds in which the caller does nothing the wrappers see;
 * blocks in poll(), 1 ms at a time. On a machine so busy that the caller
 * itself was woken fewer than ms/2 times, the window grows (to 3 ms at most,
 * and never past tl_bound_s()), so that a spinner or a poller, scheduled as
 * rarely as the caller, still shows; on an ordinary machine it lasts ms. */
static inline struct tl_activity tl_watch_idle(int ms)
{
    double cap_ms = 3.0 * ms < tl_bound_s() * 1000 ? 3.0 * ms : tl_bound_s() * 1000;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tl_activity_begin();
    for (int wakes = 0;; wakes++) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        double ms_now = (double)(t.tv_sec - t0.tv_sec) * 1e3 + (double)(t.tv_nsec - t0.tv_nsec) / 1e6;
        if ((ms_now >= ms && wakes >= ms / 2) || (ms_now >= ms && ms_now >= cap_ms))
            break;
        poll(NULL, 0, 1);
    }
    return tl_activity_end();
}

/* Returns whether the window shows busy waiting (see TL_BUSY_*); never blocks. */
static inline bool tl_activity_busy(const struct tl_activity *a)
{
    return a->calls > TL_BUSY_CALLS || a->yields > TL_BUSY_YIELDS || a->cpu_us > TL_BUSY_CPU_US;
}

/* Returns the evidence of a window for a message, e.g. "thread 2 (pool_worker)
 * used 180 ms of CPU; the threads made 1093915 calls (0 time-outs, 0 yields,
 * 1093915 trylocks)"; the text lives until the next call on this thread. Never
 * blocks. */
static inline const char *tl_activity_str(const struct tl_activity *a)
{
    static _Thread_local char buf[256];
    snprintf(buf, sizeof buf,
             "%s used %ld.%ld ms of CPU; the threads made %ld calls (%ld time-outs, %ld yields, "
             "%ld trylocks) while nothing was asked of them",
             a->busiest[0] != '\0' ? a->busiest : "no thread", a->cpu_us / 1000,
             a->cpu_us % 1000 / 100, a->calls, a->timeouts, a->yields, a->trylocks);
    return buf;
}

/* ---------------------------------------------------- a poller that steps aside */

/* Looks in a row that saw no progress before a poller gives up (see tl_poll_again). */
#define TL_POLL_IDLE 20000

/* A test's poller: a thread that calls a read-only function (a length, a
 * balance) over and over beside the threads under test, to catch a state that
 * must never be seen. */
struct tl_poller {
    unsigned long seen; /* the progress count at the last look */
    int idle;           /* looks in a row that saw it unchanged */
};

/* Returns whether a poller should look once more: not once *stop is set, nor
 * after TL_POLL_IDLE looks in a row saw `progress` (a count of what the threads
 * under test have done, 0 at the start) unchanged since it last moved; yields
 * the CPU once after each such look. A poller that never stopped would keep the
 * watchdog from seeing that every other thread is blocked for good, and a lost
 * wake-up would be waited out to the timeout instead of reported at once. Before
 * the first progress there is no limit: the threads under test may not have
 * started yet. A correct solution only loses some looks this way, when the
 * machine keeps the others off the CPU. Never blocks. */
static inline bool tl_poll_again(struct tl_poller *p, atomic_int *stop, unsigned long progress)
{
    if (atomic_load(stop))
        return false;
    if (progress != p->seen || progress == 0) {
        p->seen = progress;
        p->idle = 0;
        return true;
    }
    tl__yield();
    return ++p->idle < TL_POLL_IDLE;
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
    tl_kit_enter(); /* the kit's own: never counted or failed by injection */
    struct tl_call *c = malloc(sizeof *c);
    if (c == NULL)
        ck_abort_msg("tl_call_start: out of memory");
    c->fn = fn;
    c->arg = arg;
    if (sem_init(&c->done, 0, 0) != 0)
        ck_abort_msg("sem_init failed: %s", strerror(errno));
    int rc = pthread_create(&c->th, NULL, tl__call_main, c);
    tl_kit_leave();
    tl_check_rc(rc, "pthread_create (tl_call_start)");
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
    tl_check_rc(pthread_join(c->th, NULL), "pthread_join (tl_call_finish)");
    sem_destroy(&c->done);
    tl_kit_enter();
    free(c);
    tl_kit_leave();
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
    tl__lock(&l->m);
    l->n++;
    tl__broadcast(&l->cv);
    tl__unlock(&l->m);
}

/* Returns once n arrivals have been counted; blocks in a condition wait, with no bound. */
static inline void tl_latch_wait(struct tl_latch *l, int n)
{
    tl__lock(&l->m);
    while (l->n < n)
        tl__wait(&l->cv, &l->m);
    tl__unlock(&l->m);
}

/* Returns after freeing l's lock and condition; nobody may use l any more; never blocks. */
static inline void tl_latch_destroy(struct tl_latch *l)
{
    tl_check_rc(pthread_cond_destroy(&l->cv), "pthread_cond_destroy");
    tl_check_rc(pthread_mutex_destroy(&l->m), "pthread_mutex_destroy");
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
    tl__lock(&g->m);
    g->inside++;
    tl__broadcast(&g->cv);
    while (!g->open)
        tl__wait(&g->cv, &g->m);
    tl__unlock(&g->m);
}

/* Returns once n tasks are inside g; they are then all in a condition wait
 * (each released g's lock by starting to wait). Blocks in a condition wait,
 * with no bound. */
static inline void tl_gate_await_inside(struct tl_gate *g, int n)
{
    tl__lock(&g->m);
    while (g->inside < n)
        tl__wait(&g->cv, &g->m);
    tl__unlock(&g->m);
}

/* Returns after opening g for good and waking everyone inside; blocks only on g's lock. */
static inline void tl_gate_open(struct tl_gate *g)
{
    tl__lock(&g->m);
    g->open = true;
    tl__broadcast(&g->cv);
    tl__unlock(&g->m);
}

/* Returns after freeing g's lock and condition; nobody may use g any more; never blocks. */
static inline void tl_gate_destroy(struct tl_gate *g)
{
    tl_check_rc(pthread_cond_destroy(&g->cv), "pthread_cond_destroy");
    tl_check_rc(pthread_mutex_destroy(&g->m), "pthread_mutex_destroy");
}

#endif /* TL_TEST_H */
