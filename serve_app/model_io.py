"""What crosses the ingress -> recommender hop: a micro-batch's model inputs and its rows of the model outputs.

Apart from the recommender deployment so that a post-processing child (`serve_app.post_pass`), which unpickles
model outputs, never imports Ray.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ModelInputs:
    """One micro-batch as the model reads it (what crosses the ingress -> recommender hop)."""

    input_ids: np.ndarray  # (B, S) int64
    attention_mask: np.ndarray  # (B, S) int64
    features: np.ndarray  # (B, F) float32

    def __len__(self) -> int:
        return len(self.features)


@dataclass
class ModelOutputs:
    outputs: dict[str, np.ndarray]  # this micro-batch's rows of every model output
    backend: str
    model_version: str
    infer_ms: float  # the whole coalesced backend call
    batch_size: int  # briefs in that call (several micro-batches)
