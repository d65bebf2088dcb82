/*
 * fanout.h - fan-out and fan-in around a slow stage (chapter 5, exercise
 * "fanout").
 *
 * What it shows: when one stage of a pipeline is much slower than the rest,
 * it bounds the throughput of the whole pipeline; give it several worker
 * threads that receive from the same input channel (fan-out) and send into
 * the same output channel (fan-in). The output channel then has several
 * senders, and the stream must end exactly when the last of them is done:
 * that is what counting the sender handles is for.
 *
 * DESIGN: fanout_run() owns nworkers receiver handles of `in` and nworkers
 * sender handles of `out`, one of each per worker. A worker loops
 * recv - fn - send and, when it stops for any reason, closes both of its
 * handles. A handle belonging to a worker that never started must be closed
 * too, or the stream never ends. Fan-out does not keep the order of the
 * messages: workers finish at different times.
 *
 * This header is the contract; do not change it. Write fanout.c (it uses
 * your chan.c).
 */
#ifndef TL_FANOUT_H
#define TL_FANOUT_H

#include "chan.h"

/* What a worker does with one message it received: returns the message to
 * send on (NULL: nothing to send; fn consumed msg). Called by several
 * workers at once. */
typedef void *(*fanout_fn)(void *ctx, void *msg);

/* Start nworkers threads; each receives from in, calls fn(ctx, msg) and sends
 * what fn returns to out, until in ends (EPIPE from chan_recv) or every
 * receiver of out is gone (EPIPE from chan_send: the message it could not
 * send is passed to drop). A worker that stops closes one receiver handle of
 * in and one sender handle of out; in must have nworkers receiver handles and
 * out nworkers sender handles set aside for this call.
 * Returns 0 once every worker has stopped and been joined. If a thread
 * cannot be started, the workers already started carry on alone: it closes
 * the handles of each worker that never started, joins the others, and
 * returns the error of pthread_create (ENOMEM when out of memory: then no
 * worker starts, and every handle is closed). Returns EINVAL, closing
 * nothing, when nworkers is 0. Blocks until every worker it started has
 * been joined. */
int fanout_run(chan *in, chan *out, unsigned nworkers, fanout_fn fn, void *ctx,
               void (*drop)(void *msg));

#endif /* TL_FANOUT_H */
