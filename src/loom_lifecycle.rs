//! Model checks of the worker lifecycle on the shipped code: a real
//! `Shared`, workers running `worker::live` (the life every worker thread
//! runs, minus the OS thread), schedules through `Shared::submit`, waits
//! through `Shared::begin_wait` / `wait_for_bound`. Everything they
//! synchronise on comes from `crate::sync`, so loom explores the
//! interleavings. (Under loom `Thread::start` fails: a schedule that would
//! start a worker gets `Spawn`, which the models count as room found.)
//!
//! `RUSTFLAGS="--cfg loom" cargo test --release --lib loom`.

use std::time::Duration;

use loom::sync::Arc;

use crate::Error;
use crate::admission::WhenFull;
use crate::builder::Config;
use crate::job::Job;
use crate::shared::Shared;
use crate::sync::{AtomicBool, AtomicUsize, Condvar, Mutex, Ordering};
use crate::worker;

/// `sync::loom_model` with room for the whole pool's steps (a worker's life
/// through `Shared` takes more branches than one protocol alone), and two
/// preemptions rather than three, which keeps each model to a minute or two
/// here. Under loom the optimistic retries before blocking (`Spin`,
/// `FAST_CLAIM_SPINS`) are off: each only repeats a step the path after it
/// takes again, and with them the exact-wait model took 21 minutes.
fn loom_model() -> loom::model::Builder {
    let mut model = crate::sync::loom_model();
    model.max_branches = 20_000;
    model.preemption_bound = Some(2);
    model
}

/// A one-shot event a model thread blocks on (so that a wait that never
/// ends is a deadlock loom reports, not a spin it cannot bound).
#[derive(Default)]
struct Event {
    set: Mutex<bool>,
    changed: Condvar,
}

impl Event {
    fn set(&self) {
        *self.set.lock().unwrap() = true;
        self.changed.notify_all();
    }

    fn wait(&self) {
        let mut set = self.set.lock().unwrap();
        while !*set {
            set = self.changed.wait(set).unwrap();
        }
    }
}

fn config(queue_limit: u64, idle_timeout: Option<Duration>) -> Config {
    Config {
        block: true,
        prealloc: false,
        queue_limit,
        idle_timeout,
        stack_size: None,
        thread_name: "loom".to_owned(),
        on_start: None,
        on_exit: None,
        panic_handler: None,
    }
}

/// Starts a model worker numbered `number` whose `on_start` hook is
/// `hook`, reserved as `worker::spawn`'s callers reserve it (live and
/// starting).
fn start_worker(
    shared: &Arc<Shared>,
    number: usize,
    hook: impl FnOnce() + Send + 'static,
) -> loom::thread::JoinHandle<()> {
    shared.count_starting();
    shared.counts.add_worker();
    let seat = shared.seats.take().expect("a seat");
    let shared = Arc::clone(shared);
    loom::thread::spawn(move || {
        let me = worker::live(&shared, number, seat, hook);
        shared.worker_departed(me);
    })
}

/// A blocking schedule of `task` from a thread that is not a worker.
fn schedule(shared: &Arc<Shared>, task: impl FnOnce() + Send + 'static) -> Result<(), Error> {
    // SAFETY: `shared` is alive for the whole call.
    unsafe {
        Shared::submit(
            Arc::as_ptr(shared),
            Job::closure(task),
            WhenFull::WaitOrInline,
        )
    }
}

fn close_and_join(shared: &Shared, workers: Vec<loom::thread::JoinHandle<()>>) {
    shared.begin_close();
    for worker in workers {
        worker.join().unwrap();
    }
}

/// Hand-off mode, capacity 1, idle expiry: the only worker expires while a
/// blocking schedule finds its line gone. The schedule must find room once
/// the worker is uncounted (here: try to start a worker, which loom
/// refuses), never sleep for ever; if it claims the line first the task
/// runs.
#[test]
fn loom_expiry_lets_a_blocked_scheduler_in() {
    loom_model().check(|| {
        let shared = Arc::new(Shared::new(1, config(0, Some(Duration::ZERO))));
        let worker = start_worker(&shared, 0, || {});
        let ran = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&ran);
        let result = schedule(&shared, move || {
            counted.fetch_add(1, Ordering::SeqCst);
        });
        close_and_join(&shared, vec![worker]);
        match result {
            Ok(()) => assert_eq!(ran.load(Ordering::SeqCst), 1),
            Err(error) => {
                assert_eq!(error, Error::Spawn, "room was found: a worker could start");
                assert_eq!(ran.load(Ordering::SeqCst), 0);
            }
        }
    });
}

/// A queue mode, two workers: one is inside its `on_start` hook, which
/// waits until the task has run (as a hook waiting for a lock the
/// scheduling thread holds); the other is idle. The task must run on the
/// idle one: if it were left to the first, no thread could go on.
#[test]
fn loom_a_worker_in_its_start_hook_leaves_the_task_to_an_idle_one() {
    loom_model().check(|| {
        let shared = Arc::new(Shared::new(2, config(u64::MAX, None)));
        let ran = Arc::new(Event::default());
        let in_hook = {
            let ran = Arc::clone(&ran);
            start_worker(&shared, 0, move || ran.wait())
        };
        let idle = start_worker(&shared, 1, || {});
        let done = Arc::clone(&ran);
        schedule(&shared, move || done.set()).unwrap();
        // Before closing, which would wake every sleeper anyway.
        ran.wait();
        close_and_join(&shared, vec![in_hook, idle]);
    });
}

/// The exact wait, one worker: a task accepted before the wait began, and
/// one accepted after, which runs until the wait returned. The wait
/// returns once the first finished (if it waited for the second, no thread
/// could go on), woken by that task's end (`Shared::may_end_a_wait`).
/// Hand-off mode.
#[test]
fn loom_exact_wait_ignores_a_task_accepted_after_it_began() {
    exact_wait_model(0);
}

/// As above, in a queue mode: the first task's end must wake the wait
/// although the second is queued behind it.
#[test]
fn loom_exact_wait_in_a_queue_mode() {
    exact_wait_model(u64::MAX);
}

fn exact_wait_model(queue_limit: u64) {
    loom_model().check(move || {
        let shared = Arc::new(Shared::new(1, config(queue_limit, None)));
        let worker = start_worker(&shared, 0, || {});
        let first_done = Arc::new(AtomicBool::new(false));
        let done = Arc::clone(&first_done);
        schedule(&shared, move || done.store(true, Ordering::SeqCst)).unwrap();
        let began = Arc::new(Event::default());
        let returned = Arc::new(Event::default());
        let waiter = {
            let (shared, began, returned) = (
                Arc::clone(&shared),
                Arc::clone(&began),
                Arc::clone(&returned),
            );
            let first_done = Arc::clone(&first_done);
            loom::thread::spawn(move || {
                let bound = shared.begin_wait().unwrap();
                began.set();
                assert_eq!(shared.wait_for_bound(bound, None), Ok(()));
                assert!(
                    first_done.load(Ordering::SeqCst),
                    "returned before the task"
                );
                returned.set();
            })
        };
        began.wait();
        let until_returned = Arc::clone(&returned);
        schedule(&shared, move || until_returned.wait()).unwrap();
        waiter.join().unwrap();
        close_and_join(&shared, vec![worker]);
    });
}

/// `pool_cancel_queued` against a worker taking tasks, in a queue mode:
/// every task runs or is handed back, exactly once; the counts end
/// balanced (a wait then returns at once), and the worker is not left
/// asleep with a task queued.
#[test]
fn loom_cancel_races_a_worker_taking_tasks() {
    loom_model().check(|| {
        let shared = Arc::new(Shared::new(1, config(u64::MAX, None)));
        let worker = start_worker(&shared, 0, || {});
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..2 {
            let ran = Arc::clone(&ran);
            schedule(&shared, move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        }
        let canceller = {
            let shared = Arc::clone(&shared);
            loom::thread::spawn(move || shared.cancel_queued(drop))
        };
        let cancelled = canceller.join().unwrap();
        let bound = shared.begin_wait().unwrap();
        assert_eq!(shared.wait_for_bound(bound, None), Ok(()));
        assert_eq!(ran.load(Ordering::SeqCst) as u64 + cancelled, 2);
        assert_eq!(shared.stats().cancelled, cancelled);
        assert!(shared.drained());
        close_and_join(&shared, vec![worker]);
    });
}
