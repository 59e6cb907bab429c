//! `pool_group_t`: task groups from C (`group.rs` holds the logic).

use std::ffi::{c_int, c_void};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::handle::{pool_t, pool_task_fn};
use super::{fork, pool_status};
use crate::admission::WhenFull;
use crate::group::Group;
use crate::job::{CTaskFn, UserData};
use crate::pool::timeout_policy;
use crate::shared::Shared;

/// The struct behind `pool_group_t` (declared by tag only in the header).
pub struct pool_group {
    core: Arc<Group>,
    /// The fork generation the group was made in (`fork.rs`).
    born: u32,
}

/// Opaque task group handle: a subset of a pool's tasks that can be waited
/// for while the pool serves others. Create with `pool_group_new`, release
/// with `pool_group_free`. Every function taking a `pool_group_t *` is
/// thread-safe until `pool_group_free` is called; using the handle after
/// that is undefined, as with `free()`.
pub type pool_group_t = pool_group;

/// A snapshot of a group's counters (`pool_group_get_stats`). Fields are
/// only ever appended; a call writes only those that fit the size passed.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct pool_group_stats {
    /// Tasks accepted into the group.
    pub submitted: u64,
    /// Of those, finished (inline runs included).
    pub completed: u64,
    /// Of those, removed unrun (`pool_cancel_queued`, `pool_shutdown`).
    pub cancelled: u64,
    /// `submitted - completed - cancelled`.
    pub pending: u64,
}

fn set_errno(code: c_int) {
    // SAFETY: `__errno_location` returns this thread's errno slot.
    unsafe { *libc::__errno_location() = code };
}

/// Creates a task group on `pool`. Any number of groups per pool. The group
/// may outlive its pool: once `pool_free` began, its schedules return
/// `POOL_ERR_FREED` and its wait returns as soon as nothing is pending;
/// it must still be freed with `pool_group_free`. Thread-safe.
///
/// Returns the handle, owned by the caller; NULL with errno `EINVAL`
/// (`pool` NULL), `ECANCELED` (`pool_free` or `pool_shutdown` began),
/// `ECHILD` (`pool` was created before a `fork()` and this is the child).
///
/// # Safety
/// `pool` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_group_new(pool: *mut pool_t) -> *mut pool_group_t {
    // SAFETY: NULL or live, per the contract.
    let Some(handle) = (unsafe { pool.as_ref() }) else {
        set_errno(libc::EINVAL);
        return std::ptr::null_mut();
    };
    if fork::forked(handle.born) {
        set_errno(libc::ECHILD);
        return std::ptr::null_mut();
    }
    let Some(_pass) = handle.core.callers().enter() else {
        set_errno(libc::ECANCELED);
        return std::ptr::null_mut();
    };
    match Group::new(handle.core.shared()) {
        Ok(core) => Box::into_raw(Box::new(pool_group {
            core,
            born: handle.born,
        })),
        Err(_) => {
            set_errno(libc::ECANCELED);
            std::ptr::null_mut()
        }
    }
}

/// Runs `body` on a live group: `POOL_ERR_INVALID` for NULL,
/// `POOL_ERR_FORKED` in a child after `fork()`.
///
/// # Safety
/// `group` is NULL or a live handle.
unsafe fn with_group(
    group: *const pool_group_t,
    body: impl FnOnce(&Arc<Group>) -> pool_status,
) -> pool_status {
    // SAFETY: the caller's contract.
    let Some(group) = (unsafe { group.as_ref() }) else {
        return pool_status::POOL_ERR_INVALID;
    };
    if fork::forked(group.born) {
        return pool_status::POOL_ERR_FORKED;
    }
    body(&group.core)
}

/// # Safety
/// As for `pool_group_schedule`.
unsafe fn group_schedule_with(
    group: *mut pool_group_t,
    task: pool_task_fn,
    arg: *mut c_void,
    when_full: impl FnOnce(&Shared) -> WhenFull,
) -> pool_status {
    let Some(func) = task else {
        return pool_status::POOL_ERR_INVALID;
    };
    let func: CTaskFn = func;
    // SAFETY: forwarded from the caller.
    unsafe {
        with_group(group, |core| {
            core.schedule(func, UserData(arg), when_full).into()
        })
    }
}

/// Schedules `task(arg)` on the group's pool, counted in the group: the
/// pool's `pool_schedule` in every other way (admission, blocking, the
/// inline rule, statuses), plus one atomic add and one atomic subtract of
/// the group's count per task.
///
/// Ownership: `arg` stays the caller's. Thread-safe: any thread, tasks
/// included (a task of the group may add more tasks to it).
///
/// Returns `POOL_OK`, `POOL_ERR_NO_IDLE_WORKER`, `POOL_ERR_FREED`
/// (`pool_free` or `pool_shutdown` of the pool began), `POOL_ERR_SPAWN`,
/// `POOL_ERR_DEADLOCK` (inline runs too deep), `POOL_ERR_FORKED`,
/// `POOL_ERR_INVALID` (`group` or `task` NULL).
///
/// # Safety
/// `group` is NULL or a live handle; `task(arg)` must be safe to call on
/// another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_group_schedule(
    group: *mut pool_group_t,
    task: pool_task_fn,
    arg: *mut c_void,
) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe { group_schedule_with(group, task, arg, |shared| shared.blocking_policy()) }
}

/// As `pool_group_schedule`, never waiting (`pool_try_schedule`).
///
/// # Safety
/// As for `pool_group_schedule`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_group_try_schedule(
    group: *mut pool_group_t,
    task: pool_task_fn,
    arg: *mut c_void,
) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe { group_schedule_with(group, task, arg, |_| WhenFull::Refuse) }
}

/// As `pool_group_schedule`, waiting at most `timeout_ms` for room
/// (`pool_schedule_timeout`; 0 never waits and reports `POOL_ERR_TIMEOUT`).
///
/// # Safety
/// As for `pool_group_schedule`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_group_schedule_timeout(
    group: *mut pool_group_t,
    task: pool_task_fn,
    arg: *mut c_void,
    timeout_ms: u64,
) -> pool_status {
    let when_full = timeout_policy(Duration::from_millis(timeout_ms));
    // SAFETY: forwarded from the caller.
    unsafe { group_schedule_with(group, task, arg, |_| when_full) }
}

/// Waits until every task of the group accepted before the call has
/// finished or was cancelled, at most `timeout_ms` (0 polls, `UINT64_MAX`
/// waits for ever). Tasks others add meanwhile do not hold it for long:
/// it may also wait for those added while tasks of an earlier wait were
/// still running, never for later ones. Several threads may wait on one
/// group. Called from a worker of the group's pool (a task doing
/// fork-join), the worker runs the pool's queued tasks while it waits, so
/// the pool cannot starve. Those tasks run on the waiting task's stack: a
/// task run that way which waits in turn for a group of a task below it on
/// the same stack gets `POOL_ERR_DEADLOCK` (it would wait for itself);
/// tasks on several workers that wait for each other's groups without a
/// timeout can still deadlock, as with any helping scheduler (TBB's, Go's
/// `sync.WaitGroup` inside goroutines of a bounded pool). Thread-safe.
///
/// Returns `POOL_OK`, `POOL_ERR_TIMEOUT`, `POOL_ERR_DEADLOCK` (called from a
/// task of this very group, or from a task running on top of one on the
/// same thread: it would wait for itself),
/// `POOL_ERR_FORKED`, `POOL_ERR_INVALID` (`group` NULL).
///
/// # Safety
/// `group` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_group_wait(group: *mut pool_group_t, timeout_ms: u64) -> pool_status {
    let deadline = Instant::now().checked_add(Duration::from_millis(timeout_ms));
    // SAFETY: forwarded from the caller.
    unsafe { with_group(group, |core| core.wait(deadline).into()) }
}

/// An eventfd owned by the group, made on the first call and closed by
/// `pool_group_free` (do not close it). Each time the group's pending
/// count drops to 0 it is made readable (and at once, if nothing is
/// pending when it is made); reading its 8 bytes clears it. A program
/// polls it (epoll, poll, libuv, GLib, asyncio's `add_reader`), reads it,
/// then checks `pool_group_wait(group, 0)`: more tasks may have arrived.
/// Thread-safe.
///
/// Returns the fd, or -1 with errno set: `EINVAL` (`group` NULL), `ECHILD`
/// (in a child after `fork()`), or `eventfd`'s own (`EMFILE`, `ENFILE`,
/// `ENOMEM`).
///
/// # Safety
/// `group` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_group_fd(group: *mut pool_group_t) -> c_int {
    // SAFETY: NULL or live, per the contract.
    let Some(group) = (unsafe { group.as_ref() }) else {
        set_errno(libc::EINVAL);
        return -1;
    };
    if fork::forked(group.born) {
        set_errno(libc::ECHILD);
        return -1;
    }
    match group.core.fd() {
        Ok(fd) => fd,
        Err(error) => {
            set_errno(error.raw_os_error().unwrap_or(libc::ENOMEM));
            -1
        }
    }
}

/// Writes every field of a snapshot of the group's counters that lies
/// wholly within the first `out_size` bytes of `*out` (call it as
/// `pool_group_get_stats(g, &s, sizeof s)`). Does nothing if `group` or
/// `out` is NULL, or in a child after `fork()`. Thread-safe; a snapshot:
/// under load the fields may be a few tasks apart.
///
/// # Safety
/// `group` is NULL or a live handle; `out` is NULL or points to
/// `out_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_group_get_stats(
    group: *const pool_group_t,
    out: *mut pool_group_stats,
    out_size: usize,
) {
    if out.is_null() {
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        with_group(group, |core| {
            let s = core.stats();
            let stats = pool_group_stats {
                submitted: s.submitted,
                completed: s.completed,
                cancelled: s.cancelled,
                pending: s.pending,
            };
            // Four u64 fields, no padding: whole fields are a multiple of 8.
            let len = out_size.min(size_of::<pool_group_stats>()) / 8 * 8;
            // SAFETY: `out` is non-NULL with `out_size >= len` writable
            // bytes per the contract.
            std::ptr::copy_nonoverlapping(
                (&stats as *const pool_group_stats).cast::<u8>(),
                out.cast::<u8>(),
                len,
            );
            pool_status::POOL_OK
        });
    }
}

/// Waits for the group's pending tasks (also those its tasks add
/// meanwhile), then releases the group and its fd. The pool is not
/// affected. `pool_group_free(NULL)` is a no-op returning `POOL_OK`. Must
/// be called once per handle, when no other thread uses it. In a child
/// after `fork()` it releases the handle at once (the tasks' state is the
/// parent's, left untouched) and returns `POOL_OK`.
///
/// Returns `POOL_OK`, or `POOL_ERR_DEADLOCK` from a task of this group (the
/// group is then untouched).
///
/// # Safety
/// `group` is NULL or a live handle not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_group_free(group: *mut pool_group_t) -> pool_status {
    if group.is_null() {
        return pool_status::POOL_OK;
    }
    {
        // SAFETY: a live handle per the contract.
        let handle = unsafe { &*group };
        if fork::forked(handle.born) {
            // SAFETY: from `Box::into_raw` in `pool_group_new`.
            let handle = unsafe { Box::from_raw(group) };
            // The group's locks may be held by threads that do not exist
            // here: leave its state as it is (`fork.rs`).
            std::mem::forget(handle.core);
            return pool_status::POOL_OK;
        }
        if let Err(error) = handle.core.wait_all() {
            return error.into();
        }
    }
    // SAFETY: from `Box::into_raw` in `pool_group_new`; the caller uses it
    // no more. Tasks still finishing hold their own reference.
    drop(unsafe { Box::from_raw(group) });
    pool_status::POOL_OK
}
