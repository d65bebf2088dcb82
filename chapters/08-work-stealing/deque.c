/*
 * deque.c - a Chase-Lev work-stealing deque
 * (exercise: write it).
 *
 * What it shows: the owner pushes and pops at the bottom without a lock;
 * thieves take from the top with one compare-and-swap; the two race only for
 * the last task, which the owner then also claims with that compare-and-swap.
 * Comment every ordering with the operation it pairs with.
 *
 * DESIGN: top and bottom are signed 64-bit (the owner's pop takes bottom
 * below top for a moment on an empty deque). The buffer is a power of two
 * (slot i is slot[i & mask]) and doubles when a push finds it full; a thief
 * may still be reading the old buffer, so keep it (chain it) until
 * deque_destroy(). Read deque.h for the contract and book section 8.2 for the
 * idea; `make grade EX=08-work-stealing/deque` tells you how you are doing.
 */
#define _POSIX_C_SOURCE 200809L
#include "deque.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* A circular buffer of 2^k slots; the slots are atomics, because a thief may
 * read a slot the owner is overwriting (and then loses its CAS). */
struct buf {
    int64_t mask;              /* capacity - 1 */
    struct buf *older;         /* the buffer this one replaced, or NULL */
    _Atomic(void *) slot[];
};

struct deque {
    char pad0[64];
    _Atomic(int64_t) top;      /* TODO: who stores it (how?), who loads it, with which orderings? */
    char pad1[64];
    _Atomic(int64_t) bottom;   /* TODO: the same questions */
    _Atomic(struct buf *) buf; /* TODO: the same questions */
    char pad2[64];
};

deque *deque_create(unsigned log2cap)
{
    /* TODO: EINVAL when log2cap > 30; allocate the deque and a buffer of
     * 2^log2cap slots (ENOMEM, nothing left allocated); top = bottom = 0. */
    (void)log2cap;
    errno = ENOSYS;
    return NULL;
}

bool deque_push(deque *d, void *task)
{
    /* TODO: full when bottom - top > mask: grow (a new buffer twice as
     * large, the live tasks top..bottom-1 copied, published with release)
     * and push into the new one. Write the slot, then publish bottom + 1
     * (which ordering?). */
    (void)d;
    (void)task;
    errno = ENOSYS;
    return false;
}

void *deque_pop(deque *d)
{
    /* TODO: b = bottom - 1; store it; a seq_cst fence; load top. Empty
     * (top > b): put bottom back, NULL. More than one task (top < b): take
     * slot b. Exactly one (top == b): CAS top from t to t + 1 to claim it
     * against the thieves, and put bottom back to b + 1 either way. */
    (void)d;
    return NULL;
}

enum deque_steal_result deque_steal(deque *d, void **out)
{
    /* TODO: load top, a seq_cst fence, load bottom; empty if top >= bottom.
     * Read slot top of the current buffer, then claim it with a CAS of top
     * from t to t + 1: only the winner may return it. */
    (void)d;
    (void)out;
    return DEQUE_EMPTY;
}

void deque_destroy(deque *d)
{
    /* TODO: free every buffer (the chain of old ones too), then d. */
    (void)d;
}
