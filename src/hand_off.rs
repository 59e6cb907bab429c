//! Hand-off mode's delivery (`queue_size 0`): a task goes straight to an
//! idle worker's line (`mailbox.rs`), claimed by the scheduler; the worker
//! waits on its own line.
//!
//! # A shrink never misses an idle line
//!
//! A shrink stores the capacity, bumps `Limits::shrinks`, then asks idle
//! lines to retire; a worker that becomes idle opens its line, then reads
//! `shrinks` (all `SeqCst`). Either the shrink's scan sees the line open
//! (and asks it), or the worker sees the bump and asks itself. Each line is
//! asked at most once per shrink, and the number asked is the excess, so
//! no line stays unclaimable for a retirement that will not happen.

use crate::Error;
use crate::job::Job;
use crate::mailbox::Wake;
use crate::shared::{Shared, WorkerSlot};
use crate::sync::Ordering;

impl Shared {
    /// The worker's next job, or `None` when it must leave (then it is
    /// uncounted): idle expiry, retirement after a shrink, closing.
    pub(crate) fn next_handed(&self, me: &WorkerSlot) -> Option<Job> {
        let line = me.line;
        let in_transit = self.seats.in_transit();
        loop {
            match line.wait(|| self.is_closing(), self.config.idle_timeout, in_transit) {
                Wake::Job(job) => return Some(job),
                Wake::Retire => {
                    #[cfg(feature = "fault-injection")]
                    crate::fault::pause_if_asked(crate::fault::Window::RetireDecision);
                    let retired = self.retire_idle();
                    if !retired {
                        line.reopen();
                    }
                    // Uncounted, or claimable again: the transit is over.
                    in_transit.fetch_sub(1, Ordering::SeqCst);
                    if retired {
                        return None;
                    }
                    // A scheduler that found this line asked to retire may
                    // be asleep waiting for room.
                    self.waiters.room_made();
                }
                Wake::Leave => {
                    #[cfg(feature = "fault-injection")]
                    crate::fault::pause_if_asked(crate::fault::Window::LeavingLine);
                    self.counts.remove_worker();
                    in_transit.fetch_sub(1, Ordering::SeqCst);
                    return None;
                }
            }
        }
    }

    /// An idle worker asked to retire by a shrink: leaves (uncounted) if
    /// the pool is still above capacity, or closing.
    fn retire_idle(&self) -> bool {
        let cap = self.cap();
        self.counts
            .update(|c| (c.live() > cap || c.closing()).then(|| (c.without_worker(), ())))
            .is_ok()
    }

    /// The worker's `on_start` hook returned: its line opens (unless it
    /// holds the job the worker was started for).
    pub(crate) fn open_line_after_start(&self, me: &mut WorkerSlot) {
        me.line.open_after_start();
        self.ask_self_after_shrink(me);
    }

    /// A task finished and the worker stays: its line opens again.
    pub(crate) fn reopen_line(&self, me: &mut WorkerSlot) {
        me.line.reopen();
        self.ask_self_after_shrink(me);
    }

    /// After the line opened: a shrink since the worker last looked, with
    /// the pool still above capacity, may have scanned past the line before
    /// it was open (module docs): the worker asks itself to retire.
    fn ask_self_after_shrink(&self, me: &mut WorkerSlot) {
        // SeqCst: paired with the shrink's scan of the lines (module docs).
        if self.above_capacity_after_shrink(me, Ordering::SeqCst) {
            self.seats.ask_own_line_to_retire(me.seat);
        }
    }

    /// The OS refused the worker admission reserved for `job` (now no
    /// longer starting): the job goes to an idle worker if one is there
    /// now; otherwise it is refused with `Spawn`.
    pub(crate) fn deliver_after_refused_spawn(&self, job: Job) -> Result<(), Error> {
        self.counts.remove_worker();
        self.waiters.room_made();
        if let Some(claim) = self.seats.claim(|| true) {
            claim.deliver(job);
            return Ok(());
        }
        self.withdraw_task();
        Err(Error::Spawn)
    }
}
