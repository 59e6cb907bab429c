//! Finished tasks, counted in shards that workers write and schedulers
//! only read.
//!
//! A counter that every schedule increments and every worker decrements
//! moves its cache line between cores twice per task; measured here, that
//! alone costs about as much as the rest of a schedule. So workers count
//! what they finish apart from the counts word, and the pending count is
//! derived (`counts.rs`). A worker first tries to own a shard: then it is
//! the shard's only writer and counts with a plain store, no atomic
//! read-modify-write per task. Workers that find every shard owned (more
//! workers than shards) share one more counter with `fetch_add`. Reading
//! the total means reading every shard: the slow paths do it (sleeping,
//! retiring, bounded admission, `wait`, stats), the fast schedule path does
//! not.
//!
//! Ordering: a count is stored with `Release`; the hand-shake with `wait`
//! callers puts a `SeqCst` fence after it (`waiters.rs`). An owner leaving
//! clears `owned` with `Release` after its last store, and the next owner
//! claims it with an `Acquire` CAS, so it continues from the last count.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicBool, AtomicU64, Ordering};

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

struct Shard {
    count: AtomicU64,
    owned: AtomicBool,
}

/// Where one worker counts: the shard it owns, or the shared counter.
pub(crate) struct Tally(Option<usize>);

pub(crate) struct Completions {
    shards: Box<[CachePadded<Shard>]>,
    /// For workers that own no shard.
    shared: CachePadded<AtomicU64>,
}

impl Completions {
    /// Two shards per CPU, 4 to 128.
    pub(crate) fn new() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let shards = (2 * cpus).clamp(4, 128);
        Completions {
            shards: (0..shards)
                .map(|_| {
                    CachePadded::new(Shard {
                        count: AtomicU64::new(0),
                        owned: AtomicBool::new(false),
                    })
                })
                .collect(),
            shared: CachePadded::new(AtomicU64::new(0)),
        }
    }

    /// Takes a free shard for the worker numbered `worker` (trying its own
    /// number's shard first), or the shared counter if none is free.
    pub(crate) fn claim(&self, worker: usize) -> Tally {
        let n = self.shards.len();
        let free = (0..n).map(|i| (worker + i) % n).find(|&i| {
            self.shards[i]
                .owned
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        });
        Tally(free)
    }

    /// Gives the shard back when its worker leaves.
    pub(crate) fn release(&self, tally: Tally) {
        if let Some(i) = tally.0 {
            self.shards[i].owned.store(false, Ordering::Release);
        }
    }

    /// One task finished on the worker counting in `tally`.
    pub(crate) fn record(&self, tally: &Tally) {
        match tally.0 {
            Some(i) => {
                // The only writer of this shard: no read-modify-write needed.
                let count = &self.shards[i].count;
                count.store(count.load(Ordering::Relaxed) + 1, Ordering::Release);
            }
            None => {
                self.shared.fetch_add(1, Ordering::Release);
            }
        }
    }

    /// One task finished on a thread that owns no shard here (a worker
    /// running a queued task while it waits, `helping.rs`).
    pub(crate) fn record_shared(&self) {
        self.shared.fetch_add(1, Ordering::Release);
    }

    /// The total so far. Each shard only grows, so the sum is at most the
    /// true total at any later moment.
    pub(crate) fn read(&self) -> Done {
        let owned = self.shards.iter().fold(0u64, |sum, shard| {
            sum.wrapping_add(shard.count.load(Ordering::SeqCst))
        });
        Done(owned.wrapping_add(self.shared.load(Ordering::SeqCst)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_counts_once_owned_or_shared() {
        let done = Completions::new();
        let n = done.shards.len();
        // One more worker than shards: the last one shares.
        let tallies: Vec<Tally> = (0..=n).map(|w| done.claim(w)).collect();
        assert!(tallies[..n].iter().all(|t| t.0.is_some()));
        assert!(tallies[n].0.is_none());
        for tally in &tallies {
            done.record(tally);
            done.record(tally);
        }
        assert_eq!(done.read().total(), 2 * (n as u64 + 1));
        // A shard given back is taken again and counts on from where it was.
        let mut tallies = tallies.into_iter();
        let first = tallies.next().unwrap();
        let shard = first.0;
        done.release(first);
        let again = done.claim(0);
        assert_eq!(again.0, shard);
        done.record(&again);
        assert_eq!(done.read().total(), 2 * (n as u64 + 1) + 1);
    }
}
