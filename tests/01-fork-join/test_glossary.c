/*
 * test_glossary.c - tests for exercise 01-fork-join/glossary.
 *
 * What it shows: testing a reference count from the outside. The on_free
 * callback is ours: it counts how many times the glossary was freed, and
 * compares with how many references the test believes are still held.
 *
 * DESIGN: every owner in these tests first takes itself off the `holders`
 * count, then calls glossary_release(); so when the glossary is freed,
 * `holders` must be zero - if not, it was freed while still in use. The
 * holders counter is relaxed on purpose: a stronger order would synchronize
 * the threads for the learner's code and hide a missing release/acquire
 * from ThreadSanitizer. Use after free itself is caught by the asan pass; a
 * glossary never freed (a leak) or freed twice is seen by counting on_free
 * calls, in every pass. glossary_create's own error path is run by making
 * each of its allocations fail in turn (tl_fault_nth).
 */
#define _GNU_SOURCE
#include "tlcheck.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "glossary.h"

#define MAX_WORDS 512

static char word_buf[MAX_WORDS][24];
static char def_buf[MAX_WORDS][48];
static const char *words[MAX_WORDS];
static const char *defs[MAX_WORDS];

static atomic_long holders;   /* references the test believes are held */
static atomic_int frees;      /* on_free calls */
static atomic_int early;      /* on_free calls that found holders != 0 */
static int probe_ctx;         /* passed as ctx, checked in on_free */
static atomic_int bad_ctx;

static void on_free(void *ctx)
{
    if (ctx != &probe_ctx)
        atomic_fetch_add_explicit(&bad_ctx, 1, memory_order_relaxed);
    if (atomic_load_explicit(&holders, memory_order_relaxed) != 0)
        atomic_fetch_add_explicit(&early, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&frees, 1, memory_order_relaxed);
}

/* Fills words/defs with n distinct random words and their definitions. */
static void make_words(uint64_t *rng, size_t n)
{
    uint64_t base = tl_rand(rng);
    for (size_t i = 0; i < n; i++) {
        snprintf(word_buf[i], sizeof word_buf[i], "w%zx%llx", i, (unsigned long long)(base % 99991));
        snprintf(def_buf[i], sizeof def_buf[i], "meaning %llu of %s",
                 (unsigned long long)(tl_rand(rng) % 1000000), word_buf[i]);
        words[i] = word_buf[i];
        defs[i] = def_buf[i];
    }
}

/* Creates a glossary of n words with our on_free; the test holds one reference. */
static glossary *make_glossary(uint64_t *rng, size_t n)
{
    make_words(rng, n);
    atomic_store(&holders, 1);
    atomic_store(&frees, 0);
    atomic_store(&early, 0);
    atomic_store(&bad_ctx, 0);
    glossary *g = glossary_create(words, defs, n, on_free, &probe_ctx);
    tl_assert(g != NULL, TL_WRONG, "glossary_create(%zu words) returned NULL (errno %d)", n, errno);
    return g;
}

/* Takes a reference for a new owner (counted first, then retained). */
static glossary *take(glossary *g)
{
    atomic_fetch_add_explicit(&holders, 1, memory_order_relaxed);
    return glossary_retain(g);
}

/* Gives up a reference (uncounted first, then released). */
static void give_up(glossary *g)
{
    atomic_fetch_sub_explicit(&holders, 1, memory_order_relaxed);
    glossary_release(g);
}

/* Looks up m words (some absent); returns how many answers were wrong. */
static int lookups(const glossary *g, size_t n, uint64_t *rng, int m)
{
    int wrong = 0;
    for (int k = 0; k < m; k++) {
        size_t i = (size_t)(tl_rand(rng) % n);
        const char *d = glossary_lookup(g, words[i]);
        if (d == NULL || strcmp(d, defs[i]) != 0)
            wrong++;
        if (glossary_lookup(g, "no-such-word") != NULL)
            wrong++;
        if (glossary_size(g) != n)
            wrong++;
    }
    return wrong;
}

/* Fails unless the glossary was freed exactly once, by the last release. */
static void check_freed_once(const char *when)
{
    tl_assert(atomic_load(&early) == 0, TL_MEMORY,
              "%s: the glossary was freed while references were still held (early free: the "
              "owners left used freed memory)", when);
    tl_assert(atomic_load(&frees) != 0, TL_MEMORY,
              "%s: the glossary was never freed (a leak): the release that drops the last "
              "reference must call on_free and free it (that release is the one whose "
              "atomic_fetch_sub returns 1, the value before the subtraction)", when);
    tl_assert(atomic_load(&frees) == 1, TL_MEMORY,
              "%s: on_free was called %d times (the glossary was freed more than once), expected "
              "exactly once, by the last release", when, atomic_load(&frees));
    tl_assert(atomic_load(&bad_ctx) == 0, TL_WRONG, "%s: on_free got the wrong ctx", when);
}

TL_INTENT(lookups_and_last_release_frees,
          "Every word is found with its definition, an absent word is not, and the creator's one "
          "release frees the glossary exactly once.");
TL_TEST(lookups_and_last_release_frees)
{
    uint64_t rng = tl_input_seed();
    size_t n = 50 + tl_rand(&rng) % 400;
    glossary *g = make_glossary(&rng, n);
    tl_assert(glossary_size(g) == n, TL_WRONG, "size %zu, expected %zu", glossary_size(g), n);
    for (size_t i = 0; i < n; i++) {
        const char *d = glossary_lookup(g, words[i]);
        tl_assert(d != NULL && strcmp(d, defs[i]) == 0, TL_WRONG, "lookup(%s) = %s, expected %s",
                  words[i], d ? d : "NULL", defs[i]);
    }
    tl_assert(glossary_lookup(g, "absent") == NULL, TL_WRONG, "lookup of an absent word");
    tl_assert(atomic_load(&frees) == 0, TL_MEMORY, "freed before any release");
    give_up(g);
    check_freed_once("after the creator's only release");
}

TL_INTENT(retains_keep_it_alive,
          "A glossary stays alive and readable while any retained reference is held, and is "
          "freed exactly once when the last one is released.");
TL_TEST(retains_keep_it_alive)
{
    uint64_t rng = tl_input_seed() ^ 0x8888;
    for (int round = 0; round < 20; round++) {
        size_t n = 10 + tl_rand(&rng) % 100;
        glossary *g = make_glossary(&rng, n);
        int k = 1 + (int)(tl_rand(&rng) % 40);
        for (int i = 0; i < k; i++)
            tl_assert(take(g) == g, TL_WRONG, "glossary_retain did not return its argument");
        give_up(g); /* the creator's reference goes first */
        for (int i = 0; i < k; i++) {
            tl_assert(atomic_load(&frees) == 0, TL_MEMORY,
                      "freed while %d references were still held", k - i);
            tl_assert(lookups(g, n, &rng, 4) == 0, TL_WRONG, "wrong lookup result");
            give_up(g);
        }
        check_freed_once("after the last of several releases");
    }
}

struct owner {
    glossary *g;   /* one reference, owned by this thread */
    size_t n;
    uint64_t seed;
    int pairs;     /* extra retain/release pairs to do */
};

static atomic_int wrong_lookups;

/* Thread body: uses its reference, churns the count, then lets go. Frees its owner. */
static void *owner_thread(void *arg)
{
    struct owner *o = arg;
    uint64_t rng = o->seed;
    tl_note_worker();
    int wrong = lookups(o->g, o->n, &rng, 16);
    for (int i = 0; i < o->pairs; i++) {
        glossary *again = take(o->g);
        wrong += lookups(again, o->n, &rng, 1);
        give_up(again);
    }
    wrong += lookups(o->g, o->n, &rng, 16);
    atomic_fetch_add_explicit(&wrong_lookups, wrong, memory_order_relaxed);
    give_up(o->g);
    free(o);
    return NULL;
}

/* Starts nthreads owners, each with its own reference; returns after
 * joining them. If creator_first, the creator releases right after the
 * fork, so one of the threads must free the glossary. */
static void share(glossary *g, size_t n, int nthreads, int pairs, uint64_t *rng, bool creator_first)
{
    pthread_t t[16];
    atomic_store(&wrong_lookups, 0);
    for (int i = 0; i < nthreads; i++) {
        struct owner *o = malloc(sizeof *o);
        ck_assert_ptr_nonnull(o);
        *o = (struct owner){take(g), n, tl_rand(rng), pairs};
        ck_assert_int_eq(pthread_create(&t[i], NULL, owner_thread, o), 0);
    }
    if (creator_first)
        give_up(g);
    for (int i = 0; i < nthreads; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    tl_assert(atomic_load(&wrong_lookups) == 0, TL_WRONG, "%d lookups gave a wrong answer",
              atomic_load(&wrong_lookups));
}

TL_INTENT(last_thread_frees,
          "When the creator releases first and several threads release later, whichever thread "
          "releases last frees the glossary, exactly once.");
TL_TEST(last_thread_frees)
{
    uint64_t rng = tl_input_seed() ^ 0x9999;
    for (int round = 0; round < 20; round++) {
        size_t n = 16 + tl_rand(&rng) % 64;
        glossary *g = make_glossary(&rng, n);
        share(g, n, 2 + (int)(tl_rand(&rng) % 7), 10, &rng, true);
        check_freed_once("after the creator released first and every thread released");
    }
}

TL_INTENT(many_owners_churn_the_count,
          "8 threads doing 1000 retain/release pairs each never free the glossary early: the "
          "reference count must be updated atomically.");
TL_TEST(many_owners_churn_the_count)
{
    uint64_t rng = tl_input_seed() ^ 0xaaaa;
    size_t n = 100;
    glossary *g = make_glossary(&rng, n);
    share(g, n, 8, 1000, &rng, false);
    tl_assert(atomic_load(&frees) == 0, TL_MEMORY,
              "freed while the creator still held its reference (is the count atomic?)");
    give_up(g);
    check_freed_once("after 8 threads did 1000 retain/release pairs each");
}

TL_INTENT(create_fails_cleanly,
          "When an allocation inside glossary_create fails, it returns NULL with errno set and "
          "frees everything it had allocated so far.");
TL_TEST(create_fails_cleanly)
{
    uint64_t rng = tl_input_seed() ^ 0xbbbb;
    for (long nth = 1; nth <= 5; nth++) {
        size_t n = 5 + tl_rand(&rng) % 50;
        make_words(&rng, n);
        atomic_store(&holders, 1);
        atomic_store(&frees, 0);
        atomic_store(&early, 0);
        atomic_store(&bad_ctx, 0);
        tl_counts_reset();
        errno = 0;
        tl_fault_nth(TL_FAULT_MALLOC, nth, ENOMEM);
        glossary *g = glossary_create(words, defs, n, on_free, &probe_ctx);
        int err = errno;
        bool fired = tl_fault_fired(TL_FAULT_MALLOC);
        tl_fault_nth(TL_FAULT_MALLOC, 0, 0);
        struct tl_counts c;
        tl_counts_get(&c);
        if (!fired) { /* glossary_create makes fewer allocations: then it must work */
            tl_assert(g != NULL, TL_WRONG, "glossary_create(%zu words) returned NULL (errno %d)",
                      n, err);
            give_up(g);
            check_freed_once("after a create that worked, and its release");
            continue;
        }
        tl_assert(g == NULL, TL_ERROR_PATH,
                  "with its allocation number %ld failing, glossary_create returned a glossary "
                  "instead of NULL (glossary.h)", nth);
        tl_assert(err == ENOMEM, TL_ERROR_PATH,
                  "with its allocation number %ld failing, glossary_create returned NULL but left "
                  "errno = %d, expected ENOMEM (glossary.h)", nth, err);
        tl_assert(c.heap_allocs <= c.heap_frees, TL_MEMORY,
                  "with its allocation number %ld failing, glossary_create made %ld allocations "
                  "and freed %ld: what it did get must be freed before it returns NULL", nth,
                  c.heap_allocs, c.heap_frees);
        tl_assert(atomic_load(&frees) == 0, TL_WRONG,
                  "a glossary_create that failed called on_free");
    }
    glossary *g = make_glossary(&rng, 20); /* and with nothing failing, it works again */
    give_up(g);
    check_freed_once("after a create that worked, and its release");
}

static const struct tl_test tl_tests[] = {
    TL_RUN(lookups_and_last_release_frees),
    TL_RUN(retains_keep_it_alive),
    TL_RUN(last_thread_frees),
    TL_RUN(many_owners_churn_the_count),
    TL_RUN(create_fails_cleanly),
};
TL_MAIN("01-fork-join/glossary")
