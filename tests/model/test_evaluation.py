"""The held-out eval passes for the trained model and fails for random weights (so it can fail); likewise the
model's own fit to the brief (issue 15's "model alone" columns) clears its floors only with trained weights."""

import pytest
import torch

from evaluation.__main__ import FIT_FLOORS, evaluate, evaluate_fit, verdicts
from inference.onnxruntime_backend import OnnxRuntimeBackend

pytestmark = pytest.mark.slow
SMALL = {"n_briefs": 200, "n_tone": 20}
FIT_BRIEFS = 100


@pytest.fixture(scope="module")
def random_model(tmp_path_factory) -> str:
    from safetensors.torch import save_file

    from model.design_tensors import load_design_tensors
    from model.export import export
    from model.checkpoint import build_heads, trainable_state

    torch.manual_seed(1234)
    tmp = tmp_path_factory.mktemp("random")
    heads = build_heads(load_design_tensors()).eval()
    # Every learned parameter at random, the palette rule term's weight too: it starts at the teacher's own value
    # (RULE_WEIGHT_INIT), which would grade the rule term rather than random weights.
    heads.rule_weight.data = torch.randn(())
    save_file(trainable_state(heads), str(tmp / "heads.safetensors"))
    export(tmp / "random.onnx", heads_path=tmp / "heads.safetensors")
    return str(tmp / "random.onnx")


@pytest.fixture(scope="module")
def trained():
    return evaluate(OnnxRuntimeBackend(), **SMALL)


@pytest.fixture(scope="module")
def random_weights(random_model):
    return evaluate(OnnxRuntimeBackend(model_path=random_model), **SMALL)


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


def test_model_alone_fit_floor_trained_passes_random_fails(random_model):
    trained_fit, _ = evaluate_fit(OnnxRuntimeBackend(), FIT_BRIEFS)
    random_fit, _ = evaluate_fit(OnnxRuntimeBackend(model_path=random_model), FIT_BRIEFS)
    assert all(verdicts(trained_fit, FIT_FLOORS).values()), {k: trained_fit[k] for k in FIT_FLOORS}
    for key in ("fit_all_en_model_alone", "fit_all_zh_model_alone"):
        assert not verdicts(random_fit, FIT_FLOORS)[key], (key, random_fit[key])
