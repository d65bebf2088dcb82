/*
 * test_sum--hidden.c - an example of an instructor's hidden test (EXTRA_TESTS).
 *
 * What it shows: hidden tests are ordinary kit tests kept outside the kit:
 * `make grade EXTRA_TESTS=tests/kit/extra` grades them as extra tests of
 * 01-fork-join/sum, and results.json shows them after the due date. The
 * self-test uses this file to prove that the mechanism works.
 */
#include "tlcheck.h"

#include <stdlib.h>

#include "sum.h"

static long chunk_plain(const long *a, size_t lo, size_t hi)
{
    long s = 0;
    for (size_t i = lo; i < hi; i++)
        s += a[i];
    return s;
}

TL_TEST(negative_numbers_cancel_out)
{
    uint64_t st = tl_input_seed();
    size_t n = 1000 + tl_rand(&st) % 1000;
    long *a = malloc(n * sizeof *a);
    ck_assert_ptr_nonnull(a);
    for (size_t i = 0; i + 1 < n; i += 2) {
        a[i] = (long)(tl_rand(&st) % 1000000);
        a[i + 1] = -a[i];
    }
    a[n - 1] = n % 2 ? 7 : -a[n - 2];
    long expect = n % 2 ? 7 : 0, got = -1;
    int rc = sum_parallel(a, n, 5, chunk_plain, &got);
    free(a);
    tl_assert(rc == 0 && got == expect, TL_WRONG, "sum of %zu numbers that cancel out: got %ld (rc %d), expected %ld",
              n, got, rc, expect);
}

static const struct tl_test tl_tests[] = {TL_RUN(negative_numbers_cancel_out)};
TL_MAIN("01-fork-join/sum (hidden)")
