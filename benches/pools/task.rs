//! The tasks every contender runs: plain C-ABI functions taking a `void *`.
//!
//! `bump` is the benchmark task: one atomic increment (plus a compare, so
//! the last task can wake the thread timing the run). `sleep_bump` sleeps
//! first (W4, W6); `stamp` records when it started (W5).

use std::ffi::c_void;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

pub type TaskFn = unsafe extern "C" fn(*mut c_void);

/// Counts finished tasks and wakes `waiter` when `target` is reached.
pub struct Latch {
    count: CachePadded<AtomicUsize>,
    target: usize,
    sleep: Duration,
    waiter: Thread,
}

impl Latch {
    /// A latch for `target` tasks, to be waited on by the calling thread.
    pub fn new(target: usize, sleep: Duration) -> Latch {
        Latch {
            count: CachePadded::new(AtomicUsize::new(0)),
            target,
            sleep,
            waiter: thread::current(),
        }
    }

    pub fn arg(&self) -> *mut c_void {
        self as *const Latch as *mut c_void
    }

    fn arrive(&self) {
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            self.waiter.unpark();
        }
    }

    /// Parks until every task arrived; panics after `limit` (a hung pool).
    pub fn wait(&self, limit: Duration) {
        let start = Instant::now();
        while self.count.load(Ordering::Acquire) < self.target {
            assert!(start.elapsed() < limit, "tasks not done after {limit:?}");
            thread::park_timeout(Duration::from_millis(20));
        }
    }
}

/// The tiny task: one atomic increment.
///
/// # Safety
/// `arg` points to a live `Latch`.
pub unsafe extern "C" fn bump(arg: *mut c_void) {
    // SAFETY: see above.
    unsafe { &*(arg as *const Latch) }.arrive();
}

/// Sleeps for the latch's `sleep`, then counts.
///
/// # Safety
/// `arg` points to a live `Latch`.
pub unsafe extern "C" fn sleep_bump(arg: *mut c_void) {
    // SAFETY: see above.
    let latch = unsafe { &*(arg as *const Latch) };
    thread::sleep(latch.sleep);
    latch.arrive();
}

/// Nanoseconds since the first call in this process (monotonic).
pub fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
}

/// Writes `now_ns()` into the `AtomicU64` at `arg`.
///
/// # Safety
/// `arg` points to a live `AtomicU64`.
pub unsafe extern "C" fn stamp(arg: *mut c_void) {
    // SAFETY: see above.
    unsafe { &*(arg as *const AtomicU64) }.store(now_ns(), Ordering::Release);
}

/// A `void *` that may cross threads (the pools' own contract).
#[derive(Clone, Copy)]
pub struct SendPtr(pub *mut c_void);
// SAFETY: the pointees (Latch, AtomicU64) are Sync.
unsafe impl Send for SendPtr {}

impl SendPtr {
    pub fn get(self) -> *mut c_void {
        self.0
    }
}
