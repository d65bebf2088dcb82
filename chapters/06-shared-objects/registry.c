/*
 * registry.c - a registry of named values behind a reader-writer lock
 * (exercise: write it).
 *
 * What it shows: many readers at once, one writer alone. Lookups, visits
 * and snapshots take the lock for reading and overlap freely; a put takes
 * it for writing and makes all of its changes in that one critical section.
 *
 * DESIGN: a fixed array of `capacity` entries, filled from the front in
 * the order keys are added; search it from the start. In a put, check
 * everything that could make it fail (every key valid, the new keys fit)
 * before changing anything, so that "all or nothing" needs no undo. Read
 * registry.h for the contract and book section 6.3 for the idea;
 * `make grade EX=06-shared-objects/registry` tells you how you are doing.
 */
#define _POSIX_C_SOURCE 200809L
#include "registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct registry {
    pthread_rwlock_t lock;
    /* Guarded by lock. Invariant: count <= capacity; keys distinct. */
    struct registry_entry *entries;
    size_t count, capacity;
};

/* Checked pthread calls: use these, they abort with a message on error.
 * (static inline: the compiler does not warn while they are unused.) */
static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

static inline void read_lock(pthread_rwlock_t *l)
{
    int rc = pthread_rwlock_rdlock(l);
    if (rc != 0)
        die_rc(rc, "pthread_rwlock_rdlock");
}

static inline void write_lock(pthread_rwlock_t *l)
{
    int rc = pthread_rwlock_wrlock(l);
    if (rc != 0)
        die_rc(rc, "pthread_rwlock_wrlock");
}

static inline void rw_unlock(pthread_rwlock_t *l)
{
    int rc = pthread_rwlock_unlock(l);
    if (rc != 0)
        die_rc(rc, "pthread_rwlock_unlock");
}

registry *registry_create(size_t capacity)
{
    /* TODO: reject capacity 0 (EINVAL); allocate the registry and its
     * entries (ENOMEM, nothing left allocated); initialise the rwlock. */
    (void)capacity;
    errno = ENOSYS;
    return NULL;
}

int registry_put(registry *r, const struct registry_entry *es, size_t n)
{
    /* TODO: reject bad keys (EINVAL: empty, or no '\0' within
     * REGISTRY_KEY_MAX + 1 bytes); take the lock for WRITING; count the keys
     * that are new (not in the table, not earlier in es); ENOSPC if they do
     * not fit; else set every entry; unlock. */
    (void)r;
    (void)es;
    (void)n;
    return ENOSYS;
}

int registry_get(registry *r, const char *key, long *out)
{
    /* TODO: under the read lock, find key; copy its value to *out. */
    (void)r;
    (void)key;
    (void)out;
    return ENOSYS;
}

size_t registry_snapshot(registry *r, struct registry_entry *out, size_t max)
{
    /* TODO: in ONE read-locked section, copy up to max entries and
     * remember the count. */
    (void)r;
    (void)out;
    (void)max;
    return 0;
}

void registry_visit(registry *r, void (*fn)(const struct registry_entry *e, void *ctx), void *ctx)
{
    /* TODO: call fn on every entry with the lock held for reading. */
    (void)r;
    (void)fn;
    (void)ctx;
}

void registry_destroy(registry *r)
{
    /* TODO: destroy the rwlock, free the entries and r. */
    (void)r;
}
