/* expect: hang|crash */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: floods the output forever; the capture must stay small and the run must end.
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
    char line[4096];
    memset(line, 'A', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    for (;;)
        if (fwrite(line, 1, sizeof line, stdout) == 0)
            break;
    return 0;
}
