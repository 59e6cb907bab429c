//! The other-language bindings: the C++ header's demo and tests (built with
//! `g++ -std=c++17 -Wall -Wextra -Werror` by `make -C c_examples cpp-test`),
//! and the Go package in `go/` (cgo; `go` comes from scripts/install-deps.sh):
//! its tests under `go test -race`, its demos and the README's Go lines.

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

/// `make -C c_examples install` into a prefix under target/tmp, once: the
/// Go package links the installed library through `#cgo pkg-config`.
fn go_prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-prefix");
        let out = Command::new("make")
            .args(["-s", "-C", "c_examples", "install"])
            .arg(format!("PREFIX={}", prefix.display()))
            .current_dir(root())
            .output()
            .expect("make is installed (scripts/install-deps.sh)");
        check("make -C c_examples install (for Go)", out);
        prefix
    })
}

/// `go args` in `dir`, finding the library installed by `go_prefix` through
/// PKG_CONFIG_PATH and LD_LIBRARY_PATH, as the README tells a user to.
fn go(dir: &Path, args: &[&str]) -> Output {
    go_command(dir, args)
        .output()
        .expect("go is installed: run scripts/install-deps.sh (Debian: golang-go)")
}

fn go_command(dir: &Path, args: &[&str]) -> Command {
    let prefix = go_prefix();
    let mut cmd = Command::new(args[0]);
    cmd.args(&args[1..])
        .current_dir(dir)
        .env("CGO_ENABLED", "1")
        // No VCS stamping: the checkout may belong to another user, or have no git.
        .env("GOFLAGS", "-buildvcs=false")
        // Nothing is fetched: the module has no dependency but the C library.
        .env("GOPROXY", "off")
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .env("LD_LIBRARY_PATH", prefix.join("lib"));
    // `go` needs a cache directory; HOME may be unset under some CI runners.
    if std::env::var_os("GOCACHE").is_none() && std::env::var_os("HOME").is_none() {
        let cache: PathBuf = std::env::temp_dir().join("workerpool-gocache");
        cmd.env("GOCACHE", &cache)
            .env("GOPATH", cache.join("gopath"));
    }
    cmd
}

/// go/: gofmt-clean, `go vet` clean, and its tests (every function and
/// error of the package, examples included) pass under the race detector.
#[test]
fn go_package_vets_and_passes_its_race_tests() {
    let dir = root().join("go");
    let unformatted = check("gofmt -l .", go(&dir, &["gofmt", "-l", "."]));
    assert!(unformatted.is_empty(), "not gofmt'ed:\n{unformatted}");
    check("go vet ./...", go(&dir, &["go", "vet", "./..."]));
    let out = check(
        "go test -race ./...",
        go(&dir, &["go", "test", "-race", "-count=1", "./..."]),
    );
    assert!(
        out.contains("ok  \tworkerpool.example/workerpool\t"),
        "{out}"
    );
    // The benchmarks build and run (once each: no timing is checked).
    let out = check(
        "go test -bench . -benchtime 1x",
        go(
            &dir,
            &[
                "go",
                "test",
                "-run",
                "^$",
                "-bench",
                ".",
                "-benchtime",
                "1x",
                ".",
            ],
        ),
    );
    assert!(out.contains("BenchmarkSchedule"), "{out}");
}

/// The Go original's two demos, rewritten on the Go package.
#[test]
fn go_demos_drive_the_pool() {
    let dir = root().join("go");
    // demo1: capacity 5, 10 Go tasks of 1 s, blocking.
    let started = std::time::Instant::now();
    let out = check(
        "go run ./examples/demo1",
        go(&dir, &["go", "run", "./examples/demo1"]),
    );
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
    let out = check(
        "go run ./examples/demo2",
        go(&dir, &["go", "run", "./examples/demo2"]),
    );
    assert!(out.lines().any(|l| l == "accepted=5 refused=5"), "{out}");
    assert_eq!(
        out.matches("refused (workerpool: no idle worker in pool)")
            .count(),
        5,
        "{out}"
    );
    assert!(out.contains("submitted=5 completed=5 rejected=5"), "{out}");
}

/// The fenced blocks of one README section (`### title` up to the next
/// `### `) in the given language.
fn readme_blocks(title: &str, lang: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find(&format!("### {title}\n"))
        .unwrap_or_else(|| panic!("the README has a section {title}"));
    let section = &readme[start..];
    let section = &section[..section[4..].find("\n### ").map_or(section.len(), |e| e + 4)];
    let fence = format!("```{lang}\n");
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find(&fence) {
        let body = &rest[open + fence.len()..];
        let close = body.find("```").expect("a closed ``` block");
        blocks.push(body[..close].to_string());
        rest = &body[close + 3..];
    }
    blocks
}

/// The README's Go section, as a user runs it: its shell lines (the
/// install into `$HOME/.local`, here a prefix under target/tmp, and the
/// `go mod edit -replace` onto `$HOME/src/workerpool`, here this checkout)
/// and its program, in a new module.
#[test]
fn readme_go_lines_build_and_run() {
    let sh = readme_blocks("Go (cgo)", "sh");
    let programs = readme_blocks("Go (cgo)", "go");
    assert_eq!(sh.len(), 1, "one shell block in the Go section: {sh:?}");
    assert_eq!(programs.len(), 1, "one program in the Go section");
    // A prefix of its own: the other Go tests link against go_prefix's
    // while this reinstalls.
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-readme-prefix");
    let app = std::env::temp_dir().join(format!("workerpool-readme-go-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&app);
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("main.go"), &programs[0]).unwrap();
    check(
        "go mod init",
        go(&app, &["go", "mod", "init", "example.com/app"]),
    );
    // Each line as written; the one that installs runs in the checkout.
    let mut script = String::from("set -eu\n");
    for line in sh[0].lines() {
        let line = line
            .replace("$HOME/.local", &prefix.display().to_string())
            .replace("$HOME/src/workerpool", &root().display().to_string());
        if line.trim_start().starts_with("make ") {
            // `)` on a line of its own: the line may end in a comment.
            script.push_str(&format!("(cd '{}' && {line}\n)\n", root().display()));
        } else {
            script.push_str(&line);
            script.push('\n');
        }
    }
    let mut cmd = go_command(&app, &["bash", "-c", &script]);
    // The script sets them itself, as the user does.
    cmd.env_remove("PKG_CONFIG_PATH")
        .env_remove("LD_LIBRARY_PATH");
    let out = check(
        &format!("the README's Go lines\n{script}"),
        cmd.output().unwrap(),
    );
    assert!(out.ends_with("sum: 55\n"), "{out}");
    let go_mod = std::fs::read_to_string(app.join("go.mod")).unwrap();
    assert!(
        go_mod.contains("require workerpool.example/workerpool")
            && go_mod.contains("replace workerpool.example/workerpool =>"),
        "{go_mod}"
    );
    check("go vet (the README program)", go(&app, &["go", "vet", "."]));
    std::fs::remove_dir_all(&app).unwrap();
}

/// The ```cpp blocks of the README's C++ section.
fn readme_cpp_blocks() -> Vec<String> {
    readme_blocks("C++ (header-only, C++17)", "cpp")
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
