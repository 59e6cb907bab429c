//! Stacks for worker threads: mapped by the pool a chunk at a time, each
//! with a guard page below it, and reused once the thread that had one is
//! joined.
//!
//! Why not let `pthread_create` (or `std::thread`) map each stack: that is
//! an `mmap` per thread start and a `munmap` per exit, both on the
//! process's memory map, and `std::thread` adds a signal stack (another
//! `mmap`, `mprotect` and `munmap`) and a few allocations per thread. With
//! stacks carved out of chunks, a thread start is the guard page's marker
//! (`install_guard`) and the `clone`: 10,000 workers with 64 KiB stacks
//! start in ~0.19 s instead of ~0.36 s here, at 85 instead of 96 MiB of
//! peak RSS (BENCHMARKS.md, W6).
//!
//! Chunks grow geometrically (1, 2, 4, ... stacks, at most `MAX_PER_CHUNK`
//! stacks or `MAX_CHUNK_BYTES`), so a pool of a few threads maps little
//! and a pool of 10,000 maps ~50 chunks. Only what threads touch becomes
//! resident: a stack is ordinary private anonymous memory, as glibc's.
//! The arena is unmapped when the pool's memory is released, after every
//! worker was joined.

use std::io;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

const MAX_PER_CHUNK: usize = 256;
const MAX_CHUNK_BYTES: usize = 256 << 20;

/// `madvise` advice (Linux 6.13+) that makes a range fault on any access
/// without changing the mapping: from the kernel's generic `mman-common.h`,
/// which these architectures use (others fall back to `mprotect`).
const MADV_GUARD_INSTALL: Option<libc::c_int> = if cfg!(all(
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm",
        target_arch = "riscv64",
        target_arch = "loongarch64",
        target_arch = "powerpc64",
        target_arch = "s390x"
    )
)) {
    Some(102)
} else {
    None
};

/// Whether `MADV_GUARD_INSTALL` failed once (an older kernel, or memory
/// locked with `mlockall`): then every guard is an `mprotect`.
static GUARD_ADVICE_REFUSED: AtomicBool = AtomicBool::new(false);

/// From now on, guards as if the kernel had refused the marker advice
/// (`fault::guard_markers_off`).
#[cfg(feature = "fault-injection")]
pub(crate) fn refuse_guard_markers() {
    GUARD_ADVICE_REFUSED.store(true, Ordering::Relaxed);
}

/// Makes the page at `page` fault on any access.
///
/// A guard marker (`MADV_GUARD_INSTALL`) is preferred to `mprotect`:
/// `mprotect` splits the chunk's mapping around every guard (two more
/// entries in the process's memory map per stack, and the map's write
/// lock), and measured here it costs 1.7-2.2 us against 0.4-0.5 us for
/// the marker, per stack. The marker survives `MADV_DONTNEED`, as the
/// protection does.
///
/// # Safety
/// `page` is a page of a live private anonymous mapping of this arena,
/// unused by any thread.
unsafe fn install_guard(page: *mut u8, bytes: usize) -> io::Result<()> {
    if let Some(advice) = MADV_GUARD_INSTALL {
        if !GUARD_ADVICE_REFUSED.load(Ordering::Relaxed) {
            // SAFETY: per the contract; on failure nothing changed.
            if unsafe { libc::madvise(page.cast(), bytes, advice) } == 0 {
                return Ok(());
            }
            GUARD_ADVICE_REFUSED.store(true, Ordering::Relaxed);
        }
    }
    // SAFETY: per the contract.
    if unsafe { libc::mprotect(page.cast(), bytes, libc::PROT_NONE) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The usable part of one stack: `bytes` from `low` up; the page below
/// `low` is the guard.
pub(crate) struct Stack {
    low: NonNull<u8>,
    bytes: usize,
}

// SAFETY: a `Stack` is a range of memory that only its holder uses (the
// arena hands each out once until it is given back).
unsafe impl Send for Stack {}

impl Stack {
    pub(crate) fn low(&self) -> *mut u8 {
        self.low.as_ptr()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

struct Chunk {
    base: NonNull<u8>,
    bytes: usize,
}

struct Inner {
    chunks: Vec<Chunk>,
    /// Stacks given back, ready for another thread.
    free: Vec<Stack>,
    /// How many stacks of the newest chunk were handed out; the rest were
    /// never used.
    fresh_next: usize,
    /// Stacks handed out and not given back.
    out: usize,
}

// SAFETY: the chunks are plain memory mappings owned by the arena.
unsafe impl Send for Inner {}

pub(crate) struct StackArena {
    page: usize,
    /// Usable bytes per stack, a multiple of the page size.
    stack_bytes: usize,
    inner: Mutex<Inner>,
}

impl StackArena {
    /// An arena of stacks of `requested` bytes (`None`: the platform's
    /// default thread stack), raised to the platform minimum and rounded
    /// up to whole pages. Maps nothing yet.
    pub(crate) fn new(requested: Option<usize>) -> StackArena {
        // SAFETY: sysconf has no preconditions.
        let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            n if n > 0 => n as usize,
            _ => 4096,
        };
        let wanted = requested.unwrap_or_else(default_stack_size);
        let minimum = min_stack_size().max(2 * page);
        let stack_bytes = wanted.max(minimum).div_ceil(page).saturating_mul(page);
        StackArena {
            page,
            stack_bytes,
            inner: Mutex::new(Inner {
                chunks: Vec::new(),
                free: Vec::new(),
                fresh_next: 0,
                out: 0,
            }),
        }
    }

    /// A stack for a new thread: a reused one, or a fresh one whose guard
    /// page this call protects (outside the lock, so that threads starting
    /// workers at once do not wait for each other here).
    pub(crate) fn take(&self) -> io::Result<Stack> {
        let slot = self.page.saturating_add(self.stack_bytes);
        let fresh = {
            let mut inner = self.lock();
            if let Some(stack) = inner.free.pop() {
                inner.out += 1;
                return Ok(stack);
            }
            let newest_is_used_up = inner
                .chunks
                .last()
                .is_none_or(|chunk| inner.fresh_next == chunk.bytes / slot);
            if newest_is_used_up {
                let stacks = next_chunk_len(inner.chunks.len(), slot);
                let chunk = match map_chunk(stacks * slot) {
                    Ok(chunk) => chunk,
                    // A large chunk may be refused where one stack is not.
                    Err(_) if stacks > 1 => map_chunk(slot)?,
                    Err(error) => return Err(error),
                };
                inner.fresh_next = 0;
                inner.chunks.push(chunk);
            }
            let chunk = inner.chunks.last().expect("a chunk was just mapped");
            // SAFETY: `fresh_next < chunk.bytes / slot`: the slot lies
            // inside the chunk.
            let guard = unsafe { chunk.base.as_ptr().add(inner.fresh_next * slot) };
            inner.fresh_next += 1;
            inner.out += 1;
            guard
        };
        // SAFETY: `fresh` is the first page of a slot of a live mapping
        // that no thread uses yet.
        if let Err(error) = unsafe { install_guard(fresh, self.page) } {
            // The slot stays unused (unmapped with its chunk).
            self.lock().out -= 1;
            return Err(error);
        }
        Ok(Stack {
            // SAFETY: the slot is a page of guard and then the stack.
            low: unsafe { NonNull::new_unchecked(fresh.add(self.page)) },
            bytes: self.stack_bytes,
        })
    }

    /// Takes back the stack of a joined thread. With `release`, its pages
    /// are returned to the OS first (a live pool whose workers expired);
    /// not at shutdown, when the whole arena is unmapped next.
    pub(crate) fn give_back(&self, stack: Stack, release: bool) {
        if release {
            // SAFETY: the range is a stack no thread uses any more; its
            // contents are dead. Failure only leaves the pages resident.
            unsafe { libc::madvise(stack.low().cast(), stack.bytes, libc::MADV_DONTNEED) };
        }
        let mut inner = self.lock();
        inner.out -= 1;
        inner.free.push(stack);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for StackArena {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        if inner.out > 0 {
            // A thread was never joined (it may be this very thread, if a
            // worker dropped the last reference): leaking the memory is
            // better than unmapping a stack in use.
            return;
        }
        for chunk in inner.chunks.drain(..) {
            // SAFETY: every stack has been given back, so no thread runs on
            // this mapping; it was mapped by `map_chunk` with this length.
            unsafe { libc::munmap(chunk.base.as_ptr().cast(), chunk.bytes) };
        }
    }
}

/// Stacks in the next chunk, after `chunks_so_far`, for `slot`-byte slots
/// (guard and stack): 1, 2, 4, ... capped.
fn next_chunk_len(chunks_so_far: usize, slot: usize) -> usize {
    let geometric = 1usize << chunks_so_far.min(usize::BITS as usize - 1);
    geometric
        .min(MAX_PER_CHUNK)
        .min((MAX_CHUNK_BYTES / slot).max(1))
}

fn map_chunk(bytes: usize) -> io::Result<Chunk> {
    // SAFETY: a fresh anonymous private mapping; no existing memory is
    // affected.
    let base = unsafe {
        libc::mmap(
            ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(Chunk {
        base: NonNull::new(base.cast()).expect("mmap does not return null on success"),
        bytes,
    })
}

/// The smallest stack a thread can run on, as `std::thread` computes it:
/// glibc's `__pthread_get_minstack`, which adds the static TLS (glibc puts
/// it, and the thread's descriptor, at the top of the stack) and a guard's
/// size to `PTHREAD_STACK_MIN`; just `PTHREAD_STACK_MIN` where it is
/// missing.
fn min_stack_size() -> usize {
    static MIN: OnceLock<usize> = OnceLock::new();
    *MIN.get_or_init(|| {
        type GetMinstack = unsafe extern "C" fn(*const libc::pthread_attr_t) -> libc::size_t;
        // SAFETY: dlsym with a NUL-terminated name looks a symbol up.
        let symbol = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__pthread_get_minstack".as_ptr()) };
        if symbol.is_null() {
            return libc::PTHREAD_STACK_MIN;
        }
        // SAFETY: glibc's __pthread_get_minstack has this signature.
        let get_minstack: GetMinstack = unsafe { std::mem::transmute(symbol) };
        // SAFETY: the attr is a live, initialised default attr.
        with_default_attr(|attr| Some(unsafe { get_minstack(attr) }))
            .map_or(libc::PTHREAD_STACK_MIN, |n| n.max(libc::PTHREAD_STACK_MIN))
    })
}

/// The stack size `pthread_create` gives by default (on Linux, glibc
/// derives it from `RLIMIT_STACK`: 8 MiB usually).
fn default_stack_size() -> usize {
    with_default_attr(|attr| {
        let mut size: libc::size_t = 0;
        // SAFETY: the attr is a live, initialised default attr.
        let rc = unsafe { libc::pthread_attr_getstacksize(attr, &mut size) };
        (rc == 0 && size > 0).then_some(size)
    })
    .unwrap_or(8 << 20)
}

/// `read` applied to a default-initialised pthread attr (`None` if the
/// attr cannot be initialised).
fn with_default_attr(read: impl FnOnce(&libc::pthread_attr_t) -> Option<usize>) -> Option<usize> {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: the attr is initialised before it is read and destroyed once.
    unsafe {
        if libc::pthread_attr_init(attr.as_mut_ptr()) != 0 {
            return None;
        }
        let value = read(attr.assume_init_ref());
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_are_reused_and_sizes_rounded() {
        let arena = StackArena::new(Some(1));
        let first = arena.take().expect("stack");
        assert!(first.bytes() >= libc::PTHREAD_STACK_MIN);
        assert_eq!(first.bytes() % arena.page, 0);
        // Writable from end to end.
        // SAFETY: the stack is ours and unused.
        unsafe {
            first.low().write(1);
            first.low().add(first.bytes() - 1).write(1);
        }
        let address = first.low();
        arena.give_back(first, true);
        let again = arena.take().expect("stack");
        assert_eq!(again.low(), address, "a given-back stack is reused");
        let other = arena.take().expect("stack");
        assert_ne!(other.low(), address);
        arena.give_back(again, false);
        arena.give_back(other, false);
    }

    #[test]
    fn chunks_grow_geometrically_up_to_a_cap() {
        let arena = StackArena::new(Some(64 << 10));
        let slot = arena.page + arena.stack_bytes;
        let lens: Vec<usize> = (0..12).map(|i| next_chunk_len(i, slot)).collect();
        assert_eq!(lens[..4], [1, 2, 4, 8]);
        assert_eq!(lens[11], MAX_PER_CHUNK);
        let big = StackArena::new(Some(64 << 20));
        let slot = big.page + big.stack_bytes;
        assert_eq!(next_chunk_len(20, slot), MAX_CHUNK_BYTES / slot);
    }
}
