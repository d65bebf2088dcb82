/*
 * test_pool.c - tests for chapters/04-worker-pool/pool.c.
 *
 * What it shows: testing a pool with tasks the test writes itself. Every
 * task is a `struct job` whose function counts how often it ran (so "each
 * task runs exactly once" is a plain count) and calls tl_note_worker() (so
 * the test learns which threads ran tasks). Some jobs are gated: they wait
 * on a gate the test holds closed, which freezes the workers at a known
 * point - every worker busy, the queue as full as the test made it - so that
 * "submit blocks", "wait blocks" and "cancel drops what is queued" can be
 * checked without a single timer.
 *
 * DESIGN: a call that should block is made on a helper thread; the test
 * waits until that thread has entered a condition wait (tl_counts) and then
 * checks it has not returned. Where a lost wake-up could leave a thread
 * blocked, the main thread waits on a latch, not in pthread_join, so that a
 * hang shows every thread in a condition wait.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "pool.h"

/* ------------------------------------------------------------ helpers */

/* The test's tasks. */
struct ctx {
    struct job *jobs;
    int njobs;
    atomic_int finished, on_main, dropped_calls, dropped_off_main, dropped_foreign;
    struct tl_gate gate;
    pthread_t main_thread;
};

struct job {
    struct ctx *c;
    int id;
    bool gated;
    atomic_int runs, drops;
};

static void job_fn(void *arg)
{
    struct job *j = arg;
    if (tl_note_worker() == 0)
        atomic_fetch_add(&j->c->on_main, 1);
    if (j->gated)
        tl_gate_pass(&j->c->gate);
    atomic_fetch_add(&j->runs, 1);
    atomic_fetch_add(&j->c->finished, 1);
}

static void on_dropped(pool_fn fn, void *arg)
{
    struct job *j = arg;
    if (fn != job_fn || j == NULL) {
        return;
    }
    atomic_fetch_add(&j->drops, 1);
    atomic_fetch_add(&j->c->dropped_calls, 1);
    if (!pthread_equal(pthread_self(), j->c->main_thread))
        atomic_fetch_add(&j->c->dropped_off_main, 1);
}

static void ctx_init(struct ctx *c, int njobs)
{
    memset(c, 0, sizeof *c);
    c->jobs = calloc((size_t)njobs, sizeof *c->jobs);
    ck_assert(c->jobs != NULL);
    c->njobs = njobs;
    for (int i = 0; i < njobs; i++) {
        c->jobs[i].c = c;
        c->jobs[i].id = i;
    }
    tl_gate_init(&c->gate);
    c->main_thread = pthread_self();
}

static void ctx_free(struct ctx *c)
{
    tl_gate_destroy(&c->gate);
    free(c->jobs);
}

static pool *make_pool(size_t n, size_t cap)
{
    pool *p = pool_create(n, cap);
    tl_assert(p != NULL, TL_WRONG, "pool_create(%zu, %zu) returned NULL (errno %d)", n, cap, errno);
    return p;
}

static void submit_ok(pool *p, struct job *j)
{
    int rc = pool_submit(p, job_fn, j);
    tl_assert(rc == 0, TL_WRONG, "pool_submit of task %d returned %d", j->id, rc);
}

/* Check the pool started nthreads threads and joined them all; the test
 * itself started `mine` threads and joined them. */
static void assert_all_joined(size_t nthreads, long mine)
{
    struct tl_counts c = tl_counts_now();
    c.threads_created -= mine;
    c.threads_joined -= mine;
    tl_assert(c.threads_created == (long)nthreads, TL_WRONG,
              "pool_create(%zu, ...) started %ld threads, want exactly %zu", nthreads,
              c.threads_created, nthreads);
    tl_assert(c.threads_joined == c.threads_created, TL_THREAD_LEAK,
              "after pool_destroy %ld of %ld worker threads were joined (%ld detached): "
              "pool_destroy must join every worker", c.threads_joined, c.threads_created,
              c.threads_detached);
}

/* pool_destroy on a helper thread, so that a destroy that never returns (an
 * idle worker never woken) is reported as such, not waited out. */
static void destroy_call(void *p) { pool_destroy(p); }

static void destroy_bounded(pool *p, size_t n)
{
    tl_assert(tl_call_bounded(destroy_call, p), TL_LOST_WAKEUP,
              "pool_destroy of an idle pool of %zu workers never returned: every idle worker "
              "must be woken (broadcast) to see the shutdown and exit", n);
}

/* A thread that makes one pool_submit and reports how it went. */
struct submitter {
    pool *p;
    struct job *j;
    int rc;
    atomic_int returned;
    struct tl_latch done;
};

static void *submit_once(void *arg)
{
    struct submitter *s = arg;
    s->rc = pool_submit(s->p, job_fn, s->j);
    atomic_store(&s->returned, 1);
    tl_latch_arrive(&s->done);
    return NULL;
}

/* -------------------------------------------------------------- tests */

TL_INTENT(runs_every_task_exactly_once,
          "Every submitted task runs exactly once, pool_wait returns only after all of them "
          "finished, and bad sizes give EINVAL.");
TL_TEST(runs_every_task_exactly_once)
{
    uint64_t rs = tl_input_seed();
    errno = 0;
    tl_assert(pool_create(0, 4) == NULL && errno == EINVAL, TL_WRONG,
              "pool_create(0, 4) must return NULL with errno EINVAL");
    errno = 0;
    tl_assert(pool_create(2, 0) == NULL && errno == EINVAL, TL_WRONG,
              "pool_create(2, 0) must return NULL with errno EINVAL");
    size_t n = 2 + tl_rand(&rs) % 3, cap = 1 + tl_rand(&rs) % 16;
    struct ctx c;
    ctx_init(&c, 1000 + (int)(tl_rand(&rs) % 500));
    pool *p = make_pool(n, cap);
    int half = c.njobs / 2;
    for (int i = 0; i < half; i++)
        submit_ok(p, &c.jobs[i]);
    pool_wait(p);
    tl_assert(atomic_load(&c.finished) == half, TL_WRONG,
              "pool_wait returned after %d of %d tasks had finished", atomic_load(&c.finished),
              half);
    for (int i = half; i < c.njobs; i++) /* the pool is reusable after pool_wait */
        submit_ok(p, &c.jobs[i]);
    pool_wait(p);
    tl_assert(atomic_load(&c.finished) == c.njobs, TL_WRONG,
              "pool_wait returned after %d of %d tasks had finished", atomic_load(&c.finished),
              c.njobs);
    destroy_bounded(p, n);
    for (int i = 0; i < c.njobs; i++)
        tl_assert(c.jobs[i].runs == 1, TL_WRONG,
                  "task %d ran %d times, want exactly once (%zu workers, capacity %zu)", i,
                  c.jobs[i].runs, n, cap);
    tl_assert(c.on_main == 0, TL_WRONG, "%d tasks ran in the submitting thread, not in a worker",
              c.on_main);
    assert_all_joined(n, 1);
    ctx_free(&c);
}

/* n tasks that each wait until all n have started: only a pool that runs
 * them at the same time gets through. */
struct meet {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int arrived, need;
    atomic_int arrived_seen, give_up;
};

static void meet_fn(void *arg)
{
    struct meet *mt = arg;
    tl_note_worker();
    pthread_mutex_lock(&mt->m);
    mt->arrived++;
    atomic_store(&mt->arrived_seen, mt->arrived);
    pthread_cond_broadcast(&mt->cv);
    while (mt->arrived < mt->need && !atomic_load(&mt->give_up))
        pthread_cond_wait(&mt->cv, &mt->m);
    pthread_mutex_unlock(&mt->m);
}

static struct meet *meet_now;
static long arrived_now(void) { return atomic_load(&meet_now->arrived_seen); }

TL_INTENT(workers_run_tasks_in_parallel,
          "The workers really run tasks at the same time, on different threads.");
TL_TEST(workers_run_tasks_in_parallel)
{
    uint64_t rs = tl_input_seed();
    size_t n = 2 + tl_rand(&rs) % 3;
    struct meet mt = {.need = (int)n};
    tl_check_rc(pthread_mutex_init(&mt.m, NULL), "pthread_mutex_init");
    tl_check_rc(pthread_cond_init(&mt.cv, NULL), "pthread_cond_init");
    meet_now = &mt;
    pool *p = make_pool(n, n);
    for (size_t i = 0; i < n; i++)
        tl_assert(pool_submit(p, meet_fn, &mt) == 0, TL_WRONG, "pool_submit failed");
    bool met = tl_await_count(arrived_now, (long)n, NULL, 0); /* time-bounded, not yield-counted */
    if (!met) { /* let the stuck task go, so the failure is reported, not a hang */
        pthread_mutex_lock(&mt.m);
        atomic_store(&mt.give_up, 1);
        pthread_cond_broadcast(&mt.cv);
        pthread_mutex_unlock(&mt.m);
    }
    long together = atomic_load(&mt.arrived_seen);
    tl_assert(met, TL_NOT_PARALLEL,
              "a pool of %zu workers never ran %zu tasks at once (at most %ld ran together): "
              "is a task run while the pool's lock is held?",
              n, n, together);
    pool_wait(p);
    destroy_bounded(p, n);
    tl_assert(tl_workers_seen() == (long)n, TL_NOT_PARALLEL,
              "%ld distinct worker threads ran the %zu tasks", tl_workers_seen(), n);
    assert_all_joined(n, 1);
    pthread_cond_destroy(&mt.cv);
    pthread_mutex_destroy(&mt.m);
}

TL_INTENT(submit_blocks_while_the_queue_is_full,
          "pool_submit sleeps in a condition wait while the queue is full, and is woken when a "
          "worker takes a task.");
TL_TEST(submit_blocks_while_the_queue_is_full)
{
    uint64_t rs = tl_input_seed();
    size_t n = 1 + tl_rand(&rs) % 3, cap = 1 + tl_rand(&rs) % 4;
    struct ctx c;
    ctx_init(&c, (int)(n + cap + 1));
    pool *p = make_pool(n, cap);
    for (size_t i = 0; i < n; i++) { /* freeze every worker in a gated task */
        c.jobs[i].gated = true;
        submit_ok(p, &c.jobs[i]);
    }
    tl_gate_await_inside(&c.gate, (int)n);
    for (size_t i = n; i < n + cap; i++) /* fill the queue */
        submit_ok(p, &c.jobs[i]);
    /* snippet: blocks */
    struct submitter s = {.p = p, .j = &c.jobs[n + cap]};
    tl_latch_init(&s.done);
    long base = tl_waits_now();
    pthread_t th;
    tl_check_rc(pthread_create(&th, NULL, submit_once, &s), "pthread_create");
    bool waited = tl_await_count(tl_waits_now, base + 1, &s.returned, 0);
    tl_assert(atomic_load(&s.returned) == 0, TL_WRONG,
              "pool_submit returned %d while all %zu workers were busy and the queue (capacity "
              "%zu) was full: it must block",
              s.rc, n, cap);
    tl_assert(waited, TL_BUSY_WAIT,
              "pool_submit into a full queue never waited on a condition variable");
    tl_gate_open(&c.gate);
    tl_assert(tl_await_at_least(&s.returned, 1), TL_LOST_WAKEUP,
              "a pool_submit blocked on a full queue was never woken although the workers took "
              "tasks out of it");
    tl_latch_wait(&s.done, 1);
    /* end snippet: blocks */
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    tl_assert(s.rc == 0, TL_WRONG, "the blocked pool_submit returned %d once there was room", s.rc);
    pool_wait(p);
    for (int i = 0; i < c.njobs; i++)
        tl_assert(c.jobs[i].runs == 1, TL_WRONG, "task %d ran %d times, want once", i,
                  c.jobs[i].runs);
    pool_destroy(p);
    tl_latch_destroy(&s.done);
    ctx_free(&c);
}

/* Several submitters blocked on a full queue: as the workers take tasks out,
 * each must be woken (one slot each), not only the first. */
TL_INTENT(each_blocked_submitter_is_woken,
          "When several submitters are blocked on a full queue, each one is woken as the workers "
          "free slots, and every task runs once.");
TL_TEST(each_blocked_submitter_is_woken)
{
    uint64_t rs = tl_input_seed();
    enum { MAXK = 4 };
    for (int round = 0; round < 3; round++) {
        size_t n = 1 + tl_rand(&rs) % 2, cap = 1 + tl_rand(&rs) % 3;
        int k = 2 + (int)(tl_rand(&rs) % (MAXK - 1));
        struct ctx c;
        ctx_init(&c, (int)(n + cap) + k);
        pool *p = make_pool(n, cap);
        for (size_t i = 0; i < n; i++) {
            c.jobs[i].gated = true;
            submit_ok(p, &c.jobs[i]);
        }
        tl_gate_await_inside(&c.gate, (int)n);
        for (size_t i = n; i < n + cap; i++)
            submit_ok(p, &c.jobs[i]);
        struct submitter s[MAXK];
        pthread_t th[MAXK];
        for (int i = 0; i < k; i++) {
            s[i] = (struct submitter){.p = p, .j = &c.jobs[n + cap + (size_t)i], .rc = -1};
            tl_latch_init(&s[i].done);
            tl_check_rc(pthread_create(&th[i], NULL, submit_once, &s[i]), "pthread_create");
        }
        (void)tl_await_blocked_n(TL_ST_COND, (int)n + k); /* n at the gate, k submitters */
        tl_gate_open(&c.gate);
        for (int i = 0; i < k; i++) /* bounded: a submitter never woken is reported */
            (void)tl_await_at_least(&s[i].returned, 1);
        int got = 0;
        for (int i = 0; i < k; i++)
            got += atomic_load(&s[i].returned);
        tl_assert(got == k, TL_LOST_WAKEUP,
                  "%d submitters were blocked on a full queue and the workers emptied it, but only "
                  "%d returned: each task taken out must wake a blocked submitter", k, got);
        for (int i = 0; i < k; i++) {
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
            tl_assert(s[i].rc == 0, TL_WRONG, "a blocked pool_submit returned %d", s[i].rc);
            tl_latch_destroy(&s[i].done);
        }
        pool_wait(p);
        for (int i = 0; i < c.njobs; i++)
            tl_assert(c.jobs[i].runs == 1, TL_WRONG, "task %d ran %d times, want once", i,
                      c.jobs[i].runs);
        pool_destroy(p);
        ctx_free(&c);
    }
}

/* pool_wait on a helper thread; records how many tasks had finished when it returned. */
struct waitrec {
    pool *p;
    struct ctx *c;
    int fin;
};

static void wait_and_record(void *arg)
{
    struct waitrec *wr = arg;
    pool_wait(wr->p);
    wr->fin = atomic_load(&wr->c->finished);
}

TL_INTENT(pool_wait_sleeps_until_the_last_task_finishes,
          "pool_wait sleeps until the last task has finished, not just until the queue is empty, "
          "and then returns.");
TL_TEST(pool_wait_sleeps_until_the_last_task_finishes)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 4; round++) {
        size_t n = 1 + tl_rand(&rs) % 3, cap = 1 + tl_rand(&rs) % 4;
        struct ctx c;
        ctx_init(&c, (int)(n + cap));
        pool *p = make_pool(n, cap);
        pool_wait(p); /* nothing submitted: returns at once */
        for (size_t i = 0; i < n; i++) {
            c.jobs[i].gated = true;
            submit_ok(p, &c.jobs[i]);
        }
        tl_gate_await_inside(&c.gate, (int)n);
        for (size_t i = n; i < n + cap; i++)
            submit_ok(p, &c.jobs[i]);
        struct waitrec wr = {.p = p, .c = &c, .fin = -1};
        struct tl_call *w = tl_call_start(wait_and_record, &wr);
        /* the n workers at the gate and the waiter, all really asleep */
        (void)tl_await_blocked_n(TL_ST_COND, (int)n + 1);
        tl_gate_open(&c.gate); /* the last task to finish must wake the waiter */
        tl_assert(tl_call_finish(w), TL_LOST_WAKEUP,
                  "pool_wait never returned after the last of %d tasks finished (%zu were running "
                  "and %zu queued when it began to wait)", c.njobs, n, cap);
        tl_assert(wr.fin == c.njobs, TL_WRONG,
                  "pool_wait returned when %d of %d tasks had finished (%zu were running, %zu "
                  "queued)", wr.fin, c.njobs, n, cap);
        pool_destroy(p);
        ctx_free(&c);
    }
}

/* Calls pool_destroy on its own thread, so the test can watch. */
struct destroyer {
    pool *p;
    struct tl_latch done;
    atomic_int returned;
};

static void *destroy_it(void *arg)
{
    struct destroyer *d = arg;
    pool_destroy(d->p);
    atomic_store(&d->returned, 1);
    tl_latch_arrive(&d->done);
    return NULL;
}

TL_INTENT(destroy_runs_queued_tasks_then_joins,
          "pool_destroy runs every task still queued exactly once, wakes every worker, and joins "
          "them all.");
TL_TEST(destroy_runs_queued_tasks_then_joins)
{
    uint64_t rs = tl_input_seed();
    size_t n = 1 + tl_rand(&rs) % 3, cap = 1 + tl_rand(&rs) % 6;
    struct ctx c;
    ctx_init(&c, (int)(n + cap));
    pool *p = make_pool(n, cap);
    for (size_t i = 0; i < n; i++) {
        c.jobs[i].gated = true;
        submit_ok(p, &c.jobs[i]);
    }
    tl_gate_await_inside(&c.gate, (int)n);
    for (size_t i = n; i < n + cap; i++)
        submit_ok(p, &c.jobs[i]);
    struct destroyer d = {.p = p};
    tl_latch_init(&d.done);
    long base = tl_wakes_now();
    pthread_t th;
    tl_check_rc(pthread_create(&th, NULL, destroy_it, &d), "pthread_create");
    /* Destroy announces the shutdown to the workers with a wake-up; open the
     * gate after that, so the queued tasks are still queued when it starts. */
    (void)tl_await_count(tl_wakes_now, base + 1, NULL, 0);
    tl_gate_open(&c.gate);
    tl_assert(tl_await_at_least(&d.returned, 1), TL_LOST_WAKEUP,
              "pool_destroy never returned after the last running task finished: were all %zu "
              "workers woken to run the queued tasks and exit?", n);
    tl_latch_wait(&d.done, 1);
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    for (int i = 0; i < c.njobs; i++)
        tl_assert(c.jobs[i].runs == 1, TL_WRONG,
                  "task %d (%s) ran %d times: pool_destroy must run every queued task once", i,
                  c.jobs[i].gated ? "running" : "queued", c.jobs[i].runs);
    struct tl_counts k = tl_counts_now();
    tl_assert(k.threads_joined == (long)n + 1, TL_THREAD_LEAK,
              "pool_destroy returned having joined %ld of %zu workers", k.threads_joined - 1, n);
    tl_latch_destroy(&d.done);
    ctx_free(&c);
}

TL_INTENT(destroy_stops_idle_workers,
          "pool_destroy wakes every idle worker (a broadcast, not one signal) and joins them all.");
TL_TEST(destroy_stops_idle_workers)
{
    uint64_t rs = tl_input_seed();
    long created = 0, mine = 0;
    bool sleepers = true; /* false once workers were seen never to block (polling) */
    for (int round = 0; round < 12; round++) {
        size_t n = 2 + tl_rand(&rs) % 4;
        pool *p = make_pool(n, 1 + tl_rand(&rs) % 4);
        created += (long)n;
        if (round % 2 == 0 && sleepers) /* half the time, let every worker go idle first */
            sleepers = tl_await_blocked_n(TL_ST_COND, (int)n);
        struct destroyer d = {.p = p};
        tl_latch_init(&d.done);
        pthread_t th;
        tl_check_rc(pthread_create(&th, NULL, destroy_it, &d), "pthread_create");
        tl_assert(tl_await_at_least(&d.returned, 1), TL_LOST_WAKEUP,
                  "pool_destroy of a pool of %zu %s workers never returned: every idle worker must "
                  "be woken to see the shutdown", n, round % 2 == 0 ? "idle" : "starting");
        tl_check_rc(pthread_join(th, NULL), "pthread_join");
        tl_latch_destroy(&d.done);
        mine++; /* the destroyer thread */
        struct tl_counts k = tl_counts_now();
        tl_assert(k.threads_joined - mine == created, TL_THREAD_LEAK,
                  "after pool_destroy %ld of %ld workers were joined (%ld detached): pool_destroy "
                  "must join every worker", k.threads_joined - mine, created, k.threads_detached);
    }
}

TL_INTENT(cancel_drops_queued_tasks,
          "pool_cancel drops the queued tasks, lets the running ones finish, wakes blocked "
          "submitters with EPIPE, and later submits give EPIPE.");
TL_TEST(cancel_drops_queued_tasks)
{
    uint64_t rs = tl_input_seed();
    size_t n = 1 + tl_rand(&rs) % 3, cap = 1 + tl_rand(&rs) % 6;
    struct ctx c;
    ctx_init(&c, (int)(n + cap + 2));
    pool *p = make_pool(n, cap);
    for (size_t i = 0; i < n; i++) {
        c.jobs[i].gated = true;
        submit_ok(p, &c.jobs[i]);
    }
    tl_gate_await_inside(&c.gate, (int)n);
    for (size_t i = n; i < n + cap; i++)
        submit_ok(p, &c.jobs[i]);
    struct submitter s = {.p = p, .j = &c.jobs[n + cap], .rc = -1};
    tl_latch_init(&s.done);
    long base = tl_waits_now();
    pthread_t th;
    tl_check_rc(pthread_create(&th, NULL, submit_once, &s), "pthread_create");
    bool waited = tl_await_count(tl_waits_now, base + 1, &s.returned, 0);
    tl_assert(waited && atomic_load(&s.returned) == 0, TL_WRONG,
              "pool_submit into a full queue must block (returned %d)", s.rc);

    size_t dropped = pool_cancel(p, on_dropped);
    tl_assert(tl_await_at_least(&s.returned, 1), TL_LOST_WAKEUP,
              "a pool_submit blocked on a full queue was never woken by pool_cancel: it must "
              "return EPIPE");
    tl_latch_wait(&s.done, 1);
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    tl_assert(s.rc == EPIPE, TL_WRONG, "a pool_submit blocked at cancel returned %d, want EPIPE",
              s.rc);
    tl_assert(pool_submit(p, job_fn, &c.jobs[n + cap + 1]) == EPIPE, TL_WRONG,
              "pool_submit after pool_cancel must return EPIPE");
    tl_assert(dropped == cap, TL_WRONG, "pool_cancel dropped %zu tasks, %zu were queued", dropped,
              cap);
    tl_assert(c.dropped_calls == (int)cap, TL_WRONG,
              "pool_cancel called the dropped hook %d times for %zu dropped tasks",
              c.dropped_calls, cap);
    tl_assert(c.dropped_off_main == 0, TL_WRONG,
              "the dropped hook must be called in pool_cancel's caller, not in a worker");
    tl_gate_open(&c.gate);
    pool_wait(p); /* the running tasks still finish */
    for (size_t i = 0; i < n + cap + 2; i++) {
        struct job *j = &c.jobs[i];
        int want_runs = i < n, want_drops = i >= n && i < n + cap;
        tl_assert(j->runs == want_runs && j->drops == want_drops, TL_WRONG,
                  "task %zu (%s) ran %d and was dropped %d times", i,
                  i < n ? "running at cancel" : i < n + cap ? "queued at cancel" : "refused",
                  j->runs, j->drops);
    }
    tl_assert(pool_cancel(p, NULL) == 0, TL_WRONG, "a second pool_cancel has nothing to drop");
    pool_destroy(p);
    assert_all_joined(n, 1);
    tl_latch_destroy(&s.done);
    ctx_free(&c);
}

/* Stress: several submitters, a small queue, pool_wait and a fresh pool per round. */
struct feeder {
    pool *p;
    struct ctx *c;
    int from, to;
    atomic_int errors;
};

static void *feed(void *arg)
{
    struct feeder *f = arg;
    for (int i = f->from; i < f->to; i++)
        if (pool_submit(f->p, job_fn, &f->c->jobs[i]) != 0)
            atomic_fetch_add(&f->errors, 1);
    return NULL;
}

TL_INTENT(stress_many_submitters,
          "Many threads submitting at once, with pool_wait and pool_destroy going on, make every "
          "task run exactly once and leave no thread unjoined.");
TL_TEST(stress_many_submitters)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 6; round++) {
        size_t n = 1 + tl_rand(&rs) % 4, cap = 1 + tl_rand(&rs) % 4;
        int ns = 2 + (int)(tl_rand(&rs) % 2), per = 150 + (int)(tl_rand(&rs) % 100);
        struct ctx c;
        ctx_init(&c, ns * per);
        pool *p = make_pool(n, cap);
        struct feeder f[3];
        pthread_t th[3];
        for (int i = 0; i < ns; i++) {
            f[i] = (struct feeder){.p = p, .c = &c, .from = i * per, .to = (i + 1) * per};
            tl_check_rc(pthread_create(&th[i], NULL, feed, &f[i]), "pthread_create");
        }
        pool_wait(p); /* may return early or late while feeding goes on; must not hang */
        for (int i = 0; i < ns; i++) {
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
            tl_assert(f[i].errors == 0, TL_WRONG, "%d submits failed", f[i].errors);
        }
        if (round % 2 == 0)
            pool_wait(p);
        pool_destroy(p); /* odd rounds: destroy must finish what is queued */
        for (int i = 0; i < c.njobs; i++)
            tl_assert(c.jobs[i].runs == 1, TL_WRONG,
                      "task %d ran %d times, want once (%zu workers, capacity %zu, %d "
                      "submitters)",
                      i, c.jobs[i].runs, n, cap, ns);
        struct tl_counts k = tl_counts_now();
        tl_assert(k.threads_joined == k.threads_created, TL_THREAD_LEAK,
                  "after pool_destroy %ld threads were left unjoined",
                  k.threads_created - k.threads_joined);
        ctx_free(&c);
    }
}

/* Heap blocks allocated and not yet freed, by the code under test and the test. */
static long heap_live(void)
{
    struct tl_counts c = tl_counts_now();
    return c.heap_allocs - c.heap_frees;
}

/* The k-th pthread_create fails: the k-1 workers started must be stopped and
 * joined, everything freed, NULL returned with errno set (pool.h). */
TL_INTENT(create_failure_stops_and_joins_started_workers,
          "When pthread_create fails part way through pool_create, it stops and joins the "
          "workers it started and returns NULL with errno set.");
TL_TEST(create_failure_stops_and_joins_started_workers)
{
    uint64_t rs = tl_input_seed();
    size_t n = 2 + tl_rand(&rs) % 3, cap = 1 + tl_rand(&rs) % 8;
    for (long k = 1; k <= (long)n; k++) {
        struct tl_counts c0 = tl_counts_now();
        long live0 = heap_live();
        int fail = k % 2 ? EAGAIN : EPERM;
        tl_fault_nth(TL_FAULT_CREATE, k, fail);
        errno = 0;
        pool *p = pool_create(n, cap);
        int err = errno;
        bool fired = tl_fault_fired(TL_FAULT_CREATE);
        tl_fault_nth(TL_FAULT_CREATE, 0, 0);
        struct tl_counts c1 = tl_counts_now();
        long started = c1.threads_created - c0.threads_created;
        long joined = c1.threads_joined - c0.threads_joined;
        tl_assert(fired, TL_WRONG, "pool_create(%zu, %zu) made fewer than %ld pthread_create calls",
                  n, cap, k);
        if (p != NULL)
            pool_destroy(p);
        tl_assert(p == NULL, TL_ERROR_PATH,
                  "pool_create(%zu, %zu) returned a pool although its pthread_create %ld of %zu "
                  "failed (%s)", n, cap, k, n, strerror(fail));
        tl_assert(joined == started, TL_ERROR_PATH,
                  "pool_create(%zu, %zu) returned NULL when pthread_create %ld failed, but joined "
                  "only %ld of the %ld workers it had started: stop and join them first",
                  n, cap, k, joined, started);
        tl_assert(err == fail, TL_ERROR_PATH,
                  "pool_create returned NULL with errno %d when pthread_create failed with %d (%s): "
                  "errno must be pthread_create's error", err, fail, strerror(fail));
        tl_assert(heap_live() <= live0, TL_ERROR_PATH,
                  "pool_create returned NULL when pthread_create %ld of %zu failed, but left %ld "
                  "heap block(s) unfreed", k, n, heap_live() - live0);
    }
    /* And when an allocation fails: ENOMEM, no thread left, nothing allocated. */
    for (long k = 1; k <= 16; k++) {
        struct tl_counts c0 = tl_counts_now();
        long live0 = heap_live();
        tl_fault_nth(TL_FAULT_MALLOC, k, 0);
        errno = 0;
        pool *p = pool_create(n, cap);
        int err = errno;
        bool fired = tl_fault_fired(TL_FAULT_MALLOC);
        tl_fault_nth(TL_FAULT_MALLOC, 0, 0);
        struct tl_counts c1 = tl_counts_now();
        if (!fired) { /* fewer than k allocations: each one has been made to fail */
            tl_assert(p != NULL, TL_WRONG, "pool_create returned NULL (errno %d)", err);
            pool_destroy(p);
            break;
        }
        if (p != NULL)
            pool_destroy(p);
        tl_assert(p == NULL, TL_ERROR_PATH,
                  "pool_create(%zu, %zu) returned a pool although its allocation %ld failed", n,
                  cap, k);
        tl_assert(c1.threads_joined - c0.threads_joined == c1.threads_created - c0.threads_created,
                  TL_ERROR_PATH,
                  "pool_create returned NULL when allocation %ld failed, but left %ld worker(s) "
                  "unjoined", k,
                  (c1.threads_created - c0.threads_created) - (c1.threads_joined - c0.threads_joined));
        tl_assert(err == ENOMEM, TL_ERROR_PATH,
                  "pool_create returned NULL with errno %d when allocation %ld failed, want ENOMEM",
                  err, k);
        tl_assert(heap_live() <= live0, TL_ERROR_PATH,
                  "pool_create returned NULL when allocation %ld failed, but left %ld heap "
                  "block(s) unfreed", k, heap_live() - live0);
    }
}

/* Idle workers, a blocked submitter and a blocked pool_wait all sleep. */
static void wait_for_pool(void *arg) { pool_wait(arg); }

TL_INTENT(blocked_threads_sleep,
          "Idle workers, a submitter on a full queue and a waiter in pool_wait all sleep in "
          "condition waits instead of polling.");
TL_TEST(blocked_threads_sleep)
{
    uint64_t rs = tl_input_seed();
    tl_spurious_set(0);
    size_t n = 2 + tl_rand(&rs) % 3, cap = 1 + tl_rand(&rs) % 4;
    pool *p = make_pool(n, cap);
    bool asleep = tl_await_blocked_n(TL_ST_COND, (int)n);
    struct tl_activity a = tl_watch_idle(TL_IDLE_MS);
    tl_assert(!tl_activity_busy(&a), TL_BUSY_WAIT,
              "%s: the %zu workers of an idle pool must sleep in a condition wait, not poll%s", 
              tl_activity_str(&a), n, asleep ? "" : " (they never blocked)");
    struct ctx c;
    ctx_init(&c, (int)(n + cap + 1));
    for (size_t i = 0; i < n; i++) {
        c.jobs[i].gated = true;
        submit_ok(p, &c.jobs[i]);
    }
    tl_gate_await_inside(&c.gate, (int)n);
    for (size_t i = n; i < n + cap; i++)
        submit_ok(p, &c.jobs[i]);
    struct submitter s = {.p = p, .j = &c.jobs[n + cap]};
    tl_latch_init(&s.done);
    pthread_t th;
    tl_check_rc(pthread_create(&th, NULL, submit_once, &s), "pthread_create");
    struct tl_call *w = tl_call_start(wait_for_pool, p);
    (void)tl_await_blocked_n(TL_ST_COND, (int)n + 2); /* n at the gate, a submitter, a waiter */
    a = tl_watch_idle(TL_IDLE_MS);
    tl_assert(!tl_activity_busy(&a), TL_BUSY_WAIT,
              "%s: with every worker busy and the queue full, a pool_submit and a pool_wait "
              "must sleep in a condition wait, not poll", tl_activity_str(&a));
    tl_assert(atomic_load(&s.returned) == 0, TL_WRONG,
              "pool_submit returned %d into a full queue", s.rc);
    tl_gate_open(&c.gate);
    tl_latch_wait(&s.done, 1);
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    tl_assert(tl_call_finish(w), TL_LOST_WAKEUP,
              "pool_wait never returned after the last task finished");
    pool_destroy(p);
    tl_latch_destroy(&s.done);
    ctx_free(&c);
}

static long spurious_now(void) { return tl_counts_now().cond_spurious; }

/* POSIX lets a wait return without a signal, and the kit makes every wait do
 * so for a while: workers, a submitter and a pool_wait must all wait again. */
TL_INTENT(spurious_wakeups_change_nothing,
          "A wait that returns early with no signal (POSIX allows it) makes no worker run a "
          "task, no submit return, and no pool_wait return too soon.");
TL_TEST(spurious_wakeups_change_nothing)
{
    uint64_t rs = tl_input_seed();
    size_t n = 1 + tl_rand(&rs) % 3, cap = 1 + tl_rand(&rs) % 4;
    struct ctx c;
    ctx_init(&c, (int)(2 * n + cap + 1));
    tl_spurious_set(1000); /* idle workers: every wait returns at once, unsignalled */
    long base = spurious_now();
    pool *p = make_pool(n, cap);
    (void)tl_await_count(spurious_now, base + 4 * (long)n, NULL, 0);
    tl_spurious_set(0);
    tl_assert(atomic_load(&c.finished) == 0, TL_WRONG, "a task ran before any was submitted");
    for (size_t i = 0; i < n; i++) {
        c.jobs[i].gated = true;
        submit_ok(p, &c.jobs[i]);
    }
    tl_gate_await_inside(&c.gate, (int)n);
    for (size_t i = n; i < n + cap; i++)
        submit_ok(p, &c.jobs[i]);
    struct submitter s = {.p = p, .j = &c.jobs[n + cap]};
    tl_latch_init(&s.done);
    tl_spurious_set(1000); /* the submitter and pool_wait: woken again and again */
    base = spurious_now();
    pthread_t th;
    tl_check_rc(pthread_create(&th, NULL, submit_once, &s), "pthread_create");
    struct tl_call *w = tl_call_start(wait_for_pool, p);
    (void)tl_await_count(spurious_now, base + 8, &s.returned, 0);
    int w_back = 0;
    sem_getvalue(&w->done, &w_back);
    tl_spurious_set(0);
    tl_assert(atomic_load(&s.returned) == 0, TL_WRONG,
              "pool_submit returned %d into a full queue after a spurious wake-up (POSIX allows "
              "them): it must wait again - `while`, not `if`", s.rc);
    tl_assert(w_back == 0, TL_WRONG,
              "pool_wait returned after a spurious wake-up while %zu tasks still ran and %zu were "
              "queued: it must wait again - `while`, not `if`", n, cap);
    tl_gate_open(&c.gate);
    tl_latch_wait(&s.done, 1);
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    tl_assert(tl_call_finish(w), TL_LOST_WAKEUP,
              "pool_wait never returned after the last task finished");
    pool_wait(p); /* the blocked submitter's task may have been queued after that wait ended */
    for (int i = 0; i <= (int)(n + cap); i++)
        tl_assert(c.jobs[i].runs == 1, TL_WRONG, "task %d ran %d times, want once", i,
                  c.jobs[i].runs);
    tl_assert(atomic_load(&c.finished) == (int)(n + cap + 1), TL_WRONG,
              "%d tasks ran, %zu were submitted", atomic_load(&c.finished), n + cap + 1);
    pool_destroy(p);
    tl_latch_destroy(&s.done);
    ctx_free(&c);
}

/* A task may submit further tasks, also while pool_destroy() drains the
 * queue: what it submits runs too (pool.h). */
struct parent {
    pool *p;
    struct ctx *c;
    int child;           /* index of the job it submits */
    struct tl_gate *gate;
    atomic_int rc;
};

static void parent_fn(void *arg)
{
    struct parent *pa = arg;
    tl_gate_pass(pa->gate);
    atomic_store(&pa->rc, pool_submit(pa->p, job_fn, &pa->c->jobs[pa->child]));
}

TL_INTENT(tasks_may_submit_tasks_even_during_destroy,
          "A running task may submit more tasks, even while pool_destroy drains the queue, and "
          "each of them runs exactly once.");
TL_TEST(tasks_may_submit_tasks_even_during_destroy)
{
    uint64_t rs = tl_input_seed();
    size_t n = 1 + tl_rand(&rs) % 3, k = n + tl_rand(&rs) % 3;
    struct ctx c;
    ctx_init(&c, (int)k);
    struct tl_gate gate;
    tl_gate_init(&gate);
    pool *p = make_pool(n, 2 * k); /* room for every child: nobody blocks submitting */
    struct parent pa[8];
    for (size_t i = 0; i < k; i++) {
        pa[i] = (struct parent){.p = p, .c = &c, .child = (int)i, .gate = &gate, .rc = -1};
        tl_assert(pool_submit(p, parent_fn, &pa[i]) == 0, TL_WRONG, "pool_submit failed");
    }
    tl_gate_await_inside(&gate, (int)n);
    struct destroyer d = {.p = p};
    tl_latch_init(&d.done);
    long base = tl_wakes_now();
    pthread_t th;
    tl_check_rc(pthread_create(&th, NULL, destroy_it, &d), "pthread_create");
    (void)tl_await_count(tl_wakes_now, base + 1, NULL, 0); /* destroy has begun */
    tl_gate_open(&gate);
    tl_assert(tl_await_at_least(&d.returned, 1), TL_LOST_WAKEUP,
              "pool_destroy never returned while running tasks submitted more tasks");
    tl_latch_wait(&d.done, 1);
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    for (size_t i = 0; i < k; i++) {
        tl_assert(pa[i].rc == 0, TL_WRONG,
                  "a task's pool_submit returned %d while pool_destroy drained the queue: running "
                  "tasks may submit, and what they submit runs too", pa[i].rc);
        tl_assert(c.jobs[i].runs == 1, TL_WRONG,
                  "a task submitted by a running task (during pool_destroy) ran %d times, want once",
                  c.jobs[i].runs);
    }
    tl_latch_destroy(&d.done);
    tl_gate_destroy(&gate);
    ctx_free(&c);
}

/* Unlocked reads: submit, wait and cancel run at the same time. */
struct canceller_feed {
    pool *p;
    struct ctx *c;
    int from, to;
    atomic_int accepted, refused, errors;
    atomic_char *acc;    /* per job: 1 if its submit returned 0 */
};

static void *feed_until_refused(void *arg)
{
    struct canceller_feed *f = arg;
    for (int i = f->from; i < f->to; i++) {
        int rc = pool_submit(f->p, job_fn, &f->c->jobs[i]);
        if (rc == 0) {
            atomic_store(&f->acc[i], 1);
            atomic_fetch_add(&f->accepted, 1);
        } else if (rc == EPIPE) {
            atomic_fetch_add(&f->refused, 1);
        } else {
            atomic_fetch_add(&f->errors, 1);
        }
    }
    return NULL;
}

static atomic_int waits_done;
static void *wait_loop(void *arg)
{
    for (int i = 0; i < 50; i++) {
        pool_wait(arg);
        atomic_fetch_add(&waits_done, 1);
    }
    return NULL;
}

static struct canceller_feed *feed_now;
static long accepted_now(void) { return atomic_load(&feed_now[0].accepted) + atomic_load(&feed_now[1].accepted); }

TL_INTENT(cancel_while_submitting_and_waiting,
          "While threads submit and wait during pool_cancel, each task is either run once or "
          "dropped once, and submits return only 0 or EPIPE.");
TL_TEST(cancel_while_submitting_and_waiting)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 3; round++) {
        size_t n = 1 + tl_rand(&rs) % 3, cap = 1 + tl_rand(&rs) % 4;
        int per = 300;
        struct ctx c;
        ctx_init(&c, 2 * per);
        atomic_char *acc = calloc((size_t)(2 * per), sizeof *acc);
        ck_assert(acc != NULL);
        pool *p = make_pool(n, cap);
        struct canceller_feed f[2];
        pthread_t th[3];
        feed_now = f;
        for (int i = 0; i < 2; i++) {
            f[i] = (struct canceller_feed){.p = p, .c = &c, .from = i * per, .to = (i + 1) * per,
                                           .acc = acc};
            tl_check_rc(pthread_create(&th[i], NULL, feed_until_refused, &f[i]), "pthread_create");
        }
        atomic_store(&waits_done, 0);
        tl_check_rc(pthread_create(&th[2], NULL, wait_loop, p), "pthread_create");
        (void)tl_await_count(accepted_now, 20 + (long)(tl_rand(&rs) % 100), NULL, 0);
        size_t dropped = pool_cancel(p, on_dropped);
        for (int i = 0; i < 3; i++)
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
        pool_wait(p);
        int drops = 0, accepted = 0;
        for (int i = 0; i < 2 * per; i++) {
            struct job *j = &c.jobs[i];
            drops += j->drops;
            accepted += atomic_load(&acc[i]);
            tl_assert(j->runs + j->drops == atomic_load(&acc[i]), TL_WRONG,
                      "task %d: submit returned %s, then it ran %d and was dropped %d times",
                      i, atomic_load(&acc[i]) ? "0" : "EPIPE", j->runs, j->drops);
        }
        tl_assert(f[0].errors + f[1].errors == 0, TL_WRONG,
                  "pool_submit returned an error other than 0 or EPIPE");
        tl_assert((size_t)drops == dropped, TL_WRONG,
                  "pool_cancel returned %zu but called the hook %d times", dropped, drops);
        pool_destroy(p);
        free(acc);
        ctx_free(&c);
        (void)accepted;
    }
}

static const struct tl_test tl_tests[] = {
    TL_RUN(runs_every_task_exactly_once),
    TL_RUN(workers_run_tasks_in_parallel),
    TL_RUN(blocked_threads_sleep),
    TL_RUN(submit_blocks_while_the_queue_is_full),
    TL_RUN(each_blocked_submitter_is_woken),
    TL_RUN(pool_wait_sleeps_until_the_last_task_finishes),
    TL_RUN(destroy_runs_queued_tasks_then_joins),
    TL_RUN(destroy_stops_idle_workers),
    TL_RUN(cancel_drops_queued_tasks),
    TL_RUN(stress_many_submitters),
    TL_RUN(create_failure_stops_and_joins_started_workers),
    TL_RUN(spurious_wakeups_change_nothing),
    TL_RUN(tasks_may_submit_tasks_even_during_destroy),
    TL_RUN(cancel_while_submitting_and_waiting),
};

TL_MAIN("04-worker-pool/pool")
