//! The Rust API's results, scopes, groups, loops and control: `spawn` +
//! `Handle`, `scope`, `group`, `for_each`, `pause`, `cancel_queued`,
//! `shutdown`.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::time::Duration;

use workerpool::{Builder, Cancelled, Error, Pool, ShutdownMode};

const LONG: Duration = Duration::from_secs(30);

fn queue_pool(capacity: usize) -> Pool {
    Builder::new()
        .capacity(capacity)
        .queue_size(workerpool::UNBOUNDED)
        .build()
        .unwrap()
}

#[test]
fn spawn_returns_results_and_panics_through_join() {
    let pool = Pool::new(3).unwrap();
    let handles: Vec<_> = (0..50u64)
        .map(|i| pool.spawn(move || i * 2).unwrap())
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 2450);
    let failing = pool.spawn(|| -> () { panic!("boom") }).unwrap();
    let payload = failing.join().unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    // The pool survives, and a dropped handle detaches.
    let (tx, rx) = mpsc::channel();
    drop(pool.spawn(move || tx.send(7).unwrap()).unwrap());
    assert_eq!(rx.recv_timeout(LONG).unwrap(), 7);
}

#[test]
fn a_cancelled_spawn_joins_with_cancelled() {
    let pool = queue_pool(1);
    let (release, held) = mpsc::channel::<()>();
    let blocker = pool.spawn(move || held.recv().unwrap()).unwrap();
    let queued = pool.spawn(|| 5).unwrap();
    // The blocker may not have started yet: then both are cancelled.
    let cancelled = pool.cancel_queued();
    assert!((1..=2).contains(&cancelled));
    let outcome = queued.join().unwrap_err();
    assert_eq!(outcome.downcast_ref::<Cancelled>(), Some(&Cancelled));
    release.send(()).ok();
    let _ = blocker.join();
    assert_eq!(pool.stats().cancelled, cancelled);
}

#[test]
fn scope_tasks_borrow_the_stack_and_panics_come_back() {
    let pool = queue_pool(2);
    let mut counts = vec![0usize; 8];
    pool.scope(|s| {
        for (i, slot) in counts.iter_mut().enumerate() {
            s.spawn(move || *slot = i * i).unwrap();
        }
    });
    assert_eq!(counts, (0..8).map(|i| i * i).collect::<Vec<_>>());

    let finished = AtomicUsize::new(0);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.spawn(|| panic!("first")).unwrap();
            for _ in 0..10 {
                s.spawn(|| {
                    finished.fetch_add(1, SeqCst);
                })
                .unwrap();
            }
        })
    }));
    assert!(result.is_err(), "the task's panic was not resumed");
    assert_eq!(finished.load(SeqCst), 10, "scope returned before its tasks");
}

/// Fork-join through nested scopes on pools of one and two workers: the
/// waiting worker runs the queued children (queue modes), or they run
/// inline (hand-off on a full pool).
#[test]
fn nested_scopes_do_not_starve_small_pools() {
    fn fork(pool: &Pool, depth: u32, leaves: &AtomicUsize) {
        if depth == 0 {
            leaves.fetch_add(1, SeqCst);
            return;
        }
        pool.scope(|s| {
            for _ in 0..3 {
                s.spawn(|| fork(pool, depth - 1, leaves)).unwrap();
            }
        });
    }
    for queue in [0, 64, workerpool::UNBOUNDED] {
        for capacity in [1, 2] {
            let pool = Arc::new(
                Builder::new()
                    .capacity(capacity)
                    .queue_size(queue)
                    .build()
                    .unwrap(),
            );
            let leaves = Arc::new(AtomicUsize::new(0));
            let (done, finished) = mpsc::channel();
            {
                let (pool2, leaves) = (Arc::clone(&pool), Arc::clone(&leaves));
                pool.schedule(move || {
                    fork(&pool2, 3, &leaves);
                    done.send(()).unwrap();
                })
                .unwrap();
            }
            finished
                .recv_timeout(LONG)
                .unwrap_or_else(|_| panic!("queue {queue}, capacity {capacity}: starved"));
            assert_eq!(leaves.load(SeqCst), 27);
            pool.wait().unwrap();
        }
    }
}

#[test]
fn a_group_waits_for_its_own_tasks_and_drop_waits() {
    let pool = queue_pool(2);
    let (release, held) = mpsc::channel::<()>();
    pool.schedule(move || held.recv().unwrap()).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    {
        let group = pool.group().unwrap();
        for _ in 0..20 {
            let done = Arc::clone(&done);
            group
                .spawn(move || {
                    done.fetch_add(1, SeqCst);
                })
                .unwrap();
        }
        group.wait().unwrap();
        assert_eq!(done.load(SeqCst), 20);
        for _ in 0..5 {
            let done = Arc::clone(&done);
            group
                .spawn(move || {
                    std::thread::sleep(Duration::from_millis(1));
                    done.fetch_add(1, SeqCst);
                })
                .unwrap();
        }
    } // dropping the group waits
    assert_eq!(done.load(SeqCst), 25);
    release.send(()).unwrap();
    pool.wait().unwrap();
}

#[test]
fn a_task_waiting_for_its_own_group_gets_deadlock() {
    let pool = queue_pool(2);
    let group = Arc::new(pool.group().unwrap());
    let seen = Arc::new(Mutex::new(None));
    {
        let (g, seen) = (Arc::clone(&group), Arc::clone(&seen));
        group
            .spawn(move || {
                *seen.lock().unwrap() = Some(g.wait());
            })
            .unwrap();
    }
    group.wait().unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(Err(Error::Deadlock)));
}

#[test]
fn for_each_visits_every_index_once_even_nested() {
    let pool = Arc::new(queue_pool(2));
    let hits: Vec<AtomicUsize> = (0..10_000).map(|_| AtomicUsize::new(0)).collect();
    pool.for_each(0..10_000, 0, |i| {
        hits[i].fetch_add(1, SeqCst);
    })
    .unwrap();
    assert!(hits.iter().all(|h| h.load(SeqCst) == 1));
    let total = AtomicUsize::new(0);
    pool.for_each_chunk(0..64, 4, |outer| {
        for _ in outer {
            pool.for_each(0..10, 1, |_| {
                total.fetch_add(1, SeqCst);
            })
            .unwrap();
        }
    })
    .unwrap();
    assert_eq!(total.load(SeqCst), 640);
    assert_eq!(
        pool.for_each(Range { start: 5, end: 1 }, 0, |_| ()),
        Err(Error::Invalid)
    );
}

#[test]
fn pause_cancel_and_shutdown_from_rust() {
    let pool = queue_pool(2);
    pool.pause().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let ran = Arc::clone(&ran);
        pool.schedule(move || {
            ran.fetch_add(1, SeqCst);
        })
        .unwrap();
    }
    assert!(pool.stats().paused);
    assert_eq!(pool.cancel_queued(), 10);
    for _ in 0..4 {
        let ran = Arc::clone(&ran);
        pool.schedule(move || {
            ran.fetch_add(1, SeqCst);
        })
        .unwrap();
    }
    pool.resume();
    pool.wait().unwrap();
    assert_eq!(ran.load(SeqCst), 4);

    let barrier = Arc::new(Barrier::new(2));
    {
        let barrier = Arc::clone(&barrier);
        pool.schedule(move || {
            barrier.wait();
        })
        .unwrap();
    }
    assert_eq!(
        pool.shutdown(ShutdownMode::Drain, Duration::ZERO),
        Err(Error::Timeout)
    );
    barrier.wait();
    let report = pool.shutdown(ShutdownMode::Drain, LONG).unwrap();
    assert_eq!((report.queued, report.running), (0, 0));
    assert_eq!(pool.schedule(|| ()), Err(Error::Freed));
    assert_eq!(pool.stats().workers, 0);
}

#[test]
fn cancelled_group_closures_count_as_cancelled() {
    let pool = queue_pool(1);
    let (release, held) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel::<()>();
    pool.schedule(move || {
        started.send(()).unwrap();
        held.recv().unwrap();
    })
    .unwrap();
    running.recv_timeout(LONG).unwrap();
    let group = pool.group().unwrap();
    for _ in 0..6 {
        group.spawn(|| unreachable!("cancelled")).unwrap();
    }
    assert_eq!(pool.cancel_queued(), 6);
    group.wait().unwrap();
    release.send(()).unwrap();
    drop(group);
    pool.wait().unwrap();
}
