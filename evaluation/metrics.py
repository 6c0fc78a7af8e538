"""Ranking, colour and layout metrics used by the held-out evaluation."""

from __future__ import annotations

import itertools
import math

import numpy as np

from knowledge.colors import delta_e2000


def ndcg_at_k(predicted: np.ndarray, gains: np.ndarray, k: int = 5) -> float:
    """NDCG@k of a predicted ranking (item indices, best first) under graded gains for every item."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float((gains[predicted[:k]] * discounts[: len(predicted[:k])]).sum())
    ideal = float((np.sort(gains)[::-1][:k] * discounts).sum())
    return dcg / ideal if ideal > 0 else 0.0


def palette_distance(a: list[str], b: list[str]) -> float:
    """Mean ΔE2000 between two palettes' role colours taken in the same role order."""
    return float(np.mean([delta_e2000(x, y) for x, y in zip(a, b)]))


def box_iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def layout_overlap(boxes: dict[str, list[float]], exclude: tuple[str, ...] = ("hero",)) -> float:
    """PosterLayout's Ove: mean pairwise IoU between the non-underlay elements (the hero visual may sit
    under the text like an underlay, so it is left out). Lower is better."""
    items = [b for name, b in boxes.items() if name not in exclude]
    pairs = list(itertools.combinations(items, 2))
    return float(np.mean([box_iou(a, b) for a, b in pairs])) if pairs else 0.0


def layout_alignment(boxes: dict[str, list[float]]) -> float:
    """PosterLayout/LayoutGAN++ Ali: mean over elements of -log(1 - d), d the smallest distance between
    any of its six alignment lines (left, x-centre, right, top, y-centre, bottom) and another element's
    same line. Lower is better."""
    lines = []
    for x, y, w, h in boxes.values():
        lines.append(np.array([x, x + w / 2, x + w, y, y + h / 2, y + h]))
    if len(lines) < 2:
        return 0.0
    scores = []
    for i, li in enumerate(lines):
        d = min(float(np.min(np.abs(li - lj))) for j, lj in enumerate(lines) if j != i)
        scores.append(-math.log(max(1e-9, 1.0 - d)))
    return float(np.mean(scores))
