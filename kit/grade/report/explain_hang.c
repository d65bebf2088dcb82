/*
 * explain_hang.c - why a test hung, from the watchdog's wait-for table: what
 * each thread was doing, who waits for whom, what that means, and a Graphviz
 * drawing of it in results/hangs/.
 *
 * DESIGN: the table (kit/wrap/tlwrap.c writes it as HANG lines: a T row per
 * thread, an O row per object waited on that has a site tag, an M row per
 * held mutex) is a snapshot. Objects are named as the timeline names them,
 * by the same kit/trace/names.sh (c->not_empty), and numbered only where it
 * cannot tell (mutex #2). One function, waits_for(),
 * answers "which thread does this one wait for" (the holder of the mutex it
 * wants, or the thread it joins); the cycle search, the text and the graph all
 * ask it, so they cannot disagree. Following it from every blocked thread ends
 * in a cycle (deadlock), at a thread waiting on a condition variable with
 * nobody to signal it (lost wake-up), at a sleeper (slow stop), or nowhere
 * known (a hang). The explanation names the case the evidence shows (a cycle,
 * a thread waiting for itself, a mutex whose holder has exited) rather than
 * the advice of the whole class.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"

struct hthread {
    int slot, tid;
    char state[16];     /* the word, as the wait-for table wrote it */
    enum tl_state st;   /* ...and what it means */
    unsigned long obj, obj2, off;
    char name[96];
    char where[200];
};

/* The watchdog's table: live threads, held mutexes, and exited threads' slots. */
struct table {
    struct hthread t[64];
    int n;
    unsigned long maddr[128];
    int mslot[128], nm;
    unsigned long oaddr[64];    /* objects waited on that have a site tag (O rows) */
    char otag[64][48], oname[64][96]; /* ...the tag, and the program's name for it ("" unknown) */
    int no;
    int gone[64], ngone;  /* slots of threads that had exited */
    char gone_name[64][96];
    bool cycle[64];
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

/* The T and M rows of one dump into tb. */
static void parse_table(struct table *tb, char **lines, int nlines, const char *bin,
                        const char *bdir, const char *gdb)
{
    memset(tb, 0, sizeof *tb);
    for (int i = 0; i < nlines; i++) {
        char kind[4];
        if (sscanf(lines[i], "%*s %*s %3s", kind) != 1)
            continue;
        if (kind[0] == 'T' && tb->n < 64) {
            struct hthread *h = &tb->t[tb->n];
            int used = 0;
            if (sscanf(lines[i], "%*s %*s T %d %15s %lx %lx %lx %d %n", &h->slot, h->state,
                       &h->obj, &h->obj2, &h->off, &h->tid, &used) < 6)
                continue;
            h->st = tl_state_of(h->state);
            snprintf(h->name, sizeof h->name, "%s", lines[i] + used);
            h->name[strcspn(h->name, "\n")] = '\0';
            name_thread(h->name, sizeof h->name, bin);
            if (h->st == TL_ST_DONE) {
                if (tb->ngone < 64) {
                    memcpy(tb->gone_name[tb->ngone], h->name, sizeof h->name);
                    tb->gone[tb->ngone++] = h->slot;
                }
                continue;
            }
            if (!gdb_frame(gdb, h->tid, h->where, sizeof h->where))
                symbolize(bin, h->off, h->where, sizeof h->where);
            strip_path(h->where, bdir, "");
            tb->n++;
        } else if (kind[0] == 'O' && tb->no < 64) {
            if (sscanf(lines[i], "%*s %*s O %lx %47[a-z0-9@-]", &tb->oaddr[tb->no], tb->otag[tb->no]) == 2)
                tb->oname[tb->no++][0] = '\0';
        } else if (kind[0] == 'M' && tb->nm < 128) {
            if (sscanf(lines[i], "%*s %*s M %lx %d", &tb->maddr[tb->nm], &tb->mslot[tb->nm]) == 2)
                tb->nm++;
        }
    }
}

/* Name the objects of the O rows the way the timeline does: one run of
 * kit/trace/names.sh (addr2line, nm, gdb) on the test binary for every tag. */
static void name_objects(struct table *tb, const char *bin, const char *bdir, const char *kit)
{
    if (tb->no == 0)
        return;
    struct sbuf cmd = {0};
    /* Sources are read only from the kit and from the exercise's own work
     * folder bdir, never from wherever a submission's debug info points. */
    sb_printf(&cmd, "TL_NAMES_ROOTS='%s/kit:%s/tests:%s/chapters:%s' sh '%s/kit/trace/names.sh' '%s'",
              kit, kit, kit, bdir, kit, bin);
    for (int o = 0; o < tb->no; o++)
        sb_printf(&cmd, " %s", tb->otag[o]); /* [a-z0-9@-] only: parse_table took no more */
    sb_printf(&cmd, " 2>/dev/null");
    FILE *p = popen(cmd.s, "r");
    free(cmd.s);
    if (p == NULL)
        return;
    char line[200], tag[48], name[96];
    while (fgets(line, sizeof line, p) != NULL)
        if (sscanf(line, "%47s %95[^\n]", tag, name) == 2 && strpbrk(name, "\"\\") == NULL)
            for (int o = 0; o < tb->no; o++)
                if (strcmp(tb->otag[o], tag) == 0)
                    textf(tb->oname[o], sizeof tb->oname[o], "%s", name);
    pclose(p);
}

/* The program's name for the object at addr, or NULL when none is known. */
static const char *obj_name(const struct table *tb, unsigned long addr)
{
    for (int o = 0; o < tb->no; o++)
        if (tb->oaddr[o] == addr && tb->oname[o][0] != '\0')
            return tb->oname[o];
    return NULL;
}

/* The slot holding the mutex at addr, or -1. */
static int holder_slot(const struct table *tb, unsigned long addr)
{
    int s = -1;
    for (int m = 0; m < tb->nm; m++)
        if (tb->maddr[m] == addr)
            s = tb->mslot[m];
    return s;
}

/* The name of an exited thread in slot s, or NULL when s is no exited thread. */
static const char *gone_name(const struct table *tb, int s)
{
    for (int g = 0; g < tb->ngone; g++)
        if (tb->gone[g] == s)
            return tb->gone_name[g];
    return NULL;
}

/* The thread that thread i waits for: the holder of the mutex it wants, or
 * the thread it joins; -1 when it waits for no live thread (or is not blocked). */
static int waits_for(const struct table *tb, int i)
{
    const struct hthread *t = tb->t;
    int next = -1;
    if (t[i].st == TL_ST_LOCK) {
        int s = holder_slot(tb, t[i].obj);
        for (int j = 0; j < tb->n && s >= 0; j++)
            if (t[j].slot == s)
                next = j;
    } else if (t[i].st == TL_ST_JOIN) {
        for (int j = 0; j < tb->n; j++)
            if ((unsigned long)t[j].slot + 1 == t[i].obj)
                next = j;
    }
    return next;
}

/* Follow what a blocked thread waits for until a thread that is not blocked
 * on another thread; returns that thread's index, or -1 on a cycle (whose
 * members are marked in tb->cycle). */
static int hang_root(struct table *tb, int start)
{
    int cur = start;
    for (int steps = 0; steps <= tb->n; steps++) {
        int next = waits_for(tb, cur);
        if (next < 0)
            return cur;
        cur = next;
    }
    /* More steps than threads: cur is on a cycle. Mark its members. */
    int first = cur;
    do {
        tb->cycle[cur] = true;
        cur = waits_for(tb, cur);
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

/* What to call the object at addr after its kind ("mutex ", "condition variable "):
 * the program's name for it as the timeline shows it (c->not_empty), with its
 * number when another object waited on has the same name (a[i].lock #3: one
 * init line for many locks), or only its number (#2) when no name is known. */
static void obj_label(const struct table *tb, unsigned long addr, unsigned long *seen, int *nseen,
                      char *out, size_t n)
{
    int k = obj_number(seen, nseen, addr);
    const char *nm = obj_name(tb, addr);
    bool shared = false;
    for (int o = 0; nm != NULL && o < tb->no; o++)
        shared |= tb->oaddr[o] != addr && strcmp(tb->oname[o], nm) == 0;
    if (nm == NULL)
        textf(out, n, "#%d", k);
    else if (shared)
        textf(out, n, "%s #%d", nm, k);
    else
        textf(out, n, "%s", nm);
}

/* The class the table shows (see DESIGN). */
static enum tl_class table_class(struct table *tb)
{
    enum tl_class c = TL_NONE;
    for (int i = 0; i < tb->n; i++) {
        if (tb->t[i].st == TL_ST_SPIN)
            c = cls_worst(c, TL_BUSY_WAIT);
        if (tb->t[i].st == TL_ST_RUN || tb->t[i].st == TL_ST_SPIN)
            continue;
        int r = hang_root(tb, i);
        if (r < 0)
            c = cls_worst(c, TL_DEADLOCK);
        else if (tb->t[r].st == TL_ST_COND)
            c = cls_worst(c, TL_LOST_WAKEUP);
        else if (tb->t[r].st == TL_ST_SLEEP || tb->t[r].st == TL_ST_TIMED)
            c = cls_worst(c, TL_SLOW_STOP);
    }
    return c == TL_NONE ? TL_HANG : c;
}

/* Whether where's innermost frame ("f() at file:line, called from ...") is
 * in the kit's test helpers: a running thread there is a test waiting on
 * its own semaphore or nap (tlwrap.c's RETURN_NOTING_WHERE), not the learner's loop. */
static bool in_test_helper(const char *where)
{
    const char *at = strstr(where, " at ");
    if (at == NULL)
        return false;
    at += 4;
    size_t len = strcspn(at, ":,");
    return (len == 8 && strncmp(at, "tltest.h", 8) == 0) ||
           (len == 9 && strncmp(at, "tlcheck.h", 9) == 0);
}

/* "waits to lock mutex c->lock, held by T1 worker": what thread i was doing. */
static void thread_doing(const struct table *tb, int i, unsigned long *seen, int *nseen,
                         char *what, size_t n)
{
    const struct hthread *t = &tb->t[i];
    if (t->st == TL_ST_LOCK) {
        int h = waits_for(tb, i), s = holder_slot(tb, t->obj);
        const char *gone = gone_name(tb, s);
        char holder[140];
        if (h == i)
            textf(holder, sizeof holder, "itself");
        else if (h >= 0)
            textf(holder, sizeof holder, "%s", tb->t[h].name);
        else if (gone != NULL)
            textf(holder, sizeof holder, "%s, which has exited", gone);
        else
            textf(holder, sizeof holder, "nobody known");
        char obj[120];
        obj_label(tb, t->obj, seen, nseen, obj, sizeof obj);
        textf(what, n, "waits to lock mutex %s, held by %s", obj, holder);
    } else if (t->st == TL_ST_COND || t->st == TL_ST_TIMED) {
        char obj[120];
        obj_label(tb, t->obj, seen, nseen, obj, sizeof obj);
        textf(what, n, "waits on condition variable %s%s", obj,
              t->st == TL_ST_TIMED ? " (with a deadline)" : "");
    } else if (t->st == TL_ST_JOIN) {
        int w = waits_for(tb, i);
        textf(what, n, "waits to join %s", w >= 0 ? tb->t[w].name : "a thread");
    } else if (t->st == TL_ST_SLEEP) {
        textf(what, n, "sleeps");
    } else if (t->st == TL_ST_RUN && in_test_helper(t->where)) {
        textf(what, n, "is the test itself, waiting (for a bounded time) for the threads it checks");
    } else if (t->st == TL_ST_RUN) {
        textf(what, n, "is running (a loop that never ends?)");
    } else if (t->st == TL_ST_SPIN) {
        textf(what, n, "spins: it ran on without one pthread call while the others waited for "
                       "it to let them run (busy waiting)");
    } else {
        textf(what, n, "waits (%s)", t->state);
    }
}

/* One line on what the table means, for the case it shows. */
static void meaning(const struct table *tb, enum tl_class c, struct sbuf *msg)
{
    int self = -1, orphan = -1, incycle = 0;
    for (int i = 0; i < tb->n; i++) {
        incycle += tb->cycle[i];
        if (tb->t[i].st != TL_ST_LOCK)
            continue;
        int s = holder_slot(tb, tb->t[i].obj);
        if (waits_for(tb, i) == i)
            self = i;
        else if (s >= 0 && gone_name(tb, s) != NULL)
            orphan = i;
    }
    if (self >= 0)
        sb_printf(msg, "  What it means: %s waits for a mutex it holds itself: it locks it a "
                       "second time without unlocking it in between (a path that returns "
                       "without unlocking?).\n", tb->t[self].name);
    else if (orphan >= 0)
        sb_printf(msg, "  What it means: a thread exited while holding a mutex, so it is never "
                       "unlocked: every path out of a locked region must unlock (look for an "
                       "early return or break).\n");
    else if (incycle > 1)
        sb_printf(msg, "  What it means: the threads marked 'in the cycle' each hold a mutex the "
                       "next one wants: take the mutexes in one order everywhere, or never hold "
                       "one while waiting for another.\n");
    else if (c == TL_LOST_WAKEUP)
        sb_printf(msg, "  What it means: a thread waits on a condition variable and no thread "
                       "that could signal it is left: the change it waits for happened without "
                       "a signal, or before it started waiting.\n");
}

/* The wait-for graph of tb as Graphviz source. */
static void graph_source(FILE *f, const struct table *tb, const char *label, enum tl_class c)
{
    unsigned long seen[64];
    int nseen = 0;
    bool held_drawn[65] = {false}; /* one "held by" edge a mutex, however many wait for it */
    fprintf(f, "digraph waitfor {\n  rankdir=LR; fontname=\"Helvetica\"; "
               "node [fontname=\"Helvetica\"]; edge [fontname=\"Helvetica\"];\n"
               "  label=\"wait-for graph: %s (%s)\"; labelloc=t;\n",
            label, tl_class_name[c]);
    for (int i = 0; i < tb->n; i++)
        fprintf(f, "  t%d [shape=box, style=filled, fillcolor=\"%s\", label=\"%s\\n%s\"];\n", i,
                tb->cycle[i] ? "#f4a6a6" : "#dde8f5", tb->t[i].name, tb->t[i].state);
    for (int i = 0; i < tb->n; i++) {
        const struct hthread *t = &tb->t[i];
        const char *red = tb->cycle[i] ? ", color=red, penwidth=2.5" : "";
        char obj[120];
        if (t->st == TL_ST_LOCK) {
            obj_label(tb, t->obj, seen, &nseen, obj, sizeof obj);
            int k = obj_number(seen, &nseen, t->obj);
            fprintf(f, "  m%d [shape=ellipse, label=\"mutex %s\"];\n", k, obj);
            fprintf(f, "  t%d -> m%d [label=\"waits for\"%s];\n", i, k, red);
            int j = waits_for(tb, i);
            if (j >= 0 && k > 0 && k <= 64 && !held_drawn[k]) {
                /* Red only where the edge closes the cycle: a waiter of this
                 * mutex and its holder are both in it. */
                bool hot = false;
                for (int w = 0; w < tb->n; w++)
                    hot |= tb->t[w].st == TL_ST_LOCK && tb->t[w].obj == t->obj && tb->cycle[w];
                held_drawn[k] = true;
                fprintf(f, "  m%d -> t%d [label=\"held by\"%s];\n", k, j,
                        hot && tb->cycle[j] ? ", color=red, penwidth=2.5" : "");
            }
        } else if (t->st == TL_ST_COND || t->st == TL_ST_TIMED) {
            obj_label(tb, t->obj, seen, &nseen, obj, sizeof obj);
            int k = obj_number(seen, &nseen, t->obj);
            fprintf(f, "  c%d [shape=diamond, label=\"condvar %s\\n(no signal coming)\"];\n", k,
                    obj);
            fprintf(f, "  t%d -> c%d [label=\"waits on\", style=dashed];\n", i, k);
        } else if (t->st == TL_ST_JOIN) {
            int j = waits_for(tb, i);
            if (j >= 0)
                fprintf(f, "  t%d -> t%d [label=\"joins\"%s];\n", i, j, red);
        }
    }
    fprintf(f, "}\n");
}

/* Draw tb into RESULTS_DIR/hangs/<label>.{dot,svg} and say where. */
static void draw_graph(const struct table *tb, const char *label, enum tl_class c,
                       const char *results_dir, struct sbuf *msg)
{
    char dir[4200], dot[4400], svg[4400];
    pathf(dir, sizeof dir, "%s/hangs", results_dir);
    mkdir(dir, 0755);
    pathf(dot, sizeof dot, "%s/%s.dot", dir, label);
    pathf(svg, sizeof svg, "%s/%s.svg", dir, label);
    FILE *f = fopen(dot, "w");
    if (f == NULL)
        return;
    graph_source(f, tb, label, c);
    fclose(f);
    char cmd[9000];
    pathf(cmd, sizeof cmd, "dot -Tsvg '%s' -o '%s' 2>/dev/null", dot, svg);
    if (system(cmd) == 0)
        sb_printf(msg, "  Wait-for graph: %s\n", svg);
    else
        sb_printf(msg, "  Wait-for graph (Graphviz source): %s\n", dot);
}

enum tl_class explain_hang(char **lines, int nlines, const char *bin, const char *bdir,
                           const char *label, const char *gdb, const char *kit,
                           const char *results_dir, struct sbuf *msg)
{
    static struct table tb; /* large; one dump at a time */
    parse_table(&tb, lines, nlines, bin, bdir, gdb);
    name_objects(&tb, bin, bdir, kit);
    enum tl_class c = table_class(&tb);
    unsigned long seen[64];
    int nseen = 0, blocked = 0;
    sb_printf(msg, "  What each thread was doing when the watchdog fired:\n");
    for (int i = 0; i < tb.n; i++) {
        char what[300];
        thread_doing(&tb, i, seen, &nseen, what, sizeof what);
        blocked += tb.t[i].st != TL_ST_RUN;
        sb_printf(msg, "    %-26s %s%s%s%s\n", tb.t[i].name, what, tb.t[i].where[0] ? ", in " : "",
                  tb.t[i].where, tb.cycle[i] ? "   <- in the cycle" : "");
    }
    if (tb.n == 0)
        sb_printf(msg, "    (no thread was blocked in a pthread call: a loop that never ends?)\n");
    meaning(&tb, c, msg);
    if (results_dir[0] != '\0' && blocked > 0)
        draw_graph(&tb, label, c, results_dir, msg);
    return c;
}

void hangs_clear(const char *results_dir)
{
    char dir[4200];
    pathf(dir, sizeof dir, "%s/hangs", results_dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && (strcmp(e->d_name + n - 4, ".dot") == 0 || strcmp(e->d_name + n - 4, ".svg") == 0)) {
            char path[4500];
            pathf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}
