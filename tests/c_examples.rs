//! Builds the C examples with make (which builds the library through cargo)
//! and checks what each prints.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c_examples")
}

/// Runs `make` once for every test in this file.
fn built() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("make")
            .arg("-s")
            .current_dir(examples_dir())
            .status()
            .expect("make is installed (scripts/install-deps.sh)");
        assert!(status.success(), "make -C c_examples failed");
        examples_dir().join("build")
    })
}

fn run(example: &str, args: &[&str]) -> Output {
    let output = Command::new(built().join(example))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {example}: {e}"));
    assert!(
        output.status.success(),
        "{example} {args:?} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("examples print UTF-8")
}

#[test]
fn demo1_runs_ten_tasks_five_at_a_time() {
    let out = stdout(&run("demo1", &[]));
    for task in 0..10 {
        assert_eq!(
            out.matches(&format!("task {task} start")).count(),
            1,
            "{out}"
        );
        assert_eq!(out.matches(&format!("task {task} end")).count(), 1, "{out}");
    }
    assert!(
        out.contains("all tasks done (finished=10, max concurrent=5)"),
        "{out}"
    );
}

#[test]
fn stress_checks_itself() {
    let out = stdout(&run("stress", &["100"]));
    assert!(
        out.lines()
            .any(|l| l.starts_with("stress: OK iterations=100 ")),
        "{out}"
    );
}

#[test]
fn demo2_accepts_five_and_refuses_five() {
    let out = stdout(&run("demo2", &[]));
    assert!(out.lines().any(|l| l == "accepted=5 refused=5"), "{out}");
    assert_eq!(out.matches("refused (no idle worker").count(), 5, "{out}");
    assert!(out.contains("submitted=5 completed=5 rejected=5"), "{out}");
}

#[test]
fn checksum_parallel_output_equals_serial() {
    // A fixed tree made here, so nothing else edits it during the test.
    let dir = std::env::temp_dir().join(format!("workerpool-checksum-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in 0..5 {
        let sub = dir.join(format!("d{d}"));
        std::fs::create_dir_all(&sub).unwrap();
        for f in 0..40 {
            let bytes: Vec<u8> = (0..(d * 997 + f * 131) % 20_000)
                .map(|i| (i * 7 + f) as u8)
                .collect();
            std::fs::write(sub.join(format!("f{f}")), bytes).unwrap();
        }
    }
    let dir_arg = dir.to_str().unwrap();
    let parallel = run("checksum", &["--workers", "4", dir_arg]).stdout;
    let serial = run("checksum", &["--serial", dir_arg]).stdout;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        parallel, serial,
        "checksum --serial must print the same bytes"
    );
    let text = String::from_utf8(parallel).unwrap();
    assert_eq!(text.lines().count(), 201, "200 files and a total:\n{text}");
    assert!(
        text.lines().last().unwrap().starts_with("total files=200 "),
        "{text}"
    );
}

#[test]
fn service_workers_come_and_go_and_all_hooks_pair_up() {
    let out = stdout(&run("service", &["3"]));
    let last = out.lines().last().unwrap_or_default();
    let (started, exited) = last
        .strip_prefix("started=")
        .and_then(|rest| rest.split_once(" exited="))
        .unwrap_or_else(|| panic!("last line is not started=S exited=E:\n{out}"));
    assert_eq!(started, exited, "{out}");
    assert!(started.parse::<u32>().unwrap() > 0, "{out}");
    assert!(
        out.contains("final workers=0 "),
        "idle workers expire:\n{out}"
    );
}

/// The README's C quick start, built and linked exactly as the README's
/// "Linking" section says (shared with an rpath, and static).
#[test]
fn readme_quick_start_builds_and_runs() {
    built(); // the library exists
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("## C quick start")
        .expect("README has a C quick start");
    let code = readme[start..]
        .split("```c\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```c block");
    let dir = std::env::temp_dir().join(format!("workerpool-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.c"), code).unwrap();
    let release = root.join("target/release");
    let shared = [
        "-std=c99",
        "-Iinclude",
        "APP",
        "-Ltarget/release",
        "-lworkerpool",
        "RPATH",
        "-o",
        "OUT",
    ];
    let stat = [
        "-std=c99",
        "-Iinclude",
        "APP",
        "target/release/libworkerpool.a",
        "-lpthread",
        "-ldl",
        "-lm",
        "-lgcc_s",
        "-o",
        "OUT",
    ];
    for (name, args) in [("shared", &shared[..]), ("static", &stat[..])] {
        let out = dir.join(name);
        let args: Vec<String> = args
            .iter()
            .map(|a| match *a {
                "APP" => dir.join("app.c").display().to_string(),
                "OUT" => out.display().to_string(),
                "RPATH" => format!("-Wl,-rpath,{}", release.display()),
                other => other.to_string(),
            })
            .collect();
        let status = Command::new("cc")
            .args(&args)
            .current_dir(root)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "README {name} link line failed: cc {args:?}"
        );
        let output = Command::new(&out).output().unwrap();
        assert!(
            output.status.success(),
            "{name} quick start exited {:?}",
            output.status
        );
        let text = String::from_utf8_lossy(&output.stdout);
        for i in 0..10 {
            assert!(text.contains(&format!("task {i}\n")), "{name}: {text}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The README's parallel-loop example, built as C99 with every warning an
/// error, run, and run again under valgrind where it is installed (errors
/// and leaks fail).
#[test]
fn readme_parallel_loop_builds_and_runs() {
    built(); // the library exists
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("## Parallel loops")
        .expect("README has a parallel-loop section");
    let code = readme[start..]
        .split("```c\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```c block");
    let dir = std::env::temp_dir().join(format!("workerpool-readme-pfor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, out) = (dir.join("loop.c"), dir.join("loop"));
    std::fs::write(&src, code).unwrap();
    let release = root.join("target/release");
    let status = Command::new("cc")
        .args([
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-O2",
        ])
        .arg("-Iinclude")
        .arg(&src)
        .args(["-Ltarget/release", "-lworkerpool"])
        .arg(format!("-Wl,-rpath,{}", release.display()))
        .arg("-o")
        .arg(&out)
        .current_dir(root)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the README's parallel loop does not build"
    );
    let expected = "v[999999] = 499999.5, 0 wrong\n";
    let output = Command::new(&out).output().unwrap();
    assert!(output.status.success(), "exited {:?}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
    match Command::new("valgrind")
        .args(["--quiet", "--leak-check=full", "--error-exitcode=99"])
        .arg(&out)
        .output()
    {
        Ok(output) => {
            assert!(
                output.status.success(),
                "under valgrind: {:?}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
        }
        Err(e) => eprintln!("valgrind not run ({e}): not installed?"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
