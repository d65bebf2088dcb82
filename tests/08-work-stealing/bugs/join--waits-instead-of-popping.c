/* expect: lost-wakeup */
/* BUG (join--waits-instead-of-popping): after running a, the join blocks on a condition variable until a thief has run b, instead of popping b back: on a pool of one worker there is no thief, so the worker and ws_run's caller wait forever */
/*
 * join.c - a small Rayon-like runtime: workers, deques, and join
 * (a known-buggy variant: see the BUG line above).
 *
 * What it shows: join with help-while-waiting. ws_join pushes b, runs a,
 * and pops b back if it is still there; if a thief took it, the joiner
 * steals and runs other tasks until the thief marks b done. A joiner never
 * sleeps while its b runs elsewhere, so a pool of one worker runs any tree of
 * nested joins (b is always popped back), and on n workers nobody waits
 * while there is work to steal.
 *
 * DESIGN: a stolen task signals its end through its own `done` flag (release
 * by the thief, acquire by the joiner: everything b wrote is then visible).
 * Idle workers yield for a while and then sleep on `wake`. The lost wake-up
 * between "I found no work, I sleep" and "I pushed work, nobody sleeps" is
 * closed like Dekker's: the sleeper counts itself in `sleepers` (seq_cst) and
 * only then looks at every deque once more; a pusher makes its push visible,
 * a seq_cst fence, and only then reads `sleepers`. Of the two, at least one
 * sees the other. Root tasks from ws_run go through an inbox under the lock.
 */
#define _POSIX_C_SOURCE 200809L
#include "join.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deque.h"

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
static void cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    int rc = pthread_cond_wait(c, m);
    if (rc != 0)
        die_rc(rc, "pthread_cond_wait");
}
static void cond_signal(pthread_cond_t *c)
{
    int rc = pthread_cond_signal(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_signal");
}
static void cond_broadcast(pthread_cond_t *c)
{
    int rc = pthread_cond_broadcast(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_broadcast");
}

/* A task: b of a join (on the joiner's stack) or a root task (on ws_run's). */
struct task {
    ws_fn *fn;
    void *arg;
    atomic_bool done;          /* stolen b: set (release) by the thief that ran it */
    struct task *next;         /* root: the inbox's link, guarded by pool lock */
    bool root, root_done;      /* root_done: guarded by pool lock */
};

struct worker {
    ws_pool *pool;
    deque *dq;                 /* pushed and popped only by this worker */
    pthread_t th;
    int index;
    unsigned rng;              /* private: where to start looking for a victim */
    atomic_long steals;        /* relaxed: statistics */
    char pad[64];              /* keeps the next worker's fields off this line */
};

struct ws_pool {
    int n;
    struct worker *w;
    pthread_mutex_t lock;
    pthread_cond_t wake;       /* signalled when work appears or stop is set */
    pthread_cond_t finished;   /* broadcast when a root task is done */
    /* Guarded by lock. */
    struct task *inbox;        /* root tasks not yet taken, LIFO */
    long epoch;                /* bumped by every wake-up, so a sleeper sees it */
    bool stop;                 /* set once by ws_pool_destroy */
    atomic_int sleepers;       /* workers counting themselves out (seq_cst; see DESIGN) */
    atomic_int inbox_n;        /* roots in the inbox: a hint read without the lock */
};

static _Thread_local struct worker *current;   /* the worker this thread is, or NULL */

enum { SPINS_BEFORE_SLEEP = 64 };

/* Runs t on me; marks it done. Never blocks, except on the lock for a root. */
static void run_task(struct worker *me, struct task *t)
{
    t->fn(t->arg);
    if (t->root) {
        ws_pool *p = me->pool;
        mutex_lock(&p->lock);
        t->root_done = true;
        cond_broadcast(&p->finished);
        mutex_unlock(&p->lock);
    } else {
        ws_pool *p = me->pool; /* BUG: wakes the blocked joiner (see ws_join) */
        mutex_lock(&p->lock); /* BUG */
        atomic_store_explicit(&t->done, true, memory_order_release);
        cond_broadcast(&p->finished); /* BUG */
        mutex_unlock(&p->lock); /* BUG */
    }
}

/* Returns a task stolen from another worker or taken from the inbox, or NULL;
 * blocks at most on the lock (only when the inbox is not empty). */
static struct task *find_work(struct worker *me)
{
    ws_pool *p = me->pool;
    me->rng = me->rng * 1103515245u + 12345u;
    int start = (int)((me->rng >> 16) % (unsigned)p->n);
    for (int k = 0; k < p->n; k++) {
        struct worker *v = &p->w[(start + k) % p->n];
        if (v == me)
            continue;
        void *t;
        enum deque_steal_result r;
        while ((r = deque_steal(v->dq, &t)) == DEQUE_ABORT)
            ;
        if (r == DEQUE_OK) {
            atomic_fetch_add_explicit(&me->steals, 1, memory_order_relaxed);
            return t;
        }
    }
    if (atomic_load_explicit(&p->inbox_n, memory_order_relaxed) > 0) {
        struct task *t = NULL;
        mutex_lock(&p->lock);
        if (p->inbox != NULL) {
            t = p->inbox;
            p->inbox = t->next;
            atomic_fetch_sub_explicit(&p->inbox_n, 1, memory_order_relaxed);
        }
        mutex_unlock(&p->lock);
        return t;
    }
    return NULL;
}

/* snippet: wake */
/* After a push: wakes one sleeping worker, if any. Blocks only on the lock,
 * and only when a worker sleeps. */
static void wake_one(ws_pool *p)
{
    /* Pairs with the seq_cst increment of sleepers (and the fences in
     * deque_steal) in sleep_or_find(): either the sleeper sees our push, or
     * we see it counted. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&p->sleepers, memory_order_relaxed) == 0)
        return;
    mutex_lock(&p->lock);
    p->epoch++;
    cond_signal(&p->wake);
    mutex_unlock(&p->lock);
}

/* Returns a task found after announcing that me sleeps, or NULL after a
 * wake-up (or on stop, with *stop set). Blocks on wake until work may exist. */
static struct task *sleep_or_find(struct worker *me, bool *stop)
{
    ws_pool *p = me->pool;
    mutex_lock(&p->lock);
    atomic_fetch_add_explicit(&p->sleepers, 1, memory_order_seq_cst);
    long seen = p->epoch;
    mutex_unlock(&p->lock);
    struct task *t = find_work(me); /* one last look, now that pushers see us */
    mutex_lock(&p->lock);
    if (t == NULL)
        while (p->epoch == seen && !p->stop && p->inbox == NULL)
            cond_wait(&p->wake, &p->lock);
    atomic_fetch_sub_explicit(&p->sleepers, 1, memory_order_relaxed);
    *stop = p->stop;
    mutex_unlock(&p->lock);
    return t;
}
/* end snippet: wake */

/* A worker: runs its own tasks, then stolen ones, then sleeps. */
static void *worker_main(void *arg)
{
    struct worker *me = arg;
    current = me;
    int idle = 0;
    for (;;) {
        struct task *t = deque_pop(me->dq);
        if (t == NULL)
            t = find_work(me);
        if (t == NULL && ++idle > SPINS_BEFORE_SLEEP) {
            bool stop = false;
            t = sleep_or_find(me, &stop);
            idle = 0;
            if (t == NULL && stop)
                return NULL;
        }
        if (t != NULL) {
            run_task(me, t);
            idle = 0;
        } else {
            sched_yield(); /* back off: on one CPU the worker with work needs it */
        }
    }
}

/* snippet: join */
void ws_join(ws_pool *p, ws_fn *a, void *aa, ws_fn *b, void *ba)
{
    struct worker *me = current;
    struct task tb = {.fn = b, .arg = ba};
    atomic_init(&tb.done, false);
    if (me == NULL || me->pool != p || !deque_push(me->dq, &tb)) {
        a(aa); /* not a worker of p (or out of memory): run both here */
        b(ba);
        return;
    }
    wake_one(p);
    a(aa);
    /* BUG: never pops b back: waits for another worker to run it, which on one worker never happens */
    /* b was stolen (and with it everything older on our deque: thieves take
     * from the top). Help instead of blocking: run other tasks until b is
     * done. acquire: pairs with the release store in run_task(). */
    mutex_lock(&p->lock);
    while (!atomic_load_explicit(&tb.done, memory_order_acquire)) /* BUG: blocks instead of running b or helping */
        cond_wait(&p->finished, &p->lock); /* BUG */
    mutex_unlock(&p->lock); /* BUG */
}
/* end snippet: join */

void ws_run(ws_pool *p, ws_fn *fn, void *arg)
{
    if (current != NULL && current->pool == p) {
        fn(arg); /* already on a worker of p */
        return;
    }
    struct task root = {.fn = fn, .arg = arg, .root = true};
    atomic_init(&root.done, false);
    mutex_lock(&p->lock);
    root.next = p->inbox;
    p->inbox = &root;
    atomic_fetch_add_explicit(&p->inbox_n, 1, memory_order_relaxed);
    p->epoch++;
    cond_signal(&p->wake);
    while (!root.root_done)
        cond_wait(&p->finished, &p->lock);
    mutex_unlock(&p->lock);
}

int ws_worker_index(const ws_pool *p)
{
    return current != NULL && current->pool == p ? current->index : -1;
}

long ws_steals(const ws_pool *p, int w)
{
    return w >= 0 && w < p->n ? atomic_load_explicit(&p->w[w].steals, memory_order_relaxed) : 0;
}

/* Stops and joins the first n workers, then frees everything. */
static void teardown(ws_pool *p, int started)
{
    mutex_lock(&p->lock);
    p->stop = true;
    cond_broadcast(&p->wake);
    mutex_unlock(&p->lock);
    for (int i = 0; i < started; i++)
        pthread_join(p->w[i].th, NULL);
    for (int i = 0; i < p->n; i++)
        deque_destroy(p->w[i].dq);
    pthread_cond_destroy(&p->finished);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p->w);
    free(p);
}

ws_pool *ws_pool_create(int nworkers)
{
    if (nworkers < 1 || nworkers > 64) {
        errno = EINVAL;
        return NULL;
    }
    ws_pool *p = calloc(1, sizeof *p);
    struct worker *w = calloc((size_t)nworkers, sizeof *w);
    int rc = ENOMEM;
    if (p == NULL || w == NULL)
        goto fail_alloc;
    if ((rc = pthread_mutex_init(&p->lock, NULL)) != 0)
        goto fail_alloc;
    if ((rc = pthread_cond_init(&p->wake, NULL)) != 0) {
        pthread_mutex_destroy(&p->lock);
        goto fail_alloc;
    }
    if ((rc = pthread_cond_init(&p->finished, NULL)) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        goto fail_alloc;
    }
    p->n = nworkers;
    p->w = w;
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->inbox_n, 0);
    for (int i = 0; i < nworkers; i++) {
        w[i].pool = p;
        w[i].index = i;
        w[i].rng = 0x9e3779b9u * (unsigned)(i + 1);
        atomic_init(&w[i].steals, 0);
        if ((w[i].dq = deque_create(6)) == NULL) {
            teardown(p, 0);
            errno = ENOMEM;
            return NULL;
        }
    }
    for (int i = 0; i < nworkers; i++) {
        if ((rc = pthread_create(&w[i].th, NULL, worker_main, &w[i])) != 0) {
            teardown(p, i);
            errno = rc;
            return NULL;
        }
    }
    return p;
fail_alloc:
    free(p);
    free(w);
    errno = rc;
    return NULL;
}

void ws_pool_destroy(ws_pool *p)
{
    if (p != NULL)
        teardown(p, p->n);
}
