// header-check (C++11): include/workerpool.h must compile as C++ without
// warnings, give every function C linkage (extern "C"), and keep the API.md
// names and signatures. A mismatch in any initialiser below is an error.
#include "workerpool.h"
#include "workerpool.h" // include guard

#include <cstddef>
#include <type_traits>

static_assert(WORKERPOOL_VERSION_MAJOR >= 0, "WORKERPOOL_VERSION_MAJOR");
static_assert(WORKERPOOL_VERSION_MINOR >= 0, "WORKERPOOL_VERSION_MINOR");
static_assert(WORKERPOOL_VERSION_PATCH >= 0, "WORKERPOOL_VERSION_PATCH");

static_assert(POOL_OK == 0, "POOL_OK");
static_assert(POOL_ERR_NO_IDLE_WORKER == 1, "POOL_ERR_NO_IDLE_WORKER");
static_assert(POOL_ERR_FREED == 2, "POOL_ERR_FREED");
static_assert(POOL_ERR_INVALID == 3, "POOL_ERR_INVALID");
static_assert(POOL_ERR_TIMEOUT == 4, "POOL_ERR_TIMEOUT");
static_assert(POOL_ERR_SPAWN == 5, "POOL_ERR_SPAWN");
static_assert(POOL_ERR_DEADLOCK == 6, "POOL_ERR_DEADLOCK");

static_assert(std::is_standard_layout<pool_stats>::value, "pool_stats layout");
static_assert(sizeof(pool_stats) == 56, "pool_stats size (0.2: 0.1's 40 bytes, then cancelled, paused)");
static_assert(offsetof(pool_stats, capacity) == 0, "capacity");
static_assert(offsetof(pool_stats, workers) == 4, "workers");
static_assert(offsetof(pool_stats, busy) == 8, "busy");
static_assert(offsetof(pool_stats, queued) == 12, "queued");
static_assert(offsetof(pool_stats, submitted) == 16, "submitted");
static_assert(offsetof(pool_stats, completed) == 24, "completed");
static_assert(offsetof(pool_stats, rejected) == 32, "rejected");
static_assert(offsetof(pool_stats, cancelled) == 40, "cancelled (0.2, appended)");
static_assert(offsetof(pool_stats, paused) == 48, "paused (0.2, appended)");
static_assert(POOL_ERR_FORKED == 7, "POOL_ERR_FORKED");
static_assert(std::is_same<pool_t, struct pool>::value, "pool_t");
static_assert(std::is_same<pool_options_t, struct pool_options>::value, "pool_options_t");
static_assert(std::is_same<pool_task_fn, void (*)(void *)>::value, "pool_task_fn");
static_assert(std::is_same<pool_range_fn, void (*)(void *, size_t, size_t)>::value, "pool_range_fn");

extern "C" {
typedef void (*hook_fn)(void *ctx);
static void noop_task(void *arg) { (void)arg; }
static void noop_range(void *ctx, size_t begin, size_t end) { (void)ctx; (void)begin; (void)end; }
}

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
    pool_task_fn task;
    pool_range_fn range_body;
};

extern const api_table workerpool_check_cpp;
const api_table workerpool_check_cpp = {
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
