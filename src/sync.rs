//! The synchronisation primitives the pool's protocols are built on: std's,
//! or loom's under `--cfg loom` so the model checker can explore every
//! interleaving of the sleep/wake, waiter and gate protocols
//! (`RUSTFLAGS="--cfg loom" cargo test --release --lib loom`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};
