"""model_bench run: agreement is against FP32 even when --only leaves FP32 out, and --threads reaches ONNX Runtime
(stub backends: no model is loaded)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import model_bench


class StubBackend:
    def __init__(self, precision: str, seed: int) -> None:
        self.precision, self.rng = precision, np.random.default_rng(seed)

    def infer(self, ids, mask, features):
        n = len(ids)
        ranking = np.tile(np.arange(20), (n, 1))
        return {"style_probs": self.rng.random((n, 6)), "palette_ids": self.rng.permuted(ranking, axis=1),
                "font_ids": self.rng.permuted(ranking, axis=1), "palette_scores": self.rng.random((n, 20)),
                "layout": self.rng.random((n, 4))}

    def close(self) -> None:
        pass


@pytest.fixture
def stubbed(tmp_path, monkeypatch):
    inputs = tmp_path / "inputs.npz"
    arrays = {}
    for kind in ("typical", "long"):
        arrays[f"{kind}_ids"] = np.ones((64, 8), dtype=np.int64)
        arrays[f"{kind}_mask"] = np.ones((64, 8), dtype=np.int64)
        arrays[f"{kind}_features"] = np.zeros((64, 3), dtype=np.float32)
    np.savez(inputs, **arrays)
    monkeypatch.setattr(model_bench, "INPUTS", inputs)
    created = []

    def create_backend(name, **options):
        created.append((name, options))
        # Every backend answers differently, so a variant against itself would be the only 1.0.
        return StubBackend(options["precision"], seed=len(created))

    import inference.registry

    monkeypatch.setattr(inference.registry, "create_backend", create_backend)
    return created


def test_only_a_variant_is_still_compared_with_fp32(stubbed, tmp_path):
    report = model_bench.run(tmp_path / "out.json", 0.0, (1,), ("typical",), ["onnxruntime-cpu-int8"],
                             cpu_variants=True, threads=2)
    assert {r["config"] for r in report["results"]} == {"onnxruntime-cpu-int8"}
    assert report["results"][0]["palette_top5"] < 0.9  # against the FP32 stub, not 1.000 against itself
    assert [o["precision"] for _, o in stubbed] == ["fp32", "int8"]


def test_threads_reach_onnxruntime_outside_cpu_variants(stubbed, tmp_path):
    model_bench.run(tmp_path / "out.json", 0.0, (1,), ("typical",), ["onnxruntime-cpu-fp32", "onnxruntime-cpu-int8"],
                    threads=3)
    assert [o.get("intra_op_threads") for name, o in stubbed if name == "onnxruntime"] == [3, 3]


def test_agreement_is_na_without_an_fp32_reference(stubbed, tmp_path, monkeypatch):
    monkeypatch.setattr(model_bench, "cpu_variant_configurations", lambda threads: [
        ("onnxruntime-cpu-int8", {"backend": "onnxruntime", "precision": "int8"})])
    report = model_bench.run(tmp_path / "out.json", 0.0, (1,), ("typical",), None, cpu_variants=True)
    assert report["results"][0]["style_top1"] is None
    assert "| n/a |" in model_bench.markdown(report)


def test_only_naming_no_configuration_stops_before_anything_loads(stubbed, tmp_path):
    """A misspelt --only used to load and time nothing and write an empty report."""
    with pytest.raises(SystemExit, match="no configuration named onnxruntime-cpu-int9"):
        model_bench.run(tmp_path / "out.json", 0.0, (1,), ("typical",), ["onnxruntime-cpu-int9"], cpu_variants=True)
    assert stubbed == [] and not (tmp_path / "out.json").exists()
