//! The C ABI: thin conversions over the safe core.
//!
//! Each exported function checks its pointers, converts arguments, calls the
//! safe [`crate::Pool`] / [`crate::Builder`], and maps errors to
//! [`pool_status`]. Nothing here decides pool behaviour. Every export runs
//! inside [`boundary`], so no Rust panic unwinds into C.
//!
//! The types and functions use the C names of `include/workerpool.h`
//! (generated from this module by cbindgen).
#![allow(non_camel_case_types)]

mod handle;
mod options;
mod status;

pub use handle::*;
pub use options::*;
pub use status::*;

use std::panic::{self, AssertUnwindSafe};

/// Runs an export's body; a panic (a bug in this library) aborts the
/// process with a message instead of unwinding into C or leaving the pool's
/// state half-changed.
pub(crate) fn boundary<T>(body: impl FnOnce() -> T) -> T {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(_) => {
            eprintln!("workerpool: internal panic at the C boundary; aborting");
            std::process::abort();
        }
    }
}
