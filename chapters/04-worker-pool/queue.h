/*
 * queue.h - a bounded blocking queue of tasks (chapter 4, exercise "queue").
 *
 * What it shows: the channel between the clients of a worker pool and its
 * workers. Clients push tasks, workers pop them; a client that pushes into
 * a full queue waits, a worker that pops from an empty one waits, and
 * closing the queue wakes everybody up.
 *
 * DESIGN: one mutex guards the whole queue, and two condition variables
 * name the two things a thread can wait for: "there is something to pop"
 * (not_empty) and "there is room to push" (not_full). Tasks are copied by
 * value into a ring buffer of fixed-size slots allocated once by
 * taskq_create(), so pushing and popping never call malloc. The bound is
 * the point: when workers fall behind, producers are slowed down to their
 * pace (backpressure) instead of piling up unbounded memory.
 *
 * This header is the contract; do not change it. Write queue.c.
 */
#ifndef TL_TASKQ_H
#define TL_TASKQ_H

#include <stddef.h>

/* A unit of work: somebody will call fn(arg). Copied by value into the queue. */
struct task {
    void (*fn)(void *arg);
    void *arg;
};

typedef struct taskq taskq;

/* A new open, empty queue holding at most capacity tasks. Returns NULL with
 * errno EINVAL when capacity is 0, ENOMEM when an allocation fails (then
 * nothing is left allocated). Never blocks. */
taskq *taskq_create(size_t capacity);

/* Append t at the tail. Blocks while the queue is full and still open.
 * Returns 0, or EPIPE when the queue is closed (before the call or while it
 * waited); t is then not queued. */
int taskq_push(taskq *q, struct task t);

/* Take the task at the head into *out. Blocks while the queue is empty and
 * still open. Returns 0, or EPIPE once the queue is closed and empty (tasks
 * queued before taskq_close() are still handed out first). */
int taskq_pop(taskq *q, struct task *out);

/* Close the queue: from now on pushes fail with EPIPE and pops drain what is
 * left, then fail. Wakes every thread blocked in taskq_push() or
 * taskq_pop(). Calling it again does nothing. Blocks only on the lock. */
void taskq_close(taskq *q);

/* Number of tasks queued right now (a snapshot). Blocks only on the lock. */
size_t taskq_len(taskq *q);

/* Free q. The caller guarantees that no thread uses q any more. */
void taskq_destroy(taskq *q);

#endif /* TL_TASKQ_H */
