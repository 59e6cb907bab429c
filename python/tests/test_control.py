"""Pool control (pause, resume, cancel_queued), task groups (wait with a
timeout, fileno with select and asyncio's add_reader), the thread hooks and
the 0.2 stats. Tasks are held by Events; nothing sleeps in place of a
condition; every wait has a generous deadline."""

import asyncio
import os
import select
import subprocess
import sys
import threading
from concurrent.futures import CancelledError

import pytest

import workerpool
from workerpool import (
    UNBOUNDED,
    DeadlockError,
    ForkedError,
    FreedError,
    Group,
    GroupStats,
    NoIdleWorkerError,
    Pool,
    PoolError,
    PoolTimeoutError,
    Stats,
)

DEADLINE = 30
# Where the package under test was imported from: child interpreters get it
# on PYTHONPATH, so that they import the same copy.
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(workerpool.__file__)))


class Held:
    def __init__(self):
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)

    def __call__(self, *_):
        self.started.release()
        assert self.gate.wait(DEADLINE), "never released"

    def wait_started(self, n=1):
        for _ in range(n):
            assert self.started.acquire(timeout=DEADLINE), "task did not start"


def readable(fd, timeout):
    r, _, _ = select.select([fd], [], [], timeout)
    return bool(r)


# -- pause / resume / cancel_queued -------------------------------------------


def test_pause_holds_queued_tasks_until_resume():
    ran = []
    with Pool(capacity=1, queue_size=UNBOUNDED) as pool:
        pool.pause()
        pool.pause()  # twice is once
        for i in range(5):
            pool.schedule(ran.append, i)
        s = pool.stats
        assert s.paused and s.queued == 5 and s.busy == 0
        assert ran == []
        with pytest.raises(PoolTimeoutError):  # wait waits while paused
            pool.wait(timeout=0.05)
        pool.resume()
        pool.wait(timeout=DEADLINE)
        assert ran == [0, 1, 2, 3, 4]  # in order: a serial queue
        assert not pool.stats.paused


def test_paused_hand_off_pool_is_full():
    with Pool(capacity=2, block=False) as pool:
        pool.pause()
        with pytest.raises(NoIdleWorkerError):
            pool.schedule(lambda: None)
        with pytest.raises(PoolTimeoutError):
            pool.schedule_timeout(0.05, lambda: None)
        pool.resume()
        pool.schedule(lambda: None)
        pool.wait(timeout=DEADLINE)


def test_running_task_finishes_while_paused():
    held = Held()
    after = []
    with Pool(capacity=1, queue_size=UNBOUNDED) as pool:
        pool.schedule(held)
        held.wait_started()
        pool.pause()
        pool.schedule(after.append, "queued")
        held.gate.set()  # the running one ends; the queued one waits
        deadline_hit = False
        try:
            pool.wait(timeout=0.1)
        except PoolTimeoutError:
            deadline_hit = True
        assert deadline_hit and after == []
        assert pool.stats.queued == 1
    assert after == ["queued"]  # close() resumes a paused pool and drains it


def test_cancel_queued():
    held = Held()
    ran = []
    with Pool(capacity=1, queue_size=UNBOUNDED) as pool:
        pool.schedule(held)
        held.wait_started()
        for i in range(10):
            pool.schedule(ran.append, i)
        assert workerpool._pending_tasks() == 11
        assert pool.cancel_queued() == 10
        assert workerpool._pending_tasks() == 1  # their callables are released
        assert pool.cancel_queued() == 0
        held.gate.set()
        pool.wait(timeout=DEADLINE)
        s = pool.stats
        assert s.cancelled == 10 and s.completed == 1
    assert ran == []
    with Pool(capacity=2) as pool:  # hand-off: nothing is ever queued
        assert pool.cancel_queued() == 0


def test_cancel_queued_while_paused_cancels_group_futures():
    with Pool(capacity=2, queue_size=UNBOUNDED) as pool, pool.group() as group:
        pool.pause()
        futures = [group.submit(pow, 2, i) for i in range(4)]
        group.schedule(print, "never")
        assert pool.cancel_queued() == 5
        assert all(f.cancelled() for f in futures)
        with pytest.raises(CancelledError):
            futures[0].result()
        assert group.stats == GroupStats(submitted=5, completed=0, cancelled=5, pending=0)
        group.wait(timeout=0)  # cancelled tasks are not pending
        pool.resume()


def test_closed_pool_refuses_control():
    pool = Pool(capacity=1)
    pool.close()
    for call in (pool.pause, pool.resume, pool.cancel_queued, pool.group):
        with pytest.raises(FreedError):
            call()


def test_stats_fields():
    with Pool(capacity=2) as pool:
        s = pool.stats
        assert s.cancelled == 0 and s.paused is False
    assert Stats(0, 0, 0, 0, 0, 0, 0) == Stats(0, 0, 0, 0, 0, 0, 0, 0, False)


# -- groups -------------------------------------------------------------------


def test_group_wait_with_timeout():
    held = Held()
    other = Held()
    with Pool(capacity=4) as pool:
        pool.schedule(other)  # not in the group: its wait never covers it
        group = pool.group()
        assert isinstance(group, Group) and group.pool is pool
        for _ in range(2):
            group.schedule(held)
        held.wait_started(2)
        with pytest.raises(PoolTimeoutError):
            group.wait(timeout=0)
        with pytest.raises(TimeoutError):  # PoolTimeoutError is a TimeoutError
            group.wait(timeout=0.05)
        assert group.stats.pending == 2
        held.gate.set()
        group.wait(timeout=DEADLINE)
        group.wait()
        assert group.stats == GroupStats(submitted=2, completed=2, cancelled=0, pending=0)
        other.wait_started()
        with pytest.raises(PoolTimeoutError):  # the pool still has the other task
            pool.wait(timeout=0)
        other.gate.set()
        group.close()
        assert group.closed


def test_group_submit_futures_and_errors():
    def boom():
        raise ValueError("in group")

    with Pool(capacity=2) as pool:
        with pool.group() as group:
            f = group.submit(divmod, 7, 2)
            g = group.submit(boom)
            group.schedule(boom)  # a scheduled task's exception goes to the pool
            group.wait(timeout=DEADLINE)
            assert f.result(0) == (3, 1)
            assert isinstance(g.exception(0), ValueError)
        assert [str(e) for e in pool.errors] == ["in group"]


def test_group_context_manager_waits_and_closes():
    held = Held()
    done = []
    with Pool(capacity=2) as pool:
        with pool.group() as group:
            group.schedule(held)
            group.schedule(done.append, 1)
            held.wait_started()
            closer_done = threading.Event()

            def release_later():
                # releases the held task only once close() is waiting
                held.gate.set()
                closer_done.set()

            pool.schedule(release_later)
        assert group.closed and closer_done.is_set() and done == [1]
        group.close()  # idempotent
        for call in (lambda: group.schedule(print), group.wait, group.fileno):
            with pytest.raises(FreedError):
                call()
        assert group.stats == GroupStats(0, 0, 0, 0)


def test_group_outlives_its_pool():
    pool = Pool(capacity=1)
    group = pool.group()
    group.schedule(lambda: None)
    pool.close()  # runs the group's task too
    with pytest.raises(FreedError):
        group.schedule(lambda: None)
    group.wait(timeout=DEADLINE)  # nothing pending: returns
    group.close()
    with pytest.raises(FreedError):
        pool.group()


def test_group_wait_and_close_from_own_task_are_deadlocks():
    caught = []
    with Pool(capacity=2) as pool, pool.group() as group:

        def task():
            for call in (group.wait, group.close):
                try:
                    call()
                except DeadlockError:
                    caught.append(call.__name__)

        group.schedule(task)
        group.wait(timeout=DEADLINE)
        assert caught == ["wait", "close"]
        assert not group.closed


def test_fork_join_from_a_task_on_a_one_worker_pool():
    # A task (not of the group) waits for a group whose tasks are queued
    # behind it on the only worker: the worker runs them while it waits.
    out = []
    with Pool(capacity=1, queue_size=UNBOUNDED) as pool:

        def parent():
            with pool.group() as children:
                for i in range(5):
                    children.schedule(out.append, i)
                children.wait()
            out.append("joined")

        pool.schedule(parent)
        pool.wait(timeout=DEADLINE)
    assert out == [0, 1, 2, 3, 4, "joined"]


def test_group_fileno_with_select():
    held = Held()
    with Pool(capacity=3) as pool, pool.group() as group:
        fd = group.fileno()
        assert fd == group.fileno() and fd >= 0
        assert readable(fd, DEADLINE)  # nothing pending when it was made
        assert len(os.read(fd, 8)) == 8
        assert not readable(fd, 0)
        for _ in range(3):
            group.schedule(held)
        held.wait_started(3)
        assert not readable(fd, 0)
        held.gate.set()
        assert readable(fd, DEADLINE)
        os.read(fd, 8)
        group.wait(timeout=0)  # done: the check after a wake-up
        with pytest.raises(BlockingIOError):  # cleared, and non-blocking
            os.read(fd, 8)


def test_group_fileno_with_asyncio_add_reader():
    held = Held()

    async def main(pool, group):
        loop = asyncio.get_running_loop()
        fd = group.fileno()
        os.read(fd, 8)  # readable at once (nothing pending): clear it
        done = loop.create_future()

        def on_readable():
            try:
                os.read(fd, 8)
            except BlockingIOError:
                return
            try:
                group.wait(timeout=0)
            except PoolTimeoutError:
                return  # more tasks arrived meanwhile
            if not done.done():
                done.set_result(group.stats)

        loop.add_reader(fd, on_readable)
        try:
            for i in range(4):
                group.schedule(held)
            await loop.run_in_executor(None, held.wait_started, 4)
            assert not done.done()
            held.gate.set()
            return await asyncio.wait_for(done, DEADLINE)
        finally:
            loop.remove_reader(fd)

    with Pool(capacity=4) as pool, pool.group() as group:
        stats = asyncio.run(main(pool, group))
    assert stats.completed == 4 and stats.pending == 0


def test_many_groups_on_one_pool():
    with Pool(capacity=4, queue_size=UNBOUNDED) as pool:
        groups = [pool.group() for _ in range(10)]
        futures = [[g.submit(pow, i, j) for j in range(20)] for i, g in enumerate(groups)]
        for i, g in enumerate(groups):
            g.wait(timeout=DEADLINE)
            assert [f.result(0) for f in futures[i]] == [pow(i, j) for j in range(20)]
            g.close()


# -- thread hooks, thread state, fork -----------------------------------------


def test_thread_hooks_and_thread_local_state():
    starts = []
    exits = []
    lock = threading.Lock()
    local = threading.local()

    def on_start():
        local.n = 0
        with lock:
            starts.append(threading.get_native_id())

    def on_exit():
        with lock:
            exits.append((threading.get_native_id(), local.n))

    def count():
        local.n += 1  # the same thread state across tasks: the value persists

    with Pool(capacity=1, queue_size=UNBOUNDED, on_thread_start=on_start, on_thread_exit=on_exit) as pool:
        for _ in range(5):
            pool.schedule(count)
    assert len(starts) == 1 and exits == [(starts[0], 5)]
    assert pool.errors == []

    def bad_hook():
        raise RuntimeError("hook failed")

    with Pool(capacity=1, on_thread_start=bad_hook) as pool:
        pool.schedule(lambda: None)
    assert [str(e) for e in pool.errors] == ["hook failed"]
    with pytest.raises(TypeError):
        Pool(on_thread_exit=42)


def test_forked_child_gets_forked_error():
    code = (
        "import os, workerpool\n"
        "pool = workerpool.Pool(capacity=2)\n"
        "group = pool.group()\n"
        "pool.schedule(lambda: None)\n"
        "pool.wait()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    ok = 0\n"
        "    for call in (lambda: pool.schedule(print), pool.pause, pool.cancel_queued, pool.group,\n"
        "                 lambda: group.schedule(print), group.wait):\n"
        "        try:\n"
        "            call()\n"
        "        except workerpool.ForkedError:\n"
        "            ok += 1\n"
        "    group.close(); pool.close()\n"
        "    with workerpool.Pool(capacity=1) as fresh:\n"
        "        fresh.schedule(lambda: None)\n"
        "    os._exit(0 if ok == 6 else 1)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "pool.schedule(lambda: None)\n"
        "group.close(); pool.close()\n"
        "print('child', os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1)\n"
    )
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=DEADLINE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "child 0"
    assert issubclass(ForkedError, PoolError) and ForkedError.status == 7
