"""Colour helpers and the named-colour table.

Every conversion goes through coloraide; this module only adds domain-shaped wrappers (hex in,
plain tuples out) so that callers never handle ``Color`` objects. Hex strings are ``#rrggbb``.

Named colours live in ``data/color_names.json`` (built by ``tools/build_color_names.py``) with
their OKLab coordinates precomputed, so loading needs numpy and json only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from coloraide import Color

MIN_TEXT_CONTRAST = 4.5  # WCAG 2.1 AA for body text: palettes, post-processing and the contract all use it

COLOR_NAMES_PATH = Path(__file__).parent / "data" / "color_names.json"

# A colour whose OKLCH chroma is below this is treated as achromatic (hue undefined -> 0).
ACHROMATIC_CHROMA = 1e-4
# xkcd survey names are everyday words ("teal", "mustard"); take one over a closer exotic
# color-name-list name when it is no further than this in OKLab (about 2 just-noticeable steps).
XKCD_PREFERENCE = 0.02

BLACK = "#000000"
WHITE = "#ffffff"


# --- thin coloraide wrappers -------------------------------------------------------------


def _hex(color: Color) -> str:
    return color.convert("srgb").fit("srgb").to_string(hex=True)


@lru_cache(maxsize=65536)
def normalize_hex(hex_color: str) -> str:
    """``#RGB`` / ``#RRGGBB`` / ``RRGGBB`` -> lower-case ``#rrggbb``."""
    text = hex_color.strip()
    if not text.startswith("#"):
        text = "#" + text
    return Color(text).to_string(hex=True)


@lru_cache(maxsize=65536)
def hex_to_oklab(hex_color: str) -> tuple[float, float, float]:
    l, a, b = Color(hex_color).convert("oklab").coords()
    return (l, a, b)


@lru_cache(maxsize=65536)
def hex_to_oklch(hex_color: str) -> tuple[float, float, float]:
    """(L 0..1, C, hue in degrees; 0 for achromatic colours)."""
    l, c, h = Color(hex_color).convert("oklch").coords()
    if c < ACHROMATIC_CHROMA or math.isnan(h):
        h = 0.0
    return (l, c, h % 360.0)


@lru_cache(maxsize=65536)
def hex_to_lab(hex_color: str) -> tuple[float, float, float]:
    """CIELAB (D65), the space of the Ou-Luo harmony model."""
    l, a, b = Color(hex_color).convert("lab-d65").coords()
    return (l, a, b)


def oklch_to_hex(l: float, c: float, h: float) -> str:
    """OKLCH -> sRGB hex; out-of-gamut colours are gamut-mapped (coloraide ``fit``) not clipped."""
    return _hex(Color("oklch", [min(max(l, 0.0), 1.0), max(c, 0.0), h % 360.0]))


@lru_cache(maxsize=262144)
def contrast_ratio(a_hex: str, b_hex: str) -> float:
    """WCAG 2.1 contrast ratio (1..21), symmetric."""
    return Color(a_hex).contrast(b_hex, method="wcag21")


@lru_cache(maxsize=262144)
def delta_e2000(a_hex: str, b_hex: str) -> float:
    return Color(a_hex).delta_e(b_hex, method="2000")


def ensure_contrast(fg_hex: str, bg_hex: str, min_ratio: float = MIN_TEXT_CONTRAST) -> str:
    """``fg`` moved in OKLCH lightness away from ``bg`` until WCAG contrast >= ``min_ratio``.

    Hue is kept and chroma is kept as far as the sRGB gamut allows. For ``min_ratio`` <= 4.5 this
    always succeeds: against any background black or white reaches >= 4.58 (the worst case is
    a background of relative luminance sqrt(0.0525) - 0.05 ~= 0.179, where both give 4.58).
    Above that the most contrasting of black/white is returned when nothing reaches the ratio.
    """
    fg_hex = normalize_hex(fg_hex)
    bg_hex = normalize_hex(bg_hex)
    if contrast_ratio(fg_hex, bg_hex) >= min_ratio:
        return fg_hex
    # Go towards the extreme that can contrast most with bg, not blindly away from bg's L.
    extreme = BLACK if contrast_ratio(BLACK, bg_hex) >= contrast_ratio(WHITE, bg_hex) else WHITE
    if contrast_ratio(extreme, bg_hex) < min_ratio:
        return extreme
    l0, c0, h0 = hex_to_oklch(fg_hex)
    target_l = 0.0 if extreme == BLACK else 1.0
    # Bisection on the fraction t of the way from fg's L to the extreme; the candidate is
    # evaluated after hex rounding so the returned colour itself is guaranteed to pass.
    lo, hi, best = 0.0, 1.0, extreme
    for _ in range(24):
        t = (lo + hi) / 2
        candidate = oklch_to_hex(l0 + (target_l - l0) * t, c0, h0)
        if contrast_ratio(candidate, bg_hex) >= min_ratio:
            hi, best = t, candidate
        else:
            lo = t
    return best


# --- named colours ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NamedColor:
    name: str
    hex: str
    source: str  # "xkcd" | "color-name-list"
    oklab: tuple[float, float, float]


@dataclass(frozen=True)
class NamedColorTable:
    """All named colours, column-wise so nearest-name lookups are one numpy expression."""

    names: tuple[str, ...]
    hexes: tuple[str, ...]
    sources: tuple[str, ...]
    oklab: np.ndarray  # (N, 3) float64
    is_xkcd: np.ndarray  # (N,) bool

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> NamedColor:
        l, a, b = (float(v) for v in self.oklab[index])
        return NamedColor(self.names[index], self.hexes[index], self.sources[index], (l, a, b))

    def by_source(self, source: str) -> list[NamedColor]:
        return [self[i] for i, s in enumerate(self.sources) if s == source]


@cache
def load_named_colors() -> NamedColorTable:
    raw = json.loads(COLOR_NAMES_PATH.read_text(encoding="utf-8"))
    sources_vocab: list[str] = raw["sources"]
    rows: list[list] = raw["colors"]
    names = tuple(row[0] for row in rows)
    hexes = tuple(row[1] for row in rows)
    sources = tuple(sources_vocab[row[2]] for row in rows)
    oklab = np.array([row[3:6] for row in rows], dtype=np.float64)
    is_xkcd = np.array([s == "xkcd" for s in sources], dtype=bool)
    return NamedColorTable(names, hexes, sources, oklab, is_xkcd)


@lru_cache(maxsize=65536)
def nearest_color_name(hex_color: str) -> str:
    """The closest named colour in OKLab; an xkcd name wins when within ``XKCD_PREFERENCE``."""
    table = load_named_colors()
    distances = np.linalg.norm(table.oklab - np.asarray(hex_to_oklab(normalize_hex(hex_color))), axis=1)
    best = int(np.argmin(distances))
    xkcd_distances = np.where(table.is_xkcd, distances, np.inf)
    best_xkcd = int(np.argmin(xkcd_distances))
    if xkcd_distances[best_xkcd] <= distances[best] + XKCD_PREFERENCE:
        return table.names[best_xkcd]
    return table.names[best]
