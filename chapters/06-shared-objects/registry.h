/*
 * registry.h - a registry of named values behind a reader-writer lock
 * (chapter 6, exercise "registry").
 *
 * What it shows: the shape of most shared configuration, routing tables and
 * service registries: looked up all the time, changed rarely. A plain mutex
 * would make every lookup wait for every other; a reader-writer lock lets
 * any number of readers in at once and gives a writer the registry alone.
 *
 * DESIGN: one pthread_rwlock_t guards the whole table. Lookups, visits and
 * snapshots take it for reading and may all be inside at the same time;
 * registry_put() takes it for writing, so it never overlaps a reader or
 * another writer. A put of several entries happens all at once, so a
 * snapshot (one read-locked copy of the whole table) sees all of a put or
 * none of it - never half.
 *
 * This header is the contract; do not change it. Write registry.c.
 */
#ifndef TL_REGISTRY_H
#define TL_REGISTRY_H

#include <stddef.h>

#define REGISTRY_KEY_MAX 31 /* longest key, in bytes */

struct registry_entry {
    char key[REGISTRY_KEY_MAX + 1]; /* a non-empty string */
    long value;
};

typedef struct registry registry;

/* A new, empty registry with room for `capacity` distinct keys. Returns NULL
 * with errno EINVAL when capacity is 0, ENOMEM when out of memory (nothing
 * is left allocated then). Never blocks. */
registry *registry_create(size_t capacity);

/* Writer: set the n entries es[0..n-1] at once (a key already present gets
 * the new value and keeps its place; a new key is added at the end). No
 * reader ever sees some of them set and others not. Returns 0; or EINVAL
 * (a key empty, or not terminated within REGISTRY_KEY_MAX + 1 bytes) or
 * ENOSPC (the new keys do not fit), having changed nothing. Blocks until no
 * reader and no other writer is inside. */
int registry_put(registry *r, const struct registry_entry *es, size_t n);

/* Reader: the value of key into *out. Returns 0, or ENOENT when the key is
 * absent. Blocks only while a writer is inside. */
int registry_get(registry *r, const char *key, long *out);

/* Reader: copy the first min(max, count) entries, in the order their keys
 * were added, into out, all at one instant. Returns the number of entries
 * in the registry at that instant. Blocks only while a writer is inside. */
size_t registry_snapshot(registry *r, struct registry_entry *out, size_t max);

/* Reader: call fn(entry, ctx) on every entry, in the order their keys were
 * added, with the registry read-locked throughout: other readers may visit
 * at the same time, no writer can change anything until it returns. fn must
 * not call into r. Blocks while a writer is inside, and for as long as fn
 * takes. */
void registry_visit(registry *r, void (*fn)(const struct registry_entry *e, void *ctx), void *ctx);

/* Free r. The caller guarantees that no thread uses r any more. Never blocks. */
void registry_destroy(registry *r);

#endif /* TL_REGISTRY_H */
