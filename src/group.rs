//! Task groups: wait for a subset of a pool's tasks (`pool_group_*`).
//!
//! # What a group task costs
//!
//! A group's C task travels as any job (`job.rs`): its function and
//! argument in the payload, and as its kind one of two tables inside the
//! group, so the job stays three words and the worker finds the group
//! from the table's address. The schedule adds one to a count of the
//! group (one `fetch_add`), the finished task subtracts one (one
//! `fetch_add` that also counts it completed). Tasks outside groups pay
//! nothing: the run goes through the kind's table, as a closure's does.
//!
//! # Generations: which tasks a wait waits for
//!
//! A wait must not wait for tasks scheduled after it began, however many
//! arrive. The group keeps two counts, one per generation parity, and a
//! generation number (`epoch`); a schedule reads the epoch and counts its
//! task in that generation's count. A wait that begins in generation `g`
//! waits until generations `g - 1` and `g` have no pending task: once
//! `g - 1` has drained it moves the epoch to `g + 1` (under the group's
//! lock; only waits move it), so that later schedules go to the other
//! count, then waits for `g`'s count to drain. The epoch moves from `g` to
//! `g + 1` only once `g - 1`'s count (the one reused) is empty, so a count
//! never holds tasks of two live generations. Bounds: a wait waits for the
//! tasks accepted before it, and at most for those accepted while an older
//! generation drained, plus any whose schedule read the epoch just before
//! it moved (a schedule concurrent with the wait).
//!
//! # Why no wake-up is lost
//!
//! Each count's `fetch_add`s are totally ordered; the one that brings a
//! count to zero (a task finished, was cancelled, or a refused schedule
//! gave its count back) takes the group's lock and notifies. A wait reads
//! the counts under that lock before it sleeps on the condition variable
//! (which releases the lock atomically): either it sees zero, or the
//! notifier takes the lock after it sleeps. A worker waiting while it
//! helps (below) sleeps with the pool's sleepers instead: it says so in
//! `helpers` (`SeqCst`) before it looks at the counts, and the notifier
//! reads `helpers` after its own `fetch_add` and then wakes the pool's
//! sleepers (both `SeqCst`: one of the two sees the other).
//!
//! # The group's memory
//!
//! The handle holds one reference (`Arc`), and the pending tasks of each
//! generation together hold one: taken by the schedule that brings the
//! count from 0 to 1 (before the task can run), dropped by whoever brings
//! it back to 0, after it notified. So a finished task never touches a
//! group that is gone, `pool_group_free` only waits for the counts and
//! drops the handle's reference, and a group may outlive its pool (it
//! holds the pool's `Shared`, where later schedules are refused).
//!
//! # Waiting from a worker
//!
//! A worker of the pool that waits for a group (a task doing fork-join)
//! runs the pool's queued tasks meanwhile, so the pool cannot starve (a
//! pool of one worker whose task waits for its children would deadlock).
//! When the queue is empty it sleeps as one of the pool's sleepers, so
//! that a new task wakes it as it would wake an idle worker (`sleep.rs`).
//! A task of the group that waits for its own group would wait for itself:
//! `Deadlock` (the tasks a thread is running are kept in a thread-local
//! list).

use std::cell::Cell;
use std::ffi::c_int;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use crate::Error;
use crate::admission::WhenFull;
use crate::current;
use crate::job::{CTaskFn, Job, Kind, Panic, Payload, UserData};
use crate::shared::Shared;
use crate::sync::{AtomicU64, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering};

/// The pool's state as the group holds it (loom's `Arc` in the models).
type SharedRef = crate::sync::Arc<Shared>;

/// Low half of a count word: pending tasks of the generation; high half:
/// tasks of it completed, modulo 2^32 (`wraps` counts the turns).
const PENDING_MASK: u64 = (1 << 32) - 1;
const COMPLETED_ONE: u64 = 1 << 32;
/// A finished task: one more completed, one less pending, in one add.
const FINISHED: u64 = COMPLETED_ONE - 1;

/// A group's counters, for `pool_group_get_stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct GroupStats {
    pub(crate) submitted: u64,
    pub(crate) completed: u64,
    pub(crate) cancelled: u64,
    pub(crate) pending: u64,
}

struct Locked {
    /// The eventfd, once asked for; -1 before.
    fd: c_int,
}

/// A task group. Made in an `Arc`; `kinds` must stay the first field: a
/// job's kind pointer leads back to the group (`group_of`).
#[repr(C)]
pub(crate) struct Group {
    kinds: [Kind; 2],
    counts: [CachePadded<AtomicU64>; 2],
    /// Turns of each count's completed half (every 2^32 tasks).
    wraps: [AtomicU64; 2],
    epoch: AtomicU64,
    cancelled: AtomicU64,
    /// Workers waiting for this group among the pool's sleepers.
    helpers: AtomicUsize,
    shared: SharedRef,
    state: Mutex<Locked>,
    drained: Condvar,
}

const fn group_kind(parity: usize) -> Kind {
    Kind {
        run: run_grouped,
        drop: drop_grouped,
        cancel: Some(cancel_grouped),
        index: parity,
        internal: false,
    }
}

/// The group and the generation parity a kind pointer stands for.
///
/// # Safety
/// `kind` points into `kinds` of a live `Group`.
unsafe fn group_of<'a>(kind: *const Kind) -> (&'a Group, usize) {
    // SAFETY: `kinds` is the first field of a `repr(C)` group, so the
    // table of parity `index` lies `index` tables past the group's
    // address; the pointer was made from the whole group (`schedule`), so
    // it may reach all of it. The group is live per the contract (the
    // task's generation holds a reference).
    unsafe {
        let parity = (*kind).index;
        (&*kind.sub(parity).cast::<Group>(), parity)
    }
}

thread_local! {
    /// The innermost group task this thread runs (a list through the
    /// stack frames of `run_grouped` and `Ticket::run`), for `Deadlock`.
    static RUNNING: Cell<*const Running> = const { Cell::new(std::ptr::null()) };
    /// Set while `pool_cancel_queued` drops tasks it removed: a Rust
    /// group task dropped then counts as cancelled, not as refused.
    static CANCELLING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `drop_them` (which drops removed tasks) with Rust group tasks
/// counted as cancelled.
pub(crate) fn as_cancelled<R>(drop_them: impl FnOnce() -> R) -> R {
    CANCELLING.with(|c| c.set(true));
    let result = drop_them();
    CANCELLING.with(|c| c.set(false));
    result
}

/// A Rust closure's place in a group (`Group::spawn_closure`): settles
/// the count once, finished when run (or when the closure panicked), else
/// cancelled or refused when dropped unrun. The generation's reference
/// keeps the group alive while a ticket exists (module docs).
pub(crate) struct Ticket {
    group: NonNull<Group>,
    parity: usize,
}

// SAFETY: a ticket only reaches the group's atomics and lock (`Group` is
// `Sync`), from whichever thread runs or drops the task.
unsafe impl Send for Ticket {}

impl Ticket {
    /// Runs `task` as a task of the group (known as one for `Deadlock`),
    /// then counts it finished, also if it panics.
    pub(crate) fn run<R>(self, task: impl FnOnce() -> R) -> R {
        let node = Running {
            group: self.group.as_ptr(),
            outer: RUNNING.with(Cell::get),
        };
        RUNNING.with(|r| r.set(&node));
        // Restores the list and settles on the way out, panicking or not.
        struct Leave(ManuallyDrop<Ticket>, *const Running);
        impl Drop for Leave {
            fn drop(&mut self) {
                RUNNING.with(|r| r.set(self.1));
                let (group, parity) = (self.0.group, self.0.parity);
                // SAFETY: alive while the ticket exists (module docs); the
                // ticket itself is never dropped (`ManuallyDrop`), so it
                // does not settle again.
                unsafe { group.as_ref() }.settle(parity, FINISHED);
            }
        }
        let outer = node.outer;
        let leave = Leave(ManuallyDrop::new(self), outer);
        let result = task();
        drop(leave);
        result
    }
}

/// A Rust closure of a group and its ticket: dropped unrun, the closure
/// (and whatever it captured) goes first, then the ticket settles, so a
/// scope (`scope.rs`) that sees the count at zero knows no borrow of the
/// closure is still in use.
struct GroupTask<F> {
    task: ManuallyDrop<F>,
    ticket: ManuallyDrop<Ticket>,
}

impl<F: FnOnce()> GroupTask<F> {
    fn run(self) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: each field is taken once, and `this` is never dropped.
        let (task, ticket) = unsafe {
            (
                ManuallyDrop::take(&mut this.task),
                ManuallyDrop::take(&mut this.ticket),
            )
        };
        ticket.run(task);
    }
}

impl<F> Drop for GroupTask<F> {
    fn drop(&mut self) {
        // SAFETY: dropped once each, in this order; `run` bypasses this.
        unsafe {
            ManuallyDrop::drop(&mut self.task);
            ManuallyDrop::drop(&mut self.ticket);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Reached only for a ticket whose task never ran (`run` keeps it
        // in a `ManuallyDrop`): cancelled, or refused.
        // SAFETY: alive while the ticket exists (module docs).
        let group = unsafe { self.group.as_ref() };
        if CANCELLING.with(Cell::get) {
            group.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        group.settle(self.parity, u64::MAX);
    }
}

struct Running {
    group: *const Group,
    outer: *const Running,
}

/// Whether the calling thread is inside a task of `group`.
fn inside_task_of(group: &Group) -> bool {
    let mut node = RUNNING.with(Cell::get);
    while !node.is_null() {
        // SAFETY: each node lives in a `run_grouped` frame still on this
        // thread's stack (it unlinks itself before returning).
        let running = unsafe { &*node };
        if std::ptr::eq(running.group, group) {
            return true;
        }
        node = running.outer;
    }
    false
}

/// # Safety
/// `kind` is a table of a live group and `payload` holds a C task written
/// by `Job::grouped_c`, not taken yet.
unsafe fn run_grouped(kind: *const Kind, payload: *mut Payload) -> Result<(), Panic> {
    // SAFETY: the caller's contract.
    let ((group, parity), (func, arg)) = unsafe { (group_of(kind), Job::take_c_task(payload)) };
    let node = Running {
        group,
        outer: RUNNING.with(Cell::get),
    };
    RUNNING.with(|r| r.set(&node));
    // SAFETY: a C caller's `pool_group_schedule` contract: `func(arg)` may
    // be called once on a worker. A C function cannot unwind.
    unsafe { func(arg.get()) };
    RUNNING.with(|r| r.set(node.outer));
    group.settle(parity, FINISHED);
    Ok(())
}

/// # Safety
/// As for `run_grouped`.
unsafe fn drop_grouped(kind: *const Kind, payload: *mut Payload) {
    // A refused schedule: never accepted, so neither completed nor
    // cancelled.
    // SAFETY: the caller's contract.
    let ((group, parity), _) = unsafe { (group_of(kind), Job::take_c_task(payload)) };
    group.settle(parity, u64::MAX); // -1 pending
}

/// # Safety
/// As for `run_grouped`.
unsafe fn cancel_grouped(kind: *const Kind, payload: *mut Payload) -> (CTaskFn, UserData) {
    // SAFETY: the caller's contract.
    let ((group, parity), task) = unsafe { (group_of(kind), Job::take_c_task(payload)) };
    group.cancelled.fetch_add(1, Ordering::Relaxed);
    group.settle(parity, u64::MAX);
    task
}

impl Group {
    /// A group on the pool `shared`. `Freed` once it is closing.
    pub(crate) fn new(shared: &SharedRef) -> Result<Arc<Group>, Error> {
        if shared.is_closing() {
            return Err(Error::Freed);
        }
        Ok(Group::on_any_pool(shared))
    }

    /// A group on `shared` whatever its state (a closing pool refuses its
    /// schedules with `Freed`).
    pub(crate) fn on_any_pool(shared: &SharedRef) -> Arc<Group> {
        Arc::new(Group {
            kinds: [group_kind(0), group_kind(1)],
            counts: [
                CachePadded::new(AtomicU64::new(0)),
                CachePadded::new(AtomicU64::new(0)),
            ],
            wraps: [AtomicU64::new(0), AtomicU64::new(0)],
            epoch: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            helpers: AtomicUsize::new(0),
            shared: SharedRef::clone(shared),
            state: Mutex::new(Locked { fd: -1 }),
            drained: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Locked> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending_of(&self, parity: usize) -> u64 {
        self.counts[parity].load(Ordering::SeqCst) & PENDING_MASK
    }

    /// Pending tasks of both generations.
    fn pending(&self) -> u64 {
        self.pending_of(0) + self.pending_of(1)
    }

    /// Schedules the C task `func(arg)` on the group's pool, counted in the
    /// group. The pool's admission, statuses and inline rule.
    pub(crate) fn schedule(
        self: &Arc<Group>,
        func: CTaskFn,
        arg: UserData,
        when_full: impl FnOnce(&Shared) -> WhenFull,
    ) -> Result<(), Error> {
        let parity = self.count_task()?;
        // From the whole group's address, so that the worker may go back
        // from the table to the group (`group_of`).
        let group: *const Group = Arc::as_ptr(self);
        // SAFETY: `kinds` is a field of the live group; `parity` < 2.
        let kind = unsafe {
            NonNull::new_unchecked(std::ptr::addr_of!((*group).kinds[parity]).cast_mut())
        };
        let job = Job::grouped_c(kind, func, arg);
        let shared = &self.shared;
        // SAFETY: the group's `Arc<Shared>` keeps the pool's state alive
        // for the whole call.
        unsafe { Shared::submit(SharedRef::as_ptr(shared), job, when_full(shared)) }
    }

    /// Schedules the closure `task` on the group's pool, counted in the
    /// group (as `schedule` does for a C task).
    pub(crate) fn spawn_closure(
        self: &Arc<Group>,
        task: impl FnOnce() + Send + 'static,
        when_full: impl FnOnce(&Shared) -> WhenFull,
    ) -> Result<(), Error> {
        let parity = self.count_task()?;
        let ticket = Ticket {
            group: NonNull::from(&**self),
            parity,
        };
        let task = GroupTask {
            task: ManuallyDrop::new(task),
            ticket: ManuallyDrop::new(ticket),
        };
        let job = Job::closure(move || task.run());
        let shared = &self.shared;
        // SAFETY: the group's `Arc<Shared>` keeps the pool's state alive
        // for the whole call.
        unsafe { Shared::submit(SharedRef::as_ptr(shared), job, when_full(shared)) }
    }

    /// Counts a task about to be scheduled in the current generation;
    /// returns the generation's parity. The task must then be run or
    /// dropped (its kind's functions settle the count).
    fn count_task(self: &Arc<Group>) -> Result<usize, Error> {
        let parity = (self.epoch.load(Ordering::SeqCst) & 1) as usize;
        let before = self.counts[parity].fetch_add(1, Ordering::SeqCst);
        if before & PENDING_MASK == PENDING_MASK {
            // 2^32 - 1 pending tasks in one generation: refused, never
            // carried into the completed half.
            self.counts[parity].fetch_sub(1, Ordering::SeqCst);
            return Err(Error::NoIdleWorker);
        }
        if before & PENDING_MASK == 0 {
            // The generation's pending tasks hold the group (module docs).
            std::mem::forget(Arc::clone(self));
        }
        Ok(parity)
    }

    /// Applies `change` (a finished task, or -1 pending) to the count of
    /// generation `parity`; the change that brings it to zero notifies and
    /// drops the reference the generation held. Nothing of the group is
    /// touched after a change that does not bring it to zero.
    fn settle(&self, parity: usize, change: u64) {
        let before = self.counts[parity].fetch_add(change, Ordering::SeqCst);
        if change == FINISHED && before >> 32 == PENDING_MASK {
            self.wraps[parity].fetch_add(1, Ordering::Relaxed);
        }
        if before & PENDING_MASK != 1 {
            return;
        }
        {
            let state = self.lock();
            self.drained.notify_all();
            if state.fd >= 0 && self.pending() == 0 {
                signal_fd(state.fd);
            }
        }
        if self.helpers.load(Ordering::SeqCst) > 0 {
            self.shared.wake_helpers();
        }
        let this: *const Group = self;
        // SAFETY: the reference taken when this count left zero (module
        // docs), given up last, after every use of `self` above.
        unsafe { Arc::decrement_strong_count(this) };
    }

    /// Whether a wait begun in generation `g` may return, moving the epoch
    /// when `g - 1` has drained (under the lock, module docs).
    fn done_for(&self, g: u64, _locked: &mut MutexGuard<'_, Locked>) -> bool {
        loop {
            let epoch = self.epoch.load(Ordering::SeqCst);
            if epoch > g + 1 {
                return true;
            }
            if epoch == g + 1 {
                return self.pending_of((g & 1) as usize) == 0;
            }
            // epoch == g: the older generation's count must be empty.
            if self.pending_of(((g + 1) & 1) as usize) != 0 {
                return false;
            }
            if self.pending_of((g & 1) as usize) == 0 {
                // Nothing to wait for: no need to move the epoch.
                return true;
            }
            self.epoch.store(g + 1, Ordering::SeqCst);
        }
    }

    /// `pool_group_wait`: until the tasks accepted before the call have
    /// finished or were cancelled, or `deadline` (`None`: for ever; passed:
    /// polls). `Deadlock` from a task of this group.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Result<(), Error> {
        if inside_task_of(self) {
            return Err(Error::Deadlock);
        }
        let g = self.epoch.load(Ordering::SeqCst);
        if current::is_worker_of(&self.shared) && self.shared.can_help() {
            return self.wait_helping(g, deadline);
        }
        let mut locked = self.lock();
        loop {
            if self.done_for(g, &mut locked) {
                return Ok(());
            }
            let now = Instant::now();
            locked = match deadline {
                None => self.drained.wait(locked).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) if now >= deadline => return Err(Error::Timeout),
                Some(deadline) => {
                    self.drained
                        .wait_timeout(locked, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// A worker of the pool waits: runs queued tasks meanwhile, and sleeps
    /// among the pool's sleepers when there is none.
    fn wait_helping(&self, g: u64, deadline: Option<Instant>) -> Result<(), Error> {
        let done = || self.done_for(g, &mut self.lock());
        loop {
            if done() {
                return Ok(());
            }
            if self.shared.help_once() {
                continue;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout);
            }
            self.helpers.fetch_add(1, Ordering::SeqCst);
            self.shared.sleep_as_helper(&done, deadline);
            self.helpers.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// `pool_group_fd`: the group's eventfd, made on the first call.
    pub(crate) fn fd(&self) -> Result<c_int, std::io::Error> {
        let mut state = self.lock();
        if state.fd < 0 {
            // SAFETY: plain system call; the fd is owned by the group and
            // closed by its drop.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            state.fd = fd;
            // Readable at once if nothing is pending now.
            if self.pending() == 0 {
                signal_fd(fd);
            }
        }
        Ok(state.fd)
    }

    pub(crate) fn stats(&self) -> GroupStats {
        let mut stats = GroupStats {
            cancelled: self.cancelled.load(Ordering::Relaxed),
            ..GroupStats::default()
        };
        for parity in 0..2 {
            let word = self.counts[parity].load(Ordering::SeqCst);
            let wraps = self.wraps[parity].load(Ordering::Relaxed);
            stats.pending += word & PENDING_MASK;
            stats.completed += (wraps << 32) + (word >> 32);
        }
        stats.submitted = stats.completed + stats.cancelled + stats.pending;
        stats
    }

    /// `pool_group_free`'s wait: for every pending task (`Deadlock` from a
    /// task of the group), then for the last of them to let go of the
    /// group, so that dropping the handle releases it (and closes its fd)
    /// at once.
    pub(crate) fn wait_all(self: &Arc<Group>) -> Result<(), Error> {
        if inside_task_of(self) {
            return Err(Error::Deadlock);
        }
        // Each wait returns once a generation has drained; tasks that the
        // group's own tasks add meanwhile are waited for on the next turn.
        // Once none is pending none can be added: only the handle's owner,
        // who is here, or a task of the group could.
        while self.pending() > 0 {
            self.wait(None)?;
        }
        // The task that drained the last generation drops its reference
        // right after it notified (`settle`): a few instructions.
        while Arc::strong_count(self) > 1 {
            std::thread::yield_now();
        }
        Ok(())
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let fd = self.state.get_mut().unwrap_or_else(|p| p.into_inner()).fd;
        if fd >= 0 {
            // SAFETY: the group's own eventfd, closed once.
            unsafe { libc::close(fd) };
        }
    }
}

/// Makes the eventfd readable (adds 1; reading its 8 bytes clears it).
fn signal_fd(fd: c_int) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to the group's eventfd. A
    // full counter (EAGAIN, after 2^64 - 2 unread signals) is already
    // readable.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// Model checks of the generation counts, the epoch's move and the wait's
/// wake-up, on the shipped `Group` (its locks and atomics come from
/// `crate::sync`): `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.
#[cfg(all(test, loom))]
mod loom_models {
    use std::sync::Arc;

    use super::{FINISHED, Group};
    use crate::builder::Config;
    use crate::shared::Shared;
    use crate::sync::{AtomicBool, Ordering};

    fn group() -> Arc<Group> {
        let config = Config {
            block: true,
            prealloc: false,
            queue_limit: u64::MAX,
            idle_timeout: None,
            stack_size: None,
            thread_name: "loom".to_owned(),
            on_start: None,
            on_exit: None,
            panic_handler: None,
        };
        let shared = loom::sync::Arc::new(Shared::new(1, config));
        Group::new(&shared).unwrap()
    }

    /// A task counted before two waits begin finishes on another thread
    /// while a third thread counts and finishes another: both waits return
    /// (no lost wake-up, whichever of them moves the epoch), and neither
    /// before the first task finished. Then nothing holds the group but
    /// its handle.
    #[test]
    fn loom_group_waits_return_once_earlier_tasks_finished() {
        let mut model = crate::sync::loom_model();
        model.preemption_bound = Some(2);
        model.check(|| {
            let group = group();
            let first = group.count_task().unwrap();
            let first_done = Arc::new(AtomicBool::new(false));
            let finisher = {
                let (group, done) = (Arc::clone(&group), Arc::clone(&first_done));
                loom::thread::spawn(move || {
                    done.store(true, Ordering::SeqCst);
                    group.settle(first, FINISHED);
                })
            };
            let other = {
                let group = Arc::clone(&group);
                loom::thread::spawn(move || {
                    let parity = group.count_task().unwrap();
                    group.settle(parity, FINISHED);
                })
            };
            let second_waiter = {
                let (group, done) = (Arc::clone(&group), Arc::clone(&first_done));
                loom::thread::spawn(move || {
                    group.wait(None).unwrap();
                    assert!(done.load(Ordering::SeqCst), "returned before its task");
                })
            };
            group.wait(None).unwrap();
            assert!(
                first_done.load(Ordering::SeqCst),
                "returned before its task"
            );
            for thread in [finisher, other, second_waiter] {
                thread.join().unwrap();
            }
            assert_eq!(group.stats().pending, 0);
            assert_eq!(group.stats().completed, 2);
            assert_eq!(Arc::strong_count(&group), 1);
        });
    }
}
