/* expect: hang */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: an infinite loop. The watchdog and the wall-clock limit must stop it.
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
    volatile long spin = 0;
    for (;;)
        spin++;
    *out = spin;
    return 0;
}
