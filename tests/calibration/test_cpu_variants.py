"""CPU variants: fusion that really happens, gates that reject a broken variant, and the build's choice."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from calibration.cpu_variants import (choose, export_torchscript, fuse, fusion_counts, gate, held_out_batches,
                                      quantize_int8, run_outputs, session)
from calibration.gates import GOALS, failures
from model.artifacts import onnx_path


@pytest.fixture(scope="module")
def briefs():
    batches = held_out_batches(128, batch=64)
    rows = [r for i, m, f in batches for r in zip(i, m, f)][:16]
    return {"batch64": batches,
            "batch1": [(i[None, : int(m.sum())], m[None, : int(m.sum())], f[None]) for i, m, f in rows]}


@pytest.fixture(scope="module")
def reference(briefs):
    sess = session(onnx_path("fp32"), "fp32", 1)
    return {key: run_outputs(sess, batches) for key, batches in briefs.items()}


def outputs(path, variant, briefs):
    sess = session(path, variant, 1)
    return {key: run_outputs(sess, batches) for key, batches in briefs.items()}


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpu")
    export_torchscript(root / "ts.onnx")
    counts = {"fp32_fused": fuse(root / "ts.onnx", root / "fused.onnx", skip_layer_norm=True),
              "fp32_fused_ln": fuse(root / "ts.onnx", root / "fused_ln.onnx", skip_layer_norm=False)}
    quantize_int8(root / "fused_ln.onnx", root / "int8.onnx")
    counts["int8_cpu"] = fusion_counts(root / "int8.onnx")
    paths = {"fp32_fused": root / "fused.onnx", "fp32_fused_ln": root / "fused_ln.onnx", "int8_cpu": root / "int8.onnx"}
    return paths, counts


def test_fusion_is_real(variants):
    paths, counts = variants
    # MiniLM-L6: 6 attention blocks, 2 residual + LayerNorm per block, 6 FFN GELUs (+2 in the heads' MLP).
    assert counts["fp32_fused"] | {"int8_ops": 0} == {"Attention": 6, "SkipLayerNorm": 12, "Gelu": 8,
                                                        "LayerNormalization": 2, "int8_ops": 0}
    assert counts["fp32_fused_ln"]["Attention"] == 6 and counts["fp32_fused_ln"]["SkipLayerNorm"] == 0
    assert counts["int8_cpu"]["Attention"] == 6 and counts["int8_cpu"]["int8_ops"] == 24  # 6 QAttention + 18 MatMul
    # The plain FP32 file has nothing fused; at load time ONNX Runtime fuses its residual LayerNorms itself but
    # not its attention. The *_ln variants keep the pair unfused at run time too.
    assert fusion_counts(onnx_path("fp32"))["Attention"] == 0
    runtime = fusion_counts(onnx_path("fp32"), runtime=True)
    assert runtime["Attention"] == 0 and runtime["SkipLayerNorm"] == 12
    assert fusion_counts(paths["fp32_fused_ln"], runtime=True, disabled_optimizers=("SkipLayerNormFusion",))[
        "SkipLayerNorm"] == 0


def test_fused_fp32_matches_the_reference(variants, briefs, reference):
    paths, _ = variants
    for name in ("fp32_fused", "fp32_fused_ln"):
        got = outputs(paths[name], name, briefs)
        result = gate(reference, got)
        assert result["passed"], result["failures"]
        assert np.abs(got["batch64"]["style_probs"] - reference["batch64"]["style_probs"]).max() < 1e-4


def test_int8_is_measured_against_the_same_goals(variants, briefs, reference):
    paths, _ = variants
    result = gate(reference, outputs(paths["int8_cpu"], "int8_cpu", briefs))
    assert set(result["agreement"]) == {"batch64", "batch1"}
    assert result["passed"] == (not failures(result["agreement"]["batch64"]) and not failures(result["agreement"]["batch1"]))


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """The reference with the embedding LayerNorm's scale jittered by 20 %: runs fine, answers differently."""
    model = onnx.load(str(onnx_path("fp32")))
    gamma = next(i for i in model.graph.initializer if tuple(i.dims) == (384,) and "embed_norm" in i.name)
    values = onnx.numpy_helper.to_array(gamma) * (1 + 0.2 * np.random.default_rng(0).standard_normal(384))
    gamma.CopyFrom(onnx.numpy_helper.from_array(values.astype(np.float32), gamma.name))
    path = tmp_path_factory.mktemp("broken") / "broken.onnx"
    onnx.save_model(model, str(path))
    return path


def test_gate_rejects_a_broken_variant_and_the_choice_serves_fp32(broken, briefs, reference):
    result = gate(reference, outputs(broken, "fp32", briefs))
    assert not result["passed"]
    assert any("style_top1" in f or "palette_top5" in f for f in result["failures"]), result["failures"]
    fast = {"briefs_per_s": {"1": 1000.0, "32": 5000.0}}
    slow = {"briefs_per_s": {"1": 100.0, "32": 200.0}}
    served, reason = choose({"fp32": {"passed": True, **slow}, "broken": {**result, **fast}})
    assert served == "fp32" and "broken" in reason
    served, _ = choose({"fp32": {"passed": True, **slow}, "broken": {**result, **fast},
                        "ok": {"passed": True, "briefs_per_s": {"1": 300.0, "32": 600.0}}})
    assert served == "ok"
    assert choose({"broken": {**result, **fast}})[0] == "fp32"


def test_goals_are_the_precision_reports():
    from evaluation.precision import GOALS as REPORTED

    assert GOALS == REPORTED == {"palette_top5": 0.98, "font_top5": 0.98, "style_top1": 0.99}
    assert failures({"palette_top5": 0.99, "font_top5": 0.99, "style_top1": 0.99}) == []
    assert len(failures({"palette_top5": 0.979, "font_top5": float("nan"), "style_top1": 1.0})) == 2


def test_an_up_to_date_build_is_redone_for_other_threads_or_kept_layers(tmp_path, monkeypatch):
    from calibration import cpu_variants

    manifest = tmp_path / "cpu_manifest.json"
    manifest.write_text('{"served": "int8_cpu", "threads": 2, "variants": {"int8_cpu": {"keep_fp32": ["/output/"]}}}')
    monkeypatch.setattr(cpu_variants, "up_to_date", lambda path: True)

    class Rebuilt(Exception):
        pass

    def export(path):
        raise Rebuilt

    monkeypatch.setattr(cpu_variants, "export_torchscript", export)
    for same in ({}, {"threads": 2}, {"keep_fp32": ("/output/",)}, {"threads": 2, "keep_fp32": ("/output/",)}):
        assert cpu_variants.build(manifest_path=manifest, **same)["served"] == "int8_cpu"
    for other in ({"threads": 1}, {"keep_fp32": ()}, {"keep_fp32": ("/output/", "/attention/")}):
        with pytest.raises(Rebuilt):
            cpu_variants.build(manifest_path=manifest, **other)
