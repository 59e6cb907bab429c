//! The 0.2 calls: task groups, pause windows, `pool_cancel_queued`,
//! `pool_parallel_for` and `pool_shutdown`, as `c_examples/stress.c`'s
//! control rounds exercise them, here on the harness's own pools.
//!
//! * Cancelling: `on_cancel` marks the token CANCELLED; a token accepted
//!   ran exactly once XOR was cancelled exactly once (checked after
//!   `pool_free`); each call's count equals its on_cancel calls; at
//!   quiescence `pool_stats.cancelled` equals every on_cancel call made.
//!   A `pool_cancel_queued` holds the `in_cancel` lease: the freer waits
//!   for none to be inside before it schedules its barrier or shuts down.
//! * Pause windows: a driver pauses, makes only calls that never wait,
//!   and resumes; a task pauses and resumes at once. So the last pause is
//!   always followed by a resume, and the pool is never left paused.
//! * Groups: a pool has 0 to 3, fixed at its creation; tokens may be
//!   scheduled through them (every variant). Outside waits (timeouts 0, 1,
//!   5 ms, for ever) hold the `in_wait` lease; tasks wait on their own
//!   group only to check `POOL_ERR_DEADLOCK`, and on other groups with
//!   short timeouts (a task waiting for ever could be helped under a task
//!   that its group waits for: a cycle of the program, not the library).
//! * Parallel loops: every index exactly once, chunks of `grain`; from
//!   drivers, from tasks, and nested in a driver loop's body.
//! * Shutdown: see `pools::free`.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU8, Ordering::*};
use std::time::Duration;

use workerpool::ffi::*;

use crate::check::{self, Beat, violation};
use crate::pools::{self, CANCELLED, Kind, MAX_DEPTH, PoolCtx, RAN_MASK, REJECTED, Slot, lease};
use crate::rng::Rng;

/// One `pool_cancel_queued` / `pool_shutdown` call's on_cancel context.
struct CancelCall<'a> {
    ctx: &'a PoolCtx,
    handed: u64,
}

unsafe extern "C" fn on_cancel(func: pool_task_fn, arg: *mut c_void, call: *mut c_void) {
    let call = unsafe { &mut *(call as *mut CancelCall) };
    call.handed += 1;
    let ctx = call.ctx;
    if func.map(|f| f as *const () as usize) != Some(pools::task as *const () as usize) {
        let what = if func.map(|f| f as *const () as usize)
            == Some(pools::barrier as *const () as usize)
        {
            "the freer's barrier task"
        } else {
            "a task that is not a token"
        };
        violation(format!("pool {}: on_cancel got {what}", ctx.id));
        return;
    }
    let base = ctx.slots.as_ptr() as usize;
    let size = std::mem::size_of::<Slot>();
    let a = arg as usize;
    if a < base || a >= base + ctx.slots.len() * size || (a - base) % size != 0 {
        violation(format!(
            "pool {}: on_cancel got an argument that is not one of its tokens",
            ctx.id
        ));
        return;
    }
    let token = (a - base) / size;
    let slot = &ctx.slots[token];
    let prev = slot.state.fetch_or(CANCELLED, SeqCst);
    if prev & CANCELLED != 0 {
        violation(format!("pool {}: token {token} cancelled twice", ctx.id));
    }
    if prev & RAN_MASK != 0 {
        violation(format!(
            "pool {}: token {token} cancelled after it ran",
            ctx.id
        ));
    }
    if prev & REJECTED != 0 {
        violation(format!(
            "pool {}: token {token} cancelled although its schedule was refused",
            ctx.id
        ));
    }
    ctx.cancels.fetch_add(1, SeqCst);
    let g = slot.group.load(SeqCst) as usize;
    if g < ctx.group_cancels.len() {
        ctx.group_cancels[g].fetch_add(1, SeqCst);
    }
}

/// `pool_cancel_queued` (drivers and tasks), its count checked. Skipped
/// once the pool is closing.
pub fn cancel_now(ctx: &PoolCtx, beat: Option<&Beat>) {
    let Some(_lease) = lease(&ctx.closing, &ctx.in_cancel) else {
        return;
    };
    let mut call = CancelCall { ctx, handed: 0 };
    let mut n = u64::MAX;
    beat.inspect(|b| b.enter(check::S_CANCEL));
    let st = unsafe {
        pool_cancel_queued(
            ctx.handle,
            Some(on_cancel),
            &mut call as *mut CancelCall as *mut c_void,
            &mut n,
        )
    };
    beat.inspect(|b| b.done());
    check_cancel_result(ctx, st, n, call.handed);
}

fn check_cancel_result(ctx: &PoolCtx, st: pool_status, n: u64, handed: u64) {
    if st != pool_status::POOL_OK {
        violation(format!(
            "pool {}: pool_cancel_queued returned {st:?}",
            ctx.id
        ));
    } else if n != handed {
        violation(format!(
            "pool {}: pool_cancel_queued reported {n}, handed {handed} to on_cancel",
            ctx.id
        ));
    } else if ctx.opts.queue == 0 && n != 0 {
        violation(format!(
            "pool {}: pool_cancel_queued removed {n} tasks from a hand-off pool",
            ctx.id
        ));
    }
}

/// A status that is POOL_OK, or POOL_ERR_FREED once the pool is closing.
fn ok_or_closing(ctx: &PoolCtx, st: pool_status, what: &str) {
    if st != pool_status::POOL_OK
        && !(st == pool_status::POOL_ERR_FREED && ctx.closing.load(SeqCst))
    {
        violation(format!("pool {}: {what} returned {st:?}", ctx.id));
    }
}

pub fn pause(ctx: &PoolCtx, what: &str) {
    ok_or_closing(ctx, unsafe { pool_pause(ctx.handle) }, what);
}

pub fn resume(ctx: &PoolCtx, what: &str) {
    ok_or_closing(ctx, unsafe { pool_resume(ctx.handle) }, what);
}

fn random_group(ctx: &PoolCtx, rng: &mut Rng) -> Option<usize> {
    (!ctx.groups.is_empty()).then(|| rng.below(ctx.groups.len() as u64) as usize)
}

/// A driver's pause window (under a call lease): pause, calls that never
/// wait (try / timeout 0 schedules, maybe a cancel, a group poll, stats),
/// resume. The driver never blocks while it holds the pool paused.
pub fn pause_window(ctx: &PoolCtx, rng: &mut Rng, beat: &Beat) -> bool {
    beat.enter(check::S_PAUSE);
    pause(ctx, "pool_pause");
    let mut exhausted = false;
    for _ in 0..rng.below(8) {
        let g = if rng.chance(50) {
            random_group(ctx, rng)
        } else {
            None
        };
        let kind = if rng.chance(50) {
            Kind::Try
        } else {
            Kind::Timeout(0)
        };
        if ctx.submit_in(g, kind, 0, None).is_none() {
            exhausted = true;
            break;
        }
    }
    if rng.chance(30) {
        std::thread::sleep(Duration::from_micros(rng.below(500)));
    }
    if rng.chance(50) {
        cancel_now(ctx, None);
    }
    if let Some(g) = random_group(ctx, rng).filter(|_| rng.chance(50)) {
        let st = unsafe { pool_group_wait(ctx.groups[g], 0) };
        if !matches!(st, pool_status::POOL_OK | pool_status::POOL_ERR_TIMEOUT) {
            violation(format!(
                "pool {}: pool_group_wait(0) while paused returned {st:?}",
                ctx.id
            ));
        }
    }
    let s = ctx.stats_now();
    if s.capacity != u32::MAX && s.paused > 1 {
        violation(format!("pool {}: paused out of range: {s:?}", ctx.id));
    }
    resume(ctx, "pool_resume");
    beat.done();
    exhausted
}

/// A group wait from outside (timeouts 0, 1, 5 ms, for ever), under the
/// wait lease: the freer waits for these before it frees.
pub fn group_wait_outside(ctx: &PoolCtx, rng: &mut Rng, beat: &Beat) {
    let Some(g) = random_group(ctx, rng) else {
        return;
    };
    let Some(_lease) = lease(&ctx.closing, &ctx.in_wait) else {
        return;
    };
    let ms = rng.pick(&[0, 1, 5, u64::MAX, u64::MAX]);
    beat.enter(check::S_GROUP_WAIT);
    let st = unsafe { pool_group_wait(ctx.groups[g], ms) };
    beat.done();
    if st != pool_status::POOL_OK && !(st == pool_status::POOL_ERR_TIMEOUT && ms != u64::MAX) {
        violation(format!(
            "pool {}: pool_group_wait({ms}) from outside returned {st:?}",
            ctx.id
        ));
    }
}

fn group_stats(group: *mut pool_group_t) -> pool_group_stats {
    let mut gs = pool_group_stats {
        submitted: u64::MAX,
        completed: u64::MAX,
        cancelled: u64::MAX,
        pending: u64::MAX,
    };
    unsafe { pool_group_get_stats(group, &mut gs, std::mem::size_of::<pool_group_stats>()) };
    gs
}

/// A group's stats at any time: they add up; submitted covers every
/// POOL_OK seen before.
pub fn check_group_stats(ctx: &PoolCtx, rng: &mut Rng) {
    let Some(g) = random_group(ctx, rng) else {
        return;
    };
    let ok_before = ctx.group_ok[g].load(SeqCst);
    let gs = group_stats(ctx.groups[g]);
    if gs.submitted != gs.completed + gs.cancelled + gs.pending || gs.submitted < ok_before {
        violation(format!(
            "pool {} group {g}: stats do not add up: {gs:?}, {ok_before} POOL_OK seen before",
            ctx.id
        ));
    }
}

/// A parallel loop's context: the range, the grain, a hit count per index;
/// `nest`: the body may run a loop of its own on the same pool.
struct Pfor<'a> {
    ctx: &'a PoolCtx,
    begin: usize,
    end: usize,
    grain: usize,
    hits: Vec<AtomicU8>,
    nest: bool,
    seed: u64,
}

unsafe extern "C" fn pfor_body(p: *mut c_void, b: usize, e: usize) {
    let p = unsafe { &*(p as *const Pfor) };
    if b < p.begin || b >= e || e > p.end {
        violation(format!(
            "parallel_for chunk [{b}, {e}) outside [{}, {})",
            p.begin, p.end
        ));
        return;
    }
    if p.grain > 0 && e - b != p.grain && !(e == p.end && e - b < p.grain) {
        violation(format!(
            "parallel_for chunk [{b}, {e}) of grain {} in [{}, {})",
            p.grain, p.begin, p.end
        ));
    }
    for i in b..e {
        p.hits[i - p.begin].fetch_add(1, SeqCst);
    }
    if p.nest && b % 7 == 0 {
        let mut rng = Rng::new(p.seed ^ b as u64);
        run_loop(p.ctx, &mut rng, 30, false, None);
    }
}

/// A loop over a random range of at most `max` indices, each checked.
/// The caller holds a call lease or is a task of the pool.
pub fn run_loop(ctx: &PoolCtx, rng: &mut Rng, max: u64, nest: bool, beat: Option<&Beat>) {
    let len = rng.below(max + 1) as usize;
    let begin = rng.below(1000) as usize;
    let p = Pfor {
        ctx,
        begin,
        end: begin + len,
        grain: rng.pick(&[0, 1, 3, 17, 1000]),
        hits: (0..len).map(|_| AtomicU8::new(0)).collect(),
        nest,
        seed: rng.next(),
    };
    ctx.loops.fetch_add(1, SeqCst);
    beat.inspect(|b| b.enter(check::S_LOOP));
    let st = unsafe {
        pool_parallel_for(
            ctx.handle,
            p.begin,
            p.end,
            p.grain,
            Some(pfor_body),
            &p as *const Pfor as *mut c_void,
        )
    };
    beat.inspect(|b| b.done());
    ok_or_closing(ctx, st, "pool_parallel_for");
    // Returned: no body call is left running or to come.
    let want = u8::from(st == pool_status::POOL_OK);
    for (i, h) in p.hits.iter().enumerate() {
        let h = h.load(SeqCst);
        if h != want {
            violation(format!(
                "pool {}: parallel_for ({st:?}) index {} of [{}, {}) grain {} ran {h} times",
                ctx.id,
                p.begin + i,
                p.begin,
                p.end,
                p.grain
            ));
            break;
        }
    }
}

/// An empty loop (no body call) and a reversed one (INVALID).
pub fn odd_loops(ctx: &PoolCtx) {
    let st =
        unsafe { pool_parallel_for(ctx.handle, 5, 5, 0, Some(pfor_body), std::ptr::null_mut()) };
    ok_or_closing(ctx, st, "pool_parallel_for on an empty range");
    let st =
        unsafe { pool_parallel_for(ctx.handle, 6, 5, 0, Some(pfor_body), std::ptr::null_mut()) };
    if st != pool_status::POOL_ERR_INVALID {
        violation(format!(
            "pool {}: pool_parallel_for(begin > end) returned {st:?}",
            ctx.id
        ));
    }
}

/// What a task does with the 0.2 calls (on its own pool).
pub fn in_task(ctx: &PoolCtx, group: Option<usize>, depth: u8, rng: &mut Rng) {
    use pool_status::*;
    match rng.below(10) {
        0 | 1 => {
            // Its own group: always DEADLOCK. A token outside groups
            // polls a random one (it may run inline under a task of it).
            if let Some(g) = group {
                let ms = rng.pick(&[0, 1, u64::MAX]);
                let st = unsafe { pool_group_wait(ctx.groups[g], ms) };
                if st != POOL_ERR_DEADLOCK {
                    violation(format!(
                        "pool {}: pool_group_wait({ms}) on its own group from a task: {st:?}",
                        ctx.id
                    ));
                }
            } else if let Some(g) = random_group(ctx, rng) {
                other_group_wait(ctx, g, rng);
            }
        }
        2 | 3 => {
            if let Some(g) = random_group(ctx, rng).filter(|&g| Some(g) != group) {
                other_group_wait(ctx, g, rng);
            }
        }
        4 | 5 if depth < MAX_DEPTH => run_loop(ctx, rng, 40, false, None),
        6 => cancel_now(ctx, None),
        7 => {
            // Pause and resume at once: a task never leaves the pool
            // paused.
            pause(ctx, "pool_pause from a task");
            resume(ctx, "pool_resume from a task");
        }
        8 => {
            let st = unsafe {
                pool_shutdown(
                    ctx.handle,
                    pool_shutdown_mode::POOL_SHUTDOWN_CANCEL as i32,
                    0,
                    None,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
            if st != POOL_ERR_DEADLOCK && !(st == POOL_ERR_FREED && ctx.closing.load(SeqCst)) {
                violation(format!(
                    "pool {}: pool_shutdown from its task: {st:?}",
                    ctx.id
                ));
            }
        }
        _ => {
            let mut s = pool_stats::default();
            unsafe { pool_get_stats_sized(ctx.handle, &mut s, std::mem::size_of::<pool_stats>()) };
            if let Some(g) = random_group(ctx, rng) {
                let gs = group_stats(ctx.groups[g]);
                if gs.submitted != gs.completed + gs.cancelled + gs.pending {
                    violation(format!(
                        "pool {} group {g}: stats from a task: {gs:?}",
                        ctx.id
                    ));
                }
            }
        }
    }
}

/// A short wait on a group other than the task's own: OK, TIMEOUT, or
/// DEADLOCK when a task of that group runs further up this thread's stack
/// (this task ran inline under it, or was helped by its wait).
fn other_group_wait(ctx: &PoolCtx, g: usize, rng: &mut Rng) {
    use pool_status::*;
    let ms = rng.pick(&[0, 0, 1, 2]);
    let st = unsafe { pool_group_wait(ctx.groups[g], ms) };
    if !matches!(st, POOL_OK | POOL_ERR_TIMEOUT | POOL_ERR_DEADLOCK) {
        violation(format!(
            "pool {}: pool_group_wait({ms}) on another group from a task: {st:?}",
            ctx.id
        ));
    }
}

pub fn random_mode(rng: &mut Rng) -> pool_shutdown_mode {
    if rng.chance(50) {
        pool_shutdown_mode::POOL_SHUTDOWN_CANCEL
    } else {
        pool_shutdown_mode::POOL_SHUTDOWN_DRAIN
    }
}

/// `pool_shutdown` by the freer, its report checked against what it
/// handed to on_cancel.
pub fn shutdown_checked(
    ctx: &PoolCtx,
    mode: pool_shutdown_mode,
    ms: u64,
    beat: &Beat,
) -> pool_status {
    let mut call = CancelCall { ctx, handed: 0 };
    let mut r = pool_shutdown_report {
        cancelled: u64::MAX,
        queued: u64::MAX,
        running: u32::MAX,
    };
    beat.enter(check::S_SHUTDOWN);
    let st = unsafe {
        pool_shutdown(
            ctx.handle,
            mode as i32,
            ms,
            Some(on_cancel),
            &mut call as *mut CancelCall as *mut c_void,
            &mut r,
        )
    };
    beat.done();
    let id = ctx.id;
    if st != pool_status::POOL_OK && !(st == pool_status::POOL_ERR_TIMEOUT && ms != u64::MAX) {
        violation(format!(
            "pool {id}: pool_shutdown({mode:?}, {ms}) returned {st:?}"
        ));
    }
    if r.cancelled != call.handed
        || (mode == pool_shutdown_mode::POOL_SHUTDOWN_DRAIN && r.cancelled != 0)
    {
        violation(format!(
            "pool {id}: pool_shutdown({mode:?}) reported {r:?}, handed {} to on_cancel",
            call.handed
        ));
    }
    if st == pool_status::POOL_OK && (r.queued != 0 || r.running != 0) {
        violation(format!(
            "pool {id}: pool_shutdown returned POOL_OK with {r:?}"
        ));
    }
    st
}

/// After a `pool_shutdown` that returned POOL_OK: every call refuses but
/// `pool_cancel_queued` (which finds nothing); no worker is left.
pub fn check_shut(ctx: &PoolCtx, rng: &mut Rng) {
    use pool_status::*;
    let id = ctx.id;
    let g = unsafe { pool_group_new(ctx.handle) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    if !g.is_null() || errno != Some(libc::ECANCELED) {
        violation(format!(
            "pool {id}: pool_group_new after pool_shutdown: {g:?}, errno {errno:?}"
        ));
        unsafe { pool_group_free(g) };
    }
    let group = random_group(ctx, rng).filter(|_| rng.chance(50));
    if let Some(st) = ctx.submit_in(group, Kind::random(rng, false), 0, None) {
        if st != POOL_ERR_FREED {
            violation(format!("pool {id}: a schedule after pool_shutdown: {st:?}"));
        }
    }
    let st = unsafe { pool_pause(ctx.handle) };
    if st != POOL_ERR_FREED {
        violation(format!("pool {id}: pool_pause after pool_shutdown: {st:?}"));
    }
    let st = unsafe { pool_resume(ctx.handle) };
    if !matches!(st, POOL_OK | POOL_ERR_FREED) {
        violation(format!(
            "pool {id}: pool_resume after pool_shutdown: {st:?}"
        ));
    }
    run_loop(ctx, rng, 10, false, None);
    let mut call = CancelCall { ctx, handed: 0 };
    let mut n = u64::MAX;
    let st = unsafe {
        pool_cancel_queued(
            ctx.handle,
            Some(on_cancel),
            &mut call as *mut CancelCall as *mut c_void,
            &mut n,
        )
    };
    check_cancel_result(ctx, st, n, call.handed);
    if n != 0 {
        violation(format!(
            "pool {id}: pool_cancel_queued after pool_shutdown removed {n}"
        ));
    }
    let s = ctx.stats_now();
    if s.workers != 0 {
        violation(format!(
            "pool {id}: workers left after pool_shutdown: {s:?}"
        ));
    }
}

/// Nothing of the pool runs or waits: the counts must be exact.
pub fn check_quiescent(ctx: &PoolCtx, when: &str) {
    use pool_status::*;
    let id = ctx.id;
    let tally = pools::group_tally(ctx);
    for (g, &group) in ctx.groups.iter().enumerate() {
        let gs = group_stats(group);
        let (ok, cancels) = (
            ctx.group_ok[g].load(SeqCst),
            ctx.group_cancels[g].load(SeqCst),
        );
        if gs.pending != 0
            || gs.submitted != ok
            || gs.cancelled != cancels
            || gs.completed + gs.cancelled != gs.submitted
            || (gs.completed, gs.cancelled) != tally[g]
        {
            violation(format!(
                "pool {id} {when}: group {g}: {gs:?}; POOL_OK {ok}, on_cancel {cancels}, \
                 tokens (ran, cancelled) {:?}",
                tally[g]
            ));
        }
        let st = unsafe { pool_group_wait(group, 0) };
        if st != POOL_OK {
            violation(format!(
                "pool {id} {when}: group {g}: pool_group_wait(0): {st:?}"
            ));
        }
    }
    let s = ctx.stats_now();
    let ok = ctx.statuses.get(POOL_OK);
    let refused = ctx.statuses.get(POOL_ERR_NO_IDLE_WORKER)
        + ctx.statuses.get(POOL_ERR_TIMEOUT)
        + ctx.statuses.get(POOL_ERR_FREED);
    let spawn = ctx.statuses.get(POOL_ERR_SPAWN);
    let cancels = ctx.cancels.load(SeqCst);
    let loops = ctx.loops.load(SeqCst);
    // The loops' helpers are tasks of the pool (submitted, completed; when
    // cancelled, counted completed and never handed to on_cancel); a loop
    // may have one helper refused (counted in rejected). The contract
    // counts NO_IDLE_WORKER, TIMEOUT and FREED as rejected; a SPAWN failure
    // may or may not be counted (not documented).
    let quiet = s.queued == 0
        && s.busy == 0
        && s.paused == 0
        && s.submitted == s.completed + s.cancelled
        && s.cancelled == cancels
        && s.submitted >= ok
        && (loops > 0 || s.submitted == ok);
    let rejected_ok = s.rejected >= refused && s.rejected <= refused + spawn + loops;
    if !quiet || !rejected_ok {
        violation(format!(
            "pool {id} {when}: stats at quiescence do not add up: {s:?}, OK calls {ok}, \
             refused calls {refused}, SPAWN {spawn}, on_cancel {cancels}, loops {loops} ({:?})",
            ctx.opts
        ));
    }
}

unsafe extern "C" fn must_not_run(_: *mut c_void) {
    violation("a task scheduled on a group after its pool_free ran");
}

/// Frees the groups: before `pool_free` (nothing runs: the caller checked
/// quiescence) or after it (`after`: schedules refuse, the wait returns,
/// the counts are final).
pub fn free_groups(ctx: &PoolCtx, after: bool, beat: &Beat) {
    use pool_status::*;
    let id = ctx.id;
    let tally = pools::group_tally(ctx);
    for (g, &group) in ctx.groups.iter().enumerate() {
        if after {
            let gs = group_stats(group);
            let (ok, cancels) = (
                ctx.group_ok[g].load(SeqCst),
                ctx.group_cancels[g].load(SeqCst),
            );
            if gs.pending != 0
                || gs.submitted != ok
                || gs.cancelled != cancels
                || (gs.completed, gs.cancelled) != tally[g]
            {
                violation(format!(
                    "pool {id} group {g} after pool_free: {gs:?}; POOL_OK {ok}, on_cancel \
                     {cancels}, tokens (ran, cancelled) {:?}",
                    tally[g]
                ));
            }
            let st =
                unsafe { pool_group_try_schedule(group, Some(must_not_run), std::ptr::null_mut()) };
            if st != POOL_ERR_FREED {
                violation(format!(
                    "pool {id} group {g}: pool_group_try_schedule after pool_free: {st:?}"
                ));
            }
            let st =
                unsafe { pool_group_schedule(group, Some(must_not_run), std::ptr::null_mut()) };
            if st != POOL_ERR_FREED {
                violation(format!(
                    "pool {id} group {g}: pool_group_schedule after pool_free: {st:?}"
                ));
            }
            beat.enter(check::S_GROUP_WAIT);
            let st = unsafe { pool_group_wait(group, u64::MAX) };
            beat.done();
            if st != POOL_OK {
                violation(format!(
                    "pool {id} group {g}: pool_group_wait after pool_free: {st:?}"
                ));
            }
        }
        beat.enter(check::S_GROUP_FREE);
        let st = unsafe { pool_group_free(group) };
        beat.done();
        if st != POOL_OK {
            violation(format!("pool {id} group {g}: pool_group_free: {st:?}"));
        }
    }
}
