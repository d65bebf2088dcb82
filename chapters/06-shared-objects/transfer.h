/*
 * transfer.h - a bank of accounts, each with its own lock (chapter 6,
 * exercise "transfer").
 *
 * What it shows: a shared object made of many small ones. Each account has
 * a mutex of its own, so transfers between different accounts run at the
 * same time; a transfer takes two locks, and two transfers in opposite
 * directions (A->B while B->A) must never wait for each other in a cycle.
 *
 * DESIGN: every function that takes more than one account lock takes them
 * in one global order, by account index, lowest first, whatever the
 * direction of the transfer. Then no cycle of waits can form: the thread
 * holding the highest-numbered lock in any would-be cycle is never waiting
 * for a lower one. The check "is there enough money?" and the move itself
 * happen inside one critical section, so no other transfer can spend the
 * money between them.
 *
 * This header is the contract; do not change it. Write transfer.c.
 */
#ifndef TL_TRANSFER_H
#define TL_TRANSFER_H

#include <stddef.h>

typedef struct bank bank;

/* A new bank of n accounts; account i starts with balances[i] (each >= 0).
 * Returns NULL with errno EINVAL when n is 0 or a balance is negative,
 * ENOMEM when out of memory (nothing is left allocated then). Never blocks. */
bank *bank_create(size_t n, const long *balances);

/* Move amount from account `from` to account `to`, both at once: no other
 * thread ever sees the money in both accounts or in neither. Returns 0; or
 * ERANGE, changing nothing, when `from` holds less than amount (a balance
 * never goes below zero); or EINVAL, changing nothing, when an index is out
 * of range, from == to, or amount <= 0. Blocks on the two accounts' locks,
 * never in a cycle with other transfers. */
int bank_transfer(bank *b, size_t from, size_t to, long amount);

/* The balance of account i now (i must be in range). Blocks only on that
 * account's lock. */
long bank_balance(bank *b, size_t i);

/* The sum of every balance at one instant: with transfers running, always
 * the sum the bank was created with. Blocks on every account's lock (it
 * holds them all at once, taken in the global order). */
long bank_total(bank *b);

/* Free b. The caller guarantees that no thread uses b any more. Never blocks. */
void bank_destroy(bank *b);

#endif /* TL_TRANSFER_H */
