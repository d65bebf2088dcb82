/*
 * out_classroom.c - one result file per exercise in GitHub Classroom's
 * runner format (classroom-<chapter>-<exercise>.json beside results.json).
 *
 * DESIGN: built with Jansson like results.json; each message is capped at
 * about 2000 bytes once escaped.
 */
#include <math.h>
#include <stdlib.h>

#include "report.h"

void write_classroom(const struct report *r)
{
    for (int i = 0; i < r->nex; i++) {
        const struct ex *e = &r->ex[i];
        char path[4400];
        pathf(path, sizeof path, "%s/classroom-%s-%s.json", r->opt.results_dir, e->ch, e->ex);
        json_t *root = json_object();
        json_object_set_new(root, "version", json_integer(1));
        json_object_set_new(root, "status", json_string(e->cls == TL_NONE ? "pass" : "fail"));
        json_object_set_new(root, "max_score", json_integer((json_int_t)llround(e->points)));
        json_t *tests = json_array();
        for (int k = 0; k < r->nent[i]; k++) {
            const struct entry *en = &r->ent[i][k];
            json_t *t = json_object();
            json_object_set_new(t, "name", json_text(en->name, 300));
            json_object_set_new(t, "status", json_string(en->ok ? "pass" : "fail"));
            json_object_set_new(t, "score", json_num(en->score, 2));
            struct sbuf both = {0};
            sb_printf(&both, "%s%s", sb_str(&en->out), sb_str(&en->advice));
            json_object_set_new(t, "message", json_text(sb_str(&both), 2000));
            free(both.s);
            json_array_append_new(tests, t);
        }
        json_object_set_new(root, "tests", tests);
        json_write(root, path); /* best effort, as every extra format */
    }
}
