/* expect: did-not-compile */
/* exercise: 01-fork-join/sum */
/*
 * Hostile: does not compile, and its error messages quote bytes that are not
 * UTF-8 and control characters; results.json must stay valid JSON.
 */
#include "sum.h"

int sum_parallel(const long *a, size_t n, int nthreads, sum_chunk_fn chunk, long *out)
{
    const char *s = "ÿþ [2J \" Ã(";
    undeclared_été = s;
    return  0;
}
