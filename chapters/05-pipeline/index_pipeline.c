/*
 * index_pipeline.c - an inverted index built by a pipeline of four threads.
 *
 * What it shows: the pipeline of Programming Rust's chapter 19, in C. The
 * program makes up its own documents, then four stages, each on its own
 * thread, pass them along through bounded channels:
 *
 *     generate --docs--> split --words--> index --postings--> merge
 *
 * generate writes each document; split cuts it into words and hashes them;
 * index sorts one document's words and counts each term; merge adds each
 * document's counts into the whole index. Every stage reports how long it
 * worked (busy), waited for input (starved) and waited for room downstream
 * (blocked). The slowest stage sets the pace: the others spend the rest of
 * their time waiting, and the pipeline's rate is about that stage's rate
 * alone. `--slow split` makes split do its work many times over and shows
 * backpressure: generate, upstream of it, blocks on a full channel.
 * `--fail-at N` makes index fail on document N and shows the pipeline shut
 * down cleanly: every thread joined, every message freed.
 *
 * DESIGN: a channel is chapter 4's bounded queue with Rust's close rules:
 * counted senders and receivers. A stage's loop is recv - work - send; when
 * it stops, for whatever reason, it closes its receiver end (upstream's
 * next send fails: stop) and its sender end (downstream drains, then sees
 * end-of-stream). So the shutdown travels along the channels, and no stage
 * looks at another's state. Messages are heap blocks whose ownership moves
 * with them; a message nobody will receive is freed by whoever holds it.
 *
 * Build: cc -std=c11 -O2 -pthread index_pipeline.c -o index_pipeline
 * Run:   ./index_pipeline [--docs N] [--words N] [--cap N] [--slow STAGE] [--fail-at N]
 */
#define _POSIX_C_SOURCE 200809L
#define TL_TRACE_IMPLEMENTATION
#include "../../kit/trace/trace.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

static inline void mutex_lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_lock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_lock");
}

static inline void mutex_unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_unlock");
}

static inline void cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    int rc = pthread_cond_wait(c, m);
    if (rc != 0)
        die_rc(rc, "pthread_cond_wait");
}

static inline void cond_signal(pthread_cond_t *c)
{
    int rc = pthread_cond_signal(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_signal");
}

static inline void cond_broadcast(pthread_cond_t *c)
{
    int rc = pthread_cond_broadcast(c);
    if (rc != 0)
        die_rc(rc, "pthread_cond_broadcast");
}

enum { SLOW = 64 }; /* --slow STAGE: that stage does its work this many times over */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of the calling thread: a stage's busy time, which other programs
 * on the machine cannot inflate (they can only make it wait for a core). */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ the channel */

/* snippet: chan */
struct chan {
    pthread_mutex_t lock;
    pthread_cond_t not_empty; /* receivers wait: a message came, or the last sender closed */
    pthread_cond_t not_full;  /* senders wait: a slot was freed, or the last receiver closed */
    /* Guarded by lock. Invariant: count <= cap. */
    void **ring;
    size_t cap, head, count;
    unsigned senders, receivers;         /* open handles; they only go down */
    unsigned recv_waiting, send_waiting; /* asleep now: signal only if somebody is */
};
/* end snippet: chan */

static void chan_init(struct chan *c, size_t cap, const char *name_full, const char *name_empty)
{
    int rc = pthread_mutex_init(&c->lock, NULL);
    if (rc == 0)
        rc = pthread_cond_init(&c->not_empty, NULL);
    if (rc == 0)
        rc = pthread_cond_init(&c->not_full, NULL);
    if (rc != 0)
        die_rc(rc, "chan_init");
    c->ring = xcalloc(cap, sizeof *c->ring);
    c->cap = cap;
    c->head = c->count = 0;
    c->senders = c->receivers = 1;
    c->recv_waiting = c->send_waiting = 0;
    tl_trace_name_object(&c->not_full, name_full);
    tl_trace_name_object(&c->not_empty, name_empty);
}

/* snippet: send_recv */
/* Queue msg; blocks while full. Returns 0, or EPIPE if no receiver is left. */
static int chan_send(struct chan *c, void *msg)
{
    mutex_lock(&c->lock);
    while (c->count == c->cap && c->receivers > 0) {
        c->send_waiting++;
        cond_wait(&c->not_full, &c->lock);
        c->send_waiting--;
    }
    if (c->receivers == 0) {
        mutex_unlock(&c->lock);
        return EPIPE;
    }
    c->ring[(c->head + c->count) % c->cap] = msg;
    c->count++;
    if (c->recv_waiting > 0)
        cond_signal(&c->not_empty);
    mutex_unlock(&c->lock);
    return 0;
}

/* Take the oldest message; blocks while empty. Returns 0, or EPIPE at end-of-stream. */
static int chan_recv(struct chan *c, void **out)
{
    mutex_lock(&c->lock);
    while (c->count == 0 && c->senders > 0) {
        c->recv_waiting++;
        cond_wait(&c->not_empty, &c->lock);
        c->recv_waiting--;
    }
    if (c->count == 0) {
        mutex_unlock(&c->lock);
        return EPIPE;
    }
    *out = c->ring[c->head];
    c->head = (c->head + 1) % c->cap;
    c->count--;
    if (c->send_waiting > 0)
        cond_signal(&c->not_full);
    mutex_unlock(&c->lock);
    return 0;
}
/* end snippet: send_recv */

/* snippet: close */
/* Close one end (sender or receiver); the last close of a side wakes every
 * waiter of the other side. Blocks only on the lock. */
static void chan_close(struct chan *c, bool sender)
{
    mutex_lock(&c->lock);
    if (sender && c->senders > 0 && --c->senders == 0)
        cond_broadcast(&c->not_empty);
    if (!sender && c->receivers > 0 && --c->receivers == 0)
        cond_broadcast(&c->not_full);
    mutex_unlock(&c->lock);
}
/* end snippet: close */

/* ---------------------------------------------------------------- messages */

struct doc {                  /* generate -> split */
    uint64_t flow;            /* the trace arrow from send to receive */
    int id;
    char *text;
};
struct token {
    uint64_t hash;
    const char *word;         /* points into the document's text, which travels along */
    unsigned len;
};
struct words {                /* split -> index; index -> merge (then counted, one per term) */
    uint64_t flow;
    int id;
    char *text;
    struct token *tok;
    unsigned *count;          /* set by index: tok[i] occurs count[i] times (tok then unique) */
    size_t n;
};

static void free_msg(void *m, bool is_doc)
{
    if (m == NULL)
        return;
    if (is_doc) {
        free(((struct doc *)m)->text);
    } else {
        struct words *w = m;
        free(w->text);
        free(w->tok);
        free(w->count);
    }
    free(m);
}

/* ------------------------------------------------------------------ stages */

struct stage {
    const char *name;
    struct chan *in, *out;    /* in is NULL for generate, out for merge */
    int repeat;               /* do the work this many times (--slow) */
    long items;
    double busy_ms;           /* CPU time spent working; written by the stage's thread only */
    double starved_ms, blocked_ms; /* wall time in chan_recv / chan_send; same */
    int err;                  /* set by the stage's thread; read after the join */
    struct config *cfg;
};

struct config {
    int docs, words, fail_at;
    struct stage st[4];
    /* merge's index: open addressing on the hash. Used by the merge thread only. */
    struct term { uint64_t hash; const char *word; unsigned len; long total; int docs; } *terms;
    size_t nterms, tcap;
};

/* snippet: stage_io */
/* Receive for stage s, counting the wait as starved; returns chan_recv's result. */
static int stage_recv(struct stage *s, void **msg)
{
    double t0 = now_ms();
    int rc = chan_recv(s->in, msg);
    s->starved_ms += now_ms() - t0;
    if (rc == 0)
        tl_trace_flow_in("msg", *(uint64_t *)*msg);
    return rc;
}

/* Send for stage s, counting the wait as blocked (backpressure); returns chan_send's result. */
static int stage_send(struct stage *s, void *msg)
{
    *(uint64_t *)msg = tl_trace_flow_out("msg"); /* every message starts with its flow id */
    double t0 = now_ms();
    int rc = chan_send(s->out, msg);
    s->blocked_ms += now_ms() - t0;
    return rc;
}

/* A stage stops: upstream's next send fails, downstream drains and ends. */
static void stage_stop(struct stage *s)
{
    if (s->in != NULL)
        chan_close(s->in, false);
    if (s->out != NULL)
        chan_close(s->out, true);
}
/* end snippet: stage_io */

static uint64_t rng(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17; /* xorshift64 */
    return *x;
}

/* generate: documents of cfg->words made-up words, skewed so some words are common. */
static void *generate_main(void *arg)
{
    struct stage *s = arg;
    static const char *syl[] = {"ka", "lo", "mi", "ne", "su", "ta",
                                "ri", "po", "de", "va", "zu", "he"};
    tl_trace_name_thread("generate");
    for (int d = 0; d < s->cfg->docs; d++) {
        double t0 = cpu_ms();
        tl_trace_begin("generate");
        struct doc *doc = xcalloc(1, sizeof *doc);
        doc->id = d;
        doc->text = xcalloc((size_t)s->cfg->words * 8 + 1, 1);
        char *p = doc->text;
        for (int r = 0; r < s->repeat; r++) {
            uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(d + 1);
            p = doc->text;
            for (int w = 0; w < s->cfg->words; w++) {
                uint64_t k = rng(&x) % 4096;
                k = k * k / 4096 * k / 4096; /* skewed: small word numbers are common */
                for (int n = 0; n < 3; n++, k /= 12) {
                    *p++ = syl[k % 12][0];
                    *p++ = syl[k % 12][1];
                }
                *p++ = ' ';
            }
        }
        *p = '\0';
        tl_trace_end();
        s->busy_ms += cpu_ms() - t0;
        s->items++;
        if (stage_send(s, doc) != 0) { /* split stopped: nobody will ever take it */
            free_msg(doc, true);
            break;
        }
    }
    stage_stop(s);
    return NULL;
}

/* split: a document's text into hashed words (FNV-1a). */
static void *split_main(void *arg)
{
    struct stage *s = arg;
    tl_trace_name_thread("split");
    void *m;
    while (stage_recv(s, &m) == 0) {
        struct doc *doc = m;
        double t0 = cpu_ms();
        tl_trace_begin("split");
        struct words *w = xcalloc(1, sizeof *w);
        w->id = doc->id;
        w->text = doc->text;
        w->tok = xcalloc((size_t)s->cfg->words, sizeof *w->tok);
        free(doc);
        for (int r = 0; r < s->repeat; r++) {
            w->n = 0;
            for (char *p = w->text; *p != '\0';) {
                char *start = p;
                uint64_t h = 14695981039346656037ull;
                for (; *p != ' ' && *p != '\0'; p++)
                    h = (h ^ (unsigned char)*p) * 1099511628211ull;
                w->tok[w->n++] = (struct token){h, start, (unsigned)(p - start)};
                if (*p == ' ')
                    p++;
            }
        }
        tl_trace_end();
        s->busy_ms += cpu_ms() - t0;
        s->items++;
        if (stage_send(s, w) != 0) {
            free_msg(w, false);
            break;
        }
    }
    stage_stop(s);
    return NULL;
}

static int by_hash(const void *a, const void *b)
{
    uint64_t x = ((const struct token *)a)->hash, y = ((const struct token *)b)->hash;
    return x < y ? -1 : x > y;
}

/* snippet: index_stage */
/* index: one document's words sorted and counted: its postings. */
static void *index_main(void *arg)
{
    struct stage *s = arg;
    tl_trace_name_thread("index");
    void *m;
    while (stage_recv(s, &m) == 0) {
        struct words *w = m;
        if (w->id == s->cfg->fail_at) { /* --fail-at: this stage fails, and says why */
            tl_trace_mark("index fails");
            s->err = EBADMSG;
            free_msg(w, false);
            break;
        }
        double t0 = cpu_ms();
        tl_trace_begin("index");
        w->count = xcalloc(w->n, sizeof *w->count);
        for (int r = 0; r < s->repeat; r++)
            qsort(w->tok, w->n, sizeof *w->tok, by_hash);
        size_t u = 0;
        for (size_t i = 0; i < w->n; i++) {
            if (u > 0 && w->tok[u - 1].hash == w->tok[i].hash) {
                w->count[u - 1]++;
                continue;
            }
            w->tok[u] = w->tok[i];
            w->count[u++] = 1;
        }
        w->n = u;
        tl_trace_end();
        s->busy_ms += cpu_ms() - t0;
        s->items++;
        if (stage_send(s, w) != 0) {
            free_msg(w, false);
            break;
        }
    }
    stage_stop(s);
    return NULL;
}
/* end snippet: index_stage */

/* Add one document's postings to the whole index (merge's thread only). */
static void merge_one(struct config *c, const struct words *w)
{
    for (size_t i = 0; i < w->n; i++) {
        if (2 * (c->nterms + 1) > c->tcap) { /* grow: keep the table at most half full */
            struct term *old = c->terms;
            size_t ocap = c->tcap;
            c->tcap = ocap ? 2 * ocap : 1024;
            c->terms = xcalloc(c->tcap, sizeof *c->terms);
            for (size_t k = 0; k < ocap; k++)
                for (size_t j = old[k].hash % c->tcap; old[k].word != NULL; j = (j + 1) % c->tcap)
                    if (c->terms[j].word == NULL) {
                        c->terms[j] = old[k];
                        break;
                    }
            free(old);
        }
        size_t j = w->tok[i].hash % c->tcap;
        while (c->terms[j].word != NULL && c->terms[j].hash != w->tok[i].hash)
            j = (j + 1) % c->tcap;
        struct term *t = &c->terms[j];
        if (t->word == NULL) {
            char *copy = xcalloc(w->tok[i].len + 1, 1); /* the document's text is about to go */
            memcpy(copy, w->tok[i].word, w->tok[i].len);
            *t = (struct term){w->tok[i].hash, copy, w->tok[i].len, 0, 0};
            c->nterms++;
        }
        t->total += w->count[i];
        t->docs++;
    }
}

/* merge: every document's postings into the one index. */
static void *merge_main(void *arg)
{
    struct stage *s = arg;
    tl_trace_name_thread("merge");
    void *m;
    while (stage_recv(s, &m) == 0) {
        double t0 = cpu_ms();
        tl_trace_begin("merge");
        for (int r = 0; r < s->repeat; r++)
            merge_one(s->cfg, m);
        tl_trace_end();
        s->busy_ms += cpu_ms() - t0;
        s->items++;
        free_msg(m, false);
    }
    stage_stop(s);
    return NULL;
}

/* ------------------------------------------------------------------- main */

static void report(struct config *c, double ms, int nthreads)
{
    printf("%-9s %6s %9s %11s %11s %14s\n", "stage", "items", "busy ms", "starved ms", "blocked ms",
           "alone items/s");
    int slow = 0;
    for (int i = 0; i < 4; i++) {
        struct stage *s = &c->st[i];
        printf("%-9s %6ld %9.1f %11.1f %11.1f %14.0f\n", s->name, s->items, s->busy_ms,
               s->starved_ms, s->blocked_ms, s->busy_ms > 0 ? s->items / s->busy_ms * 1e3 : 0.0);
        if (s->busy_ms > c->st[slow].busy_ms)
            slow = i;
    }
    double alone = c->st[slow].busy_ms > 0 ? c->st[slow].items / c->st[slow].busy_ms * 1e3 : 0,
           rate = c->st[3].items / ms * 1e3;
    printf("pipeline: %ld documents in %.1f ms = %.0f docs/s; the slowest stage, %s, alone: %.0f "
           "docs/s (the pipeline reaches %.0f%% of it)\n",
           c->st[3].items, ms, rate, c->st[slow].name, alone, alone > 0 ? 100 * rate / alone : 0.0);
    printf("index: %zu distinct words; %d threads joined\n", c->nterms, nthreads);
}

int main(int argc, char **argv)
{
    static struct config c = {.docs = 200, .words = 2000, .fail_at = -1};
    size_t cap = 4;
    const char *slow = "";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--docs") == 0) c.docs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--words") == 0) c.words = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--cap") == 0) cap = (size_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--slow") == 0) slow = argv[i + 1];
        else if (strcmp(argv[i], "--fail-at") == 0) c.fail_at = atoi(argv[i + 1]);
    }
    if (c.docs < 1 || c.words < 1 || cap < 1) {
        fprintf(stderr, "usage: %s [--docs N] [--words N] [--cap N] [--slow STAGE] [--fail-at N]\n",
                argv[0]);
        return 2;
    }
    tl_trace_name_thread("main");
    static struct chan ch[3];
    chan_init(&ch[0], cap, "docs not full", "docs not empty");
    chan_init(&ch[1], cap, "words not full", "words not empty");
    chan_init(&ch[2], cap, "postings not full", "postings not empty");
    static const char *names[4] = {"generate", "split", "index", "merge"};
    void *(*mains[4])(void *) = {generate_main, split_main, index_main, merge_main};
    for (int i = 0; i < 4; i++)
        c.st[i] = (struct stage){names[i], i > 0 ? &ch[i - 1] : NULL, i < 3 ? &ch[i] : NULL,
                                 strcmp(slow, names[i]) == 0 ? SLOW : 1, 0, 0, 0, 0, 0, &c};
    printf("index_pipeline: %d documents of %d words, channels of %zu slots%s%s\n\n", c.docs,
           c.words, cap, *slow ? ", slow stage: " : "", slow);
    double t0 = now_ms();
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        int rc = pthread_create(&th[i], NULL, mains[i], &c.st[i]);
        if (rc != 0)
            die_rc(rc, "pthread_create");
    }
    for (int i = 0; i < 4; i++) {
        int rc = pthread_join(th[i], NULL);
        if (rc != 0)
            die_rc(rc, "pthread_join");
    }
    double ms = now_ms() - t0;
    for (int i = 0; i < 3; i++) /* a stage that failed leaves messages behind: free them */
        for (size_t k = 0; k < ch[i].count; k++)
            free_msg(ch[i].ring[(ch[i].head + k) % ch[i].cap], i == 0);
    report(&c, ms, 4);
    for (int i = 0; i < 4; i++)
        if (c.st[i].err != 0)
            printf("%s failed (%s): every stage stopped, %d of %d documents were merged\n",
                   c.st[i].name, strerror(c.st[i].err), (int)c.st[3].items, c.docs);
    for (size_t i = 0; i < c.tcap; i++)
        free((void *)c.terms[i].word);
    free(c.terms);
    for (int i = 0; i < 3; i++)
        free(ch[i].ring);
    return 0;
}
