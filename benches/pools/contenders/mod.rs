//! One module per in-process contender, all behind `Exec`; GLib runs in C
//! (`glib.rs` at the crate root drives it as a subprocess).

use std::ffi::c_void;

use crate::task::TaskFn;

mod crossbeam;
mod rayon_pool;
mod threadpool_crate;
mod wp_c;
mod wp_rust;

pub use wp_c::new_pool as c_pool;

/// A built pool: schedules C tasks; dropping it shuts it down.
pub trait Exec: Sync {
    fn schedule(&self, task: TaskFn, arg: *mut c_void);
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Queue {
    /// Any number of tasks may wait for a worker.
    Unbounded,
    /// The Go design's mode: a schedule waits until a worker takes the task.
    Handoff,
}

#[derive(Clone, Copy, Debug)]
pub struct Cfg {
    pub workers: usize,
    pub queue: Queue,
    /// Start every worker before returning (otherwise on demand, where the
    /// contender can).
    pub prealloc: bool,
    pub stack: Option<usize>,
}

pub trait Contender: Sync {
    /// Short name used in the table and on child-process command lines.
    fn name(&self) -> &'static str;
    /// `None` when the contender has no such mode.
    fn build(&self, cfg: &Cfg) -> Option<Box<dyn Exec>>;
}

/// Every in-process contender; the first is the reference for ratios.
pub fn all() -> Vec<&'static dyn Contender> {
    vec![
        &wp_c::WpC,
        &wp_c::WpCGroup,
        &wp_rust::WpRust,
        &rayon_pool::Rayon,
        &threadpool_crate::ThreadPoolCrate,
        &crossbeam::Crossbeam,
    ]
}

pub fn by_name(name: &str) -> Option<&'static dyn Contender> {
    all().into_iter().find(|c| c.name() == name)
}
