/*
 * bank.c - many threads move money between accounts, each with its own lock,
 * while an auditor checks that no money is made or lost.
 *
 * What it shows: a sea of small shared objects. Every account is a mutex and
 * the balance it guards. A transfer locks the two accounts it touches,
 * always the lower-numbered one first, so no cycle of waits can ever form;
 * the auditor locks every account, in the same order, for a consistent view.
 * `--naive` takes the two locks in argument order instead (from, then to),
 * and the program catches the deadlock that follows: it keeps its own table
 * of who holds which account and who waits for which, finds the cycle in it,
 * prints it (and, with `--svg FILE`, draws it), and stops.
 * `--global-lock` puts one lock around the whole bank instead: correct, and
 * the threads take turns.
 *
 *     cc -std=c11 -O2 -pthread bank.c -o bank
 *     ./bank [--accounts N] [--threads T] [--transfers K] [--work W]
 *            [--global-lock] [--naive [--svg FILE]]
 *
 * DESIGN: the lock order is the whole design (lock_pair(), audit()). The
 * naive mode takes its locks with trylock in a loop, writing what it waits
 * for into the table before each retry; any thread that waits follows the
 * table (waits for account -> held by thread -> waits for ...) and, if it
 * comes back to itself, has found a cycle. The table is read while others
 * change it, so a cycle is believed only once it has stayed the same over
 * many looks: threads in a real deadlock never move again. The naive mode
 * also yields between its two locks, which turns "deadlocks one run in a
 * million" into "deadlocks within a few transfers", even on one core.
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

enum { MAXACC = 1024, MAXT = 16, START = 1000 };

struct account {
    pthread_mutex_t lock;
    long balance;          /* guarded by lock */
    atomic_int holder;     /* naive mode: the thread holding lock (1..T), 0 = free */
    char name[24];
};

static struct account acc[MAXACC];
static pthread_mutex_t bank_lock = PTHREAD_MUTEX_INITIALIZER; /* --global-lock only */
static atomic_int wants[MAXT + 2];  /* naive mode: the account (1..N) thread t waits for, 0 = none;
                                      * the auditor is thread T+1 */
static atomic_bool stop;             /* set once: a deadlock was caught, or the work is done */
static atomic_long contended;        /* lock acquisitions that had to wait */
static atomic_long done_transfers;

static struct {
    int accounts, threads, work;
    long transfers;
    bool naive, global;
    const char *svg;
} opt = {16, 4, 0, 200000, false, false, NULL};

static struct {               /* the cycle caught, written once by its finder */
    atomic_int found;
    int n, thread[MAXT + 1], account[MAXT + 1]; /* thread[i] holds account[i], waits for account[i+1] */
} cycle;

static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

static void mutex_lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_trylock(m); /* try first, only to count contention */
    if (rc == EBUSY) {
        atomic_fetch_add_explicit(&contended, 1, memory_order_relaxed);
        rc = pthread_mutex_lock(m);
    }
    if (rc != 0)
        die_rc(rc, "pthread_mutex_lock");
}

static void mutex_unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_unlock");
}

/* snippet: lock_pair */
/* Lock accounts i and j in the global order: lower index first, whatever
 * the direction of the transfer. Blocks on both locks. */
static void lock_pair(int i, int j)
{
    mutex_lock(&acc[i < j ? i : j].lock);
    mutex_lock(&acc[i < j ? j : i].lock);
}
/* end snippet: lock_pair */

/* ------------------------------------------------------------ naive mode */

/* Follow the table from thread me: the account it waits for, that account's
 * holder, what that one waits for... Returns the cycle's length if the walk
 * comes back to me (filling th[] and ac[]), else 0. Never blocks. */
static int find_cycle(int me, int *th, int *ac)
{
    int t = me, n = 0;
    do {
        int want = atomic_load(&wants[t]);
        if (want == 0 || n == MAXT + 1)
            return 0;
        int h = atomic_load(&acc[want - 1].holder);
        if (h == 0)
            return 0;
        th[n] = t;
        ac[n] = want - 1; /* t waits for ac[n], held by h */
        n++;
        t = h;
    } while (t != me);
    return n;
}

/* Take account a's lock for thread me, watching for a deadlock while it
 * waits. Returns true with the lock held, false (not held) once stop is set.
 * Spins in trylock and sched_yield: a teaching device, not a lock. */
static bool take_watching(int me, int a)
{
    if (pthread_mutex_trylock(&acc[a].lock) == 0) {
        atomic_store(&acc[a].holder, me);
        return true;
    }
    atomic_fetch_add_explicit(&contended, 1, memory_order_relaxed);
    atomic_store(&wants[me], a + 1);
    tl_trace_block(acc[a].name);
    int th[MAXT + 1], ac[MAXT + 1], same = 0, last = 0;
    bool got = false;
    while (!atomic_load(&stop)) {
        if (pthread_mutex_trylock(&acc[a].lock) == 0) {
            got = true;
            break;
        }
        int n = find_cycle(me, th, ac);
        same = n > 0 && n == last ? same + 1 : 0; /* believed only once stable */
        last = n;
        if (same == 1000 && atomic_exchange(&cycle.found, 1) == 0) {
            cycle.n = n;
            for (int i = 0; i < n; i++) {
                cycle.thread[i] = th[i];
                cycle.account[i] = ac[i];
            }
            tl_trace_mark("deadlock caught");
            atomic_store(&stop, true);
        }
        sched_yield();
    }
    tl_trace_end();
    atomic_store(&wants[me], 0);
    if (got)
        atomic_store(&acc[a].holder, me);
    return got;
}

static void release(int a)
{
    atomic_store(&acc[a].holder, 0);
    mutex_unlock(&acc[a].lock);
}

/* The sum of all balances at one instant: every lock, in the global order.
 * In naive mode the auditor (thread `me`) waits through the table like
 * everybody else, so that a cycle through it is caught too; then it
 * returns -1 if it gave up. Blocks on every account's lock. */
static long audit(int me)
{
    int held = 0;
    if (opt.global)
        mutex_lock(&bank_lock);
    else if (!opt.naive)
        for (int i = 0; i < opt.accounts; i++)
            mutex_lock(&acc[i].lock);
    else
        while (held < opt.accounts && take_watching(me, held))
            held++;
    long sum = 0;
    for (int i = 0; i < opt.accounts; i++)
        sum += acc[i].balance;
    if (opt.global)
        mutex_unlock(&bank_lock);
    else if (!opt.naive)
        for (int i = opt.accounts; i-- > 0;)
            mutex_unlock(&acc[i].lock);
    else if (held < opt.accounts)
        sum = -1;
    while (opt.naive && held > 0)
        release(--held);
    return sum;
}

/* --------------------------------------------------------------- workers */

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static volatile unsigned long sink;

/* Work inside the critical section (a fee computed, a log line written). */
static void work(void)
{
    unsigned long h = 1;
    for (int k = 0; k < opt.work; k++)
        h = h * 31 + (unsigned long)k;
    sink = h;
}

/* snippet: transfer */
static void transfer(int from, int to, long amount)
{
    if (opt.global)
        mutex_lock(&bank_lock);
    else
        lock_pair(from, to); /* lock order: by index, lowest first */
    if (acc[from].balance >= amount) { /* check and move: one critical section */
        acc[from].balance -= amount;
        acc[to].balance += amount;
    }
    if (opt.work > 0) {
        tl_trace_begin("transfer");
        work();
        tl_trace_end();
    }
    if (opt.global) {
        mutex_unlock(&bank_lock);
    } else {
        mutex_unlock(&acc[from].lock);
        mutex_unlock(&acc[to].lock);
    }
}
/* end snippet: transfer */

/* snippet: naive */
/* The naive transfer: from's lock, then to's. A->B beside B->A can each
 * hold one and wait for the other. Returns false once a deadlock was caught. */
static bool transfer_naive(int me, int from, int to, long amount)
{
    if (!take_watching(me, from))
        return false;
    sched_yield(); /* widen the window between the two locks */
    if (!take_watching(me, to)) {
        release(from);
        return false;
    }
    if (acc[from].balance >= amount) {
        acc[from].balance -= amount;
        acc[to].balance += amount;
    }
    release(to);
    release(from);
    return true;
}
/* end snippet: naive */

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    char name[16];
    snprintf(name, sizeof name, "T%d", me);
    tl_trace_name_thread(name);
    uint64_t seed = 0x5eed + (uint64_t)me;
    long n = 0;
    for (; n < opt.transfers && !atomic_load(&stop); n++) {
        int from = (int)(next_rand(&seed) % (uint64_t)opt.accounts);
        int to = (int)(next_rand(&seed) % (uint64_t)(opt.accounts - 1));
        to += to >= from; /* any account but from */
        long amount = 1 + (long)(next_rand(&seed) % 100);
        if (!opt.naive)
            transfer(from, to, amount);
        else if (!transfer_naive(me, from, to, amount))
            break;
    }
    atomic_fetch_add(&done_transfers, n);
    return NULL;
}

/* Audits until every worker is done; returns the number of wrong sums. */
static void *auditor(void *arg)
{
    long *audits = arg, bad = 0;
    tl_trace_name_thread("auditor");
    struct timespec pause = {0, 2 * 1000 * 1000}; /* an audit every 2 ms */
    while (!atomic_load(&stop)) {
        tl_trace_begin("audit");
        long sum = audit(opt.threads + 1);
        tl_trace_end();
        if (sum < 0)
            break; /* a deadlock was caught while it waited */
        (*audits)++;
        bad += sum != (long)opt.accounts * START;
        nanosleep(&pause, NULL);
    }
    return (void *)(intptr_t)bad;
}

/* ----------------------------------------------------------------- output */

/* A thread's name as the output shows it: "T3", or "auditor". */
static const char *who(int t)
{
    static char names[MAXT + 2][8];
    if (t == opt.threads + 1)
        return "auditor";
    snprintf(names[t], sizeof names[t], "T%d", t);
    return names[t];
}

/* sin(t) for 0 <= t < 3 pi, and the square root of v > 0, without libm
 * (so that `cc -pthread bank.c` builds): a Taylor series and Newton steps. */
static double sine(double t)
{
    const double pi = 3.14159265358979;
    while (t > pi)
        t -= 2 * pi;
    double term = t, sum = t;
    for (int k = 1; k < 12; k++) {
        term *= -t * t / ((2 * k) * (2 * k + 1));
        sum += term;
    }
    return sum;
}

static double root(double v)
{
    double x = v > 1 ? v : 1;
    for (int k = 0; k < 40; k++)
        x = (x + v / x) / 2;
    return x;
}

/* Draw the wait-for cycle: threads and accounts around a circle, "holds"
 * arrows from an account to its holder, "waits for" arrows (red, dashed)
 * from a thread to the account it wants. Returns 0, or -1 if path cannot be
 * written. */
static int draw_cycle(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int n = cycle.n, nodes = 2 * n;
    double cx = 260, cy = 230, r = 150, pi = 3.14159265358979;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"520\" height=\"500\" "
               "font-family=\"sans-serif\" font-size=\"14\">\n"
               "<defs><marker id=\"a\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" "
               "markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#333\"/></marker>"
               "<marker id=\"w\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" "
               "markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#c0392b\"/>"
               "</marker></defs>\n<rect width=\"520\" height=\"500\" fill=\"white\"/>\n"
               "<text x=\"260\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">bank --naive: the "
               "wait-for cycle it caught</text>\n");
    /* node k: even = thread[k/2], odd = account[k/2] (held by thread[k/2+1]). */
    double x[2 * MAXT + 2], y[2 * MAXT + 2];
    for (int k = 0; k < nodes; k++) {
        double t = 2 * pi * k / nodes; /* clockwise from the top */
        x[k] = cx + r * sine(t);
        y[k] = cy - r * sine(t + pi / 2);
    }
    for (int k = 0; k < nodes; k++) {
        int from = k, to = (k + 1) % nodes;
        bool wait = k % 2 == 0; /* thread -> account it waits for */
        double dx = x[to] - x[from], dy = y[to] - y[from], len = root(dx * dx + dy * dy);
        double sx = x[from] + dx / len * 34, sy = y[from] + dy / len * 34;
        double ex = x[to] - dx / len * 34, ey = y[to] - dy / len * 34;
        fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
                   "stroke-width=\"2\"%s marker-end=\"url(#%s)\"/>\n",
                sx, sy, ex, ey, wait ? "#c0392b" : "#333", wait ? " stroke-dasharray=\"6,4\"" : "",
                wait ? "w" : "a");
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"%s\" "
                   "font-size=\"12\">%s</text>\n",
                (sx + ex) / 2 + (dy / len) * 14, (sy + ey) / 2 - (dx / len) * 14,
                wait ? "#c0392b" : "#333", wait ? "waits for" : "held by");
    }
    for (int k = 0; k < nodes; k++) {
        if (k % 2 == 0)
            fprintf(f, "<ellipse cx=\"%.0f\" cy=\"%.0f\" rx=\"44\" ry=\"24\" fill=\"#d6eaf8\" "
                       "stroke=\"#2874a6\"/><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">"
                       "%s</text>\n",
                    x[k], y[k], x[k], y[k] + 5, who(cycle.thread[k / 2]));
        else
            fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"80\" height=\"40\" fill=\"#fdebd0\" "
                       "stroke=\"#b9770e\"/><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">"
                       "account %d</text>\n",
                    x[k] - 40, y[k] - 20, x[k], y[k] + 5, cycle.account[k / 2]);
    }
    fprintf(f, "<text x=\"260\" y=\"470\" text-anchor=\"middle\" font-size=\"12\">each thread holds "
               "one account and waits for the next:</text>\n<text x=\"260\" y=\"488\" "
               "text-anchor=\"middle\" font-size=\"12\">nobody can move</text>\n</svg>\n");
    return fclose(f) == 0 ? 0 : -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: bank [--accounts N] [--threads T] [--transfers K] [--work W] "
                    "[--global-lock] [--naive [--svg FILE]]\n");
    exit(2);
}

static void parse_options(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--naive") == 0)
            opt.naive = true;
        else if (strcmp(a, "--global-lock") == 0)
            opt.global = true;
        else if (v != NULL && strcmp(a, "--svg") == 0)
            opt.svg = argv[++i];
        else if (v != NULL && strcmp(a, "--accounts") == 0)
            opt.accounts = atoi(argv[++i]);
        else if (v != NULL && strcmp(a, "--threads") == 0)
            opt.threads = atoi(argv[++i]);
        else if (v != NULL && strcmp(a, "--transfers") == 0)
            opt.transfers = atol(argv[++i]);
        else if (v != NULL && strcmp(a, "--work") == 0)
            opt.work = atoi(argv[++i]);
        else
            usage();
    }
    if (opt.accounts < 2 || opt.accounts > MAXACC || opt.threads < 1 || opt.threads > MAXT ||
        opt.transfers < 1 || opt.work < 0 || (opt.naive && opt.global))
        usage();
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    tl_trace_name_thread("main");
    for (int i = 0; i < opt.accounts; i++) {
        int rc = pthread_mutex_init(&acc[i].lock, NULL);
        if (rc != 0)
            die_rc(rc, "pthread_mutex_init");
        acc[i].balance = START;
        snprintf(acc[i].name, sizeof acc[i].name, "wait for account %d", i);
        tl_trace_name_object(&acc[i].lock, acc[i].name + 9); /* "account N" */
    }
    tl_trace_name_object(&bank_lock, "the bank");
    printf("bank: %d accounts, %d threads x %ld transfers, %s\n", opt.accounts, opt.threads,
           opt.transfers, opt.naive ? "NAIVE lock order (from, then to)"
                          : opt.global ? "one lock for the whole bank" : "a lock per account, lowest index first");
    pthread_t th[MAXT], au;
    long audits = 0;
    double t0 = now_s();
    if (pthread_create(&au, NULL, auditor, &audits) != 0)
        return 1;
    for (int i = 0; i < opt.threads; i++)
        if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)(i + 1)) != 0)
            return 1;
    for (int i = 0; i < opt.threads; i++)
        pthread_join(th[i], NULL);
    double dt = now_s() - t0;
    atomic_store(&stop, true);
    void *bad;
    pthread_join(au, &bad);
    long total = audit(opt.threads + 1), n = atomic_load(&done_transfers);
    printf("%ld transfers in %.1f ms = %.0f transfers/s; %.2f%% of lock acquisitions waited\n", n,
           dt * 1e3, (double)n / dt,
           n > 0 ? 100.0 * (double)atomic_load(&contended) / (double)(opt.global ? n : 2 * n) : 0.0);
    printf("auditor: %ld audits, %ld wrong; total %ld (want %ld)\n", audits, (long)(intptr_t)bad,
           total, (long)opt.accounts * START);
    if (atomic_load(&cycle.found)) {
        printf("DEADLOCK caught after %ld transfers; the wait-for cycle:\n", n);
        for (int i = 0; i < cycle.n; i++)
            printf("  %s holds account %d and waits for account %d (held by %s)\n",
                   who(cycle.thread[(i + 1) % cycle.n]), cycle.account[i],
                   cycle.account[(i + 1) % cycle.n], who(cycle.thread[(i + 2) % cycle.n]));
        if (opt.svg != NULL && draw_cycle(opt.svg) != 0)
            perror(opt.svg);
    } else if (opt.naive) {
        printf("no deadlock this time (rare: try again, or more threads)\n");
    }
    return total == (long)opt.accounts * START ? 0 : 1;
}
