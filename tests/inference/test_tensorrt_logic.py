"""TensorRT build/runtime logic that does not need TensorRT: profiles from the serving config, engine
naming, sidecar compatibility checks, and the engine-I/O planning the runtime does after deserialising.

`EngineIO` takes plain TensorSpec records; `FakeEngine` below is an honest test double of the few engine
*metadata* getters `EngineIO.from_engine` reads (names, modes, dtypes, shapes, profile shapes), built from
what our ONNX graph declares. It does not pretend to run anything."""

import json
from pathlib import Path

import numpy as np
import pytest

from inference.base import BackendUnavailable
from inference.registry import select_backend
from inference.tensorrt_backend import EngineIO, ShapeOutOfProfile, TensorSpec
from model.artifacts import label_tables
from pipeline.feature_layout import FEATURE_DIM
from trt_build.profiles import ProfileSpec, profile_from_serve_config
from trt_build.sidecar import EngineMismatch, EngineSidecar, check_compatible, engine_path

ROOT = Path(__file__).resolve().parents[2]


class FakeTrt:
    class TensorIOMode:
        INPUT, OUTPUT = "input", "output"

    @staticmethod
    def nptype(dtype):
        return dtype


class FakeEngine:
    def __init__(self, profile: ProfileSpec):
        shapes = profile.shapes()
        self.tensors = [
            ("input_ids", "input", np.int64, (-1, -1), shapes["input_ids"]),
            ("attention_mask", "input", np.int64, (-1, -1), shapes["attention_mask"]),
            ("features", "input", np.float32, (-1, FEATURE_DIM), shapes["features"]),
            ("style_probs", "output", np.float32, (-1, 14), None),
            ("palette_scores", "output", np.float32, (-1, 32), None),
            ("palette_ids", "output", np.int32, (-1, 32), None),
            ("font_scores", "output", np.float32, (-1, 16), None),
            ("font_ids", "output", np.int32, (-1, 16), None),
            ("layout", "output", np.float32, (-1, 4, 16, 12), None),
        ]
        self.num_io_tensors = len(self.tensors)

    def _t(self, name):
        return next(t for t in self.tensors if t[0] == name)

    def get_tensor_name(self, i):
        return self.tensors[i][0]

    def get_tensor_mode(self, name):
        return self._t(name)[1]

    def get_tensor_dtype(self, name):
        return self._t(name)[2]

    def get_tensor_shape(self, name):
        return self._t(name)[3]

    def get_tensor_profile_shape(self, name, profile_index):
        p = self._t(name)[4]
        return [p["min"], p["opt"], p["max"]]


def test_profile_follows_the_serving_batch_config():
    profile = profile_from_serve_config(ROOT / "serve_config.yaml")
    import yaml

    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    rec = next(d for d in config["applications"][0]["deployments"] if d["name"] == "Recommender")
    assert profile.max_batch == rec["user_config"]["max_batch_size"]
    assert profile.min_batch == 1 <= profile.opt_batch <= profile.max_batch
    shapes = profile.shapes()
    assert shapes["features"]["max"] == [profile.max_batch, FEATURE_DIM]
    assert shapes["input_ids"]["max"][1] == 128


@pytest.mark.parametrize("bad", [dict(min_batch=0), dict(opt_batch=200), dict(max_seq=512), dict(opt_seq=1, min_seq=2)])
def test_invalid_profiles_are_rejected(bad):
    with pytest.raises(ValueError):
        ProfileSpec(**bad)


def test_engine_io_plans_buffers_and_checks_shapes():
    io = EngineIO.from_engine(FakeEngine(ProfileSpec(max_batch=32)), FakeTrt)
    assert io.max_batch == 32 and io.max_seq == 128
    sizes = io.buffer_bytes(io.max_input_shapes())
    assert sizes["input_ids"] == 32 * 128 * 8 and sizes["features"] == 32 * FEATURE_DIM * 4
    io.check({"input_ids": (5, 20), "attention_mask": (5, 20), "features": (5, FEATURE_DIM)})
    with pytest.raises(ShapeOutOfProfile):
        io.check({"input_ids": (5, 200), "attention_mask": (5, 200), "features": (5, FEATURE_DIM)})
    with pytest.raises(ShapeOutOfProfile):
        io.check({"input_ids": (33, 20)})
    assert io.split(70) == [slice(0, 32), slice(32, 64), slice(64, 70)]


def test_engine_without_our_tensors_is_unavailable():
    with pytest.raises(BackendUnavailable):
        EngineIO([TensorSpec("images", True, np.dtype(np.float32), (-1, 3, 224, 224), ((1, 3, 224, 224),) * 3)])


def _sidecar(**changes) -> EngineSidecar:
    base = dict(tensorrt_version="10.13.0.35", gpu_name="NVIDIA H100 80GB HBM3", compute_capability="9.0",
                precision="fp16", profiles=[ProfileSpec().shapes()], onnx_sha256="0" * 64, onnx_path="x.onnx",
                built_at="2026-11-24T00:00:00+00:00", build_seconds=1.0, model_metadata=dict(label_tables()))
    return EngineSidecar(**(base | changes))


def test_sidecar_round_trip_and_compatibility(tmp_path):
    path = engine_path(tmp_path, "fp16", "9.0")
    assert path.name == "recommender.fp16.sm90.engine"
    _sidecar().write(path)
    loaded = EngineSidecar.read(path)
    assert json.loads(path.with_suffix(".json").read_text())["precision"] == "fp16"
    check_compatible(loaded, tensorrt_version="10.13.0.35", compute_capability="9.0", label_tables=label_tables())


@pytest.mark.parametrize(
    ("changes", "runtime", "message"),
    [
        ({}, {"compute_capability": "8.9"}, "compute capability"),
        ({}, {"tensorrt_version": "11.4.0.106"}, "TensorRT"),
        ({}, {"tensorrt_version": "10.13.3.9"}, "TensorRT"),  # plans need the exact build
        ({"model_metadata": {"palette_table_sha": "stale"}}, {}, "knowledge tables"),
    ],
)
def test_mismatched_engines_are_refused_with_a_reason(changes, runtime, message):
    kwargs = {"tensorrt_version": "10.13.0.35", "compute_capability": "9.0", "label_tables": label_tables()} | runtime
    with pytest.raises(EngineMismatch, match=message):
        check_compatible(_sidecar(**changes), **kwargs)


def test_missing_or_corrupt_sidecar_is_a_mismatch(tmp_path):
    engine = tmp_path / "recommender.fp16.sm90.engine"
    with pytest.raises(EngineMismatch):
        EngineSidecar.read(engine)
    engine.with_suffix(".json").write_text('{"tensorrt_version": "10.0"')
    with pytest.raises(EngineMismatch, match="not a valid"):
        EngineSidecar.read(engine)
    engine.with_suffix(".json").write_text('{"unexpected": 1}')
    with pytest.raises(EngineMismatch, match="not a valid"):
        EngineSidecar.read(engine)


def test_tensorrt_request_without_tensorrt_falls_back():
    backend = select_backend("tensorrt")
    assert backend.info.name != "tensorrt"
    assert any("tensorrt" in r for r in backend.info.detail["fallback_reasons"])
