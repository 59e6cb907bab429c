//! Violations, the hang watchdog and the live-thread count.

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Any single call or protocol step taking longer than this is a hang.
pub const HANG: Duration = Duration::from_secs(60);

static VIOLATIONS: AtomicU64 = AtomicU64::new(0);

/// Records a broken invariant; the first few are printed at once, and the
/// run ends non-zero.
pub fn violation(what: impl Display) {
    let n = VIOLATIONS.fetch_add(1, SeqCst);
    if n < 25 {
        eprintln!("stress: VIOLATION: {what}");
    }
}

pub fn violations() -> u64 {
    VIOLATIONS.load(SeqCst)
}

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    start().elapsed().as_millis() as u64 + 1
}

/// Live threads of this process (entries of /proc/self/task).
pub fn live_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// One thread's "I am inside step X since T" for the watchdog.
pub struct Beat {
    since: AtomicU64,
    what: AtomicUsize,
    name: String,
}

/// The steps a beat can name.
pub const STEPS: &[&str] = &[
    "idle",
    "pool_schedule",
    "pool_try_schedule",
    "pool_schedule_timeout",
    "pool_wait",
    "pool_set_capacity",
    "pool_get_stats",
    "pool_new",
    "free: waiting for pool_wait callers to leave",
    "free: scheduling the barrier task",
    "free: waiting for callers to leave (quiet free)",
    "free: pool_wait before a quiet free",
    "pool_free",
    "joining the drivers",
    "waiting for the thread count to return to the baseline",
    "pool_group_schedule (a variant)",
    "pool_group_wait",
    "a pause window (pool_pause .. pool_resume)",
    "pool_cancel_queued",
    "pool_parallel_for",
    "pool_shutdown",
    "pool_group_free",
    "free: waiting for pool_cancel_queued callers to leave",
];

pub const S_SCHEDULE: usize = 1;
pub const S_TRY: usize = 2;
pub const S_TIMEOUT: usize = 3;
pub const S_WAIT: usize = 4;
pub const S_SET_CAPACITY: usize = 5;
pub const S_STATS: usize = 6;
pub const S_NEW: usize = 7;
pub const S_FREE_WAITERS: usize = 8;
pub const S_FREE_BARRIER: usize = 9;
pub const S_FREE_QUIET: usize = 10;
pub const S_FREE_DRAIN: usize = 11;
pub const S_FREE: usize = 12;
pub const S_JOIN: usize = 13;
pub const S_THREADS: usize = 14;
pub const S_GROUP_SCHEDULE: usize = 15;
pub const S_GROUP_WAIT: usize = 16;
pub const S_PAUSE: usize = 17;
pub const S_CANCEL: usize = 18;
pub const S_LOOP: usize = 19;
pub const S_SHUTDOWN: usize = 20;
pub const S_GROUP_FREE: usize = 21;
pub const S_FREE_CANCELLERS: usize = 22;

static BEATS: Mutex<Vec<&'static Beat>> = Mutex::new(Vec::new());

impl Beat {
    /// A beat watched for as long as the process lives (leaked: a driver
    /// thread per round, a few hundred bytes each).
    pub fn register(name: String) -> &'static Beat {
        let beat: &'static Beat = Box::leak(Box::new(Beat {
            since: AtomicU64::new(0),
            what: AtomicUsize::new(0),
            name,
        }));
        BEATS.lock().unwrap().push(beat);
        beat
    }

    /// Marks the start of a step; `done` marks its end.
    pub fn enter(&self, step: usize) {
        self.what.store(step, SeqCst);
        self.since.store(now_ms(), SeqCst);
    }

    pub fn done(&self) {
        self.since.store(0, SeqCst);
    }

    /// Stops watching this beat (its thread ended).
    pub fn retire(&'static self) {
        self.done();
        BEATS.lock().unwrap().retain(|b| !std::ptr::eq(*b, self));
    }
}

/// Starts the watchdog: if any step runs past `HANG`, it prints what hung
/// and ends the process with status 3 (a hang cannot be recovered from).
pub fn start_watchdog() {
    start();
    std::thread::Builder::new()
        .name("stress-watchdog".into())
        .spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(250));
                let now = now_ms();
                for beat in BEATS.lock().unwrap().iter() {
                    let since = beat.since.load(SeqCst);
                    if since != 0 && now.saturating_sub(since) > HANG.as_millis() as u64 {
                        eprintln!(
                            "stress: VIOLATION: hang: {} stuck in \"{}\" for more than {:?}",
                            beat.name,
                            STEPS[beat.what.load(SeqCst)],
                            HANG
                        );
                        eprintln!("stress: FAIL (hang)");
                        std::process::exit(3);
                    }
                }
            }
        })
        .expect("watchdog thread");
}
