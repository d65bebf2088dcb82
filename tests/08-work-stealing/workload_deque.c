/*
 * workload_deque.c - your deque at work, for `make timeline EX=08-work-stealing/deque`.
 *
 * An owner pushes 40 tasks in bursts of 8 and pops some of them back,
 * working a little on each; two thieves steal what they can. In the
 * timeline, look for the thieves' "steal" spans between the owner's bursts,
 * and for their "empty" marks while the owner's end is drained.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "deque.h"
#include "trace.h"

enum { N = 40 };

static deque *d;
static atomic_int taken, done_pushing;
static int item[N];

static void work(void)
{
    volatile uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 40000; i++)
        h = (h ^ (uint64_t)i) * 1099511628211ull;
}

static void *thief(void *arg)
{
    tl_trace_name_thread((const char *)arg);
    for (;;) {
        void *v;
        enum deque_steal_result r = deque_steal(d, &v);
        if (r == DEQUE_OK) {
            tl_trace_begin("steal");
            work();
            atomic_fetch_add(&taken, 1);
            tl_trace_end();
        } else if (r == DEQUE_EMPTY) {
            if (atomic_load(&done_pushing) && atomic_load(&taken) >= N)
                return NULL;
            tl_trace_mark("empty");
            sched_yield();
        }
        if (atomic_load(&taken) >= N)
            return NULL;
    }
}

int main(void)
{
    tl_trace_name_thread("owner");
    d = deque_create(2);
    if (d == NULL) {
        perror("deque_create");
        return 1;
    }
    pthread_t t1, t2;
    pthread_create(&t1, NULL, thief, "thief 1");
    pthread_create(&t2, NULL, thief, "thief 2");
    for (int i = 0; i < N; i += 8) {
        tl_trace_begin("push 8");
        for (int k = i; k < i + 8 && k < N; k++)
            deque_push(d, &item[k]);
        tl_trace_end();
        for (int k = 0; k < 3; k++) {
            if (deque_pop(d) == NULL)
                break;
            tl_trace_begin("pop");
            work();
            atomic_fetch_add(&taken, 1);
            tl_trace_end();
        }
    }
    atomic_store(&done_pushing, 1);
    while (deque_pop(d) != NULL) {
        tl_trace_begin("pop");
        work();
        atomic_fetch_add(&taken, 1);
        tl_trace_end();
    }
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    printf("%d of %d tasks taken\n", atomic_load(&taken), N);
    deque_destroy(d);
    return 0;
}
