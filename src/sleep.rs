//! How an idle worker goes to sleep, and how it is woken.
//!
//! Workers take tasks from the queue with `pop` only; when it is empty
//! they spin briefly (crossbeam's `Backoff`), then come here. The
//! decision to sleep, and every claim of a sleeper by a waker, are made
//! under one mutex and recorded in the shared counts (`counts.rs`):
//!
//! (`pending` is always the estimate of `counts.rs`: completions read before
//! the CAS that decides, so never below the true count.)
//!
//! * A worker may sleep only if `pending <= awake - 1`, counting itself out:
//!   the other awake workers (each running a task or about to look for
//!   one) cover every accepted task. Otherwise a task is owed to it (often
//!   one admitted whose push has not landed yet): it goes back to look.
//!   Registering adds it to `sleeping`, in the same CAS.
//! * A scheduler whose admission leaves no awake worker, or `pending >
//!   awake`, wakes one sleeper: under the lock it re-checks that, claims
//!   the sleeper (`sleeping - 1` in the counts, one token in `tokens`) and
//!   notifies the condvar. Only the first case is needed for no task to be
//!   stranded (see below); the second buys parallelism, so the scheduler's
//!   first look may read the completions after its admission.
//! * A sleeper that wakes takes a token if there is one (it was claimed, the
//!   waker already uncounted it); otherwise (timeout, shutdown, spurious
//!   wake) it uncounts itself. Claims and self-removal both happen under the
//!   lock, so a sleeper is never uncounted twice, and `sleeping` always
//!   equals the sleepers nobody has claimed.
//! * Idle expiry: a timed-out sleeper leaves the pool only if, once awake,
//!   it is not needed (`pending < awake`, counting itself). A scheduler
//!   admits a task against a sleeper before it takes the lock to claim one,
//!   so "nobody claimed me" alone does not mean "nobody needs me".
//!
//! Why no wake-up is lost: a scheduler that decides "no wake needed" saw at
//! least one awake worker after its admission. Whichever of the awake
//! workers is the last to sleep or leave does so by a CAS ordered after
//! that admission, with `pending <= awake - 1 = 0`: the completions it read
//! cover every task admitted before, this one included, so the task is
//! done. (Reading completions that include a task admitted after that CAS
//! is impossible: such a task happens-after the CAS, which is after the
//! read.) A scheduler that decides "wake" claims under the lock, and a
//! registered sleeper only stops waiting by consuming a token or uncounting
//! itself.
//!
//! Workers inside their `on_start` hook (`starting`, read apart from the
//! counts) are awake in the counts but cover nothing until the hook
//! returns: a hook may wait for the very thread that schedules (a lock it
//! holds, Python's GIL), so a task left to such a worker while another one
//! sleeps could wait for ever. Every rule above counts them out of
//! `awake`. `starting` is raised before a worker is counted live and
//! lowered after its hook, so a stale read can only be too high, which
//! only wakes a sleeper or makes a worker look again; the proof above is
//! unchanged (those workers are awake, and look for tasks after the hook).
//!
//! Cost: nothing per task while workers are busy; a lock and a futex wake
//! only when a task arrives for an idle pool.

use crate::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::completions::Completions;
use crate::counts::{AtomicCounts, Counts};

/// Workers that are awake and not inside their `on_start` hook: those that
/// cover pending tasks.
fn ready(c: Counts, starting: u64) -> u64 {
    c.awake().saturating_sub(starting)
}

/// Whether a scheduler that left the counts `c` must wake a sleeper: one
/// is asleep and no ready worker is awake, or the ready ones do not cover
/// the pending tasks. `starting` and the completions are read only if a
/// worker sleeps.
#[inline(always)]
pub(crate) fn wake_needed(c: Counts, done: &Completions, starting: impl Fn() -> u64) -> bool {
    // The fast path's case, inlined: nobody sleeps.
    c.sleeping() != 0 && sleeper_needed(c, done, starting)
}

/// `wake_needed` once a worker sleeps.
#[inline(never)]
fn sleeper_needed(c: Counts, done: &Completions, starting: impl Fn() -> u64) -> bool {
    let ready = ready(c, starting());
    ready == 0 || c.pending(done.read()) > ready
}

/// Whether a shrink to `capacity` still has idle workers to see leave
/// (`Shared::wait_for_idle_to_retire`): the pool is above capacity and not
/// closing, and some awake worker has no task, not counting the
/// `in_start_hook` workers inside `on_start`. The completions are read
/// before the counts, so `pending` is never below the truth (`counts.rs`).
pub(crate) fn idle_above_capacity(
    counts: &AtomicCounts,
    done: &Completions,
    capacity: u64,
    in_start_hook: u64,
) -> bool {
    let done = done.read();
    let c = counts.load();
    let without_task = ready(c, in_start_hook).saturating_sub(c.pending(done));
    c.live() > capacity && without_task > 0 && !c.closing()
}

/// What an idle worker does next.
pub(crate) enum Idle {
    /// Look for a task again.
    Retry,
    /// Leave: the worker is already uncounted (`live - 1`).
    Exit,
}

pub(crate) struct Sleepers {
    /// Claims not yet consumed by a woken worker.
    tokens: Mutex<u64>,
    condvar: Condvar,
}

impl Sleepers {
    pub(crate) fn new() -> Self {
        Sleepers {
            tokens: Mutex::new(0),
            condvar: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, u64> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called by a worker that found no task. Decides whether it leaves
    /// (closing or above capacity, with nothing owed to it), sleeps, or
    /// looks again.
    ///
    /// `capacity` is read here, under the lock, never before: a shrink
    /// stores the new capacity and then, under this lock, claims the
    /// sleepers that must retire. A worker that read the old capacity before
    /// the store and registered as a sleeper after that claim would sleep
    /// on above capacity with nothing left to wake it. Under the lock it
    /// either registers before the claim (and is claimed) or reads the new
    /// capacity (and leaves).
    pub(crate) fn idle(
        &self,
        counts: &AtomicCounts,
        done: &Completions,
        capacity: impl Fn() -> u64,
        starting: impl Fn() -> u64,
        idle_timeout: Option<Duration>,
    ) -> Idle {
        #[cfg(feature = "fault-injection")]
        crate::fault::pause_if_asked_before_idle();
        let mut tokens = self.lock();
        let capacity = capacity();
        let decided = counts.update(|c| {
            // Counting itself out of the ready workers.
            if c.pending(done.read()) > ready(c, starting()).saturating_sub(1) {
                None
            } else if c.closing() || c.live() > capacity {
                Some((c.without_worker(), Idle::Exit))
            } else {
                Some((c.with_sleeper(), Idle::Retry))
            }
        });
        match decided {
            Err(_) => return Idle::Retry,
            Ok((_, Idle::Exit)) => return Idle::Exit,
            Ok((_, Idle::Retry)) => {}
        }
        #[cfg(feature = "fault-injection")]
        crate::fault::count_sleep();
        let deadline = idle_timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if *tokens > 0 {
                *tokens -= 1;
                return Idle::Retry;
            }
            let now = Instant::now();
            let timed_out = deadline.is_some_and(|d| now >= d);
            if timed_out || counts.load().closing() {
                // Unclaimed: stop sleeping. An expired worker also leaves,
                // but only if the other awake workers cover every pending
                // task: a scheduler may have counted on this sleeper and
                // be on its way to claim it (it admits before it takes the
                // lock). Otherwise, and on shutdown, go back to look.
                let (_, leave) = counts
                    .update(|c| {
                        let c = c.without_sleeper();
                        let covered = c.pending(done.read()) < ready(c, starting());
                        Some(if timed_out && covered && !c.closing() {
                            (c.without_worker(), true)
                        } else {
                            (c, false)
                        })
                    })
                    .unwrap_or_else(|_| unreachable!("the update never declines"));
                return if leave { Idle::Exit } else { Idle::Retry };
            }
            tokens = match deadline {
                None => self.condvar.wait(tokens).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    self.condvar
                        .wait_timeout(tokens, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// Wakes one sleeper if no worker is awake or the awake ones no longer
    /// cover the pending tasks. Called by a scheduler after its admission.
    /// Returns whether it woke one.
    pub(crate) fn wake_for_task(
        &self,
        counts: &AtomicCounts,
        done: &Completions,
        starting: impl Fn() -> u64,
    ) -> bool {
        let mut tokens = self.lock();
        let claimed =
            counts.update(|c| wake_needed(c, done, &starting).then(|| (c.without_sleeper(), ())));
        if claimed.is_ok() {
            *tokens += 1;
            self.condvar.notify_one();
        }
        claimed.is_ok()
    }

    /// A worker waiting for a task group with nothing to run (`group.rs`,
    /// `helping.rs`) sleeps here, counted as a sleeper, so that a schedule
    /// wakes it (a claim) as any idle worker; it also wakes when `more`
    /// holds (the group drained, a task is queued, closing), checked under
    /// the lock before each sleep (the group's notifier takes this lock to
    /// wake it: `wake_all`), or at the deadline. Unclaimed, it uncounts
    /// itself under the lock, as an idle worker that times out.
    pub(crate) fn sleep_helping(
        &self,
        counts: &AtomicCounts,
        more: &dyn Fn() -> bool,
        deadline: Option<Instant>,
    ) {
        let mut tokens = self.lock();
        counts
            .update(|c| Some((c.with_sleeper(), ())))
            .unwrap_or_else(|_| unreachable!("the update never declines"));
        #[cfg(feature = "fault-injection")]
        crate::fault::count_sleep();
        loop {
            if *tokens > 0 {
                *tokens -= 1;
                return;
            }
            let now = Instant::now();
            if more() || deadline.is_some_and(|d| now >= d) {
                counts
                    .update(|c| Some((c.without_sleeper(), ())))
                    .unwrap_or_else(|_| unreachable!("the update never declines"));
                return;
            }
            tokens = match deadline {
                None => self.condvar.wait(tokens).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    self.condvar
                        .wait_timeout(tokens, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// Wakes up to `n` sleepers, claimed, so they re-check whether they must
    /// retire (capacity shrank).
    pub(crate) fn wake_to_retire(&self, counts: &AtomicCounts, n: u64) {
        let mut tokens = self.lock();
        for _ in 0..n {
            let claimed = counts.update(|c| (c.sleeping() > 0).then(|| (c.without_sleeper(), ())));
            if claimed.is_err() {
                break;
            }
            *tokens += 1;
            self.condvar.notify_one();
        }
    }

    /// Wakes every sleeper without claiming: the pool is closing, each one
    /// uncounts itself and drains.
    pub(crate) fn wake_all(&self) {
        let _tokens = self.lock();
        self.condvar.notify_all();
    }
}

/// Model checks of the sleep/wake protocol: `RUSTFLAGS="--cfg loom" cargo
/// test --release --lib loom`. The harness stands in for `shared.rs`: a
/// mutex-guarded queue for the task queue, the fast-path admission of an
/// unbounded pool whose workers are all started (a `fetch_add`), the same
/// wake rule before the push, and completions counted per worker.
#[cfg(all(test, loom))]
mod loom_models {
    use std::collections::VecDeque;

    use loom::sync::Arc;
    use loom::sync::atomic::AtomicUsize;

    use super::{Idle, Sleepers};
    use crate::completions::{Completions, Done};
    use crate::counts::AtomicCounts;
    use crate::sync::loom_model;
    use crate::sync::{Mutex, Ordering};

    struct Model {
        counts: AtomicCounts,
        done: Completions,
        sleepers: Sleepers,
        queue: Mutex<VecDeque<u32>>,
        ran: AtomicUsize,
        capacity: AtomicUsize,
        /// Workers inside their `on_start` hook (`Shared::starting`).
        starting: AtomicUsize,
    }

    impl Model {
        fn new(workers: u64) -> Arc<Model> {
            let model = Model {
                counts: AtomicCounts::new(),
                done: Completions::new(),
                sleepers: Sleepers::new(),
                queue: Mutex::new(VecDeque::new()),
                ran: AtomicUsize::new(0),
                capacity: AtomicUsize::new(workers as usize),
                starting: AtomicUsize::new(0),
            };
            for _ in 0..workers {
                model.counts.add_worker();
            }
            Arc::new(model)
        }

        fn schedule(&self) {
            let after = self.counts.add_task().with_task();
            let starting = || self.starting.load(Ordering::SeqCst) as u64;
            if super::wake_needed(after, &self.done, starting) {
                self.sleepers
                    .wake_for_task(&self.counts, &self.done, starting);
            }
            self.queue.lock().unwrap().push_back(1);
        }

        fn work(&self, shard: usize) {
            let tally = self.done.claim(shard);
            loop {
                let task = self.queue.lock().unwrap().pop_front();
                if task.is_some() {
                    self.ran.fetch_add(1, Ordering::SeqCst);
                    self.done.record(&tally);
                    continue;
                }
                let capacity = || self.capacity.load(Ordering::SeqCst) as u64;
                let starting = || self.starting.load(Ordering::SeqCst) as u64;
                match self
                    .sleepers
                    .idle(&self.counts, &self.done, capacity, starting, None)
                {
                    Idle::Retry => loom::thread::yield_now(),
                    Idle::Exit => return,
                }
            }
        }

        /// `Shared::set_capacity` for a shrink, with its wait for the idle
        /// workers above the capacity (`wait_for_idle_to_retire`; no hooks
        /// here).
        fn shrink_to(&self, capacity: usize) {
            self.capacity.store(capacity, Ordering::SeqCst);
            let excess = self.counts.load().live().saturating_sub(capacity as u64);
            self.sleepers.wake_to_retire(&self.counts, excess);
            while super::idle_above_capacity(&self.counts, &self.done, capacity as u64, 0) {
                loom::thread::yield_now();
            }
        }

        /// Starts one thread per worker, each counting in its own lane.
        /// (loom's `Arc` is no method receiver.)
        fn start_workers(model: &Arc<Model>) -> Vec<loom::thread::JoinHandle<()>> {
            let workers = model.counts.load().live() as usize;
            (0..workers)
                .map(|shard| {
                    let model = Arc::clone(model);
                    loom::thread::spawn(move || model.work(shard))
                })
                .collect()
        }

        /// Shuts down as `Shared::shutdown` does and joins the workers.
        fn close_and_join(&self, workers: Vec<loom::thread::JoinHandle<()>>) {
            self.counts.close();
            self.sleepers.wake_all();
            for worker in workers {
                worker.join().unwrap();
            }
        }
    }

    /// Two workers, two tasks scheduled while they go to sleep, then
    /// shutdown: both tasks run, both workers leave, nothing hangs.
    #[test]
    fn loom_every_task_runs_and_workers_leave() {
        loom_model().check(|| {
            let model = Model::new(2);
            let workers = Model::start_workers(&model);
            model.schedule();
            model.schedule();
            model.close_and_join(workers);
            assert_eq!(model.ran.load(Ordering::SeqCst), 2);
            let counts = model.counts.load();
            let done: Done = model.done.read();
            assert_eq!(
                (counts.pending(done), counts.live(), counts.sleeping()),
                (0, 0, 0)
            );
        });
    }

    /// A shrink that races with a task: the worker retires only once the
    /// task is covered, and the task runs.
    #[test]
    fn loom_retirement_never_strands_a_task() {
        loom_model().check(|| {
            let model = Model::new(2);
            let workers = Model::start_workers(&model);
            model.schedule();
            // One of the two must retire.
            model.shrink_to(1);
            model.close_and_join(workers);
            assert_eq!(model.ran.load(Ordering::SeqCst), 1);
            assert_eq!(model.counts.load().live(), 0);
        });
    }

    /// A shrink while the workers go idle: each worker above the new
    /// capacity leaves without any task or shutdown to wake it, whether it
    /// was asleep, on its way to sleep, or still looking for work, and the
    /// shrink returns only once it has left the counts.
    #[test]
    fn loom_shrink_retires_idle_workers() {
        loom_model().check(|| {
            let model = Model::new(2);
            let workers = Model::start_workers(&model);
            // Returns once the idle worker above the capacity left. A
            // worker that slept on above it (registered after the claims,
            // on the capacity it read before the shrink) is not awake, so
            // the shrink returns with it still counted: the assertion fails.
            model.shrink_to(1);
            assert_eq!(model.counts.load().live(), 1);
            model.close_and_join(workers);
            assert_eq!(model.counts.load().live(), 0);
        });
    }
}
