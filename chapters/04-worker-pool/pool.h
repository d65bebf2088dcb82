/*
 * pool.h - a pool of worker threads fed through a bounded task queue
 * (chapter 4, exercise "pool").
 *
 * What it shows: clients hand work to a fixed set of long-lived threads
 * instead of starting a thread per job. pool_submit() puts a task in the
 * pool's queue; an idle worker takes it and runs it. A full queue makes
 * submitters wait (backpressure); pool_wait() waits until the pool is idle;
 * pool_destroy() finishes what is queued, then stops and joins the workers;
 * pool_cancel() drops what is queued instead.
 *
 * DESIGN: one mutex guards the queue *and* the count of tasks being run, so
 * "the queue is empty and no task is running" can be checked in one step.
 * With two locks (or a queue plus a separate counter) a worker that has
 * taken a task but not yet counted it as running would be invisible, and
 * pool_wait() could return while that task still runs.
 *
 * This header is the contract; do not change it. Write pool.c.
 */
#ifndef TL_POOL_H
#define TL_POOL_H

#include <stddef.h>

typedef struct pool pool;

/* A task: a worker calls fn(arg) exactly once. */
typedef void (*pool_fn)(void *arg);

/* Start nthreads workers sharing a queue of at most capacity waiting tasks.
 * Returns NULL with errno EINVAL (nthreads or capacity 0), ENOMEM (an
 * allocation failed), or pthread_create's error when the k-th worker cannot
 * be started: the k-1 workers already started are then stopped and joined
 * first. On every failure nothing is left behind: no thread running or
 * unjoined, nothing allocated. Blocks only while starting (or, on failure,
 * joining) threads. */
pool *pool_create(size_t nthreads, size_t capacity);

/* Queue fn(arg) for a worker. Blocks while the queue is full; a pool may
 * leave a blocked submitter asleep until the workers have freed up to half of
 * the queue (a low-water mark: one wake-up per burst, book 4.6), never longer.
 * Returns 0, or EPIPE once pool_cancel() has been called (also when it is
 * called while this call waits); the task is then not queued and will never
 * run. A task may submit further tasks, but if every worker blocks in
 * pool_submit, nobody is left to drain the queue. */
int pool_submit(pool *p, pool_fn fn, void *arg);

/* Block until every task submitted so far has finished or been dropped:
 * the queue is empty and no worker is running a task. Tasks submitted
 * meanwhile are waited for too. Never call it from inside a task (it would
 * wait for itself). */
void pool_wait(pool *p);

/* Cancel: stop accepting tasks (later and blocked pool_submit() calls
 * return EPIPE) and take every task still waiting in the queue out of it
 * without running it. For each dropped task, calls dropped(fn, arg) when
 * dropped is not NULL, in the calling thread, with the pool's lock held (so
 * it must not call into the pool) - that is where a task's owner frees what
 * arg points to. Tasks already running go on. Does not wait for them and
 * does not stop the workers (pool_destroy() does). Returns the number of
 * tasks dropped. Blocks only on the lock. */
size_t pool_cancel(pool *p, void (*dropped)(pool_fn fn, void *arg));

/* Graceful shutdown: let the workers run every task still queued, then stop
 * them, join every one of them and free p. Blocks until all of that is
 * done. Clients must not call pool_submit() once it has begun; running
 * tasks may, and what they submit runs too. */
void pool_destroy(pool *p);

#endif /* TL_POOL_H */
