//! Pool lifecycle through the C ABI: defaults, clamping, lazy vs prealloc,
//! options ownership, hooks, thread names, idle timeout, capacity changes,
//! pool_wait, DEADLOCK detection and pool_free semantics.

mod common;

use std::ffi::{CStr, CString};
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use common::*;
use workerpool::ffi::*;

use pool_status::*;

#[test]
fn capacity_defaults_and_clamping() {
    let cases: &[(i32, u32)] = &[
        (0, 100),
        (-1, 100),
        (-5, 100),
        (i32::MIN, 100),
        (1, 1),
        (7, 7),
        (100, 100),
        (9999, 9999),
        (10000, 10000),
        (10001, 10000),
        (i32::MAX, 10000),
    ];
    for &(cap, want) in cases {
        let p = unsafe { pool_new(cap, ptr::null()) };
        assert!(!p.is_null(), "pool_new({cap}, NULL) returned NULL");
        let s = stats(p);
        assert_eq!(s.capacity, want, "pool_new({cap}, NULL): capacity");
        assert_eq!(s.workers, 0, "pool_new({cap}, NULL): default pool is lazy");
        assert_eq!(s.busy, 0);
        assert_eq!(s.queued, 0);
        assert_eq!(s.submitted, 0);
        assert_eq!(s.completed, 0);
        assert_eq!(s.rejected, 0);
        free_pool(p);
    }
}

/// Defaults: block = true, prealloc = false, queue = 0 (direct hand-off).
/// Checks that with capacity 1 and the only worker busy, a second schedule
/// waits (blocking, no queue) and gets in when the worker frees up.
fn check_default_behaviour(p: *mut pool_t) {
    let s = stats(p);
    assert_eq!(s.workers, 0, "default pool must be lazy");
    assert_eq!(s.capacity, 1);

    let g = leak(Gated::new());
    let count = leak(AtomicUsize::new(0));
    assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
    wait_until("first task running", || g.started() == 1);

    // Default non-blocking would be wrong: try_schedule at capacity refuses,
    // and with queue 0 nothing is queued.
    assert_eq!(
        try_schedule(p, counter_task, arg(count)),
        POOL_ERR_NO_IDLE_WORKER
    );

    let pp = PoolPtr::new(p);
    let entered = leak(Flag::new());
    let st = leak(StatusCell::new());
    let h = std::thread::spawn(move || {
        entered.set();
        st.set(schedule(pp.get(), counter_task, arg(count)));
    });
    wait_until("scheduler thread started", || entered.is_set());
    let s = stats(p);
    assert_eq!(s.busy, 1);
    assert_eq!(s.queued, 0, "default queue size is 0 (hand-off)");
    assert!(
        !st.is_set(),
        "default pool must block when full, got {:?}",
        st.get()
    );

    g.open();
    wait_until("blocked schedule returned", || st.is_set());
    assert_eq!(st.get(), Some(POOL_OK));
    h.join().unwrap();
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(count.load(SeqCst), 1);
    assert_eq!(g.done(), 1);
    let s = stats(p);
    assert_eq!(s.submitted, 2);
    assert_eq!(s.completed, 2);
    assert_eq!(s.rejected, 1);
    free_pool(p);
}

#[test]
fn null_options_mean_defaults() {
    let p = unsafe { pool_new(1, ptr::null()) };
    assert!(!p.is_null());
    check_default_behaviour(p);
}

#[test]
fn fresh_options_mean_defaults() {
    let o = pool_options_new();
    assert!(!o.is_null());
    let p = unsafe { pool_new(1, o) };
    unsafe { pool_options_free(o) };
    assert!(!p.is_null());
    check_default_behaviour(p);
}

#[test]
fn options_are_copied_and_reusable() {
    let o = pool_options_new();
    assert!(!o.is_null());
    unsafe {
        assert_eq!(pool_options_set_prealloc(o, true), POOL_OK);
        let name = CString::new("reuse").unwrap();
        assert_eq!(pool_options_set_thread_name(o, name.as_ptr()), POOL_OK);
        drop(name); // the prefix must have been copied
    }
    let p1 = unsafe { pool_new(3, o) };
    assert!(!p1.is_null());
    // Reuse the same options for a second pool, after changing them.
    unsafe { assert_eq!(pool_options_set_prealloc(o, false), POOL_OK) };
    let p2 = unsafe { pool_new(3, o) };
    assert!(!p2.is_null());
    unsafe { pool_options_free(o) };

    assert_eq!(stats(p1).workers, 3, "first pool was built with prealloc");
    assert_eq!(stats(p2).workers, 0, "second pool was built lazy");

    let count = leak(AtomicUsize::new(0));
    for p in [p1, p2] {
        for _ in 0..10 {
            assert_eq!(schedule(p, counter_task, arg(count)), POOL_OK);
        }
        assert_eq!(wait(p), POOL_OK);
    }
    assert_eq!(count.load(SeqCst), 20);
    free_pool(p1);
    free_pool(p2);
}

#[test]
fn lazy_pool_starts_no_thread() {
    for cap in [1, 8, 0] {
        let p = new_pool(cap, true, false, 0);
        let s = stats(p);
        assert_eq!(s.workers, 0, "lazy pool (cap {cap}) started threads");
        assert_eq!(s.busy, 0);
        free_pool(p);
    }
}

#[test]
fn prealloc_pool_has_all_workers_on_return() {
    for (cap, want) in [(1, 1u32), (8, 8), (0, 100)] {
        let p = new_pool(cap, true, true, 0);
        // No sleep: the workers must be live when pool_new returns.
        let s = stats(p);
        assert_eq!(
            s.workers, want,
            "prealloc pool (cap {cap}) workers right after pool_new"
        );
        assert_eq!(s.capacity, want);
        assert_eq!(s.busy, 0);

        let count = leak(AtomicUsize::new(0));
        for _ in 0..50 {
            assert_eq!(schedule(p, counter_task, arg(count)), POOL_OK);
        }
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(count.load(SeqCst), 50);
        assert_eq!(
            stats(p).workers,
            want,
            "prealloc workers stay (no idle timeout)"
        );
        free_pool(p);
    }
}

#[test]
fn prealloc_non_blocking_accepts_immediately() {
    let p = new_pool(4, false, true, 0);
    let g = leak(Gated::new());
    for i in 0..4 {
        assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK, "task {i}");
    }
    assert_eq!(schedule(p, gated_task, arg(g)), POOL_ERR_NO_IDLE_WORKER);
    wait_until("4 tasks running", || g.started() == 4);
    g.open();
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(g.done(), 4);
    let s = stats(p);
    assert_eq!((s.submitted, s.completed, s.rejected), (4, 4, 1));
    free_pool(p);
}

#[test]
fn hooks_run_once_per_worker() {
    let hooks = leak(HookCounts::default());
    let o = pool_options_new();
    assert!(!o.is_null());
    unsafe {
        assert_eq!(pool_options_set_prealloc(o, true), POOL_OK);
        assert_eq!(
            pool_options_set_thread_hooks(o, Some(on_start_hook), Some(on_exit_hook), arg(hooks)),
            POOL_OK
        );
    }
    let p = unsafe { pool_new(4, o) };
    unsafe { pool_options_free(o) };
    assert!(!p.is_null());
    wait_until("on_start ran on 4 workers", || {
        hooks.started.load(SeqCst) == 4
    });
    let count = leak(AtomicUsize::new(0));
    for _ in 0..100 {
        assert_eq!(schedule(p, counter_task, arg(count)), POOL_OK);
    }
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(count.load(SeqCst), 100);
    assert_eq!(hooks.exited.load(SeqCst), 0);
    free_pool(p);
    // All on_exit calls have returned when pool_free returns.
    assert_eq!(hooks.started.load(SeqCst), 4);
    assert_eq!(hooks.exited.load(SeqCst), 4);
}

#[test]
fn hooks_either_may_be_null() {
    let hooks = leak(HookCounts::default());
    let o = pool_options_new();
    assert!(!o.is_null());
    unsafe {
        assert_eq!(pool_options_set_prealloc(o, true), POOL_OK);
        assert_eq!(
            pool_options_set_thread_hooks(o, None, Some(on_exit_hook), arg(hooks)),
            POOL_OK
        );
    }
    let p = unsafe { pool_new(2, o) };
    assert!(!p.is_null());
    free_pool(p);
    assert_eq!(hooks.exited.load(SeqCst), 2);

    unsafe {
        assert_eq!(
            pool_options_set_thread_hooks(o, None, None, ptr::null_mut()),
            POOL_OK
        );
    }
    let p = unsafe { pool_new(2, o) };
    unsafe { pool_options_free(o) };
    assert!(!p.is_null());
    let count = leak(AtomicUsize::new(0));
    assert_eq!(schedule(p, counter_task, arg(count)), POOL_OK);
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(count.load(SeqCst), 1);
    free_pool(p);
    assert_eq!(hooks.exited.load(SeqCst), 2, "hooks were cleared");
}

#[cfg(target_os = "linux")]
mod thread_names {
    use super::*;

    static NAMES: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// Records the OS name of the thread it runs on; `arg` is a `&Gated`.
    unsafe extern "C" fn name_task(a: *mut std::ffi::c_void) {
        let name = std::fs::read_to_string("/proc/thread-self/comm").unwrap_or_default();
        NAMES
            .lock()
            .unwrap()
            .push(name.trim_end_matches('\n').to_string());
        unsafe { gated_task(a) };
    }

    fn names_of(prefix: Option<&CStr>, cap: i32) -> Vec<String> {
        let o = pool_options_new();
        assert!(!o.is_null());
        if let Some(prefix) = prefix {
            assert_eq!(
                unsafe { pool_options_set_thread_name(o, prefix.as_ptr()) },
                POOL_OK
            );
        }
        let p = unsafe { pool_new(cap, o) };
        unsafe { pool_options_free(o) };
        assert!(!p.is_null());
        let g = leak(Gated::new());
        for _ in 0..cap {
            assert_eq!(schedule(p, name_task, arg(g)), POOL_OK);
        }
        wait_until("all tasks running", || g.started() == cap as usize);
        let mut names = std::mem::take(&mut *NAMES.lock().unwrap());
        g.open();
        assert_eq!(wait(p), POOL_OK);
        free_pool(p);
        names.sort();
        names
    }

    // One test so that the static NAMES is never shared between runs.
    #[test]
    fn threads_are_named_prefix_n() {
        assert_eq!(names_of(Some(c"tn"), 3), vec!["tn-0", "tn-1", "tn-2"]);
        assert_eq!(names_of(None, 2), vec!["workerpool-0", "workerpool-1"]);
        // Linux cuts thread names to 15 bytes.
        assert_eq!(
            names_of(Some(c"averyveryverylongprefix"), 1),
            vec!["averyveryverylo"]
        );
        // On a character boundary: 'é' is two bytes, and 15 bytes end
        // inside the eighth.
        assert_eq!(names_of(Some(c"éééééééé"), 1), vec!["ééééééé"]);
    }
}

#[test]
fn idle_workers_expire_and_come_back() {
    let hooks = leak(HookCounts::default());
    let o = pool_options_new();
    assert!(!o.is_null());
    unsafe {
        assert_eq!(pool_options_set_idle_timeout_ms(o, 20), POOL_OK);
        assert_eq!(
            pool_options_set_thread_hooks(o, Some(on_start_hook), Some(on_exit_hook), arg(hooks)),
            POOL_OK
        );
    }
    let p = unsafe { pool_new(4, o) };
    unsafe { pool_options_free(o) };
    assert!(!p.is_null());

    let g = leak(Gated::new());
    for _ in 0..4 {
        assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
    }
    wait_until("4 tasks running", || g.started() == 4);
    assert_eq!(stats(p).workers, 4);
    g.open();
    assert_eq!(wait(p), POOL_OK);
    wait_until("idle workers expired", || stats(p).workers == 0);
    wait_until("on_exit ran for expired workers", || {
        hooks.exited.load(SeqCst) == 4
    });

    // The pool starts workers again on demand.
    let count = leak(AtomicUsize::new(0));
    for _ in 0..10 {
        assert_eq!(schedule(p, counter_task, arg(count)), POOL_OK);
    }
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(count.load(SeqCst), 10);
    let s = stats(p);
    assert_eq!((s.submitted, s.completed), (14, 14));
    free_pool(p);
    let (started, exited) = (hooks.started.load(SeqCst), hooks.exited.load(SeqCst));
    assert!(
        started >= 5,
        "workers were restarted: on_start ran {started} times"
    );
    assert_eq!(started, exited, "every started worker ran on_exit");
}

#[test]
fn pool_wait_waits_for_every_earlier_task() {
    let p = new_pool(4, true, false, usize::MAX);
    let count = leak(AtomicUsize::new(0));
    assert_eq!(wait(p), POOL_OK, "pool_wait on an idle pool returns");
    for round in 1..=5 {
        for _ in 0..200 {
            assert_eq!(schedule(p, small_work_task, arg(count)), POOL_OK);
        }
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(
            count.load(SeqCst),
            200 * round,
            "after pool_wait round {round}"
        );
        let s = stats(p);
        assert_eq!(s.submitted, 200 * round as u64);
        assert_eq!(s.completed, 200 * round as u64);
        assert_eq!(s.queued, 0);
    }
    free_pool(p);
}

#[test]
fn pool_wait_blocks_while_a_task_runs() {
    let p = new_pool(2, true, false, 0);
    let g = leak(Gated::new());
    assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
    wait_until("task running", || g.started() == 1);

    let pp = PoolPtr::new(p);
    let entered = leak(Flag::new());
    let st = leak(StatusCell::new());
    let h = std::thread::spawn(move || {
        entered.set();
        st.set(wait(pp.get()));
    });
    wait_until("waiter started", || entered.is_set());
    assert!(
        !st.is_set(),
        "pool_wait returned while a task was still running"
    );
    g.open();
    wait_until("pool_wait returned", || st.is_set());
    assert_eq!(st.get(), Some(POOL_OK));
    assert_eq!(g.done(), 1, "pool_wait returned before the task finished");
    h.join().unwrap();

    // Still usable.
    let count = leak(AtomicUsize::new(0));
    assert_eq!(schedule(p, counter_task, arg(count)), POOL_OK);
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(count.load(SeqCst), 1);
    free_pool(p);
}

struct SelfCall {
    pool: PoolPtr,
    wait_status: StatusCell,
    free_status: StatusCell,
}

unsafe extern "C" fn self_wait_and_free_task(a: *mut std::ffi::c_void) {
    let s = unsafe { &*(a as *const SelfCall) };
    s.wait_status.set(unsafe { pool_wait(s.pool.get()) });
    s.free_status.set(unsafe { pool_free(s.pool.get()) });
}

#[test]
fn wait_and_free_from_own_task_deadlock() {
    for (cap, block, prealloc, queue) in [(1, true, false, 0), (4, false, true, usize::MAX)] {
        let p = new_pool(cap, block, prealloc, queue);
        let sc = leak(SelfCall {
            pool: PoolPtr::new(p),
            wait_status: StatusCell::new(),
            free_status: StatusCell::new(),
        });
        assert_eq!(schedule(p, self_wait_and_free_task, arg(sc)), POOL_OK);
        // Bounded: a library that lets these calls wait would hang pool_wait.
        wait_until("pool_wait and pool_free from the task returned", || {
            sc.free_status.is_set()
        });
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(
            sc.wait_status.get(),
            Some(POOL_ERR_DEADLOCK),
            "pool_wait from own task"
        );
        assert_eq!(
            sc.free_status.get(),
            Some(POOL_ERR_DEADLOCK),
            "pool_free from own task"
        );

        // The pool was not freed and is still usable.
        let count = leak(AtomicUsize::new(0));
        for _ in 0..10 {
            assert_eq!(schedule(p, counter_task, arg(count)), POOL_OK);
        }
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(count.load(SeqCst), 10);
        let s = stats(p);
        assert_eq!((s.submitted, s.completed), (11, 11));
        free_pool(p);
    }
}

struct OtherPool {
    other: PoolPtr,
    count: AtomicUsize,
    wait_status: StatusCell,
}

unsafe extern "C" fn wait_other_pool_task(a: *mut std::ffi::c_void) {
    let s = unsafe { &*(a as *const OtherPool) };
    s.wait_status.set(unsafe { pool_wait(s.other.get()) });
}

#[test]
fn wait_on_another_pool_from_a_task_is_allowed() {
    let a = new_pool(1, true, false, 0);
    let b = new_pool(2, true, false, usize::MAX);
    let op = leak(OtherPool {
        other: PoolPtr::new(b),
        count: AtomicUsize::new(0),
        wait_status: StatusCell::new(),
    });
    for _ in 0..20 {
        assert_eq!(schedule(b, counter_task, arg(&op.count)), POOL_OK);
    }
    assert_eq!(schedule(a, wait_other_pool_task, arg(op)), POOL_OK);
    assert_eq!(wait(a), POOL_OK);
    assert_eq!(op.wait_status.get(), Some(POOL_OK));
    assert_eq!(op.count.load(SeqCst), 20);
    free_pool(a);
    free_pool(b);
}

#[test]
fn free_drains_accepted_tasks() {
    let p = new_pool(2, true, false, usize::MAX);
    let count = leak(AtomicUsize::new(0));
    for _ in 0..1000 {
        assert_eq!(schedule(p, small_work_task, arg(count)), POOL_OK);
    }
    free_pool(p);
    assert_eq!(
        count.load(SeqCst),
        1000,
        "pool_free must run every accepted task"
    );
}

#[test]
fn free_drains_bounded_queue() {
    let p = new_pool(2, false, false, 16);
    let g = leak(Gated::new());
    let mut accepted = 0;
    while schedule(p, gated_task, arg(g)) == POOL_OK {
        accepted += 1;
        assert!(accepted <= 18, "queue 16 + 2 workers accepted more than 18");
    }
    assert_eq!(accepted, 18);
    let pp = PoolPtr::new(p);
    let freed = leak(StatusCell::new());
    let h = std::thread::spawn(move || freed.set(unsafe { pool_free(pp.get()) }));
    wait_until("2 tasks running", || g.started() == 2);
    assert!(
        !freed.is_set(),
        "pool_free returned while tasks were blocked"
    );
    g.open();
    h.join().unwrap();
    assert_eq!(freed.get(), Some(POOL_OK));
    assert_eq!(g.done(), 18);
}

/// A blocking hand-off pool of one worker, kept busy by a gated task until
/// the gate opens.
fn one_held_worker() -> (*mut pool_t, PoolPtr, &'static Gated) {
    let p = new_pool(1, true, false, 0);
    let g = leak(Gated::new());
    assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
    wait_until("gated task running", || g.started() == 1);
    (p, PoolPtr::new(p), g)
}

#[test]
fn free_releases_blocked_schedulers() {
    let (_, pp, g) = one_held_worker();

    let count = leak(AtomicUsize::new(0));
    let mut schedulers = Vec::new();
    let mut cells = Vec::new();
    for i in 0..3 {
        let entered = leak(Flag::new());
        let st = leak(StatusCell::new());
        // Mix blocking schedule and a (long) timeout schedule.
        schedulers.push(std::thread::spawn(move || {
            entered.set();
            let s = if i == 2 {
                schedule_timeout(pp.get(), counter_task, arg(count), 600_000)
            } else {
                schedule(pp.get(), counter_task, arg(count))
            };
            st.set(s);
        }));
        cells.push((entered, st));
    }
    for (entered, _) in &cells {
        wait_until("scheduler started", || entered.is_set());
    }
    for (_, st) in &cells {
        assert!(
            !st.is_set(),
            "schedule on a full blocking pool returned {:?}",
            st.get()
        );
    }

    let freed = leak(StatusCell::new());
    let freer = std::thread::spawn(move || freed.set(unsafe { pool_free(pp.get()) }));
    for (i, (_, st)) in cells.iter().enumerate() {
        wait_until("blocked scheduler released by pool_free", || st.is_set());
        assert_eq!(st.get(), Some(POOL_ERR_FREED), "scheduler {i}");
    }
    // pool_free must still wait for the running (gated) task.
    assert!(
        !freed.is_set(),
        "pool_free returned before the running task finished"
    );
    assert_eq!(g.done(), 0);
    g.open();
    wait_until("pool_free returned", || freed.is_set());
    assert_eq!(freed.get(), Some(POOL_OK));
    for h in schedulers {
        h.join().unwrap();
    }
    freer.join().unwrap();
    assert_eq!(g.done(), 1);
    assert_eq!(count.load(SeqCst), 0, "refused tasks must not run");
}

/// `pool_wait` returns `POOL_ERR_FREED` once `pool_free` began: a caller
/// already waiting is released at once, and a later call does not wait,
/// though a task is still running (which `pool_free` still waits for). A
/// waiter held until the tasks finish would hang for good whenever the
/// running task waits for that thread.
#[test]
fn free_releases_waiters() {
    let (p, pp, g) = one_held_worker();

    let waited_before = leak(StatusCell::new());
    let waiter = std::thread::spawn(move || waited_before.set(wait(pp.get())));
    // A blocked scheduler: its FREED shows that pool_free began.
    let count = leak(AtomicUsize::new(0));
    let scheduled = leak(StatusCell::new());
    let scheduler =
        std::thread::spawn(move || scheduled.set(schedule(pp.get(), counter_task, arg(count))));

    let freed = leak(StatusCell::new());
    let freer = std::thread::spawn(move || freed.set(unsafe { pool_free(pp.get()) }));
    wait_until("blocked scheduler released", || scheduled.is_set());
    assert_eq!(scheduled.get(), Some(POOL_ERR_FREED));
    wait_until("waiter released by pool_free", || waited_before.is_set());
    assert_eq!(waited_before.get(), Some(POOL_ERR_FREED));
    assert_eq!(wait(p), POOL_ERR_FREED, "pool_wait after pool_free began");
    // The header: `pool_get_stats` does nothing once pool_free began.
    let mut untouched = pool_stats {
        capacity: 7,
        ..pool_stats::default()
    };
    unsafe { pool_get_stats(p, &mut untouched) };
    assert_eq!(
        untouched.capacity, 7,
        "pool_get_stats after pool_free began"
    );
    assert_eq!(g.done(), 0, "the running task is still held");
    assert!(!freed.is_set(), "pool_free waits for the running task");

    g.open();
    wait_until("pool_free returned", || freed.is_set());
    assert_eq!(freed.get(), Some(POOL_OK));
    for thread in [waiter, scheduler, freer] {
        thread.join().unwrap();
    }
    assert_eq!(g.done(), 1);
    assert_eq!(count.load(SeqCst), 0, "the refused task must not run");
}

#[test]
fn free_with_idle_prealloc_workers_and_null() {
    let p = new_pool(16, true, true, 0);
    free_pool(p);
    assert_eq!(unsafe { pool_free(ptr::null_mut()) }, POOL_OK);
}

#[test]
fn set_capacity_grow_lets_waiting_schedulers_in() {
    let (p, pp, g) = one_held_worker();

    let second = leak(Gated::new());
    let entered = leak(Flag::new());
    let st = leak(StatusCell::new());
    let h = std::thread::spawn(move || {
        entered.set();
        st.set(schedule(pp.get(), gated_task, arg(second)));
    });
    wait_until("scheduler started", || entered.is_set());
    assert!(!st.is_set());
    assert_eq!(unsafe { pool_set_capacity(p, 2) }, POOL_OK);
    assert_eq!(stats(p).capacity, 2);
    wait_until("waiting scheduler got in after growth", || st.is_set());
    assert_eq!(st.get(), Some(POOL_OK));
    h.join().unwrap();
    wait_until("second task running while first still gated", || {
        second.started() == 1
    });
    assert_eq!(g.done(), 0);
    assert_eq!(stats(p).busy, 2);
    g.open();
    second.open();
    assert_eq!(wait(p), POOL_OK);
    assert_eq!((g.done(), second.done()), (1, 1));
    free_pool(p);
}

#[test]
fn set_capacity_shrink_and_clamping() {
    let p = new_pool(4, true, true, 0);
    assert_eq!(stats(p).workers, 4);
    assert_eq!(unsafe { pool_set_capacity(p, 1) }, POOL_OK);
    assert_eq!(stats(p).capacity, 1);
    wait_until("idle workers retired after shrink", || {
        stats(p).workers <= 1
    });

    let count = leak(AtomicUsize::new(0));
    for _ in 0..50 {
        assert_eq!(schedule(p, counter_task, arg(count)), POOL_OK);
    }
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(count.load(SeqCst), 50);
    assert!(stats(p).workers <= 1);

    for (cap, want) in [
        (0, 100u32),
        (-3, 100),
        (20000, 10000),
        (i32::MAX, 10000),
        (3, 3),
    ] {
        assert_eq!(unsafe { pool_set_capacity(p, cap) }, POOL_OK);
        assert_eq!(stats(p).capacity, want, "pool_set_capacity({cap})");
    }
    free_pool(p);
}

#[test]
fn shrink_retires_busy_workers_after_their_task_without_dropping() {
    let p = new_pool(3, true, false, usize::MAX);
    let g = leak(Gated::new());
    for _ in 0..3 {
        assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
    }
    wait_until("3 tasks running", || g.started() == 3);
    let count = leak(AtomicUsize::new(0));
    for _ in 0..20 {
        assert_eq!(schedule(p, counter_task, arg(count)), POOL_OK);
    }
    assert_eq!(unsafe { pool_set_capacity(p, 1) }, POOL_OK);
    g.open();
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(g.done(), 3);
    assert_eq!(count.load(SeqCst), 20);
    wait_until("busy workers retired after their task", || {
        stats(p).workers <= 1
    });
    free_pool(p);
}
