/*
 * test_sema.c - tests for chapters/06-shared-objects/sema.c.
 *
 * What it shows: testing a monitor's two classic mistakes directly. To see
 * that a release wakes every waiter that may proceed, the test parks
 * acquirers in their condition waits first (the kit's wait-for table shows
 * them there), then releases, then checks that each came back. To see that
 * a waiter re-checks after waking, the kit makes condition waits return
 * without a signal (tl_spurious_set), and the test checks that no acquirer
 * ever returns without its units.
 *
 * DESIGN: "without its units" is a count: every holder adds what it took
 * to a shared atomic and subtracts it before releasing, so the sum may
 * never exceed the units the semaphore was created with. Waiters report on
 * a latch, so a lost wake-up shows them all in a condition wait.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sema.h"

/* ------------------------------------------------------------ helpers */

static sema *make_sema(unsigned initial)
{
    errno = 0;
    sema *s = sema_create(initial);
    tl_assert(s != NULL, TL_WRONG, "sema_create(%u) returned NULL (errno %d)", initial, errno);
    return s;
}

struct acquirer {
    sema *s;
    unsigned n;
    atomic_int *returned;
    struct tl_latch *latch;
};

static void *acquire_once(void *p)
{
    struct acquirer *a = p;
    sema_acquire(a->s, a->n);
    atomic_fetch_add(a->returned, 1);
    tl_latch_arrive(a->latch);
    return NULL;
}

/* Start acquirers for want[0..k-1] units, one by one, each blocked in a
 * condition wait before the next starts. */
static void start_blocked(struct acquirer *a, pthread_t *th, const unsigned *want, int k, sema *s,
                          atomic_int *returned, struct tl_latch *latch)
{
    for (int i = 0; i < k; i++) {
        int before = tl_blocked_count(TL_ST_COND);
        a[i] = (struct acquirer){.s = s, .n = want[i], .returned = returned, .latch = latch};
        tl_check_rc(pthread_create(&th[i], NULL, acquire_once, &a[i]), "pthread_create");
        bool blocked = tl_await_blocked_n(TL_ST_COND, before + 1);
        tl_assert(atomic_load(returned) == 0, TL_WRONG,
                  "sema_acquire(%u) returned with %u units free: it must wait", want[i],
                  sema_value(s));
        tl_assert(blocked, TL_BUSY_WAIT,
                  "sema_acquire(%u) with too few units free never waited on a condition variable",
                  want[i]);
    }
}

/* Returns whether *returned reached n within tl_bound_s(); blocks in poll(). */
static bool await_returned(atomic_int *returned, int n)
{
    return tl_await_at_least(returned, n); /* gives up at once when every waiter is stuck for good */
}

/* -------------------------------------------------------------- tests */

TL_INTENT(counts_on_one_thread,
          "On one thread, the semaphore counts its units exactly, and try_acquire takes all it "
          "asks for or nothing.");
TL_TEST(counts_on_one_thread)
{
    uint64_t rs = tl_input_seed();
    unsigned init = 2 + (unsigned)(tl_rand(&rs) % 20);
    sema *s = make_sema(init);
    tl_assert(sema_value(s) == init, TL_WRONG, "a new semaphore holds %u, want %u", sema_value(s), init);
    sema_acquire(s, init - 1);
    tl_assert(sema_value(s) == 1, TL_WRONG, "after acquire(%u) of %u: %u left, want 1", init - 1,
              init, sema_value(s));
    tl_assert(!sema_try_acquire(s, 2) && sema_value(s) == 1, TL_WRONG,
              "try_acquire(2) with 1 free must fail and take nothing");
    tl_assert(sema_try_acquire(s, 1) && sema_value(s) == 0, TL_WRONG,
              "try_acquire(1) with 1 free must take it");
    sema_release(s, init);
    tl_assert(sema_value(s) == init, TL_WRONG, "after release(%u): %u, want %u", init, sema_value(s), init);
    sema_destroy(s);
    sema *z = make_sema(0);
    tl_assert(sema_value(z) == 0 && !sema_try_acquire(z, 1), TL_WRONG, "a semaphore made with 0 has no unit");
    sema_destroy(z);
}

TL_INTENT(acquire_waits_until_a_release,
          "sema_acquire sleeps until a release makes enough units free, then takes them.");
TL_TEST(acquire_waits_until_a_release)
{
    uint64_t rs = tl_input_seed();
    unsigned n = 1 + (unsigned)(tl_rand(&rs) % 4);
    sema *s = make_sema(n - 1);
    atomic_int returned = 0;
    struct tl_latch latch;
    tl_latch_init(&latch);
    struct acquirer a;
    pthread_t th;
    start_blocked(&a, &th, &n, 1, s, &returned, &latch);
    sema_release(s, 1);
    tl_assert(await_returned(&returned, 1), TL_LOST_WAKEUP,
              "sema_acquire(%u) was not woken when a release made %u units free", n, n);
    tl_latch_wait(&latch, 1);
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    tl_assert(sema_value(s) == 0, TL_WRONG, "after the waiter took its %u units, %u are free, want 0", n,
              sema_value(s));
    tl_latch_destroy(&latch);
    sema_destroy(s);
}

TL_INTENT(a_release_wakes_every_waiter_it_satisfies,
          "A release of n units wakes every waiter that can now go, not just one.");
/* snippet: release_wakes_all */
TL_TEST(a_release_wakes_every_waiter_it_satisfies)
{
    uint64_t rs = tl_input_seed();
    enum { MAXK = 4 };
    for (int round = 0; round < 4; round++) {
        int k = 2 + (int)(tl_rand(&rs) % (MAXK - 1));
        sema *s = make_sema(0);
        unsigned want[MAXK];
        for (int i = 0; i < k; i++)
            want[i] = 1;
        atomic_int returned = 0;
        struct tl_latch latch;
        tl_latch_init(&latch);
        struct acquirer a[MAXK];
        pthread_t th[MAXK];
        start_blocked(a, th, want, k, s, &returned, &latch);
        sema_release(s, (unsigned)k); /* room for all of them at once */
        tl_assert(await_returned(&returned, k), TL_LOST_WAKEUP,
                  "%d of %d threads waiting for 1 unit each returned after release(%d): one "
                  "release can satisfy several waiters, so it must wake them all",
                  atomic_load(&returned), k, k);
        tl_latch_wait(&latch, k);
        for (int i = 0; i < k; i++)
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
        tl_latch_destroy(&latch);
        sema_destroy(s);
    }
}
/* end snippet: release_wakes_all */

TL_INTENT(a_small_release_reaches_the_small_waiter,
          "A release too small for the first waiter still wakes a later waiter that asked for "
          "fewer units.");
TL_TEST(a_small_release_reaches_the_small_waiter)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 4; round++) {
        /* A big waiter first, then a small one; one unit comes back. */
        unsigned big = 3 + (unsigned)(tl_rand(&rs) % 3);
        unsigned want[2] = {big, 1};
        sema *s = make_sema(0);
        atomic_int returned = 0;
        struct tl_latch latch;
        tl_latch_init(&latch);
        struct acquirer a[2];
        pthread_t th[2];
        start_blocked(a, th, want, 2, s, &returned, &latch);
        sema_release(s, 1);
        tl_assert(await_returned(&returned, 1), TL_LOST_WAKEUP,
                  "a thread waiting for 1 unit (behind one waiting for %u) was not woken by "
                  "release(1): a signal may pick the waiter that cannot proceed", big);
        tl_assert(atomic_load(&returned) == 1 && sema_value(s) == 0, TL_WRONG,
                  "after release(1) with waiters for %u and 1: %d returned, %u free", big,
                  atomic_load(&returned), sema_value(s));
        sema_release(s, big);
        tl_assert(await_returned(&returned, 2), TL_LOST_WAKEUP,
                  "the thread waiting for %u units was not woken by release(%u)", big, big);
        tl_latch_wait(&latch, 2);
        for (int i = 0; i < 2; i++)
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
        tl_latch_destroy(&latch);
        sema_destroy(s);
    }
}

/* ---------------------------------------------------------------- stress */

struct stress {
    sema *s;
    unsigned units;
    int iters;
    atomic_long held;          /* units the threads hold now */
    atomic_long over, max_seen;
};

struct stress_arg {
    struct stress *st;
    uint64_t seed;
    struct tl_latch *done;
};

static void *stress_main(void *p)
{
    struct stress_arg *a = p;
    struct stress *st = a->st;
    for (int i = 0; i < st->iters; i++) {
        unsigned n = 1 + (unsigned)(tl_rand(&a->seed) % st->units);
        sema_acquire(st->s, n);
        long h = atomic_fetch_add(&st->held, n) + (long)n;
        if (h > (long)st->units) {
            atomic_fetch_add(&st->over, 1);
            long m = atomic_load(&st->max_seen);
            while (h > m && !atomic_compare_exchange_weak(&st->max_seen, &m, h))
                ;
        }
        if (i % 4 == 0)
            __real_sched_yield(); /* hold the units a little */
        atomic_fetch_sub(&st->held, n);
        sema_release(st->s, n);
    }
    tl_latch_arrive(a->done);
    return NULL;
}

static void stress_round(uint64_t *rs, const char *when)
{
    enum { T = 4 };
    struct stress st = {.units = 2 + (unsigned)(tl_rand(rs) % 3), .iters = 1500};
    st.s = make_sema(st.units);
    struct tl_latch done;
    tl_latch_init(&done);
    struct stress_arg args[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        args[i] = (struct stress_arg){&st, tl_rand(rs), &done};
        tl_check_rc(pthread_create(&th[i], NULL, stress_main, &args[i]), "pthread_create");
    }
    tl_latch_wait(&done, T); /* a lost wake-up leaves the threads in their waits */
    for (int i = 0; i < T; i++)
        tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
    tl_assert(st.over == 0, TL_WRONG,
              "%s: %ld times an acquire returned without its units: up to %ld units were held at "
              "once from a semaphore of %u (wait in a while loop: a wake-up only means \"look "
              "again\")", when, (long)st.over, (long)st.max_seen, st.units);
    tl_assert(sema_value(st.s) == st.units, TL_WRONG, "%s: %u units free at the end, want %u", when,
              sema_value(st.s), st.units);
    tl_latch_destroy(&done);
    sema_destroy(st.s);
}

TL_INTENT(stress_never_more_held_than_there_are,
          "With many threads acquiring and releasing at once, never more units are held than the "
          "semaphore has.");
TL_TEST(stress_never_more_held_than_there_are)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 3; round++)
        stress_round(&rs, "stress");
}

TL_INTENT(spurious_wakeups_change_nothing,
          "A wait that returns early with no signal (POSIX allows it) does not make sema_acquire "
          "return without its units.");
TL_TEST(spurious_wakeups_change_nothing)
{
    uint64_t rs = tl_input_seed();
    /* Directed: one waiter, no unit, every wait returns without a signal. */
    sema *s = make_sema(0);
    atomic_int returned = 0;
    struct tl_latch latch;
    tl_latch_init(&latch);
    struct acquirer a = {.s = s, .n = 1, .returned = &returned, .latch = &latch};
    pthread_t th;
    tl_spurious_set(1000);
    long sp0 = tl_counts_now().cond_spurious;
    tl_check_rc(pthread_create(&th, NULL, acquire_once, &a), "pthread_create");
    for (int i = 0; i < 1000 * tl_bound_s() && tl_counts_now().cond_spurious < sp0 + 5 &&
                    atomic_load(&returned) == 0;
         i++)
        tl_idle_ms(1);
    int back = atomic_load(&returned);
    tl_spurious_set(0);
    sema_release(s, 1);
    tl_latch_wait(&latch, 1);
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    tl_assert(!back, TL_WRONG,
              "sema_acquire(1) on a semaphore with no unit returned after a wake-up without a "
              "release: wait in a while loop, never an if");
    tl_assert(sema_value(s) == 0, TL_WRONG, "after one release and one acquire: %u free, want 0",
              sema_value(s));
    tl_latch_destroy(&latch);
    sema_destroy(s);
    tl_spurious_set(250);
    for (int round = 0; round < 2; round++)
        stress_round(&rs, "with spurious wake-ups");
    tl_spurious_set(0);
}

TL_INTENT(waiters_do_not_spin,
          "Threads waiting for units sleep in a condition wait instead of polling.");
TL_TEST(waiters_do_not_spin)
{
    sema *s = make_sema(0);
    atomic_int returned = 0;
    struct tl_latch latch;
    tl_latch_init(&latch);
    struct acquirer a[2];
    pthread_t th[2];
    unsigned want[2] = {1, 2};
    start_blocked(a, th, want, 2, s, &returned, &latch);
    struct tl_activity act = tl_watch_idle(TL_IDLE_MS);
    sema_release(s, 3);
    tl_assert(await_returned(&returned, 2), TL_LOST_WAKEUP, "release(3) did not wake both waiters");
    tl_latch_wait(&latch, 2);
    for (int i = 0; i < 2; i++)
        tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
    tl_assert(!tl_activity_busy(&act), TL_BUSY_WAIT, "%s: waiters must sleep in a condition wait",
              tl_activity_str(&act));
    tl_latch_destroy(&latch);
    sema_destroy(s);
}

static const struct tl_test tl_tests[] = {
    TL_RUN(counts_on_one_thread),
    TL_RUN(acquire_waits_until_a_release),
    TL_RUN(a_release_wakes_every_waiter_it_satisfies),
    TL_RUN(a_small_release_reaches_the_small_waiter),
    TL_RUN(stress_never_more_held_than_there_are),
    TL_RUN(spurious_wakeups_change_nothing),
    TL_RUN(waiters_do_not_spin),
};

TL_MAIN("06-shared-objects/sema")
