/* expect: crash|memory|hang */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: allocates and touches memory until something stops it.
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
    long total = 0;
    for (;;) {
        char *p = malloc(64 << 20);
        if (p == NULL)
            abort();
        memset(p, 1, 64 << 20);
        total += p[4096];
        *out = total;
    }
    return 0;
}
