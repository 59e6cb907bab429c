//! The committed C header: up to date, compiling as C99 and C++11, taking
//! no names beyond API.md's, and agreeing with the library on the version.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn committed_header() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include/workerpool.h")
}

#[test]
fn header_is_up_to_date() {
    let generated = Path::new(env!("OUT_DIR")).join("workerpool.h");
    let generated = std::fs::read_to_string(&generated).expect("build.rs writes the header");
    let committed = std::fs::read_to_string(committed_header()).expect("header is committed");
    assert!(
        generated == committed,
        "include/workerpool.h differs from what cbindgen generates now; \
         run `make -C c_examples header` (WORKERPOOL_REGENERATE_HEADER=1 cargo build) \
         and commit the result"
    );
}

fn macro_value(header: &str, name: &str) -> u32 {
    header
        .lines()
        .find_map(|line| line.strip_prefix(&format!("#define {name} ")))
        .unwrap_or_else(|| panic!("{name} missing from the header"))
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}

#[test]
fn versions_agree_in_header_library_and_cargo() {
    let header = std::fs::read_to_string(committed_header()).unwrap();
    let (major, minor, patch) = (
        macro_value(&header, "WORKERPOOL_VERSION_MAJOR"),
        macro_value(&header, "WORKERPOOL_VERSION_MINOR"),
        macro_value(&header, "WORKERPOOL_VERSION_PATCH"),
    );
    // SAFETY: pool_version returns a static NUL-terminated string.
    let library = unsafe { CStr::from_ptr(workerpool::ffi::pool_version()) }
        .to_str()
        .unwrap();
    let macros = format!("{major}.{minor}.{patch}");
    assert_eq!(macros, library, "header macros vs pool_version()");
    assert_eq!(
        library,
        env!("CARGO_PKG_VERSION"),
        "pool_version() vs Cargo.toml"
    );
    // Each part on its own, so a swapped pair of macros cannot pass.
    let cargo: Vec<u32> = env!("CARGO_PKG_VERSION")
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(vec![major, minor, patch], cargo);
}

fn compiles(compiler: &str, args: &[&str], source: &str) {
    let dir = std::env::temp_dir().join(format!("workerpool-header-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ext = if compiler == "g++" { "cpp" } else { "c" };
    let file = dir.join(format!("check_{compiler}.{ext}"));
    std::fs::write(&file, source).unwrap();
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let output = Command::new(compiler)
        .args(args)
        .arg("-I")
        .arg(&include)
        .arg("-fsyntax-only")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(
        output.status.success(),
        "{compiler} {args:?} rejects the header:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const USES_EVERY_NAME: &str = r#"
#include "workerpool.h"
#include "workerpool.h" /* the include guard makes a second include harmless */
static void task(void *arg) { (void)arg; }
static void hook(void *ctx) { (void)ctx; }
static void range(void *ctx, size_t begin, size_t end) { (void)ctx; (void)begin; (void)end; }
int main(void) {
    pool_options_t *opts = pool_options_new();
    pool_status st = pool_options_set_block(opts, true);
    st = pool_options_set_prealloc(opts, false);
    st = pool_options_set_queue_size(opts, SIZE_MAX);
    st = pool_options_set_idle_timeout_ms(opts, 0);
    st = pool_options_set_stack_size(opts, 0);
    st = pool_options_set_thread_name(opts, "x");
    st = pool_options_set_thread_hooks(opts, hook, hook, NULL);
    pool_t *pool = pool_new(4, opts);
    pool_task_fn fn = task;
    st = pool_schedule(pool, fn, NULL);
    st = pool_try_schedule(pool, fn, NULL);
    st = pool_schedule_timeout(pool, fn, NULL, 10);
    st = pool_wait(pool);
    st = pool_wait_timeout(pool, UINT64_MAX);
    st = pool_set_capacity(pool, 8);
    pool_range_fn body = range;
    st = pool_parallel_for(pool, 0, 100, 0, body, NULL);
    pool_stats stats;
    pool_get_stats(pool, &stats);
    st = pool_free(pool);
    pool_options_free(opts);
    (void)pool_strerror(st);
    (void)pool_version();
    return WORKERPOOL_VERSION_MAJOR + WORKERPOOL_VERSION_MINOR + WORKERPOOL_VERSION_PATCH
        + (int)POOL_OK + (int)POOL_ERR_NO_IDLE_WORKER + (int)POOL_ERR_FREED
        + (int)POOL_ERR_INVALID + (int)POOL_ERR_TIMEOUT + (int)POOL_ERR_SPAWN
        + (int)POOL_ERR_DEADLOCK + (int)stats.capacity;
}
"#;

#[test]
fn header_compiles_as_strict_c99() {
    compiles(
        "gcc",
        &["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"],
        USES_EVERY_NAME,
    );
}

#[test]
fn header_compiles_as_strict_cxx11() {
    compiles(
        "g++",
        &["-std=c++11", "-Wall", "-Wextra", "-Werror"],
        USES_EVERY_NAME,
    );
}

/// API.md declares `typedef struct pool pool_t;` and the same for options:
/// the tags exist, but `pool` and `pool_options` are not typedef names, so
/// a program may name its own variables so (the most natural name for a
/// global pool).
const NAMES_LEFT_TO_THE_PROGRAM: &str = r#"
#include "workerpool.h"
static pool_t *pool;
static pool_options_t *pool_options;
static struct pool *pool_by_tag(void) { return pool; }
static struct pool_options *options_by_tag(void) { return pool_options; }
int main(void) {
    pool_options = pool_options_new();
    pool = pool_new(2, pool_options);
    return pool_by_tag() != pool || options_by_tag() != pool_options;
}
"#;

#[test]
fn header_leaves_pool_and_pool_options_to_the_program() {
    compiles(
        "gcc",
        &["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"],
        NAMES_LEFT_TO_THE_PROGRAM,
    );
    compiles(
        "g++",
        &["-std=c++11", "-Wall", "-Wextra", "-Werror"],
        NAMES_LEFT_TO_THE_PROGRAM,
    );
}
