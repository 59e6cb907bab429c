//! Removing queued tasks (`pool_cancel_queued`) and a shutdown that chooses
//! what happens to them, with a deadline (`pool_shutdown`).
//!
//! # Cancelling
//!
//! Queue modes: the canceller pops the queue as a worker does (each task
//! leaves the queue exactly once: to a worker, which runs it, or to the
//! canceller, which hands it back), and takes the tasks parked by workers
//! of a paused pool (`pause.rs`). A parallel loop's helper task, the
//! pool's own, is dropped and counted done instead: nobody scheduled it,
//! and its loop runs without it. Each removed task is uncounted (as a
//! refused schedule gives its task back) before it is handed to the
//! caller, counted in `Tallies::cancelled`, and never runs. Hand-off mode
//! has no queue: every accepted task is already on a worker's line, as
//! good as started (its `queued` is 0), so nothing is removed.
//!
//! Waits: a cancelled task is neither queued nor held by a seat, which is
//! all an exact wait asks (`wait.rs`); the waits are woken once the tasks
//! are gone, and so are schedulers waiting for room.
//!
//! # Shutting down
//!
//! `shutdown_within` closes the pool as `pool_free` does (the gate of the
//! C handle stays open, so the handle can be asked again, or read), then
//! cancels or lets the queue drain, then waits until every worker left and
//! returned (`Shared::departed`), and joins them. Each worker leaving wakes
//! the wait (`Waiters::room_made`, and `roster_changed` once its thread is
//! about to return). No thread is ever killed: at the deadline it reports
//! what still runs or waits.

use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::job::Job;
use crate::shared::{Delivery, Shared};
use crate::waiters::Reason;
use crate::{Error, current};

/// What [`Pool::shutdown`](crate::Pool::shutdown) (and `pool_shutdown`)
/// found when it returned.
///
/// ```
/// use std::time::Duration;
/// let pool = workerpool::Pool::new(1).unwrap();
/// let report = pool.shutdown(workerpool::ShutdownMode::Drain, Duration::from_secs(60)).unwrap();
/// assert_eq!(report, workerpool::ShutdownReport::default());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Tasks removed unrun by this call.
    pub cancelled: u64,
    /// Tasks still queued when it returned (a drain that timed out).
    pub queued: u64,
    /// Tasks still running when it returned.
    pub running: u64,
}

/// Whether a shutdown runs or removes what is queued.
///
/// ```
/// use std::time::Duration;
/// use workerpool::ShutdownMode;
/// let pool = workerpool::Builder::new().queue_size(8).build().unwrap();
/// pool.pause().unwrap();
/// pool.schedule(|| ()).unwrap();
/// let report = pool.shutdown(ShutdownMode::Cancel, Duration::from_secs(60)).unwrap();
/// assert_eq!(report.cancelled, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Let the queued tasks run.
    Drain,
    /// Remove them unrun (their closures are dropped).
    Cancel,
}

impl Shared {
    /// Removes every task accepted and not yet started, handing each to
    /// `on_cancel` (on the calling thread) after it is uncounted. Returns
    /// how many.
    pub(crate) fn cancel_queued(&self, mut on_cancel: impl FnMut(Job)) -> u64 {
        let Delivery::Queue { queue, .. } = &self.delivery else {
            return 0;
        };
        let (mut removed, mut popped) = (0, false);
        let mut give_back = |job: Job| {
            popped = true;
            if job.is_internal() {
                // A parallel loop's helper: the loop does not need it (its
                // caller runs what is left). Dropped as done, not reported:
                // the caller never scheduled it.
                drop(job);
                self.done.record_shared();
                return;
            }
            // Counted cancelled before it is uncounted: a helper that
            // reads the counts, then this tally, never sees a task on its
            // way to the queue vanish (`Shared::admitted_not_pushed`).
            self.tallies.cancelled.fetch_add(1, Ordering::SeqCst);
            self.counts.withdraw_task();
            removed += 1;
            // A Rust closure of a group, dropped here, counts as cancelled.
            crate::group::as_cancelled(|| on_cancel(job));
        };
        // Parked tasks were taken before those still queued.
        for job in self.pause.take_parked() {
            give_back(job);
        }
        while let Some(job) = queue.pop(None) {
            give_back(job);
        }
        if popped {
            // Room for schedulers, and waits whose tasks are gone.
            self.waiters.wake_all();
        }
        removed
    }

    /// `pool_shutdown`: closes, drains or cancels the queue, then waits
    /// until `deadline` (for ever when `None`) for every worker to leave,
    /// and joins them. `Timeout` if some still run then; `Deadlock` from a
    /// worker of this pool (nothing is done).
    pub(crate) fn shutdown_within(
        &self,
        mode: ShutdownMode,
        deadline: Option<Instant>,
        on_cancel: impl FnMut(Job),
    ) -> (Result<(), Error>, ShutdownReport) {
        let mut report = ShutdownReport::default();
        if current::is_worker_of(self) {
            return (Err(Error::Deadlock), report);
        }
        if mode == ShutdownMode::Cancel {
            // Admissions stop first, and the queue goes before closing
            // resumes a paused pool: none of its tasks starts.
            self.counts.close();
            report.cancelled = self.cancel_queued(on_cancel);
        }
        self.begin_close();
        let poll = || self.all_workers_returned().then_some(());
        let ended = poll().is_some()
            || (deadline.is_none_or(|deadline| Instant::now() < deadline)
                && self
                    .waiters
                    .sleep_until(Reason::Roster, deadline, poll)
                    .is_some());
        if ended {
            self.join_returned_workers();
            return (Ok(()), report);
        }
        let done = self.done.read();
        let pending = self.counts.load().pending(done);
        report.queued = match &self.delivery {
            Delivery::Queue { queue, .. } => (queue.len() as u64).min(pending),
            Delivery::HandOff => 0,
        };
        report.running = pending - report.queued;
        (Err(Error::Timeout), report)
    }

    /// Once closing: whether no worker is live and every thread not yet
    /// joined has returned from its work (only its last instructions
    /// left), so joining them does not wait for a task or a hook.
    fn all_workers_returned(&self) -> bool {
        if self.counts.load().live() > 0 || !self.drained() {
            return false;
        }
        let handles = self.handles.lock().unwrap_or_else(|p| p.into_inner());
        // `register` adjusts `departed` under this lock as it joins.
        handles.len() <= self.departed.load(Ordering::SeqCst)
    }

    /// Joins the workers that have returned (`all_workers_returned`).
    fn join_returned_workers(&self) {
        let handles = std::mem::take(&mut *self.handles.lock().unwrap_or_else(|p| p.into_inner()));
        self.departed.fetch_sub(handles.len(), Ordering::SeqCst);
        for thread in handles {
            thread.join(&self.stacks, false);
        }
    }
}
