/*
 * judge.c - the verdict of every test in every pass, from the secret channel,
 * the exit status and the sanitizers' logs; then each pass's and each
 * exercise's class.
 *
 * DESIGN: a test passes in a pass only when Check's runner reported it passed
 * AND its test child wrote "END <nonce>" after the body returned. A failure is
 * named, most trusted first, by the class tag of the test's own assertion
 * ("[thread-leak] ..."), by a sanitizer's report (exit codes 66/67/68 and its
 * log), by the watchdog's wait-for table (exit code 86) or by the signal or
 * status that ended the test. Classes are in priority order (protocol.def),
 * with one exception, decided in exercise_class(): a class the functional
 * pass's own assertion names is not overridden by a class guessed from a hang
 * in another pass.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

/* What one run folder says about itself (run/<k>.<pass>/info and rc). */
struct run {
    char dir[4400], nonce[80], bin[4200];
    int rc;
    long ms;            /* -1 when grade.sh did not say */
    char *lines[4096];  /* the channel lines carrying this run's nonce */
    int nl;
    size_t nonce_len;
    bool done;          /* the runner wrote DONE */
    int hang_block;     /* watchdog dumps handed out so far */
};

/* The class a failed test's Check message points to; *early is the status of
 * an "Early exit" (-1 if none), *asserted whether a "[class]" tag named it. */
static enum tl_class classify_msg(const char *msg, int *early, bool *asserted)
{
    *early = -1;
    *asserted = false;
    const char *br = strstr(msg, ": [");
    if (br != NULL) {
        const char *end = strchr(br + 3, ']');
        if (end != NULL) {
            enum tl_class c = tl_class_of(br + 3, (size_t)(end - br - 3));
            if (c != TL_NONE) {
                *asserted = true;
                return c;
            }
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
static long test_pid(const struct run *r, const char *name)
{
    long pid = 0;
    size_t nlen = strlen(name);
    for (int i = 0; i < r->nl; i++) {
        const char *rest = r->lines[i] + 6 + r->nonce_len + 1;
        if (tl_tag_of(r->lines[i]) == TL_TAG_BEGIN && strncmp(rest, name, nlen) == 0 &&
            rest[nlen] == ' ')
            sscanf(rest + nlen, " %*d %ld", &pid);
    }
    return pid;
}

/* "(book 1.4)" in an assertion message: the section that explains it, with
 * its title from KIT/book.md ("1.4 Passing arguments") when it has one. */
static void book_ref(const char *m, const char *kit, char *out, size_t n)
{
    out[0] = '\0';
    const char *b = strstr(m, "(book ");
    if (b == NULL)
        return;
    b += 6;
    size_t k = strspn(b, "0123456789.");
    if (k == 0 || b[k] != ')')
        return;
    textf(out, n, "%.*s", (int)k, b);
    char path[4200], head[40];
    pathf(path, sizeof path, "%s/book.md", kit);
    textf(head, sizeof head, "\n### %.*s ", (int)k, b);
    char *book = slurp(path, 4 * 1024 * 1024), *h = strstr(book, head);
    if (h != NULL)
        textf(out, n, "%.*s", (int)strcspn(h + 5, "\n"), h + 5);
    free(book);
}

/* A test ended by a sanitizer: its logs, classified and quoted. */
static void explain_sanitizer(struct tres *t, const struct run *r, int code)
{
    long pid = test_pid(r, t->name);
    char *a = san_logs(r->dir, "tsan", pid), *b = san_logs(r->dir, "asan", pid),
         *c = san_logs(r->dir, "ubsan", pid);
    struct sbuf san = {0}, q = {0};
    sb_printf(&san, "%s\n%s\n%s", a, b, c);
    free(a);
    free(b);
    free(c);
    enum tl_class sc = san_classify(sb_str(&san), &q);
    t->cls = sc != TL_NONE ? sc : TL_CRASH;
    const char *end = t->cls == TL_RACE ? san_lifetime_race(sb_str(&san)) : NULL;
    t->symptom = end != NULL;
    if (q.n > 0)
        sb_printf(&t->msg, "%s reported:\n%s", tl_exit_who(code), sb_str(&q));
    else
        sb_printf(&t->msg, "%s stopped the test (exit status %d) but left no report the grader "
                           "could read\n", tl_exit_who(code), code);
    if (end != NULL)
        sb_printf(&t->msg, "  That is a race with %s(): the object's life ended while another "
                           "thread still used it (a thread that was not joined first?)\n", end);
    free(q.s);
    free(san.s);
}

/* A test the watchdog stopped: its wait-for table explained. */
static void explain_watchdog(struct ex *e, struct pres *p, struct tres *t, struct run *r,
                             const struct options *o)
{
    /* The hang_block-th watchdog dump belongs to this test. */
    char *blk[512];
    int nb = 0, seen = 0;
    for (int i = 0; i < r->nl; i++) {
        if (tl_tag_of(r->lines[i]) != TL_TAG_HANG)
            continue;
        bool end = strstr(r->lines[i] + 5 + r->nonce_len, " END") != NULL;
        if (seen == r->hang_block && !end && nb < 512)
            blk[nb++] = r->lines[i];
        if (end)
            seen++;
    }
    r->hang_block++;
    char label[300];
    textf(label, sizeof label, "%s--%s--%s--%s", e->ch, e->ex, t->name, p->pass);
    char gpath[4500];
    pathf(gpath, sizeof gpath, "%s/scratch/gdb.%ld", r->dir, test_pid(r, t->name));
    char *gdb = slurp(gpath, 512 * 1024);
    t->cls = explain_hang(blk, nb, r->bin, e->dir, label, gdb, o->kit, o->results_dir, &t->msg);
    t->symptom = true;
    free(gdb);
    sb_printf(&t->msg, "  (the watchdog stopped the test before its timeout)\n");
}

/* Why a test failed, from its first failing RES message m (paths stripped). */
static void explain_failure(struct ex *e, struct pres *p, struct tres *t, struct run *r,
                            char *m, const struct options *o)
{
    int early;
    t->cls = classify_msg(m, &early, &t->asserted);
    t->symptom = t->cls == TL_HANG; /* a hang says that, not why */
    book_ref(m, o->kit, t->book, sizeof t->book);
    if (early == TL_EXIT_TSAN || early == TL_EXIT_ASAN || early == TL_EXIT_UBSAN) {
        explain_sanitizer(t, r, early);
    } else if (early == TL_EXIT_WATCHDOG) {
        explain_watchdog(e, p, t, r, o);
    } else if (early >= 0) {
        sb_printf(&t->msg, "the test process exited with status %d in the middle of the "
                           "test (exit() called?)\n", early);
    } else {
        /* "test_x.c:42: [class] message": the class is reported on its own line. */
        char *tag = strstr(m, ": [");
        char *close = tag != NULL ? strstr(tag, "] ") : NULL;
        if (close != NULL && close - tag < 24)
            memmove(tag + 2, close + 2, strlen(close + 2) + 1);
        if (strncmp(m, "-:0: ", 5) == 0)
            memmove(m, m + 5, strlen(m + 5) + 1);
        /* A signal: Check names its last checkpoint, often in the kit's helpers,
         * which is not where the program died; crash_frames() adds that. */
        char *sig = strstr(m, "Received signal");
        if (sig != NULL && strncmp(m, "kit/", 4) == 0)
            memmove(m, sig, strlen(sig) + 1);
        sb_printf(&t->msg, "%s\n", m);
    }
}

/* The verdict of test `name` in run r. */
static void judge_test(struct ex *e, struct pres *p, struct tres *t, struct run *r,
                       const struct options *o)
{
    int res_p = 0, res_f = 0, ends = 0;
    const char *fail_msg = NULL;
    size_t nlen = strlen(t->name);
    for (int i = 0; i < r->nl; i++) {
        const char *rest = r->lines[i] + 4 + r->nonce_len + 1; /* after "XXX nonce " */
        if (strncmp(rest, t->name, nlen) != 0 || rest[nlen] != ' ')
            continue;
        enum tl_tag tag = tl_tag_of(r->lines[i]);
        const char *code = tag == TL_TAG_RES ? strchr(rest + nlen + 1, ' ') : NULL;
        if (tag == TL_TAG_END)
            ends++;
        else if (code != NULL && code[1] == 'P')
            res_p++;
        else if (code != NULL && res_f++ == 0)
            fail_msg = code + 3;
    }
    if (res_f == 0 && res_p > 0 && ends >= res_p) {
        t->ok = true;
    } else if (res_f == 0 && res_p > 0) {
        t->cls = TL_CHEAT;
        sb_printf(&t->msg, "Check reported success, but the test never reached its end: "
                           "the submission ended the test process early (exit() or _exit() "
                           "inside the test?)\n");
        if (!e->cheat)
            sb_printf(&e->summary, "test \"%s\" reported success without reaching its end "
                                   "(exit() or _exit() inside the test)\n", t->name);
        e->cheat = true;
    } else if (fail_msg == NULL) {
        bool wall = r->rc == 124 || r->rc == 137;
        t->cls = wall ? TL_HANG : TL_CRASH;
        t->symptom = wall;
        sb_printf(&t->msg, "%s\n",
                  r->done ? "no result for this test"
                  : wall  ? "the test run was stopped at the wall-clock limit (a hang the "
                            "watchdog could not catch)"
                          : "the test runner died before reporting (killed? exit status in the "
                            "runner?)");
    } else {
        char m[1100], kitdir[4200];
        textf(m, sizeof m, "%s", fail_msg);
        strip_path(m, e->dir, "");
        pathf(kitdir, sizeof kitdir, "%s/", o->kit);
        strip_path(m, kitdir, ""); /* "tests/01-fork-join/test_sum.c:115: ..." */
        explain_failure(e, p, t, r, m, o);
    }
}

/* Keep the channel lines that carry the run's nonce; any other line is forged. */
static void split_channel(struct ex *e, struct run *r, char *sec)
{
    for (char *save = NULL, *l = strtok_r(sec, "\n", &save); l && r->nl < 4096;
         l = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(l, ' ');
        if (sp == NULL || r->nonce_len == 0 || strncmp(sp + 1, r->nonce, r->nonce_len) != 0 ||
            (sp[1 + r->nonce_len] != ' ' && sp[1 + r->nonce_len] != '\0')) {
            if (!e->cheat)
                sb_printf(&e->summary, "the submission wrote forged lines into the grader's "
                                       "private channel\n");
            e->cheat = true;
            e->cls = TL_CHEAT;
            continue;
        }
        r->lines[r->nl++] = l;
        if (tl_tag_of(l) == TL_TAG_DONE)
            r->done = true;
        if (tl_tag_of(l) == TL_TAG_STRAY && !e->cheat) {
            e->cheat = true;
            e->cls = TL_CHEAT;
            sb_printf(&e->summary, "the submission left %s process(es) running after the tests "
                                   "(they escaped the test's process group)\n",
                      l + 6 + r->nonce_len + 1);
        }
    }
}

/* Read run/<k>.<pass>/{info,rc,protections}. */
static void read_run(struct ex *e, struct run *r)
{
    char path[4500], buf[64];
    pathf(path, sizeof path, "%s/info", r->dir);
    char *info = slurp(path, 16 * 1024);
    kv(info, "nonce", r->nonce, sizeof r->nonce);
    kv(info, "bin", r->bin, sizeof r->bin);
    kv(info, "ms", buf, sizeof buf);
    r->ms = buf[0] ? atol(buf) : -1;
    free(info);
    r->nonce_len = strlen(r->nonce);
    pathf(path, sizeof path, "%s/rc", r->dir);
    char *rcs = slurp(path, 64);
    r->rc = atoi(rcs);
    free(rcs);
    pathf(path, sizeof path, "%s/protections", r->dir);
    char *prot = slurp(path, 1024);
    prot[strcspn(prot, "\n")] = '\0';
    if (prot[0])
        snprintf(e->protections, sizeof e->protections, "%s", prot);
    free(prot);
}

/* A new test result in p for test fi of file k (the last slot is reused when full). */
static struct tres *new_test(struct ex *e, struct pres *p, int k, int fi)
{
    struct tres *t = &p->t[p->nt < MAXT ? p->nt : MAXT - 1];
    if (p->nt < MAXT)
        p->nt++;
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", e->f[k - 1].names[fi]);
    t->intent = e->f[k - 1].intent[fi];
    t->file = k;
    t->hidden = e->f[k - 1].hidden;
    t->cls = TL_NONE;
    return t;
}

/* Every test of test file k in pass p. */
static void judge_pass(struct ex *e, struct pres *p, int k, const struct options *o)
{
    static struct run r; /* large; judge runs one pass at a time */
    memset(&r, 0, sizeof r);
    pathf(r.dir, sizeof r.dir, "%srun/%d.%s", e->dir, k, p->pass);
    read_run(e, &r);
    if (r.ms >= 0)
        p->ms = (p->ms < 0 ? 0 : p->ms) + r.ms;
    char path[4500];
    pathf(path, sizeof path, "%s/skipped", r.dir);
    if (access(path, F_OK) == 0) {
        p->skipped = true;
        for (int fi = 0; fi < e->f[k - 1].n; fi++) {
            struct tres *t = new_test(e, p, k, fi);
            t->hidden = false;
            t->cls = TL_HANG;
            t->symptom = true;
            t->skipped = true;
            sb_printf(&t->msg, "not run: the functional pass already hung\n");
        }
        return;
    }
    pathf(path, sizeof path, "%s/secret", r.dir);
    char *sec = slurp(path, 2 * 1024 * 1024);
    split_channel(e, &r, sec);
    for (int fi = 0; fi < e->f[k - 1].n; fi++)
        judge_test(e, p, new_test(e, p, k, fi), &r, o);
    free(sec);
}

/* A class that says what is wrong, not only that something is: wrong-result,
 * hang and crash say what happened, not why. */
static bool specific(enum tl_class c)
{
    return c != TL_WRONG && c != TL_HANG && c != TL_CRASH;
}

/* The exercise's class: the first listed of its failing tests' classes, except
 * that when a test's own assertion names a specific class (in any pass), the
 * symptoms seen elsewhere (a hang, a race with a destroy) no longer count: a
 * test that checked "the tasks ran in parallel" or "every worker was joined"
 * and says no is more specific than threads that later got stuck, or
 * a detached thread that later touched a destroyed mutex. */
static enum tl_class exercise_class(struct ex *e)
{
    bool said = false;
    for (int i = 0; i < e->np; i++)
        for (int k = 0; k < e->p[i].nt; k++)
            said = said || (!e->p[i].t[k].ok && e->p[i].t[k].asserted && specific(e->p[i].t[k].cls));
    enum tl_class all = TL_NONE, firm = TL_NONE;
    for (int i = 0; i < e->np; i++) {
        struct pres *p = &e->p[i];
        enum tl_class pall = TL_NONE, pfirm = TL_NONE;
        for (int k = 0; k < p->nt; k++) {
            if (p->t[k].ok)
                continue;
            pall = cls_worst(pall, p->t[k].cls);
            if (!p->t[k].symptom)
                pfirm = cls_worst(pfirm, p->t[k].cls);
        }
        p->cls = said && pfirm != TL_NONE ? pfirm : pall; /* the pass's entry says the same */
        all = cls_worst(all, pall);
        firm = cls_worst(firm, pfirm);
    }
    return said && firm != TL_NONE ? firm : all;
}

/* The first line of msg that names a frame of the learner's code, as the
 * sanitizer digests write them ("      worker() at pool.c:42"), with the
 * frame under it ("..., called from ..."), into out. */
static bool learner_line(const char *msg, char *out, size_t n)
{
    bool found = false;
    for (const char *p = msg; *p;) {
        size_t len = strcspn(p, "\n");
        const char *t = p + strspn(p, " ");
        char line[400];
        textf(line, sizeof line, "%.*s", (int)(len - (size_t)(t - p)), t);
        const char *at = strstr(line, "() at ");
        bool mine = at != NULL && strstr(at, ".c:") != NULL && strncmp(at + 6, "test_", 5) != 0 &&
                    strncmp(at + 6, "workload_", 9) != 0 && strncmp(at + 6, "tltest.h", 8) != 0;
        if (found) { /* the caller, when the next line is a frame too */
            if (at != NULL) {
                size_t used = strlen(out);
                textf(out + used, n - used, ", called from %s", line);
            }
            return true;
        }
        if (mine) {
            textf(out, n, "%s", line);
            found = true;
        }
        p += len + (p[len] == '\n');
    }
    return found;
}

/* A test that died of a signal has no stack of its own (Check only knows its
 * last checkpoint); the same test under a sanitizer often has one. Point at
 * the learner's frame from there. */
static void crash_frames(struct ex *e)
{
    for (int i = 0; i < e->np; i++)
        for (int k = 0; k < e->p[i].nt; k++) {
            struct tres *t = &e->p[i].t[k];
            if (t->ok || strstr(sb_str(&t->msg), "Received signal") == NULL)
                continue;
            char fr[400];
            for (int j = 0; j < e->np; j++) {
                const char *who = strcmp(e->p[j].pass, "tsan") == 0   ? "ThreadSanitizer"
                                  : strcmp(e->p[j].pass, "asan") == 0 ? "AddressSanitizer"
                                                                      : NULL;
                for (int q = 0; who != NULL && q < e->p[j].nt; q++)
                    if (strcmp(e->p[j].t[q].name, t->name) == 0 && !e->p[j].t[q].ok &&
                        learner_line(sb_str(&e->p[j].t[q].msg), fr, sizeof fr)) {
                        sb_printf(&t->msg, "  in your code: %s (the stack %s showed for this "
                                           "test)\n", fr, who);
                        who = NULL;
                        j = e->np;
                    }
            }
        }
}

/* The headline of an exercise that did not build or was not submitted. */
static void judge_unbuilt(struct ex *e)
{
    if (strcmp(e->compile, "untouched") == 0) { /* a skeleton: its tests were not run */
        e->cls = TL_WRONG;
        sb_printf(&e->summary, "not started: chapters/%s/%s.c is still the kit's skeleton\n", e->ch,
                  e->ex);
        return;
    }
    char path[4500];
    bool cheat = strcmp(e->compile, "cheat") == 0;
    if (strcmp(e->compile, "kit") == 0) /* the tests' own build failed: compile.log says why */
        sb_printf(&e->summary, "the tests of this exercise do not compile: a fault of the kit or of "
                               "the instructor's hidden tests, not of your code. Tell whoever runs "
                               "the course; the compiler said:\n");
    pathf(path, sizeof path, "%s%s", e->dir, cheat ? "cheat.log" : "compile.log");
    char *log = slurp(path, 64 * 1024);
    bool missing = strcmp(e->compile, "missing") == 0 || strncmp(log, "missing file: ", 14) == 0;
    e->cls = cheat ? TL_CHEAT : missing ? TL_MISSING : TL_COMPILE;
    e->cheat = cheat;
    if (missing) {
        if (e->missing[0] == '\0') /* "missing file: CH/EX.c was not in the submission" */
            textf(e->missing, sizeof e->missing, "%.*s", (int)strcspn(log + 14, " \n"), log + 14);
        sb_printf(&e->summary, "not submitted: %s\n", e->missing);
        free(log);
        return;
    }
    strip_path(log, e->dir, "");
    int lines = 0;
    for (char *p = log; *p; p++)
        if (*p == '\n' && ++lines == 25) {
            p[1] = '\0';
            break;
        }
    sb_printf(&e->summary, "%s", log[0] ? log : "(no compiler output)\n");
    free(log);
}

/* The compiler's warnings on the learner's files (never fatal; shown). */
static void load_warnings(struct ex *e)
{
    char path[4500];
    pathf(path, sizeof path, "%swarnings.log", e->dir);
    char *w = slurp(path, 16 * 1024);
    strip_path(w, e->dir, "");
    int lines = 0;
    for (char *p = w; *p; p++)
        if (*p == '\n' && ++lines == 20) {
            p[1] = '\0';
            break;
        }
    if (strstr(w, "warning:") != NULL)
        sb_printf(&e->warnings, "%s", w);
    free(w);
}

void judge_exercise(struct ex *e, const struct options *o)
{
    e->cls = TL_NONE;
    if (strcmp(e->compile, "ok") != 0) {
        judge_unbuilt(e);
        return;
    }
    load_warnings(e);
    /* gcc says so when it builds the TSan variant (-Wtsan). */
    char path[4500];
    pathf(path, sizeof path, "%scompile.tsan.log", e->dir);
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
        p->ms = -1;
        for (int k = 1; k <= e->nfiles; k++)
            judge_pass(e, p, k, o);
        p->ok = p->nt > 0;
        for (int i = 0; i < p->nt; i++)
            p->ok = p->ok && p->t[i].ok;
    }
    crash_frames(e);
    enum tl_class c = exercise_class(e);
    e->cls = cls_worst(e->cls, c); /* a cheat found on the channel stays */
}

void judge(struct report *r)
{
    hangs_clear(r->opt.results_dir);
    for (int i = 0; i < r->nex; i++)
        judge_exercise(&r->ex[i], &r->opt);
}
