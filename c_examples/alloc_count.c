/*
 * alloc_count: runs N tiny C tasks, for counting heap allocations under
 * valgrind (make alloc-check).
 *
 *   alloc_count N [QUEUE_SIZE]
 *
 * A pool of 2 preallocated workers, blocking schedule, queue size
 * QUEUE_SIZE (default 0: the hand-off mode, as pool_options_new gives).
 * Each task does one atomic increment. Workers are preallocated so that
 * the same threads exist whatever N is: valgrind's "total heap usage"
 * then differs between two values of N only by what the tasks cost.
 *
 * Exit status 0 only if every call succeeded and all N tasks ran.
 */
#include "workerpool.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_long done;

static void bump(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&done, 1, memory_order_relaxed);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s N [QUEUE_SIZE]\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[1], NULL, 10);
    size_t queue_size = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 0;

    pool_options_t *opts = pool_options_new();
    if (!opts || pool_options_set_prealloc(opts, true) != POOL_OK ||
        pool_options_set_queue_size(opts, queue_size) != POOL_OK) {
        fprintf(stderr, "alloc_count: options failed\n");
        return 1;
    }
    pool_t *pool = pool_new(2, opts);
    pool_options_free(opts);
    if (!pool) {
        perror("alloc_count: pool_new");
        return 1;
    }
    for (long i = 0; i < n; i++) {
        pool_status st = pool_schedule(pool, bump, NULL);
        if (st != POOL_OK) {
            fprintf(stderr, "alloc_count: pool_schedule: %s\n", pool_strerror(st));
            return 1;
        }
    }
    if (pool_wait(pool) != POOL_OK || pool_free(pool) != POOL_OK) {
        fprintf(stderr, "alloc_count: pool_wait or pool_free failed\n");
        return 1;
    }
    if (atomic_load(&done) != n) {
        fprintf(stderr, "alloc_count: %ld of %ld tasks ran\n", (long)atomic_load(&done), n);
        return 1;
    }
    printf("alloc_count: %ld tasks\n", n);
    return 0;
}
