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
 * Each iteration then runs a control round on a pool of its own, for the
 * calls of 0.2: task groups, pause / resume, pool_cancel_queued, parallel
 * loops and pool_shutdown (see "0.2" below for what it checks).
 *
 * Prints "stress: OK iterations=N tasks=M cancelled=C loops=L shutdowns=S"
 * and exits 0, or prints each failure and exits 1. Atomics are GCC/Clang __atomic builtins (C99 has no
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

#define RAN_MASK 0x1Fu /* 0x20: C_CANCELLED (control rounds) */
#define ACCEPTED 0x40u
#define REJECTED 0x80u

static unsigned long failures;
static unsigned long long total_tasks;
/* Control rounds: tokens handed to on_cancel, loops run, shutdowns. */
static unsigned long long total_cancelled, total_loops, total_shutdowns;

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

/* --- 0.2: groups, pause / resume, cancelling, parallel loops, shutdown --- */

/*
 * Each iteration also runs one "control round" on a pool of its own (queue
 * 0 / 4 / SIZE_MAX, blocking or not, lazy or preallocated). CTHREADS
 * driver threads make random calls: group schedules of every kind into
 * CNGROUPS groups, pause windows (pause, a few calls that never wait,
 * maybe a cancel, resume: a driver never blocks while it holds the pool
 * paused, so nothing waits for ever), pool_cancel_queued, parallel loops,
 * group waits, group and pool stats, capacity changes. Tasks mark their
 * token, and some schedule a child into their own group, check that a
 * wait on their own group is POOL_ERR_DEADLOCK, poll another group, run a
 * nested parallel loop, cancel, pause and resume, or check that
 * pool_shutdown from a task is POOL_ERR_DEADLOCK. on_cancel marks the
 * token it is handed. The round ends in one of four ways:
 *   0  quiesce (group waits, pool_wait), check, pool_free;
 *   1  quiesce, check, pool_shutdown(DRAIN or CANCEL, for ever): POOL_OK
 *      with nothing to report; then every call refuses (FREED, or NULL and
 *      ECANCELED for pool_group_new) except pool_cancel_queued; pool_free;
 *   2  pool_shutdown (random mode and timeout) while the drivers still run:
 *      their calls get POOL_ERR_FREED from then on; again with no deadline
 *      if it timed out; then check and pool_free;
 *   3  quiesce, pause, fill the queue, then either pool_cancel_queued
 *      (every task accepted while paused is handed to on_cancel, none
 *      runs) and pool_shutdown, or pool_shutdown(CANCEL) at once (which
 *      resumes the pool first, as the header says, so some of those tasks
 *      may run: each runs XOR is cancelled).
 * Checked: every accepted token ran XOR was cancelled, exactly once; no
 * refused one did either; each pool_cancel_queued / pool_shutdown reported
 * as many tasks as it handed to on_cancel; every parallel loop called its
 * body on chunks of `grain` (the last may be shorter) covering each index
 * exactly once; at any time a group's submitted == completed + cancelled +
 * pending, and once quiescent pending == 0 and the counts equal the
 * tokens'; the pool's submitted == completed + cancelled at quiescence,
 * less the parallel loops' helper tasks (which are not C tasks: they are
 * counted by the pool, never handed to on_cancel).
 */

#define CNGROUPS 3
#define CTHREADS 3
#define COPS 40
#define CTOKENS 2048
#define C_MAX_DEPTH 2
#define PFOR_MAX 300

#define C_CANCELLED 0x20u /* in token state: handed to on_cancel */

struct cctx;

struct ctoken {
    struct cctx *c;
    unsigned idx;
    int group;
    int depth;
    unsigned char state; /* ran count (RAN_MASK), C_CANCELLED, ACCEPTED, REJECTED */
};

struct cctx {
    pool_t *pool;
    bool block;
    size_t queue;
    int capacity;
    pool_group_t *groups[CNGROUPS];
    int shutdown_begun; /* set just before pool_shutdown is first called */
    int paused_fill;    /* end 3: tokens from here on must be cancelled */
    unsigned next;
    struct ctoken tokens[CTOKENS];
    uint64_t ok[CNGROUPS];
    uint64_t refused;
    uint64_t cancels[CNGROUPS]; /* on_cancel calls, by the token's group */
    uint64_t loop_calls;        /* pool_parallel_for calls that returned POOL_OK */
};

/* One pool_cancel_queued / pool_shutdown call's on_cancel context. */
struct cancel_call {
    struct cctx *c;
    uint64_t handed; /* on_cancel calls during this call */
};

static void ctask(void *arg);

static bool shutting(struct cctx *c)
{
    return LOAD(&c->shutdown_begun) != 0;
}

static void on_cancel_record(pool_task_fn fn, void *arg, void *ctx)
{
    struct cancel_call *call = ctx;
    struct ctoken *t = arg;
    unsigned char prev;

    call->handed++;
    if (fn != ctask || t == NULL || t->c != call->c) {
        FAIL("on_cancel got a task that is not one of this pool's tokens");
        return;
    }
    prev = OR(&t->state, C_CANCELLED);
    if (prev & C_CANCELLED)
        FAIL("token %u handed to on_cancel twice", t->idx);
    if (prev & RAN_MASK)
        FAIL("token %u handed to on_cancel after it ran", t->idx);
    if (prev & REJECTED)
        FAIL("token %u handed to on_cancel although its schedule was refused", t->idx);
    ADD(&call->c->cancels[t->group], 1);
}

/* pool_cancel_queued with a count check; from drivers and tasks. */
static void cancel_now(struct cctx *c)
{
    struct cancel_call call = {c, 0};
    uint64_t n = UINT64_MAX;
    pool_status st = pool_cancel_queued(c->pool, on_cancel_record, &call, &n);

    /* Still works after pool_shutdown; only pool_free would refuse it. */
    if (st != POOL_OK)
        FAIL("pool_cancel_queued returned %d: %s", (int)st, pool_strerror(st));
    else if (n != call.handed)
        FAIL("pool_cancel_queued reported %" PRIu64 ", handed %" PRIu64 " to on_cancel", n,
             call.handed);
    else if (c->queue == 0 && n != 0)
        FAIL("pool_cancel_queued removed %" PRIu64 " tasks from a hand-off pool", n);
}

/* One group schedule with a fresh token; false when none is left. */
static bool csubmit(struct cctx *c, int g, enum how how, int depth, uint64_t timeout_ms)
{
    unsigned idx = ADD(&c->next, 1);
    struct ctoken *t;
    pool_status st;
    bool allowed;
    unsigned char prev;

    if (idx >= CTOKENS)
        return false;
    t = &c->tokens[idx];
    t->c = c;
    t->idx = idx;
    t->group = g;
    t->depth = depth;
    switch (how) {
    case SCHEDULE:
        st = pool_group_schedule(c->groups[g], ctask, t);
        allowed = st == POOL_OK || (!c->block && st == POOL_ERR_NO_IDLE_WORKER);
        break;
    case TRY:
        st = pool_group_try_schedule(c->groups[g], ctask, t);
        allowed = st == POOL_OK || st == POOL_ERR_NO_IDLE_WORKER;
        break;
    default:
        st = pool_group_schedule_timeout(c->groups[g], ctask, t, timeout_ms);
        allowed = st == POOL_OK || st == POOL_ERR_TIMEOUT;
        break;
    }
    if (st == POOL_ERR_FREED)
        allowed = shutting(c);
    if (!allowed)
        FAIL("group schedule (how %d, block %d, queue %zu) returned %d: %s", (int)how,
             (int)c->block, c->queue, (int)st, pool_strerror(st));
    if (st == POOL_OK) {
        ADD(&c->ok[g], 1);
        prev = OR(&t->state, ACCEPTED);
    } else {
        ADD(&c->refused, 1);
        prev = OR(&t->state, REJECTED);
        if (prev & (RAN_MASK | C_CANCELLED))
            FAIL("token %u ran or was cancelled although its schedule returned %d", idx,
                 (int)st);
    }
    if (prev & (ACCEPTED | REJECTED))
        FAIL("token %u decided twice", idx);
    return true;
}

/* A parallel loop's context: the range, the grain, a hit count per index. */
struct pfor {
    size_t begin, end, grain;
    unsigned char hits[PFOR_MAX];
};

static void pfor_body(void *ctx, size_t b, size_t e)
{
    struct pfor *p = ctx;
    size_t i;

    if (b < p->begin || b >= e || e > p->end) {
        FAIL("parallel_for chunk [%zu, %zu) outside [%zu, %zu)", b, e, p->begin, p->end);
        return;
    }
    if (p->grain > 0 && e - b != p->grain && !(e == p->end && e - b < p->grain))
        FAIL("parallel_for chunk [%zu, %zu) of grain %zu in [%zu, %zu)", b, e, p->grain,
             p->begin, p->end);
    for (i = b; i < e; i++)
        ADD(&p->hits[i - p->begin], 1);
}

/* A loop over a random range of at most `max` indices, each checked. */
static void run_loop(struct cctx *c, uint64_t *s, size_t max)
{
    static const size_t grains[] = {0, 1, 3, 17, 1000};
    struct pfor p;
    size_t len = (size_t)(rnd(s) % (max + 1)), i;
    pool_status st;

    memset(&p, 0, sizeof p);
    p.begin = (size_t)(rnd(s) % 1000);
    p.end = p.begin + len;
    p.grain = grains[rnd(s) % 5];
    st = pool_parallel_for(c->pool, p.begin, p.end, p.grain, pfor_body, &p);
    if (st == POOL_OK)
        ADD(&c->loop_calls, 1);
    else if (!(st == POOL_ERR_FREED && shutting(c)))
        FAIL("pool_parallel_for returned %d: %s", (int)st, pool_strerror(st));
    /* Returned: no body call is left running or to come. */
    for (i = 0; i < len; i++)
        if (LOAD(&p.hits[i]) != (st == POOL_OK ? 1 : 0))
            FAIL("parallel_for (status %d) index %zu of [%zu, %zu) ran %u times", (int)st,
                 p.begin + i, p.begin, p.end, (unsigned)p.hits[i]);
}

static void check_group_stats(struct cctx *c, int g)
{
    pool_group_stats gs;
    uint64_t ok_before = LOAD(&c->ok[g]);

    memset(&gs, 0xff, sizeof gs);
    pool_group_get_stats(c->groups[g], &gs, sizeof gs);
    if (gs.submitted != gs.completed + gs.cancelled + gs.pending)
        FAIL("group %d stats: submitted %" PRIu64 " != completed %" PRIu64 " + cancelled %" PRIu64
             " + pending %" PRIu64,
             g, gs.submitted, gs.completed, gs.cancelled, gs.pending);
    if (gs.submitted < ok_before)
        FAIL("group %d stats: submitted %" PRIu64 " < %" PRIu64 " POOL_OK seen before", g,
             gs.submitted, ok_before);
}

static void ctask(void *arg)
{
    struct ctoken *t = arg;
    struct cctx *c = t->c;
    unsigned char prev;
    uint64_t s = 0xC0FFEEULL ^ ((uint64_t)t->idx * 0x100000001B3ULL);
    volatile unsigned spin = 0;
    pool_status st;
    unsigned i, n;
    int other;

    prev = ADD(&t->state, 1);
    if (prev & RAN_MASK)
        FAIL("token %u ran twice", t->idx);
    if (prev & REJECTED)
        FAIL("token %u ran although it was refused", t->idx);
    if (prev & C_CANCELLED)
        FAIL("token %u ran after it was handed to on_cancel", t->idx);
    switch (rnd(&s) % 16) {
    case 0: {
        struct timespec ts = {0, 200000}; /* 0.2 ms: keeps workers busy */
        nanosleep(&ts, NULL);
        break;
    }
    case 1:
    case 2:
    case 3:
        /* A child in this task's group: a blocking one may run inline. */
        if (t->depth < C_MAX_DEPTH)
            csubmit(c, t->group, (enum how)(rnd(&s) % 3), t->depth + 1, rnd(&s) % 2);
        break;
    case 4:
        if ((st = pool_group_wait(c->groups[t->group], rnd(&s) % 2)) != POOL_ERR_DEADLOCK)
            FAIL("pool_group_wait on its own group from a task returned %d", (int)st);
        break;
    case 5:
        /* Another group, polled: DEADLOCK too if a task of that group runs
         * further up this thread's stack (the helping wait below). */
        other = (t->group + 1 + (int)(rnd(&s) % (CNGROUPS - 1))) % CNGROUPS;
        st = pool_group_wait(c->groups[other], 0);
        if (st != POOL_OK && st != POOL_ERR_TIMEOUT && st != POOL_ERR_DEADLOCK)
            FAIL("pool_group_wait(0) on another group from a task returned %d", (int)st);
        break;
    case 6:
        if (t->depth < C_MAX_DEPTH)
            run_loop(c, &s, 40);
        break;
    case 7:
        if (rnd(&s) % 4 == 0)
            cancel_now(c);
        break;
    case 8:
        if (rnd(&s) % 4 == 0) {
            /* Pause and resume at once: a task never leaves the pool paused. */
            st = pool_pause(c->pool);
            if (st != POOL_OK && !(st == POOL_ERR_FREED && shutting(c)))
                FAIL("pool_pause from a task returned %d", (int)st);
            st = pool_resume(c->pool);
            if (st != POOL_OK && !(st == POOL_ERR_FREED && shutting(c)))
                FAIL("pool_resume from a task returned %d", (int)st);
        }
        break;
    case 9:
        if (rnd(&s) % 8 == 0 &&
            (st = pool_shutdown(c->pool, POOL_SHUTDOWN_CANCEL, 0, NULL, NULL, NULL)) !=
                POOL_ERR_DEADLOCK)
            FAIL("pool_shutdown from a task returned %d", (int)st);
        break;
    default:
        n = (unsigned)(rnd(&s) % 2000);
        for (i = 0; i < n; i++)
            spin += i;
        break;
    }
}

struct cdriver {
    struct cctx *c;
    uint64_t seed;
};

static void *cdrive(void *arg)
{
    struct cdriver *d = arg;
    struct cctx *c = d->c;
    uint64_t s = d->seed;
    pool_stats ps;
    pool_status st;
    int i, j, n;

    for (i = 0; i < COPS; i++) {
        int g = (int)(rnd(&s) % CNGROUPS);
        switch (rnd(&s) % 14) {
        case 0:
        case 1:
        case 2:
        case 3:
            csubmit(c, g, (enum how)(rnd(&s) % 3), 0, rnd(&s) % 3);
            break;
        case 4:
            n = (int)(rnd(&s) % 12);
            for (j = 0; j < n; j++)
                csubmit(c, (int)(rnd(&s) % CNGROUPS), TRY, 0, 0);
            break;
        case 5:
        case 6:
            /* A pause window: only calls that never wait until the resume
             * (this driver resumes; another's resume may end it early). */
            st = pool_pause(c->pool);
            if (st != POOL_OK && !(st == POOL_ERR_FREED && shutting(c)))
                FAIL("pool_pause returned %d", (int)st);
            n = (int)(rnd(&s) % 6);
            for (j = 0; j < n; j++)
                csubmit(c, (int)(rnd(&s) % CNGROUPS), rnd(&s) % 2 ? TRY : TIMEOUT, 0,
                        rnd(&s) % 2);
            if (rnd(&s) % 2)
                cancel_now(c);
            if (rnd(&s) % 2 && (st = pool_group_wait(c->groups[g], 0)) != POOL_OK &&
                st != POOL_ERR_TIMEOUT)
                FAIL("pool_group_wait(0) while paused returned %d", (int)st);
            st = pool_resume(c->pool);
            if (st != POOL_OK && !(st == POOL_ERR_FREED && shutting(c)))
                FAIL("pool_resume returned %d", (int)st);
            break;
        case 7:
            cancel_now(c);
            break;
        case 8:
            run_loop(c, &s, PFOR_MAX);
            break;
        case 9: {
            static const uint64_t timeouts[] = {0, 1, UINT64_MAX};
            uint64_t ms = timeouts[rnd(&s) % 3];
            st = pool_group_wait(c->groups[g], ms);
            if (st != POOL_OK && !(st == POOL_ERR_TIMEOUT && ms != UINT64_MAX))
                FAIL("pool_group_wait(%" PRIu64 ") returned %d", ms, (int)st);
            break;
        }
        case 10:
            check_group_stats(c, g);
            break;
        case 11:
            memset(&ps, 0xff, sizeof ps);
            pool_get_stats_sized(c->pool, &ps, sizeof ps);
            if (ps.paused > 1 || ps.completed > ps.submitted)
                FAIL("pool stats: paused %" PRIu32 " submitted %" PRIu64 " completed %" PRIu64,
                     ps.paused, ps.submitted, ps.completed);
            break;
        case 12:
            st = pool_set_capacity(c->pool, 1 + (int)(rnd(&s) % 4));
            if (st != POOL_OK && !(st == POOL_ERR_FREED && shutting(c)))
                FAIL("pool_set_capacity returned %d", (int)st);
            break;
        default:
            /* An empty loop and a reversed one: no body call. */
            if ((st = pool_parallel_for(c->pool, 5, 5, 0, pfor_body, NULL)) != POOL_OK &&
                !(st == POOL_ERR_FREED && shutting(c)))
                FAIL("pool_parallel_for on an empty range returned %d", (int)st);
            if ((st = pool_parallel_for(c->pool, 6, 5, 0, pfor_body, NULL)) != POOL_ERR_INVALID)
                FAIL("pool_parallel_for(begin > end) returned %d", (int)st);
            break;
        }
    }
    return NULL;
}

static uint64_t total_ok(struct cctx *c)
{
    uint64_t sum = 0;
    int g;
    for (g = 0; g < CNGROUPS; g++)
        sum += LOAD(&c->ok[g]);
    return sum;
}

static uint64_t total_cancels(struct cctx *c)
{
    uint64_t sum = 0;
    int g;
    for (g = 0; g < CNGROUPS; g++)
        sum += LOAD(&c->cancels[g]);
    return sum;
}

/* Until nothing of the pool runs or waits: the pool is resumed, and no
 * driver runs. A group wait waits for the tasks accepted before it, not
 * for children added meanwhile; a child is accepted before its parent
 * finishes, so one round of waits per generation covers them all. Then
 * pool_wait for the parallel loops' helpers (accepted before their loops
 * returned, so before this). */
static void quiesce(struct cctx *c)
{
    pool_status st;
    int gen, g;

    for (gen = 0; gen <= C_MAX_DEPTH; gen++)
        for (g = 0; g < CNGROUPS; g++)
            if ((st = pool_group_wait(c->groups[g], UINT64_MAX)) != POOL_OK)
                FAIL("pool_group_wait(for ever) returned %d", (int)st);
    st = pool_wait(c->pool);
    if (st != POOL_OK && !(st == POOL_ERR_FREED && shutting(c)))
        FAIL("pool_wait returned %d", (int)st);
}

/* Nothing runs or waits: the counts must be exact. */
static void check_quiescent(struct cctx *c, const char *when)
{
    pool_group_stats gs;
    pool_stats ps;
    uint64_t ok = total_ok(c), cancels = total_cancels(c);
    int g;

    for (g = 0; g < CNGROUPS; g++) {
        memset(&gs, 0xff, sizeof gs);
        pool_group_get_stats(c->groups[g], &gs, sizeof gs);
        if (gs.pending != 0 || gs.submitted != LOAD(&c->ok[g]) ||
            gs.cancelled != LOAD(&c->cancels[g]) ||
            gs.completed + gs.cancelled != gs.submitted)
            FAIL("%s: group %d: submitted %" PRIu64 " completed %" PRIu64 " cancelled %" PRIu64
                 " pending %" PRIu64 "; POOL_OK %" PRIu64 " on_cancel %" PRIu64,
                 when, g, gs.submitted, gs.completed, gs.cancelled, gs.pending,
                 LOAD(&c->ok[g]), LOAD(&c->cancels[g]));
        if (pool_group_wait(c->groups[g], 0) != POOL_OK)
            FAIL("%s: group %d: pool_group_wait(0) is not POOL_OK", when, g);
    }
    memset(&ps, 0xff, sizeof ps);
    pool_get_stats_sized(c->pool, &ps, sizeof ps);
    /* The loops' helpers are tasks of the pool (submitted, completed,
     * perhaps cancelled: never handed to on_cancel, they are not C tasks);
     * a loop may have a helper refused (counted in rejected). */
    if (ps.queued != 0 || ps.busy != 0 || ps.paused != 0 ||
        ps.submitted != ps.completed + ps.cancelled || ps.submitted < ok ||
        ps.cancelled < cancels || ps.rejected < c->refused ||
        ps.rejected > c->refused + c->loop_calls ||
        (c->loop_calls == 0 && (ps.submitted != ok || ps.cancelled != cancels)))
        FAIL("%s: pool stats: queued %" PRIu32 " busy %" PRIu32 " paused %" PRIu32
             " submitted %" PRIu64 " completed %" PRIu64 " cancelled %" PRIu64
             " rejected %" PRIu64 "; POOL_OK %" PRIu64 " on_cancel %" PRIu64 " refused %" PRIu64
             " loops %" PRIu64,
             when, ps.queued, ps.busy, ps.paused, ps.submitted, ps.completed, ps.cancelled,
             ps.rejected, ok, cancels, c->refused, c->loop_calls);
}

/* pool_shutdown, its report checked against what it handed to on_cancel. */
static pool_status shutdown_checked(struct cctx *c, pool_shutdown_mode mode, uint64_t ms)
{
    struct cancel_call call = {c, 0};
    pool_shutdown_report r;
    pool_status st;

    STORE(&c->shutdown_begun, 1);
    total_shutdowns++; /* main thread only */
    memset(&r, 0xff, sizeof r);
    st = pool_shutdown(c->pool, mode, ms, on_cancel_record, &call, &r);
    if (st != POOL_OK && !(st == POOL_ERR_TIMEOUT && ms != UINT64_MAX))
        FAIL("pool_shutdown(mode %d, %" PRIu64 " ms) returned %d", (int)mode, ms, (int)st);
    if (r.cancelled != call.handed || (mode == POOL_SHUTDOWN_DRAIN && r.cancelled != 0))
        FAIL("pool_shutdown(mode %d) reported %" PRIu64 " cancelled, handed %" PRIu64, (int)mode,
             r.cancelled, call.handed);
    if (st == POOL_OK && (r.queued != 0 || r.running != 0))
        FAIL("pool_shutdown returned POOL_OK with queued %" PRIu64 " running %" PRIu32, r.queued,
             r.running);
    /* POOL_ERR_TIMEOUT with queued == running == 0 is possible: the last
     * task may end between the deadline and the report, or every task has
     * ended and a worker is still on its way out (not yet joined). */
    return st;
}

/* After pool_shutdown: every call refuses, except pool_cancel_queued. */
static void check_shut(struct cctx *c, uint64_t *s)
{
    pool_group_t *g;
    pool_stats ps;
    pool_status st;

    errno = 0;
    g = pool_group_new(c->pool);
    if (g != NULL || errno != ECANCELED) {
        FAIL("pool_group_new after pool_shutdown: %p, errno %d", (void *)g, errno);
        pool_group_free(g);
    }
    csubmit(c, (int)(rnd(s) % CNGROUPS), (enum how)(rnd(s) % 3), 0, 1);
    /* The header: pool_pause refuses once pool_shutdown began; pool_resume
     * refuses only once pool_free began (after a shutdown there is nothing
     * paused to resume). */
    if ((st = pool_pause(c->pool)) != POOL_ERR_FREED)
        FAIL("pool_pause after pool_shutdown returned %d", (int)st);
    if ((st = pool_resume(c->pool)) != POOL_OK && st != POOL_ERR_FREED)
        FAIL("pool_resume after pool_shutdown returned %d", (int)st);
    run_loop(c, s, 10);
    cancel_now(c);
    memset(&ps, 0xff, sizeof ps);
    pool_get_stats_sized(c->pool, &ps, sizeof ps);
    if (ps.workers != 0)
        FAIL("%" PRIu32 " workers after pool_shutdown returned POOL_OK", ps.workers);
}

/* After pool_free: each token decided; accepted ones ran XOR were
 * cancelled, once; refused ones neither; the groups agree. */
static void verify_ctokens(struct cctx *c, unsigned combo, int end)
{
    unsigned used = LOAD(&c->next), i;
    uint64_t ran[CNGROUPS] = {0}, cancelled[CNGROUPS] = {0}, accepted = 0;
    int g;

    if (used > CTOKENS)
        used = CTOKENS;
    for (i = 0; i < used; i++) {
        struct ctoken *t = &c->tokens[i];
        unsigned char s = LOAD(&t->state);
        unsigned r = s & RAN_MASK, x = (s & C_CANCELLED) != 0;
        if (s & ACCEPTED) {
            accepted++;
            ran[t->group] += r;
            cancelled[t->group] += x;
        }
        if ((s & ACCEPTED) && (s & REJECTED))
            FAIL("control %u end %d: token %u both accepted and refused", combo, end, i);
        else if ((s & ACCEPTED) && r + x != 1)
            FAIL("control %u end %d: token %u accepted, ran %u times, cancelled %u", combo, end,
                 i, r, x);
        else if ((s & REJECTED) && r + x != 0)
            FAIL("control %u end %d: token %u refused, ran %u times, cancelled %u", combo, end,
                 i, r, x);
        else if (!(s & (ACCEPTED | REJECTED)))
            FAIL("control %u end %d: token %u never decided", combo, end, i);
        else if ((int)i >= c->paused_fill && (s & ACCEPTED) && !x)
            FAIL("control %u end %d: token %u, accepted while paused, ran instead of being "
                 "cancelled by pool_shutdown(CANCEL)",
                 combo, end, i);
    }
    if (accepted != total_ok(c))
        FAIL("control %u: %" PRIu64 " tokens accepted, %" PRIu64 " POOL_OK", combo, accepted,
             total_ok(c));
    total_cancelled += total_cancels(c);
    total_loops += c->loop_calls;
    for (g = 0; g < CNGROUPS; g++) {
        pool_group_stats gs;
        memset(&gs, 0xff, sizeof gs);
        pool_group_get_stats(c->groups[g], &gs, sizeof gs);
        if (gs.submitted != LOAD(&c->ok[g]) || gs.completed != ran[g] ||
            gs.cancelled != cancelled[g] || gs.pending != 0 || cancelled[g] != c->cancels[g])
            FAIL("control %u end %d group %d after pool_free: submitted %" PRIu64
                 " completed %" PRIu64 " cancelled %" PRIu64 " pending %" PRIu64
                 "; tokens: accepted %" PRIu64 " ran %" PRIu64 " cancelled %" PRIu64,
                 combo, end, g, gs.submitted, gs.completed, gs.cancelled, gs.pending,
                 LOAD(&c->ok[g]), ran[g], cancelled[g]);
    }
    total_tasks += accepted;
}

static void control_round(unsigned iter, uint64_t seed)
{
    static const size_t queues[] = {0, 4, SIZE_MAX};
    static const uint64_t shutdown_ms[] = {0, 1, 20, UINT64_MAX};
    static struct cctx cc; /* ~50 KiB: not on the stack */
    struct cctx *c = &cc;
    struct cdriver d[CTHREADS];
    pthread_t th[CTHREADS];
    pool_options_t *o = pool_options_new();
    uint64_t s = seed ^ 0xA5A5A5A5DEADBEEFULL;
    unsigned combo = iter % 12;
    int end = (int)(rnd(&s) % 4), k, n;
    pool_status st;

    memset(c, 0, sizeof *c);
    c->paused_fill = CTOKENS;
    if (o == NULL) {
        FAIL("pool_options_new returned NULL");
        return;
    }
    c->block = combo % 2 == 0;
    c->queue = queues[(combo / 2) % 3];
    c->capacity = 1 + (int)(rnd(&s) % 4);
    if (pool_options_set_block(o, c->block) != POOL_OK ||
        pool_options_set_prealloc(o, (combo / 6) % 2 == 1) != POOL_OK ||
        pool_options_set_queue_size(o, c->queue) != POOL_OK)
        FAIL("an option setter refused a valid value (control %u)", combo);
    c->pool = pool_new(c->capacity, o);
    pool_options_free(o);
    if (c->pool == NULL) {
        FAIL("pool_new (control %u): NULL (%s)", combo, strerror(errno));
        return;
    }
    for (k = 0; k < CNGROUPS; k++) {
        c->groups[k] = pool_group_new(c->pool);
        if (c->groups[k] == NULL) {
            FAIL("pool_group_new: NULL (%s)", strerror(errno));
            for (n = 0; n < k; n++)
                pool_group_free(c->groups[n]);
            pool_free(c->pool);
            return;
        }
    }
    for (k = 0; k < CTHREADS; k++) {
        d[k].c = c;
        d[k].seed = seed ^ ((uint64_t)(iter * CTHREADS + (unsigned)k + 7) * 0x9E3779B97F4A7C15ULL);
        pthread_create(&th[k], NULL, cdrive, &d[k]);
    }
    if (end == 2) {
        /* While the drivers run: their calls get POOL_ERR_FREED from now on,
         * blocked ones included. */
        pool_shutdown_mode mode = rnd(&s) % 2 ? POOL_SHUTDOWN_CANCEL : POOL_SHUTDOWN_DRAIN;
        st = shutdown_checked(c, mode, shutdown_ms[rnd(&s) % 4]);
        for (k = 0; k < CTHREADS; k++)
            pthread_join(th[k], NULL);
        /* Tasks may still run after a timeout: wait for ever this time
         * (cancelling what a drain left, or draining). */
        if (st != POOL_OK)
            shutdown_checked(c, rnd(&s) % 2 ? POOL_SHUTDOWN_CANCEL : POOL_SHUTDOWN_DRAIN,
                             UINT64_MAX);
        quiesce(c);
        check_quiescent(c, "after a racing pool_shutdown");
        check_shut(c, &s);
    } else {
        for (k = 0; k < CTHREADS; k++)
            pthread_join(th[k], NULL);
        /* A driver never leaves the pool paused, but two pause windows may
         * overlap; resume in any case (tasks, too, resume at once). */
        if (pool_resume(c->pool) != POOL_OK)
            FAIL("pool_resume after the drivers returned an error");
        quiesce(c);
        check_quiescent(c, "after the drivers");
        if (end == 1) {
            shutdown_checked(c, rnd(&s) % 2 ? POOL_SHUTDOWN_CANCEL : POOL_SHUTDOWN_DRAIN,
                             UINT64_MAX);
            check_quiescent(c, "after pool_shutdown");
            check_shut(c, &s);
        } else if (end == 3) {
            /* Nothing runs now. Once pool_pause returned no task starts
             * until a resume, so every task accepted from here on is still
             * queued when pool_cancel_queued runs. pool_shutdown resumes
             * the pool before it cancels: called at once, it may let
             * workers start some of them first. */
            int cancel_first = (int)(rnd(&s) % 2);
            if ((st = pool_pause(c->pool)) != POOL_OK)
                FAIL("pool_pause returned %d", (int)st);
            if (cancel_first)
                c->paused_fill = (int)LOAD(&c->next);
            n = 2 + (int)(rnd(&s) % 12);
            for (k = 0; k < n; k++)
                csubmit(c, (int)(rnd(&s) % CNGROUPS), rnd(&s) % 2 ? TRY : TIMEOUT, 0, 0);
            if (cancel_first)
                cancel_now(c);
            shutdown_checked(c, POOL_SHUTDOWN_CANCEL, UINT64_MAX);
            quiesce(c);
            check_quiescent(c, "after pause, fill, (cancel,) pool_shutdown(CANCEL)");
        }
    }
    /* Groups outlive their pool (freed after it) or not, at random.
     * Nothing runs any more (quiesced), so the tokens are final either
     * way. */
    if (rnd(&s) % 2) {
        verify_ctokens(c, combo, end);
        for (k = 0; k < CNGROUPS; k++)
            if ((st = pool_group_free(c->groups[k])) != POOL_OK)
                FAIL("pool_group_free returned %d", (int)st);
        if ((st = pool_free(c->pool)) != POOL_OK)
            FAIL("pool_free (control) returned %d", (int)st);
    } else {
        if ((st = pool_free(c->pool)) != POOL_OK)
            FAIL("pool_free (control) returned %d", (int)st);
        verify_ctokens(c, combo, end);
        for (k = 0; k < CNGROUPS; k++) {
            /* Its pool is gone: schedules refuse, the wait returns. */
            if ((st = pool_group_try_schedule(c->groups[k], ctask, &c->tokens[0])) !=
                POOL_ERR_FREED)
                FAIL("pool_group_try_schedule after pool_free returned %d", (int)st);
            if ((st = pool_group_wait(c->groups[k], UINT64_MAX)) != POOL_OK)
                FAIL("pool_group_wait after pool_free returned %d", (int)st);
            if ((st = pool_group_free(c->groups[k])) != POOL_OK)
                FAIL("pool_group_free after pool_free returned %d", (int)st);
        }
    }
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
    control_round(iter, seed);
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
    printf("stress: OK iterations=%ld tasks=%llu cancelled=%llu loops=%llu shutdowns=%llu\n",
           iterations, total_tasks, total_cancelled, total_loops, total_shutdowns);
    return 0;
}
