/*
 * main.c - tlreport, the grader's judge: turns the evidence grade.sh collected
 * into verdicts, and writes them for humans and for every grading platform.
 *
 * What it shows: how a verdict is reached without trusting the submission.
 * A test passes in a pass only when Check's runner reported it passed AND its
 * test child wrote "END <nonce>" on the secret channel after the body
 * returned; anything the program printed is only quoted, never parsed for a
 * verdict (judge.c). Failures are named by bug class and explained
 * (explain_san.c, explain_hang.c), scored (score.c), and written by one writer
 * per format (out_*.c).
 *
 * DESIGN: main() reads as the steps: parse_options, load, judge, score,
 * write_reports. Each step reads what the previous one left in struct report.
 *
 * usage: tlreport -w WORK -k KIT -j RESULTS.json [-f tap,junit,autolab,classroom]
 *                 [-q] [-b] [-s SUMMARY]
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

static const char usage[] =
    "usage: tlreport -w WORK -k KIT -j RESULTS.json [-f tap,junit,autolab,classroom] [-q] [-b]\n"
    "                [-s SUMMARY]\n"
    "  -w WORK     grade.sh's work folder (WORK/<chapter>/<exercise>/meta ...)\n"
    "  -k KIT      the kit's root (paths in messages are shown relative to it)\n"
    "  -j FILE     Gradescope results.json to write; other outputs go beside it\n"
    "  -f LIST     extra outputs, comma-separated: tap, junit, autolab, classroom\n"
    "  -q          no text on stdout\n"
    "  -b          brief text: the table and one failure per exercise\n"
    "  -s FILE     machine summary, one line per exercise (for the self-test)";

static void parse_options(struct options *o, int argc, char **argv)
{
    o->formats = "";
    int opt;
    while ((opt = getopt(argc, argv, "w:k:j:f:qs:bh")) != -1) {
        switch (opt) {
        case 'w': o->work = optarg; break;
        case 'k': o->kit = optarg; break;
        case 'j': o->results_path = optarg; break;
        case 'f': o->formats = optarg; break;
        case 'q': o->quiet = true; break;
        case 's': o->summary_path = optarg; break;
        case 'b': o->brief = true; break;
        default: die("%s", usage);
        }
    }
    if (o->work == NULL || o->kit == NULL || o->results_path == NULL)
        die("%s", usage);
    snprintf(o->results_dir, sizeof o->results_dir, "%s", o->results_path);
    char *slash = strrchr(o->results_dir, '/');
    if (slash != NULL)
        *slash = '\0';
    else
        snprintf(o->results_dir, sizeof o->results_dir, ".");
}

/* Whether the comma-separated list names format f. */
static bool wants(const char *list, const char *f)
{
    size_t n = strlen(f);
    for (const char *p = list; (p = strstr(p, f)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
            return true;
    return false;
}

static void write_reports(const struct report *r)
{
    write_gradescope(r);
    if (!r->opt.quiet)
        write_text(r);
    if (r->opt.summary_path != NULL)
        write_summary(r);
    if (wants(r->opt.formats, "tap"))
        write_tap(r);
    if (wants(r->opt.formats, "junit"))
        write_junit(r);
    if (wants(r->opt.formats, "classroom"))
        write_classroom(r);
    if (wants(r->opt.formats, "autolab"))
        write_autolab(r); /* last: Autolab reads the last line of output */
}

int main(int argc, char **argv)
{
    static struct report r; /* large: every entry of every exercise */
    parse_options(&r.opt, argc, argv);
    load(&r);
    judge(&r);
    score(&r);
    write_reports(&r);
    return 0;
}
