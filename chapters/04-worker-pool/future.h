/*
 * future.h - futures on top of the worker pool (chapter 4, exercise "future").
 *
 * What it shows: how a client gets a result (or an error) back from a task
 * it handed to a pool. future_submit() queues the task and returns at once
 * with a handle; future_get() blocks until a worker has run the task, then
 * hands over what the task returned. Errors are data that travels with the
 * result: a task that fails returns an error number, and so does get.
 *
 * DESIGN: a future is shared by two parties that do not wait for each
 * other - the worker that completes it and the client that reads it - and
 * either may be done with it first (a client may destroy a future whose
 * task has not even started). So a future is freed by whichever of the two
 * lets go last: it carries a count of its owners, decremented under its
 * lock. Completion is a one-way door: done goes from false to true once,
 * under the lock, and every getter waiting behind it is woken.
 *
 * This header is the contract; do not change it. Write future.c (it links
 * with your pool.c).
 */
#ifndef TL_FUTURE_H
#define TL_FUTURE_H

#include "pool.h"

typedef struct future future;

/* A task that produces a result: returns 0 and sets *result on success, or
 * returns an error number (a positive errno value, or any non-zero code of
 * the task's own). */
typedef int (*future_fn)(void *arg, void **result);

/* Queue fn(arg, &result) on pool p and return its future at once. Blocks
 * like pool_submit() while the pool's queue is full. Returns NULL with errno
 * ENOMEM (the allocation failed: nothing was queued), or EPIPE when the pool
 * refused the task (pool_cancel() was called); either way nothing is left
 * allocated and fn will never run. */
future *future_submit(pool *p, future_fn fn, void *arg);

/* Block until the task has run (or was dropped by pool_cancel()). Returns
 * the task's return value - 0 with *result set to its result (when result
 * is not NULL), or its error number - or ECANCELED if the task was dropped
 * before it ran. Any number of threads may call it, any number of times,
 * until future_destroy(). */
int future_get(future *f, void **result);

/* Give up the caller's handle. Never blocks on the task: if it has not run
 * yet, it still runs later, and the future is freed once it has. The caller
 * must not use f afterwards, and no other thread may be inside
 * future_get(f). */
void future_destroy(future *f);

/* A hook for pool_cancel(): pass it as `dropped` so that every future whose
 * task is dropped completes with ECANCELED (its getters wake up instead of
 * waiting forever). Tasks that did not come from future_submit() are left
 * alone. Called with the pool's lock held; takes only the future's lock. */
void future_dropped(pool_fn fn, void *arg);

#endif /* TL_FUTURE_H */
