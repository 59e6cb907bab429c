//! `pool_parallel_for` through the C ABI, driven as C would: `extern "C"`
//! bodies, raw `void *` contexts. Every index exactly once, chunk sizes,
//! the caller alone on a busy pool, nested loops from tasks, statuses,
//! and late helpers that must never touch the body.
//!
//! Bodies never panic (a panic in an `extern "C"` function aborts the
//! test binary): they count what they saw, and the test thread asserts.

mod common;

use std::collections::HashSet;
use std::ffi::c_void;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::thread::{self, ThreadId};
use std::time::Instant;

use common::*;
use workerpool::ffi::*;

use pool_status::*;

type RangeFn = unsafe extern "C" fn(*mut c_void, usize, usize);

fn parallel_for(
    p: *mut pool_t,
    begin: usize,
    end: usize,
    grain: usize,
    body: RangeFn,
    ctx: *mut c_void,
) -> pool_status {
    unsafe { pool_parallel_for(p, begin, end, grain, Some(body), ctx) }
}

/// What a `cover` body saw: a hit count per index of `[begin, begin +
/// hits.len())`, every chunk, every thread, and indices outside the range.
struct Coverage {
    begin: usize,
    hits: Vec<AtomicU8>,
    chunks: Mutex<Vec<(usize, usize)>>,
    threads: Mutex<HashSet<ThreadId>>,
    outside: AtomicUsize,
}

impl Coverage {
    fn new(begin: usize, len: usize) -> Coverage {
        Coverage {
            begin,
            hits: (0..len).map(|_| AtomicU8::new(0)).collect(),
            chunks: Mutex::new(Vec::new()),
            threads: Mutex::new(HashSet::new()),
            outside: AtomicUsize::new(0),
        }
    }

    fn end(&self) -> usize {
        self.begin + self.hits.len()
    }

    /// Asserts: every index once, chunks disjoint and covering the range
    /// in order, each at least `grain` long but the last; returns the
    /// chunks, sorted.
    fn check(&self, grain: usize, what: &str) -> Vec<(usize, usize)> {
        assert_eq!(
            self.outside.load(SeqCst),
            0,
            "{what}: index outside the range"
        );
        for (i, h) in self.hits.iter().enumerate() {
            let n = h.load(SeqCst);
            assert_eq!(n, 1, "{what}: index {} ran {n} times", self.begin + i);
        }
        let mut chunks = self.chunks.lock().unwrap().clone();
        chunks.sort_unstable();
        let mut at = self.begin;
        for (i, &(b, e)) in chunks.iter().enumerate() {
            assert_eq!(b, at, "{what}: chunks overlap or leave a gap at {at}");
            assert!(b < e, "{what}: empty chunk {b}..{e}");
            if i + 1 < chunks.len() {
                assert!(
                    e - b >= grain,
                    "{what}: chunk {b}..{e} shorter than grain {grain}"
                );
            }
            at = e;
        }
        assert_eq!(at, self.end(), "{what}: chunks end at {at}");
        chunks
    }

    fn threads(&self) -> HashSet<ThreadId> {
        self.threads.lock().unwrap().clone()
    }
}

/// Body: `ctx` is a `&Coverage`.
unsafe extern "C" fn cover(ctx: *mut c_void, begin: usize, end: usize) {
    let c = unsafe { &*(ctx as *const Coverage) };
    for i in begin..end {
        match i.checked_sub(c.begin).and_then(|k| c.hits.get(k)) {
            Some(h) => {
                h.fetch_add(1, SeqCst);
            }
            None => {
                c.outside.fetch_add(1, SeqCst);
            }
        }
    }
    c.chunks.lock().unwrap().push((begin, end));
    c.threads.lock().unwrap().insert(thread::current().id());
}

/// Runs `cover` over `[begin, begin + len)` and checks it; returns the
/// coverage.
fn covered(p: *mut pool_t, begin: usize, len: usize, grain: usize, what: &str) -> Coverage {
    let c = Coverage::new(begin, len);
    assert_eq!(
        parallel_for(p, begin, begin + len, grain, cover, arg(&c)),
        POOL_OK,
        "{what}"
    );
    let chunks = c.check(grain, what);
    if len == 0 {
        assert!(chunks.is_empty(), "{what}: body called for an empty range");
    }
    c
}

#[test]
fn every_index_runs_exactly_once() {
    for (queue, block) in [(0, true), (0, false), (16, true), (usize::MAX, false)] {
        for cap in [1, 2, 4] {
            let p = new_pool(cap, block, false, queue);
            for len in [0, 1, 2, 3, 7, 97, 1009, 10_007] {
                for grain in [0, 1, 7, 64, 20_000] {
                    for begin in [0, 5] {
                        let what = format!(
                            "cap {cap} queue {queue} len {len} grain {grain} begin {begin}"
                        );
                        let c = covered(p, begin, len, grain, &what);
                        let n = c.chunks.lock().unwrap().len();
                        if grain == 0 {
                            assert!(n <= 4 * cap as usize, "{what}: {n} chunks for grain 0");
                        } else {
                            assert_eq!(n, len.div_ceil(grain), "{what}: chunk count");
                        }
                    }
                }
            }
            assert_eq!(wait(p), POOL_OK);
            free_pool(p);
        }
    }
}

#[test]
fn grain_zero_gives_a_few_chunks_per_worker() {
    let p = new_pool(2, true, true, 0);
    let c = covered(p, 0, 1_000_000, 0, "grain 0, cap 2");
    let chunks = c.chunks.lock().unwrap().len();
    assert!((2..=8).contains(&chunks), "{chunks} chunks");
    // Fewer indices than chunks wanted: one index each.
    let c = covered(p, 0, 3, 0, "grain 0, 3 indices");
    assert_eq!(c.chunks.lock().unwrap().len(), 3);
    free_pool(p);
}

#[test]
fn ranges_at_the_top_of_size_t() {
    let p = new_pool(2, true, false, 0);
    for (len, grain) in [(1, 0), (100, 0), (100, 3), (100, usize::MAX)] {
        covered(
            p,
            usize::MAX - len,
            len,
            grain,
            &format!("top, len {len} grain {grain}"),
        );
    }
    free_pool(p);
}

#[test]
fn helpers_run_chunks_beside_the_caller() {
    // Chunk 0 waits until another thread has started a chunk: whoever runs
    // it, the loop can only finish if a second thread took part.
    struct Meet {
        started: AtomicUsize,
        first_thread: Mutex<Option<ThreadId>>,
        other_thread_seen: Flag,
        timed_out: Flag,
    }
    unsafe extern "C" fn meet(ctx: *mut c_void, begin: usize, _end: usize) {
        let m = unsafe { &*(ctx as *const Meet) };
        m.started.fetch_add(1, SeqCst);
        let me = thread::current().id();
        {
            let mut first = m.first_thread.lock().unwrap();
            match *first {
                None => *first = Some(me),
                Some(t) if t != me => m.other_thread_seen.set(),
                Some(_) => {}
            }
        }
        if begin == 0 {
            let start = Instant::now();
            while !m.other_thread_seen.is_set() {
                if start.elapsed() > DEADLINE {
                    m.timed_out.set();
                    return;
                }
                thread::yield_now();
            }
        }
    }
    for queue in [0, usize::MAX] {
        let p = new_pool(2, true, true, queue);
        let m = Meet {
            started: AtomicUsize::new(0),
            first_thread: Mutex::new(None),
            other_thread_seen: Flag::new(),
            timed_out: Flag::new(),
        };
        let before = stats(p);
        let pp = PoolPtr::new(p);
        let ctx = arg(&m) as usize;
        let st = run_bounded("parallel_for on an idle pool", move || {
            parallel_for(pp.get(), 0, 2, 1, meet, ctx as *mut c_void)
        });
        assert_eq!(st, POOL_OK);
        assert!(
            !m.timed_out.is_set(),
            "queue {queue}: no second thread ran a chunk"
        );
        assert_eq!(m.started.load(SeqCst), 2);
        assert_eq!(wait(p), POOL_OK);
        // One helper task (capacity 2 - the caller), counted as a task.
        let after = stats(p);
        assert_eq!(after.submitted - before.submitted, 1);
        assert_eq!(after.completed - before.completed, 1);
        free_pool(p);
    }
}

/// A non-blocking pool whose every worker is held by a gated task: the
/// helpers are refused (hand-off) or queued behind the gate (queue), and
/// the caller runs every chunk alone.
#[test]
fn the_caller_runs_every_chunk_when_the_pool_is_busy() {
    for (cap, queue) in [(1, 0), (2, 0), (1, 4), (2, usize::MAX)] {
        let p = new_pool(cap, false, false, queue);
        let g = leak(Gated::new());
        for _ in 0..cap {
            assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
        }
        wait_until("every worker held", || g.started() == cap as usize);
        let c = leak(Coverage::new(0, 1000));
        let pp = PoolPtr::new(p);
        let caller = run_bounded("parallel_for on a busy pool", move || {
            let st = parallel_for(pp.get(), 0, 1000, 10, cover, arg(c));
            (st, thread::current().id())
        });
        assert_eq!(caller.0, POOL_OK);
        let what = format!("busy cap {cap} queue {queue}");
        assert_eq!(c.check(10, &what).len(), 100);
        assert_eq!(
            c.threads(),
            HashSet::from([caller.1]),
            "{what}: only the caller can have run chunks"
        );
        g.open();
        assert_eq!(wait(p), POOL_OK);
        // A queued helper ran after the gate opened and found nothing.
        assert_eq!(c.check(10, &what).len(), 100);
        free_pool(p);
    }
}

static LATE_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Body whose context is freed as soon as `pool_parallel_for` returns: a
/// helper calling it later would write freed memory (caught by valgrind
/// and ASan) and would count in `LATE_CALLS`.
unsafe extern "C" fn owned_body(ctx: *mut c_void, begin: usize, end: usize) {
    let calls = unsafe { &*(ctx as *const AtomicUsize) };
    calls.fetch_add(end - begin, SeqCst);
    LATE_CALLS.fetch_add(1, SeqCst);
}

#[test]
fn late_helpers_never_touch_the_body_or_its_context() {
    for (cap, prealloc) in [(2, true), (4, false)] {
        LATE_CALLS.store(0, SeqCst);
        let p = new_pool(cap, true, prealloc, usize::MAX);
        let g = leak(Gated::new());
        for _ in 0..cap {
            assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
        }
        wait_until("every worker held", || g.started() == cap as usize);
        let ctx = Box::into_raw(Box::new(AtomicUsize::new(0)));
        let st = parallel_for(p, 0, 1000, 10, owned_body, ctx.cast());
        assert_eq!(st, POOL_OK);
        // SAFETY: from Box::into_raw above; the pool must not use it now.
        let calls = unsafe { Box::from_raw(ctx) };
        assert_eq!(calls.load(SeqCst), 1000);
        drop(calls);
        assert_eq!(LATE_CALLS.load(SeqCst), 100);
        // The helpers (one less than the workers that can run at once:
        // the capacity, at most the CPUs) are still queued behind the
        // gated tasks.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let helpers = cap.min(cpus as i32) as u32 - 1;
        assert_eq!(stats(p).queued, helpers, "cap {cap}: queued helpers");
        g.open();
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(stats(p).queued, 0);
        assert_eq!(
            LATE_CALLS.load(SeqCst),
            100,
            "a late helper called the body"
        );
        free_pool(p);
    }
}

/// One level of nested loops: each index of this level runs the loop of
/// `next`, or counts a leaf at the last level.
struct Level {
    pool: PoolPtr,
    width: usize,
    grain: usize,
    next: Option<&'static Level>,
    leaves: &'static AtomicUsize,
    failed: &'static AtomicUsize,
}

unsafe extern "C" fn level_body(ctx: *mut c_void, begin: usize, end: usize) {
    let level = unsafe { &*(ctx as *const Level) };
    for _ in begin..end {
        match level.next {
            Some(next) => {
                let st = parallel_for(
                    level.pool.get(),
                    0,
                    next.width,
                    next.grain,
                    level_body,
                    arg(next),
                );
                if st != POOL_OK {
                    level.failed.fetch_add(1, SeqCst);
                }
            }
            None => {
                level.leaves.fetch_add(1, SeqCst);
            }
        }
    }
}

struct Root {
    top: &'static Level,
    done: AtomicUsize,
    failed: AtomicUsize,
}

/// Task: runs the top level's loop from a worker of the same pool.
unsafe extern "C" fn root_task(a: *mut c_void) {
    let r = unsafe { &*(a as *const Root) };
    let top = r.top;
    let st = parallel_for(
        top.pool.get(),
        0,
        top.width,
        top.grain,
        level_body,
        arg(top),
    );
    if st != POOL_OK {
        r.failed.fetch_add(1, SeqCst);
    }
    r.done.fetch_add(1, SeqCst);
}

/// Levels of the given `(width, grain)`, outermost first.
fn levels(
    p: *mut pool_t,
    shape: &[(usize, usize)],
    leaves: &'static AtomicUsize,
) -> &'static Level {
    let failed = leak(AtomicUsize::new(0));
    let mut next = None;
    for &(width, grain) in shape.iter().rev() {
        next = Some(leak(Level {
            pool: PoolPtr::new(p),
            width,
            grain,
            next,
            leaves,
            failed,
        }));
    }
    next.unwrap()
}

#[test]
fn nested_loops_from_tasks_do_not_deadlock() {
    // (width, grain) per level: a task's loop, and two levels inside it.
    let shape = [(4, 1), (3, 0), (5, 2)];
    let per_root: usize = shape.iter().map(|&(w, _)| w).product();
    for cap in [1, 2, 3] {
        for (queue, block) in [
            (0, true),
            (0, false),
            (1, true),
            (16, false),
            (usize::MAX, true),
        ] {
            let p = new_pool(cap, block, false, queue);
            let leaves = leak(AtomicUsize::new(0));
            let root = leak(Root {
                top: levels(p, &shape, leaves),
                done: AtomicUsize::new(0),
                failed: AtomicUsize::new(0),
            });
            // Several roots at once where the pool takes them.
            let mut accepted = 0;
            for _ in 0..cap + 1 {
                match schedule(p, root_task, arg(root)) {
                    POOL_OK => accepted += 1,
                    POOL_ERR_NO_IDLE_WORKER => {}
                    other => panic!("schedule: {other:?}"),
                }
            }
            assert!(accepted >= 1);
            let what = format!("cap {cap} queue {queue} block {block}");
            wait_until(&format!("{what}: every nested loop returned"), || {
                root.done.load(SeqCst) == accepted
            });
            assert_eq!(root.failed.load(SeqCst), 0, "{what}");
            assert_eq!(
                root.top.failed.load(SeqCst),
                0,
                "{what}: a nested loop failed"
            );
            assert_eq!(leaves.load(SeqCst), accepted * per_root, "{what}");
            assert_eq!(wait(p), POOL_OK);
            free_pool(p);
        }
    }
}

#[test]
fn nested_loops_from_outside_the_pool_do_not_deadlock() {
    // The outer loop's caller is not a worker; its helpers are, and they
    // run the inner loops.
    for (cap, queue) in [(1, 0), (2, 0), (2, usize::MAX), (4, 16)] {
        let p = new_pool(cap, true, false, queue);
        let leaves = leak(AtomicUsize::new(0));
        let top = levels(p, &[(6, 1), (4, 1), (3, 0)], leaves);
        let pp = PoolPtr::new(p);
        let ctx = arg(top) as usize;
        let st = run_bounded("nested parallel_for", move || {
            parallel_for(pp.get(), 0, 6, 1, level_body, ctx as *mut c_void)
        });
        assert_eq!(st, POOL_OK);
        assert_eq!(top.failed.load(SeqCst), 0);
        assert_eq!(leaves.load(SeqCst), 6 * 4 * 3, "cap {cap} queue {queue}");
        assert_eq!(wait(p), POOL_OK);
        free_pool(p);
    }
}

unsafe extern "C" fn never_called(ctx: *mut c_void, _begin: usize, _end: usize) {
    let calls = unsafe { &*(ctx as *const AtomicUsize) };
    calls.fetch_add(1, SeqCst);
}

#[test]
fn invalid_arguments_call_nothing() {
    let p = new_pool(2, true, false, 0);
    let calls = leak(AtomicUsize::new(0));
    let ctx = arg(calls);
    unsafe {
        assert_eq!(
            pool_parallel_for(std::ptr::null_mut(), 0, 10, 1, Some(never_called), ctx),
            POOL_ERR_INVALID
        );
        assert_eq!(pool_parallel_for(p, 0, 10, 1, None, ctx), POOL_ERR_INVALID);
        assert_eq!(
            pool_parallel_for(std::ptr::null_mut(), 0, 10, 1, None, ctx),
            POOL_ERR_INVALID
        );
        assert_eq!(
            pool_parallel_for(p, 11, 10, 1, Some(never_called), ctx),
            POOL_ERR_INVALID
        );
        assert_eq!(
            pool_parallel_for(p, usize::MAX, 0, 0, Some(never_called), ctx),
            POOL_ERR_INVALID
        );
        // Empty ranges: OK, nothing called, whatever the grain.
        for (b, grain) in [(0, 0), (7, 1), (usize::MAX, usize::MAX)] {
            assert_eq!(
                pool_parallel_for(p, b, b, grain, Some(never_called), ctx),
                POOL_OK
            );
        }
        // A NULL context is passed through as it is.
        unsafe extern "C" fn expects_null(ctx: *mut c_void, begin: usize, end: usize) {
            if ctx.is_null() {
                NULL_CTX_INDICES.fetch_add(end - begin, SeqCst);
            }
        }
        static NULL_CTX_INDICES: AtomicUsize = AtomicUsize::new(0);
        assert_eq!(
            pool_parallel_for(p, 0, 50, 3, Some(expects_null), std::ptr::null_mut()),
            POOL_OK
        );
        assert_eq!(NULL_CTX_INDICES.load(SeqCst), 50);
    }
    assert_eq!(calls.load(SeqCst), 0);
    let s = stats(p);
    assert_eq!(s.rejected, 0);
    free_pool(p);
}

/// A task calls `pool_parallel_for` over and over while another thread
/// frees the pool: the loops before `pool_free` began return `POOL_OK`
/// with every index run, the first after it `POOL_ERR_FREED` with nothing
/// called (empty range too); arguments are still checked first.
struct FreeRace {
    pool: PoolPtr,
    ok_calls: AtomicUsize,
    indices: AtomicUsize,
    freed: StatusCell,
    empty_when_freed: StatusCell,
    invalid_when_freed: StatusCell,
    gave_up: Flag,
}

unsafe extern "C" fn count_indices(ctx: *mut c_void, begin: usize, end: usize) {
    let r = unsafe { &*(ctx as *const FreeRace) };
    r.indices.fetch_add(end - begin, SeqCst);
}

unsafe extern "C" fn loop_until_freed(a: *mut c_void) {
    let r = unsafe { &*(a as *const FreeRace) };
    let start = Instant::now();
    loop {
        let before = r.indices.load(SeqCst);
        match parallel_for(r.pool.get(), 0, 64, 4, count_indices, a) {
            POOL_OK => {
                r.ok_calls.fetch_add(1, SeqCst);
            }
            other => {
                if r.indices.load(SeqCst) != before {
                    r.gave_up.set(); // body called by a refused loop
                }
                r.freed.set(other);
                break;
            }
        }
        if start.elapsed() > DEADLINE {
            r.gave_up.set();
            return;
        }
        thread::sleep(std::time::Duration::from_millis(1));
    }
    r.empty_when_freed
        .set(parallel_for(r.pool.get(), 3, 3, 1, count_indices, a));
    r.invalid_when_freed
        .set(parallel_for(r.pool.get(), 4, 3, 1, count_indices, a));
}

#[test]
fn freed_once_pool_free_began() {
    for queue in [0, usize::MAX] {
        let p = new_pool(2, true, false, queue);
        let race = leak(FreeRace {
            pool: PoolPtr::new(p),
            ok_calls: AtomicUsize::new(0),
            indices: AtomicUsize::new(0),
            freed: StatusCell::new(),
            empty_when_freed: StatusCell::new(),
            invalid_when_freed: StatusCell::new(),
            gave_up: Flag::new(),
        });
        assert_eq!(schedule(p, loop_until_freed, arg(race)), POOL_OK);
        wait_until("a few loops ran", || race.ok_calls.load(SeqCst) >= 3);
        // pool_free waits for the task, which ends once it sees FREED.
        let pp = PoolPtr::new(p);
        let st = run_bounded("pool_free beside a looping task", move || unsafe {
            pool_free(pp.get())
        });
        assert_eq!(st, POOL_OK);
        assert!(
            !race.gave_up.is_set(),
            "queue {queue}: the loop never saw FREED, or ran a refused body"
        );
        assert_eq!(race.freed.get(), Some(POOL_ERR_FREED));
        assert_eq!(race.empty_when_freed.get(), Some(POOL_ERR_FREED));
        assert_eq!(race.invalid_when_freed.get(), Some(POOL_ERR_INVALID));
        assert_eq!(race.indices.load(SeqCst), 64 * race.ok_calls.load(SeqCst));
    }
}

/// Many threads run loops on one pool at once, while its tasks do too.
#[test]
fn concurrent_loops_from_many_threads() {
    for queue in [0, usize::MAX] {
        let p = new_pool(3, true, false, queue);
        let pp = PoolPtr::new(p);
        let handles: Vec<_> = (0..4)
            .map(|t| {
                thread::spawn(move || {
                    for round in 0..50 {
                        let len = 1 + (t * 131 + round * 17) % 3000;
                        let grain = [0, 1, 5, 100][round % 4];
                        covered(
                            pp.get(),
                            round,
                            len,
                            grain,
                            &format!("thread {t} round {round}"),
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(wait(p), POOL_OK);
        free_pool(p);
    }
}
