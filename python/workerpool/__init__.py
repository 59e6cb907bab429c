"""workerpool: Python bindings (ctypes) for the workerpool C library.

A pure-Python package: nothing is compiled at install time. It loads the
shared library from, in order:

1. the ``WORKERPOOL_LIB`` environment variable (a path to ``libworkerpool.so``);
2. ``../target/release/libworkerpool.so`` next to this package, that is the
   repository's own build (``cargo build --release``) when the package is used
   from a checkout;
3. ``ctypes.util.find_library("workerpool")``, i.e. an installed library
   (``make -C c_examples install``).

Example::

    import workerpool

    with workerpool.Pool(capacity=4) as pool:
        for i in range(10):
            pool.schedule(print, "task", i)
        pool.wait()
    # leaving the block runs what was accepted and joins the workers

Python callables run on the pool's worker threads and hold the GIL while
they run (see README.md). Exceptions they raise never reach C: they are
caught, stored in ``Pool.errors`` and passed to ``on_error`` if given.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import errno
import itertools
import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = [
    "Pool",
    "Stats",
    "UNBOUNDED",
    "PoolError",
    "NoIdleWorkerError",
    "FreedError",
    "InvalidError",
    "PoolTimeoutError",
    "SpawnError",
    "DeadlockError",
    "library_path",
    "version",
]

__version__ = "0.2.0"

#: ``queue_size=UNBOUNDED``: a queue without a bound (SIZE_MAX in C).
UNBOUNDED = ctypes.c_size_t(-1).value

# --------------------------------------------------------------------------
# Errors, named after the C status codes.

POOL_OK = 0
POOL_ERR_NO_IDLE_WORKER = 1
POOL_ERR_FREED = 2
POOL_ERR_INVALID = 3
POOL_ERR_TIMEOUT = 4
POOL_ERR_SPAWN = 5
POOL_ERR_DEADLOCK = 6


class PoolError(Exception):
    """Base class: a call returned a status other than POOL_OK.

    ``status`` is the C ``pool_status`` value; ``str()`` is
    ``pool_strerror``'s text.
    """

    status = -1

    def __init__(self, message: Optional[str] = None):
        super().__init__(message if message is not None else _strerror(self.status))


class NoIdleWorkerError(PoolError):
    """POOL_ERR_NO_IDLE_WORKER: not blocking, every worker busy, queue full."""

    status = POOL_ERR_NO_IDLE_WORKER


class FreedError(PoolError):
    """POOL_ERR_FREED: the pool is closed (or closing); the task was not accepted."""

    status = POOL_ERR_FREED


class InvalidError(PoolError, ValueError):
    """POOL_ERR_INVALID: an argument out of range (also a ValueError)."""

    status = POOL_ERR_INVALID


class PoolTimeoutError(PoolError, TimeoutError):
    """POOL_ERR_TIMEOUT: no room before the deadline (also a TimeoutError)."""

    status = POOL_ERR_TIMEOUT


class SpawnError(PoolError):
    """POOL_ERR_SPAWN: the OS refused a thread (or pool creation got EAGAIN)."""

    status = POOL_ERR_SPAWN


class DeadlockError(PoolError):
    """POOL_ERR_DEADLOCK: wait()/close() called from one of the pool's own tasks."""

    status = POOL_ERR_DEADLOCK


_ERRORS = {
    cls.status: cls
    for cls in (NoIdleWorkerError, FreedError, InvalidError, PoolTimeoutError, SpawnError, DeadlockError)
}

# --------------------------------------------------------------------------
# Loading the library.


def _find_library() -> str:
    env = os.environ.get("WORKERPOOL_LIB")
    if env:
        return env
    here = Path(__file__).resolve().parent
    for candidate in (
        here.parent / "target" / "release" / "libworkerpool.so",
        here.parent.parent / "target" / "release" / "libworkerpool.so",
    ):
        if candidate.is_file():
            return str(candidate)
    found = ctypes.util.find_library("workerpool")
    if found:
        return found
    raise OSError(
        "workerpool: cannot find libworkerpool.so: set WORKERPOOL_LIB to its path, "
        "build it with `cargo build --release` in the repository, or install it "
        "(make -C c_examples install)"
    )


class _Stats(ctypes.Structure):
    _fields_ = [
        ("capacity", ctypes.c_uint32),
        ("workers", ctypes.c_uint32),
        ("busy", ctypes.c_uint32),
        ("queued", ctypes.c_uint32),
        ("submitted", ctypes.c_uint64),
        ("completed", ctypes.c_uint64),
        ("rejected", ctypes.c_uint64),
    ]


_TASK_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

#: The path the library was loaded from.
library_path = _find_library()
# CDLL releases the GIL around every call, so a blocking pool_schedule,
# pool_wait or pool_free never stops the workers from running Python tasks.
_lib = ctypes.CDLL(library_path, use_errno=True)


def _declare(name: str, restype: Any, *argtypes: Any) -> None:
    fn = getattr(_lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


_p = ctypes.c_void_p
_status = ctypes.c_int
_declare("pool_options_new", _p)
_declare("pool_options_free", None, _p)
_declare("pool_options_set_block", _status, _p, ctypes.c_bool)
_declare("pool_options_set_prealloc", _status, _p, ctypes.c_bool)
_declare("pool_options_set_queue_size", _status, _p, ctypes.c_size_t)
_declare("pool_options_set_idle_timeout_ms", _status, _p, ctypes.c_uint64)
_declare("pool_options_set_stack_size", _status, _p, ctypes.c_size_t)
_declare("pool_options_set_thread_name", _status, _p, ctypes.c_char_p)
_declare("pool_new", _p, ctypes.c_int, _p)
_declare("pool_schedule", _status, _p, _TASK_FN, _p)
_declare("pool_try_schedule", _status, _p, _TASK_FN, _p)
_declare("pool_schedule_timeout", _status, _p, _TASK_FN, _p, ctypes.c_uint64)
_declare("pool_wait", _status, _p)
_declare("pool_wait_timeout", _status, _p, ctypes.c_uint64)
_declare("pool_set_capacity", _status, _p, ctypes.c_int)
_declare("pool_get_stats", None, _p, ctypes.POINTER(_Stats))
_declare("pool_free", _status, _p)
_declare("pool_strerror", ctypes.c_char_p, ctypes.c_int)
_declare("pool_version", ctypes.c_char_p)


def _strerror(status: int) -> str:
    return _lib.pool_strerror(status).decode("utf-8", "replace")


def version() -> str:
    """The library's version, ``"MAJOR.MINOR.PATCH"`` (``pool_version()``)."""
    return _lib.pool_version().decode()


def _check(status: int) -> None:
    if status != POOL_OK:
        cls = _ERRORS.get(status)
        if cls is None:
            err = PoolError(_strerror(status))
            err.status = status
            raise err
        raise cls()


# --------------------------------------------------------------------------
# The trampoline: one C function pointer for every task of every pool. The
# C arg is an integer id; the Python callable waits in _tasks until it has
# run, so nothing the C side holds can be garbage-collected under it.

_tasks: Dict[int, Tuple["Pool", Callable[..., Any], Tuple[Any, ...]]] = {}
_tasks_lock = threading.Lock()
_ids = itertools.count(1)  # 0 would be a NULL arg
# The pools whose task the current thread is running (innermost last), so
# that close() from a task reports a deadlock instead of waiting for itself.
_current = threading.local()


def _running_in(pool: "Pool") -> bool:
    return id(pool) in getattr(_current, "pools", ())


def _run_task(arg: Optional[int]) -> None:
    # Never let anything escape into C: ctypes would only print it, but a
    # task's exception belongs to its pool.
    try:
        task_id = arg or 0
        with _tasks_lock:
            entry = _tasks.get(task_id)
        if entry is None:  # cannot happen: every id is registered first
            return
        pool, fn, args = entry
        stack = getattr(_current, "pools", None)
        if stack is None:
            stack = _current.pools = []
        stack.append(id(pool))
        try:
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001 - reported, never propagated
                pool._report(exc)
            finally:
                with _tasks_lock:
                    _tasks.pop(task_id, None)
                # Drop the references while this thread still counts as the
                # pool's worker: if they were the last, Pool.__del__ runs now
                # and must know it is on one of the pool's own threads.
                entry = pool = fn = args = None  # type: ignore[assignment]
        finally:
            stack.pop()
    except BaseException:  # noqa: BLE001 - last resort: nothing reaches C
        pass


_trampoline = _TASK_FN(_run_task)


def _pending_tasks() -> int:
    """Tasks scheduled from Python that have not finished (for tests)."""
    with _tasks_lock:
        return len(_tasks)


# --------------------------------------------------------------------------
# The pool.


@dataclass(frozen=True)
class Stats:
    """A snapshot of a pool's counters (``pool_get_stats``)."""

    capacity: int  #: maximum workers now
    workers: int  #: live worker threads
    busy: int  #: workers running a task
    queued: int  #: accepted, not yet started
    submitted: int  #: tasks accepted since the pool was made
    completed: int  #: tasks finished
    rejected: int  #: schedules refused (no idle worker, timeout, freed)


_live_pools: "weakref.WeakSet[Pool]" = weakref.WeakSet()


class Pool:
    """A worker pool. Use it as a context manager, or call :meth:`close`.

    Keyword options (defaults are the C library's):

    * ``capacity`` (100): maximum workers; ``<= 0`` gives 100, above 10000 gives 10000.
    * ``block`` (True): :meth:`schedule` waits for room; False: raises
      :class:`NoIdleWorkerError` when full.
    * ``prealloc`` (False): start every worker now.
    * ``queue_size`` (0): accepted tasks that may wait once all workers are
      busy; 0 is direct hand-off, :data:`UNBOUNDED` has no bound.
    * ``idle_timeout_ms`` (0 = never): idle workers exit after this long.
    * ``stack_size`` (0 = platform default): worker stack in bytes.
    * ``thread_name`` ("workerpool"): threads are named ``<name>-<n>``.
    * ``on_error`` (None): called as ``on_error(exc)`` on the worker thread
      with any exception a task raised; every such exception is also
      appended to :attr:`errors`.

    Raises :class:`InvalidError` for a bad option and :class:`SpawnError`
    when a preallocated worker could not be started.
    """

    def __init__(
        self,
        capacity: int = 0,
        *,
        block: bool = True,
        prealloc: bool = False,
        queue_size: int = 0,
        idle_timeout_ms: int = 0,
        stack_size: int = 0,
        thread_name: Optional[str] = None,
        on_error: Optional[Callable[[BaseException], Any]] = None,
    ):
        self._handle: Optional[int] = None
        self._state = threading.Condition()
        self._calls = 0  # threads inside a C call on this pool
        self._closing = False
        self.on_error = on_error
        #: Exceptions raised by this pool's tasks, oldest first.
        self.errors: List[BaseException] = []
        self._errors_lock = threading.Lock()

        for name, value in (("queue_size", queue_size), ("idle_timeout_ms", idle_timeout_ms), ("stack_size", stack_size)):
            if not isinstance(value, int) or value < 0:
                raise InvalidError(f"{name} must be a non-negative int, not {value!r}")
        if not isinstance(capacity, int):
            raise InvalidError(f"capacity must be an int, not {capacity!r}")
        capacity = max(min(capacity, 2**31 - 1), -(2**31))

        opts = _lib.pool_options_new()
        if not opts:
            raise MemoryError("pool_options_new")
        try:
            _check(_lib.pool_options_set_block(opts, bool(block)))
            _check(_lib.pool_options_set_prealloc(opts, bool(prealloc)))
            _check(_lib.pool_options_set_queue_size(opts, min(queue_size, UNBOUNDED)))
            _check(_lib.pool_options_set_idle_timeout_ms(opts, min(idle_timeout_ms, 2**64 - 1)))
            _check(_lib.pool_options_set_stack_size(opts, min(stack_size, UNBOUNDED)))
            if thread_name is not None:
                if "\0" in thread_name:
                    raise InvalidError("thread_name must not contain NUL")
                _check(_lib.pool_options_set_thread_name(opts, thread_name.encode("utf-8")))
            ctypes.set_errno(0)
            handle = _lib.pool_new(capacity, opts)
            if not handle:
                err = ctypes.get_errno()
                if err == errno.ENOMEM:
                    raise MemoryError("pool_new")
                if err == errno.EINVAL:
                    raise InvalidError(f"pool_new: {os.strerror(err)}")
                raise SpawnError(f"pool_new: {os.strerror(err or errno.EAGAIN)}")
        finally:
            _lib.pool_options_free(opts)
        self._handle = handle
        _live_pools.add(self)

    # -- context manager ----------------------------------------------------

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- calls into C, guarded so that close() never frees under a caller ----

    def _enter(self) -> int:
        with self._state:
            if self._closing or self._handle is None:
                raise FreedError()
            self._calls += 1
            return self._handle

    def _leave(self) -> None:
        with self._state:
            self._calls -= 1
            if self._calls == 0:
                self._state.notify_all()

    def _submit(self, how: Callable[..., int], extra: Tuple[Any, ...], fn: Callable[..., Any], args: Tuple[Any, ...]) -> None:
        if not callable(fn):
            raise TypeError(f"{fn!r} is not callable")
        handle = self._enter()
        try:
            task_id = next(_ids)
            with _tasks_lock:
                _tasks[task_id] = (self, fn, args)
            try:
                status = how(handle, _trampoline, task_id, *extra)
            except BaseException:
                status = POOL_ERR_INVALID
                raise
            finally:
                if status != POOL_OK:  # refused: it will never run
                    with _tasks_lock:
                        _tasks.pop(task_id, None)
            _check(status)
        finally:
            self._leave()

    def schedule(self, fn: Callable[..., Any], *args: Any) -> None:
        """Runs ``fn(*args)`` once on a worker (``pool_schedule``).

        Waits for room if the pool blocks. Raises :class:`NoIdleWorkerError`
        (non-blocking pool full), :class:`FreedError` (closed) or
        :class:`SpawnError`.
        """
        self._submit(_lib.pool_schedule, (), fn, args)

    def try_schedule(self, fn: Callable[..., Any], *args: Any) -> None:
        """Like :meth:`schedule` but never waits (``pool_try_schedule``)."""
        self._submit(_lib.pool_try_schedule, (), fn, args)

    def schedule_timeout(self, timeout: float, fn: Callable[..., Any], *args: Any) -> None:
        """Like :meth:`schedule` but waits at most ``timeout`` seconds for
        room; raises :class:`PoolTimeoutError` after that."""
        if timeout < 0:
            raise InvalidError(f"timeout must be >= 0, not {timeout!r}")
        ms = min(int(timeout * 1000 + 0.999999), 2**64 - 1)
        self._submit(_lib.pool_schedule_timeout, (ms,), fn, args)

    def wait(self, timeout: Optional[float] = None) -> None:
        """Blocks until every task accepted before the call has finished
        (``pool_wait``); tasks scheduled meanwhile, by other threads or by
        the tasks themselves, are not waited for. With ``timeout`` (seconds,
        0 polls) it waits at most that long (``pool_wait_timeout``) and
        raises :class:`PoolTimeoutError` if those tasks are still running.

        Raises :class:`DeadlockError` from one of this pool's own tasks,
        :class:`FreedError` once closed.
        """
        if timeout is not None and timeout < 0:
            raise InvalidError(f"timeout must be >= 0, not {timeout!r}")
        handle = self._enter()
        try:
            if timeout is None:
                _check(_lib.pool_wait(handle))
            else:
                ms = min(int(timeout * 1000 + 0.999999), 2**64 - 2)
                _check(_lib.pool_wait_timeout(handle, ms))
        finally:
            self._leave()

    def set_capacity(self, capacity: int) -> None:
        """Grows or shrinks the pool (``pool_set_capacity``, same clamping)."""
        handle = self._enter()
        try:
            _check(_lib.pool_set_capacity(handle, max(min(int(capacity), 2**31 - 1), -(2**31))))
        finally:
            self._leave()

    @property
    def stats(self) -> Stats:
        """A :class:`Stats` snapshot (all zero once closed)."""
        raw = _Stats()
        try:
            handle = self._enter()
        except FreedError:
            return Stats(0, 0, 0, 0, 0, 0, 0)
        try:
            _lib.pool_get_stats(handle, ctypes.byref(raw))
        finally:
            self._leave()
        return Stats(*(getattr(raw, name) for name, _ in _Stats._fields_))

    @property
    def closed(self) -> bool:
        with self._state:
            return self._handle is None

    def close(self) -> None:
        """Refuses new tasks, runs every accepted one, joins the workers
        (``pool_free``). Idempotent. Calls already running in other threads
        (a blocked :meth:`schedule`, :meth:`wait`) finish first.

        Raises :class:`DeadlockError` when called from one of this pool's
        own tasks (the pool then stays open).
        """
        if _running_in(self):
            # pool_free would say so too, but only after this thread had
            # waited for calls that may be waiting for this very task.
            raise DeadlockError()
        with self._state:
            if self._handle is None:
                return
            if self._closing:  # another thread is closing it: wait for that
                self._state.wait_for(lambda: self._handle is None)
                return
            self._closing = True
            self._state.wait_for(lambda: self._calls == 0)
            handle = self._handle
        status = _lib.pool_free(handle)
        with self._state:
            if status == POOL_OK:
                self._handle = None
            self._closing = False
            self._state.notify_all()
        _check(status)

    def _report(self, exc: BaseException) -> None:
        with self._errors_lock:
            self.errors.append(exc)
        handler = self.on_error
        if handler is not None:
            try:
                handler(exc)
            except BaseException as second:  # noqa: BLE001 - never into C
                with self._errors_lock:
                    self.errors.append(second)

    def __repr__(self) -> str:
        if self.closed:
            return "<workerpool.Pool closed>"
        s = self.stats
        return f"<workerpool.Pool capacity={s.capacity} workers={s.workers} busy={s.busy} queued={s.queued}>"

    def __del__(self) -> None:
        # Best effort for a pool that was never closed. Pending tasks hold a
        # reference to their pool, so this runs only once none is left but
        # (possibly) the one this thread is finishing: then pool_free, which
        # waits for that task, runs on a helper thread.
        try:
            handle = getattr(self, "_handle", None)
            if handle is None:
                return
            if _running_in(self):
                self._handle = None
                threading.Thread(target=_lib.pool_free, args=(handle,), daemon=True).start()
            else:
                self.close()
        except BaseException:  # noqa: BLE001
            pass


@atexit.register
def _close_live_pools() -> None:
    # Run the accepted tasks and join the workers while the interpreter can
    # still run Python callbacks.
    for pool in list(_live_pools):
        try:
            pool.close()
        except BaseException:  # noqa: BLE001
            pass
