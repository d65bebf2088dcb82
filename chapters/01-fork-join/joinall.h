/*
 * joinall.h - exercise 2 of chapter 1: results and errors across threads.
 *
 * What it shows: what a thread hands back when it is joined. A pthread
 * returns one void*; here it points to an outcome (a value, or an error)
 * that the thread allocated and the joining thread reads and frees.
 *
 * DESIGN: an error in one job is data, not a reason to walk away: the caller
 * still joins every thread (an unjoined thread is a leak, and its outcome
 * with it), and only then decides what to report. The error reported is the
 * one of the failed job with the smallest index - a choice that does not
 * depend on which thread happened to finish first, so the answer is the same
 * on every run.
 *
 * This header is the contract; do not edit it. Your code goes in joinall.c.
 */
#ifndef JOINALL_H
#define JOINALL_H

#include <stddef.h>

/* One job: computes the value for `index`. Returns 0 and stores the value
 * in *value, or returns an error number > 0 (and *value means nothing).
 * Supplied by the caller; safe to call from several threads at once. */
typedef int (*joinall_job_fn)(size_t index, long *value);

/* Runs job(0), ..., job(n - 1), each on a thread of its own (exactly n
 * threads, all started before any is joined), and joins every one of them,
 * also after a job has failed. Each thread returns its outcome through
 * pthread_join as a heap object that the caller frees.
 * Stores in values[i] the value of job i, or 0 if job i failed.
 * Returns 0 when every job succeeded; otherwise the error number of the
 * failed job with the smallest index, whose index it stores in *failed
 * (when failed is not NULL; *failed is left alone on success). Returns
 * EINVAL when job or values is NULL (n > 0). When a pthread_create or a
 * malloc fails, returns its error number (EAGAIN, ENOMEM), without starting
 * more threads, and only after joining every thread already started and
 * freeing everything it allocated (each task and each outcome).
 * Blocks until all the threads it created have been joined (never detach them). */
int joinall_run(size_t n, joinall_job_fn job, long values[], size_t *failed);

#endif /* JOINALL_H */
