/* expect: data-race|memory */
/* BUG (janitor--unlocked-get): cache_get walks the chain without the lock while puts and the janitor relink and free entries: a data race. */
/*
 * janitor--unlocked-get.c - a cache with a janitor thread (KNOWN-BUGGY
 * variant: cache_get skips the lock).
 *
 * What it shows: a background thread sharing a hash map with foreground
 * threads, and the two habits that keep that sharing cheap: do under the lock
 * only what needs the lock, and never call out of the module with it held.
 *
 * DESIGN: one mutex guards the buckets, the entry count and the stop flag.
 * Each sweep, the janitor reads the clock once, unlinks every entry expired
 * at that instant onto a private list - at that point no other thread can
 * reach them - and releases the lock; on_evict and free() then run while
 * foreground threads use the map again. cache_get() compares the expiry with
 * the clock itself, because an entry can expire between two sweeps. The
 * janitor's only blocking point is a timed wait on a CLOCK_MONOTONIC
 * condition variable, which cache_destroy() signals.
 */
#define _POSIX_C_SOURCE 200809L
#include "janitor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NBUCKETS 64

struct entry {
    struct entry *next; /* guarded by the cache's lock while the entry is in the map */
    int key;
    long value;
    long expires;       /* expired once now() >= expires */
};

struct cache {
    pthread_mutex_t lock;
    pthread_cond_t wake;              /* CLOCK_MONOTONIC; signalled when stopping is set */
    struct entry *bucket[NBUCKETS];   /* guarded by lock */
    size_t count;                     /* guarded by lock; entries in the map */
    bool stopping;                    /* guarded by lock; set once, by cache_destroy() */
    /* Immutable after cache_create(). */
    long sweep_ms;
    cache_clock_fn now;
    cache_evict_fn on_evict;
    void *ctx;
    pthread_t thread;
};

/* ------------------------------------------------------- checked pthread calls */

static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

static void mutex_lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_lock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_lock");
}

static void mutex_unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_unlock");
}

static void cond_signal(pthread_cond_t *c)
{
    int rc = pthread_cond_signal(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_signal");
}

/* Wait on c until signalled or the absolute CLOCK_MONOTONIC time `at`.
 * Returns 0 or ETIMEDOUT; aborts on any other error. */
static int cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *at)
{
    int rc = pthread_cond_timedwait(c, m, at);
    if (rc != 0 && rc != ETIMEDOUT)
        die_rc(rc, "pthread_cond_timedwait");
    return rc;
}

/* Initialise c to measure timed waits on CLOCK_MONOTONIC. Returns 0 or an errno. */
static int cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    int rc = pthread_condattr_init(&a);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return rc;
}

/* The CLOCK_MONOTONIC time ms milliseconds from now. Never blocks. */
static struct timespec deadline_after_ms(long ms)
{
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    at.tv_sec += ms / 1000;
    at.tv_nsec += (ms % 1000) * 1000000L;
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    return at;
}

/* ------------------------------------------------------------------ the map */

/* The default clock: CLOCK_MONOTONIC in milliseconds. */
static long monotonic_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct entry **bucket_of(cache *c, int key)
{
    return &c->bucket[(unsigned)key % NBUCKETS];
}

/* The entry for key, or NULL. Caller holds c->lock. */
static struct entry *find_locked(cache *c, int key)
{
    for (struct entry *e = *bucket_of(c, key); e != NULL; e = e->next)
        if (e->key == key)
            return e;
    return NULL;
}

/* Unlink every entry expired at time t and return them as a list. Caller holds c->lock. */
static struct entry *unlink_expired_locked(cache *c, long t)
{
    struct entry *dead = NULL;
    for (size_t b = 0; b < NBUCKETS; b++) {
        struct entry **pp = &c->bucket[b];
        while (*pp != NULL) {
            struct entry *e = *pp;
            if (e->expires <= t) {
                *pp = e->next;
                e->next = dead;
                dead = e;
                c->count--;
            } else {
                pp = &e->next;
            }
        }
    }
    return dead;
}

/* ------------------------------------------------------------ the janitor */

/* The janitor: every sweep_ms, evict what has expired. Returns NULL once
 * stopping is set. Blocks in its timed wait, and for the lock. */
static void *janitor_main(void *arg)
{
    cache *c = arg;
    mutex_lock(&c->lock);
    while (!c->stopping) {
        struct timespec deadline = deadline_after_ms(c->sweep_ms);
        int rc = 0;
        while (!c->stopping && rc != ETIMEDOUT)
            rc = cond_timedwait(&c->wake, &c->lock, &deadline);
        if (c->stopping)
            break;
        struct entry *dead = unlink_expired_locked(c, c->now(c->ctx));
        /* The dead entries are ours alone now: tell and free without the lock. */
        mutex_unlock(&c->lock);
        while (dead != NULL) {
            struct entry *e = dead;
            dead = e->next;
            if (c->on_evict != NULL)
                c->on_evict(c->ctx, e->key, e->value);
            free(e);
        }
        mutex_lock(&c->lock);
    }
    mutex_unlock(&c->lock);
    return NULL;
}

/* ---------------------------------------------------------------- the API */

cache *cache_create(long sweep_ms, cache_clock_fn now, cache_evict_fn on_evict, void *ctx)
{
    if (sweep_ms <= 0) {
        errno = EINVAL;
        return NULL;
    }
    cache *c = calloc(1, sizeof *c);
    if (c == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    c->sweep_ms = sweep_ms;
    c->now = now != NULL ? now : monotonic_ms;
    c->on_evict = on_evict;
    c->ctx = ctx;
    int rc = pthread_mutex_init(&c->lock, NULL);
    if (rc != 0)
        goto fail_free;
    rc = cond_init_monotonic(&c->wake);
    if (rc != 0)
        goto fail_mutex;
    rc = pthread_create(&c->thread, NULL, janitor_main, c);
    if (rc != 0)
        goto fail_cond;
    return c;

fail_cond:
    pthread_cond_destroy(&c->wake);
fail_mutex:
    pthread_mutex_destroy(&c->lock);
fail_free:
    free(c);
    errno = rc;
    return NULL;
}

int cache_put(cache *c, int key, long value, long expires)
{
    struct entry *fresh = malloc(sizeof *fresh); /* allocate before taking the lock */
    if (fresh == NULL) {
        errno = ENOMEM;
        return -1;
    }
    mutex_lock(&c->lock);
    struct entry *e = find_locked(c, key);
    int added = e == NULL;
    if (added) {
        e = fresh;
        e->key = key;
        e->next = *bucket_of(c, key);
        *bucket_of(c, key) = e;
        c->count++;
        fresh = NULL;
    }
    e->value = value;
    e->expires = expires;
    mutex_unlock(&c->lock);
    free(fresh); /* unused when an entry was replaced */
    return added;
}

bool cache_get(cache *c, int key, long *value)
{
    /* BUG: "gets only read, so they need no lock" - but puts and the janitor
     * write the chains and free entries while this walks them. */
    struct entry *e = find_locked(c, key);
    bool live = e != NULL && c->now(c->ctx) < e->expires; /* may be expired, not yet swept */
    if (live)
        *value = e->value;
    /* BUG: no unlock: no lock was taken. */
    return live;
}

size_t cache_size(cache *c)
{
    mutex_lock(&c->lock);
    size_t n = c->count;
    mutex_unlock(&c->lock);
    return n;
}

void cache_destroy(cache *c)
{
    mutex_lock(&c->lock);
    c->stopping = true;
    cond_signal(&c->wake); /* one waiter: the janitor */
    mutex_unlock(&c->lock);
    int rc = pthread_join(c->thread, NULL);
    if (rc != 0)
        die_rc(rc, "pthread_join");
    for (size_t b = 0; b < NBUCKETS; b++) {
        struct entry *e = c->bucket[b];
        while (e != NULL) {
            struct entry *next = e->next;
            free(e);
            e = next;
        }
    }
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
