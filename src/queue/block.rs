//! The queue's storage: blocks of slots, and the reserve of emptied blocks
//! that new blocks are taken from.

use std::mem::MaybeUninit;
use std::ptr;

use crate::sync::{AtomicPtr, AtomicUsize, Mutex, MutexGuard, Ordering, UnsafeCell};

/// Slots per block. Positions count `SLOTS + 1` per block: the extra one
/// marks a switch to the next block in progress (`mod.rs`). Small under
/// loom, so the models cross blocks and recycle them.
pub(super) const SLOTS: usize = if cfg!(loom) { 3 } else { 63 };

/// Emptied blocks kept for reuse: a backlog up to about
/// `RESERVE * SLOTS` tasks (here 4,032) reuses blocks instead of
/// allocating; beyond it, the excess blocks are freed as they empty.
const RESERVE: usize = if cfg!(loom) { 1 } else { 64 };

/// Emptied blocks the reserve starts with: with the queue's first block,
/// enough for a hand-off pool's backlog (at most its workers, across at
/// most three blocks while one is being read out), so such a pool
/// allocates the same for 10 tasks as for millions. None under loom, so
/// the models reuse blocks they emptied.
const PREFILLED: usize = if cfg!(loom) { 0 } else { 2 };

// Slot states. A slot goes 0 → WRITTEN → WRITTEN|READ, and HANDOFF may be
// added once in between by the reader that recycles the block
// (`Block::take`).
const WRITTEN: usize = 1;
const READ: usize = 2;
/// The block's recycling waits on this slot's reader, who carries it on.
const HANDOFF: usize = 4;

struct Slot<T> {
    value: UnsafeCell<MaybeUninit<T>>,
    state: AtomicUsize,
}

pub(super) struct Block<T> {
    /// The next block, linked by the producer that claims this block's last
    /// slot, before it writes that slot.
    next: AtomicPtr<Block<T>>,
    slots: [Slot<T>; SLOTS],
}

impl<T> Block<T> {
    fn new() -> Box<Self> {
        Box::new(Block {
            next: AtomicPtr::new(ptr::null_mut()),
            slots: std::array::from_fn(|_| Slot {
                value: UnsafeCell::new(MaybeUninit::uninit()),
                state: AtomicUsize::new(0),
            }),
        })
    }

    /// The next block, if linked.
    pub(super) fn next(&self) -> *mut Block<T> {
        self.next.load(Ordering::Acquire)
    }

    pub(super) fn link(&self, next: *mut Block<T>) {
        self.next.store(next, Ordering::Release);
    }

    /// Waits until the next block is linked: the caller holds the last slot,
    /// so its producer is linking it.
    pub(super) fn wait_next(&self) -> *mut Block<T> {
        let backoff = crate::sync::Spin::new();
        loop {
            let next = self.next();
            if !next.is_null() {
                return next;
            }
            backoff.wait();
        }
    }

    /// Writes the value of a slot this thread claimed, and publishes it.
    /// The state store is the producer's last access to the block.
    ///
    /// # Safety
    /// The caller claimed `index` by moving the tail past it.
    #[inline(always)]
    pub(super) unsafe fn write(&self, index: usize, value: T) {
        let slot = &self.slots[index];
        // SAFETY: the claim makes this thread the slot's only writer, and no
        // reader looks at the value before WRITTEN.
        slot.value.with_mut(|cell| unsafe { (*cell).write(value) });
        // Release: the reader that sees WRITTEN sees the value. A plain
        // store: nobody else writes the state before WRITTEN.
        slot.state.store(WRITTEN, Ordering::Release);
    }

    /// Waits for the value of a slot this thread claimed, moves it out and
    /// marks the slot read. Also returns whether the caller must recycle
    /// the block: nobody touches it any more.
    ///
    /// A block is recycled once all its slots are read, by whoever finds
    /// that out: the reader of the last slot checks the others in order; at
    /// the first one still unread it sets HANDOFF and stops, and that
    /// slot's reader, seeing HANDOFF when it marks READ, checks on from the
    /// next slot. The two read-modify-writes on one state make exactly one
    /// of them carry on.
    ///
    /// # Safety
    /// The caller claimed `index` by moving the head past it, and touches
    /// the block no more unless told to recycle it.
    #[inline]
    pub(super) unsafe fn take(&self, index: usize) -> (T, bool) {
        let slot = &self.slots[index];
        let backoff = crate::sync::Spin::new();
        while slot.state.load(Ordering::Acquire) & WRITTEN == 0 {
            backoff.wait();
        }
        // SAFETY: WRITTEN (acquired) says the value is initialised; the claim
        // makes this thread its only reader, and it is read once.
        let value = slot
            .value
            .with(|cell| unsafe { (*cell).assume_init_read() });
        (value, self.mark_read(index))
    }

    /// The recycling check of `take`, after slot `index` was read.
    #[inline]
    fn mark_read(&self, index: usize) -> bool {
        let first_unchecked = if index + 1 == SLOTS {
            0
        } else {
            // AcqRel: releases this read to the recycler; acquires what the
            // recycler that set HANDOFF saw.
            if self.slots[index].state.fetch_or(READ, Ordering::AcqRel) & HANDOFF == 0 {
                return false;
            }
            index + 1
        };
        self.recycles_from(first_unchecked)
    }

    /// Whether every slot from `first_unchecked` on is read (then the
    /// caller recycles the block), else hands the check to the first
    /// unread one's reader. Once per block, or after a HANDOFF.
    #[cold]
    fn recycles_from(&self, first_unchecked: usize) -> bool {
        for slot in &self.slots[first_unchecked..SLOTS - 1] {
            if slot.state.load(Ordering::Acquire) & READ == 0
                && slot.state.fetch_or(HANDOFF, Ordering::AcqRel) & READ == 0
            {
                return false;
            }
        }
        true
    }

    /// Clears a recycled block for its next use. Relaxed: the block
    /// reaches its next user through the reserve's lock.
    fn reset(&self) {
        self.next.store(ptr::null_mut(), Ordering::Relaxed);
        for slot in &self.slots {
            slot.state.store(0, Ordering::Relaxed);
        }
    }
}

/// Emptied blocks for reuse. The lock is held for a `Vec` push or pop,
/// once per `SLOTS` values at each end.
pub(super) struct Reserve<T> {
    blocks: Mutex<Vec<Box<Block<T>>>>,
}

impl<T> Reserve<T> {
    pub(super) fn new() -> Self {
        // The capacity is taken up front: returning a block never allocates.
        let mut blocks = Vec::with_capacity(RESERVE);
        blocks.extend((0..PREFILLED).map(|_| Block::new()));
        Reserve {
            blocks: Mutex::new(blocks),
        }
    }

    fn blocks(&self) -> MutexGuard<'_, Vec<Box<Block<T>>>> {
        // Nothing panics while holding it; a poisoned list is still whole.
        self.blocks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An empty block: a reserved one, or a new one.
    pub(super) fn take(&self) -> Box<Block<T>> {
        let reused = self.blocks().pop();
        reused.unwrap_or_else(Block::new)
    }

    /// Takes back a block nobody uses any more (its values were moved out);
    /// frees it if the reserve is full.
    pub(super) fn give_back(&self, block: Box<Block<T>>) {
        let mut blocks = self.blocks();
        if blocks.len() < RESERVE {
            block.reset();
            blocks.push(block);
        }
    }
}
