//! Shared helpers for the C-ABI integration tests.
//!
//! Everything here drives the library exactly as a C program would: raw
//! pointers, `unsafe extern "C" fn(*mut c_void)` tasks and `*mut c_void`
//! arguments that point at test-owned state.
//!
//! State that tasks point at is leaked (`leak`) so that a failing test (a
//! panic while a worker still holds a pointer) never turns into a
//! use-after-free that would take the whole test binary down.
#![allow(dead_code)]

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use workerpool::ffi::*;

pub mod fast_path;
pub mod threads;

/// Generous deadline for anything the test waits for.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Leak a value so that pointers to it stay valid for the rest of the process.
pub fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
}

/// A `*mut c_void` argument pointing at `r`, as C would pass `&state`.
pub fn arg<T>(r: &T) -> *mut c_void {
    r as *const T as *mut c_void
}

/// A pool handle that may be moved to other threads (C does not care).
#[derive(Clone, Copy, Debug)]
pub struct PoolPtr(*mut pool_t);
unsafe impl Send for PoolPtr {}
unsafe impl Sync for PoolPtr {}

impl PoolPtr {
    pub fn new(p: *mut pool_t) -> Self {
        PoolPtr(p)
    }
    /// Method access so that closures capture the whole (Send) wrapper.
    pub fn get(self) -> *mut pool_t {
        self.0
    }
}

/// Poll `cond` until it holds; panic after `DEADLINE`.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        if cond() {
            return;
        }
        if start.elapsed() > DEADLINE {
            panic!("timed out after {DEADLINE:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Run `f` on a helper thread and return its result; panic if it does not
/// finish within `DEADLINE` (used for calls that must never wait, so that a
/// broken library fails the test instead of hanging it).
pub fn run_bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(v) => v,
        Err(_) => panic!("{what}: did not return within {DEADLINE:?}"),
    }
}

/// A gate tasks block on until the test opens it.
#[derive(Default)]
pub struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn wait(&self) {
        let mut g = self.open.lock().unwrap();
        while !*g {
            g = self.cv.wait(g).unwrap();
        }
    }
    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

/// Task state: counts tasks that started, then blocks them on a gate, then
/// counts tasks that finished.
#[derive(Default)]
pub struct Gated {
    pub gate: Gate,
    pub started: AtomicUsize,
    pub done: AtomicUsize,
}

impl Gated {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn started(&self) -> usize {
        self.started.load(SeqCst)
    }
    pub fn done(&self) -> usize {
        self.done.load(SeqCst)
    }
    pub fn open(&self) {
        self.gate.open()
    }
}

/// Task: `arg` is a `&Gated`.
///
/// # Safety
/// `arg` must point at a live `Gated`.
pub unsafe extern "C" fn gated_task(arg: *mut c_void) {
    let g = unsafe { &*(arg as *const Gated) };
    g.started.fetch_add(1, SeqCst);
    g.gate.wait();
    g.done.fetch_add(1, SeqCst);
}

/// Task: `arg` is a `&AtomicUsize`, incremented once.
///
/// # Safety
/// `arg` must point at a live `AtomicUsize`.
pub unsafe extern "C" fn counter_task(arg: *mut c_void) {
    let c = unsafe { &*(arg as *const AtomicUsize) };
    c.fetch_add(1, SeqCst);
}

/// Task: `arg` is a `&AtomicU8` token, incremented once (per-task slot).
///
/// # Safety
/// `arg` must point at a live `AtomicU8`.
pub unsafe extern "C" fn token_task(arg: *mut c_void) {
    let t = unsafe { &*(arg as *const AtomicU8) };
    t.fetch_add(1, SeqCst);
}

/// Task: `arg` is a `&AtomicUsize`; a little work, then one increment.
///
/// # Safety
/// `arg` must point at a live `AtomicUsize`.
pub unsafe extern "C" fn small_work_task(arg: *mut c_void) {
    let mut x: u64 = 1;
    for i in 0..200u64 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    std::hint::black_box(x);
    let c = unsafe { &*(arg as *const AtomicUsize) };
    c.fetch_add(1, SeqCst);
}

/// A one-shot flag.
#[derive(Default)]
pub struct Flag(AtomicBool);

impl Flag {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(&self) {
        self.0.store(true, SeqCst)
    }
    pub fn is_set(&self) -> bool {
        self.0.load(SeqCst)
    }
}

/// Holds a status returned on another thread (or inside a task).
pub struct StatusCell(AtomicI32);

impl Default for StatusCell {
    fn default() -> Self {
        StatusCell(AtomicI32::new(-1))
    }
}

impl StatusCell {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(&self, s: pool_status) {
        self.0.store(s as i32, SeqCst)
    }
    pub fn is_set(&self) -> bool {
        self.0.load(SeqCst) >= 0
    }
    pub fn get(&self) -> Option<pool_status> {
        let v = self.0.load(SeqCst);
        if v < 0 {
            None
        } else {
            Some(status_from_i32(v))
        }
    }
}

pub fn status_from_i32(v: i32) -> pool_status {
    match v {
        0 => pool_status::POOL_OK,
        1 => pool_status::POOL_ERR_NO_IDLE_WORKER,
        2 => pool_status::POOL_ERR_FREED,
        3 => pool_status::POOL_ERR_INVALID,
        4 => pool_status::POOL_ERR_TIMEOUT,
        5 => pool_status::POOL_ERR_SPAWN,
        6 => pool_status::POOL_ERR_DEADLOCK,
        7 => pool_status::POOL_ERR_FORKED,
        _ => panic!("not a pool_status: {v}"),
    }
}

/// Snapshot of the pool's stats.
pub fn stats(p: *mut pool_t) -> pool_stats {
    let mut s = pool_stats::default();
    unsafe { pool_get_stats(p, &mut s) };
    s
}

/// Build a pool through the option builder; the options are freed right
/// after `pool_new` (the pool must have copied them).
pub fn new_pool(capacity: i32, block: bool, prealloc: bool, queue: usize) -> *mut pool_t {
    unsafe {
        let o = pool_options_new();
        assert!(!o.is_null(), "pool_options_new returned NULL");
        assert_eq!(pool_options_set_block(o, block), pool_status::POOL_OK);
        assert_eq!(pool_options_set_prealloc(o, prealloc), pool_status::POOL_OK);
        assert_eq!(pool_options_set_queue_size(o, queue), pool_status::POOL_OK);
        let p = pool_new(capacity, o);
        pool_options_free(o);
        assert!(
            !p.is_null(),
            "pool_new({capacity}, block={block}, prealloc={prealloc}, queue={queue}) returned NULL"
        );
        p
    }
}

/// `pool_free` that must succeed.
pub fn free_pool(p: *mut pool_t) {
    assert_eq!(unsafe { pool_free(p) }, pool_status::POOL_OK);
}

pub fn schedule(
    p: *mut pool_t,
    task: unsafe extern "C" fn(*mut c_void),
    a: *mut c_void,
) -> pool_status {
    unsafe { pool_schedule(p, Some(task), a) }
}

pub fn try_schedule(
    p: *mut pool_t,
    task: unsafe extern "C" fn(*mut c_void),
    a: *mut c_void,
) -> pool_status {
    unsafe { pool_try_schedule(p, Some(task), a) }
}

pub fn schedule_timeout(
    p: *mut pool_t,
    task: unsafe extern "C" fn(*mut c_void),
    a: *mut c_void,
    ms: u64,
) -> pool_status {
    unsafe { pool_schedule_timeout(p, Some(task), a, ms) }
}

pub fn wait(p: *mut pool_t) -> pool_status {
    unsafe { pool_wait(p) }
}

/// Worker-thread start/exit hook counters (ctx of `pool_options_set_thread_hooks`).
#[derive(Default)]
pub struct HookCounts {
    pub started: AtomicUsize,
    pub exited: AtomicUsize,
}

/// # Safety
/// `ctx` must point at a live `HookCounts`.
pub unsafe extern "C" fn on_start_hook(ctx: *mut c_void) {
    let h = unsafe { &*(ctx as *const HookCounts) };
    h.started.fetch_add(1, SeqCst);
}

/// # Safety
/// `ctx` must point at a live `HookCounts`.
pub unsafe extern "C" fn on_exit_hook(ctx: *mut c_void) {
    let h = unsafe { &*(ctx as *const HookCounts) };
    h.exited.fetch_add(1, SeqCst);
}

/// A task that holds its worker until every racing scheduler has returned
/// from its call. pool_free waits for it, so pool_free cannot return while a
/// racing thread is still (or not yet) inside a call on the pool: no call
/// ever touches a freed handle.
#[derive(Default)]
pub struct Sentinel {
    pub racers_returned: Mutex<usize>,
    pub cv: Condvar,
    pub racers: usize,
}

impl Sentinel {
    pub fn racer_returned(&self) {
        *self.racers_returned.lock().unwrap() += 1;
        self.cv.notify_all();
    }
}

pub unsafe extern "C" fn sentinel_task(a: *mut std::ffi::c_void) {
    let s = unsafe { &*(a as *const Sentinel) };
    let mut n = s.racers_returned.lock().unwrap();
    while *n < s.racers {
        n = s.cv.wait(n).unwrap();
    }
}

/// Runs the test `name` of this test binary again, alone, in a child
/// process with `var` set to `value` (the child sees `var` and does the
/// deadly part), and checks that the child died of `signal`. Returns the
/// child's stderr.
pub fn child_dies_of(name: &str, var: &str, value: &str, signal: i32) -> String {
    use std::os::unix::process::ExitStatusExt;
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(var, value)
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.signal(),
        Some(signal),
        "the child must die of signal {signal}; it ended: {:?}, stderr:\n{stderr}",
        out.status
    );
    stderr
}

const OWN_PROCESS: &str = "WORKERPOOL_TEST_OWN_PROCESS";

/// Whether the calling test, named `name`, should run its body here: a test
/// that reads process-wide state (`/proc/self/task`, thread counts) must not
/// run beside tests that start and end threads (a directory listing of
/// `/proc/self/task` can miss entries while threads come and go). Called
/// first in such a test: in the test harness's process it runs the test
/// binary again with only this test, in a process of its own, asserts that
/// it passed there, and returns false (the caller returns); in that child
/// it returns true.
pub fn in_own_process(name: &str) -> bool {
    if std::env::var(OWN_PROCESS).as_deref() == Ok(name) {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(OWN_PROCESS, name)
        .output()
        .expect("run the test in a process of its own");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name}, in a process of its own, failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    false
}
