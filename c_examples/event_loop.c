/*
 * event_loop: task groups driven from an epoll loop (Linux).
 *
 *   event_loop [batches]     (default 6, at most 1000)
 *
 * Work arrives in batches, as requests reach a server: a batch is BUFFERS
 * in-memory buffers, and one task per buffer fills it (a fixed
 * pseudo-random pattern, standing in for reading or decoding data) and
 * hashes it with 64-bit FNV-1a. Each batch gets a task group of its own.
 * The loop thread never waits for the pool: it hands a batch over and goes
 * back to epoll_wait, which watches
 *
 *   - a timerfd ticking every TICK_MS ms: the loop prints
 *     "tick N: in flight K" and starts the next batch (at most
 *     MAX_IN_FLIGHT at once), so ticks go on while the pool works (the
 *     first batch starts at once);
 *   - each batch's group fd (pool_group_fd): when it fires, the loop reads
 *     its 8 bytes, checks that pool_group_wait(group, 0) is POOL_OK and the
 *     group's stats, combines the buffer hashes (FNV-1a over each hash's 8
 *     little-endian bytes, in buffer order), compares the result with the
 *     same computation done serially before the loop started (a check for
 *     this example: a real program would not do the work twice), prints
 *     "batch N: OK <16 hex digits>" and frees the group.
 *
 * Each batch line is deterministic (tests/c_examples.rs recomputes the
 * hashes), not their order: batches in flight together finish in any
 * order. The tick lines depend on timing. Ends with
 * "event_loop: OK batches=N tasks=M ticks=T" and exit status 0 only if every
 * call succeeded and every batch matched its serial hash.
 */
#include "workerpool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define CAPACITY 4
#define BUFFERS 8              /* tasks per batch */
#define BUFFER_BYTES (256 * 1024)
#define MAX_IN_FLIGHT 3
#define TICK_MS 5
#define MAX_BATCHES 1000

/* One buffer and what its task computes. */
struct job {
    int batch, index;
    unsigned char *data; /* allocated by the loop, filled by the task */
    size_t len;
    uint64_t hash; /* written by the task; read after the group is done */
};

struct batch {
    int id;
    pool_group_t *group;
    int fd; /* the group's eventfd: owned by the group, not closed here */
    struct job jobs[BUFFERS];
};

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL

/* Buffer i of batch b: buffer_len(i) bytes, each the top byte of a
 * xorshift64 step seeded from (b, i). */
static size_t buffer_len(int i)
{
    return BUFFER_BYTES - 4099 * (size_t)i;
}

static void generate(unsigned char *data, size_t len, int b, int i)
{
    uint64_t x = 0x9E3779B97F4A7C15ULL * (uint64_t)(b * 64 + i + 1);
    size_t k;

    for (k = 0; k < len; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data[k] = (unsigned char)(x >> 56);
    }
}

/* The task: fill one buffer, then hash it. */
static void hash_buffer(void *arg)
{
    struct job *j = arg;
    generate(j->data, j->len, j->batch, j->index);
    j->hash = fnv1a(FNV_OFFSET, j->data, j->len);
}

/* The batch's result: FNV-1a over the buffer hashes, in buffer order (so
 * the order the tasks finished in does not matter). */
static uint64_t combine(const uint64_t *hashes)
{
    uint64_t h = FNV_OFFSET;
    int i, k;
    for (i = 0; i < BUFFERS; i++) {
        unsigned char le[8];
        for (k = 0; k < 8; k++)
            le[k] = (unsigned char)(hashes[i] >> (8 * k));
        h = fnv1a(h, le, sizeof le);
    }
    return h;
}

static void release(struct batch *b)
{
    int i;
    for (i = 0; i < BUFFERS; i++) {
        free(b->jobs[i].data);
        b->jobs[i].data = NULL;
    }
    free(b);
}

/* Makes batch `id`, schedules its tasks in a new group, and registers the
 * group's fd with epoll. NULL on failure (printed). */
static struct batch *start_batch(pool_t *pool, int epfd, int id)
{
    struct batch *b = calloc(1, sizeof *b);
    struct epoll_event ev;
    pool_status st;
    int i;

    if (b == NULL) {
        perror("event_loop: calloc");
        return NULL;
    }
    b->id = id;
    b->fd = -1;
    for (i = 0; i < BUFFERS; i++) {
        struct job *j = &b->jobs[i];
        j->batch = id;
        j->index = i;
        j->len = buffer_len(i);
        j->data = malloc(j->len);
        if (j->data == NULL) {
            perror("event_loop: malloc");
            release(b);
            return NULL;
        }
    }
    b->group = pool_group_new(pool);
    if (b->group == NULL) {
        perror("event_loop: pool_group_new");
        release(b);
        return NULL;
    }
    /* The pool's queue is unbounded (SIZE_MAX), so a schedule here never
     * waits: the loop stays responsive. */
    for (i = 0; i < BUFFERS; i++) {
        st = pool_group_schedule(b->group, hash_buffer, &b->jobs[i]);
        if (st != POOL_OK) {
            fprintf(stderr, "event_loop: pool_group_schedule: %s\n", pool_strerror(st));
            /* pool_group_free waits for the tasks already accepted, which
             * point into b: only then may b go. */
            pool_group_free(b->group);
            release(b);
            return NULL;
        }
    }
    /* Asked for after the last schedule: the fd becomes readable when the
     * pending count drops to 0, or at once if every task has already run.
     * No task is added later, so it fires once, when the batch is done. */
    b->fd = pool_group_fd(b->group);
    if (b->fd < 0) {
        perror("event_loop: pool_group_fd");
        pool_group_free(b->group);
        release(b);
        return NULL;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = b;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, b->fd, &ev) != 0) {
        perror("event_loop: epoll_ctl(ADD group fd)");
        pool_group_free(b->group);
        release(b);
        return NULL;
    }
    return b;
}

/* The group's fd fired: collect, check and print the batch, then free it.
 * 0 on success. */
static int finish_batch(int epfd, struct batch *b, uint64_t expected)
{
    uint64_t events, hashes[BUFFERS], parallel;
    pool_group_stats gs;
    pool_status st;
    ssize_t n;
    int i, failed = 0;

    n = read(b->fd, &events, sizeof events);
    if (n != (ssize_t)sizeof events) {
        perror("event_loop: read(group fd)");
        return -1;
    }
    /* The fd only says "pending reached 0 at some point"; the group wait
     * says whether it is done now. Nothing adds tasks to this group after
     * its fd was made, so it must be; a program that adds tasks later
     * would go back to polling on POOL_ERR_TIMEOUT. It also makes the
     * tasks' writes to jobs[i].hash visible to this thread. */
    st = pool_group_wait(b->group, 0);
    if (st != POOL_OK) {
        fprintf(stderr, "event_loop: batch %d: fd fired but pool_group_wait(0): %s\n", b->id,
                pool_strerror(st));
        return -1;
    }
    memset(&gs, 0xff, sizeof gs);
    pool_group_get_stats(b->group, &gs, sizeof gs);
    if (gs.submitted != BUFFERS || gs.completed != BUFFERS || gs.cancelled != 0 ||
        gs.pending != 0) {
        fprintf(stderr,
                "event_loop: batch %d: group stats submitted=%" PRIu64 " completed=%" PRIu64
                " cancelled=%" PRIu64 " pending=%" PRIu64 ", expected %d %d 0 0\n",
                b->id, gs.submitted, gs.completed, gs.cancelled, gs.pending, BUFFERS, BUFFERS);
        failed = 1;
    }
    for (i = 0; i < BUFFERS; i++)
        hashes[i] = b->jobs[i].hash;
    parallel = combine(hashes);
    if (parallel == expected && !failed)
        printf("batch %d: OK %016" PRIx64 "\n", b->id, parallel);
    else {
        printf("batch %d: MISMATCH %016" PRIx64 " serial %016" PRIx64 "\n", b->id, parallel,
               expected);
        failed = 1;
    }
    /* pool_group_free closes the fd: take it out of the epoll set first. */
    if (epoll_ctl(epfd, EPOLL_CTL_DEL, b->fd, NULL) != 0) {
        perror("event_loop: epoll_ctl(DEL group fd)");
        failed = 1;
    }
    st = pool_group_free(b->group);
    if (st != POOL_OK) {
        fprintf(stderr, "event_loop: pool_group_free: %s\n", pool_strerror(st));
        failed = 1;
    }
    release(b);
    return failed ? -1 : 0;
}

/* Every batch's result, computed serially on this thread: the reference
 * the pool's results are checked against. NULL on failure (printed). */
static uint64_t *serial_results(int nbatches)
{
    uint64_t *expected = malloc((size_t)nbatches * sizeof *expected), hashes[BUFFERS];
    unsigned char *scratch = malloc(BUFFER_BYTES);
    int b, i;

    if (expected == NULL || scratch == NULL) {
        perror("event_loop: malloc");
        free(expected);
        free(scratch);
        return NULL;
    }
    for (b = 0; b < nbatches; b++) {
        for (i = 0; i < BUFFERS; i++) {
            generate(scratch, buffer_len(i), b, i);
            hashes[i] = fnv1a(FNV_OFFSET, scratch, buffer_len(i));
        }
        expected[b] = combine(hashes);
    }
    free(scratch);
    return expected;
}

/* The loop: until `nbatches` batches are done, or an error (printed).
 * Returns the number of errors; `*finished` and `*ticks` say how far it
 * got. Every batch it started is released before it returns. */
static int run_loop(pool_t *pool, int nbatches, const uint64_t *expected, int *finished,
                    uint64_t *ticks)
{
    struct batch *in_flight[MAX_IN_FLIGHT] = {NULL};
    struct itimerspec its;
    struct epoll_event ev;
    int epfd = -1, tfd = -1, started = 0, active = 0, errors = 0, i;

    epfd = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (epfd < 0 || tfd < 0) {
        perror("event_loop: epoll_create1 / timerfd_create");
        errors++;
        goto out;
    }
    memset(&its, 0, sizeof its);
    its.it_interval.tv_nsec = TICK_MS * 1000000L;
    its.it_value.tv_nsec = TICK_MS * 1000000L;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* NULL: the timer; otherwise a struct batch */
    if (timerfd_settime(tfd, 0, &its, NULL) != 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev) != 0) {
        perror("event_loop: timerfd_settime / epoll_ctl(ADD timer)");
        errors++;
        goto out;
    }

    /* The first batch at once, the others on ticks. */
    if ((in_flight[0] = start_batch(pool, epfd, started)) == NULL)
        errors++;
    else {
        started++;
        active++;
    }

    while (!errors && *finished < nbatches) {
        struct epoll_event events[MAX_IN_FLIGHT + 1];
        int n = epoll_wait(epfd, events, MAX_IN_FLIGHT + 1, -1), k;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("event_loop: epoll_wait");
            errors++;
            break;
        }
        for (k = 0; k < n && !errors; k++) {
            struct batch *b = events[k].data.ptr;
            if (b == NULL) {
                uint64_t expirations;
                if (read(tfd, &expirations, sizeof expirations) != (ssize_t)sizeof expirations) {
                    perror("event_loop: read(timerfd)");
                    errors++;
                    break;
                }
                *ticks += expirations;
                printf("tick %" PRIu64 ": in flight %d\n", *ticks, active);
                if (started < nbatches && active < MAX_IN_FLIGHT) {
                    for (i = 0; in_flight[i] != NULL; i++) {
                        /* a free place exists: active < MAX_IN_FLIGHT */
                    }
                    if ((in_flight[i] = start_batch(pool, epfd, started)) == NULL)
                        errors++;
                    else {
                        started++;
                        active++;
                    }
                }
                continue;
            }
            for (i = 0; in_flight[i] != b; i++) {
                /* b is in flight: its fd was registered by start_batch */
            }
            in_flight[i] = NULL;
            active--;
            if (finish_batch(epfd, b, expected[b->id]) != 0)
                errors++;
            else
                (*finished)++;
        }
    }

out:
    /* After an error, batches may still be in flight: pool_group_free waits
     * for their tasks before the buffers they use are released. */
    for (i = 0; i < MAX_IN_FLIGHT; i++) {
        if (in_flight[i] != NULL) {
            pool_group_free(in_flight[i]->group);
            release(in_flight[i]);
        }
    }
    if (tfd >= 0)
        close(tfd);
    if (epfd >= 0)
        close(epfd);
    return errors;
}

int main(int argc, char **argv)
{
    long nbatches = 6;
    pool_options_t *opts;
    pool_t *pool;
    pool_status st;
    pool_stats ps;
    uint64_t ticks = 0, *expected;
    int finished = 0, errors;

    if (argc > 2) {
        fprintf(stderr, "usage: event_loop [batches]\n");
        return 2;
    }
    if (argc == 2) {
        char *end;
        errno = 0;
        nbatches = strtol(argv[1], &end, 10);
        if (errno != 0 || *end != '\0' || end == argv[1] || nbatches < 1 ||
            nbatches > MAX_BATCHES) {
            fprintf(stderr, "event_loop: batches must be 1..%d, got '%s'\n", MAX_BATCHES,
                    argv[1]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    expected = serial_results((int)nbatches);
    if (expected == NULL)
        return 1;

    opts = pool_options_new();
    if (opts == NULL) {
        perror("event_loop: pool_options_new");
        free(expected);
        return 1;
    }
    st = pool_options_set_queue_size(opts, SIZE_MAX);
    if (st == POOL_OK)
        st = pool_options_set_thread_name(opts, "hash");
    if (st != POOL_OK) {
        fprintf(stderr, "event_loop: options: %s\n", pool_strerror(st));
        pool_options_free(opts);
        free(expected);
        return 1;
    }
    pool = pool_new(CAPACITY, opts);
    pool_options_free(opts); /* pool_new copied what it needs */
    if (pool == NULL) {
        perror("event_loop: pool_new");
        free(expected);
        return 1;
    }
    printf("event_loop: workerpool %s, %d workers, %ld batches of %d buffers, tick %d ms\n",
           pool_version(), CAPACITY, nbatches, BUFFERS, TICK_MS);

    errors = run_loop(pool, (int)nbatches, expected, &finished, &ticks);
    free(expected);

    /* The sized call: the 0.2 fields (cancelled, paused) come with it. */
    memset(&ps, 0, sizeof ps);
    pool_get_stats_sized(pool, &ps, sizeof ps);
    st = pool_free(pool);
    if (st != POOL_OK) {
        fprintf(stderr, "event_loop: pool_free: %s\n", pool_strerror(st));
        errors++;
    }
    if (!errors && (ps.submitted != (uint64_t)finished * BUFFERS || ps.completed != ps.submitted ||
                    ps.cancelled != 0)) {
        fprintf(stderr,
                "event_loop: pool stats submitted=%" PRIu64 " completed=%" PRIu64
                " cancelled=%" PRIu64 ", expected %d tasks\n",
                ps.submitted, ps.completed, ps.cancelled, finished * BUFFERS);
        errors++;
    }
    if (errors) {
        fprintf(stderr, "event_loop: FAILED after %d of %ld batches\n", finished, nbatches);
        return 1;
    }
    printf("event_loop: OK batches=%d tasks=%d ticks=%" PRIu64 "\n", finished, finished * BUFFERS,
           ticks);
    return 0;
}
