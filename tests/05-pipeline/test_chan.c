/*
 * test_chan.c - tests for chapters/05-pipeline/chan.c.
 *
 * What it shows: how to test every close rule of a channel without a clock.
 * To check that a call blocks, a thread makes it and the test waits until
 * the kit's wait-for table shows that thread inside a condition wait
 * (tl_await_blocked_n); only then does it make the change that must release
 * it (a send, a receive, the last close), and then it checks that the
 * thread came back. So every documented wake-up path runs on every run, not
 * only when the scheduler happens to line it up.
 *
 * DESIGN: messages are small integers cast to pointers (never NULL), so
 * "delivered exactly once" and "in order per sender" are plain counts and
 * comparisons, and nothing is allocated. Where a lost wake-up could strand a
 * thread, the main thread waits for it on a latch rather than in
 * pthread_join, so the watchdog's wait-for table shows every thread in a
 * condition wait. Spurious wake-ups (tl_spurious_set) make an `if` around a
 * wait fail in the functional pass too, not only in chaos.
 */
#define _GNU_SOURCE
#include "tlcheck.h"
#include "tltest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "chan.h"

/* ------------------------------------------------------------ helpers */

#define MSG(x) ((void *)(uintptr_t)(x))
#define VAL(p) ((uintptr_t)(p))

static chan *make_chan(size_t cap, unsigned s, unsigned r)
{
    errno = 0;
    chan *c = chan_create(cap, s, r);
    tl_assert(c != NULL, TL_WRONG, "chan_create(%zu, %u, %u) returned NULL (errno %d)", cap, s, r,
              errno);
    return c;
}

/* Drops counted by value: drop_seen[v] goes up by one per drop of MSG(v). */
enum { MAXDROP = 64 };
static atomic_int drop_seen[MAXDROP];
static atomic_int drops;

static void count_drop(void *msg)
{
    atomic_fetch_add(&drops, 1);
    if (VAL(msg) < MAXDROP)
        atomic_fetch_add(&drop_seen[VAL(msg)], 1);
}

static void reset_drops(void)
{
    atomic_store(&drops, 0);
    for (int i = 0; i < MAXDROP; i++)
        atomic_store(&drop_seen[i], 0);
}

/* A thread that makes one send or one receive and reports how it went. */
struct caller {
    chan *c;
    void *msg;            /* sent, or received into */
    int rc;
    atomic_int *returned; /* shared count of callers whose call came back */
    struct tl_latch *latch;
};

static void *recv_once(void *p)
{
    struct caller *k = p;
    k->rc = chan_recv(k->c, &k->msg);
    atomic_fetch_add(k->returned, 1);
    if (k->latch != NULL)
        tl_latch_arrive(k->latch);
    return NULL;
}

static void *send_once(void *p)
{
    struct caller *k = p;
    k->rc = chan_send(k->c, k->msg);
    atomic_fetch_add(k->returned, 1);
    if (k->latch != NULL)
        tl_latch_arrive(k->latch);
    return NULL;
}

/* snippet: start_blocked */
/* Start n callers of fn on c (messages MSG(first + i) for senders) and make
 * sure each of them is blocked in a condition wait; `what` names the call
 * for the messages. The callers arrive at latch when they return. */
static void start_blocked(struct caller *k, pthread_t *th, int n, void *(*fn)(void *), chan *c,
                          uintptr_t first, atomic_int *returned, struct tl_latch *latch,
                          const char *what)
{
    int before = tl_blocked_count(TL_ST_COND);
    for (int i = 0; i < n; i++) {
        k[i] = (struct caller){.c = c, .msg = MSG(first + (uintptr_t)i), .rc = -1,
                               .returned = returned, .latch = latch};
        tl_check_rc(pthread_create(&th[i], NULL, fn, &k[i]), "pthread_create");
    }
    bool blocked = tl_await_blocked_n(TL_ST_COND, before + n);
    long spurious = tl_counts_now().cond_spurious;
    tl_assert(atomic_load(returned) == 0, TL_WRONG, "%s returned %d: it must block%s", what,
              k[0].rc,
              spurious > 0 ? " (a condition wait woke without a signal here, as POSIX allows: the "
                             "wait must sit in a `while` that checks again, not an `if`)"
                           : "");
    tl_assert(blocked, TL_BUSY_WAIT,
              "%s: %d thread(s) calling it never waited on a condition variable (%d of %d did)",
              what, n, tl_blocked_count(TL_ST_COND) - before, n);
}
/* end snippet: start_blocked */

/* Returns whether *returned reached n within tl_bound_s() (scaled with the
 * load by the grader): a thread that was blocked when the event came must be
 * back by then. Makes no wrapped call; blocks in poll(). */
static bool await_returned(atomic_int *returned, int n)
{
    for (int i = 0; i < 1000 * tl_bound_s() && atomic_load(returned) < n; i++)
        tl_idle_ms(1);
    return atomic_load(returned) >= n;
}

/* -------------------------------------------------------------- tests */

TL_INTENT(fifo_and_close_rules_on_one_thread,
          "On one thread, messages come out in the order they went in, bad sizes give EINVAL, "
          "and the close rules for senders and receivers hold.");
TL_TEST(fifo_and_close_rules_on_one_thread)
{
    uint64_t rs = tl_input_seed();
    errno = 0;
    tl_assert(chan_create(0, 1, 1) == NULL && errno == EINVAL, TL_WRONG,
              "chan_create(0, 1, 1) must return NULL with errno EINVAL (errno %d)", errno);
    errno = 0;
    tl_assert(chan_create(4, 0, 1) == NULL && errno == EINVAL, TL_WRONG,
              "chan_create(4, 0, 1) (no sender) must return NULL with errno EINVAL (errno %d)", errno);
    errno = 0;
    tl_assert(chan_create(4, 1, 0) == NULL && errno == EINVAL, TL_WRONG,
              "chan_create(4, 1, 0) (no receiver) must return NULL with errno EINVAL (errno %d)",
              errno);
    size_t cap = 1 + tl_rand(&rs) % 16;
    unsigned ns = 1 + (unsigned)(tl_rand(&rs) % 3);
    chan *c = make_chan(cap, ns, 1);
    uintptr_t base = 1 + (uintptr_t)(tl_rand(&rs) % 100000) * 64;
    for (int round = 0; round < 3; round++) { /* three rounds: the ring wraps around */
        size_t n = round == 1 ? cap : 1 + tl_rand(&rs) % cap;
        for (size_t i = 0; i < n; i++) {
            int rc = chan_send(c, MSG(base + i));
            tl_assert(rc == 0, TL_WRONG, "send %zu of %zu into an open channel returned %d", i, n, rc);
        }
        tl_assert(chan_len(c) == n, TL_WRONG, "chan_len: %zu after %zu sends", chan_len(c), n);
        for (size_t i = 0; i < n; i++) {
            void *m = NULL;
            int rc = chan_recv(c, &m);
            tl_assert(rc == 0 && m == MSG(base + i), TL_WRONG,
                      "recv %zu of %zu (capacity %zu, round %d) returned %d with %p, want %p: not FIFO",
                      i, n, cap, round, rc, m, MSG(base + i));
        }
        tl_assert(chan_len(c) == 0, TL_WRONG, "chan_len: %zu after receiving all", chan_len(c));
    }
    /* Senders: the stream ends only after the last of them closed, and after the queue drained. */
    size_t left = 1 + tl_rand(&rs) % cap;
    for (size_t i = 0; i < left; i++)
        tl_assert(chan_send(c, MSG(base + i)) == 0, TL_WRONG, "send failed");
    for (unsigned i = 0; i < ns; i++)
        chan_close_sender(c);
    for (size_t i = 0; i < left; i++) {
        void *m = NULL;
        int rc = chan_recv(c, &m);
        tl_assert(rc == 0 && m == MSG(base + i), TL_WRONG,
                  "after every sender closed, queued message %zu of %zu must still be received "
                  "(rc %d)", i, left, rc);
    }
    void *m = NULL;
    tl_assert(chan_recv(c, &m) == EPIPE, TL_WRONG,
              "recv on a drained channel whose %u sender(s) all closed must return EPIPE", ns);
    chan_close_sender(c); /* an extra close does nothing */
    tl_assert(chan_recv(c, &m) == EPIPE, TL_WRONG, "recv after an extra close must return EPIPE");
    chan_destroy(c, NULL);

    /* Receivers: once the last one closed, a send fails at once, even with room; destroy drops the rest. */
    unsigned nr = 2 + (unsigned)(tl_rand(&rs) % 2);
    c = make_chan(8, 1, nr);
    reset_drops();
    size_t queued = 1 + tl_rand(&rs) % 6;
    for (size_t i = 0; i < queued; i++)
        tl_assert(chan_send(c, MSG(1 + i)) == 0, TL_WRONG, "send failed");
    for (unsigned i = 0; i + 1 < nr; i++)
        chan_close_receiver(c);
    tl_assert(chan_send(c, MSG(1 + queued)) == 0, TL_WRONG,
              "send after %u of %u receivers closed must still succeed", nr - 1, nr);
    queued++;
    chan_close_receiver(c);
    tl_assert(chan_send(c, MSG(40)) == EPIPE, TL_WRONG,
              "send after every receiver closed must return EPIPE at once (the channel had room)");
    chan_close_receiver(c); /* an extra close does nothing */
    chan_destroy(c, count_drop);
    tl_assert(atomic_load(&drops) == (int)queued, TL_MEMORY,
              "chan_destroy dropped %d messages, but %zu were still queued: the rest leak",
              atomic_load(&drops), queued);
    for (size_t i = 1; i <= queued; i++)
        tl_assert(drop_seen[i] == 1, TL_MEMORY, "chan_destroy dropped message %zu %d times, want once",
                  i, drop_seen[i]);
    tl_assert(drop_seen[40] == 0, TL_WRONG, "a message whose send failed was queued anyway");
}

TL_INTENT(create_out_of_memory_leaves_nothing,
          "When an allocation in chan_create fails, it returns NULL with errno ENOMEM and leaves "
          "nothing allocated.");
TL_TEST(create_out_of_memory_leaves_nothing)
{
    for (long nth = 1; nth <= 3; nth++) {
        struct tl_counts c0 = tl_counts_now();
        tl_fault_nth(TL_FAULT_MALLOC, nth, 0);
        errno = 0;
        chan *c = chan_create(8, 1, 1);
        int e = errno;
        bool fired = tl_fault_fired(TL_FAULT_MALLOC);
        tl_fault_nth(TL_FAULT_MALLOC, 0, 0);
        if (fired)
            tl_assert(c == NULL && e == ENOMEM, TL_ERROR_PATH,
                      "allocation %ld in chan_create failed, but it returned %p with errno %d; want "
                      "NULL and ENOMEM", nth, (void *)c, e);
        else
            tl_assert(c != NULL, TL_WRONG,
                      "chan_create(8, 1, 1) returned NULL (errno %d) although no allocation failed", e);
        chan_destroy(c, NULL);
        struct tl_counts c1 = tl_counts_now();
        long kept = tl_heap_kept(&c0, &c1);
        tl_assert(kept <= 0, TL_MEMORY,
                  "chan_create with allocation %ld failing, then chan_destroy: %ld block(s) never "
                  "freed", nth, kept);
        if (!fired)
            break;
    }
}

TL_INTENT(recv_blocks_until_a_send,
          "chan_recv on an empty channel sleeps until another thread sends, then returns that "
          "message.");
TL_TEST(recv_blocks_until_a_send)
{
    uint64_t rs = tl_input_seed();
    chan *c = make_chan(1 + tl_rand(&rs) % 8, 1, 1);
    atomic_int returned = 0;
    struct tl_latch latch;
    tl_latch_init(&latch);
    struct caller k;
    pthread_t th;
    start_blocked(&k, &th, 1, recv_once, c, 0, &returned, &latch, "chan_recv on an empty channel");
    uintptr_t v = 1 + tl_rand(&rs) % 1000;
    tl_assert(chan_send(c, MSG(v)) == 0, TL_WRONG, "send into an empty channel failed");
    tl_assert(await_returned(&returned, 1), TL_LOST_WAKEUP,
              "the receiver blocked on an empty channel was not woken by a send");
    tl_check_rc(pthread_join(th, NULL), "pthread_join");
    tl_assert(k.rc == 0 && k.msg == MSG(v), TL_WRONG,
              "the blocked recv must return the message sent (rc %d, got %p, want %p)", k.rc, k.msg,
              MSG(v));
    tl_latch_destroy(&latch);
    chan_destroy(c, NULL);
}

TL_INTENT(send_blocks_while_full,
          "chan_send on a full channel sleeps until another thread receives and frees a slot.");
TL_TEST(send_blocks_while_full)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 3; round++) {
        size_t cap = 1 + tl_rand(&rs) % 6;
        chan *c = make_chan(cap, 2, 1);
        for (size_t i = 0; i < cap; i++)
            tl_assert(chan_send(c, MSG(i + 1)) == 0, TL_WRONG, "send %zu of %zu failed", i, cap);
        atomic_int returned = 0;
        struct tl_latch latch;
        tl_latch_init(&latch);
        struct caller k;
        pthread_t th;
        char what[96];
        snprintf(what, sizeof what, "chan_send into a full channel (capacity %zu)", cap);
        start_blocked(&k, &th, 1, send_once, c, cap + 1, &returned, &latch, what);
        size_t len = chan_len(c);
        tl_assert(len == cap, TL_WRONG, "chan_len is %zu with a sender blocked, want the capacity %zu",
                  len, cap);
        void *m = NULL;
        tl_assert(chan_recv(c, &m) == 0 && m == MSG(1), TL_WRONG, "recv from a full channel");
        tl_assert(await_returned(&returned, 1), TL_LOST_WAKEUP,
                  "the sender blocked on a full channel was not woken when a receive freed a slot");
        tl_check_rc(pthread_join(th, NULL), "pthread_join");
        tl_assert(k.rc == 0, TL_WRONG, "the blocked send must succeed once there is room (rc %d)",
                  k.rc);
        for (size_t i = 2; i <= cap + 1; i++)
            tl_assert(chan_recv(c, &m) == 0 && m == MSG(i), TL_WRONG,
                      "after the blocked send: recv %zu got %p", i, m);
        tl_latch_destroy(&latch);
        chan_destroy(c, NULL);
    }
}

TL_INTENT(stream_ends_after_the_last_sender_closes,
          "Receivers keep getting messages while any sender is open, and a blocked receiver "
          "learns the stream ended only when the last sender closes.");
TL_TEST(stream_ends_after_the_last_sender_closes)
{
    uint64_t rs = tl_input_seed();
    enum { MAXK = 4 };
    unsigned ns = 2 + (unsigned)(tl_rand(&rs) % 3);
    int k = 2 + (int)(tl_rand(&rs) % (MAXK - 1));
    chan *c = make_chan(1 + tl_rand(&rs) % 4, ns, (unsigned)k);
    for (unsigned i = 0; i + 1 < ns; i++)
        chan_close_sender(c); /* every sender but one is done */
    struct caller w[MAXK];
    pthread_t th[MAXK];
    atomic_int returned = 0;
    struct tl_latch latch;
    tl_latch_init(&latch);
    char what[120];
    snprintf(what, sizeof what,
             "chan_recv on an empty channel after %u of its %u senders closed (one is still open)",
             ns - 1, ns);
    start_blocked(w, th, 1, recv_once, c, 0, &returned, &latch, what);
    tl_assert(chan_send(c, MSG(7)) == 0, TL_WRONG, "the last open sender's send failed");
    tl_assert(await_returned(&returned, 1), TL_LOST_WAKEUP,
              "the receiver blocked while one sender was still open was not woken by its send");
    tl_check_rc(pthread_join(th[0], NULL), "pthread_join");
    tl_assert(w[0].rc == 0 && w[0].msg == MSG(7), TL_WRONG,
              "a receiver blocked while one sender was still open got rc %d, %p: want 0 and the "
              "message it sent", w[0].rc, w[0].msg);
    tl_latch_destroy(&latch);

    /* k receivers block; the last sender's close must wake every one of them with EPIPE. */
    atomic_store(&returned, 0);
    tl_latch_init(&latch);
    start_blocked(w, th, k, recv_once, c, 0, &returned, &latch, "chan_recv on an empty channel");
    chan_close_sender(c);
    tl_assert(await_returned(&returned, k), TL_LOST_WAKEUP,
              "%d of %d receivers blocked on the empty channel returned after the last sender closed: "
              "the last close must wake every one of them", atomic_load(&returned), k);
    for (int i = 0; i < k; i++) {
        tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
        tl_assert(w[i].rc == EPIPE, TL_WRONG,
                  "a receiver blocked when the last sender closed returned %d, want EPIPE", w[i].rc);
    }
    tl_latch_destroy(&latch);
    chan_destroy(c, NULL);
}

TL_INTENT(send_fails_once_the_last_receiver_closes,
          "When the last receiver closes, every sender blocked on a full channel is woken and "
          "gets EPIPE, and chan_destroy drops what was still queued.");
TL_TEST(send_fails_once_the_last_receiver_closes)
{
    uint64_t rs = tl_input_seed();
    enum { MAXK = 4 };
    unsigned nr = 2 + (unsigned)(tl_rand(&rs) % 3);
    int k = 2 + (int)(tl_rand(&rs) % (MAXK - 1));
    size_t cap = 1 + tl_rand(&rs) % 3;
    chan *c = make_chan(cap, (unsigned)k + 1, nr);
    reset_drops();
    for (size_t i = 0; i < cap; i++)
        tl_assert(chan_send(c, MSG(1 + i)) == 0, TL_WRONG, "send failed");
    for (unsigned i = 0; i + 1 < nr; i++)
        chan_close_receiver(c); /* every receiver but one is gone */
    struct caller w[MAXK];
    pthread_t th[MAXK];
    atomic_int returned = 0;
    struct tl_latch latch;
    tl_latch_init(&latch);
    char what[120];
    snprintf(what, sizeof what,
             "chan_send into a full channel after %u of its %u receivers closed (one is still open)",
             nr - 1, nr);
    start_blocked(w, th, k, send_once, c, 20, &returned, &latch, what);
    chan_close_receiver(c); /* the last one: every blocked sender must give up */
    tl_assert(await_returned(&returned, k), TL_LOST_WAKEUP,
              "%d of %d senders blocked on the full channel returned after the last receiver closed: "
              "the last close must wake every one of them", atomic_load(&returned), k);
    for (int i = 0; i < k; i++) {
        tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
        tl_assert(w[i].rc == EPIPE, TL_WRONG,
                  "a sender blocked when the last receiver closed returned %d, want EPIPE", w[i].rc);
    }
    chan_destroy(c, count_drop);
    tl_assert(atomic_load(&drops) == (int)cap, TL_MEMORY,
              "chan_destroy dropped %d messages, %zu were queued", atomic_load(&drops), cap);
    for (int i = 0; i < k; i++)
        tl_assert(drop_seen[20 + i] == 0, TL_WRONG,
                  "a message whose send returned EPIPE was queued anyway");
    tl_latch_destroy(&latch);
}

TL_INTENT(each_waiting_thread_is_woken,
          "When several receivers (or senders) are waiting and messages (or slots) arrive back "
          "to back, every one of them is woken.");
TL_TEST(each_waiting_thread_is_woken)
{
    uint64_t rs = tl_input_seed();
    enum { MAXK = 4 };
    for (int round = 0; round < 8; round++) {
        int k = 2 + (int)(tl_rand(&rs) % (MAXK - 1));
        struct caller w[MAXK];
        pthread_t th[MAXK];
        atomic_int returned = 0;
        struct tl_latch latch;

        /* k receivers wait on an empty channel, then k messages arrive back to back. */
        chan *c = make_chan((size_t)k + tl_rand(&rs) % 3, 1, 1);
        tl_latch_init(&latch);
        start_blocked(w, th, k, recv_once, c, 0, &returned, &latch, "chan_recv on an empty channel");
        for (int i = 0; i < k; i++)
            tl_assert(chan_send(c, MSG(i + 1)) == 0, TL_WRONG, "send failed");
        tl_assert(await_returned(&returned, k), TL_LOST_WAKEUP,
                  "%d of %d receivers returned after %d messages arrived back to back: each must be woken", atomic_load(&returned), k, k);
        unsigned seen = 0;
        for (int i = 0; i < k; i++) {
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
            tl_assert(w[i].rc == 0, TL_WRONG, "recv returned %d", w[i].rc);
            seen |= 1u << VAL(w[i].msg);
        }
        tl_assert(seen == ((1u << (k + 1)) - 2), TL_WRONG, "each message must be received exactly once");
        tl_latch_destroy(&latch);
        chan_destroy(c, NULL);

        /* k senders wait on a full channel, then k slots free up back to back. */
        c = make_chan((size_t)k, 1, 1);
        for (int i = 0; i < k; i++)
            tl_assert(chan_send(c, MSG(i + 1)) == 0, TL_WRONG, "send failed");
        tl_latch_init(&latch);
        atomic_store(&returned, 0);
        start_blocked(w, th, k, send_once, c, (uintptr_t)k + 1, &returned, &latch,
                      "chan_send into a full channel");
        for (int i = 0; i < k; i++) {
            void *m = NULL;
            tl_assert(chan_recv(c, &m) == 0 && m == MSG(i + 1), TL_WRONG, "recv %d from a full channel",
                      i);
        }
        tl_assert(await_returned(&returned, k), TL_LOST_WAKEUP,
                  "%d of %d senders returned after %d slots freed up back to back: each must be woken", atomic_load(&returned), k, k);
        seen = 0;
        for (int i = 0; i < k; i++) {
            tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
            tl_assert(w[i].rc == 0, TL_WRONG, "send returned %d", w[i].rc);
            void *m = NULL;
            tl_assert(chan_recv(c, &m) == 0, TL_WRONG, "recv of a sent message");
            seen |= 1u << (VAL(m) - (uintptr_t)k);
        }
        tl_assert(seen == ((1u << (k + 1)) - 2), TL_WRONG, "each message sent must arrive exactly once");
        tl_latch_destroy(&latch);
        chan_destroy(c, NULL);
    }
}

/* ---------------------------------------------------------------- stress */

enum { MAXP = 3, MAXC = 3, SEQ_BITS = 16 };

struct stress {
    chan *c;
    size_t cap;
    int per;                       /* messages per sender */
    unsigned np;
    atomic_int senders_closed;     /* senders that are about to close (or closed) */
    atomic_int *got;               /* np * per receive counts */
    atomic_int send_errors, recv_errors, early_eos, out_of_order, bad_msg, over_bound;
    atomic_int stop_watch;
    atomic_ulong moved;            /* messages sent or received so far (relaxed: orders nothing) */
    struct tl_latch done;          /* receivers arrive when they got EPIPE */
};

struct stress_arg {
    struct stress *s;
    unsigned id;
};

/* Counts one message moved, for the watcher's idea of progress. */
static void note_moved(struct stress *s)
{
    atomic_fetch_add_explicit(&s->moved, 1, memory_order_relaxed);
}

static void *stress_sender(void *p)
{
    struct stress_arg *a = p;
    struct stress *s = a->s;
    for (int i = 0; i < s->per; i++)
        if (chan_send(s->c, MSG(((uintptr_t)a->id << SEQ_BITS | (uintptr_t)i) + 1)) != 0)
            atomic_fetch_add(&s->send_errors, 1);
        else
            note_moved(s);
    atomic_fetch_add(&s->senders_closed, 1);
    chan_close_sender(s->c);
    return NULL;
}

static void *stress_receiver(void *p)
{
    struct stress_arg *a = p;
    struct stress *s = a->s;
    int last[MAXP] = {-1, -1, -1};
    for (;;) {
        void *m = NULL;
        int rc = chan_recv(s->c, &m);
        if (rc == 0)
            note_moved(s);
        if (rc == EPIPE) {
            if (atomic_load(&s->senders_closed) < (int)s->np) /* end-of-stream before the last close */
                atomic_fetch_add(&s->early_eos, 1);
            break;
        }
        if (rc != 0) {
            atomic_fetch_add(&s->recv_errors, 1);
            break;
        }
        uintptr_t v = VAL(m) - 1, id = v >> SEQ_BITS, seq = v & ((1u << SEQ_BITS) - 1);
        if (m == NULL || id >= s->np || seq >= (uintptr_t)s->per) {
            atomic_fetch_add(&s->bad_msg, 1);
            continue;
        }
        if ((int)seq <= last[id]) /* one sender's messages must come out in order */
            atomic_fetch_add(&s->out_of_order, 1);
        last[id] = (int)seq;
        atomic_fetch_add(&s->got[id * (uintptr_t)s->per + seq], 1);
    }
    chan_close_receiver(s->c);
    tl_latch_arrive(&s->done);
    return NULL;
}

/* Reads chan_len while the others send and receive: the bound must hold, and
 * an unlocked read of the count races with them under ThreadSanitizer. */
/* Reads chan_len while messages move (tl_poll_again: it steps aside when none does). */
static void *len_watcher(void *p)
{
    struct stress *s = p;
    struct tl_poller poll = {0, 0};
    while (tl_poll_again(&poll, &s->stop_watch, atomic_load_explicit(&s->moved, memory_order_relaxed)))
        if (chan_len(s->c) > s->cap)
            atomic_fetch_add(&s->over_bound, 1);
    return NULL;
}

/* One round: np senders, nc receivers and a chan_len reader on a small channel. */
static void stress_round(uint64_t *rs, const char *when)
{
    unsigned np = 1 + (unsigned)(tl_rand(rs) % MAXP), nc = 1 + (unsigned)(tl_rand(rs) % MAXC);
    struct stress s = {.per = 150 + (int)(tl_rand(rs) % 150), .np = np};
    s.cap = 1 + tl_rand(rs) % 4;
    s.c = make_chan(s.cap, np, nc);
    s.got = calloc(np * (size_t)s.per, sizeof *s.got);
    ck_assert(s.got != NULL);
    tl_latch_init(&s.done);
    struct stress_arg args[MAXP + MAXC];
    pthread_t th[MAXP + MAXC], watcher;
    tl_check_rc(pthread_create(&watcher, NULL, len_watcher, &s), "pthread_create");
    for (unsigned i = 0; i < nc + np; i++) {
        args[i] = (struct stress_arg){&s, i < nc ? i : i - nc};
        tl_check_rc(pthread_create(&th[i], NULL, i < nc ? stress_receiver : stress_sender, &args[i]),
                    "pthread_create");
    }
    tl_latch_wait(&s.done, (int)nc); /* a lost end-of-stream leaves us (and them) waiting here */
    atomic_store(&s.stop_watch, 1);
    tl_check_rc(pthread_join(watcher, NULL), "pthread_join");
    for (unsigned i = 0; i < nc + np; i++)
        tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
    tl_assert(s.over_bound == 0, TL_WRONG,
              "%s: chan_len exceeded the capacity %zu %d times: the channel must never hold more",
              when, s.cap, s.over_bound);
    tl_assert(s.send_errors == 0 && s.recv_errors == 0, TL_WRONG,
              "%s: %d sends into an open channel failed, %d receives returned an error other than "
              "EPIPE", when, s.send_errors, s.recv_errors);
    tl_assert(s.early_eos == 0, TL_WRONG,
              "%s: %d receiver(s) got end-of-stream (EPIPE) before the last of %u senders closed",
              when, s.early_eos, np);
    tl_assert(s.bad_msg == 0, TL_WRONG, "%s: %d received messages were never sent", when, s.bad_msg);
    tl_assert(s.out_of_order == 0, TL_WRONG,
              "%s: %d messages of one sender came out of order", when, s.out_of_order);
    for (unsigned i = 0; i < np * (unsigned)s.per; i++)
        tl_assert(s.got[i] == 1, TL_WRONG,
                  "%s: message %u of sender %u was received %d times, want exactly once (%u senders, "
                  "%u receivers, capacity %zu)",
                  when, i % (unsigned)s.per, i / (unsigned)s.per, s.got[i], np, nc, s.cap);
    tl_latch_destroy(&s.done);
    chan_destroy(s.c, NULL);
    free(s.got);
}

TL_INTENT(stress_every_message_once_in_order,
          "With many senders and receivers racing, every message is received exactly once, and "
          "each sender's messages arrive in the order it sent them.");
TL_TEST(stress_every_message_once_in_order)
{
    uint64_t rs = tl_input_seed();
    for (int round = 0; round < 6; round++)
        stress_round(&rs, "stress");
}

TL_INTENT(spurious_wakeups_change_nothing,
          "A wait that returns early with no signal (POSIX allows it) makes no send or receive "
          "return too soon and loses or repeats no message.");
TL_TEST(spurious_wakeups_change_nothing)
{
    uint64_t rs = tl_input_seed();
    tl_spurious_set(250); /* a quarter of the waits return without a signal */
    for (int round = 0; round < 4; round++)
        stress_round(&rs, "with spurious wake-ups");
    tl_spurious_set(0);
}

TL_INTENT(blocked_threads_do_not_spin,
          "Senders blocked on a full channel and receivers on an empty one sleep in a condition "
          "wait instead of polling, and a close wakes them all.");
TL_TEST(blocked_threads_do_not_spin)
{
    uint64_t rs = tl_input_seed();
    int k = 1 + (int)(tl_rand(&rs) % 2);
    chan *empty = make_chan(2, 1, (unsigned)k), *full = make_chan(1, (unsigned)k + 1, 1);
    tl_assert(chan_send(full, MSG(1)) == 0, TL_WRONG, "send failed");
    struct caller w[4];
    pthread_t th[4];
    atomic_int returned = 0;
    struct tl_latch latch;
    tl_latch_init(&latch);
    start_blocked(w, th, k, recv_once, empty, 0, &returned, &latch, "chan_recv on an empty channel");
    start_blocked(w + k, th + k, k, send_once, full, 2, &returned, &latch,
                  "chan_send into a full channel");
    struct tl_activity a = tl_watch_idle(TL_IDLE_MS);
    chan_close_sender(empty);
    chan_close_receiver(full);
    tl_assert(await_returned(&returned, 2 * k), TL_LOST_WAKEUP,
              "%d of %d blocked senders and receivers returned after the close", atomic_load(&returned), 2 * k);
    for (int i = 0; i < 2 * k; i++)
        tl_check_rc(pthread_join(th[i], NULL), "pthread_join");
    tl_assert(!tl_activity_busy(&a), TL_BUSY_WAIT,
              "%s: blocked senders and receivers must sleep in a condition wait", tl_activity_str(&a));
    tl_latch_destroy(&latch);
    chan_destroy(empty, NULL);
    chan_destroy(full, NULL);
}

static const struct tl_test tl_tests[] = {
    TL_RUN(fifo_and_close_rules_on_one_thread),
    TL_RUN(create_out_of_memory_leaves_nothing),
    TL_RUN(recv_blocks_until_a_send),
    TL_RUN(send_blocks_while_full),
    TL_RUN(stream_ends_after_the_last_sender_closes),
    TL_RUN(send_fails_once_the_last_receiver_closes),
    TL_RUN(each_waiting_thread_is_woken),
    TL_RUN(stress_every_message_once_in_order),
    TL_RUN(spurious_wakeups_change_nothing),
    TL_RUN(blocked_threads_do_not_spin),
};

TL_MAIN("05-pipeline/chan")
