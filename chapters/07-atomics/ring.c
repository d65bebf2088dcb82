/*
 * ring.c - a single-producer single-consumer ring buffer
 * (exercise: write it).
 *
 * What it shows: lock-free hand-off between exactly two threads. Each index
 * has one writer (the producer stores tail, the consumer stores head), so
 * plain loads and stores of atomics are enough, no compare-and-swap; the
 * memory orderings are what makes it correct. Comment every ordering with
 * the operation it pairs with.
 *
 * DESIGN: free-running indices (size_t, they only grow: tail - head is the
 * number of values held, even after they wrap around) and a power-of-two
 * capacity, so slot i is slots[i & mask] and the ring holds all `capacity`
 * values. Keep head and tail on different cache lines (padding).
 * Read ring.h for the contract and book section 7.4 for the idea;
 * `make grade EX=07-atomics/ring` tells you how you are doing.
 */
#define _POSIX_C_SOURCE 200809L
#include "ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

struct ring {
    void **slots;             /* capacity slots, allocated once */
    size_t mask;              /* capacity - 1 */
    char pad0[64];            /* keeps head off the line of the fields above */
    atomic_size_t head;       /* TODO: who stores it, who loads it, with which orderings? */
    char pad1[64];            /* keeps head and tail on different cache lines */
    atomic_size_t tail;       /* TODO: the same question */
    char pad2[64];
};

ring *ring_create(size_t capacity)
{
    /* TODO: reject 0 and non-powers of two (EINVAL); allocate the struct and
     * the slots (ENOMEM, nothing left allocated); both indices start at 0. */
    (void)capacity;
    errno = ENOSYS;
    return NULL;
}

size_t ring_capacity(const ring *r)
{
    /* TODO */
    (void)r;
    return 0;
}

bool ring_push_spsc(ring *r, void *v)
{
    /* TODO: full when tail - head == capacity; else write the slot, then
     * publish it by storing tail + 1 (which ordering?). */
    (void)r;
    (void)v;
    return false;
}

bool ring_pop_spsc(ring *r, void **out)
{
    /* TODO: empty when head == tail (load tail with which ordering?); else
     * read the slot, then give it back by storing head + 1. */
    (void)r;
    (void)out;
    return false;
}

void ring_destroy(ring *r)
{
    /* TODO: free what ring_create allocated. */
    (void)r;
}
