//! Hand-off mode's delivery and admission: one mailbox line per worker.
//!
//! With `queue_size 0` a task is accepted only when a worker is idle or can
//! be started. Counting completions to find an idle worker, then handing
//! the task over through a shared queue, costs two dependent cache-line
//! transfers per task (BENCHMARKS.md, "What limits W3"). Here an idle
//! worker's own line says so, and a scheduler's compare-exchange on that
//! line both finds the worker idle and claims it: one line per task.
//!
//! # States of a line
//!
//! ```text
//! VACANT  no worker, or one that is leaving: never claimed
//! OPEN    idle, spinning: claimable
//! PARKED  idle, asleep on the line's condvar: claimable
//! CLAIMED a scheduler won it and is writing the job
//! FULL    the job is there; stays FULL while the worker runs it
//! RETIRE  a shrink asks the idle worker to check whether it must leave
//! ```
//!
//! Who moves a line where: the thread starting a worker gives it its first
//! state (FULL with the job it was started for, or OPEN); a scheduler
//! OPEN|PARKED → CLAIMED → FULL (and `Shared::set_capacity` OPEN|PARKED →
//! RETIRE); its worker everything else. Every move out of OPEN or PARKED is a compare-exchange, so a
//! claim, a retire request, and the worker parking or leaving are ordered
//! by the line's own modification order. A worker leaves (expiry, closing,
//! retirement) only from a state that holds no task: a claimed line is
//! always run. So closing needs no drain step.
//!
//! # Sleeping without a lost wake-up
//!
//! A worker parks by taking the line's lock, moving OPEN → PARKED, checking
//! for closing, and waiting on the condvar (which releases the lock). A
//! claimer that moves PARKED → CLAIMED takes the lock before it notifies,
//! so it cannot notify between the worker's move and its wait. The closer
//! sets the closing flag, then takes each line's lock and notifies; the
//! worker reads the flag under that lock after its move: if it took the
//! lock after the closer, the lock orders the flag before its read; if
//! before, it is waiting (lock released) when the closer notifies.
//!
//! # Memory
//!
//! Lines live in chunks allocated as workers first need them. A worker
//! takes a line when it is started and gives it back when it leaves; lines
//! are reused lowest first, so scans stay within the lines the pool's
//! largest worker count needed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::mem::MaybeUninit;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::job::Job;
use crate::sync::{AtomicUsize, Condvar, Mutex, MutexGuard, Ordering, Spin, UnsafeCell};

const VACANT: usize = 0;
const OPEN: usize = 1;
const PARKED: usize = 2;
const CLAIMED: usize = 3;
const FULL: usize = 4;
const RETIRE: usize = 5;

/// Lines per chunk.
const CHUNK: usize = 64;
/// Lines a claim reads before it asks whether a longer scan is worth it.
const SHORT_SCAN: usize = 64;
/// Chunks: lines for the most live workers (the largest capacity), and as
/// many again for workers that a retirement has just uncounted and that
/// have not given their line back yet (`Shared::serve_line`).
const CHUNKS: usize = 2 * crate::builder::MAX_CAPACITY.div_ceil(CHUNK);

pub(crate) struct Mailbox {
    state: AtomicUsize,
    /// Written by the claimer between CLAIMED and FULL; read by the worker
    /// once it sees FULL.
    job: UnsafeCell<MaybeUninit<Job>>,
    lock: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is written only by the thread that moved the line to
// CLAIMED, and read only by the line's worker after it saw FULL (acquire),
// which that thread stored (release) after its write; the worker empties
// it before it stores OPEN (release), which the next claimer's
// compare-exchange reads (acquire). `Job` is `Send`.
unsafe impl Sync for Mailbox {}
// SAFETY: as above.
unsafe impl Send for Mailbox {}

/// What a worker waiting on its line gets.
pub(crate) enum Wake {
    /// A task.
    Job(Job),
    /// A shrink asks it to check whether it must leave (`Mailbox::reopen`
    /// if it stays).
    Retire,
    /// The pool is closing, or the worker's idle timeout ran out while
    /// nobody claimed it: the line is VACANT, the worker leaves.
    Leave,
}

/// A line this thread claimed: `deliver` hands the job over.
#[must_use = "a claimed line must be delivered: its worker waits for the job"]
pub(crate) struct Claim<'a> {
    line: &'a Mailbox,
    was_parked: bool,
}

impl Claim<'_> {
    /// Writes the job and marks the line FULL: the claimer's last access to
    /// the line, and to the pool. A parked worker is woken first (it then
    /// waits for FULL): after FULL the worker may run the task, and the
    /// pool may be freed.
    pub(crate) fn deliver(self, job: Job) {
        if self.was_parked {
            let _guard = self.line.guard();
            self.line.wake.notify_one();
        }
        // SAFETY: this thread moved the line to CLAIMED; nobody else
        // touches `job` until it stores FULL (type docs).
        self.line.job.with_mut(|slot| unsafe { (*slot).write(job) });
        self.line.state.store(FULL, Ordering::Release);
    }
}

impl Mailbox {
    fn new() -> Self {
        Mailbox {
            state: AtomicUsize::new(VACANT),
            job: UnsafeCell::new(MaybeUninit::uninit()),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    fn guard(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the line from idle (OPEN or PARKED) to `to`; returns the idle
    /// state it left, or `None` if the worker is not idle. A worker moving
    /// OPEN → PARKED meanwhile makes the exchange fail with the worker still
    /// idle: it is tried again, so an idle worker is never missed.
    fn leave_idle(&self, to: usize) -> Option<usize> {
        let mut seen = self.state.load(Ordering::Relaxed);
        loop {
            if seen != OPEN && seen != PARKED {
                return None;
            }
            match self
                .state
                .compare_exchange(seen, to, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return Some(seen),
                Err(actual) => seen = actual,
            }
        }
    }

    /// Claims the line if its worker is idle.
    pub(crate) fn claim(&self) -> Option<Claim<'_>> {
        let left = self.leave_idle(CLAIMED)?;
        Some(Claim {
            line: self,
            was_parked: left == PARKED,
        })
    }

    /// Asks an idle worker to check whether it must retire. Returns whether
    /// it was idle.
    fn ask_to_retire(&self) -> bool {
        let Some(left) = self.leave_idle(RETIRE) else {
            return false;
        };
        if left == PARKED {
            let _guard = self.guard();
            self.wake.notify_one();
        }
        true
    }

    /// Wakes the worker if it is parked: the pool is closing, and it reads
    /// the flag. Under the lock whatever the state: a worker that parks
    /// reads the flag under the same lock, after its move to PARKED, so it
    /// either sees the flag or is already waiting when this notifies.
    fn wake_for_closing(&self) {
        let _guard = self.guard();
        self.wake.notify_one();
    }

    /// The worker is idle again and can be claimed. Release: its use of the
    /// job slot is done before a claimer writes it.
    pub(crate) fn reopen(&self) {
        self.state.store(OPEN, Ordering::Release);
    }

    /// Takes the job a claimer delivered; the line stays FULL.
    fn take(&self) -> Job {
        // SAFETY: the caller saw FULL (acquire), stored after the write.
        self.job.with(|slot| unsafe { (*slot).assume_init_read() })
    }

    /// Called by the line's worker: spins, then parks, until a claimer
    /// delivers a job, a shrink asks it to retire, the pool closes
    /// (`closing`), or `idle_timeout` passes without a claim.
    pub(crate) fn wait(&self, closing: impl Fn() -> bool, idle_timeout: Option<Duration>) -> Wake {
        let spin = Spin::new();
        let claimer = Spin::new();
        loop {
            match self.state.load(Ordering::Acquire) {
                FULL => return Wake::Job(self.take()),
                RETIRE => return Wake::Retire,
                // The claimer is a few instructions from FULL; if it was
                // preempted there, yielding lets it run. Never parks.
                CLAIMED => claimer.wait(),
                _ if spin.before_blocking() => {}
                _ => {
                    if let Some(wake) = self.park(&closing, idle_timeout) {
                        return wake;
                    }
                    spin.reset();
                }
            }
        }
    }

    /// Parks until the state leaves PARKED; `None` to look again, or why
    /// the worker stops waiting.
    fn park(&self, closing: &impl Fn() -> bool, idle_timeout: Option<Duration>) -> Option<Wake> {
        let mut guard = self.guard();
        if self
            .state
            .compare_exchange(OPEN, PARKED, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        let deadline = idle_timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            // Under the lock, after the move to PARKED (module docs: the
            // closer sets the flag, then takes this lock to notify).
            let mut leave = closing();
            if !leave {
                let now = Instant::now();
                match deadline {
                    Some(deadline) if now >= deadline => leave = true,
                    Some(deadline) => {
                        guard = self
                            .wake
                            .wait_timeout(guard, deadline - now)
                            .unwrap_or_else(|p| p.into_inner())
                            .0;
                    }
                    None => guard = self.wake.wait(guard).unwrap_or_else(|p| p.into_inner()),
                }
            }
            if self.state.load(Ordering::SeqCst) != PARKED {
                return None;
            }
            if leave
                && self
                    .state
                    .compare_exchange(PARKED, VACANT, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                return Some(Wake::Leave);
            }
        }
    }
}

/// `CHUNK` lines, each on its own cache line.
type Chunk = Box<[CachePadded<Mailbox>]>;

/// Every line of one pool.
pub(crate) struct Mailboxes {
    chunks: Box<[OnceLock<Chunk>]>,
    /// Lines ever handed out (`0..in_use`): scans stop here. Grows under
    /// the `returned` lock, read without it.
    in_use: AtomicUsize,
    /// Lines given back, lowest first, so scans stay short.
    returned: Mutex<BinaryHeap<Reverse<usize>>>,
    /// Where the next scan starts: after the line last claimed.
    cursor: AtomicUsize,
}

impl Mailboxes {
    pub(crate) fn new() -> Self {
        Mailboxes {
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
            in_use: AtomicUsize::new(0),
            returned: Mutex::new(BinaryHeap::new()),
            cursor: AtomicUsize::new(0),
        }
    }

    /// Line `index`, which has been handed out.
    pub(crate) fn line(&self, index: usize) -> &Mailbox {
        self.made(index).expect("a line handed out has its chunk")
    }

    /// Line `index` if its chunk is made (a scanner can see a new line
    /// before its chunk is).
    fn made(&self, index: usize) -> Option<&Mailbox> {
        let chunk = self.chunks[index / CHUNK].get()?;
        Some(&chunk[index % CHUNK])
    }

    /// A line for a worker being started: FULL with `first`, its first
    /// job, or OPEN, claimable at once (its worker runs a job claimed
    /// meanwhile once it has started). `None` if every line is taken.
    pub(crate) fn take(&self, first: Option<Job>) -> Result<usize, Option<Job>> {
        let index = {
            let mut returned = self.returned.lock().unwrap_or_else(|p| p.into_inner());
            match returned.pop() {
                Some(Reverse(index)) => index,
                None => {
                    let fresh = self.in_use.load(Ordering::Relaxed);
                    if fresh == CHUNKS * CHUNK {
                        return Err(first);
                    }
                    // Scanners may see the new line before its chunk
                    // exists: they skip a chunk not yet made.
                    self.in_use.store(fresh + 1, Ordering::Release);
                    fresh
                }
            }
        };
        self.chunks[index / CHUNK].get_or_init(|| {
            (0..CHUNK)
                .map(|_| CachePadded::new(Mailbox::new()))
                .collect()
        });
        let line = self.line(index);
        match first {
            Some(job) => {
                // SAFETY: the line is VACANT and not yet handed to a worker:
                // no claimer or worker touches it.
                line.job.with_mut(|slot| unsafe { (*slot).write(job) });
                line.state.store(FULL, Ordering::Release);
            }
            None => line.state.store(OPEN, Ordering::Release),
        }
        Ok(index)
    }

    /// Gives a line back when its worker leaves. The worker holds no job:
    /// it ran the last one it took.
    pub(crate) fn give_back(&self, index: usize) {
        self.line(index).state.store(VACANT, Ordering::Release);
        let mut returned = self.returned.lock().unwrap_or_else(|p| p.into_inner());
        returned.push(Reverse(index));
    }

    /// Gives back the line of a worker that could not be started, with the
    /// first job `take` put there, if any. An unstarted line is OPEN only
    /// while a pool is being built (preallocation), before anybody can
    /// schedule on it: so nobody can have claimed it.
    pub(crate) fn give_back_unstarted(&self, index: usize) -> Option<Job> {
        let line = self.line(index);
        let job = (line.state.load(Ordering::Acquire) == FULL).then(|| line.take());
        self.give_back(index);
        job
    }

    /// Every line handed out so far.
    fn lines(&self) -> impl Iterator<Item = &Mailbox> {
        let in_use = self.in_use.load(Ordering::Acquire);
        (0..in_use).filter_map(|index| self.made(index))
    }

    /// Claims an idle worker's line, scanning from after the last claim:
    /// the first `SHORT_SCAN` lines in use, then the rest only if
    /// `worth_it` says an idle worker may be among them (so that a schedule
    /// on a full pool of 10,000 busy workers does not read 10,000 lines).
    pub(crate) fn claim(&self, worth_it: impl FnOnce() -> bool) -> Option<Claim<'_>> {
        let in_use = self.in_use.load(Ordering::Acquire);
        let start = self.cursor.load(Ordering::Relaxed);
        let short = in_use.min(SHORT_SCAN);
        let found = self.claim_among(start, 0..short, in_use);
        if found.is_some() || short == in_use || !worth_it() {
            return found;
        }
        self.claim_among(start, short..in_use, in_use)
    }

    /// Claims among the lines `start + step` (modulo `in_use`) for `steps`.
    fn claim_among(
        &self,
        start: usize,
        steps: std::ops::Range<usize>,
        in_use: usize,
    ) -> Option<Claim<'_>> {
        for step in steps {
            let index = (start + step) % in_use;
            if let Some(claim) = self.made(index).and_then(Mailbox::claim) {
                // A hint: written only when it moves, so that a scheduler
                // claiming the same line again does not write it.
                if self.cursor.load(Ordering::Relaxed) != index + 1 {
                    self.cursor.store(index + 1, Ordering::Relaxed);
                }
                return Some(claim);
            }
        }
        None
    }

    /// Asks up to `n` idle workers to check whether they must retire.
    pub(crate) fn ask_to_retire(&self, n: u64) {
        let mut asked = 0;
        for line in self.lines() {
            if asked == n {
                break;
            }
            if line.ask_to_retire() {
                asked += 1;
            }
        }
    }

    /// Wakes every parked worker: the pool is closing.
    pub(crate) fn wake_for_closing(&self) {
        for line in self.lines() {
            line.wake_for_closing();
        }
    }
}

/// Model checks of a line: `RUSTFLAGS="--cfg loom" cargo test --release
/// --lib loom`. The worker loop stands in for `Shared::serve_line`; the
/// closing flag for the counts' (set by a `SeqCst` read-modify-write, then
/// the parked line woken, as `Shared::begin_close` does).
#[cfg(all(test, loom))]
mod loom_models {
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicBool;

    use super::{Mailbox, Wake};
    use crate::job::Job;
    use crate::sync::{AtomicUsize, Ordering, loom_model};

    /// An idle line whose worker runs until it leaves (a retire request
    /// makes it leave, as when the pool is still above capacity), the flag
    /// that closes it, and the count of jobs run.
    struct IdleLine {
        line: Arc<Mailbox>,
        closing: Arc<AtomicBool>,
        ran: Arc<AtomicUsize>,
        worker: loom::thread::JoinHandle<()>,
    }

    impl IdleLine {
        fn start() -> IdleLine {
            let line = Arc::new(Mailbox::new());
            line.reopen();
            let closing = Arc::new(AtomicBool::new(false));
            let worker = {
                let (line, closing) = (Arc::clone(&line), Arc::clone(&closing));
                loom::thread::spawn(move || {
                    loop {
                        match line.wait(|| closing.load(Ordering::SeqCst), None) {
                            Wake::Job(job) => {
                                job.run(None);
                                line.reopen();
                            }
                            Wake::Retire | Wake::Leave => return,
                        }
                    }
                })
            };
            let ran = Arc::new(AtomicUsize::new(0));
            IdleLine {
                line,
                closing,
                ran,
                worker,
            }
        }

        /// Claims the line and delivers a job that counts its run.
        fn schedule(&self) -> bool {
            let Some(claim) = self.line.claim() else {
                return false;
            };
            let ran = Arc::clone(&self.ran);
            claim.deliver(Job::closure(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            }));
            true
        }

        /// Closes as `Shared::begin_close` does, joins the worker, and
        /// returns how many jobs ran.
        fn close_and_join(self) -> usize {
            self.closing.store(true, Ordering::SeqCst);
            self.line.wake_for_closing();
            self.worker.join().unwrap();
            self.ran.load(Ordering::SeqCst)
        }
    }

    /// A claim races with the worker parking; then the pool closes while
    /// the worker may be parked: the job runs once and the worker leaves.
    #[test]
    fn loom_claimed_job_runs_and_closing_wakes_the_parked_worker() {
        loom_model().check(|| {
            let idle = IdleLine::start();
            assert!(idle.schedule(), "the only worker is idle");
            assert_eq!(idle.close_and_join(), 1);
        });
    }

    /// A retire request races with a claim on an idle worker. A retire
    /// that wins first takes the worker (the claim then fails); a claim
    /// that wins first gets its job run (the retire may win after it, once
    /// the worker is idle again). Never neither; the worker leaves.
    #[test]
    fn loom_retire_and_claim_exclude_each_other() {
        loom_model().check(|| {
            let idle = IdleLine::start();
            let shrink = {
                let line = Arc::clone(&idle.line);
                loom::thread::spawn(move || line.ask_to_retire())
            };
            let delivered = idle.schedule();
            let retired = shrink.join().unwrap();
            assert!(delivered || retired, "the idle worker went to neither");
            assert_eq!(idle.close_and_join(), usize::from(delivered));
        });
    }
}
