/*
 * tlreport.c - the grader's judge: turns the evidence grade.sh collected into
 * verdicts, and writes them for humans and for every grading platform.
 *
 * What it shows: how a verdict is reached without trusting the submission.
 * A test passes in a pass only when Check's runner reported it passed AND its
 * test child wrote "END <nonce>" on the secret channel after the body
 * returned; anything the program printed is only quoted, never parsed for a
 * verdict. A failure is named by bug class: the class tag of a failed
 * assertion ("[data-race] ..."), the sanitizer's own report (exit codes 66/67/
 * 68 and its log), the watchdog's wait-for table (exit code 86) for hangs, or
 * the signal that killed the test.
 *
 * DESIGN: one exercise is scored from one table: every test of every test file
 * in the functional pass shares 60% of the points (all of them if there is no
 * other pass); each further pass (chaos, pinned, tsan, asan) is one entry worth
 * an equal share of the other 40% and passes only when every test passes under
 * it. A cheat (success without reaching the end, calling the grader's
 * functions) zeroes the exercise. Outputs: a text table (stdout),
 * Gradescope's results.json, and on request TAP, JUnit XML, Autolab's score
 * line, a GitHub Classroom result per exercise, and wait-for graphs for hangs.
 *
 * usage: tlreport -w WORK -k KIT -j RESULTS.json [-f tap,junit,autolab,classroom]
 *                 [-q] [-s SUMMARY]
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../proto/protocol.h"

/* ------------------------------------------------------------ bug classes */

/* Classes (enum tl_class, tl_class_name, tl_class_why) come from kit/proto/protocol.def,
 * in priority order: the first one found in an exercise is its diagnosis. */
#define cls_name tl_class_name
#define cls_why tl_class_why

static enum tl_class cls_parse(const char *s, size_t n) { return tl_class_of(s, n); }

static enum tl_class cls_worst(enum tl_class a, enum tl_class b)
{
    if (a == TL_NONE)
        return b;
    if (b == TL_NONE)
        return a;
    return a < b ? a : b;
}

/* --------------------------------------------------------- small helpers */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tlreport: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* snprintf for file paths: a path that does not fit is an error, never cut short. */
static void pathf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n)
        die("path too long: %s", buf);
}

/* snprintf for display text, where cutting a long name short is fine. */
static void textf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

/* Read at most max bytes of a file into a NUL-terminated heap buffer ("" if absent). */
static char *slurp(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(max + 1);
    if (buf == NULL)
        die("out of memory");
    size_t n = f != NULL ? fread(buf, 1, max, f) : 0;
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++) /* NUL bytes would cut strings short */
        if (buf[i] == '\0')
            buf[i] = '?';
    if (f != NULL)
        fclose(f);
    return buf;
}

/* Value of `key=` in a key=value file body, copied into out (empty if absent). */
static void kv(const char *body, const char *key, char *out, size_t outsz)
{
    size_t kl = strlen(key);
    out[0] = '\0';
    for (const char *p = body; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1, *e = strchr(v, '\n');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= outsz)
                n = outsz - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
    }
}

/* Append printf output to a bounded string buffer. */
struct sbuf {
    char *s;
    size_t n, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->cap == 0) {
        b->cap = 1024;
        b->s = malloc(b->cap);
        if (b->s == NULL)
            die("out of memory");
        b->s[0] = '\0';
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k < 0)
            return;
        if (b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        b->cap = (b->n + (size_t)k + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (b->s == NULL)
            die("out of memory");
    }
}

static const char *sb_str(const struct sbuf *b) { return b->s ? b->s : ""; }

/* Replace every occurrence of `from` (a build path) in s with `to`. */
static void strip_path(char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    if (fl == 0 || tl > fl)
        return;
    for (char *p = strstr(s, from); p != NULL; p = strstr(p + tl, from)) {
        memcpy(p, to, tl);
        memmove(p + tl, p + fl, strlen(p + fl) + 1);
    }
}

/* ------------------------------------------------------------ the model */

#define MAXT 64
#define MAXP 8
#define MAXF 8

struct tres {
    char name[96];
    int file;        /* test file index, 1-based */
    bool hidden;
    bool ok;
    enum tl_class cls;
    struct sbuf msg;
};

struct pres {
    char pass[16];
    bool ok, skipped;
    enum tl_class cls;
    struct sbuf msg;       /* why it failed */
    struct tres t[MAXT];   /* per test (all files) */
    int nt;
};

struct ex {
    char ch[64], ex[64], title[160], book[160], hints[200], passes[128], compile[16];
    char seed[32], iseed[32], protections[300];
    double points, score;
    long ms;
    enum tl_class cls;
    bool cheat;
    struct sbuf summary; /* the headline message */
    bool fence;          /* the learner's code uses a fence ThreadSanitizer cannot model */
    bool untouched;      /* the file is still the kit's skeleton */
    struct pres p[MAXP];
    int np;
    /* the test list, from the meta file: */
    int nfiles;
    struct {
        char file[128];
        bool hidden;
        char names[MAXT][96];
        int n;
    } f[MAXF];
};

static const char *work, *kit, *results_path;
static char results_dir[4096];

static void human(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s", name);
    for (char *p = out; *p; p++)
        if (*p == '_')
            *p = ' ';
}

/* ---------------------------------------------------- sanitizer reports */

/* The sanitizer logs a test child left in its run folder: PREFIX.PID, or every
 * PREFIX.* when the child's pid is unknown (0). */
static char *san_logs(const char *rundir, const char *prefix, long pid)
{
    char dir[4200];
    pathf(dir, sizeof dir, "%s/scratch", rundir);
    struct sbuf all = {0};
    DIR *d = opendir(dir);
    if (d == NULL)
        return strdup("");
    struct dirent *e;
    size_t pl = strlen(prefix);
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, pl) != 0 || e->d_name[pl] != '.')
            continue;
        if (pid > 0 && atol(e->d_name + pl + 1) != pid)
            continue;
        char path[4500];
        pathf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *s = slurp(path, 256 * 1024);
        sb_printf(&all, "%s\n", s);
        free(s);
    }
    closedir(d);
    return all.s ? all.s : strdup("");
}

/* A frame line of a sanitizer report, shortened to "function at file:line";
 * false for frames inside the runtime, the wrappers or libc. */
static bool frame_text(const char *line, size_t n, char *out, size_t outsz)
{
    char buf[600];
    textf(buf, sizeof buf, "%.*s", (int)(n < 590 ? n : 590), line);
    static const char *const skip[] = {"libtsan", "libasan", "libubsan", "liblsan", "sanitizer",
                                       "tlwrap.c", "tlcheck.h", "<null>", "libc.so", "libcheck",
                                       "interceptor", "trace.h"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strstr(buf, skip[i]) != NULL)
            return false;
    char *p = strchr(buf, '#');
    if (p == NULL)
        return false;
    p = strchr(p, ' ');
    if (p == NULL)
        return false;
    while (*p == ' ')
        p++;
    if (strncmp(p, "0x", 2) == 0) { /* ASan: "#0 0xADDR in fn file:line" */
        char *in = strstr(p, " in ");
        if (in == NULL)
            return false;
        p = in + 4;
    }
    char fn[200] = "", loc[400] = "";
    if (sscanf(p, "%199s %399s", fn, loc) < 1)
        return false;
    char *base = strrchr(loc, '/');
    if (loc[0] == '(' || loc[0] == '\0')
        textf(out, outsz, "%s()", fn);
    else
        textf(out, outsz, "%s() at %s", fn, base ? base + 1 : loc);
    return true;
}

/* Quote the gist of the first sanitizer reports in a log: each access or
 * allocation header with the learner's frame under it, and the SUMMARY. */
static void digest(const char *log, struct sbuf *msg)
{
    int lines = 0, reports = 0;
    bool want_frame = false, in_report = false, leak = false;
    for (const char *p = log; *p && lines < 16 && reports < 2;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *t = p;
        while (t < p + n && *t == ' ')
            t++;
        size_t tn = n - (size_t)(t - p);
        if (strncmp(t, "WARNING: ThreadSanitizer", 24) == 0 || strncmp(t, "ERROR: ", 7) == 0 ||
            memmem(t, tn, ": runtime error:", 16) != NULL) {
            in_report = true;
            leak = memmem(t, tn, "thread leak", 11) != NULL;
            char line[400];
            textf(line, sizeof line, "%.*s", (int)(tn < 390 ? tn : 390), t);
            char *pid = strstr(line, " (pid=");
            if (pid != NULL)
                *pid = '\0';
            char *rt = strstr(line, "runtime error:");
            sb_printf(msg, "  %s\n", rt != NULL ? rt : line);
            lines++;
        } else if (in_report && strncmp(t, "SUMMARY: ", 9) == 0) {
            in_report = false;
            reports++;
        } else if (in_report && strncmp(t, "Shadow bytes", 12) == 0) {
            in_report = false;
            reports++;
        } else if (in_report && t[0] == '#') {
            char fr[300];
            if (want_frame && frame_text(t, tn, fr, sizeof fr)) {
                sb_printf(msg, "      %s\n", fr);
                lines++;
                want_frame = false;
            }
        } else if (in_report && !leak && strncmp(t, "Thread T", 8) == 0) {
            want_frame = false; /* who created the racing threads: noise here */
        } else if (in_report && tn > 0 && isupper((unsigned char)t[0]) && t - p == 2) {
            /* "  Write of size 8 at 0x.. by thread T2:", "  Location is global 'x' ..." */
            char line[400];
            textf(line, sizeof line, "%.*s", (int)(tn < 390 ? tn : 390), t);
            char *at = strstr(line, " at 0x");
            if (at != NULL) { /* drop the address: it means nothing to a reader */
                char *by = strstr(at + 1, " by ");
                if (by != NULL)
                    memmove(at, by, strlen(by) + 1);
                else
                    *at = '\0';
            }
            char *paren = strstr(line, " (");
            if (paren != NULL && strstr(line, "Location") == NULL)
                *paren = '\0';
            sb_printf(msg, "    %s\n", line);
            lines++;
            want_frame = line[strlen(line) - 1] == ':';
        } else if (in_report && tn > 0 && !isspace((unsigned char)t[0]) && t - p == 0 &&
                   isalpha((unsigned char)t[0])) {
            /* ASan/LSan headers at column 0: "READ of size 4 ...", "freed by thread T0 here:" */
            char line[400];
            textf(line, sizeof line, "%.*s", (int)(tn < 390 ? tn : 390), t);
            char *at = strstr(line, " at 0x");
            if (at != NULL) {
                char *th = strstr(at + 1, " thread ");
                if (th != NULL)
                    memmove(at, th, strlen(th) + 1);
                else
                    *at = '\0';
            }
            sb_printf(msg, "    %s\n", line);
            lines++;
            want_frame = true;
        }
        p = e ? e + 1 : p + n;
    }
}

/* Classify a sanitizer log and quote its SUMMARY lines (and first frames) into msg. */
static enum tl_class san_classify(const char *log, struct sbuf *msg)
{
    enum tl_class c = TL_NONE;
    if (strstr(log, "ThreadSanitizer: data race"))
        c = cls_worst(c, TL_RACE);
    if (strstr(log, "lock-order-inversion"))
        c = cls_worst(c, TL_DEADLOCK);
    if (strstr(log, "ThreadSanitizer: thread leak"))
        c = cls_worst(c, TL_THREAD_LEAK);
    if (strstr(log, "heap-use-after-free") || strstr(log, "LeakSanitizer") ||
        strstr(log, "double-free") || strstr(log, "heap-buffer-overflow") ||
        strstr(log, "stack-use-after") || strstr(log, "attempting free"))
        c = cls_worst(c, TL_MEMORY);
    if (strstr(log, "SEGV on unknown address") || strstr(log, "runtime error:"))
        c = cls_worst(c, TL_CRASH);
    if (c == TL_NONE && strstr(log, "ThreadSanitizer"))
        c = TL_RACE;
    digest(log, msg);
    return c;
}

/* ------------------------------------------------------- hang explained */

struct hthread {
    int slot, tid;
    char state[16];     /* the word, as the wait-for table wrote it */
    enum tl_state st;   /* ...and what it means */
    unsigned long obj, obj2, off;
    char name[96];
    char where[200];
};

/* "function at file:line" for an offset into the test binary, via addr2line. */
static void symbolize(const char *bin, unsigned long off, char *out, size_t n)
{
    out[0] = '\0';
    if (off == 0)
        return;
    char cmd[4400];
    pathf(cmd, sizeof cmd, "addr2line -f -e '%s' %#lx 2>/dev/null", bin, off);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return;
    char fn[200] = "", loc[400] = "";
    if (fgets(fn, sizeof fn, p) && fgets(loc, sizeof loc, p)) {
        fn[strcspn(fn, "\n")] = '\0';
        loc[strcspn(loc, "\n (")] = '\0';
        const char *base = strrchr(loc, '/');
        if (strncmp(loc, "??", 2) != 0)
            textf(out, n, "%s() at %s", fn, base ? base + 1 : loc);
    }
    pclose(p);
}

/* "T2 fn@0x1a2b" (a static thread function) becomes "T2 worker". */
static void name_thread(char *name, size_t n, const char *bin)
{
    char *at = strstr(name, "fn@0x");
    if (at == NULL)
        return;
    char fn[200] = "", cmd[4400];
    pathf(cmd, sizeof cmd, "addr2line -f -e '%s' %s 2>/dev/null", bin, at + 3);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return;
    if (fgets(fn, sizeof fn, p) != NULL) {
        fn[strcspn(fn, "\n")] = '\0';
        if (fn[0] != '\0' && strcmp(fn, "??") != 0)
            textf(at, n - (size_t)(at - name), "%s", fn);
    }
    pclose(p);
}

/* The thread that thread i waits for: the holder of the mutex it wants, or
 * the thread it joins; -1 when it waits for no thread (or is not blocked). */
static int waits_for(const struct hthread *t, int n, const unsigned long *mown_addr,
                     const int *mown_slot, int nm, int i)
{
    int next = -1;
    if (t[i].st == TL_ST_LOCK) {
        for (int m = 0; m < nm; m++)
            if (mown_addr[m] == t[i].obj)
                for (int j = 0; j < n; j++)
                    if (t[j].slot == mown_slot[m])
                        next = j;
    } else if (t[i].st == TL_ST_JOIN) {
        for (int j = 0; j < n; j++)
            if ((unsigned long)t[j].slot + 1 == t[i].obj)
                next = j;
    }
    return next;
}

/* Follow what a blocked thread waits for until a thread that is not blocked
 * on another thread; returns that thread's index, or -1 on a cycle (whose
 * members are marked in on_cycle). */
static int hang_root(const struct hthread *t, int n, const unsigned long *mown_addr,
                     const int *mown_slot, int nm, int start, bool *on_cycle)
{
    int cur = start;
    for (int steps = 0; steps <= n; steps++) {
        int next = waits_for(t, n, mown_addr, mown_slot, nm, cur);
        if (next < 0)
            return cur;
        cur = next;
    }
    /* More steps than threads: cur is on a cycle. Mark its members. */
    int first = cur;
    do {
        on_cycle[cur] = true;
        cur = waits_for(t, n, mown_addr, mown_slot, nm, cur);
    } while (cur >= 0 && cur != first);
    return -1;
}

static int obj_number(unsigned long *seen, int *nseen, unsigned long a)
{
    for (int i = 0; i < *nseen; i++)
        if (seen[i] == a)
            return i + 1;
    if (*nseen < 64)
        seen[(*nseen)++] = a;
    return *nseen;
}

/* Explain one watchdog dump (the lines between a test's first HANG and END). */
/* gdb's innermost frame of thread `lwp` that is the program's own code, as
 * "function() at file:line"; false when gdb's output has none. */
static bool gdb_frame(const char *gdb, int lwp, char *out, size_t n)
{
    out[0] = '\0';
    static const char *const skip[] = {"nptl", "sysdeps", "tlwrap.c", "tlcheck.h", "trace.h",
                                       "check_", "libcheck", "futex", "sanitizer"};
    int cur = -1;
    for (const char *p = gdb; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[1024];
        textf(line, sizeof line, "%.*s", (int)(len < 1000 ? len : 1000), p);
        const char *lw = strstr(line, "(LWP ");
        if (strncmp(line, "Thread ", 7) == 0 && lw != NULL) {
            cur = atoi(lw + 5);
            continue;
        }
        if (cur != lwp || line[0] != '#')
            continue;
        const char *at = strstr(line, " at ");
        if (at == NULL)
            continue;
        bool bad = false;
        for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
            bad = bad || strstr(at, skip[i]) != NULL;
        if (bad)
            continue;
        const char *fn = strstr(line, " in ");
        fn = fn != NULL && fn < at ? fn + 4 : line + 4;
        while (*fn == ' ')
            fn++;
        char name[200], here[300];
        textf(name, sizeof name, "%.*s", (int)strcspn(fn, " ("), fn);
        const char *file = at + 4, *slash = strrchr(file, '/');
        textf(here, sizeof here, "%s() at %s", name, slash ? slash + 1 : file);
        if (out[0] == '\0') {
            textf(out, n, "%s", here);
        } else { /* the caller says more than a small helper does */
            size_t used = strlen(out);
            textf(out + used, n - used, ", called from %s", here);
            return true;
        }
    }
    return out[0] != '\0';
}

static enum tl_class explain_hang(char **lines, int nlines, const char *bin, const char *bdir,
                             const char *label, const char *gdb, struct sbuf *msg)
{
    struct hthread t[64];
    unsigned long maddr[128];
    int mslot[128], n = 0, nm = 0;
    for (int i = 0; i < nlines; i++) {
        char kind[4];
        if (sscanf(lines[i], "%*s %*s %3s", kind) != 1)
            continue;
        if (kind[0] == 'T' && n < 64) {
            struct hthread *h = &t[n];
            int used = 0;
            if (sscanf(lines[i], "%*s %*s T %d %15s %lx %lx %lx %d %n", &h->slot, h->state,
                       &h->obj, &h->obj2, &h->off, &h->tid, &used) >= 6) {
                h->st = tl_state_of(h->state);
                snprintf(h->name, sizeof h->name, "%s", lines[i] + used);
                h->name[strcspn(h->name, "\n")] = '\0';
                name_thread(h->name, sizeof h->name, bin);
                if (!gdb_frame(gdb, h->tid, h->where, sizeof h->where))
                    symbolize(bin, h->off, h->where, sizeof h->where);
                strip_path(h->where, bdir, "");
                if (h->st != TL_ST_DONE)
                    n++;
            }
        } else if (kind[0] == 'M' && nm < 128) {
            if (sscanf(lines[i], "%*s %*s M %lx %d", &maddr[nm], &mslot[nm]) == 2)
                nm++;
        }
    }
    bool cycle[64] = {false};
    enum tl_class c = TL_NONE;
    for (int i = 0; i < n; i++) {
        if (t[i].st == TL_ST_RUN)
            continue;
        int r = hang_root(t, n, maddr, mslot, nm, i, cycle);
        if (r < 0)
            c = cls_worst(c, TL_DEADLOCK);
        else if (t[r].st == TL_ST_COND)
            c = cls_worst(c, TL_LOST_WAKEUP);
        else if (t[r].st == TL_ST_SLEEP || t[r].st == TL_ST_TIMED)
            c = cls_worst(c, TL_SLOW_STOP);
    }
    if (c == TL_NONE)
        c = TL_HANG;
    unsigned long seen[64];
    int nseen = 0, any_blocked = n;
    sb_printf(msg, "  What each thread was doing when the watchdog fired:\n");
    for (int i = 0; i < n; i++) {
        char what[200];
        const char *s = t[i].state;
        enum tl_state st = t[i].st;
        if (st == TL_ST_LOCK) {
            int h = waits_for(t, n, maddr, mslot, nm, i);
            const char *holder = h >= 0 ? t[h].name : "nobody known";
            snprintf(what, sizeof what, "waits to lock mutex #%d, held by %s",
                     obj_number(seen, &nseen, t[i].obj), holder);
        } else if (st == TL_ST_COND || st == TL_ST_TIMED) {
            snprintf(what, sizeof what, "waits on condition variable #%d%s",
                     obj_number(seen, &nseen, t[i].obj), st == TL_ST_TIMED ? " (with a deadline)" : "");
        } else if (st == TL_ST_JOIN) {
            int w = waits_for(t, n, maddr, mslot, nm, i);
            const char *who = w >= 0 ? t[w].name : "a thread";
            snprintf(what, sizeof what, "waits to join %s", who);
        } else if (st == TL_ST_SLEEP) {
            snprintf(what, sizeof what, "sleeps");
        } else if (st == TL_ST_RUN) {
            snprintf(what, sizeof what, "is running (a loop that never ends?)");
            any_blocked--;
        } else {
            snprintf(what, sizeof what, "waits (%s)", s);
        }
        sb_printf(msg, "    %-26s %s%s%s%s\n", t[i].name, what, t[i].where[0] ? ", in " : "",
                  t[i].where, cycle[i] ? "   <- in the cycle" : "");
    }
    if (n == 0)
        sb_printf(msg, "    (no thread was blocked in a pthread call: a loop that never ends?)\n");

    /* The wait-for graph, drawn by Graphviz. */
    if (results_dir[0] != '\0' && any_blocked > 0) {
        char dir[4200], dot[4400], svg[4400];
        pathf(dir, sizeof dir, "%s/hangs", results_dir);
        mkdir(dir, 0755);
        pathf(dot, sizeof dot, "%s/%s.dot", dir, label);
        pathf(svg, sizeof svg, "%s/%s.svg", dir, label);
        FILE *f = fopen(dot, "w");
        if (f != NULL) {
            fprintf(f, "digraph waitfor {\n  rankdir=LR; fontname=\"Helvetica\"; "
                       "node [fontname=\"Helvetica\"]; edge [fontname=\"Helvetica\"];\n"
                       "  label=\"wait-for graph: %s (%s)\"; labelloc=t;\n",
                    label, cls_name[c]);
            nseen = 0;
            for (int i = 0; i < n; i++)
                fprintf(f, "  t%d [shape=box, style=filled, fillcolor=\"%s\", label=\"%s\\n%s\"];\n",
                        i, cycle[i] ? "#f4a6a6" : "#dde8f5", t[i].name, t[i].state);
            for (int i = 0; i < n; i++) {
                const char *red = cycle[i] ? ", color=red, penwidth=2.5" : "";
                if (t[i].st == TL_ST_LOCK) {
                    int k = obj_number(seen, &nseen, t[i].obj);
                    fprintf(f, "  m%d [shape=ellipse, label=\"mutex #%d\"];\n", k, k);
                    fprintf(f, "  t%d -> m%d [label=\"waits for\"%s];\n", i, k, red);
                    int j = waits_for(t, n, maddr, mslot, nm, i);
                    if (j >= 0)
                        fprintf(f, "  m%d -> t%d [label=\"held by\"%s];\n", k, j,
                                cycle[j] ? ", color=red, penwidth=2.5" : "");
                } else if ((t[i].st == TL_ST_COND || t[i].st == TL_ST_TIMED)) {
                    int k = obj_number(seen, &nseen, t[i].obj);
                    fprintf(f, "  c%d [shape=diamond, label=\"condvar #%d\\n(no signal coming)\"];\n",
                            k, k);
                    fprintf(f, "  t%d -> c%d [label=\"waits on\", style=dashed];\n", i, k);
                } else if (t[i].st == TL_ST_JOIN) {
                    int j = waits_for(t, n, maddr, mslot, nm, i);
                    if (j >= 0)
                        fprintf(f, "  t%d -> t%d [label=\"joins\"%s];\n", i, j, red);
                }
            }
            fprintf(f, "}\n");
            fclose(f);
            char cmd[9000];
            pathf(cmd, sizeof cmd, "dot -Tsvg '%s' -o '%s' 2>/dev/null", dot, svg);
            if (system(cmd) == 0)
                sb_printf(msg, "  Wait-for graph: %s\n", svg);
            else
                sb_printf(msg, "  Wait-for graph (Graphviz source): %s\n", dot);
        }
    }
    return c;
}

/* ------------------------------------------------------------ judging */

static void load_meta(struct ex *e, const char *dir)
{
    char path[4300];
    pathf(path, sizeof path, "%s/meta", dir);
    char *m = slurp(path, 64 * 1024), buf[512];
    kv(m, "chapter", e->ch, sizeof e->ch);
    kv(m, "exercise", e->ex, sizeof e->ex);
    kv(m, "title", e->title, sizeof e->title);
    kv(m, "book", e->book, sizeof e->book);
    kv(m, "hints", e->hints, sizeof e->hints);
    kv(m, "passes", e->passes, sizeof e->passes);
    kv(m, "compile", e->compile, sizeof e->compile);
    kv(m, "chaos_seed", e->seed, sizeof e->seed);
    kv(m, "input_seed", e->iseed, sizeof e->iseed);
    kv(m, "untouched", buf, sizeof buf);
    e->untouched = buf[0] == '1';
    kv(m, "points", buf, sizeof buf);
    e->points = buf[0] ? atof(buf) : 10;
    kv(m, "ms", buf, sizeof buf);
    e->ms = atol(buf);
    for (int k = 1; k <= MAXF; k++) {
        char key[16], line[4096];
        snprintf(key, sizeof key, "file.%d", k);
        kv(m, key, line, sizeof line);
        if (line[0] == '\0')
            break;
        int h = 0, used = 0;
        if (sscanf(line, "%127s %d %n", e->f[k - 1].file, &h, &used) < 2)
            break;
        e->f[k - 1].hidden = h != 0;
        char *save = NULL;
        for (char *tok = strtok_r(line + used, " ", &save); tok && e->f[k - 1].n < MAXT;
             tok = strtok_r(NULL, " ", &save))
            snprintf(e->f[k - 1].names[e->f[k - 1].n++], 96, "%s", tok);
        e->nfiles = k;
    }
    free(m);
}

/* The class a failed test's Check message points to. */
static enum tl_class classify_msg(const char *msg, int *early)
{
    *early = -1;
    const char *br = strstr(msg, ": [");
    if (br != NULL) {
        const char *end = strchr(br + 3, ']');
        if (end != NULL) {
            enum tl_class c = cls_parse(br + 3, (size_t)(end - br - 3));
            if (c != TL_NONE)
                return c;
        }
    }
    const char *ee = strstr(msg, "Early exit with return value ");
    if (ee != NULL) {
        *early = atoi(ee + 29);
        return TL_CRASH;
    }
    if (strstr(msg, "Test timeout expired"))
        return TL_HANG;
    if (strstr(msg, "Received signal"))
        return TL_CRASH;
    return TL_WRONG;
}

/* The pid a test child announced in its BEGIN line (0 if none). */
static long test_pid(char **lines, int nl, size_t nonce_len, const char *name)
{
    long pid = 0;
    size_t nlen = strlen(name);
    for (int i = 0; i < nl; i++) {
        const char *rest = lines[i] + 6 + nonce_len + 1;
        if (tl_tag_of(lines[i]) == TL_TAG_BEGIN && strncmp(rest, name, nlen) == 0 &&
            rest[nlen] == ' ')
            sscanf(rest + nlen, " %*d %ld", &pid);
    }
    return pid;
}

static void judge_pass(struct ex *e, struct pres *p, const char *bdir, const char *rundir,
                       int file)
{
    char path[4400], info_nonce[80], bin[4200];
    pathf(path, sizeof path, "%s/info", rundir);
    char *info = slurp(path, 16 * 1024);
    kv(info, "nonce", info_nonce, sizeof info_nonce);
    kv(info, "bin", bin, sizeof bin);
    free(info);
    pathf(path, sizeof path, "%s/rc", rundir);
    char *rcs = slurp(path, 64);
    int rc = atoi(rcs);
    free(rcs);
    pathf(path, sizeof path, "%s/protections", rundir);
    char *prot = slurp(path, 1024);
    prot[strcspn(prot, "\n")] = '\0';
    if (prot[0])
        snprintf(e->protections, sizeof e->protections, "%s", prot);
    free(prot);
    pathf(path, sizeof path, "%s/skipped", rundir);
    if (access(path, F_OK) == 0) {
        p->skipped = true;
        for (int fi = 0; fi < e->f[file - 1].n && p->nt < MAXT; fi++) {
            struct tres *t = &p->t[p->nt++];
            memset(t, 0, sizeof *t);
            snprintf(t->name, sizeof t->name, "%s", e->f[file - 1].names[fi]);
            t->file = file;
            t->cls = TL_HANG;
            sb_printf(&t->msg, "not run: the functional pass already hung\n");
        }
        return;
    }
    pathf(path, sizeof path, "%s/secret", rundir);
    char *sec = slurp(path, 2 * 1024 * 1024);

    /* Split the channel into lines that carry this run's nonce. */
    char *lines[4096];
    int nl = 0;
    bool done = false;
    size_t nonce_len = strlen(info_nonce);
    for (char *s = sec, *save = NULL, *l = strtok_r(s, "\n", &save); l && nl < 4096;
         l = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(l, ' ');
        if (sp == NULL || nonce_len == 0 || strncmp(sp + 1, info_nonce, nonce_len) != 0 ||
            (sp[1 + nonce_len] != ' ' && sp[1 + nonce_len] != '\0')) {
            /* Only the kit writes this channel, always with the nonce: anything else is forged. */
            if (!e->cheat)
                sb_printf(&e->summary, "the submission wrote forged lines into the grader's "
                                       "private channel\n");
            e->cheat = true;
            e->cls = TL_CHEAT;
            continue;
        }
        lines[nl++] = l;
        if (tl_tag_of(l) == TL_TAG_DONE)
            done = true;
        if (tl_tag_of(l) == TL_TAG_STRAY && !e->cheat) {
            e->cheat = true;
            e->cls = TL_CHEAT;
            sb_printf(&e->summary, "the submission left %s process(es) running after the tests "
                               "(they escaped the test's process group)\n",
                      l + 6 + nonce_len + 1);
        }
    }
    int hang_block = 0;
    for (int fi = 0; fi < e->f[file - 1].n; fi++) {
        const char *name = e->f[file - 1].names[fi];
        struct tres *t = &p->t[p->nt < MAXT ? p->nt : MAXT - 1];
        if (p->nt < MAXT)
            p->nt++;
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        t->file = file;
        t->hidden = e->f[file - 1].hidden;
        t->cls = TL_NONE;
        int res_p = 0, res_f = 0, ends = 0;
        const char *fail_msg = NULL;
        size_t nlen = strlen(name);
        for (int i = 0; i < nl; i++) {
            const char *rest = lines[i] + 4 + nonce_len + 1; /* after "XXX nonce " */
            if (strncmp(rest, name, nlen) != 0 || rest[nlen] != ' ')
                continue;
            if (tl_tag_of(lines[i]) == TL_TAG_END)
                ends++;
            else if (tl_tag_of(lines[i]) == TL_TAG_RES) {
                const char *code = strchr(rest + nlen + 1, ' ');
                if (code != NULL && code[1] == 'P')
                    res_p++;
                else if (code != NULL) {
                    res_f++;
                    if (fail_msg == NULL)
                        fail_msg = code + 3;
                }
            }
        }
        if (res_f == 0 && res_p > 0 && ends >= res_p) {
            t->ok = true;
            continue;
        }
        if (res_f == 0 && res_p > 0) {
            t->cls = TL_CHEAT;
            sb_printf(&t->msg, "Check reported success, but the test never reached its end: "
                               "the submission ended the test process early (exit() or _exit() "
                               "inside the test?)\n");
            if (!e->cheat)
                sb_printf(&e->summary, "test \"%s\" reported success without reaching its end "
                                       "(exit() or _exit() inside the test)\n", name);
            e->cheat = true;
            continue;
        }
        if (fail_msg == NULL) {
            t->cls = (rc == 124 || rc == 137) ? TL_HANG : TL_CRASH;
            sb_printf(&t->msg, "%s\n",
                      done ? "no result for this test"
                      : (rc == 124 || rc == 137)
                          ? "the test run was stopped at the wall-clock limit (a hang the "
                            "watchdog could not catch)"
                          : "the test runner died before reporting (killed? exit status in the "
                            "runner?)");
            continue;
        }
        int early;
        char m[1100], kitdir[4200];
        snprintf(m, sizeof m, "%s", fail_msg);
        strip_path(m, bdir, "");
        pathf(kitdir, sizeof kitdir, "%s/", kit);
        strip_path(m, kitdir, ""); /* "tests/01-fork-join/test_sum.c:115: ..." */
        t->cls = classify_msg(m, &early);
        if (early == TL_EXIT_TSAN || early == TL_EXIT_ASAN || early == TL_EXIT_UBSAN) {
            /* The child announced its pid in a BEGIN line; its logs carry it. */
            long pid = test_pid(lines, nl, nonce_len, name);
            char *a = san_logs(rundir, "tsan", pid), *b = san_logs(rundir, "asan", pid),
                 *c = san_logs(rundir, "ubsan", pid);
            size_t sn = strlen(a) + strlen(b) + strlen(c) + 3;
            char *san = malloc(sn);
            if (san == NULL)
                die("out of memory");
            snprintf(san, sn, "%s\n%s\n%s", a, b, c);
            free(a);
            free(b);
            free(c);
            struct sbuf q = {0};
            enum tl_class sc = san_classify(san, &q);
            t->cls = sc != TL_NONE ? sc : TL_CRASH;
            sb_printf(&t->msg, "%s reported:\n%s",
                      tl_exit_who(early),
                      sb_str(&q));
            free(q.s);
            free(san);
        } else if (early == TL_EXIT_WATCHDOG) {
            /* The hang_block-th watchdog dump belongs to this test. */
            char *blk[512];
            int nb = 0, seen = 0;
            for (int i = 0; i < nl; i++) {
                if (tl_tag_of(lines[i]) != TL_TAG_HANG)
                    continue;
                bool end = strstr(lines[i] + 5 + nonce_len, " END") != NULL;
                if (seen == hang_block && !end && nb < 512)
                    blk[nb++] = lines[i];
                if (end)
                    seen++;
            }
            hang_block++;
            char label[300];
            snprintf(label, sizeof label, "%s--%s--%s--%s", e->ch, e->ex, name, p->pass);
            long pid = test_pid(lines, nl, nonce_len, name);
            char gpath[4500];
            pathf(gpath, sizeof gpath, "%s/scratch/gdb.%ld", rundir, pid);
            char *gdb = slurp(gpath, 512 * 1024);
            t->cls = explain_hang(blk, nb, bin, bdir, label, gdb, &t->msg);
            free(gdb);
            sb_printf(&t->msg, "  (the watchdog stopped the test before its timeout)\n");
        } else if (early >= 0) {
            sb_printf(&t->msg, "the test process exited with status %d in the middle of the "
                               "test (exit() called?)\n",
                      early);
        } else {
            /* "test_x.c:42: [class] message": the class is reported on its own line. */
            char *tag = strstr(m, ": [");
            char *close = tag != NULL ? strstr(tag, "] ") : NULL;
            if (close != NULL && close - tag < 24)
                memmove(tag + 2, close + 2, strlen(close + 2) + 1);
            if (strncmp(m, "-:0: ", 5) == 0)
                memmove(m, m + 5, strlen(m + 5) + 1);
            sb_printf(&t->msg, "%s\n", m);
        }
    }
    free(sec);
}

static void judge(struct ex *e, const char *bdir)
{
    e->cls = TL_NONE;
    char path[4400];
    if (strcmp(e->compile, "ok") != 0) {
        bool cheat = strcmp(e->compile, "cheat") == 0;
        e->cls = cheat ? TL_CHEAT : TL_COMPILE;
        e->cheat = cheat;
        pathf(path, sizeof path, "%s/%s", bdir, cheat ? "cheat.log" : "compile.log");
        char *log = slurp(path, 64 * 1024);
        strip_path(log, bdir, "");
        int lines = 0;
        for (char *p = log; *p; p++)
            if (*p == '\n' && ++lines == 25) {
                p[1] = '\0';
                break;
            }
        sb_printf(&e->summary, "%s", log[0] ? log : "(no compiler output)\n");
        free(log);
        return;
    }
    /* gcc says so when it builds the TSan variant (-Wtsan). */
    pathf(path, sizeof path, "%s/compile.tsan.log", bdir);
    char *tlog = slurp(path, 64 * 1024);
    e->fence = strstr(tlog, "is not supported with '-fsanitize=thread'") != NULL;
    free(tlog);
    /* One entry per pass, in the order the .ex lists them. */
    char passes[128];
    snprintf(passes, sizeof passes, "%s", e->passes);
    char *save = NULL;
    for (char *ps = strtok_r(passes, " ", &save); ps && e->np < MAXP;
         ps = strtok_r(NULL, " ", &save)) {
        struct pres *p = &e->p[e->np++];
        snprintf(p->pass, sizeof p->pass, "%s", ps);
        p->cls = TL_NONE;
        for (int k = 1; k <= e->nfiles; k++) {
            char rundir[4400];
            pathf(rundir, sizeof rundir, "%s/run/%d.%s", bdir, k, ps);
            judge_pass(e, p, bdir, rundir, k);
        }
        p->ok = p->nt > 0;
        for (int i = 0; i < p->nt; i++) {
            if (!p->t[i].ok) {
                p->ok = false;
                p->cls = cls_worst(p->cls, p->t[i].cls);
            }
        }
        e->cls = cls_worst(e->cls, p->cls);
    }
}

static const char *pass_title(const char *pass, const struct ex *e, char *buf, size_t n)
{
    if (strcmp(pass, "chaos") == 0)
        snprintf(buf, n, "all tests with random yields (CHAOS_SEED=%s)", e->seed);
    else if (strcmp(pass, "pinned") == 0)
        snprintf(buf, n, "all tests pinned to one CPU");
    else if (strcmp(pass, "tsan") == 0)
        snprintf(buf, n, "all tests under ThreadSanitizer (no data race, no lock-order inversion)");
    else if (strcmp(pass, "asan") == 0)
        snprintf(buf, n, "all tests under AddressSanitizer and LeakSanitizer (no leak, no bad access)");
    else
        snprintf(buf, n, "all tests (%s)", pass);
    return buf;
}

/* Score each entry; returns the number of entries written into the arrays. */
struct entry {
    char name[300];
    double score, max;
    bool ok, hidden;
    struct sbuf out;
    struct sbuf advice; /* bug class, book section, hints: once per exercise in the text */
    enum tl_class cls;
};

static void advice(const struct ex *e, enum tl_class c, struct sbuf *b)
{
    if (c == TL_NONE)
        return;
    sb_printf(b, "Bug class: %s - %s.\n", cls_name[c], cls_why[c]);
    if (e->book[0])
        sb_printf(b, "Read: book.md, section \"%s\". Hints: %s (section \"%s\").\n", e->book,
                  e->hints[0] ? e->hints : "HINTS.md", e->ex);
}

static int entries(struct ex *e, struct entry *out, int max)
{
    int n = 0, extra = e->np > 1 ? e->np - 1 : 0;
    /* The functional tests are listed from the meta file even when nothing ran. */
    int ntests = 0;
    for (int k = 0; k < e->nfiles; k++)
        ntests += e->f[k].n;
    double func_share = extra > 0 ? 0.6 : 1.0;
    double per_test = ntests > 0 ? e->points * func_share / ntests : 0;
    double per_pass = extra > 0 ? e->points * 0.4 / extra : 0;
    int ti = 0;
    for (int k = 0; k < e->nfiles; k++) {
        for (int i = 0; i < e->f[k].n && n < max; i++, ti++) {
            struct entry *en = &out[n++];
            memset(en, 0, sizeof *en);
            char h[100];
            human(e->f[k].names[i], h, sizeof h);
            textf(en->name, sizeof en->name, "%s/%s: %s", e->ch, e->ex, h);
            en->max = per_test;
            en->hidden = e->f[k].hidden;
            en->cls = TL_NONE;
            if (e->np == 0) {
                en->cls = e->cls;
                sb_printf(&en->out, "%s", e->cls == TL_COMPILE ? "Did not compile.\n" : "");
                sb_printf(&en->out, "%s", sb_str(&e->summary));
            } else if (ti < e->p[0].nt) {
                const struct tres *t = &e->p[0].t[ti];
                en->ok = t->ok;
                en->cls = t->ok ? TL_NONE : t->cls;
                sb_printf(&en->out, "%s", sb_str(&t->msg));
            }
            advice(e, en->cls, &en->advice);
        }
    }
    for (int pi = 1; pi < e->np && n < max; pi++) {
        struct pres *p = &e->p[pi];
        struct entry *en = &out[n++];
        memset(en, 0, sizeof *en);
        char buf[200];
        textf(en->name, sizeof en->name, "%s/%s: %s", e->ch, e->ex, pass_title(p->pass, e, buf, sizeof buf));
        en->max = per_pass;
        en->ok = p->ok;
        en->cls = p->ok ? TL_NONE : p->cls;
        for (int i = 0; i < p->nt; i++) {
            if (p->t[i].ok)
                continue;
            char h[100];
            human(p->t[i].name, h, sizeof h);
            sb_printf(&en->out, "%s: %s", h, sb_str(&p->t[i].msg));
            if (strchr(sb_str(&p->t[i].msg), '\n') == NULL)
                sb_printf(&en->out, "\n");
        }
        if (strcmp(p->pass, "tsan") == 0 && !p->ok && e->fence)
            sb_printf(&en->out, "Note: ThreadSanitizer does not understand atomic_thread_fence, "
                                "so code that relies on a fence is reported as racy even when it "
                                "is correct. Put the ordering on the atomic operation itself "
                                "(e.g. memory_order_acq_rel on the decrement) instead.\n");
        if (strcmp(p->pass, "chaos") == 0 && !p->ok && !p->skipped)
            sb_printf(&en->out, "Replay these yields with: make grade EX=%s/%s CHAOS_SEED=%s\n",
                      e->ch, e->ex, e->seed);
        advice(e, en->cls, &en->advice);
    }
    if (e->np == 0 && ntests == 0 && n < max) { /* no test list at all: one entry */
        struct entry *en = &out[n++];
        memset(en, 0, sizeof *en);
        textf(en->name, sizeof en->name, "%s/%s: builds", e->ch, e->ex);
        en->max = e->points;
        en->cls = e->cls;
        sb_printf(&en->out, "%s", sb_str(&e->summary));
    }
    for (int i = 0; i < n; i++)
        out[i].score = out[i].ok && !e->cheat ? out[i].max : 0;
    if (e->cheat)
        for (int i = 0; i < n; i++)
            if (out[i].cls == TL_NONE || out[i].ok) {
                out[i].ok = false;
                out[i].cls = TL_CHEAT;
                sb_printf(&out[i].out, "Scored zero: a cheat was detected in this exercise: %s",
                          sb_str(&e->summary));
            }
    e->score = 0;
    for (int i = 0; i < n; i++)
        e->score += out[i].score;
    return n;
}

/* --------------------------------------------------------------- output */

/* Print text for a terminal: control bytes (escape sequences a submission
 * may have smuggled into a message) become '?'. */
static void tputs(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        putchar((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f ? '?' : *p);
}

/* Write s as a JSON string: control bytes escaped, invalid UTF-8 replaced;
 * at most about cap bytes of output, then a marker that the rest was cut. */
static void json_str(FILE *f, const char *s, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t written = 0;
    fputc('"', f);
    while (*p && written < cap) {
        unsigned c = *p;
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool valid = len > 0;
        for (int i = 1; i < len && valid; i++)
            valid = (p[i] & 0xC0) == 0x80;
        if (valid && len == 2 && c < 0xC2)
            valid = false;
        if (!valid) {
            fputs("\\ufffd", f);
            written += 6;
            p++;
        } else if (len > 1) {
            fwrite(p, 1, (size_t)len, f);
            written += (size_t)len;
            p += len;
        } else {
            if (c == '"' || c == '\\')
                written += (size_t)fprintf(f, "\\%c", c);
            else if (c == '\n')
                written += (size_t)fprintf(f, "\\n");
            else if (c == '\t')
                written += (size_t)fprintf(f, "\\t");
            else if (c < 0x20 || c == 0x7f)
                written += (size_t)fprintf(f, "\\u%04x", c);
            else
                written += fputc((int)c, f) != EOF;
            p++;
        }
    }
    if (*p)
        fputs("\\n[... cut]", f);
    fputc('"', f);
}

static void xml_str(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '>')
            fputs("&gt;", f);
        else if (*p == '&')
            fputs("&amp;", f);
        else if (*p == '"')
            fputs("&quot;", f);
        else if (*p < 0x20 && *p != '\n' && *p != '\t')
            fputc('?', f);
        else if (*p >= 0x80)
            fputc('?', f); /* keep the XML valid whatever the bytes */
        else
            fputc(*p, f);
    }
}

int main(int argc, char **argv)
{
    const char *formats = "", *summary_path = NULL;
    bool quiet = false, brief = false;
    int opt;
    while ((opt = getopt(argc, argv, "w:k:j:f:qs:b")) != -1) {
        switch (opt) {
        case 'w': work = optarg; break;
        case 'k': kit = optarg; break;
        case 'j': results_path = optarg; break;
        case 'f': formats = optarg; break;
        case 'q': quiet = true; break;
        case 's': summary_path = optarg; break;
        case 'b': brief = true; break;
        default: die("usage: tlreport -w WORK -k KIT -j RESULTS.json [-f FORMATS] [-q] [-s SUMMARY]");
        }
    }
    if (work == NULL || kit == NULL || results_path == NULL)
        die("usage: tlreport -w WORK -k KIT -j RESULTS.json [-f FORMATS] [-q] [-s SUMMARY]");
    snprintf(results_dir, sizeof results_dir, "%s", results_path);
    char *slash = strrchr(results_dir, '/');
    if (slash != NULL)
        *slash = '\0';
    else
        snprintf(results_dir, sizeof results_dir, ".");

    /* Every exercise folder is WORK/<chapter>/<exercise>/meta. */
    static struct ex exs[128];
    int nex = 0;
    struct dirent **chs = NULL;
    int nch = scandir(work, &chs, NULL, alphasort);
    for (int i = 0; i < nch; i++) {
        char chdir_[4300];
        pathf(chdir_, sizeof chdir_, "%s/%s", work, chs[i]->d_name);
        struct dirent **xs = NULL;
        int nx = chs[i]->d_name[0] == '.' ? -1 : scandir(chdir_, &xs, NULL, alphasort);
        for (int j = 0; j < nx; j++) {
            char bdir[4400], meta[4500];
            pathf(bdir, sizeof bdir, "%s/%s", chdir_, xs[j]->d_name);
            pathf(meta, sizeof meta, "%s/meta", bdir);
            if (xs[j]->d_name[0] != '.' && access(meta, R_OK) == 0 && nex < 128) {
                struct ex *e = &exs[nex++];
                load_meta(e, bdir);
                char strip[4500];
                pathf(strip, sizeof strip, "%s/", bdir);
                judge(e, strip);
            }
            free(xs[j]);
        }
        free(xs);
        free(chs[i]);
    }
    free(chs);
    char path[4400];
    pathf(path, sizeof path, "%s/kit.tampered", work);
    bool tampered = access(path, F_OK) == 0;
    pathf(path, sizeof path, "%s/total", work);
    char *tot = slurp(path, 64);
    long total_ms = atol(tot + (strncmp(tot, "ms=", 3) == 0 ? 3 : 0));
    free(tot);

    static struct entry all[128][MAXT + MAXP];
    int nent[128];
    double score = 0, max = 0;
    for (int i = 0; i < nex; i++) {
        nent[i] = entries(&exs[i], all[i], MAXT + MAXP);
        if (tampered)
            exs[i].score = 0;
        score += exs[i].score;
        max += exs[i].points;
    }

    /* results.json (Gradescope). Each test output is capped so the file stays small. */
    FILE *j = fopen(results_path, "w");
    if (j == NULL)
        die("cannot write %s: %s", results_path, strerror(errno));
    size_t nall = 1;
    for (int i = 0; i < nex; i++)
        nall += (size_t)nent[i];
    size_t per_out = 700000 / nall; /* every entry's output together stays well under 1 MB */
    if (per_out > 6000)
        per_out = 6000;
    fprintf(j, "{\n  \"score\": %.2f,\n  \"execution_time\": %.1f,\n  \"output_format\": \"text\",\n"
               "  \"output\": ", tampered ? 0.0 : score, total_ms / 1000.0);
    struct sbuf o = {0};
    sb_printf(&o, "threadlab: %.1f / %.1f points, %d exercises graded in %.1f s.\n", score, max,
              nex, total_ms / 1000.0);
    const char *prot = "";
    for (int i = 0; i < nex && !prot[0]; i++)
        prot = exs[i].protections;
    if (prot[0])
        sb_printf(&o, "Protections in force: %s.\n", prot);
    if (tampered)
        sb_printf(&o, "The kit's files changed while grading: the submission tampered with the "
                      "kit. Score set to zero.\n");
    json_str(j, sb_str(&o), 4000);
    fprintf(j, ",\n  \"tests\": [");
    int first = 1;
    for (int i = 0; i < nex; i++) {
        for (int k = 0; k < nent[i]; k++) {
            struct entry *en = &all[i][k];
            fprintf(j, "%s\n    {\"name\": ", first ? "" : ",");
            first = 0;
            json_str(j, en->name, 300);
            fprintf(j, ", \"score\": %.2f, \"max_score\": %.2f, \"status\": \"%s\", ",
                    tampered ? 0.0 : en->score, en->max, en->ok && !tampered ? "passed" : "failed");
            fprintf(j, "\"tags\": [\"%s\"], ", en->cls == TL_NONE ? "passed" : cls_name[en->cls]);
            if (en->hidden)
                fprintf(j, "\"visibility\": \"after_due_date\", ");
            fprintf(j, "\"output\": ");
            struct sbuf both = {0};
            sb_printf(&both, "%s%s", sb_str(&en->out), sb_str(&en->advice));
            json_str(j, sb_str(&both), per_out);
            free(both.s);
            fprintf(j, "}");
        }
    }
    fprintf(j, "\n  ],\n  \"leaderboard\": [{\"name\": \"score\", \"value\": %.2f, \"order\": \"desc\"}]\n}\n",
            tampered ? 0.0 : score);
    fclose(j);

    /* Text for people. */
    if (!quiet) {
        printf("\n%-40s %9s  %s\n", "exercise", "score", "verdict");
        printf("%-40s %9s  %s\n", "--------", "-----", "-------");
        for (int i = 0; i < nex; i++) {
            struct ex *e = &exs[i];
            char name[200], sc[32];
            textf(name, sizeof name, "%s/%s", e->ch, e->ex);
            snprintf(sc, sizeof sc, "%.1f/%.0f", e->score, e->points);
            if (e->cls == TL_NONE)
                printf("%-40s %9s  passed (%s) %.1fs\n", name, sc, e->passes, e->ms / 1000.0);
            else
                printf("%-40s %9s  %s %.1fs\n", name, sc,
                       e->untouched ? "not started" : cls_name[e->cls], e->ms / 1000.0);
            if (brief && e->cls != TL_NONE && e->untouched) {
                printf("    not started: fill in the TODOs of chapters/%s/%s.c (its contract is "
                       "%s.h); read book.md \"%s\" first.\n", e->ch, e->ex, e->ex, e->book);
            } else if (brief && (e->cls == TL_COMPILE || e->cls == TL_CHEAT) && e->np == 0) {
                const char *sm = sb_str(&e->summary);
                for (int l = 0; l < 4 && *sm; l++) {
                    int len = (int)strcspn(sm, "\n");
                    char line[400];
                    textf(line, sizeof line, "    %.*s\n", len < 390 ? len : 390, sm);
                    tputs(line);
                    sm += len + (sm[len] == '\n');
                }
            } else if (brief && e->cls != TL_NONE) {
                for (int k = 0; k < nent[i]; k++) {
                    if (all[i][k].ok)
                        continue;
                    const char *o = sb_str(&all[i][k].out), *name = strchr(all[i][k].name, ':');
                    printf("    first failure: %s\n", name ? name + 2 : all[i][k].name);
                    /* Its first lines, down to the first that names a source line. */
                    for (int l = 0; l < 5 && *o; l++) {
                        int len = (int)strcspn(o, "\n");
                        char line[400];
                        textf(line, sizeof line, "      %.*s\n", len < 390 ? len : 390, o);
                        tputs(line);
                        bool where = memmem(o, (size_t)len, ".c:", 3) != NULL;
                        o += len + (o[len] == '\n');
                        if (where)
                            break;
                    }
                    break;
                }
                printf("    %s: %s.\n", cls_name[e->cls], cls_why[e->cls]);
                if (e->book[0])
                    printf("    Read book.md \"%s\"; hints in %s.\n", e->book, e->hints);
            }
        }
        for (int i = 0; i < nex && !brief; i++) {
            struct ex *e = &exs[i];
            if (e->cls == TL_NONE)
                continue;
            printf("\n== %s/%s: %s (%s)\n", e->ch, e->ex, e->title, cls_name[e->cls]);
            if (e->np == 0) { /* nothing ran: say why once, not once per test */
                tputs(sb_str(&e->summary));
                if (nent[i] > 0)
                    printf("%s", sb_str(&all[i][0].advice));
                continue;
            }
            int shown = 0, failing = 0;
            const char *adv = "";
            for (int k = 0; k < nent[i]; k++) {
                struct entry *en = &all[i][k];
                if (en->ok)
                    continue;
                failing++;
                if (en->cls == e->cls && adv[0] == '\0')
                    adv = sb_str(&en->advice);
                if (shown++ < 4) {
                    printf("-- %s\n", en->name);
                    tputs(sb_str(&en->out));
                }
            }
            if (shown > 4)
                printf("-- (%d more failing entries in %s)\n", shown - 4, results_path);
            printf("%s", adv);
        }
        if (tampered)
            printf("\nThe kit's own files changed while grading (the submission wrote to them, or "
                   "someone edited them meanwhile): score set to zero.\n");
        printf("\nTotal: %.1f / %.0f points in %.1f s", tampered ? 0.0 : score, max,
               total_ms / 1000.0);
        if (prot[0] && !brief)
            printf(" (protections: %s)", prot);
        printf(".\nResults: %s\n", results_path);
    }

    /* Machine summary for the kit's self-test and soak:
     * "<ch>/<ex> <score> <max> <class> chaos=<seed> input=<seed>". */
    if (summary_path != NULL) {
        FILE *s = fopen(summary_path, "w");
        if (s == NULL)
            die("cannot write %s", summary_path);
        for (int i = 0; i < nex; i++)
            fprintf(s, "%s/%s %.2f %.2f %s chaos=%s input=%s\n", exs[i].ch, exs[i].ex,
                    tampered ? 0.0 : exs[i].score, exs[i].points,
                    exs[i].cls == TL_NONE ? "passed" : cls_name[exs[i].cls],
                    exs[i].seed[0] ? exs[i].seed : "-", exs[i].iseed[0] ? exs[i].iseed : "-");
        fclose(s);
    }

    if (strstr(formats, "tap") != NULL) {
        pathf(path, sizeof path, "%s/results.tap", results_dir);
        FILE *t = fopen(path, "w");
        if (t != NULL) {
            int n = 0;
            for (int i = 0; i < nex; i++)
                n += nent[i];
            fprintf(t, "TAP version 13\n1..%d\n", n);
            int num = 0;
            for (int i = 0; i < nex; i++)
                for (int k = 0; k < nent[i]; k++) {
                    struct entry *en = &all[i][k];
                    fprintf(t, "%s %d - %s\n", en->ok ? "ok" : "not ok", ++num, en->name);
                    if (!en->ok)
                        for (char *l = sb_str(&en->out)[0] ? strdup(sb_str(&en->out)) : NULL,
                                  *save = NULL, *x = l ? strtok_r(l, "\n", &save) : NULL;
                             x; x = strtok_r(NULL, "\n", &save))
                            fprintf(t, "# %s\n", x);
                }
            fclose(t);
        }
    }
    if (strstr(formats, "junit") != NULL) {
        pathf(path, sizeof path, "%s/results.junit.xml", results_dir);
        FILE *x = fopen(path, "w");
        if (x != NULL) {
            fprintf(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"threadlab\">\n");
            for (int i = 0; i < nex; i++) {
                int fails = 0;
                for (int k = 0; k < nent[i]; k++)
                    fails += !all[i][k].ok;
                fprintf(x, "  <testsuite name=\"%s/%s\" tests=\"%d\" failures=\"%d\" time=\"%.3f\">\n",
                        exs[i].ch, exs[i].ex, nent[i], fails, exs[i].ms / 1000.0);
                for (int k = 0; k < nent[i]; k++) {
                    struct entry *en = &all[i][k];
                    fprintf(x, "    <testcase classname=\"%s.%s\" name=\"", exs[i].ch, exs[i].ex);
                    xml_str(x, en->name);
                    fprintf(x, "\">");
                    if (!en->ok) {
                        fprintf(x, "<failure type=\"%s\" message=\"%s\">",
                                en->cls == TL_NONE ? "failed" : cls_name[en->cls],
                                en->cls == TL_NONE ? "failed" : cls_name[en->cls]);
                        xml_str(x, sb_str(&en->out));
                        fprintf(x, "</failure>");
                    }
                    fprintf(x, "</testcase>\n");
                }
                fprintf(x, "  </testsuite>\n");
            }
            fprintf(x, "</testsuites>\n");
            fclose(x);
        }
    }
    if (strstr(formats, "classroom") != NULL) {
        /* One result file per exercise in GitHub Classroom's runner format. */
        for (int i = 0; i < nex; i++) {
            pathf(path, sizeof path, "%s/classroom-%s-%s.json", results_dir, exs[i].ch, exs[i].ex);
            FILE *c = fopen(path, "w");
            if (c == NULL)
                continue;
            fprintf(c, "{\"version\": 1, \"status\": \"%s\", \"max_score\": %.0f, \"tests\": [",
                    exs[i].cls == TL_NONE ? "pass" : "fail", exs[i].points);
            for (int k = 0; k < nent[i]; k++) {
                struct entry *en = &all[i][k];
                fprintf(c, "%s{\"name\": ", k ? ", " : "");
                json_str(c, en->name, 300);
                fprintf(c, ", \"status\": \"%s\", \"score\": %.2f, \"message\": ",
                        en->ok ? "pass" : "fail", en->score);
                struct sbuf both = {0};
                sb_printf(&both, "%s%s", sb_str(&en->out), sb_str(&en->advice));
                json_str(c, sb_str(&both), 2000);
                free(both.s);
                fprintf(c, "}");
            }
            fprintf(c, "]}\n");
            fclose(c);
        }
    }
    if (strstr(formats, "autolab") != NULL) {
        /* Autolab reads the last line of output: one problem per exercise. */
        printf("{\"scores\": {");
        for (int i = 0; i < nex; i++)
            printf("%s\"%s/%s\": %.2f", i ? ", " : "", exs[i].ch, exs[i].ex,
                   tampered ? 0.0 : exs[i].score);
        printf("}, \"scoreboard\": [%.2f]}\n", tampered ? 0.0 : score);
    }
    return 0;
}
