"""Application arguments, set under `args:` in serve_config.yaml (validated by Serve with this model)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.brief import MAX_IMAGE_BYTES


class AppArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["auto", "tensorrt", "torch", "onnxruntime"] = Field(
        default="auto",
        description="auto: TensorRT if importable with a matching engine, else torch on CUDA, else ONNX Runtime CPU.",
    )
    precision: Literal["fp32", "fp16", "int8"] = Field(
        default="fp32", description="ONNX Runtime model variant (TensorRT/torch pick theirs from the engine/GPU)."
    )
    ort_intra_op_threads: int = Field(default=0, ge=0, description="0 = ONNX Runtime's default (all cores).")
    engine_dir: str = Field(default="artifacts/engines", description="Where TensorRT engines + sidecars live.")
    torch_cuda_graphs: bool = True
    feedback_db: str = Field(default="artifacts/feedback.sqlite3", description="SQLite (WAL) feedback store.")
    max_image_bytes: int = Field(default=MAX_IMAGE_BYTES, gt=0)
    recommend_timeout_s: float = Field(default=10.0, gt=0, description="Per-request budget inside the graph.")

    def backend_options(self) -> dict[str, dict]:
        return {
            "onnxruntime": {"precision": self.precision, "intra_op_threads": self.ort_intra_op_threads},
            "torch": {"cuda_graphs": self.torch_cuda_graphs},
            "tensorrt": {"engine_dir": self.engine_dir},
        }
