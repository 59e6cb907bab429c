/* The cost of one schedule, for an instruction count under callgrind:
 * a preallocated pool of W workers in one delivery mode; one thread
 * schedules N empty tasks with the blocking pool_schedule, then waits.
 *
 *   schedule_cost unbounded|bounded|handoff W N [WORK]
 *
 * bounded: a queue of 64 tasks. WORK (default 0): steps of a dependent
 * arithmetic chain per task, so that the pool is full and schedules wait
 * for room. Run under
 *   valgrind --tool=callgrind --toggle-collect=pool_schedule ...
 * and divide pool_schedule's inclusive count by N (make schedule-cost). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "workerpool.h"

static volatile unsigned long sink;

static void work(void *arg)
{
    unsigned long steps = (unsigned long)arg, x = steps, i;
    for (i = 0; i < steps; i++)
        x = (x ^ (x >> 31)) * 0x9e3779b97f4a7c15UL ^ i;
    sink = x;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: schedule_cost unbounded|bounded|handoff WORKERS N [WORK]\n");
        return 2;
    }
    int workers = atoi(argv[2]);
    long n = atol(argv[3]), i;
    unsigned long steps = argc == 5 ? strtoul(argv[4], NULL, 10) : 0;
    size_t queue = strcmp(argv[1], "unbounded") == 0 ? SIZE_MAX
                   : strcmp(argv[1], "bounded") == 0 ? 64 : 0;
    pool_options_t *opts = pool_options_new();
    if (!opts)
        return 1;
    pool_options_set_queue_size(opts, queue);
    pool_options_set_prealloc(opts, true);
    pool_t *pool = pool_new(workers, opts);
    pool_options_free(opts);
    if (!pool)
        return 1;
    for (i = 0; i < n; i++)
        if (pool_schedule(pool, work, (void *)steps) != POOL_OK)
            return 1;
    if (pool_wait(pool) != POOL_OK)
        return 1;
    return pool_free(pool) == POOL_OK ? 0 : 1;
}
