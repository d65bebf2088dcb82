/*
 * util.c - small helpers of the judge: bounded strings, files, key=value
 * lines, and output made safe for terminals, XML and JSON.
 *
 * DESIGN: everything the submission printed can reach these functions, so
 * each output path has exactly one function that makes text safe for it, and
 * the JSON one also enforces the kit's own size cap: a hostile submission's
 * output is cut before it goes into the tree, counting the bytes it will take
 * once escaped, so results.json stays under 1 MB whatever was printed.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tlreport: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

void pathf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n)
        die("path too long: %s", buf);
}

void textf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

char *slurp(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(max + 1);
    if (buf == NULL)
        die("out of memory");
    size_t n = f != NULL ? fread(buf, 1, max, f) : 0;
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++) /* NUL bytes would cut strings short */
        if (buf[i] == '\0')
            buf[i] = '?';
    if (f != NULL)
        fclose(f);
    return buf;
}

void kv(const char *body, const char *key, char *out, size_t outsz)
{
    size_t kl = strlen(key);
    out[0] = '\0';
    for (const char *p = body; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            const char *v = p + kl + 1, *e = strchr(v, '\n');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= outsz)
                n = outsz - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
    }
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->cap == 0) {
        b->cap = 1024;
        b->s = malloc(b->cap);
        if (b->s == NULL)
            die("out of memory");
        b->s[0] = '\0';
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k < 0)
            return;
        if (b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        b->cap = (b->n + (size_t)k + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (b->s == NULL)
            die("out of memory");
    }
}

const char *sb_str(const struct sbuf *b) { return b->s ? b->s : ""; }

void strip_path(char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    if (fl == 0 || tl > fl)
        return;
    for (char *p = strstr(s, from); p != NULL; p = strstr(p + tl, from)) {
        memcpy(p, to, tl);
        memmove(p + tl, p + fl, strlen(p + fl) + 1);
    }
}

void human(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s", name);
    for (char *p = out; *p; p++)
        if (*p == '_')
            *p = ' ';
}

enum tl_class cls_worst(enum tl_class a, enum tl_class b)
{
    if (a == TL_NONE)
        return b;
    if (b == TL_NONE)
        return a;
    return a < b ? a : b;
}

/* ------------------------------------------------------------ safe output */

void text_put(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f ? '?' : *p, f);
}

void xml_put(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '>')
            fputs("&gt;", f);
        else if (*p == '&')
            fputs("&amp;", f);
        else if (*p == '"')
            fputs("&quot;", f);
        else if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p >= 0x7f)
            fputc('?', f); /* keep the XML valid whatever the bytes */
        else
            fputc(*p, f);
    }
}

/* Length of the valid UTF-8 sequence at p and its code point, or 0 when invalid. */
static int utf8_seq(const unsigned char *p, unsigned *cp)
{
    unsigned c = p[0];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || (len == 2 && c < 0xC2))
        return 0;
    unsigned v = len == 1 ? c : c & (0x7Fu >> len);
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3Fu);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0; /* overlong, out of range, or a surrogate: Jansson refuses them */
    *cp = v;
    return len;
}

/* The JSON string of s, valid UTF-8 (bad bytes and control characters Jansson
 * would not escape, DEL and C1, become U+FFFD), cut where its escaped form
 * (JSON_ENSURE_ASCII) passes cap bytes, with a marker saying so. */
json_t *json_text(const char *s, size_t cap)
{
    struct sbuf b = {0};
    sb_printf(&b, "%s", "");
    size_t cost = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && cost < cap) {
        unsigned cp = 0;
        int len = utf8_seq(p, &cp);
        if (len == 0 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
            sb_printf(&b, "\xef\xbf\xbd");
            cost += 6;
            p += len == 0 ? 1 : len;
            continue;
        }
        sb_printf(&b, "%.*s", len, (const char *)p);
        p += len;
        if (cp == '"' || cp == '\\' || cp == '\n' || cp == '\t' || cp == '\r' || cp == '\b' ||
            cp == '\f')
            cost += 2;
        else if (cp < 0x20)
            cost += 6;
        else
            cost += cp < 0x80 ? 1 : cp < 0x10000 ? 6 : 12;
    }
    if (*p)
        sb_printf(&b, "\n[... cut]");
    json_t *j = json_string(sb_str(&b));
    free(b.s);
    if (j == NULL)
        die("internal error: text not valid for JSON");
    return j;
}

/* Rounded as printf's "%.*f" rounds, so every output shows the same number. */
json_t *json_num(double x, int places)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", places, x);
    return json_real(strtod(buf, NULL));
}

bool json_write(json_t *root, const char *path)
{
    FILE *f = fopen(path, "w");
    bool ok = f != NULL && json_dumpf(root, f, JSON_ENSURE_ASCII | JSON_REAL_PRECISION(12)) == 0 &&
              fputc('\n', f) != EOF;
    ok = (f != NULL && fclose(f) == 0) && ok;
    json_decref(root);
    return ok;
}

/* The speed probe's information line of e into buf ("" when e has none). */
void speed_line(const struct ex *e, char *buf, size_t n)
{
    buf[0] = '\0';
    if (e->speed_runs > 0 && e->speed_ref > 0)
        snprintf(buf, n, "speed (information, never scored): %.2fx serial, %.2fx the reference solution "
                         "(2 threads, medians of %d interleaved runs)", e->speed_serial, e->speed_ref, e->speed_runs);
    else if (e->speed_runs > 0)
        snprintf(buf, n, "speed (information, never scored): %.2fx serial (2 threads, median of %d runs)",
                 e->speed_serial, e->speed_runs);
    else if (e->speed_note[0])
        snprintf(buf, n, "speed: not measured: %s", e->speed_note);
    tl_singular(buf); /* "median of 1 runs" -> "median of 1 run" */
}
