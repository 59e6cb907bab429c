//! GLib's GThreadPool, driven from C: c_examples/bench/glib_bench.c, built
//! by c_examples/bench.mk. Each call runs one workload in a fresh process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::child;

pub const NAME: &str = "glib";

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn have_glib() -> bool {
    quiet(Command::new("pkg-config").args(["--exists", "glib-2.0"]))
}

/// Makes sure libglib2.0-dev is there (installing it with apt-get when
/// running as root) and builds glib_bench. `Err` says why GLib is n/a.
pub fn prepare() -> Result<PathBuf, String> {
    if !have_glib() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("libglib2.0-dev missing (not root: apt-get install libglib2.0-dev)".into());
        }
        eprintln!("glib: installing libglib2.0-dev with apt-get ...");
        let install = || {
            quiet(Command::new("apt-get").args([
                "install",
                "-y",
                "-q",
                "libglib2.0-dev",
                "pkg-config",
            ]))
        };
        let installed =
            install() || (quiet(Command::new("apt-get").args(["update", "-q"])) && install());
        if !installed || !have_glib() {
            return Err("libglib2.0-dev missing and apt-get install failed".into());
        }
    }
    child::build_c_driver("glib-bench", "glib_bench")
        .ok_or_else(|| "building c_examples/bench/glib_bench failed".into())
}

/// `args`: the workload and its arguments (`["r1", N, K]`).
pub fn start<S: AsRef<std::ffi::OsStr>>(
    bin: &Path,
    args: &[S],
) -> std::io::Result<std::process::Child> {
    Command::new(bin).args(args).stdout(Stdio::piped()).spawn()
}

/// One run of a workload (`["w1"]`, ..., `["idle"]`, `["r1", N, K]`).
pub fn run<S: AsRef<std::ffi::OsStr>>(
    bin: &Result<PathBuf, String>,
    args: &[S],
) -> Result<Vec<(String, f64)>, String> {
    let bin = bin.as_ref().map_err(|why| why.clone())?;
    if !bin.exists() {
        // Removed since `prepare` (make clean): build it again.
        prepare()?;
    }
    child::finish(start(bin, args))
}

pub fn version() -> String {
    Command::new("pkg-config")
        .args(["--modversion", "glib-2.0"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "missing".into())
}
