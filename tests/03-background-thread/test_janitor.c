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
 * DESIGN: as in test_ticker.c: no wall-clock assertion. The janitor sweeps on
 * its own period; the test waits (bounded, on a semaphore that on_evict
 * posts) until the evictions it expects have happened, then checks that no
 * more happen. Invariant checked under concurrency: every entry added is
 * evicted exactly once, or is still there: added == evicted + cache_size().
 */
#include "tlcheck.h"
#include "tltest.h"

#include "janitor.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>

#define HOUR_MS (3600L * 1000)
#define MAXKEYS 256

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

static long probe_now(void *ctx)
{
    struct probe *p = ctx;
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
        atomic_store(&p->in_get, false);
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
    tl_assert(k.sleeps == 0, TL_SLOW_STOP,
              "the janitor called sleep/usleep/nanosleep %ld times: a sleeping janitor cannot "
              "be woken by cache_destroy", k.sleeps);
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

TL_TEST(get_hides_expired_entries)
{
    uint64_t r = tl_input_seed();
    struct probe p;
    probe_init(&p);
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
    tl_assert(atomic_load(&p.evicted) == 0, TL_WRONG,
              "on_evict was called %ld times though the janitor never swept",
              atomic_load(&p.evicted));
    destroy_bounded(c, &p);
}

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
        } else {
            long t = atomic_load(&u->p->clock), v;
            if (cache_get(u->c, key, &v) && (v % MAXKEYS != key || v / MAXKEYS <= t))
                u->bad++;
        }
    }
    return NULL;
}

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

TL_TEST(janitor_stops_promptly_and_never_polls)
{
    uint64_t r = tl_input_seed();
    struct probe p;
    probe_init(&p);
    cache *c = cache_create(HOUR_MS, probe_now, probe_evict, &p);
    tl_assert(c != NULL, TL_WRONG, "cache_create(one hour, now, on_evict, ctx) returned NULL");
    p.c = c;
    put_keys(c, &p, 1 + (long)(tl_rand(&r) % 50), &r); /* destroy frees them */
    tl_await_blocked(0, NULL); /* the janitor waits (or sleeps) */
    struct tl_counts before, k;
    tl_counts_get(&before);
    tl_assert(before.sleeps == 0, TL_SLOW_STOP,
              "the janitor sleeps (%ld calls to sleep/usleep/nanosleep): with a one-hour sweep "
              "period, cache_destroy would wait up to an hour", before.sleeps);
    tl_idle_ms(30);
    tl_counts_get(&k);
    long waits = k.cond_waits + k.cond_timedwaits - before.cond_waits - before.cond_timedwaits;
    long locks = k.mutex_locks - before.mutex_locks;
    tl_assert(waits <= 4 && locks <= 8, TL_BUSY_WAIT,
              "in 30 ms of a one-hour sweep period the janitor woke %ld times (%ld locks): it "
              "should block in one timed wait", waits, locks);
    destroy_bounded(c, &p);
    tl_assert(atomic_load(&p.evicted) == 0, TL_WRONG,
              "cache_destroy must free the entries without calling on_evict");
}

static const struct tl_test tl_tests[] = {
    TL_RUN(get_hides_expired_entries),
    TL_RUN(janitor_evicts_what_expired),
    TL_RUN(foreground_threads_and_janitor_share_the_cache),
    TL_RUN(janitor_stops_promptly_and_never_polls),
};

TL_MAIN("03-background-thread/janitor")
