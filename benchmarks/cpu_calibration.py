"""How fast one core of this machine runs the kind of code the request path is made of, so that ms of CPU per
request can be compared across machines and machine starts: the device tool's GPU machines are VMs whose image and
host change between sessions, and the same code has used about twice the CPU a request on one start as on another.

    python -m benchmarks.cpu_calibration [--cpu 12]

Prints the CPU model and the best of many timings, after a warm-up spin, of two fixed workloads on one pinned core:
many numpy calls on tiny arrays (post-processing at a micro-batch of one is mostly that) and a pure-Python loop.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    except OSError:
        return platform.processor() or "?"


# A warm-up spin first, then many repeats: on the GPU node's VM two calls of one machine start read 1.24 and 0.64 us
# a numpy call when seven repeats (~20 ms in all, right at process start) were kept. On 2 cores, five processes each
# way: 0.65-1.07 us before, 0.62-0.95 with this (four of five within 0.62-0.65).
WARM_UP_S = 0.3


def _best_us(work, repeats: int = 30) -> float:
    until = time.perf_counter() + WARM_UP_S
    while time.perf_counter() < until:
        work()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best * 1e6


def small_numpy(calls: int = 2000) -> None:
    a, b = np.linspace(0.1, 1.0, 24).reshape(8, 3), np.linspace(1.0, 2.0, 24).reshape(8, 3)
    for _ in range(calls // 4):
        c = np.sqrt(a * b)
        d = np.arctan2(c, b)
        np.maximum(d, a, out=d)
        d.sum(axis=1)


def python_loop(steps: int = 100_000) -> None:
    total = 0
    for i in range(steps):
        total += i % 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int, help="pin to this core first")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    report = {"cpu_model": _cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
              "numpy_tiny_call_us": round(_best_us(small_numpy) / 2000, 3),
              "python_loop_step_ns": round(_best_us(python_loop) * 1000 / 100_000, 2)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
