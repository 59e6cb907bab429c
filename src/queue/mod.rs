//! The unbounded MPMC queue that tasks travel in: a linked list of blocks of
//! slots, whose emptied blocks are reused, so a steady flow of tasks
//! allocates nothing.
//!
//! # Positions
//!
//! Each end (head, tail) is a position and a block pointer. A position
//! counts `LAP = SLOTS + 1` per block: offsets `0..SLOTS` are slots, and
//! offset `SLOTS` (`SWITCHING`) means the thread that claimed the block's
//! last slot is moving the end to the next block. Positions only grow, so a
//! compare-exchange on one cannot succeed on a stale value (no ABA).
//!
//! A thread claims a slot by moving an end's position one step with a
//! compare-exchange. It reads the block pointer after the position and
//! touches the block only once the compare-exchange succeeded: the pointer
//! changes only while the position is `SWITCHING`, so an unchanged position
//! proves the pointer read in between was the block of that position. A
//! stale pointer is never dereferenced, which is what lets emptied blocks
//! be reused or freed at once, with no deferred reclamation.
//!
//! # Who touches a block, and until when
//!
//! A producer: from its claim to its slot's WRITTEN store (the claimer of
//! the last slot also links the next block before that). A consumer: from
//! its claim until it marks its slot READ. So once every slot is READ
//! nobody touches the block, and `Block::take` finds out which
//! reader sees that last. It returns the block to the reserve.
//!
//! # Emptiness
//!
//! The head may claim a position only if the tail is past it, i.e. a
//! producer claimed that slot; if its value is not written yet, the
//! consumer waits for it (the producer is a few instructions from the
//! store, unless preempted). Reading the tail line on every pop would
//! bounce it between producer and consumers, so the head position carries
//! a flag, `MORE`: the tail is known to be in a later block, so every slot
//! of the head's block is claimed. `pop` returns `None` only when no slot
//! past the head is claimed; the pool needs no more (a worker then looks
//! again or sleeps by the counts, `sleep.rs`).

mod block;

use std::ptr;

use crossbeam_utils::CachePadded;

use crate::mailbox::NO_MARK;
use crate::sync::{AtomicPtr, AtomicU64, Ordering, Spin};
use block::{Block, Reserve, SLOTS};

const LAP: u64 = SLOTS as u64 + 1;
const SWITCHING: u64 = SLOTS as u64;
/// Positions are stored shifted left by one, leaving bit 0 for `MORE`.
const STEP: u64 = 2;
/// In the head position: the tail is in a later block.
const MORE: u64 = 1;

fn offset(position: u64) -> u64 {
    (position / STEP) % LAP
}

fn lap(position: u64) -> u64 {
    (position / STEP) / LAP
}

/// Slots before `position`, over all blocks (`SWITCHING` counts as the
/// block's end).
fn slots_before(position: u64) -> u64 {
    lap(position) * SLOTS as u64 + offset(position).min(SLOTS as u64)
}

/// One end of the queue.
struct End<T> {
    position: AtomicU64,
    block: AtomicPtr<Block<T>>,
}

pub(crate) struct Queue<T> {
    head: CachePadded<End<T>>,
    tail: CachePadded<End<T>>,
    reserve: Reserve<T>,
}

// SAFETY: values move between threads through the queue (hence `T: Send`);
// the slots are shared only under the claim protocol above.
unsafe impl<T: Send> Send for Queue<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Queue<T> {}

impl<T> Queue<T> {
    pub(crate) fn new() -> Self {
        let reserve = Reserve::new();
        let first = Box::into_raw(reserve.take());
        let end = |block| {
            CachePadded::new(End {
                position: AtomicU64::new(0),
                block: AtomicPtr::new(block),
            })
        };
        Queue {
            head: end(first),
            tail: end(first),
            reserve,
        }
    }

    /// Appends `value`. Its last access to the queue is the store that
    /// publishes the value: once a consumer can take it, `push` touches
    /// nothing (the pool's fast path relies on this, `shared.rs`).
    #[inline(always)]
    pub(crate) fn push(&self, value: T) {
        let spin = Spin::new();
        let mut tail = self.tail.position.load(Ordering::Acquire);
        loop {
            let offset = offset(tail);
            if offset == SWITCHING {
                spin.wait();
                tail = self.tail.position.load(Ordering::Acquire);
                continue;
            }
            let last_slot = offset + 1 == SWITCHING;
            let block = self.tail.block.load(Ordering::Acquire);
            let claimed = tail.wrapping_add(STEP);
            match self.tail.position.compare_exchange_weak(
                tail,
                claimed,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if last_slot {
                        // SAFETY: this producer claimed `block`'s last slot.
                        unsafe { self.switch_tail(block, claimed) };
                    }
                    // SAFETY: the claim above is for this slot of `block`.
                    unsafe { (*block).write(offset as usize, value) };
                    return;
                }
                Err(current) => {
                    tail = current;
                    spin.spin();
                }
            }
        }
    }

    /// Moves the tail to a new block after `block`, whose last slot the
    /// caller claimed (`claimed`: the tail position it set): once per
    /// block, out of `push`'s inlined path.
    ///
    /// # Safety
    /// The caller claimed `block`'s last slot and has not written it.
    #[cold]
    unsafe fn switch_tail(&self, block: *mut Block<T>, claimed: u64) {
        // Taken only now that this producer won the slot: taking one before
        // each attempt (so the others wait less) made four producers
        // contend on the reserve, 20-30% slower.
        let next = Box::into_raw(self.reserve.take());
        // Block first: a producer that sees the new position (acquire) then
        // reads the new block.
        self.tail.block.store(next, Ordering::Release);
        self.tail
            .position
            .store(claimed.wrapping_add(STEP), Ordering::Release);
        // SAFETY: the claim keeps `block` alive (its last slot is not
        // written yet, so not read).
        unsafe { (*block).link(next) };
    }

    /// Takes the oldest value, or `None` if the queue is (or looks) empty.
    ///
    /// With `mark`, the consumer's mark (`seats.rs`): before each attempt
    /// to claim a slot it is set to the slot's number (the value's place
    /// in the order of pushes), and on `None` to `NO_MARK`. The store comes
    /// before the claim (whose release publishes it), so a thread that
    /// sees the head past a slot also sees its consumer's mark (`wait.rs`).
    #[inline(always)]
    pub(crate) fn pop(&self, mark: Option<&AtomicU64>) -> Option<T> {
        let spin = Spin::new();
        let mut head = self.head.position.load(Ordering::Acquire);
        loop {
            let offset = offset(head);
            if offset == SWITCHING {
                spin.wait();
                head = self.head.position.load(Ordering::Acquire);
                continue;
            }
            let mut claimed = head.wrapping_add(STEP);
            if head & MORE == 0 {
                let tail = self.tail.position.load(Ordering::Acquire);
                if tail / STEP == head / STEP {
                    if let Some(mark) = mark {
                        mark.store(NO_MARK, Ordering::Release);
                    }
                    return None;
                }
                if lap(tail) != lap(head) {
                    claimed |= MORE;
                }
            }
            if let Some(mark) = mark {
                mark.store(slots_before(head), Ordering::Relaxed);
            }
            let block = self.head.block.load(Ordering::Acquire);
            match self.head.position.compare_exchange_weak(
                head,
                claimed,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // SAFETY: the claim keeps `block` alive until this slot is
                    // marked read; a producer claimed the slot (the tail was
                    // past it), so its value comes.
                    unsafe {
                        if offset + 1 == SWITCHING {
                            self.switch_head(block, claimed);
                        }
                        let (value, recycle) = (*block).take(offset as usize);
                        if recycle {
                            self.reserve.give_back(Box::from_raw(block));
                        }
                        return Some(value);
                    }
                }
                Err(current) => {
                    head = current;
                    spin.spin();
                }
            }
        }
    }

    /// Ends the head's `SWITCHING` (`claimed`, the head position the
    /// caller set) by moving it to the block after `block`, once its
    /// producer linked it: once per block, out of `pop`'s inlined path.
    ///
    /// # Safety
    /// The caller claimed `block`'s last slot and has not read it (so
    /// `block` is alive, and so is the next block until the head moves to
    /// it).
    #[cold]
    unsafe fn switch_head(&self, block: *mut Block<T>, claimed: u64) {
        // SAFETY: per the contract.
        let next = unsafe { (*block).wait_next() };
        let mut position = (claimed & !MORE).wrapping_add(STEP);
        // SAFETY: per the contract; `next` is not consumed before the head
        // moves to it.
        if !unsafe { (*next).next() }.is_null() {
            position |= MORE;
        }
        self.head.block.store(next, Ordering::Release);
        self.head.position.store(position, Ordering::Release);
    }

    /// Values pushed so far (slots claimed by producers).
    pub(crate) fn pushed(&self) -> u64 {
        slots_before(self.tail.position.load(Ordering::Acquire))
    }

    /// Values taken so far (slots claimed by consumers).
    pub(crate) fn popped(&self) -> u64 {
        slots_before(self.head.position.load(Ordering::Acquire))
    }

    /// Values in the queue, approximately while it changes.
    pub(crate) fn len(&self) -> usize {
        let head = self.head.position.load(Ordering::Acquire);
        let tail = self.tail.position.load(Ordering::Acquire);
        slots_before(tail).saturating_sub(slots_before(head)) as usize
    }
}

impl<T> Drop for Queue<T> {
    fn drop(&mut self) {
        while self.pop(None).is_some() {}
        // Empty: head and tail share the last block, which links nothing.
        let last = self.head.block.load(Ordering::Relaxed);
        debug_assert!(ptr::eq(last, self.tail.block.load(Ordering::Relaxed)));
        // SAFETY: `&mut self`: no other thread uses the queue; the block came
        // from `Box::into_raw` and its values were all moved out.
        drop(unsafe { Box::from_raw(last) });
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod loom_models;
