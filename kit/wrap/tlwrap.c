/*
 * tlwrap.c - the pthread wrappers behind graded and traced builds.
 *
 * What it shows: one place that sees every synchronization call the learner's
 * code makes. See tlwrap.h for what it records and why; wrapped.def lists
 * the calls routed here (the linker's --wrap options are made from it).
 *
 * DESIGN: every wrapper does four small things around the real call -
 * maybe yield (chaos), note the thread's state in a slot table (who waits on
 * what), count, and trace - and each of them is lock-free: the slot table and
 * the mutex-owner table are arrays of atomics, filled with compare-and-swap.
 * Nothing here may take a lock the learner can see, or the wrappers could
 * themselves cause the deadlocks they are meant to explain.
 *
 * --wrap redirects the undefined references of every object linked - this
 * one, trace.o and Check's static library included - so the kit's own
 * allocations call __real_malloc/__real_free, and the allocations Check makes
 * inside a test's ck_assert run with kit_depth raised (see the wrappers of
 * _mark_point and _ck_assert_failed): counts and injected failures see only
 * the learner's code and the tests.
 *
 * Lock order: none; this file takes no lock of its own.
 */
#define _GNU_SOURCE
#include "tlwrap.h"
#include "../proto/protocol.h"
#include "../trace/trace.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <semaphore.h>
#include <unistd.h>

/* The real functions, as --wrap names them: one declaration per line of wrapped.def. */
#define TL_WRAPPED(ret, name, params) ret __real_##name params;
#include "wrapped.def"
#undef TL_WRAPPED
/* Check's functions exist only in test binaries: weak, so that the chapter
 * programs and workloads (linked without Check) link too. */
#pragma weak __real__mark_point
#pragma weak __real__ck_assert_failed

/* ---------------------------------------------------------------- counts */

static struct {
    atomic_long threads_created, threads_joined, threads_detached, threads_running, threads_peak;
    atomic_long mutex_locks, mutex_contended, cond_waits, cond_timedwaits, cond_timeouts;
    atomic_long cond_signals, cond_broadcasts, sleeps, rwlock_reads, rwlock_writes;
    atomic_long yields, cond_spurious, heap_allocs, heap_frees, faults_injected;
    atomic_long workers_seen;
} C;

#define BUMP(field) atomic_fetch_add_explicit(&C.field, 1, memory_order_relaxed)
#define READ(field) atomic_load_explicit(&C.field, memory_order_relaxed)

/* > 0 while this thread runs the kit's own code (Check's assertions, the
 * helpers of tltest.h): its allocations are neither counted nor failed. */
static _Thread_local int kit_depth;

void tl_kit_enter(void) { kit_depth++; }
void tl_kit_leave(void)
{
    if (kit_depth > 0)
        kit_depth--;
}

void tl_counts_get(struct tl_counts *o)
{
    o->threads_created = READ(threads_created);
    o->threads_joined = READ(threads_joined);
    o->threads_detached = READ(threads_detached);
    o->threads_running = READ(threads_running);
    o->threads_peak = READ(threads_peak);
    o->mutex_locks = READ(mutex_locks);
    o->mutex_contended = READ(mutex_contended);
    o->cond_waits = READ(cond_waits);
    o->cond_timedwaits = READ(cond_timedwaits);
    o->cond_timeouts = READ(cond_timeouts);
    o->cond_signals = READ(cond_signals);
    o->cond_broadcasts = READ(cond_broadcasts);
    o->sleeps = READ(sleeps);
    o->rwlock_reads = READ(rwlock_reads);
    o->rwlock_writes = READ(rwlock_writes);
    o->yields = READ(yields);
    o->cond_spurious = READ(cond_spurious);
    o->heap_allocs = READ(heap_allocs);
    o->heap_frees = READ(heap_frees);
    o->faults_injected = READ(faults_injected);
}

static _Thread_local long tl_noted_epoch; /* epoch in which this thread was counted */
static atomic_long tl_epoch = 1;

void tl_counts_reset(void)
{
    atomic_long *all[] = {&C.threads_created, &C.threads_joined, &C.threads_detached,
                          &C.threads_peak, &C.mutex_locks, &C.mutex_contended, &C.cond_waits,
                          &C.cond_timedwaits, &C.cond_timeouts, &C.cond_signals,
                          &C.cond_broadcasts, &C.sleeps, &C.rwlock_reads, &C.rwlock_writes,
                          &C.yields, &C.cond_spurious, &C.heap_allocs, &C.heap_frees,
                          &C.faults_injected, &C.workers_seen};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        atomic_store_explicit(all[i], 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&tl_epoch, 1, memory_order_relaxed);
    for (int k = 0; k < TL_FAULT_COUNT; k++)
        tl_fault_nth((enum tl_fault)k, 0, 0);
    kit_depth = 0; /* a failed assertion may have longjmp'd out of the kit (CK_FORK=no) */
}

/* ------------------------------------------------------------ slot table */

/* Thread states (enum tl_state) and their words come from kit/proto/protocol.def. */

#define NSLOTS 512
struct slot {
    atomic_int used;          /* 0 free, 1 taken: claimed with CAS */
    atomic_int state;         /* enum tl_state */
    atomic_uintptr_t obj;     /* what it waits on (mutex, cond, slot+1 for join) */
    atomic_uintptr_t obj2;    /* the mutex a condition wait released */
    atomic_uintptr_t where;   /* return address of the learner's call */
    atomic_uintptr_t self;    /* pthread_t, set by the creator */
    atomic_int tid;           /* kernel thread id, set by the thread itself */
    atomic_int detached;
    atomic_uint_fast64_t exit_flow;
    /* Activity of the slot's threads, written by the occupant only, never reset
     * (a window takes differences): see note_call() and tl_activity_begin(). */
    atomic_long n_calls, n_yields, n_trylocks, n_timeouts;
    atomic_llong wake_ns; /* in TL_ST_TIMED or TL_ST_SLEEP: when it ends (CLOCK_MONOTONIC ns) */
    atomic_char name[64];     /* per-byte atomics: a reused slot is renamed while a dump may read it */
};
static struct slot slots[NSLOTS];
static _Thread_local int my_slot = -1;
static _Thread_local int my_worker_index = -1;
static _Thread_local long my_calls; /* wrapped calls this thread made: see note_call() */

/* Claim a free slot and name it; -1 when all are taken (the thread goes untracked). */
static int slot_claim(const char *name)
{
    for (int i = 0; i < NSLOTS; i++) {
        int expected = 0;
        if (atomic_load_explicit(&slots[i].used, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong_explicit(&slots[i].used, &expected, 2,
                                                    memory_order_acquire,
                                                    memory_order_relaxed)) {
            /* used == 2: claimed but not readable yet; dumps skip it. */
            size_t k = 0;
            for (; k + 1 < sizeof slots[i].name && name[k] != '\0'; k++)
                atomic_store_explicit(&slots[i].name[k], name[k], memory_order_relaxed);
            atomic_store_explicit(&slots[i].name[k], '\0', memory_order_relaxed);
            atomic_store_explicit(&slots[i].state, TL_ST_RUN, memory_order_relaxed);
            atomic_store_explicit(&slots[i].obj, 0, memory_order_relaxed);
            atomic_store_explicit(&slots[i].where, 0, memory_order_relaxed);
            atomic_store_explicit(&slots[i].self, 0, memory_order_relaxed);
            atomic_store_explicit(&slots[i].detached, 0, memory_order_relaxed);
            atomic_store_explicit(&slots[i].exit_flow, 0, memory_order_relaxed);
            /* pairs with the acquire loads in tl_waitfor_dump(): name is complete */
            atomic_store_explicit(&slots[i].used, 1, memory_order_release);
            return i;
        }
    }
    return -1;
}

/* Copy a slot's name into out (n bytes). A slot being renamed for a new thread
 * may give a mix of the two names; never a data race, and always terminated. */
static void slot_name(int i, char *out, size_t n)
{
    size_t k = 0;
    for (; k + 1 < n && k < sizeof slots[i].name; k++) {
        out[k] = atomic_load_explicit(&slots[i].name[k], memory_order_relaxed);
        if (out[k] == '\0')
            return;
    }
    out[k] = '\0';
}

static void slot_release(int i)
{
    if (i >= 0)
        atomic_store_explicit(&slots[i].used, 0, memory_order_release);
}

/* The calling thread's slot; a thread the wrappers did not start (main) gets one on first use. */
static int me(void)
{
    if (my_slot < 0) {
        int is_main = (pid_t)getpid() == gettid();
        my_slot = slot_claim(is_main ? "main" : "thread (not created by the program)");
        if (my_slot >= 0) {
            atomic_store_explicit(&slots[my_slot].self, (uintptr_t)pthread_self(),
                                  memory_order_relaxed);
            atomic_store_explicit(&slots[my_slot].tid, gettid(), memory_order_relaxed);
        }
    }
    return my_slot;
}

/* Counts one wrapped call of the calling thread (slot s; -1 untracked) for
 * activity windows and for spotting the wait that follows a spurious wake-up. */
static void note_call(int s)
{
    my_calls++;
    if (s >= 0)
        atomic_fetch_add_explicit(&slots[s].n_calls, 1, memory_order_relaxed);
}

/* Adds one to the calling thread's count `field` (n_yields, n_trylocks, n_timeouts). */
#define NOTE(s, field)                                                                   \
    do {                                                                                 \
        if ((s) >= 0)                                                                    \
            atomic_fetch_add_explicit(&slots[(s)].field, 1, memory_order_relaxed);       \
    } while (0)

/* Every change of state, counted: a look that sees the same count twice has
 * seen no thread move in between (tl_stuck()). */
static atomic_ulong state_changes;
/* Set once a thread ran without a slot (all were taken): tl_stuck() cannot see it. */
static atomic_int untracked_seen;

static void set_state(int s, int state, const void *obj, const void *obj2, void *where)
{
    if (s < 0)
        return;
    atomic_fetch_add_explicit(&state_changes, 1, memory_order_relaxed);
    atomic_store_explicit(&slots[s].obj, (uintptr_t)obj, memory_order_relaxed);
    atomic_store_explicit(&slots[s].obj2, (uintptr_t)obj2, memory_order_relaxed);
    atomic_store_explicit(&slots[s].where, (uintptr_t)where, memory_order_relaxed);
    atomic_store_explicit(&slots[s].state, state, memory_order_release);
}

static int slot_of_thread(pthread_t t)
{
    for (int i = 0; i < NSLOTS; i++)
        if (atomic_load_explicit(&slots[i].used, memory_order_acquire) == 1 &&
            atomic_load_explicit(&slots[i].self, memory_order_relaxed) == (uintptr_t)t)
            return i;
    return -1;
}

/* ---------------------------------------------- per-object tables (mutex owner, flow ids) */

#define NOBJ 4096
struct objent {
    atomic_uintptr_t key;       /* object address; 0 = empty; never removed */
    atomic_int owner;           /* mutexes: slot of the holder, -1 none */
    atomic_uint_fast64_t flow;  /* last unlock (mutex) or signal (cond) flow id */
    atomic_uintptr_t site;      /* where its init call returns to, 0 none (see site_tag()) */
    atomic_int site_kind;       /* which init: an enum init_kind */
};
static struct objent objs[NOBJ];

static void trace_static_name(const void *p);

/* Find the entry for address p, inserting it when insert is set; NULL when
 * it is absent (or the table is full). */
static struct objent *obj_lookup(const void *p, bool insert)
{
    uintptr_t key = (uintptr_t)p;
    size_t h = (size_t)((key >> 3) * 0x9E3779B97F4A7C15ull) % NOBJ;
    for (size_t n = 0; n < NOBJ; n++, h = (h + 1) % NOBJ) {
        uintptr_t k = atomic_load_explicit(&objs[h].key, memory_order_acquire);
        if (k == key)
            return &objs[h];
        if (k == 0 && !insert)
            return NULL;
        if (k == 0) {
            uintptr_t expected = 0;
            if (atomic_compare_exchange_strong_explicit(&objs[h].key, &expected, key,
                                                        memory_order_acq_rel,
                                                        memory_order_acquire)) {
                atomic_store_explicit(&objs[h].owner, -1, memory_order_relaxed);
                trace_static_name(p); /* once per object, never on a later call */
                return &objs[h];
            }
            if (expected == key)
                return &objs[h];
        }
    }
    return NULL;
}

/* Find or insert the entry for address p; NULL when the table is full. */
static struct objent *obj_ent(const void *p) { return obj_lookup(p, true); }

/* ------------------------------------ names for the timeline and the wait-for graph */

/* The timeline and the watchdog's wait-for graph name a lock or condition
 * variable after the learner's own expression for it (q->lock, p->not_empty,
 * holder.m). The wrappers only write down where to look, a site tag:
 * "mutex-init@0xOFF" for an object set up by pthread_mutex_init (OFF: the
 * call's offset in the program), "data@0xOFF" for one that lies in the
 * program's own data (a PTHREAD_MUTEX_INITIALIZER global). kit/trace/names.sh
 * turns tags into names, for both pictures: at draw time, never in the run.
 * Under TL_TRACE a tag goes into the trace as an 'obj' line; the wait-for
 * table carries it as an O row. Off the trace this costs one store per init. */

enum init_kind { INIT_NONE, INIT_MUTEX, INIT_COND, INIT_RWLOCK };
static const char *const init_kind_name[] = {"", "mutex", "cond", "rwlock"};

/* 1 when p lies in the program itself (not a shared library), with *off its offset there. */
static int in_program(const void *p, uintptr_t *off)
{
    Dl_info me, it;
    if (!dladdr((void *)(uintptr_t)in_program, &me) || me.dli_fbase == NULL)
        return 0;
    if (!dladdr(p, &it) || it.dli_fbase != me.dli_fbase)
        return 0;
    *off = (uintptr_t)p - (uintptr_t)it.dli_fbase;
    return 1;
}

/* The site tag of object p into nm (see above): its init call's, where kind
 * says one returned to ret in the program, else its place in the program's
 * data; returns 0 (nm untouched) when it has neither. */
static int site_tag(const void *p, enum init_kind kind, uintptr_t ret, char *nm, size_t n)
{
    uintptr_t off;
    if (kind != INIT_NONE && ret != 0 && in_program((const void *)ret, &off))
        snprintf(nm, n, "%s-init@%#lx", init_kind_name[kind], (unsigned long)(off - 1)); /* -1: the call */
    else if (in_program(p, &off))
        snprintf(nm, n, "data@%#lx", (unsigned long)off);
    else
        return 0;
    return 1;
}

/* Note that obj was set up by an init call returning to ret. */
static void note_init(const void *obj, enum init_kind kind, const void *ret)
{
    struct objent *e = obj_ent(obj);
    if (e != NULL) {
        atomic_store_explicit(&e->site_kind, (int)kind, memory_order_relaxed);
        atomic_store_explicit(&e->site, (uintptr_t)ret, memory_order_relaxed);
    }
    char nm[48];
    if (tl_trace_enabled() && site_tag(obj, kind, (uintptr_t)ret, nm, sizeof nm))
        tl_trace_name_object(obj, nm);
}

/* Name an object first seen by the wrappers after the program symbol it lies in, if any. */
static void trace_static_name(const void *p)
{
    char nm[48];
    if (tl_trace_enabled() && site_tag(p, INIT_NONE, 0, nm, sizeof nm))
        tl_trace_name_object(p, nm);
}

static void set_owner(const void *m, int s)
{
    struct objent *e = obj_ent(m);
    if (e != NULL)
        atomic_store_explicit(&e->owner, s, memory_order_relaxed);
}

/* ----------------------------------------------------------------- chaos */

static atomic_int chaos_state;           /* 0 unknown, 1 off, 2 on */
static uint64_t chaos_seed;              /* written before chaos_state becomes 2 */
static _Thread_local uint64_t chaos_rng;

static int chaos_on(void)
{
    int s = atomic_load_explicit(&chaos_state, memory_order_acquire);
    if (s == 0) {
        const char *e = getenv("CHAOS_SEED");
        uint64_t seed = e != NULL ? strtoull(e, NULL, 10) : 0;
        int expected = 0;
        if (seed != 0)
            chaos_seed = seed;
        /* pairs with the acquire load above: chaos_seed is visible first */
        if (!atomic_compare_exchange_strong_explicit(&chaos_state, &expected, seed ? 2 : 1,
                                                     memory_order_acq_rel,
                                                     memory_order_acquire))
            return expected == 2;
        return seed != 0;
    }
    return s == 2;
}

/* At a synchronization point, sometimes give the CPU away: a sleep of up to
 * 20 us one time in four, of up to 200 us one time in sixty-four. Seeded per
 * thread. A short sleep rather than sched_yield(): next to CPU-bound
 * processes a yield can cost a whole time slice of theirs (milliseconds),
 * while a sleeper is woken promptly; both let other threads in. */
static void chaos(void)
{
    if (!chaos_on())
        return;
    if (chaos_rng == 0)
        chaos_rng = chaos_seed * 0x9E3779B97F4A7C15ull + (uint64_t)(me() + 1) * 0xBF58476D1CE4E5B9ull;
    chaos_rng ^= chaos_rng << 13;
    chaos_rng ^= chaos_rng >> 7;
    chaos_rng ^= chaos_rng << 17;
    if ((chaos_rng & 3) == 0) {
        struct timespec ts = {0, (long)((chaos_rng >> 8) % 20000)};
        __real_nanosleep(&ts, NULL);
    } else if ((chaos_rng & 63) == 1) {
        struct timespec ts = {0, (long)((chaos_rng >> 8) % 200000)};
        __real_nanosleep(&ts, NULL);
    }
}

/* ------------------------------------------------------- injected failures */

/* One armed failure per kind. tl_fault_nth() disarms (target 0) before it
 * resets the rest, so a racing call sees either the old arming or the new. */
static struct {
    atomic_long target; /* the call that fails, counted from 1; 0 = none armed */
    atomic_long calls;  /* calls of this kind since the last tl_fault_nth() */
    atomic_int err;
    atomic_bool fired;
} faults[TL_FAULT_COUNT];

void tl_fault_nth(enum tl_fault k, long n, int err)
{
    if ((int)k < 0 || k >= TL_FAULT_COUNT)
        return;
    atomic_store_explicit(&faults[k].target, 0, memory_order_release);
    atomic_store_explicit(&faults[k].calls, 0, memory_order_relaxed);
    atomic_store_explicit(&faults[k].fired, false, memory_order_relaxed);
    atomic_store_explicit(&faults[k].err, err, memory_order_relaxed);
    /* pairs with the acquire load in fault_now(): calls, fired and err are reset first */
    atomic_store_explicit(&faults[k].target, n > 0 ? n : 0, memory_order_release);
}

long tl_fault_calls(enum tl_fault k)
{
    return (int)k < 0 || k >= TL_FAULT_COUNT ? 0 : atomic_load(&faults[k].calls);
}

bool tl_fault_fired(enum tl_fault k)
{
    return (int)k >= 0 && k < TL_FAULT_COUNT && atomic_load(&faults[k].fired);
}

/* Counts a call of kind k; returns true (and the error to return in *err) when
 * it is the armed one. Calls inside the kit's own code are neither counted nor
 * failed. Never blocks. */
static bool fault_now(enum tl_fault k, int *err)
{
    if (kit_depth > 0)
        return false;
    long n = atomic_fetch_add_explicit(&faults[k].calls, 1, memory_order_relaxed) + 1;
    long target = atomic_load_explicit(&faults[k].target, memory_order_acquire);
    bool no = false;
    if (target == 0 || n != target ||
        !atomic_compare_exchange_strong(&faults[k].fired, &no, true))
        return false;
    BUMP(faults_injected);
    *err = atomic_load_explicit(&faults[k].err, memory_order_relaxed);
    return true;
}

/* ------------------------------------------------------- spurious wake-ups */

/* How often the chaos pass wakes a condition wait without a signal, per 1000
 * waits. One in four: an `if` around a wait then meets a wake-up with its
 * predicate still false within a few waits (a test makes dozens), while a
 * `while` loop only waits again - each injected wake-up costs a sleep of
 * 20-100 us, and a waiter that rolls again is woken again with chance 1/4,
 * so the waits of a correct solution grow by a third at most. */
#define TL_SPURIOUS_CHAOS 250

static atomic_int spurious_permille = -1; /* -1: never set, the chaos pass decides */
static _Thread_local uint64_t spurious_rng;
static _Thread_local const pthread_cond_t *spurious_cond; /* woken spuriously last */
static _Thread_local long spurious_seq;                    /* my_calls right after */

void tl_spurious_set(int permille)
{
    atomic_store(&spurious_permille, permille < 0 ? 0 : permille > 1000 ? 1000 : permille);
}

/* Whether this wait should return without a signal; seeded like chaos() so a
 * chaos seed replays the same wake-ups. Never blocks. */
static bool spurious_roll(void)
{
    int p = atomic_load_explicit(&spurious_permille, memory_order_relaxed);
    int on = chaos_on(); /* also makes chaos_seed readable */
    if (p < 0)
        p = on ? TL_SPURIOUS_CHAOS : 0;
    if (p == 0)
        return false;
    if (spurious_rng == 0)
        spurious_rng = ((on ? chaos_seed : 0x5EEDull) ^ 0xD1B54A32D192ED03ull) * 0x9E3779B97F4A7C15ull +
                       (uint64_t)(me() + 1) * 0xBF58476D1CE4E5B9ull + 1;
    spurious_rng ^= spurious_rng << 13;
    spurious_rng ^= spurious_rng >> 7;
    spurious_rng ^= spurious_rng << 17;
    return (int)((spurious_rng >> 16) % 1000) < p;
}

/* A wait that returns without a signal, as POSIX allows: releases m (the real
 * unlock), lets others run for 20-100 us, takes m again (the real lock; while
 * it waits for m, slot s shows TL_ST_LOCK on m, as in the lock wrapper).
 * Returns 0, or the error of the unlock (the caller did not hold m). */
static int spurious_wait(int s, pthread_mutex_t *m, void *where)
{
    int rc = __real_pthread_mutex_unlock(m);
    if (rc != 0)
        return rc;
    struct timespec ts = {0, 20000 + (long)((spurious_rng >> 24) % 80000)};
    __real_nanosleep(&ts, NULL);
#ifndef __SANITIZE_THREAD__ /* a trylock first would hide the acquisition from TSan */
    rc = __real_pthread_mutex_trylock(m);
    if (rc != EBUSY)
        return rc;
#endif
    set_state(s, TL_ST_LOCK, m, NULL, where);
    return __real_pthread_mutex_lock(m);
}

static long long thread_cpu_ns(int tid);
static long long ts_ns(const struct timespec *t);

/* --------------------------------------------- the scheduler (TL_SCHED_SEED)
 * With TL_SCHED_SEED=N set, exactly one of the program's threads runs at a
 * time: the one holding the baton (S.cur). At every wrapped synchronization
 * call the holder asks the scheduler who goes next, and a thread that would
 * block (a lock that is taken, a condition wait, a join, a sleep) is parked
 * here instead, on a condition variable of the kit's own, until the scheduler
 * wakes it. The wrappers model the learner's objects with the real ones used
 * only through calls that never block (trylock): a lock that is taken parks
 * the caller on the mutex, and every unlock makes those waiters runnable to
 * try again; signal and broadcast make condition waiters runnable (which one,
 * for signal, is the scheduler's seeded choice); a thread's exit makes its
 * joiners runnable.
 *
 * DESIGN: the schedule is a function of the seed. Every choice (who runs, which
 * waiter a signal wakes, a spurious wake-up) comes from one PRNG, consulted only
 * by the baton holder, so the same seed and the same test inputs give the same
 * interleaving of synchronization calls and the same result. Time is virtual:
 * clock_gettime on the wall and monotonic clocks reads a clock that moves 1 us
 * per step and per read, 20 us per sched_yield, and jumps when every thread is
 * blocked and some wait has a deadline (a timed wait, a sleep, a nap in
 * poll()): then the earliest deadline comes, as if the others had been slow. So timed waits and sleeps are exact
 * and cost no real time. Two strategies share the seed: odd seeds use PCT
 * (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS 2010: random distinct
 * thread priorities, the highest runnable one runs, and at PCT_DEPTH - 1
 * random steps the running thread drops to the lowest priority), even seeds a
 * random walk (at each point another runnable thread is picked one time in
 * four). A yield, a nap or a sleep lets every other runnable thread run first.
 *
 * When no thread can run and none waits with a deadline, nobody is left to
 * wake anyone: the scheduler writes the wait-for table at once, as the
 * watchdog would after its timeout, and ends the test. A thread that runs on
 * without any wrapped call while others could run (a spin on a plain or atomic
 * variable) would keep the baton for ever: a monitor thread of the kit's own
 * sees the holder burn SCHED_SLICE_NS of CPU time without a step and reports
 * it as busy waiting (such a verdict depends on timing: not replayable).
 *
 * Limits: plain memory accesses and C11 atomics are not switch points (data
 * races stay ThreadSanitizer's job); barriers are waited for outside the
 * schedule (not replayable); poll() on file descriptors, and every blocking
 * call not in wrapped.def, block holding the baton.
 *
 * Lock order: S.mu is a leaf, taken only here, never while calling the
 * learner's code or a learner-visible lock. */

#define SCHED_MAX 512
#define PCT_DEPTH 3                      /* d: bugs of depth <= d found with chance >= 1/(n k^(d-1)) */
#define PCT_HORIZON 2000                 /* k: the steps change points are drawn from */
#define SCHED_SLICE_NS 500000000LL       /* CPU a holder may use without a step before it is busy-waiting */
#define SCHED_FAIR_STEPS 5000            /* steps a runnable thread may wait before it runs */
#define SCHED_STEP_NS 1000               /* virtual time a step takes (a clock read too) */
#define SCHED_YIELD_NS 20000             /* virtual time a sched_yield gives away */
#define SCHED_IDLE_NAPS 1000             /* naps in a row, no other call, before yields speed up */
#define SCHED_IDLE_MAX_NS 10000000LL     /* the most virtual time one such yield gives away */
#define SCHED_TEST_STEPS 1500000UL       /* steps a test may take (the solutions' most: ~250k) */
#define SCHED_BACKSTOP TL_SCHED_BACKSTOP /* the real watchdog fires at this many times the virtual
                                            limit (the sched pass's timeout multiplier is 4 x 2) */

enum { SW_NONE, SW_WOKEN, SW_TIMEOUT, SW_SPURIOUS };        /* why a park ended */
enum { SK_FREE, SK_RUN, SK_PARKED, SK_OUTSIDE, SK_DONE };   /* a thread's place in the schedule */
enum { SWHY_SEM = 100, SWHY_NAP };                          /* parks that are no tl_state */

struct sthread {
    int st;             /* SK_* */
    int why;            /* parked: TL_ST_LOCK, TL_ST_COND, TL_ST_TIMED, TL_ST_JOIN, TL_ST_SLEEP,
                           TL_ST_RDLOCK, TL_ST_WRLOCK, SWHY_SEM, SWHY_NAP */
    const void *obj;    /* what it waits for; a join waits for (void *)(sid + 1) */
    long long wake;     /* parked with a deadline: virtual ns; -1: none */
    int woke;           /* SW_*: why the last park ended */
    int prio;           /* PCT: the highest runnable priority runs */
    unsigned long ready; /* the step it last ran or became runnable at */
    int tid;            /* kernel thread id, for the busy-wait monitor */
    int joined;         /* pthread_join returned for it (its pthread_t may be reused) */
    uintptr_t self;     /* pthread_t */
    pthread_cond_t turn; /* where it waits for the baton */
};

static struct {
    pthread_mutex_t mu;
    uint64_t seed, rng;
    int pct;                     /* 1: PCT, 0: random walk */
    int n;                       /* threads registered so far */
    int cur;                     /* the baton holder; -1: nobody yet */
    int outside;                 /* threads waiting outside the schedule (barriers) */
    long long vt;                /* virtual ns since the schedule began */
    long long base_real, base_mono;
    unsigned long steps;         /* decisions made */
    unsigned long idle;          /* naps in a row with no other switch point (sched_nap) */
    uint64_t trail;              /* a hash of every decision: same seed, same trail */
    unsigned long change[PCT_DEPTH];
    int low;                     /* the next lowest priority to hand out */
    int high;                    /* the last highest one handed out (a starved thread's) */
    unsigned long mon_steps;     /* the monitor's last look: steps, holder, its CPU time */
    int mon_cur;
    long long mon_cpu;
    bool monitor;                /* the busy-wait monitor runs in this process */
    bool replayable;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .cur = -1, .high = 1000000 + PCT_DEPTH, .replayable = true};
static struct sthread SC[SCHED_MAX];
static _Thread_local int my_sid = -1;
static atomic_int sched_state; /* 0 unknown, 1 off, 2 on */
static pthread_once_t sched_once = PTHREAD_ONCE_INIT;

/* Where the test's watchdog writes (tl_watchdog_arm): the scheduler's own
 * verdicts go to the same place, in the same words. */
static struct {
    atomic_int armed, fd, code;
    char tag[64];
    long long budget_vt;         /* sched: the test's time limit, in virtual ns (S.mu) */
    unsigned long budget_steps;  /* and in steps */
} W;

static long long real_ns(clockid_t clk)
{
    struct timespec t;
    __real_clock_gettime(clk, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static uint64_t sched_rand(void)
{
    S.rng ^= S.rng << 13;
    S.rng ^= S.rng >> 7;
    S.rng ^= S.rng << 17;
    return S.rng;
}

/* After fork only the forking thread lives on: it starts a schedule of its own. */
static void sched_after_fork(void)
{
    pthread_mutex_init(&S.mu, NULL);
    memset(SC, 0, sizeof SC);
    S.n = 0;
    S.cur = -1;
    S.outside = 0;
    S.monitor = false;
    my_sid = -1;
}

/* Set by the one thread that gives the scheduler's verdict, which holds S.mu
 * until it exits: the trace it flushes then reads the clock without taking it. */
static _Thread_local bool sched_mu_mine;

/* The virtual clock for the tracer (kit/trace/trace.h): read without moving
 * it, so a traced run keeps the schedule of an untraced one. -1 when off. */
int tl_sched_clock(clockid_t clk, struct timespec *t);
int tl_sched_clock(clockid_t clk, struct timespec *t)
{
    if (!tl_sched_active() || clk == CLOCK_THREAD_CPUTIME_ID || clk == CLOCK_PROCESS_CPUTIME_ID)
        return -1;
    if (!sched_mu_mine)
        __real_pthread_mutex_lock(&S.mu);
    long long v = (clk == CLOCK_REALTIME ? S.base_real : S.base_mono) + S.vt;
    if (!sched_mu_mine)
        __real_pthread_mutex_unlock(&S.mu);
    t->tv_sec = (time_t)(v / 1000000000LL);
    t->tv_nsec = (long)(v % 1000000000LL);
    return 0;
}

static void sched_stats(void)
{
    if (getenv("TL_SCHED_STATS") != NULL)
        fprintf(stderr, "threadlab: schedule of pid %d: %lu steps, %lld virtual ms, trail %016llx\n",
                (int)getpid(), S.steps, S.vt / 1000000, (unsigned long long)S.trail);
}

static void sched_init(void)
{
    const char *e = getenv("TL_SCHED_SEED");
    uint64_t seed = e != NULL ? strtoull(e, NULL, 10) : 0;
    if (seed == 0) {
        atomic_store(&sched_state, 1);
        return;
    }
    S.seed = seed;
    S.rng = seed * 0x9E3779B97F4A7C15ull ^ 0xD1B54A32D192ED03ull;
    if (S.rng == 0)
        S.rng = 1;
    S.pct = (int)(seed & 1);
    for (int i = 0; i < PCT_DEPTH - 1; i++)
        S.change[i] = 1 + sched_rand() % PCT_HORIZON;
    S.base_real = real_ns(CLOCK_REALTIME);
    S.base_mono = real_ns(CLOCK_MONOTONIC);
    pthread_atfork(NULL, NULL, sched_after_fork);
    atexit(sched_stats);
    atomic_store(&sched_state, 2);
}

/* A test begins: its schedule is a function of the seed and the test's name
 * alone, the same whether it runs alone or after others. */
void tl_sched_begin(const char *test)
{
    if (!tl_sched_active())
        return;
    __real_pthread_mutex_lock(&S.mu);
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *c = test; *c != '\0'; c++)
        h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
    S.rng = (S.seed * 0x9E3779B97F4A7C15ull) ^ h;
    if (S.rng == 0)
        S.rng = 1;
    for (int i = 0; i < PCT_DEPTH - 1; i++)
        S.change[i] = S.steps + 1 + sched_rand() % PCT_HORIZON;
    for (int i = 0; i < S.n; i++)
        if (SC[i].st != SK_FREE)
            SC[i].prio = (int)(sched_rand() % 1000000) + PCT_DEPTH;
    S.trail = 0;
    S.idle = 0;
    __real_pthread_mutex_unlock(&S.mu);
}

bool tl_sched_active(void)
{
    int s = atomic_load_explicit(&sched_state, memory_order_acquire);
    if (s == 0) {
        pthread_once(&sched_once, sched_init);
        s = atomic_load_explicit(&sched_state, memory_order_acquire);
    }
    return s == 2;
}

/* Waits (S.mu held) until the caller holds the baton. */
static void wait_turn(int sid)
{
    while (S.cur != sid)
        __real_pthread_cond_wait(&SC[sid].turn, &S.mu);
}

static void *sched_monitor(void *);

/* The calling thread's id in the schedule, registering it (S.mu held): a
 * thread the wrappers did not start (main) joins as runnable, and waits for
 * the baton unless nobody holds it. */
static int sched_me(void)
{
    if (my_sid >= 0)
        return my_sid;
    if (S.n >= SCHED_MAX)
        return -1;
    int sid = S.n++;
    struct sthread *t = &SC[sid];
    memset(t, 0, sizeof *t);
    t->turn = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    t->st = SK_RUN;
    t->wake = -1;
    t->ready = S.steps;
    t->prio = (int)(sched_rand() % 1000000) + PCT_DEPTH;
    t->tid = gettid();
    t->self = (uintptr_t)pthread_self();
    my_sid = sid;
    if (S.cur < 0)
        S.cur = sid;
    wait_turn(sid);
    return sid;
}

/* Registers a thread about to be created (S.mu held); its creator keeps the baton. */
static int sched_new(void)
{
    if (S.n >= SCHED_MAX)
        return -1;
    int sid = S.n++;
    struct sthread *t = &SC[sid];
    memset(t, 0, sizeof *t);
    t->turn = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    t->st = SK_RUN;
    t->wake = -1;
    t->ready = S.steps;
    t->prio = (int)(sched_rand() % 1000000) + PCT_DEPTH;
    if (!S.monitor) {
        S.monitor = true;
        pthread_attr_t a;
        pthread_t m;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        __real_pthread_create(&m, &a, sched_monitor, NULL);
        pthread_attr_destroy(&a);
    }
    return sid;
}

/* Makes parked thread i runnable, its park ended for reason w (S.mu held). */
static void unpark(int i, int w)
{
    SC[i].st = SK_RUN;
    SC[i].ready = S.steps;
    SC[i].woke = w;
    SC[i].wake = -1;
}

static bool parked_on(int i, const void *obj, int why1, int why2)
{
    return SC[i].st == SK_PARKED && SC[i].obj == obj && (SC[i].why == why1 || SC[i].why == why2);
}

/* Makes runnable every thread parked on obj for why1 or why2 (all), or one of
 * them chosen by the seed; returns how many (S.mu held). */
static int sched_wake(const void *obj, int why1, int why2, bool all)
{
    int n = 0;
    for (int i = 0; i < S.n; i++)
        n += parked_on(i, obj, why1, why2);
    if (n == 0)
        return 0;
    int pick = all ? -1 : (int)(sched_rand() % (uint64_t)n), k = 0;
    for (int i = 0; i < S.n; i++)
        if (parked_on(i, obj, why1, why2) && (all || k++ == pick))
            unpark(i, SW_WOKEN);
    return all ? n : 1;
}

/* The scheduler's verdict when no thread can ever run again: the wait-for
 * table, where the test's watchdog would write it, then the watchdog's exit. */
static _Noreturn void sched_stuck(const char *why)
{
    int fd = atomic_load(&W.armed) ? atomic_load(&W.fd) : 2;
    char line[200];
    int n = snprintf(line, sizeof line,
                     "threadlab: the scheduler (TL_SCHED_SEED=%llu, step %lu) %s\n",
                     (unsigned long long)S.seed, S.steps, why);
    if (write(2, line, (size_t)n) < 0)
        _exit(TL_EXIT_WATCHDOG);
    tl_waitfor_dump(fd, atomic_load(&W.armed) ? W.tag : "sched");
    n = snprintf(line, sizeof line, "%s %s END\n", tl_tag_name[TL_TAG_HANG],
                 atomic_load(&W.armed) ? W.tag : "sched");
    if (write(fd, line, (size_t)n) < 0)
        _exit(TL_EXIT_WATCHDOG);
    sched_mu_mine = true; /* S.mu is held: the flush must not take it again */
    tl_trace_flush();     /* every other thread is parked: the buffers are still */
    _exit(atomic_load(&W.armed) ? atomic_load(&W.code) : TL_EXIT_WATCHDOG);
}

/* Every park whose deadline has come ends in a timeout (S.mu held). */
static void sched_expire(void)
{
    for (int i = 0; i < S.n; i++)
        if (SC[i].st == SK_PARKED && SC[i].wake >= 0 && SC[i].wake <= S.vt)
            unpark(i, SW_TIMEOUT);
}

/* The next thread to run after a step of thread `me` (which may be parked),
 * S.mu held. Deadlines come as the steps pass; when none is runnable, time
 * moves on to the earliest deadline;
 * when there is none, the threads are stuck for good (a verdict, no return),
 * unless some wait outside the schedule: then -1. */
static int sched_pick(int me)
{
    S.steps++;
    S.vt += SCHED_STEP_NS;
    /* The test's time limit, counted in the schedule's own time: a test that
     * loops for ever (a livelock, a wait that never ends) is stopped at the
     * same step on every run, whatever the machine's load. */
    if (W.budget_steps != 0 && (S.steps > W.budget_steps || S.vt > W.budget_vt))
        sched_stuck(S.steps > W.budget_steps
                        ? "stopped the test after its budget of steps: it never finished"
                        : "stopped the test at its time limit, in virtual time: it never finished");
    sched_expire(); /* time passes with the steps, busy or not */
    for (int i = 0; i < PCT_DEPTH - 1; i++)
        if (S.pct && S.steps == S.change[i] && me >= 0 && SC[me].st == SK_RUN)
            SC[me].prio = S.low--;
    for (;;) {
        int runnable[SCHED_MAX], nr = 0, best = -1;
        for (int i = 0; i < S.n; i++)
            if (SC[i].st == SK_RUN) {
                runnable[nr++] = i;
                if (best < 0 || SC[i].prio > SC[best].prio)
                    best = i;
            }
        if (nr > 0) {
            int next;
            if (S.pct)
                next = best;
            else if (me >= 0 && SC[me].st == SK_RUN && sched_rand() % 4 != 0)
                next = me;
            else
                next = runnable[sched_rand() % (uint64_t)nr];
            /* No runnable thread waits for ever (a trylock loop under PCT, or
             * a watcher thread that polls a lock, would starve the rest): the
             * one that waited longest, past SCHED_FAIR_STEPS, runs now, and
             * under PCT keeps the highest priority so far. */
            int old = runnable[0];
            for (int k = 1; k < nr; k++)
                if (SC[runnable[k]].ready < SC[old].ready)
                    old = runnable[k];
            if (S.steps - SC[old].ready > SCHED_FAIR_STEPS) {
                next = old;
                if (S.pct)
                    SC[next].prio = ++S.high;
            }
            SC[next].ready = S.steps;
            S.trail = (S.trail ^ (uint64_t)(next + 1)) * 0x100000001b3ull;
            return next;
        }
        long long soonest = -1;
        for (int i = 0; i < S.n; i++)
            if (SC[i].st == SK_PARKED && SC[i].wake >= 0 && (soonest < 0 || SC[i].wake < soonest))
                soonest = SC[i].wake;
        if (soonest < 0) {
            if (S.outside > 0)
                return -1;
            sched_stuck("found every thread blocked, with no one left to wake them");
        }
        if (soonest > S.vt)
            S.vt = soonest;
        sched_expire();
    }
}

/* Hands the baton from me to next and waits until it comes back (S.mu held). */
static void sched_switch(int me, int next)
{
    if (next != me) {
        S.cur = next;
        if (next >= 0)
            __real_pthread_cond_signal(&SC[next].turn);
    }
    if (me >= 0)
        wait_turn(me);
}

/* A switch point: the scheduler may let another thread run first. A call
 * the learner's code makes (progress) ends a run of idle naps. */
static void sched_point_of(bool progress)
{
    if (!tl_sched_active())
        return;
    __real_pthread_mutex_lock(&S.mu);
    if (progress)
        S.idle = 0;
    int me = sched_me();
    if (me >= 0 && SC[me].st == SK_RUN)
        sched_switch(me, sched_pick(me));
    __real_pthread_mutex_unlock(&S.mu);
}

static void sched_point(void)
{
    sched_point_of(true);
}

/* Parks the caller on obj (for why, until virtual time `wake`, -1: none) and
 * returns why it was woken (SW_*), holding the baton again. */
static int park_locked(int why, const void *obj, long long wake)
{
    int me = sched_me();
    if (me < 0 || SC[me].st != SK_RUN)
        return SW_WOKEN;
    SC[me].st = SK_PARKED;
    SC[me].why = why;
    SC[me].obj = obj;
    SC[me].wake = wake;
    SC[me].woke = SW_NONE;
    sched_switch(me, sched_pick(me));
    return SC[me].woke;
}

static int sched_park(int why, const void *obj, long long wake)
{
    __real_pthread_mutex_lock(&S.mu);
    int w = park_locked(why, obj, wake);
    __real_pthread_mutex_unlock(&S.mu);
    return w;
}

/* Lets every other runnable thread run first, and virtual time pass by ns.
 * When every thread has only yielded or napped for SCHED_IDLE_NAPS in a row
 * (threads spinning on a flag nobody will set), each further yield gives away
 * more virtual time, up to SCHED_IDLE_MAX_NS: a spin that never ends reaches
 * the test's time limit in thousands of steps, not millions, and still at the
 * same step on every run. A sleep keeps its exact length. */
static void sched_nap(long long ns)
{
    __real_pthread_mutex_lock(&S.mu);
    long long d = SCHED_YIELD_NS;
    if (++S.idle > SCHED_IDLE_NAPS) {
        unsigned long k = S.idle - SCHED_IDLE_NAPS;
        d = k >= SCHED_IDLE_MAX_NS / SCHED_YIELD_NS ? SCHED_IDLE_MAX_NS
                                                    : SCHED_YIELD_NS * (long long)(1 + k);
    }
    park_locked(SWHY_NAP, NULL, S.vt + (ns > d ? ns : d));
    __real_pthread_mutex_unlock(&S.mu);
}

/* The schedule's id of thread t, not yet joined; -1 if unknown. */
static int sched_sid_of(pthread_t t)
{
    for (int i = S.n - 1; i >= 0; i--)
        if (SC[i].self == (uintptr_t)t && !SC[i].joined && SC[i].st != SK_FREE)
            return i;
    return -1;
}

/* Parks the caller until thread t has exited (its joiners are woken then). */
static void sched_join(pthread_t t)
{
    __real_pthread_mutex_lock(&S.mu);
    sched_me();
    int ts = sched_sid_of(t);
    if (ts >= 0) {
        if (SC[ts].st != SK_DONE)
            park_locked(TL_ST_JOIN, (void *)(uintptr_t)(ts + 1), -1);
        SC[ts].joined = 1;
    }
    __real_pthread_mutex_unlock(&S.mu);
}

/* Makes runnable the threads parked on obj for why1 or why2 (all, or one of
 * them), then offers a switch: an unlock, a post, a signal. */
static void sched_wake_point(const void *obj, int why1, int why2, bool all)
{
    __real_pthread_mutex_lock(&S.mu);
    int me = sched_me();
    sched_wake(obj, why1, why2, all);
    if (me >= 0 && SC[me].st == SK_RUN)
        sched_switch(me, sched_pick(me));
    __real_pthread_mutex_unlock(&S.mu);
}

/* Takes a learner's lock the scheduler's way: try, and while it is taken park
 * on it (shown as `state` on obj in the wait-for table) until an unlock. */
static int sched_take(int s, int state, void *obj, void *where, int (*try)(void *))
{
    int rc, contended = 0;
    while ((rc = try(obj)) == EBUSY) {
        if (!contended++ && state == TL_ST_LOCK)
            BUMP(mutex_contended);
        set_state(s, state, obj, NULL, where);
        sched_park(state, obj, -1);
        /* Woken: runnable again (a wait-for table shows it running, not waiting). */
        set_state(s, TL_ST_RUN, NULL, NULL, NULL);
    }
    return rc;
}

/* Runs fn(arg) outside the schedule (a call that may block for real and be
 * ended by another thread, as a barrier is): the baton goes on meanwhile, and
 * comes back after. The run is no longer replayable. */
static int sched_outside(int (*fn)(void *), void *arg)
{
    __real_pthread_mutex_lock(&S.mu);
    int me = sched_me();
    if (me < 0 || SC[me].st != SK_RUN) {
        __real_pthread_mutex_unlock(&S.mu);
        return fn(arg);
    }
    S.replayable = false;
    SC[me].st = SK_OUTSIDE;
    S.outside++;
    int next = sched_pick(me);
    S.cur = next;
    if (next >= 0)
        __real_pthread_cond_signal(&SC[next].turn);
    __real_pthread_mutex_unlock(&S.mu);
    int rc = fn(arg);
    __real_pthread_mutex_lock(&S.mu);
    S.outside--;
    SC[me].st = SK_RUN;
    if (S.cur < 0)
        S.cur = me;
    wait_turn(me);
    __real_pthread_mutex_unlock(&S.mu);
    return rc;
}

/* The calling thread is done: its joiners may run, the baton goes on. */
static void sched_exit(void)
{
    if (!tl_sched_active() || my_sid < 0)
        return;
    __real_pthread_mutex_lock(&S.mu);
    int me = my_sid;
    if (SC[me].st == SK_RUN) {
        SC[me].st = SK_DONE;
        sched_wake((void *)(uintptr_t)(me + 1), TL_ST_JOIN, TL_ST_JOIN, true);
        bool others = false;
        for (int i = 0; i < S.n; i++)
            others |= SC[i].st == SK_PARKED || SC[i].st == SK_RUN || SC[i].st == SK_OUTSIDE;
        if (others)
            sched_switch(-1, sched_pick(-1));
        else
            S.cur = -1;
    }
    __real_pthread_mutex_unlock(&S.mu);
}


/* True when the caller holds the baton and every other thread of the
 * schedule is parked for good: with no deadline, or one after horizon (ns on
 * the virtual monotonic clock; 0: none). The scheduler's own view, exact
 * (a woken thread that has not run yet still shows its wait in the slots);
 * a thread outside the schedule (the watchdog) cannot know: false. */
static bool sched_others_parked(long long horizon)
{
    __real_pthread_mutex_lock(&S.mu);
    bool all = my_sid >= 0 && S.cur == my_sid && S.outside == 0;
    for (int i = 0; all && i < S.n; i++) {
        if (i == my_sid)
            continue;
        if (SC[i].st == SK_RUN || SC[i].st == SK_OUTSIDE)
            all = false;
        else if (SC[i].st == SK_PARKED && SC[i].wake >= 0 &&
                 (horizon == 0 || SC[i].wake <= horizon - S.base_mono))
            all = false;
    }
    __real_pthread_mutex_unlock(&S.mu);
    return all;
}

/* Virtual now on clock clk, in ns of that clock; moves 1 us per read by the
 * baton holder (a thread outside the schedule reads without moving it: the
 * schedule stays a function of the seed). */
static long long sched_now(clockid_t clk, bool tick)
{
    __real_pthread_mutex_lock(&S.mu);
    if (tick && my_sid >= 0 && S.cur == my_sid)
        S.vt += SCHED_STEP_NS;
    long long v = S.vt;
    __real_pthread_mutex_unlock(&S.mu);
    return (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE ? S.base_real : S.base_mono) + v;
}

/* The virtual deadline of a wait until abs on clock clk (a condition variable's
 * clock is not known here: abs is read on both, and the nearer future wins, as
 * in wake_at()). */
static long long sched_deadline(clockid_t clk, const struct timespec *abs)
{
    long long a = ts_ns(abs), now = S.vt, best = -1;
    long long bases[2] = {clk == CLOCK_REALTIME ? S.base_real : S.base_mono,
                          clk == CLOCK_REALTIME ? S.base_mono : S.base_real};
    for (int i = 0; i < 2; i++) {
        long long left = a - (bases[i] + now);
        if (left >= 0 && (best < 0 || left < best))
            best = left;
    }
    return best < 0 ? now : now + best;
}

/* The busy-wait monitor: a holder that used SCHED_SLICE_NS of CPU without a
 * step, while another thread could run, spins: say so and end the test. */
static void *sched_monitor(void *p)
{
    (void)p;
    for (;;) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        __real_nanosleep(&ts, NULL);
        __real_pthread_mutex_lock(&S.mu);
        int cur = S.cur;
        if (cur < 0 || S.steps != S.mon_steps || cur != S.mon_cur) {
            S.mon_steps = S.steps;
            S.mon_cur = cur;
            S.mon_cpu = cur >= 0 ? thread_cpu_ns(SC[cur].tid) : -1;
            __real_pthread_mutex_unlock(&S.mu);
            continue;
        }
        long long cpu = thread_cpu_ns(SC[cur].tid);
        bool others = false;
        for (int i = 0; i < S.n; i++)
            others |= i != cur && (SC[i].st == SK_RUN || (SC[i].st == SK_PARKED && SC[i].wake >= 0));
        if (S.mon_cpu >= 0 && cpu - S.mon_cpu > SCHED_SLICE_NS && others && SC[cur].st == SK_RUN) {
            int slot = -1;
            for (int i = 0; i < NSLOTS; i++)
                if (atomic_load(&slots[i].used) == 1 && atomic_load(&slots[i].tid) == SC[cur].tid)
                    slot = i;
            if (slot >= 0)
                atomic_store(&slots[slot].state, TL_ST_SPIN);
            sched_stuck("saw a thread run for half a second of CPU without one pthread call, "
                        "while other threads waited for their turn: busy waiting (a verdict "
                        "that depends on timing: not replayable)");
        }
        __real_pthread_mutex_unlock(&S.mu);
    }
    return NULL;
}

/* ---------------------------------------------------------------- threads */

struct start {
    void *(*fn)(void *);
    void *arg;
    uint64_t flow;
    int slot;
    int sid; /* its id in the schedule (the sched pass), -1 outside it */
    char name[64];
};

/* A new thread waits for its first turn before it runs anything (the sched pass). */
static void sched_enter(int sid)
{
    __real_pthread_mutex_lock(&S.mu);
    my_sid = sid;
    SC[sid].tid = gettid();
    SC[sid].self = (uintptr_t)pthread_self();
    wait_turn(sid);
    __real_pthread_mutex_unlock(&S.mu);
}

static void thread_done(void *p)
{
    (void)p;
    int s = my_slot;
    atomic_fetch_sub_explicit(&C.threads_running, 1, memory_order_relaxed);
    if (s < 0) {
        sched_exit();
        return;
    }
    atomic_store_explicit(&slots[s].exit_flow, tl_trace_flow_out("exit"), memory_order_relaxed);
    tl_trace_event('X', "exit", 0);
    set_state(s, TL_ST_DONE, NULL, NULL, NULL);
    if (atomic_load_explicit(&slots[s].detached, memory_order_acquire))
        slot_release(s);
    sched_exit();
}

static void *trampoline(void *p)
{
    struct start st = *(struct start *)p;
    __real_free(p);
    if (st.sid >= 0)
        sched_enter(st.sid);
    my_slot = st.slot;
    long now = atomic_fetch_add_explicit(&C.threads_running, 1, memory_order_relaxed) + 1;
    long peak = atomic_load_explicit(&C.threads_peak, memory_order_relaxed);
    while (now > peak && !atomic_compare_exchange_weak_explicit(&C.threads_peak, &peak, now,
                                                                memory_order_relaxed,
                                                                memory_order_relaxed))
        ;
    if (st.slot >= 0)
        atomic_store_explicit(&slots[st.slot].tid, gettid(), memory_order_relaxed);
    tl_trace_name_thread(st.name);
    tl_trace_event('T', "start", 0);
    tl_trace_flow_in("create", st.flow);
    void *ret;
    pthread_cleanup_push(thread_done, NULL);
    ret = st.fn(st.arg);
    pthread_cleanup_pop(1);
    return ret;
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg)
{
    chaos();
    sched_point();
    me();
    int err = 0;
    if (fault_now(TL_FAULT_CREATE, &err)) {
        note_call(me());
        return err;
    }
    struct start *st = __real_malloc(sizeof *st);
    if (st == NULL)
        return EAGAIN;
    st->fn = fn;
    st->arg = arg;
    long k = atomic_load_explicit(&C.threads_created, memory_order_relaxed) + 1;
    /* Name the lane after the thread function. A static function has no
     * dynamic symbol: record its offset ("fn@0x..."), which the timeline and
     * hang reports turn into a name with addr2line. */
    Dl_info info;
    if (dladdr((void *)(uintptr_t)fn, &info) && info.dli_sname != NULL)
        snprintf(st->name, sizeof st->name, "T%ld %s", k, info.dli_sname);
    else if (dladdr((void *)(uintptr_t)fn, &info) && info.dli_fbase != NULL)
        snprintf(st->name, sizeof st->name, "T%ld fn@%#lx", k,
                 (unsigned long)((uintptr_t)fn - (uintptr_t)info.dli_fbase));
    else
        snprintf(st->name, sizeof st->name, "T%ld thread", k);
    st->slot = slot_claim(st->name);
    if (st->slot < 0)
        atomic_store_explicit(&untracked_seen, 1, memory_order_relaxed);
    int detached = 0;
    if (attr != NULL)
        pthread_attr_getdetachstate(attr, &detached);
    if (st->slot >= 0)
        atomic_store_explicit(&slots[st->slot].detached, detached == PTHREAD_CREATE_DETACHED,
                              memory_order_relaxed);
    st->flow = tl_trace_flow_out("create");
    int slot = st->slot;
    st->sid = -1;
    if (tl_sched_active()) {
        __real_pthread_mutex_lock(&S.mu);
        sched_me();
        st->sid = sched_new();
        __real_pthread_mutex_unlock(&S.mu);
    }
    int sid = st->sid;
    pthread_t tid;
    int rc = __real_pthread_create(&tid, attr, trampoline, st);
    if (rc != 0) {
        if (sid >= 0)
            SC[sid].st = SK_DONE; /* the creator holds the baton: nobody else looks */
        slot_release(slot);
        __real_free(st);
        return rc;
    }
    if (slot >= 0)
        atomic_store_explicit(&slots[slot].self, (uintptr_t)tid, memory_order_relaxed);
    if (sid >= 0)
        SC[sid].self = (uintptr_t)tid;
    *t = tid;
    BUMP(threads_created);
    note_call(me());
    chaos();
    sched_point();
    return 0;
}

int __wrap_pthread_join(pthread_t t, void **ret)
{
    chaos();
    sched_point();
    int s = me();
    int target = slot_of_thread(t);
    set_state(s, TL_ST_JOIN, (void *)(uintptr_t)(target + 1), NULL, __builtin_return_address(0));
    tl_trace_event('W', "join", 0);
    /* Parked until the target exits; then the real join only waits for the
     * last steps of its exit, which need no baton. */
    if (tl_sched_active())
        sched_join(t);
    int rc = __real_pthread_join(t, ret);
    tl_trace_end();
    set_state(s, TL_ST_RUN, NULL, NULL, NULL);
    note_call(s);
    if (rc == 0) {
        BUMP(threads_joined);
        if (target >= 0) {
            tl_trace_flow_in("join", atomic_load_explicit(&slots[target].exit_flow,
                                                          memory_order_relaxed));
            slot_release(target);
        }
    }
    return rc;
}

int __wrap_pthread_detach(pthread_t t)
{
    int target = slot_of_thread(t);
    int rc = __real_pthread_detach(t);
    note_call(me());
    if (rc == 0) {
        BUMP(threads_detached);
        if (target >= 0) {
            atomic_store_explicit(&slots[target].detached, 1, memory_order_release);
            if (atomic_load_explicit(&slots[target].state, memory_order_acquire) == TL_ST_DONE)
                slot_release(target);
        }
    }
    return rc;
}

/* ---------------------------------------------------------------- mutexes */

int __wrap_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
    int rc = __real_pthread_mutex_init(m, a);
    if (rc == 0)
        note_init(m, INIT_MUTEX, __builtin_return_address(0));
    return rc;
}

int __wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
    int rc = __real_pthread_cond_init(c, a);
    if (rc == 0)
        note_init(c, INIT_COND, __builtin_return_address(0));
    return rc;
}

int __wrap_pthread_rwlock_init(pthread_rwlock_t *l, const pthread_rwlockattr_t *a)
{
    int rc = __real_pthread_rwlock_init(l, a);
    if (rc == 0)
        note_init(l, INIT_RWLOCK, __builtin_return_address(0));
    return rc;
}

static void locked(pthread_mutex_t *m, int s)
{
    BUMP(mutex_locks);
    set_owner(m, s);
}

static int try_mutex(void *m) { return __real_pthread_mutex_trylock(m); }

int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
    chaos();
    int s = me();
    if (tl_sched_active()) {
        sched_point();
        int rc = sched_take(s, TL_ST_LOCK, m, __builtin_return_address(0), try_mutex);
        set_state(s, TL_ST_RUN, NULL, NULL, NULL);
        note_call(s);
        if (rc == 0)
            locked(m, s);
        return rc;
    }
#ifdef __SANITIZE_THREAD__
    /* A trylock first would hide the acquisition from TSan's lock-order checker. */
    set_state(s, TL_ST_LOCK, m, NULL, __builtin_return_address(0));
    int rc = __real_pthread_mutex_lock(m);
#else
    int rc = __real_pthread_mutex_trylock(m);
    if (rc == EBUSY) {
        BUMP(mutex_contended);
        set_state(s, TL_ST_LOCK, m, NULL, __builtin_return_address(0));
        tl_trace_event('W', "lock", (uintptr_t)m);
        rc = __real_pthread_mutex_lock(m);
        tl_trace_end();
        struct objent *e = obj_ent(m);
        if (e != NULL)
            tl_trace_flow_in("unlock", atomic_load_explicit(&e->flow, memory_order_relaxed));
    }
#endif
    set_state(s, TL_ST_RUN, NULL, NULL, NULL);
    note_call(s);
    if (rc == 0)
        locked(m, s);
    return rc;
}

int __wrap_pthread_mutex_trylock(pthread_mutex_t *m)
{
    chaos();
    sched_point();
    int s = me();
    int rc = __real_pthread_mutex_trylock(m);
    note_call(s);
    NOTE(s, n_trylocks);
    if (rc == 0)
        locked(m, s);
    return rc;
}

int __wrap_pthread_mutex_unlock(pthread_mutex_t *m)
{
    note_call(me());
    struct objent *e = obj_ent(m);
    if (e != NULL) {
        atomic_store_explicit(&e->owner, -1, memory_order_relaxed);
        if (tl_trace_enabled())
            atomic_store_explicit(&e->flow, tl_trace_flow_out("unlock"), memory_order_relaxed);
    }
    int rc = __real_pthread_mutex_unlock(m);
    chaos();
    if (rc == 0 && tl_sched_active())
        sched_wake_point(m, TL_ST_LOCK, TL_ST_LOCK, true);
    return rc;
}

/* ------------------------------------------------------ condition variables */

static uint64_t cond_flow(const pthread_cond_t *c)
{
    struct objent *e = obj_ent(c);
    return e != NULL ? atomic_load_explicit(&e->flow, memory_order_relaxed) : 0;
}

/* Counts a wait begun on c, unless it is the one the thread makes again at
 * once after a spurious wake-up on c (no wrapped call in between): the
 * learner's loop then still counts as one wait. */
static void count_wait(const pthread_cond_t *c, int timed)
{
    bool again = spurious_cond == c && spurious_seq == my_calls;
    spurious_cond = NULL;
    if (again)
        return;
    if (timed)
        BUMP(cond_timedwaits);
    else
        BUMP(cond_waits);
}

static long long ts_ns(const struct timespec *t)
{
    return t == NULL ? 0 : (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

static long long clock_ns(clockid_t clk)
{
    struct timespec t;
    __real_clock_gettime(clk, &t);
    return ts_ns(&t);
}

static long long mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }

/* When a timed wait until abs ends, in CLOCK_MONOTONIC ns. The wrapper cannot
 * tell which clock the condition variable was set to, so it reads abs on both:
 * on the wrong one it lies decades away (a realtime date read as uptime) or in
 * the past (an uptime read as a date), and the nearer future one is right. */
static long long wake_at(clockid_t clk, const struct timespec *abs)
{
    long long now = mono_ns(), a = ts_ns(abs), best = -1;
    clockid_t clocks[2] = {clk, clk == CLOCK_REALTIME ? CLOCK_MONOTONIC : CLOCK_REALTIME};
    for (int i = 0; i < 2; i++) {
        long long left = a - clock_ns(clocks[i]);
        if (left >= 0 && (best < 0 || left < best))
            best = left;
    }
    return best < 0 ? now : now + best;
}

/* Shared by the three waits: bookkeeping around the real call `wait`, or
 * around a spurious wake-up instead of it (see tl_spurious_set()). */
static int sched_cond_wait(int s, pthread_cond_t *c, pthread_mutex_t *m, int timed, void *where,
                           clockid_t clk, const struct timespec *abs);

static int cond_wait_common(pthread_cond_t *c, pthread_mutex_t *m, int timed, void *where,
                            int (*wait)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
                                        const struct timespec *),
                            clockid_t clk, const struct timespec *abs)
{
    chaos();
    int s = me();
    count_wait(c, timed);
    if (tl_sched_active())
        return sched_cond_wait(s, c, m, timed, where, clk, abs);
    bool spurious = spurious_roll();
    uint64_t before = cond_flow(c);
    set_owner(m, -1);
    if (timed && s >= 0)
        atomic_store_explicit(&slots[s].wake_ns, abs != NULL ? wake_at(clk, abs) : mono_ns(),
                              memory_order_relaxed);
    set_state(s, timed ? TL_ST_TIMED : TL_ST_COND, c, m, where);
    tl_trace_event('W', timed ? "timedwait" : "wait", (uintptr_t)c);
    int rc = spurious ? spurious_wait(s, m, where) : wait(c, m, clk, abs);
    tl_trace_end();
    set_owner(m, s);
    set_state(s, TL_ST_RUN, NULL, NULL, NULL);
    note_call(s);
    if (rc == ETIMEDOUT) {
        BUMP(cond_timeouts);
        NOTE(s, n_timeouts);
    }
    if (spurious && rc == 0) {
        BUMP(cond_spurious);
        tl_trace_event('I', "spurious wake-up", (uintptr_t)c);
        spurious_cond = c;
        spurious_seq = my_calls;
        return 0;
    }
    uint64_t after = cond_flow(c);
    if (after != before)
        tl_trace_flow_in("wake", after);
    return rc;
}

/* A condition wait the scheduler's way (the sched pass): the real unlock,
 * parked on c until a signal, a broadcast, the deadline (virtual time) or a
 * spurious wake-up of the scheduler's choosing, then the lock taken again. */
static int sched_cond_wait(int s, pthread_cond_t *c, pthread_mutex_t *m, int timed, void *where,
                           clockid_t clk, const struct timespec *abs)
{
    if (timed && abs != NULL && (abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000L))
        return EINVAL;
    set_owner(m, -1);
    int rc = __real_pthread_mutex_unlock(m);
    if (rc != 0) {
        note_call(s);
        return rc;
    }
    long long wake = -1;
    if (timed) {
        __real_pthread_mutex_lock(&S.mu);
        wake = abs != NULL ? sched_deadline(clk, abs) : S.vt;
        __real_pthread_mutex_unlock(&S.mu);
        if (s >= 0)
            atomic_store_explicit(&slots[s].wake_ns, S.base_mono + wake, memory_order_relaxed);
    }
    uint64_t before = cond_flow(c);
    set_state(s, timed ? TL_ST_TIMED : TL_ST_COND, c, m, where);
    tl_trace_event('W', timed ? "timedwait" : "wait", (uintptr_t)c);
    __real_pthread_mutex_lock(&S.mu);
    sched_wake(m, TL_ST_LOCK, TL_ST_LOCK, true); /* the unlock above */
    /* A spurious wake-up is decided as the wait begins, as in the other
     * passes: the wait returns after the others had a turn, without parking.
     * (Waking a parked waiter later would rescue a lost wake-up and hide it.) */
    int p = atomic_load_explicit(&spurious_permille, memory_order_relaxed), w;
    if (p < 0)
        p = TL_SPURIOUS_CHAOS;
    int me = sched_me();
    if (p > 0 && me >= 0 && (int)(sched_rand() % 1000) < p) {
        sched_switch(me, sched_pick(me));
        w = SW_SPURIOUS;
    } else {
        w = park_locked(timed ? TL_ST_TIMED : TL_ST_COND, c, wake);
    }
    __real_pthread_mutex_unlock(&S.mu);
    tl_trace_end();
    rc = sched_take(s, TL_ST_LOCK, m, where, try_mutex);
    set_owner(m, s);
    set_state(s, TL_ST_RUN, NULL, NULL, NULL);
    note_call(s);
    if (w == SW_TIMEOUT) {
        BUMP(cond_timeouts);
        NOTE(s, n_timeouts);
        return rc != 0 ? rc : ETIMEDOUT;
    }
    if (w == SW_SPURIOUS) {
        BUMP(cond_spurious);
        tl_trace_event('I', "spurious wake-up", (uintptr_t)c);
        spurious_cond = c;
        spurious_seq = my_calls;
        return rc;
    }
    uint64_t after = cond_flow(c);
    if (after != before)
        tl_trace_flow_in("wake", after);
    return rc;
}

static int real_wait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
                     const struct timespec *abs)
{
    (void)clk;
    (void)abs;
    return __real_pthread_cond_wait(c, m);
}

static int real_timedwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
                          const struct timespec *abs)
{
    (void)clk;
    return __real_pthread_cond_timedwait(c, m, abs);
}

int __wrap_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    return cond_wait_common(c, m, 0, __builtin_return_address(0), real_wait, 0, NULL);
}

int __wrap_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                  const struct timespec *abs)
{
    return cond_wait_common(c, m, 1, __builtin_return_address(0), real_timedwait, CLOCK_REALTIME, abs);
}

int __wrap_pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
                                  const struct timespec *abs)
{
    return cond_wait_common(c, m, 1, __builtin_return_address(0),
                            __real_pthread_cond_clockwait, clk, abs);
}

static void cond_wake_flow(pthread_cond_t *c, const char *what)
{
    if (!tl_trace_enabled())
        return;
    struct objent *e = obj_ent(c);
    if (e != NULL)
        atomic_store_explicit(&e->flow, tl_trace_flow_out(what), memory_order_relaxed);
}

int __wrap_pthread_cond_signal(pthread_cond_t *c)
{
    chaos();
    sched_point();
    note_call(me());
    BUMP(cond_signals);
    cond_wake_flow(c, "signal");
    if (tl_sched_active()) {
        sched_wake_point(c, TL_ST_COND, TL_ST_TIMED, false);
        return 0;
    }
    return __real_pthread_cond_signal(c);
}

int __wrap_pthread_cond_broadcast(pthread_cond_t *c)
{
    chaos();
    sched_point();
    note_call(me());
    BUMP(cond_broadcasts);
    cond_wake_flow(c, "broadcast");
    if (tl_sched_active()) {
        sched_wake_point(c, TL_ST_COND, TL_ST_TIMED, true);
        return 0;
    }
    return __real_pthread_cond_broadcast(c);
}

/* ------------------------------------------------------ rwlocks, barriers */

static int try_rdlock(void *l) { return __real_pthread_rwlock_tryrdlock(l); }
static int try_wrlock(void *l) { return __real_pthread_rwlock_trywrlock(l); }

static int rw_common(pthread_rwlock_t *l, int write, void *where,
                     int (*take)(pthread_rwlock_t *), int (*try)(pthread_rwlock_t *))
{
    chaos();
    int s = me();
    if (tl_sched_active()) {
        sched_point();
        int rc = sched_take(s, write ? TL_ST_WRLOCK : TL_ST_RDLOCK, l, where,
                            write ? try_wrlock : try_rdlock);
        set_state(s, TL_ST_RUN, NULL, NULL, NULL);
        note_call(s);
        if (rc == 0) {
            if (write)
                BUMP(rwlock_writes);
            else
                BUMP(rwlock_reads);
        }
        return rc;
    }
    int rc = try(l);
    if (rc == EBUSY) {
        set_state(s, write ? TL_ST_WRLOCK : TL_ST_RDLOCK, l, NULL, where);
        if (tl_trace_enabled())
            (void)obj_ent(l); /* first sight names a static rwlock for the timeline */
        tl_trace_event('W', write ? "wrlock" : "rdlock", (uintptr_t)l);
        rc = take(l);
        tl_trace_end();
        set_state(s, TL_ST_RUN, NULL, NULL, NULL);
    }
    note_call(s);
    if (rc == 0) {
        if (write)
            BUMP(rwlock_writes);
        else
            BUMP(rwlock_reads);
    }
    return rc;
}

int __wrap_pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
    return rw_common(l, 0, __builtin_return_address(0), __real_pthread_rwlock_rdlock,
                     __real_pthread_rwlock_tryrdlock);
}

int __wrap_pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
    return rw_common(l, 1, __builtin_return_address(0), __real_pthread_rwlock_wrlock,
                     __real_pthread_rwlock_trywrlock);
}

int __wrap_pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
    sched_point();
    int rc = __real_pthread_rwlock_tryrdlock(l);
    int s = me();
    note_call(s);
    NOTE(s, n_trylocks);
    if (rc == 0)
        BUMP(rwlock_reads);
    return rc;
}

int __wrap_pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
    sched_point();
    int rc = __real_pthread_rwlock_trywrlock(l);
    int s = me();
    note_call(s);
    NOTE(s, n_trylocks);
    if (rc == 0)
        BUMP(rwlock_writes);
    return rc;
}

int __wrap_pthread_rwlock_unlock(pthread_rwlock_t *l)
{
    int rc = __real_pthread_rwlock_unlock(l);
    note_call(me());
    chaos();
    if (rc == 0 && tl_sched_active())
        sched_wake_point(l, TL_ST_RDLOCK, TL_ST_WRLOCK, true);
    return rc;
}

static int real_barrier_wait(void *b) { return __real_pthread_barrier_wait(b); }

int __wrap_pthread_barrier_wait(pthread_barrier_t *b)
{
    chaos();
    int s = me();
    set_state(s, TL_ST_BARRIER, b, NULL, __builtin_return_address(0));
    tl_trace_event('W', "barrier", (uintptr_t)b);
    int rc = tl_sched_active() ? sched_outside(real_barrier_wait, b) : __real_pthread_barrier_wait(b);
    tl_trace_end();
    set_state(s, TL_ST_RUN, NULL, NULL, NULL);
    note_call(s);
    return rc;
}

/* ---------------------------------------------------------------- sleeps */

/* When a sleep of `ns` nanoseconds from now ends, in CLOCK_MONOTONIC ns. */
static long long wake_after(long long ns)
{
    return mono_ns() + (ns > 0 ? ns : 0);
}

/* The sleeping thread's slot says when it wakes (wake, CLOCK_MONOTONIC ns),
 * so that tl_stuck() can tell a nap from an hour's sleep. */
#define SLEEP_AROUND(call, wake, vwake)                                          \
    int s = me();                                                                \
    BUMP(sleeps);                                                                \
    bool sched = tl_sched_active();                                              \
    long long vw = sched ? (vwake) : 0;                                          \
    if (s >= 0)                                                                  \
        atomic_store_explicit(&slots[s].wake_ns, sched ? S.base_mono + vw : (wake), \
                              memory_order_relaxed);                             \
    set_state(s, TL_ST_SLEEP, NULL, NULL, __builtin_return_address(0));             \
    tl_trace_event('W', "sleep", 0);                                             \
    __typeof__(call) rc = 0;                                                     \
    if (sched)                                                                   \
        sched_park(TL_ST_SLEEP, NULL, vw);                                       \
    else                                                                         \
        rc = call;                                                               \
    tl_trace_end();                                                              \
    set_state(s, TL_ST_RUN, NULL, NULL, NULL);                                      \
    note_call(s);                                                                \
    return rc

/* When a sleep of ns from now ends in the scheduler's virtual time. */
static long long sched_after(long long ns)
{
    __real_pthread_mutex_lock(&S.mu);
    long long v = S.vt + (ns > 0 ? ns : 0);
    __real_pthread_mutex_unlock(&S.mu);
    return v;
}

/* When an absolute sleep until abs on clk ends, in virtual time. */
static long long sched_abs(clockid_t clk, const struct timespec *abs)
{
    __real_pthread_mutex_lock(&S.mu);
    long long v = ts_ns(abs) - (clk == CLOCK_REALTIME ? S.base_real : S.base_mono);
    __real_pthread_mutex_unlock(&S.mu);
    return v > 0 ? v : 0;
}

unsigned int __wrap_sleep(unsigned int sec)
{
    SLEEP_AROUND(__real_sleep(sec), wake_after((long long)sec * 1000000000LL),
                 sched_after((long long)sec * 1000000000LL));
}
int __wrap_usleep(useconds_t us)
{
    SLEEP_AROUND(__real_usleep(us), wake_after((long long)us * 1000), sched_after((long long)us * 1000));
}
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
    SLEEP_AROUND(__real_nanosleep(req, rem), wake_after(ts_ns(req)), sched_after(ts_ns(req)));
}
int __wrap_clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
                           struct timespec *rem)
{
    SLEEP_AROUND(__real_clock_nanosleep(clk, flags, req, rem),
                 req == NULL ? mono_ns() : (flags & TIMER_ABSTIME) ? wake_at(clk, req) : wake_after(ts_ns(req)),
                 req == NULL ? sched_after(0) : (flags & TIMER_ABSTIME) ? sched_abs(clk, req) : sched_after(ts_ns(req)));
}


/* ---------------------------------------------------------------- yields */

int __wrap_sched_yield(void)
{
    int s = me();
    BUMP(yields);
    note_call(s);
    NOTE(s, n_yields);
    if (tl_sched_active()) {
        sched_nap(SCHED_YIELD_NS);
        return 0;
    }
    return __real_sched_yield();
}

/* ------------------------------------- time, and the waits tests make
 * Passed through untouched outside the sched pass: tests poll and wait on
 * semaphores precisely because these calls count nothing. Under the
 * scheduler, time is virtual and a wait must hand the baton on. */

int __wrap_clock_gettime(clockid_t clk, struct timespec *t)
{
    if (t == NULL || !tl_sched_active() ||
        (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME_COARSE &&
         clk != CLOCK_MONOTONIC_COARSE && clk != CLOCK_MONOTONIC_RAW && clk != CLOCK_BOOTTIME))
        return __real_clock_gettime(clk, t);
    long long v = sched_now(clk, true);
    t->tv_sec = (time_t)(v / 1000000000LL);
    t->tv_nsec = (long)(v % 1000000000LL);
    return 0;
}

/* While a thread with a slot waits in one of these, its slot says where from
 * (its state stays "running": they count nothing, and claim no slot), so that
 * a wait-for table shows a test's own bounded wait as that, not as a loop that
 * never ends. The body of such a wrapper: returns call's result, errno kept. */
#define RETURN_NOTING_WHERE(call)                                                   \
    do {                                                                            \
        int ws_ = my_slot;                                                          \
        if (ws_ >= 0)                                                               \
            atomic_store_explicit(&slots[ws_].where,                                \
                                  (uintptr_t)__builtin_return_address(0),           \
                                  memory_order_relaxed);                            \
        int rc_ = (call), e_ = errno;                                               \
        if (ws_ >= 0)                                                               \
            atomic_store_explicit(&slots[ws_].where, 0, memory_order_relaxed);      \
        errno = e_;                                                                 \
        return rc_;                                                                 \
    } while (0)

static int poll_as(struct pollfd *fds, nfds_t n, int ms)
{
    if (n != 0 || !tl_sched_active())
        return __real_poll(fds, n, ms);
    if (ms < 0)
        sched_park(SWHY_NAP, NULL, -1);
    else
        sched_nap((long long)ms * 1000000LL);
    return 0;
}

int __wrap_poll(struct pollfd *fds, nfds_t n, int ms)
{
    RETURN_NOTING_WHERE(poll_as(fds, n, ms));
}

static int sem_wait_as(sem_t *sem)
{
    if (!tl_sched_active())
        return __real_sem_wait(sem);
    sched_point_of(false); /* the tests' own waits: not the learner's progress */
    while (sem_trywait(sem) != 0) {
        if (errno != EAGAIN)
            return -1;
        sched_park(SWHY_SEM, sem, -1);
    }
    return 0;
}

int __wrap_sem_wait(sem_t *sem)
{
    RETURN_NOTING_WHERE(sem_wait_as(sem));
}

static int sem_timedwait_as(sem_t *sem, const struct timespec *abs)
{
    if (!tl_sched_active())
        return __real_sem_timedwait(sem, abs);
    sched_point_of(false); /* the tests' own waits: not the learner's progress */
    for (;;) {
        if (sem_trywait(sem) == 0)
            return 0;
        if (errno != EAGAIN)
            return -1;
        if (abs == NULL || abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000L) {
            errno = EINVAL;
            return -1;
        }
        if (sched_park(SWHY_SEM, sem, sched_abs(CLOCK_REALTIME, abs)) == SW_TIMEOUT && sem_trywait(sem) != 0) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
}

int __wrap_sem_timedwait(sem_t *sem, const struct timespec *abs)
{
    RETURN_NOTING_WHERE(sem_timedwait_as(sem, abs));
}

int __wrap_sem_post(sem_t *sem)
{
    int rc = __real_sem_post(sem);
    if (rc == 0 && tl_sched_active())
        sched_wake_point(sem, SWHY_SEM, SWHY_SEM, true);
    return rc;
}

/* ------------------------------------------------------------------ heap
 * Counted so that a test can check "nothing leaked" as a difference of
 * heap_allocs - heap_frees around a call, and failed on demand (TL_FAULT_MALLOC).
 * Memory that libc allocates itself (getline, asprintf, fopen) is not seen,
 * but freeing it is: such a free makes the difference smaller, never larger. */

/* Counts one allocation (when p is one and the kit is not the caller); returns p. */
static void *allocated(void *p)
{
    if (p != NULL && kit_depth == 0)
        BUMP(heap_allocs);
    return p;
}

/* Whether this allocation is the one to fail; sets errno as malloc would. */
static bool alloc_fails(void)
{
    int err;
    if (!fault_now(TL_FAULT_MALLOC, &err))
        return false;
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t n) { return alloc_fails() ? NULL : allocated(__real_malloc(n)); }

void *__wrap_calloc(size_t k, size_t n)
{
    return alloc_fails() ? NULL : allocated(__real_calloc(k, n));
}

/* realloc(NULL, n) counts as an allocation, realloc(p, 0) as a free, and a
 * move of p (p and n non-zero) as neither; an injected failure leaves p alone. */
void *__wrap_realloc(void *p, size_t n)
{
    if (p != NULL && n == 0) {
        if (kit_depth == 0)
            BUMP(heap_frees);
        return __real_realloc(p, 0);
    }
    if (alloc_fails())
        return NULL;
    void *q = __real_realloc(p, n);
    return p == NULL ? allocated(q) : q;
}

/* reallocarray counts as realloc does; glibc frees p when the product is 0. */
void *__wrap_reallocarray(void *p, size_t k, size_t n)
{
    if (p != NULL && (k == 0 || n == 0)) {
        if (kit_depth == 0)
            BUMP(heap_frees);
        return __real_reallocarray(p, k, n);
    }
    if (alloc_fails())
        return NULL;
    void *q = __real_reallocarray(p, k, n);
    return p == NULL ? allocated(q) : q;
}

/* The aligned allocations: padded per-thread data is the chapters' own advice. */
void *__wrap_aligned_alloc(size_t align, size_t n)
{
    return alloc_fails() ? NULL : allocated(__real_aligned_alloc(align, n));
}

int __wrap_posix_memalign(void **out, size_t align, size_t n)
{
    if (alloc_fails())
        return ENOMEM; /* *out untouched, as POSIX says */
    int rc = __real_posix_memalign(out, align, n);
    if (rc == 0)
        allocated(*out);
    return rc;
}

void __wrap_free(void *p)
{
    if (p != NULL && kit_depth == 0)
        BUMP(heap_frees);
    __real_free(p);
}

char *__wrap_strdup(const char *s) { return alloc_fails() ? NULL : allocated(__real_strdup(s)); }

char *__wrap_strndup(const char *s, size_t n)
{
    return alloc_fails() ? NULL : allocated(__real_strndup(s, n));
}

/* ------------------------------------------------- Check's own allocations
 * Every ck_assert of a test calls _mark_point (when it holds) or
 * _ck_assert_failed (when it fails); both allocate inside Check's static
 * library, whose references --wrap redirects too. Marked as the kit's own
 * here, they never count in heap_allocs/heap_frees and an armed
 * TL_FAULT_MALLOC never fires inside them. */

void __wrap__mark_point(const char *file, int line)
{
    kit_depth++;
    if (__real__mark_point != NULL)
        __real__mark_point(file, line);
    kit_depth--;
}

/* Formats the message here (a variadic call cannot be forwarded) and hands it
 * on; never returns (Check exits the test child, or longjmps in CK_FORK=no,
 * where tl_counts_reset() clears kit_depth for the next test). */
void __wrap__ck_assert_failed(const char *file, int line, const char *expr, const char *msg,
                              ...)
{
    char buf[4096];
    kit_depth++;
    if (msg != NULL) {
        va_list ap;
        va_start(ap, msg);
        vsnprintf(buf, sizeof buf, msg, ap);
        va_end(ap);
    }
    if (__real__ck_assert_failed != NULL)
        __real__ck_assert_failed(file, line, expr, msg != NULL ? "%s" : NULL, buf, NULL);
    abort();
}

/* ------------------------------------------------------------ who is blocked */

/* Whether state st counts for tl_blocked_count(want). */
static bool blocked_in(int st, enum tl_state want)
{
    if (want != TL_ST_COUNT)
        return st == (int)want;
    return st != TL_ST_FREE && st != TL_ST_RUN && st != TL_ST_DONE && st >= 0 && st < TL_ST_COUNT;
}

int tl_blocked_count(enum tl_state st)
{
    int n = 0;
    for (int i = 0; i < NSLOTS; i++)
        if (atomic_load_explicit(&slots[i].used, memory_order_acquire) == 1 &&
            blocked_in(atomic_load_explicit(&slots[i].state, memory_order_acquire), st))
            n++;
    return n;
}

/* Whether every tracked thread but `skip` (-1: none) is blocked with no
 * deadline, or waits or sleeps until horizon or later (CLOCK_MONOTONIC ns;
 * 0: none), and at least one is. */
static bool all_blocked_for_good(int skip, long long horizon)
{
    int n = 0;
    for (int i = 0; i < NSLOTS; i++) {
        int used = atomic_load_explicit(&slots[i].used, memory_order_acquire);
        if (used == 2)
            return false; /* being claimed: its creator is running */
        if (i == skip || used == 0)
            continue;
        switch (atomic_load_explicit(&slots[i].state, memory_order_acquire)) {
        case TL_ST_LOCK: case TL_ST_COND: case TL_ST_JOIN: case TL_ST_RDLOCK:
        case TL_ST_WRLOCK: case TL_ST_BARRIER:
            n++;
            break;
        case TL_ST_TIMED:
        case TL_ST_SLEEP:
            if (horizon == 0 || atomic_load_explicit(&slots[i].wake_ns, memory_order_relaxed) < horizon)
                return false;
            n++;
            break;
        case TL_ST_DONE: case TL_ST_FREE:
            break;
        default:
            return false; /* running */
        }
    }
    return n > 0;
}

double tl_stuck_window_s(double watchdog_s)
{
    return watchdog_s / 16 > 0.5 ? watchdog_s / 16 : 0.5;
}

bool tl_stuck(struct tl_stuck *st, double window_s, double until, bool but_me)
{
    double now = (double)mono_ns() / 1e9;
    long long horizon = until > 0 ? (long long)(until * 1e9) : 0;
    /* Under the scheduler the caller is the only thread running: what the
     * table shows is exact, and no window is needed. (Deadlines are virtual
     * there, as `until` is.) */
    if (tl_sched_active())
        return !atomic_load_explicit(&untracked_seen, memory_order_relaxed) && but_me &&
               sched_others_parked(horizon);
    /* Read the count first: a change after it makes the next look differ. */
    unsigned long p = atomic_load_explicit(&state_changes, memory_order_acquire);
    if (atomic_load_explicit(&untracked_seen, memory_order_relaxed) ||
        !all_blocked_for_good(but_me ? my_slot : -1, horizon)) {
        st->since = 0;
        return false;
    }
    if (st->since == 0 || st->progress != p) {
        st->since = now;
        st->progress = p;
        return false;
    }
    return now - st->since >= window_s;
}

/* ------------------------------------------------------------ activity windows
 * A window keeps, per slot, the counts and the CPU time at its start; its end
 * takes the differences. Slots are never reset, so a slot that changed hands
 * during the window still gives the calls its occupants made in it. */

static struct {
    atomic_long calls, yields, trylocks, timeouts;
    atomic_llong cpu_ns; /* -1: not readable at the start (no thread, or it exited) */
    atomic_int tid;
} act0[NSLOTS];
static atomic_int act_caller = -1;

/* CPU time used so far by kernel thread tid of this process, in ns; -1 if it is
 * gone. The clock id is the one pthread_getcpuclockid() makes from the thread's
 * kernel id (Linux: ~tid << 3 | CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED); built from
 * the tid kept in the slot, because a joined thread's pthread_t may already be
 * freed, while a gone tid only makes clock_gettime() fail (EINVAL). */
static long long thread_cpu_ns(int tid)
{
    if (tid <= 0)
        return -1;
    clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 4u | 2u);
    struct timespec ts;
    if (__real_clock_gettime(clk, &ts) != 0)
        return -1;
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void tl_activity_begin(void)
{
    atomic_store(&act_caller, me());
    for (int i = 0; i < NSLOTS; i++) {
        struct slot *sl = &slots[i];
        int used = atomic_load_explicit(&sl->used, memory_order_acquire) == 1;
        int tid = used ? atomic_load_explicit(&sl->tid, memory_order_relaxed) : 0;
        atomic_store_explicit(&act0[i].tid, tid, memory_order_relaxed);
        atomic_store_explicit(&act0[i].cpu_ns, used ? thread_cpu_ns(tid) : -1, memory_order_relaxed);
        atomic_store_explicit(&act0[i].calls, atomic_load(&sl->n_calls), memory_order_relaxed);
        atomic_store_explicit(&act0[i].yields, atomic_load(&sl->n_yields), memory_order_relaxed);
        atomic_store_explicit(&act0[i].trylocks, atomic_load(&sl->n_trylocks), memory_order_relaxed);
        atomic_store_explicit(&act0[i].timeouts, atomic_load(&sl->n_timeouts), memory_order_relaxed);
    }
}

/* "thread 2 (pool_worker)" from a slot named "T2 pool_worker"; other names as they are. */
static void activity_name(char *out, size_t n, const char *slot_name)
{
    long k;
    int used = 0;
    if (sscanf(slot_name, "T%ld %n", &k, &used) == 1 && used > 0) {
        const char *fn = slot_name + used;
        if (strncmp(fn, "fn@", 3) == 0 || strcmp(fn, "thread") == 0)
            snprintf(out, n, "thread %ld", k);
        else
            snprintf(out, n, "thread %ld (%.40s)", k, fn);
    } else {
        snprintf(out, n, "%.60s", slot_name);
    }
}

/* CPU time slot i's thread used since the window began, in us; 0 when unknown. */
static long activity_cpu_us(int i)
{
    int tid = atomic_load_explicit(&slots[i].tid, memory_order_relaxed);
    long long now = thread_cpu_ns(tid);
    if (now < 0)
        return 0; /* exited during the window: skipped */
    long long then = atomic_load_explicit(&act0[i].tid, memory_order_relaxed) == tid
                         ? atomic_load_explicit(&act0[i].cpu_ns, memory_order_relaxed)
                         : 0; /* started during the window: all its time is in it */
    return then < 0 ? (long)(now / 1000) : (long)((now - then) / 1000);
}

struct tl_activity tl_activity_end(void)
{
    struct tl_activity a = {0};
    int caller = atomic_load(&act_caller);
    long best_calls = -1;
    for (int i = 0; i < NSLOTS; i++) {
        struct slot *sl = &slots[i];
        if (i == caller)
            continue;
        long calls = atomic_load(&sl->n_calls) - atomic_load_explicit(&act0[i].calls, memory_order_relaxed);
        a.calls += calls;
        a.yields += atomic_load(&sl->n_yields) - atomic_load_explicit(&act0[i].yields, memory_order_relaxed);
        a.trylocks += atomic_load(&sl->n_trylocks) - atomic_load_explicit(&act0[i].trylocks, memory_order_relaxed);
        a.timeouts += atomic_load(&sl->n_timeouts) - atomic_load_explicit(&act0[i].timeouts, memory_order_relaxed);
        if (atomic_load_explicit(&sl->used, memory_order_acquire) != 1)
            continue;
        long cpu = activity_cpu_us(i);
        if (cpu > a.cpu_us || (cpu == a.cpu_us && calls > best_calls && (calls > 0 || cpu > 0))) {
            a.cpu_us = cpu;
            best_calls = calls;
            char nm[64];
            slot_name(i, nm, sizeof nm);
            activity_name(a.busiest, sizeof a.busiest, nm);
        }
    }
    return a;
}

/* ---------------------------------------------------------------- workers */

int tl_note_worker(void)
{
    int s = me();
    long epoch = atomic_load_explicit(&tl_epoch, memory_order_relaxed);
    if (my_worker_index < 0) {
        int is_main = (pid_t)getpid() == gettid();
        my_worker_index = is_main ? 0 : s + 1;
    }
    if (my_worker_index != 0 && tl_noted_epoch != epoch) {
        tl_noted_epoch = epoch;
        BUMP(workers_seen);
    }
    return my_worker_index;
}

long tl_workers_seen(void) { return READ(workers_seen); }

/* --------------------------------------------------------------- watchdog */

/* The O row of the object slot i waits on, where it has a site tag: "HANG
 * <tag> O <address> <site tag>", for the report to name it (see site_tag()).
 * Returns 0 when the write failed. */
static int dump_site(int fd, const char *tag, int i)
{
    int st = atomic_load_explicit(&slots[i].state, memory_order_acquire);
    if (st != TL_ST_LOCK && st != TL_ST_COND && st != TL_ST_TIMED && st != TL_ST_RDLOCK &&
        st != TL_ST_WRLOCK)
        return 1;
    uintptr_t obj = atomic_load_explicit(&slots[i].obj, memory_order_relaxed);
    struct objent *e = obj == 0 ? NULL : obj_lookup((const void *)obj, false);
    enum init_kind kind = e ? (enum init_kind)atomic_load_explicit(&e->site_kind, memory_order_relaxed) : INIT_NONE;
    uintptr_t ret = e ? atomic_load_explicit(&e->site, memory_order_relaxed) : 0;
    char nm[48], line[160];
    if (obj == 0 || !site_tag((const void *)obj, kind, ret, nm, sizeof nm))
        return 1;
    int n = snprintf(line, sizeof line, "%s %s O %#lx %s\n", tl_tag_name[TL_TAG_HANG], tag,
                     (unsigned long)obj, nm);
    return write(fd, line, (size_t)n) >= 0;
}

void tl_waitfor_dump(int fd, const char *tag)
{
    char line[512];
    for (int i = 0; i < NSLOTS; i++) {
        if (atomic_load_explicit(&slots[i].used, memory_order_acquire) != 1)
            continue;
        int st = atomic_load_explicit(&slots[i].state, memory_order_acquire);
        uintptr_t obj = atomic_load_explicit(&slots[i].obj, memory_order_relaxed);
        uintptr_t obj2 = atomic_load_explicit(&slots[i].obj2, memory_order_relaxed);
        uintptr_t where = atomic_load_explicit(&slots[i].where, memory_order_relaxed);
        uintptr_t off = 0;
        Dl_info info;
        if (where != 0 && dladdr((void *)where, &info) && info.dli_fbase != NULL)
            off = where - 1 - (uintptr_t)info.dli_fbase; /* -1: the call, not the return */
        char nm[64];
        slot_name(i, nm, sizeof nm);
        int n = snprintf(line, sizeof line, "%s %s T %d %s %#lx %#lx %#lx %d %s\n", tl_tag_name[TL_TAG_HANG], tag, i,
                         tl_state_word[st < 0 || st >= TL_ST_COUNT ? 0 : st], (unsigned long)obj,
                         (unsigned long)obj2, (unsigned long)off,
                         atomic_load_explicit(&slots[i].tid, memory_order_relaxed), nm);
        if (n > 0 && write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
            return;
    }
    for (int i = 0; i < NSLOTS; i++)
        if (atomic_load_explicit(&slots[i].used, memory_order_acquire) == 1 && !dump_site(fd, tag, i))
            return;
    for (int h = 0; h < NOBJ; h++) {
        uintptr_t k = atomic_load_explicit(&objs[h].key, memory_order_acquire);
        int owner = atomic_load_explicit(&objs[h].owner, memory_order_relaxed);
        if (k == 0 || owner < 0)
            continue;
        int n = snprintf(line, sizeof line, "%s %s M %#lx %d\n", tl_tag_name[TL_TAG_HANG], tag,
                         (unsigned long)k, owner);
        if (write(fd, line, (size_t)n) < 0)
            return;
    }
}

struct watch {
    double seconds;
    int fd, code;
    char tag[64];
};

/* Ask gdb (when TL_GDB names it) for every thread's stack, into gdb.<pid> in the
 * current folder; waits for it at most `secs` seconds. */
static void gdb_stacks(double secs)
{
    const char *gdb = getenv("TL_GDB");
    if (gdb == NULL || *gdb == '\0')
        return;
#ifdef PR_SET_PTRACER
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0); /* Yama: let our child attach */
#endif
    char pid[32], out[64];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    snprintf(out, sizeof out, "gdb.%ld", (long)getpid());
    pid_t child = fork();
    if (child == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp(gdb, gdb, "-p", pid, "-batch", "-nx", "-q", "-ex", "set pagination off", "-ex",
               "thread apply all bt", (char *)NULL);
        _exit(127);
    }
    if (child < 0)
        return;
    for (int i = 0; i < (int)(secs * 20); i++) {
        if (waitpid(child, NULL, WNOHANG) == child)
            return;
        struct timespec ts = {0, 50 * 1000 * 1000};
        __real_nanosleep(&ts, NULL);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

static void *watchdog(void *p)
{
    struct watch w = *(struct watch *)p;
    __real_free(p);
    long long end_ns = mono_ns() + (long long)(w.seconds * 1e9);
    /* Look every 50 ms whether every thread is stuck for good (tl_stuck()):
     * then the verdict is the same as at the deadline, only sooner. */
    struct tl_stuck stuck = {0, 0};
    for (;;) {
        long long at = mono_ns() + 50 * 1000 * 1000;
        bool last = at >= end_ns;
        if (last)
            at = end_ns;
        struct timespec ts = {(time_t)(at / 1000000000LL), (long)(at % 1000000000LL)};
        while (__real_clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        if (last || tl_stuck(&stuck, tl_stuck_window_s(w.seconds), (double)end_ns / 1e9, true))
            break;
    }
    tl_waitfor_dump(w.fd, w.tag);
    gdb_stacks(1.5);
    char end[96];
    int n = snprintf(end, sizeof end, "%s %s END\n", tl_tag_name[TL_TAG_HANG], w.tag);
    if (write(w.fd, end, (size_t)n) < 0)
        _exit(w.code);
    _exit(w.code);
}

int tl_watchdog_arm(double seconds, int fd, const char *tag, int code)
{
    struct watch *w = __real_malloc(sizeof *w);
    if (w == NULL)
        return ENOMEM;
    w->seconds = seconds;
    w->fd = fd;
    w->code = code;
    snprintf(w->tag, sizeof w->tag, "%s", tag);
    /* The scheduler's verdicts go where this watchdog would write (tags are
     * set before any thread of the test runs: no reader yet). */
    atomic_store(&W.armed, 0);
    snprintf(W.tag, sizeof W.tag, "%s", tag);
    atomic_store(&W.fd, fd);
    atomic_store(&W.code, code);
    if (tl_sched_active()) {
        /* The schedule's own time decides (see sched_pick); the real watchdog
         * stays as the backstop for what the schedule cannot see. */
        __real_pthread_mutex_lock(&S.mu);
        W.budget_vt = S.vt + (long long)(seconds / SCHED_BACKSTOP * 1e9);
        W.budget_steps = S.steps + SCHED_TEST_STEPS;
        __real_pthread_mutex_unlock(&S.mu);
    }
    atomic_store(&W.armed, 1);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = __real_pthread_create(&t, &a, watchdog, w);
    pthread_attr_destroy(&a);
    if (rc != 0)
        __real_free(w);
    return rc;
}
