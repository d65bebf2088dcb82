/*
 * out_gradescope.c - results.json in Gradescope's format, built with Jansson.
 *
 * DESIGN: the file must stay under Gradescope's 1 MB whatever a hostile
 * submission prints, so each test's output is capped before it goes into the
 * tree (json_text counts the bytes each character takes once escaped): about
 * 700 kB spread over the entries, at most 6000 bytes each. The default
 * separators (", " and ": ") keep each test on one line of the form
 * {"name": "...", "score": 3.25, ...}, which the kit's self-test greps.
 * The tests are a fixed list per exercise with fixed maxima (score.c), so
 * Gradescope's per-question statistics line up across submissions; what
 * changes from run to run (seeds, which files were not submitted) is said in
 * the output.
 */
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* One test entry: name, score, max_score, status, tags, [visibility], output. */
static json_t *test_json(const struct report *r, const struct entry *en, size_t cap)
{
    json_t *t = json_object();
    json_object_set_new(t, "name", json_text(en->name, 300));
    json_object_set_new(t, "score", json_num(r->tampered ? 0.0 : en->score, 2));
    json_object_set_new(t, "max_score", json_num(en->max, 2));
    json_object_set_new(t, "status", json_string(en->ok && !r->tampered ? "passed" : "failed"));
    json_t *tags = json_array();
    json_array_append_new(tags,
                          json_string(en->cls == TL_NONE ? "passed" : tl_class_name[en->cls]));
    json_object_set_new(t, "tags", tags);
    if (en->hidden)
        json_object_set_new(t, "visibility", json_string("after_due_date"));
    struct sbuf both = {0};
    sb_printf(&both, "%s%s", sb_str(&en->out), sb_str(&en->advice));
    json_object_set_new(t, "output", json_text(sb_str(&both), cap));
    free(both.s);
    return t;
}

void write_gradescope(const struct report *r)
{
    size_t nall = 1;
    for (int i = 0; i < r->nex; i++)
        nall += (size_t)r->nent[i];
    size_t per_out = 700000 / nall; /* every entry's output together stays well under 1 MB */
    if (per_out > 6000)
        per_out = 6000;
    json_t *root = json_object();
    json_object_set_new(root, "score", json_num(r->tampered ? 0.0 : r->score, 2));
    json_object_set_new(root, "execution_time", json_num(r->total_ms / 1000.0, 1));
    json_object_set_new(root, "output_format", json_string("text"));
    struct sbuf o = {0};
    sb_printf(&o, "threadlab: %.2f / %g points, %d exercises graded in %.1f s.\n",
              r->tampered ? 0.0 : r->score, r->max, r->nex, r->total_ms / 1000.0);
    tl_singular(o.s); /* "1 exercises graded" -> "1 exercise graded" */
    const char *sep = "Not submitted (scored 0): ";
    for (int i = 0; i < r->nex; i++)
        if (r->ex[i].cls == TL_MISSING) {
            sb_printf(&o, "%s%s", sep, r->ex[i].missing[0] ? r->ex[i].missing : r->ex[i].ex);
            sep = ", ";
        }
    if (sep[0] == ',')
        sb_printf(&o, ".\n");
    sep = "Not started (still the skeleton): ";
    for (int i = 0; i < r->nex; i++)
        if (r->ex[i].untouched) {
            sb_printf(&o, "%s%s/%s.c", sep, r->ex[i].ch, r->ex[i].ex);
            sep = ", ";
        }
    if (sep[0] == ',')
        sb_printf(&o, ".\n");
    for (int i = 0; i < r->nex; i++)
        if (r->ex[i].seed[0])
            sb_printf(&o, "%s/%s: %.2f / %g, seeds CHAOS_SEED=%s SCHED_SEED=%s TL_INPUT_SEED=%s\n", r->ex[i].ch,
                      r->ex[i].ex, r->tampered ? 0.0 : r->ex[i].score, r->ex[i].qmax / 4.0,
                      r->ex[i].seed, r->ex[i].sseed, r->ex[i].iseed);
    for (int i = 0; i < r->nex; i++) {
        char sp[300];
        speed_line(&r->ex[i], sp, sizeof sp);
        if (sp[0])
            sb_printf(&o, "%s/%s: %s.\n", r->ex[i].ch, r->ex[i].ex, sp);
    }
    if (r->protections[0])
        sb_printf(&o, "Protections in force: %s.\n", r->protections);
    if (r->tampered)
        sb_printf(&o, "The kit's files changed while grading: the submission tampered with the "
                      "kit. Score set to zero.\n");
    json_object_set_new(root, "output", json_text(sb_str(&o), 4000));
    free(o.s);
    json_t *tests = json_array();
    for (int i = 0; i < r->nex; i++)
        for (int k = 0; k < r->nent[i]; k++)
            json_array_append_new(tests, test_json(r, &r->ent[i][k], per_out));
    json_object_set_new(root, "tests", tests);
    json_t *lb = json_object();
    json_object_set_new(lb, "name", json_string("score"));
    json_object_set_new(lb, "value", json_num(r->tampered ? 0.0 : r->score, 2));
    json_object_set_new(lb, "order", json_string("desc"));
    json_t *board = json_pack("[o]", lb);
    /* The speed probe: information for the leaderboard, never part of the score. */
    for (int i = 0; i < r->nex; i++) {
        const struct ex *e = &r->ex[i];
        char name[200];
        if (e->speed_runs > 0) {
            textf(name, sizeof name, "%s/%s speedup vs serial", e->ch, e->ex);
            json_array_append_new(board, json_pack("{s:s, s:o, s:s}", "name", name, "value",
                                                   json_num(e->speed_serial, 2), "order", "desc"));
        }
        if (e->speed_runs > 0 && e->speed_ref > 0) {
            textf(name, sizeof name, "%s/%s speed vs reference", e->ch, e->ex);
            json_array_append_new(board, json_pack("{s:s, s:o, s:s}", "name", name, "value",
                                                   json_num(e->speed_ref, 2), "order", "desc"));
        }
    }
    json_object_set_new(root, "leaderboard", board);
    if (!json_write(root, r->opt.results_path))
        die("cannot write %s", r->opt.results_path);
}
