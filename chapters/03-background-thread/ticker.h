/*
 * ticker.h - a background thread that calls a function once every period,
 * and stops promptly.
 *
 * What it shows: the smallest useful background thread. It has one job (call
 * fn), it does it at a fixed period, and it can be stopped at any moment
 * without waiting out the period and without fn running once more after
 * ticker_stop() has returned.
 *
 * DESIGN: the thread does not sleep. It waits with pthread_cond_timedwait()
 * on a condition variable whose clock is CLOCK_MONOTONIC, against an absolute
 * deadline computed once per period. The deadline keeps the period right
 * when the wait returns early (a spurious wakeup just waits again for the
 * same instant); the condition variable lets ticker_stop() wake the thread at
 * once; the monotonic clock keeps the period right when someone sets the
 * wall clock. ticker_stop() sets a flag under the lock, signals, and joins.
 *
 * This header is the contract: do not edit it. Write ticker.c.
 */
#ifndef TICKER_H
#define TICKER_H

typedef struct ticker ticker;
typedef void (*ticker_fn)(void *arg);

/* Start a thread that calls fn(arg) every period_ms milliseconds (period_ms > 0),
 * the first call one period after the start, and at most one call per period.
 * fn runs only on that thread, so never twice at once. Returns the ticker, or
 * NULL with errno set (EINVAL for a bad argument, ENOMEM, or pthread_create's
 * error), no thread running and nothing left allocated. Never blocks. */
ticker *ticker_start(long period_ms, ticker_fn fn, void *arg);

/* Stop t, join its thread and free t. Once ticker_stop() has been called, no
 * new call of fn starts; a call already running is waited for. Returns how many
 * times fn was called. Blocks only for that running call, never for the rest
 * of a period, and never busy-waits. Must not be called from fn. */
long ticker_stop(ticker *t);

#endif /* TICKER_H */
