/* expect: deadlock */
/* BUG (transfer--argument-order): lock_pair() takes the locks in argument order, from then to: A->B holds A and waits for B while B->A holds B and waits for A */
/*
 * transfer.c - a bank of accounts, each with its own lock (a known-buggy
 * variant: see the BUG line above).
 *
 * What it shows: fine-grained locking done right. A transfer locks exactly
 * the two accounts it touches, so transfers between other accounts run at
 * the same time, and it takes the two locks lowest index first, whatever
 * the direction, so A->B and B->A can never each hold one lock and wait
 * for the other.
 *
 * DESIGN: an array of accounts, each a mutex and the balance it guards.
 * The lock order is the whole design: lock_pair() and bank_total() are the
 * only places that take more than one lock, and both go up the array. The
 * check for funds and the move are one critical section: checking under
 * the lock, unlocking, and locking again to move would let a second
 * transfer spend the same money in between (check-then-act).
 */
#define _POSIX_C_SOURCE 200809L
#include "transfer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct account {
    pthread_mutex_t lock;
    long balance; /* guarded by lock; never below zero */
};

struct bank {
    size_t n;                 /* set once */
    struct account *accounts; /* n of them; lock order: by index, lowest first */
};

static void die_rc(int rc, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(rc));
    abort();
}

static inline void mutex_lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_lock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_lock");
}

static inline void mutex_unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);
    if (rc != 0)
        die_rc(rc, "pthread_mutex_unlock");
}

bank *bank_create(size_t n, const long *balances)
{
    if (n == 0 || balances == NULL) {
        errno = EINVAL;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (balances[i] < 0) {
            errno = EINVAL;
            return NULL;
        }
    bank *b = calloc(1, sizeof *b);
    struct account *a = calloc(n, sizeof *a);
    if (b == NULL || a == NULL) {
        free(b);
        free(a);
        errno = ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = pthread_mutex_init(&a[i].lock, NULL);
        if (rc != 0) {
            while (i-- > 0)
                pthread_mutex_destroy(&a[i].lock);
            free(a);
            free(b);
            errno = rc;
            return NULL;
        }
        a[i].balance = balances[i];
    }
    b->n = n;
    b->accounts = a;
    return b;
}

/* snippet: lock_pair */
/* Lock accounts i and j (i != j) in the global order: lower index first,
 * whatever the direction of the transfer. Blocks on both locks. */
static void lock_pair(bank *b, size_t i, size_t j)
{
    mutex_lock(&b->accounts[i].lock); /* BUG: argument order, not index order */
    mutex_lock(&b->accounts[j].lock);
}
/* end snippet: lock_pair */

static void unlock_pair(bank *b, size_t i, size_t j)
{
    mutex_unlock(&b->accounts[i].lock);
    mutex_unlock(&b->accounts[j].lock);
}

/* snippet: transfer */
int bank_transfer(bank *b, size_t from, size_t to, long amount)
{
    if (from >= b->n || to >= b->n || from == to || amount <= 0)
        return EINVAL;
    lock_pair(b, from, to); /* lock order: by index, lowest first */
    struct account *src = &b->accounts[from], *dst = &b->accounts[to];
    int rc = 0;
    if (src->balance < amount) { /* the check and the move: one critical section */
        rc = ERANGE;
    } else {
        src->balance -= amount;
        dst->balance += amount;
    }
    unlock_pair(b, from, to);
    return rc;
}
/* end snippet: transfer */

long bank_balance(bank *b, size_t i)
{
    mutex_lock(&b->accounts[i].lock);
    long v = b->accounts[i].balance;
    mutex_unlock(&b->accounts[i].lock);
    return v;
}

long bank_total(bank *b)
{
    /* Lock order: every account, by index, lowest first; hold them all. */
    for (size_t i = 0; i < b->n; i++)
        mutex_lock(&b->accounts[i].lock);
    long sum = 0;
    for (size_t i = 0; i < b->n; i++)
        sum += b->accounts[i].balance;
    for (size_t i = b->n; i-- > 0;)
        mutex_unlock(&b->accounts[i].lock);
    return sum;
}

void bank_destroy(bank *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        pthread_mutex_destroy(&b->accounts[i].lock);
    free(b->accounts);
    free(b);
}
