//! `pool_options_t`: the Go functional options as an ABI-stable builder.

use std::ffi::{CStr, c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use super::pool_status;
use crate::Builder;
use crate::builder::Hook;
use crate::job::UserData;

/// The struct behind `pool_options_t`. The header declares only the tag
/// (`struct pool_options`) and the `_t` name: a typedef named `pool_options` would
/// clash with a C program's own `pool_options` variable at file scope.
pub struct pool_options {
    pub(crate) builder: Builder,
}

/// Opaque option builder. Create with `pool_options_new`, free with
/// `pool_options_free`. Not thread-safe: do not change one options object
/// from two threads at once (reading it in `pool_new` from several threads
/// is fine).
pub type pool_options_t = pool_options;

/// A hook run on a worker thread with the context given to
/// `pool_options_set_thread_hooks`.
type HookFn = unsafe extern "C" fn(ctx: *mut c_void);

/// Borrows the options behind a C pointer, or `None` for NULL.
///
/// # Safety
/// `opts` must be NULL or a live pointer from `pool_options_new`, used by no
/// other thread for writing during the call.
unsafe fn options_mut<'a>(opts: *mut pool_options_t) -> Option<&'a mut pool_options_t> {
    // SAFETY: the caller's contract above.
    unsafe { opts.as_mut() }
}

/// Applies `change` to the options behind `opts`.
///
/// # Safety
/// As for [`options_mut`].
unsafe fn update(
    opts: *mut pool_options_t,
    change: impl FnOnce(Builder) -> Result<Builder, crate::Error>,
) -> pool_status {
    // SAFETY: forwarded from the caller.
    let Some(opts) = (unsafe { options_mut(opts) }) else {
        return pool_status::POOL_ERR_INVALID;
    };
    match change(opts.builder.clone()) {
        Ok(builder) => {
            opts.builder = builder;
            pool_status::POOL_OK
        }
        Err(error) => error.into(),
    }
}

/// Creates an options object holding the defaults: blocking, lazy workers,
/// queue size 0 (direct hand-off), no idle timeout, platform stack size,
/// thread names `workerpool-<n>`, no hooks.
///
/// Ownership: the caller frees it with `pool_options_free`; it may be freed
/// or reused right after `pool_new`, which copies what it needs.
/// Never returns NULL: running out of heap here aborts the process, as
/// any Rust allocation does (see `pool_new`). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pool_options_new() -> *mut pool_options_t {
    Box::into_raw(Box::new(pool_options {
        builder: Builder::new(),
    }))
}

/// Frees an options object. NULL is a no-op. Must not be called twice on the
/// same pointer, nor while another thread uses it. Pools built from it are
/// unaffected.
///
/// # Safety
/// `opts` is NULL or a pointer from `pool_options_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_options_free(opts: *mut pool_options_t) {
    if !opts.is_null() {
        // SAFETY: the pointer came from `Box::into_raw` in
        // `pool_options_new` and, per the contract, is freed only once.
        drop(unsafe { Box::from_raw(opts) });
    }
}

/// Whether `pool_schedule` waits for room (true, the default) or returns
/// `POOL_ERR_NO_IDLE_WORKER` at once when the pool is full (false).
///
/// Ownership: `opts` stays the caller's; the pool built from it copies the
/// value. Not thread-safe on one `opts` (see `pool_options_t`).
///
/// Returns `POOL_OK`, or `POOL_ERR_INVALID` if `opts` is NULL.
///
/// # Safety
/// `opts` is NULL or a live pointer from `pool_options_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_options_set_block(
    opts: *mut pool_options_t,
    block: bool,
) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe { update(opts, |b| Ok(b.block(block))) }
}

/// Whether `pool_new` starts all `capacity` workers before it returns
/// (true) or workers start on demand (false, the default).
///
/// Ownership: `opts` stays the caller's; the pool built from it copies the
/// value. Not thread-safe on one `opts` (see `pool_options_t`).
///
/// Returns `POOL_OK`, or `POOL_ERR_INVALID` if `opts` is NULL.
///
/// # Safety
/// `opts` is NULL or a live pointer from `pool_options_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_options_set_prealloc(
    opts: *mut pool_options_t,
    prealloc: bool,
) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe { update(opts, |b| Ok(b.prealloc(prealloc))) }
}

/// How many accepted tasks may wait once every worker is busy and capacity
/// is reached: 0 (the default) is direct hand-off as in the Go design,
/// SIZE_MAX is unbounded: limited by memory (a queued C task takes about
/// 32 bytes) and by the pool's count of pending tasks, 2^34 (about
/// 1.7 * 10^10 tasks, 512 GiB of queue), which must not be exceeded. A
/// finite size is capped at that count.
///
/// Ownership: `opts` stays the caller's; the pool built from it copies the
/// value. Not thread-safe on one `opts` (see `pool_options_t`).
///
/// Returns `POOL_OK`, or `POOL_ERR_INVALID` if `opts` is NULL.
///
/// # Safety
/// `opts` is NULL or a live pointer from `pool_options_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_options_set_queue_size(
    opts: *mut pool_options_t,
    n: usize,
) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe { update(opts, |b| Ok(b.queue_size(n))) }
}

/// A worker idle for longer than `ms` milliseconds exits; the pool starts
/// workers again on demand. 0 (the default): workers never expire. Applies
/// to preallocated workers too.
///
/// Ownership: `opts` stays the caller's; the pool built from it copies the
/// value. Not thread-safe on one `opts` (see `pool_options_t`).
///
/// Returns `POOL_OK`, or `POOL_ERR_INVALID` if `opts` is NULL.
///
/// # Safety
/// `opts` is NULL or a live pointer from `pool_options_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_options_set_idle_timeout_ms(
    opts: *mut pool_options_t,
    ms: u64,
) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe { update(opts, |b| Ok(b.idle_timeout(Duration::from_millis(ms)))) }
}

/// Stack size of every worker thread in bytes; 0 (the default) is the
/// platform default (pthread's: on Linux, `RLIMIT_STACK`, usually 8 MiB).
/// Sizes below the platform minimum are rounded up to it, others to whole
/// pages. Each stack has a guard page below it. A size the OS then refuses
/// makes scheduling return `POOL_ERR_SPAWN` (lazy pool) or `pool_new`
/// return NULL with errno EAGAIN (preallocated pool).
///
/// Ownership: `opts` stays the caller's; the pool built from it copies the
/// value. Not thread-safe on one `opts` (see `pool_options_t`).
///
/// Returns `POOL_OK`, or `POOL_ERR_INVALID` if `opts` is NULL or `bytes` is
/// above 1 TiB.
///
/// # Safety
/// `opts` is NULL or a live pointer from `pool_options_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_options_set_stack_size(
    opts: *mut pool_options_t,
    bytes: usize,
) -> pool_status {
    // SAFETY: forwarded from the caller.
    unsafe { update(opts, |b| b.stack_size(bytes)) }
}

/// Names worker threads `<prefix>-<n>`, n counting from 0 in each pool, as
/// seen in `/proc/<pid>/task/<tid>/comm`, gdb and top. The string is copied.
/// Linux keeps 15 bytes of a thread name: a longer name is cut (on a UTF-8
/// character boundary), not refused.
/// Default prefix: "workerpool".
///
/// Ownership: `opts` stays the caller's; the pool built from it copies the
/// value. Not thread-safe on one `opts` (see `pool_options_t`).
///
/// Returns `POOL_OK`, or `POOL_ERR_INVALID` if `opts` or `prefix` is NULL,
/// `prefix` is empty, or it is not valid UTF-8.
///
/// # Safety
/// `opts` is NULL or a live pointer from `pool_options_new`; `prefix` is
/// NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_options_set_thread_name(
    opts: *mut pool_options_t,
    prefix: *const c_char,
) -> pool_status {
    if prefix.is_null() {
        return pool_status::POOL_ERR_INVALID;
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    let prefix = unsafe { CStr::from_ptr(prefix) };
    let Ok(prefix) = prefix.to_str() else {
        return pool_status::POOL_ERR_INVALID;
    };
    // SAFETY: forwarded from the caller.
    unsafe { update(opts, |b| b.thread_name(prefix)) }
}

/// Hooks run on every worker thread: `on_start(ctx)` before its first task,
/// `on_exit(ctx)` after its last, exactly once per thread, including threads
/// that expire (idle timeout) or retire (capacity shrink). Every `on_exit`
/// has returned when `pool_free` returns. Either hook may be NULL. `ctx` is
/// passed as given to all threads at once: making it thread-safe is the
/// caller's job, and it must stay valid until the last pool built with these
/// options is freed.
///
/// Use them to attach a worker to a runtime (JNI `AttachCurrentThread` /
/// `DetachCurrentThread`, Python's `PyGILState_Ensure`), to set up and tear
/// down per-thread allocators or RNG seeds, or to count threads.
/// Hooks must not call `pool_free` or `pool_wait` on their pool: they get
/// `POOL_ERR_DEADLOCK` (or, for `pool_wait` once `pool_free` began, as in
/// an `on_exit` during `pool_free`, `POOL_ERR_FREED`).
///
/// Ownership: `opts` stays the caller's; the pool built from it copies the
/// value. Not thread-safe on one `opts` (see `pool_options_t`).
///
/// Returns `POOL_OK`, or `POOL_ERR_INVALID` if `opts` is NULL.
///
/// # Safety
/// `opts` is NULL or a live pointer from `pool_options_new`; the hooks are
/// NULL or functions safe to call with `ctx` from any worker thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_options_set_thread_hooks(
    opts: *mut pool_options_t,
    on_start: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
    on_exit: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
    ctx: *mut c_void,
) -> pool_status {
    let ctx = UserData(ctx);
    let to_hook = |hook: Option<HookFn>| {
        hook.map(|hook| -> Hook {
            Arc::new(move || {
                // SAFETY: the caller promised `hook(ctx)` may run on any
                // worker thread while a pool built with these options lives.
                unsafe { hook(ctx.get()) }
            })
        })
    };
    let (on_start, on_exit) = (to_hook(on_start), to_hook(on_exit));
    // SAFETY: forwarded from the caller.
    unsafe { update(opts, |b| Ok(b.hooks(on_start, on_exit))) }
}
