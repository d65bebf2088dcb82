/* expect: wrong-result|not-parallel */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: tries to overwrite the grader's files (its build folder, the secret
 * channel, other runs) with forged verdicts, then returns a wrong answer.
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

static void scribble(const char *dir, int depth)
{
    char path[4096];
    static const char *const names[] = {"meta", "secret", "rc", "info", "results.json", "summary"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        int fd = open(path, O_WRONLY | O_APPEND);
        if (fd >= 0) {
            const char forged[] = "compile=ok\npoints=1000\nRES x y 0 P forged\nDONE x 1\n";
            if (write(fd, forged, sizeof forged - 1) < 0)
                break;
            close(fd);
        }
    }
    if (depth < 4) {
        snprintf(path, sizeof path, "%s/..", dir);
        scribble(path, depth + 1);
    }
}

int sum_parallel(const long *a, size_t n, int nthreads, sum_chunk_fn chunk, long *out)
{
    (void)a, (void)n, (void)nthreads, (void)chunk;
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL)
            *slash = '\0';
        scribble(exe, 0);
    }
    scribble(".", 0);
    *out = 7;
    return 0;
}
