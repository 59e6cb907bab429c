//! Worker threads: how one starts and runs, the same in every mode.
//!
//! The life itself is written once (`run`): named, then the `on_start`
//! hook (the worker counts as starting, and takes no task, until it
//! returns), then tasks from the pool's delivery until the delivery or a
//! retirement says it leaves (idle expiry, shutdown, capacity shrink),
//! then `on_exit`, last, on the worker.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::current;
use crate::job::{self, Job};
use crate::shared::{Shared, WorkerSlot};
#[cfg(not(loom))]
use crate::thread::Thread;

/// Starts one worker thread. Its live and starting counts must already be
/// reserved. It gets a seat (`seats.rs`); in hand-off mode the seat holds
/// `first`, the job it is started for, if any (queue modes pass `None`).
/// On failure `first` comes back (and the counts stay reserved).
pub(crate) fn spawn(shared: &Shared, first: Option<Job>) -> Result<(), Option<Job>> {
    let number = shared.next_thread.fetch_add(1, Ordering::Relaxed);
    let Some(seat) = shared.seats.take() else {
        return Err(first);
    };
    if let Some(job) = first {
        shared.seats.put_first(seat, job);
    }
    #[cfg(feature = "fault-injection")]
    if crate::fault::spawn_should_fail() {
        return Err(shared.seats.give_back_unstarted(seat));
    }
    // The model checks run workers on loom's threads (`live`); an OS thread
    // would run loom's primitives outside the model: refused, as by the OS.
    #[cfg(loom)]
    {
        let _ = number;
        Err(shared.seats.give_back_unstarted(seat))
    }
    #[cfg(not(loom))]
    {
        let name = format!("{}-{}", shared.config.thread_name, number);
        let worker_shared = shared.arc();
        match Thread::start(&shared.stacks, &name, move || {
            run(worker_shared, number, seat)
        }) {
            Ok(thread) => {
                shared.register(thread);
                Ok(())
            }
            Err(_) => Err(shared.seats.give_back_unstarted(seat)),
        }
    }
}

#[cfg_attr(loom, allow(dead_code))]
fn run_hook(shared: &Shared, hook: &crate::builder::Hook) {
    let ran = current::as_hook(|| panic::catch_unwind(AssertUnwindSafe(|| hook())));
    if let Err(payload) = ran {
        job::report_panic(payload, shared.config.panic_handler.as_ref());
    }
}

/// The worker's main function. Task and hook panics are caught where they
/// run; a panic of the pool's own machinery (a bug: running on with broken
/// counts could lose tasks or hang `pool_free`) reaches `thread_main`, an
/// `extern "C"` function, where the process aborts (`thread.rs`).
#[cfg_attr(loom, allow(dead_code))]
///
/// A preallocating build waits for `worker_started`: with an `on_start`
/// hook, when the hook begins (it may wait for the building thread); else
/// once the worker takes tasks (its line open), so that a schedule right
/// after `pool_new` finds it idle.
fn run(shared: Arc<Shared>, number: usize, seat: usize) {
    current::enter(&shared);
    let me = live(&shared, number, seat, || {
        if let Some(on_start) = &shared.config.on_start {
            shared.worker_started();
            shared.counting_start_hook(|| run_hook(&shared, on_start));
        }
    });
    if let Some(on_exit) = &shared.config.on_exit {
        run_hook(&shared, on_exit);
    }
    current::leave();
    shared.worker_departed(me);
    shared.shutdown_if_owed();
}

/// A worker's life between its start and its `on_exit` hook, on seat
/// `seat`: the `on_start` hook, then tasks until it leaves (uncounted, its
/// seat given back). The model checks run it on loom's threads.
pub(crate) fn live(
    shared: &Shared,
    number: usize,
    seat: usize,
    on_start: impl FnOnce(),
) -> WorkerSlot<'_> {
    let mut me = shared.worker_slot(number, seat);
    on_start();
    shared.start_hook_done(&mut me);
    while let Some(task) = shared.next_job(&me) {
        shared.task_starts(&me);
        let outcome = task.run(shared.config.panic_handler.as_ref());
        if shared.task_done(outcome, &mut me) {
            break;
        }
    }
    shared.worker_leaves(&me);
    me
}
