#!/usr/bin/env bash
# The whole test suite: Rust tests (which drive the C ABI, build and run the
# C examples, check the header, install the library and run the C++/Go
# bindings, and fuzz the ABI), the fault-injection tests, then the C and C++
# examples under valgrind and under ASan + UBSan, then the Python tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo test --release
# The core tests again in a debug build, where overflow checks and the
# debug_asserts on the packed counts (src/counts.rs) are on.
cargo test --lib --test ffi_schedule --test ffi_lifecycle --test ffi_stress --test ffi_tuning --test rust_api
# Fault injection (feature fault-injection): thread starts failing at random,
# a refused stack, free racing with running tasks and blocked schedulers;
# guard pages by mprotect, as where the kernel refuses guard markers; and the
# lifecycle's races and the exact wait, each made to happen every time.
cargo test --release --features fault-injection --test faults --test stack_guard --test races
make -C c_examples valgrind
# No heap allocation per C task: valgrind's count does not grow with the
# number of tasks (hand-off mode and a bounded queue).
make -C c_examples alloc-check
# The C examples (c_examples/stress.c included) under ASan + UBSan, built in
# c_examples/build-asan/.
make -C c_examples asan

# The Python bindings (python/): pytest and mypy, installed with pip when
# missing; the package must pass mypy --strict.
if ! python3 -m pytest --version >/dev/null 2>&1; then
    python3 -m pip install --quiet pytest ||
        python3 -m pip install --quiet --user --break-system-packages pytest
fi
if ! python3 -m mypy --version >/dev/null 2>&1; then
    python3 -m pip install --quiet mypy ||
        python3 -m pip install --quiet --user --break-system-packages mypy
fi
python3 -m mypy --strict python/workerpool
python3 -m pytest -q python/tests
