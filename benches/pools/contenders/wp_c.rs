//! workerpool through its C ABI: `pool_new` + `pool_schedule` of C tasks.

use std::ffi::c_void;

use workerpool::ffi::{
    pool_free, pool_group_free, pool_group_new, pool_group_schedule, pool_group_t, pool_new,
    pool_options_free, pool_options_new, pool_options_set_prealloc, pool_options_set_queue_size,
    pool_options_set_stack_size, pool_schedule, pool_status, pool_t,
};

use super::{Cfg, Contender, Exec, Queue};
use crate::task::TaskFn;

pub struct WpC;

/// A pool built through the C ABI, freed when dropped.
pub struct Handle(*mut pool_t);
// SAFETY: the C API is thread-safe for every call used here.
unsafe impl Sync for Handle {}

impl Handle {
    /// The live pool, for the C calls of the loops and real work.
    pub fn raw(&self) -> *mut pool_t {
        self.0
    }
}

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

/// The same, with every task scheduled into one task group
/// (`pool_group_schedule`): the group's cost per task.
pub struct WpCGroup;

struct GroupHandle {
    group: *mut pool_group_t,
    /// Owned: freed after the group (fields drop in order).
    _pool: Handle,
}
// SAFETY: the C API is thread-safe for every call used here.
unsafe impl Sync for GroupHandle {}

impl Exec for GroupHandle {
    fn schedule(&self, task: TaskFn, arg: *mut c_void) {
        // SAFETY: live group; the tasks take a live latch or slot.
        let status = unsafe { pool_group_schedule(self.group, Some(task), arg) };
        assert_eq!(status, pool_status::POOL_OK);
    }
}

impl Drop for GroupHandle {
    fn drop(&mut self) {
        // SAFETY: live group, freed once, before its pool (`_pool`,
        // dropped after this).
        unsafe { pool_group_free(self.group) };
    }
}

impl Contender for WpCGroup {
    fn name(&self) -> &'static str {
        "workerpool-c-group"
    }

    fn build(&self, cfg: &Cfg) -> Option<Box<dyn Exec>> {
        let pool = new_pool(cfg);
        // SAFETY: a live pool.
        let group = unsafe { pool_group_new(pool.0) };
        assert!(!group.is_null(), "pool_group_new failed");
        Some(Box::new(GroupHandle { group, _pool: pool }))
    }
}

impl Contender for WpC {
    fn name(&self) -> &'static str {
        "workerpool-c"
    }

    fn build(&self, cfg: &Cfg) -> Option<Box<dyn Exec>> {
        Some(Box::new(new_pool(cfg)))
    }
}

/// `pool_new(cfg.workers, opts)` with the queue, prealloc and stack of `cfg`.
pub fn new_pool(cfg: &Cfg) -> Handle {
    {
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
        Handle(pool)
    }
}
