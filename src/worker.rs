//! Worker threads: how one starts, runs tasks, sleeps, and leaves.
//!
//! A worker takes tasks with `Shared::next_job`, which spins briefly and
//! then sleeps (`sleep.rs`); it leaves when `next_job` says so (idle expiry,
//! shutdown, capacity shrink) or after a task when the pool shrank below its
//! live workers. Whatever the reason, `on_exit` runs last, on the worker.

use std::cell::Cell;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use crate::job;
use crate::shared::Shared;
use crate::thread::Thread;

thread_local! {
    /// Address of the `Shared` whose worker this thread is; 0 elsewhere.
    static CURRENT_POOL: Cell<usize> = const { Cell::new(0) };
}

/// Whether the calling thread is one of `shared`'s workers.
pub(crate) fn is_worker_of(shared: &Shared) -> bool {
    CURRENT_POOL.with(|current| current.get() == shared as *const Shared as usize)
}

/// Starts one worker thread. Its live count must already be reserved.
pub(crate) fn spawn(shared: &Arc<Shared>) -> io::Result<()> {
    let number = shared
        .next_thread
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    #[cfg(feature = "fault-injection")]
    if crate::fault::spawn_should_fail() {
        return Err(io::Error::other("injected thread start failure"));
    }
    let name = format!("{}-{}", shared.config.thread_name, number);
    let worker_shared = Arc::clone(shared);
    let thread = Thread::start(&shared.stacks, &name, move || run(worker_shared, number))?;
    shared.register(thread);
    Ok(())
}

fn run_hook(shared: &Shared, hook: &crate::builder::Hook) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| hook())) {
        job::report_panic(payload, shared.config.panic_handler.as_ref());
    }
}

/// The worker's main function. Task and hook panics are caught where they
/// run; a panic of the pool's own machinery (a bug: running on with broken
/// counts could lose tasks or hang `pool_free`) reaches `thread_main`, an
/// `extern "C"` function, where the process aborts (`thread.rs`).
fn run(shared: Arc<Shared>, number: usize) {
    shared.worker_started();
    let mut slot = shared.worker_slot(number);
    CURRENT_POOL.with(|current| current.set(Arc::as_ptr(&shared) as usize));
    if let Some(on_start) = &shared.config.on_start {
        shared.counting_start_hook(|| run_hook(&shared, on_start));
    }
    while let Some(task) = shared.next_job() {
        let outcome = task.run(shared.config.panic_handler.as_ref());
        if shared.task_done(outcome, &mut slot) {
            break;
        }
    }
    if let Some(on_exit) = &shared.config.on_exit {
        run_hook(&shared, on_exit);
    }
    CURRENT_POOL.with(|current| current.set(0));
    shared.worker_departed(slot);
}
