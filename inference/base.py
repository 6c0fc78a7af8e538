"""One small interface for every inference backend, and the `auto` selection between them.

A backend turns a padded batch (token ids, attention mask, structured features) into the model's named
outputs as numpy arrays. It owns its resources for the replica's lifetime (session / engine / CUDA graphs)
and releases them in `close()`, like the small RAII wrappers of TensorRT's python samples.
"""

from __future__ import annotations

import bisect
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger("packdesign.inference")

# Shapes GPU backends pad to, so a handful of CUDA graphs / engine shapes cover every request.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
SEQ_BUCKETS = (16, 32, 64, 128)
WARM_MAX_TOKENS = 64  # lengths a GPU replica captures before taking traffic (`warm_for_serving` says why)


def bucket(value: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket that holds `value`; `value` itself if none does."""
    i = bisect.bisect_left(buckets, value)
    return buckets[i] if i < len(buckets) else value


def length_groups(attention_mask: np.ndarray, multiple: int) -> list[tuple[np.ndarray, int]]:
    """The rows of a right-padded batch grouped by token count rounded up to `multiple` -> per group (rows, the
    group's longest token count: the length to run it at), shortest group first."""
    lengths = np.maximum(attention_mask.sum(axis=1), 1)
    key = -(-lengths // multiple)
    if (key == key[0]).all():  # the usual single group: no sort
        return [(np.arange(len(key)), int(lengths.max()))]
    return [(rows, int(lengths[rows].max())) for rows in (np.flatnonzero(key == k) for k in np.unique(key))]


def infer_by_length(run, input_ids: np.ndarray, attention_mask: np.ndarray, features: np.ndarray,
                    multiple: int) -> dict[str, np.ndarray]:
    """`run` (a backend's own infer) once per `length_groups` group, each at its own longest length, the outputs
    put back in the batch's row order.

    On a CPU the encoder's cost grows with the padded length, and one long brief pads a whole batch to its
    length (the benchmark mix: median 10 tokens, 90th percentile 22, the longest 36). ONNX Runtime FP32 on one
    core (`python -m benchmarks.model_bench length-groups`, 2-core machine): against one call at the batch's
    longest length rounded up to 8, groups of 4 cost 0.88 a lone brief (its own length), 0.74 at batch 4, 0.66 at
    16 and 0.46 at 64 (3.0 against 6.5 ms a brief). GPU backends keep one call: they pad to a few captured shapes
    anyway, and a bigger batch costs them little."""
    groups = length_groups(attention_mask, multiple)
    if len(groups) == 1:
        tokens = groups[0][1]
        return run(np.ascontiguousarray(input_ids[:, :tokens]), np.ascontiguousarray(attention_mask[:, :tokens]),
                   features)
    out: dict[str, np.ndarray] = {}
    for rows, tokens in groups:
        part = run(input_ids[rows, :tokens], attention_mask[rows, :tokens], features[rows])
        for name, value in part.items():
            if name not in out:
                out[name] = np.empty((len(features),) + value.shape[1:], value.dtype)
            out[name][rows] = value
    return out


class BackendUnavailable(RuntimeError):
    """This backend cannot run here (library missing, no GPU, no matching engine/model file)."""


@dataclass
class BackendInfo:
    name: str
    precision: str
    device: str
    detail: dict = field(default_factory=dict)


class InferenceBackend(ABC):
    info: BackendInfo

    @abstractmethod
    def infer(self, input_ids: np.ndarray, attention_mask: np.ndarray, features: np.ndarray) -> dict[str, np.ndarray]:
        """(B, S) int64, (B, S) int64, (B, F) float32 -> {output name: (B, ...) array}."""

    def warmup(self, batch_sizes: tuple[int, ...] = (1,), seq_len: int = 16) -> None:
        from pipeline.feature_layout import FEATURE_DIM

        for batch in batch_sizes:
            ids = np.full((batch, seq_len), 1000, dtype=np.int64)
            ids[:, 0], ids[:, -1] = 101, 102
            self.infer(ids, np.ones_like(ids), np.zeros((batch, FEATURE_DIM), dtype=np.float32))

    def close(self) -> None:  # noqa: B027 - optional for backends with nothing to release
        """Release device memory, sessions, streams."""

    def __enter__(self) -> InferenceBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def warm_for_serving(backend: InferenceBackend) -> None:
    """Before taking traffic. On a GPU every (batch, length) bucket is its own CUDA graph / engine shape,
    captured on first use: capture them now, not on a live batch. Lengths up to 64 tokens, not only the usual
    16-32: a capture stalls the replica's model thread for tens of ms, and briefs of 33-64 tokens (0.45 % of the
    benchmark mix, long keyword text; none longer) otherwise paid one per batch bucket on each replica (H200 run
    10: the infer hop's p99 stayed <= 20 ms in 4 of 6 rate steps, against 2 of 9 without). 65-128 tokens still
    capture on first use: warming (64, 128) met one unexplained CUDA assert in the 12-process baseline
    (docs/bench/batch-first)."""
    if backend.info.device.startswith("cuda"):
        for seq_len in (s for s in SEQ_BUCKETS if s <= WARM_MAX_TOKENS):
            backend.warmup(BATCH_BUCKETS, seq_len=seq_len)
    else:
        backend.warmup((1, 8, 64))
