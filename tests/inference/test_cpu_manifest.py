"""Precision "auto": replicas serve what the build's CPU manifest names, and FP32 whenever that cannot be trusted."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

import model.artifacts as artifacts
from inference.registry import select_backend
from model.artifacts import file_sha256, onnx_path, reference_sha256

AUTO = {"onnxruntime": {"precision": "auto", "intra_op_threads": 1}}


@pytest.fixture(scope="module")
def good_copy(tmp_path_factory):
    path = tmp_path_factory.mktemp("variants") / "recommender.cpu-fp32-fused.onnx"
    shutil.copyfile(onnx_path("fp32"), path)
    return path


@pytest.fixture
def manifest(tmp_path, monkeypatch, good_copy):
    """Point the artefacts at a temporary manifest naming fp32_fused (a real model file)."""
    path = tmp_path / "cpu_manifest.json"
    monkeypatch.setattr(artifacts, "CPU_MANIFEST", path)
    monkeypatch.setitem(artifacts.ONNX_FILES, "fp32_fused", good_copy)

    def write(served="fp32_fused", passed=True, sha=None, reference=None):
        path.write_text(json.dumps({
            "served": served, "reference_onnx_sha256": reference or reference_sha256(),
            "variants": {"fp32_fused": {"passed": passed, "sha256": sha or file_sha256(good_copy)}}}))
        return path
    return write


def test_auto_serves_the_variant_the_manifest_names(manifest, good_copy):
    manifest()
    backend = select_backend("onnxruntime", AUTO)
    assert backend.info.precision == "fp32_fused"
    assert backend.info.detail["model_path"] == str(good_copy)
    assert backend.info.detail["model_version"].endswith("+fp32_fused")  # answers and /healthz say which
    assert backend.info.detail["requested_precision"] == "auto"
    backend.warmup((1,))


def test_a_corrupt_variant_falls_back_to_fp32_with_a_clear_log_line(manifest, good_copy, tmp_path, monkeypatch,
                                                                     caplog):
    truncated = tmp_path / "recommender.cpu-fp32-fused.onnx"
    truncated.write_bytes(good_copy.read_bytes()[: good_copy.stat().st_size // 2])
    manifest(sha=file_sha256(good_copy))
    monkeypatch.setitem(artifacts.ONNX_FILES, "fp32_fused", truncated)
    with caplog.at_level(logging.WARNING, logger="packdesign.inference"):
        backend = select_backend("onnxruntime", AUTO)
    assert backend.info.precision == "fp32" and backend.info.detail["model_path"] == str(onnx_path("fp32"))
    assert not backend.info.detail["model_version"].endswith("+fp32_fused")
    assert any(str(truncated) in r for r in backend.info.detail["fallback_reasons"])
    assert "falling back to the FP32 reference" in caplog.text
    backend.warmup((1,))


def test_a_replaced_variant_is_not_served(manifest):
    manifest(sha="0" * 64)  # the file on disk is not the one the gates passed
    backend = select_backend("onnxruntime", AUTO)
    assert backend.info.precision == "fp32"
    assert any("differs from the file the CPU manifest's gates passed" in r
               for r in backend.info.detail["fallback_reasons"])


@pytest.mark.parametrize("case", ["missing", "corrupt", "stale", "failed", "unknown"])
def test_untrusted_manifest_serves_fp32_and_says_why(case, manifest, tmp_path, monkeypatch, caplog):
    if case == "missing":
        monkeypatch.setattr(artifacts, "CPU_MANIFEST", tmp_path / "nowhere.json")
    elif case == "corrupt":
        manifest().write_text('{"served": "fp32_fu')
    elif case == "stale":
        manifest(reference="f" * 64)
    elif case == "failed":
        manifest(passed=False)
    else:
        manifest(served="int4_magic")
    with caplog.at_level(logging.WARNING, logger="packdesign.inference"):
        backend = select_backend("onnxruntime", AUTO)
    assert backend.info.precision == "fp32"
    assert "precision auto:" in caplog.text and "serving the FP32 reference" in caplog.text


def test_the_built_manifest_is_what_auto_serves():
    if not artifacts.CPU_MANIFEST.exists():
        pytest.skip("no CPU manifest yet (make model builds it)")
    from calibration.cpu_variants import up_to_date

    served = json.loads(artifacts.CPU_MANIFEST.read_text())["served"] if up_to_date() else "fp32"  # stale: FP32
    backend = select_backend("onnxruntime", AUTO)
    assert backend.info.precision == served and not backend.info.detail["fallback_reasons"]
