//! A worker's life, the same in every mode: started (counted live and
//! starting), its `on_start` hook, then tasks from the delivery until it
//! leaves (uncounted by the delivery's or the retirement's decision), then
//! `on_exit` and a join. Also the pool-wide steps of that life: starting
//! workers outside admission (preallocation, growing a preallocated pool),
//! shrinking, closing and shutdown.
//!
//! `worker.rs` runs this on the worker thread; the delivery (`queue_mode.rs`
//! or `hand_off.rs`) answers the one question that differs: what the idle
//! worker does next.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::job::{Job, Outcome};
use crate::shared::{Delivery, Shared, WorkerSlot};
use crate::sleep;
use crate::thread::Thread;
use crate::waiters::Reason;
use crate::{Error, worker};

impl Shared {
    /// A new handle on this pool's `Arc`, for a worker thread.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn arc(&self) -> Arc<Shared> {
        let this: *const Shared = self;
        // SAFETY: every `Shared` is made inside an `Arc` (`Pool::from_config`)
        // and is alive while borrowed; the count is raised before the new
        // handle is made, so the two drops balance.
        unsafe {
            Arc::increment_strong_count(this);
            Arc::from_raw(this)
        }
    }

    /// What the worker numbered `number` on seat `seat` carries from task
    /// to task.
    pub(crate) fn worker_slot(&self, number: usize, seat: usize) -> WorkerSlot<'_> {
        WorkerSlot {
            tally: self.done.claim(number),
            seat,
            line: self.seats.line(seat),
            // Not a count ever reached: the first look checks, in case the
            // pool shrank between this worker's admission and its start.
            shrinks_seen: u64::MAX,
        }
    }

    /// A worker thread runs under its name: about to run its `on_start`
    /// hook, or (without one) ready for tasks.
    pub(crate) fn worker_started(&self) {
        let mut starts = self.started.lock().unwrap_or_else(|p| p.into_inner());
        starts.count += 1;
        // A notification is a system call: only for a waiting build or grow.
        if starts.waiting > 0 {
            self.all_started.notify_all();
        }
    }

    /// Waits until `workers` worker threads (since the pool was built) have
    /// begun to run. Not until their `on_start` hooks ran: a hook may wait
    /// for the thread that builds the pool (say, for a lock it holds, like
    /// Python's GIL). Several threads may wait at once (concurrent grows).
    pub(crate) fn wait_started(&self, workers: usize) {
        let mut starts = self.started.lock().unwrap_or_else(|p| p.into_inner());
        starts.waiting += 1;
        starts = self
            .all_started
            .wait_while(starts, |starts| starts.count < workers)
            .unwrap_or_else(|p| p.into_inner());
        starts.waiting -= 1;
    }

    /// Runs a worker's `on_start` hook (`run`), counted in `in_start_hook`
    /// meanwhile: a shrink does not wait for such a worker, whose hook may
    /// wait for the shrinking thread.
    pub(crate) fn counting_start_hook(&self, run: impl FnOnce()) {
        self.in_start_hook.fetch_add(1, Ordering::SeqCst);
        // The shrink may be waiting for this worker, which it counted as
        // idle until now.
        self.waiters.roster_changed();
        run();
        self.in_start_hook.fetch_sub(1, Ordering::SeqCst);
    }

    /// The worker's `on_start` hook returned (or there was none): it takes
    /// tasks from now on.
    pub(crate) fn start_hook_done(&self, me: &mut WorkerSlot) {
        self.uncount_starting();
        if let Delivery::HandOff = self.delivery {
            self.open_line_after_start(me);
        }
        // A scheduler may have found the pool full while this worker was in
        // its hook (in hand-off mode its line was not claimable), and a
        // shrink may be waiting to see it idle.
        self.waiters.room_made();
        if self.config.on_start.is_none() {
            // Without a hook, a build waits until now (`worker::run`).
            self.worker_started();
        }
    }

    /// The worker's next task from the delivery, or `None` when it must
    /// leave (then already uncounted).
    #[inline]
    pub(crate) fn next_job(&self, me: &WorkerSlot) -> Option<Job> {
        match &self.delivery {
            Delivery::Queue { .. } => self.next_queued(me),
            Delivery::HandOff => self.next_handed(me),
        }
    }

    /// The worker took a task: after a shrink it is no longer idle, which
    /// the shrink's wait may be waiting to see.
    pub(crate) fn task_starts(&self, me: &WorkerSlot) {
        if self.limits.shrinks.load(Ordering::Acquire) != me.shrinks_seen {
            self.waiters.roster_changed();
        }
    }

    /// A worker finished a task. Returns true when the worker retires
    /// because the pool shrank below its live workers (then it is
    /// uncounted). Writes the worker's seat and completion lane; reads the
    /// counts only after a shrink.
    ///
    /// Order: the task is counted done, then (hand-off) the line reopens,
    /// then the seat's mark is cleared, so a waiter that sees the mark gone
    /// finds the task counted in the stats and the worker idle. Once the
    /// line is open a claim may give the seat a new mark: the clear then
    /// leaves it (`Mailbox::clear_mark_if`).
    #[inline]
    pub(crate) fn task_done(&self, outcome: Outcome, me: &mut WorkerSlot) -> bool {
        self.count_panic(outcome);
        // The task's mark: only this worker writes it until (hand-off) the
        // line reopens.
        let seat = me.line;
        let mark = seat.held_mark();
        self.done.record(&me.tally);
        let retires = self.retires_after_task(me);
        match self.delivery {
            Delivery::Queue { .. } => seat.clear_mark(),
            Delivery::HandOff => {
                if !retires {
                    self.reopen_line(me);
                }
                seat.clear_mark_if(mark);
            }
        }
        self.waiters
            .task_gone(|bounds| self.may_end_a_wait(mark, bounds));
        retires
    }

    /// After a task: whether the worker leaves because the pool shrank
    /// below its live workers (then it is uncounted).
    fn retires_after_task(&self, me: &mut WorkerSlot) -> bool {
        // Still too many workers: if this one cannot go yet, the next task
        // checks again.
        self.above_capacity_after_shrink(me, Ordering::Acquire) && self.try_retire()
    }

    /// Whether a shrink came since the worker last found the pool within
    /// its capacity, and the pool is still above it. Reads only the shrink
    /// count (with `order`) unless one came.
    pub(crate) fn above_capacity_after_shrink(&self, me: &mut WorkerSlot, order: Ordering) -> bool {
        let shrinks = self.limits.shrinks.load(order);
        if shrinks == me.shrinks_seen {
            return false;
        }
        if self.counts.load().live() <= self.cap() {
            me.shrinks_seen = shrinks;
            return false;
        }
        true
    }

    /// Leaves the pool if it has more live workers than capacity, unless a
    /// sleeper would then have to be woken for the pending tasks (the
    /// worker keeps working and retires later, when idle).
    pub(crate) fn try_retire(&self) -> bool {
        let cap = self.cap();
        let starting = self.starting();
        self.counts
            .update(|c| {
                let ready = c.awake().saturating_sub(starting);
                let covered = c.sleeping() == 0 || c.pending(self.done.read()) < ready;
                (c.live() > cap && covered).then(|| (c.without_worker(), ()))
            })
            .is_ok()
    }

    /// The worker left the counts (its delivery or `try_retire` decided):
    /// a blocked scheduler may start a worker in its place, and a shrink
    /// may be waiting for it. Then its seat goes back.
    pub(crate) fn worker_leaves(&self, me: &WorkerSlot) {
        self.waiters.room_made();
        self.seats.give_back(me.seat);
    }

    /// A worker is about to return from its thread; `register` joins it at
    /// the next spawn, `shutdown` in any case.
    pub(crate) fn worker_departed(&self, me: WorkerSlot) {
        self.done.release(me.tally);
        self.departed.fetch_add(1, Ordering::SeqCst);
        // A `pool_shutdown` may be waiting for every thread to return.
        self.waiters.roster_changed();
    }

    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn register(&self, thread: Thread) {
        self.spawned.fetch_add(1, Ordering::Relaxed);
        let freed_stacks = {
            let mut handles = self.handles.lock().unwrap_or_else(|p| p.into_inner());
            handles.push(thread);
            // Join threads that expired or retired, so a long-running pool
            // with idle expiry keeps a bounded list. Only when some left:
            // scanning on every spawn made starting n workers O(n^2).
            if self.departed.load(Ordering::Relaxed) == 0 {
                return;
            }
            let mut freed_stacks = Vec::new();
            let mut running = Vec::with_capacity(handles.len());
            for thread in handles.drain(..) {
                match thread.try_join() {
                    Ok(stack) => freed_stacks.push(stack),
                    Err(thread) => running.push(thread),
                }
            }
            *handles = running;
            // A worker counts itself as departed just before it returns, so
            // a few may not have exited yet: they are joined next time.
            self.departed
                .fetch_sub(freed_stacks.len(), Ordering::Relaxed);
            freed_stacks
        };
        // The pool lives on: the stacks' pages go back to the OS.
        for stack in freed_stacks {
            self.stacks.give_back(stack, true);
        }
    }

    /// Starts one worker outside admission (preallocation, growing a
    /// preallocated pool) if the pool is below capacity and open. Returns
    /// whether one was started; `Spawn` when the OS refused the thread.
    pub(crate) fn start_extra_worker(&self) -> Result<bool, Error> {
        self.start_worker_unless(|c| c.closing())
    }

    /// `start_extra_worker`, refusing when `refuse` says so of the counts
    /// (a resume at closing starts workers for the backlog: `pause.rs`).
    pub(crate) fn start_worker_unless(
        &self,
        refuse: impl Fn(crate::counts::Counts) -> bool,
    ) -> Result<bool, Error> {
        self.count_starting();
        let cap = self.cap();
        let reserved = self
            .counts
            .update(|c| (!refuse(c) && c.live() < cap).then(|| (c.with_worker(), ())));
        if reserved.is_err() {
            self.uncount_starting();
            return Ok(false);
        }
        if worker::spawn(self, None).is_err() {
            self.counts.remove_worker();
            self.uncount_starting();
            self.waiters.room_made();
            return Err(Error::Spawn);
        }
        Ok(true)
    }

    /// Starts up to `most` workers, stopping once the pool has its capacity
    /// (preallocation: `most` is the capacity, or what a grow added), and
    /// returns once each runs under its name. At most `most`: with a short
    /// idle timeout, workers may expire as fast as they are started.
    pub(crate) fn start_up_to_capacity(&self, most: usize) -> Result<(), Error> {
        let mut result = Ok(());
        for _ in 0..most {
            match self.start_extra_worker() {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    result = Err(error);
                    break;
                }
            }
        }
        // A started thread names itself when it first runs: until then a
        // caller listing its threads (/proc, gdb) would not find them all.
        let spawned = self.started_threads();
        self.wait_started(spawned);
        result
    }

    /// Threads started so far (each runs `worker_started` soon).
    fn started_threads(&self) -> usize {
        self.spawned.load(Ordering::Relaxed)
    }

    pub(crate) fn set_capacity(&self, capacity: usize) -> Result<(), Error> {
        if self.is_closing() {
            return Err(Error::Freed);
        }
        let old = self.limits.capacity.swap(capacity, Ordering::SeqCst);
        if capacity > old {
            self.waiters.wake_all();
            if self.config.prealloc {
                return self.start_up_to_capacity(capacity - old);
            }
        } else if capacity < old {
            // Busy workers retire after their task (`task_done` sees the
            // bump); idle ones are asked, as many as must go.
            self.limits.shrinks.fetch_add(1, Ordering::SeqCst);
            let excess = self.counts.load().live().saturating_sub(capacity as u64);
            match &self.delivery {
                // A worker between its last look for a task and its sleep
                // reads the new capacity when it decides, under the lock
                // these claims take (`Sleepers::idle`), and leaves by itself.
                Delivery::Queue { .. } => {
                    self.wake_sleepers_to_retire(excess);
                    // Workers waiting for a resume retire from there.
                    self.pause.wake_workers();
                }
                Delivery::HandOff => {
                    self.seats.ask_to_retire(excess);
                }
            }
            self.wait_for_idle_to_retire();
        }
        Ok(())
    }

    /// After a shrink: returns once the pool is within its capacity or no
    /// worker above it is idle, so that `stats.workers` shows the idle ones
    /// gone when `set_capacity` returns ("retires idle workers at once").
    ///
    /// Why it ends: an idle worker (awake without a task, not in its hook)
    /// is looking for a task or was asked to retire. With a queue, within
    /// its spin it reaches `Sleepers::idle`, which reads the capacity under
    /// the lock and, the pool being above it, uncounts the worker. In
    /// hand-off mode its line was asked (`hand_off.rs`). Each such exit
    /// lowers `live`, and wakes this wait (`Waiters::room_made`); an idle
    /// worker that takes a task instead wakes it too (`task_starts`), as
    /// does a hook returning. Busy workers are not waited for (API.md:
    /// "after their current task"), nor those inside `on_start`, which may
    /// be waiting for the caller (a worker started but not yet in its hook
    /// is waited for: it reaches its first look for a task, or its hook,
    /// which wakes this wait). Once the pool is closing the wait ends too:
    /// every worker leaves anyway.
    fn wait_for_idle_to_retire(&self) {
        let poll = || {
            let above = sleep::idle_above_capacity(
                &self.counts,
                &self.done,
                self.cap(),
                self.in_start_hook.load(Ordering::SeqCst) as u64,
            );
            (!above).then_some(())
        };
        if poll().is_none() {
            self.waiters.sleep_until(Reason::Roster, None, poll);
        }
    }

    /// Stops admissions and wakes blocked schedulers, which return `Freed`.
    pub(crate) fn begin_close(&self) {
        self.counts.close();
        // Closing resumes a paused pool: accepted tasks run.
        self.resume();
        self.waiters.wake_all();
        match &self.delivery {
            Delivery::Queue { .. } => self.wake_sleepers_for_closing(),
            Delivery::HandOff => self.seats.wake_for_closing(),
        }
    }

    /// The last handle was dropped on a worker, and no thread could be
    /// started to shut the pool down: the last worker to leave will.
    pub(crate) fn owe_shutdown(&self) {
        self.shutdown_owed.store(true, Ordering::SeqCst);
        self.begin_close();
    }

    /// Called by every worker once it left: if a shutdown is owed and this
    /// is the last worker, it runs it, joining every other worker and
    /// detaching itself (`Thread::detach`). Each worker checks after its own
    /// uncount, so the last one to be uncounted sees none live.
    pub(crate) fn shutdown_if_owed(&self) {
        if !self.shutdown_owed.load(Ordering::SeqCst)
            || self.counts.load().live() > 0
            || self.reaping.swap(true, Ordering::SeqCst)
        {
            return;
        }
        self.join_workers_and_callers();
    }

    /// Closes, lets the workers run every accepted task, joins them, and
    /// waits for the last callers inside the gate.
    pub(crate) fn shutdown(&self) {
        self.begin_close();
        self.join_workers_and_callers();
    }

    /// Shutdown's second half, once closing: joins every worker (a worker
    /// running this, for `shutdown_if_owed`, detaches itself instead), then
    /// waits for the last callers inside the gate.
    fn join_workers_and_callers(&self) {
        // A task admitted just before closing may start a worker while we
        // join: take the list again until it stays empty. Pending is read
        // first: a scheduler starts a worker only while its task is counted,
        // so once nothing is pending no handle can be added after the take.
        loop {
            let drained = self.drained();
            let handles =
                std::mem::take(&mut *self.handles.lock().unwrap_or_else(|p| p.into_inner()));
            if handles.is_empty() {
                if drained {
                    break;
                }
                // A fast-path schedule counted a task while closing began:
                // it gives it back within a few instructions.
                std::thread::yield_now();
                continue;
            }
            for thread in handles {
                if thread.is_current() {
                    thread.detach();
                } else {
                    thread.join(&self.stacks, false);
                }
            }
        }
        // A fast-path schedule that gave its task back finishes under a
        // gate pass it took before (`admission.rs`): wait for it, only now
        // that nothing is pending (the order `gate.rs` relies on).
        self.callers.close_and_wait();
    }
}
