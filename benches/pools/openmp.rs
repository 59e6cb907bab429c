//! OpenMP, driven from C: c_examples/bench/omp_for.c, built by
//! c_examples/bench.mk with gcc -O2 -fopenmp. Each call runs one loop or
//! real-work workload (L1, L2, R1, R2) in a fresh process with
//! `OMP_NUM_THREADS` set to the loops' thread count; the process also times
//! its own serial loop.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::child;
use crate::loops::THREADS;
use crate::table::{Table, Unit};

pub const NAME: &str = "openmp";
/// The serial loop timed in the OpenMP process.
pub const SERIAL_C: &str = "serial-c";

/// Builds omp_for. `Err` says why OpenMP is n/a (no gcc, or no -fopenmp).
pub fn prepare() -> Result<PathBuf, String> {
    let gcc = Command::new("gcc")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !gcc.is_ok_and(|s| s.success()) {
        return Err("gcc missing (OpenMP needs gcc -fopenmp)".into());
    }
    child::build_c_driver("omp-bench", "omp_for")
        .ok_or_else(|| "building c_examples/bench/omp_for with gcc -fopenmp failed".into())
}

/// One run of `workload` ("L1", "L2", "R1", "R2") over `indices`, `k` spin
/// steps per costly index (ignored by L1): `serial_s`, `omp_s` (R2 also
/// `omp_dynamic_s`), `threads`, `sums_agree`.
pub fn run(
    bin: &Result<PathBuf, String>,
    workload: &str,
    indices: u64,
    k: u64,
) -> Result<Vec<(String, f64)>, String> {
    let bin = bin.as_ref().map_err(|why| why.clone())?;
    let mut cmd = Command::new(bin);
    cmd.arg(workload.to_lowercase())
        .arg(indices.to_string())
        .arg(k.to_string())
        .env("OMP_NUM_THREADS", THREADS.to_string())
        .stdout(Stdio::piped());
    let result = child::sums_agree(child::finish(cmd.spawn())?)?;
    if child::get(&result, "threads")? != THREADS as f64 {
        return Err("OMP_NUM_THREADS not honoured".into());
    }
    Ok(result)
}

/// One `run`, its times pushed to the rows `"{workload} time"`: `openmp`,
/// `serial-c` (its own serial loop) and, for R2, `openmp-dynamic`.
pub fn push(t: &mut Table, bin: &Result<PathBuf, String>, workload: &str, indices: u64, k: u64) {
    let result = run(bin, workload, indices, k);
    let mut rows = vec![("omp_s", NAME), ("serial_s", SERIAL_C)];
    if workload == "R2" {
        rows.push(("omp_dynamic_s", "openmp-dynamic"));
    }
    let what = format!("{workload} time");
    for (key, name) in rows {
        t.push(&what, Unit::Ms, name, child::value(&result, key));
    }
}
