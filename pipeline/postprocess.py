"""Raw model outputs -> `num_schemes` distinct, contract-valid design schemes (shared by every backend).

Per brief: pick palettes by maximal marginal relevance under the brief's named tones and colour cues (the frozen
definitions of docs/teacher.md, as `knowledge.fit_tables` tables) with rule 9's distinctness as a hard constraint,
put a cue's colour in where no palette holds it (then the colour a free keyword evokes, `pipeline.keyword_colours`,
where a free role is left), move a scheme's remaining free colours into the ranges of the tones it still misses
(`pipeline.tone_fit`), give each scheme a style whose type rule some font pair can meet
with the named tones', pick such a font pair per scheme (CJK-capable for zh), honour brand colours, force
text/background contrast >= 4.5:1, turn heatmaps into element boxes, write the rationale. `honour_brief=False`
keeps the earlier choices on the model's ranking alone (the evaluation's "model alone").

Batch-first: `schemes_batch` does each step for every brief of a batch at once in numpy (the greedy choices
run one round per scheme over the whole batch), reading fixed tables that `warm()` builds once per process,
and writes plain dicts in the contract's shape (no pydantic on the request path; `pipeline.answer` turns them
into bytes). tests/pipeline/test_golden.py holds the answers to frozen ones (re-frozen on purpose for issue 15).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import numpy as np

from contract.brief import Brief
from contract.scheme import MIN_TEXT_CONTRAST, HeatmapEncoding
from knowledge.colors import (
    contrast_ratio,
    delta_e2000_lab,
    ensure_contrast,
    hexes_to_rgb8,
    nearest_color_name,
    nearest_color_names,
    oklab_to_oklch,
    oklch_to_hex,
    rgb8_to_lab_d65,
    rgb8_to_oklab,
)
from knowledge.attributes import load_attributes
from knowledge.design_tables import GRID, ROLE_ORDER, oklch_fit, palette_role_lab
from knowledge.fit_tables import (
    Boxes, attribute_rules, library_colours, pair_faces, pair_passes, palette_passes, tone_rules,
)
from knowledge.fonts import load_font_pairs, load_fonts
from knowledge.labels import label, profile
from knowledge.layouts import load_layout_templates, render_heatmaps
from knowledge.gloss import load_gloss
from knowledge.lexicon import normalize_keywords
from knowledge.palettes import load_palettes
from knowledge.taxonomy import Harmony, LayoutElement, Locale, PackageFormat, PaletteRole, ProductCategory, Style, Tone
from pipeline.answer import answer_json, schemes_json, schemes_json_batch
from pipeline.features import EncodedBatch, colour_cues
from pipeline.keyword_colours import KeywordColour, keyword_colours_batch
from pipeline.table_cache import load_or_build
from pipeline.taste import TasteBatch, feature_tables
from pipeline.tone_fit import ToneTuned, fit_tones, warm as warm_tone_fit

MMR_LAMBDA = 0.65  # relevance vs diversity when choosing palettes and font pairs
# Bonus, when choosing a later palette, for meeting a named tone or cue no scheme chosen so far meets: above the MMR
# terms and the taste's reach (PALETTE_REACH), below half a step of the named-attribute count (10 a step).
COVER_BONUS = 4.0
MIN_PALETTE_DISTANCE = 0.06  # OKLab distance below which two candidate palettes count as the same direction
BRAND_ROLES = (PaletteRole.primary, PaletteRole.accent, PaletteRole.secondary, PaletteRole.highlight)
STYLES = [s.value for s in Style]
ELEMENTS = [e.value for e in LayoutElement]
LOCALES = [loc.value for loc in Locale]
TOP_STYLES = 5  # style_scores length, and the styles a scheme may take
MAX_PALETTE_COLORS = 6
ROLE_ZH = {"background": "背景色", "text": "文字色", "primary": "主色", "accent": "强调色",
           "secondary": "辅助色", "highlight": "点缀色"}
TEMPLATE_BLEND = 0.5  # weight of the format template in every scheme's heatmaps but the first
# `build_layouts` reads a mask row as 4-byte words and folds the rows in halves.
assert GRID[1] % 4 == 0 and GRID[0] & (GRID[0] - 1) == 0, GRID


# --- fixed tables ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tables:
    """Everything post-processing reads that does not depend on the request, built once by `warm()`."""

    # palettes (P = library size), colour positions in each palette's own order
    signature: np.ndarray  # (P, 9) float32: background, primary, accent in OKLab
    style_fit: np.ndarray  # (P, n_styles) float64: fit of each palette to each style's OKLCH profile
    palette_id: list[str]
    palette_harmony: list[str]
    harmony_max_arc: np.ndarray  # (P,) HARMONY_MAX_ARC of the palette's harmony (360: any)
    palette_colors: list[tuple[tuple[str, str, str], ...]]  # (hex, role, name), text already contrast-fixed
    # The same as answer dicts, built once and shared by every scheme that shows them: nothing downstream mutates
    # them (a colour put in replaces its dict in the scheme's own list).
    palette_color_dicts: list[tuple[dict[str, str], ...]]
    text_contrast: list[float]  # text on background, rounded as answered
    brandable: np.ndarray  # (P, 6) bool: a brand colour may take this position
    accent: np.ndarray  # (P, 6) bool: where brand colours go once the brand-able roles are used up
    color_lab: np.ndarray  # (P, 6, 3) float64 CIELAB D65 (deltaE 2000 space)
    # font pairs (F)
    pair_zh: np.ndarray  # (F,) bool
    zh_pairs: np.ndarray  # indices of the CJK pairs, in library order
    pair_heading: np.ndarray  # (F,) int: heading family number
    n_headings: int
    mood: np.ndarray  # (F, n_styles) float64: pair mood vs style font tags (cosine)
    typography: list[tuple[str, tuple[str, str, int], tuple[str, str, int]]]
    typography_dicts: list[dict]  # the answer's "typography" object per pair, shared likewise
    # labels per locale
    style_label: dict[str, list[str]]
    harmony_label: dict[str, dict[str, str]]  # en: lower-cased, as the sentence uses it
    tone_label: dict[str, dict[str, str]]
    role_label: dict[str, list[str]]  # by ROLE_ORDER position, as a rationale names a colour role
    category_label: dict[str, dict[str, str]]
    # layout
    template_for: dict[str, np.ndarray]  # format -> (n_styles,) template number, -1 when the format has none
    template_id: list[str]
    template_maps: np.ndarray  # (T, 4, rows, cols) float64
    col_fraction: np.ndarray  # k / cols rounded to 4 places, k = 0..cols (box x and w)
    row_fraction: np.ndarray  # k / rows rounded likewise (box y and h)


def _mood_match(pair, wanted: dict[str, float]) -> float:
    """Cosine of a pair's expressive mood and a style's font tags (the per-brief code's formula, kept exact)."""
    if not wanted:
        return 0.0
    dot = sum(w * pair.mood.get(tag, 0.0) for tag, w in wanted.items())
    norm = np.sqrt(sum(w * w for w in wanted.values())) * np.sqrt(sum(v * v for v in pair.mood.values()) or 1.0)
    return float(dot / norm) if norm else 0.0


def _fixed_palette(palette, names: dict[str, str]) -> tuple[tuple[tuple[str, str, str], ...], float]:
    """Library colours (hex, role, name from `names`) with the text forced to contrast >= 4.5 with the background,
    and that contrast.

    Brand colours never take the text or background role, so this depends on the palette alone.
    """
    colors = [(c.hex, c.role, names[c.hex]) for c in palette.colors]
    background = next(c for c in colors if c[1] == PaletteRole.background)
    t = next(i for i, c in enumerate(colors) if c[1] == PaletteRole.text)
    if contrast_ratio(colors[t][0], background[0]) < MIN_TEXT_CONTRAST:
        fixed = ensure_contrast(colors[t][0], background[0], MIN_TEXT_CONTRAST)
        colors[t] = (fixed, colors[t][1], nearest_color_name(fixed))
    return tuple(colors), round(contrast_ratio(colors[t][0], background[0]), 2)


@cache
def _tables() -> _Tables:
    return load_or_build("postprocess-tables", _build_tables)


# How an English rationale says a harmony where the vocabulary's label reads badly in "with a ... palette".
_EN_HARMONY = {"neutral_accent": "neutral-plus-accent"}


def _with_article(words: str) -> str:
    return f"{'an' if words[:1] in 'aeiou' else 'a'} {words}"


# The widest arc (degrees of OKLCH hue) the colourful colours of the four accent roles may span for the rationale
# to call a palette by the library palette's harmony. A brand colour or a colour put in can break it (a
# "monochromatic" palette holding a green and a magenta brand colour); the library's own palettes keep it (95 % of
# its monochromatic ones span <= 39 degrees, of its analogous ones <= 131).
HARMONY_MAX_ARC = {Harmony.monochromatic.value: 60.0, Harmony.analogous.value: 135.0}
HARMONY_CHROMA = 0.05  # colours less colourful than this do not count (near-greys, tinted whites and darks)
ACCENT_ROLES = np.array([ROLE_ORDER.index(r) for r in (PaletteRole.primary, PaletteRole.accent,
                                                        PaletteRole.secondary, PaletteRole.highlight)])


def _hue_arc(lch: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(S, roles, 3) OKLCH and (S, roles) roles present -> (S,) the smallest arc of hue holding every colourful
    colour of the accent roles (0 with fewer than two)."""
    colourful = present[:, ACCENT_ROLES] & (lch[:, ACCENT_ROLES, 1] >= HARMONY_CHROMA)
    hue = np.sort(np.where(colourful, lch[:, ACCENT_ROLES, 2], 1e9), axis=1)  # the colourful ones first, ascending
    n = colourful.sum(axis=1)
    rows = np.arange(len(hue))
    inner = np.where(np.arange(1, hue.shape[1]) < n[:, None], np.diff(hue, axis=1), 0.0)  # gaps between neighbours
    wrap = hue[rows, 0] + 360.0 - hue[rows, np.maximum(n - 1, 0)]
    return np.where(n >= 2, 360.0 - np.maximum(inner.max(axis=1), wrap), 0.0)


def _build_tables() -> _Tables:
    palettes = load_palettes()
    lab, mask = palette_role_lab()
    signature = np.ascontiguousarray(lab[:, [0, 2, 3]].reshape(len(palettes), -1))
    # All palettes at once; equal to the per-brief code's one-row calls (its sums run along the role axis
    # either way; checked for every palette and style when this was written).
    style_fit = np.stack([oklch_fit(lab, mask, profile("style", s)) for s in STYLES], axis=1).astype(np.float64)

    # Named afresh, as every colour an answer puts in is: the names stored in palettes.json are those of the
    # library's build, which the model's palette text features were trained on (docs/model.md, colour names).
    library_hexes = sorted({c.hex for p in palettes for c in p.colors})
    library_names = dict(zip(library_hexes, nearest_color_names(rgb8_to_oklab(hexes_to_rgb8(library_hexes)))))
    fixed = [_fixed_palette(p, library_names) for p in palettes]
    brandable = np.zeros((len(palettes), MAX_PALETTE_COLORS), bool)
    accent = np.zeros_like(brandable)
    hexes = []
    for i, palette in enumerate(palettes):
        for j, color in enumerate(palette.colors):
            brandable[i, j] = color.role in BRAND_ROLES
            accent[i, j] = color.role == PaletteRole.accent
        hexes += [c.hex for c in palette.colors] + ["#000000"] * (MAX_PALETTE_COLORS - len(palette.colors))
    color_lab = rgb8_to_lab_d65(hexes_to_rgb8(hexes)).reshape(len(palettes), MAX_PALETTE_COLORS, 3)

    pairs = load_font_pairs()
    fonts = load_fonts()
    headings = {family: k for k, family in enumerate(dict.fromkeys(p.heading_family for p in pairs))}
    font_tags = [profile("style", s).get("font_tags", {}) for s in STYLES]
    mood = np.array([[_mood_match(pair, tags) for tags in font_tags] for pair in pairs], dtype=np.float64)
    typography = [(p.id, (p.heading_family, fonts[p.heading_family].category, p.heading_weight),
                   (p.body_family, fonts[p.body_family].category, p.body_weight)) for p in pairs]

    templates = load_layout_templates()
    template_for = {}
    for fmt in PackageFormat:
        numbered = [(k, t) for k, t in enumerate(templates) if t.format == fmt.value]
        # max() keeps the first of equal scores, in file order, as the per-brief code did.
        template_for[fmt.value] = np.array(
            [max(numbered, key=lambda kt: kt[1].styles.get(s, 0.0))[0] if numbered else -1 for s in STYLES])
    template_maps = np.stack([np.stack([render_heatmaps(t, grid=GRID)[e] for e in ELEMENTS]) for t in templates])
    rows, cols = GRID

    return _Tables(
        signature=signature,
        style_fit=style_fit,
        palette_id=[p.id for p in palettes],
        palette_harmony=[p.harmony for p in palettes],
        harmony_max_arc=np.array([HARMONY_MAX_ARC.get(p.harmony, 360.0) for p in palettes]),
        palette_colors=[f[0] for f in fixed],
        palette_color_dicts=[tuple({"hex": h, "role": role, "name": name} for h, role, name in f[0]) for f in fixed],
        text_contrast=[f[1] for f in fixed],
        brandable=brandable,
        accent=accent,
        color_lab=color_lab,
        pair_zh=np.array([p.zh for p in pairs]),
        zh_pairs=np.array([i for i, p in enumerate(pairs) if p.zh], dtype=np.int64),
        pair_heading=np.array([headings[p.heading_family] for p in pairs]),
        n_headings=len(headings),
        mood=mood,
        typography=typography,
        typography_dicts=[{"pair_id": pair_id,
                           "heading": {"family": heading[0], "category": heading[1], "weight": heading[2]},
                           "body": {"family": body[0], "category": body[1], "weight": body[2]}}
                          for pair_id, heading, body in typography],
        style_label={loc: [label("style", s, loc) for s in STYLES] for loc in LOCALES},
        harmony_label={loc: {h.value: label("harmony", h.value, loc) if loc == "zh" else
                             _with_article(_EN_HARMONY.get(h.value, label("harmony", h.value, loc).lower()))
                             for h in Harmony} for loc in LOCALES},
        tone_label={loc: {t.value: label("tone", t.value, loc) for t in Tone} for loc in LOCALES},
        role_label={"en": [r.value.capitalize() for r in ROLE_ORDER],
                    "zh": [ROLE_ZH[r.value] for r in ROLE_ORDER]},
        category_label={loc: {c.value: label("product_category", c.value, loc) for c in ProductCategory}
                        for loc in LOCALES},
        template_for=template_for,
        template_id=[t.id for t in templates],
        template_maps=template_maps,
        col_fraction=np.array([round(k / cols, 4) for k in range(cols + 1)]),
        row_fraction=np.array([round(k / rows, 4) for k in range(rows + 1)]),
    )


def warm() -> None:
    """Build every fixed table, fill every cache the request path reads and run one made-up batch (~1-2 s).

    Serving replicas call it at start, so that no live request pays for it; after it, `schemes_batch` only
    reads (tests/pipeline/test_postprocess.py checks that no cache grows).
    """
    t = _tables()
    _fit_tables()
    _taste_palettes_sorted()
    _reconcilable()  # the reason a rationale gives for a tone no library palette meets with another
    warm_tone_fit()
    # The lexicon trie and the Chinese gloss table (zh rationales) and the named-colour grid and sRGB levels (brand
    # colour names).
    normalize_keywords("清爽")
    load_gloss()
    nearest_color_names(rgb8_to_oklab(hexes_to_rgb8(["#808080"])))
    # One full batch on made-up outputs: the first real one would otherwise pay for first-touch memory and
    # numpy's first calls (~2 ms a brief once).
    size = 64
    rng = np.random.default_rng(0)
    formats = list(PackageFormat)
    briefs = [Brief(product_category=ProductCategory.snacks, package_format=formats[i % len(formats)],
                    tone=[Tone.fresh], num_schemes=1 + i % 8, locale=LOCALES[i % 2], keywords="ocean, gold, sapphire",
                    brand_colors=[f"#{v:06x}" for v in rng.integers(0, 1 << 24, i % 4)]) for i in range(size)]
    encoded = EncodedBatch(np.zeros((size, 1), np.int64), np.ones((size, 1), np.int64),
                           np.zeros((size, 1), np.float32), [""] * size, [["fresh"]] * size, [[]] * size,
                           cues_zh=[["清爽"]] * size)
    outputs = {
        "palette_ids": np.stack([rng.choice(len(t.palette_id), 32, replace=False) for _ in range(size)]),
        "palette_scores": np.sort(rng.random((size, 32), dtype=np.float32))[:, ::-1],
        "style_probs": rng.dirichlet(np.ones(len(STYLES)), size).astype(np.float32),
        "font_ids": np.stack([rng.choice(len(t.typography), 16, replace=False) for _ in range(size)]),
        "font_scores": np.sort(rng.random((size, 16), dtype=np.float32))[:, ::-1],
        "layout": rng.random((size, len(ELEMENTS), *GRID), dtype=np.float32),
    }
    for schemes in schemes_batch(briefs, encoded, outputs):
        schemes_json(schemes)


# --- the batch steps --------------------------------------------------------------------------------------


def _normalise(scores: np.ndarray) -> np.ndarray:
    """Each row min-max scaled to 0-1 (all ones when the row is flat), in float64."""
    scores = scores.astype(np.float64)
    low = scores.min(axis=1, keepdims=True)
    spread = scores.max(axis=1, keepdims=True) - low
    flat = ~(spread > 1e-9)
    if not flat.any():  # (the usual case: no flat row to guard)
        return (scores - low) / spread
    return np.where(flat, 1.0, (scores - low) / np.where(flat, 1.0, spread))


def select_palettes(ids: np.ndarray, scores: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MMR over each brief's candidate palettes -> (palette index, relevance 0-1), each (B, max n); -1 / 0 pad.

    Round r picks every brief's r-th palette at once; a candidate's diversity is its OKLab distance to the
    nearest palette already picked (kept as a running minimum, one distance row per round).
    """
    batch, k = ids.shape
    relevance = _normalise(scores)
    signatures = _tables().signature[ids]  # (B, K, 9) float32
    counts = np.minimum(n, k)
    rounds = int(counts.max()) if batch else 0
    chosen = np.full((batch, rounds), -1, dtype=np.int64)
    taken = np.zeros((batch, k), bool)
    nearest = np.full((batch, k), np.inf)
    may_skip = (k > n)[:, None]  # near-duplicates are skipped only while other candidates remain
    rows = np.arange(batch)
    for r in range(rounds):
        active = counts > r
        if r == 0:
            value = relevance.copy()
        else:
            value = MMR_LAMBDA * relevance + (1 - MMR_LAMBDA) * np.minimum(1.0, nearest / 0.25)
            value[(nearest < MIN_PALETTE_DISTANCE) & may_skip] = -np.inf
        value[taken] = -np.inf
        best = np.argmax(value, axis=1)  # the first of equal values, as the per-candidate loop kept
        for b in np.flatnonzero(active & np.isneginf(value[rows, best])):
            # Everything left is a near-duplicate: take the most relevant rest.
            best[b] = next(c for c in np.argsort(-relevance[b]) if not taken[b, c])
        best = np.where(active, best, 0)
        chosen[:, r] = np.where(active, best, -1)
        taken[rows[active], best[active]] = True
        # Distances of every candidate to the one just picked, in the per-brief code's float order.
        step = np.sqrt(((signatures - signatures[rows, best][:, None, :]) ** 2).sum(-1)) / np.sqrt(3)
        nearest = np.minimum(nearest, step)
    picked = chosen >= 0
    where = np.maximum(chosen, 0)
    return (np.where(picked, ids[rows[:, None], where], -1),
            np.where(picked, relevance[rows[:, None], where], 0.0))


def assign_styles(style_probs: np.ndarray, palettes: np.ndarray) -> np.ndarray:
    """Each scheme's style: likely for the brief, fitting its palette, unused ones preferred -> (B, n) style
    index (-1 where the palette is -1). style_probs (B, n_styles) float64."""
    batch, rounds = palettes.shape
    rows = np.arange(batch)
    top = np.argsort(-style_probs, axis=1)[:, :TOP_STYLES]
    # sqrt flattens a dominant style (0.8 vs 0.08 -> 0.89 vs 0.28) so that, with the repeat penalty, later
    # schemes explore the runner-up directions instead of repeating the first.
    likely = np.sqrt(style_probs[rows[:, None], top])
    used = np.zeros(top.shape, dtype=np.int64)
    fit_table = _tables().style_fit
    out = np.full((batch, rounds), -1, dtype=np.int64)
    for r in range(rounds):
        active = palettes[:, r] >= 0
        fit = fit_table[np.maximum(palettes[:, r], 0)[:, None], top]
        best = np.argmax(likely * (0.5 + fit) * (0.25 ** used), axis=1)
        used[rows[active], best[active]] += 1
        out[:, r] = np.where(active, top[rows, best], -1)
    return out


def select_fonts(ids: np.ndarray, scores: np.ndarray, styles: np.ndarray, zh: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """A font pair per scheme: relevant, suiting its style, a heading family not used yet in the brief ->
    (pair index, relevance), each (B, n); -1 / 0 where the style is -1. zh briefs get CJK pairs only."""
    t = _tables()
    batch, rounds = styles.shape
    rows = np.arange(batch)
    candidates = ids.astype(np.int64)
    relevance = _normalise(scores)
    valid = ~zh[:, None] | t.pair_zh[candidates]
    fallback = np.flatnonzero(~valid.any(axis=1))
    if len(fallback):  # the model ranked no CJK pair: fall back to the whole CJK library
        width = max(candidates.shape[1], len(t.zh_pairs))
        pad = width - candidates.shape[1]
        candidates = np.pad(candidates, ((0, 0), (0, pad)))
        relevance = np.pad(relevance, ((0, 0), (0, pad)))
        valid = np.pad(valid, ((0, 0), (0, pad)))
        candidates[fallback] = 0
        candidates[fallback, :len(t.zh_pairs)] = t.zh_pairs
        relevance[fallback] = 0.0
        valid[fallback] = False
        valid[fallback, :len(t.zh_pairs)] = True
    headings = t.pair_heading[candidates]
    used = np.zeros((batch, t.n_headings), bool)
    chosen = np.full((batch, rounds), -1, dtype=np.int64)
    chosen_relevance = np.zeros((batch, rounds))
    for r in range(rounds):
        active = styles[:, r] >= 0
        mood = t.mood[candidates, np.maximum(styles[:, r], 0)[:, None]]
        repeat = used[rows[:, None], headings]
        value = MMR_LAMBDA * relevance + (1 - MMR_LAMBDA) * mood - 0.5 * repeat
        value[~valid] = -np.inf
        best = np.argmax(value, axis=1)
        used[rows[active], headings[rows, best][active]] = True
        chosen[:, r] = np.where(active, candidates[rows, best], -1)
        chosen_relevance[:, r] = np.where(active, relevance[rows, best], 0.0)
    return chosen, chosen_relevance


def brand_positions(palettes: np.ndarray, brand_lab: np.ndarray, n_brands: np.ndarray) -> np.ndarray:
    """Where each brand colour goes in each scheme's palette -> (S, max brands) colour position, -1 for none.

    Each brand colour, in the brief's order, replaces the free brand-able colour nearest to it (deltaE 2000,
    the first position on a tie); with more brand colours than such roles, the extra ones take an accent no brand
    colour holds yet, and where none is left they get no place (-1): a later brand colour never overwrites an
    earlier one (the brief's order is its priority), and the scheme's rationale names what it could not place.
    palettes (S,) library index; brand_lab (S, max brands, 3) CIELAB D65; n_brands (S,).
    """
    t = _tables()
    schemes, most = brand_lab.shape[:2]
    rows = np.arange(schemes)
    free = t.brandable[palettes].copy()
    accent = t.accent[palettes]
    # Against the library colours, every brand colour at once: a position takes a brand colour only while it still
    # holds its library colour (nothing lands twice), so these distances never go stale.
    # Only where a brand colour can land (a real brand slot, a brand-able or accent position); inf elsewhere.
    where = (np.arange(most) < n_brands[:, None])[:, :, None] & (free | accent)[:, None, :]
    s_, k_, j_ = np.nonzero(where)
    distance = np.full(where.shape, np.inf)  # (S, brands, 6)
    distance[s_, k_, j_] = delta_e2000_lab(t.color_lab[palettes][s_, j_], brand_lab[s_, k_])
    out = np.full((schemes, most), -1, dtype=np.int64)
    landed = np.zeros_like(free)
    for k in range(most):
        active = n_brands > k
        exhausted = ~free.any(axis=1)
        free[exhausted] = accent[exhausted] & ~landed[exhausted]
        placed = active & free.any(axis=1)
        target = np.argmin(np.where(free, distance[:, k, :], np.inf), axis=1)
        out[:, k] = np.where(placed, target, -1)
        hit = rows[placed], target[placed]
        free[hit] = False
        landed[hit] = True
    return out


def build_layouts(heatmaps: np.ndarray, formats: list[str], styles: np.ndarray, ranks: np.ndarray
                  ) -> tuple[np.ndarray, list[str | None], np.ndarray]:
    """Each scheme's heatmaps (the model's, blended with the format template that best suits its style for
    every scheme but the first) and element boxes.

    heatmaps (S, 4, rows, cols) -> (heatmaps rounded to 3 places as float32, template ids, boxes as
    (S, 4, 4) ints: first column, first row, columns, rows; all zero where no cell reaches the threshold).
    """
    t = _tables()
    rows, cols = GRID
    template = np.array([t.template_for[f][s] for f, s in zip(formats, styles.tolist())], dtype=np.int64)
    maps = heatmaps.astype(np.float64)
    blend = (ranks > 0) & (template >= 0)
    if blend.any():
        maps[blend] = (1 - TEMPLATE_BLEND) * maps[blend] + TEMPLATE_BLEND * t.template_maps[template[blend]]
    np.clip(maps, 0.0, 1.0, out=maps)
    # Threshold relative to the peak so a faint but well-placed heatmap still yields a box.
    threshold = np.maximum(0.05, 0.5 * maps.max(axis=(2, 3)))
    mask = maps >= threshold[..., None, None]
    # Cells reached, per row and per column: the mask's bytes OR-ed 4 at a time, as words (numpy's .any over a
    # 12- or 16-long axis costs ~3x more at these shapes, a slice-by-slice OR is 26 calls); the rows folded in
    # halves (16 -> 8 -> 4 -> 2 -> 1).
    words = mask.view(np.uint32)  # (S, 4, rows, cols / 4): a row's cells, 4 to a word
    in_rows = words[..., 0].copy()
    for k in range(1, words.shape[-1]):
        in_rows |= words[..., k]
    in_rows = in_rows != 0
    folded = words
    while folded.shape[-2] > 1:
        half = folded.shape[-2] // 2
        folded = folded[..., :half, :] | folded[..., half:, :]
    in_cols = folded[..., 0, :].view(bool)  # each byte an OR of 0/1 bytes
    r0 = in_rows.argmax(axis=2)
    r1 = rows - in_rows[..., ::-1].argmax(axis=2)
    c0 = in_cols.argmax(axis=2)
    c1 = cols - in_cols[..., ::-1].argmax(axis=2)
    # The columns written into one array (np.stack costs ~10 calls at these sizes).
    boxes = np.empty(c0.shape + (4,), np.int64)
    boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3] = c0, r0, c1 - c0, r1 - r0
    boxes *= in_rows.any(axis=2)[..., None]
    ids = [t.template_id[k] if k >= 0 else None for k in template.tolist()]
    return maps.round(3, out=maps).astype(np.float32), ids, boxes


# --- fit to the brief (issue 15): the frozen rules of knowledge.attributes as hard choices ---------------------

MODEL_CANDIDATES = 16  # the model's ranked palettes every brief considers
LIBRARY_BEST = 12  # then the model's next ones, or, where its top ones hold too few that fit, the library's best
MIN_FITTING = 8  # "too few": of the model's top MODEL_CANDIDATES, meeting every named tone and cue as they stand
HUE_SECTORS = 8  # and the library's best of each hue sector x 2 lightness bands, greys apart
LIBRARY_RELEVANCE = 0.25  # relevance of a library palette (x its fallback score): below the model's own picks
TASTE_CANDIDATES = 8  # for a tenant with a learned taste: the library palettes it ranks highest that meet the brief
SIDE_CANDIDATES = 2  # for a brief naming tones no candidate meets (they contradict the others): the library's best each
INJECT_ROLES = (PaletteRole.secondary, PaletteRole.highlight, PaletteRole.accent)  # may take a cue's colour
ROLE_AXIS = [r.value for r in ROLE_ORDER]
INJECT_MASK = np.isin(ROLE_AXIS, [r.value for r in INJECT_ROLES])  # INJECT_ROLES as a mask over the roles
R_BACKGROUND, R_TEXT, R_PRIMARY, R_ACCENT = (ROLE_AXIS.index(r) for r in ("background", "text", "primary", "accent"))
N_TONES = len(Tone)
TONES = [t.value for t in Tone]
TONE_INDEX = {tone: k for k, tone in enumerate(TONES)}


@dataclass(frozen=True)
class _FitTables:
    """What choosing to the brief reads; built once by `warm()`. Colour arrays are by role (ROLE_ORDER)."""

    lch: np.ndarray  # (P, 6, 3) library colours, OKLCH
    oklab: np.ndarray  # (P, 6, 3)
    lab: np.ndarray  # (P, 6, 3) CIELAB D65
    present: np.ndarray  # (P, 6) bool
    position_of_role: np.ndarray  # (P, 6) the role's position in the palette's own colour order, -1 when absent
    role_of_position: np.ndarray  # (P, 6) the position's role, -1 past the palette's colours
    # The library sorted by primary-colour bucket (hue sector and lightness band, greys apart), for the
    # fallback candidates: bucket_order[j] = palette at sorted position j, bucket_rank its inverse,
    # bucket_bounds the (start, stop) of each bucket; then the tables the fallback reads, in that order.
    bucket_order: np.ndarray
    bucket_rank: np.ndarray
    bucket_bounds: list[tuple[int, int]]
    bucket_starts: np.ndarray  # the same as arrays, for np.ufunc.reduceat
    bucket_sizes: np.ndarray
    positions: np.ndarray  # 0 .. P - 1
    fails_sorted: np.ndarray  # (n_tones + n_cues, P) float32
    tone_fit_sorted: np.ndarray  # (n_tones, P) float32: soft OKLCH fit to each tone (design_tables.oklch_fit)
    style_fit_sorted: np.ndarray  # (n_styles, P) float32
    passes: np.ndarray  # (P, n_tones + n_cues) bool: the palette as it stands meets the attribute
    cue_index: dict[str, int]  # cue id -> column after the tones
    cue_ids: list[str]
    anchor_cue: np.ndarray  # (n_cues,) bool: met by holding a colour (so a colour can be put in)
    anchored: np.ndarray  # (n_tones + n_cues,) bool: needs a colour in named regions (a tone's anchor, a cue)
    groups: list[list[np.ndarray]]  # per attribute, per colour group: indices into the colour grid
    group_boxes: list[list[Boxes]]  # per attribute, per colour group: its regions
    grid_lch: np.ndarray  # (G, 3): in-gamut colours inside each colour region, as 8-bit hex reads back
    grid_oklab: np.ndarray
    grid_lab: np.ndarray
    grid_hex: list[str]
    grid_name: list[str]
    grid_in_tone: np.ndarray  # (G, n_tones) bool: inside the tone's ranges (rule 2)
    grid_out_tone: np.ndarray  # (G, n_tones) float32: 1 where outside (to count, by a product, tones a colour leaves)
    # From knowledge.fit_tables.pair_passes: (F, n_tones + n_styles) bool, for a first scheme and the later ones.
    style_pair_first: np.ndarray  # (n_styles, F): its style columns, one row a style
    style_pair_later: np.ndarray
    style_mood: np.ndarray  # (n_styles, F): `_Tables.mood` one row a style
    heading_script: np.ndarray  # (F,) bool
    # The same as float32 for the products of `_type_tables` and `assign_fitting_styles`
    tone_pair_first: np.ndarray  # (n_tones, F): its tone columns, one row a tone
    tone_pair_later: np.ndarray
    pair_style_first: np.ndarray  # (F, n_styles): its style columns
    pair_style_later: np.ndarray
    cjk: np.ndarray  # (F,) 1 for a CJK pair


def _region_grid(box) -> list[str]:
    """Colours spread over an OKLCH region, gamut-mapped to sRGB hex (what a cue's colour can be set to)."""
    margin_l, margin_c = 0.02, 0.01
    lights = np.linspace(box.l[0] + margin_l, box.l[1] - margin_l, 4)
    chromas = np.linspace(box.c[0] + margin_c * (box.c[0] > 0), min(box.c[1], 0.3) - margin_c, 3)
    if box.hues:
        hues = np.concatenate([np.linspace(lo + 2, hi - 2, max(2, int(np.ceil((hi - lo) / 15))))
                               for lo, hi in box.hues])
    else:
        hues = np.arange(0.0, 360.0, 30.0)
    return list(dict.fromkeys(oklch_to_hex(float(l), float(c), float(h))
                              for l in lights for c in chromas for h in hues))


@cache
def _fit_tables() -> _FitTables:
    return load_or_build("postprocess-fit-tables", _build_fit_tables)


def _build_fit_tables() -> _FitTables:
    defs = load_attributes()
    palettes = load_palettes()
    library = library_colours()
    lab_ok, mask = palette_role_lab()
    position_of_role = np.full((len(palettes), len(ROLE_ORDER)), -1, dtype=np.int64)
    role_of_position = np.full((len(palettes), MAX_PALETTE_COLORS), -1, dtype=np.int64)
    hexes = ["#000000"] * (len(palettes) * len(ROLE_ORDER))
    for i, palette in enumerate(palettes):
        for j, color in enumerate(palette.colors):
            k = ROLE_AXIS.index(PaletteRole(color.role).value)
            position_of_role[i, k], role_of_position[i, j] = j, k
            hexes[i * len(ROLE_ORDER) + k] = color.hex
    rgb = hexes_to_rgb8(hexes).reshape(len(palettes), len(ROLE_ORDER), 3)
    passes = palette_passes()
    tone_fit = np.stack([oklch_fit(lab_ok, mask, profile("tone", tone.value)) for tone in Tone], 1)

    # Every named colour region as a grid of in-gamut colours that stay inside it once written as hex.
    boxes = list(defs.boxes)
    grid_hex, grid_box = [], []
    for b, name in enumerate(boxes):
        grid_hex += _region_grid(defs.boxes[name])
        grid_box += [b] * (len(grid_hex) - len(grid_box))
    grid_oklab = rgb8_to_oklab(hexes_to_rgb8(grid_hex))
    grid_lch = oklab_to_oklch(grid_oklab)
    region = Boxes.of([defs.boxes[n] for n in boxes]).contains(grid_lch)[np.arange(len(grid_hex)), grid_box]
    keep = np.flatnonzero(region)
    grid_box = np.array(grid_box)[keep]
    grid_hex = [grid_hex[k] for k in keep]
    grid_lch, grid_oklab = grid_lch[keep], grid_oklab[keep]
    by_box = {defs.boxes[name]: np.flatnonzero(grid_box == b) for b, name in enumerate(boxes)}

    groups, group_boxes = [], []
    rules = [defs.tones[tone.value].palette for tone in Tone] + [a.palette for a in defs.cues.values()]
    for rule in rules:
        groups.append([np.concatenate([by_box[box] for box in group]) for group in rule.anchors])
        group_boxes.append([Boxes.of(list(group)) for group in rule.anchors])
    anchor = [rule.ranges is None and bool(rule.anchors) for rule in rules[N_TONES:]]
    primary = library.lch[:, R_PRIMARY]
    sector = np.where(primary[:, 1] < 0.04, HUE_SECTORS, (primary[:, 2] // (360 / HUE_SECTORS)).astype(np.int64))
    bucket = sector * 2 + (primary[:, 0] >= 0.6)
    bucket_order = np.argsort(bucket, kind="stable")
    edges = np.searchsorted(bucket[bucket_order], np.arange(bucket.max() + 2))
    bucket_bounds = [(int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo]
    pairs = pair_passes()
    grid_in_tone = tone_rules().ranges.contains(grid_lch, load_attributes().rules.chromatic_chroma)
    return _FitTables(
        lch=library.lch, oklab=rgb8_to_oklab(rgb), lab=rgb8_to_lab_d65(rgb), present=library.present,
        position_of_role=position_of_role, role_of_position=role_of_position,
        passes=np.concatenate([passes.tone, passes.cue], axis=1),
        bucket_order=bucket_order, bucket_rank=np.argsort(bucket_order), bucket_bounds=bucket_bounds,
        bucket_starts=np.array([lo for lo, _ in bucket_bounds]),
        bucket_sizes=np.array([hi - lo for lo, hi in bucket_bounds]),
        positions=np.arange(len(bucket_order)),
        fails_sorted=np.ascontiguousarray((~np.concatenate([passes.tone, passes.cue], axis=1))[bucket_order].T
                                          .astype(np.float32)),
        tone_fit_sorted=np.ascontiguousarray(tone_fit[bucket_order].T.astype(np.float32)),
        style_fit_sorted=np.ascontiguousarray(_tables().style_fit[bucket_order].T.astype(np.float32)),
        cue_index={c: k for k, c in enumerate(passes.cue_ids)},
        cue_ids=list(passes.cue_ids),
        anchor_cue=np.array(anchor, bool),
        anchored=np.array([bool(rule.anchors) for rule in rules]),
        groups=groups,
        group_boxes=group_boxes,
        grid_lch=grid_lch, grid_oklab=grid_oklab, grid_lab=rgb8_to_lab_d65(hexes_to_rgb8(grid_hex)),
        grid_hex=grid_hex, grid_name=nearest_color_names(grid_oklab),
        grid_in_tone=grid_in_tone, grid_out_tone=(~grid_in_tone).astype(np.float32),
        heading_script=pair_faces().heading_script,
        style_pair_first=np.ascontiguousarray(pairs.first[:, N_TONES:].T),
        style_pair_later=np.ascontiguousarray(pairs.later[:, N_TONES:].T),
        style_mood=np.ascontiguousarray(_tables().mood.T),
        tone_pair_first=np.ascontiguousarray(pairs.first[:, :N_TONES].T.astype(np.float32)),
        tone_pair_later=np.ascontiguousarray(pairs.later[:, :N_TONES].T.astype(np.float32)),
        pair_style_first=np.ascontiguousarray(pairs.first[:, N_TONES:].astype(np.float32)),
        pair_style_later=np.ascontiguousarray(pairs.later[:, N_TONES:].astype(np.float32)),
        cjk=_tables().pair_zh.astype(np.float32),
    )


@dataclass
class Candidates:
    """Each brief's candidate palettes with brand colours substituted, by role: (B, C, ...)."""

    palette: np.ndarray  # (B, C) library index
    relevance: np.ndarray  # (B, C) 0-1
    lch: np.ndarray  # (B, C, 6, 3)
    oklab: np.ndarray
    lab: np.ndarray
    brand: np.ndarray  # (B, C, 6) bool: the colour is a brand colour
    met: np.ndarray  # (B, C, A) bool: meets each tone / cue (A = n_tones + n_cues)
    brand_position: np.ndarray  # (B, C, most brands): each brand colour's position (`brand_positions`), -1 none


def named_attributes(briefs: list[Brief], cue_ids: list[list[str]]) -> np.ndarray:
    """(B, n_tones + n_cues) bool: the tones each brief chose and the colour cues its keywords name."""
    f = _fit_tables()
    named = np.zeros((len(briefs), N_TONES + len(f.cue_index)), bool)
    for b, (brief, cues) in enumerate(zip(briefs, cue_ids)):
        named[b, [TONE_INDEX[t] for t in brief.tone]] = True
        named[b, [N_TONES + f.cue_index[c] for c in cues]] = True
    return named


def _brand_arrays(brand_lists: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brand colours -> (B, most, 3) CIELAB, (B, most, 3) OKLab, (B,) count."""
    most = max((len(c) for c in brand_lists), default=0)
    lab = np.zeros((len(brand_lists), most, 3))
    oklab = np.zeros_like(lab)
    count = np.array([len(c) for c in brand_lists], dtype=np.int64)
    flat = [c for colors in brand_lists for c in colors]
    if flat:
        rgb = hexes_to_rgb8(flat)
        rows = [b for b, colors in enumerate(brand_lists) for _ in colors]
        slots = [k for colors in brand_lists for k in range(len(colors))]
        lab[rows, slots], oklab[rows, slots] = rgb8_to_lab_d65(rgb), rgb8_to_oklab(rgb)
    return lab, oklab, count


@cache
def _taste_palettes_sorted() -> np.ndarray:
    """(dp, P) float32: the taste features of the library palettes in primary-bucket order (as `_FitTables`' sorted
    tables), transposed for the (B, dp) @ (dp, P) product."""
    return np.ascontiguousarray(feature_tables().palette[_fit_tables().bucket_order].T.astype(np.float32))


SEGMENT_ROWS = 4  # `_bucket_best` goes segment-wise up to this many rows


def _bucket_best(order: np.ndarray) -> np.ndarray:
    """(B, P) in primary-bucket order -> (B, n_buckets): each bucket's position of the highest value (the first of
    equal ones, as np.argmax). For a few rows in segment-wise passes over the whole row (a call per bucket costs
    more there); for more rows bucket by bucket (the full passes cost more there)."""
    f = _fit_tables()
    if len(order) > SEGMENT_ROWS:
        return np.stack([lo + np.argmax(order[:, lo:hi], axis=1) for lo, hi in f.bucket_bounds], axis=1)
    top = np.maximum.reduceat(order, f.bucket_starts, axis=1)
    at_top = order == np.repeat(top, f.bucket_sizes, axis=1)
    return np.minimum.reduceat(np.where(at_top, f.positions, len(f.positions)), f.bucket_starts, axis=1)


def fitting_candidates(ids: np.ndarray, scores: np.ndarray, named: np.ndarray, style_probs: np.ndarray,
                       brand_lab: np.ndarray, brand_oklab: np.ndarray, n_brands: np.ndarray,
                       taste: TasteBatch | None = None) -> Candidates:
    """Each brief's candidate palettes, each with the brief's brand colours put where `brand_positions` puts them,
    and what each meets: the model's top MODEL_CANDIDATES; then LIBRARY_BEST more: the model's next ones, or,
    where its top ones hold fewer than MIN_FITTING that meet everything named (as they stand), the library's best;
    then the library's best of each primary-colour bucket (hue sector x lightness band, greys apart: other
    directions even where the model's ranking holds one colour family only, as rule 9 needs distinct primaries).

    "Best" in the library: fewest named tones and cues missed as the palette stands, then the mean soft OKLCH fit
    (`oklch_fit`, what the teacher scores) to the named tones, or, where no tone is named, to the brief's likely
    styles; its relevance is LIBRARY_RELEVANCE x that fit, below the model's own candidates.

    With `taste`, TASTE_CANDIDATES more for each taught brief: the library palettes its tenant's taste ranks highest
    among those that meet every named tone and cue as they stand (so the taste can reach palettes the model did not
    rank); for an untaught brief of the batch those columns have relevance -inf, which no choice ever takes, so its
    answer stays what it was without them.
    """
    f = _fit_tables()
    model, ranked = ids[:, :MODEL_CANDIDATES], ids[:, :MODEL_CANDIDATES + LIBRARY_BEST]
    tones = named[:, :N_TONES].astype(np.float32)
    # (B, P), 0-1, bucket order: the tones' fit where a brief names any, else the styles'. Each product only where
    # some brief of the batch reads it.
    has_tones = tones.any(axis=1, keepdims=True)
    if has_tones.all():
        fallback = tones @ f.tone_fit_sorted / np.maximum(tones.sum(axis=1, keepdims=True), 1.0)
    elif not has_tones.any():
        fallback = style_probs.astype(np.float32) @ f.style_fit_sorted
    else:
        fallback = np.where(has_tones, tones @ f.tone_fit_sorted / np.maximum(tones.sum(axis=1, keepdims=True), 1.0),
                            style_probs.astype(np.float32) @ f.style_fit_sorted)
    columns = np.flatnonzero(named.any(axis=0))
    misses = named[:, columns].astype(np.float32) @ f.fails_sorted[columns]
    order = fallback - misses  # a miss outweighs any fit
    order[np.arange(len(ids))[:, None], f.bucket_rank[ranked]] = -np.inf  # already a candidate
    spread = _bucket_best(order)
    best = np.zeros((len(ids), LIBRARY_BEST), np.int64)
    best_relevance = np.zeros((len(ids), LIBRARY_BEST))
    relevance = _normalise(scores)
    if ranked.shape[1] == best.shape[1] + MODEL_CANDIDATES:
        best[:] = ranked[:, MODEL_CANDIDATES:]
        best_relevance[:] = relevance[:, MODEL_CANDIDATES:ranked.shape[1]]
        fitting = (f.passes[model] | ~named[:, None, :]).all(axis=-1).sum(axis=1)
        short = np.flatnonzero(fitting < MIN_FITTING)
    else:  # a short ranking: the library fills in for every brief
        short = np.arange(len(ids))
    if len(short):
        rest = order[short]
        rest[np.arange(len(short))[:, None], spread[short]] = -np.inf
        top = np.argpartition(-rest, LIBRARY_BEST, axis=1)[:, :LIBRARY_BEST]
        best[short] = f.bucket_order[top]
        best_relevance[short] = LIBRARY_RELEVANCE * np.take_along_axis(fallback[short], top, axis=1)
    palette = np.concatenate([model, best, f.bucket_order[spread]], axis=1)
    relevance = np.concatenate([relevance[:, :MODEL_CANDIDATES], best_relevance,
                                LIBRARY_RELEVANCE * np.take_along_axis(fallback, spread, axis=1)], axis=1)
    side, side_relevance = _side_candidates(order, fallback, named, palette)
    palette = np.concatenate([palette, side], axis=1)
    relevance = np.concatenate([relevance, side_relevance], axis=1)
    if taste is not None:
        # (B, P) in bucket order, float32 (an order only; tanh keeps it): fewest named tones and cues missed
        # first (all met, where the library has enough), then the taste; never one that is already a candidate.
        liked = taste.palette_w.astype(np.float32) @ _taste_palettes_sorted()
        liked -= 1e4 * misses
        rows = np.arange(len(ids))[:, None]
        liked[rows, f.bucket_rank[palette]] = -np.inf
        top = np.argpartition(-liked, TASTE_CANDIDATES, axis=1)[:, :TASTE_CANDIDATES]
        palette = np.concatenate([palette, f.bucket_order[top]], axis=1)
        relevance = np.concatenate([relevance, np.where(
            taste.applied[:, None], LIBRARY_RELEVANCE * np.take_along_axis(fallback, top, axis=1), -np.inf)], axis=1)

    lch, oklab, lab = f.lch[palette], f.oklab[palette], f.lab[palette]
    brand = np.zeros(palette.shape + (len(ROLE_ORDER),), bool)
    met = f.passes[palette]
    branded = np.flatnonzero(n_brands > 0)
    position = np.full(palette.shape + (brand_lab.shape[1],), -1, dtype=np.int64)
    if len(branded):
        c = palette.shape[1]
        flat = palette[branded].reshape(-1)
        where = brand_positions(flat, np.repeat(brand_lab[branded], c, axis=0), np.repeat(n_brands[branded], c))
        position[branded] = where.reshape(len(branded), c, -1)
        role = np.where(where >= 0, f.role_of_position[flat[:, None], np.maximum(where, 0)], -1)  # (S, most)
        s, slot = np.nonzero(role >= 0)
        b_of = np.repeat(branded, c)[s]
        cand = s % c
        lab[b_of, cand, role[s, slot]] = brand_lab[b_of, slot]
        oklab[b_of, cand, role[s, slot]] = brand_oklab[b_of, slot]
        lch[b_of, cand, role[s, slot]] = oklab_to_oklch(brand_oklab[b_of, slot])
        brand[b_of, cand, role[s, slot]] = True
        # Only the attributes each brief names, each checked against all its candidates (none: nothing to check).
        pair_brief, attribute = np.nonzero(named[branded])
        if len(pair_brief):
            b_of = np.repeat(branded[pair_brief], c)
            cand = np.arange(len(pair_brief) * c) % c  # each brief's candidates, once per attribute
            attribute = np.repeat(attribute, c)
            met[b_of, cand, attribute] = attribute_rules().meets_each(
                lch[b_of, cand], f.present[palette[b_of, cand]], brand[b_of, cand], attribute)
    return Candidates(palette, relevance, lch, oklab, lab, brand, met, position)


def _side_candidates(order: np.ndarray, fallback: np.ndarray, named: np.ndarray, palette: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Where a brief names a tone that none of its candidates meets as it stands (a tone that contradicts the
    others: neon beside Morandi, whose library best all go the Morandi way), the library's best palette that meets
    it (`order`: fewest named missed, then fit; bucket order) joins as a candidate, at most SIDE_CANDIDATES tones a
    brief, so the schemes can take that side too (`select_fitting_palettes`, COVER_BONUS). -> (B, SIDE_CANDIDATES)
    palettes and relevance; -inf relevance (never chosen, the answer unchanged) where a brief needs none."""
    f = _fit_tables()
    side = np.zeros((len(palette), SIDE_CANDIDATES), np.int64)
    relevance = np.full((len(palette), SIDE_CANDIDATES), -np.inf)
    need_b, need_t = np.nonzero(named[:, :N_TONES] & ~f.passes[palette, :N_TONES].any(axis=1))
    slot = np.arange(len(need_b)) - np.searchsorted(need_b, need_b)  # the tone's place among its brief's needs
    keep = slot < SIDE_CANDIDATES
    need_b, need_t, slot = need_b[keep], need_t[keep], slot[keep]
    if not len(need_b):
        return side, relevance
    score = np.where(f.fails_sorted[need_t] == 0, order[need_b], -np.inf)  # (N, P) bucket order
    score[np.arange(len(need_b))[:, None], f.bucket_rank[palette[need_b]]] = -np.inf  # not a candidate already
    top = np.argmax(score, axis=1)
    ok = np.isfinite(score[np.arange(len(need_b)), top])
    need_b, slot, top = need_b[ok], slot[ok], top[ok]
    side[need_b, slot] = f.bucket_order[top]
    relevance[need_b, slot] = LIBRARY_RELEVANCE * fallback[need_b, top]
    return side, relevance


def _met_named(lch: np.ndarray, present: np.ndarray, brand: np.ndarray, named: np.ndarray) -> np.ndarray:
    """(S, 6, 3) colours by role, (S, 6), (S, 6), (S, A) named -> (S, A): each named attribute met (rules 1-3, 5);
    False where not named."""
    row, attribute = np.nonzero(named)
    met = np.zeros(named.shape, bool)
    met[row, attribute] = attribute_rules().meets_each(lch[row], present[row], brand[row], attribute)
    return met


def _retest(met: np.ndarray, schemes: list[int], lch: np.ndarray, present: np.ndarray, brand: np.ndarray,
            named: np.ndarray) -> None:
    """`met` (S, A) made current, in place, for the schemes (rows) whose colours changed."""
    if schemes:
        rows = np.unique(schemes)
        met[rows] = _met_named(lch[rows], present[rows], brand[rows], named[rows])


def _fixable(cand: Candidates, named: np.ndarray) -> np.ndarray:
    """(B, C) named colour cues a candidate misses that a colour put into a free role could meet (at most as many
    as it has free roles)."""
    f = _fit_tables()
    free = f.present[cand.palette] & ~cand.brand & INJECT_MASK
    missing = (~cand.met[..., N_TONES:] & named[:, None, N_TONES:] & f.anchor_cue).sum(axis=-1)
    return np.minimum(missing, free.sum(axis=-1))


# CIEDE2000 is at least |delta L| / S_L (its chroma-hue part is a positive semi-definite form, |R_T| <= 2), and
# S_L <= 1 + 0.015 * 50**2 / sqrt(20 + 50**2) < 1.75: colours this far apart in L are surely >= 10 apart.
MAX_LIGHTNESS_WEIGHT = 1.75


def _closer_than(lab1: np.ndarray, lab2: np.ndarray, limit: float) -> np.ndarray:
    """deltaE 2000 < limit for broadcastable (..., 3) CIELAB arrays, computed only where the lightness gap leaves
    it possible (the costly formula runs on a fraction of the pairs)."""
    maybe = np.abs(lab1[..., 0] - lab2[..., 0]) < MAX_LIGHTNESS_WEIGHT * limit
    if maybe.any():  # (each delta_e2000_lab call costs ~60 numpy calls, even on a few pairs)
        if lab1.shape != lab2.shape:
            lab1, lab2 = np.broadcast_arrays(lab1, lab2)
        maybe[maybe] = delta_e2000_lab(lab1[maybe], lab2[maybe]) < limit
    return maybe


def _clashes(cand: Candidates, rows: np.ndarray, cols: np.ndarray, picked: np.ndarray) -> np.ndarray:
    """(N,) whether candidate `cols` of brief `rows` fails rule 9 against that brief's candidate `picked`:
    primary deltaE 2000 < 10 and, where either primary is a brand colour, backgrounds and accents < 10 apart too.
    """
    limit = load_attributes().rules.min_delta_e2000
    lab = cand.lab  # colours varied in place are seen
    first, second = lab[rows, cols, R_PRIMARY], lab[rows, picked, R_PRIMARY]
    both = np.flatnonzero((cand.brand[rows, cols, R_PRIMARY] | cand.brand[rows, picked, R_PRIMARY])
                          & (np.abs(first[:, 0] - second[:, 0]) < MAX_LIGHTNESS_WEIGHT * limit))
    if not len(both):
        return _closer_than(first, second, limit)
    # Where a primary is a brand colour (and the primaries' lightness gap leaves a clash possible), ground and
    # accent count too: their pairs go in the primaries' deltaE call (a second call costs ~50 us of numpy overhead,
    # more than the extra pairs on the few briefs of a request).
    r, c, p = rows[both, None], cols[both, None], picked[both, None]
    roles = np.array([R_BACKGROUND, R_ACCENT])
    close = _closer_than(np.concatenate([first, lab[r, c, roles].reshape(-1, 3)]),
                         np.concatenate([second, lab[r, p, roles].reshape(-1, 3)]), limit)
    clash = close[:len(rows)]
    clash[both] &= close[len(rows):].reshape(-1, 2).all(axis=1)
    return clash


def select_fitting_palettes(cand: Candidates, named: np.ndarray, n: np.ndarray, n_brands: np.ndarray,
                            taste: TasteBatch | None = None
                            ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int, int]]]:
    """MMR over each brief's candidates under the brief's rules -> (candidate index, relevance), (B, max n), -1/0
    pad, and the colours varied where nothing left differed (`_vary_to_differ`).

    Order of choice, strongest first: (1) differs per rule 9 from every scheme already chosen (a hard constraint:
    only when no candidate left differs is the rest taken); (2) has a role for every brand colour (the client's
    colours all survive; fewer brand-able roles would put two on the accent); (3) meets more of the brief's named
    tones and cues (a missed colour cue that a free role could take counts half; where no candidate meets all,
    contradictory tones, this maximises the number met, ties going to (4)); (4) the MMR value: relevance vs OKLab
    distance to the schemes chosen, plus the tenant's learned taste (`pipeline.taste`: bounded below one step of
    (3), so it re-orders only within (1)-(3)); within (3), where the schemes chosen so far miss a named tone or cue
    (contradicting tones: Morandi + neon), a candidate that meets one of those comes first (COVER_BONUS), so the
    schemes take the brief's different sides instead of one side each time.
    """
    batch, c = cand.palette.shape
    rows = np.arange(batch)
    met_named = cand.met & named[:, None, :]
    fit = met_named.sum(axis=-1) + 0.5 * _fixable(cand, named)
    fit -= 1000.0 * (_tables().brandable[cand.palette].sum(axis=-1) < n_brands[:, None])
    # The taste only among candidates that meet every named tone and cue as they stand: elsewhere the brief's
    # rules alone decide. (Not the half-credit of a cue colour a free role could take: putting it in can break a
    # tone, e.g. monochrome's hue spread, and the taste would then trade a met tone for its liking.)
    learned = 0.0
    if taste is not None:
        meets = (cand.met & named[:, None, :]).sum(axis=-1) >= named.sum(axis=1)[:, None]
        learned = np.where(meets, taste.palette_bonus(cand.palette), 0.0)
    signature = cand.oklab[:, :, [R_BACKGROUND, R_PRIMARY, R_ACCENT]].reshape(batch, c, -1)
    rounds = int(n.max()) if batch else 0
    chosen = np.full((batch, rounds), -1, dtype=np.int64)
    taken = np.isneginf(cand.relevance)  # columns a brief does not use (taste, side) are never chosen: skip them
    clash = np.zeros((batch, c), bool)
    nearest = np.full((batch, c), np.inf)
    covered = np.zeros(named.shape, bool)  # (B, A) named attributes met by a scheme chosen so far
    varied: list[tuple[int, int, int, int]] = []
    fixed = 10.0 * fit + MMR_LAMBDA * cand.relevance  # the value's first terms, summed first as before
    for r in range(rounds):
        active = n > r
        if r:
            value = fixed + (1 - MMR_LAMBDA) * np.minimum(1.0, nearest / 0.25) + learned
            uncovered = np.flatnonzero(active & (named & ~covered).any(axis=1))
            if len(uncovered):
                value[uncovered] += COVER_BONUS * (met_named[uncovered] & ~covered[uncovered, None, :]).any(axis=-1)
        else:  # no diversity term yet, nothing covered yet
            value = fixed + learned
        value[taken] = -np.inf
        allowed = np.where(clash, -np.inf, value)
        best = np.argmax(allowed, axis=1)
        stuck = active & np.isneginf(allowed[rows, best])  # nothing left that differs: take the best of the rest
        best = np.where(active, best, 0)
        chosen[:, r] = np.where(active, best, -1)
        if stuck.any():
            stuck_rows = np.flatnonzero(stuck)
            best[stuck_rows] = chosen[stuck_rows, r] = np.argmax(value[stuck_rows], axis=1)
            varied += _vary_to_differ(cand, named, stuck_rows, best[stuck_rows], chosen[stuck_rows, :r])
        # (rows are distinct, so an OR through the fancy index is exact; inactive rows OR False)
        taken[rows, best] |= active
        covered |= met_named[rows, best] & active[:, None]
        if r + 1 == rounds:  # what follows only serves a next round
            break
        # Only candidates still open, of briefs that choose again after this round.
        open_rows, open_cols = np.nonzero(~taken & ~clash & (n > r + 1)[:, None])
        if len(open_rows):
            clash[open_rows, open_cols] = _clashes(cand, open_rows, open_cols, best[open_rows])
        step = np.sqrt(((signature - signature[rows, best][:, None, :]) ** 2).sum(-1)) / np.sqrt(3)
        nearest = np.minimum(nearest, step)
    picked = chosen >= 0
    where = np.maximum(chosen, 0)
    return chosen, np.where(picked, cand.relevance[rows[:, None], where], 0.0), varied


def _vary_to_differ(cand: Candidates, named: np.ndarray, rows: np.ndarray, picks: np.ndarray, earlier: np.ndarray
                    ) -> list[tuple[int, int, int, int]]:
    """Where no candidate left differs per rule 9, vary the pick as a designer would: a new primary (or, where the
    primary is a brand colour, a new accent) at least deltaE 2000 10 from that role in every earlier scheme, the
    nearest in OKLab among the colour grid, preferring colours inside every named tone. Changes `cand` in place
    -> (brief row, candidate, role, grid colour) for each change made (none where the role is a brand colour)."""
    f = _fit_tables()
    limit = load_attributes().rules.min_delta_e2000
    role = np.where(cand.brand[rows, picks, R_PRIMARY], R_ACCENT, R_PRIMARY)
    ok = ~cand.brand[rows, picks, role] & f.present[cand.palette[rows, picks], role]
    rows, picks, role, earlier = rows[ok], picks[ok], role[ok], earlier[ok]
    if not len(rows):
        return []
    before = cand.lab[rows[:, None], earlier, role[:, None]]  # (R, r, 3)
    close = _closer_than(before[:, :, None, :], f.grid_lab[None, None], limit).any(axis=1)  # (R, G)
    outside = (named[rows, :N_TONES].astype(np.float32) @ f.grid_out_tone.T) > 0
    current = cand.oklab[rows, picks, role]
    cost = np.sqrt(((f.grid_oklab[None] - current[:, None]) ** 2).sum(-1)) + outside + np.where(close, np.inf, 0.0)
    color = np.argmin(cost, axis=1)
    found = np.isfinite(cost[np.arange(len(rows)), color])
    rows, picks, role, color = rows[found], picks[found], role[found], color[found]
    cand.lch[rows, picks, role] = f.grid_lch[color]
    cand.oklab[rows, picks, role] = f.grid_oklab[color]
    cand.lab[rows, picks, role] = f.grid_lab[color]
    return list(zip(rows.tolist(), picks.tolist(), role.tolist(), color.tolist()))


@dataclass
class Injection:
    """A colour put into a scheme for a named attribute: scheme row, role (ROLE_ORDER), grid colour, attribute
    column (a tone's, or N_TONES + a cue's)."""

    scheme: int
    role: int
    color: int
    attribute: int


def put_cue_colours(lch: np.ndarray, oklab: np.ndarray, lab: np.ndarray, present: np.ndarray, brand: np.ndarray,
                    named: np.ndarray, met: np.ndarray, locked: np.ndarray, answer: np.ndarray, rank: np.ndarray
                    ) -> list[Injection]:
    """Where a scheme misses a colour cue its brief names (or a tone's anchor colour: metallic luxury's gold,
    champagne or silver), put that colour in, as a designer would.

    For each missed group of colour regions: among the scheme's free secondary / highlight / accent colours (not a
    brand colour, not already given a cue colour) and the in-gamut colours of the regions, the pair nearest in
    OKLab, preferring colours inside every tone the brief names (so the tones stay met). Where a brand colour is
    the primary of a scheme of the answer, the accents tell schemes apart (rule 9), so an accent is not set within
    deltaE 2000 10 of another scheme's accent (schemes are done in rank order). The arrays (S, 6, ...) change in
    place; a scheme that then meets fewer attributes than before keeps its own colours. Background and text are
    never touched, so text contrast stays as it was; nor is a `locked` (S, 6) role (varied for rule 9).
    `answer` (S,) and `rank` (S,): each scheme's brief and place in it.
    """
    f = _fit_tables()
    # The attributes some scheme misses that a colour put in can meet: mostly none (no cue, or all met as chosen),
    # and then nothing below has anything to do.
    missed = np.flatnonzero((named & ~met).any(axis=0) & f.anchored)
    if not len(missed):
        return []
    limit = load_attributes().rules.min_delta_e2000
    free = present & ~brand & ~locked & INJECT_MASK
    visible = present & (np.arange(len(ROLE_ORDER)) != R_TEXT)
    before = (met & named).sum(axis=1)
    saved = lch.copy(), oklab.copy(), lab.copy()
    done: list[Injection] = []
    tones = named[:, :N_TONES].astype(np.float32)
    brand_primary = brand[:, R_PRIMARY]
    # Accents matter only in answers with a brand primary; without one anywhere, none of that is needed.
    any_brand_primary = bool(brand_primary.any())
    if any_brand_primary:
        # The other schemes of each scheme's answer, (S, most - 1) scheme rows, -1 padded.
        first = np.searchsorted(answer, answer)
        size = np.bincount(answer)[answer]
        offset = np.arange(int(size.max()))
        members = np.where(offset < size[:, None], first[:, None] + offset, -1)
        others = np.where(members != np.arange(len(answer))[:, None], members, -1)
        accents_matter = np.bincount(answer, weights=brand_primary, minlength=answer.max() + 1)[answer] > 0
    for k in missed:
        for group, boxes in zip(f.groups[k], f.group_boxes[k]):
            needing = named[:, k] & ~met[:, k] & free.any(axis=1)
            maybe = np.flatnonzero(needing)
            if not len(maybe):
                continue
            # A colour already in the group (only where the rest asks: the boxes test is the costly part).
            needing[maybe] = ~(boxes.contains(lch[maybe]).any(axis=-1) & visible[maybe]).any(axis=1)
            # Schemes of answers where accents tell schemes apart go rank by rank; the rest all at once.
            steps = [needing & ~accents_matter] + [needing & accents_matter & (rank == r) for r in np.unique(
                rank[needing & accents_matter])] if any_brand_primary else [needing]
            for step in steps:
                rows = np.flatnonzero(step)
                if not len(rows):
                    continue
                outside_tones = (tones[rows] @ f.grid_out_tone[group].T) > 0  # (R, g)
                here, there = oklab[rows][:, :, None, :], f.grid_oklab[group]  # (R, 6, 1, 3), (g, 3)
                # OKLab distances (R, 6, g), the squares summed left to right as .sum(-1) does, without the
                # (R, 6, g, 3) array of differences.
                distance = np.sqrt((here[..., 0] - there[:, 0]) ** 2 + (here[..., 1] - there[:, 1]) ** 2
                                   + (here[..., 2] - there[:, 2]) ** 2)
                cost = distance + outside_tones[:, None, :] + np.where(free[rows], 0.0, np.inf)[..., None]
                flat = cost.reshape(len(rows), -1)  # (R, 6 g), role-major
                # An accent within deltaE 2000 10 of a peer's accent is blocked. Tested only where it could win:
                # accents no dearer than the scheme's best other role (blocking any other changes no argmin).
                relying = ()
                if any_brand_primary:
                    peers = others[rows]
                    relies = ((peers >= 0) & (brand_primary[rows, None] | brand_primary[np.maximum(peers, 0)])
                              & free[rows, R_ACCENT][:, None])
                    relying = np.flatnonzero(relies.any(axis=1))
                if len(relying):
                    accent = cost[relying, R_ACCENT]  # (n, g)
                    rest = np.delete(cost[relying], R_ACCENT, axis=1).reshape(len(relying), -1).min(axis=1)
                    a, point = np.nonzero(np.isfinite(accent) & (accent <= rest[:, None]))
                    a_peer, j = np.nonzero(relies[relying[a]])  # each such accent against each peer it relies on
                    near = _closer_than(lab[peers[relying[a[a_peer]], j], R_ACCENT], f.grid_lab[group[point[a_peer]]],
                                        limit)
                    blocked = np.zeros(len(a), bool)
                    np.logical_or.at(blocked, a_peer, near)
                    cost[relying[a[blocked]], R_ACCENT, point[blocked]] = np.inf
                best = np.argmin(flat, axis=1)
                found = np.isfinite(flat[np.arange(len(rows)), best])
                role, point = np.divmod(best[found], len(group))
                rows, color = rows[found], group[point]
                lch[rows, role], oklab[rows, role], lab[rows, role] = f.grid_lch[color], f.grid_oklab[color], \
                    f.grid_lab[color]
                free[rows, role] = False
                done += [Injection(s, r, g, int(k)) for s, r, g in zip(rows.tolist(), role.tolist(), color.tolist())]
    if done:
        touched = np.unique([d.scheme for d in done])
        after = _met_named(lch[touched], present[touched], brand[touched], named[touched])
        worse = after.sum(axis=1) < before[touched]
        for array, original in zip((lch, oklab, lab), saved):
            array[touched[worse]] = original[touched[worse]]
        met[touched[~worse]] = after[~worse]
        kept = set(touched[~worse].tolist())
        done = [d for d in done if d.scheme in kept]
    return done


@dataclass
class KeywordPut:
    """A colour-evoking keyword's own colour put into a scheme: scheme row, role (ROLE_ORDER), the colour, and the
    keyword (for the rationale)."""

    scheme: int
    role: int
    hex: str
    name: str
    keyword: str


@cache
def _keyword_colour(l: float, c: float, h: float) -> tuple[str, np.ndarray, np.ndarray, str]:
    """A keyword's OKLCH as the sRGB hex a palette can hold (gamut-mapped), with its OKLab, CIELAB and colour name
    (cached: a table colour recurs across briefs)."""
    hex_ = oklch_to_hex(l, c, h)
    rgb = hexes_to_rgb8([hex_])
    oklab = rgb8_to_oklab(rgb)
    return hex_, oklab[0], rgb8_to_lab_d65(rgb)[0], nearest_color_names(oklab)[0]


def put_keyword_colours(lch: np.ndarray, oklab: np.ndarray, lab: np.ndarray, present: np.ndarray, brand: np.ndarray,
                        taken: np.ndarray, named: np.ndarray, keywords: list[list[KeywordColour]],
                        answer: np.ndarray | None = None) -> list[KeywordPut]:
    """Where a scheme holds no visible colour in the region of a colour-evoking keyword of its brief
    (`EncodedBatch.keyword_colours`: free keywords no cue names, "pomegranate", 石榴), put the keyword's own colour
    into the free secondary / highlight / accent role nearest to it in OKLab (the least change), as
    `put_cue_colours` does for a cue. `taken` (S, 6): roles already given a colour (a cue's, or varied for rule 9)
    stay; brand colours, background and text are never touched. Keywords go slot by slot (first keyword of every
    scheme at once, then the second), so two keywords take two roles. The arrays (S, 6, ...) change in place; a
    scheme that then meets fewer of its named tones and cues than before keeps its own colours, and so does one
    that would then no longer differ per rule 9 from another scheme of its answer (`answer` (S,): each scheme's
    brief; a brand primary leaves the accents to tell schemes apart, and one keyword colour in every accent would
    make them alike)."""
    most = max(map(len, keywords), default=0)
    if not most:
        return []
    regions = list(dict.fromkeys(k.region for ks in keywords for k in ks))
    boxes = Boxes.of(regions)
    box_of = {r: i for i, r in enumerate(regions)}
    free = present & ~brand & ~taken & INJECT_MASK
    visible = present & (np.arange(len(ROLE_ORDER)) != R_TEXT)
    saved = lch.copy(), oklab.copy(), lab.copy()
    done: list[KeywordPut] = []
    for slot in range(most):
        rows = np.array([s for s, ks in enumerate(keywords) if len(ks) > slot], dtype=np.int64)
        kws = [keywords[s][slot] for s in rows.tolist()]
        held = (boxes.contains_each(lch[rows], np.array([box_of[k.region] for k in kws])) & visible[rows]).any(1)
        need = ~held & free[rows].any(axis=1)
        rows, kws = rows[need], [k for k, n in zip(kws, need.tolist()) if n]
        if not len(rows):
            continue
        colours = [_keyword_colour(*k.oklch) for k in kws]
        new_oklab = np.array([c[1] for c in colours])
        cost = np.sqrt(((oklab[rows] - new_oklab[:, None]) ** 2).sum(-1)) + np.where(free[rows], 0.0, np.inf)
        role = np.argmin(cost, axis=1)
        oklab[rows, role], lab[rows, role] = new_oklab, np.array([c[2] for c in colours])
        lch[rows, role] = oklab_to_oklch(new_oklab)
        free[rows, role] = False
        done += [KeywordPut(int(s), int(r), c[0], c[3], k.keyword)
                 for s, r, c, k in zip(rows.tolist(), role.tolist(), colours, kws)]
    if done:
        touched = np.unique([d.scheme for d in done])
        touched = touched[named[touched].any(axis=1)]  # with no tone or cue named there is nothing to lose
        before = _met_named(saved[0][touched], present[touched], brand[touched], named[touched]).sum(axis=1)
        worse = _met_named(lch[touched], present[touched], brand[touched], named[touched]).sum(axis=1) < before
        for array, original in zip((lch, oklab, lab), saved):
            array[touched[worse]] = original[touched[worse]]
        reverted = set(touched[worse].tolist())
        if answer is not None:
            reverted |= _undo_new_clashes(lch, oklab, lab, saved, brand, answer,
                                          np.array(sorted({d.scheme for d in done} - reverted), dtype=np.int64))
        done = [d for d in done if d.scheme not in reverted]
    return done


def _undo_new_clashes(lch: np.ndarray, oklab: np.ndarray, lab: np.ndarray, saved: tuple[np.ndarray, ...],
                      brand: np.ndarray, answer: np.ndarray, changed: np.ndarray) -> set[int]:
    """Give back their own colours to `changed` schemes that now fail rule 9 against another scheme of their answer
    (primary deltaE 2000 < 10 where a brand colour is a primary, and background and accent < 10 too) where they did
    not before: the later scheme of each such pair, until none is left. -> the schemes given back."""
    if not len(changed):
        return set()
    limit = load_attributes().rules.min_delta_e2000
    roles = np.array([R_PRIMARY, R_BACKGROUND, R_ACCENT])
    # Every pair (changed scheme, other scheme of its answer); answers hold a few schemes, in rows side by side.
    first = np.searchsorted(answer, answer[changed])
    size = np.searchsorted(answer, answer[changed], side="right") - first
    reps = np.repeat(np.arange(len(changed)), size)
    a = changed[reps]
    b = first[reps] + (np.arange(len(reps)) - np.repeat(np.cumsum(size) - size, size))
    keep = (a != b) & (brand[a, R_PRIMARY] | brand[b, R_PRIMARY])
    a, b = a[keep], b[keep]
    if not len(a):
        return set()
    old_lab = saved[2]
    was_alike = _closer_than(old_lab[a][:, roles], old_lab[b][:, roles], limit).all(axis=1)
    undone: set[int] = set()
    while True:
        alike = _closer_than(lab[a][:, roles], lab[b][:, roles], limit).all(axis=1) & ~was_alike
        pending_a, pending_b = (np.isin(x, changed) & ~np.isin(x, list(undone)) for x in (a, b))
        # the later scheme of the pair where it still holds a keyword colour, else the earlier one
        pick = np.where(pending_b & ((b > a) | ~pending_a), b, np.where(pending_a, a, -1))
        later = np.unique(pick[alike & (pick >= 0)])
        if not len(later):
            return undone
        for array, original in zip((lch, oklab, lab), saved):
            array[later] = original[later]
        undone |= set(later.tolist())


def _type_tables(named_tones: np.ndarray, zh: np.ndarray) -> dict[str, np.ndarray]:
    """Per brief and font pair (B, F): in the brief's pool (CJK pairs for zh), and how it stands with the named
    tones' type rules as a first and as a later scheme (all met; how many met); per brief and style (B, n_styles):
    whether some pair of the pool meets that style's type rule and every named tone's, as a first and as a later
    scheme."""
    f = _fit_tables()
    tones = named_tones.astype(np.float32)
    out = {"pool": ~zh[:, None] | _tables().pair_zh[None, :]}
    for when, table, styles in (("first", f.tone_pair_first, f.pair_style_first),
                                ("later", f.tone_pair_later, f.pair_style_later)):
        met = tones @ table  # (B, F)
        out[f"tones_{when}"] = met >= tones.sum(axis=1, keepdims=True)
        out[f"count_{when}"] = met
        out[f"styles_{when}"] = (out[f"tones_{when}"] & out["pool"]).astype(np.float32) @ styles > 0
    return out


def assign_fitting_styles(style_probs: np.ndarray, palettes: np.ndarray, types: dict[str, np.ndarray],
                          taste: TasteBatch | None = None) -> np.ndarray:
    """`assign_styles` where a style counts only if some font pair meets its type rule and every named tone's
    (rule 4, first-scheme policy for the first scheme, and for every scheme after one whose style only a script
    heading could type): the brief's top styles first, then the next likeliest style that has such a pair; where
    none has, the old choice stands.

    The pairs asked are the CJK-capable ones for every brief, en too (they are part of the en pool), so that a
    brief and its translation take the same directions (zh/en parity); only where no style has a CJK pair does an
    en brief fall back to its whole pool."""
    f = _fit_tables()
    batch, rounds = palettes.shape
    rows = np.arange(batch)
    n_styles = style_probs.shape[1]
    cjk = f.cjk
    feasible = {}
    for when, rules in (("first", f.pair_style_first), ("later", f.pair_style_later)):
        in_cjk = (types[f"tones_{when}"].astype(np.float32) * cjk) @ rules > 0  # (B, n_styles)
        feasible[when] = np.where(in_cjk.any(axis=1, keepdims=True), in_cjk, types[f"styles_{when}"])
    # A style feasible only through a script heading (a `secondary` policy) takes the answer's one script slot:
    # after that, later schemes are held to the first-scheme tables (rule 4: no script heading above them).
    needs_script = feasible["later"] & ~feasible["first"]
    script_taken = np.zeros(batch, bool)
    top = np.zeros((batch, n_styles), bool)
    top[rows[:, None], np.argsort(-style_probs, axis=1)[:, :TOP_STYLES]] = True
    likely = np.sqrt(style_probs)
    # 0.25 ** (times the style was used), kept as a running product (powers of two: exact either way)
    repeat = np.ones((batch, n_styles))
    any_script = bool(needs_script.any())
    fit_table = _tables().style_fit
    bonus = None
    if taste is not None:  # the pairs the font step could give each style under the first-scheme policy
        typed = (types["tones_first"] & types["pool"])[:, :, None] & (f.pair_style_first > 0)[None]
        bonus = taste.style_bonus(typed)
    # The terms that do not change between rounds, for all rounds at once (the products in the same order).
    fitted = likely[:, None, :] * (0.5 + fit_table[np.maximum(palettes, 0)])  # (B, rounds, n_styles)
    top_term, first_term, later_term = 5.0 * top, 10.0 * feasible["first"], 10.0 * feasible["later"]
    in_use = palettes >= 0
    best = np.zeros((batch, rounds), dtype=np.int64)
    for r in range(rounds):
        active = in_use[:, r]
        if r == 0 or script_taken.all():
            now = first_term
        elif not script_taken.any():
            now = later_term
        else:
            now = np.where(script_taken[:, None], first_term, later_term)
        value = fitted[:, r] * repeat + top_term + now
        if bonus is not None:
            # The taste only among the top styles some pair can type as asked, by the stricter first-scheme
            # policy even for later schemes: a script heading above one makes the font choice apply it.
            value = value + np.where(top & feasible["first"], bonus, 0.0)
        pick = best[:, r] = np.argmax(value, axis=1)
        repeat[rows, pick] *= np.where(active, 0.25, 1.0)  # rows are distinct: one factor each
        if r and any_script:
            script_taken |= active & needs_script[rows, pick]
    return np.where(in_use, best, -1)


def select_fitting_fonts(ids: np.ndarray, scores: np.ndarray, styles: np.ndarray, types: dict[str, np.ndarray],
                         taste: TasteBatch | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A font pair per scheme from the whole library (the model's ranked pairs first) -> (pair, relevance), (B, n).

    Order of choice, strongest first: meets the scheme's own style's type rule and every named tone's (rule 4;
    a later scheme may take a script heading under a `secondary` policy while no script heading is ranked above
    it); not a script face while a later scheme needs the answer's one script slot and this one can do without;
    more of those rules met; a heading family not used yet in the answer (rule 8: where the pool cannot give both,
    fit wins and the repeat stays); ranked by the model; then relevance and mood as before.
    """
    f, t = _fit_tables(), _tables()
    batch, rounds = styles.shape
    rows = np.arange(batch)
    n_pairs = len(t.typography)
    relevance = np.zeros((batch, n_pairs))
    relevance[rows[:, None], ids] = _normalise(scores)
    ranked = np.zeros((batch, n_pairs), bool)
    ranked[rows[:, None], ids] = True
    used = np.zeros((batch, t.n_headings), bool)
    script_above = np.zeros(batch, bool)
    picks = np.zeros((batch, rounds), dtype=np.int64)
    bonus = taste.font_bonus() if taste is not None else None
    # What does not change between rounds. The whole-number terms of the value below sum exactly in any order,
    # so the model's ranking joins them up front; relevance and mood are added after them, as before.
    # A pair outside the brief's pool is never taken: -inf here carries through every sum below.
    ranked_term = np.where(types["pool"], 5.0 * ranked, -np.inf)
    relevance_term = MMR_LAMBDA * relevance
    in_use, style_of = styles >= 0, np.maximum(styles, 0)
    mood_term = (1 - MMR_LAMBDA) * f.style_mood[style_of]  # (B, rounds, F)
    # Schemes whose style and named tones only a script heading can meet (a `secondary` policy): an answer has
    # one such slot (rule 4), so an earlier scheme that can meet its rules with another face leaves it to them.
    by_scheme = rows[:, None], style_of
    needs_script = (styles >= 0) & ~types["styles_first"][by_scheme] & types["styles_later"][by_scheme]
    needs_script[:, 0] = False
    # Where no scheme needs the script slot, nothing is reserved (the term below would subtract zeros).
    any_script = bool(needs_script.any())
    for r in range(rounds):
        active, style = in_use[:, r], style_of[:, r]
        # The first scheme, and any scheme below a script heading, by first-scheme rules; the others by the later
        # ones (one table each where the whole batch is alike).
        if r == 0 or script_above.all():
            style_ok = f.style_pair_first[style]
            tones_ok, count = types["tones_first"], types["count_first"] + style_ok
        elif not script_above.any():
            style_ok = f.style_pair_later[style]
            tones_ok, count = types["tones_later"], types["count_later"] + style_ok
        else:
            later = ~script_above[:, None]
            style_ok = np.where(later, f.style_pair_later[style], f.style_pair_first[style])
            tones_ok = np.where(later, types["tones_later"], types["tones_first"])
            count = np.where(later, types["count_later"], types["count_first"]) + style_ok
        repeat = used[:, t.pair_heading]
        # A script face a later scheme needs is kept for it where another face meets this scheme's rules. Where no
        # pair meets them all, more of them met comes before a fresh heading (fit to the brief first, the repeat
        # reported): the other way round, the zh pool's new sans faces won over repeats meeting more tones.
        whole = 1000.0 * (style_ok & tones_ok)
        if any_script:
            reserve = needs_script[:, r + 1:].any(axis=1) & ~needs_script[:, r]
            whole -= 500.0 * (reserve[:, None] & f.heading_script[None, :])
        whole += 100.0 * count + 10.0 * ~repeat + ranked_term
        value = whole + relevance_term + mood_term[:, r]
        if bonus is not None:  # the taste only among pairs that meet the style's and every named tone's type rule
            value = value + np.where(style_ok & tones_ok, bonus, 0.0)
        best = picks[:, r] = np.argmax(value, axis=1)
        used[rows, t.pair_heading[best]] |= active  # (rows are distinct: one heading each)
        script_above |= active & f.heading_script[best]
    return np.where(in_use, picks, -1), np.where(in_use, relevance[rows[:, None], picks], 0.0)


# Tone labels that keep their capital inside an English sentence (a name, a place).
_PROPER_TONE_LABELS = ("Morandi", "Guochao", "Japanese")


def _in_sentence(label: str, locale: str) -> str:
    """A tone or role label as it reads inside an English sentence ("metallic luxury", "secondary"); zh as it is."""
    if locale == "zh" or label.startswith(_PROPER_TONE_LABELS):
        return label
    return label[:1].lower() + label[1:]


def _listed(items: list[str], locale: str) -> str:
    """Items as a list in running text: "a, b and c" (en), "a、b、c" (zh)."""
    if locale == "zh" or len(items) < 2:
        return "、".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _cue_text(brief: Brief, cues: list[str], cues_zh: list[str] | None, reference_colors: list[str],
              locale: str, colour_terms: list[str] = ()) -> str:
    t = _tables()
    parts = [_in_sentence(t.tone_label[locale][tone], locale) for tone in brief.tone]
    if cues_zh is None:  # encoded without the lexicon pass (the evaluation's rows): the same entries, read here
        cues_zh = [e.zh for e in normalize_keywords(brief.keywords)[1][:3]]
    quoted = cues[:3] if locale == "en" else cues_zh[:3]
    # Every keyword that named a colour cue is named too: the schemes were held to it. In English, not the Chinese a
    # quoted cue was read from ("“mint green”, “薄荷绿”").
    seen = {c.casefold() for c in [*quoted, *(cues_zh if locale == "en" else [])]}
    parts += [f"“{c}”" for c in [*quoted, *(term for term in colour_terms if term.casefold() not in seen)]]
    if brief.brand_colors:
        label = "品牌色" if locale == "zh" else "brand colours " if len(brief.brand_colors) > 1 else "brand colour "
        parts.append(label + ("、" if locale == "zh" else ", ").join(brief.brand_colors))
    if reference_colors:
        parts.append("reference image" if locale == "en" else "参考图")
    category = t.category_label[locale][brief.product_category]
    if locale == "zh":
        return "、".join(parts) if parts else category
    return _listed(parts, locale) if parts else f"the {category.lower()} category"


def schemes_batch(briefs: list[Brief], encoded: EncodedBatch, outputs: dict[str, np.ndarray],
                  honour_brief: bool = True, taste: TasteBatch | None = None) -> list[list[dict] | None]:
    """A batch of model outputs -> each brief's schemes as contract-shaped dicts (None for a rejected brief).

    `honour_brief`: choose palettes, styles and font pairs under the brief's named tones and colour cues
    (docs/teacher.md "Measurable definitions"); False gives the choices of the model's ranking alone (the
    evaluation's "model alone" table). `layout.heatmaps` stays a (4, rows, cols) float array: `pipeline.answer`
    encodes it for the wire. `taste` (rows as `briefs`; `pipeline.taste`): each tenant's learned re-ranking among
    the candidates that meet the brief (with `honour_brief` only); None, or zero weights, change nothing.
    """
    t = _tables()
    out: list[list[dict] | None] = [None] * len(briefs)
    live = [i for i in range(len(briefs)) if i not in encoded.rejected]
    if not live:
        return out
    index = np.asarray(live)
    briefs_live = [briefs[i] for i in live]
    n = np.array([b.num_schemes for b in briefs_live])
    zh = np.array([b.locale == Locale.zh for b in briefs_live])
    style_probs = np.asarray(outputs["style_probs"])[index].astype(np.float64)
    palette_ids = np.asarray(outputs["palette_ids"])[index].astype(np.int64)
    palette_scores = np.asarray(outputs["palette_scores"])[index]
    font_ids = np.asarray(outputs["font_ids"])[index].astype(np.int64)
    font_scores = np.asarray(outputs["font_scores"])[index]
    brand_lists = [list(b.brand_colors) for b in briefs_live]
    if encoded.cue_ids is not None:
        cue_ids = [encoded.cue_ids[i] for i in live]
        cue_terms = [encoded.cue_terms[i] for i in live]
    else:  # encoded elsewhere without them: read them here
        cue_ids, cue_terms = (list(x) for x in zip(*[colour_cues(b.keywords) for b in briefs_live]))
    keyword_colours = ([encoded.keyword_colours[i] for i in live] if encoded.keyword_colours is not None
                       else keyword_colours_batch([b.keywords for b in briefs_live]))

    if honour_brief:
        taste_live = taste.take(index) if taste is not None else None
        named = named_attributes(briefs_live, cue_ids)
        brand_lab, brand_oklab, n_brands = _brand_arrays(brand_lists)
        cand = fitting_candidates(palette_ids, palette_scores, named, style_probs, brand_lab, brand_oklab, n_brands,
                                  taste_live)
        picked, palette_rel, varied = select_fitting_palettes(cand, named, n, n_brands, taste_live)
        rows = np.arange(len(briefs_live))[:, None]
        palettes = np.where(picked >= 0, cand.palette[rows, np.maximum(picked, 0)], -1)
        types = _type_tables(named[:, :N_TONES], zh)
        styles = assign_fitting_styles(style_probs, palettes, types, taste_live)
        fonts, font_rel = select_fitting_fonts(font_ids, font_scores, styles, types, taste_live)
    else:
        palettes, palette_rel = select_palettes(palette_ids, palette_scores, n)
        styles = assign_styles(style_probs, palettes)
        fonts, font_rel = select_fonts(font_ids, font_scores, styles, zh)
    top_styles = np.argsort(-style_probs, axis=1)[:, :TOP_STYLES]

    # Every scheme of the batch, flat, brief by brief.
    brief_of, rank = np.nonzero(palettes >= 0)
    s_palette, s_style, s_font = palettes[brief_of, rank], styles[brief_of, rank], fonts[brief_of, rank]
    s_prob = style_probs[brief_of, s_style]
    scores = 0.5 * palette_rel[brief_of, rank] + 0.3 * s_prob / style_probs.max(axis=1)[brief_of] \
        + 0.2 * font_rel[brief_of, rank]
    brief_format = [b.package_format.value for b in briefs_live]
    brief_locale = [b.locale.value for b in briefs_live]
    formats = [brief_format[b] for b in brief_of.tolist()]
    heatmaps, template_ids, boxes = build_layouts(np.asarray(outputs["layout"])[index][brief_of], formats,
                                                  s_style, rank)

    # Colour cues no chosen palette holds: the cue's colour put into a free role (after brand colours).
    injected: dict[int, list[Injection]] = {}
    keyword_put: dict[int, list[KeywordPut]] = {}
    tuned: dict[int, list[ToneTuned]] = {}
    unmet: dict[int, list[int]] = {}
    harmony_holds = [True] * len(brief_of)  # the model alone (evaluation): library palettes as they are
    if honour_brief:
        f = _fit_tables()
        chosen = picked[brief_of, rank]
        lch, oklab, lab = (a[brief_of, chosen].copy() for a in (cand.lch, cand.oklab, cand.lab))
        scheme_of = {(b, c): s for s, (b, c) in enumerate(zip(brief_of.tolist(), chosen.tolist()))}
        locked = np.zeros((len(brief_of), len(ROLE_ORDER)), bool)
        for b, c, role, color in varied:  # colours varied to differ per rule 9 (attribute -1)
            s = scheme_of[b, c]
            locked[s, role] = True
            injected.setdefault(s, []).append(Injection(s, role, color, -1))
        met = cand.met[brief_of, chosen]  # (a copy) each scheme's named attributes met as chosen, brand colours in
        # Per scheme, read (never written) by every step below.
        present_s, brand_s, named_s = f.present[s_palette], cand.brand[brief_of, chosen], named[brief_of]
        for d in put_cue_colours(lch, oklab, lab, present_s, brand_s, named_s, met.copy(), locked, brief_of, rank):
            injected.setdefault(d.scheme, []).append(d)
        # Then the colours free keywords evoke, into the roles still free.
        taken = locked.copy()
        for d in [d for ds in injected.values() for d in ds]:
            taken[d.scheme, d.role] = True
        for k in put_keyword_colours(lch, oklab, lab, present_s, brand_s, taken, named_s,
                                     [keyword_colours[b] for b in brief_of.tolist()], brief_of):
            keyword_put.setdefault(k.scheme, []).append(k)
        # Then the remaining free colours moved into the named tones' ranges where the scheme still misses one.
        # `met` is kept current by testing again only the schemes whose colours changed since choosing (few; a
        # colour varied for rule 9 is among `injected`), here and after the tone fitting.
        _retest(met, [*injected, *keyword_put], lch, present_s, brand_s, named_s)
        tuned = _tune_to_tones(lch, oklab, lab, present_s, brand_s, taken, keyword_put, named_s, brief_of, met)
        _retest(met, [*tuned], lch, present_s, brand_s, named_s)
        # What each scheme, as finally coloured and typed, still misses of what its brief named: said in the
        # answer rather than implied by "driven by" (mostly tones that contradict, e.g. Morandi + neon).
        unmet = _unmet_attributes(met, named_s, rank, s_font)
        arc = _hue_arc(lch, present_s)
        harmony_holds = (arc <= t.harmony_max_arc[s_palette]).tolist()

    # Brand colours: their names once per distinct colour, then where they land in each scheme's palette (for
    # the chosen candidates, where choosing put them; `brand_positions` is deterministic, so the same places).
    distinct = list(dict.fromkeys(c for colors in brand_lists for c in colors))
    names: dict[str, str] = {}
    branded = np.zeros(0, dtype=np.int64)
    if distinct:
        names = dict(zip(distinct, nearest_color_names(rgb8_to_oklab(hexes_to_rgb8(distinct)))))
        if honour_brief:
            positions = cand.brand_position[brief_of, chosen]
        else:
            brand_lab, _, n_brands = _brand_arrays(brand_lists)
            positions = np.full((len(brief_of), brand_lab.shape[1]), -1, dtype=np.int64)
            on = np.flatnonzero(n_brands[brief_of] > 0)
            positions[on] = brand_positions(s_palette[on], brand_lab[brief_of[on]], n_brands[brief_of[on]])
        branded = np.flatnonzero(np.array([len(c) > 0 for c in brand_lists], bool)[brief_of])
        position_l = positions[branded].tolist()

    # Plain Python from here: the per-scheme dicts. What belongs to a brief is built once per brief; box
    # corners come from one table look-up over the batch; colour changes only where a scheme has any.
    brief_of_l, style_l, font_l, palette_l = brief_of.tolist(), s_style.tolist(), s_font.tolist(), s_palette.tolist()
    changed: dict[int, list[tuple[int, str]]] = {}  # scheme -> its brand colours' (position, hex)
    unplaced: dict[int, list[str]] = {}  # scheme -> brand colours its palette had no role left for
    for row, s in enumerate(branded.tolist()):
        colors = brand_lists[brief_of_l[s]]
        placed = position_l[row][:len(colors)]
        changed[s] = [(p, colors[k]) for k, p in enumerate(placed) if p >= 0]
        if -1 in placed:
            unplaced[s] = [colors[k] for k, p in enumerate(placed) if p < 0]
    for s in (*injected, *keyword_put, *tuned):
        changed.setdefault(s, [])
    prob_l, score_l = s_prob.tolist(), scores.tolist()
    cf, rf = t.col_fraction, t.row_fraction
    box_l = np.empty(boxes.shape)  # x and w from the column fractions, y and h from the row ones
    box_l[..., 0::2], box_l[..., 1::2] = cf[boxes[..., 0::2]], rf[boxes[..., 1::2]]
    box_l = box_l.tolist()
    grid_rows, grid_cols = GRID
    per_brief = {}
    for b in dict.fromkeys(brief_of_l):
        brief, locale = briefs_live[b], brief_locale[b]
        labels = t.style_label[locale]
        cue_text = _cue_text(brief, encoded.cues[live[b]],
                             encoded.cues_zh[live[b]] if encoded.cues_zh is not None else None,
                             encoded.reference_colors[live[b]], locale,
                             [*cue_terms[b], *(k.keyword for k in keyword_colours[b])])
        if locale == "zh":
            driven = f"依据{t.category_label[locale][brief.product_category]}品类与{cue_text}。"
        else:
            driven = f", driven by {cue_text}."
        out[live[b]] = answer = []
        # One list for the brief's schemes (shared: read-only once built, like the tables' dicts).
        per_brief[b] = (locale, driven, answer, [{"id": STYLES[k], "label": labels[k], "score": p} for k, p in
                        zip(top_styles[b].tolist(), style_probs[b, top_styles[b]].tolist())])
    color_dicts, typography, typography_dicts, style_label, harmony_label = (
        t.palette_color_dicts, t.typography, t.typography_dicts, t.style_label, t.harmony_label)
    headings_before: dict[int, dict[str, int]] = {}  # brief -> heading family -> rank (1-based) of its first scheme
    for s, b in enumerate(brief_of_l):
        locale, driven, answer, style_scores = per_brief[b]
        p = palette_l[s]
        colors = list(color_dicts[p])
        put_in = "" if s not in changed else _put_colours(
            colors, p, locale, changed[s], names, injected.get(s, ()), keyword_put.get(s, ()), cue_terms[b],
            cue_ids[b])
        if s in unplaced:
            put_in += _brand_unplaced(unplaced[s], locale)
        if s in tuned:
            put_in += _put_tuned(colors, p, locale, tuned[s], cue_terms[b], cue_ids[b])
        if s in unmet:
            put_in += _not_met(unmet[s], np.flatnonzero(named[b]).tolist(), locale, cue_terms[b], cue_ids[b])
        _, heading, body = typography[font_l[s]]
        seen = headings_before.setdefault(b, {})
        if heading[0] in seen:  # fit wins over a fresh heading (`select_fitting_fonts`); the answer says so
            put_in += _heading_repeat(seen[heading[0]], locale)
        else:
            seen[heading[0]] = len(answer) + 1
        k = style_l[s]
        label_ = style_label[locale][k]
        harmony = t.palette_harmony[p]
        # The harmony is named only where the scheme's colours, brand and put-in colours included, still have it.
        if locale == "zh":
            type_ = f"全部使用{heading[0]}" if heading[0] == body[0] else f"{heading[0]}标题配{body[0]}正文"
            said = f"{harmony_label[locale][harmony]}，" if harmony_holds[s] else ""
            rationale = f"{label_}方向：{said}{type_}，{driven}{put_in}"
        else:
            type_ = f"{heading[0]} throughout" if heading[0] == body[0] else f"{heading[0]} over {body[0]}"
            said = f"{harmony_label[locale][harmony]} palette and " if harmony_holds[s] else ""
            rationale = f"{label_} direction with {said}{type_}{driven}{put_in}"
        palette = {"id": t.palette_id[p], "colors": colors, "harmony": harmony, "text_contrast": t.text_contrast[p]}
        if s in tuned:  # only where colours moved, so every other answer keeps its bytes
            palette["tuned_to"] = _tuned_to(tuned[s])
        scheme = {
            "style": {"id": STYLES[k], "label": label_, "score": prob_l[s]},
            "style_scores": style_scores,
            "palette": palette,
            "typography": typography_dicts[font_l[s]],
            "layout": {"format": formats[s], "template_id": template_ids[s], "grid": [grid_rows, grid_cols],
                       "heatmaps": heatmaps[s], "boxes": dict(zip(ELEMENTS, box_l[s]))},
            "score": round(score_l[s], 4),
            "rationale": rationale,
        }
        if s in unmet:  # only where something named is missed, so every other answer keeps its bytes
            scheme["unmet"] = [_attribute_id(u.column) for u in unmet[s]]
        answer.append(scheme)
    return out


class Unmet(NamedTuple):
    """A named tone or cue a scheme misses, and by what: its colours (the palette rule), its type (a tone's type
    rule), or both."""

    column: int
    colours: bool
    type: bool


def _unmet_attributes(met: np.ndarray, named: np.ndarray, rank: np.ndarray, font: np.ndarray
                      ) -> dict[int, list[Unmet]]:
    """scheme -> the attributes (tone or cue columns) its brief names that its final colours (after brand, cue,
    keyword and tone changes) or its font pair do not meet, in column order: the palette rule of each named tone
    and cue (`attribute_rules().meets_each`, as the grade reads it) and each named tone's type rule, as a first
    scheme or, for a later one, under the first-scheme policy still where a script heading is ranked above it
    (rule 4). `met` (S, A) the palette rules' results for the final colours (`_met_named`), (S, A), (S,), (S,),
    schemes brief by brief in rank order -> only the schemes that miss one."""
    rows, attribute = np.nonzero(named)
    if not len(rows):
        return {}
    ok = met[rows, attribute]
    f = _fit_tables()
    tone = np.flatnonzero(attribute < N_TONES)
    tone_attr, pair = attribute[tone], font[rows[tone]]
    first = rank[rows[tone]] == 0
    script = f.heading_script[font]
    if script.any():  # (no script heading in the batch: none is ranked above any scheme)
        script = script.astype(np.int64)
        before = np.cumsum(script) - script  # script headings of the batch ranked before, this brief's and earlier ones
        brief_start = np.flatnonzero(rank == 0)
        script_above = (before - before[brief_start][np.searchsorted(brief_start, np.arange(len(rank)), "right") - 1]
                        ) > 0
        first |= script_above[rows[tone]]
    type_ok = np.ones(len(ok), bool)
    type_ok[tone] = np.where(first, f.tone_pair_first[tone_attr, pair], f.tone_pair_later[tone_attr, pair]) > 0
    missed = np.flatnonzero(~(ok & type_ok))
    out: dict[int, list[Unmet]] = {}
    for s, a, colours, type_ in zip(rows[missed].tolist(), attribute[missed].tolist(), (~ok[missed]).tolist(),
                                    (~type_ok[missed]).tolist()):
        out.setdefault(s, []).append(Unmet(a, colours, type_))
    return out


def _brand_unplaced(hexes: list[str], locale: str) -> str:
    """The rationale's sentence for brand colours a scheme's palette had no role left for (`brand_positions`: only
    where every candidate of the brief lacked the roles, e.g. three near-identical brand colours in a long answer)."""
    if locale == "zh":
        return f"此配色没有空余角色容纳品牌色{'、'.join(hexes)}。"
    return f" This palette has no role left for brand colour{'s' if len(hexes) > 1 else ''} {', '.join(hexes)}."


def _heading_repeat(first_rank: int, locale: str) -> str:
    """The rationale's sentence for a scheme whose heading family an earlier scheme of its answer already uses:
    the font choice puts the brief's type rules before a fresh heading, so no unused face met them as well (in zh
    mostly the size of the CJK pool)."""
    if locale == "zh":
        return f"标题字体与方案{first_rank}相同：其余字体都不如它符合这一方向与简报的字体要求。"
    return (f" Same heading face as scheme {first_rank}: no other face meets this direction's and the brief's type "
            f"rules as well.")


def _attribute_id(column: int) -> str:
    """A tone or cue column of `named_attributes` -> its id (as `tuned_to` and the definitions name it)."""
    return TONES[column] if column < N_TONES else _fit_tables().cue_ids[column - N_TONES]


@cache
def _reconcilable() -> np.ndarray:
    """(A, A) bool: some library palette, as it stands, meets both attributes' palette rules."""
    passes = _fit_tables().passes.astype(np.float32)
    return (passes.T @ passes) > 0


def _not_met(missed: list[Unmet], named: list[int], locale: str, cue_terms: list[str], cue_ids: list[str]) -> str:
    """The rationale's sentence on what a scheme misses of its brief, each with what misses it (its colours, its
    type) and, for colours, the named attributes no library palette meets together with it (the reason, where there
    is one)."""
    t = _tables()
    together = _reconcilable()
    # (an attribute missed by its type alone has its colours, and may be what the colours cannot meet together with)
    missed_colours = {u.column for u in missed if u.colours}

    def name(a: int) -> str:
        if a < N_TONES:
            return _in_sentence(t.tone_label[locale][TONES[a]], locale)
        cue = _attribute_id(a)
        return f"“{cue_terms[cue_ids.index(cue)]}”" if cue in cue_ids else cue

    parts = []
    for u in missed:
        against = [name(b) for b in named if b != u.column and b not in missed_colours
                   and not together[u.column, b]] if u.colours else []
        if locale == "zh":
            by = "、".join(k for k, on in (("配色", u.colours), ("字体", u.type)) if on)
            parts.append(f"{name(u.column)}（{by}" + (f"：没有配色能与{'、'.join(against)}同时满足" if against else "")
                         + "）")
        else:
            by = " and ".join(k for k, on in (("colours", u.colours), ("type", u.type)) if on)
            parts.append(f"{name(u.column)} ({by}" + (f": no library palette meets it together with "
                                                       f"{_listed(against, locale)}" if against else "") + ")")
    return f"未能满足：{'；'.join(parts)}。" if locale == "zh" else f" Not met: {'; '.join(parts)}."


def _put_colours(colors: list[dict], palette: int, locale: str, brand: list[tuple[int, str]], names: dict[str, str],
                 injected: list[Injection], keyword_put: list[KeywordPut], cue_terms: list[str], cue_ids: list[str]
                 ) -> str:
    """One scheme's colour changes into its `colors` (in place): brand colours, then colours put in for a cue, a
    tone's anchor or rule 9, then keyword colours -> the rationale's sentences on the colours put in."""
    t, f = _tables(), _fit_tables()
    for position, hex_ in brand:
        colors[position] = {"hex": hex_, "role": colors[position]["role"], "name": names[hex_]}
    put_in = ""
    roles = t.role_label[locale]
    for d in injected:
        position = int(f.position_of_role[palette, d.role])
        colors[position] = {"hex": f.grid_hex[d.color], "role": colors[position]["role"],
                            "name": f.grid_name[d.color]}
        if d.attribute < 0:
            role, name = roles[d.role], f.grid_name[d.color]
            put_in += (f"{role}取{f.grid_hex[d.color]}，以区别于其他方案。" if locale == "zh"
                       else f" {role} set to {name} to differ from the other schemes.")
            continue
        term = (_in_sentence(t.tone_label[locale][TONES[d.attribute]], locale) if d.attribute < N_TONES
                else cue_terms[cue_ids.index(f.cue_ids[d.attribute - N_TONES])])
        if locale == "zh":  # by its hex: the colour names are English words
            put_in += f"{roles[d.role]}取{f.grid_hex[d.color]}，呼应“{term}”。"
        else:
            put_in += f" {roles[d.role]} set to {f.grid_name[d.color]} for “{term}”."
    for k in keyword_put:
        position = int(f.position_of_role[palette, k.role])
        colors[position] = {"hex": k.hex, "role": colors[position]["role"], "name": k.name}
        if locale == "zh":
            put_in += f"{roles[k.role]}取{k.hex}，呼应“{k.keyword}”。"
        else:
            put_in += f" {roles[k.role]} set to {k.name} for “{k.keyword}”."
    return put_in


def _tune_to_tones(lch: np.ndarray, oklab: np.ndarray, lab: np.ndarray, present: np.ndarray, brand: np.ndarray,
                   taken: np.ndarray, keyword_put: dict[int, list[KeywordPut]], named: np.ndarray, answer: np.ndarray,
                   met: np.ndarray) -> dict[int, list[ToneTuned]]:
    """`pipeline.tone_fit.fit_tones` on the chosen schemes, every colour put in for a cue, rule 9 or a keyword
    kept where it is -> scheme row -> its colours moved (`met` as `fit_tones` reads it)."""
    fixed = taken.copy()
    for puts in keyword_put.values():
        for k in puts:
            fixed[k.scheme, k.role] = True
    tuned: dict[int, list[ToneTuned]] = {}
    for d in fit_tones(lch, oklab, lab, present, brand, fixed, named, answer, met=met):
        tuned.setdefault(d.scheme, []).append(d)
    return tuned


def _put_tuned(colors: list[dict], palette: int, locale: str, tuned: list[ToneTuned], cue_terms: list[str],
               cue_ids: list[str]) -> str:
    """One scheme's colours moved to its tones into its `colors` (in place) -> the rationale's sentence on them."""
    t, f = _tables(), _fit_tables()
    roles = t.role_label[locale]
    for d in tuned:
        position = int(f.position_of_role[palette, d.role])
        colors[position] = {"hex": d.hex, "role": colors[position]["role"], "name": d.name}
    # The roles moved into each set of tones (one set, unless contradicting tones were split between roles); a tone
    # by its label, a cue read as a palette quality by the brief's own words.
    groups: dict[tuple[str, ...], list[str]] = {}
    for d in sorted(tuned, key=lambda d: d.role):
        groups.setdefault(d.tones, []).append(roles[d.role])
    said = [(moved, [_in_sentence(t.tone_label[locale][a], locale) if a in TONES else cue_terms[cue_ids.index(a)]
                     for a in tones])
            for tones, moved in groups.items()]
    if locale == "zh":
        return "，".join(f"{'、'.join(moved)}已按“{'、'.join(wanted)}”调校" for moved, wanted in said) + "。"
    # Only the sentence's first word keeps its capital ("Primary and accent tuned to vivid; secondary tuned to ...").
    roles_said = [_listed([m if g == k == 0 else _in_sentence(m, locale) for k, m in enumerate(moved)], locale)
                  for g, (moved, _) in enumerate(said)]
    parts = "; ".join(f"{moved} tuned to {_listed(wanted, locale)}" for moved, (_, wanted) in zip(roles_said, said))
    return f" {parts}."


def _tuned_to(tuned: list[ToneTuned]) -> list[str]:
    """The tones and cues a scheme's moved colours were tuned to, each once, in the order the colours name them."""
    return list(dict.fromkeys(a for d in tuned for a in d.tones))


def answer_batch(briefs: list, encoded, outputs: dict[str, np.ndarray], request_ids: list[str],
                 encodings: list[HeatmapEncoding], model_version: str, backend: str,
                 stage_ms: dict[str, float] | list[dict[str, float]], started: list[float], now,
                 taste: TasteBatch | None = None) -> tuple[list, list]:
    """A post-processed micro-batch -> each brief's answer bytes (or its BriefRejection), plus its schemes (None
    where rejected) for the answer log. Called alike by the Serve ingress and the plain baseline server.

    `stage_ms` holds the batch's encode/infer times (or each brief's, where micro-batches were joined for one
    post-processing pass); post-processing time is measured here, and each answer's
    total runs from its own `started` (time.perf_counter) to when its bytes were written, read from `now()`.
    `taste`: the tenants' learned re-ranking (`pipeline.taste`); an answer it re-ranked carries `learner_version`,
    every other answer is the same bytes as without it.
    """
    post_started = now()
    batch_schemes = schemes_batch(briefs, encoded, outputs, taste=taste)
    learned = taste.applied.tolist() if taste is not None else [False] * len(briefs)
    done = now()
    post = {"post": round((done - post_started) * 1000, 2)}
    per_brief = [stage_ms] * len(briefs) if isinstance(stage_ms, dict) else stage_ms
    answers = []
    for i, (schemes, body) in enumerate(zip(batch_schemes, schemes_json_batch(batch_schemes, encodings))):
        if schemes is None:
            answers.append(encoded.rejected[i])
            continue
        timings = {**{k: round(v, 2) for k, v in per_brief[i].items()}, **post,
                   "total": round((done - started[i]) * 1000, 2)}
        answers.append(answer_json(request_ids[i], model_version, backend, timings, body,
                                   taste.version if learned[i] else None))
    return answers, batch_schemes
