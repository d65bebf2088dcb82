/* expect: wrong-result|data-race */
/* BUG (deque--push-into-old-buffer): after growing, the push still writes the task into the old buffer, which nobody reads any more: pop and steal find the new buffer's empty slot, so the task is lost and NULL comes out instead */
/*
 * deque.c - a Chase-Lev work-stealing deque
 * (a known-buggy variant: see the BUG line above).
 *
 * What it shows: the owner works at the bottom end without a lock and
 * without a compare-and-swap; thieves claim the top task with one
 * compare-and-swap on top; the two only race for the last task, and then
 * the owner uses the same compare-and-swap. The orderings follow Le, Pop,
 * Cohen and Zappa Nardelli, "Correct and Efficient Work-Stealing for Weak
 * Memory Models" (PPoPP 2013), with one change for ThreadSanitizer: the push
 * publishes bottom with a release store instead of a release fence followed
 * by a relaxed store (the same guarantee; TSan does not model fences).
 *
 * DESIGN: top and bottom are signed 64-bit. The owner's pop first takes its
 * task by lowering bottom, and only then looks at top; a thief reads top,
 * then bottom. Without a full (seq_cst) fence between the owner's store of
 * bottom and its load of top, the store may still sit in the core's store
 * buffer when the load runs (x86 does this: store-load is the one reordering
 * it allows), and a thief and the owner can both take the same task. Growth
 * copies the live tasks into a buffer twice as large and then publishes it;
 * a thief may still be reading the old buffer, so old buffers are chained
 * and freed only by deque_destroy() (the chain's total size is less than the
 * current buffer's, so this costs at most twice the memory).
 */
#define _POSIX_C_SOURCE 200809L
#include "deque.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* A circular buffer of 2^k slots. The slots are atomics because a thief reads
 * a slot that the owner may be overwriting (the thief then loses its CAS and
 * drops what it read). */
struct buf {
    int64_t mask;              /* capacity - 1; read-only */
    struct buf *older;         /* the buffer this one replaced, or NULL */
    _Atomic(void *) slot[];
};

/* top is stored by thieves (CAS) and by the owner (CAS on the last task);
 * bottom and buf are stored only by the owner. The padding keeps the thieves'
 * top off the owner's line (malloc promises only 16-byte alignment). */
struct deque {
    char pad0[64];
    _Atomic(int64_t) top;
    char pad1[64];
    _Atomic(int64_t) bottom;
    _Atomic(struct buf *) buf;
    char pad2[64];
};

/* Returns a buffer of 2^log2 empty slots, or NULL when out of memory. */
static struct buf *buf_new(unsigned log2)
{
    int64_t cap = (int64_t)1 << log2;
    struct buf *b = malloc(sizeof *b + (size_t)cap * sizeof b->slot[0]);
    if (b == NULL)
        return NULL;
    b->mask = cap - 1;
    b->older = NULL;
    for (int64_t i = 0; i < cap; i++)
        atomic_init(&b->slot[i], NULL);
    return b;
}

deque *deque_create(unsigned log2cap)
{
    if (log2cap > 30) {
        errno = EINVAL;
        return NULL;
    }
    deque *d = malloc(sizeof *d);
    struct buf *b = buf_new(log2cap);
    if (d == NULL || b == NULL) {
        free(d);
        free(b);
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    atomic_init(&d->buf, b);
    return d;
}

/* snippet: grow */
/* Owner only: returns a buffer twice as large holding tasks t..b-1 of a, now
 * published as d->buf, or NULL when out of memory. a stays readable (chained)
 * for thieves that loaded it before. */
static struct buf *grow(deque *d, struct buf *a, int64_t b, int64_t t)
{
    unsigned log2 = 0;
    while (((int64_t)1 << log2) <= a->mask)
        log2++;
    if (log2 >= 40)
        return NULL;
    struct buf *n = buf_new(log2 + 1);
    if (n == NULL)
        return NULL;
    for (int64_t i = t; i < b; i++)
        atomic_store_explicit(&n->slot[i & n->mask],
                              atomic_load_explicit(&a->slot[i & a->mask], memory_order_relaxed),
                              memory_order_relaxed);
    n->older = a;
    /* release: pairs with the acquire load of buf in deque_steal(), so a
     * thief that sees the new buffer sees the copied slots. */
    atomic_store_explicit(&d->buf, n, memory_order_release);
    return n;
}
/* end snippet: grow */

/* snippet: push */
bool deque_push(deque *d, void *task)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed); /* only we store it */
    /* acquire: pairs with the thieves' CAS on top, so the slots they took are
     * free before we overwrite them. */
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    struct buf *a = atomic_load_explicit(&d->buf, memory_order_relaxed);
    if (b - t > a->mask) {             /* full: grow, and push into the NEW buffer */
        struct buf *n = grow(d, a, b, t); /* BUG: keeps pushing into a, the old buffer */
        if (n == NULL) {
            errno = ENOMEM;
            return false;
        }
    }
    atomic_store_explicit(&a->slot[b & a->mask], task, memory_order_relaxed);
    /* release: pairs with the acquire load of bottom in deque_steal(): the
     * slot, and everything written before the push, is visible to a thief
     * that sees the new bottom. */
    atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
    return true;
}
/* end snippet: push */

/* snippet: pop */
void *deque_pop(deque *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
    struct buf *a = atomic_load_explicit(&d->buf, memory_order_relaxed);
    atomic_store_explicit(&d->bottom, b, memory_order_relaxed); /* claim slot b first... */
    /* ...then look at top. The fence orders the store before the load (the
     * store-load order x86 does not keep by itself); it pairs with the fence
     * in deque_steal(): of a thief and the owner going for the same task, at
     * least one sees the other's index. */
    atomic_thread_fence(memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
    if (t > b) { /* it was empty: put bottom back */
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
        return NULL;
    }
    void *task = atomic_load_explicit(&a->slot[b & a->mask], memory_order_relaxed);
    if (t == b) { /* the last task: race the thieves for it on top */
        if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                     memory_order_relaxed))
            task = NULL; /* a thief won */
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    }
    return task;
}
/* end snippet: pop */

/* snippet: steal */
enum deque_steal_result deque_steal(deque *d, void **out)
{
    /* acquire: pairs with the CAS of other thieves and the owner on top. */
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    atomic_thread_fence(memory_order_seq_cst); /* pairs with the fence in deque_pop() */
    /* acquire: pairs with the release store of bottom in deque_push(). */
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_acquire);
    if (t >= b)
        return DEQUE_EMPTY;
    /* acquire: pairs with the release store of buf in grow(). */
    struct buf *a = atomic_load_explicit(&d->buf, memory_order_acquire);
    void *task = atomic_load_explicit(&a->slot[t & a->mask], memory_order_relaxed);
    /* The claim: only the thread whose CAS moves top from t to t+1 owns task. */
    if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return DEQUE_ABORT;
    *out = task;
    return DEQUE_OK;
}
/* end snippet: steal */

void deque_destroy(deque *d)
{
    if (d == NULL)
        return;
    struct buf *a = atomic_load_explicit(&d->buf, memory_order_relaxed);
    while (a != NULL) {
        struct buf *older = a->older;
        free(a);
        a = older;
    }
    free(d);
}
