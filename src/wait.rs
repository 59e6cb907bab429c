//! The exact wait: `pool_wait` / `pool_wait_timeout` return once every task
//! accepted before the call has finished, however much other threads
//! schedule meanwhile, and every thread waiting when that happens returns.
//!
//! A wait does not wait for the pool to go idle. It takes a bound, and
//! waits until no task below it is queued or held by a worker. Each
//! worker's seat (`seats.rs`) has a mark: the task it holds, or `NO_MARK`.
//!
//! * Queue modes: a task's mark is its place in the queue's FIFO order
//!   (`Queue::pop` sets it before it claims the slot). The bound is the
//!   number of tasks pushed when the wait begins, which counts every task
//!   accepted before. Done when the queue's head has passed the bound
//!   (none of those is still queued) and every mark is at least the bound
//!   (none is still held). The head is read before the marks: a consumer
//!   stores its mark before the claim that moves the head (release), so a
//!   wait that sees the head past a slot sees that slot's mark, or a later
//!   one of the same worker (which comes after that task finished).
//! * Hand-off mode: a task's mark is the wait epoch its scheduler read once
//!   it had won the line (`Claim::deliver`). A wait bumps the epoch and
//!   waits until every mark is above its old value: a task accepted before
//!   the wait began read the epoch before the bump.
//!
//! Why no wake-up is lost: a worker clears its mark, then issues the
//! hand-shake of `waiters.rs` (`task_gone`, or `seat_cleared` for a mark of
//! a claim that lost); a wait sleeps with its bound and polls its condition
//! under that protocol. A finished task wakes every sleeping wait unless it
//! cannot end any of them (`may_end_a_wait`; the argument is in
//! `waiters.rs`), so one that was waiting when its tasks finished returns,
//! whatever other waiters and schedulers do.
//!
//! Cost: nothing on the schedule path in queue modes; in hand-off mode one
//! load of a line that only waits write. Workers store their mark twice
//! per task, on their own seat's line; while a wait sleeps, a worker reads
//! the bounds (and in queue modes the queue's head) per task, and wakes
//! the wait only once the queue has passed its bound.
//!
//! Task groups reuse the same sleeping and the same completion events; a
//! group keeps its own count of pending tasks instead of marks.

use std::time::Instant;

use crate::shared::{Delivery, Shared};
use crate::waiters::{Bounds, Reason};
use crate::{Error, current};

impl Shared {
    /// Waits until every task accepted before the call has finished, or
    /// until `deadline` (for ever when `None`; a deadline already passed
    /// polls once). `Freed` once the pool is closing, at once, even for a
    /// caller already waiting: closing runs every accepted task anyway,
    /// and a waiter that the closing thread (or a task) depends on must not
    /// be held until the tasks are done. `Deadlock` from a worker.
    pub(crate) fn wait_accepted(&self, deadline: Option<Instant>) -> Result<(), Error> {
        let bound = self.begin_wait()?;
        self.wait_for_bound(bound, deadline)
    }

    /// The first half of a wait: the bound below which it waits for every
    /// task (`Deadlock` from a worker, `Freed` once closing).
    pub(crate) fn begin_wait(&self) -> Result<u64, Error> {
        if current::is_worker_of(self) {
            return Err(Error::Deadlock);
        }
        if self.is_closing() {
            return Err(Error::Freed);
        }
        let bound = match &self.delivery {
            Delivery::Queue { queue, .. } => queue.pushed(),
            Delivery::HandOff => self.seats.next_epoch(),
        };
        #[cfg(feature = "fault-injection")]
        crate::fault::count_wait_begun();
        Ok(bound)
    }

    /// The second half: sleeps until no task below `bound` is left, the
    /// deadline passes, or the pool closes.
    pub(crate) fn wait_for_bound(
        &self,
        bound: u64,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        // `begin_close` sets the flag before it wakes the waiters (under
        // their lock), so a poll that missed the flag is followed by that
        // wake-up.
        let poll = || {
            if self.is_closing() {
                Some(Err(Error::Freed))
            } else {
                self.finished_below(bound).then_some(Ok(()))
            }
        };
        if let Some(result) = poll() {
            return result;
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Err(Error::Timeout);
        }
        self.waiters
            .sleep_until(Reason::Done(bound), deadline, poll)
            .unwrap_or(Err(Error::Timeout))
    }

    /// Whether a task marked `mark` that just finished may be the last one
    /// a sleeping wait waits for, given the sleeping waits' `bounds`: it is
    /// below the greatest bound, and (queue modes) the queue's head has
    /// passed the least bound, so no task below it is still queued. Called
    /// after the worker's fence (`Waiters::task_gone`), which makes the
    /// head read sound (`waiters.rs`, "Which finished task wakes a wait").
    pub(crate) fn may_end_a_wait(&self, mark: u64, bounds: Bounds) -> bool {
        mark < bounds.greatest
            && match &self.delivery {
                Delivery::Queue { queue, .. } => queue.popped() >= bounds.least,
                Delivery::HandOff => true,
            }
    }

    /// Whether no task below `bound` is queued or held by a worker.
    fn finished_below(&self, bound: u64) -> bool {
        match &self.delivery {
            Delivery::Queue { queue, .. } => {
                queue.popped() >= bound && self.seats.all_marks_at_least(bound)
            }
            Delivery::HandOff => self.seats.all_marks_at_least(bound),
        }
    }
}
