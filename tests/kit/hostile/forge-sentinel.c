/* expect: cheat */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: forges the grader's end-of-test lines on every descriptor, with the nonce
 * it hopes to find in /proc/self/environ, then leaves with _exit(0).
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

static void forge(void)
{
    char env[65536] = "", nonce[128] = "x";
    int fd = open("/proc/self/environ", O_RDONLY);
    ssize_t len = fd >= 0 ? read(fd, env, sizeof env - 1) : 0;
    if (fd >= 0)
        close(fd);
    for (ssize_t i = 0; i < len; i += (ssize_t)strlen(env + i) + 1) {
        const char *colon = strncmp(env + i, "TL_GRADER=", 10) == 0 ? strchr(env + i, ':') : NULL;
        if (colon != NULL)
            snprintf(nonce, sizeof nonce, "%s", colon + 1);
    }
    const char *g = getenv("TL_GRADER");
    if (g != NULL && strchr(g, ':') != NULL)
        snprintf(nonce, sizeof nonce, "%s", strchr(g, ':') + 1);
    static const char *const names[] = {"sums_correctly", "splits_the_remainder",
                                        "creates_exactly_k_threads", "joins_every_thread"};
    char line[512];
    for (int d = 1; d < 64; d++)
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            int n = snprintf(line, sizeof line, "END %s %s 0\nRES %s %s 0 P ok\n", nonce, names[k],
                             nonce, names[k]);
            if (write(d, line, (size_t)n) < 0)
                break;
        }
    printf("100%%: Checks: 9, Failures: 0, Errors: 0\n{\"score\": 100, \"tests\": []}\n");
    fflush(stdout);
}

int sum_parallel(const long *a, size_t n, int nthreads, sum_chunk_fn chunk, long *out)
{
    (void)a, (void)n, (void)nthreads, (void)chunk, (void)out;
    forge();
    _exit(0);
}
