/* expect: wrong-result|not-parallel */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: prints a perfect Check summary and fake results, but computes nothing.
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
    printf("Running suite(s): 01-fork-join/sum\n100%%: Checks: 9, Failures: 0, Errors: 0\n");
    printf("{\"score\": 10, \"tests\": [{\"name\": \"01-fork-join/sum: all\", \"score\": 10}]}\n");
    fprintf(stderr, "\x1b[2J\xff\xfe invalid UTF-8 and \"quotes\" \\ backslashes\n");
    *out = 42;
    return 0;
}
