//! Status codes, `pool_strerror`, `pool_version`.

use std::ffi::{c_char, c_int};

use crate::Error;

/// The result of every fallible call. Values are fixed and never renumbered;
/// `POOL_OK` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pool_status {
    /// Success.
    POOL_OK = 0,
    /// Not blocking, every worker busy, capacity reached, queue (if any) full.
    POOL_ERR_NO_IDLE_WORKER = 1,
    /// The pool is being freed: the task was not accepted.
    POOL_ERR_FREED = 2,
    /// NULL pool/task/options/out pointer, or an argument out of range.
    POOL_ERR_INVALID = 3,
    /// `pool_schedule_timeout`: no room before the deadline.
    POOL_ERR_TIMEOUT = 4,
    /// The OS refused a thread and no existing worker can take the task.
    POOL_ERR_SPAWN = 5,
    /// `pool_wait` / `pool_free` called from one of this pool's own workers.
    POOL_ERR_DEADLOCK = 6,
    /// The pool (or group) was created before a `fork()` and this is the
    /// child process: its threads do not exist here.
    POOL_ERR_FORKED = 7,
}

impl From<Error> for pool_status {
    fn from(error: Error) -> Self {
        match error {
            Error::NoIdleWorker => pool_status::POOL_ERR_NO_IDLE_WORKER,
            Error::Freed => pool_status::POOL_ERR_FREED,
            Error::Invalid => pool_status::POOL_ERR_INVALID,
            Error::Timeout => pool_status::POOL_ERR_TIMEOUT,
            Error::Spawn => pool_status::POOL_ERR_SPAWN,
            Error::Deadlock => pool_status::POOL_ERR_DEADLOCK,
        }
    }
}

impl From<Result<(), Error>> for pool_status {
    fn from(result: Result<(), Error>) -> Self {
        match result {
            Ok(()) => pool_status::POOL_OK,
            Err(error) => error.into(),
        }
    }
}

/// `pool_strerror`'s parameter: the header shows it as `pool_status`, but
/// Rust receives the raw `int`, so that a value outside the enum (which C
/// lets a caller pass) is not undefined behaviour here.
pub type pool_status_value = c_int;

/// Returns a static, NUL-terminated English description of `status`.
///
/// Takes any value a C caller can pass: values outside `pool_status` get a
/// generic text. Never returns NULL; the string must not be freed.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pool_strerror(status: pool_status_value) -> *const c_char {
    let text: &'static [u8] = match status {
        0 => b"success\0",
        1 => b"no idle worker: every worker is busy, capacity is reached and the queue is full\0",
        2 => b"the pool is being freed: the task was not accepted\0",
        3 => b"invalid argument: NULL pointer or value out of range\0",
        4 => b"timed out: no room in the pool before the deadline\0",
        5 => b"the OS refused to start a worker thread and no existing worker can take the task\0",
        6 => b"would deadlock: called from one of the pool's own workers\0",
        7 => b"the pool was created before fork(): unusable in the child process\0",
        _ => b"unknown workerpool status\0",
    };
    text.as_ptr().cast()
}

/// Returns the library version as a static string "MAJOR.MINOR.PATCH",
/// equal to the `WORKERPOOL_VERSION_*` macros of the header the program was
/// built with when header and library match. Never NULL; do not free.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn pool_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
