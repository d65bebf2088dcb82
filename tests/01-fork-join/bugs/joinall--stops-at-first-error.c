/* expect: thread-leak */
/* BUG (joinall--stops-at-first-error): the join loop returns at the first failed job, so the threads after it are never joined (they leak, with their outcomes) and the values of the jobs after it are never stored. */
/*
 * joinall.c - exercise 2 of chapter 1: results and errors across threads
 * (known-buggy variant).
 *
 * What it shows: a thread's result travels in two heap objects. Its task
 * (what to do) is allocated by the parent and freed by the child: ownership
 * moves with pthread_create. Its outcome (what happened) is allocated by the
 * child and freed by the parent: ownership moves back with pthread_join.
 *
 * DESIGN: the join loop never breaks. Every thread is joined and every
 * outcome freed; the first error (by job index) is remembered on the way and
 * returned at the end. Returning early would leave the remaining threads
 * unjoined - their stacks and outcomes leak, and they may still be running
 * when the caller frees what they use.
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

/* Prints what failed and why (rc is an error number: pthreads leave errno alone); never returns. */
static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

/* Thread body: runs one job. Frees its task; returns a malloc'd outcome
 * (NULL if out of memory) for the joiner to free. */
static void *joinall_worker(void *arg)
{
    struct joinall_task *task = arg; /* ours now: the parent let go of it */
    struct joinall_outcome *out = malloc(sizeof *out);
    if (out != NULL) {
        out->value = 0;
        out->err = task->job(task->index, &out->value);
        if (out->err != 0)
            out->value = 0;
    }
    free(task);
    return out; /* a heap pointer: it outlives this thread's stack */
}

int joinall_run(size_t n, joinall_job_fn job, long values[], size_t *failed)
{
    if (n == 0)
        return 0;
    if (job == NULL || values == NULL)
        return EINVAL;
    pthread_t *tids = calloc(n, sizeof *tids);
    if (tids == NULL)
        return ENOMEM;

    int err = 0;           /* first error by index, 0 if none yet */
    size_t err_index = 0;
    size_t started = 0;
    for (; started < n; started++) {
        struct joinall_task *task = malloc(sizeof *task);
        if (task == NULL) {
            err = ENOMEM;
            break;
        }
        task->job = job;
        task->index = started;
        int rc = pthread_create(&tids[started], NULL, joinall_worker, task);
        if (rc != 0) {
            free(task); /* the thread never started: the task is still ours */
            err = rc;
            break;
        }
    }
    int start_err = err;

    /* Join them all; an error is noted, never a reason to stop joining. */
    for (size_t i = 0; i < started; i++) {
        void *ret;
        int rc = pthread_join(tids[i], &ret);
        if (rc != 0)
            die_rc(rc, "pthread_join");
        struct joinall_outcome *out = ret;
        int e = out != NULL ? out->err : ENOMEM;
        values[i] = e == 0 ? out->value : 0; /* BUG: the first error by index is no longer noted here */
        free(out);
        if (e != 0) { /* BUG: returns at the first failed job... */
            free(tids);
            if (failed != NULL)
                *failed = i;
            return e; /* BUG: ...leaving the threads after i unjoined */
        }
    }
    free(tids);
    if (start_err != 0)
        return start_err;
    if (err != 0 && failed != NULL)
        *failed = err_index;
    return err;
}
