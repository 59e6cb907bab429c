//! Parallel loops: a range cut into chunks, run by the calling thread and
//! by helper tasks on the pool's workers (`pool_parallel_for`,
//! `ffi/loops.rs`).
//!
//! # The loop
//!
//! `[begin, end)` is cut into `count` chunks of `grain` indices (the last
//! may be shorter): chunk `i` is `[begin + i * grain, ...)`. The caller
//! puts the loop's state (`Loop`) in an `Arc`, schedules up to
//! `min(capacity, CPUs, count) - 1` helper tasks that hold a clone of it, takes
//! chunks itself until none is left, then waits for the chunks that other
//! threads claimed and still run. Helpers are scheduled without waiting
//! (`WhenFull::Refuse`: never blocked, never run inline); a refused helper
//! (a full or closing pool) is simply not there, and one that is queued
//! behind busy workers (or a paused pool) may start long after the loop
//! is over. The loop does not depend on any helper ever starting: the
//! caller alone can run every chunk.
//!
//! # Claims and the invariant
//!
//! `next` hands out chunk indices: a `fetch_add(1)` that returns `i <
//! count` claims chunk `i` for the thread that made it; one that returns
//! `count` or more means every chunk is already claimed, and that thread
//! stops claiming. So each chunk is claimed exactly once, and the first
//! failed claim of any thread comes after every chunk was claimed.
//! `finished` counts chunks that have run: each thread adds how many it
//! ran once it stopped claiming.
//!
//! **Invariant: a thread calls the body only for a chunk it claimed, and
//! only before it adds that chunk to `finished`.** Every chunk is claimed
//! once and counted once, so `finished == count` means that every claimed
//! chunk has run to its end, and that every chunk is claimed: any later
//! claim fails and touches nothing but `next`. The caller returns (and the
//! borrow of the body ends) only after it has seen `finished == count`.
//! Hence the body is never called after the caller returned, whatever the
//! helpers do: a late helper finds nothing to claim, and its `Arc` keeps
//! alive only the state it touches (`next`, `finished`, the lock), never
//! the body, which the state holds as a pointer with its lifetime erased
//! (`Body`).
//!
//! Ordering: the additions to `finished` are `Release`, the caller's reads
//! `Acquire`: each addition comes after its thread's body calls and after
//! it stored a panic, and all additions form one release sequence on
//! `finished`, so seeing the total makes every body call, every write the
//! bodies made and every stored panic visible to the caller before it
//! returns. `next` is `Relaxed`: a claim needs only atomicity (each index
//! once); nothing is published through it (the chunks and the body are
//! written before the `Arc` is shared, and scheduling a helper publishes
//! them as it publishes any task's captures).
//!
//! # The wait, and why no wake-up is lost
//!
//! The thread whose addition makes `finished` reach `count` then takes
//! `lock` and notifies `all_done`. The caller reads `finished` while
//! holding `lock` and sleeps in `all_done`'s wait, which releases the lock
//! atomically. Either the finisher took the lock before the caller did,
//! and then its addition happened before the caller's read, which sees
//! the total; or after, and then the caller was already waiting (or had
//! seen the total), so the notification reaches it. Spurious wake-ups
//! re-read `finished`. This is off the per-chunk path: once per loop, and
//! only when the caller is not the last to finish.
//!
//! # Nested loops do not deadlock
//!
//! The caller never waits for a helper to start, only for chunks already
//! claimed, and a claimed chunk is running on the thread that claimed it.
//! A body that runs a loop of its own (on the same pool, from a worker)
//! waits in the same way only for chunks running on other threads; by
//! induction from the innermost loop, whose bodies wait for nothing, every
//! wait ends. (Bodies that wait for each other by other means are the
//! caller's business.)
//!
//! # Panics
//!
//! A Rust body's panic is caught on the thread that ran the chunk (a
//! worker lives on; the pool's panic handler and `Stats::panicked` do not
//! see it), the first payload is kept under `lock`, the other chunks still
//! run, and the caller resumes the panic once every chunk has finished. A
//! C body cannot unwind (`extern "C"` aborts instead). The caller itself
//! could unwind only while it schedules helpers (a bug of the pool's):
//! then it claims every chunk left without running it and waits for the
//! claimed ones (`Loop::abandon`) before it unwinds further, so the
//! invariant holds on that path too.

use std::any::Any;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::sync::PoisonError;

use crate::admission::WhenFull;
use crate::job::Job;
use crate::sync::{Arc, AtomicUsize, Condvar, Mutex, Ordering};
use crate::{Error, Pool};

/// Chunks per worker of capacity when the caller lets the pool choose the
/// grain (`grain == 0`): enough for a worker that finishes early to take
/// another, few enough that a claim costs nothing beside a chunk.
pub(crate) const CHUNKS_PER_WORKER: usize = 4;

/// The CPUs this process may run on (`available_parallelism`, read once).
fn cpus() -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// At most this many chunks: `next` runs past `count` by at most one per
/// claiming thread, so it can never wrap.
const MAX_CHUNKS: usize = usize::MAX / 2;

type Panic = Box<dyn Any + Send>;

/// How a non-empty range is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Chunks {
    begin: usize,
    len: usize,
    /// Indices per chunk (the last may be shorter); at least 1.
    grain: usize,
    /// `len.div_ceil(grain)`, at most `MAX_CHUNKS`.
    count: usize,
}

impl Chunks {
    /// `range` non-empty; `grain` 0 lets the pool choose for `workers`
    /// threads (about `CHUNKS_PER_WORKER` chunks each).
    fn new(range: Range<usize>, grain: usize, workers: usize) -> Chunks {
        let len = range.end - range.start;
        debug_assert!(len > 0);
        let grain = if grain == 0 {
            len.div_ceil(workers.saturating_mul(CHUNKS_PER_WORKER).max(1))
        } else {
            grain
        };
        // A larger grain keeps every chunk at least `grain` long.
        let grain = grain.max(len.div_ceil(MAX_CHUNKS)).max(1);
        Chunks {
            begin: range.start,
            len,
            grain,
            count: len.div_ceil(grain),
        }
    }

    /// Chunk `index` (`< count`) as `(begin, end)`. `index * grain < len`
    /// for every valid index, so nothing overflows.
    fn get(&self, index: usize) -> (usize, usize) {
        debug_assert!(index < self.count);
        let offset = index * self.grain;
        let begin = self.begin + offset;
        (begin, begin + self.grain.min(self.len - offset))
    }
}

/// The loop's body with its lifetime erased, so that the state helper
/// tasks (`'static`) hold can point at it. Called only under a claim (the
/// module's invariant), which keeps the borrow it came from alive.
struct Body {
    data: *const (),
    call: unsafe fn(*const (), usize, usize),
}

/// # Safety
/// `data` is a `&F` still borrowed.
unsafe fn call_body<F: Fn(usize, usize) + Sync>(data: *const (), begin: usize, end: usize) {
    // SAFETY: the caller's contract.
    let body = unsafe { &*data.cast::<F>() };
    body(begin, end);
}

/// What the caller and its helpers share.
struct Loop {
    chunks: Chunks,
    /// The next chunk to claim.
    next: AtomicUsize,
    /// Chunks that have run.
    finished: AtomicUsize,
    body: Body,
    /// The first panic of a body; also the lock the caller sleeps under.
    lock: Mutex<Option<Panic>>,
    all_done: Condvar,
}

// SAFETY: the only field that is not `Send` and `Sync` on its own is
// `body`, a pointer to an `F: Sync` (so `&F` may be used from any thread),
// dereferenced only under a claim, while the borrow it came from is alive
// (the module's invariant).
unsafe impl Send for Loop {}
// SAFETY: as for `Send`.
unsafe impl Sync for Loop {}

impl Loop {
    fn new<F: Fn(usize, usize) + Sync>(chunks: Chunks, body: &F) -> Loop {
        Loop {
            chunks,
            next: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            body: Body {
                data: (body as *const F).cast(),
                call: call_body::<F>,
            },
            lock: Mutex::new(None),
            all_done: Condvar::new(),
        }
    }

    /// Claims and runs chunks until none is left; returns how many it ran.
    fn run_chunks(&self) -> usize {
        let mut ran = 0;
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            if index >= self.chunks.count {
                return ran;
            }
            let (begin, end) = self.chunks.get(index);
            let result = panic::catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: chunk `index` is claimed and not yet counted in
                // `finished`, so the caller has not returned and the body
                // it borrowed is alive (the module's invariant); `call` is
                // `call_body` for the body's own type.
                unsafe { (self.body.call)(self.body.data, begin, end) }
            }));
            if let Err(payload) = result {
                let mut first = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                first.get_or_insert(payload);
            }
            ran += 1;
        }
    }

    /// Counts `ran` chunks as finished; the thread that finishes the last
    /// one wakes the caller.
    fn finish(&self, ran: usize) {
        if ran == 0 {
            return;
        }
        let before = self.finished.fetch_add(ran, Ordering::Release);
        if before + ran == self.chunks.count {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.all_done.notify_all();
        }
    }

    /// A helper task: runs what it can claim (maybe nothing).
    fn help(&self) {
        let ran = self.run_chunks();
        self.finish(ran);
    }

    /// The caller's part, once its helpers are scheduled: runs what it can
    /// claim, then waits until every chunk has finished; returns the first
    /// panic, if any.
    fn run_as_caller(&self) -> Option<Panic> {
        let ran = self.run_chunks();
        self.finish(ran);
        self.wait_finished()
    }

    /// The caller unwinds before it could take part (a panic while it
    /// scheduled helpers: a bug of the pool's, never the body's): claims
    /// every chunk left without running it, counts those as finished, and
    /// waits for the chunks helpers already claimed, so that no helper
    /// calls the body once the caller's frame is gone.
    fn abandon(&self) {
        let first_left = self.next.swap(self.chunks.count, Ordering::Relaxed);
        self.finish(self.chunks.count.saturating_sub(first_left));
        drop(self.wait_finished());
    }

    /// The caller, once it found nothing left to claim: waits until every
    /// chunk has finished and returns the first panic, if any.
    fn wait_finished(&self) -> Option<Panic> {
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while self.finished.load(Ordering::Acquire) < self.chunks.count {
            guard = self
                .all_done
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
        guard.take()
    }
}

impl Pool {
    /// Calls `body(b, e)` on disjoint chunks covering `range` exactly once,
    /// each at least `grain` long except the last (`grain` 0: about
    /// `CHUNKS_PER_WORKER` chunks per worker that can run at once: the
    /// capacity, at most the CPUs), from the calling thread and from up to
    /// that many workers less one helper tasks; returns once
    /// every chunk has run. Safe from a worker of this pool (see the module
    /// docs). A panic of `body` is resumed here once every chunk finished.
    ///
    /// [`Error::Invalid`] when `range.start > range.end`; [`Error::Freed`]
    /// once the pool is closing (then `body` is not called). An empty range
    /// calls nothing. The C ABI's `pool_parallel_for`; not yet public in
    /// the Rust API.
    pub(crate) fn parallel_for_chunks<F>(
        &self,
        range: Range<usize>,
        grain: usize,
        body: F,
    ) -> Result<(), Error>
    where
        F: Fn(usize, usize) + Sync,
    {
        if range.start > range.end {
            return Err(Error::Invalid);
        }
        let shared = self.shared();
        if shared.is_closing() {
            return Err(Error::Freed);
        }
        if range.is_empty() {
            return Ok(());
        }
        // Workers that can run at once: the capacity, but no more than
        // the CPUs (a lazy pool of the default 100 would otherwise start
        // 99 threads for one loop).
        let workers = usize::try_from(shared.cap())
            .unwrap_or(usize::MAX)
            .min(cpus())
            .max(1);
        let chunks = Chunks::new(range, grain, workers);
        if chunks.count == 1 {
            // Nothing to share: no state, no helper.
            body(chunks.begin, chunks.begin + chunks.len);
            return Ok(());
        }
        let state = Arc::new(Loop::new(chunks, &body));
        // Helpers may already run the body while this thread schedules the
        // next: it must not unwind past them (`abandon`).
        let scheduled = panic::catch_unwind(AssertUnwindSafe(|| {
            self.schedule_helpers(&state, workers.min(chunks.count) - 1)
        }));
        if let Err(payload) = scheduled {
            state.abandon();
            panic::resume_unwind(payload);
        }
        if let Some(payload) = state.run_as_caller() {
            panic::resume_unwind(payload);
        }
        Ok(())
    }

    /// Schedules up to `helpers` helper tasks of `state` without waiting;
    /// stops at the first refusal (a full or closing pool: the caller does
    /// the rest) or once every chunk is claimed.
    fn schedule_helpers(&self, state: &Arc<Loop>, helpers: usize) {
        for _ in 0..helpers {
            if state.next.load(Ordering::Relaxed) >= state.chunks.count {
                break; // A helper would find nothing.
            }
            let helper = Arc::clone(state);
            // One word of captures: kept in place in the job, no allocation.
            // A task of the pool's own: a cancel drops it as done (the loop
            // never depends on a helper), unreported.
            let job = Job::internal(move || helper.help());
            if self.submit(job, WhenFull::Refuse).is_err() {
                break;
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::{Builder, UNBOUNDED};
    use std::sync::atomic::AtomicU8;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Every chunk of `Chunks::new(0..len, grain, workers)`.
    fn all_chunks(len: usize, grain: usize, workers: usize) -> Vec<(usize, usize)> {
        let c = Chunks::new(0..len, grain, workers);
        (0..c.count).map(|i| c.get(i)).collect()
    }

    #[test]
    fn chunks_cover_the_range_in_order_and_respect_the_grain() {
        for len in [1, 2, 3, 7, 31, 100, 1000, 4099] {
            for grain in [0, 1, 2, 5, 64, 5000] {
                for workers in [1, 2, 3, 100] {
                    let chunks = all_chunks(len, grain, workers);
                    let mut at = 0;
                    for (i, &(b, e)) in chunks.iter().enumerate() {
                        assert_eq!(b, at, "len {len} grain {grain}: gap or overlap");
                        assert!(e > b);
                        if i + 1 < chunks.len() && grain > 0 {
                            assert!(e - b >= grain, "len {len} grain {grain}: short chunk");
                        }
                        at = e;
                    }
                    assert_eq!(at, len);
                    if grain == 0 {
                        assert!(chunks.len() <= workers * CHUNKS_PER_WORKER);
                    }
                }
            }
        }
    }

    #[test]
    fn grain_zero_aims_at_four_chunks_per_worker() {
        assert_eq!(all_chunks(10_000_000, 0, 2).len(), 8);
        assert_eq!(all_chunks(1000, 0, 100).len(), 334); // grain 3
        assert_eq!(all_chunks(5, 0, 100).len(), 5); // at least one index each
    }

    #[test]
    fn huge_ranges_do_not_overflow() {
        let c = Chunks::new(1..usize::MAX, 1, 2);
        assert!(c.count <= MAX_CHUNKS);
        let (b, e) = c.get(c.count - 1);
        assert!(b < e && e == usize::MAX);
        let c = Chunks::new(usize::MAX - 10..usize::MAX, usize::MAX, 2);
        assert_eq!((c.count, c.get(0)), (1, (usize::MAX - 10, usize::MAX)));
    }

    fn check_every_index_once(pool: &Pool, len: usize, grain: usize) {
        let seen: Vec<AtomicU8> = (0..len).map(|_| AtomicU8::new(0)).collect();
        pool.parallel_for_chunks(0..len, grain, |b, e| {
            for hit in &seen[b..e] {
                hit.fetch_add(1, Ordering::Relaxed);
            }
        })
        .unwrap();
        assert!(seen.iter().all(|s| s.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn every_index_runs_once_in_every_mode() {
        for queue in [0, 4, UNBOUNDED] {
            for capacity in [1, 2, 4] {
                let pool = Builder::new()
                    .capacity(capacity)
                    .queue_size(queue)
                    .build()
                    .unwrap();
                for len in [0, 1, 2, 97, 10_007] {
                    for grain in [0, 1, 13, 100_000] {
                        check_every_index_once(&pool, len, grain);
                    }
                }
            }
        }
    }

    /// `abandon` runs no chunk itself, and returns only once the chunk a
    /// helper is running has finished.
    #[test]
    fn abandon_waits_for_claimed_chunks_and_runs_no_other() {
        let ran = [(); 4].map(|_| AtomicUsize::new(0));
        let (release, held) = mpsc::channel::<()>();
        let (started_tx, started) = mpsc::channel();
        let held = std::sync::Mutex::new(held);
        let body = |b: usize, _e: usize| {
            if b == 0 {
                started_tx.send(()).unwrap();
                let _ = held.lock().unwrap().recv_timeout(Duration::from_secs(60));
            }
            ran[b].fetch_add(1, Ordering::SeqCst);
        };
        let state = Loop::new(Chunks::new(0..4, 1, 4), &body);
        std::thread::scope(|s| {
            // A helper claims chunk 0 and is held inside it.
            let helper = s.spawn(|| {
                let index = state.next.fetch_add(1, Ordering::Relaxed);
                assert_eq!(index, 0);
                body(0, 1);
                state.finish(1);
            });
            started.recv_timeout(Duration::from_secs(60)).unwrap();
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                drop(release);
            });
            state.abandon();
            assert_eq!(
                ran[0].load(Ordering::SeqCst),
                1,
                "returned before chunk 0 ended"
            );
            helper.join().unwrap();
        });
        assert_eq!(
            ran.each_ref().map(|r| r.load(Ordering::SeqCst)),
            [1, 0, 0, 0]
        );
        state.help(); // A late helper: nothing left.
        assert_eq!(
            ran.each_ref().map(|r| r.load(Ordering::SeqCst)),
            [1, 0, 0, 0]
        );
    }

    #[test]
    fn a_reversed_range_is_invalid_and_calls_nothing() {
        let pool = Pool::new(2).unwrap();
        #[allow(clippy::reversed_empty_ranges)]
        let r = pool.parallel_for_chunks(5..4, 1, |_, _| panic!("called"));
        assert_eq!(r, Err(Error::Invalid));
    }

    #[test]
    fn a_closing_pool_refuses_and_calls_nothing() {
        let pool = Pool::new(2).unwrap();
        pool.begin_close();
        let r = pool.parallel_for_chunks(0..10, 1, |_, _| panic!("called"));
        assert_eq!(r, Err(Error::Freed));
        // Empty or not: closing is reported first.
        assert_eq!(
            pool.parallel_for_chunks(0..0, 1, |_, _| ()),
            Err(Error::Freed)
        );
    }

    /// A body's panic reaches the caller after every chunk ran, and the
    /// workers that caught it live on.
    #[test]
    fn a_panic_is_resumed_on_the_caller_after_every_chunk() {
        let pool = Builder::new().capacity(2).prealloc(true).build().unwrap();
        for panicking in [0, 5, 9] {
            let ran = AtomicUsize::new(0);
            let result = panic::catch_unwind(AssertUnwindSafe(|| {
                pool.parallel_for_chunks(0..10, 1, |b, _| {
                    ran.fetch_add(1, Ordering::SeqCst);
                    if b == panicking {
                        panic!("chunk {b}");
                    }
                })
            }));
            let payload = result.expect_err("the panic must reach the caller");
            assert_eq!(
                payload.downcast_ref::<String>().unwrap(),
                &format!("chunk {panicking}")
            );
            assert_eq!(ran.load(Ordering::SeqCst), 10);
        }
        assert_eq!(pool.stats().workers, 2);
        assert_eq!(pool.stats().panicked, 0);
        check_every_index_once(&pool, 1000, 1);
    }

    #[test]
    fn nested_loops_from_workers_do_not_deadlock() {
        for (capacity, queue) in [(1, 0), (2, 0), (1, UNBOUNDED), (2, 1), (3, UNBOUNDED)] {
            let pool = Builder::new()
                .capacity(capacity)
                .queue_size(queue)
                .build()
                .unwrap();
            let pool = Arc::new(pool);
            let count = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = mpsc::channel();
            let (p, c) = (Arc::clone(&pool), Arc::clone(&count));
            pool.schedule(move || {
                p.parallel_for_chunks(0..8, 1, |_, _| {
                    p.parallel_for_chunks(0..8, 1, |_, _| {
                        p.parallel_for_chunks(0..8, 0, |b, e| {
                            c.fetch_add(e - b, Ordering::SeqCst);
                        })
                        .unwrap();
                    })
                    .unwrap();
                })
                .unwrap();
                tx.send(()).unwrap();
            })
            .unwrap();
            rx.recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("capacity {capacity} queue {queue}: deadlock"));
            assert_eq!(count.load(Ordering::SeqCst), 8 * 8 * 8);
            pool.wait().unwrap();
        }
    }

    /// Helpers queued behind busy workers start only after the loop
    /// returned: they find nothing to claim and never call the body.
    #[test]
    fn late_helpers_never_call_the_body() {
        let pool = Builder::new()
            .capacity(2)
            .queue_size(UNBOUNDED)
            .prealloc(true)
            .build()
            .unwrap();
        let (started_tx, started) = mpsc::channel();
        let mut releases = Vec::new();
        for _ in 0..2 {
            let (release, blocked) = mpsc::channel::<()>();
            releases.push(release);
            let started_tx = started_tx.clone();
            pool.schedule(move || {
                started_tx.send(()).unwrap();
                let _ = blocked.recv_timeout(Duration::from_secs(60));
            })
            .unwrap();
        }
        for _ in 0..2 {
            started.recv_timeout(Duration::from_secs(60)).unwrap();
        }
        let calls = AtomicUsize::new(0);
        pool.parallel_for_chunks(0..100, 1, |_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 100);
        assert_eq!(pool.stats().queued, 1, "the one helper waits in the queue");
        drop(releases); // The blocked tasks end; the helper runs, finds nothing.
        pool.wait().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 100);
        assert_eq!(pool.stats().completed, 3);
    }
}

/// Model checks of the claim / finish / wait protocol:
/// `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::sync::{AtomicBool, UnsafeCell, loom_model};

    /// One plain (non-atomic) cell per index, written by the bodies: loom
    /// reports any access not ordered by happens-before.
    struct Cells([UnsafeCell<usize>; 3]);

    // SAFETY: each cell is written by the chunk holding its index (chunks
    // are disjoint) and read by the caller after the loop: exactly what
    // the models check.
    unsafe impl Sync for Cells {}

    /// A loop of `len` indices in chunks of 1 on the calling thread and
    /// `helpers` helper threads (any of which may start only after the
    /// caller returned): every index runs once, the caller sees every
    /// write once it returned, no body runs after that, and no wake-up is
    /// lost (loom reports a thread left asleep as a deadlock).
    fn check(len: usize, helpers: usize) {
        loom_model().check(move || {
            let cells = Arc::new(Cells(std::array::from_fn(|_| UnsafeCell::new(0))));
            let returned = Arc::new(AtomicBool::new(false));
            let late = Arc::new(AtomicUsize::new(0));
            let body = {
                let (cells, returned, late) =
                    (Arc::clone(&cells), Arc::clone(&returned), Arc::clone(&late));
                move |begin: usize, end: usize| {
                    if returned.load(Ordering::Relaxed) {
                        late.fetch_add(1, Ordering::Relaxed);
                    }
                    for i in begin..end {
                        // SAFETY: index `i` belongs to this chunk only.
                        cells.0[i].with_mut(|p| unsafe { *p += 1 });
                    }
                }
            };
            let state = Arc::new(Loop::new(Chunks::new(0..len, 1, 1), &body));
            let threads: Vec<_> = (0..helpers)
                .map(|_| {
                    let state = Arc::clone(&state);
                    loom::thread::spawn(move || state.help())
                })
                .collect();
            assert!(state.run_as_caller().is_none());
            for cell in &cells.0[..len] {
                // SAFETY: every chunk has finished (what is checked).
                assert_eq!(cell.with(|p| unsafe { *p }), 1);
            }
            returned.store(true, Ordering::Relaxed);
            for thread in threads {
                thread.join().unwrap();
            }
            assert_eq!(late.load(Ordering::Relaxed), 0, "a body ran after return");
        });
    }

    #[test]
    fn loom_parallel_for_two_chunks_two_helpers() {
        check(2, 2);
    }

    #[test]
    fn loom_parallel_for_three_chunks_one_helper() {
        check(3, 1);
    }
}
