//! Workloads that need a process of their own: W6 (peak RSS is per
//! process), the idle-CPU check (CPU time is per process, and the
//! contenders run side by side) and the allocation count (a counting
//! global allocator). The parent re-runs this binary with `--child MODE
//! CONTENDER`; the child prints `key value` lines.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::contenders::{self, Cfg, Contender, Queue};
use crate::task::{self, Latch};
use crate::workloads;
use crate::{ALLOCS, COUNTING};

/// Runs in the child: one run of `mode` for `contender`.
pub fn main(mode: &str, contender: &str) {
    if mode == "w6-floor" {
        // No contender: plain threads (`workloads::spawn_floor`).
        let secs = workloads::spawn_floor(10_000, Duration::from_secs(1), 64 << 10);
        println!("time_s {secs:.9}");
        println!("hwm_kib {}", vm_hwm_kib());
        return;
    }
    let c = contenders::by_name(contender).unwrap_or_else(|| panic!("no contender {contender}"));
    match mode {
        "w6" => match workloads::ramp(c, 10_000, 10_000, Duration::from_secs(1), Some(64 << 10)) {
            Some(secs) => {
                println!("time_s {secs:.9}");
                println!("hwm_kib {}", vm_hwm_kib());
            }
            None => println!("na no such mode"),
        },
        "idle" => idle(c),
        "alloc" => alloc(c, Queue::Unbounded),
        "alloc-handoff" => alloc(c, Queue::Handoff),
        _ => panic!("unknown child mode {mode}"),
    }
}

/// Starts a child; `finish` collects its lines.
pub fn start(mode: &str, contender: &str) -> std::io::Result<Child> {
    Command::new(std::env::current_exe()?)
        .args(["--child", mode, contender])
        .stdout(Stdio::piped())
        .spawn()
}

/// How long any child may run before it is killed (a pathological
/// contender, e.g. one spinning 10,000 threads on 2 cores).
pub const CHILD_LIMIT: Duration = Duration::from_secs(30);

/// Waits for a child (killing it after `CHILD_LIMIT`) and parses its
/// `key value` lines; `Err` carries an `na` reason or the failure.
pub fn finish(child: std::io::Result<Child>) -> Result<Vec<(String, f64)>, String> {
    let mut child = child.map_err(|e| format!("could not run: {e}"))?;
    let start = Instant::now();
    // The output is a few lines: it fits the pipe while we poll.
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if start.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "killed: not done after {} s",
                CHILD_LIMIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("could not run: {e}"))?;
    if !output.status.success() {
        return Err(format!("failed: {}", output.status));
    }
    parse(&String::from_utf8_lossy(&output.stdout))
}

/// Builds the C driver `bin` with `make -f bench.mk goal` in c_examples
/// (GLib's and OpenMP's), and returns its path; `None` if make failed.
pub fn build_c_driver(goal: &str, bin: &str) -> Option<std::path::PathBuf> {
    let c_examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("c_examples");
    let built = Command::new("make")
        .args(["-s", "-C"])
        .arg(&c_examples)
        .args(["-f", "bench.mk", goal])
        .stdout(Stdio::null())
        .status();
    built
        .is_ok_and(|s| s.success())
        .then(|| c_examples.join("build/bench").join(bin))
}

pub fn parse(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut pairs = Vec::new();
    for line in text.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        if key == "na" {
            return Err(value.to_owned());
        }
        let value = value
            .trim()
            .parse()
            .map_err(|_| format!("bad line {line:?}"))?;
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

pub fn get(pairs: &[(String, f64)], key: &str) -> Result<f64, String> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|&(_, v)| v)
        .ok_or_else(|| format!("no {key}"))
}

/// `get` on a child's result that may have failed: the failure carries over.
pub fn value(result: &Result<Vec<(String, f64)>, String>, key: &str) -> Result<f64, String> {
    result
        .as_ref()
        .map_err(|e| e.clone())
        .and_then(|r| get(r, key))
}

/// A C driver's result, if its `sums_agree` line says its parallel sums
/// equal its serial one (omp_for, glib_bench r1).
pub fn sums_agree(result: Vec<(String, f64)>) -> Result<Vec<(String, f64)>, String> {
    if get(&result, "sums_agree")? != 1.0 {
        return Err("parallel sum differs from the serial one".into());
    }
    Ok(result)
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn run_tasks(pool: &dyn contenders::Exec, n: usize) {
    let latch = Latch::new(n, Duration::ZERO);
    for _ in 0..n {
        pool.schedule(task::bump, latch.arg());
    }
    latch.wait(Duration::from_secs(60));
}

/// A live pool of 4 workers, after 1,000 tasks, idle for 5 seconds.
fn idle(c: &dyn Contender) {
    let cfg = Cfg {
        workers: 4,
        queue: Queue::Unbounded,
        prealloc: true,
        stack: None,
    };
    let pool = c.build(&cfg).expect("mode");
    run_tasks(&*pool, 1_000);
    let before = cpu_seconds();
    std::thread::sleep(Duration::from_secs(5));
    println!("cpu_s {:.6}", cpu_seconds() - before);
}

/// Heap allocations (any thread) during 100,000 schedules and runs of the
/// C task after a 100,000-task warm-up; 2 workers, `queue`.
fn alloc(c: &dyn Contender, queue: Queue) {
    const N: usize = 100_000;
    let cfg = Cfg {
        workers: 2,
        queue,
        prealloc: true,
        stack: None,
    };
    let Some(pool) = c.build(&cfg) else {
        println!("na no such mode");
        return;
    };
    run_tasks(&*pool, N);
    let latch = Latch::new(N, Duration::ZERO);
    COUNTING.store(true, Ordering::SeqCst);
    for _ in 0..N {
        pool.schedule(task::bump, latch.arg());
    }
    latch.wait(Duration::from_secs(60));
    COUNTING.store(false, Ordering::SeqCst);
    println!(
        "allocs_per_task {:.6}",
        ALLOCS.load(Ordering::SeqCst) as f64 / N as f64
    );
}
