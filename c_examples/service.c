/*
 * service: a small long-running program on top of a pool.
 *
 *   service [seconds]        (default 10; stops early on SIGINT or SIGTERM)
 *
 * The pool has capacity 8, a queue of 256, an idle timeout of 200 ms, worker
 * threads named "svc-<n>", and start/exit hooks that count the worker
 * threads (under a mutex) and block SIGINT/SIGTERM on them so that the main
 * thread is the one that sees the signal. Every few seconds the main loop
 * feeds a burst of 200 tasks of 5-20 ms each; once a second it prints
 *
 *     t=3s workers=.. busy=.. queued=.. submitted=.. completed=.. rejected=..
 *
 * so workers rise during a burst and fall back to 0 once they have been idle
 * for 200 ms. At the end it waits for the pool, frees it and prints
 * "started=S exited=E". Exit status 0 only if every call succeeded, S == E,
 * and submitted == completed == the number of tasks scheduled.
 */
#include "workerpool.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define CAPACITY 8
#define QUEUE_SIZE 256
#define IDLE_TIMEOUT_MS 200
#define BURST_TASKS 200
#define BURST_EVERY_S 3
#define TASK_MIN_MS 5
#define TASK_MAX_MS 20

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Shared with the hooks and the tasks; every field under `lock`. */
struct service_state {
    pthread_mutex_t lock;
    unsigned long started;    /* on_start calls */
    unsigned long exited;     /* on_exit calls */
    unsigned long tasks_done; /* tasks that ran to the end */
    char first_name[17];      /* OS name of the first worker, if known */
};

static struct service_state state = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, "" };

static void on_worker_start(void *ctx)
{
    struct service_state *s = ctx;
    sigset_t set;
    char name[17] = "";

    /* Leave SIGINT/SIGTERM to the main thread: its sleep is then the one
     * interrupted, and it reacts at once. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

#ifdef __linux__
    if (prctl(PR_GET_NAME, (unsigned long)name, 0UL, 0UL, 0UL) != 0)
        name[0] = '\0';
#endif
    pthread_mutex_lock(&s->lock);
    s->started++;
    if (s->first_name[0] == '\0' && name[0] != '\0')
        memcpy(s->first_name, name, sizeof name);
    pthread_mutex_unlock(&s->lock);
}

static void on_worker_exit(void *ctx)
{
    struct service_state *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->exited++;
    pthread_mutex_unlock(&s->lock);
}

static void sleep_ms(long ms)
{
    struct timespec req = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&req, &req) != 0 && errno == EINTR) {
        /* a task finishes its work even when a signal arrives */
    }
}

/* A task: "work" for the number of milliseconds carried in arg. */
static void work(void *arg)
{
    sleep_ms((long)(uintptr_t)arg);
    pthread_mutex_lock(&state.lock);
    state.tasks_done++;
    pthread_mutex_unlock(&state.lock);
}

static uint32_t rng_state = 2463534242u;

static uint32_t xorshift32(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static void print_stats(const char *label, const pool_stats *st)
{
    printf("%s workers=%" PRIu32 " busy=%" PRIu32 " queued=%" PRIu32
           " submitted=%" PRIu64 " completed=%" PRIu64 " rejected=%" PRIu64 "\n",
           label, st->workers, st->busy, st->queued, st->submitted, st->completed,
           st->rejected);
}

static int fail(const char *what, pool_status st)
{
    fprintf(stderr, "service: %s: %s\n", what, pool_strerror(st));
    return 1;
}

int main(int argc, char **argv)
{
    long seconds = 10;
    struct sigaction sa;
    pool_options_t *opts;
    pool_t *pool;
    pool_status st;
    pool_stats stats;
    struct timespec next;
    unsigned long scheduled = 0, started, exited, done;
    uint32_t peak_workers = 0;
    int errors = 0;
    long t;

    if (argc > 2) {
        fprintf(stderr, "usage: service [seconds]\n");
        return 2;
    }
    if (argc == 2) {
        char *end;
        errno = 0;
        seconds = strtol(argv[1], &end, 10);
        if (errno != 0 || *end != '\0' || end == argv[1] || seconds < 1 || seconds > 86400) {
            fprintf(stderr, "service: seconds must be 1..86400, got '%s'\n", argv[1]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: the main loop's sleep returns at once */
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
        perror("service: sigaction");
        return 1;
    }

    opts = pool_options_new();
    if (opts == NULL) {
        perror("service: pool_options_new");
        return 1;
    }
    if ((st = pool_options_set_queue_size(opts, QUEUE_SIZE)) != POOL_OK ||
        (st = pool_options_set_idle_timeout_ms(opts, IDLE_TIMEOUT_MS)) != POOL_OK ||
        (st = pool_options_set_thread_name(opts, "svc")) != POOL_OK ||
        (st = pool_options_set_thread_hooks(opts, on_worker_start, on_worker_exit, &state)) !=
            POOL_OK) {
        pool_options_free(opts);
        return fail("pool options", st);
    }
    pool = pool_new(CAPACITY, opts);
    if (pool == NULL) {
        perror("service: pool_new");
        pool_options_free(opts);
        return 1;
    }
    pool_options_free(opts);

    printf("service: workerpool %s, capacity %d, idle timeout %d ms, %ld s (Ctrl-C stops)\n",
           pool_version(), CAPACITY, IDLE_TIMEOUT_MS, seconds);

    clock_gettime(CLOCK_MONOTONIC, &next);
    for (t = 0; t < seconds && !stop_requested; t++) {
        char label[32];
        int rc;

        if (t % BURST_EVERY_S == 0) {
            int i;
            for (i = 0; i < BURST_TASKS && !stop_requested; i++) {
                uintptr_t ms = TASK_MIN_MS + xorshift32() % (TASK_MAX_MS - TASK_MIN_MS + 1);
                st = pool_schedule(pool, work, (void *)ms);
                if (st != POOL_OK) {
                    errors += fail("pool_schedule", st);
                    break;
                }
                scheduled++;
            }
            printf("t=%lds burst of %d tasks scheduled\n", t, i);
        }

        pool_get_stats(pool, &stats);
        if (stats.workers > peak_workers)
            peak_workers = stats.workers;
        snprintf(label, sizeof label, "t=%lds", t);
        print_stats(label, &stats);
        if (errors)
            break;

        /* Sleep until the next whole second (absolute, so no drift). */
        next.tv_sec += 1;
        do {
            rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        } while (rc == EINTR && !stop_requested);
    }
    if (stop_requested)
        printf("service: signal received, stopping\n");

    st = pool_wait(pool);
    if (st != POOL_OK)
        errors += fail("pool_wait", st);
    pool_get_stats(pool, &stats);
    print_stats("final", &stats);
    st = pool_free(pool);
    if (st != POOL_OK)
        errors += fail("pool_free", st);

    /* pool_free() has joined every worker: all hooks have returned. */
    pthread_mutex_lock(&state.lock);
    started = state.started;
    exited = state.exited;
    done = state.tasks_done;
    pthread_mutex_unlock(&state.lock);

    printf("peak workers=%" PRIu32 " first worker name=\"%s\" tasks scheduled=%lu ran=%lu\n",
           peak_workers, state.first_name, scheduled, done);
    printf("started=%lu exited=%lu\n", started, exited);

    if (errors)
        return 1;
    if (started != exited || stats.submitted != stats.completed ||
        stats.submitted != scheduled || done != scheduled) {
        fprintf(stderr, "service: counts disagree\n");
        return 1;
    }
#ifdef __linux__
    if (started > 0 && strncmp(state.first_name, "svc-", 4) != 0) {
        fprintf(stderr, "service: worker thread named \"%s\", expected \"svc-<n>\"\n",
                state.first_name);
        return 1;
    }
#endif
    return 0;
}
