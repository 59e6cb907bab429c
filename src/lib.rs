//! A worker (thread) pool with a C ABI.
//!
//! The model is the Go "goroutine pool": a capacity of workers started on
//! demand (or all at once), a `schedule` that blocks or fails when every
//! worker is busy, and a shutdown that runs what was accepted and joins the
//! workers. [`Pool`] is the safe Rust API over closures; [`ffi`] is the C ABI
//! described in `include/workerpool.h`, a thin layer over the same core.
//!
//! Where things live: `shared.rs` holds the pool's state and says how it is
//! split; `admission.rs` is the schedule calls, `counts.rs` packs the
//! counters admission decides on, `completions.rs` counts finished tasks.
//! `worker.rs` runs a worker's one lifecycle and `lifecycle.rs` counts it
//! (start, hooks, retirement, shrink, shutdown); the two deliveries are
//! `queue_mode.rs` (over `queue/`, with idle workers sleeping in
//! `sleep.rs`) and `hand_off.rs` (over each worker's line, `mailbox.rs`,
//! in the seat table `seats.rs`). `wait.rs` is the exact wait, `waiters.rs`
//! where blocked schedulers, waits and shrinks sleep, `gate.rs` keeps the
//! memory alive while calls from other threads are inside, `current.rs`
//! knows which pool a thread works for, and `stacks.rs` and `thread.rs`
//! start worker threads on stacks the pool maps itself. `parallel_for.rs`
//! runs a range in chunks on the calling thread and helper tasks.

#![deny(missing_docs)]

mod admission;
mod builder;
mod completions;
mod control;
mod counts;
mod current;
mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod ffi;
mod gate;
mod group;
mod hand_off;
mod helping;
mod job;
mod lifecycle;
#[cfg(all(test, loom))]
mod loom_lifecycle;
mod mailbox;
mod parallel_for;
mod pause;
mod pool;
mod queue;
mod queue_mode;
mod scope;
mod seats;
mod shared;
mod sleep;
mod spawn;
mod stacks;
mod sync;
mod thread;
mod wait;
mod waiters;
mod worker;

pub use builder::{
    Builder, DEFAULT_CAPACITY, MAX_CAPACITY, MAX_STACK_SIZE, UNBOUNDED, clamp_capacity,
};
pub use control::{ShutdownMode, ShutdownReport};
pub use current::MAX_INLINE_DEPTH;
pub use error::Error;
pub use pool::{Pool, Stats};
pub use scope::{Scope, TaskGroup};
pub use spawn::{Cancelled, Handle};

/// The README's Rust examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
