"""Recommender deployment: model arrays in, model arrays out, on the inference backend (TensorRT, torch on
CUDA, or ONNX Runtime).

Callers (ingress replicas) send whole micro-batches; `@serve.batch` coalesces the micro-batches of several
ingress replicas into one backend call, bounded by the number of briefs (`batch_size_fn`), not of calls.
Batch size and wait come from `user_config` (reconfigure), so they can be tuned in serve_config.yaml without
restarting replicas.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import ray
from ray import serve
from ray.serve.metrics import Counter as MetricCounter
from ray.serve.metrics import Histogram

from inference.base import warm_for_serving
from inference.registry import select_backend
from pipeline.feature_layout import FEATURE_DIM
from pipeline.tokenization import MAX_TOKENS, pad_batch
from serve_app.heap import freeze_startup_heap
from serve_app.model_io import ModelInputs, ModelOutputs

log = logging.getLogger("ray.serve")


def _stack(items: list[ModelInputs], pad_to_multiple: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Micro-batches padded to different lengths -> one batch padded to the longest (rounded up)."""
    longest = max(item.input_ids.shape[1] for item in items)
    if pad_to_multiple > 1:
        longest = min(MAX_TOKENS, -(-longest // pad_to_multiple) * pad_to_multiple)
    rows = sum(len(item) for item in items)
    ids = np.zeros((rows, longest), dtype=np.int64)
    mask = np.zeros((rows, longest), dtype=np.int64)
    start = 0
    for item in items:
        n, s = item.input_ids.shape
        ids[start : start + n, :s] = item.input_ids
        mask[start : start + n, :s] = item.attention_mask
        start += n
    return ids, mask, np.concatenate([item.features for item in items]).astype(np.float32, copy=False)


def _briefs(items: list[ModelInputs]) -> int:
    return sum(len(item) for item in items)


@serve.deployment(ray_actor_options={"num_cpus": 0.5, "num_gpus": 0}, max_ongoing_requests=16)
class Recommender:
    def __init__(self, backend: str = "auto", backend_options: dict | None = None) -> None:
        self.backend = select_backend(backend, backend_options or {})
        warm_for_serving(self.backend)
        # One thread: backends keep per-replica state (CUDA stream/graphs) that is not meant for sharing.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infer")
        self.pad_to_multiple = 1
        self.batch_sizes: Counter[int] = Counter()
        self.batch_metric = Histogram(
            "packdesign_batch_size", description="Briefs per model call.",
            boundaries=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
        )
        self.infer_metric = Histogram(
            "packdesign_backend_latency_ms", description="Backend latency per batch.",
            boundaries=[1, 2, 5, 10, 20, 50, 100, 200, 500], tag_keys=("backend",),
        )
        # Exact briefs per batch = briefs / batches: the histogram's _sum is not exact in Ray 2.60's exporter.
        self.briefs_metric = MetricCounter("packdesign_batched_briefs", description="Briefs through the model.")
        self.failures = MetricCounter("packdesign_backend_failures", description="Failed model calls.")
        self.last_error: str | None = None
        self.version = self.backend.info.detail.get("model_version") or "unknown"
        self.frozen_objects = freeze_startup_heap()
        log.info("recommender ready: backend=%s detail=%s", self.backend.info.name, self.backend.info.detail)

    def reconfigure(self, config: dict) -> None:
        self._batched.set_max_batch_size(int(config.get("max_batch_size", 128)))
        self._batched.set_batch_wait_timeout_s(float(config.get("batch_wait_timeout_s", 0.002)))
        self.pad_to_multiple = int(config.get("pad_to_multiple", 1))

    async def infer_batch(self, inputs: ModelInputs) -> ModelOutputs:
        """One ingress micro-batch; coalesced with others that arrive within the batch wait."""
        return await self._batched(inputs)

    @serve.batch(max_batch_size=128, batch_wait_timeout_s=0.002, batch_size_fn=_briefs)
    async def _batched(self, items: list[ModelInputs]) -> list[ModelOutputs]:
        ids, mask, features = _stack(items, self.pad_to_multiple)
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
        size = len(features)
        self.batch_sizes[size] += 1
        self.batch_metric.observe(size)
        self.briefs_metric.inc(size)
        self.infer_metric.observe(infer_ms, tags={"backend": self.backend.info.name})
        results, start = [], 0
        for item in items:
            rows = slice(start, start + len(item))
            results.append(ModelOutputs({k: v[rows] for k, v in outputs.items()}, self.backend.info.name,
                                        self.version, infer_ms, size))
            start += len(item)
        return results

    def stats(self) -> dict:
        """Batch sizes seen by this replica and the backend in use (for tests, benchmarks, operators)."""
        return {
            "backend": self.backend.info.name,
            "precision": self.backend.info.precision,
            "model_version": self.version,
            "device": self.backend.info.device,
            "batch_sizes": dict(self.batch_sizes),
            "max_batch_size": self._batched._get_max_batch_size(),
            "batch_wait_timeout_s": self._batched._get_batch_wait_timeout_s(),
            # Which replica answered and which GPUs Ray gave it (placement checks, per-GPU reports).
            "replica": serve.get_replica_context().replica_id.unique_id,
            "gpu_ids": [str(g) for g in ray.get_runtime_context().get_accelerator_ids().get("GPU", [])],
            "gc_frozen_objects": self.frozen_objects,
        }

    def reset_stats(self) -> None:
        self.batch_sizes.clear()

    async def check_health(self) -> None:
        # A tiny real inference, on the inference thread: a backend that broke after start-up (lost device,
        # corrupt state) fails here and Serve replaces the replica.
        ids, mask = pad_batch([[101, 102]])
        features = np.zeros((1, FEATURE_DIM), dtype=np.float32)
        await asyncio.get_running_loop().run_in_executor(self.executor, self.backend.infer, ids, mask, features)
