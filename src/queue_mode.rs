//! Queue modes' delivery: every accepted task goes through one FIFO queue
//! (`queue/`); idle workers sleep and are woken by the rules of `sleep.rs`.
//!
//! Order: the queue is FIFO and a worker takes the oldest task, so tasks
//! start in the order they were accepted; with one worker (capacity 1)
//! each starts after the previous one finished: a serial queue.

use crate::Error;
use crate::counts::Counts;
use crate::job::Job;
use crate::pause::AfterPause;
use crate::queue::Queue;
use crate::shared::{Delivery, Shared, WorkerSlot};
use crate::sleep::{self, Idle, Sleepers};
use crate::sync::Spin;

impl Shared {
    fn queue_parts(&self) -> (&Queue<Job>, &Sleepers) {
        match &self.delivery {
            Delivery::Queue { queue, sleepers } => (queue, sleepers),
            Delivery::HandOff => unreachable!("queue modes only"),
        }
    }

    /// Puts an admitted job in the queue; `after` is the counts its
    /// admission produced.
    pub(crate) fn accept(&self, job: Job, after: Counts) {
        self.wake_before_push(after).push(job);
    }

    /// Wakes a sleeper if the task admitted with `after` needs one, and
    /// gives the queue to push the task on. Wake before the push: on the
    /// fast path the push is the last access to the pool, made outside
    /// any method of `Shared` (`admission.rs`). A sleeper woken early finds
    /// the queue empty but, counting this task as pending, looks again
    /// instead of sleeping (`sleep.rs`).
    #[inline(always)]
    pub(crate) fn wake_before_push(&self, after: Counts) -> &Queue<Job> {
        let (queue, sleepers) = self.queue_parts();
        let starting = || self.starting();
        if sleep::wake_needed(after, &self.done, starting) {
            sleepers.wake_for_task(&self.counts, &self.done, starting);
        }
        queue
    }

    /// The next job for a worker, or `None` when the worker must leave (it
    /// is then already uncounted: idle expiry, retirement, closing).
    #[inline]
    pub(crate) fn next_queued(&self, me: &WorkerSlot) -> Option<Job> {
        let (queue, sleepers) = self.queue_parts();
        let mark = &me.line.mark;
        // The pause flag is read before each pop and again after a pop
        // that found a task (`pause.rs`); the paused paths are cold, so
        // the task moves straight from the queue to the caller.
        'look: loop {
            if self.is_paused() {
                match self.wait_while_paused() {
                    AfterPause::Leave => return None,
                    _ => continue 'look,
                }
            }
            if let Some(job) = queue.pop(Some(mark)) {
                if !self.is_paused() {
                    return Some(job);
                }
                match self.park_for(me, job) {
                    AfterPause::Run(job) => return Some(job),
                    AfterPause::Leave => return None,
                    AfterPause::Retry => continue 'look,
                }
            }
            let spin = Spin::new();
            while spin.before_blocking() {
                if self.is_paused() {
                    continue 'look;
                }
                if let Some(job) = queue.pop(Some(mark)) {
                    if !self.is_paused() {
                        return Some(job);
                    }
                    match self.park_for(me, job) {
                        AfterPause::Run(job) => return Some(job),
                        AfterPause::Leave => return None,
                        AfterPause::Retry => continue 'look,
                    }
                }
            }
            // A wait may have seen this seat's mark from a claim that
            // lost; the mark is clear now (`Queue::pop`).
            self.waiters.seat_cleared();
            match sleepers.idle(
                &self.counts,
                &self.done,
                || self.cap(),
                || self.starting(),
                self.config.idle_timeout,
            ) {
                Idle::Retry => crate::sync::model_yield(),
                Idle::Exit => return None,
            }
        }
    }

    /// After a resume: wakes sleepers, claimed, while the awake workers do
    /// not cover the pending tasks (those accepted while paused may have
    /// found every worker waiting for the resume, awake).
    pub(crate) fn wake_sleepers_for_backlog(&self) {
        let (_, sleepers) = self.queue_parts();
        let starting = || self.starting();
        while sleepers.wake_for_task(&self.counts, &self.done, starting) {}
    }

    /// Wakes up to `excess` sleepers, claimed, to retire after a shrink.
    pub(crate) fn wake_sleepers_to_retire(&self, excess: u64) {
        let (_, sleepers) = self.queue_parts();
        sleepers.wake_to_retire(&self.counts, excess);
    }

    /// Wakes every sleeper: the pool is closing.
    pub(crate) fn wake_sleepers_for_closing(&self) {
        let (_, sleepers) = self.queue_parts();
        sleepers.wake_all();
    }

    /// The OS refused the worker admission reserved for `job` (live, now no
    /// longer starting): the job still goes to the queue when a live worker
    /// exists and the queue has room; otherwise it is refused with `Spawn`.
    pub(crate) fn queue_after_refused_spawn(&self, job: Job) -> Result<(), Error> {
        let cap = self.cap();
        let queue_limit = self.config.queue_limit;
        let (before, kept) = self
            .counts
            .update(|c| {
                let c = c.without_worker();
                let (pending, usable) = (c.pending(self.done.read()), c.live().min(cap));
                // `pending` already counts this job: it is kept if a live
                // worker will be free for it or its place fits the queue.
                let kept =
                    c.live() > 0 && (pending <= usable || pending - usable - 1 < queue_limit);
                Some(if kept {
                    (c, true)
                } else {
                    (c.without_task(), false)
                })
            })
            .unwrap_or_else(|_| unreachable!("the update never declines"));
        // Uncounted: a scheduler waiting for room may start one now.
        self.waiters.room_made();
        if kept {
            self.accept(job, before.without_worker());
            Ok(())
        } else {
            // Not counted in `rejected`, which the C contract defines as
            // NO_IDLE_WORKER + TIMEOUT + FREED.
            self.waiters.task_withdrawn();
            Err(Error::Spawn)
        }
    }
}
