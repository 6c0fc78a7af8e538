"""torch backend: the same model in FP16 on CUDA with one CUDA graph per (batch, seq_len) bucket.

A MiniLM-sized model is launch-bound in eager mode (~4 ms whatever the batch on an H100); replaying a
captured graph removes the per-kernel launch cost. Inputs are padded up to the bucket, so a handful of
graphs cover every batch. Used when TensorRT is absent; `device="cpu"` gives an eager FP32 reference.
"""

from __future__ import annotations

import threading

import numpy as np

from inference.base import BATCH_BUCKETS, SEQ_BUCKETS, BackendInfo, BackendUnavailable, InferenceBackend, bucket
from model.net import OUTPUT_NAMES

_CAPTURE_LOCK = threading.Lock()


class TorchBackend(InferenceBackend):
    def __init__(self, device: str = "cuda", precision: str | None = None, cuda_graphs: bool = True,
                 batch_buckets: tuple[int, ...] = BATCH_BUCKETS, seq_buckets: tuple[int, ...] = SEQ_BUCKETS) -> None:
        try:
            import torch
        except ImportError as exc:
            raise BackendUnavailable(f"torch not importable: {exc}") from exc
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailable("no CUDA device visible to this process")
        try:
            from model.export import build_model
            from model.checkpoint import MANIFEST_PATH
        except ImportError as exc:  # e.g. the train extra (onnx, tqdm) is not installed
            raise BackendUnavailable(f"model code not importable: {exc}") from exc
        import json

        self.torch = torch
        self.device = torch.device(device)
        precision = precision or ("fp16" if self.device.type == "cuda" else "fp32")
        self.dtype = {"fp16": torch.float16, "fp32": torch.float32, "bf16": torch.bfloat16}[precision]
        model = build_model().to(self.device).eval()
        # Lower precision for the MiniLM encoder (where the FLOPs are); the heads stay FP32 because their
        # top-k over 5,607 palette scores is sensitive to rounding (FP16 heads: palette top-5 agreement 0.966).
        model.encoder.to(self.dtype)
        self.model = model
        self.use_graphs = cuda_graphs and self.device.type == "cuda"
        self.batch_buckets, self.seq_buckets = tuple(batch_buckets), tuple(seq_buckets)
        self.graphs: dict[tuple[int, int], tuple] = {}
        self.lock = threading.Lock()
        if self.device.type == "cuda":
            # Each replica its own stream: fractional-GPU replicas on one device do not serialise on
            # the default stream.
            self.stream = torch.cuda.Stream(device=self.device)
            self.pool = torch.cuda.graph_pool_handle()
            # The weights were copied and cast on the default stream, asynchronously: this stream must not
            # read them before that work is done.
            self.stream.wait_stream(torch.cuda.current_stream(self.device))
        version = json.loads(MANIFEST_PATH.read_text())["model_version"]
        self.info = BackendInfo(
            name="torch", precision=precision, device=str(self.device),
            detail={"model_version": version, "cuda_graphs": self.use_graphs,
                    "gpu": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else None},
        )

    def _eager(self, ids, mask, features):
        torch = self.torch
        with torch.inference_mode():
            outputs = self.model(ids, mask, features)
        return dict(zip(OUTPUT_NAMES, outputs))

    def _graph(self, batch: int, seq: int):
        """Capture (once) the model for a padded (batch, seq) shape into static buffers."""
        key = (batch, seq)
        if key not in self.graphs:
            torch = self.torch
            from pipeline.feature_layout import FEATURE_DIM

            with torch.cuda.stream(self.stream):
                # Filled on this stream, not the default one: a zero fill queued on a busy default stream
                # could land after this stream's embedding lookup had read the block's stale contents as
                # token ids (GPU run 31: a worker's warm-up died on "vectorized gather kernel index out of
                # bounds"). Outside inference mode, so that infer() may write into them.
                ids = torch.zeros(batch, seq, dtype=torch.int64, device=self.device)
                mask = torch.zeros(batch, seq, dtype=torch.int64, device=self.device)
                features = torch.zeros(batch, FEATURE_DIM, dtype=torch.float32, device=self.device)
                with torch.inference_mode():
                    for _ in range(2):  # warm up kernels/allocator outside capture, as CUDA graphs require
                        self.model(ids, mask, features)
                    self.stream.synchronize()
                    graph = torch.cuda.CUDAGraph()
                    # torch.cuda.graph synchronises the whole device on entry, which is illegal while another
                    # backend in this process is capturing: one capture per process at a time. (Serve replicas
                    # are separate processes; this matters when several backends share one, as in tests.)
                    with _CAPTURE_LOCK, torch.cuda.graph(graph, pool=self.pool, stream=self.stream,
                                                         capture_error_mode="thread_local"):
                        outputs = self.model(ids, mask, features)
            self.graphs[key] = (graph, ids, mask, features, outputs)
        return self.graphs[key]

    def infer(self, input_ids, attention_mask, features):
        torch = self.torch
        batch, seq = input_ids.shape
        if not self.use_graphs:
            out = self._eager(torch.from_numpy(input_ids).to(self.device), torch.from_numpy(attention_mask).to(self.device),
                              torch.from_numpy(features).to(self.device))
            return {k: v.float().cpu().numpy() if v.is_floating_point() else v.cpu().numpy() for k, v in out.items()}
        if batch > self.batch_buckets[-1]:  # larger than any graph: split
            halves = [self.infer(input_ids[i : i + self.batch_buckets[-1]], attention_mask[i : i + self.batch_buckets[-1]],
                                 features[i : i + self.batch_buckets[-1]])
                      for i in range(0, batch, self.batch_buckets[-1])]
            return {k: np.concatenate([h[k] for h in halves]) for k in halves[0]}
        with self.lock:
            graph, ids, mask, feats, outputs = self._graph(bucket(batch, self.batch_buckets), bucket(seq, self.seq_buckets))
            with torch.cuda.stream(self.stream):
                # Zeroing first leaves padded rows/columns masked out; results for them are dropped below.
                ids.zero_()
                mask.zero_()
                feats.zero_()
                ids[:batch, :seq].copy_(torch.from_numpy(input_ids), non_blocking=True)
                mask[:batch, :seq].copy_(torch.from_numpy(attention_mask), non_blocking=True)
                feats[:batch].copy_(torch.from_numpy(features), non_blocking=True)
                graph.replay()
                result = [t[:batch].float() if t.is_floating_point() else t[:batch] for t in outputs]
                host = [t.to("cpu", non_blocking=True) for t in result]
            self.stream.synchronize()
        return {name: t.numpy() for name, t in zip(OUTPUT_NAMES, host)}

    def close(self) -> None:
        self.graphs.clear()
        self.model = None
        if self.device.type == "cuda":
            self.torch.cuda.empty_cache()
