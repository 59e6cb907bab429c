//! Generates the C header with cbindgen.
//!
//! The header is always written to `$OUT_DIR/workerpool.h`; the test
//! `header_is_up_to_date` compares it with the committed
//! `include/workerpool.h`. The committed copy is rewritten only when
//! `WORKERPOOL_REGENERATE_HEADER=1`, so a stale header fails the test
//! instead of being silently refreshed.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=WORKERPOOL_REGENERATE_HEADER");

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
