//! Worker threads started with `pthread_create` on a stack from the pool's
//! arena (`stacks.rs`), named with `pthread_setname_np`.
//!
//! `std::thread` cannot run a thread on a given stack, which is the point
//! (`stacks.rs`). What is lost with it: `std::thread::current().name()` is
//! `None` on a worker (the kernel name, which C tools, gdb and perf show,
//! is set), and Rust's stack-overflow message (an overflow still hits the
//! guard page: SIGSEGV, never silent corruption).

use std::ffi::{CString, c_void};
use std::io;
use std::mem::MaybeUninit;
use std::ptr;

use crate::stacks::{Stack, StackArena};

/// Linux keeps 15 bytes of a thread name (and refuses longer ones).
const NAME_BYTES: usize = 15;

/// The longest start of `text` that fits in `bytes` bytes and ends on a
/// character boundary (a name cut inside a character is not UTF-8).
fn cut(text: &str, bytes: usize) -> &str {
    let mut end = text.len().min(bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A started thread that must be joined.
pub(crate) struct Thread {
    id: libc::pthread_t,
    stack: Stack,
}

struct Start {
    main: Box<dyn FnOnce() + Send>,
    name: Option<CString>,
}

impl Thread {
    /// Starts `main` on a new thread named `name` (cut to 15 bytes, on a
    /// character boundary), on a stack from `stacks`; `join` gives the
    /// stack back.
    pub(crate) fn start(
        stacks: &StackArena,
        name: &str,
        main: impl FnOnce() + Send + 'static,
    ) -> io::Result<Thread> {
        let stack = stacks.take()?;
        Thread::start_on(stack, name, main).map_err(|(error, stack)| {
            stacks.give_back(stack, false);
            error
        })
    }

    /// `start` on a given stack; on failure the stack comes back with the
    /// error.
    fn start_on(
        stack: Stack,
        name: &str,
        main: impl FnOnce() + Send + 'static,
    ) -> Result<Thread, (io::Error, Stack)> {
        let name = cut(name, NAME_BYTES);
        let start = Box::new(Start {
            main: Box::new(main),
            name: CString::new(name).ok(),
        });
        let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
        let mut id = MaybeUninit::<libc::pthread_t>::uninit();
        let start = Box::into_raw(start);
        // SAFETY: the attr is initialised before use and destroyed once;
        // the stack is a live, unused range with a guard page below it,
        // handed to this thread alone until it is joined; `start` is
        // owned by the new thread if pthread_create succeeds and taken
        // back here if it fails.
        let rc = unsafe {
            let mut rc = libc::pthread_attr_init(attr.as_mut_ptr());
            if rc == 0 {
                rc = libc::pthread_attr_setstack(
                    attr.as_mut_ptr(),
                    stack.low().cast(),
                    stack.bytes(),
                );
                if rc == 0 {
                    rc = libc::pthread_create(
                        id.as_mut_ptr(),
                        attr.as_ptr(),
                        thread_main,
                        start.cast(),
                    );
                }
                libc::pthread_attr_destroy(attr.as_mut_ptr());
            }
            rc
        };
        if rc != 0 {
            // SAFETY: no thread was started: `start` is still ours.
            drop(unsafe { Box::from_raw(start) });
            return Err((io::Error::from_raw_os_error(rc), stack));
        }
        Ok(Thread {
            // SAFETY: pthread_create succeeded and wrote the id.
            id: unsafe { id.assume_init() },
            stack,
        })
    }

    /// Joins the thread if it has exited, without waiting, and returns its
    /// stack (for the arena it came from); gives the handle back if the
    /// thread still runs.
    pub(crate) fn try_join(self) -> Result<Stack, Thread> {
        // SAFETY: a joinable thread started by `start_on`; joined at most
        // once: success consumes the handle.
        match unsafe { libc::pthread_tryjoin_np(self.id, ptr::null_mut()) } {
            0 => Ok(self.stack),
            libc::EBUSY => Err(self),
            rc => panic!("pthread_tryjoin_np of a worker failed: {rc}"),
        }
    }

    /// Whether this is the calling thread's handle.
    pub(crate) fn is_current(&self) -> bool {
        // SAFETY: compares two thread ids; no memory is touched.
        unsafe { libc::pthread_equal(self.id, libc::pthread_self()) != 0 }
    }

    /// Detaches the calling thread's own handle (it cannot join itself):
    /// the system frees the thread when it exits. Its stack never returns
    /// to the arena, which therefore keeps its mappings (`StackArena`'s
    /// drop): the cost of a shutdown that only a worker could run.
    pub(crate) fn detach(self) {
        // SAFETY: a joinable thread started by `start_on`, not joined; this
        // consumes the handle.
        unsafe { libc::pthread_detach(self.id) };
    }

    /// Waits for the thread to exit, then gives its stack back to `stacks`
    /// (the arena it came from); with `release`, its pages go back to the
    /// OS as well (`StackArena::give_back`).
    pub(crate) fn join(self, stacks: &StackArena, release: bool) {
        // SAFETY: a joinable thread started by `start_on`, joined once
        // (this consumes the handle).
        let rc = unsafe { libc::pthread_join(self.id, ptr::null_mut()) };
        assert_eq!(rc, 0, "pthread_join of a worker failed");
        stacks.give_back(self.stack, release);
    }
}

extern "C" fn thread_main(start: *mut c_void) -> *mut c_void {
    // SAFETY: `Thread::start` passed a `Box<Start>` and gave up its
    // ownership to this thread.
    let start = unsafe { Box::from_raw(start.cast::<Start>()) };
    if let Some(name) = &start.name {
        // SAFETY: a NUL-terminated name of at most 15 bytes; naming the
        // calling thread. Failure only leaves the name unset.
        unsafe { libc::pthread_setname_np(libc::pthread_self(), name.as_ptr()) };
    }
    let Start { main, .. } = *start;
    // A panic escaping `main` cannot unwind out of this `extern "C"`
    // function into the C thread start: the process aborts here, after the
    // panic hook printed the message (Rust 1.81+; the crate needs 1.85),
    // as for the C API's exports (`ffi/mod.rs`).
    main();
    ptr::null_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stacks::StackArena;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    /// `try_join` gives the handle back while the thread runs, and its
    /// stack once it has exited.
    #[test]
    fn try_join_waits_for_nothing() {
        let arena = StackArena::new(Some(128 << 10));
        let go = Arc::new(AtomicBool::new(false));
        let go2 = Arc::clone(&go);
        let mut thread = Thread::start(&arena, "tryjoin", move || {
            while !go2.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
        })
        .expect("start");
        let low = thread.stack.low();
        thread = match thread.try_join() {
            Ok(_) => panic!("joined a thread that still runs"),
            Err(running) => running,
        };
        go.store(true, Ordering::SeqCst);
        let start = Instant::now();
        let stack = loop {
            match thread.try_join() {
                Ok(stack) => break stack,
                Err(running) => thread = running,
            }
            assert!(start.elapsed() < Duration::from_secs(60), "never exited");
            std::thread::yield_now();
        };
        assert_eq!(stack.low(), low, "its own stack comes back");
        arena.give_back(stack, false);
    }

    #[test]
    fn names_are_cut_on_a_character_boundary() {
        assert_eq!(cut("workerpool-3", NAME_BYTES), "workerpool-3");
        assert_eq!(cut("averyverylongprefix-1", NAME_BYTES), "averyverylongpr");
        // 'é' is two bytes: 15 bytes end inside the eighth.
        assert_eq!(cut("éééééééé-0", NAME_BYTES), "ééééééé");
    }

    /// A panic escaping a thread's main function aborts the process: it
    /// must not unwind into the C thread start. Runs in a child process:
    /// the test binary runs this test again with `THREAD_PANIC_CHILD` set.
    #[test]
    fn a_panic_escaping_main_aborts_the_process() {
        use std::os::unix::process::ExitStatusExt;
        const CHILD: &str = "THREAD_PANIC_CHILD";
        if std::env::var_os(CHILD).is_some() {
            let arena = StackArena::new(Some(256 << 10));
            let thread =
                Thread::start(&arena, "panics", || panic!("escaping main")).expect("start");
            thread.join(&arena, false);
            eprintln!("the join returned");
            std::process::exit(3);
        }
        let name = "thread::tests::a_panic_escaping_main_aborts_the_process";
        let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .expect("run the child");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
        assert!(stderr.contains("escaping main"), "{stderr}");
        assert!(!stderr.contains("the join returned"), "{stderr}");
    }

    #[test]
    fn runs_on_its_stack_with_its_name() {
        let arena = StackArena::new(Some(128 << 10));
        let seen = Arc::new(AtomicUsize::new(0));
        let name_ok = Arc::new(AtomicBool::new(false));
        let (seen2, name_ok2) = (Arc::clone(&seen), Arc::clone(&name_ok));
        let thread = Thread::start(&arena, "a-very-long-thread-name", move || {
            // The stack the thread runs on, as pthread reports it (not a
            // local's address: ASan moves locals to a fake stack).
            // SAFETY: the attr is initialised by pthread_getattr_np before
            // use and destroyed once.
            unsafe {
                let mut attr: libc::pthread_attr_t = std::mem::zeroed();
                if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) == 0 {
                    let mut addr = ptr::null_mut();
                    let mut size = 0;
                    if libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0 {
                        seen2.store(addr as usize, Ordering::SeqCst);
                    }
                    libc::pthread_attr_destroy(&mut attr);
                }
            }
            let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap_or_default();
            name_ok2.store(comm.trim_end() == "a-very-long-thr", Ordering::SeqCst);
        })
        .expect("start");
        let low = thread.stack.low() as usize;
        thread.join(&arena, false);
        assert_eq!(seen.load(Ordering::SeqCst), low, "ran on its own stack");
        assert!(name_ok.load(Ordering::SeqCst), "named, cut to 15 bytes");
    }
}
