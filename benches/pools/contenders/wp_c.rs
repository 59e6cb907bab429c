//! workerpool through its C ABI: `pool_new` + `pool_schedule` of C tasks.

use std::ffi::c_void;

use workerpool::ffi::{
    pool_free, pool_new, pool_options_free, pool_options_new, pool_options_set_prealloc,
    pool_options_set_queue_size, pool_options_set_stack_size, pool_schedule, pool_status, pool_t,
};

use super::{Cfg, Contender, Exec, Queue};
use crate::task::TaskFn;

pub struct WpC;

struct Handle(*mut pool_t);
// SAFETY: the C API is thread-safe for every call used here.
unsafe impl Sync for Handle {}

impl Exec for Handle {
    fn schedule(&self, task: TaskFn, arg: *mut c_void) {
        // SAFETY: live handle; the tasks take a live latch or slot.
        let status = unsafe { pool_schedule(self.0, Some(task), arg) };
        assert_eq!(status, pool_status::POOL_OK);
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: live handle, freed once.
        unsafe { pool_free(self.0) };
    }
}

impl Contender for WpC {
    fn name(&self) -> &'static str {
        "workerpool-c"
    }

    fn build(&self, cfg: &Cfg) -> Option<Box<dyn Exec>> {
        let queue = match cfg.queue {
            Queue::Unbounded => usize::MAX,
            Queue::Handoff => 0,
        };
        // SAFETY: the options handle is used and freed here only.
        let pool = unsafe {
            let opts = pool_options_new();
            assert!(!opts.is_null());
            pool_options_set_queue_size(opts, queue);
            pool_options_set_prealloc(opts, cfg.prealloc);
            pool_options_set_stack_size(opts, cfg.stack.unwrap_or(0));
            let pool = pool_new(cfg.workers as i32, opts);
            pool_options_free(opts);
            pool
        };
        assert!(!pool.is_null(), "pool_new failed");
        Some(Box::new(Handle(pool)))
    }
}
