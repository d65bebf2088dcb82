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
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "report.h"

static const char *pass_title(const char *pass, const struct ex *e, char *buf, size_t n)
{
    if (strcmp(pass, "chaos") == 0)
        textf(buf, n, "all tests with random yields (CHAOS_SEED=%s)", e->seed);
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
    sb_printf(b, "Bug class: %s - %s.\n", tl_class_name[c], tl_class_why[c]);
    const char *sec = book != NULL && book[0] ? book : e->book;
    if (sec[0])
        sb_printf(b, "Read: book.md, section \"%s\". Hints: %s (section \"%s\").\n", sec,
                  e->hints[0] ? e->hints : "HINTS.md", e->ex);
}

/* The entry of functional test i of file k. */
static void test_entry(struct ex *e, int k, int i, int ti, double max, struct entry *en)
{
    char h[100];
    human(e->f[k].names[i], h, sizeof h);
    textf(en->name, sizeof en->name, "%s/%s: %s", e->ch, e->ex, h);
    en->max = max;
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
        sb_printf(&en->out, "%s", sb_str(&t->msg));
    }
    advice(e, en->cls, book, &en->advice);
    textf(en->book, sizeof en->book, "%s", book != NULL ? book : "");
}

/* The entry of a whole further pass p. */
static void pass_entry(struct ex *e, const struct pres *p, double max, struct entry *en)
{
    char buf[200];
    textf(en->name, sizeof en->name, "%s/%s: %s", e->ch, e->ex,
          pass_title(p->pass, e, buf, sizeof buf));
    en->max = max;
    en->ok = p->ok;
    en->cls = p->ok ? TL_NONE : p->cls;
    const char *book = NULL;
    for (int i = 0; i < p->nt; i++) {
        if (p->t[i].ok)
            continue;
        if (book == NULL && p->t[i].cls == p->cls && p->t[i].book[0])
            book = p->t[i].book;
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
    advice(e, en->cls, book, &en->advice);
    textf(en->book, sizeof en->book, "%s", book != NULL ? book : "");
}

/* Score each entry of e into out; returns how many. */
static int entries(struct ex *e, struct entry *out, int max)
{
    int n = 0, extra = e->np > 1 ? e->np - 1 : 0;
    /* The functional tests are listed from the meta file even when nothing ran. */
    int ntests = 0;
    for (int k = 0; k < e->nfiles; k++)
        ntests += e->f[k].n;
    double per_test = ntests > 0 ? e->points * (extra > 0 ? 0.6 : 1.0) / ntests : 0;
    double per_pass = extra > 0 ? e->points * 0.4 / extra : 0;
    int ti = 0;
    for (int k = 0; k < e->nfiles; k++)
        for (int i = 0; i < e->f[k].n && n < max; i++, ti++)
            test_entry(e, k, i, ti, per_test, &out[n++]);
    for (int pi = 1; pi < e->np && n < max; pi++)
        pass_entry(e, &e->p[pi], per_pass, &out[n++]);
    if (e->np == 0 && ntests == 0 && n < max) { /* no test list at all: one entry */
        struct entry *en = &out[n++];
        textf(en->name, sizeof en->name, "%s/%s: builds", e->ch, e->ex);
        en->max = e->points;
        en->cls = e->cls;
        sb_printf(&en->out, "%s", sb_str(&e->summary));
        advice(e, en->cls, NULL, &en->advice);
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

void score(struct report *r)
{
    r->score = r->max = 0;
    r->protections = "";
    for (int i = 0; i < r->nex; i++) {
        struct ex *e = &r->ex[i];
        r->nent[i] = entries(e, r->ent[i], MAXT + MAXP);
        if (r->tampered)
            e->score = 0;
        r->score += e->score;
        r->max += e->points;
        if (!r->protections[0])
            r->protections = e->protections;
    }
}
