/* A blocking pool_schedule from a task of a full pool: the worker runs the
 * new task inline (API.md). One worker (capacity 1) schedules N empty
 * tasks from inside a task; prints the time per schedule.
 *
 *   inline_schedule [handoff|queue] [N]     (default: handoff 100000)
 *
 * queue: a bounded queue of 1, so that the pool is full after one task. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "workerpool.h"

static pool_t *pool;
static long ran;

static void noop(void *arg) { (void)arg; ran++; }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void parent(void *arg)
{
    long n = *(const long *)arg, i;
    double start = now();
    for (i = 0; i < n; i++)
        if (pool_schedule(pool, noop, NULL) != POOL_OK)
            abort();
    printf("%.1f ns per schedule (%ld ran)\n", (now() - start) / (double)n * 1e9, ran);
}

int main(int argc, char **argv)
{
    long n = argc > 2 ? atol(argv[2]) : 100000;
    pool_options_t *opts = pool_options_new();
    if (!opts)
        return 1;
    pool_options_set_queue_size(opts, argc > 1 && strcmp(argv[1], "queue") == 0 ? 1 : 0);
    pool = pool_new(1, opts);
    pool_options_free(opts);
    if (!pool || pool_schedule(pool, parent, &n) != POOL_OK || pool_wait(pool) != POOL_OK)
        return 1;
    return pool_free(pool) == POOL_OK && ran == n ? 0 : 1;
}
