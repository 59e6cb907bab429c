//! One pool under test (`PoolCtx`): its options, its per-task tokens, its
//! status counters, the tasks it runs, and the protocol that frees it.
//!
//! # Tokens
//!
//! Every schedule call takes a fresh token (a slot of the pool's table) and
//! passes the slot as the task's argument. The task increments the slot's
//! run count; the caller, once the call returned, marks the slot ACCEPTED
//! (POOL_OK) or REJECTED (any other status). A run count above one, a run
//! of a rejected token, or (after `pool_free`) an accepted token that did
//! not run exactly once is a violation.
//!
//! # Freeing safely while others call
//!
//! `pool_free` may return only once every call that could touch the handle
//! has entered the library; a call that starts after it returned is a
//! use-after-free, which the contract leaves undefined. Callers from outside
//! the pool hold a lease (`in_call`, or `in_wait` for `pool_wait`) taken
//! only while `closing` is false. The freer sets `closing`, waits for the
//! `pool_wait` callers (they wait for the pool to drain, so they cannot
//! race with free), then either
//! * races: schedules a barrier task that waits until `in_call` is zero and
//!   calls `pool_free` at once, while schedulers may be blocked inside: they
//!   must return POOL_ERR_FREED, and `pool_free` cannot return before the
//!   barrier (an accepted task) ran, so no caller is left outside; or
//! * frees quietly: waits for every caller to leave, `pool_wait`s, checks
//!   that the stats add up exactly, then calls `pool_free`.

use std::ffi::{CString, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use workerpool::ffi::*;

use crate::check::{self, Beat, violation};
use crate::control;
use crate::registry;
use crate::rng::{Rng, mix};

/// Tokens per pool; a pool that used them all is freed and replaced.
pub const TOKENS: usize = 1 << 14;
/// Depth of tasks scheduled by tasks.
pub(crate) const MAX_DEPTH: u8 = 3;

pub(crate) const RAN_MASK: u8 = 0x1F;
/// Handed to `on_cancel` (pool_cancel_queued, pool_shutdown(CANCEL)).
pub(crate) const CANCELLED: u8 = 0x20;
pub(crate) const ACCEPTED: u8 = 0x40;
pub(crate) const REJECTED: u8 = 0x80;
/// `Slot::group` of a token scheduled outside any group.
pub(crate) const NO_GROUP: u8 = 0xFF;
/// Most groups a pool gets.
pub const MAX_GROUPS: usize = 3;
/// Waits before a quiet free: one per generation of tasks (depth 0 to
/// MAX_DEPTH), one for the helpers of a loop run by a task of the last
/// one, and one for those of a loop nested in such a loop's body.
const DRAIN_WAITS: usize = MAX_DEPTH as usize + 3;

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub capacity: i32,
    pub block: bool,
    pub prealloc: bool,
    pub queue: usize,
    pub idle_ms: u64,
    pub stack: usize,
    pub named: bool,
}

impl Options {
    pub fn random(rng: &mut Rng) -> Options {
        let capacity = match rng.below(10) {
            0..=5 => 1 + rng.below(4) as i32,
            6..=8 => 1 + rng.below(16) as i32,
            _ => rng.pick(&[0, -1, 32, 64]),
        };
        Options {
            capacity,
            block: rng.chance(60),
            prealloc: rng.chance(30),
            queue: rng.pick(&[0, 0, 1, 4, 16, usize::MAX]),
            idle_ms: rng.pick(&[0, 1, 50]),
            stack: rng.pick(&[0, 0, 1, 64 << 10, 256 << 10]),
            named: rng.chance(50),
        }
    }
}

/// How a schedule call behaves when the pool is full.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Schedule,
    Try,
    Timeout(u64),
}

impl Kind {
    pub fn random(rng: &mut Rng, in_task: bool) -> Kind {
        match rng.below(10) {
            0..=4 => Kind::Schedule,
            5..=6 => Kind::Try,
            _ if in_task => Kind::Timeout(rng.pick(&[0, 1, 2])),
            _ => Kind::Timeout(rng.pick(&[0, 1, 5, 20, u64::MAX])),
        }
    }
}

#[derive(Default)]
pub struct Hooks {
    started: AtomicU64,
    exited: AtomicU64,
}

pub(crate) struct Slot {
    pub(crate) state: AtomicU8,
    depth: AtomicU8,
    /// The group it was scheduled into, or NO_GROUP.
    pub(crate) group: AtomicU8,
    pub(crate) ctx: AtomicPtr<PoolCtx>,
}

/// Per-status counts of every call made on this pool.
#[derive(Default)]
pub struct StatusCounts([AtomicU64; 8]);

impl StatusCounts {
    pub(crate) fn add(&self, st: pool_status) {
        self.0[st as usize].fetch_add(1, SeqCst);
    }
    pub fn get(&self, st: pool_status) -> u64 {
        self.get_index(st as usize)
    }
    pub fn get_index(&self, i: usize) -> u64 {
        self.0[i].load(SeqCst)
    }
}

pub struct PoolCtx {
    pub id: u64,
    pub(crate) handle: *mut pool_t,
    pub opts: Options,
    pub(crate) seed: u64,
    pub(crate) slots: Box<[Slot]>,
    next_token: AtomicUsize,
    /// No new lease once set.
    pub closing: AtomicBool,
    /// Set right after `pool_free` returned: no task may run afterwards.
    pub(crate) freed: AtomicBool,
    /// Outside callers inside schedule / stats / set_capacity.
    in_call: AtomicUsize,
    /// Outside callers inside `pool_wait` or `pool_group_wait`.
    pub(crate) in_wait: AtomicUsize,
    /// Callers (drivers and tasks) inside `pool_cancel_queued`: none may
    /// start once the freer schedules its barrier (it would cancel it).
    pub(crate) in_cancel: AtomicUsize,
    /// The pool's groups (fixed at creation; freed with the pool, before
    /// or after `pool_free`).
    pub(crate) groups: Vec<*mut pool_group_t>,
    /// POOL_OK group schedules and on_cancel calls, per group.
    pub(crate) group_ok: [AtomicU64; MAX_GROUPS],
    pub(crate) group_cancels: [AtomicU64; MAX_GROUPS],
    /// Every on_cancel call for this pool's tokens.
    pub(crate) cancels: AtomicU64,
    /// pool_parallel_for calls (each may have one helper refused).
    pub(crate) loops: AtomicU64,
    /// Statuses of schedule calls (tokens).
    pub statuses: StatusCounts,
    hooks: Box<Hooks>,
    /// Last `submitted` / `rejected` seen by a stats reader (monotonic).
    seen_submitted: AtomicU64,
    seen_rejected: AtomicU64,
}

// SAFETY: the handle is a C pool pointer, usable from any thread until
// `pool_free`; the lease protocol above keeps calls before that point.
unsafe impl Send for PoolCtx {}
unsafe impl Sync for PoolCtx {}

/// A lease: the holder may call into the pool until it is dropped.
pub struct Lease<'a>(&'a AtomicUsize);

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

pub(crate) fn lease<'a>(closing: &AtomicBool, counter: &'a AtomicUsize) -> Option<Lease<'a>> {
    counter.fetch_add(1, SeqCst);
    let lease = Lease(counter);
    (!closing.load(SeqCst)).then_some(lease)
}

unsafe extern "C" fn on_start(ctx: *mut c_void) {
    let hooks = unsafe { &*(ctx as *const Hooks) };
    hooks.started.fetch_add(1, SeqCst);
}

unsafe extern "C" fn on_exit(ctx: *mut c_void) {
    let hooks = unsafe { &*(ctx as *const Hooks) };
    hooks.exited.fetch_add(1, SeqCst);
}

impl PoolCtx {
    /// Creates a pool with `opts`. `None` when `pool_new` returned NULL with
    /// EAGAIN (the OS refused a preallocated thread): counted, not a
    /// violation.
    pub fn create(id: u64, opts: Options, seed: u64, beat: &Beat) -> Option<PoolCtx> {
        let hooks = Box::<Hooks>::default();
        let handle = unsafe {
            let o = pool_options_new();
            assert!(!o.is_null());
            let mut ok = pool_options_set_block(o, opts.block) == pool_status::POOL_OK;
            ok &= pool_options_set_prealloc(o, opts.prealloc) == pool_status::POOL_OK;
            ok &= pool_options_set_queue_size(o, opts.queue) == pool_status::POOL_OK;
            ok &= pool_options_set_idle_timeout_ms(o, opts.idle_ms) == pool_status::POOL_OK;
            ok &= pool_options_set_stack_size(o, opts.stack) == pool_status::POOL_OK;
            ok &= pool_options_set_thread_hooks(
                o,
                Some(on_start),
                Some(on_exit),
                &*hooks as *const Hooks as *mut c_void,
            ) == pool_status::POOL_OK;
            if opts.named {
                let name = CString::new(format!("stress{}", id % 1000)).unwrap();
                ok &= pool_options_set_thread_name(o, name.as_ptr()) == pool_status::POOL_OK;
            }
            if !ok {
                violation(format!("an option setter refused valid input: {opts:?}"));
            }
            beat.enter(check::S_NEW);
            let p = pool_new(opts.capacity, o);
            let errno = std::io::Error::last_os_error().raw_os_error();
            beat.done();
            pool_options_free(o);
            if p.is_null() {
                if opts.prealloc && errno == Some(libc::EAGAIN) {
                    registry::count_refused_pool();
                    return None;
                }
                violation(format!(
                    "pool_new returned NULL (errno {errno:?}) for {opts:?}"
                ));
                return None;
            }
            p
        };
        let mut rng = Rng::new(seed ^ 0x6E0F);
        let groups = (0..rng.below(MAX_GROUPS as u64 + 1))
            .filter_map(|_| {
                let g = unsafe { pool_group_new(handle) };
                if g.is_null() {
                    violation(format!(
                        "pool {id}: pool_group_new returned NULL: {}",
                        std::io::Error::last_os_error()
                    ));
                }
                (!g.is_null()).then_some(g)
            })
            .collect();
        let slots = (0..TOKENS)
            .map(|_| Slot {
                state: AtomicU8::new(0),
                depth: AtomicU8::new(0),
                group: AtomicU8::new(NO_GROUP),
                ctx: AtomicPtr::new(std::ptr::null_mut()),
            })
            .collect();
        let ctx = PoolCtx {
            id,
            handle,
            opts,
            seed,
            slots,
            next_token: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            freed: AtomicBool::new(false),
            in_call: AtomicUsize::new(0),
            in_wait: AtomicUsize::new(0),
            in_cancel: AtomicUsize::new(0),
            groups,
            group_ok: Default::default(),
            group_cancels: Default::default(),
            cancels: AtomicU64::new(0),
            loops: AtomicU64::new(0),
            statuses: StatusCounts::default(),
            hooks,
            seen_submitted: AtomicU64::new(0),
            seen_rejected: AtomicU64::new(0),
        };
        if opts.prealloc {
            let s = ctx.stats_now();
            let cap = clamp(opts.capacity);
            if s.workers as i64 != cap as i64 && opts.idle_ms == 0 {
                violation(format!(
                    "pool {id}: prealloc pool has {} workers after pool_new, capacity {cap}",
                    s.workers
                ));
            }
        }
        Some(ctx)
    }

    /// Whether every token has been handed out.
    pub fn exhausted(&self) -> bool {
        self.next_token.load(Relaxed) >= TOKENS
    }

    pub fn lease_call(&self) -> Option<Lease<'_>> {
        lease(&self.closing, &self.in_call)
    }

    /// One schedule call with a fresh token. `None` when the pool has no
    /// token left (the caller then retires it). The caller holds a lease,
    /// or is a task of this pool.
    pub fn submit(&self, kind: Kind, depth: u8, beat: Option<&Beat>) -> Option<pool_status> {
        self.submit_in(None, kind, depth, beat)
    }

    /// `submit`, through group `group` (an index into `groups`) if given.
    pub fn submit_in(
        &self,
        group: Option<usize>,
        kind: Kind,
        depth: u8,
        beat: Option<&Beat>,
    ) -> Option<pool_status> {
        let token = self.next_token.fetch_add(1, Relaxed);
        let slot = self.slots.get(token)?;
        slot.depth.store(depth, Relaxed);
        slot.group
            .store(group.map_or(NO_GROUP, |g| g as u8), Relaxed);
        slot.ctx
            .store(self as *const PoolCtx as *mut PoolCtx, Relaxed);
        let a = slot as *const Slot as *mut c_void;
        let st = unsafe {
            match (kind, group.map(|g| self.groups[g])) {
                (Kind::Schedule, None) => {
                    beat.inspect(|b| b.enter(check::S_SCHEDULE));
                    pool_schedule(self.handle, Some(task), a)
                }
                (Kind::Try, None) => {
                    beat.inspect(|b| b.enter(check::S_TRY));
                    pool_try_schedule(self.handle, Some(task), a)
                }
                (Kind::Timeout(ms), None) => {
                    beat.inspect(|b| b.enter(check::S_TIMEOUT));
                    pool_schedule_timeout(self.handle, Some(task), a, ms)
                }
                (Kind::Schedule, Some(g)) => {
                    beat.inspect(|b| b.enter(check::S_GROUP_SCHEDULE));
                    pool_group_schedule(g, Some(task), a)
                }
                (Kind::Try, Some(g)) => {
                    beat.inspect(|b| b.enter(check::S_GROUP_SCHEDULE));
                    pool_group_try_schedule(g, Some(task), a)
                }
                (Kind::Timeout(ms), Some(g)) => {
                    beat.inspect(|b| b.enter(check::S_GROUP_SCHEDULE));
                    pool_group_schedule_timeout(g, Some(task), a, ms)
                }
            }
        };
        beat.inspect(|b| b.done());
        self.statuses.add(st);
        use pool_status::*;
        let allowed = match (kind, st) {
            (_, POOL_OK | POOL_ERR_FREED | POOL_ERR_SPAWN) => true,
            (Kind::Schedule, POOL_ERR_NO_IDLE_WORKER) => !self.opts.block,
            (Kind::Try, POOL_ERR_NO_IDLE_WORKER) => true,
            (Kind::Timeout(_), POOL_ERR_TIMEOUT) => true,
            _ => false,
        };
        if !allowed {
            violation(format!(
                "pool {}: {kind:?} (group {group:?}) returned {st:?}, not a documented status \
                 here ({:?})",
                self.id, self.opts
            ));
        }
        if st == POOL_OK {
            if let Some(g) = group {
                self.group_ok[g].fetch_add(1, SeqCst);
            }
            let prev = slot.state.fetch_or(ACCEPTED, SeqCst);
            if prev & (ACCEPTED | REJECTED) != 0 {
                violation(format!("pool {}: token {token} decided twice", self.id));
            }
            registry::count_task();
        } else {
            let prev = slot.state.fetch_or(REJECTED, SeqCst);
            if prev & (RAN_MASK | CANCELLED) != 0 {
                violation(format!(
                    "pool {}: token {token} ran or was cancelled although its {kind:?} \
                     returned {st:?}",
                    self.id
                ));
            }
        }
        Some(st)
    }

    /// `pool_wait` from outside the pool (never races with free).
    pub fn wait(&self, beat: &Beat) {
        let Some(_lease) = lease(&self.closing, &self.in_wait) else {
            return;
        };
        beat.enter(check::S_WAIT);
        let st = unsafe { pool_wait(self.handle) };
        beat.done();
        if st != pool_status::POOL_OK {
            violation(format!("pool {}: pool_wait returned {st:?}", self.id));
        }
    }

    pub fn set_capacity(&self, capacity: i32, beat: &Beat) {
        let Some(_lease) = self.lease_call() else {
            return;
        };
        beat.enter(check::S_SET_CAPACITY);
        let st = unsafe { pool_set_capacity(self.handle, capacity) };
        beat.done();
        if !matches!(st, pool_status::POOL_OK | pool_status::POOL_ERR_FREED) {
            violation(format!(
                "pool {}: pool_set_capacity returned {st:?}",
                self.id
            ));
        }
    }

    /// Every field, 0.2's included (`pool_get_stats_sized`).
    pub(crate) fn stats_now(&self) -> pool_stats {
        let mut s = pool_stats {
            capacity: u32::MAX,
            ..Default::default()
        };
        unsafe { pool_get_stats_sized(self.handle, &mut s, std::mem::size_of::<pool_stats>()) };
        s
    }

    /// A stats snapshot checked for what must hold at any time.
    pub fn check_stats(&self, beat: Option<&Beat>) {
        beat.inspect(|b| b.enter(check::S_STATS));
        let s = self.stats_now();
        beat.inspect(|b| b.done());
        if s.capacity == u32::MAX {
            return; // not written: pool_free began
        }
        let id = self.id;
        if s.completed > s.submitted {
            violation(format!("pool {id}: completed > submitted: {s:?}"));
        }
        if s.capacity == 0 || s.capacity > 10_000 {
            violation(format!("pool {id}: capacity out of range: {s:?}"));
        }
        if s.busy > s.workers {
            violation(format!("pool {id}: busy > workers: {s:?}"));
        }
        if s.paused > 1 || s.completed + s.cancelled > s.submitted + 1_000 {
            violation(format!("pool {id}: paused / cancelled out of range: {s:?}"));
        }
        let prev = self.seen_submitted.fetch_max(s.submitted, SeqCst);
        let prev_rejected = self.seen_rejected.fetch_max(s.rejected, SeqCst);
        // Snapshots from different threads may land out of order; only a
        // large step back is a real regression.
        if prev > s.submitted + 1_000_000 || prev_rejected > s.rejected + 1_000_000 {
            violation(format!("pool {id}: counters went backwards: {s:?}"));
        }
    }
}

fn clamp(capacity: i32) -> i32 {
    if capacity <= 0 {
        100
    } else {
        capacity.min(10_000)
    }
}

/// The task every token runs: marks the token, then does one of a few
/// things chosen by the token's hash: a short spin, a short sleep, schedule
/// a child on its own pool, schedule on another pool (never waiting long:
/// waiting on another pool from a task can deadlock pools), read the
/// stats, or check that `pool_wait` / `pool_free` on its own pool refuse.
pub(crate) unsafe extern "C" fn task(arg: *mut c_void) {
    let slot = unsafe { &*(arg as *const Slot) };
    let ctx = unsafe { &*slot.ctx.load(Relaxed) };
    let token = (arg as usize - ctx.slots.as_ptr() as usize) / std::mem::size_of::<Slot>();
    if ctx.freed.load(SeqCst) {
        violation(format!(
            "pool {}: token {token} ran after pool_free returned",
            ctx.id
        ));
    }
    let prev = slot.state.fetch_add(1, SeqCst);
    if prev & RAN_MASK != 0 {
        violation(format!("pool {}: token {token} ran twice", ctx.id));
    }
    if prev & CANCELLED != 0 {
        violation(format!(
            "pool {}: token {token} ran after it was handed to on_cancel",
            ctx.id
        ));
    }
    if prev & REJECTED != 0 {
        violation(format!(
            "pool {}: token {token} ran although its schedule failed",
            ctx.id
        ));
    }
    let depth = slot.depth.load(Relaxed);
    let group = match slot.group.load(Relaxed) {
        NO_GROUP => None,
        g => Some(g as usize),
    };
    let mut rng = Rng::new(mix(ctx.seed ^ token as u64));
    match rng.below(120) {
        100..=119 => control::in_task(ctx, group, depth, &mut rng),
        0..=64 => {
            let mut x = token as u64;
            for i in 0..rng.below(3000) {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
        }
        65..=79 => std::thread::sleep(Duration::from_micros(rng.below(1500))),
        80..=91 if depth < MAX_DEPTH => {
            // A child on this pool: safe without a lease, pool_free cannot
            // return while this task runs.
            // Into its own group, another one or none.
            for _ in 0..=rng.below(3) {
                let g = match rng.below(4) {
                    0 | 1 => group,
                    2 if !ctx.groups.is_empty() => {
                        Some(rng.below(ctx.groups.len() as u64) as usize)
                    }
                    _ => None,
                };
                ctx.submit_in(g, Kind::random(&mut rng, true), depth + 1, None);
            }
        }
        92..=95 if depth < MAX_DEPTH => {
            if let Some(other) = registry::peek(rng.below(registry::SLOTS as u64) as usize) {
                if let Some(_lease) = other.lease_call() {
                    let kind = match rng.below(2) {
                        0 => Kind::Try,
                        _ => Kind::Timeout(rng.below(3)),
                    };
                    other.submit(kind, depth + 1, None);
                }
            }
        }
        96..=97 => ctx.check_stats(None),
        98 => {
            // DEADLOCK; or FREED once pool_free began (documented for a
            // call made after free began).
            let st = unsafe { pool_wait(ctx.handle) };
            if !matches!(
                st,
                pool_status::POOL_ERR_DEADLOCK | pool_status::POOL_ERR_FREED
            ) {
                violation(format!("pool {}: pool_wait from its task: {st:?}", ctx.id));
            }
        }
        _ => {
            let st = unsafe { pool_free(ctx.handle) };
            if st != pool_status::POOL_ERR_DEADLOCK {
                violation(format!("pool {}: pool_free from its task: {st:?}", ctx.id));
            }
        }
    }
}

/// The racing free's barrier: holds `pool_free` until no outside caller is
/// inside a call any more (they are all blocked inside the library, which
/// `pool_free` releases, or on their way out).
pub(crate) unsafe extern "C" fn barrier(arg: *mut c_void) {
    let ctx = unsafe { &*(arg as *const PoolCtx) };
    let start = Instant::now();
    while ctx.in_call.load(SeqCst) != 0 {
        if start.elapsed() > check::HANG {
            violation(format!(
                "pool {}: outside callers still inside {:?} after pool_free began",
                ctx.id,
                check::HANG
            ));
            return;
        }
        std::thread::sleep(Duration::from_micros(50));
    }
}

pub(crate) fn wait_zero(counter: &AtomicUsize, beat: &Beat, step: usize) {
    beat.enter(step);
    while counter.load(SeqCst) != 0 {
        std::thread::sleep(Duration::from_micros(100));
    }
    beat.done();
}

/// Frees the pool (the caller took it out of the registry and set
/// `closing`) and checks every token. `race`: free while schedulers may
/// be blocked inside: through the barrier (below), or with a
/// `pool_shutdown` while they call. Otherwise quietly, sometimes with a
/// `pool_shutdown` at quiescence first. The groups are freed before
/// `pool_free` (only when nothing runs any more) or after it, at random.
pub fn free(ctx: &PoolCtx, race: bool, beat: &Beat) {
    use pool_status::*;
    ctx.closing.store(true, SeqCst);
    wait_zero(&ctx.in_wait, beat, check::S_FREE_WAITERS);
    // No pool_cancel_queued may run from here on: it could remove the
    // barrier (and pool_shutdown(CANCEL) reports only its own).
    wait_zero(&ctx.in_cancel, beat, check::S_FREE_CANCELLERS);
    let mut rng = Rng::new(ctx.seed ^ 0xF4EE);
    let mut raced = false;
    let mut quiescent = false;
    if race && rng.chance(50) {
        // pool_shutdown while drivers (and tasks) still call: from its
        // start they get POOL_ERR_FREED; then they all leave, and once a
        // shutdown returned POOL_OK nothing runs any more.
        let mode = control::random_mode(&mut rng);
        let ms = rng.pick(&[0, 1, 20, u64::MAX]);
        let st = control::shutdown_checked(ctx, mode, ms, beat);
        if st != POOL_OK {
            control::shutdown_checked(ctx, control::random_mode(&mut rng), u64::MAX, beat);
        }
        wait_zero(&ctx.in_call, beat, check::S_FREE_QUIET);
        control::check_quiescent(ctx, "after a racing pool_shutdown");
        control::check_shut(ctx, &mut rng);
        raced = true;
        quiescent = true;
        registry::count_shutdown(true);
    } else if race {
        beat.enter(check::S_FREE_BARRIER);
        let st = unsafe {
            pool_schedule_timeout(
                ctx.handle,
                Some(barrier),
                ctx as *const PoolCtx as *mut c_void,
                10_000,
            )
        };
        beat.done();
        match st {
            POOL_OK => raced = true,
            POOL_ERR_TIMEOUT | POOL_ERR_SPAWN => {}
            other => violation(format!("pool {}: barrier schedule: {other:?}", ctx.id)),
        }
    }
    if !raced {
        wait_zero(&ctx.in_call, beat, check::S_FREE_QUIET);
        // `pool_wait` is exact: it waits for the tasks accepted before it,
        // not for the children they schedule meanwhile. A child is accepted
        // before its parent finishes, so before the next wait begins: one
        // wait per generation covers every task (DRAIN_WAITS).
        // (Other pools' tasks schedule here only under a lease, all gone.)
        for _ in 0..DRAIN_WAITS {
            beat.enter(check::S_FREE_DRAIN);
            let st = unsafe { pool_wait(ctx.handle) };
            beat.done();
            if st != POOL_OK {
                violation(format!("pool {}: pool_wait before free: {st:?}", ctx.id));
            }
        }
        control::check_quiescent(ctx, "before pool_free");
        quiescent = true;
        if rng.chance(30) {
            let st = control::shutdown_checked(ctx, control::random_mode(&mut rng), u64::MAX, beat);
            if st != POOL_OK {
                violation(format!(
                    "pool {}: pool_shutdown at quiescence returned {st:?}",
                    ctx.id
                ));
            }
            control::check_quiescent(ctx, "after a pool_shutdown at quiescence");
            control::check_shut(ctx, &mut rng);
            registry::count_shutdown(false);
        }
    }
    // Nothing of the pool runs any more when quiescent: its groups may go
    // first. Otherwise (the barrier) tasks may still use them.
    let groups_first = quiescent && rng.chance(50);
    if groups_first {
        control::free_groups(ctx, false, beat);
    }
    beat.enter(check::S_FREE);
    let st = unsafe { pool_free(ctx.handle) };
    beat.done();
    ctx.freed.store(true, SeqCst);
    if st != POOL_OK {
        violation(format!("pool {}: pool_free returned {st:?}", ctx.id));
    }
    verify(ctx);
    if !groups_first {
        control::free_groups(ctx, true, beat);
    }
    registry::add_statuses(ctx, raced);
}

/// After `pool_free`: every token decided, accepted ones ran exactly once
/// or were cancelled exactly once (never both), refused ones neither; one
/// on_exit per on_start.
fn verify(ctx: &PoolCtx) {
    let used = ctx.next_token.load(SeqCst).min(TOKENS);
    let mut accepted = 0u64;
    let mut cancelled = 0u64;
    let mut bad = 0;
    for (i, slot) in ctx.slots[..used].iter().enumerate() {
        let s = slot.state.load(SeqCst);
        let ran = s & RAN_MASK;
        let x = u8::from(s & CANCELLED != 0);
        let problem = match (s & ACCEPTED != 0, s & REJECTED != 0) {
            (true, false) if ran + x == 1 => None,
            (true, false) => Some(format!("accepted, ran {ran} times, cancelled {x}")),
            (false, true) if ran + x == 0 => None,
            (false, true) => Some(format!("rejected, ran {ran} times, cancelled {x}")),
            (false, false) => Some(format!("never decided (ran {ran} times, cancelled {x})")),
            (true, true) => Some("both accepted and rejected".to_string()),
        };
        accepted += u64::from(s & ACCEPTED != 0);
        cancelled += u64::from(x);
        if let Some(problem) = problem {
            bad += 1;
            if bad <= 5 {
                violation(format!(
                    "pool {}: after pool_free, token {i}: {problem} ({:?})",
                    ctx.id, ctx.opts
                ));
            }
        }
    }
    if accepted != ctx.statuses.get(pool_status::POOL_OK) {
        violation(format!(
            "pool {}: {accepted} tokens accepted, {} POOL_OK counted",
            ctx.id,
            ctx.statuses.get(pool_status::POOL_OK)
        ));
    }
    if cancelled != ctx.cancels.load(SeqCst) {
        violation(format!(
            "pool {}: {cancelled} tokens cancelled, {} on_cancel calls",
            ctx.id,
            ctx.cancels.load(SeqCst)
        ));
    }
    registry::count_cancelled(cancelled);
    let (started, exited) = (
        ctx.hooks.started.load(SeqCst),
        ctx.hooks.exited.load(SeqCst),
    );
    if started != exited {
        violation(format!(
            "pool {}: after pool_free, {started} on_start but {exited} on_exit",
            ctx.id
        ));
    }
}

/// Tokens handed out so far (at most TOKENS).
pub(crate) fn used_tokens(ctx: &PoolCtx) -> usize {
    ctx.next_token.load(SeqCst).min(TOKENS)
}

/// Per group: (ran, cancelled) over the accepted tokens (exact once
/// nothing runs).
pub(crate) fn group_tally(ctx: &PoolCtx) -> [(u64, u64); MAX_GROUPS] {
    let mut out = [(0, 0); MAX_GROUPS];
    for slot in &ctx.slots[..used_tokens(ctx)] {
        let s = slot.state.load(SeqCst);
        let g = slot.group.load(SeqCst);
        if s & ACCEPTED != 0 && (g as usize) < MAX_GROUPS {
            out[g as usize].0 += u64::from(s & RAN_MASK);
            out[g as usize].1 += u64::from(s & CANCELLED != 0);
        }
    }
    out
}

/// Frees a pool and keeps its memory a while, so that a (buggy) late task
/// still finds its slot instead of freed memory.
pub fn free_and_bury(ctx: Arc<PoolCtx>, race: bool, beat: &Beat) {
    free(&ctx, race, beat);
    registry::bury(ctx);
}
