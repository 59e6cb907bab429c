//! Faults: thread creation failing at random points, a stack size the OS
//! refuses, tasks still running when `pool_free` is called, `pool_free`
//! racing with blocked schedulers, capacity shrunk to 1 under load or while
//! workers go idle, the fast schedule path acting on a stale view of the
//! pool, a panic inside an export. Each
//! must give the documented status and never a hang, a crash, a lost or a
//! doubly-run task, or a thread left behind.
//!
//! Needs the `fault-injection` feature (`workerpool::fault::fail_spawns`):
//! `cargo test --release --features fault-injection --test faults`.
//! Failure injection is process-wide, so the tests of this file take a
//! common lock and run one at a time.

mod common;

use std::ffi::{CString, c_void};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard};

use common::threads::threads_named;
use common::*;
use workerpool::fault::{fail_spawns, fast_path_hint_off, pause_before_idle};
use workerpool::ffi::*;

use pool_status::*;

static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the file-wide lock and switches failure injection off again when
/// the test ends, even by a panic.
struct Faults(#[allow(dead_code)] MutexGuard<'static, ()>);

impl Faults {
    fn lock() -> Faults {
        let guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        fail_spawns(0, 1);
        fast_path_hint_off(false);
        pause_before_idle(0);
        Faults(guard)
    }
}

impl Drop for Faults {
    fn drop(&mut self) {
        fail_spawns(0, 1);
        fast_path_hint_off(false);
        pause_before_idle(0);
    }
}

/// Waits (deadline) until no thread named `prefix-*` is left: a joined
/// thread may take a moment to leave /proc.
fn assert_no_thread_left(prefix: &str) {
    wait_until(&format!("no thread named {prefix}-* left"), || {
        threads_named(prefix) == 0
    });
}

struct Opts {
    cap: i32,
    block: bool,
    prealloc: bool,
    queue: usize,
    stack: usize,
    name: &'static str,
    hooks: Option<&'static HookCounts>,
}

impl Opts {
    fn new(cap: i32, name: &'static str) -> Opts {
        Opts {
            cap,
            block: true,
            prealloc: false,
            queue: 0,
            stack: 0,
            name,
            hooks: None,
        }
    }

    /// `pool_new` with these options; NULL is returned to the caller along
    /// with errno.
    fn try_build(&self) -> (*mut pool_t, Option<i32>) {
        unsafe {
            let o = pool_options_new();
            assert!(!o.is_null());
            assert_eq!(pool_options_set_block(o, self.block), POOL_OK);
            assert_eq!(pool_options_set_prealloc(o, self.prealloc), POOL_OK);
            assert_eq!(pool_options_set_queue_size(o, self.queue), POOL_OK);
            assert_eq!(pool_options_set_stack_size(o, self.stack), POOL_OK);
            let name = CString::new(self.name).unwrap();
            assert_eq!(pool_options_set_thread_name(o, name.as_ptr()), POOL_OK);
            if let Some(h) = self.hooks {
                assert_eq!(
                    pool_options_set_thread_hooks(
                        o,
                        Some(on_start_hook),
                        Some(on_exit_hook),
                        arg(h)
                    ),
                    POOL_OK
                );
            }
            let p = pool_new(self.cap, o);
            let errno = std::io::Error::last_os_error().raw_os_error();
            pool_options_free(o);
            (p, errno)
        }
    }

    fn build(&self) -> *mut pool_t {
        let (p, errno) = self.try_build();
        assert!(!p.is_null(), "pool_new returned NULL, errno {errno:?}");
        p
    }
}

/// Per-task tokens: each accepted schedule's token must end at exactly 1,
/// each refused one at 0.
fn tokens(n: usize) -> &'static [AtomicU8] {
    Box::leak((0..n).map(|_| AtomicU8::new(0)).collect())
}

/// Task: `arg` is an `AtomicU8` token; a short sleep so that workers are
/// busy and new tasks need new workers (and spawns).
unsafe extern "C" fn slow_token_task(a: *mut c_void) {
    std::thread::sleep(std::time::Duration::from_micros(200));
    let t = unsafe { &*(a as *const AtomicU8) };
    t.fetch_add(1, SeqCst);
}

#[derive(Clone, Copy, Debug)]
enum Call {
    Schedule,
    Try,
    Timeout,
}

fn call(p: *mut pool_t, how: Call, t: &AtomicU8) -> pool_status {
    match how {
        Call::Schedule => schedule(p, slow_token_task, arg(t)),
        Call::Try => try_schedule(p, slow_token_task, arg(t)),
        Call::Timeout => schedule_timeout(p, slow_token_task, arg(t), 50),
    }
}

/// Spawns fail with probability 30 % while 4 threads schedule on lazy
/// pools of every kind: SPAWN is possible, but every OK task runs exactly
/// once and no refused one runs; the stats agree; once failures stop the
/// same pool takes and runs everything; free leaves no thread behind.
#[test]
fn random_spawn_failures_lose_nothing_and_pool_recovers() {
    if !in_own_process("random_spawn_failures_lose_nothing_and_pool_recovers") {
        return;
    }
    let _f = Faults::lock();
    const THREADS: usize = 4;
    const PER_THREAD: usize = 300;
    let mut seed = 7;
    for (queue, block) in [(0, true), (0, false), (4, true), (usize::MAX, true)] {
        for how in [Call::Schedule, Call::Try, Call::Timeout] {
            seed += 1;
            let name = "fltrand";
            let mut o = Opts::new(4, name);
            o.queue = queue;
            o.block = block;
            let p = o.build();
            let pp = PoolPtr::new(p);
            let toks = tokens(THREADS * PER_THREAD);
            fail_spawns(300, seed);
            let handles: Vec<_> = (0..THREADS)
                .map(|k| {
                    std::thread::spawn(move || {
                        let mut statuses = Vec::new();
                        for t in &toks[k * PER_THREAD..(k + 1) * PER_THREAD] {
                            statuses.push(call(pp.get(), how, t));
                        }
                        statuses
                    })
                })
                .collect();
            let statuses: Vec<pool_status> = handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect();
            fail_spawns(0, 1);
            assert_eq!(wait(p), POOL_OK);
            let what = format!("queue {queue} block {block} {how:?}");
            let mut ok = 0u64;
            let mut spawn = 0u64;
            let mut refused = 0u64;
            for (i, (st, t)) in statuses.iter().zip(toks).enumerate() {
                let ran = t.load(SeqCst);
                match st {
                    POOL_OK => {
                        ok += 1;
                        assert_eq!(ran, 1, "{what}: accepted task {i} ran {ran} times");
                    }
                    POOL_ERR_SPAWN => spawn += 1,
                    POOL_ERR_NO_IDLE_WORKER
                        if matches!(how, Call::Try)
                            || (!block && matches!(how, Call::Schedule)) =>
                    {
                        refused += 1
                    }
                    POOL_ERR_TIMEOUT if matches!(how, Call::Timeout) => refused += 1,
                    other => panic!("{what}: undocumented status {other:?}"),
                }
                if *st != POOL_OK {
                    assert_eq!(ran, 0, "{what}: refused task {i} ({st:?}) ran");
                }
            }
            let s = stats(p);
            assert_eq!(s.submitted, ok, "{what}: {s:?}");
            assert_eq!(s.completed, ok, "{what}: {s:?}");
            assert!(
                s.rejected == refused || s.rejected == refused + spawn,
                "{what}: rejected {} but {refused} refusals and {spawn} SPAWN: {s:?}",
                s.rejected
            );
            // Failures stopped: the same pool works normally again.
            let more = tokens(200);
            for t in more {
                let st = schedule_timeout(p, slow_token_task, arg(t), 60_000);
                assert_eq!(st, POOL_OK, "{what}: after failures stopped");
            }
            assert_eq!(wait(p), POOL_OK);
            assert!(more.iter().all(|t| t.load(SeqCst) == 1), "{what}");
            free_pool(p);
            assert_no_thread_left(name);
        }
    }
}

/// Every spawn fails: a lazy pool with no worker refuses with SPAWN; with
/// an idle worker it accepts (no spawn needed); with its only worker busy
/// it refuses in hand-off mode, and queues when the queue has room.
#[test]
fn spawn_is_returned_only_when_no_worker_can_take_the_task() {
    if !in_own_process("spawn_is_returned_only_when_no_worker_can_take_the_task") {
        return;
    }
    let _f = Faults::lock();
    for how in [Call::Schedule, Call::Try, Call::Timeout] {
        // No worker at all.
        let p = Opts::new(2, "fltnone").build();
        fail_spawns(1000, 3);
        let t = leak(AtomicU8::new(0));
        assert_eq!(call(p, how, t), POOL_ERR_SPAWN, "{how:?}, no worker");
        fail_spawns(0, 1);
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(t.load(SeqCst), 0);
        assert_eq!(stats(p).workers, 0);
        assert_eq!(stats(p).submitted, 0);
        free_pool(p);

        for queue in [0usize, 4] {
            let name = "fltbusy";
            let p = Opts {
                queue,
                ..Opts::new(2, name)
            }
            .build();
            // One worker, started while spawns still work, then idle.
            let first = leak(AtomicUsize::new(0));
            assert_eq!(schedule(p, counter_task, arg(first)), POOL_OK);
            assert_eq!(wait(p), POOL_OK);
            assert_eq!(stats(p).workers, 1);
            fail_spawns(1000, 4);
            // The idle worker takes it: no spawn needed.
            let t = leak(AtomicU8::new(0));
            assert_eq!(
                call(p, how, t),
                POOL_OK,
                "{how:?} queue {queue}, idle worker"
            );
            assert_eq!(wait(p), POOL_OK);
            assert_eq!(t.load(SeqCst), 1);
            // Now keep the only worker busy: the next task needs a second
            // worker, which cannot start.
            let g = leak(Gated::new());
            assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
            wait_until("gated task running", || g.started() == 1);
            let t2 = leak(AtomicU8::new(0));
            let st = call(p, how, t2);
            if queue == 0 {
                assert_eq!(st, POOL_ERR_SPAWN, "{how:?}: hand-off, only worker busy");
            } else {
                assert_eq!(
                    st, POOL_OK,
                    "{how:?}: queue has room behind the busy worker"
                );
            }
            g.open();
            fail_spawns(0, 1);
            assert_eq!(wait(p), POOL_OK);
            assert_eq!(t2.load(SeqCst), u8::from(st == POOL_OK));
            free_pool(p);
            assert_no_thread_left(name);
        }
    }
}

/// `pool_stats.rejected` counts "NO_IDLE_WORKER, TIMEOUT, FREED" (header,
/// API.md); a SPAWN refusal is not in that list.
#[test]
fn spawn_refusals_are_not_counted_as_rejected() {
    let _f = Faults::lock();
    let p = Opts::new(2, "fltrej").build();
    fail_spawns(1000, 5);
    let t = leak(AtomicU8::new(0));
    assert_eq!(call(p, Call::Schedule, t), POOL_ERR_SPAWN);
    fail_spawns(0, 1);
    let s = stats(p);
    free_pool(p);
    assert_eq!(
        s.rejected, 0,
        "a POOL_ERR_SPAWN refusal was counted in pool_stats.rejected, which the \
         contract defines as NO_IDLE_WORKER + TIMEOUT + FREED: {s:?}"
    );
}

/// Prealloc pools with spawns failing at random: `pool_new` either returns
/// a pool with every worker started, or NULL with errno EAGAIN having
/// joined the workers it started (each ran on_exit) and left no thread.
#[test]
fn prealloc_spawn_failure_gives_null_eagain_and_no_thread() {
    if !in_own_process("prealloc_spawn_failure_gives_null_eagain_and_no_thread") {
        return;
    }
    let _f = Faults::lock();
    let name = "fltpre";
    let mut nulls = 0;
    for round in 0..60u64 {
        let hooks = leak(HookCounts::default());
        let o = Opts {
            prealloc: true,
            hooks: Some(hooks),
            ..Opts::new(8, name)
        };
        // 1000 ‰ on some rounds: the very first thread fails.
        fail_spawns(if round % 10 == 0 { 1000 } else { 80 }, round + 11);
        let (p, errno) = o.try_build();
        fail_spawns(0, 1);
        if p.is_null() {
            nulls += 1;
            assert_eq!(errno, Some(libc::EAGAIN), "round {round}");
            assert_no_thread_left(name);
            assert_eq!(
                hooks.started.load(SeqCst),
                hooks.exited.load(SeqCst),
                "round {round}: every started worker ran on_exit"
            );
            continue;
        }
        assert_eq!(stats(p).workers, 8, "round {round}");
        let count = leak(AtomicUsize::new(0));
        for _ in 0..50 {
            assert_eq!(schedule(p, counter_task, arg(count)), POOL_OK);
        }
        assert_eq!(wait(p), POOL_OK);
        assert_eq!(count.load(SeqCst), 50);
        free_pool(p);
        assert_no_thread_left(name);
        assert_eq!(hooks.started.load(SeqCst), 8);
        assert_eq!(hooks.exited.load(SeqCst), 8);
    }
    assert!(nulls >= 6, "at least the 1000 ‰ rounds fail ({nulls})");
}

/// A 1 TiB stack: accepted by the setter (it is the maximum), refused by
/// the OS here. Prealloc: NULL with EAGAIN; lazy: every schedule call
/// returns SPAWN, nothing runs, and the pool frees cleanly.
#[test]
fn impossible_stack_size_is_refused_cleanly() {
    if !in_own_process("impossible_stack_size_is_refused_cleanly") {
        return;
    }
    let _f = Faults::lock();
    let huge = 1usize << 40;
    let name = "flttib";
    let (p, errno) = Opts {
        prealloc: true,
        stack: huge,
        ..Opts::new(2, name)
    }
    .try_build();
    if !p.is_null() {
        eprintln!("SKIPPED: this OS grants a 1 TiB thread stack");
        free_pool(p);
        return;
    }
    assert_eq!(errno, Some(libc::EAGAIN));
    assert_no_thread_left(name);

    let p = Opts {
        stack: huge,
        ..Opts::new(2, name)
    }
    .build();
    let t = leak(AtomicU8::new(0));
    for how in [Call::Schedule, Call::Try, Call::Timeout] {
        assert_eq!(call(p, how, t), POOL_ERR_SPAWN, "{how:?}");
    }
    assert_eq!(wait(p), POOL_OK);
    let s = stats(p);
    assert_eq!((s.workers, s.submitted, s.completed), (0, 0, 0), "{s:?}");
    free_pool(p);
    assert_eq!(t.load(SeqCst), 0);
    assert_no_thread_left(name);
}

/// `pool_free` while tasks run long and more wait in the queue: free waits,
/// every accepted task runs, schedules made after free began get FREED.
#[test]
fn free_waits_for_long_running_tasks() {
    if !in_own_process("free_waits_for_long_running_tasks") {
        return;
    }
    let _f = Faults::lock();
    for queue in [0usize, 8, usize::MAX] {
        let name = "fltlong";
        let p = Opts {
            queue,
            ..Opts::new(4, name)
        }
        .build();
        let pp = PoolPtr::new(p);
        let g = leak(Gated::new());
        let accepted = 4 + queue.min(8);
        for _ in 0..accepted {
            assert_eq!(try_schedule(p, gated_task, arg(g)), POOL_OK);
        }
        wait_until("4 long tasks running", || g.started() == 4);
        let freed = leak(StatusCell::new());
        let freer = std::thread::spawn(move || freed.set(unsafe { pool_free(pp.get()) }));
        // Free began once a schedule is refused with FREED (the handle is
        // valid: free cannot return while the gated tasks run).
        // (An unbounded queue accepts until then: those tasks must run.)
        let late = leak(AtomicUsize::new(0));
        let late_ok = leak(AtomicUsize::new(0));
        wait_until(
            "schedules refused once pool_free began",
            || match try_schedule(p, counter_task, arg(late)) {
                POOL_ERR_FREED => true,
                POOL_ERR_NO_IDLE_WORKER => false,
                POOL_OK if queue == usize::MAX => {
                    late_ok.fetch_add(1, SeqCst);
                    false
                }
                other => panic!("queue {queue}: schedule during free: {other:?}"),
            },
        );
        // A premature return would show up here (not needed for a pass).
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!freed.is_set(), "queue {queue}: pool_free returned early");
        g.open();
        wait_until("pool_free returned", || freed.is_set());
        freer.join().unwrap();
        assert_eq!(freed.get(), Some(POOL_OK));
        assert_eq!(g.done(), accepted, "queue {queue}: every accepted task ran");
        assert_eq!(late.load(SeqCst), late_ok.load(SeqCst));
        assert_no_thread_left(name);
    }
}

/// Several threads blocked in `pool_schedule` / `pool_schedule_timeout`
/// (long and "infinite" timeouts) on a full pool, and a `pool_wait`
/// caller, when `pool_free` starts: the schedulers return FREED, the
/// waiter OK or FREED, nothing hangs, the refused tasks never run.
#[test]
fn free_releases_schedulers_blocked_in_several_threads() {
    if !in_own_process("free_releases_schedulers_blocked_in_several_threads") {
        return;
    }
    let _f = Faults::lock();
    const BLOCKED: usize = 8;
    for round in 0..10 {
        let name = "fltblk";
        let p = Opts::new(2, name).build();
        let pp = PoolPtr::new(p);
        let g = leak(Gated::new());
        for _ in 0..2 {
            assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
        }
        wait_until("the pool is full", || g.started() == 2);
        let refused_ran = leak(AtomicUsize::new(0));
        let entered = leak(AtomicUsize::new(0));
        let cells: Vec<&'static StatusCell> =
            (0..BLOCKED + 1).map(|_| leak(StatusCell::new())).collect();
        let threads: Vec<_> = cells
            .iter()
            .enumerate()
            .map(|(i, &cell)| {
                std::thread::spawn(move || {
                    entered.fetch_add(1, SeqCst);
                    let st = match i % 4 {
                        _ if i == BLOCKED => wait(pp.get()),
                        0 => schedule(pp.get(), counter_task, arg(refused_ran)),
                        1 => schedule_timeout(pp.get(), counter_task, arg(refused_ran), u64::MAX),
                        2 => schedule_timeout(pp.get(), counter_task, arg(refused_ran), 600_000),
                        _ => {
                            schedule_timeout(pp.get(), counter_task, arg(refused_ran), u64::MAX / 2)
                        }
                    };
                    cell.set(st);
                })
            })
            .collect();
        wait_until("every caller started", || {
            entered.load(SeqCst) == BLOCKED + 1
        });
        let freed = leak(StatusCell::new());
        let freer = std::thread::spawn(move || freed.set(unsafe { pool_free(pp.get()) }));
        // The gated tasks keep pool_free from returning, so every caller
        // reaches the library before the handle goes away.
        for (i, cell) in cells.iter().enumerate().take(BLOCKED) {
            wait_until("blocked scheduler released by pool_free", || cell.is_set());
            assert_eq!(
                cell.get(),
                Some(POOL_ERR_FREED),
                "round {round} scheduler {i}"
            );
        }
        assert!(
            !freed.is_set(),
            "pool_free returned before its running tasks"
        );
        g.open();
        wait_until("pool_free returned", || freed.is_set());
        assert_eq!(freed.get(), Some(POOL_OK));
        let w = cells[BLOCKED];
        wait_until("pool_wait returned", || w.is_set());
        assert!(
            matches!(w.get(), Some(POOL_OK | POOL_ERR_FREED)),
            "pool_wait during free: {:?}",
            w.get()
        );
        for t in threads {
            t.join().unwrap();
        }
        freer.join().unwrap();
        assert_eq!(g.done(), 2);
        assert_eq!(refused_ran.load(SeqCst), 0, "a refused task ran");
        assert_no_thread_left(name);
    }
}

/// Capacity shrunk to 1 while 4 producers keep a pool of 8 busy (with and
/// without spawn failures): no task lost or run twice, and the workers end
/// at 1.
#[test]
fn shrink_to_one_under_load_loses_nothing() {
    if !in_own_process("shrink_to_one_under_load_loses_nothing") {
        return;
    }
    let _f = Faults::lock();
    const THREADS: usize = 4;
    const PER_THREAD: usize = 500;
    for (queue, failing) in [(16usize, false), (usize::MAX, false), (0, true), (16, true)] {
        let name = "fltshrink";
        let p = Opts {
            queue,
            ..Opts::new(8, name)
        }
        .build();
        let pp = PoolPtr::new(p);
        let toks = tokens(THREADS * PER_THREAD);
        let progress = leak(AtomicUsize::new(0));
        if failing {
            fail_spawns(200, 99);
        }
        let producers: Vec<_> = (0..THREADS)
            .map(|k| {
                std::thread::spawn(move || {
                    let mut statuses = Vec::new();
                    for t in &toks[k * PER_THREAD..(k + 1) * PER_THREAD] {
                        statuses.push(schedule(pp.get(), slow_token_task, arg(t)));
                        progress.fetch_add(1, SeqCst);
                    }
                    statuses
                })
            })
            .collect();
        wait_until("producers half way", || {
            progress.load(SeqCst) >= THREADS * PER_THREAD / 2
        });
        assert_eq!(unsafe { pool_set_capacity(p, 1) }, POOL_OK);
        let statuses: Vec<pool_status> = producers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        fail_spawns(0, 1);
        assert_eq!(wait(p), POOL_OK);
        for (i, (st, t)) in statuses.iter().zip(toks).enumerate() {
            let ran = t.load(SeqCst);
            match st {
                POOL_OK => assert_eq!(ran, 1, "queue {queue}: task {i} ran {ran} times"),
                POOL_ERR_SPAWN if failing => assert_eq!(ran, 0),
                other => panic!("queue {queue} failing {failing}: status {other:?}"),
            }
        }
        let ok = statuses.iter().filter(|&&s| s == POOL_OK).count() as u64;
        let s = stats(p);
        assert_eq!((s.submitted, s.completed), (ok, ok), "{s:?}");
        assert_eq!(s.capacity, 1);
        wait_until("workers down to 1 after the shrink", || {
            stats(p).workers <= 1
        });
        free_pool(p);
        assert_no_thread_left(name);
    }
}

/// The fast path with its hint off: every schedule counts its task before
/// it knows whether the pool is closing, so while pool_free runs each racer
/// gives its task back (under a gate pass taken while the task still
/// protects the pool) and gets FREED; every accepted task still runs.
#[test]
fn fast_path_gives_tasks_back_while_free_runs() {
    let _faults = Faults::lock();
    fast_path_hint_off(true);
    fast_path::racing_with_free(30);
}

/// The fast path with its hint off on a pool whose workers expire between
/// bursts: schedules that find workers missing give the task back and start
/// one through the gated path. Nothing is lost; pool_wait returns.
#[test]
fn fast_path_gives_tasks_back_when_workers_expired() {
    let _faults = Faults::lock();
    fast_path_hint_off(true);
    fast_path::expiring_workers(200);
}

/// A shrink that lands while idle workers are between their last look for
/// a task and their decision to sleep (each pauses there): every worker
/// above the new capacity must still leave, with no task or shutdown to
/// wake it. A worker that decided on the capacity it read before the
/// shrink would sleep on above it (`loom_shrink_retires_idle_workers`
/// explores the same race).
#[test]
fn a_shrink_while_workers_go_idle_retires_them() {
    if !in_own_process("a_shrink_while_workers_go_idle_retires_them") {
        return;
    }
    let _faults = Faults::lock();
    pause_before_idle(2_000);
    for round in 0..5 {
        // A queue: its idle workers decide under the sleepers' lock, where
        // the switch pauses them (hand-off mode's workers have lines).
        let p = Opts {
            prealloc: true,
            queue: usize::MAX,
            ..Opts::new(8, "fshri")
        }
        .build();
        assert_eq!(unsafe { pool_set_capacity(p, 2) }, POOL_OK);
        // The shrink returns once the paused workers have reached their
        // decision and left.
        assert_eq!(stats(p).workers, 2, "round {round}");
        free_pool(p);
        assert_no_thread_left("fshri");
    }
}

const PANIC_CHILD: &str = "FAULTS_PANIC_CHILD";

/// A panic inside an export (a bug in the library) must not unwind into
/// the C caller: the process aborts, after the panic's message. Runs in a
/// child process: this test binary runs itself again with `PANIC_CHILD`.
#[test]
fn a_panic_inside_an_export_aborts_instead_of_unwinding() {
    if std::env::var_os(PANIC_CHILD).is_some() {
        let p = new_pool(2, true, false, 0);
        workerpool::fault::panic_in_get_stats(true);
        let mut s = pool_stats::default();
        // The harness would catch an unwinding panic and fail the test
        // instead: the export must abort first.
        unsafe { pool_get_stats(p, &mut s) };
        eprintln!("pool_get_stats returned");
        std::process::exit(3);
    }
    let name = "a_panic_inside_an_export_aborts_instead_of_unwinding";
    let stderr = child_dies_of(name, PANIC_CHILD, "1", libc::SIGABRT);
    assert!(
        stderr.contains("injected panic inside pool_get_stats"),
        "{stderr}"
    );
    assert!(!stderr.contains("pool_get_stats returned"), "{stderr}");
}

/// A preallocated pool's grow that the OS refuses threads for returns
/// `POOL_ERR_SPAWN`: the capacity is changed, the workers already started
/// are kept, and the missing ones start on demand once threads can be had.
#[test]
fn a_prealloc_grow_the_os_refuses_reports_spawn() {
    let _faults = Faults::lock();
    let p = Opts {
        prealloc: true,
        queue: usize::MAX,
        ..Opts::new(2, "fgrow")
    }
    .build();
    fail_spawns(1000, 5);
    assert_eq!(unsafe { pool_set_capacity(p, 8) }, POOL_ERR_SPAWN);
    let s = stats(p);
    assert_eq!((s.capacity, s.workers), (8, 2));
    fail_spawns(0, 1);
    let g = leak(Gated::new());
    for _ in 0..8 {
        assert_eq!(schedule(p, gated_task, arg(g)), POOL_OK);
    }
    wait_until("8 tasks running", || g.started() == 8);
    assert_eq!(stats(p).workers, 8);
    g.open();
    assert_eq!(wait(p), POOL_OK);
    free_pool(p);
}

/// The last `Pool` handle dropped inside one of its own tasks hands the
/// shutdown to a new thread; when the OS refuses that thread too, the last
/// worker to leave shuts the pool down: every accepted task runs, every
/// worker runs its exit hook and no thread is left behind.
#[test]
fn a_pool_dropped_by_its_task_shuts_down_without_a_reaper_thread() {
    if !in_own_process("a_pool_dropped_by_its_task_shuts_down_without_a_reaper_thread") {
        return;
    }
    let _faults = Faults::lock();
    let exits = std::sync::Arc::new(AtomicUsize::new(0));
    let ran = std::sync::Arc::new(AtomicUsize::new(0));
    let pool = {
        let exits = std::sync::Arc::clone(&exits);
        workerpool::Builder::new()
            .capacity(3)
            .queue_size(workerpool::UNBOUNDED)
            .prealloc(true)
            .thread_name("freap")
            .unwrap()
            .on_thread_exit(move || {
                exits.fetch_add(1, SeqCst);
            })
            .build()
            .unwrap()
    };
    for _ in 0..10 {
        let ran = std::sync::Arc::clone(&ran);
        pool.schedule(move || {
            std::thread::sleep(std::time::Duration::from_millis(1));
            ran.fetch_add(1, SeqCst);
        })
        .unwrap();
    }
    fail_spawns(1000, 9);
    let holder = std::sync::Arc::new(Mutex::new(Some(pool)));
    let last = std::sync::Arc::clone(&holder);
    let pool_ref = holder.lock().unwrap();
    pool_ref
        .as_ref()
        .unwrap()
        .schedule(move || drop(last.lock().unwrap().take()))
        .unwrap();
    drop(pool_ref);
    drop(holder);
    wait_until("every worker ran its exit hook", || exits.load(SeqCst) == 3);
    assert_no_thread_left("freap");
    fail_spawns(0, 1);
    assert_eq!(ran.load(SeqCst), 10);
}
