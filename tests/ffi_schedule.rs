//! Scheduling through the C ABI: non-blocking refusal only at capacity,
//! blocking hand-off, queue sizes, try / timeout variants, nested submits.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use common::*;
use workerpool::ffi::*;

use pool_status::*;

fn check_non_blocking_refusal(cap: i32, prealloc: bool) {
    let p = new_pool(cap, false, prealloc, 0);
    let g = leak(Gated::new());
    // Immediately after pool_new, no sleep: below capacity a non-blocking
    // schedule starts (or uses) a worker instead of failing.
    for i in 0..cap {
        assert_eq!(
            schedule(p, gated_task, arg(g)),
            POOL_OK,
            "cap {cap} prealloc {prealloc}: task {i} refused below capacity"
        );
    }
    // At capacity every further schedule is refused, from any variant that
    // does not wait.
    let extra = leak(AtomicUsize::new(0));
    for _ in 0..3 {
        assert_eq!(
            schedule(p, counter_task, arg(extra)),
            POOL_ERR_NO_IDLE_WORKER
        );
    }
    assert_eq!(
        try_schedule(p, counter_task, arg(extra)),
        POOL_ERR_NO_IDLE_WORKER
    );
    wait_until("all tasks running", || g.started() == cap as usize);
    let s = stats(p);
    assert_eq!(s.capacity, cap as u32);
    assert_eq!(s.workers, cap as u32);
    assert_eq!(s.busy, cap as u32);
    assert_eq!(s.queued, 0);
    assert_eq!(s.submitted, cap as u64);
    assert_eq!(s.rejected, 4);
    assert_eq!(s.completed, 0);

    g.open();
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(g.done(), cap as usize);
    assert_eq!(extra.load(SeqCst), 0, "refused tasks must not run");
    let s = stats(p);
    assert_eq!(
        (s.submitted, s.completed, s.rejected),
        (cap as u64, cap as u64, 4)
    );
    assert_eq!(s.busy, 0);

    // After the workers freed up, non-blocking schedules succeed again.
    for _ in 0..cap {
        assert_eq!(schedule(p, counter_task, arg(extra)), POOL_OK);
    }
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(extra.load(SeqCst), cap as usize);
    free_pool(p);
}

#[test]
fn non_blocking_refuses_only_at_capacity_lazy() {
    for cap in [1, 2, 4, 16] {
        check_non_blocking_refusal(cap, false);
    }
}

#[test]
fn non_blocking_refuses_only_at_capacity_prealloc() {
    for cap in [1, 4, 16] {
        check_non_blocking_refusal(cap, true);
    }
}

#[test]
fn non_blocking_below_capacity_starts_a_worker() {
    // Fresh lazy pool, one task at a time: each schedule right after
    // pool_new must succeed (the Go version failed here without a sleep).
    for _ in 0..50 {
        let p = new_pool(3, false, false, 0);
        let count = leak(AtomicUsize::new(0));
        assert_eq!(schedule(p, counter_task, arg(count)), POOL_OK);
        assert_eq!(try_schedule(p, counter_task, arg(count)), POOL_OK);
        free_pool(p);
        assert_eq!(count.load(SeqCst), 2);
    }
}

#[test]
fn blocking_schedule_waits_until_a_worker_frees_up() {
    let p = new_pool(1, true, false, 0);
    let pp = PoolPtr::new(p);
    let g = leak(Gated::new());
    assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
    wait_until("first task running", || g.started() == 1);

    let count = leak(AtomicUsize::new(0));
    let entered = leak(Flag::new());
    let st = leak(StatusCell::new());
    let h = std::thread::spawn(move || {
        entered.set();
        st.set(schedule(pp.get(), counter_task, arg(count)));
    });
    wait_until("second scheduler started", || entered.is_set());
    assert_eq!(stats(p).busy, 1);
    assert!(
        !st.is_set(),
        "pool_schedule on a full blocking pool returned {:?} while the worker was busy",
        st.get()
    );
    assert_eq!(count.load(SeqCst), 0);

    g.open();
    wait_until("blocked schedule returned after the gate opened", || {
        st.is_set()
    });
    assert_eq!(st.get(), Some(POOL_OK));
    h.join().unwrap();
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(count.load(SeqCst), 1);
    assert_eq!(g.done(), 1);
    let s = stats(p);
    assert_eq!((s.submitted, s.completed, s.rejected), (2, 2, 0));
    free_pool(p);
}

#[test]
fn blocking_schedulers_all_get_in_eventually() {
    let p = new_pool(2, true, false, 0);
    let pp = PoolPtr::new(p);
    let g = leak(Gated::new());
    for _ in 0..2 {
        assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
    }
    wait_until("both workers busy", || g.started() == 2);
    let count = leak(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(move || {
                (0..100)
                    .map(|_| schedule(pp.get(), counter_task, arg(count)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    g.open();
    for h in threads {
        assert!(h.join().unwrap().iter().all(|&s| s == POOL_OK));
    }
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(count.load(SeqCst), 600);
    let s = stats(p);
    assert_eq!((s.submitted, s.completed, s.rejected), (602, 602, 0));
    free_pool(p);
}

fn check_queue_size(queue: usize, tasks: usize, expect_refusal: bool) {
    let p = new_pool(2, false, false, queue);
    let g = leak(Gated::new());
    for i in 0..tasks {
        assert_eq!(
            schedule(p, gated_task, arg(g)),
            POOL_OK,
            "queue {queue}: task {i} of {tasks} refused"
        );
    }
    if expect_refusal {
        assert_eq!(
            schedule(p, gated_task, arg(g)),
            POOL_ERR_NO_IDLE_WORKER,
            "queue {queue}: one too many"
        );
        assert_eq!(try_schedule(p, gated_task, arg(g)), POOL_ERR_NO_IDLE_WORKER);
    }
    wait_until("2 workers running", || g.started() == 2);
    let s = stats(p);
    assert_eq!(s.workers, 2);
    assert_eq!(s.busy, 2);
    assert_eq!(s.queued as usize, tasks - 2, "queue {queue}: stats.queued");
    assert_eq!(s.submitted as usize, tasks);
    assert_eq!(s.rejected, if expect_refusal { 2 } else { 0 });

    g.open();
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(g.done(), tasks, "queue {queue}: every accepted task ran");
    let s = stats(p);
    assert_eq!(s.completed as usize, tasks);
    assert_eq!(s.queued, 0);
    free_pool(p);
}

#[test]
fn queue_size_zero_is_hand_off() {
    check_queue_size(0, 2, true);
}

#[test]
fn queue_size_16_bounds_the_queue() {
    check_queue_size(16, 2 + 16, true);
}

#[test]
fn queue_size_max_is_unbounded() {
    check_queue_size(usize::MAX, 10_000, false);
}

#[test]
fn bounded_queue_blocking_waits_when_full() {
    let p = new_pool(1, true, false, 4);
    let pp = PoolPtr::new(p);
    let g = leak(Gated::new());
    for _ in 0..5 {
        assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
    }
    wait_until("first task running", || g.started() == 1);
    assert_eq!(stats(p).queued, 4);
    let count = leak(AtomicUsize::new(0));
    let entered = leak(Flag::new());
    let st = leak(StatusCell::new());
    let h = std::thread::spawn(move || {
        entered.set();
        st.set(schedule(pp.get(), counter_task, arg(count)));
    });
    wait_until("scheduler started", || entered.is_set());
    assert!(
        !st.is_set(),
        "schedule returned {:?} with a full queue",
        st.get()
    );
    g.open();
    wait_until("scheduler got room", || st.is_set());
    assert_eq!(st.get(), Some(POOL_OK));
    h.join().unwrap();
    assert_eq!(wait(p), POOL_OK);
    assert_eq!((g.done(), count.load(SeqCst)), (5, 1));
    free_pool(p);
}

#[test]
fn try_schedule_never_waits_even_on_a_blocking_pool() {
    for queue in [0usize, 3] {
        let p = new_pool(2, true, false, queue);
        let pp = PoolPtr::new(p);
        let g = leak(Gated::new());
        // Below capacity try_schedule starts workers.
        assert_eq!(try_schedule(p, gated_task, arg(g)), POOL_OK);
        assert_eq!(try_schedule(p, gated_task, arg(g)), POOL_OK);
        for _ in 0..queue {
            assert_eq!(try_schedule(p, gated_task, arg(g)), POOL_OK);
        }
        wait_until("2 tasks running", || g.started() == 2);
        let count = leak(AtomicUsize::new(0));
        let statuses = run_bounded("pool_try_schedule on a full blocking pool", move || {
            (0..5)
                .map(|_| try_schedule(pp.get(), counter_task, arg(count)))
                .collect::<Vec<_>>()
        });
        assert_eq!(statuses, vec![POOL_ERR_NO_IDLE_WORKER; 5], "queue {queue}");
        assert_eq!(stats(p).rejected, 5);
        g.open();
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(g.done(), 2 + queue);
        assert_eq!(count.load(SeqCst), 0);
        free_pool(p);
    }
}

#[test]
fn schedule_timeout_times_out_when_full() {
    for (block, queue) in [(true, 0usize), (true, 2), (false, 0)] {
        let p = new_pool(1, block, false, queue);
        let g = leak(Gated::new());
        for _ in 0..1 + queue {
            assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
        }
        wait_until("task running", || g.started() == 1);
        let count = leak(AtomicUsize::new(0));
        let pp = PoolPtr::new(p);
        let (st, elapsed) = run_bounded("pool_schedule_timeout(200 ms)", move || {
            let t0 = Instant::now();
            let st = schedule_timeout(pp.get(), counter_task, arg(count), 200);
            (st, t0.elapsed())
        });
        assert_eq!(st, POOL_ERR_TIMEOUT, "block {block} queue {queue}");
        assert!(
            elapsed >= Duration::from_millis(200),
            "pool_schedule_timeout(200) returned TIMEOUT after only {elapsed:?}"
        );
        let s = stats(p);
        assert_eq!(s.rejected, 1, "a timeout counts as rejected");
        assert_eq!(s.submitted as usize, 1 + queue);
        g.open();
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(count.load(SeqCst), 0, "timed-out task must not run");
        free_pool(p);
    }
}

#[test]
fn schedule_timeout_succeeds_when_room_appears() {
    let p = new_pool(1, true, false, 0);
    let pp = PoolPtr::new(p);
    let g = leak(Gated::new());
    assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
    wait_until("task running", || g.started() == 1);

    let count = leak(AtomicUsize::new(0));
    let entered = leak(Flag::new());
    let st = leak(StatusCell::new());
    let h = std::thread::spawn(move || {
        entered.set();
        st.set(schedule_timeout(
            pp.get(),
            counter_task,
            arg(count),
            600_000,
        ));
    });
    wait_until("timeout scheduler started", || entered.is_set());
    assert!(!st.is_set());
    g.open();
    wait_until("timeout scheduler got in", || st.is_set());
    assert_eq!(st.get(), Some(POOL_OK));
    h.join().unwrap();
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(count.load(SeqCst), 1);

    // With room available it returns OK at once, even with a 0 timeout.
    assert_eq!(schedule_timeout(p, counter_task, arg(count), 0), POOL_OK);
    assert_eq!(schedule_timeout(p, counter_task, arg(count), 10), POOL_OK);
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(count.load(SeqCst), 3);
    let s = stats(p);
    assert_eq!((s.submitted, s.completed, s.rejected), (4, 4, 0));
    free_pool(p);
}

/// State of a task that schedules a child on its own pool.
struct Nested {
    pool: PoolPtr,
    child_ran: Flag,
    child_ran_before_return: Flag,
    status: StatusCell,
    try_status: StatusCell,
    child_count: AtomicUsize,
    outer_thread: std::sync::Mutex<Option<std::thread::ThreadId>>,
    child_thread: std::sync::Mutex<Option<std::thread::ThreadId>>,
}

unsafe extern "C" fn nested_child(a: *mut std::ffi::c_void) {
    let n = unsafe { &*(a as *const Nested) };
    *n.child_thread.lock().unwrap() = Some(std::thread::current().id());
    n.child_count.fetch_add(1, SeqCst);
    n.child_ran.set();
}

unsafe extern "C" fn nested_outer(a: *mut std::ffi::c_void) {
    let n = unsafe { &*(a as *const Nested) };
    *n.outer_thread.lock().unwrap() = Some(std::thread::current().id());
    // Non-blocking variants behave as from any thread: the pool is full.
    n.try_status
        .set(unsafe { pool_try_schedule(n.pool.get(), Some(nested_child), a) });
    // A blocking schedule on the own, full pool runs the child inline.
    let st = unsafe { pool_schedule(n.pool.get(), Some(nested_child), a) };
    if n.child_ran.is_set() {
        n.child_ran_before_return.set();
    }
    n.status.set(st);
}

#[test]
fn nested_schedule_on_own_full_pool_runs_inline() {
    let p = new_pool(1, true, false, 0);
    let n = leak(Nested {
        pool: PoolPtr::new(p),
        child_ran: Flag::new(),
        child_ran_before_return: Flag::new(),
        status: StatusCell::new(),
        try_status: StatusCell::new(),
        child_count: AtomicUsize::new(0),
        outer_thread: Default::default(),
        child_thread: Default::default(),
    });
    assert_eq!(schedule(p, nested_outer, arg(n)), POOL_OK);
    // Bounded: a library that lets the nested call wait would hang pool_wait.
    wait_until("nested pool_schedule returned", || n.status.is_set());
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(
        n.try_status.get(),
        Some(POOL_ERR_NO_IDLE_WORKER),
        "try_schedule from a task on its full pool"
    );
    assert_eq!(
        n.status.get(),
        Some(POOL_OK),
        "nested pool_schedule on own full pool"
    );
    assert!(
        n.child_ran_before_return.is_set(),
        "child must have run inline before pool_schedule returned"
    );
    assert_eq!(n.child_count.load(SeqCst), 1);
    assert_eq!(
        *n.outer_thread.lock().unwrap(),
        *n.child_thread.lock().unwrap(),
        "inline child runs on the calling worker"
    );
    let s = stats(p);
    assert_eq!(s.submitted, 2, "inline child counts as submitted");
    assert_eq!(s.completed, 2, "inline child counts as completed");
    assert_eq!(s.rejected, 1, "the refused try_schedule");
    free_pool(p);
}

struct FanShared {
    pool: PoolPtr,
    count: AtomicUsize,
    failures: AtomicUsize,
}

/// One level of a binary tree of nested submits (bounded depth, so inline
/// execution never recurses deeply).
struct FanLevel {
    shared: &'static FanShared,
    next: Option<&'static FanLevel>,
}

unsafe extern "C" fn fanout_task(a: *mut std::ffi::c_void) {
    let level = unsafe { &*(a as *const FanLevel) };
    let f = level.shared;
    f.count.fetch_add(1, SeqCst);
    if let Some(next) = level.next {
        for _ in 0..2 {
            let st = unsafe { pool_schedule(f.pool.get(), Some(fanout_task), arg(next)) };
            if st != pool_status::POOL_OK {
                f.failures.fetch_add(1, SeqCst);
            }
        }
    }
}

#[test]
fn nested_submits_never_deadlock_a_small_pool() {
    const LEVELS: u32 = 10;
    for (cap, queue) in [(1, 0usize), (2, 0), (2, 1), (3, usize::MAX)] {
        let p = new_pool(cap, true, false, queue);
        let shared = leak(FanShared {
            pool: PoolPtr::new(p),
            count: AtomicUsize::new(0),
            failures: AtomicUsize::new(0),
        });
        let mut level: Option<&'static FanLevel> = None;
        for _ in 0..LEVELS {
            level = Some(leak(FanLevel {
                shared,
                next: level,
            }));
        }
        assert_eq!(schedule(p, fanout_task, arg(level.unwrap())), POOL_OK);
        let total = (1usize << LEVELS) - 1;
        // Children are accepted while pool_wait may already be running, so
        // wait for the count first, then for the pool to be idle.
        wait_until("every nested task ran", || {
            shared.count.load(SeqCst) == total
        });
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(shared.failures.load(SeqCst), 0);
        assert_eq!(shared.count.load(SeqCst), total, "cap {cap} queue {queue}");
        let s = stats(p);
        assert_eq!((s.submitted, s.completed), (total as u64, total as u64));
        free_pool(p);
    }
}

#[test]
fn null_arg_is_passed_through() {
    static RAN: AtomicUsize = AtomicUsize::new(0);
    static NULL_ARGS: AtomicUsize = AtomicUsize::new(0);
    unsafe extern "C" fn check_null(a: *mut std::ffi::c_void) {
        RAN.fetch_add(1, SeqCst);
        if a.is_null() {
            NULL_ARGS.fetch_add(1, SeqCst);
        }
    }
    let p = new_pool(2, true, false, 0);
    let null = std::ptr::null_mut();
    assert_eq!(schedule(p, check_null, null), POOL_OK);
    assert_eq!(try_schedule(p, check_null, null), POOL_OK);
    assert_eq!(schedule_timeout(p, check_null, null, 60_000), POOL_OK);
    assert_eq!(wait(p), POOL_OK);
    free_pool(p);
    assert_eq!(RAN.load(SeqCst), 3);
    assert_eq!(NULL_ARGS.load(SeqCst), 3);
}

#[test]
fn any_thread_may_schedule_and_stats_add_up() {
    let p = new_pool(4, false, false, 8);
    let pp = PoolPtr::new(p);
    let count = leak(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let (mut ok, mut refused) = (0u64, 0u64);
                for _ in 0..2000 {
                    match schedule(pp.get(), small_work_task, arg(count)) {
                        POOL_OK => ok += 1,
                        POOL_ERR_NO_IDLE_WORKER => refused += 1,
                        other => panic!("unexpected status {other:?}"),
                    }
                }
                (ok, refused)
            })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for h in threads {
        let (o, r) = h.join().unwrap();
        ok += o;
        refused += r;
    }
    assert_eq!(wait(p), POOL_OK);
    assert_eq!(count.load(SeqCst) as u64, ok);
    let s = stats(p);
    assert_eq!(s.submitted, ok);
    assert_eq!(s.completed, ok);
    assert_eq!(s.rejected, refused);
    assert_eq!(ok + refused, 8000);
    free_pool(p);
}

/// What `ordered_task` records: the order tasks ran in, and how many ran at
/// once at most.
#[derive(Default)]
struct Order {
    ran: std::sync::Mutex<Vec<usize>>,
    running: AtomicUsize,
    most_at_once: AtomicUsize,
}

/// One task of `serial_queue_runs_tasks_in_order`: `arg` points at its
/// `(&Order, index)`.
unsafe extern "C" fn ordered_task(a: *mut std::ffi::c_void) {
    let (order, index) = unsafe { *(a as *const (&'static Order, usize)) };
    let now = order.running.fetch_add(1, SeqCst) + 1;
    order.most_at_once.fetch_max(now, SeqCst);
    order.ran.lock().unwrap().push(index);
    order.running.fetch_sub(1, SeqCst);
}

/// A queue-mode pool of capacity 1 is a serial queue (API.md, "Order"):
/// tasks run one at a time, in the order they were accepted, whether the
/// queue is bounded (the producer then blocks) or not, lazy or
/// preallocated.
#[test]
fn serial_queue_runs_tasks_in_order() {
    const TASKS: usize = 2_000;
    for (queue, prealloc) in [(usize::MAX, false), (8, false), (1, true)] {
        let p = new_pool(1, true, prealloc, queue);
        let order = leak(Order::default());
        let args: &'static [(&'static Order, usize)] =
            Box::leak((0..TASKS).map(|i| (order, i)).collect());
        for a in args {
            assert_eq!(schedule(p, ordered_task, arg(a)), POOL_OK);
        }
        assert_eq!(wait(p), POOL_OK);
        let ran = order.ran.lock().unwrap().clone();
        assert_eq!(ran, (0..TASKS).collect::<Vec<_>>(), "queue {queue}");
        assert_eq!(order.most_at_once.load(SeqCst), 1, "queue {queue}");
        free_pool(p);
    }
}

/// What `nesting_task` shares: the pool, the deepest level reached, and the
/// status the deepest nested schedule returned.
struct Nesting {
    pool: PoolPtr,
    deepest: AtomicUsize,
    last_status: std::sync::atomic::AtomicI32,
}

/// A task that schedules itself on its own full pool (so the new task runs
/// inline), one level deeper each time; `arg` is `(&Nesting, level)`.
unsafe extern "C" fn nesting_task(a: *mut std::ffi::c_void) {
    let (nesting, level) = unsafe { *(a as *const (&'static Nesting, usize)) };
    nesting.deepest.fetch_max(level, SeqCst);
    let next: &'static (&'static Nesting, usize) = leak((nesting, level + 1));
    let status = schedule(nesting.pool.get(), nesting_task, arg(next));
    if status != POOL_OK {
        nesting.last_status.store(status as i32, SeqCst);
    }
}

/// Inline runs nest at most `WORKERPOOL_MAX_INLINE_DEPTH` deep: a task that
/// keeps scheduling itself on its own full pool stops there with
/// `POOL_ERR_DEADLOCK` instead of growing its stack without bound.
#[test]
fn nested_inline_runs_stop_at_the_depth_bound() {
    // Hand-off mode, capacity 1: every schedule from the task finds the pool
    // full (a queue would take the next level instead, and the chain would
    // never nest). The inline path is the same in every mode.
    {
        let queue = 0;
        let p = unsafe {
            let o = pool_options_new();
            assert_eq!(pool_options_set_queue_size(o, queue), POOL_OK);
            let p = pool_new(1, o);
            pool_options_free(o);
            p
        };
        let nesting = leak(Nesting {
            pool: PoolPtr::new(p),
            deepest: AtomicUsize::new(0),
            last_status: std::sync::atomic::AtomicI32::new(-1),
        });
        assert_eq!(
            schedule(p, nesting_task, arg(leak((nesting, 0usize)))),
            POOL_OK
        );
        wait_until("the nesting stopped", || {
            nesting.last_status.load(SeqCst) != -1
        });
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(
            status_from_i32(nesting.last_status.load(SeqCst)),
            POOL_ERR_DEADLOCK,
            "queue {queue}"
        );
        // Level 0 ran on the worker; levels 1 to the bound ran inline.
        assert_eq!(
            nesting.deepest.load(SeqCst),
            WORKERPOOL_MAX_INLINE_DEPTH as usize
        );
        free_pool(p);
    }
}

/// `pool_schedule_timeout(.., 0)` on a full pool returns at once with
/// `POOL_ERR_TIMEOUT`, counted as rejected, like `pool_try_schedule`.
#[test]
fn schedule_timeout_zero_never_waits() {
    for queue in [0, 2] {
        let p = new_pool(1, true, false, queue);
        let g = leak(Gated::new());
        for _ in 0..=queue {
            assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
        }
        wait_until("the worker is busy", || g.started() == 1);
        let extra = leak(AtomicUsize::new(0));
        let pool = PoolPtr::new(p);
        let extra_arg = arg(extra) as usize;
        let status = run_bounded("a zero timeout", move || {
            schedule_timeout(pool.get(), counter_task, extra_arg as *mut _, 0)
        });
        assert_eq!(status, POOL_ERR_TIMEOUT, "queue {queue}");
        assert_eq!(stats(p).rejected, 1);
        g.open();
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(extra.load(SeqCst), 0);
        free_pool(p);
    }
}
