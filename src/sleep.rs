//! How an idle worker goes to sleep, and how it is woken.
//!
//! Workers take tasks from the channel with `try_recv` only; when it is
//! empty they spin briefly (crossbeam's `Backoff`), then come here. The
//! decision to sleep, and every claim of a sleeper by a waker, are made
//! under one mutex and recorded in the shared counts (`counts.rs`):
//!
//! * A worker may sleep only if `pending <= awake - 1`, counting itself out:
//!   the other awake workers (each running a task or about to look for
//!   one) cover every accepted task. Otherwise a task is owed to it (often
//!   one admitted whose push has not landed yet): it goes back to look.
//!   Registering adds it to `sleeping`, in the same CAS.
//! * A scheduler whose admission leaves `pending > awake` wakes one sleeper:
//!   under the lock it re-checks that, claims the sleeper (`sleeping - 1`
//!   in the counts, one token in `tokens`) and notifies the condvar.
//! * A sleeper that wakes takes a token if there is one (it was claimed, the
//!   waker already uncounted it); otherwise (timeout, shutdown, spurious
//!   wake) it uncounts itself. Claims and self-removal both happen under the
//!   lock, so a sleeper is never uncounted twice, and `sleeping` always
//!   equals the sleepers nobody has claimed.
//!
//! Why no wake-up is lost: a scheduler that decides "no wake needed" saw
//! enough awake workers for every pending task, its own included; any of
//! those that later tries to sleep sees the same pending count and refuses.
//! A scheduler that decides "wake" claims under the lock, and a registered
//! sleeper only stops waiting by consuming a token or uncounting itself.
//!
//! Cost: nothing per task while workers are busy; a lock and a futex wake
//! only when a task arrives for an idle pool.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::counts::AtomicCounts;

/// What an idle worker does next.
pub(crate) enum Idle {
    /// Look for a task again.
    Retry,
    /// Leave: the worker is already uncounted (`live - 1`).
    Exit,
}

pub(crate) struct Sleepers {
    /// Claims not yet consumed by a woken worker.
    tokens: Mutex<u64>,
    condvar: Condvar,
}

impl Sleepers {
    pub(crate) fn new() -> Self {
        Sleepers {
            tokens: Mutex::new(0),
            condvar: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, u64> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called by a worker that found no task. Decides whether it leaves
    /// (closing or above capacity, with nothing owed to it), sleeps, or
    /// looks again.
    pub(crate) fn idle(
        &self,
        counts: &AtomicCounts,
        capacity: u64,
        idle_timeout: Option<Duration>,
    ) -> Idle {
        let mut tokens = self.lock();
        let decided = counts.update(|c| {
            if c.pending() > c.awake() - 1 {
                None
            } else if c.closing() || c.live() > capacity {
                Some((c.without_worker(), Idle::Exit))
            } else {
                Some((c.with_sleeper(), Idle::Retry))
            }
        });
        match decided {
            Err(_) => return Idle::Retry,
            Ok((_, Idle::Exit)) => return Idle::Exit,
            Ok((_, Idle::Retry)) => {}
        }
        let deadline = idle_timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if *tokens > 0 {
                *tokens -= 1;
                return Idle::Retry;
            }
            let now = Instant::now();
            let timed_out = deadline.is_some_and(|d| now >= d);
            if timed_out || counts.load().closing() {
                // Unclaimed: uncount ourselves. An expired worker leaves
                // (nobody needed it, or it would have been claimed); on
                // shutdown it goes back to drain and leave through `idle`.
                let expire = timed_out && !counts.load().closing();
                counts.apply(|c| {
                    let c = c.without_sleeper();
                    if expire { c.without_worker() } else { c }
                });
                return if expire { Idle::Exit } else { Idle::Retry };
            }
            tokens = match deadline {
                None => self.condvar.wait(tokens).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    self.condvar
                        .wait_timeout(tokens, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// Wakes one sleeper if the awake workers no longer cover the pending
    /// tasks. Called by a scheduler after it pushed a task.
    pub(crate) fn wake_for_task(&self, counts: &AtomicCounts) {
        let mut tokens = self.lock();
        let claimed = counts.update(|c| {
            (c.sleeping() > 0 && c.pending() > c.awake()).then(|| (c.without_sleeper(), ()))
        });
        if claimed.is_ok() {
            *tokens += 1;
            self.condvar.notify_one();
        }
    }

    /// Wakes up to `n` sleepers, claimed, so they re-check whether they must
    /// retire (capacity shrank).
    pub(crate) fn wake_to_retire(&self, counts: &AtomicCounts, n: u64) {
        let mut tokens = self.lock();
        for _ in 0..n {
            let claimed = counts.update(|c| (c.sleeping() > 0).then(|| (c.without_sleeper(), ())));
            if claimed.is_err() {
                break;
            }
            *tokens += 1;
            self.condvar.notify_one();
        }
    }

    /// Wakes every sleeper without claiming: the pool is closing, each one
    /// uncounts itself and drains.
    pub(crate) fn wake_all(&self) {
        let _tokens = self.lock();
        self.condvar.notify_all();
    }
}
