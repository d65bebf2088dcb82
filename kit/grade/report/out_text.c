/*
 * out_text.c - the text for people (stdout: a table, then for every failing
 * exercise its evidence and advice; -b: the table and one failure each), and
 * the machine summary the self-test and soak read (-s).
 *
 * DESIGN: the first lines under an exercise decide: the failing entries whose
 * class is the exercise's come first, then one entry of each other failing
 * pass, so the evidence that names the learner's code is never hidden behind
 * "(N more failing entries)". Everything the submission wrote goes through
 * text_put, which turns control bytes into '?'.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

/* An ANSI colour for the verdicts, only on a terminal and never with NO_COLOR
 * set (https://no-color.org) or TERM=dumb; "" otherwise. */
static const char *colour(const char *code)
{
    static int on = -1;
    if (on < 0) {
        const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
        on = isatty(STDOUT_FILENO) && (nc == NULL || nc[0] == '\0') &&
             !(term != NULL && strcmp(term, "dumb") == 0);
    }
    return on ? code : "";
}
#define GREEN colour("\033[32m")
#define RED colour("\033[31m")
#define YELLOW colour("\033[33m")
#define BOLD colour("\033[1m")
#define PLAIN colour("\033[0m")

#define ENTRY_LINES 30 /* lines of one test's evidence in the terminal */
#define PASS_LINES 14  /* ...and of a whole further pass (often the same evidence again) */

/* "func 1.2s, chaos 0.9s, tsan 3.1s" when grade.sh timed the passes, else "". */
static void pass_times(const struct ex *e, char *out, size_t n)
{
    out[0] = '\0';
    for (int i = 0; i < e->np; i++) {
        if (e->p[i].ms < 0)
            continue;
        size_t used = strlen(out);
        textf(out + used, n - used, "%s%s %.1fs", used ? ", " : "", e->p[i].pass,
              e->p[i].ms / 1000.0);
    }
}

/* Print up to max lines of s, each indented; returns the lines left unprinted. */
static int put_lines(const char *s, const char *indent, int max)
{
    int shown = 0, left = 0;
    while (*s) {
        int len = (int)strcspn(s, "\n");
        if (shown < max) {
            char line[600];
            textf(line, sizeof line, "%s%.*s\n", indent, len < 580 ? len : 580, s);
            text_put(stdout, line);
            shown++;
        } else {
            left++;
        }
        s += len + (s[len] == '\n');
    }
    return left;
}

/* The table row of one exercise. */
/* printf for a line that holds a count: "(1 more failing test ...)", not "1 ... tests". */
__attribute__((format(printf, 1, 2))) static void print_counts(const char *fmt, ...)
{
    char line[5000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    tl_singular(line);
    fputs(line, stdout);
}

static void table_row(const struct ex *e)
{
    char name[200], sc[32], times[300];
    textf(name, sizeof name, "%s/%s", e->ch, e->ex);
    snprintf(sc, sizeof sc, "%.2f/%g", e->score, e->qmax / 4.0); /* quarters: 2 decimals are exact */
    pass_times(e, times, sizeof times);
    if (e->cls == TL_NONE)
        printf("%-40s %9s  %spassed%s (%s) %.1fs\n", name, sc, GREEN, PLAIN,
               times[0] ? times : e->passes, e->ms / 1000.0);
    else
        printf("%-40s %9s  %s%s%s %.1fs\n", name, sc, e->untouched ? YELLOW : RED,
               e->untouched ? "not started" : tl_class_name[e->cls], PLAIN, e->ms / 1000.0);
}

/* The index of the entry to show first for e: its class's, else the first failing. */
static int deciding_entry(const struct report *r, int i)
{
    int first = -1;
    for (int k = 0; k < r->nent[i]; k++) {
        if (r->ent[i][k].ok)
            continue;
        if (r->ent[i][k].cls == r->ex[i].cls)
            return k;
        if (first < 0)
            first = k;
    }
    return first;
}

/* -b: one line of advice under a failing exercise's row. */
static void brief_advice(const struct report *r, int i)
{
    const struct ex *e = &r->ex[i];
    if (e->untouched) {
        printf("    not started: fill in the TODOs of chapters/%s/%s.c (its contract is "
               "%s.h); read book.md \"%s\" first.\n", e->ch, e->ex, e->ex, e->book);
        return;
    }
    if (e->np == 0) { /* did not compile, not submitted, cheat at build time */
        put_lines(sb_str(&e->summary), "    ", 4);
        return;
    }
    int k = deciding_entry(r, i);
    const char *book = k >= 0 && r->ent[i][k].book[0] ? r->ent[i][k].book : e->book;
    if (k >= 0) {
        const struct entry *en = &r->ent[i][k];
        const char *o = sb_str(&en->out), *name = strchr(en->name, ':');
        printf("    first failure: %s\n", name ? name + 2 : en->name);
        /* Its first lines, down to the first that names a source line. */
        for (int l = 0; l < 5 && *o; l++) {
            int len = (int)strcspn(o, "\n");
            char line[400];
            textf(line, sizeof line, "      %.*s\n", len < 390 ? len : 390, o);
            text_put(stdout, line);
            bool where = memmem(o, (size_t)len, ".c:", 3) != NULL;
            o += len + (o[len] == '\n');
            if (where)
                break;
        }
    }
    printf("    %s: %s.\n", tl_class_name[e->cls], tl_class_why[e->cls]);
    if (book[0])
        printf("    Read book.md \"%s\"; hints in %s.\n", book, e->hints);
    if (e->timeline)
        printf("    See your code run: make timeline EX=%s/%s\n", e->ch, e->ex);
}

/* Print entry k of exercise i: its name and evidence (max lines of it). */
static void show_entry(const struct report *r, int i, int k, int max)
{
    const struct entry *en = &r->ent[i][k];
    printf("-- ");
    text_put(stdout, en->name);
    printf("\n");
    int left = put_lines(sb_str(&en->out), "", max);
    if (left > 0)
        printf("   (%d more lines in %s)\n", left, r->opt.results_path);
}

/* The compiler's warnings on the learner's file, when there are any. */
static void show_warnings(const struct ex *e)
{
    if (e->warnings.n == 0)
        return;
    printf("The compiler warns about your code (never fatal, but read them):\n");
    int left = put_lines(sb_str(&e->warnings), "  ", 12);
    if (left > 0)
        print_counts("  (%d more lines: make exercises shows them all)\n", left);
}

/* -b: the compiler's "warning:" lines, at most three. */
static void brief_warnings(const struct ex *e)
{
    int shown = 0;
    for (const char *s = sb_str(&e->warnings); *s && shown < 3;) {
        int len = (int)strcspn(s, "\n");
        if (memmem(s, (size_t)len, "warning:", 8) != NULL) {
            char line[400];
            textf(line, sizeof line, "    %.*s\n", len < 390 ? len : 390, s);
            text_put(stdout, line);
            shown++;
        }
        s += len + (s[len] == '\n');
    }
}

/* Whether every line of an entry's evidence says a test was not run (it
 * would only repeat an earlier hang). */
static bool only_not_run(const struct entry *en)
{
    const char *s = sb_str(&en->out);
    if (*s == '\0')
        return false;
    while (*s) {
        size_t len = strcspn(s, "\n");
        if (len > 0 && memmem(s, len, "not run: ", 9) == NULL)
            return false;
        s += len + (s[len] == '\n');
    }
    return true;
}

/* The evidence of one failing exercise: the deciding entry first, then the
 * other failing functional tests (at most 3 in all), then the first failing
 * entry of every other pass; tests not run after a hang are only counted. */
static void exercise_detail(const struct report *r, int i)
{
    const struct ex *e = &r->ex[i];
    printf("\n%s== %s/%s: %s (%s)%s\n", BOLD, e->ch, e->ex, e->title,
           e->untouched ? "not started" : tl_class_name[e->cls], PLAIN);
    char times[300];
    pass_times(e, times, sizeof times);
    if (times[0])
        printf("Passes: %s.\n", times);
    show_warnings(e);
    if (e->np == 0) { /* nothing ran: say why once, not once per test */
        text_put(stdout, sb_str(&e->summary));
        if (r->nent[i] > 0)
            printf("%s", sb_str(&r->ent[i][0].advice));
        return;
    }
    int first = deciding_entry(r, i), func_shown = 0, hidden = 0, not_run = 0;
    bool shown[MAXT + MAXP] = {false};
    int nfunc = r->nent[i] - (e->np > 1 ? e->np - 1 : 0);
    if (first >= 0) {
        show_entry(r, i, first, ENTRY_LINES);
        shown[first] = true;
        func_shown += first < nfunc;
    }
    for (int k = 0; k < r->nent[i]; k++) {
        if (r->ent[i][k].ok || shown[k])
            continue;
        if (only_not_run(&r->ent[i][k])) {
            not_run++;
            continue;
        }
        if (k < nfunc && func_shown >= 3) {
            hidden++;
            continue;
        }
        show_entry(r, i, k, k < nfunc ? ENTRY_LINES : PASS_LINES);
        func_shown += k < nfunc;
    }
    if (hidden > 0)
        print_counts("-- (%d more failing tests in %s)\n", hidden, r->opt.results_path);
    if (not_run > 0)
        print_counts("-- (%d more entries not run after the hang above)\n", not_run);
    if (first >= 0 && r->ent[i][first].cls == e->cls) {
        printf("%s", sb_str(&r->ent[i][first].advice));
    } else {
        struct sbuf adv = {0};
        advice(e, e->cls, NULL, &adv);
        printf("%s", sb_str(&adv));
        free(adv.s);
    }
}

void write_text(const struct report *r)
{
    printf("\n%-40s %9s  %s\n", "exercise", "score", "verdict");
    printf("%-40s %9s  %s\n", "--------", "-----", "-------");
    for (int i = 0; i < r->nex; i++) {
        table_row(&r->ex[i]);
        char sp[300];
        speed_line(&r->ex[i], sp, sizeof sp);
        if (sp[0] && !r->ex[i].untouched) /* nothing to measure in a skeleton */
            printf("  %s\n", sp);
        if (r->opt.brief)
            brief_warnings(&r->ex[i]);
        if (r->opt.brief && r->ex[i].cls != TL_NONE)
            brief_advice(r, i);
    }
    for (int i = 0; i < r->nex && !r->opt.brief; i++) {
        if (r->ex[i].cls != TL_NONE) {
            exercise_detail(r, i);
        } else if (r->ex[i].warnings.n > 0) {
            printf("\n== %s/%s: %s (passed)\n", r->ex[i].ch, r->ex[i].ex, r->ex[i].title);
            show_warnings(&r->ex[i]);
        }
    }
    if (r->tampered)
        printf("\nThe kit's own files changed while grading (the submission wrote to them, or "
               "someone edited them meanwhile): score set to zero.\n");
    printf("\nTotal: %.2f / %g points in %.1f s", r->tampered ? 0.0 : r->score, r->max,
           r->total_ms / 1000.0);
    if (r->protections[0] && !r->opt.brief)
        printf(" (protections: %s)", r->protections);
    printf(".\nResults: %s\n", r->opt.results_path);
}

/* "<ch>/<ex> <score> <max> <class> chaos=<seed> input=<seed>" per exercise. */
void write_summary(const struct report *r)
{
    FILE *s = fopen(r->opt.summary_path, "w");
    if (s == NULL)
        die("cannot write %s", r->opt.summary_path);
    for (int i = 0; i < r->nex; i++) {
        const struct ex *e = &r->ex[i];
        fprintf(s, "%s/%s %.2f %.2f %s chaos=%s input=%s\n", e->ch, e->ex,
                r->tampered ? 0.0 : e->score, e->qmax / 4.0,
                e->cls == TL_NONE ? "passed" : tl_class_name[e->cls], e->seed[0] ? e->seed : "-",
                e->iseed[0] ? e->iseed : "-");
    }
    fclose(s);
}
