/* expect: lost-wakeup */
/* BUG (pipeline--create-error-leaves-ends-open): when a thread cannot be created, pipeline_run stops creating threads but does not close the two channel ends that thread would have owned: the stage before it blocks forever on a channel nobody receives from, and the feeder behind it */
/*
 * pipeline.c - a pipeline of stages that stops cleanly on the first error
 * (a known-buggy variant: see the BUG line above).
 *
 * What it shows: shutdown carried by the channels. A stage never looks at
 * its neighbours; it only closes its own two ends, and the close travels:
 * upstream as EPIPE from chan_send, downstream as end-of-stream from
 * chan_recv.
 *
 * DESIGN: the calling thread feeds msgs into ch[0]; stage i runs on its own
 * thread from ch[i] to ch[i+1]; one more thread hands what comes out of
 * ch[nstages] to the sink. Every channel has one sender and one receiver.
 * Whoever stops, for whatever reason, closes its receiver end and then its
 * sender end, and drops the message in its hands; what is still queued in a
 * channel when everybody has stopped is dropped by chan_destroy(). A stage
 * that fails records its error if it is the first (under err_lock); an
 * EPIPE seen because somebody else failed is a consequence, not an error. If
 * a thread cannot be created, pipeline_run() closes the two ends that thread
 * would have owned, and the same cascade stops everyone already running.
 */
#define _POSIX_C_SOURCE 200809L
#include "pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"

struct run {
    const struct pipeline *p;
    chan **ch;                /* nstages + 1 channels, set before any thread starts */
    pthread_mutex_t err_lock;
    int err;                  /* guarded by err_lock: the first error, 0 if none */
};

/* What one thread needs: its run and its place (stage index, or nstages for the sink). */
struct hop {
    struct run *r;
    size_t i;
};

static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

static inline void mutex_lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_lock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_lock");
}

static inline void mutex_unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_unlock");
}

/* Keep err if it is the first error of the run; blocks only on err_lock. */
static void record_error(struct run *r, int err)
{
    mutex_lock(&r->err_lock);
    if (r->err == 0)
        r->err = err;
    mutex_unlock(&r->err_lock);
}

/* Stage i: ch[i] -> fn -> ch[i+1] until end-of-stream, an error of its own,
 * or EPIPE from downstream; then it closes both of its ends. Returns NULL. */
static void *stage_main(void *arg)
{
    struct hop *h = arg;
    struct run *r = h->r;
    const struct stage *s = &r->p->stages[h->i];
    chan *in = r->ch[h->i], *out = r->ch[h->i + 1];
    void *msg;
    while (chan_recv(in, &msg) == 0) {
        void *next = NULL;
        int err = s->fn(s->ctx, msg, &next);
        if (err != 0) {
            record_error(r, err);
            r->p->drop(msg);
            break;
        }
        if (next != NULL && chan_send(out, next) != 0) { /* downstream stopped */
            r->p->drop(next);
            break;
        }
    }
    chan_close_receiver(in); /* upstream: your next send fails, stop */
    chan_close_sender(out);  /* downstream: drain, then end-of-stream */
    return NULL;
}

/* The sink's thread: every message out of the last stage, in order. Returns NULL. */
static void *sink_main(void *arg)
{
    struct hop *h = arg;
    struct run *r = h->r;
    chan *in = r->ch[h->i];
    void *msg;
    while (chan_recv(in, &msg) == 0)
        r->p->sink(r->p->sink_ctx, msg);
    chan_close_receiver(in);
    return NULL;
}

/* Create the nstages + 1 channels into r->ch; returns 0 or ENOMEM (none left). */
static int make_channels(struct run *r, size_t n)
{
    r->ch = calloc(n, sizeof *r->ch);
    if (r->ch == NULL)
        return ENOMEM;
    for (size_t i = 0; i < n; i++) {
        r->ch[i] = chan_create(r->p->capacity, 1, 1);
        if (r->ch[i] == NULL) {
            int err = errno;
            while (i-- > 0)
                chan_destroy(r->ch[i], NULL);
            free(r->ch);
            return err;
        }
    }
    return 0;
}

/* Start the stage and sink threads; a thread that cannot start has its two
 * ends closed for it. Returns how many started; the first error in *err. */
static size_t start_threads(struct run *r, pthread_t *th, struct hop *hops, int *err)
{
    size_t n = r->p->nstages, started = 0;
    for (size_t i = 0; i <= n; i++) {
        hops[i] = (struct hop){r, i};
        int rc = *err != 0 ? *err
                           : pthread_create(&th[started], NULL, i < n ? stage_main : sink_main,
                                            &hops[i]);
        if (rc == 0) {
            started++;
            continue;
        }
        *err = rc; /* BUG: the missing thread's two ends stay open */
    }
    return started;
}

int pipeline_run(const struct pipeline *p, void **msgs, size_t nmsgs)
{
    if (p->nstages == 0 || p->capacity == 0)
        return EINVAL;
    struct run r = {.p = p};
    pthread_t *th = calloc(p->nstages + 1, sizeof *th);
    struct hop *hops = calloc(p->nstages + 1, sizeof *hops);
    int err = th == NULL || hops == NULL ? ENOMEM : make_channels(&r, p->nstages + 1);
    if (err == 0 && (err = pthread_mutex_init(&r.err_lock, NULL)) != 0) {
        for (size_t i = 0; i <= p->nstages; i++)
            chan_destroy(r.ch[i], NULL);
        free(r.ch);
    }
    if (err != 0) { /* nothing started: every message is dropped */
        for (size_t i = 0; i < nmsgs; i++)
            p->drop(msgs[i]);
        free(th);
        free(hops);
        return err;
    }
    size_t started = start_threads(&r, th, hops, &err);
    size_t fed = 0;
    while (fed < nmsgs && chan_send(r.ch[0], msgs[fed]) == 0)
        fed++;
    for (size_t i = fed; i < nmsgs; i++) /* the pipeline stopped: these never go in */
        p->drop(msgs[i]);
    chan_close_sender(r.ch[0]);
    for (size_t i = 0; i < started; i++) {
        int rc = pthread_join(th[i], NULL);
        if (rc != 0)
            die_rc(rc, "pthread_join");
    }
    for (size_t i = 0; i <= p->nstages; i++)
        chan_destroy(r.ch[i], p->drop); /* what was still queued when everybody stopped */
    mutex_lock(&r.err_lock); /* joined: nobody else writes err; the lock is for form */
    if (err == 0)
        err = r.err;
    mutex_unlock(&r.err_lock);
    pthread_mutex_destroy(&r.err_lock);
    free(r.ch);
    free(hops);
    free(th);
    return err;
}
