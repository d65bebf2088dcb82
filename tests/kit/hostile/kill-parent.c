/* expect: crash|hang */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: tries to kill the grader (its parent, its group, and every process it may).
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

int sum_parallel(const long *a, size_t n, int nthreads, sum_chunk_fn chunk, long *out)
{
    (void)a, (void)n, (void)nthreads, (void)chunk, (void)out;
    kill(getppid(), SIGKILL);
    kill(0, SIGKILL);
    kill(-1, SIGKILL);
    raise(SIGKILL);
    return 0;
}
