//! Property test of the C ABI with bad and arbitrary input: random call
//! sequences over a few option objects and pools, with NULLs, zero,
//! negative and huge capacities, timeouts up to u64::MAX, SIZE_MAX queues,
//! absurd stack sizes, arbitrary (also non-UTF-8) thread names and unknown
//! status values for `pool_strerror`. Each call must return one of its
//! documented statuses (the exact one where the input decides it), nothing
//! may crash or hang (each case runs under a watchdog), and when the case
//! frees its pools every accepted task has run exactly once.
//!
//! No generated sequence can wait for ever: tasks are short, so a blocking
//! schedule (or one with a u64::MAX timeout) on a full pool always gets
//! room, and handles are never used after `pool_free`.

mod common;

use std::ffi::{CStr, CString, c_void};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use proptest::prelude::*;
use workerpool::ffi::*;

use pool_status::*;

/// A case (one call sequence) that takes longer than this has hung.
const CASE_DEADLINE: Duration = Duration::from_secs(60);
const SLOTS: usize = 3;
/// Above this, a preallocated pool's capacity is cut to it (only to keep
/// the test fast: 10,000 threads per case would dominate the run).
const PREALLOC_CAP: i32 = 64;
const TIB: usize = 1 << 40;

#[derive(Clone, Debug)]
enum Setter {
    Block(bool),
    Prealloc(bool),
    Queue(usize),
    IdleMs(u64),
    Stack(usize),
    /// `None`: a NULL pointer; bytes up to the first NUL are the name.
    Name(Option<Vec<u8>>),
    Hooks(bool, bool),
}

#[derive(Clone, Copy, Debug)]
enum How {
    Schedule,
    Try,
    Timeout(u64),
}

#[derive(Clone, Debug)]
enum Op {
    OptionsNew(usize),
    /// Options slot, or NULL when `None`.
    Set(Option<usize>, Setter),
    OptionsFree(Option<usize>),
    /// Pool slot, options slot (or NULL), capacity.
    New(usize, Option<usize>, i32),
    /// Pool slot (or NULL), how, task NULL?, slow task?
    Schedule(Option<usize>, How, bool, bool),
    Wait(Option<usize>),
    SetCapacity(Option<usize>, i32),
    Stats(Option<usize>, bool),
    Free(Option<usize>),
    Strerror(i32),
    Version,
}

fn slot() -> impl Strategy<Value = usize> {
    0..SLOTS
}

fn maybe_slot() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![4 => slot().prop_map(Some), 1 => Just(None)]
}

fn capacity() -> impl Strategy<Value = i32> {
    prop_oneof![
        4 => 1..=8i32,
        1 => Just(0),
        1 => i32::MIN..0,
        1 => Just(i32::MIN),
        1 => Just(i32::MAX),
        1 => 10_000..=i32::MAX,
        1 => any::<i32>(),
    ]
}

fn setter() -> impl Strategy<Value = Setter> {
    prop_oneof![
        any::<bool>().prop_map(Setter::Block),
        any::<bool>().prop_map(Setter::Prealloc),
        prop_oneof![
            Just(0usize),
            Just(1),
            Just(16),
            Just(usize::MAX),
            Just(usize::MAX - 1),
            any::<usize>()
        ]
        .prop_map(Setter::Queue),
        prop_oneof![Just(0u64), Just(1), Just(50), Just(u64::MAX), any::<u64>()]
            .prop_map(Setter::IdleMs),
        prop_oneof![
            Just(0usize),
            Just(1),
            Just(4096),
            Just(64 << 10),
            Just(TIB),
            Just(TIB + 1),
            Just(usize::MAX),
            any::<usize>()
        ]
        .prop_map(Setter::Stack),
        proptest::option::weighted(0.9, proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(Setter::Name),
        (any::<bool>(), any::<bool>()).prop_map(|(a, b)| Setter::Hooks(a, b)),
    ]
}

fn how() -> impl Strategy<Value = How> {
    prop_oneof![
        Just(How::Schedule),
        Just(How::Try),
        prop_oneof![Just(0u64), Just(1), Just(5), Just(u64::MAX), any::<u64>()]
            .prop_map(How::Timeout),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => slot().prop_map(Op::OptionsNew),
        5 => (maybe_slot(), setter()).prop_map(|(o, s)| Op::Set(o, s)),
        1 => maybe_slot().prop_map(Op::OptionsFree),
        4 => (slot(), maybe_slot(), capacity()).prop_map(|(p, o, c)| Op::New(p, o, c)),
        12 => (maybe_slot(), how(), proptest::bool::weighted(0.1), any::<bool>())
            .prop_map(|(p, h, null, slow)| Op::Schedule(p, h, null, slow)),
        2 => maybe_slot().prop_map(Op::Wait),
        2 => (maybe_slot(), capacity()).prop_map(|(p, c)| Op::SetCapacity(p, c)),
        2 => (maybe_slot(), any::<bool>()).prop_map(|(p, out)| Op::Stats(p, out)),
        2 => maybe_slot().prop_map(Op::Free),
        1 => prop_oneof![any::<i32>(), -2..10i32].prop_map(Op::Strerror),
        1 => Just(Op::Version),
    ]
}

/// What the test knows of an options object (to predict results).
#[derive(Clone, Copy)]
struct Shadow {
    block: bool,
    prealloc: bool,
    huge_stack: bool,
}

impl Default for Shadow {
    fn default() -> Self {
        Shadow {
            block: true,
            prealloc: false,
            huge_stack: false,
        }
    }
}

struct Pool {
    p: *mut pool_t,
    shadow: Shadow,
    capacity: u32,
}

fn clamp(c: i32) -> u32 {
    if c <= 0 { 100 } else { c.min(10_000) as u32 }
}

unsafe extern "C" fn slow_counter_task(a: *mut c_void) {
    std::thread::sleep(Duration::from_micros(100));
    let c = unsafe { &*(a as *const AtomicUsize) };
    c.fetch_add(1, SeqCst);
}

/// Runs one call sequence; returns an error message on the first breach.
fn run_case(ops: &[Op]) -> Result<(), String> {
    let ran = leak(AtomicUsize::new(0));
    let hooks = leak(HookCounts::default());
    let mut accepted = 0usize;
    let mut opts: [(*mut pool_options_t, Shadow); SLOTS] =
        [(ptr::null_mut(), Shadow::default()); SLOTS];
    let mut pools: Vec<Option<Pool>> = (0..SLOTS).map(|_| None).collect();
    let mut result = Ok(());
    for (step, op) in ops.iter().enumerate() {
        let r = unsafe { apply(op, &mut opts, &mut pools, ran, hooks, &mut accepted) };
        if let Err(e) = r {
            result = Err(format!("step {step} {op:?}: {e}"));
            break;
        }
    }
    // Clean up: free every pool, then check that every accepted task ran
    // exactly once and every worker ran on_exit.
    for pool in pools.iter_mut().filter_map(Option::take) {
        let st = unsafe { pool_free(pool.p) };
        if st != POOL_OK && result.is_ok() {
            result = Err(format!("final pool_free: {st:?}"));
        }
    }
    for (o, _) in opts {
        unsafe { pool_options_free(o) };
    }
    result?;
    let ran = ran.load(SeqCst);
    if ran != accepted {
        return Err(format!("{accepted} tasks accepted, {ran} ran"));
    }
    let (s, e) = (hooks.started.load(SeqCst), hooks.exited.load(SeqCst));
    if s != e {
        return Err(format!(
            "{s} on_start but {e} on_exit after every pool_free"
        ));
    }
    Ok(())
}

fn expect(st: pool_status, allowed: &[pool_status], what: &str) -> Result<(), String> {
    if allowed.contains(&st) {
        Ok(())
    } else {
        Err(format!("{what} returned {st:?}, documented: {allowed:?}"))
    }
}

/// # Safety
/// Handles in `opts` / `pools` are live or NULL.
unsafe fn apply(
    op: &Op,
    opts: &mut [(*mut pool_options_t, Shadow); SLOTS],
    pools: &mut [Option<Pool>],
    ran: &'static AtomicUsize,
    hooks: &'static HookCounts,
    accepted: &mut usize,
) -> Result<(), String> {
    let pool_ptr = |pools: &[Option<Pool>], i: Option<usize>| {
        i.and_then(|i| pools[i].as_ref())
            .map_or(ptr::null_mut(), |p| p.p)
    };
    unsafe {
        match op {
            Op::OptionsNew(i) => {
                pool_options_free(opts[*i].0);
                let o = pool_options_new();
                if o.is_null() {
                    return Err("pool_options_new returned NULL".into());
                }
                opts[*i] = (o, Shadow::default());
            }
            Op::Set(i, setter) => {
                let (o, mut shadow) = i.map_or((ptr::null_mut(), Shadow::default()), |i| opts[i]);
                let null = o.is_null();
                let (st, invalid) = match setter {
                    Setter::Block(b) => {
                        shadow.block = *b;
                        (pool_options_set_block(o, *b), null)
                    }
                    Setter::Prealloc(b) => {
                        shadow.prealloc = *b;
                        (pool_options_set_prealloc(o, *b), null)
                    }
                    Setter::Queue(n) => (pool_options_set_queue_size(o, *n), null),
                    Setter::IdleMs(ms) => (pool_options_set_idle_timeout_ms(o, *ms), null),
                    Setter::Stack(b) => {
                        if *b <= TIB {
                            shadow.huge_stack = *b > (1 << 30);
                        }
                        (pool_options_set_stack_size(o, *b), null || *b > TIB)
                    }
                    Setter::Name(None) => (pool_options_set_thread_name(o, ptr::null()), true),
                    Setter::Name(Some(bytes)) => {
                        let name: Vec<u8> = bytes.iter().copied().take_while(|&b| b != 0).collect();
                        let bad = name.is_empty() || std::str::from_utf8(&name).is_err();
                        let c = CString::new(name).unwrap();
                        (pool_options_set_thread_name(o, c.as_ptr()), null || bad)
                    }
                    Setter::Hooks(start, exit) => (
                        pool_options_set_thread_hooks(
                            o,
                            start.then_some(on_start_hook as unsafe extern "C" fn(*mut c_void)),
                            exit.then_some(on_exit_hook as unsafe extern "C" fn(*mut c_void)),
                            // Only pools with both hooks count towards
                            // "one on_exit per on_start".
                            if *start && *exit {
                                arg(hooks)
                            } else {
                                arg(leak(HookCounts::default()))
                            },
                        ),
                        null,
                    ),
                };
                let want = if invalid { POOL_ERR_INVALID } else { POOL_OK };
                if st != want {
                    return Err(format!("setter returned {st:?}, expected {want:?}"));
                }
                if let (Some(i), false) = (i, invalid) {
                    opts[*i].1 = shadow;
                }
            }
            Op::OptionsFree(i) => {
                if let Some(i) = i {
                    pool_options_free(opts[*i].0);
                    opts[*i] = (ptr::null_mut(), Shadow::default());
                } else {
                    pool_options_free(ptr::null_mut());
                }
            }
            Op::New(i, o, cap) => {
                if let Some(old) = pools[*i].take() {
                    expect(pool_free(old.p), &[POOL_OK], "pool_free")?;
                }
                let (o, shadow) = o.map_or((ptr::null_mut(), Shadow::default()), |o| opts[o]);
                let shadow = if o.is_null() {
                    Shadow::default()
                } else {
                    shadow
                };
                let cap = if shadow.prealloc && clamp(*cap) > PREALLOC_CAP as u32 {
                    PREALLOC_CAP
                } else {
                    *cap
                };
                let p = pool_new(cap, o);
                let errno = std::io::Error::last_os_error().raw_os_error();
                if p.is_null() {
                    if shadow.prealloc && errno == Some(libc::EAGAIN) {
                        return Ok(()); // the OS refused a thread (e.g. the stack)
                    }
                    return Err(format!("pool_new({cap}) returned NULL, errno {errno:?}"));
                }
                pools[*i] = Some(Pool {
                    p,
                    shadow,
                    capacity: clamp(cap),
                });
            }
            Op::Schedule(i, how, null_task, slow) => {
                let p = pool_ptr(pools, *i);
                let task: pool_task_fn = if *null_task {
                    None
                } else if *slow {
                    Some(slow_counter_task)
                } else {
                    Some(counter_task)
                };
                let a = arg(ran);
                let (st, name) = match how {
                    How::Schedule => (pool_schedule(p, task, a), "pool_schedule"),
                    How::Try => (pool_try_schedule(p, task, a), "pool_try_schedule"),
                    How::Timeout(ms) => (
                        pool_schedule_timeout(p, task, a, *ms),
                        "pool_schedule_timeout",
                    ),
                };
                if p.is_null() || task.is_none() {
                    return expect(st, &[POOL_ERR_INVALID], name);
                }
                let shadow = pools[i.unwrap()].as_ref().unwrap().shadow;
                let full = match how {
                    How::Schedule if shadow.block => None,
                    How::Schedule | How::Try => Some(POOL_ERR_NO_IDLE_WORKER),
                    How::Timeout(_) => Some(POOL_ERR_TIMEOUT),
                };
                let mut allowed = vec![POOL_OK, POOL_ERR_SPAWN];
                allowed.extend(full);
                expect(st, &allowed, name)?;
                if st == POOL_ERR_SPAWN && !shadow.huge_stack {
                    return Err(format!("{name}: SPAWN with an ordinary stack size"));
                }
                if st == POOL_OK {
                    *accepted += 1;
                }
            }
            Op::Wait(i) => {
                let p = pool_ptr(pools, *i);
                let want = if p.is_null() {
                    POOL_ERR_INVALID
                } else {
                    POOL_OK
                };
                expect(pool_wait(p), &[want], "pool_wait")?;
            }
            Op::SetCapacity(i, cap) => {
                let p = pool_ptr(pools, *i);
                let want = if p.is_null() {
                    POOL_ERR_INVALID
                } else {
                    POOL_OK
                };
                expect(pool_set_capacity(p, *cap), &[want], "pool_set_capacity")?;
                if let Some(pool) = i.and_then(|i| pools[i].as_mut()) {
                    pool.capacity = clamp(*cap);
                }
            }
            Op::Stats(i, with_out) => {
                let p = pool_ptr(pools, *i);
                let sentinel = pool_stats {
                    capacity: 12345,
                    ..Default::default()
                };
                let mut s = sentinel;
                let out: *mut pool_stats = if *with_out { &mut s } else { ptr::null_mut() };
                pool_get_stats(p, out);
                match (p.is_null(), with_out) {
                    (true, _) | (_, false) if s != sentinel => {
                        return Err(format!(
                            "pool_get_stats wrote through a NULL argument: {s:?}"
                        ));
                    }
                    (false, true) => {
                        let want = pools[i.unwrap()].as_ref().unwrap().capacity;
                        if s.capacity != want || s.completed > s.submitted || s.busy > s.workers {
                            return Err(format!("stats {s:?}, capacity should be {want}"));
                        }
                    }
                    _ => {}
                }
            }
            Op::Free(i) => {
                let p = i
                    .and_then(|i| pools[i].take())
                    .map_or(ptr::null_mut(), |p| p.p);
                expect(pool_free(p), &[POOL_OK], "pool_free")?;
            }
            Op::Strerror(v) => {
                // The header types it as pool_status; C may pass any int.
                let text = pool_strerror(*v);
                if text.is_null() {
                    return Err(format!("pool_strerror({v}) returned NULL"));
                }
                let text = CStr::from_ptr(text).to_str().map_err(|e| e.to_string())?;
                if text.is_empty() {
                    return Err(format!("pool_strerror({v}) is empty"));
                }
                let known = (0..=7).contains(v);
                if known == text.contains("unknown") {
                    return Err(format!("pool_strerror({v}) = {text:?}"));
                }
            }
            Op::Version => {
                let v = CStr::from_ptr(pool_version())
                    .to_str()
                    .map_err(|e| e.to_string())?;
                if v != env!("CARGO_PKG_VERSION") {
                    return Err(format!("pool_version() = {v:?}"));
                }
            }
        }
    }
    Ok(())
}

/// Runs `ops` on a helper thread; a case that does not finish within
/// `CASE_DEADLINE` is a hang.
fn run_case_bounded(ops: Vec<Op>) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_case(&ops));
    });
    match rx.recv_timeout(CASE_DEADLINE) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("hang: over {CASE_DEADLINE:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the case panicked".into()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_call_sequences_are_safe(ops in proptest::collection::vec(op(), 1..80)) {
        if let Err(e) = run_case_bounded(ops) {
            prop_assert!(false, "{}", e);
        }
    }
}
