//! Generates the C header with cbindgen.
//!
//! The header is always written to `$OUT_DIR/workerpool.h`; the test
//! `header_is_up_to_date` compares it with the committed
//! `include/workerpool.h`. The committed copy is rewritten only when
//! `WORKERPOOL_REGENERATE_HEADER=1`, so a stale header fails the test
//! instead of being silently refreshed.

use std::env;
use std::path::PathBuf;

/// Gives the shared library the SONAME `libworkerpool.so.MAJOR`, as an
/// installed C library has. A program linked against `target/<profile>/`
/// then asks for that name at run time, so the name is also made there, as
/// a link to the `libworkerpool.so` cargo writes (dangling until the first
/// link finishes); `make install` installs the real versioned file.
fn link_with_soname() {
    let soname = format!("libworkerpool.so.{}", env!("CARGO_PKG_VERSION_MAJOR"));
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    // OUT_DIR is <target>/<profile>/build/<package>-<hash>/out.
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    if let Some(profile_dir) = out.ancestors().nth(3) {
        let link = profile_dir.join(&soname);
        if std::fs::read_link(&link).is_err() {
            let _ = std::fs::remove_file(&link);
            #[cfg(unix)]
            let _ = std::os::unix::fs::symlink("libworkerpool.so", &link);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=WORKERPOOL_REGENERATE_HEADER");
    link_with_soname();

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("set by cargo");
    config.after_includes = Some(format!(
        "\n/* The version of this header; pool_version() gives the library's. */\n\
         #define WORKERPOOL_VERSION_MAJOR {}\n\
         #define WORKERPOOL_VERSION_MINOR {}\n\
         #define WORKERPOOL_VERSION_PATCH {}\n",
        version("MAJOR"),
        version("MINOR"),
        version("PATCH")
    ));

    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header");

    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo")).join("workerpool.h");
    bindings.write_to_file(&out);
    if env::var("WORKERPOOL_REGENERATE_HEADER").as_deref() == Ok("1") {
        bindings.write_to_file(crate_dir.join("include/workerpool.h"));
    }
}
