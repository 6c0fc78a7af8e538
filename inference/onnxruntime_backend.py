"""ONNX Runtime backend: the embedded CPU default (FP32, or the FP16/INT8 ONNX variants)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from inference.base import BackendInfo, BackendUnavailable, InferenceBackend
from model.artifacts import ModelMismatch, check_model_metadata, onnx_path
from model.net import OUTPUT_NAMES


class OnnxRuntimeBackend(InferenceBackend):
    def __init__(self, precision: str = "fp32", model_path: str | None = None, intra_op_threads: int = 0,
                 inter_op_threads: int = 1, providers: list[str] | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise BackendUnavailable(f"onnxruntime not importable: {exc}") from exc
        path = Path(model_path) if model_path else onnx_path(precision)
        if not path.exists():
            raise BackendUnavailable(f"no ONNX model at {path} (run `python -m model.export`)")
        options = ort.SessionOptions()
        # 0 lets ORT use every core; Serve replicas sharing a node should set it from num_cpus.
        options.intra_op_num_threads = intra_op_threads or int(os.environ.get("PACKDESIGN_ORT_THREADS", 0))
        options.inter_op_num_threads = inter_op_threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:  # a corrupt/truncated file must not crash-loop the replica
            raise BackendUnavailable(f"cannot load {path}: {exc}") from exc
        metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        try:
            check_model_metadata(metadata, path)
        except ModelMismatch as exc:
            raise BackendUnavailable(str(exc)) from exc
        self.metadata = metadata
        self.info = BackendInfo(
            name="onnxruntime",
            precision=precision,
            device="cpu",
            detail={"model_path": str(path), "model_version": metadata.get("model_version"),
                    "providers": self.session.get_providers(),
                    "intra_op_threads": options.intra_op_num_threads},
        )

    def infer(self, input_ids, attention_mask, features):
        outputs = self.session.run(
            OUTPUT_NAMES,
            {"input_ids": input_ids.astype(np.int64, copy=False),
             "attention_mask": attention_mask.astype(np.int64, copy=False),
             "features": features.astype(np.float32, copy=False)},
        )
        return dict(zip(OUTPUT_NAMES, outputs))

    def close(self) -> None:
        self.session = None

