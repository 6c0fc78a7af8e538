"""Agreement of a model variant with FP32, and the goals a variant must meet to be served (numpy only: runs on
bare GPU machines too; lives here so the CPU build in calibration/ can gate without importing evaluation/)."""

from __future__ import annotations

import numpy as np

# Top-k overlap, not cosine: the heads turn small embedding changes into reorderings of near-tied items.
GOALS = {"palette_top5": 0.98, "font_top5": 0.98, "style_top1": 0.99}


def agreement(reference: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> dict[str, float]:
    def overlap(name: str, k: int = 5) -> float:
        return float(np.mean([len(set(a[:k]) & set(b[:k])) / k for a, b in zip(reference[name], other[name])]))

    return {
        "style_top1": float(np.mean(reference["style_probs"].argmax(1) == other["style_probs"].argmax(1))),
        "palette_top5": overlap("palette_ids"),
        "font_top5": overlap("font_ids"),
        "palette_top1": float(np.mean(reference["palette_ids"][:, 0] == other["palette_ids"][:, 0])),
        "style_prob_mae": float(np.abs(reference["style_probs"] - other["style_probs"]).mean()),
        "palette_score_mae": float(np.abs(reference["palette_scores"][:, :5] - other["palette_scores"][:, :5]).mean()),
        "layout_mae": float(np.abs(reference["layout"] - other["layout"]).mean()),
    }


def failures(measured: dict[str, float], goals: dict[str, float] = GOALS) -> list[str]:
    """The goals `measured` misses, as readable strings (empty: passed). A missing or NaN figure fails."""
    return [f"{key} {measured.get(key, float('nan')):.4f} < {goal}" for key, goal in goals.items()
            if not measured.get(key, float("nan")) >= goal]
