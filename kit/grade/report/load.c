/*
 * load.c - read the evidence grade.sh left: WORK/<chapter>/<exercise>/meta
 * for every exercise, WORK/total and WORK/kit.tampered.
 *
 * DESIGN: meta is a key=value file written by grade.sh before anything of
 * the submission runs, so the submission cannot write it; only the run folders
 * (run/<k>.<pass>/) hold what the submission could influence, and judge.c
 * reads those.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

/* The test files and their test names: "file.K=<file> <hidden> <name>...". */
static void load_tests(struct ex *e, const char *m)
{
    for (int k = 1; k <= MAXF; k++) {
        char key[16], line[4096];
        snprintf(key, sizeof key, "file.%d", k);
        kv(m, key, line, sizeof line);
        if (line[0] == '\0')
            break;
        int h = 0, used = 0;
        if (sscanf(line, "%127s %d %n", e->f[k - 1].file, &h, &used) < 2)
            break;
        e->f[k - 1].hidden = h != 0;
        char *save = NULL;
        for (char *tok = strtok_r(line + used, " ", &save); tok && e->f[k - 1].n < MAXT;
             tok = strtok_r(NULL, " ", &save))
            snprintf(e->f[k - 1].names[e->f[k - 1].n++], 96, "%s", tok);
        e->nfiles = k;
        /* What each test checks: "intent.K.<name>=<sentence>". */
        for (int i = 0; i < e->f[k - 1].n; i++) {
            char ikey[128], sentence[600];
            textf(ikey, sizeof ikey, "intent.%d.%s", k, e->f[k - 1].names[i]);
            kv(m, ikey, sentence, sizeof sentence);
            e->f[k - 1].intent[i] = sentence[0] ? strdup(sentence) : NULL;
        }
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median_of(double *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The speed probe's evidence, DIR/speed: "me PAR SERIAL" and "ref PAR SERIAL"
 * lines in the order they ran (me, ref, me, ref ...), or one "skipped: why". */
static void load_speed(struct ex *e, const char *dir)
{
    char path[4500];
    pathf(path, sizeof path, "%sspeed", dir);
    char *s = slurp(path, 4096);
    if (s == NULL)
        return;
    double ser[16], ref[16], last_me = 0;
    int ns = 0, nr = 0;
    for (char *line = strtok(s, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        double par, serial;
        if (strncmp(line, "skipped: ", 9) == 0) {
            snprintf(e->speed_note, sizeof e->speed_note, "%s", line + 9);
        } else if (sscanf(line, "me %lf %lf", &par, &serial) == 2 && par > 0 && ns < 16) {
            ser[ns++] = serial / par;
            last_me = par;
        } else if (sscanf(line, "ref %lf %lf", &par, &serial) == 2 && last_me > 0 && nr < 16) {
            ref[nr++] = par / last_me; /* paired with the learner's run just before it */
        }
    }
    e->speed_runs = ns;
    e->speed_serial = median_of(ser, ns);
    e->speed_ref = median_of(ref, nr);
    free(s);
}

/* Fill e from DIR/meta (DIR ends in '/'). */
static void load_meta(struct ex *e, const char *dir)
{
    char path[4500];
    snprintf(e->dir, sizeof e->dir, "%s", dir);
    pathf(path, sizeof path, "%smeta", dir);
    char *m = slurp(path, 64 * 1024), buf[512];
    kv(m, "chapter", e->ch, sizeof e->ch);
    kv(m, "exercise", e->ex, sizeof e->ex);
    kv(m, "title", e->title, sizeof e->title);
    kv(m, "book", e->book, sizeof e->book);
    kv(m, "hints", e->hints, sizeof e->hints);
    kv(m, "passes", e->passes, sizeof e->passes);
    kv(m, "compile", e->compile, sizeof e->compile);
    kv(m, "missing", e->missing, sizeof e->missing);
    kv(m, "chaos_seed", e->seed, sizeof e->seed);
    kv(m, "input_seed", e->iseed, sizeof e->iseed);
    kv(m, "sched_seed", e->sseed, sizeof e->sseed);
    kv(m, "untouched", buf, sizeof buf);
    e->untouched = buf[0] == '1';
    kv(m, "timeline", buf, sizeof buf);
    e->timeline = buf[0] == '1';
    kv(m, "points", buf, sizeof buf);
    e->points = buf[0] ? atof(buf) : 10;
    kv(m, "ms", buf, sizeof buf);
    e->ms = atol(buf);
    load_tests(e, m);
    load_speed(e, dir);
    free(m);
}

void load(struct report *r)
{
    const char *work = r->opt.work;
    struct dirent **chs = NULL;
    int nch = scandir(work, &chs, NULL, alphasort);
    for (int i = 0; i < nch; i++) {
        char chdir_[4300];
        pathf(chdir_, sizeof chdir_, "%s/%s", work, chs[i]->d_name);
        struct dirent **xs = NULL;
        int nx = chs[i]->d_name[0] == '.' ? -1 : scandir(chdir_, &xs, NULL, alphasort);
        for (int j = 0; j < nx; j++) {
            char bdir[4400], meta[4500];
            pathf(bdir, sizeof bdir, "%s/%s/", chdir_, xs[j]->d_name);
            pathf(meta, sizeof meta, "%smeta", bdir);
            if (xs[j]->d_name[0] != '.' && access(meta, R_OK) == 0 && r->nex < MAXEX)
                load_meta(&r->ex[r->nex++], bdir);
            free(xs[j]);
        }
        free(xs);
        free(chs[i]);
    }
    free(chs);
    char path[4400];
    pathf(path, sizeof path, "%s/kit.tampered", work);
    r->tampered = access(path, F_OK) == 0;
    pathf(path, sizeof path, "%s/total", work);
    char *tot = slurp(path, 64);
    r->total_ms = atol(tot + (strncmp(tot, "ms=", 3) == 0 ? 3 : 0));
    free(tot);
}
