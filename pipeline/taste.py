"""A tenant's learned taste as re-ranking terms for post-processing: batch-shaped numpy, read-only tables.

The learner (`learning/`, trained offline from the feedback log) fits one linear scorer per tenant over features
post-processing already has: each library palette's OKLCH statistics, each font pair's heading/body categories,
script flag and expressive tags, and the style. Here those weights become bounded bonuses that
`pipeline.postprocess` adds to its choice values:

- palettes: at most `PALETTE_REACH` either way, below the half-step (5.0) of "meets one more named tone or cue",
  so a palette never wins over one that fits the brief better; rule 9 (distinct schemes) and brand roles stay hard;
- styles: at most `STYLE_REACH`, below the 5.0 of "among the brief's top styles" and the 10.0 of "has a pair that
  meets its type rule";
- font pairs: at most `FONT_REACH`, below the 10.0 of "meets one more type rule".

Each bonus applies only to candidates that meet the brief outright (palettes meeting every named tone and cue,
styles among the brief's top ones that some pair can type under the first-scheme policy, pairs meeting the style's
and every named tone's type rule); the others get 0.0. The font features are categories and the script flag, not
the 20 expressive tags: with tags the replay's learners spread weight over tags the designers never chose by
(docs/learning.md).

So the learner only re-orders candidates that already meet the brief's constraints. A tenant without weights gets
bonuses of exactly 0.0 (tanh(0) * reach), and `x + 0.0 == x` for every float including -inf: its answers are the
same bytes as with the learner off (tests/pipeline/test_taste.py).

The artefact (`TasteModel.save` / `load`) is one .npz: tenants, weights, the feature layout they were fitted on
(checked on load), a version and the time of the newest event used.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from knowledge.fit_tables import ROLES, library_colours, pair_faces
from knowledge.fonts import load_font_pairs
from knowledge.palettes import load_palettes
from knowledge.taxonomy import Style
from pipeline.table_cache import load_or_build

PALETTE_REACH = 2.0
STYLE_REACH = 2.0
FONT_REACH = 4.5
STYLES = [s.value for s in Style]
HEADING_CATEGORIES = ("serif", "sans-serif", "display", "handwriting", "monospace")
BODY_CATEGORIES = ("serif", "sans-serif")
CHROMATIC = 0.04  # OKLCH chroma below which a colour counts as a neutral (no hue)
FLUORESCENT = (0.17, 0.6)  # OKLCH chroma and lightness at or above which a colour reads fluorescent
# OKLCH hue sectors: reds, oranges, honeyed yellows (and pinks next to red) read warm; cyan to violet cool.
WARM_HUES = ((0.0, 110.0), (340.0, 360.0))
COOL_HUES = ((180.0, 300.0),)
TEXT_ROLE, PRIMARY_ROLE = ROLES.index("text"), ROLES.index("primary")


def _in_sectors(hue: np.ndarray, sectors) -> np.ndarray:
    return np.any([(hue >= lo) & (hue < hi) for lo, hi in sectors], axis=0)


@dataclass(frozen=True)
class FeatureTables:
    """Features of every library palette, font pair (standardised) and style (centred one-hot), in library order."""

    palette: np.ndarray  # (P, dp) float64
    font: np.ndarray  # (F, df)
    style: np.ndarray  # (S, ds)
    palette_names: list[str]
    font_names: list[str]
    style_names: list[str]
    palette_index: dict[str, int]
    font_index: dict[str, int]
    style_index: dict[str, int]
    layout: str  # hash of names and raw tables: an artefact fitted on other features is refused

    @property
    def names(self) -> list[str]:
        return [*self.palette_names, *self.font_names, *self.style_names]

    @property
    def width(self) -> int:
        return len(self.names)

    def rows(self, palette: np.ndarray, font: np.ndarray, style: np.ndarray) -> np.ndarray:
        """(n,) library indices of palettes, font pairs and styles -> (n, d) joint feature rows."""
        return np.concatenate([self.palette[palette], self.font[font], self.style[style]], axis=1)


def _standardise(raw: np.ndarray) -> np.ndarray:
    spread = raw.std(axis=0)
    return (raw - raw.mean(axis=0)) / np.where(spread > 1e-12, spread, 1.0)


def _palette_raw() -> tuple[np.ndarray, list[str]]:
    colours = library_colours()
    lch, present = colours.lch, colours.present
    visible = present.copy()
    visible[:, TEXT_ROLE] = False  # text is forced to contrast; what a designer sees as the palette is the rest
    count = visible.sum(axis=1)
    light, chroma, hue = lch[..., 0], lch[..., 1], lch[..., 2]
    chromatic = visible & (chroma >= CHROMATIC)
    weight = np.where(chromatic, chroma, 0.0)
    total = np.maximum(weight.sum(axis=1), 1e-9)
    primary = lch[:, PRIMARY_ROLE]
    raw = np.stack([
        np.where(visible, light, 0.0).sum(axis=1) / count,
        np.where(visible, chroma, 0.0).sum(axis=1) / count,
        np.where(visible, chroma, 0.0).max(axis=1),
        np.where(visible, light, -np.inf).max(axis=1) - np.where(visible, light, np.inf).min(axis=1),
        (weight * _in_sectors(hue, WARM_HUES)).sum(axis=1) / total,
        (weight * _in_sectors(hue, COOL_HUES)).sum(axis=1) / total,
        (visible & (chroma >= FLUORESCENT[0]) & (light >= FLUORESCENT[1])).sum(axis=1) / count,
        primary[:, 1] * np.cos(np.radians(primary[:, 2])),
        primary[:, 1] * np.sin(np.radians(primary[:, 2])),
    ], axis=1)
    names = ["palette lightness", "palette chroma", "palette peak chroma", "palette lightness range",
             "palette warm share", "palette cool share", "palette fluorescent share", "primary a (red-green)",
             "primary b (yellow-blue)"]
    return raw, names


def _font_raw() -> tuple[np.ndarray, list[str]]:
    faces = pair_faces()
    raw = np.concatenate([
        (faces.heading_category[:, None] == np.array(HEADING_CATEGORIES)).astype(np.float64),
        faces.heading_script[:, None].astype(np.float64),
        (faces.body_category[:, None] == np.array(BODY_CATEGORIES)).astype(np.float64),
    ], axis=1)
    names = [f"heading {c}" for c in HEADING_CATEGORIES] + ["heading script"] + [f"body {c}" for c in BODY_CATEGORIES]
    return raw, names


@cache
def feature_tables() -> FeatureTables:
    return load_or_build("taste-features", _build_feature_tables)


def _build_feature_tables() -> FeatureTables:
    palette_raw, palette_names = _palette_raw()
    font_raw, font_names = _font_raw()
    # Styles one-hot, centred but not standardised: standardised, a style one in 14 schemes has the value 3.6, so
    # every pair of schemes (each of an answer has its own style) differs by ~3.9 in two style features against ~1
    # in a palette one, and a few noisy events put the largest weights on styles the designer never chose by.
    style = np.eye(len(STYLES)) - 1.0 / len(STYLES)
    style_names = [f"style {s}" for s in STYLES]
    palette, font = _standardise(palette_raw), _standardise(font_raw)
    digest = hashlib.sha256()  # of the tables as the learner sees them: a change of scaling is a new layout too
    for array, names in ((palette, palette_names), (font, font_names), (style, style_names)):
        digest.update(json.dumps(names).encode())
        digest.update(np.round(array, 9).tobytes())
    return FeatureTables(
        palette=palette, font=font, style=style,
        palette_names=palette_names, font_names=font_names, style_names=style_names,
        palette_index={p.id: i for i, p in enumerate(load_palettes())},
        font_index={p.id: i for i, p in enumerate(load_font_pairs())},
        style_index={s: i for i, s in enumerate(STYLES)},
        layout=digest.hexdigest()[:16],
    )


@dataclass(frozen=True)
class TasteBatch:
    """Per brief of a batch: its tenant's weights (zeros where the tenant has none) and whether it has any."""

    palette_w: np.ndarray  # (B, dp)
    font_w: np.ndarray  # (B, df)
    style_w: np.ndarray  # (B, ds)
    applied: np.ndarray  # (B,) bool
    version: str

    def take(self, rows: np.ndarray) -> "TasteBatch":
        """The rows of the briefs post-processing keeps (rejected briefs dropped)."""
        return TasteBatch(self.palette_w[rows], self.font_w[rows], self.style_w[rows], self.applied[rows],
                          self.version)

    def palette_bonus(self, palettes: np.ndarray) -> np.ndarray:
        """(B, C) library palette indices -> (B, C) bonus in [-PALETTE_REACH, PALETTE_REACH]."""
        feats = feature_tables().palette[palettes]  # (B, C, dp)
        return PALETTE_REACH * np.tanh(np.einsum("bcd,bd->bc", feats, self.palette_w))

    def style_bonus(self, pairs: np.ndarray | None = None) -> np.ndarray:
        """(B, n_styles) bonus in [-STYLE_REACH, STYLE_REACH]. With `pairs` (B, n_pairs, n_styles) bool, the font
        pairs each style could be typed with for each brief: a style also counts the taste for the best-liked of
        its pairs (a tenant who picks serif headings leans towards the styles that admit one), since the style
        is chosen before the pair and bounds it."""
        logit = self.style_w @ feature_tables().style.T
        taught = np.flatnonzero(self.applied)
        if pairs is not None and len(taught):  # untaught rows stay exactly 0.0
            font = (self.font_w[taught] @ feature_tables().font.T)[:, :, None]  # (b, n_pairs, 1)
            best = np.where(pairs[taught], font, -np.inf).max(axis=1)
            logit[taught] += np.where(np.isfinite(best), best, 0.0)
        return STYLE_REACH * np.tanh(logit)

    def font_bonus(self) -> np.ndarray:
        """(B, n_pairs) bonus in [-FONT_REACH, FONT_REACH]."""
        return FONT_REACH * np.tanh(self.font_w @ feature_tables().font.T)


@dataclass(frozen=True)
class TasteModel:
    """Every tenant's weights from one training run (the versioned artefact)."""

    version: str
    trained_at: float  # created_at of the newest event used (a reset after it drops the tenant's weights)
    tenants: np.ndarray  # (T,) str, sorted
    weights: np.ndarray  # (T, d) float64, `feature_tables().names` order
    events: np.ndarray  # (T,) int: events each tenant's weights were fitted on
    layout: str

    def __post_init__(self) -> None:
        if self.layout != feature_tables().layout:
            raise ValueError(f"taste artefact {self.version} was fitted on feature layout {self.layout}, "
                             f"this code has {feature_tables().layout}: retrain it")

    @classmethod
    def build(cls, weights: dict[str, np.ndarray], events: dict[str, int], trained_at: float) -> "TasteModel":
        tenants = sorted(weights)
        width = feature_tables().width
        matrix = np.array([weights[t] for t in tenants], dtype=np.float64).reshape(len(tenants), width)
        digest = hashlib.sha256(matrix.tobytes() + json.dumps(tenants).encode()).hexdigest()[:8]
        stamp = np.datetime64(int(trained_at), "s").astype(str).replace("-", "").replace(":", "")
        return cls(f"{stamp}Z-{digest}", float(trained_at), np.array(tenants, dtype=str), matrix,
                   np.array([events[t] for t in tenants], dtype=np.int64), feature_tables().layout)

    def save(self, folder: str | Path) -> Path:
        """Write `taste-<version>.npz` into `folder` (atomically) and return its path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"taste-{self.version}.npz"
        buffer = io.BytesIO()
        np.savez(buffer, version=np.array(self.version), trained_at=np.array(self.trained_at),
                 tenants=self.tenants, weights=self.weights, events=self.events, layout=np.array(self.layout),
                 feature_names=np.array(feature_tables().names))
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TasteModel":
        with np.load(path, allow_pickle=False) as npz:
            return cls(str(npz["version"]), float(npz["trained_at"]), npz["tenants"].astype(str),
                       npz["weights"], npz["events"], str(npz["layout"]))

    def batch(self, tenants: list[str], reset_at: dict[str, float] | None = None) -> TasteBatch | None:
        """Each brief's tenant's weights, or None when no brief of the batch has a tenant with weights (then
        post-processing runs exactly as with the learner off). A tenant reset after this model's newest event
        has none."""
        if not len(self.tenants) or not tenants:
            return None
        asked = np.asarray(tenants, dtype=str)
        slot = np.minimum(np.searchsorted(self.tenants, asked), len(self.tenants) - 1)
        applied = self.tenants[slot] == asked
        if reset_at:
            stale = [t for t, at in reset_at.items() if at > self.trained_at]
            applied &= ~np.isin(asked, stale)
        if not applied.any():
            return None
        weights = np.where(applied[:, None], self.weights[slot], 0.0)
        t = feature_tables()
        dp, df = len(t.palette_names), len(t.font_names)
        return TasteBatch(weights[:, :dp], weights[:, dp:dp + df], weights[:, dp + df:], applied, self.version)

    def describe(self, tenant: str, top: int = 8) -> dict:
        """A tenant's learned preferences in words: the features that weigh most, each with its sign."""
        where = np.flatnonzero(self.tenants == tenant)
        if not len(where):
            return {"learned": False, "learner_version": self.version, "events": 0, "preferences": []}
        w = self.weights[where[0]]
        order = np.argsort(-np.abs(w))[:top]
        names = feature_tables().names
        return {"learned": True, "learner_version": self.version, "events": int(self.events[where[0]]),
                "preferences": [{"feature": names[k], "weight": round(float(w[k]), 3),
                                 "leaning": "towards" if w[k] > 0 else "away from"} for k in order if w[k] != 0]}
