//! The races of the worker lifecycle, of the exact wait and of the stats,
//! each made to happen every time: a `fault-injection` pause holds a
//! thread inside the window (`workerpool::fault::pause_in`), or a counter
//! tells the test that a thread has reached it (`sleeps`, `waits_begun`),
//! and the test acts right then, through the C ABI.
//!
//! `cargo test --release --features fault-injection --test races`. The
//! switches are process-wide, so the tests of this file take a common lock
//! and run one at a time.

mod common;

use std::ffi::{CString, c_void};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard};

use common::threads::own_comm;
use common::*;
use workerpool::fault::{
    Window, fail_spawns, fast_path_hint_off, pause_in, sleeps, times_in, waits_begun,
};
use workerpool::ffi::*;

use pool_status::*;

static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the file-wide lock and turns the pauses off again when the test
/// ends, even by a panic.
struct Serial(#[allow(dead_code)] MutexGuard<'static, ()>);

impl Serial {
    fn lock() -> Serial {
        let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        Serial::pauses_off();
        Serial(guard)
    }

    fn pauses_off() {
        pause_in(Window::LeavingLine, 0);
        pause_in(Window::RetireDecision, 0);
        pause_in(Window::Withdraw, 0);
        pause_in(Window::BeforePush, 0);
        fast_path_hint_off(false);
        fail_spawns(0, 0);
    }
}

impl Drop for Serial {
    fn drop(&mut self) {
        Serial::pauses_off();
    }
}

/// A pool from options set by `f`, with capacity `cap`.
fn pool_with(cap: i32, f: impl FnOnce(*mut pool_options_t)) -> *mut pool_t {
    unsafe {
        let o = pool_options_new();
        assert!(!o.is_null());
        f(o);
        let p = pool_new(cap, o);
        pool_options_free(o);
        assert!(!p.is_null(), "pool_new returned NULL");
        p
    }
}

fn queue_size(o: *mut pool_options_t, n: usize) {
    assert_eq!(unsafe { pool_options_set_queue_size(o, n) }, POOL_OK);
}

fn prealloc(o: *mut pool_options_t) {
    assert_eq!(unsafe { pool_options_set_prealloc(o, true) }, POOL_OK);
}

// ---------------------------------------------------------------------------
// 1. A worker leaving (idle expiry) while a scheduler finds the pool full
// ---------------------------------------------------------------------------

/// Hand-off mode, capacity 1, idle expiry: the only worker expires and is
/// held after its line became unclaimable and before it is uncounted. A
/// schedule in that window finds no idle line and `live == capacity`: it
/// must not be refused (try) nor sleep for ever (blocking) — the pool has
/// room the moment the worker is uncounted.
#[test]
fn a_schedule_while_the_only_worker_expires_gets_in() {
    let _serial = Serial::lock();
    let p = pool_with(1, |o| unsafe {
        assert_eq!(pool_options_set_idle_timeout_ms(o, 20), POOL_OK);
    });
    let ran = leak(AtomicUsize::new(0));
    pause_in(Window::LeavingLine, 300_000);
    for (round, blocking) in [(0, false), (1, true), (2, false), (3, true)] {
        assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
        assert_eq!(wait(p), POOL_OK);
        // The worker idles, expires, and is held in the window.
        let entered = times_in(Window::LeavingLine);
        wait_until("the worker is leaving", || {
            times_in(Window::LeavingLine) > entered
        });
        let pool = PoolPtr::new(p);
        let ran_arg = arg(ran) as usize;
        let status = run_bounded("a schedule while the worker leaves", move || {
            let a = ran_arg as *mut c_void;
            if blocking {
                schedule(pool.get(), counter_task, a)
            } else {
                try_schedule(pool.get(), counter_task, a)
            }
        });
        assert_eq!(status, POOL_OK, "round {round}, blocking {blocking}");
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(ran.load(SeqCst), 2 * (round + 1));
    }
    Serial::pauses_off();
    free_pool(p);
}

// ---------------------------------------------------------------------------
// 2. A task and a worker still inside its on_start hook
// ---------------------------------------------------------------------------

/// What the hooks of `a_task_never_waits_behind_a_start_hook` share: worker
/// `<prefix>-0`'s hook takes `held`, which the test holds.
struct HookGate {
    held: Mutex<()>,
    in_hook: AtomicUsize,
}

unsafe extern "C" fn hook_of_worker_0_waits(ctx: *mut c_void) {
    let gate = unsafe { &*(ctx as *const HookGate) };
    if own_comm().ends_with("-0") {
        gate.in_hook.fetch_add(1, SeqCst);
        drop(gate.held.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// Two preallocated workers: worker -0's `on_start` waits for a lock the
/// scheduling thread holds (as a hook taking Python's GIL would), worker -1
/// is asleep. A task scheduled now must run on worker -1 while the lock is
/// still held. Before the fix it was left to worker -0: in queue modes -0
/// counted as awake, so nobody woke -1; in hand-off mode -0's line was
/// claimable before its hook ran.
#[test]
fn a_task_never_waits_behind_a_start_hook() {
    let _serial = Serial::lock();
    for (mode, queue) in ALL_MODES {
        let gate = leak(HookGate {
            held: Mutex::new(()),
            in_hook: AtomicUsize::new(0),
        });
        let held = gate.held.lock().unwrap();
        let asleep_before = sleeps();
        let p = pool_with(2, |o| unsafe {
            queue_size(o, queue);
            prealloc(o);
            let name = CString::new("rhook").unwrap();
            assert_eq!(pool_options_set_thread_name(o, name.as_ptr()), POOL_OK);
            assert_eq!(
                pool_options_set_thread_hooks(o, Some(hook_of_worker_0_waits), None, arg(gate)),
                POOL_OK
            );
        });
        wait_until("worker -0 in its hook", || gate.in_hook.load(SeqCst) == 1);
        wait_until("worker -1 asleep", || sleeps() > asleep_before);
        let ran = leak(AtomicUsize::new(0));
        assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
        wait_until(&format!("{mode}: the task ran on the idle worker"), || {
            ran.load(SeqCst) == 1
        });
        drop(held);
        free_pool(p);
    }
}

// ---------------------------------------------------------------------------
// 3. A try_schedule right after a shrink
// ---------------------------------------------------------------------------

/// Hand-off mode, 8 idle workers, shrunk to 4: the 4 that stay must be
/// claimable when `pool_set_capacity` returns. Each worker asked to retire
/// is held before it decides; before the fix the shrink, polling, asked
/// more lines while the first were held, and those (which then stay) were
/// still unclaimable after it returned.
#[test]
fn try_schedule_right_after_a_shrink_finds_an_idle_worker() {
    let _serial = Serial::lock();
    pause_in(Window::RetireDecision, 20_000);
    for round in 0..5 {
        let asleep_before = sleeps();
        let p = pool_with(8, prealloc);
        wait_until("the 8 workers parked", || sleeps() >= asleep_before + 8);
        let asked_before = times_in(Window::RetireDecision);
        assert_eq!(unsafe { pool_set_capacity(p, 4) }, POOL_OK);
        assert_eq!(stats(p).workers, 4, "round {round}");
        assert_eq!(
            times_in(Window::RetireDecision) - asked_before,
            4,
            "round {round}: exactly the excess was asked"
        );
        let ran = leak(AtomicUsize::new(0));
        for task in 0..4 {
            assert_eq!(
                try_schedule(p, counter_task, arg(ran)),
                POOL_OK,
                "round {round}, task {task}"
            );
        }
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(ran.load(SeqCst), 4);
        free_pool(p);
    }
}

// ---------------------------------------------------------------------------
// 4. The exact wait
// ---------------------------------------------------------------------------

/// Schedules a gated task from another thread once `waiters` more waits
/// have begun (so it is accepted after each of them began), then opens
/// `first`.
fn after_waits_begin(
    p: *mut pool_t,
    waiters: u64,
    first: &'static Gated,
    later: &'static Gated,
) -> std::thread::JoinHandle<()> {
    let begun = waits_begun();
    let pool = PoolPtr::new(p);
    let (first_arg, later_arg) = (arg(first) as usize, arg(later) as usize);
    std::thread::spawn(move || {
        wait_until("the waits began", || waits_begun() >= begun + waiters);
        let later = later_arg as *const Gated;
        assert_eq!(
            schedule(pool.get(), gated_task, later as *mut c_void),
            POOL_OK
        );
        // The later task runs (it holds a worker) before the first is let go.
        wait_until(
            "the later task started",
            || unsafe { (*later).started() } == 1,
        );
        unsafe { (*(first_arg as *const Gated)).open() };
    })
}

/// The exact wait's case, in each of `modes`: a pool of 2 workers; a task
/// accepted first (`before` may then poll the pool); `waits` waits begun by
/// `wait_all`, which returns their statuses; a later task accepted once they
/// began, which keeps running until they returned. Every wait must return
/// `POOL_OK` with the first task done and the later one still running.
fn exact_wait_case(
    modes: &[(&str, usize)],
    waits: u64,
    before: impl Fn(*mut pool_t, &str),
    wait_all: impl Fn(PoolPtr) -> Vec<pool_status>,
) {
    for &(mode, queue) in modes {
        let p = pool_with(2, |o| queue_size(o, queue));
        let (first, later) = (leak(Gated::new()), leak(Gated::new()));
        assert_eq!(schedule(p, gated_task, arg(first)), POOL_OK);
        before(p, mode);
        let helper = after_waits_begin(p, waits, first, later);
        let statuses = wait_all(PoolPtr::new(p));
        assert_eq!(statuses, vec![POOL_OK; waits as usize], "{mode}");
        assert_eq!(first.done(), 1, "{mode}: the earlier task finished");
        assert_eq!(later.done(), 0, "{mode}: the later task still runs");
        helper.join().unwrap();
        later.open();
        assert_eq!(wait(p), POOL_OK);
        free_pool(p);
    }
}

const ALL_MODES: [(&str, usize); 3] = [("hand-off", 0), ("bounded", 4), ("unbounded", usize::MAX)];

/// Every mode: a task accepted before `pool_wait`, another accepted during
/// it that keeps running: the wait returns once the first finished, while
/// the second still runs. Before the fix `pool_wait` waited for the pool
/// to go idle, that is for the second task too.
#[test]
fn wait_returns_once_earlier_tasks_finished_while_later_ones_run() {
    let _serial = Serial::lock();
    exact_wait_case(
        &ALL_MODES,
        1,
        |_, _| {},
        |pool| vec![run_bounded("pool_wait", move || wait(pool.get()))],
    );
}

/// Four threads wait for the same earlier task while a later one keeps a
/// worker busy: every one of them returns once the earlier task finished.
#[test]
fn every_thread_waiting_when_its_tasks_finish_returns() {
    let _serial = Serial::lock();
    exact_wait_case(
        &ALL_MODES,
        4,
        |_, _| {},
        |pool| {
            let waiters: Vec<_> = (0..4)
                .map(|_| std::thread::spawn(move || wait(pool.get())))
                .collect();
            run_bounded("four pool_wait calls", move || {
                waiters.into_iter().map(|w| w.join().unwrap()).collect()
            })
        },
    );
}

/// `pool_wait_timeout` is exact too: it times out while an earlier task
/// runs (0 polls), and succeeds once it finished though a later one runs.
#[test]
fn wait_timeout_is_exact() {
    let _serial = Serial::lock();
    let timeouts = |p: *mut pool_t, mode: &str| {
        for ms in [0, 20] {
            let status = unsafe { pool_wait_timeout(p, ms) };
            assert_eq!(status, POOL_ERR_TIMEOUT, "{mode}, {ms} ms");
        }
    };
    exact_wait_case(&ALL_MODES, 1, timeouts, |pool| {
        vec![run_bounded("pool_wait_timeout", move || unsafe {
            pool_wait_timeout(pool.get(), u64::MAX)
        })]
    });
}

// ---------------------------------------------------------------------------
// 6. stats.submitted and a task the fast path counted, then gave back
// ---------------------------------------------------------------------------

/// A refused schedule held inside `Window::Withdraw`: its task is counted
/// in the pool's counts and about to be given back. `stats.submitted` read
/// then must not include it (it never will be accepted), so it never steps
/// back. `busy_before` tasks are accepted (and held running) first.
fn submitted_while_withdrawn(p: *mut pool_t, busy_before: usize, expect: pool_status) {
    let gated = leak(Gated::new());
    for _ in 0..busy_before {
        assert_eq!(schedule(p, gated_task, arg(gated)), POOL_OK);
    }
    wait_until("the tasks run", || gated.started() == busy_before);
    pause_in(Window::Withdraw, 300_000);
    let entered = times_in(Window::Withdraw);
    let pool = PoolPtr::new(p);
    let refused = std::thread::spawn(move || {
        try_schedule(pool.get(), counter_task, arg(leak(AtomicUsize::new(0))))
    });
    wait_until("the schedule is giving its task back", || {
        times_in(Window::Withdraw) > entered
    });
    let during = stats(p).submitted;
    let status = run_bounded("the refused schedule", move || refused.join().unwrap());
    Serial::pauses_off();
    assert_eq!(status, expect);
    let after = stats(p).submitted;
    assert_eq!(
        during, busy_before as u64,
        "a withdrawn task counted as submitted"
    );
    assert!(
        after >= during,
        "submitted stepped back: {during} then {after}"
    );
    gated.open();
    assert_eq!(wait(p), POOL_OK);
    let end = stats(p);
    assert_eq!(
        (end.submitted, end.completed),
        (busy_before as u64, busy_before as u64)
    );
    free_pool(p);
}

/// Hand-off mode: the only worker is busy, so a try schedule's fast path
/// finds no idle line after it counted its task.
#[test]
fn submitted_never_counts_a_task_withdrawn_by_hand_off() {
    let _serial = Serial::lock();
    let p = pool_with(1, |o| queue_size(o, 0));
    submitted_while_withdrawn(p, 1, POOL_ERR_NO_IDLE_WORKER);
}

/// Queue mode: a lazy pool with no worker yet, the fast path forced
/// (`fast_path_hint_off`): it counts its task, finds a worker still to
/// start, gives the task back; the gated path's start fails.
#[test]
fn submitted_never_counts_a_task_withdrawn_by_a_queue_mode() {
    let _serial = Serial::lock();
    let p = pool_with(1, |_| {});
    fast_path_hint_off(true);
    fail_spawns(1000, 1);
    submitted_while_withdrawn(p, 0, POOL_ERR_SPAWN);
}

// ---------------------------------------------------------------------------
// 7. A worker waiting for a group goes to sleep while a schedule is between
//    its wake decision and its push
// ---------------------------------------------------------------------------

/// Queue mode, two workers, both busy: one runs a task of a group, held;
/// the other runs a task that will wait for that group. A schedule from
/// outside counts its task and decides, with no sleeper there, to wake
/// nobody, then pauses before its push (`Window::BeforePush`). Meanwhile
/// the waiting task begins its wait: nothing is queued yet, so it sleeps
/// among the pool's sleepers. Then the push lands. The waiting worker is
/// the only one that can run the new task: it must not sleep through it
/// (it sees the task counted and not yet pushed, and looks again).
#[test]
fn a_worker_waiting_for_a_group_runs_a_task_pushed_as_it_fell_asleep() {
    let _serial = Serial::lock();
    let p = pool_with(2, |o| {
        queue_size(o, usize::MAX);
        prealloc(o);
    });
    let g = unsafe { pool_group_new(p) };
    assert!(!g.is_null());
    let member = leak(Gated::new());
    assert_eq!(
        unsafe { pool_group_schedule(g, Some(gated_task), arg(member)) },
        POOL_OK
    );
    wait_until("the member runs", || member.started() == 1);
    struct Waiter {
        group: usize,
        go: Gate,
        status: StatusCell,
    }
    let waiter = leak(Waiter {
        group: g as usize,
        go: Gate::new(),
        status: StatusCell::default(),
    });
    unsafe extern "C" fn wait_group(a: *mut c_void) {
        let w = unsafe { &*(a as *const Waiter) };
        w.go.wait();
        w.status
            .set(unsafe { pool_group_wait(w.group as *mut pool_group_t, u64::MAX) });
    }
    assert_eq!(schedule(p, wait_group, arg(waiter)), POOL_OK);
    wait_until("both workers busy", || stats(p).busy == 2);
    pause_in(Window::BeforePush, 300_000);
    let entered = times_in(Window::BeforePush);
    let ran = leak(AtomicUsize::new(0));
    let pool = PoolPtr::new(p);
    let late = std::thread::spawn(move || schedule(pool.get(), counter_task, arg(ran)));
    wait_until("the schedule is before its push", || {
        times_in(Window::BeforePush) > entered
    });
    let slept = sleeps();
    waiter.go.open();
    wait_until("the waiting worker sleeps", || sleeps() > slept);
    let status = run_bounded("the late schedule", move || late.join().unwrap());
    assert_eq!(status, POOL_OK);
    Serial::pauses_off();
    wait_until("the waiting worker ran the late task", || {
        ran.load(SeqCst) == 1
    });
    member.open();
    wait_until("the wait returned", || waiter.status.get().is_some());
    assert_eq!(waiter.status.get(), Some(POOL_OK));
    assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
    free_pool(p);
}
