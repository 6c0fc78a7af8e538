"""Raw model outputs -> `num_schemes` distinct, contract-valid design schemes (shared by every backend).

Per brief: pick palettes by maximal marginal relevance (relevance from the model, diversity in OKLab),
give each a style that suits it, pick a font pair per scheme (CJK-capable for zh briefs), honour brand
colours, force text/background contrast >= 4.5:1, turn heatmaps into element boxes, write the rationale.

Batch-first: `schemes_batch` does each step for every brief of a batch at once in numpy (the greedy choices
run one round per scheme over the whole batch), reading fixed tables that `warm()` builds once per process,
and writes plain dicts in the contract's shape (no pydantic on the request path; `pipeline.answer` turns them
into bytes). The answers are those of the per-brief code it replaced (tests/pipeline/test_golden.py; that code
is frozen in benchmarks/frozen_postprocess.py): same float operations in the same order, so the same choices.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

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
    rgb8_to_lab_d65,
    rgb8_to_oklab,
)
from knowledge.design_tables import GRID, oklch_fit, palette_role_lab
from knowledge.fonts import load_font_pairs, load_fonts
from knowledge.labels import label, profile
from knowledge.layouts import load_layout_templates, render_heatmaps
from knowledge.lexicon import normalize_keywords
from knowledge.palettes import load_palettes
from knowledge.taxonomy import Harmony, LayoutElement, Locale, PackageFormat, PaletteRole, ProductCategory, Style, Tone
from pipeline.answer import answer_json, schemes_json
from pipeline.features import EncodedBatch

MMR_LAMBDA = 0.65  # relevance vs diversity when choosing palettes and font pairs
MIN_PALETTE_DISTANCE = 0.06  # OKLab distance below which two candidate palettes count as the same direction
BRAND_ROLES = (PaletteRole.primary, PaletteRole.accent, PaletteRole.secondary, PaletteRole.highlight)
STYLES = [s.value for s in Style]
ELEMENTS = [e.value for e in LayoutElement]
LOCALES = [loc.value for loc in Locale]
TOP_STYLES = 5  # style_scores length, and the styles a scheme may take
MAX_PALETTE_COLORS = 6
TEMPLATE_BLEND = 0.5  # weight of the format template in every scheme's heatmaps but the first


# --- fixed tables ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tables:
    """Everything post-processing reads that does not depend on the request, built once by `warm()`."""

    # palettes (P = library size), colour positions in each palette's own order
    signature: np.ndarray  # (P, 9) float32: background, primary, accent in OKLab
    style_fit: np.ndarray  # (P, n_styles) float64: fit of each palette to each style's OKLCH profile
    palette_id: list[str]
    palette_harmony: list[str]
    palette_colors: list[tuple[tuple[str, str, str], ...]]  # (hex, role, name), text already contrast-fixed
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
    # labels per locale
    style_label: dict[str, list[str]]
    harmony_label: dict[str, dict[str, str]]  # en: lower-cased, as the sentence uses it
    tone_label: dict[str, dict[str, str]]
    category_label: dict[str, dict[str, str]]
    # layout
    template_for: dict[str, np.ndarray]  # format -> (n_styles,) template number, -1 when the format has none
    template_id: list[str]
    template_maps: np.ndarray  # (T, 4, rows, cols) float64
    col_fraction: list[float]  # k / cols rounded to 4 places, k = 0..cols (box x and w)
    row_fraction: list[float]  # k / rows rounded likewise (box y and h)


def _mood_match(pair, wanted: dict[str, float]) -> float:
    """Cosine of a pair's expressive mood and a style's font tags (the per-brief code's formula, kept exact)."""
    if not wanted:
        return 0.0
    dot = sum(w * pair.mood.get(tag, 0.0) for tag, w in wanted.items())
    norm = np.sqrt(sum(w * w for w in wanted.values())) * np.sqrt(sum(v * v for v in pair.mood.values()) or 1.0)
    return float(dot / norm) if norm else 0.0


def _fixed_palette(palette) -> tuple[tuple[tuple[str, str, str], ...], float]:
    """Library colours with the text forced to contrast >= 4.5 with the background, and that contrast.

    Brand colours never take the text or background role, so this depends on the palette alone.
    """
    colors = [(c.hex, c.role, c.name) for c in palette.colors]
    background = next(c for c in colors if c[1] == PaletteRole.background)
    t = next(i for i, c in enumerate(colors) if c[1] == PaletteRole.text)
    if contrast_ratio(colors[t][0], background[0]) < MIN_TEXT_CONTRAST:
        fixed = ensure_contrast(colors[t][0], background[0], MIN_TEXT_CONTRAST)
        colors[t] = (fixed, colors[t][1], nearest_color_name(fixed))
    return tuple(colors), round(contrast_ratio(colors[t][0], background[0]), 2)


@cache
def _tables() -> _Tables:
    palettes = load_palettes()
    lab, mask = palette_role_lab()
    signature = np.ascontiguousarray(lab[:, [0, 2, 3]].reshape(len(palettes), -1))
    # All palettes at once; equal to the per-brief code's one-row calls (its sums run along the role axis
    # either way; checked for every palette and style when this was written).
    style_fit = np.stack([oklch_fit(lab, mask, profile("style", s)) for s in STYLES], axis=1).astype(np.float64)

    fixed = [_fixed_palette(p) for p in palettes]
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
        palette_colors=[f[0] for f in fixed],
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
        style_label={loc: [label("style", s, loc) for s in STYLES] for loc in LOCALES},
        harmony_label={loc: {h.value: label("harmony", h.value, loc) if loc == "zh" else
                             label("harmony", h.value, loc).lower() for h in Harmony} for loc in LOCALES},
        tone_label={loc: {t.value: label("tone", t.value, loc) for t in Tone} for loc in LOCALES},
        category_label={loc: {c.value: label("product_category", c.value, loc) for c in ProductCategory}
                        for loc in LOCALES},
        template_for=template_for,
        template_id=[t.id for t in templates],
        template_maps=template_maps,
        col_fraction=[round(k / cols, 4) for k in range(cols + 1)],
        row_fraction=[round(k / rows, 4) for k in range(rows + 1)],
    )


def warm() -> None:
    """Build every fixed table, fill every cache the request path reads and run one made-up batch (~1-2 s).

    Serving replicas call it at start, so that no live request pays for it; after it, `schemes_batch` only
    reads (tests/pipeline/test_postprocess.py checks that no cache grows).
    """
    t = _tables()
    # The lexicon trie (zh rationales) and the named-colour grid and sRGB levels (brand colour names).
    normalize_keywords("清爽")
    nearest_color_names(rgb8_to_oklab(hexes_to_rgb8(["#808080"])))
    # One full batch on made-up outputs: the first real one would otherwise pay for first-touch memory and
    # numpy's first calls (~2 ms a brief once).
    size = 64
    rng = np.random.default_rng(0)
    formats = list(PackageFormat)
    briefs = [Brief(product_category=ProductCategory.snacks, package_format=formats[i % len(formats)],
                    tone=[Tone.fresh], num_schemes=1 + i % 8, locale=LOCALES[i % 2],
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
    the first position on a tie); with more brand colours than such roles, the extra ones take the accent.
    palettes (S,) library index; brand_lab (S, max brands, 3) CIELAB D65; n_brands (S,).
    """
    t = _tables()
    schemes, most = brand_lab.shape[:2]
    rows = np.arange(schemes)
    current = t.color_lab[palettes]  # (S, 6, 3), updated as brand colours land
    free = t.brandable[palettes].copy()
    accent = t.accent[palettes]
    # Against the library colours, every brand colour at once; recomputed below only where a landed brand
    # colour is a candidate again (the accent fallback with several accents, which the library never has).
    distance = delta_e2000_lab(current[:, None, :, :], brand_lab[:, :, None, :])  # (S, brands, 6)
    out = np.full((schemes, most), -1, dtype=np.int64)
    landed = np.zeros_like(free)
    for k in range(most):
        active = n_brands > k
        exhausted = ~free.any(axis=1)
        free[exhausted] = accent[exhausted]
        d = distance[:, k, :]
        stale = np.flatnonzero(active & (free & landed).any(axis=1) & (free.sum(axis=1) > 1))
        if len(stale):
            d = d.copy()
            d[stale] = delta_e2000_lab(current[stale], brand_lab[stale, k][:, None, :])
        target = np.argmin(np.where(free, d, np.inf), axis=1)
        out[:, k] = np.where(active, target, -1)
        hit = rows[active], target[active]
        free[hit] = False
        landed[hit] = True
        current[hit] = brand_lab[active, k]
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
    in_rows, in_cols = mask.any(axis=3), mask.any(axis=2)
    r0 = in_rows.argmax(axis=2)
    r1 = rows - in_rows[..., ::-1].argmax(axis=2)
    c0 = in_cols.argmax(axis=2)
    c1 = cols - in_cols[..., ::-1].argmax(axis=2)
    boxes = np.stack([c0, r0, c1 - c0, r1 - r0], axis=-1) * in_rows.any(axis=2)[..., None]
    ids = [t.template_id[k] if k >= 0 else None for k in template.tolist()]
    return np.round(maps, 3).astype(np.float32), ids, boxes


def _cue_text(brief: Brief, cues: list[str], cues_zh: list[str] | None, reference_colors: list[str],
              locale: str) -> str:
    t = _tables()
    parts = [t.tone_label[locale][tone] for tone in brief.tone]
    if locale == "en":
        parts += [f"“{c}”" for c in cues[:3]]
    else:
        if cues_zh is None:  # encoded without the lexicon pass (raw-Chinese evaluation)
            cues_zh = [e.zh for e in normalize_keywords(brief.keywords)[1]]
        parts += [f"“{c}”" for c in cues_zh[:3]]
    if brief.brand_colors:
        parts.append(("brand colour " if locale == "en" else "品牌色") + ", ".join(brief.brand_colors))
    if reference_colors:
        parts.append("reference image" if locale == "en" else "参考图")
    category = t.category_label[locale][brief.product_category]
    if locale == "zh":
        return "、".join(parts) if parts else category
    return ", ".join(parts) if parts else f"the {category.lower()} category"


def schemes_batch(briefs: list[Brief], encoded: EncodedBatch, outputs: dict[str, np.ndarray]) -> list[list[dict] | None]:
    """A batch of model outputs -> each brief's schemes as contract-shaped dicts (None for a rejected brief).

    `layout.heatmaps` stays a (4, rows, cols) float array: `pipeline.answer` encodes it for the wire.
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

    palettes, palette_rel = select_palettes(np.asarray(outputs["palette_ids"])[index].astype(np.int64),
                                            np.asarray(outputs["palette_scores"])[index], n)
    styles = assign_styles(style_probs, palettes)
    fonts, font_rel = select_fonts(np.asarray(outputs["font_ids"])[index], np.asarray(outputs["font_scores"])[index],
                                   styles, zh)
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

    # Brand colours: their names once per distinct colour, then where they land in each scheme's palette.
    brand_lists = [list(b.brand_colors) for b in briefs_live]
    distinct = list(dict.fromkeys(c for colors in brand_lists for c in colors))
    placed: dict[int, list[tuple[int, str]]] = {}
    if distinct:
        rgb = hexes_to_rgb8(distinct)
        names = dict(zip(distinct, nearest_color_names(rgb8_to_oklab(rgb))))
        lab = dict(zip(distinct, rgb8_to_lab_d65(rgb)))
        branded = np.flatnonzero([bool(brand_lists[b]) for b in brief_of.tolist()])
        most = max(len(c) for c in brand_lists)
        brand_lab = np.zeros((len(branded), most, 3))
        n_brands = np.zeros(len(branded), dtype=np.int64)
        for row, s in enumerate(branded.tolist()):
            colors = brand_lists[brief_of[s]]
            brand_lab[row, :len(colors)] = [lab[c] for c in colors]
            n_brands[row] = len(colors)
        positions = brand_positions(s_palette[branded], brand_lab, n_brands)
        for row, s in enumerate(branded.tolist()):
            colors = brand_lists[brief_of[s]]
            placed[s] = [(int(p), colors[k]) for k, p in enumerate(positions[row, :len(colors)].tolist())]

    # Plain Python from here: the per-scheme dicts.
    brief_of_l, style_l, font_l, palette_l = brief_of.tolist(), s_style.tolist(), s_font.tolist(), s_palette.tolist()
    prob_l, score_l, boxes_l = s_prob.tolist(), scores.tolist(), boxes.tolist()
    grid = list(GRID)
    style_scores_of, cue_text_of = {}, {}
    for s, b in enumerate(brief_of_l):
        brief = briefs_live[b]
        locale = brief_locale[b]
        if b not in cue_text_of:
            labels = t.style_label[locale]
            style_scores_of[b] = [(STYLES[k], labels[k], p) for k, p in
                                  zip(top_styles[b].tolist(), style_probs[b, top_styles[b]].tolist())]
            cue_text_of[b] = _cue_text(brief, encoded.cues[live[b]],
                                       encoded.cues_zh[live[b]] if encoded.cues_zh is not None else None,
                                       encoded.reference_colors[live[b]], locale)
            out[live[b]] = []
        p = palette_l[s]
        colors = [{"hex": h, "role": role, "name": name} for h, role, name in t.palette_colors[p]]
        for position, brand in placed.get(s, ()):
            colors[position] = {"hex": brand, "role": colors[position]["role"], "name": names[brand]}
        pair_id, heading, body = t.typography[font_l[s]]
        style = STYLES[style_l[s]]
        style_label = t.style_label[locale][style_l[s]]
        harmony = t.harmony_label[locale][t.palette_harmony[p]]
        if locale == "zh":
            rationale = (f"{style_label}方向：{harmony}配色，{heading[0]}标题配{body[0]}正文，"
                         f"依据{t.category_label[locale][brief.product_category]}品类与{cue_text_of[b]}。")
        else:
            rationale = (f"{style_label} direction with a {harmony} palette and {heading[0]} over "
                         f"{body[0]}, driven by {cue_text_of[b]}.")
        cf, rf = t.col_fraction, t.row_fraction
        out[live[b]].append({
            "style": {"id": style, "label": style_label, "score": prob_l[s]},
            "style_scores": [{"id": i, "label": lab_, "score": sc} for i, lab_, sc in style_scores_of[b]],
            "palette": {"id": t.palette_id[p], "colors": colors, "harmony": t.palette_harmony[p],
                        "text_contrast": t.text_contrast[p]},
            "typography": {"pair_id": pair_id,
                           "heading": {"family": heading[0], "category": heading[1], "weight": heading[2]},
                           "body": {"family": body[0], "category": body[1], "weight": body[2]}},
            "layout": {"format": formats[s], "template_id": template_ids[s], "grid": grid[:],
                       "heatmaps": heatmaps[s],
                       "boxes": {e: [cf[b4[0]], rf[b4[1]], cf[b4[2]], rf[b4[3]]]
                                 for e, b4 in zip(ELEMENTS, boxes_l[s])}},
            "score": round(score_l[s], 4),
            "rationale": rationale,
        })
    return out


def answer_batch(briefs: list, encoded, outputs: dict[str, np.ndarray], request_ids: list[str],
                 encodings: list[HeatmapEncoding], model_version: str, backend: str, stage_ms: dict[str, float],
                 started: list[float], now) -> tuple[list, list]:
    """A post-processed micro-batch -> each brief's answer bytes (or its BriefRejection), plus its schemes (None
    where rejected) for the answer log. Called alike by the Serve ingress and the plain baseline server.

    `stage_ms` holds the batch's encode/infer times; post-processing time is measured here, and each answer's
    total runs from its own `started` (time.perf_counter) to when its bytes were written, read from `now()`.
    """
    post_started = now()
    batch_schemes = schemes_batch(briefs, encoded, outputs)
    done = now()
    shared = {**{k: round(v, 2) for k, v in stage_ms.items()}, "post": round((done - post_started) * 1000, 2)}
    answers = []
    for i, schemes in enumerate(batch_schemes):
        if schemes is None:
            answers.append(encoded.rejected[i])
            continue
        timings = {**shared, "total": round((done - started[i]) * 1000, 2)}
        answers.append(answer_json(request_ids[i], model_version, backend, timings,
                                   schemes_json(schemes, encodings[i])))
    return answers, batch_schemes
