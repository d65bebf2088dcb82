/* expect: data-race|wrong-result */
/* BUG (psort--halves-overlap): the left half is [lo, mid] instead of [lo, mid): the element at the midpoint belongs to both halves, so two workers sort it at once and the merge of the two overlapping halves is wrong */
/*
 * psort.c - a parallel merge sort on join (a known-buggy variant: line 2).
 *
 * What it shows: divide and conquer on a work-stealing pool. A range longer
 * than the cutoff is halved; ws_join sorts the halves (the second is offered
 * to thieves while this worker sorts the first) and returns only when both
 * are sorted; only then are they merged, through the scratch buffer, and
 * copied back. Ranges of at most WS_SORT_CUTOFF elements are sorted serially.
 *
 * DESIGN: the halves [lo, mid) and [mid, hi) are disjoint, in a and in the
 * scratch, so the two tasks of a join share nothing; join's own ordering
 * (the thief's release when b is done, the joiner's acquire) makes the
 * stolen half's writes visible to the merge. The scratch (n ints) is
 * allocated once, before ws_run, so a failure leaves a unchanged; a leaf
 * sorts through a buffer on its own stack.
 */
#define _POSIX_C_SOURCE 200809L
#include "psort.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct range {
    ws_pool *p;
    int *a;
    int *tmp;             /* scratch: the range uses tmp[lo..hi) only */
    size_t lo, hi;
    ws_sort_hook *hook;
    void *arg;
};

/* Merges a[lo..mid) and a[mid..hi), both sorted, into tmp[lo..hi), then
 * copies the result back into a[lo..hi). Never blocks. */
static void merge(int *a, int *tmp, size_t lo, size_t mid, size_t hi)
{
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi)
        tmp[k++] = a[j] < a[i] ? a[j++] : a[i++]; /* ties from the left: stable */
    while (i < mid)
        tmp[k++] = a[i++];
    while (j < hi)
        tmp[k++] = a[j++];
    memcpy(a + lo, tmp + lo, (hi - lo) * sizeof a[0]);
}

/* Serial merge sort of a[lo..hi) through tmp[lo..hi). Never blocks. */
static void sort_serial(int *a, int *tmp, size_t lo, size_t hi)
{
    if (hi - lo <= 16) { /* insertion sort */
        for (size_t i = lo + 1; i < hi; i++) {
            int x = a[i];
            size_t j = i;
            for (; j > lo && a[j - 1] > x; j--)
                a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    size_t mid = lo + (hi - lo) / 2;
    sort_serial(a, tmp, lo, mid);
    sort_serial(a, tmp, mid, hi);
    merge(a, tmp, lo, mid, hi);
}

/* A leaf: reports itself, then sorts a[lo..hi) through a stack buffer. */
static void leaf(struct range *r)
{
    int buf[WS_SORT_CUTOFF];
    if (r->hook != NULL)
        r->hook(r->arg, r->lo, r->hi - r->lo);
    sort_serial(r->a + r->lo, buf, 0, r->hi - r->lo);
}

/* snippet: sort_task */
static void sort_task(void *arg)
{
    struct range *r = arg;
    if (r->hi - r->lo <= WS_SORT_CUTOFF) {
        leaf(r);
        return;
    }
    size_t mid = r->lo + (r->hi - r->lo) / 2;
    struct range left = *r, right = *r;
    left.hi = mid + 1; /* BUG: [lo, mid]: overlaps the right half at mid */
    right.lo = mid; /* disjoint: [lo, mid) and [mid, hi) */
    ws_join(r->p, sort_task, &left, sort_task, &right);
    /* Both halves are sorted (join returned): only now merge them. */
    merge(r->a, r->tmp, r->lo, mid, r->hi);
}
/* end snippet: sort_task */

int ws_sort_hooked(ws_pool *p, int *a, size_t n, ws_sort_hook *hook, void *arg)
{
    if (n == 0)
        return 0;
    struct range r = {p, a, NULL, 0, n, hook, arg};
    if (n <= WS_SORT_CUTOFF) {
        leaf(&r);
        return 0;
    }
    r.tmp = malloc(n * sizeof a[0]);
    if (r.tmp == NULL)
        return ENOMEM; /* nothing touched yet */
    if (ws_worker_index(p) < 0)
        ws_run(p, sort_task, &r);
    else
        sort_task(&r);
    free(r.tmp);
    return 0;
}

int ws_sort(ws_pool *p, int *a, size_t n)
{
    return ws_sort_hooked(p, a, n, NULL, NULL);
}
