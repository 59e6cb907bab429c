//! Pausing and resuming a pool (`pool_pause` / `pool_resume`).
//!
//! While paused, workers start no task; running ones finish. Admission
//! still accepts what the queue has room for (`admission.rs`: the counts'
//! `paused` bit, read by the same CAS as `closing`), and a hand-off pool is
//! full, so schedulers block, time out or are refused as on a full pool.
//!
//! # The flag, twice
//!
//! `pause` sets the counts' `paused` bit (for admission, which reads that
//! word anyway) and `Limits::paused` (for workers, who read that line per
//! task already and must not read the counts, written by every schedule).
//! Both change under `Pause::state`'s lock, where workers also decide to
//! wait: no wake-up is lost.
//!
//! # Which tasks may still start
//!
//! A queue-mode worker reads `Limits::paused` before it takes a task and
//! again after (`SeqCst`). If the second read misses the flag, it precedes
//! the flag's store, so the task was taken before `pool_pause` began: it
//! runs. If it sees the flag, the task is parked under the lock, still
//! pending and counted as queued, with the worker's seat still showing it
//! (`wait.rs` sees it held), until `resume` (the worker takes it back and
//! runs it) or `pool_cancel_queued` (which takes it: the worker then
//! clears its seat). So once `pool_pause` returned, no task starts until
//! `pool_resume`. In hand-off mode a claim that raced with the pause
//! delivers its task, accepted before the pause: it runs.
//!
//! # Workers meanwhile
//!
//! A worker waiting for `resume` counts as awake (it covers the pending
//! tasks, as when it runs one), so schedulers do not wake sleepers for
//! tasks only it will take. A shrink wakes it: if the pool is above
//! capacity and the others cover the pending tasks, it retires. Closing
//! resumes the pool (`pool_free` and `pool_shutdown` resume a paused pool).

use crate::job::Job;
use crate::shared::{Delivery, Shared, WorkerSlot};
use crate::sync::{Condvar, Mutex, MutexGuard, Ordering};

/// Tasks workers took and hold while paused, by seat (or helper frame).
#[derive(Default)]
struct Parked {
    jobs: Vec<(usize, Job)>,
}

pub(crate) struct Pause {
    state: Mutex<Parked>,
    resumed: Condvar,
}

/// What a worker that saw the pool paused does next.
pub(crate) enum AfterPause {
    /// Run this task (taken before the pause, or resumed).
    Run(Job),
    /// Look for a task again (resumed, or the parked task was cancelled).
    Retry,
    /// Leave: uncounted by a retirement after a shrink.
    Leave,
}

impl Pause {
    pub(crate) fn new() -> Self {
        Pause {
            state: Mutex::new(Parked::default()),
            resumed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Parked> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes every parked task (`pool_cancel_queued`); their workers see
    /// them gone when woken.
    pub(crate) fn take_parked(&self) -> Vec<Job> {
        let mut parked = self.lock();
        let jobs: Vec<Job> = parked.jobs.drain(..).map(|(_, job)| job).collect();
        if !jobs.is_empty() {
            self.resumed.notify_all();
        }
        jobs
    }

    /// Parked tasks now (they count as queued in the stats).
    pub(crate) fn parked(&self) -> usize {
        self.lock().jobs.len()
    }

    /// Wakes every waiting worker (resume, closing, a shrink).
    pub(crate) fn wake_workers(&self) {
        let _parked = self.lock();
        self.resumed.notify_all();
    }
}

impl Shared {
    /// Whether workers must start no task now.
    pub(crate) fn is_paused(&self) -> bool {
        self.limits.paused.load(Ordering::SeqCst)
    }

    /// `pool_pause`. `Freed` once closing.
    pub(crate) fn pause(&self) -> Result<(), crate::Error> {
        let _parked = self.pause.lock();
        if self.is_closing() {
            return Err(crate::Error::Freed);
        }
        self.counts.set_paused(true);
        self.limits.paused.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// `pool_resume` (and closing): workers start tasks again; schedulers
    /// waiting for room, and sleepers the queued tasks need, are woken.
    pub(crate) fn resume(&self) {
        {
            let _parked = self.pause.lock();
            if !self.is_paused() {
                return;
            }
            self.limits.paused.store(false, Ordering::SeqCst);
            self.counts.set_paused(false);
            self.pause.resumed.notify_all();
        }
        self.waiters.wake_all();
        if let Delivery::Queue { .. } = self.delivery {
            self.cover_backlog();
        }
    }

    /// Queue modes, after a resume: tasks accepted while paused started no
    /// worker and woke no sleeper that the workers waiting for the resume
    /// (awake) seemed to cover. Wakes sleepers, then starts workers (below
    /// capacity), until the awake workers cover the pending tasks. Also
    /// when the resume is closing's (`begin_close`): a lazy pool paused
    /// before its first worker has tasks and no worker, and closing must
    /// run them. A refused thread leaves the rest to the workers there are
    /// (a lazy pool's next schedule starts one); at closing with no worker
    /// at all, the closing thread runs the backlog itself, as `pool_free`
    /// promises to run every accepted task.
    fn cover_backlog(&self) {
        loop {
            self.wake_sleepers_for_backlog();
            let done = self.done.read();
            let c = self.counts.load();
            let short = c.sleeping() == 0 && c.pending(done) > c.awake();
            if !short {
                return;
            }
            if !matches!(self.start_worker_unless(|_| false), Ok(true)) {
                if c.closing() && self.counts.load().live() == 0 {
                    self.run_backlog_here();
                }
                return;
            }
        }
    }

    /// Closing, no worker, and none can start: runs the queued tasks on the
    /// calling thread (the one closing the pool).
    #[cold]
    fn run_backlog_here(&self) {
        let Delivery::Queue { queue, .. } = &self.delivery else {
            return;
        };
        let handler = self.config.panic_handler.as_ref();
        while let Some(job) = queue.pop(None) {
            let outcome = job.run(handler);
            self.count_panic(outcome);
            self.done.record_shared();
            self.waiters.task_gone(|_| true);
        }
    }

    /// A worker saw the pool paused before taking a task: waits until
    /// resumed (or closing), or retires if a shrink left the pool above
    /// capacity and the other workers cover the pending tasks.
    #[cold]
    pub(crate) fn wait_while_paused(&self) -> AfterPause {
        let mut parked = self.pause.lock();
        loop {
            if !self.is_paused() || self.is_closing() {
                return AfterPause::Retry;
            }
            if self.counts.load().live() > self.cap() && self.try_retire() {
                return AfterPause::Leave;
            }
            parked = self
                .pause
                .resumed
                .wait(parked)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// A worker took `job` and then saw the pool paused: parks it until
    /// resumed (then runs it) or cancelled (then clears its seat's mark and
    /// looks again).
    #[cold]
    pub(crate) fn park_for(&self, me: &WorkerSlot, job: Job) -> AfterPause {
        self.park(me.seat, || me.line.clear_mark(), job)
    }

    /// `park_for` with the parked task's key (a seat, or a helper's frame
    /// address: `helping.rs`) and what to clear if it is cancelled.
    pub(crate) fn park(&self, key: usize, clear: impl FnOnce(), job: Job) -> AfterPause {
        let mut parked = self.pause.lock();
        if !self.is_paused() || self.is_closing() {
            return AfterPause::Run(job);
        }
        parked.jobs.push((key, job));
        loop {
            parked = self
                .pause
                .resumed
                .wait(parked)
                .unwrap_or_else(|p| p.into_inner());
            let mine = parked.jobs.iter().position(|(k, _)| *k == key);
            let Some(index) = mine else {
                drop(parked);
                // Cancelled: the seat no longer holds a task.
                clear();
                self.waiters.seat_cleared();
                return AfterPause::Retry;
            };
            if !self.is_paused() || self.is_closing() {
                return AfterPause::Run(parked.jobs.swap_remove(index).1);
            }
        }
    }
}
