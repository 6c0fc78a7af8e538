"""Another Ray driver reaches the app through serve.get_app_handle, without HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contract.scheme import Recommendation

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_python_driver_calls_the_app_through_a_handle(cluster):
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "call_with_handle.py")],
        env=cluster.env, cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    answer = Recommendation.model_validate_json(run.stdout.strip().splitlines()[-1])
    assert len(answer.schemes) == 2
    assert all("#b08d7a" in {c.hex for c in s.palette.colors} for s in answer.schemes)
    assert answer.backend == "onnxruntime"


def test_python_driver_sends_a_batch_through_a_handle(cluster):
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "call_with_handle.py"), "--batch"],
        env=cluster.env, cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    answers = [Recommendation.model_validate_json(line) for line in run.stdout.strip().splitlines()[-4:]]
    assert len({a.request_id for a in answers}) == 4
    assert all(a.schemes[0].layout.heatmap_encoding == "u8_base64" for a in answers)
