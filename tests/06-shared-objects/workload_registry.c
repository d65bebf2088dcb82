/*
 * workload_registry.c - your registry at work, for `make timeline EX=06-shared-objects/registry`.
 *
 * Three readers look keys up and take snapshots over and over; one writer
 * updates a batch of keys now and then. In the timeline, look for the
 * readers' spans overlapping (they share the lock) and for every reader
 * waiting while the writer is inside.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "registry.h"
#include "trace.h"

enum { KEYS = 8, PUTS = 20 };

static registry *reg;
static atomic_int writing = 1;

static void *reader(void *arg)
{
    long *torn = arg;
    struct registry_entry out[KEYS];
    tl_trace_name_thread("reader");
    while (atomic_load(&writing)) {
        size_t n = registry_snapshot(reg, out, KEYS);
        for (size_t i = 1; i < n && i < KEYS; i++)
            if (out[i].value != out[0].value)
                (*torn)++;
        long v;
        registry_get(reg, "key-3", &v);
    }
    return NULL;
}

static void *writer(void *arg)
{
    (void)arg;
    tl_trace_name_thread("writer");
    struct registry_entry es[KEYS];
    for (int g = 1; g <= PUTS; g++) {
        for (int i = 0; i < KEYS; i++) {
            snprintf(es[i].key, sizeof es[i].key, "key-%d", i);
            es[i].value = g;
        }
        registry_put(reg, es, KEYS);
        for (volatile int spin = 0; spin < 20000; spin++)
            ; /* rare writes: work between them */
    }
    atomic_store(&writing, 0);
    return NULL;
}

int main(void)
{
    tl_trace_name_thread("main");
    reg = registry_create(KEYS);
    if (reg == NULL) {
        perror("registry_create");
        return 1;
    }
    long torn[3] = {0, 0, 0};
    pthread_t r[3], w;
    for (int i = 0; i < 3; i++)
        pthread_create(&r[i], NULL, reader, &torn[i]);
    pthread_create(&w, NULL, writer, NULL);
    pthread_join(w, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(r[i], NULL);
    printf("torn snapshots: %ld (want 0)\n", torn[0] + torn[1] + torn[2]);
    registry_destroy(reg);
    return 0;
}
