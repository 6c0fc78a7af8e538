"""The calibration the GPU runs record first: one JSON line with the CPU model and two positive timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_prints_the_cpu_and_two_timings():
    run = subprocess.run([sys.executable, "-m", "benchmarks.cpu_calibration", "--cpu", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["cpu_model"] and report["cores"] >= 1
    assert report["numpy_tiny_call_us"] > 0 and report["python_loop_step_ns"] > 0
