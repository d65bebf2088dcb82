/*
 * joinall.c - exercise 2 of chapter 1: results and errors across threads.
 *
 * What it shows: a thread's result travels in two heap objects. Its task
 * (what to do) is allocated by the parent and freed by the child: ownership
 * moves with pthread_create. Its outcome (what happened) is allocated by the
 * child and freed by the parent: ownership moves back with pthread_join.
 *
 * DESIGN: the join loop never stops early. Join every thread, free every
 * outcome, remember the first error (by job index) on the way, and return it
 * at the end. Read joinall.h for the exact contract and book section 1.5.
 */
#define _POSIX_C_SOURCE 200809L
#include "joinall.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a thread is given: allocated by the parent, owned and freed by the child. */
struct joinall_task {
    joinall_job_fn job;
    size_t index;
};

/* What a thread hands back: allocated by the child, owned and freed by the joiner. */
struct joinall_outcome {
    long value;
    int err; /* 0, or the job's error number */
};

/* TODO: a thread body `static void *joinall_worker(void *arg)` that takes
 * ownership of its struct joinall_task, runs task->job(task->index, &value),
 * frees the task, and returns a malloc'd struct joinall_outcome. Never return
 * the address of a local variable: the thread's stack is gone after it exits. */

int joinall_run(size_t n, joinall_job_fn job, long values[], size_t *failed)
{
    /* TODO:
     * 1. n == 0: return 0. Check the arguments (EINVAL).
     * 2. Fork: for each i, malloc a task, pthread_create a thread for it.
     *    If malloc or pthread_create fails, remember the error (ENOMEM, or
     *    what pthread_create returned) and stop forking; if it was
     *    pthread_create, the task is still yours to free. Then go on to 3
     *    anyway: the threads already started must be joined.
     * 3. Join: pthread_join every thread you started, in index order, with a
     *    void* to receive its outcome. Store values[i]; remember the first
     *    error and its index; free the outcome. Do not stop at an error.
     * 4. Free the rest. A failed malloc or pthread_create in step 2 is the
     *    error to return; otherwise store *failed if a job failed and return
     *    that job's error (or 0).
     */
    (void)n;
    (void)job;
    (void)values;
    (void)failed;
    return ENOSYS;
}
