/*
 * sema.h - a counting semaphore built as a monitor (chapter 6, exercise
 * "sema").
 *
 * What it shows: the monitor, the oldest recipe for a shared object that
 * threads wait on: one mutex guards the state, one condition variable is
 * the place to wait until the state is right. Here the state is a count of
 * free units (connections in a pool, slots in a buffer, permits to run),
 * and a caller may ask for several units at once.
 *
 * DESIGN: acquire waits in `while (value < n) cond_wait(...)`: a wake-up
 * only says "look again", never "it is your turn" (another thread may have
 * taken the units first, or the wake-up was spurious). A release can make
 * room for several waiters at once, and for waiters other than the one a
 * signal would pick (one that wants 3 units when only 1 came back), so it
 * broadcasts.
 *
 * This header is the contract; do not change it. Write sema.c.
 */
#ifndef TL_SEMA_H
#define TL_SEMA_H

#include <stdbool.h>

typedef struct sema sema;

/* A new semaphore with `initial` free units. Returns NULL with errno ENOMEM
 * when out of memory (nothing is left allocated then). Never blocks. */
sema *sema_create(unsigned initial);

/* Take n units (n >= 1) all at once. Blocks, without spinning, until at
 * least n are free. */
void sema_acquire(sema *s, unsigned n);

/* Take n units if at least n are free now. Returns whether it took them;
 * blocks only on the lock. */
bool sema_try_acquire(sema *s, unsigned n);

/* Give back n units and wake every waiter that may now proceed. Blocks only
 * on the lock. */
void sema_release(sema *s, unsigned n);

/* The number of free units now (a snapshot). Blocks only on the lock. */
unsigned sema_value(sema *s);

/* Free s. The caller guarantees that no thread uses or waits on s any more.
 * Never blocks. */
void sema_destroy(sema *s);

#endif /* TL_SEMA_H */
