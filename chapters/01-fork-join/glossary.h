/*
 * glossary.h - exercise 3 of chapter 1: sharing immutable data by atomic
 * reference counting.
 *
 * What it shows: one big read-only table (word -> definition) shared by many
 * threads, none of which knows which of them will be the last to use it. The
 * table counts its owners; the owner that drops the count to zero frees it.
 *
 * DESIGN: the table never changes after glossary_create() returns, so any
 * number of threads may look words up at once without a lock. The only
 * thing that changes is the count, and several threads change it at once, so
 * it must be an atomic with the right memory orders: every owner's last
 * lookups must happen-before the free done by whichever owner comes last.
 *
 * Usage: the creator holds one reference. To hand the glossary to a thread,
 * retain it first (one reference per thread) and give the thread the pointer;
 * the thread releases it when done. Whoever releases last frees it - the
 * creator may release its own reference before the threads finish.
 *
 * This header is the contract; do not edit it. Your code goes in glossary.c.
 */
#ifndef GLOSSARY_H
#define GLOSSARY_H

#include <stddef.h>

typedef struct glossary glossary;

/* Called once, with its ctx, by the release that frees the glossary. */
typedef void (*glossary_gone_fn)(void *ctx);

/* Builds a glossary of copies of the n (words[i], defs[i]) pairs (the words
 * distinct). Returns it with a count of one reference, the caller's; NULL
 * (errno = ENOMEM) on failure. on_free, unless NULL, is called with ctx
 * exactly once: by the glossary_release() that drops the last reference,
 * just before the memory is freed. Never blocks. */
glossary *glossary_create(const char *const words[], const char *const defs[], size_t n,
                          glossary_gone_fn on_free, void *ctx);

/* Adds a reference, for a new owner; returns g. The caller must hold a
 * reference. Safe from any number of threads at once; never blocks. */
glossary *glossary_retain(glossary *g);

/* Drops the caller's reference; the caller must not use g afterwards. The
 * call that drops the last reference calls on_free(ctx) and frees the
 * glossary. Safe from any number of threads at once; never blocks. */
void glossary_release(glossary *g);

/* The definition of word, or NULL if it is not in the glossary. The caller
 * must hold a reference. Safe from any number of threads at once. */
const char *glossary_lookup(const glossary *g, const char *word);

/* The number of words. The caller must hold a reference. */
size_t glossary_size(const glossary *g);

#endif /* GLOSSARY_H */
