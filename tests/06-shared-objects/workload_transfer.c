/*
 * workload_transfer.c - your bank at work, for `make timeline EX=06-shared-objects/transfer`.
 *
 * Three threads move money among four accounts, two of them in opposite
 * directions between the same pair, while an auditor sums the bank. In the
 * timeline, look for lock waits on the two hot accounts, and for the
 * auditor holding every lock at once while the transfers wait for it.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "trace.h"
#include "transfer.h"

enum { ACCOUNTS = 4, ROUNDS = 200 };

static bank *the_bank;
static atomic_int running = 3;

static void *mover(void *arg)
{
    size_t id = (size_t)arg;
    tl_trace_name_thread("mover");
    for (int i = 0; i < ROUNDS; i++) {
        size_t from = id == 1 ? 1 : 0, to = id == 1 ? 0 : (id == 0 ? 1 : 2 + (size_t)i % 2);
        bank_transfer(the_bank, from, to, 1 + i % 3);
    }
    atomic_fetch_sub(&running, 1);
    return NULL;
}

static void *auditor(void *arg)
{
    long *bad = arg;
    tl_trace_name_thread("auditor");
    while (atomic_load(&running) > 0)
        if (bank_total(the_bank) != ACCOUNTS * 1000L)
            (*bad)++;
    return NULL;
}

int main(void)
{
    tl_trace_name_thread("main");
    long start[ACCOUNTS] = {1000, 1000, 1000, 1000}, bad = 0;
    the_bank = bank_create(ACCOUNTS, start);
    if (the_bank == NULL) {
        perror("bank_create");
        return 1;
    }
    pthread_t m[3], a;
    pthread_create(&a, NULL, auditor, &bad);
    for (size_t i = 0; i < 3; i++)
        pthread_create(&m[i], NULL, mover, (void *)i);
    for (int i = 0; i < 3; i++)
        pthread_join(m[i], NULL);
    pthread_join(a, NULL);
    printf("total %ld (want %ld), %ld bad audits\n", bank_total(the_bank), ACCOUNTS * 1000L, bad);
    bank_destroy(the_bank);
    return 0;
}
