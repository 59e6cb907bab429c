//! What travels from a scheduler to a worker.
//!
//! A `Job` is three words. A C task is its function pointer and argument,
//! called directly. A Rust closure is a pointer to a static table of two
//! functions for its type (run, drop) and two words of payload: the
//! closure itself when its captures fit (a function pointer and an
//! argument, an `Arc`, a few integers), or else a box holding it. So the
//! queue's slot stays 32 bytes, and neither a C task nor a small closure
//! costs a heap allocation.
//!
//! (Boxing every closure, `Box<dyn FnOnce>`, made the Rust API 3-4x slower
//! than the C one in the W1 benchmark: an allocation on the scheduling
//! thread freed on a worker, per task.)

use std::any::Any;
use std::ffi::c_void;
use std::mem::{self, ManuallyDrop, MaybeUninit};
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};

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

pub(crate) type Panic = Box<dyn Any + Send>;

/// Two words, 8-aligned: what a job keeps in place.
pub(crate) type Payload = MaybeUninit<[usize; 2]>;

/// Takes a C task back out of a payload removed unrun.
pub(crate) type CancelFn = unsafe fn(*const Kind, *mut Payload) -> (CTaskFn, UserData);

/// How to run or drop one kind of payload. One static table per kind
/// (closure type in place, closure type boxed), and two in each task group
/// (`group.rs`: a group's C task is its function and argument in the
/// payload, and the table's address says which group and generation).
/// Each function gets the table's own address.
pub(crate) struct Kind {
    /// Runs the task, consuming the payload; returns a caught panic.
    pub(crate) run: unsafe fn(*const Kind, *mut Payload) -> Result<(), Panic>,
    /// Drops a payload that will never run (a refused schedule).
    pub(crate) drop: unsafe fn(*const Kind, *mut Payload),
    /// Takes a payload removed unrun (`pool_cancel_queued`): a C task gives
    /// back its function and argument. `None`: dropped instead.
    pub(crate) cancel: Option<CancelFn>,
    /// Which of its owner's tables this is (a group's generation parity;
    /// 0 for the static tables).
    pub(crate) index: usize,
    /// A task of the pool's own (a parallel loop's helper), not one a
    /// caller scheduled: `pool_cancel_queued` drops it as done, without
    /// counting or reporting it.
    pub(crate) internal: bool,
}

/// A task, ready to run exactly once on any thread.
pub(crate) enum Job {
    /// A C task: function pointer and argument.
    Extern { func: CTaskFn, arg: UserData },
    /// A Rust closure, in place or boxed, or a group's C task (`kind`
    /// says which). `kind` points to a static table, or into a group that
    /// the task keeps alive (`group.rs`).
    Closure {
        kind: NonNull<Kind>,
        payload: Payload,
    },
}

// SAFETY: every constructor takes only `Send` payloads: C tasks (whose
// argument the C contract makes the caller's business, see `UserData`) and
// `FnOnce + Send` closures.
unsafe impl Send for Job {}

/// Whether a task ran to completion or panicked.
pub(crate) enum Outcome {
    Finished,
    Panicked,
}

impl Job {
    /// A C task: the function pointer and its argument, in place.
    pub(crate) fn extern_c(func: CTaskFn, arg: UserData) -> Job {
        Job::Extern { func, arg }
    }

    /// A Rust closure: in place if it fits two words, boxed otherwise.
    pub(crate) fn closure<F: FnOnce() + Send + 'static>(task: F) -> Job {
        let mut payload = Payload::uninit();
        if fits_in_place::<F>() {
            // SAFETY: `fits_in_place` checked size and alignment; the
            // kind's functions read it back as `F`.
            unsafe { payload.as_mut_ptr().cast::<F>().write(task) };
            Job::Closure {
                kind: NonNull::from(&InPlace::<F>::KIND),
                payload,
            }
        } else {
            let boxed: *mut F = Box::into_raw(Box::new(task));
            // SAFETY: a thin pointer is one word; `Boxed::<F>` turns it back
            // into the box.
            unsafe { payload.as_mut_ptr().cast::<*mut F>().write(boxed) };
            Job::Closure {
                kind: NonNull::from(&Boxed::<F>::KIND),
                payload,
            }
        }
    }

    /// A task of the pool's own (a parallel loop's helper): as `closure`,
    /// kept in place (it must fit), and marked internal (`Kind::internal`).
    pub(crate) fn internal<F: FnOnce() + Send + 'static>(task: F) -> Job {
        const { assert!(fits_in_place::<F>(), "an internal task fits in place") };
        let mut payload = Payload::uninit();
        // SAFETY: the assertion above checked size and alignment; the
        // kind's functions read it back as `F`.
        unsafe { payload.as_mut_ptr().cast::<F>().write(task) };
        Job::Closure {
            kind: NonNull::from(&InPlace::<F>::INTERNAL),
            payload,
        }
    }

    /// Whether this is a task of the pool's own (`Job::internal`).
    pub(crate) fn is_internal(&self) -> bool {
        match self {
            Job::Extern { .. } => false,
            // SAFETY: `kind` is live: static, or kept alive by this task.
            Job::Closure { kind, .. } => unsafe { kind.as_ref() }.internal,
        }
    }

    /// A task removed unrun (cancelled): a C task gives back its function
    /// and argument, for the caller's `on_cancel`; a Rust closure is
    /// dropped here.
    pub(crate) fn into_c_task(self) -> Option<(CTaskFn, UserData)> {
        let mut job = ManuallyDrop::new(self);
        match &mut *job {
            Job::Extern { func, arg } => Some((*func, *arg)),
            Job::Closure { kind, payload } => {
                // SAFETY: `kind` is live (static, or kept alive by this task)
                // and matches the payload its constructor wrote; the payload
                // is consumed by exactly one of `cancel` or `drop`.
                unsafe {
                    match kind.as_ref().cancel {
                        Some(cancel) => Some(cancel(kind.as_ptr(), payload)),
                        None => {
                            (kind.as_ref().drop)(kind.as_ptr(), payload);
                            None
                        }
                    }
                }
            }
        }
    }

    /// A group's C task (`group.rs`): `kind` is one of the group's tables.
    pub(crate) fn grouped_c(kind: NonNull<Kind>, func: CTaskFn, arg: UserData) -> Job {
        let mut payload = Payload::uninit();
        // SAFETY: two words fit the payload; the group's table reads them
        // back as `(CTaskFn, UserData)`.
        unsafe {
            payload
                .as_mut_ptr()
                .cast::<(CTaskFn, UserData)>()
                .write((func, arg))
        };
        Job::Closure { kind, payload }
    }

    /// Reads back what `grouped_c` wrote.
    ///
    /// # Safety
    /// `payload` was written by `grouped_c` and is not taken yet.
    pub(crate) unsafe fn take_c_task(payload: *mut Payload) -> (CTaskFn, UserData) {
        // SAFETY: the caller's contract.
        unsafe { payload.cast::<(CTaskFn, UserData)>().read() }
    }

    /// Runs the task on the current thread. A panicking closure is caught
    /// (the Go design's `recover`) and given to the handler, if any.
    pub(crate) fn run(self, handler: Option<&PanicHandler>) -> Outcome {
        let mut job = ManuallyDrop::new(self);
        let result = match &mut *job {
            Job::Extern { func, arg } => {
                // SAFETY: `func` and `arg` come from a C caller of
                // `pool_schedule`, whose contract is that `func(arg)` may be
                // called once on a worker thread. A C function cannot unwind
                // into Rust: extern "C" is nounwind, so a foreign exception
                // aborts instead.
                unsafe { func(arg.get()) };
                return Outcome::Finished;
            }
            // SAFETY: the payload was written by the constructor that chose
            // `kind` (live: static, or kept alive by this task), and
            // `ManuallyDrop` keeps `Drop` from touching it after `run` has
            // consumed it.
            Job::Closure { kind, payload } => unsafe {
                (kind.as_ref().run)(kind.as_ptr(), payload)
            },
        };
        match result {
            Ok(()) => Outcome::Finished,
            Err(payload) => {
                report_panic(payload, handler);
                Outcome::Panicked
            }
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Job::Closure { kind, payload } = self {
            // SAFETY: as in `run`; a job is either run or dropped, never both.
            unsafe { (kind.as_ref().drop)(kind.as_ptr(), payload) }
        }
    }
}

const fn fits_in_place<F>() -> bool {
    mem::size_of::<F>() <= mem::size_of::<Payload>()
        && mem::align_of::<F>() <= mem::align_of::<Payload>()
}

struct InPlace<F>(F);

impl<F: FnOnce() + Send + 'static> InPlace<F> {
    const KIND: Kind = Kind {
        run: Self::run,
        drop: Self::drop,
        cancel: None,
        index: 0,
        internal: false,
    };
    const INTERNAL: Kind = Kind {
        internal: true,
        ..Self::KIND
    };

    /// # Safety
    /// `payload` holds an `F` written by `Job::closure`, not yet taken.
    unsafe fn run(_: *const Kind, payload: *mut Payload) -> Result<(), Panic> {
        // SAFETY: the caller's contract; the read moves `F` out.
        let task = unsafe { payload.cast::<F>().read() };
        panic::catch_unwind(AssertUnwindSafe(task))
    }

    /// # Safety
    /// As for `run`.
    unsafe fn drop(_: *const Kind, payload: *mut Payload) {
        // SAFETY: the caller's contract.
        unsafe { ptr::drop_in_place(payload.cast::<F>()) }
    }
}

struct Boxed<F>(F);

impl<F: FnOnce() + Send + 'static> Boxed<F> {
    const KIND: Kind = Kind {
        run: Self::run,
        drop: Self::drop,
        cancel: None,
        index: 0,
        internal: false,
    };

    /// # Safety
    /// `payload` holds a `Box<F>` turned into a raw pointer by
    /// `Job::closure`, not yet taken back.
    unsafe fn take(payload: *mut Payload) -> Box<F> {
        // SAFETY: the caller's contract.
        unsafe { Box::from_raw(payload.cast::<*mut F>().read()) }
    }

    /// # Safety
    /// As for `take`.
    unsafe fn run(_: *const Kind, payload: *mut Payload) -> Result<(), Panic> {
        // SAFETY: the caller's contract.
        let task = unsafe { Self::take(payload) };
        panic::catch_unwind(AssertUnwindSafe(task))
    }

    /// # Safety
    /// As for `take`.
    unsafe fn drop(_: *const Kind, payload: *mut Payload) {
        // SAFETY: the caller's contract.
        drop(unsafe { Self::take(payload) });
    }
}

/// Hands a panic payload to the handler; a panic inside the handler (or in
/// the payload's destructor) is swallowed so the worker survives.
pub(crate) fn report_panic(payload: Panic, handler: Option<&PanicHandler>) {
    let _ = panic::catch_unwind(AssertUnwindSafe(move || match handler {
        Some(handler) => handler(payload),
        None => drop(payload),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_job_is_three_words() {
        assert_eq!(mem::size_of::<Job>(), 3 * mem::size_of::<usize>());
    }

    #[test]
    fn small_closures_stay_in_place_and_large_ones_are_boxed() {
        let (word, other, third) = (std::ptr::null::<()>(), 1u64, [2u64]);
        let small = move || {
            let _ = (word, other);
        };
        let large = move || {
            let _ = (word, other, third);
        };
        assert!(fits_in_place_of(&small));
        assert!(!fits_in_place_of(&large));
    }

    fn fits_in_place_of<F>(_: &F) -> bool {
        fits_in_place::<F>()
    }

    /// A job adding to `counter`: 1 from a closure kept in place, 4 from
    /// one too large for that (boxed).
    fn counting_job(counter: Arc<AtomicUsize>, boxed: bool) -> Job {
        if boxed {
            let big = [7u64; 4];
            Job::closure(move || {
                counter.fetch_add(big.len(), Ordering::SeqCst);
            })
        } else {
            Job::closure(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            })
        }
    }

    /// Every kind runs its task once, and a job dropped unrun drops its
    /// captures once (counted through an `Arc`'s strong count).
    #[test]
    fn run_and_drop_each_release_the_captures_once() {
        let ran = Arc::new(AtomicUsize::new(0));
        for boxed in [false, true] {
            let job = counting_job(Arc::clone(&ran), boxed);
            assert_eq!(Arc::strong_count(&ran), 2);
            assert!(matches!(job.run(None), Outcome::Finished));
            assert_eq!(Arc::strong_count(&ran), 1);

            drop(counting_job(Arc::clone(&ran), boxed));
            assert_eq!(Arc::strong_count(&ran), 1);
        }
        assert_eq!(ran.load(Ordering::SeqCst), 1 + 4);
    }

    #[test]
    fn a_panic_is_caught_in_place_and_boxed() {
        let big = [0u8; 64];
        let in_place = Job::closure(|| panic!("small"));
        let boxed = Job::closure(move || panic!("large {}", big.len()));
        assert!(matches!(in_place.run(None), Outcome::Panicked));
        assert!(matches!(boxed.run(None), Outcome::Panicked));
    }

    #[test]
    fn a_c_task_gets_its_argument() {
        unsafe extern "C" fn bump(arg: *mut c_void) {
            // SAFETY: the test passes a live AtomicUsize.
            unsafe { &*(arg as *const AtomicUsize) }.fetch_add(1, Ordering::SeqCst);
        }
        let count = AtomicUsize::new(0);
        let job = Job::extern_c(bump, UserData(&count as *const _ as *mut c_void));
        assert!(matches!(job.run(None), Outcome::Finished));
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }
}
