//! Heap allocations per C task, counted by a global allocator.
//!
//! The contract (shared/API.md): "A C task is stored without a heap
//! allocation (function pointer + argument)". This counts every allocation,
//! on any thread, while 100,000 C tasks are scheduled with `pool_schedule`
//! and run, after a warm-up of as many tasks, on a preallocated pool of 2
//! workers.
//!
//! The queue (src/queue/) stores tasks in blocks of 63 and reuses emptied
//! blocks, keeping up to 64 of them. So a pool whose backlog stays within
//! what it held before allocates nothing at all: the hand-off mode and
//! bounded queues, checked strictly below. An unbounded queue's backlog
//! grows as far as the producer runs ahead of the workers; what it needs
//! beyond the kept blocks is allocated, one block per 63 tasks of backlog,
//! never one per task.
//!
//! The Rust API stores a closure in place when its captures fit in two
//! words, so such closures cost no allocation either; larger ones are
//! boxed, one allocation each (both checked at the end).

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use workerpool::ffi::*;

mod common;

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counter is process-wide: the tests in this file take turns.
static SERIAL: Mutex<()> = Mutex::new(());

const TASKS: usize = 100_000;

unsafe extern "C" fn bump(arg: *mut c_void) {
    // SAFETY: every caller passes a live AtomicUsize.
    unsafe { &*(arg as *const AtomicUsize) }.fetch_add(1, Ordering::Relaxed);
}

/// Fills a bounded queue to its limit behind `workers` held workers, so
/// that the warm-up has used as many queue blocks as the counted run's
/// backlog can ever need. (A warm-up of plain schedules reaches that
/// backlog only if the workers happen to fall behind.) Schedules
/// `queue_size` `bump` tasks.
///
/// # Safety
/// `pool` is live, with `workers` workers and a queue of `queue_size`;
/// `arg` is what `bump` takes.
unsafe fn fill_backlog(pool: *mut pool_t, workers: usize, queue_size: usize, arg: *mut c_void) {
    let held = common::leak(common::Gated::new());
    for _ in 0..workers {
        // SAFETY: per the contract; `held` is leaked.
        let status = unsafe { pool_schedule(pool, Some(common::gated_task), common::arg(held)) };
        assert_eq!(status, pool_status::POOL_OK);
    }
    common::wait_until("workers hold the gated tasks", || held.started() == workers);
    for _ in 0..queue_size {
        // SAFETY: per the contract.
        let status = unsafe { pool_try_schedule(pool, Some(bump), arg) };
        assert_eq!(status, pool_status::POOL_OK, "the queue has room");
    }
    held.open();
    // SAFETY: per the contract.
    assert_eq!(unsafe { pool_wait(pool) }, pool_status::POOL_OK);
}

/// Allocations during `TASKS` schedules + runs + `pool_wait`, after a
/// warm-up of as many tasks (and, for a bounded queue, one full backlog),
/// on a preallocated 2-worker pool.
fn allocations(queue_size: usize) -> u64 {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let count = AtomicUsize::new(0);
    let arg = &count as *const AtomicUsize as *mut c_void;
    let bounded = queue_size != usize::MAX;
    // SAFETY: plain C-API use; `count` outlives the pool (freed below).
    unsafe {
        let opts = pool_options_new();
        assert!(!opts.is_null());
        assert_eq!(pool_options_set_prealloc(opts, true), pool_status::POOL_OK);
        assert_eq!(
            pool_options_set_queue_size(opts, queue_size),
            pool_status::POOL_OK
        );
        let pool = pool_new(2, opts);
        pool_options_free(opts);
        assert!(!pool.is_null());

        if bounded {
            fill_backlog(pool, 2, queue_size, arg);
        }
        for _ in 0..TASKS {
            assert_eq!(pool_schedule(pool, Some(bump), arg), pool_status::POOL_OK);
        }
        assert_eq!(pool_wait(pool), pool_status::POOL_OK);

        ALLOCS.store(0, Ordering::SeqCst);
        COUNTING.store(true, Ordering::SeqCst);
        for _ in 0..TASKS {
            assert_eq!(pool_schedule(pool, Some(bump), arg), pool_status::POOL_OK);
        }
        assert_eq!(pool_wait(pool), pool_status::POOL_OK);
        COUNTING.store(false, Ordering::SeqCst);

        assert_eq!(pool_free(pool), pool_status::POOL_OK);
    }
    let filled = if bounded { queue_size } else { 0 };
    assert_eq!(count.load(Ordering::SeqCst), 2 * TASKS + filled);
    let allocs = ALLOCS.load(Ordering::SeqCst);
    println!(
        "queue_size {queue_size}: {allocs} allocations for {TASKS} C tasks ({:.4} per task)",
        allocs as f64 / TASKS as f64
    );
    allocs
}

/// An unbounded queue's backlog grows as far as the producer runs ahead,
/// and its blocks with it: at most one block per 63 tasks, never one per
/// task. (The bounded modes are held to far less below.)
#[test]
fn no_allocation_per_task() {
    let allocs = allocations(usize::MAX);
    assert!(
        allocs <= TASKS as u64 / 63 + 1,
        "unbounded queue: {allocs} allocations for {TASKS} tasks"
    );
}

/// A backlog bounded by the queue size (1000 tasks; 0: hand-off) fits in
/// blocks the warm-up already used: the whole run allocates at most a few
/// blocks, for a backlog a little longer than any the warm-up reached
/// (a block per 63 tasks would be 1,587).
#[test]
fn zero_allocations_with_a_bounded_backlog() {
    for queue_size in [1000, 0] {
        let allocs = allocations(queue_size);
        assert!(
            allocs <= 4,
            "queue_size {queue_size}: {allocs} allocations for {TASKS} tasks"
        );
    }
}

/// Allocations while a hand-off pool of 2 preallocated workers runs
/// `TASKS` closures made by `make`, after a warm-up of as many.
fn closure_allocations<F: FnOnce() + Send + 'static>(make: impl Fn() -> F) -> u64 {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let pool = workerpool::Pool::builder()
        .capacity(2)
        .prealloc(true)
        .queue_size(0)
        .build()
        .expect("pool");
    let run = || {
        for _ in 0..TASKS {
            pool.schedule(make()).expect("schedule");
        }
        pool.wait().expect("wait");
    };
    run();
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    run();
    COUNTING.store(false, Ordering::SeqCst);
    ALLOCS.load(Ordering::SeqCst)
}

#[test]
fn closures_of_two_words_are_not_boxed() {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    // Two words of captures: a function pointer and an argument.
    let (func, arg): (fn(&AtomicUsize), &'static AtomicUsize) = (
        |c| {
            c.fetch_add(1, Ordering::Relaxed);
        },
        &COUNT,
    );
    let allocs = closure_allocations(|| move || func(arg));
    assert!(allocs <= 4, "{allocs} allocations for {TASKS} closures");
    assert_eq!(COUNT.load(Ordering::SeqCst), 2 * TASKS);
}

#[test]
fn larger_closures_are_boxed_once_each() {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let three_words = [1usize, 2, 3];
    let allocs = closure_allocations(|| {
        move || {
            COUNT.fetch_add(three_words.len() - 2, Ordering::Relaxed);
        }
    });
    assert!(
        (TASKS as u64..=TASKS as u64 + 4).contains(&allocs),
        "{allocs} allocations for {TASKS} closures"
    );
    assert_eq!(COUNT.load(Ordering::SeqCst), 2 * TASKS);
}

/// A wait that sleeps allocates nothing (its bound is kept in place, not
/// in a list): a timed `pool_wait_timeout` behind a held task, in both
/// kinds of mode. (`make -C c_examples alloc-check` counts a whole run's
/// allocations with valgrind; the one `pool_wait` there sleeps or not as
/// the run goes, so an allocation by a sleeping wait made it flaky.)
#[test]
fn a_sleeping_wait_allocates_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    for queue_size in [0, usize::MAX] {
        let pool = common::new_pool(1, true, true, queue_size);
        let held = common::leak(common::Gated::new());
        assert_eq!(
            common::schedule(pool, common::gated_task, common::arg(held)),
            pool_status::POOL_OK
        );
        common::wait_until("the worker holds the task", || held.started() == 1);
        ALLOCS.store(0, Ordering::SeqCst);
        COUNTING.store(true, Ordering::SeqCst);
        // SAFETY: plain C-API use.
        let status = unsafe { pool_wait_timeout(pool, 50) };
        COUNTING.store(false, Ordering::SeqCst);
        assert_eq!(status, pool_status::POOL_ERR_TIMEOUT);
        let allocs = ALLOCS.load(Ordering::SeqCst);
        held.open();
        common::free_pool(pool);
        assert_eq!(
            allocs, 0,
            "queue_size {queue_size}: a sleeping wait allocated"
        );
    }
}
