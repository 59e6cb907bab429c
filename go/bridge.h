// C helpers of the Go package, included by each file's cgo preamble.
// Every function is static inline: each cgo file gets its own copy.
#ifndef WORKERPOOL_GO_BRIDGE_H
#define WORKERPOOL_GO_BRIDGE_H
#include <stdint.h>
#include <stdlib.h>
#include "workerpool.h"

// Defined in export.go (//export).
extern void workerpoolGoTask(void *arg);
extern void workerpoolGoCancelled(void *arg);
extern void workerpoolGoRange(void *ctx, size_t begin, size_t end);

// The task argument is a cgo.Handle, an integer: it becomes a void * here,
// in C, so that Go never turns a uintptr into an unsafe.Pointer.
static inline enum pool_status wp_schedule(pool_t *p, uintptr_t h)
{
    return pool_schedule(p, workerpoolGoTask, (void *)h);
}
static inline enum pool_status wp_try_schedule(pool_t *p, uintptr_t h)
{
    return pool_try_schedule(p, workerpoolGoTask, (void *)h);
}
static inline enum pool_status wp_schedule_timeout(pool_t *p, uintptr_t h, uint64_t ms)
{
    return pool_schedule_timeout(p, workerpoolGoTask, (void *)h, ms);
}
static inline enum pool_status wp_group_schedule(pool_group_t *g, uintptr_t h)
{
    return pool_group_schedule(g, workerpoolGoTask, (void *)h);
}
static inline enum pool_status wp_group_try_schedule(pool_group_t *g, uintptr_t h)
{
    return pool_group_try_schedule(g, workerpoolGoTask, (void *)h);
}
static inline enum pool_status wp_group_schedule_timeout(pool_group_t *g, uintptr_t h, uint64_t ms)
{
    return pool_group_schedule_timeout(g, workerpoolGoTask, (void *)h, ms);
}

// on_cancel: only Go tasks are ever scheduled on a pool made by this
// package, but check: a removed Go task's handle is deleted.
static inline void wp_on_cancel(pool_task_fn task, void *arg, void *ctx)
{
    (void)ctx;
    if (task == workerpoolGoTask)
        workerpoolGoCancelled(arg);
}
static inline enum pool_status wp_cancel_queued(pool_t *p, uint64_t *cancelled)
{
    return pool_cancel_queued(p, wp_on_cancel, NULL, cancelled);
}
static inline enum pool_status wp_shutdown(pool_t *p, pool_shutdown_mode mode, uint64_t ms,
                                      pool_shutdown_report *report)
{
    return pool_shutdown(p, mode, ms, wp_on_cancel, NULL, report);
}
static inline enum pool_status wp_parallel_for(pool_t *p, size_t begin, size_t end, size_t grain,
                                          uintptr_t h)
{
    return pool_parallel_for(p, begin, end, grain, workerpoolGoRange, (void *)h);
}

#endif
