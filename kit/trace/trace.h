/*
 * trace.h - threadlab's thread-timeline tracer (single header).
 *
 * What it shows: how to record what threads did - spans of work, spans of
 * waiting, instants, and arrows from one thread's event to another's - so
 * that kit/timeline can draw one lane per thread.
 *
 * DESIGN: tracing is off unless the environment variable TL_TRACE names an
 * output file. When off, every call costs one relaxed atomic load and a
 * branch. When on, each thread appends fixed-size records to a buffer of its
 * own (no lock on the hot path); a buffer is linked into a global list once,
 * with a compare-and-swap, when its thread records its first event. The
 * buffers are written out once, at exit (or by tl_trace_flush()), so the
 * cost of formatting never lands inside the timed region. Timestamps come
 * from CLOCK_MONOTONIC in nanoseconds since the first event.
 *
 * Use: in exactly one .c file of a program,
 *     #define TL_TRACE_IMPLEMENTATION
 *     #include "trace.h"
 * and include it plainly everywhere else. That file needs clock_gettime, so it
 * defines _POSIX_C_SOURCE 200809L (or _GNU_SOURCE) before its first #include. Names passed to the calls must
 * live until exit (string literals); tl_trace_name_thread() copies its name.
 *
 * Output (text, one record a line; kit/timeline turns it into a diagram):
 *     threadlab-trace 1
 *     lane <lane> <thread name>
 *     obj <address> <object name>
 *     ev <ns> <lane> <kind> <arg> <name>
 *     offcpu <lane> <from ns> <to ns> <ns off the CPU>
 *     clock virtual        (only under the sched pass: time is the scheduler's)
 * kind is one letter: B begin running span, W begin blocked span, E end the
 * innermost span, I instant, S flow out (arg = flow id), F flow in (arg =
 * flow id), T thread start, X thread exit.
 *
 * Each event also samples the thread's CPU clock (CLOCK_THREAD_CPUTIME_ID).
 * Between two events of a thread that is not inside a blocked span, wall
 * time minus CPU time is time the thread could have run but did not: it was
 * waiting for a CPU (or sat in a call nobody traced). Where that is a large
 * part of the stretch (at least TL_TRACE_OFFCPU_MIN ns and a quarter of it),
 * the flush writes an 'offcpu' line, so that a timeline can tell waiting for
 * a lock (a blocked span) from waiting for a CPU.
 */
#ifndef TL_TRACE_H
#define TL_TRACE_H

#include <stdint.h>

/* Name the calling thread's lane in the timeline. Copies name. Never blocks. */
void tl_trace_name_thread(const char *name);
/* Name an object (a mutex, a queue...) that events refer to by address. */
void tl_trace_name_object(const void *obj, const char *name);
/* Begin a span of work on this thread; end it with tl_trace_end(). */
void tl_trace_begin(const char *what);
/* Begin a span during which this thread is blocked (waiting, not running). */
void tl_trace_block(const char *what);
/* End the innermost open span of this thread. */
void tl_trace_end(void);
/* Record an instant event. */
void tl_trace_mark(const char *what);
/* Start a flow arrow here; returns its id (0 when tracing is off). */
uint64_t tl_trace_flow_out(const char *what);
/* Finish the flow arrow `id` here (no-op for id 0). */
void tl_trace_flow_in(const char *what, uint64_t id);
/* Same as above with an extra argument recorded (an object address). */
void tl_trace_event(char kind, const char *what, uint64_t arg);
/* 1 when TL_TRACE is set, else 0. */
int tl_trace_enabled(void);
/* Write all buffers now (also done at exit). Call with no other thread tracing. */
void tl_trace_flush(void);

#endif /* TL_TRACE_H */

#ifdef TL_TRACE_IMPLEMENTATION
#ifndef TL_TRACE_IMPLEMENTED
#define TL_TRACE_IMPLEMENTED

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TL_TRACE_CAP 65536 /* events per thread; later ones are counted, not kept */
#define TL_TRACE_OFFCPU_MIN 20000 /* ns: shorter stretches off the CPU are not written */
#define TL_TRACE_DEPTH 64 /* open spans tracked per thread when writing 'offcpu' lines */

/* How the tracer allocates its buffers. A build whose calloc is counted by
 * someone else (kit/trace/trace.c, next to the wrappers) points this at the
 * uncounted one, so the tracer's memory never reads as the program's. */
#ifndef TL_TRACE_CALLOC
#define TL_TRACE_CALLOC calloc
#endif

struct tl_ev {
    uint64_t ns;
    uint64_t cpu; /* the thread's CPU time at the event, ns */
    uint64_t arg;
    const char *name;
    char kind;
};

struct tl_tbuf {
    struct tl_tbuf *next; /* immutable once published */
    int lane;
    char name[48];        /* written by the owning thread only */
    size_t n;             /* owning thread only until flush */
    size_t dropped;
    struct tl_ev ev[TL_TRACE_CAP];
};

struct tl_obj {
    struct tl_obj *next;
    const void *addr;
    char name[48];
};

static atomic_int tl_state;                    /* 0 unknown, 1 off, 2 on */
static _Atomic(struct tl_tbuf *) tl_bufs;      /* pushed with CAS, never popped */
static _Atomic(struct tl_obj *) tl_objs;
static atomic_int tl_nlanes;
static atomic_uint_fast64_t tl_next_flow = 1;
static atomic_uint_fast64_t tl_t0;             /* set once, by the first caller to get there */
static _Thread_local struct tl_tbuf *tl_mine;
static _Atomic(const char *) tl_path;          /* getenv("TL_TRACE"): the same for every caller */

/* The sched pass's virtual clock (kit/wrap/tlwrap.c), when linked: a traced
 * run reads it without moving it, so tracing leaves the schedule as it was. */
int tl_sched_clock(clockid_t clk, struct timespec *t) __attribute__((weak));

static uint64_t tl_now(void)
{
    struct timespec ts;
    if (tl_sched_clock == NULL || tl_sched_clock(CLOCK_MONOTONIC, &ts) != 0)
        clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether time is the scheduler's virtual clock (the sched pass): one thread
 * at a time, and time passes only in waits and naps. */
static int tl_clock_virtual(void)
{
    struct timespec ts;
    return tl_sched_clock != NULL && tl_sched_clock(CLOCK_MONOTONIC, &ts) == 0;
}

/* The calling thread's CPU time in ns (0 if the clock cannot be read). */
static uint64_t tl_cpu_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void tl_trace_atexit(void) { tl_trace_flush(); }

/* Decide once whether tracing is on. Racing first callers agree on the result. */
static int tl_trace_init(void)
{
    int s = atomic_load_explicit(&tl_state, memory_order_acquire);
    if (s != 0)
        return s == 2;
    const char *p = getenv("TL_TRACE");
    int on = p != NULL && *p != '\0';
    int expected = 0;
    if (on) {
        /* Racing first callers may both get here: the first store of t0 wins. */
        uint_fast64_t unset = 0;
        atomic_store_explicit(&tl_path, p, memory_order_relaxed);
        atomic_compare_exchange_strong_explicit(&tl_t0, &unset, tl_now(), memory_order_relaxed,
                                                memory_order_relaxed);
    }
    /* pairs with the acquire load above: tl_path and tl_t0 are visible first */
    if (atomic_compare_exchange_strong_explicit(&tl_state, &expected, on ? 2 : 1,
                                                memory_order_acq_rel, memory_order_acquire)) {
        if (on)
            atexit(tl_trace_atexit);
        return on;
    }
    return expected == 2;
}

int tl_trace_enabled(void)
{
    /* acquire: pairs with the CAS in tl_trace_init(), so tl_t0 and tl_path are set */
    int s = atomic_load_explicit(&tl_state, memory_order_acquire);
    return s == 2 || (s == 0 && tl_trace_init());
}

/* The calling thread's buffer, created and published on first use; NULL if out of memory. */
static struct tl_tbuf *tl_buf(void)
{
    struct tl_tbuf *b = tl_mine;
    if (b != NULL)
        return b;
    b = TL_TRACE_CALLOC(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->lane = atomic_fetch_add_explicit(&tl_nlanes, 1, memory_order_relaxed);
    snprintf(b->name, sizeof b->name, b->lane == 0 ? "main" : "thread %d", b->lane);
    struct tl_tbuf *head = atomic_load_explicit(&tl_bufs, memory_order_relaxed);
    do
        b->next = head;
    while (!atomic_compare_exchange_weak_explicit(&tl_bufs, &head, b, memory_order_release,
                                                  memory_order_relaxed));
    tl_mine = b;
    return b;
}

void tl_trace_event(char kind, const char *what, uint64_t arg)
{
    if (!tl_trace_enabled())
        return;
    struct tl_tbuf *b = tl_buf();
    if (b == NULL)
        return;
    if (b->n == TL_TRACE_CAP) {
        b->dropped++;
        return;
    }
    struct tl_ev *e = &b->ev[b->n++];
    e->ns = tl_now() - atomic_load_explicit(&tl_t0, memory_order_relaxed);
    e->cpu = tl_cpu_now();
    e->kind = kind;
    e->name = what != NULL ? what : "";
    e->arg = arg;
}

void tl_trace_name_thread(const char *name)
{
    if (!tl_trace_enabled())
        return;
    struct tl_tbuf *b = tl_buf();
    if (b != NULL)
        snprintf(b->name, sizeof b->name, "%s", name);
}

void tl_trace_name_object(const void *obj, const char *name)
{
    if (!tl_trace_enabled())
        return;
    struct tl_obj *o = TL_TRACE_CALLOC(1, sizeof *o);
    if (o == NULL)
        return;
    o->addr = obj;
    snprintf(o->name, sizeof o->name, "%s", name);
    struct tl_obj *head = atomic_load_explicit(&tl_objs, memory_order_relaxed);
    do
        o->next = head;
    while (!atomic_compare_exchange_weak_explicit(&tl_objs, &head, o, memory_order_release,
                                                  memory_order_relaxed));
}

void tl_trace_begin(const char *what) { tl_trace_event('B', what, 0); }
void tl_trace_block(const char *what) { tl_trace_event('W', what, 0); }
void tl_trace_end(void) { tl_trace_event('E', "", 0); }
void tl_trace_mark(const char *what) { tl_trace_event('I', what, 0); }

uint64_t tl_trace_flow_out(const char *what)
{
    if (!tl_trace_enabled())
        return 0;
    uint64_t id = atomic_fetch_add_explicit(&tl_next_flow, 1, memory_order_relaxed);
    tl_trace_event('S', what, id);
    return id;
}

void tl_trace_flow_in(const char *what, uint64_t id)
{
    if (id != 0)
        tl_trace_event('F', what, id);
}

/* Write b's 'offcpu' lines: stretches between two of its events, outside
 * blocked spans, in which the thread was mostly not on a CPU. */
static void tl_trace_write_offcpu(FILE *f, const struct tl_tbuf *b)
{
    if (tl_clock_virtual())
        return; /* one thread at a time on a virtual clock: CPU time says nothing */
    char open[TL_TRACE_DEPTH]; /* kinds of the open spans, innermost last */
    int depth = 0, blocked = 0; /* blocked: open W spans */
    for (size_t i = 0; i + 1 < b->n; i++) {
        const struct tl_ev *e = &b->ev[i], *next = &b->ev[i + 1];
        if (e->kind == 'B' || e->kind == 'W') {
            if (depth < TL_TRACE_DEPTH)
                open[depth] = e->kind;
            depth++;
            blocked += e->kind == 'W';
        } else if (e->kind == 'E' && depth > 0) {
            depth--;
            if (depth < TL_TRACE_DEPTH && open[depth] == 'W')
                blocked--;
        }
        if (blocked > 0 || e->kind == 'X' || e->cpu == 0 || next->cpu < e->cpu)
            continue;
        uint64_t wall = next->ns - e->ns, cpu = next->cpu - e->cpu;
        if (wall > cpu && wall - cpu >= TL_TRACE_OFFCPU_MIN && 4 * (wall - cpu) >= wall)
            fprintf(f, "offcpu %d %llu %llu %llu\n", b->lane, (unsigned long long)e->ns,
                    (unsigned long long)next->ns, (unsigned long long)(wall - cpu));
    }
}

void tl_trace_flush(void)
{
    if (atomic_load_explicit(&tl_state, memory_order_acquire) != 2)
        return;
    const char *path = atomic_load_explicit(&tl_path, memory_order_relaxed);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return;
    }
    fprintf(f, "threadlab-trace 1\n");
    if (tl_clock_virtual())
        fprintf(f, "clock virtual\n");
    /* pairs with the release CAS in tl_buf(): each buffer's header is visible */
    struct tl_tbuf *b0 = atomic_load_explicit(&tl_bufs, memory_order_acquire);
    for (struct tl_tbuf *b = b0; b != NULL; b = b->next)
        fprintf(f, "lane %d %s\n", b->lane, b->name);
    for (struct tl_obj *o = atomic_load_explicit(&tl_objs, memory_order_acquire); o; o = o->next)
        fprintf(f, "obj %p %s\n", o->addr, o->name);
    for (struct tl_tbuf *b = b0; b != NULL; b = b->next) {
        for (size_t i = 0; i < b->n; i++) {
            const struct tl_ev *e = &b->ev[i];
            fprintf(f, "ev %llu %d %c %llx %s\n", (unsigned long long)e->ns, b->lane, e->kind,
                    (unsigned long long)e->arg, e->name);
        }
        tl_trace_write_offcpu(f, b);
        if (b->dropped > 0)
            fprintf(stderr, "trace: lane %d dropped %zu events (buffer full)\n", b->lane,
                    b->dropped);
    }
    fclose(f);
}

#endif /* TL_TRACE_IMPLEMENTED */
#endif /* TL_TRACE_IMPLEMENTATION */
