//! Tuning options of the C ABI: idle expiry, resizing, stack size, thread
//! names and thread hooks.
//!
//! Everything is driven exactly as a C program would: raw pointers,
//! `unsafe extern "C" fn` tasks and hooks, `*mut c_void` arguments pointing
//! at test-owned state. That state is leaked so that a failing test can never
//! turn into a use-after-free on a worker still holding a pointer.
//!
//! Tasks and hooks never panic (a panic cannot unwind out of an
//! `extern "C" fn`): they record what they saw and the test asserts on it.
//!
//! Thread counting: tests run in parallel threads of one process, so a
//! test never compares the whole `/proc/self/task` count; it counts the
//! threads whose name starts with a prefix unique to that test (set with
//! `pool_options_set_thread_name`).

use std::collections::{BTreeSet, HashSet};
use std::ffi::{CStr, CString, c_int, c_void};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use workerpool::ffi::*;

mod common;
use common::threads::*;
use common::{DEADLINE, Gated, gated_task, in_own_process, run_bounded, wait_until};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const OK: pool_status = pool_status::POOL_OK;
const INVALID: pool_status = pool_status::POOL_ERR_INVALID;
const NO_IDLE: pool_status = pool_status::POOL_ERR_NO_IDLE_WORKER;
const SPAWN: pool_status = pool_status::POOL_ERR_SPAWN;

fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
}

/// A `*mut c_void` pointing at `r`, as C would pass `&state`.
fn arg<T>(r: &T) -> *mut c_void {
    r as *const T as *mut c_void
}

/// A pool handle that may cross threads (C does not care).
#[derive(Clone, Copy)]
struct PoolPtr(*mut pool_t);
unsafe impl Send for PoolPtr {}
unsafe impl Sync for PoolPtr {}
impl PoolPtr {
    fn get(self) -> *mut pool_t {
        self.0
    }
}

fn stats(pool: *mut pool_t) -> pool_stats {
    let mut s = pool_stats::default();
    unsafe { pool_get_stats(pool, &mut s) };
    s
}

/// Waits (bounded) until every accepted task has finished, then calls
/// `pool_wait`, which must then return at once. Polling first turns a
/// stranded task into a test failure instead of a hung test.
fn drain(pool: *mut pool_t) {
    let start = Instant::now();
    loop {
        let s = stats(pool);
        if s.completed == s.submitted {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "accepted tasks not finished after {DEADLINE:?}: {s:?}"
        );
        std::thread::sleep(Duration::from_micros(100));
    }
    assert_eq!(unsafe { pool_wait(pool) }, OK);
}

/// Builds an options object; `f` applies settings and asserts they succeed.
fn options(f: impl FnOnce(*mut pool_options_t)) -> *mut pool_options_t {
    let opts = pool_options_new();
    assert!(!opts.is_null());
    f(opts);
    opts
}

fn set_name(opts: *mut pool_options_t, prefix: &str) {
    let c = CString::new(prefix).unwrap();
    assert_eq!(
        unsafe { pool_options_set_thread_name(opts, c.as_ptr()) },
        OK
    );
}

/// `pool_new` with `opts`, which is freed right after (the pool copies it).
fn new_pool(capacity: c_int, opts: *mut pool_options_t) -> *mut pool_t {
    let pool = unsafe { pool_new(capacity, opts) };
    unsafe { pool_options_free(opts) };
    assert!(!pool.is_null(), "pool_new failed");
    pool
}

fn free_pool(pool: *mut pool_t) {
    assert_eq!(unsafe { pool_free(pool) }, OK);
}

unsafe extern "C" fn count_task(arg: *mut c_void) {
    let c = unsafe { &*(arg as *const AtomicUsize) };
    c.fetch_add(1, SeqCst);
}

/// A little work, then one increment.
unsafe extern "C" fn work_task(arg: *mut c_void) {
    let mut x: u64 = 1;
    for i in 0..500u64 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    std::hint::black_box(x);
    let c = unsafe { &*(arg as *const AtomicUsize) };
    c.fetch_add(1, SeqCst);
}

// ---------------------------------------------------------------------------
// 1. Idle expiry
// ---------------------------------------------------------------------------

#[test]
fn idle_workers_expire_and_pool_restarts_them_on_demand() {
    if !in_own_process("idle_workers_expire_and_pool_restarts_them_on_demand") {
        return;
    }
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_idle_timeout_ms(o, 20), OK);
        set_name(o, "tuexp");
    });
    let pool = new_pool(4, opts);
    assert_eq!(stats(pool).workers, 0, "lazy pool starts no thread");

    // Four concurrent tasks: four workers.
    let g = leak(Gated::default());
    for _ in 0..4 {
        assert_eq!(unsafe { pool_schedule(pool, Some(gated_task), arg(g)) }, OK);
    }
    wait_until("4 tasks running", || g.started.load(SeqCst) == 4);
    assert_eq!(stats(pool).workers, 4);
    g.gate.open();
    drain(pool);
    assert_eq!(g.done.load(SeqCst), 4);

    // Idle for longer than 20 ms: every worker leaves.
    wait_until("idle workers expired", || stats(pool).workers == 0);
    wait_until("expired threads gone", || threads_named("tuexp") == 0);

    // Workers come back on demand.
    let count = leak(AtomicUsize::new(0));
    for _ in 0..50 {
        assert_eq!(
            unsafe { pool_schedule(pool, Some(count_task), arg(count)) },
            OK
        );
    }
    drain(pool);
    assert_eq!(count.load(SeqCst), 50);
    let g2 = leak(Gated::default());
    for _ in 0..3 {
        assert_eq!(
            unsafe { pool_schedule(pool, Some(gated_task), arg(g2)) },
            OK
        );
    }
    wait_until("3 tasks running after expiry", || {
        g2.started.load(SeqCst) == 3
    });
    let s = stats(pool);
    assert!(s.workers >= 3, "workers restarted on demand: {s:?}");
    g2.gate.open();
    drain(pool);
    let s = stats(pool);
    assert_eq!(s.submitted, 4 + 50 + 3);
    assert_eq!(s.completed, 4 + 50 + 3);
    assert_eq!(s.rejected, 0);
    wait_until("expired again", || stats(pool).workers == 0);
    free_pool(pool);
    wait_until("no thread left", || threads_named("tuexp") == 0);
}

#[test]
fn prealloc_workers_expire_too() {
    if !in_own_process("prealloc_workers_expire_too") {
        return;
    }
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_prealloc(o, true), OK);
        assert_eq!(pool_options_set_idle_timeout_ms(o, 20), OK);
        set_name(o, "tupre");
    });
    let pool = new_pool(8, opts);
    // The preallocated workers exist right away; afterwards they expire.
    assert!(stats(pool).workers <= 8);
    wait_until("preallocated workers expired", || stats(pool).workers == 0);
    wait_until("expired threads gone", || threads_named("tupre") == 0);

    let count = leak(AtomicUsize::new(0));
    for _ in 0..20 {
        assert_eq!(
            unsafe { pool_schedule(pool, Some(count_task), arg(count)) },
            OK
        );
    }
    drain(pool);
    assert_eq!(count.load(SeqCst), 20);
    free_pool(pool);
    wait_until("no thread left", || threads_named("tupre") == 0);
}

#[test]
fn prealloc_workers_exist_before_pool_new_returns_without_timeout() {
    if !in_own_process("prealloc_workers_exist_before_pool_new_returns_without_timeout") {
        return;
    }
    // Control for the test above: without an idle timeout a preallocated
    // pool keeps all its workers.
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_prealloc(o, true), OK);
        set_name(o, "tuprk");
    });
    let pool = new_pool(6, opts);
    assert_eq!(stats(pool).workers, 6);
    wait_until("6 threads visible", || threads_named("tuprk") == 6);
    assert_eq!(stats(pool).workers, 6);
    free_pool(pool);
    wait_until("no thread left", || threads_named("tuprk") == 0);
}

/// A task handed to a worker at the moment it expires must still run:
/// 1 ms timeout, many rounds of schedule-then-wait separated by gaps around
/// the timeout, exact counts every round.
#[test]
fn task_given_to_expiring_worker_still_runs() {
    if !in_own_process("task_given_to_expiring_worker_still_runs") {
        return;
    }
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_idle_timeout_ms(o, 1), OK);
        set_name(o, "tuxst");
    });
    let pool = new_pool(4, opts);
    let count = leak(AtomicUsize::new(0));
    // Gaps sweep around the 1 ms timeout (the worker's sleep starts a
    // little after its last task, after a short spin).
    let gaps_us: Vec<u64> = (0..=20).map(|i| i * 100).collect();
    let mut expected = 0usize;
    for round in 0..2000usize {
        // Mostly one task (the riskiest: one idle worker, about to expire),
        // sometimes more tasks than workers.
        let n = if round % 4 == 3 { 1 + round % 6 } else { 1 };
        for _ in 0..n {
            assert_eq!(
                unsafe { pool_schedule(pool, Some(count_task), arg(count)) },
                OK
            );
        }
        expected += n;
        let start = Instant::now();
        while count.load(SeqCst) != expected {
            assert!(
                start.elapsed() < DEADLINE,
                "round {round}: {} of {expected} tasks ran after {DEADLINE:?}; stats {:?}",
                count.load(SeqCst),
                stats(pool)
            );
            std::thread::yield_now();
        }
        assert_eq!(unsafe { pool_wait(pool) }, OK);
        assert_eq!(count.load(SeqCst), expected, "round {round}");
        let gap = gaps_us[round % gaps_us.len()];
        if gap > 0 {
            // An idle gap so that workers expire (or are about to).
            std::thread::sleep(Duration::from_micros(gap));
        }
    }
    let s = stats(pool);
    assert_eq!(s.submitted, expected as u64);
    assert_eq!(s.completed, expected as u64);
    assert_eq!(s.rejected, 0);
    free_pool(pool);
    assert_eq!(count.load(SeqCst), expected);
    wait_until("no thread left", || threads_named("tuxst") == 0);
}

/// Same race from several scheduler threads at once, with the non-blocking
/// calls too: every OK is exactly one run.
#[test]
fn expiry_race_with_concurrent_schedulers_exact_counts() {
    if !in_own_process("expiry_race_with_concurrent_schedulers_exact_counts") {
        return;
    }
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_idle_timeout_ms(o, 1), OK);
        assert_eq!(pool_options_set_block(o, false), OK);
        set_name(o, "tuxcs");
    });
    let pool = PoolPtr(new_pool(3, opts));
    let count = leak(AtomicUsize::new(0));
    let accepted = leak(AtomicUsize::new(0));
    let refused = leak(AtomicUsize::new(0));
    let others = leak(AtomicUsize::new(0));
    let threads: Vec<_> = (0..3)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..400usize {
                    let st = unsafe {
                        match (i + t) % 3 {
                            0 => pool_schedule(pool.get(), Some(count_task), arg(count)),
                            1 => pool_try_schedule(pool.get(), Some(count_task), arg(count)),
                            _ => pool_schedule_timeout(
                                pool.get(),
                                Some(count_task),
                                arg(count),
                                1000,
                            ),
                        }
                    };
                    match st {
                        pool_status::POOL_OK => accepted.fetch_add(1, SeqCst),
                        pool_status::POOL_ERR_NO_IDLE_WORKER | pool_status::POOL_ERR_TIMEOUT => {
                            refused.fetch_add(1, SeqCst)
                        }
                        _ => others.fetch_add(1, SeqCst),
                    };
                    if i % 7 == 0 {
                        std::thread::sleep(Duration::from_micros(1000 + (i as u64 % 3) * 400));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drain(pool.get());
    assert_eq!(others.load(SeqCst), 0, "unexpected status");
    let s = stats(pool.get());
    assert_eq!(count.load(SeqCst), accepted.load(SeqCst));
    assert_eq!(s.submitted, accepted.load(SeqCst) as u64);
    assert_eq!(s.completed, accepted.load(SeqCst) as u64);
    assert_eq!(s.rejected, refused.load(SeqCst) as u64);
    assert_eq!(accepted.load(SeqCst) + refused.load(SeqCst), 1200);
    assert!(accepted.load(SeqCst) > 0);
    free_pool(pool.get());
    assert_eq!(count.load(SeqCst), accepted.load(SeqCst));
    wait_until("no thread left", || threads_named("tuxcs") == 0);
}

#[test]
fn idle_timeout_zero_means_never_expire() {
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_idle_timeout_ms(o, 0), OK);
    });
    let pool = new_pool(2, opts);
    let g = leak(Gated::default());
    for _ in 0..2 {
        assert_eq!(unsafe { pool_schedule(pool, Some(gated_task), arg(g)) }, OK);
    }
    wait_until("2 running", || g.started.load(SeqCst) == 2);
    g.gate.open();
    drain(pool);
    // Give a would-be expiry plenty of chances; the count must stay.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(stats(pool).workers, 2);
    free_pool(pool);
    assert_eq!(
        unsafe { pool_options_set_idle_timeout_ms(std::ptr::null_mut(), 5) },
        INVALID
    );
}

// ---------------------------------------------------------------------------
// 2. Resizing
// ---------------------------------------------------------------------------

#[test]
fn growing_lets_a_blocked_scheduler_in_at_once() {
    if !in_own_process("growing_lets_a_blocked_scheduler_in_at_once") {
        return;
    }
    let opts = options(|o| set_name(o, "tugrw"));
    let pool = PoolPtr(new_pool(1, opts));
    let g = leak(Gated::default());
    assert_eq!(
        unsafe { pool_schedule(pool.get(), Some(gated_task), arg(g)) },
        OK
    );
    wait_until("gated task running", || g.started.load(SeqCst) == 1);

    let count = leak(AtomicUsize::new(0));
    let entered = leak(AtomicBool::new(false));
    let status = leak(AtomicI32::new(-1));
    let scheduler = std::thread::spawn(move || {
        entered.store(true, SeqCst);
        let st = unsafe { pool_schedule(pool.get(), Some(count_task), arg(count)) };
        status.store(st as i32, SeqCst);
    });
    wait_until("scheduler started", || entered.load(SeqCst));
    // Let it reach the blocking wait (not needed for correctness: had it
    // not blocked yet, it would find room after the resize anyway).
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        status.load(SeqCst),
        -1,
        "blocking schedule on a full pool returned"
    );
    assert_eq!(count.load(SeqCst), 0);

    assert_eq!(unsafe { pool_set_capacity(pool.get(), 2) }, OK);
    wait_until("blocked scheduler returned", || status.load(SeqCst) != -1);
    assert_eq!(status.load(SeqCst), OK as i32);
    wait_until("its task ran", || count.load(SeqCst) == 1);
    // All of that while the gate is still closed.
    assert_eq!(g.done.load(SeqCst), 0);
    let s = stats(pool.get());
    assert_eq!(s.capacity, 2);
    assert_eq!(s.workers, 2);
    scheduler.join().unwrap();

    g.gate.open();
    drain(pool.get());
    assert_eq!(g.done.load(SeqCst), 1);
    free_pool(pool.get());
    wait_until("no thread left", || threads_named("tugrw") == 0);
}

#[test]
fn growing_wakes_every_blocked_scheduler() {
    if !in_own_process("growing_wakes_every_blocked_scheduler") {
        return;
    }
    let opts = options(|o| set_name(o, "tugr3"));
    let pool = PoolPtr(new_pool(1, opts));
    let g = leak(Gated::default());
    assert_eq!(
        unsafe { pool_schedule(pool.get(), Some(gated_task), arg(g)) },
        OK
    );
    wait_until("first running", || g.started.load(SeqCst) == 1);
    let returned = leak(AtomicUsize::new(0));
    let bad = leak(AtomicUsize::new(0));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || {
                let st = unsafe { pool_schedule(pool.get(), Some(gated_task), arg(g)) };
                if st != OK {
                    bad.fetch_add(1, SeqCst);
                }
                returned.fetch_add(1, SeqCst);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(returned.load(SeqCst), 0, "schedulers must be blocked");
    assert_eq!(unsafe { pool_set_capacity(pool.get(), 4) }, OK);
    wait_until("all 3 schedulers returned", || returned.load(SeqCst) == 3);
    wait_until("4 gated tasks running", || g.started.load(SeqCst) == 4);
    assert_eq!(bad.load(SeqCst), 0);
    assert_eq!(g.done.load(SeqCst), 0);
    assert_eq!(stats(pool.get()).workers, 4);
    for t in threads {
        t.join().unwrap();
    }
    g.gate.open();
    drain(pool.get());
    assert_eq!(g.done.load(SeqCst), 4);
    free_pool(pool.get());
    wait_until("no thread left", || threads_named("tugr3") == 0);
}

#[test]
fn shrinking_retires_idle_workers_at_once() {
    if !in_own_process("shrinking_retires_idle_workers_at_once") {
        return;
    }
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_prealloc(o, true), OK);
        set_name(o, "tushi");
    });
    let pool = new_pool(8, opts);
    assert_eq!(stats(pool).workers, 8);
    assert_eq!(unsafe { pool_set_capacity(pool, 2) }, OK);
    // "At once": the idle workers are counted out when the call returns.
    let s = stats(pool);
    assert_eq!((s.capacity, s.workers), (2, 2));
    wait_until("retired threads exited", || threads_named("tushi") == 2);

    // The two left still work, and no third one is started.
    let g = leak(Gated::default());
    for _ in 0..2 {
        assert_eq!(unsafe { pool_schedule(pool, Some(gated_task), arg(g)) }, OK);
    }
    wait_until("2 running", || g.started.load(SeqCst) == 2);
    assert_eq!(
        unsafe { pool_try_schedule(pool, Some(gated_task), arg(g)) },
        NO_IDLE
    );
    assert_eq!(stats(pool).workers, 2);
    g.gate.open();
    drain(pool);
    assert_eq!(g.done.load(SeqCst), 2);
    free_pool(pool);
    wait_until("no thread left", || threads_named("tushi") == 0);
}

/// The usual sequence in a program: run a batch, wait for it, shrink. The
/// workers have just finished their tasks and are still looking for more
/// (not yet asleep) when the shrink comes: they are counted out before
/// `pool_set_capacity` returns all the same. In hand-off mode (a line per
/// worker, `mailbox.rs`) and with a queue (sleepers, `sleep.rs`).
#[test]
fn shrinking_after_a_batch_retires_the_idle_workers_at_once() {
    if !in_own_process("shrinking_after_a_batch_retires_the_idle_workers_at_once") {
        return;
    }
    for round in 0..40 {
        let queue = if round % 2 == 0 { 0 } else { usize::MAX };
        let pool = new_pool(
            8,
            options(|o| unsafe {
                assert_eq!(pool_options_set_queue_size(o, queue), OK);
                set_name(o, "tushb2");
            }),
        );
        let count = leak(AtomicUsize::new(0));
        for _ in 0..64 {
            assert_eq!(
                unsafe { pool_schedule(pool, Some(count_task), arg(count)) },
                OK
            );
        }
        assert_eq!(unsafe { pool_wait(pool) }, OK);
        assert_eq!(unsafe { pool_set_capacity(pool, 1) }, OK);
        let s = stats(pool);
        assert!(s.workers <= 1, "round {round}: {s:?}");
        assert_eq!(count.load(SeqCst), 64);
        free_pool(pool);
    }
    wait_until("no thread left", || threads_named("tushb2") == 0);
}

static START_HOOK_LOCK: Mutex<()> = Mutex::new(());

unsafe extern "C" fn start_hook_takes_lock(_: *mut c_void) {
    drop(START_HOOK_LOCK.lock().unwrap_or_else(|p| p.into_inner()));
}

/// A shrink does not wait for workers inside `on_start`: a hook may wait for
/// the very thread that shrinks (here, for a lock it holds, as Python's GIL
/// would be). They leave once the hook returns.
#[test]
fn shrinking_does_not_wait_for_workers_in_their_start_hook() {
    if !in_own_process("shrinking_does_not_wait_for_workers_in_their_start_hook") {
        return;
    }
    let held = START_HOOK_LOCK.lock().unwrap();
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_prealloc(o, true), OK);
        assert_eq!(
            pool_options_set_thread_hooks(
                o,
                Some(start_hook_takes_lock),
                None,
                std::ptr::null_mut()
            ),
            OK
        );
        set_name(o, "tuhook");
    });
    // Returns with both workers named and blocked in their hook.
    let pool = PoolPtr(new_pool(2, opts));
    let status = run_bounded(
        "pool_set_capacity beside blocked start hooks",
        move || unsafe { pool_set_capacity(pool.get(), 1) },
    );
    assert_eq!(status, OK);
    drop(held);
    wait_until("a worker retired after its hook", || {
        stats(pool.get()).workers == 1
    });
    free_pool(pool.get());
    wait_until("no thread left", || threads_named("tuhook") == 0);
}

#[test]
fn shrinking_retires_busy_workers_after_their_task() {
    if !in_own_process("shrinking_retires_busy_workers_after_their_task") {
        return;
    }
    let opts = options(|o| set_name(o, "tushb"));
    let pool = new_pool(8, opts);
    let g = leak(Gated::default());
    for _ in 0..8 {
        assert_eq!(unsafe { pool_schedule(pool, Some(gated_task), arg(g)) }, OK);
    }
    wait_until("8 running", || g.started.load(SeqCst) == 8);
    assert_eq!(unsafe { pool_set_capacity(pool, 2) }, OK);
    let s = stats(pool);
    assert_eq!(s.capacity, 2);
    // Busy workers finish their task first: nobody has left yet.
    assert_eq!(s.workers, 8);
    assert_eq!(s.busy, 8);
    assert_eq!(g.done.load(SeqCst), 0);

    g.gate.open();
    wait_until("8 done", || g.done.load(SeqCst) == 8);
    drain(pool);
    wait_until("workers down to 2", || stats(pool).workers == 2);
    wait_until("retired threads exited", || threads_named("tushb") == 2);
    // And it stays at 2 under load.
    let count = leak(AtomicUsize::new(0));
    for _ in 0..100 {
        assert_eq!(
            unsafe { pool_schedule(pool, Some(work_task), arg(count)) },
            OK
        );
    }
    drain(pool);
    assert_eq!(count.load(SeqCst), 100);
    assert!(stats(pool).workers <= 2);
    free_pool(pool);
    wait_until("no thread left", || threads_named("tushb") == 0);
}

#[test]
fn try_schedule_sees_the_new_capacity_immediately() {
    // Lazy pool: one busy worker, capacity 4 -> 1.
    let pool = new_pool(4, options(|_| {}));
    let g = leak(Gated::default());
    assert_eq!(unsafe { pool_schedule(pool, Some(gated_task), arg(g)) }, OK);
    wait_until("running", || g.started.load(SeqCst) == 1);
    assert_eq!(unsafe { pool_set_capacity(pool, 1) }, OK);
    let count = leak(AtomicUsize::new(0));
    assert_eq!(
        unsafe { pool_try_schedule(pool, Some(count_task), arg(count)) },
        NO_IDLE
    );
    assert_eq!(
        unsafe { pool_schedule_timeout(pool, Some(count_task), arg(count), 0) },
        pool_status::POOL_ERR_TIMEOUT
    );
    assert_eq!(stats(pool).rejected, 2);
    g.gate.open();
    drain(pool);
    assert_eq!(count.load(SeqCst), 0);
    free_pool(pool);

    // Preallocated pool: idle workers have not necessarily left yet when
    // try_schedule runs, and still must not be used beyond the capacity.
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_prealloc(o, true), OK);
        assert_eq!(pool_options_set_block(o, false), OK);
    });
    let pool = new_pool(4, opts);
    let g = leak(Gated::default());
    assert_eq!(unsafe { pool_schedule(pool, Some(gated_task), arg(g)) }, OK);
    wait_until("running", || g.started.load(SeqCst) == 1);
    assert_eq!(unsafe { pool_set_capacity(pool, 1) }, OK);
    assert_eq!(
        unsafe { pool_try_schedule(pool, Some(count_task), arg(count)) },
        NO_IDLE
    );
    // Non-blocking pool: plain schedule refuses too.
    assert_eq!(
        unsafe { pool_schedule(pool, Some(count_task), arg(count)) },
        NO_IDLE
    );
    g.gate.open();
    drain(pool);
    assert_eq!(count.load(SeqCst), 0);
    // Once the busy task is done there is room again.
    assert_eq!(
        unsafe { pool_try_schedule(pool, Some(count_task), arg(count)) },
        OK
    );
    drain(pool);
    assert_eq!(count.load(SeqCst), 1);
    free_pool(pool);
}

#[test]
fn set_capacity_clamps_and_rejects_null() {
    let pool = new_pool(5, options(|_| {}));
    assert_eq!(stats(pool).capacity, 5);
    let cases: [(c_int, u32); 8] = [
        (0, 100),
        (20000, 10000),
        (-1, 100),
        (-12345, 100),
        (c_int::MIN, 100),
        (c_int::MAX, 10000),
        (10000, 10000),
        (7, 7),
    ];
    for (asked, got) in cases {
        assert_eq!(unsafe { pool_set_capacity(pool, asked) }, OK, "{asked}");
        assert_eq!(stats(pool).capacity, got, "set_capacity({asked})");
    }
    assert_eq!(
        unsafe { pool_set_capacity(std::ptr::null_mut(), 4) },
        INVALID
    );
    assert_eq!(stats(pool).capacity, 7);
    free_pool(pool);

    // pool_new clamps the same way.
    for (asked, got) in [(0, 100u32), (-3, 100), (20000, 10000), (3, 3)] {
        let pool = unsafe { pool_new(asked, std::ptr::null()) };
        assert!(!pool.is_null());
        assert_eq!(stats(pool).capacity, got, "pool_new({asked})");
        free_pool(pool);
    }
}

/// Schedulers hammer a pool (with a queue and a 1 ms idle timeout) while
/// another thread keeps resizing it: no task lost or run twice, and every
/// thread gone after pool_free.
#[test]
fn no_task_lost_and_no_thread_leaked_while_resizing() {
    if !in_own_process("no_task_lost_and_no_thread_leaked_while_resizing") {
        return;
    }
    let prefix = "turez";
    assert_eq!(threads_named(prefix), 0);
    let hooks = leak(HookLog::default());
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_idle_timeout_ms(o, 1), OK);
        assert_eq!(pool_options_set_queue_size(o, 8), OK);
        assert_eq!(
            pool_options_set_thread_hooks(o, Some(log_start), Some(log_exit), arg(hooks)),
            OK
        );
        set_name(o, prefix);
    });
    let pool = PoolPtr(new_pool(4, opts));
    let count = leak(AtomicUsize::new(0));
    let stop = leak(AtomicBool::new(false));
    let bad = leak(AtomicUsize::new(0));
    const PER_THREAD: usize = 1500;
    let schedulers: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    if unsafe { pool_schedule(pool.get(), Some(work_task), arg(count)) } != OK {
                        bad.fetch_add(1, SeqCst);
                    }
                }
            })
        })
        .collect();
    let resizer = std::thread::spawn(move || {
        let sizes: [c_int; 8] = [1, 3, 2, 8, 1, 0, 5, 2];
        let mut i = 0;
        let mut resizes = 0usize;
        while !stop.load(SeqCst) {
            if unsafe { pool_set_capacity(pool.get(), sizes[i % sizes.len()]) } != OK {
                bad.fetch_add(1, SeqCst);
            }
            i += 1;
            resizes += 1;
            std::thread::sleep(Duration::from_micros(300));
        }
        resizes
    });
    for t in schedulers {
        t.join().unwrap();
    }
    stop.store(true, SeqCst);
    let resizes = resizer.join().unwrap();
    assert!(resizes > 0);
    assert_eq!(bad.load(SeqCst), 0, "a schedule or resize failed");
    drain(pool.get());
    let total = 3 * PER_THREAD;
    assert_eq!(count.load(SeqCst), total);
    let s = stats(pool.get());
    assert_eq!(s.submitted, total as u64);
    assert_eq!(s.completed, total as u64);
    assert_eq!(s.rejected, 0);
    assert_eq!(s.queued, 0);
    free_pool(pool.get());
    assert_eq!(count.load(SeqCst), total, "tasks ran after pool_free");
    hooks.check_balanced("resize churn");
    wait_until("no pool thread left after pool_free", || {
        threads_named(prefix) == 0
    });
}

// ---------------------------------------------------------------------------
// 3. Stack size
// ---------------------------------------------------------------------------

#[derive(Default)]
struct StackProbe {
    gated: Gated,
    min: AtomicUsize,
    max: AtomicUsize,
    seen: AtomicUsize,
}

unsafe extern "C" fn stack_probe_task(arg: *mut c_void) {
    let p = unsafe { &*(arg as *const StackProbe) };
    let size = own_stack_size();
    p.min.fetch_min(size, SeqCst);
    p.max.fetch_max(size, SeqCst);
    p.seen.fetch_add(1, SeqCst);
    // Keep the worker busy so every probe runs on a distinct worker.
    p.gated.started.fetch_add(1, SeqCst);
    p.gated.gate.wait();
    p.gated.done.fetch_add(1, SeqCst);
}

fn check_stack_size(prealloc: bool) {
    const ASKED: usize = 256 * 1024;
    const DEFAULT: usize = 8 * 1024 * 1024;
    const N: usize = 8;
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_stack_size(o, ASKED), OK);
        assert_eq!(pool_options_set_prealloc(o, prealloc), OK);
    });
    let pool = new_pool(N as c_int, opts);
    let probe = leak(StackProbe {
        min: AtomicUsize::new(usize::MAX),
        ..Default::default()
    });
    for _ in 0..N {
        assert_eq!(
            unsafe { pool_schedule(pool, Some(stack_probe_task), arg(probe)) },
            OK
        );
    }
    wait_until("all probes running", || {
        probe.gated.started.load(SeqCst) == N
    });
    assert_eq!(stats(pool).workers, N as u32);
    probe.gated.gate.open();
    drain(pool);
    free_pool(pool);
    let (min, max) = (probe.min.load(SeqCst), probe.max.load(SeqCst));
    assert_eq!(probe.seen.load(SeqCst), N);
    assert!(
        min >= ASKED,
        "prealloc={prealloc}: a worker has a {min}-byte stack, asked {ASKED}"
    );
    assert!(
        max < DEFAULT,
        "prealloc={prealloc}: a worker has a {max}-byte stack: the option was ignored"
    );
}

#[test]
fn stack_size_is_honoured_for_every_worker_lazy() {
    check_stack_size(false);
}

#[test]
fn stack_size_is_honoured_for_every_worker_prealloc() {
    check_stack_size(true);
}

#[test]
fn tiny_stack_size_is_rounded_up_and_works() {
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_stack_size(o, 1), OK);
    });
    let pool = new_pool(2, opts);
    let count = leak(AtomicUsize::new(0));
    for _ in 0..10 {
        assert_eq!(
            unsafe { pool_schedule(pool, Some(count_task), arg(count)) },
            OK
        );
    }
    drain(pool);
    assert_eq!(count.load(SeqCst), 10);
    free_pool(pool);
}

#[test]
fn stack_size_range() {
    let opts = pool_options_new();
    let tib: usize = 1 << 40;
    unsafe {
        assert_eq!(pool_options_set_stack_size(opts, 0), OK);
        assert_eq!(pool_options_set_stack_size(opts, 64 * 1024), OK);
        assert_eq!(pool_options_set_stack_size(opts, tib), OK);
        assert_eq!(pool_options_set_stack_size(opts, tib + 1), INVALID);
        assert_eq!(pool_options_set_stack_size(opts, 2 * tib), INVALID);
        assert_eq!(pool_options_set_stack_size(opts, usize::MAX), INVALID);
        assert_eq!(
            pool_options_set_stack_size(std::ptr::null_mut(), 4096),
            INVALID
        );
        // A refused value leaves the options usable and unchanged: still 1 TiB
        // would be refused by the OS, so set a sane one and build.
        assert_eq!(pool_options_set_stack_size(opts, 256 * 1024), OK);
        assert_eq!(pool_options_set_stack_size(opts, usize::MAX), INVALID);
    }
    let probe = leak(StackProbe {
        min: AtomicUsize::new(usize::MAX),
        ..Default::default()
    });
    let pool = new_pool(1, opts);
    probe.gated.gate.open();
    assert_eq!(
        unsafe { pool_schedule(pool, Some(stack_probe_task), arg(probe)) },
        OK
    );
    drain(pool);
    free_pool(pool);
    let size = probe.min.load(SeqCst);
    assert!(
        (256 * 1024..8 * 1024 * 1024).contains(&size),
        "an INVALID stack size changed the options: stack {size}"
    );
}

/// The largest stack size the options accept (1 TiB): refused by the OS
/// unless the machine overcommits without limit.
const HUGE_STACK: usize = 1 << 40;

/// Whether the OS refuses a thread with `HUGE_STACK` bytes of stack.
fn os_refuses_huge_stack() -> bool {
    match std::thread::Builder::new()
        .stack_size(HUGE_STACK)
        .spawn(|| {})
    {
        Ok(handle) => {
            handle.join().unwrap();
            false
        }
        Err(_) => true,
    }
}

#[test]
fn stack_size_refused_by_os_gives_spawn_error_lazy() {
    if !in_own_process("stack_size_refused_by_os_gives_spawn_error_lazy") {
        return;
    }
    if !os_refuses_huge_stack() {
        eprintln!("SKIPPED: this OS accepts a {HUGE_STACK}-byte thread stack");
        return;
    }
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_stack_size(o, HUGE_STACK), OK);
        set_name(o, "tubig");
    });
    let pool = new_pool(4, opts);
    let count = leak(AtomicUsize::new(0));
    unsafe {
        assert_eq!(pool_schedule(pool, Some(count_task), arg(count)), SPAWN);
        assert_eq!(pool_try_schedule(pool, Some(count_task), arg(count)), SPAWN);
        assert_eq!(
            pool_schedule_timeout(pool, Some(count_task), arg(count), 10),
            SPAWN
        );
    }
    let s = stats(pool);
    assert_eq!(s.workers, 0);
    assert_eq!(s.submitted, 0);
    assert_eq!(s.completed, 0);
    assert_eq!(s.busy, 0);
    assert_eq!(s.queued, 0);
    // Nothing pending: wait returns at once, free works.
    assert_eq!(unsafe { pool_wait(pool) }, OK);
    free_pool(pool);
    assert_eq!(count.load(SeqCst), 0);
    assert_eq!(threads_named("tubig"), 0);
}

#[test]
fn stack_size_refused_by_os_gives_null_eagain_prealloc() {
    if !in_own_process("stack_size_refused_by_os_gives_null_eagain_prealloc") {
        return;
    }
    if !os_refuses_huge_stack() {
        eprintln!("SKIPPED: this OS accepts a {HUGE_STACK}-byte thread stack");
        return;
    }
    let hooks = leak(HookLog::default());
    let opts = options(|o| unsafe {
        assert_eq!(pool_options_set_stack_size(o, HUGE_STACK), OK);
        assert_eq!(pool_options_set_prealloc(o, true), OK);
        assert_eq!(
            pool_options_set_thread_hooks(o, Some(log_start), Some(log_exit), arg(hooks)),
            OK
        );
        set_name(o, "tubgp");
    });
    set_errno(0);
    let pool = unsafe { pool_new(4, opts) };
    let e = errno();
    assert!(pool.is_null(), "pool_new must fail");
    assert_eq!(e, libc::EAGAIN, "errno");
    assert_eq!(threads_named("tubgp"), 0);
    assert_eq!(hooks.starts.lock().unwrap().len(), 0);
    // The options are still usable after the failure.
    unsafe {
        assert_eq!(pool_options_set_stack_size(opts, 0), OK);
        let pool = pool_new(2, opts);
        assert!(!pool.is_null());
        assert_eq!(stats(pool).workers, 2);
        free_pool(pool);
        pool_options_free(opts);
    }
    hooks.check_balanced("prealloc after refused stack");
}

// ---------------------------------------------------------------------------
// 4. Thread names
// ---------------------------------------------------------------------------

#[derive(Default)]
struct NameProbe {
    gated: Gated,
    names: Mutex<Vec<String>>,
}

unsafe extern "C" fn name_probe_task(arg: *mut c_void) {
    let p = unsafe { &*(arg as *const NameProbe) };
    let comm = own_comm();
    p.names.lock().unwrap_or_else(|e| e.into_inner()).push(comm);
    p.gated.started.fetch_add(1, SeqCst);
    p.gated.gate.wait();
    p.gated.done.fetch_add(1, SeqCst);
}

/// Runs `n` concurrent name probes on a pool built from `opts` and returns
/// the names the tasks saw, plus those `/proc/self/task/*/comm` shows.
fn probe_names(opts: *mut pool_options_t, n: usize) -> (BTreeSet<String>, Vec<String>) {
    let pool = if opts.is_null() {
        unsafe { pool_new(n as c_int, std::ptr::null()) }
    } else {
        new_pool(n as c_int, opts)
    };
    assert!(!pool.is_null());
    let probe = leak(NameProbe::default());
    for _ in 0..n {
        assert_eq!(
            unsafe { pool_schedule(pool, Some(name_probe_task), arg(probe)) },
            OK
        );
    }
    wait_until("probes running", || probe.gated.started.load(SeqCst) == n);
    let seen = probe.names.lock().unwrap().clone();
    let from_proc: BTreeSet<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
        .map(|c| c.trim_end_matches('\n').to_owned())
        .collect();
    probe.gated.gate.open();
    drain(pool);
    free_pool(pool);
    (from_proc, seen)
}

#[test]
fn threads_are_named_prefix_dash_n() {
    if !in_own_process("threads_are_named_prefix_dash_n") {
        return;
    }
    let opts = options(|o| set_name(o, "tuname"));
    let (from_proc, seen) = probe_names(opts, 4);
    let seen: BTreeSet<String> = seen.into_iter().collect();
    let expected: BTreeSet<String> = (0..4).map(|i| format!("tuname-{i}")).collect();
    assert_eq!(seen, expected, "names seen by the tasks");
    for name in &expected {
        assert!(
            from_proc.contains(name),
            "{name} not in /proc/self/task/*/comm"
        );
    }
    // pthread_join returns when the thread has exited; the kernel drops it
    // from /proc/self/task a moment later.
    wait_until("no thread left", || threads_named("tuname") == 0);
}

/// A preallocating `pool_new` returns once every thread it started runs
/// under its name: a program listing its threads right after it finds them
/// all, with no wait.
#[test]
fn prealloc_threads_are_named_when_pool_new_returns() {
    if !in_own_process("prealloc_threads_are_named_when_pool_new_returns") {
        return;
    }
    for round in 0..20 {
        let opts = options(|o| {
            set_name(o, "tuready");
            unsafe { assert_eq!(pool_options_set_prealloc(o, true), OK) };
        });
        let pool = new_pool(8, opts);
        assert_eq!(threads_named("tuready"), 8, "round {round}");
        free_pool(pool);
        wait_until("no thread left", || threads_named("tuready") == 0);
    }
}

#[test]
fn numbering_restarts_for_each_pool() {
    if !in_own_process("numbering_restarts_for_each_pool") {
        return;
    }
    for _ in 0..2 {
        let opts = options(|o| set_name(o, "tunum"));
        let (_, seen) = probe_names(opts, 2);
        let seen: BTreeSet<String> = seen.into_iter().collect();
        let expected: BTreeSet<String> = ["tunum-0", "tunum-1"].map(String::from).into();
        assert_eq!(seen, expected);
    }
}

#[test]
fn long_prefix_is_cut_not_refused() {
    if !in_own_process("long_prefix_is_cut_not_refused") {
        return;
    }
    let long = "tulongprefixthatgoesonandon"; // 27 bytes
    let opts = options(|o| set_name(o, long));
    let (_, seen) = probe_names(opts, 1);
    assert_eq!(seen.len(), 1);
    // Linux keeps 15 bytes of "<prefix>-0".
    assert_eq!(seen[0], &format!("{long}-0")[..15]);

    // Exactly 15 bytes of prefix: the "-<n>" is what gets cut.
    let fifteen = "tu3456789abcdef";
    assert_eq!(fifteen.len(), 15);
    let opts = options(|o| set_name(o, fifteen));
    let (_, seen) = probe_names(opts, 1);
    assert_eq!(seen, vec![fifteen.to_owned()]);
}

#[test]
fn thread_name_null_or_empty_is_invalid_and_default_is_workerpool() {
    if !in_own_process("thread_name_null_or_empty_is_invalid_and_default_is_workerpool") {
        return;
    }
    let opts = pool_options_new();
    unsafe {
        assert_eq!(
            pool_options_set_thread_name(opts, std::ptr::null()),
            INVALID
        );
        assert_eq!(pool_options_set_thread_name(opts, c"".as_ptr()), INVALID);
        assert_eq!(
            pool_options_set_thread_name(std::ptr::null_mut(), c"x".as_ptr()),
            INVALID
        );
    }
    // Nothing was changed by the refused calls: still the default name.
    let (_, seen) = probe_names(opts, 1);
    assert_eq!(seen, vec!["workerpool-0".to_owned()]);

    // Default options object.
    let (_, seen) = probe_names(pool_options_new(), 2);
    let seen: BTreeSet<String> = seen.into_iter().collect();
    assert_eq!(
        seen,
        ["workerpool-0", "workerpool-1"].map(String::from).into()
    );

    // NULL options.
    let (_, seen) = probe_names(std::ptr::null_mut(), 1);
    assert_eq!(seen, vec!["workerpool-0".to_owned()]);
}

#[test]
fn thread_name_is_copied() {
    if !in_own_process("thread_name_is_copied") {
        return;
    }
    let opts = pool_options_new();
    let mut buf = *b"tucopy\0";
    unsafe {
        assert_eq!(pool_options_set_thread_name(opts, buf.as_ptr().cast()), OK);
    }
    buf.copy_from_slice(b"XXXXXX\0");
    let (_, seen) = probe_names(opts, 1);
    assert_eq!(seen, vec!["tucopy-0".to_owned()]);
    assert_eq!(
        CStr::from_bytes_with_nul(&buf).unwrap().to_str().unwrap(),
        "XXXXXX"
    );
}

// ---------------------------------------------------------------------------
// 5. Hooks
// ---------------------------------------------------------------------------

thread_local! {
    /// Address of the `HookLog` whose `on_start` ran on this thread; set to
    /// `EXITED` by `on_exit`.
    static HOOK_OWNER: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}
const EXITED: usize = usize::MAX;

/// What the hooks and tasks of one pool recorded.
#[derive(Default)]
struct HookLog {
    /// `thread_key()` of each on_start / on_exit call.
    starts: Mutex<Vec<(i32, u64)>>,
    exits: Mutex<Vec<(i32, u64)>>,
    /// Incremented last in on_exit (after a short delay), to see whether
    /// pool_free waits for every on_exit to return.
    exits_returned: AtomicUsize,
    /// Delay in on_exit, in microseconds.
    exit_delay_us: AtomicUsize,
    /// Tasks that ran on a thread whose on_start had not run (for this
    /// pool), or whose on_exit had already run.
    task_errors: AtomicUsize,
    /// on_exit calls on a thread without this pool's on_start.
    exit_errors: AtomicUsize,
    task_tids: Mutex<HashSet<(i32, u64)>>,
    tasks_run: AtomicUsize,
    gated: Gated,
}

impl HookLog {
    fn started(&self) -> usize {
        self.starts.lock().unwrap().len()
    }
    fn exited(&self) -> usize {
        self.exits.lock().unwrap().len()
    }
    /// Every thread ran on_start once and on_exit once, and every task ran
    /// between the two on its thread.
    fn check_balanced(&self, what: &str) {
        let starts = self.starts.lock().unwrap().clone();
        let exits = self.exits.lock().unwrap().clone();
        let start_set: BTreeSet<(i32, u64)> = starts.iter().copied().collect();
        let exit_set: BTreeSet<(i32, u64)> = exits.iter().copied().collect();
        assert_eq!(start_set.len(), starts.len(), "{what}: on_start twice");
        assert_eq!(exit_set.len(), exits.len(), "{what}: on_exit twice");
        assert_eq!(start_set, exit_set, "{what}: on_start/on_exit threads");
        assert_eq!(
            self.exits_returned.load(SeqCst),
            exits.len(),
            "{what}: on_exit returned"
        );
        assert_eq!(
            self.task_errors.load(SeqCst),
            0,
            "{what}: task outside hooks"
        );
        assert_eq!(
            self.exit_errors.load(SeqCst),
            0,
            "{what}: on_exit without on_start"
        );
        let tids = self.task_tids.lock().unwrap();
        assert!(
            tids.is_subset(&HashSet::from_iter(start_set)),
            "{what}: task tids"
        );
    }
}

unsafe extern "C" fn log_start(ctx: *mut c_void) {
    let log = unsafe { &*(ctx as *const HookLog) };
    HOOK_OWNER.with(|o| o.set(ctx as usize));
    log.starts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(thread_key());
}

unsafe extern "C" fn log_exit(ctx: *mut c_void) {
    let log = unsafe { &*(ctx as *const HookLog) };
    if HOOK_OWNER.with(|o| o.get()) != ctx as usize {
        log.exit_errors.fetch_add(1, SeqCst);
    }
    HOOK_OWNER.with(|o| o.set(EXITED));
    log.exits
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(thread_key());
    let delay = log.exit_delay_us.load(SeqCst);
    if delay > 0 {
        std::thread::sleep(Duration::from_micros(delay as u64));
    }
    log.exits_returned.fetch_add(1, SeqCst);
}

fn note_task(log: &HookLog) {
    if HOOK_OWNER.with(|o| o.get()) != log as *const HookLog as usize {
        log.task_errors.fetch_add(1, SeqCst);
    }
    log.task_tids
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(thread_key());
    log.tasks_run.fetch_add(1, SeqCst);
}

/// Task: `arg` is the pool's `HookLog`.
unsafe extern "C" fn hooked_task(arg: *mut c_void) {
    let log = unsafe { &*(arg as *const HookLog) };
    note_task(log);
}

/// Task: `arg` is the pool's `HookLog`; blocks on its gate.
unsafe extern "C" fn hooked_gated_task(arg: *mut c_void) {
    let log = unsafe { &*(arg as *const HookLog) };
    note_task(log);
    log.gated.started.fetch_add(1, SeqCst);
    log.gated.gate.wait();
    log.gated.done.fetch_add(1, SeqCst);
}

fn hooked_options(log: &'static HookLog, prefix: &str) -> *mut pool_options_t {
    options(|o| unsafe {
        assert_eq!(
            pool_options_set_thread_hooks(o, Some(log_start), Some(log_exit), arg(log)),
            OK
        );
        set_name(o, prefix);
    })
}

#[test]
fn hooks_run_once_per_thread_around_its_tasks() {
    let log = leak(HookLog::default());
    log.exit_delay_us.store(2000, SeqCst);
    let pool = new_pool(4, hooked_options(log, "tuhk1"));
    assert_eq!(log.started(), 0, "lazy pool: no thread yet");
    for _ in 0..4 {
        assert_eq!(
            unsafe { pool_schedule(pool, Some(hooked_gated_task), arg(log)) },
            OK
        );
    }
    wait_until("4 running", || log.gated.started.load(SeqCst) == 4);
    assert_eq!(log.started(), 4);
    assert_eq!(log.exited(), 0);
    log.gated.gate.open();
    for _ in 0..200 {
        assert_eq!(
            unsafe { pool_schedule(pool, Some(hooked_task), arg(log)) },
            OK
        );
    }
    drain(pool);
    assert_eq!(log.tasks_run.load(SeqCst), 204);
    free_pool(pool);
    // Right after pool_free: every on_exit has returned.
    assert_eq!(log.exits_returned.load(SeqCst), log.started());
    assert_eq!(log.started(), 4);
    log.check_balanced("plain");
}

#[test]
fn hooks_run_on_preallocated_workers() {
    let log = leak(HookLog::default());
    let opts = hooked_options(log, "tuhk2");
    unsafe { assert_eq!(pool_options_set_prealloc(opts, true), OK) };
    let pool = new_pool(3, opts);
    wait_until("3 on_start", || log.started() == 3);
    for _ in 0..30 {
        assert_eq!(
            unsafe { pool_schedule(pool, Some(hooked_task), arg(log)) },
            OK
        );
    }
    drain(pool);
    log.exit_delay_us.store(5000, SeqCst);
    free_pool(pool);
    assert_eq!(log.exits_returned.load(SeqCst), 3);
    log.check_balanced("prealloc");
}

#[test]
fn hooks_cover_expired_and_retired_threads() {
    if !in_own_process("hooks_cover_expired_and_retired_threads") {
        return;
    }
    let log = leak(HookLog::default());
    let opts = hooked_options(log, "tuhk3");
    unsafe { assert_eq!(pool_options_set_idle_timeout_ms(opts, 10), OK) };
    let pool = new_pool(8, opts);

    // Round 1: 8 busy workers, shrink to 2, release: 6 retire after their
    // task and run on_exit (before pool_free).
    for _ in 0..8 {
        assert_eq!(
            unsafe { pool_schedule(pool, Some(hooked_gated_task), arg(log)) },
            OK
        );
    }
    wait_until("8 running", || log.gated.started.load(SeqCst) == 8);
    assert_eq!(log.started(), 8);
    assert_eq!(unsafe { pool_set_capacity(pool, 2) }, OK);
    log.gated.gate.open();
    drain(pool);
    // The 2 left may expire too (10 ms): at least the 6 retired exit.
    wait_until("retired threads ran on_exit", || log.exited() >= 6);
    wait_until("workers at most 2", || stats(pool).workers <= 2);

    // Round 2: every worker expires; each runs on_exit without pool_free.
    wait_until("all expired", || stats(pool).workers == 0);
    wait_until("every on_exit returned", || {
        log.exits_returned.load(SeqCst) == log.started()
    });
    log.check_balanced("after expiry");
    let before = log.started();

    // Round 3: new threads, new on_start.
    assert_eq!(unsafe { pool_set_capacity(pool, 4) }, OK);
    for _ in 0..40 {
        assert_eq!(
            unsafe { pool_schedule(pool, Some(hooked_task), arg(log)) },
            OK
        );
    }
    drain(pool);
    assert!(log.started() > before, "restarted workers ran on_start");
    log.exit_delay_us.store(3000, SeqCst);
    free_pool(pool);
    assert_eq!(log.exits_returned.load(SeqCst), log.started());
    assert_eq!(log.tasks_run.load(SeqCst), 48);
    log.check_balanced("expiry and shrink");
    wait_until("no thread left", || threads_named("tuhk3") == 0);
}

#[test]
fn all_on_exit_calls_have_returned_when_pool_free_returns() {
    for round in 0..5 {
        let log = leak(HookLog::default());
        // A slow on_exit makes a pool_free that does not wait visible.
        log.exit_delay_us.store(10_000, SeqCst);
        let pool = new_pool(6, hooked_options(log, "tuhk4"));
        for _ in 0..6 {
            assert_eq!(
                unsafe { pool_schedule(pool, Some(hooked_gated_task), arg(log)) },
                OK
            );
        }
        wait_until("6 running", || log.gated.started.load(SeqCst) == 6);
        log.gated.gate.open();
        // Free with tasks possibly still running: they finish, then on_exit.
        free_pool(pool);
        assert_eq!(log.exits_returned.load(SeqCst), 6, "round {round}");
        assert_eq!(log.gated.done.load(SeqCst), 6);
        log.check_balanced("free");
    }
}

unsafe extern "C" fn count_hook(ctx: *mut c_void) {
    let c = unsafe { &*(ctx as *const AtomicUsize) };
    c.fetch_add(1, SeqCst);
}

#[test]
fn null_hooks_are_fine() {
    let count = leak(AtomicUsize::new(0));
    let counter = leak(AtomicUsize::new(0));
    type Hook = Option<unsafe extern "C" fn(*mut c_void)>;
    let combos: [(Hook, Hook); 3] = [
        (None, None),
        (Some(count_hook), None),
        (None, Some(count_hook)),
    ];
    for (i, (start, exit)) in combos.into_iter().enumerate() {
        counter.store(0, SeqCst);
        let opts = options(|o| unsafe {
            assert_eq!(
                pool_options_set_thread_hooks(o, start, exit, arg(counter)),
                OK
            );
        });
        let pool = new_pool(2, opts);
        let g = leak(Gated::default());
        for _ in 0..2 {
            assert_eq!(unsafe { pool_schedule(pool, Some(gated_task), arg(g)) }, OK);
        }
        wait_until("2 running", || g.started.load(SeqCst) == 2);
        g.gate.open();
        for _ in 0..10 {
            assert_eq!(
                unsafe { pool_schedule(pool, Some(count_task), arg(count)) },
                OK
            );
        }
        drain(pool);
        free_pool(pool);
        let expected = if i == 0 { 0 } else { 2 };
        assert_eq!(counter.load(SeqCst), expected, "combo {i}");
    }
    assert_eq!(count.load(SeqCst), 30);
    unsafe {
        assert_eq!(
            pool_options_set_thread_hooks(std::ptr::null_mut(), None, None, std::ptr::null_mut()),
            INVALID
        );
    }
}

#[derive(Default)]
struct NoHookProbe {
    runs: AtomicUsize,
    /// Tasks that ran on a thread where some pool's on_start had run.
    hooked: AtomicUsize,
}

unsafe extern "C" fn no_hook_task(arg: *mut c_void) {
    let p = unsafe { &*(arg as *const NoHookProbe) };
    if HOOK_OWNER.with(|o| o.get()) != 0 {
        p.hooked.fetch_add(1, SeqCst);
    }
    p.runs.fetch_add(1, SeqCst);
}

#[test]
fn hooks_can_be_cleared_and_options_reused() {
    let log = leak(HookLog::default());
    let opts = hooked_options(log, "tuhk5");
    let a = unsafe { pool_new(2, opts) };
    assert!(!a.is_null());
    // Clearing the hooks on the options does not affect the pool built.
    unsafe {
        assert_eq!(
            pool_options_set_thread_hooks(opts, None, None, std::ptr::null_mut()),
            OK
        );
    }
    let b = new_pool(2, opts);
    let b_state = leak(NoHookProbe::default());
    for _ in 0..5 {
        assert_eq!(
            unsafe { pool_schedule(b, Some(no_hook_task), arg(b_state)) },
            OK
        );
        assert_eq!(unsafe { pool_schedule(a, Some(hooked_task), arg(log)) }, OK);
    }
    drain(b);
    drain(a);
    free_pool(b);
    free_pool(a);
    assert_eq!(b_state.runs.load(SeqCst), 5);
    assert_eq!(b_state.hooked.load(SeqCst), 0, "pool b ran a hook");
    assert_eq!(log.tasks_run.load(SeqCst), 5);
    assert!(log.started() >= 1);
    log.check_balanced("reused options");
}

/// A preallocated pool that grows starts the new workers before
/// `pool_set_capacity` returns, each already running under its name (as
/// `pool_new` does), in every mode (zstd's `POOL_resize` expects this).
#[test]
fn growing_a_prealloc_pool_starts_the_new_workers() {
    if !in_own_process("growing_a_prealloc_pool_starts_the_new_workers") {
        return;
    }
    for queue in [0, 4, usize::MAX] {
        let pool = new_pool(
            2,
            options(|o| unsafe {
                assert_eq!(pool_options_set_prealloc(o, true), OK);
                assert_eq!(pool_options_set_queue_size(o, queue), OK);
                set_name(o, "tugrp");
            }),
        );
        assert_eq!(stats(pool).workers, 2);
        assert_eq!(unsafe { pool_set_capacity(pool, 6) }, OK);
        assert_eq!(stats(pool).workers, 6, "queue {queue}");
        assert_eq!(threads_named("tugrp"), 6, "queue {queue}");
        // A lazy pool's grow starts nothing.
        free_pool(pool);
        wait_until("no thread left", || threads_named("tugrp") == 0);
    }
    let lazy = new_pool(2, options(|o| set_name(o, "tugrl")));
    assert_eq!(unsafe { pool_set_capacity(lazy, 6) }, OK);
    assert_eq!(stats(lazy).workers, 0);
    free_pool(lazy);
}
