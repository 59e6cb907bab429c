//! `make -C c_examples install` / `uninstall`: installs into a temporary
//! prefix (and a DESTDIR staging tree), builds C and C++ programs against
//! the installed tree through pkg-config, shared and static, and a CMake
//! project through `find_package(workerpool CONFIG)`, both targets; runs
//! them, checks the SONAME and that the libraries are stripped, then
//! uninstalls and checks that no file is left.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const MAJOR: &str = env!("CARGO_PKG_VERSION_MAJOR");
const VERSION: &str = env!("CARGO_PKG_VERSION");

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

fn run(what: &str, cmd: &mut Command) -> String {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    check(what, output)
}

/// A fresh directory for one test, removed when it passes.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("workerpool-install-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Builds the library once (through make, as a user would).
fn library_built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        run(
            "make -C c_examples lib",
            Command::new("make")
                .args(["-s", "-C", "c_examples", "lib"])
                .current_dir(root()),
        );
    });
}

fn make(args: &[&str]) -> String {
    library_built();
    run(
        &format!("make -C c_examples {}", args.join(" ")),
        Command::new("make")
            .arg("-s")
            .arg("-C")
            .arg("c_examples")
            .args(args)
            .current_dir(root()),
    )
}

/// Runs pkg-config on `workerpool` with the installed .pc file; `sysroot`
/// for a DESTDIR staging tree.
fn pkg_config(pc_dir: &Path, sysroot: Option<&Path>, args: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("pkg-config");
    cmd.args(args)
        .arg("workerpool")
        .env("PKG_CONFIG_PATH", pc_dir)
        .env_remove("PKG_CONFIG_LIBDIR");
    match sysroot {
        Some(dir) => cmd.env("PKG_CONFIG_SYSROOT_DIR", dir),
        None => cmd.env_remove("PKG_CONFIG_SYSROOT_DIR"),
    };
    run(&format!("pkg-config {args:?} workerpool"), &mut cmd)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Every file or link under `dir` (directories are not counted).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn readelf_dynamic(file: &Path) -> String {
    run(
        &format!("readelf -d {}", file.display()),
        Command::new("readelf").arg("-d").arg(file),
    )
}

const C_APP: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <workerpool.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long sum;

static void add(void *arg)
{
    pthread_mutex_lock(&lock);
    sum += *(const int *)arg;
    pthread_mutex_unlock(&lock);
}

int main(void)
{
    char header[32];
    static int values[100];
    int i;
    pool_t *pool = pool_new(4, NULL);
    if (!pool) { perror("pool_new"); return 1; }
    for (i = 0; i < 100; i++) {
        values[i] = i + 1;
        if (pool_schedule(pool, add, &values[i]) != POOL_OK) return 1;
    }
    if (pool_wait(pool) != POOL_OK || pool_free(pool) != POOL_OK) return 1;
    snprintf(header, sizeof header, "%d.%d.%d", WORKERPOOL_VERSION_MAJOR,
             WORKERPOOL_VERSION_MINOR, WORKERPOOL_VERSION_PATCH);
    printf("sum=%ld version=%s header=%s\n", sum, pool_version(), header);
    return sum == 5050 && strcmp(header, pool_version()) == 0 ? 0 : 1;
}
"#;

const CPP_APP: &str = r#"
#include <atomic>
#include <cstdio>
#include <workerpool.hpp>

int main()
{
    std::atomic<long> sum{0};
    {
        workerpool::pool pool{workerpool::options{}.capacity(4)};
        for (int i = 1; i <= 100; i++)
            if (pool.schedule([&sum, i] { sum += i; }))
                return 1;
    }
    std::printf("sum=%ld\n", sum.load());
    return sum == 5050 ? 0 : 1;
}
"#;

fn expected_output() -> String {
    format!("sum=5050 version={VERSION} header={VERSION}\n")
}

/// The installed files, with the links as they must be.
fn check_layout(prefix: &Path) {
    let lib = prefix.join("lib");
    for header in ["workerpool.h", "workerpool.hpp"] {
        let installed = fs::read(prefix.join("include").join(header)).unwrap();
        assert_eq!(
            installed,
            fs::read(root().join("include").join(header)).unwrap(),
            "{header}"
        );
    }
    let real = format!("libworkerpool.so.{VERSION}");
    let soname = format!("libworkerpool.so.{MAJOR}");
    assert!(
        fs::symlink_metadata(lib.join(&real))
            .unwrap()
            .file_type()
            .is_file(),
        "{real} is a real file"
    );
    assert_eq!(fs::read_link(lib.join(&soname)).unwrap(), Path::new(&real));
    assert_eq!(
        fs::read_link(lib.join("libworkerpool.so")).unwrap(),
        Path::new(&soname)
    );
    assert!(fs::metadata(lib.join("libworkerpool.a")).unwrap().is_file());
    for cmake in [
        "workerpoolConfig.cmake",
        "workerpoolConfigVersion.cmake",
        "workerpoolTargets.cmake",
    ] {
        assert!(
            lib.join("cmake/workerpool").join(cmake).is_file(),
            "{cmake}"
        );
    }
    // Installed stripped: no debug sections in either library.
    for file in [lib.join(&real), lib.join("libworkerpool.a")] {
        let sections = run(
            &format!("readelf -S {}", file.display()),
            Command::new("readelf").arg("-S").arg("-W").arg(&file),
        );
        assert!(
            !sections.contains(".debug_"),
            "{} has debug sections",
            file.display()
        );
    }
    let dynamic = readelf_dynamic(&lib.join(&real));
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "SONAME {soname} missing:\n{dynamic}"
    );
}

/// The static link line: pkg-config --static --libs, with the archive
/// chosen over the shared library for -lworkerpool only.
fn static_libs(pc_dir: &Path, sysroot: Option<&Path>) -> Vec<String> {
    let libs = pkg_config(pc_dir, sysroot, &["--static", "--libs"]);
    assert!(libs.iter().any(|l| l == "-lworkerpool"), "{libs:?}");
    for needed in ["-lpthread", "-ldl", "-lm", "-lgcc_s"] {
        assert!(
            libs.iter().any(|l| l == needed),
            "Libs.private lacks {needed}: {libs:?}"
        );
    }
    libs.into_iter()
        .flat_map(|l| {
            if l == "-lworkerpool" {
                vec!["-Wl,-Bstatic".to_owned(), l, "-Wl,-Bdynamic".to_owned()]
            } else {
                vec![l]
            }
        })
        .collect()
}

fn needs_libworkerpool(binary: &Path) -> bool {
    readelf_dynamic(binary).contains(&format!("Shared library: [libworkerpool.so.{MAJOR}]"))
}

#[test]
fn install_into_a_prefix_builds_shared_static_cpp_and_cmake_programs_then_uninstalls() {
    let tmp = TempDir::new("prefix");
    let prefix = tmp.0.join("usr");
    let prefix_arg = format!("PREFIX={}", prefix.display());
    make(&["install", &prefix_arg]);
    check_layout(&prefix);

    let pc_dir = prefix.join("lib/pkgconfig");
    let pc = fs::read_to_string(pc_dir.join("workerpool.pc")).unwrap();
    assert!(
        pc.contains(&format!("\nprefix={}\n", prefix.display())),
        "{pc}"
    );
    assert!(pc.contains(&format!("\nVersion: {VERSION}\n")), "{pc}");
    assert_eq!(
        pkg_config(&pc_dir, None, &["--modversion"]),
        vec![VERSION.to_owned()]
    );
    let cflags_libs = pkg_config(&pc_dir, None, &["--cflags", "--libs"]);
    assert!(
        cflags_libs.contains(&format!("-I{}", prefix.join("include").display())),
        "{cflags_libs:?}"
    );

    let src = tmp.0.join("app.c");
    fs::write(&src, C_APP).unwrap();
    let libdir = prefix.join("lib");

    // Shared: cc app.c $(pkg-config --cflags --libs workerpool)
    let shared = tmp.0.join("app_shared");
    run(
        "cc (shared)",
        Command::new("cc")
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pthread"])
            .arg(&src)
            .args(&cflags_libs)
            .arg(format!("-Wl,-rpath,{}", libdir.display()))
            .arg("-o")
            .arg(&shared),
    );
    assert!(needs_libworkerpool(&shared), "linked through the SONAME");
    let out = run(
        "app_shared",
        Command::new(&shared).env_remove("LD_LIBRARY_PATH"),
    );
    assert_eq!(out, expected_output());

    // Static: the archive plus Libs.private; no libworkerpool.so needed.
    let stat = tmp.0.join("app_static");
    run(
        "cc (static)",
        Command::new("cc")
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pthread"])
            .arg(&src)
            .args(pkg_config(&pc_dir, None, &["--cflags"]))
            .args(static_libs(&pc_dir, None))
            .arg("-o")
            .arg(&stat),
    );
    assert!(
        !needs_libworkerpool(&stat),
        "the static program must not load libworkerpool.so"
    );
    let out = run(
        "app_static",
        Command::new(&stat).env_remove("LD_LIBRARY_PATH"),
    );
    assert_eq!(out, expected_output());

    // C++: the installed workerpool.hpp.
    let cpp_src = tmp.0.join("app.cpp");
    fs::write(&cpp_src, CPP_APP).unwrap();
    let cpp = tmp.0.join("app_cpp");
    run(
        "g++ (C++17)",
        Command::new("g++")
            .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pthread"])
            .arg(&cpp_src)
            .args(&cflags_libs)
            .arg(format!("-Wl,-rpath,{}", libdir.display()))
            .arg("-o")
            .arg(&cpp),
    );
    assert_eq!(run("app_cpp", &mut Command::new(&cpp)), "sum=5050\n");

    cmake_builds_against(&tmp.0, &prefix, &src);

    make(&["uninstall", &prefix_arg]);
    let left = files_under(&prefix);
    assert!(left.is_empty(), "uninstall left files behind: {left:?}");
}

/// Runs cmake with `args` (PKG_CONFIG_* cleared: the package must be found
/// through its CMake files alone).
fn cmake(what: &str, args: &[&std::ffi::OsStr]) -> Output {
    Command::new("cmake")
        .args(args)
        .env_remove("PKG_CONFIG_PATH")
        .env_remove("PKG_CONFIG_SYSROOT_DIR")
        .env_remove("CMAKE_PREFIX_PATH")
        .output()
        .unwrap_or_else(|e| {
            panic!("{what}: cmake cannot start: {e} (scripts/install-deps.sh installs it)")
        })
}

/// The README's CMakeLists.txt: `find_package(workerpool 0.2 CONFIG
/// REQUIRED)` against the installed prefix, an executable on each target,
/// both run; the static one does not load libworkerpool.so. Then the
/// version file: a newer or another major version is refused.
fn cmake_builds_against(tmp: &Path, prefix: &Path, app_c: &Path) {
    let project = tmp.join("cmake_app");
    fs::create_dir_all(&project).unwrap();
    fs::copy(app_c, project.join("app.c")).unwrap();
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let cmakelists = readme
        .split("```cmake\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README.md shows a CMakeLists.txt in a ```cmake block");
    assert!(cmakelists.contains("find_package(workerpool 0.2 CONFIG REQUIRED)"));
    fs::write(project.join("CMakeLists.txt"), cmakelists).unwrap();
    let build = project.join("build");
    let prefix_path = format!("-DCMAKE_PREFIX_PATH={}", prefix.display());
    check(
        "cmake (configure)",
        cmake(
            "configure",
            &[
                "-S".as_ref(),
                project.as_os_str(),
                "-B".as_ref(),
                build.as_os_str(),
                prefix_path.as_ref(),
            ],
        ),
    );
    check(
        "cmake --build",
        cmake("build", &["--build".as_ref(), build.as_os_str()]),
    );
    for (exe, shared) in [("app", true), ("app_static", false)] {
        let binary = build.join(exe);
        assert_eq!(
            needs_libworkerpool(&binary),
            shared,
            "{exe}: linked against libworkerpool.so.{MAJOR} only when shared"
        );
        let out = run(
            &format!("cmake-built {exe}"),
            Command::new(&binary).env_remove("LD_LIBRARY_PATH"),
        );
        assert_eq!(out, expected_output(), "{exe}");
    }

    // workerpoolConfigVersion.cmake: what a request may ask for.
    let versions = tmp.join("cmake_versions");
    fs::create_dir_all(&versions).unwrap();
    let mut probe = String::from("cmake_minimum_required(VERSION 3.13)\nproject(versions C)\n");
    for (i, request) in ["0.2", "0.1", "0.2.0 EXACT", "0.3", "1.0"]
        .iter()
        .enumerate()
    {
        probe.push_str(&format!(
            "find_package(workerpool {request} CONFIG QUIET)\n\
             message(STATUS \"request {i}: found=${{workerpool_FOUND}}\")\n\
             unset(workerpool_FOUND)\nunset(workerpool_DIR CACHE)\n"
        ));
    }
    fs::write(versions.join("CMakeLists.txt"), probe).unwrap();
    let out = check(
        "cmake (version requests)",
        cmake(
            "versions",
            &[
                "-S".as_ref(),
                versions.as_os_str(),
                "-B".as_ref(),
                versions.join("build").as_os_str(),
                prefix_path.as_ref(),
            ],
        ),
    );
    for (i, found) in ["1", "1", "1", "0", "0"].iter().enumerate() {
        assert!(
            out.contains(&format!("request {i}: found={found}\n")),
            "version request {i}:\n{out}"
        );
    }
}

#[test]
fn destdir_stages_the_tree_and_uninstall_removes_it() {
    let tmp = TempDir::new("destdir");
    let destdir = tmp.0.join("stage");
    let destdir_arg = format!("DESTDIR={}", destdir.display());
    // INSTALL_BUILD= : install what target/dist holds, as `sudo make install` would.
    make(&[
        "install",
        "PREFIX=/opt/workerpool",
        &destdir_arg,
        "INSTALL_BUILD=",
    ]);
    let staged = destdir.join("opt/workerpool");
    check_layout(&staged);

    let pc_dir = staged.join("lib/pkgconfig");
    let pc = fs::read_to_string(pc_dir.join("workerpool.pc")).unwrap();
    assert!(
        pc.contains("\nprefix=/opt/workerpool\n"),
        "the .pc names PREFIX, not DESTDIR:\n{pc}"
    );
    assert!(pc.contains("\nlibdir=${prefix}/lib\n"), "{pc}");

    // Building against the staged tree: pkg-config's sysroot prefixes -I/-L.
    let src = tmp.0.join("app.c");
    fs::write(&src, C_APP).unwrap();
    let cflags_libs = pkg_config(&pc_dir, Some(&destdir), &["--cflags", "--libs"]);
    assert!(
        cflags_libs.contains(&format!("-L{}", staged.join("lib").display())),
        "{cflags_libs:?}"
    );
    let shared = tmp.0.join("app_shared");
    run(
        "cc (shared, DESTDIR)",
        Command::new("cc")
            .args(["-std=c99", "-pthread"])
            .arg(&src)
            .args(&cflags_libs)
            .arg("-o")
            .arg(&shared),
    );
    let out = run(
        "app_shared (DESTDIR)",
        Command::new(&shared).env("LD_LIBRARY_PATH", staged.join("lib")),
    );
    assert_eq!(out, expected_output());
    let stat = tmp.0.join("app_static");
    run(
        "cc (static, DESTDIR)",
        Command::new("cc")
            .args(["-std=c99", "-pthread"])
            .arg(&src)
            .args(pkg_config(&pc_dir, Some(&destdir), &["--cflags"]))
            .args(static_libs(&pc_dir, Some(&destdir)))
            .arg("-o")
            .arg(&stat),
    );
    assert_eq!(
        run("app_static (DESTDIR)", &mut Command::new(&stat)),
        expected_output()
    );

    make(&["uninstall", "PREFIX=/opt/workerpool", &destdir_arg]);
    let left = files_under(&destdir);
    assert!(left.is_empty(), "uninstall left files behind: {left:?}");
}
