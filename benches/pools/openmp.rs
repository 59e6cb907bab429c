//! OpenMP's `#pragma omp parallel for`, driven from C: c_examples/bench/omp_for.c,
//! built by c_examples/bench.mk with gcc -O2 -fopenmp. Each call runs one
//! loop workload (L1, L2) in a fresh process with `OMP_NUM_THREADS` set to
//! the loops' thread count; the process also times its own serial loop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::child;
use crate::loops::THREADS;

pub const NAME: &str = "openmp";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

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
    let built = Command::new("make")
        .args(["-s", "-C"])
        .arg(root().join("c_examples"))
        .args(["-f", "bench.mk", "omp-bench"])
        .stdout(Stdio::null())
        .status();
    if !built.is_ok_and(|s| s.success()) {
        return Err("building c_examples/bench/omp_for with gcc -fopenmp failed".into());
    }
    Ok(root().join("c_examples/build/bench/omp_for"))
}

/// One run of `workload` ("L1", "L2") over `indices`, `k` spin steps per
/// costly index: `serial_s`, `omp_s`, `threads`, `sums_agree`.
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
        .env("OMP_NUM_THREADS", THREADS.to_string())
        .stdout(Stdio::piped());
    if workload == "L2" {
        cmd.arg(k.to_string());
    }
    let result = child::finish(cmd.spawn())?;
    if child::get(&result, "sums_agree")? != 1.0 {
        return Err("parallel sum differs from the serial one".into());
    }
    if child::get(&result, "threads")? != THREADS as f64 {
        return Err("OMP_NUM_THREADS not honoured".into());
    }
    Ok(result)
}
