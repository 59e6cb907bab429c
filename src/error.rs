//! The errors of the safe API; the C statuses map one to one (`ffi/status.rs`).

use std::fmt;

/// Why a pool call did not do what was asked.
///
/// ```
/// let pool = workerpool::Builder::new().capacity(1).block(false).build().unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// pool.schedule(move || { let _ = rx.recv(); }).unwrap();
/// let refused = pool.schedule(|| ()).unwrap_err();
/// assert_eq!(refused, workerpool::Error::NoIdleWorker);
/// println!("{refused}"); // a readable message
/// drop(tx);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Not blocking, every worker busy, capacity reached and the queue full.
    NoIdleWorker,
    /// The pool is shutting down; the task was not accepted.
    Freed,
    /// An argument was out of range.
    Invalid,
    /// `schedule_timeout`: no room before the deadline.
    Timeout,
    /// The OS refused a thread and no existing worker can take the task.
    Spawn,
    /// `wait` called from one of the pool's own workers, or a blocking
    /// schedule from a task of a full pool already
    /// [`MAX_INLINE_DEPTH`](crate::MAX_INLINE_DEPTH) inline runs deep.
    Deadlock,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::NoIdleWorker => "no idle worker: capacity reached and queue full",
            Error::Freed => "the pool is being freed",
            Error::Invalid => "invalid argument",
            Error::Timeout => "timed out waiting for room in the pool",
            Error::Spawn => "the OS refused to start a worker thread",
            Error::Deadlock => "called from one of the pool's own workers: would deadlock",
        })
    }
}

impl std::error::Error for Error {}
