/*
 * fanout.c - fan-out and fan-in around a slow stage (reference solution).
 *
 * What it shows: several workers on one input channel and one output
 * channel, and why the output's senders are counted: the stream ends when
 * the last worker closes its handle, not the first.
 *
 * DESIGN: every worker runs the same loop, recv - fn - send, and closes one
 * receiver handle of `in` and one sender handle of `out` on its way out,
 * whatever made it stop. fanout_run() creates the workers; if creation
 * fails part-way, it closes on behalf of each worker that never started the
 * two handles that worker would have closed, so the counts still reach zero
 * (the started workers carry on with the whole input), then joins the
 * workers it has. The workers share nothing but the two channels and the
 * read-only job.
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

static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

/* One worker: until the input ends or nobody listens, recv - fn - send;
 * then close one handle at each end. Returns NULL. */
static void *worker_main(void *arg)
{
    const struct job *j = arg;
    void *msg;
    while (chan_recv(j->in, &msg) == 0) {
        void *res = j->fn(j->ctx, msg);
        if (res != NULL && chan_send(j->out, res) != 0) {
            j->drop(res); /* every receiver of out is gone: stop */
            break;
        }
    }
    chan_close_receiver(j->in);
    chan_close_sender(j->out); /* the last worker's close ends the output stream */
    return NULL;
}

int fanout_run(chan *in, chan *out, unsigned nworkers, fanout_fn fn, void *ctx,
               void (*drop)(void *msg))
{
    if (nworkers == 0)
        return EINVAL;
    struct job j = {in, out, fn, ctx, drop};
    pthread_t *th = calloc(nworkers, sizeof *th);
    unsigned started = 0;
    int err = th == NULL ? ENOMEM : 0;
    while (err == 0 && started < nworkers) {
        err = pthread_create(&th[started], NULL, worker_main, &j);
        if (err == 0)
            started++;
    }
    for (unsigned i = started; i < nworkers; i++) { /* the handles of workers that never ran */
        chan_close_receiver(in);
        chan_close_sender(out);
    }
    for (unsigned i = 0; i < started; i++) {
        int rc = pthread_join(th[i], NULL);
        if (rc != 0)
            die_rc(rc, "pthread_join");
    }
    free(th);
    return err;
}
