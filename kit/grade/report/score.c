/*
 * score.c - turn verdicts into scored entries: one per functional test, one
 * per further pass; and the advice each failing entry carries.
 *
 * DESIGN: one exercise is scored from one table: every test of every test file
 * in the functional pass shares 60% of the points (all of them if there is no
 * other pass); each further pass (chaos, pinned, tsan, asan) is one entry worth
 * an equal share of the other 40% and passes only when every test passes under
 * it. A cheat (success without reaching the end, calling the grader's
 * functions) zeroes the exercise; a tampered kit zeroes everything.
 *
 * Points are counted in quarter points, as integers: a share that does not
 * divide evenly gives its remainder, one quarter each, to the first entries.
 * So every score is a multiple of 0.25, exact in binary floating point, and
 * every sum (the exercise's, the total, a platform's own arithmetic) is exact.
 * The entries are a fixed list per exercise: its tests and the passes its .ex
 * declares, whether or not anything ran, with the same names and maxima in
 * every submission (run details such as seeds go into the evidence).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static const char *pass_title(const char *pass, char *buf, size_t n)
{
    if (strcmp(pass, "chaos") == 0)
        textf(buf, n, "all tests with random yields");
    else if (strcmp(pass, "sched") == 0)
        textf(buf, n, "all tests one thread at a time, under a seeded scheduler (exact replay)");
    else if (strcmp(pass, "pinned") == 0)
        textf(buf, n, "all tests pinned to one CPU");
    else if (strcmp(pass, "tsan") == 0)
        textf(buf, n, "all tests under ThreadSanitizer (no data race, no lock-order inversion)");
    else if (strcmp(pass, "asan") == 0)
        textf(buf, n, "all tests under AddressSanitizer and LeakSanitizer (no leak, no bad access)");
    else
        textf(buf, n, "all tests (%s)", pass);
    return buf;
}

/* The class's meaning, then where to read: the section the failing assertion
 * names ("(book 1.4)") when it names one, else the exercise's. */
void advice(const struct ex *e, enum tl_class c, const char *book, struct sbuf *b)
{
    if (c == TL_NONE)
        return;
    if (strcmp(e->compile, "untouched") == 0) { /* no bug yet: nothing was written */
        sb_printf(b, "Start here: the contract is chapters/%s/%s.h; read book.md, section \"%s\", "
                  "then fill in the TODOs. Hints, one at a time: make hint EX=%s/%s.\n",
                  e->ch, e->ex, e->book, e->ch, e->ex);
        return;
    }
    if (strcmp(e->compile, "kit") == 0) /* nothing the learner can fix */
        return;
    sb_printf(b, "Bug class: %s - %s.\n", tl_class_name[c], tl_class_why[c]);
    const char *sec = book != NULL && book[0] ? book : e->book;
    if (sec[0])
        sb_printf(b, "Read: book.md, section \"%s\". Hints, one at a time: make hint EX=%s/%s (all of them: "
                  "%s, section \"%s\").\n", sec, e->ch, e->ex, e->hints[0] ? e->hints : "HINTS.md", e->ex);
    /* Only where the failure is in code that ran: a build that failed has no timeline. */
    if (e->timeline && e->np > 0 && c != TL_COMPILE && c != TL_MISSING && c != TL_CHEAT)
        sb_printf(b, "See your own code run: make timeline EX=%s/%s draws its threads, locks and "
                  "waits over time.\n", e->ch, e->ex);
}

/* "What it checks: <intent>", the line a failure's evidence starts with. */
static void intent_line(struct sbuf *b, const char *indent, const char *intent)
{
    if (intent != NULL && intent[0])
        sb_printf(b, "%sWhat it checks: %s\n", indent, intent);
}

/* The entry of functional test i of file k. */
static void test_entry(struct ex *e, int k, int i, int ti, int qmax, struct entry *en)
{
    char h[100];
    human(e->f[k].names[i], h, sizeof h);
    textf(en->name, sizeof en->name, "%s/%s: %s", e->ch, e->ex, h);
    en->qmax = qmax;
    en->hidden = e->f[k].hidden;
    en->cls = TL_NONE;
    const char *book = NULL;
    if (e->np == 0) {
        en->cls = e->cls;
        sb_printf(&en->out, "%s", e->cls == TL_COMPILE ? "Did not compile.\n" : "");
        sb_printf(&en->out, "%s", sb_str(&e->summary));
    } else if (ti < e->p[0].nt) {
        const struct tres *t = &e->p[0].t[ti];
        en->ok = t->ok;
        en->cls = t->ok ? TL_NONE : t->cls;
        book = t->book;
        if (!t->ok)
            intent_line(&en->out, "", t->intent);
        sb_printf(&en->out, "%s", sb_str(&t->msg));
    }
    advice(e, en->cls, book, &en->advice);
    textf(en->book, sizeof en->book, "%s", book != NULL ? book : "");
}

/* The classes of a test that never finished: its threads got stuck. */
static bool stuck_class(enum tl_class c)
{
    return c == TL_DEADLOCK || c == TL_LOST_WAKEUP || c == TL_HANG;
}

/* Where the evidence of test t of further pass p already is, when the same
 * test failed with the same class before: the functional pass (its own entry,
 * 0) or an earlier further pass (its index); -1 when t's failure is new here.
 * A bug that fails one test in every pass is then shown once, not five times.
 * A test that got stuck before and now fails with a thread leak or stuck
 * again shows the same bug: the threads it left blocked are what the
 * sanitizer's exit report or the later watchdog sees. *cls is the class to
 * name (the earlier one). */
static int failed_before(const struct ex *e, const struct pres *p, const struct tres *t,
                         enum tl_class *cls)
{
    for (int q = 0; q < e->np && &e->p[q] != p; q++)
        for (int i = 0; i < e->p[q].nt; i++) {
            const struct tres *f = &e->p[q].t[i];
            if (f->file != t->file || strcmp(f->name, t->name) != 0 || f->ok)
                continue;
            if (f->cls == t->cls ||
                (stuck_class(f->cls) && (t->cls == TL_THREAD_LEAK || stuck_class(t->cls)))) {
                *cls = f->cls;
                return q;
            }
        }
    return -1;
}

/* The first test the functional pass saw stuck (the reason a further pass
 * that reruns its binary was skipped), or NULL. */
static const struct tres *first_stuck(const struct ex *e)
{
    const struct tres *any = NULL;
    for (int i = 0; e->np > 0 && i < e->p[0].nt; i++) {
        const struct tres *t = &e->p[0].t[i];
        if (t->ok || !stuck_class(t->cls) || strstr(sb_str(&t->msg), "not run: ") != NULL)
            continue;
        if (t->symptom) /* the watchdog's snapshot: this one hung */
            return t;
        if (any == NULL)
            any = t;
    }
    return any;
}

/* The entry of a whole further pass p. */
static void pass_entry(struct ex *e, const struct pres *p, int qmax, struct entry *en)
{
    char buf[200];
    textf(en->name, sizeof en->name, "%s/%s: %s", e->ch, e->ex,
          pass_title(p->pass, buf, sizeof buf));
    en->qmax = qmax;
    en->ok = p->ok;
    /* A pass skipped because the functional pass hung (grade.sh's run_pass):
     * its tests are one line, and a pass that ran nothing has no seed to replay. */
    int nskip = 0;
    for (int i = 0; i < p->nt; i++)
        nskip += p->t[i].skipped;
    const struct tres *stuck = nskip > 0 ? first_stuck(e) : NULL;
    char in[160] = ""; /* " in 'each waiting thread is woken' (lost-wakeup)" */
    if (stuck != NULL) {
        char h[100];
        human(stuck->name, h, sizeof h);
        textf(in, sizeof in, " in '%s' (%s)", h, tl_class_name[stuck->cls]);
    }
    if (nskip == p->nt && p->nt > 0) {
        const char *sbook = stuck != NULL && stuck->book[0] ? stuck->book : NULL;
        en->cls = stuck != NULL ? stuck->cls : p->cls;
        sb_printf(&en->out, "Not run: the functional tests already got stuck%s, and this pass "
                            "reruns them: it would only get stuck again.\n", in);
        advice(e, en->cls, sbook, &en->advice);
        textf(en->book, sizeof en->book, "%s", sbook != NULL ? sbook : "");
        return;
    }
    if (strcmp(p->pass, "chaos") == 0 && e->seed[0])
        sb_printf(&en->out, "%s with CHAOS_SEED=%s.\n", p->ok ? "Passed" : "Failed", e->seed);
    if (strcmp(p->pass, "sched") == 0 && e->sseed[0])
        sb_printf(&en->out, "%s with SCHED_SEED=%s (%s).\n", p->ok ? "Passed" : "Failed", e->sseed,
                  strtoull(e->sseed, NULL, 10) % 2 ? "PCT: random priorities, 2 change points"
                                                   : "random walk");
    en->cls = p->ok ? TL_NONE : p->cls;
    const char *book = NULL;
    /* The test the sched pass's "Draw it" line names: the first whose failure
     * is new here, else the first that failed at all. */
    const char *draw = NULL, *draw_any = NULL;
    struct sbuf again = {0}; /* tests whose failure was shown before: one line */
    for (int i = 0; i < p->nt; i++) {
        if (p->t[i].ok)
            continue;
        if (book == NULL && p->t[i].cls == p->cls && p->t[i].book[0])
            book = p->t[i].book;
        char h[100];
        human(p->t[i].name, h, sizeof h);
        const char *msg = sb_str(&p->t[i].msg);
        if (p->t[i].skipped)
            continue; /* one line for them all, below */
        bool unrun = strstr(msg, "not run: ") != NULL;
        enum tl_class was = p->t[i].cls;
        int before = failed_before(e, p, &p->t[i], &was);
        if (before >= 0) {
            char t2[200];
            sb_printf(&again, "%s%s (%s%s%s)", again.n ? "; " : "", h, tl_class_name[was],
                      before > 0 ? ", as under " : "",
                      before > 0 ? pass_title(e->p[before].pass, t2, sizeof t2) : "");
            if (draw_any == NULL && !unrun)
                draw_any = p->t[i].name;
            continue;
        }
        if (draw == NULL && !unrun)
            draw = p->t[i].name;
        /* The same evidence as a test listed above (one race that every test
         * trips over): its name, not the report again. */
        int same = -1;
        enum tl_class ignored;
        for (int j = 0; j < i && same < 0 && !unrun; j++)
            if (!p->t[j].ok && strcmp(sb_str(&p->t[j].msg), msg) == 0 &&
                failed_before(e, p, &p->t[j], &ignored) < 0)
                same = j;
        if (same >= 0) {
            char h2[100];
            human(p->t[same].name, h2, sizeof h2);
            sb_printf(&en->out, "%s: the same report as %s.\n", h, h2);
            continue;
        }
        if (strstr(msg, "not run: ") == NULL && p->t[i].intent != NULL) {
            sb_printf(&en->out, "%s:\n", h);
            intent_line(&en->out, "", p->t[i].intent);
            sb_printf(&en->out, "%s", msg);
        } else {
            sb_printf(&en->out, "%s: %s", h, msg);
        }
        if (strchr(msg, '\n') == NULL)
            sb_printf(&en->out, "\n");
    }
    if (draw == NULL)
        draw = draw_any;
    if (again.n)
        sb_printf(&en->out, "Fails here too, as already shown: %s.\n", sb_str(&again));
    free(again.s);
    if (nskip > 0)
        sb_printf(&en->out, "Not run: %d test%s of a file whose functional tests got stuck%s "
                            "(it would only get stuck again).\n",
                  nskip, nskip == 1 ? "" : "s", in);
    if (strcmp(p->pass, "tsan") == 0 && !p->ok && e->fence)
        sb_printf(&en->out, "Note: ThreadSanitizer does not understand atomic_thread_fence, "
                            "so code that relies on a fence is reported as racy even when it "
                            "is correct. Put the ordering on the atomic operation itself "
                            "(e.g. memory_order_acq_rel on the decrement) instead.\n");
    if (strcmp(p->pass, "sched") == 0 && !p->ok && !p->skipped)
        sb_printf(&en->out, "The same seed replays the same interleaving of pthread calls, and the same "
                            "failure:\n  make grade EX=%s/%s SCHED_SEED=%s TL_INPUT_SEED=%s\n"
                            "Draw it: make timeline EX=%s/%s SCHED_SEED=%s TL_INPUT_SEED=%s%s%s\n",
                  e->ch, e->ex, e->sseed, e->iseed, e->ch, e->ex, e->sseed, e->iseed,
                  draw != NULL ? " TEST=" : "", draw != NULL ? draw : "");
    if (strcmp(p->pass, "chaos") == 0 && !p->ok && !p->skipped)
        sb_printf(&en->out, "Replay these yields with: make grade EX=%s/%s CHAOS_SEED=%s\n",
                  e->ch, e->ex, e->seed);
    advice(e, en->cls, book, &en->advice);
    textf(en->book, sizeof en->book, "%s", book != NULL ? book : "");
}

/* The entry of further pass `pass` of an exercise where nothing ran (it did
 * not build, was not submitted): listed all the same, failed, with why. */
static void unrun_entry(struct ex *e, const char *pass, int qmax, struct entry *en)
{
    char buf[200];
    textf(en->name, sizeof en->name, "%s/%s: %s", e->ch, e->ex, pass_title(pass, buf, sizeof buf));
    en->qmax = qmax;
    en->cls = e->cls;
    const char *s = sb_str(&e->summary);
    if (e->cls == TL_MISSING || e->untouched)
        sb_printf(&en->out, "Not run: %s", s);
    else
        sb_printf(&en->out, "Not run: the exercise %s.\n",
                  e->cls == TL_COMPILE ? "did not compile (the compiler's messages are under its "
                                         "first test)"
                                       : "was not built");
    advice(e, en->cls, NULL, &en->advice);
}

/* The further passes the exercise's .ex declares (every pass after the first,
 * which is the functional one) into names; returns how many. */
static int further_passes(const struct ex *e, char names[][16], int max)
{
    char passes[128];
    snprintf(passes, sizeof passes, "%s", e->passes);
    int n = 0, k = 0;
    char *save = NULL;
    for (char *ps = strtok_r(passes, " ", &save); ps; ps = strtok_r(NULL, " ", &save))
        if (k++ > 0 && n < max)
            snprintf(names[n++], 16, "%s", ps);
    return n;
}

/* Quarter q of `total` shared by `n` entries: entry i's share (the remainder
 * goes one quarter each to the first entries). */
static int share(int total, int n, int i)
{
    return n > 0 ? total / n + (i < total % n) : 0;
}

/* Score each entry of e into out; returns how many. */
static int entries(struct ex *e, struct entry *out, int max)
{
    char pnames[MAXP][16];
    int n = 0, extra = further_passes(e, pnames, MAXP);
    /* The functional tests are listed from the meta file even when nothing ran. */
    int ntests = 0;
    for (int k = 0; k < e->nfiles; k++)
        ntests += e->f[k].n;
    int qall = (int)llround(e->points * 4);
    int qfunc = extra == 0 ? qall : ntests == 0 ? 0 : (qall * 6 + 5) / 10;
    int ti = 0;
    for (int k = 0; k < e->nfiles; k++)
        for (int i = 0; i < e->f[k].n && n < max; i++, ti++)
            test_entry(e, k, i, ti, share(qfunc, ntests, ti), &out[n++]);
    for (int pi = 0; pi < extra && n < max; pi++) {
        int q = share(qall - qfunc, extra, pi);
        if (pi + 1 < e->np && strcmp(e->p[pi + 1].pass, pnames[pi]) == 0)
            pass_entry(e, &e->p[pi + 1], q, &out[n++]);
        else
            unrun_entry(e, pnames[pi], q, &out[n++]);
    }
    if (e->np == 0 && ntests == 0 && extra == 0 && n < max) { /* no list at all: one entry */
        struct entry *en = &out[n++];
        textf(en->name, sizeof en->name, "%s/%s: builds", e->ch, e->ex);
        en->qmax = qall;
        en->cls = e->cls;
        sb_printf(&en->out, "%s", sb_str(&e->summary));
        advice(e, en->cls, NULL, &en->advice);
    }
    for (int i = 0; i < n; i++) {
        out[i].q = out[i].ok && !e->cheat ? out[i].qmax : 0;
        out[i].score = out[i].q / 4.0;
        out[i].max = out[i].qmax / 4.0;
    }
    if (e->cheat)
        for (int i = 0; i < n; i++)
            if (out[i].cls == TL_NONE || out[i].ok) {
                out[i].ok = false;
                out[i].cls = TL_CHEAT;
                sb_printf(&out[i].out, "Scored zero: a cheat was detected in this exercise: %s",
                          sb_str(&e->summary));
            }
    e->q = 0;
    for (int i = 0; i < n; i++)
        e->q += out[i].q;
    e->qmax = qall;
    e->score = e->q / 4.0;
    return n;
}

void score(struct report *r)
{
    long q = 0, qmax = 0;
    r->protections = "";
    for (int i = 0; i < r->nex; i++) {
        struct ex *e = &r->ex[i];
        r->nent[i] = entries(e, r->ent[i], MAXT + MAXP);
        if (r->tampered)
            e->q = 0, e->score = 0;
        q += e->q;
        qmax += e->qmax;
        r->score = q / 4.0;
        r->max = qmax / 4.0;
        if (!r->protections[0])
            r->protections = e->protections;
    }
}
