/*
 * service: a small long-running program on top of a pool.
 *
 *   service [--term-after N] [seconds]
 *                            (default 10 s; stops early on SIGINT or SIGTERM;
 *                            --term-after N: sends itself SIGTERM once it
 *                            has scheduled N tasks, for the tests)
 *
 * The pool has capacity 8, a queue of 256, an idle timeout of 200 ms, worker
 * threads named "svc-<n>", and start/exit hooks that count the worker
 * threads (under a mutex) and block SIGINT/SIGTERM on them so that the main
 * thread is the one that sees the signal. Every few seconds the main loop
 * feeds a burst of 200 tasks of 5-20 ms each, each with an argument of its
 * own on the heap (the task frees it); once a second it prints
 *
 *     t=3s workers=.. busy=.. queued=.. submitted=.. completed=.. rejected=..
 *
 * so workers rise during a burst and fall back to 0 once they have been idle
 * for 200 ms.
 *
 * When the time is up it waits for the pool (every task runs). On SIGINT or
 * SIGTERM it stops at once instead: the handler only sets a flag; the main
 * loop sees it, stops scheduling and calls
 * pool_shutdown(POOL_SHUTDOWN_CANCEL): the tasks still queued never run, and
 * on_cancel frees each one's argument; the running ones finish. It prints
 *
 *     shutdown: SIGTERM: status=.. cancelled=.. queued=.. running=..
 *
 * Either way it then frees the pool and prints "started=S exited=E". Exit
 * status 0 only if every call succeeded, S == E, submitted == the number of
 * tasks scheduled == those that ran + those cancelled (the pool's counts and
 * its own), and every argument was freed exactly once (valgrind checks that
 * none leaked).
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
#include <sys/select.h>
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
/* How long pool_shutdown waits for the running tasks (each at most
 * TASK_MAX_MS) and the workers to finish. */
#define SHUTDOWN_TIMEOUT_MS 5000

/* 0, or the signal that asked us to stop. The handler does nothing else:
 * what stopping takes (pool_shutdown, printing) is not async-signal-safe. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    stop_requested = sig;
}

/* Shared with the hooks and the tasks; every field under `lock`. */
struct service_state {
    pthread_mutex_t lock;
    unsigned long started;    /* on_start calls */
    unsigned long exited;     /* on_exit calls */
    unsigned long tasks_done; /* tasks that ran to the end */
    unsigned long cancelled;  /* tasks handed to on_cancel */
    unsigned long args_freed; /* arguments freed, by their task or by on_cancel */
    char first_name[17];      /* OS name of the first worker, if known */
};

static struct service_state state = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0, "" };

/* A task's argument: allocated for it by the main loop, freed by the task
 * when it runs, or by on_cancel when pool_shutdown removes it unrun. */
struct job {
    long ms; /* how long the task "works" */
};

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

/* A task: "work" for job->ms milliseconds, then free its argument. */
static void work(void *arg)
{
    struct job *job = arg;
    sleep_ms(job->ms);
    free(job);
    pthread_mutex_lock(&state.lock);
    state.tasks_done++;
    state.args_freed++;
    pthread_mutex_unlock(&state.lock);
}

/* pool_shutdown's on_cancel: called once per task removed unrun, on the
 * thread that called pool_shutdown, before it returns. The task never
 * runs, so its argument is freed here. */
static void on_cancel(pool_task_fn task, void *arg, void *ctx)
{
    struct service_state *s = ctx;
    free(arg);
    pthread_mutex_lock(&s->lock);
    s->cancelled++;
    s->args_freed++;
    pthread_mutex_unlock(&s->lock);
    if (task != work) /* only work() is ever scheduled here */
        fprintf(stderr, "service: on_cancel got a task that is not work()\n");
}

/* Sleeps until the absolute CLOCK_MONOTONIC time `until`, or until SIGINT or
 * SIGTERM. The two signals are blocked from the check of the flag to the
 * sleep, and pselect unblocks them atomically as it sleeps: one arriving in
 * between stays pending and cuts the sleep short at once, so no signal is
 * noticed late. (A worker thread still starting has not blocked them yet,
 * see on_worker_start: should one catch the signal there, the flag is set
 * all the same and the loop sees it by the next second at the latest.) */
static void sleep_until(const struct timespec *until)
{
    sigset_t stop_signals, old;

    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old);
    while (!stop_requested) {
        struct timespec now, left;
        clock_gettime(CLOCK_MONOTONIC, &now);
        left.tv_sec = until->tv_sec - now.tv_sec;
        left.tv_nsec = until->tv_nsec - now.tv_nsec;
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000L;
        }
        if (left.tv_sec < 0)
            break;
        if (pselect(0, NULL, NULL, NULL, &left, &old) < 0 && errno != EINTR) {
            perror("service: pselect");
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
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
           " submitted=%" PRIu64 " completed=%" PRIu64 " rejected=%" PRIu64
           " cancelled=%" PRIu64 "\n",
           label, st->workers, st->busy, st->queued, st->submitted, st->completed,
           st->rejected, st->cancelled);
}

/* pool_get_stats_sized: the 0.2 fields (cancelled) come with it. */
static void get_stats(pool_t *pool, pool_stats *st)
{
    memset(st, 0, sizeof *st);
    pool_get_stats_sized(pool, st, sizeof *st);
}

static int fail(const char *what, pool_status st)
{
    fprintf(stderr, "service: %s: %s\n", what, pool_strerror(st));
    return 1;
}

static int parse_number(const char *arg, long max, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(arg, &end, 10);
    return errno == 0 && *end == '\0' && end != arg && *out >= 1 && *out <= max ? 0 : -1;
}

int main(int argc, char **argv)
{
    long seconds = 10, term_after = 0;
    struct sigaction sa;
    pool_options_t *opts;
    pool_t *pool;
    pool_status st;
    pool_stats stats;
    pool_shutdown_report report = {0, 0, 0};
    struct timespec next;
    unsigned long scheduled = 0, started, exited, done, cancelled, args_freed;
    uint32_t peak_workers = 0;
    int errors = 0, argi = 1, quiescent = 0;
    long t;

    if (argi + 1 < argc && strcmp(argv[argi], "--term-after") == 0) {
        if (parse_number(argv[argi + 1], 1000000, &term_after) != 0) {
            fprintf(stderr, "service: --term-after takes 1..1000000, got '%s'\n", argv[argi + 1]);
            return 2;
        }
        argi += 2;
    }
    if (argc > argi + 1 || (argi < argc && argv[argi][0] == '-')) {
        fprintf(stderr, "usage: service [--term-after N] [seconds]\n");
        return 2;
    }
    if (argi < argc && parse_number(argv[argi], 86400, &seconds) != 0) {
        fprintf(stderr, "service: seconds must be 1..86400, got '%s'\n", argv[argi]);
        return 2;
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

        if (t % BURST_EVERY_S == 0) {
            int i;
            for (i = 0; i < BURST_TASKS && !stop_requested; i++) {
                struct job *job = malloc(sizeof *job);
                if (job == NULL) {
                    perror("service: malloc");
                    errors++;
                    break;
                }
                job->ms = TASK_MIN_MS + (long)(xorshift32() % (TASK_MAX_MS - TASK_MIN_MS + 1));
                st = pool_schedule(pool, work, job);
                if (st != POOL_OK) {
                    free(job); /* refused: the pool never saw it */
                    errors += fail("pool_schedule", st);
                    break;
                }
                scheduled++;
                /* raise() runs the handler on this thread before it
                 * returns: the loop condition sees the flag at once. */
                if (term_after > 0 && scheduled == (unsigned long)term_after && raise(SIGTERM) != 0) {
                    perror("service: raise");
                    errors++;
                    break;
                }
            }
            printf("t=%lds burst of %d tasks scheduled\n", t, i);
        }

        get_stats(pool, &stats);
        if (stats.workers > peak_workers)
            peak_workers = stats.workers;
        snprintf(label, sizeof label, "t=%lds", t);
        print_stats(label, &stats);
        if (errors)
            break;

        /* Sleep until the next whole second (absolute, so no drift). */
        next.tv_sec += 1;
        sleep_until(&next);
    }

    if (stop_requested) {
        /* Stop now: the queued tasks are removed unrun (on_cancel frees
         * their arguments, on this thread, before pool_shutdown returns),
         * the running ones finish, the workers are joined. The handle stays
         * valid for the stats until pool_free. */
        int sig = stop_requested;
        st = pool_shutdown(pool, POOL_SHUTDOWN_CANCEL, SHUTDOWN_TIMEOUT_MS, on_cancel, &state,
                           &report);
        printf("shutdown: %s: status=%s cancelled=%" PRIu64 " queued=%" PRIu64
               " running=%" PRIu32 "\n",
               sig == SIGINT ? "SIGINT" : "SIGTERM", pool_strerror(st), report.cancelled,
               report.queued, report.running);
        if (st == POOL_ERR_TIMEOUT) {
            /* Some task still ran after SHUTDOWN_TIMEOUT_MS (a machine far
             * slower than planned): not a failure, pool_free below waits
             * for it. Nothing else is left queued to cancel. */
            fprintf(stderr, "service: pool_shutdown timed out; pool_free waits for the rest\n");
        } else if (st != POOL_OK) {
            errors += fail("pool_shutdown", st);
        } else {
            quiescent = 1;
        }
    } else {
        st = pool_wait(pool);
        if (st != POOL_OK)
            errors += fail("pool_wait", st);
        quiescent = 1;
    }
    get_stats(pool, &stats);
    print_stats("final", &stats);
    st = pool_free(pool);
    if (st != POOL_OK)
        errors += fail("pool_free", st);

    /* pool_free() has joined every worker: all hooks and tasks have
     * returned. */
    pthread_mutex_lock(&state.lock);
    started = state.started;
    exited = state.exited;
    done = state.tasks_done;
    cancelled = state.cancelled;
    args_freed = state.args_freed;
    pthread_mutex_unlock(&state.lock);

    printf("peak workers=%" PRIu32 " first worker name=\"%s\" tasks scheduled=%lu ran=%lu"
           " cancelled=%lu\n",
           peak_workers, state.first_name, scheduled, done, cancelled);
    printf("started=%lu exited=%lu\n", started, exited);

    if (errors)
        return 1;
    /* The "final" stats were read once nothing ran any more, unless a
     * pool_shutdown timed out: then tasks pool_free waited for are missing
     * from stats.completed, while `done` counts them all. */
    if (started != exited || stats.submitted != scheduled || done + cancelled != scheduled ||
        args_freed != scheduled || stats.cancelled != cancelled || report.cancelled != cancelled ||
        (quiescent && stats.completed != done)) {
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
