/*
 * test_registry.c - tests for chapters/06-shared-objects/registry.c.
 *
 * What it shows: how to prove that readers really run at the same time,
 * without a clock. The test's visit callback counts itself in and then
 * waits at a gate the test holds closed, so a reader stays inside
 * registry_visit() - holding whatever lock it took - for as long as the
 * test likes. If a second reader also gets in, the count says 2; if the
 * lock lets only one thread in, it stays at 1. While the readers are held
 * inside, a put must block: the test waits until the kit's table shows the
 * writer blocked, and checks that it has not returned.
 *
 * DESIGN: every put in the stress test writes one batch of keys all with
 * the same value, so any snapshot or visit that sees two different values
 * saw half of a put: torn. ThreadSanitizer runs every test, so a read or a
 * write of the table outside the right lock is reported as a race.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "registry.h"

/* ------------------------------------------------------------ helpers */

static registry *make_registry(size_t cap)
{
    errno = 0;
    registry *r = registry_create(cap);
    tl_assert(r != NULL, TL_WRONG, "registry_create(%zu) returned NULL (errno %d)", cap, errno);
    return r;
}

static struct registry_entry entry(const char *key, long value)
{
    struct registry_entry e = {.value = value};
    size_t n = strnlen(key, REGISTRY_KEY_MAX);
    memcpy(e.key, key, n);
    e.key[n] = '\0';
    return e;
}

/* -------------------------------------------------------------- tests */

TL_INTENT(rules_on_one_thread,
          "On one thread, put, get, replace and snapshot behave as the contract says, and a zero "
          "capacity gives EINVAL.");
TL_TEST(rules_on_one_thread)
{
    uint64_t rs = tl_input_seed();
    errno = 0;
    tl_assert(registry_create(0) == NULL && errno == EINVAL, TL_WRONG,
              "registry_create(0) must return NULL with errno EINVAL (errno %d)", errno);
    size_t cap = 4 + tl_rand(&rs) % 8;
    registry *r = make_registry(cap);
    long v = 0;
    tl_assert(registry_get(r, "absent", &v) == ENOENT, TL_WRONG,
              "registry_get of a key never put must return ENOENT");
    struct registry_entry out[16];
    tl_assert(registry_snapshot(r, out, 16) == 0, TL_WRONG, "a new registry's snapshot must be empty");
    /* Fill it, two keys per put, with values from the seed. */
    long want[16];
    char key[16][REGISTRY_KEY_MAX + 1];
    for (size_t i = 0; i < cap; i++) {
        snprintf(key[i], sizeof key[i], "k%zu-%u", i, (unsigned)(tl_rand(&rs) % 1000));
        want[i] = (long)(tl_rand(&rs) % 100000);
    }
    for (size_t i = 0; i < cap; i += 2) {
        struct registry_entry es[2] = {entry(key[i], want[i]), entry(key[i + 1 < cap ? i + 1 : i], want[i + 1 < cap ? i + 1 : i])};
        size_t n = i + 1 < cap ? 2 : 1;
        int rc = registry_put(r, es, n);
        tl_assert(rc == 0, TL_WRONG, "registry_put of %zu new keys (%zu of %zu used) returned %d", n, i, cap, rc);
    }
    for (size_t i = 0; i < cap; i++) {
        int rc = registry_get(r, key[i], &v);
        tl_assert(rc == 0 && v == want[i], TL_WRONG, "registry_get(\"%s\") returned %d with %ld, want 0 with %ld",
                  key[i], rc, v, want[i]);
    }
    /* Replace one: same place, new value. */
    size_t k = tl_rand(&rs) % cap;
    want[k] += 7;
    struct registry_entry e1 = entry(key[k], want[k]);
    tl_assert(registry_put(r, &e1, 1) == 0, TL_WRONG, "replacing the value of a key in a full registry must succeed");
    size_t n = registry_snapshot(r, out, 16);
    tl_assert(n == cap, TL_WRONG, "snapshot counted %zu entries, want %zu", n, cap);
    for (size_t i = 0; i < cap; i++)
        tl_assert(strcmp(out[i].key, key[i]) == 0 && out[i].value == want[i], TL_WRONG,
                  "snapshot entry %zu is \"%s\"=%ld, want \"%s\"=%ld (keys in the order they were added)",
                  i, out[i].key, out[i].value, key[i], want[i]);
    struct registry_entry few[2];
    tl_assert(registry_snapshot(r, few, 1) == cap && strcmp(few[0].key, key[0]) == 0, TL_WRONG,
              "a snapshot into room for 1 must copy the first entry and still return the count %zu", cap);
    /* Full: a put with one new key fails and changes nothing, not even the keys it replaces. */
    struct registry_entry es[2] = {entry(key[0], -1), entry("one-too-many", 1)};
    tl_assert(registry_put(r, es, 2) == ENOSPC, TL_WRONG, "a put that does not fit must return ENOSPC");
    tl_assert(registry_get(r, key[0], &v) == 0 && v == want[0], TL_WRONG,
              "a put that failed with ENOSPC changed \"%s\" to %ld: it must change nothing", key[0], v);
    tl_assert(registry_get(r, "one-too-many", &v) == ENOENT, TL_WRONG, "a put that failed added a key");
    /* Bad keys: empty, or too long; nothing changes. */
    struct registry_entry bad[2] = {entry(key[1 % cap], -2), {.key = "", .value = 3}};
    tl_assert(registry_put(r, bad, 2) == EINVAL, TL_WRONG, "a put with an empty key must return EINVAL");
    struct registry_entry lng = {.value = 4};
    memset(lng.key, 'x', sizeof lng.key); /* not terminated */
    tl_assert(registry_put(r, &lng, 1) == EINVAL, TL_WRONG, "a put with an unterminated key must return EINVAL");
    tl_assert(registry_get(r, key[1 % cap], &v) == 0 && v == want[1 % cap], TL_WRONG,
              "a put that failed with EINVAL changed a value");
    registry_destroy(r);
}

/* Readers held inside registry_visit() at a gate the test opens. */
struct visitor {
    registry *r;
    struct tl_gate *gate;
    atomic_int *inside;
    int entries;         /* entries this visit saw */
    bool passed;         /* the gate is passed once, at the first entry */
    struct tl_latch *done;
};

static void visit_fn(const struct registry_entry *e, void *ctx)
{
    struct visitor *v = ctx;
    (void)e;
    v->entries++;
    if (!v->passed) {
        v->passed = true;
        atomic_fetch_add(v->inside, 1);
        tl_gate_pass(v->gate);
    }
}

static void *visitor_main(void *p)
{
    struct visitor *v = p;
    registry_visit(v->r, visit_fn, v);
    tl_latch_arrive(v->done);
    return NULL;
}

struct putter {
    registry *r;
    struct registry_entry e;
    int rc;
    atomic_int returned;
};

static void put_call(void *p)
{
    struct putter *w = p;
    w->rc = registry_put(w->r, &w->e, 1);
    atomic_store(&w->returned, 1);
}

TL_INTENT(readers_are_inside_together_and_a_writer_waits,
          "Many readers can be inside registry_visit at once, and a registry_put waits until no "
          "reader is inside.");
/* snippet: readers_together */
TL_TEST(readers_are_inside_together_and_a_writer_waits)
{
    uint64_t rs = tl_input_seed();
    enum { MAXR = 3 };
    int k = 2 + (int)(tl_rand(&rs) % 2);
    registry *r = make_registry(8);
    struct registry_entry es[2] = {entry("alpha", 1), entry("beta", 2)};
    tl_assert(registry_put(r, es, 2) == 0, TL_WRONG, "registry_put failed");
    struct tl_gate gate;
    struct tl_latch done;
    tl_gate_init(&gate);
    tl_latch_init(&done);
    atomic_int inside = 0;
    struct visitor v[MAXR];
    pthread_t th[MAXR];
    for (int i = 0; i < k; i++) {
        v[i] = (struct visitor){.r = r, .gate = &gate, .inside = &inside, .done = &done};
        tl_check_rc(pthread_create(&th[i], NULL, visitor_main, &v[i]), "pthread_create");
    }
    /* Every reader must get inside while the others are still there. */
    bool together = tl_await_at_least(&inside, k);
    int seen = atomic_load(&inside);
    struct putter w = {.r = r, .e = entry("gamma", 3)};
    struct tl_call *call = NULL;
    bool writer_blocked = false;
    int writer_back = 0;
    if (together) {
        /* While they are inside, a writer must wait. */
        int before = tl_blocked_count(TL_ST_COUNT);
        call = tl_call_start(put_call, &w);
        writer_blocked = tl_await_blocked_n(TL_ST_COUNT, before + 1);
        writer_back = atomic_load(&w.returned);
    }
    tl_gate_open(&gate);
    tl_latch_wait(&done, k);
    for (int i = 0; i < k; i++)
        tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
    tl_assert(together, TL_NOT_PARALLEL,
              "only %d of %d threads in registry_visit were inside at once: readers must not "
              "exclude each other (take the lock for reading)", seen, k);
    bool finished = call != NULL && tl_call_finish(call);
    tl_assert(!writer_back, TL_WRONG,
              "registry_put returned while %d readers were inside registry_visit: a writer must "
              "have the registry alone (take the lock for writing)", k);
    tl_assert(writer_blocked && finished, TL_LOST_WAKEUP,
              "registry_put %s", !writer_blocked ? "never blocked while readers were inside"
                                                 : "did not return after the readers left");
    long g = 0;
    tl_assert(w.rc == 0 && registry_get(r, "gamma", &g) == 0 && g == 3, TL_WRONG,
              "the put made while readers were inside returned %d and left gamma=%ld", w.rc, g);
    for (int i = 0; i < k; i++)
        tl_assert(v[i].entries == 2, TL_WRONG, "a visit saw %d entries, want 2", v[i].entries);
    tl_gate_destroy(&gate);
    tl_latch_destroy(&done);
    registry_destroy(r);
}
/* end snippet: readers_together */

/* ---------------------------------------------------------------- stress */

enum { KEYS = 6, WRITERS = 2, READERS = 2 };

struct stress {
    registry *r;
    int puts;                      /* per writer */
    atomic_int writers_left;
    atomic_long snapshots, torn, bad_count, visits, torn_visits, get_errors, put_errors;
    long torn_a, torn_b;
};

static void key_name(char *out, size_t n, int i) { snprintf(out, n, "shard-%d", i); }

struct stress_arg {
    struct stress *s;
    int id;
};

static void *stress_writer(void *p)
{
    struct stress_arg *a = p;
    struct stress *s = a->s;
    struct registry_entry es[KEYS];
    for (int g = 1; g <= s->puts; g++) {
        long value = (long)g * WRITERS + a->id; /* one value for the whole batch */
        for (int i = 0; i < KEYS; i++) {
            key_name(es[i].key, sizeof es[i].key, (i + a->id) % KEYS); /* each writer its own order */
            es[i].value = value;
        }
        if (registry_put(s->r, es, KEYS) != 0)
            atomic_fetch_add(&s->put_errors, 1);
    }
    atomic_fetch_sub(&s->writers_left, 1);
    return NULL;
}

struct visit_check {
    long first;
    int n;
    bool torn;
};

static void check_fn(const struct registry_entry *e, void *ctx)
{
    struct visit_check *c = ctx;
    if (c->n++ == 0)
        c->first = e->value;
    else if (e->value != c->first)
        c->torn = true;
}

static void *stress_reader(void *p)
{
    struct stress_arg *a = p;
    struct stress *s = a->s;
    struct registry_entry out[KEYS + 2];
    char key[REGISTRY_KEY_MAX + 1];
    for (long i = 0; atomic_load(&s->writers_left) > 0 || i < 50; i++) {
        size_t n = registry_snapshot(s->r, out, KEYS + 2);
        atomic_fetch_add(&s->snapshots, 1);
        if (n != KEYS) {
            atomic_fetch_add(&s->bad_count, 1);
            continue;
        }
        for (int k = 1; k < KEYS; k++)
            if (out[k].value != out[0].value) {
                if (atomic_fetch_add(&s->torn, 1) == 0) {
                    s->torn_a = out[0].value;
                    s->torn_b = out[k].value;
                }
                break;
            }
        struct visit_check c = {0};
        registry_visit(s->r, check_fn, &c);
        atomic_fetch_add(&s->visits, 1);
        if (c.torn || c.n != KEYS)
            atomic_fetch_add(&s->torn_visits, 1);
        long v = 0;
        key_name(key, sizeof key, (int)(i % KEYS));
        if (registry_get(s->r, key, &v) != 0 || (v != 0 && v < WRITERS)) /* 0: the first put */
            atomic_fetch_add(&s->get_errors, 1);
    }
    return NULL;
}

TL_INTENT(snapshots_never_see_half_a_put,
          "A snapshot taken while puts run never sees a put half done: it holds all of one put "
          "or none of it.");
TL_TEST(snapshots_never_see_half_a_put)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 3; round++) {
        struct stress s = {.r = make_registry(KEYS + (size_t)(tl_rand(&rs) % 3)),
                           .puts = 1500 + (int)(tl_rand(&rs) % 500)};
        atomic_store(&s.writers_left, WRITERS);
        struct registry_entry es[KEYS];
        for (int i = 0; i < KEYS; i++) {
            key_name(es[i].key, sizeof es[i].key, i);
            es[i].value = 0;
        }
        tl_assert(registry_put(s.r, es, KEYS) == 0, TL_WRONG, "the first put failed");
        struct stress_arg args[WRITERS + READERS];
        pthread_t th[WRITERS + READERS];
        for (int i = 0; i < WRITERS + READERS; i++) {
            args[i] = (struct stress_arg){&s, i < WRITERS ? i : i - WRITERS};
            tl_check_rc(pthread_create(&th[i], NULL, i < WRITERS ? stress_writer : stress_reader,
                                       &args[i]), "pthread_create");
        }
        for (int i = 0; i < WRITERS + READERS; i++)
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
        tl_assert(s.put_errors == 0, TL_WRONG, "%ld puts of %d existing keys failed", (long)s.put_errors, KEYS);
        tl_assert(s.bad_count == 0, TL_WRONG,
                  "%ld of %ld snapshots counted other than %d entries while only existing keys were put",
                  (long)s.bad_count, (long)s.snapshots, KEYS);
        tl_assert(s.torn == 0, TL_WRONG,
                  "%ld of %ld snapshots were torn (one held %ld and %ld, but every put sets all %d "
                  "keys to one value): a snapshot must copy the table in one read-locked section, "
                  "and a put must change it in one write-locked section",
                  (long)s.torn, (long)s.snapshots, s.torn_a, s.torn_b, KEYS);
        tl_assert(s.torn_visits == 0, TL_WRONG,
                  "%ld of %ld visits saw values of two different puts: the registry must stay "
                  "read-locked for the whole visit", (long)s.torn_visits, (long)s.visits);
        tl_assert(s.get_errors == 0, TL_WRONG, "%ld lookups of present keys failed or saw a value never put",
                  (long)s.get_errors);
        struct registry_entry out[KEYS];
        registry_snapshot(s.r, out, KEYS);
        long last = out[0].value;
        tl_assert(last / WRITERS == s.puts, TL_WRONG,
                  "after %d puts by each writer, the value is %ld: a put was lost", s.puts, last);
        registry_destroy(s.r);
    }
}

static const struct tl_test tl_tests[] = {
    TL_RUN(rules_on_one_thread),
    TL_RUN(readers_are_inside_together_and_a_writer_waits),
    TL_RUN(snapshots_never_see_half_a_put),
};

TL_MAIN("06-shared-objects/registry")
