"""workerpool: Python bindings (ctypes) for the workerpool C library.

ctypes over the C ABI; ``pip install ./python`` builds the Rust library and
ships it in the package (``workerpool/libworkerpool.so``). It loads the
shared library from, in order:

1. the ``WORKERPOOL_LIB`` environment variable (a path to ``libworkerpool.so``);
2. ``libworkerpool.so`` in this package's directory, the copy an installed
   package ships;
3. ``../target/release/libworkerpool.so`` next to this package, that is the
   repository's own build (``cargo build --release``) when the package is used
   from a checkout without installing it;
4. ``ctypes.util.find_library("workerpool")``, i.e. an installed library
   (``make -C c_examples install``).

:data:`library_path` is the path it loaded.

Example::

    import workerpool

    with workerpool.Pool(capacity=4) as pool:
        for i in range(10):
            pool.schedule(print, "task", i)
        pool.wait()
    # leaving the block runs what was accepted and joins the workers

    with workerpool.Executor(max_workers=4) as ex:   # a concurrent.futures.Executor
        print(list(ex.map(pow, range(5), range(5))))

Python callables run on the pool's worker threads and hold the GIL while
they run (see README.md). Exceptions they raise never reach C: a
:meth:`Pool.schedule` task's are caught, stored in ``Pool.errors`` and passed
to ``on_error`` if given; a submitted task's are set on its Future.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import ctypes
import ctypes.util
import errno
import itertools
import logging
import os
import sys
import threading
import weakref
from concurrent.futures.thread import BrokenThreadPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Generic, List, Optional, Set, Tuple, TypeVar

if TYPE_CHECKING:
    if sys.version_info >= (3, 10):
        from typing import ParamSpec
    else:
        from typing_extensions import ParamSpec

    P = ParamSpec("P")

T = TypeVar("T")

__all__ = [
    "Pool",
    "Group",
    "Executor",
    "Stats",
    "GroupStats",
    "UNBOUNDED",
    "PoolError",
    "NoIdleWorkerError",
    "FreedError",
    "InvalidError",
    "PoolTimeoutError",
    "SpawnError",
    "DeadlockError",
    "ForkedError",
    "BrokenThreadPool",
    "library_path",
    "version",
]

__version__ = "0.2.0"

#: ``queue_size=UNBOUNDED``: a queue without a bound (SIZE_MAX in C).
UNBOUNDED: int = ctypes.c_size_t(-1).value

_U64_MAX = 2**64 - 1

# --------------------------------------------------------------------------
# Errors, named after the C status codes.

POOL_OK = 0
POOL_ERR_NO_IDLE_WORKER = 1
POOL_ERR_FREED = 2
POOL_ERR_INVALID = 3
POOL_ERR_TIMEOUT = 4
POOL_ERR_SPAWN = 5
POOL_ERR_DEADLOCK = 6
POOL_ERR_FORKED = 7

POOL_SHUTDOWN_DRAIN = 0
POOL_SHUTDOWN_CANCEL = 1


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
    """POOL_ERR_FREED: the pool (or group) is closed or closing, or the pool
    is shutting down; the task was not accepted."""

    status = POOL_ERR_FREED


class InvalidError(PoolError, ValueError):
    """POOL_ERR_INVALID: an argument out of range (also a ValueError)."""

    status = POOL_ERR_INVALID


class PoolTimeoutError(PoolError, TimeoutError):
    """POOL_ERR_TIMEOUT: the deadline passed first (also a TimeoutError)."""

    status = POOL_ERR_TIMEOUT


class SpawnError(PoolError):
    """POOL_ERR_SPAWN: the OS refused a thread (or pool creation got EAGAIN)."""

    status = POOL_ERR_SPAWN


class DeadlockError(PoolError):
    """POOL_ERR_DEADLOCK: a wait or close that would wait for the calling
    task itself (called from one of the pool's, or the group's, own tasks)."""

    status = POOL_ERR_DEADLOCK


class ForkedError(PoolError):
    """POOL_ERR_FORKED: the pool (or group) was made before ``os.fork()`` and
    this is the child process, where its threads do not exist."""

    status = POOL_ERR_FORKED


_ERRORS = {
    cls.status: cls
    for cls in (NoIdleWorkerError, FreedError, InvalidError, PoolTimeoutError, SpawnError, DeadlockError, ForkedError)
}

# --------------------------------------------------------------------------
# Loading the library.


def _find_library() -> str:
    env = os.environ.get("WORKERPOOL_LIB")
    if env:
        return env
    here = Path(__file__).resolve().parent
    for candidate in (
        here / "libworkerpool.so",
        here.parent / "target" / "release" / "libworkerpool.so",
        here.parent.parent / "target" / "release" / "libworkerpool.so",
    ):
        if candidate.is_file():
            return str(candidate)
    found = ctypes.util.find_library("workerpool")
    if found:
        return found
    raise OSError(
        "workerpool: cannot find libworkerpool.so: install the package with "
        "`pip install ./python` (which builds it into the package), set "
        "WORKERPOOL_LIB to its path, build it with `cargo build --release` in "
        "the repository, or install it (make -C c_examples install)"
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
        # 0.2, through pool_get_stats_sized
        ("cancelled", ctypes.c_uint64),
        ("paused", ctypes.c_uint32),
    ]


class _GroupStats(ctypes.Structure):
    _fields_ = [
        ("submitted", ctypes.c_uint64),
        ("completed", ctypes.c_uint64),
        ("cancelled", ctypes.c_uint64),
        ("pending", ctypes.c_uint64),
    ]


class _ShutdownReport(ctypes.Structure):
    _fields_ = [
        ("cancelled", ctypes.c_uint64),
        ("queued", ctypes.c_uint64),
        ("running", ctypes.c_uint32),
    ]


_TASK_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
# on_cancel(task, arg, ctx): the task pointer is taken as a plain address.
_CANCEL_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
_HOOK_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

#: The path the library was loaded from.
library_path = _find_library()
# CDLL (not PyDLL) releases the GIL around every call, so a blocking
# pool_schedule, pool_wait, pool_group_wait, pool_shutdown or pool_free never
# stops the workers from running Python tasks and hooks, which take the GIL.
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
_declare("pool_options_set_thread_hooks", _status, _p, _HOOK_FN, _HOOK_FN, _p)
_declare("pool_new", _p, ctypes.c_int, _p)
_declare("pool_schedule", _status, _p, _TASK_FN, _p)
_declare("pool_try_schedule", _status, _p, _TASK_FN, _p)
_declare("pool_schedule_timeout", _status, _p, _TASK_FN, _p, ctypes.c_uint64)
_declare("pool_wait", _status, _p)
_declare("pool_wait_timeout", _status, _p, ctypes.c_uint64)
_declare("pool_set_capacity", _status, _p, ctypes.c_int)
_declare("pool_get_stats_sized", None, _p, ctypes.POINTER(_Stats), ctypes.c_size_t)
_declare("pool_pause", _status, _p)
_declare("pool_resume", _status, _p)
_declare("pool_cancel_queued", _status, _p, _CANCEL_FN, _p, ctypes.POINTER(ctypes.c_uint64))
_declare(
    "pool_shutdown", _status, _p, ctypes.c_int, ctypes.c_uint64, _CANCEL_FN, _p, ctypes.POINTER(_ShutdownReport)
)
_declare("pool_free", _status, _p)
_declare("pool_group_new", _p, _p)
_declare("pool_group_schedule", _status, _p, _TASK_FN, _p)
_declare("pool_group_try_schedule", _status, _p, _TASK_FN, _p)
_declare("pool_group_schedule_timeout", _status, _p, _TASK_FN, _p, ctypes.c_uint64)
_declare("pool_group_wait", _status, _p, ctypes.c_uint64)
_declare("pool_group_fd", ctypes.c_int, _p)
_declare("pool_group_get_stats", None, _p, ctypes.POINTER(_GroupStats), ctypes.c_size_t)
_declare("pool_group_free", _status, _p)
_declare("pool_strerror", ctypes.c_char_p, ctypes.c_int)
_declare("pool_version", ctypes.c_char_p)


def _strerror(status: int) -> str:
    text: bytes = _lib.pool_strerror(status)
    return text.decode("utf-8", "replace")


def version() -> str:
    """The library's version, ``"MAJOR.MINOR.PATCH"`` (``pool_version()``)."""
    text: bytes = _lib.pool_version()
    return text.decode()


def _check(status: int) -> None:
    if status != POOL_OK:
        cls = _ERRORS.get(status)
        if cls is None:
            err = PoolError(_strerror(status))
            err.status = status
            raise err
        raise cls()


def _timeout_ms(timeout: Optional[float]) -> int:
    """Seconds (None: for ever) to the C milliseconds, rounded up."""
    if timeout is None:
        return _U64_MAX
    if timeout < 0:
        raise InvalidError(f"timeout must be >= 0, not {timeout!r}")
    return min(int(timeout * 1000 + 0.999999), _U64_MAX - 1)


# --------------------------------------------------------------------------
# The trampoline: one C function pointer for every task of every pool. The
# C arg is an integer id; the task (callable, arguments, what to do if it is
# cancelled) waits in _tasks until it has run or was cancelled, so nothing
# the C side holds can be garbage-collected under it.


class _Task:
    """``fn(*args)``, scheduled on ``pool`` (in ``group``, if any)."""

    __slots__ = ("pool", "group", "fn", "args")

    def __init__(self, pool: "Pool", group: Optional["Group"], fn: Callable[..., Any], args: Tuple[Any, ...]) -> None:
        self.pool = pool
        self.group = group
        self.fn = fn
        self.args = args

    def run(self) -> None:
        self.fn(*self.args)

    def cancel(self) -> None:
        """Removed unrun (pool_cancel_queued, pool_shutdown): nothing to do."""


# Plain dict operations (one get, set or pop each) are atomic: no lock.
_tasks: Dict[int, _Task] = {}
_ids = itertools.count(1)  # 0 would be a NULL arg
# The pools and groups whose task the current thread is running (innermost
# last), so that close() from a task reports a deadlock instead of waiting
# for itself.
_current = threading.local()


def _running_in(owner: object) -> bool:
    return id(owner) in getattr(_current, "stack", ())


def _run_task(arg: Optional[int]) -> None:
    # Never let anything escape into C: ctypes would only print it, but a
    # task's exception belongs to its pool.
    try:
        task_id = arg or 0
        task = _tasks.get(task_id)
        if task is None:  # cannot happen: every id is registered first
            return
        stack: Optional[List[int]] = getattr(_current, "stack", None)
        if stack is None:
            stack = _current.stack = []
        depth = len(stack)
        stack.append(id(task.pool))
        if task.group is not None:
            stack.append(id(task.group))
        try:
            try:
                task.run()
            except BaseException as exc:  # noqa: BLE001 - reported, never propagated
                task.pool._report(exc)
            finally:
                _tasks.pop(task_id, None)
                # Drop the references while this thread still counts as the
                # pool's (and group's) worker: if they were the last,
                # Pool.__del__ / Group.__del__ runs now and must know it is
                # on one of their own threads.
                task = None
        finally:
            del stack[depth:]
    except BaseException:  # noqa: BLE001 - last resort: nothing reaches C
        pass


_trampoline = _TASK_FN(_run_task)
_trampoline_address = ctypes.cast(_trampoline, ctypes.c_void_p).value


def _pending_tasks() -> int:
    """Tasks scheduled from Python that have neither finished nor been
    cancelled (for tests)."""
    return len(_tasks)


# Cancelling: pool_cancel_queued and pool_shutdown(CANCEL) call on_cancel on
# the calling thread, once per removed task, with the task's arg (our id).
# The callback only moves the task from _tasks to the call's collector (ctx
# names it); the Futures are cancelled, and the references dropped, after
# the C call returned: a done-callback or a __del__ must not run inside
# on_cancel, where calling pool_cancel_queued / pool_shutdown again is
# forbidden.
_collectors: Dict[int, List[_Task]] = {}


def _on_cancel(task_fn: Optional[int], arg: Optional[int], ctx: Optional[int]) -> None:
    try:
        if task_fn != _trampoline_address:  # not one of ours: nothing to free
            return
        task = _tasks.pop(arg or 0, None)
        if task is not None:
            _collectors.setdefault(ctx or 0, []).append(task)
    except BaseException:  # noqa: BLE001 - nothing reaches C
        pass


_cancel_trampoline = _CANCEL_FN(_on_cancel)


def _cancelling(call: Callable[[Any, int], int]) -> Tuple[int, List[_Task]]:
    """Runs ``call(on_cancel, ctx)`` and returns its status and the tasks it
    removed."""
    key = next(_ids)
    collected: List[_Task] = []
    _collectors[key] = collected
    try:
        status = call(_cancel_trampoline, key)
    finally:
        collected = _collectors.pop(key, collected)
    return status, collected


def _settle_cancelled(tasks: List[_Task]) -> None:
    """What a removed task does instead of running: a submitted task's
    Future is cancelled, in the order the tasks were queued."""
    for task in tasks:
        try:
            task.cancel()
        except BaseException as exc:  # noqa: BLE001
            task.pool._report(exc)
    tasks.clear()


# --------------------------------------------------------------------------
# Thread hooks: every pool made here runs these on each worker thread, first
# and last. They keep one Python thread state per worker for its whole life
# (PyGILState_Ensure in on_start, PyGILState_Release in on_exit): without
# that, ctypes makes and drops a thread state around every task, so
# threading.local values (those an Executor initializer sets, for one) would
# not survive from one task to the next, and each task would pay for it.
# They also give the worker's Python thread object its native name
# ("<prefix>-<n>"), and run the pool's own hooks (the Executor initializer).


class _Hooks:
    __slots__ = ("on_start", "on_exit", "report")

    def __init__(
        self,
        on_start: Optional[Callable[[], Any]],
        on_exit: Optional[Callable[[], Any]],
        report: Callable[[BaseException], None],
    ) -> None:
        self.on_start = on_start
        self.on_exit = on_exit
        self.report = report


# Keyed by the ctx each pool's options carry; an entry is dropped once its
# pool_free has returned, after the last on_exit.
_hooks: Dict[int, _Hooks] = {}
_thread_local = threading.local()

try:
    _gil_ensure: Optional[Callable[[], int]] = ctypes.pythonapi.PyGILState_Ensure
    _gil_release: Optional[Callable[[int], None]] = ctypes.pythonapi.PyGILState_Release
    ctypes.pythonapi.PyGILState_Ensure.restype = ctypes.c_int
    ctypes.pythonapi.PyGILState_Ensure.argtypes = []
    ctypes.pythonapi.PyGILState_Release.restype = None
    ctypes.pythonapi.PyGILState_Release.argtypes = [ctypes.c_int]
except (AttributeError, ValueError):  # not CPython
    _gil_ensure = _gil_release = None


def _name_this_thread() -> None:
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/comm", "rb") as f:
            name = f.read().strip().decode("utf-8", "replace")
    except OSError:
        return
    if name:
        threading.current_thread().name = name


def _thread_start(ctx: Optional[int]) -> None:
    try:
        if _gil_ensure is not None and not hasattr(_thread_local, "gil"):
            _thread_local.gil = _gil_ensure()
        _name_this_thread()
        hooks = _hooks.get(ctx or 0)
        if hooks is not None and hooks.on_start is not None:
            try:
                hooks.on_start()
            except BaseException as exc:  # noqa: BLE001
                hooks.report(exc)
    except BaseException:  # noqa: BLE001 - nothing reaches C
        pass


def _thread_exit(ctx: Optional[int]) -> None:
    try:
        try:
            hooks = _hooks.get(ctx or 0)
            if hooks is not None and hooks.on_exit is not None:
                try:
                    hooks.on_exit()
                except BaseException as exc:  # noqa: BLE001
                    hooks.report(exc)
        finally:
            state = _thread_local.__dict__.pop("gil", None)
            if state is not None and _gil_release is not None:
                # Drops the count on_start added; ctypes' own release, when
                # this callback returns, then deletes the thread state.
                _gil_release(state)
    except BaseException:  # noqa: BLE001 - nothing reaches C
        pass


_start_trampoline = _HOOK_FN(_thread_start)
_exit_trampoline = _HOOK_FN(_thread_exit)

# Threads that free a pool or group whose last reference died on one of its
# own workers; joined at exit, while Python can still run the hooks.
_background_threads: "Set[threading.Thread]" = set()
_background_lock = threading.Lock()


def _in_background(fn: Callable[..., Any], *args: Any) -> None:
    def run() -> None:
        try:
            fn(*args)
        except BaseException:  # noqa: BLE001
            pass
        finally:
            with _background_lock:
                _background_threads.discard(threading.current_thread())

    t = threading.Thread(target=run, name="workerpool-free", daemon=True)
    with _background_lock:
        _background_threads.add(t)
    t.start()


def _free_pool(handle: int, hook_key: int) -> None:
    _lib.pool_free(handle)
    _hooks.pop(hook_key, None)


# --------------------------------------------------------------------------
# A handle that close() must not free under a caller.


class _Guarded:
    _handle: Optional[int]

    def _guard_init(self) -> None:
        self._handle = None
        self._lock = threading.Lock()
        self._state = threading.Condition(self._lock)
        self._calls = 0  # threads inside a C call on this handle
        self._closing = False

    def _enter(self) -> int:
        with self._lock:
            handle = self._handle
            if self._closing or handle is None:
                raise FreedError()
            self._calls += 1
            return handle

    def _leave(self) -> None:
        with self._lock:
            self._calls -= 1
            if self._calls == 0 and self._closing:  # only a closer waits for 0
                self._state.notify_all()

    def _close_handle(self, free: Callable[[int], int]) -> None:
        """Waits for the calls in progress, then ``free(handle)``; a second
        closer waits for the first. Idempotent."""
        if _running_in(self):
            # The C call would say so too, but only after this thread had
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
        status = POOL_ERR_INVALID
        try:
            status = free(handle)
        finally:
            with self._state:
                if status == POOL_OK:
                    self._handle = None
                self._closing = False
                self._state.notify_all()
        _check(status)

    @property
    def closed(self) -> bool:
        with self._state:
            return self._handle is None


def _schedule(owner: _Guarded, how: Callable[..., int], extra: Tuple[Any, ...], task: _Task) -> None:
    handle = owner._enter()
    try:
        task_id = next(_ids)
        _tasks[task_id] = task
        status = POOL_ERR_INVALID
        try:
            status = how(handle, _trampoline, task_id, *extra)
        finally:
            if status != POOL_OK:  # refused: it will never run
                _tasks.pop(task_id, None)
        _check(status)
    finally:
        owner._leave()


# --------------------------------------------------------------------------
# Futures: what submit() runs.


class _ExecutorState:
    __slots__ = ("broken",)

    def __init__(self) -> None:
        #: Why the executor is broken (an initializer failed), or None.
        self.broken: Optional[str] = None


class _FutureTask(_Task, Generic[T]):
    """``fn(*args, **kwargs)`` with its result (or exception) set on
    ``future``; a cancelled future is not run, and a removed task cancels
    it."""

    __slots__ = ("future", "kwargs", "state")

    def __init__(
        self,
        pool: "Pool",
        group: Optional["Group"],
        future: "concurrent.futures.Future[T]",
        fn: Callable[..., T],
        args: Tuple[Any, ...],
        kwargs: Dict[str, Any],
        state: Optional[_ExecutorState],
    ) -> None:
        _Task.__init__(self, pool, group, fn, args)
        self.future = future
        self.kwargs = kwargs
        self.state = state

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        if self.state is not None and self.state.broken is not None:
            self.future.set_exception(BrokenThreadPool(self.state.broken))
            return
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # noqa: BLE001 - it belongs to the future
            self.future.set_exception(exc)
            # The traceback holds this frame: drop self so that the future
            # does not keep the task (and fn, args) alive through it.
            del self
        else:
            self.future.set_result(result)

    def cancel(self) -> None:
        self.future.cancel()


# --------------------------------------------------------------------------
# The pool.


@dataclass(frozen=True)
class Stats:
    """A snapshot of a pool's counters (``pool_get_stats_sized``)."""

    capacity: int  #: maximum workers now
    workers: int  #: live worker threads
    busy: int  #: workers running a task
    queued: int  #: accepted, not yet started
    submitted: int  #: tasks accepted since the pool was made
    completed: int  #: tasks finished
    rejected: int  #: schedules refused (no idle worker, timeout, freed)
    cancelled: int = 0  #: accepted tasks removed unrun (cancel_queued, Executor.shutdown(cancel_futures=True))
    paused: bool = False  #: between pause() and resume()


@dataclass(frozen=True)
class GroupStats:
    """A snapshot of a group's counters (``pool_group_get_stats``)."""

    submitted: int  #: tasks accepted into the group
    completed: int  #: of those, finished
    cancelled: int  #: of those, removed unrun
    pending: int  #: submitted - completed - cancelled


_live_pools: "weakref.WeakSet[Pool]" = weakref.WeakSet()


class Pool(_Guarded):
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
    * ``thread_name`` ("workerpool"): threads are named ``<name>-<n>``
      (also their Python ``threading.current_thread().name``).
    * ``on_error`` (None): called as ``on_error(exc)`` on the worker thread
      with any exception a task (or hook) raised; every such exception is
      also appended to :attr:`errors`.
    * ``on_thread_start``, ``on_thread_exit`` (None): called with no
      argument on each worker thread, before its first task and after its
      last (``pool_options_set_thread_hooks``).

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
        on_thread_start: Optional[Callable[[], Any]] = None,
        on_thread_exit: Optional[Callable[[], Any]] = None,
    ):
        self._guard_init()
        self._hook_key = 0
        self.on_error = on_error
        #: Exceptions raised by this pool's tasks and hooks, oldest first.
        self.errors: List[BaseException] = []
        self._errors_lock = threading.Lock()

        for name, value in (("queue_size", queue_size), ("idle_timeout_ms", idle_timeout_ms), ("stack_size", stack_size)):
            if not isinstance(value, int) or value < 0:
                raise InvalidError(f"{name} must be a non-negative int, not {value!r}")
        if not isinstance(capacity, int):
            raise InvalidError(f"capacity must be an int, not {capacity!r}")
        for name, hook in (("on_thread_start", on_thread_start), ("on_thread_exit", on_thread_exit)):
            if hook is not None and not callable(hook):
                raise TypeError(f"{name} must be callable, not {hook!r}")
        capacity = max(min(capacity, 2**31 - 1), -(2**31))

        me = weakref.ref(self)

        def report(exc: BaseException) -> None:
            pool = me()
            if pool is not None:
                pool._report(exc)

        hook_key = next(_ids)
        _hooks[hook_key] = _Hooks(on_thread_start, on_thread_exit, report)
        handle = None
        opts = _lib.pool_options_new()
        if not opts:
            raise MemoryError("pool_options_new")
        try:
            _check(_lib.pool_options_set_block(opts, bool(block)))
            _check(_lib.pool_options_set_prealloc(opts, bool(prealloc)))
            _check(_lib.pool_options_set_queue_size(opts, min(queue_size, UNBOUNDED)))
            _check(_lib.pool_options_set_idle_timeout_ms(opts, min(idle_timeout_ms, _U64_MAX)))
            _check(_lib.pool_options_set_stack_size(opts, min(stack_size, UNBOUNDED)))
            _check(_lib.pool_options_set_thread_hooks(opts, _start_trampoline, _exit_trampoline, hook_key))
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
            if not handle:
                _hooks.pop(hook_key, None)
        self._handle = handle
        self._hook_key = hook_key
        _live_pools.add(self)

    # -- context manager ----------------------------------------------------

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- scheduling -----------------------------------------------------------

    def _submit(self, how: Callable[..., int], extra: Tuple[Any, ...], fn: Callable[..., Any], args: Tuple[Any, ...]) -> None:
        if not callable(fn):
            raise TypeError(f"{fn!r} is not callable")
        _schedule(self, how, extra, _Task(self, None, fn, args))

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
        self._submit(_lib.pool_schedule_timeout, (_timeout_ms(timeout),), fn, args)

    def wait(self, timeout: Optional[float] = None) -> None:
        """Blocks until every task accepted before the call has finished
        (``pool_wait``); tasks scheduled meanwhile, by other threads or by
        the tasks themselves, are not waited for. With ``timeout`` (seconds,
        0 polls) it waits at most that long (``pool_wait_timeout``) and
        raises :class:`PoolTimeoutError` if those tasks are still running.

        Raises :class:`DeadlockError` from one of this pool's own tasks,
        :class:`FreedError` once closed.
        """
        ms = _timeout_ms(timeout)
        handle = self._enter()
        try:
            if timeout is None:
                _check(_lib.pool_wait(handle))
            else:
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

    # -- control (0.2) --------------------------------------------------------

    def pause(self) -> None:
        """Workers start no task until :meth:`resume` (``pool_pause``);
        running ones finish. Schedules are accepted while the queue has room
        (a hand-off pool is full while paused). :meth:`wait` waits
        meanwhile: give it a timeout. Pausing twice is the same as once."""
        handle = self._enter()
        try:
            _check(_lib.pool_pause(handle))
        finally:
            self._leave()

    def resume(self) -> None:
        """Workers take the queued tasks again, in order (``pool_resume``)."""
        handle = self._enter()
        try:
            _check(_lib.pool_resume(handle))
        finally:
            self._leave()

    def cancel_queued(self) -> int:
        """Removes every task accepted and not yet started
        (``pool_cancel_queued``) and returns their number. They never run;
        the Futures of submitted ones (:meth:`Group.submit`) are cancelled.
        Running tasks are not touched; in hand-off mode (``queue_size`` 0)
        nothing is ever queued."""
        count = ctypes.c_uint64()
        handle = self._enter()
        try:
            status, removed = _cancelling(lambda cb, ctx: _lib.pool_cancel_queued(handle, cb, ctx, ctypes.byref(count)))
        finally:
            self._leave()
        _settle_cancelled(removed)
        _check(status)
        return count.value

    def group(self) -> "Group":
        """A new task :class:`Group` on this pool (``pool_group_new``)."""
        return Group(self)

    def _shutdown(self, cancel: bool, timeout_ms: int) -> Tuple[int, List[_Task]]:
        """``pool_shutdown``: begins shutting down (new schedules get
        :class:`FreedError`), cancelling the queued tasks if ``cancel``, and
        waits up to ``timeout_ms``. Returns the status (never raises for it;
        POOL_ERR_FREED once closed) and the removed tasks, for the caller to
        pass to _settle_cancelled."""
        try:
            handle = self._enter()
        except FreedError:
            return POOL_ERR_FREED, []
        mode = POOL_SHUTDOWN_CANCEL if cancel else POOL_SHUTDOWN_DRAIN
        try:
            return _cancelling(lambda cb, ctx: _lib.pool_shutdown(handle, mode, timeout_ms, cb, ctx, None))
        finally:
            self._leave()

    # -- state ----------------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """A :class:`Stats` snapshot (all zero once closed)."""
        raw = _Stats()
        try:
            handle = self._enter()
        except FreedError:
            return Stats(0, 0, 0, 0, 0, 0, 0)
        try:
            _lib.pool_get_stats_sized(handle, ctypes.byref(raw), ctypes.sizeof(raw))
        finally:
            self._leave()
        return Stats(
            raw.capacity,
            raw.workers,
            raw.busy,
            raw.queued,
            raw.submitted,
            raw.completed,
            raw.rejected,
            raw.cancelled,
            bool(raw.paused),
        )

    def close(self) -> None:
        """Refuses new tasks, runs every accepted one, joins the workers
        (``pool_free``). Idempotent. Calls already running in other threads
        (a blocked :meth:`schedule`, :meth:`wait`) finish first.

        Raises :class:`DeadlockError` when called from one of this pool's
        own tasks (the pool then stays open).
        """
        self._close_handle(_lib.pool_free)
        _hooks.pop(self._hook_key, None)

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
                _in_background(_free_pool, handle, self._hook_key)
            else:
                self.close()
        except BaseException:  # noqa: BLE001
            pass


# --------------------------------------------------------------------------
# Task groups.


class Group(_Guarded):
    """A subset of a pool's tasks that can be waited for on its own
    (``pool_group_*``), made by :meth:`Pool.group`. A context manager:
    leaving the block (or :meth:`close`) waits for the group's tasks and
    releases it. It may outlive its pool's :meth:`Pool.close` (then its
    schedules raise :class:`FreedError`), and must still be closed.
    """

    def __init__(self, pool: Pool):
        self._guard_init()
        self._pool = pool
        handle = pool._enter()
        try:
            ctypes.set_errno(0)
            group = _lib.pool_group_new(handle)
            err = ctypes.get_errno()
        finally:
            pool._leave()
        if not group:
            if err == errno.ECANCELED:
                raise FreedError("pool_group_new: the pool is shutting down")
            if err == errno.ECHILD:
                raise ForkedError()
            if err == errno.ENOMEM:
                raise MemoryError("pool_group_new")
            raise InvalidError(f"pool_group_new: {os.strerror(err or errno.EINVAL)}")
        self._handle = group

    @property
    def pool(self) -> Pool:
        return self._pool

    def __enter__(self) -> "Group":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def schedule(self, fn: Callable[..., Any], *args: Any) -> None:
        """Runs ``fn(*args)`` on the pool, counted in the group
        (``pool_group_schedule``: the pool's admission, blocking and
        errors). An exception it raises goes to the pool's ``errors`` and
        ``on_error``."""
        if not callable(fn):
            raise TypeError(f"{fn!r} is not callable")
        _schedule(self, _lib.pool_group_schedule, (), _Task(self._pool, self, fn, args))

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> "concurrent.futures.Future[T]":
        """Like :meth:`schedule`, for ``fn(*args, **kwargs)``, returning a
        ``concurrent.futures.Future`` that gets its result or exception (and
        is cancelled if :meth:`Pool.cancel_queued` removes the task)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        _schedule(self, _lib.pool_group_schedule, (), _FutureTask(self._pool, self, future, fn, args, kwargs, None))
        return future

    def wait(self, timeout: Optional[float] = None) -> None:
        """Blocks until every task of the group accepted before the call has
        finished or was cancelled (``pool_group_wait``); with ``timeout``
        (seconds, 0 polls) at most that long, then raises
        :class:`PoolTimeoutError`, as :meth:`Pool.wait` does. Called from a
        task of the pool, that worker runs queued tasks meanwhile; from a
        task of this group it raises :class:`DeadlockError`."""
        ms = _timeout_ms(timeout)
        handle = self._enter()
        try:
            _check(_lib.pool_group_wait(handle, ms))
        finally:
            self._leave()

    def fileno(self) -> int:
        """The group's eventfd (``pool_group_fd``), owned by the group and
        closed by :meth:`close` (do not close it): readable each time the
        group's pending count drops to 0 (and at once if nothing is pending
        when it is first asked for). Read its 8 bytes (``os.read(fd, 8)``;
        it is non-blocking) to clear it, then check ``wait(0)``: more tasks
        may have arrived. Usable with ``select``, ``selectors`` and
        ``loop.add_reader``."""
        handle = self._enter()
        try:
            ctypes.set_errno(0)
            fd: int = _lib.pool_group_fd(handle)
            err = ctypes.get_errno()
        finally:
            self._leave()
        if fd < 0:
            if err == errno.ECHILD:
                raise ForkedError()
            raise OSError(err, f"pool_group_fd: {os.strerror(err)}")
        return fd

    @property
    def stats(self) -> GroupStats:
        """A :class:`GroupStats` snapshot (all zero once closed)."""
        raw = _GroupStats()
        try:
            handle = self._enter()
        except FreedError:
            return GroupStats(0, 0, 0, 0)
        try:
            _lib.pool_group_get_stats(handle, ctypes.byref(raw), ctypes.sizeof(raw))
        finally:
            self._leave()
        return GroupStats(raw.submitted, raw.completed, raw.cancelled, raw.pending)

    def close(self) -> None:
        """Waits for the group's pending tasks, then releases it
        (``pool_group_free``). Idempotent. Raises :class:`DeadlockError`
        from a task of this group (the group then stays open)."""

        def free(handle: int) -> int:
            # Waiting first lets a worker of the pool that closes the group
            # run the queued tasks meanwhile, as pool_group_wait does.
            status: int = _lib.pool_group_wait(handle, _U64_MAX)
            if status not in (POOL_OK, POOL_ERR_FORKED):
                return status
            freed: int = _lib.pool_group_free(handle)
            return freed

        self._close_handle(free)

    def __repr__(self) -> str:
        if self.closed:
            return "<workerpool.Group closed>"
        s = self.stats
        return f"<workerpool.Group pending={s.pending} submitted={s.submitted} completed={s.completed}>"

    def __del__(self) -> None:
        # As Pool.__del__: pending tasks hold their group.
        try:
            handle = getattr(self, "_handle", None)
            if handle is None:
                return
            if _running_in(self):
                self._handle = None
                _in_background(_lib.pool_group_free, handle)
            else:
                self.close()
        except BaseException:  # noqa: BLE001
            pass


# --------------------------------------------------------------------------
# concurrent.futures.


_LOGGER = logging.getLogger("concurrent.futures")
_executor_counter = itertools.count()


class _Initializer:
    """The Executor's on_thread_start hook: ``initializer(*initargs)``; if it
    raises, the executor is broken, as ThreadPoolExecutor's."""

    __slots__ = ("state", "fn", "args")

    def __init__(self, state: _ExecutorState, fn: Callable[..., object], args: Tuple[Any, ...]) -> None:
        self.state = state
        self.fn = fn
        self.args = args

    def __call__(self) -> None:
        try:
            self.fn(*self.args)
        except BaseException:  # noqa: BLE001
            _LOGGER.critical("Exception in initializer:", exc_info=True)
            self.state.broken = "A thread initializer failed, the thread pool is not usable anymore"


class Executor(concurrent.futures.Executor):
    """A ``concurrent.futures.Executor`` over a workerpool :class:`Pool`:
    a drop-in for ``ThreadPoolExecutor``.

    * ``max_workers`` (None: ``min(32, os.cpu_count() + 4)``, as
      ThreadPoolExecutor): the pool's capacity (at most 10000); workers
      start on demand.
    * ``thread_name_prefix`` (""): worker threads are named
      ``<prefix>-<n>`` (default prefix ``Executor-<k>``).
    * ``initializer``, ``initargs``: ``initializer(*initargs)`` runs on each
      worker thread before its first task (the pool's thread start hook);
      if it raises, the executor is broken: pending and later futures fail
      with ``BrokenThreadPool``, and :meth:`submit` raises it.
    * keyword only, the pool's options: ``queue_size`` (:data:`UNBOUNDED`,
      so that submit never blocks, as ThreadPoolExecutor's; a bound makes
      :meth:`submit` wait for room), ``prealloc``, ``idle_timeout_ms``,
      ``stack_size``.

    Tasks hold the GIL while they run Python code, as with
    ThreadPoolExecutor.
    """

    def __init__(
        self,
        max_workers: Optional[int] = None,
        thread_name_prefix: str = "",
        initializer: Optional[Callable[..., object]] = None,
        initargs: Tuple[Any, ...] = (),
        *,
        queue_size: int = UNBOUNDED,
        prealloc: bool = False,
        idle_timeout_ms: int = 0,
        stack_size: int = 0,
    ) -> None:
        if max_workers is None:
            max_workers = min(32, (os.cpu_count() or 1) + 4)
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._exec_state = _ExecutorState()
        self._shutdown_flag = False
        self._shutdown_lock = threading.Lock()
        self._pool = Pool(
            max_workers,
            queue_size=queue_size,
            prealloc=prealloc,
            idle_timeout_ms=idle_timeout_ms,
            stack_size=stack_size,
            thread_name=thread_name_prefix or f"Executor-{next(_executor_counter)}",
            on_thread_start=(
                _Initializer(self._exec_state, initializer, tuple(initargs)) if initializer is not None else None
            ),
        )

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> "concurrent.futures.Future[T]":
        """Schedules ``fn(*args, **kwargs)`` and returns its Future. Raises
        ``RuntimeError`` after :meth:`shutdown`, ``BrokenThreadPool`` once an
        initializer failed."""
        state = self._exec_state
        if state.broken is not None:
            raise BrokenThreadPool(state.broken)
        if self._shutdown_flag:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        pool = self._pool
        try:
            _schedule(pool, _lib.pool_schedule, (), _FutureTask(pool, None, future, fn, args, kwargs, state))
        except FreedError:
            raise RuntimeError("cannot schedule new futures after shutdown") from None
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuses new futures; with ``cancel_futures`` cancels those not yet
        started (``pool_shutdown`` in its cancel mode: each removed task's
        Future reports ``cancelled()``), else they still run. With ``wait``
        returns once every task has finished and every worker is joined
        (``pool_free``); without, at once. May be called again (to wait, or
        to cancel what is left). From one of the executor's own tasks the
        shutdown runs on a helper thread, and ``wait=True`` raises
        :class:`DeadlockError` (it would wait for itself)."""
        with self._shutdown_lock:
            self._shutdown_flag = True
            status, removed = self._pool._shutdown(cancel_futures, 0)
        # Their Futures are cancelled outside the lock: a done-callback may
        # call shutdown() again.
        _settle_cancelled(removed)
        if status == POOL_ERR_DEADLOCK:
            # One of our own workers: the pool can only be shut down from
            # another thread. (pool_shutdown did nothing.)
            _in_background(self._shutdown_elsewhere, cancel_futures)
            if wait:
                raise DeadlockError("Executor.shutdown(wait=True) from one of its own tasks")
            return
        if wait:
            self._pool.close()

    def _shutdown_elsewhere(self, cancel_futures: bool) -> None:
        with self._shutdown_lock:
            _, removed = self._pool._shutdown(cancel_futures, 0)
        _settle_cancelled(removed)
        self._pool.close()

    def __repr__(self) -> str:
        state = "shutdown" if self._shutdown_flag else "running"
        return f"<workerpool.Executor {state} {self._pool!r}>"


@atexit.register
def _close_live_pools() -> None:
    # Run the accepted tasks and join the workers while the interpreter can
    # still run Python callbacks (tasks and the thread hooks).
    for pool in list(_live_pools):
        try:
            pool.close()
        except BaseException:  # noqa: BLE001
            pass
    with _background_lock:
        helpers = list(_background_threads)
    for t in helpers:
        t.join()
