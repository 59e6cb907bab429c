//! Finished tasks, counted in shards that workers write and schedulers
//! only read.
//!
//! A counter that every schedule increments and every worker decrements
//! moves its cache line between cores twice per task; measured here, that
//! alone costs about as much as the rest of a schedule. So workers count
//! what they finish in a shard of their own (several workers share one
//! only when there are more workers than shards), and the pending count is
//! derived (`counts.rs`). Reading the total means reading every shard: the
//! slow paths do it (sleeping, retiring, bounded admission, `wait`, stats),
//! the fast schedule path does not.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU64, Ordering};

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

pub(crate) struct Completions {
    shards: Box<[CachePadded<AtomicU64>]>,
}

impl Completions {
    /// One shard per CPU (a power of two, 2 to 64).
    pub(crate) fn new() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let shards = cpus.clamp(2, 64).next_power_of_two();
        Completions {
            shards: (0..shards)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
        }
    }

    /// The shard of the worker numbered `worker` (threads are numbered in
    /// start order, so concurrent workers rarely share one).
    pub(crate) fn shard_of(&self, worker: usize) -> usize {
        worker & (self.shards.len() - 1)
    }

    /// One task finished on a worker counting in `shard`. `SeqCst`: it is
    /// one side of the hand-shake with `wait` callers (`waiters.rs`).
    pub(crate) fn record(&self, shard: usize) {
        self.shards[shard].fetch_add(1, Ordering::SeqCst);
    }

    /// The total so far. Each shard only grows, so the sum is at most the
    /// true total at any later moment.
    pub(crate) fn read(&self) -> Done {
        Done(self.shards.iter().fold(0u64, |sum, shard| {
            sum.wrapping_add(shard.load(Ordering::SeqCst))
        }))
    }
}
