//! Finished tasks, counted in lanes that workers write and schedulers
//! only read.
//!
//! A counter that every schedule increments and every worker decrements
//! moves its cache line between cores twice per task; measured here, that
//! alone costs about as much as the rest of a schedule. So workers count
//! what they finish apart from the counts word, and the pending count is
//! derived (`counts.rs`). A worker first tries to own a lane: then it is
//! the lane's only writer and counts with a plain store, no atomic
//! read-modify-write per task. Workers that find every owned lane taken
//! (more than `OWNED_LANES` workers) count with `fetch_add` in one of
//! `SHARED_LANES` shared lanes, chosen by worker number.
//!
//! Reading the total reads the helpers' lane (`record_shared`) and the
//! lanes ever counted in: one per worker up to `OWNED_LANES` (claims take
//! the lowest free lane), and the shared ones once a worker counts there.
//! That is at most `1 + OWNED_LANES + SHARED_LANES` lines, however many
//! cores the machine has and workers the pool has. (There used to be two
//! lanes per CPU, 4 to 128, all read by every slow decision.) The slow
//! paths read it (sleeping, retiring, bounded admission, `wait`, stats);
//! the fast schedule path does not.
//!
//! Ordering: a count is stored with `Release`; the hand-shake with `wait`
//! callers puts a `SeqCst` fence after it (`waiters.rs`). An owner leaving
//! clears `owned` with `Release` after its last store, and the next owner
//! claims it with an `Acquire` CAS, so it continues from the last count.
//! A lane is counted in `claimed` before its first count, so a reader that
//! must see a count (it read after a `SeqCst` fence that follows the
//! count, the waiters' hand-shake) sees the lane too; a reader that misses
//! a lane just claimed reads a smaller total, which is always safe (the
//! total only grows; `counts.rs`).

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Lanes a worker can own, counting with a plain store. Sixteen workers
/// finishing tiny tasks at once already contend on the queue's head; past
/// that, sharing a lane costs little more.
const OWNED_LANES: usize = 16;
/// Lanes for the workers past `OWNED_LANES`, each counted with
/// `fetch_add`. One under loom: every lane read is a step the model
/// checker explores.
const SHARED_LANES: usize = if cfg!(loom) { 1 } else { 4 };
/// The lane of threads that own none (helpers, `record_shared`): lane 0,
/// always read. Owned lanes follow, then the shared ones.
const HELPERS: usize = 0;
const FIRST_OWNED: usize = 1;
const FIRST_SHARED: usize = FIRST_OWNED + OWNED_LANES;
const LANES: usize = FIRST_SHARED + SHARED_LANES;

/// A total of finished tasks, read before a decision on the counts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Done(u64);

impl Done {
    pub(crate) fn total(self) -> u64 {
        self.0
    }

    #[cfg(test)]
    pub(crate) fn from_total(total: u64) -> Done {
        Done(total)
    }
}

struct Lane {
    count: AtomicU64,
    /// Owned lanes only: whether a worker counts here.
    owned: AtomicBool,
}

/// Where one worker counts: the lane (an index) it owns, or a shared one.
pub(crate) enum Tally {
    Owned(usize),
    Shared(usize),
}

pub(crate) struct Completions {
    lanes: Box<[CachePadded<Lane>]>,
    /// Lanes ever counted in: `0..claimed`, where reads stop.
    claimed: AtomicUsize,
}

impl Completions {
    pub(crate) fn new() -> Self {
        Completions {
            lanes: (0..LANES)
                .map(|_| {
                    CachePadded::new(Lane {
                        count: AtomicU64::new(0),
                        owned: AtomicBool::new(false),
                    })
                })
                .collect(),
            claimed: AtomicUsize::new(FIRST_OWNED),
        }
    }

    /// Takes the lowest free owned lane for the worker numbered `worker`,
    /// or its shared lane if none is free.
    pub(crate) fn claim(&self, worker: usize) -> Tally {
        let free = (FIRST_OWNED..FIRST_SHARED).find(|&i| {
            self.lanes[i]
                .owned
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        });
        let (tally, reach) = match free {
            Some(i) => (Tally::Owned(i), i + 1),
            None => (Tally::Shared(FIRST_SHARED + worker % SHARED_LANES), LANES),
        };
        // Before the lane's first count (see the module docs).
        self.claimed.fetch_max(reach, Ordering::SeqCst);
        tally
    }

    /// Gives the lane back when its worker leaves.
    pub(crate) fn release(&self, tally: Tally) {
        if let Tally::Owned(i) = tally {
            self.lanes[i].owned.store(false, Ordering::Release);
        }
    }

    /// One task finished on the worker counting in `tally`.
    pub(crate) fn record(&self, tally: &Tally) {
        match *tally {
            Tally::Owned(i) => {
                // The only writer of this lane: no read-modify-write needed.
                let count = &self.lanes[i].count;
                count.store(count.load(Ordering::Relaxed) + 1, Ordering::Release);
            }
            Tally::Shared(i) => {
                self.lanes[i].count.fetch_add(1, Ordering::Release);
            }
        }
    }

    /// One task finished on a thread that owns no lane here (a worker
    /// running a queued task while it waits, `helping.rs`).
    pub(crate) fn record_shared(&self) {
        self.lanes[HELPERS].count.fetch_add(1, Ordering::Release);
    }

    /// The total so far: at most `LANES` loads, however many cores and
    /// workers (one per lane counted in). Each lane only grows, so the sum
    /// is at most the true total at any later moment.
    pub(crate) fn read(&self) -> Done {
        let claimed = self.claimed.load(Ordering::SeqCst);
        Done(self.lanes[..claimed].iter().fold(0u64, |sum, lane| {
            sum.wrapping_add(lane.count.load(Ordering::SeqCst))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_counts_once_owned_or_shared() {
        let done = Completions::new();
        // More workers than lanes: the last ones share, by number.
        let workers = OWNED_LANES + 2 * SHARED_LANES;
        let tallies: Vec<Tally> = (0..workers).map(|w| done.claim(w)).collect();
        assert!(
            tallies[..OWNED_LANES]
                .iter()
                .enumerate()
                .all(|(i, t)| matches!(t, Tally::Owned(lane) if *lane == FIRST_OWNED + i))
        );
        assert!(
            tallies[OWNED_LANES..]
                .iter()
                .all(|t| matches!(t, Tally::Shared(_)))
        );
        for tally in &tallies {
            done.record(tally);
            done.record(tally);
        }
        done.record_shared();
        assert_eq!(done.read().total(), 2 * workers as u64 + 1);
        // A lane given back is taken again (lowest first) and counts on
        // from where it was.
        let mut tallies = tallies.into_iter().skip(3);
        done.release(tallies.next().unwrap());
        let again = done.claim(0);
        assert!(matches!(again, Tally::Owned(lane) if lane == FIRST_OWNED + 3));
        done.record(&again);
        assert_eq!(done.read().total(), 2 * workers as u64 + 2);
    }

    #[test]
    fn a_read_covers_the_helpers_and_the_lanes_counted_in() {
        let done = Completions::new();
        let claimed = || done.claimed.load(Ordering::Relaxed);
        assert_eq!(claimed(), FIRST_OWNED);
        done.record_shared();
        let a = done.claim(7);
        let b = done.claim(9);
        assert!(matches!((&a, &b), (Tally::Owned(1), Tally::Owned(2))));
        assert_eq!(claimed(), FIRST_OWNED + 2);
        done.release(a);
        // Releasing keeps the lane's count, so it stays read.
        assert_eq!(claimed(), FIRST_OWNED + 2);
        done.record(&b);
        assert_eq!(done.read().total(), 2);
    }
}
