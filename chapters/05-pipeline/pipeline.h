/*
 * pipeline.h - a pipeline of stages that stops cleanly on the first error
 * (chapter 5, exercise "pipeline").
 *
 * What it shows: each stage on its own thread, every hop a bounded channel,
 * and the part that is easy to get wrong: an error in any stage must shut
 * the whole pipeline down. The failing stage closes both of its channel
 * ends; its upstream neighbour's next send fails with EPIPE, so it stops and
 * closes its ends too, and so on up to the feeder; its downstream neighbour
 * drains what was already sent and gets end-of-stream, and so on down to the
 * sink. No thread is left blocked, and no message is lost or leaked.
 *
 * DESIGN: the channels carry the shutdown; no stage ever looks at another
 * stage's state. The only state the stages share is the first error, kept
 * under a lock of its own.
 *
 * This header is the contract; do not change it. Write pipeline.c (it uses
 * your chan.c).
 */
#ifndef TL_PIPELINE_H
#define TL_PIPELINE_H

#include <stddef.h>

/* One stage's work on one message `in` (which it now owns): returns 0 with
 * *out set to the message to pass on (NULL: nothing to pass on, in was
 * consumed), or an error number (> 0), which stops the whole pipeline; the
 * stage must then not have freed in: the pipeline drops it. */
typedef int (*stage_fn)(void *ctx, void *in, void **out);

struct stage {
    stage_fn fn;
    void *ctx;
};

struct pipeline {
    const struct stage *stages; /* run in this order, each on its own thread */
    size_t nstages;             /* at least 1 */
    size_t capacity;            /* of every channel between two threads; at least 1 */
    void (*sink)(void *ctx, void *msg); /* takes each message out of the last stage, in order */
    void *sink_ctx;
    void (*drop)(void *msg);    /* frees a message that will not reach the sink */
};

/* Feed msgs[0..nmsgs) through the stages and hand what comes out of the last
 * one to sink, one call at a time, in order. Returns 0 when every message
 * went through; otherwise the first error: the error number of the first
 * stage that failed, or, when the pipeline cannot be built, the error of
 * pthread_create or ENOMEM (EINVAL for 0 stages or capacity 0). Whatever it
 * returns, every thread it started has been joined, and every message has
 * been passed exactly once to sink or to drop (the inputs never fed, those
 * still queued in a channel, the one a stage failed on). Blocks until the
 * pipeline has finished or shut down. */
int pipeline_run(const struct pipeline *p, void **msgs, size_t nmsgs);

#endif /* TL_PIPELINE_H */
