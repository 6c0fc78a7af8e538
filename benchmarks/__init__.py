"""Benchmarks: model level (backends x precisions x batch sizes) and end to end (load on the Serve app)."""

from __future__ import annotations

import argparse
import math
import os


def one_blas_thread() -> None:
    """Call before numpy is imported: its BLAS then starts with one thread, in this process and the children it
    spawns, so a benchmark's figures are one core's."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"


# argparse types shared by the benchmarks' command lines: a degenerate count exits 2 with a clear message before
# any work starts, rather than an IndexError or a mean over nothing after minutes of set-up.
def at_least(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in "invalid int value: 'x'"
    return parse


positive_int = at_least(1)


def positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be > 0 and finite, got {text}")
    return value


positive_float.__name__ = "float"
