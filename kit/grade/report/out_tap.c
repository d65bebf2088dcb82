/*
 * out_tap.c - results.tap: one TAP 13 test point per entry, the evidence of a
 * failing one and its advice as "# " comment lines.
 */
#include <stdlib.h>
#include <string.h>

#include "report.h"

void write_tap(const struct report *r)
{
    char path[4400];
    pathf(path, sizeof path, "%s/results.tap", r->opt.results_dir);
    FILE *t = fopen(path, "w");
    if (t == NULL)
        return;
    int n = 0, num = 0;
    for (int i = 0; i < r->nex; i++)
        n += r->nent[i];
    fprintf(t, "TAP version 13\n1..%d\n", n);
    for (int i = 0; i < r->nex; i++)
        for (int k = 0; k < r->nent[i]; k++) {
            const struct entry *en = &r->ent[i][k];
            fprintf(t, "%s %d - ", en->ok ? "ok" : "not ok", ++num);
            text_put(t, en->name);
            fputc('\n', t);
            if (en->ok)
                continue;
            /* The evidence, then the advice (class, book, hint and timeline commands). */
            struct sbuf both = {0};
            sb_printf(&both, "%s%s", sb_str(&en->out), sb_str(&en->advice));
            for (const char *l = sb_str(&both); *l;) {
                size_t len = strcspn(l, "\n");
                if (len > 0) {
                    char line[1200];
                    textf(line, sizeof line, "# %.*s\n", (int)(len < 1100 ? len : 1100), l);
                    text_put(t, line);
                }
                l += len + (l[len] == '\n');
            }
            free(both.s);
        }
    fclose(t);
}
