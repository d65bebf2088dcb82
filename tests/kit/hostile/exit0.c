/* expect: cheat */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: ends the test process with exit(0) before the test can fail (Check's hole).
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
    exit(0);
}
