/*
 * header-check (C99): include/workerpool.h must be self-contained (no other
 * include before it), guarded against double inclusion, warning-free under
 * -std=c99 -Wall -Wextra -Wpedantic -Werror, and must declare exactly the
 * API.md names with exactly the API.md signatures (a mismatch in any
 * pointer initialiser below is a constraint violation, hence an error).
 */
#include "workerpool.h"
#include "workerpool.h" /* include guard */

#include <stddef.h> /* offsetof */

/* C99 has no _Static_assert: a negative array size fails the build. */
#define CHECK(name, cond) typedef char check_##name[(cond) ? 1 : -1]

CHECK(version_major, WORKERPOOL_VERSION_MAJOR >= 0);
CHECK(version_minor, WORKERPOOL_VERSION_MINOR >= 0);
CHECK(version_patch, WORKERPOOL_VERSION_PATCH >= 0);

CHECK(ok, POOL_OK == 0);
CHECK(no_idle, POOL_ERR_NO_IDLE_WORKER == 1);
CHECK(freed, POOL_ERR_FREED == 2);
CHECK(invalid, POOL_ERR_INVALID == 3);
CHECK(timeout, POOL_ERR_TIMEOUT == 4);
CHECK(spawn, POOL_ERR_SPAWN == 5);
CHECK(deadlock, POOL_ERR_DEADLOCK == 6);

CHECK(stats_capacity, sizeof(((pool_stats *)0)->capacity) == 4);
CHECK(stats_workers, sizeof(((pool_stats *)0)->workers) == 4);
CHECK(stats_busy, sizeof(((pool_stats *)0)->busy) == 4);
CHECK(stats_queued, sizeof(((pool_stats *)0)->queued) == 4);
CHECK(stats_submitted, sizeof(((pool_stats *)0)->submitted) == 8);
CHECK(stats_completed, sizeof(((pool_stats *)0)->completed) == 8);
CHECK(stats_rejected, sizeof(((pool_stats *)0)->rejected) == 8);
CHECK(stats_order, offsetof(pool_stats, capacity) == 0 &&
                   offsetof(pool_stats, workers) == 4 &&
                   offsetof(pool_stats, busy) == 8 &&
                   offsetof(pool_stats, queued) == 12 &&
                   offsetof(pool_stats, submitted) == 16 &&
                   offsetof(pool_stats, completed) == 24 &&
                   offsetof(pool_stats, rejected) == 32 &&
                   offsetof(pool_stats, cancelled) == 40 &&
                   offsetof(pool_stats, paused) == 48);

/* Both spellings of the types exist. */
typedef struct pool check_struct_pool;
typedef struct pool_options check_struct_pool_options;
typedef enum pool_status check_enum_pool_status;
typedef struct pool_stats check_struct_pool_stats;

typedef void (*hook_fn)(void *ctx);

struct api_table {
    pool_options_t *(*options_new)(void);
    void (*options_free)(pool_options_t *);
    pool_status (*set_block)(pool_options_t *, bool);
    pool_status (*set_prealloc)(pool_options_t *, bool);
    pool_status (*set_queue_size)(pool_options_t *, size_t);
    pool_status (*set_idle_timeout_ms)(pool_options_t *, uint64_t);
    pool_status (*set_stack_size)(pool_options_t *, size_t);
    pool_status (*set_thread_name)(pool_options_t *, const char *);
    pool_status (*set_thread_hooks)(pool_options_t *, hook_fn, hook_fn, void *);
    pool_t *(*new_)(int, const pool_options_t *);
    pool_status (*schedule)(pool_t *, pool_task_fn, void *);
    pool_status (*try_schedule)(pool_t *, pool_task_fn, void *);
    pool_status (*schedule_timeout)(pool_t *, pool_task_fn, void *, uint64_t);
    pool_status (*wait)(pool_t *);
    pool_status (*wait_timeout)(pool_t *, uint64_t);
    pool_status (*set_capacity)(pool_t *, int);
    void (*get_stats)(const pool_t *, pool_stats *);
    pool_status (*free_)(pool_t *);
    const char *(*strerror_)(pool_status);
    const char *(*version)(void);
    pool_status (*parallel_for)(pool_t *, size_t, size_t, size_t, pool_range_fn, void *);
    void (*task)(void *);
    void (*range_body)(void *, size_t, size_t);
};

static void noop_task(void *arg) { (void)arg; }
static void noop_range(void *ctx, size_t begin, size_t end) { (void)ctx; (void)begin; (void)end; }

const struct api_table workerpool_check_c = {
    pool_options_new,
    pool_options_free,
    pool_options_set_block,
    pool_options_set_prealloc,
    pool_options_set_queue_size,
    pool_options_set_idle_timeout_ms,
    pool_options_set_stack_size,
    pool_options_set_thread_name,
    pool_options_set_thread_hooks,
    pool_new,
    pool_schedule,
    pool_try_schedule,
    pool_schedule_timeout,
    pool_wait,
    pool_wait_timeout,
    pool_set_capacity,
    pool_get_stats,
    pool_free,
    pool_strerror,
    pool_version,
    pool_parallel_for,
    noop_task,
    noop_range,
};

/* pool_task_fn is exactly void (*)(void *). */
pool_task_fn workerpool_check_task = noop_task;
/* pool_range_fn is exactly void (*)(void *, size_t, size_t). */
pool_range_fn workerpool_check_range = noop_range;
