/*
 * mandelsteal.c - chapter 8's program: chapter 2's Mandelbrot again, one task
 * per row, balanced by work stealing; and fib on the same runtime.
 *
 * What it shows: a small Rayon-like runtime in one file. Each worker owns a
 * Chase-Lev deque; ws_join(a, b) pushes b, runs a, and pops b back or, if a
 * thief took it, steals other work until b is done; par_for(lo, hi) splits
 * its range in halves with ws_join down to single rows. Nobody hands out
 * rows: a worker that runs out steals the oldest (biggest) half-range of a
 * busy one, so the expensive lower rows of the image spread by themselves.
 * The program times serial and stolen rows, counts steals per worker,
 * checks the image equals serial, and times fib(n) with a cutoff.
 *
 * DESIGN: the runtime is the solution of the chapter's exercises (deque.c and
 * join.c) squeezed together, without the statistics the tests need. With
 * TL_TRACE set, every steal draws an arrow from the victim's push to the
 * thief's run.
 *
 * Run: ./mandelsteal [--threads K] [--size WxH] [--fib N] [--tint FILE.svg] [--cell N]
 */
#define _POSIX_C_SOURCE 200809L
#define TL_TRACE_IMPLEMENTATION
#include "../../kit/trace/trace.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../02-data-parallelism/mandel.h"

enum { MAX_THREADS = 16, LOG2CAP = 10 };

static void die(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

/* ------------------------------------------------------------------ deque */

/* A fixed-size Chase-Lev deque (2^LOG2CAP tasks: par_for over h rows never
 * holds more than log2(h) per worker, so this program needs no growth). */
struct deque {
    char pad0[64];
    _Atomic(int64_t) top;
    char pad1[64];
    _Atomic(int64_t) bottom;
    _Atomic(void *) slot[1 << LOG2CAP];
};

static int dq_push(struct deque *d, void *task)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    if (b - t >= (1 << LOG2CAP))
        return -1; /* full: the caller runs the task itself */
    atomic_store_explicit(&d->slot[b & ((1 << LOG2CAP) - 1)], task, memory_order_relaxed);
    atomic_store_explicit(&d->bottom, b + 1, memory_order_release); /* pairs with dq_steal's acquire */
    return 0;
}

/* snippet: pop */
static void *dq_pop(struct deque *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
    atomic_store_explicit(&d->bottom, b, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst); /* the store of bottom before the load of top */
    int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
    if (t > b) {
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
        return NULL;
    }
    void *task = atomic_load_explicit(&d->slot[b & ((1 << LOG2CAP) - 1)], memory_order_relaxed);
    if (t == b) {
        if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                     memory_order_relaxed))
            task = NULL;
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    }
    return task;
}
/* end snippet: pop */

static void *dq_steal(struct deque *d)
{
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    atomic_thread_fence(memory_order_seq_cst); /* pairs with the fence in dq_pop */
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_acquire);
    if (t >= b)
        return NULL;
    void *task = atomic_load_explicit(&d->slot[t & ((1 << LOG2CAP) - 1)], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return NULL; /* lost the race: look elsewhere */
    return task;
}

/* ---------------------------------------------------------------- runtime */

typedef void ws_fn(void *);

struct task {
    ws_fn *fn;
    void *arg;
    atomic_bool done;     /* set (release) by a thief that ran it */
    uint64_t flow;        /* trace arrow from the push to the thief */
};

struct worker {
    struct deque dq;
    pthread_t th;
    int index;
    long steals, tasks;   /* private to the worker; read after the run */
    char pad[64];
};

static struct {
    int n;
    struct worker *w;
    pthread_mutex_t lock;
    pthread_cond_t wake, finished;
    ws_fn *root_fn;        /* guarded by lock: the one root task, or NULL */
    void *root_arg;
    long epoch;            /* guarded by lock */
    bool stop, root_done;  /* guarded by lock */
    atomic_int sleepers;
} pool;

static _Thread_local struct worker *self;

/* Returns a task stolen from another worker, or NULL. */
static struct task *steal_some(void)
{
    for (int k = 1; k < pool.n; k++) {
        struct worker *v = &pool.w[(self->index + k) % pool.n];
        struct task *t = dq_steal(&v->dq);
        if (t != NULL) {
            self->steals++;
            return t;
        }
    }
    return NULL;
}

static void run_stolen(struct task *t)
{
    tl_trace_flow_in("steal", t->flow);
    t->fn(t->arg);
    atomic_store_explicit(&t->done, true, memory_order_release); /* pairs with ws_join's acquire */
}

/* snippet: join */
static void ws_join(ws_fn *a, void *aa, ws_fn *b, void *ba)
{
    struct task tb = {.fn = b, .arg = ba, .flow = tl_trace_flow_out("push")};
    atomic_init(&tb.done, false);
    if (dq_push(&self->dq, &tb) != 0) {
        a(aa);
        b(ba);
        return;
    }
    atomic_thread_fence(memory_order_seq_cst); /* the push before the look at sleepers */
    if (atomic_load_explicit(&pool.sleepers, memory_order_relaxed) > 0) {
        pthread_mutex_lock(&pool.lock);
        pool.epoch++;
        pthread_cond_signal(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    a(aa);
    if (dq_pop(&self->dq) == &tb) { /* not stolen: run b here */
        b(ba);
        return;
    }
    while (!atomic_load_explicit(&tb.done, memory_order_acquire)) { /* stolen: help */
        struct task *t = steal_some();
        if (t != NULL)
            run_stolen(t);
        else
            sched_yield();
    }
}
/* end snippet: join */

static void *worker_main(void *arg)
{
    self = arg;
    char name[32];
    snprintf(name, sizeof name, "worker %d", self->index);
    tl_trace_name_thread(name);
    for (int idle = 0;;) {
        struct task *t = steal_some();
        if (t != NULL) {
            run_stolen(t);
            idle = 0;
            continue;
        }
        pthread_mutex_lock(&pool.lock);
        if (pool.root_fn != NULL) { /* the root task of a run */
            ws_fn *fn = pool.root_fn;
            void *rarg = pool.root_arg;
            pool.root_fn = NULL;
            pthread_mutex_unlock(&pool.lock);
            fn(rarg);
            pthread_mutex_lock(&pool.lock);
            pool.root_done = true;
            pthread_cond_broadcast(&pool.finished);
        }
        if (pool.stop) {
            pthread_mutex_unlock(&pool.lock);
            return NULL;
        }
        if (++idle < 64) {
            pthread_mutex_unlock(&pool.lock);
            sched_yield();
            continue;
        }
        /* Sleep, counted first, then one more look (see join.c's DESIGN). */
        atomic_fetch_add(&pool.sleepers, 1);
        long seen = pool.epoch;
        pthread_mutex_unlock(&pool.lock);
        t = steal_some();
        pthread_mutex_lock(&pool.lock);
        if (t == NULL) {
            tl_trace_block("sleep");
            while (pool.epoch == seen && !pool.stop && pool.root_fn == NULL)
                pthread_cond_wait(&pool.wake, &pool.lock);
            tl_trace_end();
        }
        atomic_fetch_sub(&pool.sleepers, 1);
        pthread_mutex_unlock(&pool.lock);
        if (t != NULL)
            run_stolen(t);
        idle = 0;
    }
}

static void pool_start(int n)
{
    pool.n = n;
    pool.w = aligned_alloc(64, sizeof(struct worker) * (size_t)n);
    if (pool.w == NULL)
        die("aligned_alloc", ENOMEM);
    memset(pool.w, 0, sizeof(struct worker) * (size_t)n);
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.finished, NULL);
    for (int i = 0; i < n; i++) {
        pool.w[i].index = i;
        int rc = pthread_create(&pool.w[i].th, NULL, worker_main, &pool.w[i]);
        if (rc != 0)
            die("pthread_create", rc);
    }
}

/* Runs fn(arg) on a worker; returns when it is done. */
static void ws_run(ws_fn *fn, void *arg)
{
    pthread_mutex_lock(&pool.lock);
    pool.root_fn = fn;
    pool.root_arg = arg;
    pool.root_done = false;
    pool.epoch++;
    pthread_cond_broadcast(&pool.wake);
    tl_trace_block("wait for the run");
    while (!pool.root_done)
        pthread_cond_wait(&pool.finished, &pool.lock);
    tl_trace_end();
    pthread_mutex_unlock(&pool.lock);
}

static void pool_stop(void)
{
    pthread_mutex_lock(&pool.lock);
    pool.stop = true;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < pool.n; i++)
        pthread_join(pool.w[i].th, NULL);
}

/* ---------------------------------------------------------------- par_for */

/* snippet: par_for */
struct range {
    int lo, hi;
    void (*body)(int i, void *ctx);
    void *ctx;
};

/* Runs body(i) for lo <= i < hi: halves the range with ws_join down to one index. */
static void par_for_task(void *arg)
{
    struct range *r = arg;
    if (r->hi - r->lo == 1) {
        r->body(r->lo, r->ctx);
        return;
    }
    int mid = r->lo + (r->hi - r->lo) / 2;
    struct range a = {r->lo, mid, r->body, r->ctx}, b = {mid, r->hi, r->body, r->ctx};
    ws_join(par_for_task, &a, par_for_task, &b);
}
/* end snippet: par_for */

struct image {
    struct mandel_view v;
    unsigned char *pix;
    int *owner;           /* per row: the worker that computed it */
};

static void row_body(int row, void *ctx)
{
    struct image *im = ctx;
    tl_trace_begin("row");
    mandel_render_row(&im->v, row, im->pix + (size_t)row * (size_t)im->v.width);
    im->owner[row] = self->index;
    self->tasks++;
    tl_trace_end();
}

/* ------------------------------------------------------------------- fib */

struct fib {
    int n;
    long r;
};

static long fib_serial(int n)
{
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

static void fib_task(void *arg)
{
    struct fib *f = arg;
    if (f->n < 20) { /* the cutoff: below it, a join costs more than it saves */
        f->r = fib_serial(f->n);
        return;
    }
    struct fib a = {f->n - 1, 0}, b = {f->n - 2, 0};
    ws_join(fib_task, &a, fib_task, &b);
    f->r = a.r + b.r;
}

/* ------------------------------------------------------------------- main */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int parse_size(const char *s, int *w, int *h)
{
    char x;
    return sscanf(s, "%d%c%d", w, &x, h) == 3 && (x == 'x' || x == 'X') && *w > 0 && *h > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct mandel_view v = mandel_default();
    int k = 2, w = v.width, h = v.height, cell = 8, fibn = 36;
    const char *tint = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            k = atoi(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc && parse_size(argv[i + 1], &w, &h) == 0)
            i++;
        else if (strcmp(argv[i], "--fib") == 0 && i + 1 < argc)
            fibn = atoi(argv[++i]);
        else if (strcmp(argv[i], "--tint") == 0 && i + 1 < argc)
            tint = argv[++i];
        else if (strcmp(argv[i], "--cell") == 0 && i + 1 < argc)
            cell = atoi(argv[++i]);
        else
            k = -1;
    }
    if (k < 1 || k > MAX_THREADS || cell < 1 || fibn < 0 || fibn > 45) {
        fprintf(stderr, "usage: %s [--threads 1..%d] [--size WxH] [--fib 0..45] [--tint FILE.svg] "
                        "[--cell N]\n", argv[0], MAX_THREADS);
        return 2;
    }
    tl_trace_name_thread("main");
    v = mandel_view_sized(w, h);
    size_t npix = (size_t)w * (size_t)h;
    unsigned char *serial = malloc(npix), *pix = malloc(npix);
    int *owner = malloc(sizeof *owner * (size_t)h);
    if (serial == NULL || pix == NULL || owner == NULL)
        die("malloc", ENOMEM);

    double t0 = now_s();
    for (int row = 0; row < h; row++)
        mandel_render_row(&v, row, serial + (size_t)row * (size_t)w);
    double ts = now_s() - t0;

    pool_start(k);
    struct image im = {v, pix, owner};
    struct range all = {0, h, row_body, &im};
    t0 = now_s();
    ws_run(par_for_task, &all);
    double tw = now_s() - t0;
    printf("mandelbrot %dx%d: serial %.3f s, work stealing on %d workers %.3f s (%.2fx), image %s\n",
           w, h, ts, k, tw, ts / tw, memcmp(serial, pix, npix) == 0 ? "identical" : "DIFFERENT");
    for (int i = 0; i < k; i++) {
        printf("    worker %d: %5ld rows, %4ld steals\n", i, pool.w[i].tasks, pool.w[i].steals);
        pool.w[i].steals = 0;
    }
    if (tint != NULL && mandel_write_tint_svg(tint, &v, pix, owner, k, cell) != 0)
        fprintf(stderr, "could not write %s: %s\n", tint, strerror(errno));

    if (fibn > 0) {
        t0 = now_s();
        long want = fib_serial(fibn);
        ts = now_s() - t0;
        struct fib f = {fibn, 0};
        t0 = now_s();
        ws_run(fib_task, &f);
        tw = now_s() - t0;
        printf("fib(%d) with a cutoff of 20: serial %.3f s, work stealing %.3f s (%.2fx), %s\n", fibn, ts,
               tw, ts / tw, f.r == want ? "equal" : "DIFFERENT");
        for (int i = 0; i < k; i++)
            printf("    worker %d: %4ld steals\n", i, pool.w[i].steals);
    }
    pool_stop();
    free(serial);
    free(pix);
    free(owner);
    free(pool.w);
    return 0;
}
