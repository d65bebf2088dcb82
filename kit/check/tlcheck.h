/*
 * tlcheck.h - Check, made fit for grading untrusted code.
 *
 * What it shows: how a test file for an exercise is written. Include this
 * header (it includes <check.h> and tlwrap.h), write tests with TL_TEST, list
 * them in an array named tl_tests, and end the file with TL_MAIN("chapter/ex"):
 *
 *     TL_TEST(splits_the_remainder) {
 *         long s = sum(a, 10, 3);
 *         tl_assert(s == 45, TL_WRONG, "sum of 0..9 on 3 threads: got %ld", s);
 *     }
 *     static const struct tl_test tl_tests[] = { TL_RUN(splits_the_remainder) };
 *     TL_MAIN("01-fork-join/sum")
 *
 * The test's name becomes the human name with '_' read as ' '
 * ("01-fork-join/sum: splits the remainder").
 *
 * DESIGN: Check's fork mode reports a test child that calls exit(0) as passed,
 * and everything the submission prints is under its control. So the verdict
 * does not come from Check's output. When the grader runs a test binary it
 * passes TL_GRADER=<fd>:<nonce>; a constructor here reads and wipes it before
 * the learner's code can look. Each test child writes "END <nonce> <test>"
 * to that fd after the test body returns, and the runner writes Check's
 * result for every test ("RES <nonce> ..."). The grader counts a test as
 * passed only with both. Everything here is static, so the learner's file
 * (a separate translation unit) cannot call it.
 *
 * Each test child also arms a watchdog (tlwrap.c) that, shortly before
 * Check's timeout, writes who holds and who waits for what, so a hang can
 * be explained instead of just reported.
 *
 * Run a test binary by hand to see each failure and a "N passed, N failed"
 * line; CK_FORK=no runs the tests in one process for gdb.
 */
#ifndef TL_CHECK_H
#define TL_CHECK_H

#define _GNU_SOURCE
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../proto/protocol.h"
#include "../wrap/tlwrap.h"

/* Set by the last bounded wait of this thread (tltest.h) when it gave up before
 * its bound because every other thread was stuck for good (tl_stuck()): the
 * failure message then says so, since "not within N s" undersells "never". */
static _Thread_local bool tl__gave_up_stuck;

/* The message of a failed assertion, formatted (only evaluated on failure). */
__attribute__((format(printf, 1, 2))) static inline const char *tl__fmt(const char *fmt, ...)
{
    static _Thread_local char buf[900];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    tl_singular(buf); /* "1 threads created" -> "1 thread created" */
    if (tl__gave_up_stuck && n >= 0 && (size_t)n < sizeof buf)
        snprintf(buf + n, sizeof buf - (size_t)n, "%s",
                 " (the test stopped waiting early: every other thread was blocked, with no one "
                 "left to wake it, so it would never have happened)");
    return buf;
}

/* Fail the test unless cond holds; the message starts with the bug class, one of
 * kit/proto/protocol.def's TL_CLASS names: TL_WRONG, TL_RACE, TL_LOST_WAKEUP...
 * A check that holds costs one comparison: Check is called only on failure.
 * (ck_assert_msg would call _mark_point each time, which formats nothing but
 * takes Check's lock: slow in a hot loop, delayed in the chaos pass, and a
 * happens-before edge between the test's threads that could hide a race from
 * ThreadSanitizer.) */
#define tl_assert(cond, cls, ...)                                                                 \
    do {                                                                                          \
        if (!(cond))                                                                              \
            ck_assert_msg(0, "[%s] %s", tl_class_name[(cls)], tl__fmt(__VA_ARGS__));              \
    } while (0)

/* Define a test; its body sees `_i`, the loop iteration. */
#define TL_TEST(fn)                                                                   \
    static void fn##_body(int _i);                                                    \
    static void fn##_fn(int _i)                                                       \
    {                                                                                 \
        tl__test_begin(#fn, _i);                                                      \
        fn##_body(_i);                                                                \
        tl__test_end(#fn, _i);                                                        \
    }                                                                                 \
    static const TTest fn##_ttest = {#fn, fn##_fn, __FILE__, __LINE__};               \
    static const char *fn##_intent;                                                   \
    static void fn##_body(int _i __attribute__((unused)))

/* What test fn checks, in one sentence written for a student; declare it next
 * to the test, before or after TL_TEST(fn):
 *
 *     TL_INTENT(splits_the_remainder, "The sum is right when the threads "
 *               "do not divide the array evenly.");
 *
 * The grader prints it above the evidence of a failure ("What it checks: ...").
 * A test without one still runs and is graded (TL_TEST's tentative definition
 * leaves the pointer NULL); the kit's self-test wants one on every kit test. */
#define TL_INTENT(fn, sentence) static const char *fn##_intent = (sentence)

struct tl_test {
    const TTest *test;
    int iterations;  /* Check loop test 0..iterations-1; prefer loops inside the body */
    double timeout;  /* seconds before scaling; 0 = TL_TIMEOUT or 4 */
    const char *const *intent; /* *intent: TL_INTENT's sentence, or NULL */
};
#define TL_RUN(fn) {&fn##_ttest, 1, 0, &fn##_intent}
#define TL_RUN_TIMEOUT(fn, secs) {&fn##_ttest, 1, (secs), &fn##_intent}
#define TL_LOOP(fn, n) {&fn##_ttest, (n), 0, &fn##_intent}

#define TL_MAIN(suite_name)                                                           \
    int main(int argc, char **argv)                                                   \
    {                                                                                 \
        size_t n_ = sizeof tl_tests / sizeof tl_tests[0];                             \
        if (argc > 1 && strcmp(argv[1], "--list") == 0)                               \
            return tl__list(tl_tests, n_);                                            \
        if (argc > 1 && strcmp(argv[1], "--intents") == 0)                            \
            return tl__intents(tl_tests, n_);                                         \
        return tl__main((suite_name), tl_tests, n_);                                  \
    }

/* ---------------------------------------------------------------- inputs */

static uint64_t tl__input_seed;

/* A seed for test inputs: TL_INPUT_SEED if set, else random, fixed per run.
 * Tests build their data from it so that no hard-coded answer passes. */
static inline uint64_t tl_input_seed(void)
{
    if (tl__input_seed == 0) {
        const char *e = getenv("TL_INPUT_SEED");
        if (e != NULL)
            tl__input_seed = strtoull(e, NULL, 10);
        while (tl__input_seed == 0)
            if (getrandom(&tl__input_seed, sizeof tl__input_seed, 0) < 0)
                tl__input_seed = 12345;
    }
    return tl__input_seed;
}

/* Next value of a small PRNG (splitmix64) on *state. */
static inline uint64_t tl_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* ----------------------------------------------------- the grader's channel */

static int tl__fd = -1;           /* where END/RES lines go; -1 when run by hand */
static char tl__nonce[80];
static double tl__scale = 1.0;    /* CK_TIMEOUT_MULTIPLIER */

__attribute__((constructor(101))) static void tl__take_secret(void)
{
    extern char **environ;
    for (char **e = environ; *e != NULL; e++) {
        if (strncmp(*e, "TL_GRADER=", 10) != 0)
            continue;
        char *val = *e + 10, *colon = strchr(val, ':');
        if (colon != NULL && strlen(colon + 1) < sizeof tl__nonce) {
            tl__fd = atoi(val);
            strcpy(tl__nonce, colon + 1);
            fcntl(tl__fd, F_SETFD, FD_CLOEXEC);
        }
        memset(val, 'x', strlen(val)); /* also wipes /proc/self/environ's copy */
    }
    unsetenv("TL_GRADER");
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    if (m != NULL && atof(m) > 0)
        tl__scale = atof(m);
}

static double tl__timeout_of(const struct tl_test *t)
{
    if (t->timeout > 0)
        return t->timeout;
    const char *e = getenv("TL_TIMEOUT");
    return e != NULL && atof(e) > 0 ? atof(e) : 4.0;
}

static const struct tl_test *tl__tests; /* set by tl__main() before any fork */
static size_t tl__ntests;

/* The timeout of the test called name, in seconds before scaling. */
static double tl__timeout_named(const char *name)
{
    for (size_t i = 0; i < tl__ntests; i++)
        if (strcmp(tl__tests[i].test->name, name) == 0)
            return tl__timeout_of(&tl__tests[i]);
    return 4.0;
}

/* Check's own timer is only a backstop. The watchdog in each test child fires
 * at the test's timeout (scaled) and writes the wait-for table and gdb's stacks;
 * Check's timer fires this many seconds (scaled too) later, so that on a loaded
 * machine it never cuts the explanation short and turns a lost wake-up into a
 * bare "timeout". */
#define TL__CHECK_MARGIN_S 5.0

/* When the watchdog of a test whose timeout is timeout_s fires, in seconds from its start. */
static inline double tl__watchdog_at(double timeout_s)
{
    return timeout_s * tl__scale;
}

static void tl__write_line(const char *s)
{
    size_t n = strlen(s);
    if (tl__fd >= 0 && write(tl__fd, s, n) != (ssize_t)n)
        _exit(TL_EXIT_CHANNEL);
}

static void tl__test_begin(const char *name, int iter)
{
    /* The pid names this child's sanitizer logs (log_path=DIR/tsan -> tsan.PID). */
    char line[256];
    snprintf(line, sizeof line, "%s %s %s %d %ld\n", tl_tag_name[TL_TAG_BEGIN], tl__nonce, name, iter, (long)getpid());
    tl__write_line(line);
    tl_counts_reset();
    tl_sched_begin(name);
    double at = tl__watchdog_at(tl__timeout_named(name));
    char tag[96];
    snprintf(tag, sizeof tag, "%s", tl__fd >= 0 ? tl__nonce : "local");
    tl_watchdog_arm(at, tl__fd >= 0 ? tl__fd : 2, tag, TL_EXIT_WATCHDOG);
}

static void tl__test_end(const char *name, int iter)
{
    char line[256];
    snprintf(line, sizeof line, "%s %s %s %d\n", tl_tag_name[TL_TAG_END], tl__nonce, name, iter);
    tl__write_line(line);
}

/* What one process in /proc is, as "comm:state:pid" in out, when it counts as a
 * stray: alive, not exiting (no SIGKILL pending, no PF_EXITING, not Z or X) and
 * not the kit's own gdb (started by the watchdog in kit/wrap/tlwrap.c).
 * Returns 1 for a stray, 0 otherwise. Reads /proc only; never blocks. */
static int tl__stray_what(long pid, const char *gdb, char *out, size_t outsz)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
        return 0;
    buf[len] = '\0';
    char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
    if (open_paren == NULL || close_paren == NULL || close_paren < open_paren)
        return 0;
    char state = '?';
    unsigned long flags = 0;
    /* after ")": state ppid pgrp session tty_nr tpgid flags */
    if (sscanf(close_paren + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) < 1)
        return 0;
    if (state == 'Z' || state == 'X' || state == 'x' || (flags & 0x4) != 0) /* 0x4: PF_EXITING */
        return 0;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        int dying = 0;
        while (fgets(buf + 512, 500, f) != NULL) {
            unsigned long long mask;
            if ((sscanf(buf + 512, "SigPnd: %llx", &mask) == 1 || sscanf(buf + 512, "ShdPnd: %llx", &mask) == 1) &&
                (mask & (1ull << (SIGKILL - 1))) != 0)
                dying = 1;
        }
        fclose(f);
        if (dying)
            return 0;
    }
    if (gdb != NULL && *gdb != '\0') {
        char exe[512];
        snprintf(path, sizeof path, "/proc/%ld/exe", pid);
        ssize_t n = readlink(path, exe, sizeof exe - 1);
        char *real = realpath(gdb, NULL);
        int is_gdb = n > 0 && real != NULL && (size_t)n == strlen(real) && memcmp(exe, real, (size_t)n) == 0;
        free(real);
        if (is_gdb)
            return 0;
    }
    /* The name is the submission's to choose: keep it to safe characters. */
    char comm[32];
    size_t k = 0;
    for (const char *p = open_paren + 1; p < close_paren && k < sizeof comm - 1; p++)
        comm[k++] = (isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.') ? *p : '?';
    comm[k] = '\0';
    snprintf(out, outsz, "%s:%c:%ld", k > 0 ? comm : "?", state, pid);
    return 1;
}

/* Whether the process pid came from this box: in a PID namespace (we are pid 1)
 * every other process did; elsewhere those whose environment carries `want`
 * (the sandbox's TL_BOX marker). */
static int tl__in_box(long pid, const char *want)
{
    if (getpid() == 1)
        return 1;
    if (want[0] == '\0')
        return 0;
    char path[64], env[8192];
    snprintf(path, sizeof path, "/proc/%ld/environ", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t len = read(fd, env, sizeof env - 1);
    close(fd);
    if (len <= 0)
        return 0;
    env[len] = '\0';
    for (ssize_t i = 0; i < len; i += (ssize_t)strlen(env + i) + 1)
        if (strcmp(env + i, want) == 0)
            return 1;
    return 0;
}

/* Count the strays now, describing the first few in what (space-separated). */
static int tl__strays_now(const char *want, char *what, size_t whatsz)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    const char *gdb = getenv("TL_GDB");
    int n = 0;
    size_t used = 0;
    what[0] = '\0';
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid = atol(e->d_name);
        char one[64];
        if (pid <= 0 || pid == (long)getpid() || !tl__in_box(pid, want) ||
            !tl__stray_what(pid, gdb, one, sizeof one))
            continue;
        if (n++ < 4 && used + strlen(one) + 2 < whatsz)
            used += (size_t)snprintf(what + used, whatsz - used, "%s%s", used ? " " : "", one);
    }
    closedir(d);
    return n;
}

/* Processes the submission left running: still alive after a grace period in
 * which this runner reaps every orphan (as pid 1 of a PID namespace it inherits
 * them all) and killed processes finish exiting. Check kills each test's process
 * group, so anything left escaped it on purpose (setsid). Returns the count and
 * describes the first few in what as "comm:state:pid". Waits at most the grace
 * period (2 s, scaled like the tests' timeouts), and not at all when none is left. */
static int tl__strays(char *what, size_t whatsz)
{
    const char *box = getenv("TL_BOX");
    char want[128] = "";
    if (box != NULL)
        snprintf(want, sizeof want, "TL_BOX=%s", box);
    int rounds = (int)(10 * 2.0 * tl__scale); /* 100 ms each */
    for (int r = 0;; r++) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        int n = tl__strays_now(want, what, whatsz);
        if (n == 0 || r >= rounds)
            return n;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* `test_binary --list`: the names of the tests, one a line, in the order they run.
 * The grader learns a test file's tests this way, never by reading its source. */
static int tl__list(const struct tl_test *tests, size_t n)
{
    for (size_t t = 0; t < n; t++)
        printf("%s\n", tests[t].test->name);
    return 0;
}

/* `test_binary --intents`: "<name>\t<sentence>" for each test, in the order
 * they run ("<name>\t" when it has no TL_INTENT); control characters in a
 * sentence are printed as spaces, so that each test stays on one line. */
static int tl__intents(const struct tl_test *tests, size_t n)
{
    for (size_t t = 0; t < n; t++) {
        const char *s = tests[t].intent != NULL ? *tests[t].intent : NULL;
        printf("%s\t", tests[t].test->name);
        for (; s != NULL && *s; s++)
            putchar(iscntrl((unsigned char)*s) ? ' ' : *s);
        putchar('\n');
    }
    return 0;
}

/* Runs each test in a runner of its own, in fork mode, and reports every
 * result on the secret channel (or, run by hand, on stdout). After a test
 * hangs, the rest are reported as not run: they would most likely hang too,
 * and each hang costs a whole timeout. Returns the process exit status. */
static int tl__main(const char *suite_name, const struct tl_test *tests, size_t n)
{
    tl__tests = tests;
    tl__ntests = n;
    int failed = 0, total = 0;
    const char *hung = NULL;
    for (size_t t = 0; t < n; t++) {
        const char *name = tests[t].test->name;
        char line[1400];
        if (hung != NULL) {
            total++;
            failed++;
            snprintf(line, sizeof line, "%s %s %s 0 E -:0: [%s] not run: test %s hung before it\n",
                     tl_tag_name[TL_TAG_RES], tl__nonce, name, tl_class_name[TL_HANG], hung);
            tl__write_line(line);
            if (tl__fd < 0)
                printf("%s: not run (test %s hung)\n", name, hung);
            continue;
        }
        Suite *s = suite_create(suite_name);
        TCase *tc = tcase_create(name);
        tcase_set_timeout(tc, tl__timeout_of(&tests[t]) + TL__CHECK_MARGIN_S);
        _tcase_add_test(tc, tests[t].test, 0, 0, 0, tests[t].iterations);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        if (tl__fd >= 0)
            srunner_set_fork_status(sr, CK_FORK); /* never trust CK_FORK=no while grading */
        srunner_run_all(sr, CK_SILENT);
        TestResult **r = srunner_results(sr);
        int nr = srunner_ntests_run(sr);
        for (int i = 0; i < nr; i++) {
            int rt = tr_rtype(r[i]);
            char code = rt == CK_PASS ? 'P' : rt == CK_FAILURE ? 'F' : 'E';
            total++;
            failed += code != 'P';
            char msg[1000];
            snprintf(msg, sizeof msg, "%s", tr_msg(r[i]) ? tr_msg(r[i]) : "");
            for (char *p = msg; *p; p++)
                if (*p == '\n' || *p == '\r')
                    *p = ' ';
            char watchdog[64];
            snprintf(watchdog, sizeof watchdog, "Early exit with return value %d", TL_EXIT_WATCHDOG);
            if (strstr(msg, watchdog) != NULL || strstr(msg, "Test timeout expired") != NULL)
                hung = name;
            snprintf(line, sizeof line, "%s %s %s %d %c %s:%d: %s\n", tl_tag_name[TL_TAG_RES], tl__nonce, name, i, code,
                     tr_lfile(r[i]) ? tr_lfile(r[i]) : "?", tr_lno(r[i]), msg);
            tl__write_line(line);
            if (tl__fd < 0 && code != 'P')
                printf("%s:%d: %s: %s\n", tr_lfile(r[i]) ? tr_lfile(r[i]) : "?", tr_lno(r[i]),
                       name, msg);
        }
        free(r);
        srunner_free(sr);
    }
    if (tl__fd >= 0) {
        char stray[512], what[300];
        int n_stray = tl__strays(what, sizeof what);
        snprintf(stray, sizeof stray, "%s %s %d %s\n", tl_tag_name[TL_TAG_STRAY], tl__nonce, n_stray, what);
        if (n_stray > 0)
            tl__write_line(stray);
        if (hung != NULL) {
            snprintf(stray, sizeof stray, "%s %s %s\n", tl_tag_name[TL_TAG_HUNG], tl__nonce, hung);
            tl__write_line(stray);
        }
    }
    char done[160];
    snprintf(done, sizeof done, "%s %s %d\n", tl_tag_name[TL_TAG_DONE], tl__nonce, total);
    tl__write_line(done);
    if (tl__fd < 0)
        printf("%s: %d passed, %d failed\n", suite_name, total - failed, failed);
    return failed == 0 ? 0 : 1;
}

#endif /* TL_CHECK_H */
