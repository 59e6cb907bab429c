//! Facts about threads, read from the kernel and the C library: who the
//! calling thread is, its name and stack, and how many pool threads exist.

use std::ffi::c_int;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

pub fn errno() -> c_int {
    // SAFETY: `__errno_location` returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

pub fn set_errno(v: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = v };
}

pub fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Identifies the calling thread: its kernel TID plus a serial number unique
/// in this process (TIDs are reused once a thread has exited, and `pid_max`
/// may be small).
pub fn thread_key() -> (i32, u64) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static SERIAL: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    let serial = SERIAL.with(|s| {
        if s.get() == 0 {
            s.set(NEXT.fetch_add(1, SeqCst));
        }
        s.get()
    });
    (gettid(), serial)
}

/// The calling thread's stack size as the C library reports it; 0 if it
/// cannot tell.
pub fn own_stack_size() -> usize {
    // SAFETY: the attr is initialised by pthread_getattr_np before use and
    // destroyed once.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return 0;
        }
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstacksize(&attr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 { 0 } else { size }
    }
}

/// The calling thread's name, read from the kernel.
pub fn own_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm")
        .map(|s| s.trim_end_matches('\n').to_owned())
        .unwrap_or_else(|e| format!("<error {e}>"))
}

/// Threads of this process named `<prefix>-*`: a pool's workers, when the
/// test gave the pool a prefix of its own (tests of one binary run in
/// parallel, so counting all threads would see the other tests' pools).
pub fn threads_named(prefix: &str) -> usize {
    let want = format!("{prefix}-");
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
        .filter(|comm| comm.trim_end_matches('\n').starts_with(&want))
        .count()
}
