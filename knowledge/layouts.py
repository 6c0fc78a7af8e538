"""Front-panel layout templates and their heatmap form (the layout target of the model).

A box is ``(x, y, w, h)`` in 0-1 units of the front panel, origin top-left. The model predicts one
``grid``-sized heatmap per layout element; ``render_heatmaps`` makes such targets from a template and
``boxes_from_heatmap`` reads a box back out of a (predicted or rendered) heatmap.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from knowledge.taxonomy import ids

LAYOUTS_PATH = Path(__file__).parent / "data" / "layout_templates.json"
DEFAULT_GRID: tuple[int, int] = (16, 12)  # (rows, cols), the model's heatmap size for every format
TEXT_ELEMENTS: tuple[str, ...] = ("logo", "product_name", "claims")

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class LayoutTemplate:
    id: str
    format: str
    boxes: dict[str, Box]
    styles: dict[str, float] = field(default_factory=dict)
    hero_behind_text: bool = False


@cache
def _templates() -> tuple[LayoutTemplate, ...]:
    with LAYOUTS_PATH.open(encoding="utf-8") as f:
        raw = json.load(f)["templates"]
    return tuple(
        LayoutTemplate(
            id=t["id"],
            format=t["format"],
            boxes={element: tuple(float(v) for v in box) for element, box in t["boxes"].items()},
            styles={style: float(a) for style, a in t.get("styles", {}).items()},
            hero_behind_text=bool(t.get("hero_behind_text", False)),
        )
        for t in raw
    )


def load_layout_templates() -> list[LayoutTemplate]:
    return list(_templates())


def templates_for(format_id: str) -> list[LayoutTemplate]:
    """The templates of one package format, in file order."""
    if format_id not in ids("package_format"):
        raise KeyError(f"unknown package_format {format_id!r}")
    return [t for t in _templates() if t.format == format_id]


def template_by_id(template_id: str) -> LayoutTemplate:
    for t in _templates():
        if t.id == template_id:
            return t
    raise KeyError(f"unknown layout template {template_id!r}")


_erf = np.vectorize(math.erf, otypes=[float])


def _soft_interval(lo: float, hi: float, n: int, sigma_cells: float) -> np.ndarray:
    """A 0/1 indicator of [lo, hi] blurred by a Gaussian, sampled at the n cell centres (in cell units).

    The blurred step crosses half its height at the true edge, which is what lets
    ``boxes_from_heatmap`` recover the box to within one cell.
    """
    centres = np.arange(n) + 0.5
    lo_c, hi_c = lo * n, hi * n
    if sigma_cells <= 0:
        return ((centres >= lo_c) & (centres <= hi_c)).astype(float)
    s = sigma_cells * math.sqrt(2.0)
    return 0.5 * (_erf((hi_c - centres) / s) - _erf((lo_c - centres) / s))


def render_box(box: Box, grid: tuple[int, int] = DEFAULT_GRID, sigma: float = 0.5) -> np.ndarray:
    """One box as a soft (rows, cols) heatmap in [0, 1]; ``sigma`` is the edge blur in grid cells."""
    rows, cols = grid
    x, y, w, h = box
    # Separable: the Gaussian blur of a rectangle is the product of two blurred intervals.
    return np.outer(_soft_interval(y, y + h, rows, sigma), _soft_interval(x, x + w, cols, sigma))


def render_heatmaps(
    template: LayoutTemplate, grid: tuple[int, int] = DEFAULT_GRID, sigma: float = 0.5
) -> dict[str, np.ndarray]:
    """Element -> soft 0-1 heatmap of shape ``grid`` (rows, cols); a filled box with Gaussian-blurred edges."""
    return {element: render_box(box, grid, sigma) for element, box in template.boxes.items()}


def boxes_from_heatmap(heatmap: np.ndarray, threshold: float | None = None) -> list[float]:
    """Bounding box ``[x, y, w, h]`` (0-1 panel units, snapped to cell edges) of the cells >= threshold.

    ``threshold=None`` means half the heatmap's peak: a small box, whose blurred peak stays below 1,
    and an un-normalised model output are then read the same way, and a rendered box comes back
    within one cell. A number is an absolute threshold. No cell at or above it gives zeros.
    """
    heatmap = np.asarray(heatmap, dtype=float)
    rows, cols = heatmap.shape
    peak = float(heatmap.max(initial=0.0))
    if peak <= 0.0:
        return [0.0, 0.0, 0.0, 0.0]
    mask = heatmap >= (0.5 * peak if threshold is None else threshold)
    if not mask.any():
        return [0.0, 0.0, 0.0, 0.0]
    row_idx = np.flatnonzero(mask.any(axis=1))
    col_idx = np.flatnonzero(mask.any(axis=0))
    r0, r1 = int(row_idx[0]), int(row_idx[-1]) + 1
    c0, c1 = int(col_idx[0]), int(col_idx[-1]) + 1
    return [c0 / cols, r0 / rows, (c1 - c0) / cols, (r1 - r0) / rows]


def boxes_overlap(a: Box, b: Box) -> bool:
    """True when two boxes share a positive area (touching edges do not count)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    eps = 1e-9
    return ax + aw > bx + eps and bx + bw > ax + eps and ay + ah > by + eps and by + bh > ay + eps
