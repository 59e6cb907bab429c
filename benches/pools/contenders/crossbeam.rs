//! The limit: a raw crossbeam channel feeding `workers` consumer threads
//! that call the same C task. Unbounded for the queued workloads,
//! `bounded(0)` (rendezvous) for hand-off.

use std::ffi::c_void;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Sender, bounded, unbounded};

use super::{Cfg, Contender, Exec, Queue};
use crate::task::{SendPtr, TaskFn};

pub struct Crossbeam;

type Msg = (TaskFn, SendPtr);

struct Channel {
    sender: Option<Sender<Msg>>,
    threads: Vec<JoinHandle<()>>,
}

impl Exec for Channel {
    fn schedule(&self, task: TaskFn, arg: *mut c_void) {
        let sender = self.sender.as_ref().expect("live");
        sender.send((task, SendPtr(arg))).expect("consumers alive");
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        drop(self.sender.take());
        for thread in self.threads.drain(..) {
            thread.join().expect("consumer");
        }
    }
}

impl Contender for Crossbeam {
    fn name(&self) -> &'static str {
        "crossbeam"
    }

    /// Starts every consumer thread at once (`prealloc` is ignored).
    fn build(&self, cfg: &Cfg) -> Option<Box<dyn Exec>> {
        let (sender, receiver) = match cfg.queue {
            Queue::Unbounded => unbounded::<Msg>(),
            Queue::Handoff => bounded::<Msg>(0),
        };
        let threads = (0..cfg.workers)
            .map(|n| {
                let receiver = receiver.clone();
                let mut builder = thread::Builder::new().name(format!("cb-{n}"));
                if let Some(bytes) = cfg.stack {
                    builder = builder.stack_size(bytes);
                }
                builder
                    .spawn(move || {
                        for (task, arg) in receiver {
                            // SAFETY: the tasks take a live latch or slot.
                            unsafe { task(arg.get()) };
                        }
                    })
                    .expect("spawn consumer")
            })
            .collect();
        Some(Box::new(Channel {
            sender: Some(sender),
            threads,
        }))
    }
}
