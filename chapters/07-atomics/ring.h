/*
 * ring.h - a single-producer single-consumer ring buffer
 * (chapter 7, exercise "ring").
 *
 * What it shows: two threads handing values to each other through shared
 * memory with no lock at all. One thread, the producer, only ever pushes;
 * one other thread, the consumer, only ever pops. Each index has one
 * writer: the producer owns `tail` (where the next value goes), the
 * consumer owns `head` (the next value to take), and each only reads the
 * other's. A push writes the slot, then publishes it by storing the new tail
 * with release ordering; a pop loads the tail with acquire ordering before
 * it reads the slot. That pair is what makes the value (and everything the
 * producer wrote before pushing it) visible to the consumer.
 *
 * DESIGN: the capacity is a power of two, so that a free-running index maps
 * to its slot with a mask (i & (capacity - 1)) and the ring can hold all
 * `capacity` values: it is full when tail - head == capacity and empty when
 * they are equal. Neither call ever blocks: a full push and an empty pop
 * return false, and the caller decides how to wait.
 *
 * This header is the contract; do not change it. Write ring.c.
 */
#ifndef TL_RING_H
#define TL_RING_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ring ring;

/* A new empty ring of `capacity` slots. Returns NULL with errno EINVAL when
 * capacity is 0 or not a power of two, ENOMEM when out of memory (nothing is
 * left allocated then). Never blocks. */
ring *ring_create(size_t capacity);

/* The capacity given to ring_create(). Never blocks. */
size_t ring_capacity(const ring *r);

/* Producer only (one thread at a time): append v (any pointer, NULL
 * included). Returns true, or false at once when the ring holds `capacity`
 * values. Everything the producer wrote before the call is visible to the
 * consumer once it pops v. Never blocks. */
bool ring_push_spsc(ring *r, void *v);

/* Consumer only (one thread at a time): take the oldest value into *out.
 * Returns true, or false at once when the ring is empty (*out unchanged).
 * Values come out in the order they were pushed, each exactly once. Never
 * blocks. */
bool ring_pop_spsc(ring *r, void **out);

/* Free r. The caller guarantees that no thread uses r any more. */
void ring_destroy(ring *r);

#endif /* TL_RING_H */
