//! Hand-off mode's delivery and admission: one mailbox line per worker.
//!
//! With `queue_size 0` a task is accepted only when a worker is idle or can
//! be started. Counting completions to find an idle worker, then handing
//! the task over through a shared queue, costs two dependent cache-line
//! transfers per task (BENCHMARKS.md, "What limits W3"). Here an idle
//! worker's own line says so, and a scheduler's compare-exchange on that
//! line both finds the worker idle and claims it: one line per task.
//!
//! Every worker has a line, in every mode (`seats.rs`): in queue modes only
//! its `mark` is used, by the exact wait (`wait.rs`).
//!
//! # States of a line
//!
//! ```text
//! VACANT  no worker, one still in its on_start hook, or one leaving:
//!         never claimed
//! OPEN    idle, spinning: claimable
//! PARKED  idle, asleep on the line's condvar: claimable
//! CLAIMED a scheduler won it and is writing the job
//! FULL    the job is there; stays FULL while the worker runs it
//! RETIRE  a shrink asks the idle worker to check whether it must leave
//! ```
//!
//! Who moves a line where: the thread starting a worker gives it its first
//! state (FULL with the job it was started for, or VACANT); the worker opens
//! a VACANT line once its `on_start` hook returned (at once without one), so
//! that no task waits behind a hook while another worker is idle. A scheduler moves OPEN|PARKED → CLAIMED →
//! FULL (and a shrink OPEN|PARKED → RETIRE); its worker everything else.
//! Every move out of OPEN or PARKED is a compare-exchange, so a claim, a
//! retire request, and the worker parking or leaving are ordered by the
//! line's own modification order. A worker leaves (expiry, closing,
//! retirement) only from a state that holds no task: a claimed line is
//! always run. So closing needs no drain step.
//!
//! # Leaving without a spurious refusal
//!
//! A line that stops being claimable (RETIRE, or VACANT for a worker
//! expiring) belongs to a worker the counts still call live. A scheduler
//! that found no idle line and `live == capacity` in that moment would be
//! refused (or sleep) although the pool is about to have room. So whoever
//! makes an idle line unclaimable first raises `in_transit` (`seats.rs`),
//! and lowers it only once the worker is uncounted or its line is open
//! again; a scheduler that would be refused while `in_transit > 0` waits
//! for it (a few instructions) and decides again.
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

use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use crate::job::Job;
use crate::sync::{AtomicU64, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering, Spin, UnsafeCell};

const VACANT: usize = 0;
const OPEN: usize = 1;
const PARKED: usize = 2;
const CLAIMED: usize = 3;
const FULL: usize = 4;
const RETIRE: usize = 5;

/// A line's `mark` when its worker holds no task.
pub(crate) const NO_MARK: u64 = u64::MAX;

pub(crate) struct Mailbox {
    state: AtomicUsize,
    /// Written by the claimer between CLAIMED and FULL; read by the worker
    /// once it sees FULL.
    job: UnsafeCell<MaybeUninit<Job>>,
    /// Which task the worker holds, for the exact wait (`wait.rs`):
    /// `NO_MARK`, or the task's position in the queue (queue modes), or
    /// the wait epoch its claimer read (hand-off mode).
    pub(crate) mark: AtomicU64,
    /// Tasks claimers delivered on this line so far (`stats.submitted`).
    /// Written only by the thread holding the line CLAIMED, with a plain
    /// load and store: the claim's acquire orders it after the last
    /// claimer's store.
    delivered: AtomicU64,
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
    /// The pool's wait epoch (`seats.rs`), read once the line is won.
    epoch: &'a AtomicU64,
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
        // SeqCst: ordered against a waiter's epoch bump (`wait.rs`): read
        // before it, this task is one the waiter waits for. Release: a
        // waiter that reads this mark also sees the line's previous task
        // counted done (`Shared::task_done`).
        let mark = self.epoch.load(Ordering::SeqCst);
        self.line.mark.store(mark, Ordering::Release);
        let delivered = self.line.delivered.load(Ordering::Relaxed);
        self.line.delivered.store(delivered + 1, Ordering::Relaxed);
        self.line.state.store(FULL, Ordering::Release);
    }
}

impl Mailbox {
    pub(crate) fn new() -> Self {
        Mailbox {
            state: AtomicUsize::new(VACANT),
            job: UnsafeCell::new(MaybeUninit::uninit()),
            mark: AtomicU64::new(NO_MARK),
            delivered: AtomicU64::new(0),
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

    /// Claims the line if its worker is idle; `epoch` is the pool's wait
    /// epoch, which the delivery records as the task's mark.
    pub(crate) fn claim<'a>(&'a self, epoch: &'a AtomicU64) -> Option<Claim<'a>> {
        let left = self.leave_idle(CLAIMED)?;
        Some(Claim {
            line: self,
            was_parked: left == PARKED,
            epoch,
        })
    }

    /// Asks an idle worker to check whether it must retire, counting the
    /// request in `in_transit` (module docs) first: the worker lowers it
    /// once it decided. Returns whether it was idle.
    pub(crate) fn ask_to_retire(&self, in_transit: &AtomicUsize) -> bool {
        in_transit.fetch_add(1, Ordering::SeqCst);
        let Some(left) = self.leave_idle(RETIRE) else {
            in_transit.fetch_sub(1, Ordering::SeqCst);
            return false;
        };
        if left == PARKED {
            let _guard = self.guard();
            self.wake.notify_one();
        }
        true
    }

    /// Puts the first job of a worker being started on its VACANT line,
    /// which no claimer or worker touches yet; `mark` as for a claim.
    pub(crate) fn put_first(&self, job: Job, mark: u64) {
        // SAFETY: the line is VACANT and not yet handed to a worker: no
        // claimer or worker touches it.
        self.job.with_mut(|slot| unsafe { (*slot).write(job) });
        self.mark.store(mark, Ordering::Relaxed);
        self.state.store(FULL, Ordering::Release);
    }

    /// The job `put_first` left on the line of a worker that could not be
    /// started, if any.
    pub(crate) fn take_unstarted(&self) -> Option<Job> {
        let job = (self.state.load(Ordering::Acquire) == FULL).then(|| self.take());
        self.mark.store(NO_MARK, Ordering::Relaxed);
        job
    }

    /// The worker finished its `on_start` hook: a VACANT line opens (a
    /// FULL one keeps the job it was started for). SeqCst: ordered before
    /// the worker's next look at the shrink count (`hand_off.rs`).
    /// Opens only a VACANT line (a compare-exchange: the thread that started
    /// the worker may open it too, and a claimer may already have won it).
    pub(crate) fn open_after_start(&self) {
        let _ = self
            .state
            .compare_exchange(VACANT, OPEN, Ordering::SeqCst, Ordering::Relaxed);
    }

    /// Tasks delivered on this line so far. A reader that saw a task of
    /// the line counted done (acquire) sees its delivery counted: the
    /// worker read FULL, stored after the count.
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// The mark of the task this seat's worker holds (read by that worker).
    pub(crate) fn held_mark(&self) -> u64 {
        self.mark.load(Ordering::Relaxed)
    }

    /// The seat's worker holds no task now (queue modes: only it writes its
    /// mark). Release: the worker's count of the task comes before.
    pub(crate) fn clear_mark(&self) {
        self.mark.store(NO_MARK, Ordering::Release);
    }

    /// Hand-off mode: the seat's worker no longer holds the task marked
    /// `mark`: the seat shows no task, unless a claim already gave it the
    /// next task's mark (once the line reopened). Release, as above.
    pub(crate) fn clear_mark_if(&self, mark: u64) {
        let _ = self
            .mark
            .compare_exchange(mark, NO_MARK, Ordering::Release, Ordering::Relaxed);
    }

    /// The line's worker left: no claimer can touch it any more.
    pub(crate) fn vacate(&self) {
        self.state.store(VACANT, Ordering::Release);
    }

    /// Wakes the worker if it is parked: the pool is closing, and it reads
    /// the flag. Under the lock whatever the state: a worker that parks
    /// reads the flag under the same lock, after its move to PARKED, so it
    /// either sees the flag or is already waiting when this notifies.
    pub(crate) fn wake_for_closing(&self) {
        let _guard = self.guard();
        self.wake.notify_one();
    }

    /// The worker is idle again and can be claimed. Its use of the job slot
    /// is done before a claimer writes it (release); SeqCst, because the
    /// worker reads the shrink count next (`hand_off.rs`).
    pub(crate) fn reopen(&self) {
        self.state.store(OPEN, Ordering::SeqCst);
    }

    /// Takes the job a claimer delivered; the line stays FULL.
    fn take(&self) -> Job {
        // SAFETY: the caller saw FULL (acquire), stored after the write.
        self.job.with(|slot| unsafe { (*slot).assume_init_read() })
    }

    /// Called by the line's worker: spins, then parks, until a claimer
    /// delivers a job, a shrink asks it to retire, the pool closes
    /// (`closing`), or `idle_timeout` passes without a claim. On
    /// `Wake::Leave` the line is VACANT and `in_transit` counts the worker
    /// until it is uncounted (module docs).
    pub(crate) fn wait(
        &self,
        closing: impl Fn() -> bool,
        idle_timeout: Option<Duration>,
        in_transit: &AtomicUsize,
    ) -> Wake {
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
                    if let Some(wake) = self.park(&closing, idle_timeout, in_transit) {
                        return wake;
                    }
                    spin.reset();
                }
            }
        }
    }

    /// Parks until the state leaves PARKED; `None` to look again, or why
    /// the worker stops waiting.
    fn park(
        &self,
        closing: &impl Fn() -> bool,
        idle_timeout: Option<Duration>,
        in_transit: &AtomicUsize,
    ) -> Option<Wake> {
        let mut guard = self.guard();
        if self
            .state
            .compare_exchange(OPEN, PARKED, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        #[cfg(feature = "fault-injection")]
        crate::fault::count_sleep();
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
            if leave {
                // Counted before the line stops being claimable.
                in_transit.fetch_add(1, Ordering::SeqCst);
                if self
                    .state
                    .compare_exchange(PARKED, VACANT, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
                {
                    return Some(Wake::Leave);
                }
                in_transit.fetch_sub(1, Ordering::SeqCst);
            }
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
    use crate::sync::{AtomicU64, AtomicUsize, Ordering, loom_model};

    /// An idle line whose worker runs until it leaves (a retire request
    /// makes it leave, as when the pool is still above capacity), the flag
    /// that closes it, and the count of jobs run.
    struct IdleLine {
        line: Arc<Mailbox>,
        epoch: AtomicU64,
        in_transit: Arc<AtomicUsize>,
        closing: Arc<AtomicBool>,
        ran: Arc<AtomicUsize>,
        worker: loom::thread::JoinHandle<()>,
    }

    impl IdleLine {
        fn start() -> IdleLine {
            let line = Arc::new(Mailbox::new());
            line.reopen();
            let closing = Arc::new(AtomicBool::new(false));
            let in_transit = Arc::new(AtomicUsize::new(0));
            let worker = {
                let (line, closing) = (Arc::clone(&line), Arc::clone(&closing));
                let in_transit = Arc::clone(&in_transit);
                loom::thread::spawn(move || {
                    loop {
                        let closing = || closing.load(Ordering::SeqCst);
                        match line.wait(closing, None, &in_transit) {
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
                epoch: AtomicU64::new(0),
                in_transit,
                closing,
                ran,
                worker,
            }
        }

        /// Claims the line and delivers a job that counts its run.
        fn schedule(&self) -> bool {
            let Some(claim) = self.line.claim(&self.epoch) else {
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
                let (line, in_transit) = (Arc::clone(&idle.line), Arc::clone(&idle.in_transit));
                loom::thread::spawn(move || line.ask_to_retire(&in_transit))
            };
            let delivered = idle.schedule();
            let retired = shrink.join().unwrap();
            assert!(delivered || retired, "the idle worker went to neither");
            assert_eq!(idle.close_and_join(), usize::from(delivered));
        });
    }
}
