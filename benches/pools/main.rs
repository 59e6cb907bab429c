//! The workerpool benchmark suite: `cargo bench --bench pools` (or
//! `make -C c_examples bench`). See BENCHMARKS.md for what each workload
//! measures and the targets.
//!
//! Options (after `--`): `--runs N` (default 7), `--only
//! W1,...,W6,ALLOC,L1,L2,R1,R2`, `--contenders workerpool-c,crossbeam,...`
//! (`glib` selects GLib, which runs when built; the loops' contenders are
//! `serial`, `workerpool-c`, `rayon`, `std-threads`, `openmp`; R1 (real
//! work as tasks) adds `workerpool-rust` and `glib`, R2 (the same as a
//! loop) is run as the loops are; `openmp` also selects `serial-c`).

mod child;
mod contenders;
mod glib;
mod loops;
mod openmp;
mod realwork;
mod table;
mod targets;
mod task;
mod workloads;

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use contenders::{Contender, Queue};
use table::{Table, Unit};

/// Counts allocations while `COUNTING` is set (only ever in an `alloc`
/// child process; elsewhere the cost is one relaxed load).
struct CountingAlloc;

pub static COUNTING: AtomicBool = AtomicBool::new(false);
pub static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

struct Opts {
    runs: usize,
    only: Option<Vec<String>>,
    contenders: Option<Vec<String>>,
}

impl Opts {
    fn parse(args: &[String]) -> Opts {
        let mut opts = Opts {
            runs: 7,
            only: None,
            contenders: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--runs" => opts.runs = it.next().and_then(|n| n.parse().ok()).expect("--runs N"),
                "--only" => {
                    let list = it.next().expect("--only W1,W2");
                    opts.only = Some(list.split(',').map(|w| w.trim().to_uppercase()).collect());
                }
                "--contenders" => {
                    let list = it.next().expect("--contenders workerpool-c,crossbeam");
                    opts.contenders = Some(list.split(',').map(|c| c.trim().to_owned()).collect());
                }
                // cargo bench passes --bench to harness = false targets.
                _ => {}
            }
        }
        opts
    }

    fn wants(&self, workload: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|w| w == workload))
    }
}

fn na<T>(value: Option<T>) -> Result<T, String> {
    value.ok_or_else(|| "n/a: no such mode".to_owned())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child::main(&args[1], &args[2]);
        return;
    }
    let opts = Opts::parse(&args);
    let started = Instant::now();
    // GLib runs only the task workloads (W1-W6 and idle, all under W5; R1).
    let use_glib = (opts.contenders.as_ref()).is_none_or(|k| k.iter().any(|c| c == glib::NAME))
        && ["W1", "W2", "W3", "W4", "W5", "W6", "R1"]
            .iter()
            .any(|w| opts.wants(w));
    let glib_bin = if use_glib {
        glib::prepare()
    } else {
        Err("not selected".to_owned())
    };
    if let Err(why) = &glib_bin {
        eprintln!("glib: n/a: {why}");
    }
    println!("{}", environment());

    let mut all = contenders::all();
    if let Some(keep) = &opts.contenders {
        all.retain(|c| keep.iter().any(|k| k == c.name()));
    }
    let mut t = Table::default();
    let runs = opts.runs;
    let glib = |t: &mut Table, workload: &str, keys: &[(&str, &str, Unit)]| {
        if !use_glib {
            return;
        }
        let result = glib::run(&glib_bin, &[workload]);
        for &(what, key, unit) in keys {
            t.push(what, unit, glib::NAME, child::value(&result, key));
        }
    };

    let throughput = |t: &mut Table, w: &str, producers, per, queue| {
        let what = format!("{w} time");
        eprintln!("{what}: {runs} runs");
        for _ in 0..runs {
            for c in &all {
                let r = workloads::throughput(*c, producers, per, 2, queue);
                t.push(&what, Unit::Ms, c.name(), na(r));
            }
            if w == "W3" {
                // The crossbeam *unbounded* limit on the same 200,000 tasks.
                let cb = contenders::by_name("crossbeam").unwrap();
                let r = workloads::throughput(cb, producers, per, 2, Queue::Unbounded);
                t.push(&what, Unit::Ms, "crossbeam-unbounded", na(r));
            }
            glib(t, &w.to_lowercase(), &[(&what, "time_s", Unit::Ms)]);
        }
    };
    if opts.wants("W1") {
        throughput(&mut t, "W1", 1, 1_000_000, Queue::Unbounded);
    }
    if opts.wants("W2") {
        throughput(&mut t, "W2", 4, 250_000, Queue::Unbounded);
    }
    if opts.wants("W3") {
        throughput(&mut t, "W3", 1, 200_000, Queue::Handoff);
    }
    if opts.wants("W4") {
        eprintln!("W4 time: {runs} runs");
        for _ in 0..runs {
            for c in &all {
                let r = workloads::ramp(*c, 1_000, 100, Duration::from_millis(10), None);
                t.push("W4 time", Unit::Ms, c.name(), na(r));
            }
            glib(&mut t, "w4", &[("W4 time", "time_s", Unit::Ms)]);
            // The real floor: 10 sleeps of 10 ms in a row on one thread.
            let start = Instant::now();
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(10));
            }
            t.push(
                "W4 time",
                Unit::Ms,
                "sleep-floor",
                Ok(start.elapsed().as_secs_f64()),
            );
        }
    }
    if opts.wants("W5") {
        let runs = runs.div_ceil(2);
        eprintln!("W5 wake-up latency: {runs} runs of 2,000 samples");
        for _ in 0..runs {
            for c in &all {
                let lat = workloads::wake_latency(*c, 2, 2_000, Duration::from_millis(1));
                let q = |q| na(lat.as_deref().map(|l| workloads::quantile(l, q)));
                t.push("W5 p50", Unit::Us, c.name(), q(0.5));
                t.push("W5 p99", Unit::Us, c.name(), q(0.99));
            }
            glib(
                &mut t,
                "w5",
                &[("W5 p50", "p50_s", Unit::Us), ("W5 p99", "p99_s", Unit::Us)],
            );
        }
        idle_cpu(&mut t, &all, use_glib.then_some(&glib_bin), 3);
    }
    if opts.wants("W6") {
        let runs = runs.div_ceil(2);
        eprintln!("W6 10,000 sleeping tasks: {runs} runs, one process each");
        for _ in 0..runs {
            // A contender killed once (too slow) is not run again.
            for c in &all {
                if !t.failed("W6 time", c.name()) {
                    let r = child::finish(child::start("w6", c.name()));
                    push_w6(&mut t, c.name(), r);
                }
            }
            if use_glib && !t.failed("W6 time", glib::NAME) {
                push_w6(&mut t, glib::NAME, glib::run(&glib_bin, &["w6"]));
            }
            // The floor: 10,000 plain threads, no pool.
            let floor = child::finish(child::start("w6-floor", "-"));
            push_w6(&mut t, "spawn-floor", floor);
        }
    }
    if opts.wants("ALLOC") || opts.only.is_none() {
        eprintln!("allocations per C task");
        for (mode, row) in [
            ("alloc", "allocs/task"),
            ("alloc-handoff", "allocs/task hand-off"),
        ] {
            for c in &all {
                let r = child::finish(child::start(mode, c.name()));
                let v = r.and_then(|r| child::get(&r, "allocs_per_task"));
                t.push(row, Unit::Count, c.name(), v);
            }
            t.push(
                row,
                Unit::Count,
                glib::NAME,
                Err("n/a: not counted (C)".into()),
            );
        }
    }

    let wants_any = |ws: &[&str]| ws.iter().any(|w| opts.wants(w));
    if wants_any(&["L1", "L2", "R1", "R2"]) {
        let keep =
            |name: &str| (opts.contenders.as_ref()).is_none_or(|k| k.iter().any(|c| c == name));
        let omp = if keep(openmp::NAME) {
            openmp::prepare()
        } else {
            Err("not selected".into())
        };
        if let Err(why) = &omp {
            eprintln!("openmp: n/a: {why}");
        }
        if wants_any(&["L1", "L2"]) {
            loops::run(&mut t, runs, |w| opts.wants(w), keep, &omp);
        }
        if wants_any(&["R1", "R2"]) {
            let glib_bin = use_glib.then_some(&glib_bin);
            realwork::run(&mut t, runs, |w| opts.wants(w), keep, &omp, glib_bin);
        }
    }

    println!("{}", t.render());
    println!("{}", targets::check(&t));
    if wants_any(&["L1", "L2"]) {
        println!("{}", loops::summary(&t));
    }
    if wants_any(&["R1", "R2"]) {
        println!("{}", realwork::summary(&t));
    }
    println!(
        "suite took {:.0} s; after the run: {}",
        started.elapsed().as_secs_f64(),
        machine_busy()
    );
}

fn push_w6(t: &mut Table, name: &str, r: Result<Vec<(String, f64)>, String>) {
    t.push("W6 time", Unit::Ms, name, child::value(&r, "time_s"));
    t.push("W6 peak RSS", Unit::MiB, name, child::value(&r, "hwm_kib"));
}

/// Every contender idles in its own process, all at once, `runs` times.
fn idle_cpu(
    t: &mut Table,
    all: &[&'static dyn Contender],
    glib_bin: Option<&Result<std::path::PathBuf, String>>,
    runs: usize,
) {
    eprintln!("idle CPU: {runs} runs of 5 s, contenders side by side");
    for _ in 0..runs {
        let children: Vec<_> = all.iter().map(|c| child::start("idle", c.name())).collect();
        let glib_child = glib_bin.map(|bin| bin.as_ref().map(|bin| glib::start(bin, &["idle"])));
        for (c, child) in all.iter().zip(children) {
            let v = child::finish(child).and_then(|r| child::get(&r, "cpu_s"));
            t.push("idle CPU /5 s", Unit::Ms, c.name(), v);
        }
        let v = match glib_child {
            None => continue,
            Some(Ok(child)) => child::finish(child).and_then(|r| child::get(&r, "cpu_s")),
            Some(Err(why)) => Err(why.clone()),
        };
        t.push("idle CPU /5 s", Unit::Ms, glib::NAME, v);
    }
}

fn command(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "?".into())
}

/// How busy the machine is (all CPUs, from /proc/stat) over one second
/// while this process sleeps: anything else running on the 2 cores skews
/// every number.
fn machine_busy() -> String {
    let sample = || -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let idle = fields.get(3)? + fields.get(4).unwrap_or(&0);
        Some((fields.iter().sum(), idle))
    };
    let before = sample();
    std::thread::sleep(Duration::from_secs(1));
    match (before, sample()) {
        (Some((t0, i0)), Some((t1, i1))) if t1 > t0 => {
            let busy = 1.0 - (i1 - i0) as f64 / (t1 - t0) as f64;
            format!("{:.0}% of all CPUs busy (1 s sample)", busy * 100.0)
        }
        _ => "unknown".into(),
    }
}

/// Machine and versions, for the report.
fn environment() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "?".into());
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .unwrap_or_default();
    let version = |name: &str| {
        let needle = format!("name = \"{name}\"\nversion = \"");
        lock.find(&needle)
            .map(|i| &lock[i + needle.len()..])
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("?")
            .to_owned()
    };
    let root = env!("CARGO_MANIFEST_DIR");
    let dirty = command("git", &["-C", root, "status", "--porcelain", "--", "src"]);
    format!(
        "machine: nproc {}, {}\nbefore the run: {}\nsource: {} ({})\nrustc: {}\ncrates: workerpool {}, rayon {}, threadpool {}, crossbeam-channel {}\nglib: {}\ngcc (OpenMP): {}\n",
        command("nproc", &[]),
        model,
        machine_busy(),
        command("git", &["-C", root, "rev-parse", "--short", "HEAD"]),
        if dirty.is_empty() {
            "src/ as committed".to_owned()
        } else {
            format!("src/ with {} uncommitted changes", dirty.lines().count())
        },
        command("rustc", &["--version"]),
        env!("CARGO_PKG_VERSION"),
        version("rayon"),
        version("threadpool"),
        version("crossbeam-channel"),
        glib::version(),
        command("gcc", &["-dumpfullversion"]),
    )
}
