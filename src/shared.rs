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
//! and otherwise the pool is full. With a queue (`q > 0`), all three kinds
//! of task go through one unbounded queue; the bounds live in the counts,
//! decided by one CAS (`counts.rs`). Before the push, a sleeping worker is
//! woken only when no worker is awake or the awake ones no longer cover the
//! pending tasks (`sleep.rs`).
//!
//! Hand-off mode (`q == 0`) has no queue: "accepted iff a worker is idle or
//! can be started", without a rendezvous. Each worker has a line
//! (`mailbox.rs`) that says when it is idle; a schedule claims an idle
//! worker's line with one compare-exchange, which both decides rule 1 and
//! hands the task over, or else starts a worker with the task (rule 2), or
//! finds the pool full. The counts still count admitted tasks and live
//! workers (for `wait`, stats, capacity and shutdown), never sleepers: a
//! worker parks on its own line.
//!
//! # The fast path
//!
//! With an unbounded queue and every worker started, rule 3 always
//! accepts: the schedule is one `fetch_add` on the counts and the push
//! (`submit`). Workers do not write the counts per task: they count what
//! they finish in `completions.rs`, and `pending` is derived. Measured on
//! two cores, each atomic read-modify-write on the scheduling thread costs
//! about as much as the whole push, and a line written by both the
//! scheduler and the workers once per task costs more than that: so the
//! path has one read-modify-write of its own, on a line only schedulers
//! write.
//!
//! # Invariant: no task is stranded
//!
//! Every pending task is running, or will be taken from the queue by an
//! awake worker, or a sleeper has been claimed for it. A worker leaves
//! (idle expiry, retirement after a shrink, shutdown) only while the awake
//! workers left cover every pending task, or, for expiry, as an unclaimed
//! sleeper that nobody counted on. In hand-off mode a pending task is
//! running or in a claimed line, and a worker leaves only from an idle
//! (unclaimed) line. Shutdown therefore needs no drain step: once closing,
//! the last worker leaves only when nothing is pending.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use crossbeam_utils::{Backoff, CachePadded};

use crate::builder::Config;
use crate::completions::{Completions, Tally};
use crate::counts::{AtomicCounts, Counts, MAX_PENDING};
use crate::gate::Gate;
use crate::job::{Job, Outcome};
use crate::mailbox::{Claim, Mailbox, Mailboxes, Wake};
use crate::queue::Queue;
use crate::sleep::{self, Idle, Sleepers};
use crate::stacks::StackArena;
use crate::thread::Thread;
use crate::waiters::{Reason, Waiters};
use crate::{Error, worker};

/// Hand-off mode: how many spins (crossbeam's `Backoff::spin`, 1 to 64
/// pause instructions each) a schedule that may wait makes for an idle
/// worker before it takes the gated path.
const FAST_CLAIM_SPINS: usize = 7;

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
enum Admission<'a> {
    /// Counted as pending; goes into the queue.
    Queue,
    /// Hand-off mode: counted as pending; an idle worker's line is claimed
    /// for it.
    Deliver(Claim<'a>),
    /// Counted as pending and as a live worker; a thread must be started.
    Spawn,
    Full,
    Closed,
}

/// Worker threads started so far, and the count a build waits for (0:
/// none waits).
#[derive(Default)]
struct Starts {
    count: usize,
    awaited: usize,
}

/// What a worker carries from task to task (`Shared::task_done`).
pub(crate) struct WorkerSlot {
    /// Where it counts finished tasks.
    tally: Tally,
    /// `Shared::shrinks` when it last found the pool not over capacity.
    shrinks_seen: u64,
}

pub(crate) struct Shared {
    /// Written by every schedule, by workers only when they sleep, wake,
    /// start or leave.
    counts: CachePadded<AtomicCounts>,
    /// Finished tasks, written by workers.
    done: Completions,
    /// Tasks run inline by a worker of this pool instead of waiting: counted
    /// as submitted and completed, never as pending.
    inline_runs: AtomicU64,
    capacity: AtomicUsize,
    /// Bumped by every capacity shrink: a worker compares it after each
    /// task, instead of reading the counts, to know when to check whether
    /// it must retire.
    shrinks: AtomicU64,
    rejected: AtomicU64,
    panicked: AtomicU64,
    pub(crate) config: Config,
    /// Accepted tasks not yet taken by a worker (queue modes).
    queue: Queue<Job>,
    /// Hand-off mode (`queue_size 0`): one line per worker, which is both
    /// admission and delivery (`mailbox.rs`); `queue` and `sleepers` stay
    /// unused.
    mailboxes: Option<Mailboxes>,
    /// Threads inside a call that the counted tasks do not protect
    /// (`gate.rs`).
    pub(crate) callers: Gate,
    /// Schedulers and `wait` callers asleep.
    waiters: Waiters,
    /// Idle workers asleep.
    sleepers: Sleepers,
    /// Every worker started and not yet joined.
    handles: Mutex<Vec<Thread>>,
    /// The workers' stacks.
    pub(crate) stacks: StackArena,
    /// Workers that returned, or are about to, whose threads `register`
    /// has not joined yet.
    departed: AtomicUsize,
    /// Numbers threads for their names.
    pub(crate) next_thread: AtomicUsize,
    /// Workers inside their `on_start` hook: awake, without a task, and
    /// perhaps waiting for the thread that shrinks the pool
    /// (`wait_for_idle_to_retire`).
    in_start_hook: AtomicUsize,
    /// Worker threads that have begun to run (already named): a
    /// preallocating build returns only once every thread it started is
    /// running under its name (`wait_started`).
    started: Mutex<Starts>,
    all_started: Condvar,
}

impl Shared {
    pub(crate) fn new(capacity: usize, config: Config) -> Self {
        let hand_off = config.queue_limit == 0;
        Shared {
            stacks: StackArena::new(config.stack_size),
            counts: CachePadded::new(AtomicCounts::new()),
            done: Completions::new(),
            inline_runs: AtomicU64::new(0),
            capacity: AtomicUsize::new(capacity),
            shrinks: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            panicked: AtomicU64::new(0),
            config,
            queue: Queue::new(),
            mailboxes: hand_off.then(Mailboxes::new),
            callers: Gate::new(),
            waiters: Waiters::new(),
            sleepers: Sleepers::new(),
            handles: Mutex::new(Vec::new()),
            departed: AtomicUsize::new(0),
            next_thread: AtomicUsize::new(0),
            in_start_hook: AtomicUsize::new(0),
            started: Mutex::new(Starts::default()),
            all_started: Condvar::new(),
        }
    }

    fn cap(&self) -> u64 {
        self.capacity.load(Ordering::SeqCst) as u64
    }

    fn admit(&self) -> (Admission<'_>, Counts) {
        if let Some(lines) = &self.mailboxes {
            return self.admit_hand_off(lines);
        }
        let cap = self.cap();
        let queue_limit = self.config.queue_limit;
        let decided = self.counts.update(|c| {
            if c.closing() {
                return None;
            }
            let (pending, live) = (c.pending(self.done.read()), c.live());
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

    /// Hand-off mode's admission, under a gate pass: an idle worker's line,
    /// else a worker started (`live < cap`), else full. A claimed line is
    /// counted only after the claim: its worker cannot finish the task (and
    /// count it done) before `deliver`, so `pending` never falls below the
    /// truth.
    fn admit_hand_off<'a>(&'a self, lines: &'a Mailboxes) -> (Admission<'a>, Counts) {
        let c = self.counts.load();
        if c.closing() {
            return (Admission::Closed, c);
        }
        // The long scan only if a worker can be idle: completions read
        // first, `pending` is never below the truth, so `pending >= live`
        // means none is.
        let some_idle = || {
            let done = self.done.read();
            let c = self.counts.load();
            c.pending(done) < c.live()
        };
        if let Some(claim) = lines.claim(some_idle) {
            return (
                Admission::Deliver(claim),
                self.counts.add_task().with_task(),
            );
        }
        let cap = self.cap();
        let started = self.counts.update(|c| {
            (!c.closing() && c.live() < cap).then(|| (c.with_task().with_worker(), ()))
        });
        match started {
            Ok((before, ())) => (Admission::Spawn, before.with_task().with_worker()),
            Err(c) if c.closing() => (Admission::Closed, c),
            Err(c) => (Admission::Full, c),
        }
    }

    /// Schedules `job`. On success the job will run exactly once.
    ///
    /// The fast path serves an unbounded queue whose workers are all
    /// started, the steady state of a busy pool: admission there always
    /// queues, so it is one `fetch_add` of the pending count instead of a
    /// CAS, and it takes no gate pass (`gate.rs`). What keeps the pool alive
    /// meanwhile is the counted task itself: `shutdown` cannot finish while
    /// a task is pending, and the push that hands the task over is the
    /// path's last access to the pool (`accept`). Anything else (closing,
    /// workers gone since the hint, bounded queues, pools still starting
    /// workers) takes the gated path, which decides by CAS.
    pub(crate) fn submit(self: &Arc<Self>, job: Job, when_full: WhenFull) -> Result<(), Error> {
        if let Some(lines) = &self.mailboxes {
            // Hand-off mode's fast path: as above, the counted task keeps
            // the pool alive, until `deliver`'s last store. Counted before
            // the claim, it is never counted after its completion. A short
            // scan only: a busy large pool is left to the gated path, which
            // first checks that a worker can be idle.
            let before = self.counts.add_task();
            if !before.closing() {
                if let Some(claim) = lines.claim(|| false) {
                    claim.deliver(job);
                    return Ok(());
                }
                // A schedule that would wait anyway (a full pool: no
                // worker to start) spins a little (a few microseconds, no
                // yield) for a worker finishing its task: cheaper than
                // giving the count back and taking a gate pass (W3 in
                // BENCHMARKS.md). Meanwhile its task is counted though not
                // yet accepted, as on the queue's fast path.
                let waits = !matches!(when_full, WhenFull::Refuse) && before.live() >= self.cap();
                if waits {
                    let spin = Backoff::new();
                    for _ in 0..FAST_CLAIM_SPINS {
                        spin.spin();
                        if let Some(claim) = lines.claim(|| false) {
                            claim.deliver(job);
                            return Ok(());
                        }
                    }
                }
            }
            let _pass = self.callers.hold();
            self.withdraw_task();
            return self.submit_gated(job, when_full);
        }
        if let Some(cap) = self.fast_path_capacity() {
            let before = self.counts.add_task();
            if before.surely_queues(cap) {
                self.accept(job, before.with_task());
                return Ok(());
            }
            // Give the task back and take the gated path. `hold` comes
            // first, while the counted task still protects the pool; giving
            // it back may be what a `wait` caller waits for.
            let _pass = self.callers.hold();
            self.withdraw_task();
            return self.submit_gated(job, when_full);
        }
        let Some(_pass) = self.callers.enter() else {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Freed);
        };
        self.submit_gated(job, when_full)
    }

    /// The capacity, if admission would surely queue: unbounded queue,
    /// every worker started, not closing. A hint only: `submit` checks the
    /// counts its `fetch_add` returns against this capacity (a capacity
    /// changed meanwhile orders that admission before the change). (An
    /// unbounded queue cannot reach `MAX_PENDING`: memory runs out long
    /// before.)
    fn fast_path_capacity(&self) -> Option<u64> {
        if self.config.queue_limit != u64::MAX {
            return None;
        }
        let cap = self.cap();
        #[cfg(feature = "fault-injection")]
        if crate::fault::fast_path_hint_is_off() {
            return Some(cap);
        }
        let hint = self.counts.load();
        hint.surely_queues(cap).then_some(cap)
    }

    /// Gives back a task counted by a schedule that will not queue it, and
    /// tells waiters (a `wait` caller may have counted on it).
    fn withdraw_task(&self) {
        self.counts.withdraw_task();
        self.waiters.task_gone(|| self.drained());
    }

    /// Whether no accepted task is queued or running. Completions are read
    /// first: the estimate is never below the truth (`counts.rs`).
    fn drained(&self) -> bool {
        let done = self.done.read();
        self.counts.load().pending(done) == 0
    }

    fn submit_gated(self: &Arc<Self>, job: Job, when_full: WhenFull) -> Result<(), Error> {
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
            (Admission::Deliver(claim), _) => {
                claim.deliver(job);
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
    fn wait_for_room(&self, deadline: Option<Instant>) -> (Admission<'_>, Counts) {
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
            .sleep_until(Reason::Room, deadline, poll)
            .unwrap_or_else(|| (Admission::Full, self.counts.load()))
    }

    /// Puts an admitted job in the queue; `after` is the counts its
    /// admission produced.
    fn accept(&self, job: Job, after: Counts) {
        // Wake before the push: on the fast path the push must be the last
        // access to the pool (see `submit`). A sleeper woken early finds
        // the queue empty but, counting this task as pending, looks again
        // instead of sleeping (`sleep.rs`).
        if sleep::wake_needed(after, &self.done) {
            self.sleepers.wake_for_task(&self.counts, &self.done);
        }
        self.queue.push(job);
    }

    /// The next job for a worker, or `None` when the worker must leave (it
    /// is then already uncounted).
    pub(crate) fn next_job(&self) -> Option<Job> {
        loop {
            if let Some(job) = self.queue.pop() {
                return Some(job);
            }
            let backoff = Backoff::new();
            while !backoff.is_completed() {
                backoff.snooze();
                if let Some(job) = self.queue.pop() {
                    return Some(job);
                }
            }
            match self.sleepers.idle(
                &self.counts,
                &self.done,
                || self.cap(),
                self.config.idle_timeout,
            ) {
                Idle::Retry => continue,
                Idle::Exit => return None,
            }
        }
    }

    fn run_inline(&self, job: Job) {
        if let Outcome::Panicked = job.run(self.config.panic_handler.as_ref()) {
            self.panicked.fetch_add(1, Ordering::Relaxed);
        }
        self.inline_runs.fetch_add(1, Ordering::Relaxed);
    }

    /// Admission reserved a worker for this job: start it. If the OS refuses,
    /// the job still goes to the queue when a live worker exists and the
    /// queue has room; otherwise it is refused with `Spawn`.
    fn spawn_for(self: &Arc<Self>, job: Job, after: Counts) -> Result<(), Error> {
        if let Some(lines) = &self.mailboxes {
            return self.spawn_with_first_job(lines, job);
        }
        if worker::spawn(self, None).is_ok() {
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
        if kept {
            self.accept(job, before.without_worker());
            Ok(())
        } else {
            // Not counted in `rejected`, which the C contract defines as
            // NO_IDLE_WORKER + TIMEOUT + FREED.
            self.waiters.task_gone(|| self.drained());
            Err(Error::Spawn)
        }
    }

    /// Hand-off mode's `spawn_for`: the job goes to the new worker's line.
    /// If the OS refuses the thread, the job goes to an idle worker if one
    /// is there now; otherwise it is refused with `Spawn`.
    fn spawn_with_first_job(self: &Arc<Self>, lines: &Mailboxes, job: Job) -> Result<(), Error> {
        let job = match worker::spawn(self, Some(job)) {
            Ok(()) => return Ok(()),
            Err(job) => job.unwrap_or_else(|| unreachable!("a failed start gives its job back")),
        };
        self.counts.remove_worker();
        if let Some(claim) = lines.claim(|| true) {
            claim.deliver(job);
            return Ok(());
        }
        self.withdraw_task();
        Err(Error::Spawn)
    }

    /// What the worker numbered `number` carries from task to task.
    pub(crate) fn worker_slot(&self, number: usize) -> WorkerSlot {
        WorkerSlot {
            tally: self.done.claim(number),
            // Not a count ever reached: the first task checks, in case the
            // pool shrank between this worker's admission and its start.
            shrinks_seen: u64::MAX,
        }
    }

    /// A worker finished a task. Returns true when the worker should retire
    /// because the pool shrank below its live workers. Writes only the
    /// worker's completion shard; reads the counts only after a shrink.
    pub(crate) fn task_done(&self, outcome: Outcome, slot: &mut WorkerSlot) -> bool {
        self.count_panic(outcome);
        self.done.record(&slot.tally);
        self.waiters.task_gone(|| self.drained());
        self.retires_after_task(slot)
    }

    fn count_panic(&self, outcome: Outcome) {
        if let Outcome::Panicked = outcome {
            self.panicked.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// After a task: whether the worker leaves because the pool shrank
    /// below its live workers (then it is uncounted).
    fn retires_after_task(&self, slot: &mut WorkerSlot) -> bool {
        let shrinks = self.shrinks.load(Ordering::Acquire);
        if shrinks == slot.shrinks_seen {
            return false;
        }
        if self.counts.load().live() <= self.cap() {
            slot.shrinks_seen = shrinks;
            return false;
        }
        // Still too many workers: if this one cannot go yet, the next task
        // checks again.
        self.try_retire()
    }

    /// Hand-off mode's worker loop on its line `index` (`mailbox.rs`):
    /// returns when the worker leaves, uncounted, its line given back.
    pub(crate) fn serve_line(&self, index: usize, slot: &mut WorkerSlot) {
        let lines = self
            .mailboxes
            .as_ref()
            .unwrap_or_else(|| unreachable!("lines exist in hand-off mode"));
        let line = lines.line(index);
        let closing = || self.counts.load().closing();
        loop {
            match line.wait(closing, self.config.idle_timeout) {
                Wake::Job(job) => {
                    let outcome = job.run(self.config.panic_handler.as_ref());
                    if self.line_task_done(outcome, slot, line) {
                        break;
                    }
                }
                Wake::Retire if self.retire_idle() => break,
                Wake::Retire => {
                    // Idle again: a scheduler that found this line asked
                    // to retire may be asleep waiting for room.
                    line.reopen();
                    self.waiters.task_gone(|| self.drained());
                }
                Wake::Leave => {
                    // Line first, so that lines in use stay within `live`
                    // here; a retiring worker is uncounted by the CAS that
                    // decides, just before it gives its line back (which
                    // `mailbox.rs` counts in its chunks).
                    lines.give_back(index);
                    self.counts.remove_worker();
                    return;
                }
            }
        }
        lines.give_back(index);
    }

    /// `task_done` for hand-off mode. The line reopens before the task is
    /// counted done, so that a caller who saw it done (`pool_wait`) finds
    /// the worker idle; and only if the worker stays: once open it can be
    /// claimed.
    fn line_task_done(&self, outcome: Outcome, slot: &mut WorkerSlot, line: &Mailbox) -> bool {
        self.count_panic(outcome);
        let retires = self.retires_after_task(slot);
        if !retires {
            line.reopen();
        }
        self.done.record(&slot.tally);
        self.waiters.task_gone(|| self.drained());
        retires
    }

    /// An idle worker asked to retire by a shrink (`Wake::Retire`): leaves
    /// (uncounted) if the pool is still above capacity, or closing.
    fn retire_idle(&self) -> bool {
        let cap = self.cap();
        self.counts
            .update(|c| (c.live() > cap || c.closing()).then(|| (c.without_worker(), ())))
            .is_ok()
    }

    /// Leaves the pool if it has more live workers than capacity, unless a
    /// sleeper would then have to be woken for the pending tasks (the
    /// worker keeps working and retires later, from `idle`).
    fn try_retire(&self) -> bool {
        let cap = self.cap();
        self.counts
            .update(|c| {
                let covered = c.sleeping() == 0 || c.pending(self.done.read()) < c.awake();
                (c.live() > cap && covered).then(|| (c.without_worker(), ()))
            })
            .is_ok()
    }

    /// Hand-off mode's lines; `None` in queue modes.
    pub(crate) fn mailboxes(&self) -> Option<&Mailboxes> {
        self.mailboxes.as_ref()
    }

    /// A worker thread began to run: it is named, and has not run
    /// `on_start` yet.
    pub(crate) fn worker_started(&self) {
        let mut starts = self.started.lock().unwrap_or_else(|p| p.into_inner());
        starts.count += 1;
        // A notification is a system call: only for the waiting build.
        if starts.count == starts.awaited {
            self.all_started.notify_one();
        }
    }

    /// Waits until `workers` worker threads have begun to run. Not until
    /// their `on_start` hooks ran: a hook may wait for the thread that
    /// builds the pool (say, for a lock it holds, like Python's GIL).
    pub(crate) fn wait_started(&self, workers: usize) {
        let mut starts = self.started.lock().unwrap_or_else(|p| p.into_inner());
        starts.awaited = workers;
        starts = self
            .all_started
            .wait_while(starts, |starts| starts.count < workers)
            .unwrap_or_else(|p| p.into_inner());
        starts.awaited = 0;
    }

    /// A preallocated worker could not be started.
    pub(crate) fn uncount_worker(&self) {
        self.counts.remove_worker();
    }

    /// A worker was started outside admission (preallocation).
    pub(crate) fn count_worker(&self) {
        self.counts.add_worker();
    }

    pub(crate) fn register(&self, thread: Thread) {
        let freed_stacks = {
            let mut handles = self.handles.lock().unwrap_or_else(|p| p.into_inner());
            handles.push(thread);
            // Join threads that expired or retired, so a long-running pool
            // with idle expiry keeps a bounded list. Only when some left:
            // scanning on every spawn made starting n workers O(n^2).
            if self.departed.load(Ordering::Relaxed) == 0 {
                return;
            }
            let mut freed_stacks = Vec::new();
            let mut running = Vec::with_capacity(handles.len());
            for thread in handles.drain(..) {
                match thread.try_join() {
                    Ok(stack) => freed_stacks.push(stack),
                    Err(thread) => running.push(thread),
                }
            }
            *handles = running;
            // A worker counts itself as departed just before it returns, so
            // a few may not have exited yet: they are joined next time.
            self.departed
                .fetch_sub(freed_stacks.len(), Ordering::Relaxed);
            freed_stacks
        };
        // The pool lives on: the stacks' pages go back to the OS.
        for stack in freed_stacks {
            self.stacks.give_back(stack, true);
        }
    }

    /// A worker is about to return from its thread (expiry, retirement or
    /// shutdown); `register` joins it at the next spawn, `shutdown` in any
    /// case.
    pub(crate) fn worker_departed(&self, slot: WorkerSlot) {
        self.done.release(slot.tally);
        self.departed.fetch_add(1, Ordering::Relaxed);
    }

    /// Blocks until no accepted task is queued or running, or until the
    /// pool begins closing: then `Freed`, at once, even for a caller
    /// already waiting. Closing runs every accepted task anyway, and a
    /// waiter that the closing thread (or a task) depends on must not be
    /// held until the tasks are done.
    pub(crate) fn wait_idle(&self) -> Result<(), Error> {
        if worker::is_worker_of(self) {
            return Err(Error::Deadlock);
        }
        // `begin_close` sets the flag before it wakes the waiters (under
        // their lock), so a poll that missed the flag is followed by that
        // wake-up.
        let poll = || {
            if self.counts.load().closing() {
                Some(Err(Error::Freed))
            } else {
                self.drained().then_some(Ok(()))
            }
        };
        if let Some(result) = poll() {
            return result;
        }
        self.waiters
            .sleep_until(Reason::Drained, None, poll)
            .unwrap_or_else(|| unreachable!("no deadline"))
    }

    pub(crate) fn set_capacity(&self, capacity: usize) -> Result<(), Error> {
        if self.counts.load().closing() {
            return Err(Error::Freed);
        }
        let old = self.capacity.swap(capacity, Ordering::SeqCst);
        if capacity > old {
            self.waiters.wake_all();
        } else if capacity < old {
            // Busy workers retire after their task (`task_done` sees the
            // bump); wake as many sleepers as must go. A worker between
            // its last look for a task and its sleep reads the new
            // capacity when it decides, under the lock these claims take
            // (`Sleepers::idle`), and leaves by itself.
            self.shrinks.fetch_add(1, Ordering::Release);
            let excess = self.counts.load().live().saturating_sub(capacity as u64);
            self.sleepers.wake_to_retire(&self.counts, excess);
            self.wait_for_idle_to_retire();
        }
        Ok(())
    }

    /// After a shrink: returns once the pool is within its capacity or every
    /// worker above it is busy, so that `stats.workers` shows the idle ones
    /// gone when `set_capacity` returns ("retires idle workers at once").
    ///
    /// Why it ends: an awake worker without a task (`awake - pending`,
    /// claimed sleepers included) is looking for one or about to. With a
    /// queue, within its spin it reaches `Sleepers::idle`, which reads the
    /// capacity under the lock and, the pool being above it, uncounts the
    /// worker. In hand-off mode its line is idle, and each pass here asks
    /// such lines to retire (`Wake::Retire`, `retire_idle`). Each such exit
    /// lowers `live` and `awake`, until `live <= cap` or no awake worker is
    /// without a task. Concurrent schedules only raise `pending`, which ends
    /// the wait sooner (their workers are busy, and retire after the task).
    /// Two kinds of worker are not waited for: busy ones (API.md: "after
    /// their current task"), and those inside `on_start`, which may be
    /// waiting for the caller (a lock it holds); they retire when the hook
    /// returns. `pending` is an overestimate (`counts.rs`), which can only
    /// end the wait early. Once the pool is closing the wait ends too:
    /// every worker leaves anyway, and `shutdown` waits for this caller.
    fn wait_for_idle_to_retire(&self) {
        let backoff = Backoff::new();
        loop {
            if let Some(lines) = &self.mailboxes {
                // Hand-off mode has no sleepers to claim: ask idle lines,
                // again on each pass, for workers that became idle since.
                let excess = self.counts.load().live().saturating_sub(self.cap());
                lines.ask_to_retire(excess);
            }
            let idle_above = sleep::idle_above_capacity(
                &self.counts,
                &self.done,
                self.cap(),
                self.in_start_hook.load(Ordering::SeqCst) as u64,
            );
            if !idle_above {
                return;
            }
            backoff.snooze();
        }
    }

    /// Runs a worker's `on_start` hook (`run`), counted in `in_start_hook`
    /// meanwhile.
    pub(crate) fn counting_start_hook(&self, run: impl FnOnce()) {
        self.in_start_hook.fetch_add(1, Ordering::SeqCst);
        run();
        self.in_start_hook.fetch_sub(1, Ordering::SeqCst);
    }

    /// Stops admissions and wakes blocked schedulers, which return `Freed`.
    pub(crate) fn begin_close(&self) {
        self.counts.close();
        self.waiters.wake_all();
        self.sleepers.wake_all();
        if let Some(lines) = &self.mailboxes {
            lines.wake_for_closing();
        }
    }

    /// Closes, lets the workers run every accepted task, joins them, and
    /// waits for the last callers inside the gate.
    pub(crate) fn shutdown(&self) {
        self.begin_close();
        // A task admitted just before closing may start a worker while we
        // join: take the list again until it stays empty. Pending is read
        // first: a scheduler starts a worker only while its task is counted,
        // so once nothing is pending no handle can be added after the take.
        loop {
            let drained = self.drained();
            let handles =
                std::mem::take(&mut *self.handles.lock().unwrap_or_else(|p| p.into_inner()));
            if handles.is_empty() {
                if drained {
                    break;
                }
                // A fast-path schedule counted a task while closing began:
                // it gives it back within a few instructions.
                std::thread::yield_now();
                continue;
            }
            for thread in handles {
                thread.join(&self.stacks, false);
            }
        }
        // A fast-path schedule that gave its task back finishes under a
        // gate pass it took before (`submit`): wait for it, only now that
        // nothing is pending (the order `gate.rs` relies on).
        self.callers.close_and_wait();
    }

    pub(crate) fn stats(&self) -> crate::Stats {
        let done = self.done.read();
        let c = self.counts.load();
        let pending = c.pending(done);
        let inline = self.inline_runs.load(Ordering::Relaxed);
        let queued = (self.queue.len() as u64).min(pending);
        crate::Stats {
            capacity: self.cap() as usize,
            workers: c.live() as usize,
            busy: (pending - queued).min(c.awake()) as usize,
            queued: queued as usize,
            submitted: done.total() + pending + inline,
            completed: done.total() + inline,
            rejected: self.rejected.load(Ordering::Relaxed),
            panicked: self.panicked.load(Ordering::Relaxed),
        }
    }
}
