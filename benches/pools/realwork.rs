//! Real work (BENCHMARKS.md, "Real work"): 10,000 pieces of about 20 µs
//! of arithmetic each (`loops::spin`, `k` calibrated to 20 µs), with 2
//! computing threads for every contender.
//!
//! - **R1**, tasks: one separately scheduled task per index, each adding
//!   its `spin(i, k)` to a shared atomic sum. Contenders: `serial` (the
//!   loop on the timing thread, `loops::serial`), `workerpool-c` (one
//!   `pool_schedule` per task from the timing thread into a preallocated
//!   pool of capacity 2 with an unbounded queue, then `pool_wait`: the
//!   timing thread only schedules, the 2 workers compute),
//!   `workerpool-rust` (the same through `Builder` and
//!   `Pool::schedule(closure)`, `Pool::wait`), `rayon`
//!   (`pool.scope(|s| s.spawn(..))` per task on a pool of 2: the scope's
//!   body runs on one of the 2 workers), `glib` (`g_thread_pool_push` per
//!   task into an exclusive GThreadPool of 2, glib_bench.c, with its own
//!   serial loop `serial-c-glib`) and `openmp` (`parallel` + `single` +
//!   one `task` per index, omp_for.c, with its own serial loop
//!   `serial-c`).
//! - **R2**, loop: the same indices as one loop through `loops::time_loop`
//!   (`pool_parallel_for`, rayon's `into_par_iter`, `std-threads`, OpenMP
//!   `parallel for` static and `schedule(dynamic)`); GLib has no loop.
//!
//! Each run builds the pool (not timed), runs an untimed warm-up over a
//! tenth of the tasks, then times all of them; every sum is checked
//! against the serial one. `summary` prints each contender's efficiency:
//! its serial loop's median ÷ (its median × 2 threads).

use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use workerpool::ffi::{pool_schedule, pool_status, pool_wait};

use crate::contenders::{Cfg, Queue, c_pool};
use crate::loops::{self, Body, Contender, THREADS, spin};
use crate::table::{Table, Unit};
use crate::{child, glib, openmp};

/// Tasks (R1) and indices (R2): the loops' costly range.
pub const TASKS: u64 = loops::COSTLY_INDICES;
/// What one task should take.
pub const TASK_TARGET: Duration = Duration::from_micros(20);
/// GLib's own serial loop, timed in the glib_bench process.
const SERIAL_C_GLIB: &str = "serial-c-glib";

/// What every R1 task adds to.
struct Sum {
    k: u64,
    total: CachePadded<AtomicU64>,
}

impl Sum {
    fn task(&self, i: u64) {
        self.total.fetch_add(spin(i, self.k), Ordering::Relaxed);
    }
}

/// Runs `batch(n)` (schedule `n` tasks on `sum` and wait for them) once
/// over a tenth of the tasks, untimed, then times it over all of them.
fn timed(sum: &Sum, mut batch: impl FnMut(u64)) -> (f64, u64) {
    batch(TASKS / 10);
    sum.total.store(0, Ordering::Relaxed);
    let start = Instant::now();
    batch(TASKS);
    (
        start.elapsed().as_secs_f64(),
        sum.total.load(Ordering::Relaxed),
    )
}

fn new_sum(k: u64) -> Arc<Sum> {
    Arc::new(Sum {
        k,
        total: CachePadded::new(AtomicU64::new(0)),
    })
}

/// One C task's argument: the sum and its index.
struct Job {
    sum: *const Sum,
    i: u64,
}

/// `pool_task_fn`: one task.
///
/// # Safety
/// `arg` points to a live `Job` whose `sum` is live.
unsafe extern "C" fn job(arg: *mut c_void) {
    // SAFETY: see above.
    let job = unsafe { &*(arg as *const Job) };
    // SAFETY: see above.
    unsafe { &*job.sum }.task(job.i);
}

fn workerpool_c(k: u64) -> (f64, u64) {
    let pool = c_pool(&Cfg {
        workers: THREADS,
        queue: Queue::Unbounded,
        prealloc: true,
        stack: None,
    });
    let sum = new_sum(k);
    // Built before the timer: the per-task arguments, alive until the end.
    let jobs: Vec<Job> = (0..TASKS).map(|i| Job { sum: &*sum, i }).collect();
    timed(&sum, |n| {
        for j in &jobs[..n as usize] {
            let arg = j as *const Job as *mut c_void;
            // SAFETY: live pool; `jobs` and `sum` outlive the `pool_wait` below.
            let st = unsafe { pool_schedule(pool.raw(), Some(job), arg) };
            assert_eq!(st, pool_status::POOL_OK);
        }
        // SAFETY: live pool, called from outside it.
        let st = unsafe { pool_wait(pool.raw()) };
        assert_eq!(st, pool_status::POOL_OK);
    })
}

fn workerpool_rust(k: u64) -> (f64, u64) {
    let pool = workerpool::Builder::new()
        .capacity(THREADS)
        .queue_size(workerpool::UNBOUNDED)
        .prealloc(true)
        .build()
        .expect("build");
    let sum = new_sum(k);
    timed(&sum, |n| {
        for i in 0..n {
            let sum = Arc::clone(&sum);
            pool.schedule(move || sum.task(i)).expect("schedule");
        }
        pool.wait().expect("wait");
    })
}

fn rayon(k: u64) -> (f64, u64) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()
        .expect("rayon build");
    let sum = new_sum(k);
    timed(&sum, |n| {
        pool.scope(|s| {
            for i in 0..n {
                let sum = &sum;
                s.spawn(move |_| sum.task(i));
            }
        })
    })
}

/// R1 and R2 (those `wants` keeps), `runs` runs each, contenders
/// interleaved run by run; `keep` filters contenders by name; `omp` is
/// omp_for and `glib_bin` glib_bench (built or why not; `None`: GLib not
/// selected).
pub fn run(
    t: &mut Table,
    runs: usize,
    wants: impl Fn(&str) -> bool,
    keep: impl Fn(&str) -> bool,
    omp: &Result<PathBuf, String>,
    glib_bin: Option<&Result<PathBuf, String>>,
) {
    let k = loops::calibrate(TASK_TARGET);
    let body = Body::Costly { k };
    if wants("R1") {
        eprintln!("R1 time: {runs} runs ({TASKS} tasks of k = {k} spin steps)");
        let (_, expected) = loops::serial(body);
        let rust: [Contender<u64>; 4] = [
            ("serial", |k| loops::serial(Body::Costly { k })),
            ("workerpool-c", workerpool_c),
            ("workerpool-rust", workerpool_rust),
            ("rayon", rayon),
        ];
        for _ in 0..runs {
            loops::run_rust(t, "R1 time", &rust, k, expected, &keep);
            if let Some(bin) = glib_bin {
                let result = glib::run(bin, &["r1", &TASKS.to_string(), &k.to_string()])
                    .and_then(child::sums_agree);
                for (key, name) in [("time_s", glib::NAME), ("serial_s", SERIAL_C_GLIB)] {
                    t.push("R1 time", Unit::Ms, name, child::value(&result, key));
                }
            }
            if keep(openmp::NAME) {
                openmp::push(t, omp, "R1", TASKS, k);
            }
        }
    }
    if wants("R2") {
        loops::time_loop(t, "R2", body, runs, &keep, omp);
        if glib_bin.is_some() {
            let why = "n/a: GLib has no parallel loop".to_owned();
            t.push("R2 time", Unit::Ms, glib::NAME, Err(why));
        }
    }
    eprintln!("R1/R2: k = {k} spin steps per task (calibrated to {TASK_TARGET:?})");
}

/// Efficiency of every contender of R1 and R2, side by side, from the
/// medians: its serial loop's median ÷ (its median × 2 threads).
pub fn summary(t: &Table) -> String {
    // (contender, its serial loop)
    const ROWS: [(&str, &str); 7] = [
        ("workerpool-c", "serial"),
        ("workerpool-rust", "serial"),
        ("rayon", "serial"),
        ("std-threads", "serial"),
        (glib::NAME, SERIAL_C_GLIB),
        (openmp::NAME, openmp::SERIAL_C),
        ("openmp-dynamic", openmp::SERIAL_C),
    ];
    let cell = |w: &str, c: &str, serial: &str| {
        let what = format!("{w} time");
        match (t.median(&what, c), t.median(&what, serial)) {
            (Some(m), Some(s)) if m > 0.0 => {
                format!("{:.2} ({:.1} ms)", s / (m * THREADS as f64), m * 1e3)
            }
            _ if t.failed(&what, c) => "n/a".to_owned(),
            _ => "–".to_owned(),
        }
    };
    let mut out = format!(
        "Real work (medians of this run): efficiency = serial median ÷ (median × {THREADS} threads)\n\n\
         | contender | against | R1 tasks | R2 loop |\n|---|---|---:|---:|\n"
    );
    for (c, serial) in ROWS {
        let (r1, r2) = (cell("R1", c, serial), cell("R2", c, serial));
        if r1 != "–" || r2 != "–" {
            out.push_str(&format!("| {c} | {serial} | {r1} | {r2} |\n"));
        }
    }
    let ms = |w: &str, c: &str| {
        t.median(&format!("{w} time"), c)
            .map_or("n/a".to_owned(), |v| format!("{:.1} ms", v * 1e3))
    };
    out.push_str(&format!(
        "\nserial medians: R1 serial {}, serial-c {}, serial-c-glib {}; R2 serial {}, serial-c {}\n",
        ms("R1", "serial"),
        ms("R1", openmp::SERIAL_C),
        ms("R1", SERIAL_C_GLIB),
        ms("R2", "serial"),
        ms("R2", openmp::SERIAL_C),
    ));
    out
}
