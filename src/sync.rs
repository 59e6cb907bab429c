//! The synchronisation primitives the pool's protocols are built on: std's,
//! or loom's under `--cfg loom` so the model checker can explore every
//! interleaving of the sleep/wake, waiter and gate protocols
//! (`RUSTFLAGS="--cfg loom" cargo test --release --lib loom`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
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
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};
