/*
 * tlwrap.h - what the kit learns from a program's pthread calls.
 *
 * What it shows: graded and traced builds link the learner's code with
 * -Wl,--wrap=pthread_create (and the other calls listed in kit/wrap/wrapped.def),
 * so every call the learner's code makes into pthreads passes through
 * kit/tlwrap.c first. There the kit
 *   - counts events (threads created and joined, waits, signals, sleeps...),
 *     which is how tests check behaviour without ever timing it;
 *   - records trace events (lock waits, condition waits, joins, and arrows
 *     create->start, exit->join, unlock->lock, signal->wake) when TL_TRACE is set;
 *   - injects seeded yields and short sleeps when CHAOS_SEED is set, so that
 *     rare interleavings become common and a failing run can be replayed;
 *   - keeps a table of who holds which mutex and who waits on what, which
 *     the watchdog prints when a test hangs and tests read (tl_blocked_count);
 *   - on a test's demand, makes the n-th pthread_create or allocation fail
 *     (tl_fault_nth) and condition waits return without a signal
 *     (tl_spurious_set; on by itself in the chaos pass);
 *   - counts, per thread, the calls made and CPU used during a window the test
 *     controls (tl_activity_begin/end), the evidence of busy waiting.
 *
 * DESIGN: --wrap only redirects references that are undefined in an object,
 * so the wrappers see exactly the calls made by the learner's code and the
 * tests, never libc's own; the wrappers call __real_pthread_* to do the work.
 * It also redirects the kit's own objects and Check's static library: those
 * calls are marked as the kit's (tl_kit_enter) where they would blur a count.
 * All bookkeeping is atomics, so the wrappers add no data race of their own
 * under ThreadSanitizer.
 */
#ifndef TL_WRAP_H
#define TL_WRAP_H

#include <stdbool.h>
#include <stdint.h>

#include "../proto/protocol.h"

/* Event counts since the start of the process (or the last tl_counts_reset()). */
struct tl_counts {
    long threads_created;  /* successful pthread_create calls */
    long threads_joined;   /* successful pthread_join calls */
    long threads_detached; /* successful pthread_detach calls */
    long threads_running;  /* wrapped threads started and not yet returned */
    long threads_peak;     /* highest threads_running seen */
    long mutex_locks;      /* pthread_mutex_lock + successful trylock */
    long mutex_contended;  /* locks that had to wait */
    long cond_waits;       /* pthread_cond_wait calls */
    long cond_timedwaits;  /* pthread_cond_timedwait / clockwait calls */
    long cond_timeouts;    /* ...of which returned ETIMEDOUT */
    long cond_signals;     /* pthread_cond_signal calls */
    long cond_broadcasts;  /* pthread_cond_broadcast calls */
    long sleeps;           /* sleep, usleep, nanosleep, clock_nanosleep calls */
    long rwlock_reads;     /* pthread_rwlock_rdlock + successful tryrdlock */
    long rwlock_writes;    /* pthread_rwlock_wrlock + successful trywrlock */
    long yields;           /* sched_yield calls */
    long cond_spurious;    /* condition waits the kit woke without a signal (see tl_spurious_set) */
    long heap_allocs;      /* successful malloc, calloc, realloc(NULL, n), reallocarray(NULL, ...),
                              aligned_alloc, posix_memalign, strdup, strndup calls */
    long heap_frees;       /* free(p) with p != NULL, realloc(p, 0), reallocarray(p, 0, ...) */
    long faults_injected;  /* calls made to fail by tl_fault_nth() */
};

/* Copy the current counts into *out. Never blocks. */
void tl_counts_get(struct tl_counts *out);
/* Zero every count except threads_running. Call while no wrapped thread runs. */
void tl_counts_reset(void);

/* Number of distinct wrapped threads (not counting main) that called
 * tl_note_worker() since the last reset: tests use it to prove work was
 * spread over several threads. */
long tl_workers_seen(void);
/* Record that the calling thread did a unit of work; returns its worker index
 * (0 for the main thread, 1.. for threads created through pthread_create). */
int tl_note_worker(void);

/* Start a watchdog that, after `seconds`, writes the wait-for table to fd
 * (lines beginning "HANG <tag>") and ends the process with _exit(code).
 * Used by kit/tlcheck.h inside each test child. Returns 0 or an errno. */
int tl_watchdog_arm(double seconds, int fd, const char *tag, int code);

/* Write the wait-for table to fd now (lines beginning "HANG <tag>"). */
void tl_waitfor_dump(int fd, const char *tag);

/* Mark the calling thread's calls between these two as the kit's own: its
 * allocations are not counted in heap_allocs/heap_frees and no injected failure
 * fires on them or counts them (every other count is kept). Nests. Check's
 * assertions are marked so by the wrappers themselves; tltest.h's helpers use
 * this for their own allocations and threads. Never blocks. */
void tl_kit_enter(void);
void tl_kit_leave(void);

/* ------------------------------------------------ error paths: injected failures
 * A contract that promises something when pthread_create or malloc fails can only
 * be tested by making them fail. The wrappers see the calls of the learner's code
 * and the tests, never libc's own; Check's (inside ck_assert) and the kit's own
 * (between tl_kit_enter/leave) are neither counted nor failed. Calls of every
 * thread count, in the order they reach the wrapper: arm right before the call
 * under test, while no other thread allocates or creates, and disarm (n = 0)
 * before asserting. tl_counts_reset() (each test's start) disarms all. */
enum tl_fault {
    TL_FAULT_CREATE, /* pthread_create returns the error given, starts nothing */
    TL_FAULT_MALLOC, /* malloc, calloc, realloc(array), aligned_alloc, strdup, strndup return NULL, errno =
                        ENOMEM; posix_memalign returns ENOMEM */
    TL_FAULT_COUNT
};
/* Make the n-th call of kind k from now on fail (n = 1: the next one) with err
 * (ignored for TL_FAULT_MALLOC); n = 0 cancels. Resets tl_fault_calls(k) and
 * tl_fault_fired(k). Only one call fails: later ones work again. A failed call
 * counts in faults_injected, not in threads_created or heap_allocs. Never blocks. */
void tl_fault_nth(enum tl_fault k, long n, int err);
/* Calls of kind k since the last tl_fault_nth(k, ...), the failed one included:
 * arm with n = 0, make a call, and this says how many it made. Never blocks. */
long tl_fault_calls(enum tl_fault k);
/* Whether the failure armed by the last tl_fault_nth(k, ...) has been delivered. Never blocks. */
bool tl_fault_fired(enum tl_fault k);

/* --------------------------------------------------------- spurious wake-ups
 * POSIX lets a condition wait return without a signal. From now on about permille
 * in 1000 condition waits (plain, timed, clock) return 0 early without one: the
 * wrapper releases the mutex, lets others run, and takes it again. An `if` around
 * a wait then fails where a `while` does not. The chaos pass (CHAOS_SEED) turns
 * this on by itself (250, one wait in four) unless tl_spurious_set() was called;
 * 0 turns it off. An injected wake-up is counted in cond_spurious only: the wait
 * it interrupts counts once in cond_waits/cond_timedwaits, and the wait the same
 * thread makes again on the same condition, with no wrapped call in between,
 * does not count again. It never returns ETIMEDOUT, and is seeded by CHAOS_SEED
 * (replayable). While it lets others run, the thread shows in TL_ST_COND (or
 * TL_ST_TIMED) and the mutex has no owner, as in a real wait. Never blocks. */
void tl_spurious_set(int permille);

/* ------------------------------------------------------------- who is blocked
 * Threads (wrapped ones and main) now in state st: TL_ST_COND, TL_ST_TIMED,
 * TL_ST_LOCK, TL_ST_JOIN, TL_ST_SLEEP, TL_ST_RDLOCK, TL_ST_WRLOCK, TL_ST_BARRIER;
 * TL_ST_COUNT counts every thread in any of these. A thread in TL_ST_COND is
 * inside the wrapper of pthread_cond_wait: anyone who takes the same mutex and
 * signals after this returns wakes it (or, with spurious wake-ups on, it comes
 * back and sees the change). Under TSan every mutex lock shows as TL_ST_LOCK
 * while it runs, contended or not. Never blocks. */
int tl_blocked_count(enum tl_state st);

/* ----------------------------------------------------------------- stuck
 * A state no thread can leave by itself: every tracked thread (but the caller,
 * when but_me) is blocked without a deadline (lock, untimed condition wait,
 * join, rwlock, barrier), and none has changed state since the last look.
 * Nobody is left to wake them, so waiting longer for them only delays the
 * verdict. tl_stuck() is true once that has held, unchanged, for window_s
 * seconds of looks through the same struct tl_stuck (zeroed before the first
 * look). A timed condition wait or a sleep counts as stuck only when it ends
 * at or after `until` (CLOCK_MONOTONIC seconds; 0: never), when the caller
 * stops waiting anyway. It is never true while a thread runs, nor once any
 * thread went untracked. Never blocks. */
struct tl_stuck {
    unsigned long progress;
    double since; /* CLOCK_MONOTONIC seconds; 0: not stuck at the last look */
};
bool tl_stuck(struct tl_stuck *st, double window_s, double until, bool but_me);
/* The window_s for tl_stuck() in a test whose watchdog fires watchdog_s after
 * its start: a woken thread changes its state within microseconds of being
 * scheduled, so the window only has to outlast the scheduler's delay on a
 * loaded machine (tens of ms at load 8 on 2 cores): 0.5 s, more when the pass
 * is scaled. Never blocks. */
double tl_stuck_window_s(double watchdog_s);

/* --------------------------------------------- activity: busy waiting, counted
 * Between tl_activity_begin() and tl_activity_end(), what every wrapped thread
 * other than the caller did: wrapped calls made (locks, trylocks, unlocks, waits
 * that returned, yields, sleeps, signals, joins, creates; not the malloc family),
 * yields, trylocks and time-outs among them, and the CPU time of the busiest
 * (the one that used most CPU; on a tie, most calls). A thread that blocks as it
 * should makes no calls and uses no CPU while nothing happens; one that spins
 * uses CPU whatever the load (it is preempted, never parked), and one that polls
 * makes calls. Threads that exit during the window give their calls but not their
 * CPU time; threads started in it give all theirs. Judge with tltest.h's
 * tl_activity_busy(), the kit's one rule. */
struct tl_activity {
    long calls;           /* wrapped calls made in the window, all threads but the caller */
    long yields;          /* ...sched_yield among them */
    long trylocks;        /* ...pthread_mutex_trylock among them */
    long timeouts;        /* timed waits that returned ETIMEDOUT in the window */
    long cpu_us;          /* CPU time of the busiest thread in the window, microseconds */
    char busiest[64];     /* its name ("thread 2 (pool_worker)"), or "" when none ran */
};
/* Start a window; one at a time per process; the caller's own calls never count
 * in it. Never blocks. */
void tl_activity_begin(void);
/* End the window begun last (from any thread) and report it. Never blocks. */
struct tl_activity tl_activity_end(void);

/* ------------------------------------------------------------ the scheduler
 * Whether this process runs under the seeded scheduler of the sched pass
 * (TL_SCHED_SEED set, not 0): one thread at a time, virtual time (see the
 * scheduler's DESIGN in tlwrap.c). Tests that wait by spinning on the real
 * sched_yield ask it, and nap in poll() instead, which hands the baton on. */
bool tl_sched_active(void);
/* Under the scheduler a test's time limit is counted in virtual time, at
 * 1/TL_SCHED_BACKSTOP of its watchdog (which stays as a real backstop): the
 * bounded waits of tltest.h shrink with it, so they end before the limit. */
#define TL_SCHED_BACKSTOP 4
/* A test begins (its name): under the scheduler its schedule depends on the
 * seed and this name only, so one test replays alone as it ran among others. */
void tl_sched_begin(const char *test);

#endif /* TL_WRAP_H */
