/*
 * stress: a self-checking C stress test of the pool, small enough to run
 * under valgrind and the sanitizers (make valgrind, make asan).
 *
 *   stress [iterations]      (default 100)
 *
 * Each iteration builds three pools with one of the 72 option combinations
 * (block, prealloc, queue 0 / 4 / SIZE_MAX, idle timeout 0 / 1 / 50 ms,
 * default or 64 KiB stacks), thread names and hooks; four threads make
 * random schedule / try_schedule / schedule_timeout / set_capacity /
 * get_stats calls on them, and some tasks schedule tasks on their own
 * pool. Every schedule takes a token: the task marks it, the caller
 * records whether the call returned POOL_OK. After pool_wait the stats
 * must add up (submitted == completed == accepted, rejected == refusals),
 * and after pool_free every accepted token ran exactly once, no refused
 * one ran, and every on_start had its on_exit. Each iteration also frees
 * a full blocking pool while three threads are blocked in it: they must
 * get POOL_ERR_FREED, and the running tasks still finish.
 *
 * Prints "stress: OK iterations=N tasks=M" and exits 0, or prints each
 * failure and exits 1. Atomics are GCC/Clang __atomic builtins (C99 has no
 * <stdatomic.h>).
 */
#include "workerpool.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NPOOLS 3
#define NTHREADS 4
#define OPS_PER_THREAD 60
#define MAX_TOKENS 4096
#define MAX_DEPTH 2
#define NBLOCKED 3

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define OR(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)

#define RAN_MASK 0x3Fu
#define ACCEPTED 0x40u
#define REJECTED 0x80u

static unsigned long failures;
static unsigned long long total_tasks;

#define FAIL(...)                                                          \
    do {                                                                   \
        if (ADD(&failures, 1) < 20) {                                      \
            fprintf(stderr, "stress: FAIL (%s:%d): ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

struct ctx;

struct token {
    struct ctx *ctx;
    unsigned idx;
    int depth;
    unsigned char state;
};

struct ctx {
    pool_t *pool;
    bool block;
    int freed; /* set right after pool_free returned */
    unsigned next;
    struct token tokens[MAX_TOKENS];
    uint64_t ok, refused;
    unsigned long hook_start, hook_exit;
};

static uint64_t rnd(uint64_t *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void on_start(void *c)
{
    ADD(&((struct ctx *)c)->hook_start, 1);
}

static void on_exit_hook(void *c)
{
    ADD(&((struct ctx *)c)->hook_exit, 1);
}

static void task(void *arg);

enum how { SCHEDULE, TRY, TIMEOUT };

/* One schedule call with a fresh token; false when no token is left. */
static bool submit(struct ctx *c, enum how how, int depth, uint64_t timeout_ms)
{
    unsigned idx = ADD(&c->next, 1);
    struct token *t;
    pool_status st;
    bool allowed;
    unsigned char prev;

    if (idx >= MAX_TOKENS)
        return false;
    t = &c->tokens[idx];
    t->ctx = c;
    t->idx = idx;
    t->depth = depth;
    switch (how) {
    case SCHEDULE:
        st = pool_schedule(c->pool, task, t);
        allowed = st == POOL_OK || (!c->block && st == POOL_ERR_NO_IDLE_WORKER);
        break;
    case TRY:
        st = pool_try_schedule(c->pool, task, t);
        allowed = st == POOL_OK || st == POOL_ERR_NO_IDLE_WORKER;
        break;
    default:
        st = pool_schedule_timeout(c->pool, task, t, timeout_ms);
        allowed = st == POOL_OK || st == POOL_ERR_TIMEOUT;
        break;
    }
    if (!allowed)
        FAIL("schedule (how %d, block %d) returned %d: %s", (int)how, (int)c->block, (int)st,
             pool_strerror(st));
    if (st == POOL_OK) {
        ADD(&c->ok, 1);
        prev = OR(&t->state, ACCEPTED);
    } else {
        ADD(&c->refused, 1);
        prev = OR(&t->state, REJECTED);
        if (prev & RAN_MASK)
            FAIL("token %u ran although its schedule returned %d", idx, (int)st);
    }
    if (prev & (ACCEPTED | REJECTED))
        FAIL("token %u decided twice", idx);
    return true;
}

static void task(void *arg)
{
    struct token *t = arg;
    struct ctx *c = t->ctx;
    unsigned char prev;
    uint64_t s = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)t->idx * 0x100000001B3ULL);
    volatile unsigned spin = 0;
    unsigned i, n;

    if (LOAD(&c->freed))
        FAIL("token %u ran after pool_free returned", t->idx);
    prev = ADD(&t->state, 1);
    if (prev & RAN_MASK)
        FAIL("token %u ran twice", t->idx);
    if (prev & REJECTED)
        FAIL("token %u ran although it was refused", t->idx);
    switch (rnd(&s) % 8) {
    case 0: {
        struct timespec ts = {0, 200000}; /* 0.2 ms: keeps workers busy */
        nanosleep(&ts, NULL);
        break;
    }
    case 1:
    case 2:
        /* A child on this pool: a blocking one may run inline here. */
        if (t->depth < MAX_DEPTH)
            submit(c, (enum how)(rnd(&s) % 3), t->depth + 1, rnd(&s) % 2);
        break;
    case 3:
        if (pool_wait(c->pool) != POOL_ERR_DEADLOCK)
            FAIL("pool_wait from a task did not return POOL_ERR_DEADLOCK");
        break;
    default:
        n = (unsigned)(rnd(&s) % 2000);
        for (i = 0; i < n; i++)
            spin += i;
        break;
    }
}

static pool_t *make_pool(struct ctx *c, unsigned combo, int capacity)
{
    static const size_t queues[] = {0, 4, SIZE_MAX};
    static const uint64_t idles[] = {0, 1, 50};
    pool_options_t *o = pool_options_new();
    pool_t *p;
    char name[16];
    bool ok = true;

    if (o == NULL) {
        FAIL("pool_options_new returned NULL");
        return NULL;
    }
    c->block = combo % 2 == 0;
    snprintf(name, sizeof name, "cst%u", combo);
    ok &= pool_options_set_block(o, c->block) == POOL_OK;
    ok &= pool_options_set_prealloc(o, (combo / 2) % 2 == 1) == POOL_OK;
    ok &= pool_options_set_queue_size(o, queues[(combo / 4) % 3]) == POOL_OK;
    ok &= pool_options_set_idle_timeout_ms(o, idles[(combo / 12) % 3]) == POOL_OK;
    ok &= pool_options_set_stack_size(o, (combo / 36) % 2 ? 64 * 1024 : 0) == POOL_OK;
    ok &= pool_options_set_thread_name(o, name) == POOL_OK;
    ok &= pool_options_set_thread_hooks(o, on_start, on_exit_hook, c) == POOL_OK;
    if (!ok)
        FAIL("an option setter refused a valid value (combo %u)", combo);
    p = pool_new(capacity, o);
    pool_options_free(o); /* the pool copied what it needs */
    if (p == NULL)
        FAIL("pool_new(%d) combo %u: NULL (%s)", capacity, combo, strerror(errno));
    return p;
}

/* After pool_free: every token decided; accepted ran once, refused never. */
static void verify_tokens(struct ctx *c, unsigned combo)
{
    unsigned used = LOAD(&c->next), i, accepted = 0;

    if (used > MAX_TOKENS)
        used = MAX_TOKENS;
    for (i = 0; i < used; i++) {
        unsigned char s = LOAD(&c->tokens[i].state);
        unsigned ran = s & RAN_MASK;
        if (s & ACCEPTED)
            accepted++;
        if ((s & ACCEPTED) && (s & REJECTED))
            FAIL("combo %u token %u both accepted and refused", combo, i);
        else if ((s & ACCEPTED) && ran != 1)
            FAIL("combo %u token %u accepted, ran %u times", combo, i, ran);
        else if ((s & REJECTED) && ran != 0)
            FAIL("combo %u token %u refused, ran %u times", combo, i, ran);
        else if (!(s & (ACCEPTED | REJECTED)))
            FAIL("combo %u token %u never decided", combo, i);
    }
    if (accepted != c->ok)
        FAIL("combo %u: %u tokens accepted, %" PRIu64 " POOL_OK", combo, accepted, c->ok);
    if (LOAD(&c->hook_start) != LOAD(&c->hook_exit))
        FAIL("combo %u: %lu on_start, %lu on_exit after pool_free", combo, c->hook_start,
             c->hook_exit);
    total_tasks += accepted;
}

struct driver {
    struct ctx *pools;
    uint64_t seed;
};

static void *drive(void *arg)
{
    struct driver *d = arg;
    uint64_t s = d->seed;
    pool_stats st;
    int i;

    for (i = 0; i < OPS_PER_THREAD; i++) {
        struct ctx *c = &d->pools[rnd(&s) % NPOOLS];
        switch (rnd(&s) % 10) {
        case 0:
            if (pool_set_capacity(c->pool, 1 + (int)(rnd(&s) % 6)) != POOL_OK)
                FAIL("pool_set_capacity did not return POOL_OK");
            break;
        case 1:
            memset(&st, 0xff, sizeof st);
            pool_get_stats(c->pool, &st);
            if (st.completed > st.submitted || st.busy > st.workers || st.capacity == 0 ||
                st.capacity > 6)
                FAIL("inconsistent stats: capacity %" PRIu32 " workers %" PRIu32
                     " busy %" PRIu32 " submitted %" PRIu64 " completed %" PRIu64,
                     st.capacity, st.workers, st.busy, st.submitted, st.completed);
            break;
        case 2:
        case 3: {
            /* A burst, to fill the pool. */
            int j, n = (int)(rnd(&s) % 16);
            for (j = 0; j < n; j++)
                submit(c, TRY, 0, 0);
            break;
        }
        default:
            submit(c, (enum how)(rnd(&s) % 3), 0, rnd(&s) % 3);
            break;
        }
    }
    return NULL;
}

/* --- pool_free racing with blocked schedulers --------------------------- */

struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    int started, done;
};

static void gated(void *arg)
{
    struct gate *g = arg;
    pthread_mutex_lock(&g->lock);
    g->started++;
    pthread_cond_broadcast(&g->cond);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    g->done++;
    pthread_mutex_unlock(&g->lock);
}

static int refused_ran;

static void must_not_run(void *arg)
{
    (void)arg;
    ADD(&refused_ran, 1);
}

struct blocked {
    pool_t *pool;
    int which;
    int entered;
    int status; /* -1 until the call returned */
};

static void *block_in_schedule(void *arg)
{
    struct blocked *b = arg;
    pool_status st;
    STORE(&b->entered, 1);
    if (b->which == 0)
        st = pool_schedule(b->pool, must_not_run, NULL);
    else
        st = pool_schedule_timeout(b->pool, must_not_run, NULL,
                                   b->which == 1 ? UINT64_MAX : 600000);
    STORE(&b->status, (int)st);
    return NULL;
}

struct freer {
    pool_t *pool;
    int status;
};

static void *free_pool(void *arg)
{
    struct freer *f = arg;
    STORE(&f->status, (int)pool_free(f->pool));
    return NULL;
}

static void yield_a_bit(void)
{
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
}

static void free_while_blocked(unsigned iter)
{
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0};
    struct blocked b[NBLOCKED];
    pthread_t bt[NBLOCKED], ft;
    struct freer f;
    pool_options_t *o = pool_options_new();
    int i;

    if (o == NULL) {
        FAIL("pool_options_new returned NULL");
        return;
    }
    pool_options_set_prealloc(o, iter % 2 == 1);
    f.pool = pool_new(2, o);
    f.status = -1;
    pool_options_free(o);
    if (f.pool == NULL) {
        FAIL("pool_new: NULL");
        return;
    }
    for (i = 0; i < 2; i++)
        if (pool_schedule(f.pool, gated, &g) != POOL_OK)
            FAIL("schedule of a gated task failed");
    pthread_mutex_lock(&g.lock);
    while (g.started < 2)
        pthread_cond_wait(&g.cond, &g.lock);
    pthread_mutex_unlock(&g.lock);
    /* The pool is full: these block (or find it closing). */
    for (i = 0; i < NBLOCKED; i++) {
        b[i].pool = f.pool;
        b[i].which = i % 3;
        b[i].entered = 0;
        b[i].status = -1;
        pthread_create(&bt[i], NULL, block_in_schedule, &b[i]);
    }
    for (i = 0; i < NBLOCKED; i++)
        while (!LOAD(&b[i].entered))
            yield_a_bit();
    /* pool_free cannot return while the gated tasks run, so every blocked
     * caller reaches the library before the handle goes away. */
    pthread_create(&ft, NULL, free_pool, &f);
    for (i = 0; i < NBLOCKED; i++) {
        pthread_join(bt[i], NULL);
        if (b[i].status != POOL_ERR_FREED)
            FAIL("a scheduler blocked during pool_free got %d, not POOL_ERR_FREED",
                 b[i].status);
    }
    if (LOAD(&f.status) != -1)
        FAIL("pool_free returned while tasks were still running");
    pthread_mutex_lock(&g.lock);
    g.open = true;
    pthread_cond_broadcast(&g.cond);
    pthread_mutex_unlock(&g.lock);
    pthread_join(ft, NULL);
    if (f.status != POOL_OK)
        FAIL("pool_free returned %d", f.status);
    if (g.done != 2)
        FAIL("%d of 2 running tasks finished before pool_free returned", g.done);
    if (LOAD(&refused_ran) != 0)
        FAIL("a refused task ran");
}

/* ------------------------------------------------------------------------ */

static void one_iteration(unsigned iter, uint64_t seed)
{
    static struct ctx pools[NPOOLS]; /* 3 x ~70 KiB: not on the stack */
    struct driver d[NTHREADS];
    pthread_t th[NTHREADS];
    unsigned combos[NPOOLS];
    int k;
    pool_stats st;

    memset(pools, 0, sizeof pools);
    for (k = 0; k < NPOOLS; k++) {
        combos[k] = (iter * NPOOLS + (unsigned)k) % 72;
        pools[k].pool = make_pool(&pools[k], combos[k], 1 + (int)((iter + (unsigned)k) % 4));
        if (pools[k].pool == NULL)
            return;
    }
    for (k = 0; k < NTHREADS; k++) {
        d[k].pools = pools;
        d[k].seed = seed ^ ((uint64_t)(iter * NTHREADS + (unsigned)k + 1) * 0x9E3779B97F4A7C15ULL);
        pthread_create(&th[k], NULL, drive, &d[k]);
    }
    for (k = 0; k < NTHREADS; k++)
        pthread_join(th[k], NULL);
    for (k = 0; k < NPOOLS; k++) {
        struct ctx *c = &pools[k];
        int generation;
        /* pool_wait is exact: it waits for the tasks accepted before it, not
         * for children those tasks schedule meanwhile. A child is accepted
         * before its parent finishes, so before the next wait begins: one
         * wait per generation (the drivers' tasks, then MAX_DEPTH levels of
         * children) covers every task. */
        for (generation = 0; generation <= MAX_DEPTH; generation++)
            if (pool_wait(c->pool) != POOL_OK)
                FAIL("pool_wait did not return POOL_OK");
        pool_get_stats(c->pool, &st);
        if (st.submitted != c->ok || st.completed != c->ok || st.rejected != c->refused ||
            st.queued != 0 || st.busy != 0)
            FAIL("combo %u: stats do not add up: submitted %" PRIu64 " completed %" PRIu64
                 " rejected %" PRIu64 " queued %" PRIu32 " busy %" PRIu32
                 "; OK %" PRIu64 " refused %" PRIu64,
                 combos[k], st.submitted, st.completed, st.rejected, st.queued, st.busy, c->ok,
                 c->refused);
        if (pool_free(c->pool) != POOL_OK)
            FAIL("pool_free did not return POOL_OK");
        STORE(&c->freed, 1);
        verify_tokens(c, combos[k]);
    }
    free_while_blocked(iter);
}

int main(int argc, char **argv)
{
    long iterations = 100, i;
    char *end;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 2) {
        fprintf(stderr, "usage: stress [iterations]\n");
        return 2;
    }
    if (argc == 2) {
        errno = 0;
        iterations = strtol(argv[1], &end, 10);
        if (errno != 0 || *end != '\0' || end == argv[1] || iterations < 1) {
            fprintf(stderr, "stress: iterations must be a positive number, got '%s'\n", argv[1]);
            return 2;
        }
    }
    for (i = 0; i < iterations && LOAD(&failures) == 0; i++)
        one_iteration((unsigned)i, 0x5EEDULL + (uint64_t)i);
    if (failures) {
        fprintf(stderr, "stress: FAILED (%lu failures) at iteration %ld\n", failures, i - 1);
        return 1;
    }
    printf("stress: OK iterations=%ld tasks=%llu\n", iterations, total_tasks);
    return 0;
}
