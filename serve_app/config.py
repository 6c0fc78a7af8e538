"""Application arguments, set under `args:` in serve_config.yaml (validated by Serve with this model)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contract.brief import MAX_IMAGE_BYTES
from serve_app.security import DEFAULT_MAX_REQUEST_BYTES, DEFAULT_PUBLIC_PATHS


class AppArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["auto", "tensorrt", "torch", "onnxruntime"] = Field(
        default="auto",
        description="auto: TensorRT if importable with a matching engine, else torch on CUDA, else ONNX Runtime CPU.",
    )
    precision: Literal["auto", "fp32", "fp32_fused", "fp32_fused_ln", "int8_cpu", "fp16", "int8"] = Field(
        default="auto",
        description="ONNX Runtime model variant; auto: the one artifacts/model/cpu_manifest.json names (the fastest "
                    "that passed the build's accuracy gates; FP32 without a manifest). TensorRT/torch pick theirs.",
    )
    ort_intra_op_threads: int = Field(default=0, ge=0, description="0 = ONNX Runtime's default (all cores).")
    ort_length_group: int = Field(
        default=4, ge=0,
        description="ONNX Runtime runs a batch as groups of briefs whose token counts round up to the same multiple "
                    "of this, each group at its own longest length (on a CPU a long brief otherwise pads the whole "
                    "batch); 0 = one call at the padded length.")
    engine_dir: str = Field(default="artifacts/engines", description="Where TensorRT engines + sidecars live.")
    torch_cuda_graphs: bool = True
    feedback_db: str = Field(default="artifacts/feedback.sqlite3", description="SQLite (WAL) feedback store.")
    max_image_bytes: int = Field(default=MAX_IMAGE_BYTES, gt=0)
    encoder: Literal["deployment", "inline"] = Field(
        default="deployment",
        description="deployment: the BriefEncoder deployment (own replicas, own autoscaling); inline: encode in "
                    "the ingress process (one Ray hop less; then drop BriefEncoder from the config's deployments).",
    )
    recommend_timeout_s: float = Field(default=10.0, gt=0, description="Per-request budget inside the graph.")
    warm_up_timeout_s: float = Field(
        default=60.0, gt=0,
        description="How long a new ingress replica waits for its warm-up brief through the encoder and recommender "
                    "before it takes traffic anyway (downstream replicas still starting, or failing: /healthz says).",
    )
    # Micro-batching in the ingress: concurrent requests share one encoder call, one recommender call and one
    # post-processing pass. The wait is what a lone request pays at most; under load batches fill before it.
    ingress_max_batch_size: int = Field(default=64, gt=0, description="Briefs per ingress micro-batch.")
    ingress_batch_wait_s: float = Field(default=0.002, ge=0, description="Longest wait for a micro-batch to fill.")
    ingress_max_concurrent_batches: int = Field(
        default=1, ge=1,
        description="Micro-batches in flight per ingress replica; while all are out, arrivals gather into the "
                    "next one (fewer in flight: bigger batches under load, each hop paid by more briefs; the CPU "
                    "config ships 1, the GPU config 2 with two post-processing children, docs/deployment.md).",
    )

    ingress_post_processes: int = Field(
        default=0, ge=0,
        description="0: post-process in a worker thread of the ingress replica; N: in N child processes it starts "
                    "and warms (spawned, not forked), so a pass never waits for the GIL that the replica's event "
                    "loop and its Ray and gRPC threads hold (at the cost of pickling each micro-batch both ways). "
                    "With N > 1 a pass of 4 briefs or more is cut into up to N runs of at least 2, post-processed side "
                    "by side (a pass of b briefs in about b / N of the time, each run paying a pass's fixed cost).",
    )
    ingress_split_passes: bool = Field(
        default=True,
        description="With ingress_post_processes > 1: cut each pass between the children the passes already out "
                    "leave idle (true), or send every pass whole to one child (false: with several micro-batches in "
                    "flight each can take its own child and no pass pays the fixed cost twice). An A/B lever for "
                    "the GPU node; true is what has been measured there.",
    )

    # Backpressure (sized in serve_config.yaml from measured capacity): past this many requests in flight in
    # one ingress replica, answer 503 + Retry-After at once instead of queueing work that would finish late.
    max_in_flight: int = Field(
        default=64, gt=0,
        description="Briefs admitted per ingress replica (/v1/recommend, and each brief of /v1/recommend/batch).")
    retry_after_s: int = Field(default=1, ge=0, description="Retry-After (seconds) on every 503 the ingress sends.")
    # Access and input limits (serve_app/security.py).
    max_request_bytes: int = Field(
        default=DEFAULT_MAX_REQUEST_BYTES, gt=0,
        description="HTTP bodies above this get 413 (by Content-Length, or by counting streamed bytes).",
    )
    api_key_sha256: list[Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$", to_lower=True)]] = Field(
        default_factory=list,
        description="Hex SHA-256 of each accepted API key; empty = open API. Keys themselves never go in config.",
    )
    public_paths: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PUBLIC_PATHS),
        description="Served without a key; an entry ending in * is a prefix.",
    )
    cors_allow_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser; empty = no CORS headers.",
    )

    def backend_options(self) -> dict[str, dict]:
        return {
            "onnxruntime": {"precision": self.precision, "intra_op_threads": self.ort_intra_op_threads,
                            "length_group": self.ort_length_group},
            "torch": {"cuda_graphs": self.torch_cuda_graphs},
            "tensorrt": {"engine_dir": self.engine_dir},
        }
