/*
 * glib_bench: the workerpool benchmark workloads on GLib's GThreadPool.
 *
 *   glib_bench w1|w2|w3|w4|w5|w6|idle
 *   glib_bench r1 N K
 *
 * Runs one run of one workload and prints "key value" lines (seconds,
 * KiB), or "na <reason>" when GThreadPool has no such mode. Driven by
 * benches/pools (cargo bench --bench pools), which merges the numbers.
 * The task is the same as on the Rust side: one atomic increment, the last
 * one wakes the timing thread. r1 ("Real work") runs N tasks of K steps of
 * `spin` (work.h) each, and its own serial loop.
 */
#define _GNU_SOURCE
#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "work.h"

typedef struct {
    atomic_size_t count;
    size_t target;
    unsigned sleep_us;
    GMutex lock;
    GCond done;
    int signalled; /* under lock: the last arrival is done with lock and done */
} latch_t;

static void latch_init(latch_t *l, size_t target, unsigned sleep_us) {
    atomic_init(&l->count, 0);
    l->target = target;
    l->sleep_us = sleep_us;
    l->signalled = 0;
    g_mutex_init(&l->lock);
    g_cond_init(&l->done);
}

/* Waits for the flag the last arrival sets under the lock, not for the
 * count: once the count is reached the last arrival still has to lock,
 * signal and unlock, and clearing the mutex before that aborts GLib
 * ("g_mutex_clear() called on uninitialised or locked mutex"). */
static void latch_wait(latch_t *l) {
    g_mutex_lock(&l->lock);
    while (!l->signalled)
        g_cond_wait(&l->done, &l->lock);
    g_mutex_unlock(&l->lock);
    g_mutex_clear(&l->lock);
    g_cond_clear(&l->done);
}

static void arrive(latch_t *l) {
    if (atomic_fetch_add(&l->count, 1) + 1 == l->target) {
        g_mutex_lock(&l->lock);
        l->signalled = 1;
        g_cond_signal(&l->done);
        g_mutex_unlock(&l->lock);
    }
}

/* GThreadPool's task signature: data is the pushed item, user_data the
 * pool's. The item is the latch (GThreadPool refuses NULL items). */
static void bump(gpointer data, gpointer user_data) {
    (void)user_data;
    arrive(data);
}

static void sleep_bump(gpointer data, gpointer user_data) {
    latch_t *l = data;
    (void)user_data;
    g_usleep(l->sleep_us);
    arrive(l);
}

static GThreadPool *new_pool(GFunc func, gpointer user_data, int threads, gboolean exclusive) {
    GError *err = NULL;
    GThreadPool *pool = g_thread_pool_new(func, user_data, threads, exclusive, &err);
    if (!pool) {
        fprintf(stderr, "g_thread_pool_new: %s\n", err ? err->message : "?");
        exit(1);
    }
    return pool;
}

/* W1, W2: producers push per_producer tiny tasks into an exclusive pool of
 * 2 threads (all started up front, like the preallocated pools). */
typedef struct {
    GThreadPool *pool;
    latch_t *latch;
    size_t n;
    GMutex *go_lock;
    GCond *go;
    int *started;
} producer_t;

static gpointer produce(gpointer p) {
    producer_t *pr = p;
    g_mutex_lock(pr->go_lock);
    while (!*pr->started)
        g_cond_wait(pr->go, pr->go_lock);
    g_mutex_unlock(pr->go_lock);
    for (size_t i = 0; i < pr->n; i++)
        g_thread_pool_push(pr->pool, pr->latch, NULL);
    return NULL;
}

static void throughput(int producers, size_t per_producer, int workers) {
    GThreadPool *pool = new_pool(bump, NULL, workers, TRUE);
    latch_t warm;
    latch_init(&warm, 10000, 0);
    for (int i = 0; i < 10000; i++)
        g_thread_pool_push(pool, &warm, NULL);
    latch_wait(&warm);

    latch_t latch;
    latch_init(&latch, (size_t)producers * per_producer, 0);
    double elapsed;
    if (producers == 1) {
        double start = now_s();
        for (size_t i = 0; i < per_producer; i++)
            g_thread_pool_push(pool, &latch, NULL);
        latch_wait(&latch);
        elapsed = now_s() - start;
    } else {
        GMutex go_lock;
        GCond go;
        int started = 0;
        g_mutex_init(&go_lock);
        g_cond_init(&go);
        producer_t pr = {pool, &latch, per_producer, &go_lock, &go, &started};
        GThread **threads = g_new(GThread *, producers);
        for (int i = 0; i < producers; i++)
            threads[i] = g_thread_new("producer", produce, &pr);
        g_usleep(20000); /* let every producer reach the start line */
        double start = now_s();
        g_mutex_lock(&go_lock);
        started = 1;
        g_cond_broadcast(&go);
        g_mutex_unlock(&go_lock);
        latch_wait(&latch);
        elapsed = now_s() - start;
        for (int i = 0; i < producers; i++)
            g_thread_join(threads[i]);
        g_free(threads);
    }
    g_thread_pool_free(pool, FALSE, TRUE);
    printf("time_s %.9f\n", elapsed);
}

/* W4, W6: cold start, building the pool timed; a shared (non-exclusive)
 * pool starts threads on demand. */
static void ramp(size_t tasks, int capacity, unsigned sleep_us) {
    latch_t latch;
    latch_init(&latch, tasks, sleep_us);
    double start = now_s();
    GThreadPool *pool = new_pool(sleep_bump, NULL, capacity, FALSE);
    for (size_t i = 0; i < tasks; i++)
        g_thread_pool_push(pool, &latch, NULL);
    latch_wait(&latch);
    double elapsed = now_s() - start;
    printf("time_s %.9f\n", elapsed);
    g_thread_pool_free(pool, FALSE, TRUE);
}

static long vm_hwm_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* W5: the task stamps its start; the scheduler sleeps 1 ms between samples. */
static void stamp(gpointer data, gpointer user_data) {
    (void)user_data;
    atomic_store((_Atomic double *)data, now_s());
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void wake_latency(int samples) {
    GThreadPool *pool = new_pool(stamp, NULL, 2, TRUE);
    _Atomic double slot;
    double *lat = g_new(double, samples);
    for (int i = 0; i < samples + 20; i++) {
        atomic_store(&slot, 0.0);
        g_usleep(1000);
        double sent = now_s();
        g_thread_pool_push(pool, (gpointer)&slot, NULL);
        double started;
        while ((started = atomic_load(&slot)) == 0.0)
            sched_yield();
        if (i >= 20)
            lat[i - 20] = started - sent;
    }
    g_thread_pool_free(pool, FALSE, TRUE);
    qsort(lat, samples, sizeof *lat, cmp_double);
    printf("p50_s %.9f\np99_s %.9f\n", lat[(samples - 1) / 2], lat[(int)((samples - 1) * 0.99 + 0.5)]);
    g_free(lat);
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Idle CPU: a live pool of 4 threads, after 1000 tasks, left idle 5 s. */
static void idle(void) {
    GThreadPool *pool = new_pool(bump, NULL, 4, TRUE);
    latch_t latch;
    latch_init(&latch, 1000, 0);
    for (int i = 0; i < 1000; i++)
        g_thread_pool_push(pool, &latch, NULL);
    latch_wait(&latch);
    double before = cpu_s();
    g_usleep(5 * G_USEC_PER_SEC);
    printf("cpu_s %.6f\n", cpu_s() - before);
    g_thread_pool_free(pool, FALSE, TRUE);
}

/* R1: n tasks of spin(i, k), each adding to one sum, pushed one by one
 * into an exclusive pool of 2 threads (all started up front) from the
 * timing thread, which only waits. The item is the index + 1 (GThreadPool
 * refuses NULL items); the pool's user_data is the shared context. */
typedef struct {
    latch_t latch;
    uint64_t k;
    _Atomic uint64_t sum;
} work_t;

static void work(gpointer data, gpointer user_data) {
    work_t *w = user_data;
    uint64_t i = (uint64_t)GPOINTER_TO_SIZE(data) - 1;
    atomic_fetch_add_explicit(&w->sum, spin(i, w->k), memory_order_relaxed);
    arrive(&w->latch);
}

/* Pushes n tasks and waits for them; the sum they made. */
static uint64_t work_batch(GThreadPool *pool, work_t *w, uint64_t n) {
    latch_init(&w->latch, n, 0);
    atomic_store(&w->sum, 0);
    for (uint64_t i = 0; i < n; i++)
        g_thread_pool_push(pool, GSIZE_TO_POINTER((gsize)i + 1), NULL);
    latch_wait(&w->latch);
    return atomic_load(&w->sum);
}

static void real_work(uint64_t n, uint64_t k) {
    double start = now_s();
    uint64_t serial = serial_costly(n, k);
    printf("serial_s %.9f\n", now_s() - start);
    work_t w;
    w.k = k;
    atomic_init(&w.sum, 0);
    GThreadPool *pool = new_pool(work, &w, 2, TRUE);
    work_batch(pool, &w, n / 10); /* warm-up, untimed */
    start = now_s();
    uint64_t sum = work_batch(pool, &w, n);
    printf("time_s %.9f\n", now_s() - start);
    printf("sums_agree %d\n", sum == serial);
    g_thread_pool_free(pool, FALSE, TRUE);
}

int main(int argc, char **argv) {
    const char *w = argc > 1 ? argv[1] : "";
    if (strcmp(w, "w1") == 0) {
        throughput(1, 1000000, 2);
    } else if (strcmp(w, "w2") == 0) {
        throughput(4, 250000, 2);
    } else if (strcmp(w, "w3") == 0) {
        printf("na GThreadPool has no blocking hand-off mode\n");
    } else if (strcmp(w, "w4") == 0) {
        ramp(1000, 100, 10000);
    } else if (strcmp(w, "w5") == 0) {
        wake_latency(2000);
    } else if (strcmp(w, "w6") == 0) {
        /* GThreadPool has no stack-size option: make 64 KiB the default
         * for every thread created without attributes (GNU extension). */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        if (pthread_setattr_default_np(&attr) != 0) {
            fprintf(stderr, "pthread_setattr_default_np failed\n");
            return 1;
        }
        pthread_attr_destroy(&attr);
        ramp(10000, 10000, 1000000);
        printf("hwm_kib %ld\n", vm_hwm_kib());
    } else if (strcmp(w, "idle") == 0) {
        idle();
    } else if (strcmp(w, "r1") == 0 && argc > 3) {
        real_work(strtoull(argv[2], NULL, 10), strtoull(argv[3], NULL, 10));
    } else {
        fprintf(stderr, "usage: %s w1|w2|w3|w4|w5|w6|idle | %s r1 N K\n", argv[0], argv[0]);
        return 2;
    }
    return 0;
}
