"""The palette library: ``data/palettes.json`` (built by ``tools/build_palettes.py``).

Loading parses JSON only (no colour conversions), so it is cheap enough for start-up.
``measure_palette`` is the single definition of the stored attributes; the builder and the tests
both call it. Temperature is ``sum(C_i cos(h_i - 50deg)) / sum(max(C_i, 0.05))`` over all colours
in OKLCH: +1 when every colour is a saturated orange (OKLCH hue ~50deg), -1 for saturated
cyan-blue (~230deg); the 0.05 floor lets greys and whites pull the value towards 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

PALETTES_PATH = Path(__file__).parent / "data" / "palettes.json"

# OKLCH chroma above which a colour counts as chromatic for hue statistics.
CHROMATIC_CHROMA = 0.03
WARM_POLE_HUE = 50.0  # OKLCH hue of orange, the warmest hue
TEMPERATURE_CHROMA_FLOOR = 0.05

PALETTE_ATTRIBUTE_NAMES: tuple[str, ...] = (
    "mean_l",
    "mean_c",
    "dominant_hue_sin",  # sin/cos of the dominant hue, 0/0 when achromatic
    "dominant_hue_cos",
    "is_chromatic",
    "hue_spread",  # degrees / 360
    "temperature",
    "text_contrast",  # WCAG ratio / 21
    "min_contrast_primary_bg",  # WCAG ratio / 21
    "harmony_score",
    "n_colors",  # (count - 4) / 2, so 0..1
    "background_l",
    "background_a",
    "background_b",
    "primary_l",
    "primary_a",
    "primary_b",
    "accent_l",
    "accent_a",
    "accent_b",
    "text_l",
)


@dataclass(frozen=True, slots=True)
class PaletteColor:
    hex: str
    role: str  # taxonomy.PaletteRole id
    name: str
    oklab: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class Palette:
    id: str
    harmony: str  # taxonomy.Harmony id
    mood: str | None  # generation mood (a taxonomy.Tone id); None for curated palettes
    source: str
    template: str | None  # generating hue template (incl. Matsuda i/V/L/I/T/Y/X); None if curated
    seed: str | None  # xkcd name of the seed colour; None if curated
    colors: tuple[PaletteColor, ...]
    mean_l: float
    mean_c: float
    dominant_hue: float | None
    hue_spread: float
    temperature: float
    text_contrast: float
    min_contrast_primary_bg: float
    harmony_score: float

    def color(self, role: str) -> PaletteColor | None:
        return next((c for c in self.colors if c.role == role), None)

    @property
    def hexes(self) -> tuple[str, ...]:
        return tuple(c.hex for c in self.colors)


def _palette_from_json(raw: dict) -> Palette:
    colors = tuple(PaletteColor(c["hex"], c["role"], c["name"], tuple(c["oklab"])) for c in raw["colors"])
    return Palette(
        id=raw["id"],
        harmony=raw["harmony"],
        mood=raw["mood"],
        source=raw["source"],
        template=raw["template"],
        seed=raw["seed"],
        colors=colors,
        mean_l=raw["mean_l"],
        mean_c=raw["mean_c"],
        dominant_hue=raw["dominant_hue"],
        hue_spread=raw["hue_spread"],
        temperature=raw["temperature"],
        text_contrast=raw["text_contrast"],
        min_contrast_primary_bg=raw["min_contrast_primary_bg"],
        harmony_score=raw["harmony_score"],
    )


@cache
def load_palettes() -> list[Palette]:
    raw = json.loads(PALETTES_PATH.read_text(encoding="utf-8"))
    return [_palette_from_json(p) for p in raw["palettes"]]


@cache
def palette_attribute_matrix() -> np.ndarray:
    """(N, len(PALETTE_ATTRIBUTE_NAMES)) float32, rows in ``load_palettes()`` order, roughly 0..1 scaled."""
    rows = []
    for p in load_palettes():
        chromatic = p.dominant_hue is not None
        hue = math.radians(p.dominant_hue or 0.0)
        bg, primary, accent, text = (p.color(r) for r in ("background", "primary", "accent", "text"))
        rows.append(
            [
                p.mean_l,
                p.mean_c,
                math.sin(hue) if chromatic else 0.0,
                math.cos(hue) if chromatic else 0.0,
                float(chromatic),
                p.hue_spread / 360.0,
                p.temperature,
                p.text_contrast / 21.0,
                p.min_contrast_primary_bg / 21.0,
                p.harmony_score,
                (len(p.colors) - 4) / 2.0,
                *bg.oklab,
                *primary.oklab,
                *accent.oklab,
                text.oklab[0],
            ]
        )
    matrix = np.asarray(rows, dtype=np.float32)
    matrix.setflags(write=False)  # cached and shared: callers must copy before editing
    return matrix


def _round(value: float) -> float:
    return round(value, 4) + 0.0  # no "-0.0" in the data file


def measure_palette(colors: Sequence[tuple[str, str]]) -> dict[str, float | None]:
    """The stored attributes of a palette given as (hex, role) pairs (needs coloraide)."""
    from knowledge.colors import contrast_ratio, hex_to_oklch
    from knowledge.harmony import palette_harmony

    by_role = {role: hex_ for hex_, role in colors}
    lch = [hex_to_oklch(hex_) for hex_, _ in colors]
    chromatic = [(c, h) for _, c, h in lch if c >= CHROMATIC_CHROMA]

    dominant_hue: float | None = None
    if chromatic:
        x = sum(c * math.cos(math.radians(h)) for c, h in chromatic)
        y = sum(c * math.sin(math.radians(h)) for c, h in chromatic)
        dominant_hue = _round(math.degrees(math.atan2(y, x)) % 360.0)
        if dominant_hue == 360.0:
            dominant_hue = 0.0

    # Smallest arc holding every chromatic hue: 360 minus the largest empty gap.
    hues = sorted(h for _, h in chromatic)
    hue_spread = 0.0
    if len(hues) > 1:
        gaps = [b - a for a, b in zip(hues, hues[1:])] + [hues[0] + 360.0 - hues[-1]]
        hue_spread = 360.0 - max(gaps)

    warmth = sum(c * math.cos(math.radians(h - WARM_POLE_HUE)) for _, c, h in lch)
    weight = sum(max(c, TEMPERATURE_CHROMA_FLOOR) for _, c, _ in lch)

    return {
        "mean_l": _round(sum(l for l, _, _ in lch) / len(lch)),
        "mean_c": _round(sum(c for _, c, _ in lch) / len(lch)),
        "dominant_hue": dominant_hue,
        "hue_spread": _round(hue_spread),
        "temperature": _round(warmth / weight),
        "text_contrast": _round(contrast_ratio(by_role["text"], by_role["background"])),
        "min_contrast_primary_bg": _round(contrast_ratio(by_role["primary"], by_role["background"])),
        "harmony_score": _round(palette_harmony([hex_ for hex_, _ in colors])),
    }
