/*
 * forkjoin.c - chapter 1's program: process a pile of files in parallel by
 * fork and join, sharing one big read-only glossary among the threads.
 *
 * What it shows: the whole pattern end to end. The program writes its own
 * input (small text files in a fresh temporary directory), splits the list
 * of files into one worklist per thread, forks a thread per worklist, joins
 * them all, and reports. Each thread counts the words of its files and how
 * many of them the glossary knows.
 *
 * DESIGN: three hand-overs, each with exactly one owner at a time.
 *  - A worklist is malloc'd by the parent and freed by the child: creating
 *    the thread moves it (the C spelling of a move closure).
 *  - A result (counts, or an error) is malloc'd by the child and freed by
 *    the parent: pthread_join's void* moves it back.
 *  - The glossary has many owners at once, so it counts them: the parent
 *    retains it once per child before the fork, and whoever releases last
 *    frees it. With --early-release the parent drops its own reference right
 *    after forking, and the last child to finish frees the table.
 * An error stops only its own worklist; the parent joins every thread and
 * only then reports the first error (in worker order). A thread that cannot
 * be started (pthread_create returns EAGAIN, say) stops the fork: its
 * worklist is still the parent's to free, and the threads already started
 * are joined like the others.
 *
 * Run: ./forkjoin [--threads K] [--fail I] [--early-release]
 *   --fail I  deletes file I before the workers start, so opening it fails.
 */
#define _POSIX_C_SOURCE 200809L
#define TL_TRACE_IMPLEMENTATION
#include "../../kit/trace/trace.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VOCAB 4096        /* words that can appear in the files */
#define KNOWN 3000        /* ...of which the glossary defines the first KNOWN */
#define NFILES 24
#define WORDS_PER_FILE 3000

/* Prints what failed and why (rc is a pthread error number, not errno); never returns. */
static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

/* Returns what thread t returned; blocks until t has finished. Joining a thread
 * this program started, once, fails only through a bug here, so it aborts. A
 * failed pthread_create, by contrast, is an outcome main() handles. */
static void *thread_join(pthread_t t)
{
    void *ret;
    int rc = pthread_join(t, &ret);
    if (rc != 0)
        die_rc(rc, "pthread_join");
    return ret;
}

/* Word number i, spelled with three syllables ("kalomi"). */
static void word_of(unsigned i, char out[8])
{
    static const char syl[] = "kalominerusatovubedifoguhajipoze"; /* 16 syllables */
    memcpy(out, syl + 2 * (i >> 8 & 15), 2);
    memcpy(out + 2, syl + 2 * (i >> 4 & 15), 2);
    memcpy(out + 4, syl + 2 * (i & 15), 2);
    out[6] = '\0';
}

/* ----------------------------------------------------------- the glossary */

/* A word -> definition table, built once and then only read: any number of
 * threads may look words up at once without a lock. Only refs changes. */
struct entry {
    char word[8];
    char def[40];
};
struct glossary {
    atomic_int refs;            /* owners; the release that takes it to 0 frees */
    struct entry e[KNOWN];      /* sorted by word, for bsearch */
};

/* Compares two entries, or a word with an entry: an entry starts with its word. */
static int by_word(const void *a, const void *b) { return strcmp(a, b); }

/* Builds the glossary of the first KNOWN words; the caller owns the one reference. */
static struct glossary *glossary_build(void)
{
    struct glossary *g = malloc(sizeof *g);
    if (g == NULL)
        return NULL;
    for (unsigned i = 0; i < KNOWN; i++) {
        word_of(i, g->e[i].word);
        snprintf(g->e[i].def, sizeof g->e[i].def, "entry %u of the glossary", i);
    }
    qsort(g->e, KNOWN, sizeof g->e[0], by_word);
    atomic_init(&g->refs, 1); /* the builder's reference */
    return g;
}

/* The definition of w, or NULL. The caller holds a reference. */
static const char *glossary_lookup(const struct glossary *g, const char *w)
{
    const struct entry *e = bsearch(w, g->e, KNOWN, sizeof g->e[0], by_word);
    return e != NULL ? e->def : NULL;
}

/* snippet: refcount */
static struct glossary *glossary_retain(struct glossary *g)
{
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed); /* caller already owns one */
    return g;
}

/* Drops one reference; returns 1 if this call freed the glossary. */
static int glossary_release(struct glossary *g)
{
    /* release: my reads of g happen-before the decrement that reaches 0 */
    if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_release) != 1)
        return 0;
#ifdef __SANITIZE_THREAD__
    /* ThreadSanitizer cannot see fences; an acquire load does the same job */
    (void)atomic_load_explicit(&g->refs, memory_order_acquire);
#else
    atomic_thread_fence(memory_order_acquire); /* pairs with the other owners' release */
#endif
    free(g);
    return 1;
}
/* end snippet: refcount */

/* -------------------------------------------------------------- the work */

/* snippet: handoff */
struct worklist {               /* malloc'd by the parent, freed by the child */
    int id;
    char (*paths)[64];          /* borrowed: the parent keeps them until after the join */
    size_t n;
    struct glossary *glossary;  /* one reference, owned by this worklist */
};

struct result {                 /* malloc'd by the child, freed by the parent */
    size_t files, words, known;
    int err;                    /* 0, or the errno of the file that failed */
    const char *failed_path;
    int freed_glossary;         /* this worker dropped the last reference */
    uint64_t err_flow;          /* trace arrow from the failure to the report */
};
/* end snippet: handoff */

/* snippet: worker */
/* Thread body: processes its worklist, stopping at its first error. Takes
 * ownership of the worklist; returns a malloc'd result (NULL: no memory). */
static void *process_files(void *arg)
{
    struct worklist *wl = arg;
    char name[32];
    snprintf(name, sizeof name, "worker %d", wl->id);
    tl_trace_name_thread(name);
    struct result *r = calloc(1, sizeof *r);
    for (size_t i = 0; r != NULL && i < wl->n; i++) {
        tl_trace_begin("file");
        FILE *f = fopen(wl->paths[i], "r");
        if (f == NULL) {
            r->err = errno;
            r->failed_path = wl->paths[i];
            r->err_flow = tl_trace_flow_out("error");
            tl_trace_end();
            break; /* like Rust's `?`: this worklist stops, the others go on */
        }
        char w[64];
        while (fscanf(f, "%63s", w) == 1) {
            r->words++;
            r->known += glossary_lookup(wl->glossary, w) != NULL;
        }
        fclose(f);
        r->files++;
        tl_trace_end();
    }
    int last = glossary_release(wl->glossary);
    if (last)
        tl_trace_mark("freed the glossary");
    if (r != NULL)
        r->freed_glossary = last;
    free(wl);
    return r;
}
/* end snippet: worker */

/* Writes NFILES files of pseudo-random words into dir, naming them in paths. */
static void make_files(const char *dir, char paths[NFILES][64])
{
    static char text[WORDS_PER_FILE * 7];
    unsigned seed = 12345;
    for (int i = 0; i < NFILES; i++) {
        for (int k = 0; k < WORDS_PER_FILE; k++) {
            seed = seed * 1103515245u + 12345u;
            word_of(seed >> 8 & (VOCAB - 1), text + 7 * k);
            text[7 * k + 6] = k % 12 == 11 ? '\n' : ' ';
        }
        snprintf(paths[i], 64, "%s/file-%02d.txt", dir, i);
        FILE *f = fopen(paths[i], "w");
        if (f == NULL || fwrite(text, 1, sizeof text, f) != sizeof text || fclose(f) != 0) {
            perror(paths[i]);
            exit(1);
        }
    }
}

int main(int argc, char **argv)
{
    int nthreads = 4, fail = -1, early = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            nthreads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--fail") == 0 && i + 1 < argc)
            fail = atoi(argv[++i]);
        else if (strcmp(argv[i], "--early-release") == 0)
            early = 1;
        else
            nthreads = 0; /* unknown option: print the usage */
    }
    if (nthreads < 1 || nthreads > NFILES) {
        fprintf(stderr, "usage: %s [--threads 1..%d] [--fail FILE] [--early-release]\n", argv[0],
                NFILES);
        return 2;
    }
    tl_trace_name_thread("main");

    tl_trace_begin("make files");
    char dir[] = "/tmp/forkjoin-XXXXXX", paths[NFILES][64];
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    make_files(dir, paths);
    if (fail >= 0 && fail < NFILES)
        unlink(paths[fail]); /* whichever worker gets it will fail to open it */
    tl_trace_end();
    tl_trace_begin("build glossary");
    struct glossary *glossary = glossary_build();
    tl_trace_end();
    if (glossary == NULL)
        die_rc(ENOMEM, "glossary_build");

    /* snippet: fork */
    /* Fork: one contiguous worklist per thread; the first NFILES % nthreads get one file more.
     * If a thread cannot be started, fork no more; the ones already started are joined below. */
    pthread_t tids[NFILES];
    int started = 0, err = 0;
    size_t at = 0;
    for (; started < nthreads; started++) {
        size_t n = (size_t)(NFILES / nthreads + (started < NFILES % nthreads));
        struct worklist *wl = malloc(sizeof *wl);
        if (wl == NULL) {
            err = ENOMEM;
            break;
        }
        *wl = (struct worklist){started + 1, paths + at, n, glossary_retain(glossary)};
        at += n;
        err = pthread_create(&tids[started], NULL, process_files, wl); /* wl is the child's now */
        if (err != 0) {
            glossary_release(wl->glossary); /* no thread started: wl is still ours */
            free(wl);
            break;
        }
    }
    if (err != 0)
        fprintf(stderr, "could not start worker %d: %s\n", started + 1, strerror(err));
    if (early) {
        tl_trace_mark("drop my glossary reference");
        if (glossary_release(glossary))
            printf("main freed the glossary (every worker had finished)\n");
    }
    /* end snippet: fork */

    /* snippet: join */
    /* Join all of them; an error is remembered, never a reason to stop joining. */
    const char *err_path = NULL;
    for (int t = 0; t < started; t++) {
        struct result *r = thread_join(tids[t]);
        if (r == NULL) {
            err = err ? err : ENOMEM;
            continue;
        }
        printf("worker %d: %zu files, %5zu words, %5zu in the glossary%s\n", t + 1, r->files,
               r->words, r->known, r->freed_glossary ? "  (freed the glossary)" : "");
        if (r->err != 0 && err == 0) {
            err = r->err;
            err_path = r->failed_path;
            tl_trace_flow_in("first error", r->err_flow);
        }
        free(r);
    }
    if (!early && glossary_release(glossary))
        printf("main freed the glossary after the join\n");
    /* end snippet: join */

    if (err != 0)
        printf("first error: %s%s%s\n", err_path ? err_path : "", err_path ? ": " : "", strerror(err));
    else
        printf("all %d files processed by %d threads\n", NFILES, nthreads);
    for (int i = 0; i < NFILES; i++)
        unlink(paths[i]);
    rmdir(dir);
    return err != 0 && fail < 0; /* an error injected with --fail is the expected outcome */
}
