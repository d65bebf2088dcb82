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
              "after pool_destroy %ld of %ld worker threads were joined", c.threads_joined,
              c.threads_created);
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
    pool_destroy(p);
    for (int i = 0; i < c.njobs; i++)
        tl_assert(c.jobs[i].runs == 1, TL_WRONG,
                  "task %d ran %d times, want exactly once (%zu workers, capacity %zu)", i,
                  c.jobs[i].runs, n, cap);
    tl_assert(c.on_main == 0, TL_WRONG, "%d tasks ran in the submitting thread, not in a worker",
              c.on_main);
    assert_all_joined(n, 0);
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
    bool met = tl_await_count(arrived_now, (long)n, NULL, 0);
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
    pool_destroy(p);
    tl_assert(tl_workers_seen() == (long)n, TL_NOT_PARALLEL,
              "%ld distinct worker threads ran the %zu tasks", tl_workers_seen(), n);
    assert_all_joined(n, 0);
    pthread_cond_destroy(&mt.cv);
    pthread_mutex_destroy(&mt.m);
}

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
    tl_latch_wait(&s.done, 1); /* the workers drain the queue: the submitter must be woken */
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

/* Opens the gate once the main thread is waiting in pool_wait. */
struct opener {
    struct tl_gate *gate;
    long base;
    atomic_int main_waited;
};

static void *open_when_main_waits(void *arg)
{
    struct opener *o = arg;
    atomic_store(&o->main_waited, tl_await_count(tl_waits_now, o->base + 1, NULL, 0));
    tl_gate_open(o->gate);
    return NULL;
}

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
        struct opener o = {.gate = &c.gate, .base = tl_waits_now()};
        pthread_t th;
        tl_check_rc(pthread_create(&th, NULL, open_when_main_waits, &o), "pthread_create");
        pool_wait(p); /* the last task to finish must wake us */
        int fin = atomic_load(&c.finished);
        tl_check_rc(pthread_join(th, NULL), "pthread_join");
        tl_assert(fin == c.njobs, TL_WRONG,
                  "pool_wait returned when %d of %d tasks had finished (%zu were running, %zu "
                  "queued)",
                  fin, c.njobs, n, cap);
        tl_assert(o.main_waited, TL_BUSY_WAIT,
                  "pool_wait never waited on a condition variable while tasks ran");
        pool_destroy(p);
        ctx_free(&c);
    }
}

/* Calls pool_destroy on its own thread, so the test can watch. */
struct destroyer {
    pool *p;
    struct tl_latch done;
};

static void *destroy_it(void *arg)
{
    struct destroyer *d = arg;
    pool_destroy(d->p);
    tl_latch_arrive(&d->done);
    return NULL;
}

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

TL_TEST(destroy_stops_idle_workers)
{
    uint64_t rs = tl_input_seed();
    long created = 0;
    for (int round = 0; round < 12; round++) {
        size_t n = 2 + tl_rand(&rs) % 4;
        long base = tl_waits_now();
        pool *p = make_pool(n, 1 + tl_rand(&rs) % 4);
        created += (long)n;
        if (round % 2 == 0) /* half the time, let every worker go idle first */
            (void)tl_await_count(tl_waits_now, base + (long)n, NULL, 0);
        pool_destroy(p); /* every worker must wake and exit */
        struct tl_counts k = tl_counts_now();
        tl_assert(k.threads_joined == created, TL_THREAD_LEAK,
                  "after pool_destroy %ld of %ld workers were joined", k.threads_joined, created);
    }
}

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
    tl_latch_wait(&s.done, 1); /* cancel must wake the blocked submitter */
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

static const struct tl_test tl_tests[] = {
    TL_RUN(runs_every_task_exactly_once),
    TL_RUN(workers_run_tasks_in_parallel),
    TL_RUN(submit_blocks_while_the_queue_is_full),
    TL_RUN(pool_wait_sleeps_until_the_last_task_finishes),
    TL_RUN(destroy_runs_queued_tasks_then_joins),
    TL_RUN(destroy_stops_idle_workers),
    TL_RUN(cancel_drops_queued_tasks),
    TL_RUN(stress_many_submitters),
};

TL_MAIN("04-worker-pool/pool")
