//! Task groups through the C ABI (API.md, "Groups and control"): waiting
//! for a subset of a pool's tasks, the eventfd, stats, fork-join from
//! workers, and a group that outlives its pool.

mod common;

use std::ffi::c_void;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use common::*;
use workerpool::ffi::*;

use pool_status::*;

#[derive(Clone, Copy)]
struct GroupPtr(*mut pool_group_t);
unsafe impl Send for GroupPtr {}
unsafe impl Sync for GroupPtr {}
impl GroupPtr {
    fn get(self) -> *mut pool_group_t {
        self.0
    }
}

fn group_new(p: *mut pool_t) -> *mut pool_group_t {
    let g = unsafe { pool_group_new(p) };
    assert!(!g.is_null(), "pool_group_new returned NULL");
    g
}

fn gstats(g: *mut pool_group_t) -> pool_group_stats {
    let mut s = pool_group_stats::default();
    unsafe { pool_group_get_stats(g, &mut s, size_of::<pool_group_stats>()) };
    s
}

fn gschedule(
    g: *mut pool_group_t,
    task: unsafe extern "C" fn(*mut c_void),
    a: *mut c_void,
) -> pool_status {
    unsafe { pool_group_schedule(g, Some(task), a) }
}

const MODES: [(&str, usize); 3] = [("hand-off", 0), ("bounded", 256), ("unbounded", usize::MAX)];

#[test]
fn a_group_waits_for_its_tasks_and_counts_them() {
    for (name, queue) in MODES {
        let p = new_pool(4, true, false, queue);
        let g = group_new(p);
        let ran = leak(AtomicUsize::new(0));
        for _ in 0..1000 {
            assert_eq!(gschedule(g, small_work_task, arg(ran)), POOL_OK, "{name}");
        }
        assert_eq!(unsafe { pool_group_wait(g, u64::MAX) }, POOL_OK, "{name}");
        assert_eq!(ran.load(SeqCst), 1000, "{name}");
        let s = gstats(g);
        assert_eq!(
            (s.submitted, s.completed, s.cancelled, s.pending),
            (1000, 1000, 0, 0),
            "{name}"
        );
        assert_eq!(
            unsafe { pool_group_wait(g, 0) },
            POOL_OK,
            "{name}: nothing pending"
        );
        assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
        free_pool(p);
    }
}

#[test]
fn a_group_wait_does_not_wait_for_the_pools_other_tasks() {
    for (name, queue) in MODES {
        let p = new_pool(2, true, true, queue);
        let other = leak(Gated::new());
        assert_eq!(schedule(p, gated_task, arg(other)), POOL_OK);
        wait_until("the other task runs", || other.started() == 1);
        let g = group_new(p);
        let ran = leak(AtomicUsize::new(0));
        for _ in 0..50 {
            assert_eq!(gschedule(g, counter_task, arg(ran)), POOL_OK, "{name}");
        }
        let gp = GroupPtr(g);
        let status = run_bounded("group wait", move || unsafe {
            pool_group_wait(gp.get(), u64::MAX)
        });
        assert_eq!(status, POOL_OK, "{name}");
        assert_eq!(ran.load(SeqCst), 50, "{name}");
        assert_eq!(other.done(), 0, "{name}: the other task is still held");
        // The pool-wide wait does wait for it.
        assert_eq!(
            unsafe { pool_wait_timeout(p, 10) },
            POOL_ERR_TIMEOUT,
            "{name}"
        );
        other.open();
        assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
        free_pool(p);
    }
}

#[test]
fn a_group_wait_times_out_and_polls() {
    let p = new_pool(2, true, false, usize::MAX);
    let g = group_new(p);
    let held = leak(Gated::new());
    assert_eq!(gschedule(g, gated_task, arg(held)), POOL_OK);
    assert_eq!(unsafe { pool_group_wait(g, 0) }, POOL_ERR_TIMEOUT);
    assert_eq!(unsafe { pool_group_wait(g, 20) }, POOL_ERR_TIMEOUT);
    assert_eq!(gstats(g).pending, 1);
    held.open();
    assert_eq!(unsafe { pool_group_wait(g, u64::MAX) }, POOL_OK);
    assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
    free_pool(p);
}

/// A producer keeps adding to the group; a wait still returns, once the
/// tasks accepted before it have finished.
#[test]
fn a_group_wait_is_not_held_by_a_producer_that_never_stops() {
    for (name, queue) in MODES {
        let p = new_pool(2, true, false, queue);
        let g = group_new(p);
        let done = leak(AtomicUsize::new(0));
        let stop = leak(AtomicBool::new(false));
        let gp = GroupPtr(g);
        unsafe extern "C" fn slow(a: *mut c_void) {
            std::thread::sleep(Duration::from_micros(200));
            unsafe { &*(a as *const AtomicUsize) }.fetch_add(1, SeqCst);
        }
        // Keeps the pool busy, never more than 64 tasks ahead (an
        // unbounded queue would otherwise hold hours of work).
        let producer = std::thread::spawn(move || {
            while !stop.load(SeqCst) {
                if gstats(gp.get()).pending < 64 {
                    assert_eq!(gschedule(gp.get(), slow, arg(done)), POOL_OK);
                } else {
                    std::thread::yield_now();
                }
            }
        });
        wait_until("the producer runs", || gstats(g).submitted > 100);
        for _ in 0..3 {
            let before = gstats(g).submitted;
            let status = run_bounded("group wait under a producer", move || unsafe {
                pool_group_wait(gp.get(), u64::MAX)
            });
            assert_eq!(status, POOL_OK, "{name}");
            assert!(
                gstats(g).completed >= before,
                "{name}: returned before its tasks finished"
            );
        }
        stop.store(true, SeqCst);
        producer.join().unwrap();
        assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
        free_pool(p);
    }
}

#[test]
fn many_threads_wait_on_one_group_while_others_schedule() {
    let p = new_pool(2, true, false, usize::MAX);
    let g = group_new(p);
    let gp = GroupPtr(g);
    let ran = leak(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|i| {
            std::thread::spawn(move || {
                for _ in 0..500 {
                    if i % 2 == 0 {
                        assert_eq!(gschedule(gp.get(), counter_task, arg(ran)), POOL_OK);
                    } else {
                        assert_eq!(unsafe { pool_group_wait(gp.get(), u64::MAX) }, POOL_OK);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
    assert_eq!(ran.load(SeqCst), 1500);
    free_pool(p);
}

struct Fork {
    pool: PoolPtr,
    depth: usize,
    leaves: &'static AtomicUsize,
    status: &'static StatusCell,
}

/// A task that forks 4 children into a group of its own and joins them;
/// children at depth > 0 fork again.
unsafe extern "C" fn fork_join(a: *mut c_void) {
    let f = unsafe { &*(a as *const Fork) };
    if f.depth == 0 {
        f.leaves.fetch_add(1, SeqCst);
        return;
    }
    let g = unsafe { pool_group_new(f.pool.get()) };
    assert!(!g.is_null());
    let children: Vec<Fork> = (0..4)
        .map(|_| Fork {
            pool: f.pool,
            depth: f.depth - 1,
            leaves: f.leaves,
            status: f.status,
        })
        .collect();
    for child in &children {
        let s = unsafe { pool_group_schedule(g, Some(fork_join), arg(child)) };
        if s != POOL_OK {
            f.status.set(s);
        }
    }
    let s = unsafe { pool_group_wait(g, u64::MAX) };
    if s != POOL_OK {
        f.status.set(s);
    }
    assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
}

/// Fork-join inside tasks cannot starve the pool: a waiting worker runs the
/// queued children itself (capacity 1 and 2, queue modes and hand-off).
#[test]
fn fork_join_inside_tasks_completes_on_small_pools() {
    for (name, queue) in MODES {
        for capacity in [1, 2] {
            let p = new_pool(capacity, true, false, queue);
            let leaves = leak(AtomicUsize::new(0));
            let status = leak(StatusCell::default());
            let root = leak(Fork {
                pool: PoolPtr::new(p),
                depth: 3,
                leaves,
                status,
            });
            assert_eq!(schedule(p, fork_join, arg(root)), POOL_OK);
            let pp = PoolPtr::new(p);
            let w = run_bounded("fork-join", move || wait(pp.get()));
            assert_eq!(w, POOL_OK, "{name}, capacity {capacity}");
            assert_eq!(status.get(), None, "{name}, capacity {capacity}");
            assert_eq!(leaves.load(SeqCst), 64, "{name}, capacity {capacity}");
            free_pool(p);
        }
    }
}

/// A worker waiting for a group with nothing queued sleeps as a pool
/// sleeper: a new pool task wakes it to run it, and the group draining
/// wakes it to return.
#[test]
fn a_waiting_worker_runs_tasks_scheduled_while_it_waits() {
    let p = new_pool(2, true, true, usize::MAX);
    let g = group_new(p);
    let member = leak(Gated::new());
    assert_eq!(gschedule(g, gated_task, arg(member)), POOL_OK);
    wait_until("the member runs", || member.started() == 1);
    struct Waiter {
        group: GroupPtr,
        status: StatusCell,
        returned: AtomicBool,
    }
    let waiter = leak(Waiter {
        group: GroupPtr(g),
        status: StatusCell::default(),
        returned: AtomicBool::new(false),
    });
    unsafe extern "C" fn wait_group(a: *mut c_void) {
        let w = unsafe { &*(a as *const Waiter) };
        w.status
            .set(unsafe { pool_group_wait(w.group.get(), u64::MAX) });
        w.returned.store(true, SeqCst);
    }
    assert_eq!(schedule(p, wait_group, arg(waiter)), POOL_OK);
    std::thread::sleep(Duration::from_millis(20));
    // Both workers are taken (one by the member, one waiting): this task
    // runs only on the waiting worker.
    let ran = leak(AtomicUsize::new(0));
    assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
    wait_until("the waiting worker ran the new task", || {
        ran.load(SeqCst) == 1
    });
    assert!(!waiter.returned.load(SeqCst));
    member.open();
    wait_until("the wait returned", || waiter.returned.load(SeqCst));
    assert_eq!(waiter.status.get(), Some(POOL_OK));
    assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
    free_pool(p);
}

#[test]
fn a_task_waiting_for_its_own_group_is_a_deadlock() {
    let p = new_pool(2, true, false, usize::MAX);
    let g = group_new(p);
    struct Own {
        group: GroupPtr,
        wait: StatusCell,
        free: StatusCell,
    }
    let own = leak(Own {
        group: GroupPtr(g),
        wait: StatusCell::default(),
        free: StatusCell::default(),
    });
    unsafe extern "C" fn wait_own(a: *mut c_void) {
        let o = unsafe { &*(a as *const Own) };
        o.wait
            .set(unsafe { pool_group_wait(o.group.get(), u64::MAX) });
        o.free.set(unsafe { pool_group_free(o.group.get()) });
    }
    assert_eq!(gschedule(g, wait_own, arg(own)), POOL_OK);
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(own.wait.get(), Some(POOL_ERR_DEADLOCK));
    assert_eq!(own.free.get(), Some(POOL_ERR_DEADLOCK));
    assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
    free_pool(p);
}

fn readable(fd: i32, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    n == 1 && pfd.revents & libc::POLLIN != 0
}

fn read_fd(fd: i32) -> u64 {
    let mut v = 0u64;
    let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
    assert_eq!(n, 8);
    v
}

#[test]
fn the_group_fd_becomes_readable_when_nothing_is_pending() {
    for (name, queue) in MODES {
        let p = new_pool(2, true, false, queue);
        let g = group_new(p);
        let fd = unsafe { pool_group_fd(g) };
        assert!(fd >= 0, "{name}");
        assert_eq!(unsafe { pool_group_fd(g) }, fd, "{name}: one fd per group");
        assert!(
            readable(fd, 0),
            "{name}: an empty group is readable at once"
        );
        read_fd(fd);
        assert!(!readable(fd, 0), "{name}: reading clears it");
        let held = leak(Gated::new());
        for _ in 0..2 {
            assert_eq!(gschedule(g, gated_task, arg(held)), POOL_OK);
        }
        assert!(!readable(fd, 20), "{name}: readable with tasks pending");
        held.open();
        assert!(readable(fd, 30_000), "{name}: not readable once drained");
        read_fd(fd);
        assert_eq!(unsafe { pool_group_wait(g, 0) }, POOL_OK, "{name}");
        assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
        // Closed by pool_group_free.
        assert_eq!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) },
            -1,
            "{name}: fd left open"
        );
        free_pool(p);
    }
}

#[test]
fn a_group_outlives_its_pool() {
    let p = new_pool(2, true, false, 64);
    let g = group_new(p);
    let ran = leak(AtomicUsize::new(0));
    for _ in 0..20 {
        assert_eq!(gschedule(g, counter_task, arg(ran)), POOL_OK);
    }
    free_pool(p);
    assert_eq!(ran.load(SeqCst), 20, "pool_free ran the group's tasks");
    assert_eq!(gschedule(g, counter_task, arg(ran)), POOL_ERR_FREED);
    assert_eq!(
        unsafe { pool_group_try_schedule(g, Some(counter_task), arg(ran)) },
        POOL_ERR_FREED
    );
    assert_eq!(unsafe { pool_group_wait(g, u64::MAX) }, POOL_OK);
    assert_eq!(gstats(g).completed, 20);
    assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
}

#[test]
fn cancelled_group_tasks_count_as_cancelled_and_end_the_wait() {
    let p = new_pool(1, true, true, usize::MAX);
    let held = leak(Gated::new());
    assert_eq!(schedule(p, gated_task, arg(held)), POOL_OK);
    wait_until("the worker is held", || held.started() == 1);
    let g = group_new(p);
    let ran = leak(AtomicUsize::new(0));
    for _ in 0..10 {
        assert_eq!(gschedule(g, counter_task, arg(ran)), POOL_OK);
    }
    assert_eq!(unsafe { pool_group_wait(g, 0) }, POOL_ERR_TIMEOUT);
    let mut n = 0;
    assert_eq!(
        unsafe { pool_cancel_queued(p, None, ptr::null_mut(), &mut n) },
        POOL_OK
    );
    assert_eq!(n, 10);
    let s = gstats(g);
    assert_eq!(
        (s.submitted, s.completed, s.cancelled, s.pending),
        (10, 0, 10, 0)
    );
    assert_eq!(unsafe { pool_group_wait(g, 0) }, POOL_OK);
    held.open();
    assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
    free_pool(p);
    assert_eq!(ran.load(SeqCst), 0);
}

#[test]
fn refused_group_schedules_count_nothing_and_inline_runs_count_completed() {
    // Non-blocking hand-off pool of 1, its worker held: refused.
    let p = new_pool(1, false, true, 0);
    let g = group_new(p);
    let held = leak(Gated::new());
    assert_eq!(gschedule(g, gated_task, arg(held)), POOL_OK);
    wait_until("held", || held.started() == 1);
    let ran = leak(AtomicUsize::new(0));
    assert_eq!(
        gschedule(g, counter_task, arg(ran)),
        POOL_ERR_NO_IDLE_WORKER
    );
    assert_eq!(
        unsafe { pool_group_schedule_timeout(g, Some(counter_task), arg(ran), 0) },
        POOL_ERR_TIMEOUT
    );
    assert_eq!(gstats(g).submitted, 1);
    held.open();
    assert_eq!(unsafe { pool_group_wait(g, u64::MAX) }, POOL_OK);
    assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
    free_pool(p);

    // A blocking schedule from a task of a full pool runs inline.
    let p = new_pool(1, true, false, 0);
    let g = group_new(p);
    struct Nest {
        group: GroupPtr,
        ran: &'static AtomicUsize,
    }
    let nest = leak(Nest {
        group: GroupPtr(g),
        ran,
    });
    unsafe extern "C" fn nest_task(a: *mut c_void) {
        let n = unsafe { &*(a as *const Nest) };
        assert_eq!(
            unsafe { pool_group_schedule(n.group.get(), Some(counter_task), arg(n.ran)) },
            POOL_OK
        );
    }
    assert_eq!(gschedule(g, nest_task, arg(nest)), POOL_OK);
    assert_eq!(unsafe { pool_group_wait(g, u64::MAX) }, POOL_OK);
    let s = gstats(g);
    assert_eq!((s.submitted, s.completed), (2, 2));
    assert_eq!(ran.load(SeqCst), 1);
    assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
    free_pool(p);
}

#[test]
fn bad_input_and_a_closing_pool() {
    unsafe {
        assert!(pool_group_new(ptr::null_mut()).is_null());
        assert_eq!(*libc::__errno_location(), libc::EINVAL);
        let null = ptr::null_mut();
        assert_eq!(
            pool_group_schedule(null, Some(counter_task), null.cast()),
            POOL_ERR_INVALID
        );
        assert_eq!(pool_group_wait(null, 0), POOL_ERR_INVALID);
        assert_eq!(pool_group_fd(null), -1);
        assert_eq!(pool_group_free(null), POOL_OK);
        pool_group_get_stats(null, ptr::null_mut(), 32);
        let p = new_pool(2, true, false, 8);
        let g = group_new(p);
        assert_eq!(pool_group_schedule(g, None, null.cast()), POOL_ERR_INVALID);
        let mut s = pool_group_stats {
            submitted: 9,
            completed: 9,
            cancelled: 9,
            pending: 9,
        };
        pool_group_get_stats(g, &mut s, 16);
        assert_eq!(
            (s.submitted, s.completed, s.cancelled, s.pending),
            (0, 0, 9, 9)
        );
        assert_eq!(
            pool_shutdown(p, 0, u64::MAX, None, null.cast(), null.cast()),
            POOL_OK
        );
        assert!(pool_group_new(p).is_null());
        assert_eq!(*libc::__errno_location(), libc::ECANCELED);
        assert_eq!(pool_group_free(g), POOL_OK);
        free_pool(p);
    }
}

/// A worker waiting for a group while the pool is paused sleeps (it does
/// not run the paused queue), and returns once the group's task, running
/// elsewhere, ends.
#[test]
fn a_waiting_worker_of_a_paused_pool_runs_nothing_and_returns() {
    let p = new_pool(2, true, true, usize::MAX);
    let g = group_new(p);
    let member = leak(Gated::new());
    assert_eq!(gschedule(g, gated_task, arg(member)), POOL_OK);
    wait_until("the member runs", || member.started() == 1);
    struct Waiter {
        group: GroupPtr,
        began: AtomicBool,
        status: StatusCell,
    }
    let waiter = leak(Waiter {
        group: GroupPtr(g),
        began: AtomicBool::new(false),
        status: StatusCell::default(),
    });
    unsafe extern "C" fn wait_group(a: *mut c_void) {
        let w = unsafe { &*(a as *const Waiter) };
        w.began.store(true, SeqCst);
        w.status
            .set(unsafe { pool_group_wait(w.group.get(), u64::MAX) });
    }
    assert_eq!(schedule(p, wait_group, arg(waiter)), POOL_OK);
    wait_until("the waiter runs", || waiter.began.load(SeqCst));
    assert_eq!(unsafe { pool_pause(p) }, POOL_OK);
    let ran = leak(AtomicUsize::new(0));
    assert_eq!(schedule(p, counter_task, arg(ran)), POOL_OK);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        ran.load(SeqCst),
        0,
        "a waiting worker ran a task of a paused pool"
    );
    member.open();
    wait_until("the wait returned", || waiter.status.get().is_some());
    assert_eq!(waiter.status.get(), Some(POOL_OK));
    assert_eq!(ran.load(SeqCst), 0);
    assert_eq!(unsafe { pool_resume(p) }, POOL_OK);
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(ran.load(SeqCst), 1);
    assert_eq!(unsafe { pool_group_free(g) }, POOL_OK);
    free_pool(p);
}
