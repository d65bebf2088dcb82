/*
 * once.c - one-time lazy initialisation with compare-and-swap
 * (exercise: write it).
 *
 * What it shows: the three-state protocol behind every "initialise on first
 * use": a compare-and-swap EMPTY -> BUSY elects exactly one initialiser; it
 * stores the value and then READY with release ordering; every other caller
 * acquires READY before it reads the value. Comment every ordering with the
 * operation it pairs with.
 *
 * DESIGN: loop on a fresh acquire load of the state: READY -> return the
 * value; EMPTY -> try the compare-and-swap (remember that a failed CAS
 * writes the state it found into its `expected` argument); BUSY -> wait a
 * little (yield now and then) and load again. Read once.h for the contract
 * and book section 7.5 for the idea; `make grade EX=07-atomics/once` tells
 * you how you are doing.
 */
#define _POSIX_C_SOURCE 200809L
#include "once.h"

#include <sched.h>
#include <stdbool.h>

void *once_get(once_cell *c, void *(*init)(void *arg), void *arg)
{
    /* TODO: the loop described above. */
    (void)c;
    (void)init;
    (void)arg;
    return NULL;
}
