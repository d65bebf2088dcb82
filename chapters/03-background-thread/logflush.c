/*
 * logflush.c - a log buffer that a background thread writes out every
 * period, and at once when asked.
 *
 * What it shows: the background-thread pattern as a service uses it. Two
 * worker threads log lines, which only copies them into a shared buffer
 * under a lock; a flusher thread writes the buffer to the log file every
 * PERIOD_MS, and at once when a worker calls log_flush_now() (as it would
 * before reporting a job as durable). At the end main stops the flusher and
 * prints how long the stop took.
 *
 * DESIGN: the flusher blocks in one place, pthread_cond_timedwait() on a
 * condition variable whose clock is CLOCK_MONOTONIC, until the period ends,
 * a flush is requested or stop is set - so a request and a stop are both
 * answered at once, whatever the period. With --sleep it sleeps the period
 * out instead, as many first versions do; run both and compare "flush_now
 * waited" and "stop took".
 *
 * Build: cc -std=c11 -pthread logflush.c     Run: ./a.out [--sleep]
 */
#define _POSIX_C_SOURCE 200809L
#define TL_TRACE_IMPLEMENTATION
#include "../../kit/trace/trace.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PERIOD_MS = 10, WRITERS = 2, JOBS = 25, BUFSZ = 1 << 16 };

struct log {
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* CLOCK_MONOTONIC; signalled when requested or stopping is set */
    pthread_cond_t flushed; /* broadcast whenever lines_flushed grows */
    /* Guarded by lock. Writers append to text[cur]; the flusher owns the other half. */
    char text[2][BUFSZ];
    int cur;
    size_t len;
    long lines_written, lines_flushed, lines_pending;
    bool requested, stopping;
    uint64_t request_flow;  /* trace arrow from the first pending request to its flush */
    /* Immutable after start. */
    FILE *out;
    bool use_sleep;
};

static struct timespec t_start;

/* Milliseconds since the program started. */
static double ms_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t_start.tv_sec) * 1e3 + (double)(t.tv_nsec - t_start.tv_nsec) / 1e6;
}

/* ------------------------------------------------------- checked pthread calls
 * pthread functions return an error number (they leave errno alone): check it,
 * never assert() it away. Lock, unlock, wait and signal cannot fail in a correct
 * program, so they abort; creation can, so main checks it where it happens. */

/* Print what failed and why, then abort. Never returns. */
static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

/* Lock m; aborts on error. Blocks until m is free. */
static void mutex_lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_lock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_lock");
}

/* Unlock m; aborts on error. Never blocks. */
static void mutex_unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_unlock");
}

/* Wait on c, releasing m meanwhile; aborts on error. Blocks until woken. */
static void cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    int rc = pthread_cond_wait(c, m);
    if (rc != 0)
        die_rc(rc, "pthread_cond_wait");
}

/* Wait on c until woken or the absolute time `at` (c's clock). Returns 0 or
 * ETIMEDOUT; aborts on any other error. Blocks until then. */
static int cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *at)
{
    int rc = pthread_cond_timedwait(c, m, at);
    if (rc != 0 && rc != ETIMEDOUT)
        die_rc(rc, "pthread_cond_timedwait");
    return rc;
}

/* Wake one waiter of c; aborts on error. Never blocks. */
static void cond_signal(pthread_cond_t *c)
{
    int rc = pthread_cond_signal(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_signal");
}

/* Wake every waiter of c; aborts on error. Never blocks. */
static void cond_broadcast(pthread_cond_t *c)
{
    int rc = pthread_cond_broadcast(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_broadcast");
}

/* Spin for about us microseconds: stands for a worker's real work. */
static void work_us(long us)
{
    double end = ms_now() + (double)us / 1e3;
    while (ms_now() < end)
        ;
}

/* snippet: condattr */
/* Initialise c so that its timed waits measure CLOCK_MONOTONIC, which nobody
 * can set back or forward, unlike the default CLOCK_REALTIME. Returns 0 or an
 * errno. Never blocks. */
static int cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    int rc = pthread_condattr_init(&a);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return rc;
}
/* end snippet: condattr */

/* Append one formatted line to the buffer. Blocks only for the lock. */
static void log_line(struct log *l, const char *fmt, ...)
{
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    mutex_lock(&l->lock);
    if (l->len + (size_t)n <= BUFSZ) { /* the demo never fills it; a service would wait */
        memcpy(l->text[l->cur] + l->len, line, (size_t)n);
        l->len += (size_t)n;
        l->lines_written++;
        l->lines_pending++;
    }
    mutex_unlock(&l->lock);
}

/* snippet: flush_now */
/* Return once every line logged before the call is in the file. Returns
 * how long that took, in ms. Blocks on the flusher's answer. */
static double log_flush_now(struct log *l)
{
    double t0 = ms_now();
    mutex_lock(&l->lock);
    long ticket = l->lines_written;
    if (l->lines_flushed < ticket) {
        l->requested = true;
        if (l->request_flow == 0)
            l->request_flow = tl_trace_flow_out("flush request");
        cond_signal(&l->wake);
        while (l->lines_flushed < ticket) /* a flush of older lines is not our answer */
            cond_wait(&l->flushed, &l->lock);
    }
    mutex_unlock(&l->lock);
    return ms_now() - t0;
}
/* end snippet: flush_now */

/* snippet: wait */
/* Block until the period is over, a flush is requested or stop is set.
 * Called, and returns, with l->lock held. */
static void wait_for_a_reason(struct log *l)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += PERIOD_MS * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    while (!l->stopping && !l->requested && rc != ETIMEDOUT)
        rc = cond_timedwait(&l->wake, &l->lock, &deadline);
}
/* end snippet: wait */

/* The flusher: wait for the period, a request or stop; write the buffer out; repeat. */
static void *flusher_main(void *arg)
{
    struct log *l = arg;
    tl_trace_name_thread("flusher");
    mutex_lock(&l->lock);
    for (;;) {
        if (l->use_sleep) {
            /* The first version everybody writes: nothing can wake it early. */
            struct timespec period = {0, PERIOD_MS * 1000000L};
            mutex_unlock(&l->lock);
            nanosleep(&period, NULL);
            mutex_lock(&l->lock);
        } else {
            wait_for_a_reason(l);
        }
        bool last = l->stopping;
        const char *why = last ? "final" : l->requested ? "on demand" : "timer";
        uint64_t flow = l->request_flow;
        const char *text = l->text[l->cur]; /* take this half, writers get the other */
        size_t len = l->len;
        long lines = l->lines_pending;
        l->cur ^= 1;
        l->len = 0;
        l->lines_pending = 0;
        l->requested = false;
        l->request_flow = 0;
        mutex_unlock(&l->lock);

        tl_trace_flow_in("flush request", flow);
        tl_trace_begin(last ? "write out: final" : flow ? "write out: on demand" : "write out: timer");
        fwrite(text, 1, len, l->out);
        fflush(l->out);
        work_us(800); /* stands for fsync(): making it durable takes a while */
        printf("%7.2f ms  flusher: %-9s flush, %2ld lines\n", ms_now(), why, lines);
        tl_trace_end();

        mutex_lock(&l->lock);
        l->lines_flushed += lines;
        cond_broadcast(&l->flushed);
        if (last)
            break;
    }
    mutex_unlock(&l->lock);
    return NULL;
}

struct writer {
    struct log *l;
    int id;
    double waited; /* ms spent in log_flush_now */
};

static void *writer_main(void *arg)
{
    static const char *const names[] = {"worker 1", "worker 2"};
    struct writer *w = arg;
    tl_trace_name_thread(names[w->id - 1]);
    for (int job = 1; job <= JOBS; job++) {
        tl_trace_begin("job");
        work_us(2000);
        tl_trace_end();
        log_line(w->l, "worker %d: job %d done\n", w->id, job);
        if (w->id == 2 && job == JOBS / 2) {
            tl_trace_mark("flush_now");
            w->waited = log_flush_now(w->l); /* before telling anyone job 12 is safe */
            printf("%7.2f ms  worker 2: flush_now waited %.2f ms\n", ms_now(), w->waited);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static struct log l; /* 128 KiB of buffer: not on the stack */
    l.use_sleep = argc > 1 && strcmp(argv[1], "--sleep") == 0;
    l.out = tmpfile();
    if (l.out == NULL) {
        perror("tmpfile");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t_start);
    tl_trace_name_thread("main");
    int rc = pthread_mutex_init(&l.lock, NULL);
    if (rc == 0)
        rc = cond_init_monotonic(&l.wake);
    if (rc == 0)
        rc = pthread_cond_init(&l.flushed, NULL);
    if (rc != 0)
        die_rc(rc, "initialising the log's lock and condition variables");
    printf("logflush: %d workers, flusher period %d ms, waiting with %s\n", WRITERS, PERIOD_MS,
           l.use_sleep ? "nanosleep()" : "pthread_cond_timedwait()");

    pthread_t flusher, th[WRITERS];
    struct writer w[WRITERS];
    /* A demo with nothing to fall back on: a thread it cannot start ends it. */
    rc = pthread_create(&flusher, NULL, flusher_main, &l);
    if (rc != 0)
        die_rc(rc, "pthread_create (flusher)");
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){&l, i + 1, 0};
        rc = pthread_create(&th[i], NULL, writer_main, &w[i]);
        if (rc != 0)
            die_rc(rc, "pthread_create (worker)");
    }
    for (int i = 0; i < WRITERS; i++) {
        rc = pthread_join(th[i], NULL);
        if (rc != 0)
            die_rc(rc, "pthread_join (worker)");
    }

    /* snippet: stop */
    double t0 = ms_now();
    tl_trace_mark("stop");
    mutex_lock(&l.lock);
    l.stopping = true; /* under the lock: the flusher reads it under the lock */
    cond_signal(&l.wake);
    mutex_unlock(&l.lock);
    rc = pthread_join(flusher, NULL); /* after this, no flush can run */
    if (rc != 0)
        die_rc(rc, "pthread_join (flusher)");
    double stop_ms = ms_now() - t0;
    /* end snippet: stop */

    rewind(l.out);
    long lines = 0;
    for (int ch; (ch = getc(l.out)) != EOF;)
        lines += ch == '\n';
    printf("\nlog file: %ld lines (%ld logged); flush_now waited %.2f ms; stop took %.2f ms\n",
           lines, l.lines_written, w[1].waited, stop_ms);
    printf("%s\n", l.use_sleep ? "(a sleeping flusher answers neither until its nap ends: up to a "
                                 "whole period)"
                               : "(both answered at once; run with --sleep to see the difference)");
    fclose(l.out);
    return lines == l.lines_written ? 0 : 1;
}
