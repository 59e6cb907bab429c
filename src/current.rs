//! What the calling thread is to the pools: which pool's worker it is, and
//! how deep its nested inline runs go.

use std::cell::Cell;

use crate::Error;
use crate::shared::Shared;

/// The deepest nesting of inline runs on one thread (a blocking schedule
/// from a task of a full pool runs the new task inline, which may schedule
/// again): past it, such a schedule returns `Error::Deadlock` instead of
/// growing the stack without bound. Each level costs the task's own frames
/// plus the pool's (a few hundred bytes optimised, more in a debug build):
/// a program nesting that deep on small stacks must size them for it.
///
/// ```
/// // The C header's WORKERPOOL_MAX_INLINE_DEPTH is the same bound.
/// assert_eq!(workerpool::MAX_INLINE_DEPTH, 64);
/// ```
pub const MAX_INLINE_DEPTH: u32 = 64;

thread_local! {
    /// Address of the `Shared` whose worker this thread is; 0 elsewhere.
    static CURRENT_POOL: Cell<usize> = const { Cell::new(0) };
    /// Inline runs this thread is inside now (and tasks a waiting worker
    /// runs for its pool, `helping.rs`).
    static INLINE_DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Whether this worker runs a thread hook now (`on_start`, `on_exit`).
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread runs a worker's thread hook now.
pub(crate) fn in_hook() -> bool {
    IN_HOOK.with(Cell::get)
}

/// Runs a thread hook, known as one meanwhile (`in_hook`).
pub(crate) fn as_hook<R>(hook: impl FnOnce() -> R) -> R {
    IN_HOOK.with(|h| h.set(true));
    let result = hook();
    IN_HOOK.with(|h| h.set(false));
    result
}

/// Whether one more nested run fits under `MAX_INLINE_DEPTH`.
pub(crate) fn may_nest() -> bool {
    INLINE_DEPTH.with(Cell::get) < MAX_INLINE_DEPTH
}

/// Runs `task` one level deeper; the caller checked `may_nest`.
pub(crate) fn run_nested<R>(task: impl FnOnce() -> R) -> R {
    let depth = INLINE_DEPTH.with(Cell::get);
    INLINE_DEPTH.with(|d| d.set(depth + 1));
    let result = task();
    INLINE_DEPTH.with(|d| d.set(depth));
    result
}

/// Whether the calling thread is one of `shared`'s workers.
pub(crate) fn is_worker_of(shared: &Shared) -> bool {
    CURRENT_POOL.with(|current| current.get() == shared as *const Shared as usize)
}

/// The calling thread is from now on a worker of `shared`, until `leave`.
pub(crate) fn enter(shared: &Shared) {
    CURRENT_POOL.with(|current| current.set(shared as *const Shared as usize));
}

/// The calling worker's pool is no longer its own.
pub(crate) fn leave() {
    CURRENT_POOL.with(|current| current.set(0));
}

/// Runs `task` inline, one level deeper, unless the thread is already
/// `MAX_INLINE_DEPTH` levels deep: then `Error::Deadlock`, and `task` is
/// not run (the caller drops it).
pub(crate) fn run_inline<R>(task: impl FnOnce() -> R) -> Result<R, Error> {
    let depth = INLINE_DEPTH.with(Cell::get);
    if depth >= MAX_INLINE_DEPTH {
        return Err(Error::Deadlock);
    }
    INLINE_DEPTH.with(|d| d.set(depth + 1));
    // Not restored on unwind: tasks' panics are caught inside `task`.
    let result = task();
    INLINE_DEPTH.with(|d| d.set(depth));
    Ok(result)
}
