/*
 * bench_background.c - chapter 3's ticker against a thread that polls a stop
 * flag with a sleep loop: how long a stop takes, and what an idle
 * background thread costs.
 *
 * What it measures: one trial runs CYCLES cycles of: start the thread with
 * a period of 1 s, leave it idle for IDLE_MS (no tick falls due), stop it.
 * Ours is ticker_start()/ticker_stop() of
 * solutions/03-background-thread/ticker.c, which waits on a condition
 * variable that the stop signals; the anchor is the naive design the chapter
 * argues against, a thread that sleeps 100 ms, checks an atomic flag and
 * sleeps again (ticking every tenth time). Each cycle records the time from
 * the stop request to the thread joined, and the process's CPU time; the
 * harness counts the voluntary context switches (every one a thread going to
 * sleep: a poller's wake-ups show there).
 *
 * DESIGN: the trial's time is mostly the idle wait, the same for both sides;
 * what differs is the stop latency, printed per side as the median and the
 * range over every cycle of every round.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "harness.h"
#include "ticker.h"

#define PERIOD_MS 1000
#define POLL_MS 100
#define MAX_CYCLES (BENCH_MAX_ROUNDS * 8)

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ; /* EINTR: sleep the rest */
}

static double cpu_now(void) /* user + system seconds of the whole process */
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* The poller: sleeps POLL_MS, checks stop, calls fn every PERIOD_MS. */
struct poller {
    pthread_t thread;
    atomic_bool stop; /* set by poller_stop(); read by the thread after every sleep */
    ticker_fn fn;
    void *arg;
};

static void *poll_main(void *p_)
{
    struct poller *p = p_;
    for (long slept = 0; !atomic_load_explicit(&p->stop, memory_order_relaxed);) {
        sleep_ms(POLL_MS);
        if ((slept += POLL_MS) % PERIOD_MS == 0 && !atomic_load_explicit(&p->stop, memory_order_relaxed))
            p->fn(p->arg);
    }
    return NULL;
}

/* The start and stop of either side, so one cycle loop runs both. */
struct side {
    void *(*start)(ticker_fn fn, void *arg); /* NULL on failure */
    long (*stop)(void *h);                   /* ticks; -1 on failure */
    double lat[MAX_CYCLES], cpu[MAX_CYCLES]; /* per cycle: stop to joined, CPU seconds */
    int n, cycles;
    long idle_ms;
};

static void *ours_start(ticker_fn fn, void *arg) { return ticker_start(PERIOD_MS, fn, arg); }
static long ours_stop(void *h) { return ticker_stop(h); }

static void *poll_start(ticker_fn fn, void *arg)
{
    struct poller *p = malloc(sizeof *p);
    if (p == NULL)
        return NULL;
    *p = (struct poller){.fn = fn, .arg = arg};
    atomic_init(&p->stop, false);
    if (pthread_create(&p->thread, NULL, poll_main, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static long poll_stop(void *h)
{
    struct poller *p = h;
    atomic_store_explicit(&p->stop, true, memory_order_relaxed); /* the join orders everything after */
    int rc = pthread_join(p->thread, NULL);
    free(p);
    return rc == 0 ? 0 : -1;
}

static void tick(void *arg)
{
    atomic_fetch_add_explicit((atomic_long *)arg, 1, memory_order_relaxed);
}

/* One trial: cycles of start, idle, stop. Wrong if a start or stop fails or a tick fell due. */
static int run_side(void *ctx)
{
    struct side *s = ctx;
    atomic_long ticks = 0;
    for (int c = 0; c < s->cycles; c++) {
        double cpu0 = cpu_now();
        void *h = s->start(tick, &ticks);
        if (h == NULL)
            return 1;
        sleep_ms(s->idle_ms);
        double t0 = bench_now();
        if (s->stop(h) < 0)
            return 1;
        double lat = bench_now() - t0;
        if (s->n < MAX_CYCLES) {
            s->lat[s->n] = lat;
            s->cpu[s->n++] = cpu_now() - cpu0;
        }
    }
    return atomic_load(&ticks) != 0; /* idle_ms < PERIOD_MS: no tick is due */
}

static void print_side(const char *name, struct side *s)
{
    bench_sort(s->lat, s->n);
    bench_sort(s->cpu, s->n);
    printf("background    %-22s stop to joined: median %.3f ms (%.3f-%.3f);  CPU per cycle: median %.0f us"
           " (%d cycles)\n", name, s->lat[s->n / 2] * 1e3, s->lat[0] * 1e3, s->lat[s->n - 1] * 1e3,
           s->cpu[s->n / 2] * 1e6, s->n);
}

int main(int argc, char **argv)
{
    struct bench_opts o = bench_parse(argc, argv);
    static struct side ours = {.start = ours_start, .stop = ours_stop};
    static struct side poll = {.start = poll_start, .stop = poll_stop};
    ours.cycles = poll.cycles = o.smoke ? 1 : 4;
    ours.idle_ms = poll.idle_ms = o.smoke ? 5 : 250;
    char workload[64];
    snprintf(workload, sizeof workload, "%d x (idle %ld ms, stop)", ours.cycles, ours.idle_ms);
    struct bench_group g = {.pattern = "background", .workload = workload, .items = ours.cycles, .serial = -1};
    g.sides[g.nsides++] = (struct bench_side){"ours", run_side, &ours};
    g.sides[g.nsides++] = (struct bench_side){"sleep-polling thread", run_side, &poll};
    if (bench_run(&o, &g) != 0)
        return 1;
    bench_report(&o, &g, 1, 0, 0);
    print_side("ours (ticker)", &ours);
    print_side("sleep-polling thread", &poll);
    return 0;
}
