/*
 * out_classroom.c - GitHub Classroom's runner format: two result files per
 * exercise beside results.json, classroom-<chapter>-<exercise>-passed.json
 * and ...-failed.json, one for each of the exercise's two runners.
 *
 * DESIGN: GitHub Classroom's grading reporter does its own arithmetic, and it
 * must land on the kit's score. Its table scores a runner as passed tests /
 * tests x max_score (the tests' own scores are ignored there); its "Points"
 * line adds every test's score over the runners whose max_score is not 0.
 * So each exercise is two runners: "passed" holds the entries that passed,
 * with max_score = the points they earned, and "failed" the entries that
 * failed, scored 0, with max_score = the points lost. Both of the reporter's
 * sums then give earned / points exactly: the scores are quarter points
 * (score.c), exact in the reporter's floating point too. A runner is never
 * empty (0/0 would be NaN there): one with no entries holds one line saying
 * so. Every test has line_no 0 (the reporter prints "- line N" for any other
 * value, "undefined" included). Messages are short: the reporter's output is
 * one step output per runner, and the kit's own text in the step's log has
 * the evidence in full.
 */
#include <stdlib.h>

#include "report.h"

#define MSG_CAP 500 /* bytes of a test's message, once escaped */

/* One test line of a runner. */
static json_t *test_json(const char *name, bool pass, double score, const char *msg)
{
    json_t *t = json_object();
    json_object_set_new(t, "name", json_text(name, 300));
    json_object_set_new(t, "status", json_string(pass ? "pass" : "fail"));
    json_object_set_new(t, "score", json_num(score, 2));
    json_object_set_new(t, "line_no", json_integer(0));
    json_object_set_new(t, "message", json_text(msg, MSG_CAP));
    return t;
}

/* The runner of exercise i's passed (want_ok) or failed entries, into path. */
static void write_runner(const struct report *r, int i, bool want_ok, const char *path)
{
    const struct ex *e = &r->ex[i];
    int earned = r->tampered ? 0 : e->q, lost = e->qmax - earned;
    json_t *tests = json_array();
    for (int k = 0; k < r->nent[i]; k++) {
        const struct entry *en = &r->ent[i][k];
        bool ok = en->ok && !r->tampered;
        if (ok != want_ok)
            continue;
        struct sbuf both = {0};
        sb_printf(&both, "%s%s", sb_str(&en->out), sb_str(&en->advice));
        json_array_append_new(tests, test_json(en->name, ok, ok ? en->score : 0, sb_str(&both)));
        free(both.s);
    }
    char name[300], msg[300];
    if (json_array_size(tests) == 0 && want_ok) {
        textf(name, sizeof name, "%s/%s: no points earned yet", e->ch, e->ex);
        textf(msg, sizeof msg, "%s", e->untouched ? "not started: the file is still the skeleton"
                                                  : tl_class_name[e->cls]);
        json_array_append_new(tests, test_json(name, false, 0, msg));
    } else if (json_array_size(tests) == 0) {
        textf(name, sizeof name, "%s/%s: no points lost", e->ch, e->ex);
        json_array_append_new(tests, test_json(name, true, 0, "every test passed"));
    }
    json_t *root = json_object();
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "status", json_string(!want_ok && lost > 0 ? "fail" : "pass"));
    json_object_set_new(root, "max_score", json_num((want_ok ? earned : lost) / 4.0, 2));
    json_object_set_new(root, "tests", tests);
    json_write(root, path); /* best effort, as every extra format */
}

void write_classroom(const struct report *r)
{
    for (int i = 0; i < r->nex; i++) {
        char path[4400];
        pathf(path, sizeof path, "%s/classroom-%s-%s-passed.json", r->opt.results_dir,
              r->ex[i].ch, r->ex[i].ex);
        write_runner(r, i, true, path);
        pathf(path, sizeof path, "%s/classroom-%s-%s-failed.json", r->opt.results_dir,
              r->ex[i].ch, r->ex[i].ex);
        write_runner(r, i, false, path);
    }
}
