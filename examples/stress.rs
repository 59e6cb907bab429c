//! Stress and soak harness for the C ABI.
//!
//! ```sh
//! cargo run --release --example stress -- --seconds 60 [--seed S] [--threads T]
//! ```
//!
//! Driver threads make random calls (schedule, try_schedule,
//! schedule_timeout, wait, set_capacity, get_stats, free / new) on a few
//! pools built with random options (block, prealloc, queue 0 / n /
//! unbounded, idle timeout 0 / 1 / 50 ms, small stacks, thread names and
//! hooks); tasks schedule tasks on their own and on other pools. The 0.2
//! calls too (see `stress/control.rs`): schedules through task groups,
//! group waits and stats, pause windows, `pool_cancel_queued`, parallel
//! loops, and `pool_shutdown` before `pool_free`. Pools are
//! freed and created concurrently, sometimes while schedulers are blocked
//! inside them. Checked as it runs and at the end (see `stress/pools.rs`):
//! every accepted task ran exactly once or was cancelled exactly once
//! (never both) and no refused one did either; statuses
//! are the documented ones; the stats add up at quiescence; no task runs
//! after `pool_free` returned; every on_start has its on_exit; no call
//! hangs (watchdog); and after every round the process is back to its
//! baseline number of threads. Prints `stress: OK ...` and exits 0, or
//! prints each violation and exits non-zero.

#[path = "stress/check.rs"]
mod check;
#[path = "stress/control.rs"]
mod control;
#[path = "stress/driver.rs"]
mod driver;
#[path = "stress/pools.rs"]
mod pools;
#[path = "stress/registry.rs"]
mod registry;
#[path = "stress/rng.rs"]
mod rng;

use std::sync::atomic::{AtomicBool, Ordering::*};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use check::{Beat, violation};
use rng::mix;

/// Length of one round: drivers run, stop, every pool is freed, and the
/// thread count must return to the baseline.
const ROUND: Duration = Duration::from_secs(5);

struct Args {
    seconds: u64,
    seed: u64,
    threads: usize,
}

fn usage() -> ! {
    eprintln!("usage: stress --seconds N [--seed S] [--threads T]");
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut args = Args {
        seconds: 60,
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        threads: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        let number: u64 = value.parse().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--seconds" => args.seconds = number,
            "--seed" => args.seed = number,
            "--threads" => args.threads = (number as usize).max(1),
            _ => usage(),
        }
    }
    args
}

fn main() {
    let args = parse_args();
    registry::set_seed(args.seed);
    check::start_watchdog();
    let main_beat = Beat::register("main".into());
    let baseline = check::live_threads();
    println!(
        "stress: seed={} seconds={} threads={} baseline_threads={baseline}",
        args.seed, args.seconds, args.threads
    );
    let start = Instant::now();
    let total = Duration::from_secs(args.seconds);
    let mut round = 0u64;
    let mut last_report = Instant::now();
    loop {
        let left = total.saturating_sub(start.elapsed());
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for t in 0..args.threads {
                let stop = &stop;
                let seed = mix(args.seed ^ mix(round << 16 | t as u64));
                std::thread::Builder::new()
                    .name(format!("stress-driver-{t}"))
                    .spawn_scoped(scope, move || {
                        let beat = Beat::register(format!("driver {t} (round {round})"));
                        driver::run(seed, stop, beat);
                        beat.retire();
                    })
                    .expect("driver thread");
            }
            std::thread::sleep(left.min(ROUND));
            stop.store(true, SeqCst);
            main_beat.enter(check::S_JOIN);
        });
        main_beat.done();
        // Every pool left: free it (half of them quietly, checking the
        // stats at quiescence).
        for i in 0..registry::SLOTS {
            if let Some(ctx) = registry::take_any(i) {
                pools::free_and_bury(ctx, (round + i as u64) % 2 == 0, main_beat);
            }
        }
        // Every worker joined: back to the baseline (a thread that was
        // joined may take a moment to leave /proc).
        main_beat.enter(check::S_THREADS);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut live = check::live_threads();
        while live != baseline && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            live = check::live_threads();
        }
        main_beat.done();
        if live != baseline {
            violation(format!(
                "round {round}: {live} threads after every pool was freed, baseline {baseline}"
            ));
        }
        round += 1;
        let done = start.elapsed() >= total;
        if done || last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            println!(
                "stress: t={:.0}s rounds={round} pools={} tasks={} ops={} violations={}",
                start.elapsed().as_secs_f64(),
                registry::pools(),
                registry::tasks(),
                driver::OPS.load(Relaxed),
                check::violations()
            );
        }
        if done || check::violations() > 0 {
            break;
        }
    }
    let refused = registry::refused_pools();
    if refused > 0 {
        println!("stress: note: {refused} prealloc pool_new calls got NULL/EAGAIN");
    }
    println!("stress: schedule statuses: {}", registry::status_summary());
    let v = check::violations();
    if v > 0 {
        eprintln!("stress: FAIL violations={v} seed={}", args.seed);
        std::process::exit(1);
    }
    println!(
        "stress: OK pools={} tasks={} seconds={} seed={}",
        registry::pools(),
        registry::tasks(),
        start.elapsed().as_secs(),
        args.seed
    );
}
