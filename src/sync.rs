//! The synchronisation primitives the pool's protocols are built on: std's,
//! or loom's under `--cfg loom` so the model checker can explore every
//! interleaving of the sleep/wake, waiter and gate protocols
//! (`RUSTFLAGS="--cfg loom" cargo test --release --lib loom`).

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence,
};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

/// The model checker as every model here runs it: at most three
/// preemptions per execution, enough for the races modelled and small
/// enough to finish in seconds.
#[cfg(all(test, loom))]
pub(crate) fn loom_model() -> loom::model::Builder {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model
}

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// std's `UnsafeCell` with loom's access methods, so code written for the
/// model checker (which tracks every access) compiles to plain pointer use.
#[cfg(not(loom))]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// A point where the model checker may run another thread: a loop that
/// retries until another thread acts (a worker looking again for a task
/// counted but not yet pushed) passes here. Nothing outside loom.
#[inline(always)]
pub(crate) fn model_yield() {
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// Spin-then-yield for short waits on another thread (crossbeam's
/// `Backoff`); under loom, a yield each time, so the model checker runs the
/// thread being waited for.
pub(crate) struct Spin {
    #[cfg(not(loom))]
    backoff: crossbeam_utils::Backoff,
}

impl Spin {
    pub(crate) fn new() -> Self {
        Spin {
            #[cfg(not(loom))]
            backoff: crossbeam_utils::Backoff::new(),
        }
    }

    /// Waits for another thread to finish a step it has begun: spins, then
    /// yields, never blocks.
    pub(crate) fn wait(&self) {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        self.backoff.snooze();
    }

    /// Backs off after losing a compare-exchange.
    pub(crate) fn spin(&self) {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
        self.backoff.spin();
    }

    /// One more step of a spin that ends in blocking: false once the spin
    /// is over (at once under loom, so the models block without spinning).
    pub(crate) fn before_blocking(&self) -> bool {
        #[cfg(not(loom))]
        if !self.backoff.is_completed() {
            self.backoff.snooze();
            return true;
        }
        false
    }

    /// Starts the spin over.
    pub(crate) fn reset(&self) {
        #[cfg(not(loom))]
        self.backoff.reset();
    }
}
