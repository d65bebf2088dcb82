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
    tl_latch_wait(&latch, k + m); /* a lost wake-up leaves us (and them) waiting here */
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
        tl_latch_wait(&latch, k); /* there is a task for each popper: each must be woken */
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
        tl_latch_wait(&latch, k); /* there is room for each pusher: each must be woken */
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

static const struct tl_test tl_tests[] = {
    TL_RUN(fifo_order_and_close_on_one_thread),
    TL_RUN(pop_blocks_until_a_push),
    TL_RUN(push_blocks_while_full),
    TL_RUN(close_wakes_every_waiter),
    TL_RUN(each_waiting_thread_is_woken),
    TL_RUN(stress_every_task_popped_exactly_once),
};

TL_MAIN("04-worker-pool/queue")
