/*
 * test_ticker.c - tests for chapters/03-background-thread/ticker.h.
 *
 * What it shows: how a background thread is tested without timing it. The
 * test supplies fn, so it counts the calls and sees which thread makes them;
 * the kit's wrappers count the rest (threads created and joined, timed
 * waits, time-outs, sleeps). Promptness is tested with a one-hour period: a
 * correct ticker stops at once, one that sleeps is caught by its sleep call
 * before the test even asks it to stop, and one that polls shows as a pile
 * of wakeups while nothing is due.
 *
 * DESIGN: the test never blocks without a bound on something a wrong
 * solution might never do. It waits on semaphores (not wrapped, so they add
 * nothing to the counts), idles with poll() (not wrapped either), and calls
 * ticker_stop() on a helper thread where "stop never returns" is the bug
 * being looked for (all of these come from kit/tltest.h). The bounds are
 * generous; a correct ticker meets them in microseconds.
 */
#include "tlcheck.h"
#include "tltest.h"

#include "ticker.h"

#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>

#define HOUR_MS (3600L * 1000)

/* ----------------------------------------------------------------- helpers */

/* What fn sees. Set target/hold_at before the ticker starts. */
struct probe {
    atomic_long calls;
    atomic_int thread;   /* tl_note_worker() index of the first caller; -1 before */
    atomic_long foreign; /* calls made by any other thread */
    atomic_bool stopped; /* set by the test once ticker_stop() has returned */
    atomic_long late;    /* calls that began after that */
    long target;         /* post `reached` on this call (0: never) */
    sem_t reached;
    long hold_at;        /* on this call post `inside`, then idle hold_ms (0: never) */
    int hold_ms;
    sem_t inside;
    atomic_bool held_done; /* set as the held call returns */
};

static void probe_init(struct probe *p, long target)
{
    atomic_init(&p->calls, 0);
    atomic_init(&p->thread, -1);
    atomic_init(&p->foreign, 0);
    atomic_init(&p->stopped, false);
    atomic_init(&p->late, 0);
    atomic_init(&p->held_done, false);
    p->target = target;
    p->hold_at = 0;
    p->hold_ms = 0;
    sem_init(&p->reached, 0, 0);
    sem_init(&p->inside, 0, 0);
}

/* The fn every test passes to ticker_start(). */
static void on_tick(void *arg)
{
    struct probe *p = arg;
    if (atomic_load(&p->stopped))
        atomic_fetch_add(&p->late, 1);
    tl_note_caller(&p->thread, &p->foreign);
    long n = atomic_fetch_add(&p->calls, 1) + 1;
    if (n == p->target)
        sem_post(&p->reached);
    if (n == p->hold_at) {
        sem_post(&p->inside);
        tl_idle_ms(p->hold_ms);
        atomic_store(&p->held_done, true);
    }
}

/* ticker_stop() as a call on a helper thread, and what it returned. */
struct stop_call {
    ticker *t;
    long calls;
};

static void stop_one(void *arg)
{
    struct stop_call *sc = arg;
    sc->calls = ticker_stop(sc->t);
}

/* Call ticker_stop(t) on a helper thread. Returns true, with *calls set and the
 * helper joined, if it returned within tl_bound_s(); false if it is still blocked. */
static bool stop_bounded(ticker *t, long *calls)
{
    struct stop_call *sc = malloc(sizeof *sc); /* leaked if stop never returns */
    ck_assert(sc != NULL);
    *sc = (struct stop_call){t, -1};
    if (!tl_call_bounded(stop_one, sc))
        return false;
    *calls = sc->calls;
    free(sc);
    return true;
}

/* ------------------------------------------------------------------- tests */

TL_TEST(calls_fn_every_period_until_stopped)
{
    uint64_t r = tl_input_seed();
    long period = 1 + (long)(tl_rand(&r) % 2);
    long target = 5 + (long)(tl_rand(&r) % 10);
    struct probe p;
    probe_init(&p, target);
    ticker *t = ticker_start(period, on_tick, &p);
    tl_assert(t != NULL, TL_WRONG, "ticker_start(%ld, fn, arg) returned NULL", period);
    bool reached = tl_sem_wait_bounded(&p.reached);
    struct tl_counts c;
    tl_counts_get(&c);
    tl_assert(c.sleeps == 0, TL_SLOW_STOP,
              "the ticker called sleep/usleep/nanosleep %ld times: a sleeping thread cannot be "
              "woken by ticker_stop; wait with pthread_cond_timedwait instead", c.sleeps);
    tl_assert(reached, TL_WRONG,
              "with a %ld ms period fn was called only %ld times in %.1f s (expected %ld)", period,
              atomic_load(&p.calls), tl_bound_s(), target);
    long n = ticker_stop(t);
    atomic_store(&p.stopped, true);
    long calls = atomic_load(&p.calls);
    tl_counts_get(&c);
    tl_assert(c.threads_created == 1, TL_WRONG, "ticker_start created %ld threads; expected one",
              c.threads_created);
    tl_assert(c.threads_joined == 1, TL_THREAD_LEAK,
              "ticker_stop joined %ld threads: it must join the ticker thread it stops",
              c.threads_joined);
    tl_assert(n == calls, TL_WRONG, "ticker_stop returned %ld but fn was called %ld times", n,
              calls);
    tl_assert(atomic_load(&p.thread) > 0 && atomic_load(&p.foreign) == 0, TL_WRONG,
              "fn must run on the ticker's own thread, and only there");
    tl_assert(c.cond_timeouts >= calls, TL_WRONG,
              "fn was called %ld times but timed waits timed out only %ld times: each call should "
              "come after a pthread_cond_timedwait that returned ETIMEDOUT", calls,
              c.cond_timeouts);
    tl_idle_ms(3 * (int)period);
    tl_assert(atomic_load(&p.calls) == calls && atomic_load(&p.late) == 0, TL_WRONG,
              "fn was called after ticker_stop returned");
}

TL_TEST(stop_is_prompt_with_a_one_hour_period)
{
    struct probe p;
    probe_init(&p, 0);
    ticker *t = ticker_start(HOUR_MS, on_tick, &p);
    tl_assert(t != NULL, TL_WRONG, "ticker_start(one hour, fn, arg) returned NULL");
    tl_await_blocked(0, NULL); /* the ticker waits (or sleeps) */
    struct tl_counts c;
    tl_counts_get(&c);
    tl_assert(c.sleeps == 0, TL_SLOW_STOP,
              "the ticker thread sleeps (%ld calls to sleep/usleep/nanosleep): with a one-hour "
              "period, ticker_stop would wait up to an hour for it", c.sleeps);
    long n = -1;
    tl_assert(stop_bounded(t, &n), TL_SLOW_STOP,
              "ticker_stop did not return within %.1f s with a one-hour period: it must wake the "
              "thread (set the flag under the lock, then signal) instead of letting it finish "
              "the period", tl_bound_s());
    atomic_store(&p.stopped, true);
    tl_counts_get(&c);
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "%ld threads created but %ld joined: ticker_stop must join the ticker thread",
              c.threads_created, c.threads_joined);
    tl_assert(n == 0 && atomic_load(&p.calls) == 0, TL_WRONG,
              "with a one-hour period fn must not be called, yet it was called %ld times "
              "(ticker_stop returned %ld)", atomic_load(&p.calls), n);
}

TL_TEST(waits_without_busy_waiting)
{
    struct probe p;
    probe_init(&p, 0);
    ticker *t = ticker_start(HOUR_MS, on_tick, &p);
    tl_assert(t != NULL, TL_WRONG, "ticker_start(one hour, fn, arg) returned NULL");
    tl_await_blocked(0, NULL); /* the ticker waits (or sleeps) */
    struct tl_counts before, c;
    tl_counts_get(&before);
    tl_idle_ms(30);
    tl_counts_get(&c);
    long waits = c.cond_waits + c.cond_timedwaits - before.cond_waits - before.cond_timedwaits;
    long timeouts = c.cond_timeouts - before.cond_timeouts;
    long locks = c.mutex_locks - before.mutex_locks;
    tl_assert(c.sleeps == 0, TL_SLOW_STOP,
              "the ticker thread sleeps (%ld calls to sleep/usleep/nanosleep) instead of "
              "waiting on a condition variable", c.sleeps);
    tl_assert(waits <= 4 && locks <= 8, TL_BUSY_WAIT,
              "in 30 ms of a one-hour period the ticker woke %ld times (%ld time-outs, %ld "
              "locks): it should block in one timed wait until the deadline; is the condition "
              "variable's clock CLOCK_MONOTONIC, like the deadline?", waits, timeouts, locks);
    long n = -1;
    tl_assert(stop_bounded(t, &n), TL_SLOW_STOP,
              "ticker_stop did not return within %.1f s with a one-hour period", tl_bound_s());
    tl_assert(n == 0, TL_WRONG, "with a one-hour period fn must not be called (called %ld times)",
              n);
}

TL_TEST(stop_waits_for_the_running_call)
{
    uint64_t r = tl_input_seed();
    struct probe p;
    probe_init(&p, 0);
    p.hold_at = 1 + (long)(tl_rand(&r) % 3);
    p.hold_ms = 20;
    ticker *t = ticker_start(1, on_tick, &p);
    tl_assert(t != NULL, TL_WRONG, "ticker_start(1, fn, arg) returned NULL");
    tl_assert(tl_sem_wait_bounded(&p.inside), TL_WRONG,
              "with a 1 ms period fn was called only %ld times in %.1f s",
              atomic_load(&p.calls), tl_bound_s());
    /* fn is now inside call number hold_at, idling for hold_ms. */
    long n = -1;
    tl_assert(stop_bounded(t, &n), TL_SLOW_STOP,
              "ticker_stop did not return within %.1f s (fn was idling for %d ms)", tl_bound_s(),
              p.hold_ms);
    bool finished = atomic_load(&p.held_done);
    atomic_store(&p.stopped, true);
    struct tl_counts c;
    tl_counts_get(&c);
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "%ld threads created but %ld joined: ticker_stop must join the ticker thread",
              c.threads_created, c.threads_joined);
    tl_assert(finished, TL_WRONG,
              "ticker_stop returned while fn was still running: joining the thread waits for it");
    tl_assert(atomic_load(&p.calls) == p.hold_at && n == p.hold_at, TL_WRONG,
              "ticker_stop was called during call %ld of fn, but fn was called %ld times "
              "(ticker_stop returned %ld): no call may start once stop has been called",
              p.hold_at, atomic_load(&p.calls), n);
    tl_idle_ms(5);
    tl_assert(atomic_load(&p.late) == 0 && atomic_load(&p.calls) == p.hold_at, TL_WRONG,
              "fn was called after ticker_stop returned");
}

TL_TEST(start_and_stop_many_times)
{
    enum { ROUNDS = 20 };
    uint64_t r = tl_input_seed();
    static struct probe p[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        probe_init(&p[i], 0);
        long period = 1 + (long)(tl_rand(&r) % 3);
        ticker *t = ticker_start(period, on_tick, &p[i]);
        tl_assert(t != NULL, TL_WRONG, "round %d: ticker_start(%ld, fn, arg) returned NULL", i,
                  period);
        tl_idle_ms((int)(tl_rand(&r) % 4));
        long n = ticker_stop(t);
        atomic_store(&p[i].stopped, true);
        tl_assert(n == atomic_load(&p[i].calls), TL_WRONG,
                  "round %d: ticker_stop returned %ld but fn was called %ld times", i, n,
                  atomic_load(&p[i].calls));
    }
    struct tl_counts c;
    tl_counts_get(&c);
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "%d tickers started and stopped: %ld threads created, %ld joined", ROUNDS,
              c.threads_created, c.threads_joined);
    tl_assert(c.threads_created == ROUNDS, TL_WRONG,
              "%d tickers started: expected %d threads, %ld were created", ROUNDS, ROUNDS,
              c.threads_created);
    tl_assert(c.sleeps == 0, TL_SLOW_STOP,
              "the ticker called sleep/usleep/nanosleep %ld times", c.sleeps);
    tl_idle_ms(3);
    for (int i = 0; i < ROUNDS; i++)
        tl_assert(atomic_load(&p[i].late) == 0, TL_WRONG,
                  "round %d: fn was called after ticker_stop returned", i);
}

static const struct tl_test tl_tests[] = {
    TL_RUN(calls_fn_every_period_until_stopped),
    TL_RUN(stop_is_prompt_with_a_one_hour_period),
    TL_RUN(waits_without_busy_waiting),
    TL_RUN(stop_waits_for_the_running_call),
    TL_RUN(start_and_stop_many_times),
};

TL_MAIN("03-background-thread/ticker")
