//! Where threads sleep when they must wait for the workers: schedulers of a
//! full blocking pool (`room`), `wait` callers for their tasks to finish
//! (`done`), and a shrink for the idle workers above the new capacity to
//! leave (`roster`). Each sleeper polls its own condition; the events below
//! wake the sleepers whose condition they may have made true:
//!
//! * a task finished (`task_gone`): room for one scheduler, and any wait
//!   that task may end (below);
//! * a worker's seat stopped showing a task it never got (`seat_cleared`):
//!   any wait;
//! * a worker left the counts, or an idle line became claimable again
//!   (`room_made`): room for one scheduler, and the shrink;
//! * a worker's `on_start` hook returned, or a worker took a task after a
//!   shrink (`roster_changed`): the shrink.
//!
//! # Why no wake-up is lost
//!
//! The first sleeper raises `asleep` under the lock, then issues a `SeqCst`
//! fence, then polls (the poll reads the completions and the counts) and
//! blocks on a condition variable, which releases the lock atomically. A
//! worker that finished a task records it (`completions.rs`), issues a
//! `SeqCst` fence, then reads `asleep` (`task_gone`). The two fences are
//! ordered one way or the other: if the sleeper's came first, the worker
//! sees `asleep`, takes the lock (only possible once the sleeper has not
//! polled yet or is blocked) and notifies; if the worker's came first, the
//! sleeper's poll sees the completion. A scheduler that gives a counted
//! task back does the same after its change of the counts.
//!
//! `asleep` has a bit per kind of sleeper, so an event takes the lock only
//! when a sleeper it may wake is there. Workers pay one fence and one load
//! per task of a line that changes only when somebody starts or stops
//! waiting.
//!
//! # Which finished task wakes a wait
//!
//! A wait sleeps with its bound (`wait.rs`), and a least and a greatest
//! bound covering every sleeping wait's (those of the waits that arrived
//! since none slept) are published next to `asleep` (under the lock,
//! before the sleeper's fence). A worker whose finished task cannot
//! end any of them does not wake them: waking every wait on every task
//! made a pool drained under `pool_wait` pay a futex wake and a waiter's
//! poll per task (W2 in BENCHMARKS.md). The caller decides from the bounds
//! (`Shared::may_end_a_wait`): the task is below the greatest bound, and in
//! queue modes the queue's head has passed the least one. No wake-up is
//! lost: of the workers that finish the tasks below a bound `b` after the
//! sleeper's fence, the one whose fence comes last sees every pop of those
//! tasks (each sequenced before its popper's fence), so the head at or past
//! `b`, and wakes the wait, whose poll then sees every mark cleared; if
//! none finishes after the sleeper's fence, the sleeper's own poll sees
//! them all.

use std::time::Instant;

use crate::sync::{AtomicU8, AtomicU64, Condvar, Mutex, MutexGuard, Ordering, fence};

#[derive(Clone, Copy)]
pub(crate) enum Reason {
    Room,
    /// A wait, with its bound (`wait.rs`).
    Done(u64),
    Roster,
}

const ROOM: u8 = 1;
const DONE: u8 = 2;
const ROSTER: u8 = 4;

/// A least and a greatest bound of the sleeping waits (`u64::MAX` and 0
/// when none sleeps): every sleeping wait's bound lies between them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    pub(crate) least: u64,
    pub(crate) greatest: u64,
}

/// Sleepers of each kind, under the lock.
struct Sleeping {
    room: u64,
    roster: u64,
    done: u64,
    /// Bounds at or beyond those of every sleeping wait: the least and
    /// greatest bound of the waits that arrived since none slept. Never
    /// narrower than the true ones (a wider range only wakes more often),
    /// and kept without a heap allocation, which a wait must not make
    /// (`make -C c_examples alloc-check`).
    bounds: Bounds,
}

const NO_BOUNDS: Bounds = Bounds {
    least: u64::MAX,
    greatest: 0,
};

impl Sleeping {
    /// The `asleep` bits of the kinds with sleepers.
    fn bits(&self) -> u8 {
        let bit = |sleepers: u64, bit: u8| if sleepers > 0 { bit } else { 0 };
        bit(self.room, ROOM) | bit(self.done, DONE) | bit(self.roster, ROSTER)
    }

    fn arrive(&mut self, reason: Reason) {
        match reason {
            Reason::Room => self.room += 1,
            Reason::Done(bound) => {
                self.done += 1;
                self.bounds.least = self.bounds.least.min(bound);
                self.bounds.greatest = self.bounds.greatest.max(bound);
            }
            Reason::Roster => self.roster += 1,
        }
    }

    fn leave(&mut self, reason: Reason) {
        match reason {
            Reason::Room => self.room -= 1,
            Reason::Done(_) => {
                self.done -= 1;
                if self.done == 0 {
                    self.bounds = NO_BOUNDS;
                }
            }
            Reason::Roster => self.roster -= 1,
        }
    }
}

pub(crate) struct Waiters {
    /// A bit per kind (`ROOM`, `DONE`, `ROSTER`) with sleepers (changed
    /// under `lock`).
    asleep: AtomicU8,
    /// `Sleeping::bounds`, published under `lock` for `task_gone`.
    least_bound: AtomicU64,
    greatest_bound: AtomicU64,
    lock: Mutex<Sleeping>,
    room: Condvar,
    done: Condvar,
    roster: Condvar,
}

impl Waiters {
    pub(crate) fn new() -> Self {
        Waiters {
            asleep: AtomicU8::new(0),
            least_bound: AtomicU64::new(u64::MAX),
            greatest_bound: AtomicU64::new(0),
            lock: Mutex::new(Sleeping {
                room: 0,
                roster: 0,
                done: 0,
                bounds: NO_BOUNDS,
            }),
            room: Condvar::new(),
            done: Condvar::new(),
            roster: Condvar::new(),
        }
    }

    /// After `guard`'s sleepers changed: the bits and bounds workers read.
    fn publish(&self, guard: &Sleeping) {
        self.least_bound.store(guard.bounds.least, Ordering::SeqCst);
        self.greatest_bound
            .store(guard.bounds.greatest, Ordering::SeqCst);
        self.asleep.store(guard.bits(), Ordering::SeqCst);
    }

    fn guard(&self) -> MutexGuard<'_, Sleeping> {
        // The counts stay consistent even if a holder panicked.
        self.lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sleeps until `poll` returns `Some` or `deadline` passes; `poll` runs
    /// under the lock at least once, and once more after every wake-up, so
    /// a notification that raced with the timeout is not wasted.
    pub(crate) fn sleep_until<T>(
        &self,
        reason: Reason,
        deadline: Option<Instant>,
        mut poll: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let condvar = match reason {
            Reason::Room => &self.room,
            Reason::Done(_) => &self.done,
            Reason::Roster => &self.roster,
        };
        let mut guard = self.guard();
        guard.arrive(reason);
        self.publish(&guard);
        fence(Ordering::SeqCst);
        let result = loop {
            if let Some(found) = poll() {
                break Some(found);
            }
            match deadline {
                None => {
                    guard = condvar
                        .wait(guard)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break None;
                    }
                    guard = condvar
                        .wait_timeout(guard, deadline - now)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0;
                }
            }
        };
        guard.leave(reason);
        self.publish(&guard);
        result
    }

    /// Wakes, if any sleep here: one scheduler waiting for room (`room`:
    /// one slot freed, one scheduler can use it; if that one gives up, by
    /// timeout or shutdown, it polls once more, so the slot is not lost),
    /// every wait if `done` says one may end (it gets the bounds of the
    /// sleeping waits), every shrink (`roster`). The fence pairs with the
    /// sleeper's (module docs): the caller's change before it is seen by
    /// any poll that this finds no sleeper for.
    #[inline]
    fn notify(&self, room: bool, done: impl FnOnce(Bounds) -> bool, roster: bool) {
        fence(Ordering::SeqCst);
        let asleep = self.asleep.load(Ordering::SeqCst);
        // The common case, inlined into every worker's path: nobody waits.
        if asleep != 0 {
            self.notify_sleepers(asleep, room, done, roster);
        }
    }

    /// `notify` once some caller sleeps (`asleep` is its flags word).
    #[cold]
    fn notify_sleepers(
        &self,
        asleep: u8,
        room: bool,
        done: impl FnOnce(Bounds) -> bool,
        roster: bool,
    ) {
        let room = room && asleep & ROOM != 0;
        let roster = roster && asleep & ROSTER != 0;
        let done = asleep & DONE != 0
            && done(Bounds {
                least: self.least_bound.load(Ordering::SeqCst),
                greatest: self.greatest_bound.load(Ordering::SeqCst),
            });
        if !(room || done || roster) {
            return;
        }
        let guard = self.guard();
        if room && guard.room > 0 {
            self.room.notify_one();
        }
        if done && guard.done > 0 {
            self.done.notify_all();
        }
        if roster && guard.roster > 0 {
            self.roster.notify_all();
        }
    }

    /// A task finished: room for one scheduler, and every wait polls again
    /// if `may_end_a_wait` says the task may be the last one a sleeping
    /// wait waits for (module docs).
    pub(crate) fn task_gone(&self, may_end_a_wait: impl FnOnce(Bounds) -> bool) {
        self.notify(true, may_end_a_wait, false);
    }

    /// A counted task was given back, never delivered: room for one
    /// scheduler (no wait waits for it: it has no mark).
    pub(crate) fn task_withdrawn(&self) {
        self.notify(true, |_| false, false);
    }

    /// A worker's seat stopped showing a task it did not get: every wait
    /// polls again.
    pub(crate) fn seat_cleared(&self) {
        self.notify(false, |_| true, false);
    }

    /// A worker left the counts, or an idle worker asked to retire stayed:
    /// room for one scheduler (a worker can be started, or claimed), and
    /// the shrink polls again.
    pub(crate) fn room_made(&self) {
        self.notify(true, |_| false, true);
    }

    /// A worker's `on_start` hook returned, or a worker took a task after a
    /// shrink: the shrink polls again.
    pub(crate) fn roster_changed(&self) {
        self.notify(false, |_| false, true);
    }

    /// Wakes every sleeper: capacity grew, or the pool is closing.
    pub(crate) fn wake_all(&self) {
        let _guard = self.guard();
        self.room.notify_all();
        self.done.notify_all();
        self.roster.notify_all();
    }
}

/// Model check of the hand-shake between a worker finishing a task and a
/// scheduler going to sleep for room: `RUSTFLAGS="--cfg loom" cargo test
/// --release --lib loom`.
#[cfg(all(test, loom))]
mod loom_models {
    use loom::sync::Arc;

    use super::{Reason, Waiters};
    use crate::completions::Completions;
    use crate::counts::AtomicCounts;
    use crate::sync::loom_model;

    #[test]
    fn loom_scheduler_waiting_for_room_is_woken() {
        loom_model().check(|| {
            // A full pool of one worker: one task pending.
            let counts = Arc::new(AtomicCounts::new());
            let done = Arc::new(Completions::new());
            counts.add_worker();
            counts.add_task();
            let waiters = Arc::new(Waiters::new());

            let worker = {
                let (done, waiters) = (Arc::clone(&done), Arc::clone(&waiters));
                loom::thread::spawn(move || {
                    done.record(&done.claim(0));
                    waiters.task_gone(|_| true);
                })
            };
            let got_room = waiters.sleep_until(Reason::Room, None, || {
                counts
                    .update(|c| (c.pending(done.read()) < c.live()).then(|| (c.with_task(), ())))
                    .ok()
            });
            assert!(got_room.is_some());
            worker.join().unwrap();
        });
    }

    #[test]
    fn loom_wait_caller_is_woken_when_drained() {
        loom_model().check(|| {
            // Two tasks pending on two workers.
            let counts = Arc::new(AtomicCounts::new());
            let done = Arc::new(Completions::new());
            counts.add_task();
            counts.add_task();
            let waiters = Arc::new(Waiters::new());
            let drained = |counts: &AtomicCounts, done: &Completions| {
                let finished = done.read();
                counts.load().pending(finished) == 0
            };
            let workers: Vec<_> = (0..2)
                .map(|shard| {
                    let (done, waiters) = (Arc::clone(&done), Arc::clone(&waiters));
                    loom::thread::spawn(move || {
                        done.record(&done.claim(shard));
                        waiters.task_gone(|_| true);
                    })
                })
                .collect();
            waiters.sleep_until(Reason::Done(0), None, || {
                drained(&counts, &done).then_some(())
            });
            for worker in workers {
                worker.join().unwrap();
            }
        });
    }
}
