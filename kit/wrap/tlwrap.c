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
#include <sys/prctl.h>
#include <sys/wait.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The real functions, as --wrap names them: one declaration per line of wrapped.def. */
#define TL_WRAPPED(ret, name, params) ret __real_##name params;
#include "wrapped.def"
#undef TL_WRAPPED

/* ---------------------------------------------------------------- counts */

static struct {
    atomic_long threads_created, threads_joined, threads_detached, threads_running, threads_peak;
    atomic_long mutex_locks, mutex_contended, cond_waits, cond_timedwaits, cond_timeouts;
    atomic_long cond_signals, cond_broadcasts, sleeps, rwlock_reads, rwlock_writes;
    atomic_long workers_seen;
} C;

#define BUMP(field) atomic_fetch_add_explicit(&C.field, 1, memory_order_relaxed)
#define READ(field) atomic_load_explicit(&C.field, memory_order_relaxed)

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
}

static _Thread_local long tl_noted_epoch; /* epoch in which this thread was counted */
static atomic_long tl_epoch = 1;

void tl_counts_reset(void)
{
    atomic_long *all[] = {&C.threads_created, &C.threads_joined, &C.threads_detached,
                          &C.threads_peak, &C.mutex_locks, &C.mutex_contended, &C.cond_waits,
                          &C.cond_timedwaits, &C.cond_timeouts, &C.cond_signals,
                          &C.cond_broadcasts, &C.sleeps, &C.rwlock_reads, &C.rwlock_writes,
                          &C.workers_seen};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        atomic_store_explicit(all[i], 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&tl_epoch, 1, memory_order_relaxed);
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
    char name[64];            /* written before used is published... see slot_claim() */
};
static struct slot slots[NSLOTS];
static _Thread_local int my_slot = -1;
static _Thread_local int my_worker_index = -1;

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
            snprintf(slots[i].name, sizeof slots[i].name, "%s", name);
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

static void set_state(int s, int state, const void *obj, const void *obj2, void *where)
{
    if (s < 0)
        return;
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
};
static struct objent objs[NOBJ];

/* Find or insert the entry for address p; NULL when the table is full. */
static struct objent *obj_ent(const void *p)
{
    uintptr_t key = (uintptr_t)p;
    size_t h = (size_t)((key >> 3) * 0x9E3779B97F4A7C15ull) % NOBJ;
    for (size_t n = 0; n < NOBJ; n++, h = (h + 1) % NOBJ) {
        uintptr_t k = atomic_load_explicit(&objs[h].key, memory_order_acquire);
        if (k == key)
            return &objs[h];
        if (k == 0) {
            uintptr_t expected = 0;
            if (atomic_compare_exchange_strong_explicit(&objs[h].key, &expected, key,
                                                        memory_order_acq_rel,
                                                        memory_order_acquire)) {
                atomic_store_explicit(&objs[h].owner, -1, memory_order_relaxed);
                return &objs[h];
            }
            if (expected == key)
                return &objs[h];
        }
    }
    return NULL;
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

/* ---------------------------------------------------------------- threads */

struct start {
    void *(*fn)(void *);
    void *arg;
    uint64_t flow;
    int slot;
    char name[64];
};

static void thread_done(void *p)
{
    (void)p;
    int s = my_slot;
    atomic_fetch_sub_explicit(&C.threads_running, 1, memory_order_relaxed);
    if (s < 0)
        return;
    atomic_store_explicit(&slots[s].exit_flow, tl_trace_flow_out("exit"), memory_order_relaxed);
    tl_trace_event('X', "exit", 0);
    set_state(s, TL_ST_DONE, NULL, NULL, NULL);
    if (atomic_load_explicit(&slots[s].detached, memory_order_acquire))
        slot_release(s);
}

static void *trampoline(void *p)
{
    struct start st = *(struct start *)p;
    free(p);
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
    me();
    struct start *st = malloc(sizeof *st);
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
    int detached = 0;
    if (attr != NULL)
        pthread_attr_getdetachstate(attr, &detached);
    if (st->slot >= 0)
        atomic_store_explicit(&slots[st->slot].detached, detached == PTHREAD_CREATE_DETACHED,
                              memory_order_relaxed);
    st->flow = tl_trace_flow_out("create");
    int slot = st->slot;
    pthread_t tid;
    int rc = __real_pthread_create(&tid, attr, trampoline, st);
    if (rc != 0) {
        slot_release(slot);
        free(st);
        return rc;
    }
    if (slot >= 0)
        atomic_store_explicit(&slots[slot].self, (uintptr_t)tid, memory_order_relaxed);
    *t = tid;
    BUMP(threads_created);
    chaos();
    return 0;
}

int __wrap_pthread_join(pthread_t t, void **ret)
{
    chaos();
    int s = me();
    int target = slot_of_thread(t);
    set_state(s, TL_ST_JOIN, (void *)(uintptr_t)(target + 1), NULL, __builtin_return_address(0));
    tl_trace_event('W', "join", 0);
    int rc = __real_pthread_join(t, ret);
    tl_trace_end();
    set_state(s, TL_ST_RUN, NULL, NULL, NULL);
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

static void locked(pthread_mutex_t *m, int s)
{
    BUMP(mutex_locks);
    set_owner(m, s);
}

int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
    chaos();
    int s = me();
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
    if (rc == 0)
        locked(m, s);
    return rc;
}

int __wrap_pthread_mutex_trylock(pthread_mutex_t *m)
{
    chaos();
    int s = me();
    int rc = __real_pthread_mutex_trylock(m);
    if (rc == 0)
        locked(m, s);
    return rc;
}

int __wrap_pthread_mutex_unlock(pthread_mutex_t *m)
{
    me();
    struct objent *e = obj_ent(m);
    if (e != NULL) {
        atomic_store_explicit(&e->owner, -1, memory_order_relaxed);
        if (tl_trace_enabled())
            atomic_store_explicit(&e->flow, tl_trace_flow_out("unlock"), memory_order_relaxed);
    }
    int rc = __real_pthread_mutex_unlock(m);
    chaos();
    return rc;
}

/* ------------------------------------------------------ condition variables */

static uint64_t cond_flow(const pthread_cond_t *c)
{
    struct objent *e = obj_ent(c);
    return e != NULL ? atomic_load_explicit(&e->flow, memory_order_relaxed) : 0;
}

/* Shared by the three waits: bookkeeping around the real call `wait`. */
static int cond_wait_common(pthread_cond_t *c, pthread_mutex_t *m, int timed, void *where,
                            int (*wait)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
                                        const struct timespec *),
                            clockid_t clk, const struct timespec *abs)
{
    chaos();
    int s = me();
    if (timed)
        BUMP(cond_timedwaits);
    else
        BUMP(cond_waits);
    uint64_t before = cond_flow(c);
    set_owner(m, -1);
    set_state(s, timed ? TL_ST_TIMED : TL_ST_COND, c, m, where);
    tl_trace_event('W', timed ? "timedwait" : "wait", (uintptr_t)c);
    int rc = wait(c, m, clk, abs);
    tl_trace_end();
    set_owner(m, s);
    set_state(s, TL_ST_RUN, NULL, NULL, NULL);
    if (rc == ETIMEDOUT)
        BUMP(cond_timeouts);
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
    return cond_wait_common(c, m, 1, __builtin_return_address(0), real_timedwait, 0, abs);
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
    me();
    BUMP(cond_signals);
    cond_wake_flow(c, "signal");
    return __real_pthread_cond_signal(c);
}

int __wrap_pthread_cond_broadcast(pthread_cond_t *c)
{
    chaos();
    me();
    BUMP(cond_broadcasts);
    cond_wake_flow(c, "broadcast");
    return __real_pthread_cond_broadcast(c);
}

/* ------------------------------------------------------ rwlocks, barriers */

static int rw_common(pthread_rwlock_t *l, int write, void *where,
                     int (*take)(pthread_rwlock_t *), int (*try)(pthread_rwlock_t *))
{
    chaos();
    int s = me();
    int rc = try(l);
    if (rc == EBUSY) {
        set_state(s, write ? TL_ST_WRLOCK : TL_ST_RDLOCK, l, NULL, where);
        tl_trace_event('W', write ? "wrlock" : "rdlock", (uintptr_t)l);
        rc = take(l);
        tl_trace_end();
        set_state(s, TL_ST_RUN, NULL, NULL, NULL);
    }
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
    int rc = __real_pthread_rwlock_tryrdlock(l);
    if (rc == 0)
        BUMP(rwlock_reads);
    return rc;
}

int __wrap_pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
    int rc = __real_pthread_rwlock_trywrlock(l);
    if (rc == 0)
        BUMP(rwlock_writes);
    return rc;
}

int __wrap_pthread_rwlock_unlock(pthread_rwlock_t *l)
{
    int rc = __real_pthread_rwlock_unlock(l);
    chaos();
    return rc;
}

int __wrap_pthread_barrier_wait(pthread_barrier_t *b)
{
    chaos();
    int s = me();
    set_state(s, TL_ST_BARRIER, b, NULL, __builtin_return_address(0));
    tl_trace_event('W', "barrier", (uintptr_t)b);
    int rc = __real_pthread_barrier_wait(b);
    tl_trace_end();
    set_state(s, TL_ST_RUN, NULL, NULL, NULL);
    return rc;
}

/* ---------------------------------------------------------------- sleeps */

#define SLEEP_AROUND(call)                                                       \
    int s = me();                                                                \
    BUMP(sleeps);                                                                \
    set_state(s, TL_ST_SLEEP, NULL, NULL, __builtin_return_address(0));             \
    tl_trace_event('W', "sleep", 0);                                             \
    __typeof__(call) rc = call;                                                  \
    tl_trace_end();                                                              \
    set_state(s, TL_ST_RUN, NULL, NULL, NULL);                                      \
    return rc

unsigned int __wrap_sleep(unsigned int sec) { SLEEP_AROUND(__real_sleep(sec)); }
int __wrap_usleep(useconds_t us) { SLEEP_AROUND(__real_usleep(us)); }
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
    SLEEP_AROUND(__real_nanosleep(req, rem));
}
int __wrap_clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
                           struct timespec *rem)
{
    SLEEP_AROUND(__real_clock_nanosleep(clk, flags, req, rem));
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
        int n = snprintf(line, sizeof line, "%s %s T %d %s %#lx %#lx %#lx %d %s\n", tl_tag_name[TL_TAG_HANG], tag, i,
                         tl_state_word[st < 0 || st >= TL_ST_COUNT ? 0 : st], (unsigned long)obj,
                         (unsigned long)obj2, (unsigned long)off,
                         atomic_load_explicit(&slots[i].tid, memory_order_relaxed), slots[i].name);
        if (n > 0 && write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
            return;
    }
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
    free(p);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = ts.tv_nsec + (long long)(w.seconds * 1e9);
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    while (__real_clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
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
    struct watch *w = malloc(sizeof *w);
    if (w == NULL)
        return ENOMEM;
    w->seconds = seconds;
    w->fd = fd;
    w->code = code;
    snprintf(w->tag, sizeof w->tag, "%s", tag);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = __real_pthread_create(&t, &a, watchdog, w);
    pthread_attr_destroy(&a);
    if (rc != 0)
        free(w);
    return rc;
}
