//! Failure injection for tests (cargo feature `fault-injection`, never in a
//! release build of the library): makes thread creation fail at random, so
//! tests can check that every path reports `POOL_ERR_SPAWN` / `EAGAIN`,
//! loses no task and leaks no thread; makes the fast schedule path ignore
//! its hint, so that its rare give-back branch runs every time; turns off
//! guard-page markers, so that the `mprotect` fallback is tested; makes
//! `pool_get_stats` panic, as a bug inside an export would; makes idle
//! workers pause before they decide to sleep, so that a shrink lands there;
//! pauses workers inside the windows of `Window`, so that a race lands
//! there every time; and counts workers going to sleep, so a test can wait
//! until one sleeps.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

static FAST_PATH_HINT_OFF: AtomicBool = AtomicBool::new(false);

/// With `off`, every schedule on an unbounded pool takes the fast path
/// without first checking that the pool is open and has all its workers:
/// it counts its task, then finds out, and when it must, gives the task
/// back and takes the gated path (`Shared::submit`). Process-wide.
pub fn fast_path_hint_off(off: bool) {
    FAST_PATH_HINT_OFF.store(off, Ordering::Relaxed);
}

pub(crate) fn fast_path_hint_is_off() -> bool {
    FAST_PATH_HINT_OFF.load(Ordering::Relaxed)
}

static PANIC_IN_STATS: AtomicBool = AtomicBool::new(false);

/// With `on`, `pool_get_stats` panics inside the export: the process must
/// abort rather than unwind into its C caller (`ffi/mod.rs`).
/// Process-wide.
pub fn panic_in_get_stats(on: bool) {
    PANIC_IN_STATS.store(on, Ordering::Relaxed);
}

pub(crate) fn get_stats_should_panic() -> bool {
    PANIC_IN_STATS.load(Ordering::Relaxed)
}

/// From now on, stacks get their guard pages from `mprotect`, as where the
/// kernel refuses `MADV_GUARD_INSTALL`: this takes the same fallback path
/// (`stacks.rs`). Process-wide, for good.
pub fn guard_markers_off() {
    crate::stacks::refuse_guard_markers();
}

static PAUSE_BEFORE_IDLE_MICROS: AtomicU32 = AtomicU32::new(0);

/// With a nonzero `micros`, a worker that found no task pauses that long
/// before it takes the sleepers' lock to decide whether it sleeps, leaves
/// or looks again (`Sleepers::idle`): a capacity change or a task then
/// lands between its last look and its decision. 0 turns it off.
/// Process-wide.
pub fn pause_before_idle(micros: u32) {
    PAUSE_BEFORE_IDLE_MICROS.store(micros, Ordering::Relaxed);
}

pub(crate) fn pause_if_asked_before_idle() {
    let micros = PAUSE_BEFORE_IDLE_MICROS.load(Ordering::Relaxed);
    if micros > 0 {
        std::thread::sleep(Duration::from_micros(u64::from(micros)));
    }
}

/// Windows a thread can be paused in (`pause_in`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Hand-off mode: an expiring (or closing) worker whose line is VACANT,
    /// not yet uncounted.
    LeavingLine = 0,
    /// Hand-off mode: an idle worker asked to retire by a shrink, before it
    /// decides whether it leaves.
    RetireDecision = 1,
    /// A schedule's fast path counted its task but will not hand it over
    /// (hand-off: no idle line; queue: a worker still to start), before
    /// it gives the count back and takes the gated path.
    Withdraw = 2,
    /// A queue-mode schedule decided whether a sleeper must be woken for
    /// its task, and has not pushed the task yet.
    BeforePush = 3,
}

const WINDOWS: usize = 4;
static WINDOW_PAUSE_MICROS: [AtomicU32; WINDOWS] = [const { AtomicU32::new(0) }; WINDOWS];
static WINDOW_ENTERED: [AtomicU64; WINDOWS] = [const { AtomicU64::new(0) }; WINDOWS];

/// With a nonzero `micros`, every thread that reaches `window` pauses that
/// long there; 0 turns it off. Process-wide.
pub fn pause_in(window: Window, micros: u32) {
    WINDOW_PAUSE_MICROS[window as usize].store(micros, Ordering::SeqCst);
}

/// How many times a thread reached `window` since the process started.
pub fn times_in(window: Window) -> u64 {
    WINDOW_ENTERED[window as usize].load(Ordering::SeqCst)
}

pub(crate) fn pause_if_asked(window: Window) {
    WINDOW_ENTERED[window as usize].fetch_add(1, Ordering::SeqCst);
    let micros = WINDOW_PAUSE_MICROS[window as usize].load(Ordering::SeqCst);
    if micros > 0 {
        std::thread::sleep(Duration::from_micros(u64::from(micros)));
    }
}

static WAITS_BEGUN: AtomicU64 = AtomicU64::new(0);

/// How many exact waits (`pool_wait`, `pool_wait_timeout`) have taken their
/// bound (the tasks they wait for are fixed from then on) since the
/// process started.
pub fn waits_begun() -> u64 {
    WAITS_BEGUN.load(Ordering::SeqCst)
}

pub(crate) fn count_wait_begun() {
    WAITS_BEGUN.fetch_add(1, Ordering::SeqCst);
}

static SLEEPS: AtomicU64 = AtomicU64::new(0);

/// How many times a worker went to sleep (queue modes: registered as a
/// sleeper; hand-off mode: parked on its line) since the process started.
pub fn sleeps() -> u64 {
    SLEEPS.load(Ordering::SeqCst)
}

pub(crate) fn count_sleep() {
    SLEEPS.fetch_add(1, Ordering::SeqCst);
}

static SPAWN_FAILURE_PER_MILLE: AtomicU32 = AtomicU32::new(0);
static RNG: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);

/// From now on, each worker thread start fails with probability
/// `per_mille / 1000` (0 turns failures off, 1000 fails every start).
/// Process-wide: tests using it should not run beside others.
pub fn fail_spawns(per_mille: u32, seed: u64) {
    RNG.store(seed | 1, Ordering::Relaxed);
    SPAWN_FAILURE_PER_MILLE.store(per_mille.min(1000), Ordering::Relaxed);
}

/// Whether the next thread start should fail (xorshift; races between
/// threads only perturb the sequence, which is fine for a fault switch).
pub(crate) fn spawn_should_fail() -> bool {
    let per_mille = SPAWN_FAILURE_PER_MILLE.load(Ordering::Relaxed);
    if per_mille == 0 {
        return false;
    }
    let mut x = RNG.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    RNG.store(x, Ordering::Relaxed);
    (x % 1000) < u64::from(per_mille)
}
