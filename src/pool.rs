//! The safe Rust API: `Pool` and `Stats`.

use crate::sync::Arc;
use std::time::{Duration, Instant};

use crate::admission::WhenFull;
use crate::builder::{Builder, Config, clamp_capacity};
use crate::control::{ShutdownMode, ShutdownReport};
use crate::job::Job;
use crate::shared::Shared;
use crate::{Error, current};

/// A pool of worker threads running closures.
///
/// Dropping the pool stops admissions, runs every accepted task, and joins
/// every worker (each runs its exit hook) before returning.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let pool = workerpool::Builder::new().capacity(4).build().unwrap();
/// let count = Arc::new(AtomicUsize::new(0));
/// for _ in 0..100 {
///     let count = Arc::clone(&count);
///     pool.schedule(move || { count.fetch_add(1, Ordering::Relaxed); }).unwrap();
/// }
/// pool.wait().unwrap();
/// assert_eq!(count.load(Ordering::Relaxed), 100);
/// ```
pub struct Pool {
    shared: Arc<Shared>,
}

/// A snapshot of a pool's counters.
///
/// ```
/// let pool = workerpool::Pool::new(2).unwrap();
/// pool.schedule(|| ()).unwrap();
/// pool.wait().unwrap();
/// let s = pool.stats();
/// assert_eq!((s.submitted, s.completed, s.cancelled, s.paused), (1, 1, 0, false));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Maximum number of workers now.
    pub capacity: usize,
    /// Live worker threads.
    pub workers: usize,
    /// Workers running a task.
    pub busy: usize,
    /// Accepted tasks not yet started.
    pub queued: usize,
    /// Tasks accepted since the pool was built.
    pub submitted: u64,
    /// Tasks finished (a panicking task counts as finished).
    pub completed: u64,
    /// Schedules refused: no idle worker, timeout, or freed.
    pub rejected: u64,
    /// Tasks that panicked.
    pub panicked: u64,
    /// Accepted tasks removed unrun (cancelled or dropped by a shutdown
    /// that cancels).
    pub cancelled: u64,
    /// Whether the pool is paused.
    pub paused: bool,
}

impl Pool {
    /// A pool with `capacity` workers (clamped) and default options.
    ///
    /// ```
    /// let pool = workerpool::Pool::new(4).unwrap();
    /// assert_eq!(pool.stats().workers, 0); // lazy: started on demand
    /// ```
    pub fn new(capacity: usize) -> Result<Pool, Error> {
        Builder::new().capacity(capacity).build()
    }

    /// The same as [`Builder::new`].
    ///
    /// ```
    /// let pool = workerpool::Pool::builder().capacity(2).build().unwrap();
    /// assert_eq!(pool.stats().capacity, 2);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn from_config(capacity: usize, config: Config) -> Result<Pool, Error> {
        let prealloc = config.prealloc;
        let pool = Pool {
            shared: Arc::new(Shared::new(capacity, config)),
        };
        if prealloc {
            // On failure, dropping `pool` joins the workers already started.
            pool.shared.start_up_to_capacity(capacity)?;
        }
        Ok(pool)
    }

    /// Schedules `task`. A blocking pool waits for room; a non-blocking one
    /// fails with [`Error::NoIdleWorker`] when full. Called from a task of
    /// this pool that would have to wait, it runs `task` inline instead.
    ///
    /// A closure whose captures fit in two words (say an `Arc` and an
    /// index, or a function pointer and its argument) is stored in the
    /// queue as it is; a larger one costs one heap allocation (a `Box`).
    /// A task that is refused is dropped before the error returns.
    ///
    /// ```
    /// let pool = workerpool::Pool::new(2).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// pool.schedule(move || tx.send(1).unwrap()).unwrap();
    /// assert_eq!(rx.recv().unwrap(), 1);
    /// ```
    pub fn schedule(&self, task: impl FnOnce() + Send + 'static) -> Result<(), Error> {
        self.submit(Job::closure(task), self.blocking_policy())
    }

    /// Schedules `task` only if that needs no waiting.
    ///
    /// ```
    /// let pool = workerpool::Pool::new(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// pool.schedule(move || { let _ = rx.recv(); }).unwrap();
    /// assert_eq!(pool.try_schedule(|| ()), Err(workerpool::Error::NoIdleWorker));
    /// drop(tx);
    /// ```
    pub fn try_schedule(&self, task: impl FnOnce() + Send + 'static) -> Result<(), Error> {
        self.submit(Job::closure(task), WhenFull::Refuse)
    }

    /// Schedules `task`, waiting at most `timeout` for room.
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = workerpool::Pool::new(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// pool.schedule(move || { let _ = rx.recv(); }).unwrap();
    /// let late = pool.schedule_timeout(|| (), Duration::from_millis(10));
    /// assert_eq!(late, Err(workerpool::Error::Timeout));
    /// drop(tx);
    /// ```
    pub fn schedule_timeout(
        &self,
        task: impl FnOnce() + Send + 'static,
        timeout: Duration,
    ) -> Result<(), Error> {
        self.submit(Job::closure(task), timeout_policy(timeout))
    }

    pub(crate) fn blocking_policy(&self) -> WhenFull {
        self.shared.blocking_policy()
    }

    pub(crate) fn submit(&self, job: Job, when_full: WhenFull) -> Result<(), Error> {
        // SAFETY: `self` keeps the pool alive for the whole call.
        unsafe { Shared::submit(Arc::as_ptr(&self.shared), job, when_full) }
    }

    /// The pool's state, for a schedule that must not keep `self` borrowed
    /// past the hand-over of its task (the C API: `pool_free` may run as
    /// soon as the task is handed over).
    pub(crate) fn shared_ptr(&self) -> *const Shared {
        Arc::as_ptr(&self.shared)
    }

    /// Blocks until every task accepted before the call has finished, however
    /// many other threads schedule meanwhile. [`Error::Deadlock`] when called
    /// from one of this pool's workers; [`Error::Freed`] once the pool is
    /// shutting down (only reachable through the C API's `pool_free`: a
    /// `Pool` is shut down by dropping it).
    ///
    /// ```
    /// let pool = workerpool::Pool::new(2).unwrap();
    /// let handle = pool.spawn(|| 5).unwrap();
    /// pool.wait().unwrap();
    /// assert!(handle.is_finished());
    /// ```
    pub fn wait(&self) -> Result<(), Error> {
        self.shared.wait_accepted(None)
    }

    /// As [`Pool::wait`], waiting at most `timeout` ([`Duration::ZERO`]
    /// polls; a timeout too large to represent waits for ever):
    /// [`Error::Timeout`] if the tasks accepted before the call have not
    /// all finished by then.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = workerpool::Builder::new().capacity(2).build().unwrap();
    /// pool.schedule(|| std::thread::sleep(Duration::from_millis(50))).unwrap();
    /// assert_eq!(pool.wait_timeout(Duration::ZERO), Err(workerpool::Error::Timeout));
    /// assert_eq!(pool.wait_timeout(Duration::from_secs(60)), Ok(()));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.shared
            .wait_accepted(Instant::now().checked_add(timeout))
    }

    /// Changes the capacity (clamped like [`Builder::capacity`]). Growing lets
    /// waiting schedulers in; shrinking retires idle workers at once and busy
    /// ones after their current task.
    ///
    /// A shrink returns once the idle workers above the new capacity have
    /// left the counts ([`Stats::workers`]); it does not wait for busy
    /// workers, nor for a worker still in its `on_start` hook (which may be
    /// waiting for the caller): those leave after their task or hook.
    ///
    /// A preallocated pool that grows starts the new workers before
    /// returning; if the OS refuses a thread it returns [`Error::Spawn`],
    /// with the capacity changed and the workers already started kept.
    ///
    /// ```
    /// let pool = workerpool::Builder::new().capacity(4).prealloc(true).build().unwrap();
    /// pool.set_capacity(2).unwrap();
    /// assert_eq!(pool.stats().workers, 2);
    /// ```
    pub fn set_capacity(&self, capacity: usize) -> Result<(), Error> {
        self.shared.set_capacity(clamp_capacity(capacity))
    }

    /// Pauses the pool: workers start no task until [`Pool::resume`]
    /// (running ones finish). Schedules are accepted while the queue has
    /// room (a hand-off pool is full meanwhile), so they block, time out or
    /// are refused as on a full pool. Pausing twice is the same as once.
    ///
    /// ```
    /// let pool = workerpool::Builder::new().capacity(2).queue_size(8).build().unwrap();
    /// pool.pause().unwrap();
    /// pool.schedule(|| ()).unwrap();
    /// assert_eq!(pool.stats().queued, 1);
    /// pool.resume();
    /// pool.wait().unwrap();
    /// ```
    pub fn pause(&self) -> Result<(), Error> {
        self.shared.pause()
    }

    /// Resumes a paused pool (nothing if it is not paused).
    ///
    /// ```
    /// let pool = workerpool::Builder::new().queue_size(4).build().unwrap();
    /// pool.pause().unwrap();
    /// let handle = pool.spawn(|| 1).unwrap();
    /// assert!(!handle.is_finished());
    /// pool.resume();
    /// assert_eq!(handle.join().unwrap(), 1);
    /// ```
    pub fn resume(&self) {
        self.shared.resume();
    }

    /// Removes every task accepted and not yet started (they never run:
    /// their closures are dropped on the calling thread) and returns how
    /// many. Running tasks are not touched. In hand-off mode (queue size 0)
    /// no task waits, so none is removed.
    ///
    /// ```
    /// let pool = workerpool::Builder::new().queue_size(8).build().unwrap();
    /// pool.pause().unwrap();
    /// let handle = pool.spawn(|| 1).unwrap();
    /// assert_eq!(pool.cancel_queued(), 1);
    /// assert!(handle.join().unwrap_err().is::<workerpool::Cancelled>());
    /// ```
    pub fn cancel_queued(&self) -> u64 {
        self.shared.cancel_queued(drop)
    }

    /// Shuts the pool down as dropping it does, choosing what happens to
    /// the queued tasks (`mode`), and waits at most `timeout` for the
    /// running ones and for every worker to be joined. Schedules fail with
    /// [`Error::Freed`] from now on; no thread is ever killed. Returns the
    /// report once every worker is joined, or [`Error::Timeout`] with
    /// nothing else to say (call it again to wait longer: it reports what
    /// it cancels each time); [`Error::Deadlock`] from a worker of this
    /// pool. Dropping the pool afterwards waits for whatever still runs.
    ///
    /// ```
    /// use std::time::Duration;
    /// use workerpool::ShutdownMode;
    ///
    /// let pool = workerpool::Builder::new().capacity(1).queue_size(16).build().unwrap();
    /// pool.pause().unwrap();
    /// for _ in 0..5 {
    ///     pool.schedule(|| unreachable!("cancelled")).unwrap();
    /// }
    /// let report = pool.shutdown(ShutdownMode::Cancel, Duration::from_secs(60)).unwrap();
    /// assert_eq!(report.cancelled, 5);
    /// assert!(pool.schedule(|| ()).is_err());
    /// ```
    pub fn shutdown(&self, mode: ShutdownMode, timeout: Duration) -> Result<ShutdownReport, Error> {
        let deadline = Instant::now().checked_add(timeout);
        match self.shared.shutdown_within(mode, deadline, drop) {
            (Ok(()), report) => Ok(report),
            (Err(error), _) => Err(error),
        }
    }

    /// Calls `body(i)` for every `i` in `range`, exactly once, in parallel
    /// on the calling thread and the pool's workers, in chunks of at least
    /// `grain` indices (0: the pool chooses, a few chunks per worker), and
    /// returns once all ran (`pool_parallel_for`). Safe from a task of
    /// this pool (nested loops run). A panic of `body` is resumed here once
    /// every chunk finished. [`Error::Invalid`] for a reversed range,
    /// [`Error::Freed`] once the pool is shutting down.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let pool = workerpool::Pool::new(2).unwrap();
    /// let sum = AtomicU64::new(0);
    /// pool.for_each(0..1000, 0, |i| { sum.fetch_add(i as u64, Ordering::Relaxed); }).unwrap();
    /// assert_eq!(sum.into_inner(), 499_500);
    /// ```
    pub fn for_each(
        &self,
        range: std::ops::Range<usize>,
        grain: usize,
        body: impl Fn(usize) + Sync,
    ) -> Result<(), Error> {
        self.parallel_for_chunks(range, grain, |begin, end| (begin..end).for_each(&body))
    }

    /// As [`Pool::for_each`], calling `body` once per chunk with the
    /// chunk's range.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let pool = workerpool::Pool::new(2).unwrap();
    /// let seen = AtomicUsize::new(0);
    /// pool.for_each_chunk(0..100, 10, |chunk| {
    ///     assert!(chunk.len() >= 10);
    ///     seen.fetch_add(chunk.len(), Ordering::Relaxed);
    /// }).unwrap();
    /// assert_eq!(seen.into_inner(), 100);
    /// ```
    pub fn for_each_chunk(
        &self,
        range: std::ops::Range<usize>,
        grain: usize,
        body: impl Fn(std::ops::Range<usize>) + Sync,
    ) -> Result<(), Error> {
        self.parallel_for_chunks(range, grain, |begin, end| body(begin..end))
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A snapshot of the pool's counters.
    ///
    /// ```
    /// let pool = workerpool::Pool::new(2).unwrap();
    /// pool.schedule(|| ()).unwrap();
    /// pool.wait().unwrap();
    /// assert_eq!(pool.stats().completed, 1);
    /// ```
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Whether the calling thread is one of this pool's workers.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let pool = Arc::new(workerpool::Pool::new(1).unwrap());
    /// assert!(!pool.is_worker_thread());
    /// let inner = Arc::clone(&pool);
    /// assert!(pool.spawn(move || inner.is_worker_thread()).unwrap().join().unwrap());
    /// ```
    pub fn is_worker_thread(&self) -> bool {
        current::is_worker_of(&self.shared)
    }

    /// The gate of the C handle's calls (`gate.rs`).
    pub(crate) fn callers(&self) -> &crate::gate::Gate {
        &self.shared.callers
    }

    /// Stops admissions: schedulers waiting for room return [`Error::Freed`],
    /// as do later schedules. Accepted tasks still run. Used by the C layer
    /// before it waits for callers to leave.
    pub(crate) fn begin_close(&self) {
        self.shared.begin_close();
    }
}

pub(crate) fn timeout_policy(timeout: Duration) -> WhenFull {
    if timeout.is_zero() {
        return WhenFull::Expired;
    }
    // A deadline too far to represent waits for ever.
    WhenFull::Wait {
        deadline: Instant::now().checked_add(timeout),
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // A task holding the last handle would wait for itself to finish
        // and join its own thread: hand the shutdown to a helper thread,
        // which joins this worker once the task has returned.
        // If even that thread cannot be started, the last worker to leave
        // shuts the pool down (`Shared::owe_shutdown`).
        if current::is_worker_of(&self.shared) {
            self.shared.begin_close();
            let shared = Arc::clone(&self.shared);
            #[cfg(feature = "fault-injection")]
            if crate::fault::spawn_should_fail() {
                self.shared.owe_shutdown();
                return;
            }
            let reaper = std::thread::Builder::new()
                .name("workerpool-reaper".into())
                .spawn(move || shared.shutdown());
            if reaper.is_err() {
                self.shared.owe_shutdown();
            }
            return;
        }
        self.shared.shutdown();
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish()
    }
}
