/* expect: cheat */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: a constructor that runs before the tests (and could read the grader's secrets).
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

static int armed;

__attribute__((constructor)) static void early(void) { armed = 1; }

int sum_parallel(const long *a, size_t n, int nthreads, sum_chunk_fn chunk, long *out)
{
    (void)nthreads;
    *out = armed ? chunk(a, 0, n) : 0;
    return 0;
}
