/*
 * mandelbrot.c - chapter 2's program: one image, computed three ways, timed.
 *
 * What it shows: data parallelism at its plainest, and its classic trap. The
 * Mandelbrot image is computed serially, then by n threads that each take one
 * contiguous band of rows (static scheduling), then by n threads that take
 * rows one at a time from a shared atomic counter (dynamic scheduling). It
 * prints each time and its speedup over the serial run, checks that the
 * three images are byte for byte the same, and can write the image (a PPM
 * graymap) and a picture of it tinted by which thread computed each row.
 *
 * DESIGN: the threads share the image and nothing else, and they never write
 * the same byte: a row belongs to exactly one thread. The bands are split
 * fairly by rows, but rows are not equal work - the top of this region escapes
 * after a few iterations, the bottom is mostly inside the set, where every
 * pixel costs all 255 - so the thread with the last band works while the
 * others wait in join. Handing out rows one at a time through
 * atomic_fetch_add costs one atomic operation per row (nothing, next to a row
 * of 2200 pixels) and keeps every thread busy until the last row is taken.
 * The only synchronization besides that counter is pthread_join, which makes
 * every row a thread wrote visible to main before main reads the image.
 *
 * Run: ./mandelbrot [--threads K] [--size WxH] [--mode all|serial|bands|rows]
 *                   [--out FILE.ppm] [--tint FILE.svg] [--cell N]
 *   --tint draws the image of the last parallel mode run (rows, with "all"),
 *   one SVG cell per N x N pixels (default 8), tinted by thread.
 */
#define _POSIX_C_SOURCE 200809L
#define TL_TRACE_IMPLEMENTATION
#include "../../kit/trace/trace.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mandel.h"

#define MAX_THREADS 64

/* Prints what failed and why (rc is a pthread error number, not errno); never returns. */
static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

/* Joins t; a join of a thread this program started fails only through a bug here. */
static void join_checked(pthread_t t)
{
    int rc = pthread_join(t, NULL);
    if (rc != 0)
        die_rc(rc, "pthread_join");
}

/* CLOCK_MONOTONIC now, in seconds. */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* What every worker of one parallel run shares. Read-only while the workers
 * run, except: next (atomic), the rows of pix a worker owns, and owner[row]
 * for those rows (each written by one thread, read by main after the join). */
struct job {
    const struct mandel_view *v;
    unsigned char *pix;
    int *owner;         /* owner[row]: the worker that computed it */
    atomic_int next;    /* rows: the next row nobody has taken yet */
    int nthreads;
};

/* One worker: its index, its share, and what it measured. */
struct worker {
    struct job *job;
    int id;
    int lo, hi;         /* bands: rows [lo, hi) */
    int rows_done;      /* written by the worker, read by main after the join */
    double seconds;
};

/* snippet: serial */
/* Computes the whole image on the calling thread. */
static void render_serial(const struct mandel_view *v, unsigned char *pix)
{
    for (int row = 0; row < v->height; row++)
        mandel_render_row(v, row, pix + (size_t)row * (size_t)v->width);
}
/* end snippet: serial */

/* snippet: band */
/* Thread body, static scheduling: computes its own band of rows, [lo, hi). */
static void *band_worker(void *arg)
{
    struct worker *w = arg;
    const struct mandel_view *v = w->job->v;
    double t0 = now_s();
    tl_trace_begin("band");
    for (int row = w->lo; row < w->hi; row++) {
        mandel_render_row(v, row, w->job->pix + (size_t)row * (size_t)v->width);
        w->job->owner[row] = w->id;
    }
    tl_trace_end();
    w->rows_done = w->hi - w->lo;
    w->seconds = now_s() - t0;
    return NULL;
}
/* end snippet: band */

/* snippet: row */
/* Thread body, dynamic scheduling: takes the next untaken row until none is
 * left. fetch_add hands every row number to exactly one thread; relaxed is
 * enough, since the counter orders nothing else - the join publishes the rows. */
static void *row_worker(void *arg)
{
    struct worker *w = arg;
    struct job *job = w->job;
    double t0 = now_s();
    for (;;) {
        int row = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (row >= job->v->height)
            break;
        tl_trace_begin("row");
        mandel_render_row(job->v, row, job->pix + (size_t)row * (size_t)job->v->width);
        tl_trace_end();
        job->owner[row] = w->id;
        w->rows_done++;
    }
    w->seconds = now_s() - t0;
    return NULL;
}
/* end snippet: row */

/* Runs the image on k threads, with body band_worker or row_worker; returns
 * the wall time. Blocks until every thread has been joined. */
static double render_parallel(struct job *job, int k, void *(*body)(void *), struct worker *ws)
{
    pthread_t tids[MAX_THREADS];
    int h = job->v->height;
    atomic_init(&job->next, 0);
    double t0 = now_s();
    /* snippet: split */
    /* Bands: the first h % k get one row more, so no two differ by more than one row. */
    for (int i = 0, lo = 0; i < k; i++) {
        int len = h / k + (i < h % k ? 1 : 0);
        ws[i] = (struct worker){.job = job, .id = i, .lo = lo, .hi = lo + len};
        lo += len;
        int rc = pthread_create(&tids[i], NULL, body, &ws[i]);
        if (rc != 0)
            die_rc(rc, "pthread_create");
    }
    for (int i = 0; i < k; i++)
        join_checked(tids[i]);
    /* end snippet: split */
    return now_s() - t0;
}

/* Prints what each worker of a run did. */
static void print_workers(const struct worker *ws, int k)
{
    for (int i = 0; i < k; i++)
        printf("    thread %d: %5d rows in %.3f s\n", i, ws[i].rows_done, ws[i].seconds);
}

/* Parses "WxH" into *w, *h; returns 0, or -1 if it is not two positive numbers. */
static int parse_size(const char *s, int *w, int *h)
{
    char x;
    return sscanf(s, "%d%c%d", w, &x, h) == 3 && (x == 'x' || x == 'X') && *w > 0 && *h > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int k = ncpu >= 1 && ncpu <= MAX_THREADS ? (int)ncpu : 2, cell = 8;
    const char *mode = "all", *out = NULL, *tint = NULL;
    struct mandel_view v = mandel_default();
    for (int i = 1; i < argc; i++) {
        int w, h;
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            k = atoi(argv[++i]);
        else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc && parse_size(argv[i + 1], &w, &h) == 0)
            v = mandel_view_sized(w, h), i++;
        else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
            mode = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--tint") == 0 && i + 1 < argc)
            tint = argv[++i];
        else if (strcmp(argv[i], "--cell") == 0 && i + 1 < argc)
            cell = atoi(argv[++i]);
        else
            k = 0;
    }
    int all = strcmp(mode, "all") == 0, serial = all || strcmp(mode, "serial") == 0;
    int bands = all || strcmp(mode, "bands") == 0, rows = all || strcmp(mode, "rows") == 0;
    if (k < 1 || k > MAX_THREADS || cell < 1 || !(serial || bands || rows) || (tint && !(bands || rows))) {
        fprintf(stderr, "usage: %s [--threads 1..%d] [--size WxH] [--mode all|serial|bands|rows]\n"
                        "       [--out FILE.ppm] [--tint FILE.svg (bands or rows)] [--cell N]\n",
                argv[0], MAX_THREADS);
        return 2;
    }
    tl_trace_name_thread("main");
    size_t npix = (size_t)v.width * (size_t)v.height;
    unsigned char *img[3] = {calloc(npix, 1), calloc(npix, 1), calloc(npix, 1)};
    int *owner = calloc((size_t)v.height, sizeof *owner);
    if (img[0] == NULL || img[1] == NULL || img[2] == NULL || owner == NULL) {
        fprintf(stderr, "out of memory for a %dx%d image\n", v.width, v.height);
        return 1;
    }
    printf("Mandelbrot %dx%d, %d iterations, %d threads (%ld cores online)\n", v.width, v.height, v.max_iter, k,
           ncpu);
    struct worker ws[MAX_THREADS];
    struct job job = {.v = &v, .owner = owner, .nthreads = k};
    double t_serial = 0;
    const unsigned char *last = NULL;
    if (serial) {
        double t0 = now_s();
        tl_trace_begin("serial");
        render_serial(&v, img[0]);
        tl_trace_end();
        t_serial = now_s() - t0;
        printf("  serial:           %.3f s\n", t_serial);
        last = img[0];
    }
    if (bands) {
        job.pix = img[1];
        double t = render_parallel(&job, k, band_worker, ws);
        printf("  %2d bands (static): %.3f s", k, t);
        if (serial)
            printf("  %.2fx serial", t_serial / t);
        printf("\n");
        print_workers(ws, k);
        last = img[1];
    }
    if (tint && bands && !rows && mandel_write_tint_svg(tint, &v, img[1], owner, k, cell) != 0)
        fprintf(stderr, "could not write %s: %s\n", tint, strerror(errno));
    if (rows) {
        job.pix = img[2];
        double t = render_parallel(&job, k, row_worker, ws);
        printf("  rows (dynamic):   %.3f s", t);
        if (serial)
            printf("  %.2fx serial", t_serial / t);
        printf("\n");
        print_workers(ws, k);
        last = img[2];
    }
    if (tint && rows && mandel_write_tint_svg(tint, &v, img[2], owner, k, cell) != 0)
        fprintf(stderr, "could not write %s: %s\n", tint, strerror(errno));
    int same = 1;
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++)
            if ((a == 0 ? serial : a == 1 ? bands : rows) && (b == 1 ? bands : rows) &&
                memcmp(img[a], img[b], npix) != 0)
                same = 0;
    if (serial + bands + rows > 1)
        printf("  images identical: %s\n", same ? "yes" : "NO");
    if (out != NULL) {
        if (mandel_write_ppm(out, &v, last) == 0)
            printf("  wrote %s\n", out);
        else
            fprintf(stderr, "could not write %s: %s\n", out, strerror(errno));
    }
    free(img[0]);
    free(img[1]);
    free(img[2]);
    free(owner);
    return same ? 0 : 1;
}
