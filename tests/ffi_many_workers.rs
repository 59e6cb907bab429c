//! 10,000 busy workers with 64 KiB stacks, through the C ABI.
//!
//! Its own test binary (and its only test), so that the process-wide thread
//! count in `/proc/self/task` is not disturbed by other tests, and so that
//! the peak RSS it prints (VmHWM) belongs to this workload alone.

use std::ffi::{CString, c_void};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use workerpool::ffi::*;

mod common;
use common::in_own_process;
use common::threads::{own_stack_size, threads_named};

const N: usize = 10_000;
const STACK: usize = 64 * 1024;
const PREFIX: &str = "tumany";
/// Generous: starting 10,000 threads in a debug build on 2 cores.
const DEADLINE: Duration = Duration::from_secs(60);

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn stats(pool: *mut pool_t) -> pool_stats {
    let mut s = pool_stats::default();
    unsafe { pool_get_stats(pool, &mut s) };
    s
}

fn tasks_in_process() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// A line of /proc/self/status, e.g. "VmHWM".
fn proc_status(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .map(|l| l[key.len() + 1..].trim().to_owned())
        .unwrap_or_default()
}

#[derive(Default)]
struct State {
    open: Mutex<bool>,
    cv: Condvar,
    started: AtomicUsize,
    done: AtomicUsize,
    /// Smallest and largest stack size seen by a task.
    min_stack: AtomicUsize,
    max_stack: AtomicUsize,
}

unsafe extern "C" fn blocked_task(arg: *mut c_void) {
    let s = unsafe { &*(arg as *const State) };
    let size = own_stack_size();
    s.min_stack.fetch_min(size, SeqCst);
    s.max_stack.fetch_max(size, SeqCst);
    s.started.fetch_add(1, SeqCst);
    let mut open = s.open.lock().unwrap_or_else(|e| e.into_inner());
    while !*open {
        open = s.cv.wait(open).unwrap_or_else(|e| e.into_inner());
    }
    drop(open);
    s.done.fetch_add(1, SeqCst);
}

#[test]
fn ten_thousand_busy_workers_with_64k_stacks() {
    if !in_own_process("ten_thousand_busy_workers_with_64k_stacks") {
        return;
    }
    let threads_before = tasks_in_process();
    assert_eq!(threads_named(PREFIX), 0);

    let opts = pool_options_new();
    assert!(!opts.is_null());
    let prefix = CString::new(PREFIX).unwrap();
    unsafe {
        assert_eq!(
            pool_options_set_stack_size(opts, STACK),
            pool_status::POOL_OK
        );
        assert_eq!(
            pool_options_set_thread_name(opts, prefix.as_ptr()),
            pool_status::POOL_OK
        );
    }
    let pool = unsafe { pool_new(N as i32, opts) };
    unsafe { pool_options_free(opts) };
    assert!(!pool.is_null());
    assert_eq!(stats(pool).capacity, N as u32);

    // Leaked: a failing assertion must not free what workers still use.
    let state: &'static State = Box::leak(Box::new(State {
        min_stack: AtomicUsize::new(usize::MAX),
        ..State::default()
    }));
    let arg = state as *const State as *mut c_void;
    let started_at = Instant::now();
    for i in 0..N {
        let st = unsafe { pool_schedule(pool, Some(blocked_task), arg) };
        assert_eq!(st, pool_status::POOL_OK, "task {i}");
    }
    wait_until("10,000 tasks running at once", || {
        state.started.load(SeqCst) == N
    });
    let ramp = started_at.elapsed();
    let s = stats(pool);
    assert_eq!(s.workers, N as u32);
    assert_eq!(s.busy, N as u32);
    assert_eq!(s.queued, 0);
    assert_eq!(s.submitted, N as u64);
    assert_eq!(s.completed, 0);
    assert_eq!(state.done.load(SeqCst), 0);
    assert_eq!(threads_named(PREFIX), N);
    // Capacity reached, nobody idle: a try is refused.
    assert_eq!(
        unsafe { pool_try_schedule(pool, Some(blocked_task), arg) },
        pool_status::POOL_ERR_NO_IDLE_WORKER
    );
    let hwm = proc_status("VmHWM");
    let rss = proc_status("VmRSS");
    let threads_peak = tasks_in_process();

    *state.open.lock().unwrap() = true;
    state.cv.notify_all();
    wait_until("10,000 tasks finished", || state.done.load(SeqCst) == N);
    wait_until("stats completed", || stats(pool).completed == N as u64);
    assert_eq!(unsafe { pool_wait(pool) }, pool_status::POOL_OK);
    let s = stats(pool);
    assert_eq!(s.submitted, N as u64);
    assert_eq!(s.completed, N as u64);
    assert_eq!(s.rejected, 1);
    assert_eq!(s.busy, 0);
    assert_eq!(unsafe { pool_free(pool) }, pool_status::POOL_OK);
    assert_eq!(state.done.load(SeqCst), N);

    let (min, max) = (state.min_stack.load(SeqCst), state.max_stack.load(SeqCst));
    assert!(
        min >= STACK,
        "a worker has a {min}-byte stack, asked {STACK}"
    );
    assert!(max < 8 << 20, "a worker has a {max}-byte stack");

    // Joined threads leave /proc shortly after pthread_join returns.
    wait_until("pool threads gone", || threads_named(PREFIX) == 0);
    wait_until("thread count back to where it was", || {
        tasks_in_process() <= threads_before
    });

    let hwm_end = proc_status("VmHWM");
    println!(
        "10,000 busy workers, {} KiB stacks: peak RSS (VmHWM) {hwm} with all running \
         (VmHWM at the end of the test: {hwm_end}), VmRSS with all running {rss}, \
         {threads_peak} threads in the process, worker stacks {min}..={max} bytes, \
         all running after {ramp:?} ({} build)",
        STACK / 1024,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
}
