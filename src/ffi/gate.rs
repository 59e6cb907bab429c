//! Counts the threads inside calls on one C handle, so `pool_free` can wait
//! until none is left before it releases the memory.
//!
//! The word holds `2 * callers | CLOSING`. A caller enters with one
//! `fetch_add`; if CLOSING was already set it leaves at once with
//! `POOL_ERR_FREED`. Leaving is the subtle part: once the count reaches
//! zero the closer may free the gate, so a leaving caller must not touch it
//! after its decrement. While the pool is open it leaves with a CAS that
//! fails if CLOSING appeared meanwhile; once CLOSING is set it first clones
//! the closer's `Signal` (its own reference, kept alive by the `Arc`), then
//! decrements, and if it was the last caller raises the signal through
//! that clone.
//!
//! (A `std::thread::Thread` handle would do instead of `Signal`, but asking
//! a C thread for `thread::current()` allocates a handle that is never
//! freed on the main thread, which valgrind reports.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

const CLOSING: usize = 1;
const CALLER: usize = 2;

pub(crate) struct Gate {
    word: AtomicUsize,
    closer: Mutex<Option<Arc<Signal>>>,
}

/// A one-shot flag the last caller raises for the closer.
#[derive(Default)]
struct Signal {
    raised: Mutex<bool>,
    condvar: Condvar,
}

impl Signal {
    fn raise(&self) {
        *self.raised.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.condvar.notify_one();
    }

    fn wait(&self) {
        let mut raised = self.raised.lock().unwrap_or_else(|p| p.into_inner());
        while !*raised {
            raised = self.condvar.wait(raised).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Proof of being inside the gate; leaving happens on drop.
pub(crate) struct Pass<'a>(&'a Gate);

impl Gate {
    pub(crate) fn new() -> Self {
        Gate {
            word: AtomicUsize::new(0),
            closer: Mutex::new(None),
        }
    }

    /// Enters, unless the handle is being freed.
    pub(crate) fn enter(&self) -> Option<Pass<'_>> {
        let before = self.word.fetch_add(CALLER, Ordering::SeqCst);
        let pass = Pass(self);
        (before & CLOSING == 0).then_some(pass)
    }

    fn leave(&self) {
        let mut current = self.word.load(Ordering::SeqCst);
        while current & CLOSING == 0 {
            match self.word.compare_exchange_weak(
                current,
                current - CALLER,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
        let closer = self
            .closer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let before = self.word.fetch_sub(CALLER, Ordering::SeqCst);
        // From here on `self` may be freed: only `closer` (our clone) is used.
        if before == CLOSING | CALLER {
            if let Some(closer) = closer {
                closer.raise();
            }
        }
    }

    /// Refuses new callers and blocks until every caller inside has left.
    pub(crate) fn close_and_wait(&self) {
        let signal = Arc::new(Signal::default());
        *self.closer.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&signal));
        let before = self.word.fetch_or(CLOSING, Ordering::SeqCst);
        // Callers inside now leave through the CLOSING path; the last one
        // raises the signal (a raise before we wait is kept by the flag).
        if before != 0 {
            signal.wait();
        }
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}
