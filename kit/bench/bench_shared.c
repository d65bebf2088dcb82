/*
 * bench_shared.c - chapter 6's question for a shared map, in numbers: one
 * lock for the whole map, one reader-writer lock, or a lock per stripe of
 * buckets, on a load of 90% reads from 2 threads.
 *
 * What it measures: a chained hash map of integer keys, prefilled with every
 * key of 0..K-1, and 2 threads that each run their own fixed list of
 * operations: 90% lookups of any key, 10% toggles (remove the key if it is
 * there, insert it if not) of keys of their own (thread t toggles only keys
 * with key % 2 == t, so the map's final state does not depend on how the
 * threads interleave). Sides: ours, the lock-striped map (STRIPES mutexes,
 * each on its own cache line, bucket b under stripe b % STRIPES); one mutex
 * around the map; one pthread_rwlock_t around it (lookups read-locked); and
 * serial, one thread running both lists on the same map without locks.
 * There is no target (the issue says "report"): the rows show what each lock
 * costs when the work under it is a few nanoseconds.
 *
 * DESIGN: the three maps are one table and one switch on the kind of lock,
 * so they differ only in the locking. Every trial is checked: every lookup
 * that finds its key must read that key's value, and after the join every
 * key must be present or absent exactly as the two lists say, with no node
 * twice. A trial applies the same toggles again, so a map's state alternates
 * between the prefilled one and its toggled image; each map remembers which
 * one it is in. Insertions take a node allocated before the lock (a removed
 * node is kept for the next insertion), so malloc is never under a lock.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NTHREADS 2
#define STRIPES 64           /* a power of two */
#define READ_PERCENT 90
#define WRITE_BIT 0x80000000u /* in an operation: toggle, else look up; the key is the rest */

static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "bench_shared: %s: %s\n", what, strerror(rc));
    abort();
}

static uint64_t value_of(uint64_t key) /* what the map holds for key, always */
{
    return key * 2654435761u + 1;
}

struct node {
    uint64_t key, value;
    struct node *next;
};

enum kind { STRIPED, ONE_MUTEX, RWLOCK, PLAIN };

struct stripe {
    alignas(64) pthread_mutex_t m; /* a line per stripe: two stripes never share one */
};

struct map {
    enum kind kind;
    struct node **buckets;   /* guarded by the lock(s) of the kind: see lock_bucket() */
    unsigned bits;           /* 2^bits buckets */
    bool toggled;            /* state: prefilled (false) or its toggled image; the trial's own */
    pthread_mutex_t one;     /* ONE_MUTEX */
    pthread_rwlock_t rw;     /* RWLOCK */
    struct stripe stripes[STRIPES]; /* STRIPED */
};

static size_t bucket_of(const struct map *m, uint64_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - m->bits));
}

/* Takes the lock that guards bucket b, for reading or writing. Blocks on it. */
static void lock_bucket(struct map *m, size_t b, bool write)
{
    int rc = 0;
    switch (m->kind) {
    case STRIPED: rc = pthread_mutex_lock(&m->stripes[b & (STRIPES - 1)].m); break;
    case ONE_MUTEX: rc = pthread_mutex_lock(&m->one); break;
    case RWLOCK: rc = write ? pthread_rwlock_wrlock(&m->rw) : pthread_rwlock_rdlock(&m->rw); break;
    case PLAIN: break;
    }
    if (rc != 0)
        die_rc(rc, "lock");
}

static void unlock_bucket(struct map *m, size_t b)
{
    int rc = 0;
    switch (m->kind) {
    case STRIPED: rc = pthread_mutex_unlock(&m->stripes[b & (STRIPES - 1)].m); break;
    case ONE_MUTEX: rc = pthread_mutex_unlock(&m->one); break;
    case RWLOCK: rc = pthread_rwlock_unlock(&m->rw); break;
    case PLAIN: break;
    }
    if (rc != 0)
        die_rc(rc, "unlock");
}

/* Looks key up. Returns true with its value in *value, or false. Blocks on the lock. */
static bool map_get(struct map *m, uint64_t key, uint64_t *value)
{
    size_t b = bucket_of(m, key);
    bool found = false;
    lock_bucket(m, b, false);
    for (const struct node *n = m->buckets[b]; n != NULL; n = n->next)
        if (n->key == key) {
            *value = n->value;
            found = true;
            break;
        }
    unlock_bucket(m, b);
    return found;
}

/* Removes key if present, else inserts it using *spare (allocated here,
 * before the lock, when NULL). A removed node becomes *spare, or is freed when
 * there is one already. Blocks on the lock; aborts when out of memory. */
static void map_toggle(struct map *m, uint64_t key, struct node **spare)
{
    if (*spare == NULL && (*spare = malloc(sizeof **spare)) == NULL)
        abort();
    size_t b = bucket_of(m, key);
    struct node *removed = NULL;
    lock_bucket(m, b, true);
    struct node **p = &m->buckets[b];
    while (*p != NULL && (*p)->key != key)
        p = &(*p)->next;
    if (*p != NULL) {
        removed = *p;
        *p = removed->next;
    } else {
        struct node *n = *spare;
        *spare = NULL;
        *n = (struct node){key, value_of(key), m->buckets[b]};
        m->buckets[b] = n;
    }
    unlock_bucket(m, b);
    if (removed != NULL && *spare == NULL)
        *spare = removed;
    else
        free(removed);
}

/* A new map of kind k with every key of 0..keys-1 in 2^bits buckets. Aborts
 * when out of memory. */
static struct map *map_create(enum kind k, unsigned bits, uint64_t keys)
{
    struct map *m = aligned_alloc(64, sizeof *m);
    if (m == NULL || (m->buckets = calloc((size_t)1 << bits, sizeof *m->buckets)) == NULL)
        abort();
    m->kind = k;
    m->bits = bits;
    m->toggled = false;
    int rc = pthread_mutex_init(&m->one, NULL);
    if (rc == 0)
        rc = pthread_rwlock_init(&m->rw, NULL);
    for (int i = 0; i < STRIPES && rc == 0; i++)
        rc = pthread_mutex_init(&m->stripes[i].m, NULL);
    if (rc != 0)
        die_rc(rc, "lock init");
    struct node *spare = NULL;
    for (uint64_t key = 0; key < keys; key++)
        map_toggle(m, key, &spare);
    free(spare);
    return m;
}

static void map_destroy(struct map *m)
{
    for (size_t b = 0; b < (size_t)1 << m->bits; b++)
        for (struct node *n = m->buckets[b], *next; n != NULL; n = next) {
            next = n->next;
            free(n);
        }
    free(m->buckets);
    pthread_mutex_destroy(&m->one);
    pthread_rwlock_destroy(&m->rw);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&m->stripes[i].m);
    free(m);
}

/* ------------------------------------------------------------------ the load */

struct load {
    uint64_t keys;
    size_t nops;                  /* per thread */
    uint32_t *ops[NTHREADS];      /* each thread's list: key, | WRITE_BIT for a toggle */
    size_t reads[NTHREADS];       /* lookups in each list */
    unsigned char *flips;         /* key toggled an odd number of times by the lists */
};

struct worker {
    alignas(64) struct map *m;    /* a line per worker: they never share one */
    const uint32_t *ops;
    size_t nops;
    size_t reads, wrong;          /* lookups done; lookups that read a wrong value */
};

/* Runs one list of operations on w->m. Never fails; counts into w. */
static void *work(void *arg)
{
    struct worker *w = arg;
    struct node *spare = NULL;
    for (size_t i = 0; i < w->nops; i++) {
        uint32_t op = w->ops[i];
        uint64_t key = op & ~WRITE_BIT, value;
        if (op & WRITE_BIT) {
            map_toggle(w->m, key, &spare);
        } else {
            w->reads++;
            if (map_get(w->m, key, &value) && value != value_of(key))
                w->wrong++;
        }
    }
    free(spare);
    return NULL;
}

/* After a trial: returns 0 when every key is present exactly as the lists
 * say (flipping m->toggled), with its value, and no node is there twice. */
static int map_check(struct map *m, const struct load *l)
{
    m->toggled = !m->toggled;
    uint64_t value, want = 0, nodes = 0;
    for (uint64_t key = 0; key < l->keys; key++) {
        bool present = !(m->toggled && l->flips[key]);
        want += present;
        if (map_get(m, key, &value) != present || (present && value != value_of(key)))
            return 1;
    }
    for (size_t b = 0; b < (size_t)1 << m->bits; b++)
        for (const struct node *n = m->buckets[b]; n != NULL; n = n->next)
            nodes++;
    return nodes == want ? 0 : 1;
}

struct side {
    struct map *m;
    const struct load *l;
};

static int run_threads(void *ctx)
{
    struct side *s = ctx;
    pthread_t th[NTHREADS];
    struct worker w[NTHREADS];
    int rc, bad = 0;
    for (int t = 0; t < NTHREADS; t++) {
        w[t] = (struct worker){s->m, s->l->ops[t], s->l->nops, 0, 0};
        if ((rc = pthread_create(&th[t], NULL, work, &w[t])) != 0)
            die_rc(rc, "pthread_create");
    }
    for (int t = 0; t < NTHREADS; t++) {
        if ((rc = pthread_join(th[t], NULL)) != 0)
            die_rc(rc, "pthread_join");
        bad |= w[t].reads != s->l->reads[t] || w[t].wrong != 0;
    }
    return bad | map_check(s->m, s->l);
}

static int run_serial(void *ctx) /* both lists, one after the other, in this thread */
{
    struct side *s = ctx;
    int bad = 0;
    for (int t = 0; t < NTHREADS; t++) {
        struct worker w = {s->m, s->l->ops[t], s->l->nops, 0, 0};
        work(&w);
        bad |= w.reads != s->l->reads[t] || w.wrong != 0;
    }
    return bad | map_check(s->m, s->l);
}

/* Fills the lists: splitmix64 from a fixed seed, so every run has the same load. */
static void make_load(struct load *l, uint64_t keys, size_t nops)
{
    l->keys = keys;
    l->nops = nops;
    l->flips = calloc(keys, 1);
    if (l->flips == NULL)
        abort();
    uint64_t x = 42;
    for (int t = 0; t < NTHREADS; t++) {
        if ((l->ops[t] = malloc(nops * sizeof *l->ops[t])) == NULL)
            abort();
        l->reads[t] = 0;
        for (size_t i = 0; i < nops; i++) {
            uint64_t z = (x += 0x9E3779B97F4A7C15ull);
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            z ^= z >> 31;
            uint32_t key = (uint32_t)((z >> 8) % keys);
            if (z % 100 < READ_PERCENT) {
                l->ops[t][i] = key;
                l->reads[t]++;
            } else {
                key = (key & ~1u) | (uint32_t)t; /* thread t toggles only its own keys (keys is even) */
                l->ops[t][i] = key | WRITE_BIT;
                l->flips[key] ^= 1;
            }
        }
    }
}

static int measure(const struct bench_opts *o, const char *workload, unsigned bits, size_t nops)
{
    struct load l;
    uint64_t keys = (uint64_t)1 << bits;
    make_load(&l, keys, nops);
    static const char *names[] = {"ours (striped)", "one-mutex map", "rwlock map", "serial"};
    struct side s[4];
    struct bench_group g = {.pattern = "shared objects", .workload = workload,
                            .items = (double)(nops * NTHREADS), .serial = PLAIN};
    for (int k = STRIPED; k <= PLAIN; k++) {
        s[k] = (struct side){map_create((enum kind)k, bits, keys), &l};
        g.sides[g.nsides++] = (struct bench_side){names[k], k == PLAIN ? run_serial : run_threads, &s[k]};
    }
    int bad = bench_run(o, &g) != 0;
    if (!bad) {
        bench_report(o, &g, ONE_MUTEX, 0, 0); /* the target: report */
        bench_report(o, &g, RWLOCK, 0, 0);
    }
    for (int k = STRIPED; k <= PLAIN; k++)
        map_destroy(s[k].m);
    for (int t = 0; t < NTHREADS; t++)
        free(l.ops[t]);
    free(l.flips);
    return bad;
}

int main(int argc, char **argv)
{
    struct bench_opts o = bench_parse(argc, argv);
    if (o.smoke)
        return measure(&o, "90% reads, 1k keys, 2x10k ops", 10, 10000);
    return measure(&o, "90% reads, 4k keys, 2x2M ops", 12, 2000000);
}
