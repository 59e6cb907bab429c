//! A worker (thread) pool with a C ABI.
//!
//! The model is the Go "goroutine pool": a capacity of workers started on
//! demand (or all at once), a `schedule` that blocks or fails when every
//! worker is busy, and a shutdown that runs what was accepted and joins the
//! workers. [`Pool`] is the safe Rust API over closures; [`ffi`] is the C ABI
//! described in `include/workerpool.h`, a thin layer over the same core.
//!
//! Where things live: `shared.rs` decides admission, `counts.rs` packs the
//! counters it decides on, `completions.rs` counts finished tasks, `worker.rs` runs and parks worker threads,
//! `sleep.rs` puts idle workers to sleep and wakes them, `waiters.rs` does
//! the same for blocked schedulers and `wait` callers, `gate.rs` keeps the
//! memory alive while calls from other threads are inside, `queue/` is
//! the queue tasks travel in, which reuses its blocks, and `stacks.rs` and
//! `thread.rs` start worker threads on stacks the pool maps itself.

mod builder;
mod completions;
mod counts;
mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod ffi;
mod gate;
mod job;
mod mailbox;
mod pool;
mod queue;
mod shared;
mod sleep;
mod stacks;
mod sync;
mod thread;
mod waiters;
mod worker;

pub use builder::{
    Builder, DEFAULT_CAPACITY, MAX_CAPACITY, MAX_STACK_SIZE, UNBOUNDED, clamp_capacity,
};
pub use error::Error;
pub use pool::{Pool, Stats};

/// The README's Rust examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
