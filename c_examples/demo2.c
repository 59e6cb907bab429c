/*
 * demo2: a non-blocking pool refuses work instead of waiting.
 *
 * Capacity 5, pool_options_set_block(opts, false). Ten tasks are scheduled
 * while every accepted task is held on a gate (a mutex + condition variable)
 * that is opened only after all ten schedule calls, so exactly five tasks
 * are busy when calls 6..10 arrive. No sleep anywhere: the lazy pool starts
 * a worker for each of the first five calls (it is below capacity), and
 * refuses the other five with POOL_ERR_NO_IDLE_WORKER.
 *
 * Prints one line per schedule call, then exactly "accepted=5 refused=5",
 * then opens the gate, waits, prints the pool's stats and frees the pool.
 * Exit status 0 only if the counts (and the stats) are the expected ones.
 */
#include "workerpool.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#define CAPACITY 5
#define NTASKS 10

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int ran; /* tasks that ran, under gate_lock */

static void task(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    ran++;
    pthread_mutex_unlock(&gate_lock);
}

static void open_gate(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

int main(void)
{
    pool_options_t *opts;
    pool_t *pool;
    pool_status st;
    pool_stats stats;
    int i, accepted = 0, refused = 0, failed = 0, ran_now;

    setvbuf(stdout, NULL, _IOLBF, 0);

    opts = pool_options_new();
    if (opts == NULL) {
        perror("pool_options_new");
        return 1;
    }
    st = pool_options_set_block(opts, false);
    if (st != POOL_OK) {
        fprintf(stderr, "pool_options_set_block: %s\n", pool_strerror(st));
        pool_options_free(opts);
        return 1;
    }
    pool = pool_new(CAPACITY, opts);
    if (pool == NULL) {
        perror("pool_new");
        pool_options_free(opts);
        return 1;
    }
    pool_options_free(opts); /* the pool keeps its own copy */

    for (i = 0; i < NTASKS; i++) {
        st = pool_schedule(pool, task, NULL);
        if (st == POOL_OK) {
            accepted++;
            printf("schedule %2d: accepted\n", i);
        } else if (st == POOL_ERR_NO_IDLE_WORKER) {
            refused++;
            printf("schedule %2d: refused (%s)\n", i, pool_strerror(st));
        } else {
            failed++;
            fprintf(stderr, "schedule %2d: pool_schedule: %s\n", i, pool_strerror(st));
        }
    }
    printf("accepted=%d refused=%d\n", accepted, refused);

    open_gate();
    st = pool_wait(pool);
    if (st != POOL_OK) {
        fprintf(stderr, "pool_wait: %s\n", pool_strerror(st));
        failed++;
    }
    pool_get_stats(pool, &stats);
    printf("stats: capacity=%" PRIu32 " workers=%" PRIu32 " busy=%" PRIu32
           " queued=%" PRIu32 " submitted=%" PRIu64 " completed=%" PRIu64
           " rejected=%" PRIu64 "\n",
           stats.capacity, stats.workers, stats.busy, stats.queued,
           stats.submitted, stats.completed, stats.rejected);

    st = pool_free(pool);
    if (st != POOL_OK) {
        fprintf(stderr, "pool_free: %s\n", pool_strerror(st));
        failed++;
    }

    pthread_mutex_lock(&gate_lock);
    ran_now = ran;
    pthread_mutex_unlock(&gate_lock);

    if (accepted != CAPACITY || refused != NTASKS - CAPACITY || failed != 0) {
        fprintf(stderr, "demo2: expected accepted=%d refused=%d\n",
                CAPACITY, NTASKS - CAPACITY);
        return 1;
    }
    if (ran_now != accepted || stats.capacity != CAPACITY ||
        stats.submitted != (uint64_t)accepted ||
        stats.completed != (uint64_t)accepted ||
        stats.rejected != (uint64_t)refused || stats.busy != 0 || stats.queued != 0) {
        fprintf(stderr, "demo2: ran=%d, or stats disagree with the counts above\n", ran_now);
        return 1;
    }
    return 0;
}
