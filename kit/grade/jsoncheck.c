/*
 * jsoncheck.c - prove a results.json is valid JSON in Gradescope's schema.
 *
 * What it shows: the kit's self-test does not take the grader's word for its
 * own output. Jansson parses the file strictly (RFC 8259, UTF-8 checked, no
 * text after the value), then this checks the fields Gradescope reads: a
 * numeric "score", and "tests" whose entries have a "name" that starts with
 * "<chapter>/<exercise>: ", numeric "score" <= "max_score", a "status" of
 * passed|failed and a string "output". The file must be under MAX_BYTES
 * (1 MB, Gradescope's limit, by default).
 *
 * DESIGN: parsing is the library's job; this file only states the schema.
 * Exits 0 when valid, 1 with the first problem, 2 on bad usage.
 *
 * usage: jsoncheck RESULTS.json [MAX_BYTES]
 *        jsoncheck -s FILE.json [MAX_BYTES]  (syntax only, e.g. a Chrome/Perfetto
 *                                             trace; default limit 64 MiB)
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

static const char *file;

static void fail(const char *what)
{
    fprintf(stderr, "jsoncheck: %s: %s\n", file, what);
    exit(1);
}

/* "NN-name/exercise: ..." */
static bool good_name(const char *s)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != '-')
        return false;
    const char *slash = strchr(s, '/'), *colon = strstr(s, ": ");
    return slash != NULL && colon != NULL && slash < colon && colon > slash + 1;
}

/* One entry of "tests": fails with the first field Gradescope could not use. */
static void check_test(const json_t *t)
{
    const json_t *nm = json_object_get(t, "name"), *sc = json_object_get(t, "score"),
                 *mx = json_object_get(t, "max_score"), *st = json_object_get(t, "status");
    if (!json_is_object(t) || !json_is_string(nm) || !good_name(json_string_value(nm)))
        fail("a test without a \"<chapter>/<exercise>: ...\" name");
    if (!json_is_number(sc) || !json_is_number(mx) ||
        json_number_value(sc) > json_number_value(mx) + 1e-9)
        fail("a test without numeric score <= max_score");
    const char *status = json_is_string(st) ? json_string_value(st) : "";
    if (strcmp(status, "passed") != 0 && strcmp(status, "failed") != 0)
        fail("a test whose status is not passed|failed");
    if (!json_is_string(json_object_get(t, "output")))
        fail("a test without a string output");
}

int main(int argc, char **argv)
{
    bool syntax_only = argc > 1 && strcmp(argv[1], "-s") == 0;
    if (syntax_only) {
        argv++;
        argc--;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: jsoncheck RESULTS.json [MAX_BYTES] | jsoncheck -s FILE.json [MAX_BYTES]\n");
        return 2;
    }
    file = argv[1];
    long max = argc > 2 ? atol(argv[2]) : syntax_only ? 64L << 20 : 1000000;
    struct stat sb;
    if (stat(file, &sb) != 0) {
        perror(file);
        return 1;
    }
    if (sb.st_size > max) {
        fprintf(stderr, "jsoncheck: %s is larger than %ld bytes\n", file, max);
        return 1;
    }
    json_error_t err;
    json_t *root = json_load_file(file, JSON_DECODE_ANY, &err);
    if (root == NULL) {
        fprintf(stderr, "jsoncheck: line %d: %s\n", err.line, err.text);
        return 1;
    }
    if (syntax_only) {
        printf("%s: valid JSON (%lld bytes)\n", file, (long long)sb.st_size);
        return 0;
    }
    const json_t *score = json_object_get(root, "score"), *tests = json_object_get(root, "tests");
    if (!json_is_object(root))
        fail("top level is not an object");
    if (!json_is_number(score))
        fail("no numeric \"score\"");
    if (!json_is_array(tests))
        fail("no \"tests\" array");
    size_t i;
    const json_t *t;
    json_array_foreach(tests, i, t)
        check_test(t);
    printf("%s: valid (%zu tests, score %.2f, %lld bytes)\n", file, json_array_size(tests),
           json_number_value(score), (long long)sb.st_size);
    json_decref(root);
    return 0;
}
