/*
 * test_fanout.c - tests for chapters/05-pipeline/fanout.c.
 *
 * What it shows: how to check that a stream with several senders ends
 * exactly when the last of them is done. A test holds one worker at a gate
 * while the others finish; the receiver on the output must then still be
 * blocked (a stream that ended at the first close has already said EPIPE),
 * and once the gate opens it must get the held message and then the end.
 *
 * DESIGN: messages are the integers 1..n cast to pointers; every one of them
 * must end up exactly once somewhere: received by the consumer, consumed by
 * the worker's function (a filter), dropped by the fan-out, kept by the
 * producer after a failed send, or dropped by chan_destroy. The producer
 * and the consumer are threads of the test; fanout_run() runs on the main
 * thread or, where the test must act while it runs, on a helper
 * (tl_call_start, which the kit neither counts nor fails by injection).
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fanout.h"

#define MSG(x) ((void *)(uintptr_t)(x))
#define VAL(p) ((uintptr_t)(p))

struct fo {
    chan *in, *out;
    int n;                   /* messages 1..n */
    atomic_int *seen;        /* n + 1 counts: where each message ended up, in all */
    atomic_int delivered, dropped, filtered, kept;
    atomic_int last_delivered; /* VAL of the last message the consumer got */
    int filter_mod;          /* fn consumes v when v % filter_mod == 0 (0: never) */
    bool gate_all;           /* every fn call waits at the gate */
    struct tl_gate gate;
    atomic_int inside;       /* fn calls that reached the gate */
    struct tl_latch done;    /* producer and consumer arrive when they finished */
    atomic_int finished;     /* ...and count themselves here */
};

static struct fo *cur; /* for drop, which has no context */

static void note(struct fo *f, void *m, atomic_int *where)
{
    atomic_fetch_add(where, 1);
    if (VAL(m) >= 1 && VAL(m) <= (uintptr_t)f->n)
        atomic_fetch_add(&f->seen[VAL(m)], 1);
}

static void fo_drop(void *m)
{
    note(cur, m, &cur->dropped);
}

static void *fo_fn(void *ctx, void *m)
{
    struct fo *f = ctx;
    tl_note_worker();
    if (f->gate_all) {
        atomic_fetch_add(&f->inside, 1);
        tl_gate_pass(&f->gate);
    }
    if (f->filter_mod != 0 && VAL(m) % (uintptr_t)f->filter_mod == 0) {
        note(f, m, &f->filtered);
        return NULL;
    }
    return m;
}

static void *producer(void *p)
{
    struct fo *f = p;
    for (int v = 1; v <= f->n; v++)
        if (chan_send(f->in, MSG(v)) != 0) {
            for (; v <= f->n; v++)
                note(f, MSG(v), &f->kept); /* never sent: still ours */
            break;
        }
    chan_close_sender(f->in);
    atomic_fetch_add(&f->finished, 1);
    tl_latch_arrive(&f->done);
    return NULL;
}

static void *consumer(void *p)
{
    struct fo *f = p;
    void *m;
    while (chan_recv(f->out, &m) == 0) {
        note(f, m, &f->delivered);
        atomic_store(&f->last_delivered, (int)VAL(m));
    }
    chan_close_receiver(f->out);
    atomic_fetch_add(&f->finished, 1);
    tl_latch_arrive(&f->done);
    return NULL;
}

/* Returns whether n of the producer and consumer finished within tl_bound_s()
 * (scaled with the load by the grader); makes no wrapped call. */
static bool finished(struct fo *f, int n)
{
    for (int i = 0; i < 1000 * tl_bound_s() && atomic_load(&f->finished) < n; i++)
        tl_idle_ms(1);
    return atomic_load(&f->finished) >= n;
}

static void fo_init(struct fo *f, int n, unsigned nworkers, size_t cap)
{
    *f = (struct fo){.n = n};
    f->seen = calloc((size_t)n + 1, sizeof *f->seen);
    ck_assert(f->seen != NULL);
    f->in = chan_create(cap, 1, nworkers);
    f->out = chan_create(cap, nworkers, 1);
    tl_assert(f->in != NULL && f->out != NULL, TL_WRONG, "chan_create returned NULL (errno %d)", errno);
    tl_gate_init(&f->gate);
    tl_latch_init(&f->done);
    cur = f;
}

/* Every message accounted for exactly once, and the channels freed. */
static void fo_finish(struct fo *f, const char *when)
{
    chan_destroy(f->in, fo_drop);
    chan_destroy(f->out, fo_drop);
    for (int v = 1; v <= f->n; v++)
        tl_assert(f->seen[v] == 1, TL_WRONG,
                  "%s: message %d of %d ended up %d times in all (received, filtered, dropped or "
                  "never sent), want exactly once (received %d, filtered %d, dropped %d, unsent %d)",
                  when, v, f->n, f->seen[v], f->delivered, f->filtered, f->dropped, f->kept);
    tl_gate_destroy(&f->gate);
    tl_latch_destroy(&f->done);
    free(f->seen);
}

TL_INTENT(every_message_once_through_n_workers,
          "Every input message goes through fn on exactly one of the workers and reaches the "
          "output once, and 0 workers gives EINVAL.");
TL_TEST(every_message_once_through_n_workers)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 6; round++) {
        unsigned nw = 1 + (unsigned)(tl_rand(&rs) % 4);
        struct fo f;
        fo_init(&f, 200 + (int)(tl_rand(&rs) % 200), nw, 1 + tl_rand(&rs) % 4);
        f.filter_mod = 3 + (int)(tl_rand(&rs) % 5);
        pthread_t p, c;
        tl_check_rc(pthread_create(&c, NULL, consumer, &f), "pthread_create");
        tl_check_rc(pthread_create(&p, NULL, producer, &f), "pthread_create");
        int rc = fanout_run(f.in, f.out, nw, fo_fn, &f, fo_drop);
        tl_assert(rc == 0, TL_WRONG, "fanout_run with %u workers returned %d, want 0", nw, rc);
        tl_assert(finished(&f, 2), TL_LOST_WAKEUP,
                  "fanout_run (%u workers) returned, but the consumer never got the end of the output "
                  "stream: every worker's sender handle must be closed", nw);
        tl_check_rc(pthread_join(p, NULL), "pthread_join");
        tl_check_rc(pthread_join(c, NULL), "pthread_join");
        tl_assert(f.dropped == 0 && f.kept == 0, TL_WRONG,
                  "%d messages dropped and %d not sent, with everybody listening", f.dropped, f.kept);
        fo_finish(&f, "all workers running");
    }
    tl_assert(fanout_run(NULL, NULL, 0, fo_fn, NULL, fo_drop) == EINVAL, TL_WRONG,
              "fanout_run with 0 workers must return EINVAL");
}

/* fanout_run on a helper thread. */
struct run_arg {
    struct fo *f;
    unsigned nw;
    int rc;
};

static void run_fanout(void *p)
{
    struct run_arg *a = p;
    a->rc = fanout_run(a->f->in, a->f->out, a->nw, fo_fn, a->f, fo_drop);
}

TL_INTENT(workers_run_at_the_same_time,
          "The workers really run fn on different messages at the same time.");
TL_TEST(workers_run_at_the_same_time)
{
    uint64_t rs = tl_input_seed();
    unsigned nw = 2 + (unsigned)(tl_rand(&rs) % 3);
    struct fo f;
    fo_init(&f, (int)nw, nw, nw);
    f.gate_all = true;
    struct run_arg a = {&f, nw, -1};
    struct tl_call *call = tl_call_start(run_fanout, &a);
    for (unsigned i = 1; i <= nw; i++)
        tl_assert(chan_send(f.in, MSG(i)) == 0, TL_WRONG, "send into the input failed");
    chan_close_sender(f.in);
    bool all = false; /* each worker takes one message and waits at the gate: all are inside at once */
    for (int i = 0; i < 1000 * tl_bound_s() && !all; i++) {
        all = atomic_load(&f.inside) == (int)nw;
        if (!all)
            tl_idle_ms(1);
    }
    int inside = atomic_load(&f.inside);
    tl_gate_open(&f.gate);
    tl_assert(all, TL_NOT_PARALLEL,
              "%d of %u messages reached fn at the same time: the %u workers must each run fn on "
              "their own thread, in parallel", inside, nw, nw);
    tl_assert(tl_call_finish(call), TL_LOST_WAKEUP,
              "fanout_run did not return after its input ended and every message went through");
    tl_assert(a.rc == 0, TL_WRONG, "fanout_run returned %d, want 0", a.rc);
    void *m;
    for (unsigned i = 0; i < nw; i++) {
        tl_assert(chan_recv(f.out, &m) == 0, TL_WRONG, "message %u of %u missing from the output", i + 1,
                  nw);
        note(&f, m, &f.delivered);
    }
    tl_assert(chan_recv(f.out, &m) == EPIPE, TL_WRONG,
              "after fanout_run returned, the output must end (EPIPE) once drained");
    fo_finish(&f, "workers at a gate");
}

TL_INTENT(output_ends_only_after_the_last_worker,
          "The output stream ends only after the last worker has finished its message, not when "
          "the first worker stops.");
TL_TEST(output_ends_only_after_the_last_worker)
{
    uint64_t rs = tl_input_seed();
    unsigned nw = 2 + (unsigned)(tl_rand(&rs) % 3);
    struct fo f;
    fo_init(&f, 1, nw, 2);
    f.gate_all = true;
    struct run_arg a = {&f, nw, -1};
    long running0 = tl_counts_now().threads_running;
    struct tl_call *call = tl_call_start(run_fanout, &a);
    tl_assert(chan_send(f.in, MSG(1)) == 0, TL_WRONG, "send into the input failed");
    chan_close_sender(f.in); /* one worker holds the only message; the others see the end and stop */
    int v = 0;
    for (int i = 0; i < 1000 * tl_bound_s() && atomic_load(&f.inside) == 0 && v == 0; i++) {
        tl_idle_ms(1);
        sem_getvalue(&call->done, &v);
    }
    if (atomic_load(&f.inside) == 0) { /* fanout_run returned, or no worker ran fn */
        tl_gate_open(&f.gate);
        bool back = tl_call_finish(call);
        tl_assert(false, TL_WRONG, "fanout_run (%u workers) %s %d without calling fn on the message",
                  nw, back ? "returned" : "is stuck; it returned", a.rc);
    }
    tl_gate_await_inside(&f.gate, 1);
    /* Let the other workers finish (they closed their handles): then only the helper running
     * fanout_run and the held worker are left. A bounded wait, not an assertion. */
    for (int i = 0; i < 1000 * tl_bound_s() && tl_counts_now().threads_running > running0 + 2; i++)
        tl_idle_ms(1);
    pthread_t c;
    tl_check_rc(pthread_create(&c, NULL, consumer, &f), "pthread_create");
    /* The held worker's sender handle is still open: the consumer must be blocked in chan_recv. */
    bool blocked = tl_await_blocked_n(TL_ST_COND, 2); /* the consumer, and the worker at the gate */
    int returned_early = atomic_load(&f.finished);
    tl_gate_open(&f.gate);
    tl_assert(returned_early == 0, TL_WRONG,
              "the output stream ended while one of %u workers still held a message: the stream "
              "must end at the last worker's close, not the first", nw);
    tl_assert(blocked, TL_BUSY_WAIT, "the consumer never blocked in a condition wait");
    tl_assert(finished(&f, 1), TL_LOST_WAKEUP,
              "the last worker sent its message and stopped, but the consumer never got the end of "
              "the output stream");
    tl_check_rc(pthread_join(c, NULL), "pthread_join");
    tl_assert(tl_call_finish(call), TL_LOST_WAKEUP, "fanout_run did not return after its input ended");
    tl_assert(a.rc == 0, TL_WRONG, "fanout_run returned %d, want 0", a.rc);
    tl_assert(f.delivered == 1, TL_WRONG, "the consumer got %d messages, want the 1 held one",
              f.delivered);
    fo_finish(&f, "one worker held");
}

TL_INTENT(a_worker_that_cannot_start,
          "When a worker thread cannot be created, fanout_run still gets the input through with "
          "the workers it has (or returns the error) and joins every thread it started.");
TL_TEST(a_worker_that_cannot_start)
{
    uint64_t rs = tl_input_seed();
    unsigned nw = 2 + (unsigned)(tl_rand(&rs) % 3);
    for (unsigned k = 1; k <= nw; k++) { /* the k-th worker cannot be created */
        struct fo f;
        fo_init(&f, 100 + (int)(tl_rand(&rs) % 100), nw, 1 + tl_rand(&rs) % 3);
        pthread_t p, c;
        tl_check_rc(pthread_create(&c, NULL, consumer, &f), "pthread_create");
        tl_check_rc(pthread_create(&p, NULL, producer, &f), "pthread_create");
        struct tl_counts c0 = tl_counts_now();
        tl_fault_nth(TL_FAULT_CREATE, k, EAGAIN);
        int rc = fanout_run(f.in, f.out, nw, fo_fn, &f, fo_drop);
        bool fired = tl_fault_fired(TL_FAULT_CREATE);
        tl_fault_nth(TL_FAULT_CREATE, 0, 0);
        struct tl_counts c1 = tl_counts_now();
        tl_assert(fired, TL_WRONG, "fanout_run with %u workers created only %ld thread(s)", nw,
                  c1.threads_created - c0.threads_created);
        long started = c1.threads_created - c0.threads_created,
             joined = c1.threads_joined - c0.threads_joined;
        tl_assert(joined == started, TL_THREAD_LEAK,
                  "worker %u of %u could not be created: fanout_run returned with %ld of the %ld "
                  "workers it started joined", k, nw, joined, started);
        tl_assert(rc == EAGAIN, TL_ERROR_PATH,
                  "worker %u of %u could not be created (EAGAIN), but fanout_run returned %d", k, nw, rc);
        /* The handles of the workers that never ran must be closed: else the producer (k = 1) or
         * the consumer waits forever, and the watchdog reports it. */
        tl_assert(finished(&f, 2), TL_LOST_WAKEUP,
                  "worker %u of %u could not be created: fanout_run returned, but the %s still waits: "
                  "the handles of the workers that never started must be closed", k, nw,
                  atomic_load(&f.delivered) + atomic_load(&f.kept) == 0 ? "producer or consumer"
                                                                       : "consumer");
        tl_check_rc(pthread_join(p, NULL), "pthread_join");
        tl_check_rc(pthread_join(c, NULL), "pthread_join");
        if (k > 1)
            tl_assert(f.delivered == f.n, TL_WRONG,
                      "with %u of %u workers started, the consumer got %d of %d messages: the workers "
                      "that started must carry on with the whole input", k - 1, nw, f.delivered, f.n);
        fo_finish(&f, "a worker could not start");
    }
}

TL_INTENT(workers_stop_when_nobody_listens,
          "When nobody receives from the output, the workers stop, pass their messages to drop, "
          "and the producer is not left blocked.");
TL_TEST(workers_stop_when_nobody_listens)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 4; round++) {
        unsigned nw = 1 + (unsigned)(tl_rand(&rs) % 3);
        struct fo f;
        fo_init(&f, 50 + (int)(tl_rand(&rs) % 100), nw, 1 + tl_rand(&rs) % 3);
        chan_close_receiver(f.out); /* nobody will ever receive from the output */
        pthread_t p;
        tl_check_rc(pthread_create(&p, NULL, producer, &f), "pthread_create");
        int rc = fanout_run(f.in, f.out, nw, fo_fn, &f, fo_drop);
        tl_assert(rc == 0, TL_WRONG, "fanout_run returned %d, want 0", rc);
        tl_assert(finished(&f, 1), TL_LOST_WAKEUP,
                  "every worker stopped (nobody listens to the output), but the producer's send still "
                  "blocks: each worker must close its receiver handle of the input");
        tl_check_rc(pthread_join(p, NULL), "pthread_join");
        tl_assert(f.dropped >= 1, TL_MEMORY,
                  "no message was passed to drop although every send to the output failed");
        fo_finish(&f, "output closed");
    }
}

TL_INTENT(idle_workers_do_not_spin,
          "Workers waiting for input sleep in a condition wait instead of polling, and an empty "
          "input gives an empty output.");
TL_TEST(idle_workers_do_not_spin)
{
    uint64_t rs = tl_input_seed();
    unsigned nw = 1 + (unsigned)(tl_rand(&rs) % 3);
    struct fo f;
    fo_init(&f, 1, nw, 2);
    struct run_arg a = {&f, nw, -1};
    struct tl_call *call = tl_call_start(run_fanout, &a);
    bool blocked = tl_await_blocked_n(TL_ST_COND, (int)nw);
    struct tl_activity act = tl_watch_idle(TL_IDLE_MS);
    chan_close_sender(f.in);
    tl_assert(tl_call_finish(call), TL_LOST_WAKEUP,
              "fanout_run did not return after its empty input ended");
    tl_assert(blocked, TL_BUSY_WAIT, "%u workers on an empty input never all blocked in a condition wait",
              nw);
    tl_assert(!tl_activity_busy(&act), TL_BUSY_WAIT,
              "%s: workers waiting for input must sleep in a condition wait", tl_activity_str(&act));
    void *m;
    tl_assert(chan_recv(f.out, &m) == EPIPE, TL_WRONG, "an empty input must give an empty output");
    f.seen[1] = 1; /* message 1 was never used here */
    fo_finish(&f, "idle");
}

static const struct tl_test tl_tests[] = {
    TL_RUN(every_message_once_through_n_workers),
    TL_RUN(workers_run_at_the_same_time),
    TL_RUN(output_ends_only_after_the_last_worker),
    TL_RUN(a_worker_that_cannot_start),
    TL_RUN(workers_stop_when_nobody_listens),
    TL_RUN(idle_workers_do_not_spin),
};

TL_MAIN("05-pipeline/fanout")
