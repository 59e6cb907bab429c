//! Scenarios for the fast schedule path (an unbounded queue whose workers
//! are all started: one `fetch_add`, no gate pass). `tests/ffi_stress.rs`
//! runs them as they are; `tests/faults.rs` runs them with the path's hint
//! switched off, so that every schedule counts its task first and must give
//! it back when the pool is closing or short of workers.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use workerpool::ffi::*;

use super::*;
use pool_status::*;

/// The fast schedule path (unbounded queue, every worker started) takes no
/// gate pass; bounded and hand-off queues take the gated path. In every
/// third round each: schedulers hammering a pool while pool_free runs get
/// OK until the pool closes, then FREED, and every OK task runs before
/// pool_free returns. (The sentinel keeps pool_free from returning before
/// every racer has stopped calling.)
pub fn racing_with_free(rounds: usize) {
    const RACERS: usize = 4;
    for round in 0..rounds {
        let queue_size = [usize::MAX, 16, 0][round % 3];
        let p = new_pool(2, true, true, queue_size);
        let pp = PoolPtr::new(p);
        let sentinel = leak(Sentinel {
            racers: RACERS,
            ..Default::default()
        });
        assert_eq!(schedule(p, sentinel_task, arg(sentinel)), POOL_OK);
        let count = leak(AtomicUsize::new(0));
        let started = leak(AtomicUsize::new(0));
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                std::thread::spawn(move || {
                    started.fetch_add(1, SeqCst);
                    let (mut ok, mut last) = (0usize, POOL_OK);
                    while last == POOL_OK {
                        last = schedule(pp.get(), counter_task, arg(count));
                        ok += usize::from(last == POOL_OK);
                    }
                    sentinel.racer_returned();
                    (ok, last)
                })
            })
            .collect();
        wait_until("racers started", || started.load(SeqCst) == RACERS);
        if round % 2 == 0 {
            std::thread::yield_now();
        }
        assert_eq!(unsafe { pool_free(p) }, POOL_OK);
        let mut ok = 0;
        for racer in racers {
            let (accepted, last) = racer.join().unwrap();
            assert_eq!(last, POOL_ERR_FREED, "round {round}, queue {queue_size}");
            ok += accepted;
        }
        assert_eq!(
            count.load(SeqCst),
            ok,
            "round {round}, queue {queue_size}: every accepted task ran before pool_free returned"
        );
    }
}

/// Workers of an unbounded pool expire between bursts, so the fast path's
/// hint ("every worker started") is often stale by the time it counts the
/// task: it must give the task back and start a worker instead. Nothing is
/// lost and pool_wait returns after every burst.
pub fn expiring_workers(bursts: usize) {
    let opts = pool_options_new();
    assert!(!opts.is_null());
    unsafe {
        assert_eq!(pool_options_set_queue_size(opts, usize::MAX), POOL_OK);
        assert_eq!(pool_options_set_idle_timeout_ms(opts, 1), POOL_OK);
    }
    let p = unsafe { pool_new(2, opts) };
    unsafe { pool_options_free(opts) };
    assert!(!p.is_null());
    let pp = PoolPtr::new(p);
    let count = leak(AtomicUsize::new(0));
    let mut total = 0;
    for burst in 0..bursts {
        let per_producer = 1 + burst % 7;
        let producers: Vec<_> = (0..2)
            .map(|_| {
                std::thread::spawn(move || {
                    for _ in 0..per_producer {
                        assert_eq!(schedule(pp.get(), counter_task, arg(count)), POOL_OK);
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.join().unwrap();
        }
        total += 2 * per_producer;
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(count.load(SeqCst), total, "burst {burst}");
        if burst % 3 == 0 {
            // Long enough for the 1 ms idle timeout.
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
    }
    let s = stats(p);
    assert_eq!((s.submitted, s.completed), (total as u64, total as u64));
    free_pool(p);
}
