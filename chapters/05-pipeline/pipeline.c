/*
 * pipeline.c - a pipeline of stages that stops cleanly on the first error
 * (exercise: write it).
 *
 * What it shows: shutdown carried by the channels. A stage never looks at
 * its neighbours; it only closes its own two ends, and the close travels:
 * upstream as EPIPE from chan_send, downstream as end-of-stream from
 * chan_recv.
 *
 * DESIGN: the calling thread feeds msgs into ch[0]; stage i runs on its own
 * thread from ch[i] to ch[i+1]; one more thread hands what comes out of
 * ch[nstages] to the sink. Every channel has one sender and one receiver.
 * Whoever stops, for whatever reason, closes its receiver end and its
 * sender end and drops the message in its hands. Only the first real error
 * counts: an EPIPE because somebody else stopped is not one. Read
 * pipeline.h for the contract and book section 5.4 for the idea;
 * `make grade EX=05-pipeline/pipeline` tells you how you are doing.
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
    /* TODO: under err_lock, keep err only if no error was kept before. */
    (void)r;
    (void)err;
}

/* Stage i: ch[i] -> fn -> ch[i+1] until end-of-stream, an error of its own,
 * or EPIPE from downstream; then it closes both of its ends. Returns NULL. */
static void *stage_main(void *arg)
{
    /* TODO: receive from ch[i]; call the stage's fn; on an error, record it,
     * drop the message and stop; send what fn gives (unless NULL) to
     * ch[i+1], and if that fails, drop it and stop. Then close the receiver
     * end of ch[i] and the sender end of ch[i+1]. */
    (void)arg;
    (void)record_error;
    return NULL;
}

/* The sink's thread: every message out of the last stage, in order. Returns NULL. */
static void *sink_main(void *arg)
{
    /* TODO: receive from the last channel until end-of-stream, calling sink
     * on each message; then close that receiver end. */
    (void)arg;
    return NULL;
}

int pipeline_run(const struct pipeline *p, void **msgs, size_t nmsgs)
{
    /* TODO, in this order:
     * - reject 0 stages or capacity 0 (EINVAL);
     * - create nstages + 1 channels (1 sender, 1 receiver each) and the
     *   mutex; if that fails, free what you made, drop every message and
     *   return the error;
     * - start the stage threads and the sink thread; for a thread that
     *   cannot start, close the two channel ends it would have owned (and
     *   start no more);
     * - feed msgs into the first channel until one send fails; drop the
     *   rest; close your sender end;
     * - join every thread started; destroy the channels, dropping what is
     *   still queued; return the first error (or 0). */
    (void)p;
    (void)msgs;
    (void)nmsgs;
    (void)stage_main;
    (void)sink_main;
    return ENOSYS;
}
