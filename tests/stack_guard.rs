//! Worker stacks: every one has a guard page right below it, and even the
//! smallest leaves a task room to work.
//!
//! A task that writes just past the bottom of its stack (what a stack
//! overflow does) must kill the process with SIGSEGV instead of silently
//! writing into memory that is not its own, such as the next worker's
//! stack (the pool maps stacks side by side, `src/stacks.rs`). That part
//! runs in a child process: this test binary runs itself again with
//! `STACK_GUARD_CHILD` set.

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

use workerpool::ffi::*;

mod common;

const CHILD: &str = "STACK_GUARD_CHILD";

/// The lowest address of the calling thread's stack.
fn own_stack_bottom() -> usize {
    // SAFETY: the attr is initialised by pthread_getattr_np before use and
    // destroyed once.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        assert_eq!(libc::pthread_getattr_np(libc::pthread_self(), &mut attr), 0);
        let mut addr = ptr::null_mut();
        let mut size = 0;
        assert_eq!(libc::pthread_attr_getstack(&attr, &mut addr, &mut size), 0);
        libc::pthread_attr_destroy(&mut attr);
        addr as usize
    }
}

/// Writes one byte just below the bottom of the worker's stack.
unsafe extern "C" fn write_below_stack(_: *mut c_void) {
    let below = (own_stack_bottom() - 64) as *mut u8;
    eprintln!("writing at {below:p}, below the stack");
    // SAFETY: not safe at all: this is the overflow the guard must stop.
    unsafe { ptr::write_volatile(below, 1) };
    eprintln!("the write went through: no guard page");
    std::process::exit(3);
}

/// A pool of `capacity` workers with `stack` bytes of stack each, lazy or
/// preallocated, that has been given `task` once.
fn pool_running(
    stack: usize,
    capacity: c_int,
    prealloc: bool,
    task: unsafe extern "C" fn(*mut c_void),
) -> *mut pool_t {
    // SAFETY: plain C-API use.
    unsafe {
        let opts = pool_options_new();
        assert_eq!(
            pool_options_set_stack_size(opts, stack),
            pool_status::POOL_OK
        );
        assert_eq!(
            pool_options_set_prealloc(opts, prealloc),
            pool_status::POOL_OK
        );
        let pool = pool_new(capacity, opts);
        pool_options_free(opts);
        assert!(!pool.is_null());
        assert_eq!(
            pool_schedule(pool, Some(task), ptr::null_mut()),
            pool_status::POOL_OK
        );
        pool
    }
}

/// In the child: a pool of 64 KiB stacks, lazy or preallocated, and the bad
/// write from one of its workers. (The page below a stack is always mapped,
/// as part of the pool's chunk: without the guard the write would go
/// through, and the child would exit with 3.)
fn child(prealloc: bool) -> ! {
    if std::env::var(CHILD).is_ok_and(|mode| mode.ends_with("-mprotect")) {
        #[cfg(feature = "fault-injection")]
        workerpool::fault::guard_markers_off();
    }
    let pool = pool_running(64 << 10, 8, prealloc, write_below_stack);
    // SAFETY: a live pool.
    unsafe { pool_wait(pool) };
    eprintln!("the task returned");
    std::process::exit(4);
}

/// Runs the test `name` again as a child in `mode`, which must die of the
/// guard page.
fn check(name: &str, mode: &str) {
    let stderr = common::child_dies_of(name, CHILD, mode, libc::SIGSEGV);
    assert!(stderr.contains("below the stack"), "the task ran: {stderr}");
}

#[test]
fn guard_page_below_every_stack_lazy() {
    match std::env::var(CHILD).as_deref() {
        Ok("lazy") => child(false),
        _ => check("guard_page_below_every_stack_lazy", "lazy"),
    }
}

#[test]
fn guard_page_below_every_stack_prealloc() {
    match std::env::var(CHILD).as_deref() {
        Ok("prealloc") => child(true),
        _ => check("guard_page_below_every_stack_prealloc", "prealloc"),
    }
}

/// The same with guard pages from `mprotect`, the fallback where the
/// kernel refuses guard markers (`fault::guard_markers_off`).
#[cfg(feature = "fault-injection")]
#[test]
fn guard_page_below_every_stack_by_mprotect() {
    match std::env::var(CHILD).as_deref() {
        Ok("lazy-mprotect") => child(false),
        _ => check("guard_page_below_every_stack_by_mprotect", "lazy-mprotect"),
    }
}

static ROOM: AtomicUsize = AtomicUsize::new(0);

/// Stores how much stack lies below this frame.
unsafe extern "C" fn measure_room(_: *mut c_void) {
    let here = 0u8;
    let here = std::hint::black_box(&here) as *const u8 as usize;
    ROOM.store(here - own_stack_bottom(), Ordering::SeqCst);
}

/// glibc keeps a thread's descriptor and static TLS at the top of its
/// stack, so a stack of exactly `PTHREAD_STACK_MIN` leaves a task much
/// less than that (~11 KiB here; a worker starting a thread from there
/// overflowed under AddressSanitizer). The smallest stack the pool gives
/// is glibc's minimum with the TLS counted, as `std::thread`'s: the task
/// keeps at least `PTHREAD_STACK_MIN` below its frame.
#[test]
fn the_smallest_stack_leaves_a_task_pthread_stack_min() {
    let pool = pool_running(1, 1, false, measure_room);
    // SAFETY: a live pool, freed once.
    assert_eq!(unsafe { pool_free(pool) }, pool_status::POOL_OK);
    let room = ROOM.load(Ordering::SeqCst);
    assert!(
        room >= libc::PTHREAD_STACK_MIN,
        "{room} bytes of stack below the task's frame"
    );
}
