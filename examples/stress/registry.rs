//! The pools in play: a fixed set of slots, each holding one live pool or
//! none; run-wide counters; a graveyard that keeps freed pools' memory for
//! a while.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex};

use crate::check::Beat;
use crate::pools::{Options, PoolCtx};
use crate::rng::{Rng, mix};

pub const SLOTS: usize = 6;
const GRAVEYARD: usize = 64;

static SLOT: [Mutex<Option<Arc<PoolCtx>>>; SLOTS] = [const { Mutex::new(None) }; SLOTS];
static GRAVE: Mutex<VecDeque<Arc<PoolCtx>>> = Mutex::new(VecDeque::new());
static POOLS: AtomicU64 = AtomicU64::new(0);
static TASKS: AtomicU64 = AtomicU64::new(0);
static REFUSED_POOLS: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(0);

pub fn set_seed(seed: u64) {
    SEED.store(seed, SeqCst);
}

pub fn pools() -> u64 {
    POOLS.load(SeqCst)
}

pub fn tasks() -> u64 {
    TASKS.load(Relaxed)
}

pub fn refused_pools() -> u64 {
    REFUSED_POOLS.load(SeqCst)
}

pub fn count_task() {
    TASKS.fetch_add(1, Relaxed);
}

pub fn count_refused_pool() {
    REFUSED_POOLS.fetch_add(1, SeqCst);
}

/// The pool in slot `i`, if any (no creation: used from tasks).
pub fn peek(i: usize) -> Option<Arc<PoolCtx>> {
    SLOT[i].lock().unwrap().clone()
}

/// The pool in slot `i`, creating one with random options if it is empty.
pub fn get(i: usize, rng: &mut Rng, beat: &Beat) -> Option<Arc<PoolCtx>> {
    let mut slot = SLOT[i].lock().unwrap();
    if slot.is_none() {
        let id = POOLS.fetch_add(1, SeqCst);
        let opts = Options::random(rng);
        let seed = mix(SEED.load(SeqCst) ^ mix(id));
        *slot = PoolCtx::create(id, opts, seed, beat).map(Arc::new);
    }
    slot.clone()
}

/// Takes `ctx` out of slot `i` (if it is still there) and marks it closing;
/// the caller then frees it. `None` if another thread took it first.
pub fn take(i: usize, ctx: &Arc<PoolCtx>) -> Option<Arc<PoolCtx>> {
    let mut slot = SLOT[i].lock().unwrap();
    match &*slot {
        Some(current) if Arc::ptr_eq(current, ctx) => {
            let taken = slot.take();
            if let Some(t) = &taken {
                t.closing.store(true, SeqCst);
            }
            taken
        }
        _ => None,
    }
}

/// Takes whatever pool slot `i` holds (end of a round).
pub fn take_any(i: usize) -> Option<Arc<PoolCtx>> {
    let taken = SLOT[i].lock().unwrap().take();
    if let Some(t) = &taken {
        t.closing.store(true, SeqCst);
    }
    taken
}

static STATUSES: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];
static RACED: AtomicU64 = AtomicU64::new(0);
static SHUTDOWNS: AtomicU64 = AtomicU64::new(0);
static RACING_SHUTDOWNS: AtomicU64 = AtomicU64::new(0);
static CANCELLED: AtomicU64 = AtomicU64::new(0);

/// A freer's pool_shutdown (`racing`: while drivers still called).
pub fn count_shutdown(racing: bool) {
    SHUTDOWNS.fetch_add(1, Relaxed);
    RACING_SHUTDOWNS.fetch_add(u64::from(racing), Relaxed);
}

/// Tokens of a freed pool handed to on_cancel.
pub fn count_cancelled(n: u64) {
    CANCELLED.fetch_add(n, Relaxed);
}

/// Adds a freed pool's status counts to the run's totals.
pub fn add_statuses(ctx: &PoolCtx, raced: bool) {
    for (i, total) in STATUSES.iter().enumerate() {
        total.fetch_add(ctx.statuses.get_index(i), Relaxed);
    }
    RACED.fetch_add(u64::from(raced), Relaxed);
}

/// "OK=.. NO_IDLE_WORKER=.. ..." over every freed pool, and the number of
/// frees that raced with callers.
pub fn status_summary() -> String {
    let names = [
        "OK",
        "NO_IDLE_WORKER",
        "FREED",
        "INVALID",
        "TIMEOUT",
        "SPAWN",
        "DEADLOCK",
    ];
    let mut out: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{n}={}", STATUSES[i].load(Relaxed)))
        .collect();
    out.push(format!("racing_frees={}", RACED.load(Relaxed)));
    out.push(format!(
        "shutdowns={} (racing {}) cancelled={}",
        SHUTDOWNS.load(Relaxed),
        RACING_SHUTDOWNS.load(Relaxed),
        CANCELLED.load(Relaxed)
    ));
    out.join(" ")
}

pub fn bury(ctx: Arc<PoolCtx>) {
    let mut grave = GRAVE.lock().unwrap();
    grave.push_back(ctx);
    while grave.len() > GRAVEYARD {
        grave.pop_front();
    }
}
