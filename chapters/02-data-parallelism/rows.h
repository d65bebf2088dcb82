/*
 * rows.h - exercise 3 of chapter 2: dynamic scheduling, one row at a time.
 *
 * What it shows: the cure for unequal work. Static bands give every thread
 * the same number of rows, but when rows cost different amounts - the bottom
 * of the chapter's Mandelbrot image costs many times the top - the thread
 * with the expensive band works alone while the others wait. Here no row
 * belongs to anybody in advance: the threads share one atomic counter, and a
 * thread that finishes a row takes the next row nobody has taken yet. A
 * thread stuck on a slow row simply takes fewer rows.
 *
 * DESIGN: atomic_fetch_add(&next, 1) returns each number to exactly one
 * thread, however many ask at once, so no row is done twice or skipped and no
 * lock is needed. It also does not care how many threads there are: if some
 * could not be started, the ones that were still do every row.
 *
 * This header is the contract; do not edit it. Your code goes in rows.c.
 */
#ifndef ROWS_H
#define ROWS_H

/* Does row `row` of the work (computes one row of an image, say). Supplied by
 * the caller; safe to call from several threads at once on different rows. */
typedef void (*rows_fn)(int row, void *arg);

/* Calls fn(row, arg) exactly once for every row in [0, nrows), on
 * k = min(nthreads, nrows) threads that take rows one at a time from one
 * shared atomic counter: each thread, whenever it is free, takes the next row
 * nobody has taken yet (rows are taken in increasing order), until none is
 * left. No row is given to a thread in advance. The calling thread only
 * starts and joins the threads (it calls fn never). nrows == 0 starts no thread.
 * If a pthread_create fails, rows_run starts no more threads; the threads
 * already started still do every row, and rows_run returns 0 - or, when not
 * even the first thread could be started, that pthread_create's error number
 * (no row done).
 * Returns 0; EINVAL when nrows < 0, nthreads < 1 or fn is NULL; ENOMEM when
 * an allocation fails (no row done).
 * Blocks until every thread it started has been joined (never detach them). */
int rows_run(int nrows, int nthreads, rows_fn fn, void *arg);

#endif /* ROWS_H */
