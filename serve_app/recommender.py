"""Recommender deployment: coalesces encoded briefs with @serve.batch and runs the model backend.

Batch size and wait come from `user_config` (reconfigure), so they can be tuned in serve_config.yaml
without restarting replicas. Each batch is padded to its own longest brief, not to 128 tokens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import ray
from ray import serve
from ray.serve.metrics import Counter as MetricCounter
from ray.serve.metrics import Histogram

from inference.base import select_backend
from pipeline.feature_layout import FEATURE_DIM
from pipeline.features import EncodedBrief
from pipeline.tokenization import pad_batch

log = logging.getLogger("ray.serve")


@dataclass
class InferResult:
    outputs: dict[str, np.ndarray]  # this brief's row of every model output
    backend: str
    model_version: str
    infer_ms: float  # the whole batch's backend call
    batch_size: int


@serve.deployment(ray_actor_options={"num_cpus": 0.5, "num_gpus": 0}, max_ongoing_requests=64)
class Recommender:
    def __init__(self, backend: str = "auto", backend_options: dict | None = None) -> None:
        self.backend = select_backend(backend, backend_options or {})
        self.backend.warmup((1, 8))
        # One thread: backends keep per-replica state (CUDA stream/graphs) that is not meant for sharing.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infer")
        self.pad_to_multiple = 1
        self.batch_sizes: Counter[int] = Counter()
        self.batch_metric = Histogram(
            "packdesign_batch_size", description="Briefs per model call.",
            boundaries=[1, 2, 4, 8, 16, 32, 64, 128],
        )
        self.infer_metric = Histogram(
            "packdesign_backend_latency_ms", description="Backend latency per batch.",
            boundaries=[1, 2, 5, 10, 20, 50, 100, 200, 500], tag_keys=("backend",),
        )
        # Exact briefs per batch = briefs / batches: the histogram's _sum is not exact in Ray 2.60's exporter.
        self.briefs_metric = MetricCounter("packdesign_batched_briefs", description="Briefs through the model.")
        self.failures = MetricCounter("packdesign_backend_failures", description="Failed model calls.")
        self.last_error: str | None = None
        log.info("recommender ready: backend=%s detail=%s", self.backend.info.name, self.backend.info.detail)

    def reconfigure(self, config: dict) -> None:
        self._batched.set_max_batch_size(int(config.get("max_batch_size", 16)))
        self._batched.set_batch_wait_timeout_s(float(config.get("batch_wait_timeout_s", 0.005)))
        self.pad_to_multiple = int(config.get("pad_to_multiple", 1))

    async def infer(self, encoded: EncodedBrief) -> InferResult:
        return await self._batched(encoded)

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.005)
    async def _batched(self, items: list[EncodedBrief]) -> list[InferResult]:
        ids, mask = pad_batch([item.token_ids for item in items], self.pad_to_multiple)
        features = np.stack([item.features for item in items]).astype(np.float32)
        started = time.perf_counter()
        try:
            outputs = await asyncio.get_running_loop().run_in_executor(
                self.executor, self.backend.infer, ids, mask, features
            )
        except Exception as exc:
            self.failures.inc()
            self.last_error = f"{exc.__class__.__name__}: {exc}"
            raise
        self.last_error = None
        infer_ms = (time.perf_counter() - started) * 1000.0
        size = len(items)
        self.batch_sizes[size] += 1
        self.batch_metric.observe(size)
        self.briefs_metric.inc(size)
        self.infer_metric.observe(infer_ms, tags={"backend": self.backend.info.name})
        version = self.backend.info.detail.get("model_version") or "unknown"
        return [
            InferResult({k: v[i] for k, v in outputs.items()}, self.backend.info.name, version, infer_ms, size)
            for i in range(size)
        ]

    def stats(self) -> dict:
        """Batch sizes seen by this replica and the backend in use (for tests, benchmarks, operators)."""
        return {
            "backend": self.backend.info.name,
            "precision": self.backend.info.precision,
            "device": self.backend.info.device,
            "batch_sizes": dict(self.batch_sizes),
            "max_batch_size": self._batched._get_max_batch_size(),
            "batch_wait_timeout_s": self._batched._get_batch_wait_timeout_s(),
            # Which replica answered and which GPUs Ray gave it (placement checks, per-GPU reports).
            "replica": serve.get_replica_context().replica_id.unique_id,
            "gpu_ids": [str(g) for g in ray.get_runtime_context().get_accelerator_ids().get("GPU", [])],
        }

    def reset_stats(self) -> None:
        self.batch_sizes.clear()

    async def check_health(self) -> None:
        # A tiny real inference, on the inference thread: a backend that broke after start-up (lost device,
        # corrupt state) fails here and Serve replaces the replica.
        ids, mask = pad_batch([[101, 102]])
        features = np.zeros((1, FEATURE_DIM), dtype=np.float32)
        await asyncio.get_running_loop().run_in_executor(self.executor, self.backend.infer, ids, mask, features)
