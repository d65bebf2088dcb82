/*
 * transfer.c - a bank of accounts, each with its own lock (exercise: write
 * it).
 *
 * What it shows: fine-grained locking. A transfer locks exactly the two
 * accounts it touches, so transfers between other accounts run at the same
 * time; the hard part is that two transfers in opposite directions must
 * never each hold one lock and wait for the other.
 *
 * DESIGN: an array of accounts, each a mutex and the balance it guards.
 * Whenever you take two (or all) account locks, take them in one global
 * order: by index, lowest first, whatever the direction of the transfer.
 * Check the funds and move them inside one critical section. Read
 * transfer.h for the contract and book section 6.2 for the idea;
 * `make grade EX=06-shared-objects/transfer` tells you how you are doing.
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
    struct account *accounts; /* n of them; lock order: TODO: say which */
};

/* Checked pthread calls: use these, they abort with a message on error.
 * (static inline: the compiler does not warn while they are unused.) */
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
    /* TODO: reject n == 0 and negative balances (EINVAL); allocate the bank
     * and its n accounts (ENOMEM, nothing left allocated); initialise each
     * account's mutex and balance. */
    (void)n;
    (void)balances;
    errno = ENOSYS;
    return NULL;
}

int bank_transfer(bank *b, size_t from, size_t to, long amount)
{
    /* TODO: reject bad indexes, from == to and amount <= 0 (EINVAL); lock
     * both accounts, lower index first; if `from` holds less than amount,
     * change nothing and return ERANGE, else move it; unlock both. */
    (void)b;
    (void)from;
    (void)to;
    (void)amount;
    return ENOSYS;
}

long bank_balance(bank *b, size_t i)
{
    /* TODO: read the balance under the account's lock. */
    (void)b;
    (void)i;
    return -1;
}

long bank_total(bank *b)
{
    /* TODO: lock every account in the global order, sum, unlock. */
    (void)b;
    return -1;
}

void bank_destroy(bank *b)
{
    /* TODO: destroy every account's mutex, free the accounts and b. */
    (void)b;
}
