"""Colour helpers and the named-colour table.

Every conversion goes through coloraide; this module only adds domain-shaped wrappers (hex in,
plain tuples out) so that callers never handle ``Color`` objects. Hex strings are ``#rrggbb``.

Named colours live in ``data/color_names.json`` (built by ``tools/build_color_names.py``) with
their OKLab coordinates precomputed, so loading needs numpy and json only.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from coloraide import Color
from coloraide.css import color_names as css_color_names

MIN_TEXT_CONTRAST = 4.5  # WCAG 2.1 AA for body text: palettes, post-processing and the contract all use it

COLOR_NAMES_PATH = Path(__file__).parent / "data" / "color_names.json"

# A colour whose OKLCH chroma is below this is treated as achromatic (hue undefined -> 0).
ACHROMATIC_CHROMA = 1e-4
# Plain names are everyday words: the xkcd survey's ("teal", "mustard"), and, among the near-whites the survey
# hardly names, the CSS colour keywords that color-name-list also holds ("Linen", "Alice Blue", "White Smoke"; matched
# by name, each with color-name-list's own colour, e.g. its "Moccasin" #fbebd6 where CSS has #ffe4b5).
# Take a plain name over a closer exotic color-name-list name when it is no further than this in OKLab (about 2
# just-noticeable steps).
PLAIN_NAME_PREFERENCE = 0.02
PLAIN_WHITE_MIN_L, PLAIN_WHITE_MAX_C = 0.9, 0.05  # the CSS keywords counted as plain: OKLab L above, chroma below
# A light colour's name must not carry another hue: within a preference of 0.02 the survey's few light tints won
# colours of every hue ("very light pink", OKLCH hue 30, named blue, green and cream whites alike). From this
# lightness on, a name whose colour has a tint (chroma >= NAME_TINT_C) names only colours tinted within
# NAME_HUE_TOLERANCE degrees of its hue; near-neutral names fit any light colour.
NAME_HUE_RULE_MIN_L, NAME_TINT_C, NAME_HUE_TOLERANCE = 0.85, 0.01, 45.0
# Names an answer never shows, whatever their colour: the xkcd survey's and the crowd's words for bodily waste,
# insults to the colour, joke spellings and a trademark ("baby poop", "vomit yellow", "ugly green", "light urple",
# "barney purple"; 191 of the 8,748 colours of 400 golden answers carried one, 50 of them a primary, and two
# rationales read "Highlight set to shit for “osmanthus”"). The next nearest name stands in.
UNSHOWN_NAME_WORDS = re.compile(
    r"\b(shit|poo|poop|puke|vomit|barf|snot|booger|piss|diarrhea|bile|bilious|manure|nipple|scab|ugly|nasty|gross|"
    r"sick|sickly|urple|burple|blurple|barney|rot|rotten|zombie|hell|bubonic|plague|corpse|promiscuous|pussy(?:foot)?|"
    r"crepey|divinorum|injustice|black power)\b", re.IGNORECASE)

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
    is_plain: np.ndarray  # (N,) bool: xkcd, or a CSS keyword among the near-whites (PLAIN_NAME_PREFERENCE)
    shown: np.ndarray  # (N,) bool: may name a colour in an answer (UNSHOWN_NAME_WORDS)
    display: tuple[str, ...]  # each name as answers show it (`_display_name`)

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
    css_keywords = set(css_color_names.name2val_map)
    css_white = np.array([name.lower().replace(" ", "") in css_keywords for name in names]) & (
        (oklab[:, 0] > PLAIN_WHITE_MIN_L) & (np.hypot(oklab[:, 1], oklab[:, 2]) < PLAIN_WHITE_MAX_C))
    shown = np.array([UNSHOWN_NAME_WORDS.search(name) is None for name in names])
    display = tuple(_display_name(name) if xkcd else name for name, xkcd in zip(names, is_xkcd))
    return NamedColorTable(names, hexes, sources, oklab, is_xkcd, is_xkcd | css_white, shown, display)


# The survey's misspellings, each beside its correct form in the survey itself.
_SURVEY_SPELLING = {"burnt siena": "burnt sienna", "forrest green": "forest green", "light lavendar": "light lavender",
                    "liliac": "lilac", "ocre": "ochre", "perrywinkle": "periwinkle", "terracota": "terracotta",
                    "toupe": "taupe"}


def _display_name(survey_name: str) -> str:
    """An xkcd name as answers show it: spelt right, each word capitalised as color-name-list's names are (an
    answer's palette read "Moccasin, coffee, Venetian Gold")."""
    name = _SURVEY_SPELLING.get(survey_name, survey_name)
    return re.sub(r"(^|[ /])([a-z])", lambda m: m.group(1) + m.group(2).upper(), name)


def _names_fit(colour: np.ndarray, names: np.ndarray) -> np.ndarray:
    """(..., 3) OKLab colours against (..., 3) OKLab named colours (broadcast) -> whether each name may name each
    colour: always below NAME_HUE_RULE_MIN_L; from it on, a tinted name only a colour tinted near its hue."""
    colour_lch, name_lch = oklab_to_oklch(colour), oklab_to_oklch(names)
    colour_c, name_c = colour_lch[..., 1], name_lch[..., 1]
    turn = np.abs(name_lch[..., 2] - colour_lch[..., 2])
    turn = np.minimum(turn, 360.0 - turn)
    return (colour[..., 0] < NAME_HUE_RULE_MIN_L) | (name_c < NAME_TINT_C) | (
        (colour_c >= NAME_TINT_C) & (turn <= NAME_HUE_TOLERANCE))


def _nearest_name(colour: np.ndarray, plain: np.ndarray, for_answers: bool) -> str:
    table = load_named_colors()
    distances = np.linalg.norm(table.oklab - colour, axis=1)
    if for_answers:
        distances = np.where(table.shown & _names_fit(colour, table.oklab), distances, np.inf)
    best = int(np.argmin(distances))
    plain_distances = np.where(plain, distances, np.inf)
    best_plain = int(np.argmin(plain_distances))
    names = table.display if for_answers else table.names
    if plain_distances[best_plain] <= distances[best] + PLAIN_NAME_PREFERENCE:
        return names[best_plain]
    return names[best]


@lru_cache(maxsize=65536)
def nearest_color_name(hex_color: str) -> str:
    """The closest named colour in OKLab that may name it in an answer (shown, and ``_names_fit``), as answers show
    it (``_display_name``); a plain name wins when within ``PLAIN_NAME_PREFERENCE``."""
    table = load_named_colors()
    return _nearest_name(np.asarray(hex_to_oklab(normalize_hex(hex_color))), table.is_plain, for_answers=True)


@lru_cache(maxsize=65536)
def library_color_name(hex_color: str) -> str:
    """The name the palette library was built with (an xkcd name within ``PLAIN_NAME_PREFERENCE``; no hue rule,
    every name).

    palettes.json stores it, and the model reads a palette's names as its text (model/design_tensors.py), so it
    stays what the heads were trained on until they are trained again; answers name every colour, the library's
    included, with ``nearest_color_name``."""
    table = load_named_colors()
    return _nearest_name(np.asarray(hex_to_oklab(normalize_hex(hex_color))), table.is_xkcd, for_answers=False)


# --- vectorised forms (many colours per numpy call; the request path's batch post-processing) ------------
# Same formulas, constants and operation order as the coloraide conversions above, so results agree with
# them to the last bit or two (numpy's SIMD pow/sin/cos may round differently from libm): close enough
# that a nearest-colour choice only differs on an exact tie (tests/knowledge/test_colors.py).

from coloraide import util as _ca_util  # noqa: E402 - grouped with the code that needs it
from coloraide.cat import WHITES as _CA_WHITES  # noqa: E402
from coloraide.spaces.lab import EPSILON as _LAB_EPSILON, KAPPA as _LAB_KAPPA  # noqa: E402
from coloraide.spaces.oklab import LMS3_TO_OKLAB, XYZD65_TO_LMS  # noqa: E402
from coloraide.spaces.srgb_linear import RGB_TO_XYZ  # noqa: E402

_RGB_TO_XYZ, _XYZD65_TO_LMS, _LMS3_TO_OKLAB = (np.array(m, np.float64) for m in (RGB_TO_XYZ, XYZD65_TO_LMS,
                                                                                  LMS3_TO_OKLAB))

_THIRD = 3 ** -1  # coloraide's nth_root(x, 3) is abs(x) ** (3 ** -1)


@cache
def _srgb_linear_levels() -> np.ndarray:
    """coloraide's own linear value of each 8-bit sRGB level (256,), so decoding is a table look-up."""
    table = np.array([Color(f"#{v:02x}0000").convert("srgb-linear").coords()[0] for v in range(256)])
    table.setflags(write=False)
    return table


def hexes_to_rgb8(hexes: list[str] | tuple[str, ...]) -> np.ndarray:
    """Normalised ``#rrggbb`` strings -> (N, 3) uint8."""
    if not hexes:
        return np.zeros((0, 3), np.uint8)
    return np.frombuffer(bytes.fromhex("".join(h[1:] for h in hexes)), np.uint8).reshape(-1, 3)


def _mat3(m: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(3, 3) matrix times (..., 3) vectors, rounded as coloraide's matmul_x3: each row's three products summed left
    to right (x @ m.T may sum in another order). One broadcast product and two sums, not 15 ufuncs and a stack:
    the request path converts a few colours per call, where each numpy call's fixed cost dominates."""
    products = x[..., None, :] * m  # (..., row, column)
    out = products[..., 0] + products[..., 1]
    out += products[..., 2]
    return out


def _nth_root3(x: np.ndarray) -> np.ndarray:
    return np.copysign(np.abs(x) ** _THIRD, x)


def rgb8_to_xyz_d65(rgb8: np.ndarray) -> np.ndarray:
    return _mat3(_RGB_TO_XYZ, _srgb_linear_levels()[np.asarray(rgb8, dtype=np.intp)])


def rgb8_to_lab_d65(rgb8: np.ndarray) -> np.ndarray:
    """(..., 3) 8-bit sRGB -> CIELAB D65 (what ``hex_to_lab`` and ``delta_e2000`` use), float64."""
    xyz = rgb8_to_xyz_d65(rgb8) / np.asarray(_ca_util.xy_to_xyz(_CA_WHITES["2deg"]["D65"]))
    f = np.where(xyz > _LAB_EPSILON, _nth_root3(xyz), (_LAB_KAPPA * xyz + 16) / 116)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([(116.0 * fy) - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def rgb8_to_oklab(rgb8: np.ndarray) -> np.ndarray:
    """(..., 3) 8-bit sRGB -> OKLab (what ``hex_to_oklab`` gives), float64."""
    lms = _mat3(_XYZD65_TO_LMS, rgb8_to_xyz_d65(rgb8))
    return _mat3(_LMS3_TO_OKLAB, np.where(lms == 0, 0.0, _nth_root3(lms)))


def oklab_to_oklch(oklab: np.ndarray) -> np.ndarray:
    """(..., 3) OKLab -> (..., 3) OKLCH, hue in degrees 0-360."""
    chroma = np.hypot(oklab[..., 1], oklab[..., 2])
    hue = np.degrees(np.arctan2(oklab[..., 2], oklab[..., 1])) % 360.0
    return np.stack([oklab[..., 0], chroma, hue], axis=-1)


_POW25_7 = 25.0 ** 7
# T's four cosines of the mean hue come from its one cosine and sine by angle-sum identities (one cos and one
# sin per pair instead of four cos: the formula is on the request path, ~10^4 pairs a batch).
_COS30, _SIN30 = math.cos(math.radians(30.0)), math.sin(math.radians(30.0))
_COS6, _SIN6 = math.cos(math.radians(6.0)), math.sin(math.radians(6.0))
_COS63, _SIN63 = math.cos(math.radians(63.0)), math.sin(math.radians(63.0))


def _pow7(x: np.ndarray) -> np.ndarray:
    x2 = x * x
    return x2 * x2 * x2 * x


def delta_e2000_lab(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 between broadcastable (..., 3) CIELAB D65 arrays: coloraide's ``DE2000``, in radians.

    Agrees with coloraide to ~1e-13 (tests/knowledge/test_colors.py); identical colours give exactly 0.
    """
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c7 = _pow7(0.5 * (np.sqrt(a1 * a1 + b1 * b1) + np.sqrt(a2 * a2 + b2 * b2)))
    g1 = 1.5 - 0.5 * np.sqrt(c7 / (c7 + _POW25_7))  # 1 + G
    ap1, ap2 = g1 * a1, g1 * a2
    cp1 = np.sqrt(ap1 * ap1 + b1 * b1)
    cp2 = np.sqrt(ap2 * ap2 + b2 * b2)
    hp1, hp2 = np.arctan2(b1, ap1), np.arctan2(b2, ap2)
    hp1, hp2 = np.where(hp1 < 0.0, hp1 + math.tau, hp1), np.where(hp2 < 0.0, hp2 + math.tau, hp2)
    chroma_product = cp1 * cp2
    zero = chroma_product == 0.0
    hdiff, hsum = hp1 - hp2, hp1 + hp2
    far = np.abs(hdiff) > math.pi
    # Mean hue; where a chroma is 0 the plain sum, as coloraide (it then only meets terms multiplied by dh = 0).
    hpm = np.where(zero, hsum, 0.5 * np.where(far, hsum + np.where(hsum < math.tau, math.tau, -math.tau), hsum))
    dh = 2.0 * np.sqrt(chroma_product) * np.sin(0.5 * np.where(far, hdiff - np.copysign(math.tau, hdiff), hdiff))
    c, s = np.cos(hpm), np.sin(hpm)
    c2, s2 = 2.0 * c * c - 1.0, 2.0 * s * c
    t = (1.0 - 0.17 * (c * _COS30 + s * _SIN30) + 0.24 * c2
         + 0.32 * (c * (4.0 * c * c - 3.0) * _COS6 - s * (3.0 - 4.0 * s * s) * _SIN6)
         - 0.20 * ((2.0 * c2 * c2 - 1.0) * _COS63 + 2.0 * s2 * c2 * _SIN63))
    hd = np.degrees(hpm) - 275.0
    cpm = 0.5 * (cp1 + cp2)
    cpm7 = _pow7(cpm)
    # R_T = -sin(2 * 30 exp(-((h - 275) / 25)^2) degrees) * R_C; its sign is folded into the sum below.
    rt = np.sin(np.exp(hd * hd * (-1.0 / 625.0)) * math.radians(60.0)) * (2.0 * np.sqrt(cpm7 / (cpm7 + _POW25_7)))
    lm = 0.5 * (l1 + l2) - 50.0
    lm = lm * lm
    dl = (l1 - l2) / (1.0 + 0.015 * lm / np.sqrt(20.0 + lm))
    dc = (cp1 - cp2) / (1.0 + 0.045 * cpm)
    dh = dh / (1.0 + 0.015 * cpm * t)
    return np.sqrt(dl * dl + dc * dc + dh * dh - rt * dc * dh)


NAME_CELL = 0.01  # OKLab cell size of the name-table grid (a typical search radius is 0.005-0.02)


@dataclass(frozen=True)
class _NameGrid:
    """The name table bucketed on a regular OKLab grid (rows sorted by cell key), and the plain names' rows."""

    rows: np.ndarray  # table rows sorted by cell key
    shown: np.ndarray  # (N,) bool, in the same order
    cell_start: np.ndarray  # (cells + 1,): cell k's rows are rows[cell_start[k]:cell_start[k + 1]]
    lab: np.ndarray  # (3, N) their OKLab, coordinate planes in the same order
    low: np.ndarray  # (3,) smallest cell index per axis
    shape: np.ndarray  # (3,) cells per axis
    plain_rows: np.ndarray
    plain_lab: np.ndarray  # (3, n_plain), coordinate planes


@cache
def _name_grid() -> _NameGrid:
    table = load_named_colors()
    cells = np.floor(table.oklab / NAME_CELL).astype(np.int64)
    low = cells.min(axis=0)
    shape = cells.max(axis=0) - low + 1
    keys = np.ravel_multi_index((cells - low).T, shape)
    rows = np.argsort(keys, kind="stable")
    plain_rows = np.flatnonzero(table.is_plain & table.shown)
    cell_start = np.searchsorted(keys[rows], np.arange(shape.prod() + 1)).astype(np.int32)  # ~1.5 MB
    return _NameGrid(rows, table.shown[rows], cell_start, np.ascontiguousarray(table.oklab[rows].T), low, shape,
                     plain_rows, np.ascontiguousarray(table.oklab[plain_rows].T))


def _distances(planes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Euclidean distances of (3, ...) coordinate planes to (..., 3) points, summed in np.linalg.norm's order
    (so bit-identical to ``nearest_color_name``'s), without building (..., 3) differences."""
    squares = [(planes[k] - points[..., k]) ** 2 for k in range(3)]
    return np.sqrt(squares[0] + squares[1] + squares[2])


def nearest_color_names(oklab: np.ndarray) -> list[str]:
    """``nearest_color_name`` for (M, 3) OKLab colours at once, with the same tie-breaking (lowest row).

    The plain answer costs one (M, 923) distance matrix. A closer exotic name only wins when it is nearer than
    the best plain distance minus ``PLAIN_NAME_PREFERENCE`` (usually < 0.01), so only the grid cells within that
    radius are searched (tens of rows, often none), for all colours in one gather, not all 32k rows each.
    """
    table = load_named_colors()
    grid = _name_grid()
    oklab = np.asarray(oklab, dtype=np.float64).reshape(-1, 3)
    plain_distances = _distances(grid.plain_lab[:, None, :], oklab[:, None, :])  # (M, 923)
    light = np.flatnonzero(oklab[:, 0] >= NAME_HUE_RULE_MIN_L)  # the only colours _names_fit can refuse a name
    if len(light):
        plain_distances[light] = np.where(_names_fit(oklab[light, None, :], grid.plain_lab.T[None, :, :]),
                                          plain_distances[light], np.inf)
    best = grid.plain_rows[np.argmin(plain_distances, axis=1)]
    plain_best = plain_distances.min(axis=1)  # finite: a near-neutral plain name fits every colour
    radius = plain_best - PLAIN_NAME_PREFERENCE + 1e-9  # margin for the rounding of the comparison's sum
    searched = np.flatnonzero(radius > 0)
    if len(searched):
        centre, r = oklab[searched], radius[searched, None]
        first_cell = np.maximum(np.floor((centre - r) / NAME_CELL).astype(np.int64) - grid.low, 0)
        last_cell = np.minimum(np.floor((centre + r) / NAME_CELL).astype(np.int64) - grid.low, grid.shape - 1)
        span = np.maximum(last_cell - first_cell + 1, 0)  # cells per axis
        n_cells = span.prod(axis=1)
        # Every (colour, cell) of each colour's box of cells, enumerated back to back.
        owner = np.repeat(np.arange(len(searched)), n_cells)
        t = np.arange(n_cells.sum()) - np.repeat(np.cumsum(n_cells) - n_cells, n_cells)
        s1, s2 = span[owner, 1], span[owner, 2]
        cell = first_cell[owner] + np.stack([t // (s1 * s2), (t // s2) % s1, t % s2], axis=1)
        keys = np.ravel_multi_index(cell.T, grid.shape)
        lo, hi = grid.cell_start[keys].astype(np.int64), grid.cell_start[keys + 1].astype(np.int64)
        counts = hi - lo
        found = np.bincount(owner, weights=counts, minlength=len(searched)).astype(np.int64)
        if found.sum():
            position = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts - lo, counts)
            who = np.repeat(owner, counts)  # ascending, so each colour's candidates are contiguous
            distances = _distances(grid.lab[:, position], centre[who])
            distances = np.where(grid.shown[position] & _names_fit(centre[who], grid.lab[:, position].T), distances,
                                 np.inf)
            have = np.flatnonzero(found)
            starts = (np.cumsum(found) - found)[have]
            nearest = np.minimum.reduceat(distances, starts)
            at_min = np.where(distances == nearest[np.searchsorted(have, who)], grid.rows[position], len(table))
            first = np.minimum.reduceat(at_min, starts)
            closer = ~(plain_best[searched[have]] <= nearest + PLAIN_NAME_PREFERENCE)
            best[searched[have[closer]]] = first[closer]
    return [table.display[int(i)] for i in best]


# --- OKLCH -> 8-bit sRGB for a batch, gamut-mapped ----------------------------------------------------------------

from coloraide.spaces.oklab import LMS_TO_XYZD65, OKLAB_TO_LMS3  # noqa: E402
from coloraide.spaces.srgb_linear import XYZ_TO_RGB  # noqa: E402

_OKLAB_TO_LMS3, _LMS_TO_XYZD65, _XYZ_TO_RGB = (np.array(m, np.float64) for m in (OKLAB_TO_LMS3, LMS_TO_XYZD65,
                                                                                  XYZ_TO_RGB))

GAMUT_STEPS = 12  # bisection steps on chroma: 0.4 / 2**12 = 1e-4, below one 8-bit level (~4e-3 in OKLab)


def _oklab_to_srgb_linear(oklab: np.ndarray) -> np.ndarray:
    lms = _mat3(_OKLAB_TO_LMS3, oklab) ** 3
    return _mat3(_XYZ_TO_RGB, _mat3(_LMS_TO_XYZD65, lms))


def _in_srgb(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) linear sRGB -> (N,) inside the gamut, with a little tolerance (channels AND-ed one by one: a reduction
    over a 3-long axis costs more on the few colours of a request)."""
    ok = (rgb >= -1e-6) & (rgb <= 1 + 1e-6)
    return ok[:, 0] & ok[:, 1] & ok[:, 2]


def oklch_to_rgb8(lch: np.ndarray) -> np.ndarray:
    """(..., 3) OKLCH (hue in degrees) -> (..., 3) uint8 sRGB, out-of-gamut colours mapped by reducing OKLCH chroma
    at constant lightness and hue to the sRGB boundary (coloraide's ``fit("srgb", method="oklch-chroma", jnd=0)``,
    bisected here for a whole batch at once), then clipped and rounded as a hex code is."""
    lch = np.asarray(lch, dtype=np.float64)
    flat = lch.reshape(-1, 3)
    # OKLab (L, C cos h, C sin h) built in one preallocated array, and each bisection step only rewrites a and b.
    oklab = np.empty(flat.shape)
    np.clip(flat[:, 0], 0.0, 1.0, out=oklab[:, 0])
    hue = np.radians(flat[:, 2])
    cos_sin = np.stack([np.cos(hue), np.sin(hue)], axis=-1)
    chroma = np.maximum(flat[:, 1], 0.0)
    np.multiply(chroma[:, None], cos_sin, out=oklab[:, 1:])
    rgb = _oklab_to_srgb_linear(oklab)
    out = np.flatnonzero(~_in_srgb(rgb))
    if len(out):  # bisect only the colours outside the gamut
        at, cos_sin = oklab[out], cos_sin[out]
        lo, hi = np.zeros(len(out)), chroma[out]
        for _ in range(GAMUT_STEPS):
            mid = 0.5 * (lo + hi)
            np.multiply(mid[:, None], cos_sin, out=at[:, 1:])
            fits = _in_srgb(_oklab_to_srgb_linear(at))
            lo, hi = np.where(fits, mid, lo), np.where(fits, hi, mid)
        np.multiply(lo[:, None], cos_sin, out=at[:, 1:])
        rgb[out] = _oklab_to_srgb_linear(at)
    rgb = rgb.reshape(lch.shape)
    rgb = np.clip(rgb, 0.0, 1.0)
    # sRGB transfer (IEC 61966-2-1), as coloraide encodes srgb from srgb-linear.
    encoded = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb ** (1 / 2.4) - 0.055)
    return np.rint(np.clip(encoded, 0.0, 1.0) * 255.0).astype(np.uint8)


def rgb8_to_hexes(rgb8: np.ndarray) -> list[str]:
    """(N, 3) uint8 -> ``#rrggbb`` strings."""
    flat = np.asarray(rgb8, np.uint8).reshape(-1, 3)
    return [f"#{h}" for h in (bytes(row).hex() for row in flat)]
