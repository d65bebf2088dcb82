/*
 * once.h - one-time lazy initialisation with compare-and-swap
 * (chapter 7, exercise "once").
 *
 * What it shows: Rust's OnceLock::get_or_init (and pthread_once, and C++'s
 * function-local statics) in a few atomic operations. Many threads ask for a
 * value that is expensive to make; exactly one of them makes it, every
 * other one waits until it is made, and every caller gets the same value,
 * fully initialised.
 *
 * DESIGN: a state word goes EMPTY -> BUSY -> READY, and only forward. The
 * thread whose compare-and-swap turns EMPTY into BUSY is the one initialiser;
 * it runs init(), stores the result in `value` (plain memory), then stores
 * READY with release ordering. Every caller that finds READY with an acquire
 * load may then read `value` and whatever it points to. A caller that finds
 * BUSY waits (spinning, yielding the CPU now and then) until READY.
 *
 * This header is the contract; do not change it. Write once.c.
 */
#ifndef TL_ONCE_H
#define TL_ONCE_H

#include <stdatomic.h>

/* The states of once_cell.state. */
enum { ONCE_EMPTY = 0, ONCE_BUSY = 1, ONCE_READY = 2 };

/* A cell that is initialised at most once. */
typedef struct once_cell {
    atomic_int state; /* ONCE_EMPTY, then ONCE_BUSY while init runs, then ONCE_READY for good */
    void *value;      /* what init returned; written once, before state becomes ONCE_READY */
} once_cell;

/* An empty cell: `once_cell c = ONCE_CELL_INIT;`. */
#define ONCE_CELL_INIT {ONCE_EMPTY, NULL}

/* Returns the cell's value, calling init(arg) to make it if nobody has yet.
 * Of all the calls on one cell, exactly one calls init (NULL is a valid
 * result: it is stored like any other); calls made while init runs wait
 * (they spin and yield; they do not block in the kernel) until it has
 * returned; every call returns the same value, and sees everything init
 * wrote. init must not call once_get on the same cell. */
void *once_get(once_cell *c, void *(*init)(void *arg), void *arg);

#endif /* TL_ONCE_H */
