/*
 * fanout.c - fan-out and fan-in around a slow stage (exercise: write it).
 *
 * What it shows: several workers on one input channel and one output
 * channel, and why the output's senders are counted: the stream ends when
 * the last worker closes its handle, not the first.
 *
 * DESIGN: every worker runs the same loop, recv - fn - send, and closes one
 * receiver handle of `in` and one sender handle of `out` on its way out,
 * whatever made it stop. If pthread_create fails part-way, somebody must
 * close the handles of the workers that never started, or the counts never
 * reach zero. Read fanout.h for the contract and book section 5.3 for the
 * idea; `make grade EX=05-pipeline/fanout` tells you how you are doing.
 */
#define _POSIX_C_SOURCE 200809L
#include "fanout.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What every worker needs; read-only while they run. */
struct job {
    chan *in, *out;
    fanout_fn fn;
    void *ctx;
    void (*drop)(void *msg);
};

/* Checked pthread calls: use it where a failure cannot be handled. */
static inline void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

/* One worker: until the input ends or nobody listens, recv - fn - send;
 * then close one handle at each end. Returns NULL. */
static void *worker_main(void *arg)
{
    /* TODO: receive until chan_recv fails; send what fn returns (unless
     * NULL); if a send fails, drop that message and stop; then close one
     * receiver handle of in and one sender handle of out. */
    (void)arg;
    return NULL;
}

int fanout_run(chan *in, chan *out, unsigned nworkers, fanout_fn fn, void *ctx,
               void (*drop)(void *msg))
{
    /* TODO: reject nworkers 0 (EINVAL); start nworkers threads running
     * worker_main on one shared struct job; if a start fails, close the two
     * handles of every worker that did not start and remember the error;
     * join every worker that started; return 0 or the error. */
    struct job j = {in, out, fn, ctx, drop};
    (void)j;
    (void)nworkers;
    (void)worker_main;
    return ENOSYS;
}
