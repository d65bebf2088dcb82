/*
 * workload_glossary.c - a typical run of exercise 01-fork-join/glossary,
 * for its timeline: one glossary shared by four threads; the creator lets go
 * of it first, and the last thread to finish frees it.
 *
 * DESIGN: the on_free callback leaves a mark, so the timeline shows on
 * which lane the glossary was freed: always after that lane's last lookup,
 * and after every other lane has released.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "glossary.h"
#include "trace.h"

#define NWORDS 2000
#define NTHREADS 4

static char word_buf[NWORDS][16], def_buf[NWORDS][32];
static const char *words[NWORDS], *defs[NWORDS];

static void on_free(void *ctx)
{
    (void)ctx;
    tl_trace_mark("glossary freed");
    printf("glossary freed\n");
}

/* Thread body: looks up every word many times, then releases its reference. */
static void *reader(void *arg)
{
    glossary *g = arg; /* one reference, ours */
    long found = 0;
    tl_trace_begin("lookups");
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < NWORDS; i++)
            found += glossary_lookup(g, words[(i * 7 + round) % NWORDS]) != NULL;
    tl_trace_end();
    glossary_release(g);
    return (void *)(long)found;
}

int main(void)
{
    tl_trace_name_thread("main");
    for (int i = 0; i < NWORDS; i++) {
        snprintf(word_buf[i], sizeof word_buf[i], "word%d", i);
        snprintf(def_buf[i], sizeof def_buf[i], "meaning of %d", i);
        words[i] = word_buf[i];
        defs[i] = def_buf[i];
    }
    glossary *g = glossary_create(words, defs, NWORDS, on_free, NULL);
    if (g == NULL)
        return 1;
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, reader, glossary_retain(g)) != 0)
            return 1;
    tl_trace_mark("creator releases");
    glossary_release(g);
    long found = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *ret;
        if (pthread_join(t[i], &ret) != 0)
            return 1;
        found += (long)ret;
    }
    printf("%ld lookups found their word\n", found);
    return 0;
}
