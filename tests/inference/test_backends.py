"""Backend selection and the backends that can run on this machine (ONNX Runtime, torch CPU)."""

import numpy as np
import pytest

from inference.base import BackendUnavailable
from inference.registry import create_backend, select_backend
from pipeline.feature_layout import FEATURE_DIM
from pipeline.tokenization import encode_texts


def batch():
    ids, mask = encode_texts(["refreshing summer can", "luxury tea gift box for mid-autumn"])
    features = np.zeros((2, FEATURE_DIM), dtype=np.float32)
    features[:, 0] = 1.0
    return ids, mask, features


def test_auto_picks_onnxruntime_on_a_cpu_machine():
    backend = select_backend("auto")
    assert backend.info.name == "onnxruntime"
    reasons = backend.info.detail["fallback_reasons"]
    assert any(r.startswith("tensorrt:") for r in reasons) and any(r.startswith("torch:") for r in reasons)


@pytest.mark.parametrize("requested", ["tensorrt", "torch"])
def test_unavailable_backend_falls_back_cleanly(requested):
    backend = select_backend(requested)
    assert backend.info.name == "onnxruntime"
    assert backend.infer(*batch())["style_probs"].shape == (2, 14)


def test_unknown_backend_is_a_configuration_error():
    with pytest.raises(ValueError):
        select_backend("tflite")


def test_corrupt_model_file_is_unavailable_not_a_crash(tmp_path):
    corrupt = tmp_path / "recommender.onnx"
    corrupt.write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(BackendUnavailable):
        create_backend("onnxruntime", model_path=str(corrupt))
    with pytest.raises(BackendUnavailable):
        create_backend("onnxruntime", model_path=str(tmp_path / "missing.onnx"))


def test_torch_cpu_and_onnxruntime_agree():
    torch_backend = create_backend("torch", device="cpu", cuda_graphs=False)
    ort_backend = create_backend("onnxruntime")
    a, b = torch_backend.infer(*batch()), ort_backend.infer(*batch())
    assert np.abs(a["style_probs"] - b["style_probs"]).max() < 1e-4
    assert (a["palette_ids"][:, :5] == b["palette_ids"][:, :5]).all()
    assert np.abs(a["layout"] - b["layout"]).max() < 1e-4
