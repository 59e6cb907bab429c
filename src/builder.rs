//! The safe options builder: the Rust face of `pool_options_t`.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::{Error, Pool};

/// Capacity used when none (or zero) is given, as in the Go original.
///
/// ```
/// let pool = workerpool::Builder::new().capacity(0).build().unwrap();
/// assert_eq!(pool.stats().capacity, workerpool::DEFAULT_CAPACITY);
/// ```
pub const DEFAULT_CAPACITY: usize = 100;
/// The largest capacity a pool accepts; larger requests are clamped.
///
/// ```
/// assert_eq!(workerpool::clamp_capacity(1 << 20), workerpool::MAX_CAPACITY);
/// ```
pub const MAX_CAPACITY: usize = 10_000;
/// The largest stack size accepted (1 TiB); larger values are `Error::Invalid`.
///
/// ```
/// let too_big = workerpool::MAX_STACK_SIZE + 1;
/// assert!(workerpool::Builder::new().stack_size(too_big).is_err());
/// ```
pub const MAX_STACK_SIZE: usize = 1 << 40;
/// `queue_size` meaning "no limit".
///
/// ```
/// let pool = workerpool::Builder::new()
///     .capacity(1)
///     .queue_size(workerpool::UNBOUNDED)
///     .build()
///     .unwrap();
/// for _ in 0..1000 {
///     pool.try_schedule(|| ()).unwrap(); // never refused: the queue has no limit
/// }
/// ```
pub const UNBOUNDED: usize = usize::MAX;

pub(crate) type Hook = Arc<dyn Fn() + Send + Sync>;
pub(crate) type PanicHandler = Arc<dyn Fn(Box<dyn Any + Send>) + Send + Sync>;

/// Clamps a requested capacity the way `pool_new` does: 0 gives 100, more
/// than 10,000 gives 10,000.
///
/// ```
/// assert_eq!(workerpool::clamp_capacity(0), 100);
/// assert_eq!(workerpool::clamp_capacity(8), 8);
/// assert_eq!(workerpool::clamp_capacity(50_000), 10_000);
/// ```
pub fn clamp_capacity(requested: usize) -> usize {
    match requested {
        0 => DEFAULT_CAPACITY,
        n => n.min(MAX_CAPACITY),
    }
}

/// Everything a pool needs to know about itself once built; immutable.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) block: bool,
    pub(crate) prealloc: bool,
    /// Tasks that may wait beyond one per worker; `u64::MAX` is unbounded.
    pub(crate) queue_limit: u64,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) stack_size: Option<usize>,
    pub(crate) thread_name: String,
    pub(crate) on_start: Option<Hook>,
    pub(crate) on_exit: Option<Hook>,
    pub(crate) panic_handler: Option<PanicHandler>,
}

/// Configures and builds a [`Pool`]. Defaults: capacity 100, blocking, lazy
/// workers, direct hand-off (no queue), workers never expire, platform stack
/// size, threads named `workerpool-<n>`.
///
/// ```
/// use std::time::Duration;
/// let pool = workerpool::Builder::new()
///     .capacity(4)
///     .queue_size(64)
///     .idle_timeout(Duration::from_secs(30))
///     .thread_name("render")
///     .unwrap()
///     .build()
///     .unwrap();
/// pool.schedule(|| ()).unwrap();
/// ```
#[derive(Clone)]
pub struct Builder {
    capacity: usize,
    config: Config,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            capacity: DEFAULT_CAPACITY,
            config: Config {
                block: true,
                prealloc: false,
                queue_limit: 0,
                idle_timeout: None,
                stack_size: None,
                thread_name: "workerpool".to_owned(),
                on_start: None,
                on_exit: None,
                panic_handler: None,
            },
        }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("capacity", &self.capacity)
            .field("block", &self.config.block)
            .field("prealloc", &self.config.prealloc)
            .field("queue_limit", &self.config.queue_limit)
            .field("idle_timeout", &self.config.idle_timeout)
            .field("stack_size", &self.config.stack_size)
            .field("thread_name", &self.config.thread_name)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A builder with the defaults: capacity 100, blocking, lazy workers,
    /// hand-off (queue size 0), no idle expiry, the platform's stack size,
    /// threads named `workerpool-<n>`, no hooks.
    ///
    /// ```
    /// let pool = workerpool::Builder::new().capacity(2).build().unwrap();
    /// assert_eq!(pool.stats().capacity, 2);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Maximum number of workers; clamped by [`clamp_capacity`].
    ///
    /// ```
    /// let pool = workerpool::Builder::new().capacity(20_000).build().unwrap();
    /// assert_eq!(pool.stats().capacity, workerpool::MAX_CAPACITY);
    /// ```
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = clamp_capacity(capacity);
        self
    }

    /// Whether `Pool::schedule` waits for room (true) or fails at once with
    /// [`Error::NoIdleWorker`] (false).
    ///
    /// ```
    /// let pool = workerpool::Builder::new().capacity(1).block(false).build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// pool.schedule(move || { let _ = rx.recv(); }).unwrap();
    /// assert_eq!(pool.schedule(|| ()), Err(workerpool::Error::NoIdleWorker));
    /// drop(tx);
    /// ```
    pub fn block(mut self, block: bool) -> Self {
        self.config.block = block;
        self
    }

    /// Start every worker in `build` instead of on demand: `build` returns
    /// once every thread runs under its name (it does not wait for their
    /// `on_start` hooks).
    ///
    /// ```
    /// let pool = workerpool::Builder::new().capacity(3).prealloc(true).build().unwrap();
    /// assert_eq!(pool.stats().workers, 3);
    /// ```
    pub fn prealloc(mut self, prealloc: bool) -> Self {
        self.config.prealloc = prealloc;
        self
    }

    /// How many accepted tasks may wait for a worker once all `capacity`
    /// workers are busy: 0 (the default) is direct hand-off, [`UNBOUNDED`]
    /// has no limit.
    ///
    /// ```
    /// let pool = workerpool::Builder::new().capacity(1).queue_size(2).block(false).build().unwrap();
    /// pool.pause().unwrap(); // nothing starts: only the queue's room counts
    /// assert!(pool.schedule(|| ()).is_ok() && pool.schedule(|| ()).is_ok());
    /// assert_eq!(pool.schedule(|| ()), Err(workerpool::Error::NoIdleWorker));
    /// pool.resume();
    /// ```
    pub fn queue_size(mut self, n: usize) -> Self {
        self.config.queue_limit = if n == UNBOUNDED { u64::MAX } else { n as u64 };
        self
    }

    /// A worker idle for longer than this exits; `Duration::ZERO` (the
    /// default) keeps workers forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = workerpool::Builder::new().idle_timeout(Duration::from_millis(10)).build().unwrap();
    /// pool.schedule(|| ()).unwrap();
    /// pool.wait().unwrap();
    /// while pool.stats().workers > 0 {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = (!timeout.is_zero()).then_some(timeout);
        self
    }

    /// Stack size of every worker thread; 0 means the platform default
    /// (pthread's: on Linux, `RLIMIT_STACK`, usually 8 MiB). Sizes under
    /// the platform minimum are rounded up; sizes above [`MAX_STACK_SIZE`]
    /// are refused. Each stack has a guard page below it.
    ///
    /// ```
    /// let pool = workerpool::Builder::new().stack_size(256 * 1024).unwrap().build().unwrap();
    /// pool.schedule(|| ()).unwrap();
    /// assert!(workerpool::Builder::new().stack_size(usize::MAX).is_err());
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Result<Self, Error> {
        if bytes > MAX_STACK_SIZE {
            return Err(Error::Invalid);
        }
        self.config.stack_size = (bytes != 0).then_some(bytes);
        Ok(self)
    }

    /// Threads are named `<prefix>-<n>` (n counts from 0 per pool). Linux
    /// keeps the first 15 bytes of a thread name (cut on a character
    /// boundary). An empty prefix or one with
    /// a NUL byte is refused. The name is the OS thread's (what `top`, gdb
    /// and perf show); workers are not `std::thread`s, so
    /// `std::thread::current().name()` is `None` on them.
    ///
    /// ```
    /// let pool = workerpool::Builder::new().thread_name("io").unwrap().build().unwrap();
    /// pool.schedule(|| ()).unwrap(); // runs on the thread "io-0"
    /// assert!(workerpool::Builder::new().thread_name("").is_err());
    /// ```
    pub fn thread_name(mut self, prefix: &str) -> Result<Self, Error> {
        if prefix.is_empty() || prefix.contains('\0') {
            return Err(Error::Invalid);
        }
        self.config.thread_name = prefix.to_owned();
        Ok(self)
    }

    /// Runs on every worker thread before its first task.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&started);
    /// let pool = workerpool::Builder::new()
    ///     .capacity(2)
    ///     .on_thread_start(move || { counter.fetch_add(1, Ordering::SeqCst); })
    ///     .build()
    ///     .unwrap();
    /// pool.schedule(|| ()).unwrap();
    /// pool.wait().unwrap();
    /// assert_eq!(started.load(Ordering::SeqCst), 1);
    /// ```
    pub fn on_thread_start(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.config.on_start = Some(Arc::new(hook));
        self
    }

    /// Runs on every worker thread after its last task, including workers
    /// that expire or retire; all have returned when the pool is dropped.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let exited = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&exited);
    /// let pool = workerpool::Builder::new()
    ///     .capacity(2)
    ///     .prealloc(true)
    ///     .on_thread_exit(move || { counter.fetch_add(1, Ordering::SeqCst); })
    ///     .build()
    ///     .unwrap();
    /// drop(pool);
    /// assert_eq!(exited.load(Ordering::SeqCst), 2);
    /// ```
    pub fn on_thread_exit(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.config.on_exit = Some(Arc::new(hook));
        self
    }

    /// Called on the worker with the payload of a task that panicked. Without
    /// one the payload is dropped; either way the worker lives on and the
    /// panic is counted in [`crate::Stats::panicked`].
    ///
    /// ```
    /// let pool = workerpool::Builder::new()
    ///     .panic_handler(|payload| eprintln!("task panicked: {:?}", payload.downcast_ref::<&str>()))
    ///     .build()
    ///     .unwrap();
    /// pool.schedule(|| panic!("oops")).unwrap();
    /// pool.wait().unwrap();
    /// assert_eq!(pool.stats().panicked, 1);
    /// ```
    pub fn panic_handler(
        mut self,
        handler: impl Fn(Box<dyn Any + Send>) + Send + Sync + 'static,
    ) -> Self {
        self.config.panic_handler = Some(Arc::new(handler));
        self
    }

    /// Installs hooks already shared (used by the C layer).
    pub(crate) fn hooks(mut self, on_start: Option<Hook>, on_exit: Option<Hook>) -> Self {
        self.config.on_start = on_start;
        self.config.on_exit = on_exit;
        self
    }

    /// Builds the pool. Fails with [`Error::Spawn`] when a preallocated worker
    /// could not be started; the workers already started are joined first.
    ///
    /// ```
    /// let builder = workerpool::Builder::new().capacity(2);
    /// let (a, b) = (builder.build().unwrap(), builder.build().unwrap());
    /// a.schedule(|| ()).unwrap();
    /// b.schedule(|| ()).unwrap();
    /// ```
    pub fn build(&self) -> Result<Pool, Error> {
        Pool::from_config(self.capacity, self.config.clone())
    }
}
