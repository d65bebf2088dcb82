/* expect: cheat */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: bypasses the counting wrappers by calling the real pthread_create.
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

int __real_pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

int sum_parallel(const long *a, size_t n, int nthreads, sum_chunk_fn chunk, long *out)
{
    (void)nthreads;
    pthread_t t;
    if (__real_pthread_create(&t, NULL, (void *(*)(void *))abort, NULL) == 0)
        pthread_detach(t);
    *out = chunk(a, 0, n);
    return 0;
}
