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

#include <stdint.h>

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

#endif /* TL_WRAP_H */
