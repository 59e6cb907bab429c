"""Tests of the ctypes bindings, on the installed package (scripts/test.sh;
python/README.md, "Tests", for running them in-tree).
"""

import gc
import os
import subprocess
import sys
import threading
import time
import pytest

import workerpool
from workerpool import (
    DeadlockError,
    FreedError,
    InvalidError,
    NoIdleWorkerError,
    Pool,
    PoolError,
    PoolTimeoutError,
    SpawnError,
    Stats,
)

DEADLINE = 30
# Where the package under test was imported from: child interpreters get it
# on PYTHONPATH, so that they import the same copy.
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(workerpool.__file__)))


@pytest.fixture(autouse=True)
def no_task_left_behind():
    yield
    gc.collect()
    assert workerpool._pending_tasks() == 0, "a task's callable was not released"


def test_version_and_library():
    assert workerpool.version() == "0.2.0"
    assert os.path.exists(workerpool.library_path) or "workerpool" in workerpool.library_path


def test_error_hierarchy():
    for cls, status in [
        (NoIdleWorkerError, 1),
        (FreedError, 2),
        (InvalidError, 3),
        (PoolTimeoutError, 4),
        (SpawnError, 5),
        (DeadlockError, 6),
    ]:
        assert issubclass(cls, PoolError)
        assert cls.status == status
        assert str(cls())  # pool_strerror's text
    assert issubclass(PoolTimeoutError, TimeoutError)


def test_schedule_runs_every_task_with_args():
    results = []
    lock = threading.Lock()

    def add(a, b):
        with lock:
            results.append(a + b)

    with Pool(capacity=4) as pool:
        for i in range(200):
            pool.schedule(add, i, 1)
        pool.wait()
        assert sorted(results) == [i + 1 for i in range(200)]
        stats = pool.stats
        assert isinstance(stats, Stats)
        assert stats.capacity == 4
        assert stats.submitted == 200 and stats.completed == 200 and stats.rejected == 0
        assert stats.busy == 0 and stats.queued == 0
    assert pool.closed


def test_lambdas_closures_and_bound_methods():
    class Counter:
        def __init__(self):
            self.n = 0
            self.lock = threading.Lock()

        def bump(self, by=1):
            with self.lock:
                self.n += by

    c = Counter()
    with Pool(capacity=2) as pool:
        pool.schedule(c.bump)
        pool.schedule(c.bump, 10)
        pool.schedule(lambda: c.bump(100))
    assert c.n == 111  # close() ran them all


def test_non_blocking_pool_refuses_when_full():
    gate = threading.Event()
    started = threading.Semaphore(0)

    def hold():
        started.release()
        gate.wait(DEADLINE)

    with Pool(capacity=2, block=False) as pool:
        pool.schedule(hold)
        pool.schedule(hold)
        assert started.acquire(timeout=DEADLINE) and started.acquire(timeout=DEADLINE)
        with pytest.raises(NoIdleWorkerError):
            pool.schedule(hold)
        with pytest.raises(NoIdleWorkerError):
            pool.try_schedule(hold)
        assert workerpool._pending_tasks() == 2  # the refused ones are gone
        gate.set()
        pool.wait()
        assert pool.stats.rejected == 2
        assert pool.stats.completed == 2


def test_queue_size_and_unbounded():
    gate = threading.Event()
    with Pool(capacity=1, block=False, queue_size=2) as pool:
        pool.schedule(gate.wait, DEADLINE)
        deadline = time.monotonic() + DEADLINE
        while pool.stats.busy != 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        pool.schedule(lambda: None)
        pool.schedule(lambda: None)
        with pytest.raises(NoIdleWorkerError):
            pool.schedule(lambda: None)
        assert pool.stats.queued == 2
        gate.set()
    with Pool(capacity=1, queue_size=workerpool.UNBOUNDED) as pool:
        for _ in range(100):
            pool.try_schedule(lambda: None)
        pool.wait()
        assert pool.stats.completed == 100


def test_schedule_timeout():
    gate = threading.Event()
    with Pool(capacity=1) as pool:
        pool.schedule(gate.wait, DEADLINE)
        t0 = time.monotonic()
        with pytest.raises(PoolTimeoutError):
            pool.schedule_timeout(0.05, lambda: None)
        with pytest.raises(TimeoutError):  # also a builtin TimeoutError
            pool.schedule_timeout(0, lambda: None)
        assert time.monotonic() - t0 < DEADLINE
        gate.set()
        pool.schedule_timeout(DEADLINE, lambda: None)


def test_exceptions_are_caught_and_reported():
    seen = []

    def boom(msg):
        raise ValueError(msg)

    with Pool(capacity=2, on_error=seen.append) as pool:
        pool.schedule(boom, "first")
        pool.schedule(boom, "second")
        ok = []
        for i in range(10):  # the workers survived
            pool.schedule(ok.append, i)
        pool.wait()
        assert sorted(str(e) for e in pool.errors) == ["first", "second"]
        assert sorted(str(e) for e in seen) == ["first", "second"]
        assert all(isinstance(e, ValueError) for e in pool.errors)
        assert sorted(ok) == list(range(10))
        assert pool.stats.completed == 12

    def bad_handler(exc):
        raise RuntimeError("handler failed")

    with Pool(capacity=1, on_error=bad_handler) as pool:
        pool.schedule(boom, "x")
        pool.wait()
        assert [type(e) for e in pool.errors] == [ValueError, RuntimeError]

    with Pool(capacity=1) as pool:
        pool.schedule(sys.exit, 3)  # even SystemExit stays in the worker
        pool.wait()
        assert isinstance(pool.errors[0], SystemExit)


def test_closed_pool_raises_freed():
    pool = Pool(capacity=1)
    pool.close()
    pool.close()  # idempotent
    assert pool.closed
    with pytest.raises(FreedError):
        pool.schedule(lambda: None)
    with pytest.raises(FreedError):
        pool.wait()
    with pytest.raises(FreedError):
        pool.set_capacity(3)
    assert pool.stats == Stats(0, 0, 0, 0, 0, 0, 0)


def test_wait_and_close_from_a_task_are_deadlocks():
    caught = {}
    with Pool(capacity=1) as pool:

        def task():
            for name, call in (("wait", pool.wait), ("close", pool.close)):
                try:
                    call()
                except DeadlockError as e:
                    caught[name] = e

        pool.schedule(task)
        pool.wait()
        assert set(caught) == {"wait", "close"}
        assert not pool.closed


def test_wait_takes_a_timeout_and_covers_accepted_tasks():
    # An earlier task and a later one that runs until the test lets it go:
    # wait() returns once the earlier one finished; wait(timeout) times
    # out while an earlier task still runs.
    first_may_end = threading.Event()
    later_may_end = threading.Event()
    done = []
    with Pool(capacity=2) as pool:
        pool.schedule(lambda: (first_may_end.wait(DEADLINE), done.append("first")))
        with pytest.raises(PoolTimeoutError):
            pool.wait(timeout=0)
        with pytest.raises(PoolTimeoutError):
            pool.wait(timeout=0.02)
        with pytest.raises(InvalidError):
            pool.wait(timeout=-1)
        first_may_end.set()
        pool.wait(timeout=DEADLINE)
        assert done == ["first"]
        pool.schedule(lambda: later_may_end.wait(DEADLINE))
        waiter_done = threading.Event()
        pool.schedule(lambda: done.append("second"))

        def waiter():
            pool.wait()
            waiter_done.set()

        t = threading.Thread(target=waiter)
        t.start()
        # The waiter's wait covers the long task: it must not return yet.
        assert not waiter_done.wait(0.05)
        later_may_end.set()
        t.join(DEADLINE)
        assert waiter_done.is_set()
        assert "second" in done


def test_nested_schedule_on_a_full_pool_runs_inline():
    out = []
    with Pool(capacity=1) as pool:
        pool.schedule(lambda: pool.schedule(out.append, "inner"))
        pool.wait()
    assert out == ["inner"]


def test_invalid_options():
    with pytest.raises(InvalidError):
        Pool(thread_name="")
    with pytest.raises(InvalidError):
        Pool(thread_name="a\0b")
    with pytest.raises(InvalidError):
        Pool(stack_size=1 << 41)
    with pytest.raises(InvalidError):
        Pool(queue_size=-1)
    with pytest.raises(TypeError):
        Pool(capacity=1).schedule(42)


def test_options_reach_the_pool():
    with Pool(capacity=3, prealloc=True) as pool:
        assert pool.stats.workers == 3
    with Pool() as pool:
        assert pool.stats.capacity == 100
    with Pool(capacity=20000) as pool:
        assert pool.stats.capacity == 10000
        pool.set_capacity(5)
        assert pool.stats.capacity == 5

    names = []

    def record():
        tid = threading.get_native_id()
        with open(f"/proc/self/task/{tid}/comm") as f:
            names.append(f.read().strip())

    with Pool(capacity=2, thread_name="pytest", stack_size=256 * 1024) as pool:
        for _ in range(4):
            pool.schedule(record)
    assert len(names) == 4 and all(n.startswith("pytest-") for n in names), names

    with Pool(capacity=2, idle_timeout_ms=20, prealloc=True) as pool:
        deadline = time.monotonic() + DEADLINE
        while pool.stats.workers and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.stats.workers == 0  # expired
        pool.schedule(lambda: None)  # and come back on demand
        pool.wait()


def test_sleeping_tasks_run_in_parallel():
    # time.sleep releases the GIL: four 0.3 s sleeps on four workers.
    with Pool(capacity=4) as pool:
        t0 = time.monotonic()
        for _ in range(4):
            pool.schedule(time.sleep, 0.3)
        pool.wait()
        elapsed = time.monotonic() - t0
    assert elapsed < 1.0, elapsed


def test_many_python_threads_schedule_and_close_races():
    for _ in range(5):
        pool = Pool(capacity=4, queue_size=8)
        count = []
        refused = []

        def producer():
            for i in range(100):
                try:
                    pool.schedule(count.append, i)
                except FreedError:
                    refused.append(i)

        threads = [threading.Thread(target=producer) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.001)
        pool.close()
        for t in threads:
            t.join(DEADLINE)
        assert len(count) + len(refused) == 400  # nothing lost
        assert pool.stats.submitted == 0  # closed


def test_unreferenced_pool_is_freed_from_its_own_task():
    # The last reference dies on a worker thread: __del__ must not deadlock.
    done = threading.Event()
    Pool(capacity=1).schedule(done.set)
    assert done.wait(DEADLINE)
    gc.collect()


def test_workerpool_lib_env_var_is_used(tmp_path):
    code = "import workerpool, sys; print(workerpool.library_path)"
    env = dict(os.environ, WORKERPOOL_LIB=str(tmp_path / "nonexistent.so"), PYTHONPATH=PYTHON_DIR)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "nonexistent.so" in proc.stderr
    env["WORKERPOOL_LIB"] = workerpool.library_path
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == workerpool.library_path


def test_unclosed_pool_finishes_its_tasks_at_exit(tmp_path):
    marker = tmp_path / "ran"
    code = (
        "import time, workerpool\n"
        "pool = workerpool.Pool(capacity=2)\n"
        f"pool.schedule(lambda: (time.sleep(0.2), open({str(marker)!r}, 'w').close()))\n"
    )
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=DEADLINE)
    assert proc.returncode == 0, proc.stderr
    assert marker.exists()
