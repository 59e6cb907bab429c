//! Where threads sleep when they must wait for the workers: schedulers of a
//! full blocking pool (`room`), and `wait` callers for the pool to drain
//! (`drained`).
//!
//! # Why no wake-up is lost
//!
//! The first sleeper sets the `waiters` bit in the shared counts word (a
//! read-modify-write), under the lock, before it polls the counts and
//! blocks on a condition variable (which releases the lock atomically). A
//! worker decrements `pending` with a read-modify-write of the same word and
//! looks at the `waiters` bit in the value it replaced. Both changes are in
//! the one word's modification order: if the bit came first, the worker
//! sees it, takes the lock (only possible once the sleeper is blocked) and
//! notifies; if the decrement came first, the sleeper's poll sees it. No
//! ordering between two different locations is needed, which is also what
//! lets loom check it (`loom_models` below).
//!
//! Workers pay nothing extra per task while nobody sleeps: the bit comes
//! with the decrement they do anyway.

use std::time::Instant;

use crate::counts::{AtomicCounts, Counts};
use crate::sync::{Condvar, Mutex, MutexGuard};

#[derive(Clone, Copy)]
pub(crate) enum Reason {
    Room,
    Drained,
}

/// Sleepers of each kind, under the lock.
#[derive(Default)]
struct Sleeping {
    room: u64,
    drained: u64,
}

impl Sleeping {
    fn of(&mut self, reason: Reason) -> &mut u64 {
        match reason {
            Reason::Room => &mut self.room,
            Reason::Drained => &mut self.drained,
        }
    }
}

pub(crate) struct Waiters {
    lock: Mutex<Sleeping>,
    room: Condvar,
    drained: Condvar,
}

impl Waiters {
    pub(crate) fn new() -> Self {
        Waiters {
            lock: Mutex::new(Sleeping::default()),
            room: Condvar::new(),
            drained: Condvar::new(),
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
        counts: &AtomicCounts,
        reason: Reason,
        deadline: Option<Instant>,
        mut poll: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let condvar = match reason {
            Reason::Room => &self.room,
            Reason::Drained => &self.drained,
        };
        let mut guard = self.guard();
        if guard.room + guard.drained == 0 {
            counts.set_waiters();
        }
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
        if guard.room + guard.drained == 0 {
            counts.clear_waiters();
        }
        result
    }

    /// Called by a worker with the counts its decrement of `pending`
    /// replaced.
    pub(crate) fn task_finished(&self, before: Counts) {
        if !before.has_waiters() {
            return;
        }
        let guard = self.guard();
        if guard.room > 0 {
            // One slot freed: one scheduler can use it. If that one gives up
            // (timeout, shutdown) it polls once more, so the slot is not lost.
            self.room.notify_one();
        }
        if before.pending() == 1 && guard.drained > 0 {
            self.drained.notify_all();
        }
    }

    /// Wakes every sleeper: capacity grew, or the pool is closing.
    pub(crate) fn wake_all(&self) {
        let _guard = self.guard();
        self.room.notify_all();
        self.drained.notify_all();
    }
}

/// Model check of the hand-shake between a worker finishing a task and a
/// scheduler going to sleep for room: `RUSTFLAGS="--cfg loom" cargo test
/// --release --lib loom`.
#[cfg(all(test, loom))]
mod loom_models {
    use loom::sync::Arc;

    use super::{Reason, Waiters};
    use crate::counts::AtomicCounts;

    #[test]
    fn loom_scheduler_waiting_for_room_is_woken() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            // A full pool of one worker: one task pending.
            let counts = Arc::new(AtomicCounts::new());
            counts.add_worker();
            counts.apply(|c| c.with_task());
            let waiters = Arc::new(Waiters::new());

            let worker = {
                let (counts, waiters) = (Arc::clone(&counts), Arc::clone(&waiters));
                loom::thread::spawn(move || {
                    waiters.task_finished(counts.finish_task());
                })
            };
            let got_room = waiters.sleep_until(&counts, Reason::Room, None, || {
                counts
                    .update(|c| (c.pending() < c.live()).then(|| (c.with_task(), ())))
                    .ok()
            });
            assert!(got_room.is_some());
            worker.join().unwrap();
        });
    }
}
