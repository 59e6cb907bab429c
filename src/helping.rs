//! A worker that waits (for a task group, `group.rs`) runs the pool's
//! queued tasks meanwhile, and sleeps among the pool's sleepers when there
//! is none, so that a new task wakes it as it wakes an idle worker.
//!
//! Queue modes only: in hand-off mode no task waits for a worker (a
//! schedule from a worker of a full pool runs its task inline instead).
//!
//! A task run this way is a queued task like any other: taken from the
//! queue in order, counted done in the shared completion counter
//! (`Completions::record_shared`), and reported to waiters as a worker's
//! task is. Its mark is kept on the helper's stack, not on its seat: an
//! exact wait (`wait.rs`) that the task matters to, one whose bound is
//! above its place in the queue, also waits for the task the helper is
//! inside, which was queued before it and stays on the helper's seat.
//! That is why only a worker inside a task helps (not one running a
//! thread hook: `current::in_hook`).

use std::time::Instant;

use crate::counts::admitted_ahead_of;
use crate::current;
use crate::mailbox::NO_MARK;
use crate::pause::AfterPause;
use crate::shared::{Delivery, Shared};
use crate::sync::{AtomicU64, Ordering};

impl Shared {
    /// Whether the calling thread, a worker of this pool, may run queued
    /// tasks while it waits.
    pub(crate) fn can_help(&self) -> bool {
        matches!(self.delivery, Delivery::Queue { .. }) && !current::in_hook()
    }

    /// Runs the oldest queued task, if there is one, the pool is not
    /// paused, and the thread's nested runs are not too deep. Returns
    /// whether it ran one.
    pub(crate) fn help_once(&self) -> bool {
        let Delivery::Queue { queue, .. } = &self.delivery else {
            return false;
        };
        if self.is_paused() || !current::may_nest() {
            return false;
        }
        let mark = AtomicU64::new(NO_MARK);
        let Some(job) = queue.pop(Some(&mark)) else {
            return false;
        };
        let position = mark.load(Ordering::Relaxed);
        // Paused since the look before the pop: the task waits for the
        // resume, as a worker's does (`pause.rs`), keyed by this frame.
        let job = if self.is_paused() {
            match self.park(&mark as *const AtomicU64 as usize, || {}, job) {
                AfterPause::Run(job) => job,
                AfterPause::Retry | AfterPause::Leave => return true,
            }
        } else {
            job
        };
        let handler = self.config.panic_handler.as_ref();
        let outcome = current::run_nested(|| job.run(handler));
        self.count_panic(outcome);
        self.done.record_shared();
        self.waiters
            .task_gone(|bounds| self.may_end_a_wait(position, bounds));
        true
    }

    /// Sleeps among the pool's sleepers until `done`, a task for it (a
    /// claim, or one queued), the deadline, or closing.
    pub(crate) fn sleep_as_helper(&self, done: &dyn Fn() -> bool, deadline: Option<Instant>) {
        let Delivery::Queue { queue, sleepers } = &self.delivery else {
            return;
        };
        // A queued task is one to run only while not paused: a paused
        // pool's queue would keep this from sleeping (resume wakes
        // sleepers for the backlog).
        let work = || !self.is_paused() && (queue.len() > 0 || self.admitted_not_pushed());
        let more = || done() || work() || self.is_closing();
        sleepers.sleep_helping(&self.counts, &more, deadline);
    }

    /// Whether a schedule has counted a task it has not pushed yet.
    ///
    /// Why the helper needs it: a schedule decides whether to wake a
    /// sleeper from the counts its `fetch_add` returned, then pushes. If
    /// the helper counted itself asleep after that `fetch_add`, the
    /// schedule saw no sleeper and will not wake it, and the push may not
    /// have landed when the helper looks at the queue. The helper's own
    /// read-modify-write of the counts (`Sleepers::sleep_helping`) comes
    /// after the schedule's, so the counts it reads next show that task:
    /// admitted, and not yet among the queue's pushes (less those
    /// cancelled, which were pushed and uncounted). The helper then looks
    /// again instead of sleeping. (Idle workers decide from `pending`
    /// instead, `sleep.rs`; a helper holds pending tasks of its own.)
    fn admitted_not_pushed(&self) -> bool {
        let Delivery::Queue { queue, .. } = &self.delivery else {
            return false;
        };
        // Read in this order, the estimate of tasks on their way is never
        // below the truth: pushes only grow; a cancellation is tallied
        // before its task is uncounted (`cancel_queued`), and the tally is
        // read after the counts.
        let pushed = queue.pushed();
        let admitted = self.counts.load().admitted();
        let cancelled = self.tallies.cancelled.load(Ordering::SeqCst);
        admitted_ahead_of(admitted, pushed.wrapping_sub(cancelled)) > 0
    }

    /// A group a helper waits for drained: wakes the sleepers (the helpers
    /// among them look again; the others sleep on).
    pub(crate) fn wake_helpers(&self) {
        if let Delivery::Queue { sleepers, .. } = &self.delivery {
            sleepers.wake_all();
        }
    }
}
