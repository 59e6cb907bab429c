//! What travels from a scheduler to a worker.

use std::ffi::c_void;
use std::panic::{self, AssertUnwindSafe};

use crate::builder::PanicHandler;

/// A C caller's `void *`, moved to another thread on purpose.
///
/// The pool never reads or writes through it; it only hands it back to the
/// caller's own function on a worker (or hook) thread. Making what it points
/// to safe to use from that thread is the C caller's responsibility, exactly
/// as with `pthread_create`'s argument.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UserData(pub(crate) *mut c_void);

// SAFETY: see the type's documentation: the pointer is opaque to the pool,
// and the C contract puts thread-safety of the pointee on the caller.
unsafe impl Send for UserData {}
// SAFETY: as above; hooks share one context pointer between all workers.
unsafe impl Sync for UserData {}

impl UserData {
    /// The pointer. A method (not `.0`) so closures capture the whole
    /// `UserData`, which is `Send`, rather than the bare pointer field.
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }
}

pub(crate) type CTaskFn = unsafe extern "C" fn(*mut c_void);

pub(crate) enum Job {
    /// A C task: function pointer and argument, no allocation.
    Extern { func: CTaskFn, arg: UserData },
    /// A Rust closure.
    Boxed(Box<dyn FnOnce() + Send + 'static>),
}

/// Whether a task ran to completion or panicked.
pub(crate) enum Outcome {
    Finished,
    Panicked,
}

/// Runs a task on the current thread. A panicking closure is caught (the
/// Go design's `recover`) and given to the handler, if any.
pub(crate) fn run_task(job: Job, handler: Option<&PanicHandler>) -> Outcome {
    match job {
        Job::Extern { func, arg } => {
            // SAFETY: `func` and `arg` come from a C caller of `pool_schedule`,
            // whose contract is that `func(arg)` may be called once on a
            // worker thread. A C function cannot unwind into Rust: extern "C"
            // is nounwind, so a foreign exception aborts instead.
            unsafe { func(arg.0) };
            Outcome::Finished
        }
        Job::Boxed(task) => match panic::catch_unwind(AssertUnwindSafe(task)) {
            Ok(()) => Outcome::Finished,
            Err(payload) => {
                report_panic(payload, handler);
                Outcome::Panicked
            }
        },
    }
}

/// Hands a panic payload to the handler; a panic inside the handler (or in
/// the payload's destructor) is swallowed so the worker survives.
pub(crate) fn report_panic(payload: Box<dyn std::any::Any + Send>, handler: Option<&PanicHandler>) {
    let _ = panic::catch_unwind(AssertUnwindSafe(move || match handler {
        Some(handler) => handler(payload),
        None => drop(payload),
    }));
}
