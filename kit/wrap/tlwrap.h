/*
 * tlwrap.h - what the kit learns from a program's pthread calls.
 *
 * What it shows: graded and traced builds link the learner's code with
 * -Wl,--wrap=pthread_create (and the other calls listed in kit/wrap.flags),
 * so every call the learner's code makes into pthreads passes through
 * kit/tlwrap.c first. There the kit
 *   - counts events (threads created and joined, waits, signals, sleeps...),
 *     which is how tests check behaviour without ever timing it;
 *   - records trace events (lock waits, condition waits, joins, and arrows
 *     create->start, exit->join, unlock->lock, signal->wake) when TL_TRACE is set;
 *   - injects seeded yields and short sleeps when CHAOS_SEED is set, so that
 *     rare interleavings become common and a failing run can be replayed;
 *   - keeps a table of who holds which mutex and who waits on what, which
 *     the watchdog prints when a test hangs.
 *
 * DESIGN: --wrap only redirects references that are undefined in an object,
 * so the wrappers see exactly the calls made by the learner's code and the
 * tests, never libc's own; the wrappers call __real_pthread_* to do the work.
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
    long heap_allocs;      /* successful malloc, calloc, realloc(NULL, n), strdup, strndup calls */
    long heap_frees;       /* free(p) with p != NULL, realloc(p, 0) */
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

/* ------------------------------------------------ error paths: injected failures
 * A contract that promises something when pthread_create or malloc fails can only
 * be tested by making them fail. Only calls from the learner's code and the tests
 * pass through the wrappers (never libc's or Check's own). */
enum tl_fault {
    TL_FAULT_CREATE, /* pthread_create returns the error given, starts nothing */
    TL_FAULT_MALLOC, /* malloc, calloc, realloc, strdup, strndup return NULL, errno = ENOMEM */
    TL_FAULT_COUNT
};
/* Make the n-th call of kind k from now on fail (n = 1: the next one) with err
 * (ignored for TL_FAULT_MALLOC); n = 0 cancels. Resets tl_fault_calls(k). */
void tl_fault_nth(enum tl_fault k, long n, int err);
/* Calls of kind k since the last tl_fault_nth(k, ...); never blocks. */
long tl_fault_calls(enum tl_fault k);
/* Whether the failure armed by the last tl_fault_nth(k, ...) has been delivered. */
bool tl_fault_fired(enum tl_fault k);

/* --------------------------------------------------------- spurious wake-ups
 * POSIX lets a condition wait return without a signal. From now on about permille
 * in 1000 condition waits (plain, timed, clock) return 0 early without one: the
 * wrapper releases the mutex, lets others run, and takes it again. An `if` around
 * a wait then fails where a `while` does not. The chaos pass (CHAOS_SEED) turns
 * this on by itself; 0 turns it off. An injected wake-up is counted in
 * cond_spurious only: the wait it interrupts still counts once in cond_waits. */
void tl_spurious_set(int permille);

/* ------------------------------------------------------------- who is blocked
 * Threads (wrapped ones and main) now in state st: TL_ST_COND, TL_ST_TIMED,
 * TL_ST_LOCK, TL_ST_JOIN, TL_ST_SLEEP, TL_ST_RDLOCK, TL_ST_WRLOCK, TL_ST_BARRIER;
 * TL_ST_COUNT counts every thread in any of these. A thread in TL_ST_COND is
 * inside the wrapper of pthread_cond_wait: anyone who takes the same mutex and
 * signals after this returns wakes it. Never blocks. */
int tl_blocked_count(enum tl_state st);

/* --------------------------------------------- activity: busy waiting, counted
 * Between tl_activity_begin() and tl_activity_end(), what every wrapped thread
 * other than the caller did: wrapped calls made (locks, trylocks, unlocks, waits
 * that returned, yields, sleeps), yields and time-outs among them, and the CPU
 * time each used. A thread that blocks as it should uses none while nothing
 * happens; one that spins uses CPU whatever the load, and is preempted. */
struct tl_activity {
    long calls;           /* wrapped calls made in the window, all threads but the caller */
    long yields;          /* ...sched_yield among them */
    long trylocks;        /* ...pthread_mutex_trylock among them */
    long timeouts;        /* timed waits that returned ETIMEDOUT in the window */
    long cpu_us;          /* CPU time of the busiest thread in the window, microseconds */
    char busiest[64];     /* its name ("worker 1 (pool_worker)"), or "" */
};
/* Start a window; one at a time per process. Never blocks. */
void tl_activity_begin(void);
/* End the window begun last and report it. Never blocks. */
struct tl_activity tl_activity_end(void);

#endif /* TL_WRAP_H */
