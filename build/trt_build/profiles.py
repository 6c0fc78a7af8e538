"""Optimisation profiles matched to the serving batch configuration (pure Python, no TensorRT)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.feature_layout import FEATURE_DIM
from pipeline.tokenization import MAX_TOKENS


@dataclass(frozen=True)
class ProfileSpec:
    """min / opt / max batch and sequence length of one TensorRT optimisation profile."""

    min_batch: int = 1
    opt_batch: int = 16
    max_batch: int = 64
    min_seq: int = 2
    opt_seq: int = 24  # a typical brief is ~20 tokens
    max_seq: int = MAX_TOKENS

    def __post_init__(self) -> None:
        if not (1 <= self.min_batch <= self.opt_batch <= self.max_batch):
            raise ValueError(f"batch profile must satisfy 1 <= min <= opt <= max: {self}")
        if not (1 <= self.min_seq <= self.opt_seq <= self.max_seq <= MAX_TOKENS):
            raise ValueError(f"seq_len profile must satisfy 1 <= min <= opt <= max <= {MAX_TOKENS}: {self}")

    def shapes(self) -> dict[str, dict[str, list[int]]]:
        """Per input: {"min", "opt", "max"} shapes, the form IOptimizationProfile.set_shape takes."""
        token = {
            "min": [self.min_batch, self.min_seq],
            "opt": [self.opt_batch, self.opt_seq],
            "max": [self.max_batch, self.max_seq],
        }
        features = {k: [v[0], FEATURE_DIM] for k, v in token.items()}
        return {"input_ids": token, "attention_mask": dict(token), "features": features}


def profile_from_serve_config(path: Path, deployment: str = "Recommender") -> ProfileSpec:
    """max batch = the recommender's @serve.batch max_batch_size from serve_config.yaml; opt = half of it
    (batches under load are usually partly filled)."""
    config = yaml.safe_load(Path(path).read_text())
    for app in config.get("applications", []):
        for dep in app.get("deployments", []):
            if dep.get("name") == deployment:
                max_batch = int((dep.get("user_config") or {}).get("max_batch_size", 64))
                return ProfileSpec(opt_batch=max(1, max_batch // 2), max_batch=max_batch)
    raise ValueError(f"{path} has no deployment named {deployment}")
