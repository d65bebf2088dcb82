/*
 * counters.c - one counter, four ways, and a flag that stops workers.
 *
 * What it shows: what it costs for cores to share one machine word. Several
 * threads count events into
 *   mutex   one counter guarded by a mutex;
 *   atomic  one atomic counter, incremented with atomic_fetch_add;
 *   padded  one counter per thread, each on a cache line of its own,
 *           summed once at the end;
 *   shared  one counter per thread too, but side by side in one array, so
 *           they share a cache line (false sharing);
 * and the program prints the time each increment took. Then a cancellation
 * flag (Rust's AtomicBool): workers poll an atomic_bool between chunks of
 * work and stop within one chunk of the moment main sets it.
 *
 * DESIGN: the four ways do the same work and differ in one thing, who else
 * writes the cache line that the increment writes. A cache line can be
 * written by one core at a time, so a line that two cores write moves back
 * and forth between them (cache-line ping-pong): the mutex moves its lock
 * word and the counter, the atomic its one word, the false-shared array
 * its one line although no two threads touch the same counter. The padded
 * counters never move: each core keeps its line. A per-thread counter has
 * one writer, so it needs no read-modify-write: a relaxed load and store
 * (plain instructions) make it atomic for a reader, and the join orders the
 * final sum.
 *
 * Build: cc -std=c11 -O2 -pthread counters.c -o counters
 * Run:   ./counters [--threads N] [--incs N] [--work N] [--repeats N] [--rmw]
 *                   [--ways mutex,atomic,padded,shared,cancel]
 */
#define _POSIX_C_SOURCE 200809L
#define TL_TRACE_IMPLEMENTATION
#include "../../kit/trace/trace.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_THREADS = 16, TRACE_CHUNK = 100 };

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

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Settings, read-only once the threads start. */
static int nthreads = 2;
static long incs = 5 * 1000 * 1000; /* per thread */
static int repeats = 3;              /* each way runs this often; the fastest run counts */
static bool rmw = false;             /* --rmw: per-thread counters use atomic_fetch_add too */
static int work = 0;                 /* busy-loop steps between increments */
static pthread_barrier_t start;      /* every thread starts counting at once */

/* snippet: counters */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long locked_count;                  /* guarded by lock */

static atomic_long shared_count;           /* one word every thread writes */

struct padded {
    alignas(64) atomic_long n;             /* a cache line per thread: written by one core only */
};
static struct padded padded[MAX_THREADS];

static atomic_long side_by_side[MAX_THREADS]; /* one per thread, but 8 of them per cache line */

/* One increment of thread id's counter in the given way. */
static inline void count_one(char way, int id)
{
    switch (way) {
    case 'm':
        mutex_lock(&lock);
        locked_count++;
        mutex_unlock(&lock);
        break;
    case 'a': /* relaxed: a count orders nothing; the join publishes the total */
        atomic_fetch_add_explicit(&shared_count, 1, memory_order_relaxed);
        break;
    case 'p': /* one writer: a relaxed load and store will do, no read-modify-write */
        if (rmw)
            atomic_fetch_add_explicit(&padded[id].n, 1, memory_order_relaxed);
        else
            atomic_store_explicit(&padded[id].n,
                                  atomic_load_explicit(&padded[id].n, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
        break;
    case 's': /* the same instructions as 'p', on a line shared with the neighbours */
        if (rmw)
            atomic_fetch_add_explicit(&side_by_side[id], 1, memory_order_relaxed);
        else
            atomic_store_explicit(&side_by_side[id],
                                  atomic_load_explicit(&side_by_side[id], memory_order_relaxed) + 1,
                                  memory_order_relaxed);
        break;
    }
}
/* end snippet: counters */

static uint64_t spin_work(uint64_t h, int n)
{
    for (int i = 0; i < n; i++)
        h = (h ^ (uint64_t)i) * 1099511628211ull;
    return h;
}

struct job {
    char way;
    int id;
    uint64_t h;
};

static const char *way_name(char way)
{
    return way == 'm' ? "mutex" : way == 'a' ? "atomic" : way == 'p' ? "padded" : "shared";
}

static void *counter_thread(void *p)
{
    struct job *j = p;
    tl_trace_name_thread("counter");
    int rc = pthread_barrier_wait(&start);
    if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
        die_rc(rc, "pthread_barrier_wait");
    /* Traced, the increments go in spans of TRACE_CHUNK, so that the timeline
     * shows how long each hundred took, and the lock waits between them. */
    long chunk = tl_trace_enabled() ? TRACE_CHUNK : incs;
    for (long done = 0; done < incs; done += chunk) {
        tl_trace_begin(way_name(j->way));
        for (long i = done; i < done + chunk && i < incs; i++) {
            if (work > 0)
                j->h = spin_work(j->h, work);
            count_one(j->way, j->id);
        }
        tl_trace_end();
    }
    return NULL;
}

/* Runs one way once on nthreads threads. Returns the wall time in ns from
 * the common start to the last join; *total gets the sum counted. */
static double run_once(char way, long *total)
{
    pthread_t th[MAX_THREADS];
    struct job jobs[MAX_THREADS];
    locked_count = 0;
    atomic_store(&shared_count, 0);
    for (int i = 0; i < MAX_THREADS; i++) {
        atomic_store(&padded[i].n, 0);
        atomic_store(&side_by_side[i], 0);
    }
    int rc = pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
    if (rc != 0)
        die_rc(rc, "pthread_barrier_init");
    for (int i = 0; i < nthreads; i++) {
        jobs[i] = (struct job){way, i, 1469598103934665603ull};
        if ((rc = pthread_create(&th[i], NULL, counter_thread, &jobs[i])) != 0)
            die_rc(rc, "pthread_create");
    }
    rc = pthread_barrier_wait(&start);
    if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
        die_rc(rc, "pthread_barrier_wait");
    double t0 = now_ns();
    for (int i = 0; i < nthreads; i++)
        if ((rc = pthread_join(th[i], NULL)) != 0)
            die_rc(rc, "pthread_join");
    double ns = now_ns() - t0;
    pthread_barrier_destroy(&start);
    long sum = 0;
    switch (way) {
    case 'm': sum = locked_count; break;
    case 'a': sum = atomic_load(&shared_count); break;
    case 'p': for (int i = 0; i < nthreads; i++) sum += atomic_load(&padded[i].n); break;
    case 's': for (int i = 0; i < nthreads; i++) sum += atomic_load(&side_by_side[i]); break;
    }
    *total = sum;
    return ns;
}

/* Runs one way `repeats` times and prints its fastest run: ns/inc is the
 * time each thread spent per increment. Returns false if a total was wrong. */
static bool run_way(char way)
{
    double best = 0;
    bool right = true;
    long total = 0;
    for (int r = 0; r < repeats; r++) {
        double ns = run_once(way, &total);
        right = right && total == (long)nthreads * incs;
        if (r == 0 || ns < best)
            best = ns;
    }
    printf("%-8s %12ld %10.1f %12.2f %10.1f\n", way_name(way), total, best / 1e6, best / (double)incs,
           (double)total / best * 1e3);
    static char label[4][64]; /* trace names must live until exit */
    char *l = label[way == 'm' ? 0 : way == 'a' ? 1 : way == 'p' ? 2 : 3];
    snprintf(l, sizeof label[0], "%s: %.1f ns/inc", way_name(way), best / (double)incs);
    tl_trace_mark(l);
    return right;
}

/* ------------------------------------------------------ the cancellation flag */

/* snippet: cancel */
static atomic_bool stop; /* set once by main; workers poll it between chunks */

struct worker {
    long chunks;      /* the worker's own; read by main after the join */
    double stopped;   /* when it saw the flag (ns) */
    double longest;   /* its longest chunk (ns) */
    uint64_t h;
};

static void *cancellable(void *p)
{
    struct worker *w = p;
    tl_trace_name_thread("worker");
    /* Relaxed: the flag carries no data with it, only "stop"; what main
     * reads afterwards (chunks, stopped) is ordered by pthread_join. */
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        tl_trace_begin("chunk");
        double t0 = now_ns();
        w->h = spin_work(w->h, 20000); /* some 20-40 us of work */
        w->chunks++;
        if (now_ns() - t0 > w->longest)
            w->longest = now_ns() - t0;
        tl_trace_end();
    }
    w->stopped = now_ns();
    tl_trace_mark("saw stop");
    return NULL;
}
/* end snippet: cancel */

static void run_cancel(void)
{
    pthread_t th[MAX_THREADS];
    struct worker w[MAX_THREADS];
    int rc;
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){0, 0, 0, (uint64_t)i};
        if ((rc = pthread_create(&th[i], NULL, cancellable, &w[i])) != 0)
            die_rc(rc, "pthread_create");
    }
    struct timespec nap = {0, 2 * 1000 * 1000}; /* let them work 2 ms */
    nanosleep(&nap, NULL);
    tl_trace_mark("set stop");
    double set = now_ns();
    atomic_store_explicit(&stop, true, memory_order_relaxed);
    double worst = 0, longest = 0;
    long chunks = 0;
    for (int i = 0; i < nthreads; i++) {
        if ((rc = pthread_join(th[i], NULL)) != 0)
            die_rc(rc, "pthread_join");
        chunks += w[i].chunks;
        if (w[i].stopped - set > worst)
            worst = w[i].stopped - set;
        if (w[i].longest > longest)
            longest = w[i].longest;
    }
    printf("cancel: %d workers did %ld chunks (the longest took %.1f us); the last one stopped %.1f us\n"
           "        after main set the flag\n", nthreads, chunks, longest / 1e3, worst / 1e3);
}

int main(int argc, char **argv)
{
    const char *ways = "mutex,atomic,padded,shared,cancel";
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--rmw") == 0)
            rmw = true;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rmw") == 0)
            i--; /* a flag without a value */
        else if (strcmp(argv[i], "--threads") == 0)
            nthreads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--incs") == 0)
            incs = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--work") == 0)
            work = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--repeats") == 0)
            repeats = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--ways") == 0)
            ways = argv[i + 1];
    }
    if (nthreads < 1 || nthreads > MAX_THREADS || incs < 1 || work < 0 || repeats < 1) {
        fprintf(stderr, "usage: counters [--threads 1..%d] [--incs N] [--work N] [--repeats N] [--rmw] [--ways LIST]\n",
                MAX_THREADS);
        return 2;
    }
    tl_trace_name_thread("main");
    printf("counters: %d threads, %ld increments each%s; the fastest of %d runs%s\n\n", nthreads, incs,
           work > 0 ? ", with work between them" : "", repeats,
           rmw ? "; per-thread counters with atomic_fetch_add" : "");
    printf("%-8s %12s %10s %12s %10s\n", "way", "total", "ms", "ns/inc", "Minc/s");
    int bad = 0;
    static const char *names[] = {"mutex", "atomic", "padded", "shared"};
    for (int k = 0; k < 4; k++)
        if (strstr(ways, names[k]) != NULL && !run_way(names[k][0]))
            bad = 1;
    if (strstr(ways, "cancel") != NULL) {
        printf("\n");
        run_cancel();
    }
    if (bad)
        printf("a total is wrong!\n");
    return bad;
}
