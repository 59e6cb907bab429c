//! Stress through the C ABI: nothing accepted is ever lost, in every mode,
//! and schedulers racing with pool_free only ever see OK or FREED.

mod common;

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};

use common::*;
use workerpool::ffi::*;

use pool_status::*;

const PRODUCERS: usize = 4;

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Blocking, queue 0.
    HandOff,
    /// Blocking, queue 16.
    Queue16,
    /// Blocking, queue SIZE_MAX.
    Unbounded,
    /// Non-blocking, queue 0; producers retry on NO_IDLE_WORKER.
    NonBlockingRetry,
    /// Blocking, queue 0, all workers started by pool_new.
    Prealloc,
}

/// 4 producers x `per_producer` tasks, each task bumps its own token; at the
/// end every token is exactly 1 and the stats add up.
fn nothing_lost(mode: Mode, cap: i32, per_producer: usize) {
    let total = PRODUCERS * per_producer;
    let (block, prealloc, queue) = match mode {
        Mode::HandOff => (true, false, 0),
        Mode::Queue16 => (true, false, 16),
        Mode::Unbounded => (true, false, usize::MAX),
        Mode::NonBlockingRetry => (false, false, 0),
        Mode::Prealloc => (true, true, 0),
    };
    let p = new_pool(cap, block, prealloc, queue);
    if prealloc {
        assert_eq!(stats(p).workers, cap as u32);
    }
    let pp = PoolPtr::new(p);
    let tokens: &'static [AtomicU8] = Box::leak((0..total).map(|_| AtomicU8::new(0)).collect());

    let producers: Vec<_> = (0..PRODUCERS)
        .map(|k| {
            std::thread::spawn(move || {
                let mut refused = 0u64;
                for t in &tokens[k * per_producer..(k + 1) * per_producer] {
                    loop {
                        match schedule(pp.get(), token_task, arg(t)) {
                            POOL_OK => break,
                            POOL_ERR_NO_IDLE_WORKER if !block => {
                                refused += 1;
                                std::thread::yield_now();
                            }
                            other => panic!("{mode:?} cap {cap}: unexpected status {other:?}"),
                        }
                    }
                }
                refused
            })
        })
        .collect();
    let refused: u64 = producers.into_iter().map(|h| h.join().unwrap()).sum();

    assert_eq!(wait(p), POOL_OK);
    let bad: Vec<(usize, u8)> = tokens
        .iter()
        .map(|t| t.load(SeqCst))
        .enumerate()
        .filter(|&(_, v)| v != 1)
        .take(10)
        .collect();
    assert!(
        bad.is_empty(),
        "{mode:?} cap {cap}: tasks lost or run twice (index, runs): {bad:?}"
    );
    let s = stats(p);
    assert_eq!(s.submitted, total as u64, "{mode:?} cap {cap}: submitted");
    assert_eq!(s.completed, total as u64, "{mode:?} cap {cap}: completed");
    assert_eq!(s.rejected, refused, "{mode:?} cap {cap}: rejected");
    assert_eq!(s.queued, 0);
    assert!(
        s.workers <= cap as u32,
        "{mode:?} cap {cap}: {} workers",
        s.workers
    );
    free_pool(p);
    assert!(tokens.iter().all(|t| t.load(SeqCst) == 1));
}

#[test]
fn nothing_lost_hand_off_cap2() {
    nothing_lost(Mode::HandOff, 2, 100_000);
}

#[test]
fn nothing_lost_hand_off_cap8() {
    nothing_lost(Mode::HandOff, 8, 100_000);
}

#[test]
fn nothing_lost_unbounded_cap2() {
    nothing_lost(Mode::Unbounded, 2, 100_000);
}

#[test]
fn nothing_lost_unbounded_cap8() {
    nothing_lost(Mode::Unbounded, 8, 100_000);
}

#[test]
fn nothing_lost_queue16_cap2() {
    nothing_lost(Mode::Queue16, 2, 100_000);
}

#[test]
fn nothing_lost_queue16_cap8() {
    nothing_lost(Mode::Queue16, 8, 100_000);
}

#[test]
fn nothing_lost_non_blocking_retry_cap2() {
    nothing_lost(Mode::NonBlockingRetry, 2, 100_000);
}

#[test]
fn nothing_lost_non_blocking_retry_cap8() {
    nothing_lost(Mode::NonBlockingRetry, 8, 100_000);
}

#[test]
fn nothing_lost_prealloc_cap2() {
    nothing_lost(Mode::Prealloc, 2, 100_000);
}

#[test]
fn nothing_lost_prealloc_cap8() {
    nothing_lost(Mode::Prealloc, 8, 100_000);
}

#[test]
fn schedulers_racing_with_free_get_ok_or_freed() {
    const BLOCKING_RACERS: usize = 6;
    const TRY_RACERS: usize = 2;
    for round in 0..30 {
        // Capacity 2, hand-off, blocking: the sentinel and a gated task fill
        // the pool, so every blocking racer is blocked when free starts.
        let p = new_pool(2, true, false, 0);
        let pp = PoolPtr::new(p);
        let sentinel = leak(Sentinel {
            racers: BLOCKING_RACERS + TRY_RACERS,
            ..Default::default()
        });
        let g = leak(Gated::new());
        assert_eq!(schedule(p, sentinel_task, arg(sentinel)), POOL_OK);
        assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
        wait_until("gated task running", || g.started() == 1);
        assert_eq!(stats(p).busy, 2);

        let count = leak(AtomicUsize::new(0));
        let mut entered = Vec::new();
        let mut racers = Vec::new();
        for i in 0..BLOCKING_RACERS {
            let e = leak(Flag::new());
            entered.push(e);
            racers.push(std::thread::spawn(move || {
                e.set();
                // Exactly one call each.
                let st = if i % 2 == 0 {
                    schedule(pp.get(), counter_task, arg(count))
                } else {
                    schedule_timeout(pp.get(), counter_task, arg(count), 600_000)
                };
                sentinel.racer_returned();
                vec![st]
            }));
        }
        for _ in 0..TRY_RACERS {
            racers.push(std::thread::spawn(move || {
                // Hammer until the pool says it is being freed.
                let mut seen = Vec::new();
                loop {
                    let st = try_schedule(pp.get(), counter_task, arg(count));
                    seen.push(st);
                    if st == POOL_ERR_FREED {
                        break;
                    }
                    std::thread::yield_now();
                }
                sentinel.racer_returned();
                seen
            }));
        }
        for e in &entered {
            wait_until("blocking racer started", || e.is_set());
        }

        // Free while the gate opens: a worker frees up at the same time as
        // the pool stops accepting, so racers may get in (OK) or be refused
        // (FREED).
        let freed = leak(StatusCell::new());
        let freer = std::thread::spawn(move || freed.set(unsafe { pool_free(pp.get()) }));
        if round % 2 == 0 {
            std::thread::yield_now();
        }
        g.open();
        wait_until("pool_free returned", || freed.is_set());
        assert_eq!(freed.get(), Some(POOL_OK));
        freer.join().unwrap();

        let mut ok = 0;
        for (i, h) in racers.into_iter().enumerate() {
            let statuses = h.join().unwrap();
            for st in statuses {
                if i < BLOCKING_RACERS {
                    assert!(
                        st == POOL_OK || st == POOL_ERR_FREED,
                        "round {round}: blocking racer {i} got {st:?}"
                    );
                } else {
                    assert!(
                        matches!(st, POOL_OK | POOL_ERR_FREED | POOL_ERR_NO_IDLE_WORKER),
                        "round {round}: try racer got {st:?}"
                    );
                }
                ok += usize::from(st == POOL_OK);
            }
        }
        assert_eq!(g.done(), 1);
        assert_eq!(
            count.load(SeqCst),
            ok,
            "round {round}: every accepted task ran before pool_free returned"
        );
    }
}

/// The fast schedule path racing with pool_free, and with its own stale
/// hint (tests/common/fast_path.rs; tests/faults.rs runs them again with
/// the hint switched off).
#[test]
fn fast_path_schedulers_racing_with_free() {
    fast_path::racing_with_free(30);
}

#[test]
fn fast_path_with_expiring_workers_loses_nothing() {
    fast_path::expiring_workers(200);
}
