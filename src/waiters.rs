//! Where threads sleep when they must wait for the workers: schedulers of a
//! full blocking pool (`room`), `wait` callers for their tasks to finish
//! (`done`), and a shrink for the idle workers above the new capacity to
//! leave (`roster`). Each sleeper polls its own condition; the events below
//! wake the sleepers whose condition they may have made true:
//!
//! * a task finished (`task_gone`): room for one scheduler, and any wait;
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
//! Workers pay one fence and one load per task of a line that changes only
//! when somebody starts or stops waiting.

use std::time::Instant;

use crate::sync::{AtomicBool, Condvar, Mutex, MutexGuard, Ordering, fence};

#[derive(Clone, Copy)]
pub(crate) enum Reason {
    Room,
    Done,
    Roster,
}

/// Sleepers of each kind, under the lock.
#[derive(Default)]
struct Sleeping {
    room: u64,
    done: u64,
    roster: u64,
}

impl Sleeping {
    fn of(&mut self, reason: Reason) -> &mut u64 {
        match reason {
            Reason::Room => &mut self.room,
            Reason::Done => &mut self.done,
            Reason::Roster => &mut self.roster,
        }
    }

    fn total(&self) -> u64 {
        self.room + self.done + self.roster
    }
}

pub(crate) struct Waiters {
    /// Whether anybody sleeps here (changed under `lock`).
    asleep: AtomicBool,
    lock: Mutex<Sleeping>,
    room: Condvar,
    done: Condvar,
    roster: Condvar,
}

impl Waiters {
    pub(crate) fn new() -> Self {
        Waiters {
            asleep: AtomicBool::new(false),
            lock: Mutex::new(Sleeping::default()),
            room: Condvar::new(),
            done: Condvar::new(),
            roster: Condvar::new(),
        }
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
            Reason::Done => &self.done,
            Reason::Roster => &self.roster,
        };
        let mut guard = self.guard();
        if guard.total() == 0 {
            self.asleep.store(true, Ordering::SeqCst);
        }
        fence(Ordering::SeqCst);
        *guard.of(reason) += 1;
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
        *guard.of(reason) -= 1;
        if guard.total() == 0 {
            self.asleep.store(false, Ordering::SeqCst);
        }
        result
    }

    /// The lock, if anybody sleeps here; `None` (no lock taken) otherwise.
    /// The fence pairs with the sleeper's (module docs): the caller's
    /// change before it is seen by any poll that this finds no sleeper for.
    fn sleepers(&self) -> Option<MutexGuard<'_, Sleeping>> {
        fence(Ordering::SeqCst);
        if !self.asleep.load(Ordering::SeqCst) {
            return None;
        }
        Some(self.guard())
    }

    /// Wakes, if any sleep here: one scheduler waiting for room (`room`:
    /// one slot freed, one scheduler can use it; if that one gives up, by
    /// timeout or shutdown, it polls once more, so the slot is not lost),
    /// every wait (`done`), every shrink (`roster`).
    fn notify(&self, room: bool, done: bool, roster: bool) {
        let Some(guard) = self.sleepers() else {
            return;
        };
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

    /// A task finished, or a counted one was given back: room for one
    /// scheduler, and every wait polls again.
    pub(crate) fn task_gone(&self) {
        self.notify(true, true, false);
    }

    /// A worker's seat stopped showing a task it did not get: every wait
    /// polls again.
    pub(crate) fn seat_cleared(&self) {
        self.notify(false, true, false);
    }

    /// A worker left the counts, or an idle worker asked to retire stayed:
    /// room for one scheduler (a worker can be started, or claimed), and
    /// the shrink polls again.
    pub(crate) fn room_made(&self) {
        self.notify(true, false, true);
    }

    /// A worker's `on_start` hook returned, or a worker took a task after a
    /// shrink: the shrink polls again.
    pub(crate) fn roster_changed(&self) {
        self.notify(false, false, true);
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
                    waiters.task_gone();
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
                        waiters.task_gone();
                    })
                })
                .collect();
            waiters.sleep_until(Reason::Done, None, || drained(&counts, &done).then_some(()));
            for worker in workers {
                worker.join().unwrap();
            }
        });
    }
}
