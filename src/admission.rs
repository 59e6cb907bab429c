//! The schedule calls: admission over the pool's delivery, waiting for
//! room, inline runs, and starting a worker for a task.
//!
//! # The fast paths
//!
//! With an unbounded queue and every worker started, rule 3 of admission
//! (`shared.rs`) always accepts: the schedule is one `fetch_add` on the
//! counts and the push. In hand-off mode it is the `fetch_add` and a claim
//! of an idle line. Workers do not write the counts per task: they count
//! what they finish in `completions.rs`, and `pending` is derived. Measured
//! on two cores, each atomic read-modify-write on the scheduling thread
//! costs about as much as the whole push, and a line written by both the
//! scheduler and the workers once per task costs more than that: so the
//! path has one read-modify-write of its own, on a line only schedulers
//! write.
//!
//! What keeps the pool alive meanwhile is the counted task itself:
//! `shutdown` cannot finish while a task is pending, and the push (or the
//! delivery) that hands the task over is the path's last access to the
//! pool. So the fast path works on a raw pointer to the pool, not a
//! reference that would claim the pool lives for the whole call, and makes
//! the hand-over outside any method of `Shared`, on the queue or the
//! claimed line, both made only of interior mutability (the exception of
//! rust-lang/rust#98017, as `Arc`'s count). The gated paths hold a pass of
//! the callers' gate (`gate.rs`) until they return: `pool_free` waits for
//! it before the pool can go.

use std::time::Instant;

use crossbeam_utils::Backoff;

use crate::counts::{Counts, MAX_PENDING};
use crate::job::{Job, Outcome};
use crate::mailbox::Claim;
use crate::shared::{Delivery, Shared};
use crate::sync::Spin;
use crate::waiters::Reason;
use crate::{Error, current, worker};

/// Hand-off mode: how many spins (crossbeam's `Backoff::spin`, 1 to 64
/// pause instructions each) a schedule that may wait makes for an idle
/// worker before it takes the gated path. None under loom: a retry of the
/// same claim adds no interleaving the gated path lacks (it claims again),
/// only branches to the models.
const FAST_CLAIM_SPINS: usize = if cfg!(loom) { 0 } else { 7 };

/// How a scheduler behaves when the pool is full.
#[derive(Clone, Copy)]
pub(crate) enum WhenFull {
    /// Fail with `NoIdleWorker`.
    Refuse,
    /// A timeout of zero: fail with `Timeout` at once, as cheaply as
    /// `Refuse`.
    Expired,
    /// Wait until the deadline (for ever when `None`), then fail with
    /// `Timeout`.
    Wait { deadline: Option<Instant> },
    /// The blocking `schedule`: wait for ever, except on a worker of this
    /// pool, which runs the new task inline instead of waiting (up to
    /// `current::MAX_INLINE_DEPTH` levels, then `Deadlock`).
    WaitOrInline,
}

impl WhenFull {
    /// Whether a full pool makes this scheduler run the task inline: the
    /// blocking schedule on a worker of this pool, where waiting could
    /// deadlock it (every worker may be a task waiting for room).
    fn runs_inline(self, shared: &Shared) -> bool {
        matches!(self, WhenFull::WaitOrInline) && current::is_worker_of(shared)
    }

    /// Whether a full pool makes this scheduler wait for room.
    fn waits(self, shared: &Shared) -> bool {
        match self {
            WhenFull::Wait { .. } => true,
            WhenFull::WaitOrInline => !self.runs_inline(shared),
            WhenFull::Refuse | WhenFull::Expired => false,
        }
    }
}

/// What hand-off admission does when it finds no idle line and no room
/// to start a worker while an idle line is in transit (`mailbox.rs`).
#[derive(Clone, Copy)]
enum InTransit {
    /// Waits for the transit to end, then decides again.
    Wait,
    /// Calls the pool full (the caller sleeps until woken).
    Full,
}

/// The result of one admission attempt.
pub(crate) enum Admission<'a> {
    /// Counted as pending; goes into the queue.
    Queue,
    /// Hand-off mode: counted as pending; an idle worker's line is claimed
    /// for it.
    Deliver(Claim<'a>),
    /// Counted as pending and as a live worker (and as starting); a thread
    /// must be started.
    Spawn,
    Full,
    Closed,
}

impl Shared {
    /// What the blocking schedule does on a full pool, by the block option.
    pub(crate) fn blocking_policy(&self) -> WhenFull {
        if self.config.block {
            WhenFull::WaitOrInline
        } else {
            WhenFull::Refuse
        }
    }

    /// Schedules `job` on the pool at `this`. On success the job will run
    /// exactly once.
    ///
    /// # Safety
    /// `this` points to a live `Shared`, kept alive until this call returns
    /// unless the call hands a counted task over (the module docs): then
    /// only until that hand-over.
    #[inline(always)]
    pub(crate) unsafe fn submit(
        this: *const Shared,
        job: Job,
        when_full: WhenFull,
    ) -> Result<(), Error> {
        // SAFETY: live per the contract until the hand-over, which is each
        // branch's last use of `shared`.
        let shared = unsafe { &*this };
        // Each mode's fast path is inlined into the callers; what follows
        // when it fails is out of line.
        match &shared.delivery {
            Delivery::HandOff => {
                // Counted before the claim, the task is never counted after
                // its completion.
                let before = shared.counts.add_task();
                // Paused: full (`pause.rs`); closing: refused.
                if before.open()
                    && let Some(claim) = shared.seats.claim(|| false)
                {
                    claim.deliver(job);
                    return Ok(());
                }
                // SAFETY: the counted task keeps the pool alive.
                unsafe { Shared::submit_unclaimed(this, job, when_full, before) }
            }
            Delivery::Queue { .. } => {
                let Some(cap) = shared.fast_path_capacity() else {
                    // SAFETY: per this function's contract.
                    return unsafe { Shared::submit_queue_gated(this, job, when_full) };
                };
                let before = shared.counts.add_task();
                if !before.surely_queues(cap) {
                    // SAFETY: the counted task keeps the pool alive.
                    return unsafe { Shared::submit_uncounted(this, job, when_full) };
                }
                // The hand-over, on the queue itself: once the job is in, a
                // worker may run it and `pool_free` may free the pool, so no
                // `&Shared` argument of a method may still be live
                // (`&Queue` is all interior mutability, as `Arc`'s counts:
                // such a reference may outlive its memory, rust#98017).
                let queue = shared.wake_before_push(before.with_task());
                #[cfg(feature = "fault-injection")]
                crate::fault::pause_if_asked(crate::fault::Window::BeforePush);
                queue.push(job);
                Ok(())
            }
        }
    }

    /// Hand-off mode: the fast claim found no idle line for the task
    /// counted in `before`. A schedule that would wait anyway (a full pool:
    /// no worker to start) spins a little (a few microseconds, no yield)
    /// for a worker finishing its task: cheaper than giving the count back
    /// and taking a gate pass (W3 in BENCHMARKS.md). Not on a worker of
    /// this pool, which runs the task inline instead of waiting: the spin
    /// only delayed that (3.2 us a schedule). Then the gated path.
    ///
    /// # Safety
    /// `this` points to a live `Shared` with that task counted.
    #[inline(never)]
    unsafe fn submit_unclaimed(
        this: *const Shared,
        job: Job,
        when_full: WhenFull,
        before: Counts,
    ) -> Result<(), Error> {
        // SAFETY: the counted task keeps it alive until a hand-over or the
        // pass is held.
        let shared = unsafe { &*this };
        if before.open() && before.live() >= shared.cap() && when_full.waits(shared) {
            let spin = Backoff::new();
            for _ in 0..FAST_CLAIM_SPINS {
                spin.spin();
                if let Some(claim) = shared.seats.claim(|| false) {
                    claim.deliver(job);
                    return Ok(());
                }
            }
        }
        // SAFETY: as above.
        unsafe { Shared::submit_uncounted(this, job, when_full) }
    }

    /// A fast path counted a task that admission must decide after all:
    /// gives it back and takes the gated path. `hold` comes first, while
    /// the counted task still protects the pool; giving it back may be
    /// what a `wait` caller waits for.
    ///
    /// # Safety
    /// `this` points to a live `Shared` with that task counted.
    #[inline(never)]
    unsafe fn submit_uncounted(
        this: *const Shared,
        job: Job,
        when_full: WhenFull,
    ) -> Result<(), Error> {
        // SAFETY: the counted task keeps it alive until the pass is held.
        let shared = unsafe { &*this };
        let _pass = shared.callers.hold();
        #[cfg(feature = "fault-injection")]
        crate::fault::pause_if_asked(crate::fault::Window::Withdraw);
        shared.withdraw_task();
        shared.submit_gated(job, when_full)
    }

    /// Queue modes off the fast path (a bounded queue, workers still to
    /// start, closing): under a gate pass.
    ///
    /// # Safety
    /// As `submit`.
    #[inline(never)]
    unsafe fn submit_queue_gated(
        this: *const Shared,
        job: Job,
        when_full: WhenFull,
    ) -> Result<(), Error> {
        // SAFETY: per the contract; the pass keeps it alive from here on.
        let shared = unsafe { &*this };
        let Some(_pass) = shared.callers.enter() else {
            shared.count_rejection();
            return Err(Error::Freed);
        };
        shared.submit_gated(job, when_full)
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

    /// Gives back a task counted by a schedule that will not hand it over,
    /// and tells waiters.
    pub(crate) fn withdraw_task(&self) {
        self.counts.withdraw_task();
        self.waiters.task_withdrawn();
    }

    fn submit_gated(&self, job: Job, when_full: WhenFull) -> Result<(), Error> {
        let admitted = match self.admit() {
            (Admission::Full, counts) => match when_full {
                WhenFull::Refuse | WhenFull::Expired => (Admission::Full, counts),
                when_full if when_full.runs_inline(self) => return self.run_inline(job),
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
                self.count_rejection();
                Err(if matches!(when_full, WhenFull::Refuse) {
                    Error::NoIdleWorker
                } else {
                    Error::Timeout
                })
            }
            (Admission::Closed, _) => {
                self.count_rejection();
                Err(Error::Freed)
            }
        }
    }

    /// One admission decision of the pool's delivery, under a gate pass.
    /// A decision to start a worker counts it as starting (`sleep.rs`)
    /// right after the decision: counting every decision that might start
    /// one beforehand made `starting` high whenever schedulers crowd a pool
    /// below capacity, and idle workers then looked again instead of
    /// sleeping or expiring. In the few instructions between, the new
    /// worker counts as ready; it is live and looks for tasks once started,
    /// so nothing is stranded.
    pub(crate) fn admit(&self) -> (Admission<'_>, Counts) {
        self.admit_with(InTransit::Wait)
    }

    /// `admit`, saying what to do while an idle line is in transit.
    fn admit_with(&self, in_transit: InTransit) -> (Admission<'_>, Counts) {
        let decided = match &self.delivery {
            Delivery::Queue { .. } => self.admit_queued(),
            Delivery::HandOff => self.admit_hand_off(in_transit),
        };
        if matches!(decided.0, Admission::Spawn) {
            self.count_starting();
        }
        decided
    }

    /// Queue modes' admission: the rules of `shared.rs` in one CAS.
    fn admit_queued(&self) -> (Admission<'_>, Counts) {
        let cap = self.cap();
        let queue_limit = self.config.queue_limit;
        let decided = self.counts.update(|c| {
            if c.closing() {
                return None;
            }
            let (pending, live) = (c.pending(self.done.read()), c.live());
            if c.paused() {
                // Only the queue's room: no worker takes a task meanwhile
                // (tasks still running count against it until they end).
                return (pending < queue_limit && pending < MAX_PENDING)
                    .then(|| (c.with_task(), Admission::Queue));
            }
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

    /// Hand-off mode's admission: an idle worker's line, else a worker
    /// started (`live < cap`), else full. A claimed line is counted only
    /// after the claim: its worker cannot finish the task (and count it
    /// done) before `deliver`, so `pending` never falls below the truth.
    /// While an idle line is in transit (`mailbox.rs`) the pool is not
    /// called full: with `InTransit::Wait` the decision waits for the
    /// transit (a few instructions of the worker's) and is made again.
    fn admit_hand_off(&self, in_transit: InTransit) -> (Admission<'_>, Counts) {
        let spin = Spin::new();
        loop {
            let c = self.counts.load();
            if c.closing() {
                return (Admission::Closed, c);
            }
            if c.paused() {
                return (Admission::Full, c);
            }
            // The long scan only if a worker can be idle: completions read
            // first, `pending` is never below the truth, so `pending >=
            // live` means none is.
            let some_idle = || {
                let done = self.done.read();
                let c = self.counts.load();
                c.pending(done) < c.live()
            };
            if let Some(claim) = self.seats.claim(some_idle) {
                return (
                    Admission::Deliver(claim),
                    self.counts.add_task().with_task(),
                );
            }
            let cap = self.cap();
            let started = self.counts.update(|c| {
                (c.open() && c.live() < cap).then(|| (c.with_task().with_worker(), ()))
            });
            match started {
                Ok((before, ())) => return (Admission::Spawn, before.with_task().with_worker()),
                Err(c) if c.closing() => return (Admission::Closed, c),
                Err(c) => {
                    let moving = self
                        .seats
                        .in_transit()
                        .load(std::sync::atomic::Ordering::SeqCst);
                    if moving == 0 || matches!(in_transit, InTransit::Full) {
                        return (Admission::Full, c);
                    }
                    spin.wait();
                }
            }
        }
    }

    /// Spins briefly (room usually appears within a task's length), then
    /// sleeps until an admission other than `Full` or the deadline.
    pub(crate) fn wait_for_room(&self, deadline: Option<Instant>) -> (Admission<'_>, Counts) {
        let spin = Spin::new();
        while spin.before_blocking() {
            match self.admit() {
                (Admission::Full, _) => {}
                decided => return decided,
            }
        }
        // Under the waiters' lock: never wait there for a transit, whose
        // worker may need that lock first (`Waiters::task_gone`) to get
        // back to its line. The transit's end wakes this sleeper
        // (`Waiters::room_made`).
        let poll = || match self.admit_with(InTransit::Full) {
            (Admission::Full, _) => None,
            decided => Some(decided),
        };
        self.waiters
            .sleep_until(Reason::Room, deadline, poll)
            .unwrap_or_else(|| (Admission::Full, self.counts.load()))
    }

    fn run_inline(&self, job: Job) -> Result<(), Error> {
        let handler = self.config.panic_handler.as_ref();
        // Past the depth bound the job is dropped unrun: refused.
        let outcome = current::run_inline(|| job.run(handler))?;
        self.count_panic(outcome);
        self.tallies
            .inline_runs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn count_panic(&self, outcome: Outcome) {
        if let Outcome::Panicked = outcome {
            self.tallies
                .panicked
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Admission reserved a worker (live and starting) for this job: start
    /// it. If the OS refuses, the job still goes to an existing worker if
    /// one can take it now; otherwise it is refused with `Spawn`.
    fn spawn_for(&self, job: Job, after: Counts) -> Result<(), Error> {
        let job = match &self.delivery {
            Delivery::Queue { .. } => match worker::spawn(self, None) {
                Ok(()) => {
                    // `after` counts the new worker as awake, but
                    // `starting` counts it out: `accept` wakes a sleeper if
                    // one is there, rather than leave the task to a worker
                    // still to run its hook.
                    self.accept(job, after);
                    return Ok(());
                }
                Err(_) => job,
            },
            Delivery::HandOff => match worker::spawn(self, Some(job)) {
                Ok(()) => {
                    self.tallies
                        .first_jobs
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(());
                }
                Err(job) => {
                    job.unwrap_or_else(|| unreachable!("a failed start gives its job back"))
                }
            },
        };
        self.uncount_starting();
        match &self.delivery {
            Delivery::Queue { .. } => self.queue_after_refused_spawn(job),
            Delivery::HandOff => self.deliver_after_refused_spawn(job),
        }
    }
}
