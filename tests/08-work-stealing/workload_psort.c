/*
 * workload_psort.c - your sort at work, for `make timeline EX=08-work-stealing/psort`.
 *
 * Sorts 1 << 18 pseudo-random ints on a pool of 2 workers, three times. The
 * hook marks every leaf ("leaf" marks, one per range of at most
 * WS_SORT_CUTOFF elements): look for the second worker's marks (the halves
 * it stole) and for the merges that follow the last leaves of each half.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "psort.h"
#include "trace.h"

static void mark_leaf(void *arg, size_t lo, size_t len)
{
    (void)arg;
    (void)lo;
    (void)len;
    tl_trace_mark("leaf");
}

int main(void)
{
    tl_trace_name_thread("main");
    ws_pool *pool = ws_pool_create(2);
    if (pool == NULL) {
        perror("ws_pool_create");
        return 1;
    }
    size_t n = (size_t)1 << 18;
    int *a = malloc(n * sizeof *a);
    if (a == NULL) {
        perror("malloc");
        return 1;
    }
    uint64_t x = 88172645463325252ull;
    int bad = 0;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            a[i] = (int)(x % 1000000);
        }
        tl_trace_begin("ws_sort");
        int rc = ws_sort_hooked(pool, a, n, mark_leaf, NULL);
        tl_trace_end();
        for (size_t i = 1; i < n; i++)
            bad += a[i - 1] > a[i];
        if (rc != 0)
            bad++;
    }
    printf("3 sorts of %zu ints: %s; steals: %ld and %ld\n", n, bad ? "NOT SORTED" : "sorted",
           ws_steals(pool, 0), ws_steals(pool, 1));
    ws_pool_destroy(pool);
    free(a);
    return bad != 0;
}
