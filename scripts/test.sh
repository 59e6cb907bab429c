#!/usr/bin/env bash
# The whole test suite: Rust tests (which drive the C ABI, build and run the
# C examples, and check the header), then the C examples under valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo test --release
make -C c_examples valgrind
