"""The held-out eval passes for the trained model and fails for random weights (so it can fail)."""

import pytest
import torch

from evaluation.__main__ import evaluate, verdicts
from inference.onnxruntime_backend import OnnxRuntimeBackend

pytestmark = pytest.mark.slow
SMALL = {"n_briefs": 200, "n_tone": 20}


@pytest.fixture(scope="module")
def trained():
    return evaluate(OnnxRuntimeBackend(), **SMALL)


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    from safetensors.torch import save_file

    from model.design_tensors import load_design_tensors
    from model.export import export
    from model.checkpoint import build_heads, trainable_state

    torch.manual_seed(1234)
    tmp = tmp_path_factory.mktemp("random")
    save_file(trainable_state(build_heads(load_design_tensors()).eval()), str(tmp / "heads.safetensors"))
    export(tmp / "random.onnx", heads_path=tmp / "heads.safetensors")
    return evaluate(OnnxRuntimeBackend(model_path=str(tmp / "random.onnx")), **SMALL)


def test_trained_model_passes_the_ranking_and_answer_checks(trained):
    ok = verdicts(trained)
    for key in ("ndcg5_style", "ndcg5_palette", "ndcg5_font", "text_contrast_ok", "morandi_low_chroma",
                "neon_high_chroma"):
        assert ok[key], (key, trained[key])
    assert trained["text_contrast_ok"] == 1.0


def test_random_weights_fail_the_eval(trained, random_weights):
    ok = verdicts(random_weights)
    assert not all(ok.values())
    for key in ("ndcg5_palette", "ndcg5_font", "ndcg5_style"):
        assert random_weights[key] < trained[key] - 0.15, (key, random_weights[key], trained[key])
