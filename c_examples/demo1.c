/*
 * demo1: the Go goroutine-pool demo, in C.
 *
 * A pool of capacity 5 with the default options (blocking schedule, lazy
 * workers). Ten tasks each sleep for one second. The first five schedule
 * calls start a worker each; the sixth blocks until a worker becomes free,
 * and so on. pool_free() then waits for every accepted task and joins the
 * workers. Expected wall time: about 2 s.
 *
 * Exit status 0 only if every call succeeded, all 10 tasks ran, and never
 * more than 5 ran at once.
 */
#include "workerpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CAPACITY 5
#define NTASKS 10

static struct timespec t0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int running;     /* tasks running now */
static int max_running; /* most tasks ever running at once */
static int finished;    /* tasks finished */

static double elapsed(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec req = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&req, &req) != 0 && errno == EINTR) {
        /* resume with the remaining time */
    }
}

static void task(void *arg)
{
    int id = *(const int *)arg;

    pthread_mutex_lock(&lock);
    if (++running > max_running)
        max_running = running;
    pthread_mutex_unlock(&lock);

    printf("%5.2fs task %d start\n", elapsed(), id);
    sleep_ms(1000);
    printf("%5.2fs task %d end\n", elapsed(), id);

    pthread_mutex_lock(&lock);
    running--;
    finished++;
    pthread_mutex_unlock(&lock);
}

int main(void)
{
    /* Ids live until pool_free() returns: each task reads only its own. */
    static int ids[NTASKS];
    pool_t *pool;
    pool_status st;
    int i, ok;

    setvbuf(stdout, NULL, _IOLBF, 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("workerpool %s: capacity %d, blocking, %d tasks of 1 s\n",
           pool_version(), CAPACITY, NTASKS);

    pool = pool_new(CAPACITY, NULL); /* NULL options: the defaults */
    if (pool == NULL) {
        perror("pool_new");
        return 1;
    }

    for (i = 0; i < NTASKS; i++) {
        ids[i] = i;
        st = pool_schedule(pool, task, &ids[i]); /* blocks while 5 are busy */
        if (st != POOL_OK) {
            fprintf(stderr, "pool_schedule(task %d): %s\n", i, pool_strerror(st));
            pool_free(pool);
            return 1;
        }
        printf("%5.2fs scheduled task %d\n", elapsed(), i);
    }

    st = pool_free(pool); /* runs what was accepted, joins the workers */
    if (st != POOL_OK) {
        fprintf(stderr, "pool_free: %s\n", pool_strerror(st));
        return 1;
    }

    ok = finished == NTASKS && max_running <= CAPACITY;
    printf("%5.2fs all tasks done (finished=%d, max concurrent=%d)\n",
           elapsed(), finished, max_running);
    if (!ok) {
        fprintf(stderr, "demo1: expected %d finished and at most %d concurrent\n",
                NTASKS, CAPACITY);
        return 1;
    }
    return 0;
}
