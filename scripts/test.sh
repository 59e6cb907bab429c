#!/usr/bin/env bash
# The whole test suite: Rust tests (which drive the C ABI, build and run the
# C examples, check the header, install the library and run the C++/Go
# bindings, and fuzz the ABI), the fault-injection tests, then the C and C++
# examples under valgrind and under ASan + UBSan, then the Python package:
# built as a wheel (and by pip install ./python), installed into fresh
# virtual environments and tested there.
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

# The Python package (python/), as users install it and from no checkout:
# `pip wheel ./python` builds the Rust library (setuptools-rust, in
# target/wheel: its own target directory, so that target/release stays
# fresh) and ships it in the wheel. The wheel goes into a fresh venv with
# pytest and mypy: every Python test runs there, from outside the checkout,
# without WORKERPOOL_LIB, and must find the venv's copy loading its own
# libworkerpool.so (WORKERPOOL_TEST_VENV: tests/test_packaging.py); mypy
# --strict checks the package. Then `pip install ./python`, the READMEs'
# line, into another fresh venv (cargo finds target/wheel up to date), and
# the packaging tests (the READMEs' programs among them) run there.
root=$PWD
py_tmp=$(mktemp -d)
trap 'rm -rf "$py_tmp"' EXIT
unset WORKERPOOL_LIB
python3 -m venv "$py_tmp/wheel-venv"
echo "python: pip wheel ./python (cargo build in target/wheel)"
"$py_tmp/wheel-venv/bin/python" -m pip wheel --quiet --no-deps -w "$py_tmp/dist" ./python
"$py_tmp/wheel-venv/bin/python" -m pip install --quiet "$py_tmp"/dist/workerpool-*.whl pytest mypy
(cd "$py_tmp" && WORKERPOOL_TEST_VENV="$py_tmp/wheel-venv" wheel-venv/bin/python -m pytest -q "$root/python/tests")
"$py_tmp/wheel-venv/bin/python" -m mypy --strict python/workerpool
python3 -m venv "$py_tmp/pip-venv"
echo "python: pip install ./python"
"$py_tmp/pip-venv/bin/python" -m pip install --quiet ./python pytest
(cd "$py_tmp" && WORKERPOOL_TEST_VENV="$py_tmp/pip-venv" pip-venv/bin/python -m pytest -q "$root/python/tests/test_packaging.py")
