//! Fork safety: a pool (or group) made before `fork()` is unusable in the
//! child, where its worker threads do not exist and its locks and queue may
//! be frozen mid-update by them. Every call on such a handle returns
//! `POOL_ERR_FORKED` at once, without touching the pool's state.
//!
//! How a call knows: a `pthread_atfork` child handler (registered once, by
//! the first constructor) bumps a process-wide generation, and each handle
//! keeps the generation it was made in. The check is one relaxed load of
//! the generation and a compare with a field of the handle: relaxed is
//! enough, because in the child the handler ran on the only thread before
//! `fork()` returned, so every later call on that thread sees its store,
//! and threads the child starts later are ordered after it by their
//! creation.

use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

static GENERATION: AtomicU32 = AtomicU32::new(0);
static REGISTER: Once = Once::new();

extern "C" fn in_child_after_fork() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The generation a new handle is born in (registers the handler first).
pub(crate) fn generation() -> u32 {
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that only bumps an atomic, which is
        // async-signal-safe, as a handler run in a child after `fork()`
        // must be. Failure (ENOMEM) leaves fork detection off: there is no
        // caller to report it to, and a pool then behaves as before.
        unsafe { libc::pthread_atfork(None, None, Some(in_child_after_fork)) };
    });
    GENERATION.load(Ordering::Relaxed)
}

/// Whether a handle born in generation `born` was inherited through
/// `fork()`: one relaxed load.
#[inline]
pub(crate) fn forked(born: u32) -> bool {
    GENERATION.load(Ordering::Relaxed) != born
}
