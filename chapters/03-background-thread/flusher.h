/*
 * flusher.h - a write buffer that a background thread hands to a sink every
 * period, and at once when asked.
 *
 * What it shows: the second half of a background thread's job description -
 * besides waking up on a timer, it answers requests. flusher_flush_now() is a
 * request/acknowledge handshake: the caller asks, the background thread does
 * the work, and the caller is told when the work that covers its own writes
 * is done.
 *
 * DESIGN: items are numbered as they are written; the flusher keeps two
 * counts under its lock, `written` and `flushed`. flusher_flush_now() notes
 * the value of `written` at its call (its ticket), wakes the background
 * thread, and waits in a `while` until `flushed` has reached the ticket. The
 * background thread takes the whole buffer under the lock, calls the sink
 * without it (so writers never wait for slow output), then advances `flushed`
 * and broadcasts: every waiter re-checks its own ticket.
 *
 * This header is the contract: do not edit it. Write flusher.c.
 */
#ifndef FLUSHER_H
#define FLUSHER_H

#include <stddef.h>

typedef struct flusher flusher;

/* Receives a batch of n > 0 items, in the order they were written. Called only
 * by the flusher's background thread, one batch at a time, without the
 * flusher's lock held (it may take long; writers are not held up). The items
 * stay where they are, unchanged, until the sink returns. */
typedef void (*flusher_sink_fn)(void *ctx, const long *items, size_t n);

/* Create a flusher and start its background thread, which passes what has
 * been written to sink every period_ms milliseconds (period_ms > 0) and
 * whenever flusher_flush_now() asks. Returns NULL with errno set (EINVAL,
 * ENOMEM, or pthread_create's error) on failure, with no thread running and
 * nothing left allocated. Never blocks. */
flusher *flusher_create(long period_ms, flusher_sink_fn sink, void *ctx);

/* Append item to the buffer. Returns 0, or ENOMEM (nothing appended). Blocks
 * only for the flusher's lock, never for a flush or the sink in progress. */
int flusher_write(flusher *f, long item);

/* Return once every item written (by any thread) before this call has been
 * passed to the sink and the sink has returned. Wakes the background thread
 * at once rather than waiting for the period; returns at once when there is
 * nothing to flush. Blocks until then, without busy-waiting. Safe to call
 * from many threads at once. */
void flusher_flush_now(flusher *f);

/* Pass whatever is left to the sink, stop the background thread promptly
 * (whatever the period), join it and free f. The caller guarantees that no
 * other thread uses f any more. No sink call happens after it returns. */
void flusher_destroy(flusher *f);

#endif /* FLUSHER_H */
