/*
 * janitor.h - a cache whose expired entries a background "janitor" thread
 * evicts, while foreground threads get and put.
 *
 * What it shows: a background thread that shares a data structure with the
 * rest of the program. The janitor's job - throw out what has expired - is
 * housekeeping: nobody waits for it, so it runs on its own period, and it must
 * neither corrupt the map nor hold up the threads that use it.
 *
 * DESIGN: one mutex guards the map, for foreground calls and the janitor
 * alike. The janitor wakes every sweep period (timed wait, CLOCK_MONOTONIC,
 * so that destroy can wake it), unlinks every expired entry under the lock
 * into a private list, releases the lock, and only then calls on_evict and
 * frees them. cache_get() checks the expiry itself: between two sweeps an
 * entry can be expired and still in the map.
 *
 * Time is whatever the `now` function says (the caller's units), so a test can
 * move the clock by hand; with now == NULL it is CLOCK_MONOTONIC milliseconds.
 *
 * This header is the contract: do not edit it. Write janitor.c.
 */
#ifndef JANITOR_H
#define JANITOR_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cache cache;

/* The current time, non-decreasing. Called with the cache's lock held: it
 * must not call into the cache. */
typedef long (*cache_clock_fn)(void *ctx);

/* Told about each entry the janitor evicted. Called on the janitor thread,
 * after the entry has left the map and without the cache's lock held, so it
 * may call cache_get(), cache_put() and cache_size(); a key it puts back is a
 * new entry, which stays until it expires in its turn. */
typedef void (*cache_evict_fn)(void *ctx, int key, long value);

/* Create an empty cache and start its janitor, which evicts expired entries
 * every sweep_ms milliseconds (sweep_ms > 0). now may be NULL (CLOCK_MONOTONIC
 * milliseconds), on_evict may be NULL. Returns NULL with errno set (EINVAL,
 * ENOMEM, or pthread_create's error) on failure, with no thread running and
 * nothing left allocated. Never blocks. */
cache *cache_create(long sweep_ms, cache_clock_fn now, cache_evict_fn on_evict, void *ctx);

/* Map key to value until the clock reaches `expires` (the entry is expired
 * once now() >= expires). Replaces an entry already there for key, expired or
 * not, without calling on_evict. Returns 1 if the entry is new, 0 if one was
 * replaced, -1 with errno ENOMEM (the map unchanged). Blocks only for the
 * cache's lock. */
int cache_put(cache *c, int key, long value, long expires);

/* If key maps to an entry that has not expired, store its value in *value and
 * return true; else return false. Never removes anything (only the janitor
 * evicts). Blocks only for the cache's lock. */
bool cache_get(cache *c, int key, long *value);

/* Number of entries in the map, expired ones that the janitor has not yet
 * evicted included. Blocks only for the cache's lock. */
size_t cache_size(cache *c);

/* Stop the janitor promptly (whatever sweep_ms), join it, free every entry
 * (without calling on_evict) and free c. The caller guarantees that no other
 * thread uses c any more. No on_evict call happens after it returns. */
void cache_destroy(cache *c);

#endif /* JANITOR_H */
