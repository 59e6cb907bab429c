//! Pause, resume, cancelling queued tasks, and a shutdown that chooses
//! (`pool_pause`, `pool_resume`, `pool_cancel_queued`, `pool_shutdown`).

use std::ffi::c_void;
use std::time::{Duration, Instant};

use super::handle::{pool_t, pool_task_fn, with_pool};
use super::pool_status;
use crate::control::{ShutdownMode, ShutdownReport};
use crate::job::Job;

/// Called once per task removed unrun (`pool_cancel_queued`, a cancelling
/// `pool_shutdown`), on the thread that removed it, with the task's
/// function and argument as they were scheduled and the `ctx` given with
/// the call: the place to free `arg`. It must not call back into the same
/// pool's `pool_cancel_queued` or `pool_shutdown`.
pub type pool_cancel_fn =
    Option<unsafe extern "C" fn(task: pool_task_fn, arg: *mut c_void, ctx: *mut c_void)>;

/// What `pool_shutdown` does with the tasks still queued.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pool_shutdown_mode {
    /// Let the queued tasks run.
    POOL_SHUTDOWN_DRAIN = 0,
    /// Remove them unrun, handing each to `on_cancel`.
    POOL_SHUTDOWN_CANCEL = 1,
}

/// What `pool_shutdown` found when it returned.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct pool_shutdown_report {
    /// Tasks handed to `on_cancel` by this call.
    pub cancelled: u64,
    /// Tasks still queued when it returned (a `DRAIN` that timed out).
    pub queued: u64,
    /// Tasks still running when it returned.
    pub running: u32,
}

/// Hands a removed task to the caller's `on_cancel`. Rust closures (only
/// scheduled through the Rust API, never seen by C) are dropped.
fn cancel_to(on_cancel: pool_cancel_fn, ctx: *mut c_void) -> impl FnMut(Job) {
    move |job| {
        if let (Some(on_cancel), Some((func, arg))) = (on_cancel, job.into_c_task()) {
            // SAFETY: the caller of `pool_cancel_queued` / `pool_shutdown`
            // gave this callback for exactly this use, on this thread.
            unsafe { on_cancel(Some(func), arg.get(), ctx) };
        }
    }
}

/// Pauses the pool: from the return on, workers start no task until
/// `pool_resume` (running tasks finish; a task a worker had already taken
/// when the call began may still start). Schedules are still accepted
/// while the queue has room (tasks still running count against it until
/// they end); a hand-off pool (`queue_size` 0) is full while paused. So
/// schedules block, time out or are refused as on a full pool (and a task
/// of the pool scheduling on it runs the new task inline, as on a full
/// pool). `pool_wait` waits meanwhile: use `pool_wait_timeout`. Pausing
/// twice is the same as once; `pool_free` and `pool_shutdown` resume a
/// paused pool. `pool_stats.paused` is 1 while paused. Thread-safe.
///
/// Returns `POOL_OK`, `POOL_ERR_FREED` (`pool_free` or `pool_shutdown`
/// began), `POOL_ERR_FORKED` (in a child after `fork()`),
/// `POOL_ERR_INVALID` (`pool` NULL).
///
/// # Safety
/// `pool` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_pause(pool: *mut pool_t) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe { with_pool(pool, |core| core.pause().into()) }
}

/// Resumes a paused pool: workers take the queued tasks, in order, and
/// schedulers waiting for room are let in. A pool that is not paused is
/// left as it is. Thread-safe.
///
/// Returns `POOL_OK`, `POOL_ERR_FREED` (`pool_free` or `pool_shutdown`
/// began: closing already resumed the pool), `POOL_ERR_FORKED`,
/// `POOL_ERR_INVALID` (`pool` NULL).
///
/// # Safety
/// `pool` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_resume(pool: *mut pool_t) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_pool(pool, |core| {
            if core.shared().is_closing() {
                return pool_status::POOL_ERR_FREED;
            }
            core.resume();
            pool_status::POOL_OK
        })
    }
}

/// Removes every task accepted and not yet started, and calls
/// `on_cancel(task, arg, ctx)` (may be NULL) exactly once per removed task,
/// on the calling thread, before returning, so the caller can free `arg`.
/// `*cancelled` (may be NULL) gets their number. (Helper tasks that a
/// `pool_parallel_for` left queued, the pool's own, are dropped too and
/// counted as completed, never reported: their loop runs without them.)
/// Running tasks are not
/// touched; removed tasks never run, and count in `pool_stats.cancelled`
/// (and in their group's `cancelled`). Tasks accepted while the call runs
/// may or may not be removed. In hand-off mode (`queue_size` 0) every
/// accepted task is already with a worker: none is removed.
///
/// Thread-safe; `on_cancel` must not call `pool_cancel_queued` or
/// `pool_shutdown` on the same pool.
///
/// Returns `POOL_OK`, `POOL_ERR_FREED` (`pool_free` began; after a
/// `pool_shutdown` it still works), `POOL_ERR_FORKED`, `POOL_ERR_INVALID`
/// (`pool` NULL).
///
/// # Safety
/// `pool` is NULL or a live handle; `cancelled` is NULL or writable;
/// `on_cancel` is NULL or safe to call with `ctx` on this thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_cancel_queued(
    pool: *mut pool_t,
    on_cancel: pool_cancel_fn,
    ctx: *mut c_void,
    cancelled: *mut u64,
) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_pool(pool, |core| {
            let n = core.shared().cancel_queued(cancel_to(on_cancel, ctx));
            if !cancelled.is_null() {
                // SAFETY: non-NULL and writable per the contract.
                cancelled.write(n);
            }
            pool_status::POOL_OK
        })
    }
}

/// Begins shutting down exactly as `pool_free` does (new and blocked
/// schedulers get `POOL_ERR_FREED`; a paused pool is resumed);
/// `POOL_SHUTDOWN_DRAIN` lets the queued tasks run, `POOL_SHUTDOWN_CANCEL`
/// removes them as `pool_cancel_queued` does, handing each to `on_cancel`
/// (may be NULL) on this thread. Then waits up to `timeout_ms` (0: no
/// wait, `UINT64_MAX`: for ever) for the remaining tasks to finish and
/// every worker to be joined (each has run `on_exit`). No thread is ever
/// killed. `report` (may be NULL) gets what this call cancelled and what
/// still ran or waited when it returned.
///
/// It may be called again: to wait longer, or to cancel what a drain left.
/// The handle stays valid, and readable (`pool_get_stats`), until
/// `pool_free`, which then waits for whatever still runs and releases the
/// memory. Thread-safe, as `pool_free`.
///
/// Returns `POOL_OK` (every worker joined), `POOL_ERR_TIMEOUT` (at the
/// deadline some task still ran or waited, or a worker had not yet
/// returned: its `on_exit` hook may still run; `report` says which tasks),
/// `POOL_ERR_DEADLOCK` (called from a
/// worker of this pool: nothing is done), `POOL_ERR_FREED` (`pool_free`
/// began), `POOL_ERR_FORKED`, `POOL_ERR_INVALID` (`pool` NULL, or `mode`
/// not a `pool_shutdown_mode`).
///
/// # Safety
/// `pool` is NULL or a live handle; `report` is NULL or writable;
/// `on_cancel` is NULL or safe to call with `ctx` on this thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_shutdown(
    pool: *mut pool_t,
    mode: pool_shutdown_mode_value,
    timeout_ms: u64,
    on_cancel: pool_cancel_fn,
    ctx: *mut c_void,
    report: *mut pool_shutdown_report,
) -> pool_status {
    let mode = match mode {
        0 => ShutdownMode::Drain,
        1 => ShutdownMode::Cancel,
        _ => return pool_status::POOL_ERR_INVALID,
    };
    let deadline = Instant::now().checked_add(Duration::from_millis(timeout_ms));
    // SAFETY: forwarded from the caller.
    unsafe {
        with_pool(pool, |core| {
            let (result, found): (_, ShutdownReport) =
                core.shared()
                    .shutdown_within(mode, deadline, cancel_to(on_cancel, ctx));
            if !report.is_null() {
                // SAFETY: non-NULL and writable per the contract.
                report.write(pool_shutdown_report {
                    cancelled: found.cancelled,
                    queued: found.queued,
                    running: u32::try_from(found.running).unwrap_or(u32::MAX),
                });
            }
            result.into()
        })
    }
}

/// `pool_shutdown`'s `mode` parameter: the header shows it as
/// `pool_shutdown_mode`, but Rust receives the raw `int`, so that a value
/// outside the enum is refused, not undefined behaviour.
pub type pool_shutdown_mode_value = std::ffi::c_int;
