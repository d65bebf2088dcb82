/* expect: cheat|crash|hang|wrong-result|not-parallel|error-path */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: a fork bomb. Process limits must stop it and nothing may survive; with its
 * processes capped by the run's own pids cgroup, the sum then cannot start its threads.
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
    (void)a, (void)n, (void)nthreads, (void)chunk;
    for (int i = 0; i < 100000; i++)
        if (fork() < 0)
            break;
    *out = -1;
    return 0;
}
