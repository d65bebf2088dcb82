/*
 * mandel.h - the Mandelbrot kernel that chapters 02 and 08 (and `make bench`)
 * share: one pixel, one row, and the two ways to write a picture.
 *
 * What it shows: a computation with no shared state at all. A pixel depends
 * only on its coordinates, so any split of the rows among threads computes the
 * same image; what differs is only how much work each thread gets. The region
 * is the one Programming Rust draws (upper left -1.20+0.35i, lower right
 * -1.00+0.20i): its top rows escape after a few iterations and its lower rows
 * are mostly inside the set (all 255 iterations), so equal bands are very
 * unequal work.
 *
 * DESIGN: header-only (every function static inline), so a program builds with
 * `cc -pthread prog.c` and chapter 08 or the benchmark include it unchanged.
 * Nothing here is shared between calls: mandel_render_row() writes only its own
 * row of `out`, which is why threads need no lock to fill one image together.
 * The pixel value is 255 - iterations for a point that escapes (bright = fast
 * escape), 0 for a point that never does within max_iter: with max_iter = 255
 * the image equals Programming Rust's.
 */
#ifndef MANDEL_H
#define MANDEL_H

#include <stdio.h>
#include <stdlib.h>

/* The part of the complex plane drawn, and how finely. (x0, y0) is the upper
 * left corner, (x1, y1) the lower right; pixel (px, py) is px columns right of
 * and py rows below it. */
struct mandel_view {
    int width, height, max_iter;
    double x0, y0, x1, y1;
};

/* Returns the chapter's view of the region at width x height pixels, 255 iterations. */
static inline struct mandel_view mandel_view_sized(int width, int height)
{
    struct mandel_view v = { width, height, 255, -1.20, 0.35, -1.00, 0.20 };
    return v;
}

/* Returns the default view: sized so that the serial run takes about a second
 * on the kit's 2-core machine (4:3 like the region itself). */
static inline struct mandel_view mandel_default(void)
{
    return mandel_view_sized(2200, 1650);
}

/* Returns how many iterations z -> z*z + c took to leave the circle |z| = 2 for
 * the point c at pixel (px, py), or v->max_iter if it never did. Pure: reads
 * only v. */
static inline int mandel_escape_time(const struct mandel_view *v, int px, int py)
{
    double cr = v->x0 + px * (v->x1 - v->x0) / v->width;
    double ci = v->y0 + py * (v->y1 - v->y0) / v->height;
    double zr = 0.0, zi = 0.0;
    for (int i = 0; i < v->max_iter; i++) {
        double rr = zr * zr, ii = zi * zi;
        if (rr + ii > 4.0)
            return i;
        zi = 2.0 * zr * zi + ci;
        zr = rr - ii + cr;
    }
    return v->max_iter;
}

/* Returns the grey level of an escape time: 255 - t scaled to 0..255 (a point
 * inside the set, t == max_iter, is black). */
static inline unsigned char mandel_shade(const struct mandel_view *v, int t)
{
    if (t >= v->max_iter)
        return 0;
    return (unsigned char)(255 - t * 255 / v->max_iter);
}

/* Computes row `row` into out[0 .. width-1]; writes nothing else. Never blocks. */
static inline void mandel_render_row(const struct mandel_view *v, int row, unsigned char *out)
{
    for (int px = 0; px < v->width; px++)
        out[px] = mandel_shade(v, mandel_escape_time(v, px, row));
}

/* Writes pix (width*height grey bytes, row after row) to path as a binary
 * netpbm graymap (P5, the one-channel member of the PPM family: any PPM viewer
 * opens it). Returns 0, or -1 with errno set if the file could not be written. */
static inline int mandel_write_ppm(const char *path, const struct mandel_view *v, const unsigned char *pix)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = (size_t)v->width * (size_t)v->height;
    int bad = fprintf(f, "P5\n%d %d\n255\n", v->width, v->height) < 0 || fwrite(pix, 1, n, f) != n;
    if (fclose(f) != 0 || bad)
        return -1;
    return 0;
}

/* The tint of thread t (of 8; more threads reuse them): hues far apart, so
 * neighbouring bands differ. Returns a pointer to r, g, b in 0..255. */
static inline const unsigned char *mandel_tint(int t)
{
    static const unsigned char hue[8][3] = {
        { 230, 80, 60 },  { 50, 120, 230 }, { 40, 170, 80 },  { 230, 170, 30 },
        { 150, 70, 200 }, { 30, 180, 190 }, { 220, 90, 160 }, { 120, 120, 120 },
    };
    return hue[(t < 0 ? 0 : t) % 8];
}

/* Writes the image to path as an SVG in which every cell x cell block of pixels
 * is one grey level (its mean, in 8 steps) tinted by the colour of the thread
 * that computed its middle row (thread_of_row[row] in 0..nthreads-1; -1 for a
 * row nobody computed, drawn white). Equal neighbouring cells in a row are
 * merged into one rectangle, which keeps the file small; a legend names the
 * colours. Returns 0, or -1 with errno set if the file could not be written. */
static inline int mandel_write_tint_svg(const char *path, const struct mandel_view *v, const unsigned char *pix,
                                        const int *thread_of_row, int nthreads, int cell)
{
    if (cell < 1)
        cell = 1;
    int cols = (v->width + cell - 1) / cell, rows = (v->height + cell - 1) / cell;
    int legend = nthreads > 0 ? 1 : 0;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    /* One SVG unit per cell; the picture is drawn about 480 px wide. */
    int scale = 480 / cols;
    if (scale < 1)
        scale = 1;
    double u = cols / 40.0 > 1.5 ? cols / 40.0 : 1.5; /* the legend's letter height, in cells */
    double hgt = rows + (legend ? 2.2 * u : 0.0);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.1f\""
            " shape-rendering=\"crispEdges\">\n<rect width=\"%d\" height=\"%.1f\" fill=\"#fff\"/>\n",
            cols * scale, hgt * scale, cols, hgt, cols, hgt);
    for (int cy = 0; cy < rows; cy++) {
        int y0 = cy * cell, y1 = y0 + cell < v->height ? y0 + cell : v->height;
        int owner = thread_of_row != NULL ? thread_of_row[(y0 + y1 - 1) / 2] : 0;
        int run_start = 0;
        unsigned prev = 0xffffffffu;
        for (int cx = 0; cx <= cols; cx++) {
            unsigned rgb = 0xffffffffu; /* the end of the row closes the last run */
            if (cx < cols) {
                int x0 = cx * cell, x1 = x0 + cell < v->width ? x0 + cell : v->width;
                unsigned long sum = 0;
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++)
                        sum += pix[(size_t)y * (size_t)v->width + (size_t)x];
                unsigned grey = (unsigned)(sum / ((unsigned long)(y1 - y0) * (unsigned long)(x1 - x0)));
                unsigned level = grey * 8 / 256;                    /* 0..7 */
                unsigned r = 255, g = 255, b = 255;
                if (owner >= 0) {
                    const unsigned char *h = mandel_tint(owner);
                    /* dark cells show the thread's colour deep, bright ones paler (never white) */
                    r = (unsigned)(h[0] * (10 - level) + 255 * level) / 10 * 15 / 255;
                    g = (unsigned)(h[1] * (10 - level) + 255 * level) / 10 * 15 / 255;
                    b = (unsigned)(h[2] * (10 - level) + 255 * level) / 10 * 15 / 255;
                } else {
                    r = g = b = 15;
                }
                rgb = r << 8 | g << 4 | b;
            }
            if (rgb != prev) {
                if (cx > 0 && prev != 0xfffu)
                    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"1\" fill=\"#%03x\"/>\n", run_start,
                            cy, cx - run_start, prev);
                prev = rgb;
                run_start = cx;
            }
        }
    }
    for (int t = 0; t < nthreads && t < 8; t++) {
        const unsigned char *h = mandel_tint(t);
        double x = t * 6.0 * u;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#%02x%02x%02x\"/>", x,
                rows + 0.6 * u, u, u, h[0], h[1], h[2]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" font-family=\"sans-serif\">thread %d</text>\n",
                x + 1.4 * u, rows + 1.5 * u, u, t);
    }
    int bad = fprintf(f, "</svg>\n") < 0;
    if (fclose(f) != 0 || bad)
        return -1;
    return 0;
}

#endif
