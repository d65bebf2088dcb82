/*
 * test_queue.c - tests for chapters/04-worker-pool/queue.c.
 *
 * What it shows: how to test blocking without a clock. A test never sleeps
 * and never measures time; to check that a call blocks, it starts a thread
 * that makes the call, watches the kit's event counters until that thread
 * has entered a condition wait (tl_counts.cond_waits goes up), and checks
 * that the call has not returned yet. Then it makes the state change that
 * should release the thread.
 *
 * DESIGN: wherever a thread might stay blocked because of a lost wake-up,
 * the main thread waits for it on a latch (a mutex and condition variable of
 * the test's own) rather than in pthread_join. Then a lost wake-up leaves
 * every thread in a condition wait, and the watchdog's report says so.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "queue.h"

/* ------------------------------------------------------------ helpers */

static void task_a(void *arg) { (void)arg; }
static void task_b(void *arg) { (void)arg; }

static taskq *make_queue(size_t cap)
{
    taskq *q = taskq_create(cap);
    tl_assert(q != NULL, TL_WRONG, "taskq_create(%zu) returned NULL (errno %d)", cap, errno);
    return q;
}

/* A thread that makes one push or one pop and reports how it went. */
struct caller {
    taskq *q;
    struct task t;       /* pushed, or popped into */
    int rc;
    atomic_int *returned; /* shared count of callers whose call came back */
    struct tl_latch *latch;
};

static void *pop_once(void *p)
{
    struct caller *c = p;
    c->rc = taskq_pop(c->q, &c->t);
    atomic_fetch_add(c->returned, 1);
    if (c->latch != NULL)
        tl_latch_arrive(c->latch);
    return NULL;
}

static void *push_once(void *p)
{
    struct caller *c = p;
    c->rc = taskq_push(c->q, c->t);
    atomic_fetch_add(c->returned, 1);
    if (c->latch != NULL)
        tl_latch_arrive(c->latch);
    return NULL;
}

/* -------------------------------------------------------------- tests */

TL_INTENT(fifo_order_and_close_on_one_thread,
          "On one thread, tasks come out in the order they went in (also when the ring wraps), "
          "and after close pushes give EPIPE and pops drain what is left, then give EPIPE.");
TL_TEST(fifo_order_and_close_on_one_thread)
{
    uint64_t rs = tl_input_seed();
    errno = 0;
    tl_assert(taskq_create(0) == NULL && errno == EINVAL, TL_WRONG,
              "taskq_create(0) must return NULL with errno EINVAL (errno %d)", errno);
    size_t cap = 1 + tl_rand(&rs) % 16;
    taskq *q = make_queue(cap);
    uintptr_t base = (uintptr_t)(tl_rand(&rs) % 100000) * 16;
    for (int round = 0; round < 3; round++) { /* three rounds: the ring wraps around */
        size_t n = round == 1 ? cap : 1 + tl_rand(&rs) % cap;
        for (size_t i = 0; i < n; i++) {
            struct task t = {i % 2 ? task_a : task_b, (void *)(base + i)};
            int rc = taskq_push(q, t);
            tl_assert(rc == 0, TL_WRONG, "push %zu of %zu into an open queue returned %d", i, n,
                      rc);
        }
        tl_assert(taskq_len(q) == n, TL_WRONG, "taskq_len: %zu after %zu pushes", taskq_len(q), n);
        for (size_t i = 0; i < n; i++) {
            struct task t = {NULL, NULL};
            int rc = taskq_pop(q, &t);
            tl_assert(rc == 0, TL_WRONG, "pop %zu of %zu returned %d", i, n, rc);
            tl_assert(t.arg == (void *)(base + i) && t.fn == (i % 2 ? task_a : task_b), TL_WRONG,
                      "pop %zu (capacity %zu, round %d) got arg %p, want %p: not FIFO", i, cap,
                      round, t.arg, (void *)(base + i));
        }
        tl_assert(taskq_len(q) == 0, TL_WRONG, "taskq_len: %zu after popping all", taskq_len(q));
    }
    size_t left = 1 + tl_rand(&rs) % cap;
    for (size_t i = 0; i < left; i++)
        tl_assert(taskq_push(q, (struct task){task_a, (void *)(base + i)}) == 0, TL_WRONG,
                  "push failed");
    taskq_close(q);
    tl_assert(taskq_push(q, (struct task){task_a, NULL}) == EPIPE, TL_WRONG,
              "push after close must return EPIPE");
    for (size_t i = 0; i < left; i++) {
        struct task t = {NULL, NULL};
        int rc = taskq_pop(q, &t);
        tl_assert(rc == 0 && t.arg == (void *)(base + i), TL_WRONG,
                  "after close, queued task %zu of %zu must still pop (rc %d)", i, left, rc);
    }
    struct task t;
    tl_assert(taskq_pop(q, &t) == EPIPE, TL_WRONG, "pop from a closed, empty queue must return EPIPE");
    taskq_close(q); /* a second close does nothing */
    tl_assert(taskq_pop(q, &t) == EPIPE, TL_WRONG, "pop after a second close must return EPIPE");
    taskq_destroy(q);
}

TL_INTENT(pop_blocks_until_a_push,
          "taskq_pop on an empty queue sleeps in a condition wait and returns the task once "
          "another thread pushes one.");
TL_TEST(pop_blocks_until_a_push)
{
    uint64_t rs = tl_input_seed();
    taskq *q = make_queue(1 + tl_rand(&rs) % 8);
    atomic_int returned = 0;
    struct caller c = {.q = q, .returned = &returned};
    long base = tl_waits_now();
    pthread_t th;
    tl_check_rc(pthread_create(&th, NULL, pop_once, &c), "pthread_create");
    bool waited = tl_await_count(tl_waits_now, base + 1, &returned, 0);
    tl_assert(atomic_load(&returned) == 0, TL_WRONG,
              "taskq_pop returned %d from an empty, open queue: it must block", c.rc);
    tl_assert(waited, TL_BUSY_WAIT, "taskq_pop on an empty queue never waited on a condition variable");
    struct task t = {task_b, (void *)(uintptr_t)(tl_rand(&rs) | 1)};
    tl_assert(taskq_push(q, t) == 0, TL_WRONG, "push into an empty queue failed");
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    tl_assert(c.rc == 0 && c.t.fn == t.fn && c.t.arg == t.arg, TL_WRONG,
              "the blocked pop must return the pushed task (rc %d)", c.rc);
    taskq_destroy(q);
}

TL_INTENT(push_blocks_while_full,
          "taskq_push on a full queue sleeps in a condition wait and finishes once another "
          "thread pops a task.");
TL_TEST(push_blocks_while_full)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 3; round++) {
        size_t cap = 1 + tl_rand(&rs) % 6;
        taskq *q = make_queue(cap);
        for (size_t i = 0; i < cap; i++)
            tl_assert(taskq_push(q, (struct task){task_a, (void *)(i + 1)}) == 0, TL_WRONG,
                      "push %zu of %zu failed", i, cap);
        atomic_int returned = 0;
        struct caller c = {.q = q, .t = {task_b, (void *)(cap + 1)}, .returned = &returned};
        long base = tl_waits_now();
        pthread_t th;
        tl_check_rc(pthread_create(&th, NULL, push_once, &c), "pthread_create");
        bool waited = tl_await_count(tl_waits_now, base + 1, &returned, 0);
        tl_assert(atomic_load(&returned) == 0, TL_WRONG,
                  "taskq_push into a full queue (capacity %zu) returned %d: it must block", cap,
                  c.rc);
        tl_assert(waited, TL_BUSY_WAIT, "taskq_push into a full queue never waited on a condition variable");
        struct task t;
        tl_assert(taskq_pop(q, &t) == 0 && t.arg == (void *)1, TL_WRONG, "pop from a full queue");
        tl_check_rc(pthread_join(th, NULL), "pthread_join");
        tl_assert(c.rc == 0, TL_WRONG, "the blocked push must succeed once there is room (rc %d)",
                  c.rc);
        for (size_t i = 2; i <= cap + 1; i++) {
            tl_assert(taskq_pop(q, &t) == 0 && t.arg == (void *)i, TL_WRONG,
                      "after the blocked push: pop %zu got %p", i, t.arg);
        }
        tl_assert(t.fn == task_b, TL_WRONG, "the blocked push's task came out changed");
        taskq_destroy(q);
    }
}

TL_INTENT(close_wakes_every_waiter,
          "taskq_close wakes every thread blocked in a pop on an empty queue or a push on a full "
          "one, and each returns EPIPE.");
TL_TEST(close_wakes_every_waiter)
{
    uint64_t rs = tl_input_seed();
    enum { MAXC = 5 };
    taskq *empty = make_queue(1 + tl_rand(&rs) % 4);
    taskq *full = make_queue(1);
    tl_assert(taskq_push(full, (struct task){task_a, (void *)7}) == 0, TL_WRONG, "push failed");
    int k = 2 + (int)(tl_rand(&rs) % 4), m = 2 + (int)(tl_rand(&rs) % 4);
    struct caller c[2 * MAXC];
    pthread_t th[2 * MAXC];
    atomic_int returned = 0;
    struct tl_latch latch;
    tl_latch_init(&latch);
    long base = tl_waits_now();
    for (int i = 0; i < k + m; i++) {
        c[i] = (struct caller){.q = i < k ? empty : full, .t = {task_b, NULL},
                               .returned = &returned, .latch = &latch, .rc = -1};
        tl_check_rc(pthread_create(&th[i], NULL, i < k ? pop_once : push_once, &c[i]),
                 "pthread_create");
    }
    bool waited = tl_await_count(tl_waits_now, base + k + m, &returned, 0);
    tl_assert(atomic_load(&returned) == 0, TL_WRONG,
              "a pop on an empty queue or a push on a full one returned before close");
    tl_assert(waited, TL_BUSY_WAIT, "blocked push/pop calls never waited on a condition variable");
    taskq_close(empty);
    taskq_close(full);
    tl_assert(tl_await_at_least(&returned, k + m), TL_LOST_WAKEUP,
              "only %d of the %d threads blocked in taskq_pop (%d) and taskq_push (%d) returned "
              "after taskq_close: close must wake every waiter", atomic_load(&returned), k + m, k, m);
    tl_latch_wait(&latch, k + m);
    for (int i = 0; i < k + m; i++) {
        tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
        tl_assert(c[i].rc == EPIPE, TL_WRONG, "a %s blocked at close returned %d, want EPIPE",
                  i < k ? "pop" : "push", c[i].rc);
    }
    struct task t;
    tl_assert(taskq_pop(full, &t) == 0 && t.arg == (void *)7, TL_WRONG,
              "the task queued before close must still pop");
    tl_assert(taskq_pop(full, &t) == EPIPE, TL_WRONG, "then pop must return EPIPE");
    tl_latch_destroy(&latch);
    taskq_destroy(empty);
    taskq_destroy(full);
}

/* A thread that starts its calls only once it sees a flag the test sets after
 * taskq_close(). The flag is relaxed on purpose: it orders nothing, so the
 * queue's own lock is all that makes the late thread see the close, and a
 * field read outside that lock is a race ThreadSanitizer reports every time. */
struct late_caller {
    taskq *q;
    atomic_int go;
    int push_rc, pop_rc;
};

static void *late_calls(void *p)
{
    struct late_caller *c = p;
    while (!atomic_load_explicit(&c->go, memory_order_relaxed))
        sched_yield();
    c->push_rc = taskq_push(c->q, (struct task){task_a, NULL});
    struct task t;
    c->pop_rc = taskq_pop(c->q, &t);
    return NULL;
}

TL_INTENT(calls_on_another_thread_see_the_close,
          "A push or pop on another thread after taskq_close returns EPIPE: the closed flag is "
          "read under the lock.");
TL_TEST(calls_on_another_thread_see_the_close)
{
    struct late_caller c = {.q = make_queue(2), .push_rc = -1, .pop_rc = -1};
    pthread_t th;
    tl_check_rc(pthread_create(&th, NULL, late_calls, &c), "pthread_create");
    taskq_close(c.q);
    atomic_store_explicit(&c.go, 1, memory_order_relaxed);
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    tl_assert(c.push_rc == EPIPE, TL_WRONG, "a push on another thread after close returned %d, want EPIPE",
              c.push_rc);
    tl_assert(c.pop_rc == EPIPE, TL_WRONG, "a pop on another thread after close returned %d, want EPIPE",
              c.pop_rc);
    taskq_destroy(c.q);
}

TL_INTENT(each_waiting_thread_is_woken,
          "When several poppers (or pushers) are waiting and tasks (or slots) arrive back to "
          "back, every one of them is woken.");
TL_TEST(each_waiting_thread_is_woken)
{
    uint64_t rs = tl_input_seed();
    enum { MAXK = 4 };
    for (int round = 0; round < 12; round++) {
        int k = 2 + (int)(tl_rand(&rs) % (MAXK - 1));
        struct caller c[MAXK];
        pthread_t th[MAXK];
        atomic_int returned = 0;
        struct tl_latch latch;

        /* k poppers wait on an empty queue, then k tasks arrive back to back. */
        taskq *q = make_queue((size_t)k + tl_rand(&rs) % 3);
        tl_latch_init(&latch);
        long base = tl_waits_now();
        for (int i = 0; i < k; i++) {
            c[i] = (struct caller){.q = q, .returned = &returned, .latch = &latch};
            tl_check_rc(pthread_create(&th[i], NULL, pop_once, &c[i]), "pthread_create");
        }
        bool waited = tl_await_count(tl_waits_now, base + k, &returned, 0);
        tl_assert(waited && atomic_load(&returned) == 0, TL_WRONG,
                  "poppers on an empty queue must block in a condition wait");
        for (int i = 0; i < k; i++)
            tl_assert(taskq_push(q, (struct task){task_a, (void *)(uintptr_t)(i + 1)}) == 0,
                      TL_WRONG, "push failed");
        tl_assert(tl_await_at_least(&returned, k), TL_LOST_WAKEUP,
                  "%d poppers were blocked on an empty queue and %d tasks were pushed, but only %d "
                  "poppers returned: each push must wake a popper", k, k, atomic_load(&returned));
        tl_latch_wait(&latch, k);
        unsigned seen = 0;
        for (int i = 0; i < k; i++) {
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
            tl_assert(c[i].rc == 0, TL_WRONG, "pop returned %d", c[i].rc);
            seen |= 1u << (uintptr_t)c[i].t.arg;
        }
        tl_assert(seen == ((1u << (k + 1)) - 2), TL_WRONG, "each task must be popped exactly once");
        tl_latch_destroy(&latch);
        taskq_destroy(q);

        /* k pushers wait on a full queue, then k slots free up back to back. */
        q = make_queue((size_t)k);
        for (int i = 0; i < k; i++)
            tl_assert(taskq_push(q, (struct task){task_a, (void *)(uintptr_t)(i + 1)}) == 0,
                      TL_WRONG, "push failed");
        tl_latch_init(&latch);
        atomic_store(&returned, 0);
        base = tl_waits_now();
        for (int i = 0; i < k; i++) {
            c[i] = (struct caller){.q = q, .t = {task_b, (void *)(uintptr_t)(k + 1 + i)},
                                   .returned = &returned, .latch = &latch};
            tl_check_rc(pthread_create(&th[i], NULL, push_once, &c[i]), "pthread_create");
        }
        waited = tl_await_count(tl_waits_now, base + k, &returned, 0);
        tl_assert(waited && atomic_load(&returned) == 0, TL_WRONG,
                  "pushers on a full queue must block in a condition wait");
        for (int i = 0; i < k; i++) {
            struct task t;
            tl_assert(taskq_pop(q, &t) == 0 && t.arg == (void *)(uintptr_t)(i + 1), TL_WRONG,
                      "pop %d from a full queue", i);
        }
        tl_assert(tl_await_at_least(&returned, k), TL_LOST_WAKEUP,
                  "%d pushers were blocked on a full queue and %d tasks were popped, but only %d "
                  "pushers returned: each pop must wake a pusher", k, k, atomic_load(&returned));
        tl_latch_wait(&latch, k);
        seen = 0;
        for (int i = 0; i < k; i++) {
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
            tl_assert(c[i].rc == 0, TL_WRONG, "push returned %d", c[i].rc);
            struct task t;
            tl_assert(taskq_pop(q, &t) == 0, TL_WRONG, "pop of a pushed task");
            seen |= 1u << ((uintptr_t)t.arg - (uintptr_t)k);
        }
        tl_assert(seen == ((1u << (k + 1)) - 2), TL_WRONG, "each pushed task must arrive exactly once");
        tl_latch_destroy(&latch);
        taskq_destroy(q);
    }
}

/* Stress: producers and consumers at once on a small queue. */
enum { MAXP = 3, MAXC = 3 };

struct item {
    int producer, seq;
    atomic_int runs;
};

struct stress {
    taskq *q;
    struct item *items;
    int per;                 /* items per producer */
    atomic_int closing;      /* set by the test just before taskq_close() */
    atomic_int push_errors, early_epipe, bad_fn, out_of_order, pop_errors;
    struct tl_latch done;
};

struct stress_arg {
    struct stress *s;
    int id;
};

static void run_item(void *arg)
{
    struct item *it = arg;
    atomic_fetch_add(&it->runs, 1);
}

static void *producer(void *p)
{
    struct stress_arg *a = p;
    struct stress *s = a->s;
    for (int i = 0; i < s->per; i++)
        if (taskq_push(s->q, (struct task){run_item, &s->items[a->id * s->per + i]}) != 0)
            atomic_fetch_add(&s->push_errors, 1);
    return NULL;
}

static void *consumer(void *p)
{
    struct stress_arg *a = p;
    struct stress *s = a->s;
    int last[MAXP] = {-1, -1, -1};
    for (;;) {
        struct task t = {NULL, NULL};
        int rc = taskq_pop(s->q, &t);
        if (rc == EPIPE) {
            if (!atomic_load(&s->closing))
                atomic_fetch_add(&s->early_epipe, 1);
            break;
        }
        if (rc != 0) {
            atomic_fetch_add(&s->pop_errors, 1);
            break;
        }
        if (t.fn != run_item || t.arg == NULL) {
            atomic_fetch_add(&s->bad_fn, 1);
            continue;
        }
        struct item *it = t.arg;
        if (it->seq <= last[it->producer]) /* one producer's tasks must come out in order */
            atomic_fetch_add(&s->out_of_order, 1);
        last[it->producer] = it->seq;
        t.fn(t.arg);
    }
    tl_latch_arrive(&s->done);
    return NULL;
}

TL_INTENT(stress_every_task_popped_exactly_once,
          "Every pushed task is popped exactly once, with several pushers and poppers racing.");
TL_TEST(stress_every_task_popped_exactly_once)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 6; round++) {
        int np = 2 + (int)(tl_rand(&rs) % (MAXP - 1)), nc = 2 + (int)(tl_rand(&rs) % (MAXC - 1));
        struct stress s = {.per = 100 + (int)(tl_rand(&rs) % 100)};
        s.q = make_queue(1 + tl_rand(&rs) % 4);
        s.items = calloc((size_t)(np * s.per), sizeof *s.items);
        ck_assert(s.items != NULL);
        for (int i = 0; i < np * s.per; i++) {
            s.items[i].producer = i / s.per;
            s.items[i].seq = i % s.per;
        }
        tl_latch_init(&s.done);
        struct stress_arg args[MAXP + MAXC];
        pthread_t th[MAXP + MAXC];
        for (int i = 0; i < nc + np; i++) {
            args[i] = (struct stress_arg){&s, i < nc ? i : i - nc};
            tl_check_rc(pthread_create(&th[i], NULL, i < nc ? consumer : producer, &args[i]),
                     "pthread_create");
        }
        for (int i = nc; i < nc + np; i++)
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
        atomic_store(&s.closing, 1);
        taskq_close(s.q);
        tl_latch_wait(&s.done, nc);
        for (int i = 0; i < nc; i++)
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
        tl_assert(s.push_errors == 0, TL_WRONG, "%d pushes into an open queue failed", s.push_errors);
        tl_assert(s.pop_errors == 0, TL_WRONG, "%d pops returned an error other than EPIPE",
                  s.pop_errors);
        tl_assert(s.early_epipe == 0, TL_WRONG, "%d pops returned EPIPE before the queue was closed",
                  s.early_epipe);
        tl_assert(s.bad_fn == 0, TL_WRONG, "%d popped tasks were not ones that were pushed", s.bad_fn);
        tl_assert(s.out_of_order == 0, TL_WRONG,
                  "%d tasks of one producer came out of order: the queue must be FIFO",
                  s.out_of_order);
        for (int i = 0; i < np * s.per; i++)
            tl_assert(s.items[i].runs == 1, TL_WRONG,
                      "task %d of producer %d was popped %d times, want exactly once (%d producers, "
                      "%d consumers)",
                      s.items[i].seq, s.items[i].producer, s.items[i].runs, np, nc);
        tl_latch_destroy(&s.done);
        taskq_destroy(s.q);
        free(s.items);
    }
}

/* Heap blocks allocated and not yet freed, by the code under test and the test. */
static long heap_live(void)
{
    struct tl_counts c = tl_counts_now();
    return c.heap_allocs - c.heap_frees;
}

TL_INTENT(create_fails_cleanly_and_destroy_frees_all,
          "taskq_destroy frees everything taskq_create allocated, and a failed allocation makes "
          "taskq_create return NULL with errno set and nothing leaked.");
TL_TEST(create_fails_cleanly_and_destroy_frees_all)
{
    uint64_t rs = tl_input_seed();
    size_t cap = 1 + tl_rand(&rs) % 16;
    long live0 = heap_live();
    taskq *q = make_queue(cap);
    taskq_destroy(q);
    tl_assert(heap_live() <= live0, TL_MEMORY,
              "taskq_create + taskq_destroy left %ld heap block(s) unfreed", heap_live() - live0);
    /* Make the k-th allocation fail, for every k the queue makes. */
    for (long k = 1; k <= 16; k++) {
        live0 = heap_live();
        tl_fault_nth(TL_FAULT_MALLOC, k, 0);
        errno = 0;
        q = taskq_create(cap);
        int err = errno;
        bool fired = tl_fault_fired(TL_FAULT_MALLOC);
        tl_fault_nth(TL_FAULT_MALLOC, 0, 0);
        if (!fired) { /* it makes fewer than k allocations: every one was tried */
            tl_assert(q != NULL, TL_WRONG, "taskq_create(%zu) returned NULL (errno %d)", cap, err);
            taskq_destroy(q);
            break;
        }
        tl_assert(q == NULL, TL_ERROR_PATH,
                  "taskq_create(%zu) returned a queue although its allocation %ld failed", cap, k);
        tl_assert(err == ENOMEM, TL_ERROR_PATH,
                  "taskq_create(%zu) returned NULL with errno %d when allocation %ld failed, "
                  "want ENOMEM (%d)", cap, err, k, ENOMEM);
        tl_assert(heap_live() <= live0, TL_ERROR_PATH,
                  "taskq_create(%zu) returned NULL when allocation %ld failed, but left %ld heap "
                  "block(s) unfreed: free what was allocated before the failure",
                  cap, k, heap_live() - live0);
    }
}

/* Unlocked reads: every function that reads the queue's state runs while
 * others write it, so that ThreadSanitizer sees a read made without the lock. */
struct racer {
    taskq *q;
    atomic_long pushes, pops, lens;
    atomic_int stop_len, bad_len, push_errors, pop_errors;
    size_t cap;
};

static void *race_pusher(void *p)
{
    struct racer *r = p;
    for (;;) { /* until the close: a push after it must fail */
        int rc = taskq_push(r->q, (struct task){task_a, (void *)r});
        if (rc == EPIPE)
            break;
        if (rc != 0) {
            atomic_fetch_add(&r->push_errors, 1);
            break;
        }
        atomic_fetch_add(&r->pushes, 1);
    }
    return NULL;
}

static void *race_popper(void *p)
{
    struct racer *r = p;
    struct task t;
    int rc;
    while ((rc = taskq_pop(r->q, &t)) == 0)
        atomic_fetch_add(&r->pops, 1);
    if (rc != EPIPE)
        atomic_fetch_add(&r->pop_errors, 1);
    return NULL;
}

static void *race_len(void *p)
{
    struct racer *r = p;
    struct tl_poller poll = {0, 0};
    while (tl_poll_again(&poll, &r->stop_len,
                         (unsigned long)(atomic_load(&r->pushes) + atomic_load(&r->pops)))) {
        if (taskq_len(r->q) > r->cap)
            atomic_fetch_add(&r->bad_len, 1);
        atomic_fetch_add(&r->lens, 1);
    }
    return NULL;
}

static struct racer *racer_now;
static long racer_progress(void)
{
    long a = atomic_load(&racer_now->pushes), b = atomic_load(&racer_now->lens);
    return a < b ? a : b;
}

TL_INTENT(every_reader_runs_beside_every_writer,
          "taskq_len, pushes and pops running at once, and a close in the middle of them, never "
          "corrupt the queue: every pushed task is popped.");
TL_TEST(every_reader_runs_beside_every_writer)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 3; round++) {
        struct racer r = {.cap = 1 + tl_rand(&rs) % 4};
        r.q = make_queue(r.cap);
        racer_now = &r;
        pthread_t th[5];
        void *(*fn[5])(void *) = {race_len, race_pusher, race_pusher, race_popper, race_popper};
        for (int i = 0; i < 5; i++)
            tl_check_rc(pthread_create(&th[i], NULL, fn[i], &r), "pthread_create");
        /* close while pushes, pops and taskq_len calls are all still going on */
        (void)tl_await_count(racer_progress, 200, NULL, 0);
        taskq_close(r.q);
        for (int i = 1; i < 5; i++)
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
        atomic_store(&r.stop_len, 1);
        tl_check_rc(pthread_join(th[0], NULL), "pthread_join");
        tl_assert(r.push_errors == 0 && r.pop_errors == 0, TL_WRONG,
                  "%d pushes and %d pops returned an error other than EPIPE", r.push_errors,
                  r.pop_errors);
        tl_assert(r.bad_len == 0, TL_WRONG,
                  "taskq_len returned more than the capacity %zu (%d times)", r.cap, r.bad_len);
        tl_assert(atomic_load(&r.pushes) == atomic_load(&r.pops), TL_WRONG,
                  "%ld pushes succeeded but %ld tasks were popped before EPIPE",
                  atomic_load(&r.pushes), atomic_load(&r.pops));
        tl_assert(taskq_len(r.q) == 0, TL_WRONG, "taskq_len is %zu after draining the closed queue",
                  taskq_len(r.q));
        taskq_destroy(r.q);
    }
}

static long spurious_now(void) { return tl_counts_now().cond_spurious; }

/* POSIX lets a wait return without a signal: the kit makes many do so. A
 * blocked call must wait again, not go on as if its predicate held. */
TL_INTENT(spurious_wakeups_do_not_end_a_wait,
          "A wait that returns early with no signal (POSIX allows it) does not make a pop on an "
          "empty queue or a push on a full one return.");
TL_TEST(spurious_wakeups_do_not_end_a_wait)
{
    uint64_t rs = tl_input_seed();
    for (int kind = 0; kind < 2; kind++) { /* 0: pop on an empty queue, 1: push on a full one */
        size_t cap = 1 + tl_rand(&rs) % 4;
        taskq *q = make_queue(cap);
        if (kind == 1)
            for (size_t i = 0; i < cap; i++)
                tl_assert(taskq_push(q, (struct task){task_a, (void *)(i + 1)}) == 0, TL_WRONG,
                          "push failed");
        atomic_int returned = 0;
        struct caller c = {.q = q, .t = {task_b, (void *)(cap + 1)}, .returned = &returned,
                           .rc = -1};
        tl_spurious_set(1000); /* every wait returns at once, unsignalled */
        long base = spurious_now();
        pthread_t th;
        tl_check_rc(pthread_create(&th, NULL, kind == 0 ? pop_once : push_once, &c),
                    "pthread_create");
        (void)tl_await_count(spurious_now, base + 4, &returned, 0);
        tl_spurious_set(0);
        tl_assert(atomic_load(&returned) == 0, TL_WRONG,
                  "%s returned %d after a spurious wake-up (%ld so far; POSIX allows them): "
                  "the queue was still %s, so it must wait again - `while`, not `if`",
                  kind == 0 ? "taskq_pop" : "taskq_push", c.rc, spurious_now() - base,
                  kind == 0 ? "empty" : "full");
        struct task t;
        if (kind == 0)
            tl_assert(taskq_push(q, (struct task){task_b, (void *)7}) == 0, TL_WRONG, "push failed");
        else
            tl_assert(taskq_pop(q, &t) == 0 && t.arg == (void *)1, TL_WRONG, "pop from a full queue");
        tl_check_rc(pthread_join(th, NULL), "pthread_join");
        tl_assert(c.rc == 0, TL_WRONG, "the blocked %s returned %d once it could go on",
                  kind == 0 ? "pop" : "push", c.rc);
        if (kind == 0)
            tl_assert(c.t.arg == (void *)7, TL_WRONG, "the blocked pop got %p, want 0x7", c.t.arg);
        else
            for (size_t i = 2; i <= cap + 1; i++)
                tl_assert(taskq_pop(q, &t) == 0 && t.arg == (void *)i, TL_WRONG,
                          "after the blocked push: pop got %p, want %p", t.arg, (void *)i);
        taskq_destroy(q);
    }
}

/* Blocked calls sleep: while nothing happens, they make no calls and use no CPU. */
TL_INTENT(blocked_calls_sleep,
          "A pop on an empty queue and a push on a full one sleep in a condition wait instead of "
          "polling.");
TL_TEST(blocked_calls_sleep)
{
    uint64_t rs = tl_input_seed();
    tl_spurious_set(0);
    taskq *empty = make_queue(1 + tl_rand(&rs) % 4), *full = make_queue(1);
    tl_assert(taskq_push(full, (struct task){task_a, (void *)7}) == 0, TL_WRONG, "push failed");
    atomic_int returned = 0;
    struct tl_latch latch;
    tl_latch_init(&latch);
    struct caller c[2] = {{.q = empty, .returned = &returned, .latch = &latch},
                          {.q = full, .t = {task_b, NULL}, .returned = &returned, .latch = &latch}};
    pthread_t th[2];
    tl_check_rc(pthread_create(&th[0], NULL, pop_once, &c[0]), "pthread_create");
    tl_check_rc(pthread_create(&th[1], NULL, push_once, &c[1]), "pthread_create");
    (void)tl_await_blocked_n(TL_ST_COND, 2);
    struct tl_activity a = tl_watch_idle(TL_IDLE_MS);
    tl_assert(atomic_load(&returned) == 0, TL_WRONG,
              "a pop on an empty queue or a push on a full one returned while nothing changed");
    tl_assert(!tl_activity_busy(&a), TL_BUSY_WAIT,
              "%s: a pop on an empty queue and a push on a full one must sleep in a condition "
              "wait, not poll", tl_activity_str(&a));
    taskq_close(empty);
    taskq_close(full);
    tl_latch_wait(&latch, 2);
    for (int i = 0; i < 2; i++)
        tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
    tl_latch_destroy(&latch);
    taskq_destroy(empty);
    taskq_destroy(full);
}

static const struct tl_test tl_tests[] = {
    TL_RUN(fifo_order_and_close_on_one_thread),
    TL_RUN(pop_blocks_until_a_push),
    TL_RUN(push_blocks_while_full),
    TL_RUN(close_wakes_every_waiter),
    TL_RUN(calls_on_another_thread_see_the_close),
    TL_RUN(each_waiting_thread_is_woken),
    TL_RUN(stress_every_task_popped_exactly_once),
    TL_RUN(create_fails_cleanly_and_destroy_frees_all),
    TL_RUN(every_reader_runs_beside_every_writer),
    TL_RUN(spurious_wakeups_do_not_end_a_wait),
    TL_RUN(blocked_calls_sleep),
};

TL_MAIN("04-worker-pool/queue")
