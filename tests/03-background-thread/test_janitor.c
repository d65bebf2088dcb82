/*
 * test_janitor.c - tests for chapters/03-background-thread/janitor.h.
 *
 * What it shows: how to test a background thread that owns no data of its
 * own but cleans up shared data. The test owns the clock - time moves only
 * when the test moves it - so "expired" is decided by the test, not by the
 * speed of the machine. It owns on_evict too, so it sees every eviction, on
 * which thread it happens, and whether the janitor calls it with the lock
 * held (on_evict calls cache_get, which would then never return).
 *
 * on_evict also uses the freedoms the contract gives it: it calls cache_get,
 * cache_size, and puts keys back. And the clock can hold a cache_get at the
 * point where it reads the time, until the janitor has swept: a get that
 * reads its entry after unlocking then reads freed memory, every time, which
 * the asan pass reports. The kit's wrappers make pthread_create and malloc
 * fail on demand (the error paths), make condition waits return without a
 * signal (an `if` around the janitor's wait), and count what every thread
 * does while the test idles (busy waiting).
 *
 * DESIGN: as in test_ticker.c: no wall-clock assertion. The janitor sweeps on
 * its own period; the test waits (bounded, on a semaphore that on_evict
 * posts) until the evictions it expects have happened, then checks that no
 * more happen. Invariant checked under concurrency: every entry added is
 * evicted exactly once, or is still there: added == evicted + cache_size().
 * The one bound on a rate is an upper one (time-outs per sweep period).
 */
#include "tlcheck.h"
#include "tltest.h"

#include "janitor.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#define HOUR_MS (3600L * 1000)
#define MAXKEYS 256
#define IDLE_MS TL_IDLE_MS /* the idle window of the busy-wait checks (kit/check/tltest.h) */
#define RATE_MS 30         /* the window of the upper bound on time-outs */
#define FAR (1L << 40)     /* an expiry the tests never reach */
#define TRAP_MS 200        /* how long the clock holds a cache_get (see probe_now) */

/* ----------------------------------------------------------------- helpers */

/* The test's clock and on_evict, and what on_evict saw. */
struct probe {
    atomic_long clock;
    cache *c;                /* set after cache_create(), before the clock first moves */
    atomic_long evicted;
    atomic_long target;      /* post `reached` when evicted gets here */
    sem_t reached;
    atomic_int thread;       /* tl_note_worker() of the first on_evict; -1 before */
    atomic_long foreign;     /* on_evict calls from another thread */
    atomic_long live;        /* evicted entries that had not expired */
    atomic_long mismatched;  /* evicted values that were not what was put for the key */
    bool check_get;          /* on_evict calls cache_get(key): it must find nothing */
    atomic_bool in_get;      /* on_evict is inside cache_get */
    atomic_long still_there; /* on_evict's cache_get found the evicted key */
    atomic_bool destroyed;   /* set once cache_destroy() has returned */
    atomic_long late;        /* on_evict calls after that */
    bool reput;              /* on_evict puts odd keys back, expiring at FAR */
    atomic_long reput_new;   /* ...and cache_put said the key was new (1) */
    atomic_long reput_bad;   /* ...or replaced an entry (0: still in the map) or failed */
    atomic_long size_calls;  /* on_evict called cache_size */
    atomic_int trap;         /* 1: the next now() call holds until the janitor swept (once) */
    atomic_long trap_key;    /* the key the trap expires */
    long expires[MAXKEYS];   /* tests 1-2: what was put for each key (-1: nothing) */
    long value[MAXKEYS];
};

static void probe_init(struct probe *p)
{
    memset(p, 0, sizeof *p);
    atomic_init(&p->thread, -1);
    atomic_init(&p->target, -1);
    sem_init(&p->reached, 0, 0);
    for (int k = 0; k < MAXKEYS; k++)
        p->expires[k] = -1;
}

/* Returns true once cond(p) holds, false after ms naps of 1 ms. Blocks in
 * poll(), 1 ms at a time. Counting naps rather than reading a clock is on
 * purpose: on a loaded machine each nap lasts longer, so the janitor gets
 * more time to be scheduled exactly when it needs it. */
static bool await_probe(bool (*cond)(struct probe *), struct probe *p, int ms)
{
    for (int waited = 0; waited < ms; waited++) {
        if (cond(p))
            return true;
        tl_idle_ms(1);
    }
    return false;
}

/* Whether the janitor has evicted the trap's key and gone back to its wait:
 * then the caller of the trapped now() did not hold the cache's lock. Never
 * blocks. */
static bool trap_sprung(struct probe *p)
{
    return atomic_load(&p->evicted) >= 1 && tl_blocked_count(TL_ST_TIMED) >= 1;
}

/* The test's clock. When the trap is set, the first call expires everything
 * and returns once the janitor has swept, or after TRAP_MS if it cannot (its
 * timed wait cannot return while the caller holds the lock, as it should):
 * the trap only gives a wrong get the chance to fail, and never fails a right
 * one, however late the janitor runs. Blocks only then. */
static long probe_now(void *ctx)
{
    struct probe *p = ctx;
    int armed = 1;
    if (atomic_load(&p->trap) == 1 && atomic_compare_exchange_strong(&p->trap, &armed, 2)) {
        atomic_store(&p->clock, FAR);
        await_probe(trap_sprung, p, TRAP_MS);
    }
    return atomic_load(&p->clock);
}

/* Values encode their key and expiry, so any thread can check what it got. */
static long value_of(int key, long expires)
{
    return expires * MAXKEYS + key;
}

static void probe_evict(void *ctx, int key, long value)
{
    struct probe *p = ctx;
    if (atomic_load(&p->destroyed))
        atomic_fetch_add(&p->late, 1);
    tl_note_caller(&p->thread, &p->foreign);
    if (key < 0 || key >= MAXKEYS || value % MAXKEYS != key)
        atomic_fetch_add(&p->mismatched, 1);
    else if (value / MAXKEYS > atomic_load(&p->clock))
        atomic_fetch_add(&p->live, 1);
    if (p->check_get) {
        long v;
        atomic_store(&p->in_get, true);
        if (cache_get(p->c, key, &v))
            atomic_fetch_add(&p->still_there, 1);
        cache_size(p->c);
        atomic_fetch_add(&p->size_calls, 1);
        atomic_store(&p->in_get, false);
    }
    if (p->reput && key % 2 == 1) {
        int rc = cache_put(p->c, key, value_of(key, FAR), FAR);
        atomic_fetch_add(rc == 1 ? &p->reput_new : &p->reput_bad, 1);
    }
    if (atomic_fetch_add(&p->evicted, 1) + 1 == atomic_load(&p->target))
        sem_post(&p->reached);
}

/* Wait (bounded) until on_evict has been called `target` times in all. */
static bool until_evicted(struct probe *p, long target)
{
    if (atomic_load(&p->evicted) >= target)
        return true;
    return tl_sem_wait_bounded(&p->reached);
}

static void destroy_one(void *arg)
{
    cache_destroy(arg);
}

/* Destroy c on a helper thread within the bound, then check the thread counts. */
static void destroy_bounded(cache *c, struct probe *p)
{
    tl_assert(tl_call_bounded(destroy_one, c), TL_SLOW_STOP,
              "cache_destroy did not return within %.1f s: it must wake the janitor (flag "
              "under the lock, then signal) rather than wait for its sweep period",
              tl_bound_s());
    atomic_store(&p->destroyed, true);
    struct tl_counts k;
    tl_counts_get(&k);
    tl_assert(k.threads_joined == k.threads_created, TL_THREAD_LEAK,
              "%ld threads created, %ld joined: cache_destroy must join the janitor",
              k.threads_created, k.threads_joined);
}

/* Returns the condition waits the kit has woken without a signal so far. Never blocks. */
static long spurious_now(void)
{
    return tl_counts_now().cond_spurious;
}

/* Returns the CLOCK_MONOTONIC time in ms (for upper bounds on rates only). Never blocks. */
static double mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Fails the test, busy-wait first, unless the janitor stays quiet during an
 * idle window (what: the state it is in); then slow-stop if it sleeps. Blocks
 * for the window. */
static void expect_quiet(const char *what)
{
    struct tl_activity a = tl_watch_idle(IDLE_MS);
    tl_assert(!tl_activity_busy(&a), TL_BUSY_WAIT,
              "%s in %d ms %s: the janitor should block in one timed wait until its next "
              "sweep, not poll or spin", tl_activity_str(&a), IDLE_MS, what);
    long sleeps = tl_counts_now().sleeps;
    tl_assert(sleeps == 0, TL_SLOW_STOP,
              "the janitor sleeps (%ld calls to sleep/usleep/nanosleep) %s: a sleeping janitor "
              "cannot be woken by cache_destroy", sleeps, what);
}

/* Put n distinct random keys with random expiry in [1, 100] at clock 0. */
static void put_keys(cache *c, struct probe *p, long n, uint64_t *r)
{
    for (long i = 0; i < n; i++) {
        int key;
        do
            key = (int)(tl_rand(r) % MAXKEYS);
        while (p->expires[key] != -1);
        p->expires[key] = 1 + (long)(tl_rand(r) % 100);
        p->value[key] = value_of(key, p->expires[key]);
        tl_assert(cache_put(c, key, p->value[key], p->expires[key]) == 1, TL_WRONG,
                  "cache_put of a new key must return 1");
    }
}

/* ------------------------------------------------------------------- tests */

TL_INTENT(get_hides_expired_entries,
          "cache_get returns the value that was put for a key, and never a value whose entry has "
          "expired, even before the janitor sweeps it.");
TL_TEST(get_hides_expired_entries)
{
    uint64_t r = tl_input_seed();
    struct probe p;
    probe_init(&p);
    tl_spurious_set(1000); /* every condition wait returns at once, without a signal */
    cache *c = cache_create(HOUR_MS, probe_now, probe_evict, &p); /* the janitor never sweeps */
    tl_assert(c != NULL, TL_WRONG, "cache_create(one hour, now, on_evict, ctx) returned NULL");
    p.c = c;
    long n = 20 + (long)(tl_rand(&r) % 100);
    put_keys(c, &p, n, &r);
    long v;
    for (int k = 0; k < MAXKEYS; k++) {
        bool got = cache_get(c, k, &v);
        tl_assert(got == (p.expires[k] != -1), TL_WRONG, "cache_get(%d) returned %s", k,
                  got ? "true for a key never put" : "false for a live key");
        tl_assert(!got || v == p.value[k], TL_WRONG, "cache_get(%d): value %ld, put %ld", k, v,
                  p.value[k]);
    }
    long t = (long)(tl_rand(&r) % 101);
    atomic_store(&p.clock, t);
    for (int k = 0; k < MAXKEYS; k++) {
        if (p.expires[k] == -1)
            continue;
        bool got = cache_get(c, k, &v);
        tl_assert(got == (t < p.expires[k]), TL_WRONG,
                  "clock %ld, key %d expires at %ld: cache_get returned %s", t, k, p.expires[k],
                  got ? "it (the janitor has not swept yet, so cache_get must check the expiry "
                        "itself)"
                      : "nothing, though it is live");
    }
    tl_assert(cache_size(c) == (size_t)n, TL_WRONG,
              "cache_size is %zu; %ld entries were put and the janitor (one-hour period) has not "
              "swept: only the janitor removes entries", cache_size(c), n);
    int k0 = 0;
    while (p.expires[k0] == -1)
        k0++;
    tl_assert(cache_put(c, k0, value_of(k0, 1000), 1000) == 0, TL_WRONG,
              "cache_put of a key already there must return 0");
    tl_assert(cache_get(c, k0, &v) && v == value_of(k0, 1000), TL_WRONG,
              "cache_put must replace the value and expiry of a key already there");
    tl_assert(cache_size(c) == (size_t)n, TL_WRONG, "replacing a key changed cache_size");
    atomic_store(&p.clock, 1001); /* everything has expired; the hour has not passed */
    long woken = spurious_now();
    for (double t0 = mono_ms(); spurious_now() < woken + 3 && mono_ms() - t0 < tl_bound_s() * 500;)
        tl_idle_ms(1); /* wake-ups once everything expired (half the bound: checks follow) */
    tl_spurious_set(0);
    woken = spurious_now() - woken;
    tl_assert(atomic_load(&p.evicted) == 0, TL_WRONG,
              "with a one-hour sweep period on_evict was called %ld times (after %ld spurious "
              "wake-ups): a wait may return without a signal and before its deadline; wait in "
              "a `while` that re-checks the flag and ETIMEDOUT, not an `if`",
              atomic_load(&p.evicted), woken);

    destroy_bounded(c, &p);
}

TL_INTENT(janitor_evicts_what_expired,
          "The janitor thread finds every expired entry on its sweeps and calls on_evict once "
          "for each, without holding the cache's lock.");
TL_TEST(janitor_evicts_what_expired)
{
    uint64_t r = tl_input_seed();
    struct probe p;
    probe_init(&p);
    p.check_get = true;
    long sweep = 1 + (long)(tl_rand(&r) % 3);
    cache *c = cache_create(sweep, probe_now, probe_evict, &p);
    tl_assert(c != NULL, TL_WRONG, "cache_create(%ld, now, on_evict, ctx) returned NULL", sweep);
    p.c = c;
    long n = 50 + (long)(tl_rand(&r) % 150);
    put_keys(c, &p, n, &r);
    long t = 20 + (long)(tl_rand(&r) % 61), due = 0;
    for (int k = 0; k < MAXKEYS; k++)
        due += p.expires[k] != -1 && p.expires[k] <= t;
    atomic_store(&p.target, due);
    atomic_store(&p.clock, t);
    bool done = until_evicted(&p, due);
    tl_assert(done || !atomic_load(&p.in_get), TL_DEADLOCK,
              "on_evict called cache_get, which never returned: the janitor must call on_evict "
              "after releasing the cache's lock");
    tl_assert(done, TL_WRONG,
              "%ld entries expired at clock %ld; after %.1f s of %ld ms sweeps on_evict had been "
              "called %ld times", due, t, tl_bound_s(), sweep, atomic_load(&p.evicted));
    tl_idle_ms(3 * (int)sweep);
    tl_assert(atomic_load(&p.evicted) == due, TL_WRONG,
              "%ld entries expired at clock %ld, but %ld were evicted", due, t,
              atomic_load(&p.evicted));
    tl_assert(atomic_load(&p.live) == 0 && atomic_load(&p.mismatched) == 0, TL_WRONG,
              "the janitor evicted %ld live entries and %ld entries with wrong values",
              atomic_load(&p.live), atomic_load(&p.mismatched));
    tl_assert(atomic_load(&p.still_there) == 0, TL_WRONG,
              "on_evict was told about %ld keys that cache_get still found: unlink before you "
              "tell", atomic_load(&p.still_there));
    tl_assert(cache_size(c) == (size_t)(n - due), TL_WRONG,
              "cache_size is %zu after %ld of %ld entries were evicted", cache_size(c), due, n);
    long v;
    for (int k = 0; k < MAXKEYS; k++)
        if (p.expires[k] > t)
            tl_assert(cache_get(c, k, &v) && v == p.value[k], TL_WRONG,
                      "live key %d (expires %ld, clock %ld) is gone", k, p.expires[k], t);
    atomic_store(&p.target, n);
    atomic_store(&p.clock, 1000);
    tl_assert(until_evicted(&p, n), TL_WRONG,
              "clock 1000: all %ld entries expired, but only %ld were evicted", n,
              atomic_load(&p.evicted));
    tl_assert(cache_size(c) == 0, TL_WRONG, "cache_size is %zu after every entry was evicted",
              cache_size(c));
    tl_assert(atomic_load(&p.thread) > 0 && atomic_load(&p.foreign) == 0, TL_WRONG,
              "on_evict must be called by the janitor thread only");
    destroy_bounded(c, &p);
    tl_assert(atomic_load(&p.late) == 0, TL_WRONG, "on_evict was called after cache_destroy");
}

struct user {
    cache *c;
    struct probe *p;
    bool writer;
    int ops;
    uint64_t rng;
    long added;    /* writers: cache_put returned 1 */
    long bad;      /* readers: values that were expired or for another key */
    long failed;
    pthread_t th;
};

static void *user_main(void *arg)
{
    struct user *u = arg;
    for (int i = 0; i < u->ops; i++) {
        int key = (int)(tl_rand(&u->rng) % 64);
        if (u->writer) {
            long t = i % 4 == 0 ? atomic_fetch_add(&u->p->clock, 1) + 1 : atomic_load(&u->p->clock);
            long expires = t + 1 + (long)(tl_rand(&u->rng) % 20);
            int rc = cache_put(u->c, key, value_of(key, expires), expires);
            if (rc == 1)
                u->added++;
            else if (rc != 0)
                u->failed++;
        } else if (i % 8 == 0) {
            if (cache_size(u->c) > MAXKEYS) /* only 64 keys are ever put */
                u->bad++;
        } else {
            long t = atomic_load(&u->p->clock), v;
            if (cache_get(u->c, key, &v) && (v % MAXKEYS != key || v / MAXKEYS <= t))
                u->bad++;
        }
    }
    return NULL;
}

TL_INTENT(foreground_threads_and_janitor_share_the_cache,
          "Readers and writers using the cache while the janitor sweeps never see an expired "
          "value, and every expired entry is evicted exactly once.");
TL_TEST(foreground_threads_and_janitor_share_the_cache)
{
    enum { NU = 4 };
    uint64_t r = tl_input_seed();
    struct probe p;
    probe_init(&p);
    cache *c = cache_create(1, probe_now, probe_evict, &p);
    tl_assert(c != NULL, TL_WRONG, "cache_create(1, now, on_evict, ctx) returned NULL");
    p.c = c;
    static struct user u[NU];
    for (int i = 0; i < NU; i++) {
        u[i] = (struct user){.c = c, .p = &p, .writer = i % 2 == 0, .ops = 300 + (int)(tl_rand(&r) % 300)};
        u[i].rng = tl_rand(&r);
        ck_assert(pthread_create(&u[i].th, NULL, user_main, &u[i]) == 0);
    }
    for (int i = 0; i < NU; i++) /* join all before any assertion: no thread left behind */
        ck_assert(pthread_join(u[i].th, NULL) == 0);
    long added = 0;
    for (int i = 0; i < NU; i++) {
        added += u[i].added;
        tl_assert(u[i].failed == 0, TL_WRONG, "cache_put failed %ld times", u[i].failed);
        tl_assert(u[i].bad == 0, TL_WRONG,
                  "reader %d: cache_get returned %ld values that had expired before the call (or "
                  "belonged to another key)", i, u[i].bad);
    }
    atomic_store(&p.target, added);
    atomic_store(&p.clock, 1L << 40);
    tl_assert(until_evicted(&p, added), TL_WRONG,
              "%ld entries were added and all have expired, but %ld were evicted (cache_size "
              "%zu)", added, atomic_load(&p.evicted), cache_size(c));
    tl_idle_ms(3);
    tl_assert(atomic_load(&p.evicted) == added && cache_size(c) == 0, TL_WRONG,
              "%ld entries added; %ld evicted, %zu left: each must be evicted exactly once",
              added, atomic_load(&p.evicted), cache_size(c));
    tl_assert(atomic_load(&p.live) == 0 && atomic_load(&p.mismatched) == 0, TL_WRONG,
              "the janitor evicted %ld live entries and %ld entries with wrong values",
              atomic_load(&p.live), atomic_load(&p.mismatched));
    destroy_bounded(c, &p);
}

TL_INTENT(janitor_stops_promptly_and_never_polls,
          "The janitor sleeps in a wait between sweeps (no polling), and cache_destroy wakes it, "
          "joins it and frees the entries without calling on_evict.");
TL_TEST(janitor_stops_promptly_and_never_polls)
{
    uint64_t r = tl_input_seed();
    struct probe p;
    probe_init(&p);
    cache *c = cache_create(HOUR_MS, probe_now, probe_evict, &p);
    tl_assert(c != NULL, TL_WRONG, "cache_create(one hour, now, on_evict, ctx) returned NULL");
    p.c = c;
    put_keys(c, &p, 1 + (long)(tl_rand(&r) % 50), &r); /* destroy frees them */
    tl_await_blocked_n(TL_ST_COUNT, 1); /* the janitor waits (or sleeps, or spins: no bound) */
    expect_quiet("of a one-hour sweep period");
    destroy_bounded(c, &p);
    tl_assert(atomic_load(&p.evicted) == 0, TL_WRONG,
              "cache_destroy must free the entries without calling on_evict");
}

TL_INTENT(on_evict_may_put_the_key_back,
          "on_evict may call cache_put to put the evicted key back: the entry must already be "
          "out of the cache, and the lock not held, when it is called.");
TL_TEST(on_evict_may_put_the_key_back)
{
    uint64_t r = tl_input_seed();
    struct probe p;
    probe_init(&p);
    p.check_get = true;
    p.reput = true;
    long sweep = 1 + (long)(tl_rand(&r) % 3);
    cache *c = cache_create(sweep, probe_now, probe_evict, &p);
    tl_assert(c != NULL, TL_WRONG, "cache_create(%ld, now, on_evict, ctx) returned NULL", sweep);
    p.c = c;
    long n = 20 + (long)(tl_rand(&r) % 100), odd = 0;
    put_keys(c, &p, n, &r);
    for (int k = 1; k < MAXKEYS; k += 2)
        odd += p.expires[k] != -1;
    atomic_store(&p.target, n);
    atomic_store(&p.clock, 1000); /* every entry expires; on_evict puts the odd keys back */
    bool done = until_evicted(&p, n);
    tl_assert(done || !atomic_load(&p.in_get), TL_DEADLOCK,
              "on_evict called cache_get, which never returned: the janitor must call on_evict "
              "after releasing the cache's lock");
    tl_assert(done, TL_WRONG, "clock 1000: all %ld entries expired, but only %ld were evicted",
              n, atomic_load(&p.evicted));
    tl_idle_ms(3 * (int)sweep);
    tl_assert(atomic_load(&p.reput_bad) == 0, TL_WRONG,
              "on_evict put %ld evicted keys back and cache_put found the key still there: "
              "unlink the entry before telling on_evict about it", atomic_load(&p.reput_bad));
    long v, lost = 0;
    int first = -1;
    for (int k = 1; k < MAXKEYS; k += 2)
        if (p.expires[k] != -1 && !(cache_get(c, k, &v) && v == value_of(k, FAR)) && lost++ == 0)
            first = k;
    tl_assert(lost == 0, TL_WRONG,
              "on_evict put %ld keys back (the contract allows it), but %ld are gone, key %d "
              "first: the janitor must be done with an entry (unlinked, under the lock) before "
              "it calls on_evict, and must not touch the map for it afterwards", odd, lost, first);
    tl_assert(cache_size(c) == (size_t)odd && atomic_load(&p.evicted) == n, TL_WRONG,
              "after every entry expired and on_evict put %ld back: cache_size is %zu, on_evict "
              "was called %ld times (expected %ld)", odd, cache_size(c), atomic_load(&p.evicted),
              n);
    destroy_bounded(c, &p);
}

TL_INTENT(get_is_done_with_its_entry_before_unlocking,
          "cache_get copies what it needs from an entry while it holds the lock, so an entry the "
          "janitor evicts and frees right after is never read.");
TL_TEST(get_is_done_with_its_entry_before_unlocking)
{
    struct probe p;
    probe_init(&p);
    cache *c = cache_create(1, probe_now, probe_evict, &p);
    tl_assert(c != NULL, TL_WRONG, "cache_create(1, now, on_evict, ctx) returned NULL");
    p.c = c;
    int key = (int)(tl_input_seed() % MAXKEYS);
    tl_assert(cache_put(c, key, value_of(key, 10), 10) == 1, TL_WRONG,
              "cache_put of a new key must return 1");
    atomic_store(&p.target, 1);
    /* cache_get's now() expires the entry and holds until the janitor has swept
     * it (if the lock is free) or is stuck on the lock (if get holds it). */
    atomic_store(&p.trap, 1);
    long v = -1;
    bool got = cache_get(c, key, &v);
    if (atomic_load(&p.trap) != 2) { /* it never read the clock: the other tests say why */
        atomic_store(&p.trap, 0);
        destroy_bounded(c, &p);
        return;
    }
    tl_assert(!got, TL_WRONG,
              "cache_get returned the value of an entry that had expired (and was evicted) by "
              "the time it read the clock");
    tl_assert(until_evicted(&p, 1), TL_WRONG, "the expired entry was never evicted");
    destroy_bounded(c, &p);
}

TL_INTENT(janitor_times_out_at_most_once_per_period,
          "The janitor wakes by itself at most once per sweep period: a timed wait with a "
          "deadline, not one that wakes early again and again.");
TL_TEST(janitor_times_out_at_most_once_per_period)
{
    uint64_t r = tl_input_seed();
    struct probe p;
    probe_init(&p);
    long sweep = 2 + (long)(tl_rand(&r) % 3);
    cache *c = cache_create(sweep, probe_now, probe_evict, &p);
    tl_assert(c != NULL, TL_WRONG, "cache_create(%ld, now, on_evict, ctx) returned NULL", sweep);
    p.c = c;
    put_keys(c, &p, 10, &r);
    tl_await_blocked_n(TL_ST_TIMED, 1);
    long before = tl_counts_now().cond_timeouts;
    double t0 = mono_ms();
    tl_idle_ms(RATE_MS);
    long timeouts = tl_counts_now().cond_timeouts - before;
    double ms = mono_ms() - t0;
    /* An upper bound only: each time-out ends one sweep period (+2: the periods
     * under way at either end). */
    long most = (long)(ms / (double)sweep) + 2;
    tl_assert(timeouts <= most, TL_BUSY_WAIT,
              "the janitor's timed waits timed out %ld times in %.1f ms with a %ld ms sweep "
              "period (at most %ld fit): compute a new deadline, one period on, after each "
              "time-out", timeouts, ms, sweep, most);
    destroy_bounded(c, &p);
}

TL_INTENT(failures_are_reported_and_leave_nothing_behind,
          "Bad arguments give EINVAL, and a failed allocation or thread creation inside "
          "cache_create returns NULL with errno set and nothing left behind.");
TL_TEST(failures_are_reported_and_leave_nothing_behind)
{
    struct probe p;
    probe_init(&p);
    cache *ok = cache_create(HOUR_MS, probe_now, probe_evict, &p); /* first: it works at all */
    tl_assert(ok != NULL, TL_WRONG, "cache_create(one hour, now, on_evict, ctx) returned NULL");
    destroy_bounded(ok, &p);
    errno = 0;
    tl_assert(cache_create(0, probe_now, probe_evict, &p) == NULL && errno == EINVAL,
              TL_ERROR_PATH, "cache_create(0, now, on_evict, ctx) must return NULL with errno "
              "EINVAL");
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
        cache *c = cache_create(HOUR_MS, probe_now, probe_evict, &p);
        int err = errno;
        bool fired = tl_fault_fired(faults[i].kind);
        tl_fault_nth(faults[i].kind, 0, 0);
        struct tl_counts k = tl_counts_now();
        if (!fired) {
            if (c != NULL)
                destroy_bounded(c, &p);
            continue;
        }
        tl_assert(c == NULL, TL_ERROR_PATH,
                  "%s inside cache_create, yet it returned a cache: it must return NULL",
                  faults[i].what);
        tl_assert(err == faults[i].err, TL_ERROR_PATH,
                  "%s inside cache_create: it returned NULL with errno %d (%s); the contract "
                  "says %d (%s)", faults[i].what, err, strerror(err), faults[i].err,
                  strerror(faults[i].err));
        tl_assert(k.threads_created == b.threads_created, TL_ERROR_PATH,
                  "%s inside cache_create, yet a thread was started", faults[i].what);
        tl_assert(k.heap_allocs - b.heap_allocs <= k.heap_frees - b.heap_frees, TL_MEMORY,
                  "%s inside cache_create: it made %ld allocations but freed %ld; free what was "
                  "allocated before returning NULL", faults[i].what,
                  k.heap_allocs - b.heap_allocs, k.heap_frees - b.heap_frees);
    }
    cache *c = cache_create(HOUR_MS, probe_now, probe_evict, &p);
    tl_assert(c != NULL, TL_WRONG, "cache_create(one hour, now, on_evict, ctx) returned NULL");
    p.c = c;
    tl_assert(cache_put(c, 1, value_of(1, 50), 50) == 1, TL_WRONG,
              "cache_put of a new key must return 1");
    tl_fault_nth(TL_FAULT_MALLOC, 1, 0);
    errno = 0;
    int rc = cache_put(c, 2, value_of(2, 50), 50);
    int err = errno;
    bool fired = tl_fault_fired(TL_FAULT_MALLOC);
    tl_fault_nth(TL_FAULT_MALLOC, 0, 0);
    long v;
    if (fired) {
        tl_assert(rc == -1 && err == ENOMEM, TL_ERROR_PATH,
                  "cache_put of a new key returned %d (errno %d) when malloc failed; the "
                  "contract says -1 with errno ENOMEM", rc, err);
        tl_assert(!cache_get(c, 2, &v) && cache_size(c) == 1, TL_ERROR_PATH,
                  "a cache_put that failed (ENOMEM) changed the map: cache_size %zu",
                  cache_size(c));
    }
    tl_assert(cache_put(c, 2, value_of(2, 50), 50) == 1 && cache_get(c, 2, &v) &&
                  v == value_of(2, 50) && cache_size(c) == 2,
              TL_ERROR_PATH, "after one failed allocation cache_put must work again");
    destroy_bounded(c, &p);
}

static const struct tl_test tl_tests[] = {
    TL_RUN(get_hides_expired_entries),
    TL_RUN(janitor_evicts_what_expired),
    TL_RUN(foreground_threads_and_janitor_share_the_cache),
    TL_RUN(janitor_stops_promptly_and_never_polls),
    TL_RUN(on_evict_may_put_the_key_back),
    TL_RUN(get_is_done_with_its_entry_before_unlocking),
    TL_RUN(janitor_times_out_at_most_once_per_period),
    TL_RUN(failures_are_reported_and_leave_nothing_behind),
};

TL_MAIN("03-background-thread/janitor")
