//! The pool's admission state packed into one atomic word.
//!
//! Admission ("may this task be accepted, does it need a new worker, must a
//! sleeping worker be woken?"), a worker's decision to sleep, expiry and
//! retirement all read and change the same numbers: tasks admitted so far
//! (`admitted`), live workers (`live`), and workers asleep and not yet
//! claimed by a waker (`sleeping`). Keeping them, plus the closing flag, in
//! one `AtomicU64` lets every decision be a single read-modify-write over a
//! consistent snapshot.
//!
//! Finished tasks are not counted here but per worker lane
//! (`completions.rs`), so that workers do not write this word, which every
//! schedule writes, once per task. Accepted-but-unfinished tasks are
//! `pending = admitted - done` (modulo 2^34), where `done` is a total read
//! *before* the read-modify-write that decides: completions only grow, so
//! the result is never below the true count at the moment of the decision.
//! Every rule that must not strand a task is written so that
//! overestimating `pending` is safe (a worker looks again instead of
//! sleeping, a sleeper is woken for nothing, a worker is started a little
//! early); underestimating it never happens.
//!
//! Layout: bit 0 `closing`, bits 1..15 `live`, 15..29 `sleeping`, bit 29
//! `paused` (`pause.rs`), 30..64 `admitted` (modulo 2^34: it sits at the top so that its `fetch_add`
//! wraps without carrying into the other fields). `live` and `sleeping`
//! never exceed the maximum capacity (10,000 < 2^14).

use crate::completions::Done;
use crate::sync::{AtomicU64, Ordering};

const CLOSING: u64 = 1;
const WORKER_BITS: u32 = 14;
const LIVE_SHIFT: u32 = 1;
const LIVE_ONE: u64 = 1 << LIVE_SHIFT;
const LIVE_MASK: u64 = ((1 << WORKER_BITS) - 1) << LIVE_SHIFT;
const SLEEPING_SHIFT: u32 = LIVE_SHIFT + WORKER_BITS;
const SLEEPING_ONE: u64 = 1 << SLEEPING_SHIFT;
const SLEEPING_MASK: u64 = ((1 << WORKER_BITS) - 1) << SLEEPING_SHIFT;
const PAUSED: u64 = 1 << 29;
const ADMITTED_SHIFT: u32 = 30;
const ADMITTED_ONE: u64 = 1 << ADMITTED_SHIFT;
const TASK_BITS: u32 = 64 - ADMITTED_SHIFT;
const TASK_MASK: u64 = (1 << TASK_BITS) - 1;

const _: () = assert!(crate::builder::MAX_CAPACITY < 1 << WORKER_BITS);
const _: () = assert!(SLEEPING_SHIFT + WORKER_BITS <= 29);

/// The most tasks that can be pending at once (about 1.7 * 10^10): the
/// difference `admitted - done` is only meaningful below 2^34. An
/// "unbounded" queue could not get there: 2^34 queued tasks would take
/// over 500 GiB.
pub(crate) const MAX_PENDING: u64 = TASK_MASK;

/// `a - b` in the modulo-2^34 arithmetic of `admitted`, or 0 if `b` is
/// ahead (the difference would be "negative").
pub(crate) fn admitted_ahead_of(a: u64, b: u64) -> u64 {
    let d = a.wrapping_sub(b) & TASK_MASK;
    if d > TASK_MASK / 2 { 0 } else { d }
}

/// One consistent reading of the packed word.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Counts(u64);

impl Counts {
    /// Tasks admitted since the pool was built, modulo 2^34.
    pub(crate) fn admitted(self) -> u64 {
        self.0 >> ADMITTED_SHIFT
    }

    /// Accepted tasks that have not finished (queued, handed over, or
    /// running), given completions `done` read before this snapshot was
    /// taken (then it is at least the true count; see the module docs).
    pub(crate) fn pending(self, done: Done) -> u64 {
        self.admitted().wrapping_sub(done.total()) & TASK_MASK
    }

    /// Worker threads counted as live (a reserved spawn counts at once).
    pub(crate) fn live(self) -> u64 {
        (self.0 & LIVE_MASK) >> LIVE_SHIFT
    }

    /// Workers asleep that no waker has claimed yet.
    pub(crate) fn sleeping(self) -> u64 {
        (self.0 & SLEEPING_MASK) >> SLEEPING_SHIFT
    }

    /// Live workers that are not asleep: running a task or looking for one.
    pub(crate) fn awake(self) -> u64 {
        self.live() - self.sleeping()
    }

    pub(crate) fn closing(self) -> bool {
        self.0 & CLOSING != 0
    }

    /// Whether the pool is paused (`pause.rs`): admission queues only, and
    /// hand-off mode is full.
    pub(crate) fn paused(self) -> bool {
        self.0 & PAUSED != 0
    }

    /// Neither closing nor paused: the hand-off fast path may claim a line.
    pub(crate) fn open(self) -> bool {
        self.0 & (CLOSING | PAUSED) == 0
    }

    /// Whether an unbounded queue's admission can only queue: not closing,
    /// and every worker the capacity `cap` allows is started (the fast
    /// schedule path, `Shared::submit`).
    pub(crate) fn surely_queues(self, cap: u64) -> bool {
        !self.closing() && self.live() >= cap
    }

    pub(crate) fn with_task(self) -> Counts {
        Counts(self.0.wrapping_add(ADMITTED_ONE))
    }

    pub(crate) fn without_task(self) -> Counts {
        Counts(self.0.wrapping_sub(ADMITTED_ONE))
    }

    pub(crate) fn with_worker(self) -> Counts {
        Counts(self.0 + LIVE_ONE)
    }

    pub(crate) fn without_worker(self) -> Counts {
        debug_assert!(self.live() > self.sleeping());
        Counts(self.0 - LIVE_ONE)
    }

    pub(crate) fn with_sleeper(self) -> Counts {
        debug_assert!(self.sleeping() < self.live());
        Counts(self.0 + SLEEPING_ONE)
    }

    pub(crate) fn without_sleeper(self) -> Counts {
        debug_assert!(self.sleeping() > 0);
        Counts(self.0 - SLEEPING_ONE)
    }
}

/// The shared word. Every decision that must not miss another thread's
/// change is a read-modify-write of this one word, so the word's own
/// modification order settles those races. Accesses are `SeqCst` (on x86 a
/// read-modify-write is a full fence anyway).
pub(crate) struct AtomicCounts(AtomicU64);

impl AtomicCounts {
    pub(crate) fn new() -> Self {
        AtomicCounts(AtomicU64::new(0))
    }

    pub(crate) fn load(&self) -> Counts {
        Counts(self.0.load(Ordering::SeqCst))
    }

    /// Applies `change` until it wins the race; `None` from `change` leaves the
    /// word untouched. Returns the snapshot the decision was made on and the
    /// value `change` produced. `change` runs before each attempt, so what
    /// it reads (completions) is read before the attempt that succeeds.
    pub(crate) fn update<T>(
        &self,
        mut change: impl FnMut(Counts) -> Option<(Counts, T)>,
    ) -> Result<(Counts, T), Counts> {
        let mut current = self.load();
        loop {
            let Some((next, verdict)) = change(current) else {
                return Err(current);
            };
            match self.0.compare_exchange_weak(
                current.0,
                next.0,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Ok((current, verdict)),
                Err(actual) => current = Counts(actual),
            }
        }
    }

    /// Counts a task whatever the state (the fast schedule path checks the
    /// returned old value afterwards). Returns the old value.
    pub(crate) fn add_task(&self) -> Counts {
        Counts(self.0.fetch_add(ADMITTED_ONE, Ordering::SeqCst))
    }

    /// Gives back a task that was counted but will not run.
    pub(crate) fn withdraw_task(&self) {
        self.0.fetch_sub(ADMITTED_ONE, Ordering::SeqCst);
    }

    /// Marks the pool closing; later admissions fail. Returns the old value.
    pub(crate) fn close(&self) -> Counts {
        Counts(self.0.fetch_or(CLOSING, Ordering::SeqCst))
    }

    /// Sets or clears the paused flag.
    pub(crate) fn set_paused(&self, paused: bool) {
        if paused {
            self.0.fetch_or(PAUSED, Ordering::SeqCst);
        } else {
            self.0.fetch_and(!PAUSED, Ordering::SeqCst);
        }
    }

    /// A worker counted outside a decision (the model checks' setup).
    #[cfg(all(test, loom))]
    pub(crate) fn add_worker(&self) {
        self.0.fetch_add(LIVE_ONE, Ordering::SeqCst);
    }

    pub(crate) fn remove_worker(&self) {
        self.0.fetch_sub(LIVE_ONE, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_do_not_overlap() {
        let c = Counts(0)
            .with_task()
            .with_task()
            .with_worker()
            .with_worker();
        let c = c.with_sleeper();
        let none = Done::from_total(0);
        assert_eq!((c.pending(none), c.live(), c.sleeping()), (2, 2, 1));
        assert_eq!(c.awake(), 1);
        assert_eq!(c.pending(Done::from_total(1)), 1);
        let c = c.without_sleeper().without_worker();
        assert_eq!((c.pending(none), c.live(), c.closing()), (2, 1, false));
        let word = AtomicCounts(AtomicU64::new(c.0));
        word.close();
        let c = word.load();
        assert_eq!((c.pending(none), c.live(), c.closing()), (2, 1, true));
        let c = c.without_task().without_worker();
        assert_eq!((c.pending(none), c.live(), c.closing()), (1, 0, true));
        word.set_paused(true);
        let c = word.load();
        let max = crate::builder::MAX_CAPACITY as u64;
        assert_eq!(c.live(), 1);
        let c = (1..max).fold(c, |c, _| c.with_worker());
        let c = (0..max).fold(c, |c, _| c.with_sleeper());
        assert_eq!((c.live(), c.sleeping(), c.paused()), (max, max, true));
        assert_eq!((c.pending(none), c.open()), (2, false));
        word.set_paused(false);
        assert!(!word.load().paused());
    }

    #[test]
    fn admitted_wraps_without_touching_the_other_fields() {
        let max = crate::builder::MAX_CAPACITY as u64;
        let mut c = Counts(TASK_MASK << ADMITTED_SHIFT);
        for _ in 0..max {
            c = c.with_worker();
        }
        for _ in 0..max {
            c = c.with_sleeper();
        }
        let word = AtomicCounts(AtomicU64::new(c.0));
        word.close();
        // admitted is 2^34 - 1; three more wrap it to 2.
        for _ in 0..3 {
            word.add_task();
        }
        let c = word.load();
        assert_eq!((c.live(), c.sleeping(), c.closing()), (max, max, true));
        assert_eq!(c.admitted(), 2);
        // 2^34 + 2 admitted, 2^34 - 1 done: 3 pending, across the wrap.
        assert_eq!(c.pending(Done::from_total(TASK_MASK)), 3);
        word.withdraw_task();
        assert_eq!(word.load().pending(Done::from_total(TASK_MASK)), 2);
    }
}
