//! Pause, resume, cancelling queued tasks, shutdown with a choice, the
//! sized stats and fork safety, through the C ABI as a C program uses
//! them (API.md, "Groups and control").

mod common;

use std::ffi::c_void;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use common::*;
use workerpool::ffi::*;

use pool_status::*;

fn stats_sized(p: *mut pool_t) -> pool_stats {
    let mut s = pool_stats::default();
    unsafe { pool_get_stats_sized(p, &mut s, size_of::<pool_stats>()) };
    s
}

/// The queue modes and hand-off, as (name, queue size).
const MODES: [(&str, usize); 3] = [("hand-off", 0), ("bounded", 64), ("unbounded", usize::MAX)];

/// What `on_cancel` saw: each (task, arg) once.
#[derive(Default)]
struct Cancelled {
    args: Mutex<Vec<usize>>,
}

unsafe extern "C" fn record_cancel(task: pool_task_fn, arg: *mut c_void, ctx: *mut c_void) {
    assert!(task.is_some());
    let seen = unsafe { &*(ctx as *const Cancelled) };
    seen.args.lock().unwrap().push(arg as usize);
}

/// Task: `arg` is a `&AtomicUsize` slot of a leaked array; marks it run.
unsafe extern "C" fn mark_run(arg: *mut c_void) {
    unsafe { &*(arg as *const AtomicUsize) }.fetch_add(1, SeqCst);
}

#[test]
fn a_paused_queue_pool_starts_nothing_until_resumed_and_keeps_the_order() {
    for (name, queue) in [("bounded", 64), ("unbounded", usize::MAX)] {
        // Capacity 1: a serial queue, so the order shows.
        let p = new_pool(1, true, true, queue);
        assert_eq!(unsafe { pool_pause(p) }, POOL_OK, "{name}");
        assert_eq!(unsafe { pool_pause(p) }, POOL_OK, "{name}: twice is once");
        assert_eq!(stats_sized(p).paused, 1, "{name}");
        let order: &Mutex<Vec<usize>> = leak(Mutex::new(Vec::new()));
        unsafe extern "C" fn push_index(arg: *mut c_void) {
            let (order, i) = unsafe { &*(arg as *const (&Mutex<Vec<usize>>, usize)) };
            order.lock().unwrap().push(*i);
        }
        for i in 0..20usize {
            let a = leak((order, i));
            assert_eq!(schedule(p, push_index, arg(a)), POOL_OK, "{name}");
        }
        // A bounded wait while paused times out: nothing starts.
        assert_eq!(
            unsafe { pool_wait_timeout(p, 50) },
            POOL_ERR_TIMEOUT,
            "{name}"
        );
        assert!(
            order.lock().unwrap().is_empty(),
            "{name}: a task ran while paused"
        );
        let s = stats_sized(p);
        assert_eq!((s.queued, s.submitted, s.completed), (20, 20, 0), "{name}");
        assert_eq!(unsafe { pool_resume(p) }, POOL_OK, "{name}");
        assert_eq!(wait(p), POOL_OK, "{name}");
        assert_eq!(
            *order.lock().unwrap(),
            (0..20).collect::<Vec<_>>(),
            "{name}"
        );
        assert_eq!(stats_sized(p).paused, 0, "{name}");
        free_pool(p);
    }
}

#[test]
fn a_paused_pool_accepts_what_its_queue_holds_and_hand_off_is_full() {
    for (name, queue) in [("hand-off", 0usize), ("queue of 4", 4)] {
        let p = new_pool(2, false, true, queue);
        assert_eq!(unsafe { pool_pause(p) }, POOL_OK);
        let ran = leak(AtomicUsize::new(0));
        let mut accepted = 0;
        while try_schedule(p, counter_task, arg(ran)) == POOL_OK {
            accepted += 1;
            assert!(accepted <= 100, "{name}: no limit while paused");
        }
        assert_eq!(accepted, queue, "{name}: accepted while paused");
        assert_eq!(
            schedule_timeout(p, counter_task, arg(ran), 20),
            POOL_ERR_TIMEOUT,
            "{name}"
        );
        assert_eq!(ran.load(SeqCst), 0, "{name}");
        assert_eq!(unsafe { pool_resume(p) }, POOL_OK);
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(ran.load(SeqCst), queue, "{name}");
        // Resumed: full capacity again.
        assert_eq!(try_schedule(p, counter_task, arg(ran)), POOL_OK, "{name}");
        free_pool(p);
    }
}

#[test]
fn a_blocked_scheduler_of_a_paused_pool_gets_in_on_resume() {
    for (name, queue) in MODES {
        let p = new_pool(1, true, false, if queue == usize::MAX { 1 } else { queue });
        let q = if queue == usize::MAX { 1 } else { queue };
        assert_eq!(unsafe { pool_pause(p) }, POOL_OK);
        let ran = leak(AtomicUsize::new(0));
        for _ in 0..q {
            assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK, "{name}");
        }
        let pp = PoolPtr::new(p);
        let blocked = std::thread::spawn(move || schedule(pp.get(), counter_task, arg(ran)));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(ran.load(SeqCst), 0, "{name}");
        assert_eq!(unsafe { pool_resume(p) }, POOL_OK);
        assert_eq!(blocked.join().unwrap(), POOL_OK, "{name}");
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(ran.load(SeqCst), q + 1, "{name}");
        free_pool(p);
    }
}

#[test]
fn a_lazy_pool_paused_before_its_first_task_starts_workers_on_resume() {
    let p = new_pool(4, true, false, usize::MAX);
    assert_eq!(unsafe { pool_pause(p) }, POOL_OK);
    let ran = leak(AtomicUsize::new(0));
    for _ in 0..100 {
        assert_eq!(schedule(p, small_work_task, arg(ran)), POOL_OK);
    }
    assert_eq!(stats_sized(p).workers, 0);
    assert_eq!(unsafe { pool_resume(p) }, POOL_OK);
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(ran.load(SeqCst), 100);
    free_pool(p);
}

#[test]
fn free_and_shutdown_resume_a_paused_pool_and_run_its_tasks() {
    let ran = leak(AtomicUsize::new(0));
    let p = new_pool(2, true, true, 16);
    assert_eq!(unsafe { pool_pause(p) }, POOL_OK);
    for _ in 0..10 {
        assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
    }
    free_pool(p);
    assert_eq!(ran.load(SeqCst), 10);

    let p = new_pool(2, true, true, 16);
    assert_eq!(unsafe { pool_pause(p) }, POOL_OK);
    for _ in 0..10 {
        assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
    }
    let mut report = pool_shutdown_report::default();
    let status = unsafe { pool_shutdown(p, 0, u64::MAX, None, ptr::null_mut(), &mut report) };
    assert_eq!(status, POOL_OK);
    assert_eq!(report, pool_shutdown_report::default());
    assert_eq!(ran.load(SeqCst), 20);
    assert_eq!(unsafe { pool_pause(p) }, POOL_ERR_FREED);
    free_pool(p);
}

#[test]
fn a_shrink_of_a_paused_pool_returns() {
    let p = new_pool(4, true, true, usize::MAX);
    assert_eq!(unsafe { pool_pause(p) }, POOL_OK);
    let ran = leak(AtomicUsize::new(0));
    for _ in 0..8 {
        assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
    }
    let pp = PoolPtr::new(p);
    let status = run_bounded("pool_set_capacity while paused", move || unsafe {
        pool_set_capacity(pp.get(), 1)
    });
    assert_eq!(status, POOL_OK);
    assert_eq!(unsafe { pool_resume(p) }, POOL_OK);
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(ran.load(SeqCst), 8);
    free_pool(p);
}

#[test]
fn cancel_queued_hands_every_queued_task_back_once_and_leaves_running_ones() {
    for (name, queue) in [("bounded", 64), ("unbounded", usize::MAX)] {
        let p = new_pool(2, true, true, queue);
        let held = leak(Gated::new());
        for _ in 0..2 {
            assert_eq!(schedule(p, gated_task, arg(held)), POOL_OK);
        }
        wait_until("both workers hold a task", || held.started() == 2);
        let slots: &'static [AtomicUsize] =
            Box::leak((0..50).map(|_| AtomicUsize::new(0)).collect());
        for slot in slots {
            assert_eq!(schedule(p, mark_run, arg(slot)), POOL_OK, "{name}");
        }
        let seen = leak(Cancelled::default());
        let mut n = 0u64;
        let status = unsafe { pool_cancel_queued(p, Some(record_cancel), arg(seen), &mut n) };
        assert_eq!(status, POOL_OK);
        assert_eq!(n, 50, "{name}");
        let mut args = seen.args.lock().unwrap().clone();
        args.sort();
        let mut expected: Vec<usize> = slots.iter().map(|s| s as *const _ as usize).collect();
        expected.sort();
        assert_eq!(args, expected, "{name}: each queued task handed back once");
        let s = stats_sized(p);
        assert_eq!((s.cancelled, s.queued), (50, 0), "{name}");
        held.open();
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(held.done(), 2, "{name}: running tasks untouched");
        assert!(
            slots.iter().all(|s| s.load(SeqCst) == 0),
            "{name}: a cancelled task ran"
        );
        let s = stats_sized(p);
        assert_eq!(
            (s.submitted, s.completed, s.cancelled),
            (52, 2, 50),
            "{name}"
        );
        // NULL callback and count are fine; nothing left.
        assert_eq!(
            unsafe { pool_cancel_queued(p, None, ptr::null_mut(), ptr::null_mut()) },
            POOL_OK
        );
        free_pool(p);
    }
}

#[test]
fn cancel_queued_takes_the_tasks_of_a_paused_pool() {
    let p = new_pool(2, true, true, 32);
    let ran = leak(AtomicUsize::new(0));
    assert_eq!(unsafe { pool_pause(p) }, POOL_OK);
    for _ in 0..32 {
        assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
    }
    let mut n = 0;
    assert_eq!(
        unsafe { pool_cancel_queued(p, None, ptr::null_mut(), &mut n) },
        POOL_OK
    );
    assert_eq!(n, 32);
    // Nothing is left to wait for, even paused.
    assert_eq!(unsafe { pool_wait_timeout(p, 10_000) }, POOL_OK);
    assert_eq!(unsafe { pool_resume(p) }, POOL_OK);
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(ran.load(SeqCst), 0);
    free_pool(p);
}

#[test]
fn cancel_racing_with_workers_runs_or_cancels_each_task_exactly_once() {
    for round in 0..20 {
        let p = new_pool(2, true, true, usize::MAX);
        let slots: &'static [AtomicUsize] =
            Box::leak((0..2000).map(|_| AtomicUsize::new(0)).collect());
        let pp = PoolPtr::new(p);
        let producer = std::thread::spawn(move || {
            for slot in slots {
                assert_eq!(schedule(pp.get(), mark_run, arg(slot)), POOL_OK);
            }
        });
        let seen = leak(Cancelled::default());
        let mut total = 0;
        while !producer.is_finished() {
            let mut n = 0;
            unsafe { pool_cancel_queued(p, Some(record_cancel), arg(seen), &mut n) };
            total += n;
        }
        producer.join().unwrap();
        let mut n = 0;
        unsafe { pool_cancel_queued(p, Some(record_cancel), arg(seen), &mut n) };
        total += n;
        assert_eq!(wait(p), POOL_OK);
        let cancelled: std::collections::HashSet<usize> =
            seen.args.lock().unwrap().iter().copied().collect();
        assert_eq!(
            cancelled.len() as u64,
            total,
            "round {round}: a task cancelled twice"
        );
        for slot in slots {
            let was_cancelled = cancelled.contains(&(slot as *const _ as usize));
            let runs = slot.load(SeqCst);
            assert_eq!(runs + usize::from(was_cancelled), 1, "round {round}");
        }
        let s = stats_sized(p);
        assert_eq!(s.cancelled, total);
        assert_eq!(s.completed + s.cancelled, 2000);
        free_pool(p);
    }
}

#[test]
fn hand_off_has_nothing_to_cancel() {
    let p = new_pool(2, true, true, 0);
    let held = leak(Gated::new());
    assert_eq!(schedule(p, gated_task, arg(held)), POOL_OK);
    let mut n = 7;
    assert_eq!(
        unsafe { pool_cancel_queued(p, None, ptr::null_mut(), &mut n) },
        POOL_OK
    );
    assert_eq!(n, 0);
    held.open();
    free_pool(p);
    assert_eq!(held.done(), 1);
}

#[test]
fn shutdown_cancel_hands_back_the_queue_and_joins_the_workers() {
    let p = new_pool(1, true, true, usize::MAX);
    let held = leak(Gated::new());
    assert_eq!(schedule(p, gated_task, arg(held)), POOL_OK);
    wait_until("the worker holds a task", || held.started() == 1);
    let ran = leak(AtomicUsize::new(0));
    for _ in 0..10 {
        assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
    }
    let seen = leak(Cancelled::default());
    let mut report = pool_shutdown_report::default();
    // The held task keeps it from ending: a timeout, with the report.
    let status = unsafe { pool_shutdown(p, 1, 30, Some(record_cancel), arg(seen), &mut report) };
    assert_eq!(status, POOL_ERR_TIMEOUT);
    assert_eq!(
        (report.cancelled, report.queued, report.running),
        (10, 0, 1)
    );
    assert_eq!(seen.args.lock().unwrap().len(), 10);
    // Closed: schedules are refused; stats still readable.
    assert_eq!(try_schedule(p, counter_task, arg(ran)), POOL_ERR_FREED);
    assert_eq!(stats_sized(p).cancelled, 10);
    held.open();
    // Called again, it waits for the rest.
    let status = unsafe { pool_shutdown(p, 0, u64::MAX, None, ptr::null_mut(), &mut report) };
    assert_eq!(status, POOL_OK);
    assert_eq!((report.cancelled, report.queued, report.running), (0, 0, 0));
    assert_eq!(stats_sized(p).workers, 0);
    assert_eq!(ran.load(SeqCst), 0);
    free_pool(p);
}

#[test]
fn shutdown_cancel_of_a_paused_pool_starts_none_of_its_queue() {
    let p = new_pool(2, true, true, usize::MAX);
    assert_eq!(unsafe { pool_pause(p) }, POOL_OK);
    let ran = leak(AtomicUsize::new(0));
    for _ in 0..100 {
        assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
    }
    let mut report = pool_shutdown_report::default();
    let status = unsafe { pool_shutdown(p, 1, u64::MAX, None, ptr::null_mut(), &mut report) };
    assert_eq!(status, POOL_OK);
    assert_eq!(
        (report.cancelled, report.queued, report.running),
        (100, 0, 0)
    );
    assert_eq!(ran.load(SeqCst), 0);
    free_pool(p);
}

#[test]
fn shutdown_drain_runs_the_queue_and_a_timeout_reports_it() {
    let p = new_pool(1, true, true, usize::MAX);
    let held = leak(Gated::new());
    assert_eq!(schedule(p, gated_task, arg(held)), POOL_OK);
    wait_until("the worker holds a task", || held.started() == 1);
    let ran = leak(AtomicUsize::new(0));
    for _ in 0..5 {
        assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
    }
    let mut report = pool_shutdown_report::default();
    let status = unsafe { pool_shutdown(p, 0, 0, None, ptr::null_mut(), &mut report) };
    assert_eq!(status, POOL_ERR_TIMEOUT);
    assert_eq!((report.cancelled, report.queued, report.running), (0, 5, 1));
    held.open();
    let status = unsafe { pool_shutdown(p, 0, u64::MAX, None, ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(status, POOL_OK);
    assert_eq!(ran.load(SeqCst), 5);
    free_pool(p);
}

#[test]
fn shutdown_lets_blocked_schedulers_go_and_refuses_bad_input() {
    for (name, queue) in MODES {
        let q = if queue == usize::MAX { 1 } else { queue };
        let p = new_pool(1, true, true, q);
        let held = leak(Gated::new());
        assert_eq!(schedule(p, gated_task, arg(held)), POOL_OK);
        wait_until("the worker holds a task", || held.started() == 1);
        let ran = leak(AtomicUsize::new(0));
        for _ in 0..q {
            assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
        }
        let pp = PoolPtr::new(p);
        let blocked: Vec<_> = (0..3)
            .map(|_| std::thread::spawn(move || schedule(pp.get(), counter_task, arg(ran))))
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        let status = unsafe { pool_shutdown(p, 1, 0, None, ptr::null_mut(), ptr::null_mut()) };
        assert_eq!(status, POOL_ERR_TIMEOUT, "{name}");
        for b in blocked {
            assert_eq!(b.join().unwrap(), POOL_ERR_FREED, "{name}");
        }
        assert_eq!(
            unsafe { pool_shutdown(p, 2, 0, None, ptr::null_mut(), ptr::null_mut()) },
            POOL_ERR_INVALID
        );
        held.open();
        free_pool(p);
    }
    let null = ptr::null_mut();
    assert_eq!(
        unsafe { pool_shutdown(null, 0, 0, None, null.cast(), null.cast()) },
        POOL_ERR_INVALID
    );
    assert_eq!(unsafe { pool_pause(null) }, POOL_ERR_INVALID);
    assert_eq!(unsafe { pool_resume(null) }, POOL_ERR_INVALID);
    assert_eq!(
        unsafe { pool_cancel_queued(null, None, null.cast(), null.cast()) },
        POOL_ERR_INVALID
    );
}

#[test]
fn shutdown_from_a_worker_is_a_deadlock() {
    let p = new_pool(1, true, false, 0);
    let status = leak(StatusCell::default());
    let pp = leak(PoolPtr::new(p));
    unsafe extern "C" fn shut_self(a: *mut c_void) {
        let (pp, status) = unsafe { &*(a as *const (&PoolPtr, &StatusCell)) };
        let s = unsafe { pool_shutdown(pp.get(), 0, 0, None, ptr::null_mut(), ptr::null_mut()) };
        status.set(s);
    }
    let a = leak((pp, status));
    assert_eq!(schedule(p, shut_self, arg(a)), POOL_OK);
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(status.get(), Some(POOL_ERR_DEADLOCK));
    free_pool(p);
}

#[test]
fn get_stats_writes_the_0_1_fields_and_sized_writes_whole_fields_only() {
    let p = new_pool(3, true, true, 8);
    let mut bytes = [0xAAu8; 64];
    unsafe { pool_get_stats(p, bytes.as_mut_ptr().cast()) };
    assert!(bytes[..40].iter().any(|&b| b != 0xAA));
    assert!(
        bytes[40..].iter().all(|&b| b == 0xAA),
        "pool_get_stats wrote past the 0.1 struct"
    );
    for size in [0usize, 3, 4, 17, 40, 47, 48, 51, 52, 56, 64] {
        let mut bytes = [0xAAu8; 64];
        unsafe { pool_get_stats_sized(p, bytes.as_mut_ptr().cast(), size) };
        let written = [0, 4, 8, 12, 16, 24, 32, 40, 48, 52]
            .into_iter()
            .filter(|&end| end <= size)
            .max()
            .unwrap();
        assert!(
            bytes[written..].iter().all(|&b| b == 0xAA),
            "size {size}: wrote past {written}"
        );
        if written >= 4 {
            assert_eq!(
                u32::from_ne_bytes(bytes[0..4].try_into().unwrap()),
                3,
                "size {size}"
            );
        }
    }
    free_pool(p);
}

/// Fork while tasks run: in the child every call on the inherited pool
/// returns `POOL_ERR_FORKED` at once, `pool_free` there returns `POOL_OK`,
/// and a pool made in the child works; the parent's pool goes on.
#[test]
fn a_pool_inherited_through_fork_refuses_every_call_and_frees() {
    for (_, queue) in MODES {
        let p = new_pool(2, true, true, queue);
        let held = leak(Gated::new());
        assert_eq!(schedule(p, gated_task, arg(held)), POOL_OK);
        wait_until("a worker holds a task", || held.started() == 1);
        let ran = leak(AtomicUsize::new(0));
        let group = unsafe { pool_group_new(p) };
        assert!(!group.is_null());
        assert_eq!(
            unsafe { pool_group_schedule(group, Some(gated_task), arg(held)) },
            POOL_OK
        );
        // SAFETY: the child calls only the pool's functions and `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = match child_group_checks(p, group, ran) {
                0 => child_checks(p, ran),
                failed => failed,
            };
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "child did not exit: {status:#x}");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "child check {} failed",
            libc::WEXITSTATUS(status)
        );
        held.open();
        assert_eq!(unsafe { pool_group_free(group) }, POOL_OK);
        assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(ran.load(SeqCst), 1);
        free_pool(p);
    }
}

/// In the child, on a group made before the fork: numbers 20 and up.
fn child_group_checks(p: *mut pool_t, group: *mut pool_group_t, ran: &'static AtomicUsize) -> i32 {
    unsafe {
        if pool_group_schedule(group, Some(counter_task), arg(ran)) != POOL_ERR_FORKED {
            return 20;
        }
        if pool_group_wait(group, 1000) != POOL_ERR_FORKED {
            return 21;
        }
        if pool_group_fd(group) != -1 || *libc::__errno_location() != libc::ECHILD {
            return 22;
        }
        if !pool_group_new(p).is_null() || *libc::__errno_location() != libc::ECHILD {
            return 23;
        }
        unsafe extern "C" fn body(_: *mut c_void, _: usize, _: usize) {}
        if pool_parallel_for(p, 0, 100, 1, Some(body), ptr::null_mut()) != POOL_ERR_FORKED {
            return 24;
        }
        if pool_group_free(group) != POOL_OK {
            return 25;
        }
    }
    0
}

/// In the child: returns the number of the first failed check, 0 if all
/// held.
fn child_checks(p: *mut pool_t, ran: &'static AtomicUsize) -> i32 {
    let null = ptr::null_mut();
    let checks: [(i32, pool_status); 9] = unsafe {
        [
            (1, pool_schedule(p, Some(counter_task), arg(ran))),
            (2, pool_try_schedule(p, Some(counter_task), arg(ran))),
            (
                3,
                pool_schedule_timeout(p, Some(counter_task), arg(ran), 1000),
            ),
            (4, pool_wait(p)),
            (5, pool_wait_timeout(p, 1000)),
            (6, pool_set_capacity(p, 5)),
            (7, pool_pause(p)),
            (8, pool_cancel_queued(p, None, null, null.cast())),
            (9, pool_shutdown(p, 0, 1000, None, null, null.cast())),
        ]
    };
    for (n, status) in checks {
        if status != POOL_ERR_FORKED {
            return n;
        }
    }
    let mut s = pool_stats {
        capacity: 77,
        ..Default::default()
    };
    unsafe { pool_get_stats(p, &mut s) };
    if s.capacity != 77 {
        return 10;
    }
    if unsafe { pool_free(p) } != POOL_OK {
        return 11;
    }
    // A pool made in the child works.
    let q = unsafe { pool_new(2, ptr::null()) };
    if q.is_null() {
        return 12;
    }
    let count = AtomicUsize::new(0);
    for _ in 0..10 {
        if unsafe { pool_schedule(q, Some(counter_task), arg(&count)) } != POOL_OK {
            return 13;
        }
    }
    if unsafe { pool_wait(q) } != POOL_OK || count.load(SeqCst) != 10 {
        return 14;
    }
    if unsafe { pool_free(q) } != POOL_OK {
        return 15;
    }
    if ran.load(SeqCst) != 0 {
        return 16;
    }
    0
}

/// A lazy pool paused before its first worker started: its queued tasks
/// have no worker. Freeing (or shutting down) resumes it and must start
/// one for them, not wait for ever.
#[test]
fn a_lazy_pool_paused_before_any_worker_runs_its_queue_when_freed() {
    for drain_first in [false, true] {
        let p = new_pool(1, true, false, 8);
        assert_eq!(unsafe { pool_pause(p) }, POOL_OK);
        let ran = leak(AtomicUsize::new(0));
        for _ in 0..4 {
            assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
        }
        assert_eq!(stats_sized(p).workers, 0);
        let pp = PoolPtr::new(p);
        if drain_first {
            let status = run_bounded("pool_shutdown of a paused lazy pool", move || unsafe {
                pool_shutdown(
                    pp.get(),
                    0,
                    u64::MAX,
                    None,
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            });
            assert_eq!(status, POOL_OK);
        }
        let status = run_bounded("pool_free of a paused lazy pool", move || unsafe {
            pool_free(pp.get())
        });
        assert_eq!(status, POOL_OK);
        assert_eq!(ran.load(SeqCst), 4);
    }
}
