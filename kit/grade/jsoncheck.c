/*
 * jsoncheck.c - prove a results.json is valid JSON in Gradescope's schema.
 *
 * What it shows: the kit's self-test does not take the grader's word for its
 * own output. This parses the file strictly (RFC 8259: no trailing commas,
 * escapes checked, UTF-8 checked) and then checks the fields Gradescope
 * reads: a numeric "score", and "tests" whose entries have a "name" that
 * starts with "<chapter>/<exercise>", numeric "score" and "max_score", a
 * "status" of passed|failed and a string "output".
 *
 * DESIGN: a small recursive-descent parser into a tree of nodes; the schema
 * check walks the tree. Exits 0 when valid, 1 with the first problem.
 *
 * usage: jsoncheck RESULTS.json [MAX_BYTES]
 *        jsoncheck -s FILE.json     (syntax only, e.g. a Chrome/Perfetto trace)
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct node {
    enum kind kind;
    double num;
    char *str;           /* J_STR value; member key when inside an object */
    struct node *child;  /* first element / member */
    struct node *next;   /* next sibling */
    char *key;
};

static const char *src, *p;

static void fail(const char *what)
{
    int line = 1;
    for (const char *q = src; q < p; q++)
        line += *q == '\n';
    fprintf(stderr, "jsoncheck: line %d: %s\n", line, what);
    exit(1);
}

static struct node *new_node(enum kind k)
{
    struct node *n = calloc(1, sizeof *n);
    if (n == NULL)
        fail("out of memory");
    n->kind = k;
    return n;
}

static void ws(void)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
}

static struct node *value(int depth);

static char *string(void)
{
    if (*p != '"')
        fail("expected a string");
    p++;
    size_t cap = 64, n = 0;
    char *s = malloc(cap);
    if (s == NULL)
        fail("out of memory");
    for (;;) {
        unsigned char c = (unsigned char)*p;
        if (c == '\0')
            fail("unterminated string");
        if (c < 0x20)
            fail("raw control character in a string");
        if (c == '"') {
            p++;
            break;
        }
        if (c == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)p[i]))
                        fail("bad \\u escape");
                p += 5;
                c = '?';
            } else if (strchr("\"\\/bfnrt", *p) != NULL && *p) {
                c = (unsigned char)*p++;
            } else {
                fail("bad escape");
            }
        } else if (c >= 0x80) {
            int len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
            if (len == 0 || (len == 2 && c < 0xC2))
                fail("invalid UTF-8");
            for (int i = 1; i < len; i++)
                if (((unsigned char)p[i] & 0xC0) != 0x80)
                    fail("invalid UTF-8");
            p += len;
        } else {
            p++;
        }
        if (n + 2 > cap) {
            cap *= 2;
            s = realloc(s, cap);
            if (s == NULL)
                fail("out of memory");
        }
        s[n++] = (char)c;
    }
    s[n] = '\0';
    return s;
}

static struct node *value(int depth)
{
    if (depth > 64)
        fail("nested too deeply");
    ws();
    struct node *n;
    if (*p == '{' || *p == '[') {
        bool obj = *p == '{';
        char close = obj ? '}' : ']';
        n = new_node(obj ? J_OBJ : J_ARR);
        p++;
        ws();
        struct node **tail = &n->child;
        if (*p == close) {
            p++;
            return n;
        }
        for (;;) {
            char *key = NULL;
            if (obj) {
                ws();
                key = string();
                ws();
                if (*p++ != ':')
                    fail("expected ':'");
            }
            struct node *v = value(depth + 1);
            v->key = key;
            *tail = v;
            tail = &v->next;
            ws();
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == close) {
                p++;
                return n;
            }
            fail(obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    if (*p == '"') {
        n = new_node(J_STR);
        n->str = string();
        return n;
    }
    if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
        n = new_node(J_BOOL);
        p += *p == 't' ? 4 : 5;
        return n;
    }
    if (strncmp(p, "null", 4) == 0) {
        p += 4;
        return new_node(J_NULL);
    }
    if (*p == '-' || isdigit((unsigned char)*p)) {
        char *end;
        n = new_node(J_NUM);
        n->num = strtod(p, &end);
        if (end == p)
            fail("bad number");
        p = end;
        return n;
    }
    fail("unexpected character");
    return NULL;
}

static struct node *member(const struct node *obj, const char *key)
{
    for (struct node *c = obj->child; c != NULL; c = c->next)
        if (c->key != NULL && strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

/* "NN-name/exercise: ..." */
static bool good_name(const char *s)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != '-')
        return false;
    const char *slash = strchr(s, '/'), *colon = strstr(s, ": ");
    return slash != NULL && colon != NULL && slash < colon && colon > slash + 1;
}

int main(int argc, char **argv)
{
    bool syntax_only = argc > 1 && strcmp(argv[1], "-s") == 0;
    if (syntax_only) {
        argv++;
        argc--;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: jsoncheck RESULTS.json [MAX_BYTES] | jsoncheck -s FILE.json\n");
        return 2;
    }
    long max = argc > 2 ? atol(argv[2]) : syntax_only ? 64L << 20 : 1000000;
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    char *buf = malloc((size_t)max + 2);
    if (buf == NULL)
        return 1;
    size_t n = fread(buf, 1, (size_t)max + 1, f);
    fclose(f);
    if ((long)n > max) {
        fprintf(stderr, "jsoncheck: %s is larger than %ld bytes\n", argv[1], max);
        return 1;
    }
    buf[n] = '\0';
    if (strlen(buf) != n) {
        fprintf(stderr, "jsoncheck: NUL byte in %s\n", argv[1]);
        return 1;
    }
    src = p = buf;
    struct node *root = value(0);
    ws();
    if (*p != '\0')
        fail("text after the JSON value");
    if (syntax_only) {
        printf("%s: valid JSON (%zu bytes)\n", argv[1], n);
        return 0;
    }
    if (root->kind != J_OBJ)
        fail("top level is not an object");
    struct node *score = member(root, "score"), *tests = member(root, "tests");
    if (score == NULL || score->kind != J_NUM)
        fail("no numeric \"score\"");
    if (tests == NULL || tests->kind != J_ARR)
        fail("no \"tests\" array");
    int count = 0;
    for (struct node *t = tests->child; t != NULL; t = t->next, count++) {
        struct node *nm = member(t, "name"), *sc = member(t, "score"), *mx = member(t, "max_score"),
                    *st = member(t, "status"), *out = member(t, "output");
        if (t->kind != J_OBJ || nm == NULL || nm->kind != J_STR || !good_name(nm->str))
            fail("a test without a \"<chapter>/<exercise>: ...\" name");
        if (sc == NULL || sc->kind != J_NUM || mx == NULL || mx->kind != J_NUM || sc->num > mx->num + 1e-9)
            fail("a test without numeric score <= max_score");
        if (st == NULL || st->kind != J_STR ||
            (strcmp(st->str, "passed") != 0 && strcmp(st->str, "failed") != 0))
            fail("a test whose status is not passed|failed");
        if (out == NULL || out->kind != J_STR)
            fail("a test without a string output");
    }
    printf("%s: valid (%d tests, score %.2f, %zu bytes)\n", argv[1], count, score->num, n);
    return 0;
}
