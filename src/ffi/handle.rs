//! `pool_t`: creating, using and freeing a pool from C.

use std::ffi::{c_int, c_void};
use std::time::Duration;

use super::{pool_options_t, pool_status};
use crate::admission::WhenFull;
use crate::gate::Pass;
use crate::job::{CTaskFn, Job, UserData};
use crate::pool::timeout_policy;
use crate::shared::Shared;
use crate::{Builder, Error, Pool, clamp_capacity};

/// The struct behind `pool_t`. The header declares only the tag
/// (`struct pool`) and the `_t` name: a typedef named `pool` would
/// clash with a C program's own `pool` variable at file scope.
pub struct pool {
    core: Pool,
}

/// How deep inline runs nest on one thread: a blocking `pool_schedule` from
/// a task of its own full pool runs the new task inline, at most this many
/// levels deep; deeper, it returns `POOL_ERR_DEADLOCK`.
pub const WORKERPOOL_MAX_INLINE_DEPTH: u32 = 64;

const _: () = assert!(WORKERPOOL_MAX_INLINE_DEPTH == crate::MAX_INLINE_DEPTH);

/// Opaque pool handle. Create with `pool_new`, free with `pool_free`. Every
/// function taking a `pool_t *` is thread-safe (any thread, tasks included)
/// until `pool_free` is called; using the handle after `pool_free` returned
/// is undefined, as with `free()`.
pub type pool_t = pool;

/// A task: called once, on a worker thread, with the `arg` given when it
/// was scheduled. NULL is refused with `POOL_ERR_INVALID`.
pub type pool_task_fn = Option<unsafe extern "C" fn(arg: *mut c_void)>;

/// A snapshot of a pool's counters (`pool_get_stats`). Fields are only ever
/// appended; counters saturate at their type's maximum.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct pool_stats {
    /// Maximum number of workers now.
    pub capacity: u32,
    /// Live worker threads.
    pub workers: u32,
    /// Workers running a task.
    pub busy: u32,
    /// Accepted tasks not yet started.
    pub queued: u32,
    /// Tasks accepted since `pool_new` (inline runs included).
    pub submitted: u64,
    /// Tasks finished.
    pub completed: u64,
    /// Schedules refused: `POOL_ERR_NO_IDLE_WORKER`, `POOL_ERR_TIMEOUT`,
    /// `POOL_ERR_FREED`.
    pub rejected: u64,
}

fn set_errno(code: c_int) {
    // SAFETY: `__errno_location` returns this thread's errno slot.
    unsafe { *libc::__errno_location() = code };
}

/// Converts a C capacity: `<= 0` gives the default, larger than the maximum
/// gives the maximum.
fn capacity_from_c(capacity: c_int) -> usize {
    clamp_capacity(usize::try_from(capacity).unwrap_or(0))
}

/// Creates a pool of at most `capacity` workers (`<= 0` gives 100, above
/// 10000 gives 10000) configured by `opts` (NULL: defaults). `opts` is
/// copied: it may be freed or reused at once.
///
/// A lazy pool (the default) starts no thread here; a `prealloc` pool starts
/// all `capacity` workers before returning, each already running under its
/// name (their `on_start` hooks may still be running: `pool_new` does not
/// wait for hooks, which may need something the calling thread holds).
/// Either way the pool is ready at once: no sleep is needed before
/// scheduling.
///
/// Returns the handle, owned by the caller and released with `pool_free`.
/// On failure returns NULL with errno set, having released everything it
/// made: EAGAIN when a preallocated thread could not be started (no memory
/// for its stack, a stack size the OS refuses, the thread limit); EINVAL
/// for an invalid option (every setter refuses invalid values first, so an
/// options object built with them never gives it). Running out of heap
/// for the pool's own few KiB of state aborts the process, as any Rust
/// allocation does, instead of returning NULL with ENOMEM. Thread-safe.
///
/// # Safety
/// `opts` is NULL or a live pointer from `pool_options_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_new(capacity: c_int, opts: *const pool_options_t) -> *mut pool_t {
    // SAFETY: NULL or a live options object, per the contract.
    let builder = match unsafe { opts.as_ref() } {
        Some(opts) => opts.builder.clone(),
        None => Builder::new(),
    };
    match builder.capacity(capacity_from_c(capacity)).build() {
        Ok(core) => Box::into_raw(Box::new(pool { core })),
        Err(error) => {
            set_errno(match error {
                Error::Spawn => libc::EAGAIN,
                _ => libc::EINVAL,
            });
            std::ptr::null_mut()
        }
    }
}

/// Runs `body` inside the handle's gate: `POOL_ERR_INVALID` for NULL,
/// `POOL_ERR_FREED` once `pool_free` began.
///
/// # Safety
/// `pool` is NULL or a handle from `pool_new` whose `pool_free` has not
/// returned.
pub(super) unsafe fn with_pool(
    pool: *const pool_t,
    body: impl FnOnce(&Pool) -> pool_status,
) -> pool_status {
    // SAFETY: the caller's contract: the handle is live until
    // `pool_free` returns, and `pool_free` waits for every caller that
    // entered the gate before it releases the memory.
    let Some(pool) = (unsafe { pool.as_ref() }) else {
        return pool_status::POOL_ERR_INVALID;
    };
    let Some(_pass): Option<Pass<'_>> = pool.core.callers().enter() else {
        return pool_status::POOL_ERR_FREED;
    };
    body(&pool.core)
}

/// # Safety
/// As for `pool_schedule`.
unsafe fn schedule_with(
    pool: *mut pool_t,
    task: pool_task_fn,
    arg: *mut c_void,
    when_full: impl FnOnce(&Pool) -> WhenFull,
) -> pool_status {
    let Some(func) = task else {
        return pool_status::POOL_ERR_INVALID;
    };
    let func: CTaskFn = func;
    let job = Job::extern_c(func, UserData(arg));
    if pool.is_null() {
        return pool_status::POOL_ERR_INVALID;
    }
    // The handle is borrowed only to read the policy and the pool's
    // address; the schedule itself works on that address: `pool_free` may
    // free the handle as soon as the task is handed over
    // (`admission.rs`). No gate pass here: `Shared::submit` protects itself
    // (a counted task on its fast path, a pass otherwise).
    let (shared, when_full): (*const Shared, WhenFull) = {
        // SAFETY: the caller's contract: the handle is live until
        // `pool_free` returns, which cannot happen before this schedule
        // counted its task.
        let core = unsafe { &(*pool).core };
        (core.shared_ptr(), when_full(core))
    };
    // SAFETY: live until the hand-over, as `Shared::submit` requires: the
    // handle's `Pool` owns a reference to it until `pool_free`.
    unsafe { Shared::submit(shared, job, when_full) }.into()
}

/// Schedules `task(arg)` to run once on a worker.
///
/// Accepted when an idle worker takes it, a new worker is started for it
/// (fewer than capacity live), or the queue has room. Otherwise a blocking
/// pool (the default) waits for room, and a non-blocking one returns
/// `POOL_ERR_NO_IDLE_WORKER`. Called from a task of this same pool when it
/// would have to wait, it never waits: `task(arg)` runs inline on the
/// calling worker and the call returns `POOL_OK` (counted as submitted and
/// completed), so nested schedules cannot deadlock the pool. Such inline
/// runs nest at most `WORKERPOOL_MAX_INLINE_DEPTH` (64) deep on one thread:
/// past that the call returns `POOL_ERR_DEADLOCK` and `task` does not run,
/// rather than overflow the worker's stack.
///
/// Order: in a queue mode (`queue_size` > 0) tasks start in the order they
/// were accepted, so a pool of capacity 1 is a serial queue: each task
/// starts after the previous one finished. (Hand-off mode has no queue:
/// each task goes to an idle worker at once.)
///
/// Ownership: `arg` stays the caller's; the pool only passes it to `task`.
/// Thread-safe: any thread may call it, tasks included.
///
/// Returns `POOL_OK` (accepted: it will run exactly once),
/// `POOL_ERR_NO_IDLE_WORKER` (non-blocking pool full), `POOL_ERR_FREED`
/// (`pool_free` began, also for a caller that was waiting),
/// `POOL_ERR_SPAWN` (the OS refused a thread and no worker can take it),
/// `POOL_ERR_DEADLOCK` (a task of this full pool, already nested
/// `WORKERPOOL_MAX_INLINE_DEPTH` inline runs deep), `POOL_ERR_INVALID`
/// (`pool` or `task` NULL).
///
/// # Safety
/// `pool` is NULL or a live handle; `task(arg)` must be safe to call on
/// another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_schedule(
    pool: *mut pool_t,
    task: pool_task_fn,
    arg: *mut c_void,
) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe { schedule_with(pool, task, arg, |core| core.blocking_policy()) }
}

/// Like `pool_schedule` but never waits, whatever the pool's block option.
///
/// Ownership: `arg` stays the caller's; the pool only passes it to `task`.
/// Thread-safe: any thread may call it, tasks included.
/// Returns `POOL_OK`, `POOL_ERR_NO_IDLE_WORKER` (full), `POOL_ERR_FREED`,
/// `POOL_ERR_SPAWN`, `POOL_ERR_INVALID` (`pool` or `task` NULL).
///
/// # Safety
/// As for `pool_schedule`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_try_schedule(
    pool: *mut pool_t,
    task: pool_task_fn,
    arg: *mut c_void,
) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe { schedule_with(pool, task, arg, |_| WhenFull::Refuse) }
}

/// Like `pool_schedule` but waits at most `timeout_ms` milliseconds for room,
/// whatever the pool's block option and from any thread (a task of this
/// pool waits too). A timeout too large to represent waits for ever; 0
/// behaves like `pool_try_schedule` (as cheap: it never waits) but reports
/// `POOL_ERR_TIMEOUT`.
///
/// Ownership: `arg` stays the caller's; the pool only passes it to `task`.
/// Thread-safe: any thread may call it, tasks included.
///
/// Returns `POOL_OK`, `POOL_ERR_TIMEOUT` (no room before the deadline),
/// `POOL_ERR_FREED` (`pool_free` began, also for a caller that was
/// waiting), `POOL_ERR_SPAWN`, `POOL_ERR_INVALID` (`pool` or `task` NULL).
///
/// # Safety
/// As for `pool_schedule`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_schedule_timeout(
    pool: *mut pool_t,
    task: pool_task_fn,
    arg: *mut c_void,
    timeout_ms: u64,
) -> pool_status {
    let when_full = timeout_policy(Duration::from_millis(timeout_ms));
    // SAFETY: forwarded from the caller.
    unsafe { schedule_with(pool, task, arg, |_| when_full) }
}

/// Blocks until every task accepted before the call has finished (a
/// schedule that returned `POOL_OK` before `pool_wait` was called). The
/// wait is exact: tasks that other threads schedule meanwhile never extend
/// it, and every thread waiting when those tasks are done returns. The
/// pool stays usable. Thread-safe.
///
/// Returns `POOL_OK`, `POOL_ERR_DEADLOCK` (called from one of this pool's
/// workers, which would wait for itself), `POOL_ERR_FREED` (`pool_free`
/// began, before the call or while it waited: it returns at once, and
/// `pool_free` still runs every accepted task), `POOL_ERR_INVALID` (`pool`
/// NULL).
///
/// # Safety
/// `pool` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_wait(pool: *mut pool_t) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe { with_pool(pool, |core| core.wait().into()) }
}

/// As `pool_wait`, waiting at most `timeout_ms` milliseconds: 0 polls (no
/// wait at all), `UINT64_MAX` (or any timeout too large to represent)
/// waits for ever. Exact in the same way: tasks scheduled during the wait
/// never extend it. Thread-safe.
///
/// Returns `POOL_OK` (every task accepted before the call has finished),
/// `POOL_ERR_TIMEOUT` (some have not, at the deadline), `POOL_ERR_DEADLOCK`
/// (called from one of this pool's workers), `POOL_ERR_FREED`
/// (`pool_free` began, before the call or while it waited),
/// `POOL_ERR_INVALID` (`pool` NULL).
///
/// # Safety
/// `pool` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_wait_timeout(pool: *mut pool_t, timeout_ms: u64) -> pool_status {
    let timeout = Duration::from_millis(timeout_ms);
    // SAFETY: forwarded from the caller.
    unsafe { with_pool(pool, |core| core.wait_timeout(timeout).into()) }
}

/// Changes the capacity, clamped like `pool_new` (`<= 0` gives 100, above
/// 10000 gives 10000). Growing lets waiting schedulers in at once;
/// shrinking retires idle workers at once and busy ones after their current
/// task. No accepted task is dropped. Thread-safe.
///
/// A shrink returns once the idle workers above the new capacity have left
/// the pool's counts (`pool_stats.workers` shows it; their threads end a
/// moment later). It waits for nothing else: busy workers leave after their
/// task, and a worker still inside its `on_start` hook (which may be
/// waiting for the caller) leaves when the hook returns.
///
/// A `prealloc` pool that grows starts the new workers before returning,
/// each running under its name (their `on_start` hooks may still run), as
/// `pool_new` does.
///
/// Returns `POOL_OK`, `POOL_ERR_SPAWN` (a `prealloc` pool grew and the OS
/// refused a thread: the capacity is changed, the workers already started
/// are kept, and the rest start on demand), `POOL_ERR_FREED` (`pool_free`
/// began), `POOL_ERR_INVALID` (`pool` NULL).
///
/// # Safety
/// `pool` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_set_capacity(pool: *mut pool_t, capacity: c_int) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_pool(pool, |core| {
            core.set_capacity(capacity_from_c(capacity)).into()
        })
    }
}

/// Writes a snapshot of the pool's counters to `*out`. Does nothing if
/// `pool` or `out` is NULL, or once `pool_free` began. Thread-safe; the
/// fields are read without a common lock, so under load they may be a few
/// tasks apart.
///
/// # Safety
/// `pool` is NULL or a live handle; `out` is NULL or points to writable
/// memory for a `pool_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_get_stats(pool: *const pool_t, out: *mut pool_stats) {
    if out.is_null() {
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        with_pool(pool, |core| {
            #[cfg(feature = "fault-injection")]
            if crate::fault::get_stats_should_panic() {
                panic!("injected panic inside pool_get_stats");
            }
            let s = core.stats();
            let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            let stats = pool_stats {
                capacity: narrow(s.capacity),
                workers: narrow(s.workers),
                busy: narrow(s.busy),
                queued: narrow(s.queued),
                submitted: s.submitted,
                completed: s.completed,
                rejected: s.rejected,
            };
            // SAFETY: `out` is non-NULL and writable per the contract.
            out.write(stats);
            pool_status::POOL_OK
        })
    };
}

/// Frees the pool: stops accepting (concurrent and waiting schedulers get
/// `POOL_ERR_FREED`), runs every task already accepted, joins every worker
/// (each runs `on_exit`), then releases all memory. It returns only when no
/// other thread is still inside a call on this pool. Afterwards the handle
/// is invalid. A task that never returns keeps `pool_free` waiting.
///
/// `pool_free(NULL)` is a no-op returning `POOL_OK`. Must be called once per
/// handle. Thread-safe against every other call on the pool from any
/// thread (they return `POOL_ERR_FREED` or finish first), but not against
/// a second `pool_free` of the same handle. Ownership: the handle and
/// everything the pool allocated are released; `arg`s of tasks stay the
/// caller's.
///
/// Returns `POOL_OK`, or `POOL_ERR_DEADLOCK` when called from one of this
/// pool's workers (a task or a thread hook); the pool is then untouched.
///
/// # Safety
/// `pool` is NULL or a live handle not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_free(pool: *mut pool_t) -> pool_status {
    if pool.is_null() {
        return pool_status::POOL_OK;
    }
    {
        // SAFETY: a live handle per the contract.
        let handle = unsafe { &*pool };
        if handle.core.is_worker_thread() {
            return pool_status::POOL_ERR_DEADLOCK;
        }
        // The gate first: from here on, calls that enter it (stats, wait,
        // capacity) return at once, as the header promises "once pool_free
        // began"; then closing wakes the blocked schedulers, which leave it.
        handle.core.callers().close();
        handle.core.begin_close();
        handle.core.callers().close_and_wait();
    }
    // SAFETY: the pointer came from `Box::into_raw` in `pool_new`, no
    // caller is inside the gate any more and none can enter; dropping
    // the `Pool` drains the tasks and joins the workers.
    drop(unsafe { Box::from_raw(pool) });
    pool_status::POOL_OK
}
