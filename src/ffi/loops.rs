//! `pool_parallel_for`: a parallel loop over a range of indices, from C.
//! The loop itself is `parallel_for.rs`.

use std::ffi::c_void;

use super::handle::with_pool;
use super::{pool_status, pool_t};
use crate::job::UserData;

/// A loop body: `body(ctx, begin, end)` runs the indices `[begin, end)`
/// of one chunk (`begin < end`). Called concurrently from several threads
/// (the caller of `pool_parallel_for` and the pool's workers), each call
/// with a different chunk. NULL is refused with `POOL_ERR_INVALID`.
pub type pool_range_fn = Option<unsafe extern "C" fn(ctx: *mut c_void, begin: usize, end: usize)>;

/// Runs a parallel loop: calls `body(ctx, b, e)` on disjoint chunks
/// `[b, e)` that together cover `[begin, end)`, every index exactly once,
/// and returns when every chunk has run.
///
/// Chunks are `grain` indices long, except the last, which may be
/// shorter (only a range of more than `SIZE_MAX / 2` chunks gets longer
/// ones). `grain` 0 lets the pool choose: about 4 chunks per worker that
/// can run at once (the capacity, at most the CPUs the process may use),
/// at least 1 index each. The calling thread runs chunks too, beside up to
/// that many workers less one helper tasks, scheduled without waiting
/// (as `pool_try_schedule`): on a full, busy or paused pool the calling
/// thread may run every chunk itself. A helper that starts after the loop
/// returned finds nothing to do and never calls `body`. Called from a
/// task of this same pool it never deadlocks, also when bodies run loops
/// of their own (nested loops): the caller only ever waits for chunks
/// already running on other threads.
///
/// Helpers are tasks of the pool: they count in `pool_stats` (`submitted`,
/// `completed`; a refused helper, at most one per loop, in `rejected`),
/// and `pool_wait` and `pool_free` wait for them like for any task.
///
/// Thread-safety: `body` is called concurrently from several threads (the
/// caller and the pool's workers), in no particular order, so what it
/// touches through `ctx` must be safe to use that way. Any thread may call
/// `pool_parallel_for`, tasks included. `body` must not unwind (C++
/// exceptions, `longjmp` out of it): that aborts the process.
///
/// Ownership: `ctx` stays the caller's; the pool only passes it to `body`,
/// never after `pool_parallel_for` returned.
///
/// Returns `POOL_OK` (every chunk has run; also for an empty range,
/// `begin == end`, where `body` is not called), `POOL_ERR_FREED`
/// (`pool_free` or `pool_shutdown` began; `body` is not called),
/// `POOL_ERR_FORKED` (in a child after `fork()`), `POOL_ERR_INVALID` (`pool`
/// or `body` NULL, or `begin > end`; `body` is not called).
///
/// # Safety
/// `pool` is NULL or a live handle; `body(ctx, b, e)` must be safe to call
/// from any thread, concurrently, for disjoint chunks.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pool_parallel_for(
    pool: *mut pool_t,
    begin: usize,
    end: usize,
    grain: usize,
    body: pool_range_fn,
    ctx: *mut c_void,
) -> pool_status {
    let Some(body) = body else {
        return pool_status::POOL_ERR_INVALID;
    };
    if begin > end {
        return pool_status::POOL_ERR_INVALID;
    }
    let ctx = UserData(ctx);
    let run = |b: usize, e: usize| {
        // SAFETY: the caller's contract: `body(ctx, b, e)` may be called
        // from any thread for a chunk of `[begin, end)`, and it is called
        // only before `pool_parallel_for` returns (`parallel_for.rs`).
        // `body` is `extern "C"`: a foreign unwind aborts instead of
        // entering Rust.
        unsafe { body(ctx.get(), b, e) }
    };
    // SAFETY: the caller's contract for `pool`; `with_pool` holds a gate
    // pass for the whole loop, so `pool_free` cannot release the pool
    // while chunks run or helpers are being scheduled.
    unsafe {
        with_pool(pool, |core| {
            core.parallel_for_chunks(begin..end, grain, run).into()
        })
    }
}
