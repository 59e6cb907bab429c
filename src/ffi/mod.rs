//! The C ABI: thin conversions over the safe core.
//!
//! Each exported function checks its pointers, converts arguments, calls the
//! safe [`crate::Pool`] / [`crate::Builder`], and maps errors to
//! [`pool_status`]. Nothing here decides pool behaviour.
//!
//! No Rust panic unwinds into C: every export is an `extern "C"` function,
//! and since Rust 1.81 (the crate needs 1.85) a panic reaching the end of
//! one aborts the process, after the panic hook has printed the message
//! and "panic in a function that cannot unwind". Only a bug in this library
//! could panic here (task panics are caught on the worker, `job.rs`). The
//! exports used to wrap their bodies in `catch_unwind` for a message of
//! their own: that made C's `pool_schedule` ~10% slower than the Rust
//! API's `schedule` and gave it slow runs the Rust API did not have
//! (BENCHMARKS.md, W1), for a message the language now prints anyway.
//!
//! The types and functions use the C names of `include/workerpool.h`
//! (generated from this module by cbindgen).
#![allow(non_camel_case_types)]

mod control;
mod fork;
mod group;
mod handle;
mod loops;
mod options;
mod status;

pub use control::*;
pub use group::*;
pub use handle::*;
pub use loops::*;
pub use options::*;
pub use status::*;
