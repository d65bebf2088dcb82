/*
 * test_future.c - tests for chapters/04-worker-pool/future.c (linked with
 * the learner's pool.c).
 *
 * What it shows: checking results, errors and lifetimes of futures. The
 * test's task computes a value from its input or fails with an error code
 * made from it, so every future_get() can be checked exactly. Gated tasks
 * (they wait on a gate the test holds closed) make "get blocks", "all
 * getters wake" and "destroy before the task ran" deterministic. The ASan
 * pass turns a future freed while its task still uses it into a report.
 *
 * DESIGN: as in test_pool.c, calls that should block run on helper threads,
 * the test watches tl_counts until they are in a condition wait, and waits
 * on a latch (not in pthread_join) where a lost wake-up could strand them.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "future.h"
#include "pool.h"

/* ------------------------------------------------------------ helpers */

/* The test's task: result = x * 3 + 1, or the error code 1000 + x % 97 when x % 5 == 0. */
struct calc {
    struct tl_gate *gate; /* NULL: not gated */
    uintptr_t x;
    atomic_int runs;
};

static int calc_fn(void *arg, void **result)
{
    struct calc *c = arg;
    tl_note_worker();
    if (c->gate != NULL)
        tl_gate_pass(c->gate);
    atomic_fetch_add(&c->runs, 1);
    if (c->x % 5 == 0)
        return 1000 + (int)(c->x % 97);
    *result = (void *)(c->x * 3 + 1);
    return 0;
}

/* Check one future's outcome against its input. */
static void check_get(future *f, const struct calc *c, const char *when)
{
    void *r = (void *)0xdead;
    int err = future_get(f, &r);
    if (c->x % 5 == 0)
        tl_assert(err == 1000 + (int)(c->x % 97), TL_WRONG,
                  "%s: the task failed with %d but future_get returned %d", when,
                  1000 + (int)(c->x % 97), err);
    else
        tl_assert(err == 0 && r == (void *)(c->x * 3 + 1), TL_WRONG,
                  "%s: future_get returned %d and %p, want 0 and %p", when, err, r,
                  (void *)(c->x * 3 + 1));
}

static pool *make_pool(size_t n, size_t cap)
{
    pool *p = pool_create(n, cap);
    tl_assert(p != NULL, TL_WRONG, "pool_create(%zu, %zu) returned NULL (errno %d)", n, cap, errno);
    return p;
}

static future *submit_ok(pool *p, struct calc *c)
{
    future *f = future_submit(p, calc_fn, c);
    tl_assert(f != NULL, TL_WRONG, "future_submit returned NULL (errno %d)", errno);
    return f;
}

/* A thread that calls future_get once. */
struct getter {
    future *f;
    const struct calc *c;
    int err;
    void *result;
    atomic_int *returned;
    struct tl_latch *done;
};

static void *get_once(void *arg)
{
    struct getter *g = arg;
    g->err = future_get(g->f, &g->result);
    atomic_fetch_add(g->returned, 1);
    tl_latch_arrive(g->done);
    return NULL;
}

static void check_getter(const struct getter *g)
{
    if (g->c->x % 5 == 0)
        tl_assert(g->err == 1000 + (int)(g->c->x % 97), TL_WRONG,
                  "a blocked future_get returned %d, want the task's error %d", g->err,
                  1000 + (int)(g->c->x % 97));
    else
        tl_assert(g->err == 0 && g->result == (void *)(g->c->x * 3 + 1), TL_WRONG,
                  "a blocked future_get returned %d and %p, want 0 and %p", g->err, g->result,
                  (void *)(g->c->x * 3 + 1));
}

/* -------------------------------------------------------------- tests */

TL_INTENT(get_returns_each_result_and_error,
          "future_get returns each task's own result and error, and each task runs exactly once.");
TL_TEST(get_returns_each_result_and_error)
{
    uint64_t rs = tl_input_seed();
    size_t n = 2 + tl_rand(&rs) % 3;
    int nf = 150 + (int)(tl_rand(&rs) % 100);
    pool *p = make_pool(n, 1 + tl_rand(&rs) % 8);
    struct calc *c = calloc((size_t)nf, sizeof *c);
    future **f = calloc((size_t)nf, sizeof *f);
    ck_assert(c != NULL && f != NULL);
    for (int i = 0; i < nf; i++) {
        c[i].x = tl_rand(&rs) % 100000;
        f[i] = submit_ok(p, &c[i]);
    }
    for (int i = nf - 1; i >= 0; i--) /* newest first: some are still queued */
        check_get(f[i], &c[i], "first get");
    for (int i = 0; i < nf; i += 7)
        check_get(f[i], &c[i], "second get of the same future");
    for (int i = 0; i < nf; i++) {
        tl_assert(c[i].runs == 1, TL_WRONG, "task %d ran %d times, want once", i, c[i].runs);
        future_destroy(f[i]);
    }
    pool_destroy(p);
    free(f);
    free(c);
}

TL_INTENT(get_blocks_until_the_task_has_run,
          "future_get sleeps in a condition wait until its task has run, and is woken when the "
          "task completes.");
TL_TEST(get_blocks_until_the_task_has_run)
{
    uint64_t rs = tl_input_seed();
    struct tl_gate gate;
    tl_gate_init(&gate);
    pool *p = make_pool(1 + tl_rand(&rs) % 3, 4);
    struct calc c = {.gate = &gate, .x = tl_rand(&rs) % 100000};
    future *f = submit_ok(p, &c);
    tl_gate_await_inside(&gate, 1);
    atomic_int returned = 0;
    struct tl_latch done;
    tl_latch_init(&done);
    struct getter g = {.f = f, .c = &c, .returned = &returned, .done = &done};
    long base = tl_waits_now();
    pthread_t th;
    tl_check_rc(pthread_create(&th, NULL, get_once, &g), "pthread_create");
    bool waited = tl_await_count(tl_waits_now, base + 1, &returned, 0);
    tl_assert(atomic_load(&returned) == 0, TL_WRONG,
              "future_get returned %d before the task had run: it must block", g.err);
    tl_assert(waited, TL_BUSY_WAIT, "future_get never waited on a condition variable");
    tl_gate_open(&gate);
    tl_assert(tl_await_at_least(&returned, 1), TL_LOST_WAKEUP,
              "a thread blocked in future_get() was not woken when the task completed");
    tl_latch_wait(&done, 1);
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    check_getter(&g);
    check_get(f, &c, "get after the task ran");
    future_destroy(f);
    pool_destroy(p);
    tl_latch_destroy(&done);
    tl_gate_destroy(&gate);
}

TL_INTENT(every_getter_is_woken,
          "When several threads wait in future_get on one future, all of them are woken when the "
          "task completes (a broadcast, not one signal).");
TL_TEST(every_getter_is_woken)
{
    uint64_t rs = tl_input_seed();
    enum { MAXG = 5 };
    for (int round = 0; round < 4; round++) {
        struct tl_gate gate;
        tl_gate_init(&gate);
        pool *p = make_pool(1 + tl_rand(&rs) % 2, 2);
        struct calc c = {.gate = &gate, .x = tl_rand(&rs) % 100000};
        future *f = submit_ok(p, &c);
        tl_gate_await_inside(&gate, 1);
        int k = 2 + (int)(tl_rand(&rs) % (MAXG - 1));
        atomic_int returned = 0;
        struct tl_latch done;
        tl_latch_init(&done);
        struct getter g[MAXG];
        pthread_t th[MAXG];
        long base = tl_waits_now();
        for (int i = 0; i < k; i++) {
            g[i] = (struct getter){.f = f, .c = &c, .returned = &returned, .done = &done};
            tl_check_rc(pthread_create(&th[i], NULL, get_once, &g[i]), "pthread_create");
        }
        bool waited = tl_await_count(tl_waits_now, base + k, &returned, 0);
        tl_assert(waited && atomic_load(&returned) == 0, TL_WRONG,
                  "future_get must block (in a condition wait) until the task has run");
        tl_gate_open(&gate);
        tl_assert(tl_await_at_least(&returned, k), TL_LOST_WAKEUP,
                  "%d threads were blocked in future_get() on one future, and only %d returned "
                  "when its task completed: completion must wake every getter", k,
                  atomic_load(&returned));
        tl_latch_wait(&done, k);
        for (int i = 0; i < k; i++) {
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
            check_getter(&g[i]);
        }
        future_destroy(f);
        pool_destroy(p);
        tl_latch_destroy(&done);
        tl_gate_destroy(&gate);
    }
}

TL_INTENT(destroy_before_the_task_has_run,
          "Giving up a future before its task has run does not stop the task, and the future is "
          "freed once both sides are done with it.");
TL_TEST(destroy_before_the_task_has_run)
{
    uint64_t rs = tl_input_seed();
    size_t n = 1 + tl_rand(&rs) % 3, cap = 2 + tl_rand(&rs) % 6;
    int nf = (int)(n + cap);
    struct tl_gate gate;
    tl_gate_init(&gate);
    pool *p = make_pool(n, cap);
    struct calc c[16] = {0};
    future *f[16];
    for (int i = 0; i < nf; i++) {
        c[i].gate = i < (int)n ? &gate : NULL;
        c[i].x = tl_rand(&rs) % 100000;
        f[i] = submit_ok(p, &c[i]);
        if (i == (int)n - 1)
            tl_gate_await_inside(&gate, (int)n); /* every worker is busy: the rest stay queued */
    }
    for (int i = 0; i < nf; i++) /* give up every handle while the tasks wait */
        future_destroy(f[i]);
    tl_gate_open(&gate); /* now the tasks run and complete futures nobody holds */
    pool_wait(p);
    for (int i = 0; i < nf; i++)
        tl_assert(c[i].runs == 1, TL_WRONG,
                  "task %d ran %d times: destroying its future must not stop it", i, c[i].runs);
    /* And the ordinary order: get, then destroy. */
    c[0].gate = NULL;
    future *g = submit_ok(p, &c[0]);
    check_get(g, &c[0], "get before destroy");
    future_destroy(g);
    pool_destroy(p);
    tl_gate_destroy(&gate);
}

/* A plain pool task mixed in with futures: future_dropped must leave it alone. */
struct plain {
    unsigned char bytes[64];
    atomic_int runs;
};

static void plain_fn(void *arg)
{
    struct plain *pl = arg;
    atomic_fetch_add(&pl->runs, 1);
}

TL_INTENT(cancel_completes_dropped_futures,
          "pool_cancel completes the futures of dropped tasks with ECANCELED, lets running ones "
          "finish, and future_submit afterwards gives EPIPE.");
TL_TEST(cancel_completes_dropped_futures)
{
    uint64_t rs = tl_input_seed();
    size_t n = 1 + tl_rand(&rs) % 3, queued = 1 + tl_rand(&rs) % 5;
    struct tl_gate gate;
    tl_gate_init(&gate);
    pool *p = make_pool(n, queued + 1);
    struct calc c[16] = {0};
    future *f[16];
    for (size_t i = 0; i < n + queued; i++) {
        c[i].gate = i < n ? &gate : NULL;
        c[i].x = tl_rand(&rs) % 100000;
        f[i] = submit_ok(p, &c[i]);
        if (i == n - 1)
            tl_gate_await_inside(&gate, (int)n);
    }
    struct plain pl;
    memset(pl.bytes, 0xA5, sizeof pl.bytes);
    atomic_init(&pl.runs, 0);
    tl_assert(pool_submit(p, plain_fn, &pl) == 0, TL_WRONG, "pool_submit failed");

    size_t dropped = pool_cancel(p, future_dropped);
    tl_assert(dropped == queued + 1, TL_WRONG, "pool_cancel dropped %zu tasks, want %zu", dropped,
              queued + 1);
    for (size_t i = 0; i < sizeof pl.bytes; i++)
        tl_assert(pl.bytes[i] == 0xA5, TL_MEMORY,
                  "future_dropped wrote into the argument of a task that was not a future");
    errno = 0;
    tl_assert(future_submit(p, calc_fn, &c[0]) == NULL && errno == EPIPE, TL_WRONG,
              "future_submit after pool_cancel must return NULL with errno EPIPE (errno %d)",
              errno);
    for (size_t i = n; i < n + queued; i++) { /* dropped: done at once, with ECANCELED */
        void *r = NULL;
        int err = future_get(f[i], &r);
        tl_assert(err == ECANCELED, TL_WRONG,
                  "future_get of a dropped task returned %d, want ECANCELED", err);
        future_destroy(f[i]);
    }
    tl_gate_open(&gate);
    for (size_t i = 0; i < n; i++) { /* running at cancel: they finish normally */
        check_get(f[i], &c[i], "a task running at cancel");
        future_destroy(f[i]);
    }
    pool_destroy(p);
    for (size_t i = 0; i < n + queued; i++)
        tl_assert(c[i].runs == (i < n), TL_WRONG, "task %zu ran %d times", i, c[i].runs);
    tl_assert(pl.runs == 0, TL_WRONG, "a dropped plain task ran");
    tl_gate_destroy(&gate);
}

/* Heap blocks allocated and not yet freed, by the code under test and the test. */
static long heap_live(void)
{
    struct tl_counts c = tl_counts_now();
    return c.heap_allocs - c.heap_frees;
}

/* The narrow wake-up: a getter already blocked when its task is dropped must
 * be woken by pool_cancel(p, future_dropped), and every future is freed. */
TL_INTENT(cancel_wakes_a_blocked_getter_and_frees_every_future,
          "A thread blocked in future_get on a queued task is woken when pool_cancel drops it, "
          "and every future is freed.");
TL_TEST(cancel_wakes_a_blocked_getter_and_frees_every_future)
{
    uint64_t rs = tl_input_seed();
    long live0 = heap_live();
    size_t n = 1 + tl_rand(&rs) % 3;
    struct tl_gate gate;
    tl_gate_init(&gate);
    pool *p = make_pool(n, 4);
    struct calc c[8] = {0};
    future *f[8];
    for (size_t i = 0; i < n; i++) { /* every worker busy at the gate */
        c[i].gate = &gate;
        c[i].x = tl_rand(&rs) % 100000;
        f[i] = submit_ok(p, &c[i]);
    }
    tl_gate_await_inside(&gate, (int)n);
    c[n].x = tl_rand(&rs) % 100000;
    f[n] = submit_ok(p, &c[n]); /* queued: it will be dropped */
    atomic_int returned = 0;
    struct tl_latch done;
    tl_latch_init(&done);
    struct getter g = {.f = f[n], .c = &c[n], .returned = &returned, .done = &done, .err = -1};
    pthread_t th;
    tl_check_rc(pthread_create(&th, NULL, get_once, &g), "pthread_create");
    /* n workers at the gate and the getter, all in a condition wait */
    (void)tl_await_blocked_n(TL_ST_COND, (int)n + 1);
    tl_spurious_set(0);
    struct tl_activity a = tl_watch_idle(TL_IDLE_MS);
    tl_assert(atomic_load(&returned) == 0, TL_WRONG,
              "future_get returned %d before its task had run or been dropped", g.err);
    tl_assert(!tl_activity_busy(&a), TL_BUSY_WAIT,
              "%s: a future_get waiting for a queued task must sleep in a condition wait",
              tl_activity_str(&a));
    tl_assert(pool_cancel(p, future_dropped) == 1, TL_WRONG, "pool_cancel must drop the queued task");
    /* bounded: a getter that is never woken is reported, not waited for */
    struct timespec at = tl_deadline(tl_bound_s());
    int woke = 0;
    while (!(woke = atomic_load(&returned))) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        if (t.tv_sec > at.tv_sec || (t.tv_sec == at.tv_sec && t.tv_nsec > at.tv_nsec))
            break;
        tl_idle_ms(1);
    }
    tl_assert(woke, TL_LOST_WAKEUP,
              "a thread blocked in future_get() was not woken when pool_cancel(p, future_dropped) "
              "dropped its task: the dropped future must wake its getters like a completed one");
    tl_latch_wait(&done, 1);
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    tl_assert(g.err == ECANCELED, TL_WRONG,
              "future_get of a dropped task returned %d, want ECANCELED (%d)", g.err, ECANCELED);
    future_destroy(f[n]);
    tl_gate_open(&gate);
    for (size_t i = 0; i < n; i++) {
        check_get(f[i], &c[i], "a task running at cancel");
        future_destroy(f[i]);
    }
    pool_destroy(p);
    tl_latch_destroy(&done);
    tl_gate_destroy(&gate);
    tl_assert(heap_live() <= live0, TL_MEMORY,
              "%ld heap block(s) were never freed once every future was destroyed and the pool "
              "too: is a dropped or completed future ever released?", heap_live() - live0);
}

static long spurious_now(void) { return tl_counts_now().cond_spurious; }

/* POSIX lets a wait return without a signal: a getter must wait again. */
TL_INTENT(spurious_wakeups_do_not_end_a_get,
          "A wait that returns early with no signal (POSIX allows it) does not make future_get "
          "return before its task has run.");
TL_TEST(spurious_wakeups_do_not_end_a_get)
{
    uint64_t rs = tl_input_seed();
    struct tl_gate gate;
    tl_gate_init(&gate);
    pool *p = make_pool(1 + tl_rand(&rs) % 2, 4);
    struct calc c = {.gate = &gate, .x = tl_rand(&rs) % 100000};
    future *f = submit_ok(p, &c);
    tl_gate_await_inside(&gate, 1);
    atomic_int returned = 0;
    struct tl_latch done;
    tl_latch_init(&done);
    struct getter g = {.f = f, .c = &c, .returned = &returned, .done = &done};
    tl_spurious_set(1000); /* every wait returns at once, unsignalled */
    long base = spurious_now();
    pthread_t th;
    tl_check_rc(pthread_create(&th, NULL, get_once, &g), "pthread_create");
    (void)tl_await_count(spurious_now, base + 8, &returned, 0);
    tl_spurious_set(0);
    tl_assert(atomic_load(&returned) == 0, TL_WRONG,
              "future_get returned %d (result %p) after a spurious wake-up, before the task had "
              "run: it must wait again - `while`, not `if`", g.err, g.result);
    tl_gate_open(&gate);
    tl_latch_wait(&done, 1);
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    check_getter(&g);
    future_destroy(f);
    pool_destroy(p);
    tl_latch_destroy(&done);
    tl_gate_destroy(&gate);
}

/* future_submit when the allocation fails or the pool refuses: NULL, the
 * error in errno, nothing queued, nothing left allocated. */
TL_INTENT(submit_failures_leave_nothing_behind,
          "When an allocation in future_submit fails, it returns NULL with errno set, the task "
          "does not run, and nothing leaks.");
TL_TEST(submit_failures_leave_nothing_behind)
{
    uint64_t rs = tl_input_seed();
    pool *p = make_pool(1 + tl_rand(&rs) % 3, 4);
    struct calc c = {.x = tl_rand(&rs) % 100000};
    for (long k = 1; k <= 8; k++) {
        long live0 = heap_live();
        tl_fault_nth(TL_FAULT_MALLOC, k, 0);
        errno = 0;
        future *f = future_submit(p, calc_fn, &c);
        int err = errno;
        bool fired = tl_fault_fired(TL_FAULT_MALLOC);
        tl_fault_nth(TL_FAULT_MALLOC, 0, 0);
        if (!fired) {
            tl_assert(f != NULL, TL_WRONG, "future_submit returned NULL (errno %d)", err);
            check_get(f, &c, "after the allocation tests");
            future_destroy(f);
            break;
        }
        if (f != NULL) {
            (void)future_get(f, NULL);
            future_destroy(f);
        }
        tl_assert(f == NULL, TL_ERROR_PATH,
                  "future_submit returned a future although its allocation %ld failed", k);
        tl_assert(err == ENOMEM, TL_ERROR_PATH,
                  "future_submit returned NULL with errno %d when allocation %ld failed, want "
                  "ENOMEM", err, k);
        pool_wait(p);
        tl_assert(c.runs == 0, TL_ERROR_PATH,
                  "future_submit returned NULL (allocation %ld failed) but the task ran anyway", k);
        tl_assert(heap_live() <= live0, TL_ERROR_PATH,
                  "future_submit returned NULL when allocation %ld failed, but left %ld heap "
                  "block(s) unfreed", k, heap_live() - live0);
    }
    /* The last future's worker may still be letting go of its share of it:
     * wait until the pool is idle, so no free is in flight while we count. */
    pool_wait(p);
    tl_assert(pool_cancel(p, future_dropped) == 0, TL_WRONG, "nothing was queued to drop");
    long live0 = heap_live();
    errno = 0;
    tl_assert(future_submit(p, calc_fn, &c) == NULL && errno == EPIPE, TL_WRONG,
              "future_submit after pool_cancel must return NULL with errno EPIPE (errno %d)", errno);
    tl_assert(heap_live() <= live0, TL_MEMORY,
              "future_submit refused by a cancelled pool left %ld heap block(s) unfreed",
              heap_live() - live0);
    pool_destroy(p);
}

/* Stress: clients submit batches, get them in a shuffled order, drop some unread. */
struct client {
    pool *p;
    uint64_t seed;
    atomic_int bad;
};

static void *client_main(void *arg)
{
    struct client *cl = arg;
    uint64_t rs = cl->seed;
    enum { BATCH = 8 };
    for (int round = 0; round < 25; round++) {
        struct calc c[BATCH] = {0};
        future *f[BATCH];
        for (int i = 0; i < BATCH; i++) {
            c[i].x = tl_rand(&rs) % 100000;
            f[i] = future_submit(cl->p, calc_fn, &c[i]);
            if (f[i] == NULL)
                atomic_fetch_add(&cl->bad, 1);
        }
        for (int k = 0; k < BATCH; k++) {
            int i = (int)((uint64_t)(k * 5 + round) % BATCH);
            if (f[i] == NULL)
                continue;
            void *r = NULL;
            int err = future_get(f[i], &r);
            bool ok = c[i].x % 5 == 0 ? err == 1000 + (int)(c[i].x % 97)
                                      : err == 0 && r == (void *)(c[i].x * 3 + 1);
            if (!ok)
                atomic_fetch_add(&cl->bad, 1);
            future_destroy(f[i]);
        }
    }
    return NULL;
}

TL_INTENT(stress_clients_and_workers,
          "Many clients submitting and getting futures at once each get back exactly their own "
          "results.");
TL_TEST(stress_clients_and_workers)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 3; round++) {
        pool *p = make_pool(1 + tl_rand(&rs) % 4, 1 + tl_rand(&rs) % 4);
        struct client cl[3];
        pthread_t th[3];
        for (int i = 0; i < 3; i++) {
            cl[i] = (struct client){.p = p, .seed = tl_rand(&rs)};
            tl_check_rc(pthread_create(&th[i], NULL, client_main, &cl[i]), "pthread_create");
        }
        for (int i = 0; i < 3; i++) {
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
            tl_assert(cl[i].bad == 0, TL_WRONG, "%d futures of a client came back wrong",
                      cl[i].bad);
        }
        pool_destroy(p);
    }
}

static const struct tl_test tl_tests[] = {
    TL_RUN(get_returns_each_result_and_error),
    TL_RUN(get_blocks_until_the_task_has_run),
    TL_RUN(every_getter_is_woken),
    TL_RUN(destroy_before_the_task_has_run),
    TL_RUN(cancel_completes_dropped_futures),
    TL_RUN(stress_clients_and_workers),
    TL_RUN(cancel_wakes_a_blocked_getter_and_frees_every_future),
    TL_RUN(spurious_wakeups_do_not_end_a_get),
    TL_RUN(submit_failures_leave_nothing_behind),
};

TL_MAIN("04-worker-pool/future")
