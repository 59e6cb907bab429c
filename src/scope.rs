//! Task groups and scopes in the Rust API: [`TaskGroup`] (tasks that can
//! be waited for apart from the pool's others) and [`Pool::scope`] (tasks
//! that may borrow from the caller's stack), both over the groups of
//! `group.rs`: a worker of the pool that waits runs the pool's queued
//! tasks meanwhile, so fork-join inside tasks cannot starve the pool.

use std::any::Any;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Error;
use crate::group::Group;
use crate::pool::Pool;

/// A group of a pool's tasks that can be waited for while the pool serves
/// others ([`Pool::group`]). Dropping it waits for its tasks.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let pool = workerpool::Pool::new(2).unwrap();
/// let group = pool.group().unwrap();
/// let count = Arc::new(AtomicUsize::new(0));
/// for _ in 0..10 {
///     let count = Arc::clone(&count);
///     group.spawn(move || { count.fetch_add(1, Ordering::Relaxed); }).unwrap();
/// }
/// group.wait().unwrap();
/// assert_eq!(count.load(Ordering::Relaxed), 10);
/// ```
pub struct TaskGroup {
    core: Arc<Group>,
}

impl Pool {
    /// A new task group on this pool. [`Error::Freed`] once the pool is
    /// shutting down.
    ///
    /// ```
    /// let pool = workerpool::Pool::new(2).unwrap();
    /// let (a, b) = (pool.group().unwrap(), pool.group().unwrap());
    /// a.spawn(|| ()).unwrap();
    /// b.spawn(|| ()).unwrap();
    /// a.wait().unwrap(); // waits for a's task only
    /// ```
    pub fn group(&self) -> Result<TaskGroup, Error> {
        Ok(TaskGroup {
            core: Group::new(self.shared())?,
        })
    }

    /// Runs `f` with a [`Scope`] whose tasks may borrow what `f` can see
    /// (the caller's stack), and returns once every task spawned in it has
    /// finished, as [`std::thread::scope`] does. A panic of a task is
    /// resumed here after all have finished (the first one, if several);
    /// so is a panic of `f`. From a worker of this pool the wait runs the
    /// pool's queued tasks (queue modes), so nested scopes do not starve
    /// the pool.
    ///
    /// ```
    /// let pool = workerpool::Builder::new().capacity(2).queue_size(64).build().unwrap();
    /// let mut halves = [0u64; 2];
    /// let data: Vec<u64> = (1..=100).collect();
    /// pool.scope(|s| {
    ///     let (left, right) = halves.split_at_mut(1);
    ///     let (a, b) = data.split_at(50);
    ///     s.spawn(move || left[0] = a.iter().sum()).unwrap();
    ///     s.spawn(move || right[0] = b.iter().sum()).unwrap();
    /// });
    /// assert_eq!(halves[0] + halves[1], 5050);
    /// ```
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        let core = Group::new(self.shared()).unwrap_or_else(|_| {
            // A closing pool: tasks would be refused anyway; the scope
            // still runs `f`, whose spawns return `Freed`.
            Group::on_any_pool(self.shared())
        });
        let scope = Scope {
            core,
            panic: Mutex::new(None),
            _scope: PhantomData,
            _env: PhantomData,
        };
        let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
        // Every task must be over before a borrow it holds ends: wait even
        // when `f` panicked. Only a task of this very scope could get
        // `Deadlock`, and none can call this.
        let _ = scope.core.wait_all();
        if let Some(payload) = scope.panic.lock().unwrap_or_else(|p| p.into_inner()).take() {
            panic::resume_unwind(payload);
        }
        match result {
            Ok(result) => result,
            Err(payload) => panic::resume_unwind(payload),
        }
    }
}

impl TaskGroup {
    /// Schedules `task` on the group's pool, counted in the group: the
    /// pool's [`Pool::schedule`] in every other way.
    ///
    /// ```
    /// let pool = workerpool::Pool::new(2).unwrap();
    /// let group = pool.group().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// group.spawn(move || tx.send("done").unwrap()).unwrap();
    /// group.wait().unwrap();
    /// assert_eq!(rx.try_recv().unwrap(), "done");
    /// ```
    pub fn spawn(&self, task: impl FnOnce() + Send + 'static) -> Result<(), Error> {
        self.core
            .spawn_closure(task, |shared| shared.blocking_policy())
    }

    /// Waits until every task of the group accepted before the call has
    /// finished or was cancelled (tasks others add meanwhile do not hold
    /// it: `pool_group_wait`). [`Error::Deadlock`] from a task of this
    /// group.
    ///
    /// ```
    /// let pool = workerpool::Pool::new(2).unwrap();
    /// let group = pool.group().unwrap();
    /// for _ in 0..4 {
    ///     group.spawn(|| std::thread::sleep(std::time::Duration::from_millis(1))).unwrap();
    /// }
    /// group.wait().unwrap();
    /// ```
    pub fn wait(&self) -> Result<(), Error> {
        self.core.wait(None)
    }

    /// As [`TaskGroup::wait`], at most `timeout`: [`Error::Timeout`] if
    /// the tasks have not finished by then.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = workerpool::Pool::new(1).unwrap();
    /// let group = pool.group().unwrap();
    /// group.spawn(|| std::thread::sleep(Duration::from_millis(20))).unwrap();
    /// assert_eq!(group.wait_timeout(Duration::ZERO), Err(workerpool::Error::Timeout));
    /// assert_eq!(group.wait_timeout(Duration::from_secs(60)), Ok(()));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.core.wait(Instant::now().checked_add(timeout))
    }
}

impl Drop for TaskGroup {
    fn drop(&mut self) {
        // From a task of the group this cannot wait for itself: the group's
        // pending tasks keep its memory alive, and they finish on their own.
        let _ = self.core.wait_all();
    }
}

impl std::fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskGroup")
            .field("pending", &self.core.stats().pending)
            .finish()
    }
}

/// The tasks of one [`Pool::scope`] call: they may borrow anything that
/// outlives `'env`. Made by [`Pool::scope`], which has an example.
pub struct Scope<'scope, 'env: 'scope> {
    core: Arc<Group>,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope> Scope<'scope, '_> {
    /// Schedules `task` on the pool (as [`Pool::schedule`]), to finish
    /// before the scope returns. A panic is kept and resumed by
    /// [`Pool::scope`] once every task has finished.
    ///
    /// ```
    /// let pool = workerpool::Pool::new(2).unwrap();
    /// let words = ["a", "bb", "ccc"];
    /// let total = std::sync::atomic::AtomicUsize::new(0);
    /// pool.scope(|s| {
    ///     for w in &words {
    ///         let total = &total;
    ///         s.spawn(move || { total.fetch_add(w.len(), std::sync::atomic::Ordering::Relaxed); }).unwrap();
    ///     }
    /// });
    /// assert_eq!(total.into_inner(), 6);
    /// ```
    pub fn spawn<F>(&'scope self, task: F) -> Result<(), Error>
    where
        F: FnOnce() + Send + 'scope,
    {
        let panic_slot = &self.panic;
        let task = move || {
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(task)) {
                let mut first = panic_slot.lock().unwrap_or_else(|p| p.into_inner());
                first.get_or_insert(payload);
            }
        };
        let task: Box<dyn FnOnce() + Send + 'scope> = Box::new(task);
        // SAFETY: only the lifetime changes. `Pool::scope` returns only
        // after the group has no pending task, and a task stops being
        // pending only after it ran or was dropped (its ticket settles
        // last, `group.rs`), so nothing `task` borrows is used after
        // `'scope` ends.
        let task: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(task) };
        self.core
            .spawn_closure(task, |shared| shared.blocking_policy())
    }
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}
