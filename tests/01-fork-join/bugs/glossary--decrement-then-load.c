/* expect: data-race|memory */
/* BUG (glossary--decrement-then-load): the release decrements and then loads the count again to decide whether it was the last, so two owners releasing at once can both see 0 and both free the glossary, or one reads the count of a glossary another has already freed. */
/*
 * glossary.c - exercise 3 of chapter 1: sharing immutable data by atomic
 * reference counting (known-buggy variant).
 *
 * What it shows: the whole of a reference count - an atomic counter, an
 * increment that needs no ordering, and a decrement that does.
 *
 * DESIGN: glossary_retain() only has to make the count bigger: the caller
 * already holds a reference, so the glossary cannot vanish meanwhile, and a
 * relaxed increment is enough. glossary_release() is where the ordering is:
 * every owner's uses of the table must be finished, and visible, before the
 * last owner frees it. Each decrement is a release (it publishes everything
 * its thread did with the table); the decrement that reaches zero must also
 * acquire (to see all of that) before freeing. acq_rel on the decrement does
 * both. (The classic form is a release decrement followed, only on the last
 * one, by an acquire fence; ThreadSanitizer does not understand fences and
 * would report a false race, so the kit uses acq_rel.)
 *
 * The table itself is an open-addressing hash table built once by
 * glossary_create() and never written again: that is what makes lookups
 * from many threads safe without a lock.
 */
#define _POSIX_C_SOURCE 200809L
#include "glossary.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    const char *word; /* NULL: empty slot */
    const char *def;
};

struct glossary {
    atomic_long refs;        /* owners; the release that takes it to 0 frees */
    /* Immutable after glossary_create() returns. */
    size_t n, mask;          /* words; slots - 1 (slots is a power of two) */
    struct entry *slots;
    char *strings;           /* every word and definition, one allocation */
    glossary_gone_fn on_free;
    void *ctx;
};

/* FNV-1a: a small, decent string hash. */
static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

glossary *glossary_create(const char *const words[], const char *const defs[], size_t n,
                          glossary_gone_fn on_free, void *ctx)
{
    size_t cap = 8, bytes = 0;
    while (cap < 2 * n)
        cap *= 2;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(words[i]) + strlen(defs[i]) + 2;
    glossary *g = malloc(sizeof *g);
    struct entry *slots = calloc(cap, sizeof *slots);
    char *strings = malloc(bytes ? bytes : 1);
    if (g == NULL || slots == NULL || strings == NULL) {
        free(g);
        free(slots);
        free(strings);
        errno = ENOMEM;
        return NULL;
    }
    char *p = strings;
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)hash(words[i]) & (cap - 1);
        while (slots[h].word != NULL)
            h = (h + 1) & (cap - 1);
        size_t lw = strlen(words[i]) + 1, ld = strlen(defs[i]) + 1;
        slots[h].word = memcpy(p, words[i], lw);
        slots[h].def = memcpy(p + lw, defs[i], ld);
        p += lw + ld;
    }
    g->n = n;
    g->mask = cap - 1;
    g->slots = slots;
    g->strings = strings;
    g->on_free = on_free;
    g->ctx = ctx;
    atomic_init(&g->refs, 1); /* the creator's reference */
    return g;
}

glossary *glossary_retain(glossary *g)
{
    /* Relaxed is enough: the caller holds a reference, so g stays alive,
     * and a new reference publishes nothing. */
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
    return g;
}

void glossary_release(glossary *g)
{
    /* release: our uses of g happen-before the decrement; acquire (taken
     * by the last decrement): every other owner's uses happen-before the
     * free below. Pairs with the same fetch_sub in the other owners. */
    atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel); /* BUG: the value it returned is thrown away... */
    if (atomic_load_explicit(&g->refs, memory_order_acquire) != 0) /* BUG: ...and a second load decides, after others may have released */
        return; /* not the last owner: someone else will free it */
    if (g->on_free != NULL)
        g->on_free(g->ctx);
    free(g->strings);
    free(g->slots);
    free(g);
}

const char *glossary_lookup(const glossary *g, const char *word)
{
    for (size_t h = (size_t)hash(word) & g->mask; g->slots[h].word != NULL; h = (h + 1) & g->mask)
        if (strcmp(g->slots[h].word, word) == 0)
            return g->slots[h].def;
    return NULL;
}

size_t glossary_size(const glossary *g) { return g->n; }
