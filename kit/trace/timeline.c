/*
 * timeline.c - turn a threadlab trace into a picture of who ran when and who
 * waited for whom.
 *
 * What it shows: one lane per thread, time running left to right. A thin grey
 * bar is the thread's life; boxes on it are spans (coloured: running, pale red
 * and dashed: blocked, grey and dashed: sleeping), small triangles are
 * instants, and arrows between lanes say which event in one thread let
 * another one go on (create -> start, exit -> join, unlock -> lock,
 * signal -> wake, and the program's own flows such as send -> receive).
 *
 *     usage: timeline [-t TITLE] [-j OUT.json] [-m MAX] TRACE OUT.dot
 *     then:  neato -n2 -Tsvg OUT.dot -o OUT.svg
 *
 * DESIGN: the layout is ours, not Graphviz's. Every node carries a pinned
 * pos="x,y!" in points, so `neato -n2` only draws: boxes are fixed-size
 * nodes, text that must line up is a node of its own, and arrows are
 * straight edges (splines=false) between invisible point nodes. Graphviz
 * draws nodes in the order they are declared and, with outputorder=nodesfirst,
 * all edges after them, so declaration order is the stacking order: lane
 * bands, grid, life bars, spans from outer to inner, instants, text, then the
 * arrows on top. A trace is read whole, checked line by line (an error names
 * the line), events are regrouped per lane in file order (trace.h writes one
 * thread's buffer after another), and spans are matched with a stack per lane.
 * When a trace is too big to draw, the shortest spans and arrows go first and
 * the title says how many went; the JSON for Perfetto always holds everything.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- layout (points) */

#define PLOT_W 1400.0    /* width of the time axis, whatever the trace's duration */
#define LANE_GAP 50.0    /* distance between lane centres */
#define BOX_H 28.0       /* height of a top-level span */
#define LIFE_H 4.0       /* height of the thread-life bar */
#define OFFCPU_H 4.0     /* height of the strip under a lane for time off the CPU */
#define MIN_BOX_W 2.0    /* so that a 1 ns span still shows */
#define BREAK_W 44.0     /* width of the axis break (find_break) */
#define BREAK_FRACTION 0.4 /* a stretch with no event over this much of the trace is broken */
#define MARGIN 12.0
#define TOP 86.0         /* centre of the first lane, from the top */
#define DEFAULT_MAX 2000 /* drawn spans + instants + arrows */
#define ARROW "\xe2\x86\x92" /* U+2192, kept out of the source as bytes */
#define ELLIPSIS "\xe2\x80\xa6"

/* ----------------------------------------------------------------- utilities */

static const char *trace_path = "trace";
static long n_warnings;

/* Print an error and exit with status 1. Never returns. */
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("timeline: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Report a problem with trace line `line` that we can work around; the first 10 are printed. */
static void warn_at(long line, const char *fmt, ...)
{
    if (++n_warnings > 10)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (line > 0)
        fprintf(stderr, "timeline: %s:%ld: warning: ", trace_path, line);
    else
        fprintf(stderr, "timeline: %s: warning: ", trace_path);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* realloc that exits on failure; returns the new block. */
static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n != 0 ? n : 1);
    if (p == NULL)
        die("out of memory");
    return p;
}

#define GROW(arr, n, cap)                                                    \
    do {                                                                     \
        if ((n) == (cap)) {                                                  \
            (cap) = (cap) != 0 ? 2 * (cap) : 64;                             \
            (arr) = xrealloc((arr), (cap) * sizeof *(arr));                  \
        }                                                                    \
    } while (0)

static const char *intern(const char *s, size_t n);

/* printf into an interned string, so that it lives (and stays reachable) until exit. */
static const char *xsprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("formatting failed");
    char *s = xrealloc(NULL, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    const char *r = intern(s, (size_t)n);
    free(s);
    return r;
}

/* Intern table: each distinct name is stored once, so names compare with ==. */
static struct {
    const char **slot;
    size_t cap, n;
} strs;

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

/* The interned copy of s[0..n); invalid UTF-8 bytes become '?' so outputs stay valid. */
static const char *intern(const char *s, size_t n)
{
    if (2 * (strs.n + 1) > strs.cap) {
        size_t cap = strs.cap != 0 ? 2 * strs.cap : 1024;
        const char **slot = calloc(cap, sizeof *slot);
        if (slot == NULL)
            die("out of memory");
        for (size_t i = 0; i < strs.cap; i++) {
            if (strs.slot[i] == NULL)
                continue;
            size_t h = (size_t)hash_bytes(strs.slot[i], strlen(strs.slot[i])) & (cap - 1);
            while (slot[h] != NULL)
                h = (h + 1) & (cap - 1);
            slot[h] = strs.slot[i];
        }
        free(strs.slot);
        strs.slot = slot;
        strs.cap = cap;
    }
    char *copy = xrealloc(NULL, n + 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                  : (c & 0xF8) == 0xF0 ? 4 : 0;
        int ok = len != 0 && i + len <= n && !(len == 2 && c < 0xC2);
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
        if (!ok || (c < 0x20 && c != '\t' && c != '\n')) {
            copy[i++] = '?';
            continue;
        }
        memcpy(copy + i, s + i, len);
        i += len;
    }
    copy[n] = '\0';
    size_t h = (size_t)hash_bytes(copy, n) & (strs.cap - 1);
    while (strs.slot[h] != NULL) {
        if (strcmp(strs.slot[h], copy) == 0) {
            free(copy);
            return strs.slot[h];
        }
        h = (h + 1) & (strs.cap - 1);
    }
    strs.slot[h] = copy;
    strs.n++;
    return copy;
}

/* Parse an unsigned number in `base` (10 or 16; 16 accepts a 0x prefix) at *p.
 * Returns 1 and advances *p on success, 0 when there are no digits or it overflows. */
/* 1 for an object name the wrappers left for kit/cmd/chapters.sh to resolve
 * ("mutex-init@0x1a2b", "data@0x4010") and that it could not: it tells a
 * reader nothing, so such an object is numbered like an unnamed one. */
static int is_site_tag(const char *name)
{
    const char *at = strstr(name, "@0x");
    if (at == NULL || strchr(name, ' ') != NULL)
        return 0;
    size_t n = (size_t)(at - name);
    return (n == 4 && strncmp(name, "data", 4) == 0) ||
           (n > 5 && strncmp(at - 5, "-init", 5) == 0);
}

static int parse_u64(const char **p, int base, uint64_t *out)
{
    const char *s = *p;
    if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    uint64_t v = 0;
    const char *start = s;
    for (;; s++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            break;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return 0;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (s == start)
        return 0;
    *p = s;
    *out = v;
    return 1;
}

/* Estimated width in points of s in Helvetica at size fs (Graphviz does not tell
 * us), 12% generous because a renderer without Helvetica substitutes a wider font. */
static double text_w(const char *s, double fs)
{
    double w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        if ((c & 0xC0) == 0x80)
            continue; /* UTF-8 continuation byte */
        if (c >= 0x80)
            w += 0.6;
        else if (strchr("ijl'|.,:;!", (int)c))
            w += 0.23;
        else if (strchr(" ftrI()[]-/", (int)c))
            w += 0.3;
        else if (c == 'm' || c == 'w' || c == 'M' || c == 'W' || c == '@')
            w += 0.85;
        else if (c >= 'A' && c <= 'Z')
            w += 0.68;
        else
            w += 0.54;
    }
    return 1.12 * w * fs;
}

/* A duration of ns nanoseconds with 3 significant digits and a unit, in one of
 * 8 static buffers used in turn (so that one printf can hold several). */
static const char *fmt_ns(uint64_t ns)
{
    static char buf[8][32];
    static int k;
    char *b = buf[k++ & 7];
    double v = (double)ns;
    const char *u = "ns";
    if (ns >= 1000000000u) {
        v /= 1e9;
        u = "s";
    } else if (ns >= 1000000u) {
        v /= 1e6;
        u = "ms";
    } else if (ns >= 1000u) {
        v /= 1e3;
        u = "us";
    }
    if (ns < 1000u)
        snprintf(b, sizeof buf[0], "%u ns", (unsigned)ns);
    else
        snprintf(b, sizeof buf[0], "%.*f %s", v >= 100 ? 0 : v >= 10 ? 1 : 2, v, u);
    return b;
}

/* ------------------------------------------------------------------ the trace */

struct ev {
    uint64_t ns, arg;
    const char *name;
    long line;   /* line in the trace file, for messages */
    size_t seq;  /* file order */
    int lane;    /* index into trace.lanes */
    int span;    /* B/W: the span it opens; E: the span it closes; else -1 */
    char kind;
};

struct lane {
    long id;                  /* lane number in the file */
    const char *name;
    size_t first, n;          /* its events: evs[first .. first+n) */
    uint64_t t_start, t_end;  /* life: T (or first event) .. X (or last event) */
    int has_start, has_exit;
    uint64_t waited;          /* ns in blocked spans (outermost ones only) */
    double y;                 /* centre, from the top */
};

struct obj {
    uint64_t addr;
    const char *name;
};

enum fk { FK_CREATE, FK_JOIN, FK_UNLOCK, FK_SIGNAL, FK_BROADCAST, FK_USER };

struct span {
    uint64_t t0, t1;
    uint64_t obj;       /* address waited on, 0 if none */
    const char *name;   /* as recorded */
    const char *label;  /* as drawn */
    const char *note;   /* who let it go on, or NULL */
    long line;
    int lane, depth, has_child;
    int blocked;        /* 1 blocked, 2 sleeping, 0 running */
    int unclosed;
    int drawn;
};

struct arrow {
    size_t s, f;        /* event indices */
    enum fk kind;
    int user;           /* FK_USER: index into trace.upairs */
    uint64_t score;
    int drawn;
};

struct offcpu {         /* a stretch a thread was running by the trace but off the CPU */
    uint64_t t0, t1, off;
    int lane;
};

struct upair {          /* a kind of user flow, e.g. send -> receive */
    const char *from, *to;
};

struct trace {
    struct ev *evs;
    size_t nev, cap_ev;
    struct lane *lanes;
    size_t nlanes, cap_lanes;
    struct obj *objs;
    size_t nobj, cap_obj;
    struct span *spans;
    size_t nspan, cap_span;
    struct arrow *arrows;
    size_t narrow, cap_arrow;
    size_t *instants;   /* event indices of I events */
    int *inst_drawn;
    size_t ninst, cap_inst;
    struct upair *upairs;
    size_t nupair, cap_upair;
    struct offcpu *offs;
    size_t noff, cap_off;
    int *order;         /* lane indices, top to bottom */
    uint64_t t0, t1;    /* first and last timestamp */
    int virtual_clock;  /* 'clock virtual': recorded under the scheduler, where time
                         * passes only in waits and naps, never in running code */
    size_t omitted_spans, omitted_arrows, omitted_instants;
};

/* The lane index for file lane number id, created if new. */
static int lane_of(struct trace *t, long id)
{
    static size_t last;
    if (last < t->nlanes && t->lanes[last].id == id)
        return (int)last;
    for (size_t i = 0; i < t->nlanes; i++)
        if (t->lanes[i].id == id)
            return (int)(last = i);
    GROW(t->lanes, t->nlanes, t->cap_lanes);
    struct lane *l = &t->lanes[t->nlanes];
    memset(l, 0, sizeof *l);
    l->id = id;
    l->name = NULL;
    last = t->nlanes++;
    return (int)last;
}

/* Parse one line (NUL-terminated, no newline) into t; exits with the line named on error. */
static void parse_line(struct trace *t, char *s, long line)
{
    const char *p = s;
    if (strncmp(p, "ev ", 3) == 0) {
        struct ev e = {0};
        p += 3;
        uint64_t lane;
        if (!parse_u64(&p, 10, &e.ns) || *p++ != ' ' || !parse_u64(&p, 10, &lane) ||
            *p++ != ' ' || *p == '\0' || p[1] != ' ')
            goto bad_ev;
        e.kind = *p;
        p += 2;
        if (strchr("BWEISFTX", e.kind) == NULL)
            die("%s:%ld: unknown event kind '%c' (expected one of B W E I S F T X)",
                trace_path, line, e.kind);
        if (!parse_u64(&p, 16, &e.arg) || (*p != ' ' && *p != '\0'))
            goto bad_ev;
        if (*p == ' ')
            p++;
        if (lane > 1000000)
            die("%s:%ld: lane number %llu is implausibly large", trace_path, line,
                (unsigned long long)lane);
        e.lane = lane_of(t, (long)lane);
        e.name = intern(p, strlen(p));
        e.line = line;
        e.seq = t->nev;
        e.span = -1;
        GROW(t->evs, t->nev, t->cap_ev);
        t->evs[t->nev++] = e;
        return;
    bad_ev:
        die("%s:%ld: malformed event, expected 'ev <ns> <lane> <kind> <hex arg> <name>': %.60s",
            trace_path, line, s);
    }
    if (strncmp(p, "lane ", 5) == 0) {
        p += 5;
        uint64_t id;
        if (!parse_u64(&p, 10, &id) || (*p != ' ' && *p != '\0') || id > 1000000)
            die("%s:%ld: malformed lane line, expected 'lane <number> <name>': %.60s",
                trace_path, line, s);
        if (*p == ' ')
            p++;
        int li = lane_of(t, (long)id); /* may move t->lanes */
        t->lanes[li].name = *p != '\0' ? intern(p, strlen(p)) : NULL;
        return;
    }
    if (strncmp(p, "obj ", 4) == 0) {
        p += 4;
        struct obj o;
        if (strncmp(p, "(nil)", 5) == 0) {
            o.addr = 0;
            p += 5;
        } else if (!parse_u64(&p, 16, &o.addr)) {
            p = NULL;
        }
        if (p == NULL || *p != ' ' || p[1] == '\0')
            die("%s:%ld: malformed object line, expected 'obj <address> <name>': %.60s",
                trace_path, line, s);
        o.name = intern(p + 1, strlen(p + 1));
        for (size_t i = 0; i < t->nobj; i++)
            if (t->objs[i].addr == o.addr) {
                if (!is_site_tag(o.name) || is_site_tag(t->objs[i].name))
                    t->objs[i].name = o.name; /* a real name beats a tag, whatever the order */
                return;
            }
        GROW(t->objs, t->nobj, t->cap_obj);
        t->objs[t->nobj++] = o;
        return;
    }
    if (strncmp(p, "offcpu ", 7) == 0) {
        p += 7;
        uint64_t lane;
        struct offcpu o;
        if (!parse_u64(&p, 10, &lane) || *p++ != ' ' || !parse_u64(&p, 10, &o.t0) ||
            *p++ != ' ' || !parse_u64(&p, 10, &o.t1) || *p++ != ' ' ||
            !parse_u64(&p, 10, &o.off) || *p != '\0' || o.t1 < o.t0 || lane > 1000000)
            die("%s:%ld: malformed offcpu line, expected 'offcpu <lane> <from ns> <to ns> "
                "<ns off the CPU>': %.60s",
                trace_path, line, s);
        o.lane = lane_of(t, (long)lane);
        if (o.off > o.t1 - o.t0)
            o.off = o.t1 - o.t0;
        GROW(t->offs, t->noff, t->cap_off);
        t->offs[t->noff++] = o;
        return;
    }
    if (strcmp(p, "clock virtual") == 0 || strcmp(p, "clock real") == 0) {
        t->virtual_clock = p[6] == 'v';
        return;
    }
    die("%s:%ld: unknown record (expected 'lane', 'obj', 'ev', 'offcpu' or 'clock'): %.60s",
        trace_path, line, s);
}

/* Read the whole file at path into t. Exits with a message on any error. */
static void read_trace(struct trace *t, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        die("cannot open trace '%s': %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536) {
            cap = cap != 0 ? 2 * cap : 1 << 20;
            buf = xrealloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        die("cannot read trace '%s': %s", path, strerror(errno));
    fclose(f);
    buf[n] = '\0';
    if (memchr(buf, '\0', n) != NULL)
        die("%s: contains NUL bytes; not a threadlab trace", path);

    long line = 0;
    int header = 0;
    for (char *s = buf; s < buf + n;) {
        char *nl = strchr(s, '\n');
        char *end = nl != NULL ? nl : buf + n;
        line++;
        *end = '\0';
        while (end > s && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*s != '\0' && *s != '#') {
            if (!header) {
                if (strcmp(s, "threadlab-trace 1") != 0)
                    die("%s:%ld: not a threadlab trace: the first line should be "
                        "'threadlab-trace 1', found: %.60s", path, line, s);
                header = 1;
            } else {
                parse_line(t, s, line);
            }
        }
        s = nl != NULL ? nl + 1 : buf + n;
    }
    if (!header)
        die("%s: empty trace (did the program run with TL_TRACE set and exit normally?)", path);
    if (t->nev == 0)
        die("%s: the trace holds no events", path);
    free(buf);
}

static int cmp_lane_seq(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->lane != y->lane)
        return x->lane < y->lane ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* What kind of object a blocked span named `what` waits on, for "mutex #2" names. */
static const char *obj_class(const char *what)
{
    if (strcmp(what, "lock") == 0)
        return "mutex";
    if (strcmp(what, "rdlock") == 0 || strcmp(what, "wrlock") == 0)
        return "rwlock";
    if (strcmp(what, "wait") == 0 || strcmp(what, "timedwait") == 0)
        return "cond";
    if (strcmp(what, "barrier") == 0)
        return "barrier";
    return "object";
}

static enum fk flow_kind(const char *s_name)
{
    if (strcmp(s_name, "create") == 0)
        return FK_CREATE;
    if (strcmp(s_name, "exit") == 0)
        return FK_JOIN;
    if (strcmp(s_name, "unlock") == 0)
        return FK_UNLOCK;
    if (strcmp(s_name, "signal") == 0)
        return FK_SIGNAL;
    if (strcmp(s_name, "broadcast") == 0)
        return FK_BROADCAST;
    return FK_USER;
}

static const struct trace *sort_ctx;

static int cmp_span_time(const void *a, const void *b)
{
    const struct span *x = &sort_ctx->spans[*(const size_t *)a];
    const struct span *y = &sort_ctx->spans[*(const size_t *)b];
    if (x->t0 != y->t0)
        return x->t0 < y->t0 ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static int cmp_lane_order(const void *a, const void *b)
{
    const struct lane *x = &sort_ctx->lanes[*(const int *)a];
    const struct lane *y = &sort_ctx->lanes[*(const int *)b];
    int xm = x->name != NULL && strcmp(x->name, "main") == 0;
    int ym = y->name != NULL && strcmp(y->name, "main") == 0;
    if (xm != ym)
        return ym - xm;
    uint64_t xf = x->n != 0 ? sort_ctx->evs[x->first].ns : UINT64_MAX;
    uint64_t yf = y->n != 0 ? sort_ctx->evs[y->first].ns : UINT64_MAX;
    if (xf != yf)
        return xf < yf ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Open-addressing map from nonzero 64-bit keys (flow ids, addresses) to
 * indices, sized once for at most n keys. */
struct map {
    uint64_t *key; /* 0 = empty */
    size_t *val;
    size_t mask;
};

static void map_init(struct map *m, size_t n)
{
    size_t cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    m->key = xrealloc(NULL, cap * sizeof *m->key);
    m->val = xrealloc(NULL, cap * sizeof *m->val);
    memset(m->key, 0, cap * sizeof *m->key);
    m->mask = cap - 1;
}

static void map_free(struct map *m)
{
    free(m->key);
    free(m->val);
}

/* The slot where key is, or the empty slot where it would go. */
static size_t map_slot(const struct map *m, uint64_t key)
{
    size_t k = (size_t)((key ^ key >> 29) * 0x9E3779B97F4A7C15u) & m->mask;
    while (m->key[k] != 0 && m->key[k] != key)
        k = (k + 1) & m->mask;
    return k;
}

/* The value stored for key, or SIZE_MAX. */
static size_t map_get(const struct map *m, uint64_t key)
{
    size_t k = map_slot(m, key);
    return m->key[k] == key ? m->val[k] : SIZE_MAX;
}

/* Store key -> val unless key is there already; returns 1 if it stored it. */
static int map_put(struct map *m, uint64_t key, size_t val)
{
    size_t k = map_slot(m, key);
    if (m->key[k] == key)
        return 0;
    m->key[k] = key;
    m->val[k] = val;
    return 1;
}

/* Group events per lane (file order within a lane), make each lane's times
 * non-decreasing, and find the trace's first and last timestamps. */
static void index_lanes(struct trace *t)
{
    qsort(t->evs, t->nev, sizeof *t->evs, cmp_lane_seq);
    t->t0 = UINT64_MAX;
    t->t1 = 0;
    for (size_t i = 0; i < t->nev; i++) {
        struct lane *l = &t->lanes[t->evs[i].lane];
        if (l->n == 0) {
            l->first = i;
        } else if (t->evs[i].ns < t->evs[i - 1].ns) {
            warn_at(t->evs[i].line, "time goes backwards on lane %ld; using the previous time",
                    l->id);
            t->evs[i].ns = t->evs[i - 1].ns;
        }
        l->n++;
        if (t->evs[i].ns < t->t0)
            t->t0 = t->evs[i].ns;
        if (t->evs[i].ns > t->t1)
            t->t1 = t->evs[i].ns;
    }
    for (size_t li = 0; li < t->nlanes; li++)
        if (t->lanes[li].name == NULL)
            t->lanes[li].name = xsprintf("lane %ld", t->lanes[li].id);
}

/* Match one lane's B/W with E using a stack; note its life, instants and time blocked.
 * It is one pass with one case per event kind over state they all share (the
 * stack, the open span, the lane's totals): split up, the cases would pass that
 * state around and read worse than its 87 lines do. */
static void build_spans(struct trace *t, size_t li, size_t **stack, size_t *cap_stack)
{
    struct lane *l = &t->lanes[li];
    if (l->n == 0)
        return;
    uint64_t last = t->evs[l->first + l->n - 1].ns;
    l->t_start = t->evs[l->first].ns;
    l->t_end = last;
    size_t nstack = 0;
    int nblocked = 0;          /* open blocked spans; only the outermost one counts */
    uint64_t blocked_since = 0;
    for (size_t i = l->first; i < l->first + l->n; i++) {
        struct ev *e = &t->evs[i];
        switch (e->kind) {
        case 'B':
        case 'W': {
            GROW(t->spans, t->nspan, t->cap_span);
            struct span *sp = &t->spans[t->nspan];
            memset(sp, 0, sizeof *sp);
            sp->t0 = e->ns;
            sp->name = e->name;
            sp->label = e->name;
            sp->obj = e->kind == 'W' ? e->arg : 0;
            sp->line = e->line;
            sp->lane = (int)li;
            sp->depth = (int)nstack;
            sp->blocked = e->kind == 'W' ? (strcmp(e->name, "sleep") == 0 ? 2 : 1) : 0;
            if (nstack > 0)
                t->spans[(*stack)[nstack - 1]].has_child = 1;
            if (sp->blocked && nblocked++ == 0)
                blocked_since = e->ns;
            e->span = (int)t->nspan;
            GROW(*stack, nstack, *cap_stack);
            (*stack)[nstack++] = t->nspan++;
            break;
        }
        case 'E':
            if (nstack == 0) {
                warn_at(e->line, "'E' with no open span on lane %ld; ignored", l->id);
                break;
            }
            e->span = (int)(*stack)[--nstack];
            t->spans[e->span].t1 = e->ns;
            if (t->spans[e->span].blocked && --nblocked == 0)
                l->waited += e->ns - blocked_since;
            break;
        case 'I':
            GROW(t->instants, t->ninst, t->cap_inst);
            t->instants[t->ninst++] = i;
            break;
        case 'T':
            if (!l->has_start)
                l->t_start = e->ns;
            l->has_start = 1;
            break;
        case 'X':
            l->t_end = e->ns;
            l->has_exit = 1;
            break;
        default:
            break;
        }
    }
    /* Spans left open. A thread that never exited and is blocked at its last
     * event was still blocked when the trace was written (a deadlock, say):
     * its wait runs to the end of the trace, which is what a learner needs to
     * see. Anything else is closed at the thread's last event. */
    uint64_t close_at = last;
    if (nstack > 0 && !l->has_exit && t->spans[(*stack)[nstack - 1]].blocked) {
        const struct span *sp = &t->spans[(*stack)[nstack - 1]];
        close_at = t->t1;
        l->t_end = t->t1;
        fprintf(stderr, "timeline: %s:%ld: note: %s was still blocked in '%s' when the trace "
                "ended\n", trace_path, sp->line, l->name, sp->name);
    } else if (nstack > 0) {
        warn_at(t->spans[(*stack)[nstack - 1]].line,
                "%zu span(s) on lane %ld never end; closed at the lane's last event", nstack,
                l->id);
    }
    while (nstack > 0) {
        struct span *sp = &t->spans[(*stack)[--nstack]];
        sp->t1 = close_at;
        sp->unclosed = close_at == last ? 1 : 2;
        if (sp->blocked && --nblocked == 0)
            l->waited += close_at - blocked_since;
    }
    if (l->t_end < l->t_start)
        l->t_end = l->t_start;
}

/* Make an arrow from each S to every F with its id on another lane, and tell
 * the wait that an F ends (the blocked span closed just before it) who ended it. */
static void match_flows(struct trace *t)
{
    struct map starts;
    map_init(&starts, t->nev);
    for (size_t i = 0; i < t->nev; i++)
        if (t->evs[i].kind == 'S' && t->evs[i].arg != 0 && !map_put(&starts, t->evs[i].arg, i))
            warn_at(t->evs[i].line, "flow id %llx started twice; the first one is used",
                    (unsigned long long)t->evs[i].arg);
    size_t unmatched = 0;
    for (size_t i = 0; i < t->nev; i++) {
        const struct ev *f = &t->evs[i];
        if (f->kind != 'F' || f->arg == 0)
            continue;
        size_t si = map_get(&starts, f->arg);
        if (si == SIZE_MAX) {
            unmatched++;
            continue;
        }
        const struct ev *s = &t->evs[si];
        if (s->lane == f->lane)
            continue;
        struct span *w = NULL;
        if (i > 0 && t->evs[i - 1].lane == f->lane && t->evs[i - 1].kind == 'E' &&
            t->evs[i - 1].span >= 0 && t->spans[t->evs[i - 1].span].blocked)
            w = &t->spans[t->evs[i - 1].span];
        if (w != NULL) {
            const char *who = t->lanes[s->lane].name;
            if (strcmp(w->name, "join") == 0) {
                w->label = xsprintf("join %s", who);
                w->note = xsprintf("%s exited", who);
            } else {
                w->note = xsprintf("%s by %s (%s)",
                                   strcmp(s->name, "unlock") == 0 ? "released" : "woken", who,
                                   s->name);
            }
        }
        GROW(t->arrows, t->narrow, t->cap_arrow);
        struct arrow *a = &t->arrows[t->narrow++];
        memset(a, 0, sizeof *a);
        a->s = si;
        a->f = i;
        a->kind = flow_kind(s->name);
        if (a->kind == FK_USER) {
            size_t u = 0;
            while (u < t->nupair && !(t->upairs[u].from == s->name && t->upairs[u].to == f->name))
                u++;
            if (u == t->nupair) {
                GROW(t->upairs, t->nupair, t->cap_upair);
                t->upairs[t->nupair++] = (struct upair){s->name, f->name};
            }
            a->user = (int)u;
        }
        /* How much the arrow matters when there are too many: the longer of
         * its own stretch of time and the wait it ended. */
        uint64_t dt = f->ns > s->ns ? f->ns - s->ns : s->ns - f->ns;
        uint64_t wd = w != NULL ? w->t1 - w->t0 : 0;
        a->score = a->kind == FK_CREATE || a->kind == FK_JOIN ? UINT64_MAX : dt > wd ? dt : wd;
    }
    map_free(&starts);
    if (unmatched > 0)
        warn_at(0, "%zu flow end(s) ('F') have no matching start ('S'); not drawn", unmatched);
}

/* Label each blocked span with what it waited on: the object's name from an
 * 'obj' line, else "mutex #k" (cond, rwlock, barrier...) numbered per kind in
 * order of first appearance. */
static void name_objects(struct trace *t)
{
    static const char *const classes[] = {"mutex", "rwlock", "cond", "barrier", "object"};
    int counter[5] = {0};
    struct map names; /* address -> index in t->objs */
    map_init(&names, t->nobj + t->nspan);
    for (size_t i = 0; i < t->nobj; i++)
        if (t->objs[i].addr != 0 && !is_site_tag(t->objs[i].name))
            map_put(&names, t->objs[i].addr, i);
    size_t *byt = xrealloc(NULL, (t->nspan + 1) * sizeof *byt);
    for (size_t i = 0; i < t->nspan; i++)
        byt[i] = i;
    sort_ctx = t;
    qsort(byt, t->nspan, sizeof *byt, cmp_span_time);
    for (size_t k = 0; k < t->nspan; k++) {
        struct span *sp = &t->spans[byt[k]];
        if (sp->blocked == 0 || sp->obj == 0)
            continue;
        size_t oi = map_get(&names, sp->obj);
        if (oi == SIZE_MAX) {
            const char *cls = obj_class(sp->name);
            int c = 0;
            while (strcmp(classes[c], cls) != 0)
                c++;
            GROW(t->objs, t->nobj, t->cap_obj);
            t->objs[t->nobj] = (struct obj){sp->obj, xsprintf("%s #%d", cls, ++counter[c])};
            oi = t->nobj++;
            map_put(&names, sp->obj, oi);
        }
        const char *on = t->objs[oi].name;
        size_t nl = strlen(sp->name);
        if (strncmp(on, sp->name, nl) == 0 && on[nl] == ' ')
            sp->label = on; /* "barrier #1", not "barrier barrier #1" */
        else
            sp->label = xsprintf("%s %s", sp->name, on);
    }
    free(byt);
    map_free(&names);
}

/* Put main first, then the other lanes in order of their first event. */
static void order_lanes(struct trace *t)
{
    t->order = xrealloc(NULL, (t->nlanes + 1) * sizeof *t->order);
    for (size_t i = 0; i < t->nlanes; i++)
        t->order[i] = (int)i;
    sort_ctx = t;
    qsort(t->order, t->nlanes, sizeof *t->order, cmp_lane_order);
    for (size_t r = 0; r < t->nlanes; r++)
        t->lanes[t->order[r]].y = TOP + (double)r * LANE_GAP;
}

/* Build lanes' lives, spans, instants, arrows and labels from the parsed events. */
static void analyse(struct trace *t)
{
    index_lanes(t);
    size_t *stack = NULL, cap_stack = 0;
    for (size_t li = 0; li < t->nlanes; li++)
        build_spans(t, li, &stack, &cap_stack);
    free(stack);
    match_flows(t);
    name_objects(t);
    order_lanes(t);
}

/* ------------------------------------------------------------- what to draw */

struct cand {
    uint64_t score, t;
    int what; /* 0 span, 1 arrow, 2 instant */
    size_t i;
};

static int cmp_cand(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Mark at most max elements as drawn: threads' creation and joins and instants
 * first, then spans and arrows from the longest (for an arrow, the longer of
 * its own span of time and the wait it ended). */
static void choose(struct trace *t, size_t max)
{
    t->inst_drawn = xrealloc(NULL, (t->ninst + 1) * sizeof *t->inst_drawn);
    size_t total = t->nspan + t->narrow + t->ninst;
    if (total <= max) {
        for (size_t i = 0; i < t->nspan; i++)
            t->spans[i].drawn = 1;
        for (size_t i = 0; i < t->narrow; i++)
            t->arrows[i].drawn = 1;
        for (size_t i = 0; i < t->ninst; i++)
            t->inst_drawn[i] = 1;
        return;
    }
    struct cand *c = xrealloc(NULL, total * sizeof *c);
    size_t n = 0;
    for (size_t i = 0; i < t->nspan; i++)
        c[n++] = (struct cand){t->spans[i].t1 - t->spans[i].t0, t->spans[i].t0, 0, i};
    for (size_t i = 0; i < t->narrow; i++)
        c[n++] = (struct cand){t->arrows[i].score, t->evs[t->arrows[i].s].ns, 1, i};
    for (size_t i = 0; i < t->ninst; i++)
        c[n++] = (struct cand){UINT64_MAX - 1, t->evs[t->instants[i]].ns, 2, i};
    qsort(c, n, sizeof *c, cmp_cand);
    memset(t->inst_drawn, 0, (t->ninst + 1) * sizeof *t->inst_drawn);
    for (size_t k = 0; k < n; k++) {
        int keep = k < max;
        if (c[k].what == 0) {
            t->spans[c[k].i].drawn = keep;
            t->omitted_spans += !keep;
        } else if (c[k].what == 1) {
            t->arrows[c[k].i].drawn = keep;
            t->omitted_arrows += !keep;
        } else {
            t->inst_drawn[c[k].i] = keep;
            t->omitted_instants += !keep;
        }
    }
    free(c);
}

/* ------------------------------------------------------------------- the .dot */

struct dot {
    FILE *f;
    double height;   /* total height: y in the file = height - y from the top */
    long nodes;
};

/* Write s escaped for the inside of a quoted DOT string. */
static void dot_esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\n') {
            fputs("\\n", f);
            continue;
        }
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
}

/* Write s as a quoted DOT string. */
static void dot_q(FILE *f, const char *s)
{
    fputc('"', f);
    dot_esc(f, s);
    fputc('"', f);
}

/* Write s escaped for a Graphviz HTML-like label. */
static void dot_html(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Start a node centred at (x, y from the top), w x h points; the caller adds
 * attributes with attr()/attr_q() and ends it with end_node(). Returns its number. */
static long node(struct dot *d, double x, double y, double w, double h)
{
    long id = d->nodes++;
    fprintf(d->f, "n%ld [pos=\"%.1f,%.1f!\", width=%.4f, height=%.4f", id, x, d->height - y,
            w / 72.0, h / 72.0);
    return id;
}

static void attr(struct dot *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(", ", d->f);
    vfprintf(d->f, fmt, ap);
    va_end(ap);
}

static void attr_q(struct dot *d, const char *key, const char *value)
{
    fprintf(d->f, ", %s=", key);
    dot_q(d->f, value);
}

static void end_node(struct dot *d) { fputs("];\n", d->f); }

/* A filled rectangle with no text (bands, grid, bars). */
static void rect(struct dot *d, double x0, double y, double w, double h, const char *fill,
                 const char *tip)
{
    node(d, x0 + w / 2, y, w, h);
    attr(d, "fillcolor=\"%s\", color=\"%s\"", fill, fill);
    if (tip != NULL)
        attr_q(d, "tooltip", tip);
    end_node(d);
}

/* Text with its left (align 'l'), centre ('c') or right ('r') edge at x. The
 * node is made wider than the text and the text pushed to the node's side
 * with \l or \r, so a wrong guess of the font's width cannot misplace it. */
static void text(struct dot *d, double x, double y, const char *s, double fs, const char *color,
                 char align, const char *font)
{
    double w = 1.3 * text_w(s, fs) + 12;
    double cx = align == 'l' ? x + w / 2 : align == 'r' ? x - w / 2 : x;
    node(d, cx, y, w, fs + 4);
    attr(d, "shape=plaintext, style=\"\", fontsize=%.1f, fontcolor=\"%s\"", fs, color);
    if (font != NULL)
        attr_q(d, "fontname", font);
    fputs(", label=\"", d->f);
    dot_esc(d->f, s);
    fputs(align == 'l' ? "\\l\"" : align == 'r' ? "\\r\"" : "\"", d->f);
    end_node(d);
}

/* An invisible point to hang an arrow on. */
static long anchor(struct dot *d, double x, double y)
{
    long id = node(d, x, y, 0.5, 0.5);
    attr(d, "shape=point, style=invis");
    end_node(d);
    return id;
}

/* Fill, outline and text colours of a span. */
static void span_colors(const struct span *sp, const char **fill, const char **line,
                        const char **font)
{
    static const char *const pal[][2] = {
        {"#a6cee3", "#1f78b4"}, {"#b2df8a", "#33a02c"}, {"#cab2d6", "#6a3d9a"},
        {"#ffe08a", "#b8860b"}, {"#9fe2e0", "#1b7f7a"}, {"#d4d4f0", "#4b4b9a"},
        {"#d9ef9c", "#6b8e23"},
    };
    if (sp->blocked == 1) {
        *fill = "#fbd5d0";
        *line = "#c0392b";
        *font = "#8b1a1a";
    } else if (sp->blocked == 2) {
        *fill = "#e4e4e4";
        *line = "#808080";
        *font = "#404040";
    } else {
        size_t k = (size_t)(hash_bytes(sp->name, strlen(sp->name)) % (sizeof pal / sizeof pal[0]));
        *fill = pal[k][0];
        *line = pal[k][1];
        *font = "#1a1a1a";
    }
}

static const struct {
    const char *color, *style, *head, *legend;
} fk_style[] = {
    [FK_CREATE] = {"#2e7d32", "solid", "normal", "create " ARROW " start"},
    [FK_JOIN] = {"#6a1b9a", "dashed", "empty", "exit " ARROW " join"},
    [FK_UNLOCK] = {"#c62828", "solid", "normal", "unlock " ARROW " lock"},
    [FK_SIGNAL] = {"#e67e00", "solid", "normal", "signal " ARROW " wake"},
    [FK_BROADCAST] = {"#e67e00", "dashed", "normal", "broadcast " ARROW " wake"},
    [FK_USER] = {"#1565c0", "solid", "vee", NULL},
};
static const char *const user_colors[] = {"#1565c0", "#00838f", "#795548", "#546e7a"};
#define N_USER_COLORS 4

static const char *arrow_color(const struct arrow *a)
{
    if (a->kind != FK_USER)
        return fk_style[a->kind].color;
    return user_colors[a->user < N_USER_COLORS ? a->user : N_USER_COLORS - 1];
}

/* Span text that fits in w points at size fs: whole, cut with an ellipsis, or "". */
static const char *fit(const char *s, double w, double fs)
{
    if (text_w(s, fs) + 4 <= w)
        return s;
    size_t len = strlen(s);
    char *b = xrealloc(NULL, len + 4);
    for (size_t n = len; n > 0; n--) {
        if (((unsigned char)s[n] & 0xC0) == 0x80)
            continue; /* don't cut a UTF-8 sequence */
        size_t k = n;
        while (k > 0 && s[k - 1] == ' ')
            k--; /* "lock…", not "lock …" */
        memcpy(b, s, k);
        strcpy(b + k, ELLIPSIS);
        if (k >= 3 && text_w(b, fs) + 4 <= w) {
            const char *r = intern(b, strlen(b));
            free(b);
            return r;
        }
    }
    free(b);
    return "";
}

/* The name of the most common drawn running span (among the first 16 names seen),
 * so that the legend's sample has a colour the diagram uses. */
static const char *common_name(const struct trace *t)
{
    const char *name[16];
    size_t count[16], n = 0, best = 0;
    for (size_t i = 0; i < t->nspan; i++) {
        const struct span *sp = &t->spans[i];
        if (!sp->drawn || sp->blocked)
            continue;
        size_t k = 0;
        while (k < n && name[k] != sp->name)
            k++;
        if (k == n) {
            if (n == 16)
                continue;
            name[n] = sp->name;
            count[n++] = 0;
        }
        if (++count[k] > count[best])
            best = k;
    }
    return n > 0 ? name[best] : "work";
}

enum lg_kind { LG_RUNNING, LG_BLOCKED, LG_SLEEP, LG_OFFCPU, LG_INSTANT, LG_LIFE, LG_ARROW };

#define OFFCPU_COLOR "#e8a33d" /* amber: runnable, not on a CPU; never the pale red of blocked */

struct legend {
    enum lg_kind kind;
    const char *text;
    const char *color, *style, *head; /* LG_ARROW */
    double x, y;                      /* left end of the sample, from the top */
    long from, to;                    /* LG_ARROW: its anchor nodes */
};

#define MAX_LEGEND 16

/* Geometry shared by the drawing functions below. */
struct canvas {
    struct dot d;
    const struct trace *t;
    double x0;       /* where time t->t0 is */
    double scale;    /* points per ns, outside the break */
    uint64_t g0, g1; /* the break: a stretch with no event, drawn BREAK_W wide (g0 == g1: none) */
    double label_w;  /* width of the thread-name column */
    double axis_y;
    struct legend lg[MAX_LEGEND];
    int nlg;
};

/* x of time ns: linear, except that the break [g0, g1] is BREAK_W wide. */
static double xt(const struct canvas *c, uint64_t ns)
{
    const uint64_t t0 = c->t->t0;
    if (c->g1 == c->g0 || ns <= c->g0)
        return c->x0 + (double)(ns - t0) * c->scale;
    double at_break = c->x0 + (double)(c->g0 - t0) * c->scale;
    if (ns >= c->g1)
        return at_break + BREAK_W + (double)(ns - c->g1) * c->scale;
    return at_break + BREAK_W * (double)(ns - c->g0) / (double)(c->g1 - c->g0);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Whether nothing runs in [g0, g1]: every thread alive through it is inside
 * a blocked span (a lock, a wait, a join, a sleep) that covers it. A thread
 * alive with no such span may be computing, which is no empty time. */
static int all_blocked(const struct trace *t, uint64_t g0, uint64_t g1)
{
    for (size_t li = 0; li < t->nlanes; li++) {
        const struct lane *l = &t->lanes[li];
        if (l->n == 0 || l->t_end <= g0 || l->t_start >= g1)
            continue;
        int covered = 0;
        for (size_t k = 0; k < t->nspan && !covered; k++) {
            const struct span *sp = &t->spans[k];
            covered = sp->lane == (int)li && sp->blocked && sp->t0 <= g0 && sp->t1 >= g1;
        }
        if (!covered)
            return 0;
    }
    return 1;
}

/* The longest stretch of the trace in which nothing happens, into *g0 and *g1,
 * when it is over BREAK_FRACTION of the whole (else *g0 == *g1). Drawn to
 * scale, a run the scheduler stopped at its virtual time limit, or threads
 * that all wait a second after a burst of work, squeeze everything that
 * matters into the first pixels. Nothing happens where there is no event and
 * no off-CPU edge and, on a real clock, every thread is blocked (all_blocked):
 * on the scheduler's virtual clock running code takes no time at all. */
static void find_break(const struct trace *t, uint64_t *g0, uint64_t *g1)
{
    *g0 = *g1 = t->t0;
    size_t n = 0;
    uint64_t *ts = xrealloc(NULL, (t->nev + 2 * t->noff + 1) * sizeof *ts);
    for (size_t i = 0; i < t->nev; i++)
        ts[n++] = t->evs[i].ns;
    for (size_t i = 0; i < t->noff; i++) {
        ts[n++] = t->offs[i].t0;
        ts[n++] = t->offs[i].t1;
    }
    qsort(ts, n, sizeof *ts, cmp_u64);
    double least = BREAK_FRACTION * (double)(t->t1 - t->t0);
    uint64_t best = 0;
    for (size_t i = 1; i < n; i++) {
        uint64_t gap = ts[i] - ts[i - 1];
        if (gap > best && (double)gap > least &&
            (t->virtual_clock || all_blocked(t, ts[i - 1], ts[i]))) {
            best = gap;
            *g0 = ts[i - 1];
            *g1 = ts[i];
        }
    }
    free(ts);
}

/* Choose the legend's entries (what the diagram uses, plus running and blocked
 * spans) and lay them out in rows under the axis; returns the bottom y. */
static double plan_legend(struct canvas *c)
{
    const struct trace *t = c->t;
    int has_sleep = 0, has_kind[FK_USER + 1] = {0};
    for (size_t i = 0; i < t->nspan; i++)
        has_sleep |= t->spans[i].drawn && t->spans[i].blocked == 2;
    for (size_t i = 0; i < t->narrow; i++)
        if (t->arrows[i].drawn)
            has_kind[t->arrows[i].kind] = 1;
    struct legend *lg = c->lg;
    int n = 0;
    lg[n++] = (struct legend){.kind = LG_LIFE, .text = "thread alive"};
    lg[n++] = (struct legend){.kind = LG_RUNNING, .text = "running span (a colour per name)"};
    lg[n++] = (struct legend){.kind = LG_BLOCKED, .text = "blocked (what it waits on)"};
    if (has_sleep)
        lg[n++] = (struct legend){.kind = LG_SLEEP, .text = "sleeping"};
    if (t->noff > 0)
        lg[n++] = (struct legend){.kind = LG_OFFCPU, .text = "not on a CPU (waiting for one)"};
    if (t->ninst > 0)
        lg[n++] = (struct legend){.kind = LG_INSTANT, .text = "instant"};
    for (int k = FK_CREATE; k < FK_USER; k++)
        if (has_kind[k])
            lg[n++] = (struct legend){LG_ARROW, fk_style[k].legend, fk_style[k].color,
                                      fk_style[k].style, fk_style[k].head, 0, 0, 0, 0};
    /* User flows: one entry per kind (send -> receive...), the rest as "other flows". */
    for (size_t u = 0; u < t->nupair && n < MAX_LEGEND; u++) {
        int shown = 0;
        for (size_t i = 0; i < t->narrow && !shown; i++)
            shown = t->arrows[i].drawn && t->arrows[i].kind == FK_USER &&
                    (size_t)t->arrows[i].user == u;
        if (!shown)
            continue;
        int last = u + 1 >= N_USER_COLORS;
        const char *txt = last ? "other flows"
                               : xsprintf("%s %s %s", t->upairs[u].from, ARROW, t->upairs[u].to);
        lg[n++] = (struct legend){LG_ARROW, txt, user_colors[last ? N_USER_COLORS - 1 : u],
                                  "solid", "vee", 0, 0, 0, 0};
        if (last)
            break;
    }
    c->nlg = n;
    double x = c->x0, y = c->axis_y + 44;
    for (int i = 0; i < n; i++) {
        double w = 34 + text_w(lg[i].text, 10) + 22;
        if (x + w > c->x0 + PLOT_W && x > c->x0) {
            x = c->x0;
            y += 20;
        }
        lg[i].x = x;
        lg[i].y = y;
        x += w;
    }
    return y + 18;
}

/* Title, and a line that says what the trace holds and what was left out. */
static void draw_header(struct canvas *c, const char *title)
{
    const struct trace *t = c->t;
    text(&c->d, MARGIN, 22, title, 16, "#111111", 'l', "Helvetica-Bold");
    size_t nthreads = 0;
    for (size_t i = 0; i < t->nlanes; i++)
        nthreads += t->lanes[i].n > 0;
    const char *sub = xsprintf("%zu thread%s, %s, %zu events. Hover over a box or an arrow "
                               "for details.", nthreads, nthreads == 1 ? "" : "s",
                               fmt_ns(t->t1 - t->t0), t->nev);
    size_t omitted = t->omitted_spans + t->omitted_arrows + t->omitted_instants;
    if (omitted > 0)
        sub = xsprintf("%s Omitted %zu of %zu elements to keep it readable (the shortest: %zu "
                       "spans, %zu arrows, %zu instants); the JSON has them all.",
                       sub, omitted, t->nspan + t->narrow + t->ninst, t->omitted_spans,
                       t->omitted_arrows, t->omitted_instants);
    text(&c->d, MARGIN, 44, sub, 10, omitted > 0 ? "#a04000" : "#555555", 'l', NULL);
}

/* Zebra-striped lane bands, then the time grid and the axis with round ticks. */
static void draw_grid(struct canvas *c)
{
    const struct trace *t = c->t;
    for (size_t r = 0; r < t->nlanes; r++)
        rect(&c->d, MARGIN, TOP + (double)r * LANE_GAP, c->x0 + PLOT_W + 8 - MARGIN, LANE_GAP,
             r % 2 ? "#ffffff" : "#f3f5f8", NULL);

    /* 5 to 10 ticks, 1, 2 or 5 times a power of ten apart, over the time
     * drawn to scale (none inside the break). */
    uint64_t full = t->t1 - t->t0 != 0 ? t->t1 - t->t0 : 1000;
    uint64_t dur = full - (c->g1 - c->g0);
    uint64_t step = 1, raw = dur / 10 != 0 ? dur / 10 : 1;
    while (step * 10 <= raw)
        step *= 10;
    step *= step * 2 >= raw ? 2 : step * 5 >= raw ? 5 : 10;
    uint64_t unit = dur >= 1000000000u ? 1000000000u
                  : dur >= 1000000u    ? 1000000u
                  : dur >= 1000u       ? 1000u
                                       : 1u;
    const char *uname = unit == 1000000000u ? "s" : unit == 1000000u ? "ms"
                      : unit == 1000u       ? "us"
                                            : "ns";
    double grid_top = TOP - LANE_GAP / 2;
    uint64_t b0 = c->g0 - t->t0, b1 = c->g1 - t->t0; /* the break, from the start */
    uint64_t after = b1 == b0 ? 0 : (b1 + step - 1) / step * step; /* first tick after it */
    /* Each tick: a grid line through the lanes, a mark and its time on the axis. */
    for (uint64_t v = 0; v <= full; v += step) {
        if (b1 != b0 && v > b0 && v < after)
            v = after;
        if (v > full)
            break;
        double x = xt(c, t->t0 + v);
        rect(&c->d, x - 0.3, (grid_top + c->axis_y) / 2, 0.6, c->axis_y - grid_top, "#d5d9e0",
             NULL);
        rect(&c->d, x - 0.4, c->axis_y + 3, 0.8, 6, "#333333", NULL);
        char b[32];
        snprintf(b, sizeof b, "%g", (double)v / (double)unit);
        /* past a break, far beyond the axis's unit: say it with its own */
        text(&c->d, x, c->axis_y + 14, v / unit >= 10000 ? fmt_ns(v) : b, 9, "#333333", 'c', NULL);
    }
    if (b1 == b0) {
        rect(&c->d, c->x0, c->axis_y, PLOT_W, 1, "#333333", NULL);
    } else { /* the axis in two pieces, the gap between them the break */
        double xa = xt(c, c->g0), xb = xt(c, c->g1);
        rect(&c->d, c->x0, c->axis_y, xa - 6 - c->x0, 1, "#333333", NULL);
        rect(&c->d, xb + 6, c->axis_y, c->x0 + PLOT_W - xb - 6, 1, "#333333", NULL);
        text(&c->d, (xa + xb) / 2, c->axis_y, "//", 10, "#333333", 'c', "Helvetica-Bold");
        /* where the time after the break starts, unless a tick is near */
        if (after > full || xt(c, t->t0 + after) - xb > 40)
            text(&c->d, xb + 4, c->axis_y + 14, fmt_ns(b1), 8, "#555555", 'l',
                 "Helvetica-Oblique");
    }
    text(&c->d, c->x0 - 12, c->axis_y + 14, xsprintf("time (%s)", uname), 9, "#333333", 'r',
         "Helvetica-Oblique");
}

/* Each lane's name (flush right, with how much of its life it waited) and life bar. */
static void draw_lanes(struct canvas *c)
{
    const struct trace *t = c->t;
    FILE *f = c->d.f;
    for (size_t li = 0; li < t->nlanes; li++) {
        const struct lane *l = &t->lanes[li];
        /* A fixed-width table cell keeps the text flush right, whatever the font. */
        double w = c->label_w + 8;
        node(&c->d, c->x0 - 10 - w / 2, l->y, w, LANE_GAP - 6);
        attr(&c->d, "shape=plaintext, style=\"\"");
        fprintf(f, ", label=<<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" "
                "CELLPADDING=\"0\"><TR><TD FIXEDSIZE=\"TRUE\" WIDTH=\"%.0f\" HEIGHT=\"%.0f\" "
                "ALIGN=\"RIGHT\" BALIGN=\"RIGHT\"><FONT POINT-SIZE=\"11\">", w, LANE_GAP - 8);
        dot_html(f, fit(l->name, c->label_w + 4, 11));
        fputs("</FONT>", f);
        uint64_t life = l->t_end - l->t_start;
        if (l->n > 0 && life > 0)
            fprintf(f, "<BR/><FONT POINT-SIZE=\"8\" COLOR=\"#666666\">waited %.0f%% of %s</FONT>",
                    100.0 * (double)l->waited / (double)life, fmt_ns(life));
        fputs("</TD></TR></TABLE>>", f);
        uint64_t off = 0;
        for (size_t i = 0; i < t->noff; i++)
            if (t->offs[i].lane == (int)li)
                off += t->offs[i].off;
        attr_q(&c->d, "tooltip",
               xsprintf("%s: alive from %s to %s%s, blocked %s in all%s%s", l->name,
                        fmt_ns(l->t_start - t->t0), fmt_ns(l->t_end - t->t0),
                        l->has_exit ? " (exit)" : "", fmt_ns(l->waited),
                        off > 0 ? ", runnable but not on a CPU " : "", off > 0 ? fmt_ns(off) : ""));
        end_node(&c->d);
        if (l->n == 0)
            continue;
        double x0 = xt(c, l->t_start), x1 = xt(c, l->t_end);
        double bw = x1 - x0 < MIN_BOX_W ? MIN_BOX_W : x1 - x0;
        rect(&c->d, x0, l->y, bw, LIFE_H, "#8a8f98",
             xsprintf("%s alive %s %s %s", l->name, fmt_ns(l->t_start - t->t0), ARROW,
                      fmt_ns(l->t_end - t->t0)));
        if (l->has_start)
            rect(&c->d, x0 - 0.75, l->y, 1.5, 12, "#555a63", "thread start");
        if (l->has_exit)
            rect(&c->d, x0 + bw - 0.75, l->y, 1.5, 12, "#555a63", "thread exit");
    }
}

/* Spans, outer before inner so that inner ones are drawn on top. An inner span
 * is a lower box sitting on the bottom of its parent, whose text then goes to
 * its top; below depth 1 there is no room for text (the tooltip has it). */
static void draw_spans(struct canvas *c)
{
    const struct trace *t = c->t;
    int maxdepth = 0;
    for (size_t i = 0; i < t->nspan; i++)
        if (t->spans[i].depth > maxdepth)
            maxdepth = t->spans[i].depth;
    for (int depth = 0; depth <= maxdepth; depth++) {
        for (size_t i = 0; i < t->nspan; i++) {
            const struct span *sp = &t->spans[i];
            if (!sp->drawn || sp->depth != depth)
                continue;
            const struct lane *l = &t->lanes[sp->lane];
            double h = depth == 0 ? BOX_H : depth == 1 ? 14 : depth == 2 ? 8 : 5;
            double cy = depth == 0 ? l->y : l->y + BOX_H / 2 - 2 - h / 2;
            double x0 = xt(c, sp->t0), w = xt(c, sp->t1) - x0;
            if (w < MIN_BOX_W)
                w = MIN_BOX_W;
            const char *fill, *line, *font;
            span_colors(sp, &fill, &line, &font);
            double fs = depth == 0 ? 9 : 8;
            const char *lab = "";
            if (depth == 0 || (depth == 1 && !sp->has_child))
                lab = fit(sp->label, w, fs);
            node(&c->d, x0 + w / 2, cy, w, h);
            attr(&c->d, "fillcolor=\"%s\", color=\"%s\", fontcolor=\"%s\", fontsize=%.0f", fill,
                 line, font, fs);
            if (sp->blocked)
                attr(&c->d, "style=\"filled,dashed\"");
            if (sp->has_child && depth == 0)
                attr(&c->d, "labelloc=t");
            attr_q(&c->d, "label", lab);
            attr_q(&c->d, "tooltip",
                   xsprintf("%s: %s%s\n%s, from %s to %s%s%s%s", l->name,
                            sp->blocked == 1 ? "blocked in " : "", sp->label,
                            fmt_ns(sp->t1 - sp->t0), fmt_ns(sp->t0 - t->t0),
                            fmt_ns(sp->t1 - t->t0), sp->note ? "\n" : "",
                            sp->note ? sp->note : "",
                            sp->unclosed == 1   ? "\nnever ended: closed at the thread's last event"
                            : sp->unclosed == 2 ? "\nstill blocked when the trace ended"
                                                : ""));
            end_node(&c->d);
        }
    }
}

/* Off the CPU: a thin amber strip under the lane's boxes for each stretch in
 * which the thread was not blocked by the trace's account yet mostly not on a
 * CPU (trace.h's 'offcpu' lines). The tracer knows how long, not exactly
 * when within the stretch: the strip covers the stretch, as opaque as the part
 * of it spent off the CPU (a quarter off is pale, all of it solid), and the
 * tooltip says both. A blocked span (a lock, a wait) is a dashed pale red box
 * instead: the two never look alike. */
static void draw_offcpu(struct canvas *c)
{
    const struct trace *t = c->t;
    for (size_t i = 0; i < t->noff; i++) {
        const struct offcpu *o = &t->offs[i];
        const struct lane *l = &t->lanes[o->lane];
        if (l->n == 0)
            continue;
        double x0 = xt(c, o->t0), w = xt(c, o->t1) - x0;
        if (w < MIN_BOX_W)
            w = MIN_BOX_W;
        double part = o->t1 > o->t0 ? (double)o->off / (double)(o->t1 - o->t0) : 1.0;
        char fill[16];
        snprintf(fill, sizeof fill, "%s%02x", OFFCPU_COLOR, (unsigned)(0x30 + part * (0xff - 0x30)));
        rect(&c->d, x0, l->y + BOX_H / 2 + 1 + OFFCPU_H / 2, w, OFFCPU_H, fill,
             xsprintf("%s: runnable but not on a CPU for %s of the %s from %s to %s\n"
                      "(waiting for a CPU, or in a call the kit does not trace; "
                      "not waiting for a lock)",
                      l->name, fmt_ns(o->off), fmt_ns(o->t1 - o->t0), fmt_ns(o->t0 - t->t0),
                      fmt_ns(o->t1 - t->t0)));
    }
}

/* The break, over the lanes: a pale dashed band whose tooltip says how long
 * it really is, so that nobody reads the squeezed stretch as short. */
static void draw_break(struct canvas *c)
{
    if (c->g1 == c->g0)
        return;
    const struct trace *t = c->t;
    double xa = xt(c, c->g0), xb = xt(c, c->g1), top = TOP - LANE_GAP / 2;
    double h = (double)t->nlanes * LANE_GAP;
    node(&c->d, (xa + xb) / 2, top + h / 2, xb - xa - 8, h);
    attr(&c->d, "fillcolor=\"#ffffffb0\", color=\"#9aa3ad\", style=\"filled,dashed\"");
    attr_q(&c->d, "tooltip",
           xsprintf("%s from %s to %s in which nothing was traced (every thread kept doing "
                    "what it was doing): drawn %g points wide instead of to scale",
                    fmt_ns(c->g1 - c->g0), fmt_ns(c->g0 - t->t0), fmt_ns(c->g1 - t->t0),
                    BREAK_W));
    end_node(&c->d);
    text(&c->d, (xa + xb) / 2, top - 8, xsprintf("%s", fmt_ns(c->g1 - c->g0)), 8, "#555555", 'c',
         "Helvetica-Oblique");
}

/* Instants: a small triangle on top of the lane, its text above it when there is room. */
static void draw_instants(struct canvas *c)
{
    const struct trace *t = c->t;
    double *next_free = xrealloc(NULL, (t->nlanes + 1) * sizeof *next_free);
    for (size_t i = 0; i < t->nlanes; i++)
        next_free[i] = 0;
    for (size_t k = 0; k < t->ninst; k++) {
        if (!t->inst_drawn[k])
            continue;
        const struct ev *e = &t->evs[t->instants[k]];
        const struct lane *l = &t->lanes[e->lane];
        double x = xt(c, e->ns);
        node(&c->d, x, l->y - BOX_H / 2 - 3, 7, 6);
        attr(&c->d, "shape=invtriangle, fillcolor=\"#222222\", color=\"#222222\"");
        attr_q(&c->d, "tooltip",
               xsprintf("%s: %s at %s", l->name, e->name, fmt_ns(e->ns - t->t0)));
        end_node(&c->d);
        double w = text_w(e->name, 8);
        if (x - w / 2 >= next_free[e->lane] && *e->name != '\0') {
            text(&c->d, x, l->y - BOX_H / 2 - 12, e->name, 8, "#222222", 'c', NULL);
            next_free[e->lane] = x + w / 2 + 4;
        }
    }
    free(next_free);
}

/* The legend's samples and text; arrow samples get anchors, drawn by draw_arrows(). */
static void draw_legend(struct canvas *c)
{
    for (int i = 0; i < c->nlg; i++) {
        struct legend *lg = &c->lg[i];
        struct span fake = {0};
        const char *fill, *line, *font;
        switch (lg->kind) {
        case LG_RUNNING:
        case LG_BLOCKED:
        case LG_SLEEP:
            fake.blocked = lg->kind == LG_RUNNING ? 0 : lg->kind == LG_BLOCKED ? 1 : 2;
            fake.name = common_name(c->t);
            span_colors(&fake, &fill, &line, &font);
            node(&c->d, lg->x + 14, lg->y, 28, 12);
            attr(&c->d, "fillcolor=\"%s\", color=\"%s\"", fill, line);
            if (fake.blocked)
                attr(&c->d, "style=\"filled,dashed\"");
            end_node(&c->d);
            break;
        case LG_INSTANT:
            node(&c->d, lg->x + 14, lg->y, 7, 6);
            attr(&c->d, "shape=invtriangle, fillcolor=\"#222222\", color=\"#222222\"");
            end_node(&c->d);
            break;
        case LG_LIFE:
            rect(&c->d, lg->x, lg->y, 28, LIFE_H, "#8a8f98", NULL);
            break;
        case LG_OFFCPU:
            rect(&c->d, lg->x, lg->y, 28, OFFCPU_H, OFFCPU_COLOR, NULL);
            break;
        case LG_ARROW:
            lg->from = anchor(&c->d, lg->x, lg->y);
            lg->to = anchor(&c->d, lg->x + 28, lg->y);
            break;
        }
        text(&c->d, lg->x + 34, lg->y, lg->text, 10, "#222222", 'l', NULL);
    }
}

/* Arrows (edges, so on top of every node) between the facing edges of the two
 * lanes, then the legend's sample arrows. */
static void draw_arrows(struct canvas *c)
{
    const struct trace *t = c->t;
    FILE *f = c->d.f;
    for (size_t i = 0; i < t->narrow; i++) {
        const struct arrow *a = &t->arrows[i];
        if (!a->drawn)
            continue;
        const struct ev *s = &t->evs[a->s], *e = &t->evs[a->f];
        double ys = t->lanes[s->lane].y, ye = t->lanes[e->lane].y;
        double off = ye > ys ? BOX_H / 2 : -BOX_H / 2;
        long na = anchor(&c->d, xt(c, s->ns), ys + off);
        long nb = anchor(&c->d, xt(c, e->ns), ye - off);
        fprintf(f, "n%ld -> n%ld [color=\"%s\", style=%s, arrowhead=%s", na, nb, arrow_color(a),
                fk_style[a->kind].style, fk_style[a->kind].head);
        attr_q(&c->d, "tooltip",
               xsprintf("%s %s (%s) %s %s %s (%s)", t->lanes[s->lane].name, s->name,
                        fmt_ns(s->ns - t->t0), ARROW, t->lanes[e->lane].name, e->name,
                        fmt_ns(e->ns - t->t0)));
        fputs("];\n", f);
    }
    for (int i = 0; i < c->nlg; i++) {
        const struct legend *lg = &c->lg[i];
        if (lg->kind == LG_ARROW)
            fprintf(f, "n%ld -> n%ld [color=\"%s\", style=%s, arrowhead=%s];\n", lg->from, lg->to,
                    lg->color, lg->style, lg->head);
    }
}

/* Write the whole diagram to path ("-": standard output); exits on a write error. */
static void write_dot(const struct trace *t, const char *path, const char *title)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL)
        die("cannot write '%s': %s", path, strerror(errno));
    struct canvas c = {.d = {f, 0, 0}, .t = t};
    uint64_t dur = t->t1 - t->t0 != 0 ? t->t1 - t->t0 : 1000;
    find_break(t, &c.g0, &c.g1);
    c.scale = c.g1 == c.g0 ? PLOT_W / (double)dur
                           : (PLOT_W - BREAK_W) / (double)(dur - (c.g1 - c.g0));
    /* The name column is as wide as the longest thread name, within reason. */
    c.label_w = text_w("waited 100% of 999 us", 8);
    for (size_t i = 0; i < t->nlanes; i++) {
        double w = text_w(t->lanes[i].name, 11);
        if (w > c.label_w)
            c.label_w = w;
    }
    if (c.label_w > 260)
        c.label_w = 260;
    c.x0 = MARGIN + c.label_w + 14;
    c.axis_y = TOP + (double)(t->nlanes > 0 ? t->nlanes - 1 : 0) * LANE_GAP + LANE_GAP / 2 + 6;
    c.d.height = plan_legend(&c);

    fputs("/* drawn by kit/timeline; render with: neato -n2 -Tsvg */\n", f);
    fputs("digraph timeline {\n", f);
    fputs("  graph [splines=false, outputorder=nodesfirst, bgcolor=white, pad=0.15,"
          " fontname=\"Helvetica\"];\n", f);
    fputs("  node [shape=box, style=filled, fixedsize=true, label=\"\", penwidth=0.8,"
          " fontname=\"Helvetica\", fontsize=9];\n", f);
    fputs("  edge [penwidth=1.2, arrowsize=0.7];\n", f);
    /* Declaration order is drawing order: later nodes cover earlier ones. */
    draw_header(&c, title);
    draw_grid(&c);
    draw_lanes(&c);
    draw_spans(&c);
    draw_offcpu(&c);
    draw_instants(&c);
    draw_break(&c);
    draw_legend(&c);
    draw_arrows(&c);
    fputs("}\n", f);
    if (fflush(f) != 0 || ferror(f) || (f != stdout && fclose(f) != 0))
        die("error writing '%s': %s", path, strerror(errno));
}

/* ------------------------------------------------------------------- the JSON */

/* The Chrome trace event format as the viewers people use read it: Chrome's
 * bundled trace engine names every slice's end ('E' carries the name and cat of
 * the 'B' it closes) and binds a flow event only to a slice with the same ts,
 * pid, tid and cat - an enclosing slice ("bp":"e") is not honoured there - so
 * every flow endpoint gets a short 'X' slice of category "flow" of its own.
 * Jansson builds the objects and escapes the strings. */
struct jout {
    json_t *events;
    uint64_t t0;
};

/* Append one event {"ph","ts","pid":1,"tid","cat","name"} and return it for more fields. */
static json_t *jev(struct jout *j, char ph, uint64_t ns, long tid, const char *cat,
                   const char *name)
{
    char phs[2] = {ph, '\0'};
    json_t *o = json_pack("{s:s, s:f, s:i, s:I}", "ph", phs, "ts", (double)(ns - j->t0) / 1000.0,
                          "pid", 1, "tid", (json_int_t)tid);
    if (o == NULL)
        die("out of memory");
    if (cat != NULL)
        json_object_set_new(o, "cat", json_string(cat));
    if (name != NULL)
        json_object_set_new(o, "name", json_string(name));
    json_array_append_new(j->events, o);
    return o;
}

/* Flow endpoints of arrows drawn from (S) or to (F) event ev; JSON flow ids are arrow numbers. */
static void json_flow(struct jout *j, const struct trace *t, size_t ev, const size_t *arrows_of,
                      const size_t *arrows_at, size_t nat)
{
    const struct ev *e = &t->evs[ev];
    const struct lane *l = &t->lanes[e->lane];
    int slice = 0;
    for (size_t k = arrows_at[ev]; k < nat && arrows_of[k] != SIZE_MAX; k++) {
        const struct arrow *a = &t->arrows[arrows_of[k]];
        if ((e->kind == 'S' ? a->s : a->f) != ev)
            break;
        if (!slice) {
            /* 1 ns long, unless the thread's next event is at the same time */
            int room = ev + 1 < l->first + l->n && t->evs[ev + 1].ns > e->ns;
            json_t *x = jev(j, 'X', e->ns, l->id, "flow", e->name);
            json_object_set_new(x, "dur", json_real(room ? 0.001 : 0.0));
            slice = 1;
        }
        json_t *fl = jev(j, e->kind == 'S' ? 's' : 'f', e->ns, l->id, "flow",
                         e->kind == 'S' ? e->name : t->evs[a->s].name);
        json_object_set_new(fl, "id", json_integer((json_int_t)arrows_of[k] + 1));
        if (e->kind == 'F')
            json_object_set_new(fl, "bp", json_string("e")); /* Perfetto: bind to this slice */
    }
}

static const struct trace *arrow_sort_ctx;
static int arrow_sort_side; /* 0: by S event, 1: by F event */

static int cmp_arrow_ev(const void *a, const void *b)
{
    const struct arrow *x = &arrow_sort_ctx->arrows[*(const size_t *)a];
    const struct arrow *y = &arrow_sort_ctx->arrows[*(const size_t *)b];
    size_t ex = arrow_sort_side ? x->f : x->s, ey = arrow_sort_side ? y->f : y->s;
    if (ex != ey)
        return ex < ey ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Index of arrows by event: idx[at[ev]..] lists the arrows with that event on `side`. */
static void index_arrows(const struct trace *t, int side, size_t **idx, size_t **at)
{
    *idx = xrealloc(NULL, (t->narrow + 1) * sizeof **idx);
    *at = xrealloc(NULL, (t->nev + 1) * sizeof **at);
    for (size_t i = 0; i < t->narrow; i++)
        (*idx)[i] = i;
    (*idx)[t->narrow] = SIZE_MAX;
    arrow_sort_ctx = t;
    arrow_sort_side = side;
    qsort(*idx, t->narrow, sizeof **idx, cmp_arrow_ev);
    for (size_t i = 0; i < t->nev; i++)
        (*at)[i] = t->narrow; /* points at the SIZE_MAX sentinel: none */
    for (size_t k = t->narrow; k-- > 0;) {
        const struct arrow *a = &t->arrows[(*idx)[k]];
        (*at)[side ? a->f : a->s] = k;
    }
}

/* The metadata events: the process's title, each lane's name and its place. */
static void json_meta(struct jout *j, const struct trace *t, const char *title)
{
    json_t *m = jev(j, 'M', t->t0, 0, NULL, "process_name");
    json_object_set_new(m, "args", json_pack("{s:s}", "name", title));
    for (size_t r = 0; r < t->nlanes; r++) {
        const struct lane *l = &t->lanes[t->order[r]];
        m = jev(j, 'M', t->t0, l->id, NULL, "thread_name");
        json_object_set_new(m, "args", json_pack("{s:s}", "name", l->name));
        m = jev(j, 'M', t->t0, l->id, NULL, "thread_sort_index");
        json_object_set_new(m, "args", json_pack("{s:I}", "sort_index", (json_int_t)r));
    }
}

/* A span's begin event, with what it waited on and who let it go on. */
static void json_span_begin(struct jout *j, const struct span *sp, uint64_t ns, long tid)
{
    json_t *b = jev(j, 'B', ns, tid, sp->blocked ? "blocked" : "running", sp->label);
    if (sp->obj != 0 || sp->note != NULL) {
        json_t *args = json_object();
        if (sp->obj != 0) {
            char obj[32];
            snprintf(obj, sizeof obj, "0x%llx", (unsigned long long)sp->obj);
            json_object_set_new(args, "object", json_string(obj));
        }
        if (sp->note != NULL)
            json_object_set_new(args, "note", json_string(sp->note));
        json_object_set_new(b, "args", args);
    }
}

/* A span's end event: Chrome's engine wants the name and cat of the begin it closes. */
static void json_span_end(struct jout *j, const struct span *sp, uint64_t ns, long tid)
{
    jev(j, 'E', ns, tid, sp->blocked ? "blocked" : "running", sp->label);
}

/* Write the Chrome/Perfetto trace (all events, nothing omitted) to path. */
static void write_json(const struct trace *t, const char *path, const char *title)
{
    struct jout j = {json_array(), t->t0};
    size_t *by_s, *at_s, *by_f, *at_f, *stack = NULL, cap_stack = 0;
    index_arrows(t, 0, &by_s, &at_s);
    index_arrows(t, 1, &by_f, &at_f);
    json_meta(&j, t, title);
    for (size_t r = 0; r < t->nlanes; r++) {
        const struct lane *l = &t->lanes[t->order[r]];
        size_t open = 0; /* open spans: stack[0 .. open) */
        for (size_t i = l->first; i < l->first + l->n; i++) {
            const struct ev *e = &t->evs[i];
            if (e->kind == 'B' || e->kind == 'W') {
                json_span_begin(&j, &t->spans[e->span], e->ns, l->id);
                GROW(stack, open, cap_stack);
                stack[open++] = (size_t)e->span;
            } else if (e->kind == 'E' && e->span >= 0) {
                json_span_end(&j, &t->spans[e->span], e->ns, l->id);
                open -= open > 0;
            } else if (e->kind == 'I') {
                json_t *in = jev(&j, 'i', e->ns, l->id, "mark", e->name);
                json_object_set_new(in, "s", json_string("t"));
            } else if (e->kind == 'S') {
                json_flow(&j, t, i, by_s, at_s, t->narrow + 1);
            } else if (e->kind == 'F') {
                json_flow(&j, t, i, by_f, at_f, t->narrow + 1);
            }
        }
        while (open > 0) { /* spans that never ended */
            const struct span *sp = &t->spans[stack[--open]];
            json_span_end(&j, sp, sp->t1, l->id);
        }
    }
    /* Off the CPU: a counter per thread (% of each stretch spent off the CPU),
     * not slices, which could break the nesting of the thread's own. */
    for (size_t i = 0; i < t->noff; i++) {
        const struct offcpu *o = &t->offs[i];
        const struct lane *l = &t->lanes[o->lane];
        const char *name = xsprintf("off CPU %% (%s)", l->name ? l->name : "thread");
        double pct = o->t1 > o->t0 ? 100.0 * (double)o->off / (double)(o->t1 - o->t0) : 0;
        json_object_set_new(jev(&j, 'C', o->t0, l->id, "offcpu", name), "args",
                            json_pack("{s:f}", "off", pct));
        json_object_set_new(jev(&j, 'C', o->t1, l->id, "offcpu", name), "args",
                            json_pack("{s:f}", "off", 0.0));
    }
    json_t *doc = json_pack("{s:o, s:s}", "traceEvents", j.events, "displayTimeUnit", "ns");
    if (doc == NULL || json_dump_file(doc, path, JSON_COMPACT | JSON_ENSURE_ASCII) != 0)
        die("error writing '%s': %s", path, strerror(errno));
    json_decref(doc);
    free(stack);
    free(by_s);
    free(at_s);
    free(by_f);
    free(at_f);
}

/* ------------------------------------------------------------------------ main */

static void usage(void)
{
    fputs("usage: timeline [-t TITLE] [-j OUT.json] [-m MAX] TRACE OUT.dot\n"
          "  Draws the threadlab trace TRACE (see kit/trace.h) as a timeline, one lane per\n"
          "  thread, for `neato -n2 -Tsvg OUT.dot -o OUT.svg`.\n"
          "  -t TITLE     title of the diagram (default: the trace's file name)\n"
          "  -j OUT.json  also write a Chrome/Perfetto trace (open it in ui.perfetto.dev)\n"
          "  -m MAX       draw at most MAX spans, instants and arrows (default 2000);\n"
          "               the shortest are left out first and the title says how many\n"
          "  OUT.dot may be - for standard output.\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *title = NULL, *json = NULL, *pos[2] = {NULL, NULL};
    size_t max = DEFAULT_MAX;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-t") == 0 || strcmp(a, "-j") == 0 || strcmp(a, "-m") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "timeline: option %s needs a value\n", a);
                usage();
            }
            const char *v = argv[++i];
            if (a[1] == 't') {
                title = v;
            } else if (a[1] == 'j') {
                json = v;
            } else {
                uint64_t m;
                const char *p = v;
                if (!parse_u64(&p, 10, &m) || *p != '\0' || m == 0 || m > 10000000) {
                    fprintf(stderr, "timeline: -m wants a number from 1 to 10000000, not '%s'\n",
                            v);
                    usage();
                }
                max = (size_t)m;
            }
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "timeline: unknown option '%s'\n", a);
            usage();
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            fprintf(stderr, "timeline: too many arguments\n");
            usage();
        }
    }
    if (npos != 2)
        usage();
    trace_path = pos[0];
    if (title == NULL) {
        const char *slash = strrchr(trace_path, '/');
        title = slash != NULL ? slash + 1 : trace_path;
    }
    title = intern(title, strlen(title));

    static struct trace t;
    read_trace(&t, trace_path);
    analyse(&t);
    choose(&t, max);
    write_dot(&t, pos[1], title);
    if (json != NULL)
        write_json(&t, json, title);
    if (n_warnings > 10)
        fprintf(stderr, "timeline: %s: %ld more warnings not shown\n", trace_path,
                n_warnings - 10);
    return 0;
}
