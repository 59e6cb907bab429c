"""workerpool.Executor as a concurrent.futures.Executor.

The expectations of CPython's Lib/test/test_concurrent_futures that apply to
a thread executor (submit, map with timeout, shutdown with and without wait,
cancel_futures, exceptions through futures, as_completed, wait, initializers,
many executors at once), plus asyncio's run_in_executor. Nothing waits for
time to pass in place of a condition: tasks are held by Events and Barriers,
and every wait has a generous deadline.
"""

import asyncio
import concurrent.futures as cf
import ctypes
import gc
import logging
import os
import subprocess
import sys
import threading
import weakref
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION

import pytest

import workerpool
from workerpool import BrokenThreadPool, DeadlockError, Executor

DEADLINE = 30
# Where the package under test was imported from: child interpreters get it
# on PYTHONPATH, so that they import the same copy.
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(workerpool.__file__)))


def mul(x, y):
    return x * y


def capture(*args, **kwargs):
    return args, kwargs


class Held:
    """Tasks that block until released; ``started`` counts them in."""

    def __init__(self):
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)

    def __call__(self, value=None):
        self.started.release()
        assert self.gate.wait(DEADLINE), "never released"
        return value

    def wait_started(self, n=1):
        for _ in range(n):
            assert self.started.acquire(timeout=DEADLINE), "task did not start"


def run_python(code, timeout=DEADLINE):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)


# -- basics -------------------------------------------------------------------


def test_is_a_concurrent_futures_executor():
    with Executor(max_workers=2) as ex:
        assert isinstance(ex, cf.Executor)
        f = ex.submit(pow, 2, 8)
        assert isinstance(f, cf.Future)
        assert f.result(DEADLINE) == 256


def test_submit_keyword():
    with Executor(max_workers=2) as ex:
        assert ex.submit(mul, 2, y=8).result(DEADLINE) == 16
        # fn is positional-only: "fn" and "self" pass through as kwargs
        assert ex.submit(capture, 1, self=2, fn=3).result(DEADLINE) == ((1,), {"self": 2, "fn": 3})
        with pytest.raises(TypeError):
            ex.submit(fn=capture, arg=1)


def test_max_workers_and_default():
    for bad in (0, -1):
        with pytest.raises(ValueError):
            Executor(max_workers=bad)
    with pytest.raises(TypeError):
        Executor(initializer=42)
    with Executor() as ex:
        assert ex._pool.stats.capacity == min(32, (os.cpu_count() or 1) + 4)


def test_saturation():
    # 8 held tasks on 4 workers: 4 run, 4 wait in the queue; no 5th thread.
    held = Held()
    with Executor(max_workers=4) as ex:
        fs = [ex.submit(held, i) for i in range(8)]
        held.wait_started(4)
        s = ex._pool.stats
        assert (s.workers, s.busy, s.queued) == (4, 4, 4)
        held.gate.set()
        assert [f.result(DEADLINE) for f in fs] == list(range(8))


def test_thread_names():
    def name():
        return threading.current_thread().name

    with Executor(max_workers=3, thread_name_prefix="Special") as ex:
        names = {ex.submit(name).result(DEADLINE) for _ in range(5)}
    assert names and all(n.startswith("Special-") for n in names), names
    with Executor(max_workers=1) as ex:
        assert ex.submit(name).result(DEADLINE).startswith("Executor-")


# -- map ------------------------------------------------------------------------


def test_map():
    with Executor(max_workers=3) as ex:
        assert list(ex.map(pow, range(10), range(10))) == list(map(pow, range(10), range(10)))
        assert list(ex.map(pow, range(10), range(10), chunksize=3)) == list(map(pow, range(10), range(10)))
        assert list(ex.map(abs, [])) == []


def test_map_exception():
    with Executor(max_workers=2) as ex:
        it = ex.map(divmod, [1, 1, 1, 1], [2, 3, 0, 5])
        assert next(it) == (0, 1)
        assert next(it) == (0, 1)
        with pytest.raises(ZeroDivisionError):
            next(it)


def test_map_timeout():
    held = Held()

    def fn(x):
        return held(x) if x == "hold" else x

    with Executor(max_workers=2) as ex:
        results = []
        # 1 s: long enough for the two quick ones on a loaded machine
        with pytest.raises(cf.TimeoutError):  # the builtin TimeoutError from 3.11 on
            for r in ex.map(fn, [1, 2, "hold"], timeout=1.0):
                results.append(r)
        assert results == [1, 2]
        held.gate.set()


def test_map_submits_without_iteration():
    done = []
    lock = threading.Lock()

    def record(i):
        with lock:
            done.append(i)

    with Executor(max_workers=2) as ex:
        ex.map(record, range(10))  # never iterated
    assert sorted(done) == list(range(10))


# -- exceptions -------------------------------------------------------------------


def test_exceptions_through_futures():
    def boom(msg):
        raise ValueError(msg)

    with Executor(max_workers=2) as ex:
        f = ex.submit(boom, "bad")
        exc = f.exception(DEADLINE)
        assert isinstance(exc, ValueError) and str(exc) == "bad"
        with pytest.raises(ValueError, match="bad") as info:
            f.result()
        assert any(entry.name == "boom" for entry in info.traceback)
        # BaseExceptions too: they belong to the future, never to C.
        assert isinstance(ex.submit(sys.exit, 3).exception(DEADLINE), SystemExit)

        def interrupt():
            raise KeyboardInterrupt

        assert isinstance(ex.submit(interrupt).exception(DEADLINE), KeyboardInterrupt)
        # the workers lived on, and nothing was reported as a stray error
        assert ex.submit(mul, 6, 7).result(DEADLINE) == 42
        assert ex._pool.errors == []


def test_done_callbacks_run_and_their_errors_stay_in_python(caplog):
    seen = []
    with Executor(max_workers=1) as ex:
        f = ex.submit(mul, 2, 3)
        f.add_done_callback(lambda fut: seen.append(fut.result()))

        def bad_callback(_):
            raise RuntimeError("callback failed")

        g = ex.submit(mul, 3, 3)
        with caplog.at_level(logging.ERROR, logger="concurrent.futures"):
            g.add_done_callback(bad_callback)
            assert g.result(DEADLINE) == 9
            f.result(DEADLINE)
    assert seen == [6]
    assert ex._pool.errors == []


# -- shutdown -----------------------------------------------------------------


def test_run_after_shutdown():
    ex = Executor(max_workers=1)
    ex.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(pow, 2, 5)
    ex.shutdown()  # idempotent
    ex.shutdown(wait=False, cancel_futures=True)


def test_shutdown_waits_for_every_task():
    # CPython's test_hang_issue12364: shutdown returns after the queued tasks ran.
    ex = Executor(max_workers=2)
    fs = [ex.submit(sum, range(i * 1000)) for i in range(50)]
    ex.shutdown(wait=True)
    assert all(f.done() for f in fs)
    assert [f.result() for f in fs] == [sum(range(i * 1000)) for i in range(50)]
    assert ex._pool.closed


def test_context_manager_joins_the_threads():
    # Each worker keeps one Python thread state for its life: a thread-local
    # object made there is released when the thread ends (on_exit), which
    # pool_free waits for. So once shutdown returned, every one is gone.
    local = threading.local()
    gone = []

    class Marker:
        pass

    def init():
        local.marker = Marker()
        weakref.finalize(local.marker, gone.append, threading.get_native_id())

    def tid():
        assert isinstance(local.marker, Marker)  # set by this thread's initializer
        return threading.get_native_id()

    held = Held()
    with Executor(max_workers=3, initializer=init) as ex:
        fs = [ex.submit(held) for _ in range(3)]
        held.wait_started(3)  # three threads
        held.gate.set()
        tids = {ex.submit(tid).result(DEADLINE) for _ in range(6)}
        for f in fs:
            f.result(DEADLINE)
    assert len(gone) == 3 and tids <= set(gone)


def test_shutdown_no_wait():
    held = Held()
    ex = Executor(max_workers=2)
    fs = [ex.submit(held, i) for i in range(5)]
    held.wait_started(2)
    ex.shutdown(wait=False)  # returns while the tasks are held
    assert not any(f.done() for f in fs)
    with pytest.raises(RuntimeError):
        ex.submit(pow, 2, 2)
    held.gate.set()
    assert [f.result(DEADLINE) for f in fs] == list(range(5))  # queued ones still ran
    ex.shutdown(wait=True)  # and a later call waits for the rest, then frees
    assert ex._pool.closed


def test_cancel_futures():
    held = Held()
    ex = Executor(max_workers=1)
    first = ex.submit(held, "first")
    held.wait_started()
    queued = [ex.submit(pow, 2, i) for i in range(10)]
    # The running task is released by the last queued future's cancellation:
    # shutdown(wait=True) can only return if the futures are cancelled before
    # it waits for the running task.
    queued[-1].add_done_callback(lambda f: held.gate.set())
    ex.shutdown(wait=True, cancel_futures=True)
    assert first.result() == "first"
    assert all(f.cancelled() for f in queued)
    with pytest.raises(cf.CancelledError):
        queued[0].result()
    assert ex._pool.closed


def test_cancel_futures_wait_false():
    held = Held()
    ex = Executor(max_workers=2)
    running = [ex.submit(held, i) for i in range(2)]
    held.wait_started(2)
    queued = [ex.submit(held, i) for i in range(2, 10)]
    ex.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in queued)  # at once, before anything ran
    assert not any(f.done() for f in running)
    assert ex._pool.stats.cancelled == 8
    held.gate.set()
    assert [f.result(DEADLINE) for f in running] == [0, 1]
    ex.shutdown()


def test_cancel_after_a_draining_shutdown():
    held = Held()
    ex = Executor(max_workers=1)
    first = ex.submit(held)
    held.wait_started()
    queued = [ex.submit(pow, 3, i) for i in range(4)]
    ex.shutdown(wait=False)  # drain...
    ex.shutdown(wait=False, cancel_futures=True)  # ...then cancel what is left
    assert all(f.cancelled() for f in queued)
    held.gate.set()
    first.result(DEADLINE)
    ex.shutdown()


def test_a_cancelled_future_is_not_run():
    held = Held()
    ran = []
    with Executor(max_workers=1) as ex:
        first = ex.submit(held)
        held.wait_started()
        f = ex.submit(ran.append, "should not run")
        assert f.cancel() and f.cancelled()
        g = ex.submit(ran.append, "runs")
        held.gate.set()
        g.result(DEADLINE)
        first.result(DEADLINE)
    assert ran == ["runs"]


def test_shutdown_from_own_task():
    held = Held()
    ex = Executor(max_workers=2)

    def stop(wait):
        try:
            ex.shutdown(wait=wait)
        except DeadlockError:
            return "deadlock"
        return "ok"

    assert ex.submit(stop, True).result(DEADLINE) == "deadlock"  # would wait for itself
    with pytest.raises(RuntimeError):  # but it did begin the shutdown
        ex.submit(pow, 1, 1)
    ex.shutdown()  # waits for the helper thread's close
    assert ex._pool.closed

    ex = Executor(max_workers=2)
    tail = ex.submit(held)
    assert ex.submit(stop, False).result(DEADLINE) == "ok"
    held.gate.set()
    tail.result(DEADLINE)
    ex.shutdown()
    assert ex._pool.closed


def test_shutdown_holding_the_gil_does_not_deadlock():
    # The library is loaded with CDLL, which releases the GIL around each
    # call (PyDLL would keep it, and pool_free would wait for workers that
    # need it).
    assert isinstance(workerpool._lib, ctypes.CDLL)
    assert not isinstance(workerpool._lib, ctypes.PyDLL)
    # Tasks that need the GIL after shutdown began, while the main thread
    # sits in shutdown(wait=True); in a child, so that a deadlock fails the
    # test instead of hanging the suite.
    code = (
        "import threading, workerpool\n"
        "gate = threading.Event()\n"
        "def work(i):\n"
        "    gate.wait(30)\n"
        "    return sum(range(20000)) + i\n"
        "ex = workerpool.Executor(max_workers=4)\n"
        "fs = [ex.submit(work, i) for i in range(40)]\n"
        "gate.set()\n"
        "ex.shutdown(wait=True)\n"
        "assert all(f.done() for f in fs)\n"
        "print('ok', sum(f.result() for f in fs))\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == "ok"


def test_interpreter_exit_runs_pending_tasks():
    # CPython's test_interpreter_shutdown: no shutdown call; the task still
    # runs (the pools are closed at exit, while Python can run callbacks).
    code = (
        "import threading, workerpool\n"
        "gate = threading.Event()\n"
        "def sleep_and_print(t, msg):\n"
        "    gate.wait(t)\n"
        "    print(msg)\n"
        "ex = workerpool.Executor(max_workers=2)\n"
        "ex.submit(sleep_and_print, 0.2, 'apple')\n"
        "ex.submit(gate.set)\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "apple"
    # shutdown(wait=False, cancel_futures=True) and then exit: clean. The
    # one worker is inside the gate task before the others are submitted:
    # else it may still be starting, the cancel takes the gate task, and
    # the worker takes some of the rest as the cancel pops the queue (each
    # task leaves the queue once, to one of them), and those run.
    code = (
        "import threading, workerpool\n"
        "gate, started = threading.Event(), threading.Event()\n"
        "def block():\n"
        "    started.set()\n"
        "    gate.wait(30)\n"
        "ex = workerpool.Executor(max_workers=1)\n"
        "ex.submit(block)\n"
        "assert started.wait(30)\n"
        "fs = [ex.submit(print, 'no') for _ in range(5)]\n"
        "ex.shutdown(wait=False, cancel_futures=True)\n"
        "assert all(f.cancelled() for f in fs)\n"
        "gate.set()\n"
        "print('done')\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"


def test_unreferenced_executor_is_freed():
    # CPython's test_del_shutdown: no shutdown call, the executor dropped.
    local = threading.local()
    gone = threading.Semaphore(0)

    class Marker:
        pass

    def init():
        local.marker = Marker()
        weakref.finalize(local.marker, gone.release)

    ex = Executor(max_workers=2, initializer=init)
    pool_ref = weakref.ref(ex._pool)
    fs = [ex.submit(mul, i, i) for i in range(10)]
    assert [f.result(DEADLINE) for f in fs] == [i * i for i in range(10)]
    workers = ex._pool.stats.workers
    del ex
    gc.collect()
    for _ in range(workers):  # each worker ended (its thread state released)
        assert gone.acquire(timeout=DEADLINE)
    gc.collect()
    assert pool_ref() is None


def test_no_stale_references():
    # The executor keeps nothing of a finished task.
    class MyObject:
        def method(self):
            return 7

    collected = threading.Event()
    obj = MyObject()
    ref = weakref.ref(obj, lambda _: collected.set())
    with Executor(max_workers=1) as ex:
        assert ex.submit(obj.method).result(DEADLINE) == 7
        del obj
        gc.collect()
        assert collected.wait(DEADLINE)
        assert ref() is None


# -- initializer ----------------------------------------------------------------


def test_initializer():
    state = threading.local()
    inits = []
    lock = threading.Lock()

    def init(a, b):
        state.value = a + b
        with lock:
            inits.append(threading.get_native_id())

    def get():
        return state.value, threading.get_native_id()

    with Executor(max_workers=3, initializer=init, initargs=(40, 2)) as ex:
        results = [ex.submit(get).result(DEADLINE) for _ in range(10)]
    assert {v for v, _ in results} == {42}
    assert {t for _, t in results} <= set(inits)


def test_failing_initializer(caplog):
    def init_fail():
        raise ValueError("error in initializer")

    with caplog.at_level(logging.CRITICAL, logger="concurrent.futures"):
        ex = Executor(max_workers=2, initializer=init_fail)
        f = ex.submit(pow, 2, 2)
        with pytest.raises(BrokenThreadPool):
            f.result(DEADLINE)
        with pytest.raises(BrokenThreadPool):  # broken from now on
            ex.submit(pow, 2, 2)
        ex.shutdown()
    assert "Exception in initializer:" in caplog.text
    assert "error in initializer" in caplog.text


# -- as_completed and wait ------------------------------------------------------


def test_as_completed():
    held = Held()
    with Executor(max_workers=4) as ex:
        fs = {ex.submit(mul, i, 2) for i in range(5)}
        assert {f.result() for f in cf.as_completed(fs, timeout=DEADLINE)} == {0, 2, 4, 6, 8}
        # zero timeout: the done ones are yielded, then TimeoutError
        done = [ex.submit(abs, -1) for _ in range(2)]
        for f in done:
            f.result(DEADLINE)
        pending = ex.submit(held)
        yielded = set()
        with pytest.raises(cf.TimeoutError, match="1 \\(of 3\\) futures unfinished"):
            for f in cf.as_completed(done + [pending], timeout=0):
                yielded.add(f)
        assert yielded == set(done)
        # duplicates are yielded once
        dup = ex.submit(abs, -3)
        assert len(list(cf.as_completed([dup, dup], timeout=DEADLINE))) == 1
        held.gate.set()
        assert pending.result(DEADLINE) is None


def test_wait_first_completed():
    held = Held()
    with Executor(max_workers=2) as ex:
        quick = ex.submit(mul, 21, 2)
        slow = ex.submit(held)
        done, not_done = cf.wait([quick, slow], timeout=DEADLINE, return_when=FIRST_COMPLETED)
        assert done == {quick} and not_done == {slow}
        held.gate.set()
        done, not_done = cf.wait([quick, slow], timeout=DEADLINE, return_when=ALL_COMPLETED)
        assert done == {quick, slow} and not not_done


def test_wait_first_exception():
    held = Held()

    def fail():
        raise OSError("failed")

    with Executor(max_workers=3) as ex:
        ok = ex.submit(mul, 2, 2)
        ok.result(DEADLINE)
        bad = ex.submit(fail)
        slow = ex.submit(held)
        done, not_done = cf.wait([ok, bad, slow], timeout=DEADLINE, return_when=FIRST_EXCEPTION)
        assert done == {ok, bad} and not_done == {slow}
        held.gate.set()


def test_wait_timeout_and_all_completed():
    held = Held()
    with Executor(max_workers=2) as ex:
        fs = [ex.submit(mul, i, 3) for i in range(5)]
        for f in fs:
            f.result(DEADLINE)
        slow = ex.submit(held)
        done, not_done = cf.wait(fs + [slow], timeout=0.1)
        assert set(fs) <= done and not_done == {slow}
        held.gate.set()
        done, not_done = cf.wait(fs + [slow], return_when=ALL_COMPLETED)
        assert done == set(fs + [slow]) and not not_done


# -- many executors, nesting ------------------------------------------------------


def test_many_executors_at_once():
    executors = [Executor(max_workers=2, thread_name_prefix=f"many{i}") for i in range(8)]
    start = threading.Barrier(len(executors))
    results = {}

    def drive(i, ex):
        start.wait(DEADLINE)
        fs = [ex.submit(mul, i, j) for j in range(50)]
        # and across executors: a task of one waits for a task of the next
        nxt = executors[(i + 1) % len(executors)]
        cross = ex.submit(lambda: nxt.submit(mul, i, 1000).result(DEADLINE))
        results[i] = ([f.result(DEADLINE) for f in fs], cross.result(DEADLINE))

    threads = [threading.Thread(target=drive, args=(i, ex)) for i, ex in enumerate(executors)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    for ex in executors:
        ex.shutdown()
    assert sorted(results) == list(range(8))
    for i, (values, cross) in results.items():
        assert values == [i * j for j in range(50)] and cross == i * 1000


def test_bounded_queue_submit_waits_for_room():
    held = Held()
    with Executor(max_workers=1, queue_size=1) as ex:
        first = ex.submit(held, 1)
        held.wait_started()
        second = ex.submit(held, 2)  # fills the queue
        submitted = threading.Event()
        third = []

        def submitter():
            third.append(ex.submit(held, 3))
            submitted.set()

        t = threading.Thread(target=submitter)
        t.start()
        assert not submitted.wait(0.1)  # waits for room
        held.gate.set()
        t.join(DEADLINE)
        assert [f.result(DEADLINE) for f in (first, second, third[0])] == [1, 2, 3]


# -- asyncio ------------------------------------------------------------------


def test_run_in_executor():
    held = Held()

    async def main(ex):
        loop = asyncio.get_running_loop()
        squares = await asyncio.gather(*(loop.run_in_executor(ex, pow, i, 2) for i in range(20)))
        with pytest.raises(ZeroDivisionError):
            await loop.run_in_executor(ex, divmod, 1, 0)
        # the loop stays responsive while a task is held, and releases it
        blocked = loop.run_in_executor(ex, held, "released")
        await loop.run_in_executor(None, held.wait_started)
        assert not blocked.done()
        loop.call_soon(held.gate.set)
        released = await asyncio.wait_for(blocked, DEADLINE)
        # a wrapped submit() future
        wrapped = await asyncio.wrap_future(ex.submit(mul, 6, 7))
        return squares, released, wrapped

    with Executor(max_workers=3) as ex:
        squares, released, wrapped = asyncio.run(main(ex))
    assert squares == [i * i for i in range(20)]
    assert released == "released" and wrapped == 42


def test_run_in_executor_cancel():
    held = Held()

    async def main(ex):
        loop = asyncio.get_running_loop()
        running = loop.run_in_executor(ex, held, 1)
        await loop.run_in_executor(None, held.wait_started)
        queued = loop.run_in_executor(ex, pow, 2, 2)
        queued.cancel()  # cancels the concurrent future: it never runs
        with pytest.raises(asyncio.CancelledError):
            await queued
        held.gate.set()
        return await running

    with Executor(max_workers=1) as ex:
        assert asyncio.run(main(ex)) == 1
