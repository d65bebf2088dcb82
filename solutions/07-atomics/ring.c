/*
 * ring.c - a single-producer single-consumer ring buffer
 * (reference solution).
 *
 * What it shows: lock-free hand-off between exactly two threads. Each index
 * has a single writer, so no compare-and-swap is needed: the producer is the
 * only one to store `tail`, the consumer the only one to store `head`. The
 * orderings do the rest. A push writes the slot and then stores tail with
 * release; a pop loads tail with acquire and only then reads the slot: the
 * pair makes the slot's value, and whatever it points to, visible. The other
 * direction is the same hand-off for empty slots: a pop stores head with
 * release after it read the slot, and a push loads head with acquire before
 * it overwrites a slot, so the producer never writes a slot the consumer is
 * still reading.
 *
 * DESIGN: free-running indices (they only grow; unsigned wrap-around keeps
 * tail - head right) and a power-of-two capacity, so a slot is i & mask and
 * the ring holds all `capacity` values. For speed, each side keeps its
 * own index and a cached copy of the other side's a cache line away from the
 * other side's pair: the producer reloads head only when the ring looks full by
 * its cached copy, the consumer reloads tail only when it looks empty, so in
 * a busy stream most calls touch no line the other core is writing.
 */
#define _POSIX_C_SOURCE 200809L
#include "ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

/* The padding keeps the consumer's pair and the producer's pair at least a
 * cache line (64 bytes) apart, wherever malloc puts the struct: alignas(64)
 * would say it more clearly, but malloc only promises 16-byte alignment. */
struct ring {
    /* Read-only after ring_create. */
    void **slots;
    size_t mask;               /* capacity - 1 */
    char pad0[64];
    /* The consumer's pair: head is stored only by the consumer. */
    atomic_size_t head;
    size_t tail_cache;         /* consumer's private copy of tail (never ahead of it) */
    char pad1[64];
    /* The producer's pair: tail is stored only by the producer. */
    atomic_size_t tail;
    size_t head_cache;         /* producer's private copy of head (never ahead of it) */
    char pad2[64];
};

ring *ring_create(size_t capacity)
{
    if (capacity == 0 || (capacity & (capacity - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    ring *r = malloc(sizeof *r);
    void **slots = calloc(capacity, sizeof *slots);
    if (r == NULL || slots == NULL) {
        free(r);
        free(slots);
        errno = ENOMEM;
        return NULL;
    }
    r->slots = slots;
    r->mask = capacity - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->tail_cache = 0;
    r->head_cache = 0;
    return r;
}

size_t ring_capacity(const ring *r)
{
    return r->mask + 1;
}

/* snippet: push_pop */
bool ring_push_spsc(ring *r, void *v)
{
    /* Relaxed: only this thread stores tail, so it reads its own last store. */
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t - r->head_cache > r->mask) { /* full by the cached head: look again */
        /* acquire: pairs with the release store of head in ring_pop_spsc(),
         * so the consumer has finished reading every slot it gave back. */
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (t - r->head_cache > r->mask)
            return false;
    }
    r->slots[t & r->mask] = v;
    /* release: pairs with the acquire load of tail in ring_pop_spsc(), which
     * then sees the slot and everything written before the push. */
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return true;
}

bool ring_pop_spsc(ring *r, void **out)
{
    /* Relaxed: only this thread stores head. */
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (h == r->tail_cache) { /* empty by the cached tail: look again */
        /* acquire: pairs with the release store of tail in ring_push_spsc(). */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (h == r->tail_cache)
            return false;
    }
    *out = r->slots[h & r->mask];
    /* release: pairs with the acquire load of head in ring_push_spsc(): the
     * slot is read before the producer may overwrite it. */
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return true;
}
/* end snippet: push_pop */

void ring_destroy(ring *r)
{
    if (r == NULL)
        return;
    free(r->slots);
    free(r);
}
