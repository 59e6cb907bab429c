//! The pool's state shared by handles and workers.
//!
//! # How it is split
//!
//! One worker lifecycle serves every mode (`worker.rs` runs it,
//! `lifecycle.rs` counts it: start, hook, task done, retirement, leaving,
//! shutdown, capacity). The modes differ only in how a task travels from
//! a scheduler to a worker, behind `Delivery`: a queue (`queue_mode.rs`)
//! or an idle worker's own line (`hand_off.rs`). Each delivery decides
//! admission, gives an idle worker its next task (or tells it to leave:
//! expiry, retirement, closing), and asks idle workers to retire after a
//! shrink. `admission.rs` is the schedule calls over a delivery,
//! `wait.rs` the exact wait.
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
//! decided by one CAS (`counts.rs`). Hand-off mode (`q == 0`) has no queue:
//! a schedule claims an idle worker's line (rule 1, `mailbox.rs`), or
//! starts a worker with the task (rule 2), or finds the pool full.
//!
//! # Invariant: no task is stranded
//!
//! Every pending task is running, or will be taken from the queue by an
//! awake worker, or a sleeper has been claimed for it, or (hand-off) sits
//! in a claimed line. A worker leaves (idle expiry, retirement after a
//! shrink, shutdown) only while the awake workers left cover every pending
//! task, or as an idle worker nobody counted on. Shutdown therefore needs
//! no drain step: once closing, the last worker leaves only when nothing
//! is pending.
//!
//! # Room
//!
//! Every change that can make room lets a blocked scheduler in: a task
//! finishing or given back (`Waiters::task_gone`), a worker leaving the
//! counts or an idle line reopening (`Waiters::room_made`), capacity
//! growing or the pool closing (`Waiters::wake_all`).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use crossbeam_utils::CachePadded;

use crate::builder::Config;
use crate::completions::{Completions, Tally};
use crate::counts::AtomicCounts;
use crate::gate::Gate;
use crate::job::Job;
use crate::mailbox::Mailbox;
use crate::pause::Pause;
use crate::queue::Queue;
use crate::seats::Seats;
use crate::sleep::Sleepers;
use crate::stacks::StackArena;
use crate::thread::Thread;
use crate::waiters::Waiters;

/// How tasks travel from schedulers to workers. (The queue variant is the
/// larger by two cache-padded ends; one per pool, not worth a box.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Delivery {
    /// Queue modes: one unbounded queue, bounded by the counts; idle
    /// workers sleep in `sleepers` (`queue_mode.rs`).
    Queue {
        queue: Queue<Job>,
        sleepers: Sleepers,
    },
    /// `queue_size 0`: an idle worker's line (`hand_off.rs`).
    HandOff,
}

/// What every schedule reads and only `set_capacity` writes: on a line of
/// its own, so that refusals and panics counted elsewhere do not move it.
pub(crate) struct Limits {
    pub(crate) capacity: AtomicUsize,
    /// Bumped by every capacity shrink: a worker compares it after each
    /// task, instead of reading the counts, to know when to check whether
    /// it must retire.
    pub(crate) shrinks: AtomicU64,
    /// Set while paused: queue-mode workers read it around each take
    /// (`pause.rs`).
    pub(crate) paused: AtomicBool,
}

/// Counters written on the slow paths only.
#[derive(Default)]
pub(crate) struct Tallies {
    pub(crate) rejected: AtomicU64,
    pub(crate) panicked: AtomicU64,
    /// Tasks run inline by a worker of this pool instead of waiting: counted
    /// as submitted and completed, never as pending.
    pub(crate) inline_runs: AtomicU64,
    /// Hand-off mode: tasks a worker was started for (put on its line, not
    /// claimed), counted once the thread started.
    pub(crate) first_jobs: AtomicU64,
    /// Accepted tasks removed unrun (`pool_cancel_queued`, `pool_shutdown`).
    pub(crate) cancelled: AtomicU64,
}

/// Worker threads that began to run so far, and how many threads wait for
/// a count of them (`Shared::wait_started`).
#[derive(Default)]
pub(crate) struct Starts {
    pub(crate) count: usize,
    pub(crate) waiting: usize,
}

/// What a worker carries from task to task.
pub(crate) struct WorkerSlot<'pool> {
    /// Where it counts finished tasks.
    pub(crate) tally: Tally,
    /// Its seat (`seats.rs`), by index and its line: looked up once, not
    /// per task.
    pub(crate) seat: usize,
    pub(crate) line: &'pool Mailbox,
    /// `Limits::shrinks` when it last found the pool not over capacity.
    pub(crate) shrinks_seen: u64,
}

pub(crate) struct Shared {
    /// Written by every schedule, by workers only when they sleep, wake,
    /// start or leave.
    pub(crate) counts: CachePadded<AtomicCounts>,
    /// Finished tasks, written by workers.
    pub(crate) done: Completions,
    pub(crate) limits: CachePadded<Limits>,
    pub(crate) tallies: CachePadded<Tallies>,
    pub(crate) config: Config,
    pub(crate) delivery: Delivery,
    /// One per live worker, in every mode.
    pub(crate) seats: Seats,
    /// Threads inside a call that the counted tasks do not protect
    /// (`gate.rs`).
    pub(crate) callers: Gate,
    /// Schedulers, `wait` callers and shrinks asleep.
    pub(crate) waiters: Waiters,
    /// Workers waiting for a resume, and the tasks they hold meanwhile.
    pub(crate) pause: Pause,
    /// Every worker started and not yet joined.
    pub(crate) handles: Mutex<Vec<Thread>>,
    /// The workers' stacks.
    pub(crate) stacks: StackArena,
    /// Workers that returned, or are about to, whose threads `register`
    /// has not joined yet.
    pub(crate) departed: AtomicUsize,
    /// Numbers threads for their names.
    pub(crate) next_thread: AtomicUsize,
    /// Worker threads the OS started so far.
    pub(crate) spawned: AtomicUsize,
    /// The last handle was dropped on a worker and no thread could be
    /// started to shut down: the last worker to leave does it
    /// (`lifecycle.rs`); `reaping` says one has begun.
    pub(crate) shutdown_owed: AtomicBool,
    pub(crate) reaping: AtomicBool,
    /// Workers counted live that have not finished their `on_start` hook
    /// (or not begun it): they take no task meanwhile, and a hook may wait
    /// for the thread that schedules (`sleep.rs`).
    pub(crate) starting: CachePadded<AtomicUsize>,
    /// Workers inside their `on_start` hook (a subset of `starting`): the
    /// shrink's wait does not count on them (`lifecycle.rs`).
    pub(crate) in_start_hook: AtomicUsize,
    /// Worker threads that have begun to run (already named): a
    /// preallocating build returns only once every thread it started is
    /// running under its name (`wait_started`).
    pub(crate) started: Mutex<Starts>,
    pub(crate) all_started: Condvar,
}

impl Shared {
    pub(crate) fn new(capacity: usize, config: Config) -> Self {
        let delivery = if config.queue_limit == 0 {
            Delivery::HandOff
        } else {
            Delivery::Queue {
                queue: Queue::new(),
                sleepers: Sleepers::new(),
            }
        };
        Shared {
            stacks: StackArena::new(config.stack_size),
            counts: CachePadded::new(AtomicCounts::new()),
            done: Completions::new(),
            limits: CachePadded::new(Limits {
                capacity: AtomicUsize::new(capacity),
                shrinks: AtomicU64::new(0),
                paused: AtomicBool::new(false),
            }),
            tallies: CachePadded::new(Tallies::default()),
            config,
            delivery,
            seats: Seats::new(),
            callers: Gate::new(),
            waiters: Waiters::new(),
            pause: Pause::new(),
            handles: Mutex::new(Vec::new()),
            departed: AtomicUsize::new(0),
            next_thread: AtomicUsize::new(0),
            spawned: AtomicUsize::new(0),
            shutdown_owed: AtomicBool::new(false),
            reaping: AtomicBool::new(false),
            starting: CachePadded::new(AtomicUsize::new(0)),
            in_start_hook: AtomicUsize::new(0),
            started: Mutex::new(Starts::default()),
            all_started: Condvar::new(),
        }
    }

    pub(crate) fn cap(&self) -> u64 {
        self.limits.capacity.load(Ordering::SeqCst) as u64
    }

    /// Workers counted live that take no task yet (`starting`).
    pub(crate) fn starting(&self) -> u64 {
        self.starting.load(Ordering::SeqCst) as u64
    }

    /// A worker is about to be counted live (or just was, by admission):
    /// it takes no task until its hook returned.
    pub(crate) fn count_starting(&self) {
        self.starting.fetch_add(1, Ordering::SeqCst);
    }

    /// The worker's hook returned, or its start was given up.
    pub(crate) fn uncount_starting(&self) {
        self.starting.fetch_sub(1, Ordering::SeqCst);
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.counts.load().closing()
    }

    /// Whether no accepted task is queued or running. Completions are read
    /// first: the estimate is never below the truth (`counts.rs`).
    pub(crate) fn drained(&self) -> bool {
        let done = self.done.read();
        self.counts.load().pending(done) == 0
    }

    pub(crate) fn count_rejection(&self) {
        self.tallies.rejected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> crate::Stats {
        let done = self.done.read();
        let c = self.counts.load();
        let pending = c.pending(done);
        let tallies = &self.tallies;
        let inline = tallies.inline_runs.load(Ordering::Relaxed);
        let parked = if self.is_paused() {
            self.pause.parked() as u64
        } else {
            0
        };
        let queued = match &self.delivery {
            Delivery::Queue { queue, .. } => (queue.len() as u64 + parked).min(pending),
            Delivery::HandOff => 0,
        };
        // Counted where a task is accepted for good, never from `pending`:
        // a fast-path schedule counts its task there before it knows, and
        // may withdraw it, so `pending` can step back. Completions were
        // read first; a worker's first task can finish before its starter
        // counts it, hence the `max`.
        let accepted = match &self.delivery {
            Delivery::Queue { queue, .. } => queue.pushed(),
            Delivery::HandOff => {
                self.seats.delivered() + tallies.first_jobs.load(Ordering::Relaxed)
            }
        };
        let submitted = accepted.max(done.total()) + inline;
        crate::Stats {
            capacity: self.cap() as usize,
            workers: c.live() as usize,
            busy: (pending - queued).min(c.awake()) as usize,
            queued: queued as usize,
            submitted,
            completed: done.total() + inline,
            rejected: tallies.rejected.load(Ordering::Relaxed),
            panicked: tallies.panicked.load(Ordering::Relaxed),
            cancelled: tallies.cancelled.load(Ordering::Relaxed),
            paused: self.is_paused(),
        }
    }
}
