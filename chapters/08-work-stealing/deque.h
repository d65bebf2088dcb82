/*
 * deque.h - a Chase-Lev work-stealing deque
 * (chapter 8, exercise "deque").
 *
 * What it shows: the data structure under every work-stealing scheduler. One
 * thread, the owner, pushes and pops tasks at the bottom end, like a stack,
 * with no lock and, in the common case, no read-modify-write at all. Any
 * number of other threads, the thieves, take tasks from the top end, the
 * oldest first; a thief claims a task with one compare-and-swap on `top`.
 * Owner and thieves only meet when one task is left: then the owner too
 * takes it with a compare-and-swap on `top`, and exactly one of them wins.
 *
 * DESIGN: top and bottom are signed 64-bit indices that only grow (top) or
 * move by one (bottom), so bottom - top is the number of tasks even when the
 * owner's pop briefly takes bottom below top. The orderings are those of Le,
 * Pop, Cohen and Zappa Nardelli (PPoPP 2013); the one that matters most is the
 * sequentially consistent fence in the owner's pop between writing bottom and
 * reading top. The deque grows (doubling) when a push finds it full; buffers
 * that thieves may still be reading are kept until deque_destroy().
 *
 * This header is the contract; do not change it. Write deque.c.
 */
#ifndef TL_DEQUE_H
#define TL_DEQUE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct deque deque;

/* What deque_steal() found. */
enum deque_steal_result {
    DEQUE_OK,    /* a task was taken into *out */
    DEQUE_EMPTY, /* the deque looked empty */
    DEQUE_ABORT  /* another thread took the top task first: try again */
};

/* A new empty deque with room for 2^log2cap tasks before it first grows.
 * Returns NULL with errno EINVAL when log2cap > 30, ENOMEM when out of memory
 * (nothing is left allocated then). Never blocks. */
deque *deque_create(unsigned log2cap);

/* Owner only: add task (not NULL) at the bottom, doubling the buffer first if
 * it is full. Returns true, or false with errno ENOMEM when the buffer could
 * not grow (the deque is unchanged). Never blocks. */
bool deque_push(deque *d, void *task);

/* Owner only: take the task pushed last that no thief has taken. Returns it,
 * or NULL when the deque is empty. Never blocks. */
void *deque_pop(deque *d);

/* Any thread but the owner: take the task at the top (the oldest) into *out.
 * Returns DEQUE_OK (and *out), DEQUE_EMPTY, or DEQUE_ABORT when it lost a race
 * for the task (*out unchanged then). Every task pushed comes out exactly once,
 * through a pop or a steal; everything the owner wrote before pushing a task is
 * visible to the thief that steals it. Never blocks. */
enum deque_steal_result deque_steal(deque *d, void **out);

/* Free d and every buffer it ever used. The caller guarantees that no thread
 * uses d any more. */
void deque_destroy(deque *d);

#endif /* TL_DEQUE_H */
