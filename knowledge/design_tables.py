"""Fixed design tables that the teacher, training and the request path all read: the heatmap grid, the
palette role order, every library palette's colours in OKLab by role, and OKLCH profile fit.

Pure numpy over `knowledge/` data (no torch, no MiniLM), so serving imports it without the model stack.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from knowledge.layouts import DEFAULT_GRID
from knowledge.palettes import load_palettes
from knowledge.taxonomy import PaletteRole

GRID = DEFAULT_GRID  # heatmap rows x cols, shared by every package format and the model's layout head
# Role axis of every (N, 6, ...) palette tensor. Not the enum's order: background and text first because
# contrast and fit read them by position.
ROLE_ORDER = [
    PaletteRole.background, PaletteRole.text, PaletteRole.primary,
    PaletteRole.accent, PaletteRole.secondary, PaletteRole.highlight,
]


@cache
def palette_role_lab() -> tuple[np.ndarray, np.ndarray]:
    """Every library palette's colours in OKLab by role (N, 6, 3), with a (N, 6) mask of roles present.

    Needs no torch: post-processing reads it at serving time too.
    """
    palettes = load_palettes()
    lab = np.zeros((len(palettes), len(ROLE_ORDER), 3), dtype=np.float32)
    mask = np.zeros((len(palettes), len(ROLE_ORDER)), dtype=np.float32)
    for i, palette in enumerate(palettes):
        for color in palette.colors:
            j = ROLE_ORDER.index(PaletteRole(color.role))
            lab[i, j], mask[i, j] = color.oklab, 1.0
    return lab, mask


def _soft_in(x: np.ndarray, lo: float, hi: float, scale: float) -> np.ndarray:
    outside = np.maximum(0.0, np.maximum(lo - x, x - hi))
    return np.exp(-((outside / scale) ** 2))


def _hue_in(h: np.ndarray, ranges: list[list[float]], scale: float = 20.0) -> np.ndarray:
    best = np.zeros_like(h)
    for lo, hi in ranges:
        centre, half = (lo + hi) / 2.0, (hi - lo) / 2.0
        dist = np.abs((h - centre + 180.0) % 360.0 - 180.0)
        best = np.maximum(best, _soft_in(dist, 0.0, half, scale))
    return best


def oklch_fit(lab: np.ndarray, mask: np.ndarray, spec: dict) -> np.ndarray:
    """How well each palette's colours sit in an OKLCH profile {l, c, hues, dark_background} -> (N,) 0-1.

    Text colours are excluded (they are forced to contrast, not chosen for mood); the background counts
    for lightness and the dark/light preference.
    """
    body = mask.copy()
    body[:, 1] = 0.0  # text
    light = lab[..., 0]
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    hue = np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360.0
    weight = body / np.maximum(body.sum(1, keepdims=True), 1.0)
    oklch = spec.get("oklch", spec)
    l_lo, l_hi = oklch.get("l", [0.0, 1.0])
    c_lo, c_hi = oklch.get("c", [0.0, 0.4])
    l_fit = (weight * _soft_in(light, l_lo, l_hi, 0.08)).sum(1)
    c_fit = (weight * _soft_in(chroma, c_lo, c_hi, 0.035)).sum(1)
    hues = oklch.get("hues")
    if hues:
        chromatic = body * (chroma > 0.03)
        hue_w = chromatic / np.maximum(chromatic.sum(1, keepdims=True), 1.0)
        h_fit = np.where(chromatic.sum(1) > 0, (hue_w * _hue_in(hue, hues)).sum(1), 0.3)
    else:
        h_fit = np.ones(len(lab))
    dark_p = float(spec.get("dark_background", oklch.get("dark_background", 0.3)))
    bg_dark = 1.0 / (1.0 + np.exp((light[:, 0] - 0.45) / 0.05))
    bg_fit = dark_p * bg_dark + (1.0 - dark_p) * (1.0 - bg_dark)
    return ((l_fit + c_fit + h_fit + bg_fit) / 4.0).astype(np.float32)
