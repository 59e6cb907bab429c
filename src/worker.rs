//! Worker threads: how one starts, runs tasks, sleeps, and leaves.
//!
//! With a queue, a worker takes tasks with `Shared::next_job`, which spins
//! briefly and then sleeps (`sleep.rs`); in hand-off mode it waits on its
//! own line (`Shared::serve_line`, `mailbox.rs`). It leaves when either
//! says so (idle expiry, shutdown, capacity shrink) or after a task when
//! the pool shrank below its live workers. Whatever the reason, `on_exit`
//! runs last, on the worker.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use crate::job::{self, Job};
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

/// Starts one worker thread. Its live count must already be reserved. In
/// hand-off mode the worker gets a line (`mailbox.rs`) holding `first`, its
/// first job, if any; otherwise `first` must be `None`. On failure `first`
/// comes back.
pub(crate) fn spawn(shared: &Arc<Shared>, first: Option<Job>) -> Result<(), Option<Job>> {
    let number = shared
        .next_thread
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let lines = shared.mailboxes();
    let line = match lines {
        Some(lines) => Some(lines.take(first)?),
        None => {
            debug_assert!(first.is_none(), "queue modes queue the first job");
            None
        }
    };
    let give_back = |line: Option<usize>| lines?.give_back_unstarted(line?);
    #[cfg(feature = "fault-injection")]
    if crate::fault::spawn_should_fail() {
        return Err(give_back(line));
    }
    let name = format!("{}-{}", shared.config.thread_name, number);
    let worker_shared = Arc::clone(shared);
    match Thread::start(&shared.stacks, &name, move || {
        run(worker_shared, number, line)
    }) {
        Ok(thread) => {
            shared.register(thread);
            Ok(())
        }
        Err(_) => Err(give_back(line)),
    }
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
fn run(shared: Arc<Shared>, number: usize, line: Option<usize>) {
    shared.worker_started();
    let mut slot = shared.worker_slot(number);
    CURRENT_POOL.with(|current| current.set(Arc::as_ptr(&shared) as usize));
    if let Some(on_start) = &shared.config.on_start {
        shared.counting_start_hook(|| run_hook(&shared, on_start));
    }
    match line {
        Some(index) => shared.serve_line(index, &mut slot),
        None => {
            while let Some(task) = shared.next_job() {
                let outcome = task.run(shared.config.panic_handler.as_ref());
                if shared.task_done(outcome, &mut slot) {
                    break;
                }
            }
        }
    }
    if let Some(on_exit) = &shared.config.on_exit {
        run_hook(&shared, on_exit);
    }
    CURRENT_POOL.with(|current| current.set(0));
    shared.worker_departed(slot);
}
