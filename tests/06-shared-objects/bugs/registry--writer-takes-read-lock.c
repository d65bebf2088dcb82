/* expect: data-race */
/* BUG (registry--writer-takes-read-lock): registry_put takes the lock for reading ("the change is quick"): readers and other writers are inside while it changes the table */
/*
 * registry.c - a registry of named values behind a reader-writer lock
 * (a known-buggy variant: see the BUG line above).
 *
 * What it shows: many readers at once, one writer alone. Every lookup,
 * visit and snapshot holds the lock for reading, so they overlap freely;
 * every put holds it for writing, so it sees no reader and no other writer
 * while it changes the table, and does all of its changes in that one
 * critical section.
 *
 * DESIGN: a fixed array of `capacity` entries, filled from the front in
 * the order keys are added; lookups search it from the start (a teaching
 * registry holds tens of keys; a real one would hash). A put first checks
 * everything that could make it fail - every key valid, the new keys fit -
 * and only then changes anything, so "all of it or none of it" needs no
 * undo. The write lock is what makes the put one instant for every reader:
 * taking the read lock in a writer "because it is quick" lets two writers,
 * or a writer and a reader, into the table at once.
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
    /* Guarded by lock (read for reading, write for changing).
     * Invariant: count <= capacity; keys[0..count-1] distinct. */
    struct registry_entry *entries;
    size_t count, capacity;
};

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
    if (capacity == 0) {
        errno = EINVAL;
        return NULL;
    }
    registry *r = calloc(1, sizeof *r);
    struct registry_entry *es = calloc(capacity, sizeof *es);
    if (r == NULL || es == NULL) {
        free(r);
        free(es);
        errno = ENOMEM;
        return NULL;
    }
    int rc = pthread_rwlock_init(&r->lock, NULL);
    if (rc != 0) {
        free(es);
        free(r);
        errno = rc;
        return NULL;
    }
    r->entries = es;
    r->capacity = capacity;
    return r;
}

/* The index of key among the first n entries, or -1. Caller holds the lock
 * (either way). Never blocks. */
static long find(const struct registry_entry *es, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(es[i].key, key) == 0)
            return (long)i;
    return -1;
}

static bool key_ok(const char *key)
{
    size_t len = strnlen(key, REGISTRY_KEY_MAX + 1);
    return len > 0 && len <= REGISTRY_KEY_MAX;
}

/* snippet: put */
int registry_put(registry *r, const struct registry_entry *es, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!key_ok(es[i].key))
            return EINVAL;
    read_lock(&r->lock); /* BUG: a read lock lets readers and other writers in */
    size_t fresh = 0;     /* keys neither in the table nor earlier in es */
    for (size_t i = 0; i < n; i++)
        if (find(r->entries, r->count, es[i].key) < 0 && find(es, i, es[i].key) < 0)
            fresh++;
    if (fresh > r->capacity - r->count) {
        rw_unlock(&r->lock);
        return ENOSPC; /* checked before anything changed: nothing to undo */
    }
    for (size_t i = 0; i < n; i++) {
        long at = find(r->entries, r->count, es[i].key);
        if (at < 0) {
            at = (long)r->count++;
            memcpy(r->entries[at].key, es[i].key, strlen(es[i].key) + 1);
        }
        r->entries[at].value = es[i].value;
    }
    rw_unlock(&r->lock);
    return 0;
}
/* end snippet: put */

int registry_get(registry *r, const char *key, long *out)
{
    read_lock(&r->lock);
    long at = find(r->entries, r->count, key);
    if (at >= 0)
        *out = r->entries[at].value;
    rw_unlock(&r->lock);
    return at >= 0 ? 0 : ENOENT;
}

/* snippet: snapshot */
size_t registry_snapshot(registry *r, struct registry_entry *out, size_t max)
{
    read_lock(&r->lock); /* one read-locked section: one instant */
    size_t n = r->count;
    if (n > 0 && max > 0)
        memcpy(out, r->entries, (n < max ? n : max) * sizeof *out);
    rw_unlock(&r->lock);
    return n;
}
/* end snippet: snapshot */

void registry_visit(registry *r, void (*fn)(const struct registry_entry *e, void *ctx), void *ctx)
{
    read_lock(&r->lock);
    for (size_t i = 0; i < r->count; i++)
        fn(&r->entries[i], ctx);
    rw_unlock(&r->lock);
}

void registry_destroy(registry *r)
{
    if (r == NULL)
        return;
    pthread_rwlock_destroy(&r->lock);
    free(r->entries);
    free(r);
}
