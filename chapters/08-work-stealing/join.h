/*
 * join.h - a small Rayon-like runtime: workers, deques, and join
 * (chapter 8, exercise "join").
 *
 * What it shows: fork-join parallelism with work stealing. A fixed set of
 * workers each owns a deque (deque.h). ws_join(p, a, b) pushes b on the
 * calling worker's deque, runs a itself, and then pops b back - the common
 * case, when nobody was idle - or, if a thief took b meanwhile, helps: it
 * steals and runs other tasks until b is done, instead of blocking. That is
 * why nested joins never deadlock, even on a pool of one worker, and why an
 * idle worker never waits while there is work anywhere.
 *
 * DESIGN: a task is a function and its argument; the task b lives on the
 * joiner's stack, which is safe because ws_join does not return before b is
 * done. Workers that find nothing to steal back off with sched_yield and then
 * sleep on a condition variable; a push wakes one sleeper.
 *
 * This header is the contract; do not change it. Write join.c (it uses your
 * deque.c).
 */
#ifndef TL_JOIN_H
#define TL_JOIN_H

typedef struct ws_pool ws_pool;

/* A task body. */
typedef void ws_fn(void *arg);

/* A pool of nworkers worker threads, each with its own deque, all idle.
 * Returns NULL with errno EINVAL when nworkers < 1 or > 64, or the error of
 * the allocation or pthread_create that failed (nothing is left running or
 * allocated then). Never blocks. */
ws_pool *ws_pool_create(int nworkers);

/* From a thread that is not one of p's workers: runs fn(arg) on one of p's
 * workers and returns when it (and every task it joined) is done. Blocks on a
 * condition variable until then. Several threads may call it at once. */
void ws_run(ws_pool *p, ws_fn *fn, void *arg);

/* From inside a task running on p: runs a(aa) and b(ba), possibly in
 * parallel, and returns when both are done. b is offered to thieves while the
 * caller runs a; if it was stolen, the caller runs other tasks until it is
 * done. Called from any other thread, it runs a then b. Blocks only while b
 * runs on another worker, and then it keeps working. */
void ws_join(ws_pool *p, ws_fn *a, void *aa, ws_fn *b, void *ba);

/* The index (0 .. nworkers-1) of the calling worker of p, or -1 when the
 * caller is not one of p's workers. Never blocks. */
int ws_worker_index(const ws_pool *p);

/* How many tasks worker w of p has stolen so far. Never blocks. */
long ws_steals(const ws_pool *p, int w);

/* Stop p's workers, join them and free p. The caller guarantees that no
 * ws_run on p is in progress or will start. Blocks until the workers exit. */
void ws_pool_destroy(ws_pool *p);

#endif /* TL_JOIN_H */
