/*
 * out_autolab.c - Autolab's score line: Autolab reads the last line of the
 * grader's output as {"scores": {problem: points...}, "scoreboard": [...]},
 * one problem per exercise.
 */
#include "report.h"

void write_autolab(const struct report *r)
{
    json_t *scores = json_object();
    for (int i = 0; i < r->nex; i++) {
        char name[200];
        textf(name, sizeof name, "%s/%s", r->ex[i].ch, r->ex[i].ex);
        json_object_set_new(scores, name, json_num(r->tampered ? 0.0 : r->ex[i].score, 2));
    }
    json_t *root = json_pack("{s:o, s:[o]}", "scores", scores, "scoreboard",
                             json_num(r->tampered ? 0.0 : r->score, 2));
    fflush(stdout);
    json_dumpf(root, stdout, JSON_ENSURE_ASCII | JSON_REAL_PRECISION(12));
    putchar('\n');
    json_decref(root);
}
