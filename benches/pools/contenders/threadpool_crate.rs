//! The `threadpool` crate: `ThreadPool::execute` over an mpsc channel.
//! (Dropping it detaches its idle threads, which then exit on their own.)

use std::ffi::c_void;

use threadpool::{Builder, ThreadPool};

use super::{Cfg, Contender, Exec, Queue};
use crate::task::{SendPtr, TaskFn};

pub struct ThreadPoolCrate;

impl Exec for ThreadPool {
    fn schedule(&self, task: TaskFn, arg: *mut c_void) {
        let arg = SendPtr(arg);
        // SAFETY: the tasks take a live latch or slot.
        self.execute(move || unsafe { task(arg.get()) });
    }
}

impl Contender for ThreadPoolCrate {
    fn name(&self) -> &'static str {
        "threadpool"
    }

    /// Always starts every thread; no hand-off mode.
    fn build(&self, cfg: &Cfg) -> Option<Box<dyn Exec>> {
        if cfg.queue == Queue::Handoff {
            return None;
        }
        let mut builder = Builder::new().num_threads(cfg.workers);
        if let Some(bytes) = cfg.stack {
            builder = builder.thread_stack_size(bytes);
        }
        Some(Box::new(builder.build()))
    }
}
