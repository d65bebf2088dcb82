/*
 * out_junit.c - results.junit.xml: one testsuite per exercise, one testcase
 * per entry, the evidence of a failing one inside <failure>.
 */
#include "report.h"

void write_junit(const struct report *r)
{
    char path[4400];
    pathf(path, sizeof path, "%s/results.junit.xml", r->opt.results_dir);
    FILE *x = fopen(path, "w");
    if (x == NULL)
        return;
    fprintf(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"threadlab\">\n");
    for (int i = 0; i < r->nex; i++) {
        const struct ex *e = &r->ex[i];
        int fails = 0;
        for (int k = 0; k < r->nent[i]; k++)
            fails += !r->ent[i][k].ok;
        fprintf(x, "  <testsuite name=\"%s/%s\" tests=\"%d\" failures=\"%d\" time=\"%.3f\">\n",
                e->ch, e->ex, r->nent[i], fails, e->ms / 1000.0);
        for (int k = 0; k < r->nent[i]; k++) {
            const struct entry *en = &r->ent[i][k];
            const char *cls = en->cls == TL_NONE ? "failed" : tl_class_name[en->cls];
            fprintf(x, "    <testcase classname=\"%s.%s\" name=\"", e->ch, e->ex);
            xml_put(x, en->name);
            fprintf(x, "\">");
            if (!en->ok) {
                fprintf(x, "<failure type=\"%s\" message=\"%s\">", cls, cls);
                xml_put(x, sb_str(&en->out));
                xml_put(x, sb_str(&en->advice));
                fprintf(x, "</failure>");
            }
            fprintf(x, "</testcase>\n");
        }
        fprintf(x, "  </testsuite>\n");
    }
    fprintf(x, "</testsuites>\n");
    fclose(x);
}
