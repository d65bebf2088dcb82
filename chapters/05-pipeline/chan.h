/*
 * chan.h - a bounded blocking channel with counted senders and receivers
 * (chapter 5, exercise "chan").
 *
 * What it shows: the hop between two stages of a pipeline, with the close
 * rules of Rust's sync_channel written in C terms. A channel is created with
 * a number of sender handles and a number of receiver handles; each holder
 * closes its handle once when it is done. When the last sender has closed
 * and the queue is drained, receivers get end-of-stream (EPIPE). When the
 * last receiver has closed, a send fails at once with EPIPE instead of
 * blocking forever on a channel nobody will ever empty.
 *
 * DESIGN: one mutex guards a ring buffer of message pointers and the two
 * handle counts; two condition variables name the two reasons to wait
 * (not_empty for receivers, not_full for senders). Each close changes the
 * answer for every waiter at once, so the close that brings a count to zero
 * broadcasts; a send or a receive frees or fills exactly one slot, so it
 * signals one waiter, and only when somebody is waiting. The bound is the
 * point: a slow stage makes its upstream wait (backpressure) instead of
 * letting messages pile up.
 *
 * Messages are pointers the channel never looks at. Ownership moves with
 * them: a message sent is the receiver's; a send that fails leaves it with
 * the sender; chan_destroy() hands whatever is still queued to a drop
 * function, so no message is ever leaked.
 *
 * This header is the contract; do not change it. Write chan.c.
 */
#ifndef TL_CHAN_H
#define TL_CHAN_H

#include <stddef.h>

typedef struct chan chan;

/* A new channel holding at most capacity messages, with `senders` open sender
 * handles and `receivers` open receiver handles. Returns NULL with errno
 * EINVAL when capacity, senders or receivers is 0, ENOMEM when out of memory
 * (nothing is left allocated then). Never blocks. */
chan *chan_create(size_t capacity, unsigned senders, unsigned receivers);

/* Queue msg at the tail. Blocks while the channel is full and some receiver
 * is still open. Returns 0 (msg now belongs to the receivers), or EPIPE at
 * once when every receiver has closed, before the call or while it waited
 * (msg is then not queued and still belongs to the caller). */
int chan_send(chan *c, void *msg);

/* Take the message at the head into *out. Blocks while the channel is empty
 * and some sender is still open. Returns 0, or EPIPE (end-of-stream) once
 * every sender has closed and every message sent before has been received.
 * Messages from one sender come out in the order it sent them. */
int chan_recv(chan *c, void **out);

/* Close one sender handle; every sender calls it once when it is done. The
 * close of the last one wakes every receiver blocked in chan_recv(), which
 * then drain what is queued and get EPIPE. Extra calls do nothing. Blocks
 * only on the lock. */
void chan_close_sender(chan *c);

/* Close one receiver handle; every receiver calls it once when it is done.
 * The close of the last one wakes every sender blocked in chan_send(), which
 * then return EPIPE; later sends fail at once. Extra calls do nothing.
 * Blocks only on the lock. */
void chan_close_receiver(chan *c);

/* Number of messages queued right now (a snapshot, never more than the
 * capacity). Blocks only on the lock. */
size_t chan_len(chan *c);

/* Free c, first calling drop(msg) once for every message still queued (drop
 * may be NULL when there can be none). The caller guarantees that no thread
 * uses c any more. Never blocks. */
void chan_destroy(chan *c, void (*drop)(void *msg));

#endif /* TL_CHAN_H */
