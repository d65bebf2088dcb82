/*
 * once.c - one-time lazy initialisation with compare-and-swap
 * (reference solution).
 *
 * What it shows: the three-state protocol behind every "initialise on first
 * use" (pthread_once, Rust's OnceLock, C++'s function-local statics). The
 * compare-and-swap EMPTY -> BUSY elects exactly one initialiser, whatever
 * the number of threads that try at the same moment: it either finds EMPTY
 * and replaces it, or fails and tells the loser what it found. The
 * initialiser publishes with a release store of READY; readers acquire.
 *
 * DESIGN: the fast path, once the cell is ready, is one acquire load and no
 * write, so a hot once_get costs about as much as reading a global. A caller
 * that finds BUSY must wait for a thread that is running (init), so it
 * spins on the state with a fresh load each round, and yields after a few
 * rounds so that the initialiser gets the CPU when there are fewer cores
 * than threads. A loser of the election learns the state from its failed
 * CAS and loops back to the same acquire load.
 */
#define _POSIX_C_SOURCE 200809L
#include "once.h"

#include <sched.h>
#include <stdbool.h>

/* State loads that found BUSY before the waiter gives its CPU away once. */
enum { SPINS_BEFORE_YIELD = 64 };

/* snippet: once_get */
void *once_get(once_cell *c, void *(*init)(void *arg), void *arg)
{
    for (unsigned spins = 0;;) {
        /* acquire: pairs with the release store of READY below, so `value`
         * and everything init wrote are visible once READY is seen. */
        int s = atomic_load_explicit(&c->state, memory_order_acquire);
        if (s == ONCE_READY)
            return c->value;
        if (s == ONCE_EMPTY) {
            /* Elect the initialiser. On failure s gets the state found, with
             * acquire like the load above (it may be READY); C11 wants the
             * success ordering at least as strong, so acquire for both. */
            if (atomic_compare_exchange_strong_explicit(&c->state, &s, ONCE_BUSY,
                                                        memory_order_acquire,
                                                        memory_order_acquire)) {
                c->value = init(arg);
                /* release: pairs with the acquire loads above (this thread's
                 * and every other caller's): value is written before READY. */
                atomic_store_explicit(&c->state, ONCE_READY, memory_order_release);
                return c->value;
            }
            continue; /* lost the election: s was reloaded; look again */
        }
        /* BUSY: the initialiser is running; wait, loading the state afresh. */
        if (++spins == SPINS_BEFORE_YIELD) {
            spins = 0;
            sched_yield();
        }
    }
}
/* end snippet: once_get */
