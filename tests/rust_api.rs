//! The safe Rust API (`workerpool::{Pool, Builder, Stats, Error}`): the same
//! options as the C builder, panics caught and reported, and the pool calls.
//!
//! Assertions are on counts, states and errors only; sleeps appear only to
//! give a pool the chance to do something wrong (or to let workers idle for
//! expiry), never as the basis of an assertion.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::in_own_process;
use common::threads::*;

use workerpool::{Builder, Error, MAX_CAPACITY, MAX_STACK_SIZE, Pool, Stats, UNBOUNDED};

const DEADLINE: Duration = Duration::from_secs(30);

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_micros(300));
    }
}

/// Bounded `pool.wait()`: first polls until nothing is pending, so a
/// stranded task fails the test instead of hanging it.
fn drain(pool: &Pool) {
    let start = Instant::now();
    loop {
        let s = pool.stats();
        if s.completed == s.submitted {
            break;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "accepted tasks not finished after {DEADLINE:?}: {s:?}"
        );
        std::thread::sleep(Duration::from_micros(100));
    }
    pool.wait().unwrap();
}

/// Tasks block on it until the test opens it; counts starts and finishes.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
    started: AtomicUsize,
    done: AtomicUsize,
}

impl Gate {
    fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }
    fn pass(&self) {
        self.started.fetch_add(1, SeqCst);
        let mut g = self.open.lock().unwrap();
        while !*g {
            g = self.cv.wait(g).unwrap();
        }
        drop(g);
        self.done.fetch_add(1, SeqCst);
    }
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
    fn started(&self) -> usize {
        self.started.load(SeqCst)
    }
    fn done(&self) -> usize {
        self.done.load(SeqCst)
    }
}

fn gated(gate: &Arc<Gate>) -> impl FnOnce() + Send + 'static {
    let gate = Arc::clone(gate);
    move || gate.pass()
}

fn counting(count: &Arc<AtomicUsize>) -> impl FnOnce() + Send + 'static {
    let count = Arc::clone(count);
    move || {
        count.fetch_add(1, SeqCst);
    }
}

#[test]
fn types_are_send_sync_and_debug() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Pool>();
    assert_send_sync::<Builder>();
    assert_send_sync::<Error>();
    let pool = Pool::new(2).unwrap();
    assert!(format!("{pool:?}").contains("Pool"));
    assert!(format!("{:?}", Builder::new()).contains("Builder"));
    let e: Box<dyn std::error::Error> = Box::new(Error::NoIdleWorker);
    assert!(!e.to_string().is_empty());
}

#[test]
fn defaults_and_capacity_clamping() {
    let pool = Pool::new(0).unwrap();
    assert_eq!(
        pool.stats(),
        Stats {
            capacity: 100,
            ..Stats::default()
        }
    );
    drop(pool);
    assert_eq!(Pool::new(20_000).unwrap().stats().capacity, MAX_CAPACITY);
    assert_eq!(
        Builder::new().capacity(0).build().unwrap().stats().capacity,
        100
    );
    assert_eq!(
        Builder::new().capacity(7).build().unwrap().stats().capacity,
        7
    );
    assert_eq!(Pool::builder().build().unwrap().stats().capacity, 100);

    // Default: blocking, lazy, named workerpool-<n>.
    let pool = Pool::new(1).unwrap();
    assert_eq!(pool.stats().workers, 0, "lazy by default");
    let name = Arc::new(Mutex::new(String::new()));
    let n = Arc::clone(&name);
    pool.schedule(move || *n.lock().unwrap() = own_comm())
        .unwrap();
    drain(&pool);
    assert_eq!(*name.lock().unwrap(), "workerpool-0");
}

#[test]
fn block_false_refuses_when_full() {
    let pool = Builder::new().capacity(1).block(false).build().unwrap();
    let gate = Gate::new();
    pool.schedule(gated(&gate)).unwrap();
    wait_until("running", || gate.started() == 1);
    let count = Arc::new(AtomicUsize::new(0));
    assert_eq!(pool.schedule(counting(&count)), Err(Error::NoIdleWorker));
    assert_eq!(
        pool.try_schedule(counting(&count)),
        Err(Error::NoIdleWorker)
    );
    assert_eq!(
        pool.schedule_timeout(counting(&count), Duration::from_millis(5)),
        Err(Error::Timeout)
    );
    let s = pool.stats();
    assert_eq!(s.rejected, 3);
    assert_eq!(s.submitted, 1);
    assert_eq!(s.busy, 1);
    assert_eq!(s.workers, 1);
    gate.open();
    drain(&pool);
    assert_eq!(count.load(SeqCst), 0);
    pool.schedule(counting(&count)).unwrap();
    drain(&pool);
    pool.try_schedule(counting(&count)).unwrap();
    drain(&pool);
    pool.schedule_timeout(counting(&count), Duration::from_secs(10))
        .unwrap();
    drain(&pool);
    assert_eq!(count.load(SeqCst), 3);
}

#[test]
fn block_true_waits_for_room_and_timeout_waits_then_fails() {
    let pool = Arc::new(Builder::new().capacity(1).block(true).build().unwrap());
    let gate = Gate::new();
    pool.schedule(gated(&gate)).unwrap();
    wait_until("running", || gate.started() == 1);

    assert_eq!(
        pool.schedule_timeout(|| {}, Duration::from_millis(20)),
        Err(Error::Timeout)
    );
    assert_eq!(pool.try_schedule(|| {}), Err(Error::NoIdleWorker));

    let count = Arc::new(AtomicUsize::new(0));
    let returned = Arc::new(AtomicBool::new(false));
    let scheduler = {
        let (pool, count, returned) =
            (Arc::clone(&pool), Arc::clone(&count), Arc::clone(&returned));
        std::thread::spawn(move || {
            let r = pool.schedule(counting(&count));
            returned.store(true, SeqCst);
            r
        })
    };
    std::thread::sleep(Duration::from_millis(30));
    assert!(
        !returned.load(SeqCst),
        "blocking schedule returned while full"
    );
    gate.open();
    assert_eq!(scheduler.join().unwrap(), Ok(()));
    drain(&pool);
    assert_eq!(count.load(SeqCst), 1);
    assert_eq!(pool.stats().rejected, 2);
}

#[test]
fn prealloc_starts_every_worker_in_build() {
    let pool = Builder::new().capacity(5).prealloc(true).build().unwrap();
    assert_eq!(pool.stats().workers, 5);
    let lazy = Builder::new().capacity(5).prealloc(false).build().unwrap();
    assert_eq!(lazy.stats().workers, 0);
}

#[test]
fn queue_size_bounds_waiting_tasks() {
    let pool = Builder::new()
        .capacity(1)
        .queue_size(2)
        .block(false)
        .build()
        .unwrap();
    let gate = Gate::new();
    pool.schedule(gated(&gate)).unwrap();
    wait_until("running", || gate.started() == 1);
    let count = Arc::new(AtomicUsize::new(0));
    pool.schedule(counting(&count)).unwrap();
    pool.try_schedule(counting(&count)).unwrap();
    assert_eq!(
        pool.try_schedule(counting(&count)),
        Err(Error::NoIdleWorker)
    );
    let s = pool.stats();
    assert_eq!(s.queued, 2);
    assert_eq!(s.busy, 1);
    assert_eq!(s.submitted, 3);
    gate.open();
    drain(&pool);
    assert_eq!(count.load(SeqCst), 2);

    // Unbounded: everything is accepted without waiting.
    let pool = Builder::new()
        .capacity(1)
        .queue_size(UNBOUNDED)
        .block(false)
        .build()
        .unwrap();
    let gate = Gate::new();
    pool.schedule(gated(&gate)).unwrap();
    for _ in 0..1000 {
        pool.try_schedule(counting(&count)).unwrap();
    }
    wait_until("running", || gate.started() == 1);
    assert_eq!(pool.stats().queued, 1000);
    gate.open();
    drain(&pool);
    assert_eq!(count.load(SeqCst), 1002);
}

#[test]
fn idle_timeout_expires_workers_and_they_come_back() {
    let pool = Builder::new()
        .capacity(3)
        .idle_timeout(Duration::from_millis(20))
        .thread_name("rsexp")
        .unwrap()
        .build()
        .unwrap();
    let gate = Gate::new();
    for _ in 0..3 {
        pool.schedule(gated(&gate)).unwrap();
    }
    wait_until("3 running", || gate.started() == 3);
    assert_eq!(pool.stats().workers, 3);
    gate.open();
    drain(&pool);
    wait_until("workers expired", || pool.stats().workers == 0);
    let gate = Gate::new();
    pool.schedule(gated(&gate)).unwrap();
    wait_until("running again", || gate.started() == 1);
    assert_eq!(pool.stats().workers, 1);
    gate.open();
    drain(&pool);

    // Prealloc pools shrink too.
    let pool = Builder::new()
        .capacity(4)
        .prealloc(true)
        .idle_timeout(Duration::from_millis(10))
        .build()
        .unwrap();
    wait_until("prealloc workers expired", || pool.stats().workers == 0);

    // Zero: never expire.
    let pool = Builder::new()
        .capacity(1)
        .prealloc(true)
        .idle_timeout(Duration::ZERO)
        .build()
        .unwrap();
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(pool.stats().workers, 1);
}

#[test]
fn task_given_to_expiring_worker_still_runs() {
    let pool = Builder::new()
        .capacity(4)
        .idle_timeout(Duration::from_millis(1))
        .build()
        .unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let mut expected = 0;
    // Gaps sweep around the 1 ms timeout; mostly one task per round (one
    // idle worker about to expire is the riskiest case).
    let gaps_us: Vec<u64> = (0..=20).map(|i| i * 100).collect();
    for round in 0..2000usize {
        let n = if round % 4 == 3 { 1 + round % 6 } else { 1 };
        for _ in 0..n {
            pool.schedule(counting(&count)).unwrap();
            expected += 1;
        }
        // Spin (no sleep) until the round's tasks ran, so the idle gap
        // below starts right when the workers go idle.
        let start = Instant::now();
        while count.load(SeqCst) != expected {
            assert!(
                start.elapsed() < DEADLINE,
                "round {round}: {} of {expected} tasks ran after {DEADLINE:?}: {:?}",
                count.load(SeqCst),
                pool.stats()
            );
            std::thread::yield_now();
        }
        pool.wait().unwrap();
        assert_eq!(count.load(SeqCst), expected, "round {round}");
        // An idle gap around the timeout, so workers expire as tasks arrive.
        std::thread::sleep(Duration::from_micros(gaps_us[round % gaps_us.len()]));
    }
    assert_eq!(pool.stats().completed, expected as u64);
}

#[test]
fn stack_size_option() {
    const ASKED: usize = 256 * 1024;
    let pool = Builder::new()
        .capacity(4)
        .stack_size(ASKED)
        .unwrap()
        .build()
        .unwrap();
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let gate = Gate::new();
    for _ in 0..4 {
        let (sizes, gate) = (Arc::clone(&sizes), Arc::clone(&gate));
        pool.schedule(move || {
            sizes.lock().unwrap().push(own_stack_size());
            gate.pass();
        })
        .unwrap();
    }
    wait_until("4 running", || gate.started() == 4);
    gate.open();
    drain(&pool);
    let sizes = sizes.lock().unwrap().clone();
    assert_eq!(sizes.len(), 4);
    for size in sizes {
        assert!(size >= ASKED, "stack {size} < {ASKED}");
        assert!(size < 8 << 20, "stack {size}: option ignored");
    }

    assert_eq!(
        Builder::new().stack_size(MAX_STACK_SIZE + 1).unwrap_err(),
        Error::Invalid
    );
    assert_eq!(
        Builder::new().stack_size(usize::MAX).unwrap_err(),
        Error::Invalid
    );
    assert!(Builder::new().stack_size(0).is_ok());
    assert!(Builder::new().stack_size(MAX_STACK_SIZE).is_ok());
}

#[test]
fn stack_size_refused_by_os() {
    let refused = std::thread::Builder::new()
        .stack_size(MAX_STACK_SIZE)
        .spawn(|| {})
        .map(|h| h.join().unwrap())
        .is_err();
    if !refused {
        eprintln!("SKIPPED: this OS accepts a 1 TiB thread stack");
        return;
    }
    let builder = Builder::new()
        .capacity(2)
        .stack_size(MAX_STACK_SIZE)
        .unwrap();
    let pool = builder.build().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    assert_eq!(pool.schedule(counting(&count)), Err(Error::Spawn));
    assert_eq!(pool.try_schedule(counting(&count)), Err(Error::Spawn));
    assert_eq!(pool.stats().workers, 0);
    assert_eq!(pool.stats().submitted, 0);
    pool.wait().unwrap();
    drop(pool);
    assert_eq!(count.load(SeqCst), 0);
    assert_eq!(
        builder.prealloc(true).build().map(|_| ()).unwrap_err(),
        Error::Spawn
    );
}

#[test]
fn thread_name_option() {
    if !in_own_process("thread_name_option") {
        return;
    }
    let pool = Builder::new()
        .capacity(3)
        .thread_name("rsname")
        .unwrap()
        .build()
        .unwrap();
    let names = Arc::new(Mutex::new(BTreeSet::new()));
    let gate = Gate::new();
    for _ in 0..3 {
        let (names, gate) = (Arc::clone(&names), Arc::clone(&gate));
        pool.schedule(move || {
            names.lock().unwrap().insert(own_comm());
            gate.pass();
        })
        .unwrap();
    }
    wait_until("3 running", || gate.started() == 3);
    assert_eq!(threads_named("rsname"), 3);
    gate.open();
    drain(&pool);
    drop(pool);
    let expected: BTreeSet<String> = (0..3).map(|i| format!("rsname-{i}")).collect();
    assert_eq!(*names.lock().unwrap(), expected);
    wait_until("threads gone", || threads_named("rsname") == 0);

    let long = "rsaverylongthreadnameprefix";
    let pool = Builder::new().thread_name(long).unwrap().build().unwrap();
    let name = Arc::new(Mutex::new(String::new()));
    let n = Arc::clone(&name);
    pool.schedule(move || *n.lock().unwrap() = own_comm())
        .unwrap();
    drain(&pool);
    assert_eq!(*name.lock().unwrap(), &format!("{long}-0")[..15]);

    assert_eq!(Builder::new().thread_name("").unwrap_err(), Error::Invalid);
    assert_eq!(
        Builder::new().thread_name("a\0b").unwrap_err(),
        Error::Invalid
    );
}

#[derive(Default)]
struct Tids {
    starts: Mutex<Vec<(i32, u64)>>,
    exits: Mutex<Vec<(i32, u64)>>,
}

thread_local! {
    static STARTED_BY: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn hooked_builder(tids: &Arc<Tids>) -> Builder {
    let (a, b) = (Arc::clone(tids), Arc::clone(tids));
    let key = Arc::as_ptr(tids) as usize;
    Builder::new()
        .on_thread_start(move || {
            STARTED_BY.with(|s| s.set(key));
            a.starts.lock().unwrap().push(thread_key());
        })
        .on_thread_exit(move || {
            b.exits.lock().unwrap().push(thread_key());
            STARTED_BY.with(|s| s.set(0));
        })
}

fn check_tids(tids: &Tids) -> usize {
    let starts = tids.starts.lock().unwrap().clone();
    let exits = tids.exits.lock().unwrap().clone();
    let s: BTreeSet<(i32, u64)> = starts.iter().copied().collect();
    let e: BTreeSet<(i32, u64)> = exits.iter().copied().collect();
    assert_eq!(s.len(), starts.len(), "on_thread_start twice on a thread");
    assert_eq!(e.len(), exits.len(), "on_thread_exit twice on a thread");
    assert_eq!(s, e);
    s.len()
}

#[test]
fn thread_hooks_wrap_every_task_and_drop_waits_for_them() {
    let tids = Arc::new(Tids::default());
    let key = Arc::as_ptr(&tids) as usize;
    let outside = Arc::new(AtomicUsize::new(0));
    let pool = hooked_builder(&tids)
        .capacity(4)
        .idle_timeout(Duration::from_millis(5))
        .build()
        .unwrap();
    let gate = Gate::new();
    for _ in 0..4 {
        let (gate, outside) = (Arc::clone(&gate), Arc::clone(&outside));
        pool.schedule(move || {
            if STARTED_BY.with(|s| s.get()) != key {
                outside.fetch_add(1, SeqCst);
            }
            gate.pass();
        })
        .unwrap();
    }
    wait_until("4 running", || gate.started() == 4);
    assert_eq!(tids.starts.lock().unwrap().len(), 4);
    // Shrink while busy: 3 retire after their task.
    pool.set_capacity(1).unwrap();
    gate.open();
    drain(&pool);
    // All expire eventually: on_exit for every one, before the drop.
    wait_until("all expired", || pool.stats().workers == 0);
    wait_until("4 on_exit", || tids.exits.lock().unwrap().len() == 4);
    for _ in 0..20 {
        let outside = Arc::clone(&outside);
        pool.schedule(move || {
            if STARTED_BY.with(|s| s.get()) != key {
                outside.fetch_add(1, SeqCst);
            }
        })
        .unwrap();
    }
    drop(pool);
    // Right after drop every on_exit has run.
    let threads = check_tids(&tids);
    assert!(threads >= 5, "restarted workers ran on_start: {threads}");
    assert_eq!(outside.load(SeqCst), 0, "a task ran outside the hooks");
}

#[test]
fn panicking_task_is_caught_counted_and_reported() {
    let payloads = Arc::new(Mutex::new(Vec::<String>::new()));
    let p = Arc::clone(&payloads);
    let tids = Arc::new(Tids::default());
    let pool = hooked_builder(&tids)
        .capacity(1)
        .panic_handler(move |payload| {
            let text = if let Some(s) = payload.downcast_ref::<&str>() {
                format!("str:{s}")
            } else if let Some(s) = payload.downcast_ref::<String>() {
                format!("string:{s}")
            } else {
                "other".to_owned()
            };
            p.lock().unwrap().push(text);
        })
        .build()
        .unwrap();
    let ran_on = Arc::new(Mutex::new(Vec::new()));
    let r = Arc::clone(&ran_on);
    pool.schedule(move || {
        r.lock().unwrap().push(thread_key());
        panic!("boom");
    })
    .unwrap();
    drain(&pool);
    let n = 42;
    let r = Arc::clone(&ran_on);
    pool.schedule(move || {
        r.lock().unwrap().push(thread_key());
        panic!("formatted {n}");
    })
    .unwrap();
    drain(&pool);
    pool.schedule(|| std::panic::panic_any(7u32)).unwrap();
    drain(&pool);
    assert_eq!(
        *payloads.lock().unwrap(),
        ["str:boom", "string:formatted 42", "other"]
    );
    let s = pool.stats();
    assert_eq!(s.panicked, 3);
    assert_eq!(s.completed, 3);
    assert_eq!(s.workers, 1, "the worker lives on");

    // Later tasks run, on the same worker.
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let (count, r) = (Arc::clone(&count), Arc::clone(&ran_on));
        pool.schedule(move || {
            r.lock().unwrap().push(thread_key());
            count.fetch_add(1, SeqCst);
        })
        .unwrap();
    }
    drain(&pool);
    assert_eq!(count.load(SeqCst), 10);
    let tids_seen: BTreeSet<(i32, u64)> = ran_on.lock().unwrap().iter().copied().collect();
    assert_eq!(tids_seen.len(), 1, "one worker thread throughout");
    assert_eq!(pool.stats().panicked, 3);
    assert_eq!(pool.stats().completed, 13);
    drop(pool);
    assert_eq!(check_tids(&tids), 1);
}

#[test]
fn panic_without_handler_is_counted_and_survived() {
    let pool = Builder::new().capacity(2).build().unwrap();
    for _ in 0..5 {
        pool.schedule(|| panic!("no handler")).unwrap();
    }
    drain(&pool);
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..5 {
        pool.schedule(counting(&count)).unwrap();
    }
    drain(&pool);
    assert_eq!(count.load(SeqCst), 5);
    let s = pool.stats();
    assert_eq!(s.panicked, 5);
    assert_eq!(s.completed, 10);
    assert!(s.workers >= 1);
}

#[test]
fn wait_waits_for_everything_accepted_and_refuses_on_a_worker() {
    let pool = Arc::new(
        Builder::new()
            .capacity(4)
            .queue_size(UNBOUNDED)
            .build()
            .unwrap(),
    );
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..200 {
        let count = Arc::clone(&count);
        pool.schedule(move || {
            std::hint::black_box((0..1000u64).sum::<u64>());
            count.fetch_add(1, SeqCst);
        })
        .unwrap();
    }
    // Bounded: wait on a helper thread.
    let (tx, rx) = std::sync::mpsc::channel();
    let p = Arc::clone(&pool);
    std::thread::spawn(move || tx.send(p.wait()).unwrap());
    assert_eq!(rx.recv_timeout(DEADLINE).unwrap(), Ok(()));
    assert_eq!(
        count.load(SeqCst),
        200,
        "wait returned before the tasks ran"
    );

    // From a worker: Deadlock; is_worker_thread is true there only.
    assert!(!pool.is_worker_thread());
    let seen = Arc::new(Mutex::new(None));
    let (p, s) = (Arc::clone(&pool), Arc::clone(&seen));
    pool.schedule(move || *s.lock().unwrap() = Some((p.wait(), p.is_worker_thread())))
        .unwrap();
    drain(&pool);
    assert_eq!(*seen.lock().unwrap(), Some((Err(Error::Deadlock), true)));
    // Idle pool: returns at once.
    pool.wait().unwrap();
}

#[test]
fn nested_schedule_on_a_full_pool_runs_inline() {
    let pool = Arc::new(Builder::new().capacity(1).build().unwrap());
    let inner_tid = Arc::new(AtomicUsize::new(0));
    let outer_tid = Arc::new(AtomicUsize::new(0));
    let result = Arc::new(Mutex::new(None));
    let (p, i, o, r) = (
        Arc::clone(&pool),
        Arc::clone(&inner_tid),
        Arc::clone(&outer_tid),
        Arc::clone(&result),
    );
    pool.schedule(move || {
        o.store(gettid() as usize, SeqCst);
        let i2 = Arc::clone(&i);
        *r.lock().unwrap() = Some(p.schedule(move || i2.store(gettid() as usize, SeqCst)));
    })
    .unwrap();
    drain(&pool);
    assert_eq!(*result.lock().unwrap(), Some(Ok(())));
    assert_eq!(inner_tid.load(SeqCst), outer_tid.load(SeqCst));
    let s = pool.stats();
    assert_eq!(s.submitted, 2);
    assert_eq!(s.completed, 2);
}

#[test]
fn set_capacity_grows_shrinks_and_clamps() {
    if !in_own_process("set_capacity_grows_shrinks_and_clamps") {
        return;
    }
    let pool = Arc::new(
        Builder::new()
            .capacity(1)
            .thread_name("rscap")
            .unwrap()
            .build()
            .unwrap(),
    );
    let gate = Gate::new();
    pool.schedule(gated(&gate)).unwrap();
    wait_until("running", || gate.started() == 1);
    let count = Arc::new(AtomicUsize::new(0));
    let blocked = {
        let (pool, count) = (Arc::clone(&pool), Arc::clone(&count));
        std::thread::spawn(move || pool.schedule(counting(&count)))
    };
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(count.load(SeqCst), 0);
    pool.set_capacity(2).unwrap();
    assert_eq!(blocked.join().unwrap(), Ok(()));
    wait_until("second task ran", || count.load(SeqCst) == 1);
    assert_eq!(gate.done(), 0, "the gate is still closed");
    gate.open();
    drain(&pool);

    // Shrink: idle workers retire at once.
    pool.set_capacity(8).unwrap();
    let gate = Gate::new();
    for _ in 0..8 {
        pool.schedule(gated(&gate)).unwrap();
    }
    wait_until("8 running", || gate.started() == 8);
    pool.set_capacity(3).unwrap();
    assert_eq!(pool.stats().workers, 8, "busy workers finish first");
    assert_eq!(pool.try_schedule(|| {}), Err(Error::NoIdleWorker));
    gate.open();
    drain(&pool);
    wait_until("down to 3", || pool.stats().workers == 3);
    wait_until("threads down to 3", || threads_named("rscap") == 3);
    pool.set_capacity(1).unwrap();
    wait_until("idle down to 1", || pool.stats().workers == 1);

    for (asked, got) in [
        (0, 100),
        (20_000, MAX_CAPACITY),
        (usize::MAX, MAX_CAPACITY),
        (5, 5),
    ] {
        pool.set_capacity(asked).unwrap();
        assert_eq!(pool.stats().capacity, got, "set_capacity({asked})");
    }
    drop(pool);
    wait_until("threads gone", || threads_named("rscap") == 0);
}

#[test]
fn drop_runs_every_accepted_task_and_joins_workers() {
    if !in_own_process("drop_runs_every_accepted_task_and_joins_workers") {
        return;
    }
    let tids = Arc::new(Tids::default());
    let pool = hooked_builder(&tids)
        .capacity(3)
        .queue_size(UNBOUNDED)
        .thread_name("rsdrop")
        .unwrap()
        .build()
        .unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..300 {
        let count = Arc::clone(&count);
        pool.schedule(move || {
            std::hint::black_box((0..2000u64).sum::<u64>());
            count.fetch_add(1, SeqCst);
        })
        .unwrap();
    }
    drop(pool);
    assert_eq!(count.load(SeqCst), 300);
    assert_eq!(check_tids(&tids), 3);
    wait_until("threads gone", || threads_named("rsdrop") == 0);
}

#[test]
fn concurrent_schedulers_exact_counts() {
    let pool = Arc::new(Builder::new().capacity(4).build().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (pool, count) = (Arc::clone(&pool), Arc::clone(&count));
            std::thread::spawn(move || {
                for _ in 0..500 {
                    pool.schedule(counting(&count)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drain(&pool);
    assert_eq!(count.load(SeqCst), 2000);
    let s = pool.stats();
    assert_eq!((s.submitted, s.completed, s.rejected), (2000, 2000, 0));
}
