/*
 * explain_san.c - what a sanitizer said, in a few lines a learner can act on:
 * the kind of report, the learner's frames, and (ASan/LSan) where the memory
 * was allocated and freed.
 *
 * DESIGN: the sanitizers' logs are long and mostly runtime frames. A report is
 * quoted as its headers (the "WARNING: ThreadSanitizer: ..." or
 * "==PID==ERROR: AddressSanitizer: ..." line, each access, allocation and free
 * heading) with the first two of the program's own frames under each, and no
 * addresses. The class comes from the report's kind, never from the program's
 * output.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

char *san_logs(const char *rundir, const char *prefix, long pid)
{
    char dir[4500];
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
        char path[4800];
        pathf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *s = slurp(path, 256 * 1024);
        sb_printf(&all, "%s\n", s);
        free(s);
    }
    closedir(d);
    return all.s ? all.s : strdup("");
}

/* A frame line of a sanitizer report, shortened to "function() at file:line";
 * false for frames inside the runtime, the wrappers, Check or libc. */
static bool frame_text(const char *line, size_t n, char *out, size_t outsz)
{
    char buf[600];
    textf(buf, sizeof buf, "%.*s", (int)(n < 590 ? n : 590), line);
    static const char *const skip[] = {"libtsan", "libasan", "libubsan", "liblsan", "sanitizer",
                                       "tlwrap.c", "tlcheck.h", "<null>", "libc.so", "libcheck",
                                       "interceptor", "trace.h", "check_run.c", "check.c",
                                       "pthread_create.c", "clone.S", "clone3.S"};
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

/* A frame in the learner's code, not the kit's tests or helpers. */
static bool learner_frame(const char *fr)
{
    const char *at = strstr(fr, " at ");
    return at != NULL && strncmp(at + 4, "test_", 5) != 0 && strncmp(at + 4, "workload_", 9) != 0 &&
           strncmp(at + 4, "tltest.h", 8) != 0 && strstr(at, ".c:") != NULL;
}

bool san_learner_frame(const char *log, char *out, size_t n)
{
    for (const char *p = log; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        size_t len = strcspn(p, "\n");
        const char *t = p;
        while (t < p + len && *t == ' ')
            t++;
        if (*t == '#' && frame_text(t, len - (size_t)(t - p), out, n) && learner_frame(out))
            return true;
    }
    out[0] = '\0';
    return false;
}

/* One line of a log, without its "==PID==" prefix, and how it is indented. */
struct logline {
    char text[400];
    int indent;
};

static void log_line(const char *p, size_t n, struct logline *l)
{
    const char *t = p;
    while (t < p + n && *t == ' ')
        t++;
    l->indent = (int)(t - p);
    size_t tn = n - (size_t)(t - p);
    if (tn > 2 && t[0] == '=' && t[1] == '=' && isdigit((unsigned char)t[2])) {
        const char *e = memmem(t + 2, tn - 2, "==", 2); /* "==1234==ERROR: ..." */
        if (e != NULL) {
            tn -= (size_t)(e + 2 - t);
            t = e + 2;
        }
    }
    textf(l->text, sizeof l->text, "%.*s", (int)(tn < 390 ? tn : 390), t);
}

/* "Write of size 8 at 0x7b.. by thread T2:" -> "Write of size 8 by thread T2:". */
static void drop_address(char *line, const char *keep)
{
    char *at = strstr(line, " at 0x");
    if (at == NULL)
        return;
    char *k = strstr(at + 1, keep);
    if (k != NULL)
        memmove(at, k, strlen(k) + 1);
    else
        *at = '\0';
}

/* The state of digest() as it walks a log. */
struct digest {
    int lines, reports, frames; /* frames still wanted under the last heading */
    bool in_report, leak;
};

/* A report's first line: "WARNING: ThreadSanitizer: ...", "ERROR: AddressSanitizer: ...". */
static bool report_head(const struct logline *l)
{
    return strncmp(l->text, "WARNING: ThreadSanitizer", 24) == 0 ||
           strncmp(l->text, "ERROR: ", 7) == 0 || strstr(l->text, ": runtime error:") != NULL;
}

/* Quote one line of a report into msg, as digest() walks the log. */
static void digest_line(struct digest *d, struct logline *l, struct sbuf *msg)
{
    char *t = l->text;
    if (report_head(l)) {
        d->in_report = true;
        d->leak = strstr(t, "thread leak") != NULL;
        char *pid = strstr(t, " (pid=");
        if (pid != NULL)
            *pid = '\0';
        char *pc = strstr(t, " on address 0x"); /* ASan: "... on address 0x.. at pc 0x.." */
        if (pc == NULL)
            pc = strstr(t, " at pc 0x");
        if (pc != NULL)
            *pc = '\0';
        char *rt = strstr(t, "runtime error:");
        sb_printf(msg, "  %s\n", rt != NULL ? rt : t);
        d->lines++;
        d->frames = rt != NULL ? 2 : 0;
    } else if (!d->in_report) {
        return;
    } else if (strncmp(t, "SUMMARY: ", 9) == 0 || strncmp(t, "Shadow bytes", 12) == 0) {
        d->in_report = false;
        d->reports++;
    } else if (t[0] == '#') {
        char fr[300];
        if (d->frames > 0 && frame_text(t, strlen(t), fr, sizeof fr)) {
            sb_printf(msg, "      %s\n", fr);
            d->lines++;
            d->frames--;
        }
    } else if (!d->leak && strncmp(t, "Thread T", 8) == 0) {
        d->frames = 0; /* who created the racing threads: noise here */
    } else if (strncmp(t, "Location is global '<null>'", 27) == 0) {
        /* TSan's failed second look at a stack address ("at 0x000000000000
         * ([stack]+0x..)"), after "Location is stack of ...": it contradicts
         * the line before and says nothing */
        d->frames = 0;
    } else if (isupper((unsigned char)t[0]) && l->indent == 2) {
        /* TSan: "  Write of size 8 at 0x.. by thread T2:", "  Location is global 'x' ..." */
        bool stack = t[strlen(t) - 1] == ':';
        drop_address(t, " by ");
        char *paren = strstr(t, " ("), *close = paren != NULL ? strchr(paren, ')') : NULL;
        if (close != NULL && strncmp(t, "Thread T", 8) == 0) /* "Thread T2 (tid=9, ...) created by" */
            memmove(paren, close + 1, strlen(close + 1) + 1);
        else if (paren != NULL && strstr(t, "Location") == NULL)
            *paren = '\0';
        sb_printf(msg, "    %s%s\n", t, stack && t[strlen(t) - 1] != ':' ? ":" : "");
        d->lines++;
        d->frames = !stack ? 0 : strncmp(t, "Location", 8) == 0 ? 1 : 2;
    } else if (isalpha((unsigned char)t[0]) && l->indent == 0) {
        /* ASan/LSan at column 0: "READ of size 4 ...", "freed by thread T0 here:",
         * "Direct leak of 40 byte(s) in 1 object(s) allocated from:" */
        drop_address(t, " thread ");
        char *th = strstr(t, " thread T");
        if (th != NULL && strstr(t, " by thread") == NULL) /* "READ of size 4 thread T2" */
            sb_printf(msg, "    %.*s by%s\n", (int)(th - t), t, th);
        else
            sb_printf(msg, "    %s\n", t);
        d->lines++;
        d->frames = 2;
    }
}

/* Quote the gist of the first sanitizer reports in a log. */
static void digest(const char *log, struct sbuf *msg)
{
    struct digest d = {0};
    for (const char *p = log; *p && d.lines < 20 && d.reports < 2;) {
        size_t n = strcspn(p, "\n");
        struct logline l;
        log_line(p, n, &l);
        digest_line(&d, &l, msg);
        p += n + (p[n] == '\n');
    }
}

enum tl_class san_classify(const char *log, struct sbuf *msg)
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

/* The call that ends an object's life, when the first access of the log's
 * first data race is one ("pthread_mutex_destroy"), or when a destroyed mutex
 * was used; NULL otherwise. A race
 * with the end of an object's life means a thread still used it: a thread
 * that was never joined, or joined too late. */
const char *san_lifetime_race(const char *log)
{
    static const char *const ends[] = {"free", "pthread_mutex_destroy", "pthread_cond_destroy",
                                       "pthread_rwlock_destroy", "pthread_barrier_destroy",
                                       "sem_destroy", "operator delete", "munmap", "realloc"};
    if (strstr(log, "ThreadSanitizer: use of an invalid mutex") != NULL)
        return "pthread_mutex_destroy";
    const char *r = strstr(log, "ThreadSanitizer: data race");
    const char *f = r != NULL ? strstr(r, "#0 ") : NULL;
    if (f == NULL)
        return NULL;
    f += 3;
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        size_t n = strlen(ends[i]);
        if (strncmp(f, ends[i], n) == 0 && (f[n] == ' ' || f[n] == '('))
            return ends[i];
    }
    return NULL;
}

/* gdb's "Thread N (Thread 0x.. (LWP 123))" headings and "#k ... at file:line"
 * frames: the innermost two of the program's own code for thread lwp. */
bool gdb_frame(const char *gdb, int lwp, char *out, size_t n)
{
    out[0] = '\0';
    static const char *const skip[] = {"nptl", "sysdeps", "tlwrap.c", "tlcheck.h", "trace.h",
                                       "check_", "libcheck", "futex", "sanitizer"};
    int cur = -1;
    for (const char *p = gdb; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        size_t len = strcspn(p, "\n");
        char line[1024];
        textf(line, sizeof line, "%.*s", (int)(len < 1000 ? len : 1000), p);
        const char *lw = strstr(line, "(LWP ");
        if (strncmp(line, "Thread ", 7) == 0 && lw != NULL) {
            cur = atoi(lw + 5);
            continue;
        }
        const char *at = strstr(line, " at ");
        if (cur != lwp || line[0] != '#' || at == NULL)
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
