/*
 * workload_joinall.c - a typical run of exercise 01-fork-join/joinall, for
 * its timeline: six jobs, two of which fail.
 *
 * DESIGN: each job is a traced span of real work, and a failing job leaves
 * a mark; the timeline then shows every thread being joined, also after
 * the first failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "joinall.h"
#include "trace.h"

/* Job i: some arithmetic; jobs 2 and 4 fail. */
static int job(size_t i, long *value)
{
    tl_trace_begin("job");
    unsigned long x = i + 1;
    for (int k = 0; k < 200000 * (int)(i + 1); k++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    tl_trace_end();
    if (i == 2 || i == 4) {
        tl_trace_mark(i == 2 ? "fail EIO" : "fail ENOENT");
        return i == 2 ? EIO : ENOENT;
    }
    *value = (long)(x >> 40);
    return 0;
}

int main(void)
{
    tl_trace_name_thread("main");
    long values[6];
    size_t failed = 0;
    int rc = joinall_run(6, job, values, &failed);
    if (rc == ENOSYS) {
        printf("joinall_run: %s\n", strerror(rc));
        return 1;
    }
    for (size_t i = 0; i < 6; i++)
        printf("values[%zu] = %ld\n", i, values[i]);
    printf("joinall_run returned %d (%s)%s", rc, strerror(rc), rc ? "" : "\n");
    if (rc != 0)
        printf(", first failed job: %zu\n", failed);
    return 0;
}
