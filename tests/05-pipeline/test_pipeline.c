/*
 * test_pipeline.c - tests for chapters/05-pipeline/pipeline.c.
 *
 * What it shows: how to check a clean shutdown by counting. Every message
 * is a small heap block the test made; each must end up exactly once in
 * the sink or in drop (or be consumed by a filtering stage), every thread
 * the pipeline created must have been joined when pipeline_run() returns,
 * and the heap must hold no more blocks than before. An error is injected
 * at a message the test chooses, in a stage the test chooses, and the
 * pipeline must return exactly that error.
 *
 * DESIGN: to drive the narrow case deterministically (the error happens
 * while every neighbour is blocked on a full or an empty channel), the
 * failing stage waits at a gate on the message it fails on; the test waits
 * until the kit's wait-for table shows every thread of the pipeline in a
 * condition wait, watches an idle window (nobody may spin), and only then
 * opens the gate. pipeline_run() runs on a helper thread there, so that a
 * pipeline that never finishes is reported instead of waited out.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pipeline.h"

enum { MAXSTAGES = 5 };

struct pmsg {
    int seq;
    uint32_t val;
};

/* What one run saw: per message, where it ended up. */
struct book {
    int n;
    atomic_int *seen;       /* n counts: sink + drop + consumed */
    atomic_int sunk, dropped, consumed;
    atomic_int sink_callers, in_sink, out_of_order, bad_val, sunk_after_fail;
    int last_seq;           /* touched by the sink only (one call at a time) */
    int fail_seq;           /* messages with seq >= fail_seq must not reach the sink (-1: none) */
    int nstages;
};

static struct book *cur; /* for drop, which has no context */

struct stage_ctx {
    struct book *b;
    int id;
    int fail_at;            /* seq this stage fails on (-1: never) */
    int err;
    int filter_mod;         /* consume messages with seq % filter_mod == 1 (0: never) */
    struct tl_gate *gate;   /* if set, wait here before failing */
};

static atomic_int at_gate; /* stage calls that reached a gate */

static uint32_t step(uint32_t v, int id)
{
    return v * 2654435761u + (uint32_t)id + 1u;
}

static void count(struct book *b, struct pmsg *m, atomic_int *where)
{
    atomic_fetch_add(where, 1);
    if (m->seq >= 0 && m->seq < b->n)
        atomic_fetch_add(&b->seen[m->seq], 1);
}

static int test_stage(void *ctx, void *in, void **out)
{
    struct stage_ctx *s = ctx;
    struct pmsg *m = in;
    if (m->seq == s->fail_at) {
        if (s->gate != NULL) {
            atomic_fetch_add(&at_gate, 1);
            tl_gate_pass(s->gate);
        }
        return s->err; /* in is still ours to drop */
    }
    if (s->filter_mod != 0 && m->seq % s->filter_mod == 1) {
        count(s->b, m, &s->b->consumed);
        free(m);
        *out = NULL;
        return 0;
    }
    m->val = step(m->val, s->id);
    *out = m;
    return 0;
}

static void sink_fn(void *ctx, void *msg)
{
    struct book *b = ctx;
    struct pmsg *m = msg;
    if (atomic_fetch_add(&b->in_sink, 1) != 0)
        atomic_fetch_add(&b->sink_callers, 1); /* two sink calls at once */
    if (m->seq <= b->last_seq)
        atomic_fetch_add(&b->out_of_order, 1);
    b->last_seq = m->seq;
    uint32_t v = (uint32_t)m->seq;
    for (int i = 0; i < b->nstages; i++)
        v = step(v, i);
    if (m->val != v)
        atomic_fetch_add(&b->bad_val, 1);
    if (b->fail_seq >= 0 && m->seq >= b->fail_seq)
        atomic_fetch_add(&b->sunk_after_fail, 1);
    count(b, m, &b->sunk);
    atomic_fetch_sub(&b->in_sink, 1);
    free(m);
}

static void drop_fn(void *msg)
{
    count(cur, msg, &cur->dropped);
    free(msg);
}

/* One pipeline's worth of messages, stage contexts and description. */
struct setup {
    struct book b;
    struct stage_ctx ctx[MAXSTAGES];
    struct stage st[MAXSTAGES];
    struct pipeline p;
    void **msgs;
    struct tl_counts c0;
};

static void setup_init(struct setup *s, int nstages, size_t cap, int n)
{
    memset(s, 0, sizeof *s);
    s->c0 = tl_counts_now(); /* before any block of this run is allocated */
    s->b = (struct book){.n = n, .last_seq = -1, .fail_seq = -1, .nstages = nstages};
    s->b.seen = calloc((size_t)n, sizeof *s->b.seen);
    s->msgs = calloc((size_t)n, sizeof *s->msgs);
    ck_assert(s->b.seen != NULL && s->msgs != NULL);
    for (int i = 0; i < n; i++) {
        struct pmsg *m = malloc(sizeof *m);
        ck_assert(m != NULL);
        *m = (struct pmsg){i, (uint32_t)i};
        s->msgs[i] = m;
    }
    for (int i = 0; i < nstages; i++) {
        s->ctx[i] = (struct stage_ctx){.b = &s->b, .id = i, .fail_at = -1};
        s->st[i] = (struct stage){test_stage, &s->ctx[i]};
    }
    s->p = (struct pipeline){s->st, (size_t)nstages, cap, sink_fn, &s->b, drop_fn};
    cur = &s->b;
}

/* The promises every run keeps, whatever it returned. */
static void setup_check(struct setup *s, const char *when)
{
    struct book *b = &s->b;
    free(s->msgs);
    for (int i = 0; i < b->n; i++)
        tl_assert(b->seen[i] == 1, b->seen[i] == 0 ? TL_MEMORY : TL_WRONG,
                  "%s: message %d of %d reached the sink or drop %d times, want exactly once (sink "
                  "%d, drop %d, consumed by a stage %d)%s",
                  when, i, b->n, b->seen[i], b->sunk, b->dropped, b->consumed,
                  b->seen[i] == 0 ? ": it leaked" : "");
    free(b->seen);
    tl_assert(b->sink_callers == 0, TL_RACE, "%s: the sink was called by two threads at once", when);
    tl_assert(b->out_of_order == 0, TL_WRONG, "%s: %d messages reached the sink out of order", when,
              b->out_of_order);
    tl_assert(b->bad_val == 0, TL_WRONG,
              "%s: %d messages reached the sink without having passed every stage once, in order",
              when, b->bad_val);
    struct tl_counts c1 = tl_counts_now();
    long started = c1.threads_created - s->c0.threads_created,
         joined = c1.threads_joined - s->c0.threads_joined;
    tl_assert(joined == started, TL_THREAD_LEAK,
              "%s: pipeline_run returned with %ld of the %ld threads it started joined", when, joined,
              started);
    long kept = tl_heap_kept(&s->c0, &c1);
    tl_assert(kept <= 0, TL_MEMORY, "%s: %ld heap block(s) the run allocated were never freed", when,
              kept);
}

static const int errs[] = {EIO, EDOM, ERANGE, EBADMSG, ENOTSUP};

TL_INTENT(every_message_reaches_the_sink_in_order,
          "Every message passes through every stage and reaches the sink once, in the order it "
          "was sent; 0 stages gives EINVAL.");
TL_TEST(every_message_reaches_the_sink_in_order)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 6; round++) {
        int ns = 1 + (int)(tl_rand(&rs) % 4);
        struct setup s;
        setup_init(&s, ns, 1 + tl_rand(&rs) % 4, 100 + (int)(tl_rand(&rs) % 300));
        if (round % 2 == 1)
            s.ctx[tl_rand(&rs) % (uint64_t)ns].filter_mod = 3 + (int)(tl_rand(&rs) % 4);
        int rc = pipeline_run(&s.p, s.msgs, (size_t)s.b.n);
        tl_assert(rc == 0, TL_WRONG, "pipeline_run (%d stages, capacity %zu) returned %d, want 0", ns,
                  s.p.capacity, rc);
        tl_assert(s.b.dropped == 0, TL_WRONG, "%d messages were dropped although no stage failed",
                  s.b.dropped);
        setup_check(&s, "no error");
    }
    struct setup s;
    setup_init(&s, 1, 1, 1);
    s.p.nstages = 0;
    int rc = pipeline_run(&s.p, s.msgs, 1);
    tl_assert(rc == EINVAL, TL_WRONG, "pipeline_run with 0 stages returned %d, want EINVAL", rc);
    if (s.b.seen[0] == 0)
        drop_fn(s.msgs[0]);
    setup_check(&s, "0 stages");
}

TL_INTENT(an_error_stops_every_stage,
          "When one stage fails, pipeline_run returns that error and no later message reaches "
          "the sink.");
TL_TEST(an_error_stops_every_stage)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 10; round++) {
        int ns = 2 + (int)(tl_rand(&rs) % 3), f = (int)(tl_rand(&rs) % (uint64_t)ns);
        struct setup s;
        setup_init(&s, ns, 1 + tl_rand(&rs) % 3, 50 + (int)(tl_rand(&rs) % 200));
        int err = errs[tl_rand(&rs) % 5];
        s.ctx[f].fail_at = (int)(tl_rand(&rs) % (uint64_t)(round < 5 ? 4 : s.b.n));
        s.ctx[f].err = err;
        s.b.fail_seq = s.ctx[f].fail_at;
        char when[96];
        snprintf(when, sizeof when, "stage %d of %d failing at message %d", f + 1, ns, s.b.fail_seq);
        int rc = pipeline_run(&s.p, s.msgs, (size_t)s.b.n);
        tl_assert(rc == err, TL_WRONG, "%s with error %d: pipeline_run returned %d, want that error",
                  when, err, rc);
        tl_assert(s.b.sunk_after_fail == 0, TL_WRONG,
                  "%s: %d messages from that one on reached the sink", when, s.b.sunk_after_fail);
        setup_check(&s, when);
    }
}

/* Returns once a short window passes in which no thread makes a wrapped call
 * (a thread woken but not yet running still counts as blocked), or after
 * about tl_bound_s(); blocks in poll(). Not an assertion: the window that
 * follows is what a spinning thread fails. */
static void settle(void)
{
    for (int i = 0; i < 50 * tl_bound_s(); i++) {
        struct tl_activity a = tl_watch_idle(20);
        if (a.calls == 0)
            return;
    }
}

/* pipeline_run on a helper thread. */
struct run_arg {
    struct setup *s;
    int rc;
};

static void run_pipeline(void *p)
{
    struct run_arg *a = p;
    a->rc = pipeline_run(&a->s->p, a->s->msgs, (size_t)a->s->b.n);
}

TL_INTENT(an_error_while_the_neighbours_are_blocked,
          "An error in one stage stops every other stage, upstream and downstream, even while "
          "they sleep blocked on a channel.");
TL_TEST(an_error_while_the_neighbours_are_blocked)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 3; round++) {
        int ns = 2 + (int)(tl_rand(&rs) % 3), f = round == 0 ? 0 : (int)(tl_rand(&rs) % (uint64_t)ns);
        size_t cap = 1 + tl_rand(&rs) % 3;
        struct setup s;
        setup_init(&s, ns, cap, (ns + 2) * ((int)cap + 1) + 5); /* enough to fill every channel upstream */
        struct tl_gate gate;
        tl_gate_init(&gate);
        int err = errs[tl_rand(&rs) % 5];
        s.ctx[f] = (struct stage_ctx){&s.b, f, (int)(tl_rand(&rs) % 3), err, 0, &gate};
        s.b.fail_seq = s.ctx[f].fail_at;
        char when[120];
        snprintf(when, sizeof when, "stage %d of %d failing at message %d while the others were blocked",
                 f + 1, ns, s.b.fail_seq);
        struct run_arg a = {&s, -1};
        atomic_store(&at_gate, 0);
        struct tl_call *call = tl_call_start(run_pipeline, &a);
        int v = 0;
        for (int i = 0; i < 1000 * tl_bound_s() && atomic_load(&at_gate) == 0 && v == 0; i++) {
            tl_idle_ms(1);
            sem_getvalue(&call->done, &v);
        }
        if (atomic_load(&at_gate) == 0) { /* pipeline_run returned, or never ran the stage */
            tl_gate_open(&gate);
            bool back = tl_call_finish(call);
            tl_assert(false, TL_WRONG, "%s: pipeline_run %s %d without calling stage %d on message %d",
                      when, back ? "returned" : "is stuck; it returned", a.rc, f + 1, s.b.fail_seq);
        }
        tl_gate_await_inside(&gate, 1);
        /* Upstream fills up and blocks in chan_send, downstream drains and blocks in chan_recv:
         * every stage, the sink and the feeder end up in a condition wait. */
        bool all = tl_await_blocked_n(TL_ST_COND, ns + 2);
        settle();
        struct tl_activity act = tl_watch_idle(TL_IDLE_MS);
        tl_gate_open(&gate);
        bool finished = tl_call_finish(call);
        tl_assert(finished, TL_LOST_WAKEUP,
                  "%s: pipeline_run did not return: the error must stop every stage, upstream "
                  "(its sends fail) and downstream (its input ends)", when);
        tl_assert(!tl_activity_busy(&act), TL_BUSY_WAIT, "%s: %s: blocked stages must sleep", when,
                  tl_activity_str(&act));
        tl_assert(all, TL_BUSY_WAIT, "%s: not every thread of the pipeline blocked in a condition wait",
                  when);
        tl_assert(a.rc == err, TL_WRONG, "%s: pipeline_run returned %d, want the stage's error %d",
                  when, a.rc, err);
        tl_gate_destroy(&gate);
        setup_check(&s, when);
    }
}

TL_INTENT(a_thread_that_cannot_start,
          "When a stage's thread cannot be created, pipeline_run closes the channel ends that "
          "thread would have closed, joins the others and returns the error.");
TL_TEST(a_thread_that_cannot_start)
{
    uint64_t rs = tl_input_seed();
    int ns = 1 + (int)(tl_rand(&rs) % 3);
    for (int k = 1; k <= ns + 1; k++) { /* the k-th thread the pipeline creates fails */
        struct setup s;
        setup_init(&s, ns, 1 + tl_rand(&rs) % 3, 20 + (int)(tl_rand(&rs) % 50));
        char when[96];
        snprintf(when, sizeof when, "thread %d of the pipeline (%d stages) could not be created", k, ns);
        struct run_arg a = {&s, -1};
        tl_fault_nth(TL_FAULT_CREATE, k, EAGAIN); /* the helper's own create is never failed */
        bool returned = tl_call_finish(tl_call_start(run_pipeline, &a));
        bool fired = tl_fault_fired(TL_FAULT_CREATE);
        tl_fault_nth(TL_FAULT_CREATE, 0, 0);
        tl_assert(returned, TL_LOST_WAKEUP,
                  "%s: pipeline_run never returned: the two channel ends the missing thread would "
                  "have owned must be closed, so that the threads already running stop", when);
        int rc = a.rc;
        tl_assert(fired, TL_WRONG, "pipeline_run with %d stages created fewer than %d threads", ns, k);
        tl_assert(rc == EAGAIN, TL_ERROR_PATH, "%s (EAGAIN), but pipeline_run returned %d", when, rc);
        setup_check(&s, when);
    }
}

TL_INTENT(out_of_memory_while_building,
          "When an allocation fails while the pipeline is built, pipeline_run returns ENOMEM and "
          "leaves nothing behind.");
TL_TEST(out_of_memory_while_building)
{
    uint64_t rs = tl_input_seed();
    int ns = 1 + (int)(tl_rand(&rs) % 3);
    for (long nth = 1; nth < 40; nth++) {
        struct setup s;
        setup_init(&s, ns, 1 + tl_rand(&rs) % 3, 10 + (int)(tl_rand(&rs) % 20));
        tl_fault_nth(TL_FAULT_MALLOC, nth, 0);
        int rc = pipeline_run(&s.p, s.msgs, (size_t)s.b.n);
        bool fired = tl_fault_fired(TL_FAULT_MALLOC);
        tl_fault_nth(TL_FAULT_MALLOC, 0, 0);
        char when[96];
        snprintf(when, sizeof when, "allocation %ld of pipeline_run (%d stages) failing", nth, ns);
        if (fired)
            tl_assert(rc == ENOMEM, TL_ERROR_PATH, "%s: pipeline_run returned %d, want ENOMEM", when, rc);
        else
            tl_assert(rc == 0, TL_WRONG, "pipeline_run returned %d, want 0", rc);
        setup_check(&s, when);
        if (!fired)
            break;
    }
}

static const struct tl_test tl_tests[] = {
    TL_RUN(every_message_reaches_the_sink_in_order),
    TL_RUN(an_error_while_the_neighbours_are_blocked),
    TL_RUN(a_thread_that_cannot_start),
    TL_RUN(an_error_stops_every_stage),
    TL_RUN(out_of_memory_while_building),
};

TL_MAIN("05-pipeline/pipeline")
