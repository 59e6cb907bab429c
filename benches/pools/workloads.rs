//! The workloads, written once against `Exec`. Each returns `None` when the
//! contender has no such mode.

use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::contenders::{Cfg, Contender, Queue};
use crate::task::{self, Latch};

const HANG: Duration = Duration::from_secs(60);

/// W1, W2, W3: `producers` threads each schedule `per_producer` tiny tasks
/// into a preallocated pool of `workers`; seconds from the first schedule
/// until every task is done. Building the pool is not timed; a short
/// warm-up on the same pool is not either.
pub fn throughput(
    c: &dyn Contender,
    producers: usize,
    per_producer: usize,
    workers: usize,
    queue: Queue,
) -> Option<f64> {
    let cfg = Cfg {
        workers,
        queue,
        prealloc: true,
        stack: None,
    };
    let pool = c.build(&cfg)?;
    let warm = Latch::new(10_000, Duration::ZERO);
    for _ in 0..10_000 {
        pool.schedule(task::bump, warm.arg());
    }
    warm.wait(HANG);

    let latch = Latch::new(producers * per_producer, Duration::ZERO);
    let arg = task::SendPtr(latch.arg());
    let pool = &*pool;
    let elapsed = if producers == 1 {
        let start = Instant::now();
        for _ in 0..per_producer {
            pool.schedule(task::bump, arg.get());
        }
        latch.wait(HANG);
        start.elapsed()
    } else {
        let go = Barrier::new(producers + 1);
        thread::scope(|s| {
            for _ in 0..producers {
                let go = &go;
                s.spawn(move || {
                    go.wait();
                    for _ in 0..per_producer {
                        pool.schedule(task::bump, arg.get());
                    }
                });
            }
            let start = Instant::now();
            go.wait();
            latch.wait(HANG);
            start.elapsed()
        })
    };
    Some(elapsed.as_secs_f64())
}

/// W4, W6: from a cold start (building the pool is timed, lazily where
/// the contender can), `tasks` tasks that each sleep `sleep`, on a pool of
/// `capacity` workers with an unbounded queue. Seconds until all are done.
pub fn ramp(
    c: &dyn Contender,
    tasks: usize,
    capacity: usize,
    sleep: Duration,
    stack: Option<usize>,
) -> Option<f64> {
    let cfg = Cfg {
        workers: capacity,
        queue: Queue::Unbounded,
        prealloc: false,
        stack,
    };
    let latch = Latch::new(tasks, sleep);
    let start = Instant::now();
    let pool = c.build(&cfg)?;
    for _ in 0..tasks {
        pool.schedule(task::sleep_bump, latch.arg());
    }
    latch.wait(HANG);
    let elapsed = start.elapsed();
    drop(pool);
    Some(elapsed.as_secs_f64())
}

/// The floor under W6 on this machine: no pool, one plain thread per task
/// (`stack` bytes), started one after the other from the timing thread,
/// each running the same sleeping task. What any pool that needs `tasks`
/// threads at once cannot beat.
pub fn spawn_floor(tasks: usize, sleep: Duration, stack: usize) -> f64 {
    let latch = Latch::new(tasks, sleep);
    let start = Instant::now();
    let threads: Vec<_> = (0..tasks)
        .map(|_| {
            let arg = task::SendPtr(latch.arg());
            std::thread::Builder::new()
                .stack_size(stack)
                // SAFETY: the latch outlives the threads (joined below).
                .spawn(move || unsafe { task::sleep_bump(arg.get()) })
                .expect("spawn")
        })
        .collect();
    latch.wait(HANG);
    let elapsed = start.elapsed();
    for thread in threads {
        thread.join().expect("floor thread");
    }
    elapsed.as_secs_f64()
}

/// W5: an idle, preallocated pool of `workers`; `samples` times: schedule
/// one task that stamps its start time, then sleep `gap` (the pool goes
/// idle again). Returns the sorted latencies in seconds.
pub fn wake_latency(
    c: &dyn Contender,
    workers: usize,
    samples: usize,
    gap: Duration,
) -> Option<Vec<f64>> {
    let cfg = Cfg {
        workers,
        queue: Queue::Unbounded,
        prealloc: true,
        stack: None,
    };
    let pool = c.build(&cfg)?;
    let slot = AtomicU64::new(0);
    let arg = &slot as *const AtomicU64 as *mut std::ffi::c_void;
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples + 20 {
        slot.store(0, Ordering::Relaxed);
        thread::sleep(gap);
        let sent = task::now_ns();
        pool.schedule(task::stamp, arg);
        let started = loop {
            match slot.load(Ordering::Acquire) {
                0 => thread::yield_now(),
                t => break t,
            }
        };
        // The first 20 are a warm-up (first wake of each thread, page faults).
        if i >= 20 {
            latencies.push(started.saturating_sub(sent) as f64 * 1e-9);
        }
    }
    latencies.sort_by(f64::total_cmp);
    Some(latencies)
}

/// The `q` quantile (0..=1) of sorted values.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}
