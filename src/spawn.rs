//! `Pool::spawn`: a task with a result, joined through a [`Handle`].
//!
//! The task travels as any closure (`job.rs`); its result (or its panic)
//! goes into a slot the handle shares, the one allocation per task. A task
//! removed unrun (`Pool::cancel_queued`, a cancelling shutdown) drops its
//! sender, which fills the slot with [`Cancelled`] so that `join` returns.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use crate::Error;
use crate::pool::Pool;
use crate::sync::{Arc, Condvar, Mutex};

/// The payload `Handle::join` returns for a task that was removed before
/// it ran ([`Pool::cancel_queued`], [`Pool::shutdown`] with
/// [`ShutdownMode::Cancel`](crate::ShutdownMode::Cancel)).
///
/// ```
/// let pool = workerpool::Builder::new().queue_size(4).build().unwrap();
/// pool.pause().unwrap();
/// let handle = pool.spawn(|| ()).unwrap();
/// pool.cancel_queued();
/// let payload = handle.join().unwrap_err();
/// assert_eq!(payload.downcast_ref(), Some(&workerpool::Cancelled));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

type Outcome<T> = Result<T, Box<dyn Any + Send>>;

struct Slot<T> {
    outcome: Mutex<Option<Outcome<T>>>,
    filled: Condvar,
}

impl<T> Slot<T> {
    fn fill(&self, outcome: Outcome<T>) {
        let mut slot = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(outcome);
        self.filled.notify_all();
    }
}

/// The task's side of the slot: fills it once, with the result, or with
/// `Cancelled` if the task is dropped unrun.
struct Sender<T> {
    slot: Option<Arc<Slot<T>>>,
}

impl<T> Sender<T> {
    fn send(mut self, outcome: Outcome<T>) {
        if let Some(slot) = self.slot.take() {
            slot.fill(outcome);
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.fill(Err(Box::new(Cancelled)));
        }
    }
}

/// A spawned task's result, as [`std::thread::JoinHandle`] gives a
/// thread's. Dropping it unjoined detaches the task: it still runs.
///
/// ```
/// let pool = workerpool::Pool::new(2).unwrap();
/// let handle = pool.spawn(|| 6 * 7).unwrap();
/// assert_eq!(handle.join().unwrap(), 42);
/// ```
#[must_use = "dropping a Handle detaches the task; join it to get its result"]
pub struct Handle<T> {
    slot: Arc<Slot<T>>,
}

impl<T> Handle<T> {
    /// Waits for the task and returns its result, or the payload of its
    /// panic (as [`std::thread::JoinHandle::join`]), or [`Cancelled`] if it
    /// was removed before it ran.
    ///
    /// Joining from a task of the same pool waits like any thread: on a
    /// pool with no other free worker that can deadlock; use
    /// [`Pool::scope`] there, which runs queued tasks while it waits.
    ///
    /// ```
    /// let pool = workerpool::Pool::new(1).unwrap();
    /// let handle = pool.spawn(|| -> u32 { panic!("no") }).unwrap();
    /// assert!(handle.join().is_err());
    /// ```
    pub fn join(self) -> Result<T, Box<dyn Any + Send>> {
        let mut slot = self.slot.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(outcome) = slot.take() {
                return outcome;
            }
            slot = self
                .slot
                .filled
                .wait(slot)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Whether the task has finished (or was cancelled): `join` would not
    /// wait.
    ///
    /// ```
    /// let pool = workerpool::Pool::new(1).unwrap();
    /// let handle = pool.spawn(|| 1).unwrap();
    /// pool.wait().unwrap();
    /// assert!(handle.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.slot
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

impl<T> std::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl Pool {
    /// Schedules `task` (as [`Pool::schedule`]: same admission, blocking
    /// and inline rules) and returns a [`Handle`] to its result. The
    /// closure is stored without an allocation when it fits (`schedule`'s
    /// rule); the result slot is one allocation.
    ///
    /// ```
    /// let pool = workerpool::Pool::new(4).unwrap();
    /// let handles: Vec<_> = (0..4u64).map(|i| pool.spawn(move || i * i).unwrap()).collect();
    /// let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    /// assert_eq!(sum, 14);
    /// ```
    pub fn spawn<T, F>(&self, task: F) -> Result<Handle<T>, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let slot = Arc::new(Slot {
            outcome: Mutex::new(None),
            filled: Condvar::new(),
        });
        let sender = Sender {
            slot: Some(Arc::clone(&slot)),
        };
        self.schedule(move || sender.send(panic::catch_unwind(AssertUnwindSafe(task))))?;
        Ok(Handle { slot })
    }
}
