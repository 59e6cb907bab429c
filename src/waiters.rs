//! Where threads sleep when they must wait for the workers: schedulers of a
//! full blocking pool (`room`), and `wait`/shutdown for the pool to drain
//! (`drained`).
//!
//! # Why no wake-up is lost
//!
//! A sleeper takes the lock, announces itself in `sleepers` (SeqCst), then
//! re-reads the pool's counts (SeqCst) before it blocks on a condition
//! variable, which releases the lock atomically. A worker first decrements
//! `pending` (SeqCst read-modify-write), then reads `sleepers` (SeqCst).
//! Sequential consistency orders the two pairs, so either the sleeper's
//! re-read sees the decrement, or the worker sees the sleeper; in the second
//! case the worker takes the lock before notifying, which it can only get
//! once the sleeper is blocked on the condition variable, so the
//! notification reaches it.
//!
//! Workers pay one relaxed-cost load per task while nobody sleeps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// Low half: schedulers waiting for room. High half: threads waiting for the
/// pool to drain. One word so a worker checks both with one load.
const ROOM_ONE: u64 = 1;
const DRAIN_ONE: u64 = 1 << 32;
const ROOM_MASK: u64 = DRAIN_ONE - 1;

#[derive(Clone, Copy)]
pub(crate) enum Reason {
    Room,
    Drained,
}

impl Reason {
    fn unit(self) -> u64 {
        match self {
            Reason::Room => ROOM_ONE,
            Reason::Drained => DRAIN_ONE,
        }
    }
}

pub(crate) struct Waiters {
    sleepers: AtomicU64,
    lock: Mutex<()>,
    room: Condvar,
    drained: Condvar,
}

impl Waiters {
    pub(crate) fn new() -> Self {
        Waiters {
            sleepers: AtomicU64::new(0),
            lock: Mutex::new(()),
            room: Condvar::new(),
            drained: Condvar::new(),
        }
    }

    fn guard(&self) -> MutexGuard<'_, ()> {
        // The lock protects no data, so a poisoned lock is still usable.
        self.lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sleeps until `poll` returns `Some` or `deadline` passes; `poll` runs
    /// under the lock at least once, and once more after the deadline so a
    /// notification that raced with the timeout is not wasted.
    pub(crate) fn sleep_until<T>(
        &self,
        reason: Reason,
        deadline: Option<Instant>,
        mut poll: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let condvar = match reason {
            Reason::Room => &self.room,
            Reason::Drained => &self.drained,
        };
        let mut guard = self.guard();
        self.sleepers.fetch_add(reason.unit(), Ordering::SeqCst);
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
        self.sleepers.fetch_sub(reason.unit(), Ordering::SeqCst);
        result
    }

    /// Called by a worker right after it decremented `pending`; `drained`
    /// says the decrement reached zero.
    pub(crate) fn task_finished(&self, drained: bool) {
        let sleepers = self.sleepers.load(Ordering::SeqCst);
        if sleepers == 0 {
            return;
        }
        let _guard = self.guard();
        if sleepers & ROOM_MASK != 0 {
            // One slot freed: one scheduler can use it. If that one gives up
            // (timeout, shutdown) it polls once more, so the slot is not lost.
            self.room.notify_one();
        }
        if drained && sleepers >= DRAIN_ONE {
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
