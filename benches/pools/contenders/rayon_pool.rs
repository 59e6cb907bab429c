//! rayon's `ThreadPool::spawn` (fire-and-forget jobs into the pool).

use std::ffi::c_void;

use rayon::{ThreadPool, ThreadPoolBuilder};

use super::{Cfg, Contender, Exec, Queue};
use crate::task::{SendPtr, TaskFn};

pub struct Rayon;

impl Exec for ThreadPool {
    fn schedule(&self, task: TaskFn, arg: *mut c_void) {
        let arg = SendPtr(arg);
        // SAFETY: the tasks take a live latch or slot.
        self.spawn(move || unsafe { task(arg.get()) });
    }
}

impl Contender for Rayon {
    fn name(&self) -> &'static str {
        "rayon"
    }

    /// Always starts every thread (rayon has no lazy mode) and has no
    /// hand-off mode.
    fn build(&self, cfg: &Cfg) -> Option<Box<dyn Exec>> {
        if cfg.queue == Queue::Handoff {
            return None;
        }
        let mut builder = ThreadPoolBuilder::new().num_threads(cfg.workers);
        if let Some(bytes) = cfg.stack {
            builder = builder.stack_size(bytes);
        }
        Some(Box::new(builder.build().expect("rayon build")))
    }
}
