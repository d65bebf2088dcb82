/*
 * report.h - the judge's data model, shared by every file of kit/grade/report/.
 *
 * What it shows: the grader's judgement in the shape Check gives its own
 * reports: the evidence grade.sh collected is loaded once (load.c), judged
 * into verdicts (judge.c, with explain_san.c and explain_hang.c naming what
 * went wrong), scored into entries (score.c), and then each output format has
 * a writer of its own (out_text.c, out_gradescope.c, out_tap.c, out_junit.c,
 * out_classroom.c, out_autolab.c). main.c reads as those steps.
 *
 * DESIGN: everything a writer needs is in struct report; writers only read it.
 * A verdict is never parsed out of what the submission printed: only the
 * secret channel, exit statuses and the sanitizers' own logs count. Text that
 * came from the submission is quoted, and every writer makes it safe for its
 * format (text_put for terminals, json_text for JSON, xml_put for XML).
 */
#ifndef TL_REPORT_H
#define TL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "../../proto/protocol.h"

/* ------------------------------------------------------------ limits */

#define MAXT 64  /* tests per exercise (all files) */
#define MAXP 8   /* passes per exercise */
#define MAXF 8   /* test files per exercise */
#define MAXEX 128

/* ------------------------------------------------------------ strings */

/* A growing string buffer; zero-initialise, free(b.s) when done. */
struct sbuf {
    char *s;
    size_t n, cap;
};

void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *sb_str(const struct sbuf *b); /* "" when empty */

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* snprintf for file paths: a path that does not fit is an error, never cut short. */
void pathf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* snprintf for display text, where cutting a long name short is fine. */
void textf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* At most max bytes of a file, NUL-terminated, NULs made '?'; "" if absent. Caller frees. */
char *slurp(const char *path, size_t max);
/* Value of `key=` in a key=value body into out ("" if absent). */
void kv(const char *body, const char *key, char *out, size_t outsz);
/* Replace every `from` (a build path) in s with `to`, which is no longer. */
void strip_path(char *s, const char *from, const char *to);
/* "negative_numbers_cancel_out" -> "negative numbers cancel out". */
void human(const char *name, char *out, size_t n);

/* Output made safe: text for a terminal (control bytes become '?'), XML text,
 * and a JSON string value holding at most about cap bytes once escaped. */
void text_put(FILE *f, const char *s);
void xml_put(FILE *f, const char *s);
json_t *json_text(const char *s, size_t cap);
/* Write root to path (Jansson, ASCII only); false when it cannot be written. */
bool json_write(json_t *root, const char *path);
/* x rounded to `places` decimals (as printf rounds), as a JSON number. */
json_t *json_num(double x, int places);

/* ------------------------------------------------------------ the model */

enum tl_class cls_worst(enum tl_class a, enum tl_class b); /* the one listed first */

/* One test in one pass. */
struct tres {
    char name[96];
    const char *intent; /* what the test checks (e->f[].intent), NULL if unknown */
    int file;          /* test file index, 1-based */
    bool hidden;
    bool ok;
    enum tl_class cls;
    bool asserted;     /* cls came from the test's own tl_assert() tag */
    bool symptom;      /* cls is a symptom: a hang snapshot, a race with a destroy */
    bool skipped;      /* not run: grade.sh skipped the pass after the functional one hung */
    char book[160];    /* "1.4 Title" when the failing assertion says "(book 1.4)" */
    struct sbuf msg;   /* the evidence, first line deciding */
};

/* One pass (func, chaos, pinned, tsan, asan) over every test file. */
struct pres {
    char pass[16];
    bool ok, skipped;
    long ms;           /* time the pass took, summed over files; -1 unknown */
    enum tl_class cls;
    struct tres t[MAXT];
    int nt;
};

/* One exercise: what meta says, and the verdicts. */
struct ex {
    char ch[64], ex[64], title[160], book[160], hints[200], passes[128], compile[16];
    char seed[32], sseed[32], iseed[32], protections[300], missing[200];
    char dir[4400];      /* WORK/<chapter>/<exercise>/ */
    double points, score;  /* score = q / 4 */
    int q, qmax;           /* the score and the points in quarter points (score.c) */
    long ms;
    enum tl_class cls;
    bool cheat;
    struct sbuf summary;  /* the headline message (compile errors, cheats) */
    struct sbuf warnings; /* the compiler's warnings on the learner's file */
    bool fence;           /* uses a fence ThreadSanitizer cannot model */
    bool untouched;       /* the file is still the kit's skeleton */
    bool timeline;        /* it has a workload: make timeline EX=<ch>/<ex> draws the learner's code */
    /* The speed probe (grade.sh measure_speed), information only, never a
     * score: medians of serial/par and reference par/learner par, 0 when not
     * measured; speed_note says why it was skipped. */
    double speed_serial, speed_ref;
    int speed_runs;
    char speed_note[160];
    struct pres p[MAXP];
    int np;
    int nfiles;           /* the test list, from meta */
    struct {
        char file[128];
        bool hidden;
        char names[MAXT][96];
        char *intent[MAXT]; /* what each test checks (TL_INTENT), NULL if it says nothing */
        int n;
    } f[MAXF];
};

/* One scored line of the outputs: a functional test, or a whole further pass. */
struct entry {
    char name[300];
    int q, qmax;         /* score and maximum in quarter points: exact sums */
    double score, max;   /* q / 4 and qmax / 4 */
    bool ok, hidden;
    struct sbuf out;     /* evidence */
    struct sbuf advice;  /* bug class, book section, hints */
    char book[160];      /* the section advice names ("" when the exercise's) */
    enum tl_class cls;
};

struct options {
    const char *work, *kit, *results_path, *formats, *summary_path;
    bool quiet, brief;
    char results_dir[4096];
};

struct report {
    struct options opt;
    struct ex ex[MAXEX];
    int nex;
    struct entry ent[MAXEX][MAXT + MAXP];
    int nent[MAXEX];
    bool tampered;
    long total_ms;
    double score, max;       /* sums of quarter points, so exact */
    const char *protections; /* the first exercise's, "" if none */
};

/* ------------------------------------------------------------ the steps */

void load(struct report *r);                    /* load.c: every WORK/<ch>/<ex>/meta */
void judge(struct report *r);                   /* judge.c: verdicts of every pass */
void judge_exercise(struct ex *e, const struct options *o);
void score(struct report *r);                   /* score.c: entries and points */
void advice(const struct ex *e, enum tl_class c, const char *book, struct sbuf *b);

/* explain_san.c: the sanitizer logs a test child left, classified and quoted. */
char *san_logs(const char *rundir, const char *prefix, long pid);
enum tl_class san_classify(const char *log, struct sbuf *msg);
/* The call ending an object's life that the log's first race is with, or NULL. */
const char *san_lifetime_race(const char *log);
/* The learner's innermost frame in a sanitizer log ("fn() at file.c:12"), or false. */
bool san_learner_frame(const char *log, char *out, size_t n);
/* gdb's innermost frame of thread lwp that is the program's own code. */
bool gdb_frame(const char *gdb, int lwp, char *out, size_t n);

/* explain_hang.c: one watchdog dump explained, the wait-for graph drawn. */
enum tl_class explain_hang(char **lines, int nlines, const char *bin, const char *bdir,
                           const char *label, const char *gdb, const char *kit,
                           const char *results_dir, struct sbuf *msg);
void hangs_clear(const char *results_dir);

/* The writers: one per format. */
void write_text(const struct report *r);
void write_gradescope(const struct report *r);
void write_summary(const struct report *r);
void write_tap(const struct report *r);
void write_junit(const struct report *r);
void write_classroom(const struct report *r);
void write_autolab(const struct report *r);

/* The speed probe's information line of e into buf, "" when e has none (util.c). */
void speed_line(const struct ex *e, char *buf, size_t n);

#endif /* TL_REPORT_H */
