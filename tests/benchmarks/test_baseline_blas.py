"""The plain baseline's processes run one BLAS thread, as Ray gives each Serve replica: with OpenBLAS's default (a
thread per core) its post-processing spun a second core from passes of ~8 briefs, so the baseline paid up to twice
the CPU a brief the Serve graph paid for the same batch functions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import benchmarks.baseline_server, numpy; from threadpoolctl import threadpool_info; "
         "print(sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}))")


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: BLAS starts one thread whatever is set")
def test_a_baseline_worker_runs_one_blas_thread():
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                               "MKL_NUM_THREADS")}
    # What a process that sets nothing gets here, so the check below can fail.
    default = subprocess.run([sys.executable, "-c", PROBE.replace("import benchmarks.baseline_server, ", "import ")],
                             cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert default.stdout.strip() != "[1]", "this machine's BLAS starts one thread anyway: the test cannot fail"
    probe = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                           check=True)
    assert probe.stdout.strip() == "[1]", probe.stdout + probe.stderr[-2000:]
