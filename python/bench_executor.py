"""workerpool.Executor against concurrent.futures.ThreadPoolExecutor, same
machine, same run: the cost of ``submit`` + ``result`` per task.

    cargo build --release && python3 python/bench_executor.py [--tasks N] [--runs R] [--workers W]

Two workloads, each task a no-op (``int``, no argument):

* round trip: ``ex.submit(fn).result()`` one task at a time, so each task
  pays a submit, a hand-over to a worker and the wake-up of the caller;
* batch: N submits, then N ``result()`` calls (throughput).

The two executors are interleaved run by run (A, B, A, B, ...) after one
untimed warm-up run each, on executors made once (workers already started).
Prints the median and the range (min-max) over the runs, in microseconds per
task, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workerpool  # noqa: E402


def round_trip(ex: concurrent.futures.Executor, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        ex.submit(int).result()
    return time.perf_counter() - t0


def batch(ex: concurrent.futures.Executor, n: int) -> float:
    t0 = time.perf_counter()
    fs = [ex.submit(int) for _ in range(n)]
    for f in fs:
        f.result()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()

    executors: Dict[str, concurrent.futures.Executor] = {
        "workerpool.Executor": workerpool.Executor(max_workers=a.workers),
        "ThreadPoolExecutor": concurrent.futures.ThreadPoolExecutor(max_workers=a.workers),
    }
    workloads: Dict[str, Callable[[concurrent.futures.Executor, int], float]] = {
        "round trip (submit(f).result())": round_trip,
        "batch (N submits, then N results)": batch,
    }
    print(
        f"python {platform.python_version()}, workerpool {workerpool.version()}, "
        f"{os.cpu_count()} CPUs, {a.workers} workers, {a.tasks} tasks x {a.runs} runs, "
        f"load average before {os.getloadavg()[0]:.2f}"
    )
    print()
    print("| workload | workerpool.Executor (us/task) | ThreadPoolExecutor (us/task) | ratio |")
    print("|---|---|---|---|")
    for wname, work in workloads.items():
        times: Dict[str, List[float]] = {name: [] for name in executors}
        for ex in executors.values():  # warm-up: threads started, caches hot
            work(ex, a.tasks // 4)
        for _ in range(a.runs):
            for name, ex in executors.items():
                times[name].append(work(ex, a.tasks) / a.tasks * 1e6)
        cells = []
        for name in executors:
            t = times[name]
            cells.append(f"{statistics.median(t):.2f} ({min(t):.2f}-{max(t):.2f})")
        ratio = statistics.median(times["workerpool.Executor"]) / statistics.median(times["ThreadPoolExecutor"])
        print(f"| {wname} | {cells[0]} | {cells[1]} | {ratio:.2f}x |")
    for ex in executors.values():
        ex.shutdown()
    print()
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
