/*
 * pool_demo.c - a worker pool fed through a bounded blocking task queue.
 *
 * What it shows: a few worker threads take tasks from one queue and hash
 * generated data (FNV-1a). The producer (main) submits much faster than they
 * can hash; give it a small queue (--queue 2) and the queue fills, and the
 * producer has to wait for room: that is backpressure, and the program
 * counts it. Then the two ways to shut a pool down: graceful (run what is
 * queued, then stop) and cancel (drop it).
 *
 * DESIGN: the queue is a ring buffer of fixed-size task structs, allocated
 * once and guarded by one mutex, with a condition variable for each reason
 * to wait: not_empty (idle workers) and not_full (a blocked producer).
 * Shutdown is a flag set under the lock plus a broadcast; a cancel also
 * empties the ring first. Workers run tasks with the lock released.
 *
 * Build: cc -std=c11 -O2 -pthread pool_demo.c -o pool_demo
 * Run:   ./pool_demo [--workers N] [--queue N] [--tasks N] [--kib N]
 */
#define _POSIX_C_SOURCE 200809L
#define TL_TRACE_IMPLEMENTATION
#include "../../kit/trace/trace.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Checked pthread calls: functions, not assert() (which -DNDEBUG compiles away).
 * pthread functions return the error number (they leave errno alone). Lock,
 * unlock, wait and signal can only fail on a programming error: they abort.
 * Init, create and join return a status, and their callers decide. */
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

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* snippet: queue */
struct task {
    void (*fn)(void *arg);
    void *arg;
    uint64_t flow; /* trace arrow from submit to run */
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t not_empty; /* workers wait: a task arrived, or stopping was set */
    pthread_cond_t not_full;  /* the producer waits: a slot was freed */
    /* Guarded by lock. Invariant: head < cap, count <= cap. */
    struct task *ring;        /* cap slots, allocated once: no malloc per task */
    size_t cap, head, count;
    bool stopping;            /* set once; workers exit when stopping and the ring is empty */
    long ran, waits;          /* tasks run; submits that found the ring full */
    double waited_ms;         /* time the producer spent blocked */
    /* Set before the workers start, read-only after. */
    size_t nworkers;
    pthread_t *workers;
};
/* end snippet: queue */

/* snippet: submit */
/* Queue t; blocks while the ring is full (backpressure). */
static void pool_submit(struct pool *p, struct task t)
{
    mutex_lock(&p->lock);
    if (p->count == p->cap) { /* just for the statistics; the loop below is the wait */
        p->waits++;
        double t0 = now_ms();
        while (p->count == p->cap)
            cond_wait(&p->not_full, &p->lock);
        p->waited_ms += now_ms() - t0;
    }
    t.flow = tl_trace_flow_out("task");
    p->ring[(p->head + p->count) % p->cap] = t;
    p->count++;
    cond_signal(&p->not_empty); /* one task: one idle worker */
    mutex_unlock(&p->lock);
}
/* end snippet: submit */

/* Give the calling thread's lane in the timeline a name: "worker N". */
static void name_lane(void)
{
    static atomic_int nth;
    char name[32];
    snprintf(name, sizeof name, "worker %d", atomic_fetch_add(&nth, 1) + 1);
    tl_trace_name_thread(name);
}

/* snippet: worker */
/* The worker loop: take a task, run it unlocked, until stopping and drained. */
static void *worker_main(void *arg)
{
    struct pool *p = arg;
    name_lane();
    mutex_lock(&p->lock);
    for (;;) {
        while (p->count == 0 && !p->stopping)
            cond_wait(&p->not_empty, &p->lock);
        if (p->count == 0) /* stopping, and nothing left */
            break;
        struct task t = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        cond_signal(&p->not_full); /* one free slot: the producer may go on */
        mutex_unlock(&p->lock);

        tl_trace_flow_in("task", t.flow);
        tl_trace_begin("hash");
        t.fn(t.arg); /* the lock is not held: workers hash in parallel */
        tl_trace_end();

        mutex_lock(&p->lock);
        p->ran++;
    }
    mutex_unlock(&p->lock);
    return NULL;
}
/* end snippet: worker */

static struct pool *pool_start(size_t nworkers, size_t cap)
{
    struct pool *p = calloc(1, sizeof *p);
    if (p == NULL || (p->ring = calloc(cap, sizeof *p->ring)) == NULL ||
        (p->workers = calloc(nworkers, sizeof *p->workers)) == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    int rc = pthread_mutex_init(&p->lock, NULL);
    if (rc == 0)
        rc = pthread_cond_init(&p->not_empty, NULL);
    if (rc == 0)
        rc = pthread_cond_init(&p->not_full, NULL);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_init/pthread_cond_init");
    tl_trace_name_object(&p->not_full, "queue not full");
    tl_trace_name_object(&p->not_empty, "queue not empty");
    p->cap = cap;
    p->nworkers = nworkers;
    /* A demo that cannot start its workers has nothing to show: it stops and
     * says why. (The pool exercise does it properly: it stops and joins the
     * workers already started, frees everything and returns the error.) */
    for (size_t i = 0; i < nworkers; i++)
        if ((rc = pthread_create(&p->workers[i], NULL, worker_main, p)) != 0)
            die_rc(rc, "pthread_create");
    return p;
}

/* snippet: shutdown */
/* Stop the pool: graceful runs what is queued, cancel drops it. Joins every
 * worker and frees what p holds (not p); returns the number of tasks dropped. */
static size_t pool_shutdown(struct pool *p, bool cancel)
{
    mutex_lock(&p->lock);
    size_t dropped = 0;
    if (cancel) { /* empty the ring: those tasks never run */
        dropped = p->count;
        p->head = p->count = 0;
    }
    p->stopping = true;
    cond_broadcast(&p->not_empty); /* every idle worker must see it */
    mutex_unlock(&p->lock);
    tl_trace_mark(cancel ? "cancel" : "graceful shutdown");
    for (size_t i = 0; i < p->nworkers; i++) { /* no worker is left behind */
        int rc = pthread_join(p->workers[i], NULL);
        if (rc != 0)
            die_rc(rc, "pthread_join");
    }
    pthread_cond_destroy(&p->not_full);
    pthread_cond_destroy(&p->not_empty);
    pthread_mutex_destroy(&p->lock);
    free(p->workers);
    free(p->ring);
    return dropped;
}
/* end snippet: shutdown */

/* The work: FNV-1a over `size` bytes made by a generator seeded with the index. */
struct job {
    uint64_t index, size, hash;
};

static void hash_job(void *arg)
{
    struct job *j = arg;
    uint64_t h = 14695981039346656037ull, x = j->index * 0x9E3779B97F4A7C15ull + 1;
    for (uint64_t i = 0; i < j->size; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64: 8 bytes of "data" */
        for (int b = 0; b < 64; b += 8)
            h = (h ^ ((x >> b) & 0xff)) * 1099511628211ull;
    }
    j->hash = h;
}

/* One pool from start to shutdown; prints what happened. */
static void run(const char *title, bool cancel, size_t nworkers, size_t cap, struct job *jobs,
                size_t ntasks, double serial_ms)
{
    for (size_t i = 0; i < ntasks; i++)
        jobs[i].hash = 0;
    double t0 = now_ms();
    struct pool *p = pool_start(nworkers, cap);
    for (size_t i = 0; i < ntasks; i++)
        pool_submit(p, (struct task){hash_job, &jobs[i], 0});
    long waits = p->waits; /* only this thread submits: no lock needed to read them now */
    double waited = p->waited_ms;
    size_t dropped = pool_shutdown(p, cancel);
    double ms = now_ms() - t0;
    long ran = p->ran; /* the workers are joined: nobody else touches p */
    free(p);
    uint64_t sum = 0;
    for (size_t i = 0; i < ntasks; i++)
        sum ^= jobs[i].hash;
    printf("%s: submitted %zu, ran %ld, dropped %zu\n", title, ntasks, ran, dropped);
    printf("  %.1f ms, %.0f MB/s, %.0f tasks/s", ms, ran * (double)jobs[0].size / 1e3 / ms,
           ran / ms * 1e3);
    if (cancel)
        printf(" (the dropped tasks were still waiting in the queue)\n");
    else
        printf(" (serial: %.1f ms, speedup %.2fx)\n", serial_ms, serial_ms / ms);
    printf("  backpressure: %ld of %zu submits found the queue full and waited, %.1f ms in all\n",
           waits, ntasks, waited);
    if (!cancel)
        printf("  checksum %016llx\n", (unsigned long long)sum);
}

int main(int argc, char **argv)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN); /* one worker per core, at most 4 */
    size_t nworkers = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (size_t)ncpu, cap = 32, ntasks = 24, kib = 256;
    const char *opt[] = {"--workers", "--queue", "--tasks", "--kib"};
    size_t *val[] = {&nworkers, &cap, &ntasks, &kib};
    for (int i = 1; i + 1 < argc; i += 2)
        for (int k = 0; k < 4; k++)
            if (strcmp(argv[i], opt[k]) == 0 && strtoul(argv[i + 1], NULL, 10) > 0)
                *val[k] = strtoul(argv[i + 1], NULL, 10);
    tl_trace_name_thread("main (producer)");
    struct job *jobs = calloc(ntasks, sizeof *jobs);
    if (jobs == NULL)
        return 1;
    for (size_t i = 0; i < ntasks; i++)
        jobs[i] = (struct job){i, kib * 1024, 0};
    printf("pool_demo: %zu workers, a queue of %zu slots, %zu tasks of %zu KiB each\n\n",
           nworkers, cap, ntasks, kib);

    double t0 = now_ms(); /* the same work on one thread, for comparison */
    uint64_t serial = 0;
    for (size_t i = 0; i < ntasks; i++)
        hash_job(&jobs[i]), serial ^= jobs[i].hash;
    double serial_ms = now_ms() - t0;
    printf("serial: checksum %016llx in %.1f ms\n\n", (unsigned long long)serial, serial_ms);

    tl_trace_begin("graceful run");
    run("graceful shutdown", false, nworkers, cap, jobs, ntasks, serial_ms);
    tl_trace_end();
    tl_trace_begin("cancelled run");
    run("\ncancel shutdown", true, nworkers, cap, jobs, ntasks, serial_ms);
    tl_trace_end();
    free(jobs);
    return 0;
}
