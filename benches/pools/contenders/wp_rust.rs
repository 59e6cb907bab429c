//! workerpool's Rust API: closures through `Pool::schedule`.

use std::ffi::c_void;

use workerpool::{Builder, Pool, UNBOUNDED};

use super::{Cfg, Contender, Exec, Queue};
use crate::task::{SendPtr, TaskFn};

pub struct WpRust;

impl Exec for Pool {
    fn schedule(&self, task: TaskFn, arg: *mut c_void) {
        let arg = SendPtr(arg);
        // SAFETY: the tasks take a live latch or slot.
        Pool::schedule(self, move || unsafe { task(arg.get()) }).expect("schedule");
    }
}

impl Contender for WpRust {
    fn name(&self) -> &'static str {
        "workerpool-rust"
    }

    fn build(&self, cfg: &Cfg) -> Option<Box<dyn Exec>> {
        let builder = Builder::new()
            .capacity(cfg.workers)
            .queue_size(match cfg.queue {
                Queue::Unbounded => UNBOUNDED,
                Queue::Handoff => 0,
            })
            .block(true)
            .prealloc(cfg.prealloc)
            .stack_size(cfg.stack.unwrap_or(0))
            .expect("stack size");
        Some(Box::new(builder.build().expect("build")))
    }
}
