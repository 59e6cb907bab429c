//! Bad input through the C ABI: NULL handles, NULL tasks, NULL out pointers,
//! out-of-range options; pool_strerror and pool_version.

mod common;

use std::collections::HashSet;
use std::ffi::{CStr, c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use common::*;
use workerpool::ffi::*;

use pool_status::*;

const ALL_STATUSES: [pool_status; 8] = [
    POOL_OK,
    POOL_ERR_NO_IDLE_WORKER,
    POOL_ERR_FREED,
    POOL_ERR_INVALID,
    POOL_ERR_TIMEOUT,
    POOL_ERR_SPAWN,
    POOL_ERR_DEADLOCK,
    POOL_ERR_FORKED,
];

unsafe extern "C" fn hook(_ctx: *mut c_void) {}

#[test]
fn status_values_are_the_c_contract() {
    let want = [0, 1, 2, 3, 4, 5, 6];
    for (s, v) in ALL_STATUSES.iter().zip(want) {
        assert_eq!(*s as i32, v, "{s:?}");
    }
    assert_eq!(
        std::mem::size_of::<pool_status>(),
        std::mem::size_of::<std::ffi::c_int>()
    );
}

#[test]
fn stats_layout_is_the_c_contract() {
    // uint32_t x4, uint64_t x3 (0.1), then uint64_t cancelled and uint32_t
    // paused (0.2, appended), in that order, no padding between fields.
    assert_eq!(std::mem::size_of::<pool_stats>(), 4 * 4 + 4 * 8 + 8);
    let s = pool_stats::default();
    let base = &s as *const pool_stats as usize;
    assert_eq!(&s.capacity as *const u32 as usize - base, 0);
    assert_eq!(&s.workers as *const u32 as usize - base, 4);
    assert_eq!(&s.busy as *const u32 as usize - base, 8);
    assert_eq!(&s.queued as *const u32 as usize - base, 12);
    assert_eq!(&s.submitted as *const u64 as usize - base, 16);
    assert_eq!(&s.completed as *const u64 as usize - base, 24);
    assert_eq!(&s.rejected as *const u64 as usize - base, 32);
    assert_eq!(&s.cancelled as *const u64 as usize - base, 40);
    assert_eq!(&s.paused as *const u32 as usize - base, 48);
}

#[test]
fn options_setters_reject_null_options() {
    let null = ptr::null_mut();
    unsafe {
        assert_eq!(pool_options_set_block(null, true), POOL_ERR_INVALID);
        assert_eq!(pool_options_set_block(null, false), POOL_ERR_INVALID);
        assert_eq!(pool_options_set_prealloc(null, true), POOL_ERR_INVALID);
        assert_eq!(pool_options_set_queue_size(null, 16), POOL_ERR_INVALID);
        assert_eq!(pool_options_set_idle_timeout_ms(null, 10), POOL_ERR_INVALID);
        assert_eq!(pool_options_set_stack_size(null, 1 << 20), POOL_ERR_INVALID);
        assert_eq!(
            pool_options_set_thread_name(null, c"x".as_ptr()),
            POOL_ERR_INVALID
        );
        assert_eq!(
            pool_options_set_thread_name(null, ptr::null()),
            POOL_ERR_INVALID
        );
        assert_eq!(
            pool_options_set_thread_hooks(null, Some(hook), Some(hook), null.cast()),
            POOL_ERR_INVALID
        );
        assert_eq!(
            pool_options_set_thread_hooks(null, None, None, ptr::null_mut()),
            POOL_ERR_INVALID
        );
        // NULL is a no-op.
        pool_options_free(ptr::null_mut());
    }
}

#[test]
fn options_setters_accept_valid_values() {
    let o = pool_options_new();
    assert!(!o.is_null());
    unsafe {
        assert_eq!(pool_options_set_block(o, false), POOL_OK);
        assert_eq!(pool_options_set_prealloc(o, false), POOL_OK);
        for n in [0, 1, 16, usize::MAX] {
            assert_eq!(pool_options_set_queue_size(o, n), POOL_OK, "queue size {n}");
        }
        for ms in [0, 1, 1000, u64::MAX] {
            assert_eq!(
                pool_options_set_idle_timeout_ms(o, ms),
                POOL_OK,
                "idle timeout {ms}"
            );
        }
        for b in [0, 1, 4096, 64 << 10, 8 << 20, 1 << 40] {
            assert_eq!(pool_options_set_stack_size(o, b), POOL_OK, "stack size {b}");
        }
        assert_eq!(
            pool_options_set_thread_hooks(o, Some(hook), None, ptr::null_mut()),
            POOL_OK
        );
        assert_eq!(
            pool_options_set_thread_hooks(o, None, Some(hook), ptr::null_mut()),
            POOL_OK
        );
        pool_options_free(o);
    }
}

#[test]
fn thread_name_null_or_empty_is_invalid() {
    let o = pool_options_new();
    assert!(!o.is_null());
    unsafe {
        assert_eq!(
            pool_options_set_thread_name(o, ptr::null()),
            POOL_ERR_INVALID
        );
        assert_eq!(
            pool_options_set_thread_name(o, c"".as_ptr()),
            POOL_ERR_INVALID
        );
        assert_eq!(pool_options_set_thread_name(o, c"ok".as_ptr()), POOL_OK);
        let long = "x".repeat(4096) + "\0";
        assert_eq!(
            pool_options_set_thread_name(o, long.as_ptr() as *const c_char),
            POOL_OK
        );
        // The options are still usable after the refusals.
        let p = pool_new(2, o);
        pool_options_free(o);
        assert!(!p.is_null());
        let count = leak(AtomicUsize::new(0));
        assert_eq!(schedule(p, counter_task, arg(count)), POOL_OK);
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(count.load(SeqCst), 1);
        free_pool(p);
    }
}

#[test]
fn huge_stack_size_is_invalid() {
    let o = pool_options_new();
    assert!(!o.is_null());
    unsafe {
        for b in [(1usize << 40) + 1, 1 << 41, usize::MAX / 2, usize::MAX] {
            assert_eq!(
                pool_options_set_stack_size(o, b),
                POOL_ERR_INVALID,
                "stack size {b}"
            );
        }
        pool_options_free(o);
    }
}

#[test]
fn tiny_stack_size_is_rounded_up_and_works() {
    for prealloc in [false, true] {
        let o = pool_options_new();
        assert!(!o.is_null());
        unsafe {
            assert_eq!(pool_options_set_stack_size(o, 1), POOL_OK);
            assert_eq!(pool_options_set_prealloc(o, prealloc), POOL_OK);
        }
        let p = unsafe { pool_new(2, o) };
        unsafe { pool_options_free(o) };
        assert!(!p.is_null(), "prealloc {prealloc}");
        let count = leak(AtomicUsize::new(0));
        for _ in 0..10 {
            assert_eq!(schedule(p, small_work_task, arg(count)), POOL_OK);
        }
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(count.load(SeqCst), 10);
        free_pool(p);
    }
}

#[test]
fn schedule_functions_reject_null_pool_and_task() {
    let count = leak(AtomicUsize::new(0));
    let a = arg(count);
    let null_pool = ptr::null_mut();
    unsafe {
        assert_eq!(
            pool_schedule(null_pool, Some(counter_task), a),
            POOL_ERR_INVALID
        );
        assert_eq!(
            pool_try_schedule(null_pool, Some(counter_task), a),
            POOL_ERR_INVALID
        );
        assert_eq!(
            pool_schedule_timeout(null_pool, Some(counter_task), a, 10),
            POOL_ERR_INVALID
        );
        assert_eq!(pool_schedule(null_pool, None, a), POOL_ERR_INVALID);
        assert_eq!(pool_wait(null_pool), POOL_ERR_INVALID);
        assert_eq!(pool_set_capacity(null_pool, 5), POOL_ERR_INVALID);
    }

    for (block, prealloc) in [(true, false), (false, true)] {
        let p = new_pool(2, block, prealloc, 0);
        unsafe {
            assert_eq!(pool_schedule(p, None, a), POOL_ERR_INVALID);
            assert_eq!(pool_try_schedule(p, None, a), POOL_ERR_INVALID);
            assert_eq!(pool_schedule_timeout(p, None, a, 10), POOL_ERR_INVALID);
            assert_eq!(pool_schedule(p, None, ptr::null_mut()), POOL_ERR_INVALID);
        }
        let s = stats(p);
        assert_eq!(s.submitted, 0, "an invalid schedule is not accepted");
        assert_eq!(s.rejected, 0, "INVALID is not counted as rejected");
        assert_eq!(s.busy, 0);
        // The pool is unaffected.
        assert_eq!(schedule(p, counter_task, a), POOL_OK);
        assert_eq!(wait(p), POOL_OK);
        free_pool(p);
    }
    assert_eq!(count.load(SeqCst), 2);
}

#[test]
fn get_stats_with_null_does_nothing() {
    let sentinel = pool_stats {
        capacity: 0xdead,
        workers: 0xbeef,
        busy: 7,
        queued: 8,
        submitted: 9,
        completed: 10,
        rejected: 11,
        cancelled: 12,
        paused: 13,
    };
    let mut out = sentinel;
    unsafe { pool_get_stats(ptr::null(), &mut out) };
    assert_eq!(
        out, sentinel,
        "pool_get_stats(NULL, out) must not write out"
    );
    unsafe { pool_get_stats(ptr::null(), ptr::null_mut()) };

    let p = new_pool(3, true, false, 0);
    unsafe { pool_get_stats(p, ptr::null_mut()) };
    assert_eq!(stats(p).capacity, 3);
    free_pool(p);
}

#[test]
fn free_null_is_a_no_op() {
    assert_eq!(unsafe { pool_free(ptr::null_mut()) }, POOL_OK);
    unsafe { pool_options_free(ptr::null_mut()) };
}

#[test]
fn strerror_known_values_are_distinct_static_strings() {
    let mut seen = HashSet::new();
    for s in ALL_STATUSES {
        let p = pool_strerror(s as i32);
        assert!(!p.is_null(), "pool_strerror({s:?}) is NULL");
        let text = unsafe { CStr::from_ptr(p) }
            .to_str()
            .expect("UTF-8 text")
            .to_owned();
        assert!(!text.trim().is_empty(), "pool_strerror({s:?}) is empty");
        assert!(
            seen.insert(text.clone()),
            "pool_strerror({s:?}) = {text:?} is not distinct"
        );
        // Static: the same text on every call.
        let again = unsafe { CStr::from_ptr(pool_strerror(s as i32)) };
        assert_eq!(again.to_str().unwrap(), text);
    }

    for v in [8, 9, 100, -1, i32::MIN, i32::MAX] {
        let p = pool_strerror(v);
        assert!(!p.is_null(), "pool_strerror({v}) is NULL");
        let text = unsafe { CStr::from_ptr(p) }.to_str().expect("UTF-8 text");
        assert!(!text.trim().is_empty(), "pool_strerror({v}) is empty");
        assert!(
            !seen.contains(text),
            "pool_strerror({v}) = {text:?} reuses a known status text"
        );
    }
    let generic = |v| unsafe { CStr::from_ptr(pool_strerror(v)) }.to_owned();
    assert_eq!(
        generic(8),
        generic(-1),
        "unknown values share one generic text"
    );
    assert_eq!(generic(8), generic(i32::MAX));
}

#[test]
fn version_is_the_crate_version() {
    let p = pool_version();
    assert!(!p.is_null());
    let v = unsafe { CStr::from_ptr(p) }
        .to_str()
        .expect("UTF-8 version");
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    let parts: Vec<_> = v.split('.').collect();
    assert_eq!(parts.len(), 3, "MAJOR.MINOR.PATCH: {v}");
    for part in parts {
        assert!(
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()),
            "{v}"
        );
    }
    assert_eq!(pool_version(), p, "static string");
}

#[test]
fn prealloc_with_a_refused_stack_fails_cleanly() {
    // 1 TiB is accepted by the setter; whether the OS grants such a stack
    // depends on overcommit settings. Either the pool works, or pool_new
    // returns NULL with errno EAGAIN (prealloc) / schedule returns SPAWN (lazy).
    for prealloc in [true, false] {
        let o = pool_options_new();
        assert!(!o.is_null());
        unsafe {
            assert_eq!(pool_options_set_stack_size(o, 1 << 40), POOL_OK);
            assert_eq!(pool_options_set_prealloc(o, prealloc), POOL_OK);
        }
        let p = unsafe { pool_new(2, o) };
        let errno = std::io::Error::last_os_error().raw_os_error();
        unsafe { pool_options_free(o) };
        if p.is_null() {
            assert!(
                prealloc,
                "a lazy pool starts no thread, so pool_new cannot fail here"
            );
            assert_eq!(
                errno,
                Some(libc::EAGAIN),
                "pool_new NULL must set errno EAGAIN"
            );
            continue;
        }
        let count = leak(AtomicUsize::new(0));
        let st = schedule(p, counter_task, arg(count));
        assert!(
            st == POOL_OK || (st == POOL_ERR_SPAWN && !prealloc),
            "schedule returned {st:?}"
        );
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(count.load(SeqCst), usize::from(st == POOL_OK));
        if st == POOL_ERR_SPAWN {
            assert_eq!(stats(p).submitted, 0);
        }
        free_pool(p);
    }
}
