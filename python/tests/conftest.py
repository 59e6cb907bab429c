"""Shared by the tests: the package from this checkout, and a check that
every task's callable was released (run or cancelled) after each test."""

import gc
import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parent.parent
if str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))

import workerpool  # noqa: E402


@pytest.fixture(autouse=True)
def no_task_left_behind():
    yield
    gc.collect()
    assert workerpool._pending_tasks() == 0, "a task's callable was not released"
