//! The parallel-loop workloads (BENCHMARKS.md, "Parallel loops"): one loop
//! over a range, with 2 computing threads for every contender.
//!
//! - **L1**, cheap body: 10^7 indices, each adding `i ^ (i >> 3)` to a
//!   local sum (a plain `i` would not do: LLVM turns a loop summing its
//!   induction variable into a closed formula); one atomic add per chunk.
//! - **L2**, costly body: 10^4 indices, each `k` steps of a 64-bit
//!   multiply-xor chain seeded with `i` (`spin`), `k` calibrated here to
//!   about 50 µs per index.
//!
//! Contenders: `serial` (the same loop on the timing thread), `workerpool-c`
//! (`pool_parallel_for` through the C ABI, grain 0, a preallocated pool of
//! capacity 2: the calling thread and one helper), `rayon`
//! (`(0..n).into_par_iter().map(body).sum()` inside `install` on a pool of 2
//! threads; the calling thread waits), and `openmp` / `serial-c`
//! (`openmp.rs`: `#pragma omp parallel for reduction(+:sum)` with
//! `OMP_NUM_THREADS=2`, and its own serial loop, both compiled by gcc -O2),
//! and `std-threads`, no pool: two equal halves, one on a thread started
//! for it, the other on the timing thread (what the machine gives two
//! threads).
//! Each run builds the pool (not timed), runs one untimed warm-up loop
//! over a tenth of the range, then times one loop; every sum is checked
//! against the serial one. L1 makes 3 × `--runs` runs (it takes
//! milliseconds), L2 `--runs`. `time_loop` also runs R2 (realwork.rs): the
//! costly body at 20 µs per index.

use std::ffi::c_void;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use workerpool::ffi::{pool_parallel_for, pool_status};

use crate::contenders::{Cfg, Queue, c_pool};
use crate::openmp;
use crate::table::{Table, Unit};

/// Computing threads for every contender.
pub const THREADS: usize = 2;
pub const CHEAP_INDICES: u64 = 10_000_000;
pub const COSTLY_INDICES: u64 = 10_000;
/// What one costly index should take.
pub const COSTLY_TARGET: Duration = Duration::from_micros(50);

#[derive(Clone, Copy, Debug)]
pub enum Body {
    Cheap,
    /// `k` steps of `spin` per index.
    Costly {
        k: u64,
    },
}

impl Body {
    pub fn indices(self) -> u64 {
        match self {
            Body::Cheap => CHEAP_INDICES,
            Body::Costly { .. } => COSTLY_INDICES,
        }
    }

    /// The sum over `[begin, end)`, as every Rust contender computes it.
    #[inline(always)]
    fn range_sum(self, begin: u64, end: u64) -> u64 {
        match self {
            Body::Cheap => (begin..end).map(cheap).fold(0, u64::wrapping_add),
            Body::Costly { k } => (begin..end).map(|i| spin(i, k)).fold(0, u64::wrapping_add),
        }
    }
}

#[inline(always)]
fn cheap(i: u64) -> u64 {
    i ^ (i >> 3)
}

/// `k` steps of a mixing function from `seed`: each step is a chain of a
/// shift, xors and a multiply that depends on the step before, so neither
/// compiler can shorten it (a plain LCG, `x * a + c`, was unrolled and
/// reassociated by LLVM in some call sites and not in others: its speed
/// depended on where it was inlined). Not inlined, so that calibration and
/// every Rust contender run the same machine code; c_examples/bench/work.h
/// has the same function (for omp_for.c and glib_bench.c).
#[inline(never)]
pub fn spin(seed: u64, k: u64) -> u64 {
    let mut x = seed;
    for j in 0..k {
        x = (x ^ (x >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ j;
    }
    x
}

/// Steps of `spin` that take about `target` on this machine (the fastest
/// of a few timings of a million steps).
pub fn calibrate(target: Duration) -> u64 {
    const STEPS: u64 = 1_000_000;
    let best = (0..5)
        .map(|_| {
            let start = Instant::now();
            black_box(spin(black_box(7), black_box(STEPS)));
            start.elapsed()
        })
        .min()
        .unwrap();
    let per_step = best.as_secs_f64() / STEPS as f64;
    ((target.as_secs_f64() / per_step) as u64).max(1)
}

/// The C body's context: the body and the sum the chunks add to.
struct Ctx {
    body: Body,
    sum: AtomicU64,
}

/// `pool_range_fn`: one chunk, summed locally, one atomic add.
///
/// # Safety
/// `ctx` points to a live `Ctx`.
unsafe extern "C" fn chunk(ctx: *mut c_void, begin: usize, end: usize) {
    // SAFETY: see above.
    let ctx = unsafe { &*(ctx as *const Ctx) };
    let sum = ctx.body.range_sum(begin as u64, end as u64);
    ctx.sum.fetch_add(sum, Ordering::Relaxed);
}

/// The loop on the timing thread: (seconds, sum).
pub fn serial(body: Body) -> (f64, u64) {
    let n = black_box(body.indices());
    let start = Instant::now();
    let sum = body.range_sum(0, n);
    (start.elapsed().as_secs_f64(), black_box(sum))
}

fn workerpool_c(body: Body) -> (f64, u64) {
    let pool = c_pool(&Cfg {
        workers: THREADS,
        queue: Queue::Handoff,
        prealloc: true,
        stack: None,
    });
    let run = |n: u64| {
        let ctx = Ctx {
            body,
            sum: AtomicU64::new(0),
        };
        let ctx_ptr = &ctx as *const Ctx as *mut c_void;
        // SAFETY: live pool; `chunk` takes the live `ctx`.
        let st = unsafe { pool_parallel_for(pool.raw(), 0, n as usize, 0, Some(chunk), ctx_ptr) };
        assert_eq!(st, pool_status::POOL_OK);
        ctx.sum.load(Ordering::Relaxed)
    };
    run(body.indices() / 10);
    let start = Instant::now();
    let sum = run(body.indices());
    (start.elapsed().as_secs_f64(), sum)
}

fn rayon(body: Body) -> (f64, u64) {
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()
        .expect("rayon build");
    let run = |n: u64| {
        pool.install(|| match body {
            Body::Cheap => (0..n).into_par_iter().map(cheap).sum::<u64>(),
            Body::Costly { k } => (0..n)
                .into_par_iter()
                .map(|i| spin(i, k))
                .reduce(|| 0, u64::wrapping_add),
        })
    };
    run(body.indices() / 10);
    let start = Instant::now();
    let sum = run(black_box(body.indices()));
    (start.elapsed().as_secs_f64(), sum)
}

/// Not a pool: the range cut in `THREADS` equal halves, one run on a
/// thread started for it (timed), the other on the timing thread. What
/// this machine gives two threads with no scheduling at all.
fn std_threads(body: Body) -> (f64, u64) {
    let n = black_box(body.indices());
    let start = Instant::now();
    let half = n / 2;
    let sum = std::thread::scope(|s| {
        let other = s.spawn(move || body.range_sum(half, n));
        let mine = body.range_sum(0, half);
        mine.wrapping_add(other.join().expect("std-threads half"))
    });
    (start.elapsed().as_secs_f64(), sum)
}

/// L1 and L2 (those `wants` keeps), `runs` runs each (L1 3 × `runs`);
/// `keep` filters contenders by name; `omp` is omp_for, built or why not.
pub fn run(
    t: &mut Table,
    runs: usize,
    wants: impl Fn(&str) -> bool,
    keep: impl Fn(&str) -> bool,
    omp: &Result<PathBuf, String>,
) {
    let k = calibrate(COSTLY_TARGET);
    if wants("L1") {
        // The cheap loop takes milliseconds: more runs against the noise.
        time_loop(t, "L1", Body::Cheap, 3 * runs, &keep, omp);
    }
    if wants("L2") {
        time_loop(t, "L2", Body::Costly { k }, runs, &keep, omp);
        eprintln!("L2: k = {k} spin steps per index (calibrated to {COSTLY_TARGET:?})");
    }
}

/// `runs` runs of one loop over `body.indices()`, rows `"{name} time"`,
/// contenders interleaved run by run; OpenMP runs omp_for's mode `name`.
pub fn time_loop(
    t: &mut Table,
    name: &str,
    body: Body,
    runs: usize,
    keep: &dyn Fn(&str) -> bool,
    omp: &Result<PathBuf, String>,
) {
    let what = format!("{name} time");
    eprintln!("{what}: {runs} runs ({body:?}, {} indices)", body.indices());
    let (_, expected) = serial(body);
    let rust: [Contender<Body>; 4] = [
        ("serial", serial),
        ("workerpool-c", workerpool_c),
        ("rayon", rayon),
        ("std-threads", std_threads),
    ];
    let k = match body {
        Body::Cheap => 0,
        Body::Costly { k } => k,
    };
    for _ in 0..runs {
        run_rust(t, &what, &rust, body, expected, keep);
        if keep(openmp::NAME) {
            openmp::push(t, omp, name, body.indices(), k);
        }
    }
}

/// An in-process contender: its name, and one timed run on an argument
/// (seconds, sum).
pub type Contender<A> = (&'static str, fn(A) -> (f64, u64));

/// One run of each contender `keep` keeps, pushed to the row `what`; each
/// sum is checked against `expected`.
pub fn run_rust<A: Copy>(
    t: &mut Table,
    what: &str,
    contenders: &[Contender<A>],
    arg: A,
    expected: u64,
    keep: &dyn Fn(&str) -> bool,
) {
    for &(name, f) in contenders {
        if keep(name) {
            let (secs, sum) = f(arg);
            assert_eq!(sum, expected, "{name}: wrong sum");
            t.push(what, Unit::Ms, name, Ok(secs));
        }
    }
}

/// The loops' ratios, from the medians: each parallel contender's speed-up
/// over its own serial loop, and workerpool-c's time against rayon's and
/// OpenMP's.
pub fn summary(t: &Table) -> String {
    let mut out = String::from("Parallel loops (medians of this run):\n");
    for w in ["L1", "L2"] {
        let what = format!("{w} time");
        let m = |c: &str| t.median(&what, c);
        let ms = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{:.2} ms", v * 1e3));
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "n/a".to_owned(),
        };
        if m("serial").is_none() && m("serial-c").is_none() {
            continue;
        }
        let (serial, serial_c) = (m("serial"), m("serial-c"));
        let wp = m("workerpool-c");
        out.push_str(&format!(
            "- {w}: speed-up over the serial Rust loop ({}): workerpool-c {}× ({}), \
             rayon {}× ({}), std-threads {}× ({}); openmp over its serial C loop ({}): \
             {}× ({}); workerpool-c time ÷ rayon {}, ÷ openmp {}\n",
            ms(serial),
            ratio(serial, wp),
            ms(wp),
            ratio(serial, m("rayon")),
            ms(m("rayon")),
            ratio(serial, m("std-threads")),
            ms(m("std-threads")),
            ms(serial_c),
            ratio(serial_c, m("openmp")),
            ms(m("openmp")),
            ratio(wp, m("rayon")),
            ratio(wp, m("openmp")),
        ));
    }
    out
}
