//! The pool's admission state packed into one atomic word.
//!
//! Admission ("may this task be accepted, does it need a new worker, must a
//! sleeping worker be woken?"), a worker's decision to sleep, expiry and
//! retirement all read and change the same numbers: accepted-but-unfinished
//! tasks (`pending`), live workers (`live`), and workers asleep and not yet
//! claimed by a waker (`sleeping`). Keeping them, plus the closing flag, in
//! one `AtomicU64` lets every decision be a single compare-and-swap over a
//! consistent snapshot.
//!
//! Layout: bits 0..34 `pending`, 34..48 `live`, 48..62 `sleeping`, bit 62
//! `waiters` (a scheduler or `wait` caller sleeps in `waiters.rs`), bit 63
//! `closing`. `live` and `sleeping` never exceed the maximum capacity
//! (10,000 < 2^14).

use crate::sync::{AtomicU64, Ordering};

const PENDING_BITS: u32 = 34;
const WORKER_BITS: u32 = 14;
const PENDING_ONE: u64 = 1;
const PENDING_MASK: u64 = (1 << PENDING_BITS) - 1;
const LIVE_SHIFT: u32 = PENDING_BITS;
const LIVE_ONE: u64 = 1 << LIVE_SHIFT;
const LIVE_MASK: u64 = ((1 << WORKER_BITS) - 1) << LIVE_SHIFT;
const SLEEPING_SHIFT: u32 = LIVE_SHIFT + WORKER_BITS;
const SLEEPING_ONE: u64 = 1 << SLEEPING_SHIFT;
const SLEEPING_MASK: u64 = ((1 << WORKER_BITS) - 1) << SLEEPING_SHIFT;
const WAITERS: u64 = 1 << 62;
const CLOSING: u64 = 1 << 63;

const _: () = assert!(crate::builder::MAX_CAPACITY < 1 << WORKER_BITS);

/// The most tasks that can be pending at once (about 1.7 * 10^10): an
/// "unbounded" queue is bounded by this, beyond what memory holds.
pub(crate) const MAX_PENDING: u64 = PENDING_MASK;

/// One consistent reading of the packed word.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Counts(u64);

impl Counts {
    /// Accepted tasks that have not finished: queued, handed over, or running.
    pub(crate) fn pending(self) -> u64 {
        self.0 & PENDING_MASK
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

    /// Whether a thread may be asleep in `waiters.rs` and want to hear
    /// about a finished task.
    pub(crate) fn has_waiters(self) -> bool {
        self.0 & WAITERS != 0
    }

    pub(crate) fn with_task(self) -> Counts {
        Counts(self.0 + PENDING_ONE)
    }

    pub(crate) fn without_task(self) -> Counts {
        debug_assert!(self.pending() > 0);
        Counts(self.0 - PENDING_ONE)
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
/// modification order settles every race (no cross-location ordering is
/// relied on); accesses are `SeqCst` for good measure, and on x86 a
/// read-modify-write is a full fence anyway.
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
    /// value `change` produced.
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

    /// A task finished: one unconditional decrement. Returns the old value.
    pub(crate) fn finish_task(&self) -> Counts {
        Counts(self.0.fetch_sub(PENDING_ONE, Ordering::SeqCst))
    }

    /// Marks the pool closing; later admissions fail. Returns the old value.
    pub(crate) fn close(&self) -> Counts {
        Counts(self.0.fetch_or(CLOSING, Ordering::SeqCst))
    }

    /// Announces a sleeper in `waiters.rs`; see there why no wake is lost.
    pub(crate) fn set_waiters(&self) {
        self.0.fetch_or(WAITERS, Ordering::SeqCst);
    }

    pub(crate) fn clear_waiters(&self) {
        self.0.fetch_and(!WAITERS, Ordering::SeqCst);
    }

    pub(crate) fn add_worker(&self) {
        self.0.fetch_add(LIVE_ONE, Ordering::SeqCst);
    }

    pub(crate) fn remove_worker(&self) {
        self.0.fetch_sub(LIVE_ONE, Ordering::SeqCst);
    }

    /// Applies a change that cannot be declined; returns the old value.
    #[cfg(loom)]
    pub(crate) fn apply(&self, change: impl Fn(Counts) -> Counts) -> Counts {
        match self.update(|c| Some((change(c), ()))) {
            Ok((before, ())) => before,
            Err(_) => unreachable!("the change never declines"),
        }
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
        assert_eq!((c.pending(), c.live(), c.sleeping()), (2, 2, 1));
        assert_eq!(c.awake(), 1);
        let c = c.without_sleeper().without_worker();
        assert_eq!((c.pending(), c.live(), c.closing()), (2, 1, false));
        let word = AtomicCounts(AtomicU64::new(c.0));
        word.set_waiters();
        word.close();
        let c = word.load();
        assert_eq!((c.pending(), c.live(), c.closing()), (2, 1, true));
        assert!(c.has_waiters());
        word.clear_waiters();
        assert!(!word.load().has_waiters());
        let c = c.without_task().without_worker();
        assert_eq!((c.pending(), c.live(), c.closing()), (1, 0, true));
    }

    #[test]
    fn max_pending_fits() {
        let max = crate::builder::MAX_CAPACITY as u64;
        let mut c = Counts(MAX_PENDING);
        for _ in 0..max {
            c = c.with_worker();
        }
        for _ in 0..max {
            c = c.with_sleeper();
        }
        assert_eq!(
            (c.pending(), c.live(), c.sleeping()),
            (MAX_PENDING, max, max)
        );
        assert!(!c.closing());
    }
}
