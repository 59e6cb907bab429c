//! Models of W3's blocking hand-off: `cargo bench --bench handoff_models
//! [-- --runs N]`. Not workerpool code: each model is the smallest program
//! with one design's cache-line traffic, so that what W3 could reach on this
//! machine, and what costs the pool its time, are measured in one process.
//! BENCHMARKS.md ("W3") records the results and what they mean.
//!
//! Every model: one producer hands `TASKS` tasks to `WORKERS` workers, each
//! task a call through a function pointer doing one atomic increment; a task
//! is accepted only when a worker is idle (at most `WORKERS` pending), as in
//! the pool's hand-off mode. Timed from the first hand-off until the last
//! task ran, workers already started.
//!
//! - `channel`: a crossbeam unbounded channel, no hand-off (W3's limit).
//! - `mailbox`: one line per worker that is at once the admission and the
//!   delivery: the producer's CAS on it finds the worker idle and hands the
//!   task over; the worker's store of "idle" after the task is its
//!   completion. Workers park after their spin.
//! - `mailbox-pool`: `mailbox` plus the work the pool cannot drop around
//!   it: the producer counts each task in an `admitted` counter that only
//!   it writes (for `pool_wait`, stats and shutdown) and, a job being
//!   wider than a word, claims the line before it writes the job and marks
//!   it full; the worker counts the task in its own completion shard, then
//!   issues the `SeqCst` fence of the hand-shake with `wait` callers and
//!   reads the two lines that hand-shake and retirement check per task.
//! - `mailbox-pool-asym`: the same without the worker's fence, as if the
//!   hand-shake paired a compiler fence on the worker with a process-wide
//!   barrier (`membarrier`) on the rare side that goes to sleep.
//! - `counted`: the pool's structure: admission is a CAS of an admitted
//!   count against the per-worker completion counts (the sum of the shards,
//!   as `Shared::admit` reads them), then delivery through a shared queue;
//!   a worker records its completion in its shard, then a `SeqCst` fence
//!   (the pool's hand-shake with `wait` callers).
//! - `counted-mailbox`: the same admission, delivery through per-worker
//!   mailboxes (the first step tried on 2026-11-27).
//!
//! Not modelled: the gate pass, closing, capacity changes, sleeping
//! producers. Each is absent from every model alike, so the ratios between
//! models isolate admission and delivery.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*, fence};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use crossbeam_utils::{Backoff, CachePadded};

const TASKS: usize = 200_000;
const WORKERS: usize = 2;

static RAN: CachePadded<AtomicU64> = CachePadded::new(AtomicU64::new(0));

#[inline(never)]
fn bump() {
    RAN.fetch_add(1, Relaxed);
}

/// The task as every model calls it: through a pointer.
const TASK: fn() = bump;

/// Jobs by number, for the model that writes a job into a mailbox.
static JOBS: [fn(); 1] = [TASK];

/// Mailbox states; any other value is a task number.
const IDLE: usize = 0;
const PARKED: usize = 1;
const FIRST_TASK: usize = 2;

/// Spin, then yield, for as long as `ready` says no.
fn spin_until(mut ready: impl FnMut() -> bool) {
    let backoff = Backoff::new();
    while !ready() {
        if backoff.is_completed() {
            thread::yield_now();
        } else {
            backoff.snooze();
        }
    }
}

/// Starts the workers, times `produce`, waits for every task, stops them.
fn timed(
    workers: impl Fn(usize, Arc<AtomicBool>) -> JoinHandle<()>,
    produce: impl FnOnce(&[Thread]),
) -> Duration {
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..WORKERS)
        .map(|i| workers(i, Arc::clone(&stop)))
        .collect();
    let threads: Vec<Thread> = handles.iter().map(|h| h.thread().clone()).collect();
    thread::sleep(Duration::from_millis(20));
    RAN.store(0, SeqCst);
    let start = Instant::now();
    produce(&threads);
    while RAN.load(Acquire) < TASKS as u64 {
        std::hint::spin_loop();
    }
    let elapsed = start.elapsed();
    stop.store(true, SeqCst);
    for t in &threads {
        t.unpark();
    }
    for h in handles {
        h.join().unwrap();
    }
    elapsed
}

fn channel() -> Duration {
    let (tx, rx) = crossbeam_channel::unbounded::<fn()>();
    let spawn = |_, _| {
        let rx = rx.clone();
        thread::spawn(move || rx.iter().for_each(|task| task()))
    };
    // The sender goes with the producer: the workers end when it is done.
    let produce = move |_: &[Thread]| (0..TASKS).for_each(|_| tx.send(TASK).unwrap());
    timed(spawn, produce)
}

type Mailboxes = Arc<Vec<CachePadded<AtomicUsize>>>;

fn mailboxes() -> Mailboxes {
    Arc::new(
        (0..WORKERS)
            .map(|_| CachePadded::new(AtomicUsize::new(IDLE)))
            .collect(),
    )
}

fn mailbox() -> Duration {
    let boxes = mailboxes();
    let spawn = |i: usize, stop: Arc<AtomicBool>| {
        let boxes = Arc::clone(&boxes);
        thread::spawn(move || {
            let mine = &boxes[i];
            let backoff = Backoff::new();
            while !stop.load(Acquire) {
                if mine.load(Acquire) >= FIRST_TASK {
                    TASK();
                    // Idle again: this store is the completion.
                    mine.store(IDLE, Release);
                    backoff.reset();
                } else if !backoff.is_completed() {
                    backoff.snooze();
                } else if mine.compare_exchange(IDLE, PARKED, AcqRel, Acquire).is_ok() {
                    while mine.load(Acquire) == PARKED && !stop.load(Acquire) {
                        thread::park();
                    }
                    backoff.reset();
                }
            }
        })
    };
    let produce = |threads: &[Thread]| {
        let mut next = 0;
        for task in FIRST_TASK..FIRST_TASK + TASKS {
            spin_until(|| {
                for _ in 0..WORKERS {
                    let (line, i) = (&boxes[next], next);
                    next = (next + 1) % WORKERS;
                    let seen = line.load(Relaxed);
                    if seen <= PARKED && line.compare_exchange(seen, task, AcqRel, Relaxed).is_ok()
                    {
                        if seen == PARKED {
                            threads[i].unpark();
                        }
                        return true;
                    }
                }
                false
            });
        }
    };
    timed(spawn, produce)
}

/// `mailbox-pool` (`fence_per_task`) and `mailbox-pool-asym`: see the
/// module docs.
fn mailbox_pool_with(fence_per_task: bool) -> Duration {
    const OPEN: usize = 0;
    const PARKED: usize = 1;
    const CLAIMED: usize = 2;
    const FULL: usize = 3;
    struct Mailbox {
        state: AtomicUsize,
        job: AtomicUsize,
    }
    let boxes: Arc<Vec<CachePadded<Mailbox>>> = Arc::new(
        (0..WORKERS)
            .map(|_| {
                CachePadded::new(Mailbox {
                    state: AtomicUsize::new(OPEN),
                    job: AtomicUsize::new(0),
                })
            })
            .collect(),
    );
    let shards: Arc<Vec<CachePadded<AtomicU64>>> = Arc::new(
        (0..WORKERS)
            .map(|_| CachePadded::new(AtomicU64::new(0)))
            .collect(),
    );
    // Lines every worker reads after each task and nobody writes here: the
    // waiters' "asleep" flag and the shrink count.
    let asleep = Arc::new(CachePadded::new(AtomicBool::new(false)));
    let shrinks = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let admitted = CachePadded::new(AtomicU64::new(0));
    let spawn = |i: usize, stop: Arc<AtomicBool>| {
        let (boxes, shards) = (Arc::clone(&boxes), Arc::clone(&shards));
        let (asleep, shrinks) = (Arc::clone(&asleep), Arc::clone(&shrinks));
        thread::spawn(move || {
            let (mine, shard) = (&boxes[i], &shards[i]);
            let backoff = Backoff::new();
            while !stop.load(Acquire) {
                let state = mine.state.load(Acquire);
                if state == FULL {
                    // The job as the producer wrote it: here an index into
                    // a table of functions.
                    JOBS[mine.job.load(Relaxed)]();
                    shard.store(shard.load(Relaxed) + 1, Release);
                    if fence_per_task {
                        fence(SeqCst);
                    }
                    let asleep = asleep.load(Relaxed);
                    let shrunk = shrinks.load(Acquire) != 0;
                    assert!(!asleep && !shrunk, "nobody sleeps or shrinks here");
                    mine.state.store(OPEN, Release);
                    backoff.reset();
                } else if state == CLAIMED {
                    // The producer is two stores from FULL.
                    std::hint::spin_loop();
                } else if !backoff.is_completed() {
                    backoff.snooze();
                } else if mine
                    .state
                    .compare_exchange(OPEN, PARKED, AcqRel, Acquire)
                    .is_ok()
                {
                    while mine.state.load(Acquire) == PARKED && !stop.load(Acquire) {
                        thread::park();
                    }
                    backoff.reset();
                }
            }
        })
    };
    let produce = |threads: &[Thread]| {
        let mut next = 0;
        for _ in 0..TASKS {
            admitted.fetch_add(1, SeqCst);
            spin_until(|| {
                for _ in 0..WORKERS {
                    let (line, i) = (&boxes[next], next);
                    next = (next + 1) % WORKERS;
                    let seen = line.state.load(Relaxed);
                    if seen <= PARKED
                        && line
                            .state
                            .compare_exchange(seen, CLAIMED, AcqRel, Relaxed)
                            .is_ok()
                    {
                        if seen == PARKED {
                            threads[i].unpark();
                        }
                        line.job.store(0, Relaxed);
                        line.state.store(FULL, Release);
                        return true;
                    }
                }
                false
            });
        }
    };
    timed(spawn, produce)
}

fn mailbox_pool() -> Duration {
    mailbox_pool_with(true)
}

fn mailbox_pool_asym() -> Duration {
    mailbox_pool_with(false)
}

/// The pool's admission: a CAS of the admitted count, taken only while the
/// workers' completions (summed over the shards) leave one idle.
struct Counted {
    admitted: CachePadded<AtomicU64>,
    shards: Vec<CachePadded<AtomicU64>>,
}

impl Counted {
    fn new() -> Arc<Counted> {
        Arc::new(Counted {
            admitted: CachePadded::new(AtomicU64::new(0)),
            shards: (0..WORKERS)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
        })
    }

    fn admit(&self) {
        spin_until(|| {
            let done: u64 = self.shards.iter().map(|s| s.load(Acquire)).sum();
            let admitted = self.admitted.load(Relaxed);
            admitted - done < WORKERS as u64
                && self
                    .admitted
                    .compare_exchange(admitted, admitted + 1, AcqRel, Relaxed)
                    .is_ok()
        });
    }

    fn record(&self, worker: usize) {
        let shard = &self.shards[worker];
        shard.store(shard.load(Relaxed) + 1, Release);
        fence(SeqCst);
    }
}

/// A worker of the counted models: takes with `take`, runs, records.
fn counted_worker(
    counted: &Arc<Counted>,
    i: usize,
    stop: Arc<AtomicBool>,
    take: impl Fn() -> bool + Send + 'static,
) -> JoinHandle<()> {
    let counted = Arc::clone(counted);
    thread::spawn(move || {
        let backoff = Backoff::new();
        while !stop.load(Acquire) {
            if take() {
                TASK();
                counted.record(i);
                backoff.reset();
            } else if backoff.is_completed() {
                thread::yield_now();
            } else {
                backoff.snooze();
            }
        }
    })
}

fn counted_queue() -> Duration {
    let counted = Counted::new();
    let (tx, rx) = crossbeam_channel::unbounded::<fn()>();
    let spawn = |i, stop| {
        let rx = rx.clone();
        counted_worker(&counted, i, stop, move || rx.try_recv().is_ok())
    };
    let produce = |_: &[Thread]| {
        for _ in 0..TASKS {
            counted.admit();
            tx.send(TASK).unwrap();
        }
    };
    timed(spawn, produce)
}

fn counted_mailbox() -> Duration {
    let counted = Counted::new();
    let boxes = mailboxes();
    let spawn = |i: usize, stop| {
        let boxes = Arc::clone(&boxes);
        counted_worker(&counted, i, stop, move || {
            boxes[i].swap(IDLE, Acquire) >= FIRST_TASK
        })
    };
    let produce = |_: &[Thread]| {
        let mut next = 0;
        for task in FIRST_TASK..FIRST_TASK + TASKS {
            counted.admit();
            // Admitted for an idle worker: find its empty mailbox.
            spin_until(|| {
                let line = &boxes[next];
                next = (next + 1) % WORKERS;
                line.load(Relaxed) == IDLE
                    && line.compare_exchange(IDLE, task, Release, Relaxed).is_ok()
            });
        }
    };
    timed(spawn, produce)
}

/// Round trip of one cache line between two threads, in ns: where the host
/// puts the two vCPUs decides W3's mode (BENCHMARKS.md).
fn ping_pong() -> f64 {
    const ROUNDS: u64 = 200_000;
    let line = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let echo = {
        let line = Arc::clone(&line);
        thread::spawn(move || {
            for i in 0..ROUNDS {
                spin_until(|| line.load(Acquire) == 2 * i + 1);
                line.store(2 * i + 2, Release);
            }
        })
    };
    let start = Instant::now();
    for i in 0..ROUNDS {
        line.store(2 * i + 1, Release);
        spin_until(|| line.load(Acquire) == 2 * i + 2);
    }
    let ns = start.elapsed().as_nanos() as f64 / ROUNDS as f64;
    echo.join().unwrap();
    ns
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(7);
    type Model = (&'static str, fn() -> Duration);
    let models: [Model; 6] = [
        ("channel", channel),
        ("mailbox", mailbox),
        ("mailbox-pool", mailbox_pool),
        ("mailbox-pool-asym", mailbox_pool_asym),
        ("counted", counted_queue),
        ("counted-mailbox", counted_mailbox),
    ];
    println!("ping-pong round trip before: {:.0} ns", ping_pong());
    // Alternated, so that a change of vCPU placement hits every model.
    let mut ms = vec![Vec::new(); models.len()];
    for _ in 0..runs {
        for (m, (_, run)) in ms.iter_mut().zip(&models) {
            m.push(run().as_secs_f64() * 1e3);
        }
    }
    println!("ping-pong round trip after: {:.0} ns", ping_pong());
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let limit = median(&mut ms[0].clone());
    println!("| model | median | min–max | throughput vs channel |");
    println!("|---|---:|---|---:|");
    for ((name, _), times) in models.iter().zip(&mut ms) {
        let med = median(times);
        let (lo, hi) = (times[0], times[times.len() - 1]);
        println!(
            "| {name} | {med:.1} ms | {lo:.1}–{hi:.1} ms | {:.2}× |",
            limit / med
        );
    }
}
