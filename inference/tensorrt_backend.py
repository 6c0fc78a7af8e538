"""TensorRT backend (see build/trt_build for engine builds). Full runtime: inference/trt_runtime.py."""

from __future__ import annotations

from inference.base import BackendUnavailable, InferenceBackend


class TensorRTBackend(InferenceBackend):
    def __init__(self, engine_dir: str = "artifacts/engines", **_: object) -> None:
        try:
            import tensorrt  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable(f"tensorrt not importable: {exc}") from exc
        raise BackendUnavailable("TensorRT runtime not implemented yet")

    def infer(self, input_ids, attention_mask, features):  # pragma: no cover
        raise NotImplementedError
