"""ONNX Runtime backend: the embedded CPU default (FP32, the fused/INT8 CPU variants, or the FP16/INT8 ONNX
variants made for TensorRT). Precision "auto" serves what the build's CPU manifest names (FP32 without one)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from inference.base import BackendInfo, BackendUnavailable, InferenceBackend, infer_by_length
from model.artifacts import (DISABLED_OPTIMIZERS, ModelMismatch, check_model_metadata, file_sha256, onnx_path,
                             resolve_auto)
from model.net import OUTPUT_NAMES

log = logging.getLogger("packdesign.inference")


class OnnxRuntimeBackend(InferenceBackend):
    def __init__(self, precision: str = "fp32", model_path: str | None = None, intra_op_threads: int = 0,
                 inter_op_threads: int = 1, providers: list[str] | None = None, length_group: int = 4) -> None:
        """`length_group`: run a batch as groups of briefs whose token counts round up to the same multiple of
        this, each group at its own longest length (`inference.base.infer_by_length`); 0: one call at the
        batch's padded length."""
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise BackendUnavailable(f"onnxruntime not importable: {exc}") from exc
        requested, expected_sha = precision, None
        if precision == "auto":
            precision, entry, reason = resolve_auto()
            if reason:
                log.warning("precision auto: %s", reason)
            expected_sha = entry["sha256"] if entry and not model_path else None
        path = Path(model_path) if model_path else onnx_path(precision)
        if not path.exists():
            how = "python -m calibration.quantize" if precision in ("fp16", "int8") else "make model"
            raise BackendUnavailable(f"no ONNX model at {path} (run `{how}`)")
        if expected_sha and file_sha256(path) != expected_sha:
            # Rebuilt, truncated or replaced since the gates passed it: not what was measured.
            raise BackendUnavailable(f"{path} differs from the file the CPU manifest's gates passed (sha256)")
        options = ort.SessionOptions()
        # 0 lets ORT use every core; Serve replicas sharing a node should set it from num_cpus.
        options.intra_op_num_threads = intra_op_threads or int(os.environ.get("PACKDESIGN_ORT_THREADS", 0))
        options.inter_op_num_threads = inter_op_threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"],
                                                disabled_optimizers=list(DISABLED_OPTIMIZERS.get(precision, ())))
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
            # The variant rides on the version, so answers and /healthz say which graph served them.
            detail={"model_path": str(path), "requested_precision": requested,
                    "model_version": metadata.get("model_version") if precision == "fp32"
                    else f"{metadata.get('model_version')}+{precision}",
                    "providers": self.session.get_providers(),
                    "intra_op_threads": options.intra_op_num_threads, "length_group": length_group},
        )
        self.length_group = length_group

    def infer(self, input_ids, attention_mask, features):
        if self.length_group > 0:
            return infer_by_length(self._run, input_ids, attention_mask, features, self.length_group)
        return self._run(input_ids, attention_mask, features)

    def _run(self, input_ids, attention_mask, features):
        outputs = self.session.run(
            OUTPUT_NAMES,
            {"input_ids": input_ids.astype(np.int64, copy=False),
             "attention_mask": attention_mask.astype(np.int64, copy=False),
             "features": features.astype(np.float32, copy=False)},
        )
        return dict(zip(OUTPUT_NAMES, outputs))

    def close(self) -> None:
        self.session = None

