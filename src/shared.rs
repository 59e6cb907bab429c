//! The pool's state shared by handles and workers, and the admission logic.
//!
//! # Admission
//!
//! With `pending` accepted-but-unfinished tasks, `live` workers, capacity
//! `cap` and queue limit `q`, let `w = min(live, cap)` be the workers that
//! may run tasks. A new task is accepted when
//! 1. `pending < w`: a worker is idle (or about to be) and will take it;
//! 2. else `live < cap`: a worker is started for it;
//! 3. else `pending - w < q`: it waits in the queue;
//!
//! and otherwise the pool is full. All three kinds of task go through one
//! unbounded channel; the bounds live in the counts, decided by one CAS
//! (`counts.rs`). So hand-off mode (`q == 0`) means "accepted iff a worker
//! is idle or can be started" without a rendezvous: a task never waits for
//! a worker to arrive at the channel. After the push, a sleeping worker is
//! woken only when the awake ones no longer cover the pending tasks
//! (`sleep.rs`).
//!
//! # Invariant: no task is stranded
//!
//! Every pending task is running, or will be taken from the channel by an
//! awake worker, or a sleeper has been claimed for it. A worker leaves
//! (idle expiry, retirement after a shrink, shutdown) only while the awake
//! workers left cover every pending task, or, for expiry, as an unclaimed
//! sleeper that nobody counted on. Shutdown therefore needs no drain step:
//! once closing, the last worker leaves only when nothing is pending.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use crossbeam_utils::{Backoff, CachePadded};

use crate::builder::Config;
use crate::counts::{AtomicCounts, Counts, MAX_PENDING};
use crate::job::{self, Job, Outcome};
use crate::sleep::{Idle, Sleepers};
use crate::waiters::{Reason, Waiters};
use crate::{Error, worker};

/// How a scheduler behaves when the pool is full.
#[derive(Clone, Copy)]
pub(crate) enum WhenFull {
    /// Fail with `NoIdleWorker`.
    Refuse,
    /// Wait until the deadline (for ever when `None`), then fail with
    /// `Timeout`.
    Wait { deadline: Option<Instant> },
    /// The blocking `schedule`: wait for ever, except on a worker of this
    /// pool, which runs the new task inline instead of waiting.
    WaitOrInline,
}

/// The result of one admission attempt.
enum Admission {
    /// Counted as pending; goes into the channel.
    Queue,
    /// Counted as pending and as a live worker; a thread must be started.
    Spawn,
    Full,
    Closed,
}

pub(crate) struct Shared {
    counts: CachePadded<AtomicCounts>,
    /// Accepted tasks, written by schedulers only.
    submitted: CachePadded<AtomicU64>,
    capacity: AtomicUsize,
    rejected: AtomicU64,
    panicked: AtomicU64,
    pub(crate) config: Config,
    sender: Sender<Job>,
    receiver: Receiver<Job>,
    /// Schedulers and `wait` callers asleep.
    waiters: Waiters,
    /// Idle workers asleep.
    sleepers: Sleepers,
    /// Join handles of every worker started and not yet joined.
    handles: Mutex<Vec<JoinHandle<()>>>,
    /// Workers that returned, or are about to, whose handles `register`
    /// has not joined yet.
    departed: AtomicUsize,
    /// Numbers threads for their names.
    pub(crate) next_thread: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(capacity: usize, config: Config) -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded();
        Shared {
            counts: CachePadded::new(AtomicCounts::new()),
            submitted: CachePadded::new(AtomicU64::new(0)),
            capacity: AtomicUsize::new(capacity),
            rejected: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            config,
            sender,
            receiver,
            waiters: Waiters::new(),
            sleepers: Sleepers::new(),
            handles: Mutex::new(Vec::new()),
            departed: AtomicUsize::new(0),
            next_thread: AtomicUsize::new(0),
        }
    }

    fn cap(&self) -> u64 {
        self.capacity.load(Ordering::SeqCst) as u64
    }

    fn admit(&self) -> (Admission, Counts) {
        let cap = self.cap();
        let queue_limit = self.config.queue_limit;
        let decided = self.counts.update(|c| {
            if c.closing() {
                return None;
            }
            let (pending, live) = (c.pending(), c.live());
            let usable = live.min(cap);
            if pending < usable {
                Some((c.with_task(), Admission::Queue))
            } else if live < cap {
                Some((c.with_task().with_worker(), Admission::Spawn))
            } else if pending - usable < queue_limit && pending < MAX_PENDING {
                Some((c.with_task(), Admission::Queue))
            } else {
                None
            }
        });
        match decided {
            Ok((before, Admission::Spawn)) => (Admission::Spawn, before.with_task().with_worker()),
            Ok((before, admission)) => (admission, before.with_task()),
            Err(c) if c.closing() => (Admission::Closed, c),
            Err(c) => (Admission::Full, c),
        }
    }

    /// Schedules `job`. On success the job will run exactly once.
    pub(crate) fn submit(self: &Arc<Self>, job: Job, when_full: WhenFull) -> Result<(), Error> {
        let admitted = match self.admit() {
            (Admission::Full, counts) => match when_full {
                WhenFull::Refuse => (Admission::Full, counts),
                WhenFull::WaitOrInline if worker::is_worker_of(self) => {
                    // Waiting here could deadlock this pool (every worker may
                    // be a task waiting for room): run the child inline.
                    self.run_inline(job);
                    return Ok(());
                }
                WhenFull::WaitOrInline => self.wait_for_room(None),
                WhenFull::Wait { deadline } => self.wait_for_room(deadline),
            },
            other => other,
        };
        match admitted {
            (Admission::Queue, after) => {
                self.accept(job, after);
                Ok(())
            }
            (Admission::Spawn, after) => self.spawn_for(job, after),
            (Admission::Full, _) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                Err(if matches!(when_full, WhenFull::Refuse) {
                    Error::NoIdleWorker
                } else {
                    Error::Timeout
                })
            }
            (Admission::Closed, _) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                Err(Error::Freed)
            }
        }
    }

    /// Spins briefly (room usually appears within a task's length), then
    /// sleeps until an admission other than `Full` or the deadline.
    fn wait_for_room(&self, deadline: Option<Instant>) -> (Admission, Counts) {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            backoff.snooze();
            match self.admit() {
                (Admission::Full, _) => {}
                decided => return decided,
            }
        }
        let poll = || match self.admit() {
            (Admission::Full, _) => None,
            decided => Some(decided),
        };
        self.waiters
            .sleep_until(&self.counts, Reason::Room, deadline, poll)
            .unwrap_or_else(|| (Admission::Full, self.counts.load()))
    }

    /// Puts an admitted job in the channel; `after` is the counts its
    /// admission produced.
    fn accept(&self, job: Job, after: Counts) {
        self.submitted.fetch_add(1, Ordering::Relaxed);
        // Cannot fail: `self.receiver` keeps the channel connected.
        let _ = self.sender.send(job);
        if after.sleeping() > 0 && after.pending() > after.awake() {
            self.sleepers.wake_for_task(&self.counts);
        }
    }

    /// The next job for a worker, or `None` when the worker must leave (it
    /// is then already uncounted).
    pub(crate) fn next_job(&self) -> Option<Job> {
        loop {
            if let Ok(job) = self.receiver.try_recv() {
                return Some(job);
            }
            let backoff = Backoff::new();
            while !backoff.is_completed() {
                backoff.snooze();
                if let Ok(job) = self.receiver.try_recv() {
                    return Some(job);
                }
            }
            match self
                .sleepers
                .idle(&self.counts, self.cap(), self.config.idle_timeout)
            {
                Idle::Retry => continue,
                Idle::Exit => return None,
            }
        }
    }

    fn run_inline(&self, job: Job) {
        if let Outcome::Panicked = job::run_task(job, self.config.panic_handler.as_ref()) {
            self.panicked.fetch_add(1, Ordering::Relaxed);
        }
        self.submitted.fetch_add(1, Ordering::Relaxed);
    }

    /// Admission reserved a worker for this job: start it. If the OS refuses,
    /// the job still goes to the queue when a live worker exists and the
    /// queue has room; otherwise it is refused with `Spawn`.
    fn spawn_for(self: &Arc<Self>, job: Job, after: Counts) -> Result<(), Error> {
        if worker::spawn(self).is_ok() {
            // `after` counts the new worker as awake, so `accept` wakes a
            // sleeper only if even that does not cover the pending tasks.
            self.accept(job, after);
            return Ok(());
        }
        let cap = self.cap();
        let queue_limit = self.config.queue_limit;
        let (before, kept) = self
            .counts
            .update(|c| {
                let c = c.without_worker();
                let (pending, usable) = (c.pending(), c.live().min(cap));
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
        if kept {
            self.accept(job, before.without_worker());
            Ok(())
        } else {
            // Not counted in `rejected`, which the C contract defines as
            // NO_IDLE_WORKER + TIMEOUT + FREED.
            self.waiters.task_finished(before);
            Err(Error::Spawn)
        }
    }

    /// A worker finished a task. Returns true when the worker should retire
    /// because the pool shrank below its live workers.
    pub(crate) fn task_done(&self, outcome: Outcome) -> bool {
        if let Outcome::Panicked = outcome {
            self.panicked.fetch_add(1, Ordering::Relaxed);
        }
        let before = self.counts.finish_task();
        self.waiters.task_finished(before);
        before.live() > self.cap() && self.try_retire()
    }

    /// Leaves the pool if it has more live workers than capacity, unless a
    /// sleeper would then have to be woken for the pending tasks (the
    /// worker keeps working and retires later, from `idle`).
    fn try_retire(&self) -> bool {
        let cap = self.cap();
        self.counts
            .update(|c| {
                let covered = c.sleeping() == 0 || c.pending() < c.awake();
                (c.live() > cap && covered).then(|| (c.without_worker(), ()))
            })
            .is_ok()
    }

    /// A preallocated worker could not be started.
    pub(crate) fn uncount_worker(&self) {
        self.counts.remove_worker();
    }

    /// A worker was started outside admission (preallocation).
    pub(crate) fn count_worker(&self) {
        self.counts.add_worker();
    }

    pub(crate) fn register(&self, handle: JoinHandle<()>) {
        let finished = {
            let mut handles = self.handles.lock().unwrap_or_else(|p| p.into_inner());
            handles.push(handle);
            // Join threads that expired or retired, so a long-running pool
            // with idle expiry keeps a bounded list. Only when some left:
            // scanning on every spawn made starting n workers O(n^2).
            if self.departed.load(Ordering::Relaxed) == 0 {
                return;
            }
            let (done, running): (Vec<_>, Vec<_>) =
                handles.drain(..).partition(|h| h.is_finished());
            *handles = running;
            // A worker counts itself as departed just before it returns, so
            // a few may not be finished yet: they are reaped next time.
            self.departed.fetch_sub(done.len(), Ordering::Relaxed);
            done
        };
        for handle in finished {
            let _ = handle.join();
        }
    }

    /// A worker is about to return from its thread (expiry, retirement or
    /// shutdown); `register` joins it at the next spawn, `shutdown` in any
    /// case.
    pub(crate) fn worker_departed(&self) {
        self.departed.fetch_add(1, Ordering::Relaxed);
    }

    /// Blocks until no accepted task is queued or running.
    pub(crate) fn wait_idle(&self) -> Result<(), Error> {
        if worker::is_worker_of(self) {
            return Err(Error::Deadlock);
        }
        if self.counts.load().pending() == 0 {
            return Ok(());
        }
        let poll = || (self.counts.load().pending() == 0).then_some(());
        self.waiters
            .sleep_until(&self.counts, Reason::Drained, None, poll);
        Ok(())
    }

    pub(crate) fn set_capacity(&self, capacity: usize) -> Result<(), Error> {
        if self.counts.load().closing() {
            return Err(Error::Freed);
        }
        let old = self.capacity.swap(capacity, Ordering::SeqCst);
        if capacity > old {
            self.waiters.wake_all();
        } else if capacity < old {
            // Wake as many sleepers as must go; busy workers retire after
            // their task (`task_done`).
            let excess = self.counts.load().live().saturating_sub(capacity as u64);
            self.sleepers.wake_to_retire(&self.counts, excess);
        }
        Ok(())
    }

    /// Stops admissions and wakes blocked schedulers, which return `Freed`.
    pub(crate) fn begin_close(&self) {
        self.counts.close();
        self.waiters.wake_all();
        self.sleepers.wake_all();
    }

    /// Closes, lets the workers run every accepted task, and joins them.
    pub(crate) fn shutdown(&self) {
        self.begin_close();
        // A task admitted just before closing may start a worker while we
        // join: take the list again until it stays empty.
        loop {
            let handles =
                std::mem::take(&mut *self.handles.lock().unwrap_or_else(|p| p.into_inner()));
            if handles.is_empty() {
                break;
            }
            for handle in handles {
                let _ = handle.join();
            }
        }
    }

    pub(crate) fn stats(&self) -> crate::Stats {
        let submitted = self.submitted.load(Ordering::SeqCst);
        let c = self.counts.load();
        let pending = c.pending();
        let queued = (self.receiver.len() as u64).min(pending);
        crate::Stats {
            capacity: self.cap() as usize,
            workers: c.live() as usize,
            busy: (pending - queued).min(c.awake()) as usize,
            queued: queued as usize,
            submitted,
            completed: submitted.saturating_sub(pending),
            rejected: self.rejected.load(Ordering::Relaxed),
            panicked: self.panicked.load(Ordering::Relaxed),
        }
    }
}
