#!/usr/bin/env bash
# The whole test suite: Rust tests (which drive the C ABI, build and run the
# C examples, check the header, install the library and run the C++/Go
# bindings), then the C and C++ examples under valgrind, then the Python tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo test --release
make -C c_examples valgrind

# The Python bindings (python/): pytest, installed with pip when missing.
if ! python3 -m pytest --version >/dev/null 2>&1; then
    python3 -m pip install --quiet pytest ||
        python3 -m pip install --quiet --user --break-system-packages pytest
fi
python3 -m pytest -q python/tests
