//! The other-language bindings: the C++ header's demo and tests (built with
//! `g++ -std=c++17 -Wall -Wextra -Werror` by `make -C c_examples cpp-test`),
//! and the cgo demos in `c_examples/go` when `go` is installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn check(what: &str, output: Output) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// `make -C c_examples lib` once: the library, and the
/// `libworkerpool.so.MAJOR` link that programs linked against
/// `target/dist` load at run time.
fn library_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Command::new("make")
            .args(["-s", "-C", "c_examples", "lib"])
            .current_dir(root())
            .output()
            .expect("make is installed (scripts/install-deps.sh)");
        check("make -C c_examples lib", out);
    });
}

#[test]
fn cpp_demo_and_tests_pass() {
    library_built();
    let out = Command::new("make")
        .args(["-s", "-C", "c_examples", "cpp-test", "cpp"])
        .current_dir(root())
        .output()
        .expect("make is installed");
    let stdout = check("make -C c_examples cpp-test cpp", out);
    assert!(stdout.contains("cpp_test: all "), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
    assert!(
        stdout.contains("sum=5050 submitted=102 completed=102 exceptions=1"),
        "{stdout}"
    );
    assert!(stdout.contains("a task threw: boom"), "{stdout}");
}

fn go_available() -> bool {
    Command::new("go")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn go(args: &[&str]) -> Output {
    let dir = root().join("c_examples/go");
    let mut cmd = Command::new("go");
    cmd.args(args)
        .current_dir(&dir)
        .env("CGO_ENABLED", "1")
        // No VCS stamping: the checkout may belong to another user, or have no git.
        .env("GOFLAGS", "-buildvcs=false");
    // `go` needs a cache directory; HOME may be unset under some CI runners.
    if std::env::var_os("GOCACHE").is_none() && std::env::var_os("HOME").is_none() {
        let cache: PathBuf = std::env::temp_dir().join("workerpool-gocache");
        cmd.env("GOCACHE", &cache)
            .env("GOPATH", cache.join("gopath"));
    }
    cmd.output().expect("go runs")
}

#[test]
fn go_demos_drive_the_pool_through_cgo() {
    if !go_available() {
        println!(
            "SKIPPED go_demos_drive_the_pool_through_cgo: `go` is not installed \
             (Debian: apt-get install golang-go)"
        );
        return;
    }
    library_built();
    check("go vet ./...", go(&["vet", "./..."]));

    // demo1: capacity 5, 10 C tasks of 1 s, blocking.
    let started = std::time::Instant::now();
    let out = check("go run ./demo1", go(&["run", "./demo1"]));
    for task in 0..10 {
        assert_eq!(
            out.matches(&format!("task {task} start\n")).count(),
            1,
            "{out}"
        );
        assert_eq!(
            out.matches(&format!("task {task} end\n")).count(),
            1,
            "{out}"
        );
    }
    assert!(
        out.contains("all tasks done (finished=10, max concurrent=5)"),
        "{out}"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "ten 1 s tasks, five at a time, take at least 2 s"
    );

    // demo2: non-blocking, exactly five accepted and five refused.
    let out = check("go run ./demo2", go(&["run", "./demo2"]));
    assert!(out.lines().any(|l| l == "accepted=5 refused=5"), "{out}");
    assert_eq!(out.matches("refused (no idle worker").count(), 5, "{out}");
    assert!(out.contains("submitted=5 completed=5 rejected=5"), "{out}");
}

/// The ```cpp blocks of the README's C++ section.
fn readme_cpp_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("### C++ (header-only, C++17)")
        .expect("the README has a C++ section");
    let section = &readme[start..];
    let section = &section[..section[4..].find("\n### ").map_or(section.len(), |e| e + 4)];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```cpp\n") {
        let body = &rest[open + 7..];
        let close = body.find("```").expect("a closed ```cpp block");
        blocks.push(body[..close].to_string());
        rest = &body[close + 3..];
    }
    blocks
}

/// Builds `source` with `g++ -std=c++17 -Wall -Wextra -Werror`, runs it,
/// and runs it again under valgrind where it is installed (errors and leaks
/// fail); returns the stdout of the first run.
fn cpp_program_runs(name: &str, source: &str) -> String {
    let dir = std::env::temp_dir().join(format!(
        "workerpool-readme-cpp-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, exe) = (dir.join(format!("{name}.cpp")), dir.join(name));
    std::fs::write(&src, source).unwrap();
    let release = root().join("target/dist");
    let out = Command::new("g++")
        .args([
            "-std=c++17",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O1",
            "-pthread",
            "-Iinclude",
        ])
        .arg(&src)
        .args(["-Ltarget/dist", "-lworkerpool"])
        .arg(format!("-Wl,-rpath,{}", release.display()))
        .arg("-o")
        .arg(&exe)
        .current_dir(root())
        .output()
        .expect("g++ is installed");
    check(
        &format!("g++ {name}.cpp (the README's C++ section)\n{source}"),
        out,
    );
    let stdout = check(
        &format!("{name} (the README's C++ section)"),
        Command::new(&exe).output().unwrap(),
    );
    match Command::new("valgrind")
        .args(["--quiet", "--leak-check=full", "--error-exitcode=99"])
        .arg(&exe)
        .output()
    {
        Ok(out) => {
            let again = check(&format!("{name} under valgrind"), out);
            assert_eq!(again, stdout, "{name}: the same output under valgrind");
        }
        Err(e) => eprintln!("valgrind not run ({e}): not installed?"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
    stdout
}

/// The README's C++ section: its whole program, and every feature snippet
/// (each in a scope of its own, one after the other in one main(), with the
/// pool they assume), printing what their comments say.
#[test]
fn readme_cpp_examples_build_and_run() {
    library_built();
    let blocks = readme_cpp_blocks();
    let (programs, snippets): (Vec<_>, Vec<_>) =
        blocks.iter().partition(|b| b.contains("int main"));
    assert_eq!(programs.len(), 1, "one whole program in the C++ section");
    assert!(
        snippets.len() >= 9,
        "a snippet per feature: {}",
        snippets.len()
    );
    assert_eq!(cpp_program_runs("program", programs[0]), "sum=55\n");

    let mut source = String::from(
        "#include <atomic>\n#include <chrono>\n#include <cstdio>\n#include <future>\n#include <memory>\n\
         #include <stdexcept>\n#include <string>\n#include <thread>\n#include <vector>\n\
         #include \"workerpool.hpp\"\n\nusing namespace std::chrono_literals;\n\nint main()\n{\n    \
         workerpool::pool pool{workerpool::options{}.capacity(4).queue_size(workerpool::unbounded)};\n",
    );
    for snippet in &snippets {
        source.push_str("    {\n");
        source.push_str(snippet);
        source.push_str("    }\n");
    }
    source.push_str("    return 0;\n}\n");
    assert_eq!(
        cpp_program_runs("snippets", &source),
        "42\ncaught boom\ndetached\nstill running\ndone\nn=8 last=1\ntotal=200000\nloop threw 42\n\
         998001\nready while paused: 0\nafter resume: 1\ncancelled 1\nqueued: cancelled\n\
         shutdown: ok\nthen: freed\n"
    );
}
