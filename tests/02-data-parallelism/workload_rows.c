/*
 * workload_rows.c - a typical run of exercise 02-data-parallelism/rows, for
 * its timeline: a 400x300 Mandelbrot image on four threads.
 *
 * DESIGN: each row is a traced span, so the timeline shows the rows as the
 * threads took them: short ones at the top of the image, long ones below,
 * and every lane busy until the last row is taken.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mandel.h"
#include "rows.h"
#include "trace.h"

static struct mandel_view view;
static unsigned char *pix;

/* One row of the image inside a traced span. */
static void render(int row, void *arg)
{
    (void)arg;
    tl_trace_begin("row");
    mandel_render_row(&view, row, pix + (size_t)row * (size_t)view.width);
    tl_trace_end();
}

int main(void)
{
    tl_trace_name_thread("main");
    view = mandel_view_sized(400, 300);
    pix = calloc(400 * 300, 1);
    if (pix == NULL)
        return 1;
    int rc = rows_run(view.height, 4, render, NULL);
    if (rc != 0) {
        printf("rows_run: %s\n", strerror(rc));
        return 1;
    }
    long sum = 0;
    for (size_t i = 0; i < 400 * 300; i++)
        sum += pix[i];
    printf("a %dx%d image on 4 threads, mean grey %ld\n", view.width, view.height, sum / (400 * 300));
    free(pix);
    return 0;
}
