"""Shared by the tests: which package they test, and a check that every
task's callable was released (run or cancelled) after each test.

The tests import ``workerpool`` as installed (``scripts/test.sh`` installs
the wheel into a fresh virtual environment and runs them from outside the
checkout). For in-tree development, ``WORKERPOOL_TEST_INTREE=1`` puts this
checkout's ``python/`` first on ``sys.path`` instead, which then loads
``target/release/libworkerpool.so`` (``cargo build --release``)."""

import gc
import os
import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parent.parent
if os.environ.get("WORKERPOOL_TEST_INTREE") == "1" and str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))

try:
    import workerpool  # noqa: E402
except ImportError as e:  # pragma: no cover - a set-up error, reported as such
    raise pytest.UsageError(
        f"cannot import workerpool ({e}): install it (pip install ./python), "
        "or set WORKERPOOL_TEST_INTREE=1 to test this checkout's python/ "
        "against target/release (cargo build --release)"
    ) from e


@pytest.fixture(autouse=True)
def no_task_left_behind():
    yield
    gc.collect()
    assert workerpool._pending_tasks() == 0, "a task's callable was not released"
