//! Every worker's seat: its line (`mailbox.rs`), in every mode.
//!
//! A worker takes a seat when it is started and gives it back when it
//! leaves. In hand-off mode the seat's line is where tasks are claimed and
//! delivered; in every mode its `mark` says which task the worker holds,
//! which the exact wait reads (`wait.rs`). Seats are reused lowest first,
//! so scans stay within the seats the pool's largest worker count needed.
//!
//! Seats live in chunks allocated as workers first need them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

use crate::job::Job;
use crate::mailbox::{Claim, Mailbox};
use crate::sync::{AtomicU64, AtomicUsize, Mutex, Ordering};

/// Seats per chunk.
const CHUNK: usize = 64;
/// Lines a claim reads before it asks whether a longer scan is worth it.
const SHORT_SCAN: usize = 64;
/// Chunks: seats for the most live workers (the largest capacity), and as
/// many again for workers that have just been uncounted and have not given
/// their seat back yet.
const CHUNKS: usize = 2 * crate::builder::MAX_CAPACITY.div_ceil(CHUNK);

/// `CHUNK` lines, each on its own cache line.
type Chunk = Box<[CachePadded<Mailbox>]>;

pub(crate) struct Seats {
    chunks: Box<[OnceLock<Chunk>]>,
    /// Seats ever handed out (`0..in_use`): scans stop here. Grows under
    /// the `returned` lock, read without it.
    in_use: AtomicUsize,
    /// Seats given back, lowest first, so scans stay short.
    returned: Mutex<BinaryHeap<Reverse<usize>>>,
    /// Where the next claim starts: after the line last claimed.
    cursor: AtomicUsize,
    /// Hand-off mode's wait epoch: bumped by each exact wait, read by each
    /// delivery (`wait.rs`). Its own line: written only by waits.
    epoch: CachePadded<AtomicU64>,
    /// Idle lines made unclaimable whose worker still counts as live
    /// (`mailbox.rs`, "Leaving without a spurious refusal").
    in_transit: CachePadded<AtomicUsize>,
}

impl Seats {
    pub(crate) fn new() -> Self {
        Seats {
            chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(),
            in_use: AtomicUsize::new(0),
            returned: Mutex::new(BinaryHeap::new()),
            cursor: AtomicUsize::new(0),
            epoch: CachePadded::new(AtomicU64::new(0)),
            in_transit: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// Seat `index`, which has been handed out.
    pub(crate) fn line(&self, index: usize) -> &Mailbox {
        self.made(index).expect("a seat handed out has its chunk")
    }

    /// Seat `index` if its chunk is made (a scanner can see a new seat
    /// before its chunk is).
    fn made(&self, index: usize) -> Option<&Mailbox> {
        let chunk = self.chunks[index / CHUNK].get()?;
        Some(&chunk[index % CHUNK])
    }

    /// A VACANT seat for a worker being started; `None` if every seat is
    /// taken.
    pub(crate) fn take(&self) -> Option<usize> {
        let index = {
            let mut returned = self.returned.lock().unwrap_or_else(|p| p.into_inner());
            match returned.pop() {
                Some(Reverse(index)) => index,
                None => {
                    let fresh = self.in_use.load(Ordering::Relaxed);
                    if fresh == CHUNKS * CHUNK {
                        return None;
                    }
                    // Scanners may see the new seat before its chunk
                    // exists: they skip a chunk not yet made.
                    self.in_use.store(fresh + 1, Ordering::Release);
                    fresh
                }
            }
        };
        self.chunks[index / CHUNK].get_or_init(|| {
            (0..CHUNK)
                .map(|_| CachePadded::new(Mailbox::new()))
                .collect()
        });
        Some(index)
    }

    /// Hand-off mode: puts `job` on the new worker's seat, as a claim
    /// would.
    pub(crate) fn put_first(&self, index: usize, job: Job) {
        let mark = self.epoch.load(Ordering::SeqCst);
        self.line(index).put_first(job, mark);
    }

    /// Gives a seat back when its worker leaves (it holds no job: it ran
    /// the last one it took).
    pub(crate) fn give_back(&self, index: usize) {
        self.line(index).vacate();
        let mut returned = self.returned.lock().unwrap_or_else(|p| p.into_inner());
        returned.push(Reverse(index));
    }

    /// Gives back the seat of a worker that could not be started, with the
    /// job `put_first` left there, if any.
    pub(crate) fn give_back_unstarted(&self, index: usize) -> Option<Job> {
        let job = self.line(index).take_unstarted();
        self.give_back(index);
        job
    }

    /// Every seat handed out so far.
    fn lines(&self) -> impl Iterator<Item = &Mailbox> {
        let in_use = self.in_use.load(Ordering::Acquire);
        (0..in_use).filter_map(|index| self.made(index))
    }

    /// Claims an idle worker's line, scanning from after the last claim:
    /// the first `SHORT_SCAN` lines in use, then the rest only if
    /// `worth_it` says an idle worker may be among them (so that a schedule
    /// on a full pool of 10,000 busy workers does not read 10,000 lines).
    pub(crate) fn claim(&self, worth_it: impl FnOnce() -> bool) -> Option<Claim<'_>> {
        let in_use = self.in_use.load(Ordering::Acquire);
        let start = self.cursor.load(Ordering::Relaxed);
        let short = in_use.min(SHORT_SCAN);
        let found = self.claim_among(start, 0..short, in_use);
        if found.is_some() || short == in_use || !worth_it() {
            return found;
        }
        self.claim_among(start, short..in_use, in_use)
    }

    /// Claims among the lines `start + step` (modulo `in_use`) for `steps`.
    fn claim_among(
        &self,
        start: usize,
        steps: std::ops::Range<usize>,
        in_use: usize,
    ) -> Option<Claim<'_>> {
        for step in steps {
            let index = (start + step) % in_use;
            let claim = self.made(index).and_then(|line| line.claim(&self.epoch));
            if let Some(claim) = claim {
                // A hint: written only when it moves, so that a scheduler
                // claiming the same line again does not write it.
                if self.cursor.load(Ordering::Relaxed) != index + 1 {
                    self.cursor.store(index + 1, Ordering::Relaxed);
                }
                return Some(claim);
            }
        }
        None
    }

    /// Asks up to `n` idle workers, once each, to check whether they must
    /// retire. Returns how many were asked.
    pub(crate) fn ask_to_retire(&self, n: u64) -> u64 {
        let mut asked = 0;
        for line in self.lines() {
            if asked == n {
                break;
            }
            if line.ask_to_retire(&self.in_transit) {
                asked += 1;
            }
        }
        asked
    }

    /// Asks the worker of seat `index` itself (`hand_off.rs`).
    pub(crate) fn ask_own_line_to_retire(&self, index: usize) {
        self.line(index).ask_to_retire(&self.in_transit);
    }

    /// The count of `mailbox.rs`'s "Leaving without a spurious refusal".
    pub(crate) fn in_transit(&self) -> &AtomicUsize {
        &self.in_transit
    }

    /// Wakes every parked worker: the pool is closing.
    pub(crate) fn wake_for_closing(&self) {
        for line in self.lines() {
            line.wake_for_closing();
        }
    }

    /// Starts an exact wait in hand-off mode: every task delivered before
    /// carries a mark below the bound returned (`wait.rs`).
    pub(crate) fn next_epoch(&self) -> u64 {
        self.epoch.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Hand-off mode: tasks claimers delivered so far, on every line (each
    /// line's count only grows, and lines are never taken away).
    pub(crate) fn delivered(&self) -> u64 {
        self.lines().map(Mailbox::delivered).sum()
    }

    /// Whether no worker holds a task whose mark is below `bound`.
    pub(crate) fn all_marks_at_least(&self, bound: u64) -> bool {
        self.lines()
            .all(|line| line.mark.load(Ordering::SeqCst) >= bound)
    }
}
