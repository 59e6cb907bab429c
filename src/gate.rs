//! Counts the threads inside calls on one pool, so that the memory is
//! released only once none is left (`pool_free` must not free what a
//! concurrent caller still reads).
//!
//! Who enters: C calls other than scheduling (`pool_wait`,
//! `pool_set_capacity`, `pool_get_stats`), and schedules that leave the
//! fast path (`shared.rs`). A fast-path schedule needs no pass: the task it
//! counted keeps the pool alive until its push, its last access.
//!
//! The word holds `2 * callers | CLOSING`. A caller enters with one
//! `fetch_add`; if CLOSING was already set, `enter` lets it leave at once
//! (the call returns `POOL_ERR_FREED`), while `hold` keeps it inside: a
//! thread already protected by a counted task uses `hold` to finish its
//! work after giving that task up. Leaving is the subtle part: once the
//! count reaches zero the closer may free the gate, so a leaving caller
//! must not touch it after its decrement. While the pool is open it leaves
//! with a CAS that fails if CLOSING appeared meanwhile; once CLOSING is set
//! it first clones the closer's `Signal` (its own reference, kept alive by
//! the `Arc`), then decrements, and if it was the last caller raises the
//! signal through that clone.
//!
//! (A `std::thread::Thread` handle would do instead of `Signal`, but asking
//! a C thread for `thread::current()` allocates a handle that is never
//! freed on the main thread, which valgrind reports.)

use crate::sync::{Arc, Condvar, Mutex};
use crate::sync::{AtomicUsize, Ordering};

const CLOSING: usize = 1;
const CALLER: usize = 2;

pub(crate) struct Gate {
    word: AtomicUsize,
    closer: Mutex<Option<Arc<Signal>>>,
}

/// Where the closer sleeps until the gate is empty. It re-reads the word
/// under `lock` before each wait, and a leaver takes `lock` before it
/// notifies, so a notification cannot fall between the check and the wait.
#[derive(Default)]
pub(crate) struct Signal {
    lock: Mutex<()>,
    condvar: Condvar,
}

impl Signal {
    fn notify(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.condvar.notify_all();
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

    /// Enters, unless the pool is being freed.
    pub(crate) fn enter(&self) -> Option<Pass<'_>> {
        let before = self.word.fetch_add(CALLER, Ordering::SeqCst);
        let pass = Pass(self);
        (before & CLOSING == 0).then_some(pass)
    }

    /// Enters even while closing. Only for a thread whose access is already
    /// protected otherwise (it holds a counted task, which `shutdown` waits
    /// for before it waits for the gate).
    pub(crate) fn hold(&self) -> Pass<'_> {
        self.word.fetch_add(CALLER, Ordering::SeqCst);
        Pass(self)
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
                closer.notify();
            }
        }
    }

    /// Refuses new callers from now on (`enter` fails); the callers inside
    /// stay. Returns the signal the last of them raises.
    pub(crate) fn close(&self) -> Arc<Signal> {
        let signal = {
            let mut closer = self.closer.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(closer.get_or_insert_with(|| Arc::new(Signal::default())))
        };
        self.word.fetch_or(CLOSING, Ordering::SeqCst);
        signal
    }

    /// Refuses new callers and blocks until every caller inside has left.
    /// May be called again (by `shutdown`, after `pool_free` did): it then
    /// waits for the callers that `hold` let in meanwhile.
    pub(crate) fn close_and_wait(&self) {
        let signal = self.close();
        // Callers inside now leave through the CLOSING path, and so do
        // callers that arrive now (they enter, see CLOSING, leave); the one
        // that empties the gate notifies. Waiting on the word itself, not
        // on a one-shot flag, also covers a late caller that enters after
        // the gate was empty once.
        let mut guard = signal.lock.lock().unwrap_or_else(|p| p.into_inner());
        while self.word.load(Ordering::SeqCst) != CLOSING {
            guard = signal
                .condvar
                .wait(guard)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// Model check: a caller leaving while the closer closes never leaves the
/// closer waiting, and the closer returns only when no caller that got in
/// is still inside. (A call that reaches `enter` only after the closer
/// returned is the use-after-free the C contract forbids; no gate can help
/// a thread that has not reached it.)
/// `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.
#[cfg(all(test, loom))]
mod loom_models {
    use super::Gate;
    use crate::sync::{Arc, AtomicUsize, Ordering, loom_model};

    #[test]
    fn loom_close_waits_for_callers_inside() {
        loom_model().check(|| {
            let gate = Arc::new(Gate::new());
            let inside = Arc::new(AtomicUsize::new(0));
            let callers: Vec<_> = (0..2)
                .map(|_| {
                    let (gate, inside) = (Arc::clone(&gate), Arc::clone(&inside));
                    loom::thread::spawn(move || {
                        if let Some(_pass) = gate.enter() {
                            inside.fetch_add(1, Ordering::SeqCst);
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            gate.close_and_wait();
            assert_eq!(inside.load(Ordering::SeqCst), 0);
            for caller in callers {
                caller.join().unwrap();
            }
        });
    }
}
