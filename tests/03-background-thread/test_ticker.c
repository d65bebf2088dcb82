/*
 * test_ticker.c - tests for chapters/03-background-thread/ticker.h.
 *
 * What it shows: how a background thread is tested without timing it. The
 * test supplies fn, so it counts the calls and sees which thread makes them;
 * the kit's wrappers count the rest (threads created and joined, timed
 * waits, time-outs, sleeps, allocations) and can make pthread_create or
 * malloc fail, or a condition wait return without a signal. Promptness is
 * tested with a one-hour period: a correct ticker blocks in one timed wait,
 * so during an idle window the test controls it makes no calls and uses no
 * CPU; one that spins or polls shows as a stream of calls (busy-wait), one
 * that sleeps the period out as a sleep (slow-stop).
 *
 * DESIGN: the test never blocks without a bound on something a wrong
 * solution might never do, and never asserts on time. It waits on semaphores
 * (not wrapped, so they add nothing to the counts), idles with poll() (not
 * wrapped either), and calls ticker_stop() on a helper thread where "stop
 * never returns" is the bug being looked for (all of these come from
 * kit/tltest.h). Where a test needs "stop arrives while fn runs", fn waits at
 * a gate that the test opens only once the stopping thread is blocked in
 * ticker_stop(). The one bound on a rate is an upper one (fn is called at most
 * once per period since the start): load can only make calls rarer.
 */
#include "tlcheck.h"
#include "tltest.h"

#include "ticker.h"

#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#define HOUR_MS (3600L * 1000)
#define IDLE_MS TL_IDLE_MS /* the idle window of the busy-wait checks (kit/check/tltest.h) */

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
    long hold_at;        /* on this call post `inside`, then wait for `gate` (0: never) */
    int hold_ms;         /* ...or, if > 0, idle that long instead of waiting for the gate */
    sem_t inside, gate;
    atomic_bool held_done; /* set as the held call returns */
};

/* Returns with p ready: no calls yet, post `reached` on call target. Never blocks. */
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
    sem_init(&p->gate, 0, 0);
}

/* The fn every test passes to ticker_start(). Blocks only at the gate (call hold_at). */
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
        if (p->hold_ms > 0)
            tl_idle_ms(p->hold_ms);
        else
            while (sem_wait(&p->gate) != 0) /* no bound: the test posts it, or fails and exits */
                ;
        atomic_store(&p->held_done, true);
    }
}

/* Returns the CLOCK_MONOTONIC time in ms (for upper bounds on rates only). Never blocks. */
static double mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
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

/* Fails the test, busy-wait first, if the threads other than the caller did
 * not stay quiet during an idle window the test controls (what: the state the
 * ticker is in); then slow-stop if the ticker sleeps. Blocks for the window. */
static void expect_quiet(const char *what)
{
    struct tl_activity a = tl_watch_idle(IDLE_MS);
    tl_assert(!tl_activity_busy(&a), TL_BUSY_WAIT,
              "%s in %d ms %s, with nothing to do: the ticker thread should block in one timed "
              "wait until its deadline, not poll or spin (a nap of 1 ms, a wait that fails at "
              "once: is the deadline normalised, tv_nsec < 1000000000, and on the condition "
              "variable's clock?)", tl_activity_str(&a), IDLE_MS, what);
    long sleeps = tl_counts_now().sleeps;
    tl_assert(sleeps == 0, TL_SLOW_STOP,
              "the ticker thread sleeps (%ld calls to sleep/usleep/nanosleep) %s: a sleeping "
              "thread cannot be woken by ticker_stop; wait with pthread_cond_timedwait instead",
              sleeps, what);
}

/* Stop t on a helper thread. Returns what ticker_stop returned; fails the test
 * if it did not return within the bound (busy-wait if the ticker thread spins
 * meanwhile, slow-stop if not). Blocks for the call, at most tl_bound_s(). */
static long stop_bounded(ticker *t, const char *what)
{
    struct stop_call *sc = malloc(sizeof *sc); /* leaked if stop never returns */
    ck_assert(sc != NULL);
    *sc = (struct stop_call){t, -1};
    struct tl_call *c = tl_call_start(stop_one, sc);
    if (!tl_call_finish(c)) {
        struct tl_activity a = tl_watch_idle(IDLE_MS);
        tl_assert(!tl_activity_busy(&a), TL_BUSY_WAIT,
                  "%s, in %d ms after ticker_stop had been called (%s) and had not returned: "
                  "the ticker thread spins instead of blocking, and so never lets ticker_stop "
                  "in", tl_activity_str(&a), IDLE_MS, what);
        tl_assert(false, TL_SLOW_STOP,
                  "ticker_stop did not return within %.1f s (%s): it must wake the thread (set "
                  "the flag under the lock, then signal) instead of letting it finish the "
                  "period", tl_bound_s(), what);
    }
    long n = sc->calls;
    free(sc);
    return n;
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

/* ------------------------------------------------------------------- tests */

TL_INTENT(calls_fn_every_period_until_stopped,
          "The ticker's one thread calls fn about once per period, never more often, until "
          "ticker_stop.");
TL_TEST(calls_fn_every_period_until_stopped)
{
    uint64_t r = tl_input_seed();
    long period = 1 + (long)(tl_rand(&r) % 2);
    long target = 5 + (long)(tl_rand(&r) % 10);
    struct probe p;
    probe_init(&p, target);
    double t0 = mono_ms();
    ticker *t = ticker_start(period, on_tick, &p);
    tl_assert(t != NULL, TL_WRONG, "ticker_start(%ld, fn, arg) returned NULL", period);
    bool reached = tl_sem_wait_bounded(&p.reached);
    long early = atomic_load(&p.calls);
    double ms = mono_ms() - t0;
    /* An upper bound only: fn may start at most once per period since the start. */
    tl_assert(early <= (long)(ms / (double)period) + 1, TL_WRONG,
              "fn was called %ld times in %.1f ms with a %ld ms period: at most %ld calls fit, one "
              "per period; move the deadline one period on after each call", early, ms, period,
              (long)(ms / (double)period) + 1);
    tl_assert(reached, TL_WRONG,
              "with a %ld ms period fn was called only %ld times in %.1f s (expected %ld)", period,
              early, tl_bound_s(), target);
    long n = stop_bounded(t, "a 1-2 ms period");
    atomic_store(&p.stopped, true);
    long calls = atomic_load(&p.calls);
    struct tl_counts c = tl_counts_now();
    tl_assert(c.threads_created == 2, TL_WRONG, "ticker_start created %ld threads; expected one",
              c.threads_created - 1);
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "ticker_stop joined %ld threads: it must join the ticker thread it stops",
              c.threads_joined - 1);
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

TL_INTENT(stop_is_prompt_with_a_one_hour_period,
          "With a one-hour period the ticker thread sleeps in a timed wait, and ticker_stop "
          "wakes it at once and joins it, without calling fn.");
TL_TEST(stop_is_prompt_with_a_one_hour_period)
{
    struct probe p;
    probe_init(&p, 0);
    ticker *t = ticker_start(HOUR_MS, on_tick, &p);
    tl_assert(t != NULL, TL_WRONG, "ticker_start(one hour, fn, arg) returned NULL");
    tl_await_blocked_n(TL_ST_COUNT, 1); /* the ticker waits (or sleeps, or spins: no bound) */
    expect_quiet("of a one-hour period");
    tl_assert(tl_blocked_count(TL_ST_TIMED) == 1, TL_WRONG,
              "with a one-hour period the ticker thread should be in pthread_cond_timedwait");
    long n = stop_bounded(t, "a one-hour period");
    atomic_store(&p.stopped, true);
    struct tl_counts c = tl_counts_now();
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "%ld threads created but %ld joined: ticker_stop must join the ticker thread",
              c.threads_created - 1, c.threads_joined - 1);
    tl_assert(n == 0 && atomic_load(&p.calls) == 0, TL_WRONG,
              "with a one-hour period fn must not be called, yet it was called %ld times "
              "(ticker_stop returned %ld)", atomic_load(&p.calls), n);
}

TL_INTENT(waits_without_busy_waiting,
          "Between calls the ticker thread sleeps in a wait instead of spinning on the clock.");
TL_TEST(waits_without_busy_waiting)
{
    struct probe p;
    probe_init(&p, 0);
    ticker *t = ticker_start(HOUR_MS, on_tick, &p);
    tl_assert(t != NULL, TL_WRONG, "ticker_start(one hour, fn, arg) returned NULL");
    tl_await_blocked_n(TL_ST_COUNT, 1);
    expect_quiet("of a one-hour period");
    long n = stop_bounded(t, "a one-hour period");
    tl_assert(n == 0, TL_WRONG, "with a one-hour period fn must not be called (called %ld times)",
              n);
}

TL_INTENT(spurious_wakeups_do_not_call_fn,
          "A wait that returns early with no signal (POSIX allows it) does not make the ticker "
          "call fn before its time.");
TL_TEST(spurious_wakeups_do_not_call_fn)
{
    struct probe p;
    probe_init(&p, 0);
    long before = spurious_now();
    tl_spurious_set(1000); /* every condition wait returns at once, without a signal */
    ticker *t = ticker_start(HOUR_MS, on_tick, &p);
    tl_assert(t != NULL, TL_WRONG, "ticker_start(one hour, fn, arg) returned NULL");
    bool woke = await_spurious(before + 3);
    tl_spurious_set(0);
    if (!woke) { /* it never waits on a condition variable: say why, without stopping it */
        expect_quiet("of a one-hour period"); /* polls (busy-wait) or sleeps (slow-stop)? */
        tl_assert(false, TL_WRONG,
                  "with a one-hour period the ticker thread never waited on a condition variable");
    }
    long calls = atomic_load(&p.calls);
    long n = stop_bounded(t, "a one-hour period, after spurious wake-ups");
    atomic_store(&p.stopped, true);
    tl_assert(calls == 0, TL_WRONG,
              "with a one-hour period fn was called %ld times after %ld spurious wake-ups: a wait "
              "may return without a signal and before its deadline; wait in a `while` that "
              "re-checks the flag and ETIMEDOUT, not an `if`", calls, spurious_now() - before);
    tl_assert(n == 0, TL_WRONG, "ticker_stop returned %ld; fn was never called", n);
}

TL_INTENT(stop_waits_for_the_running_call,
          "ticker_stop called while fn runs waits for that call to return, then joins the ticker "
          "thread.");
TL_TEST(stop_waits_for_the_running_call)
{
    uint64_t r = tl_input_seed();
    struct probe p;
    probe_init(&p, 0);
    p.hold_at = 1 + (long)(tl_rand(&r) % 3);
    ticker *t = ticker_start(1, on_tick, &p);
    tl_assert(t != NULL, TL_WRONG, "ticker_start(1, fn, arg) returned NULL");
    tl_assert(tl_sem_wait_bounded(&p.inside), TL_WRONG,
              "with a 1 ms period fn was called only %ld times in %.1f s",
              atomic_load(&p.calls), tl_bound_s());
    /* fn is now inside call number hold_at, held at the gate. Stop, and open the
     * gate only once ticker_stop is blocked (in the join) or has returned. */
    struct stop_call sc = {t, -1};
    struct tl_call *c = tl_call_start(stop_one, &sc);
    tl_await_blocked_n(TL_ST_COUNT, 1); /* returns at the bound if stop never blocks */
    bool returned_early = sem_trywait(&c->done) == 0;
    if (returned_early)
        sem_post(&c->done);
    sem_post(&p.gate);
    tl_assert(tl_call_finish(c), TL_SLOW_STOP,
              "ticker_stop did not return within %.1f s of fn's call returning", tl_bound_s());
    long n = sc.calls;
    atomic_store(&p.stopped, true);
    struct tl_counts k = tl_counts_now();
    tl_assert(k.threads_joined == k.threads_created, TL_THREAD_LEAK,
              "%ld threads created but %ld joined: ticker_stop must join the ticker thread",
              k.threads_created - 1, k.threads_joined - 1);
    tl_assert(!returned_early, TL_WRONG,
              "ticker_stop returned while fn was still running: joining the thread waits for it");
    tl_assert(atomic_load(&p.calls) == p.hold_at && n == p.hold_at, TL_WRONG,
              "ticker_stop was called during call %ld of fn, but fn was called %ld times "
              "(ticker_stop returned %ld): no call may start once stop has been called",
              p.hold_at, atomic_load(&p.calls), n);
    tl_idle_ms(5);
    tl_assert(atomic_load(&p.late) == 0 && atomic_load(&p.calls) == p.hold_at, TL_WRONG,
              "fn was called after ticker_stop returned");
}

/* The gate above orders ticker_stop's write of its flag before fn returns, so
 * ThreadSanitizer could not see a flag read without the lock there. Here fn
 * idles instead, and ticker_stop is called while it does, with nothing to
 * order the two: only what holds whenever stop lands is checked. */
TL_INTENT(stop_while_fn_runs,
          "Once ticker_stop returns, fn is never called again and no call of fn is still running.");
TL_TEST(stop_while_fn_runs)
{
    enum { ROUNDS = 4 };
    for (int i = 0; i < ROUNDS; i++) {
        struct probe p;
        probe_init(&p, 0);
        p.hold_at = 1 + i % 2;
        p.hold_ms = 20; /* long enough that ticker_stop usually lands inside */
        ticker *t = ticker_start(1, on_tick, &p);
        tl_assert(t != NULL, TL_WRONG, "ticker_start(1, fn, arg) returned NULL");
        tl_assert(tl_sem_wait_bounded(&p.inside), TL_WRONG,
                  "with a 1 ms period fn was called only %ld times in %.1f s",
                  atomic_load(&p.calls), tl_bound_s());
        long n = stop_bounded(t, "called while fn runs");
        atomic_store(&p.stopped, true);
        tl_assert(n == atomic_load(&p.calls), TL_WRONG,
                  "ticker_stop returned %ld but fn was called %ld times", n,
                  atomic_load(&p.calls));
        tl_assert(atomic_load(&p.held_done), TL_WRONG,
                  "ticker_stop returned while fn was still running: joining the thread waits "
                  "for it");
    }
}

TL_INTENT(start_and_stop_many_times,
          "Many tickers started and stopped in a row each create exactly one thread, and every "
          "one is joined.");
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
        long n = stop_bounded(t, "a 1-3 ms period");
        atomic_store(&p[i].stopped, true);
        tl_assert(n == atomic_load(&p[i].calls), TL_WRONG,
                  "round %d: ticker_stop returned %ld but fn was called %ld times", i, n,
                  atomic_load(&p[i].calls));
    }
    struct tl_counts c = tl_counts_now();
    /* Each round: the ticker's thread and the helper that called ticker_stop. */
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "%d tickers started and stopped: %ld threads created, %ld joined", ROUNDS,
              c.threads_created - ROUNDS, c.threads_joined - ROUNDS);
    tl_assert(c.threads_created == 2 * ROUNDS, TL_WRONG,
              "%d tickers started: expected %d threads, %ld were created", ROUNDS, ROUNDS,
              c.threads_created - ROUNDS);
    tl_idle_ms(3);
    for (int i = 0; i < ROUNDS; i++)
        tl_assert(atomic_load(&p[i].late) == 0, TL_WRONG,
                  "round %d: fn was called after ticker_stop returned", i);
}

TL_INTENT(start_reports_failures_and_leaves_nothing_behind,
          "Bad arguments give EINVAL, and a failed allocation or thread creation makes "
          "ticker_start return NULL with nothing left allocated or running.");
TL_TEST(start_reports_failures_and_leaves_nothing_behind)
{
    struct probe p;
    probe_init(&p, 0);
    ticker *ok = ticker_start(HOUR_MS, on_tick, &p); /* first: it works at all */
    tl_assert(ok != NULL, TL_WRONG, "ticker_start(one hour, fn, arg) returned NULL");
    stop_bounded(ok, "a one-hour period");
    /* A ticker thread still alive would make allocations of its own while the
     * counts below are taken: say what is really wrong first. */
    struct tl_counts s = tl_counts_now();
    tl_assert(s.threads_joined == s.threads_created, TL_THREAD_LEAK,
              "%ld threads created but %ld joined: ticker_stop must join the ticker thread",
              s.threads_created, s.threads_joined);
    errno = 0;
    tl_assert(ticker_start(0, on_tick, &p) == NULL && errno == EINVAL, TL_ERROR_PATH,
              "ticker_start(0, fn, arg) must return NULL with errno EINVAL (errno was %d)", errno);
    tl_assert(ticker_start(5, NULL, &p) == NULL && errno == EINVAL, TL_ERROR_PATH,
              "ticker_start(5, NULL, arg) must return NULL with errno EINVAL");
    static const struct {
        enum tl_fault kind;
        int err;
        const char *what;
    } faults[] = {
        {TL_FAULT_CREATE, EAGAIN, "pthread_create failed with EAGAIN"},
        {TL_FAULT_MALLOC, ENOMEM, "malloc failed"},
    };
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        struct tl_counts b = tl_counts_now();
        tl_fault_nth(faults[i].kind, 1, faults[i].err);
        errno = 0;
        ticker *t = ticker_start(HOUR_MS, on_tick, &p);
        int err = errno;
        bool fired = tl_fault_fired(faults[i].kind);
        tl_fault_nth(faults[i].kind, 0, 0);
        struct tl_counts c = tl_counts_now();
        if (!fired) { /* that call was never made (no allocation, say): nothing to check */
            if (t != NULL)
                stop_bounded(t, "a one-hour period");
            continue;
        }
        tl_assert(t == NULL, TL_ERROR_PATH,
                  "%s inside ticker_start, yet it returned a ticker: it must return NULL", faults[i].what);
        tl_assert(err == faults[i].err, TL_ERROR_PATH,
                  "%s inside ticker_start: it returned NULL with errno %d (%s); the contract says "
                  "errno %d (%s)", faults[i].what, err, strerror(err), faults[i].err,
                  strerror(faults[i].err));
        tl_assert(c.threads_created == b.threads_created, TL_ERROR_PATH,
                  "%s inside ticker_start, yet a thread was started", faults[i].what);
        tl_assert(c.heap_allocs - b.heap_allocs <= c.heap_frees - b.heap_frees, TL_MEMORY,
                  "%s inside ticker_start: it made %ld allocations but freed %ld; free what was "
                  "allocated before returning NULL", faults[i].what, c.heap_allocs - b.heap_allocs,
                  c.heap_frees - b.heap_frees);
    }
    ticker *t = ticker_start(HOUR_MS, on_tick, &p); /* and afterwards, all works again */
    tl_assert(t != NULL, TL_WRONG, "ticker_start(one hour, fn, arg) returned NULL");
    tl_assert(stop_bounded(t, "a one-hour period") == 0, TL_WRONG,
              "with a one-hour period fn must not be called");
}

static const struct tl_test tl_tests[] = {
    TL_RUN(calls_fn_every_period_until_stopped),
    TL_RUN(stop_is_prompt_with_a_one_hour_period),
    TL_RUN(waits_without_busy_waiting),
    TL_RUN(spurious_wakeups_do_not_call_fn),
    TL_RUN(stop_waits_for_the_running_call),
    TL_RUN(stop_while_fn_runs),
    TL_RUN(start_and_stop_many_times),
    TL_RUN(start_reports_failures_and_leaves_nothing_behind),
};

TL_MAIN("03-background-thread/ticker")
