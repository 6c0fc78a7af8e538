"""Corrupt or mismatched model files at start-up: a clear BackendUnavailable naming the file, a fallback to the
next backend where there is one, a start-up failure that says why where there is none; and a backend that
breaks after start-up fails the replica's health check. Real files throughout (copies of the shipped ONNX).
"""

from __future__ import annotations

import asyncio
import shutil

import pytest

from inference.base import BackendUnavailable
from inference.registry import create_backend, select_backend
from model.artifacts import label_tables, onnx_path


@pytest.fixture(scope="module")
def truncated(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "recommender.truncated.onnx"
    data = onnx_path("fp32").read_bytes()
    path.write_bytes(data[: len(data) // 2])  # an interrupted copy / download
    return path


@pytest.fixture(scope="module")
def mismatched(tmp_path_factory):
    """The real model, its metadata saying it was built against another palette table."""
    path = tmp_path_factory.mktemp("models") / "recommender.mismatched.onnx"
    shutil.copyfile(onnx_path("fp32"), path)
    real = label_tables()["palette_table_sha"].encode()
    data = path.read_bytes()
    assert data.count(real) == 1
    path.write_bytes(data.replace(real, b"0" * len(real)))  # same length: the protobuf stays valid
    return path


def test_truncated_onnx_is_a_clear_error_naming_the_file(truncated):
    with pytest.raises(BackendUnavailable, match=f"cannot load {truncated}"):
        create_backend("onnxruntime", model_path=str(truncated))


def test_mismatched_onnx_is_refused_with_the_reason(mismatched):
    with pytest.raises(BackendUnavailable, match="palette_table_sha differ"):
        create_backend("onnxruntime", model_path=str(mismatched))


@pytest.mark.parametrize("bad", ["truncated", "mismatched"])
def test_bad_quantised_model_falls_back_to_the_fp32_reference(bad, request):
    path = request.getfixturevalue(bad)
    backend = select_backend("auto", {"onnxruntime": {"precision": "int8", "model_path": str(path)}})
    assert backend.info.name == "onnxruntime" and backend.info.precision == "fp32"
    assert backend.info.detail["model_path"] == str(onnx_path("fp32"))
    reasons = backend.info.detail["fallback_reasons"]
    assert any(str(path) in r for r in reasons), reasons  # the log and /healthz-style detail name the bad file
    backend.warmup((1,))


def test_nothing_left_fails_start_up_naming_every_reason(truncated, monkeypatch):
    # The FP32 reference itself is corrupt too: there is nothing left, so the replica must not start.
    monkeypatch.setitem(onnx_path.__globals__["ONNX_FILES"], "fp32", truncated)
    with pytest.raises(BackendUnavailable) as err:
        select_backend("auto", {"onnxruntime": {"precision": "fp32"}})
    message = str(err.value)
    assert message.startswith("no inference backend can run here")
    assert "tensorrt:" in message and "torch:" in message and str(truncated) in message


def test_recommender_start_up_with_a_corrupt_model_fails_clearly(truncated, monkeypatch):
    # The replica constructor raises (Serve reports the deployment DEPLOY_FAILED with this message)
    # instead of serving garbage or crash-looping silently.
    from serve_app.recommender import Recommender

    monkeypatch.setitem(onnx_path.__globals__["ONNX_FILES"], "fp32", truncated)
    with pytest.raises(BackendUnavailable, match=f"cannot load {truncated}"):
        Recommender.func_or_class("auto", {"onnxruntime": {"intra_op_threads": 1}})


def test_health_check_fails_once_the_backend_breaks():
    from serve_app.recommender import Recommender

    replica = Recommender.func_or_class("onnxruntime", {"onnxruntime": {"intra_op_threads": 1}})
    asyncio.run(replica.check_health())  # a real inference: healthy
    replica.backend.close()  # its ONNX Runtime session is gone, as after a lost device or a fatal error
    with pytest.raises(Exception):  # noqa: B017 - any failure makes Serve mark the replica unhealthy
        asyncio.run(replica.check_health())
