/*
 * bench_mandel.c - chapter 2's Mandelbrot rows handed out by an atomic
 * counter, against OpenMP's schedule(dynamic,1) and the serial loop, all on
 * the same kernel (chapters/02-data-parallelism/mandel.h).
 *
 * What it measures: one trial renders the whole image of mandel_default()
 * (about a second serially): serially; with rows_run() of
 * solutions/02-data-parallelism/rows.c on 2 threads, which take the next row
 * from one atomic counter until none is left (the chapter's dynamic
 * scheduling); and with `#pragma omp parallel for schedule(dynamic,1)
 * num_threads(2)`, which is the same schedule written by the compiler. Every
 * trial's image must equal the serial one byte for byte.
 *
 * DESIGN: the three sides are in one file, so the kernel is compiled once,
 * with one set of flags (-fopenmp changes only the pragma's loop). libgomp's
 * idle threads spin after a parallel region for a while, which would steal
 * the CPU from the next side's trial; so the program runs with
 * OMP_WAIT_POLICY=passive, setting it and re-executing itself when it is not
 * set (libgomp reads it once, when it is loaded). Built without OpenMP
 * (-DBENCH_NO_OPENMP), the anchor is skipped with a line saying so.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mandel.h"
#include "rows.h"

#define NTHREADS 2

struct load {
    struct mandel_view v;
    unsigned char *pix, *want; /* this trial's image; the serial one */
};

static int same(const struct load *l)
{
    return memcmp(l->pix, l->want, (size_t)l->v.width * (size_t)l->v.height) == 0 ? 0 : 1;
}

static int run_serial(void *ctx)
{
    struct load *l = ctx;
    for (int row = 0; row < l->v.height; row++)
        mandel_render_row(&l->v, row, l->pix + (size_t)row * (size_t)l->v.width);
    return same(l);
}

static void render_row(int row, void *arg) /* rows_run()'s fn: one row of the image */
{
    struct load *l = arg;
    mandel_render_row(&l->v, row, l->pix + (size_t)row * (size_t)l->v.width);
}

static int run_rows(void *ctx)
{
    struct load *l = ctx;
    if (rows_run(l->v.height, NTHREADS, render_row, l) != 0)
        return 1;
    return same(l);
}

#ifndef BENCH_NO_OPENMP
static int run_omp(void *ctx)
{
    struct load *l = ctx;
    const struct mandel_view *v = &l->v;
    unsigned char *pix = l->pix;
#pragma omp parallel for schedule(dynamic, 1) num_threads(NTHREADS)
    for (int row = 0; row < v->height; row++)
        mandel_render_row(v, row, pix + (size_t)row * (size_t)v->width);
    return same(l);
}
#endif

int main(int argc, char **argv)
{
    if (getenv("OMP_WAIT_POLICY") == NULL) { /* see DESIGN */
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
        perror("bench_mandel: re-exec with OMP_WAIT_POLICY=passive");
        return 1;
    }
    struct bench_opts o = bench_parse(argc, argv);
    struct load l = {.v = o.smoke ? mandel_view_sized(88, 66) : mandel_default()};
    size_t npix = (size_t)l.v.width * (size_t)l.v.height;
    l.pix = calloc(npix, 1);
    l.want = calloc(npix, 1);
    if (l.pix == NULL || l.want == NULL)
        return 1;
    for (int row = 0; row < l.v.height; row++)
        mandel_render_row(&l.v, row, l.want + (size_t)row * (size_t)l.v.width);
    char workload[64];
    snprintf(workload, sizeof workload, "%dx%d, %d iterations, rows", l.v.width, l.v.height, l.v.max_iter);
    struct bench_group g = {.pattern = "data parallel", .workload = workload, .items = l.v.height};
    g.sides[g.nsides++] = (struct bench_side){"ours", run_rows, &l};
#ifndef BENCH_NO_OPENMP
    int omp = g.nsides;
    g.sides[g.nsides++] = (struct bench_side){"OpenMP dynamic,1", run_omp, &l};
#else
    bench_skip("data parallel vs OpenMP", "gcc -fopenmp does not link: install the package libgomp1 (make bench does, as root)");
#endif
    g.serial = g.nsides;
    g.sides[g.nsides++] = (struct bench_side){"serial", run_serial, &l};
    if (bench_run(&o, &g) != 0)
        return 1;
#ifndef BENCH_NO_OPENMP
    bench_report(&o, &g, omp, 1.0, 1.9);
#endif
    bench_report(&o, &g, g.serial, 0, 1.9);
    free(l.pix);
    free(l.want);
    return 0;
}
