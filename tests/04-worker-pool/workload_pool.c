/*
 * workload_pool.c - your pool at work, for `make timeline EX=04-worker-pool/pool`.
 *
 * Three workers, a queue of 4 slots. The main thread submits 24 tasks of
 * uneven size (it blocks when the queue is full), waits for the pool to go
 * idle, submits 12 more and cancels while most are still queued, then
 * destroys the pool. In the timeline, look for the submitter blocking, the
 * pool_wait() that ends when the last task does, the submit -> run arrow
 * from main to the worker that ran each task, and the mark at main's cancel
 * that names the dropped tasks (their submit arrows lead nowhere).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pool.h"
#include "trace.h"

#define NTASKS 36

/* One task: its result, its label in the timeline, and the flow arrow from
 * the submit that queued it to the worker that runs it. */
struct task {
    uint64_t result;
    uint64_t flow;   /* written before pool_submit(), read by the task: the pool's lock orders them */
    char label[16];  /* "task 7": trace.h keeps the pointer until exit */
};
static struct task tasks[NTASKS];

static void work(void *arg)
{
    struct task *t = arg;
    uint64_t h = 14695981039346656037ull;
    long n = 60000 + (long)((t - tasks) % 5) * 45000; /* uneven tasks, long enough to read their labels */
    tl_trace_flow_in("run", t->flow);
    tl_trace_begin(t->label);
    for (long i = 0; i < n; i++)
        h = (h ^ (uint64_t)i) * 1099511628211ull;
    t->result = h | 1;
    tl_trace_end();
}

static size_t ndropped;
static char dropped_what[160] = "cancelled, dropped:"; /* the instant's label; lives until exit */

/* pool_cancel's hook: note which task was dropped, for the timeline's mark. */
static void dropped(pool_fn fn, void *arg)
{
    (void)fn;
    struct task *t = arg;
    size_t used = strlen(dropped_what);
    snprintf(dropped_what + used, sizeof dropped_what - used, " %d", (int)(t - tasks));
    ndropped++; /* called in pool_cancel's caller: no lock of ours needed */
}

/* Queue task i; returns pool_submit's status. */
static int submit(pool *p, int i)
{
    snprintf(tasks[i].label, sizeof tasks[i].label, "task %d", i);
    tasks[i].flow = tl_trace_flow_out("submit");
    return pool_submit(p, work, &tasks[i]);
}

int main(void)
{
    tl_trace_name_thread("main (client)");
    pool *p = pool_create(3, 4);
    if (p == NULL) {
        perror("pool_create");
        return 1;
    }
    for (int i = 0; i < 24; i++)
        submit(p, i);
    tl_trace_block("pool_wait");
    pool_wait(p);
    tl_trace_end();
    for (int i = 24; i < NTASKS; i++)
        if (submit(p, i) != 0)
            break;
    size_t n = pool_cancel(p, dropped);
    tl_trace_mark(n > 0 ? dropped_what : "cancelled, none dropped");
    pool_destroy(p);
    int ran = 0;
    for (int i = 0; i < NTASKS; i++)
        ran += tasks[i].result != 0;
    printf("%d tasks ran, %zu dropped (hook called %zu times)\n", ran, n, ndropped);
    return 0;
}
