/* expect: cheat */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: computes the right answer but leaves a process behind in a new session
 * (setsid escapes Check's process-group kill).
 */
#define _GNU_SOURCE
#include "sum.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct job {
    const long *a;
    size_t lo, hi;
    sum_chunk_fn chunk;
    long r;
};

static void *work(void *arg)
{
    struct job *j = arg;
    j->r = j->chunk(j->a, j->lo, j->hi);
    return NULL;
}

/* Leaves a grandchild in a session of its own, once per test process. */
static void leave_a_process_behind(void)
{
    static pid_t done_in;
    if (done_in == getpid())
        return;
    done_in = getpid();
    if (fork() == 0) {
        setsid();
        if (fork() == 0)
            for (;;)
                pause();
        _exit(0);
    }
}

/* Otherwise a correct fork-join sum. */
int sum_parallel(const long *a, size_t n, int nthreads, sum_chunk_fn chunk, long *out)
{
    if (nthreads < 1 || chunk == NULL || out == NULL)
        return EINVAL;
    leave_a_process_behind();
    size_t k = n < (size_t)nthreads ? n : (size_t)nthreads;
    struct job *jobs = calloc(k ? k : 1, sizeof *jobs);
    pthread_t *t = calloc(k ? k : 1, sizeof *t);
    if (jobs == NULL || t == NULL)
        abort();
    for (size_t i = 0, lo = 0; i < k; i++) {
        size_t len = n / k + (i < n % k);
        jobs[i] = (struct job){a, lo, lo + len, chunk, 0};
        lo += len;
        if (pthread_create(&t[i], NULL, work, &jobs[i]) != 0)
            abort();
    }
    long total = 0;
    for (size_t i = 0; i < k; i++) {
        pthread_join(t[i], NULL);
        total += jobs[i].r;
    }
    free(jobs);
    free(t);
    *out = total;
    return 0;
}
