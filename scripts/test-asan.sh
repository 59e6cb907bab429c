#!/usr/bin/env bash
# The Rust tests that drive the library (C ABI and Rust API, fault injection,
# the ABI property test) and a short stress run, built with AddressSanitizer
# (nightly: -Zsanitizer=address; the standard library stays uninstrumented,
# no rust-src needed). Any invalid access (use after free, overflow, double
# free) in the library aborts the test with a report. Leak detection is off
# here: the tests leak the state their tasks point at on purpose
# (tests/common/mod.rs); leaks are checked by valgrind and by
# `make -C c_examples asan`, whose programs free everything.
#
# Needs the nightly toolchain (`rustup toolchain install nightly`); without
# it this script says so and exits 0. Builds into target/asan/.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "test-asan: SKIPPED (no nightly toolchain: rustup toolchain install nightly)"
    exit 0
fi
target=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Zsanitizer=address"
export RUSTDOCFLAGS="-Zsanitizer=address"
export ASAN_OPTIONS="detect_leaks=0"
export CARGO_TARGET_DIR=target/asan
# cargo +nightly SUBCOMMAND --target HOST --release ARGS... (--target keeps
# RUSTFLAGS off build scripts and proc macros).
asan() { cargo +nightly "$1" --target "$target" --release "${@:2}"; }

asan test --lib --test ffi_schedule --test ffi_lifecycle --test ffi_stress \
    --test ffi_bad_input --test ffi_tuning --test ffi_many_workers --test rust_api \
    --test fuzz_abi --test ffi_parallel_for
asan run --example stress -- --seconds "${ASAN_STRESS_SECONDS:-20}"
asan test --features fault-injection --test faults
echo "test-asan: OK"
